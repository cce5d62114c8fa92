/* A fuzz target for the cluster's gossip (scheduler/), which reads
 * datagrams from the network: each input is a series of datagrams, each a
 * 2-byte big-endian length and that many bytes, fed to one gossip with
 * time moving on between them (by the first byte of each), and a tick
 * after each, so that what a datagram did also runs through the timers
 * (probes, suspicion, forgetting).
 *
 * Checks, besides the sanitizers': the gossip keeps itself as member 0,
 * alive, under its own name; every member's name and address are
 * NUL-terminated and not empty, its state is one of the four, its meta at
 * most GOSSIP_META_MAX; the count stays within what the datagrams could
 * have brought; gossip_delete frees everything.
 *
 * Seeds: with the environment variable FUZZ_GOSSIP_SEEDS=DIR, the target
 * first writes into DIR the datagrams two gossips exchange while they
 * meet, suspect and refute (each as one input), and exits; run-gossip.sh
 * does that. Built with -fsanitize=fuzzer by run-gossip.sh; the meson test
 * fuzz-gossip-regressions replays tests/scheduler/regressions through this
 * same function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void fuzz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_gossip: check failed: %s\n", what);
        abort();
    }
}

static void drop(void *ctx, const char *addr, const uint8_t *bytes,
                 size_t len)
{
    (void)ctx;
    (void)addr;
    (void)bytes;
    (void)len;
}

static bool cstr_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n > 0 && n < cap;
}

static void check(const gossip *g, size_t datagrams)
{
    size_t count = gossip_count(g);
    fuzz_check(count >= 1, "self is a member");
    fuzz_check(count <= 2 + datagrams * 1024, "members within bound");
    const gossip_member *self = gossip_member_at(g, 0);
    fuzz_check(self == gossip_self(g), "self is member 0");
    fuzz_check(strcmp(self->name, "fz") == 0, "self keeps its name");
    fuzz_check(self->state == GOSSIP_ALIVE, "self stays alive");
    for (size_t i = 0; i < count; i++) {
        const gossip_member *m = gossip_member_at(g, i);
        fuzz_check(cstr_ok(m->name, sizeof m->name), "member name");
        fuzz_check(cstr_ok(m->addr, sizeof m->addr), "member address");
        fuzz_check(m->state <= GOSSIP_LEFT, "member state");
        fuzz_check(m->meta_len <= GOSSIP_META_MAX, "member meta size");
        fuzz_check((m->meta == NULL) == (m->meta_len == 0), "member meta");
        fuzz_check(m->node_id >= 1 && m->node_id <= GOSSIP_NODE_ID_MAX,
                   "member node id");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gossip_config cfg = {.name = "fz",
                         .addr = "tcp://fz:1",
                         .node_id = 7,
                         .incarnation = 5,
                         .seed = 1,
                         .send = drop};
    gossip *g;
    if (gossip_new(&cfg, &g) != SHOAL_OK)
        return 0;
    static const char *const seeds[] = {"tcp://seed:1"};
    int64_t now = 1000;
    gossip_join(g, now, seeds, 1);
    static const uint8_t meta[] = {0x81, 0xa1, 'k', 0x01};
    gossip_set_meta(g, meta, sizeof meta);
    size_t at = 0, datagrams = 0;
    while (size - at >= 3) {
        now += data[at] * 7; /* up to 1.8 s between datagrams */
        size_t len = (size_t)data[at + 1] << 8 | data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        shoal_errinfo ei;
        gossip_input(g, now, data + at, len, &ei);
        gossip_tick(g, now);
        datagrams++;
        at += len;
        check(g, datagrams);
    }
    /* Long enough for every suspicion to end and tombstones to go. */
    for (int i = 0; i < 70; i++) {
        now += 1000;
        gossip_tick(g, now);
    }
    check(g, datagrams);
    gossip_delete(g);
    return 0;
}

/* ---- seeds ---- */

typedef struct capture {
    const char *dir;
    unsigned n;
    gossip *fz;        /* hears every datagram of the peer at once */
    int64_t now;
    uint8_t *back[64]; /* fz's datagrams, for the peer after its call */
    size_t backlen[64];
    size_t nback;
} capture;

/* The peer's datagrams: saved as seeds (in the input format) and handed
 * to fz. */
static void keep(void *ctx, const char *addr, const uint8_t *bytes,
                 size_t len)
{
    capture *c = ctx;
    char path[512];
    snprintf(path, sizeof path, "%s/seed-%03u", c->dir, c->n++);
    FILE *f = fopen(path, "wb");
    if (f) {
        uint8_t head[3] = {10, (uint8_t)(len >> 8), (uint8_t)len};
        fwrite(head, 1, 3, f);
        fwrite(bytes, 1, len, f);
        fclose(f);
    }
    (void)addr;
    gossip_input(c->fz, c->now, bytes, len, NULL);
}

/* fz's datagrams wait until the peer's call returns. */
static void queue_back(void *ctx, const char *addr, const uint8_t *bytes,
                       size_t len)
{
    capture *c = ctx;
    (void)addr;
    if (c->nback < 64 && (c->back[c->nback] = malloc(len)) != NULL) {
        memcpy(c->back[c->nback], bytes, len);
        c->backlen[c->nback++] = len;
    }
}

/* Two gossips meet, ping, ack, sync and part; the peer's datagrams are
 * what the target's gossip would hear. */
static void write_seeds(const char *dir)
{
    capture c = {.dir = dir, .now = 1000};
    gossip_config a = {.name = "peer",
                       .addr = "tcp://peer:1",
                       .node_id = 9,
                       .incarnation = 3,
                       .seed = 2,
                       .send = keep,
                       .ctx = &c};
    gossip_config b = {.name = "fz",
                       .addr = "tcp://fz:1",
                       .node_id = 7,
                       .incarnation = 5,
                       .seed = 1,
                       .send = queue_back,
                       .ctx = &c};
    gossip *ga, *gb;
    if (gossip_new(&b, &gb) != SHOAL_OK)
        exit(1);
    c.fz = gb;
    if (gossip_new(&a, &ga) != SHOAL_OK)
        exit(1);
    static const uint8_t meta[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0xc0};
    gossip_set_meta(ga, meta, sizeof meta);
    const char *seed = "tcp://fz:1";
    gossip_join(ga, c.now, &seed, 1);
    for (int i = 0; i < 60 && c.n < 40; i++) {
        c.now += 50;
        gossip_tick(ga, c.now);
        gossip_tick(gb, c.now);
        for (size_t k = 0; k < c.nback; k++) {
            gossip_input(ga, c.now, c.back[k], c.backlen[k], NULL);
            free(c.back[k]);
        }
        c.nback = 0;
        if (i == 30) /* a suspicion of fz, which it refutes */
            gossip_suspect(ga, c.now, "fz");
    }
    gossip_leave(ga, c.now);
    for (size_t k = 0; k < c.nback; k++)
        free(c.back[k]);
    gossip_delete(ga);
    gossip_delete(gb);
    printf("%u seeds written to %s\n", c.n, dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("FUZZ_GOSSIP_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
