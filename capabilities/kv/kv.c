/* The shoal:kv provider's core (kv.h): the contract's requests
 * (docs/provider-kv.md) against one SQLite table.
 *
 * A request goes: kv__mp_check (well-formed, not too deep) → parse_request
 * (the fields of its map) → call_prepare (the op, typed and checked fields,
 * canonical values; no database yet) → the op's run function, inside a
 * savepoint of the batch's transaction → its reply. Replies are built
 * before the commit, and a failed commit turns the successes it lost into
 * errors, so a success reply always means a committed write. */
#include "kv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "kv_impl.h"

/* Keys and buckets are BLOBs so that SQLite compares them with memcmp (the
 * shorter first on a common prefix): byte order, whatever the bytes. */
static const char schema_v1[] = "CREATE TABLE kv ("
                                "  bucket BLOB NOT NULL,"
                                "  key BLOB NOT NULL,"
                                "  value BLOB NOT NULL,"
                                "  PRIMARY KEY (bucket, key)"
                                ") WITHOUT ROWID;"
                                "PRAGMA user_version = 1;";

/* The statements, prepared once by kv_open. The list statements take the
 * bucket, the lower bound, the upper bound (when they have one) and the
 * row limit; "LIST_GT" starts after a key, "LIST_GE" at a prefix. */
#define KV_LIST_SQL(lower, upper)                                              \
    "SELECT key, value FROM kv WHERE bucket = ?1 AND key " lower " ?2 " upper  \
    " ORDER BY key LIMIT ?4"
#define KV_STATEMENTS(X)                                                       \
    X(GET, "SELECT value FROM kv WHERE bucket = ?1 AND key = ?2")              \
    X(PUT,                                                                     \
      "INSERT OR REPLACE INTO kv (bucket, key, value) VALUES (?1, ?2, ?3)")    \
    X(DELETE, "DELETE FROM kv WHERE bucket = ?1 AND key = ?2")                 \
    X(LIST_GE, KV_LIST_SQL(">=", ""))                                          \
    X(LIST_GE_LT, KV_LIST_SQL(">=", "AND key < ?3"))                           \
    X(LIST_GT, KV_LIST_SQL(">", ""))                                           \
    X(LIST_GT_LT, KV_LIST_SQL(">", "AND key < ?3"))                            \
    X(BEGIN, "BEGIN IMMEDIATE")                                                \
    X(COMMIT, "COMMIT")                                                        \
    X(ROLLBACK, "ROLLBACK")                                                    \
    X(SAVEPOINT, "SAVEPOINT request")                                          \
    X(RELEASE, "RELEASE request")                                              \
    X(ROLLBACK_TO, "ROLLBACK TO request")

enum stmt_id {
#define KV_STMT_ENUM(name, sql) ST_##name,
    KV_STATEMENTS(KV_STMT_ENUM)
#undef KV_STMT_ENUM
        ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
#define KV_STMT_SQL(name, sql) sql,
    KV_STATEMENTS(KV_STMT_SQL)
#undef KV_STMT_SQL
};

struct kv_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
};

/* Bytes: a key, a bucket's name, or one msgpack object. */
typedef struct span {
    const uint8_t *p;
    size_t len;
} span;

/* ---- replies ----
 *
 * A writer packs with msgpack-c into a growable buffer and remembers a
 * failed allocation, after which it writes nothing more. */

typedef struct writer {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool failed;
} writer;

static int writer_write(void *data, const char *buf, size_t len)
{
    writer *w = data;
    if (w->failed)
        return -1;
    if (len == 0)
        return 0;
    if (msgpack_sbuffer_write(&w->sb, buf, len) != 0) {
        w->failed = true;
        return -1;
    }
    return 0;
}

static void writer_init(writer *w)
{
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, w, writer_write);
    w->failed = false;
}

static void writer_free(writer *w)
{
    msgpack_sbuffer_destroy(&w->sb);
}

static void pack_raw(writer *w, span v)
{
    writer_write(w, (const char *)v.p, v.len);
}

static void pack_cstr(writer *w, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(&w->pk, n);
    msgpack_pack_str_body(&w->pk, s, n);
}

static void pack_bytes_str(writer *w, span s)
{
    msgpack_pack_str(&w->pk, s.len);
    msgpack_pack_str_body(&w->pk, s.p, s.len);
}

static void pack_bool(writer *w, bool b)
{
    if (b)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

/* Starts {"ok": true, ...} with n_fields more fields to come. */
static void pack_ok(writer *w, uint32_t n_fields)
{
    msgpack_pack_map(&w->pk, n_fields + 1);
    pack_cstr(w, "ok");
    pack_bool(w, true);
}

/* An error reply {"ok": false, "error": NAME, "message": msg}, or NULL
 * when even that finds no memory. */
static void answer_error(uint8_t **reply, size_t *reply_len, shoal_err err,
                         const char *msg)
{
    writer w;
    writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    pack_cstr(&w, "ok");
    pack_bool(&w, false);
    pack_cstr(&w, "error");
    pack_cstr(&w, shoal_err_name(err));
    pack_cstr(&w, "message");
    pack_cstr(&w, msg[0] != '\0' ? msg : shoal_strerror(err));
    *reply = NULL;
    *reply_len = 0;
    if (!w.failed) {
        *reply_len = w.sb.size;
        *reply = (uint8_t *)msgpack_sbuffer_release(&w.sb);
    }
    writer_free(&w);
}

/* ---- requests ---- */

enum field {
    F_OP,
    F_KEY,
    F_VALUE,
    F_BY,
    F_PREFIX,
    F_AFTER,
    F_LIMIT,
    F_EXPECTED,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "op", "key", "value", "by", "prefix", "after", "limit", "expected",
};

#define FIELD(f) (1u << (f))

/* The fields of a request's map, each one msgpack object. */
typedef struct request {
    unsigned present;
    span field[F_COUNT];
} request;

/* Up to 40 bytes of s for a message, with anything but printable ASCII
 * (and the double quote) as '?'. */
static void printable(span s, char out[48])
{
    size_t n = s.len < 40 ? s.len : 40, i;
    for (i = 0; i < n; i++)
        out[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f && s.p[i] != '"' ? (char)s.p[i]
                                                                  : '?';
    if (s.len > n)
        memcpy(out + i, "...", 3), i += 3;
    out[i] = '\0';
}

static bool span_eq(span s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.p, c, n) == 0;
}

/* memcmp order, the shorter first on a common prefix: SQLite's for BLOBs. */
static int span_cmp(span a, span b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

/* Checks p[0..len) as one msgpack map and collects its fields, each once;
 * unknown fields are refused. */
static shoal_err parse_request(const uint8_t *p, size_t len, request *r,
                               shoal_errinfo *ei)
{
    memset(r, 0, sizeof *r);
    if (p == NULL || len == 0)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, 0,
                                 "the request is empty");
    size_t end;
    shoal_err err = kv__mp_check(p, len, KV_MAX_DEPTH, &end, ei);
    if (err != SHOAL_OK)
        return err;
    if (end != len)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, end,
                                 "%zu bytes after the request's map",
                                 len - end);
    kv__mp_head h;
    kv__mp_head_read(p, len, &h);
    if (h.kind != KV__MP_MAP)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, 0,
                                 "the request is %s, not a map",
                                 kv__mp_kind_name(h.kind));
    size_t off = h.size;
    for (uint64_t i = 0; i < h.count; i++) {
        kv__mp_head k;
        kv__mp_head_read(p + off, len - off, &k);
        if (k.kind != KV__MP_STR)
            return shoal_errinfo_set(ei, SHOAL_EINVAL, off,
                                     "a field name is %s, not a string",
                                     kv__mp_kind_name(k.kind));
        span name = {p + off + k.size, (size_t)k.body};
        off += k.size + (size_t)k.body;
        span value = {p + off, kv__mp_skip(p + off, len - off)};
        off += value.len;
        int f = 0;
        while (f < F_COUNT && !span_eq(name, field_names[f]))
            f++;
        char shown[48];
        printable(name, shown);
        if (f == F_COUNT)
            return shoal_errinfo_set(ei, SHOAL_EINVAL, off - value.len,
                                     "unknown field \"%s\"", shown);
        if (r->present & FIELD(f))
            return shoal_errinfo_set(ei, SHOAL_EINVAL, off - value.len,
                                     "field \"%s\" given twice", shown);
        r->present |= FIELD(f);
        r->field[f] = value;
    }
    return SHOAL_OK;
}

typedef struct call call;
typedef shoal_err run_fn(kv_store *kv, const call *c, writer *w,
                         shoal_errinfo *ei);

/* An op: its name, the fields it takes and needs, and its run function. */
typedef struct op {
    const char *name;
    unsigned takes, needs;
    run_fn *run;
} op;

/* A request made ready to run: its op and its fields, typed and checked,
 * values in canonical form. */
struct call {
    const op *op;
    span bucket;
    span key;
    span value, expected; /* canonical encodings in the buffers below */
    bool expected_nil;
    int64_t by;
    span prefix, after;
    bool has_after;
    int64_t limit;
    uint8_t *value_buf, *expected_buf;
};

static shoal_err bad_field(shoal_errinfo *ei, enum field f, const char *what,
                           const char *got)
{
    return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                             "field \"%s\": must be %s, not %s", field_names[f],
                             what, got);
}

/* A string field of min..max bytes: its bytes in *out. */
static shoal_err get_str(const request *r, enum field f, size_t min, size_t max,
                         span *out, shoal_errinfo *ei)
{
    kv__mp_head h;
    kv__mp_head_read(r->field[f].p, r->field[f].len, &h);
    char what[64];
    snprintf(what, sizeof what, "a string of %zu..%zu bytes", min, max);
    if (h.kind != KV__MP_STR)
        return bad_field(ei, f, what, kv__mp_kind_name(h.kind));
    if (h.body < min || h.body > max) {
        char got[32];
        snprintf(got, sizeof got, "%llu bytes", (unsigned long long)h.body);
        return bad_field(ei, f, what, got);
    }
    out->p = r->field[f].p + h.size;
    out->len = (size_t)h.body;
    return SHOAL_OK;
}

/* An integer field in min..max; nil (or no field) gives dflt. */
static shoal_err get_int(const request *r, enum field f, int64_t min,
                         int64_t max, int64_t dflt, int64_t *out,
                         shoal_errinfo *ei)
{
    *out = dflt;
    if (!(r->present & FIELD(f)))
        return SHOAL_OK;
    kv__mp_head h;
    kv__mp_head_read(r->field[f].p, r->field[f].len, &h);
    if (h.kind == KV__MP_NIL)
        return SHOAL_OK;
    char what[80];
    if (min == INT64_MIN)
        snprintf(what, sizeof what, "an integer in int64's range");
    else
        snprintf(what, sizeof what, "an integer from %lld to %lld",
                 (long long)min, (long long)max);
    if (h.kind != KV__MP_INT)
        return bad_field(ei, f, what, kv__mp_kind_name(h.kind));
    bool in_range =
        h.neg ? h.i >= min && h.i <= max
              : h.u <= (uint64_t)max && (min <= 0 || h.u >= (uint64_t)min);
    if (!in_range) {
        char got[32];
        if (h.neg)
            snprintf(got, sizeof got, "%lld", (long long)h.i);
        else
            snprintf(got, sizeof got, "%llu", (unsigned long long)h.u);
        return bad_field(ei, f, what, got);
    }
    *out = h.neg ? h.i : (int64_t)h.u;
    return SHOAL_OK;
}

/* The canonical encoding of a value field, in a new buffer *buf. */
static shoal_err get_value(const request *r, enum field f, span *out,
                           uint8_t **buf, shoal_errinfo *ei)
{
    span raw = r->field[f];
    /* The canonical encoding is never longer than the one sent. */
    size_t cap = raw.len < KV_MAX_VALUE ? raw.len : KV_MAX_VALUE;
    *buf = malloc(cap);
    if (*buf == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "out of memory for field \"%s\"",
                                 field_names[f]);
    out->p = *buf;
    if (!kv__mp_canon(raw.p, raw.len, *buf, cap, &out->len))
        return shoal_errinfo_set(ei, SHOAL_ELIMIT, SIZE_MAX,
                                 "field \"%s\": the value is larger than "
                                 "%u bytes encoded",
                                 field_names[f], KV_MAX_VALUE);
    return SHOAL_OK;
}

static void call_free(call *c)
{
    free(c->value_buf);
    free(c->expected_buf);
    c->value_buf = c->expected_buf = NULL;
}

static run_fn run_get, run_set, run_delete, run_incr, run_list, run_cas;

static const op ops[] = {
    {"get", FIELD(F_KEY), FIELD(F_KEY), run_get},
    {"set", FIELD(F_KEY) | FIELD(F_VALUE), FIELD(F_KEY) | FIELD(F_VALUE),
     run_set},
    {"delete", FIELD(F_KEY), FIELD(F_KEY), run_delete},
    {"incr", FIELD(F_KEY) | FIELD(F_BY), FIELD(F_KEY), run_incr},
    {"list", FIELD(F_PREFIX) | FIELD(F_AFTER) | FIELD(F_LIMIT), 0, run_list},
    {"cas", FIELD(F_KEY) | FIELD(F_EXPECTED) | FIELD(F_VALUE),
     FIELD(F_KEY) | FIELD(F_EXPECTED) | FIELD(F_VALUE), run_cas},
};

/* Everything about a request that does not need the database: the bucket,
 * the map, the op, each field. On SHOAL_OK the caller frees c with
 * call_free; on failure nothing is left to free. */
static shoal_err call_prepare(call *c, const char *bucket, const uint8_t *req,
                              size_t len, shoal_errinfo *ei)
{
    memset(c, 0, sizeof *c);
    size_t blen = bucket ? strnlen(bucket, KV_MAX_BUCKET + 1) : 0;
    if (blen == 0 || blen > KV_MAX_BUCKET)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "the link's bucket name must be 1..%d bytes",
                                 KV_MAX_BUCKET);
    c->bucket = (span){(const uint8_t *)bucket, blen};

    request r;
    shoal_err err = parse_request(req, len, &r, ei);
    if (err != SHOAL_OK)
        return err;
    if (!(r.present & FIELD(F_OP)))
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "field \"op\" is missing");
    kv__mp_head h;
    kv__mp_head_read(r.field[F_OP].p, r.field[F_OP].len, &h);
    if (h.kind != KV__MP_STR)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "field \"op\": must be a string, not %s",
                                 kv__mp_kind_name(h.kind));
    span name = {r.field[F_OP].p + h.size, (size_t)h.body};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (span_eq(name, ops[i].name))
            c->op = &ops[i];
    if (c->op == NULL) {
        char shown[48];
        printable(name, shown);
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "unknown op \"%s\" (get, set, delete, incr, "
                                 "list or cas)",
                                 shown);
    }
    for (int f = F_OP + 1; f < F_COUNT; f++) {
        if ((c->op->needs & FIELD(f)) && !(r.present & FIELD(f)))
            return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                     "field \"%s\" is missing (op \"%s\")",
                                     field_names[f], c->op->name);
        if ((r.present & FIELD(f)) && !(c->op->takes & FIELD(f)))
            return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                     "field \"%s\" does not belong to op "
                                     "\"%s\"",
                                     field_names[f], c->op->name);
    }

    if (r.present & FIELD(F_KEY)) {
        err = get_str(&r, F_KEY, 1, KV_MAX_KEY, &c->key, ei);
        if (err != SHOAL_OK)
            return err;
    }
    err = get_int(&r, F_BY, INT64_MIN, INT64_MAX, 1, &c->by, ei);
    if (err == SHOAL_OK)
        err = get_int(&r, F_LIMIT, 1, KV_LIST_MAX, KV_LIST_DEFAULT, &c->limit,
                      ei);
    if (err != SHOAL_OK)
        return err;
    /* An optional string given as nil is as good as absent, so that a
     * client can pass a list reply's "next" back as it is. */
    if ((r.present & FIELD(F_PREFIX)) && r.field[F_PREFIX].p[0] != 0xc0) {
        err = get_str(&r, F_PREFIX, 0, KV_MAX_KEY, &c->prefix, ei);
        if (err != SHOAL_OK)
            return err;
    }
    if ((r.present & FIELD(F_AFTER)) && r.field[F_AFTER].p[0] != 0xc0) {
        err = get_str(&r, F_AFTER, 0, KV_MAX_KEY, &c->after, ei);
        if (err != SHOAL_OK)
            return err;
        c->has_after = true;
    }
    if (r.present & FIELD(F_VALUE)) {
        err = get_value(&r, F_VALUE, &c->value, &c->value_buf, ei);
        if (err != SHOAL_OK)
            goto fail_free_values;
    }
    if (r.present & FIELD(F_EXPECTED)) {
        c->expected_nil = r.field[F_EXPECTED].p[0] == 0xc0;
        if (!c->expected_nil) {
            err = get_value(&r, F_EXPECTED, &c->expected, &c->expected_buf, ei);
            if (err != SHOAL_OK)
                goto fail_free_values;
        }
    }
    return SHOAL_OK;
fail_free_values:
    call_free(c);
    return err;
}

/* ---- the database ---- */

static shoal_err db_error(kv_store *kv, shoal_errinfo *ei, const char *what)
{
    int rc = sqlite3_errcode(kv->db);
    return shoal_errinfo_set(ei, rc == SQLITE_NOMEM ? SHOAL_ENOMEM : SHOAL_EIO,
                             SIZE_MAX, "%s: %s", what, sqlite3_errmsg(kv->db));
}

/* Binds bytes as a BLOB (a zero-length one too, which a NULL pointer
 * would make NULL). */
static int bind_bytes(sqlite3_stmt *s, int i, span v)
{
    if (v.len == 0)
        return sqlite3_bind_zeroblob(s, i, 0);
    return sqlite3_bind_blob64(s, i, v.p, v.len, SQLITE_STATIC);
}

/* Makes s ready for its next use and drops its pointers to our bytes. */
static void stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Runs one of the statements that return no rows. */
static bool exec_stmt(kv_store *kv, enum stmt_id id)
{
    int rc = sqlite3_step(kv->stmt[id]);
    sqlite3_reset(kv->stmt[id]);
    return rc == SQLITE_DONE;
}

/* A column of the current row as bytes; a value must be one whole msgpack
 * object, which a database written by anyone else may not hold. */
static shoal_err column(kv_store *kv, sqlite3_stmt *s, int i, bool is_value,
                        span *out, shoal_errinfo *ei)
{
    out->p = sqlite3_column_blob(s, i);
    out->len = (size_t)sqlite3_column_bytes(s, i);
    if (out->p == NULL && sqlite3_errcode(kv->db) == SQLITE_NOMEM)
        return db_error(kv, ei, "read");
    size_t end = 0;
    bool valid = out->len > 0;
    if (valid && is_value)
        valid = kv__mp_check(out->p, out->len, KV_MAX_DEPTH, &end, NULL) ==
                    SHOAL_OK &&
                end == out->len;
    else if (valid)
        valid = out->len <= KV_MAX_KEY;
    if (valid)
        return SHOAL_OK;
    return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                             "the database holds a %s that is not valid",
                             is_value ? "value" : "key");
}

/* Looks the key of c up with ST_GET. When *found, *stored holds the value
 * until the caller calls stmt_done(kv->stmt[ST_GET]); otherwise the
 * statement is already reset. */
static shoal_err lookup(kv_store *kv, const call *c, bool *found, span *stored,
                        shoal_errinfo *ei)
{
    sqlite3_stmt *s = kv->stmt[ST_GET];
    shoal_err err = SHOAL_OK;
    int rc = SQLITE_ERROR;
    *found = false;
    if (bind_bytes(s, 1, c->bucket) == SQLITE_OK &&
        bind_bytes(s, 2, c->key) == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        err = column(kv, s, 0, true, stored, ei);
        *found = err == SHOAL_OK;
    } else if (rc != SQLITE_DONE) {
        err = db_error(kv, ei, "read");
    }
    if (!*found)
        stmt_done(s);
    return err;
}

static shoal_err put_value(kv_store *kv, const call *c, span value,
                           shoal_errinfo *ei)
{
    sqlite3_stmt *s = kv->stmt[ST_PUT];
    shoal_err err = SHOAL_OK;
    if (bind_bytes(s, 1, c->bucket) != SQLITE_OK ||
        bind_bytes(s, 2, c->key) != SQLITE_OK ||
        bind_bytes(s, 3, value) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        err = db_error(kv, ei, "write");
    stmt_done(s);
    return err;
}

static void pack_value_or_nil(writer *w, const span *v)
{
    if (v)
        pack_raw(w, *v);
    else
        msgpack_pack_nil(&w->pk);
}

/* ---- the ops ---- */

static shoal_err run_get(kv_store *kv, const call *c, writer *w,
                         shoal_errinfo *ei)
{
    span stored;
    bool found;
    shoal_err err = lookup(kv, c, &found, &stored, ei);
    if (err != SHOAL_OK)
        return err;
    pack_ok(w, 2);
    pack_cstr(w, "found");
    pack_bool(w, found);
    pack_cstr(w, "value");
    pack_value_or_nil(w, found ? &stored : NULL);
    if (found)
        stmt_done(kv->stmt[ST_GET]);
    return SHOAL_OK;
}

static shoal_err run_set(kv_store *kv, const call *c, writer *w,
                         shoal_errinfo *ei)
{
    shoal_err err = put_value(kv, c, c->value, ei);
    if (err == SHOAL_OK)
        pack_ok(w, 0);
    return err;
}

static shoal_err run_delete(kv_store *kv, const call *c, writer *w,
                            shoal_errinfo *ei)
{
    sqlite3_stmt *s = kv->stmt[ST_DELETE];
    shoal_err err = SHOAL_OK;
    if (bind_bytes(s, 1, c->bucket) != SQLITE_OK ||
        bind_bytes(s, 2, c->key) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        err = db_error(kv, ei, "delete");
    stmt_done(s);
    if (err == SHOAL_OK) {
        pack_ok(w, 1);
        pack_cstr(w, "deleted");
        pack_bool(w, sqlite3_changes(kv->db) > 0);
    }
    return err;
}

static shoal_err run_incr(kv_store *kv, const call *c, writer *w,
                          shoal_errinfo *ei)
{
    span stored;
    bool found;
    shoal_err err = lookup(kv, c, &found, &stored, ei);
    if (err != SHOAL_OK)
        return err;
    /* The stored integer may be a uint64 beyond int64; the sum is checked
     * with one more bit. */
    __int128 sum = c->by;
    if (found) {
        kv__mp_head h;
        kv__mp_head_read(stored.p, stored.len, &h);
        stmt_done(kv->stmt[ST_GET]);
        if (h.kind != KV__MP_INT)
            return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                     "field \"key\": the stored value is %s, "
                                     "not an integer",
                                     kv__mp_kind_name(h.kind));
        sum += h.neg ? (__int128)h.i : (__int128)h.u;
    }
    if (sum > INT64_MAX || sum < INT64_MIN)
        return shoal_errinfo_set(ei, SHOAL_ELIMIT, SIZE_MAX,
                                 "field \"by\": adding %lld overflows int64",
                                 (long long)c->by);
    uint8_t enc[9];
    span v = {enc, kv__mp_put_int(enc, (int64_t)sum)};
    err = put_value(kv, c, v, ei);
    if (err != SHOAL_OK)
        return err;
    pack_ok(w, 1);
    pack_cstr(w, "value");
    msgpack_pack_int64(&w->pk, (int64_t)sum);
    return SHOAL_OK;
}

static shoal_err run_cas(kv_store *kv, const call *c, writer *w,
                         shoal_errinfo *ei)
{
    span stored;
    bool found;
    shoal_err err = lookup(kv, c, &found, &stored, ei);
    if (err != SHOAL_OK)
        return err;
    bool match = found ? !c->expected_nil && stored.len == c->expected.len &&
                             memcmp(stored.p, c->expected.p, stored.len) == 0
                       : c->expected_nil;
    if (!match) {
        pack_ok(w, 2);
        pack_cstr(w, "swapped");
        pack_bool(w, false);
        pack_cstr(w, "current");
        pack_value_or_nil(w, found ? &stored : NULL);
        if (found)
            stmt_done(kv->stmt[ST_GET]);
        return SHOAL_OK;
    }
    if (found)
        stmt_done(kv->stmt[ST_GET]);
    err = put_value(kv, c, c->value, ei);
    if (err != SHOAL_OK)
        return err;
    pack_ok(w, 2);
    pack_cstr(w, "swapped");
    pack_bool(w, true);
    pack_cstr(w, "current");
    pack_raw(w, c->value);
    return SHOAL_OK;
}

/* The smallest byte string greater than every string starting with
 * prefix: drop trailing 0xff bytes and add one to the last. False when
 * there is none (an empty prefix, or only 0xff bytes). */
static bool prefix_successor(span prefix, uint8_t buf[KV_MAX_KEY], span *out)
{
    size_t n = prefix.len;
    while (n > 0 && prefix.p[n - 1] == 0xff)
        n--;
    if (n == 0)
        return false;
    memcpy(buf, prefix.p, n);
    buf[n - 1]++;
    *out = (span){buf, n};
    return true;
}

/* The encoded size of {"key": K, "value": V} in a list reply. */
static size_t entry_size(span key, span value)
{
    size_t str_head = key.len < 32 ? 1 : key.len < 256 ? 2 : 3;
    return 1 + 4 + str_head + key.len + 6 + value.len;
}

static shoal_err run_list(kv_store *kv, const call *c, writer *w,
                          shoal_errinfo *ei)
{
    /* Keys from the prefix on, or after "after" when that comes later;
     * below the prefix's successor when it has one. */
    uint8_t succ_buf[KV_MAX_KEY];
    span upper;
    bool bounded = prefix_successor(c->prefix, succ_buf, &upper);
    bool from_after = c->has_after && span_cmp(c->after, c->prefix) >= 0;
    enum stmt_id id = from_after ? (bounded ? ST_LIST_GT_LT : ST_LIST_GT)
                                 : (bounded ? ST_LIST_GE_LT : ST_LIST_GE);
    sqlite3_stmt *s = kv->stmt[id];
    /* One row more than asked tells whether more follow. */
    if (bind_bytes(s, 1, c->bucket) != SQLITE_OK ||
        bind_bytes(s, 2, from_after ? c->after : c->prefix) != SQLITE_OK ||
        (bounded && bind_bytes(s, 3, upper) != SQLITE_OK) ||
        sqlite3_bind_int64(s, 4, c->limit + 1) != SQLITE_OK) {
        shoal_err err = db_error(kv, ei, "list");
        stmt_done(s);
        return err;
    }

    /* The entries go to their own buffer until their number is known. */
    writer entries;
    writer_init(&entries);
    uint8_t last_buf[KV_MAX_KEY];
    span last = {last_buf, 0};
    uint32_t count = 0;
    size_t bytes = 0;
    bool more = false;
    shoal_err err = SHOAL_OK;
    for (;;) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            err = db_error(kv, ei, "list");
            break;
        }
        span key, value;
        err = column(kv, s, 0, false, &key, ei);
        if (err == SHOAL_OK)
            err = column(kv, s, 1, true, &value, ei);
        if (err != SHOAL_OK)
            break;
        /* A reply keeps to KV_LIST_MAX_BYTES, but always takes one entry,
         * so that paging goes on. */
        if (count == c->limit ||
            (count > 0 && bytes + entry_size(key, value) >
                              KV_LIST_MAX_BYTES - KV_LIST_FRAME)) {
            more = true;
            break;
        }
        msgpack_pack_map(&entries.pk, 2);
        pack_cstr(&entries, "key");
        pack_bytes_str(&entries, key);
        pack_cstr(&entries, "value");
        pack_raw(&entries, value);
        bytes += entry_size(key, value);
        memcpy(last_buf, key.p, key.len);
        last.len = key.len;
        count++;
    }
    stmt_done(s);
    if (err == SHOAL_OK && entries.failed)
        err = shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                "out of memory for the reply");
    if (err == SHOAL_OK) {
        pack_ok(w, 2);
        pack_cstr(w, "entries");
        msgpack_pack_array(&w->pk, count);
        pack_raw(w, (span){(const uint8_t *)entries.sb.data, entries.sb.size});
        pack_cstr(w, "next");
        if (more)
            pack_bytes_str(w, last);
        else
            msgpack_pack_nil(&w->pk);
    }
    writer_free(&entries);
    return err;
}

/* ---- batches ---- */

typedef struct batch {
    kv_store *kv;
    uint8_t **replies;
    size_t *reply_lens;
    bool *ok;         /* ok[i]: replies[i] is a success in this transaction */
    bool in_txn;      /* a transaction is open */
    size_t txn_first; /* the first request in it */
} batch;

/* Gives up the open transaction: rolls it back (SQLite may have done so
 * already) and answers the successes in it before request upto with err
 * and why instead, for they are lost. */
static void abandon(batch *b, size_t upto, shoal_err err, const char *why)
{
    if (!sqlite3_get_autocommit(b->kv->db))
        exec_stmt(b->kv, ST_ROLLBACK);
    char msg[sizeof((shoal_errinfo *)0)->msg];
    snprintf(msg, sizeof msg, "not committed: %s", why);
    for (size_t j = b->txn_first; j < upto; j++) {
        if (!b->ok[j])
            continue;
        free(b->replies[j]);
        answer_error(&b->replies[j], &b->reply_lens[j], err, msg);
        b->ok[j] = false;
    }
    b->in_txn = false;
}

static void run_one(batch *b, size_t i, const char *bucket, const uint8_t *req,
                    size_t len)
{
    kv_store *kv = b->kv;
    uint8_t **reply = &b->replies[i];
    size_t *reply_len = &b->reply_lens[i];
    shoal_errinfo ei = {.offset = SIZE_MAX};
    call c;
    b->ok[i] = false;
    shoal_err err = call_prepare(&c, bucket, req, len, &ei);
    if (err != SHOAL_OK) {
        answer_error(reply, reply_len, err, ei.msg);
        return;
    }

    if (!b->in_txn) {
        /* A transaction left open by a failed rollback goes first. */
        if (!sqlite3_get_autocommit(kv->db))
            exec_stmt(kv, ST_ROLLBACK);
        if (!exec_stmt(kv, ST_BEGIN)) {
            err = db_error(kv, &ei, "begin");
            answer_error(reply, reply_len, err, ei.msg);
            call_free(&c);
            return;
        }
        b->in_txn = true;
        b->txn_first = i;
    }

    writer w;
    writer_init(&w);
    if (!exec_stmt(kv, ST_SAVEPOINT))
        err = db_error(kv, &ei, "savepoint");
    else
        err = c.op->run(kv, &c, &w, &ei);
    if (err == SHOAL_OK && w.failed)
        err = shoal_errinfo_set(&ei, SHOAL_ENOMEM, SIZE_MAX,
                                "out of memory for the reply");
    if (err == SHOAL_OK && exec_stmt(kv, ST_RELEASE)) {
        *reply_len = w.sb.size;
        *reply = (uint8_t *)msgpack_sbuffer_release(&w.sb);
        b->ok[i] = true;
    } else {
        shoal_errinfo why = {.offset = SIZE_MAX};
        bool undone;
        if (err == SHOAL_OK) {
            /* The release failed. */
            err = db_error(kv, &ei, "release");
            undone = false;
        } else {
            undone = !sqlite3_get_autocommit(kv->db) &&
                     exec_stmt(kv, ST_ROLLBACK_TO) && exec_stmt(kv, ST_RELEASE);
        }
        answer_error(reply, reply_len, err, ei.msg);
        if (!undone) {
            /* The savepoint is gone or stuck, and the transaction with
             * it. */
            abandon(b, i, db_error(kv, &why, "transaction"), why.msg);
        }
    }
    writer_free(&w);
    call_free(&c);
}

void kv_handle_batch(kv_store *kv, size_t n, const char *const *buckets,
                     const uint8_t *const *reqs, const size_t *lens,
                     uint8_t **replies, size_t *reply_lens)
{
    if (n == 0)
        return;
    bool one;
    bool *ok = n == 1 ? &one : calloc(n, sizeof *ok);
    if (ok == NULL) {
        /* Without room to remember the successes, each request gets a
         * transaction of its own. */
        for (size_t i = 0; i < n; i++)
            kv_handle_batch(kv, 1, buckets + i, reqs + i, lens + i, replies + i,
                            reply_lens + i);
        return;
    }
    batch b = {
        .kv = kv, .replies = replies, .reply_lens = reply_lens, .ok = ok};
    for (size_t i = 0; i < n; i++)
        run_one(&b, i, buckets[i], reqs[i], lens[i]);
    if (b.in_txn && !exec_stmt(kv, ST_COMMIT)) {
        shoal_errinfo ei = {.offset = SIZE_MAX};
        shoal_err err = db_error(kv, &ei, "commit");
        abandon(&b, n, err, ei.msg);
    }
    if (ok != &one)
        free(ok);
}

void kv_handle(kv_store *kv, const char *bucket, const uint8_t *req, size_t len,
               uint8_t **reply, size_t *reply_len)
{
    kv_handle_batch(kv, 1, &bucket, &req, &len, reply, reply_len);
}

/* ---- opening and closing ---- */

static shoal_err open_error(kv_store *kv, const char *path, shoal_errinfo *ei)
{
    if (kv->db == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "%s: out of memory", path);
    int rc = sqlite3_errcode(kv->db);
    return shoal_errinfo_set(ei, rc == SQLITE_NOMEM ? SHOAL_ENOMEM : SHOAL_EIO,
                             SIZE_MAX, "%s: %s", path, sqlite3_errmsg(kv->db));
}

static shoal_err exec_sql(kv_store *kv, const char *path, const char *sql,
                          shoal_errinfo *ei)
{
    if (sqlite3_exec(kv->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return open_error(kv, path, ei);
    return SHOAL_OK;
}

/* Creates the schema in a fresh database, or checks the version of an
 * existing one, in one transaction. */
static shoal_err schema(kv_store *kv, const char *path, shoal_errinfo *ei)
{
    shoal_err err = exec_sql(kv, path, "BEGIN IMMEDIATE", ei);
    if (err != SHOAL_OK)
        return err;
    sqlite3_stmt *s;
    int version = -1;
    if (sqlite3_prepare_v2(kv->db, "PRAGMA user_version", -1, &s, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            version = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    if (version < 0)
        err = open_error(kv, path, ei);
    else if (version > KV_SCHEMA_VERSION)
        err = shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                "%s: schema version %d is newer than this "
                                "provider understands (%d)",
                                path, version, KV_SCHEMA_VERSION);
    else if (version == 0)
        err = exec_sql(kv, path, schema_v1, ei);
    if (err == SHOAL_OK)
        err = exec_sql(kv, path, "COMMIT", ei);
    if (err != SHOAL_OK && !sqlite3_get_autocommit(kv->db))
        sqlite3_exec(kv->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

shoal_err kv_open(const char *path, kv_store **out, shoal_errinfo *ei)
{
    if (path == NULL || out == NULL)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "kv_open: no path or no out");
    kv_store *kv = calloc(1, sizeof *kv);
    if (kv == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "%s: out of memory", path);
    shoal_err err;
    if (sqlite3_open_v2(path, &kv->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err = open_error(kv, path, ei);
        goto fail_close;
    }
    sqlite3_busy_timeout(kv->db, 5000);
    /* WAL with synchronous=FULL syncs the log at every commit: a reply is
     * only sent after its commit, so an acknowledged write is on disk. */
    err = exec_sql(kv, path,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", ei);
    if (err == SHOAL_OK)
        err = schema(kv, path, ei);
    if (err != SHOAL_OK)
        goto fail_close;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(kv->db, stmt_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &kv->stmt[i],
                               NULL) != SQLITE_OK) {
            err = open_error(kv, path, ei);
            goto fail_close;
        }
    }
    *out = kv;
    return SHOAL_OK;
fail_close:
    kv_close(kv);
    return err;
}

void kv_close(kv_store *kv)
{
    if (kv == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(kv->stmt[i]);
    sqlite3_close_v2(kv->db);
    free(kv);
}
