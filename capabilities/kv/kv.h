/* The core of the shoal:kv capability provider: a key-value store on SQLite
 * that answers the contract's msgpack requests (docs/provider-kv.md).
 *
 * A request is one msgpack map ({"op": "get", "key": "k"}, ...) for one
 * bucket; the provider names the bucket from the link's configuration, so
 * an actor reaches only the buckets it is linked to. Every request gets one
 * reply message, {"ok": true, ...} or {"ok": false, "error": NAME,
 * "message": TEXT}, also a request that is not msgpack at all.
 *
 * Durability: a write whose success reply has been produced is committed
 * with SQLite in WAL mode and synchronous=FULL, so it survives a kill -9 of
 * the process (and, as far as the disk honours fsync, a power loss).
 *
 * Threads: a kv_store is used by one thread at a time (the provider's
 * thread); the caller serialises calls. Nothing is global, so several
 * stores may live in one process.
 */
#ifndef SHOAL_KV_H
#define SHOAL_KV_H

#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

/* Limits of the contract. Sizes are in bytes. */
#define KV_MAX_BUCKET 255       /* a bucket's name: 1..255 bytes */
#define KV_MAX_KEY 1024         /* a key: 1..1024 bytes */
#define KV_MAX_VALUE (1u << 20) /* a value's canonical encoding */
#define KV_MAX_DEPTH 64         /* nesting of a request, as MSG_MAX_DEPTH */
#define KV_LIST_DEFAULT 100     /* entries of a list without "limit" */
#define KV_LIST_MAX 1000        /* largest "limit" of a list */
/* The largest list reply (a message's payload, MSG_MAX_PAYLOAD), unless a
 * single entry is larger: of it, KV_LIST_FRAME bytes are kept for the
 * reply's own fields and "next", the rest holds entries. */
#define KV_LIST_MAX_BYTES (1u << 20)
#define KV_LIST_FRAME (KV_MAX_KEY + 64)

/* The version of the database schema kept in PRAGMA user_version. */
#define KV_SCHEMA_VERSION 1

typedef struct kv_store kv_store;

/* Opens the database at path, creating it and its schema when missing, in
 * WAL mode with synchronous=FULL. ":memory:" gives a store that lives only
 * as long as the kv_store (for tests and fuzzing). On SHOAL_OK the caller
 * owns *out and frees it with kv_close. Errors: SHOAL_EIO with path and
 * SQLite's message in ei (also for a database whose schema is newer than
 * this code), SHOAL_ENOMEM, SHOAL_EINVAL for a NULL path or out. */
shoal_err kv_open(const char *path, kv_store **out, shoal_errinfo *ei);

/* Closes the database and frees kv; NULL is allowed. */
void kv_close(kv_store *kv);

/* Answers one request for bucket (a NUL-terminated name of 1..255 bytes):
 * req[0..len) should hold one msgpack map of the contract. *reply receives
 * a malloc'ed msgpack reply, which the caller frees, and *reply_len its
 * size; the reply is an error reply for a malformed request or a bad
 * bucket. *reply is NULL (and *reply_len 0) only when memory ran out even
 * for an error reply. A request answered with an error other than EIO, or
 * with no reply at all, changed nothing; an EIO answer to a write means
 * the store could not confirm it. req is only read during the call. */
void kv_handle(kv_store *kv, const char *bucket, const uint8_t *req, size_t len,
               uint8_t **reply, size_t *reply_len);

/* Answers n requests, as kv_handle would each, in one transaction (one
 * fsync): request i is reqs[i][0..lens[i]) for buckets[i], and its reply
 * goes to replies[i] and reply_lens[i] with kv_handle's rules. Requests run
 * in order and see the writes of earlier ones; each runs in its own
 * savepoint, so a failed request leaves no trace and does not change the
 * others' replies. Should the transaction itself fail (a commit refused by
 * the disk), the requests that had succeeded in it are answered with EIO
 * instead. */
void kv_handle_batch(kv_store *kv, size_t n, const char *const *buckets,
                     const uint8_t *const *reqs, const size_t *lens,
                     uint8_t **replies, size_t *reply_lens);

#endif
