/* shoald's insides, shared by the files of node/: node.c (life cycle, the
 * loop, events from other threads) -> control.c (the NNG control server)
 * -> ops.c (one handler per operation) -> apps.c (desired state and the
 * reconciler) -> logbook.c (structured node logs, per-actor log rings).
 *
 * Threads: everything here runs on the node's libuv loop thread, except
 * where a comment says otherwise. Other threads (NNG's, the runtime's
 * workers) only post events with node__post. */
#ifndef SHOAL_NODE_H
#define SHOAL_NODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "actor.h"
#include "manifest.h"
#include "shoal_api.h"
#include "store.h"

#define SHOAL_VERSION "0.1.0"

typedef struct node node;
typedef struct logbook logbook;
typedef struct log_ring log_ring;
typedef struct control control;
typedef struct control_req control_req;
typedef struct node_app node_app;
typedef struct providers providers;
typedef struct ext_provider ext_provider;
typedef struct cluster cluster;
typedef struct wire wire;
typedef struct wire_peer wire_peer;

/* What the runtime hands back with an actor's lookups and messages to
 * providers (actor_spawn_opts.tag): its links, made at each spawn, freed
 * after its final exit. */
typedef struct tag_link {
    char provider[64];
    uint8_t *config; /* msgpack map */
    size_t config_len;
} tag_link;

typedef struct link_tag {
    char label[160]; /* app/actor/replica */
    bool kv;
    char bucket[256];
    size_t nlinks;
    tag_link *links;
} link_tag;

typedef struct node_options {
    const char *data_dir;
    const char **listen; /* NNG URLs */
    unsigned nlisten;
    /* The cluster (docs/cluster.md). Without cluster_listen the node is a
     * cluster of one. */
    const char *cluster_listen; /* NNG URL of the wire between nodes */
    const char **join;          /* seed nodes' wire URLs */
    unsigned njoin;
    const char **labels; /* "KEY=VALUE" */
    unsigned nlabels;
    uint32_t capacity;     /* placement weight; 0: the worker count */
    const char *http_bind; /* host the http-server binds, or NULL */
    int64_t gossip_period_ms, suspect_timeout_ms; /* 0: the defaults */
    const char **providers; /* external providers, "NAME=COMMAND" */
    unsigned nproviders;
    unsigned workers;    /* 0: one per core */
    int64_t fuel_slice;  /* 0: the runtime's default */
    int64_t shutdown_ms; /* bound on draining handlers at shutdown */
    int log_level;       /* LOG_ERROR..LOG_DEBUG */
} node_options;

enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* ---- node.c ---- */

/* An event from another thread, run on the loop thread. */
typedef struct node_event {
    void (*run)(node *n, struct node_event *ev); /* frees ev */
    struct node_event *next;
} node_event;

struct node {
    node_options opt;
    uv_loop_t loop;
    uv_async_t wake;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick; /* the reconciler's clock */
    node_store *store;
    actor_runtime *rt;
    control *ctl;
    providers *prov;
    ext_provider *externals; /* a list */
    cluster *cl;
    struct logs_gather *gathers; /* logs requests waiting for members */
    uint64_t next_gather;
    logbook *logs;
    uv_timer_t drain_timer; /* shutting down: waits for handlers */
    int64_t drain_deadline_ms;
    node_app *apps;         /* a list */
    struct app_tomb *tombs; /* deleted applications' last versions */
    size_t ntombs, captombs;
    /* The running replicas of every actor in the cluster, by name, for
     * lookups from worker threads (apps.c rebuilds it on the loop). */
    pthread_rwlock_t dir_lock;
    struct dir_entry *dir;
    size_t ndir;
    unsigned dir_rr;
    char **loaded_modules; /* hashes added to the runtime */
    size_t nloaded, caploaded;
    bool stopping;
    int exit_code;

    pthread_mutex_t events_lock;
    node_event *events_head, *events_tail;
};

/* Runs a node until SIGTERM or SIGINT; returns the process exit code. */
int node_run(const node_options *opt);
/* Posts ev to the loop thread (any thread). */
void node__post(node *n, node_event *ev);
int64_t node__now_ms(void);

/* ---- logbook.c ---- */

/* A structured line on stderr: time, level, component, actor (may be
 * NULL), message. Any thread. */
void node_log(node *n, int level, const char *component, const char *actor,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

shoal_err logbook_new(logbook **out);
void logbook_delete(logbook *lb);
/* A ring of lines for one app/actor (all its replicas). */
log_ring *logbook_ring(logbook *lb, const char *app, const char *actor);
void logbook_drop_ring(logbook *lb, const char *app, const char *actor);
/* Routes the logs of actor id to ring, as replica number replica. */
void logbook_attach(logbook *lb, actor_id id, log_ring *ring, uint32_t replica,
                    const char *label);
void logbook_detach(logbook *lb, actor_id id);
/* The runtime's log callback (worker threads). */
void logbook_actor_log(void *node_ctx, actor_id id, int level, const char *msg,
                       size_t len);
/* Packs the lines of ring after seq `after` (at most tail of the latest)
 * as the `logs` reply fields "lines" and "next". */
void logbook_pack(logbook *lb, log_ring *ring, uint64_t after, uint32_t tail,
                  msgpack_packer *pk);

/* ---- control.c ---- */

shoal_err control_start(node *n, shoal_errinfo *ei);
/* Stops taking requests; requests under way are answered ESTATE. */
void control_stop(node *n);
/* Frees the server after control_stop (loop thread, after the runtime is
 * gone so that no reply is still on its way). */
void control_free(node *n);
/* Answers req with bytes (taken: free()d here) and frees req's state. */
void control_reply(control_req *req, uint8_t *bytes, size_t len);
void control_reply_error(control_req *req, shoal_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- providers.c ---- */

shoal_err providers_start(node *n, shoal_errinfo *ei);
/* Stops taking HTTP requests (shutting down); those under way finish. */
void providers_quiesce(node *n);
/* Closes the HTTP server and stops the kv thread (before the runtime goes). */
void providers_stop(node *n);
void providers_free(node *n);
/* The tag of a replica being spawned with spec s, or NULL (no memory). */
link_tag *providers_tag_new(const char *label, const manifest_actor *s);
void providers_tag_free(link_tag *t);
/* t's link to provider, or NULL. */
const tag_link *providers_tag_link(const link_tag *t, const char *provider,
                                   size_t len);

/* ---- external.c ---- */

/* Starts an external provider (docs/providers.md): the node listens for it
 * on ipc://DATA_DIR/provider-NAME.sock and runs COMMAND with /bin/sh,
 * restarting it when it exits. spec is "NAME=COMMAND". */
shoal_err external_add(node *n, const char *spec, shoal_errinfo *ei);
/* The endpoint of the external provider named name, or 0. */
actor_id external_endpoint(node *n, const char *name, size_t len);
/* Stops the processes and the sockets (before the runtime goes). */
void external_stop(node *n);
void external_free(node *n);
/* The runtime's resolve callback (worker threads). */
shoal_err providers_resolve(void *ctx, actor_id caller, void *caller_tag,
                            const char *name, size_t len, actor_id *out);
/* Makes the HTTP routes of app match spec (NULL: none). All or nothing:
 * on an error (a route taken by another app, an address that cannot be
 * bound, a link without config.address) nothing changed. */
shoal_err providers_sync_routes(node *n, const char *app,
                                const manifest_app *spec, shoal_errinfo *ei);

/* ---- cluster.c ---- */

/* A replica another node reports running (from its gossip meta). */
typedef struct member_replica {
    char app[64], actor[64];
    uint32_t index;
    actor_id id;
    int64_t version;
    bool running;
    bool current; /* of the app's template its node knows */
    char state[16];
} member_replica;

/* An application's version as a member reports it. */
typedef struct member_app {
    char name[64];
    int64_t version;
    char origin[64];
    bool deleted;
} member_app;

/* A member of the cluster as this node sees it: its gossip record and
 * what its meta says. Self is one of them. */
typedef struct member_view {
    char name[64], addr[128], control[128];
    char stream[80]; /* where its actor messages go, "HOST:PORT" */
    uint16_t node_id;
    int state; /* gossip_state */
    bool self;
    uint32_t capacity;
    char (*labels)[2][64];
    size_t nlabels;
    uint64_t actors, memory;
    uint64_t fuel_per_s; /* fuel its replicas burnt per second, lately */
    int64_t meta_version;
    member_replica *reps;
    size_t nreps;
    member_app *apps;
    size_t napps;
} member_view;

/* Starts gossip and the wire (or a cluster of one without
 * opt.cluster_listen). */
shoal_err cluster_start(node *n, shoal_errinfo *ei);
/* Leaves the cluster (shutting down; the wire still carries the news). */
void cluster_leave(node *n);
/* Stops taking frames from the wire (before the runtime goes). */
void cluster_close_input(node *n);
/* Closes the wire (after the runtime is gone) and frees all. */
void cluster_free(node *n);
/* The members, self included (dead and left ones too, for a while). */
size_t cluster_count(node *n);
const member_view *cluster_member(node *n, size_t i);
/* "alive", "suspect", "dead" or "left". */
const char *member_state_name(int state);
/* Whether v counts for placement (alive or suspect). */
bool cluster_member_live(const member_view *v);
/* Whether v is alive (not even suspect): new work goes only there. */
bool cluster_member_alive(const member_view *v);
/* Replica i of actor s of app runs on cluster_member(out[i]) (-1: none
 * qualifies); out has s->replicas entries. */
shoal_err cluster_place(node *n, const char *app, const manifest_actor *s,
                        int32_t *out);
/* The index of self among cluster_member. */
size_t cluster_self_index(node *n);
/* The local state changed (replicas, apps): the meta is rebuilt soon. */
void cluster_touch(node *n);
/* An application changed here (apply, scale, delete): its record goes to
 * every member. */
void cluster_app_changed(node *n, const char *app);
/* The runtime's remote callback (any thread). */
shoal_err cluster_remote(void *ctx, const actor_remote_msg *m);
/* The runtime's idle_poll and idle_wake (workers read the stream). */
bool cluster_idle_poll(void *ctx, int timeout_ms);
void cluster_idle_wake(void *ctx);
/* Asks the alive members that run replicas of app/actor for their last
 * tail log lines; their answers go to ops_logs_from_member with id.
 * Returns how many were asked. */
size_t cluster_logs_ask(node *n, const char *app, const char *actor,
                        uint32_t tail, uint64_t id);

/* ---- apps.c, for the cluster ---- */

/* An application's record as nodes exchange it: a version ordered by
 * (version, origin), or a tombstone (deleted). */
typedef struct app_record {
    const char *name;
    int64_t version;
    const char *origin;
    bool deleted;
    int64_t updated_ms;
    const char *manifest, *file;
    const uint8_t *spec;
    size_t spec_len;
} app_record;

/* Fills r with app's record (pointers valid until the app changes).
 * SHOAL_ENOTFOUND. */
shoal_err apps_record(node *n, const char *app, app_record *r);
/* Calls fn for every record, tombstones included. */
void apps_for_each_record(node *n, void (*fn)(void *ctx, const app_record *r),
                          void *ctx);
/* Whether (version, origin) is newer than this node's record of name (or
 * it has none). */
bool apps_is_newer(node *n, const char *name, int64_t version,
                   const char *origin);
/* Takes a record from another node when it is newer than ours: stores it
 * and reconciles. SHOAL_OK also when it was not newer. SHOAL_ENOTFOUND with
 * missing filled: a module is not in the store yet. */
shoal_err apps_accept(node *n, const app_record *r, char missing[65],
                      shoal_errinfo *ei);
/* Fuel used by this node's replicas since they started (for the load
 * figures). */
uint64_t apps_fuel_used(node *n);
/* Packs the meta's "apps" and "replicas" key-value pairs (two). */
void apps_pack_meta(node *n, msgpack_packer *pk);
/* A running replica of actor `actor` of application `app`, anywhere in the
 * cluster, round robin. SHOAL_ENOTFOUND. Any thread. */
shoal_err apps_directory_lookup(node *n, const char *app, size_t app_len,
                                const char *actor, size_t actor_len,
                                actor_id *out);

/* ---- wire.c: the stream of actor messages between nodes ---- */

/* Listens on host (numeric) at a port of the system's choosing, written to
 * advertised as "HOST:PORT", and starts the I/O thread, which hands every
 * frame received to deliver, and tells refused of a node that refused a
 * connection (its process is gone), both on that thread. */
shoal_err wire_start(node *n, const char *host,
                     void (*deliver)(void *ctx, const uint8_t *frame,
                                     size_t len),
                     void (*refused)(void *ctx, uint16_t node_id), void *ctx,
                     bool workers_read, wire **out, char *advertised,
                     size_t cap, shoal_errinfo *ei);
/* With workers_read, the incoming connections are read by whoever calls
 * wire_poll (the runtime's idle and busy workers, actor_config.idle_poll):
 * it waits at most timeout_ms for frames, delivers them, and returns;
 * wire_wake_poll makes a wait under way return. Any thread. */
bool wire_poll(wire *w, int timeout_ms);
void wire_wake_poll(wire *w);
/* Stops the thread and closes everything; the peers die with it. */
void wire_stop(wire *w);
/* The peer for node_id at addr ("HOST:PORT"), made when new, started
 * afresh when it was dropped or moved; NULL for a bad address. Its
 * pointer stays valid until wire_stop. Loop thread. */
wire_peer *wire_peer_get(wire *w, uint16_t node_id, const char *addr);
/* Its node is gone: what waits is dropped and sends fail until
 * wire_peer_get brings it back. Any thread. */
void wire_peer_drop(wire *w, wire_peer *p);
void wire_peer_drop_id(wire *w, uint16_t node_id);
/* Sends one frame, head (at most 64 bytes) then body, to p: SHOAL_OK when
 * it is written or queued in order, SHOAL_EFULL when 64 MiB wait already,
 * SHOAL_ENOTFOUND when p was dropped. Any thread; never blocks. */
shoal_err wire_send(wire *w, wire_peer *p, const uint8_t *head, size_t hlen,
                    const uint8_t *body, size_t blen);

/* ---- ops.c ---- */

/* Handles one decoded request; replies now or later (call). */
void ops_handle(node *n, control_req *req, const msgpack_object *msg);
/* Drops the logs requests still waiting (shutting down). */
void ops_free(node *n);
/* Log lines (an array as the logs reply has it) another member sent for
 * the logs request id. */
void ops_logs_from_member(node *n, uint64_t id, const msgpack_object *lines);

/* ---- apps.c ---- */

shoal_err apps_recover(node *n, shoal_errinfo *ei);
void apps_free(node *n);
/* The runtime's on_exit callback (any thread). */
void apps_on_exit(void *node_ctx, actor_id id, const actor_exit *why);
/* Runs the reconciler over every application. */
void apps_reconcile(node *n);
/* Compiles a module into the runtime under its hash (once). */
shoal_err apps_add_module(node *n, const char *hash, const uint8_t *bytes,
                          size_t len, shoal_errinfo *ei);
/* Makes sure the module with hash is compiled into the runtime. */
shoal_err apps_load_module(node *n, const char *hash, shoal_errinfo *ei);

typedef struct apply_result {
    char app[64];
    int64_t version;
    bool changed;
    char (*names)[64];
    const char **actions;
    size_t n;
} apply_result;

/* Applies a parsed manifest whose module hashes are filled. Takes spec.
 * On SHOAL_OK *res is filled (free with apply_result_free). */
shoal_err apps_apply(node *n, manifest_app *spec, const char *text,
                     const char *file, apply_result *res, shoal_errinfo *ei);
void apply_result_free(apply_result *res);
shoal_err apps_scale(node *n, const char *app, const char *actor,
                     uint32_t replicas, int64_t *version, shoal_errinfo *ei);
shoal_err apps_delete(node *n, const char *app, shoal_errinfo *ei);

/* Replies for app.list, app.get, actor.list, actor.get. apps_pack_app
 * packs APPS_APP_FIELDS key-value pairs (after checking the app exists);
 * apps_pack_actor one map; the others one key-value pair. */
#define APPS_APP_FIELDS 9
void apps_pack_list(node *n, msgpack_packer *pk);
shoal_err apps_pack_app(node *n, const char *app, msgpack_packer *pk);
void apps_pack_actors(node *n, const char *app_or_null, msgpack_packer *pk);
shoal_err apps_pack_actor(node *n, const char *app, const char *actor,
                          msgpack_packer *pk);
size_t apps_count_replicas(node *n);
/* The log ring of app/actor, or NULL. */
log_ring *apps_ring(node *n, const char *app, const char *actor);
/* A running replica of app/actor, round robin. SHOAL_ENOTFOUND. */
shoal_err apps_pick(node *n, const char *app, const char *actor, actor_id *id,
                    uint32_t *replica, shoal_errinfo *ei);

#endif
