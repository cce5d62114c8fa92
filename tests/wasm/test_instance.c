/* Tests of instance.c: store limits, memory growth and residency, linking
 * imports, segments and the start function. */
#include "wasm_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024u * 1024u)

static wasm_store *store_with(uint32_t pages, uint32_t table_elems)
{
    wasm_limits lim;
    wasm_limits_default(&lim);
    lim.max_memory_pages = pages;
    lim.max_table_elems = table_elems;
    wasm_store *s = wasm_store_new(&lim);
    assert_non_null(s);
    return s;
}

static shoal_err try_instantiate(wasm_store *s, wasm_module *m,
                                 const wasm_extern *imports, uint32_t n,
                                 shoal_errinfo *ei)
{
    wasm_instance *inst = (wasm_instance *)1;
    memset(ei, 0, sizeof *ei);
    shoal_err err = wasm_instantiate(s, m, imports, n, &inst, ei);
    if (err) {
        assert_null(inst);
        assert_true(ei->msg[0] != '\0');
    }
    return err;
}

/* ---- limits ---- */

static void test_memory_min_over_limit(void **state)
{
    (void)state;
    wasm_module *m = wt_load("limits", false); /* 32 pages, 100 elements */
    shoal_errinfo ei;

    wasm_store *s = store_with(16, 1000);
    assert_int_equal(try_instantiate(s, m, NULL, 0, &ei), SHOAL_ELIMIT);
    assert_non_null(strstr(ei.msg, "memory"));
    wasm_store_delete(s);

    s = store_with(1000, 50);
    assert_int_equal(try_instantiate(s, m, NULL, 0, &ei), SHOAL_ELIMIT);
    assert_non_null(strstr(ei.msg, "table"));
    wasm_store_delete(s);

    /* Exactly at the limits it fits. */
    s = store_with(32, 100);
    assert_int_equal(try_instantiate(s, m, NULL, 0, &ei), SHOAL_OK);
    wasm_store_delete(s);

    /* Host objects obey the same caps. */
    s = store_with(16, 50);
    assert_null(wasm_memory_new(s, 17, false, 0));
    assert_non_null(wasm_memory_new(s, 16, false, 0));
    assert_null(wasm_table_new(s, WASM_FUNCREF, 51, false, 0));
    assert_non_null(wasm_table_new(s, WASM_FUNCREF, 50, false, 0));
    wasm_store_delete(s);
    wasm_module_unref(m);
}

static void test_memory_grow_limit(void **state)
{
    (void)state;
    wasm_module *m = wt_load("memory", false); /* 1 page, no maximum */
    wasm_store *s = store_with(4, 1000);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    wasm_func *grow = wt_func(inst, "grow");
    wasm_func *size = wt_func(inst, "size");
    wasm_memory *mem = wasm_instance_memory(inst);
    assert_non_null(mem);

    uint64_t delta = 2;
    assert_int_equal(wt_call(x, grow, &delta, 1), 1);
    assert_int_equal(wt_call(x, size, NULL, 0), 3);
    delta = 2; /* to 5 pages: over the store's cap of 4 */
    assert_int_equal(wt_call(x, grow, &delta, 1), 0xffffffffu);
    assert_int_equal(wt_call(x, size, NULL, 0), 3);
    delta = 0xffffffffu;
    assert_int_equal(wt_call(x, grow, &delta, 1), 0xffffffffu);
    delta = 1;
    assert_int_equal(wt_call(x, grow, &delta, 1), 3);
    assert_int_equal(wt_call(x, grow, &delta, 1), 0xffffffffu);
    delta = 0;
    assert_int_equal(wt_call(x, grow, &delta, 1), 4);
    assert_int_equal(wasm_memory_size(mem), 4 * WASM_PAGE_SIZE);
    assert_int_equal(wasm_memory_grow(mem, 1), -1);

    /* The new pages are zeroed and usable up to the last byte. */
    uint64_t args[2] = {4 * WASM_PAGE_SIZE - 1, 0xab};
    wt_call(x, wt_func(inst, "store8"), args, 2);
    assert_int_equal(wasm_memory_data(mem)[4 * WASM_PAGE_SIZE - 1], 0xab);
    assert_int_equal(wt_call(x, wt_func(inst, "load8"), args, 1), 0xab);
    args[0] = 3 * WASM_PAGE_SIZE;
    assert_int_equal(wt_call(x, wt_func(inst, "load8"), args, 1), 0);
    args[0] = 4 * WASM_PAGE_SIZE;
    assert_int_equal(wt_call_trap(x, wt_func(inst, "load8"), args, 1),
                     WASM_TRAP_MEMORY_OOB);
    wasm_exec_delete(x);
    wasm_store_delete(s);

    /* A host memory with its own maximum below the store's. */
    s = store_with(100, 1000);
    mem = wasm_memory_new(s, 1, true, 3);
    assert_non_null(mem);
    assert_int_equal(wasm_memory_grow(mem, 2), 1);
    assert_int_equal(wasm_memory_grow(mem, 1), -1);
    assert_int_equal(wasm_memory_size(mem), 3 * WASM_PAGE_SIZE);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* ---- residency ---- */

static long page_size(void)
{
    return sysconf(_SC_PAGESIZE);
}

/* Resident bytes of [p, p + len), by mincore(). */
static size_t resident_bytes(const uint8_t *p, size_t len)
{
    long ps = page_size();
    size_t npages = (len + (size_t)ps - 1) / (size_t)ps;
    unsigned char *vec = malloc(npages);
    assert_non_null(vec);
    assert_int_equal(mincore((void *)(uintptr_t)p, len, vec), 0);
    size_t n = 0;
    for (size_t i = 0; i < npages; i++)
        n += vec[i] & 1;
    free(vec);
    return n * (size_t)ps;
}

/* Resident bytes of the whole process, from /proc/self/statm. */
static size_t process_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long size, resident;
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)page_size();
}

static void test_untouched_memory_is_not_resident(void **state)
{
    (void)state;
    wasm_module *m = wt_load("big_memory", false); /* 256 MiB, max 1 GiB */
    size_t rss_before = process_rss();
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_memory *mem = wasm_instance_memory(inst);
    assert_int_equal(wasm_memory_size(mem), 256 * MIB);
    uint8_t *data = wasm_memory_data(mem);

    size_t rss_empty = process_rss();
    assert_true(resident_bytes(data, 256 * MIB) < 1 * MIB);
    assert_true(rss_empty < rss_before + 16 * MIB);

    /* Touch 64 MiB from Wasm: that much becomes resident, no more. */
    wasm_exec *x = wasm_exec_new(s);
    uint64_t args[2] = {32 * MIB, 64 * MIB};
    wt_call(x, wt_func(inst, "touch"), args, 2);
    size_t touched = resident_bytes(data, 256 * MIB);
    assert_true(touched >= 64 * MIB);
    assert_true(touched < 70 * MIB); /* huge pages may round up */
    assert_true(process_rss() >= rss_empty + 60 * MIB);
    assert_true(resident_bytes(data, 32 * MIB) < 4 * MIB);

    /* Growing to the 1 GiB maximum costs nothing resident either. */
    uint64_t delta = 16384 - 4096;
    assert_int_equal(wt_call(x, wt_func(inst, "grow"), &delta, 1), 4096);
    assert_int_equal(wasm_memory_size(mem), 1024 * MIB);
    assert_true(wasm_memory_data(mem) == data); /* memory never moves */
    assert_true(resident_bytes(data + 256 * MIB, 768 * MIB) < 1 * MIB);
    args[0] = 1024 * MIB - 4096;
    args[1] = 4096;
    wt_call(x, wt_func(inst, "touch"), args, 2);
    delta = 1;
    assert_int_equal(wt_call(x, wt_func(inst, "grow"), &delta, 1), 0xffffffffu);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* ---- linking ---- */

static wasm_host_status host_inc(wasm_exec *x, void *env, uint64_t *slots)
{
    (void)x;
    (void)env;
    slots[0] = (uint32_t)slots[0] + 1;
    return WASM_HOST_OK;
}

typedef struct link_objs {
    wasm_func *f;
    wasm_memory *mem;
    wasm_table *tab;
    wasm_global *g, *gm;
} link_objs;

static void make_link_objs(wasm_store *s, link_objs *o)
{
    static const wasm_valtype i32[] = {WASM_I32};
    o->f = wasm_func_new_host(s, i32, 1, i32, 1, host_inc, NULL);
    o->mem = wasm_memory_new(s, 1, true, 2);
    o->tab = wasm_table_new(s, WASM_FUNCREF, 2, false, 0);
    o->g = wasm_global_new(s, WASM_I32, false, 1234);
    o->gm = wasm_global_new(s, WASM_I64, true, 10);
    assert_non_null(o->f);
    assert_non_null(o->mem);
    assert_non_null(o->tab);
    assert_non_null(o->g);
    assert_non_null(o->gm);
}

static void fill_imports(const link_objs *o, wasm_extern ext[5])
{
    ext[0] = (wasm_extern){.kind = WASM_EXTERN_FUNC, .u.func = o->f};
    ext[1] = (wasm_extern){.kind = WASM_EXTERN_MEMORY, .u.memory = o->mem};
    ext[2] = (wasm_extern){.kind = WASM_EXTERN_TABLE, .u.table = o->tab};
    ext[3] = (wasm_extern){.kind = WASM_EXTERN_GLOBAL, .u.global = o->g};
    ext[4] = (wasm_extern){.kind = WASM_EXTERN_GLOBAL, .u.global = o->gm};
}

static void test_link_imports(void **state)
{
    (void)state;
    wasm_module *m = wt_load("link", true);
    assert_int_equal(wasm_module_num_imports(m), 5);
    static const struct {
        const char *name;
        wasm_extern_kind kind;
    } want[] = {{"f", WASM_EXTERN_FUNC},
                {"mem", WASM_EXTERN_MEMORY},
                {"tab", WASM_EXTERN_TABLE},
                {"g", WASM_EXTERN_GLOBAL},
                {"gm", WASM_EXTERN_GLOBAL}};
    for (uint32_t i = 0; i < 5; i++) {
        wasm_import_desc d;
        wasm_module_import(m, i, &d);
        assert_int_equal(d.module_len, 3);
        assert_memory_equal(d.module, "env", 3);
        assert_int_equal(d.name_len, strlen(want[i].name));
        assert_memory_equal(d.name, want[i].name, d.name_len);
        assert_int_equal(d.kind, want[i].kind);
        assert_true((d.functype != NULL) == (d.kind == WASM_EXTERN_FUNC));
    }
    wasm_import_desc d;
    wasm_module_import(m, 0, &d);
    assert_int_equal(wasm_functype_num_params(d.functype), 1);
    assert_int_equal(wasm_functype_param(d.functype, 0), WASM_I32);
    assert_int_equal(wasm_functype_num_results(d.functype), 1);
    assert_int_equal(wasm_functype_result(d.functype, 0), WASM_I32);

    wasm_store *s = wasm_store_new(NULL);
    link_objs o;
    make_link_objs(s, &o);
    wasm_extern ext[5];
    fill_imports(&o, ext);
    wasm_instance *inst = wt_instantiate(s, m, ext, 5);

    /* Segments went into the imported table and memory. */
    assert_memory_equal(wasm_memory_data(o.mem) + 100, "shoal", 5);
    assert_true(wasm_instance_memory(inst) == o.mem);
    wasm_exec *x = wasm_exec_new(s);
    uint64_t arg = 20;
    assert_int_equal(wt_call(x, wt_func(inst, "via_table"), &arg, 1), 42);
    /* Globals: the imported value flows into an initialiser, and writes to
     * the mutable import are shared with the host object. */
    wasm_extern copy = wasm_instance_export(inst, "copy", 4);
    assert_int_equal(copy.kind, WASM_EXTERN_GLOBAL);
    assert_int_equal(wasm_global_get(copy.u.global), 1234);
    assert_int_equal(wasm_global_type(copy.u.global), WASM_I32);
    assert_int_equal(wt_call(x, wt_func(inst, "bump"), NULL, 0), 11);
    assert_int_equal(wt_call(x, wt_func(inst, "bump"), NULL, 0), 12);
    assert_int_equal(wasm_global_get(o.gm), 12);
    assert_int_equal(wasm_instance_export(inst, "nope", 4).kind,
                     WASM_EXTERN_NONE);
    assert_null(wasm_instance_start(inst));
    assert_true(wasm_instance_module(inst) == m);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

static void test_link_errors(void **state)
{
    (void)state;
    wasm_module *m = wt_load("link", false);
    wasm_store *s = wasm_store_new(NULL);
    link_objs o;
    make_link_objs(s, &o);
    wasm_extern ext[5];
    shoal_errinfo ei;
    static const wasm_valtype i64[] = {WASM_I64};

    fill_imports(&o, ext);
    assert_int_equal(try_instantiate(s, m, ext, 4, &ei), SHOAL_EUNLINKABLE);

    /* A missing import. */
    ext[2] = (wasm_extern){.kind = WASM_EXTERN_NONE};
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);
    assert_non_null(strstr(ei.msg, "tab"));

    /* Wrong kind. */
    fill_imports(&o, ext);
    ext[0] = ext[3];
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);

    /* Wrong function signature. */
    fill_imports(&o, ext);
    ext[0].u.func = wasm_func_new_host(s, i64, 1, i64, 1, host_inc, NULL);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);
    assert_non_null(strstr(ei.msg, "\"f\""));

    /* A memory without a maximum, where the import demands one of 2. */
    fill_imports(&o, ext);
    ext[1].u.memory = wasm_memory_new(s, 1, false, 0);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);
    /* A memory too small. */
    ext[1].u.memory = wasm_memory_new(s, 0, true, 2);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);

    /* A table of the wrong element type, then one too small. */
    fill_imports(&o, ext);
    ext[2].u.table = wasm_table_new(s, WASM_EXTERNREF, 2, false, 0);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);
    ext[2].u.table = wasm_table_new(s, WASM_FUNCREF, 1, false, 0);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);

    /* Globals of the wrong type or mutability. */
    fill_imports(&o, ext);
    ext[3].u.global = wasm_global_new(s, WASM_I64, false, 0);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);
    fill_imports(&o, ext);
    ext[4].u.global = wasm_global_new(s, WASM_I64, false, 0);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_EUNLINKABLE);

    /* And the right ones still link afterwards. */
    fill_imports(&o, ext);
    assert_int_equal(try_instantiate(s, m, ext, 5, &ei), SHOAL_OK);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

static void test_start_and_segments(void **state)
{
    (void)state;
    wasm_module *m = wt_load("start", true);
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    wasm_func *start = wasm_instance_start(inst);
    assert_non_null(start);
    /* Instantiation does not run it; the embedder does. */
    assert_int_equal(wt_call(x, wt_func(inst, "ran"), NULL, 0), 0);
    wt_call(x, start, NULL, 0);
    assert_int_equal(wt_call(x, wt_func(inst, "ran"), NULL, 0), 1);
    wasm_exec_delete(x);
    wasm_module_unref(m);

    /* An out-of-bounds data segment makes instantiation trap. */
    m = wt_load("data_oob", false);
    shoal_errinfo ei;
    assert_int_equal(try_instantiate(s, m, NULL, 0, &ei), SHOAL_ETRAP);
    assert_non_null(strstr(ei.msg, "out of bounds"));
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* A module outlives its own reference while instances use it. */
static void test_module_refcount(void **state)
{
    (void)state;
    wasm_module *m = wt_load("memory", false);
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *a = wt_instantiate(s, m, NULL, 0);
    wasm_instance *b = wt_instantiate(s, wasm_module_ref(m), NULL, 0);
    wasm_module_unref(m);
    wasm_module_unref(m);
    wasm_exec *x = wasm_exec_new(s);
    uint64_t args[2] = {7, 99};
    wt_call(x, wt_func(a, "store8"), args, 2);
    /* Two instances, two memories. */
    assert_int_equal(wt_call(x, wt_func(a, "load8"), args, 1), 99);
    assert_int_equal(wt_call(x, wt_func(b, "load8"), args, 1), 0);
    wasm_exec_delete(x);
    wasm_store_delete(s);
}

static void test_store_defaults(void **state)
{
    (void)state;
    wasm_limits lim;
    wasm_limits_default(&lim);
    assert_int_equal(lim.max_memory_pages, 65536);
    assert_int_equal(lim.max_table_elems, 10000000);
    assert_int_equal(lim.stack_slots, 1u << 20);
    assert_int_equal(lim.max_call_depth, 20000);
    wasm_store_delete(NULL);
    /* Host objects report what they were made with. */
    wasm_store *s = wasm_store_new(NULL);
    wasm_global *g = wasm_global_new(s, WASM_I32, false, 0x1ffffffffull);
    assert_int_equal(wasm_global_get(g), 0xffffffffu);
    wasm_table *t = wasm_table_new(s, WASM_FUNCREF, 5, true, 10);
    assert_int_equal(wasm_table_size(t), 5);
    wasm_memory *mem = wasm_memory_new(s, 0, true, 0);
    assert_non_null(mem);
    assert_int_equal(wasm_memory_size(mem), 0);
    assert_int_equal(wasm_memory_grow(mem, 0), 0);
    assert_int_equal(wasm_memory_grow(mem, 1), -1);
    wasm_store_delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_min_over_limit),
        cmocka_unit_test(test_memory_grow_limit),
        cmocka_unit_test(test_untouched_memory_is_not_resident),
        cmocka_unit_test(test_link_imports),
        cmocka_unit_test(test_link_errors),
        cmocka_unit_test(test_start_and_segments),
        cmocka_unit_test(test_module_refcount),
        cmocka_unit_test(test_store_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
