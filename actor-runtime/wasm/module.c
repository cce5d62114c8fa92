/* The module object: loading runs decode -> validate -> compile. */
#include <stdlib.h>

#include "wasm_internal.h"

shoal_err wasm_module_load(const uint8_t *bytes, size_t len,
                           const wasm_load_options *opts, wasm_module **out,
                           shoal_errinfo *ei)
{
    shoal_err err;
    *out = NULL;
    wasm_module *m = calloc(1, sizeof *m);
    if (m == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, 0, "out of memory");
    atomic_init(&m->refs, 1);
    m->metering = opts ? opts->metering : false;
    m->bytes = malloc(len ? len : 1);
    if (m->bytes == NULL) {
        err = shoal_errinfo_set(ei, SHOAL_ENOMEM, 0, "out of memory");
        goto fail_free_module;
    }
    if (len) /* bytes may be NULL when len is 0 */
        memcpy(m->bytes, bytes, len);
    m->len = len;

    err = wasm__decode(m, ei);
    if (err)
        goto fail_free_module;
    err = wasm__validate(m, ei);
    if (err)
        goto fail_free_module;
    for (uint32_t i = 0; i < m->nfuncs - m->nimported_funcs; i++) {
        err = wasm__compile_func(m, i, ei);
        if (err)
            goto fail_free_module;
    }
    *out = m;
    return SHOAL_OK;

fail_free_module:
    wasm__module_free_parts(m);
    free(m->bytes);
    free(m);
    return err;
}

wasm_module *wasm_module_ref(wasm_module *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void wasm_module_unref(wasm_module *m)
{
    if (m == NULL)
        return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    wasm__module_free_parts(m);
    free(m->bytes);
    free(m);
}

uint32_t wasm_module_num_imports(const wasm_module *m)
{
    return m->nimports;
}

void wasm_module_import(const wasm_module *m, uint32_t i, wasm_import_desc *out)
{
    const import *im = &m->imports[i];
    out->module = im->module;
    out->module_len = im->module_len;
    out->name = im->name;
    out->name_len = im->name_len;
    out->kind = (wasm_extern_kind)im->kind;
    out->functype = NULL;
    if (im->kind == WASM_EXTERN_FUNC)
        out->functype = &m->types[m->func_type[im->index]];
}

uint32_t wasm_module_num_exports(const wasm_module *m)
{
    return m->nexports;
}

void wasm_module_export(const wasm_module *m, uint32_t i, const char **name,
                        uint32_t *name_len, wasm_extern_kind *kind)
{
    *name = m->exports[i].name;
    *name_len = m->exports[i].name_len;
    *kind = (wasm_extern_kind)m->exports[i].kind;
}

const char *wasm_valtype_name(wasm_valtype t)
{
    switch (t) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "?";
}

uint32_t wasm_functype_num_params(const wasm_functype *t)
{
    return t->nparams;
}

uint32_t wasm_functype_num_results(const wasm_functype *t)
{
    return t->nresults;
}

wasm_valtype wasm_functype_param(const wasm_functype *t, uint32_t i)
{
    return (wasm_valtype)t->types[i];
}

wasm_valtype wasm_functype_result(const wasm_functype *t, uint32_t i)
{
    return (wasm_valtype)t->types[t->nparams + i];
}
