/* Shoal's WebAssembly engine: the public interface.
 *
 * Pipeline: wasm_module_load() decodes, validates and compiles a binary
 * module once into internal code that every instance shares. A wasm_store
 * owns everything instantiated from modules (instances, functions, memories,
 * tables, globals) and frees it all at once. A wasm_exec runs Wasm functions
 * with all its state (value stack, call frames, program counter) in its own
 * structure, so a run can stop on fuel or inside a host call and resume later,
 * on any thread.
 *
 * Values cross this interface as uint64_t bit patterns: i32 and f32 in the low
 * 32 bits, i64 and f64 in all 64, a funcref as a wasm_func pointer, an
 * externref as an embedder-chosen non-zero word. The null reference is 0.
 *
 * Threads: a module is immutable after loading and may be shared by any
 * number of threads. A store and everything in it, and the wasm_exec objects
 * made for it, must be used by one thread at a time.
 */
#ifndef SHOAL_WASM_H
#define SHOAL_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

typedef struct wasm_module wasm_module;
typedef struct wasm_store wasm_store;
typedef struct wasm_instance wasm_instance;
typedef struct wasm_func wasm_func;
typedef struct wasm_memory wasm_memory;
typedef struct wasm_table wasm_table;
typedef struct wasm_global wasm_global;
typedef struct wasm_exec wasm_exec;
typedef struct wasm_functype wasm_functype;

/* Value types, with their binary encodings. */
typedef enum wasm_valtype {
    WASM_I32 = 0x7f,
    WASM_I64 = 0x7e,
    WASM_F32 = 0x7d,
    WASM_F64 = 0x7c,
    WASM_FUNCREF = 0x70,
    WASM_EXTERNREF = 0x6f,
} wasm_valtype;

typedef enum wasm_extern_kind {
    WASM_EXTERN_FUNC = 0,
    WASM_EXTERN_TABLE = 1,
    WASM_EXTERN_MEMORY = 2,
    WASM_EXTERN_GLOBAL = 3,
    WASM_EXTERN_NONE = 0xff, /* "no such export" */
} wasm_extern_kind;

/* Something an instance imports or exports. */
typedef struct wasm_extern {
    wasm_extern_kind kind;
    union {
        wasm_func *func;
        wasm_table *table;
        wasm_memory *memory;
        wasm_global *global;
    } u;
} wasm_extern;

#define WASM_PAGE_SIZE 65536u
#define WASM_MAX_PAGES 65536u

/* ---- Modules ---------------------------------------------------------- */

typedef struct wasm_load_options {
    /* Compile fuel charges into the code (function entries, loop
     * back-edges). Without it the code is a little faster and
     * wasm_exec_run never stops for fuel. */
    bool metering;
} wasm_load_options;

/* Decodes, validates and compiles a binary module. bytes are copied; the
 * caller keeps them. On SHOAL_OK *out holds a module with one reference.
 * Errors: SHOAL_EMALFORMED (cannot be decoded), SHOAL_EINVALID (fails
 * validation), SHOAL_ENOMEM; ei gets the byte offset and the reason. */
shoal_err wasm_module_load(const uint8_t *bytes, size_t len,
                           const wasm_load_options *opts, wasm_module **out,
                           shoal_errinfo *ei);
/* Reference counting: a module lives while an instance or a holder uses it. */
wasm_module *wasm_module_ref(wasm_module *m);
void wasm_module_unref(wasm_module *m);

/* Imports, in the order wasm_instantiate expects them. */
uint32_t wasm_module_num_imports(const wasm_module *m);
typedef struct wasm_import_desc {
    const char *module; /* not NUL-terminated; may contain NUL */
    uint32_t module_len;
    const char *name;
    uint32_t name_len;
    wasm_extern_kind kind;
    const wasm_functype *functype; /* for a function import */
} wasm_import_desc;
void wasm_module_import(const wasm_module *m, uint32_t i, wasm_import_desc *out);

uint32_t wasm_module_num_exports(const wasm_module *m);
void wasm_module_export(const wasm_module *m, uint32_t i, const char **name,
                        uint32_t *name_len, wasm_extern_kind *kind);

/* ---- Function types --------------------------------------------------- */

/* The text-format name of a value type ("i32", "funcref", ...), or "?". */
const char *wasm_valtype_name(wasm_valtype t);

uint32_t wasm_functype_num_params(const wasm_functype *t);
uint32_t wasm_functype_num_results(const wasm_functype *t);
wasm_valtype wasm_functype_param(const wasm_functype *t, uint32_t i);
wasm_valtype wasm_functype_result(const wasm_functype *t, uint32_t i);

/* ---- Stores and limits ------------------------------------------------ */

typedef struct wasm_limits {
    uint32_t max_memory_pages; /* cap for every memory of the store */
    uint32_t max_table_elems;  /* cap for every table of the store */
    uint32_t stack_slots;      /* value stack of each wasm_exec, 8 bytes each */
    uint32_t max_call_depth;   /* Wasm call frames of each wasm_exec */
} wasm_limits;

/* The defaults: 65536 pages, 10,000,000 table elements, 1 Mi stack slots,
 * 20,000 frames. */
void wasm_limits_default(wasm_limits *l);

/* Where a store's linear memories come from. The default reserves each
 * memory's maximum as its own PROT_NONE mapping and opens pages as it grows.
 * An embedder that hosts very many instances (actors) supplies its own, for
 * example carving memories out of large shared arenas, since the kernel
 * limits how many mappings a process may have.
 *
 * A provider may reserve less than a memory's maximum. When the memory
 * grows past its reservation, the engine reserves again for the new size,
 * copies the memory over and releases the old reservation: the memory's
 * data moves (wasm_memory_data changes), which is why a host function must
 * not keep a pointer into memory across anything that may grow it. */
typedef struct wasm_memory_provider {
    /* Address space for a memory that needs min_bytes now and may grow to
     * max_bytes (multiples of WASM_PAGE_SIZE, 0 < min_bytes <= max_bytes):
     * sets *reserved_bytes to how much was reserved, at least min_bytes and
     * at most max_bytes, and returns its base; or NULL. Nothing in it needs
     * to be accessible yet. */
    void *(*reserve)(void *ctx, size_t min_bytes, size_t max_bytes,
                     size_t *reserved_bytes);
    /* Makes [old_bytes, new_bytes) of a reservation readable, writable and
     * zero-filled (new_bytes at most what was reserved); false when it
     * cannot. */
    bool (*commit)(void *ctx, void *base, size_t old_bytes, size_t new_bytes);
    /* Gives a reservation of reserved_bytes back (committed_bytes of it were
     * committed). */
    void (*release)(void *ctx, void *base, size_t reserved_bytes,
                    size_t committed_bytes);
    void *ctx;
} wasm_memory_provider;

/* A store with limits (NULL: the defaults). NULL when out of memory. */
wasm_store *wasm_store_new(const wasm_limits *limits);
/* Replaces the memory provider (copied) for memories made afterwards. */
void wasm_store_set_memory_provider(wasm_store *s,
                                    const wasm_memory_provider *p);
/* Frees the store and everything made in it. */
void wasm_store_delete(wasm_store *s);

/* A store made in memory the caller provides, for an embedder that makes
 * very many instances (actors): the store itself and then the objects made
 * in it (the instance and its arrays and functions, the records of its
 * memories, tables and globals) and the execs made on it (with their first
 * stack and frames) are carved from block while it has room, so that an
 * instance takes one allocation and sits in adjacent memory; whatever does
 * not fit is allocated as usual. block must be 16-byte aligned and outlive
 * the store; wasm_store_delete leaves it to the caller, who may make
 * another store in it afterwards (execs made on the store are deleted
 * first). NULL when block is misaligned or too small for the store. */
wasm_store *wasm_store_new_in(const wasm_limits *limits, void *block,
                              size_t bytes);
/* Bytes a store made by wasm_store_new_in asked of its block so far,
 * whether they fitted or not: a block that size, aligned alike (the engine
 * starts a few objects on a cache line), holds all of it (0 for a store of
 * wasm_store_new). Instances of one module ask the same, so the first
 * tells the size for the next. */
size_t wasm_store_block_wanted(const wasm_store *s);

/* ---- Host objects ----------------------------------------------------- */

typedef enum wasm_host_status {
    WASM_HOST_OK = 0,  /* results written to slots */
    WASM_HOST_TRAP,    /* the call traps; see wasm_exec_set_host_trap */
    WASM_HOST_SUSPEND, /* the run stops; wasm_exec_complete_host resumes it */
} wasm_host_status;

/* A host function. slots holds the arguments on entry (slot i = argument i;
 * an i32 or f32 argument is in the low 32 bits and the high bits are
 * undefined, so read it as (uint32_t)slots[i]) and receives the results
 * (slot i = result i) before WASM_HOST_OK. The same
 * slots stay valid after WASM_HOST_SUSPEND until wasm_exec_complete_host. */
typedef wasm_host_status (*wasm_host_fn)(wasm_exec *x, void *env,
                                         uint64_t *slots);

/* A host function of type params -> results, owned by the store. NULL when
 * out of memory. */
wasm_func *wasm_func_new_host(wasm_store *s, const wasm_valtype *params,
                              uint32_t nparams, const wasm_valtype *results,
                              uint32_t nresults, wasm_host_fn fn, void *env);
/* A memory of min pages growing to max pages (has_max false: the store's
 * cap), zero-filled. NULL when out of memory or min exceeds the cap. */
wasm_memory *wasm_memory_new(wasm_store *s, uint32_t min, bool has_max,
                             uint32_t max);
/* A table of elemtype (WASM_FUNCREF or WASM_EXTERNREF) with min null
 * elements. */
wasm_table *wasm_table_new(wasm_store *s, wasm_valtype elemtype, uint32_t min,
                           bool has_max, uint32_t max);
wasm_global *wasm_global_new(wasm_store *s, wasm_valtype type, bool mutable_,
                             uint64_t value);

const wasm_functype *wasm_func_type(const wasm_func *f);
/* The memory's bytes (NULL while it has none). Valid until the memory
 * grows, which may move it (see wasm_memory_provider). */
uint8_t *wasm_memory_data(const wasm_memory *mem);
uint64_t wasm_memory_size(const wasm_memory *mem); /* bytes */
/* Grows by delta pages; returns the old size in pages, or -1 (the memory
 * is then unchanged). */
int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta);
uint32_t wasm_table_size(const wasm_table *t);
uint64_t wasm_global_get(const wasm_global *g);
wasm_valtype wasm_global_type(const wasm_global *g);

/* ---- Instances -------------------------------------------------------- */

/* Links m against imports (one per import, in import order), allocates its
 * memories, tables and globals in s, and applies its active element and data
 * segments. The start function is not run: see wasm_instance_start.
 * Errors: SHOAL_EUNLINKABLE (an import is missing or of an incompatible
 * type), SHOAL_ETRAP (a segment is out of bounds), SHOAL_ELIMIT (a memory or
 * table exceeds the store's limits), SHOAL_ENOMEM. On error nothing of the
 * instance remains, though segments applied before a trapping one stay
 * written to imported tables and memories, as the specification says. */
shoal_err wasm_instantiate(wasm_store *s, wasm_module *m,
                           const wasm_extern *imports, uint32_t nimports,
                           wasm_instance **out, shoal_errinfo *ei);
/* The module's start function, or NULL. The embedder runs it to finish
 * instantiation. */
wasm_func *wasm_instance_start(const wasm_instance *inst);
/* The export called name (len bytes), or kind WASM_EXTERN_NONE. */
wasm_extern wasm_instance_export(const wasm_instance *inst, const char *name,
                                 size_t len);
/* The module's export number i (wasm_module_export's order), or kind
 * WASM_EXTERN_NONE when there is none: a lookup by name done once per
 * module serves every instance. */
wasm_extern wasm_instance_export_at(const wasm_instance *inst, uint32_t i);
wasm_memory *wasm_instance_memory(const wasm_instance *inst); /* or NULL */
wasm_module *wasm_instance_module(const wasm_instance *inst);

/* ---- Execution -------------------------------------------------------- */

typedef enum wasm_status {
    WASM_DONE = 0,     /* the call returned; see wasm_exec_results */
    WASM_OUT_OF_FUEL,  /* stopped at a fuel check; set fuel and run again */
    WASM_SUSPENDED,    /* a host function suspended; complete it, run again */
    WASM_TRAPPED,      /* see wasm_exec_trap */
} wasm_status;

#define WASM_TRAP_MAP(X)                                                       \
    X(NONE, "no trap")                                                         \
    X(UNREACHABLE, "unreachable executed")                                     \
    X(DIV_ZERO, "integer divide by zero")                                      \
    X(INT_OVERFLOW, "integer overflow")                                        \
    X(INVALID_CONVERSION, "invalid conversion to integer")                     \
    X(MEMORY_OOB, "out of bounds memory access")                               \
    X(TABLE_OOB, "out of bounds table access")                                 \
    X(UNDEFINED_ELEMENT, "undefined element")                                  \
    X(UNINITIALIZED_ELEMENT, "uninitialized element")                          \
    X(INDIRECT_CALL_MISMATCH, "indirect call type mismatch")                   \
    X(CALL_STACK_EXHAUSTED, "call stack exhausted")                            \
    X(HOST, "host function trapped")                                           \
    X(EXIT, "program exited")

typedef enum wasm_trap {
#define WASM_TRAP_ENUM(name, msg) WASM_TRAP_##name,
    WASM_TRAP_MAP(WASM_TRAP_ENUM)
#undef WASM_TRAP_ENUM
} wasm_trap;

const char *wasm_trap_message(wasm_trap t);

/* An execution context for functions of store s, with the store's stack
 * limits. NULL when out of memory. */
wasm_exec *wasm_exec_new(wasm_store *s);
void wasm_exec_delete(wasm_exec *x);

/* Prepares a call of f with nargs arguments (which must match its type).
 * Nothing runs until wasm_exec_run. Errors: SHOAL_EINVAL (argument count),
 * SHOAL_ESTATE (a call is already under way and not finished),
 * SHOAL_ELIMIT (f's frame does not fit the store's stack limits). */
shoal_err wasm_exec_call(wasm_exec *x, wasm_func *f, const uint64_t *args,
                         uint32_t nargs);
/* Abandons a call under way (out of fuel or suspended): its Wasm frames are
 * dropped, and the exec can start a new call. Memory, tables and globals
 * keep whatever the abandoned call wrote. Does nothing when no call is
 * under way. */
void wasm_exec_abort(wasm_exec *x);

/* Runs the prepared call until it returns, traps, suspends in a host call or
 * (with metering) runs out of fuel. After WASM_OUT_OF_FUEL, set more fuel and
 * call again: it continues exactly where it stopped. */
wasm_status wasm_exec_run(wasm_exec *x);

/* Fuel. The balance is charged at function entries and loop back-edges; a
 * run stops at the first check that leaves it below zero (so the balance can
 * end slightly negative). Charges are deterministic: a given call uses the
 * same total fuel however it is sliced. */
void wasm_exec_set_fuel(wasm_exec *x, int64_t fuel);
int64_t wasm_exec_fuel(const wasm_exec *x);
/* Total fuel charged since the exec was made. */
uint64_t wasm_exec_fuel_used(const wasm_exec *x);

/* After WASM_DONE: the results of the call (valid until the next call). */
const uint64_t *wasm_exec_results(const wasm_exec *x, uint32_t *nresults);
/* After WASM_TRAPPED: what trapped, and for WASM_TRAP_HOST/EXIT the detail. */
wasm_trap wasm_exec_trap(const wasm_exec *x);
const char *wasm_exec_trap_detail(const wasm_exec *x);
int32_t wasm_exec_exit_code(const wasm_exec *x);

/* For host functions: make the current call trap with a message (copied),
 * or exit the whole run with an exit code (WASM_TRAP_EXIT). The host
 * function then returns WASM_HOST_TRAP. */
void wasm_exec_set_host_trap(wasm_exec *x, const char *msg);
void wasm_exec_set_exit(wasm_exec *x, int32_t code);
/* For host functions: the memory of the instance whose code made the call
 * (NULL if it has none). */
wasm_memory *wasm_exec_caller_memory(const wasm_exec *x);
/* For host functions: the bytes [ptr, ptr + len) of that memory, or NULL
 * when they are not all inside it (a memory of 0 bytes, or none, holds only
 * the empty range, for which this returns a non-NULL pointer to nothing).
 * Valid until the memory grows. */
uint8_t *wasm_exec_caller_bytes(const wasm_exec *x, uint32_t ptr, uint32_t len);

/* After WASM_SUSPENDED: deliver the results of the suspended host call
 * (nresults of its type); the next wasm_exec_run continues after it. */
shoal_err wasm_exec_complete_host(wasm_exec *x, const uint64_t *results,
                                  uint32_t nresults);

/* The embedder's pointer, e.g. the actor that owns the exec. */
void wasm_exec_set_userdata(wasm_exec *x, void *p);
void *wasm_exec_userdata(const wasm_exec *x);

#endif
