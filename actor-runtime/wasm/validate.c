/* Module-level validation: everything outside function bodies (which
 * compile.c validates while it compiles them). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "decode.h"

static shoal_err fail(shoal_errinfo *ei, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static shoal_err fail(shoal_errinfo *ei, const char *fmt, ...)
{
    if (ei) {
        va_list ap;
        va_start(ap, fmt);
        ei->offset = SIZE_MAX;
        vsnprintf(ei->msg, sizeof ei->msg, fmt, ap);
        va_end(ap);
    }
    return SHOAL_EINVALID;
}

/* Checks a constant expression and fills in the type of global.get. The
 * global may only be an imported immutable one (WebAssembly 2.0). */
static shoal_err check_const(wasm_module *m, constexpr *c, uint8_t want,
                             const char *what, uint32_t idx,
                             shoal_errinfo *ei)
{
    switch (c->kind) {
    case CONST_GLOBAL:
        if (c->index >= m->nimported_globals)
            return fail(ei,
                        "unknown global %u in the constant expression of "
                        "%s %u (only imported globals may be read)",
                        c->index, what, idx);
        if (m->globals[c->index].mut)
            return fail(ei,
                        "constant expression required: global %u read by "
                        "%s %u is mutable",
                        c->index, what, idx);
        c->type = m->globals[c->index].type;
        break;
    case CONST_FUNC:
        if (c->index >= m->nfuncs)
            return fail(ei, "unknown function %u in %s %u", c->index, what,
                        idx);
        m->func_declared[c->index] = 1;
        break;
    case CONST_VALUE:
    case CONST_NULL:
        break;
    }
    if (c->type != want)
        return fail(ei, "type mismatch in the constant expression of %s %u",
                    what, idx);
    return SHOAL_OK;
}

static bool limits_ok(const wasm_limits_decl *l, uint64_t cap)
{
    return l->min <= cap && (!l->has_max || (l->max <= cap && l->min <= l->max));
}

shoal_err wasm__validate(wasm_module *m, shoal_errinfo *ei)
{
    shoal_err err;
    m->func_declared = calloc(m->nfuncs ? m->nfuncs : 1, 1);
    if (m->func_declared == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");

    for (uint32_t i = 0; i < m->nfuncs; i++)
        if (m->func_type[i] >= m->ntypes)
            return fail(ei, "unknown type %u of function %u", m->func_type[i],
                        i);
    for (uint32_t i = 0; i < m->ntables; i++)
        if (!limits_ok(&m->tables[i].lim, UINT32_MAX))
            return fail(ei, "size minimum must not be greater than maximum "
                            "(table %u)", i);
    if (m->nmems > 1)
        return fail(ei, "multiple memories (%u)", m->nmems);
    for (uint32_t i = 0; i < m->nmems; i++) {
        const wasm_limits_decl *l = &m->mems[i];
        if (l->min > WASM_MAX_PAGES || (l->has_max && l->max > WASM_MAX_PAGES))
            return fail(ei, "memory size must be at most 65536 pages (4GiB)");
        if (l->has_max && l->min > l->max)
            return fail(ei, "size minimum must not be greater than maximum "
                            "(memory %u)", i);
    }
    for (uint32_t i = m->nimported_globals; i < m->nglobals; i++) {
        err = check_const(m, &m->global_init[i - m->nimported_globals],
                          m->globals[i].type, "global", i, ei);
        if (err)
            return err;
    }
    for (uint32_t i = 0; i < m->nexports; i++) {
        const export *e = &m->exports[i];
        uint32_t limit = e->kind == WASM_EXTERN_FUNC    ? m->nfuncs
                         : e->kind == WASM_EXTERN_TABLE ? m->ntables
                         : e->kind == WASM_EXTERN_MEMORY ? m->nmems
                                                          : m->nglobals;
        if (e->index >= limit)
            return fail(ei, "unknown %s %u in export \"%.*s\"",
                        e->kind == WASM_EXTERN_FUNC    ? "function"
                        : e->kind == WASM_EXTERN_TABLE ? "table"
                        : e->kind == WASM_EXTERN_MEMORY ? "memory"
                                                         : "global",
                        e->index, (int)e->name_len, e->name);
        if (e->kind == WASM_EXTERN_FUNC)
            m->func_declared[e->index] = 1;
        for (uint32_t k = 0; k < i; k++)
            if (m->exports[k].name_len == e->name_len &&
                memcmp(m->exports[k].name, e->name, e->name_len) == 0)
                return fail(ei, "duplicate export name \"%.*s\"",
                            (int)e->name_len, e->name);
    }
    if (m->has_start) {
        if (m->start >= m->nfuncs)
            return fail(ei, "unknown function %u as start function", m->start);
        const wasm_functype *t = &m->types[m->func_type[m->start]];
        if (t->nparams || t->nresults)
            return fail(ei, "start function %u must take and return nothing",
                        m->start);
    }
    for (uint32_t i = 0; i < m->nelems; i++) {
        elem_segment *e = &m->elems[i];
        if (e->mode == SEG_ACTIVE) {
            if (e->table >= m->ntables)
                return fail(ei, "unknown table %u in element segment %u",
                            e->table, i);
            if (m->tables[e->table].elemtype != e->elemtype)
                return fail(ei, "type mismatch: element segment %u and "
                                "table %u",
                            i, e->table);
            err = check_const(m, &e->offset, WASM_I32, "element segment", i,
                              ei);
            if (err)
                return err;
        }
        for (uint32_t k = 0; k < e->count; k++) {
            err = check_const(m, &e->items[k], e->elemtype, "element segment",
                              i, ei);
            if (err)
                return err;
        }
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        data_segment *d = &m->datas[i];
        if (d->mode != SEG_ACTIVE)
            continue;
        if (d->memory >= m->nmems)
            return fail(ei, "unknown memory %u in data segment %u", d->memory,
                        i);
        err = check_const(m, &d->offset, WASM_I32, "data segment", i, ei);
        if (err)
            return err;
    }
    return SHOAL_OK;
}
