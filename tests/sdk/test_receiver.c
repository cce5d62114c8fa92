/* examples/actors/receiver.c, built natively against the fake runtime:
 * its receive loop runs over a scripted mailbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "fake_host.h"

static int setup(void **state)
{
    (void)state;
    fake_reset(100);
    return 0;
}

static void enqueue_str(int32_t kind, shoal_id from, const char *s)
{
    size_t len;
    const uint8_t *msg = fake_mp_str(s, &len);
    fake_enqueue(kind, from, msg, len);
}

static void enqueue_timeout(uint64_t ms)
{
    uint8_t buf[32];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_map(&w, 1);
    shoal_mpw_cstr(&w, "timeout_ms");
    shoal_mpw_uint(&w, ms);
    fake_enqueue(SHOAL_MSG_INIT, 0, buf, w.len);
}

/* The index of the first output of that kind at or after i. */
static size_t find(size_t i, int32_t kind)
{
    while (i < fake.out_len && fake.out[i].kind != kind)
        i++;
    return i;
}

static void test_replies_and_stop(void **state)
{
    (void)state;
    static const uint8_t pair[] = {0x92, 0x01, 0x02};
    enqueue_timeout(5);
    enqueue_str(SHOAL_MSG_CAST, 7, "hello");
    fake_enqueue(SHOAL_MSG_REQUEST, 8, pair, sizeof pair);
    enqueue_str(SHOAL_MSG_REQUEST, 9, "stop");
    enqueue_str(SHOAL_MSG_CAST, 9, "never read");
    fake_run_main();
    assert_false(fake.exited); /* returned from shoal_main: normal */

    assert_true(fake_out_log(0, SHOAL_LOG_INFO,
                             "receiver: init from 0 (13 bytes): "
                             "{\"timeout_ms\": 5}"));
    assert_true(fake_out_log(1, SHOAL_LOG_INFO,
                             "receiver: cast from 7 (6 bytes): \"hello\""));
    assert_true(fake_out_log(2, SHOAL_LOG_INFO,
                             "receiver: request from 8 (3 bytes): [1, 2]"));
    assert_int_equal(fake.out[3].kind, FAKE_OUT_REPLY);
    assert_int_equal(fake.out[3].peer, 8);
    assert_memory_equal(fake.out[3].data, pair, sizeof pair);
    assert_true(fake_out_log(4, SHOAL_LOG_INFO,
                             "receiver: request from 9 (5 bytes): \"stop\""));
    assert_int_equal(fake.out[5].kind, FAKE_OUT_REPLY);
    assert_true(fake_out_str(5, "stopping"));
    assert_true(fake_out_log(6, SHOAL_LOG_INFO, "receiver: stopping"));
    assert_int_equal(fake.out_len, 7);
    assert_int_equal(fake.queue_len, 1);
}

static void test_cast_stop(void **state)
{
    (void)state;
    enqueue_str(SHOAL_MSG_CAST, 7, "stop");
    fake_run_main();
    assert_false(fake.exited);
    assert_int_equal(find(0, FAKE_OUT_REPLY), fake.out_len);
}

static void test_crash(void **state)
{
    (void)state;
    enqueue_str(SHOAL_MSG_REQUEST, 7, "crash");
    enqueue_str(SHOAL_MSG_CAST, 7, "stop");
    fake_run_main();
    assert_true(fake.exited);
    assert_int_equal(fake.exit_code, 3);
    /* No reply: the caller sees the callee exit. */
    assert_int_equal(find(0, FAKE_OUT_REPLY), fake.out_len);
}

static void test_idle(void **state)
{
    (void)state;
    fake.idle_limit = 3; /* the third timeout ends the run */
    fake_run_main();
    assert_true(fake.exited);
    assert_int_equal(fake.exit_code, -1);
    assert_int_equal(fake.out_len, 2);
    assert_true(fake_out_log(0, SHOAL_LOG_DEBUG, "receiver: idle"));
    assert_true(fake_out_log(1, SHOAL_LOG_DEBUG, "receiver: idle"));
}

static void test_rendering(void **state)
{
    (void)state;
    uint8_t buf[1024];
    shoal_mp_writer w;
    static const uint8_t three[3] = {1, 2, 3};
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_map(&w, 3);
    shoal_mpw_cstr(&w, "a");
    shoal_mpw_array(&w, 5);
    shoal_mpw_int(&w, -2);
    shoal_mpw_bool(&w, true);
    shoal_mpw_nil(&w);
    shoal_mpw_double(&w, 2.75);
    shoal_mpw_uint(&w, UINT64_MAX);
    shoal_mpw_cstr(&w, "b\"\n");
    shoal_mpw_bin(&w, three, 3);
    shoal_mpw_int(&w, INT64_MIN);
    shoal_mpw_array(&w, 0);
    fake_enqueue(SHOAL_MSG_CAST, 0x10000, buf, w.len);

    /* Nesting deeper than the renderer goes. */
    uint8_t deep[12];
    memset(deep, 0x91, 11);
    deep[11] = 0x01;
    fake_enqueue(SHOAL_MSG_EXIT, 1, deep, sizeof deep);

    /* A long string is cut. */
    char text[500];
    memset(text, 'x', sizeof text);
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_str(&w, text, sizeof text);
    fake_enqueue(SHOAL_MSG_DOWN, 2, buf, w.len);
    enqueue_str(SHOAL_MSG_CAST, 0, "stop");
    fake_run_main();

    char want[256];
    snprintf(want, sizeof want,
             "receiver: cast from 65536 (%d bytes): {\"a\": [-2, true, nil, "
             "2(float), 18446744073709551615], \"b\\\"?\": <3 bytes>, "
             "-9223372036854775808: []}",
             44);
    if (!fake_out_log(0, SHOAL_LOG_INFO, want))
        fail_msg("got %.*s", (int)fake.out[0].len, fake.out[0].data);
    assert_true(fake_out_log(1, SHOAL_LOG_INFO,
                             "receiver: exit from 1 (12 bytes): "
                             "[[[[[[[[...]]]]]]]]"));
    assert_int_equal(fake.out[2].kind, FAKE_OUT_LOG);
    const char *line = (const char *)fake.out[2].data;
    size_t n = fake.out[2].len;
    assert_true(n > 3 && n <= 200 + 3);
    assert_memory_equal(line, "receiver: down from 2 (503 bytes): \"xxx",
                        strlen("receiver: down from 2 (503 bytes): \"xxx"));
    assert_memory_equal(line + n - 3, "...", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_replies_and_stop, setup),
        cmocka_unit_test_setup(test_cast_stop, setup),
        cmocka_unit_test_setup(test_crash, setup),
        cmocka_unit_test_setup(test_idle, setup),
        cmocka_unit_test_setup(test_rendering, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
