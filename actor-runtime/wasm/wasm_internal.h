/* Private to actor-runtime/wasm: the structures behind wasm.h, shared by
 * decode.c -> validate.c -> compile.c -> interp.c and instance.c. */
#ifndef SHOAL_WASM_INTERNAL_H
#define SHOAL_WASM_INTERNAL_H

#include <stdatomic.h>
#include <string.h>

#include "wasm.h"

#define WASM_MAX_FUNCS 1000000u
#define WASM_MAX_LOCALS 50000u
#define WASM_MAX_TYPES 1000000u
#define WASM_MAX_PARAMS 1000u

/* Value type of the validator: a wasm_valtype, or "unknown" in unreachable
 * code (the spec's bottom type). */
#define VT_UNKNOWN 0

static inline bool wasm__is_numtype(uint8_t t)
{
    return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 || t == WASM_F64;
}
static inline bool wasm__is_reftype(uint8_t t)
{
    return t == WASM_FUNCREF || t == WASM_EXTERNREF;
}

struct wasm_functype {
    uint32_t nparams, nresults;
    uint8_t *types; /* params, then results */
};

static inline bool wasm__functype_eq(const wasm_functype *a,
                                     const wasm_functype *b)
{
    return a == b ||
           (a->nparams == b->nparams && a->nresults == b->nresults &&
            memcmp(a->types, b->types, a->nparams + a->nresults) == 0);
}

typedef struct wasm_limits_decl {
    uint32_t min, max;
    bool has_max;
} wasm_limits_decl;

typedef struct tabletype {
    uint8_t elemtype;
    wasm_limits_decl lim;
} tabletype;

typedef struct globaltype {
    uint8_t type;
    bool mut;
} globaltype;

/* A constant expression, as used by global initialisers and segment
 * offsets and items. */
typedef enum constexpr_kind {
    CONST_VALUE,  /* value */
    CONST_GLOBAL, /* global.get index */
    CONST_FUNC,   /* ref.func index */
    CONST_NULL,   /* ref.null */
} constexpr_kind;

typedef struct constexpr {
    constexpr_kind kind;
    uint8_t type; /* the type it produces */
    uint32_t index;
    uint64_t value;
} constexpr;

typedef struct import {
    const char *module, *name; /* point into the module's byte copy */
    uint32_t module_len, name_len;
    uint8_t kind;
    uint32_t index; /* into funcs/tables/mems/globals of its kind */
} import;

typedef struct export {
    const char *name;
    uint32_t name_len;
    uint8_t kind;
    uint32_t index;
} export;

typedef enum segment_mode {
    SEG_ACTIVE,
    SEG_PASSIVE,
    SEG_DECLARATIVE,
} segment_mode;

typedef struct elem_segment {
    segment_mode mode;
    uint8_t elemtype;
    uint32_t table;
    constexpr offset;
    uint32_t count;
    constexpr *items;
} elem_segment;

typedef struct data_segment {
    segment_mode mode;
    uint32_t memory;
    constexpr offset;
    const uint8_t *bytes;
    uint32_t len;
} data_segment;

/* One cell of internal code: a handler address or an immediate. */
typedef union cell {
    const void *h;
    uint64_t u64;
    int64_t i64;
    struct {
        uint32_t a, b;
    } s;
} cell;

/* A defined function compiled to internal code. */
typedef struct cfunc {
    const wasm_functype *type;
    const uint8_t *body; /* the function body in the module bytes */
    uint32_t body_len;
    size_t body_offset; /* for error messages */
    uint8_t *local_types; /* declared locals after the params */
    uint32_t nlocals;     /* declared locals, not counting params */
    uint32_t frame_slots; /* params + locals + operand stack */
    uint32_t entry_cost;  /* fuel charged on entry (0 without metering) */
    /* Bit i set: result i (of the first 64) is an i32 or f32, whose slot's
     * high half the interpreter may leave dirty. */
    uint64_t narrow_results;
    cell *code;
    size_t ncode;
} cfunc;

struct wasm_module {
    atomic_int refs;
    uint8_t *bytes;
    size_t len;
    bool metering;

    uint32_t ntypes;
    wasm_functype *types;

    uint32_t nimports;
    import *imports;

    uint32_t nfuncs, nimported_funcs; /* counts include imports */
    uint32_t *func_type;              /* type index of every function */
    cfunc *cfuncs;                    /* nfuncs - nimported_funcs */

    uint32_t ntables, nimported_tables;
    tabletype *tables;
    uint32_t nmems, nimported_mems;
    wasm_limits_decl *mems;
    uint32_t nglobals, nimported_globals;
    globaltype *globals;
    constexpr *global_init; /* for defined globals, index - nimported */

    uint32_t nexports;
    export *exports;

    bool has_start;
    uint32_t start;

    uint32_t nelems;
    elem_segment *elems;
    uint32_t ndatas;
    data_segment *datas;
    bool has_datacount;
    uint32_t datacount;

    uint8_t *func_declared; /* nfuncs flags: may be used by ref.func */
};

/* ---- runtime objects ---- */

/* 32 bytes: an instance's own functions sit in an array that starts a
 * cache line (in a store's block), so none straddles two; a call into one
 * reads them all. */
struct wasm_func {
    const wasm_functype *type;
    wasm_instance *inst; /* NULL for a host function */
    wasm_host_fn host;   /* NULL for a Wasm function */
    union {
        const cfunc *cf; /* a Wasm function's code */
        void *env;       /* a host function's argument */
    };
};

struct wasm_memory {
    uint8_t *data;
    uint64_t size;  /* bytes */
    uint32_t pages; /* current */
    uint32_t max_pages;
    bool has_max;    /* declared with a maximum */
    size_t reserved; /* bytes of address space */
    wasm_memory_provider memp; /* the one it was made with */
};

struct wasm_table {
    uint64_t *elems;
    uint32_t size, max, cap;
    uint8_t elemtype;
    bool has_max; /* declared with a maximum */
};

struct wasm_global {
    uint64_t value;
    uint8_t type;
    bool mut;
};

/* What the interpreter reads on every message an actor takes comes first:
 * an instance's own memory 0 (the usual case) is a record inside it rather
 * than an object of its own, so entering the code reaches the memory's base
 * and size without another cache line. */
struct wasm_instance {
    wasm_module *m;
    wasm_func **funcs;
    wasm_global **globals;
    wasm_func *own_funcs;
    wasm_memory *mem0; /* mems[0], own_mem0 or no_memory: never NULL */
    wasm_memory own_mem0; /* memory 0 when the module defines it */
    wasm_store *s;
    wasm_table **tables;
    wasm_memory **mems;
    wasm_global *own_globals; /* the module's own globals, in one array */
    uint8_t *elem_dropped;
    uint8_t *data_dropped;
    wasm_memory no_memory;
};

/* Allocation list of a store: everything is freed with it. */
typedef struct store_obj store_obj;

struct wasm_store {
    wasm_limits limits;
    wasm_memory_provider memp;
    store_obj *objs;
    /* The caller's block (wasm_store_new_in), carved from block_next on;
     * all NULL for a store of wasm_store_new. */
    uint8_t *block, *block_next, *block_end;
    size_t block_wanted; /* bytes asked of the block, fitting or not */
    bool self_in_block;  /* the store itself sits in its block */
};

typedef struct frame {
    const cell *ip;
    uint64_t *fp;
    wasm_func *func;
} frame;

typedef enum exec_state {
    EXEC_IDLE,
    EXEC_READY, /* a call is prepared or can continue */
    EXEC_SUSPENDED,
    EXEC_DONE,
    EXEC_TRAPPED,
} exec_state;

/* The fields a call and a run touch come first, in two cache lines, so
 * that an exec that starts a call after thousands of others (an actor
 * taking a message) misses the cache on as few lines as possible; its first
 * frame records and stack slots follow it in the store's block. The trap
 * message, written only when a host function traps, is a buffer apart,
 * allocated then. */
#define WASM_TRAP_DETAIL_MAX 200
struct wasm_exec {
    exec_state state;
    uint32_t depth;
    uint32_t frames_cap, max_depth; /* a Wasm call checks the first */
    frame *frames;   /* grows on demand up to max_depth */
    uint64_t *stack; /* grows on demand up to max_slots */
    uint64_t *stack_end;

    /* Saved registers of a stopped run. */
    const cell *ip;
    uint64_t *fp;
    wasm_func *func;
    int64_t fuel;

    uint64_t fuel_used;
    wasm_func *entry;   /* the called function */
    bool entry_pending; /* its entry fuel is not charged yet */
    bool has_detail;    /* trap_detail holds this call's trap message */
    uint32_t nresults;
    wasm_trap trap;
    int32_t exit_code;
    void *userdata;
    uint64_t *host_slots; /* of a suspended host call */
    wasm_func *host_func;

    /* The rest, on a line of its own: read when a stack grows, a trap is
     * described or the exec is freed. */
    wasm_store *s;
    size_t max_slots;
    char *trap_detail; /* WASM_TRAP_DETAIL_MAX bytes, or NULL until used */
    /* Which parts were carved from the store's block (and are not freed). */
    bool self_in_block, stack_in_block, frames_in_block;
};

/* ---- shared helpers ---- */

/* decode.c */
shoal_err wasm__decode(wasm_module *m, shoal_errinfo *ei);
void wasm__module_free_parts(wasm_module *m);

/* validate.c: module-level checks after decoding. */
shoal_err wasm__validate(wasm_module *m, shoal_errinfo *ei);

/* compile.c: validates and compiles one function body. */
shoal_err wasm__compile_func(wasm_module *m, uint32_t defined_index,
                             shoal_errinfo *ei);

/* interp.c */
/* The handler address table of the interpreter, indexed by internal op. */
const void *const *wasm__handlers(void);

/* interp.c: make room for `need` slots from *fp_slot (a pointer into the
 * stack, relocated along with the stack) and one more frame record. false
 * when a limit is reached or memory runs out. */
bool wasm__exec_reserve(wasm_exec *x, uint64_t **fp_slot, uint64_t **other,
                        size_t need);

/* instance.c */
/* size zeroed bytes, 16-byte aligned, from s's block while it has room,
 * else from calloc; *in_block (may be NULL) says which. NULL when out of
 * memory. */
void *wasm__store_zalloc(wasm_store *s, size_t size, bool *in_block);
/* Makes the next wasm__store_zalloc from s's block start lead bytes before
 * a cache line (lead a multiple of 16, below 64), so that an object whose
 * hot fields fit in a line or two touches no more. The padding counts in
 * wasm_store_block_wanted, so the figure holds for blocks aligned alike
 * (the actor runtime's all start a cache line); another block may find
 * its last objects allocated apart. */
void wasm__store_align_line(wasm_store *s, size_t lead);
int64_t wasm__memory_grow(wasm_memory *mem, uint32_t delta);
int64_t wasm__table_grow(wasm_table *t, uint32_t delta, uint64_t init);

/* Evaluates a constant expression in an instance being built. */
uint64_t wasm__eval_const(const wasm_instance *inst, const constexpr *c);

#endif
