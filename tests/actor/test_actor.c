/* Tests of the actor runtime with real Wasm actors: the example actors of
 * examples/actors and small modules from tests/actor/wat. Paths come from
 * SHOAL_ACTOR_EXAMPLES and SHOAL_ACTOR_WAT (set by meson). */
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
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>

#include "actor.h"

/* ---- helpers ---- */

static uint8_t *slurp(const char *dir_env, const char *name, size_t *len)
{
    const char *dir = getenv(dir_env);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    if (n < 0) {
        fclose(f);
        return NULL;
    }
    rewind(f);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void add_module(actor_runtime *rt, const char *env, const char *file,
                       const char *name)
{
    size_t n = 0;
    uint8_t *b = slurp(env, file, &n);
    assert_non_null(b);
    shoal_errinfo ei = {0};
    shoal_err err = actor_runtime_add_module(rt, name, b, n, &ei);
    if (err)
        fprintf(stderr, "%s: %s\n", name, ei.msg);
    assert_int_equal(err, SHOAL_OK);
    free(b);
}

/* What the runtime told us, collected across threads. */
typedef struct events {
    pthread_mutex_t lock;
    char log[8192];
    size_t loglen;
    unsigned exits;
} events;

static void on_log(void *ctx, actor_id id, int level, const char *msg,
                   size_t len)
{
    events *ev = ctx;
    pthread_mutex_lock(&ev->lock);
    int n = snprintf(ev->log + ev->loglen, sizeof ev->log - ev->loglen,
                     "%d %.*s\n", level, (int)len, msg);
    if (n > 0 && ev->loglen + (size_t)n < sizeof ev->log)
        ev->loglen += (size_t)n;
    pthread_mutex_unlock(&ev->lock);
}

static void on_exit_cb(void *ctx, actor_id id, const actor_exit *why)
{
    events *ev = ctx;
    pthread_mutex_lock(&ev->lock);
    ev->exits++;
    pthread_mutex_unlock(&ev->lock);
}

static actor_runtime *runtime_with(const actor_config *cfg)
{
    actor_runtime *rt;
    assert_int_equal(actor_runtime_new(cfg, &rt), SHOAL_OK);
    add_module(rt, "SHOAL_ACTOR_EXAMPLES", "echo.wasm", "echo");
    add_module(rt, "SHOAL_ACTOR_EXAMPLES", "counter.wasm", "counter");
    add_module(rt, "SHOAL_ACTOR_EXAMPLES", "pingpong.wasm", "pingpong");
    add_module(rt, "SHOAL_ACTOR_EXAMPLES", "trapper.wasm", "trapper");
    add_module(rt, "SHOAL_ACTOR_EXAMPLES", "receiver.wasm", "receiver");
    add_module(rt, "SHOAL_ACTOR_EXAMPLES", "spinner.wasm", "spinner");
    add_module(rt, "SHOAL_ACTOR_WAT", "linker.wasm", "linker");
    add_module(rt, "SHOAL_ACTOR_WAT", "deep.wasm", "deep");
    return rt;
}

static actor_runtime *runtime(unsigned workers, events *ev)
{
    actor_config cfg = {.node_id = 3, .workers = workers};
    if (ev) {
        memset(ev, 0, sizeof *ev);
        pthread_mutex_init(&ev->lock, NULL);
        cfg.log = on_log;
        cfg.on_exit = on_exit_cb;
        cfg.ctx = ev;
    }
    return runtime_with(&cfg);
}

/* A msgpack value built with msgpack-c. */
typedef struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp;

static void mp_init(mp *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_str(mp *m, const char *s)
{
    msgpack_pack_str(&m->pk, strlen(s));
    msgpack_pack_str_body(&m->pk, s, strlen(s));
}

/* A reply captured by a callback. */
typedef struct reply {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    shoal_err err;
    uint8_t data[256];
    size_t len;
} reply;

static void reply_init(reply *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
}

static void on_reply(void *ctx, shoal_err err, const uint8_t *data, size_t len)
{
    reply *r = ctx;
    pthread_mutex_lock(&r->lock);
    r->err = err;
    r->len = len < sizeof r->data ? len : sizeof r->data;
    if (len)
        memcpy(r->data, data, r->len);
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void reply_wait(reply *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&r->lock);
    while (!r->done)
        if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&r->lock);
    assert_true(r->done);
}

/* Sends `to` a msgpack string from the embedder. */
static void send_str(actor_runtime *rt, actor_id to, const char *s)
{
    mp m;
    mp_init(&m);
    mp_str(&m, s);
    assert_int_equal(actor_send(rt, to, (uint8_t *)m.sb.data, m.sb.size),
                     SHOAL_OK);
    msgpack_sbuffer_destroy(&m.sb);
}

/* Calls `to` with a msgpack string and waits for the outcome in *r. */
static void call_str(actor_runtime *rt, actor_id to, const char *req, reply *r)
{
    mp m;
    mp_init(&m);
    mp_str(&m, req);
    reply_init(r);
    assert_int_equal(
        actor_call(rt, to, (uint8_t *)m.sb.data, m.sb.size, 5000, on_reply, r),
        SHOAL_OK);
    msgpack_sbuffer_destroy(&m.sb);
    reply_wait(r);
}

/* Calls `to` with a string request and returns the reply's msgpack int. */
static int64_t call_int(actor_runtime *rt, actor_id to, const char *what)
{
    reply r;
    call_str(rt, to, what, &r);
    assert_int_equal(r.err, SHOAL_OK);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)r.data, r.len, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    int64_t v = u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER
                    ? (int64_t)u.data.via.u64
                    : u.data.via.i64;
    msgpack_unpacked_destroy(&u);
    return v;
}

/* Calls `to` with a string and checks the reply is the given string. */
static void call_expect_str(actor_runtime *rt, actor_id to, const char *req,
                            const char *want)
{
    reply r;
    call_str(rt, to, req, &r);
    assert_int_equal(r.err, SHOAL_OK);
    mp m;
    mp_init(&m);
    mp_str(&m, want);
    assert_int_equal(r.len, m.sb.size);
    assert_memory_equal(r.data, m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
}

static actor_id spawn(actor_runtime *rt, const char *module, const mp *init,
                      const actor_spawn_opts *opts)
{
    actor_id id = 0;
    shoal_errinfo ei = {0};
    shoal_err err =
        actor_spawn(rt, module, init ? (uint8_t *)init->sb.data : NULL,
                    init ? init->sb.size : 0, opts, &id, &ei);
    if (err)
        fprintf(stderr, "spawn %s: %s\n", module, ei.msg);
    assert_int_equal(err, SHOAL_OK);
    assert_true(id > 0);
    return id;
}

static void wait_exit(actor_runtime *rt, actor_id id, actor_exit_kind kind,
                      const char *reason)
{
    actor_exit why;
    assert_int_equal(actor_wait(rt, id, 10000, &why), SHOAL_OK);
    char buf[96];
    actor_exit_reason(&why, buf, sizeof buf);
    if (why.kind != kind)
        fprintf(stderr, "exit reason: %s\n", buf);
    assert_int_equal(why.kind, kind);
    if (reason)
        assert_string_equal(buf, reason);
}

/* ---- tests ---- */

static void test_request_reply(void **state)
{
    actor_runtime *rt = runtime(2, NULL);
    actor_id c = spawn(rt, "counter", NULL, NULL);
    for (int i = 1; i <= 50; i++)
        assert_int_equal(call_int(rt, c, "inc"), i);
    assert_int_equal(call_int(rt, c, "get"), 50);
    actor_runtime_delete(rt);
}

/* One worker thread: an actor spinning forever beside a ping-pong pair.
 * The pair must finish its rally while the spinner still runs. */
static void test_fair_on_one_worker(void **state)
{
    events ev;
    actor_runtime *rt = runtime(1, &ev);
    actor_spawn_opts forever = {.limits.fuel_per_message = UINT64_MAX};
    actor_id spin = spawn(rt, "spinner", NULL, &forever);
    actor_id b = spawn(rt, "pingpong", NULL, NULL);
    mp init;
    mp_init(&init);
    msgpack_pack_map(&init.pk, 2);
    mp_str(&init, "peer");
    msgpack_pack_uint64(&init.pk, b);
    mp_str(&init, "count");
    msgpack_pack_int(&init.pk, 2000);
    actor_id a = spawn(rt, "pingpong", &init, NULL);
    msgpack_sbuffer_destroy(&init.sb);
    wait_exit(rt, a, ACTOR_EXIT_NORMAL, "normal");
    wait_exit(rt, b, ACTOR_EXIT_NORMAL, "normal");
    assert_true(actor_alive(rt, spin));
    assert_int_equal(actor_kill(rt, spin), SHOAL_OK);
    wait_exit(rt, spin, ACTOR_EXIT_KILLED, "killed");
    assert_false(actor_alive(rt, spin));
    actor_runtime_delete(rt);
}

static void test_mailbox_bound(void **state)
{
    actor_runtime *rt = runtime(1, NULL);
    /* A spinner never receives: its mailbox only fills. */
    actor_spawn_opts opts = {
        .limits = {.mailbox_cap = 4, .fuel_per_message = UINT64_MAX}};
    actor_id spin = spawn(rt, "spinner", NULL, &opts);
    uint8_t one = 0x01;
    for (int i = 0; i < 4; i++)
        assert_int_equal(actor_send(rt, spin, &one, 1), SHOAL_OK);
    assert_int_equal(actor_send(rt, spin, &one, 1), SHOAL_EFULL);
    actor_kill(rt, spin);
    wait_exit(rt, spin, ACTOR_EXIT_KILLED, NULL);
    actor_runtime_delete(rt);
}

static void test_malformed_and_stale(void **state)
{
    actor_runtime *rt = runtime(1, NULL);
    actor_id e = spawn(rt, "echo", NULL, NULL);
    uint8_t bad[] = {0x92, 0x01}; /* an array of 2 with one element */
    assert_int_equal(actor_send(rt, e, bad, sizeof bad), SHOAL_EMALFORMED);
    assert_int_equal(actor_send(rt, e, bad, 0), SHOAL_EMALFORMED);
    uint8_t trailing[] = {0x01, 0x02};
    assert_int_equal(actor_send(rt, e, trailing, 2), SHOAL_EMALFORMED);
    actor_kill(rt, e);
    wait_exit(rt, e, ACTOR_EXIT_KILLED, NULL);
    uint8_t one = 0x01;
    assert_int_equal(actor_send(rt, e, &one, 1), SHOAL_ENOTFOUND);
    /* A new actor reuses the slot with a new generation: the old id stays
     * dead. */
    actor_id e2 = spawn(rt, "echo", NULL, NULL);
    assert_true(e2 != e);
    assert_int_equal(actor_send(rt, e, &one, 1), SHOAL_ENOTFOUND);
    assert_int_equal(actor_kill(rt, e), SHOAL_ENOTFOUND);
    actor_runtime_delete(rt);
}

static void test_traps_and_fuel(void **state)
{
    events ev;
    actor_runtime *rt = runtime(2, &ev);
    actor_id t = spawn(rt, "trapper", NULL, NULL);
    send_str(rt, t, "boom");
    wait_exit(rt, t, ACTOR_EXIT_TRAP, "trap: integer divide by zero");

    actor_spawn_opts little = {.limits.fuel_per_message = 100000};
    actor_id s = spawn(rt, "spinner", NULL, &little);
    wait_exit(rt, s, ACTOR_EXIT_FUEL, "fuel exhausted");

    /* A request to an actor that dies on it is answered with EEXITED. */
    actor_id t2 = spawn(rt, "trapper", NULL, NULL);
    reply r;
    call_str(rt, t2, "boom", &r);
    assert_int_equal(r.err, SHOAL_EEXITED);
    actor_runtime_delete(rt);
    assert_true(ev.exits >= 3);
}

/* The receiver is long-running: it waits in receive (suspended, holding no
 * thread), answers requests, logs, and stops on "stop". */
static void test_long_running_receiver(void **state)
{
    events ev;
    actor_runtime *rt = runtime(2, &ev);
    actor_id rcv = spawn(rt, "receiver", NULL, NULL);
    send_str(rt, rcv, "hello");
    call_expect_str(rt, rcv, "stop", "stopping");
    wait_exit(rt, rcv, ACTOR_EXIT_NORMAL, "normal");
    pthread_mutex_lock(&ev.lock);
    assert_non_null(strstr(ev.log, "hello"));
    pthread_mutex_unlock(&ev.lock);
    actor_runtime_delete(rt);
}

/* Links: the linker links to the actor named in its init message and then
 * waits; when that actor fails, the linker is stopped too. */
static void test_links(void **state)
{
    actor_runtime *rt = runtime(2, NULL);
    actor_id t = spawn(rt, "trapper", NULL, NULL);
    mp init;
    mp_init(&init);
    msgpack_pack_uint64(&init.pk, t);
    actor_id l = spawn(rt, "linker", &init, NULL);
    msgpack_sbuffer_destroy(&init.sb);
    /* The linker asks to be told it linked: it replies to a request. */
    uint8_t nil = 0xc0;
    reply r;
    reply_init(&r);
    assert_int_equal(actor_call(rt, l, &nil, 1, 5000, on_reply, &r), SHOAL_OK);
    reply_wait(&r);
    assert_int_equal(r.err, SHOAL_OK);
    send_str(rt, t, "boom");
    wait_exit(rt, t, ACTOR_EXIT_TRAP, NULL);
    wait_exit(rt, l, ACTOR_EXIT_LINKED, "linked actor failed");
    actor_runtime_delete(rt);
}

static unsigned exits_of(events *ev)
{
    pthread_mutex_lock(&ev->lock);
    unsigned n = ev->exits;
    pthread_mutex_unlock(&ev->lock);
    return n;
}

/* Supervision: a trapping actor restarts with the same id, answers again,
 * and after max_restarts restarts in its window stays down. */
static void test_restart_on_failure(void **state)
{
    events ev;
    actor_runtime *rt = runtime(2, &ev);
    actor_spawn_opts sup = {.restart = ACTOR_RESTART_ON_FAILURE,
                            .backoff_initial_ms = 5,
                            .backoff_max_ms = 20,
                            .max_restarts = 2};
    actor_id t = spawn(rt, "trapper", NULL, &sup);
    call_expect_str(rt, t, "hello", "ok");
    for (unsigned i = 1; i <= 2; i++) {
        send_str(rt, t, "boom");
        /* The crash is seen (on_exit), the id lives on, and it answers. */
        for (int k = 0; k < 500 && exits_of(&ev) < i; k++)
            usleep(2000);
        assert_int_equal(exits_of(&ev), i);
        assert_true(actor_alive(rt, t));
        call_expect_str(rt, t, "again", "ok");
        /* actor_info tells the restarts, the last reason and the fuel. */
        actor_info info;
        assert_int_equal(actor_info_get(rt, t, &info), SHOAL_OK);
        assert_true(info.started);
        assert_false(info.restarting);
        assert_int_equal(info.restarts, i);
        assert_true(info.has_exited);
        assert_int_equal(info.last_exit.kind, ACTOR_EXIT_TRAP);
        assert_true(info.fuel_used > 0);
    }
    /* The third crash within the window is final. */
    send_str(rt, t, "boom");
    wait_exit(rt, t, ACTOR_EXIT_TRAP, "trap: integer divide by zero");
    assert_false(actor_alive(rt, t));
    actor_runtime_delete(rt);
}

/* ---- endpoints, tags and lookup ---- */

/* What the endpoint of test_endpoints saw, and what resolve answers. */
typedef struct svc {
    actor_runtime *rt;
    actor_id endpoint;
    pthread_mutex_t lock;
    unsigned calls, casts;
    actor_id last_from;
    void *last_tag;
} svc;

static int linked_tag; /* the tag of an actor linked to "svc" */

static void on_svc(void *ctx, actor_id endpoint, const actor_delivery *d)
{
    svc *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->last_from = d->from;
    s->last_tag = d->from_tag;
    if (d->kind == ACTOR_KIND_REQUEST)
        s->calls++;
    else
        s->casts++;
    pthread_mutex_unlock(&s->lock);
    if (d->kind == ACTOR_KIND_REQUEST) {
        static const uint8_t pong[] = {0xa4, 'p', 'o', 'n', 'g'};
        assert_int_equal(actor_endpoint_reply(s->rt, endpoint, d->from, d->corr,
                                              pong, sizeof pong),
                         SHOAL_OK);
    }
}

static shoal_err resolve_svc(void *ctx, actor_id caller, void *caller_tag,
                             const char *name, size_t len, actor_id *out)
{
    svc *s = ctx;
    if (caller_tag != &linked_tag || len != 3 || memcmp(name, "svc", 3) != 0)
        return SHOAL_ENOTFOUND;
    *out = s->endpoint;
    return SHOAL_OK;
}

/* The one-byte reply of lookup.wat for a failure, or 0 if the reply is
 * the string "pong". */
static int call_svc(actor_runtime *rt, actor_id id)
{
    reply r;
    call_str(rt, id, "ping", &r);
    assert_int_equal(r.err, SHOAL_OK);
    if (r.len == 5 && memcmp(r.data, "\xa4pong", 5) == 0)
        return 0;
    assert_int_equal(r.len, 1);
    return (int8_t)r.data[0];
}

/* An endpoint answers actors that look it up, and sees who they are (their
 * spawn tag); an actor the embedder does not resolve gets E_NOLINK; a
 * deleted endpoint is gone for sends and calls. */
static void test_endpoints(void **state)
{
    svc s = {0};
    pthread_mutex_init(&s.lock, NULL);
    actor_config cfg = {
        .node_id = 3, .workers = 2, .resolve = resolve_svc, .ctx = &s};
    assert_int_equal(actor_runtime_new(&cfg, &s.rt), SHOAL_OK);
    actor_runtime *rt = s.rt;
    add_module(rt, "SHOAL_ACTOR_WAT", "lookup.wasm", "lookup");
    assert_int_equal(actor_endpoint_new(rt, on_svc, &s, &s.endpoint), SHOAL_OK);
    assert_int_equal(actor_id_node(s.endpoint), 3);

    actor_spawn_opts linked = {.tag = &linked_tag};
    actor_id a = spawn(rt, "lookup", NULL, &linked);
    actor_id b = spawn(rt, "lookup", NULL, NULL);
    assert_int_equal(call_svc(rt, a), 0);
    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.last_from, a);
    assert_ptr_equal(s.last_tag, &linked_tag);
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(call_svc(rt, b), -10); /* E_NOLINK */

    /* The embedder can send to an endpoint too (sender 0, no tag). */
    static const uint8_t nil[] = {0xc0};
    assert_int_equal(actor_send(rt, s.endpoint, nil, 1), SHOAL_OK);
    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.casts, 1);
    assert_int_equal(s.last_from, 0);
    assert_null(s.last_tag);
    pthread_mutex_unlock(&s.lock);

    actor_endpoint_delete(rt, s.endpoint);
    assert_int_equal(actor_send(rt, s.endpoint, nil, 1), SHOAL_ENOTFOUND);
    assert_int_equal(call_svc(rt, a), -1); /* E_NOACTOR */
    assert_int_equal(s.calls, 1);
    /* Ids near the endpoints' that never were one fail cleanly. */
    assert_int_equal(actor_send(rt, s.endpoint + (1u << 16), nil, 1),
                     SHOAL_ENOTFOUND);
    actor_runtime_delete(rt);
    pthread_mutex_destroy(&s.lock);
}

/* Draining: handler calls under way finish, new ones do not start, and
 * the messages wait in the mailbox. */
static void test_drain(void **state)
{
    events ev;
    actor_runtime *rt = runtime(2, &ev);
    actor_id e = spawn(rt, "echo", NULL, NULL);
    call_expect_str(rt, e, "before", "before");
    actor_info info;
    assert_int_equal(actor_info_get(rt, e, &info), SHOAL_OK);
    assert_true(info.started);
    assert_int_equal(info.mailbox, 0);
    assert_int_equal(info.restarts, 0);
    assert_false(info.has_exited);
    assert_int_equal(actor_runtime_drain(rt, 5000), SHOAL_OK);
    for (int i = 0; i < 3; i++)
        send_str(rt, e, "after");
    usleep(20000);
    assert_int_equal(actor_info_get(rt, e, &info), SHOAL_OK);
    assert_int_equal(info.mailbox, 3);
    assert_int_equal(actor_info_get(rt, 12345, &info), SHOAL_ENOTFOUND);
    actor_runtime_delete(rt);
}

static void test_restart_always_and_kill(void **state)
{
    events ev;
    actor_runtime *rt = runtime(1, &ev);
    /* "always" brings back even a normal exit ("stop" to the receiver). */
    actor_spawn_opts sup = {.restart = ACTOR_RESTART_ALWAYS,
                            .backoff_initial_ms = 5};
    actor_id r = spawn(rt, "receiver", NULL, &sup);
    send_str(rt, r, "stop");
    for (int k = 0; k < 500 && exits_of(&ev) < 1; k++)
        usleep(2000);
    assert_int_equal(exits_of(&ev), 1);
    assert_true(actor_alive(rt, r));
    call_expect_str(rt, r, "stop", "stopping");
    /* A kill, even during the back-off, is final. */
    actor_spawn_opts slow = {.restart = ACTOR_RESTART_ALWAYS,
                             .backoff_initial_ms = 60000};
    actor_id r2 = spawn(rt, "receiver", NULL, &slow);
    send_str(rt, r2, "crash");
    for (int k = 0; k < 500 && exits_of(&ev) < 3; k++)
        usleep(2000);
    assert_true(actor_alive(rt, r2)); /* waiting a minute to restart */
    assert_int_equal(actor_kill(rt, r2), SHOAL_OK);
    wait_exit(rt, r2, ACTOR_EXIT_KILLED, "killed");
    actor_kill(rt, r);
    actor_runtime_delete(rt);
}

/* An actor's Wasm state starts in the block allocated with it: its stack
 * and frames outgrow that block and move out, and a restart makes the new
 * state in the same block (ASan watches all of it). */
static void test_deep_stacks_and_restart(void **state)
{
    events ev;
    actor_runtime *rt = runtime(2, &ev);
    actor_spawn_opts sup = {.restart = ACTOR_RESTART_ON_FAILURE,
                            .backoff_initial_ms = 5};
    actor_id d = spawn(rt, "deep", NULL, &sup);
    static const unsigned depths[] = {10, 2000, 5, 9000, 100};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        uint8_t req[3] = {0xcd, (uint8_t)(depths[i] >> 8), (uint8_t)depths[i]};
        reply r;
        reply_init(&r);
        assert_int_equal(actor_call(rt, d, req, 3, 5000, on_reply, &r),
                         SHOAL_OK);
        reply_wait(&r);
        assert_int_equal(r.err, SHOAL_OK);
        assert_int_equal(r.len, 1);
    }
    /* Deeper than the call depth limit: a trap, then a restart. */
    uint8_t too_deep[3] = {0xcd, 0x4e, 0x20}; /* 20000 */
    assert_int_equal(actor_send(rt, d, too_deep, 3), SHOAL_OK);
    for (int k = 0; k < 500 && exits_of(&ev) < 1; k++)
        usleep(2000);
    assert_int_equal(exits_of(&ev), 1);
    uint8_t again[3] = {0xcd, 0x0b, 0xb8}; /* 3000 */
    reply r;
    reply_init(&r);
    assert_int_equal(actor_call(rt, d, again, 3, 5000, on_reply, &r), SHOAL_OK);
    reply_wait(&r);
    assert_int_equal(r.err, SHOAL_OK);
    actor_info info;
    assert_int_equal(actor_info_get(rt, d, &info), SHOAL_OK);
    assert_int_equal(info.restarts, 1);
    assert_int_equal(info.last_exit.kind, ACTOR_EXIT_TRAP);
    actor_runtime_delete(rt);
}

/* 100,000 actors spawned, counted, and stopped cleanly. */
static void test_many_actors(void **state)
{
    actor_runtime *rt = runtime(2, NULL);
    enum { N = 100000 };
    actor_id *ids = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        ids[i] = spawn(rt, "echo", NULL, NULL);
    assert_int_equal(actor_count(rt), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(actor_kill(rt, ids[i]), SHOAL_OK);
    for (int i = 0; i < N; i++) {
        actor_exit why;
        shoal_err err = actor_wait(rt, ids[i], 20000, &why);
        assert_true(err == SHOAL_OK || err == SHOAL_ENOTFOUND);
    }
    assert_int_equal(actor_count(rt), 0);
    free(ids);
    actor_runtime_delete(rt);
}

/* Two runtimes as two nodes (ids 1 and 2) whose remote callbacks hand
 * messages straight to each other, as a node's wire would. */
typedef struct two_nodes {
    actor_runtime *rt[3]; /* by node id */
    atomic_uint carried;
} two_nodes;

static shoal_err carry(void *ctx, const actor_remote_msg *m)
{
    two_nodes *t = ctx;
    uint16_t node = actor_id_node(m->to);
    if (node != 1 && node != 2)
        return SHOAL_ENOTFOUND;
    atomic_fetch_add(&t->carried, 1);
    return actor_deliver_remote(t->rt[node], m);
}

static void test_remote_messages(void **state)
{
    two_nodes t = {0};
    for (uint16_t n = 1; n <= 2; n++) {
        actor_config cfg = {
            .node_id = n, .workers = 1, .remote = carry, .ctx = &t};
        t.rt[n] = runtime_with(&cfg);
    }
    /* The embedder of node 1 calls a counter on node 2. */
    actor_id c = spawn(t.rt[2], "counter", NULL, NULL);
    assert_int_equal(actor_id_node(c), 2);
    for (int i = 1; i <= 20; i++)
        assert_int_equal(call_int(t.rt[1], c, "inc"), i);
    assert_true(atomic_load(&t.carried) >= 40); /* requests and replies */

    /* A rally between actors of the two nodes, then a count from each. */
    mp init;
    mp_init(&init);
    msgpack_pack_map(&init.pk, 1);
    mp_str(&init, "stay");
    msgpack_pack_true(&init.pk);
    actor_id a = spawn(t.rt[1], "pingpong", &init, NULL);
    msgpack_sbuffer_destroy(&init.sb);
    mp_init(&init);
    msgpack_pack_map(&init.pk, 3);
    mp_str(&init, "peer");
    msgpack_pack_uint64(&init.pk, a);
    mp_str(&init, "count");
    msgpack_pack_uint64(&init.pk, 1000);
    mp_str(&init, "stay");
    msgpack_pack_true(&init.pk);
    actor_id b = spawn(t.rt[2], "pingpong", &init, NULL);
    msgpack_sbuffer_destroy(&init.sb);
    /* b served 1000; a got 1000, 998, ..., 0 and b 999, ..., 1. */
    int64_t got = 0;
    for (int i = 0; i < 500 && got != 501; i++) {
        got = call_int(t.rt[2], a, "count?");
        if (got != 501)
            usleep(10000);
    }
    assert_int_equal(got, 501);
    assert_int_equal(call_int(t.rt[1], b, "count?"), 500);

    /* Unknown nodes, bad ids and malformed bytes fail cleanly. */
    uint8_t nil = 0xc0;
    assert_int_equal(
        actor_send(t.rt[1], (actor_id)9 << 48 | 1 << 16 | 1, &nil, 1),
        SHOAL_ENOTFOUND);
    actor_remote_msg bad = {.from = a,
                            .to = c,
                            .kind = ACTOR_KIND_CAST,
                            .data = (const uint8_t *)"\xc1",
                            .len = 1};
    assert_int_equal(actor_deliver_remote(t.rt[2], &bad), SHOAL_EMALFORMED);
    bad.to = a; /* an actor of node 1, handed to node 2 */
    bad.data = &nil;
    assert_int_equal(actor_deliver_remote(t.rt[2], &bad), SHOAL_EINVAL);
    bad.to = actor_embedder_id(2); /* only replies go to the embedder */
    assert_int_equal(actor_deliver_remote(t.rt[2], &bad), SHOAL_EINVAL);
    bad.to = c;
    bad.kind = 7;
    assert_int_equal(actor_deliver_remote(t.rt[2], &bad), SHOAL_EINVAL);
    bad.kind = ACTOR_KIND_CAST;
    bad.from = 0;
    assert_int_equal(actor_deliver_remote(t.rt[2], &bad), SHOAL_EINVAL);

    /* A callee that exits unanswered: the remote caller hears so. */
    actor_id tr = spawn(t.rt[2], "trapper", NULL, NULL);
    reply r;
    call_str(t.rt[1], tr, "boom", &r);
    assert_int_equal(r.err, SHOAL_EEXITED);

    actor_runtime_delete(t.rt[1]);
    actor_runtime_delete(t.rt[2]);
}

/* The idle poll hook: a worker waits in the embedder's poll, which here
 * hands the runtime a request "from another node" (as a node's stream
 * would) the first time; the reply goes out through the remote hook. */
typedef struct poll_world {
    actor_runtime *rt;
    atomic_uint polls, wakes; /* calls of each hook */
    atomic_bool sent;
    actor_id target;
    atomic_bool replied;
    atomic_uint_fast64_t reply_corr;
    uint8_t reply[16];
    atomic_size_t reply_len;
} poll_world;

static bool poll_hook(void *ctx, int timeout_ms)
{
    poll_world *pw = ctx;
    atomic_fetch_add(&pw->polls, 1);
    actor_id target = __atomic_load_n(&pw->target, __ATOMIC_ACQUIRE);
    if (target && !atomic_exchange(&pw->sent, true)) {
        static const uint8_t inc[] = {0xa3, 'i', 'n', 'c'};
        actor_remote_msg m = {.from = actor_embedder_id(2),
                              .to = target,
                              .kind = ACTOR_KIND_REQUEST,
                              .corr = 77,
                              .data = inc,
                              .len = sizeof inc};
        assert_int_equal(actor_deliver_remote(pw->rt, &m), SHOAL_OK);
        return true;
    }
    usleep((useconds_t)(timeout_ms < 5 ? timeout_ms : 5) * 1000);
    return true;
}

static void poll_wake(void *ctx)
{
    poll_world *pw = ctx;
    atomic_fetch_add(&pw->wakes, 1);
}

static shoal_err poll_remote(void *ctx, const actor_remote_msg *m)
{
    poll_world *pw = ctx;
    if (m->kind == ACTOR_KIND_REPLY && m->to == actor_embedder_id(2) &&
        m->len <= sizeof pw->reply) {
        memcpy(pw->reply, m->data, m->len);
        atomic_store(&pw->reply_len, m->len);
        atomic_store(&pw->reply_corr, m->corr);
        atomic_store(&pw->replied, true);
    }
    return SHOAL_OK;
}

static void test_idle_poll(void **state)
{
    poll_world pw = {0};
    actor_config bad = {.node_id = 1, .idle_poll = poll_hook};
    actor_runtime *none;
    assert_int_equal(actor_runtime_new(&bad, &none), SHOAL_EINVAL);
    actor_config cfg = {.node_id = 1,
                        .workers = 2,
                        .remote = poll_remote,
                        .idle_poll = poll_hook,
                        .idle_wake = poll_wake,
                        .ctx = &pw};
    pw.rt = runtime_with(&cfg);
    actor_id c = spawn(pw.rt, "counter", NULL, NULL);
    __atomic_store_n(&pw.target, c, __ATOMIC_RELEASE);
    for (int i = 0; i < 500 && !atomic_load(&pw.replied); i++)
        usleep(10000);
    assert_true(atomic_load(&pw.replied));
    assert_int_equal(atomic_load(&pw.reply_corr), 77);
    assert_int_equal(atomic_load(&pw.reply_len), 1);
    assert_int_equal(pw.reply[0], 1); /* the counter's first "inc" */
    assert_true(atomic_load(&pw.polls) > 0);
    /* The runtime goes on as usual beside the poll: calls from the
     * embedder are answered (their work wakes the poller or a sleeper). */
    for (int i = 2; i <= 20; i++)
        assert_int_equal(call_int(pw.rt, c, "inc"), i);
    actor_runtime_delete(pw.rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_fair_on_one_worker),
        cmocka_unit_test(test_mailbox_bound),
        cmocka_unit_test(test_malformed_and_stale),
        cmocka_unit_test(test_traps_and_fuel),
        cmocka_unit_test(test_long_running_receiver),
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_restart_on_failure),
        cmocka_unit_test(test_restart_always_and_kill),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_deep_stacks_and_restart),
        cmocka_unit_test(test_remote_messages),
        cmocka_unit_test(test_idle_poll),
        cmocka_unit_test(test_many_actors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
