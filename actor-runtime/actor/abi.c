/* The guest ABI (docs/abi.md): the imports of module "shoal" and the WASI
 * preview1 subset for actors. The host functions are made once per runtime
 * in its host store and shared by every actor; each call finds its actor
 * through the exec's user data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "actor_impl.h"

/* Guest-visible status codes (docs/abi.md). */
enum {
    E_NOACTOR = -1,
    E_FULL = -2,
    E_MALFORMED = -3,
    E_TIMEOUT = -4,
    E_FAULT = -5,
    E_NOMODULE = -6,
    E_LIMIT = -7,
    E_NOMSG = -8,
    E_EXITED = -9,
    E_NOLINK = -10,
};

/* WASI errno values used here. */
enum {
    WASI_ESUCCESS = 0,
    WASI_EBADF = 8,
    WASI_EFAULT = 21,
    WASI_EINVAL = 28,
    WASI_ENOSYS = 52,
};

static int32_t status_of(shoal_err err)
{
    switch (err) {
    case SHOAL_OK:
        return 0;
    case SHOAL_ENOTFOUND:
        return E_NOACTOR;
    case SHOAL_EFULL:
        return E_FULL;
    case SHOAL_EMALFORMED:
        return E_MALFORMED;
    case SHOAL_ETIMEDOUT:
        return E_TIMEOUT;
    case SHOAL_EEXITED:
        return E_EXITED;
    default:
        return E_LIMIT;
    }
}

static inline actor *self_of(wasm_exec *x)
{
    return wasm_exec_userdata(x);
}

/* The guest bytes [ptr, ptr + len), or NULL when outside memory 0. */
static uint8_t *guest(wasm_exec *x, uint32_t ptr, uint32_t len)
{
    return wasm_exec_caller_bytes(x, ptr, len);
}

static wasm_host_status ret_i32(uint64_t *slots, int32_t v)
{
    slots[0] = (uint32_t)v;
    return WASM_HOST_OK;
}

static wasm_host_status ret_i64(uint64_t *slots, int64_t v)
{
    slots[0] = (uint64_t)v;
    return WASM_HOST_OK;
}

/* ---- shoal ---- */

static wasm_host_status h_self(wasm_exec *x, void *env, uint64_t *slots)
{
    return ret_i64(slots, (int64_t)self_of(x)->id);
}

/* A validated copy of guest bytes as a message, or a status. */
static int32_t make_msg(wasm_exec *x, msg_kind kind, uint64_t corr,
                        uint32_t ptr, uint32_t len, shoal_msg **out)
{
    const uint8_t *p = guest(x, ptr, len);
    if (p == NULL)
        return E_FAULT;
    shoal_err err = msg_validate(p, len, NULL);
    if (err != SHOAL_OK)
        return err == SHOAL_ELIMIT ? E_LIMIT : E_MALFORMED;
    *out = msg_pool_new_msg(sched__pool(), kind, self_of(x)->id, corr, p, len);
    return *out ? 0 : E_LIMIT;
}

static wasm_host_status h_send(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    shoal_msg *m;
    int32_t st =
        make_msg(x, MSG_CAST, 0, (uint32_t)slots[1], (uint32_t)slots[2], &m);
    if (st)
        return ret_i32(slots, st);
    return ret_i32(slots, status_of(actor__deliver(a->rt, slots[0], m)));
}

/* Begins a wait (a->lock held); returns its sequence number. */
static uint64_t begin_wait(actor *a, enum wait_kind kind)
{
    a->wait = (uint8_t)kind;
    a->timed_out = false;
    return ++a->wait_seq;
}

static void take_current(actor *a, shoal_msg *m)
{
    actor__msg_free(a->current);
    a->current = m;
    if (m && m->kind == MSG_REQUEST)
        actor__open_request(a, m);
}

static wasm_host_status h_receive(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    int64_t timeout = (int64_t)slots[0];
    /* The runner is the mailbox's consumer: no lock to pop. */
    shoal_msg *m = mbox_pop(&a->mb);
    if (m) {
        take_current(a, m);
        return ret_i32(slots, (int32_t)m->len);
    }
    if (timeout == 0)
        return ret_i32(slots, E_TIMEOUT);
    /* A message pushed from now on notifies the actor, whose worker then
     * completes the wait (abi__complete_wait). */
    pthread_mutex_lock(&a->lock);
    uint64_t seq = begin_wait(a, WAIT_RECEIVE);
    pthread_mutex_unlock(&a->lock);
    if (timeout > 0)
        sched__timer_add(a->rt, timeout, a->id, seq);
    return WASM_HOST_SUSPEND;
}

bool abi__complete_wait(actor *a)
{
    int32_t result = 0;
    shoal_msg *m = NULL;
    pthread_mutex_lock(&a->lock);
    switch (a->wait) {
    case WAIT_NONE:
        pthread_mutex_unlock(&a->lock);
        return true;
    case WAIT_YIELD:
        result = WASI_ESUCCESS;
        break;
    case WAIT_RECEIVE:
        m = mbox_pop(&a->mb);
        if (m) {
            result = (int32_t)m->len;
        } else if (a->timed_out) {
            result = E_TIMEOUT;
        } else {
            pthread_mutex_unlock(&a->lock);
            return false;
        }
        break;
    case WAIT_CALL:
        m = a->reply;
        if (m) {
            a->reply = NULL;
            /* An empty reply says the callee exited first. */
            result = m->len ? (int32_t)m->len : E_EXITED;
        } else if (a->timed_out) {
            result = E_TIMEOUT;
        } else {
            pthread_mutex_unlock(&a->lock);
            return false;
        }
        break;
    }
    a->wait = WAIT_NONE;
    a->wait_corr = 0;
    a->timed_out = false;
    a->wait_seq++;
    pthread_mutex_unlock(&a->lock);
    /* Outside the lock: a request taken may refuse an older one, which
     * delivers to another actor. */
    if (m)
        take_current(a, m);
    /* Fuel per message counts from the last wait: a long-running actor gets
     * a fresh budget for each message it waited for. */
    a->budget = a->fuel_budget;
    uint64_t r = (uint32_t)result;
    wasm_exec_complete_host(a->x, &r, 1);
    return true;
}

static wasm_host_status h_msg_read(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    if (a->current == NULL)
        return ret_i32(slots, E_NOMSG);
    uint32_t cap = (uint32_t)slots[1];
    uint8_t *p = guest(x, (uint32_t)slots[0], cap);
    if (p == NULL)
        return ret_i32(slots, E_FAULT);
    uint32_t n = a->current->len < cap ? a->current->len : cap;
    memcpy(p, a->current->payload, n);
    return ret_i32(slots, (int32_t)a->current->len);
}

static wasm_host_status h_msg_sender(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    return ret_i64(slots, a->current ? (int64_t)a->current->sender : 0);
}

static wasm_host_status h_msg_kind(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    return ret_i32(slots, a->current ? a->current->kind : E_NOMSG);
}

static wasm_host_status h_call(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    actor_runtime *rt = a->rt;
    uint64_t corr = atomic_fetch_add(&rt->next_corr, 1);
    shoal_msg *m;
    int32_t st = make_msg(x, MSG_REQUEST, corr, (uint32_t)slots[1],
                          (uint32_t)slots[2], &m);
    if (st)
        return ret_i32(slots, st);
    int64_t timeout = (int64_t)slots[3];
    pthread_mutex_lock(&a->lock);
    uint64_t seq = begin_wait(a, WAIT_CALL);
    a->wait_corr = corr;
    msg_free(a->reply);
    a->reply = NULL;
    pthread_mutex_unlock(&a->lock);
    shoal_err err = actor__deliver(rt, slots[0], m);
    if (err != SHOAL_OK) {
        pthread_mutex_lock(&a->lock);
        a->wait = WAIT_NONE;
        a->wait_corr = 0;
        a->wait_seq++;
        pthread_mutex_unlock(&a->lock);
        return ret_i32(slots, status_of(err));
    }
    if (timeout > 0)
        sched__timer_add(rt, timeout, a->id, seq);
    return WASM_HOST_SUSPEND;
}

static wasm_host_status h_reply(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    if (!a->req_open)
        return ret_i32(slots, E_NOMSG);
    shoal_msg *m;
    int32_t st = make_msg(x, MSG_REPLY, a->req_corr, (uint32_t)slots[0],
                          (uint32_t)slots[1], &m);
    if (st)
        return ret_i32(slots, st);
    a->req_open = false;
    return ret_i32(slots, status_of(actor__deliver(a->rt, a->req_sender, m)));
}

static wasm_host_status h_spawn(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    uint32_t nlen = (uint32_t)slots[1], ilen = (uint32_t)slots[3];
    const uint8_t *name = guest(x, (uint32_t)slots[0], nlen);
    const uint8_t *init = guest(x, (uint32_t)slots[2], ilen);
    if (name == NULL || init == NULL)
        return ret_i64(slots, E_FAULT);
    module_entry *mod = actor__find_module(a->rt, (const char *)name, nlen);
    if (mod == NULL)
        return ret_i64(slots, E_NOMODULE);
    actor_id id;
    shoal_err err =
        actor__spawn_internal(a->rt, mod, init, ilen, NULL, &id, NULL);
    if (err != SHOAL_OK)
        return ret_i64(slots, err == SHOAL_EMALFORMED ? E_MALFORMED : E_LIMIT);
    return ret_i64(slots, (int64_t)id);
}

static wasm_host_status h_exit(wasm_exec *x, void *env, uint64_t *slots)
{
    wasm_exec_set_exit(x, (int32_t)slots[0]);
    return WASM_HOST_TRAP;
}

static wasm_host_status h_log(wasm_exec *x, void *env, uint64_t *slots)
{
    uint32_t len = (uint32_t)slots[2];
    const uint8_t *p = guest(x, (uint32_t)slots[1], len);
    if (p == NULL)
        return WASM_HOST_OK; /* nothing to log from a bad buffer */
    int32_t level = (int32_t)slots[0];
    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    actor__log(self_of(x), level, (const char *)p, len);
    return WASM_HOST_OK;
}

/* Adds id to a's link list (a->lock held). */
static bool link_add(actor *a, actor_id id)
{
    for (uint32_t i = 0; i < a->nlinks; i++)
        if (a->links[i] == id)
            return true;
    if (a->nlinks == a->caplinks) {
        uint32_t ncap = a->caplinks ? a->caplinks * 2 : 4;
        actor_id *nl = realloc(a->links, ncap * sizeof *nl);
        if (nl == NULL)
            return false;
        a->links = nl;
        a->caplinks = ncap;
    }
    a->links[a->nlinks++] = id;
    return true;
}

static void link_remove(actor *a, actor_id id)
{
    for (uint32_t i = 0; i < a->nlinks; i++) {
        if (a->links[i] == id) {
            a->links[i] = a->links[--a->nlinks];
            return;
        }
    }
}

static wasm_host_status h_link(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    actor_id id = slots[0];
    if (id == a->id)
        return ret_i32(slots, 0);
    actor *t = actor__lookup(a->rt, id);
    if (t == NULL)
        return ret_i32(slots, E_NOACTOR);
    /* One lock at a time: the other side first, as it may be exiting. */
    pthread_mutex_lock(&t->lock);
    bool ok = !t->dead && link_add(t, a->id);
    bool dead = t->dead;
    pthread_mutex_unlock(&t->lock);
    actor__unref(t);
    if (!ok)
        return ret_i32(slots, dead ? E_NOACTOR : E_LIMIT);
    pthread_mutex_lock(&a->lock);
    ok = link_add(a, id);
    pthread_mutex_unlock(&a->lock);
    return ret_i32(slots, ok ? 0 : E_LIMIT);
}

static wasm_host_status h_unlink(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    actor_id id = slots[0];
    pthread_mutex_lock(&a->lock);
    link_remove(a, id);
    pthread_mutex_unlock(&a->lock);
    actor *t = actor__lookup(a->rt, id);
    if (t) {
        pthread_mutex_lock(&t->lock);
        link_remove(t, a->id);
        pthread_mutex_unlock(&t->lock);
        actor__unref(t);
    }
    return ret_i32(slots, 0);
}

static wasm_host_status h_monitor(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    actor_runtime *rt = a->rt;
    uint64_t ref = atomic_fetch_add(&rt->next_ref, 1);
    actor *t = actor__lookup(rt, slots[0]);
    bool added = false;
    if (t) {
        pthread_mutex_lock(&t->lock);
        if (!t->dead) {
            if (t->nmonitors == t->capmonitors) {
                uint32_t ncap = t->capmonitors ? t->capmonitors * 2 : 4;
                monitor_entry *nm = realloc(t->monitors, ncap * sizeof *nm);
                if (nm == NULL) {
                    pthread_mutex_unlock(&t->lock);
                    actor__unref(t);
                    return ret_i64(slots, E_LIMIT);
                }
                t->monitors = nm;
                t->capmonitors = ncap;
            }
            t->monitors[t->nmonitors++] =
                (monitor_entry){.ref = ref, .watcher = a->id};
            added = true;
        }
        pthread_mutex_unlock(&t->lock);
        actor__unref(t);
    }
    if (added) {
        /* Remember the pair for demonitor; without room demonitor of this
         * reference fails, and the DOWN notice still comes. */
        pthread_mutex_lock(&a->lock);
        if (a->nmonitoring == a->capmonitoring) {
            uint32_t ncap = a->capmonitoring ? a->capmonitoring * 2 : 4;
            monitor_entry *nm = realloc(a->monitoring, ncap * sizeof *nm);
            if (nm) {
                a->monitoring = nm;
                a->capmonitoring = ncap;
            }
        }
        if (a->nmonitoring < a->capmonitoring)
            a->monitoring[a->nmonitoring++] =
                (monitor_entry){.ref = ref, .watcher = slots[0]};
        pthread_mutex_unlock(&a->lock);
    }
    if (!added) {
        /* Already gone: the notice comes at once. */
        shoal_msg *n = msg_new_notice(MSG_DOWN, slots[0], ref, "noproc", 0);
        if (n) {
            n->sender = slots[0];
            actor__deliver(rt, a->id, n);
        }
    }
    return ret_i64(slots, (int64_t)ref);
}

static wasm_host_status h_demonitor(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    uint64_t ref = slots[0];
    actor_id target = 0;
    pthread_mutex_lock(&a->lock);
    for (uint32_t i = 0; i < a->nmonitoring; i++) {
        if (a->monitoring[i].ref == ref) {
            target = a->monitoring[i].watcher; /* here: the watched actor */
            a->monitoring[i] = a->monitoring[--a->nmonitoring];
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (target == 0)
        return ret_i32(slots, E_NOMSG);
    actor *t = actor__lookup(a->rt, target);
    if (t) {
        pthread_mutex_lock(&t->lock);
        for (uint32_t i = 0; i < t->nmonitors; i++) {
            if (t->monitors[i].ref == ref) {
                t->monitors[i] = t->monitors[--t->nmonitors];
                break;
            }
        }
        pthread_mutex_unlock(&t->lock);
        actor__unref(t);
    }
    return ret_i32(slots, 0);
}

/* lookup(name_ptr, name_len) -> i64: the id name stands for (a linked
 * provider), as the embedder's resolve says. */
static wasm_host_status h_lookup(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    uint32_t len = (uint32_t)slots[1];
    const uint8_t *name = guest(x, (uint32_t)slots[0], len);
    if (name == NULL)
        return ret_i64(slots, E_FAULT);
    actor_runtime *rt = a->rt;
    actor_id id = 0;
    if (rt->cfg.resolve == NULL ||
        rt->cfg.resolve(rt->cfg.ctx, a->id, a->tag, (const char *)name, len,
                        &id) != SHOAL_OK ||
        id == 0)
        return ret_i64(slots, E_NOLINK);
    return ret_i64(slots, (int64_t)id);
}

static wasm_host_status h_trap_exit(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    pthread_mutex_lock(&a->lock);
    bool old = a->trap_exit;
    a->trap_exit = (uint32_t)slots[0] != 0;
    pthread_mutex_unlock(&a->lock);
    return ret_i32(slots, old);
}

/* ---- WASI preview1 for actors ---- */

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void wr64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Output to fd 1 or 2 becomes log lines: complete lines go out at once, a
 * partial line waits for its end (or for 4 KiB). */
static void log_bytes(actor *a, int level, const uint8_t *p, size_t n)
{
    enum { LINE_MAX = 4096 };
    while (n > 0) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (a->logbuf == NULL) {
            a->logbuf = malloc(LINE_MAX);
            if (a->logbuf == NULL)
                return;
        }
        size_t room = LINE_MAX - a->loglen;
        size_t c = take < room ? take : room;
        memcpy(a->logbuf + a->loglen, p, c);
        a->loglen += (uint32_t)c;
        if (nl || a->loglen == LINE_MAX) {
            actor__log(a, level, a->logbuf, a->loglen);
            a->loglen = 0;
        }
        size_t used = nl && c == take ? take + 1 : c;
        p += used;
        n -= used;
    }
}

static wasm_host_status w_fd_write(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    uint32_t fd = (uint32_t)slots[0];
    uint32_t iovs = (uint32_t)slots[1], n = (uint32_t)slots[2];
    if (fd != 1 && fd != 2)
        return ret_i32(slots, WASI_EBADF);
    const uint8_t *v = guest(x, iovs, n * 8u);
    uint8_t *out = guest(x, (uint32_t)slots[3], 4);
    if (v == NULL || out == NULL || n > (1u << 20))
        return ret_i32(slots, WASI_EFAULT);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        if (guest(x, rd32(v + 8 * i), rd32(v + 8 * i + 4)) == NULL)
            return ret_i32(slots, WASI_EFAULT);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = rd32(v + 8 * i + 4);
        log_bytes(a, fd == 1 ? 1 : 2, guest(x, rd32(v + 8 * i), len), len);
        total += len;
    }
    wr32(out, (uint32_t)total);
    return ret_i32(slots, WASI_ESUCCESS);
}

static wasm_host_status w_clock_time_get(wasm_exec *x, void *env,
                                         uint64_t *slots)
{
    uint8_t *out = guest(x, (uint32_t)slots[2], 8);
    if (out == NULL)
        return ret_i32(slots, WASI_EFAULT);
    clockid_t id;
    switch ((uint32_t)slots[0]) {
    case 0:
        id = CLOCK_REALTIME;
        break;
    case 1:
        id = CLOCK_MONOTONIC;
        break;
    default:
        return ret_i32(slots, WASI_EINVAL);
    }
    struct timespec ts;
    clock_gettime(id, &ts);
    wr64(out, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    return ret_i32(slots, WASI_ESUCCESS);
}

static wasm_host_status w_clock_res_get(wasm_exec *x, void *env,
                                        uint64_t *slots)
{
    uint8_t *out = guest(x, (uint32_t)slots[1], 8);
    if (out == NULL)
        return ret_i32(slots, WASI_EFAULT);
    if ((uint32_t)slots[0] > 1)
        return ret_i32(slots, WASI_EINVAL);
    wr64(out, 1);
    return ret_i32(slots, WASI_ESUCCESS);
}

static wasm_host_status w_random_get(wasm_exec *x, void *env, uint64_t *slots)
{
    uint32_t len = (uint32_t)slots[1];
    uint8_t *p = guest(x, (uint32_t)slots[0], len);
    if (p == NULL)
        return ret_i32(slots, WASI_EFAULT);
    size_t done = 0;
    while (done < len) {
        ssize_t r = getrandom(p + done, len - done, 0);
        if (r <= 0)
            return ret_i32(slots, WASI_EINVAL);
        done += (size_t)r;
    }
    return ret_i32(slots, WASI_ESUCCESS);
}

/* args and environ are empty: sizes 0 and 0, nothing to copy. */
static wasm_host_status w_sizes_get(wasm_exec *x, void *env, uint64_t *slots)
{
    uint8_t *count = guest(x, (uint32_t)slots[0], 4);
    uint8_t *size = guest(x, (uint32_t)slots[1], 4);
    if (count == NULL || size == NULL)
        return ret_i32(slots, WASI_EFAULT);
    wr32(count, 0);
    wr32(size, 0);
    return ret_i32(slots, WASI_ESUCCESS);
}

static wasm_host_status w_strings_get(wasm_exec *x, void *env, uint64_t *slots)
{
    return ret_i32(slots, WASI_ESUCCESS);
}

static wasm_host_status w_proc_exit(wasm_exec *x, void *env, uint64_t *slots)
{
    wasm_exec_set_exit(x, (int32_t)slots[0]);
    return WASM_HOST_TRAP;
}

static wasm_host_status w_sched_yield(wasm_exec *x, void *env, uint64_t *slots)
{
    actor *a = self_of(x);
    pthread_mutex_lock(&a->lock);
    begin_wait(a, WAIT_YIELD);
    pthread_mutex_unlock(&a->lock);
    return WASM_HOST_SUSPEND;
}

static wasm_host_status w_fd_fdstat_get(wasm_exec *x, void *env,
                                        uint64_t *slots)
{
    uint32_t fd = (uint32_t)slots[0];
    uint8_t *out = guest(x, (uint32_t)slots[1], 24);
    if (fd != 1 && fd != 2)
        return ret_i32(slots, WASI_EBADF);
    if (out == NULL)
        return ret_i32(slots, WASI_EFAULT);
    memset(out, 0, 24);
    /* filetype unknown (0), no flags; rights: fd_write (bit 6). */
    wr64(out + 8, (uint64_t)1 << 6);
    return ret_i32(slots, WASI_ESUCCESS);
}

static wasm_host_status w_badf(wasm_exec *x, void *env, uint64_t *slots)
{
    return ret_i32(slots, WASI_EBADF);
}

static wasm_host_status w_enosys(wasm_exec *x, void *env, uint64_t *slots)
{
    return ret_i32(slots, WASI_ENOSYS);
}

/* ---- the import table ---- */

#define I32 WASM_I32
#define I64 WASM_I64

typedef struct host_def {
    const char *module, *name;
    uint8_t np, nr;
    wasm_valtype params[4], results[1];
    wasm_host_fn fn;
} host_def;

static const char SHOAL[] = "shoal";
static const char WASI[] = "wasi_snapshot_preview1";

static const host_def host_defs[] = {
    {SHOAL, "self", 0, 1, {0}, {I64}, h_self},
    {SHOAL, "send", 3, 1, {I64, I32, I32}, {I32}, h_send},
    {SHOAL, "receive", 1, 1, {I64}, {I32}, h_receive},
    {SHOAL, "msg_read", 2, 1, {I32, I32}, {I32}, h_msg_read},
    {SHOAL, "msg_sender", 0, 1, {0}, {I64}, h_msg_sender},
    {SHOAL, "msg_kind", 0, 1, {0}, {I32}, h_msg_kind},
    {SHOAL, "call", 4, 1, {I64, I32, I32, I64}, {I32}, h_call},
    {SHOAL, "reply", 2, 1, {I32, I32}, {I32}, h_reply},
    {SHOAL, "spawn", 4, 1, {I32, I32, I32, I32}, {I64}, h_spawn},
    {SHOAL, "exit", 1, 0, {I32}, {0}, h_exit},
    {SHOAL, "log", 3, 0, {I32, I32, I32}, {0}, h_log},
    {SHOAL, "link", 1, 1, {I64}, {I32}, h_link},
    {SHOAL, "unlink", 1, 1, {I64}, {I32}, h_unlink},
    {SHOAL, "monitor", 1, 1, {I64}, {I64}, h_monitor},
    {SHOAL, "demonitor", 1, 1, {I64}, {I32}, h_demonitor},
    {SHOAL, "trap_exit", 1, 1, {I32}, {I32}, h_trap_exit},
    {SHOAL, "lookup", 2, 1, {I32, I32}, {I64}, h_lookup},
    {WASI, "fd_write", 4, 1, {I32, I32, I32, I32}, {I32}, w_fd_write},
    {WASI, "clock_time_get", 3, 1, {I32, I64, I32}, {I32}, w_clock_time_get},
    {WASI, "clock_res_get", 2, 1, {I32, I32}, {I32}, w_clock_res_get},
    {WASI, "random_get", 2, 1, {I32, I32}, {I32}, w_random_get},
    {WASI, "args_sizes_get", 2, 1, {I32, I32}, {I32}, w_sizes_get},
    {WASI, "environ_sizes_get", 2, 1, {I32, I32}, {I32}, w_sizes_get},
    {WASI, "args_get", 2, 1, {I32, I32}, {I32}, w_strings_get},
    {WASI, "environ_get", 2, 1, {I32, I32}, {I32}, w_strings_get},
    {WASI, "proc_exit", 1, 0, {I32}, {0}, w_proc_exit},
    {WASI, "sched_yield", 0, 1, {0}, {I32}, w_sched_yield},
    {WASI, "fd_fdstat_get", 2, 1, {I32, I32}, {I32}, w_fd_fdstat_get},
    {WASI, "fd_prestat_get", 2, 1, {I32, I32}, {I32}, w_badf},
};

#define NDEFS (sizeof host_defs / sizeof host_defs[0])

/* The host functions, in host_defs order, are the first NDEFS objects the
 * runtime keeps; ENOSYS stubs for other WASI imports are made per type on
 * demand and kept in a small list. */
typedef struct enosys_fn {
    struct enosys_fn *next;
    wasm_func *f;
} enosys_fn;

struct abi_host {
    wasm_func *funcs[NDEFS];
    pthread_mutex_t stubs_lock;
    enosys_fn *stubs;
};

shoal_err abi__make_host(actor_runtime *rt)
{
    struct abi_host *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SHOAL_ENOMEM;
    pthread_mutex_init(&h->stubs_lock, NULL);
    rt->abi = h;
    for (size_t i = 0; i < NDEFS; i++) {
        const host_def *d = &host_defs[i];
        h->funcs[i] = wasm_func_new_host(rt->host_store, d->params, d->np,
                                         d->results, d->nr, d->fn, rt);
        if (h->funcs[i] == NULL)
            return SHOAL_ENOMEM;
    }
    return SHOAL_OK;
}

void abi__free_host(actor_runtime *rt)
{
    struct abi_host *h = rt->abi;
    if (h == NULL)
        return;
    enosys_fn *s = h->stubs;
    while (s) {
        enosys_fn *next = s->next;
        free(s);
        s = next;
    }
    pthread_mutex_destroy(&h->stubs_lock);
    free(h);
    rt->abi = NULL;
}

static bool type_is(const wasm_functype *t, const host_def *d)
{
    if (wasm_functype_num_params(t) != d->np ||
        wasm_functype_num_results(t) != d->nr)
        return false;
    for (uint32_t i = 0; i < d->np; i++)
        if (wasm_functype_param(t, i) != d->params[i])
            return false;
    for (uint32_t i = 0; i < d->nr; i++)
        if (wasm_functype_result(t, i) != d->results[i])
            return false;
    return true;
}

static bool same_type(const wasm_functype *a, const wasm_functype *b)
{
    if (wasm_functype_num_params(a) != wasm_functype_num_params(b) ||
        wasm_functype_num_results(a) != wasm_functype_num_results(b))
        return false;
    for (uint32_t i = 0; i < wasm_functype_num_params(a); i++)
        if (wasm_functype_param(a, i) != wasm_functype_param(b, i))
            return false;
    for (uint32_t i = 0; i < wasm_functype_num_results(a); i++)
        if (wasm_functype_result(a, i) != wasm_functype_result(b, i))
            return false;
    return true;
}

/* An ENOSYS function of type t (which returns one i32), shared. */
static wasm_func *enosys_stub(actor_runtime *rt, const wasm_functype *t)
{
    struct abi_host *h = rt->abi;
    pthread_mutex_lock(&h->stubs_lock);
    for (enosys_fn *s = h->stubs; s; s = s->next) {
        if (same_type(wasm_func_type(s->f), t)) {
            pthread_mutex_unlock(&h->stubs_lock);
            return s->f;
        }
    }
    wasm_valtype params[16];
    uint32_t np = wasm_functype_num_params(t);
    wasm_func *f = NULL;
    enosys_fn *s = malloc(sizeof *s);
    if (s && np <= 16) {
        for (uint32_t i = 0; i < np; i++)
            params[i] = wasm_functype_param(t, i);
        wasm_valtype r = WASM_I32;
        f = wasm_func_new_host(rt->host_store, params, np, &r, 1, w_enosys, rt);
    }
    if (f) {
        s->f = f;
        s->next = h->stubs;
        h->stubs = s;
    } else {
        free(s);
    }
    pthread_mutex_unlock(&h->stubs_lock);
    return f;
}

static bool name_is(const char *s, uint32_t len, const char *want)
{
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

shoal_err abi__link(actor_runtime *rt, const wasm_module *m,
                    wasm_extern *imports, shoal_errinfo *ei)
{
    struct abi_host *h = rt->abi;
    uint32_t n = wasm_module_num_imports(m);
    for (uint32_t i = 0; i < n; i++) {
        wasm_import_desc d;
        wasm_module_import(m, i, &d);
        if (d.kind != WASM_EXTERN_FUNC)
            return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                     "import %.*s.%.*s: actors may import "
                                     "only functions",
                                     (int)d.module_len, d.module,
                                     (int)d.name_len, d.name);
        const host_def *found = NULL;
        size_t k;
        for (k = 0; k < NDEFS; k++) {
            if (name_is(d.module, d.module_len, host_defs[k].module) &&
                name_is(d.name, d.name_len, host_defs[k].name)) {
                found = &host_defs[k];
                break;
            }
        }
        if (found) {
            if (!type_is(d.functype, found))
                return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                         "import %s.%s has the wrong type "
                                         "(see docs/abi.md)",
                                         found->module, found->name);
            imports[i] =
                (wasm_extern){.kind = WASM_EXTERN_FUNC, .u.func = h->funcs[k]};
            continue;
        }
        bool wasi = name_is(d.module, d.module_len, WASI);
        if (wasi && wasm_functype_num_results(d.functype) == 1 &&
            wasm_functype_result(d.functype, 0) == WASM_I32) {
            wasm_func *f = enosys_stub(rt, d.functype);
            if (f == NULL)
                return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                         "out of memory");
            imports[i] = (wasm_extern){.kind = WASM_EXTERN_FUNC, .u.func = f};
            continue;
        }
        return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                 "import %.*s.%.*s: unknown to actors (they "
                                 "may import \"shoal\" and WASI preview1; see "
                                 "docs/abi.md)",
                                 (int)d.module_len, d.module, (int)d.name_len,
                                 d.name);
    }
    return SHOAL_OK;
}
