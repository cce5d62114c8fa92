/* examples/actors/counter.c, built natively against the fake runtime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fake_host.h"

/* Starts the counter over at `start` (the actor's state is the file's). */
static void start_at(int64_t start)
{
    uint8_t buf[16];
    shoal_mp_writer w;
    fake_reset(100);
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_int(&w, start);
    fake_init(0, buf, w.len);
    assert_false(fake.exited);
    assert_int_equal(fake.rc, 0);
    /* It says it is ready, in its log; the tests look at what follows. */
    assert_int_equal(fake.out_len, 1);
    assert_int_equal(fake.out[0].kind, FAKE_OUT_LOG);
    fake_clear_out();
}

static void command(int32_t kind, const char *cmd)
{
    size_t len;
    const uint8_t *msg = fake_mp_str(cmd, &len);
    fake_deliver(kind, 7, msg, len);
    assert_false(fake.exited);
    assert_int_equal(fake.rc, 0);
}

static void test_inc_and_get(void **state)
{
    (void)state;
    start_at(0);
    command(SHOAL_MSG_REQUEST, "get");
    command(SHOAL_MSG_REQUEST, "inc");
    command(SHOAL_MSG_REQUEST, "inc");
    command(SHOAL_MSG_REQUEST, "get");
    assert_int_equal(fake.out_len, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(fake.out[i].kind, FAKE_OUT_REPLY);
        assert_int_equal(fake.out[i].peer, 7);
    }
    assert_true(fake_out_int(0, 0));
    assert_true(fake_out_int(1, 1));
    assert_true(fake_out_int(2, 2));
    assert_true(fake_out_int(3, 2));
}

static void test_cast_inc_has_no_answer(void **state)
{
    (void)state;
    start_at(-2);
    for (int i = 0; i < 300; i++)
        command(SHOAL_MSG_CAST, "inc");
    command(SHOAL_MSG_CAST, "get");
    command(SHOAL_MSG_CAST, "nonsense");
    assert_int_equal(fake.out_len, 0);
    command(SHOAL_MSG_REQUEST, "get");
    assert_true(fake_out_int(0, 298));
}

static void test_unknown_request(void **state)
{
    (void)state;
    start_at(0);
    command(SHOAL_MSG_REQUEST, "dec");
    static const uint8_t not_a_string[] = {0x03};
    fake_deliver(SHOAL_MSG_REQUEST, 7, not_a_string, 1);
    assert_int_equal(fake.out_len, 2);
    for (size_t i = 0; i < 2; i++) {
        shoal_mp_reader r;
        uint32_t pairs = 0, n = 0;
        const char *s = NULL;
        shoal_mpr_init(&r, fake.out[i].data, fake.out[i].len);
        assert_int_equal(shoal_mpr_map(&r, &pairs), 0);
        assert_int_equal(pairs, 1);
        assert_int_equal(shoal_mpr_str(&r, &s, &n), 0);
        assert_true(shoal_mp_str_equals(s, n, "error"));
        assert_int_equal(shoal_mpr_str(&r, &s, &n), 0);
        assert_true(shoal_mp_str_equals(s, n, "unknown command"));
        assert_true(shoal_mpr_done(&r));
    }
    command(SHOAL_MSG_REQUEST, "get");
    assert_true(fake_out_int(2, 0));
}

static void test_init(void **state)
{
    (void)state;
    start_at(41);
    command(SHOAL_MSG_REQUEST, "inc");
    assert_true(fake_out_int(0, 42));

    /* nil or nothing: the count is as it was (0 in a new actor). */
    fake_reset(100);
    static const uint8_t nil[] = {0xc0};
    fake_init(0, nil, 1);
    assert_int_equal(fake.rc, 0);
    fake_init(0, NULL, 0);
    assert_int_equal(fake.rc, 0);

    /* Anything else: exit code 2. */
    size_t len;
    const uint8_t *s = fake_mp_str("zero", &len);
    fake_init(0, s, len);
    assert_int_equal(fake.rc, 2);
    static const uint8_t two[] = {0x01, 0x02};
    fake_init(0, two, 2);
    assert_int_equal(fake.rc, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inc_and_get),
        cmocka_unit_test(test_cast_inc_has_no_answer),
        cmocka_unit_test(test_unknown_request),
        cmocka_unit_test(test_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
