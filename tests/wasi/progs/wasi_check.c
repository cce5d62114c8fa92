/* A WASI command that exercises one part of the preview1 subset per mode
 * and prints what it saw, for tests/wasi and tests/run to compare:
 *
 *   wasi_check args ARGS...    the arguments, one per line
 *   wasi_check env             the environment, one entry per line
 *   wasi_check clock           clocks, resolution, a 20 ms sleep
 *   wasi_check random          random bytes from getentropy and random_get
 *   wasi_check stdin           reads stdin to the end and echoes it
 *   wasi_check exit N          exit(N)
 *   wasi_check return N        returns N from main
 *   wasi_check trap            executes unreachable
 *   wasi_check fopen PATH      fopen must fail with an errno, not trap
 *   wasi_check enosys          unprovided functions answer ENOSYS
 *   wasi_check efault          bad pointers answer EFAULT
 *   wasi_check badf            fds other than stdio answer EBADF
 *   wasi_check isatty          isatty() of fds 0, 1 and 2
 *   wasi_check bigwrite N      two raw fd_writes of N bytes to stdout
 *   wasi_check poll MS         waits for stdin or MS milliseconds
 *   wasi_check malloc MIB      allocates and touches MIB MiB
 *   wasi_check loop N          a fixed computation of N rounds
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

extern char **environ;

#define PAGE 65536u

static int check_args(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    return 0;
}

static int check_env(void)
{
    for (char **e = environ; *e != NULL; e++)
        printf("%s\n", *e);
    const char *v = getenv("SHOAL_CHECK");
    printf("getenv(SHOAL_CHECK)=%s\n", v ? v : "(unset)");
    return 0;
}

static uint64_t ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

static int check_clock(void)
{
    struct timespec real, m1, m2, res;
    int bad = 0;

    clock_gettime(CLOCK_REALTIME, &real);
    /* 2020-01-01 .. 2200-01-01 */
    bool real_ok = real.tv_sec > 1577836800 && real.tv_sec < 7258118400;
    printf("realtime %s\n", real_ok ? "ok" : "wrong");
    bad |= !real_ok;

    clock_gettime(CLOCK_MONOTONIC, &m1);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    printf("monotonic %s\n", ns(&m2) >= ns(&m1) ? "ok" : "wrong");
    bad |= ns(&m2) < ns(&m1);

    bool res_ok = clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(&res) > 0 &&
                  ns(&res) <= 1000000u;
    printf("resolution %s\n", res_ok ? "ok" : "wrong");
    bad |= !res_ok;

    __wasi_timestamp_t cpu;
    bool cpu_ok = __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1,
                                        &cpu) == 0 &&
                  cpu > 0;
    printf("process cputime %s\n", cpu_ok ? "ok" : "wrong");
    bad |= !cpu_ok;

    __wasi_timestamp_t t;
    bool inval_ok = __wasi_clock_time_get(99, 1, &t) == __WASI_ERRNO_INVAL;
    printf("unknown clock %s\n", inval_ok ? "EINVAL" : "wrong");
    bad |= !inval_ok;

    /* nanosleep goes through poll_oneoff with a clock subscription. */
    struct timespec nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &m1);
    int rc = nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    bool sleep_ok = rc == 0 && ns(&m2) - ns(&m1) >= 20u * 1000 * 1000;
    printf("sleep %s\n", sleep_ok ? "ok" : strerror(errno));
    bad |= !sleep_ok;
    return bad;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

static int check_random(void)
{
    unsigned char a[32], b[32];
    if (getentropy(a, sizeof a) != 0 || getentropy(b, sizeof b) != 0) {
        printf("getentropy failed: %s\n", strerror(errno));
        return 1;
    }
    bool ok = memcmp(a, b, sizeof a) != 0 && !all_zero(a, sizeof a);
    printf("getentropy %s\n", ok ? "ok" : "wrong");

    /* More than one getrandom call gives on the host. */
    size_t big = 1u << 20;
    unsigned char *buf = calloc(1, big);
    bool big_ok = buf != NULL && __wasi_random_get(buf, big) == 0 &&
                  !all_zero(buf + big - 64, 64);
    printf("random_get 1MiB %s\n", big_ok ? "ok" : "wrong");
    free(buf);
    return !(ok && big_ok);
}

static int check_stdin(void)
{
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, stdin);
    buf[n] = '\0';
    printf("read %zu bytes%s\n", n, feof(stdin) ? " to EOF" : "");
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
    fputs(buf, stdout);
    return ferror(stdin) ? 1 : 0;
}

static int check_fopen(const char *path)
{
    errno = 0;
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        printf("fopen %s: opened\n", path);
        fclose(f);
        return 1;
    }
    printf("fopen %s: failed: %s\n", path, strerror(errno));
    return 0;
}

static int check_enosys(void)
{
    __wasi_filesize_t off;
    __wasi_filestat_t st;
    printf("fd_tell=%d\n", __wasi_fd_tell(1, &off));
    printf("fd_filestat_get=%d\n", __wasi_fd_filestat_get(1, &st));
    printf("fd_renumber=%d\n", __wasi_fd_renumber(1, 5));
    printf("fd_fdstat_set_flags=%d\n",
           __wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_APPEND));
    printf("path_create_directory=%d\n",
           __wasi_path_create_directory(3, "dir"));
    __wasi_fd_t fd;
    printf("path_open=%d\n",
           __wasi_path_open(3, 0, "file", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd));
    printf("sock_shutdown=%d\n", __wasi_sock_shutdown(0, __WASI_SDFLAGS_RD));
    return 0;
}

/* The bytes just past the end of memory, after a page that malloc does not
 * know about has been added, so that writes at the very end are harmless. */
static uint32_t fresh_end(void)
{
    __builtin_wasm_memory_grow(0, 1);
    return (uint32_t)(__builtin_wasm_memory_size(0) * PAGE);
}

#define AT(addr) ((void *)(uintptr_t)(addr))

static int check_efault(void)
{
    uint32_t end = fresh_end();
    __wasi_size_t n = 12345, m;
    char data[4] = "abc";
    __wasi_ciovec_t good = {(const uint8_t *)data, 3};
    __wasi_ciovec_t beyond = {AT(end - 2), 4};
    __wasi_iovec_t rbeyond = {AT(end), 1};

    printf("fd_write iovs=%d\n", __wasi_fd_write(1, AT(end - 4), 1, &n));
    printf("fd_write buf=%d\n", __wasi_fd_write(1, &beyond, 1, &n));
    printf("fd_write nwritten=%d\n", __wasi_fd_write(1, &good, 1, AT(end)));
    printf("n untouched=%u\n", (unsigned)n);
    printf("fd_read buf=%d\n", __wasi_fd_read(0, &rbeyond, 1, &n));
    printf("args_sizes_get=%d\n", __wasi_args_sizes_get(AT(end), &m));
    printf("args_get=%d\n", __wasi_args_get(AT(end - 2), AT(end - 2)));
    printf("environ_sizes_get=%d\n", __wasi_environ_sizes_get(&m, AT(end)));
    printf("environ_get=%d\n", __wasi_environ_get(AT(end), AT(end)));
    printf("clock_time_get=%d\n", __wasi_clock_time_get(0, 1, AT(end - 7)));
    printf("clock_res_get=%d\n", __wasi_clock_res_get(1, AT(0xfffffff9u)));
    printf("fd_fdstat_get=%d\n", __wasi_fd_fdstat_get(1, AT(end - 23)));
    printf("random_get past end=%d\n", __wasi_random_get(AT(end - 4), 8));
    printf("random_get huge=%d\n", __wasi_random_get(AT(16), 0xffffffffu));
    printf("random_get last bytes=%d\n", __wasi_random_get(AT(end - 8), 8));
    printf("random_get empty at end=%d\n", __wasi_random_get(AT(end), 0));
    __wasi_event_t ev;
    printf("poll_oneoff=%d\n", __wasi_poll_oneoff(AT(end - 8), &ev, 1, &n));
    return 0;
}

static int check_badf(void)
{
    __wasi_size_t n;
    __wasi_fdstat_t st;
    __wasi_prestat_t pre;
    char buf[8];
    __wasi_ciovec_t out = {(const uint8_t *)"x", 1};
    __wasi_iovec_t in = {(uint8_t *)buf, sizeof buf};
    __wasi_filesize_t pos;

    fprintf(stderr, "write fd 7=%d\n", __wasi_fd_write(7, &out, 1, &n));
    fprintf(stderr, "write fd 0=%d\n", __wasi_fd_write(0, &out, 1, &n));
    fprintf(stderr, "read fd 1=%d\n", __wasi_fd_read(1, &in, 1, &n));
    fprintf(stderr, "fdstat fd 9=%d\n", __wasi_fd_fdstat_get(9, &st));
    fprintf(stderr, "prestat fd 3=%d\n", __wasi_fd_prestat_get(3, &pre));
    fprintf(stderr, "seek fd 1=%d\n",
            __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &pos));
    fprintf(stderr, "seek fd 5=%d\n",
            __wasi_fd_seek(5, 0, __WASI_WHENCE_CUR, &pos));
    fprintf(stderr, "close fd 4=%d\n", __wasi_fd_close(4));
    fprintf(stderr, "close fd 1=%d\n", __wasi_fd_close(1));
    fprintf(stderr, "write fd 1 after close=%d\n",
            __wasi_fd_write(1, &out, 1, &n));
    fprintf(stderr, "close fd 1 again=%d\n", __wasi_fd_close(1));
    return 0;
}

static int check_isatty(void)
{
    int t0 = isatty(0), t1 = isatty(1), t2 = isatty(2);
    __wasi_fdstat_t st;
    int err = __wasi_fd_fdstat_get(1, &st);
    printf("isatty 0=%d 1=%d 2=%d\n", t0, t1, t2);
    printf("fd 1 fdstat=%d filetype=%d rights=0x%llx\n", err, st.fs_filetype,
           (unsigned long long)st.fs_rights_base);
    return 0;
}

static int check_bigwrite(size_t len)
{
    char *buf = malloc(len);
    if (buf == NULL)
        return 1;
    memset(buf, 'w', len);
    __wasi_ciovec_t iov = {(const uint8_t *)buf, len};
    __wasi_size_t n1 = 0, n2 = 0;
    int e1 = __wasi_fd_write(1, &iov, 1, &n1);
    int e2 = __wasi_fd_write(1, &iov, 1, &n2);
    fprintf(stderr, "first=%d %u\nsecond=%d %u\n", e1, (unsigned)n1, e2,
            (unsigned)n2);
    free(buf);
    return 0;
}

static int check_poll(long ms)
{
    __wasi_subscription_t subs[2] = {0};
    subs[0].userdata = 11;
    subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[0].u.u.fd_read.file_descriptor = 0;
    subs[1].userdata = 22;
    subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[1].u.u.clock.timeout = (uint64_t)ms * 1000000u;
    __wasi_event_t ev[2];
    __wasi_size_t n;
    int err = __wasi_poll_oneoff(subs, ev, 2, &n);
    printf("poll_oneoff=%d events=%u\n", err, (unsigned)n);
    for (__wasi_size_t i = 0; err == 0 && i < n; i++)
        printf("event userdata=%llu type=%d error=%d nbytes=%llu\n",
               (unsigned long long)ev[i].userdata, ev[i].type, ev[i].error,
               (unsigned long long)ev[i].fd_readwrite.nbytes);
    return 0;
}

static int check_malloc(long mib)
{
    size_t len = (size_t)mib << 20;
    /* volatile: otherwise the compiler drops malloc, memset and free as
     * unobservable, and "succeeds" without memory. */
    char *volatile p = malloc(len);
    if (p == NULL) {
        printf("malloc %ld MiB: failed\n", mib);
        return 1;
    }
    memset(p, 1, len);
    size_t pages = 0;
    for (size_t i = 0; i < len; i += 4096)
        pages += ((volatile char *)p)[i];
    printf("malloc %ld MiB: %s\n", mib, pages == len / 4096 ? "ok" : "wrong");
    free(p);
    return 0;
}

/* A deterministic workload for the fuel tests: a little integer hashing. */
static int check_loop(long rounds)
{
    uint32_t h = 2166136261u;
    for (long i = 0; i < rounds; i++) {
        h ^= (uint32_t)i;
        h *= 16777619u;
    }
    printf("loop %ld: %08x\n", rounds, (unsigned)h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wasi_check MODE [ARGS...]\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *arg = argc > 2 ? argv[2] : "0";

    if (strcmp(mode, "args") == 0)
        return check_args(argc, argv);
    if (strcmp(mode, "env") == 0)
        return check_env();
    if (strcmp(mode, "clock") == 0)
        return check_clock();
    if (strcmp(mode, "random") == 0)
        return check_random();
    if (strcmp(mode, "stdin") == 0)
        return check_stdin();
    if (strcmp(mode, "exit") == 0) {
        printf("exiting with %s\n", arg);
        exit(atoi(arg));
    }
    if (strcmp(mode, "return") == 0)
        return atoi(arg);
    if (strcmp(mode, "trap") == 0) {
        printf("before the trap\n");
        fflush(stdout);
        __builtin_trap();
    }
    if (strcmp(mode, "fopen") == 0)
        return check_fopen(arg);
    if (strcmp(mode, "enosys") == 0)
        return check_enosys();
    if (strcmp(mode, "efault") == 0)
        return check_efault();
    if (strcmp(mode, "badf") == 0)
        return check_badf();
    if (strcmp(mode, "isatty") == 0)
        return check_isatty();
    if (strcmp(mode, "bigwrite") == 0)
        return check_bigwrite((size_t)atol(arg));
    if (strcmp(mode, "poll") == 0)
        return check_poll(atol(arg));
    if (strcmp(mode, "malloc") == 0)
        return check_malloc(atol(arg));
    if (strcmp(mode, "loop") == 0)
        return check_loop(atol(arg));
    fprintf(stderr, "wasi_check: unknown mode '%s'\n", mode);
    return 2;
}
