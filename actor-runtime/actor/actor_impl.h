/* Private to actor-runtime/actor: the structures behind actor.h, shared by
 * actor.c (lifecycle, table, links), sched.c (workers, queues, timers) and
 * abi.c (the guest's imports). */
#ifndef SHOAL_ACTOR_IMPL_H
#define SHOAL_ACTOR_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "actor.h"
#include "arena.h"
#include "mailbox.h"
#include "shoal_msg.h"

typedef struct actor actor;
typedef struct worker worker;
typedef struct table_slot table_slot;

/* A module the runtime knows by name. Reference-counted: actors spawned
 * from it keep it while a newer module replaces it under the same name. */
typedef struct module_entry {
    atomic_int refs;
    char *name;
    wasm_module *m;
    /* Bytes an instance's Wasm state takes in its block, learnt from the
     * last spawn (wasm_store_block_wanted); a spawn allocates that much
     * with the actor. Relaxed: only a size hint. */
    atomic_size_t block_bytes;
    /* The numbers (wasm_module_export) of the function exports an actor
     * may have, found once, or -1: see module_export_roles. */
    int32_t ex_handle, ex_init, ex_main, ex_start, ex_initialize;
    struct module_entry *next;
} module_entry;

/* Where an actor is in scheduling: bits of actor.run, changed only by
 * read-modify-writes (sched.c says which and with which order).
 *   0                     idle: in no queue, not running
 *   RUN_NOTIFIED          queued: in exactly one run queue
 *   RUN_RUNNING           a worker runs it
 *   RUN_RUNNING|NOTIFIED  runs, and something for it arrived meanwhile
 * RUN_DEAD is added when it exits for good: nothing enqueues it again. */
enum {
    RUN_RUNNING = 1u,
    RUN_NOTIFIED = 2u,
    RUN_DEAD = 4u,
};

/* What a suspended actor waits for. */
enum wait_kind {
    WAIT_NONE,    /* not suspended in a host call */
    WAIT_RECEIVE, /* receive(): the next message */
    WAIT_CALL,    /* call(): the reply with wait_corr */
    WAIT_YIELD,   /* sched_yield(): just the next turn */
};

/* Start-up runs the module's start function, then _initialize, then
 * shoal_init, then shoal_main; each phase that has nothing to call is
 * skipped. */
enum actor_phase {
    PHASE_START,
    PHASE_INITIALIZE,
    PHASE_INIT,
    PHASE_MAIN,
    PHASE_READY, /* started: handling messages, or in shoal_main */
};

enum actor_calling {
    CALLING_SETUP,  /* start function or _initialize: no result */
    CALLING_HANDLE, /* shoal_init or shoal_handle: 0 or an exit code */
    CALLING_MAIN,   /* shoal_main or _start: returning is a normal exit */
};

/* Who watches this actor with a monitor. */
typedef struct monitor_entry {
    uint64_t ref;
    actor_id watcher;
} monitor_entry;

/* Endpoint ids use slots from ENDPOINT_SLOT_BASE up, beyond any slot of
 * the actor table. */
#define ENDPOINT_SLOT_BASE 0xffffff00u
/* Rounds an idle worker looks for work before it sleeps (sched.c). */
#define SCHED_SPIN_ROUNDS 32
#define MAX_ENDPOINTS 256

typedef struct endpoint_entry {
    actor_endpoint_fn fn;
    void *ctx;
} endpoint_entry;

/* The fields a message touches come first, so that the sender's and the
 * runner's work on an actor falls on its first few cache lines; a sender
 * touches only the first (the actor is cache-line aligned). */
struct actor {
    /* ---- the message path: the sender's line ---- */
    /* Its slot in the table, which counts its references (the table's
     * while it is live, plus every holder's); NULL before it is in. */
    table_slot *slot;
    actor_runtime *rt;
    atomic_uint run; /* RUN_* bits */
    mailbox mb;      /* pushed by senders, popped by the runner */

    /* ---- the runner's line: what a message's turn touches ---- */
    actor_id id;
    /* Execution state: touched only by the worker that runs the actor. */
    wasm_exec *x;
    wasm_func *handle;   /* shoal_handle: reactive */
    shoal_msg *current;  /* the current message */
    int64_t budget;      /* fuel left for this message */
    int64_t fuel_budget; /* a message's whole budget (fuel_per_message) */
    atomic_uint_fast64_t fuel_total; /* since spawn; read by actor_info */
    atomic_bool kill_requested;      /* actor_kill or a failed link; read
                                      * without the lock by the running worker */
    /* Exiting or exited: no more messages. Written under the lock, read
     * without it by the worker that picks the actor up. */
    atomic_bool dead;
    /* Between an exit and its restart: it has no Wasm state, and no worker
     * touches it. Written under the lock; read without it by workers (the
     * restart's new state is visible once it reads false). */
    atomic_bool restarting;
    bool in_call;    /* a Wasm call is under way (x holds state) */
    bool req_open;   /* see req_sender */
    uint8_t phase;   /* enum actor_phase */
    uint8_t calling; /* enum actor_calling: what the call under way is */
    uint8_t wait;    /* enum wait_kind; written under the lock by the runner
                      * only */

    /* ---- the rest ---- */
    /* The most recent request received, until answered (req_open): reply
     * answers it even after later receives and calls replaced the current
     * message. */
    actor_id req_sender;
    uint64_t req_corr;
    actor_limits limits;
    actor *next_run;      /* link in the global run queue */
    pthread_mutex_t lock; /* what follows up to the execution state, and
                           * `wait`, but for the fields that say they are
                           * atomic */
    shoal_msg *reply;     /* the awaited reply, when it arrived */
    uint64_t wait_corr;   /* WAIT_CALL */
    uint64_t wait_seq;    /* increments per wait; stale timers see a change */
    actor_exit kill_reason;
    actor_exit exit_reason;
    actor_exit last_exit; /* for actor_info, valid when has_exited */

    actor_id *links;
    uint32_t nlinks, caplinks;
    monitor_entry *monitors; /* who watches this actor */
    uint32_t nmonitors, capmonitors;
    monitor_entry *monitoring; /* whom it watches (watcher = the target) */
    uint32_t nmonitoring, capmonitoring;

    /* More execution state. */
    module_entry *mod;
    wasm_store *store;
    wasm_instance *inst;
    wasm_func *init;       /* shoal_init */
    wasm_func *main;       /* shoal_main or _start: long-running */
    wasm_func *start;      /* the module's start function */
    wasm_func *initialize; /* _initialize of a WASI reactor */
    shoal_msg *init_msg;
    shoal_msg *init_copy; /* for restarts */
    void *tag;            /* actor_spawn_opts.tag, for the embedder */
    /* Memory for the Wasm state (wasm_store_new_in), allocated with the
     * actor right after it: block_bytes at block. */
    void *block;
    size_t block_bytes;
    void *alloc_base; /* what malloc gave for the actor and its block */
    char *logbuf;     /* a partial stdout/stderr line */

    /* Supervision (actor_spawn_opts). */
    uint64_t window_start; /* ns */
    actor_restart restart;
    uint32_t backoff_initial_ms, backoff_max_ms;
    uint32_t max_restarts, restart_window_ms;
    uint32_t restarts;          /* in the current window */
    atomic_uint total_restarts; /* since spawn; read without the lock */
    uint32_t loglen;

    bool timed_out; /* the wait's timer fired */
    bool finished;  /* exit complete: links and monitors told (written
                     * under the runtime's recent_lock) */
    bool has_exited;
    bool trap_exit;
    /* A thread owns the restarting actor: its restart, making the Wasm
     * state, or actor_kill, ending it. The other then leaves it alone. */
    bool owned;
    /* Phase READY since the last (re)start; read without the lock by
     * actor_info. */
    atomic_bool started;
};

struct actor_runtime {
    actor_config cfg;
    unsigned nworkers;
    worker *workers;

    pthread_mutex_t modules_lock;
    module_entry *modules;

    /* The actor table (table.c): slot -> actor, read without a lock; the
     * lock covers slot allocation and the free list. */
    pthread_mutex_t table_lock;
    _Atomic(table_slot *) *table_dir; /* chunks of slots */
    uint32_t nslots;
    uint32_t *free_slots;
    uint32_t nfree, capfree;
    atomic_size_t live;

    /* Linear memories of all actors, carved from shared reservations. */
    arena *memories;
    wasm_memory_provider memory_provider;

    /* Host functions shared by every actor (their env is the runtime). */
    wasm_store *host_store;
    struct abi_host *abi;

    /* Run queue for actors made runnable off the workers, and for the
     * overflow of the workers' own queues. */
    pthread_mutex_t sched_lock;
    pthread_cond_t sched_cond;
    actor *global_head, *global_tail;
    atomic_uint global_len; /* lets workers skip an empty global queue */
    atomic_uint sleeping;   /* workers waiting on sched_cond */
    atomic_bool draining;   /* actor_runtime_drain: no new handler calls */
    int spin_rounds;        /* an idle worker's rounds of looking for work
                             * before it sleeps (0 on one CPU) */
    atomic_bool poller;     /* a worker is the idle poller (cfg.idle_poll) */
    atomic_bool polling;    /* ... and is waiting in it: wake it to wake it */
    /* Handler calls ended off the workers (sched__call_ended); the workers
     * count theirs in their own counters. */
    atomic_uint_fast64_t calls_ended_off;
    bool stopping;

    /* Timers: a binary heap ordered by deadline, run by a timer thread. */
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    struct timer_entry *timers;
    size_t ntimers, captimers;
    pthread_t timer_thread;
    bool timer_started, timer_stop;

    /* The last RECENT_EXITS exits, for actor_wait after the fact; the lock
     * also covers every actor's `finished`, and exit_cond tells actor_wait
     * that one finished (when it has waiters). */
    pthread_mutex_t recent_lock;
    struct recent_exit *recent;
    uint32_t recent_next;
    pthread_cond_t exit_cond;
    uint32_t exit_waiters;

    /* Endpoints (actor_endpoint_new): callbacks run under the read lock,
     * deletion takes the write lock. */
    pthread_rwlock_t endpoints_lock;
    endpoint_entry endpoints[MAX_ENDPOINTS];

    /* Requests from the embedder waiting for replies. */
    pthread_mutex_t calls_lock;
    struct pending_call *calls;
    atomic_uint_fast64_t next_corr;
    atomic_uint_fast64_t next_ref;
};

/* sched.c: counts a handler call as ended, for actor_runtime_drain. */
void sched__call_ended(actor_runtime *rt);

/* The Wasm call under way in a is over (or abandoned). */
static inline void actor__call_ended(actor *a)
{
    if (a->in_call && a->calling == CALLING_HANDLE)
        sched__call_ended(a->rt);
    a->in_call = false;
}

/* table.c */
shoal_err table__init(actor_runtime *rt);
void table__free(actor_runtime *rt);
/* Puts a in a free slot, gives it its id, and counts the table's
 * reference. SHOAL_ELIMIT (max_actors), SHOAL_ENOMEM. */
shoal_err table__insert(actor_runtime *rt, actor *a);
/* Takes a out of the table: lookups of its id fail from now on. The
 * table's reference stays until the caller drops it. */
void table__remove(actor_runtime *rt, actor *a);
/* The next live actor from slot *i on (+1 ref), or NULL at the end. */
actor *table__next(actor_runtime *rt, uint32_t *i);
actor *actor__lookup(actor_runtime *rt, actor_id id); /* +1 ref, or NULL */
void actor__ref(actor *a);   /* for a holder of a reference */
void actor__unref(actor *a); /* the last one frees the actor */

/* actor.c */
void actor__free(actor *a);
/* Delivers m (owned) to id; on error m is freed. Requests get their corr. */
shoal_err actor__deliver(actor_runtime *rt, actor_id to, shoal_msg *m);
/* Ends a (on its worker): links, monitors, waiting callers, the table. */
void actor__finish(actor *a, const actor_exit *why);
/* Starts a restarting actor again (from the timer thread). */
void actor__restart(actor *a);
void actor__log(actor *a, int level, const char *msg, size_t len);
/* A request becomes the one reply answers; an earlier unanswered one is
 * refused (its caller gets SHOAL_E_EXITED-style "no reply"). */
void actor__open_request(actor *a, const shoal_msg *req);
/* A reply addressed to the embedder (sender 0). */
void actor__embedder_reply(actor_runtime *rt, shoal_msg *m);
shoal_err actor__spawn_internal(actor_runtime *rt, module_entry *mod,
                                const uint8_t *init, size_t init_len,
                                const actor_spawn_opts *opts, actor_id *out,
                                shoal_errinfo *ei);
module_entry *actor__find_module(actor_runtime *rt, const char *name,
                                 size_t len);

/* sched.c */
shoal_err sched__start(actor_runtime *rt);
void sched__stop(actor_runtime *rt); /* joins the threads */
void sched__free(actor_runtime *rt);
/* Tells a that something for it arrived (a message, a reply, a timeout, a
 * kill, its start): an idle actor goes into a run queue, a running one
 * looks again before it goes idle. Call after making the work visible;
 * with or without a->lock. */
void sched__notify(actor *a);
/* sched__notify for a caller about to drop its reference to a: when a
 * goes into a run queue, the queue takes that reference instead of a new
 * one (true: the caller's reference is gone). */
bool sched__notify_give(actor *a);
/* Handler calls under way (started and not ended), for draining. */
int64_t sched__handling(actor_runtime *rt);
/* The message pool of the calling thread's worker, or NULL off the
 * workers (set by each worker thread as it starts; thread-local, as the
 * worker itself is in sched.c). Messages made and freed on a worker go
 * through it: there are two or three per message, hence no call. */
#if defined(__GNUC__)
__attribute__((tls_model("initial-exec")))
#endif
extern _Thread_local msg_pool *sched__thread_pool;

static inline msg_pool *sched__pool(void)
{
    return sched__thread_pool;
}

/* Frees a message, keeping its buffer in this thread's pool if it has one. */
static inline void actor__msg_free(shoal_msg *m)
{
    msg_pool_free(sched__pool(), m);
}

/* Timers: after ms, wake actor id if its wait_seq is still seq; or time
 * out the embedder call corr (id 0). */
void sched__timer_add(actor_runtime *rt, int64_t ms, actor_id id, uint64_t seq);
/* After ms, restart actor id (actor__restart). */
void sched__timer_restart(actor_runtime *rt, int64_t ms, actor_id id);
uint64_t sched__now_ns(void);

/* abi.c */
shoal_err abi__make_host(actor_runtime *rt);
void abi__free_host(actor_runtime *rt);
/* Resolves m's imports for an actor; imports has one entry per import. */
shoal_err abi__link(actor_runtime *rt, const wasm_module *m,
                    wasm_extern *imports, shoal_errinfo *ei);
/* Finishes a suspended host call of a whose wait is satisfied (takes
 * a->lock): writes the result. Returns false if the wait goes on. Only the
 * worker running a calls it. */
bool abi__complete_wait(actor *a);

#endif
