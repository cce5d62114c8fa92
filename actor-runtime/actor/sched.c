/* Scheduling: worker threads take runnable actors from run queues and run
 * each for one fuel slice; timers wake actors whose waits time out.
 *
 * Each worker has a FIFO run queue; an actor woken by an actor running on
 * a worker goes to that worker's queue, one woken from outside goes to the
 * global queue, and a worker with nothing to do takes from the global queue
 * or steals from the head of another worker's. An actor that still has work
 * after its slice goes to the back of its worker's queue, so an actor
 * spinning forever gets one slice per round and cannot starve the others.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actor_impl.h"

struct worker {
    actor_runtime *rt;
    unsigned index;
    unsigned turns;
    pthread_t thread;
    pthread_mutex_t lock;
    actor *head, *tail;
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

/* ---- run queues ---- */

static void queue_push(actor **head, actor **tail, actor *a)
{
    a->next_run = NULL;
    if (*tail)
        (*tail)->next_run = a;
    else
        *head = a;
    *tail = a;
}

static actor *queue_pop(actor **head, actor **tail)
{
    actor *a = *head;
    if (a) {
        *head = a->next_run;
        if (*head == NULL)
            *tail = NULL;
        a->next_run = NULL;
    }
    return a;
}

/* Wakes one sleeping worker, if any sleeps. A worker going to sleep counts
 * itself under sched_lock and then checks every queue, so a push made
 * before this reads zero is seen by that check. */
static void signal_sleeper(actor_runtime *rt)
{
    if (atomic_load(&rt->sleeping) == 0)
        return;
    pthread_mutex_lock(&rt->sched_lock);
    pthread_cond_signal(&rt->sched_cond);
    pthread_mutex_unlock(&rt->sched_lock);
}

/* Puts a preempted actor (now RUN_QUEUED) at the back of w's queue, and
 * lets a sleeping worker come and steal it. */
static void requeue(worker *w, actor *a)
{
    pthread_mutex_lock(&w->lock);
    queue_push(&w->head, &w->tail, a);
    pthread_mutex_unlock(&w->lock);
    signal_sleeper(w->rt);
}

/* The worker this thread is, or NULL off the workers. Thread-local rather
 * than shared state: it only lets a wake-up made while an actor runs go to
 * that actor's own worker. */
static _Thread_local worker *this_worker;

/* Is there something for a to do now? (a->lock held) */
static bool has_work(const actor *a)
{
    if (a->restarting)
        return false; /* no Wasm state until the restart timer fires */
    if (a->kill_requested || a->phase != PHASE_READY)
        return true;
    if (!a->in_call &&
        atomic_load_explicit(&a->rt->draining, memory_order_relaxed))
        return false; /* draining: no new handler calls */
    if (a->in_call) {
        switch (a->wait) {
        case WAIT_NONE:
        case WAIT_YIELD:
            return true;
        case WAIT_RECEIVE:
            return a->mb_head != NULL || a->timed_out;
        case WAIT_CALL:
            return a->reply != NULL || a->timed_out;
        }
    }
    /* Between messages: a reactive actor runs when mail is there. */
    return a->handle != NULL && a->mb_head != NULL;
}

void sched__wake_locked(actor *a)
{
    if (a->sched != RUN_IDLE || !has_work(a))
        return;
    actor_runtime *rt = a->rt;
    worker *w = this_worker;
    if (w && w->rt == rt) {
        /* Woken by an actor running here (a send, a reply): it runs on
         * this worker next, without a cross-thread hand-off. Another worker
         * is woken only when this one already has work queued. */
        a->sched = RUN_QUEUED;
        atomic_fetch_add(&a->refs, 1); /* the queue's */
        pthread_mutex_lock(&w->lock);
        bool busy = w->head != NULL;
        queue_push(&w->head, &w->tail, a);
        pthread_mutex_unlock(&w->lock);
        if (busy)
            signal_sleeper(rt);
        return;
    }
    /* From outside the workers (the embedder, the timer thread). */
    pthread_mutex_lock(&rt->sched_lock);
    if (!rt->stopping) {
        a->sched = RUN_QUEUED;
        atomic_fetch_add(&a->refs, 1); /* the queue's */
        queue_push(&rt->global_head, &rt->global_tail, a);
        atomic_fetch_add(&rt->global_len, 1);
        if (atomic_load(&rt->sleeping))
            pthread_cond_signal(&rt->sched_cond);
    }
    pthread_mutex_unlock(&rt->sched_lock);
}

static actor *take_local(worker *w)
{
    pthread_mutex_lock(&w->lock);
    actor *a = queue_pop(&w->head, &w->tail);
    pthread_mutex_unlock(&w->lock);
    return a;
}

static actor *take_global(actor_runtime *rt)
{
    if (atomic_load_explicit(&rt->global_len, memory_order_relaxed) == 0)
        return NULL; /* a stale zero is caught by the sleep check */
    pthread_mutex_lock(&rt->sched_lock);
    actor *a = queue_pop(&rt->global_head, &rt->global_tail);
    if (a)
        atomic_fetch_sub(&rt->global_len, 1);
    pthread_mutex_unlock(&rt->sched_lock);
    return a;
}

/* The next actor for w. The local queue (preempted actors) and the global
 * queue (woken actors) take turns, so neither can starve the other: a busy
 * loop stays in the local queue while a message rally flows through the
 * global one. */
static actor *take(worker *w)
{
    actor_runtime *rt = w->rt;
    actor *a;
    if (++w->turns & 1)
        a = take_local(w);
    else
        a = take_global(rt);
    if (a == NULL)
        a = (w->turns & 1) ? take_global(rt) : take_local(w);
    if (a)
        return a;
    for (unsigned i = 1; i < rt->nworkers; i++) {
        worker *v = &rt->workers[(w->index + i) % rt->nworkers];
        pthread_mutex_lock(&v->lock);
        a = queue_pop(&v->head, &v->tail);
        pthread_mutex_unlock(&v->lock);
        if (a)
            return a;
    }
    return NULL;
}

/* ---- running an actor ---- */

static void exit_with(actor *a, actor_exit_kind kind, int32_t code,
                      wasm_trap trap)
{
    actor_exit why = {.kind = kind, .code = code, .trap = trap};
    actor__finish(a, &why);
}

static bool begin(actor *a, wasm_func *f, enum actor_calling calling,
                  const uint64_t *args, uint32_t nargs)
{
    a->calling = calling;
    a->budget = a->limits.fuel_per_message > INT64_MAX
                    ? INT64_MAX
                    : (int64_t)a->limits.fuel_per_message;
    return wasm_exec_call(a->x, f, args, nargs) == SHOAL_OK;
}

/* Takes the next message of a reactive actor and calls shoal_handle. */
static bool begin_handle(actor *a)
{
    pthread_mutex_lock(&a->lock);
    shoal_msg *m = actor__mb_pop(a);
    pthread_mutex_unlock(&a->lock);
    if (m == NULL)
        return false;
    msg_free(a->current);
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
            msg_free(a->current);
            a->current = a->init_msg;
            a->init_msg = NULL;
            return begin(a, a->init, CALLING_HANDLE, &arg, 1);
        }
        if (a->init_msg) {
            /* Without shoal_init the init message is the first message of
             * the mailbox (kind INIT). */
            pthread_mutex_lock(&a->lock);
            actor__mb_push_front(a, a->init_msg);
            pthread_mutex_unlock(&a->lock);
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
    if (a->calling == CALLING_HANDLE && n == 1 && (int32_t)res[0] != 0) {
        exit_with(a, ACTOR_EXIT_CODE, (int32_t)res[0], WASM_TRAP_NONE);
        return false;
    }
    return true;
}

/* Runs a for up to one slice. Returns false when that ended its life (an
 * exit, maybe followed by a restart). */
static bool run_slice(worker *w, actor *a)
{
    actor_runtime *rt = w->rt;
    int64_t slice = rt->cfg.fuel_slice;
    for (;;) {
        if (a->kill_requested) {
            pthread_mutex_lock(&a->lock);
            actor_exit why = a->kill_reason;
            pthread_mutex_unlock(&a->lock);
            actor__finish(a, &why);
            return false;
        }
        /* Only this thread changes `wait` while the actor runs. */
        if (a->in_call && a->wait != WAIT_NONE) {
            pthread_mutex_lock(&a->lock);
            bool ready = abi__complete_wait(a);
            pthread_mutex_unlock(&a->lock);
            if (!ready)
                return true; /* still waiting */
        }
        if (!a->in_call) {
            if (slice <= 0)
                return true; /* more messages wait for the next turn */
            if (!start_next_call(a))
                return true;
            a->in_call = true;
            if (a->calling == CALLING_HANDLE)
                atomic_fetch_add(&rt->handling, 1);
        }
        int64_t fuel = slice < a->budget ? slice : a->budget;
        if (fuel < 1)
            fuel = 1;
        wasm_exec_set_fuel(a->x, fuel);
        uint64_t before = wasm_exec_fuel_used(a->x);
        wasm_status st = wasm_exec_run(a->x);
        int64_t used = (int64_t)(wasm_exec_fuel_used(a->x) - before);
        slice -= used;
        a->budget -= used;
        atomic_fetch_add_explicit(&a->fuel_total, (uint64_t)used,
                                  memory_order_relaxed);
        switch (st) {
        case WASM_DONE:
            actor__call_ended(a);
            if (!call_done(a))
                return false;
            break;
        case WASM_OUT_OF_FUEL:
            if (a->budget <= 0) {
                exit_with(a, ACTOR_EXIT_FUEL, 0, WASM_TRAP_NONE);
                return false;
            }
            return true; /* preempted: back of the queue */
        case WASM_SUSPENDED:
            if (a->wait == WAIT_YIELD)
                return true;
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
            return false;
        }
        }
    }
}

static void run_actor(worker *w, actor *a)
{
    pthread_mutex_lock(&a->lock);
    if (a->sched == RUN_DEAD) {
        pthread_mutex_unlock(&a->lock);
        actor__unref(a); /* the queue's reference */
        return;
    }
    a->sched = RUN_RUNNING;
    pthread_mutex_unlock(&a->lock);

    run_slice(w, a);

    pthread_mutex_lock(&a->lock);
    if (a->dead) {
        a->sched = RUN_DEAD;
        pthread_mutex_unlock(&a->lock);
        actor__unref(a);
        return;
    }
    if (has_work(a)) {
        a->sched = RUN_QUEUED;
        pthread_mutex_unlock(&a->lock);
        requeue(w, a); /* keeps the queue's reference */
        return;
    }
    a->sched = RUN_IDLE;
    pthread_mutex_unlock(&a->lock);
    actor__unref(a);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    actor_runtime *rt = w->rt;
    this_worker = w;
    for (;;) {
        actor *a = take(w);
        if (a) {
            run_actor(w, a);
            continue;
        }
        pthread_mutex_lock(&rt->sched_lock);
        if (rt->stopping) {
            pthread_mutex_unlock(&rt->sched_lock);
            return NULL;
        }
        atomic_fetch_add(&rt->sleeping, 1);
        /* Re-check under the lock: a push that happened before we counted
         * ourselves asleep is visible now; a later one will signal. */
        bool any = rt->global_head != NULL;
        for (unsigned i = 0; !any && i < rt->nworkers; i++) {
            pthread_mutex_lock(&rt->workers[i].lock);
            any = rt->workers[i].head != NULL;
            pthread_mutex_unlock(&rt->workers[i].lock);
        }
        if (!any)
            pthread_cond_wait(&rt->sched_cond, &rt->sched_lock);
        atomic_fetch_sub(&rt->sleeping, 1);
        pthread_mutex_unlock(&rt->sched_lock);
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
    if (a->wait_seq == e->seq && a->wait != WAIT_NONE) {
        a->timed_out = true;
        sched__wake_locked(a);
    }
    pthread_mutex_unlock(&a->lock);
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

    rt->workers = calloc(rt->nworkers, sizeof *rt->workers);
    if (rt->workers == NULL)
        return SHOAL_ENOMEM;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        rt->workers[i].rt = rt;
        rt->workers[i].index = i;
        pthread_mutex_init(&rt->workers[i].lock, NULL);
    }
    if (pthread_create(&rt->timer_thread, NULL, timer_main, rt) != 0) {
        rt->nworkers = 0;
        return SHOAL_ENOMEM;
    }
    rt->timer_started = true;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        if (pthread_create(&rt->workers[i].thread, NULL, worker_main,
                           &rt->workers[i]) != 0) {
            rt->nworkers = i; /* stop joins only those that started */
            return SHOAL_ENOMEM;
        }
    }
    return SHOAL_OK;
}

void sched__stop(actor_runtime *rt)
{
    pthread_mutex_lock(&rt->sched_lock);
    rt->stopping = true;
    pthread_cond_broadcast(&rt->sched_cond);
    pthread_mutex_unlock(&rt->sched_lock);
    for (unsigned i = 0; i < rt->nworkers; i++)
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
        while ((a = queue_pop(&rt->workers[i].head, &rt->workers[i].tail)))
            actor__unref(a);
        pthread_mutex_destroy(&rt->workers[i].lock);
    }
    actor *a;
    while ((a = queue_pop(&rt->global_head, &rt->global_tail)))
        actor__unref(a);
    free(rt->workers);
    rt->workers = NULL;
    free(rt->timers);
    pthread_mutex_destroy(&rt->sched_lock);
    pthread_cond_destroy(&rt->sched_cond);
    pthread_mutex_destroy(&rt->timer_lock);
    pthread_cond_destroy(&rt->timer_cond);
}
