/* The `spectest` host module of the WebAssembly spec tests.
 *
 * Every script imports from it: print functions that do nothing, four
 * immutable globals, a funcref table of 10..20 elements and a memory of 1..2
 * pages. The values of the globals are the reference interpreter's.
 */
#include "spec.h"

#include <string.h>

static wasm_host_status print_nothing(wasm_exec *x, void *env, uint64_t *slots)
{
    (void)x;
    (void)env;
    (void)slots;
    return WASM_HOST_OK;
}

static const wasm_valtype params_i32[] = {WASM_I32};
static const wasm_valtype params_i64[] = {WASM_I64};
static const wasm_valtype params_f32[] = {WASM_F32};
static const wasm_valtype params_f64[] = {WASM_F64};
static const wasm_valtype params_i32_f32[] = {WASM_I32, WASM_F32};
static const wasm_valtype params_f64_f64[] = {WASM_F64, WASM_F64};

static const struct {
    const char *name;
    const wasm_valtype *params;
    uint32_t nparams;
} print_funcs[] = {
    {"print", NULL, 0},
    {"print_i32", params_i32, 1},
    {"print_i64", params_i64, 1},
    {"print_f32", params_f32, 1},
    {"print_f64", params_f64, 1},
    {"print_i32_f32", params_i32_f32, 2},
    {"print_f64_f64", params_f64_f64, 2},
};

static const struct {
    const char *name;
    wasm_valtype type;
    uint64_t bits;
} globals[] = {
    {"global_i32", WASM_I32, 666},
    {"global_i64", WASM_I64, 666},
    {"global_f32", WASM_F32, 0x4426a666u},         /* 666.6f */
    {"global_f64", WASM_F64, 0x4084d4cccccccccdu}, /* 666.6 */
};

#define NUM_PRINT_FUNCS (sizeof print_funcs / sizeof print_funcs[0])
#define NUM_GLOBALS (sizeof globals / sizeof globals[0])

_Static_assert(NUM_PRINT_FUNCS + NUM_GLOBALS + 2 == SPEC_SPECTEST_EXPORTS,
               "spec_spectest holds every spectest export");

static void add_export(spec_spectest *h, const char *name, wasm_extern ext)
{
    h->exports[h->count].name = name;
    h->exports[h->count].ext = ext;
    h->count++;
}

shoal_err spec__spectest_make(wasm_store *s, spec_spectest *out)
{
    wasm_extern ext;
    out->count = 0;

    for (size_t i = 0; i < NUM_PRINT_FUNCS; i++) {
        ext.kind = WASM_EXTERN_FUNC;
        ext.u.func =
            wasm_func_new_host(s, print_funcs[i].params, print_funcs[i].nparams,
                               NULL, 0, print_nothing, NULL);
        if (ext.u.func == NULL)
            return SHOAL_ENOMEM;
        add_export(out, print_funcs[i].name, ext);
    }
    for (size_t i = 0; i < NUM_GLOBALS; i++) {
        ext.kind = WASM_EXTERN_GLOBAL;
        ext.u.global =
            wasm_global_new(s, globals[i].type, false, globals[i].bits);
        if (ext.u.global == NULL)
            return SHOAL_ENOMEM;
        add_export(out, globals[i].name, ext);
    }

    ext.kind = WASM_EXTERN_TABLE;
    ext.u.table = wasm_table_new(s, WASM_FUNCREF, 10, true, 20);
    if (ext.u.table == NULL)
        return SHOAL_ENOMEM;
    add_export(out, "table", ext);

    ext.kind = WASM_EXTERN_MEMORY;
    ext.u.memory = wasm_memory_new(s, 1, true, 2);
    if (ext.u.memory == NULL)
        return SHOAL_ENOMEM;
    add_export(out, "memory", ext);
    return SHOAL_OK;
}

wasm_extern spec__spectest_export(const spec_spectest *h, const char *name,
                                  size_t len)
{
    for (uint32_t i = 0; i < h->count; i++) {
        const char *have = h->exports[i].name;
        if (strlen(have) == len && memcmp(have, name, len) == 0)
            return h->exports[i].ext;
    }
    wasm_extern none = {.kind = WASM_EXTERN_NONE};
    return none;
}
