/* Helpers shared by the engine's unit tests; see wasm_test.h. */
#include "wasm_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WASM_TEST_DIR
#define WASM_TEST_DIR "."
#endif

uint8_t *wt_read(const char *name, size_t *len)
{
    const char *dir = getenv("SHOAL_WASM_TEST_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.wasm", dir ? dir : WASM_TEST_DIR, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n >= 0);
    uint8_t *bytes = malloc((size_t)n + 1);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return bytes;
}

wasm_module *wt_load(const char *name, bool metering)
{
    size_t len;
    uint8_t *bytes = wt_read(name, &len);
    wasm_load_options opts = {.metering = metering};
    wasm_module *m = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = wasm_module_load(bytes, len, &opts, &m, &ei);
    free(bytes);
    if (err)
        fail_msg("%s.wasm: %s at %zu: %s", name, shoal_err_name(err), ei.offset,
                 ei.msg);
    return m;
}

wasm_instance *wt_instantiate(wasm_store *s, wasm_module *m,
                              const wasm_extern *imports, uint32_t nimports)
{
    wasm_instance *inst = NULL;
    shoal_errinfo ei = {0};
    shoal_err err = wasm_instantiate(s, m, imports, nimports, &inst, &ei);
    if (err)
        fail_msg("instantiate: %s: %s", shoal_err_name(err), ei.msg);
    return inst;
}

wasm_func *wt_func(const wasm_instance *inst, const char *name)
{
    wasm_extern e = wasm_instance_export(inst, name, strlen(name));
    if (e.kind != WASM_EXTERN_FUNC)
        fail_msg("no exported function %s", name);
    return e.u.func;
}

static wasm_status run_unmetered(wasm_exec *x, wasm_func *f,
                                 const uint64_t *args, uint32_t nargs)
{
    assert_int_equal(wasm_exec_call(x, f, args, nargs), SHOAL_OK);
    wasm_exec_set_fuel(x, INT64_MAX / 2);
    return wasm_exec_run(x);
}

uint64_t wt_call(wasm_exec *x, wasm_func *f, const uint64_t *args,
                 uint32_t nargs)
{
    wasm_status st = run_unmetered(x, f, args, nargs);
    if (st == WASM_TRAPPED)
        fail_msg("trapped: %s", wasm_exec_trap_detail(x));
    assert_int_equal(st, WASM_DONE);
    uint32_t n;
    const uint64_t *r = wasm_exec_results(x, &n);
    return n ? r[0] : 0;
}

wasm_trap wt_call_trap(wasm_exec *x, wasm_func *f, const uint64_t *args,
                       uint32_t nargs)
{
    assert_int_equal(run_unmetered(x, f, args, nargs), WASM_TRAPPED);
    uint32_t n = 99;
    wasm_exec_results(x, &n);
    assert_int_equal(n, 0);
    return wasm_exec_trap(x);
}
