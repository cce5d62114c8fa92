/* Membership: SWIM-style gossip as a state machine driven by the caller.
 *
 * Each member record is a whole snapshot of what one node knows of a member
 * (state, incarnation, address, meta), and merging two is a join: the
 * record that ranks higher by (incarnation, state) wins state and address,
 * the higher meta version wins meta. So records may arrive in any order,
 * twice or late, and every node ends with the same view once it has heard
 * everything; the periodic full-state sync makes sure it does.
 *
 * docs/cluster.md, "Membership", describes the protocol and its timing.
 */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "gossip_wire.h"

/* Defaults of gossip_config. */
#define DEFAULT_PERIOD_MS 200
#define DEFAULT_PING_TIMEOUT_MS 100
#define DEFAULT_SUSPECT_TIMEOUT_MS 1000
#define DEFAULT_INDIRECT_PROBES 3
#define DEFAULT_SYNC_MS 1000
#define DEFAULT_FORGET_MS 60000

/* A record is piggybacked about RETRANSMIT_MULT * log2(n + 1) times. */
#define RETRANSMIT_MULT 3
/* Join retries back off from twice the period up to this. */
#define JOIN_BACKOFF_MAX_MS 30000
/* Pings sent on behalf of others (ping-req) awaiting their ack. */
#define FORWARDS_MAX 64

typedef struct member {
    gossip_member pub;
    uint8_t *meta;       /* owned; pub.meta points here */
    uint64_t changed_at; /* g->updates at its last change: newest first */
    unsigned transmits;  /* piggybacked copies of its current record */
} member;

/* A ping sent for another member's ping-req, whose ack goes back there. */
typedef struct forward {
    bool used;
    uint64_t seq;        /* of our ping */
    uint64_t origin_seq; /* of the asking member's probe */
    char origin_addr[GOSSIP_ADDR_MAX];
    int64_t expires_ms;
} forward;

/* The probe of the current period. */
typedef struct probe {
    bool active;
    bool acked;
    bool indirect; /* ping-reqs sent */
    uint64_t seq;
    int64_t start_ms;
    char target[GOSSIP_NAME_MAX];
    uint64_t target_incarnation;
} probe;

struct gossip {
    gossip_config cfg; /* name and addr point into self */
    member **members;  /* [0] is self */
    size_t n;
    size_t cap;
    member **scratch; /* cap + 1 entries, for sorting and choosing */
    member **order;   /* this round's probe order; NULL for a dropped one */
    size_t norder;
    size_t order_pos;
    uint64_t rng;
    uint64_t next_seq;
    uint64_t updates;
    bool started;
    bool left;
    int64_t now;
    probe probe;
    int64_t next_probe_ms;
    int64_t next_sync_ms;
    forward forwards[FORWARDS_MAX];
    char **seeds;
    size_t nseeds;
    bool joined; /* some member answered */
    int64_t join_retry_ms;
    int64_t join_backoff_ms;
    msgpack_sbuffer buf;
    msgpack_packer pk;
};

const char *gossip_state_name(gossip_state s)
{
    switch (s) {
    case GOSSIP_ALIVE:
        return "alive";
    case GOSSIP_SUSPECT:
        return "suspect";
    case GOSSIP_DEAD:
        return "dead";
    case GOSSIP_LEFT:
        return "left";
    }
    return "unknown";
}

/* ---- small helpers ---- */

/* splitmix64: any state works, zero included. */
static uint64_t rnd(gossip *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rnd_below(gossip *g, size_t n)
{
    return (size_t)(rnd(g) % n);
}

static bool valid_cstr(const char *s, size_t size)
{
    return s != NULL && s[0] != 0 && strnlen(s, size) < size;
}

static bool is_gone(const member *m)
{
    return m->pub.state == GOSSIP_DEAD || m->pub.state == GOSSIP_LEFT;
}

static member *self_of(const gossip *g)
{
    return g->members[0];
}

static member *find(const gossip *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->members[i]->pub.name, name) == 0)
            return g->members[i];
    }
    return NULL;
}

/* Time never runs backwards inside. */
static int64_t clock_at(gossip *g, int64_t now)
{
    if (g->started && now < g->now)
        now = g->now;
    g->now = now;
    return now;
}

/* The first call with a time starts the timers. */
static void start(gossip *g, int64_t now)
{
    if (g->started)
        return;
    g->started = true;
    g->now = now;
    self_of(g)->pub.state_since_ms = now;
    g->next_probe_ms = now;
    /* Spread the nodes' syncs over the interval. */
    g->next_sync_ms = now + (int64_t)rnd_below(g, (size_t)g->cfg.sync_ms) + 1;
}

/* m's record changed: disseminate it afresh. */
static void touch(gossip *g, member *m)
{
    m->changed_at = ++g->updates;
    m->transmits = 0;
}

static void notify(gossip *g, member *m, gossip_state old)
{
    if (m != self_of(g) && g->cfg.changed != NULL)
        g->cfg.changed(g->cfg.ctx, &m->pub, old);
}

static void set_state(member *m, gossip_state s, int64_t now)
{
    if (m->pub.state != s)
        m->pub.state_since_ms = now;
    m->pub.state = s;
}

/* Replaces m's meta by a copy of meta[0..len); false when out of memory. */
static bool set_meta_bytes(member *m, const uint8_t *meta, size_t len)
{
    uint8_t *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL)
            return false;
        memcpy(copy, meta, len);
    }
    free(m->meta);
    m->meta = copy;
    m->pub.meta = copy;
    m->pub.meta_len = len;
    return true;
}

static void member_free(member *m)
{
    if (m != NULL)
        free(m->meta);
    free(m);
}

/* Room for one more member in every array. */
static bool reserve(gossip *g)
{
    if (g->n < g->cap)
        return true;
    size_t cap = g->cap * 2;
    member **a = realloc(g->members, cap * sizeof *a);
    if (a == NULL)
        return false;
    g->members = a;
    a = realloc(g->order, cap * sizeof *a);
    if (a == NULL)
        return false;
    g->order = a;
    a = realloc(g->scratch, (cap + 1) * sizeof *a);
    if (a == NULL)
        return false;
    g->scratch = a;
    g->cap = cap;
    return true;
}

/* Drops members[i] (never self), keeping nothing pointing at it. */
static void forget(gossip *g, size_t i)
{
    member *m = g->members[i];
    for (size_t k = 0; k < g->norder; k++) {
        if (g->order[k] == m)
            g->order[k] = NULL;
    }
    if (g->probe.active && strcmp(g->probe.target, m->pub.name) == 0)
        g->probe.active = false;
    g->members[i] = g->members[--g->n];
    member_free(m);
}

/* ---- sending ---- */

static void emit(gossip *g, const char *addr, gossip__datagram *d,
                 member *const *records, size_t nrecords)
{
    const member *self = self_of(g);
    memcpy(d->name, self->pub.name, sizeof d->name);
    memcpy(d->addr, self->pub.addr, sizeof d->addr);
    d->node_id = self->pub.node_id;
    d->incarnation = self->pub.incarnation;
    msgpack_sbuffer_clear(&g->buf);
    int e = gossip__pack_head(&g->pk, d, nrecords);
    for (size_t i = 0; i < nrecords; i++)
        e |= gossip__pack_record(&g->pk, &records[i]->pub);
    /* Out of memory: the datagram is lost, as the network may lose any. */
    if (e != 0)
        return;
    g->cfg.send(g->cfg.ctx, addr, (const uint8_t *)g->buf.data, g->buf.size);
}

static unsigned retransmit_limit(size_t n)
{
    unsigned log2n = 0;
    while (((size_t)1 << log2n) < n + 1)
        log2n++;
    return RETRANSMIT_MULT * (log2n > 0 ? log2n : 1);
}

/* Least sent first, then newest first; changed_at is unique. */
static int by_freshness(const void *pa, const void *pb)
{
    const member *a = *(member *const *)pa, *b = *(member *const *)pb;
    if (a->transmits != b->transmits)
        return a->transmits < b->transmits ? -1 : 1;
    return a->changed_at > b->changed_at ? -1 : 1;
}

/* Sends d with the records most in need of dissemination; first (when not
 * NULL) goes along whatever its count, for a member that should hear what
 * we think of it. */
static void send_gossip(gossip *g, const char *addr, gossip__datagram *d,
                        member *first)
{
    unsigned limit = retransmit_limit(g->n);
    size_t nc = 0;
    if (first != NULL)
        g->scratch[nc++] = first;
    size_t sorted_from = nc;
    for (size_t i = 0; i < g->n; i++) {
        member *m = g->members[i];
        if (m != first && m->transmits < limit)
            g->scratch[nc++] = m;
    }
    qsort(g->scratch + sorted_from, nc - sorted_from, sizeof *g->scratch,
          by_freshness);
    size_t budget = GOSSIP_DATAGRAM_BUDGET - GOSSIP__HEAD_BOUND;
    size_t used = 0, npick = 0;
    for (size_t i = 0; i < nc && npick < GOSSIP__RECORDS_MAX; i++) {
        size_t b = gossip__record_bound(&g->scratch[i]->pub);
        /* One record always goes, however big its meta. */
        if (used + b > budget && npick > 0)
            continue;
        used += b;
        g->scratch[npick++] = g->scratch[i];
    }
    for (size_t i = 0; i < npick; i++)
        g->scratch[i]->transmits++;
    emit(g, addr, d, g->scratch, npick);
}

/* Sends every member record to addr, in as many datagrams as it takes; only
 * the first asks for an answer. */
static void send_state(gossip *g, const char *addr, bool reply)
{
    size_t budget = GOSSIP_DATAGRAM_BUDGET - GOSSIP__HEAD_BOUND;
    size_t i = 0;
    bool first = true;
    do {
        size_t from = i, used = 0;
        while (i < g->n && i - from < GOSSIP__RECORDS_MAX) {
            size_t b = gossip__record_bound(&g->members[i]->pub);
            if (used + b > budget && i > from)
                break;
            used += b;
            i++;
        }
        gossip__datagram d = {.type = GOSSIP__SYNC, .reply = reply && first};
        emit(g, addr, &d, g->members + from, i - from);
        first = false;
    } while (i < g->n);
}

static void send_ping(gossip *g, member *m, uint64_t seq, member *first)
{
    gossip__datagram d = {.type = GOSSIP__PING, .seq = seq};
    memcpy(d.to, m->pub.name, sizeof d.to);
    send_gossip(g, m->pub.addr, &d, first);
}

static void send_ack(gossip *g, const char *addr, uint64_t seq, member *first)
{
    gossip__datagram d = {.type = GOSSIP__ACK, .seq = seq};
    send_gossip(g, addr, &d, first);
}

/* ---- merging what others say ---- */

/* Whether (inc, s) overrides what we hold of m: SWIM's precedence, which is
 * the order of (incarnation, state) with ALIVE < SUSPECT < DEAD < LEFT. */
static bool outranks(uint64_t inc, gossip_state s, const gossip_member *m)
{
    return inc > m->incarnation || (inc == m->incarnation && s > m->state);
}

/* We started suspecting m, by our probe or by gossip: we tell m at once, so
 * that a member which is only slow refutes it before it becomes dead. */
static void suspected(gossip *g, member *m)
{
    send_ping(g, m, ++g->next_seq, m);
}

/* A record about ourselves: refute suspicion and death (and anything
 * claiming a newer incarnation) by outranking it; a left self stays left. */
static void about_self(gossip *g, const gossip__record *rec)
{
    member *self = self_of(g);
    if (rec->incarnation == UINT64_MAX)
        return; /* cannot be outranked; a malicious or broken sender */
    bool refute;
    if (g->left)
        refute = rec->incarnation > self->pub.incarnation ||
                 (rec->incarnation == self->pub.incarnation &&
                  rec->state != GOSSIP_LEFT);
    else
        refute = rec->incarnation > self->pub.incarnation ||
                 (rec->incarnation == self->pub.incarnation &&
                  rec->state != GOSSIP_ALIVE);
    if (!refute)
        return;
    self->pub.incarnation = rec->incarnation + 1;
    touch(g, self);
}

static shoal_err add_member(gossip *g, const gossip__record *rec, bool has_meta,
                            int64_t now)
{
    if (!reserve(g))
        return SHOAL_ENOMEM;
    member *m = calloc(1, sizeof *m);
    if (m == NULL)
        return SHOAL_ENOMEM;
    memcpy(m->pub.name, rec->name, sizeof m->pub.name);
    memcpy(m->pub.addr, rec->addr, sizeof m->pub.addr);
    m->pub.node_id = rec->node_id;
    m->pub.state = rec->state;
    m->pub.incarnation = rec->incarnation;
    m->pub.state_since_ms = now;
    if (has_meta) {
        if (!set_meta_bytes(m, rec->meta, rec->meta_len)) {
            free(m);
            return SHOAL_ENOMEM;
        }
        m->pub.meta_version = rec->meta_version;
    }
    g->members[g->n++] = m;
    touch(g, m);
    notify(g, m, GOSSIP_DEAD);
    if (m->pub.state == GOSSIP_SUSPECT)
        suspected(g, m);
    return SHOAL_OK;
}

/* Merges one record (has_meta false: a datagram's sender, whose meta is not
 * in the head). */
static shoal_err merge(gossip *g, const gossip__record *rec, bool has_meta,
                       int64_t now)
{
    if (strcmp(rec->name, self_of(g)->pub.name) == 0) {
        about_self(g, rec);
        return SHOAL_OK;
    }
    member *m = find(g, rec->name);
    if (m == NULL) {
        /* No tombstones for members never seen alive: they would be passed
         * around between nodes forgetting them at different times. */
        if (rec->state == GOSSIP_DEAD || rec->state == GOSSIP_LEFT)
            return SHOAL_OK;
        return add_member(g, rec, has_meta, now);
    }
    gossip_state old = m->pub.state;
    bool changed = false, report = false;
    shoal_err err = SHOAL_OK;
    if (outranks(rec->incarnation, rec->state, &m->pub)) {
        if (strcmp(m->pub.addr, rec->addr) != 0 ||
            m->pub.node_id != rec->node_id) {
            memcpy(m->pub.addr, rec->addr, sizeof m->pub.addr);
            m->pub.node_id = rec->node_id;
            report = true;
        }
        m->pub.incarnation = rec->incarnation;
        if (rec->state != old) {
            set_state(m, rec->state, now);
            report = true;
        }
        changed = true;
    }
    if (has_meta && rec->meta_version > m->pub.meta_version) {
        bool same = rec->meta_len == m->pub.meta_len &&
                    (rec->meta_len == 0 ||
                     memcmp(rec->meta, m->pub.meta, rec->meta_len) == 0);
        if (same || set_meta_bytes(m, rec->meta, rec->meta_len)) {
            m->pub.meta_version = rec->meta_version;
            report |= !same;
            changed = true;
        } else {
            err = SHOAL_ENOMEM;
        }
    }
    if (changed)
        touch(g, m);
    if (report)
        notify(g, m, old);
    if (old != GOSSIP_SUSPECT && m->pub.state == GOSSIP_SUSPECT)
        suspected(g, m);
    return err;
}

/* ---- probing ---- */

/* The next member to probe: round-robin over a shuffled list of the members
 * not self, not dead or left, shuffled afresh each round. */
static member *next_target(gossip *g)
{
    for (int round = 0; round < 2; round++) {
        while (g->order_pos < g->norder) {
            member *m = g->order[g->order_pos++];
            if (m != NULL && !is_gone(m))
                return m;
        }
        g->norder = 0;
        g->order_pos = 0;
        for (size_t i = 1; i < g->n; i++) {
            if (!is_gone(g->members[i]))
                g->order[g->norder++] = g->members[i];
        }
        for (size_t i = g->norder; i > 1; i--) {
            size_t j = rnd_below(g, i);
            member *t = g->order[i - 1];
            g->order[i - 1] = g->order[j];
            g->order[j] = t;
        }
    }
    return NULL;
}

static void send_ping_reqs(gossip *g, member *target)
{
    size_t nc = 0;
    for (size_t i = 1; i < g->n; i++) {
        member *m = g->members[i];
        if (m != target && m->pub.state == GOSSIP_ALIVE)
            g->scratch[nc++] = m;
    }
    /* Chosen first: sending uses scratch too. */
    member *helpers[GOSSIP_INDIRECT_MAX];
    unsigned nhelpers = 0;
    while (nhelpers < g->cfg.indirect_probes && nc > 0) {
        size_t j = rnd_below(g, nc);
        helpers[nhelpers++] = g->scratch[j];
        g->scratch[j] = g->scratch[--nc];
    }
    for (unsigned k = 0; k < nhelpers; k++) {
        gossip__datagram d = {.type = GOSSIP__PING_REQ, .seq = g->probe.seq};
        memcpy(d.to, target->pub.name, sizeof d.to);
        memcpy(d.to_addr, target->pub.addr, sizeof d.to_addr);
        send_gossip(g, helpers[k]->pub.addr, &d, NULL);
    }
}

static void suspect(gossip *g, member *m, int64_t now)
{
    if (m->pub.state != GOSSIP_ALIVE)
        return;
    set_state(m, GOSSIP_SUSPECT, now);
    touch(g, m);
    notify(g, m, GOSSIP_ALIVE);
    suspected(g, m);
}

static void probe_step(gossip *g, int64_t now)
{
    probe *p = &g->probe;
    if (p->active) {
        member *m = find(g, p->target);
        /* A probe is of one incarnation: a member that died or came back
         * since (a restarted node) is not the one that missed the ack. */
        if (m == NULL || is_gone(m) ||
            m->pub.incarnation != p->target_incarnation) {
            p->active = false;
        } else {
            if (!p->acked && !p->indirect &&
                now >= p->start_ms + g->cfg.ping_timeout_ms) {
                p->indirect = true;
                send_ping_reqs(g, m);
            }
            if (now >= p->start_ms + g->cfg.period_ms) {
                if (!p->acked)
                    suspect(g, m, now);
                p->active = false;
            }
        }
    }
    if (p->active || now < g->next_probe_ms)
        return;
    g->next_probe_ms = now + g->cfg.period_ms;
    member *m = next_target(g);
    if (m == NULL)
        return;
    *p = (probe){.active = true, .seq = ++g->next_seq, .start_ms = now};
    memcpy(p->target, m->pub.name, sizeof p->target);
    p->target_incarnation = m->pub.incarnation;
    send_ping(g, m, p->seq, NULL);
}

/* ---- the timers ---- */

static void sync_step(gossip *g, int64_t now)
{
    if (now < g->next_sync_ms)
        return;
    g->next_sync_ms = now + g->cfg.sync_ms;
    size_t nalive = 0, ndead = 0;
    for (size_t i = 1; i < g->n; i++) {
        gossip_state s = g->members[i]->pub.state;
        nalive += s == GOSSIP_ALIVE;
        ndead += s == GOSSIP_DEAD;
    }
    /* One live member, and one dead one: a node that was cut off and
     * declared dead on both sides of a partition is found again that way
     * (while its tombstone lasts), since nothing else talks to the dead. */
    size_t pick_alive = nalive > 0 ? rnd_below(g, nalive) : SIZE_MAX;
    size_t pick_dead = ndead > 0 ? rnd_below(g, ndead) : SIZE_MAX;
    for (size_t i = 1; i < g->n; i++) {
        member *m = g->members[i];
        if (m->pub.state == GOSSIP_ALIVE && pick_alive-- == 0)
            send_state(g, m->pub.addr, true);
        if (m->pub.state == GOSSIP_DEAD && pick_dead-- == 0)
            send_state(g, m->pub.addr, true);
    }
}

static void join_step(gossip *g, int64_t now)
{
    if (g->joined || g->nseeds == 0 || now < g->join_retry_ms)
        return;
    for (size_t i = 0; i < g->nseeds; i++)
        send_state(g, g->seeds[i], true);
    g->join_retry_ms = now + g->join_backoff_ms;
    g->join_backoff_ms *= 2;
    if (g->join_backoff_ms > JOIN_BACKOFF_MAX_MS)
        g->join_backoff_ms = JOIN_BACKOFF_MAX_MS;
}

static void timeouts_step(gossip *g, int64_t now)
{
    for (size_t i = 1; i < g->n;) {
        member *m = g->members[i];
        if (!g->left && m->pub.state == GOSSIP_SUSPECT &&
            now >= m->pub.state_since_ms + g->cfg.suspect_timeout_ms) {
            set_state(m, GOSSIP_DEAD, now);
            touch(g, m);
            notify(g, m, GOSSIP_SUSPECT);
        }
        if (is_gone(m) && now >= m->pub.state_since_ms + g->cfg.forget_ms) {
            forget(g, i);
            continue;
        }
        i++;
    }
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* When the next timer is due. */
static int64_t next_due(const gossip *g)
{
    int64_t due = INT64_MAX;
    if (!g->left) {
        const probe *p = &g->probe;
        due = earliest(due, g->next_probe_ms);
        if (p->active) {
            if (!p->acked && !p->indirect)
                due = earliest(due, p->start_ms + g->cfg.ping_timeout_ms);
            due = earliest(due, p->start_ms + g->cfg.period_ms);
        }
        due = earliest(due, g->next_sync_ms);
        if (!g->joined && g->nseeds > 0)
            due = earliest(due, g->join_retry_ms);
    }
    for (size_t i = 1; i < g->n; i++) {
        const gossip_member *m = &g->members[i]->pub;
        if (m->state == GOSSIP_SUSPECT && !g->left)
            due = earliest(due, m->state_since_ms + g->cfg.suspect_timeout_ms);
        if (m->state == GOSSIP_DEAD || m->state == GOSSIP_LEFT)
            due = earliest(due, m->state_since_ms + g->cfg.forget_ms);
    }
    return due;
}

int64_t gossip_tick(gossip *g, int64_t now_ms)
{
    start(g, now_ms);
    int64_t now = clock_at(g, now_ms);
    if (!g->left) {
        probe_step(g, now);
        sync_step(g, now);
        join_step(g, now);
    }
    timeouts_step(g, now);
    int64_t due = next_due(g);
    if (due == INT64_MAX)
        return g->cfg.period_ms;
    return due > now ? due - now : 1;
}

/* ---- input ---- */

static void forward_ping(gossip *g, const gossip__datagram *d, int64_t now)
{
    forward *slot = &g->forwards[0];
    for (size_t i = 0; i < FORWARDS_MAX; i++) {
        forward *f = &g->forwards[i];
        if (!f->used || f->expires_ms < now) {
            slot = f;
            break;
        }
        if (f->expires_ms < slot->expires_ms)
            slot = f;
    }
    *slot = (forward){.used = true,
                      .seq = ++g->next_seq,
                      .origin_seq = d->seq,
                      .expires_ms = now + g->cfg.period_ms};
    memcpy(slot->origin_addr, d->addr, sizeof slot->origin_addr);
    gossip__datagram ping = {.type = GOSSIP__PING, .seq = slot->seq};
    memcpy(ping.to, d->to, sizeof ping.to);
    send_gossip(g, d->to_addr, &ping, NULL);
}

static void take_ack(gossip *g, uint64_t seq)
{
    if (g->probe.active && seq == g->probe.seq) {
        g->probe.acked = true;
        return;
    }
    for (size_t i = 0; i < FORWARDS_MAX; i++) {
        forward *f = &g->forwards[i];
        if (f->used && f->seq == seq) {
            f->used = false;
            send_ack(g, f->origin_addr, f->origin_seq, NULL);
            return;
        }
    }
}

shoal_err gossip_input(gossip *g, int64_t now_ms, const uint8_t *bytes,
                       size_t len, shoal_errinfo *ei)
{
    if (bytes == NULL && len > 0)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "gossip: no bytes given for %zu", len);
    gossip__datagram d;
    shoal_err err = gossip__decode(bytes, len, &d, ei);
    if (err != SHOAL_OK)
        return err;
    start(g, now_ms);
    int64_t now = clock_at(g, now_ms);

    /* The sender is alive at its incarnation: the head is a record of it
     * without meta. Another instance with our own name is not a member. */
    bool from_self = strcmp(d.name, self_of(g)->pub.name) == 0;
    member *sender = NULL;
    if (!from_self) {
        gossip__record head = {.node_id = d.node_id,
                               .state = GOSSIP_ALIVE,
                               .incarnation = d.incarnation};
        memcpy(head.name, d.name, sizeof head.name);
        memcpy(head.addr, d.addr, sizeof head.addr);
        err = merge(g, &head, false, now);
        g->joined = true;
        sender = find(g, d.name);
    }
    gossip__records it;
    gossip__record rec;
    gossip__records_begin(&it, bytes, len, &d);
    while (gossip__records_next(&it, &rec)) {
        shoal_err e = merge(g, &rec, true, now);
        if (err == SHOAL_OK)
            err = e;
    }
    if (from_self)
        return err;
    /* A sender we hold suspect or dead that does not know it yet hears it
     * in our answer, and refutes it. */
    if (sender != NULL && sender->pub.state == GOSSIP_ALIVE)
        sender = NULL;

    switch (d.type) {
    case GOSSIP__PING:
        if (strcmp(d.to, self_of(g)->pub.name) == 0)
            send_ack(g, d.addr, d.seq, sender);
        break;
    case GOSSIP__ACK:
        take_ack(g, d.seq);
        break;
    case GOSSIP__PING_REQ:
        if (!g->left)
            forward_ping(g, &d, now);
        break;
    case GOSSIP__SYNC:
        if (d.reply)
            send_state(g, d.addr, false);
        break;
    }
    return err;
}

/* ---- the caller's calls ---- */

shoal_err gossip_new(const gossip_config *cfg, gossip **out)
{
    if (cfg == NULL || out == NULL || cfg->send == NULL ||
        !valid_cstr(cfg->name, GOSSIP_NAME_MAX) ||
        !valid_cstr(cfg->addr, GOSSIP_ADDR_MAX) || cfg->node_id == 0 ||
        cfg->node_id > GOSSIP_NODE_ID_MAX || cfg->period_ms < 0 ||
        cfg->ping_timeout_ms < 0 || cfg->suspect_timeout_ms < 0 ||
        cfg->sync_ms < 0 || cfg->forget_ms < 0 ||
        cfg->indirect_probes > GOSSIP_INDIRECT_MAX)
        return SHOAL_EINVAL;
    gossip_config c = *cfg;
    if (c.period_ms == 0)
        c.period_ms = DEFAULT_PERIOD_MS;
    if (c.ping_timeout_ms == 0)
        c.ping_timeout_ms = DEFAULT_PING_TIMEOUT_MS;
    if (c.suspect_timeout_ms == 0)
        c.suspect_timeout_ms = DEFAULT_SUSPECT_TIMEOUT_MS;
    if (c.indirect_probes == 0)
        c.indirect_probes = DEFAULT_INDIRECT_PROBES;
    if (c.sync_ms == 0)
        c.sync_ms = DEFAULT_SYNC_MS;
    if (c.forget_ms == 0)
        c.forget_ms = DEFAULT_FORGET_MS;
    if (c.ping_timeout_ms >= c.period_ms)
        return SHOAL_EINVAL;

    gossip *g = calloc(1, sizeof *g);
    if (g == NULL)
        return SHOAL_ENOMEM;
    g->cap = 8;
    g->members = malloc(g->cap * sizeof *g->members);
    g->order = malloc(g->cap * sizeof *g->order);
    g->scratch = malloc((g->cap + 1) * sizeof *g->scratch);
    member *self = calloc(1, sizeof *self);
    if (g->members == NULL || g->order == NULL || g->scratch == NULL ||
        self == NULL)
        goto fail_free_arrays;
    strcpy(self->pub.name, c.name);
    strcpy(self->pub.addr, c.addr);
    self->pub.node_id = c.node_id;
    self->pub.state = GOSSIP_ALIVE;
    self->pub.incarnation = c.incarnation;
    self->pub.meta_version = c.incarnation;
    g->members[g->n++] = self;
    c.name = self->pub.name;
    c.addr = self->pub.addr;
    g->cfg = c;
    if (c.seed != 0) {
        g->rng = c.seed;
    } else {
        /* FNV-1a of the name. */
        g->rng = 0xcbf29ce484222325ull;
        for (const char *s = c.name; *s; s++)
            g->rng = (g->rng ^ (uint8_t)*s) * 0x100000001b3ull;
    }
    /* Probe numbers start somewhere random, so that a restarted node does
     * not take its old self's late acks for its own. */
    g->next_seq = rnd(g) >> 16;
    touch(g, self);
    msgpack_sbuffer_init(&g->buf);
    msgpack_packer_init(&g->pk, &g->buf, msgpack_sbuffer_write);
    *out = g;
    return SHOAL_OK;

fail_free_arrays:
    free(self);
    free(g->members);
    free(g->order);
    free(g->scratch);
    free(g);
    return SHOAL_ENOMEM;
}

static void free_seeds(gossip *g)
{
    for (size_t i = 0; i < g->nseeds; i++)
        free(g->seeds[i]);
    free(g->seeds);
    g->seeds = NULL;
    g->nseeds = 0;
}

void gossip_delete(gossip *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++)
        member_free(g->members[i]);
    free(g->members);
    free(g->order);
    free(g->scratch);
    free_seeds(g);
    msgpack_sbuffer_destroy(&g->buf);
    free(g);
}

shoal_err gossip_join(gossip *g, int64_t now_ms, const char *const *seeds,
                      size_t n)
{
    if (seeds == NULL && n > 0)
        return SHOAL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!valid_cstr(seeds[i], GOSSIP_ADDR_MAX))
            return SHOAL_EINVAL;
    }
    if (g->left)
        return SHOAL_ESTATE;
    char **copy = calloc(n > 0 ? n : 1, sizeof *copy);
    if (copy == NULL)
        return SHOAL_ENOMEM;
    size_t ncopy = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(seeds[i], self_of(g)->pub.addr) == 0)
            continue;
        size_t len = strlen(seeds[i]) + 1;
        copy[ncopy] = malloc(len);
        if (copy[ncopy] == NULL)
            goto fail_free_copy;
        memcpy(copy[ncopy++], seeds[i], len);
    }
    free_seeds(g);
    g->seeds = copy;
    g->nseeds = ncopy;
    start(g, now_ms);
    int64_t now = clock_at(g, now_ms);
    g->joined = false;
    g->join_retry_ms = now;
    g->join_backoff_ms = 2 * g->cfg.period_ms;
    join_step(g, now);
    return SHOAL_OK;

fail_free_copy:
    for (size_t i = 0; i < ncopy; i++)
        free(copy[i]);
    free(copy);
    return SHOAL_ENOMEM;
}

void gossip_leave(gossip *g, int64_t now_ms)
{
    if (g->left)
        return;
    start(g, now_ms);
    int64_t now = clock_at(g, now_ms);
    member *self = self_of(g);
    g->left = true;
    self->pub.incarnation++;
    set_state(self, GOSSIP_LEFT, now);
    touch(g, self);
    g->probe.active = false;
    for (size_t i = 1; i < g->n; i++) {
        member *m = g->members[i];
        if (is_gone(m))
            continue;
        gossip__datagram d = {.type = GOSSIP__SYNC, .reply = false};
        emit(g, m->pub.addr, &d, &self, 1);
    }
}

shoal_err gossip_set_meta(gossip *g, const uint8_t *meta, size_t len)
{
    if (len > GOSSIP_META_MAX || (meta == NULL && len > 0))
        return SHOAL_EINVAL;
    member *self = self_of(g);
    if (!set_meta_bytes(self, meta, len))
        return SHOAL_ENOMEM;
    self->pub.meta_version++;
    touch(g, self);
    return SHOAL_OK;
}

shoal_err gossip_suspect(gossip *g, int64_t now_ms, const char *name)
{
    member *m = name ? find(g, name) : NULL;
    if (m == NULL || m == self_of(g))
        return SHOAL_ENOTFOUND;
    if (!g->left && g->started)
        suspect(g, m, clock_at(g, now_ms));
    return SHOAL_OK;
}

shoal_err gossip_declare_dead(gossip *g, int64_t now_ms, const char *name)
{
    member *m = name ? find(g, name) : NULL;
    if (m == NULL || m == self_of(g))
        return SHOAL_ENOTFOUND;
    if (g->left || !g->started || is_gone(m))
        return SHOAL_OK;
    gossip_state old = m->pub.state;
    set_state(m, GOSSIP_DEAD, clock_at(g, now_ms));
    touch(g, m);
    notify(g, m, old);
    return SHOAL_OK;
}

size_t gossip_count(const gossip *g)
{
    return g->n;
}

const gossip_member *gossip_member_at(const gossip *g, size_t i)
{
    return i < g->n ? &g->members[i]->pub : NULL;
}

const gossip_member *gossip_find(const gossip *g, const char *name)
{
    if (name == NULL)
        return NULL;
    member *m = find(g, name);
    return m != NULL ? &m->pub : NULL;
}

const gossip_member *gossip_self(const gossip *g)
{
    return &self_of(g)->pub;
}

bool gossip_node_id_taken(const gossip *g, uint16_t id, const char *except_name)
{
    for (size_t i = 0; i < g->n; i++) {
        const gossip_member *m = &g->members[i]->pub;
        if (m->node_id == id &&
            (m->state == GOSSIP_ALIVE || m->state == GOSSIP_SUSPECT) &&
            (except_name == NULL || strcmp(m->name, except_name) != 0))
            return true;
    }
    return false;
}
