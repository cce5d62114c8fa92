/* Stores, runtime objects and instantiation: linking imports, allocating
 * memories, tables and globals, and applying active segments. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wasm_internal.h"

enum obj_kind { OBJ_FUNC, OBJ_MEMORY, OBJ_TABLE, OBJ_GLOBAL, OBJ_INSTANCE };

struct store_obj {
    store_obj *next;
    enum obj_kind kind;
    bool in_block; /* carved from the store's block: not freed alone */
    /* the object follows, suitably aligned */
    _Alignas(16) unsigned char payload[];
};

#define BLOCK_ALIGN 16u

/* A host function and the storage for its type. */
typedef struct host_func {
    wasm_func f;
    wasm_functype own_type;
} host_func;

void *wasm__store_zalloc(wasm_store *s, size_t size, bool *in_block)
{
    size_t rounded = (size + BLOCK_ALIGN - 1) & ~(size_t)(BLOCK_ALIGN - 1);
    if (s->block) {
        s->block_wanted += rounded;
        if (rounded <= (size_t)(s->block_end - s->block_next)) {
            void *p = s->block_next;
            s->block_next += rounded;
            memset(p, 0, rounded); /* a block may hold an earlier store */
            if (in_block)
                *in_block = true;
            return p;
        }
    }
    if (in_block)
        *in_block = false;
    return calloc(1, size ? size : 1);
}

#define CACHE_LINE 64u

void wasm__store_align_line(wasm_store *s, size_t lead)
{
    if (s->block == NULL)
        return;
    /* Where the block is: past its end the padding is reckoned as if it
     * went on, so that the count stays what a large enough block asks. */
    uintptr_t at = (uintptr_t)s->block + s->block_wanted + lead;
    size_t pad = (size_t)(-at & (CACHE_LINE - 1));
    s->block_wanted += pad;
    if (pad <= (size_t)(s->block_end - s->block_next))
        s->block_next += pad;
}

static bool block_holds(const wasm_store *s, const void *p)
{
    return s->block && (const uint8_t *)p >= s->block &&
           (const uint8_t *)p < s->block_end;
}

/* Frees p, one of s's allocations, unless it sits in s's block. */
static void store_free(const wasm_store *s, void *p)
{
    if (!block_holds(s, p))
        free(p);
}

static void *store_alloc(wasm_store *s, enum obj_kind kind, size_t size)
{
    bool blk;
    store_obj *o = wasm__store_zalloc(s, sizeof *o + size, &blk);
    if (o == NULL)
        return NULL;
    o->kind = kind;
    o->in_block = blk;
    o->next = s->objs;
    s->objs = o;
    return o->payload;
}

static void memory_release(wasm_memory *mem)
{
    if (mem->data)
        mem->memp.release(mem->memp.ctx, mem->data, mem->reserved,
                          mem->size);
    mem->data = NULL;
}

/* The default provider: a PROT_NONE mapping of the maximum per memory,
 * opened as it grows, so untouched pages cost no resident memory and the
 * memory never moves. */
static void *mmap_reserve(void *ctx, size_t min_bytes, size_t max_bytes,
                          size_t *reserved_bytes)
{
    (void)ctx;
    (void)min_bytes;
    void *p = mmap(NULL, max_bytes, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    *reserved_bytes = max_bytes;
    return p;
}

static bool mmap_commit(void *ctx, void *base, size_t old_bytes,
                        size_t new_bytes)
{
    (void)ctx;
    return mprotect((uint8_t *)base + old_bytes, new_bytes - old_bytes,
                    PROT_READ | PROT_WRITE) == 0;
}

static void mmap_release(void *ctx, void *base, size_t reserved_bytes,
                         size_t committed_bytes)
{
    (void)ctx;
    (void)committed_bytes;
    munmap(base, reserved_bytes);
}

static const wasm_memory_provider mmap_provider = {
    .reserve = mmap_reserve,
    .commit = mmap_commit,
    .release = mmap_release,
};

static void instance_release(wasm_instance *inst)
{
    const wasm_store *s = inst->s;
    memory_release(&inst->own_mem0);
    store_free(s, inst->funcs);
    store_free(s, inst->tables);
    store_free(s, inst->mems);
    store_free(s, inst->globals);
    store_free(s, inst->own_globals);
    store_free(s, inst->own_funcs);
    store_free(s, inst->elem_dropped);
    store_free(s, inst->data_dropped);
    wasm_module_unref(inst->m);
}

void wasm_limits_default(wasm_limits *l)
{
    l->max_memory_pages = WASM_MAX_PAGES;
    l->max_table_elems = 10000000;
    l->stack_slots = 1u << 20;
    l->max_call_depth = 20000;
}

static void store_init(wasm_store *s, const wasm_limits *limits)
{
    if (limits)
        s->limits = *limits;
    else
        wasm_limits_default(&s->limits);
    if (s->limits.max_memory_pages > WASM_MAX_PAGES)
        s->limits.max_memory_pages = WASM_MAX_PAGES;
    s->memp = mmap_provider;
}

wasm_store *wasm_store_new(const wasm_limits *limits)
{
    wasm_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    store_init(s, limits);
    return s;
}

wasm_store *wasm_store_new_in(const wasm_limits *limits, void *block,
                              size_t bytes)
{
    size_t self =
        (sizeof(wasm_store) + BLOCK_ALIGN - 1) & ~(size_t)(BLOCK_ALIGN - 1);
    if (block == NULL || ((uintptr_t)block & (BLOCK_ALIGN - 1)) != 0 ||
        bytes < self)
        return NULL;
    wasm_store *s = block;
    memset(s, 0, sizeof *s);
    store_init(s, limits);
    s->block = block;
    s->block_next = (uint8_t *)block + self;
    s->block_end = (uint8_t *)block + bytes;
    s->block_wanted = self;
    s->self_in_block = true;
    return s;
}

size_t wasm_store_block_wanted(const wasm_store *s)
{
    return s->block ? s->block_wanted : 0;
}

void wasm_store_set_memory_provider(wasm_store *s,
                                    const wasm_memory_provider *p)
{
    s->memp = *p;
}

void wasm_store_delete(wasm_store *s)
{
    if (s == NULL)
        return;
    store_obj *o = s->objs;
    while (o) {
        store_obj *next = o->next;
        switch (o->kind) {
        case OBJ_MEMORY:
            memory_release((wasm_memory *)(void *)o->payload);
            break;
        case OBJ_TABLE:
            free(((wasm_table *)(void *)o->payload)->elems);
            break;
        case OBJ_INSTANCE:
            instance_release((wasm_instance *)(void *)o->payload);
            break;
        case OBJ_FUNC:
            free(((host_func *)(void *)o->payload)->own_type.types);
            break;
        case OBJ_GLOBAL:
            break;
        }
        if (!o->in_block)
            free(o);
        o = next;
    }
    if (!s->self_in_block)
        free(s);
}

/* ---- host objects ---- */

wasm_func *wasm_func_new_host(wasm_store *s, const wasm_valtype *params,
                              uint32_t nparams, const wasm_valtype *results,
                              uint32_t nresults, wasm_host_fn fn, void *env)
{
    host_func *h = store_alloc(s, OBJ_FUNC, sizeof *h);
    if (h == NULL)
        return NULL;
    h->own_type.types = malloc((size_t)nparams + nresults + 1);
    if (h->own_type.types == NULL)
        return NULL; /* the store frees the half-made object */
    for (uint32_t i = 0; i < nparams; i++)
        h->own_type.types[i] = (uint8_t)params[i];
    for (uint32_t i = 0; i < nresults; i++)
        h->own_type.types[nparams + i] = (uint8_t)results[i];
    h->own_type.nparams = nparams;
    h->own_type.nresults = nresults;
    h->f.type = &h->own_type;
    h->f.host = fn;
    h->f.env = env;
    return &h->f;
}

/* A memory takes address space from its provider when it first needs
 * some, as much as the provider gives (up to its maximum), and makes it
 * accessible page range by page range as it grows; untouched pages cost no
 * resident memory. */
static bool memory_init(wasm_memory *mem, const wasm_memory_provider *memp,
                        uint32_t min, uint32_t max)
{
    mem->max_pages = max;
    mem->memp = *memp;
    mem->data = NULL;
    mem->reserved = 0;
    mem->pages = 0;
    mem->size = 0;
    return wasm__memory_grow(mem, min) >= 0;
}

/* Copies the first bytes (a multiple of WASM_PAGE_SIZE) of src to dst,
 * which reads as zeros, skipping the 4 KiB blocks of src that are zero.
 * Most of them were never touched, and reading one maps the kernel's
 * shared zero page, so a moved memory stays as resident as it was. */
static void copy_touched(uint8_t *dst, const uint8_t *src, size_t bytes)
{
    enum { BLOCK = 4096 };
    for (size_t at = 0; at < bytes; at += BLOCK) {
        const uint64_t *w = (const uint64_t *)(const void *)(src + at);
        uint64_t any = 0;
        for (size_t i = 0; i < BLOCK / sizeof *w; i++)
            any |= w[i];
        if (any)
            memcpy(dst + at, src + at, BLOCK);
    }
}

/* Moves mem to a reservation of at least new_bytes: the provider reserved
 * less than its maximum. false (mem unchanged) when there is none. */
static bool memory_move(wasm_memory *mem, size_t new_bytes)
{
    const wasm_memory_provider *p = &mem->memp;
    size_t max_bytes = (size_t)mem->max_pages * WASM_PAGE_SIZE;
    size_t reserved = 0;
    uint8_t *to = p->reserve(p->ctx, new_bytes, max_bytes, &reserved);
    if (to == NULL)
        return false;
    if (!p->commit(p->ctx, to, 0, new_bytes)) {
        p->release(p->ctx, to, reserved, 0);
        return false;
    }
    if (mem->data) {
        copy_touched(to, mem->data, mem->size);
        p->release(p->ctx, mem->data, mem->reserved, mem->size);
    }
    mem->data = to;
    mem->reserved = reserved;
    return true;
}

int64_t wasm__memory_grow(wasm_memory *mem, uint32_t delta)
{
    uint32_t old = mem->pages;
    if ((uint64_t)old + delta > mem->max_pages)
        return -1;
    if (delta == 0)
        return old;
    size_t old_bytes = (size_t)old * WASM_PAGE_SIZE;
    size_t new_bytes = ((size_t)old + delta) * WASM_PAGE_SIZE;
    if (new_bytes > mem->reserved) {
        if (!memory_move(mem, new_bytes))
            return -1;
    } else if (!mem->memp.commit(mem->memp.ctx, mem->data, old_bytes,
                                 new_bytes)) {
        return -1;
    }
    mem->pages = old + delta;
    mem->size = new_bytes;
    return old;
}

static uint32_t mem_cap(const wasm_store *s, bool has_max, uint32_t max)
{
    uint32_t cap = s->limits.max_memory_pages;
    return has_max && max < cap ? max : cap;
}

wasm_memory *wasm_memory_new(wasm_store *s, uint32_t min, bool has_max,
                             uint32_t max)
{
    uint32_t cap = mem_cap(s, has_max, max);
    if (min > cap)
        return NULL;
    wasm_memory *mem = store_alloc(s, OBJ_MEMORY, sizeof *mem);
    if (mem == NULL || !memory_init(mem, &s->memp, min, cap))
        return NULL;
    mem->has_max = has_max;
    return mem;
}

/* Makes memory i of inst's module (not imported) in mem, which the
 * instance or the store releases; false when out of memory. */
static bool own_memory_init(wasm_store *s, wasm_memory *mem,
                            const wasm_limits_decl *l)
{
    if (!memory_init(mem, &s->memp, l->min,
                     mem_cap(s, l->has_max, l->max)))
        return false;
    mem->has_max = l->has_max;
    return true;
}

uint8_t *wasm_memory_data(const wasm_memory *mem)
{
    return mem->data;
}

uint64_t wasm_memory_size(const wasm_memory *mem)
{
    return mem->size;
}

int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta)
{
    return wasm__memory_grow(mem, delta);
}

static uint32_t table_cap(const wasm_store *s, bool has_max, uint32_t max)
{
    uint32_t cap = s->limits.max_table_elems;
    return has_max && max < cap ? max : cap;
}

int64_t wasm__table_grow(wasm_table *t, uint32_t delta, uint64_t init)
{
    uint32_t old = t->size;
    if ((uint64_t)old + delta > t->max)
        return -1;
    uint64_t need = (uint64_t)old + delta;
    if (need > t->cap) {
        uint64_t ncap = t->cap ? (uint64_t)t->cap * 2 : 8;
        while (ncap < need)
            ncap *= 2;
        if (ncap > t->max)
            ncap = t->max;
        uint64_t *e = realloc(t->elems, ncap * sizeof *e);
        if (e == NULL)
            return -1;
        t->elems = e;
        t->cap = (uint32_t)ncap;
    }
    for (uint64_t i = old; i < need; i++)
        t->elems[i] = init;
    t->size = (uint32_t)need;
    return old;
}

wasm_table *wasm_table_new(wasm_store *s, wasm_valtype elemtype, uint32_t min,
                           bool has_max, uint32_t max)
{
    uint32_t cap = table_cap(s, has_max, max);
    if (min > cap)
        return NULL;
    wasm_table *t = store_alloc(s, OBJ_TABLE, sizeof *t);
    if (t == NULL)
        return NULL;
    t->elemtype = (uint8_t)elemtype;
    t->max = cap;
    t->has_max = has_max;
    if (wasm__table_grow(t, min, 0) < 0)
        return NULL;
    return t;
}

uint32_t wasm_table_size(const wasm_table *t)
{
    return t->size;
}

wasm_global *wasm_global_new(wasm_store *s, wasm_valtype type, bool mutable_,
                             uint64_t value)
{
    wasm_global *g = store_alloc(s, OBJ_GLOBAL, sizeof *g);
    if (g == NULL)
        return NULL;
    g->type = (uint8_t)type;
    g->mut = mutable_;
    g->value = value;
    return g;
}

uint64_t wasm_global_get(const wasm_global *g)
{
    if (g->type == WASM_I32 || g->type == WASM_F32)
        return g->value & 0xffffffffu;
    return g->value;
}

wasm_valtype wasm_global_type(const wasm_global *g)
{
    return (wasm_valtype)g->type;
}

const wasm_functype *wasm_func_type(const wasm_func *f)
{
    return f->type;
}

/* ---- instantiation ---- */

uint64_t wasm__eval_const(const wasm_instance *inst, const constexpr *c)
{
    switch (c->kind) {
    case CONST_VALUE:
        return c->value;
    case CONST_GLOBAL:
        return inst->globals[c->index]->value;
    case CONST_FUNC:
        return (uint64_t)(uintptr_t)inst->funcs[c->index];
    case CONST_NULL:
        return 0;
    }
    return 0;
}

static shoal_err unlinkable(shoal_errinfo *ei, const import *im,
                            const char *why)
{
    return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                             "import \"%.*s\" \"%.*s\": %s",
                             (int)im->module_len, im->module,
                             (int)im->name_len, im->name, why);
}

static bool limits_match(uint32_t have_min, bool have_has_max,
                         uint32_t have_max, const wasm_limits_decl *want)
{
    if (have_min < want->min)
        return false;
    if (want->has_max && (!have_has_max || have_max > want->max))
        return false;
    return true;
}

static shoal_err link_imports(const wasm_module *m, wasm_instance *inst,
                              const wasm_extern *imports, shoal_errinfo *ei)
{
    for (uint32_t i = 0; i < m->nimports; i++) {
        const import *im = &m->imports[i];
        const wasm_extern *e = &imports[i];
        if (e->kind != im->kind || e->u.func == NULL)
            return unlinkable(ei, im, e->kind == WASM_EXTERN_NONE
                                          ? "unknown import"
                                          : "incompatible import type "
                                            "(kind)");
        switch (im->kind) {
        case WASM_EXTERN_FUNC:
            if (!wasm__functype_eq(e->u.func->type,
                                   &m->types[m->func_type[im->index]]))
                return unlinkable(ei, im, "incompatible import type "
                                          "(function signature)");
            inst->funcs[im->index] = e->u.func;
            break;
        case WASM_EXTERN_TABLE: {
            const wasm_table *t = e->u.table;
            const tabletype *want = &m->tables[im->index];
            if (t->elemtype != want->elemtype ||
                !limits_match(t->size, t->has_max, t->max, &want->lim))
                return unlinkable(ei, im, "incompatible import type "
                                          "(table)");
            inst->tables[im->index] = e->u.table;
            break;
        }
        case WASM_EXTERN_MEMORY: {
            const wasm_memory *mem = e->u.memory;
            if (!limits_match(mem->pages, mem->has_max, mem->max_pages,
                              &m->mems[im->index]))
                return unlinkable(ei, im, "incompatible import type "
                                          "(memory limits)");
            inst->mems[im->index] = e->u.memory;
            break;
        }
        case WASM_EXTERN_GLOBAL: {
            const wasm_global *g = e->u.global;
            const globaltype *want = &m->globals[im->index];
            if (g->type != want->type || g->mut != want->mut)
                return unlinkable(ei, im, "incompatible import type "
                                          "(global)");
            inst->globals[im->index] = e->u.global;
            break;
        }
        }
    }
    return SHOAL_OK;
}

/* n zeroed elements of sz bytes (one at least), from s's block if it has
 * room. */
static void *zalloc(wasm_store *s, size_t n, size_t sz)
{
    if (n > SIZE_MAX / sz)
        return NULL;
    return wasm__store_zalloc(s, (n ? n : 1) * sz, NULL);
}

shoal_err wasm_instantiate(wasm_store *s, wasm_module *m,
                           const wasm_extern *imports, uint32_t nimports,
                           wasm_instance **out, shoal_errinfo *ei)
{
    *out = NULL;
    if (nimports != m->nimports)
        return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                 "module has %u imports, %u given",
                                 m->nimports, nimports);
    wasm__store_align_line(s, offsetof(store_obj, payload));
    wasm_instance *inst = store_alloc(s, OBJ_INSTANCE, sizeof *inst);
    if (inst == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    inst->m = wasm_module_ref(m);
    inst->s = s;
    inst->mem0 = &inst->no_memory;
    uint32_t ndef = m->nfuncs - m->nimported_funcs;
    /* The globals' pointers and the module's own globals side by side: a
     * global.get reads both. */
    inst->globals = zalloc(s, m->nglobals, sizeof *inst->globals);
    inst->own_globals = zalloc(s, m->nglobals - m->nimported_globals,
                               sizeof *inst->own_globals);
    inst->funcs = zalloc(s, m->nfuncs, sizeof *inst->funcs);
    /* From a cache line on (in a block), so that no function straddles
     * two. */
    wasm__store_align_line(s, 0);
    inst->own_funcs = zalloc(s, ndef, sizeof *inst->own_funcs);
    inst->tables = zalloc(s, m->ntables, sizeof *inst->tables);
    inst->mems = zalloc(s, m->nmems, sizeof *inst->mems);
    inst->elem_dropped = zalloc(s, m->nelems, 1);
    inst->data_dropped = zalloc(s, m->ndatas, 1);
    if (!inst->funcs || !inst->own_funcs || !inst->tables || !inst->mems ||
        !inst->globals || !inst->own_globals || !inst->elem_dropped ||
        !inst->data_dropped)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");

    shoal_err err = link_imports(m, inst, imports, ei);
    if (err)
        return err;
    for (uint32_t i = 0; i < ndef; i++) {
        wasm_func *f = &inst->own_funcs[i];
        f->cf = &m->cfuncs[i];
        f->type = f->cf->type;
        f->inst = inst;
        inst->funcs[m->nimported_funcs + i] = f;
    }
    for (uint32_t i = m->nimported_tables; i < m->ntables; i++) {
        const tabletype *tt = &m->tables[i];
        if (tt->lim.min > table_cap(s, tt->lim.has_max, tt->lim.max))
            return shoal_errinfo_set(ei, SHOAL_ELIMIT, SIZE_MAX,
                                     "table %u of %u elements exceeds the "
                                     "limit of %u",
                                     i, tt->lim.min, s->limits.max_table_elems);
        inst->tables[i] = wasm_table_new(s, (wasm_valtype)tt->elemtype,
                                         tt->lim.min, tt->lim.has_max,
                                         tt->lim.max);
        if (inst->tables[i] == NULL)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory for table %u", i);
    }
    for (uint32_t i = m->nimported_mems; i < m->nmems; i++) {
        const wasm_limits_decl *l = &m->mems[i];
        if (l->min > mem_cap(s, l->has_max, l->max))
            return shoal_errinfo_set(ei, SHOAL_ELIMIT, SIZE_MAX,
                                     "memory %u of %u pages exceeds the limit "
                                     "of %u pages",
                                     i, l->min, s->limits.max_memory_pages);
        if (i == 0) {
            if (own_memory_init(s, &inst->own_mem0, l))
                inst->mems[0] = &inst->own_mem0;
        } else {
            inst->mems[i] = wasm_memory_new(s, l->min, l->has_max, l->max);
        }
        if (inst->mems[i] == NULL)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory for memory %u", i);
    }
    if (m->nmems)
        inst->mem0 = inst->mems[0];
    for (uint32_t i = m->nimported_globals; i < m->nglobals; i++) {
        const globaltype *gt = &m->globals[i];
        uint32_t own = i - m->nimported_globals;
        wasm_global *g = &inst->own_globals[own];
        g->type = gt->type;
        g->mut = gt->mut;
        g->value = wasm__eval_const(inst, &m->global_init[own]);
        inst->globals[i] = g;
    }

    /* Active segments, in order: elements, then data. Bounds are checked
     * before each segment is written; earlier writes stay. */
    for (uint32_t i = 0; i < m->nelems; i++) {
        const elem_segment *e = &m->elems[i];
        if (e->mode == SEG_ACTIVE) {
            wasm_table *t = inst->tables[e->table];
            uint64_t off = (uint32_t)wasm__eval_const(inst, &e->offset);
            if (off + e->count > t->size)
                return shoal_errinfo_set(ei, SHOAL_ETRAP, SIZE_MAX,
                                         "out of bounds table access: "
                                         "element segment %u",
                                         i);
            for (uint32_t k = 0; k < e->count; k++)
                t->elems[off + k] = wasm__eval_const(inst, &e->items[k]);
        }
        if (e->mode != SEG_PASSIVE)
            inst->elem_dropped[i] = 1;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const data_segment *d = &m->datas[i];
        if (d->mode != SEG_ACTIVE)
            continue;
        wasm_memory *mem = inst->mems[d->memory];
        uint64_t off = (uint32_t)wasm__eval_const(inst, &d->offset);
        if (off + d->len > mem->size)
            return shoal_errinfo_set(ei, SHOAL_ETRAP, SIZE_MAX,
                                     "out of bounds memory access: data "
                                     "segment %u",
                                     i);
        if (d->len)
            memcpy(mem->data + off, d->bytes, d->len);
        inst->data_dropped[i] = 1;
    }
    *out = inst;
    return SHOAL_OK;
}

wasm_func *wasm_instance_start(const wasm_instance *inst)
{
    return inst->m->has_start ? inst->funcs[inst->m->start] : NULL;
}

wasm_extern wasm_instance_export_at(const wasm_instance *inst, uint32_t i)
{
    const wasm_module *m = inst->m;
    if (i >= m->nexports)
        return (wasm_extern){.kind = WASM_EXTERN_NONE};
    const export *e = &m->exports[i];
    wasm_extern x = {.kind = (wasm_extern_kind)e->kind};
    switch (e->kind) {
    case WASM_EXTERN_FUNC: x.u.func = inst->funcs[e->index]; break;
    case WASM_EXTERN_TABLE: x.u.table = inst->tables[e->index]; break;
    case WASM_EXTERN_MEMORY: x.u.memory = inst->mems[e->index]; break;
    case WASM_EXTERN_GLOBAL: x.u.global = inst->globals[e->index]; break;
    }
    return x;
}

wasm_extern wasm_instance_export(const wasm_instance *inst, const char *name,
                                 size_t len)
{
    const wasm_module *m = inst->m;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const export *e = &m->exports[i];
        if (e->name_len == len && memcmp(e->name, name, len) == 0)
            return wasm_instance_export_at(inst, i);
    }
    return (wasm_extern){.kind = WASM_EXTERN_NONE};
}

wasm_memory *wasm_instance_memory(const wasm_instance *inst)
{
    return inst->m->nmems ? inst->mems[0] : NULL;
}

wasm_module *wasm_instance_module(const wasm_instance *inst)
{
    return inst->m;
}
