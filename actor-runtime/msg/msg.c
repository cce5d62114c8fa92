/* Messages: payload validation, the wire envelope and exit notices.
 *
 * Every parse runs msgpack-c's own unpacking state machine,
 * msgpack/unpack_template.h (the one msgpack_unpack_next() runs), here
 * instantiated with callbacks of ours instead of the library's. The
 * library's ready-made instance does not fit a check that runs on every send:
 *
 * - Its parser holds at most 32 nested arrays and maps
 *   (MSGPACK_EMBED_STACK_SIZE was fixed when the library was built), and a
 *   payload may nest MSG_MAX_DEPTH deep.
 * - It allocates a container's elements when it reads the container's
 *   header, before any element is there: the five bytes dd ff ff ff ff ask
 *   malloc for 96 GiB, and dd 01 00 00 00 gets 384 MiB, for a message that
 *   is then rejected as truncated.
 * - msgpack_unpack_next() allocates and frees a zone on every call.
 *
 * Our callbacks build no tree and allocate nothing; the template's own stack,
 * sized MSG_MAX_DEPTH here, is the depth limit. Encoding uses msgpack-c's
 * packer, writing into a buffer sized beforehand.
 */
#include "shoal_msg.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <msgpack/unpack_define.h>

/* Each unpack_template.h instance below returns this when a container would
 * nest deeper than its stack; our callbacks never return it. */
#define TOO_DEEP MSGPACK_UNPACK_NOMEM_ERROR
/* What our callbacks return to stop the parse; the reason is in the user
 * struct. */
#define STOP (-1)

/* The largest envelope around a body, with the widest encoding msgpack
 * allows for each part: map32 header (5), four keys as str32 (4 * 9),
 * "from", "corr" and "kind" as uint64 (3 * 9), a bin32 header (5). */
#define ENVELOPE_MAX_HEAD 73u
/* The largest notice head around the reason: fixmap (1), "actor" (6) and a
 * uint64 (9), "ref" (4) and a uint64 (9), "reason" (7) and a str32 header
 * (5), "code" (5) and an int32 (5). */
#define NOTICE_MAX_HEAD 51u

/* ---- payloads: one object, nothing else ---- */

/* A validated payload leaves nothing behind, so objects are placeholders. */
typedef unsigned char payload_obj;

typedef struct payload_user {
    const char *bad; /* why a callback stopped the parse */
} payload_user;

/* Callbacks that take what the template read: a scalar, or the header of an
 * array or map (the template's own stack counts their elements). */
#define PAYLOAD_ACCEPT(name, type)                                             \
    static inline int payload_cb##name(payload_user *u, type v,                \
                                       payload_obj *o)                         \
    {                                                                          \
        (void)u;                                                               \
        (void)v;                                                               \
        *o = 0;                                                                \
        return 0;                                                              \
    }
PAYLOAD_ACCEPT(_uint8, uint8_t)
PAYLOAD_ACCEPT(_uint16, uint16_t)
PAYLOAD_ACCEPT(_uint32, uint32_t)
PAYLOAD_ACCEPT(_uint64, uint64_t)
PAYLOAD_ACCEPT(_int8, int8_t)
PAYLOAD_ACCEPT(_int16, int16_t)
PAYLOAD_ACCEPT(_int32, int32_t)
PAYLOAD_ACCEPT(_int64, int64_t)
PAYLOAD_ACCEPT(_float, float)
PAYLOAD_ACCEPT(_double, double)
PAYLOAD_ACCEPT(_array, unsigned int)
PAYLOAD_ACCEPT(_map, unsigned int)
#undef PAYLOAD_ACCEPT

static inline payload_obj payload_cb_root(payload_user *u)
{
    (void)u;
    return 0;
}

static inline int payload_cb_constant(payload_user *u, payload_obj *o)
{
    (void)u;
    *o = 0;
    return 0;
}
#define payload_cb_nil payload_cb_constant
#define payload_cb_true payload_cb_constant
#define payload_cb_false payload_cb_constant

static inline int payload_cb_array_item(payload_user *u, payload_obj *c,
                                        payload_obj o)
{
    (void)u;
    (void)c;
    (void)o;
    return 0;
}

static inline int payload_cb_map_item(payload_user *u, payload_obj *c,
                                      payload_obj k, payload_obj v)
{
    (void)u;
    (void)c;
    (void)k;
    (void)v;
    return 0;
}

static inline int payload_cb_str(payload_user *u, const char *b, const char *p,
                                 unsigned int l, payload_obj *o)
{
    (void)u;
    (void)b;
    (void)p;
    (void)l;
    *o = 0;
    return 0;
}
#define payload_cb_bin payload_cb_str

static inline int payload_cb_ext(payload_user *u, const char *b, const char *p,
                                 unsigned int l, payload_obj *o)
{
    (void)b;
    (void)p;
    *o = 0;
    /* The template counts the type byte into l: an ext32 of 0xffffffff data
     * bytes wraps to 0. No input of ours is that long. */
    if (l == 0) {
        u->bad = "truncated: an ext of 4294967295 bytes runs past the end of "
                 "the input";
        return STOP;
    }
    return 0;
}

#undef MSGPACK_EMBED_STACK_SIZE
#define MSGPACK_EMBED_STACK_SIZE MSG_MAX_DEPTH
#define msgpack_unpack_struct(name) struct payload##name
#define msgpack_unpack_func(ret, name) static inline ret payload##name
#define msgpack_unpack_callback(name) payload_cb##name
#define msgpack_unpack_object payload_obj
#define msgpack_unpack_user payload_user
#include <msgpack/unpack_template.h>

/* msg_validate, for bytes found at `where` ("" or "envelope: body: "). */
/* The size of a msgpack object that its first byte alone determines and
 * that has nothing inside to check (a number, nil, a boolean, a short
 * string), or 0. Most messages between actors are one such value, and
 * this spares them the parser. */
static size_t simple_object_size(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0) /* positive and negative fixint */
        return 1;
    if (b >= 0xa0 && b <= 0xbf) /* fixstr */
        return 1 + (size_t)(b & 0x1f);
    switch (b) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */
        return 1;
    case 0xcc: /* uint 8 */
    case 0xd0: /* int 8 */
        return 2;
    case 0xcd: /* uint 16 */
    case 0xd1: /* int 16 */
        return 3;
    case 0xca: /* float 32 */
    case 0xce: /* uint 32 */
    case 0xd2: /* int 32 */
        return 5;
    case 0xcb: /* float 64 */
    case 0xcf: /* uint 64 */
    case 0xd3: /* int 64 */
        return 9;
    default:
        return 0;
    }
}

static shoal_err payload_check_max(const uint8_t *p, size_t len, size_t max,
                                   shoal_errinfo *ei, const char *where)
{
    /* Anything else, including these with missing or extra bytes, goes
     * through the parser, which also says what is wrong. */
    if (len != 0 && len <= max && simple_object_size(p[0]) == len)
        return SHOAL_OK;

    if (len == 0)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, 0,
                                 "%sempty: no msgpack object", where);
    if (len > max)
        return shoal_errinfo_set(
            ei, SHOAL_ELIMIT, max,
            "%s%zu bytes: larger than the limit of %zu bytes", where, len, max);

    struct payload_context ctx;
    payload_init(&ctx);
    ctx.user.bad = NULL;
    size_t off = 0;
    int ret = payload_execute(&ctx, (const char *)p, len, &off);
    if (ret > 0 && off == len)
        return SHOAL_OK;
    if (ret > 0)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off,
                                 "%strailing bytes: the object ends at byte "
                                 "%zu of %zu",
                                 where, off, len);
    if (ret == 0)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, len,
                                 "%struncated: the input ends inside the "
                                 "object",
                                 where);
    if (ret == TOO_DEEP)
        return shoal_errinfo_set(ei, SHOAL_ELIMIT, off,
                                 "%sarrays and maps nested deeper than %d",
                                 where, MSG_MAX_DEPTH);
    if (ctx.user.bad != NULL)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off, "%s%s", where,
                                 ctx.user.bad);
    /* The template fails by itself only on a header byte no type has. */
    return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off,
                             "%sbyte 0x%02x is not a msgpack type", where,
                             p[off]);
}

static shoal_err payload_check(const uint8_t *p, size_t len, shoal_errinfo *ei,
                               const char *where)
{
    return payload_check_max(p, len, MSG_MAX_PAYLOAD, ei, where);
}

shoal_err msg_validate_max(const uint8_t *p, size_t len, size_t max,
                           shoal_errinfo *ei)
{
    if (p == NULL && len > 0)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "no bytes given for %zu", len);
    return payload_check_max(p, len, max, ei, "");
}

shoal_err msg_validate(const uint8_t *p, size_t len, shoal_errinfo *ei)
{
    /* Most messages are one number or a short string, settled by their
     * first byte: here, before the calls that lead to the parser. */
    if (p != NULL && len != 0 && len <= MSG_MAX_PAYLOAD &&
        simple_object_size(p[0]) == len)
        return SHOAL_OK;
    if (p == NULL && len > 0)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "no payload bytes");
    return payload_check(p, len, ei, "");
}

/* ---- messages ---- */

/* The buffer sizes of the classes 1 to MSG_POOL_CLASSES (shoal_msg.h). */
static const uint16_t class_sizes[MSG_POOL_CLASSES] = {40,  56,  88,  120,
                                                       184, 248, 376, 504};

/* The size class of a message of len payload bytes, or 0 for an exact
 * buffer. */
static uint8_t class_of(size_t len)
{
    size_t total = sizeof(shoal_msg) + len;
    if (total > MSG_CLASS_MAX_BYTES)
        return 0;
    uint8_t c = 0;
    while (class_sizes[c] < total)
        c++;
    return (uint8_t)(c + 1);
}

static size_t class_bytes(uint8_t c)
{
    return class_sizes[c - 1];
}

static bool msg_args_ok(msg_kind kind, const uint8_t *payload, size_t len)
{
    return (unsigned)kind <= MSG_INIT && len <= MSG_MAX_PAYLOAD &&
           (payload != NULL || len == 0);
}

/* Fills a buffer of class c (0: exact) with the message. */
static shoal_msg *msg_fill(shoal_msg *m, uint8_t c, msg_kind kind,
                           uint64_t sender, uint64_t corr,
                           const uint8_t *payload, size_t len)
{
    m->next = NULL;
    m->sender = sender;
    m->corr = corr;
    m->kind = (uint8_t)kind;
    m->size_class = c;
    m->len = (uint32_t)len;
    if (len > 0)
        memcpy(m->payload, payload, len);
    return m;
}

shoal_msg *msg_new(msg_kind kind, uint64_t sender, uint64_t corr,
                   const uint8_t *payload, size_t len)
{
    if (!msg_args_ok(kind, payload, len))
        return NULL;
    /* Small messages get a whole class buffer, so that a pool can reuse
     * it after them. */
    uint8_t c = class_of(len);
    shoal_msg *m = malloc(c ? class_bytes(c) : sizeof *m + len);
    if (m == NULL)
        return NULL;
    return msg_fill(m, c, kind, sender, corr, payload, len);
}

void msg_free(shoal_msg *m)
{
    free(m);
}

/* ---- pools of message buffers ---- */

struct msg_pool {
    shoal_msg *free[MSG_POOL_CLASSES]; /* linked by next */
    uint32_t count[MSG_POOL_CLASSES];
    uint32_t max;
};

msg_pool *msg_pool_new(uint32_t max_per_class)
{
    msg_pool *p = calloc(1, sizeof *p);
    if (p)
        p->max = max_per_class;
    return p;
}

void msg_pool_delete(msg_pool *p)
{
    if (p == NULL)
        return;
    for (int c = 0; c < MSG_POOL_CLASSES; c++) {
        shoal_msg *m = p->free[c];
        while (m) {
            shoal_msg *next = m->next;
            free(m);
            m = next;
        }
    }
    free(p);
}

shoal_msg *msg_pool_new_msg(msg_pool *p, msg_kind kind, uint64_t sender,
                            uint64_t corr, const uint8_t *payload, size_t len)
{
    if (p == NULL || !msg_args_ok(kind, payload, len))
        return msg_new(kind, sender, corr, payload, len);
    uint8_t c = class_of(len);
    shoal_msg *m = c ? p->free[c - 1] : NULL;
    if (m == NULL)
        return msg_new(kind, sender, corr, payload, len);
    p->free[c - 1] = m->next;
    p->count[c - 1]--;
    return msg_fill(m, c, kind, sender, corr, payload, len);
}

void msg_pool_free(msg_pool *p, shoal_msg *m)
{
    if (m == NULL)
        return;
    uint8_t c = m->size_class;
    if (p == NULL || c == 0 || c > MSG_POOL_CLASSES ||
        p->count[c - 1] >= p->max) {
        free(m);
        return;
    }
    m->next = p->free[c - 1];
    p->free[c - 1] = m;
    p->count[c - 1]++;
}

uint32_t msg_pool_size(const msg_pool *p)
{
    uint32_t n = 0;
    for (int c = 0; p && c < MSG_POOL_CLASSES; c++)
        n += p->count[c];
    return n;
}

/* A msgpack_packer target: a buffer whose size was worked out beforehand. */
typedef struct out_buf {
    uint8_t *data;
    size_t len, cap;
} out_buf;

static int out_write(void *data, const char *buf, size_t len)
{
    out_buf *b = data;
    if (len > b->cap - b->len)
        return -1;
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

static int pack_key(msgpack_packer *pk, const char *key)
{
    return msgpack_pack_str_with_body(pk, key, strlen(key));
}

shoal_msg *msg_new_notice(msg_kind kind, uint64_t actor, uint64_t ref,
                          const char *reason, int32_t code)
{
    if (kind != MSG_EXIT && kind != MSG_DOWN)
        return NULL;
    if (reason == NULL)
        reason = "";
    /* Cut an absurdly long reason to fit, at a UTF-8 character boundary. */
    size_t rlen = strlen(reason);
    if (rlen > MSG_MAX_PAYLOAD - NOTICE_MAX_HEAD) {
        rlen = MSG_MAX_PAYLOAD - NOTICE_MAX_HEAD;
        while (rlen > 0 && ((unsigned char)reason[rlen] & 0xc0) == 0x80)
            rlen--;
    }

    size_t cap = NOTICE_MAX_HEAD + rlen;
    shoal_msg *m = malloc(sizeof *m + cap);
    if (m == NULL)
        return NULL;
    m->next = NULL;
    m->sender = 0;
    m->corr = 0;
    m->kind = (uint8_t)kind;
    m->size_class = 0;

    out_buf b = {m->payload, 0, cap};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, out_write);
    int rc = msgpack_pack_map(&pk, kind == MSG_DOWN ? 4 : 3);
    rc |= pack_key(&pk, "actor");
    rc |= msgpack_pack_uint64(&pk, actor);
    if (kind == MSG_DOWN) {
        rc |= pack_key(&pk, "ref");
        rc |= msgpack_pack_uint64(&pk, ref);
    }
    rc |= pack_key(&pk, "reason");
    rc |= msgpack_pack_str_with_body(&pk, reason, rlen);
    rc |= pack_key(&pk, "code");
    rc |= msgpack_pack_int32(&pk, code);
    if (rc != 0) { /* cannot happen: cap covers the widest head */
        free(m);
        return NULL;
    }
    m->len = (uint32_t)b.len;
    return m;
}

/* ---- the envelope ---- */

enum { FIELD_FROM, FIELD_CORR, FIELD_KIND, FIELD_BODY, FIELD_COUNT };
static const char *const field_names[FIELD_COUNT] = {"from", "corr", "kind",
                                                     "body"};

shoal_err msg_encode(const shoal_msg *m, uint8_t **out, size_t *len)
{
    if (m == NULL || out == NULL || len == NULL || m->kind > MSG_INIT)
        return SHOAL_EINVAL;
    if (m->len > MSG_MAX_PAYLOAD)
        return SHOAL_ELIMIT;

    out_buf b = {NULL, 0, ENVELOPE_MAX_HEAD + (size_t)m->len};
    b.data = malloc(b.cap);
    if (b.data == NULL)
        return SHOAL_ENOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, out_write);
    int rc = msgpack_pack_map(&pk, FIELD_COUNT);
    rc |= pack_key(&pk, field_names[FIELD_FROM]);
    rc |= msgpack_pack_uint64(&pk, m->sender);
    rc |= pack_key(&pk, field_names[FIELD_CORR]);
    rc |= msgpack_pack_uint64(&pk, m->corr);
    rc |= pack_key(&pk, field_names[FIELD_KIND]);
    rc |= msgpack_pack_uint8(&pk, m->kind);
    rc |= pack_key(&pk, field_names[FIELD_BODY]);
    rc |= msgpack_pack_bin_with_body(&pk, m->payload, m->len);
    if (rc != 0) { /* cannot happen: cap covers the widest head */
        free(b.data);
        return SHOAL_ELIMIT;
    }
    *out = b.data;
    *len = b.len;
    return SHOAL_OK;
}

/* Reading an envelope: the callbacks see the root map's keys and values one
 * after the other (the template's stack holds two levels, and anything
 * nested in the root map is refused when it starts) and check each as it
 * comes, so the first problem in the input is the one reported. */
typedef enum envelope_expect {
    EXPECT_ROOT,
    EXPECT_KEY,
    EXPECT_VALUE,
} envelope_expect;

typedef struct envelope_user {
    const char *base; /* the envelope's first byte */
    shoal_errinfo *ei;
    shoal_err err; /* why a callback stopped the parse */
    size_t at;     /* where, or AT_STOP or AFTER_STOP */
    envelope_expect expect;
    int field;       /* the field of the value that comes next */
    size_t value_at; /* where that value starts */
    unsigned seen;   /* a bit per field */
    uint64_t from, corr, kind;
    const uint8_t *body;
    size_t body_len;
} envelope_user;

static const char *type_name(msgpack_object_type type)
{
    switch (type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return "an unsigned integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "a negative integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_BIN:
        return "binary data";
    case MSGPACK_OBJECT_EXT:
        return "an ext";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    }
    return "an unknown type";
}

/* Offsets for envelope_stop that the callbacks do not know: where the
 * parse stops (the last byte read), and the byte after it. */
#define AT_STOP SIZE_MAX
#define AFTER_STOP (SIZE_MAX - 1)

/* Stops the parse with an error at offset `at`. */
static int envelope_stop(envelope_user *u, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int envelope_stop(envelope_user *u, size_t at, const char *fmt, ...)
{
    u->err = SHOAL_EMALFORMED;
    u->at = at;
    if (u->ei != NULL) {
        u->ei->offset = at;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(u->ei->msg, sizeof u->ei->msg, fmt, ap);
        va_end(ap);
    }
    return STOP;
}

/* A key of the input, printable in a message: at most 32 bytes, others
 * escaped. */
static void quote_key(char out[160], const char *key, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && i < 32; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
    }
    if (len > 32)
        n += (size_t)snprintf(out + n, 4, "...");
    out[n] = '\0';
}

static int envelope_key(envelope_user *u, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return envelope_stop(u, AT_STOP,
                             "envelope: a key is %s, expected a string",
                             type_name(o->type));
    int field = 0;
    while (field < FIELD_COUNT &&
           !(o->via.str.size == strlen(field_names[field]) &&
             memcmp(o->via.str.ptr, field_names[field], o->via.str.size) == 0))
        field++;
    size_t key_at = o->via.str.size > 0
                        ? (size_t)(o->via.str.ptr - u->base)
                        : AT_STOP; /* an empty key has no text */
    if (field == FIELD_COUNT) {
        char quoted[160];
        quote_key(quoted, o->via.str.ptr, o->via.str.size);
        return envelope_stop(u, key_at, "envelope: unknown field \"%s\"",
                             quoted);
    }
    if (u->seen & (1u << field))
        return envelope_stop(u, key_at, "envelope: field \"%s\" appears twice",
                             field_names[field]);
    u->seen |= 1u << field;
    u->field = field;
    u->value_at = key_at + o->via.str.size;
    u->expect = EXPECT_VALUE;
    return 0;
}

static int envelope_value(envelope_user *u, const msgpack_object *o)
{
    const char *name = field_names[u->field];
    u->expect = EXPECT_KEY;
    if (u->field == FIELD_BODY) {
        if (o->type != MSGPACK_OBJECT_BIN)
            return envelope_stop(u, u->value_at,
                                 "envelope: field \"body\" is %s, expected "
                                 "binary data",
                                 type_name(o->type));
        u->body = (const uint8_t *)o->via.bin.ptr;
        u->body_len = o->via.bin.size;
        if (u->body_len == 0)
            return envelope_stop(u, AFTER_STOP,
                                 "envelope: body: empty: no msgpack object");
        size_t body_at = (size_t)(o->via.bin.ptr - u->base);
        shoal_err err =
            payload_check(u->body, u->body_len, u->ei, "envelope: body: ");
        if (err != SHOAL_OK) {
            u->err = err;
            u->at = body_at + (u->ei != NULL ? u->ei->offset : 0);
            if (u->ei != NULL)
                u->ei->offset = u->at;
            return STOP;
        }
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return envelope_stop(u, u->value_at,
                             "envelope: field \"%s\" is %s, expected an "
                             "unsigned integer",
                             name, type_name(o->type));
    if (u->field == FIELD_FROM) {
        u->from = o->via.u64;
    } else if (u->field == FIELD_CORR) {
        u->corr = o->via.u64;
    } else {
        if (o->via.u64 > MSG_INIT)
            return envelope_stop(u, u->value_at,
                                 "envelope: field \"kind\" is %llu, expected "
                                 "a message kind from 0 to %d",
                                 (unsigned long long)o->via.u64, MSG_INIT);
        u->kind = o->via.u64;
    }
    return 0;
}

/* Every scalar of the envelope comes here: the root, a key or a value. */
static int envelope_scalar(envelope_user *u, const msgpack_object *o)
{
    switch (u->expect) {
    case EXPECT_ROOT:
        return envelope_stop(u, 0, "envelope is %s, expected a map",
                             type_name(o->type));
    case EXPECT_KEY:
        return envelope_key(u, o);
    case EXPECT_VALUE:
        return envelope_value(u, o);
    }
    return STOP;
}

static int envelope_container(envelope_user *u, msgpack_object_type type,
                              unsigned int n, msgpack_object *o)
{
    o->type = type;
    o->via.map.size = n;
    o->via.map.ptr = NULL;
    if (u->expect == EXPECT_ROOT && type == MSGPACK_OBJECT_MAP) {
        u->expect = EXPECT_KEY;
        return 0;
    }
    if (u->expect == EXPECT_VALUE)
        return envelope_stop(
            u, u->value_at, "envelope: field \"%s\" is %s, expected %s",
            field_names[u->field], type_name(type),
            u->field == FIELD_BODY ? "binary data" : "an unsigned integer");
    return envelope_scalar(u, o);
}

static inline msgpack_object envelope_cb_root(envelope_user *u)
{
    (void)u;
    msgpack_object o = {.type = MSGPACK_OBJECT_NIL};
    return o;
}

/* Integers as msgpack-c reads them: a non-negative value is unsigned
 * whatever its encoding. */
static inline int envelope_uint(envelope_user *u, uint64_t v, msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = v;
    return envelope_scalar(u, o);
}

static inline int envelope_int(envelope_user *u, int64_t v, msgpack_object *o)
{
    if (v >= 0)
        return envelope_uint(u, (uint64_t)v, o);
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o->via.i64 = v;
    return envelope_scalar(u, o);
}

#define envelope_cb_uint8 envelope_uint
#define envelope_cb_uint16 envelope_uint
#define envelope_cb_uint32 envelope_uint
#define envelope_cb_uint64 envelope_uint
#define envelope_cb_int8 envelope_int
#define envelope_cb_int16 envelope_int
#define envelope_cb_int32 envelope_int
#define envelope_cb_int64 envelope_int

static inline int envelope_cb_float(envelope_user *u, float v,
                                    msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_FLOAT32;
    o->via.f64 = v;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_double(envelope_user *u, double v,
                                     msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_FLOAT64;
    o->via.f64 = v;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_nil(envelope_user *u, msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_NIL;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_true(envelope_user *u, msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_BOOLEAN;
    o->via.boolean = true;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_false(envelope_user *u, msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_BOOLEAN;
    o->via.boolean = false;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_str(envelope_user *u, const char *b,
                                  const char *p, unsigned int l,
                                  msgpack_object *o)
{
    (void)b;
    /* The template passes a stale pointer with an empty string or bin. */
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.ptr = l > 0 ? p : NULL;
    o->via.str.size = l;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_bin(envelope_user *u, const char *b,
                                  const char *p, unsigned int l,
                                  msgpack_object *o)
{
    (void)b;
    o->type = MSGPACK_OBJECT_BIN;
    o->via.bin.ptr = l > 0 ? p : NULL;
    o->via.bin.size = l;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_ext(envelope_user *u, const char *b,
                                  const char *p, unsigned int l,
                                  msgpack_object *o)
{
    (void)b;
    if (l == 0) /* see payload_cb_ext */
        return envelope_stop(u, AT_STOP,
                             "envelope: truncated: an ext of 4294967295 "
                             "bytes runs past the end of the input");
    o->type = MSGPACK_OBJECT_EXT;
    o->via.ext.type = (int8_t)p[0];
    o->via.ext.ptr = p + 1;
    o->via.ext.size = l - 1;
    return envelope_scalar(u, o);
}

static inline int envelope_cb_array(envelope_user *u, unsigned int n,
                                    msgpack_object *o)
{
    return envelope_container(u, MSGPACK_OBJECT_ARRAY, n, o);
}

static inline int envelope_cb_map(envelope_user *u, unsigned int n,
                                  msgpack_object *o)
{
    return envelope_container(u, MSGPACK_OBJECT_MAP, n, o);
}

/* Only the root map has items: envelope_container refuses the others. */
static inline int envelope_cb_array_item(envelope_user *u, msgpack_object *c,
                                         msgpack_object o)
{
    (void)u;
    (void)c;
    (void)o;
    return 0;
}

static inline int envelope_cb_map_item(envelope_user *u, msgpack_object *c,
                                       msgpack_object k, msgpack_object v)
{
    (void)u;
    (void)c;
    (void)k;
    (void)v;
    return 0;
}

/* Two levels: the root map, and one more so that a container in it reaches
 * envelope_container, which names the field. */
#undef MSGPACK_EMBED_STACK_SIZE
#define MSGPACK_EMBED_STACK_SIZE 2
#define msgpack_unpack_struct(name) struct envelope##name
#define msgpack_unpack_func(ret, name) static inline ret envelope##name
#define msgpack_unpack_callback(name) envelope_cb##name
#define msgpack_unpack_object msgpack_object
#define msgpack_unpack_user envelope_user
#include <msgpack/unpack_template.h>

shoal_err msg_decode(const uint8_t *p, size_t len, shoal_msg **out,
                     shoal_errinfo *ei)
{
    if (out == NULL || (p == NULL && len > 0))
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "envelope: no bytes or nowhere to put them");
    if (len == 0)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, 0,
                                 "envelope: empty: no msgpack object");
    if (len > MSG_MAX_PAYLOAD + ENVELOPE_MAX_HEAD)
        return shoal_errinfo_set(
            ei, SHOAL_ELIMIT, MSG_MAX_PAYLOAD + ENVELOPE_MAX_HEAD,
            "envelope: %zu bytes: larger than any envelope of a body "
            "within the limit of %u bytes",
            len, MSG_MAX_PAYLOAD);

    struct envelope_context ctx;
    envelope_init(&ctx);
    memset(&ctx.user, 0, sizeof ctx.user);
    ctx.user.base = (const char *)p;
    ctx.user.ei = ei;
    ctx.user.err = SHOAL_OK;
    ctx.user.expect = EXPECT_ROOT;
    size_t off = 0;
    int ret = envelope_execute(&ctx, (const char *)p, len, &off);
    if (ret < 0 && ctx.user.err != SHOAL_OK) {
        if (ei != NULL && ctx.user.at == AT_STOP)
            ei->offset = off;
        if (ei != NULL && ctx.user.at == AFTER_STOP)
            ei->offset = off + 1;
        return ctx.user.err;
    }
    if (ret < 0)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off,
                                 "envelope: byte 0x%02x is not a msgpack type",
                                 p[off]);
    if (ret == 0)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, len,
                                 "envelope: truncated: the input ends inside "
                                 "the map");
    if (off != len)
        return shoal_errinfo_set(ei, SHOAL_EMALFORMED, off,
                                 "envelope: trailing bytes: the map ends at "
                                 "byte %zu of %zu",
                                 off, len);
    for (int field = 0; field < FIELD_COUNT; field++)
        if (!(ctx.user.seen & (1u << field)))
            return shoal_errinfo_set(ei, SHOAL_EMALFORMED, 0,
                                     "envelope: field \"%s\" is missing",
                                     field_names[field]);

    shoal_msg *m = msg_new((msg_kind)ctx.user.kind, ctx.user.from,
                           ctx.user.corr, ctx.user.body, ctx.user.body_len);
    if (m == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "envelope: no memory for a message of %zu "
                                 "bytes",
                                 ctx.user.body_len);
    *out = m;
    return SHOAL_OK;
}
