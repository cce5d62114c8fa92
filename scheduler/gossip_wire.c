/* The gossip datagram: packing with msgpack-c's packer, reading with a
 * bounds-checked reader of our own.
 *
 * msgpack-c's unpacker is not used for reading: it allocates a container's
 * elements when it reads the container's header (a few bytes claiming a
 * four-billion-element array ask malloc for 96 GiB, actor-runtime/msg/msg.c
 * says more), and it builds a tree that would be walked again here anyway.
 * The reader below knows the one shape a datagram has, allocates nothing,
 * and says which field is wrong at which byte.
 */
#include "gossip_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- reading ---- */

typedef struct reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    shoal_errinfo *ei;
    char where[32]; /* "" for the head, "u[7] " inside a record */
} reader;

static shoal_err bad(reader *r, size_t at, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

static shoal_err bad(reader *r, size_t at, const char *field, const char *fmt,
                     ...)
{
    if (r->ei == NULL)
        return SHOAL_EMALFORMED;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return shoal_errinfo_set(r->ei, SHOAL_EMALFORMED, at, "gossip: %s%s: %s",
                             r->where, field, what);
}

static bool take(reader *r, size_t n, const uint8_t **out)
{
    if (r->len - r->off < n)
        return false;
    *out = r->p + r->off;
    r->off += n;
    return true;
}

static uint64_t big_endian(const uint8_t *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}

/* Reads a type byte and the n-byte big-endian length or value after it. */
static shoal_err read_head(reader *r, const char *field, uint8_t *type,
                           size_t width_of_type(uint8_t), uint64_t *arg)
{
    size_t at = r->off;
    const uint8_t *b;
    if (!take(r, 1, &b))
        return bad(r, at, field, "truncated: the datagram ends before it");
    *type = b[0];
    size_t n = width_of_type(b[0]);
    *arg = 0;
    if (n == 0)
        return SHOAL_OK;
    if (n == SIZE_MAX)
        return SHOAL_OK; /* the caller refuses the type */
    if (!take(r, n, &b))
        return bad(r, at, field, "truncated: the datagram ends inside it");
    *arg = big_endian(b, n);
    return SHOAL_OK;
}

/* Bytes of length or value after each type byte; SIZE_MAX for a type byte
 * the caller will refuse, 0 for one holding its value itself. */
static size_t uint_width(uint8_t t)
{
    switch (t) {
    case 0xcc:
        return 1;
    case 0xcd:
        return 2;
    case 0xce:
        return 4;
    case 0xcf:
        return 8;
    default:
        return t <= 0x7f ? 0 : SIZE_MAX;
    }
}

static size_t str_width(uint8_t t)
{
    switch (t) {
    case 0xd9:
        return 1;
    case 0xda:
        return 2;
    case 0xdb:
        return 4;
    default:
        return (t & 0xe0) == 0xa0 ? 0 : SIZE_MAX;
    }
}

static size_t bin_width(uint8_t t)
{
    switch (t) {
    case 0xc4:
        return 1;
    case 0xc5:
        return 2;
    case 0xc6:
        return 4;
    default:
        return SIZE_MAX;
    }
}

static size_t map_width(uint8_t t)
{
    switch (t) {
    case 0xde:
        return 2;
    case 0xdf:
        return 4;
    default:
        return (t & 0xf0) == 0x80 ? 0 : SIZE_MAX;
    }
}

static size_t array_width(uint8_t t)
{
    switch (t) {
    case 0xdc:
        return 2;
    case 0xdd:
        return 4;
    default:
        return (t & 0xf0) == 0x90 ? 0 : SIZE_MAX;
    }
}

static size_t bool_width(uint8_t t)
{
    return t == 0xc2 || t == 0xc3 ? 0 : SIZE_MAX;
}

static shoal_err read_uint(reader *r, const char *field, uint64_t max,
                           uint64_t *v)
{
    size_t at = r->off;
    uint8_t t = 0;
    shoal_err err = read_head(r, field, &t, uint_width, v);
    if (err != SHOAL_OK)
        return err;
    if (uint_width(t) == SIZE_MAX)
        return bad(r, at, field,
                   "expected an unsigned integer, found type byte 0x%02x", t);
    if (uint_width(t) == 0)
        *v = t;
    if (*v > max)
        return bad(r, at, field, "%llu is over its bound of %llu",
                   (unsigned long long)*v, (unsigned long long)max);
    return SHOAL_OK;
}

/* The bytes of a str (as_bin false) or bin, at most max long. */
static shoal_err read_bytes(reader *r, const char *field, bool as_bin,
                            size_t max, const uint8_t **bytes, size_t *n)
{
    size_t at = r->off;
    uint8_t t = 0;
    uint64_t len = 0;
    size_t (*width)(uint8_t) = as_bin ? bin_width : str_width;
    shoal_err err = read_head(r, field, &t, width, &len);
    if (err != SHOAL_OK)
        return err;
    if (width(t) == SIZE_MAX)
        return bad(r, at, field, "expected a %s, found type byte 0x%02x",
                   as_bin ? "bin" : "string", t);
    if (width(t) == 0)
        len = t & 0x1f;
    if (len > max)
        return bad(r, at, field, "%llu bytes, more than its bound of %zu",
                   (unsigned long long)len, max);
    if (!take(r, (size_t)len, bytes))
        return bad(r, at, field,
                   "truncated: %llu bytes run past the end of the datagram",
                   (unsigned long long)len);
    *n = (size_t)len;
    return SHOAL_OK;
}

/* A name or address: 1 to size - 1 bytes, no NUL, copied into out. */
static shoal_err read_cstr(reader *r, const char *field, char *out, size_t size)
{
    size_t at = r->off;
    const uint8_t *s = NULL;
    size_t n = 0;
    shoal_err err = read_bytes(r, field, false, size - 1, &s, &n);
    if (err != SHOAL_OK)
        return err;
    if (n == 0)
        return bad(r, at, field, "empty");
    if (memchr(s, 0, n) != NULL)
        return bad(r, at, field, "holds a NUL byte");
    memcpy(out, s, n);
    out[n] = 0;
    return SHOAL_OK;
}

static shoal_err read_count(reader *r, const char *field, bool map, uint64_t *n)
{
    size_t at = r->off;
    uint8_t t = 0;
    size_t (*width)(uint8_t) = map ? map_width : array_width;
    shoal_err err = read_head(r, field, &t, width, n);
    if (err != SHOAL_OK)
        return err;
    if (width(t) == SIZE_MAX)
        return bad(r, at, field, "expected %s, found type byte 0x%02x",
                   map ? "a map" : "an array", t);
    if (width(t) == 0)
        *n = t & 0x0f;
    /* Each element takes a byte at least (a map entry two). */
    if (*n > (r->len - r->off) / (map ? 2 : 1))
        return bad(r, at, field,
                   "claims %llu elements, more than the bytes left could hold",
                   (unsigned long long)*n);
    return SHOAL_OK;
}

/* A map key, looked up in keys[0..nkeys); *index is its position. */
static shoal_err read_key(reader *r, const char *const *keys, size_t nkeys,
                          size_t *index)
{
    size_t at = r->off;
    const uint8_t *s = NULL;
    size_t n = 0;
    shoal_err err = read_bytes(r, "key", false, 8, &s, &n);
    if (err != SHOAL_OK)
        return err;
    for (size_t i = 0; i < nkeys; i++) {
        if (strlen(keys[i]) == n && memcmp(keys[i], s, n) == 0) {
            *index = i;
            return SHOAL_OK;
        }
    }
    return bad(r, at, "key", "unknown key \"%.*s\"", (int)n, (const char *)s);
}

/* ---- records ---- */

enum { REC_N, REC_A, REC_ID, REC_S, REC_I, REC_MV, REC_M, REC_KEYS };
static const char *const record_keys[REC_KEYS] = {"n", "a",  "id", "s",
                                                  "i", "mv", "m"};
static const char *const record_fields[REC_KEYS] = {
    "\"n\" (name)",  "\"a\" (address)",     "\"id\" (node id)",
    "\"s\" (state)", "\"i\" (incarnation)", "\"mv\" (meta version)",
    "\"m\" (meta)"};

static shoal_err read_record(reader *r, gossip__record *rec)
{
    size_t start = r->off;
    uint64_t nkeys;
    shoal_err err = read_count(r, "record", true, &nkeys);
    if (err != SHOAL_OK)
        return err;
    memset(rec, 0, sizeof *rec);
    unsigned seen = 0;
    for (uint64_t k = 0; k < nkeys; k++) {
        size_t at = r->off;
        size_t key = 0;
        if ((err = read_key(r, record_keys, REC_KEYS, &key)) != SHOAL_OK)
            return err;
        if (seen & 1u << key)
            return bad(r, at, record_fields[key], "repeated");
        seen |= 1u << key;
        const char *f = record_fields[key];
        uint64_t v = 0;
        switch (key) {
        case REC_N:
            err = read_cstr(r, f, rec->name, sizeof rec->name);
            break;
        case REC_A:
            err = read_cstr(r, f, rec->addr, sizeof rec->addr);
            break;
        case REC_ID:
            at = r->off;
            err = read_uint(r, f, GOSSIP_NODE_ID_MAX, &v);
            if (err == SHOAL_OK && v == 0)
                err = bad(r, at, f, "0 is not a node id");
            rec->node_id = (uint16_t)v;
            break;
        case REC_S:
            err = read_uint(r, f, GOSSIP_LEFT, &v);
            rec->state = (gossip_state)v;
            break;
        case REC_I:
            err = read_uint(r, f, UINT64_MAX, &rec->incarnation);
            break;
        case REC_MV:
            err = read_uint(r, f, UINT64_MAX, &rec->meta_version);
            break;
        default:
            err = read_bytes(r, f, true, GOSSIP_META_MAX, &rec->meta,
                             &rec->meta_len);
            if (rec->meta_len == 0)
                rec->meta = NULL;
            break;
        }
        if (err != SHOAL_OK)
            return err;
    }
    for (size_t key = 0; key < REC_KEYS; key++) {
        if (!(seen & 1u << key))
            return bad(r, start, record_fields[key], "missing");
    }
    return SHOAL_OK;
}

void gossip__records_begin(gossip__records *it, const uint8_t *p, size_t len,
                           const gossip__datagram *d)
{
    it->p = p;
    it->len = len;
    it->off = d->records_off;
    it->left = d->nrecords;
}

bool gossip__records_next(gossip__records *it, gossip__record *rec)
{
    if (it->left == 0)
        return false;
    reader r = {.p = it->p, .len = it->len, .off = it->off};
    /* gossip__decode read these bytes already, so this cannot fail. */
    if (read_record(&r, rec) != SHOAL_OK) {
        it->left = 0;
        return false;
    }
    it->off = r.off;
    it->left--;
    return true;
}

/* ---- the datagram ---- */

enum {
    KEY_V,
    KEY_T,
    KEY_N,
    KEY_A,
    KEY_ID,
    KEY_I,
    KEY_SEQ,
    KEY_TO,
    KEY_TA,
    KEY_R,
    KEY_U,
    HEAD_KEYS
};
static const char *const head_keys[HEAD_KEYS] = {
    "v", "t", "n", "a", "id", "i", "seq", "to", "ta", "r", "u"};
static const char *const head_fields[HEAD_KEYS] = {
    "\"v\" (version)",
    "\"t\" (type)",
    "\"n\" (sender's name)",
    "\"a\" (sender's address)",
    "\"id\" (sender's node id)",
    "\"i\" (sender's incarnation)",
    "\"seq\" (probe number)",
    "\"to\" (target's name)",
    "\"ta\" (target's address)",
    "\"r\" (reply wanted)",
    "\"u\" (records)"};

/* The keys each type needs besides v, t, n, a, id, i and u. */
static unsigned type_keys(gossip__type t)
{
    switch (t) {
    case GOSSIP__PING:
        return 1u << KEY_SEQ | 1u << KEY_TO;
    case GOSSIP__ACK:
        return 1u << KEY_SEQ;
    case GOSSIP__PING_REQ:
        return 1u << KEY_SEQ | 1u << KEY_TO | 1u << KEY_TA;
    default:
        return 1u << KEY_R;
    }
}

static shoal_err read_records(reader *r, gossip__datagram *d)
{
    size_t at = r->off;
    uint64_t n;
    shoal_err err = read_count(r, head_fields[KEY_U], false, &n);
    if (err != SHOAL_OK)
        return err;
    if (n > GOSSIP__RECORDS_MAX)
        return bad(r, at, head_fields[KEY_U], "%llu records, more than %u",
                   (unsigned long long)n, GOSSIP__RECORDS_MAX);
    d->nrecords = (size_t)n;
    d->records_off = r->off;
    for (size_t i = 0; i < d->nrecords; i++) {
        gossip__record rec;
        snprintf(r->where, sizeof r->where, "u[%zu] ", i);
        if ((err = read_record(r, &rec)) != SHOAL_OK)
            return err;
    }
    r->where[0] = 0;
    return SHOAL_OK;
}

shoal_err gossip__decode(const uint8_t *p, size_t len, gossip__datagram *d,
                         shoal_errinfo *ei)
{
    reader r = {.p = p, .len = len, .ei = ei};
    memset(d, 0, sizeof *d);
    if (len > GOSSIP_DATAGRAM_MAX)
        return bad(&r, 0, "datagram", "%zu bytes, more than %u", len,
                   GOSSIP_DATAGRAM_MAX);
    uint64_t nkeys;
    shoal_err err = read_count(&r, "datagram", true, &nkeys);
    if (err != SHOAL_OK)
        return err;
    unsigned seen = 0;
    for (uint64_t k = 0; k < nkeys; k++) {
        size_t at = r.off;
        size_t key = 0;
        if ((err = read_key(&r, head_keys, HEAD_KEYS, &key)) != SHOAL_OK)
            return err;
        const char *f = head_fields[key];
        if (seen & 1u << key)
            return bad(&r, at, f, "repeated");
        seen |= 1u << key;
        at = r.off;
        uint64_t v = 0;
        switch (key) {
        case KEY_V:
            err = read_uint(&r, f, UINT64_MAX, &v);
            if (err == SHOAL_OK && v != GOSSIP__VERSION)
                err = bad(&r, at, f, "version %llu, this node speaks %d",
                          (unsigned long long)v, GOSSIP__VERSION);
            break;
        case KEY_T:
            err = read_uint(&r, f, GOSSIP__SYNC, &v);
            if (err == SHOAL_OK && v == 0)
                err = bad(&r, at, f, "0 is not a datagram type");
            d->type = (gossip__type)v;
            break;
        case KEY_N:
            err = read_cstr(&r, f, d->name, sizeof d->name);
            break;
        case KEY_A:
            err = read_cstr(&r, f, d->addr, sizeof d->addr);
            break;
        case KEY_ID:
            err = read_uint(&r, f, GOSSIP_NODE_ID_MAX, &v);
            if (err == SHOAL_OK && v == 0)
                err = bad(&r, at, f, "0 is not a node id");
            d->node_id = (uint16_t)v;
            break;
        case KEY_I:
            err = read_uint(&r, f, UINT64_MAX, &d->incarnation);
            break;
        case KEY_SEQ:
            err = read_uint(&r, f, UINT64_MAX, &d->seq);
            break;
        case KEY_TO:
            err = read_cstr(&r, f, d->to, sizeof d->to);
            break;
        case KEY_TA:
            err = read_cstr(&r, f, d->to_addr, sizeof d->to_addr);
            break;
        case KEY_R: {
            uint8_t t = 0;
            err = read_head(&r, f, &t, bool_width, &v);
            if (err == SHOAL_OK && bool_width(t) == SIZE_MAX)
                err = bad(&r, at, f, "expected a bool, found type byte 0x%02x",
                          t);
            d->reply = t == 0xc3;
            break;
        }
        default:
            err = read_records(&r, d);
            break;
        }
        if (err != SHOAL_OK)
            return err;
    }
    if (r.off != len)
        return bad(&r, r.off, "datagram",
                   "trailing bytes: the map ends at byte %zu of %zu", r.off,
                   len);
    unsigned need = 1u << KEY_V | 1u << KEY_T | 1u << KEY_N | 1u << KEY_A |
                    1u << KEY_ID | 1u << KEY_I | 1u << KEY_U;
    if (seen & 1u << KEY_T)
        need |= type_keys(d->type);
    for (size_t key = 0; key < HEAD_KEYS; key++) {
        if ((need & 1u << key) && !(seen & 1u << key))
            return bad(&r, 0, head_fields[key], "missing");
    }
    return SHOAL_OK;
}

/* ---- packing ---- */

static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

int gossip__pack_head(msgpack_packer *pk, const gossip__datagram *d,
                      size_t nrecords)
{
    unsigned extra = type_keys(d->type);
    size_t nkeys = 7;
    for (size_t key = 0; key < HEAD_KEYS; key++)
        nkeys += (extra >> key) & 1u;
    int e = msgpack_pack_map(pk, nkeys);
    e |= pack_str(pk, "v") | msgpack_pack_uint64(pk, GOSSIP__VERSION);
    e |= pack_str(pk, "t") | msgpack_pack_uint64(pk, d->type);
    e |= pack_str(pk, "n") | pack_str(pk, d->name);
    e |= pack_str(pk, "a") | pack_str(pk, d->addr);
    e |= pack_str(pk, "id") | msgpack_pack_uint64(pk, d->node_id);
    e |= pack_str(pk, "i") | msgpack_pack_uint64(pk, d->incarnation);
    if (extra & 1u << KEY_SEQ)
        e |= pack_str(pk, "seq") | msgpack_pack_uint64(pk, d->seq);
    if (extra & 1u << KEY_TO)
        e |= pack_str(pk, "to") | pack_str(pk, d->to);
    if (extra & 1u << KEY_TA)
        e |= pack_str(pk, "ta") | pack_str(pk, d->to_addr);
    if (extra & 1u << KEY_R) {
        e |= pack_str(pk, "r");
        e |= d->reply ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    e |= pack_str(pk, "u") | msgpack_pack_array(pk, nrecords);
    return e;
}

int gossip__pack_record(msgpack_packer *pk, const gossip_member *m)
{
    int e = msgpack_pack_map(pk, REC_KEYS);
    e |= pack_str(pk, "n") | pack_str(pk, m->name);
    e |= pack_str(pk, "a") | pack_str(pk, m->addr);
    e |= pack_str(pk, "id") | msgpack_pack_uint64(pk, m->node_id);
    e |= pack_str(pk, "s") | msgpack_pack_uint64(pk, m->state);
    e |= pack_str(pk, "i") | msgpack_pack_uint64(pk, m->incarnation);
    e |= pack_str(pk, "mv") | msgpack_pack_uint64(pk, m->meta_version);
    e |= pack_str(pk, "m") | msgpack_pack_bin(pk, m->meta_len);
    if (m->meta_len > 0)
        e |= msgpack_pack_bin_body(pk, m->meta, m->meta_len);
    return e;
}

size_t gossip__record_bound(const gossip_member *m)
{
    /* The map header, the keys, the widest headers and integers. */
    return 48 + strlen(m->name) + strlen(m->addr) + m->meta_len;
}
