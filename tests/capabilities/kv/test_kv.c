/* Tests of the kv provider's core (capabilities/kv) on real SQLite files:
 * every op and its edges, canonical values, limits, prefixes with LIKE and
 * GLOB wildcards and 0xff bytes, paging, bucket isolation, malformed
 * requests, batches, a kill -9 of a writing process, storage errors (a
 * lock held too long, a commit the disk refuses, rows kv never wrote),
 * allocation failures in the module, msgpack and SQLite, and the inputs
 * the fuzzer keeps (tests/fuzz/fuzz_kv.c).
 *
 * Replies are read with msgpack-c, or compared byte for byte where the
 * encoding is the point.
 *
 * This executable is linked with -Wl,--wrap=malloc,calloc,realloc,free and
 * gives SQLite an allocator of its own, so that it can count and fail the
 * allocations of both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "kv.h"
#include "failalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* SQLite's allocator: a header of 16 bytes keeps each block's size. */
static void *sq_malloc(int n)
{
    if (!alloc_note())
        return NULL;
    size_t *p = __real_malloc((size_t)n + 16);
    if (p == NULL)
        return NULL;
    p[0] = (size_t)n;
    return (char *)p + 16;
}

static void sq_free(void *p)
{
    if (p != NULL)
        __real_free((char *)p - 16);
}

static void *sq_realloc(void *p, int n)
{
    if (!alloc_note())
        return NULL;
    size_t *q = __real_realloc((char *)p - 16, (size_t)n + 16);
    if (q == NULL)
        return NULL;
    q[0] = (size_t)n;
    return (char *)q + 16;
}

static int sq_size(void *p)
{
    return (int)*(size_t *)((char *)p - 16);
}

static int sq_roundup(int n)
{
    return (n + 7) & ~7;
}

static int sq_init(void *data)
{
    (void)data;
    return SQLITE_OK;
}

static void sq_shutdown(void *data)
{
    (void)data;
}

static const sqlite3_mem_methods sq_methods = {
    sq_malloc,  sq_free, sq_realloc,  sq_size,
    sq_roundup, sq_init, sq_shutdown, NULL,
};

/* ---- requests ---- */

/* A string literal as bytes and a length. */
#define BYTES(s) (const uint8_t *)(s), sizeof(s) - 1

typedef struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packed;

static void packed_init(packed *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void packed_free(packed *b)
{
    msgpack_sbuffer_destroy(&b->sb);
}

static void pk_bytes(packed *b, const void *p, size_t n)
{
    msgpack_pack_str(&b->pk, n);
    msgpack_pack_str_body(&b->pk, p, n);
}

static void pk_str(packed *b, const char *s)
{
    pk_bytes(b, s, strlen(s));
}

static void pk_raw(packed *b, const uint8_t *p, size_t n)
{
    msgpack_sbuffer_write(&b->sb, (const char *)p, n);
}

/* ---- replies ---- */

typedef struct reply {
    uint8_t *bytes;
    size_t len;
    msgpack_unpacked u;
    const msgpack_object *root;
} reply;

/* Takes a reply from kv and checks its shape: one map, "ok" first. */
static reply *reply_take(uint8_t *bytes, size_t len)
{
    assert_non_null(bytes);
    reply *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->bytes = bytes;
    r->len = len;
    msgpack_unpacked_init(&r->u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&r->u, (const char *)bytes, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    r->root = &r->u.data;
    assert_int_equal(r->root->type, MSGPACK_OBJECT_MAP);
    assert_true(r->root->via.map.size >= 1);
    const msgpack_object *k = &r->root->via.map.ptr[0].key;
    assert_true(k->type == MSGPACK_OBJECT_STR && k->via.str.size == 2 &&
                memcmp(k->via.str.ptr, "ok", 2) == 0);
    assert_int_equal(r->root->via.map.ptr[0].val.type, MSGPACK_OBJECT_BOOLEAN);
    return r;
}

static void reply_free(reply *r)
{
    msgpack_unpacked_destroy(&r->u);
    free(r->bytes);
    free(r);
}

static const msgpack_object *rget(const reply *r, const char *field)
{
    for (uint32_t i = 0; i < r->root->via.map.size; i++) {
        const msgpack_object *k = &r->root->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(field) &&
            memcmp(k->via.str.ptr, field, k->via.str.size) == 0)
            return &r->root->via.map.ptr[i].val;
    }
    fail_msg("the reply has no field \"%s\"", field);
    return NULL;
}

static bool reply_ok(const reply *r)
{
    return r->root->via.map.ptr[0].val.via.boolean;
}

static bool obj_is_str(const msgpack_object *o, const void *s, size_t n)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static void show(const reply *r)
{
    msgpack_object_print(stderr, *r->root);
    fprintf(stderr, "\n");
}

static void assert_ok(const reply *r)
{
    if (!reply_ok(r))
        show(r);
    assert_true(reply_ok(r));
}

/* An error reply named name whose message holds words. */
static void assert_error(const reply *r, const char *name, const char *words)
{
    if (reply_ok(r))
        show(r);
    assert_false(reply_ok(r));
    assert_int_equal(r->root->via.map.size, 3);
    const msgpack_object *e = rget(r, "error"), *m = rget(r, "message");
    if (!obj_is_str(e, name, strlen(name)))
        show(r);
    assert_true(obj_is_str(e, name, strlen(name)));
    assert_int_equal(m->type, MSGPACK_OBJECT_STR);
    assert_true(m->via.str.size > 0);
    if (words) {
        char msg[512];
        snprintf(msg, sizeof msg, "%.*s", (int)m->via.str.size, m->via.str.ptr);
        if (strstr(msg, words) == NULL)
            fail_msg("message \"%s\" lacks \"%s\"", msg, words);
    }
}

static void assert_bytes(const reply *r, const uint8_t *p, size_t n)
{
    if (r->len != n || memcmp(r->bytes, p, n) != 0)
        show(r);
    assert_int_equal(r->len, n);
    assert_memory_equal(r->bytes, p, n);
}

static int64_t rint_field(const reply *r, const char *field)
{
    const msgpack_object *o = rget(r, field);
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)o->via.u64;
    assert_int_equal(o->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    return o->via.i64;
}

static bool rbool(const reply *r, const char *field)
{
    const msgpack_object *o = rget(r, field);
    assert_int_equal(o->type, MSGPACK_OBJECT_BOOLEAN);
    return o->via.boolean;
}

/* ---- calling kv ---- */

static reply *call_raw(kv_store *kv, const char *bucket, const uint8_t *p,
                       size_t n)
{
    uint8_t *out = NULL;
    size_t len = 12345;
    kv_handle(kv, bucket, p, n, &out, &len);
    return reply_take(out, len);
}

static reply *call(kv_store *kv, const char *bucket, packed *b)
{
    reply *r = call_raw(kv, bucket, (const uint8_t *)b->sb.data, b->sb.size);
    packed_free(b);
    return r;
}

static reply *kget(kv_store *kv, const char *bucket, const void *key,
                   size_t klen)
{
    packed b;
    packed_init(&b);
    msgpack_pack_map(&b.pk, 2);
    pk_str(&b, "op");
    pk_str(&b, "get");
    pk_str(&b, "key");
    pk_bytes(&b, key, klen);
    return call(kv, bucket, &b);
}

/* Sets key to the value encoded as enc[0..n). */
static reply *kset_raw(kv_store *kv, const char *bucket, const void *key,
                       size_t klen, const uint8_t *enc, size_t n)
{
    packed b;
    packed_init(&b);
    msgpack_pack_map(&b.pk, 3);
    pk_str(&b, "op");
    pk_str(&b, "set");
    pk_str(&b, "key");
    pk_bytes(&b, key, klen);
    pk_str(&b, "value");
    pk_raw(&b, enc, n);
    return call(kv, bucket, &b);
}

static void set_int(kv_store *kv, const char *bucket, const char *key,
                    int64_t v)
{
    uint8_t enc[9];
    packed b;
    packed_init(&b);
    msgpack_pack_int64(&b.pk, v);
    memcpy(enc, b.sb.data, b.sb.size);
    reply *r = kset_raw(kv, bucket, key, strlen(key), enc, b.sb.size);
    packed_free(&b);
    assert_ok(r);
    reply_free(r);
}

static void set_str(kv_store *kv, const char *bucket, const void *key,
                    size_t klen, const char *value)
{
    packed b;
    packed_init(&b);
    pk_str(&b, value);
    reply *r =
        kset_raw(kv, bucket, key, klen, (const uint8_t *)b.sb.data, b.sb.size);
    packed_free(&b);
    assert_ok(r);
    reply_free(r);
}

static reply *kdelete(kv_store *kv, const char *bucket, const char *key)
{
    packed b;
    packed_init(&b);
    msgpack_pack_map(&b.pk, 2);
    pk_str(&b, "op");
    pk_str(&b, "delete");
    pk_str(&b, "key");
    pk_str(&b, key);
    return call(kv, bucket, &b);
}

/* incr with "by" encoded as by[0..n), or without "by" when by is NULL. */
static reply *kincr_raw(kv_store *kv, const char *bucket, const char *key,
                        const uint8_t *by, size_t n)
{
    packed b;
    packed_init(&b);
    msgpack_pack_map(&b.pk, by ? 3 : 2);
    pk_str(&b, "op");
    pk_str(&b, "incr");
    pk_str(&b, "key");
    pk_str(&b, key);
    if (by) {
        pk_str(&b, "by");
        pk_raw(&b, by, n);
    }
    return call(kv, bucket, &b);
}

static reply *kincr(kv_store *kv, const char *bucket, const char *key,
                    int64_t by)
{
    packed v;
    packed_init(&v);
    msgpack_pack_int64(&v.pk, by);
    reply *r =
        kincr_raw(kv, bucket, key, (const uint8_t *)v.sb.data, v.sb.size);
    packed_free(&v);
    return r;
}

/* A list; prefix and after are bytes when their lengths are not
 * SIZE_MAX; limit 0 leaves "limit" out. */
static reply *klist(kv_store *kv, const char *bucket, const void *prefix,
                    size_t plen, const void *after, size_t alen, int limit)
{
    packed b;
    packed_init(&b);
    msgpack_pack_map(&b.pk, 1 + (plen != SIZE_MAX) + (alen != SIZE_MAX) +
                                (limit != 0));
    pk_str(&b, "op");
    pk_str(&b, "list");
    if (plen != SIZE_MAX) {
        pk_str(&b, "prefix");
        pk_bytes(&b, prefix, plen);
    }
    if (alen != SIZE_MAX) {
        pk_str(&b, "after");
        pk_bytes(&b, after, alen);
    }
    if (limit != 0) {
        pk_str(&b, "limit");
        msgpack_pack_int(&b.pk, limit);
    }
    return call(kv, bucket, &b);
}

/* cas with expected and value encoded as given. */
static reply *kcas(kv_store *kv, const char *bucket, const char *key,
                   const uint8_t *expected, size_t elen, const uint8_t *value,
                   size_t vlen)
{
    packed b;
    packed_init(&b);
    msgpack_pack_map(&b.pk, 4);
    pk_str(&b, "op");
    pk_str(&b, "cas");
    pk_str(&b, "key");
    pk_str(&b, key);
    pk_str(&b, "expected");
    pk_raw(&b, expected, elen);
    pk_str(&b, "value");
    pk_raw(&b, value, vlen);
    return call(kv, bucket, &b);
}

/* ---- fixture: a database in a new temporary directory ---- */

typedef struct fixture {
    char dir[64];
    char path[96];
    kv_store *kv;
} fixture;

static kv_store *open_kv(const char *path)
{
    kv_store *kv = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = kv_open(path, &kv, &ei);
    if (err)
        fprintf(stderr, "kv_open: %s\n", ei.msg);
    assert_int_equal(err, SHOAL_OK);
    return kv;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/shoal-kv-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/kv.db", f->dir);
    f->kv = open_kv(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    kv_close(f->kv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void reopen(fixture *f)
{
    kv_close(f->kv);
    f->kv = open_kv(f->path);
}

/* ---- opening ---- */

static void test_open(void **state)
{
    fixture *f = *state;
    shoal_errinfo ei = {0};
    kv_store *kv = NULL;
    assert_int_equal(kv_open(NULL, &kv, &ei), SHOAL_EINVAL);
    assert_int_equal(kv_open(f->path, NULL, NULL), SHOAL_EINVAL);

    assert_int_equal(kv_open("/nonexistent-shoal-dir/kv.db", &kv, &ei),
                     SHOAL_EIO);
    assert_non_null(strstr(ei.msg, "/nonexistent-shoal-dir/kv.db"));
    assert_null(kv);

    /* Not a database. */
    char junk[128];
    snprintf(junk, sizeof junk, "%s/junk.db", f->dir);
    FILE *fp = fopen(junk, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 4096; i++)
        fputc(i * 7, fp);
    fclose(fp);
    assert_int_equal(kv_open(junk, &kv, &ei), SHOAL_EIO);
    assert_non_null(strstr(ei.msg, junk));
    assert_non_null(strstr(ei.msg, "not a database"));

    /* The schema: one table WITHOUT ROWID, version 1, WAL. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), KV_SCHEMA_VERSION);
    sqlite3_finalize(s);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name='kv'",
                           -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_non_null(
        strstr((const char *)sqlite3_column_text(s, 0), "WITHOUT ROWID"));
    sqlite3_finalize(s);

    /* A newer schema is refused. */
    kv_close(f->kv);
    f->kv = NULL;
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA user_version = 2", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(kv_open(f->path, &kv, &ei), SHOAL_EIO);
    assert_non_null(strstr(ei.msg, "schema version 2"));
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    /* In memory, for tests and fuzzing. */
    kv = open_kv(":memory:");
    set_int(kv, "b", "k", 1);
    kv_close(kv);
    kv_close(NULL);
    f->kv = open_kv(f->path);
}

/* ---- the ops ---- */

static void test_get_set(void **state)
{
    fixture *f = *state;
    reply *r = kget(f->kv, "b", "k", 1);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc2\xa5value\xc0"));
    reply_free(r);

    r = kset_raw(f->kv, "b", "k", 1, BYTES("\xa5hello"));
    assert_bytes(r, BYTES("\x81\xa2ok\xc3"));
    reply_free(r);
    r = kget(f->kv, "b", "k", 1);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\xa5hello"));
    reply_free(r);

    /* Any value, embedded as itself: every type, nested. */
    static const uint8_t every[] =
        "\x9d\xc0\xc2\xc3\x05\xe0\xcc\xc8\xd0\x80\xca\x3f\x80\x00\x00"
        "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xa1x\xc4\x02\x00\xff"
        "\x81\xa1k\x91\x90\xd4\x01\x02";
    r = kset_raw(f->kv, "b", "every", 5, every, sizeof every - 1);
    assert_ok(r);
    reply_free(r);
    r = kget(f->kv, "b", "every", 5);
    assert_true(rbool(r, "found"));
    static const uint8_t head[] = "\x83\xa2ok\xc3\xa5"
                                  "found\xc3\xa5value";
    assert_int_equal(r->len, sizeof head - 1 + sizeof every - 1);
    assert_memory_equal(r->bytes + sizeof head - 1, every, sizeof every - 1);
    reply_free(r);

    /* Overwrite; a nil value is found and nil. */
    r = kset_raw(f->kv, "b", "k", 1, BYTES("\xc0"));
    assert_ok(r);
    reply_free(r);
    r = kget(f->kv, "b", "k", 1);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\xc0"));
    reply_free(r);

    /* Keys of 1 and 1024 bytes; 0 and 1025 are refused. */
    char key[1025];
    memset(key, 'z', sizeof key);
    set_str(f->kv, "b", key, 1024, "long");
    r = kget(f->kv, "b", key, 1024);
    assert_true(rbool(r, "found"));
    reply_free(r);
    r = kset_raw(f->kv, "b", key, 1025, BYTES("\x01"));
    assert_error(r, "EINVAL", "\"key\"");
    reply_free(r);
    r = kget(f->kv, "b", key, 1025);
    assert_error(r, "EINVAL", "1..1024 bytes");
    reply_free(r);
    r = kget(f->kv, "b", "", 0);
    assert_error(r, "EINVAL", "\"key\"");
    reply_free(r);

    /* A key holding a NUL byte is a key like any other. */
    set_str(f->kv, "b", "a\0b", 3, "nul");
    r = kget(f->kv, "b", "a", 1);
    assert_false(rbool(r, "found"));
    reply_free(r);
    r = kget(f->kv, "b", "a\0b", 3);
    assert_true(rbool(r, "found"));
    reply_free(r);

    /* Persisted. */
    reopen(f);
    r = kget(f->kv, "b", "every", 5);
    assert_true(rbool(r, "found"));
    reply_free(r);
}

/* Values are stored in canonical form: shortest headers and integers;
 * floats keep their width. */
static void test_canonical(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *in, *out;
        size_t in_len, out_len;
    } cases[] = {
#define C(in, out) {in, out, sizeof(in) - 1, sizeof(out) - 1}
        C("\xd3\x00\x00\x00\x00\x00\x00\x00\x01", "\x01"),
        C("\xcf\x00\x00\x00\x00\x00\x00\x00\x7f", "\x7f"),
        C("\xcd\x00\x80", "\xcc\x80"),
        C("\xd0\x05", "\x05"),
        C("\xd1\x00\xc8", "\xcc\xc8"),
        C("\xd3\xff\xff\xff\xff\xff\xff\xff\xff", "\xff"),
        C("\xd2\xff\xff\xff\x80", "\xd0\x80"),
        C("\xd3\xff\xff\xff\xff\xff\xff\x7f\xff", "\xd2\xff\xff\x7f\xff"),
        C("\xd3\xff\xff\xff\xff\x7f\xff\xff\xff", "\xd3\xff\xff\xff\xff\x7f"
                                                  "\xff\xff\xff"),
        C("\xce\x00\x01\x00\x00", "\xce\x00\x01\x00\x00"),
        C("\xd9\x01x", "\xa1x"),
        C("\xdb\x00\x00\x00\x00", "\xa0"),
        C("\xc6\x00\x00\x00\x01\x07", "\xc4\x01\x07"),
        C("\xdd\x00\x00\x00\x02\xcc\x01\xd9\x00", "\x92\x01\xa0"),
        C("\xdf\x00\x00\x00\x01\xda\x00\x01k\xdc\x00\x00", "\x81\xa1k\x90"),
        C("\xc7\x01\x05\x00", "\xd4\x05\x00"),
        C("\xc8\x00\x02\x05\x00\x00", "\xd5\x05\x00\x00"),
        C("\xc7\x03\x05\x00\x00\x00", "\xc7\x03\x05\x00\x00\x00"),
        C("\xca\x3f\x80\x00\x00", "\xca\x3f\x80\x00\x00"),
        C("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00",
          "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"),
#undef C
    };
    static const uint8_t head[] = "\x83\xa2ok\xc3\xa5"
                                  "found\xc3\xa5value";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reply *r = kset_raw(f->kv, "b", "k", 1, (const uint8_t *)cases[i].in,
                            cases[i].in_len);
        assert_ok(r);
        reply_free(r);
        r = kget(f->kv, "b", "k", 1);
        assert_int_equal(r->len, sizeof head - 1 + cases[i].out_len);
        assert_memory_equal(r->bytes, head, sizeof head - 1);
        assert_memory_equal(r->bytes + sizeof head - 1, cases[i].out,
                            cases[i].out_len);
        reply_free(r);
        /* A cas compares canonical forms: the wide form matches. */
        r = kcas(f->kv, "b", "k", (const uint8_t *)cases[i].in, cases[i].in_len,
                 BYTES("\xc3"));
        assert_ok(r);
        assert_true(rbool(r, "swapped"));
        reply_free(r);
    }
    /* 1 and 1.0 differ. */
    set_int(f->kv, "b", "k", 1);
    reply *r =
        kcas(f->kv, "b", "k", BYTES("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"),
             BYTES("\x02"));
    assert_false(rbool(r, "swapped"));
    reply_free(r);
}

static void test_limits(void **state)
{
    fixture *f = *state;
    /* A binary whose encoding is exactly KV_MAX_VALUE bytes, and one byte
     * more. */
    size_t body = KV_MAX_VALUE - 5;
    uint8_t *v = malloc(KV_MAX_VALUE + 16);
    assert_non_null(v);
    v[0] = 0xc6;
    v[1] = (uint8_t)(body >> 24);
    v[2] = (uint8_t)(body >> 16);
    v[3] = (uint8_t)(body >> 8);
    v[4] = (uint8_t)body;
    memset(v + 5, 0xab, body + 1);
    reply *r = kset_raw(f->kv, "b", "big", 3, v, KV_MAX_VALUE);
    assert_ok(r);
    reply_free(r);
    r = kget(f->kv, "b", "big", 3);
    assert_int_equal(r->len, 18 + KV_MAX_VALUE);
    assert_memory_equal(r->bytes + 18, v, KV_MAX_VALUE);
    reply_free(r);
    v[4]++;
    r = kset_raw(f->kv, "b", "big", 3, v, KV_MAX_VALUE + 1);
    assert_error(r, "ELIMIT", "\"value\"");
    reply_free(r);
    r = kcas(f->kv, "b", "big", v, KV_MAX_VALUE + 1, BYTES("\x01"));
    assert_error(r, "ELIMIT", "\"expected\"");
    reply_free(r);

    /* Over the limit as sent, within it in canonical form: an array of
     * fixints each sent as 9 bytes. */
    size_t n = KV_MAX_VALUE / 8;
    size_t len = 5 + 9 * n;
    uint8_t *wide = malloc(len);
    assert_non_null(wide);
    wide[0] = 0xdd;
    wide[1] = (uint8_t)(n >> 24);
    wide[2] = (uint8_t)(n >> 16);
    wide[3] = (uint8_t)(n >> 8);
    wide[4] = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        memcpy(wide + 5 + 9 * i, "\xcf\x00\x00\x00\x00\x00\x00\x00\x01", 9);
    r = kset_raw(f->kv, "b", "wide", 4, wide, len);
    assert_ok(r);
    reply_free(r);
    r = kget(f->kv, "b", "wide", 4);
    assert_int_equal(r->len, 18 + 5 + n);
    reply_free(r);
    free(wide);
    free(v);

    /* Nesting: 64 levels in all are taken, 65 are not. */
    uint8_t deep[128];
    static const uint8_t prefix[] = "\x83\xa2op\xa3set\xa3key\xa1k\xa5value";
    size_t plen = sizeof prefix - 1;
    memcpy(deep, prefix, plen);
    memset(deep + plen, 0x91, 62);
    deep[plen + 62] = 0x90;
    r = call_raw(f->kv, "b", deep, plen + 63);
    assert_ok(r);
    reply_free(r);
    deep[plen + 62] = 0x91;
    deep[plen + 63] = 0x90;
    r = call_raw(f->kv, "b", deep, plen + 64);
    assert_error(r, "ELIMIT", "deeper than 64");
    reply_free(r);
}

static void test_delete(void **state)
{
    fixture *f = *state;
    set_int(f->kv, "b", "k", 1);
    reply *r = kdelete(f->kv, "b", "k");
    assert_bytes(r, BYTES("\x82\xa2ok\xc3\xa7"
                          "deleted\xc3"));
    reply_free(r);
    r = kdelete(f->kv, "b", "k");
    assert_bytes(r, BYTES("\x82\xa2ok\xc3\xa7"
                          "deleted\xc2"));
    reply_free(r);
    r = kget(f->kv, "b", "k", 1);
    assert_false(rbool(r, "found"));
    reply_free(r);
}

static void test_incr(void **state)
{
    fixture *f = *state;
    /* Absent counts as 0; "by" defaults to 1; nil "by" too. */
    reply *r = kincr_raw(f->kv, "b", "n", NULL, 0);
    assert_bytes(r, BYTES("\x82\xa2ok\xc3\xa5value\x01"));
    reply_free(r);
    r = kincr_raw(f->kv, "b", "n", BYTES("\xc0"));
    assert_int_equal(rint_field(r, "value"), 2);
    reply_free(r);
    r = kincr(f->kv, "b", "n", -10);
    assert_int_equal(rint_field(r, "value"), -8);
    reply_free(r);
    r = kincr(f->kv, "b", "m", 0);
    assert_int_equal(rint_field(r, "value"), 0);
    reply_free(r);
    /* Stored in canonical form. */
    r = kget(f->kv, "b", "n", 1);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\xf8"));
    reply_free(r);

    /* Not an integer. */
    set_str(f->kv, "b", "s", 1, "12");
    r = kincr(f->kv, "b", "s", 1);
    assert_error(r, "EINVAL", "not an integer");
    reply_free(r);
    r = kset_raw(f->kv, "b", "f", 1, BYTES("\xcb\x3f\xf0\0\0\0\0\0\0"));
    reply_free(r);
    r = kincr(f->kv, "b", "f", 1);
    assert_error(r, "EINVAL", "stored value is a float");
    reply_free(r);

    /* Overflow, both ways; the value stays. */
    set_int(f->kv, "b", "x", INT64_MAX);
    r = kincr(f->kv, "b", "x", 1);
    assert_error(r, "ELIMIT", "overflows int64");
    reply_free(r);
    set_int(f->kv, "b", "y", INT64_MIN);
    r = kincr(f->kv, "b", "y", -1);
    assert_error(r, "ELIMIT", "\"by\"");
    reply_free(r);
    r = kincr(f->kv, "b", "y", INT64_MAX);
    assert_int_equal(rint_field(r, "value"), -1);
    reply_free(r);
    r = kget(f->kv, "b", "x", 1);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\xcf\x7f\xff\xff\xff\xff\xff"
                          "\xff\xff"));
    reply_free(r);

    /* A stored uint64 past int64 may come back into range. */
    r = kset_raw(f->kv, "b", "u", 1,
                 BYTES("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"));
    reply_free(r);
    r = kincr(f->kv, "b", "u", 1);
    assert_error(r, "ELIMIT", NULL);
    reply_free(r);
    r = kincr(f->kv, "b", "u", INT64_MIN);
    assert_int_equal(rint_field(r, "value"), INT64_MAX);
    reply_free(r);

    /* "by" must be an int64. */
    r = kincr_raw(f->kv, "b", "n", BYTES("\xa1\x31"));
    assert_error(r, "EINVAL", "field \"by\": must be an integer");
    reply_free(r);
    r = kincr_raw(f->kv, "b", "n", BYTES("\xcf\x80\0\0\0\0\0\0\0"));
    assert_error(r, "EINVAL", "\"by\"");
    reply_free(r);
    r = kincr_raw(f->kv, "b", "n", BYTES("\xcb\x3f\xf0\0\0\0\0\0\0"));
    assert_error(r, "EINVAL", "\"by\"");
    reply_free(r);
}

static void test_cas(void **state)
{
    fixture *f = *state;
    /* Absent, expected nil: swapped. */
    reply *r = kcas(f->kv, "b", "k", BYTES("\xc0"), BYTES("\x01"));
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa7swapped\xc3\xa7"
                          "current\x01"));
    reply_free(r);
    /* Present, expected nil: not swapped, the current value. */
    r = kcas(f->kv, "b", "k", BYTES("\xc0"), BYTES("\x02"));
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa7swapped\xc2\xa7"
                          "current\x01"));
    reply_free(r);
    /* Present, matching: swapped. */
    r = kcas(f->kv, "b", "k", BYTES("\x01"), BYTES("\x92\x01\x02"));
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa7swapped\xc3\xa7"
                          "current\x92\x01\x02"));
    reply_free(r);
    /* Present, mismatching: not swapped. */
    r = kcas(f->kv, "b", "k", BYTES("\x01"), BYTES("\x03"));
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa7swapped\xc2\xa7"
                          "current\x92\x01\x02"));
    reply_free(r);
    r = kget(f->kv, "b", "k", 1);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\x92\x01\x02"));
    reply_free(r);
    /* Absent, expecting a value: not swapped, current nil. */
    r = kcas(f->kv, "b", "none", BYTES("\x01"), BYTES("\x03"));
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa7swapped\xc2\xa7"
                          "current\xc0"));
    reply_free(r);
    r = kget(f->kv, "b", "none", 4);
    assert_false(rbool(r, "found"));
    reply_free(r);
    /* Maps compare in their order. */
    r = kset_raw(f->kv, "b", "m", 1,
                 BYTES("\x82\xa1"
                       "a\x01\xa1"
                       "b\x02"));
    reply_free(r);
    r = kcas(f->kv, "b", "m",
             BYTES("\x82\xa1"
                   "b\x02\xa1"
                   "a\x01"),
             BYTES("\x00"));
    assert_false(rbool(r, "swapped"));
    reply_free(r);
    r = kcas(f->kv, "b", "m",
             BYTES("\x82\xa1"
                   "a\x01\xa1"
                   "b\x02"),
             BYTES("\x00"));
    assert_true(rbool(r, "swapped"));
    reply_free(r);

    /* Every field is needed. */
    r = call_raw(f->kv, "b",
                 BYTES("\x83\xa2op\xa3"
                       "cas\xa3key\xa1k\xa5value\x01"));
    assert_error(r, "EINVAL", "field \"expected\" is missing");
    reply_free(r);
    r = call_raw(f->kv, "b",
                 BYTES("\x83\xa2op\xa3"
                       "cas\xa3key\xa1k\xa8"
                       "expected\x01"));
    assert_error(r, "EINVAL", "field \"value\" is missing");
    reply_free(r);
}

/* ---- list ---- */

/* The keys of a list reply, each checked to hold the value of set_key. */
static size_t list_keys(const reply *r, char keys[][16], size_t max)
{
    assert_ok(r);
    const msgpack_object *e = rget(r, "entries");
    assert_int_equal(e->type, MSGPACK_OBJECT_ARRAY);
    assert_true(e->via.array.size <= max);
    for (uint32_t i = 0; i < e->via.array.size; i++) {
        const msgpack_object *m = &e->via.array.ptr[i];
        assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
        assert_int_equal(m->via.map.size, 2);
        assert_true(obj_is_str(&m->via.map.ptr[0].key, "key", 3));
        assert_true(obj_is_str(&m->via.map.ptr[1].key, "value", 5));
        const msgpack_object *k = &m->via.map.ptr[0].val;
        assert_int_equal(k->type, MSGPACK_OBJECT_STR);
        assert_true(k->via.str.size < 16);
        memcpy(keys[i], k->via.str.ptr, k->via.str.size);
        keys[i][k->via.str.size] = '\0';
    }
    return e->via.array.size;
}

static void test_list(void **state)
{
    fixture *f = *state;
    /* Empty. */
    reply *r = klist(f->kv, "b", NULL, SIZE_MAX, NULL, SIZE_MAX, 0);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa7"
                          "entries\x90\xa4next\xc0"));
    reply_free(r);

    static const char *const keys[] = {"b", "a", "ab", "abc", "b0", "B", "aa"};
    for (size_t i = 0; i < 7; i++)
        set_int(f->kv, "b", keys[i], (int64_t)i);
    /* Byte order. */
    char got[8][16];
    r = klist(f->kv, "b", NULL, SIZE_MAX, NULL, SIZE_MAX, 0);
    assert_int_equal(list_keys(r, got, 8), 7);
    static const char *const sorted[] = {"B",   "a", "aa", "ab",
                                         "abc", "b", "b0"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(got[i], sorted[i]);
    assert_int_equal(rget(r, "next")->type, MSGPACK_OBJECT_NIL);
    reply_free(r);
    /* The entries' exact encoding. */
    r = klist(f->kv, "b", "abc", 3, NULL, SIZE_MAX, 0);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa7"
                          "entries\x91\x82\xa3key\xa3"
                          "abc\xa5value\x03\xa4next\xc0"));
    reply_free(r);

    /* Prefix, after, limit. */
    r = klist(f->kv, "b", "a", 1, NULL, SIZE_MAX, 2);
    assert_int_equal(list_keys(r, got, 8), 2);
    assert_string_equal(got[0], "a");
    assert_string_equal(got[1], "aa");
    assert_true(obj_is_str(rget(r, "next"), "aa", 2));
    reply_free(r);
    r = klist(f->kv, "b", "a", 1, "aa", 2, 2);
    assert_int_equal(list_keys(r, got, 8), 2);
    assert_string_equal(got[0], "ab");
    assert_string_equal(got[1], "abc");
    /* Exactly the last ones: no more follow. */
    assert_int_equal(rget(r, "next")->type, MSGPACK_OBJECT_NIL);
    reply_free(r);
    /* "after" before the prefix, and past it. */
    r = klist(f->kv, "b", "b", 1, "A", 1, 0);
    assert_int_equal(list_keys(r, got, 8), 2);
    assert_string_equal(got[0], "b");
    reply_free(r);
    r = klist(f->kv, "b", "a", 1, "b", 1, 0);
    assert_int_equal(list_keys(r, got, 8), 0);
    reply_free(r);
    /* "after" alone, and nil as absent. */
    r = klist(f->kv, "b", NULL, SIZE_MAX, "ab", 2, 0);
    assert_int_equal(list_keys(r, got, 8), 3);
    assert_string_equal(got[0], "abc");
    reply_free(r);
    r = call_raw(f->kv, "b",
                 BYTES("\x84\xa2op\xa4list\xa6prefix\xc0\xa5"
                       "after\xc0\xa5limit\xc0"));
    assert_int_equal(list_keys(r, got, 8), 7);
    reply_free(r);

    /* The limits of "limit". */
    r = klist(f->kv, "b", NULL, SIZE_MAX, NULL, SIZE_MAX, -1);
    assert_error(r, "EINVAL",
                 "field \"limit\": must be an integer from 1 "
                 "to 1000");
    reply_free(r);
    r = klist(f->kv, "b", NULL, SIZE_MAX, NULL, SIZE_MAX, 1001);
    assert_error(r, "EINVAL", "\"limit\"");
    reply_free(r);
    r = call_raw(f->kv, "b", BYTES("\x82\xa2op\xa4list\xa5limit\x00"));
    assert_error(r, "EINVAL", "\"limit\"");
    reply_free(r);
    r = call_raw(f->kv, "b", BYTES("\x82\xa2op\xa4list\xa6prefix\x01"));
    assert_error(r, "EINVAL", "field \"prefix\": must be a string");
    reply_free(r);
    r = call_raw(f->kv, "b",
                 BYTES("\x82\xa2op\xa4list\xa5"
                       "after\xc4\x01x"));
    assert_error(r, "EINVAL", "field \"after\"");
    reply_free(r);

    /* The default limit is 100. */
    for (int i = 0; i < 150; i++) {
        char k[16];
        snprintf(k, sizeof k, "n%03d", i);
        set_int(f->kv, "b", k, i);
    }
    r = klist(f->kv, "b", "n", 1, NULL, SIZE_MAX, 0);
    char many[1000][16];
    assert_int_equal(list_keys(r, many, 1000), 100);
    assert_true(obj_is_str(rget(r, "next"), "n099", 4));
    reply_free(r);
}

/* 2,500 keys paged 1,000 at a time: each seen once, in order. */
static void test_list_paging(void **state)
{
    fixture *f = *state;
    enum { N = 2500 };
    /* One batch, one transaction. */
    static packed reqs[N];
    const char *buckets[N];
    const uint8_t *bytes[N];
    size_t lens[N];
    uint8_t *replies[N];
    size_t reply_lens[N];
    for (int i = 0; i < N; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%05d", (i * 7919) % N);
        packed_init(&reqs[i]);
        msgpack_pack_map(&reqs[i].pk, 3);
        pk_str(&reqs[i], "op");
        pk_str(&reqs[i], "set");
        pk_str(&reqs[i], "key");
        pk_str(&reqs[i], k);
        pk_str(&reqs[i], "value");
        msgpack_pack_int(&reqs[i].pk, (i * 7919) % N);
        buckets[i] = "b";
        bytes[i] = (const uint8_t *)reqs[i].sb.data;
        lens[i] = reqs[i].sb.size;
    }
    kv_handle_batch(f->kv, N, buckets, bytes, lens, replies, reply_lens);
    for (int i = 0; i < N; i++) {
        reply *r = reply_take(replies[i], reply_lens[i]);
        assert_ok(r);
        reply_free(r);
        packed_free(&reqs[i]);
    }
    set_int(f->kv, "other", "key00001", 1);
    set_int(f->kv, "b", "kez", 1);
    set_int(f->kv, "b", "kex", 1);

    static bool seen[N];
    memset(seen, 0, sizeof seen);
    char after[16] = "";
    int pages = 0, total = 0;
    for (;;) {
        reply *r = klist(f->kv, "b", "key", 3, after,
                         after[0] ? strlen(after) : SIZE_MAX, 1000);
        static char got[1000][16];
        size_t n = list_keys(r, got, 1000);
        for (size_t i = 0; i < n; i++) {
            int k = atoi(got[i] + 3);
            assert_true(k >= 0 && k < N);
            assert_false(seen[k]);
            seen[k] = true;
            assert_int_equal(k, total);
            total++;
        }
        pages++;
        const msgpack_object *next = rget(r, "next");
        if (next->type == MSGPACK_OBJECT_NIL) {
            reply_free(r);
            break;
        }
        assert_int_equal(n, 1000);
        assert_true(obj_is_str(next, got[n - 1], strlen(got[n - 1])));
        snprintf(after, sizeof after, "%s", got[n - 1]);
        reply_free(r);
        assert_true(pages < 10);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(total, N);
}

/* Sets key to a binary of body bytes (a bin 32, 5 + body bytes). */
static void set_bin(kv_store *kv, const char *bucket, const char *key,
                    size_t klen, size_t body)
{
    uint8_t *v = malloc(body + 5);
    assert_non_null(v);
    v[0] = 0xc6;
    v[1] = (uint8_t)(body >> 24);
    v[2] = (uint8_t)(body >> 16);
    v[3] = (uint8_t)(body >> 8);
    v[4] = (uint8_t)body;
    memset(v + 5, 1, body);
    reply *r = kset_raw(kv, bucket, key, klen, v, body + 5);
    assert_ok(r);
    reply_free(r);
    free(v);
}

/* Pages through bucket with no limit but the bytes; returns the number of
 * entries of each page in per_page. */
static size_t page_sizes(kv_store *kv, const char *bucket, size_t *per_page,
                         size_t max_pages, size_t *largest)
{
    char after[KV_MAX_KEY + 1] = "";
    size_t alen = SIZE_MAX, pages = 0;
    *largest = 0;
    for (;;) {
        assert_true(pages < max_pages);
        reply *r = klist(kv, bucket, NULL, SIZE_MAX, after, alen, 1000);
        assert_ok(r);
        if (r->len > *largest)
            *largest = r->len;
        per_page[pages++] = rget(r, "entries")->via.array.size;
        const msgpack_object *next = rget(r, "next");
        if (next->type == MSGPACK_OBJECT_NIL) {
            reply_free(r);
            return pages;
        }
        memcpy(after, next->via.str.ptr, next->via.str.size);
        alen = next->via.str.size;
        reply_free(r);
    }
}

/* A list reply keeps to KV_LIST_MAX_BYTES but takes one entry. */
static void test_list_bytes(void **state)
{
    fixture *f = *state;
    size_t pages[8], largest;
    /* An entry {"key": "kN", "value": bin} is 14 + 5 + body bytes; two
     * fill the room exactly. */
    size_t room = KV_LIST_MAX_BYTES - KV_LIST_FRAME;
    size_t body = room / 2 - 14 - 5;
    for (int i = 0; i < 4; i++) {
        char k[3] = {'k', (char)('0' + i), 0};
        set_bin(f->kv, "two", k, 2, body);
        set_bin(f->kv, "one", k, 2, body + 1);
    }
    assert_int_equal(page_sizes(f->kv, "two", pages, 8, &largest), 2);
    assert_int_equal(pages[0], 2);
    assert_int_equal(pages[1], 2);
    assert_true(largest <= KV_LIST_MAX_BYTES);
    assert_int_equal(page_sizes(f->kv, "one", pages, 8, &largest), 4);
    assert_int_equal(pages[0], 1);
    assert_true(largest <= KV_LIST_MAX_BYTES);

    /* A single entry larger than a reply still comes, alone. */
    char key[KV_MAX_KEY];
    memset(key, 'k', sizeof key);
    set_bin(f->kv, "huge", key, KV_MAX_KEY, KV_MAX_VALUE - 5);
    set_bin(f->kv, "huge", "small", 5, 1);
    assert_int_equal(page_sizes(f->kv, "huge", pages, 8, &largest), 2);
    assert_int_equal(pages[0], 1);
    assert_int_equal(pages[1], 1);
    assert_true(largest > KV_LIST_MAX_BYTES);
}

/* Prefixes holding LIKE and GLOB wildcards and 0xff bytes select exactly
 * the keys that start with them. */
static void test_list_prefixes(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *k;
        size_t n;
    } keys[] = {
#define K(s) {s, sizeof(s) - 1}
        K("a"),
        K("a%"),
        K("a%b"),
        K("ab"),
        K("a_"),
        K("a_b"),
        K("axb"),
        K("a*"),
        K("a*b"),
        K("a?"),
        K("a?b"),
        K("a["),
        K("a[b]"),
        K("a\\"),
        K("a\\b"),
        K("a\xff"),
        K("a\xff\xff"),
        K("a\xff\x00"),
        K("a\xfe\xff"),
        K("b"),
        K("\xff"),
        K("\xff\xff"),
        K("\xff\xff\xff"),
        K("\xff\x00"),
        K("\xfe"),
        K("\x01"),
        K("\x7f"),
        K("\x80"),
        K("a\x00"),
        K("%"),
        K("_"),
#undef K
    };
    size_t nkeys = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < nkeys; i++)
        set_str(f->kv, "b", keys[i].k, keys[i].n, "v");
    /* Another bucket holds every key too, and must not show. */
    for (size_t i = 0; i < nkeys; i++)
        set_str(f->kv, "c", keys[i].k, keys[i].n, "other");

    static const struct {
        const char *p;
        size_t n;
    } prefixes[] = {
#define P(s) {s, sizeof(s) - 1}
        P(""),     P("a"),        P("a%"),           P("a_"),    P("a*"),
        P("a?"),   P("a["),       P("a\\"),          P("a\xff"), P("a\xff\xff"),
        P("\xff"), P("\xff\xff"), P("\xff\xff\xff"), P("\xfe"),  P("%"),
        P("_"),    P("a\x00"),    P("zz"),           P("a\xfe"), P("\x7f"),
#undef P
    };
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        const char *pre = prefixes[p].p;
        size_t plen = prefixes[p].n;
        /* What the prefix selects, by definition. */
        size_t want = 0;
        for (size_t i = 0; i < nkeys; i++)
            if (keys[i].n >= plen && memcmp(keys[i].k, pre, plen) == 0)
                want++;
        reply *r = klist(f->kv, "b", pre, plen, NULL, SIZE_MAX, 1000);
        assert_ok(r);
        const msgpack_object *e = rget(r, "entries");
        if (e->via.array.size != want)
            fprintf(stderr, "prefix %zu: %u keys, want %zu\n", p,
                    e->via.array.size, want);
        assert_int_equal(e->via.array.size, want);
        const msgpack_object *prev = NULL;
        for (uint32_t i = 0; i < e->via.array.size; i++) {
            const msgpack_object *k = &e->via.array.ptr[i].via.map.ptr[0].val;
            const msgpack_object *v = &e->via.array.ptr[i].via.map.ptr[1].val;
            assert_true(k->via.str.size >= plen &&
                        memcmp(k->via.str.ptr, pre, plen) == 0);
            assert_true(obj_is_str(v, "v", 1));
            if (prev) {
                /* Strictly increasing byte order. */
                size_t m = prev->via.str.size < k->via.str.size
                               ? prev->via.str.size
                               : k->via.str.size;
                int c = memcmp(prev->via.str.ptr, k->via.str.ptr, m);
                assert_true(c < 0 ||
                            (c == 0 && prev->via.str.size < k->via.str.size));
            }
            prev = k;
        }
        reply_free(r);
    }
}

/* ---- buckets ---- */

static void test_buckets(void **state)
{
    fixture *f = *state;
    set_str(f->kv, "a", "k", 1, "in a");
    set_str(f->kv, "ab", "k", 1, "in ab");
    set_str(f->kv, "a", "x", 1, "x in a");
    reply *r = kget(f->kv, "ab", "k", 1);
    assert_bytes(r, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\xa5in ab"));
    reply_free(r);
    r = kget(f->kv, "ab", "x", 1);
    assert_false(rbool(r, "found"));
    reply_free(r);
    r = kget(f->kv, "b", "k", 1);
    assert_false(rbool(r, "found"));
    reply_free(r);
    char got[4][16];
    r = klist(f->kv, "ab", NULL, SIZE_MAX, NULL, SIZE_MAX, 0);
    assert_int_equal(list_keys(r, got, 4), 1);
    reply_free(r);
    r = kdelete(f->kv, "ab", "x");
    assert_false(rbool(r, "deleted"));
    reply_free(r);
    r = kdelete(f->kv, "ab", "k");
    assert_true(rbool(r, "deleted"));
    reply_free(r);
    r = kget(f->kv, "a", "k", 1);
    assert_true(rbool(r, "found"));
    reply_free(r);
    r = kincr(f->kv, "ab", "x", 5);
    assert_int_equal(rint_field(r, "value"), 5);
    reply_free(r);
    r = kcas(f->kv, "ab", "k", BYTES("\xc0"), BYTES("\x01"));
    assert_true(rbool(r, "swapped"));
    reply_free(r);

    /* Names of 1..255 bytes. */
    char name[257];
    memset(name, 'n', 256);
    name[255] = '\0';
    set_str(f->kv, name, "k", 1, "long bucket");
    name[255] = 'n';
    name[256] = '\0';
    r = kget(f->kv, name, "k", 1);
    assert_error(r, "EINVAL", "bucket");
    reply_free(r);
    r = kget(f->kv, "", "k", 1);
    assert_error(r, "EINVAL", "bucket name must be 1..255 bytes");
    reply_free(r);
    r = kget(f->kv, NULL, "k", 1);
    assert_error(r, "EINVAL", "bucket");
    reply_free(r);
}

/* ---- malformed requests ---- */

static void test_malformed(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *req;
        size_t len;
        const char *error, *words;
    } cases[] = {
#define M(req, error, words) {req, sizeof(req) - 1, error, words}
        M("", "EMALFORMED", "empty"),
        M("\xc1", "EMALFORMED", "0xc1"),
        M("\x82\xa2op\xa3get\xa3key", "EMALFORMED", "cut short"),
        M("\x82\xa2op\xa3get\xa3key\xa1", "EMALFORMED", "cut short"),
        M("\x81\xa2op\xa3get\xc0", "EMALFORMED", "1 bytes after"),
        M("\xde\xff\xff", "EMALFORMED", "cut short"),
        M("\xdf\xff\xff\xff\xff", "EMALFORMED", "cut short"),
        M("\x93\x01\x02\x03", "EMALFORMED", "an array, not a map"),
        M("\x05", "EMALFORMED", "an integer, not a map"),
        M("\xa3get", "EMALFORMED", "a string, not a map"),
        M("\x80", "EINVAL", "field \"op\" is missing"),
        M("\x81\xa3key\xa1k", "EINVAL", "\"op\" is missing"),
        M("\x81\xa2op\x01", "EINVAL", "field \"op\": must be a string"),
        M("\x81\xa2op\xa4jump", "EINVAL", "unknown op \"jump\""),
        M("\x81\xa2op\xa3GET", "EINVAL", "unknown op"),
        M("\x81\xa2op\xa3get", "EINVAL", "field \"key\" is missing"),
        M("\x81\xa2op\xa3set", "EINVAL", "is missing"),
        M("\x82\xa2op\xa3set\xa3key\xa1k", "EINVAL",
          "field \"value\" is missing"),
        M("\x82\xa2op\xa3get\xa3key\x01", "EINVAL",
          "field \"key\": must be a string of 1..1024 bytes, not an integer"),
        M("\x82\xa2op\xa3get\xa3key\xc4\x01k", "EINVAL", "not a binary"),
        M("\x82\xa2op\xa3get\xa3key\xc0", "EINVAL", "not nil"),
        M("\x83\xa2op\xa3get\xa3key\xa1k\xa3kez\x01", "EINVAL",
          "unknown field \"kez\""),
        M("\x83\xa2op\xa3get\xa3key\xa1k\xa3key\xa1j", "EINVAL",
          "field \"key\" given twice"),
        M("\x83\xa2op\xa3get\xa3key\xa1k\x01\x02", "EINVAL",
          "a field name is an integer"),
        M("\x83\xa2op\xa3get\xa3key\xa1k\xa5value\x01", "EINVAL",
          "field \"value\" does not belong to op \"get\""),
        M("\x83\xa2op\xa4list\xa3key\xa1k\xa5limit\x01", "EINVAL",
          "field \"key\" does not belong"),
        M("\x83\xa2op\xa3set\xa3key\xa1k\xa2"
          "by\x01",
          "EINVAL", "field \"value\" is missing"),
        M("\x82\xa2op\xa3get\xa4k\xffy\"\x01", "EINVAL",
          "unknown field \"k?y?\""),
#undef M
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reply *r =
            call_raw(f->kv, "b", (const uint8_t *)cases[i].req, cases[i].len);
        assert_error(r, cases[i].error, cases[i].words);
        reply_free(r);
    }
    /* NULL. */
    reply *r = call_raw(f->kv, "b", NULL, 0);
    assert_error(r, "EMALFORMED", "empty");
    reply_free(r);
    /* Every truncation of a good request is malformed. */
    static const uint8_t good[] =
        "\x83\xa2op\xa3set\xa3key\xa1k\xa5value\x92\xcd\x01\x00\xa2hi";
    for (size_t cut = 0; cut < sizeof good - 1; cut++) {
        r = call_raw(f->kv, "b", good, cut);
        assert_error(r, "EMALFORMED", NULL);
        reply_free(r);
    }
    r = call_raw(f->kv, "b", good, sizeof good - 1);
    assert_ok(r);
    reply_free(r);
    /* Nothing was written by the failures. */
    r = klist(f->kv, "b", NULL, SIZE_MAX, NULL, SIZE_MAX, 0);
    char got[4][16];
    assert_int_equal(list_keys(r, got, 4), 1);
    reply_free(r);
}

/* ---- batches ---- */

static void test_batch(void **state)
{
    fixture *f = *state;
    set_str(f->kv, "b", "s", 1, "text");
    static const struct {
        const char *bucket, *req;
        size_t len;
        const char *error; /* NULL: success */
    } cases[] = {
#define B(bucket, req, error) {bucket, req, sizeof(req) - 1, error}
        B("b",
          "\x83\xa2op\xa3set\xa3key\xa1"
          "a\xa5value\x01",
          NULL),
        B("b", "\xc1", "EMALFORMED"),
        B("b", "\x82\xa2op\xa4incr\xa3key\xa1s", "EINVAL"),
        B("b",
          "\x82\xa2op\xa4incr\xa3key\xa1"
          "a",
          NULL),
        B("",
          "\x82\xa2op\xa3get\xa3key\xa1"
          "a",
          "EINVAL"),
        B("b", "\x83\xa2op\xa3set\xa3key\xa1x\xa5value\xa1y", NULL),
        B("c", "\x83\xa2op\xa3set\xa3key\xa1x\xa5value\xa1z", NULL),
        B("b",
          "\x83\xa2op\xa4incr\xa3key\xa1"
          "a\xa2"
          "by\xcf\x7f\xff\xff"
          "\xff\xff\xff\xff\xff",
          "ELIMIT"),
        B("b",
          "\x82\xa2op\xa3get\xa3key\xa1"
          "a",
          NULL),
        B("b",
          "\x82\xa2op\xa6"
          "delete\xa3key\xa1s",
          NULL),
        B("b", "\x82\xa2op\xa4list\xa5limit\x02", NULL),
#undef B
    };
    enum { N = sizeof cases / sizeof cases[0] };
    const char *buckets[N];
    const uint8_t *reqs[N];
    size_t lens[N];
    uint8_t *replies[N];
    size_t reply_lens[N];
    for (size_t i = 0; i < N; i++) {
        buckets[i] = cases[i].bucket;
        reqs[i] = (const uint8_t *)cases[i].req;
        lens[i] = cases[i].len;
    }
    kv_handle_batch(f->kv, N, buckets, reqs, lens, replies, reply_lens);
    reply *r[N];
    for (size_t i = 0; i < N; i++) {
        r[i] = reply_take(replies[i], reply_lens[i]);
        if (cases[i].error)
            assert_error(r[i], cases[i].error, NULL);
        else
            assert_ok(r[i]);
    }
    /* Later requests see the earlier ones' writes, and only the
     * successful ones'. */
    assert_int_equal(rint_field(r[3], "value"), 2);
    assert_bytes(r[8], BYTES("\x83\xa2ok\xc3\xa5"
                             "found\xc3\xa5value\x02"));
    assert_true(rbool(r[9], "deleted"));
    assert_int_equal(rget(r[10], "entries")->via.array.size, 2);
    for (size_t i = 0; i < N; i++)
        reply_free(r[i]);

    /* All of it is durable. */
    reopen(f);
    reply *g = kget(f->kv, "b", "a", 1);
    assert_bytes(g, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\x02"));
    reply_free(g);
    g = kget(f->kv, "c", "x", 1);
    assert_bytes(g, BYTES("\x83\xa2ok\xc3\xa5"
                          "found\xc3\xa5value\xa1z"));
    reply_free(g);
    g = kget(f->kv, "b", "s", 1);
    assert_false(rbool(g, "found"));
    reply_free(g);

    /* Only failures; none at all. */
    const char *bad_buckets[2] = {buckets[1], buckets[4]};
    const uint8_t *bad_reqs[2] = {reqs[1], reqs[4]};
    size_t bad_lens[2] = {lens[1], lens[4]};
    kv_handle_batch(f->kv, 2, bad_buckets, bad_reqs, bad_lens, replies,
                    reply_lens);
    for (size_t i = 0; i < 2; i++) {
        g = reply_take(replies[i], reply_lens[i]);
        assert_false(reply_ok(g));
        reply_free(g);
    }
    kv_handle_batch(f->kv, 0, NULL, NULL, NULL, NULL, NULL);
}

/* ---- durability ---- */

/* A child sets keys one by one (or in batches of 8), and after each reply
 * writes the key's number to a pipe; the parent kills it with SIGKILL at
 * a random point, then finds every acknowledged write in the database. */
static void kill9_round(const fixture *f, int round, bool batches,
                        unsigned seed)
{
    enum { N = 2000, BATCH = 8 };
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    srand(seed);
    unsigned kill_after = 1 + (unsigned)rand() % 300;
    unsigned delay_us = (unsigned)rand() % 3000;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        kv_store *kv = NULL;
        if (kv_open(f->path, &kv, NULL) != SHOAL_OK)
            _exit(2);
        uint32_t step = batches ? BATCH : 1;
        for (uint32_t i = 0; i + step <= N; i += step) {
            packed p[BATCH];
            const char *buckets[BATCH];
            const uint8_t *reqs[BATCH];
            size_t lens[BATCH], reply_lens[BATCH];
            uint8_t *replies[BATCH];
            uint32_t n = step;
            for (uint32_t j = 0; j < n; j++) {
                char k[32];
                snprintf(k, sizeof k, "r%d-%05u", round, i + j);
                packed_init(&p[j]);
                msgpack_pack_map(&p[j].pk, 3);
                pk_str(&p[j], "op");
                pk_str(&p[j], "set");
                pk_str(&p[j], "key");
                pk_str(&p[j], k);
                pk_str(&p[j], "value");
                msgpack_pack_uint32(&p[j].pk, i + j);
                buckets[j] = "durable";
                reqs[j] = (const uint8_t *)p[j].sb.data;
                lens[j] = p[j].sb.size;
            }
            if (batches)
                kv_handle_batch(kv, n, buckets, reqs, lens, replies,
                                reply_lens);
            else
                kv_handle(kv, buckets[0], reqs[0], lens[0], &replies[0],
                          &reply_lens[0]);
            for (uint32_t j = 0; j < n; j++) {
                /* {"ok": true} */
                if (reply_lens[j] != 5 || replies[j][4] != 0xc3)
                    _exit(3);
                uint32_t ack = i + j;
                if (write(fds[1], &ack, sizeof ack) != sizeof ack)
                    _exit(4);
                free(replies[j]);
                packed_free(&p[j]);
            }
        }
        _exit(0);
    }
    close(fds[1]);
    static bool acked[N];
    memset(acked, 0, sizeof acked);
    unsigned acks = 0;
    uint32_t ack;
    while (acks < kill_after && read(fds[0], &ack, sizeof ack) == sizeof ack) {
        assert_true(ack < N);
        acked[ack] = true;
        acks++;
    }
    usleep(delay_us);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The child died of the signal, not of a failure of its own. */
    if (!WIFSIGNALED(status))
        fail_msg("child exited with %d", WEXITSTATUS(status));
    /* Acknowledgements written before the kill are still in the pipe. */
    while (read(fds[0], &ack, sizeof ack) == sizeof ack) {
        assert_true(ack < N);
        acked[ack] = true;
        acks++;
    }
    close(fds[0]);

    kv_store *kv = open_kv(f->path);
    for (uint32_t i = 0; i < N; i++) {
        if (!acked[i])
            continue;
        char k[32];
        snprintf(k, sizeof k, "r%d-%05u", round, i);
        reply *r = kget(kv, "durable", k, strlen(k));
        if (!rbool(r, "found"))
            fail_msg("acknowledged write %s lost (seed %u)", k, seed);
        assert_int_equal(rint_field(r, "value"), i);
        reply_free(r);
    }
    kv_close(kv);
    print_message("kill -9 round %d (%s, seed %u): %u writes acknowledged, "
                  "all found\n",
                  round, batches ? "batches" : "single", seed, acks);
}

static void test_kill9(void **state)
{
    fixture *f = *state;
    kv_close(f->kv);
    f->kv = NULL;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    for (int round = 0; round < 4; round++)
        kill9_round(f, round, round % 2 == 1, seed + (unsigned)round);
    f->kv = open_kv(f->path);
}

/* ---- storage errors ---- */

/* Another connection holds the write lock past kv's busy timeout: EIO, and
 * nothing changes. */
static void test_eio(void **state)
{
    fixture *f = *state;
    set_int(f->kv, "b", "k", 1);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    reply *r = kincr(f->kv, "b", "k", 1);
    assert_error(r, "EIO", "locked");
    reply_free(r);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    r = kincr(f->kv, "b", "k", 1);
    assert_int_equal(rint_field(r, "value"), 2);
    reply_free(r);
}

/* The disk refuses the commit (a file size limit makes writing the log
 * fail): the requests that had succeeded in the batch are answered with
 * EIO, and none of them is in the database. */
static void test_commit_failure(void **state)
{
    fixture *f = *state;
    set_int(f->kv, "b", "old", 1);
    char wal[128];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);

    static const struct {
        const char *req;
        size_t len;
    } cases[] = {
#define C(s) {s, sizeof(s) - 1}
        C("\x83\xa2op\xa3set\xa3key\xa1"
          "a\xa5value\x01"),
        C("\xc1"),
        C("\x82\xa2op\xa3get\xa3key\xa1"
          "a"),
        C("\x82\xa2op\xa6"
          "delete\xa3key\xa3old"),
        C("\x82\xa2op\xa4incr\xa3key\xa1n"),
#undef C
    };
    enum { N = sizeof cases / sizeof cases[0] };
    const char *buckets[N];
    const uint8_t *reqs[N];
    size_t lens[N];
    uint8_t *replies[N];
    size_t reply_lens[N];
    for (size_t i = 0; i < N; i++) {
        buckets[i] = "b";
        reqs[i] = (const uint8_t *)cases[i].req;
        lens[i] = cases[i].len;
    }
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)st.st_size;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
    kv_handle_batch(f->kv, N, buckets, reqs, lens, replies, reply_lens);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    for (size_t i = 0; i < N; i++) {
        reply *r = reply_take(replies[i], reply_lens[i]);
        if (i == 1)
            assert_error(r, "EMALFORMED", NULL);
        else
            assert_error(r, "EIO", "not committed: commit:");
        reply_free(r);
    }
    reply *r = kget(f->kv, "b", "a", 1);
    assert_false(rbool(r, "found"));
    reply_free(r);
    r = kget(f->kv, "b", "old", 3);
    assert_true(rbool(r, "found"));
    reply_free(r);
    r = kincr(f->kv, "b", "n", 1);
    assert_int_equal(rint_field(r, "value"), 1);
    reply_free(r);
}

/* A database holding what kv never writes: the reply is EIO, never
 * garbage. */
static void test_corrupt_rows(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO kv VALUES (x'62', x'6b', x'92c0');"
                     "INSERT INTO kv VALUES (x'62', x'6c', x'');"
                     "INSERT INTO kv VALUES (x'63', x'', x'01');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    reply *r = kget(f->kv, "b", "k", 1);
    assert_error(r, "EIO", "value that is not valid");
    reply_free(r);
    r = kget(f->kv, "b", "l", 1);
    assert_error(r, "EIO", NULL);
    reply_free(r);
    r = kincr(f->kv, "b", "k", 1);
    assert_error(r, "EIO", NULL);
    reply_free(r);
    r = klist(f->kv, "b", NULL, SIZE_MAX, NULL, SIZE_MAX, 0);
    assert_error(r, "EIO", NULL);
    reply_free(r);
    r = klist(f->kv, "c", NULL, SIZE_MAX, NULL, SIZE_MAX, 0);
    assert_error(r, "EIO", "key that is not valid");
    reply_free(r);
    /* The store goes on. */
    set_int(f->kv, "b", "m", 3);
}

/* ---- allocation failures ---- */

/* The contents of bucket "b" as one list reply's bytes. */
static uint8_t *contents(kv_store *kv, size_t *len)
{
    uint8_t *out;
    kv_handle(kv, "b", BYTES("\x82\xa2op\xa4list\xa5limit\xcd\x03\xe8"), &out,
              len);
    assert_non_null(out);
    return out;
}

static kv_store *oom_store(const fixture *f)
{
    unlink(f->path);
    char aux[128];
    snprintf(aux, sizeof aux, "%s-wal", f->path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", f->path);
    unlink(aux);
    kv_store *kv = open_kv(f->path);
    set_int(kv, "b", "n", 41);
    set_str(kv, "b", "s", 1, "text");
    set_str(kv, "b", "t", 1, "more");
    return kv;
}

/* Runs a batch of requests with the allocation number fail_at failing;
 * every reply is the one given without failures, an ENOMEM or EIO error,
 * or none, and an error leaves the store as it was. Returns whether the
 * failure happened. */
static bool oom_run(const fixture *f, size_t n, const uint8_t *const *reqs,
                    const size_t *lens, unsigned fail_at, uint8_t **want,
                    size_t *want_lens, uint8_t **want_after,
                    size_t *want_after_len)
{
    const char *buckets[8];
    uint8_t *replies[8];
    size_t reply_lens[8];
    for (size_t i = 0; i < n; i++)
        buckets[i] = "b";
    kv_store *kv = oom_store(f);
    size_t before_len;
    uint8_t *before = contents(kv, &before_len);

    alloc_watch(fail_at);
    kv_handle_batch(kv, n, buckets, reqs, lens, replies, reply_lens);
    bool failed = fail_at != 0 && alloc.count >= fail_at;
    alloc_unwatch();
    /* Nothing of ours is left but the replies. */
    long held = 0;
    for (size_t i = 0; i < n; i++)
        held += replies[i] != NULL;
    assert_int_equal(alloc.live, held);

    bool all_ok = true;
    for (size_t i = 0; i < n; i++) {
        if (fail_at == 0) {
            want[i] = replies[i];
            want_lens[i] = reply_lens[i];
            continue;
        }
        if (replies[i] == NULL) {
            assert_true(failed);
            all_ok = false;
            continue;
        }
        if (reply_lens[i] == want_lens[i] &&
            memcmp(replies[i], want[i], want_lens[i]) == 0) {
            free(replies[i]);
            continue;
        }
        reply *r = reply_take(replies[i], reply_lens[i]);
        assert_true(failed);
        if (reply_ok(r))
            show(r);
        assert_false(reply_ok(r));
        const msgpack_object *e = rget(r, "error");
        assert_true(obj_is_str(e, "ENOMEM", 6) || obj_is_str(e, "EIO", 3));
        reply_free(r);
        all_ok = false;
    }

    size_t after_len;
    uint8_t *after = contents(kv, &after_len);
    if (fail_at == 0) {
        *want_after = after;
        *want_after_len = after_len;
    } else {
        /* All went through, or (for a single request) nothing did. */
        if (all_ok || n == 1) {
            const uint8_t *w = all_ok ? *want_after : before;
            size_t wl = all_ok ? *want_after_len : before_len;
            assert_int_equal(after_len, wl);
            assert_memory_equal(after, w, wl);
        }
        free(after);
    }
    free(before);
    kv_close(kv);
    return failed;
}

static void oom_sweep(const fixture *f, const char *what, size_t n,
                      const uint8_t *const *reqs, const size_t *lens)
{
    uint8_t *want[8], *want_after;
    size_t want_lens[8], want_after_len;
    oom_run(f, n, reqs, lens, 0, want, want_lens, &want_after, &want_after_len);
    unsigned fail_at = 1;
    while (oom_run(f, n, reqs, lens, fail_at, want, want_lens, &want_after,
                   &want_after_len))
        fail_at++;
    assert_true(fail_at > 1);
    print_message("%s: %u allocations failed in turn\n", what, fail_at - 1);
    for (size_t i = 0; i < n; i++)
        free(want[i]);
    free(want_after);
}

static void test_allocation_failures(void **state)
{
    fixture *f = *state;
    kv_close(f->kv);
    f->kv = NULL;
#define R(s) (const uint8_t *)(s)
#define L(s) sizeof(s) - 1
#define REQUESTS(X)                                                            \
    X("\x83\xa2op\xa3set\xa3key\xa1k\xa5value\x92\xcd\x01\x00\xa2hi")          \
    X("\x82\xa2op\xa3get\xa3key\xa1s")                                         \
    X("\x82\xa2op\xa3get\xa3key\xa1z")                                         \
    X("\x82\xa2op\xa6"                                                         \
      "delete\xa3key\xa1s")                                                    \
    X("\x83\xa2op\xa4incr\xa3key\xa1n\xa2"                                     \
      "by\x01")                                                                \
    X("\x82\xa2op\xa4incr\xa3key\xa1s")                                        \
    X("\x82\xa2op\xa4list\xa6prefix\xa0")                                      \
    X("\x84\xa2op\xa3"                                                         \
      "cas\xa3key\xa1s\xa8"                                                    \
      "expected\xa4text\xa5value\xc3")                                         \
    X("\x84\xa2op\xa3"                                                         \
      "cas\xa3key\xa1s\xa8"                                                    \
      "expected\xc0\xa5value\xc3")                                             \
    X("\xc1")
#define REQ_BYTES(s) R(s),
#define REQ_LEN(s) L(s),
    static const uint8_t *const reqs[] = {REQUESTS(REQ_BYTES)};
    static const size_t lens[] = {REQUESTS(REQ_LEN)};
    enum { N = sizeof reqs / sizeof reqs[0] };
#undef REQ_BYTES
#undef REQ_LEN
#undef REQUESTS
#undef R
#undef L
    for (size_t i = 0; i < N; i++) {
        char what[32];
        snprintf(what, sizeof what, "request %zu", i);
        oom_sweep(f, what, 1, &reqs[i], &lens[i]);
    }
    oom_sweep(f, "a batch of 5", 5, reqs, lens);

    /* kv_open, on a new database and on an existing one. */
    for (int existing = 0; existing < 2; existing++) {
        for (unsigned fail_at = 1;; fail_at++) {
            if (!existing) {
                unlink(f->path);
                char aux[128];
                snprintf(aux, sizeof aux, "%s-wal", f->path);
                unlink(aux);
            }
            kv_store *kv = NULL;
            shoal_errinfo ei = {0};
            alloc_watch(fail_at);
            shoal_err err = kv_open(f->path, &kv, &ei);
            bool failed = alloc.count >= fail_at;
            alloc_unwatch();
            if (err == SHOAL_OK) {
                kv_close(kv);
            } else {
                assert_true(failed);
                assert_true(err == SHOAL_ENOMEM || err == SHOAL_EIO);
                assert_true(ei.msg[0] != '\0');
                assert_int_equal(alloc.live, 0);
            }
            if (!failed)
                break;
        }
    }
    /* SQLite holds nothing once every store is closed. */
    assert_int_equal(sqlite3_memory_used(), 0);
    f->kv = open_kv(f->path);
}

/* ---- the fuzzer's inputs ---- */

static void replay_dir(const char *dir, int *files)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        static uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        LLVMFuzzerTestOneInput(buf, n);
        (*files)++;
    }
    closedir(d);
}

/* Runs the saved inputs (the seeds of corpus/ and the crashes kept in
 * regressions/) through the fuzz target, which aborts on anything it
 * dislikes. */
static void test_fuzz_inputs(void **state)
{
    (void)state;
    int files = 0;
    replay_dir(KV_TEST_DIR "/corpus", &files);
    replay_dir(KV_TEST_DIR "/regressions", &files);
    assert_true(files > 0);
}

int main(void)
{
    /* Before SQLite starts. */
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &sq_methods) != SQLITE_OK)
        return 1;
    /* Without lookaside memory every SQLite allocation reaches sq_malloc,
     * where it can fail. */
    if (sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_prefixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup,
                                        teardown),
        cmocka_unit_test(test_fuzz_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
