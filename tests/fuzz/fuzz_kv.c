/* A fuzz target for the kv provider (capabilities/kv): untrusted requests
 * through kv_handle and kv_handle_batch on a fresh in-memory store, checked
 * against a model of the contract (docs/provider-kv.md) written here on
 * msgpack-c.
 *
 * The input is a byte of flags, then requests separated by the two bytes
 * 0xc1 0xc1 (msgpack never uses 0xc1). Flags: bit 0 sends all requests in
 * one kv_handle_batch, otherwise one kv_handle each; bit 1 sends every
 * other request to a second bucket; bit 2 sends the first request with an
 * empty bucket name.
 *
 * Checks, besides the sanitizers':
 * - every reply is one msgpack map, {"ok": true, ...} or {"ok": false,
 *   "error": NAME, "message": TEXT} with NAME one of EMALFORMED, EINVAL,
 *   ELIMIT and TEXT not empty;
 * - a request not refused as EMALFORMED (or as nested too deep) is one
 *   msgpack map as msgpack-c reads it;
 * - for each request msgpack-c reads, the model predicts the error's name,
 *   or the exact bytes of the success reply: values in canonical form
 *   (msgpack-c's packer writes headers and integers in their shortest
 *   form, as the contract does), keys in byte order, prefixes and paging
 *   by their definition rather than as SQL ranges;
 * - at the end, paging through both buckets three entries at a time gives
 *   the model's entries, each once.
 * The model stops (and only the shape of replies is checked) after a
 * success it cannot follow: a request nested deeper than msgpack-c's 32
 * levels, or a float32 NaN, whose bits msgpack-c does not keep.
 *
 * Built with -fsanitize=fuzzer by run-kv.sh; test_kv replays the saved
 * inputs of tests/capabilities/kv/regressions through this same function.
 * Anything the checks dislike aborts, which the fuzzer reports as a crash.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 128
#define MAX_ENTRIES 256

static void fuzz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_kv: check failed: %s\n", what);
        abort();
    }
}

typedef struct bytes {
    uint8_t *p;
    size_t len;
} bytes;

static bytes bytes_copy(const void *p, size_t len)
{
    bytes b = {malloc(len ? len : 1), len};
    fuzz_check(b.p != NULL, "malloc");
    if (len)
        memcpy(b.p, p, len);
    return b;
}

/* memcmp order, the shorter first on a common prefix. */
static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : alen < blen ? -1 : alen > blen;
}

/* ---- the model ---- */

typedef struct entry {
    int bucket;
    bytes key, value; /* value: canonical msgpack */
} entry;

typedef struct model {
    entry e[MAX_ENTRIES];
    size_t n;
    bool valid; /* false once a success could not be followed */
} model;

static entry *model_find(model *m, int bucket, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].bucket == bucket &&
            bytes_cmp(m->e[i].key.p, m->e[i].key.len, key, len) == 0)
            return &m->e[i];
    return NULL;
}

static void model_put(model *m, int bucket, const uint8_t *key, size_t len,
                      bytes value)
{
    entry *e = model_find(m, bucket, key, len);
    if (e) {
        free(e->value.p);
        e->value = value;
        return;
    }
    fuzz_check(m->n < MAX_ENTRIES, "room in the model");
    e = &m->e[m->n++];
    e->bucket = bucket;
    e->key = bytes_copy(key, len);
    e->value = value;
}

static void model_delete(model *m, entry *e)
{
    free(e->key.p);
    free(e->value.p);
    *e = m->e[--m->n];
}

static void model_free(model *m)
{
    while (m->n > 0)
        model_delete(m, &m->e[0]);
}

static int entry_order(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    return bytes_cmp(x->key.p, x->key.len, y->key.p, y->key.len);
}

/* ---- expected replies ---- */

typedef struct expect {
    const char *error; /* the error's name; NULL for a success */
    msgpack_sbuffer sb;
    msgpack_packer pk;
} expect;

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pack_raw(expect *x, const bytes *b)
{
    if (b == NULL)
        msgpack_pack_nil(&x->pk);
    else if (b->len)
        msgpack_sbuffer_write(&x->sb, (const char *)b->p, b->len);
}

static void pack_ok(expect *x, uint32_t n)
{
    msgpack_pack_map(&x->pk, n + 1);
    pack_cstr(&x->pk, "ok");
    msgpack_pack_true(&x->pk);
}

/* The canonical encoding of o, as msgpack-c's packer writes it. */
static bytes canonical(const msgpack_object *o)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *o);
    bytes b = bytes_copy(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return b;
}

static bool has_f32_nan(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
        return isnan(o->via.f64);
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (has_f32_nan(&o->via.array.ptr[i]))
                return true;
        return false;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (has_f32_nan(&o->via.map.ptr[i].key) ||
                has_f32_nan(&o->via.map.ptr[i].val))
                return true;
        return false;
    default:
        return false;
    }
}

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
    "op", "key", "value", "by", "prefix", "after", "limit", "expected"};

static bool is_str(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static bool get_i64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return true;
    }
    return false;
}

static bool str_in(const msgpack_object *o, size_t min, size_t max)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size >= min &&
           o->via.str.size <= max;
}

/* The list reply for the model's entries of bucket with prefix, after
 * "after" when given, at most limit of them and KV_LIST_MAX_BYTES less
 * KV_LIST_FRAME of entries (one at least). */
static void predict_list(model *m, int bucket, const msgpack_object *prefix,
                         const msgpack_object *after, int64_t limit, expect *x)
{
    const entry *match[MAX_ENTRIES];
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = &m->e[i];
        size_t plen = prefix ? prefix->via.str.size : 0;
        if (e->bucket != bucket || e->key.len < plen ||
            (plen && memcmp(e->key.p, prefix->via.str.ptr, plen) != 0))
            continue;
        if (after &&
            bytes_cmp(e->key.p, e->key.len, (const uint8_t *)after->via.str.ptr,
                      after->via.str.size) <= 0)
            continue;
        match[n++] = e;
    }
    qsort(match, n, sizeof match[0], entry_order);
    size_t count = 0, total = 0;
    while (count < n && count < (size_t)limit) {
        const entry *e = match[count];
        size_t sz = 1 + 4 +
                    (e->key.len < 32    ? 1
                     : e->key.len < 256 ? 2
                                        : 3) +
                    e->key.len + 6 + e->value.len;
        if (count > 0 && total + sz > KV_LIST_MAX_BYTES - KV_LIST_FRAME)
            break;
        total += sz;
        count++;
    }
    pack_ok(x, 2);
    pack_cstr(&x->pk, "entries");
    msgpack_pack_array(&x->pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_map(&x->pk, 2);
        pack_cstr(&x->pk, "key");
        msgpack_pack_str(&x->pk, match[i]->key.len);
        msgpack_pack_str_body(&x->pk, match[i]->key.p, match[i]->key.len);
        pack_cstr(&x->pk, "value");
        pack_raw(x, &match[i]->value);
    }
    pack_cstr(&x->pk, "next");
    if (count < n) {
        const entry *last = match[count - 1];
        msgpack_pack_str(&x->pk, last->key.len);
        msgpack_pack_str_body(&x->pk, last->key.p, last->key.len);
    } else {
        msgpack_pack_nil(&x->pk);
    }
}

/* What the contract says about request r (a map msgpack-c read) for
 * bucket: an error's name in x->error, or the success reply in x, after
 * which the model holds the request's effect. */
static void predict(model *m, int bucket, const msgpack_object *r, expect *x)
{
    x->error = "EINVAL";
    if (r->type != MSGPACK_OBJECT_MAP) {
        x->error = "EMALFORMED";
        return;
    }
    const msgpack_object *f[F_COUNT] = {0};
    for (uint32_t i = 0; i < r->via.map.size; i++) {
        const msgpack_object_kv *kv = &r->via.map.ptr[i];
        int k = 0;
        while (k < F_COUNT && !is_str(&kv->key, field_names[k]))
            k++;
        if (k == F_COUNT || f[k] != NULL)
            return;
        f[k] = &kv->val;
    }
    static const struct {
        const char *name;
        unsigned takes, needs;
    } ops[] = {
        {"get", 1u << F_KEY, 1u << F_KEY},
        {"set", 1u << F_KEY | 1u << F_VALUE, 1u << F_KEY | 1u << F_VALUE},
        {"delete", 1u << F_KEY, 1u << F_KEY},
        {"incr", 1u << F_KEY | 1u << F_BY, 1u << F_KEY},
        {"list", 1u << F_PREFIX | 1u << F_AFTER | 1u << F_LIMIT, 0},
        {"cas", 1u << F_KEY | 1u << F_EXPECTED | 1u << F_VALUE,
         1u << F_KEY | 1u << F_EXPECTED | 1u << F_VALUE},
    };
    int op = -1;
    for (int i = 0; i < 6 && f[F_OP]; i++)
        if (is_str(f[F_OP], ops[i].name))
            op = i;
    if (op < 0)
        return;
    for (int k = 1; k < F_COUNT; k++) {
        bool given = f[k] != NULL;
        if ((!given && (ops[op].needs >> k & 1)) ||
            (given && !(ops[op].takes >> k & 1)))
            return;
    }
    if (f[F_KEY] && !str_in(f[F_KEY], 1, KV_MAX_KEY))
        return;
    int64_t by = 1, limit = KV_LIST_DEFAULT;
    if (f[F_BY] && f[F_BY]->type != MSGPACK_OBJECT_NIL &&
        !get_i64(f[F_BY], &by))
        return;
    if (f[F_LIMIT] && f[F_LIMIT]->type != MSGPACK_OBJECT_NIL &&
        !(get_i64(f[F_LIMIT], &limit) && limit >= 1 && limit <= KV_LIST_MAX))
        return;
    const msgpack_object *prefix = NULL, *after = NULL;
    if (f[F_PREFIX] && f[F_PREFIX]->type != MSGPACK_OBJECT_NIL) {
        if (!str_in(f[F_PREFIX], 0, KV_MAX_KEY))
            return;
        prefix = f[F_PREFIX];
    }
    if (f[F_AFTER] && f[F_AFTER]->type != MSGPACK_OBJECT_NIL) {
        if (!str_in(f[F_AFTER], 0, KV_MAX_KEY))
            return;
        after = f[F_AFTER];
    }
    bytes value = {0}, expected = {0};
    if (f[F_VALUE])
        value = canonical(f[F_VALUE]);
    if (f[F_EXPECTED] && f[F_EXPECTED]->type != MSGPACK_OBJECT_NIL)
        expected = canonical(f[F_EXPECTED]);
    if (value.len > KV_MAX_VALUE || expected.len > KV_MAX_VALUE) {
        x->error = "ELIMIT";
        goto done;
    }

    const uint8_t *key =
        f[F_KEY] ? (const uint8_t *)f[F_KEY]->via.str.ptr : NULL;
    size_t klen = f[F_KEY] ? f[F_KEY]->via.str.size : 0;
    entry *e = key ? model_find(m, bucket, key, klen) : NULL;
    x->error = NULL;
    switch (op) {
    case 0: /* get */
        pack_ok(x, 2);
        pack_cstr(&x->pk, "found");
        if (e)
            msgpack_pack_true(&x->pk);
        else
            msgpack_pack_false(&x->pk);
        pack_cstr(&x->pk, "value");
        pack_raw(x, e ? &e->value : NULL);
        break;
    case 1: /* set */
        model_put(m, bucket, key, klen, value);
        value.p = NULL;
        pack_ok(x, 0);
        break;
    case 2: /* delete */
        pack_ok(x, 1);
        pack_cstr(&x->pk, "deleted");
        if (e) {
            model_delete(m, e);
            msgpack_pack_true(&x->pk);
        } else {
            msgpack_pack_false(&x->pk);
        }
        break;
    case 3: { /* incr */
        __int128 sum = by;
        if (e) {
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            fuzz_check(msgpack_unpack_next(&u, (const char *)e->value.p,
                                           e->value.len,
                                           NULL) == MSGPACK_UNPACK_SUCCESS,
                       "the model's value unpacks");
            bool is_int = u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                          u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
            if (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                sum += (__int128)u.data.via.u64;
            else if (is_int)
                sum += u.data.via.i64;
            msgpack_unpacked_destroy(&u);
            if (!is_int) {
                x->error = "EINVAL";
                break;
            }
        }
        if (sum > INT64_MAX || sum < INT64_MIN) {
            x->error = "ELIMIT";
            break;
        }
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_int64(&pk, (int64_t)sum);
        model_put(m, bucket, key, klen, bytes_copy(sb.data, sb.size));
        msgpack_sbuffer_destroy(&sb);
        pack_ok(x, 1);
        pack_cstr(&x->pk, "value");
        msgpack_pack_int64(&x->pk, (int64_t)sum);
        break;
    }
    case 4: /* list */
        predict_list(m, bucket, prefix, after, limit, x);
        break;
    case 5: { /* cas */
        bool nil = f[F_EXPECTED]->type == MSGPACK_OBJECT_NIL;
        bool match = e ? !nil && bytes_cmp(e->value.p, e->value.len, expected.p,
                                           expected.len) == 0
                       : nil;
        pack_ok(x, 2);
        pack_cstr(&x->pk, "swapped");
        if (match) {
            msgpack_pack_true(&x->pk);
            pack_cstr(&x->pk, "current");
            pack_raw(x, &value);
            model_put(m, bucket, key, klen, value);
            value.p = NULL;
        } else {
            msgpack_pack_false(&x->pk);
            pack_cstr(&x->pk, "current");
            pack_raw(x, e ? &e->value : NULL);
        }
        break;
    }
    }
done:
    free(value.p);
    free(expected.p);
}

/* ---- checking replies ---- */

/* The general shape of a reply; returns its error's name (NULL for a
 * success) in a static string, and whether the error is about nesting. */
static const char *check_shape(const uint8_t *reply, size_t len, bool *deep)
{
    fuzz_check(reply != NULL && len > 0, "a reply");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    fuzz_check(msgpack_unpack_next(&u, (const char *)reply, len, &off) ==
                       MSGPACK_UNPACK_SUCCESS &&
                   off == len,
               "the reply is one msgpack object");
    const msgpack_object *o = &u.data;
    fuzz_check(o->type == MSGPACK_OBJECT_MAP && o->via.map.size >= 1 &&
                   is_str(&o->via.map.ptr[0].key, "ok") &&
                   o->via.map.ptr[0].val.type == MSGPACK_OBJECT_BOOLEAN,
               "a map starting with \"ok\"");
    const char *name = NULL;
    if (!o->via.map.ptr[0].val.via.boolean) {
        static const char *const names[] = {"EMALFORMED", "EINVAL", "ELIMIT"};
        fuzz_check(o->via.map.size == 3 &&
                       is_str(&o->via.map.ptr[1].key, "error") &&
                       is_str(&o->via.map.ptr[2].key, "message") &&
                       o->via.map.ptr[2].val.type == MSGPACK_OBJECT_STR &&
                       o->via.map.ptr[2].val.via.str.size > 0,
                   "an error reply");
        for (size_t i = 0; i < 3; i++)
            if (is_str(&o->via.map.ptr[1].val, names[i]))
                name = names[i];
        fuzz_check(name != NULL, "a known error name");
        const msgpack_object *m = &o->via.map.ptr[2].val;
        *deep = false;
        for (size_t i = 0; i + 13 <= m->via.str.size; i++)
            if (memcmp(m->via.str.ptr + i, "nested deeper", 13) == 0)
                *deep = strcmp(name, "ELIMIT") == 0;
    }
    msgpack_unpacked_destroy(&u);
    return name;
}

/* Checks the reply to one request against the model. */
static void check_reply(model *m, int bucket, bool bad_bucket,
                        const uint8_t *req, size_t len, const uint8_t *reply,
                        size_t reply_len)
{
    bool deep = false;
    const char *error = check_shape(reply, reply_len, &deep);
    /* kv stops reading at the first fault, so a request refused as
     * malformed or too deep may announce more than it holds: it is not for
     * msgpack-c, which allocates what headers announce. */
    if (error && (strcmp(error, "EMALFORMED") == 0 || deep) && !bad_bucket)
        return;
    if (bad_bucket) {
        fuzz_check(error && strcmp(error, "EINVAL") == 0,
                   "an empty bucket name is refused");
        return;
    }
    /* kv took the request as msgpack, so msgpack-c's allocations follow
     * real lengths. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return ret =
        msgpack_unpack_next(&u, (const char *)req, len, &off);
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR) {
        /* Deeper than msgpack-c goes. */
        if (!error)
            m->valid = false;
        msgpack_unpacked_destroy(&u);
        return;
    }
    fuzz_check(ret == MSGPACK_UNPACK_SUCCESS && off == len &&
                   u.data.type == MSGPACK_OBJECT_MAP,
               "a request kv reads is one msgpack map");
    if (!m->valid || has_f32_nan(&u.data)) {
        if (!error)
            m->valid = false;
        msgpack_unpacked_destroy(&u);
        return;
    }
    expect x;
    msgpack_sbuffer_init(&x.sb);
    msgpack_packer_init(&x.pk, &x.sb, msgpack_sbuffer_write);
    predict(m, bucket, &u.data, &x);
    if (x.error) {
        fuzz_check(error && strcmp(error, x.error) == 0,
                   "the error the model predicts");
    } else {
        fuzz_check(error == NULL, "a success as the model predicts");
        fuzz_check(x.sb.size == reply_len &&
                       memcmp(x.sb.data, reply, reply_len) == 0,
                   "the reply the model predicts");
    }
    msgpack_sbuffer_destroy(&x.sb);
    msgpack_unpacked_destroy(&u);
}

/* Pages through bucket three entries at a time; every page must be the
 * model's. */
static void check_contents(kv_store *kv, model *m, int bucket, const char *name)
{
    bytes after = {0};
    bool have_after = false;
    for (size_t page = 0; page <= MAX_ENTRIES; page++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        pack_cstr(&pk, "op");
        pack_cstr(&pk, "list");
        pack_cstr(&pk, "limit");
        msgpack_pack_int(&pk, 3);
        pack_cstr(&pk, "after");
        if (have_after) {
            msgpack_pack_str(&pk, after.len);
            msgpack_pack_str_body(&pk, after.p, after.len);
        } else {
            msgpack_pack_nil(&pk);
        }
        uint8_t *reply;
        size_t reply_len;
        kv_handle(kv, name, (const uint8_t *)sb.data, sb.size, &reply,
                  &reply_len);
        check_reply(m, bucket, false, (const uint8_t *)sb.data, sb.size, reply,
                    reply_len);
        msgpack_sbuffer_destroy(&sb);

        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        fuzz_check(msgpack_unpack_next(&u, (const char *)reply, reply_len,
                                       NULL) == MSGPACK_UNPACK_SUCCESS,
                   "a list reply");
        const msgpack_object *next = NULL;
        for (uint32_t i = 0; i < u.data.via.map.size; i++)
            if (is_str(&u.data.via.map.ptr[i].key, "next"))
                next = &u.data.via.map.ptr[i].val;
        fuzz_check(next != NULL, "a list reply has \"next\"");
        free(after.p);
        after.p = NULL;
        have_after = next->type == MSGPACK_OBJECT_STR;
        if (have_after)
            after = bytes_copy(next->via.str.ptr, next->via.str.size);
        msgpack_unpacked_destroy(&u);
        free(reply);
        if (!have_after)
            return;
    }
    fuzz_check(false, "paging ends");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *reqs[MAX_REQUESTS];
    size_t lens[MAX_REQUESTS];
    const char *buckets[MAX_REQUESTS];
    uint8_t *replies[MAX_REQUESTS];
    size_t reply_lens[MAX_REQUESTS];
    size_t n = 0, start = 1, i = 1;
    while (n < MAX_REQUESTS) {
        bool last = i >= size;
        if (last || (i + 1 < size && data[i] == 0xc1 && data[i + 1] == 0xc1)) {
            reqs[n] = data + start;
            lens[n] = (last ? size : i) - start;
            buckets[n] = (flags & 2) && n % 2 ? "b" : "a";
            n++;
            if (last)
                break;
            start = i += 2;
        } else {
            i++;
        }
    }
    if (flags & 4)
        buckets[0] = "";

    kv_store *kv = NULL;
    shoal_errinfo ei;
    fuzz_check(kv_open(":memory:", &kv, &ei) == SHOAL_OK, "kv_open");
    if (flags & 1) {
        kv_handle_batch(kv, n, buckets, reqs, lens, replies, reply_lens);
    } else {
        for (size_t j = 0; j < n; j++)
            kv_handle(kv, buckets[j], reqs[j], lens[j], &replies[j],
                      &reply_lens[j]);
    }

    model m = {.valid = true};
    for (size_t j = 0; j < n; j++) {
        check_reply(&m, buckets[j][0] == 'b', buckets[j][0] == '\0', reqs[j],
                    lens[j], replies[j], reply_lens[j]);
        free(replies[j]);
    }
    if (m.valid) {
        check_contents(kv, &m, 0, "a");
        check_contents(kv, &m, 1, "b");
    }
    model_free(&m);
    kv_close(kv);
    return 0;
}
