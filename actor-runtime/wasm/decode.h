/* Private to actor-runtime/wasm: a bounds-checked reader over module bytes,
 * used by decode.c and compile.c. Every read checks the end; on error the
 * reader records the first error and its offset, and later reads fail. */
#ifndef SHOAL_WASM_DECODE_H
#define SHOAL_WASM_DECODE_H

#include "wasm_internal.h"

typedef struct reader {
    const uint8_t *p, *end, *base;
    shoal_errinfo *ei;
    shoal_err err;
} reader;

static inline size_t rd_offset(const reader *r)
{
    return (size_t)(r->p - r->base);
}

shoal_err wasm__rd_fail(reader *r, shoal_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline bool rd_u8(reader *r, uint8_t *out)
{
    if (r->err)
        return false;
    if (r->p >= r->end) {
        wasm__rd_fail(r, SHOAL_EMALFORMED, "unexpected end");
        return false;
    }
    *out = *r->p++;
    return true;
}

bool wasm__rd_u32(reader *r, uint32_t *out);
bool wasm__rd_s32(reader *r, int32_t *out);
bool wasm__rd_s33(reader *r, int64_t *out);
bool wasm__rd_s64(reader *r, int64_t *out);
bool wasm__rd_bytes(reader *r, size_t n, const uint8_t **out);
bool wasm__rd_valtype(reader *r, uint8_t *out);
bool wasm__rd_reftype(reader *r, uint8_t *out);

#endif
