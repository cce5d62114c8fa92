/* WASI preview1 for command programs: the host side of the
 * "wasi_snapshot_preview1" imports that wasi-libc programs make.
 *
 * A wasi_ctx holds what one program sees of the host: its arguments, its
 * environment, three standard streams backed by host file descriptors that
 * the embedder chooses, and the exit code once the program calls proc_exit.
 * wasi_link() turns a module's imports into host functions of a store that
 * read and write that context.
 *
 * The subset: arguments, environment, stdio reads and writes, fd_fdstat_get,
 * fd_close and fd_seek on stdio, clocks, random bytes, poll_oneoff (clocks and
 * stdio), sched_yield and proc_exit. No files or directories are opened (no
 * preopens), so wasi-libc's fopen fails cleanly with an errno. Every other
 * preview1 function links to a host function that returns ENOSYS (52); none
 * traps. docs/shoal-run.md has the table.
 *
 * Guest pointers are checked against the size of the calling instance's
 * memory before any byte is touched; a bad one makes the call return EFAULT
 * (21) without side effects.
 *
 * Threads: a context is used by the thread that runs its store.
 */
#ifndef SHOAL_WASI_H
#define SHOAL_WASI_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal_err.h"
#include "wasm.h"

typedef struct wasi_ctx wasi_ctx;

/* What the program sees of the host. */
typedef struct wasi_config {
    /* The program's arguments; argv[0] is its name by convention. */
    uint32_t argc;
    const char *const *argv;
    /* Environment entries "NAME=value", ended by a NULL pointer (environ
     * has this shape); NULL for an empty environment. */
    const char *const *envp;
    /* Host file descriptors behind WASI fds 0, 1 and 2, or -1 for a stream
     * the program does not get (its calls then fail with EBADF). The
     * embedder keeps them: the context never closes one, and a guest
     * fd_close only detaches it from the program. */
    int stdio[3];
} wasi_config;

/* Makes a context from cfg. The strings are copied; the caller keeps cfg.
 * Errors: SHOAL_ENOMEM; SHOAL_EINVAL when the arguments or the environment
 * do not fit in the guest's 32-bit sizes. On SHOAL_OK the caller owns *out
 * and frees it with wasi_ctx_delete. */
shoal_err wasi_ctx_new(const wasi_config *cfg, wasi_ctx **out);

/* Frees a context. The host functions that wasi_link made with it must not
 * run any more (delete their store first, or simply stop calling them). */
void wasi_ctx_delete(wasi_ctx *ctx);

/* Whether the program called proc_exit, and with which code. */
bool wasi_ctx_exited(const wasi_ctx *ctx, uint32_t *code);

/* Resolves every import of m to a host function made in s, writing
 * imports[i] for import i, in the order wasm_instantiate expects; imports
 * has room for wasm_module_num_imports(m) entries. The functions refer to
 * ctx, which must outlive every call of them.
 *
 * Each import must be a function of module "wasi_snapshot_preview1" that
 * preview1 defines, imported with the type preview1 gives it. Otherwise
 * the result is SHOAL_EUNLINKABLE, and ei names the first import that
 * cannot be satisfied ("env.foo: ...") and why. Other errors: SHOAL_ENOMEM.
 * On error the entries of imports are unspecified, and the host functions
 * already made stay in s until the store is deleted. */
shoal_err wasi_link(wasi_ctx *ctx, wasm_store *s, const wasm_module *m,
                    wasm_extern *imports, shoal_errinfo *ei);

#endif
