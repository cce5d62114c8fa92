/* External providers (docs/providers.md, "External providers"): separate
 * processes that speak the provider protocol over NNG. The node listens
 * for each on an ipc socket in the data directory as the requester (REQ0)
 * and runs its command, restarting it when it exits; the provider dials in
 * as the replier (REP0). Actors reach it through a runtime endpoint, as
 * they reach the built-in ones. */
#include "node.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

/* Requests in flight to one provider; more wait in a queue. */
#define EXT_SLOTS 32
#define EXT_QUEUE_MAX 4096
/* How long a provider has to answer one request. */
#define EXT_TIMEOUT_MS 5000
/* Restarts: 100 ms, doubling to 10 s; a provider up for 30 s starts over. */
#define EXT_BACKOFF_MIN_MS 100
#define EXT_BACKOFF_MAX_MS 10000
#define EXT_STABLE_MS 30000

typedef struct ext_job {
    struct ext_job *next;
    actor_id to;
    uint64_t corr;
    nng_msg *msg; /* the request, ready to send */
} ext_job;

typedef struct ext_slot {
    ext_provider *x;
    nng_ctx ctx;
    nng_aio *aio;
    ext_job *job; /* NULL: free */
    bool receiving;
} ext_slot;

struct ext_provider {
    ext_provider *next;
    node *n;
    char name[64];
    char *command;
    char url[4200];
    nng_socket sock;
    bool sock_open;
    atomic_int connected; /* pipes: the provider process is there */
    actor_id endpoint;

    pthread_mutex_t lock; /* slots' job fields and the queue */
    ext_slot slots[EXT_SLOTS];
    unsigned nslots;
    ext_job *queue_head, *queue_tail;
    unsigned queued;
    bool stopping;

    uv_process_t proc;
    bool running, proc_closing;
    uv_timer_t restart_timer;
    int64_t backoff_ms, started_ms;
};

/* ---- replies to actors ---- */

static void reply_error(ext_provider *x, actor_id to, uint64_t corr,
                        shoal_err err, const char *message)
{
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    api_pack_kv_bool(&w.pk, "ok", false);
    api_pack_kv_str(&w.pk, "error", shoal_err_name(err));
    api_pack_kv_str(&w.pk, "message", message);
    actor_endpoint_reply(x->n->rt, x->endpoint, to, corr,
                         (const uint8_t *)w.buf.data, w.buf.size);
    api_writer_free(&w);
}

/* The provider's answer to job: its "data" goes to the actor, or the
 * error map when it refused. */
static void deliver_answer(ext_provider *x, const ext_job *j, nng_msg *m)
{
    if (j->corr == 0) /* a cast: nobody waits */
        return;
    api_msg r;
    shoal_errinfo ei = {0};
    if (api_parse(nng_msg_body(m), nng_msg_len(m), &r, &ei) != SHOAL_OK) {
        node_log(x->n, LOG_WARN, "provider", x->name, "bad answer: %s", ei.msg);
        reply_error(x, j->to, j->corr, SHOAL_EMALFORMED,
                    "the provider's answer is not msgpack");
        return;
    }
    const uint8_t *data;
    size_t len;
    bool ok = false;
    api_get_bool(r.root, "ok", &ok);
    if (ok && api_get_bin(r.root, "data", &data, &len) &&
        actor_endpoint_reply(x->n->rt, x->endpoint, j->to, j->corr, data,
                             len) != SHOAL_EMALFORMED) {
        api_msg_free(&r);
        return;
    }
    shoal_err err = ok ? SHOAL_EMALFORMED : api_reply_status(r.root, &ei);
    reply_error(x, j->to, j->corr, err,
                ok ? "the provider's answer has no msgpack data" : ei.msg);
    api_msg_free(&r);
}

/* ---- the request slots (NNG's threads and the senders') ---- */

static void slot_start(ext_slot *s)
{
    s->receiving = false;
    nng_aio_set_msg(s->aio, s->job->msg);
    s->job->msg = NULL;
    nng_aio_set_timeout(s->aio, EXT_TIMEOUT_MS);
    nng_ctx_send(s->ctx, s->aio);
}

/* The job of s is done: the next waiting one takes the slot. */
static void slot_next(ext_slot *s)
{
    ext_provider *x = s->x;
    ext_job *done = s->job;
    pthread_mutex_lock(&x->lock);
    ext_job *j = x->stopping ? NULL : x->queue_head;
    if (j) {
        x->queue_head = j->next;
        if (x->queue_head == NULL)
            x->queue_tail = NULL;
        x->queued--;
    }
    s->job = j;
    pthread_mutex_unlock(&x->lock);
    if (done->msg)
        nng_msg_free(done->msg);
    free(done);
    if (j)
        slot_start(s);
}

static void on_slot_aio(void *arg)
{
    ext_slot *s = arg;
    ext_provider *x = s->x;
    ext_job *j = s->job;
    int rv = nng_aio_result(s->aio);
    if (rv != 0) {
        if (!s->receiving) {
            nng_msg *m = nng_aio_get_msg(s->aio);
            if (m)
                nng_msg_free(m);
        }
        if (j->corr)
            reply_error(x, j->to, j->corr,
                        rv == NNG_ETIMEDOUT ? SHOAL_ETIMEDOUT : SHOAL_EIO,
                        rv == NNG_ETIMEDOUT
                            ? "the provider did not answer in time"
                            : "the provider went away");
        slot_next(s);
        return;
    }
    if (!s->receiving) {
        s->receiving = true;
        nng_aio_set_timeout(s->aio, EXT_TIMEOUT_MS);
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    nng_msg *m = nng_aio_get_msg(s->aio);
    deliver_answer(x, j, m);
    nng_msg_free(m);
    slot_next(s);
}

/* The provider process connected or went away (NNG's thread). When it
 * goes, the requests under way fail at once instead of waiting for their
 * timeout: the actors see errors, not hangs. */
static void on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    (void)pipe;
    ext_provider *x = arg;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add(&x->connected, 1);
        node_log(x->n, LOG_INFO, "provider", x->name, "connected");
        return;
    }
    if (atomic_fetch_sub(&x->connected, 1) != 1)
        return;
    node_log(x->n, LOG_WARN, "provider", x->name, "disconnected");
    for (unsigned i = 0; i < x->nslots; i++)
        nng_aio_cancel(x->slots[i].aio);
}

/* ---- the endpoint (worker threads) ---- */

static nng_msg *make_request(const actor_delivery *d, const link_tag *t,
                             const tag_link *l)
{
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "message", 4);
    api_pack_kv_str(&w.pk, "from", t->label);
    api_pack_kv_str(&w.pk, "kind",
                    d->kind == ACTOR_KIND_REQUEST ? "request" : "cast");
    api_pack_str(&w.pk, "link");
    w.pk.callback(w.pk.data, (const char *)l->config, l->config_len);
    api_pack_kv_bin(&w.pk, "data", d->data, d->len);
    nng_msg *m = NULL;
    if (nng_msg_alloc(&m, w.buf.size) == 0)
        memcpy(nng_msg_body(m), w.buf.data, w.buf.size);
    api_writer_free(&w);
    return m;
}

static void on_message(void *ctx, actor_id endpoint, const actor_delivery *d)
{
    ext_provider *x = ctx;
    const link_tag *t = d->from_tag;
    uint64_t corr = d->kind == ACTOR_KIND_REQUEST ? d->corr : 0;
    const tag_link *l = providers_tag_link(t, x->name, strlen(x->name));
    if (l == NULL) {
        node_log(x->n, LOG_WARN, "provider", t ? t->label : NULL,
                 "refused: no link to provider %s", x->name);
        if (corr)
            reply_error(x, d->from, corr, SHOAL_ENOTFOUND,
                        "no link to this provider");
        return;
    }
    if (atomic_load(&x->connected) == 0) {
        if (corr)
            reply_error(x, d->from, corr, SHOAL_EIO,
                        "the provider is not running");
        return;
    }
    ext_job *j = calloc(1, sizeof *j);
    if (j == NULL || (j->msg = make_request(d, t, l)) == NULL) {
        free(j);
        if (corr)
            reply_error(x, d->from, corr, SHOAL_ENOMEM, "out of memory");
        return;
    }
    j->to = d->from;
    j->corr = corr;
    ext_slot *free_slot = NULL;
    bool full = false;
    pthread_mutex_lock(&x->lock);
    for (unsigned i = 0; i < x->nslots && !free_slot; i++)
        if (x->slots[i].job == NULL)
            free_slot = &x->slots[i];
    if (x->stopping) {
        full = true;
    } else if (free_slot) {
        free_slot->job = j;
    } else if (x->queued >= EXT_QUEUE_MAX) {
        full = true;
    } else {
        if (x->queue_tail)
            x->queue_tail->next = j;
        else
            x->queue_head = j;
        x->queue_tail = j;
        x->queued++;
    }
    pthread_mutex_unlock(&x->lock);
    if (full) {
        nng_msg_free(j->msg);
        free(j);
        if (corr)
            reply_error(x, d->from, corr, SHOAL_EFULL,
                        "the provider has too many requests waiting");
        return;
    }
    if (free_slot)
        slot_start(free_slot);
}

/* ---- the process (loop thread) ---- */

static void spawn_process(ext_provider *x);

static void on_restart_timer(uv_timer_t *t)
{
    ext_provider *x = t->data;
    if (!x->n->stopping)
        spawn_process(x);
}

static void on_proc_closed(uv_handle_t *h)
{
    ext_provider *x = h->data;
    x->proc_closing = false;
}

static void on_proc_exit(uv_process_t *p, int64_t status, int signal)
{
    ext_provider *x = p->data;
    x->running = false;
    x->proc_closing = true;
    uv_close((uv_handle_t *)p, on_proc_closed);
    if (x->n->stopping)
        return;
    if (node__now_ms() - x->started_ms > EXT_STABLE_MS)
        x->backoff_ms = EXT_BACKOFF_MIN_MS;
    node_log(x->n, LOG_WARN, "provider", x->name,
             "exited (%s %lld); starting it again in %lld ms",
             signal ? "signal" : "status",
             (long long)(signal ? signal : status), (long long)x->backoff_ms);
    uv_timer_start(&x->restart_timer, on_restart_timer, (uint64_t)x->backoff_ms,
                   0);
    x->backoff_ms *= 2;
    if (x->backoff_ms > EXT_BACKOFF_MAX_MS)
        x->backoff_ms = EXT_BACKOFF_MAX_MS;
}

static void spawn_process(ext_provider *x)
{
    if (x->running || x->proc_closing) {
        uv_timer_start(&x->restart_timer, on_restart_timer, 50, 0);
        return;
    }
    char url_env[4300], name_env[96];
    snprintf(url_env, sizeof url_env, "SHOAL_PROVIDER_URL=%s", x->url);
    snprintf(name_env, sizeof name_env, "SHOAL_PROVIDER_NAME=%s", x->name);
    /* The node's environment plus the two variables. */
    extern char **environ;
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **env = calloc(nenv + 3, sizeof *env);
    if (env == NULL)
        return;
    memcpy(env, environ, nenv * sizeof *env);
    env[nenv] = url_env;
    env[nenv + 1] = name_env;
    /* exec: the shell becomes the provider, so that the signals the node
     * sends (SIGTERM at shutdown) reach it, not a shell that would die and
     * leave it behind. */
    size_t clen = strlen(x->command) + 6;
    char *line = malloc(clen);
    if (line == NULL) {
        free(env);
        return;
    }
    snprintf(line, clen, "exec %s", x->command);
    char *args[] = {"/bin/sh", "-c", line, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = 2}, /* its output joins the log */
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t o = {
        .exit_cb = on_proc_exit,
        .file = "/bin/sh",
        .args = args,
        .env = env,
        .stdio_count = 3,
        .stdio = stdio,
    };
    x->proc.data = x;
    int rv = uv_spawn(&x->n->loop, &x->proc, &o);
    free(env);
    free(line);
    if (rv != 0) {
        node_log(x->n, LOG_ERROR, "provider", x->name, "cannot start: %s",
                 uv_strerror(rv));
        x->proc_closing = true;
        uv_close((uv_handle_t *)&x->proc, on_proc_closed);
        uv_timer_start(&x->restart_timer, on_restart_timer,
                       (uint64_t)x->backoff_ms, 0);
        return;
    }
    x->running = true;
    x->started_ms = node__now_ms();
    node_log(x->n, LOG_INFO, "provider", x->name, "started (pid %d): %s",
             x->proc.pid, x->command);
}

/* ---- life cycle ---- */

shoal_err external_add(node *n, const char *spec, shoal_errinfo *ei)
{
    const char *eq = strchr(spec, '=');
    size_t nlen = eq ? (size_t)(eq - spec) : 0;
    bool name_ok = nlen > 0 && nlen < 64;
    for (size_t i = 0; name_ok && i < nlen; i++)
        name_ok = (spec[i] >= 'a' && spec[i] <= 'z') ||
                  (spec[i] >= '0' && spec[i] <= '9') || spec[i] == '-';
    if (!name_ok || !eq[1])
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "--provider %s: expected NAME=COMMAND with "
                                 "NAME of a-z, 0-9 and -",
                                 spec);
    if ((nlen == 2 && memcmp(spec, "kv", 2) == 0) ||
        (nlen == 11 && memcmp(spec, "http-server", 11) == 0) ||
        external_endpoint(n, spec, nlen))
        return shoal_errinfo_set(ei, SHOAL_EEXIST, SIZE_MAX,
                                 "--provider %.*s: that name is taken",
                                 (int)nlen, spec);
    ext_provider *x = calloc(1, sizeof *x);
    if (x == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    x->n = n;
    memcpy(x->name, spec, nlen);
    x->command = strdup(eq + 1);
    x->backoff_ms = EXT_BACKOFF_MIN_MS;
    pthread_mutex_init(&x->lock, NULL);
    uv_timer_init(&n->loop, &x->restart_timer);
    x->restart_timer.data = x;
    x->next = n->externals;
    n->externals = x; /* external_free cleans up a half-made one */
    if (x->command == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    snprintf(x->url, sizeof x->url, "ipc://%s/provider-%s.sock",
             n->opt.data_dir, x->name);
    unlink(x->url + strlen("ipc://"));
    int rv = nng_req0_open(&x->sock);
    if (rv != 0)
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX, "provider %s: %s",
                                 x->name, nng_strerror(rv));
    x->sock_open = true;
    /* A request is sent once: the timeout, not a resend, covers a provider
     * that restarts. */
    nng_socket_set_ms(x->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_size(x->sock, NNG_OPT_RECVMAXSZ, 2u << 20);
    nng_pipe_notify(x->sock, NNG_PIPE_EV_ADD_POST, on_pipe, x);
    nng_pipe_notify(x->sock, NNG_PIPE_EV_REM_POST, on_pipe, x);
    rv = nng_listen(x->sock, x->url, NULL, 0);
    if (rv != 0)
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "provider %s: cannot listen on %s: %s",
                                 x->name, x->url, nng_strerror(rv));
    for (unsigned i = 0; i < EXT_SLOTS; i++) {
        ext_slot *s = &x->slots[i];
        s->x = x;
        if (nng_ctx_open(&s->ctx, x->sock) != 0 ||
            nng_aio_alloc(&s->aio, on_slot_aio, s) != 0)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory");
        x->nslots++;
    }
    shoal_err err = actor_endpoint_new(n->rt, on_message, x, &x->endpoint);
    if (err)
        return shoal_errinfo_set(ei, err, SIZE_MAX, "provider %s: %s", x->name,
                                 shoal_strerror(err));
    node_log(n, LOG_INFO, "provider", x->name, "listening on %s", x->url);
    spawn_process(x);
    return SHOAL_OK;
}

actor_id external_endpoint(node *n, const char *name, size_t len)
{
    for (ext_provider *x = n->externals; x; x = x->next)
        if (strlen(x->name) == len && memcmp(x->name, name, len) == 0)
            return x->endpoint;
    return 0;
}

void external_stop(node *n)
{
    for (ext_provider *x = n->externals; x; x = x->next) {
        if (x->endpoint)
            actor_endpoint_delete(n->rt, x->endpoint);
        x->endpoint = 0;
        pthread_mutex_lock(&x->lock);
        x->stopping = true;
        pthread_mutex_unlock(&x->lock);
        if (x->running) {
            uv_process_kill(&x->proc, SIGTERM);
            /* No exit callback from now on: the node is going. */
            x->running = false;
            x->proc_closing = true;
            uv_close((uv_handle_t *)&x->proc, NULL);
        }
        uv_timer_stop(&x->restart_timer);
        if (x->sock_open) {
            nng_close(x->sock); /* requests under way fail: answered */
            x->sock_open = false;
        }
        for (unsigned i = 0; i < x->nslots; i++)
            nng_aio_stop(x->slots[i].aio);
    }
}

void external_free(node *n)
{
    while (n->externals) {
        ext_provider *x = n->externals;
        n->externals = x->next;
        if (x->sock_open)
            nng_close(x->sock);
        for (unsigned i = 0; i < x->nslots; i++) {
            nng_aio_free(x->slots[i].aio);
            ext_job *j = x->slots[i].job;
            if (j) {
                if (j->msg)
                    nng_msg_free(j->msg);
                free(j);
            }
        }
        while (x->queue_head) {
            ext_job *j = x->queue_head;
            x->queue_head = j->next;
            if (j->msg)
                nng_msg_free(j->msg);
            free(j);
        }
        pthread_mutex_destroy(&x->lock);
        free(x->command);
        free(x);
    }
}
