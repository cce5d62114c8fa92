/* Values of wast2json scripts: parsing, matching and printing.
 *
 * Scripts write every number as the decimal string of its unsigned bit
 * pattern, so values are parsed with strtoull and never pass through a
 * double; floats compare by bits, which tells -0 from +0 and keeps NaN
 * payloads, except for the two NaN patterns results may be matched against.
 */
#include "spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F32_SIGN 0x80000000u
#define F32_CANONICAL_NAN 0x7fc00000u
#define F64_SIGN 0x8000000000000000u
#define F64_CANONICAL_NAN 0x7ff8000000000000u

void spec__buf_clear(spec_buf *b)
{
    b->len = 0;
    b->text[0] = '\0';
}

void spec__buf_vprintf(spec_buf *b, const char *fmt, va_list ap)
{
    size_t room = sizeof b->text - b->len;
    if (room <= 1)
        return;
    int n = vsnprintf(b->text + b->len, room, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n < room) {
        b->len += (size_t)n;
        return;
    }
    /* Cut: keep the buffer full and show that something is missing. */
    b->len = sizeof b->text - 1;
    memcpy(b->text + b->len - 3, "...", 3);
    b->text[b->len] = '\0';
}

void spec__buf_printf(spec_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spec__buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void spec__buf_name(spec_buf *b, const char *name, size_t len)
{
    spec__buf_printf(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            spec__buf_printf(b, "\\x%02x", c);
        else if (c == '"' || c == '\\')
            spec__buf_printf(b, "\\%c", c);
        else
            spec__buf_printf(b, "%c", c);
    }
    spec__buf_printf(b, "\"");
}

static bool parse_valtype(const char *s, wasm_valtype *out)
{
    static const struct {
        const char *name;
        wasm_valtype type;
    } types[] = {
        {"i32", WASM_I32},         {"i64", WASM_I64},
        {"f32", WASM_F32},         {"f64", WASM_F64},
        {"funcref", WASM_FUNCREF}, {"externref", WASM_EXTERNREF},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(s, types[i].name) == 0) {
            *out = types[i].type;
            return true;
        }
    }
    return false;
}

/* Parses a decimal unsigned number that fills the whole string. */
static bool parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return false; /* strtoull would accept a sign or blanks */
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || n > max)
        return false;
    *out = n;
    return true;
}

bool spec__value_parse(const json_t *v, bool expected, spec_value *out,
                       spec_buf *why)
{
    const char *type = json_string_value(json_object_get(v, "type"));
    const char *text = json_string_value(json_object_get(v, "value"));
    if (type == NULL) {
        spec__buf_printf(why, "value without a type");
        return false;
    }
    if (!parse_valtype(type, &out->type)) {
        spec__buf_printf(why, "unsupported value type %s", type);
        return false;
    }
    if (text == NULL) {
        spec__buf_printf(why, "%s value without a value", type);
        return false;
    }
    out->match = SPEC_MATCH_BITS;
    out->bits = 0;

    bool is_float = out->type == WASM_F32 || out->type == WASM_F64;
    if (is_float && expected && strcmp(text, "nan:canonical") == 0) {
        out->match = SPEC_MATCH_NAN_CANONICAL;
        return true;
    }
    if (is_float && expected && strcmp(text, "nan:arithmetic") == 0) {
        out->match = SPEC_MATCH_NAN_ARITHMETIC;
        return true;
    }

    uint64_t n = 0;
    switch (out->type) {
    case WASM_I32:
    case WASM_F32:
        if (!parse_decimal(text, UINT32_MAX, &n))
            goto fail_bad_value;
        out->bits = n;
        return true;
    case WASM_I64:
    case WASM_F64:
        if (!parse_decimal(text, UINT64_MAX, &n))
            goto fail_bad_value;
        out->bits = n;
        return true;
    case WASM_FUNCREF:
        /* A non-null funcref has no textual form in a script. */
        if (strcmp(text, "null") != 0)
            goto fail_bad_value;
        return true;
    case WASM_EXTERNREF:
        if (strcmp(text, "null") == 0)
            return true;
        /* Host reference N becomes the word N + 1, since 0 is null. */
        if (!parse_decimal(text, UINT64_MAX - 1, &n))
            goto fail_bad_value;
        out->bits = n + 1;
        return true;
    }

fail_bad_value:
    spec__buf_printf(why, "bad %s value \"%s\"", type, text);
    return false;
}

bool spec__value_matches(const spec_value *want, uint64_t got)
{
    bool narrow = want->type == WASM_I32 || want->type == WASM_F32;
    /* Only the low 32 bits of an i32 or f32 carry the value. */
    if (narrow)
        got &= UINT32_MAX;

    switch (want->match) {
    case SPEC_MATCH_BITS:
        return got == want->bits;
    case SPEC_MATCH_NAN_CANONICAL:
        if (narrow)
            return (got & ~(uint64_t)F32_SIGN) == F32_CANONICAL_NAN;
        return (got & ~F64_SIGN) == F64_CANONICAL_NAN;
    case SPEC_MATCH_NAN_ARITHMETIC:
        if (narrow)
            return (got & F32_CANONICAL_NAN) == F32_CANONICAL_NAN;
        return (got & F64_CANONICAL_NAN) == F64_CANONICAL_NAN;
    }
    return false;
}

static double f32_value(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static double f64_value(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

void spec__buf_value(spec_buf *b, wasm_valtype type, uint64_t bits)
{
    const char *name = wasm_valtype_name(type);
    uint32_t low = (uint32_t)bits;
    switch (type) {
    case WASM_I32:
        if (low > INT32_MAX)
            spec__buf_printf(b, "i32:%" PRIu32 " (%" PRId32 ")", low,
                             (int32_t)low);
        else
            spec__buf_printf(b, "i32:%" PRIu32, low);
        return;
    case WASM_I64:
        if (bits > INT64_MAX)
            spec__buf_printf(b, "i64:%" PRIu64 " (%" PRId64 ")", bits,
                             (int64_t)bits);
        else
            spec__buf_printf(b, "i64:%" PRIu64, bits);
        return;
    case WASM_F32:
        spec__buf_printf(b, "f32:0x%08" PRIx32 " (%.9g)", low, f32_value(low));
        return;
    case WASM_F64:
        spec__buf_printf(b, "f64:0x%016" PRIx64 " (%.17g)", bits,
                         f64_value(bits));
        return;
    case WASM_FUNCREF:
        if (bits == 0)
            spec__buf_printf(b, "funcref:null");
        else
            spec__buf_printf(b, "funcref:0x%" PRIx64, bits);
        return;
    case WASM_EXTERNREF:
        /* Print the script's N for the words this runner made. */
        if (bits == 0)
            spec__buf_printf(b, "externref:null");
        else
            spec__buf_printf(b, "externref:%" PRIu64, bits - 1);
        return;
    }
    spec__buf_printf(b, "%s:0x%" PRIx64, name, bits);
}

void spec__buf_expected(spec_buf *b, const spec_value *v)
{
    const char *name = wasm_valtype_name(v->type);
    switch (v->match) {
    case SPEC_MATCH_NAN_CANONICAL:
        spec__buf_printf(b, "%s:nan:canonical", name);
        return;
    case SPEC_MATCH_NAN_ARITHMETIC:
        spec__buf_printf(b, "%s:nan:arithmetic", name);
        return;
    case SPEC_MATCH_BITS:
        spec__buf_value(b, v->type, v->bits);
        return;
    }
}
