/* Tests of ctl/output.c: ages, sizes, times and durations as shoalctl
 * prints and reads them, and the alignment of its tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

static void age_is(int64_t ms, const char *want)
{
    char buf[32];
    ctl_format_age(ms, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("age of %lld ms: %s, wanted %s", (long long)ms, buf, want);
}

static void test_ages(void **state)
{
    age_is(0, "0s");
    age_is(999, "0s");
    age_is(5000, "5s");
    age_is(59999, "59s");
    age_is(60000, "1m");
    age_is(3 * 60000 + 59000, "3m");
    age_is(3599999, "59m");
    age_is(3600000, "1h");
    age_is(2 * 3600000 + 1, "2h");
    age_is(86399999, "23h");
    age_is(86400000, "1d");
    age_is(400LL * 86400000, "1y");
    age_is(-5000, "0s"); /* a clock behind the node's */
}

static void size_is(uint64_t bytes, const char *want)
{
    char buf[32];
    ctl_format_size(bytes, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("size of %llu: %s, wanted %s", (unsigned long long)bytes, buf,
                 want);
}

static void test_sizes(void **state)
{
    size_is(0, "0 B");
    size_is(512, "512 B");
    size_is(1023, "1023 B");
    size_is(1024, "1 KiB");
    size_is(1536, "1.5 KiB");
    size_is(12595, "12.3 KiB");
    size_is(65536, "64 KiB");
    size_is(99 * 1024 + 1000, "100 KiB"); /* 99.98 rounds up */
    size_is(123 * 1024 + 600, "124 KiB");
    size_is(1048575, "1024 KiB");
    size_is(1048576, "1 MiB");
    size_is(1048576 + 104858, "1.1 MiB");
    size_is(3ULL << 30, "3 GiB");
    size_is(UINT64_MAX, "16 EiB");
}

static void test_times(void **state)
{
    char buf[64];
    ctl_format_time(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    ctl_format_time(1795249464123LL, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-21T08:24:24.123Z");
    ctl_format_time(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

static void duration_is(const char *s, int64_t want)
{
    int64_t ms = -1;
    if (!ctl_parse_duration(s, &ms))
        fail_msg("\"%s\" was not read", s);
    if (ms != want)
        fail_msg("\"%s\": %lld ms, wanted %lld", s, (long long)ms,
                 (long long)want);
}

static void test_durations(void **state)
{
    duration_is("500ms", 500);
    duration_is("1ms", 1);
    duration_is("10s", 10000);
    duration_is("1.5s", 1500);
    duration_is("0.25s", 250);
    duration_is("2m", 120000);
    duration_is("1h", 3600000);
    duration_is("596h", 596LL * 3600000);
    static const char *const bad[] = {
        "",   "10", "s",  "-1s", "+1s",   "1.s",  ".5s",  "1 s",
        "1S", "1d", "0s", "0ms", "0.1ms", "597h", "1sec", "1e3ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -1;
        if (ctl_parse_duration(bad[i], &ms))
            fail_msg("\"%s\" read as %lld ms", bad[i], (long long)ms);
    }

    char buf[32];
    ctl_format_duration(500, buf, sizeof buf);
    assert_string_equal(buf, "500ms");
    ctl_format_duration(1500, buf, sizeof buf);
    assert_string_equal(buf, "1500ms");
    ctl_format_duration(10000, buf, sizeof buf);
    assert_string_equal(buf, "10s");
    ctl_format_duration(120000, buf, sizeof buf);
    assert_string_equal(buf, "2m");
    ctl_format_duration(7200000, buf, sizeof buf);
    assert_string_equal(buf, "2h");
}

/* The table printed to a string (the caller frees it). */
static char *printed(const ctl_table *t, int indent)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ctl_table_print(t, indent, f);
    fclose(f);
    return text;
}

static void test_table(void **state)
{
    static const char *const headers[] = {"NAME", "VERSION", "READY"};
    ctl_table *t = ctl_table_new(3, headers);
    assert_non_null(t);
    assert_int_equal(ctl_table_rows(t), 0);
    static const char *const r1[] = {"counter", "3", "3/3"};
    static const char *const r2[] = {"a-much-longer-name", "12", NULL};
    assert_int_equal(ctl_table_add(t, r1), SHOAL_OK);
    assert_int_equal(ctl_table_add(t, r2), SHOAL_OK);
    assert_int_equal(ctl_table_rows(t), 2);
    char *text = printed(t, 0);
    assert_string_equal(text, "NAME                 VERSION   READY\n"
                              "counter              3         3/3\n"
                              "a-much-longer-name   12        -\n");
    free(text);
    text = printed(t, 2);
    assert_string_equal(text, "  NAME                 VERSION   READY\n"
                              "  counter              3         3/3\n"
                              "  a-much-longer-name   12        -\n");
    free(text);
    ctl_table_free(t);

    /* Width counts characters: "é" is two bytes and one column. */
    static const char *const h2[] = {"A", "B"};
    t = ctl_table_new(2, h2);
    static const char *const r3[] = {"caf\xc3\xa9", "x"};
    static const char *const r4[] = {"cafes", "y"};
    ctl_table_add(t, r3);
    ctl_table_add(t, r4);
    text = printed(t, 0);
    assert_string_equal(text, "A       B\n"
                              "caf\xc3\xa9    x\n"
                              "cafes   y\n");
    free(text);
    ctl_table_free(t);
    assert_int_equal(ctl_utf8_width("\xe2\x98\x83 x"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ages),  cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_times), cmocka_unit_test(test_durations),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
