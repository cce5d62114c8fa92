/* spec-runner: runs WebAssembly spec-test scripts against Shoal's engine.
 *
 * Usage: spec-runner [--fuel N] [--quiet] [--verbose] SCRIPT.json...
 *
 * Each SCRIPT.json is the output of wabt's wast2json. Its commands run in
 * order in one wasm_store, with a fresh `spectest` host module that all the
 * script's modules share, following the contract in the wasm-testsuite
 * README. Every assert_* command counts as one assertion; module and action
 * commands count too, and are reported separately. Text-format modules
 * (assert_malformed of a .wat) are skipped, since the engine reads binaries
 * only.
 *
 * With --fuel N, modules are compiled with metering and every call runs in
 * fuel slices of N: on WASM_OUT_OF_FUEL the runner refills the fuel and runs
 * again, which checks that any run can stop and resume anywhere.
 *
 * Output: one line per failure, "FILE:LINE: command: expected X, got Y"
 * (at most SPEC_MAX_SHOWN per script), one summary line per script and, for
 * several scripts, a table and a total. The exit status is 0 only when
 * nothing failed.
 */
#include "spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Failure lines printed per script; the rest are only counted. */
#define SPEC_MAX_SHOWN 50
/* Largest .wasm file read; the suite's largest is well under 1 MiB. */
#define SPEC_MAX_MODULE_BYTES (64u << 20)
/* Bound on the fuel one call may use in --fuel mode, so that an engine that
 * never finishes a call cannot loop here forever. */
#define SPEC_MAX_CALL_FUEL 10000000000LL

typedef struct spec_options {
    int64_t fuel_slice; /* 0: no metering */
    bool quiet;         /* no failure lines */
    bool verbose;       /* also notes on passes that were not exact */
    bool table_only;    /* --quiet with several scripts: only the table */
} spec_options;

/* Outcomes of one kind of command. */
typedef struct spec_tally {
    uint64_t passed;
    uint64_t failed;
    uint64_t skipped;
} spec_tally;

typedef enum spec_kind {
    SPEC_KIND_ASSERTION,
    SPEC_KIND_MODULE,
    SPEC_KIND_ACTION,
    SPEC_NUM_KINDS
} spec_kind;

typedef struct spec_counts {
    spec_tally kind[SPEC_NUM_KINDS];
    uint64_t resumes;   /* runs continued after WASM_OUT_OF_FUEL */
    uint64_t fuel_used; /* by the calls that finished, in --fuel mode */
} spec_counts;

/* A name bound to an instance: "$M" of a module command, or the module
 * name of a register command. inst is NULL when the module failed. */
typedef struct spec_binding {
    char *name;
    size_t len;
    wasm_instance *inst;
} spec_binding;

typedef struct spec_bindings {
    spec_binding *items;
    size_t count;
    size_t cap;
} spec_bindings;

/* Everything one script runs with. */
typedef struct spec_script {
    const spec_options *opts;
    const char *file; /* the .wast name for messages */
    char *dir;        /* folder of the JSON, where module files are */
    wasm_store *store;
    wasm_exec *exec;
    spec_spectest spectest;
    wasm_instance *current; /* NULL when the last module failed */
    spec_bindings named;    /* "$M" -> instance */
    spec_bindings registered;
    /* The runner's reference to every module it loaded, dropped after the
     * store is gone. */
    wasm_module **modules;
    size_t nmodules;
    size_t modules_cap;
    spec_counts counts;
    uint64_t shown; /* failure lines printed */
    uint64_t notes; /* note lines printed */
} spec_script;

/* ---- Reporting --------------------------------------------------------- */

static void pass(spec_script *sc, spec_kind kind)
{
    sc->counts.kind[kind].passed++;
}

static void skip(spec_script *sc, spec_kind kind)
{
    sc->counts.kind[kind].skipped++;
}

/* Counts a failure and prints "FILE:LINE: COMMAND: MESSAGE". */
static void fail(spec_script *sc, spec_kind kind, int64_t line,
                 const char *command, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(spec_script *sc, spec_kind kind, int64_t line,
                 const char *command, const char *fmt, ...)
{
    sc->counts.kind[kind].failed++;
    if (sc->opts->quiet || sc->shown >= SPEC_MAX_SHOWN)
        return;
    sc->shown++;
    spec_buf msg;
    spec__buf_clear(&msg);
    va_list ap;
    va_start(ap, fmt);
    spec__buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    printf("%s:%" PRId64 ": %s: %s\n", sc->file, line, command, msg.text);
}

/* With --verbose: a pass that was not exact, e.g. a trap whose message
 * differs from the reference interpreter's. */
static void note(spec_script *sc, int64_t line, const char *command,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void note(spec_script *sc, int64_t line, const char *command,
                 const char *fmt, ...)
{
    if (!sc->opts->verbose || sc->notes >= SPEC_MAX_SHOWN)
        return;
    sc->notes++;
    spec_buf msg;
    spec__buf_clear(&msg);
    va_list ap;
    va_start(ap, fmt);
    spec__buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    printf("%s:%" PRId64 ": %s: note: %s\n", sc->file, line, command, msg.text);
}

static uint64_t tally_total(const spec_tally *t)
{
    return t->passed + t->failed + t->skipped;
}

static void counts_add(spec_counts *sum, const spec_counts *c)
{
    for (int k = 0; k < SPEC_NUM_KINDS; k++) {
        sum->kind[k].passed += c->kind[k].passed;
        sum->kind[k].failed += c->kind[k].failed;
        sum->kind[k].skipped += c->kind[k].skipped;
    }
    sum->resumes += c->resumes;
    sum->fuel_used += c->fuel_used;
}

static spec_tally counts_sum(const spec_counts *c)
{
    spec_tally t = {0, 0, 0};
    for (int k = 0; k < SPEC_NUM_KINDS; k++) {
        t.passed += c->kind[k].passed;
        t.failed += c->kind[k].failed;
        t.skipped += c->kind[k].skipped;
    }
    return t;
}

/* "P passed, F failed, S skipped (assertions p/n, modules p/n, actions
 * p/n)": the first three add up to wabt's total for the script. */
static void print_counts(const char *label, const spec_counts *c,
                         int64_t fuel_slice)
{
    spec_tally t = counts_sum(c);
    const spec_tally *a = &c->kind[SPEC_KIND_ASSERTION];
    const spec_tally *m = &c->kind[SPEC_KIND_MODULE];
    const spec_tally *x = &c->kind[SPEC_KIND_ACTION];
    printf("%s: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64
           " skipped (assertions %" PRIu64 "/%" PRIu64 ", modules %" PRIu64
           "/%" PRIu64 ", actions %" PRIu64 "/%" PRIu64 ")\n",
           label, t.passed, t.failed, t.skipped, a->passed,
           a->passed + a->failed, m->passed, tally_total(m), x->passed,
           tally_total(x));
    /* The fuel used does not depend on the slice size, so these totals
     * compare across runs with different --fuel values. */
    if (fuel_slice > 0)
        printf("%s: fuel slices of %" PRId64 ", %" PRIu64
               " resumptions after WASM_OUT_OF_FUEL, %" PRIu64 " fuel used\n",
               label, fuel_slice, c->resumes, c->fuel_used);
}

/* ---- Small helpers ----------------------------------------------------- */

/* A JSON string as bytes; false when v is not a string. */
static bool json_bytes(const json_t *v, const char **s, size_t *len)
{
    if (!json_is_string(v))
        return false;
    *s = json_string_value(v);
    *len = json_string_length(v);
    return true;
}

static bool bytes_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool str_is(const char *s, const char *want)
{
    return s != NULL && strcmp(s, want) == 0;
}

static int64_t command_line(const json_t *cmd)
{
    return json_integer_value(json_object_get(cmd, "line"));
}

static spec_binding *bindings_find(const spec_bindings *b, const char *name,
                                   size_t len)
{
    for (size_t i = 0; i < b->count; i++) {
        if (bytes_equal(b->items[i].name, b->items[i].len, name, len))
            return &b->items[i];
    }
    return NULL;
}

/* Binds name to inst, replacing an earlier binding of the same name. */
static shoal_err bindings_set(spec_bindings *b, const char *name, size_t len,
                              wasm_instance *inst)
{
    spec_binding *old = bindings_find(b, name, len);
    if (old != NULL) {
        old->inst = inst;
        return SHOAL_OK;
    }
    if (b->count == b->cap) {
        size_t cap = b->cap == 0 ? 8 : b->cap * 2;
        spec_binding *items = realloc(b->items, cap * sizeof *items);
        if (items == NULL)
            return SHOAL_ENOMEM;
        b->items = items;
        b->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return SHOAL_ENOMEM;
    if (len > 0)
        memcpy(copy, name, len);
    copy[len] = '\0';
    b->items[b->count].name = copy;
    b->items[b->count].len = len;
    b->items[b->count].inst = inst;
    b->count++;
    return SHOAL_OK;
}

static void bindings_free(spec_bindings *b)
{
    for (size_t i = 0; i < b->count; i++)
        free(b->items[i].name);
    free(b->items);
    b->items = NULL;
    b->count = b->cap = 0;
}

/* Keeps the runner's reference to m until the script ends. */
static shoal_err keep_module(spec_script *sc, wasm_module *m)
{
    if (sc->nmodules == sc->modules_cap) {
        size_t cap = sc->modules_cap == 0 ? 16 : sc->modules_cap * 2;
        wasm_module **mods = realloc(sc->modules, cap * sizeof *mods);
        if (mods == NULL)
            return SHOAL_ENOMEM;
        sc->modules = mods;
        sc->modules_cap = cap;
    }
    sc->modules[sc->nmodules++] = m;
    return SHOAL_OK;
}

/* Reads a whole file into a new buffer. */
static shoal_err read_file(const char *path, uint8_t **out, size_t *len,
                           spec_buf *why)
{
    shoal_err err = SHOAL_EIO;
    uint8_t *data = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        spec__buf_printf(why, "cannot open %s: %s", path, strerror(errno));
        return SHOAL_EIO;
    }
    if (fseek(f, 0, SEEK_END) != 0)
        goto fail_close;
    long size = ftell(f);
    if (size < 0 || (unsigned long)size > SPEC_MAX_MODULE_BYTES ||
        fseek(f, 0, SEEK_SET) != 0)
        goto fail_close;
    data = malloc(size > 0 ? (size_t)size : 1);
    if (data == NULL) {
        err = SHOAL_ENOMEM;
        goto fail_close;
    }
    if (fread(data, 1, (size_t)size, f) != (size_t)size)
        goto fail_free_data;
    fclose(f);
    *out = data;
    *len = (size_t)size;
    return SHOAL_OK;

fail_free_data:
    free(data);
fail_close:
    fclose(f);
    spec__buf_printf(why, "cannot read %s: %s", path, shoal_strerror(err));
    return err;
}

/* ---- Running calls ----------------------------------------------------- */

typedef enum run_outcome {
    RUN_RETURNED,
    RUN_TRAPPED,
    RUN_BROKEN, /* the engine could not run the call; see why */
} run_outcome;

/* Replaces the exec after a call that was left unfinished, so that the
 * next command starts from a clean state. */
static void renew_exec(spec_script *sc)
{
    if (sc->exec != NULL)
        wasm_exec_delete(sc->exec);
    sc->exec = wasm_exec_new(sc->store);
}

static const char *status_name(wasm_status st)
{
    switch (st) {
    case WASM_DONE:
        return "WASM_DONE";
    case WASM_OUT_OF_FUEL:
        return "WASM_OUT_OF_FUEL";
    case WASM_SUSPENDED:
        return "WASM_SUSPENDED";
    case WASM_TRAPPED:
        return "WASM_TRAPPED";
    }
    return "an unknown wasm_status";
}

/* Runs the prepared call in slices of --fuel until it stops for another
 * reason than fuel. Sets *broken when the engine makes no progress. */
static wasm_status run_sliced(spec_script *sc, spec_buf *why, bool *broken)
{
    int64_t slice = sc->opts->fuel_slice;
    int64_t max_slices = SPEC_MAX_CALL_FUEL / slice + 1;
    for (int64_t i = 0; i < max_slices; i++) {
        wasm_exec_set_fuel(sc->exec, slice);
        uint64_t used_before = wasm_exec_fuel_used(sc->exec);
        wasm_status st = wasm_exec_run(sc->exec);
        if (st != WASM_OUT_OF_FUEL)
            return st;
        sc->counts.resumes++;
        if (wasm_exec_fuel_used(sc->exec) == used_before) {
            spec__buf_printf(why,
                             "WASM_OUT_OF_FUEL with %" PRId64
                             " fuel but no fuel used (slice %" PRId64 ")",
                             slice, i);
            *broken = true;
            return st;
        }
    }
    spec__buf_printf(why, "call not finished after %" PRId64 " fuel",
                     (int64_t)SPEC_MAX_CALL_FUEL);
    *broken = true;
    return WASM_OUT_OF_FUEL;
}

/* Calls f to the end. On RUN_TRAPPED *trap says why. */
static run_outcome run_call(spec_script *sc, wasm_func *f, const uint64_t *args,
                            uint32_t nargs, wasm_trap *trap, spec_buf *why)
{
    if (sc->exec == NULL) {
        spec__buf_printf(why, "no wasm_exec (out of memory)");
        return RUN_BROKEN;
    }
    uint64_t used_before = wasm_exec_fuel_used(sc->exec);
    shoal_err err = wasm_exec_call(sc->exec, f, args, nargs);
    if (err != SHOAL_OK) {
        spec__buf_printf(why, "wasm_exec_call failed: %s", shoal_err_name(err));
        renew_exec(sc);
        return RUN_BROKEN;
    }

    bool broken = false;
    wasm_status st;
    if (sc->opts->fuel_slice > 0)
        st = run_sliced(sc, why, &broken);
    else
        st = wasm_exec_run(sc->exec);
    if (broken)
        goto fail_unfinished;

    switch (st) {
    case WASM_DONE:
        sc->counts.fuel_used += wasm_exec_fuel_used(sc->exec) - used_before;
        return RUN_RETURNED;
    case WASM_TRAPPED:
        sc->counts.fuel_used += wasm_exec_fuel_used(sc->exec) - used_before;
        *trap = wasm_exec_trap(sc->exec);
        return RUN_TRAPPED;
    case WASM_OUT_OF_FUEL:
    case WASM_SUSPENDED:
        break;
    }
    spec__buf_printf(why, "wasm_exec_run returned %s", status_name(st));

fail_unfinished:
    renew_exec(sc);
    return RUN_BROKEN;
}

static void buf_trap(spec_buf *b, const spec_script *sc, wasm_trap trap)
{
    spec__buf_printf(b, "trap \"%s\"", wasm_trap_message(trap));
    if (trap == WASM_TRAP_HOST || trap == WASM_TRAP_EXIT) {
        const char *detail = wasm_exec_trap_detail(sc->exec);
        if (detail != NULL)
            spec__buf_printf(b, " (%s)", detail);
    }
}

/* ---- Actions ----------------------------------------------------------- */

/* The outcome of an invoke or get action. */
typedef struct action_run {
    run_outcome outcome;
    const wasm_functype *type; /* of the invoked function; NULL for a get */
    wasm_valtype global_type;  /* of the global read by a get */
    const uint64_t *results;
    uint32_t nresults;
    uint64_t global_value;
    wasm_trap trap;
    spec_buf what; /* e.g. `invoke "add" (i32:1, i32:2)`, for messages */
    spec_buf why;  /* for RUN_BROKEN */
} action_run;

static wasm_valtype result_type(const action_run *r, uint32_t i)
{
    if (r->type == NULL)
        return r->global_type;
    return wasm_functype_result(r->type, i);
}

static void buf_results(spec_buf *b, const action_run *r)
{
    spec__buf_printf(b, "(");
    for (uint32_t i = 0; i < r->nresults; i++) {
        spec__buf_printf(b, i > 0 ? ", " : "");
        spec__buf_value(b, result_type(r, i), r->results[i]);
    }
    spec__buf_printf(b, ")");
}

/* The instance an action or register names, or the current one. */
static wasm_instance *target_instance(spec_script *sc, const json_t *name,
                                      spec_buf *why)
{
    const char *s;
    size_t len;
    if (!json_bytes(name, &s, &len)) {
        if (sc->current == NULL)
            spec__buf_printf(why, "no current module");
        return sc->current;
    }
    spec_binding *b = bindings_find(&sc->named, s, len);
    if (b == NULL || b->inst == NULL) {
        spec__buf_printf(why, "%s module ", b == NULL ? "unknown" : "failed");
        spec__buf_name(why, s, len);
        return NULL;
    }
    return b->inst;
}

/* Reads the arguments of an invoke into args (nargs values) and appends
 * them to r->what. */
static bool read_args(const json_t *jargs, uint64_t *args, wasm_valtype *types,
                      action_run *r)
{
    size_t nargs = json_array_size(jargs);
    spec__buf_printf(&r->what, " (");
    for (size_t i = 0; i < nargs; i++) {
        spec_value v;
        if (!spec__value_parse(json_array_get(jargs, i), false, &v, &r->why)) {
            spec__buf_printf(&r->what, "...)");
            return false;
        }
        args[i] = v.bits;
        types[i] = v.type;
        spec__buf_printf(&r->what, i > 0 ? ", " : "");
        spec__buf_value(&r->what, v.type, v.bits);
    }
    spec__buf_printf(&r->what, ")");
    return true;
}

static void run_invoke(spec_script *sc, wasm_instance *inst, const char *field,
                       size_t field_len, const uint64_t *args,
                       const wasm_valtype *types, size_t nargs, action_run *r)
{
    wasm_extern ext = wasm_instance_export(inst, field, field_len);
    if (ext.kind != WASM_EXTERN_FUNC) {
        spec__buf_printf(&r->why, "no exported function ");
        spec__buf_name(&r->why, field, field_len);
        return;
    }
    r->type = wasm_func_type(ext.u.func);
    uint32_t nparams = wasm_functype_num_params(r->type);
    if (nargs != nparams) {
        spec__buf_printf(&r->why, "%zu arguments for a function of %" PRIu32,
                         nargs, nparams);
        return;
    }
    for (uint32_t i = 0; i < nparams; i++) {
        wasm_valtype want = wasm_functype_param(r->type, i);
        if (types[i] != want) {
            spec__buf_printf(&r->why, "argument %" PRIu32 " is %s, not %s", i,
                             wasm_valtype_name(types[i]),
                             wasm_valtype_name(want));
            return;
        }
    }

    r->outcome =
        run_call(sc, ext.u.func, args, (uint32_t)nargs, &r->trap, &r->why);
    if (r->outcome != RUN_RETURNED)
        return;
    r->results = wasm_exec_results(sc->exec, &r->nresults);
    if (r->nresults != wasm_functype_num_results(r->type)) {
        spec__buf_printf(&r->why,
                         "%" PRIu32 " results from a function of %" PRIu32,
                         r->nresults, wasm_functype_num_results(r->type));
        r->outcome = RUN_BROKEN;
    }
}

static void run_get(wasm_instance *inst, const char *field, size_t field_len,
                    action_run *r)
{
    wasm_extern ext = wasm_instance_export(inst, field, field_len);
    if (ext.kind != WASM_EXTERN_GLOBAL) {
        spec__buf_printf(&r->why, "no exported global ");
        spec__buf_name(&r->why, field, field_len);
        return;
    }
    r->global_type = wasm_global_type(ext.u.global);
    r->global_value = wasm_global_get(ext.u.global);
    r->results = &r->global_value;
    r->nresults = 1;
    r->outcome = RUN_RETURNED;
}

/* Performs the action of an action or assert_* command. The results stay
 * valid until the next call. */
static void run_action(spec_script *sc, const json_t *action, action_run *r)
{
    uint64_t *args = NULL;
    wasm_valtype *types = NULL;
    const char *field = NULL;
    size_t field_len = 0;

    memset(r, 0, sizeof *r);
    spec__buf_clear(&r->what);
    spec__buf_clear(&r->why);
    r->outcome = RUN_BROKEN;

    /* Describe the action first, so that every message can name it. */
    const char *type = json_string_value(json_object_get(action, "type"));
    bool invoke = str_is(type, "invoke");
    if (!invoke && !str_is(type, "get")) {
        spec__buf_printf(&r->why, "unknown action type %s",
                         type != NULL ? type : "(none)");
        return;
    }
    spec__buf_printf(&r->what, "%s", type);
    const json_t *module = json_object_get(action, "module");
    const char *module_name;
    size_t module_len;
    if (json_bytes(module, &module_name, &module_len)) {
        spec__buf_printf(&r->what, " ");
        spec__buf_name(&r->what, module_name, module_len);
    }
    if (!json_bytes(json_object_get(action, "field"), &field, &field_len)) {
        spec__buf_printf(&r->why, "%s without a field", type);
        return;
    }
    spec__buf_printf(&r->what, " ");
    spec__buf_name(&r->what, field, field_len);

    const json_t *jargs = json_object_get(action, "args");
    size_t nargs = invoke ? json_array_size(jargs) : 0;
    if (invoke) {
        args = calloc(nargs > 0 ? nargs : 1, sizeof *args);
        types = calloc(nargs > 0 ? nargs : 1, sizeof *types);
        if (args == NULL || types == NULL) {
            spec__buf_printf(&r->why, "out of memory");
            goto out_free_args;
        }
        if (!read_args(jargs, args, types, r))
            goto out_free_args;
    }

    wasm_instance *inst = target_instance(sc, module, &r->why);
    if (inst == NULL)
        goto out_free_args;
    if (invoke)
        run_invoke(sc, inst, field, field_len, args, types, nargs, r);
    else
        run_get(inst, field, field_len, r);

out_free_args:
    free(types);
    free(args);
}

/* Describes an outcome other than the expected one, for "got ...". */
static void buf_outcome(spec_buf *b, const spec_script *sc, const action_run *r)
{
    switch (r->outcome) {
    case RUN_RETURNED:
        buf_results(b, r);
        return;
    case RUN_TRAPPED:
        buf_trap(b, sc, r->trap);
        return;
    case RUN_BROKEN:
        spec__buf_printf(b, "error: %s", r->why.text);
        return;
    }
}

/* Whether the engine's trap message says what the spec text says. The
 * reference interpreter adds detail ("uninitialized element 2") or words
 * some traps differently, so this only feeds --verbose notes. */
static bool trap_text_agrees(wasm_trap trap, const char *text)
{
    const char *msg = wasm_trap_message(trap);
    size_t n = strlen(msg), m = strlen(text);
    size_t common = n < m ? n : m;
    if (strncmp(msg, text, common) == 0)
        return true;
    return trap == WASM_TRAP_TABLE_OOB && str_is(text, "undefined element");
}

static void cmd_action(spec_script *sc, const json_t *cmd)
{
    int64_t line = command_line(cmd);
    action_run r;
    run_action(sc, json_object_get(cmd, "action"), &r);
    if (r.outcome == RUN_RETURNED) {
        pass(sc, SPEC_KIND_ACTION);
        return;
    }
    spec_buf got;
    spec__buf_clear(&got);
    buf_outcome(&got, sc, &r);
    fail(sc, SPEC_KIND_ACTION, line, "action", "expected a return, got %s [%s]",
         got.text, r.what.text);
}

static void cmd_assert_return(spec_script *sc, const json_t *cmd)
{
    int64_t line = command_line(cmd);
    const json_t *expected = json_object_get(cmd, "expected");
    size_t nexpected = json_array_size(expected);
    spec_value *want = NULL;
    spec_buf want_text, got;
    spec__buf_clear(&want_text);
    spec__buf_clear(&got);

    action_run r;
    run_action(sc, json_object_get(cmd, "action"), &r);

    want = calloc(nexpected > 0 ? nexpected : 1, sizeof *want);
    if (want == NULL) {
        fail(sc, SPEC_KIND_ASSERTION, line, "assert_return", "out of memory");
        return;
    }
    spec__buf_printf(&want_text, "(");
    for (size_t i = 0; i < nexpected; i++) {
        spec_buf why;
        spec__buf_clear(&why);
        if (!spec__value_parse(json_array_get(expected, i), true, &want[i],
                               &why)) {
            fail(sc, SPEC_KIND_ASSERTION, line, "assert_return",
                 "cannot read expected result %zu: %s", i, why.text);
            goto out_free_want;
        }
        spec__buf_printf(&want_text, i > 0 ? ", " : "");
        spec__buf_expected(&want_text, &want[i]);
    }
    spec__buf_printf(&want_text, ")");

    bool ok = r.outcome == RUN_RETURNED && r.nresults == nexpected;
    for (size_t i = 0; ok && i < nexpected; i++) {
        ok = result_type(&r, (uint32_t)i) == want[i].type &&
             spec__value_matches(&want[i], r.results[i]);
    }
    if (ok) {
        pass(sc, SPEC_KIND_ASSERTION);
        goto out_free_want;
    }
    buf_outcome(&got, sc, &r);
    fail(sc, SPEC_KIND_ASSERTION, line, "assert_return",
         "expected %s, got %s [%s]", want_text.text, got.text, r.what.text);

out_free_want:
    free(want);
}

static void cmd_assert_trap(spec_script *sc, const json_t *cmd,
                            const char *command, bool exhaustion)
{
    int64_t line = command_line(cmd);
    const char *text = json_string_value(json_object_get(cmd, "text"));
    if (text == NULL)
        text = "";

    action_run r;
    run_action(sc, json_object_get(cmd, "action"), &r);
    bool ok = r.outcome == RUN_TRAPPED &&
              (!exhaustion || r.trap == WASM_TRAP_CALL_STACK_EXHAUSTED);
    if (ok) {
        pass(sc, SPEC_KIND_ASSERTION);
        if (!trap_text_agrees(r.trap, text))
            note(sc, line, command, "expected trap \"%s\", got \"%s\" [%s]",
                 text, wasm_trap_message(r.trap), r.what.text);
        return;
    }
    spec_buf got;
    spec__buf_clear(&got);
    buf_outcome(&got, sc, &r);
    fail(sc, SPEC_KIND_ASSERTION, line, command,
         "expected trap \"%s\", got %s [%s]", text, got.text, r.what.text);
}

/* ---- Modules ----------------------------------------------------------- */

typedef enum inst_outcome {
    INST_OK,
    INST_NOT_LOADED, /* decoding or validation failed */
    INST_UNLINKABLE,
    INST_TRAPPED, /* a segment or the start function trapped */
    INST_BROKEN,  /* anything else: no file, out of memory, ... */
} inst_outcome;

/* Loads the module file name of a command; on SHOAL_OK *out is a module the
 * script keeps until it ends. */
static shoal_err load_module(spec_script *sc, const char *name,
                             wasm_module **out, spec_buf *why)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char *path = NULL;
    shoal_err err;

    size_t path_len = strlen(sc->dir) + 1 + strlen(name) + 1;
    path = malloc(path_len);
    if (path == NULL) {
        spec__buf_printf(why, "out of memory");
        return SHOAL_ENOMEM;
    }
    snprintf(path, path_len, "%s/%s", sc->dir, name);
    err = read_file(path, &bytes, &len, why);
    if (err != SHOAL_OK)
        goto out_free_path;

    wasm_load_options opts = {.metering = sc->opts->fuel_slice > 0};
    shoal_errinfo ei = {.offset = SIZE_MAX};
    ei.msg[0] = '\0';
    wasm_module *m = NULL;
    err = wasm_module_load(bytes, len, &opts, &m, &ei);
    if (err != SHOAL_OK) {
        spec__buf_printf(why, "%s", shoal_err_name(err));
        if (ei.msg[0] != '\0')
            spec__buf_printf(why, ": %.*s", (int)sizeof ei.msg, ei.msg);
        if (ei.offset != SIZE_MAX)
            spec__buf_printf(why, " at byte %zu", ei.offset);
        goto out_free_bytes;
    }
    err = keep_module(sc, m);
    if (err != SHOAL_OK) {
        wasm_module_unref(m);
        spec__buf_printf(why, "out of memory");
        goto out_free_bytes;
    }
    *out = m;

out_free_bytes:
    free(bytes);
out_free_path:
    free(path);
    return err;
}

/* The extern an import names: a registered instance's export, or one of
 * spectest. */
static wasm_extern resolve_import(spec_script *sc, const wasm_import_desc *d)
{
    wasm_extern none = {.kind = WASM_EXTERN_NONE};
    spec_binding *b = bindings_find(&sc->registered, d->module, d->module_len);
    if (b != NULL) {
        if (b->inst == NULL)
            return none;
        return wasm_instance_export(b->inst, d->name, d->name_len);
    }
    if (bytes_equal(d->module, d->module_len, "spectest", 8))
        return spec__spectest_export(&sc->spectest, d->name, d->name_len);
    return none;
}

/* Decodes, validates, links and instantiates a module file and runs its
 * start function. On INST_OK *out is the new instance. */
static inst_outcome instantiate_file(spec_script *sc, const char *name,
                                     wasm_instance **out, spec_buf *why)
{
    inst_outcome outcome = INST_BROKEN;
    wasm_module *m = NULL;
    wasm_extern *imports = NULL;
    wasm_instance *inst = NULL;

    shoal_err err = load_module(sc, name, &m, why);
    if (err == SHOAL_EMALFORMED || err == SHOAL_EINVALID)
        return INST_NOT_LOADED;
    if (err != SHOAL_OK)
        return INST_BROKEN;

    uint32_t nimports = wasm_module_num_imports(m);
    imports = calloc(nimports > 0 ? nimports : 1, sizeof *imports);
    if (imports == NULL) {
        spec__buf_printf(why, "out of memory");
        return INST_BROKEN;
    }
    for (uint32_t i = 0; i < nimports; i++) {
        wasm_import_desc d;
        memset(&d, 0, sizeof d);
        wasm_module_import(m, i, &d);
        imports[i] = resolve_import(sc, &d);
        if (imports[i].kind == WASM_EXTERN_NONE) {
            spec__buf_printf(why, "unknown import ");
            spec__buf_name(why, d.module, d.module_len);
            spec__buf_printf(why, " ");
            spec__buf_name(why, d.name, d.name_len);
            outcome = INST_UNLINKABLE;
            goto out_free_imports;
        }
    }

    shoal_errinfo ei = {.offset = SIZE_MAX};
    ei.msg[0] = '\0';
    err = wasm_instantiate(sc->store, m, imports, nimports, &inst, &ei);
    if (err != SHOAL_OK) {
        spec__buf_printf(why, "wasm_instantiate: %s", shoal_err_name(err));
        if (ei.msg[0] != '\0')
            spec__buf_printf(why, ": %.*s", (int)sizeof ei.msg, ei.msg);
        if (err == SHOAL_EUNLINKABLE)
            outcome = INST_UNLINKABLE;
        else if (err == SHOAL_ETRAP)
            outcome = INST_TRAPPED;
        goto out_free_imports;
    }

    wasm_func *start = wasm_instance_start(inst);
    if (start != NULL) {
        wasm_trap trap = WASM_TRAP_NONE;
        run_outcome ro = run_call(sc, start, NULL, 0, &trap, why);
        if (ro == RUN_TRAPPED) {
            spec__buf_printf(why, "start function: ");
            buf_trap(why, sc, trap);
            outcome = INST_TRAPPED;
            goto out_free_imports;
        }
        if (ro != RUN_RETURNED) {
            spec__buf_printf(why, " (in the start function)");
            goto out_free_imports;
        }
    }
    *out = inst;
    outcome = INST_OK;

out_free_imports:
    free(imports);
    return outcome;
}

static const char *command_filename(const json_t *cmd)
{
    const char *name = json_string_value(json_object_get(cmd, "filename"));
    return name != NULL ? name : "";
}

static void cmd_module(spec_script *sc, const json_t *cmd)
{
    int64_t line = command_line(cmd);
    const char *file = command_filename(cmd);
    const char *name = NULL;
    size_t name_len = 0;
    bool has_name = json_bytes(json_object_get(cmd, "name"), &name, &name_len);
    wasm_instance *inst = NULL;
    spec_buf why;
    spec__buf_clear(&why);

    inst_outcome outcome = instantiate_file(sc, file, &inst, &why);
    /* A failed module leaves no current module, so that the commands
     * meant for it fail rather than run against an older one. */
    sc->current = outcome == INST_OK ? inst : NULL;
    if (has_name &&
        bindings_set(&sc->named, name, name_len, sc->current) != SHOAL_OK) {
        fail(sc, SPEC_KIND_MODULE, line, "module", "out of memory");
        return;
    }
    if (outcome == INST_OK) {
        pass(sc, SPEC_KIND_MODULE);
        return;
    }
    fail(sc, SPEC_KIND_MODULE, line, "module",
         "expected instantiation, got %s [%s]", why.text, file);
}

static void cmd_register(spec_script *sc, const json_t *cmd)
{
    int64_t line = command_line(cmd);
    const char *as;
    size_t as_len;
    spec_buf why;
    spec__buf_clear(&why);

    if (!json_bytes(json_object_get(cmd, "as"), &as, &as_len)) {
        fail(sc, SPEC_KIND_ACTION, line, "register", "no \"as\" name");
        return;
    }
    /* Registering a module that failed makes its imports unknown; the
     * failure itself was counted by its module command. */
    wasm_instance *inst =
        target_instance(sc, json_object_get(cmd, "name"), &why);
    if (bindings_set(&sc->registered, as, as_len, inst) != SHOAL_OK)
        fail(sc, SPEC_KIND_ACTION, line, "register", "out of memory");
}

static bool is_text_module(const json_t *cmd)
{
    return str_is(json_string_value(json_object_get(cmd, "module_type")),
                  "text");
}

/* assert_invalid and assert_malformed: the module must not load. */
static void cmd_assert_not_loaded(spec_script *sc, const json_t *cmd,
                                  const char *command, shoal_err want)
{
    int64_t line = command_line(cmd);
    const char *file = command_filename(cmd);
    const char *text = json_string_value(json_object_get(cmd, "text"));
    if (text == NULL)
        text = "";
    if (is_text_module(cmd)) {
        skip(sc, SPEC_KIND_ASSERTION);
        return;
    }

    wasm_module *m = NULL;
    spec_buf why;
    spec__buf_clear(&why);
    shoal_err err = load_module(sc, file, &m, &why);
    if (err == SHOAL_EMALFORMED || err == SHOAL_EINVALID) {
        pass(sc, SPEC_KIND_ASSERTION);
        if (err != want)
            note(sc, line, command, "expected %s (\"%s\"), got %s [%s]",
                 shoal_err_name(want), text, why.text, file);
        return;
    }
    if (err == SHOAL_OK)
        spec__buf_printf(&why, "a module that loads");
    fail(sc, SPEC_KIND_ASSERTION, line, command,
         "expected %s module (\"%s\"), got %s [%s]",
         want == SHOAL_EMALFORMED ? "a malformed" : "an invalid", text,
         why.text, file);
}

/* assert_unlinkable and assert_uninstantiable. */
static void cmd_assert_instantiation(spec_script *sc, const json_t *cmd,
                                     const char *command, inst_outcome want)
{
    int64_t line = command_line(cmd);
    const char *file = command_filename(cmd);
    const char *text = json_string_value(json_object_get(cmd, "text"));
    if (text == NULL)
        text = "";
    if (is_text_module(cmd)) {
        skip(sc, SPEC_KIND_ASSERTION);
        return;
    }

    wasm_instance *inst = NULL;
    spec_buf why;
    spec__buf_clear(&why);
    inst_outcome outcome = instantiate_file(sc, file, &inst, &why);
    if (outcome == want) {
        pass(sc, SPEC_KIND_ASSERTION);
        return;
    }
    if (outcome == INST_OK)
        spec__buf_printf(&why, "a module that instantiates");
    fail(sc, SPEC_KIND_ASSERTION, line, command,
         "expected %s (\"%s\"), got %s [%s]",
         want == INST_UNLINKABLE ? "a link error" : "a trap in instantiation",
         text, why.text, file);
}

/* ---- Scripts ----------------------------------------------------------- */

static void run_command(spec_script *sc, const json_t *cmd)
{
    const char *type = json_string_value(json_object_get(cmd, "type"));
    if (str_is(type, "module"))
        cmd_module(sc, cmd);
    else if (str_is(type, "register"))
        cmd_register(sc, cmd);
    else if (str_is(type, "action"))
        cmd_action(sc, cmd);
    else if (str_is(type, "assert_return"))
        cmd_assert_return(sc, cmd);
    else if (str_is(type, "assert_trap"))
        cmd_assert_trap(sc, cmd, "assert_trap", false);
    else if (str_is(type, "assert_exhaustion"))
        cmd_assert_trap(sc, cmd, "assert_exhaustion", true);
    else if (str_is(type, "assert_invalid"))
        cmd_assert_not_loaded(sc, cmd, "assert_invalid", SHOAL_EINVALID);
    else if (str_is(type, "assert_malformed"))
        cmd_assert_not_loaded(sc, cmd, "assert_malformed", SHOAL_EMALFORMED);
    else if (str_is(type, "assert_unlinkable"))
        cmd_assert_instantiation(sc, cmd, "assert_unlinkable", INST_UNLINKABLE);
    else if (str_is(type, "assert_uninstantiable"))
        cmd_assert_instantiation(sc, cmd, "assert_uninstantiable",
                                 INST_TRAPPED);
    else
        fail(sc, SPEC_KIND_ASSERTION, command_line(cmd),
             type != NULL ? type : "(no type)", "unknown command");
}

/* The folder part of path ("." when there is none), as a new string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (dir == NULL)
        return NULL;
    memcpy(dir, path, len);
    dir[len] = '\0';
    return dir;
}

/* Runs one JSON script and stores its outcomes in *counts. The name printed
 * for it goes to *label (a copy the caller frees, or NULL). */
static void run_script(const spec_options *opts, const char *path,
                       spec_counts *counts, char **label)
{
    spec_script sc;
    memset(&sc, 0, sizeof sc);
    sc.opts = opts;
    sc.file = path;
    json_error_t jerr;

    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        printf("%s: cannot read the script: %s (line %d)\n", path, jerr.text,
               jerr.line);
        goto out_unreadable;
    }
    const char *source =
        json_string_value(json_object_get(root, "source_filename"));
    if (source != NULL)
        sc.file = source;
    const json_t *commands = json_object_get(root, "commands");
    if (!json_is_array(commands)) {
        printf("%s: no commands in %s\n", sc.file, path);
        goto out_unreadable;
    }

    sc.dir = dir_of(path);
    sc.store = wasm_store_new(NULL);
    if (sc.dir == NULL || sc.store == NULL) {
        printf("%s: out of memory\n", sc.file);
        goto out_unreadable;
    }
    sc.exec = wasm_exec_new(sc.store);
    if (sc.exec == NULL ||
        spec__spectest_make(sc.store, &sc.spectest) != SHOAL_OK) {
        printf("%s: cannot make the spectest module: out of memory\n", sc.file);
        goto out_unreadable;
    }

    size_t ncommands = json_array_size(commands);
    for (size_t i = 0; i < ncommands; i++)
        run_command(&sc, json_array_get(commands, i));

    uint64_t failed = counts_sum(&sc.counts).failed;
    if (!opts->quiet && failed > sc.shown)
        printf("%s: %" PRIu64 " more failures not shown\n", sc.file,
               failed - sc.shown);
    goto out_report;

out_unreadable:
    /* A script that cannot run counts as one failure. */
    memset(&sc.counts, 0, sizeof sc.counts);
    sc.counts.kind[SPEC_KIND_ASSERTION].failed = 1;
out_report:
    *counts = sc.counts;
    *label = strdup(sc.file);
    if (!opts->table_only)
        print_counts(sc.file, counts, opts->fuel_slice);

    /* The store goes first: its instances hold references to modules. */
    if (sc.exec != NULL)
        wasm_exec_delete(sc.exec);
    if (sc.store != NULL)
        wasm_store_delete(sc.store);
    for (size_t i = 0; i < sc.nmodules; i++)
        wasm_module_unref(sc.modules[i]);
    free(sc.modules);
    bindings_free(&sc.named);
    bindings_free(&sc.registered);
    free(sc.dir);
    json_decref(root); /* last: sc.file may point into it */
}

/* ---- Command line ------------------------------------------------------ */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: spec-runner [--fuel N] [--quiet] [--verbose] "
        "SCRIPT.json...\n"
        "Runs wast2json scripts of the WebAssembly spec tests.\n"
        "  --fuel N   meter every call and run it in fuel slices of N\n"
        "  --quiet    print no failure lines, only the counts (for several\n"
        "             scripts, only their table and the total)\n"
        "  --verbose  also note passes whose error kind or trap message\n"
        "             differs from the reference interpreter's\n");
}

static bool parse_fuel(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || n <= 0)
        return false;
    *out = n;
    return true;
}

int main(int argc, char **argv)
{
    spec_options opts = {
        .fuel_slice = 0, .quiet = false, .verbose = false, .table_only = false};
    const char **files = NULL;
    int nfiles = 0;
    int status = 2;

    files = calloc((size_t)(argc > 0 ? argc : 1), sizeof *files);
    if (files == NULL) {
        fprintf(stderr, "spec-runner: out of memory\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--fuel") == 0 && i + 1 < argc) {
            if (!parse_fuel(argv[++i], &opts.fuel_slice))
                goto fail_usage;
        } else if (strncmp(arg, "--fuel=", 7) == 0) {
            if (!parse_fuel(arg + 7, &opts.fuel_slice))
                goto fail_usage;
        } else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            opts.quiet = true;
        } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            opts.verbose = true;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            status = 0;
            goto out_free_files;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            goto fail_usage;
        } else {
            files[nfiles++] = arg;
        }
    }
    if (nfiles == 0)
        goto fail_usage;
    opts.table_only = opts.quiet && nfiles > 1;

    spec_counts *per_file = calloc((size_t)nfiles, sizeof *per_file);
    char **labels = calloc((size_t)nfiles, sizeof *labels);
    if (per_file == NULL || labels == NULL) {
        fprintf(stderr, "spec-runner: out of memory\n");
        free(per_file);
        free(labels);
        goto out_free_files;
    }
    spec_counts total;
    memset(&total, 0, sizeof total);
    for (int i = 0; i < nfiles; i++) {
        run_script(&opts, files[i], &per_file[i], &labels[i]);
        counts_add(&total, &per_file[i]);
        fflush(stdout);
    }

    if (nfiles > 1) {
        printf("\n%-36s %7s %7s %7s %9s %9s\n", "script", "passed", "failed",
               "skipped", "bad mods", "bad acts");
        for (int i = 0; i < nfiles; i++) {
            spec_tally t = counts_sum(&per_file[i]);
            printf("%-36s %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %9" PRIu64
                   " %9" PRIu64 "\n",
                   labels[i] != NULL ? labels[i] : files[i], t.passed, t.failed,
                   t.skipped, per_file[i].kind[SPEC_KIND_MODULE].failed,
                   per_file[i].kind[SPEC_KIND_ACTION].failed);
        }
        char label[64];
        snprintf(label, sizeof label, "TOTAL (%d scripts)", nfiles);
        print_counts(label, &total, opts.fuel_slice);
    }
    status = counts_sum(&total).failed == 0 ? 0 : 1;

    for (int i = 0; i < nfiles; i++)
        free(labels[i]);
    free(labels);
    free(per_file);
out_free_files:
    free(files);
    return status;

fail_usage:
    usage(stderr);
    free(files);
    return 2;
}
