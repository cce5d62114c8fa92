/* Tests of ctl/convert.c: JSON -> msgpack -> JSON round trips and the
 * exact bytes of the encodings, every msgpack type written as JSON and
 * YAML, bad JSON and its messages, base64, and allocation failures.
 *
 * This executable is linked with -Wl,--wrap=malloc,calloc,realloc,free and
 * hands the wrapped functions to jansson, so that it can watch, count and
 * fail the allocations of convert.c, msgpack-c's buffer and jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "failalloc.h"


/* ---- helpers ---- */

/* JSON text -> msgpack bytes; asserts success. The caller frees. */
static uint8_t *to_msgpack(const char *json, size_t *len)
{
    uint8_t *out = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = ctl_json_to_msgpack(json, strlen(json), &out, len, &ei);
    if (err != SHOAL_OK)
        fail_msg("%s: %s", json, ei.msg);
    return out;
}

/* Decodes exactly one msgpack value. */
static void unpack(const uint8_t *p, size_t len, msgpack_unpacked *u)
{
    size_t off = 0;
    msgpack_unpacked_init(u);
    assert_int_equal(msgpack_unpack_next(u, (const char *)p, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
}

/* o as JSON in a heap string (the caller frees). */
static char *json_of(const msgpack_object *o, int indent)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ctl_msgpack_to_json(o, indent, f);
    fclose(f);
    return text;
}

static char *yaml_of(const msgpack_object *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    shoal_errinfo ei;
    assert_int_equal(ctl_msgpack_to_yaml(o, f, &ei), SHOAL_OK);
    fclose(f);
    return text;
}

/* JSON -> msgpack -> JSON (compact) must give want. */
static void round_trip(const char *json, const char *want)
{
    size_t len;
    uint8_t *p = to_msgpack(json, &len);
    msgpack_unpacked u;
    unpack(p, len, &u);
    char *back = json_of(&u.data, 0);
    if (strcmp(back, want) != 0)
        fail_msg("%s -> %s, wanted %s", json, back, want);
    free(back);
    msgpack_unpacked_destroy(&u);
    free(p);
}

/* JSON -> msgpack must give exactly the bytes want. */
static void encodes_to(const char *json, const char *want, size_t want_len)
{
    size_t len;
    uint8_t *p = to_msgpack(json, &len);
    if (len != want_len || memcmp(p, want, len) != 0) {
        char hex[256] = "";
        for (size_t i = 0; i < len && i < 100; i++)
            snprintf(hex + 2 * i, 3, "%02x", p[i]);
        fail_msg("%s encoded as %s", json, hex);
    }
    free(p);
}
#define ENCODES_TO(json, bytes) encodes_to(json, bytes, sizeof(bytes) - 1)

/* msgpack bytes (a literal) -> compact JSON must give want. */
static void msgpack_json(const char *bytes, size_t n, int indent,
                         const char *want)
{
    msgpack_unpacked u;
    unpack((const uint8_t *)bytes, n, &u);
    char *got = json_of(&u.data, indent);
    if (strcmp(got, want) != 0)
        fail_msg("got %s, wanted %s", got, want);
    free(got);
    msgpack_unpacked_destroy(&u);
}
#define MSGPACK_JSON(bytes, want)                                              \
    msgpack_json(bytes, sizeof(bytes) - 1, 0, want)

static void msgpack_yaml(const char *bytes, size_t n, const char *want)
{
    msgpack_unpacked u;
    unpack((const uint8_t *)bytes, n, &u);
    char *got = yaml_of(&u.data);
    if (strcmp(got, want) != 0)
        fail_msg("got:\n%s\nwanted:\n%s", got, want);
    free(got);
    msgpack_unpacked_destroy(&u);
}
#define MSGPACK_YAML(bytes, want) msgpack_yaml(bytes, sizeof(bytes) - 1, want)

static void bad_json(const char *json, const char *want_msg)
{
    uint8_t *out = NULL;
    size_t len = 0;
    shoal_errinfo ei = {0};
    assert_int_equal(ctl_json_to_msgpack(json, strlen(json), &out, &len, &ei),
                     SHOAL_EINVAL);
    assert_null(out);
    if (!strstr(ei.msg, want_msg))
        fail_msg("%s: message \"%s\" lacks \"%s\"", json, ei.msg, want_msg);
}

/* ---- JSON -> msgpack ---- */

static void test_round_trips(void **state)
{
    round_trip("{\"a\":[1,2.5,\"x\",null,true]}",
               "{\"a\":[1,2.5,\"x\",null,true]}");
    round_trip(" { \"b\" : false , \"a\" : { } , \"c\" : [ ] } ",
               "{\"b\":false,\"a\":{},\"c\":[]}");
    round_trip("0", "0");
    round_trip("-1", "-1");
    round_trip("9223372036854775807", "9223372036854775807");
    round_trip("-9223372036854775808", "-9223372036854775808");
    round_trip("4294967296", "4294967296");
    round_trip("1.0", "1.0");
    round_trip("0.1", "0.1");
    round_trip("-2.5e-300", "-2.5e-300");
    round_trip("1e300", "1e+300");
    round_trip("123456789.125", "123456789.125");
    round_trip("\"\"", "\"\"");
    round_trip("\"h\\u00e9llo \\u2603 \\ud83d\\ude00\"",
               "\"h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80\"");
    round_trip("\"tab\\there\\nnew \\\"q\\\" back\\\\ \\u0001 \\u0000 /\"",
               "\"tab\\there\\nnew \\\"q\\\" back\\\\ \\u0001 \\u0000 /\"");
    round_trip("{\"$bin\":\"AAEC/w==\"}", "{\"$bin\":\"AAEC/w==\"}");
    round_trip("{\"$bin\":\"\"}", "{\"$bin\":\"\"}");
    /* Not the bin form: a second key, or a value that is not a string. */
    round_trip("{\"$bin\":\"AA==\",\"x\":1}", "{\"$bin\":\"AA==\",\"x\":1}");
    round_trip("{\"$bin\":5}", "{\"$bin\":5}");
    round_trip("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
               "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]");
    round_trip("{\"k\xc3\xa9y\":{\"n\":{\"m\":[{},[],\"\"]}}}",
               "{\"k\xc3\xa9y\":{\"n\":{\"m\":[{},[],\"\"]}}}");
}

static void test_encodings(void **state)
{
    ENCODES_TO("1", "\x01");
    ENCODES_TO("127", "\x7f");
    ENCODES_TO("128", "\xcc\x80");
    ENCODES_TO("-1", "\xff");
    ENCODES_TO("-33", "\xd0\xdf");
    ENCODES_TO("65536", "\xce\x00\x01\x00\x00");
    ENCODES_TO("-9223372036854775808", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00");
    /* Reals are float64, even when they are whole. */
    ENCODES_TO("1.5", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00");
    ENCODES_TO("2.0", "\xcb\x40\x00\x00\x00\x00\x00\x00\x00");
    ENCODES_TO("null", "\xc0");
    ENCODES_TO("true", "\xc3");
    ENCODES_TO("false", "\xc2");
    ENCODES_TO("\"ab\"", "\xa2"
                         "ab");
    ENCODES_TO("\"\\u0000\"", "\xa1\x00");
    ENCODES_TO("[1,[]]", "\x92\x01\x90");
    ENCODES_TO("{\"a\":{}}", "\x81\xa1"
                             "a\x80");
    ENCODES_TO("{\"$bin\":\"AAEC\"}", "\xc4\x03\x00\x01\x02");
}

static void test_bad_json(void **state)
{
    bad_json("{bad", "invalid JSON at line 1, column 4:");
    bad_json("{bad", "string or '}' expected near 'b");
    bad_json("[1,2", "line 1, column 4");
    bad_json("", "line 1, column 0");
    bad_json("{\"a\":1,\n \"b\":}", "invalid JSON at line 2, column 6");
    bad_json("1 2", "end of file expected");
    bad_json("'single'", "invalid token");
    bad_json("\"\xff\"", "unable to decode byte 0xff");
    bad_json("9223372036854775808", "too big integer");
    bad_json("-9223372036854775809", "too big negative integer");
    bad_json("{\"$bin\":\"not base64\"}", "\"$bin\" is not base64");
    bad_json("[{\"$bin\":\"AAA\"}]", "\"$bin\" is not base64");
}

/* ---- msgpack -> JSON ---- */

static void test_msgpack_to_json(void **state)
{
    MSGPACK_JSON("\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
                 "18446744073709551615");
    MSGPACK_JSON("\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
                 "-9223372036854775808");
    /* float32 0.1 prints as 0.1, not as the double it widens to. */
    MSGPACK_JSON("\xca\x3d\xcc\xcc\xcd", "0.1");
    MSGPACK_JSON("\xca\x40\x00\x00\x00", "2.0");
    MSGPACK_JSON("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", "null"); /* NaN */
    MSGPACK_JSON("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", "null"); /* inf */
    MSGPACK_JSON("\xc4\x00", "{\"$bin\":\"\"}");
    MSGPACK_JSON("\xc4\x04\xde\xad\xbe\xef", "{\"$bin\":\"3q2+7w==\"}");
    MSGPACK_JSON("\xd4\x05\x2a", "{\"$ext\":5,\"$data\":\"Kg==\"}");
    MSGPACK_JSON("\xc7\x00\xff", "{\"$ext\":-1,\"$data\":\"\"}");
    /* Keys that are not strings are written as their JSON text. */
    MSGPACK_JSON("\x84\x01\xa1"
                 "a\x92\x01\x02\xa1"
                 "b\xc0\x01\xc3\xc2",
                 "{\"1\":\"a\",\"[1,2]\":\"b\",\"null\":1,\"true\":false}");
    MSGPACK_JSON("\x81\x81\xa1k\xa1v\x00", "{\"{\\\"k\\\":\\\"v\\\"}\":0}");
    /* Bytes that are not UTF-8 become U+FFFD; control characters are
     * escaped; DEL and valid non-ASCII pass. */
    MSGPACK_JSON("\xa6"
                 "a\xff\xc3\xa9\x7f\x1f",
                 "\"a\xef\xbf\xbd\xc3\xa9\x7f\\u001f\"");
    MSGPACK_JSON("\xa3\xed\xa0\x80",
                 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    MSGPACK_JSON("\xa2\xc0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    MSGPACK_JSON("\xa2\xe2\x98", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void test_json_pretty(void **state)
{
    msgpack_json("\x82\xa1"
                 "a\x92\x01\x80\xa1"
                 "b\x90",
                 9, 2,
                 "{\n"
                 "  \"a\": [\n"
                 "    1,\n"
                 "    {}\n"
                 "  ],\n"
                 "  \"b\": []\n"
                 "}");
    msgpack_json("\x90", 1, 2, "[]");
    msgpack_json("\x91\xc4\x01\x00", 4, 4,
                 "[\n"
                 "    {\"$bin\": \"AA==\"}\n"
                 "]");
}

/* ---- msgpack -> YAML ---- */

static void test_msgpack_to_yaml(void **state)
{
    /* {"name": "counter", "n": 3, "neg": -4, "ok": true, "none": nil,
     *  "real": 1.5, "list": [1, "x"], "empty": {}, "nolist": []} */
    MSGPACK_YAML("\x89"
                 "\xa4name\xa7"
                 "counter"
                 "\xa1n\x03"
                 "\xa3neg\xfc"
                 "\xa2ok\xc3"
                 "\xa4none\xc0"
                 "\xa4real\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"
                 "\xa4list\x92\x01\xa1x"
                 "\xa5"
                 "empty\x80"
                 "\xa6nolist\x90",
                 "name: counter\n"
                 "n: 3\n"
                 "neg: -4\n"
                 "ok: true\n"
                 "none: null\n"
                 "real: 1.5\n"
                 "list:\n"
                 "- 1\n"
                 "- x\n"
                 "empty: {}\n"
                 "nolist: []\n");
    /* Strings a reader would take for another type are quoted. */
    MSGPACK_YAML("\x98\xa4true\xa3"
                 "123\xa0\xa4null\xa2-5\xa3.5x\xa2no\xa4"
                 "1:20",
                 "- 'true'\n"
                 "- '123'\n"
                 "- ''\n"
                 "- 'null'\n"
                 "- '-5'\n"
                 "- '.5x'\n"
                 "- 'no'\n"
                 "- '1:20'\n");
    /* Text of several lines is a literal block; bin is !!binary. */
    MSGPACK_YAML("\x82\xa8manifest\xaa"
                 "a: 1\nb: 2\n"
                 "\xa3mod\xc4\x03\x00\x01\x02",
                 "manifest: |\n"
                 "  a: 1\n"
                 "  b: 2\n"
                 "mod: !!binary AAEC\n");
    /* Invalid UTF-8 (which libyaml refuses) becomes U+FFFD; float32. */
    MSGPACK_YAML("\x92\xa2x\xff\xca\x3d\xcc\xcc\xcd", "- x\xef\xbf\xbd\n"
                                                      "- 0.1\n");
    MSGPACK_YAML("\x93\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"
                 "\xcb\xff\xf0\x00\x00\x00\x00\x00\x00"
                 "\xd4\x05\x2a",
                 "- .nan\n"
                 "- -.inf\n"
                 "- type: 5\n"
                 "  data: !!binary Kg==\n");
    MSGPACK_YAML("\xa5hello", "hello\n");
}

/* ---- base64 ---- */

static void test_base64(void **state)
{
    static const char *const vectors[][2] = {{"", ""},
                                             {"f", "Zg=="},
                                             {"fo", "Zm8="},
                                             {"foo", "Zm9v"},
                                             {"foob", "Zm9vYg=="},
                                             {"fooba", "Zm9vYmE="},
                                             {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const char *raw = vectors[i][0], *enc = vectors[i][1];
        char out[32];
        assert_int_equal(ctl_base64_len(strlen(raw)), strlen(enc));
        assert_int_equal(
            ctl_base64_encode((const uint8_t *)raw, strlen(raw), out),
            strlen(enc));
        assert_string_equal(out, enc);
        uint8_t dec[32];
        size_t n = 99;
        assert_true(ctl_base64_decode(enc, strlen(enc), dec, &n));
        assert_int_equal(n, strlen(raw));
        assert_memory_equal(dec, raw, n);
    }
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char enc[400];
    uint8_t dec[300];
    size_t n = 0;
    size_t len = ctl_base64_encode(all, sizeof all, enc);
    assert_true(ctl_base64_decode(enc, len, dec, &n));
    assert_int_equal(n, 256);
    assert_memory_equal(dec, all, 256);

    static const char *const bad[] = {"Zg=",      "Z===", "=AAA",     "AA=A",
                                      "Zm9v!A==", "Zm 9", "Zg==Zg==", "===="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ctl_base64_decode(bad[i], strlen(bad[i]), dec, &n))
            fail_msg("\"%s\" decoded", bad[i]);
}

/* ---- allocation failures ---- */

/* Every allocation of a conversion, failed in turn, gives an error (never
 * a crash or a leak), until there are enough for it to succeed. */
static void test_allocation_failures(void **state)
{
    static const char json[] =
        "{\"a\":[1,2.5,\"x\",null,true,{\"$bin\":\"AAECAw==\"}],"
        "\"b\":{\"c\":\"a longer string to make the buffer grow, again "
        "and again and again\",\"d\":[[[[]]]]}}";
    bool succeeded = false;
    for (unsigned n = 1; n < 1000 && !succeeded; n++) {
        uint8_t *out = NULL;
        size_t len = 0;
        shoal_errinfo ei;
        alloc_watch(n);
        shoal_err err =
            ctl_json_to_msgpack(json, strlen(json), &out, &len, &ei);
        free(out);
        long live = alloc.live;
        alloc_unwatch();
        /* jansson reports some failed allocations as syntax errors (a
         * token it could not store is not there), hence SHOAL_EINVAL. */
        if (err == SHOAL_OK)
            succeeded = true;
        else if (err != SHOAL_ENOMEM && err != SHOAL_EINVAL)
            fail_msg("allocation %u failed: %s", n, ei.msg);
        assert_int_equal(live, 0);
    }
    assert_true(succeeded);
}

int main(void)
{
    json_set_alloc_funcs(__wrap_malloc, __wrap_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_msgpack_to_json),
        cmocka_unit_test(test_json_pretty),
        cmocka_unit_test(test_msgpack_to_yaml),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
