/* Shoal's actor runtime: many Wasm actors in one process, scheduled
 * preemptively on a pool of worker threads by fuel slices.
 *
 * An actor is an instance of a module (compiled once per runtime and shared
 * read-only), a bounded mailbox and its execution state. Actors speak the
 * guest ABI of docs/abi.md. The embedder (a node, a test, a benchmark) adds
 * modules, spawns actors, sends them messages and hears when they exit.
 *
 * Threads: every function here may be called from any thread, including
 * from the runtime's callbacks, except actor_runtime_delete.
 */
#ifndef SHOAL_ACTOR_H
#define SHOAL_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"
#include "wasm.h"

typedef struct actor_runtime actor_runtime;

/* Cluster-unique: node id (bits 48-62; bit 63 stays 0 so that ids are
 * positive as i64), local slot (16-47), generation (0-15). 0 is nobody
 * (the runtime or the embedder). */
typedef uint64_t actor_id;

static inline uint16_t actor_id_node(actor_id id)
{
    return (uint16_t)(id >> 48);
}

/* The id that stands for the embedder of node node_id on other nodes: a
 * message the embedder sends to another node carries it as its sender, so
 * that the reply finds its way back. No actor has it (an actor's
 * generation is never 0). */
static inline actor_id actor_embedder_id(uint16_t node_id)
{
    return (actor_id)node_id << 48;
}

#define ACTOR_KIND_CAST 0
#define ACTOR_KIND_REQUEST 1
#define ACTOR_KIND_REPLY 2

/* A message between nodes: what actor_config.remote hands over and what
 * actor_deliver_remote takes in. An empty reply (len 0) says that the
 * callee exited without answering. */
typedef struct actor_remote_msg {
    actor_id from; /* the sender, never 0 (see actor_embedder_id) */
    actor_id to;
    int kind;      /* ACTOR_KIND_CAST, _REQUEST or _REPLY */
    uint64_t corr; /* a request's or a reply's correlation id */
    const uint8_t *data;
    size_t len;
} actor_remote_msg;

typedef struct actor_limits {
    uint32_t max_memory_pages; /* linear memory cap, 64 KiB pages */
    uint64_t fuel_per_message; /* see docs/abi.md, "Limits" */
    uint32_t mailbox_cap;      /* messages */
} actor_limits;

typedef enum actor_restart {
    ACTOR_RESTART_NEVER = 0,
    ACTOR_RESTART_ON_FAILURE, /* after any exit but a normal one */
    ACTOR_RESTART_ALWAYS,
} actor_restart;

/* Supervision: after an exit that the policy covers, the actor is started
 * again from its module, with the same id, the same init message and the
 * messages still in its mailbox, after a delay that starts at
 * backoff_initial_ms and doubles per restart up to backoff_max_ms. More than
 * max_restarts restarts within restart_window_ms, an actor_kill, or the
 * runtime shutting down ends it for good. Links and monitors fire at every
 * exit and do not carry over to the new start. */
typedef struct actor_spawn_opts {
    actor_limits limits; /* zero fields take the runtime's defaults */
    actor_restart restart;
    uint32_t backoff_initial_ms; /* first restart delay (default 100) */
    uint32_t backoff_max_ms;     /* delays double up to this (30000) */
    uint32_t max_restarts;       /* in restart_window_ms, else give up (10) */
    uint32_t restart_window_ms;  /* (60000) */
    /* The embedder's, for this actor: handed to resolve and to endpoints
     * with its lookups and messages, across its restarts. It must stay
     * valid until on_exit says the actor will not restart. */
    void *tag;
} actor_spawn_opts;

typedef enum actor_exit_kind {
    ACTOR_EXIT_NORMAL = 0,
    ACTOR_EXIT_CODE,   /* exit(code) with code != 0, or a handler's code */
    ACTOR_EXIT_TRAP,   /* a Wasm trap; see trap */
    ACTOR_EXIT_FUEL,   /* fuel per message exhausted */
    ACTOR_EXIT_KILLED, /* actor_kill, or the runtime shutting down */
    ACTOR_EXIT_LINKED, /* a linked actor failed */
    ACTOR_EXIT_NOMEM,  /* the runtime ran out of memory for it */
} actor_exit_kind;

typedef struct actor_exit {
    actor_exit_kind kind;
    int32_t code;      /* ACTOR_EXIT_CODE */
    wasm_trap trap;    /* ACTOR_EXIT_TRAP */
    bool will_restart; /* its restart policy brings it back (same id) */
} actor_exit;

/* Writes the reason as docs/abi.md spells it ("normal", "exit code 3",
 * "trap: integer divide by zero", ...) into buf; returns buf. */
const char *actor_exit_reason(const actor_exit *e, char *buf, size_t len);

typedef struct actor_config {
    uint16_t node_id;      /* below 0x8000: ids are positive i64s */
    unsigned workers;      /* worker threads; 0: one per CPU of its affinity */
    int64_t fuel_slice;    /* fuel per scheduling slice (10000) */
    actor_limits defaults; /* zero fields: 16 MiB, 100,000,000, 1024 */
    uint32_t max_actors;   /* 0: 4,000,000 */
    /* A log line of an actor (level 0-3); msg is not NUL-terminated and
     * valid only during the call. Called on worker threads. NULL: stderr. */
    void (*log)(void *ctx, actor_id id, int level, const char *msg, size_t len);
    /* An actor exited (after links and monitors were told); why says
     * whether it will restart. Called on a worker, the timer thread or the
     * caller of actor_kill. May be NULL. */
    void (*on_exit)(void *ctx, actor_id id, const actor_exit *why);
    /* lookup(name) of an actor (docs/abi.md): the id that name stands for
     * for caller, whose spawn tag is caller_tag (NULL for actors spawned
     * by actors). SHOAL_ENOTFOUND: the guest gets E_NOLINK. Called on
     * worker threads. NULL: every lookup fails. */
    shoal_err (*resolve)(void *ctx, actor_id caller, void *caller_tag,
                         const char *name, size_t len, actor_id *out);
    /* A send, call or reply to an actor of another node (actor_id_node of
     * the target is not node_id): the embedder carries m there (m and its
     * bytes are valid only during the call) and answers SHOAL_OK, or
     * SHOAL_ENOTFOUND when it knows no such node, or SHOAL_EFULL when the
     * way there is congested; the sender sees that status. Called on the
     * sender's thread (a worker, the timer thread or the embedder's); it
     * must not block. Links and monitors do not cross nodes. NULL: sends
     * to other nodes fail with SHOAL_ENOTFOUND. */
    shoal_err (*remote)(void *ctx, const actor_remote_msg *m);
    /* An idle worker may wait in the embedder's own poll (its sockets)
     * instead of sleeping, so that the thread that reads a message from
     * another node is the one that runs its receiver, with no wake-up
     * between. One worker at a time calls idle_poll(ctx, ms): it waits at
     * most ms for what it watches (delivering what arrives, with
     * actor_deliver_remote) or for idle_wake, and returns true; false when
     * it cannot poll now (the worker then sleeps as usual). idle_wake(ctx)
     * makes a poll under way return; any thread. Busy workers also call
     * idle_poll(ctx, 0) now and then, so that messages are read while every
     * worker has work. Both NULL: workers sleep. */
    bool (*idle_poll)(void *ctx, int timeout_ms);
    void (*idle_wake)(void *ctx);
    void *ctx;
} actor_config;

/* Starts the runtime's worker threads. Errors: SHOAL_ENOMEM, SHOAL_EINVAL. */
shoal_err actor_runtime_new(const actor_config *cfg, actor_runtime **out);
/* Kills every actor (reason killed), stops the workers and frees all. */
void actor_runtime_delete(actor_runtime *rt);

/* Compiles a module (with metering) and makes it known by name, replacing a
 * module of the same name for later spawns. bytes are copied. Errors: those
 * of wasm_module_load, with ei. */
shoal_err actor_runtime_add_module(actor_runtime *rt, const char *name,
                                   const uint8_t *bytes, size_t len,
                                   shoal_errinfo *ei);

/* Spawns an actor of a known module with an init message (msgpack; NULL/0
 * for none); on SHOAL_OK *out is its id and it is runnable. Errors:
 * SHOAL_ENOTFOUND (module), SHOAL_EMALFORMED (init), SHOAL_ELIMIT,
 * SHOAL_EUNLINKABLE (imports it may not have), SHOAL_ENOMEM; ei says
 * more. opts may be NULL. */
shoal_err actor_spawn(actor_runtime *rt, const char *module,
                      const uint8_t *init, size_t init_len,
                      const actor_spawn_opts *opts, actor_id *out,
                      shoal_errinfo *ei);

/* Sends a message (msgpack, copied) from the embedder (sender 0).
 * Errors: SHOAL_ENOTFOUND (no such actor), SHOAL_EFULL, SHOAL_EMALFORMED,
 * SHOAL_ELIMIT. */
shoal_err actor_send(actor_runtime *rt, actor_id to, const uint8_t *msg,
                     size_t len);

/* A request from the embedder; cb is called exactly once, on some thread,
 * with the reply (valid only during the call) or an error (SHOAL_ETIMEDOUT,
 * SHOAL_EEXITED, or one of actor_send's). timeout_ms < 0: none. */
typedef void (*actor_reply_cb)(void *ctx, shoal_err err, const uint8_t *reply,
                               size_t len);
shoal_err actor_call(actor_runtime *rt, actor_id to, const uint8_t *msg,
                     size_t len, int64_t timeout_ms, actor_reply_cb cb,
                     void *ctx);

/* Stops an actor (reason killed; no restart). SHOAL_ENOTFOUND if gone. */
shoal_err actor_kill(actor_runtime *rt, actor_id id);

bool actor_alive(actor_runtime *rt, actor_id id);
/* Live actors. */
size_t actor_count(actor_runtime *rt);

/* Waits until id has exited and fills *why. An actor that exited before
 * the call is found among the runtime's last 4096 exits; older ones give
 * SHOAL_ENOTFOUND. SHOAL_ETIMEDOUT after timeout_ms (< 0: forever). */
shoal_err actor_wait(actor_runtime *rt, actor_id id, int64_t timeout_ms,
                     actor_exit *why);

/* A message from another node (what its runtime handed to its
 * config.remote) for an actor of this one, or a reply for this node's
 * embedder (m->to is actor_embedder_id(node_id) or 0). The bytes are
 * checked and copied. Errors: SHOAL_EINVAL (m->to is not of this node,
 * or a bad kind), SHOAL_EMALFORMED, SHOAL_ELIMIT, and actor_send's. A reply
 * that nobody waits for any more is dropped with SHOAL_OK. Any thread. */
shoal_err actor_deliver_remote(actor_runtime *rt, const actor_remote_msg *m);

/* ---- endpoints: ids the embedder serves ---- */

/* A message sent to an endpoint, valid during the callback. */
typedef struct actor_delivery {
    actor_id from;  /* 0: the embedder */
    void *from_tag; /* the sender's spawn tag, or NULL */
    int kind;       /* ACTOR_KIND_CAST or ACTOR_KIND_REQUEST */
    uint64_t corr;  /* a request's: give it to actor_endpoint_reply */
    const uint8_t *data;
    size_t len;
} actor_delivery;

/* Called on the sender's thread (a worker, or the embedder's) for every
 * message sent to the endpoint; it must not block and must not delete
 * the endpoint. */
typedef void (*actor_endpoint_fn)(void *ctx, actor_id endpoint,
                                  const actor_delivery *d);

/* Makes an id that actors can send to and call (a capability provider):
 * messages to it go to fn instead of a mailbox. Errors: SHOAL_ELIMIT (at
 * most 256 endpoints), SHOAL_ENOMEM. */
shoal_err actor_endpoint_new(actor_runtime *rt, actor_endpoint_fn fn, void *ctx,
                             actor_id *out);
/* Removes an endpoint; when it returns no callback of it is running and
 * none will start. Sends to it fail with SHOAL_ENOTFOUND. */
void actor_endpoint_delete(actor_runtime *rt, actor_id endpoint);
/* Answers a request an endpoint received (any thread). SHOAL_ENOTFOUND if
 * the caller is gone; a caller that stopped waiting drops it. */
shoal_err actor_endpoint_reply(actor_runtime *rt, actor_id endpoint,
                               actor_id to, uint64_t corr, const uint8_t *msg,
                               size_t len);

/* What an actor is doing, for operators. */
typedef struct actor_info {
    bool started;       /* initialised and handling messages (or in main) */
    bool restarting;    /* between an exit and its restart */
    uint32_t mailbox;   /* messages waiting */
    uint32_t restarts;  /* restarts since spawn */
    uint64_t fuel_used; /* since spawn, across restarts */
    bool has_exited;    /* it exited at least once (then restarted) */
    actor_exit last_exit;
} actor_info;

/* Fills *out for a live (or restarting) actor. SHOAL_ENOTFOUND if gone. */
shoal_err actor_info_get(actor_runtime *rt, actor_id id, actor_info *out);

/* Stops starting handler calls (messages wait in their mailboxes) and waits
 * until those under way return, for at most timeout_ms (< 0: no bound).
 * Long-running actors (shoal_main) are not waited for. For shutting down;
 * there is no undo. SHOAL_ETIMEDOUT if calls were still running. */
shoal_err actor_runtime_drain(actor_runtime *rt, int64_t timeout_ms);

#endif
