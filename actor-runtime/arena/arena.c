/* Linear memories carved out of large shared mappings; see arena.h.
 *
 * Layout: a size class per power-of-two multiple of 64 KiB up to the largest
 * pooled size. A class owns chunks (one mmap each, readable and writable,
 * MAP_NORESERVE) cut into slots of its size, a bump pointer into the newest
 * chunk for slots never handed out, and a stack of released slots. A mutex
 * per class guards all of that; reserve and release hold it only to pop or
 * push one pointer. A memory takes a slot of the class of its current size
 * and is moved by the engine when it outgrows it (arena_reserve). Memories
 * whose maximum is larger than the largest class get a PROT_NONE mapping of
 * their own, kept in a hash table because commit is told only the base
 * address and must find out whether to mprotect it.
 *
 * Isolation. A slot is not protected from its neighbours by the MMU: the
 * whole chunk is readable and writable, and the slots on either side belong
 * to other actors. What keeps an actor inside its memory is the engine's
 * bounds check of every access against the committed size (docs/engine.md,
 * "Limits"). That leaves one way for bytes to cross between actors: through
 * time, when a slot is reused. An actor that gets a slot must see zeros
 * where the previous owner left its data (keys, messages, anything), or one
 * actor could read another's secrets just by growing its memory. So the
 * invariant is: every free slot reads as zeros in full. Fresh chunks are
 * zero; release zeroes the committed range (the only part the previous
 * owner could have written) before the slot goes back on the free stack;
 * so commit has nothing to do. MADV_DONTNEED does the zeroing and gives the
 * pages back to the kernel in one step.
 */
#include "arena.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CLASS_SHIFT_MIN 16 /* the smallest slot: one Wasm page */
/* 64 KiB << 31 is 128 TiB, all of x86-64's user address space. */
#define CLASSES_MAX 32
#define CACHE_LINE 64
/* What one page-table page maps on x86-64 (a PMD entry's reach). */
#define PAGE_TABLE_REACH ((size_t)2 << 20)

#define DEFAULT_MAX_CLASS ((size_t)4 << 30)
#define DEFAULT_FIRST_CHUNK ((size_t)1 << 30)
#define DEFAULT_MAX_CHUNK ((size_t)1 << 40)
#define DEFAULT_MAX_RESERVED ((size_t)64 << 40)

typedef struct chunk {
    struct chunk *next;
    uint8_t *base;
    size_t bytes;
} chunk;

typedef struct size_class {
    /* Aligned so that two classes' locks never share a cache line. */
    _Alignas(CACHE_LINE) pthread_mutex_t lock;
    size_t slot_bytes;
    size_t next_chunk_bytes;
    chunk *chunks;              /* newest first */
    uint8_t *carve, *carve_end; /* the newest chunk's never-used slots */
    /* Released slots, most recent on top. Its capacity always covers every
     * slot ever carved, so release never allocates and cannot fail. */
    uint8_t **free_slots;
    size_t nfree, free_cap, carved;
    /* Written under lock, read by arena_get_stats without it. */
    _Atomic uint64_t live;
} size_class;

/* A reservation too large for the pools: its own mapping. */
typedef struct own_mapping {
    struct own_mapping *next; /* in its hash bucket */
    uint8_t *base;
    size_t bytes, committed;
} own_mapping;

struct arena {
    size_class classes[CLASSES_MAX];
    unsigned nclasses;
    size_t max_chunk_bytes;
    size_t max_reserved_bytes;

    _Atomic uint64_t reserved;  /* bytes of address space held */
    _Atomic uint64_t committed; /* sum over live memories */
    _Atomic uint64_t chunks;    /* mappings held by the pools */

    pthread_mutex_t own_lock;
    own_mapping **own_buckets; /* a power of two of them, or none */
    size_t own_nbuckets;
    /* Own mappings live; read without the lock by commit, to skip the hash
     * lookup in the usual case where there are none. */
    _Atomic uint64_t own_live;
    _Atomic uint64_t own_vmas; /* one each, two while partly committed */
};

/* The class whose slots hold bytes: ceil(log2(pages)) of 64 KiB pages.
 * Any byte count gets an answer; too large ones exceed every class. */
static unsigned class_of(size_t bytes)
{
    size_t pages = (bytes >> CLASS_SHIFT_MIN) +
                   ((bytes & (((size_t)1 << CLASS_SHIFT_MIN) - 1)) != 0);
    if (pages <= 1)
        return 0;
    return 64u - (unsigned)__builtin_clzll((unsigned long long)(pages - 1));
}

/* Takes up to want bytes (a multiple of unit) of the arena's address-space
 * budget; returns how much, possibly 0. */
static size_t claim_space(arena *a, size_t want, size_t unit)
{
    uint64_t cur = atomic_load_explicit(&a->reserved, memory_order_relaxed);
    size_t take;
    do {
        if (cur >= a->max_reserved_bytes)
            return 0;
        size_t room = (size_t)(a->max_reserved_bytes - cur);
        take = want <= room ? want : room / unit * unit;
        if (take == 0)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(
        &a->reserved, &cur, cur + take, memory_order_relaxed,
        memory_order_relaxed));
    return take;
}

static void unclaim_space(arena *a, size_t bytes)
{
    atomic_fetch_sub_explicit(&a->reserved, bytes, memory_order_relaxed);
}

/* Zeroes [base, base + bytes) and returns its pages to the kernel. */
static void zero_pages(uint8_t *base, size_t bytes)
{
    if (bytes == 0)
        return;
    /* On private anonymous memory MADV_DONTNEED drops the pages; the next
     * touch faults in a zero page. It can only fail where the pages are
     * locked (mlock), and then they must still be zeroed by hand. */
    if (madvise(base, bytes, MADV_DONTNEED) != 0)
        memset(base, 0, bytes);
}

/* ---- pools ---- */

/* A readable, writable mapping of bytes starting on a page-table boundary,
 * or NULL. Then every slot of 2 MiB or more has page tables of its own,
 * which release can give back (see pool_release). Trimming the ends of a
 * fresh mapping leaves it one mapping. */
static uint8_t *map_aligned(size_t bytes)
{
    size_t len = bytes + PAGE_TABLE_REACH;
    void *raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t at = ((uintptr_t)raw + PAGE_TABLE_REACH - 1) &
                   ~(uintptr_t)(PAGE_TABLE_REACH - 1);
    size_t head = at - (uintptr_t)raw;
    if (head)
        munmap(raw, head);
    if (PAGE_TABLE_REACH - head)
        munmap((uint8_t *)at + bytes, PAGE_TABLE_REACH - head);
    return (uint8_t *)at;
}

/* Maps c's next chunk, halving it while the kernel or the budget refuses;
 * false when not even one slot can be had. Called under c->lock. */
static bool add_chunk(arena *a, size_class *c)
{
    chunk *ch = malloc(sizeof *ch);
    if (ch == NULL)
        return false;
    size_t slots = c->next_chunk_bytes / c->slot_bytes;
    while (slots > 0) {
        size_t bytes = claim_space(a, slots * c->slot_bytes, c->slot_bytes);
        if (bytes == 0)
            break;
        uint8_t *p = map_aligned(bytes);
        if (p) {
            /* Both only set flags on the whole mapping, so it stays one.
             * Huge pages would make one touched byte cost 2 MiB of an idle
             * actor; a core dump would walk terabytes of mostly empty
             * slots. Either may fail harmlessly (a kernel without THP). */
            madvise(p, bytes, MADV_NOHUGEPAGE);
            madvise(p, bytes, MADV_DONTDUMP);
            ch->base = p;
            ch->bytes = bytes;
            ch->next = c->chunks;
            c->chunks = ch;
            c->carve = p;
            c->carve_end = p + bytes;
            atomic_fetch_add_explicit(&a->chunks, 1, memory_order_relaxed);
            size_t cap = a->max_chunk_bytes > c->slot_bytes ? a->max_chunk_bytes
                                                            : c->slot_bytes;
            c->next_chunk_bytes =
                c->next_chunk_bytes <= cap / 2 ? c->next_chunk_bytes * 2 : cap;
            return true;
        }
        unclaim_space(a, bytes);
        slots = bytes / c->slot_bytes / 2;
    }
    free(ch);
    return false;
}

/* A slot never handed out before. Called under c->lock. */
static uint8_t *carve_slot(arena *a, size_class *c)
{
    if (c->carved == c->free_cap) {
        size_t cap = c->free_cap ? c->free_cap * 2 : 64;
        uint8_t **s = realloc(c->free_slots, cap * sizeof *s);
        if (s == NULL)
            return NULL;
        c->free_slots = s;
        c->free_cap = cap;
    }
    if (c->carve == c->carve_end && !add_chunk(a, c))
        return NULL;
    uint8_t *slot = c->carve;
    c->carve += c->slot_bytes;
    c->carved++;
    return slot;
}

static void *pool_reserve(arena *a, size_class *c)
{
    pthread_mutex_lock(&c->lock);
    uint8_t *slot = c->nfree ? c->free_slots[--c->nfree] : carve_slot(a, c);
    if (slot)
        atomic_store_explicit(
            &c->live, atomic_load_explicit(&c->live, memory_order_relaxed) + 1,
            memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);
    return slot;
}

static void pool_release(size_class *c, uint8_t *slot, size_t committed)
{
    /* A slot of 2 MiB or more owns its page tables, and a touched one holds
     * a 4 KiB page-table page per 2 MiB touched: as much again as an idle
     * actor's one data page. Kernels with page-table reclaim (Linux 6.14
     * and later, CONFIG_PT_RECLAIM) free a page-table page that
     * MADV_DONTNEED empties over its whole 2 MiB reach, so the range is
     * rounded up to that; a free slot then costs nothing at all. Older
     * kernels just find nothing more to drop. */
    size_t zap = committed;
    if (committed && c->slot_bytes >= PAGE_TABLE_REACH)
        zap = (committed + PAGE_TABLE_REACH - 1) & ~(PAGE_TABLE_REACH - 1);
    /* Outside the lock: nobody else can reach the slot until it is pushed. */
    zero_pages(slot, zap);
    pthread_mutex_lock(&c->lock);
    /* Capacity covers every carved slot; only releasing a slot twice (a
     * bug of the caller) could overflow it. */
    if (c->nfree < c->free_cap)
        c->free_slots[c->nfree++] = slot;
    atomic_store_explicit(
        &c->live, atomic_load_explicit(&c->live, memory_order_relaxed) - 1,
        memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);
}

/* ---- reservations with their own mapping ---- */

static size_t own_bucket(const arena *a, const void *base)
{
    uint64_t h = ((uint64_t)(uintptr_t)base >> CLASS_SHIFT_MIN) *
                 UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(h >> 32) & (a->own_nbuckets - 1);
}

static unsigned own_vmas_of(const own_mapping *m)
{
    return m->committed > 0 && m->committed < m->bytes ? 2 : 1;
}

/* Keeps the table at most one entry a bucket on average. Called under
 * own_lock; false only if there is no table at all and none can be made. */
static bool own_table_grow(arena *a, uint64_t n)
{
    if (n < a->own_nbuckets)
        return true;
    size_t nb = a->own_nbuckets ? a->own_nbuckets * 2 : 16;
    own_mapping **b = calloc(nb, sizeof *b);
    if (b == NULL)
        return a->own_nbuckets > 0; /* longer chains, still correct */
    size_t old_nb = a->own_nbuckets;
    own_mapping **old = a->own_buckets;
    a->own_buckets = b;
    a->own_nbuckets = nb;
    for (size_t i = 0; i < old_nb; i++) {
        for (own_mapping *m = old[i], *next; m; m = next) {
            next = m->next;
            size_t j = own_bucket(a, m->base);
            m->next = b[j];
            b[j] = m;
        }
    }
    free(old);
    return true;
}

/* Like the engine's default provider: PROT_NONE, opened as it grows. */
static void *own_reserve(arena *a, size_t max_bytes)
{
    own_mapping *m = malloc(sizeof *m);
    if (m == NULL)
        return NULL;
    if (claim_space(a, max_bytes, max_bytes) != max_bytes)
        goto fail_free_entry;
    void *p = mmap(NULL, max_bytes, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        goto fail_unclaim;
    m->base = p;
    m->bytes = max_bytes;
    m->committed = 0;

    pthread_mutex_lock(&a->own_lock);
    uint64_t n = atomic_load_explicit(&a->own_live, memory_order_relaxed);
    if (!own_table_grow(a, n + 1)) {
        pthread_mutex_unlock(&a->own_lock);
        goto fail_unmap;
    }
    size_t j = own_bucket(a, p);
    m->next = a->own_buckets[j];
    a->own_buckets[j] = m;
    atomic_store_explicit(&a->own_live, n + 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->own_vmas, 1, memory_order_relaxed);
    pthread_mutex_unlock(&a->own_lock);
    return p;

fail_unmap:
    munmap(p, max_bytes);
fail_unclaim:
    unclaim_space(a, max_bytes);
fail_free_entry:
    free(m);
    return NULL;
}

/* Finds base's entry under own_lock; NULL for a pooled slot. With unlink
 * set, also removes it from the table. */
static own_mapping *own_find(arena *a, const void *base, bool unlink)
{
    if (a->own_nbuckets == 0)
        return NULL;
    own_mapping **pm = &a->own_buckets[own_bucket(a, base)];
    for (; *pm; pm = &(*pm)->next) {
        own_mapping *m = *pm;
        if (m->base == base) {
            if (unlink)
                *pm = m->next;
            return m;
        }
    }
    return NULL;
}

/* 1 when base is an own mapping and was opened up to new_bytes, 0 when it
 * could not be, -1 when base is a pooled slot. */
static int own_commit(arena *a, void *base, size_t old_bytes, size_t new_bytes)
{
    int r = -1;
    pthread_mutex_lock(&a->own_lock);
    own_mapping *m = own_find(a, base, false);
    if (m) {
        r = 0;
        if (mprotect((uint8_t *)base + old_bytes, new_bytes - old_bytes,
                     PROT_READ | PROT_WRITE) == 0) {
            unsigned before = own_vmas_of(m);
            m->committed = new_bytes;
            atomic_fetch_add_explicit(&a->own_vmas,
                                      (uint64_t)own_vmas_of(m) - before,
                                      memory_order_relaxed);
            r = 1;
        }
    }
    pthread_mutex_unlock(&a->own_lock);
    return r;
}

static void own_release(arena *a, void *base)
{
    pthread_mutex_lock(&a->own_lock);
    own_mapping *m = own_find(a, base, true);
    if (m) {
        atomic_fetch_sub_explicit(&a->own_vmas, own_vmas_of(m),
                                  memory_order_relaxed);
        atomic_fetch_sub_explicit(&a->own_live, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&a->own_lock);
    if (m == NULL)
        return;
    munmap(m->base, m->bytes);
    unclaim_space(a, m->bytes);
    free(m);
}

/* ---- the provider ---- */

/* A memory's slot is of the smallest class that holds what it needs now,
 * so small memories lie densely together whatever their limit; the engine
 * moves a memory that grows past its slot to a larger one. */
static void *arena_reserve(void *ctx, size_t min_bytes, size_t max_bytes,
                           size_t *reserved_bytes)
{
    arena *a = ctx;
    if (class_of(max_bytes) >= a->nclasses) {
        /* Too large to ever be pooled: its own mapping, which grows in
         * place up to the maximum. */
        void *p = own_reserve(a, max_bytes);
        if (p)
            *reserved_bytes = max_bytes;
        return p;
    }
    size_class *c = &a->classes[class_of(min_bytes)];
    void *p = pool_reserve(a, c);
    if (p)
        *reserved_bytes = c->slot_bytes < max_bytes ? c->slot_bytes : max_bytes;
    return p;
}

static bool arena_commit(void *ctx, void *base, size_t old_bytes,
                         size_t new_bytes)
{
    arena *a = ctx;
    /* The caller's own reserve happened before this commit, so if base is
     * an own mapping the count includes it and cannot read as zero. */
    if (atomic_load_explicit(&a->own_live, memory_order_relaxed) != 0 &&
        own_commit(a, base, old_bytes, new_bytes) == 0)
        return false;
    atomic_fetch_add_explicit(&a->committed, new_bytes - old_bytes,
                              memory_order_relaxed);
    return true;
}

static void arena_release(void *ctx, void *base, size_t reserved_bytes,
                          size_t committed_bytes)
{
    arena *a = ctx;
    /* What arena_reserve reported: a slot's size, or a maximum smaller
     * than it (of the same class), or an own mapping's size. */
    unsigned k = class_of(reserved_bytes);
    if (k < a->nclasses)
        pool_release(&a->classes[k], base, committed_bytes);
    else
        own_release(a, base);
    atomic_fetch_sub_explicit(&a->committed, committed_bytes,
                              memory_order_relaxed);
}

wasm_memory_provider arena_provider(arena *a)
{
    return (wasm_memory_provider){
        .reserve = arena_reserve,
        .commit = arena_commit,
        .release = arena_release,
        .ctx = a,
    };
}

/* ---- the arena ---- */

arena *arena_new(const arena_config *cfg)
{
    arena_config c = cfg ? *cfg : (arena_config){0};
    if (c.max_class_bytes == 0)
        c.max_class_bytes = DEFAULT_MAX_CLASS;
    if (c.first_chunk_bytes == 0)
        c.first_chunk_bytes = DEFAULT_FIRST_CHUNK;
    if (c.max_chunk_bytes == 0)
        c.max_chunk_bytes = DEFAULT_MAX_CHUNK;
    if (c.max_reserved_bytes == 0)
        c.max_reserved_bytes = DEFAULT_MAX_RESERVED;

    arena *a = aligned_alloc(_Alignof(arena), sizeof *a);
    if (a == NULL)
        return NULL;
    memset(a, 0, sizeof *a);
    unsigned top = class_of(c.max_class_bytes);
    a->nclasses = top < CLASSES_MAX ? top + 1 : CLASSES_MAX;
    a->max_chunk_bytes = c.max_chunk_bytes;
    a->max_reserved_bytes = c.max_reserved_bytes;
    atomic_init(&a->reserved, 0);
    atomic_init(&a->committed, 0);
    atomic_init(&a->chunks, 0);
    atomic_init(&a->own_live, 0);
    atomic_init(&a->own_vmas, 0);
    if (pthread_mutex_init(&a->own_lock, NULL) != 0)
        goto fail_free_arena;

    unsigned k;
    for (k = 0; k < a->nclasses; k++) {
        size_class *sc = &a->classes[k];
        if (pthread_mutex_init(&sc->lock, NULL) != 0)
            goto fail_destroy_locks;
        sc->slot_bytes = (size_t)1 << (CLASS_SHIFT_MIN + k);
        sc->next_chunk_bytes = c.first_chunk_bytes > sc->slot_bytes
                                   ? c.first_chunk_bytes
                                   : sc->slot_bytes;
        atomic_init(&sc->live, 0);
    }
    return a;

fail_destroy_locks:
    while (k-- > 0)
        pthread_mutex_destroy(&a->classes[k].lock);
    pthread_mutex_destroy(&a->own_lock);
fail_free_arena:
    free(a);
    return NULL;
}

shoal_err arena_delete(arena *a)
{
    if (a == NULL)
        return SHOAL_OK;
    arena_stats st;
    arena_get_stats(a, &st);
    if (st.live_memories != 0)
        return SHOAL_ESTATE;
    for (unsigned k = 0; k < a->nclasses; k++) {
        size_class *c = &a->classes[k];
        for (chunk *ch = c->chunks, *next; ch; ch = next) {
            next = ch->next;
            munmap(ch->base, ch->bytes);
            free(ch);
        }
        free(c->free_slots);
        pthread_mutex_destroy(&c->lock);
    }
    free(a->own_buckets); /* empty: no own mapping is live */
    pthread_mutex_destroy(&a->own_lock);
    free(a);
    return SHOAL_OK;
}

void arena_get_stats(const arena *a, arena_stats *out)
{
    /* C11's atomic_load takes a non-const pointer; reading does not
     * modify the arena. */
    arena *m = (arena *)a;
    uint64_t live = atomic_load_explicit(&m->own_live, memory_order_relaxed);
    for (unsigned k = 0; k < m->nclasses; k++)
        live += atomic_load_explicit(&m->classes[k].live, memory_order_relaxed);
    out->reserved_bytes =
        atomic_load_explicit(&m->reserved, memory_order_relaxed);
    out->committed_bytes =
        atomic_load_explicit(&m->committed, memory_order_relaxed);
    out->live_memories = live;
    out->mappings = atomic_load_explicit(&m->chunks, memory_order_relaxed) +
                    atomic_load_explicit(&m->own_vmas, memory_order_relaxed);
}
