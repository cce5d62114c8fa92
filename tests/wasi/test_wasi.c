/* WASI preview1 through the API: real wasi-libc programs and hand-written
 * modules run on the engine with pipes for their standard streams; the
 * tests compare what they print, the arguments and environment they see,
 * their exit codes and the errno values of calls at the edges (ENOSYS,
 * EFAULT, EBADF). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "wasi.h"
#include "wasm.h"

/* One program run: what to run, then what happened. */
typedef struct prog_run {
    const char *file;        /* name under PROGS_DIR, or a path */
    const char *func;        /* export to call; NULL: _start */
    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated, or NULL */
    const char *input;       /* stdin bytes; NULL: none */
    bool keep_stdin_open;    /* no EOF on stdin while it runs */
    int fds[3];              /* with own_fds: the program's stdio */
    bool own_fds;

    /* Set up by prog_setup. */
    wasm_module *mod;
    wasm_store *store;
    wasi_ctx *ctx;
    wasm_instance *inst;
    int in_w, out_r, err_r; /* our ends of the pipes, or -1 */

    /* Results. */
    shoal_err link_err;
    shoal_errinfo ei;
    wasm_status status;
    wasm_trap trap;
    int32_t exit_code;
    uint64_t results[4];
    uint32_t nresults;
    char *out, *err; /* NUL-terminated captured stdout and stderr */
} prog_run;

static char *prog_path(const char *file)
{
    char *path = malloc(strlen(PROGS_DIR) + strlen(file) + 2);
    assert_non_null(path);
    if (file[0] == '/')
        strcpy(path, file);
    else
        sprintf(path, "%s/%s", PROGS_DIR, file);
    return path;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void make_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    /* Room for everything a test program prints, so that it never waits
     * for this thread to read; best effort above the 64 KiB default. */
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
}

/* Reads a pipe to EOF into a NUL-terminated buffer. */
static char *drain(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* Loads, links and instantiates r->file. Returns false when linking fails
 * (r->link_err and r->ei say why); any other failure fails the test. */
static bool prog_setup(prog_run *r)
{
    char *path = prog_path(r->file);
    size_t len;
    uint8_t *bytes = slurp(path, &len);
    free(path);
    shoal_errinfo ei = {SIZE_MAX, ""};
    shoal_err err = wasm_module_load(bytes, len, NULL, &r->mod, &ei);
    free(bytes);
    if (err != SHOAL_OK)
        fail_msg("load %s: %s at %zu: %s", r->file, shoal_err_name(err),
                 ei.offset, ei.msg);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    r->in_w = r->out_r = r->err_r = -1;
    wasi_config cfg = {0};
    if (r->own_fds) {
        memcpy(cfg.stdio, r->fds, sizeof cfg.stdio);
    } else {
        make_pipe(in);
        make_pipe(out);
        make_pipe(errp);
        cfg.stdio[0] = in[0];
        cfg.stdio[1] = out[1];
        cfg.stdio[2] = errp[1];
        r->in_w = in[1];
        r->out_r = out[0];
        r->err_r = errp[0];
        r->fds[0] = in[0];
        r->fds[1] = out[1];
        r->fds[2] = errp[1];
        if (r->input != NULL) {
            size_t n = strlen(r->input);
            assert_int_equal(write(r->in_w, r->input, n), (ssize_t)n);
        }
        if (!r->keep_stdin_open) {
            close(r->in_w);
            r->in_w = -1;
        }
    }
    static const char *const no_args[] = {"prog", NULL};
    const char *const *argv = r->argv ? r->argv : no_args;
    while (argv[cfg.argc] != NULL)
        cfg.argc++;
    cfg.argv = argv;
    cfg.envp = r->envp;
    assert_int_equal(wasi_ctx_new(&cfg, &r->ctx), SHOAL_OK);

    r->store = wasm_store_new(NULL);
    assert_non_null(r->store);
    uint32_t n = wasm_module_num_imports(r->mod);
    wasm_extern *imports = calloc(n ? n : 1, sizeof *imports);
    assert_non_null(imports);
    r->ei.offset = SIZE_MAX;
    r->ei.msg[0] = '\0';
    r->link_err = wasi_link(r->ctx, r->store, r->mod, imports, &r->ei);
    if (r->link_err == SHOAL_OK) {
        err = wasm_instantiate(r->store, r->mod, imports, n, &r->inst, &ei);
        if (err != SHOAL_OK)
            fail_msg("instantiate %s: %s: %s", r->file, shoal_err_name(err),
                     ei.msg);
    }
    free(imports);
    return r->link_err == SHOAL_OK;
}

/* Runs the start function and then r->func or _start, and collects the
 * outcome and the output. */
static void prog_go(prog_run *r)
{
    wasm_exec *x = wasm_exec_new(r->store);
    assert_non_null(x);
    wasm_func *start = wasm_instance_start(r->inst);
    r->status = WASM_DONE;
    if (start != NULL) {
        assert_int_equal(wasm_exec_call(x, start, NULL, 0), SHOAL_OK);
        r->status = wasm_exec_run(x);
    }
    if (r->status == WASM_DONE) {
        const char *name = r->func ? r->func : "_start";
        wasm_extern e = wasm_instance_export(r->inst, name, strlen(name));
        assert_int_equal(e.kind, WASM_EXTERN_FUNC);
        assert_int_equal(wasm_exec_call(x, e.u.func, NULL, 0), SHOAL_OK);
        r->status = wasm_exec_run(x);
    }
    r->trap = WASM_TRAP_NONE;
    if (r->status == WASM_TRAPPED) {
        r->trap = wasm_exec_trap(x);
        if (r->trap == WASM_TRAP_EXIT)
            r->exit_code = wasm_exec_exit_code(x);
    } else if (r->status == WASM_DONE) {
        const uint64_t *res = wasm_exec_results(x, &r->nresults);
        assert_true(r->nresults <= 4);
        memcpy(r->results, res, r->nresults * sizeof *res);
    }
    wasm_exec_delete(x);

    if (!r->own_fds) {
        /* The host fds stay the embedder's, even those the guest closed. */
        for (int i = 0; i < 3; i++)
            assert_int_not_equal(fcntl(r->fds[i], F_GETFD), -1);
        if (r->in_w >= 0)
            close(r->in_w);
        close(r->fds[0]);
        close(r->fds[1]);
        close(r->fds[2]);
        r->out = drain(r->out_r);
        r->err = drain(r->err_r);
        close(r->out_r);
        close(r->err_r);
    }
}

static void prog_teardown(prog_run *r)
{
    wasm_store_delete(r->store);
    wasi_ctx_delete(r->ctx);
    wasm_module_unref(r->mod);
    free(r->out);
    free(r->err);
}

/* Runs a program start to end; it must link. */
static void prog_run_all(prog_run *r)
{
    if (!prog_setup(r))
        fail_msg("link %s: %s", r->file, r->ei.msg);
    prog_go(r);
}

/* Asserts a normal end: _start returned, or proc_exit(code). */
static void assert_exit(const prog_run *r, int code)
{
    if (code == 0 && r->status == WASM_DONE)
        return;
    if (r->status != WASM_TRAPPED || r->trap != WASM_TRAP_EXIT)
        fail_msg("%s: status %d trap %s, expected exit %d (stderr: %s)",
                 r->file, (int)r->status, wasm_trap_message(r->trap), code,
                 r->err ? r->err : "");
    assert_int_equal(r->exit_code, code);
}

/* ---- Whole programs ------------------------------------------------------ */

static void test_hello(void **state)
{
    const char *argv[] = {"hello.wasm", "one", "two words", NULL};
    prog_run r = {.file = HELLO_WASM, .argv = argv};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out,
                        "Hello from a WebAssembly program running on Shoal!\n"
                        "I was started as hello.wasm with 2 arguments.\n"
                        "  argv[1] = one\n"
                        "  argv[2] = two words\n");
    assert_string_equal(r.err, "");
    assert_false(wasi_ctx_exited(r.ctx, NULL));
    prog_teardown(&r);
}

static void test_args(void **state)
{
    const char *argv[] = {"wasi_check",
                          "args",
                          "",
                          "with space",
                          "\xc3\xbc"
                          "ber",
                          NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "argc=5\n"
                               "argv[0]=wasi_check\n"
                               "argv[1]=args\n"
                               "argv[2]=\n"
                               "argv[3]=with space\n"
                               "argv[4]=\xc3\xbc"
                               "ber\n");
    prog_teardown(&r);
}

/* The context keeps its own copies of the strings. */
static void test_args_copied(void **state)
{
    char mode[] = "args", word[] = "original";
    const char *argv[] = {"wasi_check", mode, word, NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    assert_true(prog_setup(&r));
    memset(word, 'X', sizeof word - 1);
    prog_go(&r);
    assert_string_equal(r.out, "argc=3\nargv[0]=wasi_check\nargv[1]=args\n"
                               "argv[2]=original\n");
    prog_teardown(&r);
}

static void test_env(void **state)
{
    const char *argv[] = {"wasi_check", "env", NULL};
    const char *envp[] = {"SHOAL_CHECK=yes", "EMPTY=", "A=b=c", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv, .envp = envp};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "SHOAL_CHECK=yes\nEMPTY=\nA=b=c\n"
                               "getenv(SHOAL_CHECK)=yes\n");
    prog_teardown(&r);
}

static void test_env_empty(void **state)
{
    const char *argv[] = {"wasi_check", "env", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "getenv(SHOAL_CHECK)=(unset)\n");
    prog_teardown(&r);
}

static void test_clock(void **state)
{
    const char *argv[] = {"wasi_check", "clock", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_string_equal(r.out, "realtime ok\nmonotonic ok\nresolution ok\n"
                               "process cputime ok\nunknown clock EINVAL\n"
                               "sleep ok\n");
    assert_exit(&r, 0);
    prog_teardown(&r);
}

static void test_random(void **state)
{
    const char *argv[] = {"wasi_check", "random", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_string_equal(r.out, "getentropy ok\nrandom_get 1MiB ok\n");
    assert_exit(&r, 0);
    prog_teardown(&r);
}

static void test_stdin(void **state)
{
    const char *argv[] = {"wasi_check", "stdin", NULL};
    prog_run r = {
        .file = "wasi_check.wasm", .argv = argv, .input = "hello\nwasi world"};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "read 16 bytes to EOF\nHELLO\nWASI WORLD");
    prog_teardown(&r);
}

static void test_exit_code(void **state)
{
    const char *argv[] = {"wasi_check", "exit", "7", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_exit(&r, 7);
    uint32_t code = 0;
    assert_true(wasi_ctx_exited(r.ctx, &code));
    assert_int_equal(code, 7);
    /* exit() flushes stdio before proc_exit. */
    assert_string_equal(r.out, "exiting with 7\n");
    prog_teardown(&r);
}

static void test_return_code(void **state)
{
    const char *argv3[] = {"wasi_check", "return", "3", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv3};
    prog_run_all(&r);
    assert_exit(&r, 3);
    prog_teardown(&r);

    const char *argv0[] = {"wasi_check", "return", "0", NULL};
    prog_run r0 = {.file = "wasi_check.wasm", .argv = argv0};
    prog_run_all(&r0);
    assert_int_equal(r0.status, WASM_DONE);
    assert_false(wasi_ctx_exited(r0.ctx, NULL));
    prog_teardown(&r0);
}

static void test_trap(void **state)
{
    const char *argv[] = {"wasi_check", "trap", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_int_equal(r.status, WASM_TRAPPED);
    assert_int_equal(r.trap, WASM_TRAP_UNREACHABLE);
    assert_string_equal(r.out, "before the trap\n");
    assert_false(wasi_ctx_exited(r.ctx, NULL));
    prog_teardown(&r);
}

/* Without preopened directories, libc fails the open itself with an errno:
 * no trap, and the program goes on. */
static void test_fopen_fails_cleanly(void **state)
{
    const char *argv[] = {"wasi_check", "fopen", "/etc/passwd", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(
        r.out, "fopen /etc/passwd: failed: Capabilities insufficient\n");
    prog_teardown(&r);
}

static void test_enosys(void **state)
{
    const char *argv[] = {"wasi_check", "enosys", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "fd_tell=52\n"
                               "fd_filestat_get=52\n"
                               "fd_renumber=52\n"
                               "fd_fdstat_set_flags=52\n"
                               "path_create_directory=52\n"
                               "path_open=52\n"
                               "sock_shutdown=52\n");
    prog_teardown(&r);
}

static void test_efault(void **state)
{
    const char *argv[] = {"wasi_check", "efault", NULL};
    const char *envp[] = {"A=1", NULL}; /* environ_get has bytes to copy */
    prog_run r = {.file = "wasi_check.wasm", .argv = argv, .envp = envp};
    prog_run_all(&r);
    assert_exit(&r, 0);
    /* Nothing but the report reaches stdout: a failed fd_write writes no
     * byte at all. */
    assert_string_equal(r.out, "fd_write iovs=21\n"
                               "fd_write buf=21\n"
                               "fd_write nwritten=21\n"
                               "n untouched=12345\n"
                               "fd_read buf=21\n"
                               "args_sizes_get=21\n"
                               "args_get=21\n"
                               "environ_sizes_get=21\n"
                               "environ_get=21\n"
                               "clock_time_get=21\n"
                               "clock_res_get=21\n"
                               "fd_fdstat_get=21\n"
                               "random_get past end=21\n"
                               "random_get huge=21\n"
                               "random_get last bytes=0\n"
                               "random_get empty at end=0\n"
                               "poll_oneoff=21\n");
    prog_teardown(&r);
}

static void test_badf(void **state)
{
    const char *argv[] = {"wasi_check", "badf", NULL};
    prog_run r = {.file = "wasi_check.wasm", .argv = argv};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.err, "write fd 7=8\n"
                               "write fd 0=8\n"
                               "read fd 1=8\n"
                               "fdstat fd 9=8\n"
                               "prestat fd 3=8\n"
                               "seek fd 1=70\n"
                               "seek fd 5=8\n"
                               "close fd 4=8\n"
                               "close fd 1=0\n"
                               "write fd 1 after close=8\n"
                               "close fd 1 again=8\n");
    assert_string_equal(r.out, "");
    prog_teardown(&r);
}

/* A stream the embedder does not give is EBADF to the program; libc's
 * printf fails quietly and the program still ends normally. */
static void test_missing_stdout(void **state)
{
    int errp[2];
    make_pipe(errp);
    const char *argv[] = {"hello.wasm", NULL};
    prog_run r = {.file = HELLO_WASM,
                  .argv = argv,
                  .own_fds = true,
                  .fds = {-1, -1, errp[1]}};
    prog_run_all(&r);
    assert_exit(&r, 0);
    close(errp[1]);
    char *err = drain(errp[0]);
    close(errp[0]);
    assert_string_equal(err, "");
    free(err);
    prog_teardown(&r);
}

static void test_isatty(void **state)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        if (master >= 0)
            close(master);
        skip();
    }
    int tty = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(tty >= 0);
    int out[2];
    make_pipe(out);

    const char *argv[] = {"wasi_check", "isatty", NULL};
    prog_run r = {.file = "wasi_check.wasm",
                  .argv = argv,
                  .own_fds = true,
                  .fds = {tty, out[1], tty}};
    prog_run_all(&r);
    assert_exit(&r, 0);
    close(out[1]);
    char *text = drain(out[0]);
    /* A pipe is no terminal: unknown file type; rights fd_write and
     * poll_fd_readwrite. */
    assert_string_equal(text, "isatty 0=1 1=0 2=1\n"
                              "fd 1 fdstat=0 filetype=0 rights=0x8000040\n");
    free(text);
    close(out[0]);
    close(tty);
    close(master);
    prog_teardown(&r);
}

/* A host write that takes only part of the bytes reports that part; the
 * next write reports the host's EAGAIN. */
static void test_partial_write(void **state)
{
    int out[2], errp[2];
    assert_int_equal(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
    make_pipe(errp);
    long cap = fcntl(out[1], F_GETPIPE_SZ);
    assert_true(cap > 0 && cap < 200000);

    const char *argv[] = {"wasi_check", "bigwrite", "200000", NULL};
    prog_run r = {.file = "wasi_check.wasm",
                  .argv = argv,
                  .own_fds = true,
                  .fds = {-1, out[1], errp[1]}};
    prog_run_all(&r);
    assert_exit(&r, 0);
    close(errp[1]);
    char *err = drain(errp[0]);
    char expect[64];
    snprintf(expect, sizeof expect, "first=0 %ld\nsecond=6 0\n", cap);
    assert_string_equal(err, expect);
    free(err);
    close(errp[0]);
    close(out[0]);
    close(out[1]);
    prog_teardown(&r);
}

static void test_poll_timeout(void **state)
{
    const char *argv[] = {"wasi_check", "poll", "30", NULL};
    prog_run r = {
        .file = "wasi_check.wasm", .argv = argv, .keep_stdin_open = true};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "poll_oneoff=0 events=1\n"
                               "event userdata=22 type=0 error=0 nbytes=0\n");
    prog_teardown(&r);
}

static void test_poll_stdin(void **state)
{
    const char *argv[] = {"wasi_check", "poll", "10000", NULL};
    prog_run r = {.file = "wasi_check.wasm",
                  .argv = argv,
                  .input = "abc",
                  .keep_stdin_open = true};
    prog_run_all(&r);
    assert_exit(&r, 0);
    assert_string_equal(r.out, "poll_oneoff=0 events=1\n"
                               "event userdata=11 type=1 error=0 nbytes=3\n");
    prog_teardown(&r);
}

/* ---- Hand-written modules ------------------------------------------------ */

static void test_no_memory_is_efault(void **state)
{
    prog_run r = {.file = "no_memory.wasm", .func = "write_nothing"};
    prog_run_all(&r);
    assert_int_equal(r.status, WASM_DONE);
    assert_int_equal(r.nresults, 1);
    assert_int_equal((uint32_t)r.results[0], 21);
    prog_teardown(&r);
}

static void test_stubs_answer_enosys(void **state)
{
    const char *funcs[] = {"path_open", "fd_pread", "sock_recv", "proc_raise"};
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++) {
        prog_run r = {.file = "stubs.wasm", .func = funcs[i]};
        prog_run_all(&r);
        assert_int_equal(r.status, WASM_DONE);
        assert_int_equal(r.nresults, 1);
        assert_int_equal((uint32_t)r.results[0], 52);
        prog_teardown(&r);
    }
}

static void test_proc_exit(void **state)
{
    prog_run r = {.file = "stubs.wasm", .func = "exit42"};
    prog_run_all(&r);
    assert_exit(&r, 42);
    uint32_t code;
    assert_true(wasi_ctx_exited(r.ctx, &code));
    assert_int_equal(code, 42);
    prog_teardown(&r);
}

static void expect_link_error(const char *file, const char *what)
{
    prog_run r = {.file = file};
    assert_false(prog_setup(&r));
    assert_int_equal(r.link_err, SHOAL_EUNLINKABLE);
    if (strstr(r.ei.msg, what) == NULL)
        fail_msg("%s: '%s' does not mention '%s'", file, r.ei.msg, what);
    prog_teardown(&r);
}

static void test_link_errors(void **state)
{
    expect_link_error("import_env.wasm", "env.host_log: unknown import");
    expect_link_error("import_unknown.wasm",
                      "wasi_snapshot_preview1.fd_frobnicate: not a WASI");
    expect_link_error("import_badtype.wasm",
                      "wasi_snapshot_preview1.fd_write: imported with type "
                      "(i32, i32) -> i64, WASI defines (i32, i32, i32, i32) "
                      "-> i32");
    expect_link_error("import_memory.wasm",
                      "wasi_snapshot_preview1.memory: imported as a memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_args_copied),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_empty),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_exit_code),
        cmocka_unit_test(test_return_code),
        cmocka_unit_test(test_trap),
        cmocka_unit_test(test_fopen_fails_cleanly),
        cmocka_unit_test(test_enosys),
        cmocka_unit_test(test_efault),
        cmocka_unit_test(test_badf),
        cmocka_unit_test(test_missing_stdout),
        cmocka_unit_test(test_isatty),
        cmocka_unit_test(test_partial_write),
        cmocka_unit_test(test_poll_timeout),
        cmocka_unit_test(test_poll_stdin),
        cmocka_unit_test(test_no_memory_is_efault),
        cmocka_unit_test(test_stubs_answer_enosys),
        cmocka_unit_test(test_proc_exit),
        cmocka_unit_test(test_link_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
