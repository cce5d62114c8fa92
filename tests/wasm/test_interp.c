/* Tests of interp.c: execution, fuel and resumption, host calls and
 * suspension, traps and the stack limits. */
#include "wasm_test.h"

#include <stdlib.h>
#include <string.h>

#define PROGRAM_MAIN 0xe59b1b13d6be4e6dull /* see wat/program.wat */

/* ---- fuel and resumption ---- */

/* An endless loop stops on fuel and resumes, slice after slice, making
 * progress every time. */
static void test_infinite_loop_resumes(void **state)
{
    (void)state;
    wasm_module *m = wt_load("loop", true);
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    wasm_exec *probe = wasm_exec_new(s);

    assert_int_equal(wasm_exec_call(x, wt_func(inst, "spin"), NULL, 0),
                     SHOAL_OK);
    uint64_t used = wasm_exec_fuel_used(x);
    uint64_t ticks = 0;
    for (int slice = 0; slice < 5000; slice++) {
        wasm_exec_set_fuel(x, 100);
        assert_int_equal(wasm_exec_run(x), WASM_OUT_OF_FUEL);
        assert_true(wasm_exec_fuel(x) < 0);
        assert_true(wasm_exec_fuel_used(x) > used);
        assert_true(wasm_exec_fuel_used(x) - used >= 100);
        used = wasm_exec_fuel_used(x);
        if (slice % 500 == 499) {
            /* The loop's counter keeps moving between slices. */
            uint64_t now = wt_call(probe, wt_func(inst, "ticks"), NULL, 0);
            assert_true(now > ticks);
            ticks = now;
        }
    }
    assert_true(ticks >= 5000);
    /* Still mid-call: a new call must wait. */
    assert_int_equal(wasm_exec_call(x, wt_func(inst, "ticks"), NULL, 0),
                     SHOAL_ESTATE);
    /* Abandoned, the exec takes a new call, and the loop's counter (a
     * global it wrote) keeps what the abandoned call left there. */
    wasm_exec_abort(x);
    wasm_exec_set_fuel(x, 1000);
    assert_int_equal(wasm_exec_call(x, wt_func(inst, "ticks"), NULL, 0),
                     SHOAL_OK);
    assert_int_equal(wasm_exec_run(x), WASM_DONE);
    uint32_t n;
    const uint64_t *r = wasm_exec_results(x, &n);
    assert_int_equal(n, 1);
    assert_true(r[0] >= ticks);
    wasm_exec_abort(x); /* no call under way: nothing to do */

    /* The bare `loop br 0` too. */
    wasm_exec *bare = wasm_exec_new(s);
    assert_int_equal(wasm_exec_call(bare, wt_func(inst, "spin_bare"), NULL, 0),
                     SHOAL_OK);
    used = 0;
    for (int slice = 0; slice < 5000; slice++) {
        wasm_exec_set_fuel(bare, 7);
        assert_int_equal(wasm_exec_run(bare), WASM_OUT_OF_FUEL);
        assert_true(wasm_exec_fuel_used(bare) > used);
        used = wasm_exec_fuel_used(bare);
    }
    assert_true(used >= 5000 * 7);

    wasm_exec_delete(bare);
    wasm_exec_delete(probe);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* With no fuel at all, a metered call stops before doing anything and
 * resumes cleanly once fuel is given. */
static void test_zero_fuel_stops_at_entry(void **state)
{
    (void)state;
    wasm_module *m = wt_load("program", true);
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    uint64_t n = 10;
    assert_int_equal(wasm_exec_call(x, wt_func(inst, "fib"), &n, 1), SHOAL_OK);
    for (int i = 0; i < 3; i++) {
        wasm_exec_set_fuel(x, 0);
        assert_int_equal(wasm_exec_run(x), WASM_OUT_OF_FUEL);
    }
    wasm_exec_set_fuel(x, 1000000);
    assert_int_equal(wasm_exec_run(x), WASM_DONE);
    uint32_t nr;
    const uint64_t *r = wasm_exec_results(x, &nr);
    assert_int_equal(nr, 1);
    assert_int_equal(r[0], 55);
    /* Running a finished call again changes nothing. */
    assert_int_equal(wasm_exec_run(x), WASM_DONE);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

typedef struct sliced {
    uint64_t result;
    uint64_t fuel_used;
    uint64_t slices;
} sliced;

/* Runs export `name` of program.wasm in a fresh store, giving `slice`
 * units of fuel at a time. */
static sliced run_sliced(wasm_module *m, const char *name, const uint64_t *args,
                         uint32_t nargs, int64_t slice)
{
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    sliced out = {0};
    assert_int_equal(wasm_exec_call(x, wt_func(inst, name), args, nargs),
                     SHOAL_OK);
    wasm_status st;
    do {
        wasm_exec_set_fuel(x, slice);
        st = wasm_exec_run(x);
        out.slices++;
    } while (st == WASM_OUT_OF_FUEL);
    assert_int_equal(st, WASM_DONE);
    uint32_t nr;
    const uint64_t *r = wasm_exec_results(x, &nr);
    assert_int_equal(nr, 1);
    out.result = r[0];
    out.fuel_used = wasm_exec_fuel_used(x);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    return out;
}

/* The same program gives the same result and uses the same fuel however
 * finely it is sliced. */
static void test_slicing_is_deterministic(void **state)
{
    (void)state;
    wasm_module *m = wt_load("program", true);
    const int64_t slices[] = {1, 7, 1000, INT64_MAX / 4};
    sliced runs[4];
    for (int i = 0; i < 4; i++) {
        runs[i] = run_sliced(m, "main", NULL, 0, slices[i]);
        assert_int_equal(runs[i].result, PROGRAM_MAIN);
        assert_int_equal(runs[i].fuel_used, runs[0].fuel_used);
    }
    /* A slice of 1 stops at nearly every check; the huge one never. */
    assert_int_equal(runs[3].slices, 1);
    assert_true(runs[2].slices > 1);
    assert_true(runs[0].slices > runs[1].slices);
    assert_true(runs[1].slices > runs[2].slices);
    assert_true(runs[0].fuel_used > 10000);

    /* Each part on its own, too. */
    const struct {
        const char *name;
        uint64_t arg, want;
    } parts[] = {
        {"fib", 20, 6765},
        {"sum", 1000, 332840500},
        {"dispatch", 3000, 0x96e59b1b},
    };
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        sliced whole =
            run_sliced(m, parts[p].name, &parts[p].arg, 1, INT64_MAX / 4);
        assert_int_equal(whole.result, parts[p].want);
        for (int i = 0; i < 3; i++) {
            sliced cut =
                run_sliced(m, parts[p].name, &parts[p].arg, 1, slices[i]);
            assert_int_equal(cut.result, whole.result);
            assert_int_equal(cut.fuel_used, whole.fuel_used);
        }
    }
    wasm_module_unref(m);

    /* Without metering: same answer, no fuel, never stops. */
    wasm_module *plain = wt_load("program", false);
    sliced p = run_sliced(plain, "main", NULL, 0, 1);
    assert_int_equal(p.result, PROGRAM_MAIN);
    assert_int_equal(p.fuel_used, 0);
    assert_int_equal(p.slices, 1);
    wasm_module_unref(plain);
}

/* Fuel charged by consecutive calls on one exec adds up. */
static void test_fuel_used_accumulates(void **state)
{
    (void)state;
    wasm_module *m = wt_load("program", true);
    sliced once = run_sliced(m, "main", NULL, 0, INT64_MAX / 4);
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(wt_call(x, wt_func(inst, "main"), NULL, 0),
                         PROGRAM_MAIN);
        assert_int_equal(wasm_exec_fuel_used(x), i * once.fuel_used);
    }
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* ---- host functions ---- */

typedef struct host_env {
    wasm_exec *x;
    int add_calls;
    int waits;
    uint32_t wait_arg; /* argument of the pending wait */
    bool exec_ok;      /* every call saw the exec it was given */
    bool bytes_ok;     /* wasm_exec_caller_bytes agreed with the memory */
} host_env;

/* wasm_exec_caller_bytes against the caller's memory (or none). */
static bool caller_bytes_agree(wasm_exec *x)
{
    wasm_memory *mem = wasm_exec_caller_memory(x);
    if (mem == NULL)
        return wasm_exec_caller_bytes(x, 0, 0) != NULL &&
               wasm_exec_caller_bytes(x, 0, 1) == NULL;
    uint8_t *data = wasm_memory_data(mem);
    uint32_t size = (uint32_t)wasm_memory_size(mem);
    return wasm_exec_caller_bytes(x, 16, 4) == data + 16 &&
           wasm_exec_caller_bytes(x, size - 4, 4) == data + size - 4 &&
           wasm_exec_caller_bytes(x, size - 3, 4) == NULL &&
           wasm_exec_caller_bytes(x, size, 0) == data + size &&
           wasm_exec_caller_bytes(x, size, 1) == NULL &&
           wasm_exec_caller_bytes(x, UINT32_MAX, 2) == NULL;
}

static wasm_host_status host_add(wasm_exec *x, void *env, uint64_t *slots)
{
    host_env *h = env;
    h->add_calls++;
    if (!caller_bytes_agree(x))
        h->bytes_ok = false;
    uint32_t sum = (uint32_t)slots[0] + (uint32_t)slots[1];
    /* Leave a copy in the caller's memory, at byte 16. */
    wasm_memory *mem = wasm_exec_caller_memory(x);
    if (mem)
        memcpy(wasm_memory_data(mem) + 16, &sum, 4);
    slots[0] = sum;
    return WASM_HOST_OK;
}

static wasm_host_status host_fail(wasm_exec *x, void *env, uint64_t *slots)
{
    (void)env;
    (void)slots;
    wasm_exec_set_host_trap(x, "the disk is on fire");
    return WASM_HOST_TRAP;
}

static wasm_host_status host_wait(wasm_exec *x, void *env, uint64_t *slots)
{
    host_env *h = env;
    if (h->x && h->x != x)
        h->exec_ok = false;
    h->waits++;
    h->wait_arg = (uint32_t)slots[0];
    return WASM_HOST_SUSPEND;
}

static wasm_host_status host_exit(wasm_exec *x, void *env, uint64_t *slots)
{
    (void)env;
    wasm_exec_set_exit(x, (int32_t)slots[0]);
    return WASM_HOST_TRAP;
}

static wasm_host_status host_grow(wasm_exec *x, void *env, uint64_t *slots)
{
    (void)env;
    wasm_memory *mem = wasm_exec_caller_memory(x);
    slots[0] = (uint32_t)wasm_memory_grow(mem, (uint32_t)slots[0]);
    return WASM_HOST_OK;
}

#define HOST_IMPORTS 5

typedef struct host_fixture {
    wasm_module *m;
    wasm_store *s;
    wasm_instance *inst;
    wasm_exec *x;
    wasm_func *imports[HOST_IMPORTS];
    host_env env;
} host_fixture;

static void host_setup(host_fixture *f, bool metering)
{
    static const wasm_valtype i32x2[] = {WASM_I32, WASM_I32};
    memset(f, 0, sizeof *f);
    f->env.exec_ok = true;
    f->env.bytes_ok = true;
    f->m = wt_load("host", metering);
    f->s = wasm_store_new(NULL);
    f->imports[0] =
        wasm_func_new_host(f->s, i32x2, 2, i32x2, 1, host_add, &f->env);
    f->imports[1] =
        wasm_func_new_host(f->s, NULL, 0, NULL, 0, host_fail, &f->env);
    f->imports[2] =
        wasm_func_new_host(f->s, i32x2, 1, i32x2, 1, host_wait, &f->env);
    f->imports[3] =
        wasm_func_new_host(f->s, i32x2, 1, NULL, 0, host_exit, &f->env);
    f->imports[4] =
        wasm_func_new_host(f->s, i32x2, 1, i32x2, 1, host_grow, &f->env);
    wasm_extern ext[HOST_IMPORTS];
    for (int i = 0; i < HOST_IMPORTS; i++) {
        assert_non_null(f->imports[i]);
        ext[i] =
            (wasm_extern){.kind = WASM_EXTERN_FUNC, .u.func = f->imports[i]};
    }
    f->inst = wt_instantiate(f->s, f->m, ext, HOST_IMPORTS);
    f->x = wasm_exec_new(f->s);
    f->env.x = f->x;
}

static void host_teardown(host_fixture *f)
{
    assert_true(f->env.exec_ok);
    assert_true(f->env.bytes_ok);
    wasm_exec_delete(f->x);
    wasm_store_delete(f->s);
    wasm_module_unref(f->m);
}

static void test_host_returns_results(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, false);
    uint64_t args[2] = {30, 12};
    assert_int_equal(wt_call(f.x, wt_func(f.inst, "call_add"), args, 2), 84);
    assert_int_equal(f.env.add_calls, 1);
    /* The host wrote to the caller's memory. */
    uint64_t at = 16;
    assert_int_equal(wt_call(f.x, wt_func(f.inst, "load"), &at, 1), 42);
    /* Wrapping arithmetic on the i32 halves only. */
    args[0] = 0xffffffffu;
    args[1] = 2;
    assert_int_equal(wt_call(f.x, wt_func(f.inst, "call_add"), args, 2), 2);

    /* A host function called directly, without Wasm around it. */
    args[0] = 5;
    args[1] = 6;
    assert_int_equal(wt_call(f.x, f.imports[0], args, 2), 11);
    assert_int_equal(f.env.add_calls, 3);
    host_teardown(&f);
}

static void test_host_trap(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, true);
    assert_int_equal(wt_call_trap(f.x, wt_func(f.inst, "call_fail"), NULL, 0),
                     WASM_TRAP_HOST);
    assert_non_null(strstr(wasm_exec_trap_detail(f.x), "the disk is on fire"));
    assert_int_equal(wasm_exec_run(f.x), WASM_TRAPPED);
    /* The exec takes a new call after the trap. */
    uint64_t args[2] = {1, 2};
    assert_int_equal(wt_call(f.x, wt_func(f.inst, "call_add"), args, 2), 6);
    assert_int_equal(wasm_exec_trap(f.x), WASM_TRAP_NONE);
    /* And directly. */
    assert_int_equal(wt_call_trap(f.x, f.imports[1], NULL, 0), WASM_TRAP_HOST);
    assert_non_null(strstr(wasm_exec_trap_detail(f.x), "on fire"));
    host_teardown(&f);
}

static void test_host_suspends_and_completes(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, true);
    wasm_func *call_wait = wt_func(f.inst, "call_wait");
    uint64_t arg = 9;
    assert_int_equal(wasm_exec_call(f.x, call_wait, &arg, 1), SHOAL_OK);
    wasm_exec_set_fuel(f.x, 1000000);
    assert_int_equal(wasm_exec_run(f.x), WASM_SUSPENDED);
    assert_int_equal(f.env.waits, 1);
    assert_int_equal(f.env.wait_arg, 9);

    /* Until completed, the call stays suspended. */
    assert_int_equal(wasm_exec_run(f.x), WASM_SUSPENDED);
    assert_int_equal(f.env.waits, 1);
    assert_int_equal(wasm_exec_call(f.x, call_wait, &arg, 1), SHOAL_ESTATE);
    uint64_t two[2] = {1, 2};
    assert_int_equal(wasm_exec_complete_host(f.x, two, 2), SHOAL_EINVAL);

    /* Meanwhile another exec of the same store can run. */
    wasm_exec *other = wasm_exec_new(f.s);
    uint64_t args[2] = {2, 3};
    assert_int_equal(wt_call(other, wt_func(f.inst, "call_add"), args, 2), 10);
    wasm_exec_delete(other);

    uint64_t answer = 42;
    assert_int_equal(wasm_exec_complete_host(f.x, &answer, 1), SHOAL_OK);
    assert_int_equal(wasm_exec_complete_host(f.x, &answer, 1), SHOAL_ESTATE);
    assert_int_equal(wasm_exec_run(f.x), WASM_DONE);
    uint32_t nr;
    const uint64_t *r = wasm_exec_results(f.x, &nr);
    assert_int_equal(nr, 1);
    assert_int_equal(r[0], 1042);

    /* A host function called directly can suspend too. */
    assert_int_equal(wasm_exec_call(f.x, f.imports[2], &arg, 1), SHOAL_OK);
    assert_int_equal(wasm_exec_run(f.x), WASM_SUSPENDED);
    answer = 77;
    assert_int_equal(wasm_exec_complete_host(f.x, &answer, 1), SHOAL_OK);
    assert_int_equal(wasm_exec_run(f.x), WASM_DONE);
    r = wasm_exec_results(f.x, &nr);
    assert_int_equal(nr, 1);
    assert_int_equal(r[0], 77);
    host_teardown(&f);
}

/* A suspension at the bottom of a deep chain of Wasm calls resumes with the
 * whole chain intact. */
static void test_host_suspends_deep(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, false);
    const uint32_t depths[] = {0, 1, 200, 5000};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        uint64_t args[2] = {depths[i], 5};
        assert_int_equal(wasm_exec_call(f.x, wt_func(f.inst, "depth"), args, 2),
                         SHOAL_OK);
        assert_int_equal(wasm_exec_run(f.x), WASM_SUSPENDED);
        assert_int_equal(f.env.wait_arg, 5);
        uint64_t answer = 1000 + i;
        assert_int_equal(wasm_exec_complete_host(f.x, &answer, 1), SHOAL_OK);
        assert_int_equal(wasm_exec_run(f.x), WASM_DONE);
        uint32_t nr;
        const uint64_t *r = wasm_exec_results(f.x, &nr);
        assert_int_equal(nr, 1);
        uint64_t n = depths[i];
        assert_int_equal(r[0], 1000 + i + n * (n + 1) / 2);
    }
    host_teardown(&f);
}

/* Frames saved before a suspension survive the value stack growing after
 * it. */
static void test_stack_grows_after_resume(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, true);
    const uint32_t shapes[][2] = {{0, 0}, {3, 4000}, {300, 3000}, {2000, 10}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        uint64_t n = shapes[i][0], m = shapes[i][1];
        uint64_t args[3] = {n, m, 11};
        assert_int_equal(
            wasm_exec_call(f.x, wt_func(f.inst, "wait_then_recurse"), args, 3),
            SHOAL_OK);
        wasm_exec_set_fuel(f.x, INT64_MAX / 4);
        assert_int_equal(wasm_exec_run(f.x), WASM_SUSPENDED);
        assert_int_equal(f.env.wait_arg, 11);
        uint64_t answer = 7;
        assert_int_equal(wasm_exec_complete_host(f.x, &answer, 1), SHOAL_OK);
        assert_int_equal(wasm_exec_run(f.x), WASM_DONE);
        uint32_t nr;
        const uint64_t *r = wasm_exec_results(f.x, &nr);
        assert_int_equal(nr, 1);
        assert_int_equal(r[0], 7000 + m * (m + 1) / 2 + n * (n + 1) / 2);
    }
    host_teardown(&f);
}

typedef struct stops {
    uint64_t result, fuel_used;
    int out_of_fuel, suspended;
} stops;

/* Runs wait_loop(20), answering wait(i) with 3i, in fuel slices. */
static stops run_wait_loop(int64_t slice)
{
    host_fixture f;
    host_setup(&f, true);
    stops out = {0};
    uint64_t n = 20;
    assert_int_equal(wasm_exec_call(f.x, wt_func(f.inst, "wait_loop"), &n, 1),
                     SHOAL_OK);
    wasm_exec_set_fuel(f.x, slice);
    for (;;) {
        wasm_status st = wasm_exec_run(f.x);
        if (st == WASM_DONE)
            break;
        if (st == WASM_OUT_OF_FUEL) {
            out.out_of_fuel++;
            wasm_exec_set_fuel(f.x, slice);
            continue;
        }
        assert_int_equal(st, WASM_SUSPENDED);
        out.suspended++;
        uint64_t answer = 3 * (uint64_t)f.env.wait_arg;
        assert_int_equal(wasm_exec_complete_host(f.x, &answer, 1), SHOAL_OK);
    }
    uint32_t nr;
    out.result = wasm_exec_results(f.x, &nr)[0];
    assert_int_equal(nr, 1);
    out.fuel_used = wasm_exec_fuel_used(f.x);
    host_teardown(&f);
    return out;
}

static void test_host_suspend_with_fuel_slices(void **state)
{
    (void)state;
    stops whole = run_wait_loop(INT64_MAX / 4);
    assert_int_equal(whole.result, 20 * 50 + 3 * 190);
    assert_int_equal(whole.suspended, 20);
    assert_int_equal(whole.out_of_fuel, 0);
    const int64_t slices[] = {1, 13, 37, 500};
    for (size_t i = 0; i < sizeof slices / sizeof slices[0]; i++) {
        stops cut = run_wait_loop(slices[i]);
        assert_int_equal(cut.result, whole.result);
        assert_int_equal(cut.suspended, 20);
        assert_true(cut.out_of_fuel > 0);
        assert_int_equal(cut.fuel_used, whole.fuel_used);
    }
}

static void test_host_exit(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, true);
    uint64_t code = 7;
    assert_int_equal(wt_call_trap(f.x, wt_func(f.inst, "call_exit"), &code, 1),
                     WASM_TRAP_EXIT);
    assert_int_equal(wasm_exec_exit_code(f.x), 7);
    assert_non_null(strstr(wasm_exec_trap_detail(f.x), "7"));
    /* A later call starts clean. */
    uint64_t args[2] = {4, 4};
    assert_int_equal(wt_call(f.x, wt_func(f.inst, "call_add"), args, 2), 16);
    assert_int_equal(wasm_exec_exit_code(f.x), 0);
    code = (uint64_t)(uint32_t)-3;
    assert_int_equal(wt_call_trap(f.x, wt_func(f.inst, "call_exit"), &code, 1),
                     WASM_TRAP_EXIT);
    assert_int_equal(wasm_exec_exit_code(f.x), -3);
    host_teardown(&f);
}

/* Memory grown by a host function, or by the embedder while a call is
 * suspended, is usable by the Wasm code as soon as it continues. */
static void test_memory_grown_by_host(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, true);
    wasm_memory *mem = wasm_instance_memory(f.inst);
    assert_int_equal(wt_call(f.x, wt_func(f.inst, "grow_then_store"), NULL, 0),
                     77);
    assert_int_equal(wasm_memory_size(mem), 2 * WASM_PAGE_SIZE);

    assert_int_equal(
        wasm_exec_call(f.x, wt_func(f.inst, "wait_then_store"), NULL, 0),
        SHOAL_OK);
    wasm_exec_set_fuel(f.x, 1000000);
    assert_int_equal(wasm_exec_run(f.x), WASM_SUSPENDED);
    uint64_t old = (uint64_t)wasm_memory_grow(mem, 1);
    assert_int_equal(old, 2);
    assert_int_equal(wasm_exec_complete_host(f.x, &old, 1), SHOAL_OK);
    assert_int_equal(wasm_exec_run(f.x), WASM_DONE);
    uint32_t nr;
    assert_int_equal(wasm_exec_results(f.x, &nr)[0], 78);
    assert_int_equal(wasm_memory_data(mem)[2 * WASM_PAGE_SIZE + 8], 78);
    host_teardown(&f);
}

/* Exact fuel: a call given precisely the fuel it uses finishes with none
 * left; one unit less and it stops. */
static void test_fuel_boundary(void **state)
{
    (void)state;
    wasm_module *m = wt_load("program", true);
    uint64_t arg = 15;
    sliced whole = run_sliced(m, "fib", &arg, 1, INT64_MAX / 4);
    assert_int_equal(whole.result, 610);
    int64_t need = (int64_t)whole.fuel_used;

    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    wasm_func *fib = wt_func(inst, "fib");
    assert_int_equal(wasm_exec_call(x, fib, &arg, 1), SHOAL_OK);
    wasm_exec_set_fuel(x, need);
    assert_int_equal(wasm_exec_run(x), WASM_DONE);
    assert_int_equal(wasm_exec_fuel(x), 0);

    assert_int_equal(wasm_exec_call(x, fib, &arg, 1), SHOAL_OK);
    wasm_exec_set_fuel(x, need - 1);
    assert_int_equal(wasm_exec_run(x), WASM_OUT_OF_FUEL);
    /* It stopped at a check, a little below zero, and a pinch more fuel
     * finishes it. */
    int64_t left = wasm_exec_fuel(x);
    assert_true(left < 0);
    wasm_exec_set_fuel(x, 1 - left + 1000);
    assert_int_equal(wasm_exec_run(x), WASM_DONE);
    assert_int_equal(wasm_exec_fuel_used(x), 2 * whole.fuel_used);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* ---- values and calls between instances ---- */

static void test_values_and_results(void **state)
{
    (void)state;
    wasm_module *m = wt_load("values", false);
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    uint32_t nr;
    const uint64_t *r;

    /* Every type in, every type out, in reverse. The i32 and f32 arguments
     * carry junk in their high halves, which must not leak out. */
    uint64_t args[4] = {0xdead00000000002aull, 0x123456789abcdef0ull,
                        0xbeef00003fc00000ull, 0x400921fb54442d18ull};
    assert_int_equal(wasm_exec_call(x, wt_func(inst, "swap"), args, 4),
                     SHOAL_OK);
    assert_int_equal(wasm_exec_run(x), WASM_DONE);
    r = wasm_exec_results(x, &nr);
    assert_int_equal(nr, 4);
    assert_int_equal(r[0], 0x400921fb54442d18ull);
    assert_int_equal(r[1], 0x3fc00000u);
    assert_int_equal(r[2], 0x123456789abcdef0ull);
    assert_int_equal(r[3], 42);

    assert_int_equal(wasm_exec_call(x, wt_func(inst, "minus_one"), NULL, 0),
                     SHOAL_OK);
    assert_int_equal(wasm_exec_run(x), WASM_DONE);
    r = wasm_exec_results(x, &nr);
    assert_int_equal(nr, 3);
    assert_int_equal(r[0], 0xffffffffu); /* not sign-extended */
    assert_int_equal(r[1], UINT64_MAX);
    assert_int_equal(r[2], 0xbf000000u);

    uint64_t two[2] = {UINT64_MAX, 2};
    assert_int_equal(wt_call(x, wt_func(inst, "add64"), two, 2), 1);
    double a = 1.0, b = 8.0, q;
    memcpy(&two[0], &a, 8);
    memcpy(&two[1], &b, 8);
    uint64_t bits = wt_call(x, wt_func(inst, "fdiv"), two, 2);
    memcpy(&q, &bits, 8);
    assert_true(q == 0.125);

    const uint64_t picks[][2] = {{0, 100}, {1, 101}, {2, 102},
                                 {3, 199}, {4, 199}, {0xffffffffu, 199}};
    for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++)
        assert_int_equal(wt_call(x, wt_func(inst, "pick"), &picks[i][0], 1),
                         picks[i][1]);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* Calls from one instance into another switch memories both ways. */
static void test_calls_between_instances(void **state)
{
    (void)state;
    for (int metering = 0; metering < 2; metering++) {
        /* Only one of the two is metered: fuel is charged where it is. */
        wasm_module *ma = wt_load("cross_a", metering);
        wasm_module *mb = wt_load("cross_b", !metering);
        wasm_store *s = wasm_store_new(NULL);
        wasm_instance *a = wt_instantiate(s, ma, NULL, 0);
        wasm_extern ext[3] = {
            {.kind = WASM_EXTERN_FUNC, .u.func = wt_func(a, "store")},
            {.kind = WASM_EXTERN_FUNC, .u.func = wt_func(a, "load")},
            {.kind = WASM_EXTERN_FUNC, .u.func = wt_func(a, "grow")},
        };
        wasm_instance *b = wt_instantiate(s, mb, ext, 3);
        wasm_exec *x = wasm_exec_new(s);
        assert_int_equal(wt_call(x, wt_func(b, "mix"), NULL, 0), 507);
        assert_int_equal(wasm_memory_data(wasm_instance_memory(a))[16], 7);
        assert_int_equal(wasm_memory_data(wasm_instance_memory(b))[16], 5);
        assert_int_equal(
            wt_call_trap(x, wt_func(b, "grow_theirs_then_touch_mine"), NULL, 0),
            WASM_TRAP_MEMORY_OOB);
        /* The store into a's new pages happened before the trap. */
        assert_int_equal(wasm_memory_size(wasm_instance_memory(a)),
                         3 * WASM_PAGE_SIZE);
        assert_int_equal(wasm_memory_data(wasm_instance_memory(a))[131072], 9);
        /* Entry charges are compiled into the caller's call instruction,
         * so only a metered b is charged here (a has no loops). */
        if (!metering)
            assert_true(wasm_exec_fuel_used(x) > 0);
        wasm_exec_delete(x);
        wasm_store_delete(s);
        wasm_module_unref(ma);
        wasm_module_unref(mb);
    }
}

/* Bulk operations of length zero on a memory of zero pages are in bounds
 * (the memory's data pointer is NULL: nothing may be passed to memset or
 * memmove). Run under UBSan to see the difference. */
static void test_empty_memory(void **state)
{
    (void)state;
    wasm_module *m = wt_load("empty_memory", true);
    wasm_store *s = wasm_store_new(NULL);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    assert_int_equal(wasm_memory_size(wasm_instance_memory(inst)), 0);
    wt_call(x, wt_func(inst, "fill"), NULL, 0);
    wt_call(x, wt_func(inst, "copy"), NULL, 0);
    wt_call(x, wt_func(inst, "init"), NULL, 0);
    assert_int_equal(wt_call_trap(x, wt_func(inst, "fill_one"), NULL, 0),
                     WASM_TRAP_MEMORY_OOB);
    assert_int_equal(wt_call(x, wt_func(inst, "grow"), NULL, 0), 0xffffffffu);
    assert_int_equal(wt_call(x, wt_func(inst, "size"), NULL, 0), 0);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

/* ---- memories that move ---- */

/* A memory provider that reserves exactly what a memory needs, so that
 * every growth moves the memory, and overwrites what it releases, so that
 * code still using an old base reads garbage (and ASan reports it). */
typedef struct tight_provider {
    int reserves, releases;
    int refuse_after; /* reserve fails once this many were made (0: never) */
} tight_provider;

static void *tight_reserve(void *ctx, size_t min_bytes, size_t max_bytes,
                           size_t *reserved_bytes)
{
    tight_provider *t = ctx;
    assert_true(min_bytes > 0 && min_bytes <= max_bytes);
    if (t->refuse_after && t->reserves >= t->refuse_after)
        return NULL;
    void *p = calloc(1, min_bytes);
    assert_non_null(p);
    t->reserves++;
    *reserved_bytes = min_bytes;
    return p;
}

static bool tight_commit(void *ctx, void *base, size_t old_bytes,
                         size_t new_bytes)
{
    (void)ctx;
    (void)base;
    (void)old_bytes;
    (void)new_bytes;
    return true; /* calloc's bytes are zero already */
}

static void tight_release(void *ctx, void *base, size_t reserved_bytes,
                          size_t committed_bytes)
{
    tight_provider *t = ctx;
    assert_true(committed_bytes <= reserved_bytes);
    memset(base, 0xdd, reserved_bytes);
    free(base);
    t->releases++;
}

/* Growing by memory.grow, in a callee, in a host function and from the
 * embedder moves the memory each time; the code that grew it goes on with
 * the new base, the contents come along, and bounds are the new size's. */
static void test_memory_moves_when_it_grows(void **state)
{
    (void)state;
    static const wasm_valtype i32 = WASM_I32;
    tight_provider t = {0};
    wasm_memory_provider p = {.reserve = tight_reserve,
                              .commit = tight_commit,
                              .release = tight_release,
                              .ctx = &t};
    wasm_module *m = wt_load("moving", true);
    wasm_store *s = wasm_store_new(NULL);
    wasm_store_set_memory_provider(s, &p);
    wasm_extern grow = {.kind = WASM_EXTERN_FUNC,
                        .u.func = wasm_func_new_host(s, &i32, 1, &i32, 1,
                                                     host_grow, NULL)};
    wasm_instance *inst = wt_instantiate(s, m, &grow, 1);
    wasm_exec *x = wasm_exec_new(s);
    wasm_memory *mem = wasm_instance_memory(inst);
    assert_int_equal(t.reserves, 1);

    /* memory.grow here (0), in a callee (1), in the host (2). */
    for (uint64_t how = 0; how < 3; how++) {
        const uint8_t *before = wasm_memory_data(mem);
        uint64_t args[2] = {how, 1000 + how};
        assert_int_equal(wt_call(x, wt_func(inst, "grow_and_touch"), args, 2),
                         1099 + how);
        assert_ptr_not_equal(wasm_memory_data(mem), before);
        assert_int_equal(wasm_memory_size(mem), (2 + how) * WASM_PAGE_SIZE);
    }
    assert_int_equal(t.reserves, 4);
    assert_int_equal(t.releases, 3);

    /* Marks at both ends survive growth by the embedder; the last byte is
     * in bounds and the next traps. */
    wasm_func *load8 = wt_func(inst, "load8"), *store8 = wt_func(inst, "store8");
    uint64_t mark0[2] = {0, 0xa1}, mark1[2] = {4 * WASM_PAGE_SIZE - 1, 0xb2};
    wt_call(x, store8, mark0, 2);
    wt_call(x, store8, mark1, 2);
    for (uint32_t pages = 5; pages <= 8; pages++) {
        assert_int_equal(wasm_memory_grow(mem, 1), pages - 1);
        assert_int_equal(wt_call(x, load8, &mark0[0], 1), 0xa1);
        assert_int_equal(wt_call(x, load8, &mark1[0], 1), 0xb2);
        uint64_t last = (uint64_t)pages * WASM_PAGE_SIZE - 1, past = last + 1;
        assert_int_equal(wt_call(x, load8, &last, 1), 0);
        assert_int_equal(wt_call_trap(x, load8, &past, 1),
                         WASM_TRAP_MEMORY_OOB);
        uint64_t fill_all[3] = {0 + 1, 0, last}, fill_past[3] = {1, 0, last + 1};
        wt_call(x, wt_func(inst, "fill"), fill_all, 3);
        assert_int_equal(wt_call_trap(x, wt_func(inst, "fill"), fill_past, 3),
                         WASM_TRAP_MEMORY_OOB);
        wt_call(x, store8, mark1, 2); /* the fill cleared it */
    }

    /* When no larger reservation can be had, growth fails and the memory
     * stays where and as it was. */
    t.refuse_after = t.reserves;
    const uint8_t *at = wasm_memory_data(mem);
    uint64_t one = 1;
    assert_int_equal(wt_call(x, wt_func(inst, "grow"), &one, 1), 0xffffffffu);
    assert_int_equal(wasm_memory_grow(mem, 1), -1);
    assert_ptr_equal(wasm_memory_data(mem), at);
    assert_int_equal(wt_call(x, wt_func(inst, "size"), NULL, 0), 8);
    assert_int_equal(wt_call(x, load8, &mark0[0], 1), 0xa1);

    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
    assert_int_equal(t.releases, t.reserves);
}

static void test_exec_api_errors(void **state)
{
    (void)state;
    host_fixture f;
    host_setup(&f, false);
    wasm_func *add = wt_func(f.inst, "call_add");
    uint64_t args[3] = {1, 2, 3};
    assert_int_equal(wasm_exec_call(f.x, add, args, 1), SHOAL_EINVAL);
    assert_int_equal(wasm_exec_call(f.x, add, args, 3), SHOAL_EINVAL);
    /* complete_host with nothing suspended. */
    assert_int_equal(wasm_exec_complete_host(f.x, args, 1), SHOAL_ESTATE);
    int token;
    wasm_exec_set_userdata(f.x, &token);
    assert_ptr_equal(wasm_exec_userdata(f.x), &token);
    /* A prepared call that never ran can be neither replaced... */
    assert_int_equal(wasm_exec_call(f.x, add, args, 2), SHOAL_OK);
    assert_int_equal(wasm_exec_call(f.x, add, args, 2), SHOAL_ESTATE);
    /* ...nor left unfinished: it runs. */
    assert_int_equal(wasm_exec_run(f.x), WASM_DONE);
    uint32_t nr;
    assert_int_equal(wasm_exec_results(f.x, &nr)[0], 6);
    host_teardown(&f);
}

/* ---- traps ---- */

typedef struct trap_case {
    const char *name;
    uint32_t nargs;
    uint64_t arg;
    wasm_trap want;
} trap_case;

static void test_every_trap_kind(void **state)
{
    (void)state;
    static const trap_case cases[] = {
        {"unreachable", 0, 0, WASM_TRAP_UNREACHABLE},
        {"div_zero", 1, 0, WASM_TRAP_DIV_ZERO},
        {"rem_zero", 1, 0, WASM_TRAP_DIV_ZERO},
        {"int_overflow", 0, 0, WASM_TRAP_INT_OVERFLOW},
        {"trunc_overflow", 0, 0, WASM_TRAP_INT_OVERFLOW},
        {"invalid_conversion", 0, 0, WASM_TRAP_INVALID_CONVERSION},
        {"memory_oob", 1, 65533, WASM_TRAP_MEMORY_OOB},
        {"memory_oob", 1, 0xffffffffu, WASM_TRAP_MEMORY_OOB},
        {"memory_oob_store", 1, 65528, WASM_TRAP_MEMORY_OOB},
        {"table_oob", 1, 4, WASM_TRAP_TABLE_OOB},
        {"undefined_element", 1, 4, WASM_TRAP_UNDEFINED_ELEMENT},
        {"undefined_element", 1, 0x80000000u, WASM_TRAP_UNDEFINED_ELEMENT},
        {"uninitialized_element", 0, 0, WASM_TRAP_UNINITIALIZED_ELEMENT},
        {"indirect_mismatch", 0, 0, WASM_TRAP_INDIRECT_CALL_MISMATCH},
        {"recurse", 1, 0, WASM_TRAP_CALL_STACK_EXHAUSTED},
    };
    for (int metering = 0; metering < 2; metering++) {
        wasm_module *m = wt_load("traps", metering);
        wasm_store *s = wasm_store_new(NULL);
        wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
        wasm_exec *x = wasm_exec_new(s);
        wasm_func *ok = wt_func(inst, "ok");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const trap_case *c = &cases[i];
            wasm_trap got =
                wt_call_trap(x, wt_func(inst, c->name), &c->arg, c->nargs);
            if (got != c->want)
                fail_msg("%s(%llu): trap %s, expected %s", c->name,
                         (unsigned long long)c->arg, wasm_trap_message(got),
                         wasm_trap_message(c->want));
            assert_string_equal(wasm_exec_trap_detail(x),
                                wasm_trap_message(c->want));
            /* The same exec runs a new call after the trap. */
            assert_int_equal(wt_call(x, ok, NULL, 0), 42);
        }
        /* The near misses do not trap. */
        uint64_t arg = 65532;
        assert_int_equal(wt_call(x, wt_func(inst, "memory_oob"), &arg, 1), 0);
        arg = 65520;
        wt_call(x, wt_func(inst, "memory_oob_store"), &arg, 1);
        arg = 3;
        assert_int_equal(wt_call(x, wt_func(inst, "table_oob"), &arg, 1), 0);
        arg = 1;
        assert_int_equal(
            wt_call(x, wt_func(inst, "undefined_element"), &arg, 1), 42);
        wasm_exec_delete(x);
        wasm_store_delete(s);
        wasm_module_unref(m);
    }
}

static void test_trap_messages(void **state)
{
    (void)state;
    for (int t = WASM_TRAP_NONE; t <= WASM_TRAP_EXIT; t++) {
        const char *msg = wasm_trap_message((wasm_trap)t);
        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        for (int u = WASM_TRAP_NONE; u < t; u++)
            assert_string_not_equal(msg, wasm_trap_message((wasm_trap)u));
    }
}

/* Infinite recursion under small and default limits traps cleanly. */
static void test_call_depth_limit(void **state)
{
    (void)state;
    wasm_module *m = wt_load("traps", true);
    const uint32_t depth_limits[] = {1, 2, 100, 20000};
    for (size_t i = 0; i < sizeof depth_limits / sizeof depth_limits[0]; i++) {
        wasm_limits lim;
        wasm_limits_default(&lim);
        lim.max_call_depth = depth_limits[i];
        wasm_store *s = wasm_store_new(&lim);
        wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
        wasm_exec *x = wasm_exec_new(s);
        uint64_t zero = 0;
        assert_int_equal(wt_call_trap(x, wt_func(inst, "recurse"), &zero, 1),
                         WASM_TRAP_CALL_STACK_EXHAUSTED);
        /* In small fuel slices the recursion traps the same way. */
        assert_int_equal(wasm_exec_call(x, wt_func(inst, "recurse"), &zero, 1),
                         SHOAL_OK);
        wasm_status st;
        do {
            wasm_exec_set_fuel(x, 3);
            st = wasm_exec_run(x);
        } while (st == WASM_OUT_OF_FUEL);
        assert_int_equal(st, WASM_TRAPPED);
        assert_int_equal(wasm_exec_trap(x), WASM_TRAP_CALL_STACK_EXHAUSTED);
        /* Recursion that fits the limit completes. */
        uint64_t n = depth_limits[i] > 2 ? depth_limits[i] - 2 : 0;
        assert_int_equal(wt_call(x, wt_func(inst, "big_frames"), &n, 1), n);
        n = depth_limits[i];
        assert_int_equal(wt_call_trap(x, wt_func(inst, "big_frames"), &n, 1),
                         WASM_TRAP_CALL_STACK_EXHAUSTED);
        assert_int_equal(wt_call(x, wt_func(inst, "ok"), NULL, 0), 42);
        wasm_exec_delete(x);
        wasm_store_delete(s);
    }
    wasm_module_unref(m);
}

/* A small value stack traps rather than overflowing, long before the call
 * depth limit. */
static void test_value_stack_limit(void **state)
{
    (void)state;
    wasm_module *m = wt_load("traps", false);
    wasm_limits lim;
    wasm_limits_default(&lim);
    lim.stack_slots = 512;
    lim.max_call_depth = 1000000;
    wasm_store *s = wasm_store_new(&lim);
    wasm_instance *inst = wt_instantiate(s, m, NULL, 0);
    wasm_exec *x = wasm_exec_new(s);
    assert_non_null(x);
    wasm_func *big = wt_func(inst, "big_frames");
    /* Each big frame takes over 32 slots: a few fit, 100 do not. */
    uint64_t n = 3;
    assert_int_equal(wt_call(x, big, &n, 1), 3);
    n = 100;
    assert_int_equal(wt_call_trap(x, big, &n, 1),
                     WASM_TRAP_CALL_STACK_EXHAUSTED);
    n = 1000000;
    assert_int_equal(wt_call_trap(x, big, &n, 1),
                     WASM_TRAP_CALL_STACK_EXHAUSTED);
    uint64_t zero = 0;
    assert_int_equal(wt_call_trap(x, wt_func(inst, "recurse"), &zero, 1),
                     WASM_TRAP_CALL_STACK_EXHAUSTED);
    assert_int_equal(wt_call(x, wt_func(inst, "ok"), NULL, 0), 42);
    wasm_exec_delete(x);
    wasm_store_delete(s);

    /* A stack too small for even the entry frame refuses the call. */
    lim.stack_slots = 8;
    s = wasm_store_new(&lim);
    inst = wt_instantiate(s, m, NULL, 0);
    x = wasm_exec_new(s);
    big = wt_func(inst, "big_frames");
    assert_int_equal(wasm_exec_call(x, big, &n, 1), SHOAL_ELIMIT);
    assert_int_equal(wt_call(x, wt_func(inst, "ok"), NULL, 0), 42);
    wasm_exec_delete(x);
    wasm_store_delete(s);
    wasm_module_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_infinite_loop_resumes),
        cmocka_unit_test(test_zero_fuel_stops_at_entry),
        cmocka_unit_test(test_slicing_is_deterministic),
        cmocka_unit_test(test_fuel_used_accumulates),
        cmocka_unit_test(test_host_returns_results),
        cmocka_unit_test(test_host_trap),
        cmocka_unit_test(test_host_suspends_and_completes),
        cmocka_unit_test(test_host_suspends_deep),
        cmocka_unit_test(test_stack_grows_after_resume),
        cmocka_unit_test(test_host_suspend_with_fuel_slices),
        cmocka_unit_test(test_host_exit),
        cmocka_unit_test(test_memory_grown_by_host),
        cmocka_unit_test(test_fuel_boundary),
        cmocka_unit_test(test_values_and_results),
        cmocka_unit_test(test_calls_between_instances),
        cmocka_unit_test(test_exec_api_errors),
        cmocka_unit_test(test_every_trap_kind),
        cmocka_unit_test(test_trap_messages),
        cmocka_unit_test(test_call_depth_limit),
        cmocka_unit_test(test_value_stack_limit),
        /* Last: under UBSan, a failure here ends the executable. */
        cmocka_unit_test(test_empty_memory),
        cmocka_unit_test(test_memory_moves_when_it_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
