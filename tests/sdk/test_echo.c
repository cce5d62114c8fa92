/* examples/actors/echo.c, built natively against the fake runtime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fake_host.h"

static int setup(void **state)
{
    (void)state;
    fake_reset(100);
    return 0;
}

static void test_request_is_answered_with_the_same_bytes(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x92, 0x01, 0xa2, 'h', 'i'};
    fake_deliver(SHOAL_MSG_REQUEST, 7, msg, sizeof msg);
    assert_false(fake.exited);
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 1);
    assert_int_equal(fake.out[0].kind, FAKE_OUT_REPLY);
    assert_int_equal(fake.out[0].peer, 7);
    assert_int_equal(fake.out[0].len, sizeof msg);
    assert_memory_equal(fake.out[0].data, msg, sizeof msg);
}

static void test_cast_goes_back_to_its_sender(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0xc3};
    fake_deliver(SHOAL_MSG_CAST, 0x0001000000050002u, msg, sizeof msg);
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 1);
    assert_int_equal(fake.out[0].kind, FAKE_OUT_SEND);
    assert_true(fake.out[0].peer == 0x0001000000050002u);
    assert_memory_equal(fake.out[0].data, msg, sizeof msg);
}

static void test_nothing_goes_back_to_nobody(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x01};
    fake_deliver(SHOAL_MSG_CAST, 0, msg, sizeof msg);
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 0);
    /* A full mailbox drops the echo and keeps the actor. */
    fake.send_result = SHOAL_E_FULL;
    fake_deliver(SHOAL_MSG_CAST, 5, msg, sizeof msg);
    assert_int_equal(fake.rc, 0);
    assert_false(fake.exited);
    assert_int_equal(fake.out_len, 0);
}

static void test_notices_are_ignored(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x80};
    fake_deliver(SHOAL_MSG_EXIT, 5, msg, sizeof msg);
    fake_deliver(SHOAL_MSG_DOWN, 5, msg, sizeof msg);
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 0);
}

/* Longer than the SDK's static buffer: read into malloc'ed memory. */
static void test_long_message(void **state)
{
    (void)state;
    size_t n = 200000;
    uint8_t *msg = malloc(n + 5);
    assert_non_null(msg);
    shoal_mp_writer w;
    shoal_mpw_init(&w, msg, n + 5);
    uint8_t *body = malloc(n);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (uint8_t)(i * 7);
    shoal_mpw_bin(&w, body, n);
    assert_true(shoal_mpw_ok(&w));
    fake_deliver(SHOAL_MSG_REQUEST, 7, msg, w.len);
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 1);
    assert_int_equal(fake.out[0].len, w.len);
    assert_memory_equal(fake.out[0].data, msg, w.len);

    /* Without memory for it, the actor logs and exits. */
    fake.fail_malloc = true;
    fake_deliver(SHOAL_MSG_REQUEST, 7, msg, w.len);
    assert_int_equal(fake.rc, SHOAL_EXIT_NOMEM);
    assert_int_equal(fake.out_len, 2);
    assert_int_equal(fake.out[1].kind, FAKE_OUT_LOG);
    assert_int_equal(fake.out[1].level, SHOAL_LOG_ERROR);
    free(body);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_request_is_answered_with_the_same_bytes,
                               setup),
        cmocka_unit_test_setup(test_cast_goes_back_to_its_sender, setup),
        cmocka_unit_test_setup(test_nothing_goes_back_to_nobody, setup),
        cmocka_unit_test_setup(test_notices_are_ignored, setup),
        cmocka_unit_test_setup(test_long_message, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
