/* A fuzz target for the message module: untrusted bytes through
 * msg_validate (as a payload) and msg_decode (as an envelope).
 *
 * Checks, besides the sanitizers':
 * - every answer is OK, EMALFORMED or ELIMIT, with a reason and an offset
 *   inside the input, and the same without an errinfo;
 * - a payload msg_validate takes, msgpack-c's own msgpack_unpack_next reads
 *   as one whole object no more than MSG_MAX_DEPTH deep (or gives up past
 *   its own 32 levels); no truncation of it is taken (for short inputs), and
 *   neither is it with a byte more; it survives msg_new, msg_encode and
 *   msg_decode unchanged;
 * - an envelope msg_decode takes holds a valid body and a known kind,
 *   msgpack-c reads it as the same four fields, and encoding and decoding it
 *   again gives the same message, and then the same bytes;
 * - an EXIT or DOWN notice made from the input (kind, actor, ref and code
 *   from its first 21 bytes, the reason from the rest) is a valid payload
 *   that msgpack-c reads as the documented map.
 *
 * Built with -fsanitize=fuzzer by run-msg.sh; test_msg replays the saved
 * inputs of tests/msg/regressions through this same function. Anything the
 * checks dislike aborts, which the fuzzer reports as a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "shoal_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_msg: check failed: %s\n", what);
        abort();
    }
}

/* The general contract of an answer. */
static void check_answer(shoal_err err, const shoal_errinfo *ei, size_t size)
{
    fuzz_check(err == SHOAL_OK || err == SHOAL_EMALFORMED ||
                   err == SHOAL_ELIMIT,
               "a known answer");
    if (err != SHOAL_OK) {
        fuzz_check(ei->msg[0] != '\0', "a reason");
        fuzz_check(ei->offset <= size, "an offset inside the input");
    }
}

/* The depth of a tree msgpack-c built, without recursion. */
static size_t tree_depth(const msgpack_object *root)
{
    /* A container, and the index of its next element to visit. */
    struct {
        const msgpack_object *o;
        uint32_t next;
    } stack[64];
    size_t top = 0, deepest = 0;
    if (root->type != MSGPACK_OBJECT_ARRAY && root->type != MSGPACK_OBJECT_MAP)
        return 0;
    stack[top].o = root;
    stack[top++].next = 0;
    deepest = 1;
    while (top > 0) {
        const msgpack_object *c = stack[top - 1].o;
        uint32_t n = c->type == MSGPACK_OBJECT_ARRAY ? c->via.array.size
                                                     : 2 * c->via.map.size;
        uint32_t i = stack[top - 1].next++;
        if (i >= n) {
            top--;
            continue;
        }
        const msgpack_object *e = c->type == MSGPACK_OBJECT_ARRAY
                                      ? &c->via.array.ptr[i]
                                  : i % 2 == 0 ? &c->via.map.ptr[i / 2].key
                                               : &c->via.map.ptr[i / 2].val;
        if (e->type == MSGPACK_OBJECT_ARRAY || e->type == MSGPACK_OBJECT_MAP) {
            fuzz_check(top < 64, "msgpack-c's tree within MSG_MAX_DEPTH");
            stack[top].o = e;
            stack[top++].next = 0;
            if (top > deepest)
                deepest = top;
        }
    }
    return deepest;
}

static void same_message(const shoal_msg *a, const shoal_msg *b)
{
    fuzz_check(a->sender == b->sender && a->corr == b->corr &&
                   a->kind == b->kind && a->len == b->len &&
                   memcmp(a->payload, b->payload, a->len) == 0,
               "the same message after a round trip");
}

/* Encodes m, decodes it and checks the result is m; returns the bytes. */
static uint8_t *round_trip(const shoal_msg *m, size_t *len)
{
    uint8_t *wire;
    fuzz_check(msg_encode(m, &wire, len) == SHOAL_OK, "msg_encode");
    shoal_msg *back = NULL;
    shoal_errinfo ei;
    fuzz_check(msg_decode(wire, *len, &back, &ei) == SHOAL_OK,
               "msg_decode of msg_encode");
    same_message(m, back);
    msg_free(back);
    return wire;
}

static void fuzz_payload(const uint8_t *data, size_t size)
{
    shoal_errinfo ei;
    shoal_err err = msg_validate(data, size, &ei);
    check_answer(err, &ei, size);
    fuzz_check(msg_validate(data, size, NULL) == err, "the same without ei");
    if (err != SHOAL_OK)
        return;

    /* Only a valid input goes to msgpack-c's own reader, which allocates
     * whatever the headers announce. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int ret = msgpack_unpack_next(&u, (const char *)data, size, &off);
    fuzz_check(ret == MSGPACK_UNPACK_SUCCESS ||
                   ret == MSGPACK_UNPACK_NOMEM_ERROR,
               "msgpack-c reads what msg_validate takes");
    if (ret == MSGPACK_UNPACK_SUCCESS) {
        fuzz_check(off == size, "msgpack-c reads all of it");
        fuzz_check(tree_depth(&u.data) <= MSG_MAX_DEPTH, "depth");
    }
    msgpack_unpacked_destroy(&u);

    if (size <= 256)
        for (size_t cut = 0; cut < size; cut++)
            fuzz_check(msg_validate(data, cut, NULL) == SHOAL_EMALFORMED,
                       "a truncation is refused");
    if (size < MSG_MAX_PAYLOAD) {
        uint8_t *more = malloc(size + 1);
        fuzz_check(more != NULL, "malloc");
        memcpy(more, data, size);
        more[size] = data[0];
        err = msg_validate(more, size + 1, &ei);
        fuzz_check(err == SHOAL_EMALFORMED && ei.offset == size,
                   "a byte more is refused where it is");
        free(more);
    }

    shoal_msg *m =
        msg_new((msg_kind)(size % 6), size, ~(uint64_t)size, data, size);
    fuzz_check(m != NULL, "msg_new");
    size_t len;
    free(round_trip(m, &len));
    msg_free(m);
}

static void fuzz_envelope(const uint8_t *data, size_t size)
{
    shoal_errinfo ei;
    shoal_msg *m = NULL;
    shoal_err err = msg_decode(data, size, &m, &ei);
    check_answer(err, &ei, size);
    shoal_msg *again = NULL;
    fuzz_check(msg_decode(data, size, &again, NULL) == err,
               "the same without ei");
    if (err != SHOAL_OK) {
        fuzz_check(m == NULL && again == NULL, "no message on failure");
        return;
    }
    fuzz_check(m->kind <= MSG_INIT, "a known kind");
    fuzz_check(msg_validate(m->payload, m->len, NULL) == SHOAL_OK,
               "a valid body");
    same_message(m, again);
    msg_free(again);

    /* msgpack-c sees the same fields. The envelope is one level deep. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    fuzz_check(msgpack_unpack_next(&u, (const char *)data, size, &off) ==
                       MSGPACK_UNPACK_SUCCESS &&
                   off == size,
               "msgpack-c reads the envelope");
    const msgpack_object *o = &u.data;
    fuzz_check(o->type == MSGPACK_OBJECT_MAP && o->via.map.size == 4,
               "a map of four");
    for (uint32_t i = 0; i < 4; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        fuzz_check(k->type == MSGPACK_OBJECT_STR && k->via.str.size == 4,
                   "a key of four letters");
        if (memcmp(k->via.str.ptr, "body", 4) == 0) {
            fuzz_check(v->type == MSGPACK_OBJECT_BIN &&
                           v->via.bin.size == m->len &&
                           memcmp(v->via.bin.ptr, m->payload, m->len) == 0,
                       "the body");
            continue;
        }
        fuzz_check(v->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "a number");
        uint64_t want = memcmp(k->via.str.ptr, "from", 4) == 0   ? m->sender
                        : memcmp(k->via.str.ptr, "corr", 4) == 0 ? m->corr
                                                                 : m->kind;
        fuzz_check(v->via.u64 == want, "the same number");
    }
    msgpack_unpacked_destroy(&u);

    /* Encoding is canonical: a second round trip gives the same bytes. */
    size_t len1, len2;
    uint8_t *wire1 = round_trip(m, &len1);
    shoal_msg *m1 = NULL;
    fuzz_check(msg_decode(wire1, len1, &m1, NULL) == SHOAL_OK, "decode");
    uint8_t *wire2 = round_trip(m1, &len2);
    fuzz_check(len1 == len2 && memcmp(wire1, wire2, len1) == 0,
               "the same bytes");
    fuzz_check(len1 <= size, "canonical is shortest");
    free(wire1);
    free(wire2);
    msg_free(m1);
    msg_free(m);
}

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void fuzz_notice(const uint8_t *data, size_t size)
{
    if (size < 21)
        return;
    msg_kind kind = data[0] & 1 ? MSG_DOWN : MSG_EXIT;
    uint64_t actor = load_u64(data + 1), ref = load_u64(data + 9);
    int32_t code = (int32_t)(load_u64(data + 13) & 0xffffffff);
    char *reason = malloc(size - 21 + 1);
    fuzz_check(reason != NULL, "malloc");
    memcpy(reason, data + 21, size - 21);
    reason[size - 21] = '\0';
    size_t reason_len = strlen(reason);

    shoal_msg *m = msg_new_notice(kind, actor, ref, reason, code);
    fuzz_check(m != NULL && m->kind == kind, "a notice");
    fuzz_check(msg_validate(m->payload, m->len, NULL) == SHOAL_OK,
               "a valid notice");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    fuzz_check(msgpack_unpack_next(&u, (const char *)m->payload, m->len,
                                   &off) == MSGPACK_UNPACK_SUCCESS,
               "msgpack-c reads the notice");
    const msgpack_object *o = &u.data;
    fuzz_check(o->type == MSGPACK_OBJECT_MAP &&
                   o->via.map.size == (kind == MSG_DOWN ? 4u : 3u),
               "a map of three or four");
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        fuzz_check(k->type == MSGPACK_OBJECT_STR, "a key");
        if (k->via.str.size == 6) { /* reason */
            fuzz_check(v->type == MSGPACK_OBJECT_STR &&
                           v->via.str.size == reason_len &&
                           memcmp(v->via.str.ptr, reason, reason_len) == 0,
                       "the reason");
        } else if (k->via.str.size == 4) { /* code */
            fuzz_check(v->via.i64 == code, "the code");
        } else {
            fuzz_check(v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                           v->via.u64 == (k->via.str.size == 5 ? actor : ref),
                       "the actor or the ref");
        }
    }
    msgpack_unpacked_destroy(&u);
    msg_free(m);
    free(reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_payload(data, size);
    fuzz_envelope(data, size);
    fuzz_notice(data, size);
    return 0;
}
