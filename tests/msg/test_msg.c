/* Tests of msg.c: payload validation (every msgpack type, the depth and
 * size limits, trailing bytes, every truncation), messages and exit
 * notices, the envelope (round trips and every decoding error), allocation
 * failures, and the inputs the fuzzer once found interesting.
 *
 * Expected encodings are checked with msgpack-c's own msgpack_unpack_next,
 * independently of msg.c.
 *
 * This executable is linked with -Wl,--wrap=malloc,calloc,realloc,free so
 * that it can watch, count and fail the allocations of msg.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <msgpack.h>

#include "shoal_msg.h"
#include "failalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* ---- helpers ---- */

/* A string literal as bytes and a length. */
#define BYTES(s) (const uint8_t *)(s), sizeof(s) - 1

typedef struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packed;

static void packed_init(packed *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static const uint8_t *packed_data(const packed *b)
{
    return (const uint8_t *)b->sb.data;
}

/* Validates and checks the general contract: a known result, and on failure
 * a reason and an offset inside the input. The same with no errinfo. */
static shoal_err validate(const uint8_t *p, size_t len, shoal_errinfo *ei)
{
    memset(ei, 0, sizeof *ei);
    ei->offset = 12345678;
    shoal_err err = msg_validate(p, len, ei);
    assert_int_equal(msg_validate(p, len, NULL), err);
    if (err != SHOAL_OK) {
        assert_true(err == SHOAL_EMALFORMED || err == SHOAL_ELIMIT);
        assert_true(ei->msg[0] != '\0');
        assert_true(ei->offset <= len);
    }
    return err;
}

/* Checks that msg_validate takes p[0..len), allocating nothing, that
 * msgpack-c reads the same bytes as one whole object, and that every
 * truncation of them and the bytes with one more after are refused. */
static void check_valid(const uint8_t *p, size_t len)
{
    shoal_errinfo ei;
    alloc_watch(0);
    shoal_err err = validate(p, len, &ei);
    alloc_unwatch();
    if (err != SHOAL_OK)
        fail_msg("refused: %s at %zu", ei.msg, ei.offset);
    assert_int_equal(alloc.count, 0);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int ret = msgpack_unpack_next(&u, (const char *)p, len, &off);
    /* msgpack-c's own parser stops at 32 levels; ours goes on. */
    if (ret != MSGPACK_UNPACK_NOMEM_ERROR) {
        assert_int_equal(ret, MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(off, len);
    }
    msgpack_unpacked_destroy(&u);

    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(validate(p, cut, &ei), SHOAL_EMALFORMED);
        if (cut == 0) {
            assert_string_equal(ei.msg, "empty: no msgpack object");
        } else if (strncmp(ei.msg, "truncated: ", 11) != 0) {
            fail_msg("cut at %zu of %zu: %s", cut, len, ei.msg);
        }
    }

    uint8_t *more = malloc(len + 1);
    assert_non_null(more);
    memcpy(more, p, len);
    more[len] = 0xc0;
    assert_int_equal(validate(more, len + 1, &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, len);
    char want[128];
    snprintf(want, sizeof want,
             "trailing bytes: the object ends at byte %zu of %zu", len,
             len + 1);
    assert_string_equal(ei.msg, want);
    free(more);
}

/* ---- payloads ---- */

/* Packs sample number i of every msgpack type and format; false past the
 * last. */
static bool pack_sample(msgpack_packer *pk, int i)
{
    static const uint8_t blob[70000];
    switch (i) {
    case 0:
        return msgpack_pack_nil(pk) == 0;
    case 1:
        return msgpack_pack_true(pk) == 0;
    case 2:
        return msgpack_pack_false(pk) == 0;
    case 3: /* positive fixint */
        return msgpack_pack_uint64(pk, 0) == 0;
    case 4:
        return msgpack_pack_uint64(pk, 127) == 0;
    case 5: /* uint 8, 16, 32, 64 */
        return msgpack_pack_uint64(pk, 255) == 0;
    case 6:
        return msgpack_pack_uint64(pk, 65535) == 0;
    case 7:
        return msgpack_pack_uint64(pk, UINT32_MAX) == 0;
    case 8:
        return msgpack_pack_uint64(pk, UINT64_MAX) == 0;
    case 9: /* negative fixint */
        return msgpack_pack_int64(pk, -32) == 0;
    case 10: /* int 8, 16, 32, 64 */
        return msgpack_pack_int64(pk, -128) == 0;
    case 11:
        return msgpack_pack_int64(pk, INT16_MIN) == 0;
    case 12:
        return msgpack_pack_int64(pk, INT32_MIN) == 0;
    case 13:
        return msgpack_pack_int64(pk, INT64_MIN) == 0;
    case 14:
        return msgpack_pack_float(pk, 1.5f) == 0;
    case 15:
        return msgpack_pack_double(pk, -0.25) == 0;
    case 16: /* fixstr, str 8, 16, 32 */
        return msgpack_pack_str_with_body(pk, "", 0) == 0;
    case 17:
        return msgpack_pack_str_with_body(pk, blob, 31) == 0;
    case 18:
        return msgpack_pack_str_with_body(pk, blob, 255) == 0;
    case 19:
        return msgpack_pack_str_with_body(pk, blob, 65535) == 0;
    case 20:
        return msgpack_pack_str_with_body(pk, blob, 65536) == 0;
    case 21: /* bin 8, 16, 32 */
        return msgpack_pack_bin_with_body(pk, blob, 0) == 0;
    case 22:
        return msgpack_pack_bin_with_body(pk, blob, 256) == 0;
    case 23:
        return msgpack_pack_bin_with_body(pk, blob, 65536) == 0;
    case 24: /* fixext 1, 2, 4, 8, 16 */
        return msgpack_pack_ext_with_body(pk, blob, 1, 5) == 0;
    case 25:
        return msgpack_pack_ext_with_body(pk, blob, 2, -5) == 0;
    case 26:
        return msgpack_pack_ext_with_body(pk, blob, 4, 0) == 0;
    case 27:
        return msgpack_pack_ext_with_body(pk, blob, 8, 127) == 0;
    case 28:
        return msgpack_pack_ext_with_body(pk, blob, 16, -128) == 0;
    case 29: /* ext 8, 16, 32 */
        return msgpack_pack_ext_with_body(pk, blob, 0, 1) == 0;
    case 30:
        return msgpack_pack_ext_with_body(pk, blob, 3, 1) == 0;
    case 31:
        return msgpack_pack_ext_with_body(pk, blob, 256, 1) == 0;
    case 32:
        return msgpack_pack_ext_with_body(pk, blob, 65536, 1) == 0;
    case 33: { /* a timestamp, msgpack's one predefined ext */
        msgpack_timestamp ts = {.tv_sec = 1700000000, .tv_nsec = 5};
        return msgpack_pack_timestamp(pk, &ts) == 0;
    }
    case 34: /* fixarray, array 16, 32 */
        return msgpack_pack_array(pk, 0) == 0;
    case 35: {
        int rc = msgpack_pack_array(pk, 15);
        for (int k = 0; k < 15; k++)
            rc |= msgpack_pack_int(pk, k - 7);
        return rc == 0;
    }
    case 36: {
        int rc = msgpack_pack_array(pk, 16);
        for (int k = 0; k < 16; k++)
            rc |= msgpack_pack_nil(pk);
        return rc == 0;
    }
    case 37: {
        int rc = msgpack_pack_array(pk, 65536);
        for (int k = 0; k < 65536; k++)
            rc |= msgpack_pack_true(pk);
        return rc == 0;
    }
    case 38: /* fixmap, map 16, 32 */
        return msgpack_pack_map(pk, 0) == 0;
    case 39: {
        int rc = msgpack_pack_map(pk, 15);
        for (int k = 0; k < 15; k++) {
            rc |= msgpack_pack_int(pk, k);
            rc |= msgpack_pack_str_with_body(pk, "v", 1);
        }
        return rc == 0;
    }
    case 40: {
        int rc = msgpack_pack_map(pk, 16);
        for (int k = 0; k < 16; k++) {
            rc |= msgpack_pack_nil(pk);
            rc |= msgpack_pack_array(pk, 0);
        }
        return rc == 0;
    }
    case 41: {
        int rc = msgpack_pack_map(pk, 65536);
        for (int k = 0; k < 65536; k++) {
            rc |= msgpack_pack_uint32(pk, (uint32_t)k);
            rc |= msgpack_pack_false(pk);
        }
        return rc == 0;
    }
    }
    return false;
}

static void test_every_type(void **state)
{
    (void)state;
    int samples = 0;
    for (int i = 0;; i++) {
        packed b;
        packed_init(&b);
        if (!pack_sample(&b.pk, i)) {
            msgpack_sbuffer_destroy(&b.sb);
            break;
        }
        /* The truncation sweep is quadratic: big samples get a few cuts. */
        if (b.sb.size <= 4096) {
            check_valid(packed_data(&b), b.sb.size);
        } else {
            shoal_errinfo ei;
            assert_int_equal(validate(packed_data(&b), b.sb.size, &ei),
                             SHOAL_OK);
            for (size_t cut = 0; cut < b.sb.size; cut += 997)
                assert_int_equal(validate(packed_data(&b), cut, &ei),
                                 SHOAL_EMALFORMED);
            assert_int_equal(validate(packed_data(&b), b.sb.size - 1, &ei),
                             SHOAL_EMALFORMED);
        }
        msgpack_sbuffer_destroy(&b.sb);
        samples++;
    }
    assert_int_equal(samples, 42);

    /* Encodings longer than needed are still msgpack. */
    check_valid(BYTES("\xd9\x00"));              /* str 8 of "" */
    check_valid(BYTES("\xdb\x00\x00\x00\x01x")); /* str 32 of "x" */
    check_valid(BYTES("\xcf\x00\x00\x00\x00\x00\x00\x00\x01")); /* 1 */
    check_valid(BYTES("\xd0\x05"));                             /* int 8 of 5 */
    check_valid(BYTES("\xdd\x00\x00\x00\x01\xc0"));             /* array 32 */
    check_valid(BYTES("\xdf\x00\x00\x00\x01\xc0\xc0"));         /* map 32 */
    check_valid(BYTES("\xc6\x00\x00\x00\x00"));                 /* bin 32 */
    check_valid(BYTES("\xc9\x00\x00\x00\x00\x07"));             /* ext 32 */
}

/* A payload of everything, nested, for the truncation sweep. */
static void pack_mixture(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    msgpack_pack_str_with_body(pk, "list", 4);
    msgpack_pack_array(pk, 12);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_uint64(pk, 300);
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_int64(pk, -70000);
    msgpack_pack_double(pk, 2.5);
    msgpack_pack_float(pk, 0.5f);
    msgpack_pack_str_with_body(pk, "héllo", 6);
    msgpack_pack_bin_with_body(pk, "\x00\x01\x02", 3);
    msgpack_pack_ext_with_body(pk, "abcd", 4, 9);
    msgpack_pack_ext_with_body(pk, "abc", 3, -3);
    msgpack_pack_array(pk, 0);
    msgpack_pack_uint8(pk, 7);
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "k", 1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 0);
    msgpack_pack_str_with_body(pk, "end", 3);
    msgpack_pack_false(pk);
}

static void test_truncations(void **state)
{
    (void)state;
    packed b;
    packed_init(&b);
    pack_mixture(&b.pk);
    /* check_valid cuts it at every length and adds a byte. */
    check_valid(packed_data(&b), b.sb.size);
    msgpack_sbuffer_destroy(&b.sb);
}

/* n arrays (or maps with key 0) nested, the innermost holding `inner`
 * (nil), or empty when inner is false; *len gets the size. */
static uint8_t *nested(size_t n, bool maps, bool inner, size_t *len)
{
    uint8_t *p = malloc(2 * n + 1);
    assert_non_null(p);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool last = i + 1 == n;
        uint8_t count = last && !inner ? 0 : 1;
        p[k++] = (uint8_t)((maps ? 0x80 : 0x90) | count);
        if (maps && count)
            p[k++] = 0x00;
    }
    if (inner || n == 0)
        p[k++] = 0xc0;
    *len = k;
    return p;
}

static void test_depth(void **state)
{
    (void)state;
    shoal_errinfo ei;
    char want[128];
    snprintf(want, sizeof want, "arrays and maps nested deeper than %d",
             MSG_MAX_DEPTH);
    for (int shape = 0; shape < 4; shape++) {
        bool maps = shape & 1, inner = shape & 2;
        size_t len;
        uint8_t *p = nested(MSG_MAX_DEPTH, maps, inner, &len);
        check_valid(p, len);
        free(p);

        p = nested(MSG_MAX_DEPTH + 1, maps, inner, &len);
        assert_int_equal(validate(p, len, &ei), SHOAL_ELIMIT);
        assert_string_equal(ei.msg, want);
        /* The 65th header. */
        assert_int_equal(ei.offset, maps ? 2 * MSG_MAX_DEPTH : MSG_MAX_DEPTH);
        free(p);
    }

    /* Depth is nesting, not the number of containers: two 64-deep arrays
     * side by side, with 16-bit headers. */
    uint8_t wide[3 + 2 * 3 * MSG_MAX_DEPTH + 2];
    size_t k = 0;
    wide[k++] = 0xdc;
    wide[k++] = 0;
    wide[k++] = 2;
    for (int twice = 0; twice < 2; twice++) {
        for (int i = 2; i < MSG_MAX_DEPTH; i++) {
            wide[k++] = 0xdc;
            wide[k++] = 0;
            wide[k++] = 1;
        }
        wide[k++] = 0x90;
    }
    check_valid(wide, k);
    /* One level more in the second: refused at its last header. */
    wide[k - 1] = 0x91;
    wide[k++] = 0x90;
    assert_int_equal(validate(wide, k, &ei), SHOAL_ELIMIT);
    assert_int_equal(ei.offset, k - 1);
}

static void test_trailing_and_bad_bytes(void **state)
{
    (void)state;
    shoal_errinfo ei;
    assert_int_equal(validate(BYTES("\xc0\xc0"), &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 1);
    assert_string_equal(ei.msg,
                        "trailing bytes: the object ends at byte 1 of 2");
    assert_int_equal(validate(BYTES("\x92\x01\x02garbage"), &ei),
                     SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 3);

    /* 0xc1 is the one byte no type has. */
    assert_int_equal(validate(BYTES("\xc1"), &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 0);
    assert_string_equal(ei.msg, "byte 0xc1 is not a msgpack type");
    assert_int_equal(validate(BYTES("\x93\x01\xa1x\xc1"), &ei),
                     SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 4);
    assert_int_equal(validate(BYTES("\x81\xc1\x01"), &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 1);

    /* Truncated, with the containers still open. */
    assert_int_equal(validate(BYTES("\x92\x91\x01"), &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 3);
    assert_string_equal(ei.msg, "truncated: the input ends inside the object");

    /* No input. */
    assert_int_equal(validate(NULL, 0, &ei), SHOAL_EMALFORMED);
    assert_string_equal(ei.msg, "empty: no msgpack object");
    assert_int_equal(ei.offset, 0);
    assert_int_equal(msg_validate(NULL, 1, &ei), SHOAL_EINVAL);
}

/* Every first byte with up to 10 bytes after it (zeros, then 0x01s):
 * msg_validate accepts exactly what msgpack_unpack_next reads whole, with
 * nothing left over. Single values whose first byte gives their size skip
 * the parser; this checks that the shortcut agrees with it, and that a
 * truncated or overlong one still gets the parser's error. */
static void test_short_inputs_agree_with_msgpack_c(void **state)
{
    (void)state;
    for (int fill = 0; fill <= 1; fill++) {
        for (unsigned b = 0; b < 256; b++) {
            /* An array 32 or map 32 of 0x01010101 elements would have
             * msgpack-c allocate gigabytes before it finds the input
             * short (test_huge_counts checks that msg.c does not). */
            if (fill && (b == 0xdd || b == 0xdf))
                continue;
            for (size_t len = 1; len <= 11; len++) {
                uint8_t buf[11];
                memset(buf, fill, sizeof buf);
                buf[0] = (uint8_t)b;
                msgpack_unpacked u;
                msgpack_unpacked_init(&u);
                size_t off = 0;
                msgpack_unpack_return r =
                    msgpack_unpack_next(&u, (const char *)buf, len, &off);
                msgpack_unpacked_destroy(&u);
                bool whole = r == MSGPACK_UNPACK_SUCCESS && off == len;
                shoal_errinfo ei;
                shoal_err err = msg_validate(buf, len, &ei);
                if (whole != (err == SHOAL_OK))
                    fail_msg("first byte 0x%02x, %zu bytes of %d: msgpack-c "
                             "%s, msg_validate %s",
                             b, len, fill, whole ? "whole" : "not whole",
                             shoal_err_name(err));
            }
        }
    }
}

/* Headers announcing far more than the input holds are refused as
 * truncated, and nothing is allocated for them. */
static void test_huge_counts(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\xdd\xff\xff\xff\xff", 5},     /* array 32 */
        {"\xdd\x01\x00\x00\x00\xc0", 6}, /* array 32, 2^24 */
        {"\xdf\xff\xff\xff\xff", 5},     /* map 32 */
        {"\xdc\xff\xff\x01", 4},         /* array 16 */
        {"\xdb\xff\xff\xff\xff", 5},     /* str 32 */
        {"\xc6\xff\xff\xff\xff", 5},     /* bin 32 */
        {"\xc9\xff\xff\xff\xfe\x01", 6}, /* ext 32 */
        {"\xc9\xff\xff\xff\xff\x01", 6}, /* ext 32: the length wraps */
        {"\xc9\xff\xff\xff\xff", 5},
        {"\x91\xc9\xff\xff\xff\xff\x01\x02", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_errinfo ei;
        alloc_watch(0);
        shoal_err err =
            validate((const uint8_t *)cases[i].bytes, cases[i].len, &ei);
        alloc_unwatch();
        assert_int_equal(err, SHOAL_EMALFORMED);
        assert_int_equal(alloc.count, 0);
        if (strncmp(ei.msg, "truncated: ", 11) != 0)
            fail_msg("case %zu: %s", i, ei.msg);
    }
    shoal_errinfo ei;
    validate((const uint8_t *)"\xc9\xff\xff\xff\xff\x01", 6, &ei);
    assert_string_equal(ei.msg, "truncated: an ext of 4294967295 bytes runs "
                                "past the end of the input");
    assert_int_equal(ei.offset, 4);
}

static void test_size_limit(void **state)
{
    (void)state;
    shoal_errinfo ei;
    /* A bin 32 of exactly MSG_MAX_PAYLOAD bytes in all. */
    uint8_t *p = calloc(MSG_MAX_PAYLOAD + 1, 1);
    assert_non_null(p);
    size_t body = MSG_MAX_PAYLOAD - 5;
    p[0] = 0xc6;
    p[1] = (uint8_t)(body >> 24);
    p[2] = (uint8_t)(body >> 16);
    p[3] = (uint8_t)(body >> 8);
    p[4] = (uint8_t)body;
    assert_int_equal(validate(p, MSG_MAX_PAYLOAD, &ei), SHOAL_OK);

    body++;
    p[3] = (uint8_t)(body >> 8);
    p[4] = (uint8_t)body;
    assert_int_equal(validate(p, MSG_MAX_PAYLOAD + 1, &ei), SHOAL_ELIMIT);
    assert_int_equal(ei.offset, MSG_MAX_PAYLOAD);
    assert_string_equal(ei.msg, "1048577 bytes: larger than the limit of "
                                "1048576 bytes");
    /* The limit is on the input, whatever it holds. */
    memset(p, 0xc0, MSG_MAX_PAYLOAD + 1);
    assert_int_equal(validate(p, MSG_MAX_PAYLOAD + 1, &ei), SHOAL_ELIMIT);
    free(p);
}

/* ---- messages and notices ---- */

static void test_msg_new(void **state)
{
    (void)state;
    uint8_t payload[] = {0x92, 0x01, 0x02};
    shoal_msg *m = msg_new(MSG_REQUEST, 42, 7, payload, sizeof payload);
    assert_non_null(m);
    payload[1] = 0x05; /* a copy: the caller's bytes are its own */
    assert_null(m->next);
    assert_int_equal(m->sender, 42);
    assert_int_equal(m->corr, 7);
    assert_int_equal(m->kind, MSG_REQUEST);
    assert_int_equal(m->len, 3);
    assert_memory_equal(m->payload, "\x92\x01\x02", 3);
    msg_free(m);

    m = msg_new(MSG_INIT, 0, 0, NULL, 0);
    assert_non_null(m);
    assert_int_equal(m->len, 0);
    msg_free(m);
    msg_free(NULL);

    assert_null(msg_new(MSG_CAST, 0, 0, NULL, 1));
    assert_null(msg_new((msg_kind)6, 0, 0, payload, sizeof payload));
    assert_null(msg_new(MSG_CAST, 0, 0, payload, (size_t)MSG_MAX_PAYLOAD + 1));
}

/* Message buffers come in size classes: header and payload rounded up to
 * 40, 56, 88, 120, 184, 248, 376 or 504 bytes, and exact beyond. */
static void test_size_classes(void **state)
{
    (void)state;
    static uint8_t buf[600];
    const size_t hdr = sizeof(shoal_msg);
    static const struct {
        size_t total; /* header plus payload */
        uint8_t cls;
    } cases[] = {{0, 1},   {40, 1},  {41, 2},  {56, 2},  {57, 3},  {88, 3},
                 {89, 4},  {120, 4}, {121, 5}, {184, 5}, {185, 6}, {248, 6},
                 {249, 7}, {376, 7}, {377, 8}, {504, 8}, {505, 0}, {600, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].total > hdr ? cases[i].total - hdr : 0;
        shoal_msg *m = msg_new(MSG_CAST, 0, 0, buf, len);
        assert_non_null(m);
        assert_int_equal(m->size_class, cases[i].cls);
        assert_int_equal(m->len, len);
        msg_free(m);
    }
    shoal_msg *n = msg_new_notice(MSG_EXIT, 1, 0, "normal", 0);
    assert_non_null(n);
    assert_int_equal(n->size_class, 0);
    msg_free(n);
}

/* A pool reuses the buffers of its classes without allocating, keeps at
 * most its bound per class, frees exact buffers, takes classed messages
 * from anywhere, and frees what it keeps when deleted. */
static void test_pool(void **state)
{
    (void)state;
    static uint8_t buf[600];
    alloc_watch(0);
    msg_pool *p = msg_pool_new(2);
    assert_non_null(p);
    shoal_msg *a = msg_pool_new_msg(p, MSG_CAST, 1, 2, buf, 5);
    shoal_msg *b = msg_pool_new_msg(p, MSG_CAST, 1, 2, buf, 5);
    shoal_msg *c = msg_pool_new_msg(p, MSG_CAST, 1, 2, buf, 5);
    shoal_msg *big = msg_pool_new_msg(p, MSG_CAST, 1, 2, buf, sizeof buf);
    assert_true(a && b && c && big);
    assert_int_equal(big->size_class, 0);
    assert_int_equal(msg_pool_size(p), 0);
    msg_pool_free(p, a);
    msg_pool_free(p, b);
    msg_pool_free(p, c);   /* over the bound of 2: freed */
    msg_pool_free(p, big); /* exact: freed */
    msg_pool_free(p, NULL);
    assert_int_equal(msg_pool_size(p), 2);
    assert_int_equal(alloc.live, 3); /* the pool and its two buffers */

    /* Reuse: no allocation, the last buffer given back, a fresh message. */
    unsigned before = alloc.count;
    shoal_msg *d = msg_pool_new_msg(p, MSG_REQUEST, 7, 8, BYTES("\x01"));
    assert_int_equal(alloc.count, before);
    assert_ptr_equal(d, b);
    assert_null(d->next);
    assert_int_equal(d->kind, MSG_REQUEST);
    assert_int_equal(d->sender, 7);
    assert_int_equal(d->corr, 8);
    assert_int_equal(d->len, 1);
    assert_int_equal(d->size_class, 1);
    assert_memory_equal(d->payload, "\x01", 1);
    assert_int_equal(msg_pool_size(p), 1);

    /* Another class is not served from class 1's buffers. */
    shoal_msg *e = msg_pool_new_msg(p, MSG_CAST, 0, 0, buf, 100);
    assert_non_null(e);
    assert_int_equal(alloc.count, before + 1);
    assert_int_equal(e->size_class, 5);

    /* Bad arguments fail as they do for msg_new, with or without a pool. */
    assert_null(msg_pool_new_msg(p, (msg_kind)6, 0, 0, buf, 1));
    assert_null(msg_pool_new_msg(p, MSG_CAST, 0, 0, NULL, 1));
    assert_null(msg_pool_new_msg(NULL, MSG_CAST, 0, 0, NULL, 1));

    /* Any classed message goes into any pool; without a pool it is freed. */
    shoal_msg *f = msg_new(MSG_CAST, 0, 0, buf, 5);
    assert_non_null(f);
    msg_pool_free(p, f);
    msg_pool_free(p, d);
    assert_int_equal(msg_pool_size(p), 2); /* class 1 is full again */
    msg_pool_free(NULL, e);
    shoal_msg *g = msg_pool_new_msg(NULL, MSG_CAST, 0, 0, buf, 3);
    assert_non_null(g);
    msg_pool_free(NULL, g);

    /* An empty pool falls back on malloc, whose failure is NULL. */
    msg_pool *q = msg_pool_new(4);
    assert_non_null(q);
    alloc.fail_at = alloc.count + 1;
    assert_null(msg_pool_new_msg(q, MSG_CAST, 0, 0, buf, 3));
    msg_pool_delete(q);
    msg_pool_delete(p);
    msg_pool_delete(NULL);
    alloc_unwatch();
    assert_int_equal(alloc.live, 0);

    alloc_watch(1);
    assert_null(msg_pool_new(4));
    alloc_unwatch();
}

/* Reads a notice with msgpack-c and checks it is the documented map, in the
 * order of docs/abi.md. */
static void check_notice(const shoal_msg *m, msg_kind kind, uint64_t actor,
                         uint64_t ref, const char *reason, size_t reason_len,
                         int32_t code)
{
    assert_non_null(m);
    assert_int_equal(m->kind, kind);
    assert_int_equal(m->sender, 0);
    assert_int_equal(m->corr, 0);
    shoal_errinfo ei;
    assert_int_equal(validate(m->payload, m->len, &ei), SHOAL_OK);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(
        msgpack_unpack_next(&u, (const char *)m->payload, m->len, &off),
        MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, m->len);
    const msgpack_object *o = &u.data;
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    static const char *const exit_keys[] = {"actor", "reason", "code"};
    static const char *const down_keys[] = {"actor", "ref", "reason", "code"};
    const char *const *keys = kind == MSG_DOWN ? down_keys : exit_keys;
    assert_int_equal(o->via.map.size, kind == MSG_DOWN ? 4 : 3);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        assert_int_equal(k->type, MSGPACK_OBJECT_STR);
        assert_int_equal(k->via.str.size, strlen(keys[i]));
        assert_memory_equal(k->via.str.ptr, keys[i], k->via.str.size);
        if (strcmp(keys[i], "actor") == 0 || strcmp(keys[i], "ref") == 0) {
            assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
            assert_true(v->via.u64 == (keys[i][0] == 'a' ? actor : ref));
        } else if (strcmp(keys[i], "reason") == 0) {
            assert_int_equal(v->type, MSGPACK_OBJECT_STR);
            assert_int_equal(v->via.str.size, reason_len);
            assert_memory_equal(v->via.str.ptr, reason, reason_len);
        } else {
            assert_int_equal(v->type, code < 0
                                          ? MSGPACK_OBJECT_NEGATIVE_INTEGER
                                          : MSGPACK_OBJECT_POSITIVE_INTEGER);
            assert_true(v->via.i64 == code);
        }
    }
    msgpack_unpacked_destroy(&u);
}

static void test_notices(void **state)
{
    (void)state;
    shoal_msg *m = msg_new_notice(MSG_EXIT, 0x0001000000020003ull, 99,
                                  "trap: integer divide by zero", -3);
    check_notice(m, MSG_EXIT, 0x0001000000020003ull, 0,
                 "trap: integer divide by zero", 28, -3);
    /* The documented bytes, once. */
    /* clang-format off */
    static const char exit_bytes[] =
        "\x83\xa5" "actor" "\xcf\x00\x01\x00\x00\x00\x02\x00\x03"
        "\xa6" "reason" "\xbc" "trap: integer divide by zero"
        "\xa4" "code" "\xfd";
    /* clang-format on */
    assert_int_equal(m->len, sizeof exit_bytes - 1);
    assert_memory_equal(m->payload, exit_bytes, m->len);
    msg_free(m);

    m = msg_new_notice(MSG_DOWN, UINT64_MAX, 12, "normal", 0);
    check_notice(m, MSG_DOWN, UINT64_MAX, 12, "normal", 6, 0);
    msg_free(m);
    m = msg_new_notice(MSG_DOWN, 5, 0, "exit code 2147483647", INT32_MAX);
    check_notice(m, MSG_DOWN, 5, 0, "exit code 2147483647", 20, INT32_MAX);
    msg_free(m);
    m = msg_new_notice(MSG_EXIT, 5, 0, NULL, INT32_MIN);
    check_notice(m, MSG_EXIT, 5, 0, "", 0, INT32_MIN);
    msg_free(m);

    for (int kind = 0; kind <= 6; kind++)
        if (kind != MSG_EXIT && kind != MSG_DOWN)
            assert_null(msg_new_notice((msg_kind)kind, 1, 1, "x", 1));

    /* A reason too long for a message is cut to fit, between characters:
     * "é" is two bytes, and the cut falls inside one. */
    size_t n = MSG_MAX_PAYLOAD;
    char *reason = malloc(n + 1);
    assert_non_null(reason);
    for (size_t i = 0; i + 1 < n; i += 2)
        memcpy(reason + i, "\xc3\xa9", 2);
    reason[n] = '\0';
    m = msg_new_notice(MSG_DOWN, 1, 2, reason, 3);
    assert_non_null(m);
    assert_true(m->len <= MSG_MAX_PAYLOAD);
    size_t kept = MSG_MAX_PAYLOAD - 51 - 1; /* the room, made even */
    check_notice(m, MSG_DOWN, 1, 2, reason, kept, 3);
    msg_free(m);
    free(reason);
}

/* ---- the envelope ---- */

static void test_envelope_round_trip(void **state)
{
    (void)state;
    static const uint64_t ids[] = {0, 1, 127, 128, 0x10000, UINT64_MAX};
    static const size_t sizes[] = {1, 2, 255, 256, 65536, MSG_MAX_PAYLOAD};
    uint8_t *payload = malloc(MSG_MAX_PAYLOAD);
    assert_non_null(payload);
    for (int kind = MSG_CAST; kind <= MSG_INIT; kind++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            /* A payload: a bin filling the size, or nil. */
            size_t len = sizes[i];
            memset(payload, 0x5a, len);
            if (len == 1) {
                payload[0] = 0xc0;
            } else {
                size_t head = len <= 257 ? 2 : len <= 65538 ? 3 : 5;
                size_t body = len - head;
                payload[0] = head == 2 ? 0xc4 : head == 3 ? 0xc5 : 0xc6;
                for (size_t k = 1; k < head; k++)
                    payload[k] = (uint8_t)(body >> (8 * (head - 1 - k)));
            }
            shoal_errinfo ei;
            assert_int_equal(validate(payload, len, &ei), SHOAL_OK);

            uint64_t from = ids[(i + (size_t)kind) % 6], corr = ids[i];
            shoal_msg *m = msg_new((msg_kind)kind, from, corr, payload, len);
            assert_non_null(m);
            uint8_t *wire;
            size_t wire_len;
            assert_int_equal(msg_encode(m, &wire, &wire_len), SHOAL_OK);

            /* msgpack-c reads the documented map. */
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            size_t off = 0;
            assert_int_equal(
                msgpack_unpack_next(&u, (const char *)wire, wire_len, &off),
                MSGPACK_UNPACK_SUCCESS);
            assert_int_equal(off, wire_len);
            const msgpack_object *o = &u.data;
            assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
            assert_int_equal(o->via.map.size, 4);
            static const char *const keys[] = {"from", "corr", "kind", "body"};
            for (int f = 0; f < 4; f++) {
                const msgpack_object_kv *kv = &o->via.map.ptr[f];
                assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
                assert_int_equal(kv->key.via.str.size, 4);
                assert_memory_equal(kv->key.via.str.ptr, keys[f], 4);
                if (f < 3)
                    assert_int_equal(kv->val.type,
                                     MSGPACK_OBJECT_POSITIVE_INTEGER);
            }
            assert_true(o->via.map.ptr[0].val.via.u64 == from);
            assert_true(o->via.map.ptr[1].val.via.u64 == corr);
            assert_true(o->via.map.ptr[2].val.via.u64 == (uint64_t)kind);
            assert_int_equal(o->via.map.ptr[3].val.type, MSGPACK_OBJECT_BIN);
            assert_int_equal(o->via.map.ptr[3].val.via.bin.size, len);
            msgpack_unpacked_destroy(&u);

            shoal_msg *back = NULL;
            assert_int_equal(msg_decode(wire, wire_len, &back, &ei), SHOAL_OK);
            assert_non_null(back);
            assert_null(back->next);
            assert_true(back->sender == from);
            assert_true(back->corr == corr);
            assert_int_equal(back->kind, kind);
            assert_int_equal(back->len, len);
            assert_memory_equal(back->payload, payload, len);
            msg_free(back);
            free(wire);
            msg_free(m);
        }
    }
    free(payload);

    /* Other orders and wider encodings than msg_encode's are envelopes too. */
    /* clang-format off */
    static const char wide[] =
        "\xdf\x00\x00\x00\x04"                       /* map 32 */
        "\xd9\x04" "body" "\xc6\x00\x00\x00\x01\x07" /* str 8, bin 32 */
        "\xdb\x00\x00\x00\x04" "kind" "\xd0\x02"     /* str 32, int 8 */
        "\xa4" "corr" "\xcf\x00\x00\x00\x00\x00\x00\x00\x09"
        "\xa4" "from" "\xd3\x00\x00\x00\x00\x00\x00\x00\x05";
    /* clang-format on */
    shoal_msg *m = NULL;
    shoal_errinfo ei;
    assert_int_equal(msg_decode(BYTES(wide), &m, &ei), SHOAL_OK);
    assert_int_equal(m->sender, 5);
    assert_int_equal(m->corr, 9);
    assert_int_equal(m->kind, MSG_REPLY);
    assert_int_equal(m->len, 1);
    assert_int_equal(m->payload[0], 0x07);
    msg_free(m);
}

static void test_encode_errors(void **state)
{
    (void)state;
    uint8_t *wire = NULL;
    size_t len = 0;
    shoal_msg *m = msg_new(MSG_CAST, 1, 2, BYTES("\xc0"));
    assert_non_null(m);
    assert_int_equal(msg_encode(NULL, &wire, &len), SHOAL_EINVAL);
    assert_int_equal(msg_encode(m, NULL, &len), SHOAL_EINVAL);
    assert_int_equal(msg_encode(m, &wire, NULL), SHOAL_EINVAL);
    m->kind = 6;
    assert_int_equal(msg_encode(m, &wire, &len), SHOAL_EINVAL);
    m->kind = MSG_CAST;
    m->len = MSG_MAX_PAYLOAD + 1; /* refused before the payload is read */
    assert_int_equal(msg_encode(m, &wire, &len), SHOAL_ELIMIT);
    assert_null(wire);
    msg_free(m);
}

/* The canonical envelope of from 1, corr 2, kind 3 (EXIT) and body nil;
 * its offsets: "from" at 2, its value at 6; "corr" 8, 12; "kind" 14, 18;
 * "body" 20, its bin header 24 and the body's byte 26. */
/* clang-format off */
#define ENV_FROM "\xa4" "from" "\x01"
#define ENV_CORR "\xa4" "corr" "\x02"
#define ENV_KIND "\xa4" "kind" "\x03"
#define ENV_BODY_KEY "\xa4" "body"
#define ENV_BODY ENV_BODY_KEY "\xc4\x01\xc0"
/* clang-format on */

typedef struct decode_case {
    const char *bytes;
    size_t len;
    shoal_err err;
    size_t offset;
    const char *msg;
} decode_case;

#define CASE(bytes, err, offset, msg)                                          \
    {                                                                          \
        bytes, sizeof(bytes) - 1, err, offset, msg                             \
    }

/* clang-format off */
static const decode_case decode_cases[] = {
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND ENV_BODY, SHOAL_OK, 0, ""),
    /* Not a map. */
    CASE("\xc0", SHOAL_EMALFORMED, 0, "envelope is nil, expected a map"),
    CASE("\x05", SHOAL_EMALFORMED, 0,
         "envelope is an unsigned integer, expected a map"),
    CASE("\xa4" "from", SHOAL_EMALFORMED, 0,
         "envelope is a string, expected a map"),
    CASE("\x94\x01\x02\x03\x04", SHOAL_EMALFORMED, 0,
         "envelope is an array, expected a map"),
    CASE("\xc4\x01\xc0", SHOAL_EMALFORMED, 0,
         "envelope is binary data, expected a map"),
    /* Keys. */
    CASE("\x85" ENV_FROM ENV_CORR "\xa3" "xyz" "\x01" ENV_KIND ENV_BODY,
         SHOAL_EMALFORMED, 14, "envelope: unknown field \"xyz\""),
    CASE("\x81\xa5" "fr\"\x01\\" "\x01", SHOAL_EMALFORMED, 2,
         "envelope: unknown field \"fr\\x22\\x01\\x5c\""),
    CASE("\x81\xd9\x28" "0123456789012345678901234567890123456789" "\x01",
         SHOAL_EMALFORMED, 3,
         "envelope: unknown field \"01234567890123456789012345678901...\""),
    CASE("\x81\xa0\x01", SHOAL_EMALFORMED, 1, "envelope: unknown field \"\""),
    CASE("\x81\xa3" "fro" "\x01", SHOAL_EMALFORMED, 2,
         "envelope: unknown field \"fro\""),
    CASE("\x81\xa5" "froms" "\x01", SHOAL_EMALFORMED, 2,
         "envelope: unknown field \"froms\""),
    CASE("\x85" ENV_FROM ENV_CORR ENV_FROM ENV_KIND ENV_BODY,
         SHOAL_EMALFORMED, 14, "envelope: field \"from\" appears twice"),
    CASE("\x84" ENV_FROM "\x07\x01" ENV_KIND ENV_BODY, SHOAL_EMALFORMED, 7,
         "envelope: a key is an unsigned integer, expected a string"),
    CASE("\x81\xc0\x01", SHOAL_EMALFORMED, 1,
         "envelope: a key is nil, expected a string"),
    CASE("\x81\x90\x01", SHOAL_EMALFORMED, 1,
         "envelope: a key is an array, expected a string"),
    CASE("\x81\x80\x01", SHOAL_EMALFORMED, 1,
         "envelope: a key is a map, expected a string"),
    /* Values. */
    CASE("\x84\xa4" "from" "\xa1" "1" ENV_CORR ENV_KIND ENV_BODY,
         SHOAL_EMALFORMED, 6,
         "envelope: field \"from\" is a string, expected an unsigned "
         "integer"),
    CASE("\x84" ENV_FROM "\xa4" "corr" "\xff" ENV_KIND ENV_BODY,
         SHOAL_EMALFORMED, 12,
         "envelope: field \"corr\" is a negative integer, expected an "
         "unsigned integer"),
    CASE("\x84" ENV_FROM "\xa4" "corr" "\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
         ENV_KIND ENV_BODY,
         SHOAL_EMALFORMED, 12,
         "envelope: field \"corr\" is a negative integer, expected an "
         "unsigned integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\xc0" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is nil, expected an unsigned integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\xc3" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is a boolean, expected an unsigned "
         "integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\xca\x40\x00\x00\x00"
         ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is a float, expected an unsigned integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind"
         "\xcb\x40\x00\x00\x00\x00\x00\x00\x00" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is a float, expected an unsigned integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\xc4\x01\x03" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is binary data, expected an unsigned "
         "integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\xd4\x01\x03" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is an ext, expected an unsigned integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\x91\x03" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is an array, expected an unsigned "
         "integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\x80" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is a map, expected an unsigned integer"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind" "\x06" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is 6, expected a message kind from 0 to "
         "5"),
    CASE("\x84" ENV_FROM ENV_CORR "\xa4" "kind"
         "\xcf\xff\xff\xff\xff\xff\xff\xff\xff" ENV_BODY,
         SHOAL_EMALFORMED, 18,
         "envelope: field \"kind\" is 18446744073709551615, expected a "
         "message kind from 0 to 5"),
    /* The body. */
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\xa1" "x",
         SHOAL_EMALFORMED, 24,
         "envelope: field \"body\" is a string, expected binary data"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\x91\xc0",
         SHOAL_EMALFORMED, 24,
         "envelope: field \"body\" is an array, expected binary data"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\xc4\x00",
         SHOAL_EMALFORMED, 26, "envelope: body: empty: no msgpack object"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\xc6\x00\x00\x00\x00",
         SHOAL_EMALFORMED, 29, "envelope: body: empty: no msgpack object"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\xc4\x02\x91\xc1",
         SHOAL_EMALFORMED, 27,
         "envelope: body: byte 0xc1 is not a msgpack type"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\xc4\x02\x01\x02",
         SHOAL_EMALFORMED, 27,
         "envelope: body: trailing bytes: the object ends at byte 1 of 2"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\xc4\x02\x92\x01",
         SHOAL_EMALFORMED, 28,
         "envelope: body: truncated: the input ends inside the object"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND "\xa4" "body" "\xc4\x41"
         "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
         "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
         "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
         "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
         "\x90",
         SHOAL_ELIMIT, 26 + 64,
         "envelope: body: arrays and maps nested deeper than 64"),
    /* Missing fields. */
    CASE("\x80", SHOAL_EMALFORMED, 0, "envelope: field \"from\" is missing"),
    CASE("\x83" ENV_FROM ENV_KIND ENV_BODY, SHOAL_EMALFORMED, 0,
         "envelope: field \"corr\" is missing"),
    CASE("\x83" ENV_BODY ENV_CORR ENV_FROM, SHOAL_EMALFORMED, 0,
         "envelope: field \"kind\" is missing"),
    CASE("\x83" ENV_FROM ENV_CORR ENV_KIND, SHOAL_EMALFORMED, 0,
         "envelope: field \"body\" is missing"),
    /* Around the map. */
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND ENV_BODY "\x00", SHOAL_EMALFORMED,
         27, "envelope: trailing bytes: the map ends at byte 27 of 28"),
    CASE("\x84" ENV_FROM ENV_CORR ENV_KIND, SHOAL_EMALFORMED, 19,
         "envelope: truncated: the input ends inside the map"),
    CASE("\x84" ENV_FROM "\xc1", SHOAL_EMALFORMED, 7,
         "envelope: byte 0xc1 is not a msgpack type"),
    CASE("\x84" ENV_FROM "\xa4" "corr" "\xc9\xff\xff\xff\xff\x01",
         SHOAL_EMALFORMED, 16,
         "envelope: truncated: an ext of 4294967295 bytes runs past the end "
         "of the input"),
    CASE("\xdf\xff\xff\xff\xff" ENV_FROM, SHOAL_EMALFORMED, 11,
         "envelope: truncated: the input ends inside the map"),
    CASE("", SHOAL_EMALFORMED, 0, "envelope: empty: no msgpack object"),
};
/* clang-format on */

static void test_decode_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
        const decode_case *c = &decode_cases[i];
        shoal_msg *m = (shoal_msg *)1;
        shoal_errinfo ei = {.offset = 12345678};
        shoal_err err = msg_decode((const uint8_t *)c->bytes, c->len, &m, &ei);
        if (err != c->err || (err != SHOAL_OK && (ei.offset != c->offset ||
                                                  strcmp(ei.msg, c->msg))))
            fail_msg("case %zu: %s at %zu: \"%s\"; expected %s at %zu: "
                     "\"%s\"",
                     i, shoal_err_name(err), ei.offset, ei.msg,
                     shoal_err_name(c->err), c->offset, c->msg);
        shoal_msg *m2 = (shoal_msg *)1;
        assert_int_equal(
            msg_decode((const uint8_t *)c->bytes, c->len, &m2, NULL), err);
        if (err == SHOAL_OK) {
            msg_free(m);
            msg_free(m2);
        } else {
            assert_true(m == (shoal_msg *)1);
            assert_true(m2 == (shoal_msg *)1);
        }
    }
}

static void test_decode_limits_and_truncations(void **state)
{
    (void)state;
    shoal_errinfo ei;
    shoal_msg *m = NULL;
    assert_int_equal(msg_decode(NULL, 1, &m, &ei), SHOAL_EINVAL);
    assert_int_equal(msg_decode(BYTES("\x80"), NULL, &ei), SHOAL_EINVAL);

    /* Every cut of an envelope is refused. */
    static const char env[] = "\x84" ENV_FROM ENV_CORR ENV_KIND ENV_BODY;
    for (size_t cut = 0; cut < sizeof env - 1; cut++) {
        assert_int_equal(msg_decode((const uint8_t *)env, cut, &m, &ei),
                         SHOAL_EMALFORMED);
        assert_true(ei.offset <= cut);
        assert_true(strstr(ei.msg, "truncated") != NULL ||
                    strstr(ei.msg, "empty") != NULL);
    }

    /* The biggest body fits; one byte more is over the limit, and so is an
     * envelope bigger than any with a body within it. */
    uint8_t *body = calloc(MSG_MAX_PAYLOAD + 1, 1);
    assert_non_null(body);
    body[0] = 0xc6;
    size_t inner = MSG_MAX_PAYLOAD - 5;
    body[1] = 0;
    body[2] = (uint8_t)(inner >> 16);
    body[3] = (uint8_t)(inner >> 8);
    body[4] = (uint8_t)inner;
    shoal_msg *big =
        msg_new(MSG_CAST, UINT64_MAX, UINT64_MAX, body, MSG_MAX_PAYLOAD);
    assert_non_null(big);
    uint8_t *wire;
    size_t wire_len;
    assert_int_equal(msg_encode(big, &wire, &wire_len), SHOAL_OK);
    assert_int_equal(msg_decode(wire, wire_len, &m, &ei), SHOAL_OK);
    assert_int_equal(m->len, MSG_MAX_PAYLOAD);
    msg_free(m);
    free(wire);
    msg_free(big);

    /* A body of MSG_MAX_PAYLOAD + 1 bytes, encoded by hand. */
    size_t head = 29; /* fixmap, three fields of 6 bytes, "body" and bin32 */
    size_t total = head + MSG_MAX_PAYLOAD + 1;
    uint8_t *w = malloc(total);
    assert_non_null(w);
    memcpy(w, "\x84" ENV_FROM ENV_CORR ENV_KIND ENV_BODY_KEY "\xc6", 25);
    size_t blen = MSG_MAX_PAYLOAD + 1;
    w[25] = (uint8_t)(blen >> 24);
    w[26] = (uint8_t)(blen >> 16);
    w[27] = (uint8_t)(blen >> 8);
    w[28] = (uint8_t)blen;
    memcpy(w + head, body, MSG_MAX_PAYLOAD + 1);
    assert_int_equal(msg_decode(w, total, &m, &ei), SHOAL_ELIMIT);
    assert_int_equal(ei.offset, head + MSG_MAX_PAYLOAD);
    assert_string_equal(ei.msg, "envelope: body: 1048577 bytes: larger than "
                                "the limit of 1048576 bytes");
    free(w);

    w = calloc(MSG_MAX_PAYLOAD + 74, 1);
    assert_non_null(w);
    assert_int_equal(msg_decode(w, MSG_MAX_PAYLOAD + 74, &m, &ei),
                     SHOAL_ELIMIT);
    assert_int_equal(ei.offset, MSG_MAX_PAYLOAD + 73);
    assert_string_equal(ei.msg, "envelope: 1048650 bytes: larger than any "
                                "envelope of a body within the limit of "
                                "1048576 bytes");
    free(w);
    free(body);
}

/* ---- allocation failures ---- */

/* One operation of msg.c that allocates, run to completion and cleaned up;
 * returns what it reported. */
typedef shoal_err (*alloc_op)(shoal_errinfo *ei);

static shoal_err op_new(shoal_errinfo *ei)
{
    (void)ei;
    shoal_msg *m = msg_new(MSG_CAST, 1, 2, BYTES("\x91\xc0"));
    if (m == NULL)
        return SHOAL_ENOMEM;
    msg_free(m);
    return SHOAL_OK;
}

static shoal_err op_notice(shoal_errinfo *ei)
{
    (void)ei;
    shoal_msg *m = msg_new_notice(MSG_DOWN, 1, 2, "killed", 9);
    if (m == NULL)
        return SHOAL_ENOMEM;
    msg_free(m);
    return SHOAL_OK;
}

/* msg_encode's input, made before the sweep. */
static shoal_msg *encode_input;

static shoal_err op_encode(shoal_errinfo *ei)
{
    (void)ei;
    uint8_t *wire;
    size_t len;
    shoal_err err = msg_encode(encode_input, &wire, &len);
    if (err == SHOAL_OK)
        free(wire);
    return err;
}

static shoal_err op_decode(shoal_errinfo *ei)
{
    shoal_msg *m = NULL;
    shoal_err err =
        msg_decode(BYTES("\x84" ENV_FROM ENV_CORR ENV_KIND ENV_BODY), &m, ei);
    if (err == SHOAL_OK)
        msg_free(m);
    else if (m != NULL)
        return SHOAL_EINVAL; /* a failure must leave *out alone */
    return err;
}

/* Validation allocates nothing, so this sweep fails nothing. */
static shoal_err op_validate(shoal_errinfo *ei)
{
    /* {"a": [1, "x"], "b": {{}: bin 00}} */
    static const uint8_t payload[] = {0x82, 0xa1, 'a',  0x92, 0x01, 0xa1, 'x',
                                      0xa1, 'b',  0x81, 0x80, 0xc4, 0x01, 0x00};
    return msg_validate(payload, sizeof payload, ei);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        alloc_op op;
        bool needs_message; /* reports ENOMEM with a reason */
    } ops[] = {
        {"msg_new", op_new, false},
        {"msg_new_notice", op_notice, false},
        {"msg_encode", op_encode, false},
        {"msg_decode", op_decode, true},
        {"msg_validate", op_validate, false},
    };
    encode_input = msg_new(MSG_CAST, 3, 4, BYTES("\xc0"));
    assert_non_null(encode_input);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        unsigned failed = 0;
        for (unsigned n = 1;; n++) {
            shoal_errinfo ei = {0};
            alloc_watch(n);
            shoal_err err = ops[i].op(&ei);
            alloc_unwatch();
            if (alloc.live != 0)
                fail_msg("%s, allocation %u failing: %ld blocks leaked",
                         ops[i].name, n, alloc.live);
            if (alloc.count < n) { /* nothing failed: the sweep is over */
                assert_int_equal(err, SHOAL_OK);
                break;
            }
            failed++;
            if (err != SHOAL_ENOMEM)
                fail_msg("%s, allocation %u failing: %s", ops[i].name, n,
                         shoal_err_name(err));
            if (ops[i].needs_message && ei.msg[0] == '\0')
                fail_msg("%s, allocation %u failing: no reason", ops[i].name,
                         n);
        }
        /* Each operation but validation allocates exactly once. */
        assert_int_equal(failed, ops[i].op == op_validate ? 0 : 1);
    }
    msg_free(encode_input);
}

/* ---- inputs the fuzzer found ---- */

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    uint8_t *buf = malloc(MSG_MAX_PAYLOAD + 1024);
    assert_non_null(buf);
    size_t len = fread(buf, 1, MSG_MAX_PAYLOAD + 1024, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
}

/* Runs every file of the regressions folder through the fuzz target, which
 * aborts on anything it dislikes. */
static void test_fuzz_regressions(void **state)
{
    (void)state;
    const char *dir = getenv("SHOAL_MSG_REGRESSIONS");
    if (dir == NULL)
        dir = MSG_TEST_REGRESSIONS;
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("cannot open %s", dir);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        replay_file(path);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_trailing_and_bad_bytes),
        cmocka_unit_test(test_short_inputs_agree_with_msgpack_c),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_msg_new),
        cmocka_unit_test(test_size_classes),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_notices),
        cmocka_unit_test(test_envelope_round_trip),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_limits_and_truncations),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
