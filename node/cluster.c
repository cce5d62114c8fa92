/* The cluster (docs/cluster.md): membership by gossip (scheduler/), the
 * wire between nodes, actor messages to other nodes, the replication of
 * the desired state, and the member views by which the reconciler places
 * replicas.
 *
 * The wire: every node listens on one NNG pull socket (--cluster-listen)
 * and sends to each other node through a push socket dialed to that
 * node's address. A frame is a version byte, a type byte and a body:
 *   'g'  a gossip datagram (scheduler/), for gossip_input;
 *   'a'  an application record {from, name, version, origin, deleted,
 *        updated_ms, manifest, file, spec};
 *   'A'  a request for a record {from, name};
 *   'q'  a request for a module {from, hash};
 *   'Q'  a module {hash, bytes};
 *   'l'  a request for log lines {from, id, app, actor, tail};
 *   'L'  log lines {id, lines, next} (lines as the logs operation has
 *        them).
 * Gossip datagrams go into the gossip on NNG's thread (the gossip has a
 * thread of its own for its timers); everything else runs on the node's
 * loop thread.
 *
 * Actor messages take the stream instead (wire.c): 'm' frames of from, to
 * (8 bytes each, big-endian), kind (1), correlation id (8), then the
 * msgpack payload, read by the runtime's workers (cluster_idle_poll). */
#include "node.h"
#include "scheduler.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>

#define WIRE_VERSION 1
enum {
    WIRE_GOSSIP = 'g',
    WIRE_MSG = 'm',
    WIRE_APP = 'a',
    WIRE_APP_ASK = 'A',
    WIRE_MODULE_ASK = 'q',
    WIRE_MODULE = 'Q',
    WIRE_LOGS_ASK = 'l',
    WIRE_LOGS = 'L',
};
#define WIRE_MSG_HEADER 27 /* version, type, from, to, kind, corr */
/* Frames bigger than this are refused (a module is one frame). */
#define WIRE_MAX_FRAME (64u << 20)
/* How often members' application versions are compared with ours. */
#define DIGEST_CHECK_MS 1000
/* How often the meta is rebuilt for its load figures. */
#define META_REFRESH_MS 1000

/* The way to one other node: a push socket dialed to its address and a
 * queue in front of it. NNG's push socket holds no buffer of its own, so
 * frames wait here while one is on its way (or while the connection is
 * being made), up to PEER_QUEUE_MAX. Peers are allocated one by one and
 * live until cluster_free, since NNG's callbacks hold them. */
typedef struct peer {
    char addr[GOSSIP_ADDR_MAX];
    nng_socket sock;
    nng_aio *aio;
    pthread_mutex_t lock; /* the queue, busy and closing */
    nng_msg **q;          /* a ring of PEER_QUEUE_MAX */
    size_t head, count;
    bool busy; /* a frame is in the aio */
    bool closing;
    atomic_bool stuck; /* a frame timed out: the gossip thread redials */
} peer;

#define PEER_QUEUE_MAX 16384u
/* A frame that no connection took within this long is dropped (its node
 * is down, and gossip will say so). */
#define PEER_SEND_TIMEOUT_MS 2000

/* Where actor messages for a node id go (read by worker threads). */
typedef struct route {
    uint16_t node_id;
    wire_peer *stream; /* its actor messages' connection */
} route;

/* A record that waits for a module to arrive. */
typedef struct pending_app {
    uint8_t *frame; /* the whole 'a' frame */
    size_t len;
    char missing[65];
    int64_t asked_ms;
    struct pending_app *next;
} pending_app;

struct cluster {
    node *n;
    gossip *g;
    bool wired; /* it has a wire (else a cluster of one) */
    char addr[GOSSIP_ADDR_MAX];
    char control[128];
    nng_socket in;
    nng_aio *rx;
    wire *stream; /* actor messages (wire.c); NULL once stopped */
    char stream_addr[80];
    bool rx_open;
    uv_timer_t meta_timer, digest_timer;
    /* The gossip runs on a thread of its own (and on NNG's receiving
     * thread), so that nothing the loop does (a SQLite fsync, compiling a
     * module) delays its acks and gets this node suspected. gossip_lock
     * covers every call into the gossip. */
    pthread_mutex_t gossip_lock;
    pthread_cond_t gossip_cond;
    pthread_t gossip_thread;
    bool gossip_running, gossip_stop;
    bool meta_soon;
    bool left;
    uint64_t fuel_last, fuel_per_s; /* the load figures */
    int64_t fuel_at_ms;
    uint64_t load_actors, load_memory;
    uint32_t capacity; /* the placement weight */
    unsigned timers;   /* initialised and not yet closed */

    /* Peers and routes: written on the loop thread under the write lock,
     * read by worker threads (cluster_remote) under the read lock. */
    pthread_rwlock_t lock;
    peer **peers;
    size_t npeers, cappeers;
    route *routes;
    size_t nroutes, caproutes;

    member_view *views;
    size_t nviews;
    /* Set by the gossip (any thread), cleared by the loop's rebuild. */
    atomic_bool views_dirty;
    atomic_bool change_posted; /* a views_changed event is on its way */
    size_t self_index;

    pending_app *pending;
};

/* ---- member views ---- */

static void view_clear(member_view *v)
{
    free(v->labels);
    free(v->reps);
    free(v->apps);
    memset(v, 0, sizeof *v);
}

static void copy_str(char *dst, size_t cap, const msgpack_object *o)
{
    dst[0] = 0;
    if (o && o->type == MSGPACK_OBJECT_STR && o->via.str.size < cap) {
        memcpy(dst, o->via.str.ptr, o->via.str.size);
        dst[o->via.str.size] = 0;
    }
}

static bool obj_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

/* Reads what a member's meta says (see build_meta); what is missing or of
 * another shape stays empty, so an odd meta costs only its own figures. */
static void parse_meta(member_view *v, const uint8_t *meta, size_t len)
{
    if (meta == NULL || len == 0)
        return;
    api_msg m;
    if (api_parse(meta, len, &m, NULL) != SHOAL_OK)
        return;
    const msgpack_object *root = m.root, *o;
    int64_t x;
    copy_str(v->control, sizeof v->control, api_get(root, "control"));
    copy_str(v->stream, sizeof v->stream, api_get(root, "stream"));
    if (api_get_int(root, "capacity", &x) && x > 0 && x <= UINT32_MAX)
        v->capacity = (uint32_t)x;
    if (api_get_int(root, "actors", &x) && x >= 0)
        v->actors = (uint64_t)x;
    if (api_get_int(root, "memory", &x) && x >= 0)
        v->memory = (uint64_t)x;
    if (api_get_int(root, "fuel_per_s", &x) && x >= 0)
        v->fuel_per_s = (uint64_t)x;
    o = api_get(root, "labels");
    if (o && o->type == MSGPACK_OBJECT_MAP && o->via.map.size) {
        v->labels = calloc(o->via.map.size, sizeof *v->labels);
        for (uint32_t i = 0; v->labels && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            copy_str(v->labels[v->nlabels][0], 64, &kv->key);
            copy_str(v->labels[v->nlabels][1], 64, &kv->val);
            if (v->labels[v->nlabels][0][0])
                v->nlabels++;
        }
    }
    o = api_get(root, "apps");
    if (o && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size) {
        v->apps = calloc(o->via.array.size, sizeof *v->apps);
        for (uint32_t i = 0; v->apps && i < o->via.array.size; i++) {
            const msgpack_object *e = &o->via.array.ptr[i];
            if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4)
                continue;
            member_app *a = &v->apps[v->napps];
            copy_str(a->name, sizeof a->name, &e->via.array.ptr[0]);
            copy_str(a->origin, sizeof a->origin, &e->via.array.ptr[2]);
            if (!a->name[0] || !obj_int(&e->via.array.ptr[1], &a->version) ||
                e->via.array.ptr[3].type != MSGPACK_OBJECT_BOOLEAN)
                continue;
            a->deleted = e->via.array.ptr[3].via.boolean;
            v->napps++;
        }
    }
    o = api_get(root, "replicas");
    if (o && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size) {
        v->reps = calloc(o->via.array.size, sizeof *v->reps);
        for (uint32_t i = 0; v->reps && i < o->via.array.size; i++) {
            const msgpack_object *e = &o->via.array.ptr[i];
            if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 7 ||
                e->via.array.ptr[6].type != MSGPACK_OBJECT_BOOLEAN)
                continue;
            const msgpack_object *f = e->via.array.ptr;
            member_replica *r = &v->reps[v->nreps];
            int64_t index, id;
            copy_str(r->app, sizeof r->app, &f[0]);
            copy_str(r->actor, sizeof r->actor, &f[1]);
            copy_str(r->state, sizeof r->state, &f[5]);
            if (!r->app[0] || !r->actor[0] || !obj_int(&f[2], &index) ||
                index < 0 || index > UINT32_MAX || !obj_int(&f[3], &id) ||
                !obj_int(&f[4], &r->version))
                continue;
            r->index = (uint32_t)index;
            r->id = (actor_id)id;
            r->running = strcmp(r->state, "running") == 0;
            r->current = f[6].via.boolean;
            v->nreps++;
        }
    }
    api_msg_free(&m);
}

static void on_peer_sent(void *arg)
{
    peer *p = arg;
    int rv = nng_aio_result(p->aio);
    if (rv != 0)
        nng_msg_free(nng_aio_get_msg(p->aio));
    if (rv == NNG_ETIMEDOUT)
        atomic_store(&p->stuck, true);
    pthread_mutex_lock(&p->lock);
    nng_msg *next = NULL;
    if (p->count && !p->closing) {
        next = p->q[p->head];
        p->head = (p->head + 1) % PEER_QUEUE_MAX;
        p->count--;
    } else {
        p->busy = false;
    }
    pthread_mutex_unlock(&p->lock);
    if (next) {
        nng_aio_set_msg(p->aio, next);
        nng_send_aio(p->sock, p->aio);
    }
}

/* Queues frame m (taken) for p: SHOAL_OK, or SHOAL_EFULL when its queue
 * is full. Any thread. */
static shoal_err peer_send(peer *p, nng_msg *m)
{
    pthread_mutex_lock(&p->lock);
    if (p->closing || p->count == PEER_QUEUE_MAX) {
        pthread_mutex_unlock(&p->lock);
        nng_msg_free(m);
        return SHOAL_EFULL;
    }
    if (p->busy) {
        p->q[(p->head + p->count) % PEER_QUEUE_MAX] = m;
        p->count++;
        pthread_mutex_unlock(&p->lock);
        return SHOAL_OK;
    }
    p->busy = true;
    pthread_mutex_unlock(&p->lock);
    nng_aio_set_msg(p->aio, m);
    nng_send_aio(p->sock, p->aio);
    return SHOAL_OK;
}

/* Drops the frames that wait for p (its node is gone). */
static void peer_flush(peer *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->count) {
        nng_msg_free(p->q[p->head]);
        p->head = (p->head + 1) % PEER_QUEUE_MAX;
        p->count--;
    }
    pthread_mutex_unlock(&p->lock);
}

static void peer_free(peer *p)
{
    pthread_mutex_lock(&p->lock);
    p->closing = true;
    pthread_mutex_unlock(&p->lock);
    nng_aio_stop(p->aio); /* its frame is freed by on_peer_sent */
    peer_flush(p);
    nng_close(p->sock);
    nng_aio_free(p->aio);
    pthread_mutex_destroy(&p->lock);
    free(p->q);
    free(p);
}

/* The peer for addr, made (and dialed) when new; loop thread. */
static peer *find_peer(cluster *c, const char *addr)
{
    for (size_t i = 0; i < c->npeers; i++)
        if (strcmp(c->peers[i]->addr, addr) == 0)
            return c->peers[i];
    return NULL;
}

/* A new peer for addr, dialed; NULL when out of memory or the address is
 * not one NNG can dial. */
static peer *peer_new(const char *addr)
{
    peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    pthread_mutex_init(&p->lock, NULL);
    p->q = malloc(PEER_QUEUE_MAX * sizeof *p->q);
    if (p->q == NULL || nng_aio_alloc(&p->aio, on_peer_sent, p) != 0)
        goto fail_queue;
    nng_aio_set_timeout(p->aio, PEER_SEND_TIMEOUT_MS);
    if (nng_push0_open(&p->sock) != 0)
        goto fail_aio;
    nng_setopt_ms(p->sock, NNG_OPT_RECONNMINT, 20);
    nng_setopt_ms(p->sock, NNG_OPT_RECONNMAXT, 500);
    if (nng_dial(p->sock, addr, NULL, NNG_FLAG_NONBLOCK) != 0)
        goto fail_sock;
    return p;
fail_sock:
    nng_close(p->sock);
fail_aio:
    nng_aio_free(p->aio);
fail_queue:
    pthread_mutex_destroy(&p->lock);
    free(p->q);
    free(p);
    return NULL;
}

/* Makes sure a peer for addr exists. Any thread: the gossip sends from
 * its own thread and NNG's. */
static bool peer_ensure(cluster *c, const char *addr)
{
    pthread_rwlock_rdlock(&c->lock);
    bool found = find_peer(c, addr) != NULL;
    pthread_rwlock_unlock(&c->lock);
    if (found)
        return true;
    peer *p = peer_new(addr);
    if (p == NULL)
        return false;
    pthread_rwlock_wrlock(&c->lock);
    if (find_peer(c, addr)) { /* another thread was first */
        pthread_rwlock_unlock(&c->lock);
        peer_free(p);
        return true;
    }
    if (c->npeers == c->cappeers) {
        size_t cap = c->cappeers ? c->cappeers * 2 : 8;
        peer **np = realloc(c->peers, cap * sizeof *np);
        if (np == NULL) {
            pthread_rwlock_unlock(&c->lock);
            peer_free(p);
            return false;
        }
        c->peers = np;
        c->cappeers = cap;
    }
    c->peers[c->npeers++] = p;
    pthread_rwlock_unlock(&c->lock);
    return true;
}

/* Replaces addr's connection with a new one. A member that went dead may
 * have a TCP connection stuck in retransmission back-off (up to two
 * minutes) with stale frames queued in the kernel; a new connection
 * carries the first news once the network is back. Peers are used only
 * under c->lock, so the old one goes while nobody holds it. */
static void peer_redial(cluster *c, const char *addr)
{
    peer *fresh = peer_new(addr);
    if (fresh == NULL)
        return;
    pthread_rwlock_wrlock(&c->lock);
    peer *old = NULL;
    for (size_t i = 0; i < c->npeers; i++)
        if (strcmp(c->peers[i]->addr, addr) == 0) {
            old = c->peers[i];
            c->peers[i] = fresh;
            fresh = NULL;
            break;
        }
    pthread_rwlock_unlock(&c->lock);
    if (old)
        peer_free(old);
    if (fresh)
        peer_free(fresh);
}

/* Redials the peers whose frames timed out (the gossip thread, at most
 * once per PEER_SEND_TIMEOUT_MS each). */
static void redial_stuck(cluster *c)
{
    char addrs[8][GOSSIP_ADDR_MAX];
    size_t n = 0;
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->npeers && n < 8; i++)
        if (atomic_exchange(&c->peers[i]->stuck, false))
            snprintf(addrs[n++], GOSSIP_ADDR_MAX, "%s", c->peers[i]->addr);
    pthread_rwlock_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        peer_redial(c, addrs[i]);
}

/* Sends a frame (taken) to addr; any thread. */
static void send_frame(cluster *c, const char *addr, nng_msg *m)
{
    if (peer_ensure(c, addr)) {
        pthread_rwlock_rdlock(&c->lock);
        peer *p = find_peer(c, addr);
        if (p) {
            peer_send(p, m);
            m = NULL;
        }
        pthread_rwlock_unlock(&c->lock);
    }
    if (m)
        nng_msg_free(m);
}

static nng_msg *frame_new(int type, const void *body, size_t len)
{
    nng_msg *m;
    if (nng_msg_alloc(&m, 2 + len) != 0)
        return NULL;
    uint8_t *b = nng_msg_body(m);
    b[0] = WIRE_VERSION;
    b[1] = (uint8_t)type;
    if (len)
        memcpy(b + 2, body, len);
    return m;
}

static void send_bytes(cluster *c, const char *addr, int type, const void *body,
                       size_t len)
{
    nng_msg *m = frame_new(type, body, len);
    if (m)
        send_frame(c, addr, m);
}

const char *member_state_name(int state)
{
    return gossip_state_name((gossip_state)state);
}

bool cluster_member_alive(const member_view *v)
{
    return v->state == GOSSIP_ALIVE;
}

bool cluster_member_live(const member_view *v)
{
    return v->state == GOSSIP_ALIVE || v->state == GOSSIP_SUSPECT;
}

/* Rebuilds the views and the routes from the gossip. */
static void rebuild_views(cluster *c)
{
    atomic_store(&c->views_dirty, false);
    for (size_t i = 0; i < c->nviews; i++)
        view_clear(&c->views[i]);
    pthread_mutex_lock(&c->gossip_lock);
    size_t count = gossip_count(c->g);
    member_view *nv = realloc(c->views, (count ? count : 1) * sizeof *nv);
    if (nv == NULL) {
        pthread_mutex_unlock(&c->gossip_lock);
        c->nviews = 0;
        atomic_store(&c->views_dirty, true); /* tried again */
        return;
    }
    c->views = nv;
    c->nviews = 0;
    const gossip_member *self = gossip_self(c->g);
    for (size_t i = 0; i < count; i++) {
        const gossip_member *gm = gossip_member_at(c->g, i);
        member_view *v = &c->views[c->nviews++];
        memset(v, 0, sizeof *v);
        snprintf(v->name, sizeof v->name, "%s", gm->name);
        snprintf(v->addr, sizeof v->addr, "%s", gm->addr);
        v->node_id = gm->node_id;
        v->state = gm->state;
        v->self = gm == self || strcmp(gm->name, self->name) == 0;
        v->meta_version = (int64_t)gm->meta_version;
        v->capacity = 1;
        parse_meta(v, gm->meta, gm->meta_len);
        if (v->self)
            c->self_index = c->nviews - 1;
    }
    pthread_mutex_unlock(&c->gossip_lock);
    /* Routes for the live members other than self. Peers are made first:
     * they take the write lock themselves. */
    for (size_t i = 0; c->wired && i < c->nviews; i++)
        if (!c->views[i].self && cluster_member_live(&c->views[i]))
            peer_ensure(c, c->views[i].addr);
    /* Actor messages go by the stream each member advertises. */
    pthread_rwlock_wrlock(&c->lock);
    c->nroutes = 0;
    for (size_t i = 0; c->stream && i < c->nviews; i++) {
        const member_view *v = &c->views[i];
        if (v->self)
            continue;
        if (!cluster_member_live(v)) {
            wire_peer_drop_id(c->stream, v->node_id);
            continue;
        }
        wire_peer *wp = v->stream[0]
                            ? wire_peer_get(c->stream, v->node_id, v->stream)
                            : NULL;
        if (wp == NULL)
            continue;
        if (c->nroutes == c->caproutes) {
            size_t cap = c->caproutes ? c->caproutes * 2 : 8;
            route *nr = realloc(c->routes, cap * sizeof *nr);
            if (nr == NULL)
                break;
            c->routes = nr;
            c->caproutes = cap;
        }
        c->routes[c->nroutes++] = (route){.node_id = v->node_id, .stream = wp};
    }
    pthread_rwlock_unlock(&c->lock);
    /* What waits for a dead member goes: it would reach its next life. */
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->nviews; i++)
        if (!cluster_member_live(&c->views[i]))
            for (size_t k = 0; k < c->npeers; k++)
                if (strcmp(c->peers[k]->addr, c->views[i].addr) == 0)
                    peer_flush(c->peers[k]);
    pthread_rwlock_unlock(&c->lock);
}

static void refresh(cluster *c)
{
    if (atomic_load(&c->views_dirty))
        rebuild_views(c);
}

size_t cluster_count(node *n)
{
    refresh(n->cl);
    return n->cl->nviews;
}

const member_view *cluster_member(node *n, size_t i)
{
    refresh(n->cl);
    return i < n->cl->nviews ? &n->cl->views[i] : NULL;
}

size_t cluster_self_index(node *n)
{
    refresh(n->cl);
    return n->cl->self_index;
}

shoal_err cluster_place(node *n, const char *app, const manifest_actor *s,
                        int32_t *out)
{
    cluster *c = n->cl;
    refresh(c);
    place_node *nodes = calloc(c->nviews ? c->nviews : 1, sizeof *nodes);
    size_t *which = calloc(c->nviews ? c->nviews : 1, sizeof *which);
    size_t nlab = 0;
    for (size_t i = 0; i < c->nviews; i++)
        nlab += c->views[i].nlabels;
    place_label *labs = calloc(nlab ? nlab : 1, sizeof *labs);
    place_label *req = calloc(s->nlabels ? s->nlabels : 1, sizeof *req);
    shoal_err err = SHOAL_ENOMEM;
    if (!nodes || !which || !labs || !req)
        goto done;
    size_t count = 0, used = 0;
    for (size_t i = 0; i < c->nviews; i++) {
        const member_view *v = &c->views[i];
        if (!cluster_member_live(v) && !v->self)
            continue;
        place_node *p = &nodes[count];
        p->name = v->name;
        p->weight = v->capacity ? v->capacity : 1;
        p->labels = &labs[used];
        for (size_t k = 0; k < v->nlabels; k++)
            labs[used++] = (place_label){v->labels[k][0], v->labels[k][1]};
        p->nlabels = v->nlabels;
        which[count++] = i;
    }
    for (size_t k = 0; k < s->nlabels; k++)
        req[k] = (place_label){s->labels[k].key, s->labels[k].value};
    char key[160];
    snprintf(key, sizeof key, "%s/%s", app, s->name);
    place_group g = {.key = key,
                     .replicas = s->replicas,
                     .require = req,
                     .nrequire = s->nlabels,
                     .spread = s->spread};
    err = place_assign(nodes, count, &g, out);
    if (err == SHOAL_OK)
        for (uint32_t i = 0; i < s->replicas; i++)
            if (out[i] >= 0)
                out[i] = (int32_t)which[out[i]];
done:
    free(nodes);
    free(which);
    free(labs);
    free(req);
    return err;
}

/* ---- gossip ---- */

static void gossip_send(void *ctx, const char *addr, const uint8_t *bytes,
                        size_t len)
{
    cluster *c = ctx;
    if (c->wired)
        send_bytes(c, addr, WIRE_GOSSIP, bytes, len);
}

static void on_views_changed(node *n, node_event *ev)
{
    cluster *c = n->cl;
    free(ev);
    if (c == NULL)
        return;
    atomic_store(&c->change_posted, false);
    refresh(c);
    if (!n->stopping)
        apps_reconcile(n);
}

/* Under gossip_lock, on the gossip thread or NNG's. */
static void gossip_changed(void *ctx, const gossip_member *m, gossip_state old)
{
    cluster *c = ctx;
    node *n = c->n;
    atomic_store(&c->views_dirty, true);
    if (!atomic_exchange(&c->change_posted, true)) {
        node_event *ev = malloc(sizeof *ev);
        if (ev) {
            ev->run = on_views_changed;
            node__post(n, ev);
        } else {
            atomic_store(&c->change_posted, false); /* the tick reconciles */
        }
    }
    bool was_live = old == GOSSIP_ALIVE || old == GOSSIP_SUSPECT;
    if (was_live && (m->state == GOSSIP_DEAD || m->state == GOSSIP_LEFT) &&
        c->wired) {
        /* Redialed by the gossip thread once it lets go of the gossip:
         * closing a socket waits for NNG's callbacks, and NNG's receiving
         * thread may be waiting for the gossip. */
        pthread_rwlock_rdlock(&c->lock);
        peer *p = find_peer(c, m->addr);
        if (p)
            atomic_store(&p->stuck, true);
        pthread_rwlock_unlock(&c->lock);
    }
    if ((int)m->state != (int)old) {
        int level = m->state == GOSSIP_ALIVE ? LOG_INFO : LOG_WARN;
        node_log(n, level, "cluster", NULL, "member %s (%s, id %u): %s -> %s",
                 m->name, m->addr, m->node_id, gossip_state_name(old),
                 gossip_state_name(m->state));
        if (m->state == GOSSIP_ALIVE && m->node_id == store_node_id(n->store))
            node_log(n, LOG_ERROR, "cluster", NULL,
                     "member %s has this node's id %u: actor ids clash; "
                     "give one of them a new data directory",
                     m->name, m->node_id);
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *gossip_main(void *arg)
{
    cluster *c = arg;
    pthread_mutex_lock(&c->gossip_lock);
    while (!c->gossip_stop) {
        int64_t next = gossip_tick(c->g, mono_ms());
        if (next > 50)
            next = 50;
        pthread_mutex_unlock(&c->gossip_lock);
        redial_stuck(c);
        pthread_mutex_lock(&c->gossip_lock);
        if (c->gossip_stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(next < 1 ? 1 : next) * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&c->gossip_cond, &c->gossip_lock, &ts);
    }
    pthread_mutex_unlock(&c->gossip_lock);
    return NULL;
}

/* ---- the meta: what this node tells the others about itself ---- */

static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * 4096;
}

static void build_meta(cluster *c)
{
    node *n = c->n;
    api_writer w;
    api_writer_init(&w);
    /* The load figures change at most once per META_REFRESH_MS, so that a
     * meta rebuilt for a change of replicas differs only in those. Fuel per
     * second is over the time since the last figures; a replica that went
     * away takes its fuel along, hence the floor at zero. */
    int64_t now = (int64_t)uv_now(&n->loop);
    if (now - c->fuel_at_ms >= META_REFRESH_MS || c->fuel_at_ms == 0) {
        uint64_t fuel = apps_fuel_used(n);
        if (c->fuel_at_ms && now > c->fuel_at_ms)
            c->fuel_per_s = fuel > c->fuel_last
                                ? (fuel - c->fuel_last) * 1000 /
                                      (uint64_t)(now - c->fuel_at_ms)
                                : 0;
        c->fuel_last = fuel;
        c->fuel_at_ms = now;
        c->load_actors = actor_count(n->rt);
        /* In MiB steps: the resident size wobbles by pages. */
        c->load_memory = resident_bytes() >> 20 << 20;
    }
    msgpack_pack_map(&w.pk, 9);
    api_pack_kv_str(&w.pk, "control", c->control);
    api_pack_kv_str(&w.pk, "stream", c->stream_addr);
    api_pack_kv_int(&w.pk, "capacity", c->capacity);
    api_pack_str(&w.pk, "labels");
    msgpack_pack_map(&w.pk, n->opt.nlabels);
    for (unsigned i = 0; i < n->opt.nlabels; i++) {
        const char *kv = n->opt.labels[i], *eq = strchr(kv, '=');
        api_pack_strn(&w.pk, kv, (size_t)(eq - kv));
        api_pack_str(&w.pk, eq + 1);
    }
    api_pack_kv_int(&w.pk, "actors", (int64_t)c->load_actors);
    api_pack_kv_int(&w.pk, "memory", (int64_t)c->load_memory);
    api_pack_kv_int(&w.pk, "fuel_per_s", (int64_t)c->fuel_per_s);
    apps_pack_meta(n, &w.pk);
    size_t len;
    uint8_t *bytes = api_writer_take(&w, &len);
    /* An unchanged meta is not sent again: each new one goes to every
     * member. */
    pthread_mutex_lock(&c->gossip_lock);
    const gossip_member *self = gossip_self(c->g);
    bool same = bytes && self->meta_len == len && self->meta &&
                memcmp(self->meta, bytes, len) == 0;
    if (bytes && !same && len <= GOSSIP_META_MAX) {
        gossip_set_meta(c->g, bytes, len);
        atomic_store(&c->views_dirty, true);
    }
    pthread_mutex_unlock(&c->gossip_lock);
    if (bytes && !same && len > GOSSIP_META_MAX) {
        node_log(n, LOG_ERROR, "cluster", NULL,
                 "this node's state (%zu bytes) is over the gossip's %u; "
                 "others see it late",
                 len, GOSSIP_META_MAX);
    }
    free(bytes);
    api_writer_free(&w);
}

static void on_meta_timer(uv_timer_t *t)
{
    cluster *c = t->data;
    c->meta_soon = false;
    if (!c->left)
        build_meta(c);
    uv_timer_start(&c->meta_timer, on_meta_timer, META_REFRESH_MS, 0);
}

void cluster_touch(node *n)
{
    cluster *c = n->cl;
    if (c == NULL || c->meta_soon || c->left)
        return;
    c->meta_soon = true;
    uv_timer_start(&c->meta_timer, on_meta_timer, 20, 0);
}

/* ---- application records ---- */

static uint8_t *pack_record(cluster *c, const app_record *r, size_t *len)
{
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 9);
    api_pack_kv_str(&w.pk, "from", c->addr);
    api_pack_kv_str(&w.pk, "name", r->name);
    api_pack_kv_int(&w.pk, "version", r->version);
    api_pack_kv_str(&w.pk, "origin", r->origin);
    api_pack_kv_bool(&w.pk, "deleted", r->deleted);
    api_pack_kv_int(&w.pk, "updated_ms", r->updated_ms);
    api_pack_kv_str(&w.pk, "manifest", r->manifest ? r->manifest : "");
    api_pack_kv_str(&w.pk, "file", r->file ? r->file : "");
    api_pack_kv_bin(&w.pk, "spec", r->spec, r->spec_len);
    uint8_t *b = api_writer_take(&w, len);
    api_writer_free(&w);
    return b;
}

static void send_record(cluster *c, const char *addr, const app_record *r)
{
    size_t len;
    uint8_t *b = pack_record(c, r, &len);
    if (b)
        send_bytes(c, addr, WIRE_APP, b, len);
    free(b);
}

void cluster_app_changed(node *n, const char *app)
{
    cluster *c = n->cl;
    if (c == NULL || !c->wired)
        return;
    app_record r;
    if (apps_record(n, app, &r) != SHOAL_OK)
        return;
    refresh(c);
    for (size_t i = 0; i < c->nviews; i++)
        if (!c->views[i].self && cluster_member_live(&c->views[i]))
            send_record(c, c->views[i].addr, &r);
    cluster_touch(n);
}

static void send_ask(cluster *c, const char *addr, int type, const char *key,
                     const char *value)
{
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 2);
    api_pack_kv_str(&w.pk, "from", c->addr);
    api_pack_kv_str(&w.pk, key, value);
    size_t len;
    uint8_t *b = api_writer_take(&w, &len);
    if (b)
        send_bytes(c, addr, type, b, len);
    free(b);
    api_writer_free(&w);
}

/* Names copied out of a record frame. */
typedef struct record_names {
    char name[64], origin[64], file[256];
} record_names;

/* Reads an 'a' frame's body into r (pointing into m and names; the
 * manifest is the caller's heap copy). */
static bool read_record(const api_msg *m, app_record *r, record_names *nm,
                        const char **from, size_t *from_len, char **manifest)
{
    const msgpack_object *root = m->root;
    memset(r, 0, sizeof *r);
    *manifest = NULL;
    if (!api_get_str(root, "from", from, from_len))
        return false;
    copy_str(nm->name, sizeof nm->name, api_get(root, "name"));
    copy_str(nm->origin, sizeof nm->origin, api_get(root, "origin"));
    copy_str(nm->file, sizeof nm->file, api_get(root, "file"));
    r->name = nm->name;
    r->origin = nm->origin;
    r->file = nm->file;
    const msgpack_object *man = api_get(root, "manifest");
    if (!nm->name[0] || !api_get_int(root, "version", &r->version) ||
        !api_get_bool(root, "deleted", &r->deleted) ||
        !api_get_int(root, "updated_ms", &r->updated_ms) || man == NULL ||
        man->type != MSGPACK_OBJECT_STR ||
        !api_get_bin(root, "spec", &r->spec, &r->spec_len))
        return false;
    *manifest = api_strdup(man);
    r->manifest = *manifest;
    return *manifest != NULL;
}

static void pending_add(cluster *c, const uint8_t *frame, size_t len,
                        const char *missing)
{
    pending_app *p = calloc(1, sizeof *p);
    if (p == NULL)
        return;
    p->frame = malloc(len);
    if (p->frame == NULL) {
        free(p);
        return;
    }
    memcpy(p->frame, frame, len);
    p->len = len;
    snprintf(p->missing, sizeof p->missing, "%s", missing);
    p->asked_ms = node__now_ms();
    p->next = c->pending;
    c->pending = p;
}

/* Takes in an 'a' body; true when it was handled (applied, older, or
 * broken), false when it waits for the module in missing. */
static bool take_record(cluster *c, const uint8_t *body, size_t len,
                        char missing[65], char from_out[GOSSIP_ADDR_MAX])
{
    node *n = c->n;
    api_msg m;
    shoal_errinfo ei = {0};
    if (api_parse(body, len, &m, &ei) != SHOAL_OK) {
        node_log(n, LOG_WARN, "cluster", NULL,
                 "malformed application record: %s", ei.msg);
        return true;
    }
    app_record r;
    record_names nm;
    const char *from;
    size_t from_len;
    char *text;
    bool done = true;
    if (!read_record(&m, &r, &nm, &from, &from_len, &text)) {
        node_log(n, LOG_WARN, "cluster", NULL,
                 "application record without its fields; ignored");
        goto out;
    }
    snprintf(from_out, GOSSIP_ADDR_MAX, "%.*s",
             (int)(from_len < GOSSIP_ADDR_MAX ? from_len : 0), from);
    shoal_err err = apps_accept(n, &r, missing, &ei);
    if (err == SHOAL_ENOTFOUND && missing[0]) {
        done = false;
    } else if (err) {
        node_log(n, LOG_ERROR, "cluster", NULL,
                 "application %s v%lld from %s: %s", r.name,
                 (long long)r.version, r.origin, ei.msg);
    }
out:
    free(text);
    api_msg_free(&m);
    return done;
}

static void on_record(cluster *c, const uint8_t *frame, size_t len)
{
    char missing[65] = "", from[GOSSIP_ADDR_MAX] = "";
    if (take_record(c, frame + 2, len - 2, missing, from))
        return;
    pending_add(c, frame, len, missing);
    send_ask(c, from, WIRE_MODULE_ASK, "hash", missing);
}

/* A module arrived: the records waiting for it try again. */
static void retry_pending(cluster *c)
{
    pending_app *list = c->pending;
    c->pending = NULL;
    while (list) {
        pending_app *p = list;
        list = p->next;
        char missing[65] = "", from[GOSSIP_ADDR_MAX] = "";
        if (take_record(c, p->frame + 2, p->len - 2, missing, from)) {
            free(p->frame);
            free(p);
            continue;
        }
        if (strcmp(missing, p->missing) != 0) {
            snprintf(p->missing, sizeof p->missing, "%s", missing);
            send_ask(c, from, WIRE_MODULE_ASK, "hash", missing);
            p->asked_ms = node__now_ms();
        }
        p->next = c->pending;
        c->pending = p;
    }
}

static void on_module(cluster *c, const uint8_t *body, size_t len)
{
    node *n = c->n;
    api_msg m;
    if (api_parse(body, len, &m, NULL) != SHOAL_OK)
        return;
    const char *hash;
    size_t hlen;
    const uint8_t *bytes;
    size_t blen;
    if (api_get_str(m.root, "hash", &hash, &hlen) && hlen == 64 &&
        api_get_bin(m.root, "bytes", &bytes, &blen)) {
        char got[65], want[65];
        memcpy(want, hash, 64);
        want[64] = 0;
        api_sha256_hex(bytes, blen, got);
        if (strcmp(got, want) != 0)
            node_log(n, LOG_WARN, "cluster", NULL,
                     "module %.12s arrived with other bytes (sha256 %.12s); "
                     "dropped",
                     want, got);
        else if (store_module_put(n->store, want, bytes, blen) == SHOAL_OK)
            retry_pending(c);
    }
    api_msg_free(&m);
}

static void on_module_ask(cluster *c, const uint8_t *body, size_t len)
{
    node *n = c->n;
    api_msg m;
    if (api_parse(body, len, &m, NULL) != SHOAL_OK)
        return;
    char from[GOSSIP_ADDR_MAX], hash[65];
    copy_str(from, sizeof from, api_get(m.root, "from"));
    copy_str(hash, sizeof hash, api_get(m.root, "hash"));
    api_msg_free(&m);
    uint8_t *bytes;
    size_t blen;
    if (!from[0] || strlen(hash) != 64 ||
        store_module_get(n->store, hash, &bytes, &blen) != SHOAL_OK)
        return;
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 2);
    api_pack_kv_str(&w.pk, "hash", hash);
    api_pack_kv_bin(&w.pk, "bytes", bytes, blen);
    free(bytes);
    size_t out;
    uint8_t *b = api_writer_take(&w, &out);
    if (b)
        send_bytes(c, from, WIRE_MODULE, b, out);
    free(b);
    api_writer_free(&w);
}

static void on_app_ask(cluster *c, const uint8_t *body, size_t len)
{
    api_msg m;
    if (api_parse(body, len, &m, NULL) != SHOAL_OK)
        return;
    char from[GOSSIP_ADDR_MAX], name[64];
    copy_str(from, sizeof from, api_get(m.root, "from"));
    copy_str(name, sizeof name, api_get(m.root, "name"));
    api_msg_free(&m);
    app_record r;
    if (from[0] && name[0] && apps_record(c->n, name, &r) == SHOAL_OK)
        send_record(c, from, &r);
}

/* ---- log lines of other members ---- */

size_t cluster_logs_ask(node *n, const char *app, const char *actor,
                        uint32_t tail, uint64_t id)
{
    cluster *c = n->cl;
    if (c == NULL || !c->wired)
        return 0;
    refresh(c);
    size_t asked = 0;
    for (size_t i = 0; i < c->nviews; i++) {
        const member_view *v = &c->views[i];
        bool runs = false;
        for (size_t k = 0; k < v->nreps && !runs; k++)
            runs = strcmp(v->reps[k].app, app) == 0 &&
                   strcmp(v->reps[k].actor, actor) == 0;
        if (v->self || !cluster_member_alive(v) || !runs)
            continue;
        api_writer w;
        api_writer_init(&w);
        msgpack_pack_map(&w.pk, 5);
        api_pack_kv_str(&w.pk, "from", c->addr);
        api_pack_kv_int(&w.pk, "id", (int64_t)id);
        api_pack_kv_str(&w.pk, "app", app);
        api_pack_kv_str(&w.pk, "actor", actor);
        api_pack_kv_int(&w.pk, "tail", tail);
        size_t len;
        uint8_t *b = api_writer_take(&w, &len);
        if (b) {
            send_bytes(c, v->addr, WIRE_LOGS_ASK, b, len);
            asked++;
        }
        free(b);
        api_writer_free(&w);
    }
    return asked;
}

static void on_logs_ask(cluster *c, const uint8_t *body, size_t len)
{
    node *n = c->n;
    api_msg m;
    if (api_parse(body, len, &m, NULL) != SHOAL_OK)
        return;
    char from[GOSSIP_ADDR_MAX], app[64], actor[64];
    int64_t id = 0, tail = 100;
    copy_str(from, sizeof from, api_get(m.root, "from"));
    copy_str(app, sizeof app, api_get(m.root, "app"));
    copy_str(actor, sizeof actor, api_get(m.root, "actor"));
    bool ok = api_get_int(m.root, "id", &id) &&
              api_get_int(m.root, "tail", &tail) && tail >= 0 && from[0];
    api_msg_free(&m);
    log_ring *ring = ok ? apps_ring(n, app, actor) : NULL;
    if (ring == NULL)
        return; /* the asker's wait ends by its timer */
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    api_pack_kv_int(&w.pk, "id", id);
    logbook_pack(n->logs, ring, 0,
                 tail > UINT32_MAX ? UINT32_MAX : (uint32_t)tail, &w.pk);
    size_t out;
    uint8_t *b = api_writer_take(&w, &out);
    if (b)
        send_bytes(c, from, WIRE_LOGS, b, out);
    free(b);
    api_writer_free(&w);
}

static void on_logs(cluster *c, const uint8_t *body, size_t len)
{
    api_msg m;
    int64_t id;
    if (api_parse(body, len, &m, NULL) != SHOAL_OK)
        return;
    const msgpack_object *lines = api_get(m.root, "lines");
    if (api_get_int(m.root, "id", &id) && lines &&
        lines->type == MSGPACK_OBJECT_ARRAY)
        ops_logs_from_member(c->n, (uint64_t)id, lines);
    api_msg_free(&m);
}

static int stamp_cmp(int64_t v1, const char *o1, int64_t v2, const char *o2)
{
    if (v1 != v2)
        return v1 < v2 ? -1 : 1;
    return strcmp(o1, o2);
}

typedef struct digest_walk {
    cluster *c;
    const member_view *v;
} digest_walk;

/* One of our records against what member v has. */
static void offer_record(void *ctx, const app_record *r)
{
    digest_walk *dw = ctx;
    const member_view *v = dw->v;
    for (size_t i = 0; i < v->napps; i++)
        if (strcmp(v->apps[i].name, r->name) == 0) {
            if (stamp_cmp(r->version, r->origin, v->apps[i].version,
                          v->apps[i].origin) > 0)
                send_record(dw->c, v->addr, r);
            return;
        }
    send_record(dw->c, v->addr, r);
}

/* Anti-entropy for the desired state: each member's application versions
 * (from its meta) against ours; the newer side sends. */
static void on_digest_timer(uv_timer_t *t)
{
    cluster *c = t->data;
    node *n = c->n;
    refresh(c);
    int64_t now = node__now_ms();
    for (size_t i = 0; i < c->nviews; i++) {
        const member_view *v = &c->views[i];
        if (v->self || v->state != GOSSIP_ALIVE || v->meta_version == 0)
            continue;
        for (size_t k = 0; k < v->napps; k++)
            if (apps_is_newer(n, v->apps[k].name, v->apps[k].version,
                              v->apps[k].origin))
                send_ask(c, v->addr, WIRE_APP_ASK, "name", v->apps[k].name);
        digest_walk dw = {c, v};
        apps_for_each_record(n, offer_record, &dw);
    }
    /* Records still waiting for a module ask again (another member may
     * have it by now). */
    for (pending_app *p = c->pending; p; p = p->next)
        if (now - p->asked_ms > 2000) {
            p->asked_ms = now;
            for (size_t i = 0; i < c->nviews; i++)
                if (!c->views[i].self && cluster_member_live(&c->views[i]))
                    send_ask(c, c->views[i].addr, WIRE_MODULE_ASK, "hash",
                             p->missing);
        }
}

/* ---- the wire ---- */

typedef struct wire_event {
    node_event ev;
    cluster *c;
    size_t len;
    uint8_t frame[];
} wire_event;

static void on_wire_event(node *n, node_event *ev)
{
    wire_event *e = (wire_event *)ev;
    cluster *c = e->c;
    if (!n->stopping) {
        switch (e->frame[1]) {
        case WIRE_APP:
            on_record(c, e->frame, e->len);
            break;
        case WIRE_APP_ASK:
            on_app_ask(c, e->frame + 2, e->len - 2);
            break;
        case WIRE_MODULE_ASK:
            on_module_ask(c, e->frame + 2, e->len - 2);
            break;
        case WIRE_LOGS_ASK:
            on_logs_ask(c, e->frame + 2, e->len - 2);
            break;
        case WIRE_LOGS:
            on_logs(c, e->frame + 2, e->len - 2);
            break;
        case WIRE_MODULE:
            on_module(c, e->frame + 2, e->len - 2);
            break;
        default:
            break;
        }
    }
    free(e);
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* The stream to node id; under the read lock. */
static wire_peer *route_of(cluster *c, uint16_t node_id)
{
    for (size_t i = 0; i < c->nroutes; i++)
        if (c->routes[i].node_id == node_id)
            return c->routes[i].stream;
    return NULL;
}

shoal_err cluster_remote(void *ctx, const actor_remote_msg *m)
{
    node *n = ctx;
    cluster *c = __atomic_load_n(&n->cl, __ATOMIC_ACQUIRE);
    if (c == NULL || !c->wired)
        return SHOAL_ENOTFOUND;
    uint8_t head[WIRE_MSG_HEADER];
    head[0] = WIRE_VERSION;
    head[1] = WIRE_MSG;
    put_be64(head + 2, m->from);
    put_be64(head + 10, m->to);
    head[18] = (uint8_t)m->kind;
    put_be64(head + 19, m->corr);
    pthread_rwlock_rdlock(&c->lock);
    wire_peer *p = c->stream ? route_of(c, actor_id_node(m->to)) : NULL;
    shoal_err err =
        p ? wire_send(c->stream, p, head, sizeof head, m->data, m->len)
          : SHOAL_ENOTFOUND;
    pthread_rwlock_unlock(&c->lock);
    return err;
}

/* An actor message from another node, on the stream's I/O thread. */
static void take_message(void *ctx, const uint8_t *b, size_t len)
{
    cluster *c = ctx;
    if (len < WIRE_MSG_HEADER || b[0] != WIRE_VERSION || b[1] != WIRE_MSG)
        return;
    actor_remote_msg r = {
        .from = get_be64(b + 2),
        .to = get_be64(b + 10),
        .kind = b[18],
        .corr = get_be64(b + 19),
        .data = b + WIRE_MSG_HEADER,
        .len = len - WIRE_MSG_HEADER,
    };
    shoal_err err = actor_deliver_remote(c->n->rt, &r);
    if (err && r.kind == ACTOR_KIND_REQUEST && r.from) {
        /* The caller hears at once that nobody will answer. */
        actor_remote_msg no = {.from = r.to ? r.to : 1,
                               .to = r.from,
                               .kind = ACTOR_KIND_REPLY,
                               .corr = r.corr};
        cluster_remote(c->n, &no);
    }
}

bool cluster_idle_poll(void *ctx, int timeout_ms)
{
    node *n = ctx;
    cluster *c = __atomic_load_n(&n->cl, __ATOMIC_ACQUIRE);
    if (c == NULL)
        return false;
    /* The read lock keeps the stream while the worker waits in it;
     * cluster_close_input wakes it before it takes the write lock. */
    pthread_rwlock_rdlock(&c->lock);
    bool ok = c->stream != NULL;
    if (ok)
        wire_poll(c->stream, timeout_ms);
    pthread_rwlock_unlock(&c->lock);
    return ok;
}

void cluster_idle_wake(void *ctx)
{
    node *n = ctx;
    cluster *c = __atomic_load_n(&n->cl, __ATOMIC_ACQUIRE);
    if (c == NULL)
        return;
    pthread_rwlock_rdlock(&c->lock);
    if (c->stream)
        wire_wake_poll(c->stream);
    pthread_rwlock_unlock(&c->lock);
}

/* A member's stream refused a connection: nothing listens there, so its
 * process is gone (on the stream's I/O thread). */
static void stream_refused(void *ctx, uint16_t node_id)
{
    cluster *c = ctx;
    char name[GOSSIP_NAME_MAX] = "";
    pthread_mutex_lock(&c->gossip_lock);
    size_t count = gossip_count(c->g);
    for (size_t i = 1; i < count; i++) {
        const gossip_member *m = gossip_member_at(c->g, i);
        if (m->node_id == node_id &&
            (m->state == GOSSIP_ALIVE || m->state == GOSSIP_SUSPECT))
            snprintf(name, sizeof name, "%s", m->name);
    }
    if (name[0])
        gossip_declare_dead(c->g, mono_ms(), name);
    pthread_mutex_unlock(&c->gossip_lock);
    if (name[0])
        node_log(c->n, LOG_INFO, "cluster", NULL,
                 "member %s refused its stream: its process is gone", name);
}

static void on_rx(void *arg)
{
    cluster *c = arg;
    int rv = nng_aio_result(c->rx);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    if (rv == 0) {
        nng_msg *m = nng_aio_get_msg(c->rx);
        const uint8_t *b = nng_msg_body(m);
        size_t len = nng_msg_len(m);
        if (len >= 2 && b[0] == WIRE_VERSION) {
            if (b[1] == WIRE_GOSSIP) {
                shoal_errinfo ei = {0};
                pthread_mutex_lock(&c->gossip_lock);
                shoal_err err =
                    gossip_input(c->g, mono_ms(), b + 2, len - 2, &ei);
                pthread_mutex_unlock(&c->gossip_lock);
                if (err == SHOAL_EMALFORMED)
                    node_log(c->n, LOG_DEBUG, "cluster", NULL,
                             "malformed gossip: %s", ei.msg);
            } else {
                wire_event *e = malloc(sizeof *e + len);
                if (e) {
                    e->ev.run = on_wire_event;
                    e->c = c;
                    e->len = len;
                    memcpy(e->frame, b, len);
                    node__post(c->n, &e->ev);
                }
            }
        }
        nng_msg_free(m);
    }
    nng_recv_aio(c->in, c->rx);
}

/* ---- life cycle ---- */

/* The CPUs this process may run on: the runtime's default worker count. */
static uint32_t cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (uint32_t)CPU_COUNT(&set);
    return 1;
}

shoal_err cluster_start(node *n, shoal_errinfo *ei)
{
    cluster *c = calloc(1, sizeof *c);
    if (c == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    c->n = n;
    pthread_rwlock_init(&c->lock, NULL);
    /* Workers read n->cl (cluster_idle_poll) from the start: it is
     * published once what they use (the lock) is ready. */
    __atomic_store_n(&n->cl, c, __ATOMIC_RELEASE);
    pthread_mutex_init(&c->gossip_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->gossip_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&c->views_dirty, true);
    atomic_init(&c->change_posted, false);
    const node_options *o = &n->opt;
    snprintf(c->control, sizeof c->control, "%s",
             o->nlisten ? o->listen[0] : SHOAL_API_DEFAULT_URL);
    c->wired = o->cluster_listen != NULL;
    c->capacity = o->capacity;
    if (c->capacity == 0)
        c->capacity = o->workers ? o->workers : cpus_available();
    snprintf(c->addr, sizeof c->addr, "%s",
             c->wired ? o->cluster_listen : "local");
    if (c->wired) {
        int rv = nng_pull0_open(&c->in);
        if (rv == 0) {
            nng_setopt_size(c->in, NNG_OPT_RECVMAXSZ, WIRE_MAX_FRAME);
            nng_setopt_int(c->in, NNG_OPT_RECVBUF, 8192);
            rv = nng_listen(c->in, o->cluster_listen, NULL, 0);
            if (rv)
                nng_close(c->in);
        }
        if (rv)
            return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                     "cluster: cannot listen on %s: %s",
                                     o->cluster_listen, nng_strerror(rv));
        c->rx_open = true;
        /* The stream listens on the wire's host, at a port of its own. */
        char host[128];
        const char *h = strstr(o->cluster_listen, "://");
        h = h ? h + 3 : o->cluster_listen;
        const char *colon = strrchr(h, ':');
        size_t hl = colon ? (size_t)(colon - h) : strlen(h);
        if (hl >= sizeof host)
            hl = sizeof host - 1;
        memcpy(host, h, hl);
        host[hl] = 0;
        shoal_err serr =
            wire_start(n, host, take_message, stream_refused, c, true,
                       &c->stream, c->stream_addr, sizeof c->stream_addr, ei);
        if (serr)
            return serr;
        if ((rv = nng_aio_alloc(&c->rx, on_rx, c)) != 0)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory");
    }
    gossip_config gc = {
        .name = store_node_name(n->store),
        .addr = c->addr,
        .node_id = store_node_id(n->store),
        .incarnation = (uint64_t)node__now_ms(),
        .period_ms = o->gossip_period_ms,
        .suspect_timeout_ms = o->suspect_timeout_ms,
        .ping_timeout_ms = o->gossip_period_ms ? o->gossip_period_ms / 2 : 0,
        .send = gossip_send,
        .changed = gossip_changed,
        .ctx = c,
    };
    shoal_err err = gossip_new(&gc, &c->g);
    if (err)
        return shoal_errinfo_set(ei, err, SIZE_MAX, "cluster: gossip: %s",
                                 shoal_strerror(err));
    uv_timer_init(&n->loop, &c->meta_timer);
    uv_timer_init(&n->loop, &c->digest_timer);
    c->timers = 2;
    c->meta_timer.data = c->digest_timer.data = c;
    build_meta(c);
    rebuild_views(c);
    if (c->wired) {
        nng_recv_aio(c->in, c->rx);
        if (o->njoin) {
            /* Datagrams may arrive already: NNG's thread takes them. */
            pthread_mutex_lock(&c->gossip_lock);
            err = gossip_join(c->g, mono_ms(), o->join, o->njoin);
            pthread_mutex_unlock(&c->gossip_lock);
            if (err)
                return shoal_errinfo_set(ei, err, SIZE_MAX, "cluster: join: %s",
                                         shoal_strerror(err));
        }
        if (pthread_create(&c->gossip_thread, NULL, gossip_main, c) != 0)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "cluster: cannot start its thread");
        c->gossip_running = true;
        uv_timer_start(&c->digest_timer, on_digest_timer, DIGEST_CHECK_MS,
                       DIGEST_CHECK_MS);
        node_log(n, LOG_INFO, "cluster", NULL, "wire on %s%s", c->addr,
                 o->njoin ? "; joining" : "");
    }
    uv_timer_start(&c->meta_timer, on_meta_timer, META_REFRESH_MS, 0);
    return SHOAL_OK;
}

void cluster_leave(node *n)
{
    cluster *c = n->cl;
    if (c == NULL || c->left || c->g == NULL)
        return;
    c->left = true;
    pthread_mutex_lock(&c->gossip_lock);
    gossip_leave(c->g, mono_ms());
    pthread_mutex_unlock(&c->gossip_lock);
}

static void on_timer_closed(uv_handle_t *h)
{
    cluster *c = h->data;
    if (--c->timers == 0)
        free(c);
}

void cluster_close_input(node *n)
{
    cluster *c = n->cl;
    if (c == NULL)
        return;
    if (c->rx_open) {
        nng_close(c->in);
        c->rx_open = false;
    }
    if (c->rx) {
        nng_aio_stop(c->rx);
        nng_aio_free(c->rx);
        c->rx = NULL;
    }
    /* No frame reaches the runtime after this, and no send starts on the
     * stream (cluster_remote finds it gone). A worker waiting in the
     * stream's poll holds the read lock: woken, it lets go. */
    if (c->stream)
        wire_wake_poll(c->stream);
    pthread_rwlock_wrlock(&c->lock);
    wire *stream = c->stream;
    c->stream = NULL;
    c->nroutes = 0;
    pthread_rwlock_unlock(&c->lock);
    wire_stop(stream);
    if (c->gossip_running) {
        pthread_mutex_lock(&c->gossip_lock);
        c->gossip_stop = true;
        pthread_cond_signal(&c->gossip_cond);
        pthread_mutex_unlock(&c->gossip_lock);
        pthread_join(c->gossip_thread, NULL);
        c->gossip_running = false;
    }
}

void cluster_free(node *n)
{
    cluster *c = n->cl;
    if (c == NULL)
        return;
    cluster_close_input(n);
    /* The goodbye of cluster_leave may still be on its way out. */
    if (c->left && c->npeers)
        nng_msleep(50);
    for (size_t i = 0; i < c->npeers; i++)
        peer_free(c->peers[i]);
    free(c->peers);
    free(c->routes);
    for (size_t i = 0; i < c->nviews; i++)
        view_clear(&c->views[i]);
    free(c->views);
    while (c->pending) {
        pending_app *p = c->pending;
        c->pending = p->next;
        free(p->frame);
        free(p);
    }
    gossip_delete(c->g);
    c->g = NULL;
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->gossip_lock);
    pthread_cond_destroy(&c->gossip_cond);
    __atomic_store_n(&n->cl, NULL, __ATOMIC_RELEASE);
    /* The timers live in c: it goes when the loop has closed them. */
    if (c->timers) {
        uv_close((uv_handle_t *)&c->meta_timer, on_timer_closed);
        uv_close((uv_handle_t *)&c->digest_timer, on_timer_closed);
    } else {
        free(c);
    }
}
