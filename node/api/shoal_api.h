/* The control protocol between shoalctl and shoald (docs/control-api.md):
 * constants, and small helpers to read and write its msgpack maps. Both
 * sides link this; it has no state.
 *
 * Reading: api_parse decodes one message into an api_msg, which owns the
 * objects reachable from it until api_msg_free (strings and bins point
 * into the buffer it was decoded from). Writing: an api_writer packs
 * into a growable buffer with msgpack-c's packer. */
#ifndef SHOAL_API_H
#define SHOAL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "shoal_err.h"

#define SHOAL_API_VERSION 1
#define SHOAL_API_PORT 7401
#define SHOAL_API_DEFAULT_URL "tcp://127.0.0.1:7401"
/* Name of the ipc socket in a node's data directory. */
#define SHOAL_API_IPC_NAME "control.sock"
/* Largest request or reply (a module upload is one request). */
#define SHOAL_API_MAX_MSG (64u << 20)

typedef struct api_msg {
    msgpack_unpacked u;
    const msgpack_object *root; /* a map */
} api_msg;

/* Decodes buf, which must hold exactly one msgpack map. On SHOAL_OK the
 * caller frees *out with api_msg_free. Strings and bins of the message
 * point into buf, which must outlive *out. Errors: SHOAL_EMALFORMED (ei
 * says what), SHOAL_ENOMEM. */
shoal_err api_parse(const void *buf, size_t len, api_msg *out,
                    shoal_errinfo *ei);
void api_msg_free(api_msg *m);

/* The value of key in map, or NULL when map is not a map or lacks key. */
const msgpack_object *api_get(const msgpack_object *map, const char *key);
/* Typed lookups: false when absent or of another type. Strings are not
 * NUL-terminated and point into the message. */
bool api_get_str(const msgpack_object *map, const char *key, const char **s,
                 size_t *len);
bool api_get_int(const msgpack_object *map, const char *key, int64_t *v);
bool api_get_bool(const msgpack_object *map, const char *key, bool *v);
bool api_get_bin(const msgpack_object *map, const char *key, const uint8_t **p,
                 size_t *len);
/* Whether o is the string s. */
bool api_str_eq(const msgpack_object *o, const char *s);
/* A NUL-terminated heap copy of the string o (the caller frees it), or
 * NULL when o is not a string, holds a NUL byte, or memory ran out. */
char *api_strdup(const msgpack_object *o);

typedef struct api_writer {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} api_writer;

void api_writer_init(api_writer *w);
void api_writer_free(api_writer *w);
/* Hands the packed bytes to the caller (free() them) and empties w. */
uint8_t *api_writer_take(api_writer *w, size_t *len);

void api_pack_str(msgpack_packer *pk, const char *s);
void api_pack_strn(msgpack_packer *pk, const char *s, size_t len);
void api_pack_kv_str(msgpack_packer *pk, const char *key, const char *value);
void api_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value);
void api_pack_kv_bool(msgpack_packer *pk, const char *key, bool value);
void api_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p,
                     size_t len);

/* Starts a request map of n_args + 2 entries: "v" and "op", then the
 * caller packs n_args key-value pairs. */
void api_pack_request(msgpack_packer *pk, const char *op, uint32_t n_args);
/* Starts a success reply map of n_fields + 2 entries ("v", "ok": true). */
void api_pack_ok(msgpack_packer *pk, uint32_t n_fields);
/* Packs a whole error reply: {"v", "ok": false, "error": NAME, "message"}.
 * NAME is shoal_err_name(err), e.g. "ENOTFOUND". */
void api_pack_error(msgpack_packer *pk, shoal_err err, const char *message);

/* Reads a reply: SHOAL_OK when "ok" is true; otherwise the error its
 * "error" field names (SHOAL_EINVAL when unknown) with its "message" in
 * ei. */
shoal_err api_reply_status(const msgpack_object *reply, shoal_errinfo *ei);
/* The error named name ("ENOTFOUND"), or SHOAL_ERR_COUNT if none is. */
shoal_err api_err_from_name(const char *name, size_t len);

/* The sha256 of bytes as 64 lower-case hex digits and a NUL: the content
 * address of a module. */
void api_sha256_hex(const uint8_t *bytes, size_t len, char out[65]);

#endif
