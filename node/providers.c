/* The capability providers built into shoald (docs/providers.md): shoal:kv
 * on its own thread over capabilities/kv, and shoal:http-server on the
 * node's loop over capabilities/http. Actors reach kv through a runtime
 * endpoint that only answers actors linked to it; http-server routes
 * requests to the replicas of the actors whose links declare a route. */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "kv.h"

/* Requests the kv thread takes at once: one transaction, one fsync. */
#define KV_BATCH 64
/* How long an actor has to answer an HTTP request (the server's own limit
 * is the same). */
#define HTTP_TIMEOUT_MS 10000

typedef struct kv_job {
    struct kv_job *next;
    actor_id to;
    uint64_t corr;
    char bucket[KV_MAX_BUCKET + 1];
    size_t len;
    uint8_t data[];
} kv_job;

typedef struct http_route {
    struct http_route *next;
    char app[64], actor[64];
    char address[128], path[256];
    int64_t timeout_ms; /* config.timeout_ms: how long the actor has */
    uint32_t id;
    providers *p;
} http_route;

struct providers {
    node *n;
    kv_store *kv;
    actor_id kv_endpoint;
    pthread_t kv_thread;
    bool kv_started;
    pthread_mutex_t kv_lock;
    pthread_cond_t kv_cond;
    kv_job *kv_head, *kv_tail;
    bool kv_stop;

    http_server *http;
    http_route *routes;
};

/* ---- links ---- */

/* Reads a string field of a link's config map (msgpack) into buf. */
static bool config_str(const manifest_link *l, const char *key, char *buf,
                       size_t len)
{
    api_msg m;
    if (api_parse(l->config, l->config_len, &m, NULL) != SHOAL_OK)
        return false;
    const char *s;
    size_t n;
    bool ok =
        api_get_str(m.root, key, &s, &n) && n < len && memchr(s, 0, n) == NULL;
    if (ok) {
        memcpy(buf, s, n);
        buf[n] = 0;
    }
    api_msg_free(&m);
    return ok;
}

void providers_tag_free(link_tag *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nlinks; i++)
        free(t->links[i].config);
    free(t->links);
    free(t);
}

link_tag *providers_tag_new(const char *label, const manifest_actor *s)
{
    link_tag *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    snprintf(t->label, sizeof t->label, "%s", label);
    t->links = calloc(s->nlinks ? s->nlinks : 1, sizeof *t->links);
    if (t->links == NULL) {
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < s->nlinks; i++) {
        const manifest_link *l = &s->links[i];
        tag_link *tl = &t->links[t->nlinks++];
        snprintf(tl->provider, sizeof tl->provider, "%s", l->provider);
        tl->config = malloc(l->config_len ? l->config_len : 1);
        if (tl->config == NULL) {
            providers_tag_free(t);
            return NULL;
        }
        memcpy(tl->config, l->config, l->config_len);
        tl->config_len = l->config_len;
        if (strcmp(l->provider, "kv") == 0) {
            t->kv = config_str(l, "bucket", t->bucket, sizeof t->bucket) &&
                    t->bucket[0];
        }
    }
    return t;
}

const tag_link *providers_tag_link(const link_tag *t, const char *provider,
                                   size_t len)
{
    for (size_t i = 0; t && i < t->nlinks; i++)
        if (strlen(t->links[i].provider) == len &&
            memcmp(t->links[i].provider, provider, len) == 0)
            return &t->links[i];
    return NULL;
}

shoal_err providers_resolve(void *ctx, actor_id caller, void *caller_tag,
                            const char *name, size_t len, actor_id *out)
{
    node *n = ctx;
    link_tag *t = caller_tag;
    if (len == 2 && memcmp(name, "kv", 2) == 0 && t && t->kv &&
        n->prov->kv_endpoint) {
        *out = n->prov->kv_endpoint;
        return SHOAL_OK;
    }
    /* "APP/ACTOR": an actor of the caller's own application, wherever it
     * runs in the cluster. */
    const char *slash = memchr(name, '/', len);
    if (slash && t) {
        size_t alen = (size_t)(slash - name);
        if (strncmp(t->label, name, alen) == 0 && t->label[alen] == '/' &&
            apps_directory_lookup(n, name, alen, slash + 1, len - alen - 1,
                                  out) == SHOAL_OK)
            return SHOAL_OK;
        node_log(n, LOG_WARN, "links", t->label,
                 "lookup of \"%.*s\": no running actor of this application "
                 "by that name",
                 (int)len, name);
        return SHOAL_ENOTFOUND;
    }
    if (providers_tag_link(t, name, len)) {
        actor_id ep = external_endpoint(n, name, len);
        if (ep) {
            *out = ep;
            return SHOAL_OK;
        }
    }
    node_log(n, LOG_WARN, "links", t ? t->label : NULL,
             "lookup of \"%.*s\": no link to a provider of that name", (int)len,
             name);
    return SHOAL_ENOTFOUND;
}

/* ---- kv ---- */

static void kv_reply_error(providers *p, actor_id to, uint64_t corr,
                           shoal_err err, const char *message)
{
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    api_pack_kv_bool(&w.pk, "ok", false);
    api_pack_kv_str(&w.pk, "error", shoal_err_name(err));
    api_pack_kv_str(&w.pk, "message", message);
    actor_endpoint_reply(p->n->rt, p->kv_endpoint, to, corr,
                         (const uint8_t *)w.buf.data, w.buf.size);
    api_writer_free(&w);
}

/* The kv endpoint: a worker thread hands over a message of an actor. */
static void on_kv_message(void *ctx, actor_id endpoint, const actor_delivery *d)
{
    providers *p = ctx;
    link_tag *t = d->from_tag;
    if (d->kind != ACTOR_KIND_REQUEST) {
        node_log(p->n, LOG_DEBUG, "kv", t ? t->label : NULL,
                 "a cast to the kv provider is ignored: use call");
        return;
    }
    if (t == NULL || !t->kv) {
        node_log(p->n, LOG_WARN, "kv", t ? t->label : NULL,
                 "refused: no link to the kv provider");
        kv_reply_error(p, d->from, d->corr, SHOAL_ENOTFOUND,
                       "no link to the kv provider");
        return;
    }
    kv_job *j = malloc(sizeof *j + d->len);
    if (j == NULL) {
        kv_reply_error(p, d->from, d->corr, SHOAL_ENOMEM, "out of memory");
        return;
    }
    j->next = NULL;
    j->to = d->from;
    j->corr = d->corr;
    memcpy(j->bucket, t->bucket, sizeof j->bucket);
    j->len = d->len;
    memcpy(j->data, d->data, d->len);
    pthread_mutex_lock(&p->kv_lock);
    if (p->kv_tail)
        p->kv_tail->next = j;
    else
        p->kv_head = j;
    p->kv_tail = j;
    pthread_cond_signal(&p->kv_cond);
    pthread_mutex_unlock(&p->kv_lock);
}

static void *kv_thread_main(void *arg)
{
    providers *p = arg;
    kv_job *jobs[KV_BATCH];
    const char *buckets[KV_BATCH];
    const uint8_t *reqs[KV_BATCH];
    size_t lens[KV_BATCH], reply_lens[KV_BATCH];
    uint8_t *replies[KV_BATCH];
    for (;;) {
        size_t count = 0;
        pthread_mutex_lock(&p->kv_lock);
        while (p->kv_head == NULL && !p->kv_stop)
            pthread_cond_wait(&p->kv_cond, &p->kv_lock);
        while (p->kv_head && count < KV_BATCH) {
            kv_job *j = p->kv_head;
            p->kv_head = j->next;
            if (p->kv_head == NULL)
                p->kv_tail = NULL;
            jobs[count++] = j;
        }
        bool stop = p->kv_stop && count == 0;
        pthread_mutex_unlock(&p->kv_lock);
        if (stop)
            return NULL;
        for (size_t i = 0; i < count; i++) {
            buckets[i] = jobs[i]->bucket;
            reqs[i] = jobs[i]->data;
            lens[i] = jobs[i]->len;
        }
        kv_handle_batch(p->kv, count, buckets, reqs, lens, replies, reply_lens);
        for (size_t i = 0; i < count; i++) {
            if (replies[i])
                actor_endpoint_reply(p->n->rt, p->kv_endpoint, jobs[i]->to,
                                     jobs[i]->corr, replies[i], reply_lens[i]);
            free(replies[i]);
            free(jobs[i]);
        }
    }
}

/* ---- http-server ---- */

typedef struct http_call {
    node_event ev;
    providers *p;
    http_exchange ex;
    shoal_err err;
    uint8_t *data;
    size_t len;
} http_call;

static void on_http_done(node *n, node_event *ev)
{
    http_call *c = (http_call *)ev;
    providers *p = c->p;
    if (p->http) {
        switch (c->err) {
        case SHOAL_OK:
            http_respond(p->http, c->ex, c->data, c->len);
            break;
        case SHOAL_ETIMEDOUT:
            http_fail(p->http, c->ex, 504, NULL);
            break;
        case SHOAL_EFULL:
            http_fail(p->http, c->ex, 503, NULL);
            break;
        default:
            http_fail(p->http, c->ex, 502, NULL);
            break;
        }
    }
    free(c->data);
    free(c);
}

static void on_http_reply(void *ctx, shoal_err err, const uint8_t *reply,
                          size_t len)
{
    http_call *c = ctx;
    c->err = err;
    if (err == SHOAL_OK) {
        c->data = malloc(len ? len : 1);
        if (c->data)
            memcpy(c->data, reply, len);
        else
            c->err = SHOAL_ENOMEM;
        c->len = len;
    }
    c->ev.run = on_http_done;
    node__post(c->p->n, &c->ev);
}

/* The server hands over a request for a route (loop thread). */
static void on_http_request(void *ctx, void *route_ctx, http_exchange ex,
                            const uint8_t *req, size_t len)
{
    providers *p = ctx;
    http_route *r = route_ctx;
    node *n = p->n;
    actor_id id;
    uint32_t replica;
    if (n->stopping ||
        apps_pick(n, r->app, r->actor, &id, &replica, NULL) != SHOAL_OK) {
        http_fail(p->http, ex, 503, "no replica running");
        return;
    }
    http_call *c = calloc(1, sizeof *c);
    if (c == NULL) {
        http_fail(p->http, ex, 503, "out of memory");
        return;
    }
    c->p = p;
    c->ex = ex;
    shoal_err err =
        actor_call(n->rt, id, req, len, r->timeout_ms, on_http_reply, c);
    if (err) {
        free(c);
        http_fail(p->http, ex, err == SHOAL_EFULL ? 503 : 502,
                  shoal_strerror(err));
    }
}

static void on_http_log(void *ctx, int level, const char *msg)
{
    providers *p = ctx;
    node_log(p->n, level, "http", NULL, "%s", msg);
}

/* The routes an app's spec declares, as (actor, address, path). */
typedef struct want_route {
    const char *actor;
    char address[128], path[256];
    int64_t timeout_ms;
} want_route;

/* An integer field of a link's config map, or dflt. */
static int64_t config_int(const manifest_link *l, const char *key, int64_t dflt)
{
    api_msg m;
    int64_t v = dflt;
    if (api_parse(l->config, l->config_len, &m, NULL) != SHOAL_OK)
        return dflt;
    if (!api_get_int(m.root, key, &v))
        v = dflt;
    api_msg_free(&m);
    return v;
}

static size_t wanted_routes(const manifest_app *spec, want_route **out,
                            shoal_errinfo *ei, bool *bad)
{
    size_t count = 0, cap = 0;
    want_route *w = NULL;
    *bad = false;
    for (size_t i = 0; spec && i < spec->nactors; i++) {
        const manifest_actor *a = &spec->actors[i];
        for (size_t k = 0; k < a->nlinks; k++) {
            const manifest_link *l = &a->links[k];
            if (strcmp(l->provider, "http-server") != 0)
                continue;
            if (count == cap) {
                cap = cap ? cap * 2 : 4;
                want_route *nw = realloc(w, cap * sizeof *nw);
                if (nw == NULL) {
                    free(w);
                    *bad = true;
                    shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                      "out of memory");
                    return 0;
                }
                w = nw;
            }
            want_route *r = &w[count];
            r->actor = a->name;
            if (!config_str(l, "address", r->address, sizeof r->address)) {
                free(w);
                *bad = true;
                shoal_errinfo_set(ei, SHOAL_EMANIFEST, SIZE_MAX,
                                  "actor %s: the http-server link needs "
                                  "config.address, e.g. \"0.0.0.0:8080\"",
                                  a->name);
                return 0;
            }
            if (!config_str(l, "path", r->path, sizeof r->path))
                snprintf(r->path, sizeof r->path, "/");
            r->timeout_ms = config_int(l, "timeout_ms", HTTP_TIMEOUT_MS);
            if (r->timeout_ms < 1 || r->timeout_ms > HTTP_TIMEOUT_MS)
                r->timeout_ms = HTTP_TIMEOUT_MS;
            count++;
        }
    }
    *out = w;
    return count;
}

static http_route *find_route(providers *p, const char *app, const char *actor,
                              const char *address, const char *path)
{
    for (http_route *r = p->routes; r; r = r->next)
        if ((!app || strcmp(r->app, app) == 0) &&
            (!actor || strcmp(r->actor, actor) == 0) &&
            strcmp(r->address, address) == 0 && strcmp(r->path, path) == 0)
            return r;
    return NULL;
}

static void remove_route(providers *p, http_route *victim)
{
    for (http_route **pp = &p->routes; *pp; pp = &(*pp)->next)
        if (*pp == victim) {
            *pp = victim->next;
            http_server_route_remove(p->http, victim->id);
            free(victim);
            return;
        }
}

shoal_err providers_sync_routes(node *n, const char *app,
                                const manifest_app *spec, shoal_errinfo *ei)
{
    providers *p = n->prov;
    if (p == NULL || p->http == NULL)
        return SHOAL_OK;
    want_route *want = NULL;
    bool bad;
    size_t nwant = wanted_routes(spec, &want, ei, &bad);
    if (bad)
        return ei ? SHOAL_EMANIFEST : SHOAL_EINVAL;
    /* --http-bind: this node serves the links' ports on its own host. */
    for (size_t i = 0; n->opt.http_bind && i < nwant; i++) {
        const char *colon = strrchr(want[i].address, ':');
        char port[16];
        snprintf(port, sizeof port, "%s", colon ? colon + 1 : "80");
        snprintf(want[i].address, sizeof want[i].address, "%s:%s",
                 n->opt.http_bind, port);
    }
    /* Another app's route at the same place is a conflict. */
    for (size_t i = 0; i < nwant; i++) {
        http_route *r =
            find_route(p, NULL, NULL, want[i].address, want[i].path);
        if (r && strcmp(r->app, app) != 0) {
            shoal_err err = shoal_errinfo_set(
                ei, SHOAL_EEXIST, SIZE_MAX,
                "actor %s: the route %s%s is taken by %s/%s", want[i].actor,
                want[i].address, want[i].path, r->app, r->actor);
            free(want);
            return err;
        }
    }
    /* Add the new routes first; on a failure, take back what was added. */
    http_route *added[64];
    size_t nadded = 0;
    shoal_err err = SHOAL_OK;
    for (size_t i = 0; i < nwant && !err; i++) {
        if (find_route(p, app, want[i].actor, want[i].address, want[i].path))
            continue;
        if (find_route(p, app, NULL, want[i].address, want[i].path)) {
            /* The path moves to another actor of the same app: replace. */
            remove_route(
                p, find_route(p, app, NULL, want[i].address, want[i].path));
        }
        http_route *r = calloc(1, sizeof *r);
        if (r == NULL || nadded == 64) {
            free(r);
            err = shoal_errinfo_set(ei, SHOAL_ELIMIT, SIZE_MAX,
                                    "too many http routes in one apply");
            break;
        }
        snprintf(r->app, sizeof r->app, "%s", app);
        snprintf(r->actor, sizeof r->actor, "%s", want[i].actor);
        snprintf(r->address, sizeof r->address, "%s", want[i].address);
        snprintf(r->path, sizeof r->path, "%s", want[i].path);
        r->timeout_ms = want[i].timeout_ms;
        r->p = p;
        uint16_t port;
        shoal_errinfo rei = {0};
        err = http_server_route_add(p->http, r->address, r->path, r, &r->id,
                                    &port, &rei);
        if (err) {
            shoal_errinfo_set(ei, err, SIZE_MAX, "actor %s: %s", want[i].actor,
                              rei.msg);
            free(r);
            break;
        }
        r->next = p->routes;
        p->routes = r;
        added[nadded++] = r;
        node_log(n, LOG_INFO, "http", NULL, "route http://%s%s -> %s/%s",
                 r->address, r->path, app, r->actor);
    }
    if (err) {
        for (size_t i = 0; i < nadded; i++)
            remove_route(p, added[i]);
        free(want);
        return err;
    }
    /* Routes of this app that the spec no longer has go. */
    for (http_route *r = p->routes, *next; r; r = next) {
        next = r->next;
        if (strcmp(r->app, app) != 0)
            continue;
        bool keep = false;
        for (size_t i = 0; i < nwant && !keep; i++)
            keep = strcmp(r->actor, want[i].actor) == 0 &&
                   strcmp(r->address, want[i].address) == 0 &&
                   strcmp(r->path, want[i].path) == 0;
        if (!keep) {
            node_log(n, LOG_INFO, "http", NULL, "route http://%s%s removed",
                     r->address, r->path);
            remove_route(p, r);
        }
    }
    free(want);
    return SHOAL_OK;
}

/* ---- life cycle ---- */

shoal_err providers_start(node *n, shoal_errinfo *ei)
{
    providers *p = calloc(1, sizeof *p);
    if (p == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    p->n = n;
    n->prov = p;
    pthread_mutex_init(&p->kv_lock, NULL);
    pthread_cond_init(&p->kv_cond, NULL);

    char path[4200];
    snprintf(path, sizeof path, "%s/kv.db", n->opt.data_dir);
    shoal_err err = kv_open(path, &p->kv, ei);
    if (err)
        return err;
    err = actor_endpoint_new(n->rt, on_kv_message, p, &p->kv_endpoint);
    if (err)
        return shoal_errinfo_set(ei, err, SIZE_MAX, "kv endpoint: %s",
                                 shoal_strerror(err));
    if (pthread_create(&p->kv_thread, NULL, kv_thread_main, p) != 0)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "cannot start the kv thread");
    p->kv_started = true;

    err = http_server_new(&n->loop, NULL, on_http_request, p, &p->http);
    if (err)
        return shoal_errinfo_set(ei, err, SIZE_MAX, "http-server: %s",
                                 shoal_strerror(err));
    http_server_set_log(p->http, on_http_log, p);
    return SHOAL_OK;
}

void providers_quiesce(node *n)
{
    providers *p = n->prov;
    if (p == NULL || p->http == NULL)
        return;
    /* Without routes the listeners close; a connection with a request
     * under way closes after its response. */
    while (p->routes)
        remove_route(p, p->routes);
}

static void http_closed(void *ctx)
{
    (void)ctx;
}

void providers_stop(node *n)
{
    providers *p = n->prov;
    if (p == NULL)
        return;
    providers_quiesce(n);
    if (p->http) {
        http_server_close(p->http, http_closed, NULL);
        p->http = NULL;
    }
    if (p->kv_started) {
        pthread_mutex_lock(&p->kv_lock);
        p->kv_stop = true;
        pthread_cond_signal(&p->kv_cond);
        pthread_mutex_unlock(&p->kv_lock);
        pthread_join(p->kv_thread, NULL);
        p->kv_started = false;
    }
}

void providers_free(node *n)
{
    providers *p = n->prov;
    if (p == NULL)
        return;
    while (p->kv_head) {
        kv_job *j = p->kv_head;
        p->kv_head = j->next;
        free(j);
    }
    kv_close(p->kv);
    pthread_cond_destroy(&p->kv_cond);
    pthread_mutex_destroy(&p->kv_lock);
    free(p);
    n->prov = NULL;
}
