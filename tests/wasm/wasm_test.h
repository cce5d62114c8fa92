/* Helpers shared by the engine's unit tests: reading the test modules that
 * the build converts from wat/ and loading and instantiating them. Every
 * helper fails the current cmocka test on error. */
#ifndef SHOAL_TESTS_WASM_TEST_H
#define SHOAL_TESTS_WASM_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wasm.h"

/* The bytes of NAME.wasm from the build folder (SHOAL_WASM_TEST_DIR, or the
 * folder the test was built in); the caller frees them. */
uint8_t *wt_read(const char *name, size_t *len);

/* Loads NAME.wasm, with or without metering. */
wasm_module *wt_load(const char *name, bool metering);

/* Instantiates m in s with the given imports. */
wasm_instance *wt_instantiate(wasm_store *s, wasm_module *m,
                              const wasm_extern *imports, uint32_t nimports);

/* The exported function NAME of inst. */
wasm_func *wt_func(const wasm_instance *inst, const char *name);

/* Calls f with args and runs it to the end with unlimited fuel, expecting
 * WASM_DONE; returns the first result (0 when there is none). */
uint64_t wt_call(wasm_exec *x, wasm_func *f, const uint64_t *args,
                 uint32_t nargs);

/* Calls f and runs it to the end, expecting a trap; returns its kind. */
wasm_trap wt_call_trap(wasm_exec *x, wasm_func *f, const uint64_t *args,
                       uint32_t nargs);

#endif
