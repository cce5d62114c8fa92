/* The canonical form of an app: msgpack with a fixed shape, so that two apps
 * that mean the same encode to the same bytes, and an app can be stored and
 * compared as bytes.
 *
 *   {"v": 1, "name": str, "actors": [actor...]}
 *   actor: {"name": str, "module_hash": str, "module": str | nil,
 *           "replicas": uint, "memory": uint, "fuel_per_message": uint,
 *           "mailbox": uint, "restart": "always" | "on-failure" | "never",
 *           "init": bin | nil, "spread": bool,
 *           "labels": {str: str} (in manifest order),
 *           "links": [{"provider": str, "config": bin}]}
 *
 * Keys come in exactly this order and integers in their shortest form (the
 * packer's choice). The module is its content: "module" is nil once
 * module_hash is filled, and holds the path only while the hash is empty
 * ("" then), so that a manifest that moves a module file to another path
 * but keeps its bytes encodes as before. Lines are not encoded: they tell
 * where a manifest said something, not what it said. init and config are
 * already canonical msgpack (value.c), kept as bin.
 *
 * Decoding takes exactly this shape (any msgpack width of each value) and
 * checks what manifest_parse checks, with a reader of our own: msgpack-c's
 * unpacker allocates what a header announces before reading it.
 */
#include "manifest_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODEC_VERSION 1

static const char *const restart_names[] = {"always", "on-failure", "never"};

/* ---- encoding ---- */

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static int pack_bytes_or_nil(msgpack_packer *pk, const uint8_t *p, size_t len)
{
    if (p == NULL)
        return msgpack_pack_nil(pk);
    return msgpack_pack_bin_with_body(pk, p, len);
}

/* 0 when every part was packed; -1 after a failed write, as msgpack-c. */
static int pack_actor(msgpack_packer *pk, const manifest_actor *a)
{
    int r = 0;
    r |= msgpack_pack_map(pk, 12);
    r |= pack_cstr(pk, "name");
    r |= pack_cstr(pk, a->name);
    r |= pack_cstr(pk, "module_hash");
    r |= pack_cstr(pk, a->module_hash);
    r |= pack_cstr(pk, "module");
    if (a->module_hash[0] != '\0')
        r |= msgpack_pack_nil(pk);
    else
        r |= pack_cstr(pk, a->module);
    r |= pack_cstr(pk, "replicas");
    r |= msgpack_pack_uint64(pk, a->replicas);
    r |= pack_cstr(pk, "memory");
    r |= msgpack_pack_uint64(pk, a->memory);
    r |= pack_cstr(pk, "fuel_per_message");
    r |= msgpack_pack_uint64(pk, a->fuel_per_message);
    r |= pack_cstr(pk, "mailbox");
    r |= msgpack_pack_uint64(pk, a->mailbox);
    r |= pack_cstr(pk, "restart");
    r |= pack_cstr(pk, restart_names[a->restart]);
    r |= pack_cstr(pk, "init");
    r |= pack_bytes_or_nil(pk, a->init, a->init_len);
    r |= pack_cstr(pk, "spread");
    r |= a->spread ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    r |= pack_cstr(pk, "labels");
    r |= msgpack_pack_map(pk, a->nlabels);
    for (size_t i = 0; i < a->nlabels; i++) {
        r |= pack_cstr(pk, a->labels[i].key);
        r |= pack_cstr(pk, a->labels[i].value);
    }
    r |= pack_cstr(pk, "links");
    r |= msgpack_pack_array(pk, a->nlinks);
    for (size_t i = 0; i < a->nlinks; i++) {
        r |= msgpack_pack_map(pk, 2);
        r |= pack_cstr(pk, "provider");
        r |= pack_cstr(pk, a->links[i].provider);
        r |= pack_cstr(pk, "config");
        r |= msgpack_pack_bin_with_body(pk, a->links[i].config,
                                        a->links[i].config_len);
    }
    return r;
}

/* Whether the strings and arrays encode would follow are all there. */
static bool encodable(const manifest_app *app)
{
    if (app->name == NULL || (app->nactors > 0 && app->actors == NULL))
        return false;
    for (size_t i = 0; i < app->nactors; i++) {
        const manifest_actor *a = &app->actors[i];
        if (a->name == NULL || (a->module == NULL && a->module_hash[0] == 0) ||
            memchr(a->module_hash, '\0', sizeof a->module_hash) == NULL ||
            (unsigned)a->restart > MANIFEST_RESTART_NEVER ||
            (a->nlabels > 0 && a->labels == NULL) ||
            (a->nlinks > 0 && a->links == NULL))
            return false;
        for (size_t j = 0; j < a->nlabels; j++)
            if (a->labels[j].key == NULL || a->labels[j].value == NULL)
                return false;
        for (size_t j = 0; j < a->nlinks; j++)
            if (a->links[j].provider == NULL || a->links[j].config == NULL)
                return false;
    }
    return true;
}

shoal_err manifest_encode(const manifest_app *app, uint8_t **out, size_t *len)
{
    if (app == NULL || out == NULL || len == NULL || !encodable(app))
        return SHOAL_EINVAL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int r = 0;
    r |= msgpack_pack_map(&pk, 3);
    r |= pack_cstr(&pk, "v");
    r |= msgpack_pack_uint64(&pk, CODEC_VERSION);
    r |= pack_cstr(&pk, "name");
    r |= pack_cstr(&pk, app->name);
    r |= pack_cstr(&pk, "actors");
    r |= msgpack_pack_array(&pk, app->nactors);
    for (size_t i = 0; i < app->nactors; i++)
        r |= pack_actor(&pk, &app->actors[i]);
    if (r != 0) {
        msgpack_sbuffer_destroy(&sb);
        return SHOAL_ENOMEM;
    }
    *out = (uint8_t *)sb.data;
    *len = sb.size;
    return SHOAL_OK;
}

/* ---- decoding ---- */

typedef struct reader {
    const uint8_t *p;
    size_t len, pos;
    shoal_errinfo *ei;
    shoal_err err; /* SHOAL_OK until something fails */
} reader;

/* Records the first failure, at the current position, and returns false. */
static bool bad(reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool bad(reader *r, const char *fmt, ...)
{
    if (r->err != SHOAL_OK)
        return false;
    r->err = SHOAL_EMALFORMED;
    if (r->ei != NULL) {
        char what[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        shoal_errinfo_set(r->ei, SHOAL_EMALFORMED, r->pos,
                          "encoded manifest: byte %zu: %s", r->pos, what);
    }
    return false;
}

static bool nomem(reader *r)
{
    if (r->err == SHOAL_OK) {
        r->err = SHOAL_ENOMEM;
        shoal_errinfo_set(r->ei, SHOAL_ENOMEM, SIZE_MAX,
                          "encoded manifest: out of memory");
    }
    return false;
}

/* n bytes big-endian into *v. */
static bool take_be(reader *r, size_t n, uint64_t *v)
{
    if (r->len - r->pos < n)
        return bad(r, "truncated");
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | r->p[r->pos + i];
    r->pos += n;
    *v = x;
    return true;
}

static bool peek(reader *r, uint8_t *b)
{
    if (r->pos >= r->len)
        return bad(r, "truncated");
    *b = r->p[r->pos];
    return true;
}

/* A header of one of the kinds below: its count, or length, in *n. */
typedef enum head_kind {
    HEAD_MAP,
    HEAD_ARRAY,
    HEAD_STR,
    HEAD_BIN,
} head_kind;

static bool read_head(reader *r, head_kind kind, uint64_t *n)
{
    static const char *const names[] = {"a map", "an array", "a string",
                                        "a bin"};
    uint8_t b = 0;
    if (!peek(r, &b))
        return false;
    size_t width = 0;
    switch (kind) {
    case HEAD_MAP:
        if ((b & 0xf0) == 0x80) {
            r->pos++;
            *n = b & 0x0f;
            return true;
        }
        width = b == 0xde ? 2 : b == 0xdf ? 4 : 0;
        break;
    case HEAD_ARRAY:
        if ((b & 0xf0) == 0x90) {
            r->pos++;
            *n = b & 0x0f;
            return true;
        }
        width = b == 0xdc ? 2 : b == 0xdd ? 4 : 0;
        break;
    case HEAD_STR:
        if ((b & 0xe0) == 0xa0) {
            r->pos++;
            *n = b & 0x1f;
            return true;
        }
        width = b == 0xd9 ? 1 : b == 0xda ? 2 : b == 0xdb ? 4 : 0;
        break;
    case HEAD_BIN:
        width = b == 0xc4 ? 1 : b == 0xc5 ? 2 : b == 0xc6 ? 4 : 0;
        break;
    }
    if (width == 0)
        return bad(r, "expected %s", names[kind]);
    r->pos++;
    return take_be(r, width, n);
}

static bool read_nil(reader *r)
{
    uint8_t b = 0;
    if (peek(r, &b) && b == 0xc0) {
        r->pos++;
        return true;
    }
    return false;
}

/* A string or bin body of n bytes, in place. */
static bool read_body(reader *r, uint64_t n, const uint8_t **p)
{
    if (r->len - r->pos < n)
        return bad(r, "truncated");
    *p = r->p + r->pos;
    r->pos += n;
    return true;
}

static bool read_key(reader *r, const char *want)
{
    size_t at = r->pos;
    uint64_t n = 0;
    const uint8_t *s = NULL;
    if (!read_head(r, HEAD_STR, &n) || !read_body(r, n, &s))
        return false;
    if (n != strlen(want) || memcmp(s, want, n) != 0) {
        r->pos = at;
        return bad(r, "expected the key \"%s\"", want);
    }
    return true;
}

/* A string without NULs, as a malloc'ed copy. */
static bool read_str(reader *r, char **out)
{
    uint64_t n = 0;
    const uint8_t *s = NULL;
    if (!read_head(r, HEAD_STR, &n))
        return false;
    size_t at = r->pos;
    if (!read_body(r, n, &s))
        return false;
    if (memchr(s, '\0', n) != NULL) {
        r->pos = at;
        return bad(r, "a NUL in a string");
    }
    *out = manifest__strndup((const char *)s, n);
    return *out != NULL || nomem(r);
}

static bool read_uint(reader *r, uint64_t max, uint64_t *v)
{
    uint8_t b = 0;
    if (!peek(r, &b))
        return false;
    size_t at = r->pos;
    if (b < 0x80) {
        r->pos++;
        *v = b;
    } else if (b >= 0xcc && b <= 0xcf) {
        r->pos++;
        if (!take_be(r, (size_t)1 << (b - 0xcc), v))
            return false;
    } else {
        return bad(r, "expected an unsigned integer");
    }
    if (*v > max) {
        r->pos = at;
        return bad(r, "%llu is over %llu", (unsigned long long)*v,
                   (unsigned long long)max);
    }
    return true;
}

static bool read_bool(reader *r, bool *v)
{
    uint8_t b = 0;
    if (!peek(r, &b))
        return false;
    if (b != 0xc2 && b != 0xc3)
        return bad(r, "expected true or false");
    r->pos++;
    *v = b == 0xc3;
    return true;
}

/* Steps over one msgpack object at most max_depth arrays and maps deep
 * (a scalar is 0 deep). Each element takes a byte at least, so the work is
 * bounded by the input, whatever the headers say. */
static bool skip_object(reader *r, unsigned max_depth)
{
    uint8_t b = 0;
    if (!peek(r, &b))
        return false;
    r->pos++;
    uint64_t n = 0, items = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return true;
    if ((b & 0xe0) == 0xa0) {
        n = b & 0x1f;
        if (r->len - r->pos < n)
            return bad(r, "truncated");
        r->pos += n;
        return true;
    }
    if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
        n = b & 0x0f;
        items = (b & 0xf0) == 0x80 ? 2 * n : n;
    } else {
        switch (b) {
        case 0xc4:
        case 0xc5:
        case 0xc6: /* bin */
        case 0xd9:
        case 0xda:
        case 0xdb: /* str */
            if (!take_be(r,
                         b == 0xc4 || b == 0xd9   ? 1
                         : b == 0xc5 || b == 0xda ? 2
                                                  : 4,
                         &n))
                return false;
            if (r->len - r->pos < n)
                return bad(r, "truncated");
            r->pos += n;
            return true;
        case 0xc7:
        case 0xc8:
        case 0xc9: /* ext: length, type, data */
            if (!take_be(r, (size_t)1 << (b - 0xc7), &n))
                return false;
            if (r->len - r->pos < n + 1)
                return bad(r, "truncated");
            r->pos += n + 1;
            return true;
        case 0xca:
        case 0xcb:
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            static const uint8_t widths[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
            n = widths[b - 0xca];
            if (r->len - r->pos < n)
                return bad(r, "truncated");
            r->pos += n;
            return true;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: /* fixext */
            n = ((uint64_t)1 << (b - 0xd4)) + 1;
            if (r->len - r->pos < n)
                return bad(r, "truncated");
            r->pos += n;
            return true;
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf:
            if (!take_be(r, b == 0xdc || b == 0xde ? 2 : 4, &n))
                return false;
            items = b >= 0xde ? 2 * n : n;
            break;
        default: /* 0xc1 */
            r->pos--;
            return bad(r, "the byte 0xc1 is not msgpack");
        }
    }
    if (max_depth == 0) {
        r->pos--;
        return bad(r, "nested deeper than %d levels", MANIFEST_MAX_DEPTH);
    }
    for (uint64_t i = 0; i < items; i++)
        if (!skip_object(r, max_depth - 1))
            return false;
    return true;
}

/* A bin that holds exactly one msgpack object (a map with want_map), as a
 * malloc'ed copy. */
static bool read_value_bin(reader *r, bool want_map, uint8_t **out, size_t *len)
{
    uint64_t n = 0;
    const uint8_t *body = NULL;
    if (!read_head(r, HEAD_BIN, &n))
        return false;
    size_t at = r->pos;
    if (!read_body(r, n, &body))
        return false;
    /* The bin's body read in place, so that offsets stay the input's. */
    reader sub = {.p = r->p, .len = at + n, .pos = at, .ei = r->ei};
    uint8_t first = 0;
    if (want_map &&
        (!peek(&sub, &first) ||
         !((first & 0xf0) == 0x80 || first == 0xde || first == 0xdf))) {
        r->pos = at;
        return bad(r, "expected a msgpack map");
    }
    if (!skip_object(&sub, MANIFEST_MAX_DEPTH)) {
        r->err = sub.err;
        return false;
    }
    if (sub.pos != at + n) {
        r->pos = sub.pos;
        return bad(r, "bytes after the msgpack value");
    }
    *out = malloc(n > 0 ? n : 1);
    if (*out == NULL)
        return nomem(r);
    memcpy(*out, body, n);
    *len = n;
    return true;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a string of s[] is there twice; sorts s. */
static bool strings_repeat(const char **s, size_t n)
{
    qsort(s, n, sizeof *s, compare_strings);
    for (size_t i = 1; i < n; i++)
        if (strcmp(s[i - 1], s[i]) == 0)
            return true;
    return false;
}

/* Reads a name (read_str) and checks the name rule. */
static bool read_name(reader *r, char **out)
{
    size_t at = r->pos;
    if (!read_str(r, out))
        return false;
    if (!manifest__name_ok(*out, strlen(*out))) {
        r->pos = at;
        return bad(r, "not a name");
    }
    return true;
}

static bool hex_hash_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0)
        return true;
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool read_module(reader *r, manifest_actor *a)
{
    char *hash = NULL;
    size_t at = r->pos;
    if (!read_key(r, "module_hash") || !read_str(r, &hash))
        return false;
    bool ok = hex_hash_ok(hash);
    if (ok)
        memcpy(a->module_hash, hash, strlen(hash) + 1);
    free(hash);
    if (!ok) {
        r->pos = at;
        return bad(r, "module_hash is not 64 hex digits");
    }
    if (!read_key(r, "module"))
        return false;
    at = r->pos;
    if (a->module_hash[0] != '\0') {
        if (!read_nil(r))
            return r->err == SHOAL_OK ? bad(r, "expected nil") : false;
        a->module = manifest__strndup("", 0);
        return a->module != NULL || nomem(r);
    }
    if (!read_str(r, &a->module))
        return false;
    if (a->module[0] == '\0') {
        r->pos = at;
        return bad(r, "an empty module path");
    }
    return true;
}

static bool read_labels(reader *r, manifest_actor *a)
{
    uint64_t n = 0;
    if (!read_key(r, "labels") || !read_head(r, HEAD_MAP, &n))
        return false;
    if (n > r->len - r->pos) /* two bytes an entry at least */
        return bad(r, "truncated");
    if (n == 0)
        return true;
    a->labels = calloc(n, sizeof *a->labels);
    if (a->labels == NULL)
        return nomem(r);
    for (uint64_t i = 0; i < n; i++) {
        manifest_label *l = &a->labels[i];
        size_t at = r->pos;
        if (!read_str(r, &l->key))
            return false;
        a->nlabels++;
        if (!manifest__label_key_ok(l->key, strlen(l->key))) {
            r->pos = at;
            return bad(r, "not a label key");
        }
        at = r->pos;
        if (!read_str(r, &l->value))
            return false;
        if (!manifest__label_value_ok(l->value, strlen(l->value))) {
            r->pos = at;
            return bad(r, "not a label value");
        }
    }
    const char **keys = calloc(n, sizeof *keys);
    if (keys == NULL)
        return nomem(r);
    for (uint64_t i = 0; i < n; i++)
        keys[i] = a->labels[i].key;
    bool repeat = strings_repeat(keys, n);
    free(keys);
    return !repeat || bad(r, "a label key twice");
}

static bool read_links(reader *r, manifest_actor *a)
{
    uint64_t n = 0;
    if (!read_key(r, "links") || !read_head(r, HEAD_ARRAY, &n))
        return false;
    if (n > r->len - r->pos)
        return bad(r, "truncated");
    if (n == 0)
        return true;
    a->links = calloc(n, sizeof *a->links);
    if (a->links == NULL)
        return nomem(r);
    for (uint64_t i = 0; i < n; i++) {
        manifest_link *l = &a->links[i];
        a->nlinks++;
        uint64_t fields;
        size_t at = r->pos;
        if (!read_head(r, HEAD_MAP, &fields))
            return false;
        if (fields != 2) {
            r->pos = at;
            return bad(r, "a link is a map of 2");
        }
        if (!read_key(r, "provider") || !read_name(r, &l->provider) ||
            !read_key(r, "config") ||
            !read_value_bin(r, true, &l->config, &l->config_len))
            return false;
    }
    return true;
}

static bool read_actor(reader *r, manifest_actor *a)
{
    uint64_t fields, v;
    size_t at = r->pos;
    if (!read_head(r, HEAD_MAP, &fields))
        return false;
    if (fields != 12) {
        r->pos = at;
        return bad(r, "an actor is a map of 12");
    }
    if (!read_key(r, "name") || !read_name(r, &a->name) || !read_module(r, a) ||
        !read_key(r, "replicas") || !read_uint(r, MANIFEST_MAX_REPLICAS, &v))
        return false;
    a->replicas = (uint32_t)v;
    if (!read_key(r, "memory"))
        return false;
    at = r->pos;
    if (!read_uint(r, MANIFEST_MAX_MEMORY, &a->memory))
        return false;
    if (a->memory % MANIFEST_MEMORY_UNIT != 0) {
        r->pos = at;
        return bad(r, "memory is not a multiple of 64 KiB");
    }
    if (!read_key(r, "fuel_per_message") ||
        !read_uint(r, UINT64_MAX, &a->fuel_per_message) ||
        !read_key(r, "mailbox") || !read_uint(r, MANIFEST_MAX_MAILBOX, &v))
        return false;
    a->mailbox = (uint32_t)v;

    char *restart = NULL;
    if (!read_key(r, "restart"))
        return false;
    at = r->pos;
    if (!read_str(r, &restart))
        return false;
    size_t i = 0;
    while (i < 3 && strcmp(restart, restart_names[i]) != 0)
        i++;
    free(restart);
    if (i == 3) {
        r->pos = at;
        return bad(r, "an unknown restart policy");
    }
    a->restart = (manifest_restart)i;

    if (!read_key(r, "init"))
        return false;
    if (!read_nil(r) && (r->err != SHOAL_OK ||
                         !read_value_bin(r, false, &a->init, &a->init_len)))
        return false;
    return read_key(r, "spread") && read_bool(r, &a->spread) &&
           read_labels(r, a) && read_links(r, a);
}

/* Whether two actors have the same name. */
static bool actor_names_ok(reader *r, const manifest_app *app)
{
    const char **names = calloc(app->nactors, sizeof *names);
    if (names == NULL)
        return nomem(r);
    for (size_t i = 0; i < app->nactors; i++)
        names[i] = app->actors[i].name;
    bool repeat = strings_repeat(names, app->nactors);
    free(names);
    return !repeat || bad(r, "two actors of the same name");
}

static bool read_app(reader *r, manifest_app *app)
{
    uint64_t fields, v, n;
    if (!read_head(r, HEAD_MAP, &fields))
        return false;
    if (fields != 3) {
        r->pos = 0;
        return bad(r, "an app is a map of 3");
    }
    size_t at;
    if (!read_key(r, "v"))
        return false;
    at = r->pos;
    if (!read_uint(r, UINT64_MAX, &v))
        return false;
    if (v != CODEC_VERSION) {
        r->pos = at;
        return bad(r, "version %llu, not %d", (unsigned long long)v,
                   CODEC_VERSION);
    }
    if (!read_key(r, "name") || !read_name(r, &app->name) ||
        !read_key(r, "actors"))
        return false;
    at = r->pos;
    if (!read_head(r, HEAD_ARRAY, &n))
        return false;
    if (n == 0 || n > r->len - r->pos) {
        r->pos = at;
        return bad(r, n == 0 ? "no actors" : "truncated");
    }
    app->actors = calloc(n, sizeof *app->actors);
    if (app->actors == NULL)
        return nomem(r);
    for (uint64_t i = 0; i < n; i++) {
        app->nactors++;
        if (!read_actor(r, &app->actors[i]))
            return false;
    }
    if (r->pos != r->len)
        return bad(r, "bytes after the app");
    return actor_names_ok(r, app);
}

shoal_err manifest_decode(const uint8_t *bytes, size_t len, manifest_app **out,
                          shoal_errinfo *ei)
{
    if (out == NULL || (bytes == NULL && len > 0))
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "manifest_decode: a NULL argument");
    reader r = {.p = bytes, .len = len, .ei = ei};
    manifest_app *app = calloc(1, sizeof *app);
    if (app == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "encoded manifest: out of memory");
    if (!read_app(&r, app)) {
        manifest_free(app);
        return r.err;
    }
    *out = app;
    return SHOAL_OK;
}
