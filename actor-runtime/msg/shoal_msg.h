/* Messages between actors, the runtime and (later) nodes: a payload of
 * exactly one msgpack object inside an envelope (sender, correlation id,
 * kind). Payloads are checked with msgpack-c; nothing malformed gets in.
 *
 * Threads: a message belongs to one thread at a time; the functions keep no
 * shared state.
 */
#ifndef SHOAL_MSG_H
#define SHOAL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

/* Largest payload, and deepest nesting of arrays and maps, accepted. */
#define MSG_MAX_PAYLOAD (1u << 20)
#define MSG_MAX_DEPTH 64

/* The kinds of docs/abi.md. */
typedef enum msg_kind {
    MSG_CAST = 0,
    MSG_REQUEST = 1,
    MSG_REPLY = 2,
    MSG_EXIT = 3,
    MSG_DOWN = 4,
    MSG_INIT = 5,
} msg_kind;

typedef struct shoal_msg {
    struct shoal_msg *next; /* free for the owner's queue */
    uint64_t sender;        /* actor id, 0 for the runtime/embedder */
    uint64_t corr;          /* correlation id of a request and its reply */
    uint8_t kind;           /* msg_kind */
    uint8_t size_class;     /* of its buffer (msg_pool); 0: none, exact */
    uint32_t len;
    uint8_t payload[];
} shoal_msg;

/* Checks that p[0..len) is exactly one msgpack object, at most
 * MSG_MAX_PAYLOAD bytes and MSG_MAX_DEPTH deep. SHOAL_EMALFORMED or
 * SHOAL_ELIMIT with ei (byte offset and reason) otherwise. Depth counts
 * nested arrays and maps: a scalar is 0 deep, [[]] is 2. Allocates nothing.
 * SHOAL_EINVAL when p is NULL and len is not 0. */
shoal_err msg_validate(const uint8_t *p, size_t len, shoal_errinfo *ei);
/* msg_validate with another size limit, for bytes that are not actor
 * messages (the control API's requests, which carry modules). Run it
 * before msgpack-c's unpacker, which allocates what headers claim. */
shoal_err msg_validate_max(const uint8_t *p, size_t len, size_t max,
                           shoal_errinfo *ei);

/* A new message with a copy of the payload (not validated here); NULL when
 * out of memory, or when kind is not a msg_kind, len is over MSG_MAX_PAYLOAD
 * or payload is NULL with len not 0. The caller owns it and frees it with
 * msg_free (which takes NULL too). */
shoal_msg *msg_new(msg_kind kind, uint64_t sender, uint64_t corr,
                   const uint8_t *payload, size_t len);
void msg_free(shoal_msg *m);

/* Message buffers come in size classes: a message whose header and payload
 * fit in MSG_CLASS_MAX_BYTES gets a buffer of 40, 56, 88, 120, 184, 248,
 * 376 or 504 bytes (its size_class, 1 to MSG_POOL_CLASSES), a bigger one
 * an exact buffer (size_class 0). The sizes are those malloc serves without
 * waste (16n + 8 bytes), so that a mailbox of small messages costs what it
 * did with exact buffers. Every buffer is malloc'ed, so msg_free frees any
 * of them and a pool takes any classed buffer, wherever it was made. */
#define MSG_POOL_CLASSES 8
#define MSG_CLASS_MAX_BYTES 504u

/* A cache of free message buffers, one list per size class, so that a
 * thread that makes and frees many messages (a worker of the actor runtime)
 * reuses buffers instead of calling malloc and free for each. A pool
 * belongs to one thread at a time and has no lock. */
typedef struct msg_pool msg_pool;

/* A pool keeping at most max_per_class free buffers of each class; NULL
 * when out of memory. */
msg_pool *msg_pool_new(uint32_t max_per_class);
/* Frees the pool and the buffers it keeps (NULL: nothing). Messages made
 * from it and still in use stay valid: they are ordinary messages. */
void msg_pool_delete(msg_pool *p);
/* As msg_new, with a buffer from p when it has one of the right class.
 * p may be NULL (then it is msg_new). The caller owns the message and
 * frees it with msg_pool_free (into any pool) or msg_free. */
shoal_msg *msg_pool_new_msg(msg_pool *p, msg_kind kind, uint64_t sender,
                            uint64_t corr, const uint8_t *payload, size_t len);
/* Gives m's buffer to p to keep, or frees it when p is NULL, p is full for
 * its class or m has an exact buffer. m may be NULL. */
void msg_pool_free(msg_pool *p, shoal_msg *m);
/* Free buffers p keeps, over all classes (for tests and statistics). */
uint32_t msg_pool_size(const msg_pool *p);

/* The payload of an EXIT or DOWN notice, docs/abi.md: a map {"actor": id,
 * "reason": reason, "code": code} plus "ref": ref for DOWN (ref 0: none),
 * in the order of docs/abi.md; sender and corr are 0. A NULL reason is "",
 * and one too long for MSG_MAX_PAYLOAD is cut between UTF-8 characters.
 * NULL when out of memory or kind is neither MSG_EXIT nor MSG_DOWN. */
shoal_msg *msg_new_notice(msg_kind kind, uint64_t actor, uint64_t ref,
                          const char *reason, int32_t code);

/* The envelope on the wire: a msgpack map {"from": u64, "corr": u64,
 * "kind": uint, "body": bin}. On SHOAL_OK *out is malloc'ed and the caller
 * frees it. The payload goes as it is (msg_decode checks it). SHOAL_EINVAL
 * for a NULL argument or an unknown kind, SHOAL_ELIMIT for a payload over
 * MSG_MAX_PAYLOAD, SHOAL_ENOMEM. */
shoal_err msg_encode(const shoal_msg *m, uint8_t **out, size_t *len);
/* Reads an envelope; the body must pass msg_validate. On SHOAL_OK *out is
 * the caller's. SHOAL_EMALFORMED with ei saying what and where: missing,
 * repeated or unknown fields, a field of the wrong type, a kind over
 * MSG_INIT, a body msg_validate refuses. SHOAL_ELIMIT for a body too big
 * or too deep (as msg_validate), or an envelope bigger than any holding a
 * body of MSG_MAX_PAYLOAD bytes; SHOAL_ENOMEM; SHOAL_EINVAL for a NULL out,
 * or a NULL p with len not 0. On failure *out is left alone. Encodings wider
 * than msg_encode's, and any order of the fields, are accepted. */
shoal_err msg_decode(const uint8_t *p, size_t len, shoal_msg **out,
                     shoal_errinfo *ei);

#endif
