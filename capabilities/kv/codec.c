/* msgpack for the kv provider: reading headers, checking a request without
 * building a tree, and the canonical encoding values are stored in; see
 * kv_impl.h.
 *
 * msgpack-c's unpacker is not used on requests because it allocates what
 * a header announces before the bytes arrive (five bytes can ask for
 * gigabytes) and stops at 32 levels where messages may nest 64. */
#include "kv_impl.h"

#include <string.h>

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void store_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

/* Sign-extends the n-byte big-endian two's complement integer v. */
static int64_t signed_be(uint64_t v, size_t n)
{
    if (n < 8 && (v >> (8 * n - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * n);
    return (int64_t)v;
}

static void set_int(kv__mp_head *h, int64_t v)
{
    h->kind = KV__MP_INT;
    h->neg = v < 0;
    if (h->neg)
        h->i = v;
    else
        h->u = (uint64_t)v;
}

bool kv__mp_head_read(const uint8_t *p, size_t len, kv__mp_head *h)
{
    if (len == 0)
        return false;
    memset(h, 0, sizeof *h);
    uint8_t tag = p[0];
    h->size = 1;
    if (tag <= 0x7f) {
        h->kind = KV__MP_INT;
        h->u = tag;
        return true;
    }
    if (tag >= 0xe0) {
        set_int(h, (int8_t)tag);
        return true;
    }
    if (tag <= 0x8f || (tag >= 0x90 && tag <= 0x9f)) {
        h->kind = tag <= 0x8f ? KV__MP_MAP : KV__MP_ARRAY;
        h->count = tag & 0x0f;
        return true;
    }
    if (tag <= 0xbf) {
        h->kind = KV__MP_STR;
        h->body = tag & 0x1f;
        return true;
    }

    /* The remaining tags have fields after them: n bytes of length, count
     * or value. */
    size_t n;
    switch (tag) {
    case 0xc0:
        h->kind = KV__MP_NIL;
        return true;
    case 0xc2:
    case 0xc3:
        h->kind = KV__MP_BOOL;
        h->u = tag & 1;
        return true;
    case 0xca:
    case 0xcb:
        h->kind = tag == 0xca ? KV__MP_F32 : KV__MP_F64;
        h->body = tag == 0xca ? 4 : 8;
        return true;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        if (len < 2)
            return false;
        h->kind = KV__MP_EXT;
        h->size = 2;
        h->body = (uint64_t)1 << (tag - 0xd4);
        h->ext_type = (int8_t)p[1];
        return true;
    case 0xc4:
    case 0xd9:
    case 0xc7:
    case 0xcc:
    case 0xd0:
        n = 1;
        break;
    case 0xc5:
    case 0xda:
    case 0xc8:
    case 0xcd:
    case 0xd1:
    case 0xdc:
    case 0xde:
        n = 2;
        break;
    case 0xc6:
    case 0xdb:
    case 0xc9:
    case 0xce:
    case 0xd2:
    case 0xdd:
    case 0xdf:
        n = 4;
        break;
    case 0xcf:
    case 0xd3:
        n = 8;
        break;
    default: /* 0xc1 */
        return false;
    }
    if (len < 1 + n)
        return false;
    uint64_t v = load_be(p + 1, n);
    h->size = 1 + n;
    switch (tag) {
    case 0xc4:
    case 0xc5:
    case 0xc6:
        h->kind = KV__MP_BIN;
        h->body = v;
        break;
    case 0xd9:
    case 0xda:
    case 0xdb:
        h->kind = KV__MP_STR;
        h->body = v;
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        if (len < 2 + n)
            return false;
        h->kind = KV__MP_EXT;
        h->body = v;
        h->ext_type = (int8_t)p[1 + n];
        h->size = 2 + n;
        break;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        h->kind = KV__MP_INT;
        h->u = v;
        break;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        set_int(h, signed_be(v, n));
        break;
    case 0xdc:
    case 0xdd:
        h->kind = KV__MP_ARRAY;
        h->count = v;
        break;
    default: /* 0xde, 0xdf */
        h->kind = KV__MP_MAP;
        h->count = v;
        break;
    }
    return true;
}

shoal_err kv__mp_check(const uint8_t *p, size_t len, unsigned max_depth,
                       size_t *end, shoal_errinfo *ei)
{
    /* left[d]: items still to read at depth d; depth 0 holds the object
     * itself. A map of n pairs is 2n items. */
    uint64_t left[KV__MP_MAX_DEPTH + 1];
    unsigned depth = 0;
    size_t off = 0;
    if (max_depth > KV__MP_MAX_DEPTH)
        max_depth = KV__MP_MAX_DEPTH;
    left[0] = 1;
    for (;;) {
        while (left[depth] == 0) {
            if (depth == 0) {
                *end = off;
                return SHOAL_OK;
            }
            depth--;
        }
        left[depth]--;
        kv__mp_head h;
        if (!kv__mp_head_read(p + off, len - off, &h)) {
            if (off < len && p[off] == 0xc1)
                return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off,
                                         "byte 0xc1 at %zu is not msgpack",
                                         off);
            return shoal_errinfo_set(ei, SHOAL_EMALFORMED, len,
                                     "msgpack cut short at byte %zu", len);
        }
        off += h.size;
        if (h.body > len - off)
            return shoal_errinfo_set(ei, SHOAL_EMALFORMED, len,
                                     "msgpack cut short at byte %zu", len);
        off += (size_t)h.body;
        if (h.kind == KV__MP_ARRAY || h.kind == KV__MP_MAP) {
            if (depth + 1 > max_depth)
                return shoal_errinfo_set(ei, SHOAL_ELIMIT, off - h.size,
                                         "msgpack nested deeper than %u "
                                         "levels at byte %zu",
                                         max_depth, off - h.size);
            left[++depth] = h.kind == KV__MP_MAP ? 2 * h.count : h.count;
        }
    }
}

size_t kv__mp_skip(const uint8_t *p, size_t len)
{
    size_t end = 0;
    if (kv__mp_check(p, len, KV__MP_MAX_DEPTH, &end, NULL) != SHOAL_OK)
        return len;
    return end;
}

/* Output for the canonical encoder: writes stop at cap, then over is set. */
typedef struct out {
    uint8_t *p;
    size_t len, cap;
    bool over;
} out;

static void put(out *o, const void *src, size_t n)
{
    if (o->over || n > o->cap - o->len) {
        o->over = true;
        return;
    }
    memcpy(o->p + o->len, src, n);
    o->len += n;
}

/* A tag followed by an n-byte big-endian field. */
static void put_tag(out *o, uint8_t tag, uint64_t v, size_t n)
{
    uint8_t b[9];
    b[0] = tag;
    store_be(b + 1, v, n);
    put(o, b, 1 + n);
}

/* A header carrying a length or count in the shortest of the forms: fix
 * (when fix_max is not 0, the value or'ed into fix), then 8 bits (when
 * tag8 is not 0), 16 and 32 bits. */
static void put_len(out *o, uint64_t v, uint8_t fix, uint64_t fix_max,
                    uint8_t tag8, uint8_t tag16, uint8_t tag32)
{
    if (fix_max != 0 && v <= fix_max)
        put_tag(o, (uint8_t)(fix | v), 0, 0);
    else if (tag8 != 0 && v <= 0xff)
        put_tag(o, tag8, v, 1);
    else if (v <= 0xffff)
        put_tag(o, tag16, v, 2);
    else
        put_tag(o, tag32, v, 4);
}

static void put_uint(out *o, uint64_t v)
{
    if (v <= 0x7f)
        put_tag(o, (uint8_t)v, 0, 0);
    else if (v <= 0xff)
        put_tag(o, 0xcc, v, 1);
    else if (v <= 0xffff)
        put_tag(o, 0xcd, v, 2);
    else if (v <= 0xffffffff)
        put_tag(o, 0xce, v, 4);
    else
        put_tag(o, 0xcf, v, 8);
}

static void put_neg(out *o, int64_t v)
{
    if (v >= -32)
        put_tag(o, (uint8_t)(int8_t)v, 0, 0);
    else if (v >= INT8_MIN)
        put_tag(o, 0xd0, (uint64_t)v, 1);
    else if (v >= INT16_MIN)
        put_tag(o, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        put_tag(o, 0xd2, (uint64_t)v, 4);
    else
        put_tag(o, 0xd3, (uint64_t)v, 8);
}

static void put_ext_head(out *o, uint64_t n, int8_t type)
{
    static const uint8_t fixext[17] = {
        [1] = 0xd4, [2] = 0xd5, [4] = 0xd6, [8] = 0xd7, [16] = 0xd8};
    if (n <= 16 && fixext[n] != 0)
        put_tag(o, fixext[n], 0, 0);
    else if (n <= 0xff)
        put_tag(o, 0xc7, n, 1);
    else if (n <= 0xffff)
        put_tag(o, 0xc8, n, 2);
    else
        put_tag(o, 0xc9, n, 4);
    uint8_t t = (uint8_t)type;
    put(o, &t, 1);
}

bool kv__mp_canon(const uint8_t *p, size_t len, uint8_t *dst, size_t cap,
                  size_t *out_len)
{
    /* A checked object is a preorder sequence of headers and bodies, so it
     * can be rewritten item by item without tracking the nesting. */
    out o = {.p = dst, .cap = cap};
    size_t off = 0;
    while (off < len && !o.over) {
        kv__mp_head h;
        if (!kv__mp_head_read(p + off, len - off, &h))
            return false;
        switch (h.kind) {
        case KV__MP_NIL:
        case KV__MP_BOOL:
            put(&o, p + off, 1);
            break;
        case KV__MP_INT:
            if (h.neg)
                put_neg(&o, h.i);
            else
                put_uint(&o, h.u);
            break;
        case KV__MP_F32:
        case KV__MP_F64:
            put(&o, p + off, 1);
            break;
        case KV__MP_STR:
            put_len(&o, h.body, 0xa0, 31, 0xd9, 0xda, 0xdb);
            break;
        case KV__MP_BIN:
            put_len(&o, h.body, 0, 0, 0xc4, 0xc5, 0xc6);
            break;
        case KV__MP_ARRAY:
            put_len(&o, h.count, 0x90, 15, 0, 0xdc, 0xdd);
            break;
        case KV__MP_MAP:
            put_len(&o, h.count, 0x80, 15, 0, 0xde, 0xdf);
            break;
        case KV__MP_EXT:
            put_ext_head(&o, h.body, h.ext_type);
            break;
        }
        off += h.size;
        if (h.body > len - off)
            return false;
        put(&o, p + off, (size_t)h.body);
        off += (size_t)h.body;
    }
    if (o.over)
        return false;
    *out_len = o.len;
    return true;
}

size_t kv__mp_put_int(uint8_t dst[9], int64_t v)
{
    out o = {.p = dst, .cap = 9};
    if (v < 0)
        put_neg(&o, v);
    else
        put_uint(&o, (uint64_t)v);
    return o.len;
}

const char *kv__mp_kind_name(kv__mp_kind kind)
{
    switch (kind) {
    case KV__MP_NIL:
        return "nil";
    case KV__MP_BOOL:
        return "a boolean";
    case KV__MP_INT:
        return "an integer";
    case KV__MP_F32:
    case KV__MP_F64:
        return "a float";
    case KV__MP_STR:
        return "a string";
    case KV__MP_BIN:
        return "a binary";
    case KV__MP_ARRAY:
        return "an array";
    case KV__MP_MAP:
        return "a map";
    case KV__MP_EXT:
        return "an extension";
    }
    return "?";
}
