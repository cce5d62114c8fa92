/* Linear memories for very many actors, carved out of a few large mappings.
 *
 * The kernel lets a process hold only vm.max_map_count mappings (65530 by
 * default), and the engine's default memory provider spends one or two on
 * every memory. An arena hands out memories as slots of large shared
 * mappings instead, so a million idle actors fit in one process:
 *
 * - A memory gets a slot of the smallest size class (a power-of-two
 *   multiple of 64 KiB) that holds what it needs now, not its maximum, and
 *   the engine moves it to a slot of a larger class when it grows past its
 *   slot (see wasm_memory_provider). So the memories of actors that use a
 *   page or two lie 64 KiB or 128 KiB apart whatever their limit, and a
 *   message to one of thousands of actors finds its page's translation in
 *   page tables shared with its neighbours.
 * - Each class owns chunks: mappings made readable and writable once, with
 *   MAP_NORESERVE, cut into equal slots. Nothing is ever mprotect()ed, so a
 *   chunk stays one mapping however its slots are used, and untouched pages
 *   cost no memory.
 * - A class's first chunk is about 1 GiB (at least one slot); each further
 *   chunk doubles, up to a bound, so a million 16 MiB memories take a few
 *   dozen chunks. Address space is taken chunk by chunk, never up front.
 * - A memory whose maximum is above the largest pooled class gets a mapping
 *   of its own, of its maximum, opened page range by page range as it
 *   grows, like the default provider; it never moves.
 * - A released slot is zeroed and reused, most recently released first.
 *
 * Everything a slot's memory committed is zeroed before the slot is reused:
 * see arena.c for why this is a security requirement and not tidiness.
 *
 * Requirements: a 64-bit address space (a million 16 MiB memories take
 * 16 TiB) and an overcommit policy that honours MAP_NORESERVE
 * (vm.overcommit_memory 0 or 1, the default; under 2 every chunk would be
 * charged in full).
 *
 * Threads: the provider's reserve, commit and release and arena_get_stats
 * may be called from any number of threads at once. arena_new and
 * arena_delete are not concurrent with anything else on the same arena.
 */
#ifndef SHOAL_ARENA_H
#define SHOAL_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"
#include "wasm.h"

typedef struct arena arena;

/* Zero in any field means its default. */
typedef struct arena_config {
    /* The largest pooled slot; larger reservations get their own mapping.
     * Rounded up to a power-of-two multiple of 64 KiB. Default 4 GiB, the
     * largest 32-bit Wasm memory, so by default every memory is pooled. */
    size_t max_class_bytes;
    /* The size of a class's first chunk (it holds at least one slot);
     * further chunks double. Default 1 GiB. */
    size_t first_chunk_bytes;
    /* No chunk grows past this (but one slot always fits). Default 1 TiB. */
    size_t max_chunk_bytes;
    /* The address space the arena may hold in all, chunks and own mappings
     * together; a reservation that would exceed it fails. Default 64 TiB,
     * half of x86-64's user address space. */
    size_t max_reserved_bytes;
} arena_config;

/* What an arena holds. Counters are read one by one without stopping other
 * threads, so while they work the figures may not add up exactly. */
typedef struct arena_stats {
    uint64_t reserved_bytes;  /* address space: chunks and own mappings */
    uint64_t committed_bytes; /* the sum of live memories' committed sizes */
    uint64_t live_memories;   /* reserved and not yet released */
    uint64_t mappings;        /* kernel mappings (VMAs) the arena holds */
} arena_stats;

/* A new arena with cfg (NULL: the defaults), holding no address space yet;
 * the caller owns it. NULL when out of memory. */
arena *arena_new(const arena_config *cfg);

/* Frees the arena and unmaps all its chunks. Every memory must have been
 * released first: if some are live, nothing is freed and the result is
 * SHOAL_ESTATE (the arena stays usable), since unmapping would pull memory
 * out from under running actors. NULL is accepted (SHOAL_OK). */
shoal_err arena_delete(arena *a);

/* A memory provider that carves memories out of a, for
 * wasm_store_set_memory_provider(). Its ctx is a; a must outlive every
 * store that uses it and every memory made from it.
 *
 * reserve fails (returns NULL) when the arena's address-space bound is
 * reached, the kernel refuses a new chunk, or the free list cannot grow.
 * commit of a pooled slot never fails and never makes a system call; it
 * relies on the engine never committing past what it was given. */
wasm_memory_provider arena_provider(arena *a);

/* Fills *out with a's current figures. */
void arena_get_stats(const arena *a, arena_stats *out);

#endif
