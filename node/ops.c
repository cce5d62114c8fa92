/* The control API's operations (docs/control-api.md), one handler each. A
 * handler reads its arguments, does the work through apps.c and the store,
 * and answers with control_reply, now or (call) when the actor replies. */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void (*op_fn)(node *n, control_req *req, const msgpack_object *msg);

/* Copies string argument key into buf (len bytes with the NUL). */
static bool arg_str(control_req *req, const msgpack_object *msg,
                    const char *key, char *buf, size_t len)
{
    const char *s;
    size_t n;
    if (!api_get_str(msg, key, &s, &n)) {
        control_reply_error(req, SHOAL_EINVAL,
                            "missing argument \"%s\" (a string)", key);
        return false;
    }
    if (n >= len || memchr(s, 0, n)) {
        control_reply_error(req, SHOAL_EINVAL,
                            "argument \"%s\" is not a valid name", key);
        return false;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    return true;
}

/* Sends what w holds as the reply. */
static void reply_with(control_req *req, api_writer *w)
{
    size_t len;
    uint8_t *bytes = api_writer_take(w, &len);
    api_writer_free(w);
    control_reply(req, bytes, len);
}

static void op_version(node *n, control_req *req, const msgpack_object *msg)
{
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 3);
    api_pack_kv_str(&w.pk, "version", SHOAL_VERSION);
    api_pack_kv_int(&w.pk, "api", SHOAL_API_VERSION);
    api_pack_kv_str(&w.pk, "node", store_node_name(n->store));
    reply_with(req, &w);
}

static bool is_hash(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void op_module_has(node *n, control_req *req, const msgpack_object *msg)
{
    const msgpack_object *hashes = api_get(msg, "hashes");
    if (!hashes || hashes->type != MSGPACK_OBJECT_ARRAY) {
        control_reply_error(req, SHOAL_EINVAL,
                            "missing argument \"hashes\" (an array)");
        return;
    }
    uint32_t count = hashes->via.array.size, missing = 0;
    bool *lack = calloc(count ? count : 1, sizeof *lack);
    if (lack == NULL) {
        control_reply_error(req, SHOAL_ENOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *h = &hashes->via.array.ptr[i];
        char hash[65];
        if (h->type != MSGPACK_OBJECT_STR ||
            !is_hash(h->via.str.ptr, h->via.str.size)) {
            free(lack);
            control_reply_error(req, SHOAL_EINVAL,
                                "hashes[%u] is not a sha256 in lower-case hex",
                                i);
            return;
        }
        memcpy(hash, h->via.str.ptr, 64);
        hash[64] = 0;
        lack[i] = !store_module_has(n->store, hash);
        missing += lack[i];
    }
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 1);
    api_pack_str(&w.pk, "missing");
    msgpack_pack_array(&w.pk, missing);
    for (uint32_t i = 0; i < count; i++)
        if (lack[i])
            api_pack_strn(&w.pk, hashes->via.array.ptr[i].via.str.ptr, 64);
    free(lack);
    reply_with(req, &w);
}

static void op_module_put(node *n, control_req *req, const msgpack_object *msg)
{
    const uint8_t *bytes;
    size_t len;
    if (!api_get_bin(msg, "bytes", &bytes, &len)) {
        control_reply_error(req, SHOAL_EINVAL,
                            "missing argument \"bytes\" (bin)");
        return;
    }
    char hash[65];
    api_sha256_hex(bytes, len, hash);
    if (!store_module_has(n->store, hash)) {
        /* Compiling checks it: an invalid module never enters the store. */
        shoal_errinfo ei = {0};
        shoal_err err = apps_add_module(n, hash, bytes, len, &ei);
        if (err) {
            control_reply_error(req, err, "invalid module: %s", ei.msg);
            return;
        }
        err = store_module_put(n->store, hash, bytes, len);
        if (err) {
            control_reply_error(req, err, "storing the module: %s",
                                shoal_strerror(err));
            return;
        }
        node_log(n, LOG_INFO, "store", NULL, "module %.12s stored (%zu bytes)",
                 hash, len);
    }
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 2);
    api_pack_kv_str(&w.pk, "hash", hash);
    api_pack_kv_int(&w.pk, "size", (int64_t)len);
    reply_with(req, &w);
}

static void op_apply(node *n, control_req *req, const msgpack_object *msg)
{
    const char *text;
    size_t text_len;
    char file[256];
    if (!api_get_str(msg, "manifest", &text, &text_len)) {
        control_reply_error(req, SHOAL_EINVAL,
                            "missing argument \"manifest\" (a string)");
        return;
    }
    if (!arg_str(req, msg, "file", file, sizeof file))
        return;
    const msgpack_object *modules = api_get(msg, "modules");
    if (!modules || modules->type != MSGPACK_OBJECT_MAP) {
        control_reply_error(req, SHOAL_EINVAL,
                            "missing argument \"modules\" (a map)");
        return;
    }
    char *manifest = malloc(text_len + 1);
    if (manifest == NULL) {
        control_reply_error(req, SHOAL_ENOMEM, "out of memory");
        return;
    }
    memcpy(manifest, text, text_len);
    manifest[text_len] = 0;

    manifest_app *spec = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = manifest_parse(manifest, text_len, file, &spec, &ei);
    if (err) {
        control_reply_error(req, err, "%s", ei.msg);
        goto done;
    }
    for (size_t i = 0; i < spec->nactors; i++) {
        manifest_actor *a = &spec->actors[i];
        const msgpack_object *h = api_get(modules, a->module);
        if (!h || h->type != MSGPACK_OBJECT_STR ||
            !is_hash(h->via.str.ptr, h->via.str.size)) {
            control_reply_error(req, SHOAL_EINVAL,
                                "%s: spec.actors[%zu].module: no sha256 given "
                                "for %s in \"modules\"",
                                file, i, a->module);
            goto done;
        }
        memcpy(a->module_hash, h->via.str.ptr, 64);
        a->module_hash[64] = 0;
        if (!store_module_has(n->store, a->module_hash)) {
            control_reply_error(req, SHOAL_ENOTFOUND,
                                "%s: module %s (sha256 %.12s) is not on the "
                                "node; upload it first (module.put)",
                                file, a->module, a->module_hash);
            goto done;
        }
        err = apps_load_module(n, a->module_hash, &ei);
        if (err) {
            control_reply_error(req, err, "%s: module %s: %s", file, a->module,
                                ei.msg);
            goto done;
        }
    }
    apply_result res;
    err = apps_apply(n, spec, manifest, file, &res, &ei);
    spec = NULL; /* apps_apply took it */
    if (err) {
        control_reply_error(req, err, "%s", ei.msg);
        goto done;
    }
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 4);
    api_pack_kv_str(&w.pk, "app", res.app);
    api_pack_kv_int(&w.pk, "version", res.version);
    api_pack_kv_bool(&w.pk, "changed", res.changed);
    api_pack_str(&w.pk, "actors");
    msgpack_pack_array(&w.pk, (uint32_t)res.n);
    for (size_t i = 0; i < res.n; i++) {
        msgpack_pack_map(&w.pk, 2);
        api_pack_kv_str(&w.pk, "name", res.names[i]);
        api_pack_kv_str(&w.pk, "action", res.actions[i]);
    }
    apply_result_free(&res);
    reply_with(req, &w);
done:
    manifest_free(spec);
    free(manifest);
}

static void op_app_list(node *n, control_req *req, const msgpack_object *msg)
{
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 1);
    apps_pack_list(n, &w.pk);
    reply_with(req, &w);
}

static void op_app_get(node *n, control_req *req, const msgpack_object *msg)
{
    char name[64];
    if (!arg_str(req, msg, "app", name, sizeof name))
        return;
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, APPS_APP_FIELDS);
    if (apps_pack_app(n, name, &w.pk) != SHOAL_OK) {
        api_writer_free(&w);
        control_reply_error(req, SHOAL_ENOTFOUND, "no application named \"%s\"",
                            name);
        return;
    }
    reply_with(req, &w);
}

static void op_app_delete(node *n, control_req *req, const msgpack_object *msg)
{
    char name[64];
    if (!arg_str(req, msg, "app", name, sizeof name))
        return;
    shoal_errinfo ei = {0};
    shoal_err err = apps_delete(n, name, &ei);
    if (err) {
        control_reply_error(req, err, "%s", ei.msg);
        return;
    }
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 1);
    api_pack_kv_str(&w.pk, "app", name);
    reply_with(req, &w);
}

static void op_actor_list(node *n, control_req *req, const msgpack_object *msg)
{
    char name[64];
    bool only = api_get(msg, "app") != NULL;
    if (only && !arg_str(req, msg, "app", name, sizeof name))
        return;
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 1);
    apps_pack_actors(n, only ? name : NULL, &w.pk);
    reply_with(req, &w);
}

static void op_actor_get(node *n, control_req *req, const msgpack_object *msg)
{
    char app[64], actor[64];
    if (!arg_str(req, msg, "app", app, sizeof app) ||
        !arg_str(req, msg, "actor", actor, sizeof actor))
        return;
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 1);
    api_pack_str(&w.pk, "actor");
    if (apps_pack_actor(n, app, actor, &w.pk) != SHOAL_OK) {
        api_writer_free(&w);
        control_reply_error(req, SHOAL_ENOTFOUND, "no actor %s/%s", app, actor);
        return;
    }
    reply_with(req, &w);
}

/* Most replicas one actor may have (as manifests allow). */
#define MAX_REPLICAS 10000

static void op_scale(node *n, control_req *req, const msgpack_object *msg)
{
    char app[64], actor[64];
    int64_t replicas;
    if (!arg_str(req, msg, "app", app, sizeof app) ||
        !arg_str(req, msg, "actor", actor, sizeof actor))
        return;
    if (!api_get_int(msg, "replicas", &replicas) || replicas < 0 ||
        replicas > MAX_REPLICAS) {
        control_reply_error(req, SHOAL_EINVAL,
                            "argument \"replicas\" must be an integer from "
                            "0 to %d",
                            MAX_REPLICAS);
        return;
    }
    int64_t version;
    shoal_errinfo ei = {0};
    shoal_err err =
        apps_scale(n, app, actor, (uint32_t)replicas, &version, &ei);
    if (err) {
        control_reply_error(req, err, "%s", ei.msg);
        return;
    }
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 2);
    api_pack_kv_str(&w.pk, "app", app);
    api_pack_kv_int(&w.pk, "version", version);
    reply_with(req, &w);
}

/* ---- logs from the whole cluster ---- */

/* How long a logs request waits for the other members' lines. */
#define LOGS_GATHER_MS 300

typedef struct gathered_line {
    int64_t time_ms;
    size_t order; /* arrival, to keep equal times in order */
    size_t off, len;
} gathered_line;

typedef struct logs_gather {
    node *n;
    control_req *req;
    uint64_t id;
    size_t waiting;
    uint32_t tail;
    int64_t next; /* this node's cursor, for following */
    uv_timer_t timer;
    msgpack_sbuffer bytes; /* the lines' msgpack, one after another */
    gathered_line *lines;
    size_t nlines, caplines;
    struct logs_gather *next_gather;
} logs_gather;

static void gather_lines(logs_gather *g, const msgpack_object *lines)
{
    for (uint32_t i = 0; i < lines->via.array.size; i++) {
        const msgpack_object *l = &lines->via.array.ptr[i];
        int64_t t;
        if (l->type != MSGPACK_OBJECT_MAP || !api_get_int(l, "time_ms", &t))
            continue;
        if (g->nlines == g->caplines) {
            size_t cap = g->caplines ? g->caplines * 2 : 64;
            gathered_line *nl = realloc(g->lines, cap * sizeof *nl);
            if (nl == NULL)
                return;
            g->lines = nl;
            g->caplines = cap;
        }
        msgpack_packer pk;
        msgpack_packer_init(&pk, &g->bytes, msgpack_sbuffer_write);
        size_t off = g->bytes.size;
        msgpack_pack_object(&pk, *l);
        g->lines[g->nlines] = (gathered_line){.time_ms = t,
                                              .order = g->nlines,
                                              .off = off,
                                              .len = g->bytes.size - off};
        g->nlines++;
    }
}

static int line_cmp(const void *a, const void *b)
{
    const gathered_line *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void on_gather_closed(uv_handle_t *h)
{
    logs_gather *g = h->data;
    msgpack_sbuffer_destroy(&g->bytes);
    free(g->lines);
    free(g);
}

/* Answers the request with the lines gathered, by time, the last tail. */
static void gather_finish(logs_gather *g)
{
    node *n = g->n;
    for (logs_gather **p = &n->gathers; *p; p = &(*p)->next_gather)
        if (*p == g) {
            *p = g->next_gather;
            break;
        }
    qsort(g->lines, g->nlines, sizeof *g->lines, line_cmp);
    size_t first = g->nlines > g->tail ? g->nlines - g->tail : 0;
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 2);
    api_pack_str(&w.pk, "lines");
    msgpack_pack_array(&w.pk, (uint32_t)(g->nlines - first));
    for (size_t i = first; i < g->nlines; i++)
        w.pk.callback(w.pk.data, g->bytes.data + g->lines[i].off,
                      g->lines[i].len);
    api_pack_kv_int(&w.pk, "next", g->next);
    reply_with(g->req, &w);
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, on_gather_closed);
}

static void on_gather_timeout(uv_timer_t *t)
{
    gather_finish(t->data);
}

void ops_free(node *n)
{
    while (n->gathers) {
        logs_gather *g = n->gathers;
        n->gathers = g->next_gather;
        uv_timer_stop(&g->timer);
        uv_close((uv_handle_t *)&g->timer, on_gather_closed);
    }
}

void ops_logs_from_member(node *n, uint64_t id, const msgpack_object *lines)
{
    for (logs_gather *g = n->gathers; g; g = g->next_gather)
        if (g->id == id) {
            gather_lines(g, lines);
            if (--g->waiting == 0)
                gather_finish(g);
            return;
        }
}

/* Starts gathering the last tail lines of app/actor from this node's ring
 * and the members that run its replicas; false when no other member
 * does (then the caller answers at once). */
static bool logs_gather_start(node *n, control_req *req, log_ring *ring,
                              const char *app, const char *actor, uint32_t tail)
{
    logs_gather *g = calloc(1, sizeof *g);
    if (g == NULL)
        return false;
    g->id = ++n->next_gather;
    g->waiting = cluster_logs_ask(n, app, actor, tail, g->id);
    if (g->waiting == 0) {
        free(g);
        return false;
    }
    g->n = n;
    g->req = req;
    g->tail = tail;
    msgpack_sbuffer_init(&g->bytes);
    /* This node's lines, through the same packing as a plain reply. */
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 2);
    logbook_pack(n->logs, ring, 0, tail, &w.pk);
    api_msg m;
    if (api_parse(w.buf.data, w.buf.size, &m, NULL) == SHOAL_OK) {
        const msgpack_object *lines = api_get(m.root, "lines");
        if (lines && lines->type == MSGPACK_OBJECT_ARRAY)
            gather_lines(g, lines);
        api_get_int(m.root, "next", &g->next);
        api_msg_free(&m);
    }
    api_writer_free(&w);
    uv_timer_init(&n->loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, on_gather_timeout, LOGS_GATHER_MS, 0);
    g->next_gather = n->gathers;
    n->gathers = g;
    return true;
}

static void op_logs(node *n, control_req *req, const msgpack_object *msg)
{
    char app[64], actor[64];
    if (!arg_str(req, msg, "app", app, sizeof app) ||
        !arg_str(req, msg, "actor", actor, sizeof actor))
        return;
    int64_t tail = 100, after = 0;
    bool has_tail = api_get_int(msg, "tail", &tail);
    bool has_after = api_get_int(msg, "after", &after);
    if (!has_tail && has_after)
        tail = UINT32_MAX;
    if (tail < 0 || after < 0) {
        control_reply_error(req, SHOAL_EINVAL,
                            "\"tail\" and \"after\" must not be negative");
        return;
    }
    log_ring *ring = apps_ring(n, app, actor);
    if (ring == NULL) {
        control_reply_error(req, SHOAL_ENOTFOUND, "no actor %s/%s", app, actor);
        return;
    }
    uint32_t t = tail > UINT32_MAX ? UINT32_MAX : (uint32_t)tail;
    /* The last lines (no "after") come from every node that runs a
     * replica; following ("after") reads this node's. */
    if (!has_after && logs_gather_start(n, req, ring, app, actor, t))
        return;
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 2);
    logbook_pack(n->logs, ring, (uint64_t)after, t, &w.pk);
    reply_with(req, &w);
}

/* A call under way: the runtime answers on some thread; the answer goes
 * to the loop thread, which replies. */
typedef struct call_state {
    node_event ev;
    node *n;
    control_req *req;
    uint32_t replica;
    shoal_err err;
    uint8_t *data;
    size_t len;
} call_state;

static void on_call_done(node *n, node_event *ev)
{
    call_state *c = (call_state *)ev;
    if (c->err) {
        control_reply_error(c->req, c->err, "call: %s", shoal_strerror(c->err));
    } else {
        api_writer w;
        api_writer_init(&w);
        api_pack_ok(&w.pk, 2);
        api_pack_kv_bin(&w.pk, "data", c->data, c->len);
        api_pack_kv_int(&w.pk, "replica", c->replica);
        reply_with(c->req, &w);
    }
    free(c->data);
    free(c);
}

static void on_call_reply(void *ctx, shoal_err err, const uint8_t *reply,
                          size_t len)
{
    call_state *c = ctx;
    c->err = err;
    if (err == SHOAL_OK) {
        c->data = malloc(len ? len : 1);
        if (c->data == NULL)
            c->err = SHOAL_ENOMEM;
        else
            memcpy(c->data, reply, len);
        c->len = len;
    }
    c->ev.run = on_call_done;
    node__post(c->n, &c->ev);
}

static void op_call(node *n, control_req *req, const msgpack_object *msg)
{
    char app[64], actor[64];
    if (!arg_str(req, msg, "app", app, sizeof app) ||
        !arg_str(req, msg, "actor", actor, sizeof actor))
        return;
    const uint8_t *data;
    size_t len;
    if (!api_get_bin(msg, "data", &data, &len)) {
        control_reply_error(req, SHOAL_EINVAL,
                            "missing argument \"data\" (bin: msgpack)");
        return;
    }
    int64_t timeout = 5000;
    if (api_get(msg, "timeout_ms") &&
        (!api_get_int(msg, "timeout_ms", &timeout) || timeout <= 0)) {
        control_reply_error(req, SHOAL_EINVAL,
                            "\"timeout_ms\" must be a positive integer");
        return;
    }
    actor_id id;
    call_state *c = calloc(1, sizeof *c);
    if (c == NULL) {
        control_reply_error(req, SHOAL_ENOMEM, "out of memory");
        return;
    }
    c->n = n;
    c->req = req;
    shoal_errinfo ei = {0};
    shoal_err err = apps_pick(n, app, actor, &id, &c->replica, &ei);
    if (err == SHOAL_OK) {
        err = actor_call(n->rt, id, data, len, timeout, on_call_reply, c);
        if (err)
            snprintf(ei.msg, sizeof ei.msg, "call %s/%s: %s", app, actor,
                     err == SHOAL_EMALFORMED ? "data is not valid msgpack"
                                             : shoal_strerror(err));
    }
    if (err) {
        free(c);
        control_reply_error(req, err, "%s", ei.msg);
    }
}

/* Resident memory of this process, in bytes. */
static int64_t resident_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

/* The cluster's members as this node sees them (itself among them). */
static void op_node_list(node *n, control_req *req, const msgpack_object *msg)
{
    api_writer w;
    api_writer_init(&w);
    api_pack_ok(&w.pk, 1);
    api_pack_str(&w.pk, "nodes");
    size_t count = cluster_count(n);
    msgpack_pack_array(&w.pk, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        const member_view *v = cluster_member(n, i);
        msgpack_pack_map(&w.pk, 12);
        api_pack_kv_str(&w.pk, "name", v->name);
        api_pack_kv_int(&w.pk, "id", v->node_id);
        api_pack_kv_str(&w.pk, "address", v->control);
        api_pack_kv_str(&w.pk, "wire", v->addr);
        api_pack_kv_str(&w.pk, "stream", v->stream);
        api_pack_kv_str(&w.pk, "state",
                        v->self && n->stopping ? "leaving"
                                               : member_state_name(v->state));
        api_pack_kv_bool(&w.pk, "self", v->self);
        api_pack_kv_int(&w.pk, "capacity", v->capacity);
        api_pack_kv_int(&w.pk, "actors",
                        v->self ? (int64_t)actor_count(n->rt)
                                : (int64_t)v->actors);
        api_pack_kv_int(&w.pk, "memory",
                        v->self ? resident_bytes() : (int64_t)v->memory);
        api_pack_kv_int(&w.pk, "fuel_per_s", (int64_t)v->fuel_per_s);
        api_pack_str(&w.pk, "labels");
        msgpack_pack_map(&w.pk, (uint32_t)v->nlabels);
        for (size_t k = 0; k < v->nlabels; k++) {
            api_pack_str(&w.pk, v->labels[k][0]);
            api_pack_str(&w.pk, v->labels[k][1]);
        }
    }
    reply_with(req, &w);
}

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"version", op_version},
    {"module.has", op_module_has},
    {"module.put", op_module_put},
    {"apply", op_apply},
    {"app.list", op_app_list},
    {"app.get", op_app_get},
    {"app.delete", op_app_delete},
    {"actor.list", op_actor_list},
    {"actor.get", op_actor_get},
    {"scale", op_scale},
    {"logs", op_logs},
    {"call", op_call},
    {"node.list", op_node_list},
};

void ops_handle(node *n, control_req *req, const msgpack_object *msg)
{
    const msgpack_object *op = api_get(msg, "op");
    if (!op || op->type != MSGPACK_OBJECT_STR) {
        control_reply_error(req, SHOAL_EINVAL,
                            "request has no \"op\" (a string)");
        return;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (api_str_eq(op, ops[i].name)) {
            ops[i].fn(n, req, msg);
            return;
        }
    control_reply_error(req, SHOAL_EINVAL, "unknown operation \"%.*s\"",
                        (int)(op->via.str.size > 64 ? 64 : op->via.str.size),
                        op->via.str.ptr);
}
