/* The actor table: an actor id's slot -> the actor, with generations, read
 * without a lock.
 *
 * Slots live in chunks of TABLE_CHUNK entries that are allocated as the
 * table grows and never move or go away while the runtime lives, found
 * through a directory sized for every slot an id can name. Each slot has
 * one atomic word holding the generation of the actor in it, whether it is
 * live, and the actor's reference count. The counts live here rather than
 * in the actor so that a lookup can take a reference with one
 * compare-and-swap that also checks the generation and liveness: the actor
 * cannot be freed between the lookup finding it and counting itself, since
 * freeing needs the count at zero, which the same word says. When the count
 * drops to zero (the actor left the table and nobody holds it), the slot
 * gets the next generation and goes back to the free list, and the actor is
 * freed. So an old id never reaches a new actor, and the slot of an actor
 * still referenced is never reused.
 *
 * Memory orders: a lookup's compare-and-swap acquires (it reads the actor
 * pointer and fields written before the insert's release store of the
 * word); reference increments by a holder are relaxed; decrements are
 * acq_rel, so that the thread dropping the last reference sees every
 * holder's accesses before it frees. Slot allocation and the free list are
 * under table_lock (spawns and final frees only).
 */
#include <stdlib.h>

#include "actor_impl.h"

#define TABLE_CHUNK_BITS 12
#define TABLE_CHUNK (1u << TABLE_CHUNK_BITS)
/* Slots an id can name (32 bits of it). */
#define TABLE_MAX_SLOTS (UINT64_C(1) << 32)
#define TABLE_DIR (TABLE_MAX_SLOTS / TABLE_CHUNK)

/* The slot word: generation (bits 0-15), live (bit 16), references (bits
 * 32-63). */
#define WORD_GEN(w) ((uint16_t)(w))
#define WORD_LIVE (UINT64_C(1) << 16)
#define REF_ONE (UINT64_C(1) << 32)
#define WORD_REFS(w) ((uint32_t)((w) >> 32))

struct table_slot {
    _Atomic uint64_t word;
    /* Written while the slot is free, before the release store that makes
     * it live; read only with a reference taken. */
    actor *a;
};

static uint32_t slot_of(actor_id id)
{
    return (uint32_t)(id >> 16);
}

shoal_err table__init(actor_runtime *rt)
{
    pthread_mutex_init(&rt->table_lock, NULL);
    /* Untouched pages of the directory cost nothing. */
    rt->table_dir = calloc(TABLE_DIR, sizeof *rt->table_dir);
    return rt->table_dir ? SHOAL_OK : SHOAL_ENOMEM;
}

void table__free(actor_runtime *rt)
{
    if (rt->table_dir) {
        for (uint64_t c = 0; c < TABLE_DIR && c * TABLE_CHUNK < rt->nslots; c++)
            free(atomic_load_explicit(&rt->table_dir[c], memory_order_relaxed));
        free(rt->table_dir);
    }
    free(rt->free_slots);
    pthread_mutex_destroy(&rt->table_lock);
}

/* The entry of slot i, or NULL when its chunk does not exist yet. */
static table_slot *entry(actor_runtime *rt, uint32_t i)
{
    /* Acquire: pairs with the release that published the chunk. */
    table_slot *chunk = atomic_load_explicit(
        &rt->table_dir[i >> TABLE_CHUNK_BITS], memory_order_acquire);
    return chunk ? &chunk[i & (TABLE_CHUNK - 1)] : NULL;
}

shoal_err table__insert(actor_runtime *rt, actor *a)
{
    pthread_mutex_lock(&rt->table_lock);
    if (atomic_load(&rt->live) >= rt->cfg.max_actors) {
        pthread_mutex_unlock(&rt->table_lock);
        return SHOAL_ELIMIT;
    }
    uint32_t i;
    if (rt->nfree) {
        i = rt->free_slots[--rt->nfree];
    } else {
        if (rt->nslots >= ENDPOINT_SLOT_BASE) { /* the endpoints' ids */
            pthread_mutex_unlock(&rt->table_lock);
            return SHOAL_ELIMIT;
        }
        i = rt->nslots;
        if ((i & (TABLE_CHUNK - 1)) == 0) {
            table_slot *chunk = calloc(TABLE_CHUNK, sizeof *chunk);
            if (chunk == NULL) {
                pthread_mutex_unlock(&rt->table_lock);
                return SHOAL_ENOMEM;
            }
            for (uint32_t k = 0; k < TABLE_CHUNK; k++)
                atomic_init(&chunk[k].word, 1); /* generation 1, free */
            /* Release: a lookup that finds the chunk sees it initialised. */
            atomic_store_explicit(&rt->table_dir[i >> TABLE_CHUNK_BITS], chunk,
                                  memory_order_release);
        }
        rt->nslots++;
    }
    table_slot *e = entry(rt, i);
    uint64_t w = atomic_load_explicit(&e->word, memory_order_relaxed);
    e->a = a;
    a->slot = e;
    a->id =
        ((actor_id)rt->cfg.node_id << 48) | ((actor_id)i << 16) | WORD_GEN(w);
    atomic_fetch_add(&rt->live, 1);
    /* Live with the table's reference. Release: lookups that see it live
     * see the actor pointer and the actor as spawned. */
    atomic_store_explicit(&e->word, WORD_GEN(w) | WORD_LIVE | REF_ONE,
                          memory_order_release);
    pthread_mutex_unlock(&rt->table_lock);
    return SHOAL_OK;
}

void table__remove(actor_runtime *rt, actor *a)
{
    uint64_t old = atomic_fetch_and_explicit(&a->slot->word, ~WORD_LIVE,
                                             memory_order_acq_rel);
    if (old & WORD_LIVE)
        atomic_fetch_sub(&rt->live, 1);
}

actor *actor__lookup(actor_runtime *rt, actor_id id)
{
    if (actor_id_node(id) != rt->cfg.node_id)
        return NULL;
    table_slot *e = entry(rt, slot_of(id));
    if (e == NULL)
        return NULL;
    uint64_t w = atomic_load_explicit(&e->word, memory_order_relaxed);
    do {
        if (!(w & WORD_LIVE) || WORD_GEN(w) != (uint16_t)id)
            return NULL;
        /* Acquire: see the insert's writes (the actor pointer, the actor).
         */
    } while (!atomic_compare_exchange_weak_explicit(
        &e->word, &w, w + REF_ONE, memory_order_acquire, memory_order_relaxed));
    return e->a;
}

void actor__ref(actor *a)
{
    /* Relaxed: the caller holds a reference already. */
    atomic_fetch_add_explicit(&a->slot->word, REF_ONE, memory_order_relaxed);
}

void actor__unref(actor *a)
{
    if (a->slot == NULL) { /* never in the table: a failed spawn */
        actor__free(a);
        return;
    }
    table_slot *e = a->slot;
    /* Acq_rel: the last holder sees every other holder's accesses. */
    uint64_t old =
        atomic_fetch_sub_explicit(&e->word, REF_ONE, memory_order_acq_rel);
    if (WORD_REFS(old) != 1)
        return;
    /* The last reference: the actor left the table (the table holds one
     * while it is live). The slot takes the next generation, skipping 0 so
     * that no id is 0, and becomes free. */
    actor_runtime *rt = a->rt;
    uint32_t i = slot_of(a->id);
    uint16_t gen = (uint16_t)(WORD_GEN(old) + 1);
    if (gen == 0)
        gen = 1;
    e->a = NULL;
    atomic_store_explicit(&e->word, gen, memory_order_relaxed);
    pthread_mutex_lock(&rt->table_lock);
    if (rt->nfree == rt->capfree) {
        uint32_t ncap = rt->capfree ? rt->capfree * 2 : 1024;
        uint32_t *nf = realloc(rt->free_slots, ncap * sizeof *nf);
        if (nf) {
            rt->free_slots = nf;
            rt->capfree = ncap;
        }
    }
    /* Without room the slot is simply not reused. */
    if (rt->nfree < rt->capfree)
        rt->free_slots[rt->nfree++] = i;
    pthread_mutex_unlock(&rt->table_lock);
    actor__free(a);
}

actor *table__next(actor_runtime *rt, uint32_t *i)
{
    for (;;) {
        pthread_mutex_lock(&rt->table_lock);
        uint32_t n = rt->nslots;
        pthread_mutex_unlock(&rt->table_lock);
        if (*i >= n)
            return NULL;
        table_slot *e = entry(rt, (*i)++);
        uint64_t w = atomic_load_explicit(&e->word, memory_order_relaxed);
        do {
            if (!(w & WORD_LIVE))
                break;
        } while (!atomic_compare_exchange_weak_explicit(
            &e->word, &w, w + REF_ONE, memory_order_acquire,
            memory_order_relaxed));
        if (w & WORD_LIVE)
            return e->a;
    }
}
