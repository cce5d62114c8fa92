/* The actor runtime: modules, the actor table, spawning, message delivery
 * and what happens when an actor exits (links, monitors, waiting callers).
 * Scheduling is in sched.c, the guest's imports in abi.c. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actor_impl.h"

#define DEFAULT_MEMORY_PAGES 256u /* 16 MiB */
#define DEFAULT_FUEL_PER_MESSAGE 100000000u
#define DEFAULT_MAILBOX 1024u
#define DEFAULT_SLICE 10000
#define DEFAULT_MAX_ACTORS 4000000u
/* Wasm stacks of actors: small limits, since most actors are shallow. */
#define ACTOR_STACK_SLOTS (1u << 16)
#define ACTOR_CALL_DEPTH 10000u

#define RECENT_EXITS 4096u
/* The first guess of a module's Wasm state size, before a spawn tells. */
#define FIRST_BLOCK_BYTES 2048u
/* Imports resolved on the stack at a spawn; more take an allocation. */
#define STACK_IMPORTS 64u

typedef struct recent_exit {
    actor_id id;
    actor_exit why;
} recent_exit;

typedef struct pending_call {
    struct pending_call *next;
    uint64_t corr;
    actor_reply_cb cb;
    void *ctx;
} pending_call;

const char *actor_exit_reason(const actor_exit *e, char *buf, size_t len)
{
    switch (e->kind) {
    case ACTOR_EXIT_NORMAL:
        snprintf(buf, len, "normal");
        break;
    case ACTOR_EXIT_CODE:
        snprintf(buf, len, "exit code %d", (int)e->code);
        break;
    case ACTOR_EXIT_TRAP:
        snprintf(buf, len, "trap: %s", wasm_trap_message(e->trap));
        break;
    case ACTOR_EXIT_FUEL:
        snprintf(buf, len, "fuel exhausted");
        break;
    case ACTOR_EXIT_KILLED:
        snprintf(buf, len, "killed");
        break;
    case ACTOR_EXIT_LINKED:
        snprintf(buf, len, "linked actor failed");
        break;
    case ACTOR_EXIT_NOMEM:
        snprintf(buf, len, "out of memory");
        break;
    }
    return buf;
}

/* ---- modules ---- */

static void module_unref(module_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        wasm_module_unref(e->m);
        free(e->name);
        free(e);
    }
}

/* The number of m's function export called name, or -1. */
static int32_t func_export(const wasm_module *m, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < wasm_module_num_exports(m); i++) {
        const char *n;
        uint32_t nlen;
        wasm_extern_kind kind;
        wasm_module_export(m, i, &n, &nlen, &kind);
        if (kind == WASM_EXTERN_FUNC && nlen == len &&
            memcmp(n, name, len) == 0)
            return (int32_t)i;
    }
    return -1;
}

shoal_err actor_runtime_add_module(actor_runtime *rt, const char *name,
                                   const uint8_t *bytes, size_t len,
                                   shoal_errinfo *ei)
{
    wasm_load_options opts = {.metering = true};
    wasm_module *m;
    shoal_err err = wasm_module_load(bytes, len, &opts, &m, ei);
    if (err != SHOAL_OK)
        return err;
    module_entry *e = calloc(1, sizeof *e);
    if (e == NULL || (e->name = strdup(name)) == NULL) {
        free(e);
        wasm_module_unref(m);
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    }
    atomic_init(&e->refs, 1);
    atomic_init(&e->block_bytes, FIRST_BLOCK_BYTES);
    e->m = m;
    /* The exports are looked up by name once, here, not at every spawn. */
    e->ex_handle = func_export(m, "shoal_handle");
    e->ex_init = func_export(m, "shoal_init");
    e->ex_main = func_export(m, "shoal_main");
    e->ex_start = func_export(m, "_start");
    e->ex_initialize = func_export(m, "_initialize");
    pthread_mutex_lock(&rt->modules_lock);
    module_entry **pp = &rt->modules;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    module_entry *old = *pp;
    e->next = old ? old->next : NULL;
    *pp = e;
    pthread_mutex_unlock(&rt->modules_lock);
    module_unref(old);
    return SHOAL_OK;
}

module_entry *actor__find_module(actor_runtime *rt, const char *name,
                                 size_t len)
{
    pthread_mutex_lock(&rt->modules_lock);
    module_entry *e = rt->modules;
    while (e && !(strlen(e->name) == len && memcmp(e->name, name, len) == 0))
        e = e->next;
    if (e)
        atomic_fetch_add(&e->refs, 1);
    pthread_mutex_unlock(&rt->modules_lock);
    return e;
}

/* ---- actors ---- */

void actor__free(actor *a)
{
    actor__msg_free(a->current);
    msg_free(a->reply);
    msg_free(a->init_msg);
    msg_free(a->init_copy);
    mbox_free(&a->mb);
    wasm_exec_delete(a->x);
    wasm_store_delete(a->store);
    module_unref(a->mod);
    free(a->links);
    free(a->monitors);
    free(a->monitoring);
    free(a->logbuf);
    pthread_mutex_destroy(&a->lock);
    free(a->alloc_base);
}

/* ---- logging ---- */

void actor__log(actor *a, int level, const char *msg, size_t len)
{
    actor_runtime *rt = a->rt;
    if (rt->cfg.log) {
        rt->cfg.log(rt->cfg.ctx, a->id, level, msg, len);
        return;
    }
    static const char *const names[] = {"debug", "info", "warn", "error"};
    fprintf(stderr, "actor %016llx %s: %.*s\n", (unsigned long long)a->id,
            names[level & 3], (int)len, msg);
}

/* ---- delivery ---- */

void actor__embedder_reply(actor_runtime *rt, shoal_msg *m)
{
    pthread_mutex_lock(&rt->calls_lock);
    pending_call **pp = &rt->calls;
    while (*pp && (*pp)->corr != m->corr)
        pp = &(*pp)->next;
    pending_call *pc = *pp;
    if (pc)
        *pp = pc->next;
    pthread_mutex_unlock(&rt->calls_lock);
    if (pc) {
        if (m->len)
            pc->cb(pc->ctx, SHOAL_OK, m->payload, m->len);
        else /* from the runtime's timer, or from a callee that exited */
            pc->cb(pc->ctx, m->sender ? SHOAL_EEXITED : SHOAL_ETIMEDOUT, NULL,
                   0);
        free(pc);
    }
    msg_free(m);
}

/* A message to an endpoint: its callback, with the sender's tag. */
static shoal_err deliver_to_endpoint(actor_runtime *rt, actor_id to,
                                     shoal_msg *m)
{
    uint32_t slot = (uint32_t)(to >> 16) - ENDPOINT_SLOT_BASE;
    shoal_err err = SHOAL_ENOTFOUND;
    if (actor_id_node(to) == rt->cfg.node_id && slot < MAX_ENDPOINTS &&
        (uint16_t)to == 1 && (m->kind == MSG_CAST || m->kind == MSG_REQUEST)) {
        actor_delivery d = {
            .from = m->sender,
            .kind =
                m->kind == MSG_REQUEST ? ACTOR_KIND_REQUEST : ACTOR_KIND_CAST,
            .corr = m->corr,
            .data = m->payload,
            .len = m->len,
        };
        /* The sender is running (it sends), so its tag is stable. */
        actor *from = m->sender ? actor__lookup(rt, m->sender) : NULL;
        d.from_tag = from ? from->tag : NULL;
        pthread_rwlock_rdlock(&rt->endpoints_lock);
        const endpoint_entry *e = &rt->endpoints[slot];
        if (e->fn) {
            e->fn(e->ctx, to, &d);
            err = SHOAL_OK;
        }
        pthread_rwlock_unlock(&rt->endpoints_lock);
        if (from)
            actor__unref(from);
    }
    actor__msg_free(m);
    return err;
}

/* A message for another node: the embedder's remote callback carries it.
 * Exit and down notices stay on their node (links and monitors do not
 * cross nodes). */
static shoal_err deliver_remote_out(actor_runtime *rt, actor_id to,
                                    shoal_msg *m)
{
    shoal_err err = SHOAL_ENOTFOUND;
    if (rt->cfg.remote && (m->kind == MSG_CAST || m->kind == MSG_REQUEST ||
                           m->kind == MSG_REPLY)) {
        actor_remote_msg r = {
            .from = m->sender ? m->sender : actor_embedder_id(rt->cfg.node_id),
            .to = to,
            .kind = m->kind == MSG_CAST      ? ACTOR_KIND_CAST
                    : m->kind == MSG_REQUEST ? ACTOR_KIND_REQUEST
                                             : ACTOR_KIND_REPLY,
            .corr = m->corr,
            .data = m->payload,
            .len = m->len,
        };
        err = rt->cfg.remote(rt->cfg.ctx, &r);
    }
    actor__msg_free(m);
    return err;
}

shoal_err actor__deliver(actor_runtime *rt, actor_id to, shoal_msg *m)
{
    if (to == 0 && m->kind == MSG_REPLY) {
        actor__embedder_reply(rt, m);
        return SHOAL_OK;
    }
    if (to != 0 && actor_id_node(to) != rt->cfg.node_id)
        return deliver_remote_out(rt, to, m);
    if ((uint32_t)(to >> 16) >= ENDPOINT_SLOT_BASE)
        return deliver_to_endpoint(rt, to, m);
    actor *a = actor__lookup(rt, to);
    if (a == NULL) {
        actor__msg_free(m);
        return SHOAL_ENOTFOUND;
    }
    shoal_err err = SHOAL_OK;
    if (m->kind == MSG_REPLY) {
        /* A reply goes to the waiting call, or nowhere if it gave up. */
        bool taken = false;
        pthread_mutex_lock(&a->lock);
        if (a->dead) {
            err = SHOAL_ENOTFOUND;
        } else if (a->wait == WAIT_CALL && a->wait_corr == m->corr &&
                   !a->reply) {
            a->reply = m;
            taken = true;
        }
        pthread_mutex_unlock(&a->lock);
        if (taken) {
            m = NULL;
            if (sched__notify_give(a))
                a = NULL; /* the run queue has the lookup's reference */
        }
    } else {
        /* Exit and down notices are never refused for a full mailbox; a
         * closed mailbox (a dead actor) refuses everything. */
        err = mbox_push(&a->mb, m, m->kind != MSG_EXIT && m->kind != MSG_DOWN);
        if (err == SHOAL_OK) {
            m = NULL;
            /* An actor that goes into a run queue keeps the lookup's
             * reference there. */
            if (sched__notify_give(a))
                a = NULL;
        }
    }
    if (a)
        actor__unref(a);
    actor__msg_free(m);
    return err;
}

shoal_err actor_deliver_remote(actor_runtime *rt, const actor_remote_msg *r)
{
    actor_id to = r->to;
    if ((to != 0 && actor_id_node(to) != rt->cfg.node_id) || r->from == 0)
        return SHOAL_EINVAL;
    msg_kind kind;
    switch (r->kind) {
    case ACTOR_KIND_CAST:
        kind = MSG_CAST;
        break;
    case ACTOR_KIND_REQUEST:
        kind = MSG_REQUEST;
        break;
    case ACTOR_KIND_REPLY:
        kind = MSG_REPLY;
        break;
    default:
        return SHOAL_EINVAL;
    }
    if ((to & ~(UINT64_C(0xffff) << 48)) == 0) { /* the embedder */
        if (kind != MSG_REPLY)
            return SHOAL_EINVAL;
        to = 0;
    }
    /* An empty reply is the callee's exit notice; anything else is a
     * message that must be as well-formed as a local one. */
    if (!(kind == MSG_REPLY && r->len == 0)) {
        shoal_err err = msg_validate(r->data, r->len, NULL);
        if (err != SHOAL_OK)
            return err;
    }
    shoal_msg *m = msg_new(kind, r->from, r->corr, r->data, r->len);
    if (m == NULL)
        return SHOAL_ENOMEM;
    return actor__deliver(rt, to, m);
}

shoal_err actor_send(actor_runtime *rt, actor_id to, const uint8_t *msg,
                     size_t len)
{
    shoal_err err = msg_validate(msg, len, NULL);
    if (err != SHOAL_OK)
        return err;
    shoal_msg *m = msg_new(MSG_CAST, 0, 0, msg, len);
    if (m == NULL)
        return SHOAL_ENOMEM;
    return actor__deliver(rt, to, m);
}

shoal_err actor_call(actor_runtime *rt, actor_id to, const uint8_t *msg,
                     size_t len, int64_t timeout_ms, actor_reply_cb cb,
                     void *ctx)
{
    shoal_err err = msg_validate(msg, len, NULL);
    if (err != SHOAL_OK)
        return err;
    pending_call *pc = malloc(sizeof *pc);
    if (pc == NULL)
        return SHOAL_ENOMEM;
    pc->corr = atomic_fetch_add(&rt->next_corr, 1);
    pc->cb = cb;
    pc->ctx = ctx;
    shoal_msg *m = msg_new(MSG_REQUEST, 0, pc->corr, msg, len);
    if (m == NULL) {
        free(pc);
        return SHOAL_ENOMEM;
    }
    uint64_t corr = pc->corr;
    pthread_mutex_lock(&rt->calls_lock);
    pc->next = rt->calls;
    rt->calls = pc;
    pthread_mutex_unlock(&rt->calls_lock);
    err = actor__deliver(rt, to, m);
    if (err != SHOAL_OK) {
        /* Not delivered: take the pending call back, quietly. */
        pthread_mutex_lock(&rt->calls_lock);
        pending_call **pp = &rt->calls;
        while (*pp && (*pp)->corr != corr)
            pp = &(*pp)->next;
        pending_call *mine = *pp;
        if (mine)
            *pp = mine->next;
        pthread_mutex_unlock(&rt->calls_lock);
        free(mine);
        return err;
    }
    if (timeout_ms > 0)
        sched__timer_add(rt, timeout_ms, 0, corr);
    return SHOAL_OK;
}

/* ---- exits ---- */

static bool is_failure(const actor_exit *why)
{
    return why->kind != ACTOR_EXIT_NORMAL;
}

/* Tells the sender of an unanswered request that no reply will come. */
static void refuse(actor_runtime *rt, actor_id self, actor_id sender,
                   uint64_t corr)
{
    shoal_msg *r = msg_new(MSG_REPLY, self, corr, NULL, 0);
    if (r)
        actor__deliver(rt, sender, r);
}

void actor__open_request(actor *a, const shoal_msg *req)
{
    if (a->req_open)
        refuse(a->rt, a->id, a->req_sender, a->req_corr);
    a->req_open = true;
    a->req_sender = req->sender;
    a->req_corr = req->corr;
}

static void notify_link(actor_runtime *rt, actor *a, actor_id other,
                        const actor_exit *why, const char *reason)
{
    actor *t = actor__lookup(rt, other);
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    for (uint32_t i = 0; i < t->nlinks; i++) {
        if (t->links[i] == a->id) {
            t->links[i] = t->links[--t->nlinks];
            break;
        }
    }
    bool trap = t->trap_exit;
    bool stop = is_failure(why) && !trap && !t->dead && !t->kill_requested;
    if (stop) {
        t->kill_reason = (actor_exit){.kind = ACTOR_EXIT_LINKED};
        t->kill_requested = true; /* after its reason: the runner reads */
    }
    pthread_mutex_unlock(&t->lock);
    if (stop)
        sched__notify(t);
    if (is_failure(why) && trap) {
        shoal_msg *n = msg_new_notice(MSG_EXIT, a->id, 0, reason, why->code);
        if (n) {
            n->sender = a->id;
            actor__deliver(rt, other, n);
        }
    }
    actor__unref(t);
}

static shoal_err instantiate(actor *a, shoal_errinfo *ei);

/* Whether this exit restarts a, by its policy and restart intensity. Only
 * the thread finishing a calls it. */
static bool should_restart(actor *a, const actor_exit *why)
{
    if (a->restart == ACTOR_RESTART_NEVER || why->kind == ACTOR_EXIT_KILLED)
        return false;
    if (a->restart == ACTOR_RESTART_ON_FAILURE && !is_failure(why))
        return false;
    uint64_t now = sched__now_ns();
    if (now - a->window_start > (uint64_t)a->restart_window_ms * 1000000u) {
        a->window_start = now;
        a->restarts = 0;
    }
    return a->restarts < a->max_restarts;
}

/* Ends a's life: see actor__finish. A restarting actor is ended only by
 * the thread that owns it between its lives (ends_restart): the one that
 * kills it during its back-off, or the restart that failed. */
static void finish_exit(actor *a, const actor_exit *why_in, bool ends_restart)
{
    actor_runtime *rt = a->rt;
    actor_exit why = *why_in;

    pthread_mutex_lock(&a->lock);
    if (a->dead || (a->restarting && !ends_restart)) {
        pthread_mutex_unlock(&a->lock);
        return;
    }
    why.will_restart =
        !ends_restart && !a->kill_requested && should_restart(a, &why);
    a->last_exit = why;
    a->has_exited = true;
    shoal_msg *mail = NULL;
    if (why.will_restart) {
        /* Its id and mailbox stay: messages wait for the next start. */
        a->restarting = true;
    } else {
        /* Dead before it stops restarting: a worker that reads restarting
         * false then reads dead true (both seq_cst stores). */
        a->dead = true;
        a->restarting = false;
        /* Nothing enqueues it any more (a notification sees the bit). */
        atomic_fetch_or_explicit(&a->run, RUN_DEAD, memory_order_relaxed);
        /* This thread is the mailbox's consumer now: the runner, or the
         * owner of a restarting actor, or the runtime shutting down. */
        mail = mbox_close(&a->mb);
    }
    a->exit_reason = why;
    a->kill_requested = false;
    actor_id *links = a->links;
    uint32_t nlinks = a->nlinks;
    monitor_entry *monitors = a->monitors;
    uint32_t nmonitors = a->nmonitors;
    a->links = NULL;
    a->nlinks = a->caplinks = 0;
    a->monitors = NULL;
    a->nmonitors = a->capmonitors = 0;
    a->wait = WAIT_NONE;
    a->wait_seq++;
    msg_free(a->reply);
    a->reply = NULL;
    pthread_mutex_unlock(&a->lock);

    if (!why.will_restart) {
        /* On record before it leaves the table, so that actor_wait finds it
         * in one place or the other. */
        pthread_mutex_lock(&rt->recent_lock);
        rt->recent[rt->recent_next++ % RECENT_EXITS] =
            (recent_exit){.id = a->id, .why = why};
        pthread_mutex_unlock(&rt->recent_lock);
        table__remove(rt, a);
    }
    if (a->loglen) {
        actor__log(a, 1, a->logbuf, a->loglen);
        a->loglen = 0;
    }

    /* Nobody will answer the requests this actor held. */
    if (a->req_open)
        refuse(rt, a->id, a->req_sender, a->req_corr);
    a->req_open = false;
    while (mail) {
        shoal_msg *next = mail->next;
        if (mail->kind == MSG_REQUEST)
            refuse(rt, a->id, mail->sender, mail->corr);
        actor__msg_free(mail);
        mail = next;
    }
    /* The reason in words, for the notices only. */
    char reason[96] = "";
    if (nlinks || nmonitors)
        actor_exit_reason(&why, reason, sizeof reason);
    for (uint32_t i = 0; i < nlinks; i++)
        notify_link(rt, a, links[i], &why, reason);
    free(links);
    for (uint32_t i = 0; i < nmonitors; i++) {
        shoal_msg *n =
            msg_new_notice(MSG_DOWN, a->id, monitors[i].ref, reason, why.code);
        if (n) {
            n->sender = a->id;
            actor__deliver(rt, monitors[i].watcher, n);
        }
    }
    free(monitors);

    /* The Wasm state goes now; the structure lives while referenced. */
    wasm_exec_delete(a->x);
    a->x = NULL;
    wasm_store_delete(a->store);
    a->store = NULL;
    a->inst = NULL;
    actor__msg_free(a->current);
    a->current = NULL;
    actor__call_ended(a);

    if (rt->cfg.on_exit)
        rt->cfg.on_exit(rt->cfg.ctx, a->id, &why);
    if (why.will_restart) {
        uint64_t delay = (uint64_t)a->backoff_initial_ms
                         << (a->restarts < 20 ? a->restarts : 20);
        if (delay > a->backoff_max_ms)
            delay = a->backoff_max_ms;
        a->restarts++;
        atomic_fetch_add(&a->total_restarts, 1);
        sched__timer_restart(rt, (int64_t)delay, a->id);
        return;
    }
    pthread_mutex_lock(&rt->recent_lock);
    a->finished = true;
    if (rt->exit_waiters)
        pthread_cond_broadcast(&rt->exit_cond);
    pthread_mutex_unlock(&rt->recent_lock);
    actor__unref(a); /* the table's reference */
}

void actor__finish(actor *a, const actor_exit *why)
{
    finish_exit(a, why, false);
}

void actor__restart(actor *a)
{
    /* No worker touches a restarting actor (a turn that finds it
     * restarting leaves at once), and while it is `owned` actor_kill
     * leaves it alone, so its execution state is this thread's to build. */
    pthread_mutex_lock(&a->lock);
    if (!a->restarting || a->dead || a->owned) {
        pthread_mutex_unlock(&a->lock);
        return;
    }
    a->owned = true;
    pthread_mutex_unlock(&a->lock);
    shoal_errinfo ei;
    shoal_err err = instantiate(a, &ei);
    pthread_mutex_lock(&a->lock);
    bool killed = a->kill_requested;
    if (err == SHOAL_OK && !killed) {
        a->owned = false;
        msg_free(a->init_msg);
        a->init_msg = NULL;
        if (a->init_copy)
            a->init_msg = msg_new(MSG_INIT, 0, 0, a->init_copy->payload,
                                  a->init_copy->len);
        /* Release (seq_cst): a worker that reads false sees the new state. */
        a->restarting = false;
        pthread_mutex_unlock(&a->lock);
        sched__notify(a);
        return;
    }
    pthread_mutex_unlock(&a->lock);
    /* Still restarting and owned, so no one else ends it: this end is
     * final. */
    a->restart = ACTOR_RESTART_NEVER;
    actor_exit why = {.kind = killed ? ACTOR_EXIT_KILLED : ACTOR_EXIT_NOMEM};
    if (err != SHOAL_OK)
        actor__log(a, 3, ei.msg, strlen(ei.msg));
    finish_exit(a, &why, true);
}

/* ---- spawning ---- */

/* The function export number `index` of inst (-1: none) if it has the
 * type np i32s -> nr i32s; NULL and *bad = name if not. */
static wasm_func *export_func(wasm_instance *inst, int32_t index,
                              const char *name, uint32_t np, uint32_t nr,
                              const char **bad)
{
    if (index < 0)
        return NULL;
    wasm_extern e = wasm_instance_export_at(inst, (uint32_t)index);
    if (e.kind != WASM_EXTERN_FUNC)
        return NULL;
    const wasm_functype *t = wasm_func_type(e.u.func);
    if (wasm_functype_num_params(t) != np ||
        wasm_functype_num_results(t) != nr) {
        *bad = name;
        return NULL;
    }
    for (uint32_t i = 0; i < np; i++)
        if (wasm_functype_param(t, i) != WASM_I32) {
            *bad = name;
            return NULL;
        }
    for (uint32_t i = 0; i < nr; i++)
        if (wasm_functype_result(t, i) != WASM_I32) {
            *bad = name;
            return NULL;
        }
    return e.u.func;
}

static uint32_t pick(uint32_t v, uint32_t dflt)
{
    return v ? v : dflt;
}

/* Makes a's Wasm state (store, instance, exec) from its module: at spawn
 * and at every restart. On error a has none of it. */
static shoal_err instantiate(actor *a, shoal_errinfo *ei)
{
    actor_runtime *rt = a->rt;
    module_entry *mod = a->mod;
    shoal_err err;
    wasm_limits wl;
    wasm_limits_default(&wl);
    wl.max_memory_pages = a->limits.max_memory_pages;
    wl.stack_slots = ACTOR_STACK_SLOTS;
    wl.max_call_depth = ACTOR_CALL_DEPTH;
    wl.max_table_elems = 1u << 20;
    /* The Wasm state in the actor's own block: one allocation (the
     * actor's) and adjacent memory for the objects each message touches. */
    a->store = wasm_store_new_in(&wl, a->block, a->block_bytes);
    if (a->store == NULL)
        a->store = wasm_store_new(&wl);
    if (a->store)
        wasm_store_set_memory_provider(a->store, &rt->memory_provider);
    uint32_t nimports = wasm_module_num_imports(mod->m);
    wasm_extern on_stack[STACK_IMPORTS];
    wasm_extern *imports = nimports <= STACK_IMPORTS
                               ? on_stack
                               : calloc(nimports, sizeof *imports);
    if (a->store == NULL || imports == NULL) {
        err = shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
        goto fail;
    }
    err = abi__link(rt, mod->m, imports, ei);
    if (err == SHOAL_OK)
        err =
            wasm_instantiate(a->store, mod->m, imports, nimports, &a->inst, ei);
    if (imports != on_stack)
        free(imports);
    if (err != SHOAL_OK)
        goto fail;

    const char *bad = NULL;
    a->handle =
        export_func(a->inst, mod->ex_handle, "shoal_handle", 2, 1, &bad);
    a->init = export_func(a->inst, mod->ex_init, "shoal_init", 1, 1, &bad);
    a->main = export_func(a->inst, mod->ex_main, "shoal_main", 0, 0, &bad);
    if (a->main == NULL)
        a->main = export_func(a->inst, mod->ex_start, "_start", 0, 0, &bad);
    a->initialize =
        export_func(a->inst, mod->ex_initialize, "_initialize", 0, 0, &bad);
    a->start = wasm_instance_start(a->inst);
    if (bad) {
        err = shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                "module %s: export %s has the wrong type (see "
                                "docs/abi.md)",
                                mod->name, bad);
        goto fail;
    }
    if (a->handle && a->main)
        a->main = NULL; /* reactive wins: _start of a reactor is not main */
    if (a->handle == NULL && a->main == NULL) {
        err = shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                "module %s exports none of shoal_handle, "
                                "shoal_main and _start",
                                mod->name);
        goto fail;
    }
    a->x = wasm_exec_new(a->store);
    if (a->x == NULL) {
        err = shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
        goto fail;
    }
    wasm_exec_set_userdata(a->x, a);
    /* Later spawns of the module allocate what this one asked for (every
     * instance of a module asks the same). */
    size_t want = wasm_store_block_wanted(a->store);
    if (want &&
        atomic_load_explicit(&mod->block_bytes, memory_order_relaxed) != want)
        atomic_store_explicit(&mod->block_bytes, want, memory_order_relaxed);
    a->phase = PHASE_START;
    atomic_store(&a->started, false);
    actor__call_ended(a);
    a->budget = 0;
    return SHOAL_OK;
fail:
    wasm_store_delete(a->store);
    a->store = NULL;
    a->inst = NULL;
    return err;
}

shoal_err actor__spawn_internal(actor_runtime *rt, module_entry *mod,
                                const uint8_t *init, size_t init_len,
                                const actor_spawn_opts *opts, actor_id *out,
                                shoal_errinfo *ei)
{
    shoal_err err;
    *out = 0;
    if (init_len && (err = msg_validate(init, init_len, ei)) != SHOAL_OK) {
        module_unref(mod);
        return err;
    }
    /* The actor and the block its Wasm state goes in, in one allocation,
     * cache-line aligned. */
    size_t head = (sizeof(actor) + 63) & ~(size_t)63;
    size_t block =
        (atomic_load_explicit(&mod->block_bytes, memory_order_relaxed) + 63) &
        ~(size_t)63;
    /* Aligned by hand: malloc's 16 bytes, moved up to the next line (glibc's
     * aligned_alloc costs several times a malloc). */
    void *base = malloc(head + block + 48);
    if (base == NULL) {
        module_unref(mod);
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    }
    actor *a = (actor *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
    memset(a, 0, head); /* the block is cleared as it is carved */
    a->alloc_base = base;
    a->block = (uint8_t *)a + head;
    a->block_bytes = block;
    a->rt = rt;
    a->mod = mod;
    pthread_mutex_init(&a->lock, NULL);
    const actor_limits *want = opts ? &opts->limits : NULL;
    a->limits.max_memory_pages = pick(want ? want->max_memory_pages : 0,
                                      rt->cfg.defaults.max_memory_pages);
    a->limits.fuel_per_message = want && want->fuel_per_message
                                     ? want->fuel_per_message
                                     : rt->cfg.defaults.fuel_per_message;
    a->fuel_budget = a->limits.fuel_per_message > INT64_MAX
                         ? INT64_MAX
                         : (int64_t)a->limits.fuel_per_message;
    a->limits.mailbox_cap =
        pick(want ? want->mailbox_cap : 0, rt->cfg.defaults.mailbox_cap);
    mbox_init(&a->mb, a->limits.mailbox_cap);
    atomic_init(&a->run, 0);
    if (opts) {
        a->tag = opts->tag;
        a->restart = opts->restart;
        a->backoff_initial_ms = opts->backoff_initial_ms;
        a->backoff_max_ms = opts->backoff_max_ms;
        a->max_restarts = opts->max_restarts;
        a->restart_window_ms = opts->restart_window_ms;
    }
    a->backoff_initial_ms = pick(a->backoff_initial_ms, 100);
    a->backoff_max_ms = pick(a->backoff_max_ms, 30000);
    a->max_restarts = pick(a->max_restarts, 10);
    a->restart_window_ms = pick(a->restart_window_ms, 60000);

    err = instantiate(a, ei);
    if (err != SHOAL_OK)
        goto fail_free_actor;
    if (init_len) {
        a->init_msg = msg_new(MSG_INIT, 0, 0, init, init_len);
        /* A restartable actor gets its init message again at restarts. */
        if (a->restart != ACTOR_RESTART_NEVER)
            a->init_copy = msg_new(MSG_INIT, 0, 0, init, init_len);
        if (a->init_msg == NULL ||
            (a->restart != ACTOR_RESTART_NEVER && a->init_copy == NULL)) {
            err =
                shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
            goto fail_free_actor;
        }
    }
    /* A reactive actor with nothing to run at start is started here, and
     * runs first for its first message: it need not be scheduled now. */
    bool idle = !a->start && !a->initialize && !a->init && !a->main;
    if (idle) {
        a->phase = PHASE_READY;
        atomic_store(&a->started, true);
        if (a->init_msg) {
            /* No shoal_init: the init message is the first message. Not
             * published yet, so this thread is the consumer. */
            mbox_push_front(&a->mb, a->init_msg);
            a->init_msg = NULL;
        }
    }
    err = table__insert(rt, a);
    if (err != SHOAL_OK) {
        if (err == SHOAL_ELIMIT)
            shoal_errinfo_set(ei, err, SIZE_MAX, "too many actors (limit %u)",
                              rt->cfg.max_actors);
        else
            shoal_errinfo_set(ei, err, SIZE_MAX, "out of memory");
        goto fail_free_actor;
    }
    *out = a->id;
    if (!idle || !mbox_empty(&a->mb))
        sched__notify(a);
    return SHOAL_OK;

fail_free_actor:
    actor__free(a); /* also drops the module reference */
    return err;
}

shoal_err actor_spawn(actor_runtime *rt, const char *module,
                      const uint8_t *init, size_t init_len,
                      const actor_spawn_opts *opts, actor_id *out,
                      shoal_errinfo *ei)
{
    module_entry *mod = actor__find_module(rt, module, strlen(module));
    if (mod == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                 "no module named \"%s\"", module);
    return actor__spawn_internal(rt, mod, init, init_len, opts, out, ei);
}

/* ---- the embedder's view ---- */

shoal_err actor_kill(actor_runtime *rt, actor_id id)
{
    actor *a = actor__lookup(rt, id);
    if (a == NULL)
        return SHOAL_ENOTFOUND;
    pthread_mutex_lock(&a->lock);
    bool now = false, wake = false;
    if (!a->dead && !a->kill_requested) {
        a->kill_reason = (actor_exit){.kind = ACTOR_EXIT_KILLED};
        a->kill_requested = true; /* after its reason: the runner reads */
        /* Between lives there is nothing to stop: end it here, as the
         * owner of the restarting actor. */
        now = a->restarting && !a->owned;
        a->owned = a->owned || now;
        wake = !now;
    }
    pthread_mutex_unlock(&a->lock);
    if (wake)
        sched__notify(a);
    if (now) {
        actor_exit why = {.kind = ACTOR_EXIT_KILLED};
        finish_exit(a, &why, true);
    }
    actor__unref(a);
    return SHOAL_OK;
}

bool actor_alive(actor_runtime *rt, actor_id id)
{
    actor *a = actor__lookup(rt, id);
    if (a)
        actor__unref(a);
    return a != NULL;
}

size_t actor_count(actor_runtime *rt)
{
    return atomic_load(&rt->live);
}

shoal_err actor_wait(actor_runtime *rt, actor_id id, int64_t timeout_ms,
                     actor_exit *why)
{
    actor *a = actor__lookup(rt, id);
    if (a == NULL) {
        /* Gone already: its exit may still be on record. */
        shoal_err err = SHOAL_ENOTFOUND;
        pthread_mutex_lock(&rt->recent_lock);
        for (uint32_t i = 0; i < RECENT_EXITS; i++) {
            if (rt->recent[i].id == id) {
                if (why)
                    *why = rt->recent[i].why;
                err = SHOAL_OK;
                break;
            }
        }
        pthread_mutex_unlock(&rt->recent_lock);
        return err;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_ms >= 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    /* One condition variable for the whole runtime: an actor_wait is rare,
     * and a condition variable per actor cost 48 bytes each. */
    shoal_err err = SHOAL_OK;
    pthread_mutex_lock(&rt->recent_lock);
    rt->exit_waiters++;
    while (!a->finished) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&rt->exit_cond, &rt->recent_lock);
        } else if (pthread_cond_timedwait(&rt->exit_cond, &rt->recent_lock,
                                          &deadline) != 0) {
            err = a->finished ? SHOAL_OK : SHOAL_ETIMEDOUT;
            break;
        }
    }
    rt->exit_waiters--;
    pthread_mutex_unlock(&rt->recent_lock);
    /* exit_reason is written under the actor's lock before finished is set. */
    if (err == SHOAL_OK && why) {
        pthread_mutex_lock(&a->lock);
        *why = a->exit_reason;
        pthread_mutex_unlock(&a->lock);
    }
    actor__unref(a);
    return err;
}

/* ---- the runtime ---- */

shoal_err actor_runtime_new(const actor_config *cfg, actor_runtime **out)
{
    *out = NULL;
    if (cfg->node_id >= 0x8000)
        return SHOAL_EINVAL; /* ids must stay positive as i64 */
    if ((cfg->idle_poll == NULL) != (cfg->idle_wake == NULL))
        return SHOAL_EINVAL; /* a poll nobody can wake, or the reverse */
    actor_runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return SHOAL_ENOMEM;
    rt->cfg = *cfg;
    if (rt->cfg.fuel_slice <= 0)
        rt->cfg.fuel_slice = DEFAULT_SLICE;
    rt->cfg.defaults.max_memory_pages =
        pick(cfg->defaults.max_memory_pages, DEFAULT_MEMORY_PAGES);
    if (rt->cfg.defaults.fuel_per_message == 0)
        rt->cfg.defaults.fuel_per_message = DEFAULT_FUEL_PER_MESSAGE;
    rt->cfg.defaults.mailbox_cap =
        pick(cfg->defaults.mailbox_cap, DEFAULT_MAILBOX);
    rt->cfg.max_actors = pick(cfg->max_actors, DEFAULT_MAX_ACTORS);
    /* One worker per CPU this process may run on (taskset, cgroups'
     * cpusets), not per CPU of the machine. */
    cpu_set_t cpus;
    long ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0
                    ? CPU_COUNT(&cpus)
                    : sysconf(_SC_NPROCESSORS_ONLN);
    rt->nworkers =
        cfg->workers ? cfg->workers : (unsigned)(ncpu > 0 ? ncpu : 1);
    /* Spinning for work only helps when whoever makes the work can run
     * meanwhile: on one CPU it takes the CPU from them. */
    rt->spin_rounds = ncpu > 1 ? SCHED_SPIN_ROUNDS : 0;
    atomic_init(&rt->live, 0);
    atomic_init(&rt->poller, false);
    atomic_init(&rt->polling, false);
    atomic_init(&rt->next_corr, 1);
    atomic_init(&rt->next_ref, 1);
    pthread_mutex_init(&rt->modules_lock, NULL);
    pthread_mutex_init(&rt->calls_lock, NULL);
    pthread_rwlock_init(&rt->endpoints_lock, NULL);
    pthread_mutex_init(&rt->recent_lock, NULL);
    pthread_cond_init(&rt->exit_cond, NULL);
    rt->recent = calloc(RECENT_EXITS, sizeof *rt->recent);
    if (table__init(rt) != SHOAL_OK || rt->recent == NULL) {
        actor_runtime_delete(rt);
        return SHOAL_ENOMEM;
    }
    rt->host_store = wasm_store_new(NULL);
    rt->memories = arena_new(NULL);
    if (rt->memories)
        rt->memory_provider = arena_provider(rt->memories);
    shoal_err err =
        rt->host_store && rt->memories ? abi__make_host(rt) : SHOAL_ENOMEM;
    if (err == SHOAL_OK)
        err = sched__start(rt);
    if (err != SHOAL_OK) {
        actor_runtime_delete(rt);
        return err;
    }
    *out = rt;
    return SHOAL_OK;
}

void actor_runtime_delete(actor_runtime *rt)
{
    if (rt == NULL)
        return;
    if (rt->workers)
        sched__stop(rt);
    /* No worker runs now: finish every remaining actor here, in one pass
     * over the table (finishing one only empties slots, never fills). */
    uint32_t i = 0;
    actor *a;
    while (rt->table_dir && (a = table__next(rt, &i))) {
        actor_exit why = {.kind = ACTOR_EXIT_KILLED};
        a->restart = ACTOR_RESTART_NEVER;
        /* No thread but this one runs now: a restarting actor (whose
         * restart timer stopped) is this thread's to end too. */
        finish_exit(a, &why, a->restarting);
        actor__unref(a);
    }
    /* Calls from the embedder that will never be answered. */
    pending_call *pc = rt->calls;
    while (pc) {
        pending_call *next = pc->next;
        pc->cb(pc->ctx, SHOAL_EEXITED, NULL, 0);
        free(pc);
        pc = next;
    }
    if (rt->workers)
        sched__free(rt);
    module_entry *e = rt->modules;
    while (e) {
        module_entry *next = e->next;
        module_unref(e);
        e = next;
    }
    abi__free_host(rt);
    wasm_store_delete(rt->host_store);
    if (rt->memories)
        arena_delete(rt->memories); /* every actor's store is gone */
    table__free(rt); /* every actor is freed: the queues dropped theirs */
    pthread_mutex_destroy(&rt->modules_lock);
    pthread_mutex_destroy(&rt->calls_lock);
    pthread_rwlock_destroy(&rt->endpoints_lock);
    pthread_mutex_destroy(&rt->recent_lock);
    pthread_cond_destroy(&rt->exit_cond);
    free(rt->recent);
    free(rt);
}

shoal_err actor_info_get(actor_runtime *rt, actor_id id, actor_info *out)
{
    actor *a = actor__lookup(rt, id);
    if (a == NULL)
        return SHOAL_ENOTFOUND;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&a->lock);
    out->restarting = a->restarting;
    out->mailbox = mbox_count(&a->mb);
    out->has_exited = a->has_exited;
    out->last_exit = a->last_exit;
    bool dead = a->dead;
    pthread_mutex_unlock(&a->lock);
    out->started = atomic_load(&a->started) && !out->restarting;
    out->restarts = atomic_load(&a->total_restarts);
    out->fuel_used = atomic_load_explicit(&a->fuel_total, memory_order_relaxed);
    actor__unref(a);
    return dead ? SHOAL_ENOTFOUND : SHOAL_OK;
}

shoal_err actor_runtime_drain(actor_runtime *rt, int64_t timeout_ms)
{
    atomic_store(&rt->draining, true);
    uint64_t deadline = sched__now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (sched__handling(rt) > 0) {
        if (timeout_ms >= 0 && sched__now_ns() >= deadline)
            return SHOAL_ETIMEDOUT;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&ts, NULL);
    }
    return SHOAL_OK;
}

/* ---- endpoints ---- */

shoal_err actor_endpoint_new(actor_runtime *rt, actor_endpoint_fn fn, void *ctx,
                             actor_id *out)
{
    shoal_err err = SHOAL_ELIMIT;
    pthread_rwlock_wrlock(&rt->endpoints_lock);
    for (uint32_t i = 0; i < MAX_ENDPOINTS; i++) {
        if (rt->endpoints[i].fn == NULL) {
            rt->endpoints[i] = (endpoint_entry){.fn = fn, .ctx = ctx};
            *out = ((actor_id)rt->cfg.node_id << 48) |
                   ((actor_id)(ENDPOINT_SLOT_BASE + i) << 16) | 1;
            err = SHOAL_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&rt->endpoints_lock);
    return err;
}

void actor_endpoint_delete(actor_runtime *rt, actor_id endpoint)
{
    uint32_t slot = (uint32_t)(endpoint >> 16) - ENDPOINT_SLOT_BASE;
    if (slot >= MAX_ENDPOINTS)
        return;
    pthread_rwlock_wrlock(&rt->endpoints_lock);
    rt->endpoints[slot] = (endpoint_entry){0};
    pthread_rwlock_unlock(&rt->endpoints_lock);
}

shoal_err actor_endpoint_reply(actor_runtime *rt, actor_id endpoint,
                               actor_id to, uint64_t corr, const uint8_t *msg,
                               size_t len)
{
    shoal_err err = msg_validate(msg, len, NULL);
    if (err != SHOAL_OK)
        return err;
    shoal_msg *m = msg_new(MSG_REPLY, endpoint, corr, msg, len);
    if (m == NULL)
        return SHOAL_ENOMEM;
    return actor__deliver(rt, to, m);
}
