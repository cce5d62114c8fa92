/* The interpreter: runs internal code (see compile.c) with direct-threaded
 * dispatch by computed goto (a GNU C extension that GCC and Clang share).
 *
 * All Wasm state lives in the wasm_exec: the value stack (frames of slots),
 * the call frame records and the saved ip/fp. ip, fp, the memory bounds and
 * fuel are kept in C locals while running and written back only when the
 * run stops (return to the embedder, out of fuel, host call, trap). Wasm
 * calls never recurse on the C stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "wasm_internal.h"

typedef struct interp_tables {
    const void *const *handlers;
} interp_tables;

#define SP(off) ((char *)fp + (off))
#define RD(T, off) (*(T *)SP(off))
#define WR(T, off, v) (*(T *)SP(off) = (v))
#define IMM(T, c) (*(const T *)(const void *)(c))
#define DISPATCH() goto *ip->h
#define NEXT(n)                                                                \
    do {                                                                       \
        ip += (n);                                                             \
        DISPATCH();                                                            \
    } while (0)
#define TRAP(kind)                                                             \
    do {                                                                       \
        trap = WASM_TRAP_##kind;                                               \
        goto trapped;                                                          \
    } while (0)

/* Expression helpers used by the opcode table in ops.h. */
#define TRUNC_CHECK(a, lo, hi)                                                 \
    ({                                                                         \
        if ((a) != (a))                                                        \
            TRAP(INVALID_CONVERSION);                                          \
        if (!((a) > (lo) && (a) < (hi)))                                       \
            TRAP(INT_OVERFLOW);                                                \
        (a);                                                                   \
    })
#define DIV_S(T, a, b)                                                         \
    ({                                                                         \
        if ((b) == 0)                                                          \
            TRAP(DIV_ZERO);                                                    \
        if ((a) == (__typeof__(a))1 << (sizeof(a) * 8 - 1) && (T)(b) == -1)    \
            TRAP(INT_OVERFLOW);                                                \
        (__typeof__(a))((T)(a) / (T)(b));                                      \
    })
#define REM_S(T, a, b)                                                         \
    ({                                                                         \
        if ((b) == 0)                                                          \
            TRAP(DIV_ZERO);                                                    \
        (T)(b) == -1 ? (__typeof__(a))0 : (__typeof__(a))((T)(a) % (T)(b));    \
    })
#define DIV_U(a, b)                                                            \
    ({                                                                         \
        if ((b) == 0)                                                          \
            TRAP(DIV_ZERO);                                                    \
        (a) / (b);                                                             \
    })
#define REM_U(a, b)                                                            \
    ({                                                                         \
        if ((b) == 0)                                                          \
            TRAP(DIV_ZERO);                                                    \
        (a) % (b);                                                             \
    })

#define MEM_EA(addr_off, offset, n)                                            \
    uint64_t ea = (uint64_t)RD(uint32_t, addr_off) + (offset);                 \
    if (__builtin_expect(ea + (n) > memsize, 0))                               \
        TRAP(MEMORY_OOB);

#define LOAD_HANDLER(name, T, WT, conv)                                        \
    L_##name:                                                                  \
    {                                                                          \
        MEM_EA(ip[1].s.b, ip[2].s.a, sizeof(T));                               \
        T v;                                                                   \
        memcpy(&v, mem + ea, sizeof v);                                        \
        WR(WT, ip[1].s.a, (WT)(conv)v);                                        \
        NEXT(3);                                                               \
    }

#define STORE_HANDLER(name, T)                                                 \
    L_##name:                                                                  \
    {                                                                          \
        MEM_EA(ip[1].s.a, ip[2].s.a, sizeof(T));                               \
        T v = (T)RD(uint64_t, ip[1].s.b);                                      \
        memcpy(mem + ea, &v, sizeof v);                                        \
        NEXT(3);                                                               \
    }

/* GCC spills the memory base and the frame pointer on x86-64 unless told
 * otherwise: every load and store uses the first, nearly every handler the
 * second. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MEM_REGISTER __asm__("r15")
#define FP_REGISTER __asm__("r14")
#else
#define MEM_REGISTER
#define FP_REGISTER
#endif

/* Runs x from its saved state, or (x == NULL) fills *tables. */
static wasm_status interp(wasm_exec *x, interp_tables *tables)
{
    static const void *const labels[OP_COUNT] = {
#define LBL_PLAIN(name) [OP_##name] = &&L_##name,
#define LBL_NUM1(name, opc, ta, tr, ca, cr, e) [OP_##name] = &&L_##name,
#define LBL_NUM2(name, opc, ta, tr, ca, cr, e)                                 \
    [OP_##name] = &&L_##name, [OP_##name##_I] = &&L_##name##_I,                \
    [OP_##name##_R] = &&L_##name##_R,
#define LBL_FUSED(name, opc, ta, tr, ca, cr, e)                                \
    [OP_BRIF_##name] = &&L_BRIF_##name,                                        \
    [OP_BRIF_##name##_I] = &&L_BRIF_##name##_I,                                \
    [OP_BRIFM_##name] = &&L_BRIFM_##name,                                      \
    [OP_BRIFM_##name##_I] = &&L_BRIFM_##name##_I,                              \
    [OP_BRUN_##name] = &&L_BRUN_##name,                                        \
    [OP_BRUN_##name##_I] = &&L_BRUN_##name##_I,
        WASM_CONTROL_OPS(LBL_PLAIN) WASM_UNOPS(LBL_NUM1)
            WASM_SATOPS(LBL_NUM1) WASM_BINOPS(LBL_NUM2)
                WASM_CMPOPS(LBL_FUSED)
#undef LBL_FUSED
#undef LBL_PLAIN
#undef LBL_NUM1
#undef LBL_NUM2
    };
    if (x == NULL) {
        tables->handlers = labels;
        return WASM_DONE;
    }

    const cell *ip = x->ip;
    register uint64_t *fp FP_REGISTER = x->fp;
    wasm_func *func = x->func;
    wasm_instance *inst = func->inst;
    /* The memory base is used by every load and store: keep it in a
     * register rather than letting the allocator spill it. */
    register uint8_t *mem MEM_REGISTER = inst->mem0->data;
    uint64_t memsize = inst->mem0->size;
    int64_t fuel = x->fuel;
    wasm_trap trap = WASM_TRAP_NONE;

    /* Shared call sequence state. */
    wasm_func *callee;
    const cfunc *callee_cf;
    uint64_t *nfp;
    bool metered;

    DISPATCH();

L_HALT:
    x->fuel = fuel;
    x->depth = 0;
    x->state = EXEC_DONE;
    return WASM_DONE;

L_UNREACHABLE:
    TRAP(UNREACHABLE);

L_COPY:
    WR(uint64_t, ip[1].s.a, RD(uint64_t, ip[1].s.b));
    NEXT(2);

L_CONST:
    WR(uint64_t, ip[1].s.a, ip[2].u64);
    NEXT(3);

L_BR:
    ip += (int32_t)ip[1].s.a;
    DISPATCH();

L_BR_M:
    fuel -= ip[1].s.b;
    ip += (int32_t)ip[1].s.a;
    if (__builtin_expect(fuel < 0, 0))
        goto out_of_fuel;
    DISPATCH();

L_BR_IF:
    if (RD(uint32_t, ip[1].s.a)) {
        ip += (int32_t)ip[1].s.b;
        DISPATCH();
    }
    NEXT(2);

L_BR_UNLESS:
    if (!RD(uint32_t, ip[1].s.a)) {
        ip += (int32_t)ip[1].s.b;
        DISPATCH();
    }
    NEXT(2);

L_BR_IF_M:
    if (RD(uint32_t, ip[1].s.a)) {
        fuel -= ip[2].s.a;
        ip += (int32_t)ip[1].s.b;
        if (__builtin_expect(fuel < 0, 0))
            goto out_of_fuel;
        DISPATCH();
    }
    NEXT(3);

L_BR_TABLE: {
    uint32_t i = RD(uint32_t, ip[1].s.a);
    uint32_t n = ip[1].s.b;
    if (i > n)
        i = n;
    ip += (int32_t)ip[2 + i].s.a;
    DISPATCH();
}

L_RETURN1:
    fp[0] = RD(uint64_t, ip[1].s.a);
    /* fall through */
L_RETURN: {
    const frame *f = &x->frames[--x->depth];
    ip = f->ip;
    fp = f->fp;
    if (f->func != func) {
        func = f->func;
        if (func == NULL)
            goto L_HALT; /* the entry function returned */
        inst = func->inst;
    }
    /* The callee may have grown the memory, and so moved it. */
    mem = inst->mem0->data;
    memsize = inst->mem0->size;
    DISPATCH();
}

L_CALL:
    callee = inst->funcs[ip[1].s.a];
    nfp = (uint64_t *)SP(ip[1].s.b);
    metered = false;
    ip += 2;
    goto do_call;

L_CALL_M:
    callee = inst->funcs[ip[1].s.a];
    nfp = (uint64_t *)SP(ip[1].s.b);
    metered = true;
    ip += 2;
    goto do_call;

L_CALL_OWN:
    metered = false;
    goto do_call_own;
L_CALL_OWN_M:
    metered = true;
do_call_own:
    callee = &inst->own_funcs[ip[1].s.a];
    callee_cf = ip[2].h;
    nfp = (uint64_t *)SP(ip[1].s.b);
    ip += 3;
    goto do_wasm_call;

L_CALL_INDIRECT:
    metered = false;
    goto do_call_indirect;
L_CALL_INDIRECT_M:
    metered = true;
do_call_indirect: {
    const wasm_table *T = inst->tables[ip[1].s.b];
    uint32_t i = RD(uint32_t, ip[2].s.a);
    if (i >= T->size)
        TRAP(UNDEFINED_ELEMENT);
    callee = (wasm_func *)(uintptr_t)T->elems[i];
    if (callee == NULL)
        TRAP(UNINITIALIZED_ELEMENT);
    if (!wasm__functype_eq(callee->type, &inst->m->types[ip[1].s.a]))
        TRAP(INDIRECT_CALL_MISMATCH);
    nfp = (uint64_t *)SP(ip[2].s.b);
    ip += 3;
}
do_call:
    if (callee->host)
        goto do_host_call;
    callee_cf = callee->cf;
    if (callee->inst != inst) {
        inst = callee->inst;
        mem = inst->mem0->data;
        memsize = inst->mem0->size;
    }
do_wasm_call: /* callee is a function of inst, compiled as callee_cf */
    {
        const cfunc *cf = callee_cf;
        if (__builtin_expect(x->depth >= x->frames_cap ||
                                 nfp + cf->frame_slots > x->stack_end,
                             0)) {
            uint64_t *moved = fp; /* a register variable has no address */
            bool ok = wasm__exec_reserve(x, &nfp, &moved, cf->frame_slots);
            fp = moved;
            if (!ok)
                TRAP(CALL_STACK_EXHAUSTED);
        }
        x->frames[x->depth++] = (frame){.ip = ip, .fp = fp, .func = func};
        fp = nfp;
        func = callee;
        if (cf->nlocals)
            memset(fp + cf->type->nparams, 0, (size_t)cf->nlocals * 8);
        ip = cf->code;
        if (metered) {
            fuel -= cf->entry_cost;
            if (__builtin_expect(fuel < 0, 0))
                goto out_of_fuel;
        }
        DISPATCH();
    }

do_host_call: {
    const wasm_functype *t = callee->type;
    uint32_t need = t->nparams > t->nresults ? t->nparams : t->nresults;
    if (nfp + need > x->stack_end) {
        uint64_t *moved = fp;
        bool ok = wasm__exec_reserve(x, &nfp, &moved, need);
        fp = moved;
        if (!ok)
            TRAP(CALL_STACK_EXHAUSTED);
    }
    x->ip = ip;
    x->fp = fp;
    x->func = func;
    x->fuel = fuel;
    x->host_slots = nfp;
    x->host_func = callee;
    wasm_host_status st = callee->host(x, callee->env, nfp);
    if (st == WASM_HOST_OK) {
        mem = inst->mem0->data; /* it may have grown and moved */
        memsize = inst->mem0->size;
        DISPATCH();
    }
    if (st == WASM_HOST_SUSPEND) {
        x->state = EXEC_SUSPENDED;
        return WASM_SUSPENDED;
    }
    if (x->trap == WASM_TRAP_NONE)
        x->trap = WASM_TRAP_HOST;
    trap = x->trap;
    goto trapped;
}

L_SELECT:
    WR(uint64_t, ip[1].s.a,
       RD(uint32_t, ip[1].s.b) ? RD(uint64_t, ip[2].s.a)
                               : RD(uint64_t, ip[2].s.b));
    NEXT(3);

L_GLOBAL_GET:
    WR(uint64_t, ip[1].s.a, inst->globals[ip[1].s.b]->value);
    NEXT(2);

L_GLOBAL_SET:
    inst->globals[ip[1].s.b]->value = RD(uint64_t, ip[1].s.a);
    NEXT(2);

L_GLOBAL_GET_OWN:
    WR(uint64_t, ip[1].s.a, inst->own_globals[ip[1].s.b].value);
    NEXT(2);

L_GLOBAL_SET_OWN:
    inst->own_globals[ip[1].s.b].value = RD(uint64_t, ip[1].s.a);
    NEXT(2);

    LOAD_HANDLER(LOAD32, uint32_t, uint32_t, uint32_t)
    LOAD_HANDLER(LOAD64, uint64_t, uint64_t, uint64_t)
    LOAD_HANDLER(LOAD8_S32, int8_t, uint32_t, int32_t)
    LOAD_HANDLER(LOAD8_U, uint8_t, uint64_t, uint64_t)
    LOAD_HANDLER(LOAD16_S32, int16_t, uint32_t, int32_t)
    LOAD_HANDLER(LOAD16_U, uint16_t, uint64_t, uint64_t)
    LOAD_HANDLER(LOAD8_S64, int8_t, uint64_t, int64_t)
    LOAD_HANDLER(LOAD16_S64, int16_t, uint64_t, int64_t)
    LOAD_HANDLER(LOAD32_S64, int32_t, uint64_t, int64_t)
    LOAD_HANDLER(LOAD32_U64, uint32_t, uint64_t, uint64_t)
    STORE_HANDLER(STORE32, uint32_t)
    STORE_HANDLER(STORE64, uint64_t)
    STORE_HANDLER(STORE8, uint8_t)
    STORE_HANDLER(STORE16, uint16_t)

L_MEMORY_SIZE:
    WR(uint32_t, ip[1].s.a, inst->mem0->pages);
    NEXT(2);

L_MEMORY_GROW: {
    int64_t r = wasm__memory_grow(inst->mem0, RD(uint32_t, ip[1].s.b));
    mem = inst->mem0->data; /* growing may move it */
    memsize = inst->mem0->size;
    WR(uint32_t, ip[1].s.a, (uint32_t)r);
    NEXT(2);
}

L_MEMORY_FILL: {
    uint64_t d = RD(uint32_t, ip[1].s.a);
    uint32_t v = RD(uint32_t, ip[1].s.b);
    uint64_t n = RD(uint32_t, ip[2].s.a);
    if (d + n > memsize)
        TRAP(MEMORY_OOB);
    if (n) /* a memory of 0 pages has no base to offset */
        memset(mem + d, (int)(uint8_t)v, n);
    NEXT(3);
}

L_MEMORY_COPY: {
    uint64_t d = RD(uint32_t, ip[1].s.a);
    uint64_t s = RD(uint32_t, ip[1].s.b);
    uint64_t n = RD(uint32_t, ip[2].s.a);
    if (d + n > memsize || s + n > memsize)
        TRAP(MEMORY_OOB);
    if (n)
        memmove(mem + d, mem + s, n);
    NEXT(3);
}

L_MEMORY_INIT: {
    uint64_t d = RD(uint32_t, ip[1].s.a);
    uint64_t s = RD(uint32_t, ip[1].s.b);
    uint64_t n = RD(uint32_t, ip[2].s.a);
    uint32_t seg = ip[2].s.b;
    const data_segment *ds = &inst->m->datas[seg];
    uint64_t len = inst->data_dropped[seg] ? 0 : ds->len;
    if (s + n > len || d + n > memsize)
        TRAP(MEMORY_OOB);
    if (n)
        memcpy(mem + d, ds->bytes + s, n);
    NEXT(3);
}

L_DATA_DROP:
    inst->data_dropped[ip[1].s.a] = 1;
    NEXT(2);

L_TABLE_GET: {
    const wasm_table *T = inst->tables[ip[2].s.a];
    uint32_t i = RD(uint32_t, ip[1].s.b);
    if (i >= T->size)
        TRAP(TABLE_OOB);
    WR(uint64_t, ip[1].s.a, T->elems[i]);
    NEXT(3);
}

L_TABLE_SET: {
    wasm_table *T = inst->tables[ip[2].s.a];
    uint32_t i = RD(uint32_t, ip[1].s.a);
    if (i >= T->size)
        TRAP(TABLE_OOB);
    T->elems[i] = RD(uint64_t, ip[1].s.b);
    NEXT(3);
}

L_TABLE_SIZE:
    WR(uint32_t, ip[1].s.a, inst->tables[ip[1].s.b]->size);
    NEXT(2);

L_TABLE_GROW: {
    uint64_t init = RD(uint64_t, ip[1].s.b);
    uint32_t n = RD(uint32_t, ip[2].s.a);
    int64_t r = wasm__table_grow(inst->tables[ip[2].s.b], n, init);
    WR(uint32_t, ip[1].s.a, (uint32_t)r);
    NEXT(3);
}

L_TABLE_FILL: {
    wasm_table *T = inst->tables[ip[2].s.b];
    uint64_t i = RD(uint32_t, ip[1].s.a);
    uint64_t v = RD(uint64_t, ip[1].s.b);
    uint64_t n = RD(uint32_t, ip[2].s.a);
    if (i + n > T->size)
        TRAP(TABLE_OOB);
    for (uint64_t k = 0; k < n; k++)
        T->elems[i + k] = v;
    NEXT(3);
}

L_TABLE_COPY: {
    wasm_table *TD = inst->tables[ip[3].s.a];
    const wasm_table *TS = inst->tables[ip[3].s.b];
    uint64_t d = RD(uint32_t, ip[1].s.a);
    uint64_t s = RD(uint32_t, ip[1].s.b);
    uint64_t n = RD(uint32_t, ip[2].s.a);
    if (d + n > TD->size || s + n > TS->size)
        TRAP(TABLE_OOB);
    if (n)
        memmove(TD->elems + d, TS->elems + s, n * sizeof *TD->elems);
    NEXT(4);
}

L_TABLE_INIT: {
    wasm_table *T = inst->tables[ip[2].s.b];
    uint32_t seg = ip[3].s.a;
    const elem_segment *es = &inst->m->elems[seg];
    uint64_t d = RD(uint32_t, ip[1].s.a);
    uint64_t s = RD(uint32_t, ip[1].s.b);
    uint64_t n = RD(uint32_t, ip[2].s.a);
    uint64_t len = inst->elem_dropped[seg] ? 0 : es->count;
    if (s + n > len || d + n > T->size)
        TRAP(TABLE_OOB);
    for (uint64_t k = 0; k < n; k++)
        T->elems[d + k] = wasm__eval_const(inst, &es->items[s + k]);
    NEXT(4);
}

L_ELEM_DROP:
    inst->elem_dropped[ip[1].s.a] = 1;
    NEXT(2);

L_REF_FUNC:
    WR(uint64_t, ip[1].s.a, (uint64_t)(uintptr_t)inst->funcs[ip[1].s.b]);
    NEXT(2);

L_REF_IS_NULL:
    WR(uint32_t, ip[1].s.a, RD(uint64_t, ip[1].s.b) == 0);
    NEXT(2);

#define H_UN(name, opc, ta, tr, ca, cr, e)                                     \
    L_##name:                                                                  \
    {                                                                          \
        ca a = RD(ca, ip[1].s.b);                                              \
        WR(cr, ip[1].s.a, (cr)(e));                                            \
        NEXT(2);                                                               \
    }
#define H_BIN(name, opc, ta, tr, ca, cr, e)                                    \
    L_##name:                                                                  \
    {                                                                          \
        ca a = RD(ca, ip[1].s.b);                                              \
        ca b = RD(ca, ip[2].s.a);                                              \
        WR(cr, ip[1].s.a, (cr)(e));                                            \
        NEXT(3);                                                               \
    }                                                                          \
    L_##name##_I:                                                              \
    {                                                                          \
        ca a = RD(ca, ip[1].s.b);                                              \
        ca b = IMM(ca, &ip[2]);                                                \
        WR(cr, ip[1].s.a, (cr)(e));                                            \
        NEXT(3);                                                               \
    }                                                                          \
    L_##name##_R:                                                              \
    {                                                                          \
        ca a = IMM(ca, &ip[2]);                                                \
        ca b = RD(ca, ip[1].s.b);                                              \
        WR(cr, ip[1].s.a, (cr)(e));                                            \
        NEXT(3);                                                               \
    }
/* Compare-and-branch: [a|b][off|cost][imm]. */
#define H_BRANCH(label, ca, bexpr, e, taken, metered)                          \
    label:                                                                     \
    {                                                                          \
        ca a = RD(ca, ip[1].s.a);                                              \
        ca b = bexpr;                                                          \
        if ((e) == (taken)) {                                                  \
            if (metered)                                                       \
                fuel -= ip[2].s.b;                                             \
            ip += (int32_t)ip[2].s.a;                                          \
            if ((metered) && __builtin_expect(fuel < 0, 0))                    \
                goto out_of_fuel;                                              \
            DISPATCH();                                                        \
        }                                                                      \
        NEXT(4);                                                               \
    }
#define H_FUSED(name, opc, ta, tr, ca, cr, e)                                  \
    H_BRANCH(L_BRIF_##name, ca, RD(ca, ip[1].s.b), e, 1, 0)                    \
    H_BRANCH(L_BRIF_##name##_I, ca, IMM(ca, &ip[3]), e, 1, 0)                  \
    H_BRANCH(L_BRIFM_##name, ca, RD(ca, ip[1].s.b), e, 1, 1)                   \
    H_BRANCH(L_BRIFM_##name##_I, ca, IMM(ca, &ip[3]), e, 1, 1)                 \
    H_BRANCH(L_BRUN_##name, ca, RD(ca, ip[1].s.b), e, 0, 0)                    \
    H_BRANCH(L_BRUN_##name##_I, ca, IMM(ca, &ip[3]), e, 0, 0)
    WASM_UNOPS(H_UN)
    WASM_SATOPS(H_UN)
    WASM_BINOPS(H_BIN)
    WASM_CMPOPS(H_FUSED)
#undef H_UN
#undef H_BIN
#undef H_BRANCH
#undef H_FUSED

out_of_fuel:
    x->ip = ip;
    x->fp = fp;
    x->func = func;
    x->fuel = fuel;
    x->state = EXEC_READY;
    return WASM_OUT_OF_FUEL;

trapped:
    x->fuel = fuel;
    x->depth = 0;
    x->trap = trap;
    x->state = EXEC_TRAPPED;
    return WASM_TRAPPED;
}

const void *const *wasm__handlers(void)
{
    interp_tables t;
    interp(NULL, &t);
    return t.handlers;
}

/* ---- the execution API ---- */

/* Stacks start small and double when a call needs more, so an exec that
 * runs shallow code (an idle actor) costs a few KiB. */
#define INITIAL_SLOTS 32u
#define INITIAL_FRAMES 8u

wasm_exec *wasm_exec_new(wasm_store *s)
{
    bool self_in_block;
    /* In a block, the exec starts a cache line and its first frame records
     * start the line after its last (rather than straddling two). */
    wasm__store_align_line(s, 0);
    wasm_exec *x = wasm__store_zalloc(s, (sizeof *x + 63) & ~(size_t)63,
                                      &self_in_block);
    if (x == NULL)
        return NULL;
    x->s = s;
    x->self_in_block = self_in_block;
    x->max_slots = s->limits.stack_slots ? s->limits.stack_slots : 1;
    x->max_depth = s->limits.max_call_depth ? s->limits.max_call_depth : 1;
    size_t slots = x->max_slots < INITIAL_SLOTS ? x->max_slots : INITIAL_SLOTS;
    x->frames_cap = x->max_depth < INITIAL_FRAMES ? x->max_depth
                                                  : INITIAL_FRAMES;
    x->frames = wasm__store_zalloc(s, x->frames_cap * sizeof *x->frames,
                                   &x->frames_in_block);
    x->stack =
        wasm__store_zalloc(s, slots * sizeof *x->stack, &x->stack_in_block);
    if (x->stack == NULL || x->frames == NULL) {
        wasm_exec_delete(x);
        return NULL;
    }
    x->stack_end = x->stack + slots;
    x->state = EXEC_IDLE;
    return x;
}

bool wasm__exec_reserve(wasm_exec *x, uint64_t **fp_slot, uint64_t **other,
                        size_t need)
{
    /* One more frame record (depth counts the halt frame too). */
    if (x->depth >= x->frames_cap) {
        if (x->depth >= x->max_depth)
            return false;
        uint64_t ncap = (uint64_t)x->frames_cap * 2;
        if (ncap > x->max_depth)
            ncap = x->max_depth;
        frame *nf;
        if (x->frames_in_block) {
            /* The first frames sit in the store's block: move out. */
            nf = malloc(ncap * sizeof *nf);
            if (nf)
                memcpy(nf, x->frames, x->frames_cap * sizeof *nf);
        } else {
            nf = realloc(x->frames, ncap * sizeof *nf);
        }
        if (nf == NULL)
            return false;
        x->frames = nf;
        x->frames_in_block = false;
        x->frames_cap = (uint32_t)ncap;
    }
    size_t used = (size_t)(*fp_slot - x->stack);
    if (used + need <= (size_t)(x->stack_end - x->stack))
        return true;
    if (used + need > x->max_slots)
        return false;
    size_t cap = (size_t)(x->stack_end - x->stack);
    size_t ncap = cap * 2;
    while (ncap < used + need)
        ncap *= 2;
    if (ncap > x->max_slots)
        ncap = x->max_slots;
    uint64_t *old = x->stack;
    uint64_t *ns = malloc(ncap * sizeof *ns);
    if (ns == NULL)
        return false;
    memcpy(ns, old, cap * sizeof *ns); /* arguments sit above fp_slot */
    /* Frames hold pointers into the stack: move them with it. */
    for (uint32_t i = 0; i < x->depth; i++)
        x->frames[i].fp = ns + (x->frames[i].fp - old);
    *fp_slot = ns + (*fp_slot - old);
    if (other)
        *other = ns + (*other - old);
    if (!x->stack_in_block)
        free(old);
    x->stack_in_block = false;
    x->stack = ns;
    x->stack_end = ns + ncap;
    return true;
}

void wasm_exec_delete(wasm_exec *x)
{
    if (x == NULL)
        return;
    if (!x->stack_in_block)
        free(x->stack);
    if (!x->frames_in_block)
        free(x->frames);
    free(x->trap_detail);
    if (!x->self_in_block)
        free(x);
}

shoal_err wasm_exec_call(wasm_exec *x, wasm_func *f, const uint64_t *args,
                         uint32_t nargs)
{
    if (x->state == EXEC_READY || x->state == EXEC_SUSPENDED)
        return SHOAL_ESTATE;
    if (nargs != f->type->nparams)
        return SHOAL_EINVAL;
    uint32_t need = f->type->nparams > f->type->nresults ? f->type->nparams
                                                         : f->type->nresults;
    if (!f->host)
        need = f->cf->frame_slots;
    x->depth = 0;
    /* The first frame record always exists (frames_cap is at least 1). */
    if (need > (size_t)(x->stack_end - x->stack)) {
        uint64_t *base = x->stack;
        if (!wasm__exec_reserve(x, &base, NULL, need))
            return SHOAL_ELIMIT;
    }
    /* A few arguments (an actor handler's two): a loop, not a call. */
    uint64_t *stack = x->stack;
    for (uint32_t i = 0; i < nargs; i++)
        stack[i] = args[i];
    x->entry = f;
    x->trap = WASM_TRAP_NONE;
    x->has_detail = false;
    x->exit_code = 0;
    x->nresults = f->type->nresults;
    x->fp = x->stack;
    x->host_slots = NULL;
    if (f->host) {
        x->ip = NULL;
        x->func = NULL;
        x->depth = 0;
        x->entry_pending = true;
        x->state = EXEC_READY;
        return SHOAL_OK;
    }
    /* The entry's caller: no function, and a return to it ends the run. */
    x->frames[0] = (frame){.ip = NULL, .fp = stack, .func = NULL};
    x->depth = 1;
    const cfunc *cf = f->cf;
    if (cf->nlocals)
        memset(stack + nargs, 0, (size_t)cf->nlocals * 8);
    x->ip = cf->code;
    x->func = f;
    x->entry_pending = true;
    x->state = EXEC_READY;
    return SHOAL_OK;
}

/* Zeroes the unused high half of 32-bit results so the embedder sees
 * clean values. */
static void clean_results(wasm_exec *x)
{
    const wasm_functype *t = x->entry->type;
    uint32_t from = 0;
    if (!x->entry->host) {
        /* The first 64 from the compiled function's mask. */
        for (uint64_t m = x->entry->cf->narrow_results; m; m &= m - 1)
            x->stack[__builtin_ctzll(m)] &= 0xffffffffu;
        from = 64;
    }
    for (uint32_t i = from; i < t->nresults; i++) {
        uint8_t vt = t->types[t->nparams + i];
        if (vt == WASM_I32 || vt == WASM_F32)
            x->stack[i] &= 0xffffffffu;
    }
}

wasm_status wasm_exec_run(wasm_exec *x)
{
    if (x->state != EXEC_READY)
        return x->state == EXEC_TRAPPED ? WASM_TRAPPED
               : x->state == EXEC_SUSPENDED ? WASM_SUSPENDED
                                            : WASM_DONE;
    int64_t before = x->fuel;
    wasm_status st;
    wasm_func *f = x->entry;
    if (f->host) {
        /* A host function called directly: no Wasm frames at all. */
        if (!x->entry_pending) {
            x->state = EXEC_DONE;
            st = WASM_DONE;
        } else {
            x->entry_pending = false;
            x->host_slots = x->stack;
            x->host_func = f;
            wasm_host_status hs = f->host(x, f->env, x->stack);
            if (hs == WASM_HOST_OK) {
                x->state = EXEC_DONE;
                st = WASM_DONE;
            } else if (hs == WASM_HOST_SUSPEND) {
                x->state = EXEC_SUSPENDED;
                st = WASM_SUSPENDED;
            } else {
                if (x->trap == WASM_TRAP_NONE)
                    x->trap = WASM_TRAP_HOST;
                x->state = EXEC_TRAPPED;
                st = WASM_TRAPPED;
            }
        }
    } else {
        if (x->entry_pending) {
            x->entry_pending = false;
            /* Only a metered module's functions have an entry cost. */
            if (f->cf->entry_cost) {
                x->fuel -= f->cf->entry_cost;
                if (x->fuel < 0) {
                    x->fuel_used += (uint64_t)(before - x->fuel);
                    return WASM_OUT_OF_FUEL;
                }
            }
        }
        st = interp(x, NULL);
    }
    x->fuel_used += (uint64_t)(before - x->fuel);
    if (st == WASM_DONE)
        clean_results(x);
    return st;
}

void wasm_exec_abort(wasm_exec *x)
{
    if (x->state != EXEC_READY && x->state != EXEC_SUSPENDED)
        return;
    x->depth = 0;
    x->host_slots = NULL;
    x->host_func = NULL;
    x->entry_pending = false;
    x->state = EXEC_IDLE;
}

void wasm_exec_set_fuel(wasm_exec *x, int64_t fuel)
{
    x->fuel = fuel;
}

int64_t wasm_exec_fuel(const wasm_exec *x)
{
    return x->fuel;
}

uint64_t wasm_exec_fuel_used(const wasm_exec *x)
{
    return x->fuel_used;
}

const uint64_t *wasm_exec_results(const wasm_exec *x, uint32_t *nresults)
{
    *nresults = x->state == EXEC_DONE ? x->nresults : 0;
    return x->stack;
}

wasm_trap wasm_exec_trap(const wasm_exec *x)
{
    return x->trap;
}

const char *wasm_exec_trap_detail(const wasm_exec *x)
{
    return x->has_detail ? x->trap_detail : wasm_trap_message(x->trap);
}

int32_t wasm_exec_exit_code(const wasm_exec *x)
{
    return x->exit_code;
}

/* The trap message's buffer, allocated when a host function first sets
 * one: most execs never trap, and an idle actor should not carry it.
 * false when out of memory (the trap then keeps its kind's message). */
static bool detail_buffer(wasm_exec *x)
{
    if (x->trap_detail == NULL)
        x->trap_detail = malloc(WASM_TRAP_DETAIL_MAX);
    return x->trap_detail != NULL;
}

void wasm_exec_set_host_trap(wasm_exec *x, const char *msg)
{
    x->trap = WASM_TRAP_HOST;
    x->has_detail = msg && msg[0] && detail_buffer(x);
    if (x->has_detail)
        snprintf(x->trap_detail, WASM_TRAP_DETAIL_MAX, "%s", msg);
}

void wasm_exec_set_exit(wasm_exec *x, int32_t code)
{
    x->trap = WASM_TRAP_EXIT;
    x->exit_code = code;
    x->has_detail = detail_buffer(x);
    if (x->has_detail)
        snprintf(x->trap_detail, WASM_TRAP_DETAIL_MAX, "exit code %d",
                 (int)code);
}

static wasm_memory *caller_memory(const wasm_exec *x)
{
    if (x->func == NULL || x->func->inst->m->nmems == 0)
        return NULL;
    return x->func->inst->mem0;
}

wasm_memory *wasm_exec_caller_memory(const wasm_exec *x)
{
    return caller_memory(x);
}

uint8_t *wasm_exec_caller_bytes(const wasm_exec *x, uint32_t ptr,
                                uint32_t len)
{
    const wasm_memory *mem = caller_memory(x);
    /* An empty range is somewhere, even without memory; nothing is ever
     * written through it. */
    if (mem == NULL || mem->data == NULL)
        return len == 0 ? (uint8_t *)(uintptr_t) "" : NULL;
    if ((uint64_t)ptr + len > mem->size)
        return NULL;
    return mem->data + ptr;
}

shoal_err wasm_exec_complete_host(wasm_exec *x, const uint64_t *results,
                                  uint32_t nresults)
{
    if (x->state != EXEC_SUSPENDED)
        return SHOAL_ESTATE;
    if (nresults != x->host_func->type->nresults)
        return SHOAL_EINVAL;
    if (nresults)
        memcpy(x->host_slots, results, nresults * sizeof *results);
    x->state = EXEC_READY;
    return SHOAL_OK;
}

void wasm_exec_set_userdata(wasm_exec *x, void *p)
{
    x->userdata = p;
}

void *wasm_exec_userdata(const wasm_exec *x)
{
    return x->userdata;
}

const char *wasm_trap_message(wasm_trap t)
{
    static const char *const msgs[] = {
#define TRAP_MSG(name, msg) msg,
        WASM_TRAP_MAP(TRAP_MSG)
#undef TRAP_MSG
    };
    if ((unsigned)t >= sizeof msgs / sizeof *msgs)
        return "unknown trap";
    return msgs[t];
}
