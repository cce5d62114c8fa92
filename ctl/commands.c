/* shoalctl's commands but apply: get, describe, scale, delete, logs, call
 * and version. Each builds one request (logs -f a series), sends it
 * through client.c and prints the reply for a person or as JSON or
 * YAML. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert.h"
#include "ctl.h"
#include "output.h"

#define LOGS_FOLLOW_INTERVAL_MS 500
/* How much longer than a call's own timeout shoalctl waits for the reply,
 * so that the node's ETIMEDOUT arrives before shoalctl gives up. */
#define CALL_REPLY_MARGIN_MS 2000

int ctl_fail(const ctl_env *env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("shoalctl: ", env->err);
    vfprintf(env->err, fmt, ap);
    fputc('\n', env->err);
    va_end(ap);
    return CTL_EXIT_FAIL;
}

int ctl_usage_error(const ctl_env *env, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(env->err, "shoalctl %s: ", cmd);
    vfprintf(env->err, fmt, ap);
    fprintf(env->err, " (see 'shoalctl %s --help')\n", cmd);
    va_end(ap);
    return CTL_EXIT_USAGE;
}

ctl_client *ctl_connect(const ctl_env *env)
{
    ctl_client *c = NULL;
    shoal_errinfo ei;
    if (ctl_client_open(env->node, env->timeout_ms, &c, &ei) != SHOAL_OK) {
        ctl_fail(env, "%s", ei.msg);
        return NULL;
    }
    return c;
}

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends what w holds and frees w. false after printing why it failed. */
static bool request(const ctl_env *env, ctl_client *c, api_writer *w,
                    ctl_reply *reply)
{
    shoal_errinfo ei;
    shoal_err err = ctl_client_send(c, w, reply, &ei);
    api_writer_free(w);
    if (err != SHOAL_OK) {
        ctl_fail(env, "%s", ei.msg);
        return false;
    }
    return true;
}

/* ---- Values as text ------------------------------------------------------
 */

/* o as a table cell or field: strings as they are, numbers in decimal,
 * nil or nothing as "-", anything else as compact JSON. */
static const char *text_of(const msgpack_object *o, char *buf, size_t size)
{
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return "-";
    if (o->type == MSGPACK_OBJECT_STR) {
        snprintf(buf, size, "%.*s", (int)o->via.str.size, o->via.str.ptr);
        return buf;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf(buf, size, "%" PRIu64, o->via.u64);
        return buf;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        snprintf(buf, size, "%" PRId64, o->via.i64);
        return buf;
    }
    FILE *mem = fmemopen(buf, size, "w");
    if (!mem)
        return "?";
    ctl_msgpack_to_json(o, 0, mem);
    fclose(mem);
    buf[size - 1] = 0;
    return buf;
}

static const char *field_text(const msgpack_object *map, const char *key,
                              char *buf, size_t size)
{
    return text_of(api_get(map, key), buf, size);
}

static const char *age_text(const msgpack_object *map, const char *key,
                            int64_t now, char *buf, size_t size)
{
    int64_t t = 0;
    if (!api_get_int(map, key, &t) || t <= 0)
        return "-";
    ctl_format_age(now - t, buf, size);
    return buf;
}

static const char *size_text(const msgpack_object *map, const char *key,
                             char *buf, size_t size)
{
    int64_t n = 0;
    if (!api_get_int(map, key, &n) || n < 0)
        return field_text(map, key, buf, size);
    ctl_format_size((uint64_t)n, buf, size);
    return buf;
}

/* A map of strings as "k=v,k=v", or "-" when empty. */
static const char *labels_text(const msgpack_object *map, const char *key,
                               char *buf, size_t size)
{
    const msgpack_object *o = api_get(map, key);
    if (!o || o->type != MSGPACK_OBJECT_MAP || o->via.map.size == 0)
        return "-";
    size_t used = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < o->via.map.size && used < size; i++) {
        char k[128], v[128];
        int w = snprintf(buf + used, size - used, "%s%s=%s", i ? "," : "",
                         text_of(&o->via.map.ptr[i].key, k, sizeof k),
                         text_of(&o->via.map.ptr[i].val, v, sizeof v));
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

/* "ready/desired" from two integer fields. */
static const char *ratio_text(const msgpack_object *map, const char *num,
                              const char *den, char *buf, size_t size)
{
    char a[32], b[32];
    snprintf(buf, size, "%s/%s", field_text(map, num, a, sizeof a),
             field_text(map, den, b, sizeof b));
    return buf;
}

/* ---- JSON and YAML output ------------------------------------------------
 */

static int print_value(const ctl_env *env, const msgpack_object *o)
{
    if (env->format == CTL_FORMAT_JSON) {
        ctl_msgpack_to_json(o, 2, env->out);
        fputc('\n', env->out);
        return CTL_EXIT_OK;
    }
    shoal_errinfo ei;
    if (ctl_msgpack_to_yaml(o, env->out, &ei) != SHOAL_OK)
        return ctl_fail(env, "%s", ei.msg);
    return CTL_EXIT_OK;
}

/* A reply's fields without "v" and "ok", which are the protocol's. */
static int print_reply(const ctl_env *env, const msgpack_object *root)
{
    uint32_t n = root->via.map.size;
    msgpack_object_kv *kv = calloc(n ? n : 1, sizeof *kv);
    if (!kv)
        return ctl_fail(env, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *key = &root->via.map.ptr[i].key;
        if (!api_str_eq(key, "v") && !api_str_eq(key, "ok"))
            kv[k++] = root->via.map.ptr[i];
    }
    msgpack_object view = {.type = MSGPACK_OBJECT_MAP,
                           .via.map = {.size = k, .ptr = kv}};
    int status = print_value(env, &view);
    free(kv);
    return status;
}

/* ---- get -----------------------------------------------------------------
 */

#define CELL 256
#define MAX_COLS 12

typedef struct get_kind {
    const char *what;  /* "apps" */
    const char *op;    /* "app.list" */
    const char *field; /* the reply's array */
    const char *none;  /* said when it is empty */
    size_t ncols;
    const char *headers[MAX_COLS];
} get_kind;

static const get_kind get_kinds[] = {
    {"apps",
     "app.list",
     "apps",
     "No applications.",
     5,
     {"NAME", "VERSION", "READY", "ROLLOUT", "UPDATED"}},
    {"actors",
     "actor.list",
     "actors",
     "No actors.",
     9,
     {"APP", "ACTOR", "REPLICA", "ID", "NODE", "STATE", "VERSION", "RESTARTS",
      "AGE"}},
    {"nodes",
     "node.list",
     "nodes",
     "No nodes.",
     8,
     {"NAME", "ID", "ADDRESS", "STATE", "CAPACITY", "ACTORS", "MEMORY",
      "LABELS"}},
};

/* Fills one table row's cells from item, an element of the reply's
 * array. */
static void get_row(const get_kind *k, const msgpack_object *item, int64_t now,
                    char (*buf)[CELL], const char **cells)
{
    size_t i = 0;
    if (strcmp(k->what, "apps") == 0) {
        cells[i] = field_text(item, "name", buf[i], CELL), i++;
        cells[i] = field_text(item, "version", buf[i], CELL), i++;
        cells[i] = ratio_text(item, "ready", "desired", buf[i], CELL), i++;
        cells[i] = field_text(item, "rollout", buf[i], CELL), i++;
        cells[i] = age_text(item, "updated_ms", now, buf[i], CELL), i++;
    } else if (strcmp(k->what, "actors") == 0) {
        static const char *const keys[] = {"app",     "actor",   "replica",
                                           "id",      "node",    "state",
                                           "version", "restarts"};
        for (; i < sizeof keys / sizeof keys[0]; i++)
            cells[i] = field_text(item, keys[i], buf[i], CELL);
        cells[i] = age_text(item, "started_ms", now, buf[i], CELL), i++;
    } else {
        static const char *const keys[] = {"name",  "id",       "address",
                                           "state", "capacity", "actors"};
        for (; i < sizeof keys / sizeof keys[0]; i++)
            cells[i] = field_text(item, keys[i], buf[i], CELL);
        cells[i] = size_text(item, "memory", buf[i], CELL), i++;
        cells[i] = labels_text(item, "labels", buf[i], CELL), i++;
    }
}

static int print_table(const ctl_env *env, const get_kind *k,
                       const msgpack_object *items)
{
    uint32_t n = items && items->type == MSGPACK_OBJECT_ARRAY
                     ? items->via.array.size
                     : 0;
    if (n == 0) {
        fprintf(env->err, "%s\n", k->none);
        return CTL_EXIT_OK;
    }
    ctl_table *t = ctl_table_new(k->ncols, k->headers);
    if (!t)
        return ctl_fail(env, "out of memory");
    int64_t now = ctl_now_ms();
    char buf[MAX_COLS][CELL];
    const char *cells[MAX_COLS];
    for (uint32_t i = 0; i < n; i++) {
        get_row(k, &items->via.array.ptr[i], now, buf, cells);
        if (ctl_table_add(t, cells) != SHOAL_OK) {
            ctl_table_free(t);
            return ctl_fail(env, "out of memory");
        }
    }
    ctl_table_print(t, 0, env->out);
    ctl_table_free(t);
    return CTL_EXIT_OK;
}

int ctl_get(const ctl_env *env, const char *what, const char *app)
{
    const get_kind *k = NULL;
    for (size_t i = 0; i < sizeof get_kinds / sizeof get_kinds[0]; i++)
        if (strcmp(get_kinds[i].what, what) == 0)
            k = &get_kinds[i];
    if (!k)
        return ctl_usage_error(
            env, "get", "cannot get \"%s\": use apps, actors or nodes", what);
    ctl_client *c = ctl_connect(env);
    if (!c)
        return CTL_EXIT_FAIL;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, k->op, app ? 1 : 0);
    if (app)
        api_pack_kv_str(&w.pk, "app", app);
    ctl_reply reply;
    int status = CTL_EXIT_FAIL;
    if (request(env, c, &w, &reply)) {
        const msgpack_object *items = api_get(reply.root, k->field);
        if (env->format == CTL_FORMAT_TABLE) {
            status = print_table(env, k, items);
        } else {
            msgpack_object empty = {.type = MSGPACK_OBJECT_ARRAY};
            status = print_value(env, items ? items : &empty);
        }
        ctl_reply_free(&reply);
    }
    ctl_client_close(c);
    return status;
}

/* ---- describe ------------------------------------------------------------
 */

/* One "Label:  value" line, the values of a block aligned. */
static void describe_line(FILE *out, int indent, const char *label,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void describe_line(FILE *out, int indent, const char *label,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "%*s%s:%*s", indent, "", label, (int)(12 - (int)strlen(label)),
            "");
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
}

/* A limit in bytes or a count, where 0 means the node's default. */
static void limit_text(const msgpack_object *limits, const char *key,
                       bool bytes, char *buf, size_t size)
{
    int64_t v = 0;
    if (!api_get_int(limits, key, &v)) {
        field_text(limits, key, buf, size);
        return;
    }
    if (v == 0)
        snprintf(buf, size, "node default");
    else if (bytes)
        ctl_format_size((uint64_t)v, buf, size);
    else
        snprintf(buf, size, "%" PRId64, v);
}

/* A link's config: a map, or msgpack in a bin; shown as compact JSON. */
static void print_config(FILE *out, const msgpack_object *config)
{
    if (config && config->type == MSGPACK_OBJECT_BIN) {
        msgpack_unpacked u;
        size_t off = 0;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, config->via.bin.ptr, config->via.bin.size,
                                &off) == MSGPACK_UNPACK_SUCCESS &&
            off == config->via.bin.size) {
            ctl_msgpack_to_json(&u.data, 0, out);
            msgpack_unpacked_destroy(&u);
            return;
        }
        msgpack_unpacked_destroy(&u);
    }
    if (config)
        ctl_msgpack_to_json(config, 0, out);
    else
        fputs("{}", out);
}

/* The part of an actor common to describe app and describe actor. */
static void describe_actor_spec(FILE *out, int indent, const msgpack_object *a)
{
    char b1[CELL], b2[CELL], b3[CELL];
    describe_line(out, indent, "Module", "%s",
                  field_text(a, "module", b1, sizeof b1));
    describe_line(out, indent, "Replicas", "%s desired, %s ready",
                  field_text(a, "replicas", b1, sizeof b1),
                  field_text(a, "ready", b2, sizeof b2));
    describe_line(out, indent, "Restarts", "%s",
                  field_text(a, "restarts", b1, sizeof b1));
    const msgpack_object *limits = api_get(a, "limits");
    limit_text(limits, "memory", true, b1, sizeof b1);
    limit_text(limits, "fuel_per_message", false, b2, sizeof b2);
    limit_text(limits, "mailbox", false, b3, sizeof b3);
    describe_line(out, indent, "Limits",
                  "memory %s, fuel per message %s, mailbox %s", b1, b2, b3);
    describe_line(out, indent, "Restart", "%s",
                  field_text(a, "restart", b1, sizeof b1));
    const msgpack_object *links = api_get(a, "links");
    if (!links || links->type != MSGPACK_OBJECT_ARRAY ||
        links->via.array.size == 0) {
        describe_line(out, indent, "Links", "none");
        return;
    }
    for (uint32_t i = 0; i < links->via.array.size; i++) {
        const msgpack_object *l = &links->via.array.ptr[i];
        if (i == 0)
            fprintf(out, "%*sLinks:%*s", indent, "", 12 - 5, "");
        else
            fprintf(out, "%*s", indent + 13, "");
        fprintf(out, "%s ", field_text(l, "provider", b1, sizeof b1));
        print_config(out, api_get(l, "config"));
        fputc('\n', out);
    }
}

int ctl_describe_app(const ctl_env *env, const char *app)
{
    ctl_client *c = ctl_connect(env);
    if (!c)
        return CTL_EXIT_FAIL;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "app.get", 1);
    api_pack_kv_str(&w.pk, "app", app);
    ctl_reply reply;
    if (!request(env, c, &w, &reply)) {
        ctl_client_close(c);
        return CTL_EXIT_FAIL;
    }
    ctl_client_close(c);
    if (env->format != CTL_FORMAT_TABLE) {
        int status = print_reply(env, reply.root);
        ctl_reply_free(&reply);
        return status;
    }
    FILE *out = env->out;
    const msgpack_object *r = reply.root;
    char b1[CELL], b2[CELL], b3[64];
    int64_t updated = 0;
    describe_line(out, 0, "Name", "%s", field_text(r, "name", b1, CELL));
    describe_line(out, 0, "Version", "%s", field_text(r, "version", b1, CELL));
    if (api_get_int(r, "updated_ms", &updated) && updated > 0) {
        ctl_format_time(updated, b1, sizeof b1);
        ctl_format_age(ctl_now_ms() - updated, b3, sizeof b3);
        describe_line(out, 0, "Updated", "%s (%s ago)", b1, b3);
    }
    describe_line(out, 0, "Rollout", "%s", field_text(r, "rollout", b1, CELL));
    if (api_get(r, "desired"))
        describe_line(out, 0, "Replicas", "%s desired, %s ready",
                      field_text(r, "desired", b1, CELL),
                      field_text(r, "ready", b2, CELL));
    if (api_get(r, "file"))
        describe_line(out, 0, "File", "%s", field_text(r, "file", b1, CELL));
    const msgpack_object *actors = api_get(r, "actors");
    uint32_t n = actors && actors->type == MSGPACK_OBJECT_ARRAY
                     ? actors->via.array.size
                     : 0;
    fprintf(out, "Actors:%s\n", n ? "" : "     none");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *a = &actors->via.array.ptr[i];
        fprintf(out, "  %s\n", field_text(a, "name", b2, CELL));
        describe_actor_spec(out, 4, a);
    }
    ctl_reply_free(&reply);
    return CTL_EXIT_OK;
}

static const char *yes_no(const msgpack_object *map, const char *key)
{
    bool v = false;
    if (!api_get_bool(map, key, &v))
        return "-";
    return v ? "yes" : "no";
}

/* The table of an actor's instances (replicas) in describe actor. */
static void describe_instances(const ctl_env *env, const msgpack_object *reps)
{
    static const char *const headers[] = {
        "REPLICA",  "ID",  "NODE",    "STATE", "VERSION",  "CURRENT",
        "RESTARTS", "AGE", "MAILBOX", "FUEL",  "LAST EXIT"};
    enum { NCOLS = sizeof headers / sizeof headers[0] };
    uint32_t n =
        reps && reps->type == MSGPACK_OBJECT_ARRAY ? reps->via.array.size : 0;
    if (n == 0) {
        describe_line(env->out, 0, "Instances", "none");
        return;
    }
    ctl_table *t = ctl_table_new(NCOLS, headers);
    if (!t)
        return;
    int64_t now = ctl_now_ms();
    char buf[NCOLS][CELL];
    const char *cells[NCOLS];
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *r = &reps->via.array.ptr[i];
        static const char *const keys[] = {"replica", "id", "node", "state",
                                           "version"};
        size_t c = 0;
        for (; c < sizeof keys / sizeof keys[0]; c++)
            cells[c] = field_text(r, keys[c], buf[c], CELL);
        cells[c++] = yes_no(r, "current");
        cells[c] = field_text(r, "restarts", buf[c], CELL), c++;
        cells[c] = age_text(r, "started_ms", now, buf[c], CELL), c++;
        cells[c] = field_text(r, "mailbox", buf[c], CELL), c++;
        cells[c] = field_text(r, "fuel", buf[c], CELL), c++;
        cells[c] = field_text(r, "last_exit", buf[c], CELL), c++;
        if (ctl_table_add(t, cells) != SHOAL_OK)
            break;
    }
    fprintf(env->out, "Instances:\n");
    ctl_table_print(t, 2, env->out);
    ctl_table_free(t);
}

int ctl_describe_actor(const ctl_env *env, const char *app, const char *actor)
{
    ctl_client *c = ctl_connect(env);
    if (!c)
        return CTL_EXIT_FAIL;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "actor.get", 2);
    api_pack_kv_str(&w.pk, "app", app);
    api_pack_kv_str(&w.pk, "actor", actor);
    ctl_reply reply;
    if (!request(env, c, &w, &reply)) {
        ctl_client_close(c);
        return CTL_EXIT_FAIL;
    }
    ctl_client_close(c);
    /* The reply's "actor" map holds the actor. */
    const msgpack_object *a = api_get(reply.root, "actor");
    if (!a || a->type != MSGPACK_OBJECT_MAP) {
        ctl_reply_free(&reply);
        return ctl_fail(env, "the node's reply to actor.get has no actor");
    }
    if (env->format != CTL_FORMAT_TABLE) {
        int status = print_value(env, a);
        ctl_reply_free(&reply);
        return status;
    }
    char b[CELL];
    describe_line(env->out, 0, "App", "%s", field_text(a, "app", b, CELL));
    describe_line(env->out, 0, "Actor", "%s", field_text(a, "name", b, CELL));
    describe_actor_spec(env->out, 0, a);
    describe_instances(env, api_get(a, "instances"));
    ctl_reply_free(&reply);
    return CTL_EXIT_OK;
}

/* ---- scale, delete -------------------------------------------------------
 */

int ctl_scale(const ctl_env *env, const char *app, const char *actor,
              uint32_t replicas)
{
    ctl_client *c = ctl_connect(env);
    if (!c)
        return CTL_EXIT_FAIL;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "scale", 3);
    api_pack_kv_str(&w.pk, "app", app);
    api_pack_kv_str(&w.pk, "actor", actor);
    api_pack_kv_int(&w.pk, "replicas", replicas);
    ctl_reply reply;
    int status = CTL_EXIT_FAIL;
    if (request(env, c, &w, &reply)) {
        char b[CELL];
        fprintf(env->out,
                "%s/%s scaled to %" PRIu32 " replica%s (app version %s)\n", app,
                actor, replicas, replicas == 1 ? "" : "s",
                field_text(reply.root, "version", b, CELL));
        ctl_reply_free(&reply);
        status = CTL_EXIT_OK;
    }
    ctl_client_close(c);
    return status;
}

int ctl_delete_app(const ctl_env *env, const char *app)
{
    ctl_client *c = ctl_connect(env);
    if (!c)
        return CTL_EXIT_FAIL;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "app.delete", 1);
    api_pack_kv_str(&w.pk, "app", app);
    ctl_reply reply;
    int status = CTL_EXIT_FAIL;
    if (request(env, c, &w, &reply)) {
        fprintf(env->out, "app %s deleted\n", app);
        ctl_reply_free(&reply);
        status = CTL_EXIT_OK;
    }
    ctl_client_close(c);
    return status;
}

/* ---- logs ----------------------------------------------------------------
 */

/* Prints the lines of a logs reply as "TIME replica=N LEVEL TEXT" and
 * returns the seq to ask for lines after next time. */
static int64_t print_log_lines(const ctl_env *env, const msgpack_object *r,
                               int64_t after)
{
    const msgpack_object *lines = api_get(r, "lines");
    uint32_t n = lines && lines->type == MSGPACK_OBJECT_ARRAY
                     ? lines->via.array.size
                     : 0;
    char when[64], rep[32], level[64];
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *l = &lines->via.array.ptr[i];
        int64_t seq = 0, t = 0;
        if (api_get_int(l, "seq", &seq) && seq > after)
            after = seq;
        if (api_get_int(l, "time_ms", &t))
            ctl_format_time(t, when, sizeof when);
        else
            snprintf(when, sizeof when, "-");
        const char *text = "";
        size_t len = 0;
        api_get_str(l, "text", &text, &len);
        /* A line carries no newline of its own in the output format. */
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            len--;
        fprintf(env->out, "%s replica=%s %s %.*s\n", when,
                field_text(l, "replica", rep, sizeof rep),
                field_text(l, "level", level, sizeof level), (int)len, text);
    }
    int64_t next = 0;
    if (api_get_int(r, "next", &next) && next > after)
        after = next;
    fflush(env->out);
    return after;
}

static bool logs_request(const ctl_env *env, ctl_client *c, const char *app,
                         const char *actor, int64_t tail, int64_t after,
                         ctl_reply *reply)
{
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "logs", 2 + (tail >= 0) + (after >= 0));
    api_pack_kv_str(&w.pk, "app", app);
    api_pack_kv_str(&w.pk, "actor", actor);
    if (tail >= 0)
        api_pack_kv_int(&w.pk, "tail", tail);
    if (after >= 0)
        api_pack_kv_int(&w.pk, "after", after);
    return request(env, c, &w, reply);
}

int ctl_logs(const ctl_env *env, const char *app, const char *actor,
             bool follow, int64_t tail)
{
    /* With -f, SIGINT and SIGTERM end the wait between two polls, and
     * shoalctl exits 0 as a follow is meant to end. They are blocked
     * before the socket's threads start, which inherit the mask, so that
     * only sigtimedwait below takes them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (follow)
        pthread_sigmask(SIG_BLOCK, &stop, NULL);

    ctl_client *c = ctl_connect(env);
    if (!c)
        return CTL_EXIT_FAIL;
    ctl_reply reply;
    if (!logs_request(env, c, app, actor, tail, -1, &reply)) {
        ctl_client_close(c);
        return CTL_EXIT_FAIL;
    }
    int64_t after = print_log_lines(env, reply.root, 0);
    ctl_reply_free(&reply);
    int status = CTL_EXIT_OK;
    while (follow) {
        struct timespec wait = {.tv_sec = 0,
                                .tv_nsec = LOGS_FOLLOW_INTERVAL_MS * 1000000L};
        int sig = sigtimedwait(&stop, NULL, &wait);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            status = ctl_fail(env, "cannot wait: %s", strerror(errno));
            break;
        }
        /* With "after" and no "tail" the node sends every newer line, so
         * a burst between two polls is not cut to its default tail. */
        if (!logs_request(env, c, app, actor, -1, after, &reply)) {
            status = CTL_EXIT_FAIL;
            break;
        }
        after = print_log_lines(env, reply.root, after);
        ctl_reply_free(&reply);
    }
    ctl_client_close(c);
    return status;
}

/* ---- call ----------------------------------------------------------------
 */

int ctl_call(const ctl_env *env, const char *app, const char *actor,
             const char *json)
{
    uint8_t *data = NULL;
    size_t len = 0;
    shoal_errinfo ei;
    shoal_err err = ctl_json_to_msgpack(json, strlen(json), &data, &len, &ei);
    if (err == SHOAL_EINVAL)
        return ctl_usage_error(env, "call", "--data: %s", ei.msg);
    if (err != SHOAL_OK)
        return ctl_fail(env, "%s", ei.msg);

    ctl_client *c = ctl_connect(env);
    if (!c) {
        free(data);
        return CTL_EXIT_FAIL;
    }
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "call", 4);
    api_pack_kv_str(&w.pk, "app", app);
    api_pack_kv_str(&w.pk, "actor", actor);
    api_pack_kv_bin(&w.pk, "data", data, len);
    api_pack_kv_int(&w.pk, "timeout_ms", env->timeout_ms);
    free(data);
    int64_t wait = env->timeout_ms + CALL_REPLY_MARGIN_MS;
    ctl_client_set_timeout(c, wait > INT32_MAX ? INT32_MAX : wait);
    ctl_reply reply;
    int status = CTL_EXIT_FAIL;
    if (request(env, c, &w, &reply)) {
        const msgpack_object *d = api_get(reply.root, "data");
        if (d && d->type == MSGPACK_OBJECT_BIN) {
            msgpack_unpacked u;
            size_t off = 0;
            msgpack_unpacked_init(&u);
            if (msgpack_unpack_next(&u, d->via.bin.ptr, d->via.bin.size,
                                    &off) == MSGPACK_UNPACK_SUCCESS &&
                off == d->via.bin.size)
                ctl_msgpack_to_json(&u.data, 0, env->out);
            else
                ctl_msgpack_to_json(d, 0, env->out); /* {"$bin": ...} */
            msgpack_unpacked_destroy(&u);
            fputc('\n', env->out);
            status = CTL_EXIT_OK;
        } else {
            status = ctl_fail(env, "the node's reply to call has no data");
        }
        ctl_reply_free(&reply);
    }
    ctl_client_close(c);
    return status;
}

/* ---- version -------------------------------------------------------------
 */

int ctl_version(const ctl_env *env, bool client_only)
{
    /* Both lines go out in one write at exit, so that a reader that stops
     * at the first (grep -q) does not cut shoalctl off with SIGPIPE. */
    fprintf(env->out, "shoalctl %s\n", SHOAL_VERSION);
    if (client_only)
        return CTL_EXIT_OK;
    ctl_client *c = ctl_connect(env);
    if (!c)
        return CTL_EXIT_FAIL;
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "version", 0);
    ctl_reply reply;
    int status = CTL_EXIT_FAIL;
    if (request(env, c, &w, &reply)) {
        char node[CELL], version[CELL], api[32];
        fprintf(env->out, "node %s: shoald %s, control API %s\n",
                field_text(reply.root, "node", node, CELL),
                field_text(reply.root, "version", version, CELL),
                field_text(reply.root, "api", api, sizeof api));
        ctl_reply_free(&reply);
        status = CTL_EXIT_OK;
    }
    ctl_client_close(c);
    return status;
}
