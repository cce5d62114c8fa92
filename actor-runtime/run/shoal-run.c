/* shoal-run: runs a WASI command module from the shell, or calls one of a
 * module's exported functions, on Shoal's engine. docs/shoal-run.md is the
 * manual. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "wasi.h"
#include "wasm.h"

#ifndef SHOAL_VERSION
#define SHOAL_VERSION "unknown"
#endif

/* Exit statuses of shoal-run itself; a program's own exit code passes
 * through. */
enum {
    EXIT_LOAD = 1,   /* the module cannot be read, loaded or linked */
    EXIT_USAGE = 2,  /* bad command line */
    EXIT_FUEL = 3,   /* the --fuel-limit budget ran out */
    EXIT_TRAP = 134, /* the program trapped (128 + SIGABRT, like abort()) */
};

typedef struct run_opts {
    const char *invoke; /* NULL: run _start */
    bool metered;
    int64_t fuel_slice;
    uint64_t fuel_limit; /* 0: none */
    bool stats;
    bool limit_memory;
    uint32_t max_memory_pages;
    const char *file;
    int nargs; /* program arguments after FILE */
    char **args;
} run_opts;

static const char usage_text[] =
    "Usage: shoal-run [OPTIONS] FILE.wasm [ARGS...]\n"
    "Runs the WASI command module FILE.wasm (its _start function) with\n"
    "ARGS and the environment; exits with the program's exit code.\n"
    "\n"
    "Options:\n"
    "  --invoke NAME      call the exported function NAME instead, with\n"
    "                     ARGS as its arguments (i32/i64: decimal or 0x\n"
    "                     hex; f32/f64: decimal); prints each result as\n"
    "                     'Result: VALUE'\n"
    "  --fuel N           meter the code and run it in slices of N fuel;\n"
    "                     prints the fuel used to stderr at the end\n"
    "  --fuel-limit N     stop with exit status 3 once N fuel is used\n"
    "                     (implies metering; slices default to N)\n"
    "  --stats            print load, instantiate and run times, fuel used\n"
    "                     and peak resident memory to stderr\n"
    "  --max-memory SIZE  cap linear memory: pages, or bytes with a KiB,\n"
    "                     MiB or GiB suffix\n"
    "  -h, --help         show this help\n"
    "  --version          show the version\n"
    "\n"
    "Exit status: the program's exit code; 1 when the module cannot be\n"
    "loaded or linked; 2 for a bad command line; 3 when --fuel-limit\n"
    "runs out; 134 when it traps.\n";

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shoal-run: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'shoal-run --help' for more information.\n");
    va_end(ap);
}

/* ---- Parsing numbers ---------------------------------------------------- */

/* An unsigned magnitude in decimal or 0x hex, the whole string. */
static bool parse_magnitude(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!(base == 16 ? isxdigit((unsigned char)*s)
                     : isdigit((unsigned char)*s)))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* An integer of bits bits, signed or not: -2^(bits-1) .. 2^bits - 1. The
 * result is its two's-complement bit pattern. */
static bool parse_int(const char *s, unsigned bits, uint64_t *out)
{
    bool neg = s[0] == '-';
    uint64_t mag;
    if (s[0] == '-' || s[0] == '+')
        s++;
    if (!parse_magnitude(s, &mag))
        return false;
    uint64_t umax = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    uint64_t nmax = UINT64_C(1) << (bits - 1);
    if (neg ? mag > nmax : mag > umax)
        return false;
    uint64_t v = neg ? (uint64_t)0 - mag : mag;
    *out = bits == 64 ? v : v & umax;
    return true;
}

static bool parse_value(const char *s, wasm_valtype t, uint64_t *out)
{
    char *end;
    switch (t) {
    case WASM_I32:
        return parse_int(s, 32, out);
    case WASM_I64:
        return parse_int(s, 64, out);
    case WASM_F32: {
        float f = strtof(s, &end);
        uint32_t bits;
        if (end == s || *end != '\0')
            return false;
        memcpy(&bits, &f, sizeof bits);
        *out = bits;
        return true;
    }
    case WASM_F64: {
        double d = strtod(s, &end);
        if (end == s || *end != '\0')
            return false;
        memcpy(out, &d, sizeof d);
        return true;
    }
    case WASM_FUNCREF:
    case WASM_EXTERNREF:
        *out = 0;
        return strcmp(s, "null") == 0;
    }
    return false;
}

/* --max-memory: pages, or bytes with a binary suffix (whole pages of it). */
static bool parse_memory_size(const char *s, uint32_t *pages)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"KiB", 10}, {"K", 10},   {"MiB", 20},
                 {"M", 20},   {"GiB", 30}, {"G", 30}};
    char *end;
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0)
        return false;
    uint64_t p;
    if (*end == '\0') {
        p = n;
    } else {
        size_t i;
        for (i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strcmp(end, units[i].suffix) == 0)
                break;
        }
        if (i == sizeof units / sizeof units[0] || n > (UINT64_MAX >> 30))
            return false;
        p = (n << units[i].shift) / WASM_PAGE_SIZE;
    }
    if (p > WASM_MAX_PAGES)
        return false;
    *pages = (uint32_t)p;
    return true;
}

/* ---- Printing values ---------------------------------------------------- */

/* The shortest decimal that reads back as the same float. */
static void format_float(char *buf, size_t cap, double d, bool single)
{
    if (isnan(d)) {
        snprintf(buf, cap, "%snan", signbit(d) ? "-" : "");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, cap, "%sinf", d < 0 ? "-" : "");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (single ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
            return;
    }
}

static void print_result(wasm_valtype t, uint64_t v)
{
    char buf[64];
    switch (t) {
    case WASM_I32:
        printf("Result: %" PRId32 "\n", (int32_t)(uint32_t)v);
        return;
    case WASM_I64:
        printf("Result: %" PRId64 "\n", (int64_t)v);
        return;
    case WASM_F32: {
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof f);
        format_float(buf, sizeof buf, f, true);
        printf("Result: %s\n", buf);
        return;
    }
    case WASM_F64: {
        double d;
        memcpy(&d, &v, sizeof d);
        format_float(buf, sizeof buf, d, false);
        printf("Result: %s\n", buf);
        return;
    }
    case WASM_FUNCREF:
    case WASM_EXTERNREF:
        if (v == 0)
            printf("Result: null\n");
        else
            printf("Result: %s:0x%" PRIx64 "\n", wasm_valtype_name(t), v);
        return;
    }
}

/* ---- Running ------------------------------------------------------------ */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reads a whole file (regular or not) into a new buffer. On failure errno
 * says why. */
static bool read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    ssize_t got = 1;
    while (buf != NULL && got != 0) {
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno != EINTR) {
            free(buf);
            buf = NULL;
        } else if (got > 0) {
            n += (size_t)got;
        }
    }
    int saved = errno; /* of the failed read or allocation */
    close(fd);
    errno = saved;
    *out = buf;
    *len = n;
    return buf != NULL;
}

/* Calls f and runs it to the end, in slices of fuel when metered. Returns
 * -1 when it returned, else the exit status it means for the process (the
 * program's exit code, or a failure that this reports). */
static int run_call(wasm_exec *x, wasm_func *f, const uint64_t *args,
                    uint32_t nargs, const run_opts *o)
{
    shoal_err err = wasm_exec_call(x, f, args, nargs);
    if (err != SHOAL_OK) {
        fprintf(stderr, "shoal-run: cannot call the function: %s\n",
                shoal_strerror(err));
        return EXIT_LOAD;
    }
    wasm_status st;
    uint64_t start = wasm_exec_fuel_used(x);
    for (;;) {
        if (o->metered) {
            int64_t slice = o->fuel_slice;
            if (o->fuel_limit) {
                uint64_t used = wasm_exec_fuel_used(x) - start;
                if (used >= o->fuel_limit) {
                    fprintf(stderr,
                            "shoal-run: fuel limit of %" PRIu64
                            " reached (%" PRIu64 " used)\n",
                            o->fuel_limit, used);
                    return EXIT_FUEL;
                }
                if ((uint64_t)slice > o->fuel_limit - used)
                    slice = (int64_t)(o->fuel_limit - used);
            }
            wasm_exec_set_fuel(x, slice);
        }
        st = wasm_exec_run(x);
        if (st != WASM_OUT_OF_FUEL)
            break;
    }

    if (st == WASM_DONE)
        return -1;
    if (st != WASM_TRAPPED) {
        /* WASI host functions complete at once; nothing here resumes. */
        fprintf(stderr, "shoal-run: the run was suspended by a host call\n");
        return EXIT_LOAD;
    }
    wasm_trap trap = wasm_exec_trap(x);
    if (trap == WASM_TRAP_EXIT)
        return (int)((uint32_t)wasm_exec_exit_code(x) & 0xff);
    /* Only a host function's trap carries a detail of its own. */
    const char *detail =
        trap == WASM_TRAP_HOST ? wasm_exec_trap_detail(x) : NULL;
    if (detail != NULL && detail[0] != '\0')
        fprintf(stderr, "shoal-run: trap: %s: %s\n", wasm_trap_message(trap),
                detail);
    else
        fprintf(stderr, "shoal-run: trap: %s\n", wasm_trap_message(trap));
    return EXIT_TRAP;
}

static void report(const run_opts *o, const wasm_exec *x, double load_ms,
                   double inst_ms, double run_ms)
{
    if (o->stats) {
        fprintf(stderr, "shoal-run: load+compile: %.3f ms\n", load_ms);
        fprintf(stderr, "shoal-run: instantiate: %.3f ms\n", inst_ms);
        fprintf(stderr, "shoal-run: run: %.3f ms\n", run_ms);
    }
    if (o->metered)
        fprintf(stderr, "shoal-run: fuel used: %" PRIu64 "\n",
                wasm_exec_fuel_used(x));
    if (o->stats) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "shoal-run: peak RSS: %ld KiB\n", ru.ru_maxrss);
    }
}

/* Calls the export o->invoke with the program arguments as its arguments
 * and prints its results. Returns -1 or an exit status. */
static int invoke(wasm_exec *x, wasm_instance *inst, const run_opts *o)
{
    wasm_extern init = wasm_instance_export(inst, "_initialize", 11);
    wasm_extern e = wasm_instance_export(inst, o->invoke, strlen(o->invoke));
    if (e.kind != WASM_EXTERN_FUNC) {
        fprintf(stderr, "shoal-run: %s: no exported function '%s'\n", o->file,
                o->invoke);
        return EXIT_LOAD;
    }
    const wasm_functype *t = wasm_func_type(e.u.func);
    uint32_t np = wasm_functype_num_params(t);
    if ((uint32_t)o->nargs != np) {
        fprintf(stderr, "shoal-run: %s takes %" PRIu32 " argument%s (",
                o->invoke, np, np == 1 ? "" : "s");
        for (uint32_t i = 0; i < np; i++)
            fprintf(stderr, "%s%s", i ? ", " : "",
                    wasm_valtype_name(wasm_functype_param(t, i)));
        fprintf(stderr, "), got %d\n", o->nargs);
        return EXIT_USAGE;
    }
    uint64_t *args = calloc(np ? np : 1, sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "shoal-run: out of memory\n");
        return EXIT_LOAD;
    }
    int status = -1;
    for (uint32_t i = 0; i < np; i++) {
        wasm_valtype pt = wasm_functype_param(t, i);
        if (!parse_value(o->args[i], pt, &args[i])) {
            fprintf(stderr,
                    "shoal-run: argument %" PRIu32 " of %s: '%s' is not "
                    "a valid %s\n",
                    i + 1, o->invoke, o->args[i], wasm_valtype_name(pt));
            status = EXIT_USAGE;
            goto out_free_args;
        }
    }

    /* A WASI reactor sets itself up in _initialize before any other
     * export is called. */
    if (init.kind == WASM_EXTERN_FUNC && init.u.func != e.u.func) {
        status = run_call(x, init.u.func, NULL, 0, o);
        if (status >= 0)
            goto out_free_args;
    }
    status = run_call(x, e.u.func, args, np, o);
    if (status >= 0)
        goto out_free_args;
    uint32_t nr;
    const uint64_t *res = wasm_exec_results(x, &nr);
    for (uint32_t i = 0; i < nr; i++)
        print_result(wasm_functype_result(t, i), res[i]);
    fflush(stdout);

out_free_args:
    free(args);
    return status;
}

/* Runs the program and returns the exit status. */
static int run(const run_opts *o)
{
    int status = EXIT_LOAD;
    shoal_errinfo ei = {SIZE_MAX, ""};
    shoal_err err;
    uint8_t *bytes;
    size_t len;

    double t0 = now_ms();
    if (!read_file(o->file, &bytes, &len)) {
        fprintf(stderr, "shoal-run: %s: %s\n", o->file, strerror(errno));
        return EXIT_LOAD;
    }
    wasm_load_options lopts = {.metering = o->metered};
    wasm_module *mod;
    err = wasm_module_load(bytes, len, &lopts, &mod, &ei);
    free(bytes);
    if (err != SHOAL_OK) {
        if (ei.offset != SIZE_MAX)
            fprintf(stderr, "shoal-run: %s: error at byte %zu: %s\n", o->file,
                    ei.offset, ei.msg[0] ? ei.msg : shoal_strerror(err));
        else
            fprintf(stderr, "shoal-run: %s: %s\n", o->file,
                    ei.msg[0] ? ei.msg : shoal_strerror(err));
        return EXIT_LOAD;
    }
    double t1 = now_ms();

    /* The program sees its file name as argv[0], then ARGS. */
    const char **argv = malloc(((size_t)o->nargs + 1) * sizeof *argv);
    if (argv == NULL) {
        fprintf(stderr, "shoal-run: out of memory\n");
        goto fail_unref_module;
    }
    argv[0] = o->file;
    for (int i = 0; i < o->nargs; i++)
        argv[i + 1] = o->args[i];
    wasi_config cfg = {
        .argc = (uint32_t)o->nargs + 1,
        .argv = argv,
        .envp = (const char *const *)environ,
        .stdio = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO},
    };
    wasi_ctx *ctx;
    err = wasi_ctx_new(&cfg, &ctx);
    free(argv);
    if (err != SHOAL_OK) {
        fprintf(stderr, "shoal-run: arguments and environment: %s\n",
                shoal_strerror(err));
        goto fail_unref_module;
    }

    wasm_limits limits;
    wasm_limits_default(&limits);
    if (o->limit_memory)
        limits.max_memory_pages = o->max_memory_pages;
    wasm_store *store = wasm_store_new(&limits);
    if (store == NULL) {
        fprintf(stderr, "shoal-run: out of memory\n");
        goto fail_delete_ctx;
    }

    uint32_t nimports = wasm_module_num_imports(mod);
    wasm_extern *imports = calloc(nimports ? nimports : 1, sizeof *imports);
    if (imports == NULL) {
        fprintf(stderr, "shoal-run: out of memory\n");
        goto fail_delete_store;
    }
    err = wasi_link(ctx, store, mod, imports, &ei);
    wasm_instance *inst = NULL;
    if (err == SHOAL_OK)
        err = wasm_instantiate(store, mod, imports, nimports, &inst, &ei);
    free(imports);
    if (err != SHOAL_OK) {
        fprintf(stderr, "shoal-run: %s: %s\n", o->file,
                ei.msg[0] ? ei.msg : shoal_strerror(err));
        goto fail_delete_store;
    }
    double t2 = now_ms();

    wasm_exec *x = wasm_exec_new(store);
    if (x == NULL) {
        fprintf(stderr, "shoal-run: out of memory\n");
        goto fail_delete_store;
    }
    wasm_func *start = wasm_instance_start(inst);
    status = start ? run_call(x, start, NULL, 0, o) : -1;
    if (status < 0 && o->invoke != NULL) {
        status = invoke(x, inst, o);
    } else if (status < 0) {
        wasm_extern e = wasm_instance_export(inst, "_start", 6);
        if (e.kind == WASM_EXTERN_FUNC) {
            status = run_call(x, e.u.func, NULL, 0, o);
        } else {
            fprintf(stderr,
                    "shoal-run: %s: no _start function to run (use "
                    "--invoke NAME to call an export)\n",
                    o->file);
            status = EXIT_LOAD;
        }
    }
    if (status < 0)
        status = 0;
    report(o, x, t1 - t0, t2 - t1, now_ms() - t2);

    wasm_exec_delete(x);
fail_delete_store:
    wasm_store_delete(store);
fail_delete_ctx:
    wasi_ctx_delete(ctx);
fail_unref_module:
    wasm_module_unref(mod);
    return status;
}

int main(int argc, char **argv)
{
    enum {
        OPT_INVOKE = 256,
        OPT_FUEL,
        OPT_FUEL_LIMIT,
        OPT_STATS,
        OPT_MAX_MEMORY,
        OPT_VERSION
    };
    static const struct option longopts[] = {
        {"invoke", required_argument, NULL, OPT_INVOKE},
        {"fuel", required_argument, NULL, OPT_FUEL},
        {"fuel-limit", required_argument, NULL, OPT_FUEL_LIMIT},
        {"stats", no_argument, NULL, OPT_STATS},
        {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    run_opts o = {0};
    int c;
    uint64_t n;

    opterr = 0;
    /* '+': options end at FILE; what follows belongs to the program. */
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_INVOKE:
            o.invoke = optarg;
            break;
        case OPT_FUEL:
            if (!parse_magnitude(optarg, &n) || n == 0 || n > INT64_MAX) {
                usage_error("--fuel: '%s' is not a positive number", optarg);
                return EXIT_USAGE;
            }
            o.metered = true;
            o.fuel_slice = (int64_t)n;
            break;
        case OPT_FUEL_LIMIT:
            if (!parse_magnitude(optarg, &n) || n == 0 || n > INT64_MAX) {
                usage_error("--fuel-limit: '%s' is not a positive number",
                            optarg);
                return EXIT_USAGE;
            }
            o.metered = true;
            o.fuel_limit = n;
            break;
        case OPT_STATS:
            o.stats = true;
            break;
        case OPT_MAX_MEMORY:
            if (!parse_memory_size(optarg, &o.max_memory_pages)) {
                usage_error("--max-memory: '%s' is not a size (pages, or a "
                            "number with KiB, MiB or GiB, up to 4GiB)",
                            optarg);
                return EXIT_USAGE;
            }
            o.limit_memory = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case OPT_VERSION:
            printf("shoal-run %s\n", SHOAL_VERSION);
            return 0;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
            return EXIT_USAGE;
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage_error("%s", "no module given");
        return EXIT_USAGE;
    }
    if (o.metered && o.fuel_slice == 0)
        o.fuel_slice = (int64_t)o.fuel_limit;
    o.file = argv[optind];
    o.nargs = argc - optind - 1;
    o.args = argv + optind + 1;
    return run(&o);
}
