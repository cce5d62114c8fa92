/* The stream between nodes for actor messages (docs/cluster.md, "The
 * wire"): one TCP connection from each node to each other, written by the
 * thread that sends (a runtime worker) and read by one I/O thread per node
 * that hands each message straight to the runtime.
 *
 * A message crosses with two thread wake-ups (the receiving node's I/O
 * thread, then the worker that runs the receiver) instead of the several
 * of NNG's push/pull, which is what a ping-pong across nodes pays per
 * message. Everything else between nodes (gossip, records, modules) stays
 * on NNG.
 *
 * A frame is a 4-byte big-endian length and that many bytes: the 'm' frame
 * of cluster.c (version, type, from, to, kind, correlation id, payload). A
 * sender writes a frame at once when nothing of its connection waits;
 * otherwise (a short write, a connection being made) it appends to the
 * connection's buffer, which the I/O thread drains, so frames to one node
 * leave in the order they were sent. */
#include "node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* A frame's bytes (after its length) are at most this: a message's
 * largest payload (1 MiB, docs/actors.md) and its head. */
#define FRAME_MAX ((1u << 20) + 64)
/* Bytes that may wait for one node before sends get SHOAL_EFULL. */
#define OUT_MAX (64u << 20)

enum conn_state {
    CONN_IDLE,       /* no socket: the next send asks for one */
    CONN_CONNECTING, /* connect() under way (the I/O thread watches it) */
    CONN_UP,
};

/* Our connection to one other node. */
struct wire_peer {
    uint16_t node_id;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    pthread_mutex_t lock; /* everything below */
    int fd;
    enum conn_state state;
    uint8_t *out; /* bytes waiting, from out_head */
    size_t out_head, out_len, out_cap;
    bool want_out; /* the I/O thread should drain out (or connect) */
    bool dropped;  /* its node is gone: sends fail, the socket closes */
    struct wire_peer *next;
};

/* A connection another node made to us, read by the I/O thread. */
typedef struct wire_in {
    /* Its reader holds it: the I/O thread, or a worker in wire_poll. */
    pthread_mutex_t lock;
    int fd; /* -1 once closed; the struct lives until wire_stop */
    uint8_t *buf;
    size_t len, cap;
    struct wire_in *next;
} wire_in;

struct wire {
    node *n;
    void (*deliver)(void *ctx, const uint8_t *frame, size_t len);
    void (*refused)(void *ctx, uint16_t node_id);
    void *ctx;
    int listen_fd, epoll_fd, wake_fd;
    /* With workers_read, the incoming connections are watched by poll_fd
     * (with poll_wake_fd), which the runtime's idle worker waits in
     * (wire_poll), instead of by the I/O thread. */
    bool workers_read;
    int poll_fd, poll_wake_fd;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    pthread_mutex_t peers_lock; /* the list; peers are never freed before
                                 * wire_stop */
    wire_peer *peers;
    wire_in *ins; /* the I/O thread's own */
};

/* epoll tags: what an event's data points at. */
enum { TAG_LISTEN = 1, TAG_WAKE = 2 };
#define TAG_IN(p) ((uint64_t)(uintptr_t)(p) | 1u)

static void kick(wire *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->wake_fd, &one, sizeof one);
    (void)r; /* a full counter already wakes it */
}

/* Resolves "HOST:PORT" (or "[V6]:PORT"), numeric only. */
static bool parse_addr(const char *s, struct sockaddr_storage *out,
                       socklen_t *len)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *h = host;
    if (h[0] == '[') {
        h++;
        char *e = strchr(h, ']');
        if (e == NULL)
            return false;
        *e = 0;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    if (getaddrinfo(h, colon + 1, &hints, &ai) != 0)
        return false;
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

/* ---- sending (any thread) ---- */

/* Appends to p's buffer (p->lock held). */
static bool out_append(wire_peer *p, const uint8_t *a, size_t alen,
                       const uint8_t *b, size_t blen)
{
    size_t need = p->out_len + alen + blen;
    if (need > OUT_MAX)
        return false;
    if (p->out_head && p->out_head + need > p->out_cap) {
        memmove(p->out, p->out + p->out_head, p->out_len);
        p->out_head = 0;
    }
    if (p->out_head + need > p->out_cap) {
        size_t cap = p->out_cap ? p->out_cap : 4096;
        while (cap < p->out_head + need)
            cap *= 2;
        uint8_t *nb = realloc(p->out, cap);
        if (nb == NULL)
            return false;
        p->out = nb;
        p->out_cap = cap;
    }
    uint8_t *dst = p->out + p->out_head + p->out_len;
    memcpy(dst, a, alen);
    if (blen)
        memcpy(dst + alen, b, blen);
    p->out_len += alen + blen;
    return true;
}

shoal_err wire_send(wire *w, wire_peer *p, const uint8_t *head, size_t hlen,
                    const uint8_t *body, size_t blen)
{
    uint8_t len4[4];
    uint32_t flen = (uint32_t)(hlen + blen);
    len4[0] = (uint8_t)(flen >> 24);
    len4[1] = (uint8_t)(flen >> 16);
    len4[2] = (uint8_t)(flen >> 8);
    len4[3] = (uint8_t)flen;
    pthread_mutex_lock(&p->lock);
    if (p->dropped) {
        pthread_mutex_unlock(&p->lock);
        return SHOAL_ENOTFOUND;
    }
    bool wake = false;
    uint8_t fh[4 + 64]; /* the length and the head, together */
    if (hlen > 64) {
        pthread_mutex_unlock(&p->lock);
        return SHOAL_EINVAL;
    }
    memcpy(fh, len4, 4);
    memcpy(fh + 4, head, hlen);
    size_t fhlen = 4 + hlen, done = 0;
    if (p->state == CONN_UP && p->out_len == 0) {
        /* The fast way: straight into the socket. */
        struct iovec iov[2] = {{fh, fhlen}, {(void *)body, blen}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = blen ? 2 : 1};
        ssize_t r = sendmsg(p->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0)
            done = (size_t)r;
        if (done == fhlen + blen) {
            pthread_mutex_unlock(&p->lock);
            return SHOAL_OK;
        }
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            /* A broken connection: the I/O thread makes a new one. */
            close(p->fd);
            p->fd = -1;
            p->state = CONN_IDLE;
        }
    }
    /* What did not go waits, in order, for the I/O thread. */
    bool ok = done < fhlen ? out_append(p, fh + done, fhlen - done, body, blen)
                           : out_append(p, body + (done - fhlen),
                                        blen - (done - fhlen), NULL, 0);
    if (ok && !p->want_out) {
        p->want_out = true;
        wake = true;
    }
    pthread_mutex_unlock(&p->lock);
    if (wake)
        kick(w);
    return ok ? SHOAL_OK : SHOAL_EFULL;
}

/* ---- peers (the loop thread) ---- */

wire_peer *wire_peer_get(wire *w, uint16_t node_id, const char *addr)
{
    pthread_mutex_lock(&w->peers_lock);
    wire_peer *p = w->peers;
    while (p && p->node_id != node_id)
        p = p->next;
    struct sockaddr_storage sa;
    socklen_t salen;
    if (!parse_addr(addr, &sa, &salen)) {
        pthread_mutex_unlock(&w->peers_lock);
        return NULL;
    }
    if (p) {
        pthread_mutex_lock(&p->lock);
        if (p->dropped || p->addrlen != salen ||
            memcmp(&p->addr, &sa, salen) != 0) {
            /* Back, or somewhere else: a fresh start. */
            memcpy(&p->addr, &sa, salen);
            p->addrlen = salen;
            p->dropped = false;
            if (p->fd >= 0)
                close(p->fd);
            p->fd = -1;
            p->state = CONN_IDLE;
            p->out_head = p->out_len = 0;
            p->want_out = true; /* connect now: see peer_work */
            pthread_mutex_unlock(&p->lock);
            pthread_mutex_unlock(&w->peers_lock);
            kick(w);
            return p;
        }
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_unlock(&w->peers_lock);
        return p;
    }
    p = calloc(1, sizeof *p);
    if (p) {
        p->node_id = node_id;
        memcpy(&p->addr, &sa, salen);
        p->addrlen = salen;
        p->fd = -1;
        pthread_mutex_init(&p->lock, NULL);
        p->want_out = true; /* connect now: see peer_work */
        p->next = w->peers;
        w->peers = p;
    }
    pthread_mutex_unlock(&w->peers_lock);
    if (p)
        kick(w);
    return p;
}

void wire_peer_drop_id(wire *w, uint16_t node_id)
{
    pthread_mutex_lock(&w->peers_lock);
    wire_peer *p = w->peers;
    while (p && p->node_id != node_id)
        p = p->next;
    pthread_mutex_unlock(&w->peers_lock);
    if (p)
        wire_peer_drop(w, p); /* peers live until wire_stop */
}

void wire_peer_drop(wire *w, wire_peer *p)
{
    pthread_mutex_lock(&p->lock);
    if (!p->dropped) {
        p->dropped = true;
        p->out_head = p->out_len = 0;
        if (p->fd >= 0) {
            /* The I/O thread may watch it: it learns from dropped. */
            shutdown(p->fd, SHUT_RDWR);
        }
        p->want_out = true;
    }
    pthread_mutex_unlock(&p->lock);
    kick(w);
}

/* ---- the I/O thread ---- */

/* Closes an incoming connection (in->lock held). Its struct stays in
 * w->ins until wire_stop, since another reader may hold an event of it. */
static void in_close(wire *w, wire_in *in)
{
    epoll_ctl(w->workers_read ? w->poll_fd : w->epoll_fd, EPOLL_CTL_DEL, in->fd,
              NULL);
    close(in->fd);
    in->fd = -1;
    free(in->buf);
    in->buf = NULL;
    in->len = in->cap = 0;
}

static void on_accept(wire *w)
{
    for (int k = 0; k < 64; k++) {
        int fd =
            accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        wire_in *in = calloc(1, sizeof *in);
        if (in == NULL) {
            close(fd);
            continue;
        }
        in->fd = fd;
        pthread_mutex_init(&in->lock, NULL);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_IN(in)};
        if (epoll_ctl(w->workers_read ? w->poll_fd : w->epoll_fd, EPOLL_CTL_ADD,
                      fd, &ev) != 0) {
            pthread_mutex_destroy(&in->lock);
            close(fd);
            free(in);
            continue;
        }
        in->next = w->ins;
        w->ins = in;
    }
}

/* Reads what arrived and delivers every whole frame (in->lock held). */
static void read_frames(wire *w, wire_in *in)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (in->cap - in->len < 65536) {
            size_t cap = in->cap ? in->cap * 2 : 131072;
            if (cap > FRAME_MAX * 2 + 8)
                cap = FRAME_MAX * 2 + 8;
            if (cap > in->cap) {
                uint8_t *nb = realloc(in->buf, cap);
                if (nb == NULL) {
                    in_close(w, in);
                    return;
                }
                in->buf = nb;
                in->cap = cap;
            }
        }
        ssize_t r = read(in->fd, in->buf + in->len, in->cap - in->len);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            in_close(w, in);
            return;
        }
        if (r < 0)
            return;
        in->len += (size_t)r;
        size_t at = 0;
        while (in->len - at >= 4) {
            const uint8_t *p = in->buf + at;
            uint32_t flen = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                            (uint32_t)p[2] << 8 | p[3];
            if (flen > FRAME_MAX) {
                node_log(w->n, LOG_WARN, "cluster", NULL,
                         "a frame of %u bytes on the stream; closing it", flen);
                in_close(w, in);
                return;
            }
            if (in->len - at - 4 < flen)
                break;
            w->deliver(w->ctx, p + 4, flen);
            at += 4 + flen;
        }
        memmove(in->buf, in->buf + at, in->len - at);
        in->len -= at;
        if ((size_t)r < 65536)
            return; /* drained for now */
    }
}

/* p's connection is gone: what waits for it may start mid-frame, so it
 * goes too (p->lock held). */
static void peer_broken(wire *w, wire_peer *p)
{
    epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
    close(p->fd);
    p->fd = -1;
    p->state = CONN_IDLE;
    p->out_head = p->out_len = 0;
    p->want_out = false;
}

/* The connection is watched for its end always (so that a node whose
 * process died is noticed at once), and for room while frames wait. */
static void watch_out(wire *w, wire_peer *p, bool out)
{
    struct epoll_event ev = {.events = EPOLLRDHUP | (out ? EPOLLOUT : 0),
                             .data.ptr = p};
    epoll_ctl(w->epoll_fd, EPOLL_CTL_MOD, p->fd, &ev);
}

/* Makes progress on p: connects, drains its buffer (p->lock held).
 * events: what epoll said, or 0. Returns true when p's node refused a
 * connection (nothing listens there: its process is gone), for the
 * caller to report once it let go of the lock.
 *
 * Each node keeps a connection to every other node it knows (wire_peer_get
 * asks for one), even with nothing to send: when a node's process dies on
 * a machine that lives on, its kernel closes the connection, a new one is
 * tried at once, and the refusal says it is gone within milliseconds,
 * before the gossip's probes could. A partition closes nothing and is left
 * to the gossip. */
static bool peer_work(wire *w, wire_peer *p, uint32_t events)
{
    if (p->dropped) {
        if (p->fd >= 0) {
            epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
            close(p->fd);
            p->fd = -1;
        }
        p->state = CONN_IDLE;
        p->want_out = false;
        return false;
    }
    if (p->state == CONN_IDLE && (p->out_len || p->want_out)) {
        int fd = socket(p->addr.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int r = connect(fd, (struct sockaddr *)&p->addr, p->addrlen);
        if (r != 0 && errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            p->out_head = p->out_len = 0; /* nobody there: drop */
            p->want_out = false;
            return e == ECONNREFUSED;
        }
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = p};
        epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
        p->fd = fd;
        p->state = CONN_CONNECTING;
        return false;
    }
    if (p->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err == EINPROGRESS)
            return false;
        if (err != 0) {
            epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
            close(p->fd);
            p->fd = -1;
            p->state = CONN_IDLE;
            p->out_head = p->out_len = 0; /* nobody there: drop */
            p->want_out = false;
            return err == ECONNREFUSED;
        }
        p->state = CONN_UP;
    }
    if (p->state != CONN_UP)
        return false;
    if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        /* The other end closed (nothing is ever sent this way): try a new
         * connection at once. */
        peer_broken(w, p);
        p->want_out = true;
        return false;
    }
    while (p->out_len) {
        ssize_t r = send(p->fd, p->out + p->out_head, p->out_len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                watch_out(w, p, true);
                return false;
            }
            if (errno == EINTR)
                continue;
            peer_broken(w, p);
            p->want_out = true;
            return false;
        }
        p->out_head += (size_t)r;
        p->out_len -= (size_t)r;
    }
    p->out_head = 0;
    p->want_out = false;
    if (p->fd >= 0)
        watch_out(w, p, false);
    return false;
}

static void on_readable(wire *w, wire_in *in)
{
    pthread_mutex_lock(&in->lock);
    if (in->fd >= 0)
        read_frames(w, in);
    pthread_mutex_unlock(&in->lock);
}

bool wire_poll(wire *w, int timeout_ms)
{
    struct epoll_event evs[32];
    int n = epoll_wait(w->poll_fd, evs, 32, timeout_ms);
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag == TAG_WAKE) {
            uint64_t v;
            ssize_t r = read(w->poll_wake_fd, &v, sizeof v);
            (void)r;
            continue;
        }
        wire_in *in = (wire_in *)(uintptr_t)(tag & ~(uint64_t)1);
        /* Another reader has it: it reads what came. */
        if (pthread_mutex_trylock(&in->lock) != 0)
            continue;
        if (in->fd >= 0)
            read_frames(w, in);
        pthread_mutex_unlock(&in->lock);
    }
    return true;
}

void wire_wake_poll(wire *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->poll_wake_fd, &one, sizeof one);
    (void)r;
}

static void *io_main(void *arg)
{
    wire *w = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&w->stop)) {
        int n = epoll_wait(w->epoll_fd, evs, 64, 200);
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == TAG_LISTEN) {
                on_accept(w);
            } else if (tag == TAG_WAKE) {
                uint64_t v;
                ssize_t r = read(w->wake_fd, &v, sizeof v);
                (void)r;
            } else if (tag & 1u) {
                on_readable(w, (wire_in *)(uintptr_t)(tag & ~(uint64_t)1));
            } else {
                wire_peer *p = evs[i].data.ptr;
                pthread_mutex_lock(&p->lock);
                bool refused = peer_work(w, p, evs[i].events);
                uint16_t id = p->node_id;
                pthread_mutex_unlock(&p->lock);
                if (refused && w->refused)
                    w->refused(w->ctx, id);
            }
        }
        /* Peers that asked (a send found no connection, or a full
         * socket, or a drop). */
        uint16_t refused[16];
        size_t nrefused = 0;
        pthread_mutex_lock(&w->peers_lock);
        for (wire_peer *p = w->peers; p; p = p->next) {
            pthread_mutex_lock(&p->lock);
            if (p->want_out && p->state != CONN_CONNECTING &&
                peer_work(w, p, 0) && nrefused < 16)
                refused[nrefused++] = p->node_id;
            pthread_mutex_unlock(&p->lock);
        }
        pthread_mutex_unlock(&w->peers_lock);
        for (size_t i = 0; i < nrefused && w->refused; i++)
            w->refused(w->ctx, refused[i]);
    }
    return NULL;
}

/* ---- life cycle ---- */

shoal_err wire_start(node *n, const char *host,
                     void (*deliver)(void *ctx, const uint8_t *frame,
                                     size_t len),
                     void (*refused)(void *ctx, uint16_t node_id), void *ctx,
                     bool workers_read, wire **out, char *advertised,
                     size_t cap, shoal_errinfo *ei)
{
    wire *w = calloc(1, sizeof *w);
    if (w == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    w->n = n;
    w->deliver = deliver;
    w->refused = refused;
    w->ctx = ctx;
    w->listen_fd = w->epoll_fd = w->wake_fd = -1;
    w->poll_fd = w->poll_wake_fd = -1;
    w->workers_read = workers_read;
    pthread_mutex_init(&w->peers_lock, NULL);
    char spec[160];
    snprintf(spec, sizeof spec, "%s:0", host);
    struct sockaddr_storage sa;
    socklen_t salen;
    if (!parse_addr(spec, &sa, &salen)) {
        wire_stop(w);
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "cluster: %s is not a numeric address", host);
    }
    w->listen_fd =
        socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (w->listen_fd >= 0)
        setsockopt(w->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (w->listen_fd < 0 ||
        bind(w->listen_fd, (struct sockaddr *)&sa, salen) != 0 ||
        listen(w->listen_fd, 64) != 0 ||
        getsockname(w->listen_fd, (struct sockaddr *)&sa, &salen) != 0) {
        int e = errno;
        wire_stop(w);
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "cluster: the message stream on %s: %s", host,
                                 strerror(e));
    }
    char hbuf[64], pbuf[16];
    getnameinfo((struct sockaddr *)&sa, salen, hbuf, sizeof hbuf, pbuf,
                sizeof pbuf, NI_NUMERICHOST | NI_NUMERICSERV);
    if (sa.ss_family == AF_INET6)
        snprintf(advertised, cap, "[%s]:%s", hbuf, pbuf);
    else
        snprintf(advertised, cap, "%s:%s", hbuf, pbuf);
    w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->poll_fd = epoll_create1(EPOLL_CLOEXEC);
    w->poll_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event pev = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
    if (w->poll_fd < 0 || w->poll_wake_fd < 0 ||
        epoll_ctl(w->poll_fd, EPOLL_CTL_ADD, w->poll_wake_fd, &pev) != 0) {
        wire_stop(w);
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "cluster: cannot start the message stream");
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
    struct epoll_event wev = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
    if (w->epoll_fd < 0 || w->wake_fd < 0 ||
        epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->listen_fd, &lev) != 0 ||
        epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->wake_fd, &wev) != 0 ||
        pthread_create(&w->thread, NULL, io_main, w) != 0) {
        wire_stop(w);
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "cluster: cannot start the message stream");
    }
    w->running = true;
    *out = w;
    return SHOAL_OK;
}

void wire_stop(wire *w)
{
    if (w == NULL)
        return;
    if (w->running) {
        atomic_store(&w->stop, true);
        kick(w);
        pthread_join(w->thread, NULL);
    }
    while (w->ins) {
        wire_in *in = w->ins;
        w->ins = in->next;
        if (in->fd >= 0)
            close(in->fd);
        free(in->buf);
        pthread_mutex_destroy(&in->lock);
        free(in);
    }
    while (w->peers) {
        wire_peer *p = w->peers;
        w->peers = p->next;
        if (p->fd >= 0)
            close(p->fd);
        free(p->out);
        pthread_mutex_destroy(&p->lock);
        free(p);
    }
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    if (w->epoll_fd >= 0)
        close(w->epoll_fd);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    if (w->poll_fd >= 0)
        close(w->poll_fd);
    if (w->poll_wake_fd >= 0)
        close(w->poll_wake_fd);
    pthread_mutex_destroy(&w->peers_lock);
    free(w);
}
