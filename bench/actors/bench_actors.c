/* The actor benchmark, Shoal's side: one workload per run, the same four
 * workloads as actors.erl, printed as "RESULT key value" lines that
 * bench/actors/run.sh collects. See docs/benchmarks.md, "Actors".
 *
 *   bench_actors WASM_DIR spawn idle|idle_mem N
 *   bench_actors WASM_DIR pingpong ROUND_TRIPS
 *   bench_actors WASM_DIR ring ACTORS LAPS [MAX_PAGES]
 *   bench_actors WASM_DIR fanout MESSAGES WORKERS
 *
 * WASM_DIR holds the modules built from bench/actors/wat. The runtime has
 * two worker threads (BENCH_WORKERS to change that); the embedder (this
 * thread) spawns, sends and waits.
 * Every wait is bounded (BENCH_TIMEOUT_S, default 600 s): a workload that
 * does not finish prints what it saw and exits with status 2 without
 * tearing the runtime down, since a stuck runtime may not stop cleanly. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actor.h"

typedef struct bench {
    actor_runtime *rt;
    const char *wasm_dir;
    int64_t timeout_ms;
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size from /proc/self/statm, in bytes. */
static uint64_t rss_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void result(const char *key, double value)
{
    printf("RESULT %s %.3f\n", key, value);
    fflush(stdout);
}

/* Gives up on a workload that did not finish: see the file comment. */
static void give_up(const char *what)
{
    fprintf(stderr, "bench_actors: %s\n", what);
    fflush(stdout);
    _exit(2);
}

static void add_module(bench *b, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.wasm", b->wasm_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench_actors: cannot open %s\n", path);
        exit(1);
    }
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    shoal_errinfo ei = {0};
    shoal_err err = actor_runtime_add_module(b->rt, name, buf, n, &ei);
    if (err != SHOAL_OK) {
        fprintf(stderr, "bench_actors: %s: %s\n", path, ei.msg);
        exit(1);
    }
}

static actor_id spawn(bench *b, const char *module, const uint8_t *init,
                      size_t init_len, const actor_spawn_opts *opts)
{
    actor_id id = 0;
    shoal_errinfo ei = {0};
    shoal_err err = actor_spawn(b->rt, module, init, init_len, opts, &id, &ei);
    if (err != SHOAL_OK) {
        fprintf(stderr, "bench_actors: spawn %s: %s: %s\n", module,
                shoal_err_name(err), ei.msg);
        exit(1);
    }
    return id;
}

/* ---- messages: fixed-width msgpack, as the WAT actors read them ---- */

static size_t put_u32(uint8_t *p, uint32_t v)
{
    p[0] = 0xce;
    for (int i = 0; i < 4; i++)
        p[1 + i] = (uint8_t)(v >> (24 - 8 * i));
    return 5;
}

static size_t put_u64(uint8_t *p, uint64_t v)
{
    p[0] = 0xcf;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(v >> (56 - 8 * i));
    return 9;
}

static void send_or_die(bench *b, actor_id to, const uint8_t *msg, size_t len)
{
    shoal_err err = actor_send(b->rt, to, msg, len);
    if (err != SHOAL_OK) {
        fprintf(stderr, "bench_actors: send: %s\n", shoal_err_name(err));
        exit(1);
    }
}

/* ---- an embedder call and its reply ---- */

typedef struct reply {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    shoal_err err;
    uint8_t data[16];
    size_t len;
} reply;

static void on_reply(void *ctx, shoal_err err, const uint8_t *data, size_t len)
{
    reply *r = ctx;
    pthread_mutex_lock(&r->lock);
    r->err = err;
    r->len = len < sizeof r->data ? len : sizeof r->data;
    if (r->len)
        memcpy(r->data, data, r->len);
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Calls `to` and waits for the answer; the runtime's own timeout ends the
 * wait with SHOAL_ETIMEDOUT. The reply is copied to r. */
static shoal_err call(bench *b, actor_id to, const uint8_t *msg, size_t len,
                      reply *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    shoal_err err = actor_call(b->rt, to, msg, len, b->timeout_ms, on_reply, r);
    if (err != SHOAL_OK)
        return err;
    pthread_mutex_lock(&r->lock);
    while (!r->done)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    return r->err;
}

/* Waits until at most `live` actors are left. */
static void wait_count(bench *b, size_t live)
{
    double deadline = now_s() + (double)b->timeout_ms / 1000;
    while (actor_count(b->rt) > live) {
        if (now_s() > deadline) {
            char what[128];
            snprintf(what, sizeof what,
                     "timed out with %zu actors alive (waiting for %zu)",
                     actor_count(b->rt), live);
            give_up(what);
        }
        usleep(1000);
    }
}

static void wait_exit_normal(bench *b, actor_id id, const char *who)
{
    actor_exit why;
    shoal_err err = actor_wait(b->rt, id, b->timeout_ms, &why);
    char what[192];
    if (err != SHOAL_OK) {
        snprintf(what, sizeof what, "%s: wait: %s (%zu actors alive)", who,
                 shoal_err_name(err), actor_count(b->rt));
        give_up(what);
    }
    if (why.kind != ACTOR_EXIT_NORMAL) {
        char reason[96];
        snprintf(what, sizeof what, "%s exited: %s", who,
                 actor_exit_reason(&why, reason, sizeof reason));
        give_up(what);
    }
}

/* ---- 1. spawn N idle actors, then kill them ---- */

/* Calls a new probe actor: once it answers, the run queue has moved past
 * every actor spawned before it. */
static void settle(bench *b)
{
    actor_id probe = spawn(b, "probe", NULL, 0, NULL);
    uint8_t nil = 0xc0;
    reply r;
    shoal_err err = call(b, probe, &nil, 1, &r);
    if (err != SHOAL_OK) {
        char what[96];
        snprintf(what, sizeof what, "probe call: %s", shoal_err_name(err));
        give_up(what);
    }
    actor_kill(b->rt, probe);
}

static void bench_spawn(bench *b, const char *module, size_t n)
{
    add_module(b, module);
    add_module(b, "probe");
    actor_id *ids = malloc(n * sizeof *ids);
    if (ids == NULL) {
        fprintf(stderr, "bench_actors: out of memory\n");
        exit(1);
    }
    memset(ids, 0, n * sizeof *ids); /* resident before the first reading */
    settle(b);
    wait_count(b, 0);
    uint64_t rss0 = rss_bytes();

    double t0 = now_s();
    size_t spawned = 0;
    for (; spawned < n; spawned++) {
        shoal_errinfo ei = {0};
        shoal_err err =
            actor_spawn(b->rt, module, NULL, 0, NULL, &ids[spawned], &ei);
        if (err != SHOAL_OK) {
            printf("spawn %zu failed: %s: %s (rss %.1f MiB)\n", spawned + 1,
                   shoal_err_name(err), ei.msg,
                   (double)rss_bytes() / (1 << 20));
            break;
        }
    }
    double t1 = now_s();
    settle(b);
    double t2 = now_s();
    uint64_t rss1 = rss_bytes();
    printf("%s: %zu actors alive; spawn loop %.3f s, started %.3f s; "
           "rss %.1f -> %.1f MiB\n",
           module, actor_count(b->rt), t1 - t0, t2 - t0,
           (double)rss0 / (1 << 20), (double)rss1 / (1 << 20));
    result("spawned", (double)spawned);
    if (spawned == 0)
        exit(1);
    result("spawn_us", (t2 - t0) * 1e6 / (double)spawned);
    result("spawn_loop_us", (t1 - t0) * 1e6 / (double)spawned);
    result("rss_per_actor_bytes",
           ((double)rss1 - (double)rss0) / (double)spawned);

    double t3 = now_s();
    for (size_t i = 0; i < spawned; i++)
        actor_kill(b->rt, ids[i]);
    double t4 = now_s();
    wait_count(b, 0);
    double t5 = now_s();
    uint64_t rss2 = rss_bytes();
    printf("%s: kill loop %.3f s, all exited %.3f s; rss after %.1f MiB\n",
           module, t4 - t3, t5 - t3, (double)rss2 / (1 << 20));
    result("kill_us", (t5 - t3) * 1e6 / (double)spawned);
    free(ids);
}

/* ---- 2 and 3. a ring of ring.wat actors; two of them play ping-pong ---- */

/* Builds a ring of n actors, sends a token of `passes` to the first and
 * returns the seconds until the token ran out (at the first actor, when
 * passes is a multiple of n). max_pages, when not 0, is the actors' memory
 * limit in pages (actor_limits.max_memory_pages) instead of the default. */
static double run_ring(bench *b, size_t n, uint32_t passes, uint32_t max_pages)
{
    add_module(b, "ring");
    actor_id *ids = malloc(n * sizeof *ids);
    if (ids == NULL) {
        fprintf(stderr, "bench_actors: out of memory\n");
        exit(1);
    }
    actor_spawn_opts opts = {.limits.max_memory_pages = max_pages};
    uint8_t m[16];
    ids[0] = spawn(b, "ring", NULL, 0, &opts);
    for (size_t i = n - 1; i >= 1; i--) {
        size_t len = put_u64(m, ids[(i + 1) % n]);
        ids[i] = spawn(b, "ring", m, len, &opts);
    }
    send_or_die(b, ids[0], m, put_u64(m, ids[1]));

    double t0 = now_s();
    send_or_die(b, ids[0], m, put_u32(m, passes));
    wait_exit_normal(b, ids[0], "ring actor 0");
    double t = now_s() - t0;

    for (size_t i = 1; i < n; i++)
        actor_kill(b->rt, ids[i]);
    wait_count(b, 0);
    free(ids);
    return t;
}

static void bench_pingpong(bench *b, uint32_t round_trips)
{
    double t = run_ring(b, 2, 2 * round_trips, 0);
    printf("pingpong: %" PRIu32 " round trips in %.3f s\n", round_trips, t);
    result("pingpong_rt_per_s", round_trips / t);
}

static void bench_ring(bench *b, size_t n, uint32_t laps, uint32_t max_pages)
{
    double t = run_ring(b, n, (uint32_t)(n * laps), max_pages);
    double msgs = (double)n * laps;
    printf("ring: %zu actors, %" PRIu32 " laps, %.0f messages in %.3f s "
           "(memory limit %s)\n",
           n, laps, msgs, t, max_pages ? "set" : "default");
    result("ring_msgs_per_s", msgs / t);
}

/* ---- 4. fan-out/fan-in ---- */

static void bench_fanout(bench *b, uint32_t msgs, size_t nworkers)
{
    add_module(b, "worker");
    add_module(b, "coordinator");
    if (nworkers == 0 || nworkers > 1000) {
        fprintf(stderr, "bench_actors: 1 to 1000 workers\n");
        exit(1);
    }
    uint8_t *init = malloc(3 + 9 * nworkers);
    if (init == NULL)
        exit(1);
    init[0] = 0xdc; /* array16 */
    init[1] = (uint8_t)(nworkers >> 8);
    init[2] = (uint8_t)nworkers;
    for (size_t i = 0; i < nworkers; i++)
        put_u64(init + 3 + 9 * i, spawn(b, "worker", NULL, 0, NULL));
    /* The replies queue up while the coordinator sends: its mailbox holds
     * them all. Its one handler call that sends them may take more than the
     * default fuel per message. */
    actor_spawn_opts opts = {
        .limits = {.mailbox_cap = msgs + 1024, .fuel_per_message = UINT64_MAX}};
    actor_id coord = spawn(b, "coordinator", init, 3 + 9 * nworkers, &opts);
    free(init);

    uint8_t m[8];
    reply r;
    double t0 = now_s();
    shoal_err err = call(b, coord, m, put_u32(m, msgs), &r);
    double t = now_s() - t0;
    if (err != SHOAL_OK) {
        char what[128];
        snprintf(what, sizeof what, "fanout: call: %s (%zu actors alive)",
                 shoal_err_name(err), actor_count(b->rt));
        give_up(what);
    }
    uint8_t want[8];
    if (r.len != 5 || memcmp(r.data, want, put_u32(want, msgs)) != 0)
        give_up("fanout: wrong reply");
    printf("fanout: %" PRIu32 " requests to %zu workers, %" PRIu32
           " replies, in %.3f s\n",
           msgs, nworkers, msgs, t);
    result("fanout_s", t);
    result("fanout_msgs_per_s", 2.0 * msgs / t);
    actor_kill(b->rt, coord);
    wait_count(b, nworkers);
}

static unsigned long arg(int argc, char **argv, int i, unsigned long dflt)
{
    return i < argc ? strtoul(argv[i], NULL, 10) : dflt;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: %s WASM_DIR spawn idle|idle_mem N | pingpong RT | "
                "ring N LAPS [MAX_PAGES] | fanout MSGS WORKERS\n",
                argv[0]);
        return 1;
    }
    const char *t = getenv("BENCH_TIMEOUT_S");
    bench b = {.wasm_dir = argv[1], .timeout_ms = (t ? atoll(t) : 600) * 1000};
    const char *nw = getenv("BENCH_WORKERS");
    actor_config cfg = {.node_id = 1, .workers = nw ? (unsigned)atoi(nw) : 2};
    if (actor_runtime_new(&cfg, &b.rt) != SHOAL_OK) {
        fprintf(stderr, "bench_actors: cannot start the runtime\n");
        return 1;
    }
    const char *w = argv[2];
    if (strcmp(w, "spawn") == 0 && argc >= 4)
        bench_spawn(&b, argv[3], arg(argc, argv, 4, 1000000));
    else if (strcmp(w, "pingpong") == 0)
        bench_pingpong(&b, (uint32_t)arg(argc, argv, 3, 1000000));
    else if (strcmp(w, "ring") == 0)
        bench_ring(&b, arg(argc, argv, 3, 10000),
                   (uint32_t)arg(argc, argv, 4, 1000),
                   (uint32_t)arg(argc, argv, 5, 0));
    else if (strcmp(w, "fanout") == 0)
        bench_fanout(&b, (uint32_t)arg(argc, argv, 3, 1000000),
                     arg(argc, argv, 4, 1000));
    else {
        fprintf(stderr, "bench_actors: unknown workload %s\n", w);
        return 1;
    }
    double t0 = now_s();
    actor_runtime_delete(b.rt);
    printf("runtime deleted in %.3f s\n", now_s() - t0);
    return 0;
}
