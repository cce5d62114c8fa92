/* Decoding: binary module bytes to the sections of a wasm_module. Checks the
 * binary format only (malformed input); typing rules are in validate.c and
 * compile.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "decode.h"

shoal_err wasm__rd_fail(reader *r, shoal_err err, const char *fmt, ...)
{
    if (r->err)
        return r->err;
    r->err = err;
    if (r->ei) {
        r->ei->offset = rd_offset(r);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->ei->msg, sizeof r->ei->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Unsigned LEB128 of at most `bits` bits. */
static bool rd_uleb(reader *r, unsigned bits, uint64_t *out)
{
    uint64_t result = 0;
    unsigned shift = 0;
    unsigned maxbytes = (bits + 6) / 7;
    for (unsigned i = 0; i < maxbytes; i++) {
        uint8_t b;
        if (!rd_u8(r, &b))
            return false;
        if (i == maxbytes - 1) {
            unsigned used = bits - shift; /* bits left for this byte */
            if ((b & 0x80) != 0) {
                wasm__rd_fail(r, SHOAL_EMALFORMED,
                              "integer representation too long");
                return false;
            }
            if (used < 7 && (b >> used) != 0) {
                wasm__rd_fail(r, SHOAL_EMALFORMED, "integer too large");
                return false;
            }
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0) {
            *out = result;
            return true;
        }
    }
    wasm__rd_fail(r, SHOAL_EMALFORMED, "integer representation too long");
    return false;
}

/* Signed LEB128 of at most `bits` bits. */
static bool rd_sleb(reader *r, unsigned bits, int64_t *out)
{
    uint64_t result = 0;
    unsigned shift = 0;
    unsigned maxbytes = (bits + 6) / 7;
    uint8_t b = 0;
    for (unsigned i = 0; i < maxbytes; i++) {
        if (!rd_u8(r, &b))
            return false;
        if (i == maxbytes - 1) {
            if ((b & 0x80) != 0) {
                wasm__rd_fail(r, SHOAL_EMALFORMED,
                              "integer representation too long");
                return false;
            }
            /* The unused high bits must all equal the sign bit. */
            unsigned used = bits - shift;
            if (used < 7) {
                int sign = (b >> (used - 1)) & 1;
                uint8_t rest = (uint8_t)(b & 0x7f) >> used;
                uint8_t want = sign ? (uint8_t)(0x7f >> used) : 0;
                if (rest != want) {
                    wasm__rd_fail(r, SHOAL_EMALFORMED, "integer too large");
                    return false;
                }
            }
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0)
            break;
    }
    if (shift < 64 && (b & 0x40))
        result |= ~(uint64_t)0 << shift;
    *out = (int64_t)result;
    return true;
}

bool wasm__rd_u32(reader *r, uint32_t *out)
{
    uint64_t v;
    if (!rd_uleb(r, 32, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool wasm__rd_s32(reader *r, int32_t *out)
{
    int64_t v;
    if (!rd_sleb(r, 32, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

bool wasm__rd_s33(reader *r, int64_t *out)
{
    return rd_sleb(r, 33, out);
}

bool wasm__rd_s64(reader *r, int64_t *out)
{
    return rd_sleb(r, 64, out);
}

bool wasm__rd_bytes(reader *r, size_t n, const uint8_t **out)
{
    if (r->err)
        return false;
    if ((size_t)(r->end - r->p) < n) {
        wasm__rd_fail(r, SHOAL_EMALFORMED, "unexpected end");
        return false;
    }
    *out = r->p;
    r->p += n;
    return true;
}

bool wasm__rd_valtype(reader *r, uint8_t *out)
{
    uint8_t b;
    if (!rd_u8(r, &b))
        return false;
    if (!wasm__is_numtype(b) && !wasm__is_reftype(b)) {
        r->p--;
        wasm__rd_fail(r, SHOAL_EMALFORMED, "malformed value type 0x%02x", b);
        return false;
    }
    *out = b;
    return true;
}

bool wasm__rd_reftype(reader *r, uint8_t *out)
{
    uint8_t b;
    if (!rd_u8(r, &b))
        return false;
    if (!wasm__is_reftype(b)) {
        r->p--;
        wasm__rd_fail(r, SHOAL_EMALFORMED, "malformed reference type 0x%02x",
                      b);
        return false;
    }
    *out = b;
    return true;
}

/* ---- names ---- */

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static bool rd_name(reader *r, const char **name, uint32_t *len)
{
    uint32_t n;
    const uint8_t *bytes;
    if (!wasm__rd_u32(r, &n) || !wasm__rd_bytes(r, n, &bytes))
        return false;
    if (!utf8_valid(bytes, n)) {
        r->p = bytes;
        wasm__rd_fail(r, SHOAL_EMALFORMED, "malformed UTF-8 encoding");
        return false;
    }
    *name = (const char *)bytes;
    *len = n;
    return true;
}

/* ---- types ---- */

static bool rd_limits(reader *r, wasm_limits_decl *lim, uint32_t maxbits)
{
    uint8_t flag;
    if (!rd_u8(r, &flag))
        return false;
    if (flag > 1) {
        r->p--;
        wasm__rd_fail(r, SHOAL_EMALFORMED, "integer too large");
        return false;
    }
    (void)maxbits;
    if (!wasm__rd_u32(r, &lim->min))
        return false;
    lim->has_max = flag == 1;
    lim->max = 0;
    if (lim->has_max && !wasm__rd_u32(r, &lim->max))
        return false;
    return true;
}

static bool rd_tabletype(reader *r, tabletype *t)
{
    return wasm__rd_reftype(r, &t->elemtype) && rd_limits(r, &t->lim, 32);
}

static bool rd_globaltype(reader *r, globaltype *g)
{
    uint8_t mut;
    if (!wasm__rd_valtype(r, &g->type) || !rd_u8(r, &mut))
        return false;
    if (mut > 1) {
        r->p--;
        wasm__rd_fail(r, SHOAL_EMALFORMED, "malformed mutability");
        return false;
    }
    g->mut = mut;
    return true;
}

/* Is op the first byte of some WebAssembly 2.0 instruction (SIMD aside)? */
static bool opcode_exists(uint8_t op)
{
    return op <= 0x05 || (op >= 0x0b && op <= 0x11) ||
           (op >= 0x1a && op <= 0x1c) || (op >= 0x20 && op <= 0x26) ||
           (op >= 0x28 && op <= 0xc4) || (op >= 0xd0 && op <= 0xd2) ||
           op == 0xfc;
}

/* A constant expression: one instruction then `end`. Anything else is
 * reported as invalid (the validator's "constant expression required"). */
static bool rd_constexpr(reader *r, constexpr *c)
{
    uint8_t op;
    size_t start = rd_offset(r);
    if (!rd_u8(r, &op))
        return false;
    c->index = 0;
    c->value = 0;
    switch (op) {
    case 0x41: {
        int32_t v;
        if (!wasm__rd_s32(r, &v))
            return false;
        c->kind = CONST_VALUE;
        c->type = WASM_I32;
        c->value = (uint32_t)v;
        break;
    }
    case 0x42: {
        int64_t v;
        if (!wasm__rd_s64(r, &v))
            return false;
        c->kind = CONST_VALUE;
        c->type = WASM_I64;
        c->value = (uint64_t)v;
        break;
    }
    case 0x43: {
        const uint8_t *b;
        if (!wasm__rd_bytes(r, 4, &b))
            return false;
        uint32_t v;
        memcpy(&v, b, 4);
        c->kind = CONST_VALUE;
        c->type = WASM_F32;
        c->value = v;
        break;
    }
    case 0x44: {
        const uint8_t *b;
        if (!wasm__rd_bytes(r, 8, &b))
            return false;
        memcpy(&c->value, b, 8);
        c->kind = CONST_VALUE;
        c->type = WASM_F64;
        break;
    }
    case 0xd0:
        if (!wasm__rd_reftype(r, &c->type))
            return false;
        c->kind = CONST_NULL;
        break;
    case 0xd2:
        if (!wasm__rd_u32(r, &c->index))
            return false;
        c->kind = CONST_FUNC;
        c->type = WASM_FUNCREF;
        break;
    case 0x23:
        if (!wasm__rd_u32(r, &c->index))
            return false;
        c->kind = CONST_GLOBAL;
        c->type = VT_UNKNOWN; /* filled by the validator */
        break;
    case 0x0b:
        r->p--;
        wasm__rd_fail(r, SHOAL_EINVALID,
                      "type mismatch: empty constant expression");
        return false;
    default:
        r->p--;
        if (!opcode_exists(op)) {
            wasm__rd_fail(r, SHOAL_EMALFORMED, "illegal opcode 0x%02x", op);
            return false;
        }
        wasm__rd_fail(r, SHOAL_EINVALID,
                      "constant expression required (opcode 0x%02x)", op);
        return false;
    }
    uint8_t end;
    if (!rd_u8(r, &end))
        return false;
    if (end != 0x0b) {
        r->p--;
        wasm__rd_fail(r, SHOAL_EINVALID,
                      "constant expression required: more than one "
                      "instruction after offset %zu",
                      start);
        return false;
    }
    return true;
}

/* ---- sections ---- */

/* Reads a vector count and allocates n elements of size sz. The count is
 * checked against the bytes left (each element takes at least one byte)
 * before allocating, so a huge count cannot exhaust memory. */
static bool rd_vec(reader *r, uint32_t *n, size_t sz, void **out)
{
    uint32_t count;
    *n = 0; /* until the array exists, cleanup sees no elements */
    *out = NULL;
    if (!wasm__rd_u32(r, &count))
        return false;
    if (count > (size_t)(r->end - r->p)) {
        wasm__rd_fail(r, SHOAL_EMALFORMED,
                      "unexpected end: vector of %u elements", count);
        return false;
    }
    if (count == 0)
        return true;
    *out = calloc(count, sz);
    if (*out == NULL) {
        wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
        return false;
    }
    *n = count;
    return true;
}

static bool sec_type(reader *r, wasm_module *m)
{
    if (!rd_vec(r, &m->ntypes, sizeof *m->types, (void **)&m->types))
        return false;
    for (uint32_t i = 0; i < m->ntypes; i++) {
        uint8_t form;
        if (!rd_u8(r, &form))
            return false;
        if (form != 0x60) {
            r->p--;
            wasm__rd_fail(r, SHOAL_EMALFORMED,
                          "malformed function type form 0x%02x", form);
            return false;
        }
        uint32_t np, nr;
        if (!wasm__rd_u32(r, &np))
            return false;
        if (np > (size_t)(r->end - r->p)) {
            wasm__rd_fail(r, SHOAL_EMALFORMED, "unexpected end");
            return false;
        }
        wasm_functype *t = &m->types[i];
        t->types = malloc(np + 1);
        if (t->types == NULL) {
            wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
            return false;
        }
        t->nparams = np;
        for (uint32_t k = 0; k < np; k++)
            if (!wasm__rd_valtype(r, &t->types[k]))
                return false;
        if (!wasm__rd_u32(r, &nr))
            return false;
        if (nr > (size_t)(r->end - r->p)) {
            wasm__rd_fail(r, SHOAL_EMALFORMED, "unexpected end");
            return false;
        }
        uint8_t *grown = realloc(t->types, np + nr + 1);
        if (grown == NULL) {
            wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
            return false;
        }
        t->types = grown;
        t->nresults = nr;
        for (uint32_t k = 0; k < nr; k++)
            if (!wasm__rd_valtype(r, &t->types[np + k]))
                return false;
    }
    return true;
}

static bool sec_import(reader *r, wasm_module *m)
{
    if (!rd_vec(r, &m->nimports, sizeof *m->imports, (void **)&m->imports))
        return false;
    /* First pass reads; kinds are counted so the per-kind arrays can be
     * sized before the defining sections append to them. */
    for (uint32_t i = 0; i < m->nimports; i++) {
        import *im = &m->imports[i];
        if (!rd_name(r, &im->module, &im->module_len) ||
            !rd_name(r, &im->name, &im->name_len) || !rd_u8(r, &im->kind))
            return false;
        switch (im->kind) {
        case WASM_EXTERN_FUNC: {
            uint32_t ti;
            if (!wasm__rd_u32(r, &ti))
                return false;
            uint32_t *ft = realloc(m->func_type,
                                   (m->nfuncs + 1) * sizeof *m->func_type);
            if (ft == NULL) {
                wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
                return false;
            }
            m->func_type = ft;
            im->index = m->nfuncs;
            ft[m->nfuncs++] = ti;
            m->nimported_funcs++;
            break;
        }
        case WASM_EXTERN_TABLE: {
            tabletype *tt =
                realloc(m->tables, (m->ntables + 1) * sizeof *m->tables);
            if (tt == NULL) {
                wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
                return false;
            }
            m->tables = tt;
            im->index = m->ntables;
            if (!rd_tabletype(r, &tt[m->ntables]))
                return false;
            m->ntables++;
            m->nimported_tables++;
            break;
        }
        case WASM_EXTERN_MEMORY: {
            wasm_limits_decl *ml =
                realloc(m->mems, (m->nmems + 1) * sizeof *m->mems);
            if (ml == NULL) {
                wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
                return false;
            }
            m->mems = ml;
            im->index = m->nmems;
            if (!rd_limits(r, &ml[m->nmems], 32))
                return false;
            m->nmems++;
            m->nimported_mems++;
            break;
        }
        case WASM_EXTERN_GLOBAL: {
            globaltype *gt =
                realloc(m->globals, (m->nglobals + 1) * sizeof *m->globals);
            if (gt == NULL) {
                wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
                return false;
            }
            m->globals = gt;
            im->index = m->nglobals;
            if (!rd_globaltype(r, &gt[m->nglobals]))
                return false;
            m->nglobals++;
            m->nimported_globals++;
            break;
        }
        default:
            r->p--;
            wasm__rd_fail(r, SHOAL_EMALFORMED,
                          "malformed import kind 0x%02x", im->kind);
            return false;
        }
    }
    return true;
}

static bool grow_array(reader *r, void **arr, uint32_t have, uint32_t add,
                       size_t sz)
{
    if (add == 0)
        return true;
    void *p = realloc(*arr, ((size_t)have + add) * sz);
    if (p == NULL) {
        wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
        return false;
    }
    memset((char *)p + (size_t)have * sz, 0, (size_t)add * sz);
    *arr = p;
    return true;
}

static bool rd_count(reader *r, uint32_t *n)
{
    if (!wasm__rd_u32(r, n))
        return false;
    if (*n > (size_t)(r->end - r->p)) {
        wasm__rd_fail(r, SHOAL_EMALFORMED,
                      "unexpected end: vector of %u elements", *n);
        return false;
    }
    return true;
}

static bool sec_function(reader *r, wasm_module *m, uint32_t *ndefined)
{
    uint32_t n;
    if (!rd_count(r, &n) ||
        !grow_array(r, (void **)&m->func_type, m->nfuncs, n,
                    sizeof *m->func_type))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!wasm__rd_u32(r, &m->func_type[m->nfuncs + i]))
            return false;
    m->nfuncs += n;
    *ndefined = n;
    return true;
}

static bool sec_table(reader *r, wasm_module *m)
{
    uint32_t n;
    if (!rd_count(r, &n) ||
        !grow_array(r, (void **)&m->tables, m->ntables, n, sizeof *m->tables))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!rd_tabletype(r, &m->tables[m->ntables + i]))
            return false;
    m->ntables += n;
    return true;
}

static bool sec_memory(reader *r, wasm_module *m)
{
    uint32_t n;
    if (!rd_count(r, &n) ||
        !grow_array(r, (void **)&m->mems, m->nmems, n, sizeof *m->mems))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!rd_limits(r, &m->mems[m->nmems + i], 32))
            return false;
    m->nmems += n;
    return true;
}

static bool sec_global(reader *r, wasm_module *m)
{
    uint32_t n;
    if (!rd_count(r, &n) ||
        !grow_array(r, (void **)&m->globals, m->nglobals, n,
                    sizeof *m->globals))
        return false;
    if (n) {
        m->global_init = calloc(n, sizeof *m->global_init);
        if (m->global_init == NULL) {
            wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
            return false;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!rd_globaltype(r, &m->globals[m->nglobals + i]) ||
            !rd_constexpr(r, &m->global_init[i]))
            return false;
    }
    m->nglobals += n;
    return true;
}

static bool sec_export(reader *r, wasm_module *m)
{
    if (!rd_vec(r, &m->nexports, sizeof *m->exports, (void **)&m->exports))
        return false;
    for (uint32_t i = 0; i < m->nexports; i++) {
        export *e = &m->exports[i];
        if (!rd_name(r, &e->name, &e->name_len) || !rd_u8(r, &e->kind))
            return false;
        if (e->kind > WASM_EXTERN_GLOBAL) {
            r->p--;
            wasm__rd_fail(r, SHOAL_EMALFORMED,
                          "malformed export kind 0x%02x", e->kind);
            return false;
        }
        if (!wasm__rd_u32(r, &e->index))
            return false;
    }
    return true;
}

static bool rd_elemkind(reader *r, uint8_t *out)
{
    uint8_t k;
    if (!rd_u8(r, &k))
        return false;
    if (k != 0x00) {
        r->p--;
        wasm__rd_fail(r, SHOAL_EMALFORMED, "malformed element kind 0x%02x",
                      k);
        return false;
    }
    *out = WASM_FUNCREF;
    return true;
}

static bool sec_element(reader *r, wasm_module *m)
{
    if (!rd_vec(r, &m->nelems, sizeof *m->elems, (void **)&m->elems))
        return false;
    for (uint32_t i = 0; i < m->nelems; i++) {
        elem_segment *e = &m->elems[i];
        uint32_t flags;
        if (!wasm__rd_u32(r, &flags))
            return false;
        if (flags > 7) {
            wasm__rd_fail(r, SHOAL_EMALFORMED,
                          "malformed elements segment kind %u", flags);
            return false;
        }
        e->table = 0;
        e->elemtype = WASM_FUNCREF;
        if (flags & 1)
            e->mode = (flags & 2) ? SEG_DECLARATIVE : SEG_PASSIVE;
        else
            e->mode = SEG_ACTIVE;
        if (e->mode == SEG_ACTIVE) {
            if ((flags & 2) && !wasm__rd_u32(r, &e->table))
                return false;
            if (!rd_constexpr(r, &e->offset))
                return false;
        }
        bool exprs = flags & 4;
        if (flags & 3) { /* elemkind or reftype present */
            if (exprs ? !wasm__rd_reftype(r, &e->elemtype)
                      : !rd_elemkind(r, &e->elemtype))
                return false;
        }
        if (!rd_vec(r, &e->count, sizeof *e->items, (void **)&e->items))
            return false;
        for (uint32_t k = 0; k < e->count; k++) {
            constexpr *c = &e->items[k];
            if (exprs) {
                if (!rd_constexpr(r, c))
                    return false;
            } else {
                c->kind = CONST_FUNC;
                c->type = WASM_FUNCREF;
                if (!wasm__rd_u32(r, &c->index))
                    return false;
            }
        }
    }
    return true;
}

static bool sec_code(reader *r, wasm_module *m, uint32_t ndefined)
{
    uint32_t n;
    if (!rd_count(r, &n))
        return false;
    if (n != ndefined) {
        wasm__rd_fail(r, SHOAL_EMALFORMED,
                      "function and code section have inconsistent lengths "
                      "(%u functions, %u bodies)",
                      ndefined, n);
        return false;
    }
    if (n) {
        m->cfuncs = calloc(n, sizeof *m->cfuncs);
        if (m->cfuncs == NULL) {
            wasm__rd_fail(r, SHOAL_ENOMEM, "out of memory");
            return false;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        cfunc *cf = &m->cfuncs[i];
        uint32_t size;
        const uint8_t *body;
        if (!wasm__rd_u32(r, &size))
            return false;
        if (!wasm__rd_bytes(r, size, &body))
            return false;
        reader br = {.p = body, .end = body + size, .base = r->base,
                     .ei = r->ei};
        uint32_t ngroups;
        if (!wasm__rd_u32(&br, &ngroups))
            goto body_fail;
        /* Two passes over the local groups: count, then fill. */
        const uint8_t *groups = br.p;
        uint64_t total = 0;
        for (uint32_t g = 0; g < ngroups; g++) {
            uint32_t cnt;
            uint8_t t;
            if (!wasm__rd_u32(&br, &cnt) || !wasm__rd_valtype(&br, &t))
                goto body_fail;
            total += cnt;
            if (total > UINT32_MAX) {
                wasm__rd_fail(&br, SHOAL_EMALFORMED, "too many locals");
                goto body_fail;
            }
        }
        if (total > WASM_MAX_LOCALS) {
            wasm__rd_fail(&br, SHOAL_EINVALID,
                          "too many locals (%llu; the limit is %u)",
                          (unsigned long long)total, WASM_MAX_LOCALS);
            goto body_fail;
        }
        cf->nlocals = (uint32_t)total;
        if (total) {
            cf->local_types = malloc(total);
            if (cf->local_types == NULL) {
                wasm__rd_fail(&br, SHOAL_ENOMEM, "out of memory");
                goto body_fail;
            }
        }
        br.p = groups;
        uint32_t at = 0;
        for (uint32_t g = 0; g < ngroups; g++) {
            uint32_t cnt;
            uint8_t t;
            wasm__rd_u32(&br, &cnt);
            wasm__rd_valtype(&br, &t);
            if (cnt) /* local_types is NULL when there are no locals */
                memset(cf->local_types + at, t, cnt);
            at += cnt;
        }
        cf->body = br.p;
        cf->body_len = (uint32_t)(br.end - br.p);
        cf->body_offset = (size_t)(br.p - r->base);
        continue;
    body_fail:
        r->err = br.err;
        return false;
    }
    return true;
}

static bool sec_data(reader *r, wasm_module *m)
{
    if (!rd_vec(r, &m->ndatas, sizeof *m->datas, (void **)&m->datas))
        return false;
    if (m->has_datacount && m->datacount != m->ndatas) {
        wasm__rd_fail(r, SHOAL_EMALFORMED,
                      "data count and data section have inconsistent "
                      "lengths (%u and %u)",
                      m->datacount, m->ndatas);
        return false;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        data_segment *d = &m->datas[i];
        uint32_t flags;
        if (!wasm__rd_u32(r, &flags))
            return false;
        d->memory = 0;
        switch (flags) {
        case 0:
            d->mode = SEG_ACTIVE;
            if (!rd_constexpr(r, &d->offset))
                return false;
            break;
        case 1:
            d->mode = SEG_PASSIVE;
            break;
        case 2:
            d->mode = SEG_ACTIVE;
            if (!wasm__rd_u32(r, &d->memory) || !rd_constexpr(r, &d->offset))
                return false;
            break;
        default:
            wasm__rd_fail(r, SHOAL_EMALFORMED,
                          "malformed data segment kind %u", flags);
            return false;
        }
        if (!wasm__rd_u32(r, &d->len) || !wasm__rd_bytes(r, d->len, &d->bytes))
            return false;
    }
    return true;
}

/* Position of each known section id in the required order. */
static int section_rank(uint8_t id)
{
    static const int8_t rank[13] = {
        [1] = 1, [2] = 2, [3] = 3,  [4] = 4,   [5] = 5,  [6] = 6,
        [7] = 7, [8] = 8, [9] = 9, [12] = 10, [10] = 11, [11] = 12,
    };
    return id < 13 ? rank[id] : -1;
}

shoal_err wasm__decode(wasm_module *m, shoal_errinfo *ei)
{
    reader r = {.p = m->bytes, .end = m->bytes + m->len, .base = m->bytes,
                .ei = ei};
    const uint8_t *hdr;
    if (!wasm__rd_bytes(&r, 4, &hdr))
        return r.err;
    if (memcmp(hdr, "\0asm", 4) != 0) {
        r.p = hdr;
        return wasm__rd_fail(&r, SHOAL_EMALFORMED, "magic header not detected");
    }
    if (!wasm__rd_bytes(&r, 4, &hdr))
        return r.err;
    if (memcmp(hdr, "\1\0\0\0", 4) != 0) {
        r.p = hdr;
        return wasm__rd_fail(&r, SHOAL_EMALFORMED, "unknown binary version");
    }

    int last_rank = 0;
    uint32_t ndefined = 0;
    bool have_code = false;
    while (r.p < r.end) {
        size_t sec_start = rd_offset(&r);
        uint8_t id;
        uint32_t size;
        if (!rd_u8(&r, &id))
            return r.err;
        int rank = section_rank(id);
        if (id != 0 && rank < 0) {
            r.p--;
            return wasm__rd_fail(&r, SHOAL_EMALFORMED,
                                 "malformed section id %u", id);
        }
        if (!wasm__rd_u32(&r, &size))
            return r.err;
        if (size > (size_t)(r.end - r.p)) {
            return wasm__rd_fail(&r, SHOAL_EMALFORMED,
                                 "unexpected end: section of %u bytes at "
                                 "offset %zu runs past the module",
                                 size, sec_start);
        }
        reader s = {.p = r.p, .end = r.p + size, .base = r.base, .ei = ei};
        r.p += size;
        if (id != 0) {
            if (rank <= last_rank) {
                s.p = r.base + sec_start;
                return wasm__rd_fail(&s, SHOAL_EMALFORMED,
                                     "unexpected content after last section "
                                     "(section %u out of order or repeated)",
                                     id);
            }
            last_rank = rank;
        }
        bool ok = true;
        switch (id) {
        case 0: {
            const char *name;
            uint32_t nlen;
            ok = rd_name(&s, &name, &nlen);
            s.p = s.end; /* custom contents are not interpreted */
            break;
        }
        case 1: ok = sec_type(&s, m); break;
        case 2: ok = sec_import(&s, m); break;
        case 3: ok = sec_function(&s, m, &ndefined); break;
        case 4: ok = sec_table(&s, m); break;
        case 5: ok = sec_memory(&s, m); break;
        case 6: ok = sec_global(&s, m); break;
        case 7: ok = sec_export(&s, m); break;
        case 8:
            m->has_start = true;
            ok = wasm__rd_u32(&s, &m->start);
            break;
        case 9: ok = sec_element(&s, m); break;
        case 12:
            m->has_datacount = true;
            ok = wasm__rd_u32(&s, &m->datacount);
            break;
        case 10:
            have_code = true;
            ok = sec_code(&s, m, ndefined);
            break;
        case 11: ok = sec_data(&s, m); break;
        }
        if (!ok)
            return s.err;
        if (s.p != s.end) {
            return wasm__rd_fail(&s, SHOAL_EMALFORMED,
                                 "section size mismatch (section %u at offset "
                                 "%zu)",
                                 id, sec_start);
        }
    }
    if (!have_code && ndefined > 0)
        return wasm__rd_fail(&r, SHOAL_EMALFORMED,
                             "function and code section have inconsistent "
                             "lengths (%u functions, no code section)",
                             ndefined);
    if (m->has_datacount && m->ndatas != m->datacount && last_rank < 12)
        return wasm__rd_fail(&r, SHOAL_EMALFORMED,
                             "data count and data section have inconsistent "
                             "lengths (%u and none)",
                             m->datacount);
    return SHOAL_OK;
}

void wasm__module_free_parts(wasm_module *m)
{
    for (uint32_t i = 0; i < m->ntypes; i++)
        free(m->types[i].types);
    free(m->types);
    free(m->imports);
    uint32_t ndef = m->nfuncs - m->nimported_funcs;
    if (m->cfuncs) {
        for (uint32_t i = 0; i < ndef; i++) {
            free(m->cfuncs[i].local_types);
            free(m->cfuncs[i].code);
        }
    }
    free(m->cfuncs);
    free(m->func_type);
    free(m->tables);
    free(m->mems);
    free(m->globals);
    free(m->global_init);
    free(m->exports);
    for (uint32_t i = 0; i < m->nelems; i++)
        free(m->elems[i].items);
    free(m->elems);
    free(m->datas);
    free(m->func_declared);
}
