/* Tests of gossip.c and gossip_wire.c: many gossip instances in one process
 * on a simulated network (loss, delay, duplication, blocked links) and a
 * simulated clock; convergence, failure detection, restarts, refutation,
 * leaving, meta, tombstones, and malformed input.
 *
 * Every loop is bounded by simulated time. The bounds asserted are printed
 * along with what was measured.
 *
 * This executable is linked with -Wl,--wrap=malloc,calloc,realloc,free so
 * that it can count and fail the allocations of gossip.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "failalloc.h"
#include "scheduler.h"

#define MAX_NODES 24
#define STEP_MS 5

/* ---- the simulated network ---- */

typedef struct datagram {
    int64_t due_ms;
    int from;
    int to;
    size_t len;
    uint8_t *bytes;
} datagram;

typedef struct sim sim;

typedef struct sim_node {
    sim *s;
    int index;
    gossip *g;
    bool up; /* down: no ticks, datagrams to it are dropped */
    int64_t next_tick_ms;
    char name[GOSSIP_NAME_MAX];
    char addr[GOSSIP_ADDR_MAX];
    uint64_t incarnation;
} sim_node;

struct sim {
    int64_t now;
    int n;
    sim_node nodes[MAX_NODES];
    datagram *queue;
    size_t nqueue;
    size_t capqueue;
    uint64_t rng;
    double loss;      /* probability a datagram is lost */
    double duplicate; /* probability a datagram arrives twice */
    int64_t delay_min_ms;
    int64_t delay_max_ms;
    bool blocked[MAX_NODES][MAX_NODES];
    gossip_config base; /* timings for new nodes */
    /* What each node's changed callback reported: transitions into a state,
     * by observer and member. */
    int into[MAX_NODES][MAX_NODES][4];
    size_t sent;
    size_t largest;
    bool capture; /* keep a copy of the next datagram sent */
    uint8_t *captured;
    size_t captured_len;
    int capture_from;
};

static uint64_t sim_rand(sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double sim_uniform(sim *s)
{
    return (double)(sim_rand(s) >> 11) / 9007199254740992.0;
}

static int sim_node_of_addr(const sim *s, const char *addr)
{
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->nodes[i].addr, addr) == 0)
            return i;
    }
    return -1;
}

static int sim_node_of_name(const sim *s, const char *name)
{
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->nodes[i].name, name) == 0)
            return i;
    }
    return -1;
}

static void sim_enqueue(sim *s, int from, int to, const uint8_t *bytes,
                        size_t len)
{
    if (s->nqueue == s->capqueue) {
        s->capqueue = s->capqueue ? s->capqueue * 2 : 64;
        s->queue = realloc(s->queue, s->capqueue * sizeof *s->queue);
        assert_non_null(s->queue);
    }
    datagram *d = &s->queue[s->nqueue++];
    int64_t span = s->delay_max_ms - s->delay_min_ms + 1;
    d->due_ms = s->now + s->delay_min_ms + (int64_t)(sim_rand(s) % span);
    d->from = from;
    d->to = to;
    d->len = len;
    d->bytes = malloc(len);
    assert_non_null(d->bytes);
    memcpy(d->bytes, bytes, len);
}

static void sim_send(void *ctx, const char *addr, const uint8_t *bytes,
                     size_t len)
{
    sim_node *from = ctx;
    sim *s = from->s;
    s->sent++;
    if (len > s->largest)
        s->largest = len;
    assert_true(len <= GOSSIP_DATAGRAM_MAX);
    if (s->capture && from->index == s->capture_from) {
        s->capture = false;
        free(s->captured);
        s->captured = malloc(len);
        assert_non_null(s->captured);
        memcpy(s->captured, bytes, len);
        s->captured_len = len;
    }
    int to = sim_node_of_addr(s, addr);
    /* Nobody talks to itself (a ping-req helper is never self). */
    assert_int_not_equal(to, from->index);
    if (to < 0 || s->blocked[from->index][to] || sim_uniform(s) < s->loss)
        return;
    sim_enqueue(s, from->index, to, bytes, len);
    if (sim_uniform(s) < s->duplicate)
        sim_enqueue(s, from->index, to, bytes, len);
}

static void sim_changed(void *ctx, const gossip_member *m, gossip_state old)
{
    sim_node *node = ctx;
    sim *s = node->s;
    /* The member is what gossip_find says, self is never reported. */
    const gossip_member *found = gossip_find(node->g, m->name);
    assert_ptr_equal(found, m);
    assert_string_not_equal(m->name, node->name);
    assert_true(m->state <= GOSSIP_LEFT && old <= GOSSIP_LEFT);
    int who = sim_node_of_name(s, m->name);
    if (who >= 0 && m->state != old)
        s->into[node->index][who][m->state]++;
}

/* SCHED_TEST_SEED=k in the environment runs the simulations with other
 * random choices (the network's and the nodes'), to look for bad luck. */
static uint64_t seed_offset(void)
{
    const char *env = getenv("SCHED_TEST_SEED");
    return env != NULL ? strtoull(env, NULL, 10) * 1000003u : 0;
}

static void sim_init(sim *s, int n, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->rng = seed + seed_offset();
    s->delay_min_ms = 1;
    s->delay_max_ms = 10;
    s->base = (gossip_config){.period_ms = 200,
                              .ping_timeout_ms = 100,
                              .suspect_timeout_ms = 1000,
                              .indirect_probes = 3,
                              .sync_ms = 1000,
                              .forget_ms = 60000};
    for (int i = 0; i < n; i++) {
        sim_node *node = &s->nodes[i];
        node->s = s;
        node->index = i;
        snprintf(node->name, sizeof node->name, "node-%d", i);
        snprintf(node->addr, sizeof node->addr, "sim://10.0.0.%d:7501", i);
    }
}

/* Starts node i (anew: a restart when it ran before) with incarnation inc,
 * joining through seed (-1: none). */
static void sim_start(sim *s, int i, uint64_t inc, int seed)
{
    sim_node *node = &s->nodes[i];
    gossip_delete(node->g);
    gossip_config cfg = s->base;
    cfg.name = node->name;
    cfg.addr = node->addr;
    cfg.node_id = (uint16_t)(i + 1);
    cfg.incarnation = inc;
    cfg.seed = 1000 + (uint64_t)i * 7 + inc + seed_offset();
    cfg.send = sim_send;
    cfg.changed = sim_changed;
    cfg.ctx = node;
    node->incarnation = inc;
    assert_int_equal(gossip_new(&cfg, &node->g), SHOAL_OK);
    node->up = true;
    node->next_tick_ms = s->now;
    if (seed >= 0) {
        const char *seeds[] = {s->nodes[seed].addr};
        assert_int_equal(gossip_join(node->g, s->now, seeds, 1), SHOAL_OK);
    }
}

/* One step of STEP_MS: deliver what is due, tick who is due. */
static void sim_step(sim *s)
{
    s->now += STEP_MS;
    /* Delivery may queue more (acks); those are due later. */
    size_t n = s->nqueue;
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        datagram d = s->queue[i];
        if (d.due_ms > s->now) {
            s->queue[keep++] = d;
            continue;
        }
        sim_node *to = &s->nodes[d.to];
        if (to->up) {
            shoal_errinfo ei;
            shoal_err err = gossip_input(to->g, s->now, d.bytes, d.len, &ei);
            if (err != SHOAL_OK)
                fail_msg("node-%d rejected a datagram: %s", d.to, ei.msg);
        }
        free(d.bytes);
    }
    /* Move what was queued during delivery after the kept ones. */
    memmove(s->queue + keep, s->queue + n, (s->nqueue - n) * sizeof *s->queue);
    s->nqueue = keep + (s->nqueue - n);
    for (int i = 0; i < s->n; i++) {
        sim_node *node = &s->nodes[i];
        if (!node->up || s->now < node->next_tick_ms)
            continue;
        int64_t wait = gossip_tick(node->g, s->now);
        assert_true(wait >= 1 && wait <= s->base.period_ms);
        node->next_tick_ms = s->now + wait;
    }
}

static void sim_run(sim *s, int64_t ms)
{
    int64_t end = s->now + ms;
    while (s->now < end)
        sim_step(s);
}

static void sim_free(sim *s)
{
    for (int i = 0; i < s->n; i++)
        gossip_delete(s->nodes[i].g);
    for (size_t i = 0; i < s->nqueue; i++)
        free(s->queue[i].bytes);
    free(s->queue);
    free(s->captured);
}

static void sim_block(sim *s, int a, int b, bool blocked)
{
    s->blocked[a][b] = blocked;
    s->blocked[b][a] = blocked;
}

/* Node i holds member j in state st. */
static bool sees(const sim *s, int i, int j, gossip_state st)
{
    const gossip_member *m = gossip_find(s->nodes[i].g, s->nodes[j].name);
    return m != NULL && m->state == st;
}

/* Every up node sees every up node alive, and knows no other alive one. */
static bool converged(const sim *s)
{
    int up = 0;
    for (int j = 0; j < s->n; j++)
        up += s->nodes[j].up;
    for (int i = 0; i < s->n; i++) {
        if (!s->nodes[i].up)
            continue;
        int alive = 0;
        for (size_t k = 0; k < gossip_count(s->nodes[i].g); k++)
            alive += gossip_member_at(s->nodes[i].g, k)->state == GOSSIP_ALIVE;
        if (alive != up)
            return false;
        for (int j = 0; j < s->n; j++) {
            if (s->nodes[j].up && !sees(s, i, j, GOSSIP_ALIVE))
                return false;
        }
    }
    return true;
}

/* Runs until converged or limit ms pass; the time it took, or -1. */
static int64_t run_until_converged(sim *s, int64_t limit)
{
    int64_t start = s->now;
    while (s->now - start <= limit) {
        if (converged(s))
            return s->now - start;
        sim_step(s);
    }
    return -1;
}

/* Every up node but j sees j in state st. */
static bool all_see(const sim *s, int j, gossip_state st)
{
    for (int i = 0; i < s->n; i++) {
        if (i != j && s->nodes[i].up && !sees(s, i, j, st))
            return false;
    }
    return true;
}

static int64_t run_until_all_see(sim *s, int j, gossip_state st, int64_t limit)
{
    int64_t start = s->now;
    while (s->now - start <= limit) {
        if (all_see(s, j, st))
            return s->now - start;
        sim_step(s);
    }
    return -1;
}

/* n nodes, node 0 first, the others joining through it at once. */
static void start_cluster(sim *s, int n, uint64_t seed)
{
    sim_init(s, n, seed);
    sim_start(s, 0, 1, -1);
    for (int i = 1; i < n; i++)
        sim_start(s, i, 1, 0);
}

/* ---- the tests ---- */

static void five_nodes_converge(void **state)
{
    (void)state;
    sim s;
    start_cluster(&s, 5, 1);
    int64_t t = run_until_converged(&s, 3000);
    printf("5 nodes joining through one seed converged in %lld ms "
           "(bound 3000)\n",
           (long long)t);
    assert_true(t >= 0);
    /* And they stay so. */
    sim_run(&s, 5000);
    assert_true(converged(&s));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(gossip_count(s.nodes[i].g), 5);
        assert_string_equal(gossip_self(s.nodes[i].g)->name, s.nodes[i].name);
        assert_ptr_equal(gossip_member_at(s.nodes[i].g, 0),
                         gossip_self(s.nodes[i].g));
        assert_null(gossip_member_at(s.nodes[i].g, 5));
        const gossip_member *m = gossip_find(s.nodes[i].g, "node-3");
        assert_non_null(m);
        assert_int_equal(m->node_id, 4);
        assert_string_equal(m->addr, s.nodes[3].addr);
        assert_int_equal(s.into[i][3][GOSSIP_SUSPECT], 0);
    }
    sim_free(&s);
}

/* A node stops; the others declare it dead; it restarts and is back. */
static void dead_and_restart(void **state)
{
    (void)state;
    sim s;
    const int n = 5;
    start_cluster(&s, n, 2);
    assert_true(run_until_converged(&s, 3000) >= 0);
    sim_run(&s, 1000);

    s.nodes[4].up = false;
    int64_t bound = s.base.period_ms * n + s.base.ping_timeout_ms +
                    s.base.suspect_timeout_ms + 500;
    int64_t t = run_until_all_see(&s, 4, GOSSIP_DEAD, bound);
    printf("a stopped node was dead at all 4 others after %lld ms (bound "
           "period * n + ping timeout + suspect timeout + 500 = %lld)\n",
           (long long)t, (long long)bound);
    assert_true(t >= 0);
    for (int i = 0; i < 4; i++) {
        /* Through suspicion, at least at the node that probed it. */
        const gossip_member *m = gossip_find(s.nodes[i].g, "node-4");
        assert_int_equal(m->incarnation, 1);
        assert_int_equal(s.into[i][4][GOSSIP_DEAD], 1);
        assert_false(gossip_node_id_taken(s.nodes[i].g, 5, NULL));
        assert_true(gossip_node_id_taken(s.nodes[i].g, 1, NULL));
        assert_false(gossip_node_id_taken(s.nodes[i].g, 1, "node-0"));
    }
    /* The rest carry on. */
    assert_true(converged(&s));

    /* Restarted: same name and node id, a higher incarnation; it joins
     * through node 1 this time. */
    int alive_before[MAX_NODES];
    for (int i = 0; i < 4; i++)
        alive_before[i] = s.into[i][4][GOSSIP_ALIVE];
    sim_start(&s, 4, 5000, 1);
    t = run_until_converged(&s, 3000);
    printf("the restarted node was alive at all others after %lld ms\n",
           (long long)t);
    assert_true(t >= 0);
    for (int i = 0; i < 4; i++) {
        const gossip_member *m = gossip_find(s.nodes[i].g, "node-4");
        assert_int_equal(m->incarnation, 5000);
        assert_int_equal(s.into[i][4][GOSSIP_ALIVE], alive_before[i] + 1);
    }
    sim_free(&s);
}

/* A blocked link between two nodes is bridged by indirect probes; a short
 * partition's suspicion is refuted with a higher incarnation. */
static void false_suspicion(void **state)
{
    (void)state;
    sim s;
    start_cluster(&s, 4, 3);
    assert_true(run_until_converged(&s, 3000) >= 0);
    sim_run(&s, 1000);

    sim_block(&s, 0, 1, true);
    sim_run(&s, 10000);
    assert_true(converged(&s));
    assert_int_equal(s.into[0][1][GOSSIP_SUSPECT], 0);
    assert_int_equal(s.into[1][0][GOSSIP_SUSPECT], 0);
    sim_block(&s, 0, 1, false);

    /* Cut node 3 off until some node suspects it, then heal. */
    uint64_t before = gossip_self(s.nodes[3].g)->incarnation;
    for (int i = 0; i < 3; i++)
        sim_block(&s, 3, i, true);
    int64_t start = s.now;
    bool suspected = false;
    while (!suspected && s.now - start < 3000) {
        sim_step(&s);
        for (int i = 0; i < 3; i++)
            suspected |= sees(&s, i, 3, GOSSIP_SUSPECT);
    }
    assert_true(suspected);
    printf("node-3, cut off, was suspected after %lld ms\n",
           (long long)(s.now - start));
    sim_run(&s, 100);
    for (int i = 0; i < 3; i++)
        sim_block(&s, 3, i, false);
    int64_t t = run_until_converged(&s, 2000);
    printf("the suspicion was refuted %lld ms after the partition healed\n",
           (long long)t);
    assert_true(t >= 0);
    uint64_t after = gossip_self(s.nodes[3].g)->incarnation;
    assert_true(after > before);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gossip_find(s.nodes[i].g, "node-3")->incarnation,
                         after);
        assert_int_equal(s.into[i][3][GOSSIP_DEAD], 0);
    }
    sim_run(&s, 3000);
    assert_true(converged(&s));
    sim_free(&s);
}

/* Two halves that declared each other dead find each other again after the
 * partition heals, through the syncs with dead members. */
static void partition_heals(void **state)
{
    (void)state;
    sim s;
    start_cluster(&s, 4, 9);
    assert_true(run_until_converged(&s, 3000) >= 0);
    for (int a = 0; a < 2; a++) {
        for (int b = 2; b < 4; b++)
            sim_block(&s, a, b, true);
    }
    sim_run(&s, 4000);
    for (int a = 0; a < 2; a++) {
        for (int b = 2; b < 4; b++) {
            assert_true(sees(&s, a, b, GOSSIP_DEAD));
            assert_true(sees(&s, b, a, GOSSIP_DEAD));
        }
    }
    for (int a = 0; a < 2; a++) {
        for (int b = 2; b < 4; b++)
            sim_block(&s, a, b, false);
    }
    int64_t t = run_until_converged(&s, 5000);
    printf("two halves declared dead by each other were one cluster again "
           "%lld ms after the partition healed (bound 5000)\n",
           (long long)t);
    assert_true(t >= 0);
    sim_free(&s);
}

/* Outside news: a member declared dead by one node is dead at all within
 * a few periods; a live member wrongly declared dead or suspected refutes
 * it and is alive everywhere again. */
static void outside_news(void **state)
{
    (void)state;
    sim s;
    start_cluster(&s, 5, 11);
    assert_true(run_until_converged(&s, 3000) >= 0);
    sim_run(&s, 500);

    /* Node 3 really is gone; node 0 learns it from outside. */
    s.nodes[3].up = false;
    assert_int_equal(gossip_declare_dead(s.nodes[0].g, s.now, s.nodes[3].name),
                     SHOAL_OK);
    assert_true(sees(&s, 0, 3, GOSSIP_DEAD));
    int64_t t = run_until_all_see(&s, 3, GOSSIP_DEAD, 4 * s.base.period_ms);
    printf("a member declared dead by one node was dead at all after %lld "
           "ms\n",
           (long long)t);
    assert_true(t >= 0);

    /* Node 2 is alive: a false declaration and a false suspicion are
     * refuted. */
    uint64_t inc = gossip_self(s.nodes[2].g)->incarnation;
    assert_int_equal(gossip_declare_dead(s.nodes[1].g, s.now, s.nodes[2].name),
                     SHOAL_OK);
    t = run_until_all_see(&s, 2, GOSSIP_ALIVE, 3000);
    assert_true(t >= 0);
    assert_true(gossip_self(s.nodes[2].g)->incarnation > inc);
    assert_int_equal(gossip_suspect(s.nodes[4].g, s.now, s.nodes[2].name),
                     SHOAL_OK);
    assert_true(sees(&s, 4, 2, GOSSIP_SUSPECT));
    t = run_until_all_see(&s, 2, GOSSIP_ALIVE, 3000);
    assert_true(t >= 0);
    sim_run(&s, 3000);
    assert_true(all_see(&s, 2, GOSSIP_ALIVE));

    /* Unknown names and self are refused; a dead one stays as it is. */
    assert_int_equal(gossip_suspect(s.nodes[0].g, s.now, "nobody"),
                     SHOAL_ENOTFOUND);
    assert_int_equal(gossip_declare_dead(s.nodes[0].g, s.now, s.nodes[0].name),
                     SHOAL_ENOTFOUND);
    assert_int_equal(gossip_suspect(s.nodes[0].g, s.now, s.nodes[3].name),
                     SHOAL_OK);
    assert_true(sees(&s, 0, 3, GOSSIP_DEAD));
    sim_free(&s);
}

static void graceful_leave(void **state)
{
    (void)state;
    sim s;
    start_cluster(&s, 5, 4);
    assert_true(run_until_converged(&s, 3000) >= 0);
    sim_run(&s, 500);

    uint64_t inc = gossip_self(s.nodes[2].g)->incarnation;
    gossip_leave(s.nodes[2].g, s.now);
    gossip_leave(s.nodes[2].g, s.now); /* again: nothing */
    assert_int_equal(gossip_self(s.nodes[2].g)->state, GOSSIP_LEFT);
    assert_int_equal(gossip_self(s.nodes[2].g)->incarnation, inc + 1);
    const char *seed = s.nodes[0].addr;
    assert_int_equal(gossip_join(s.nodes[2].g, s.now, &seed, 1), SHOAL_ESTATE);
    int64_t t = run_until_all_see(&s, 2, GOSSIP_LEFT, 2 * s.base.period_ms);
    printf("a node that left was LEFT at all others after %lld ms (bound "
           "%lld)\n",
           (long long)t, (long long)(2 * s.base.period_ms));
    assert_true(t >= 0);
    /* It still answers but stays left; nobody suspects it afterwards. */
    sim_run(&s, 5000);
    assert_true(all_see(&s, 2, GOSSIP_LEFT));
    assert_int_equal(gossip_self(s.nodes[2].g)->state, GOSSIP_LEFT);
    for (int i = 0; i < 5; i++) {
        if (i != 2) {
            assert_int_equal(s.into[i][2][GOSSIP_SUSPECT], 0);
            assert_int_equal(s.into[i][2][GOSSIP_DEAD], 0);
        }
    }
    sim_free(&s);
}

static bool all_have_meta(const sim *s, int j, const char *meta,
                          uint64_t version)
{
    for (int i = 0; i < s->n; i++) {
        if (i == j || !s->nodes[i].up)
            continue;
        const gossip_member *m = gossip_find(s->nodes[i].g, s->nodes[j].name);
        if (m == NULL || m->meta_version != version ||
            m->meta_len != strlen(meta) ||
            (m->meta_len > 0 && memcmp(m->meta, meta, m->meta_len) != 0))
            return false;
    }
    return true;
}

static int64_t run_until_meta(sim *s, int j, const char *meta, uint64_t version,
                              int64_t limit)
{
    int64_t start = s->now;
    while (s->now - start <= limit) {
        if (all_have_meta(s, j, meta, version))
            return s->now - start;
        sim_step(s);
    }
    return -1;
}

static void meta_dissemination(void **state)
{
    (void)state;
    sim s;
    start_cluster(&s, 5, 5);
    assert_true(run_until_converged(&s, 3000) >= 0);

    gossip *g3 = s.nodes[3].g;
    uint64_t v = gossip_self(g3)->meta_version;
    assert_int_equal(v, 1); /* the starting incarnation */
    assert_int_equal(gossip_set_meta(g3, (const uint8_t *)"cpu=4", 5),
                     SHOAL_OK);
    assert_int_equal(gossip_self(g3)->meta_version, v + 1);
    int64_t t = run_until_meta(&s, 3, "cpu=4", v + 1, 1000);
    printf("meta reached all nodes in %lld ms (bound 1000)\n", (long long)t);
    assert_true(t >= 0);

    /* Capture a datagram carrying version v + 2, then set v + 3. */
    s.capture = true;
    s.capture_from = 3;
    assert_int_equal(gossip_set_meta(g3, (const uint8_t *)"cpu=4 load=1", 12),
                     SHOAL_OK);
    int64_t start = s.now;
    while (s.capture && s.now - start < 1000)
        sim_step(&s);
    assert_false(s.capture);
    assert_int_equal(gossip_set_meta(g3, (const uint8_t *)"cpu=4 load=2", 12),
                     SHOAL_OK);
    t = run_until_meta(&s, 3, "cpu=4 load=2", v + 3, 1000);
    assert_true(t >= 0);
    /* A late datagram from before: the newer version stays. The captured
     * one may be a sync carrying several records; all are older or equal. */
    assert_non_null(s.captured);
    assert_int_equal(
        gossip_input(s.nodes[0].g, s.now, s.captured, s.captured_len, NULL),
        SHOAL_OK);
    assert_true(all_have_meta(&s, 3, "cpu=4 load=2", v + 3));

    /* Big metas: every node's near the limit, so syncs take several
     * datagrams; all arrive, and no datagram is over the limits. */
    static uint8_t big[GOSSIP_META_MAX];
    for (int i = 0; i < 5; i++) {
        memset(big, 'a' + i, sizeof big);
        assert_int_equal(gossip_set_meta(s.nodes[i].g, big, sizeof big),
                         SHOAL_OK);
    }
    assert_int_equal(gossip_set_meta(g3, big, GOSSIP_META_MAX + 1),
                     SHOAL_EINVAL);
    assert_int_equal(gossip_set_meta(g3, NULL, 1), SHOAL_EINVAL);
    s.largest = 0;
    start = s.now;
    bool done = false;
    while (!done && s.now - start < 5000) {
        sim_step(&s);
        done = true;
        for (int i = 0; i < 5 && done; i++) {
            for (int j = 0; j < 5 && done; j++) {
                const gossip_member *m =
                    gossip_find(s.nodes[i].g, s.nodes[j].name);
                done =
                    m->meta_len == GOSSIP_META_MAX && m->meta[100] == 'a' + j;
            }
        }
    }
    printf("five 64 KiB metas reached all nodes in %lld ms; largest "
           "datagram %zu bytes\n",
           (long long)(s.now - start), s.largest);
    assert_true(done);
    assert_true(s.largest < GOSSIP_META_MAX + 2048);
    /* Clearing it. */
    assert_int_equal(gossip_set_meta(g3, NULL, 0), SHOAL_OK);
    assert_null(gossip_self(g3)->meta);
    t = run_until_meta(&s, 3, "", gossip_self(g3)->meta_version, 2000);
    assert_true(t >= 0);
    sim_free(&s);
}

static void twenty_nodes_with_loss(void **state)
{
    (void)state;
    sim s;
    const int n = 20;
    start_cluster(&s, n, 6);
    int64_t t = run_until_converged(&s, 10000);
    printf("20 nodes joining through one seed converged in %lld ms (bound "
           "10000)\n",
           (long long)t);
    assert_true(t >= 0);

    s.loss = 0.10;
    s.duplicate = 0.02;
    size_t sent = s.sent;
    sim_run(&s, 30000);
    int suspicions = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            suspicions += s.into[i][j][GOSSIP_SUSPECT];
            assert_int_equal(s.into[i][j][GOSSIP_DEAD], 0);
        }
    }
    printf("30 s of 10%% loss among 20 nodes: %d suspicions (all refuted), "
           "no node declared dead, %.1f datagrams per node per second\n",
           suspicions, (double)(s.sent - sent) / n / 30.0);
    s.loss = 0;
    s.duplicate = 0;
    assert_true(run_until_converged(&s, 3000) >= 0);
    sim_free(&s);
}

static void tombstones_forgotten(void **state)
{
    (void)state;
    sim s;
    sim_init(&s, 3, 7);
    s.base.forget_ms = 3000;
    sim_start(&s, 0, 1, -1);
    sim_start(&s, 1, 1, 0);
    sim_start(&s, 2, 1, 0);
    assert_true(run_until_converged(&s, 3000) >= 0);

    s.nodes[2].up = false;
    assert_true(run_until_all_see(&s, 2, GOSSIP_DEAD, 3000) >= 0);
    int64_t dead_at = s.now;
    int64_t start = s.now;
    while (s.now - start < 5000 &&
           (gossip_find(s.nodes[0].g, "node-2") != NULL ||
            gossip_find(s.nodes[1].g, "node-2") != NULL))
        sim_step(&s);
    printf("the tombstone was dropped %lld ms after death (forget_ms 3000)\n",
           (long long)(s.now - dead_at));
    assert_null(gossip_find(s.nodes[0].g, "node-2"));
    assert_null(gossip_find(s.nodes[1].g, "node-2"));
    assert_true(s.now - dead_at >= 2000);
    /* And it stays forgotten: the survivors pass no tombstone around. */
    sim_run(&s, 5000);
    assert_int_equal(gossip_count(s.nodes[0].g), 2);
    assert_int_equal(gossip_count(s.nodes[1].g), 2);
    sim_free(&s);
}

/* ---- malformed input ---- */

/* The members of a gossip, their meta as a hash. */
typedef struct snapshot {
    size_t n;
    gossip_member m[32];
    uint64_t meta_hash[32];
} snapshot;

static void take_snapshot(const gossip *g, snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    snap->n = gossip_count(g);
    assert_true(snap->n <= 32);
    for (size_t i = 0; i < snap->n; i++) {
        const gossip_member *m = gossip_member_at(g, i);
        memcpy(&snap->m[i], m, sizeof *m);
        snap->m[i].meta = NULL;
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t k = 0; k < m->meta_len; k++)
            h = (h ^ m->meta[k]) * 0x100000001b3ull;
        snap->meta_hash[i] = h;
    }
}

static void assert_same(const gossip *g, const snapshot *snap)
{
    snapshot now;
    take_snapshot(g, &now);
    assert_memory_equal(&now, snap, sizeof now);
}

typedef struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packed;

static void packed_init(packed *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* What a crafted datagram looks like, field by field; NULL or -1 leave a
 * field out. */
typedef struct craft {
    int64_t version, type, node_id, state, record_id;
    const char *name, *addr, *record_name, *extra_key;
    size_t name_len; /* 0: strlen */
    size_t meta_len;
    bool repeat_key;
    bool seq_as_str;
    uint32_t claimed_records; /* 0: the real count, 1 */
} craft;

static craft craft_ok(void)
{
    return (craft){.version = 1,
                   .type = 4,
                   .node_id = 9,
                   .state = 1,
                   .record_id = 7,
                   .name = "mallory",
                   .addr = "sim://evil",
                   .record_name = "node-1"};
}

static void craft_pack(const craft *c, packed *p)
{
    packed_init(p);
    msgpack_packer *pk = &p->pk;
    int keys = 4 + (c->version >= 0) + (c->type >= 0) + (c->name != NULL) +
               (c->addr != NULL) + (c->node_id >= 0) + (c->extra_key != NULL) +
               c->repeat_key;
    msgpack_pack_map(pk, (size_t)keys);
    if (c->version >= 0) {
        pack_str(pk, "v");
        msgpack_pack_uint64(pk, (uint64_t)c->version);
    }
    if (c->type >= 0) {
        pack_str(pk, "t");
        msgpack_pack_uint64(pk, (uint64_t)c->type);
    }
    if (c->name != NULL) {
        pack_str(pk, "n");
        size_t len = c->name_len ? c->name_len : strlen(c->name);
        msgpack_pack_str(pk, len);
        msgpack_pack_str_body(pk, c->name, len);
    }
    if (c->addr != NULL) {
        pack_str(pk, "a");
        pack_str(pk, c->addr);
    }
    if (c->node_id >= 0) {
        pack_str(pk, "id");
        msgpack_pack_uint64(pk, (uint64_t)c->node_id);
    }
    pack_str(pk, "i");
    msgpack_pack_uint64(pk, 3);
    pack_str(pk, "r");
    msgpack_pack_false(pk);
    pack_str(pk, "seq");
    if (c->seq_as_str)
        pack_str(pk, "12");
    else
        msgpack_pack_uint64(pk, 12);
    if (c->extra_key != NULL) {
        pack_str(pk, c->extra_key);
        msgpack_pack_nil(pk);
    }
    if (c->repeat_key) {
        pack_str(pk, "i");
        msgpack_pack_uint64(pk, 4);
    }
    pack_str(pk, "u");
    msgpack_pack_array(pk, c->claimed_records ? c->claimed_records : 1);
    msgpack_pack_map(pk, 7);
    pack_str(pk, "n");
    pack_str(pk, c->record_name);
    pack_str(pk, "a");
    pack_str(pk, "sim://elsewhere");
    pack_str(pk, "id");
    msgpack_pack_uint64(pk, (uint64_t)c->record_id);
    pack_str(pk, "s");
    msgpack_pack_uint64(pk, (uint64_t)c->state);
    pack_str(pk, "i");
    msgpack_pack_uint64(pk, 1000);
    pack_str(pk, "mv");
    msgpack_pack_uint64(pk, 99);
    pack_str(pk, "m");
    msgpack_pack_bin(pk, c->meta_len);
    static const uint8_t zeros[GOSSIP_META_MAX + 1];
    msgpack_pack_bin_body(pk, zeros, c->meta_len);
}

/* The crafted datagram is refused, with a reason naming want and an
 * offset inside it, and g is as before. */
static void expect_refused(gossip *g, const craft *c, const char *want)
{
    packed p;
    craft_pack(c, &p);
    snapshot before;
    take_snapshot(g, &before);
    shoal_errinfo ei = {.offset = 12345678};
    shoal_err err =
        gossip_input(g, 100, (const uint8_t *)p.sb.data, p.sb.size, &ei);
    if (err != SHOAL_EMALFORMED || strstr(ei.msg, want) == NULL)
        fail_msg("expected EMALFORMED naming \"%s\", got %s: %s", want,
                 shoal_err_name(err), ei.msg);
    assert_true(ei.offset <= p.sb.size);
    assert_same(g, &before);
    msgpack_sbuffer_destroy(&p.sb);
}

static void noop_send(void *ctx, const char *addr, const uint8_t *bytes,
                      size_t len)
{
    (void)addr;
    sim *s = ctx;
    if (s != NULL && s->capture) {
        s->capture = false;
        free(s->captured);
        s->captured = malloc(len);
        assert_non_null(s->captured);
        memcpy(s->captured, bytes, len);
        s->captured_len = len;
    }
}

static gossip *lone_gossip(const char *name, sim *capture)
{
    gossip_config cfg = {.name = name,
                         .addr = "sim://lone",
                         .node_id = 2,
                         .incarnation = 5,
                         .seed = 42,
                         .send = noop_send,
                         .ctx = capture};
    gossip *g;
    assert_int_equal(gossip_new(&cfg, &g), SHOAL_OK);
    return g;
}

static void malformed(void **state)
{
    (void)state;
    gossip *g = lone_gossip("node-0", NULL);
    /* A valid crafted datagram is taken: the sender and node-1 appear. */
    craft c = craft_ok();
    packed p;
    craft_pack(&c, &p);
    shoal_errinfo ei;
    assert_int_equal(
        gossip_input(g, 100, (const uint8_t *)p.sb.data, p.sb.size, &ei),
        SHOAL_OK);
    msgpack_sbuffer_destroy(&p.sb);
    assert_int_equal(gossip_count(g), 3);
    assert_int_equal(gossip_find(g, "node-1")->state, GOSSIP_SUSPECT);
    assert_int_equal(gossip_find(g, "node-1")->meta_version, 99);
    assert_int_equal(gossip_find(g, "mallory")->node_id, 9);

    c = craft_ok();
    c.version = 2;
    expect_refused(g, &c, "version");
    c = craft_ok();
    c.version = -1;
    expect_refused(g, &c, "\"v\" (version): missing");
    c = craft_ok();
    c.type = 0;
    expect_refused(g, &c, "type");
    c = craft_ok();
    c.type = 5;
    expect_refused(g, &c, "type");
    c = craft_ok();
    c.name = "0123456789012345678901234567890123456789012345678901234567890123";
    expect_refused(g, &c, "name");
    c = craft_ok();
    c.name = "";
    c.name_len = 0;
    expect_refused(g, &c, "name");
    c = craft_ok();
    c.name = "nul\0inside";
    c.name_len = 10;
    expect_refused(g, &c, "NUL");
    c = craft_ok();
    c.addr = NULL;
    expect_refused(g, &c, "address");
    c = craft_ok();
    c.node_id = 0;
    expect_refused(g, &c, "node id");
    c = craft_ok();
    c.node_id = 0x8000;
    expect_refused(g, &c, "node id");
    c = craft_ok();
    c.state = 4;
    expect_refused(g, &c, "u[0] \"s\" (state)");
    c = craft_ok();
    c.record_id = 0;
    expect_refused(g, &c, "u[0] \"id\"");
    c = craft_ok();
    c.meta_len = GOSSIP_META_MAX + 1;
    expect_refused(g, &c, "meta");
    c = craft_ok();
    c.extra_key = "zz";
    expect_refused(g, &c, "unknown key");
    c = craft_ok();
    c.repeat_key = true;
    expect_refused(g, &c, "repeated");
    c = craft_ok();
    c.seq_as_str = true;
    expect_refused(g, &c, "seq");
    c = craft_ok();
    c.claimed_records = 2;
    expect_refused(g, &c, "u[1]");
    c = craft_ok();
    c.claimed_records = 0xffffffffu;
    expect_refused(g, &c, "records");
    /* A record about a new member refused as a whole: nothing is added even
     * though the head was fine. */
    c = craft_ok();
    c.name = "newcomer";
    c.state = 9;
    expect_refused(g, &c, "state");
    assert_null(gossip_find(g, "newcomer"));

    snapshot before;
    take_snapshot(g, &before);
    static const uint8_t not_a_map[] = {0x93, 1, 2, 3};
    static const uint8_t huge_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t nil[] = {0xc0};
    static const uint8_t trailing[] = {0x80, 0x00};
    assert_int_equal(gossip_input(g, 100, not_a_map, sizeof not_a_map, &ei),
                     SHOAL_EMALFORMED);
    assert_int_equal(gossip_input(g, 100, huge_map, sizeof huge_map, &ei),
                     SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "elements"));
    assert_int_equal(gossip_input(g, 100, nil, sizeof nil, &ei),
                     SHOAL_EMALFORMED);
    assert_int_equal(gossip_input(g, 100, trailing, sizeof trailing, &ei),
                     SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "trailing"));
    assert_int_equal(gossip_input(g, 100, nil, 0, &ei), SHOAL_EMALFORMED);
    assert_int_equal(gossip_input(g, 100, NULL, 0, NULL), SHOAL_EMALFORMED);
    assert_int_equal(gossip_input(g, 100, NULL, 3, NULL), SHOAL_EINVAL);
    uint8_t *over = calloc(1, GOSSIP_DATAGRAM_MAX + 1);
    assert_non_null(over);
    assert_int_equal(gossip_input(g, 100, over, GOSSIP_DATAGRAM_MAX + 1, &ei),
                     SHOAL_EMALFORMED);
    free(over);
    assert_same(g, &before);
    gossip_delete(g);
}

/* Every truncation and thousands of random mutations of real datagrams:
 * refused or taken, never a crash (ASan watches), and a refused one
 * changes nothing. */
static void mutations(void **state)
{
    (void)state;
    /* Real datagrams: a sync from a node that knows three members with
     * meta, and a ping-req. */
    sim s;
    sim_init(&s, 1, 8);
    gossip *src = lone_gossip("node-9", &s);
    craft c = craft_ok();
    packed p;
    craft_pack(&c, &p);
    assert_int_equal(
        gossip_input(src, 10, (const uint8_t *)p.sb.data, p.sb.size, NULL),
        SHOAL_OK);
    msgpack_sbuffer_destroy(&p.sb);
    assert_int_equal(gossip_set_meta(src, (const uint8_t *)"meta!", 5),
                     SHOAL_OK);
    s.capture = true;
    const char *seed = "sim://seed";
    assert_int_equal(gossip_join(src, 20, &seed, 1), SHOAL_OK);
    assert_non_null(s.captured);
    uint8_t *sync = s.captured;
    size_t sync_len = s.captured_len;
    s.captured = NULL;

    gossip *g = lone_gossip("node-0", NULL);
    assert_int_equal(gossip_input(g, 30, sync, sync_len, NULL), SHOAL_OK);
    assert_int_equal(gossip_count(g), 4);

    /* Every truncation is refused. */
    snapshot before;
    take_snapshot(g, &before);
    for (size_t len = 0; len < sync_len; len++) {
        shoal_errinfo ei;
        assert_int_equal(gossip_input(g, 40, sync, len, &ei), SHOAL_EMALFORMED);
        assert_true(ei.offset <= len);
    }
    assert_same(g, &before);

    uint64_t rng = 12345;
    uint8_t *buf = malloc(sync_len + 256);
    assert_non_null(buf);
    int refused = 0, taken = 0;
    for (int round = 0; round < 5000; round++) {
        size_t len = sync_len;
        memcpy(buf, sync, len);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int edits = 1 + (int)((rng >> 60) & 3);
        for (int e = 0; e < edits; e++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % len;
            switch ((rng >> 20) % 4) {
            case 0: /* a random byte */
                buf[at] = (uint8_t)(rng >> 8);
                break;
            case 1: /* a flipped bit */
                buf[at] ^= (uint8_t)(1u << ((rng >> 12) & 7));
                break;
            case 2: /* a byte removed */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default: /* a byte inserted */
                if (len < sync_len + 16) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = (uint8_t)(rng >> 40);
                    len++;
                }
                break;
            }
        }
        take_snapshot(g, &before);
        shoal_errinfo ei;
        shoal_err err = gossip_input(g, 50 + round, buf, len, &ei);
        if (err == SHOAL_EMALFORMED) {
            refused++;
            assert_true(ei.offset <= len);
            assert_true(ei.msg[0] != 0);
            assert_same(g, &before);
        } else {
            assert_int_equal(err, SHOAL_OK);
            taken++;
        }
        /* Forget what a taken mutation added, now and then, so the
         * snapshot stays small. */
        if (gossip_count(g) > 16) {
            gossip_delete(g);
            g = lone_gossip("node-0", NULL);
        }
    }
    printf("5000 mutated datagrams: %d refused, %d taken\n", refused, taken);
    assert_true(refused > 4000);

    /* Random bytes. */
    for (int round = 0; round < 2000; round++) {
        size_t len = 1 + (size_t)round % (sync_len + 256);
        for (size_t i = 0; i < len; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(rng >> 56);
        }
        take_snapshot(g, &before);
        if (gossip_input(g, 10000, buf, len, NULL) != SHOAL_OK)
            assert_same(g, &before);
    }
    free(buf);
    free(sync);
    gossip_delete(g);
    gossip_delete(src);
    sim_free(&s);
}

/* Every allocation of gossip_new, gossip_input (new members, meta),
 * gossip_set_meta, gossip_join and gossip_tick (datagrams) fails in turn:
 * SHOAL_ENOMEM or a lost datagram, nothing half-done, nothing leaked. */
static void out_of_memory(void **state)
{
    (void)state;
    /* A sync from a node knowing three members with meta. */
    sim s;
    sim_init(&s, 1, 10);
    gossip *src = lone_gossip("node-9", &s);
    craft c = craft_ok();
    packed p;
    craft_pack(&c, &p);
    assert_int_equal(
        gossip_input(src, 10, (const uint8_t *)p.sb.data, p.sb.size, NULL),
        SHOAL_OK);
    msgpack_sbuffer_destroy(&p.sb);
    assert_int_equal(gossip_set_meta(src, (const uint8_t *)"meta!", 5),
                     SHOAL_OK);
    s.capture = true;
    const char *seed = "sim://seed";
    assert_int_equal(gossip_join(src, 20, &seed, 1), SHOAL_OK);
    assert_non_null(s.captured);

    gossip_config cfg = {.name = "node-0",
                         .addr = "sim://lone",
                         .node_id = 2,
                         .seed = 42,
                         .send = noop_send};
    const char *seeds[] = {"sim://a", "sim://b"};
    packed more[8];
    char names[8][16];
    for (int k = 0; k < 8; k++) {
        snprintf(names[k], sizeof names[k], "sender-%d", k);
        c = craft_ok();
        c.name = names[k];
        craft_pack(&c, &more[k]);
    }
    unsigned fail_at;
    for (fail_at = 1; fail_at < 1000; fail_at++) {
        alloc_watch(fail_at);
        gossip *g = NULL;
        shoal_err err = gossip_new(&cfg, &g);
        if (err == SHOAL_OK) {
            err = gossip_input(g, 30, s.captured, s.captured_len, NULL);
            assert_true(err == SHOAL_OK || err == SHOAL_ENOMEM);
            if (err == SHOAL_OK)
                assert_int_equal(gossip_count(g), 4);
            /* More senders than the first arrays hold. */
            for (int k = 0; k < 8; k++) {
                size_t before = gossip_count(g);
                err = gossip_input(g, 35, (const uint8_t *)more[k].sb.data,
                                   more[k].sb.size, NULL);
                assert_true(err == SHOAL_OK || err == SHOAL_ENOMEM);
                assert_true(gossip_count(g) <= before + 2);
            }
            err = gossip_set_meta(g, (const uint8_t *)"mine", 4);
            assert_true(err == SHOAL_OK || err == SHOAL_ENOMEM);
            assert_int_equal(gossip_self(g)->meta_len, err ? 0 : 4);
            assert_int_equal(gossip_self(g)->meta_version, err ? 0 : 1);
            err = gossip_join(g, 40, seeds, 2);
            assert_true(err == SHOAL_OK || err == SHOAL_ENOMEM);
            gossip_tick(g, 50);
            gossip_tick(g, 400);
            gossip_delete(g);
        } else {
            assert_int_equal(err, SHOAL_ENOMEM);
            assert_null(g);
        }
        unsigned count = alloc.count;
        alloc_unwatch();
        assert_int_equal(alloc.live, 0);
        if (fail_at > count)
            break;
    }
    printf("gossip survived each of its %u allocations failing\n", fail_at - 1);
    assert_true(fail_at < 1000);
    for (int k = 0; k < 8; k++)
        msgpack_sbuffer_destroy(&more[k].sb);
    gossip_delete(src);
    sim_free(&s);
}

static void api_errors(void **state)
{
    (void)state;
    gossip_config ok = {
        .name = "a", .addr = "x", .node_id = 1, .send = noop_send};
    gossip *g = NULL;
    gossip_config c = ok;
    assert_int_equal(gossip_new(NULL, &g), SHOAL_EINVAL);
    assert_int_equal(gossip_new(&c, NULL), SHOAL_EINVAL);
    c.send = NULL;
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c = ok;
    c.name = "";
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c.name = "0123456789012345678901234567890123456789012345678901234567890123";
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c = ok;
    c.addr = NULL;
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c = ok;
    c.node_id = 0;
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c.node_id = 0x8000;
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c = ok;
    c.ping_timeout_ms = 300; /* not shorter than the default period */
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c = ok;
    c.indirect_probes = GOSSIP_INDIRECT_MAX + 1;
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    c = ok;
    c.suspect_timeout_ms = -1;
    assert_int_equal(gossip_new(&c, &g), SHOAL_EINVAL);
    assert_null(g);

    assert_int_equal(gossip_new(&ok, &g), SHOAL_OK);
    assert_string_equal(gossip_state_name(GOSSIP_ALIVE), "alive");
    assert_string_equal(gossip_state_name(GOSSIP_SUSPECT), "suspect");
    assert_string_equal(gossip_state_name(GOSSIP_DEAD), "dead");
    assert_string_equal(gossip_state_name(GOSSIP_LEFT), "left");
    assert_string_equal(gossip_state_name((gossip_state)7), "unknown");
    assert_int_equal(gossip_join(g, 0, NULL, 1), SHOAL_EINVAL);
    const char *bad[] = {""};
    assert_int_equal(gossip_join(g, 0, bad, 1), SHOAL_EINVAL);
    /* Its own address among the seeds is skipped. */
    const char *seeds[] = {"x", "y"};
    assert_int_equal(gossip_join(g, 0, seeds, 2), SHOAL_OK);
    assert_int_equal(gossip_join(g, 0, NULL, 0), SHOAL_OK);
    /* Alone, it wants a tick within a period. */
    int64_t wait = gossip_tick(g, 10);
    assert_true(wait >= 1 && wait <= 200);
    /* Time going backwards is taken as the latest time. */
    wait = gossip_tick(g, 5);
    assert_true(wait >= 1 && wait <= 200);
    assert_null(gossip_find(g, "nobody"));
    assert_null(gossip_find(g, NULL));
    assert_int_equal(gossip_count(g), 1);
    assert_true(gossip_node_id_taken(g, 1, NULL));
    assert_false(gossip_node_id_taken(g, 1, "a"));
    gossip_delete(g);
    gossip_delete(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(five_nodes_converge),
        cmocka_unit_test(dead_and_restart),
        cmocka_unit_test(false_suspicion),
        cmocka_unit_test(partition_heals),
        cmocka_unit_test(graceful_leave),
        cmocka_unit_test(outside_news),
        cmocka_unit_test(meta_dissemination),
        cmocka_unit_test(twenty_nodes_with_loss),
        cmocka_unit_test(tombstones_forgotten),
        cmocka_unit_test(malformed),
        cmocka_unit_test(mutations),
        cmocka_unit_test(out_of_memory),
        cmocka_unit_test(api_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
