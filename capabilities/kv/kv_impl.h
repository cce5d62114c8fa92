/* Internals of the kv provider shared between its files: the msgpack reader
 * and canonical encoder of codec.c, used by kv.c. */
#ifndef SHOAL_KV_IMPL_H
#define SHOAL_KV_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

/* The deepest nesting kv__mp_check can follow (KV_MAX_DEPTH). */
#define KV__MP_MAX_DEPTH 64

typedef enum kv__mp_kind {
    KV__MP_NIL,
    KV__MP_BOOL,
    KV__MP_INT,
    KV__MP_F32,
    KV__MP_F64,
    KV__MP_STR,
    KV__MP_BIN,
    KV__MP_ARRAY,
    KV__MP_MAP,
    KV__MP_EXT,
} kv__mp_kind;

/* The header of one msgpack item: its tag and the length, count or value
 * fields after it. The body (a string's bytes, a float's bits, an
 * extension's data) follows the header and is body bytes long. */
typedef struct kv__mp_head {
    kv__mp_kind kind;
    size_t size;     /* bytes of the header */
    uint64_t body;   /* bytes of the body after the header */
    uint64_t count;  /* ARRAY: elements; MAP: pairs */
    bool neg;        /* INT: negative, the value is in i; otherwise in u */
    uint64_t u;      /* INT when !neg; BOOL: 0 or 1 */
    int64_t i;       /* INT when neg */
    int8_t ext_type; /* EXT */
} kv__mp_head;

/* Reads the header at p[0..len). False when it is cut short or the tag is
 * 0xc1, which msgpack never uses; the body is not checked. */
bool kv__mp_head_read(const uint8_t *p, size_t len, kv__mp_head *h);

/* Checks that p[0..len) starts with one whole msgpack object nested at most
 * max_depth deep (a scalar is 0 deep, [[]] is 2) and sets *end to the byte
 * after it. SHOAL_EMALFORMED (cut short, or a 0xc1 tag) or SHOAL_ELIMIT
 * (too deep), with the byte offset and reason in ei. Allocates nothing and
 * takes time linear in the bytes it reads. */
shoal_err kv__mp_check(const uint8_t *p, size_t len, unsigned max_depth,
                       size_t *end, shoal_errinfo *ei);

/* The size of the object at p[0..len), which kv__mp_check accepted. */
size_t kv__mp_skip(const uint8_t *p, size_t len);

/* Writes the canonical encoding of the object p[0..len), which
 * kv__mp_check accepted as exactly len bytes, to out[0..cap): every header
 * (integers, and the lengths of strings, binaries, extensions, arrays and
 * maps) in its shortest form, a non-negative integer in the unsigned forms;
 * floats keep their width and bits, maps their order. The result is never
 * longer than len. Sets *out_len and returns true, or returns false when
 * it would not fit in cap. */
bool kv__mp_canon(const uint8_t *p, size_t len, uint8_t *out, size_t cap,
                  size_t *out_len);

/* The canonical encoding of v in out; returns its size (1..9). */
size_t kv__mp_put_int(uint8_t out[9], int64_t v);

/* The name of a kind for messages: "an integer", "a string", ... */
const char *kv__mp_kind_name(kv__mp_kind kind);

#endif
