/* Validation and compilation of function bodies, in one pass.
 *
 * The validator follows the specification's algorithm (an operand stack of
 * types and a control stack of labels). Alongside it the compiler lowers the
 * stack code to slot code: every value on the Wasm operand stack has a home
 * slot in the frame (frame = params, locals, then the operand stack), and
 * each internal instruction names its operands and result by slot. Values
 * from local.get and constants stay "virtual" until something needs them in
 * their home slot, so `local.get a; local.get b; i32.add; local.set c`
 * becomes one instruction `i32.add c, a, b`.
 *
 * Invariants at every label (block/loop/if start, else, end): all values on
 * the operand stack are in their home slots.
 */
#include <stdio.h>
#include <stdlib.h>

#include "decode.h"
#include "ops.h"

enum vkind { V_STACK, V_LOCAL, V_CONST };

typedef struct vval {
    uint8_t type; /* wasm_valtype or VT_UNKNOWN */
    uint8_t kind;
    uint32_t local; /* V_LOCAL: which local */
    uint64_t imm;   /* V_CONST: the value */
} vval;

enum ckind { C_FUNC, C_BLOCK, C_LOOP, C_IF, C_ELSE };

typedef struct ctrl {
    uint8_t kind;
    bool unreachable; /* the rest of this block is dead (after br etc.) */
    bool dead;        /* the whole block is dead: emit nothing */
    uint32_t height;  /* operand stack height below the block's params */
    uint32_t nparams, nresults;
    const uint8_t *params, *results;
    size_t loop_pc;      /* C_LOOP: code index of the loop label */
    uint32_t loop_instr; /* C_LOOP: instruction count at the label */
    int32_t fixups;      /* forward branches to the end: fixup chain */
    int32_t else_fixup;  /* C_IF: the branch to else/end */
} ctrl;

/* A branch offset to patch once its target is known. */
typedef struct fixup {
    int32_t next;
    uint32_t cell;
    uint32_t base; /* instruction start the offset is relative to */
    uint8_t half;  /* 0: s.a, 1: s.b */
} fixup;

typedef struct comp {
    wasm_module *m;
    cfunc *cf;
    reader r;
    const void *const *H;
    bool metering;

    cell *code;
    size_t ncode, capcode;
    vval *vs;
    uint32_t nvs, capvs, max_height;
    ctrl *cs;
    uint32_t ncs, capcs;
    fixup *fx;
    uint32_t nfx, capfx;

    uint32_t nlt;         /* params + locals */
    uint8_t *local_types; /* nlt entries */

    /* The last instruction's result slot, for retargeting to a local. */
    bool last_valid;
    op last_op;           /* a comparison or i32.eqz, or OP_COUNT */
    size_t last_start;    /* its first cell */
    uint32_t last_pos;    /* operand stack position it wrote */
    size_t last_cell;     /* cell holding its dst in s.a */
    size_t last_end;      /* ncode right after it */

    uint32_t ninstr;      /* Wasm instructions seen */
    uint32_t ninstr_flat; /* of those, outside any loop */
    uint32_t loop_depth;
} comp;

/* One-element type lists for block types given by a single value type. */
static const uint8_t single_type[256] = {
    [WASM_I32] = WASM_I32,         [WASM_I64] = WASM_I64,
    [WASM_F32] = WASM_F32,         [WASM_F64] = WASM_F64,
    [WASM_FUNCREF] = WASM_FUNCREF, [WASM_EXTERNREF] = WASM_EXTERNREF,
};

static inline bool failed(shoal_err err)
{
    (void)err;
    return false;
}
#define FAIL(c, ...) failed(wasm__rd_fail(&(c)->r, SHOAL_EINVALID, __VA_ARGS__))
#define OOM(c) failed(wasm__rd_fail(&(c)->r, SHOAL_ENOMEM, "out of memory"))

static bool grow(comp *c, void **p, uint32_t *cap, uint32_t need, size_t sz)
{
    if (need <= *cap)
        return true;
    uint32_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, (size_t)ncap * sz);
    if (np == NULL)
        return OOM(c);
    *p = np;
    *cap = ncap;
    return true;
}

/* ---- emission ---- */

static inline bool live(const comp *c)
{
    const ctrl *t = &c->cs[c->ncs - 1];
    return !t->unreachable && !t->dead;
}

static bool reserve_code(comp *c, size_t n)
{
    if (c->ncode + n <= c->capcode)
        return true;
    size_t ncap = c->capcode ? c->capcode * 2 : 64;
    while (ncap < c->ncode + n)
        ncap *= 2;
    cell *np = realloc(c->code, ncap * sizeof *np);
    if (np == NULL)
        return OOM(c);
    c->code = np;
    c->capcode = ncap;
    return true;
}

/* Emits an instruction of 1 + ncells cells and returns its start index;
 * the operand cells are zeroed for the caller to fill. */
static size_t emit(comp *c, op o, size_t ncells)
{
    if (!reserve_code(c, 1 + ncells))
        return SIZE_MAX;
    size_t at = c->ncode;
    c->code[at].h = c->H[o];
    for (size_t i = 1; i <= ncells; i++)
        c->code[at + i].u64 = 0;
    c->ncode += 1 + ncells;
    c->last_valid = false;
    return at;
}

static inline uint32_t slot_off(uint32_t slot)
{
    return slot * 8;
}

static inline uint32_t home_off(const comp *c, uint32_t pos)
{
    return slot_off(c->nlt + pos);
}

/* Records that the instruction at `at` wrote its result (dst in s.a of
 * cell at+1) to operand stack position pos. */
static void note_result(comp *c, size_t at, uint32_t pos)
{
    c->last_valid = true;
    c->last_op = OP_COUNT;
    c->last_start = at;
    c->last_pos = pos;
    c->last_cell = at + 1;
    c->last_end = c->ncode;
}

/* Puts the value at stack position pos in its home slot. */
static bool materialize(comp *c, uint32_t pos)
{
    vval *v = &c->vs[pos];
    if (v->kind == V_STACK)
        return true;
    size_t at;
    if (v->kind == V_LOCAL) {
        at = emit(c, OP_COPY, 1);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = home_off(c, pos);
        c->code[at + 1].s.b = slot_off(v->local);
    } else {
        at = emit(c, OP_CONST, 2);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = home_off(c, pos);
        c->code[at + 2].u64 = v->imm;
    }
    v->kind = V_STACK;
    return true;
}

static bool materialize_all(comp *c)
{
    if (!live(c))
        return true;
    for (uint32_t i = 0; i < c->nvs; i++)
        if (!materialize(c, i))
            return false;
    return true;
}

/* The slot offset of an operand popped from position pos (still in
 * c->vs[pos]); constants are written to their home slot first. */
static bool operand(comp *c, uint32_t pos, uint32_t *off)
{
    vval *v = &c->vs[pos];
    if (v->kind == V_CONST && !materialize(c, pos))
        return false;
    *off = v->kind == V_LOCAL ? slot_off(v->local) : home_off(c, pos);
    return true;
}

/* ---- operand stack (types) ---- */

static bool push(comp *c, uint8_t type)
{
    if (!grow(c, (void **)&c->vs, &c->capvs, c->nvs + 1, sizeof *c->vs))
        return false;
    c->vs[c->nvs++] = (vval){.type = type, .kind = V_STACK};
    if (c->nvs > c->max_height)
        c->max_height = c->nvs;
    return true;
}

static bool push_local(comp *c, uint32_t local)
{
    if (!push(c, c->local_types[local]))
        return false;
    if (live(c)) {
        c->vs[c->nvs - 1].kind = V_LOCAL;
        c->vs[c->nvs - 1].local = local;
    }
    return true;
}

static bool push_const(comp *c, uint8_t type, uint64_t v)
{
    if (!push(c, type))
        return false;
    if (live(c)) {
        c->vs[c->nvs - 1].kind = V_CONST;
        c->vs[c->nvs - 1].imm = v;
    }
    return true;
}

/* Pops a value of type `want` (VT_UNKNOWN: any); *pos gets its position,
 * whose entry stays readable in c->vs until the next push. */
static bool pop(comp *c, uint8_t want, uint8_t *got, uint32_t *pos)
{
    ctrl *t = &c->cs[c->ncs - 1];
    if (c->nvs == t->height) {
        if (!t->unreachable)
            return FAIL(c, "type mismatch: operand stack is empty");
        if (got)
            *got = want;
        if (pos)
            *pos = c->nvs;
        /* Keep vs[nvs] readable as an unknown stack value. */
        if (!grow(c, (void **)&c->vs, &c->capvs, c->nvs + 1, sizeof *c->vs))
            return false;
        c->vs[c->nvs] = (vval){.type = want, .kind = V_STACK};
        return true;
    }
    vval *v = &c->vs[c->nvs - 1];
    if (want != VT_UNKNOWN && v->type != VT_UNKNOWN && v->type != want)
        return FAIL(c, "type mismatch: expected %s, found %s",
                    wasm_valtype_name((wasm_valtype)want),
                    wasm_valtype_name((wasm_valtype)v->type));
    if (got)
        *got = v->type;
    c->nvs--;
    if (pos)
        *pos = c->nvs;
    return true;
}

static bool pop_types(comp *c, const uint8_t *types, uint32_t n)
{
    for (uint32_t i = n; i-- > 0;)
        if (!pop(c, types[i], NULL, NULL))
            return false;
    return true;
}

static bool push_types(comp *c, const uint8_t *types, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!push(c, types[i]))
            return false;
    return true;
}

/* Checks that the top n values have the given types, without popping. */
static bool check_top(comp *c, const uint8_t *types, uint32_t n)
{
    ctrl *t = &c->cs[c->ncs - 1];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t depth = n - i; /* 1 = top */
        if (c->nvs - t->height < depth) {
            if (!t->unreachable)
                return FAIL(c, "type mismatch: operand stack too small "
                               "for branch");
            continue;
        }
        uint8_t have = c->vs[c->nvs - depth].type;
        if (have != VT_UNKNOWN && have != types[i])
            return FAIL(c, "type mismatch in branch operands");
    }
    return true;
}

/* br_if leaves the label's values on the stack with the label's types:
 * in unreachable code, values missing below the top become typed ones. */
static bool retype_top(comp *c, const uint8_t *types, uint32_t n)
{
    ctrl *t = &c->cs[c->ncs - 1];
    uint32_t avail = c->nvs - t->height;
    if (avail < n) {
        uint32_t missing = n - avail;
        if (!grow(c, (void **)&c->vs, &c->capvs, c->nvs + missing,
                  sizeof *c->vs))
            return false;
        memmove(&c->vs[t->height + missing], &c->vs[t->height],
                avail * sizeof *c->vs);
        for (uint32_t i = 0; i < missing; i++)
            c->vs[t->height + i] = (vval){.type = types[i], .kind = V_STACK};
        c->nvs += missing;
        if (c->nvs > c->max_height)
            c->max_height = c->nvs;
    }
    for (uint32_t i = 0; i < n; i++)
        c->vs[c->nvs - n + i].type = types[i];
    return true;
}

/* ---- control ---- */

static bool push_ctrl(comp *c, uint8_t kind, uint32_t np, const uint8_t *params,
                      uint32_t nr, const uint8_t *results)
{
    bool dead = c->ncs ? !live(c) : false;
    if (!grow(c, (void **)&c->cs, &c->capcs, c->ncs + 1, sizeof *c->cs))
        return false;
    ctrl *t = &c->cs[c->ncs++];
    *t = (ctrl){.kind = kind, .dead = dead, .height = c->nvs - np,
                .nparams = np, .params = params, .nresults = nr,
                .results = results, .fixups = -1, .else_fixup = -1,
                .loop_pc = c->ncode, .loop_instr = c->ninstr};
    return true;
}

static void set_unreachable(comp *c)
{
    ctrl *t = &c->cs[c->ncs - 1];
    c->nvs = t->height;
    t->unreachable = true;
    c->last_valid = false;
}

static bool add_fixup(comp *c, int32_t *chain, size_t cellidx, int half,
                      size_t base)
{
    if (!grow(c, (void **)&c->fx, &c->capfx, c->nfx + 1, sizeof *c->fx))
        return false;
    c->fx[c->nfx] = (fixup){.next = *chain, .cell = (uint32_t)cellidx,
                            .base = (uint32_t)base, .half = (uint8_t)half};
    *chain = (int32_t)c->nfx++;
    return true;
}

static void set_off(comp *c, size_t cellidx, int half, size_t base,
                    size_t target)
{
    uint32_t off = (uint32_t)(int32_t)((int64_t)target - (int64_t)base);
    if (half)
        c->code[cellidx].s.b = off;
    else
        c->code[cellidx].s.a = off;
}

static void resolve(comp *c, int32_t chain, size_t target)
{
    for (int32_t i = chain; i >= 0; i = c->fx[i].next)
        set_off(c, c->fx[i].cell, c->fx[i].half, c->fx[i].base, target);
    c->last_valid = false; /* a label: the next result has many producers */
}

static inline uint32_t label_arity(const ctrl *t)
{
    return t->kind == C_LOOP ? t->nparams : t->nresults;
}
static inline const uint8_t *label_types(const ctrl *t)
{
    return t->kind == C_LOOP ? t->params : t->results;
}

/* Do the top n values need moving to reach a label's slots? */
static bool needs_moves(comp *c, const ctrl *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos = c->nvs - n + i;
        if (c->vs[pos].kind != V_STACK || pos != t->height + i)
            return true;
    }
    return false;
}

/* Emits copies of the top n values into the label's slots, lowest first
 * (sources are never below their destinations, so nothing is clobbered). */
static bool emit_moves(comp *c, const ctrl *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos = c->nvs - n + i;
        vval *v = &c->vs[pos];
        uint32_t dst = home_off(c, t->height + i);
        size_t at;
        if (v->kind == V_CONST) {
            at = emit(c, OP_CONST, 2);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = dst;
            c->code[at + 2].u64 = v->imm;
            continue;
        }
        uint32_t src = v->kind == V_LOCAL ? slot_off(v->local)
                                          : home_off(c, pos);
        if (src == dst)
            continue;
        at = emit(c, OP_COPY, 1);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = dst;
        c->code[at + 1].s.b = src;
    }
    return true;
}

/* Emits an unconditional jump to label depth d (moves already done). */
static bool emit_jump(comp *c, uint32_t d)
{
    ctrl *t = &c->cs[c->ncs - 1 - d];
    if (t->kind == C_LOOP) {
        uint32_t cost = c->ninstr - t->loop_instr;
        size_t at = emit(c, c->metering ? OP_BR_M : OP_BR, 1);
        if (at == SIZE_MAX)
            return false;
        set_off(c, at + 1, 0, at, t->loop_pc);
        c->code[at + 1].s.b = cost ? cost : 1;
        return true;
    }
    size_t at = emit(c, OP_BR, 1);
    if (at == SIZE_MAX)
        return false;
    return add_fixup(c, &t->fixups, at + 1, 0, at);
}

/* Moves the function's results into fp[0..] and returns. It may be emitted
 * on a path taken only by a branch, so it leaves the operand stack's
 * description as it is. */
static bool emit_return(comp *c)
{
    uint32_t n = c->cf->type->nresults;
    size_t at;
    /* A result read lazily from local i < n lives in a slot that an earlier
     * move overwrites: copy it to its home slot first (home slots are above
     * all locals, and never below their own destination). */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos = c->nvs - n + i;
        const vval *v = &c->vs[pos];
        if (n > 1 && v->kind == V_LOCAL && v->local < n) {
            at = emit(c, OP_COPY, 1);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = home_off(c, pos);
            c->code[at + 1].s.b = slot_off(v->local);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos = c->nvs - n + i;
        const vval *v = &c->vs[pos];
        uint32_t dst = slot_off(i);
        if (v->kind == V_CONST) {
            at = emit(c, OP_CONST, 2);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = dst;
            c->code[at + 2].u64 = v->imm;
            continue;
        }
        uint32_t src = (v->kind == V_LOCAL && !(n > 1 && v->local < n))
                           ? slot_off(v->local)
                           : home_off(c, pos);
        if (n == 1 && i == 0) {
            at = emit(c, OP_RETURN1, 1);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = src;
            return true;
        }
        if (src == dst)
            continue;
        at = emit(c, OP_COPY, 1);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = dst;
        c->code[at + 1].s.b = src;
    }
    return emit(c, OP_RETURN, 0) != SIZE_MAX;
}

/* ---- block types ---- */

static bool read_blocktype(comp *c, uint32_t *np, const uint8_t **params,
                           uint32_t *nr, const uint8_t **results)
{
    if (c->r.p < c->r.end && *c->r.p == 0x40) {
        c->r.p++;
        *np = *nr = 0;
        *params = *results = NULL;
        return true;
    }
    if (c->r.p < c->r.end &&
        (wasm__is_numtype(*c->r.p) || wasm__is_reftype(*c->r.p))) {
        *np = 0;
        *params = NULL;
        *nr = 1;
        *results = &single_type[*c->r.p++];
        return true;
    }
    int64_t idx;
    if (!wasm__rd_s33(&c->r, &idx))
        return false;
    if (idx < 0)
        return wasm__rd_fail(&c->r, SHOAL_EMALFORMED,
                             "malformed block type"),
               false;
    if ((uint64_t)idx >= c->m->ntypes)
        return FAIL(c, "unknown type %lld in block type", (long long)idx);
    const wasm_functype *t = &c->m->types[idx];
    *np = t->nparams;
    *params = t->types;
    *nr = t->nresults;
    *results = t->types + t->nparams;
    return true;
}

/* For each comparison (slot and immediate forms) its compare-and-branch
 * op; +2 gives the metered form, +4 the branch-if-false form. */
static const uint16_t fuse_base[OP_COUNT] = {
#define FUSE_ENTRY(name, opc, ta, tr, ca, cr, e)                               \
    [OP_##name] = OP_BRIF_##name, [OP_##name##_I] = OP_BRIF_##name##_I,
    WASM_CMPOPS(FUSE_ENTRY)
#undef FUSE_ENTRY
};

/* ---- instructions ---- */

static const uint8_t numtypes[] = {
#define NT(T) [T##_IDX] = WASM_##T
#define I32_IDX 0
#define I64_IDX 1
#define F32_IDX 2
#define F64_IDX 3
    NT(I32), NT(I64), NT(F32), NT(F64)};
#define VT(T) numtypes[T##_IDX]

static bool unop(comp *c, op o, uint8_t ta, uint8_t tr)
{
    uint32_t pos;
    if (!pop(c, ta, NULL, &pos))
        return false;
    if (live(c)) {
        uint32_t a;
        if (!operand(c, pos, &a))
            return false;
        size_t at = emit(c, o, 1);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = home_off(c, pos);
        c->code[at + 1].s.b = a;
        if (!push(c, tr))
            return false;
        note_result(c, at, pos);
        if (o == OP_I32_EQZ)
            c->last_op = o;
        return true;
    }
    return push(c, tr);
}

/* An instruction that takes no operand and produces a value of type t from
 * an immediate: [dst|imm]. */
static bool produce(comp *c, op o, uint8_t t, uint32_t imm)
{
    if (!push(c, t))
        return false;
    if (!live(c))
        return true;
    size_t at = emit(c, o, 1);
    if (at == SIZE_MAX)
        return false;
    c->code[at + 1].s.a = home_off(c, c->nvs - 1);
    c->code[at + 1].s.b = imm;
    note_result(c, at, c->nvs - 1);
    return true;
}

static bool binop(comp *c, op o, uint8_t ta, uint8_t tr)
{
    uint32_t pb, pa;
    if (!pop(c, ta, NULL, &pb))
        return false;
    vval vb = c->vs[pb];
    if (!pop(c, ta, NULL, &pa))
        return false;
    if (!live(c))
        return push(c, tr);
    uint32_t a;
    size_t at;
    op emitted;
    if (c->vs[pa].kind == V_CONST && vb.kind != V_CONST) {
        /* The _R form: immediate left operand. */
        uint32_t b = vb.kind == V_LOCAL ? slot_off(vb.local) : home_off(c, pb);
        emitted = (op)(o + 2);
        at = emit(c, emitted, 2);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = home_off(c, pa);
        c->code[at + 1].s.b = b;
        c->code[at + 2].u64 = c->vs[pa].imm;
        if (!push(c, tr))
            return false;
        note_result(c, at, pa);
        return true;
    }
    if (!operand(c, pa, &a))
        return false;
    if (vb.kind == V_CONST) {
        emitted = (op)(o + 1); /* the _I form follows */
        at = emit(c, emitted, 2);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 2].u64 = vb.imm;
    } else {
        emitted = o;
        uint32_t b = vb.kind == V_LOCAL ? slot_off(vb.local) : home_off(c, pb);
        at = emit(c, o, 2);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 2].s.a = b;
    }
    c->code[at + 1].s.a = home_off(c, pa);
    c->code[at + 1].s.b = a;
    if (!push(c, tr))
        return false;
    note_result(c, at, pa);
    if (fuse_base[emitted])
        c->last_op = emitted;
    return true;
}

static bool memarg(comp *c, uint32_t natural, uint32_t *offset)
{
    uint32_t align;
    if (!wasm__rd_u32(&c->r, &align) || !wasm__rd_u32(&c->r, offset))
        return false;
    if (c->m->nmems == 0)
        return FAIL(c, "unknown memory 0");
    if (align > natural)
        return FAIL(c, "alignment must not be larger than natural");
    return true;
}

static bool load(comp *c, op o, uint8_t type, uint32_t natural)
{
    uint32_t offset, pos;
    if (!memarg(c, natural, &offset) || !pop(c, WASM_I32, NULL, &pos))
        return false;
    if (!live(c))
        return push(c, type);
    uint32_t addr;
    if (!operand(c, pos, &addr))
        return false;
    size_t at = emit(c, o, 2);
    if (at == SIZE_MAX)
        return false;
    c->code[at + 1].s.a = home_off(c, pos);
    c->code[at + 1].s.b = addr;
    c->code[at + 2].s.a = offset;
    if (!push(c, type))
        return false;
    note_result(c, at, pos);
    return true;
}

static bool store(comp *c, op o, uint8_t type, uint32_t natural)
{
    uint32_t offset, pv, pa;
    if (!memarg(c, natural, &offset) || !pop(c, type, NULL, &pv))
        return false;
    vval v = c->vs[pv];
    if (!pop(c, WASM_I32, NULL, &pa))
        return false;
    if (!live(c))
        return true;
    uint32_t addr, val;
    if (!operand(c, pa, &addr))
        return false;
    if (v.kind == V_CONST) {
        c->vs[pv] = v;
        if (!materialize(c, pv))
            return false;
        val = home_off(c, pv);
    } else {
        val = v.kind == V_LOCAL ? slot_off(v.local) : home_off(c, pv);
    }
    size_t at = emit(c, o, 2);
    if (at == SIZE_MAX)
        return false;
    c->code[at + 1].s.a = addr;
    c->code[at + 1].s.b = val;
    c->code[at + 2].s.a = offset;
    return true;
}

/* Pops n operands (types given) into home slots and returns the offset of
 * the first; used by instructions with several operands. */
static bool pop_operands_home(comp *c, const uint8_t *types, uint32_t n,
                              uint32_t *first_pos)
{
    if (!pop_types(c, types, n))
        return false;
    *first_pos = c->nvs;
    if (!live(c))
        return true;
    for (uint32_t i = 0; i < n; i++)
        if (!materialize(c, c->nvs + i))
            return false;
    return true;
}

static bool do_call(comp *c, const wasm_functype *t, bool indirect,
                    uint32_t a, uint32_t b)
{
    uint32_t idx_pos = 0, idx_off = 0;
    if (indirect) {
        if (!pop(c, WASM_I32, NULL, &idx_pos))
            return false;
        if (live(c) && !operand(c, idx_pos, &idx_off))
            return false;
    }
    uint32_t first;
    if (!pop_operands_home(c, t->types, t->nparams, &first))
        return false;
    if (live(c)) {
        /* A callee frame starts at the first argument; the index operand
         * of call_indirect must be read before the call clobbers it, which
         * the handler does. */
        size_t at;
        if (indirect) {
            at = emit(c, c->metering ? OP_CALL_INDIRECT_M : OP_CALL_INDIRECT,
                      2);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = a;
            c->code[at + 1].s.b = b;
            c->code[at + 2].s.a = idx_off;
            c->code[at + 2].s.b = home_off(c, first);
        } else if (a >= c->m->nimported_funcs) {
            /* The module's own function: its compiled code is known now
             * (the array does not move), so the call need not look up the
             * instance's function object, a cache line per callee. */
            at = emit(c, c->metering ? OP_CALL_OWN_M : OP_CALL_OWN, 2);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = a - c->m->nimported_funcs;
            c->code[at + 1].s.b = home_off(c, first);
            c->code[at + 2].h = &c->m->cfuncs[a - c->m->nimported_funcs];
        } else {
            at = emit(c, c->metering ? OP_CALL_M : OP_CALL, 1);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = a;
            c->code[at + 1].s.b = home_off(c, first);
        }
    }
    if (!push_types(c, t->types + t->nparams, t->nresults))
        return false;
    /* Results occupy slots above the arguments; reserve room for them. */
    if (first + t->nresults > c->max_height)
        c->max_height = first + t->nresults;
    if (first + t->nparams > c->max_height)
        c->max_height = first + t->nparams;
    return true;
}

/* Can the instruction just emitted, which computed the condition at
 * cond_pos, become a branch taken when the condition is `when`? kind: 0
 * plain, 2 metered loop back-edge. */
static bool fusable(const comp *c, uint32_t cond_pos, bool when, int kind)
{
    if (!(c->last_valid && c->last_op != OP_COUNT &&
          c->last_pos == cond_pos && c->last_end == c->ncode &&
          c->vs[cond_pos].kind == V_STACK))
        return false;
    /* There is no metered branch-if-zero to fold i32.eqz into. */
    return !(c->last_op == OP_I32_EQZ && kind == 2 && when);
}

/* Rewrites the last instruction (a comparison or i32.eqz) into a branch
 * taken when the condition is `when`. Returns the branch's start, or
 * SIZE_MAX when out of memory; *offcell and *offhalf say where its offset goes,
 * and a metered cost goes to s.b of cell start + 2. */
static size_t fuse(comp *c, bool when, int kind, size_t *offcell,
                   int *offhalf)
{
    size_t at = c->last_start;
    cell c1 = c->code[at + 1];
    c->last_valid = false;
    if (c->last_op == OP_I32_EQZ) {
        /* eqz then branch-if-true is branch-if-zero on the operand. */
        c->code[at].h = c->H[when ? OP_BR_UNLESS : OP_BR_IF];
        c->code[at + 1].s.a = c1.s.b;
        c->code[at + 1].s.b = 0;
        *offcell = at + 1;
        *offhalf = 1;
        return at;
    }
    if (!reserve_code(c, 1))
        return SIZE_MAX;
    cell c2 = c->code[at + 2];
    uint16_t base = fuse_base[c->last_op];
    bool imm = (base - OP_BRIF_I32_EQ) % 6 == 1;
    c->code[at].h = c->H[base + (when ? kind : 4)];
    c->code[at + 1].s.a = c1.s.b;
    c->code[at + 1].s.b = imm ? 0 : c2.s.a;
    c->code[at + 2].u64 = 0;
    c->code[at + 3].u64 = imm ? c2.u64 : 0;
    c->ncode = at + 4;
    *offcell = at + 2;
    *offhalf = 0;
    return at;
}

static bool br_to(comp *c, uint32_t d, bool conditional)
{
    ctrl *t = &c->cs[c->ncs - 1 - d];
    uint32_t n = label_arity(t);
    uint32_t cond_pos = 0, cond_off = 0;
    if (conditional) {
        if (!pop(c, WASM_I32, NULL, &cond_pos))
            return false;
        if (live(c) && !operand(c, cond_pos, &cond_off))
            return false;
    }
    if (!check_top(c, label_types(t), n))
        return false;
    if (conditional && !retype_top(c, label_types(t), n))
        return false;
    if (!live(c))
        return true;
    bool is_return = d == c->ncs - 1;
    if (!conditional) {
        if (is_return)
            return emit_return(c);
        return emit_moves(c, t, n) && emit_jump(c, d);
    }
    if (!is_return && !needs_moves(c, t, n)) {
        int kind = t->kind == C_LOOP && c->metering ? 2 : 0;
        if (fusable(c, cond_pos, true, kind)) {
            size_t cellidx;
            int half;
            size_t at = fuse(c, true, kind, &cellidx, &half);
            if (at == SIZE_MAX)
                return false;
            if (kind) {
                uint32_t cost = c->ninstr - t->loop_instr;
                c->code[at + 2].s.b = cost ? cost : 1;
            }
            if (t->kind == C_LOOP) {
                set_off(c, cellidx, half, at, t->loop_pc);
                return true;
            }
            return add_fixup(c, &t->fixups, cellidx, half, at);
        }
        if (t->kind == C_LOOP && c->metering) {
            size_t at = emit(c, OP_BR_IF_M, 2);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = cond_off;
            set_off(c, at + 1, 1, at, t->loop_pc);
            uint32_t cost = c->ninstr - t->loop_instr;
            c->code[at + 2].s.a = cost ? cost : 1;
            return true;
        }
        size_t at = emit(c, OP_BR_IF, 1);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = cond_off;
        if (t->kind == C_LOOP) {
            set_off(c, at + 1, 1, at, t->loop_pc);
            return true;
        }
        return add_fixup(c, &t->fixups, at + 1, 1, at);
    }
    /* The taken path needs moves: skip over them when the condition is 0.
     * Moves and returns leave the operand stack's description as it is, so
     * it stays right for the fall-through path. */
    size_t at = emit(c, OP_BR_UNLESS, 1);
    if (at == SIZE_MAX)
        return false;
    c->code[at + 1].s.a = cond_off;
    bool ok = is_return ? emit_return(c) : (emit_moves(c, t, n) &&
                                            emit_jump(c, d));
    if (!ok)
        return false;
    set_off(c, at + 1, 1, at, c->ncode);
    c->last_valid = false;
    return true;
}

static bool br_table(comp *c)
{
    uint32_t n;
    if (!wasm__rd_u32(&c->r, &n))
        return false;
    if (n > (size_t)(c->r.end - c->r.p))
        return wasm__rd_fail(&c->r, SHOAL_EMALFORMED, "unexpected end"),
               false;
    uint32_t *depths = malloc(((size_t)n + 1) * sizeof *depths);
    if (depths == NULL)
        return OOM(c);
    bool ok = false;
    for (uint32_t i = 0; i <= n; i++) {
        if (!wasm__rd_u32(&c->r, &depths[i]))
            goto out;
        if (depths[i] >= c->ncs) {
            FAIL(c, "unknown label %u", depths[i]);
            goto out;
        }
    }
    uint32_t idx_pos, idx_off = 0;
    if (!pop(c, WASM_I32, NULL, &idx_pos))
        goto out;
    if (live(c) && !operand(c, idx_pos, &idx_off))
        goto out;
    uint32_t arity = label_arity(&c->cs[c->ncs - 1 - depths[n]]);
    for (uint32_t i = 0; i <= n; i++) {
        ctrl *t = &c->cs[c->ncs - 1 - depths[i]];
        if (label_arity(t) != arity) {
            FAIL(c, "type mismatch: br_table labels of different arity");
            goto out;
        }
        if (!check_top(c, label_types(t), arity))
            goto out;
    }
    if (live(c)) {
        size_t at = emit(c, OP_BR_TABLE, 1 + (size_t)n + 1);
        if (at == SIZE_MAX)
            goto out;
        c->code[at + 1].s.a = idx_off;
        c->code[at + 1].s.b = n;
        for (uint32_t i = 0; i <= n; i++) {
            uint32_t d = depths[i];
            ctrl *t = &c->cs[c->ncs - 1 - d];
            size_t entry = at + 2 + i;
            bool ret = d == c->ncs - 1;
            bool direct = !ret && !needs_moves(c, t, arity) &&
                          !(t->kind == C_LOOP && c->metering);
            if (direct) {
                if (t->kind == C_LOOP)
                    set_off(c, entry, 0, at, t->loop_pc);
                else if (!add_fixup(c, &t->fixups, entry, 0, at))
                    goto out;
                continue;
            }
            /* A trampoline after the table does the moves and the jump. */
            set_off(c, entry, 0, at, c->ncode);
            if (!(ret ? emit_return(c)
                      : (emit_moves(c, t, arity) && emit_jump(c, d))))
                goto out;
        }
    }
    set_unreachable(c);
    ok = true;
out:
    free(depths);
    return ok;
}

static bool check_local(comp *c, uint32_t idx)
{
    if (idx >= c->nlt)
        return FAIL(c, "unknown local %u", idx);
    return true;
}

/* local.set / local.tee: writes local x from the top of the stack. */
static bool set_local(comp *c, uint32_t x, bool tee)
{
    uint32_t pos;
    if (!check_local(c, x) || !pop(c, c->local_types[x], NULL, &pos))
        return false;
    vval v = c->vs[pos];
    if (live(c)) {
        size_t before = c->ncode;
        /* Values read lazily from x must be saved before x changes. */
        for (uint32_t i = 0; i < c->nvs; i++)
            if (c->vs[i].kind == V_LOCAL && c->vs[i].local == x &&
                !materialize(c, i))
                return false;
        bool retarget = c->ncode == before && v.kind == V_STACK &&
                        c->last_valid && c->last_pos == pos &&
                        c->last_end == c->ncode;
        if (retarget) {
            c->code[c->last_cell].s.a = slot_off(x);
        } else if (v.kind == V_CONST) {
            size_t at = emit(c, OP_CONST, 2);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = slot_off(x);
            c->code[at + 2].u64 = v.imm;
        } else if (!(v.kind == V_LOCAL && v.local == x)) {
            size_t at = emit(c, OP_COPY, 1);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = slot_off(x);
            c->code[at + 1].s.b =
                v.kind == V_LOCAL ? slot_off(v.local) : home_off(c, pos);
        }
        c->last_valid = false;
    }
    if (tee)
        return push_local(c, x);
    return true;
}

static bool check_table(comp *c, uint32_t t)
{
    if (t >= c->m->ntables)
        return FAIL(c, "unknown table %u", t);
    return true;
}

static bool check_elem(comp *c, uint32_t e)
{
    if (e >= c->m->nelems)
        return FAIL(c, "unknown elem segment %u", e);
    return true;
}

static bool check_data(comp *c, uint32_t d)
{
    if (!c->m->has_datacount)
        return wasm__rd_fail(&c->r, SHOAL_EMALFORMED,
                             "data count section required"),
               false;
    if (d >= c->m->datacount)
        return FAIL(c, "unknown data segment %u", d);
    return true;
}

static bool zero_byte(comp *c)
{
    uint8_t b;
    if (!rd_u8(&c->r, &b))
        return false;
    if (b != 0)
        return wasm__rd_fail(&c->r, SHOAL_EMALFORMED, "zero byte expected"),
               false;
    return true;
}

/* Pops three operands into their home slots and, in live code, emits o
 * with them as its first three slot operands ([a|b][c|...]). *at is the
 * instruction's start, or SIZE_MAX in dead code. */
static bool emit_three(comp *c, const uint8_t *types, op o, size_t ncells,
                       size_t *at)
{
    uint32_t first;
    *at = SIZE_MAX;
    if (!pop_operands_home(c, types, 3, &first))
        return false;
    if (!live(c))
        return true;
    *at = emit(c, o, ncells);
    if (*at == SIZE_MAX)
        return false;
    c->code[*at + 1].s.a = home_off(c, first);
    c->code[*at + 1].s.b = home_off(c, first + 1);
    c->code[*at + 2].s.a = home_off(c, first + 2);
    return true;
}

static bool prefixed(comp *c)
{
    uint32_t sub;
    if (!wasm__rd_u32(&c->r, &sub))
        return false;
    static const uint8_t i32x3[] = {WASM_I32, WASM_I32, WASM_I32};
    uint32_t first, a, b;
    size_t at;
    switch (sub) {
#define SAT_CASE(name, opc, ta, tr, ca, cr, e)                                 \
    case opc:                                                                  \
        return unop(c, OP_##name, VT(ta), VT(tr));
        WASM_SATOPS(SAT_CASE)
#undef SAT_CASE
    case 8: /* memory.init */
        if (!wasm__rd_u32(&c->r, &a) || !zero_byte(c) || !check_data(c, a))
            return false;
        if (c->m->nmems == 0)
            return FAIL(c, "unknown memory 0");
        if (!emit_three(c, i32x3, OP_MEMORY_INIT, 2, &at))
            return false;
        if (at != SIZE_MAX)
            c->code[at + 2].s.b = a;
        return true;
    case 9: /* data.drop */
        if (!wasm__rd_u32(&c->r, &a) || !check_data(c, a))
            return false;
        if (!live(c))
            return true;
        at = emit(c, OP_DATA_DROP, 1);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = a;
        return true;
    case 10: /* memory.copy */
    case 11: /* memory.fill */
        if (!zero_byte(c) || (sub == 10 && !zero_byte(c)))
            return false;
        if (c->m->nmems == 0)
            return FAIL(c, "unknown memory 0");
        return emit_three(c, i32x3, sub == 10 ? OP_MEMORY_COPY : OP_MEMORY_FILL,
                          2, &at);
    case 12: /* table.init elem table */
        if (!wasm__rd_u32(&c->r, &a) || !wasm__rd_u32(&c->r, &b) ||
            !check_elem(c, a) || !check_table(c, b))
            return false;
        if (c->m->tables[b].elemtype != c->m->elems[a].elemtype)
            return FAIL(c, "type mismatch: table.init of table %u from "
                           "element segment %u",
                        b, a);
        if (!emit_three(c, i32x3, OP_TABLE_INIT, 3, &at))
            return false;
        if (at != SIZE_MAX) {
            c->code[at + 2].s.b = b;
            c->code[at + 3].s.a = a;
        }
        return true;
    case 13: /* elem.drop */
        if (!wasm__rd_u32(&c->r, &a) || !check_elem(c, a))
            return false;
        if (!live(c))
            return true;
        at = emit(c, OP_ELEM_DROP, 1);
        if (at == SIZE_MAX)
            return false;
        c->code[at + 1].s.a = a;
        return true;
    case 14: /* table.copy dst src */
        if (!wasm__rd_u32(&c->r, &a) || !wasm__rd_u32(&c->r, &b) ||
            !check_table(c, a) || !check_table(c, b))
            return false;
        if (c->m->tables[a].elemtype != c->m->tables[b].elemtype)
            return FAIL(c, "type mismatch: table.copy between tables %u and "
                           "%u",
                        a, b);
        if (!emit_three(c, i32x3, OP_TABLE_COPY, 3, &at))
            return false;
        if (at != SIZE_MAX) {
            c->code[at + 3].s.a = a;
            c->code[at + 3].s.b = b;
        }
        return true;
    case 15: { /* table.grow */
        if (!wasm__rd_u32(&c->r, &a) || !check_table(c, a))
            return false;
        uint8_t types[2] = {c->m->tables[a].elemtype, WASM_I32};
        if (!pop_operands_home(c, types, 2, &first))
            return false;
        if (live(c)) {
            at = emit(c, OP_TABLE_GROW, 2);
            if (at == SIZE_MAX)
                return false;
            c->code[at + 1].s.a = home_off(c, first);
            c->code[at + 1].s.b = home_off(c, first);
            c->code[at + 2].s.a = home_off(c, first + 1);
            c->code[at + 2].s.b = a;
        }
        return push(c, WASM_I32);
    }
    case 16: /* table.size */
        if (!wasm__rd_u32(&c->r, &a) || !check_table(c, a))
            return false;
        return produce(c, OP_TABLE_SIZE, WASM_I32, a);
    case 17: { /* table.fill */
        if (!wasm__rd_u32(&c->r, &a) || !check_table(c, a))
            return false;
        uint8_t types[3] = {WASM_I32, c->m->tables[a].elemtype, WASM_I32};
        if (!emit_three(c, types, OP_TABLE_FILL, 2, &at))
            return false;
        if (at != SIZE_MAX)
            c->code[at + 2].s.b = a;
        return true;
    }
    default:
        c->r.p--;
        return wasm__rd_fail(&c->r, SHOAL_EMALFORMED,
                             "illegal opcode 0xfc %u", sub),
               false;
    }
}

static bool end_block(comp *c)
{
    ctrl *t = &c->cs[c->ncs - 1];
    if (t->kind == C_IF && t->nparams + t->nresults > 0) {
        /* if without else: the implicit else passes params as results. */
        if (t->nparams != t->nresults ||
            memcmp(t->params, t->results, t->nparams) != 0)
            return FAIL(c, "type mismatch: if without else must return its "
                           "parameters");
    }
    if (!pop_types(c, t->results, t->nresults))
        return false;
    if (c->nvs != t->height)
        return FAIL(c, "type mismatch: values left on the stack at end of "
                       "block");
    /* Results go to their home slots (they are at their positions). */
    c->nvs += t->nresults;
    if (live(c)) {
        for (uint32_t i = 0; i < t->nresults; i++) {
            c->vs[t->height + i].type = t->results[i];
            if (!materialize(c, t->height + i))
                return false;
        }
    }
    c->nvs -= t->nresults;
    if (t->kind == C_FUNC) {
        if (live(c)) {
            c->nvs += t->nresults;
            if (!emit_return(c))
                return false;
            c->nvs -= t->nresults;
        }
        resolve(c, t->fixups, c->ncode); /* unused: br 0 returns directly */
        c->ncs--;
        return true;
    }
    resolve(c, t->fixups, c->ncode);
    if (t->else_fixup >= 0)
        resolve(c, t->else_fixup, c->ncode);
    if (t->kind == C_LOOP)
        c->loop_depth--;
    uint32_t nr = t->nresults;
    const uint8_t *res = t->results;
    c->ncs--;
    return push_types(c, res, nr);
}

static bool compile_body(comp *c)
{
    const wasm_functype *ft = c->cf->type;
    if (!push_ctrl(c, C_FUNC, 0, NULL, ft->nresults, ft->types + ft->nparams))
        return false;
    while (c->ncs > 0) {
        uint8_t opc;
        if (!rd_u8(&c->r, &opc))
            return false;
        c->ninstr++;
        if (c->loop_depth == 0)
            c->ninstr_flat++;
        uint32_t a, b, pos;
        uint8_t t1, t2;
        switch (opc) {
        case 0x00: /* unreachable */
            if (live(c) && emit(c, OP_UNREACHABLE, 0) == SIZE_MAX)
                return false;
            set_unreachable(c);
            break;
        case 0x01: /* nop */
            break;
        case 0x02: /* block */
        case 0x03: /* loop */
        case 0x04: { /* if */
            uint32_t np, nr;
            const uint8_t *params, *results;
            if (!read_blocktype(c, &np, &params, &nr, &results))
                return false;
            uint32_t cond_off = 0, cond_pos = 0;
            if (opc == 0x04 && !pop(c, WASM_I32, NULL, &cond_pos))
                return false;
            if (!pop_types(c, params, np))
                return false;
            c->nvs += np;
            if (!materialize_all(c))
                return false;
            bool fused = opc == 0x04 && live(c) &&
                         fusable(c, cond_pos, false, 0);
            if (opc == 0x04 && live(c) && !fused &&
                !operand(c, cond_pos, &cond_off))
                return false;
            for (uint32_t i = 0; i < np; i++)
                c->vs[c->nvs - np + i].type = params[i];
            if (!push_ctrl(c, opc == 0x02 ? C_BLOCK
                              : opc == 0x03 ? C_LOOP
                                            : C_IF,
                           np, params, nr, results))
                return false;
            ctrl *t = &c->cs[c->ncs - 1];
            c->last_valid = false;
            if (opc == 0x03)
                c->loop_depth++;
            if (fused) {
                size_t cellidx;
                int half;
                size_t at = fuse(c, false, 0, &cellidx, &half);
                if (at == SIZE_MAX ||
                    !add_fixup(c, &t->else_fixup, cellidx, half, at))
                    return false;
            } else if (opc == 0x04 && live(c)) {
                size_t at = emit(c, OP_BR_UNLESS, 1);
                if (at == SIZE_MAX)
                    return false;
                c->code[at + 1].s.a = cond_off;
                if (!add_fixup(c, &t->else_fixup, at + 1, 1, at))
                    return false;
            }
            break;
        }
        case 0x05: { /* else */
            ctrl *t = &c->cs[c->ncs - 1];
            if (t->kind != C_IF)
                return FAIL(c, "else without matching if");
            if (!pop_types(c, t->results, t->nresults))
                return false;
            if (c->nvs != t->height)
                return FAIL(c, "type mismatch: values left on the stack at "
                               "else");
            if (live(c)) {
                c->nvs += t->nresults;
                for (uint32_t i = 0; i < t->nresults; i++)
                    if (!materialize(c, t->height + i))
                        return false;
                c->nvs -= t->nresults;
                size_t at = emit(c, OP_BR, 1);
                if (at == SIZE_MAX || !add_fixup(c, &t->fixups, at + 1, 0, at))
                    return false;
            }
            resolve(c, t->else_fixup, c->ncode);
            t->else_fixup = -1;
            t->kind = C_ELSE;
            t->unreachable = false;
            c->nvs = t->height;
            if (!push_types(c, t->params, t->nparams))
                return false;
            break;
        }
        case 0x0b: /* end */
            if (!end_block(c))
                return false;
            break;
        case 0x0c: /* br */
        case 0x0d: /* br_if */
            if (!wasm__rd_u32(&c->r, &a))
                return false;
            if (a >= c->ncs)
                return FAIL(c, "unknown label %u", a);
            if (!br_to(c, a, opc == 0x0d))
                return false;
            if (opc == 0x0c) {
                /* br pops the label's values; the rest is dead. */
                set_unreachable(c);
            }
            break;
        case 0x0e: /* br_table */
            if (!br_table(c))
                return false;
            break;
        case 0x0f: /* return */
            if (!br_to(c, c->ncs - 1, false))
                return false;
            set_unreachable(c);
            break;
        case 0x10: /* call */
            if (!wasm__rd_u32(&c->r, &a))
                return false;
            if (a >= c->m->nfuncs)
                return FAIL(c, "unknown function %u", a);
            if (!do_call(c, &c->m->types[c->m->func_type[a]], false, a, 0))
                return false;
            break;
        case 0x11: /* call_indirect */
            if (!wasm__rd_u32(&c->r, &a) || !wasm__rd_u32(&c->r, &b))
                return false;
            if (a >= c->m->ntypes)
                return FAIL(c, "unknown type %u", a);
            if (!check_table(c, b))
                return false;
            if (c->m->tables[b].elemtype != WASM_FUNCREF)
                return FAIL(c, "type mismatch: call_indirect on a table of "
                               "externref");
            if (!do_call(c, &c->m->types[a], true, a, b))
                return false;
            break;
        case 0x1a: /* drop */
            if (!pop(c, VT_UNKNOWN, NULL, NULL))
                return false;
            break;
        case 0x1b:   /* select */
        case 0x1c: { /* select t */
            uint8_t want = VT_UNKNOWN;
            if (opc == 0x1c) {
                if (!wasm__rd_u32(&c->r, &a))
                    return false;
                if (a != 1)
                    return FAIL(c, "invalid result arity %u for select", a);
                if (!wasm__rd_valtype(&c->r, &want))
                    return false;
            }
            uint32_t pc, pb, pa;
            if (!pop(c, WASM_I32, NULL, &pc))
                return false;
            vval vc = c->vs[pc];
            if (!pop(c, want, &t2, &pb))
                return false;
            vval vb = c->vs[pb];
            if (!pop(c, want, &t1, &pa))
                return false;
            uint8_t rt = t1 != VT_UNKNOWN ? t1 : t2;
            if (opc == 0x1b) {
                if ((t1 != VT_UNKNOWN && !wasm__is_numtype(t1)) ||
                    (t2 != VT_UNKNOWN && !wasm__is_numtype(t2)))
                    return FAIL(c, "type mismatch: select without a type "
                                   "needs numeric operands");
                if (t1 != VT_UNKNOWN && t2 != VT_UNKNOWN && t1 != t2)
                    return FAIL(c, "type mismatch in select");
            } else {
                rt = want;
            }
            if (live(c)) {
                /* Operands to slots: constants to their home slots. */
                c->vs[pb] = vb;
                c->vs[pc] = vc;
                uint32_t oa, ob, oc;
                if (!operand(c, pa, &oa) || !operand(c, pb, &ob) ||
                    !operand(c, pc, &oc))
                    return false;
                size_t at = emit(c, OP_SELECT, 2);
                if (at == SIZE_MAX)
                    return false;
                c->code[at + 1].s.a = home_off(c, pa);
                c->code[at + 1].s.b = oc;
                c->code[at + 2].s.a = oa;
                c->code[at + 2].s.b = ob;
                if (!push(c, rt))
                    return false;
                note_result(c, at, pa);
            } else if (!push(c, rt)) {
                return false;
            }
            break;
        }
        case 0x20: /* local.get */
            if (!wasm__rd_u32(&c->r, &a) || !check_local(c, a) ||
                !push_local(c, a))
                return false;
            break;
        case 0x21: /* local.set */
        case 0x22: /* local.tee */
            if (!wasm__rd_u32(&c->r, &a) || !set_local(c, a, opc == 0x22))
                return false;
            break;
        case 0x23: /* global.get */
            if (!wasm__rd_u32(&c->r, &a))
                return false;
            if (a >= c->m->nglobals)
                return FAIL(c, "unknown global %u", a);
            /* The module's own globals are read in place, without the
             * instance's table of pointers (a cache line less). */
            if (a >= c->m->nimported_globals
                    ? !produce(c, OP_GLOBAL_GET_OWN, c->m->globals[a].type,
                               a - c->m->nimported_globals)
                    : !produce(c, OP_GLOBAL_GET, c->m->globals[a].type, a))
                return false;
            break;
        case 0x24: /* global.set */
            if (!wasm__rd_u32(&c->r, &a))
                return false;
            if (a >= c->m->nglobals)
                return FAIL(c, "unknown global %u", a);
            if (!c->m->globals[a].mut)
                return FAIL(c, "global is immutable: global.set of global %u",
                            a);
            if (!pop(c, c->m->globals[a].type, NULL, &pos))
                return false;
            if (live(c)) {
                uint32_t src;
                if (!operand(c, pos, &src))
                    return false;
                bool own = a >= c->m->nimported_globals;
                size_t at =
                    emit(c, own ? OP_GLOBAL_SET_OWN : OP_GLOBAL_SET, 1);
                if (at == SIZE_MAX)
                    return false;
                c->code[at + 1].s.a = src;
                c->code[at + 1].s.b = own ? a - c->m->nimported_globals : a;
            }
            break;
        case 0x25: /* table.get */
            if (!wasm__rd_u32(&c->r, &a) || !check_table(c, a) ||
                !pop(c, WASM_I32, NULL, &pos))
                return false;
            if (live(c)) {
                uint32_t idx;
                if (!operand(c, pos, &idx))
                    return false;
                size_t at = emit(c, OP_TABLE_GET, 2);
                if (at == SIZE_MAX)
                    return false;
                c->code[at + 1].s.a = home_off(c, pos);
                c->code[at + 1].s.b = idx;
                c->code[at + 2].s.a = a;
                if (!push(c, c->m->tables[a].elemtype))
                    return false;
                note_result(c, at, pos);
            } else if (!push(c, c->m->tables[a].elemtype)) {
                return false;
            }
            break;
        case 0x26: { /* table.set */
            if (!wasm__rd_u32(&c->r, &a) || !check_table(c, a))
                return false;
            uint8_t types[2] = {WASM_I32, c->m->tables[a].elemtype};
            uint32_t first;
            if (!pop_operands_home(c, types, 2, &first))
                return false;
            if (live(c)) {
                size_t at = emit(c, OP_TABLE_SET, 2);
                if (at == SIZE_MAX)
                    return false;
                c->code[at + 1].s.a = home_off(c, first);
                c->code[at + 1].s.b = home_off(c, first + 1);
                c->code[at + 2].s.a = a;
            }
            break;
        }
#define LOAD_CASE(name, opc_, T, al, o)                                        \
    case opc_:                                                                 \
        if (!load(c, OP_##o, WASM_##T, al))                                    \
            return false;                                                      \
        break;
            WASM_LOADS(LOAD_CASE)
#undef LOAD_CASE
#define STORE_CASE(name, opc_, T, al, o)                                       \
    case opc_:                                                                 \
        if (!store(c, OP_##o, WASM_##T, al))                                   \
            return false;                                                      \
        break;
            WASM_STORES(STORE_CASE)
#undef STORE_CASE
        case 0x3f: /* memory.size */
            if (!zero_byte(c))
                return false;
            if (c->m->nmems == 0)
                return FAIL(c, "unknown memory 0");
            if (!produce(c, OP_MEMORY_SIZE, WASM_I32, 0))
                return false;
            break;
        case 0x40: /* memory.grow */
            if (!zero_byte(c))
                return false;
            if (c->m->nmems == 0)
                return FAIL(c, "unknown memory 0");
            /* [dst|delta]: the shape of a unary operator. */
            if (!unop(c, OP_MEMORY_GROW, WASM_I32, WASM_I32))
                return false;
            break;
        case 0x41: { /* i32.const */
            int32_t v;
            if (!wasm__rd_s32(&c->r, &v) ||
                !push_const(c, WASM_I32, (uint32_t)v))
                return false;
            break;
        }
        case 0x42: { /* i64.const */
            int64_t v;
            if (!wasm__rd_s64(&c->r, &v) ||
                !push_const(c, WASM_I64, (uint64_t)v))
                return false;
            break;
        }
        case 0x43: { /* f32.const */
            const uint8_t *p;
            uint32_t v;
            if (!wasm__rd_bytes(&c->r, 4, &p))
                return false;
            memcpy(&v, p, 4);
            if (!push_const(c, WASM_F32, v))
                return false;
            break;
        }
        case 0x44: { /* f64.const */
            const uint8_t *p;
            uint64_t v;
            if (!wasm__rd_bytes(&c->r, 8, &p))
                return false;
            memcpy(&v, p, 8);
            if (!push_const(c, WASM_F64, v))
                return false;
            break;
        }
#define UN_CASE(name, opc_, ta, tr, ca, cr, e)                                 \
    case opc_:                                                                 \
        if (!unop(c, OP_##name, VT(ta), VT(tr)))                               \
            return false;                                                      \
        break;
            WASM_UNOPS(UN_CASE)
#undef UN_CASE
#define BIN_CASE(name, opc_, ta, tr, ca, cr, e)                                \
    case opc_:                                                                 \
        if (!binop(c, OP_##name, VT(ta), VT(tr)))                              \
            return false;                                                      \
        break;
            WASM_BINOPS(BIN_CASE)
#undef BIN_CASE
#define RETYPE_CASE(name, opc_, ta, tr)                                        \
    case opc_:                                                                 \
        if (!pop(c, VT(ta), NULL, &pos))                                       \
            return false;                                                      \
        c->nvs++;                                                              \
        c->vs[pos].type = VT(tr);                                              \
        c->last_valid = c->last_valid && c->last_pos == pos;                   \
        break;
            WASM_RETYPE_OPS(RETYPE_CASE)
#undef RETYPE_CASE
        case 0xd0: /* ref.null */
            if (!wasm__rd_reftype(&c->r, &t1) || !push_const(c, t1, 0))
                return false;
            break;
        case 0xd1: /* ref.is_null */
            if (!pop(c, VT_UNKNOWN, &t1, &pos))
                return false;
            if (t1 != VT_UNKNOWN && !wasm__is_reftype(t1))
                return FAIL(c, "type mismatch: ref.is_null of a non-reference");
            if (live(c)) {
                uint32_t src;
                if (!operand(c, pos, &src))
                    return false;
                size_t at = emit(c, OP_REF_IS_NULL, 1);
                if (at == SIZE_MAX)
                    return false;
                c->code[at + 1].s.a = home_off(c, pos);
                c->code[at + 1].s.b = src;
                if (!push(c, WASM_I32))
                    return false;
                note_result(c, at, pos);
            } else if (!push(c, WASM_I32)) {
                return false;
            }
            break;
        case 0xd2: /* ref.func */
            if (!wasm__rd_u32(&c->r, &a))
                return false;
            if (a >= c->m->nfuncs)
                return FAIL(c, "unknown function %u", a);
            if (!c->m->func_declared[a])
                return FAIL(c, "undeclared function reference %u", a);
            if (!produce(c, OP_REF_FUNC, WASM_FUNCREF, a))
                return false;
            break;
        case 0xfc:
            if (!prefixed(c))
                return false;
            break;
        default:
            c->r.p--;
            return wasm__rd_fail(&c->r, SHOAL_EMALFORMED,
                                 "illegal opcode 0x%02x", opc),
                   false;
        }
        (void)b;
    }
    if (c->r.p != c->r.end)
        return wasm__rd_fail(&c->r, SHOAL_EMALFORMED,
                             "section size mismatch: code after the end of "
                             "the function"),
               false;
    return true;
}

shoal_err wasm__compile_func(wasm_module *m, uint32_t defined_index,
                             shoal_errinfo *ei)
{
    uint32_t fi = m->nimported_funcs + defined_index;
    cfunc *cf = &m->cfuncs[defined_index];
    cf->type = &m->types[m->func_type[fi]];
    comp c = {.m = m, .cf = cf, .H = wasm__handlers(),
              .metering = m->metering};
    c.r = (reader){.p = cf->body, .end = cf->body + cf->body_len,
                   .base = m->bytes, .ei = ei};
    shoal_err err = SHOAL_OK;
    c.nlt = cf->type->nparams + cf->nlocals;
    c.local_types = malloc(c.nlt ? c.nlt : 1);
    if (c.local_types == NULL) {
        err = shoal_errinfo_set(ei, SHOAL_ENOMEM, cf->body_offset,
                                "out of memory");
        goto out;
    }
    memcpy(c.local_types, cf->type->types, cf->type->nparams);
    if (cf->nlocals)
        memcpy(c.local_types + cf->type->nparams, cf->local_types,
               cf->nlocals);
    if (!compile_body(&c)) {
        err = c.r.err;
        if (ei && err != SHOAL_ENOMEM) {
            char tmp[sizeof ei->msg];
            memcpy(tmp, ei->msg, sizeof tmp);
            tmp[200] = '\0'; /* room for the prefix */
            snprintf(ei->msg, sizeof ei->msg, "function %u: %.200s", fi, tmp);
        }
        goto out;
    }
    cf->code = c.code;
    cf->ncode = c.ncode;
    c.code = NULL;
    uint64_t slots = (uint64_t)c.nlt + c.max_height;
    if (slots < cf->type->nresults)
        slots = cf->type->nresults;
    cf->frame_slots = (uint32_t)slots;
    cf->entry_cost = m->metering ? (c.ninstr_flat ? c.ninstr_flat : 1) : 0;
    cf->narrow_results = 0;
    for (uint32_t i = 0; i < cf->type->nresults && i < 64; i++) {
        uint8_t vt = cf->type->types[cf->type->nparams + i];
        if (vt == WASM_I32 || vt == WASM_F32)
            cf->narrow_results |= (uint64_t)1 << i;
    }
out:
    free(c.code);
    free(c.vs);
    free(c.cs);
    free(c.fx);
    free(c.local_types);
    return err;
}
