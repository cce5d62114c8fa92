/* The file descriptor functions: WASI fds 0, 1 and 2 backed by the host fds
 * the embedder gave, and nothing else (no preopens, so no paths). */
#include "wasi_impl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* witx layouts, in bytes. */
enum {
    IOVEC_SIZE = 8,   /* buf u32 @0, buf_len u32 @4 */
    FDSTAT_SIZE = 24, /* filetype u8 @0, flags u16 @2, rights u64 @8, @16 */
    SUBSCRIPTION_SIZE = 48, /* userdata u64 @0, tag u8 @8, contents @16 */
    EVENT_SIZE = 32, /* userdata @0, error u16 @8, type u8 @10, nbytes @16,
                        flags u16 @24 */
};

enum {
    FILETYPE_UNKNOWN = 0,
    FILETYPE_CHARACTER_DEVICE = 2,
};

enum {
    RIGHT_FD_READ = 1u << 1,
    RIGHT_FD_WRITE = 1u << 6,
    RIGHT_POLL_FD_READWRITE = 1u << 27,
};

enum {
    EVENTTYPE_CLOCK = 0,
    EVENTTYPE_FD_READ = 1,
    EVENTTYPE_FD_WRITE = 2,
};

enum {
    SUBCLOCK_ABSTIME = 1,
    EVENT_FD_HANGUP = 1,
};

/* The host fd behind a WASI fd, or -1. Writes go only to 1 and 2 and reads
 * come only from 0, whatever the host fds allow, as their rights say. */
static int stdio_fd(const wasi_ctx *ctx, uint32_t fd)
{
    return fd < 3 ? ctx->stdio[fd] : -1;
}

static int readable_fd(const wasi_ctx *ctx, uint32_t fd)
{
    return fd == 0 ? ctx->stdio[0] : -1;
}

static int writable_fd(const wasi_ctx *ctx, uint32_t fd)
{
    return fd == 1 || fd == 2 ? ctx->stdio[fd] : -1;
}

/* Checks every iovec of (iovs, iovs_len) against the memory, so that a bad
 * buffer fails the call before any byte moves. Returns a WASI errno. */
static uint32_t check_iovecs(const wasi_mem *m, uint32_t iovs,
                             uint32_t iovs_len)
{
    if (!wasi__in_bounds(m, iovs, (uint64_t)iovs_len * IOVEC_SIZE))
        return WASI_EFAULT;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t buf = wasi__load32(m, iovs + i * IOVEC_SIZE);
        uint32_t len = wasi__load32(m, iovs + i * IOVEC_SIZE + 4);
        if (!wasi__in_bounds(m, buf, len))
            return WASI_EFAULT;
        sum += len;
    }
    /* The count comes back as a u32 size. */
    if (sum > UINT32_MAX)
        return WASI_EINVAL;
    return WASI_ESUCCESS;
}

/* fd_write(fd, iovs, iovs_len, nwritten_ptr). Short host writes continue
 * until every byte is out; an error after some bytes reports those bytes
 * (the next call sees the error), as writev does. */
wasm_host_status wasi__fd_write(wasm_exec *x, void *env, uint64_t *slots)
{
    wasi_ctx *ctx = env;
    int hfd = writable_fd(ctx, (uint32_t)slots[0]);
    uint32_t iovs = (uint32_t)slots[1];
    uint32_t iovs_len = (uint32_t)slots[2];
    uint32_t nwritten_ptr = (uint32_t)slots[3];
    wasi_mem m = wasi__caller_mem(x);

    if (hfd < 0)
        return wasi__reply(slots, WASI_EBADF);
    uint32_t err = check_iovecs(&m, iovs, iovs_len);
    if (err != WASI_ESUCCESS)
        return wasi__reply(slots, err);
    if (!wasi__in_bounds(&m, nwritten_ptr, 4))
        return wasi__reply(slots, WASI_EFAULT);

    uint32_t written = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t buf = wasi__load32(&m, iovs + i * IOVEC_SIZE);
        uint32_t len = wasi__load32(&m, iovs + i * IOVEC_SIZE + 4);
        uint32_t off = 0;
        while (off < len) {
            ssize_t n = write(hfd, m.data + buf + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                if (written > 0)
                    goto done;
                return wasi__reply(slots, wasi__errno(errno));
            }
            off += (uint32_t)n;
            written += (uint32_t)n;
        }
    }
done:
    wasi__store32(&m, nwritten_ptr, written);
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* fd_read(fd, iovs, iovs_len, nread_ptr). Fills the buffers in order and
 * stops at the first short read rather than wait for more input, as readv
 * does. */
wasm_host_status wasi__fd_read(wasm_exec *x, void *env, uint64_t *slots)
{
    wasi_ctx *ctx = env;
    int hfd = readable_fd(ctx, (uint32_t)slots[0]);
    uint32_t iovs = (uint32_t)slots[1];
    uint32_t iovs_len = (uint32_t)slots[2];
    uint32_t nread_ptr = (uint32_t)slots[3];
    wasi_mem m = wasi__caller_mem(x);

    if (hfd < 0)
        return wasi__reply(slots, WASI_EBADF);
    uint32_t err = check_iovecs(&m, iovs, iovs_len);
    if (err != WASI_ESUCCESS)
        return wasi__reply(slots, err);
    if (!wasi__in_bounds(&m, nread_ptr, 4))
        return wasi__reply(slots, WASI_EFAULT);

    uint32_t got = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t buf = wasi__load32(&m, iovs + i * IOVEC_SIZE);
        uint32_t len = wasi__load32(&m, iovs + i * IOVEC_SIZE + 4);
        if (len == 0)
            continue;
        ssize_t n;
        do
            n = read(hfd, m.data + buf, len);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (got > 0)
                break;
            return wasi__reply(slots, wasi__errno(errno));
        }
        got += (uint32_t)n;
        if ((uint32_t)n < len)
            break;
    }
    wasi__store32(&m, nread_ptr, got);
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* fd_close(fd): detaches a standard stream from the program; the host fd
 * stays open, for it belongs to the embedder. */
wasm_host_status wasi__fd_close(wasm_exec *x, void *env, uint64_t *slots)
{
    wasi_ctx *ctx = env;
    uint32_t fd = (uint32_t)slots[0];
    if (stdio_fd(ctx, fd) < 0)
        return wasi__reply(slots, WASI_EBADF);
    ctx->stdio[fd] = -1;
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* fd_fdstat_get(fd, stat_ptr). A stream on a terminal is a character
 * device without seek rights, which is what wasi-libc's isatty() looks
 * for (and so stdout is line-buffered on a terminal only, as natively);
 * pipes and files report an unknown file type, as wasmtime does. */
wasm_host_status wasi__fd_fdstat_get(wasm_exec *x, void *env, uint64_t *slots)
{
    wasi_ctx *ctx = env;
    uint32_t fd = (uint32_t)slots[0];
    uint32_t stat_ptr = (uint32_t)slots[1];
    int hfd = stdio_fd(ctx, fd);
    wasi_mem m = wasi__caller_mem(x);

    if (hfd < 0)
        return wasi__reply(slots, WASI_EBADF);
    if (!wasi__in_bounds(&m, stat_ptr, FDSTAT_SIZE))
        return wasi__reply(slots, WASI_EFAULT);
    uint64_t rights =
        RIGHT_POLL_FD_READWRITE | (fd == 0 ? RIGHT_FD_READ : RIGHT_FD_WRITE);
    memset(m.data + stat_ptr, 0, FDSTAT_SIZE);
    wasi__store8(&m, stat_ptr,
                 isatty(hfd) ? FILETYPE_CHARACTER_DEVICE : FILETYPE_UNKNOWN);
    wasi__store64(&m, stat_ptr + 8, rights);
    return wasi__reply(slots, WASI_ESUCCESS);
}

/* fd_seek(fd, offset, whence, newoffset_ptr): standard streams are not
 * seekable. */
wasm_host_status wasi__fd_seek(wasm_exec *x, void *env, uint64_t *slots)
{
    wasi_ctx *ctx = env;
    if (stdio_fd(ctx, (uint32_t)slots[0]) < 0)
        return wasi__reply(slots, WASI_EBADF);
    return wasi__reply(slots, WASI_ESPIPE);
}

/* fd_prestat_get(fd, prestat_ptr): no fd is a preopened directory. wasi-libc
 * asks for fds 3, 4, ... until EBADF, so it finds none. */
wasm_host_status wasi__fd_prestat_get(wasm_exec *x, void *env, uint64_t *slots)
{
    return wasi__reply(slots, WASI_EBADF);
}

/* fd_prestat_dir_name(fd, path, path_len): as above. */
wasm_host_status wasi__fd_prestat_dir_name(wasm_exec *x, void *env,
                                           uint64_t *slots)
{
    return wasi__reply(slots, WASI_EBADF);
}

/* ---- poll_oneoff ------------------------------------------------------- */

/* What poll_oneoff knows about one subscription. */
typedef struct poll_sub {
    uint64_t userdata;
    uint8_t type;      /* EVENTTYPE_* */
    uint16_t error;    /* reported at once when not WASI_ESUCCESS */
    uint32_t clock_id; /* clocks */
    uint64_t deadline; /* clocks, in the clock's nanoseconds */
    int pollfd;        /* fds: index into the pollfd array */
} poll_sub;

static void put_event(const wasi_mem *m, uint32_t at, const poll_sub *s,
                      uint64_t nbytes, uint16_t flags)
{
    memset(m->data + at, 0, EVENT_SIZE);
    wasi__store64(m, at, s->userdata);
    wasi__store16(m, at + 8, s->error);
    wasi__store8(m, at + 10, s->type);
    wasi__store64(m, at + 16, nbytes);
    wasi__store16(m, at + 24, flags);
}

/* Reads the subscriptions, filling subs and pfds. Returns a WASI errno for
 * the whole call (an unknown subscription tag); a problem with one
 * subscription goes in its error field instead. */
static uint32_t read_subs(const wasi_ctx *ctx, const wasi_mem *m, uint32_t in,
                          uint32_t nsubs, poll_sub *subs, struct pollfd *pfds,
                          nfds_t *npfds)
{
    *npfds = 0;
    for (uint32_t i = 0; i < nsubs; i++) {
        uint32_t at = in + i * SUBSCRIPTION_SIZE;
        poll_sub *s = &subs[i];
        memset(s, 0, sizeof *s);
        s->userdata = wasi__load64(m, at);
        s->type = m->data[at + 8];
        s->pollfd = -1;
        if (s->type == EVENTTYPE_CLOCK) {
            uint64_t timeout = wasi__load64(m, at + 24);
            uint16_t flags = wasi__load16(m, at + 40);
            uint64_t now;
            s->clock_id = wasi__load32(m, at + 16);
            /* Only the wall and monotonic clocks have a deadline to sleep
             * towards. */
            if (s->clock_id > 1 || !wasi__clock_now(s->clock_id, &now)) {
                s->error = WASI_EINVAL;
            } else if (flags & SUBCLOCK_ABSTIME) {
                s->deadline = timeout;
            } else {
                s->deadline = now + timeout < now ? UINT64_MAX : now + timeout;
            }
        } else if (s->type == EVENTTYPE_FD_READ ||
                   s->type == EVENTTYPE_FD_WRITE) {
            uint32_t fd = wasi__load32(m, at + 16);
            int hfd = s->type == EVENTTYPE_FD_READ ? readable_fd(ctx, fd)
                                                   : writable_fd(ctx, fd);
            if (hfd < 0) {
                s->error = WASI_EBADF;
            } else {
                s->pollfd = (int)*npfds;
                pfds[*npfds].fd = hfd;
                pfds[*npfds].events =
                    s->type == EVENTTYPE_FD_READ ? POLLIN : POLLOUT;
                pfds[*npfds].revents = 0;
                (*npfds)++;
            }
        } else {
            return WASI_EINVAL;
        }
    }
    return WASI_ESUCCESS;
}

/* How long to wait: until the nearest clock deadline (NULL: no clock,
 * forever), or not at all when some subscription already has an event. */
static const struct timespec *poll_timeout(const poll_sub *subs, uint32_t nsubs,
                                           struct timespec *ts)
{
    const struct timespec *result = NULL;
    uint64_t wait = UINT64_MAX;
    for (uint32_t i = 0; i < nsubs; i++) {
        const poll_sub *s = &subs[i];
        uint64_t now;
        if (s->error != WASI_ESUCCESS) {
            wait = 0;
        } else if (s->type == EVENTTYPE_CLOCK &&
                   wasi__clock_now(s->clock_id, &now)) {
            uint64_t left = s->deadline > now ? s->deadline - now : 0;
            wait = left < wait ? left : wait;
        } else {
            continue;
        }
        result = ts;
    }
    if (result != NULL) {
        ts->tv_sec = (time_t)(wait / 1000000000u);
        ts->tv_nsec = (long)(wait % 1000000000u);
    }
    return result;
}

/* Writes the events that are due and returns their number. */
static uint32_t put_events(const wasi_mem *m, uint32_t out,
                           const poll_sub *subs, uint32_t nsubs,
                           const struct pollfd *pfds)
{
    uint32_t nevents = 0;
    for (uint32_t i = 0; i < nsubs; i++) {
        const poll_sub *s = &subs[i];
        uint32_t at = out + nevents * EVENT_SIZE;
        uint64_t now;
        if (s->error != WASI_ESUCCESS) {
            put_event(m, at, s, 0, 0);
        } else if (s->type == EVENTTYPE_CLOCK) {
            if (!wasi__clock_now(s->clock_id, &now) || now < s->deadline)
                continue;
            put_event(m, at, s, 0, 0);
        } else {
            const struct pollfd *p = &pfds[s->pollfd];
            if (p->revents == 0)
                continue;
            poll_sub bad = *s;
            int avail = 0;
            if (p->revents & POLLNVAL) {
                bad.error = WASI_EBADF;
                s = &bad;
            } else if (s->type == EVENTTYPE_FD_READ &&
                       ioctl(p->fd, FIONREAD, &avail) != 0) {
                avail = 0;
            }
            put_event(m, at, s, avail > 0 ? (uint64_t)avail : 0,
                      (p->revents & POLLHUP) ? EVENT_FD_HANGUP : 0);
        }
        nevents++;
    }
    return nevents;
}

/* poll_oneoff(in, out, nsubscriptions, nevents_ptr): waits for clock
 * deadlines (wall or monotonic) and for stdio to become readable or
 * writable. This is what wasi-libc's sleep() and nanosleep() call. */
wasm_host_status wasi__poll_oneoff(wasm_exec *x, void *env, uint64_t *slots)
{
    wasi_ctx *ctx = env;
    uint32_t in = (uint32_t)slots[0];
    uint32_t out = (uint32_t)slots[1];
    uint32_t nsubs = (uint32_t)slots[2];
    uint32_t nevents_ptr = (uint32_t)slots[3];
    wasi_mem m = wasi__caller_mem(x);
    uint32_t err;

    if (nsubs == 0)
        return wasi__reply(slots, WASI_EINVAL);
    if (!wasi__in_bounds(&m, in, (uint64_t)nsubs * SUBSCRIPTION_SIZE) ||
        !wasi__in_bounds(&m, out, (uint64_t)nsubs * EVENT_SIZE) ||
        !wasi__in_bounds(&m, nevents_ptr, 4))
        return wasi__reply(slots, WASI_EFAULT);

    poll_sub *subs = malloc(nsubs * sizeof *subs);
    struct pollfd *pfds = malloc(nsubs * sizeof *pfds);
    if (subs == NULL || pfds == NULL) {
        err = WASI_ENOMEM;
        goto out_free;
    }
    nfds_t npfds;
    err = read_subs(ctx, &m, in, nsubs, subs, pfds, &npfds);
    if (err != WASI_ESUCCESS)
        goto out_free;

    /* A wakeup can come early (a signal, a wall clock that was set back):
     * wait again until at least one event is due. */
    uint32_t nevents = 0;
    while (nevents == 0) {
        struct timespec ts;
        const struct timespec *timeout = poll_timeout(subs, nsubs, &ts);
        for (nfds_t i = 0; i < npfds; i++)
            pfds[i].revents = 0;
        if (ppoll(pfds, npfds, timeout, NULL) < 0 && errno != EINTR) {
            err = wasi__errno(errno);
            goto out_free;
        }
        nevents = put_events(&m, out, subs, nsubs, pfds);
    }
    wasi__store32(&m, nevents_ptr, nevents);

out_free:
    free(subs);
    free(pfds);
    return wasi__reply(slots, err);
}
