/* Scheduling: worker threads take runnable actors from run queues and run
 * each for one fuel slice; timers wake actors whose waits time out.
 *
 * Each worker has a FIFO run queue; an actor woken by an actor running on
 * a worker goes to that worker's queue, one woken from outside goes to the
 * global queue, and a worker with nothing to do takes from the global queue
 * or steals from the head of another worker's. An actor that still has work
 * after its slice goes to the back of its worker's queue, so an actor
 * spinning forever gets one slice per round and cannot starve the others.
 *
 * An actor's scheduling state is one atomic word (actor.run, actor_impl.h),
 * so waking an actor takes no lock: a sender pushes its message into the
 * mailbox and then sets RUN_NOTIFIED with one read-modify-write. If the
 * actor was idle, that sender enqueues it (and the queue holds a
 * reference); if it was queued, there is nothing more to do; if it runs,
 * its worker sees the bit when it tries to make it idle, and looks again.
 * Only read-modify-writes change the word, and each reads the latest value,
 * so a notification is never lost between a runner's last look and its
 * going idle. When the bit is set already (a flood of messages to one
 * actor), a notifier only reads it, and writes nothing.
 *
 * Memory orders: every access to the word is seq_cst, and so are the
 * accesses that publish and find work around it (the mailbox's push and
 * the consumer's look at the inbox, the kill_requested, restarting and
 * dead flags; replies and timeouts go under the actor's lock). On x86 a
 * seq_cst load is a plain load and a read-modify-write is locked anyway,
 * so this costs nothing there. It makes the notifier's fast path sound: a
 * notifier that publishes work and then reads the bit set has its read
 * before the runner's clearing of that bit in the single total order, and
 * the runner's next look comes after the clearing, so it finds the work.
 * Without the fast path, release and acquire would do: a turn's start
 * clears the bit and sets RUN_RUNNING (acquiring what was notified, and
 * the previous turn's writes); going idle is a compare-and-swap from
 * exactly RUN_RUNNING to 0 (releasing this turn's writes to the next
 * runner), which fails if a notification came.
 *
 * The workers' queues are rings written at the tail by their owner alone
 * and taken at the head with a compare-and-swap, by the owner or a thief
 * (as Go's scheduler's local run queues). The global queue is a list under
 * sched_lock; a worker takes a batch from it into its own queue, and moves
 * half of its queue there when its ring is full. A worker that finds
 * nothing spins briefly before it sleeps on sched_cond, so that a stream of
 * wake-ups (a spawning embedder) does not pay a futex wake-up each; on a
 * single CPU it sleeps at once, since the work it waits for cannot come
 * while it spins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actor_impl.h"

/* Slots of a worker's run queue (a power of two). */
#define RUNQ_SIZE 256u
/* Free message buffers a worker keeps per size class. */
#define POOL_PER_CLASS 512u
/* Pauses between two looks for work while spinning (SCHED_SPIN_ROUNDS
 * looks, actor_impl.h, before sleeping). */
#define SPIN_PAUSES 16

struct worker {
    actor_runtime *rt;
    unsigned index;
    unsigned turns;
    pthread_t thread;
    bool started;   /* its thread runs (and sched__stop joins it) */
    msg_pool *pool; /* this thread's message buffers */
    /* Handler calls this worker started and ended: each has one writer
     * (this worker); actor_runtime_drain adds them up. */
    atomic_uint_fast64_t calls_started, calls_ended;
    /* The run queue: actors in ring[head .. tail) (mod RUNQ_SIZE). tail is
     * written by the owner only; head moves by compare-and-swap, by the
     * owner or a thief. Both grow without bound and wrap modulo 2^32. */
    _Alignas(64) atomic_uint head;
    _Alignas(64) atomic_uint tail;
    _Atomic(actor *) ring[RUNQ_SIZE];
};

typedef struct timer_entry {
    uint64_t deadline;
    actor_id id;
    uint64_t seq;
    bool restart; /* restart id, rather than end a wait */
} timer_entry;

uint64_t sched__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The worker this thread is, or NULL off the workers. Thread-local rather
 * than shared state: it lets a wake-up made while an actor runs go to that
 * actor's own worker, and a message go through that worker's pool. The
 * initial-exec model makes it one load instead of a call per use; the
 * library is static, linked into programs, never dlopen'ed. */
#if defined(__GNUC__)
__attribute__((tls_model("initial-exec")))
#endif
static _Thread_local worker *this_worker;

#if defined(__GNUC__)
__attribute__((tls_model("initial-exec")))
#endif
_Thread_local msg_pool *sched__thread_pool;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* ---- the global queue (sched_lock held) ---- */

static void global_push_locked(actor_runtime *rt, actor *first, actor *last,
                               unsigned n)
{
    last->next_run = NULL;
    if (rt->global_tail)
        rt->global_tail->next_run = first;
    else
        rt->global_head = first;
    rt->global_tail = last;
    /* Relaxed: a hint for workers, who take under the lock. */
    atomic_fetch_add_explicit(&rt->global_len, n, memory_order_relaxed);
}

static actor *global_pop_locked(actor_runtime *rt)
{
    actor *a = rt->global_head;
    if (a) {
        rt->global_head = a->next_run;
        if (rt->global_head == NULL)
            rt->global_tail = NULL;
        a->next_run = NULL;
        atomic_fetch_sub_explicit(&rt->global_len, 1, memory_order_relaxed);
    }
    return a;
}

/* ---- a worker's run queue ---- */

/* Owner only: puts a at the back; false when the ring is full. */
static bool runq_put(worker *w, actor *a)
{
    unsigned t = atomic_load_explicit(&w->tail, memory_order_relaxed);
    /* Acquire: a taker's read of the slot we may now reuse came first. */
    unsigned h = atomic_load_explicit(&w->head, memory_order_acquire);
    if (t - h >= RUNQ_SIZE)
        return false;
    atomic_store_explicit(&w->ring[t % RUNQ_SIZE], a, memory_order_relaxed);
    /* Release: a taker that sees the new tail sees the slot. */
    atomic_store_explicit(&w->tail, t + 1, memory_order_release);
    return true;
}

/* The owner or a thief: takes the actor at the front, or NULL. */
static actor *runq_take(worker *w)
{
    unsigned h = atomic_load_explicit(&w->head, memory_order_acquire);
    for (;;) {
        unsigned t = atomic_load_explicit(&w->tail, memory_order_acquire);
        unsigned n = t - h;
        if (n == 0)
            return NULL;
        if (n > RUNQ_SIZE) { /* head moved on since we read it */
            h = atomic_load_explicit(&w->head, memory_order_acquire);
            continue;
        }
        actor *a =
            atomic_load_explicit(&w->ring[h % RUNQ_SIZE], memory_order_relaxed);
        /* Release: our read of the slot comes before the owner reuses it
         * (runq_put acquires head). */
        if (atomic_compare_exchange_weak_explicit(&w->head, &h, h + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
            return a;
    }
}

static bool runq_empty(worker *w)
{
    return atomic_load_explicit(&w->tail, memory_order_acquire) ==
           atomic_load_explicit(&w->head, memory_order_acquire);
}

static unsigned runq_len(worker *w)
{
    unsigned h = atomic_load_explicit(&w->head, memory_order_acquire);
    unsigned t = atomic_load_explicit(&w->tail, memory_order_acquire);
    return t - h <= RUNQ_SIZE ? t - h : 0;
}

/* Wakes one sleeping worker, if any sleeps. The seq_cst fence orders the
 * push made before against the read of `sleeping`; a worker going to sleep
 * counts itself and then (after a fence of its own) checks every queue, so
 * one of the two sees the other. */
static void wake_sleeper(actor_runtime *rt)
{
    atomic_thread_fence(memory_order_seq_cst);
    /* Pairs with the poller's store and fence in poll_for_work. */
    if (atomic_load_explicit(&rt->polling, memory_order_relaxed))
        rt->cfg.idle_wake(rt->cfg.ctx);
    if (atomic_load_explicit(&rt->sleeping, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&rt->sched_lock);
    pthread_cond_signal(&rt->sched_cond);
    pthread_mutex_unlock(&rt->sched_lock);
}

/* Owner only: the ring is full; moves half of it and a to the global
 * queue, in order, in one visit. */
static void runq_overflow(worker *w, actor *a)
{
    actor_runtime *rt = w->rt;
    actor *first = NULL, *last = NULL;
    unsigned n = 0;
    for (;;) {
        unsigned h = atomic_load_explicit(&w->head, memory_order_acquire);
        unsigned t = atomic_load_explicit(&w->tail, memory_order_relaxed);
        unsigned half = (t - h) / 2;
        if (half == 0)
            break;
        actor *batch[RUNQ_SIZE / 2];
        for (unsigned i = 0; i < half; i++)
            batch[i] = atomic_load_explicit(&w->ring[(h + i) % RUNQ_SIZE],
                                            memory_order_relaxed);
        if (!atomic_compare_exchange_strong_explicit(&w->head, &h, h + half,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire))
            continue; /* a thief took some: count again */
        for (unsigned i = 0; i < half; i++) {
            if (last)
                last->next_run = batch[i];
            else
                first = batch[i];
            last = batch[i];
        }
        n = half;
        break;
    }
    if (last)
        last->next_run = a;
    else
        first = a;
    pthread_mutex_lock(&rt->sched_lock);
    global_push_locked(rt, first, a, n + 1);
    if (atomic_load_explicit(&rt->sleeping, memory_order_relaxed))
        pthread_cond_signal(&rt->sched_cond);
    pthread_mutex_unlock(&rt->sched_lock);
}

/* Owner only: puts a (RUN_NOTIFIED, holding a queue reference) at the back
 * of w's queue. Another worker is woken only when w already has other work
 * queued: then there is something for it to take. */
static void enqueue_local(worker *w, actor *a)
{
    bool busy = !runq_empty(w);
    if (!runq_put(w, a)) {
        runq_overflow(w, a);
        return;
    }
    if (busy)
        wake_sleeper(w->rt);
}

/* From outside the workers (the embedder, the timer thread). */
static void enqueue_global(actor_runtime *rt, actor *a)
{
    pthread_mutex_lock(&rt->sched_lock);
    if (rt->stopping) {
        /* No worker will run it: the queue's reference goes now. The
         * runtime finishes every actor itself (actor_runtime_delete). */
        pthread_mutex_unlock(&rt->sched_lock);
        actor__unref(a);
        return;
    }
    global_push_locked(rt, a, a, 1);
    if (atomic_load_explicit(&rt->sleeping, memory_order_relaxed))
        pthread_cond_signal(&rt->sched_cond);
    pthread_mutex_unlock(&rt->sched_lock);
}

/* Sets RUN_NOTIFIED; true when the actor was idle and the caller must
 * enqueue it. */
static bool notify_bit(actor *a)
{
    /* Queued, notified or dead already: nothing to add (see the file
     * comment for why reading is enough). */
    if (atomic_load_explicit(&a->run, memory_order_seq_cst) &
        (RUN_NOTIFIED | RUN_DEAD))
        return false;
    unsigned old =
        atomic_fetch_or_explicit(&a->run, RUN_NOTIFIED, memory_order_seq_cst);
    return old == 0; /* else queued, running (it looks again) or dead */
}

/* Puts a, now queued, in a run queue, which takes a reference the caller
 * gives. */
static void enqueue(actor *a)
{
    worker *w = this_worker;
    if (w && w->rt == a->rt)
        enqueue_local(w, a); /* runs on this worker, without a hand-off */
    else
        enqueue_global(a->rt, a);
}

void sched__notify(actor *a)
{
    if (notify_bit(a)) {
        actor__ref(a); /* the queue's */
        enqueue(a);
    }
}

bool sched__notify_give(actor *a)
{
    if (!notify_bit(a))
        return false;
    enqueue(a); /* with the caller's reference */
    return true;
}

/* Takes up to a fair share of the global queue into w's own: one to run
 * now, the rest behind what w has. */
static actor *take_global(worker *w)
{
    actor_runtime *rt = w->rt;
    if (atomic_load_explicit(&rt->global_len, memory_order_relaxed) == 0)
        return NULL; /* a stale zero is caught by the sleep check */
    pthread_mutex_lock(&rt->sched_lock);
    unsigned len = atomic_load_explicit(&rt->global_len, memory_order_relaxed);
    unsigned n = len / rt->nworkers + 1;
    unsigned room = RUNQ_SIZE - runq_len(w);
    if (n > room / 2)
        n = room / 2;
    actor *a = global_pop_locked(rt);
    for (unsigned i = 1; a && i < n; i++) {
        actor *b = global_pop_locked(rt);
        if (b == NULL)
            break;
        runq_put(w, b); /* fits: n is at most half the room */
    }
    pthread_mutex_unlock(&rt->sched_lock);
    return a;
}

/* The next actor for w. Its own queue and the global queue take turns, so
 * neither can starve the other; then it steals from the others. */
static actor *take(worker *w)
{
    actor_runtime *rt = w->rt;
    actor *a;
    if (++w->turns & 1)
        a = runq_take(w);
    else
        a = take_global(w);
    if (a == NULL)
        a = (w->turns & 1) ? take_global(w) : runq_take(w);
    if (a)
        return a;
    for (unsigned i = 1; i < rt->nworkers; i++) {
        a = runq_take(&rt->workers[(w->index + i) % rt->nworkers]);
        if (a)
            return a;
    }
    return NULL;
}

static bool any_work(actor_runtime *rt)
{
    if (atomic_load_explicit(&rt->global_len, memory_order_relaxed))
        return true;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (!runq_empty(&rt->workers[i]))
            return true;
    return false;
}

/* ---- handler calls, for draining ---- */

static void call_started(worker *w)
{
    /* One writer: a load and a store. Release: paired with the acquire
     * loads of sched__handling. */
    uint_fast64_t n =
        atomic_load_explicit(&w->calls_started, memory_order_relaxed);
    atomic_store_explicit(&w->calls_started, n + 1, memory_order_release);
}

void sched__call_ended(actor_runtime *rt)
{
    worker *w = this_worker;
    if (w && w->rt == rt) {
        uint_fast64_t n =
            atomic_load_explicit(&w->calls_ended, memory_order_relaxed);
        atomic_store_explicit(&w->calls_ended, n + 1, memory_order_release);
    } else {
        atomic_fetch_add_explicit(&rt->calls_ended_off, 1,
                                  memory_order_release);
    }
}

int64_t sched__handling(actor_runtime *rt)
{
    /* Every end first, then every start: a call whose end is counted here
     * had started before (its start happens before its end, and both are
     * release stores read with acquire), so it is counted among the
     * starts, and the difference is never below the calls under way that
     * started before the starts were read. */
    uint64_t ended =
        atomic_load_explicit(&rt->calls_ended_off, memory_order_acquire);
    for (unsigned i = 0; i < rt->nworkers; i++)
        ended += atomic_load_explicit(&rt->workers[i].calls_ended,
                                      memory_order_acquire);
    uint64_t started = 0;
    for (unsigned i = 0; i < rt->nworkers; i++)
        started += atomic_load_explicit(&rt->workers[i].calls_started,
                                        memory_order_acquire);
    return (int64_t)(started - ended);
}

/* ---- running an actor ---- */

/* How a turn ended. */
enum turn_end {
    TURN_IDLE,      /* nothing to do now: waiting, or no message to take */
    TURN_SPENT,     /* the slice ran out between two calls */
    TURN_PREEMPTED, /* stopped within a call (fuel, yield): more to do */
    TURN_EXITED,    /* its life ended (an exit, maybe then a restart) */
};

static void exit_with(actor *a, actor_exit_kind kind, int32_t code,
                      wasm_trap trap)
{
    actor_exit why = {.kind = kind, .code = code, .trap = trap};
    actor__finish(a, &why);
}

static bool begin(actor *a, wasm_func *f, enum actor_calling calling,
                  const uint64_t *args, uint32_t nargs)
{
    a->calling = (uint8_t)calling;
    a->budget = a->fuel_budget;
    return wasm_exec_call(a->x, f, args, nargs) == SHOAL_OK;
}

/* Takes the next message of a reactive actor and calls shoal_handle. */
static bool begin_handle(actor *a)
{
    shoal_msg *m = mbox_pop(&a->mb);
    if (m == NULL)
        return false;
    actor__msg_free(a->current);
    a->current = m;
    if (m->kind == MSG_REQUEST)
        actor__open_request(a, m);
    uint64_t args[2] = {m->len, m->kind};
    return begin(a, a->handle, CALLING_HANDLE, args, 2);
}

/* Starts the next Wasm call of a, if there is one. Returns false when a
 * has nothing to run. */
static bool start_next_call(actor *a)
{
    switch (a->phase) {
    case PHASE_START:
        a->phase = PHASE_INITIALIZE;
        if (a->start)
            return begin(a, a->start, CALLING_SETUP, NULL, 0);
        /* fall through */
    case PHASE_INITIALIZE:
        a->phase = PHASE_INIT;
        if (a->initialize)
            return begin(a, a->initialize, CALLING_SETUP, NULL, 0);
        /* fall through */
    case PHASE_INIT:
        a->phase = PHASE_MAIN;
        if (a->init) {
            uint64_t arg = a->init_msg ? a->init_msg->len : 0;
            actor__msg_free(a->current);
            a->current = a->init_msg;
            a->init_msg = NULL;
            return begin(a, a->init, CALLING_HANDLE, &arg, 1);
        }
        if (a->init_msg) {
            /* Without shoal_init the init message is the first message of
             * the mailbox (kind INIT). */
            mbox_push_front(&a->mb, a->init_msg);
            a->init_msg = NULL;
        }
        /* fall through */
    case PHASE_MAIN:
        a->phase = PHASE_READY;
        atomic_store(&a->started, true);
        if (a->main)
            return begin(a, a->main, CALLING_MAIN, NULL, 0);
        /* fall through */
    case PHASE_READY:
        if (atomic_load_explicit(&a->rt->draining, memory_order_relaxed))
            return false;
        return a->handle ? begin_handle(a) : false;
    }
    return false;
}

/* A call of a returned. Returns false if that ended the actor. */
static bool call_done(actor *a)
{
    uint32_t n;
    const uint64_t *res = wasm_exec_results(a->x, &n);
    if (a->calling == CALLING_MAIN) {
        exit_with(a, ACTOR_EXIT_NORMAL, 0, WASM_TRAP_NONE);
        return false;
    }
    if (a->calling == CALLING_HANDLE) {
        /* The handler's message is done with: its buffer goes back to the
         * pool while it is still in the cache. */
        actor__msg_free(a->current);
        a->current = NULL;
    }
    if (a->calling == CALLING_HANDLE && n == 1 && (int32_t)res[0] != 0) {
        exit_with(a, ACTOR_EXIT_CODE, (int32_t)res[0], WASM_TRAP_NONE);
        return false;
    }
    return true;
}

/* Runs a until *slice is spent or it has nothing to do. */
static enum turn_end run_slice(worker *w, actor *a, int64_t *slice)
{
    for (;;) {
        if (atomic_load_explicit(&a->kill_requested, memory_order_seq_cst)) {
            pthread_mutex_lock(&a->lock);
            actor_exit why = a->kill_reason;
            pthread_mutex_unlock(&a->lock);
            actor__finish(a, &why);
            return TURN_EXITED;
        }
        /* Only this thread changes `wait` while the actor runs. */
        if (a->in_call && a->wait != WAIT_NONE && !abi__complete_wait(a))
            return TURN_IDLE; /* still waiting */
        if (!a->in_call) {
            if (*slice <= 0)
                return TURN_SPENT;
            if (!start_next_call(a))
                return TURN_IDLE;
            a->in_call = true;
            if (a->calling == CALLING_HANDLE)
                call_started(w);
        }
        int64_t fuel = *slice < a->budget ? *slice : a->budget;
        if (fuel < 1)
            fuel = 1;
        wasm_exec_set_fuel(a->x, fuel);
        wasm_status st = wasm_exec_run(a->x);
        int64_t used = fuel - wasm_exec_fuel(a->x);
        *slice -= used;
        a->budget -= used;
        /* One writer (the runner): a load and a store; readers tolerate a
         * count a turn behind. */
        atomic_store_explicit(
            &a->fuel_total,
            atomic_load_explicit(&a->fuel_total, memory_order_relaxed) +
                (uint64_t)used,
            memory_order_relaxed);
        switch (st) {
        case WASM_DONE:
            actor__call_ended(a);
            if (!call_done(a))
                return TURN_EXITED;
            break;
        case WASM_OUT_OF_FUEL:
            if (a->budget <= 0) {
                exit_with(a, ACTOR_EXIT_FUEL, 0, WASM_TRAP_NONE);
                return TURN_EXITED;
            }
            return TURN_PREEMPTED; /* back of the queue */
        case WASM_SUSPENDED:
            if (a->wait == WAIT_YIELD)
                return TURN_PREEMPTED;
            break; /* the loop completes the wait if it can */
        case WASM_TRAPPED: {
            actor__call_ended(a);
            wasm_trap t = wasm_exec_trap(a->x);
            if (t == WASM_TRAP_EXIT) {
                int32_t code = wasm_exec_exit_code(a->x);
                exit_with(a, code ? ACTOR_EXIT_CODE : ACTOR_EXIT_NORMAL, code,
                          WASM_TRAP_NONE);
            } else {
                exit_with(a, ACTOR_EXIT_TRAP, 0, t);
            }
            return TURN_EXITED;
        }
        }
    }
}

/* Puts a, still running, at the back of w's queue (keeping the queue's
 * reference). */
static void requeue(worker *w, actor *a)
{
    unsigned s = atomic_load_explicit(&a->run, memory_order_seq_cst);
    /* The next runner acquires this turn's writes. */
    while (!atomic_compare_exchange_weak_explicit(
        &a->run, &s, (s & ~RUN_RUNNING) | RUN_NOTIFIED, memory_order_seq_cst,
        memory_order_seq_cst))
        ;
    enqueue_local(w, a);
}

/* One turn of a, taken from a queue (RUN_NOTIFIED set, holding the queue's
 * reference, which it gives back or passes on). */
static void run_actor(worker *w, actor *a)
{
    unsigned s = atomic_load_explicit(&a->run, memory_order_seq_cst);
    /* Takes the notification: the work notified, and the previous turn's
     * writes, are visible from here on. */
    while (!atomic_compare_exchange_weak_explicit(
        &a->run, &s, (s & ~RUN_NOTIFIED) | RUN_RUNNING, memory_order_seq_cst,
        memory_order_seq_cst))
        ;
    int64_t slice = w->rt->cfg.fuel_slice;
    for (;;) {
        enum turn_end end = TURN_IDLE;
        /* A restarting actor has no Wasm state (the restart builds it);
         * a dead one is done. Neither is touched here. Seq_cst: see the
         * file comment (acquire would do for the state the restart built,
         * published by its seq_cst store of restarting). */
        if (!atomic_load_explicit(&a->restarting, memory_order_seq_cst) &&
            !atomic_load_explicit(&a->dead, memory_order_seq_cst))
            end = run_slice(w, a, &slice);
        if (atomic_load_explicit(&a->dead, memory_order_seq_cst)) {
            actor__unref(a); /* RUN_DEAD keeps it out of the queues */
            return;
        }
        if (end == TURN_PREEMPTED ||
            (end == TURN_SPENT && !mbox_empty(&a->mb))) {
            requeue(w, a);
            return;
        }
        unsigned running = RUN_RUNNING;
        /* The next runner acquires this turn's writes. */
        if (atomic_compare_exchange_strong_explicit(&a->run, &running, 0,
                                                    memory_order_seq_cst,
                                                    memory_order_seq_cst)) {
            actor__unref(a);
            return;
        }
        /* Notified while it ran: take the notification and look again,
         * in this turn while the slice lasts. */
        atomic_fetch_and_explicit(&a->run, ~RUN_NOTIFIED, memory_order_seq_cst);
        if (slice <= 0) {
            requeue(w, a);
            return;
        }
    }
}

/* The idle poller's turn (cfg.idle_poll): waits in the embedder's poll,
 * which may deliver messages into this worker's own queue. False when the
 * embedder cannot poll now or another worker is the poller. */
static bool poll_for_work(actor_runtime *rt)
{
    if (rt->cfg.idle_poll == NULL ||
        atomic_exchange_explicit(&rt->poller, true, memory_order_acquire))
        return false;
    pthread_mutex_lock(&rt->sched_lock);
    bool stopping = rt->stopping;
    pthread_mutex_unlock(&rt->sched_lock);
    bool polled = false;
    if (!stopping) {
        atomic_store_explicit(&rt->polling, true, memory_order_seq_cst);
        /* Pairs with wake_sleeper's fence: work pushed before a pusher
         * read `polling` as false is visible to the check below. */
        atomic_thread_fence(memory_order_seq_cst);
        polled = any_work(rt) || rt->cfg.idle_poll(rt->cfg.ctx, 100);
        atomic_store_explicit(&rt->polling, false, memory_order_relaxed);
    }
    atomic_store_explicit(&rt->poller, false, memory_order_release);
    return polled;
}

/* Sleeps until there may be work; false when the runtime stops. */
static bool sleep_until_work(worker *w)
{
    actor_runtime *rt = w->rt;
    for (int i = 0; i < rt->spin_rounds; i++) {
        for (int k = 0; k < SPIN_PAUSES; k++)
            cpu_relax();
        if (any_work(rt))
            return true;
    }
    if (poll_for_work(rt))
        return true;
    pthread_mutex_lock(&rt->sched_lock);
    if (rt->stopping) {
        pthread_mutex_unlock(&rt->sched_lock);
        return false;
    }
    atomic_fetch_add_explicit(&rt->sleeping, 1, memory_order_seq_cst);
    /* Pairs with wake_sleeper's fence: a push made before a pusher read
     * `sleeping` as zero is visible to the check below. */
    atomic_thread_fence(memory_order_seq_cst);
    if (rt->global_head == NULL && !any_work(rt)) {
        if (rt->cfg.idle_poll) {
            /* Wakes now and then to take the poller's turn: what arrives
             * on the embedder's sockets wakes nobody else. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&rt->sched_cond, &rt->sched_lock, &ts);
        } else {
            pthread_cond_wait(&rt->sched_cond, &rt->sched_lock);
        }
    }
    atomic_fetch_sub_explicit(&rt->sleeping, 1, memory_order_relaxed);
    bool go_on = !rt->stopping;
    pthread_mutex_unlock(&rt->sched_lock);
    return go_on;
}

static bool rt_polls(const worker *w)
{
    return w->rt->cfg.idle_poll != NULL;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    this_worker = w;
    sched__thread_pool = w->pool;
    unsigned runs = 0;
    for (;;) {
        actor *a = take(w);
        if (a) {
            run_actor(w, a);
            /* A busy worker reads the embedder's sockets now and then too
             * (as Erlang's schedulers check for I/O), so that messages
             * from other nodes do not wait for an idle one. */
            if (rt_polls(w) && ++runs % 64 == 0 &&
                !atomic_exchange_explicit(&w->rt->poller, true,
                                          memory_order_acquire)) {
                w->rt->cfg.idle_poll(w->rt->cfg.ctx, 0);
                atomic_store_explicit(&w->rt->poller, false,
                                      memory_order_release);
            }
            continue;
        }
        if (!sleep_until_work(w))
            return NULL;
    }
}

/* ---- timers ---- */

static void heap_up(timer_entry *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].deadline <= h[i].deadline)
            break;
        timer_entry t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static void heap_down(timer_entry *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].deadline < h[m].deadline)
            m = l;
        if (r < n && h[r].deadline < h[m].deadline)
            m = r;
        if (m == i)
            return;
        timer_entry t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
}

static void timer_push(actor_runtime *rt, timer_entry e);

void sched__timer_restart(actor_runtime *rt, int64_t ms, actor_id id)
{
    timer_push(
        rt, (timer_entry){.deadline = sched__now_ns() + (uint64_t)ms * 1000000u,
                          .id = id,
                          .restart = true});
}

void sched__timer_add(actor_runtime *rt, int64_t ms, actor_id id, uint64_t seq)
{
    timer_push(
        rt, (timer_entry){.deadline = sched__now_ns() + (uint64_t)ms * 1000000u,
                          .id = id,
                          .seq = seq});
}

static void timer_fire(actor_runtime *rt, const timer_entry *e);

static void timer_push(actor_runtime *rt, timer_entry e)
{
    pthread_mutex_lock(&rt->timer_lock);
    if (rt->ntimers == rt->captimers) {
        size_t ncap = rt->captimers ? rt->captimers * 2 : 64;
        timer_entry *nt = realloc(rt->timers, ncap * sizeof *nt);
        if (nt == NULL) {
            /* Without a timer the wait would never end: fire it now. */
            pthread_mutex_unlock(&rt->timer_lock);
            timer_fire(rt, &e);
            return;
        }
        rt->timers = nt;
        rt->captimers = ncap;
    }
    rt->timers[rt->ntimers] = e;
    heap_up(rt->timers, rt->ntimers++);
    /* The timer thread sleeps until the earliest deadline: it needs waking
     * only when this entry became the earliest. */
    if (rt->timers[0].deadline == e.deadline)
        pthread_cond_signal(&rt->timer_cond);
    pthread_mutex_unlock(&rt->timer_lock);
}

static void timer_fire(actor_runtime *rt, const timer_entry *e)
{
    if (e->id == 0) {
        /* An embedder call timing out: its reply never came. */
        shoal_msg *m = msg_new(MSG_REPLY, 0, e->seq, NULL, 0);
        if (m) {
            m->len = 0;
            actor__embedder_reply(rt, m);
        }
        return;
    }
    actor *a = actor__lookup(rt, e->id);
    if (a == NULL)
        return;
    if (e->restart) {
        actor__restart(a);
        actor__unref(a);
        return;
    }
    pthread_mutex_lock(&a->lock);
    bool fired = a->wait_seq == e->seq && a->wait != WAIT_NONE;
    if (fired)
        a->timed_out = true;
    pthread_mutex_unlock(&a->lock);
    if (fired)
        sched__notify(a);
    actor__unref(a);
}

static void *timer_main(void *arg)
{
    actor_runtime *rt = arg;
    pthread_mutex_lock(&rt->timer_lock);
    while (!rt->timer_stop) {
        if (rt->ntimers == 0) {
            pthread_cond_wait(&rt->timer_cond, &rt->timer_lock);
            continue;
        }
        uint64_t now = sched__now_ns();
        if (rt->timers[0].deadline > now) {
            uint64_t d = rt->timers[0].deadline;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t wait = d - now;
            ts.tv_sec += (time_t)(wait / 1000000000u);
            ts.tv_nsec += (long)(wait % 1000000000u);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&rt->timer_cond, &rt->timer_lock, &ts);
            continue;
        }
        timer_entry e = rt->timers[0];
        rt->timers[0] = rt->timers[--rt->ntimers];
        heap_down(rt->timers, rt->ntimers, 0);
        pthread_mutex_unlock(&rt->timer_lock);
        timer_fire(rt, &e);
        pthread_mutex_lock(&rt->timer_lock);
    }
    pthread_mutex_unlock(&rt->timer_lock);
    return NULL;
}

/* ---- start and stop ---- */

shoal_err sched__start(actor_runtime *rt)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->timer_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&rt->timer_lock, NULL);
    pthread_mutex_init(&rt->sched_lock, NULL);
    pthread_cond_init(&rt->sched_cond, NULL);

    /* Aligned as the queue's cache-line-separated head and tail ask. */
    size_t bytes = rt->nworkers * sizeof *rt->workers;
    rt->workers = aligned_alloc(_Alignof(worker), bytes);
    if (rt->workers == NULL)
        return SHOAL_ENOMEM;
    memset(rt->workers, 0, bytes);
    for (unsigned i = 0; i < rt->nworkers; i++) {
        worker *w = &rt->workers[i];
        w->rt = rt;
        w->index = i;
        atomic_init(&w->head, 0);
        atomic_init(&w->tail, 0);
        atomic_init(&w->calls_started, 0);
        atomic_init(&w->calls_ended, 0);
        for (unsigned k = 0; k < RUNQ_SIZE; k++)
            atomic_init(&w->ring[k], NULL);
        w->pool = msg_pool_new(POOL_PER_CLASS);
        if (w->pool == NULL)
            return SHOAL_ENOMEM; /* sched__free frees the pools made */
    }
    if (pthread_create(&rt->timer_thread, NULL, timer_main, rt) != 0)
        return SHOAL_ENOMEM;
    rt->timer_started = true;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        if (pthread_create(&rt->workers[i].thread, NULL, worker_main,
                           &rt->workers[i]) != 0)
            return SHOAL_ENOMEM;
        rt->workers[i].started = true; /* sched__stop joins it */
    }
    return SHOAL_OK;
}

void sched__stop(actor_runtime *rt)
{
    pthread_mutex_lock(&rt->sched_lock);
    rt->stopping = true;
    pthread_cond_broadcast(&rt->sched_cond);
    pthread_mutex_unlock(&rt->sched_lock);
    if (rt->cfg.idle_wake)
        rt->cfg.idle_wake(rt->cfg.ctx);
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (rt->workers[i].started)
            pthread_join(rt->workers[i].thread, NULL);

    if (rt->timer_started) {
        pthread_mutex_lock(&rt->timer_lock);
        rt->timer_stop = true;
        pthread_cond_signal(&rt->timer_cond);
        pthread_mutex_unlock(&rt->timer_lock);
        pthread_join(rt->timer_thread, NULL);
    }
}

void sched__free(actor_runtime *rt)
{
    /* Actors still queued lose the queues' references. */
    for (unsigned i = 0; i < rt->nworkers; i++) {
        actor *a;
        while ((a = runq_take(&rt->workers[i])))
            actor__unref(a);
        msg_pool_delete(rt->workers[i].pool);
    }
    actor *a;
    while ((a = global_pop_locked(rt)))
        actor__unref(a);
    free(rt->workers);
    rt->workers = NULL;
    free(rt->timers);
    pthread_mutex_destroy(&rt->sched_lock);
    pthread_cond_destroy(&rt->sched_cond);
    pthread_mutex_destroy(&rt->timer_lock);
    pthread_cond_destroy(&rt->timer_cond);
}
