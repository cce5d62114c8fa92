/* Private to the wasi module: the context, guest memory access, and the host
 * functions shared between wasi.c (context, linking, process functions) and
 * fd.c (standard streams and poll_oneoff). */
#ifndef SHOAL_WASI_IMPL_H
#define SHOAL_WASI_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "wasi.h"
#include "wasm.h"

/* Preview1 errno values (witx "errno"), the ones this module returns. */
enum {
    WASI_ESUCCESS = 0,
    WASI_EACCES = 2,
    WASI_EAGAIN = 6,
    WASI_EBADF = 8,
    WASI_ECONNRESET = 15,
    WASI_EDQUOT = 19,
    WASI_EFAULT = 21,
    WASI_EFBIG = 22,
    WASI_EINTR = 27,
    WASI_EINVAL = 28,
    WASI_EIO = 29,
    WASI_EISDIR = 31,
    WASI_ENOMEM = 48,
    WASI_ENOSPC = 51,
    WASI_ENOSYS = 52,
    WASI_ENXIO = 60,
    WASI_EPERM = 63,
    WASI_EPIPE = 64,
    WASI_ESPIPE = 70,
};

/* Strings as the guest receives them: count NUL-terminated strings packed
 * in bytes (size bytes in all), string i starting at offsets[i]. */
typedef struct wasi_strings {
    uint32_t count;
    uint32_t size;
    uint32_t *offsets;
    char *bytes;
} wasi_strings;

struct wasi_ctx {
    wasi_strings args;
    wasi_strings env;
    int stdio[3]; /* host fds; -1 once closed or never given */
    bool exited;
    uint32_t exit_code;
};

/* The calling instance's memory during one host call. data is NULL when
 * size is 0. The guest cannot grow it while the host function runs. */
typedef struct wasi_mem {
    uint8_t *data;
    uint64_t size;
} wasi_mem;

wasi_mem wasi__caller_mem(const wasm_exec *x);

/* Whether [ptr, ptr + len) lies inside the memory. len may be up to 2^35. */
static inline bool wasi__in_bounds(const wasi_mem *m, uint32_t ptr,
                                   uint64_t len)
{
    return (uint64_t)ptr + len <= m->size;
}

/* Little-endian accessors for offsets already checked with
 * wasi__in_bounds. */
static inline uint16_t wasi__load16(const wasi_mem *m, uint32_t off)
{
    const uint8_t *p = m->data + off;
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t wasi__load32(const wasi_mem *m, uint32_t off)
{
    const uint8_t *p = m->data + off;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t wasi__load64(const wasi_mem *m, uint32_t off)
{
    return wasi__load32(m, off) | (uint64_t)wasi__load32(m, off + 4) << 32;
}

static inline void wasi__store8(const wasi_mem *m, uint32_t off, uint8_t v)
{
    m->data[off] = v;
}

static inline void wasi__store16(const wasi_mem *m, uint32_t off, uint16_t v)
{
    uint8_t *p = m->data + off;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void wasi__store32(const wasi_mem *m, uint32_t off, uint32_t v)
{
    uint8_t *p = m->data + off;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void wasi__store64(const wasi_mem *m, uint32_t off, uint64_t v)
{
    wasi__store32(m, off, (uint32_t)v);
    wasi__store32(m, off + 4, (uint32_t)(v >> 32));
}

/* Stores a preview1 errno as the call's one result. */
static inline wasm_host_status wasi__reply(uint64_t *slots, uint32_t err)
{
    slots[0] = err;
    return WASM_HOST_OK;
}

/* The preview1 errno for a host errno value. */
uint32_t wasi__errno(int host_errno);

/* Reads the current time of a preview1 clock id; false for an id the host
 * does not have. */
bool wasi__clock_now(uint32_t id, uint64_t *ns);

/* Host functions in fd.c; env is the wasi_ctx. */
wasm_host_status wasi__fd_write(wasm_exec *x, void *env, uint64_t *slots);
wasm_host_status wasi__fd_read(wasm_exec *x, void *env, uint64_t *slots);
wasm_host_status wasi__fd_close(wasm_exec *x, void *env, uint64_t *slots);
wasm_host_status wasi__fd_fdstat_get(wasm_exec *x, void *env, uint64_t *slots);
wasm_host_status wasi__fd_seek(wasm_exec *x, void *env, uint64_t *slots);
wasm_host_status wasi__fd_prestat_get(wasm_exec *x, void *env, uint64_t *slots);
wasm_host_status wasi__fd_prestat_dir_name(wasm_exec *x, void *env,
                                           uint64_t *slots);
wasm_host_status wasi__poll_oneoff(wasm_exec *x, void *env, uint64_t *slots);

#endif
