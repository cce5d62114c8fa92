/* Internal interface of the WebAssembly spec-test runner (spec-runner).
 *
 * runner.c reads a wast2json script and executes its commands; value.c
 * parses, compares and prints the values the script names; spectest.c
 * builds the `spectest` host module every script imports from. Nothing here
 * is used outside tests/spec. */
#ifndef SHOAL_SPEC_H
#define SHOAL_SPEC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wasm.h"

/* ---- Bounded text buffers ---------------------------------------------- */

#define SPEC_BUF_SIZE 1024

/* Text built piece by piece for one message. Appending never overflows: text
 * that does not fit is cut and the buffer ends in "...". */
typedef struct spec_buf {
    char text[SPEC_BUF_SIZE];
    size_t len;
} spec_buf;

void spec__buf_clear(spec_buf *b);
void spec__buf_printf(spec_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void spec__buf_vprintf(spec_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends a name of len bytes in double quotes, with control bytes, quotes
 * and backslashes escaped (export names may contain NUL). */
void spec__buf_name(spec_buf *b, const char *name, size_t len);

/* ---- Values ------------------------------------------------------------ */

/* How an expected value is matched. */
typedef enum spec_match {
    SPEC_MATCH_BITS,          /* equal bit patterns */
    SPEC_MATCH_NAN_CANONICAL, /* the canonical NaN, either sign */
    SPEC_MATCH_NAN_ARITHMETIC /* any NaN with the quiet bit set */
} spec_match;

/* A value of a script: an argument or an expected result. bits follows the
 * engine's encoding (i32/f32 in the low 32 bits, references as words with
 * null = 0, externref N as N + 1). */
typedef struct spec_value {
    wasm_valtype type;
    spec_match match;
    uint64_t bits;
} spec_value;

/* Parses {"type": T, "value": V}. NaN patterns are accepted only when
 * expected is true (they describe results, never arguments). On failure
 * returns false and appends the reason to why. */
bool spec__value_parse(const json_t *v, bool expected, spec_value *out,
                       spec_buf *why);
/* Whether the result bits got match the expected value want. */
bool spec__value_matches(const spec_value *want, uint64_t got);
/* Appends "TYPE:VALUE" for an actual value of the given type. */
void spec__buf_value(spec_buf *b, wasm_valtype type, uint64_t bits);
/* Appends "TYPE:VALUE" for an expected value, NaN patterns included. */
void spec__buf_expected(spec_buf *b, const spec_value *v);
/* The text-format name of a value type, e.g. "i32". */

/* ---- The spectest host module ------------------------------------------ */

#define SPEC_SPECTEST_EXPORTS 13

typedef struct spec_host_export {
    const char *name;
    wasm_extern ext;
} spec_host_export;

/* The host instance that scripts import as "spectest". Its objects belong to
 * the store it was made in. */
typedef struct spec_spectest {
    spec_host_export exports[SPEC_SPECTEST_EXPORTS];
    uint32_t count;
} spec_spectest;

/* Makes the spectest functions, globals, table (funcref, 10..20) and memory
 * (1..2 pages) in store s. SHOAL_ENOMEM when the store cannot make one; what
 * was made stays in the store and goes with it. */
shoal_err spec__spectest_make(wasm_store *s, spec_spectest *out);
/* The export called name (len bytes), or kind WASM_EXTERN_NONE. */
wasm_extern spec__spectest_export(const spec_spectest *h, const char *name,
                                  size_t len);

#endif
