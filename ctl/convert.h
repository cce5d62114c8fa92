/* Conversions between what people type and read (JSON, YAML) and what the
 * control protocol carries (msgpack). docs/shoalctl.md states the mapping:
 *
 *   JSON -> msgpack: objects -> maps with string keys, arrays -> arrays,
 *   strings -> str, integers -> int (within int64), reals -> float64,
 *   true/false/null -> bool/nil, and an object whose only key is "$bin"
 *   with a base64 string -> bin.
 *
 *   msgpack -> JSON: the reverse; bin -> {"$bin": "BASE64"}, ext ->
 *   {"$ext": TYPE, "$data": "BASE64"}, a map key that is not a string ->
 *   its JSON text as the key, floats in their shortest exact decimal
 *   (NaN and infinities, which JSON lacks, -> null), bytes of a str that
 *   are not UTF-8 -> U+FFFD.
 *
 *   msgpack -> YAML (libyaml's emitter): block style; bin -> !!binary;
 *   strings a reader would take for another type are quoted.
 */
#ifndef CTL_CONVERT_H
#define CTL_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <msgpack.h>

#include "shoal_err.h"

/* Parses text (len bytes, any JSON value, not only objects and arrays) and
 * encodes it as one msgpack value. On SHOAL_OK the caller frees *out.
 * Errors: SHOAL_EINVAL with ei->msg such as "invalid JSON at line 1,
 * column 2: string or '}' expected near 'bad'" and ei->offset the byte
 * offset; SHOAL_ENOMEM. */
shoal_err ctl_json_to_msgpack(const char *text, size_t len, uint8_t **out,
                              size_t *out_len, shoal_errinfo *ei);

/* Packs an already parsed JSON value with the rules above. Errors:
 * SHOAL_EINVAL ("$bin" that is not base64, an integer jansson could not
 * hold), SHOAL_ENOMEM. */
shoal_err ctl_json_pack(const json_t *v, msgpack_packer *pk, shoal_errinfo *ei);

/* Writes o as JSON to out: on one line when indent is 0, else pretty with
 * indent spaces per level. No newline at the end. */
void ctl_msgpack_to_json(const msgpack_object *o, int indent, FILE *out);

/* Writes o as one YAML document to out. Errors: SHOAL_ENOMEM or SHOAL_EIO
 * (libyaml's message in ei). */
shoal_err ctl_msgpack_to_yaml(const msgpack_object *o, FILE *out,
                              shoal_errinfo *ei);

/* Standard base64 with padding. ctl_base64_encode writes
 * ctl_base64_len(n) characters and a NUL to out and returns the length. */
size_t ctl_base64_len(size_t n);
size_t ctl_base64_encode(const uint8_t *p, size_t n, char *out);
/* Decodes s (n characters, padding required) into out, which must hold
 * n / 4 * 3 bytes; false when s is not base64. */
bool ctl_base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len);

#endif
