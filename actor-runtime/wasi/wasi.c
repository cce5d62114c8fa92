/* The WASI context, the table of preview1 functions and linking, and the
 * functions that touch no file descriptor: arguments, environment, clocks,
 * random bytes, sched_yield and proc_exit. The stdio functions are in
 * fd.c. */
#include "wasi_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- Context ----------------------------------------------------------- */

static void strings_free(wasi_strings *s)
{
    free(s->offsets);
    free(s->bytes);
    s->offsets = NULL;
    s->bytes = NULL;
}

/* Packs count strings the way args_get and environ_get hand them out. */
static shoal_err strings_init(wasi_strings *s, uint32_t count,
                              const char *const *strs)
{
    uint64_t size = 0;
    for (uint32_t i = 0; i < count; i++)
        size += strlen(strs[i]) + 1;
    /* The guest gets both figures as u32, and the pointer array must fit
     * in a 4 GiB memory as well. */
    if (size > UINT32_MAX || (uint64_t)count * 4 > UINT32_MAX)
        return SHOAL_EINVAL;

    s->count = count;
    s->size = (uint32_t)size;
    s->offsets = malloc(count ? count * sizeof *s->offsets : 1);
    s->bytes = malloc(size ? size : 1);
    if (s->offsets == NULL || s->bytes == NULL) {
        strings_free(s);
        return SHOAL_ENOMEM;
    }
    uint32_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        size_t len = strlen(strs[i]) + 1;
        s->offsets[i] = off;
        memcpy(s->bytes + off, strs[i], len);
        off += (uint32_t)len;
    }
    return SHOAL_OK;
}

shoal_err wasi_ctx_new(const wasi_config *cfg, wasi_ctx **out)
{
    shoal_err err;
    wasi_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return SHOAL_ENOMEM;

    err = strings_init(&ctx->args, cfg->argc, cfg->argv);
    if (err != SHOAL_OK)
        goto fail_free_ctx;

    uint64_t envc = 0;
    while (cfg->envp != NULL && cfg->envp[envc] != NULL)
        envc++;
    if (envc > UINT32_MAX) {
        err = SHOAL_EINVAL;
        goto fail_free_args;
    }
    err = strings_init(&ctx->env, (uint32_t)envc, cfg->envp);
    if (err != SHOAL_OK)
        goto fail_free_args;

    for (int i = 0; i < 3; i++)
        ctx->stdio[i] = cfg->stdio[i];
    *out = ctx;
    return SHOAL_OK;

fail_free_args:
    strings_free(&ctx->args);
fail_free_ctx:
    free(ctx);
    return err;
}

void wasi_ctx_delete(wasi_ctx *ctx)
{
    if (ctx == NULL)
        return;
    strings_free(&ctx->args);
    strings_free(&ctx->env);
    free(ctx);
}

bool wasi_ctx_exited(const wasi_ctx *ctx, uint32_t *code)
{
    if (ctx->exited && code != NULL)
        *code = ctx->exit_code;
    return ctx->exited;
}

/* ---- Helpers shared with fd.c ------------------------------------------ */

wasi_mem wasi__caller_mem(const wasm_exec *x)
{
    wasi_mem m = {NULL, 0};
    wasm_memory *mem = wasm_exec_caller_memory(x);
    if (mem != NULL) {
        m.size = wasm_memory_size(mem);
        m.data = m.size ? wasm_memory_data(mem) : NULL;
    }
    return m;
}

uint32_t wasi__errno(int host_errno)
{
    switch (host_errno) {
    case 0:
        return WASI_ESUCCESS;
    case EACCES:
        return WASI_EACCES;
    case EAGAIN:
        return WASI_EAGAIN;
    case EBADF:
        return WASI_EBADF;
    case ECONNRESET:
        return WASI_ECONNRESET;
    case EDQUOT:
        return WASI_EDQUOT;
    case EFAULT:
        return WASI_EFAULT;
    case EFBIG:
        return WASI_EFBIG;
    case EINTR:
        return WASI_EINTR;
    case EINVAL:
        return WASI_EINVAL;
    case EISDIR:
        return WASI_EISDIR;
    case ENOMEM:
        return WASI_ENOMEM;
    case ENOSPC:
        return WASI_ENOSPC;
    case ENXIO:
        return WASI_ENXIO;
    case EPERM:
        return WASI_EPERM;
    case EPIPE:
        return WASI_EPIPE;
    case ESPIPE:
        return WASI_ESPIPE;
    default:
        return WASI_EIO;
    }
}

static bool host_clock(uint32_t id, clockid_t *out)
{
    switch (id) {
    case 0:
        *out = CLOCK_REALTIME;
        return true;
    case 1:
        *out = CLOCK_MONOTONIC;
        return true;
    case 2:
        *out = CLOCK_PROCESS_CPUTIME_ID;
        return true;
    case 3:
        *out = CLOCK_THREAD_CPUTIME_ID;
        return true;
    default:
        return false;
    }
}

static uint64_t timespec_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

bool wasi__clock_now(uint32_t id, uint64_t *ns)
{
    clockid_t cid;
    struct timespec ts;
    if (!host_clock(id, &cid) || clock_gettime(cid, &ts) != 0)
        return false;
    *ns = timespec_ns(&ts);
    return true;
}

/* ---- Arguments and environment ----------------------------------------- */

/* args_sizes_get and environ_sizes_get: (count_ptr, size_ptr). */
static wasm_host_status strings_sizes_get(wasm_exec *x, const wasi_strings *s,
                                          uint64_t *slots)
{
    uint32_t count_ptr = (uint32_t)slots[0];
    uint32_t size_ptr = (uint32_t)slots[1];
    wasi_mem m = wasi__caller_mem(x);
    if (!wasi__in_bounds(&m, count_ptr, 4) || !wasi__in_bounds(&m, size_ptr, 4))
        return wasi__reply(slots, WASI_EFAULT);
    wasi__store32(&m, count_ptr, s->count);
    wasi__store32(&m, size_ptr, s->size);
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* args_get and environ_get: (pointer_array, string_buffer). */
static wasm_host_status strings_get(wasm_exec *x, const wasi_strings *s,
                                    uint64_t *slots)
{
    uint32_t array_ptr = (uint32_t)slots[0];
    uint32_t buf_ptr = (uint32_t)slots[1];
    wasi_mem m = wasi__caller_mem(x);
    if (!wasi__in_bounds(&m, array_ptr, (uint64_t)s->count * 4) ||
        !wasi__in_bounds(&m, buf_ptr, s->size))
        return wasi__reply(slots, WASI_EFAULT);
    if (s->size > 0)
        memcpy(m.data + buf_ptr, s->bytes, s->size);
    for (uint32_t i = 0; i < s->count; i++)
        wasi__store32(&m, array_ptr + 4 * i, buf_ptr + s->offsets[i]);
    return wasi__reply(slots, WASI_ESUCCESS);
}

static wasm_host_status args_sizes_get(wasm_exec *x, void *env, uint64_t *slots)
{
    return strings_sizes_get(x, &((wasi_ctx *)env)->args, slots);
}

static wasm_host_status args_get(wasm_exec *x, void *env, uint64_t *slots)
{
    return strings_get(x, &((wasi_ctx *)env)->args, slots);
}

static wasm_host_status environ_sizes_get(wasm_exec *x, void *env,
                                          uint64_t *slots)
{
    return strings_sizes_get(x, &((wasi_ctx *)env)->env, slots);
}

static wasm_host_status environ_get(wasm_exec *x, void *env, uint64_t *slots)
{
    return strings_get(x, &((wasi_ctx *)env)->env, slots);
}

/* ---- Clocks, random, scheduling, exit ---------------------------------- */

/* clock_res_get(id, resolution_ptr) */
static wasm_host_status clock_res_get(wasm_exec *x, void *env, uint64_t *slots)
{
    uint32_t id = (uint32_t)slots[0];
    uint32_t res_ptr = (uint32_t)slots[1];
    wasi_mem m = wasi__caller_mem(x);
    clockid_t cid;
    struct timespec ts;

    if (!host_clock(id, &cid))
        return wasi__reply(slots, WASI_EINVAL);
    if (!wasi__in_bounds(&m, res_ptr, 8))
        return wasi__reply(slots, WASI_EFAULT);
    if (clock_getres(cid, &ts) != 0)
        return wasi__reply(slots, wasi__errno(errno));
    wasi__store64(&m, res_ptr, timespec_ns(&ts));
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* clock_time_get(id, precision, time_ptr); the precision is a hint that
 * clock_gettime has no use for. */
static wasm_host_status clock_time_get(wasm_exec *x, void *env, uint64_t *slots)
{
    uint32_t id = (uint32_t)slots[0];
    uint32_t time_ptr = (uint32_t)slots[2];
    wasi_mem m = wasi__caller_mem(x);
    clockid_t cid;
    uint64_t now;

    if (!host_clock(id, &cid))
        return wasi__reply(slots, WASI_EINVAL);
    if (!wasi__in_bounds(&m, time_ptr, 8))
        return wasi__reply(slots, WASI_EFAULT);
    if (!wasi__clock_now(id, &now))
        return wasi__reply(slots, wasi__errno(errno));
    wasi__store64(&m, time_ptr, now);
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* random_get(buf, len) */
static wasm_host_status random_get(wasm_exec *x, void *env, uint64_t *slots)
{
    uint32_t buf = (uint32_t)slots[0];
    uint32_t len = (uint32_t)slots[1];
    wasi_mem m = wasi__caller_mem(x);

    if (!wasi__in_bounds(&m, buf, len))
        return wasi__reply(slots, WASI_EFAULT);
    /* getrandom returns short counts for large requests and on signals. */
    uint32_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(m.data + buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return wasi__reply(slots, wasi__errno(errno));
        }
        done += (uint32_t)n;
    }
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* sched_yield(): a command program is alone on its thread, so there is
 * nothing to give way to. */
static wasm_host_status sched_yield_(wasm_exec *x, void *env, uint64_t *slots)
{
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* proc_exit(code): ends the whole run, which the embedder sees as
 * WASM_TRAPPED with WASM_TRAP_EXIT. */
static wasm_host_status proc_exit(wasm_exec *x, void *env, uint64_t *slots)
{
    wasi_ctx *ctx = env;
    ctx->exited = true;
    ctx->exit_code = (uint32_t)slots[0];
    wasm_exec_set_exit(x, (int32_t)ctx->exit_code);
    return WASM_HOST_TRAP;
}

/* Every preview1 function that Shoal does not provide. The preview1 table
 * checks its type, and all such functions return one errno. */
static wasm_host_status enosys(wasm_exec *x, void *env, uint64_t *slots)
{
    return wasi__reply(slots, WASI_ENOSYS);
}

/* ---- The preview1 table and linking ------------------------------------ */

/* Every function of wasi_snapshot_preview1 with its core Wasm type: 'i' is
 * i32, 'I' is i64, as wasi-libc's <wasi/api.h> lowers the witx types. A NULL
 * handler means ENOSYS. */
typedef struct wasi_func_def {
    const char *name;
    const char *params;
    const char *results;
    wasm_host_fn fn;
} wasi_func_def;

static const wasi_func_def preview1[] = {
    {"args_get", "ii", "i", args_get},
    {"args_sizes_get", "ii", "i", args_sizes_get},
    {"environ_get", "ii", "i", environ_get},
    {"environ_sizes_get", "ii", "i", environ_sizes_get},
    {"clock_res_get", "ii", "i", clock_res_get},
    {"clock_time_get", "iIi", "i", clock_time_get},
    {"fd_advise", "iIIi", "i", NULL},
    {"fd_allocate", "iII", "i", NULL},
    {"fd_close", "i", "i", wasi__fd_close},
    {"fd_datasync", "i", "i", NULL},
    {"fd_fdstat_get", "ii", "i", wasi__fd_fdstat_get},
    {"fd_fdstat_set_flags", "ii", "i", NULL},
    {"fd_fdstat_set_rights", "iII", "i", NULL},
    {"fd_filestat_get", "ii", "i", NULL},
    {"fd_filestat_set_size", "iI", "i", NULL},
    {"fd_filestat_set_times", "iIIi", "i", NULL},
    {"fd_pread", "iiiIi", "i", NULL},
    {"fd_prestat_get", "ii", "i", wasi__fd_prestat_get},
    {"fd_prestat_dir_name", "iii", "i", wasi__fd_prestat_dir_name},
    {"fd_pwrite", "iiiIi", "i", NULL},
    {"fd_read", "iiii", "i", wasi__fd_read},
    {"fd_readdir", "iiiIi", "i", NULL},
    {"fd_renumber", "ii", "i", NULL},
    {"fd_seek", "iIii", "i", wasi__fd_seek},
    {"fd_sync", "i", "i", NULL},
    {"fd_tell", "ii", "i", NULL},
    {"fd_write", "iiii", "i", wasi__fd_write},
    {"path_create_directory", "iii", "i", NULL},
    {"path_filestat_get", "iiiii", "i", NULL},
    {"path_filestat_set_times", "iiiiIIi", "i", NULL},
    {"path_link", "iiiiiii", "i", NULL},
    {"path_open", "iiiiiIIii", "i", NULL},
    {"path_readlink", "iiiiii", "i", NULL},
    {"path_remove_directory", "iii", "i", NULL},
    {"path_rename", "iiiiii", "i", NULL},
    {"path_symlink", "iiiii", "i", NULL},
    {"path_unlink_file", "iii", "i", NULL},
    {"poll_oneoff", "iiii", "i", wasi__poll_oneoff},
    {"proc_exit", "i", "", proc_exit},
    {"proc_raise", "i", "i", NULL},
    {"random_get", "ii", "i", random_get},
    {"sched_yield", "", "i", sched_yield_},
    {"sock_accept", "iii", "i", NULL},
    {"sock_recv", "iiiiii", "i", NULL},
    {"sock_send", "iiiii", "i", NULL},
    {"sock_shutdown", "ii", "i", NULL},
};

#define WASI_MODULE "wasi_snapshot_preview1"
#define WASI_MAX_PARAMS 9 /* path_open */

static const wasi_func_def *find_def(const char *name, uint32_t len)
{
    for (size_t i = 0; i < sizeof preview1 / sizeof preview1[0]; i++) {
        if (strlen(preview1[i].name) == len &&
            memcmp(preview1[i].name, name, len) == 0)
            return &preview1[i];
    }
    return NULL;
}

static wasm_valtype code_type(char c)
{
    return c == 'I' ? WASM_I64 : WASM_I32;
}

static bool type_matches(const wasi_func_def *d, const wasm_functype *t)
{
    uint32_t np = (uint32_t)strlen(d->params);
    uint32_t nr = (uint32_t)strlen(d->results);
    if (wasm_functype_num_params(t) != np || wasm_functype_num_results(t) != nr)
        return false;
    for (uint32_t i = 0; i < np; i++) {
        if (wasm_functype_param(t, i) != code_type(d->params[i]))
            return false;
    }
    for (uint32_t i = 0; i < nr; i++) {
        if (wasm_functype_result(t, i) != code_type(d->results[i]))
            return false;
    }
    return true;
}

/* Appends s to buf (of size cap, holding len bytes), cut short if full. */
static size_t append(char *buf, size_t cap, size_t len, const char *s)
{
    while (*s != '\0' && len + 1 < cap)
        buf[len++] = *s++;
    buf[len] = '\0';
    return len;
}

/* "(i32, i64) -> i32" for a preview1 definition. */
static void def_type_str(const wasi_func_def *d, char *buf, size_t cap)
{
    size_t len = append(buf, cap, 0, "(");
    for (const char *p = d->params; *p != '\0'; p++) {
        len = append(buf, cap, len, p == d->params ? "" : ", ");
        len = append(buf, cap, len, wasm_valtype_name(code_type(*p)));
    }
    len = append(buf, cap, len, ") -> ");
    append(buf, cap, len,
           *d->results ? wasm_valtype_name(code_type(*d->results)) : "()");
}

/* The same for a function type of the module. */
static void functype_str(const wasm_functype *t, char *buf, size_t cap)
{
    size_t len = append(buf, cap, 0, "(");
    for (uint32_t i = 0; i < wasm_functype_num_params(t); i++) {
        len = append(buf, cap, len, i ? ", " : "");
        len = append(buf, cap, len, wasm_valtype_name(wasm_functype_param(t, i)));
    }
    len = append(buf, cap, len, ") -> ");
    uint32_t nr = wasm_functype_num_results(t);
    if (nr != 1)
        len = append(buf, cap, len, "(");
    for (uint32_t i = 0; i < nr; i++) {
        len = append(buf, cap, len, i ? ", " : "");
        len = append(buf, cap, len, wasm_valtype_name(wasm_functype_result(t, i)));
    }
    if (nr != 1)
        append(buf, cap, len, ")");
}

/* "module.name" with bytes a terminal should not see replaced by '?':
 * import names come from an untrusted module. */
static void import_str(const wasm_import_desc *d, char *buf, size_t cap)
{
    size_t len = 0;
    for (uint32_t i = 0; i < d->module_len + 1 + d->name_len; i++) {
        if (len + 1 >= cap)
            break;
        char c;
        if (i < d->module_len)
            c = d->module[i];
        else if (i == d->module_len)
            c = '.';
        else
            c = d->name[i - d->module_len - 1];
        buf[len++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    buf[len] = '\0';
}

static const char *kind_name(wasm_extern_kind k)
{
    switch (k) {
    case WASM_EXTERN_FUNC:
        return "function";
    case WASM_EXTERN_TABLE:
        return "table";
    case WASM_EXTERN_MEMORY:
        return "memory";
    case WASM_EXTERN_GLOBAL:
        return "global";
    case WASM_EXTERN_NONE:
        break;
    }
    return "extern";
}

static shoal_err link_one(wasi_ctx *ctx, wasm_store *s,
                          const wasm_import_desc *d, wasm_extern *out,
                          shoal_errinfo *ei)
{
    char what[160];
    import_str(d, what, sizeof what);

    if (d->module_len != strlen(WASI_MODULE) ||
        memcmp(d->module, WASI_MODULE, d->module_len) != 0)
        return shoal_errinfo_set(
            ei, SHOAL_EUNLINKABLE, SIZE_MAX,
            "%s: unknown import (only " WASI_MODULE " is provided)", what);
    if (d->kind != WASM_EXTERN_FUNC)
        return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                 "%s: imported as a %s, WASI provides only "
                                 "functions",
                                 what, kind_name(d->kind));
    const wasi_func_def *def = find_def(d->name, d->name_len);
    if (def == NULL)
        return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                 "%s: not a WASI preview1 function", what);
    if (!type_matches(def, d->functype)) {
        char want[96], got[96];
        def_type_str(def, want, sizeof want);
        functype_str(d->functype, got, sizeof got);
        return shoal_errinfo_set(ei, SHOAL_EUNLINKABLE, SIZE_MAX,
                                 "%s: imported with type %s, WASI defines %s",
                                 what, got, want);
    }

    wasm_valtype params[WASI_MAX_PARAMS], results[1];
    uint32_t np = (uint32_t)strlen(def->params);
    uint32_t nr = (uint32_t)strlen(def->results);
    for (uint32_t i = 0; i < np; i++)
        params[i] = code_type(def->params[i]);
    for (uint32_t i = 0; i < nr; i++)
        results[i] = code_type(def->results[i]);
    wasm_func *f = wasm_func_new_host(s, params, np, results, nr,
                                      def->fn ? def->fn : enosys, ctx);
    if (f == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                 "%s: out of memory", what);
    out->kind = WASM_EXTERN_FUNC;
    out->u.func = f;
    return SHOAL_OK;
}

shoal_err wasi_link(wasi_ctx *ctx, wasm_store *s, const wasm_module *m,
                    wasm_extern *imports, shoal_errinfo *ei)
{
    uint32_t n = wasm_module_num_imports(m);
    for (uint32_t i = 0; i < n; i++) {
        wasm_import_desc d;
        wasm_module_import(m, i, &d);
        shoal_err err = link_one(ctx, s, &d, &imports[i], ei);
        if (err != SHOAL_OK)
            return err;
    }
    return SHOAL_OK;
}
