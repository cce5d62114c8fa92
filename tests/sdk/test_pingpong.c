/* examples/actors/pingpong.c, built natively against the fake runtime.
 * The actor's state is the file's, as in one instance: the tests run in
 * order, and the one that sets "stay" comes last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fake_host.h"

static void init_map(uint64_t peer, int64_t count, int stay)
{
    uint8_t buf[64];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_map(&w, (uint32_t)((peer != 0) + (count >= 0) + (stay >= 0)));
    if (peer != 0) {
        shoal_mpw_cstr(&w, "peer");
        shoal_mpw_uint(&w, peer);
    }
    if (count >= 0) {
        shoal_mpw_cstr(&w, "count");
        shoal_mpw_int(&w, count);
    }
    if (stay >= 0) {
        shoal_mpw_cstr(&w, "stay");
        shoal_mpw_bool(&w, stay != 0);
    }
    fake_init(0, buf, w.len);
}

static void ball(shoal_id from, uint64_t n)
{
    size_t len;
    const uint8_t *msg = fake_mp_uint(n, &len);
    fake_deliver(SHOAL_MSG_CAST, from, msg, len);
}

static bool sent(size_t i, shoal_id to, int64_t n)
{
    return i < fake.out_len && fake.out[i].kind == FAKE_OUT_SEND &&
           fake.out[i].peer == to && fake_out_int(i, n);
}

/* The server: serves 3 to peer 9, then plays 2 -> 1 and receives 0. */
static void test_serve(void **state)
{
    (void)state;
    fake_reset(100);
    init_map(9, 3, -1);
    assert_false(fake.exited);
    assert_int_equal(fake.rc, 0);
    assert_true(sent(0, 9, 3));
    ball(9, 2);
    assert_false(fake.exited);
    assert_true(sent(1, 9, 1));
    ball(9, 0);
    assert_true(fake.exited);
    assert_int_equal(fake.exit_code, 0);
    assert_int_equal(fake.out_len, 2);
}

/* The receiver of the service: 3 -> 2, then 1 -> 0 and it is over. */
static void test_return(void **state)
{
    (void)state;
    fake_reset(100);
    init_map(0, -1, -1); /* {}: wait to be served */
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 0);
    ball(5, 3);
    assert_false(fake.exited);
    assert_true(sent(0, 5, 2));
    ball(5, 1);
    assert_true(fake.exited);
    assert_int_equal(fake.exit_code, 0);
    assert_true(sent(1, 5, 0));
}

static void test_serve_zero(void **state)
{
    (void)state;
    fake_reset(100);
    init_map(9, 0, -1);
    assert_true(fake.exited);
    assert_int_equal(fake.exit_code, 0);
    assert_true(sent(0, 9, 0));
}

static void test_no_init(void **state)
{
    (void)state;
    static const uint8_t nil[] = {0xc0};
    fake_reset(100);
    fake_init(0, NULL, 0);
    assert_int_equal(fake.rc, 0);
    fake_init(0, nil, 1);
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 0);
}

static void test_odd_keys_are_skipped(void **state)
{
    (void)state;
    uint8_t buf[64];
    shoal_mp_writer w;
    fake_reset(100);
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_map(&w, 4);
    shoal_mpw_uint(&w, 1); /* a key that is not a string */
    shoal_mpw_array(&w, 2);
    shoal_mpw_nil(&w);
    shoal_mpw_nil(&w);
    shoal_mpw_cstr(&w, "count");
    shoal_mpw_uint(&w, 4);
    shoal_mpw_cstr(&w, "colour");
    shoal_mpw_cstr(&w, "blue");
    shoal_mpw_cstr(&w, "peer");
    shoal_mpw_uint(&w, 0x0002000000000001u);
    fake_init(0, buf, w.len);
    assert_int_equal(fake.rc, 0);
    assert_true(sent(0, 0x0002000000000001u, 4));
}

static void test_bad_init(void **state)
{
    (void)state;
    static const uint8_t bad[][8] = {
        {0x01},                                      /* an integer */
        {0x81, 0xa4, 'p', 'e', 'e', 'r', 0xa1, 'x'}, /* peer "x" */
        {0x81, 0xa5, 'c', 'o', 'u', 'n', 't', 0xff}, /* count -1 */
        {0x82, 0xa4, 's', 't', 'a', 'y', 0xc3},      /* a pair missing */
    };
    static const size_t lens[] = {1, 8, 8, 7};
    for (size_t i = 0; i < 4; i++) {
        fake_reset(100);
        fake_init(0, bad[i], lens[i]);
        assert_false(fake.exited);
        assert_int_equal(fake.rc, 2);
        assert_int_equal(fake.out[0].kind, FAKE_OUT_LOG);
    }
}

static void test_send_failure(void **state)
{
    (void)state;
    fake_reset(100);
    fake.send_result = SHOAL_E_NOACTOR;
    init_map(9, 5, -1);
    assert_int_equal(fake.rc, 3);
    fake_reset(100);
    fake.send_result = SHOAL_E_FULL;
    ball(9, 5);
    assert_int_equal(fake.rc, 3);
}

static void test_others(void **state)
{
    (void)state;
    fake_reset(100);
    /* A ball from the embedder has nobody to go back to. */
    ball(0, 7);
    assert_false(fake.exited);
    assert_int_equal(fake.out_len, 0);
    /* Not balls. */
    size_t len;
    const uint8_t *s = fake_mp_str("7", &len);
    fake_deliver(SHOAL_MSG_CAST, 5, s, len);
    static const uint8_t minus[] = {0xff};
    fake_deliver(SHOAL_MSG_CAST, 5, minus, 1);
    static const uint8_t notice[] = {0x80};
    fake_deliver(SHOAL_MSG_DOWN, 5, notice, 1);
    assert_false(fake.exited);
    assert_int_equal(fake.out_len, 0);
}

/* Last: it sets "stay". Also counts every ball received so far. */
static void test_stay_and_count(void **state)
{
    (void)state;
    fake_reset(100);
    init_map(0, -1, 1);
    ball(5, 1);
    assert_false(fake.exited);
    assert_true(sent(0, 5, 0));
    ball(5, 0);
    assert_false(fake.exited);
    static const uint8_t q[] = {0xc0};
    fake_deliver(SHOAL_MSG_REQUEST, 8, q, 1);
    assert_int_equal(fake.out[1].kind, FAKE_OUT_REPLY);
    /* Balls in the earlier tests: 2 + 2 + 0 + 0 + 0 + 1 + 1, then 2. */
    assert_true(fake_out_int(1, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve),
        cmocka_unit_test(test_return),
        cmocka_unit_test(test_serve_zero),
        cmocka_unit_test(test_no_init),
        cmocka_unit_test(test_odd_keys_are_skipped),
        cmocka_unit_test(test_bad_init),
        cmocka_unit_test(test_send_failure),
        cmocka_unit_test(test_others),
        cmocka_unit_test(test_stay_and_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
