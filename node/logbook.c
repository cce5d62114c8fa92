/* Logs: the node's structured lines on stderr, and a bounded ring of recent
 * lines per app/actor that `shoalctl logs` reads. */
#include "node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_LINES 1000   /* lines kept per app/actor */
#define LINE_MAX_LEN 2048 /* longer lines are cut */
#define ID_BUCKETS 4096
/* Lines of actors not attached yet: an actor may log during its start-up
 * before its spawner has attached it. */
#define ORPHAN_LINES 256

typedef struct log_line {
    uint64_t seq;
    int64_t time_ms;
    uint32_t replica;
    int level;
    size_t len;
    char text[];
} log_line;

struct log_ring {
    char *app, *actor;
    log_line *lines[RING_LINES];
    uint64_t next_seq; /* the seq of the next line; the first is 1 */
    log_ring *next;
};

typedef struct id_entry {
    actor_id id;
    log_ring *ring;
    uint32_t replica;
    char label[160]; /* app/actor/replica, for the node's stderr line */
    struct id_entry *next;
} id_entry;

typedef struct orphan {
    actor_id id;
    log_line *line;
} orphan;

struct logbook {
    pthread_mutex_t lock;
    log_ring *rings;
    id_entry *ids[ID_BUCKETS];
    orphan orphans[ORPHAN_LINES]; /* a ring, oldest overwritten */
    uint32_t next_orphan;
};

static const char *level_name(int level)
{
    switch (level) {
    case LOG_ERROR:
        return "error";
    case LOG_WARN:
        return "warn";
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

/* Writes s as a logfmt value: quoted, with quotes, backslashes and
 * control characters escaped. */
static void put_quoted(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_line(int level, const char *component, const char *actor,
                     const char *msg, size_t len)
{
    int64_t ms = node__now_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    flockfile(stderr);
    fprintf(stderr, "time=%s.%03dZ level=%s component=%s", stamp,
            (int)(ms % 1000), level_name(level), component);
    if (actor)
        fprintf(stderr, " actor=%s", actor);
    fputs(" msg=", stderr);
    put_quoted(stderr, msg, len);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void node_log(node *n, int level, const char *component, const char *actor,
              const char *fmt, ...)
{
    if (level > n->opt.log_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof buf)
        len = sizeof buf - 1;
    put_line(level, component, actor, buf, (size_t)len);
}

shoal_err logbook_new(logbook **out)
{
    logbook *lb = calloc(1, sizeof *lb);
    if (lb == NULL)
        return SHOAL_ENOMEM;
    pthread_mutex_init(&lb->lock, NULL);
    *out = lb;
    return SHOAL_OK;
}

static void ring_free(log_ring *r)
{
    for (size_t i = 0; i < RING_LINES; i++)
        free(r->lines[i]);
    free(r->app);
    free(r->actor);
    free(r);
}

void logbook_delete(logbook *lb)
{
    if (lb == NULL)
        return;
    for (size_t b = 0; b < ID_BUCKETS; b++) {
        id_entry *e = lb->ids[b];
        while (e) {
            id_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    for (size_t i = 0; i < ORPHAN_LINES; i++)
        free(lb->orphans[i].line);
    log_ring *r = lb->rings;
    while (r) {
        log_ring *next = r->next;
        ring_free(r);
        r = next;
    }
    pthread_mutex_destroy(&lb->lock);
    free(lb);
}

log_ring *logbook_ring(logbook *lb, const char *app, const char *actor)
{
    pthread_mutex_lock(&lb->lock);
    log_ring *r;
    for (r = lb->rings; r; r = r->next)
        if (strcmp(r->app, app) == 0 && strcmp(r->actor, actor) == 0)
            break;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r) {
            r->app = strdup(app);
            r->actor = strdup(actor);
            r->next_seq = 1;
            if (!r->app || !r->actor) {
                ring_free(r);
                r = NULL;
            } else {
                r->next = lb->rings;
                lb->rings = r;
            }
        }
    }
    pthread_mutex_unlock(&lb->lock);
    return r;
}

void logbook_drop_ring(logbook *lb, const char *app, const char *actor)
{
    pthread_mutex_lock(&lb->lock);
    for (log_ring **p = &lb->rings; *p; p = &(*p)->next) {
        log_ring *r = *p;
        if (strcmp(r->app, app) == 0 && strcmp(r->actor, actor) == 0) {
            /* Actors still attached to it log nowhere from now on. */
            for (size_t b = 0; b < ID_BUCKETS; b++)
                for (id_entry *e = lb->ids[b]; e; e = e->next)
                    if (e->ring == r)
                        e->ring = NULL;
            *p = r->next;
            ring_free(r);
            break;
        }
    }
    pthread_mutex_unlock(&lb->lock);
}

/* Appends line (taken) to r as replica's (lb->lock held). */
static void ring_add(log_ring *r, log_line *line, uint32_t replica)
{
    line->seq = r->next_seq++;
    line->replica = replica;
    size_t slot = line->seq % RING_LINES;
    free(r->lines[slot]);
    r->lines[slot] = line;
}

static size_t bucket_of(actor_id id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 52) % ID_BUCKETS;
}

void logbook_attach(logbook *lb, actor_id id, log_ring *ring, uint32_t replica,
                    const char *label)
{
    id_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return; /* its lines then go to stderr only */
    e->id = id;
    e->ring = ring;
    e->replica = replica;
    snprintf(e->label, sizeof e->label, "%s", label);
    size_t b = bucket_of(id);
    pthread_mutex_lock(&lb->lock);
    e->next = lb->ids[b];
    lb->ids[b] = e;
    /* Its lines from before, oldest first. */
    for (uint32_t k = 0; k < ORPHAN_LINES; k++) {
        orphan *o = &lb->orphans[(lb->next_orphan + k) % ORPHAN_LINES];
        if (o->line == NULL || o->id != id)
            continue;
        if (ring)
            ring_add(ring, o->line, replica);
        else
            free(o->line);
        o->line = NULL;
    }
    pthread_mutex_unlock(&lb->lock);
}

void logbook_detach(logbook *lb, actor_id id)
{
    size_t b = bucket_of(id);
    pthread_mutex_lock(&lb->lock);
    for (id_entry **p = &lb->ids[b]; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            id_entry *e = *p;
            *p = e->next;
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&lb->lock);
}

void logbook_actor_log(void *node_ctx, actor_id id, int actor_level,
                       const char *msg, size_t len)
{
    node *n = node_ctx;
    /* Actors count up (0 debug .. 3 error), the node down (0 error). */
    int level = actor_level < 0   ? LOG_DEBUG
                : actor_level > 3 ? LOG_ERROR
                                  : 3 - actor_level;
    logbook *lb = n->logs;
    if (len > LINE_MAX_LEN)
        len = LINE_MAX_LEN;
    char label[160];
    snprintf(label, sizeof label, "%016llx", (unsigned long long)id);
    log_line *line = malloc(sizeof *line + len);
    pthread_mutex_lock(&lb->lock);
    id_entry *e;
    for (e = lb->ids[bucket_of(id)]; e; e = e->next)
        if (e->id == id)
            break;
    if (line) {
        line->time_ms = node__now_ms();
        line->level = level;
        line->len = len;
        memcpy(line->text, msg, len);
    }
    if (e) {
        memcpy(label, e->label, sizeof label);
        if (e->ring && line) {
            ring_add(e->ring, line, e->replica);
            line = NULL;
        }
    } else if (line) {
        orphan *o = &lb->orphans[lb->next_orphan];
        lb->next_orphan = (lb->next_orphan + 1) % ORPHAN_LINES;
        free(o->line);
        o->id = id;
        o->line = line;
        line = NULL;
    }
    pthread_mutex_unlock(&lb->lock);
    free(line);
    if (level <= n->opt.log_level)
        put_line(level, "actor", label, msg, len);
}

void logbook_pack(logbook *lb, log_ring *r, uint64_t after, uint32_t tail,
                  msgpack_packer *pk)
{
    pthread_mutex_lock(&lb->lock);
    uint64_t last = r->next_seq - 1;
    uint64_t first = last >= RING_LINES ? last - RING_LINES + 1 : 1;
    if (after + 1 > first)
        first = after + 1;
    if (tail < last + 1 - first && last + 1 > first)
        first = last + 1 - tail;
    uint64_t count = last + 1 > first ? last + 1 - first : 0;
    api_pack_str(pk, "lines");
    msgpack_pack_array(pk, (uint32_t)count);
    for (uint64_t seq = first; seq <= last; seq++) {
        const log_line *l = r->lines[seq % RING_LINES];
        msgpack_pack_map(pk, 5);
        api_pack_kv_int(pk, "seq", (int64_t)seq);
        api_pack_kv_int(pk, "time_ms", l->time_ms);
        api_pack_kv_int(pk, "replica", l->replica);
        api_pack_kv_str(pk, "level", level_name(l->level));
        api_pack_str(pk, "text");
        api_pack_strn(pk, l->text, l->len);
    }
    api_pack_kv_int(pk, "next", (int64_t)last);
    pthread_mutex_unlock(&lb->lock);
}
