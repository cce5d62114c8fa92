/* Tests of arena.c: many idle memories in few mappings and little resident
 * memory, zeroed reuse, growth, own mappings for large reservations, the
 * address-space bound, concurrent use, and real instances on arena slots.
 *
 * The main suite runs this under ASan+UBSan like everything else. The
 * concurrency test is also meant for ThreadSanitizer, in a separate build:
 *
 *   CC=clang meson setup build-tsan -Db_sanitize=thread -Db_lundef=false
 *   ninja -C build-tsan && meson test -C build-tsan --suite arena
 *
 * or without meson, from the top of the tree (after
 * `wat2wasm tests/arena/wat/arena_memory.wat -o /tmp/arena_memory.wasm`):
 *
 *   clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=thread \
 *     -Iactor-runtime/arena -Iactor-runtime/wasm -Iactor-runtime/err \
 *     actor-runtime/arena/arena.c actor-runtime/wasm/[a-z]*.c \
 *     actor-runtime/err/err.c tests/arena/test_arena.c \
 *     -lcmocka -lm -lpthread -o /tmp/test_arena_tsan
 *   SHOAL_ARENA_TEST_DIR=/tmp /tmp/test_arena_tsan
 *
 * ThreadSanitizer keeps shadow memory for every page the program touches,
 * so under it the idle-memory test is smaller and its residency bounds are
 * not checked (the figures are still printed).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "arena.h"
#include "wasm.h"

#ifndef ARENA_TEST_DIR
#define ARENA_TEST_DIR "."
#endif

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define PAGE ((size_t)WASM_PAGE_SIZE)

/* ---- what the process holds ---- */

static long maps_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    long n = 0;
    int ch;
    while ((ch = getc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long size, resident;
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Memory the kernel spends on this process's page tables. */
static size_t page_table_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmPTE: %zu kB", &kib) == 1)
            break;
    fclose(f);
    return kib * KIB;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static arena_stats stats_of(const arena *a)
{
    arena_stats st;
    arena_get_stats(a, &st);
    return st;
}

/* A reservation of a memory that needs all of bytes at once, as the engine
 * asks for one whose initial size is its maximum; NULL if the arena gave
 * anything but bytes. No cmocka checks: threads call it too. */
static void *reserve_all(const wasm_memory_provider *p, size_t bytes)
{
    size_t got = 0;
    void *m = p->reserve(p->ctx, bytes, bytes, &got);
    if (m && got != bytes) {
        p->release(p->ctx, m, got, 0);
        return NULL;
    }
    return m;
}

/* ---- (1) a crowd of idle memories ---- */

/* The idle-memory test's own accesses skip AddressSanitizer's checks: each
 * checked access would touch shadow memory 2 MiB away from the last one,
 * doubling the page tables and the time, and measure the sanitizer. */
#define NO_ASAN __attribute__((no_sanitize("address")))

NO_ASAN static void poke(uint8_t *p, uint8_t v)
{
    *p = v;
}

NO_ASAN static uint8_t peek(const uint8_t *p)
{
    return *p;
}

/* ThreadSanitizer leaves applications less than 2 TiB of address space
 * for mmap and makes every access slow: a tenth will do there. */
enum { IDLE_N = UNDER_TSAN ? 20000 : 200000 };

/* 200,000 memories limited to 16 MiB, each with one page committed and
 * one 4 KiB page of it touched: a handful of mappings, and about 4 KiB
 * resident each (a mapping per memory would exceed vm.max_map_count three
 * times). Each takes a slot of the one page it needs, so they lie 64 KiB
 * apart. */
static void test_many_idle_memories(void **state)
{
    (void)state;
    arena *a = arena_new(NULL);
    assert_non_null(a);
    wasm_memory_provider p = arena_provider(a);
    uint8_t **mem = malloc(IDLE_N * sizeof *mem);
    assert_non_null(mem);
    memset(mem, 0, IDLE_N * sizeof *mem);

    long maps0 = maps_count();
    size_t rss0 = resident_bytes();
    size_t pte0 = page_table_bytes();
    double t0 = now_seconds();
    for (size_t i = 0; i < IDLE_N; i++) {
        size_t got = 0;
        mem[i] = p.reserve(p.ctx, PAGE, 16 * MIB, &got);
        assert_non_null(mem[i]);
        assert_int_equal(got, PAGE);
        assert_true(p.commit(p.ctx, mem[i], 0, PAGE));
        /* Written without reading first: a read would map the shared zero
         * page and the write then fault a second time. */
        poke(&mem[i][(i * 8) % 4096], (uint8_t)(i | 1));
    }
    double t1 = now_seconds();
    long maps1 = maps_count();
    size_t rss1 = resident_bytes();
    size_t pte1 = page_table_bytes();

    arena_stats st = stats_of(a);
    assert_int_equal(st.live_memories, IDLE_N);
    assert_int_equal(st.committed_bytes, (uint64_t)IDLE_N * PAGE);
    assert_true(st.reserved_bytes >= (uint64_t)IDLE_N * PAGE);
    assert_int_equal(mem[1] - mem[0], PAGE); /* fresh slots, in order */
    assert_true(st.mappings < 64);
    assert_true(maps1 - maps0 < 1000);

    size_t per_memory = (rss1 - rss0) / IDLE_N;
    print_message("    %d idle memories (limit 16 MiB): %ld -> %ld mappings "
                  "(arena: %llu), %.1f GiB reserved\n",
                  IDLE_N, maps0, maps1, (unsigned long long)st.mappings,
                  (double)st.reserved_bytes / (double)GIB);
    print_message("    resident +%zu MiB (%zu bytes a memory), page tables "
                  "+%zu MiB; %.0f ns a reserve+commit+touch\n",
                  (rss1 - rss0) / MIB, per_memory, (pte1 - pte0) / MIB,
                  (t1 - t0) * 1e9 / IDLE_N);
    if (!UNDER_TSAN) {
        /* One touched 4 KiB page each, far below a 64 KiB page each. */
        assert_true(rss1 - rss0 >= (size_t)IDLE_N * 4 * KIB * 9 / 10);
        assert_true(rss1 - rss0 <= (size_t)IDLE_N * 6 * KIB);
    }

    for (size_t i = 0; i < IDLE_N; i++) {
        assert_int_equal(peek(&mem[i][(i * 8) % 4096]), (uint8_t)(i | 1));
        p.release(p.ctx, mem[i], PAGE, PAGE);
    }
    double t2 = now_seconds();
    size_t rss2 = resident_bytes();
    size_t pte2 = page_table_bytes();
    /* Page tables go back too where the kernel reclaims them (6.14+). */
    print_message("    released: resident %+ld KiB, page tables %+ld KiB "
                  "against the start; %.0f ns a release\n",
                  ((long)rss2 - (long)rss0) / 1024,
                  ((long)pte2 - (long)pte0) / 1024, (t2 - t1) * 1e9 / IDLE_N);
    if (!UNDER_TSAN)
        assert_true(rss2 < rss0 + (size_t)IDLE_N * 512);
    st = stats_of(a);
    assert_int_equal(st.live_memories, 0);
    assert_int_equal(st.committed_bytes, 0);

    free(mem);
    assert_int_equal(arena_delete(a), SHOAL_OK);
}

enum { PAIRS = UNDER_TSAN ? 100000 : 1000000 };

/* Returns NULL, or p when a reserve failed (cmocka's checks must not run
 * on other threads). */
static void *reserve_release_pairs(void *arg)
{
    wasm_memory_provider *p = arg;
    for (int i = 0; i < PAIRS; i++) {
        void *m = reserve_all(p, 16 * MIB);
        if (m == NULL)
            return p;
        p->release(p->ctx, m, 16 * MIB, 0);
    }
    return NULL;
}

/* The cost of a reserve+release pair when the free stack has slots and
 * nothing was committed (no madvise): alone, and with two threads on the
 * same class at once. Then with a page committed, touched and given back. */
static void test_reserve_release_cost(void **state)
{
    (void)state;
    arena *a = arena_new(NULL);
    assert_non_null(a);
    wasm_memory_provider p = arena_provider(a);
    enum { WARM = 256, TOUCHED = 20000 };
    uint8_t *warm[WARM];
    for (int i = 0; i < WARM; i++)
        assert_non_null(warm[i] = reserve_all(&p, 16 * MIB));
    for (int i = 0; i < WARM; i++)
        p.release(p.ctx, warm[i], 16 * MIB, 0);

    double t0 = now_seconds();
    assert_null(reserve_release_pairs(&p));
    double t1 = now_seconds();
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reserve_release_pairs, &p),
                         0);
    for (int i = 0; i < 2; i++) {
        void *failed = &p;
        assert_int_equal(pthread_join(t[i], &failed), 0);
        assert_null(failed);
    }
    double t2 = now_seconds();
    for (int i = 0; i < TOUCHED; i++) {
        uint8_t *m = reserve_all(&p, 16 * MIB);
        assert_true(p.commit(p.ctx, m, 0, PAGE));
        m[0] = 1;
        p.release(p.ctx, m, 16 * MIB, PAGE);
    }
    double t3 = now_seconds();
    print_message("    reserve+release: %.0f ns alone; 2 threads on one class: "
                  "a pair every %.0f ns\n",
                  (t1 - t0) * 1e9 / PAIRS, (t2 - t1) * 1e9 / (2 * PAIRS));
    print_message("    with a page committed, touched and madvised: "
                  "%.0f ns\n",
                  (t3 - t2) * 1e9 / TOUCHED);
    arena_stats st = stats_of(a);
    assert_int_equal(st.live_memories, 0);
    assert_int_equal(st.committed_bytes, 0);
    assert_int_equal(arena_delete(a), SHOAL_OK);
}

/* ---- (2) reuse ---- */

static int cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t) * (void *const *)x;
    uintptr_t b = (uintptr_t) * (void *const *)y;
    return (a > b) - (a < b);
}

/* Released slots come back, and whatever the previous owner wrote reads as
 * zeros: one actor must never see another's old bytes. */
static void test_reuse_reads_zeros(void **state)
{
    (void)state;
    arena *a = arena_new(NULL);
    assert_non_null(a);
    wasm_memory_provider p = arena_provider(a);
    enum { N = 64, PAGES = 4 };
    uint8_t *first[N], *second[N];

    for (int i = 0; i < N; i++) {
        first[i] = reserve_all(&p, 16 * MIB);
        assert_non_null(first[i]);
        assert_true(p.commit(p.ctx, first[i], 0, PAGES * PAGE));
        memset(first[i], 0xa5 ^ i, PAGES * PAGE);
    }
    arena_stats before = stats_of(a);
    for (int i = 0; i < N; i++)
        p.release(p.ctx, first[i], 16 * MIB, PAGES * PAGE);
    assert_int_equal(stats_of(a).committed_bytes, 0);

    for (int i = 0; i < N; i++) {
        second[i] = reserve_all(&p, 16 * MIB);
        assert_non_null(second[i]);
        /* Grow past what the previous owner had: all of it is zero. */
        assert_true(p.commit(p.ctx, second[i], 0, 2 * PAGES * PAGE));
        assert_true(all_zero(second[i], 2 * PAGES * PAGE));
    }
    arena_stats after = stats_of(a);
    assert_int_equal(after.mappings, before.mappings);
    assert_int_equal(after.reserved_bytes, before.reserved_bytes);
    assert_int_equal(after.live_memories, N);
    assert_int_equal(after.committed_bytes, (uint64_t)N * 2 * PAGES * PAGE);

    qsort(first, N, sizeof first[0], cmp_ptr);
    qsort(second, N, sizeof second[0], cmp_ptr);
    assert_memory_equal(first, second, sizeof first);

    for (int i = 0; i < N; i++)
        p.release(p.ctx, second[i], 16 * MIB, 2 * PAGES * PAGE);
    assert_int_equal(arena_delete(a), SHOAL_OK);
}

/* ---- (3) growth, classes, own mappings, bounds ---- */

/* Grows a reservation of max_pages one page at a time up to its maximum;
 * every new page reads as zeros and keeps what is written to it. */
static void grow_to_max(wasm_memory_provider p, uint32_t max_pages)
{
    size_t max = max_pages * PAGE;
    uint8_t *m = reserve_all(&p, max);
    assert_non_null(m);
    for (uint32_t pg = 0; pg < max_pages; pg++) {
        assert_true(p.commit(p.ctx, m, pg * PAGE, (pg + 1) * PAGE));
        uint8_t *page = m + pg * PAGE;
        assert_int_equal(page[0], 0);
        assert_int_equal(page[PAGE - 1], 0);
        page[0] = (uint8_t)pg;
        page[PAGE - 1] = (uint8_t)~pg;
    }
    for (uint32_t pg = 0; pg < max_pages; pg++) {
        assert_int_equal(m[pg * PAGE], (uint8_t)pg);
        assert_int_equal(m[pg * PAGE + PAGE - 1], (uint8_t)~pg);
    }
    p.release(p.ctx, m, max, max);
}

static void test_grow_to_max(void **state)
{
    (void)state;
    /* Pools up to 1 MiB; larger reservations get their own mapping. */
    arena_config cfg = {.max_class_bytes = 1 * MIB};
    arena *a = arena_new(&cfg);
    assert_non_null(a);
    wasm_memory_provider p = arena_provider(a);

    const uint32_t sizes[] = {1, 2, 3, 16, 64, 256};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        grow_to_max(p, sizes[i]);
        arena_stats st = stats_of(a);
        assert_int_equal(st.live_memories, 0);
        assert_int_equal(st.committed_bytes, 0);
    }

    /* Three pages take a 256 KiB slot: neighbours are 256 KiB apart. */
    uint8_t *x = reserve_all(&p, 3 * PAGE);
    uint8_t *y = reserve_all(&p, 3 * PAGE);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(y - x, 256 * KIB);
    p.release(p.ctx, y, 3 * PAGE, 0);
    p.release(p.ctx, x, 3 * PAGE, 0);

    /* An own mapping: one VMA, two while partly opened, one when full. */
    arena_stats base = stats_of(a);
    uint8_t *big = reserve_all(&p, 4 * MIB);
    assert_non_null(big);
    arena_stats st = stats_of(a);
    assert_int_equal(st.mappings, base.mappings + 1);
    assert_int_equal(st.reserved_bytes, base.reserved_bytes + 4 * MIB);
    assert_int_equal(st.live_memories, 1);
    assert_true(p.commit(p.ctx, big, 0, PAGE));
    assert_int_equal(stats_of(a).mappings, base.mappings + 2);
    /* A pooled slot is committed while an own mapping exists. */
    uint8_t *small = reserve_all(&p, PAGE);
    assert_non_null(small);
    assert_true(p.commit(p.ctx, small, 0, PAGE));
    small[PAGE - 1] = 7;
    assert_true(p.commit(p.ctx, big, PAGE, 4 * MIB));
    assert_int_equal(stats_of(a).mappings, base.mappings + 1);
    assert_true(all_zero(big, 4 * MIB));
    big[4 * MIB - 1] = 1;
    assert_int_equal(stats_of(a).committed_bytes, 4 * MIB + PAGE);
    p.release(p.ctx, big, 4 * MIB, 4 * MIB);
    p.release(p.ctx, small, PAGE, PAGE);
    st = stats_of(a);
    assert_int_equal(st.mappings, base.mappings);
    assert_int_equal(st.reserved_bytes, base.reserved_bytes);
    assert_int_equal(st.live_memories, 0);
    assert_int_equal(st.committed_bytes, 0);
    assert_int_equal(arena_delete(a), SHOAL_OK);
}

/* A memory gets a slot of the class of what it needs now, whatever its
 * maximum; the reservation reported is capped at the maximum; a maximum
 * above the largest class gets its own mapping of the maximum at once. */
static void test_slot_of_initial_size(void **state)
{
    (void)state;
    arena_config cfg = {.max_class_bytes = 1 * MIB};
    arena *a = arena_new(&cfg);
    assert_non_null(a);
    wasm_memory_provider p = arena_provider(a);
    struct {
        size_t min, max, got;
    } cases[] = {
        {PAGE, 16 * PAGE, PAGE},          /* a one-page slot */
        {2 * PAGE, 16 * PAGE, 2 * PAGE},  /* two pages */
        {3 * PAGE, 16 * PAGE, 4 * PAGE},  /* four: the next class up */
        {3 * PAGE, 3 * PAGE, 3 * PAGE},   /* capped at the maximum */
        {16 * PAGE, 16 * PAGE, 16 * PAGE}, /* the largest class */
        {PAGE, 4 * MIB, 4 * MIB},         /* above it: its own mapping */
    };
    enum { N = sizeof cases / sizeof cases[0] };
    uint8_t *m[N], *again[N];
    for (int i = 0; i < N; i++) {
        size_t got = 0;
        m[i] = p.reserve(p.ctx, cases[i].min, cases[i].max, &got);
        assert_non_null(m[i]);
        assert_int_equal(got, cases[i].got);
        assert_true(p.commit(p.ctx, m[i], 0, cases[i].min));
        memset(m[i], 0x5a, cases[i].min);
    }
    arena_stats st = stats_of(a);
    assert_int_equal(st.live_memories, N);
    for (int i = 0; i < N; i++)
        p.release(p.ctx, m[i], cases[i].got, cases[i].min);
    st = stats_of(a);
    assert_int_equal(st.live_memories, 0);
    assert_int_equal(st.committed_bytes, 0);
    /* Every slot went back to its own class: the same ones come back,
     * zeroed (the own mapping is new, so it is not compared). */
    for (int i = N - 2; i >= 0; i--) {
        size_t got = 0;
        again[i] = p.reserve(p.ctx, cases[i].min, cases[i].max, &got);
        assert_ptr_equal(again[i], m[i]);
        assert_true(p.commit(p.ctx, again[i], 0, got));
        assert_true(all_zero(again[i], got));
    }
    for (int i = 0; i < N - 1; i++)
        p.release(p.ctx, again[i], cases[i].got, cases[i].got);
    assert_int_equal(arena_delete(a), SHOAL_OK);
}

/* The address-space bound: a chunk shrinks to fit it, then reserve fails;
 * and an arena with live memories refuses to be deleted. */
static void test_bounds(void **state)
{
    (void)state;
    arena_config cfg = {.max_reserved_bytes = 64 * MIB};
    arena *a = arena_new(&cfg);
    assert_non_null(a);
    wasm_memory_provider p = arena_provider(a);
    void *m[4];
    for (int i = 0; i < 4; i++)
        assert_non_null(m[i] = reserve_all(&p, 16 * MIB));
    assert_null(reserve_all(&p, 16 * MIB));
    assert_null(reserve_all(&p, 64 * KIB)); /* the budget is spent */
    arena_stats st = stats_of(a);
    assert_int_equal(st.reserved_bytes, 64 * MIB);
    assert_int_equal(st.mappings, 1);
    assert_int_equal(st.live_memories, 4);

    assert_int_equal(arena_delete(a), SHOAL_ESTATE);
    for (int i = 0; i < 4; i++)
        p.release(p.ctx, m[i], 16 * MIB, 0);
    /* Freed slots serve again within the bound. */
    assert_non_null(m[0] = reserve_all(&p, 16 * MIB));
    p.release(p.ctx, m[0], 16 * MIB, 0);
    assert_int_equal(arena_delete(a), SHOAL_OK);
    assert_int_equal(arena_delete(NULL), SHOAL_OK);
}

/* ---- (4) threads ---- */

enum { THREADS = 4, HELD = 32, ROUNDS = 5000 };

typedef struct worker {
    wasm_memory_provider p;
    pthread_barrier_t *filled, *checked;
    uint32_t id;
    uint64_t rng;
    uint64_t failures;
} worker;

typedef struct held_memory {
    uint8_t *base;
    size_t max, committed;
    uint64_t mark;
} held_memory;

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Takes a memory of a random class, checks that it reads as zeros and
 * marks it as this holder's. */
static void take(worker *w, held_memory *h, uint64_t mark)
{
    static const size_t maxes[] = {PAGE, 3 * PAGE, 16 * PAGE, 16 * MIB};
    uint64_t r = next_random(&w->rng);
    h->max = maxes[r % 4];
    h->committed = PAGE * (1 + (r >> 8) % 2 * (h->max > PAGE));
    h->base = reserve_all(&w->p, h->max);
    if (h->base == NULL || !w->p.commit(w->p.ctx, h->base, 0, h->committed)) {
        w->failures++;
        h->base = NULL;
        return;
    }
    uint64_t first, last;
    memcpy(&first, h->base, 8);
    memcpy(&last, h->base + h->committed - 8, 8);
    if (first != 0 || last != 0)
        w->failures++;
    h->mark = mark;
    memcpy(h->base, &mark, 8);
    memcpy(h->base + h->committed - 8, &mark, 8);
}

/* Checks that nobody else wrote into the memory, then gives it back. */
static void give_back(worker *w, held_memory *h)
{
    if (h->base == NULL)
        return;
    uint64_t first, last;
    memcpy(&first, h->base, 8);
    memcpy(&last, h->base + h->committed - 8, 8);
    if (first != h->mark || last != h->mark)
        w->failures++;
    w->p.release(w->p.ctx, h->base, h->max, h->committed);
    h->base = NULL;
}

static void *work(void *arg)
{
    worker *w = arg;
    held_memory held[HELD] = {{0}};
    uint64_t n = 0;
    for (int i = 0; i < HELD; i++)
        take(w, &held[i], ((uint64_t)w->id << 32) | ++n);
    pthread_barrier_wait(w->filled);
    pthread_barrier_wait(w->checked);
    for (int round = 0; round < ROUNDS; round++) {
        held_memory *h = &held[next_random(&w->rng) % HELD];
        give_back(w, h);
        take(w, h, ((uint64_t)w->id << 32) | ++n);
    }
    for (int i = 0; i < HELD; i++)
        give_back(w, &held[i]);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    arena *a = arena_new(NULL);
    assert_non_null(a);
    pthread_barrier_t filled, checked;
    assert_int_equal(pthread_barrier_init(&filled, NULL, THREADS + 1), 0);
    assert_int_equal(pthread_barrier_init(&checked, NULL, THREADS + 1), 0);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (uint32_t i = 0; i < THREADS; i++) {
        w[i] = (worker){.p = arena_provider(a),
                        .filled = &filled,
                        .checked = &checked,
                        .id = i + 1,
                        .rng = 0x9e3779b97f4a7c15u * (i + 1)};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    pthread_barrier_wait(&filled);
    arena_stats st = stats_of(a);
    assert_int_equal(st.live_memories, THREADS * HELD);
    double t0 = now_seconds();
    pthread_barrier_wait(&checked);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    double t1 = now_seconds();
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(w[i].failures, 0);
    st = stats_of(a);
    assert_int_equal(st.live_memories, 0);
    assert_int_equal(st.committed_bytes, 0);
    assert_true(st.mappings <= 4); /* one chunk for each class used */
    print_message("    %d threads: %.0f ns a round (release and madvise, "
                  "reserve, commit, first touch)\n",
                  THREADS, (t1 - t0) * 1e9 / (THREADS * ROUNDS));
    pthread_barrier_destroy(&filled);
    pthread_barrier_destroy(&checked);
    assert_int_equal(arena_delete(a), SHOAL_OK);
}

/* ---- (5) real instances ---- */

static wasm_module *load_module(const char *name)
{
    const char *dir = getenv("SHOAL_ARENA_TEST_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.wasm", dir ? dir : ARENA_TEST_DIR, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    uint8_t buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 0 && len < sizeof buf);
    wasm_module *m = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = wasm_module_load(buf, len, NULL, &m, &ei);
    if (err)
        fail_msg("%s: %s: %s", path, shoal_err_name(err), ei.msg);
    return m;
}

typedef struct actor_like {
    wasm_store *store;
    wasm_instance *inst;
    wasm_exec *x;
} actor_like;

static void start(actor_like *al, wasm_module *m, arena *a)
{
    wasm_limits lim;
    wasm_limits_default(&lim);
    lim.max_memory_pages = 256;
    al->store = wasm_store_new(&lim);
    assert_non_null(al->store);
    wasm_memory_provider p = arena_provider(a);
    wasm_store_set_memory_provider(al->store, &p);
    shoal_errinfo ei = {0};
    shoal_err err = wasm_instantiate(al->store, m, NULL, 0, &al->inst, &ei);
    if (err)
        fail_msg("instantiate: %s: %s", shoal_err_name(err), ei.msg);
    al->x = wasm_exec_new(al->store);
    assert_non_null(al->x);
}

static void stop(actor_like *al)
{
    wasm_exec_delete(al->x);
    wasm_store_delete(al->store);
}

static wasm_status run(actor_like *al, const char *fn, const uint64_t *args,
                       uint32_t nargs, uint64_t *result)
{
    wasm_extern e = wasm_instance_export(al->inst, fn, strlen(fn));
    assert_int_equal(e.kind, WASM_EXTERN_FUNC);
    assert_int_equal(wasm_exec_call(al->x, e.u.func, args, nargs), SHOAL_OK);
    wasm_status st = wasm_exec_run(al->x);
    if (st == WASM_DONE && result) {
        uint32_t n;
        const uint64_t *r = wasm_exec_results(al->x, &n);
        *result = n ? r[0] : 0;
    }
    return st;
}

/* Calls fn with as many of a0, a1 as it takes, expecting it to return. */
static uint64_t call(actor_like *al, const char *fn, uint64_t a0, uint64_t a1)
{
    wasm_extern e = wasm_instance_export(al->inst, fn, strlen(fn));
    assert_int_equal(e.kind, WASM_EXTERN_FUNC);
    uint64_t args[2] = {a0, a1}, r = 0;
    uint32_t nargs = wasm_functype_num_params(wasm_func_type(e.u.func));
    assert_int_equal(run(al, fn, args, nargs, &r), WASM_DONE);
    return r;
}

static void test_instances(void **state)
{
    (void)state;
    wasm_module *m = load_module("arena_memory");
    arena *a = arena_new(NULL);
    assert_non_null(a);

    actor_like al;
    start(&al, m, a);
    arena_stats st = stats_of(a);
    assert_int_equal(st.live_memories, 1);
    assert_int_equal(st.committed_bytes, PAGE);
    uint8_t *data = wasm_memory_data(wasm_instance_memory(al.inst));
    assert_memory_equal(data + 16, "shoal", 5);

    call(&al, "store64", PAGE - 8, 0x1122334455667788u);
    assert_int_equal(call(&al, "load64", PAGE - 8, 0), 0x1122334455667788u);
    uint64_t args[2] = {PAGE - 4, 0};
    assert_int_equal(run(&al, "load64", args, 1, NULL), WASM_TRAPPED);
    assert_int_equal(wasm_exec_trap(al.x), WASM_TRAP_MEMORY_OOB);

    /* Four pages outgrow the one-page slot: the memory moves to a 256 KiB
     * slot with its bytes, and the old slot is free again. */
    assert_int_equal((uint32_t)call(&al, "grow", 3, 0), 1);
    assert_int_equal((uint32_t)call(&al, "size", 0, 0), 4);
    uint8_t *moved = wasm_memory_data(wasm_instance_memory(al.inst));
    assert_ptr_not_equal(moved, data);
    st = stats_of(a);
    assert_int_equal(st.committed_bytes, 4 * PAGE);
    assert_int_equal(st.live_memories, 1);
    assert_memory_equal(moved + 16, "shoal", 5);
    assert_int_equal(call(&al, "load64", PAGE - 8, 0), 0x1122334455667788u);
    assert_int_equal(call(&al, "load64", 4 * PAGE - 8, 0), 0);
    call(&al, "store64", 4 * PAGE - 8, 42);
    assert_int_equal(call(&al, "load64", 4 * PAGE - 8, 0), 42);
    /* Within the slot it grows in place. */
    assert_int_equal((uint32_t)call(&al, "grow", 0, 0), 4);
    assert_ptr_equal(wasm_memory_data(wasm_instance_memory(al.inst)), moved);
    /* To the limit (256 pages, a 16 MiB slot), and no further. */
    assert_int_equal((uint32_t)call(&al, "grow", 252, 0), 4);
    assert_int_equal((uint32_t)call(&al, "grow", 1, 0), UINT32_MAX);
    assert_int_equal(call(&al, "load64", 4 * PAGE - 8, 0), 42);
    assert_int_equal(call(&al, "load64", PAGE - 8, 0), 0x1122334455667788u);
    assert_int_equal(call(&al, "load64", 256 * PAGE - 8, 0), 0);
    call(&al, "store64", 256 * PAGE - 8, 43);
    uint64_t past[2] = {256 * PAGE - 4, 0};
    assert_int_equal(run(&al, "load64", past, 1, NULL), WASM_TRAPPED);
    assert_int_equal(wasm_exec_trap(al.x), WASM_TRAP_MEMORY_OOB);
    st = stats_of(a);
    assert_int_equal(st.committed_bytes, 256 * PAGE);
    assert_int_equal(st.live_memories, 1);

    stop(&al);
    st = stats_of(a);
    assert_int_equal(st.live_memories, 0);
    assert_int_equal(st.committed_bytes, 0);

    /* The next actor gets the first slot back (the most recently freed
     * one-page slot), and none of the old bytes: only its own data
     * segment, also after it grows into the slots the first one left. */
    start(&al, m, a);
    assert_ptr_equal(wasm_memory_data(wasm_instance_memory(al.inst)), data);
    assert_int_equal(call(&al, "load64", PAGE - 8, 0), 0);
    assert_int_equal((uint32_t)call(&al, "grow", 255, 0), 1);
    assert_int_equal(call(&al, "load64", 4 * PAGE - 8, 0), 0);
    assert_int_equal(call(&al, "load64", 256 * PAGE - 8, 0), 0);
    assert_int_equal(call(&al, "sum", 256 * PAGE, 0),
                     's' + 'h' + 'o' + 'a' + 'l');
    stop(&al);

    /* Many live instances share a handful of mappings. */
    enum { ACTORS = 10000 };
    actor_like *many = calloc(ACTORS, sizeof *many);
    assert_non_null(many);
    long maps0 = maps_count();
    for (int i = 0; i < ACTORS; i++) {
        start(&many[i], m, a);
        call(&many[i], "store64", 8, (uint64_t)i);
    }
    long maps1 = maps_count();
    st = stats_of(a);
    assert_int_equal(st.live_memories, ACTORS);
    assert_int_equal(st.committed_bytes, (uint64_t)ACTORS * PAGE);
    assert_true(maps1 - maps0 < 100);
    for (int i = 0; i < ACTORS; i++) {
        assert_int_equal(call(&many[i], "load64", 8, 0), (uint64_t)i);
        stop(&many[i]);
    }
    free(many);
    st = stats_of(a);
    assert_int_equal(st.live_memories, 0);
    assert_int_equal(st.committed_bytes, 0);

    assert_int_equal(arena_delete(a), SHOAL_OK);
    wasm_module_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_idle_memories),
        cmocka_unit_test(test_reserve_release_cost),
        cmocka_unit_test(test_reuse_reads_zeros),
        cmocka_unit_test(test_grow_to_max),
        cmocka_unit_test(test_slot_of_initial_size),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
