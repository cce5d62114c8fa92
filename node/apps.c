/* Applications: the desired state (from manifests, kept in the store) and
 * the reconciler that makes the running actors match it, one replica at a
 * time during a rolling update. See docs/node.md. */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum replica_state {
    REP_STARTING,   /* spawned, not yet initialised */
    REP_RUNNING,    /* initialised: handling messages */
    REP_RESTARTING, /* crashed; its restart policy brings it back */
    REP_FAILED,     /* crashed past its restart limit; retried later */
    REP_EXITED,     /* ended and its policy says it stays down */
    REP_STOPPING,   /* killed by the node, the exit not seen yet */
};

static const char *const state_names[] = {
    "starting", "running", "restarting", "failed", "exited", "stopping",
};

/* Node-level retries of a failed replica: 1 s, doubling, up to 60 s. */
#define RETRY_INITIAL_MS 1000
#define RETRY_MAX_MS 60000

typedef struct replica {
    uint32_t index;
    actor_id id;     /* 0 when no actor exists for it */
    int64_t version; /* the app version it was started at */
    enum replica_state state;
    int64_t started_ms;
    uint32_t restarts;
    uint32_t failures; /* node-level respawns in a row */
    int64_t retry_ms;
    char module[65];
    char last_exit[300];
    link_tag *tag; /* given to the runtime with the actor; see node.h */
} replica;

typedef struct group {
    char name[64];
    manifest_actor *spec;     /* in app->spec; NULL once removed */
    int64_t template_version; /* replicas older than this are replaced */
    replica *reps;
    size_t nreps, capreps;
    log_ring *ring;
    uint32_t rr; /* round robin for calls */
} group;

struct node_app {
    char *name;
    int64_t version;
    char origin[64]; /* the node that made this version */
    int64_t updated_ms;
    char *manifest, *file;
    manifest_app *spec;
    uint8_t *spec_bytes; /* canonical, as stored */
    size_t spec_len;
    group **groups;
    size_t ngroups, capgroups;
    bool deleting;
    node_app *next;
};

/* A deleted application's last version, so that the deletion wins over
 * older copies in the cluster. */
typedef struct app_tomb {
    char name[64];
    int64_t version;
    char origin[64];
    int64_t updated_ms;
} app_tomb;

/* ---- lookup ---- */

static app_tomb *find_tomb(node *n, const char *name)
{
    for (size_t i = 0; i < n->ntombs; i++)
        if (strcmp(n->tombs[i].name, name) == 0)
            return &n->tombs[i];
    return NULL;
}

static void drop_tomb(node *n, const char *name)
{
    app_tomb *t = find_tomb(n, name);
    if (t)
        *t = n->tombs[--n->ntombs];
}

static bool set_tomb(node *n, const char *name, int64_t version,
                     const char *origin, int64_t updated_ms)
{
    app_tomb *t = find_tomb(n, name);
    if (t == NULL) {
        if (n->ntombs == n->captombs) {
            size_t cap = n->captombs ? n->captombs * 2 : 4;
            app_tomb *nt = realloc(n->tombs, cap * sizeof *nt);
            if (nt == NULL)
                return false;
            n->tombs = nt;
            n->captombs = cap;
        }
        t = &n->tombs[n->ntombs++];
    }
    snprintf(t->name, sizeof t->name, "%s", name);
    t->version = version;
    snprintf(t->origin, sizeof t->origin, "%s", origin);
    t->updated_ms = updated_ms;
    return true;
}

static node_app *find_app(node *n, const char *name)
{
    for (node_app *a = n->apps; a; a = a->next)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

static group *find_group(node_app *a, const char *name)
{
    for (size_t i = 0; i < a->ngroups; i++)
        if (a->groups[i]->spec && strcmp(a->groups[i]->name, name) == 0)
            return a->groups[i];
    return NULL;
}

static bool is_current(const group *g, const replica *r)
{
    return r->version >= g->template_version;
}

static uint32_t desired_of(const node_app *a, const group *g)
{
    return a->deleting || g->spec == NULL ? 0 : g->spec->replicas;
}

static void replica_label(const node_app *a, const group *g, uint32_t index,
                          char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s/%u", a->name, g->name, index);
}

/* ---- modules ---- */

static bool module_loaded(node *n, const char *hash)
{
    for (size_t i = 0; i < n->nloaded; i++)
        if (strcmp(n->loaded_modules[i], hash) == 0)
            return true;
    return false;
}

shoal_err apps_add_module(node *n, const char *hash, const uint8_t *bytes,
                          size_t len, shoal_errinfo *ei)
{
    if (module_loaded(n, hash))
        return SHOAL_OK;
    if (n->nloaded == n->caploaded) {
        size_t cap = n->caploaded ? n->caploaded * 2 : 8;
        char **nl = realloc(n->loaded_modules, cap * sizeof *nl);
        if (nl == NULL)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory");
        n->loaded_modules = nl;
        n->caploaded = cap;
    }
    char *copy = strdup(hash);
    if (copy == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    shoal_err err = actor_runtime_add_module(n->rt, hash, bytes, len, ei);
    if (err) {
        free(copy);
        return err;
    }
    n->loaded_modules[n->nloaded++] = copy;
    return SHOAL_OK;
}

shoal_err apps_load_module(node *n, const char *hash, shoal_errinfo *ei)
{
    if (module_loaded(n, hash))
        return SHOAL_OK;
    uint8_t *bytes;
    size_t len;
    shoal_err err = store_module_get(n->store, hash, &bytes, &len);
    if (err)
        return shoal_errinfo_set(
            ei, err, SIZE_MAX, "module sha256 %.12s is not in the store", hash);
    err = apps_add_module(n, hash, bytes, len, ei);
    free(bytes);
    return err;
}

/* ---- replicas ---- */

static void spawn_into(node *n, node_app *a, group *g, replica *r)
{
    const manifest_actor *s = g->spec;
    char label[160];
    replica_label(a, g, r->index, label, sizeof label);
    r->id = 0;
    r->version = a->version;
    r->started_ms = node__now_ms();
    snprintf(r->module, sizeof r->module, "%s", s->module_hash);

    shoal_errinfo ei = {0};
    shoal_err err = apps_load_module(n, s->module_hash, &ei);
    if (err == SHOAL_OK) {
        static const actor_restart policy[] = {
            [MANIFEST_RESTART_ALWAYS] = ACTOR_RESTART_ALWAYS,
            [MANIFEST_RESTART_ON_FAILURE] = ACTOR_RESTART_ON_FAILURE,
            [MANIFEST_RESTART_NEVER] = ACTOR_RESTART_NEVER,
        };
        providers_tag_free(r->tag);
        r->tag = providers_tag_new(label, s);
        actor_spawn_opts opts = {
            .limits = {.max_memory_pages = (uint32_t)(s->memory >> 16),
                       .fuel_per_message = s->fuel_per_message,
                       .mailbox_cap = s->mailbox},
            .restart = policy[s->restart],
            .tag = r->tag,
        };
        err = r->tag ? actor_spawn(n->rt, s->module_hash, s->init, s->init_len,
                                   &opts, &r->id, &ei)
                     : shoal_errinfo_set(&ei, SHOAL_ENOMEM, SIZE_MAX,
                                         "out of memory");
    }
    if (err) {
        node_log(n, LOG_ERROR, "apps", label, "cannot start: %s", ei.msg);
        snprintf(r->last_exit, sizeof r->last_exit, "start failed: %s", ei.msg);
        r->id = 0;
        providers_tag_free(r->tag);
        r->tag = NULL;
        r->state = REP_FAILED;
        r->failures++;
        uint32_t shift = r->failures < 7 ? r->failures - 1 : 6;
        int64_t delay = (int64_t)RETRY_INITIAL_MS << shift;
        r->retry_ms =
            r->started_ms + (delay < RETRY_MAX_MS ? delay : RETRY_MAX_MS);
        return;
    }
    r->state = REP_STARTING;
    logbook_attach(n->logs, r->id, g->ring, r->index, label);
    node_log(n, LOG_DEBUG, "apps", label, "started as %016llx",
             (unsigned long long)r->id);
}

static void spawn_index(node *n, node_app *a, group *g, uint32_t index)
{
    if (g->nreps == g->capreps) {
        size_t cap = g->capreps ? g->capreps * 2 : 4;
        replica *nr = realloc(g->reps, cap * sizeof *nr);
        if (nr == NULL)
            return; /* the next tick tries again */
        g->reps = nr;
        g->capreps = cap;
    }
    replica *r = &g->reps[g->nreps++];
    memset(r, 0, sizeof *r);
    r->index = index;
    spawn_into(n, a, g, r);
}

/* Only for a replica whose actor is gone (or never was): its tag goes. */
static void remove_replica(group *g, replica *r)
{
    providers_tag_free(r->tag);
    size_t i = (size_t)(r - g->reps);
    g->reps[i] = g->reps[--g->nreps];
}

/* Stops r. Returns false when r was removed at once (no actor to wait
 * for). */
static bool stop_replica(node *n, group *g, replica *r)
{
    if (r->id == 0 || r->state == REP_FAILED || r->state == REP_EXITED) {
        if (r->id)
            logbook_detach(n->logs, r->id);
        remove_replica(g, r);
        return false;
    }
    r->state = REP_STOPPING;
    actor_kill(n->rt, r->id); /* ENOTFOUND: its exit is on its way */
    return true;
}

/* ---- the cluster's view of an application ---- */

/* Whether member v knows app at the version this node has: only then do
 * its replicas' "current" flags mean what ours do. */
static bool member_in_sync(const member_view *v, const node_app *a)
{
    for (size_t i = 0; i < v->napps; i++)
        if (strcmp(v->apps[i].name, a->name) == 0)
            return v->apps[i].version == a->version && !v->apps[i].deleted &&
                   strcmp(v->apps[i].origin, a->origin) == 0;
    return false;
}

/* Whether member number m runs replica index of a/g, current. */
static bool member_runs(node *n, size_t m, const node_app *a, const group *g,
                        uint32_t index)
{
    const member_view *v = cluster_member(n, m);
    if (v == NULL || !cluster_member_live(v) || !member_in_sync(v, a))
        return false;
    for (size_t i = 0; i < v->nreps; i++) {
        const member_replica *r = &v->reps[i];
        if (r->index == index && r->running && r->current &&
            strcmp(r->app, a->name) == 0 && strcmp(r->actor, g->name) == 0)
            return true;
    }
    return false;
}

/* ---- the reconciler ---- */

/* Makes this node's replicas of g match the placement: the replicas
 * placed here run (a rolling update replaces them one at a time, and an
 * old one stops only when a new one runs in its place); a replica placed
 * elsewhere stops once its new node runs it; replicas past the desired
 * count stop. */
static void reconcile_group(node *n, node_app *a, group *g)
{
    int64_t now = node__now_ms();
    uint32_t desired = desired_of(a, g);
    int32_t *placed = NULL;
    if (desired) {
        placed = malloc(desired * sizeof *placed);
        if (placed == NULL ||
            cluster_place(n, a->name, g->spec, placed) != SHOAL_OK) {
            free(placed);
            return; /* the next tick tries again */
        }
    }
    int32_t self = (int32_t)cluster_self_index(n);
#define PLACED_HERE(i) ((i) < desired && placed[(i)] == self)

    for (size_t i = 0; i < g->nreps; i++) {
        replica *r = &g->reps[i];
        if (r->state == REP_STARTING || r->state == REP_RESTARTING) {
            actor_info info;
            if (actor_info_get(n->rt, r->id, &info) == SHOAL_OK &&
                info.started) {
                r->state = REP_RUNNING;
                r->failures = 0;
            }
        }
    }
    /* Replicas without an actor: retry current ones, drop the others. */
    for (size_t i = 0; i < g->nreps;) {
        replica *r = &g->reps[i];
        bool idle = r->state == REP_FAILED || r->state == REP_EXITED;
        if (idle && (!is_current(g, r) || !PLACED_HERE(r->index))) {
            remove_replica(g, r);
            continue;
        }
        if (r->state == REP_FAILED && now >= r->retry_ms && g->spec) {
            r->restarts++;
            spawn_into(n, a, g, r);
        }
        i++;
    }

    /* A rolling update has one new replica starting at a time. */
    bool rolling = false;
    for (size_t i = 0; i < g->nreps; i++) {
        const replica *r = &g->reps[i];
        if (!is_current(g, r) || r->state == REP_RUNNING ||
            r->state == REP_STOPPING)
            continue;
        for (size_t k = 0; k < g->nreps; k++)
            if (g->reps[k].index == r->index && !is_current(g, &g->reps[k]) &&
                g->reps[k].state != REP_STOPPING)
                rolling = true;
    }
    for (uint32_t index = 0; index < desired; index++) {
        if (!PLACED_HERE(index))
            continue;
        replica *cur = NULL;
        bool old = false;
        for (size_t i = 0; i < g->nreps; i++) {
            replica *r = &g->reps[i];
            if (r->index != index || r->state == REP_STOPPING)
                continue;
            if (is_current(g, r))
                cur = r;
            else
                old = true;
        }
        if (cur == NULL) {
            if (old && rolling)
                continue;
            rolling |= old;
            spawn_index(n, a, g, index);
        } else if (cur->state == REP_RUNNING && old) {
            for (size_t i = 0; i < g->nreps;) {
                replica *r = &g->reps[i];
                if (r->index == index && !is_current(g, r) &&
                    r->state != REP_STOPPING && !stop_replica(n, g, r))
                    continue; /* removed: i is the next one now */
                i++;
            }
        }
    }
    /* Replicas that are not wanted here. */
    for (size_t i = 0; i < g->nreps;) {
        replica *r = &g->reps[i];
        bool stop = false;
        if (r->state != REP_STOPPING && !PLACED_HERE(r->index)) {
            if (r->index >= desired || placed[r->index] < 0)
                stop = true;
            else /* moved: it stops once its new node runs it */
                stop = member_runs(n, (size_t)placed[r->index], a, g, r->index);
        }
        if (stop && !stop_replica(n, g, r))
            continue;
        i++;
    }
#undef PLACED_HERE
    free(placed);
}

static void free_group(node *n, node_app *a, group *g)
{
    for (size_t i = 0; i < g->nreps; i++) {
        if (g->reps[i].id)
            logbook_detach(n->logs, g->reps[i].id);
        providers_tag_free(
            g->reps[i].tag); /* the runtime is gone when groups go */
    }
    /* The ring stays while another group of the same name uses it. */
    if (find_group(a, g->name) == NULL)
        logbook_drop_ring(n->logs, a->name, g->name);
    free(g->reps);
    free(g);
}

static void free_app(node *n, node_app *a)
{
    /* Out of the array first: free_group looks for other groups. */
    size_t count = a->ngroups;
    a->ngroups = 0;
    for (size_t i = 0; i < count; i++)
        free_group(n, a, a->groups[i]);
    free(a->groups);
    manifest_free(a->spec);
    free(a->spec_bytes);
    free(a->manifest);
    free(a->file);
    free(a->name);
    free(a);
}

static void unlink_app(node *n, node_app *a)
{
    for (node_app **p = &n->apps; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            return;
        }
}

static void reconcile_app(node *n, node_app *a)
{
    for (size_t i = 0; i < a->ngroups;) {
        group *g = a->groups[i];
        reconcile_group(n, a, g);
        if (g->spec == NULL && g->nreps == 0) {
            a->groups[i] = a->groups[--a->ngroups];
            free_group(n, a, g);
            continue;
        }
        i++;
    }
    if (a->deleting && a->ngroups == 0) {
        node_log(n, LOG_INFO, "apps", NULL, "application %s deleted", a->name);
        unlink_app(n, a);
        free_app(n, a);
    }
}

/* ---- the directory: actors by name, for lookups ---- */

static bool remote_matches(const member_replica *x, const char *app,
                           const char *actor);

typedef struct dir_entry {
    char app[64], actor[64];
    actor_id *ids;
    uint32_t nids;
} dir_entry;

static void dir_free(dir_entry *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].ids);
    free(d);
}

static void dir_add(dir_entry *e, actor_id id, uint32_t cap)
{
    if (e->ids && e->nids < cap)
        e->ids[e->nids++] = id;
}

/* Rebuilds the directory from this node's replicas and the alive
 * members' reports. */
static void dir_rebuild(node *n)
{
    size_t count = 0;
    for (node_app *a = n->apps; a; a = a->next)
        count += a->deleting ? 0 : a->ngroups;
    dir_entry *d = calloc(count ? count : 1, sizeof *d);
    if (d == NULL)
        return; /* the old one stays until the next try */
    size_t members = cluster_count(n), k = 0;
    for (node_app *a = n->apps; a; a = a->next) {
        if (a->deleting)
            continue;
        for (size_t i = 0; i < a->ngroups; i++) {
            const group *g = a->groups[i];
            dir_entry *e = &d[k++];
            snprintf(e->app, sizeof e->app, "%s", a->name);
            snprintf(e->actor, sizeof e->actor, "%s", g->name);
            uint32_t cap = (uint32_t)g->nreps;
            for (size_t m = 0; m < members; m++) {
                const member_view *v = cluster_member(n, m);
                if (!v->self && cluster_member_alive(v))
                    cap += (uint32_t)v->nreps;
            }
            e->ids = calloc(cap ? cap : 1, sizeof *e->ids);
            for (size_t r = 0; r < g->nreps; r++)
                if (g->reps[r].state == REP_RUNNING)
                    dir_add(e, g->reps[r].id, cap);
            for (size_t m = 0; m < members; m++) {
                const member_view *v = cluster_member(n, m);
                if (v->self || !cluster_member_alive(v))
                    continue;
                for (size_t r = 0; r < v->nreps; r++)
                    if (v->reps[r].running && v->reps[r].id &&
                        remote_matches(&v->reps[r], a->name, g->name))
                        dir_add(e, v->reps[r].id, cap);
            }
        }
    }
    pthread_rwlock_wrlock(&n->dir_lock);
    dir_entry *old = n->dir;
    size_t nold = n->ndir;
    n->dir = d;
    n->ndir = k;
    pthread_rwlock_unlock(&n->dir_lock);
    dir_free(old, nold);
}

shoal_err apps_directory_lookup(node *n, const char *app, size_t app_len,
                                const char *actor, size_t actor_len,
                                actor_id *out)
{
    shoal_err err = SHOAL_ENOTFOUND;
    pthread_rwlock_rdlock(&n->dir_lock);
    for (size_t i = 0; i < n->ndir; i++) {
        const dir_entry *e = &n->dir[i];
        if (strlen(e->app) == app_len && memcmp(e->app, app, app_len) == 0 &&
            strlen(e->actor) == actor_len &&
            memcmp(e->actor, actor, actor_len) == 0 && e->nids) {
            unsigned rr = __atomic_fetch_add(&n->dir_rr, 1, __ATOMIC_RELAXED);
            *out = e->ids[rr % e->nids];
            err = SHOAL_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&n->dir_lock);
    return err;
}

void apps_reconcile(node *n)
{
    node_app *a = n->apps;
    while (a) {
        node_app *next = a->next;
        reconcile_app(n, a);
        a = next;
    }
    cluster_touch(n);
    dir_rebuild(n);
}

/* ---- exits ---- */

typedef struct exit_event {
    node_event ev;
    actor_id id;
    actor_exit why;
} exit_event;

static bool find_replica(node *n, actor_id id, node_app **pa, group **pg,
                         replica **pr)
{
    for (node_app *a = n->apps; a; a = a->next)
        for (size_t i = 0; i < a->ngroups; i++) {
            group *g = a->groups[i];
            for (size_t k = 0; k < g->nreps; k++)
                if (g->reps[k].id == id) {
                    *pa = a;
                    *pg = g;
                    *pr = &g->reps[k];
                    return true;
                }
        }
    return false;
}

static void on_exit_event(node *n, node_event *ev)
{
    exit_event *e = (exit_event *)ev;
    node_app *a;
    group *g;
    replica *r;
    if (!n->stopping && find_replica(n, e->id, &a, &g, &r)) {
        char reason[96], label[160];
        actor_exit_reason(&e->why, reason, sizeof reason);
        replica_label(a, g, r->index, label, sizeof label);
        if (r->state == REP_STOPPING) {
            logbook_detach(n->logs, r->id);
            remove_replica(g, r);
            node_log(n, LOG_DEBUG, "apps", label, "stopped");
        } else {
            bool failure = e->why.kind != ACTOR_EXIT_NORMAL;
            snprintf(r->last_exit, sizeof r->last_exit, "%s", reason);
            if (e->why.will_restart) {
                r->state = REP_RESTARTING;
                r->restarts++;
                node_log(n, LOG_WARN, "apps", label, "exited (%s); restarting",
                         reason);
            } else {
                logbook_detach(n->logs, r->id);
                r->id = 0;
                providers_tag_free(r->tag);
                r->tag = NULL;
                manifest_restart pol =
                    g->spec ? g->spec->restart : MANIFEST_RESTART_NEVER;
                bool retry = pol == MANIFEST_RESTART_ALWAYS ||
                             (pol == MANIFEST_RESTART_ON_FAILURE && failure);
                if (retry) {
                    r->state = REP_FAILED;
                    r->failures++;
                    uint32_t shift = r->failures < 7 ? r->failures - 1 : 6;
                    int64_t delay = (int64_t)RETRY_INITIAL_MS << shift;
                    if (delay > RETRY_MAX_MS)
                        delay = RETRY_MAX_MS;
                    r->retry_ms = node__now_ms() + delay;
                    node_log(n, LOG_WARN, "apps", label,
                             "exited (%s) past its restart limit; "
                             "starting it again in %lld ms",
                             reason, (long long)delay);
                } else {
                    r->state = REP_EXITED;
                    node_log(n, failure ? LOG_WARN : LOG_INFO, "apps", label,
                             "exited (%s)", reason);
                }
            }
        }
        reconcile_app(n, a);
        cluster_touch(n);
    }
    free(e);
}

void apps_on_exit(void *node_ctx, actor_id id, const actor_exit *why)
{
    node *n = node_ctx;
    exit_event *e = malloc(sizeof *e);
    if (e == NULL)
        return; /* the replica is then found stale by its next check */
    e->ev.run = on_exit_event;
    e->id = id;
    e->why = *why;
    node__post(n, &e->ev);
}

/* ---- desired state ---- */

static group *add_group(node *n, node_app *a, manifest_actor *spec,
                        int64_t version)
{
    if (a->ngroups == a->capgroups) {
        size_t cap = a->capgroups ? a->capgroups * 2 : 4;
        group **ng = realloc(a->groups, cap * sizeof *ng);
        if (ng == NULL)
            return NULL;
        a->groups = ng;
        a->capgroups = cap;
    }
    group *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    snprintf(g->name, sizeof g->name, "%s", spec->name);
    g->spec = spec;
    g->template_version = version;
    g->ring = logbook_ring(n->logs, a->name, spec->name);
    a->groups[a->ngroups++] = g;
    return g;
}

/* A new app in memory (not yet in the store); takes spec and bytes. */
static node_app *new_app(node *n, manifest_app *spec, uint8_t *bytes,
                         size_t len, int64_t version, const char *origin,
                         const char *text, const char *file, int64_t updated_ms)
{
    node_app *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    snprintf(a->origin, sizeof a->origin, "%s", origin);
    a->name = strdup(spec->name);
    a->manifest = strdup(text);
    a->file = strdup(file);
    a->spec = spec;
    a->spec_bytes = bytes;
    a->spec_len = len;
    a->version = version;
    a->updated_ms = updated_ms;
    bool ok = a->name && a->manifest && a->file;
    for (size_t i = 0; ok && i < spec->nactors; i++)
        ok = add_group(n, a, &spec->actors[i], version) != NULL;
    if (!ok) {
        free_app(n, a);
        return NULL;
    }
    a->next = n->apps;
    n->apps = a;
    return a;
}

shoal_err apps_recover(node *n, shoal_errinfo *ei)
{
    store_app *stored;
    size_t count;
    shoal_err err = store_app_list(n->store, &stored, &count);
    if (err)
        return shoal_errinfo_set(ei, err, SIZE_MAX, "reading applications: %s",
                                 shoal_strerror(err));
    size_t actors = 0;
    size_t live = 0;
    for (size_t i = 0; i < count; i++) {
        store_app *s = &stored[i];
        if (s->deleted) {
            if (!set_tomb(n, s->name, s->version, s->origin, s->updated_ms)) {
                store_app_list_free(stored, count);
                return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                         "out of memory");
            }
            continue;
        }
        live++;
        manifest_app *spec;
        shoal_errinfo dei = {0};
        err = manifest_decode(s->spec, s->spec_len, &spec, &dei);
        if (err) {
            node_log(n, LOG_ERROR, "apps", NULL,
                     "application %s: stored spec unreadable (%s); skipped",
                     s->name, dei.msg);
            continue;
        }
        node_app *a = new_app(n, spec, s->spec, s->spec_len, s->version,
                              s->origin, s->manifest, s->file, s->updated_ms);
        if (a == NULL) {
            manifest_free(spec);
            store_app_list_free(stored, count);
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory");
        }
        s->spec = NULL; /* the app has it */
        shoal_errinfo rei = {0};
        if (providers_sync_routes(n, a->name, spec, &rei) != SHOAL_OK)
            node_log(n, LOG_ERROR, "apps", NULL,
                     "application %s: its HTTP routes are not served: %s",
                     a->name, rei.msg);
        for (size_t k = 0; k < spec->nactors; k++)
            actors += spec->actors[k].replicas;
    }
    store_app_list_free(stored, count);
    if (live)
        node_log(n, LOG_INFO, "apps", NULL,
                 "recovered %zu applications (%zu replicas desired)", live,
                 actors);
    return SHOAL_OK;
}

void apps_free(node *n)
{
    while (n->apps) {
        node_app *a = n->apps;
        n->apps = a->next;
        free_app(n, a);
    }
    dir_free(n->dir, n->ndir);
    n->dir = NULL;
    n->ndir = 0;
    free(n->tombs);
    n->tombs = NULL;
    n->ntombs = n->captombs = 0;
    for (size_t i = 0; i < n->nloaded; i++)
        free(n->loaded_modules[i]);
    free(n->loaded_modules);
    n->loaded_modules = NULL;
    n->nloaded = n->caploaded = 0;
}

static const char *ACTION_CREATED = "created", *ACTION_UPDATED = "updated",
                  *ACTION_SCALED = "scaled", *ACTION_UNCHANGED = "unchanged",
                  *ACTION_REMOVED = "removed";

static shoal_err result_alloc(apply_result *res, size_t n)
{
    res->names = calloc(n ? n : 1, sizeof *res->names);
    res->actions = calloc(n ? n : 1, sizeof *res->actions);
    res->n = 0;
    if (!res->names || !res->actions) {
        apply_result_free(res);
        return SHOAL_ENOMEM;
    }
    return SHOAL_OK;
}

static void result_add(apply_result *res, const char *name, const char *action)
{
    snprintf(res->names[res->n], sizeof res->names[0], "%s", name);
    res->actions[res->n++] = action;
}

void apply_result_free(apply_result *res)
{
    free(res->names);
    free(res->actions);
    memset(res, 0, sizeof *res);
}

/* Makes spec (taken) the application's version `version` from origin,
 * unless it is what runs already. With strict_routes an HTTP route that
 * cannot be served fails it; otherwise (a version made elsewhere) it is
 * logged and the rest goes on. */
static shoal_err install(node *n, manifest_app *spec, const char *text,
                         const char *file, int64_t version, const char *origin,
                         int64_t updated_ms, bool strict_routes,
                         apply_result *res, shoal_errinfo *ei)
{
    memset(res, 0, sizeof *res);
    snprintf(res->app, sizeof res->app, "%s", spec->name);
    node_app *a = find_app(n, spec->name);
    if (a && a->deleting) {
        manifest_free(spec);
        return shoal_errinfo_set(ei, SHOAL_ESTATE, SIZE_MAX,
                                 "application %s is being deleted; apply "
                                 "again when it is gone",
                                 a->name);
    }
    uint8_t *bytes;
    size_t len;
    shoal_err err = manifest_encode(spec, &bytes, &len);
    if (err) {
        manifest_free(spec);
        return shoal_errinfo_set(ei, err, SIZE_MAX, "encoding the spec: %s",
                                 shoal_strerror(err));
    }
    size_t slots = spec->nactors + (a ? a->ngroups : 0);
    if (result_alloc(res, slots) != SHOAL_OK) {
        free(bytes);
        manifest_free(spec);
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    }
    if (strict_routes && a && a->spec_len == len &&
        memcmp(a->spec_bytes, bytes, len) == 0) {
        res->version = a->version;
        res->changed = false;
        for (size_t i = 0; i < spec->nactors; i++)
            result_add(res, spec->actors[i].name, ACTION_UNCHANGED);
        free(bytes);
        manifest_free(spec);
        return SHOAL_OK;
    }
    int64_t now = updated_ms;
    shoal_errinfo rei = {0};
    err = providers_sync_routes(n, spec->name, spec, &rei);
    if (err && strict_routes) {
        if (ei)
            *ei = rei;
        free(bytes);
        manifest_free(spec);
        apply_result_free(res);
        return err;
    }
    if (err)
        node_log(n, LOG_ERROR, "apps", NULL,
                 "application %s: its HTTP routes are not served here: %s",
                 spec->name, rei.msg);
    store_app row = {.name = spec->name,
                     .version = version,
                     .manifest = (char *)text,
                     .file = (char *)file,
                     .spec = bytes,
                     .spec_len = len,
                     .updated_ms = now,
                     .origin = (char *)origin};
    err = store_app_put(n->store, &row);
    if (err) {
        providers_sync_routes(n, spec->name, a ? a->spec : NULL, NULL);
        free(bytes);
        manifest_free(spec);
        apply_result_free(res);
        return shoal_errinfo_set(ei, err, SIZE_MAX,
                                 "saving the application: %s",
                                 shoal_strerror(err));
    }
    res->version = version;
    res->changed = true;
    drop_tomb(n, spec->name);
    if (a == NULL) {
        a = new_app(n, spec, bytes, len, version, origin, text, file, now);
        if (a == NULL) {
            free(bytes);
            manifest_free(spec);
            apply_result_free(res);
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory");
        }
        for (size_t i = 0; i < spec->nactors; i++)
            result_add(res, spec->actors[i].name, ACTION_CREATED);
        node_log(n, LOG_INFO, "apps", NULL, "application %s created (v%lld)",
                 a->name, (long long)version);
        reconcile_app(n, a);
        return SHOAL_OK;
    }

    char *ntext = strdup(text), *nfile = strdup(file);
    if (!ntext || !nfile) {
        free(ntext);
        free(nfile);
        free(bytes);
        manifest_free(spec);
        apply_result_free(res);
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    }
    /* Groups take their actor of the new spec, or stop when it has none;
     * actors new to the app get a group. The old spec is compared against
     * before it goes. */
    for (size_t i = 0; i < a->ngroups; i++) {
        group *g = a->groups[i];
        if (g->spec == NULL)
            continue;
        manifest_actor *na = manifest_find_actor(spec, g->name);
        if (na == NULL) {
            g->spec = NULL;
            result_add(res, g->name, ACTION_REMOVED);
            continue;
        }
        const char *action = ACTION_UNCHANGED;
        if (!manifest_actor_same_template(g->spec, na)) {
            g->template_version = version;
            action = ACTION_UPDATED;
        } else if (g->spec->replicas != na->replicas) {
            action = ACTION_SCALED;
        }
        g->spec = na;
        result_add(res, g->name, action);
    }
    for (size_t i = 0; i < spec->nactors; i++) {
        manifest_actor *na = &spec->actors[i];
        if (find_group(a, na->name))
            continue;
        if (add_group(n, a, na, version) == NULL)
            node_log(n, LOG_ERROR, "apps", NULL,
                     "out of memory adding actor %s to %s", na->name, a->name);
        result_add(res, na->name, ACTION_CREATED);
    }
    manifest_free(a->spec);
    free(a->spec_bytes);
    free(a->manifest);
    free(a->file);
    a->spec = spec;
    a->spec_bytes = bytes;
    a->spec_len = len;
    a->manifest = ntext;
    a->file = nfile;
    a->version = version;
    snprintf(a->origin, sizeof a->origin, "%s", origin);
    a->updated_ms = now;
    node_log(n, LOG_INFO, "apps", NULL, "application %s updated to v%lld",
             a->name, (long long)version);
    reconcile_app(n, a);
    return SHOAL_OK;
}

shoal_err apps_apply(node *n, manifest_app *spec, const char *text,
                     const char *file, apply_result *res, shoal_errinfo *ei)
{
    node_app *a = find_app(n, spec->name);
    app_tomb *t = find_tomb(n, spec->name);
    int64_t version = a ? a->version + 1 : t ? t->version + 1 : 1;
    char name[64];
    snprintf(name, sizeof name, "%s", spec->name);
    shoal_err err =
        install(n, spec, text, file, version, store_node_name(n->store),
                node__now_ms(), true, res, ei);
    if (err == SHOAL_OK && res->changed)
        cluster_app_changed(n, name);
    return err;
}

shoal_err apps_scale(node *n, const char *name, const char *actor,
                     uint32_t replicas, int64_t *version, shoal_errinfo *ei)
{
    node_app *a = find_app(n, name);
    if (a == NULL || a->deleting)
        return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                 "no application named \"%s\"", name);
    group *g = find_group(a, actor);
    if (g == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                 "application %s has no actor named \"%s\"",
                                 name, actor);
    if (g->spec->replicas == replicas) {
        *version = a->version;
        return SHOAL_OK;
    }
    uint32_t before = g->spec->replicas;
    g->spec->replicas = replicas;
    uint8_t *bytes;
    size_t len;
    shoal_err err = manifest_encode(a->spec, &bytes, &len);
    if (err) {
        g->spec->replicas = before;
        return shoal_errinfo_set(ei, err, SIZE_MAX, "encoding the spec: %s",
                                 shoal_strerror(err));
    }
    int64_t now = node__now_ms();
    store_app row = {.name = a->name,
                     .version = a->version + 1,
                     .manifest = a->manifest,
                     .file = a->file,
                     .spec = bytes,
                     .spec_len = len,
                     .updated_ms = now,
                     .origin = (char *)store_node_name(n->store)};
    err = store_app_put(n->store, &row);
    if (err) {
        g->spec->replicas = before;
        free(bytes);
        return shoal_errinfo_set(ei, err, SIZE_MAX,
                                 "saving the application: %s",
                                 shoal_strerror(err));
    }
    free(a->spec_bytes);
    a->spec_bytes = bytes;
    a->spec_len = len;
    a->version++;
    snprintf(a->origin, sizeof a->origin, "%s", store_node_name(n->store));
    a->updated_ms = now;
    *version = a->version;
    node_log(n, LOG_INFO, "apps", NULL, "%s/%s scaled from %u to %u (v%lld)",
             a->name, actor, before, replicas, (long long)a->version);
    reconcile_app(n, a);
    cluster_app_changed(n, name);
    return SHOAL_OK;
}

static bool module_referenced(void *ctx, const char *hash)
{
    node *n = ctx;
    for (node_app *a = n->apps; a; a = a->next)
        for (size_t i = 0; a->spec && i < a->spec->nactors; i++)
            if (strcmp(a->spec->actors[i].module_hash, hash) == 0)
                return true;
    return false;
}

/* Modules stored more than this long ago and used by no application are
 * deleted after an application is deleted. */
#define MODULE_GC_GRACE_MS (10 * 60 * 1000)

/* Deletes application a as version `version` from origin: a tombstone
 * in the store and in memory, then its replicas stop. */
static shoal_err remove_app(node *n, node_app *a, int64_t version,
                            const char *origin, int64_t updated_ms,
                            shoal_errinfo *ei)
{
    char name[64];
    snprintf(name, sizeof name, "%s", a->name);
    store_app row = {.name = name,
                     .version = version,
                     .manifest = "",
                     .file = "",
                     .spec = (uint8_t *)"",
                     .spec_len = 0,
                     .updated_ms = updated_ms,
                     .origin = (char *)origin,
                     .deleted = true};
    shoal_err err = store_app_put(n->store, &row);
    if (err)
        return shoal_errinfo_set(ei, err, SIZE_MAX,
                                 "deleting the application: %s",
                                 shoal_strerror(err));
    if (!set_tomb(n, name, version, origin, updated_ms))
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    a->deleting = true;
    providers_sync_routes(n, name, NULL, NULL);
    node_log(n, LOG_INFO, "apps", NULL, "deleting application %s (v%lld)", name,
             (long long)version);
    unsigned gone = 0;
    manifest_free(a->spec);
    a->spec = NULL;
    for (size_t i = 0; i < a->ngroups; i++)
        a->groups[i]->spec = NULL;
    store_module_gc(n->store, MODULE_GC_GRACE_MS, module_referenced, n, &gone);
    if (gone)
        node_log(n, LOG_INFO, "store", NULL, "%u unused modules deleted", gone);
    reconcile_app(n, a);
    return SHOAL_OK;
}

shoal_err apps_delete(node *n, const char *name, shoal_errinfo *ei)
{
    node_app *a = find_app(n, name);
    if (a == NULL || a->deleting)
        return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                 "no application named \"%s\"", name);
    char copy[64];
    snprintf(copy, sizeof copy, "%s", name);
    shoal_err err = remove_app(n, a, a->version + 1, store_node_name(n->store),
                               node__now_ms(), ei);
    if (err == SHOAL_OK)
        cluster_app_changed(n, copy);
    return err;
}

/* ---- records for the cluster ---- */

static int stamp_cmp(int64_t v1, const char *o1, int64_t v2, const char *o2)
{
    if (v1 != v2)
        return v1 < v2 ? -1 : 1;
    return strcmp(o1, o2);
}

/* This node's stamp of name; false when it has none. */
static bool local_stamp(node *n, const char *name, int64_t *version,
                        const char **origin)
{
    app_tomb *t = find_tomb(n, name);
    if (t) {
        *version = t->version;
        *origin = t->origin;
        return true;
    }
    node_app *a = find_app(n, name);
    if (a && !a->deleting) {
        *version = a->version;
        *origin = a->origin;
        return true;
    }
    return false;
}

bool apps_is_newer(node *n, const char *name, int64_t version,
                   const char *origin)
{
    int64_t v;
    const char *o;
    return !local_stamp(n, name, &v, &o) ||
           stamp_cmp(version, origin, v, o) > 0;
}

static void tomb_record(const app_tomb *t, app_record *r)
{
    *r = (app_record){.name = t->name,
                      .version = t->version,
                      .origin = t->origin,
                      .deleted = true,
                      .updated_ms = t->updated_ms,
                      .manifest = "",
                      .file = "",
                      .spec = (const uint8_t *)"",
                      .spec_len = 0};
}

static void app_record_of(const node_app *a, app_record *r)
{
    *r = (app_record){.name = a->name,
                      .version = a->version,
                      .origin = a->origin,
                      .updated_ms = a->updated_ms,
                      .manifest = a->manifest,
                      .file = a->file,
                      .spec = a->spec_bytes,
                      .spec_len = a->spec_len};
}

shoal_err apps_record(node *n, const char *name, app_record *r)
{
    app_tomb *t = find_tomb(n, name);
    if (t) {
        tomb_record(t, r);
        return SHOAL_OK;
    }
    node_app *a = find_app(n, name);
    if (a == NULL || a->deleting)
        return SHOAL_ENOTFOUND;
    app_record_of(a, r);
    return SHOAL_OK;
}

void apps_for_each_record(node *n, void (*fn)(void *ctx, const app_record *r),
                          void *ctx)
{
    app_record r;
    for (size_t i = 0; i < n->ntombs; i++) {
        tomb_record(&n->tombs[i], &r);
        fn(ctx, &r);
    }
    for (node_app *a = n->apps; a; a = a->next)
        if (!a->deleting) {
            app_record_of(a, &r);
            fn(ctx, &r);
        }
}

shoal_err apps_accept(node *n, const app_record *r, char missing[65],
                      shoal_errinfo *ei)
{
    missing[0] = 0;
    if (!apps_is_newer(n, r->name, r->version, r->origin))
        return SHOAL_OK;
    node_app *a = find_app(n, r->name);
    if (r->deleted) {
        if (a && !a->deleting)
            return remove_app(n, a, r->version, r->origin, r->updated_ms, ei);
        store_app row = {.name = (char *)r->name,
                         .version = r->version,
                         .manifest = "",
                         .file = "",
                         .spec = (uint8_t *)"",
                         .spec_len = 0,
                         .updated_ms = r->updated_ms,
                         .origin = (char *)r->origin,
                         .deleted = true};
        shoal_err err = store_app_put(n->store, &row);
        if (err)
            return shoal_errinfo_set(ei, err, SIZE_MAX,
                                     "saving the tombstone: %s",
                                     shoal_strerror(err));
        if (!set_tomb(n, r->name, r->version, r->origin, r->updated_ms))
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory");
        return SHOAL_OK;
    }
    if (a && a->deleting) /* offered again once its replicas are gone */
        return shoal_errinfo_set(ei, SHOAL_ESTATE, SIZE_MAX,
                                 "still deleting the previous version");
    manifest_app *spec;
    shoal_err err = manifest_decode(r->spec, r->spec_len, &spec, ei);
    if (err)
        return err;
    if (strcmp(spec->name, r->name) != 0) {
        manifest_free(spec);
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, SIZE_MAX,
                                 "the spec is of application %s", spec->name);
    }
    for (size_t i = 0; i < spec->nactors; i++)
        if (!store_module_has(n->store, spec->actors[i].module_hash)) {
            snprintf(missing, 65, "%s", spec->actors[i].module_hash);
            manifest_free(spec);
            return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                     "module %.12s is not here yet", missing);
        }
    apply_result res;
    err = install(n, spec, r->manifest, r->file, r->version, r->origin,
                  r->updated_ms, false, &res, ei);
    if (err == SHOAL_OK)
        apply_result_free(&res);
    return err;
}

uint64_t apps_fuel_used(node *n)
{
    uint64_t sum = 0;
    for (node_app *a = n->apps; a; a = a->next)
        for (size_t i = 0; i < a->ngroups; i++)
            for (size_t k = 0; k < a->groups[i]->nreps; k++) {
                actor_info info;
                const replica *r = &a->groups[i]->reps[k];
                if (r->id && actor_info_get(n->rt, r->id, &info) == SHOAL_OK)
                    sum += info.fuel_used;
            }
    return sum;
}

void apps_pack_meta(node *n, msgpack_packer *pk)
{
    uint32_t count = (uint32_t)n->ntombs, reps = 0;
    for (node_app *a = n->apps; a; a = a->next) {
        count += !a->deleting;
        for (size_t i = 0; i < a->ngroups; i++)
            reps += (uint32_t)a->groups[i]->nreps;
    }
    api_pack_str(pk, "apps");
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < n->ntombs; i++) {
        msgpack_pack_array(pk, 4);
        api_pack_str(pk, n->tombs[i].name);
        msgpack_pack_int64(pk, n->tombs[i].version);
        api_pack_str(pk, n->tombs[i].origin);
        msgpack_pack_true(pk);
    }
    for (node_app *a = n->apps; a; a = a->next) {
        if (a->deleting)
            continue;
        msgpack_pack_array(pk, 4);
        api_pack_str(pk, a->name);
        msgpack_pack_int64(pk, a->version);
        api_pack_str(pk, a->origin);
        msgpack_pack_false(pk);
    }
    api_pack_str(pk, "replicas");
    msgpack_pack_array(pk, reps);
    for (node_app *a = n->apps; a; a = a->next)
        for (size_t i = 0; i < a->ngroups; i++) {
            const group *g = a->groups[i];
            for (size_t k = 0; k < g->nreps; k++) {
                const replica *r = &g->reps[k];
                msgpack_pack_array(pk, 7);
                api_pack_str(pk, a->name);
                api_pack_str(pk, g->name);
                msgpack_pack_uint32(pk, r->index);
                msgpack_pack_uint64(pk, r->id);
                msgpack_pack_int64(pk, r->version);
                api_pack_str(pk, state_names[r->state]);
                if (is_current(g, r) && !a->deleting)
                    msgpack_pack_true(pk);
                else
                    msgpack_pack_false(pk);
            }
        }
}

/* ---- reading the state ---- */

/* Whether g's rollout is complete across the cluster: each of its
 * desired replicas runs, current, on some node, and nothing else of it
 * runs anywhere. *ready counts the replicas that run. Members that do not
 * have this node's version of the app yet make it incomplete. */
static bool group_complete(node *n, const node_app *a, const group *g,
                           uint32_t *ready)
{
    uint32_t desired = desired_of(a, g), others = 0;
    uint8_t *seen = calloc(desired ? desired : 1, 1);
    *ready = 0;
    if (seen == NULL)
        return false;
    for (size_t i = 0; i < g->nreps; i++) {
        const replica *x = &g->reps[i];
        if (is_current(g, x) && x->state == REP_RUNNING && x->index < desired &&
            !seen[x->index])
            seen[x->index] = 1;
        else
            others++;
    }
    bool in_sync = true;
    size_t count = cluster_count(n);
    for (size_t m = 0; m < count; m++) {
        const member_view *v = cluster_member(n, m);
        if (v->self || !cluster_member_live(v))
            continue;
        if (!member_in_sync(v, a)) {
            in_sync = false;
            continue;
        }
        for (size_t i = 0; i < v->nreps; i++) {
            const member_replica *x = &v->reps[i];
            if (strcmp(x->app, a->name) != 0 || strcmp(x->actor, g->name) != 0)
                continue;
            if (x->current && x->running && x->index < desired &&
                !seen[x->index])
                seen[x->index] = 1;
            else
                others++;
        }
    }
    for (uint32_t i = 0; i < desired; i++)
        *ready += seen[i];
    free(seen);
    return in_sync && *ready == desired && others == 0;
}

static const char *rollout_of(node *n, const node_app *a, uint32_t *desired,
                              uint32_t *ready)
{
    bool complete = true;
    *desired = *ready = 0;
    for (size_t i = 0; i < a->ngroups; i++) {
        uint32_t r;
        complete &= group_complete(n, a, a->groups[i], &r);
        *desired += desired_of(a, a->groups[i]);
        *ready += r;
    }
    return complete ? "complete" : "progressing";
}

void apps_pack_list(node *n, msgpack_packer *pk)
{
    uint32_t count = 0;
    for (node_app *a = n->apps; a; a = a->next)
        count += !a->deleting;
    api_pack_str(pk, "apps");
    msgpack_pack_array(pk, count);
    for (node_app *a = n->apps; a; a = a->next) {
        if (a->deleting)
            continue;
        uint32_t desired, ready;
        const char *rollout = rollout_of(n, a, &desired, &ready);
        msgpack_pack_map(pk, 6);
        api_pack_kv_str(pk, "name", a->name);
        api_pack_kv_int(pk, "version", a->version);
        api_pack_kv_int(pk, "desired", desired);
        api_pack_kv_int(pk, "ready", ready);
        api_pack_kv_int(pk, "updated_ms", a->updated_ms);
        api_pack_kv_str(pk, "rollout", rollout);
    }
}

static const char *const restart_names[] = {
    [MANIFEST_RESTART_ALWAYS] = "always",
    [MANIFEST_RESTART_ON_FAILURE] = "on-failure",
    [MANIFEST_RESTART_NEVER] = "never",
};

/* A group's entry of app.get; extra more fields follow (the caller packs
 * them). */
static void pack_group(node *n, const node_app *a, const group *g,
                       msgpack_packer *pk, uint32_t extra)
{
    const manifest_actor *s = g->spec;
    uint32_t ready, restarts = 0;
    group_complete(n, a, g, &ready);
    for (size_t i = 0; i < g->nreps; i++)
        restarts += g->reps[i].restarts;
    msgpack_pack_map(pk, 8 + extra);
    api_pack_kv_str(pk, "name", g->name);
    api_pack_kv_str(pk, "module", s->module_hash);
    api_pack_kv_int(pk, "replicas", s->replicas);
    api_pack_kv_int(pk, "ready", ready);
    api_pack_kv_int(pk, "restarts", restarts);
    api_pack_str(pk, "limits");
    msgpack_pack_map(pk, 3);
    api_pack_kv_int(pk, "memory", (int64_t)s->memory);
    api_pack_kv_int(pk, "fuel_per_message", (int64_t)s->fuel_per_message);
    api_pack_kv_int(pk, "mailbox", s->mailbox);
    api_pack_kv_str(pk, "restart", restart_names[s->restart]);
    api_pack_str(pk, "links");
    msgpack_pack_array(pk, (uint32_t)s->nlinks);
    for (size_t i = 0; i < s->nlinks; i++) {
        msgpack_pack_map(pk, 2);
        api_pack_kv_str(pk, "provider", s->links[i].provider);
        api_pack_str(pk, "config");
        /* The config is a whole msgpack value already. */
        pk->callback(pk->data, (const char *)s->links[i].config,
                     s->links[i].config_len);
    }
}

shoal_err apps_pack_app(node *n, const char *name, msgpack_packer *pk)
{
    node_app *a = find_app(n, name);
    if (a == NULL || a->deleting)
        return SHOAL_ENOTFOUND;
    uint32_t desired, ready, ngroups = 0;
    const char *rollout = rollout_of(n, a, &desired, &ready);
    api_pack_kv_str(pk, "name", a->name);
    api_pack_kv_int(pk, "version", a->version);
    api_pack_kv_int(pk, "updated_ms", a->updated_ms);
    api_pack_kv_str(pk, "rollout", rollout);
    api_pack_kv_int(pk, "desired", desired);
    api_pack_kv_int(pk, "ready", ready);
    api_pack_kv_str(pk, "manifest", a->manifest);
    api_pack_kv_str(pk, "file", a->file);
    for (size_t i = 0; i < a->ngroups; i++)
        ngroups += a->groups[i]->spec != NULL;
    api_pack_str(pk, "actors");
    msgpack_pack_array(pk, ngroups);
    for (size_t i = 0; i < a->ngroups; i++)
        if (a->groups[i]->spec)
            pack_group(n, a, a->groups[i], pk, 0);
    return SHOAL_OK;
}

static void pack_replica(node *n, const node_app *a, const group *g,
                         const replica *r, msgpack_packer *pk, bool detail)
{
    char id[24];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)r->id);
    msgpack_pack_map(pk, detail ? 14 : 10);
    api_pack_kv_str(pk, "app", a->name);
    api_pack_kv_str(pk, "actor", g->name);
    api_pack_kv_int(pk, "replica", r->index);
    api_pack_kv_str(pk, "id", r->id ? id : "");
    api_pack_kv_str(pk, "node", store_node_name(n->store));
    api_pack_kv_str(pk, "state", state_names[r->state]);
    api_pack_kv_int(pk, "version", r->version);
    api_pack_kv_int(pk, "restarts", r->restarts);
    api_pack_kv_int(pk, "started_ms", r->started_ms);
    api_pack_kv_str(pk, "module", r->module);
    if (!detail)
        return;
    actor_info info = {0};
    if (r->id)
        actor_info_get(n->rt, r->id, &info);
    api_pack_kv_int(pk, "mailbox", info.mailbox);
    api_pack_kv_int(pk, "fuel", (int64_t)info.fuel_used);
    api_pack_kv_bool(pk, "current", is_current(g, r));
    api_pack_str(pk, "last_exit");
    if (r->last_exit[0])
        api_pack_str(pk, r->last_exit);
    else
        msgpack_pack_nil(pk);
}

/* A replica another node reports, as pack_replica packs ours. */
static void pack_remote(const member_view *v, const member_replica *x,
                        msgpack_packer *pk, bool detail)
{
    char id[24];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)x->id);
    msgpack_pack_map(pk, detail ? 14 : 10);
    api_pack_kv_str(pk, "app", x->app);
    api_pack_kv_str(pk, "actor", x->actor);
    api_pack_kv_int(pk, "replica", x->index);
    api_pack_kv_str(pk, "id", x->id ? id : "");
    api_pack_kv_str(pk, "node", v->name);
    api_pack_kv_str(pk, "state", x->state);
    api_pack_kv_int(pk, "version", x->version);
    api_pack_kv_int(pk, "restarts", 0);
    api_pack_kv_int(pk, "started_ms", 0);
    api_pack_kv_str(pk, "module", "");
    if (!detail)
        return;
    api_pack_kv_int(pk, "mailbox", 0);
    api_pack_kv_int(pk, "fuel", 0);
    api_pack_kv_bool(pk, "current", x->current);
    api_pack_str(pk, "last_exit");
    msgpack_pack_nil(pk);
}

static bool remote_matches(const member_replica *x, const char *app,
                           const char *actor)
{
    return (!app || strcmp(x->app, app) == 0) &&
           (!actor || strcmp(x->actor, actor) == 0);
}

/* Replicas of app (NULL: any) / actor (NULL: any) on the other live
 * members; with pk, packed too. */
static uint32_t remote_replicas(node *n, const char *app, const char *actor,
                                msgpack_packer *pk, bool detail)
{
    uint32_t count = 0;
    size_t members = cluster_count(n);
    for (size_t m = 0; m < members; m++) {
        const member_view *v = cluster_member(n, m);
        if (v->self || !cluster_member_live(v))
            continue;
        for (size_t i = 0; i < v->nreps; i++)
            if (remote_matches(&v->reps[i], app, actor)) {
                count++;
                if (pk)
                    pack_remote(v, &v->reps[i], pk, detail);
            }
    }
    return count;
}

void apps_pack_actors(node *n, const char *only, msgpack_packer *pk)
{
    uint32_t count = remote_replicas(n, only, NULL, NULL, false);
    for (node_app *a = n->apps; a; a = a->next)
        if (!only || strcmp(a->name, only) == 0)
            for (size_t i = 0; i < a->ngroups; i++)
                count += (uint32_t)a->groups[i]->nreps;
    api_pack_str(pk, "actors");
    msgpack_pack_array(pk, count);
    for (node_app *a = n->apps; a; a = a->next)
        if (!only || strcmp(a->name, only) == 0)
            for (size_t i = 0; i < a->ngroups; i++) {
                const group *g = a->groups[i];
                for (size_t k = 0; k < g->nreps; k++)
                    pack_replica(n, a, g, &g->reps[k], pk, false);
            }
    remote_replicas(n, only, NULL, pk, false);
}

shoal_err apps_pack_actor(node *n, const char *name, const char *actor,
                          msgpack_packer *pk)
{
    node_app *a = find_app(n, name);
    group *g = a && !a->deleting ? find_group(a, actor) : NULL;
    if (g == NULL)
        return SHOAL_ENOTFOUND;
    pack_group(n, a, g, pk, 2);
    api_pack_kv_str(pk, "app", a->name);
    api_pack_str(pk, "instances");
    msgpack_pack_array(pk, (uint32_t)g->nreps +
                               remote_replicas(n, name, actor, NULL, true));
    for (size_t k = 0; k < g->nreps; k++)
        pack_replica(n, a, g, &g->reps[k], pk, true);
    remote_replicas(n, name, actor, pk, true);
    return SHOAL_OK;
}

size_t apps_count_replicas(node *n)
{
    size_t count = 0;
    for (node_app *a = n->apps; a; a = a->next)
        for (size_t i = 0; i < a->ngroups; i++)
            count += a->groups[i]->nreps;
    return count;
}

log_ring *apps_ring(node *n, const char *name, const char *actor)
{
    node_app *a = find_app(n, name);
    group *g = a && !a->deleting ? find_group(a, actor) : NULL;
    return g ? g->ring : NULL;
}

shoal_err apps_pick(node *n, const char *name, const char *actor, actor_id *id,
                    uint32_t *index, shoal_errinfo *ei)
{
    node_app *a = find_app(n, name);
    if (a == NULL || a->deleting)
        return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                 "no application named \"%s\"", name);
    group *g = find_group(a, actor);
    if (g == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                 "application %s has no actor named \"%s\"",
                                 name, actor);
    /* Round robin over the running replicas of the whole cluster: this
     * node's first, then the others' in member order. */
    uint32_t total = 0;
    for (size_t k = 0; k < g->nreps; k++)
        total += g->reps[k].state == REP_RUNNING;
    size_t members = cluster_count(n);
    for (size_t m = 0; m < members; m++) {
        const member_view *v = cluster_member(n, m);
        if (v->self || !cluster_member_alive(v))
            continue;
        for (size_t i = 0; i < v->nreps; i++)
            total += v->reps[i].running && v->reps[i].id &&
                     remote_matches(&v->reps[i], name, actor);
    }
    if (total == 0)
        return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                                 "%s/%s has no running replica", name, actor);
    uint32_t pick = g->rr++ % total;
    for (size_t k = 0; k < g->nreps; k++)
        if (g->reps[k].state == REP_RUNNING && pick-- == 0) {
            *id = g->reps[k].id;
            *index = g->reps[k].index;
            return SHOAL_OK;
        }
    for (size_t m = 0; m < members; m++) {
        const member_view *v = cluster_member(n, m);
        if (v->self || !cluster_member_alive(v))
            continue;
        for (size_t i = 0; i < v->nreps; i++) {
            const member_replica *x = &v->reps[i];
            if (x->running && x->id && remote_matches(x, name, actor) &&
                pick-- == 0) {
                *id = x->id;
                *index = x->index;
                return SHOAL_OK;
            }
        }
    }
    return shoal_errinfo_set(ei, SHOAL_ENOTFOUND, SIZE_MAX,
                             "%s/%s has no running replica", name, actor);
}
