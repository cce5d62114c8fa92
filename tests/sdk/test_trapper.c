/* examples/actors/trapper.c, built natively against the fake runtime. Its
 * traps are the host's signals here, so each runs in a child process. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_host.h"

static void deliver_str(int32_t kind, const char *s)
{
    size_t len;
    const uint8_t *msg = fake_mp_str(s, &len);
    fake_deliver(kind, 7, msg, len);
}

static void test_other_messages(void **state)
{
    (void)state;
    fake_reset(100);
    deliver_str(SHOAL_MSG_REQUEST, "hello");
    deliver_str(SHOAL_MSG_CAST, "hello");
    deliver_str(SHOAL_MSG_EXIT, "boom"); /* only casts and requests */
    assert_false(fake.exited);
    assert_int_equal(fake.rc, 0);
    assert_int_equal(fake.out_len, 1);
    assert_int_equal(fake.out[0].kind, FAKE_OUT_REPLY);
    assert_true(fake_out_str(0, "ok"));
}

static void on_signal(int sig)
{
    _exit(100 + sig);
}

/* Delivers the command in a child; returns how the child ended: 100 plus
 * the signal that stopped it, or 0 if the handler returned. */
static int trap_in_child(const char *cmd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGFPE, &sa, NULL);
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        sigaction(SIGILL, &sa, NULL);
        sigaction(SIGTRAP, &sa, NULL);
        fake_reset(100);
        deliver_str(SHOAL_MSG_CAST, cmd);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return 100 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static void test_traps(void **state)
{
    (void)state;
    assert_int_equal(trap_in_child("boom"), 100 + SIGFPE);
    int unreachable = trap_in_child("unreachable");
    assert_true(unreachable == 100 + SIGILL || unreachable == 100 + SIGTRAP);
    int oob = trap_in_child("oob");
    assert_true(oob == 100 + SIGSEGV || oob == 100 + SIGBUS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_messages),
        cmocka_unit_test(test_traps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
