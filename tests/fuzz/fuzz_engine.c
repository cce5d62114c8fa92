/* A fuzz target for the WebAssembly engine: untrusted module bytes through
 * decode -> validate -> compile, then instantiation and execution.
 *
 * Every input is loaded twice, with and without metering, and both loads
 * must agree on whether the module is acceptable. A module that loads is
 * instantiated in a store with small limits (16 pages of memory, 1000 table
 * elements, a 4096-slot value stack, 64 call frames), with every import
 * satisfied by a host object of the declared type. Then the start function
 * and every exported function run with zero-valued arguments under metering,
 * in slices of FUZZ_SLICE units of fuel up to FUZZ_BUDGET per call, so no
 * input can hang the fuzzer. The host functions return zeros, and now and
 * then trap, exit or suspend (the harness completes a suspended call with
 * zeros), so those paths run too.
 *
 * The target reads the engine's internal header only to learn the declared
 * types of imported tables, memories and globals, which wasm.h does not
 * describe.
 *
 * Built with -fsanitize=fuzzer by run.sh; regress_main.c drives the same
 * function over saved inputs in the normal test suite. Anything the checks
 * below dislike aborts, which the fuzzer reports as a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm.h"
#include "wasm_internal.h"

#define FUZZ_BUDGET 100000
#define FUZZ_SLICE 997
#define FUZZ_MAX_IMPORTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_host {
    const wasm_functype *type;
    uint32_t calls;
} fuzz_host;

typedef struct fuzz_run {
    fuzz_host hosts[FUZZ_MAX_IMPORTS];
    const fuzz_host *suspended; /* the host function that suspended */
} fuzz_run;

static void fuzz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_engine: check failed: %s\n", what);
        abort();
    }
}

/* Returns zeros, except that every 7th call suspends, every 11th traps and
 * every 13th exits. It also touches the caller's memory, if any. */
static wasm_host_status host_stub(wasm_exec *x, void *env, uint64_t *slots)
{
    fuzz_host *h = env;
    fuzz_run *run = wasm_exec_userdata(x);
    uint32_t n = ++h->calls;
    wasm_memory *mem = wasm_exec_caller_memory(x);
    if (mem && wasm_memory_size(mem) > 0) {
        uint8_t *p = wasm_memory_data(mem);
        p[wasm_memory_size(mem) - 1] ^= 0x5a;
    }
    if (n % 7 == 0) {
        run->suspended = h;
        return WASM_HOST_SUSPEND;
    }
    if (n % 11 == 0) {
        wasm_exec_set_host_trap(x, "fuzz host trap");
        return WASM_HOST_TRAP;
    }
    if (n % 13 == 0) {
        wasm_exec_set_exit(x, (int32_t)n);
        return WASM_HOST_TRAP;
    }
    for (uint32_t i = 0; i < wasm_functype_num_results(h->type); i++)
        slots[i] = 0;
    return WASM_HOST_OK;
}

/* Makes a host object of the declared type of import i, or gives
 * kind WASM_EXTERN_NONE when the store's limits cannot hold one. */
static wasm_extern make_import(wasm_store *s, const wasm_module *m, uint32_t i,
                               fuzz_run *run)
{
    wasm_import_desc d;
    wasm_module_import(m, i, &d);
    wasm_extern e = {.kind = d.kind};
    const import *im = &m->imports[i];
    switch (d.kind) {
    case WASM_EXTERN_FUNC: {
        const wasm_functype *t = d.functype;
        uint32_t np = wasm_functype_num_params(t);
        uint32_t nr = wasm_functype_num_results(t);
        wasm_valtype *types = malloc(((size_t)np + nr + 1) * sizeof *types);
        fuzz_check(types != NULL, "malloc");
        for (uint32_t k = 0; k < np; k++)
            types[k] = wasm_functype_param(t, k);
        for (uint32_t k = 0; k < nr; k++)
            types[np + k] = wasm_functype_result(t, k);
        run->hosts[i] = (fuzz_host){.type = t};
        e.u.func = wasm_func_new_host(s, types, np, types + np, nr, host_stub,
                                      &run->hosts[i]);
        free(types);
        break;
    }
    case WASM_EXTERN_TABLE: {
        const tabletype *tt = &m->tables[im->index];
        e.u.table = wasm_table_new(s, (wasm_valtype)tt->elemtype, tt->lim.min,
                                   tt->lim.has_max, tt->lim.max);
        break;
    }
    case WASM_EXTERN_MEMORY: {
        const wasm_limits_decl *l = &m->mems[im->index];
        e.u.memory = wasm_memory_new(s, l->min, l->has_max, l->max);
        break;
    }
    case WASM_EXTERN_GLOBAL: {
        const globaltype *g = &m->globals[im->index];
        e.u.global = wasm_global_new(s, (wasm_valtype)g->type, g->mut, 0);
        break;
    }
    default:
        fuzz_check(false, "import of an unknown kind");
    }
    if (e.u.func == NULL)
        e.kind = WASM_EXTERN_NONE;
    return e;
}

/* Runs f with zero-valued arguments until it finishes or has used
 * FUZZ_BUDGET units of fuel. Returns false when the call was abandoned,
 * which leaves x unusable for another call. */
static bool run_call(wasm_exec *x, wasm_func *f, fuzz_run *run)
{
    const wasm_functype *t = wasm_func_type(f);
    uint32_t np = wasm_functype_num_params(t);
    uint64_t *zeros = calloc((size_t)np + 1, 8); /* the arguments */
    fuzz_check(zeros != NULL, "calloc");
    shoal_err err = wasm_exec_call(x, f, zeros, np);
    free(zeros);
    if (err) {
        /* Only a frame larger than the whole value stack is refused. */
        fuzz_check(err == SHOAL_ELIMIT, "wasm_exec_call error");
        return true;
    }
    uint64_t start = wasm_exec_fuel_used(x);
    for (;;) {
        wasm_exec_set_fuel(x, FUZZ_SLICE);
        wasm_status st = wasm_exec_run(x);
        switch (st) {
        case WASM_DONE: {
            uint32_t nr;
            wasm_exec_results(x, &nr);
            fuzz_check(nr == wasm_functype_num_results(t), "result count");
            return true;
        }
        case WASM_TRAPPED: {
            wasm_trap trap = wasm_exec_trap(x);
            fuzz_check(trap > WASM_TRAP_NONE && trap <= WASM_TRAP_EXIT,
                       "trap kind");
            const char *detail = wasm_exec_trap_detail(x);
            fuzz_check(detail != NULL && detail[0] != '\0', "trap detail");
            return true;
        }
        case WASM_SUSPENDED: {
            fuzz_check(run->suspended != NULL, "suspended without a host");
            uint32_t nr = wasm_functype_num_results(run->suspended->type);
            uint64_t *results = calloc((size_t)nr + 1, 8);
            fuzz_check(results != NULL, "calloc");
            run->suspended = NULL;
            fuzz_check(wasm_exec_complete_host(x, results, nr) == SHOAL_OK,
                       "wasm_exec_complete_host");
            free(results);
            break;
        }
        case WASM_OUT_OF_FUEL:
            fuzz_check(wasm_exec_fuel(x) < 0, "out of fuel with fuel left");
            if (wasm_exec_fuel_used(x) - start > FUZZ_BUDGET)
                return false;
            break;
        default:
            fuzz_check(false, "run status");
        }
    }
}

static void run_module(wasm_module *m)
{
    wasm_limits lim = {.max_memory_pages = 16,
                       .max_table_elems = 1000,
                       .stack_slots = 4096,
                       .max_call_depth = 64};
    wasm_store *s = wasm_store_new(&lim);
    fuzz_check(s != NULL, "wasm_store_new");
    fuzz_run *run = calloc(1, sizeof *run);
    fuzz_check(run != NULL, "calloc");
    uint32_t nimports = wasm_module_num_imports(m);
    if (nimports > FUZZ_MAX_IMPORTS)
        goto out_free_store;
    wasm_extern imports[FUZZ_MAX_IMPORTS];
    for (uint32_t i = 0; i < nimports; i++) {
        imports[i] = make_import(s, m, i, run);
        if (imports[i].kind == WASM_EXTERN_NONE)
            goto out_free_store; /* too big for the limits */
    }

    wasm_instance *inst;
    shoal_errinfo ei;
    shoal_err err = wasm_instantiate(s, m, imports, nimports, &inst, &ei);
    if (err) {
        fuzz_check(err == SHOAL_EUNLINKABLE || err == SHOAL_ETRAP ||
                       err == SHOAL_ELIMIT || err == SHOAL_ENOMEM,
                   "wasm_instantiate error");
        fuzz_check(ei.msg[0] != '\0', "wasm_instantiate message");
        goto out_free_store;
    }

    wasm_exec *x = wasm_exec_new(s);
    fuzz_check(x != NULL, "wasm_exec_new");
    wasm_exec_set_userdata(x, run);
    wasm_func *start = wasm_instance_start(inst);
    if (start && !run_call(x, start, run)) {
        wasm_exec_delete(x);
        x = wasm_exec_new(s);
        fuzz_check(x != NULL, "wasm_exec_new");
        wasm_exec_set_userdata(x, run);
    }
    for (uint32_t i = 0; i < wasm_module_num_exports(m); i++) {
        const char *name;
        uint32_t len;
        wasm_extern_kind kind;
        wasm_module_export(m, i, &name, &len, &kind);
        wasm_extern e = wasm_instance_export(inst, name, len);
        fuzz_check(e.kind == kind, "export kind");
        if (kind != WASM_EXTERN_FUNC)
            continue;
        if (!run_call(x, e.u.func, run)) {
            wasm_exec_delete(x);
            x = wasm_exec_new(s);
            fuzz_check(x != NULL, "wasm_exec_new");
            wasm_exec_set_userdata(x, run);
        }
    }
    wasm_exec_delete(x);

out_free_store:
    free(run);
    wasm_store_delete(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shoal_errinfo ei;
    wasm_module *metered, *plain;
    wasm_load_options on = {.metering = true}, off = {.metering = false};

    memset(&ei, 0, sizeof ei);
    shoal_err err = wasm_module_load(data, size, &on, &metered, &ei);
    if (err) {
        fuzz_check(err == SHOAL_EMALFORMED || err == SHOAL_EINVALID ||
                       err == SHOAL_ENOMEM,
                   "wasm_module_load error");
        fuzz_check(ei.msg[0] != '\0', "wasm_module_load message");
        fuzz_check(ei.offset == SIZE_MAX || ei.offset <= size,
                   "error offset beyond the input");
        fuzz_check(metered == NULL, "module on error");
    }
    shoal_errinfo ei2;
    memset(&ei2, 0, sizeof ei2);
    shoal_err err2 = wasm_module_load(data, size, &off, &plain, &ei2);
    fuzz_check(err == err2, "metering changes whether a module loads");
    wasm_module_unref(plain);
    if (err)
        return 0;

    for (uint32_t i = 0; i < wasm_module_num_imports(metered); i++) {
        wasm_import_desc d;
        wasm_module_import(metered, i, &d);
        fuzz_check((d.kind == WASM_EXTERN_FUNC) == (d.functype != NULL),
                   "import function type");
    }
    run_module(metered);
    wasm_module_unref(metered);
    return 0;
}
