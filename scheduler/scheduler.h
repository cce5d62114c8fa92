/* The cluster's membership and placement, as pure state machines.
 *
 * Membership (gossip_*) is SWIM-style gossip: probes, indirect probes,
 * suspicion, incarnation numbers, piggybacked dissemination and periodic
 * full-state exchange; docs/cluster.md, "Membership", describes the protocol
 * and its timing. Placement (place_*) decides from a list of nodes which
 * node runs each replica of an actor, by weighted rendezvous hashing;
 * docs/cluster.md, "Placement".
 *
 * Neither does any I/O, keeps a clock or starts a thread. The caller passes
 * the time in (milliseconds of a monotonic clock), hands received datagrams
 * to gossip_input and sends the datagrams the send callback gives it. So the
 * node drives a gossip from its event loop, and a test drives many from a
 * simulated network in one process.
 *
 * Threads: a gossip belongs to one thread at a time; place_assign keeps no
 * state and may run on any number of threads at once.
 */
#ifndef SHOAL_SCHEDULER_H
#define SHOAL_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

/* ---- membership ---- */

/* Bounds of a member's fields. A name is 1 to GOSSIP_NAME_MAX - 1 bytes and
 * an address 1 to GOSSIP_ADDR_MAX - 1 bytes, neither with a NUL byte. */
#define GOSSIP_NAME_MAX 64
#define GOSSIP_ADDR_MAX 128
#define GOSSIP_META_MAX (64u * 1024u)
#define GOSSIP_NODE_ID_MAX 0x7fff
/* Most members asked to ping on our behalf when a probe goes unanswered. */
#define GOSSIP_INDIRECT_MAX 16

/* The largest datagram gossip_input accepts. Datagrams the library sends
 * stay under GOSSIP_DATAGRAM_BUDGET, except one that carries a single member
 * whose meta alone is bigger than that (at most about 66 KiB). */
#define GOSSIP_DATAGRAM_MAX (128u * 1024u)
#define GOSSIP_DATAGRAM_BUDGET (60u * 1024u)

typedef struct gossip gossip;

/* A member's state. ALIVE answers probes; SUSPECT missed one and may still
 * refute; DEAD was suspected for too long; LEFT said goodbye. DEAD and LEFT
 * members are kept as tombstones for forget_ms, then dropped. */
typedef enum gossip_state {
    GOSSIP_ALIVE,
    GOSSIP_SUSPECT,
    GOSSIP_DEAD,
    GOSSIP_LEFT
} gossip_state;

/* "alive", "suspect", "dead" or "left"; "unknown" for another value. */
const char *gossip_state_name(gossip_state s);

/* A member as this node sees it. The strings are NUL-terminated. */
typedef struct gossip_member {
    char name[GOSSIP_NAME_MAX]; /* unique node name, the member's key */
    char addr[GOSSIP_ADDR_MAX]; /* where its datagrams go (opaque here) */
    uint16_t node_id;           /* its 15-bit actor-id prefix, 1..0x7fff */
    gossip_state state;
    uint64_t incarnation;
    const uint8_t *meta; /* its own data (opaque here), NULL when none */
    size_t meta_len;     /* at most GOSSIP_META_MAX */
    /* Bumped by its owner at each gossip_set_meta. A new gossip starts it at
     * its starting incarnation, so that a restarted node's meta outranks
     * its old self's (as long as the old self set its meta less often than
     * once per millisecond of its life, on average). */
    uint64_t meta_version;
    int64_t state_since_ms; /* when it entered its state (local clock) */
} gossip_member;

/* A gossip's configuration. Zero in a number field means its default. */
typedef struct gossip_config {
    const char *name; /* this node's name (copied), see GOSSIP_NAME_MAX */
    const char *addr; /* where others send to it (copied) */
    uint16_t node_id; /* 1..GOSSIP_NODE_ID_MAX */
    /* The starting incarnation: the node passes its wall clock in ms at
     * start, so that a restarted node always outranks its old self. */
    uint64_t incarnation;
    int64_t period_ms;          /* one probe per period (default 200) */
    int64_t ping_timeout_ms;    /* direct ack wait before ping-req (100) */
    int64_t suspect_timeout_ms; /* suspect -> dead (1000) */
    unsigned indirect_probes;   /* ping-req helpers (3), at most 16 */
    int64_t sync_ms;            /* full-state push-pull interval (1000) */
    int64_t forget_ms;          /* tombstones kept this long (60000) */
    /* Seeds the random choices (probe order, ping-req helpers, sync
     * partners). Zero: a seed derived from the name, still deterministic. */
    uint64_t seed;
    /* Sends one datagram to addr; addr and bytes are valid only during the
     * call. Datagrams may be lost, duplicated, reordered or delayed. The
     * callback must not call back into this gossip. Required. */
    void (*send)(void *ctx, const char *addr, const uint8_t *bytes, size_t len);
    /* Reports another member that appeared, changed state, address, node id
     * or meta. old is its previous state; a member new to this node comes
     * with old == GOSSIP_DEAD, as if it came back. m is valid during the
     * call only. Self is never reported: its changes are the caller's own
     * calls (gossip_set_meta, gossip_leave) and refutations, which change
     * only its incarnation. Dropping a tombstone is not reported either (the
     * member was reported dead or left before). The callback may call
     * gossip_count, gossip_member_at, gossip_find, gossip_self and
     * gossip_node_id_taken, nothing else of this gossip. Optional. */
    void (*changed)(void *ctx, const gossip_member *m, gossip_state old);
    void *ctx; /* passed to send and changed */
} gossip_config;

/* A new gossip knowing only itself, alive. On SHOAL_OK *out is the caller's,
 * to free with gossip_delete. SHOAL_EINVAL for a NULL cfg, out or send, a
 * name or address that is empty, too long or missing, a node_id of 0 or
 * over GOSSIP_NODE_ID_MAX, a negative time, indirect_probes over
 * GOSSIP_INDIRECT_MAX, or a ping timeout not shorter than the period;
 * SHOAL_ENOMEM. Nothing is sent until the first gossip_join or gossip_tick. */
shoal_err gossip_new(const gossip_config *cfg, gossip **out);
/* Frees g (NULL: nothing); sends nothing. Pointers to its members die. */
void gossip_delete(gossip *g);

/* Joins a cluster through seeds, n addresses (copied; the node's own
 * address among them is skipped): sends each a full-state sync at once and
 * again with back-off (twice the period, doubling up to 30 s) until some
 * member answers. A first node calls it with n == 0, or not at all.
 * Another call replaces the seeds and starts over. SHOAL_EINVAL for a NULL
 * seeds with n > 0 or a NULL or over-long seed; SHOAL_ESTATE after
 * gossip_leave; SHOAL_ENOMEM. */
shoal_err gossip_join(gossip *g, int64_t now_ms, const char *const *seeds,
                      size_t n);

/* Leaves gracefully: self becomes LEFT with its incarnation bumped, and the
 * news goes at once to every member not dead or left, which mark it LEFT.
 * Afterwards the gossip probes and syncs no more, but still answers what it
 * receives (telling the sender it left). Calling it again does nothing. */
void gossip_leave(gossip *g, int64_t now_ms);

/* Outside news about member name. gossip_suspect: something hints that it
 * is gone (its connection broke): it becomes SUSPECT now instead of at its
 * next failed probe, and is pinged at once; the suspect timeout then runs
 * as usual. gossip_declare_dead: it is gone for sure (its node refused a
 * connection: nothing listens there any more): it becomes DEAD now, at its
 * current incarnation. Either is disseminated; a member that is alive
 * after all refutes it as any suspicion, with a higher incarnation.
 * SHOAL_ENOTFOUND for an unknown name or this node's own; SHOAL_OK (and
 * nothing changes) for a member not alive (suspect, for declare_dead: not
 * alive or suspect) or after gossip_leave. The changed callback reports
 * the change. */
shoal_err gossip_suspect(gossip *g, int64_t now_ms, const char *name);
shoal_err gossip_declare_dead(gossip *g, int64_t now_ms, const char *name);

/* Sets this node's meta to a copy of meta[0..len), bumps its meta_version
 * and disseminates it. len 0 clears it (meta may then be NULL).
 * SHOAL_EINVAL for len over GOSSIP_META_MAX or NULL meta with len > 0;
 * SHOAL_ENOMEM (the old meta stays). */
shoal_err gossip_set_meta(gossip *g, const uint8_t *meta, size_t len);

/* Runs the timers due at now_ms: probes, suspicion timeouts, syncs, join
 * retries, forgetting tombstones. Returns the milliseconds until it wants
 * the next tick (at least 1); calling it earlier or later is harmless.
 * Time never runs backwards here: an earlier now_ms counts as the latest
 * one seen. The caller need not tick again after gossip_input: the timers
 * it starts (suspicion, tombstones) fall due no sooner than the next probe
 * while suspect_timeout_ms and forget_ms are at least period_ms, and at
 * most a period late otherwise. */
int64_t gossip_tick(gossip *g, int64_t now_ms);

/* Takes one received datagram (bytes[0..len), not kept). A datagram that is
 * not one of ours, of another version, or has a field of the wrong type,
 * out of bounds or missing, is SHOAL_EMALFORMED with ei (optional) naming
 * the field and its byte offset, and changes nothing: it is checked
 * entirely before any of it is used. So is a datagram over
 * GOSSIP_DATAGRAM_MAX. A datagram from a node with our own name (another
 * instance of this node) is not answered and its sender not taken as a
 * member; its records are merged as any. SHOAL_EINVAL for NULL
 * bytes with len > 0; SHOAL_ENOMEM when a new member or meta could not be
 * stored (the rest of the datagram is still applied). */
shoal_err gossip_input(gossip *g, int64_t now_ms, const uint8_t *bytes,
                       size_t len, shoal_errinfo *ei);

/* Members known, self included, tombstones included. */
size_t gossip_count(const gossip *g);
/* The i-th member (0 is self), NULL when i >= gossip_count. The pointer,
 * and the order, stay valid until the next gossip_join, gossip_leave,
 * gossip_set_meta, gossip_tick, gossip_input or gossip_delete. */
const gossip_member *gossip_member_at(const gossip *g, size_t i);
/* The member named name, NULL when unknown; valid as gossip_member_at. */
const gossip_member *gossip_find(const gossip *g, const char *name);
/* This node's own record; valid until gossip_delete. */
const gossip_member *gossip_self(const gossip *g);

/* Whether a member not named except_name (NULL: none excepted), alive or
 * suspect, claims node id id. Gossip keeps two names with one node id as
 * two members; the node layer decides what to do about it (for example,
 * refuse to start with a taken id). */
bool gossip_node_id_taken(const gossip *g, uint16_t id,
                          const char *except_name);

/* ---- placement ---- */

typedef struct place_label {
    const char *key;
    const char *value;
} place_label;

typedef struct place_node {
    const char *name; /* unique among the nodes; hashed */
    uint32_t weight;  /* capacity weight (> 0), e.g. its CPU count */
    const place_label *labels;
    size_t nlabels;
} place_node;

typedef struct place_group {
    const char *key;   /* "app/actor": the replicas of one actor */
    uint32_t replicas; /* at most PLACE_REPLICAS_MAX */
    /* A node must carry all of these labels (key and value equal). */
    const place_label *require;
    size_t nrequire;
    /* At most ceil(replicas * weight / total eligible weight) replicas on
     * one node; without spread a node may take any number. */
    bool spread;
} place_group;

#define PLACE_REPLICAS_MAX 65536u
/* Most replicas times eligible nodes of a spread group (32 MiB of work). */
#define PLACE_SPREAD_PAIRS_MAX (2u * 1024u * 1024u)

/* Places g's replicas on nodes[0..n): out[i], for i < g->replicas, is the
 * index into nodes of replica i's node, or -1 when no node qualifies.
 * Each eligible node has a score for (node name, g->key, i) that grows with
 * its weight. Without spread, replica i goes to its highest-scoring node.
 * With spread, (replica, node) pairs are taken best score first, each
 * replica seated at the first node with room under the cap: every replica
 * gets the best node it can without taking a slot from a replica scoring
 * higher there. docs/cluster.md, "Placement", says how few replicas move
 * when nodes come and go. The result depends only on the nodes' names,
 * weights and labels, not on their order. Allocates working memory, for
 * spread groups 16 bytes per replica and eligible node. SHOAL_EINVAL for a
 * NULL g, out or key, NULL nodes with n > 0, a node with a NULL name,
 * weight 0, or a NULL label key or value, two nodes of one name, replicas
 * over PLACE_REPLICAS_MAX or n over INT32_MAX; SHOAL_ELIMIT for a spread
 * group of more than PLACE_SPREAD_PAIRS_MAX replicas times eligible nodes;
 * SHOAL_ENOMEM. On error out is left alone. */
shoal_err place_assign(const place_node *nodes, size_t n, const place_group *g,
                       int32_t *out);

#endif
