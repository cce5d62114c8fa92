/* The gossip datagram on the wire (internal to scheduler/).
 *
 * A datagram is one msgpack map with short string keys:
 *
 *   "v"   uint  GOSSIP__VERSION
 *   "t"   uint  gossip__type
 *   "n"   str   sender's name        "a"  str  sender's address
 *   "id"  uint  sender's node id     "i"  uint sender's incarnation
 *   "seq" uint  probe number (ping, ack, ping-req)
 *   "to"  str   ping: the name it is meant for; ping-req: the member to probe
 *   "ta"  str   ping-req: that member's address
 *   "r"   bool  sync: whether the receiver should answer with its own state
 *   "u"   array member records, each a map:
 *         "n" name, "a" address, "id" node id, "s" state (uint
 *         gossip_state), "i" incarnation, "mv" meta version, "m" meta (bin)
 *
 * Every key is required where it applies, may appear once, in any order;
 * keys of no use to a datagram's type are accepted and ignored, unknown keys
 * are refused (a later version changes "v").
 */
#ifndef SHOAL_GOSSIP_WIRE_H
#define SHOAL_GOSSIP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "scheduler.h"

#define GOSSIP__VERSION 1
/* Most records one datagram may carry. */
#define GOSSIP__RECORDS_MAX 1024u
/* An upper bound of a packed datagram head (everything but the records). */
#define GOSSIP__HEAD_BOUND (64u + 2u * GOSSIP_NAME_MAX + 2u * GOSSIP_ADDR_MAX)

typedef enum gossip__type {
    GOSSIP__PING = 1,
    GOSSIP__ACK = 2,
    GOSSIP__PING_REQ = 3,
    GOSSIP__SYNC = 4,
} gossip__type;

/* A member record, decoded: strings copied, meta pointing into the
 * datagram (NULL when empty). */
typedef struct gossip__record {
    char name[GOSSIP_NAME_MAX];
    char addr[GOSSIP_ADDR_MAX];
    uint16_t node_id;
    gossip_state state;
    uint64_t incarnation;
    uint64_t meta_version;
    const uint8_t *meta;
    size_t meta_len;
} gossip__record;

/* A datagram's head. For packing, the fields of its type are used; decoded,
 * absent ones are zero or "". */
typedef struct gossip__datagram {
    gossip__type type;
    char name[GOSSIP_NAME_MAX];
    char addr[GOSSIP_ADDR_MAX];
    uint16_t node_id;
    uint64_t incarnation;
    uint64_t seq;
    char to[GOSSIP_NAME_MAX];
    char to_addr[GOSSIP_ADDR_MAX];
    bool reply;
    size_t nrecords;    /* decoded: how many records "u" holds */
    size_t records_off; /* decoded: where the first one starts */
} gossip__datagram;

/* Reads and checks all of p[0..len), records included, into d; nothing is
 * kept of p but d->records_off. SHOAL_EMALFORMED with ei (naming the field
 * and the byte offset) for anything that is not a well-formed datagram of
 * GOSSIP__VERSION within the bounds of scheduler.h. */
shoal_err gossip__decode(const uint8_t *p, size_t len, gossip__datagram *d,
                         shoal_errinfo *ei);

/* Walks the records of a datagram gossip__decode accepted. */
typedef struct gossip__records {
    const uint8_t *p;
    size_t len;
    size_t off;
    size_t left;
} gossip__records;

void gossip__records_begin(gossip__records *it, const uint8_t *p, size_t len,
                           const gossip__datagram *d);
/* The next record into r; false after the last. */
bool gossip__records_next(gossip__records *it, gossip__record *r);

/* Packs d's head for its type, ending with the header of an array of
 * nrecords records, which the caller packs next. 0, or msgpack-c's error
 * (out of memory). */
int gossip__pack_head(msgpack_packer *pk, const gossip__datagram *d,
                      size_t nrecords);
/* Packs one member record. 0, or msgpack-c's error. */
int gossip__pack_record(msgpack_packer *pk, const gossip_member *m);
/* An upper bound of gossip__pack_record's bytes for m. */
size_t gossip__record_bound(const gossip_member *m);

#endif
