/* Tests of decode.c (and the validation behind wasm_module_load): malformed
 * input is refused with SHOAL_EMALFORMED, the byte offset of the problem and
 * a reason; no input crashes the decoder or makes it allocate much more than
 * the input's size; and every allocation failure is reported as
 * SHOAL_ENOMEM without leaking.
 *
 * This executable is linked with -Wl,--wrap=malloc,calloc,realloc so that
 * it can watch and fail the engine's allocations (see the allocator section
 * below).
 */
#include "wasm_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a watching, failing allocator ----
 *
 * The engine calls malloc directly, so the only place to watch it is the
 * link: every malloc, calloc and realloc of this executable goes through the
 * wrappers below. The state is global because the allocator is; it is used
 * only between alloc_watch() and alloc_unwatch(). */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t sz);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t sz);
void *__wrap_realloc(void *p, size_t n);

static struct {
    bool on;
    size_t largest;   /* largest single request */
    size_t total;     /* sum of all requests */
    unsigned count;   /* requests made */
    unsigned fail_at; /* fail request number fail_at (1-based); 0: never */
} alloc;

static void alloc_watch(unsigned fail_at)
{
    alloc.largest = 0;
    alloc.total = 0;
    alloc.count = 0;
    alloc.fail_at = fail_at;
    alloc.on = true;
}

static void alloc_unwatch(void)
{
    alloc.on = false;
}

/* Counts a request; false when it must fail. */
static bool alloc_note(size_t n)
{
    if (!alloc.on)
        return true;
    alloc.count++;
    alloc.total += n;
    if (n > alloc.largest)
        alloc.largest = n;
    return alloc.count != alloc.fail_at;
}

void *__wrap_malloc(size_t n)
{
    return alloc_note(n) ? __real_malloc(n) : NULL;
}

void *__wrap_calloc(size_t n, size_t sz)
{
    size_t bytes = n && sz > SIZE_MAX / n ? SIZE_MAX : n * sz;
    return alloc_note(bytes) ? __real_calloc(n, sz) : NULL;
}

void *__wrap_realloc(void *p, size_t n)
{
    return alloc_note(n) ? __real_realloc(p, n) : NULL;
}

/* ---- helpers ---- */

static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0};

typedef struct bytes {
    uint8_t b[256];
    size_t len;
} bytes;

/* The header followed by len bytes of sections. */
static bytes module_of(const uint8_t *sections, size_t len)
{
    bytes m;
    assert_true(8 + len <= sizeof m.b);
    memcpy(m.b, header, 8);
    memcpy(m.b + 8, sections, len);
    m.len = 8 + len;
    return m;
}

/* Loads bytes and checks the general contract of a failure: a known error,
 * a reason, an offset inside the input (or SIZE_MAX), and no module. */
static shoal_err load(const uint8_t *b, size_t len, bool metering,
                      shoal_errinfo *ei)
{
    wasm_load_options opts = {.metering = metering};
    wasm_module *m = (wasm_module *)1;
    memset(ei, 0, sizeof *ei);
    ei->offset = 12345678;
    shoal_err err = wasm_module_load(b, len, &opts, &m, ei);
    if (err == SHOAL_OK) {
        assert_non_null(m);
        wasm_module_unref(m);
        return err;
    }
    assert_null(m);
    if (err != SHOAL_EMALFORMED && err != SHOAL_EINVALID && err != SHOAL_ENOMEM)
        fail_msg("unexpected error %s", shoal_err_name(err));
    if (ei->msg[0] == '\0')
        fail_msg("%s without a message", shoal_err_name(err));
    if (ei->offset != SIZE_MAX && ei->offset > len)
        fail_msg("offset %zu beyond the input of %zu bytes (%s)", ei->offset,
                 len, ei->msg);
    return err;
}

/* Runs fn(arg, note) in a child process and returns whether it exited
 * normally with status 0. Used where the engine is known to crash, so that
 * one crash fails one test rather than the whole executable. The child may
 * write what it is doing into note (shared memory, 256 bytes), which is
 * printed if it fails. */
static bool in_child(void (*fn)(const void *, char *), const void *arg)
{
    char *note = mmap(NULL, 256, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(note != MAP_FAILED);
    note[0] = '\0';
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka catches these to fail a test and go on; here they must
         * end the child. */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        fn(arg, note);
        exit(0); /* not _exit: LeakSanitizer checks the child at exit */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  child killed by signal %d\n", WTERMSIG(status));
    if (!ok && note[0])
        fprintf(stderr, "  while: %.255s\n", note);
    munmap(note, 256);
    return ok;
}

/* Loads bytes; for use in a child process, where cmocka's assertions do
 * not work. */
static shoal_err load_quietly(const uint8_t *b, size_t len, bool metering,
                              shoal_errinfo *ei)
{
    wasm_load_options opts = {.metering = metering};
    wasm_module *m = NULL;
    memset(ei, 0, sizeof *ei);
    shoal_err err = wasm_module_load(b, len, &opts, &m, ei);
    if (err == SHOAL_OK)
        wasm_module_unref(m);
    else if (m != NULL)
        exit(3);
    return err;
}

/* ---- malformed input: error, offset, reason ---- */

typedef struct bad_case {
    const char *what;
    uint8_t sections[32];
    size_t len;
    shoal_err err;
    size_t offset_lo, offset_hi; /* the offset must lie in [lo, hi] */
    const char *reason;          /* a substring of the message */
} bad_case;

#define SEC(...) {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})

static const bad_case bad_cases[] = {
    {"unknown section id", SEC(0x0d, 0x00), SHOAL_EMALFORMED, 8, 8,
     "section id"},
    {"section past the end", SEC(0x01, 0x05, 0x01), SHOAL_EMALFORMED, 9, 10,
     "unexpected end"},
    {"section size LEB too long", SEC(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f),
     SHOAL_EMALFORMED, 9, 14, "too long"},
    {"section size LEB too large", SEC(0x01, 0xff, 0xff, 0xff, 0xff, 0x7f),
     SHOAL_EMALFORMED, 9, 14, "too large"},
    {"function type form", SEC(0x01, 0x04, 0x01, 0x61, 0x00, 0x00),
     SHOAL_EMALFORMED, 11, 11, "form"},
    {"value type", SEC(0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x40),
     SHOAL_EMALFORMED, 14, 14, "value type 0x40"},
    {"section out of order", SEC(0x03, 0x01, 0x00, 0x01, 0x01, 0x00),
     SHOAL_EMALFORMED, 11, 11, "order"},
    {"section repeated", SEC(0x01, 0x01, 0x00, 0x01, 0x01, 0x00),
     SHOAL_EMALFORMED, 11, 11, "repeated"},
    {"custom section name UTF-8", SEC(0x00, 0x03, 0x02, 0xc0, 0x80),
     SHOAL_EMALFORMED, 11, 11, "UTF-8"},
    {"section size mismatch", SEC(0x01, 0x02, 0x00, 0x00), SHOAL_EMALFORMED, 11,
     11, "size mismatch"},
    {"import kind", SEC(0x02, 0x06, 0x01, 0x01, 'm', 0x01, 'n', 0x04),
     SHOAL_EMALFORMED, 15, 15, "import kind"},
    {"global mutability", SEC(0x06, 0x06, 0x01, 0x7f, 0x02, 0x41, 0x00, 0x0b),
     SHOAL_EMALFORMED, 12, 12, "mutability"},
    {"limits flag", SEC(0x05, 0x03, 0x01, 0x02, 0x00), SHOAL_EMALFORMED, 11, 11,
     ""},
    {"export kind", SEC(0x07, 0x05, 0x01, 0x01, 'e', 0x04, 0x00),
     SHOAL_EMALFORMED, 13, 13, "export kind"},
    {"function without code",
     SEC(0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00),
     SHOAL_EMALFORMED, 0, 18, "inconsistent lengths"},
    {"illegal opcode",
     SEC(0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x05,
         0x01, 0x03, 0x00, 0xff, 0x0b),
     SHOAL_EMALFORMED, 23, 23, "illegal opcode 0xff"},
    {"code after the function's end",
     SEC(0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x05,
         0x01, 0x03, 0x00, 0x0b, 0x01),
     SHOAL_EMALFORMED, 23, 25, ""},
    {"too many locals",
     SEC(0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x10,
         0x01, 0x0e, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0xff, 0xff, 0xff,
         0xff, 0x0f, 0x7f, 0x0b),
     SHOAL_EMALFORMED, 22, 35, "too many locals"},
    {"data count without data", SEC(0x0c, 0x01, 0x01), SHOAL_EMALFORMED, 0, 11,
     "data count"},
    {"element segment kind", SEC(0x09, 0x02, 0x01, 0x08), SHOAL_EMALFORMED, 11,
     12, "elements segment kind"},
    {"data segment kind", SEC(0x0b, 0x02, 0x01, 0x03), SHOAL_EMALFORMED, 11, 12,
     "data segment kind"},
    /* Well-formed but invalid. */
    {"result type mismatch",
     SEC(0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x0a,
         0x04, 0x01, 0x02, 0x00, 0x0b),
     SHOAL_EINVALID, 22, 25, "type mismatch"},
    {"unknown type of a function",
     SEC(0x03, 0x02, 0x01, 0x05, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b),
     SHOAL_EINVALID, 0, SIZE_MAX, "unknown type"},
    {"constant expression",
     SEC(0x06, 0x07, 0x01, 0x7f, 0x00, 0x41, 0x00, 0x6a, 0x0b), SHOAL_EINVALID,
     13, 15, "constant expression"},
};

static void test_malformed_offsets_and_reasons(void **state)
{
    (void)state;
    shoal_errinfo ei;
    /* The header first. */
    assert_int_equal(load(header, 0, false, &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 0);
    assert_non_null(strstr(ei.msg, "unexpected end"));
    uint8_t bad[8];
    memcpy(bad, header, 8);
    bad[3] = 'n';
    assert_int_equal(load(bad, 8, false, &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 0);
    assert_non_null(strstr(ei.msg, "magic"));
    memcpy(bad, header, 8);
    bad[4] = 2;
    assert_int_equal(load(bad, 8, false, &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 4);
    assert_non_null(strstr(ei.msg, "version"));
    assert_int_equal(load(header, 8, false, &ei), SHOAL_OK);

    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        bytes m = module_of(c->sections, c->len);
        shoal_err err = load(m.b, m.len, i & 1, &ei);
        if (err != c->err)
            fail_msg("%s: %s (%s), expected %s", c->what, shoal_err_name(err),
                     ei.msg, shoal_err_name(c->err));
        if (c->offset_hi != SIZE_MAX &&
            (ei.offset < c->offset_lo || ei.offset > c->offset_hi))
            fail_msg("%s: offset %zu, expected %zu..%zu (%s)", c->what,
                     ei.offset, c->offset_lo, c->offset_hi, ei.msg);
        if (strstr(ei.msg, c->reason) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", c->what, ei.msg,
                     c->reason);
    }
}

/* ---- huge counts ---- */

typedef struct huge_case {
    const char *what;
    uint8_t sections[32];
    size_t len;
} huge_case;

#define HUGE 0xff, 0xff, 0xff, 0xff, 0x0f /* 2^32 - 1 */

static const huge_case huge_cases[] = {
    {"types", SEC(0x01, 0x06, HUGE, 0x60)},
    {"types (a fuzzer find)", SEC(0x01, 0x05, 0x7a, 0x01, 0x00, 0x00, 0x00)},
    {"parameters", SEC(0x01, 0x07, 0x01, 0x60, HUGE)},
    {"results", SEC(0x01, 0x08, 0x01, 0x60, 0x00, HUGE)},
    {"imports", SEC(0x02, 0x06, HUGE, 0x00)},
    {"import name", SEC(0x02, 0x07, 0x01, HUGE, 0x00)},
    {"functions", SEC(0x03, 0x06, HUGE, 0x00)},
    {"tables", SEC(0x04, 0x06, HUGE, 0x70)},
    {"memories", SEC(0x05, 0x06, HUGE, 0x00)},
    {"globals", SEC(0x06, 0x06, HUGE, 0x7f)},
    {"exports", SEC(0x07, 0x06, HUGE, 0x00)},
    {"element segments", SEC(0x09, 0x06, HUGE, 0x00)},
    {"element items", SEC(0x09, 0x0a, 0x01, 0x00, 0x41, 0x00, 0x0b, HUGE)},
    {"code bodies", SEC(0x0a, 0x06, HUGE, 0x00)},
    {"local groups", SEC(0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01,
                         0x00, 0x0a, 0x08, 0x01, 0x06, HUGE, 0x7f)},
    {"locals of one group",
     SEC(0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0a,
         0x01, 0x08, 0x01, HUGE, 0x7f, 0x0b)},
    {"br_table targets",
     SEC(0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0c,
         0x01, 0x0a, 0x00, 0x41, 0x00, 0x0e, HUGE, 0x0b)},
    {"data segments", SEC(0x0b, 0x06, HUGE, 0x00)},
    {"data bytes", SEC(0x0b, 0x0a, 0x01, 0x00, 0x41, 0x00, 0x0b, HUGE)},
    {"data count", SEC(0x0c, 0x05, HUGE)},
    {"custom section name", SEC(0x00, 0x06, HUGE, 0x00)},
};

/* Loads one huge-count case under the watching allocator and exits non-zero
 * if it is accepted or allocates more than a little. */
static void load_huge(const void *arg, char *note)
{
    (void)note;
    const huge_case *c = arg;
    bytes m = module_of(c->sections, c->len);
    wasm_load_options opts = {.metering = true};
    wasm_module *mod = NULL;
    shoal_errinfo ei = {0};
    alloc_watch(0);
    shoal_err err = wasm_module_load(m.b, m.len, &opts, &mod, &ei);
    alloc_unwatch();
    if (err == SHOAL_OK) {
        fprintf(stderr, "  %s: accepted\n", c->what);
        exit(1);
    }
    if (alloc.largest > 64 * 1024 || alloc.total > 1024 * 1024) {
        fprintf(stderr, "  %s: allocated %zu bytes (largest %zu)\n", c->what,
                alloc.total, alloc.largest);
        exit(1);
    }
    if (ei.msg[0] == '\0') {
        fprintf(stderr, "  %s: %s without a message\n", c->what,
                shoal_err_name(err));
        exit(1);
    }
}

static void test_huge_counts(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof huge_cases / sizeof huge_cases[0]; i++) {
        if (!in_child(load_huge, &huge_cases[i])) {
            fprintf(stderr, "huge count of %s: FAILED\n", huge_cases[i].what);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* ---- sweeps over valid modules ---- */

/* The end offsets of the sections of a valid module. */
static size_t section_ends(const uint8_t *b, size_t len, size_t *ends,
                           size_t max)
{
    size_t n = 0, p = 8;
    while (p < len && n < max) {
        p++; /* id */
        uint32_t size = 0;
        unsigned shift = 0;
        uint8_t byte;
        do {
            byte = b[p++];
            size |= (uint32_t)(byte & 0x7f) << shift;
            shift += 7;
        } while (byte & 0x80);
        p += size;
        ends[n++] = p;
    }
    assert_int_equal(p, len);
    return n;
}

/* Every prefix of a valid module fails cleanly, and as malformed unless it
 * ends exactly at a section boundary. */
static void truncation_sweep(const char *name)
{
    size_t len;
    uint8_t *full = wt_read(name, &len);
    size_t ends[32];
    size_t nends = section_ends(full, len, ends, 32);
    shoal_errinfo ei;
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past them. */
        uint8_t *prefix = malloc(n ? n : 1);
        assert_non_null(prefix);
        memcpy(prefix, full, n);
        shoal_err err = load(prefix, n, n & 1, &ei);
        bool boundary = n == 8;
        for (size_t i = 0; i < nends; i++)
            boundary |= ends[i] == n;
        if (!boundary && err != SHOAL_EMALFORMED)
            fail_msg("%s cut at %zu: %s (%s)", name, n, shoal_err_name(err),
                     ei.msg);
        if (!boundary && ei.offset > n)
            fail_msg("%s cut at %zu: offset %zu", name, n, ei.offset);
        free(prefix);
    }
    assert_int_equal(load(full, len, true, &ei), SHOAL_OK);
    free(full);
}

static void test_truncation_sweep(void **state)
{
    (void)state;
    truncation_sweep("sections");
    truncation_sweep("program");
    truncation_sweep("host");
    truncation_sweep("link");
}

/* Flipping any bit, or a whole byte, of a valid module gives a module that
 * loads or fails cleanly; metering does not change which. The sweep runs in
 * a child process, so that a crash is reported with the flip that caused
 * it. */
static void flip_sweep(const void *arg, char *note)
{
    const char *name = arg;
    size_t len;
    uint8_t *orig = wt_read(name, &len);
    uint8_t *b = malloc(len);
    static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10,
                                    0x20, 0x40, 0x80, 0xff};
    unsigned outcomes[SHOAL_ERR_COUNT] = {0};
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            memcpy(b, orig, len);
            b[i] ^= masks[k];
            snprintf(note, 256, "%s with byte %zu ^ 0x%02x", name, i, masks[k]);
            shoal_errinfo ei, ei2;
            shoal_err err = load_quietly(b, len, true, &ei);
            shoal_err plain = load_quietly(b, len, false, &ei2);
            if (err != plain || err == SHOAL_ENOMEM ||
                (err && (ei.msg[0] == '\0' ||
                         (ei.offset != SIZE_MAX && ei.offset > len)))) {
                fprintf(stderr, "  %s: %s metered, %s not (%s)\n", note,
                        shoal_err_name(err), shoal_err_name(plain), ei.msg);
                exit(1);
            }
            outcomes[err]++;
        }
    }
    note[0] = '\0';
    /* The sweep exercised both failure kinds and some survivors. */
    if (!outcomes[SHOAL_OK] || !outcomes[SHOAL_EMALFORMED] ||
        !outcomes[SHOAL_EINVALID]) {
        fprintf(stderr, "  %s: %u loaded, %u malformed, %u invalid\n", name,
                outcomes[SHOAL_OK], outcomes[SHOAL_EMALFORMED],
                outcomes[SHOAL_EINVALID]);
        exit(1);
    }
    free(b);
    free(orig);
}

static void test_flip_every_byte(void **state)
{
    (void)state;
    assert_true(in_child(flip_sweep, "sections"));
}

/* ---- allocation failures ---- */

/* Fails each allocation of loading `name` in turn; every load must fail with
 * SHOAL_ENOMEM and a message (or, if the failed allocation did not matter,
 * succeed) and leak nothing. */
static void oom_sweep(const void *arg, char *note)
{
    const char *name = arg;
    size_t len;
    uint8_t *b = wt_read(name, &len);
    wasm_load_options opts = {.metering = true};
    int failures = 0;
    for (unsigned n = 1;; n++) {
        wasm_module *m = NULL;
        shoal_errinfo ei = {0};
        snprintf(note, 256, "loading %s with allocation %u failing", name, n);
        alloc_watch(n);
        shoal_err err = wasm_module_load(b, len, &opts, &m, &ei);
        alloc_unwatch();
        if (alloc.count < n) { /* nothing failed: the sweep is over */
            if (err != SHOAL_OK)
                exit(2);
            wasm_module_unref(m);
            break;
        }
        if (err == SHOAL_OK) {
            wasm_module_unref(m);
            continue;
        }
        if (err != SHOAL_ENOMEM || m != NULL || ei.msg[0] == '\0') {
            fprintf(stderr, "  %s, allocation %u failed: %s (\"%s\")\n", name,
                    n, shoal_err_name(err), ei.msg);
            failures++;
        }
    }
    free(b);
    note[0] = '\0'; /* the failures are listed above */
    if (failures)
        exit(1);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    static const char *const names[] = {"sections", "program", "link"};
    int failures = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!in_child(oom_sweep, names[i])) {
            fprintf(stderr, "allocation failure sweep of %s: FAILED\n",
                    names[i]);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* No bytes at all, as from an empty file read into a NULL buffer: the
 * module is malformed (and nothing reads through the NULL pointer, which
 * UBSan checks, even for a copy of zero bytes). */
static void test_null_empty_input(void **state)
{
    (void)state;
    shoal_errinfo ei;
    assert_int_equal(load(NULL, 0, true, &ei), SHOAL_EMALFORMED);
    assert_int_equal(ei.offset, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_offsets_and_reasons),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_truncation_sweep),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_allocation_failures),
        /* Last: under UBSan, a failure here ends the executable. */
        cmocka_unit_test(test_null_empty_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
