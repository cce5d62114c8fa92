/* The server: limits, routes and their listeners, accepting connections,
 * the exchange handles' slots, closing, logging. Connections live in
 * conn.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_impl.h"

/* ---- buffers ---- */

bool http__buf_reserve(hbuf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return true;
    if (extra > SIZE_MAX / 2 - b->len)
        return false;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

bool http__buf_append(hbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return true;
    if (!http__buf_reserve(b, n))
        return false;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

void http__buf_trim(hbuf *b, size_t keep)
{
    if (b->cap > keep && b->len == 0)
        http__buf_free(b);
}

void http__buf_free(hbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- logging ---- */

void http__log(http_server *s, int level, const char *fmt, ...)
{
    if (s->log == NULL && level > 2)
        return; /* stderr gets no debug lines */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->log != NULL) {
        s->log(s->log_ctx, level, msg);
        return;
    }
    static const char *const names[] = {"error", "warn", "info", "debug"};
    fprintf(stderr, "http: %s: %s\n",
            names[level < 0   ? 0
                  : level > 3 ? 3
                              : level],
            msg);
}

void http_server_set_log(http_server *s, http_log_fn fn, void *ctx)
{
    s->log = fn;
    s->log_ctx = ctx;
}

/* ---- the server ---- */

static void free_server(http_server *s)
{
    free(s->slots);
    free(s->read_buf);
    msgpack_sbuffer_destroy(&s->req_buf);
    http__buf_free(&s->resp_head);
    msgpack_zone_destroy(&s->zone);
    void (*done)(void *) = s->done;
    void *done_ctx = s->done_ctx;
    free(s);
    if (done != NULL)
        done(done_ctx);
}

void http__handle_closed(http_server *s)
{
    if (--s->open_handles == 0 && s->closing)
        free_server(s);
}

static void on_close_timer_closed(uv_handle_t *h)
{
    http__handle_closed(h->data);
}

shoal_err http_server_new(uv_loop_t *loop, const http_limits *limits,
                          http_dispatch_fn dispatch, void *ctx,
                          http_server **out)
{
    http_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SHOAL_ENOMEM;
    s->read_buf = malloc(HTTP_READ_BUF);
    if (s->read_buf == NULL)
        goto fail_free_server;
    if (!msgpack_zone_init(&s->zone, 4096))
        goto fail_free_read_buf;
    s->loop = loop;
    if (limits != NULL)
        s->lim = *limits;
    if (s->lim.max_header_bytes == 0)
        s->lim.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (s->lim.max_body_bytes == 0)
        s->lim.max_body_bytes = HTTP_DEFAULT_MAX_BODY_BYTES;
    if (s->lim.timeout_ms == 0)
        s->lim.timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    if (s->lim.keepalive_ms == 0)
        s->lim.keepalive_ms = HTTP_DEFAULT_KEEPALIVE_MS;
    if (s->lim.max_connections == 0)
        s->lim.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    s->dispatch = dispatch;
    s->ctx = ctx;
    s->next_route_id = 1;
    s->free_slot = UINT32_MAX;
    msgpack_sbuffer_init(&s->req_buf);
    msgpack_packer_init(&s->req_pk, &s->req_buf, msgpack_sbuffer_write);
    uv_timer_init(loop, &s->close_timer);
    s->close_timer.data = s;
    s->open_handles = 1;
    *out = s;
    return SHOAL_OK;

fail_free_read_buf:
    free(s->read_buf);
fail_free_server:
    free(s);
    return SHOAL_ENOMEM;
}

/* ---- exchange slots ---- */

static bool slot_take(http_server *s, http_conn *c)
{
    uint32_t i = s->free_slot;
    if (i != UINT32_MAX) {
        s->free_slot = s->slots[i].next_free;
    } else {
        if (s->n_slots == s->cap_slots) {
            uint32_t cap = s->cap_slots ? s->cap_slots * 2 : 64;
            conn_slot *p = realloc(s->slots, cap * sizeof *p);
            if (p == NULL)
                return false;
            s->slots = p;
            s->cap_slots = cap;
        }
        i = s->n_slots++;
        s->slots[i].seq = 0;
    }
    s->slots[i].c = c;
    c->slot = i;
    return true;
}

void http__slot_release(http_server *s, http_conn *c)
{
    if (c->slot == UINT32_MAX)
        return;
    s->n_conns--;
    conn_slot *sl = &s->slots[c->slot];
    sl->c = NULL;
    sl->seq++; /* a handle of the last exchange is stale now */
    sl->next_free = s->free_slot;
    s->free_slot = c->slot;
    c->slot = UINT32_MAX;
}

http_exchange http__exchange_begin(http_server *s, http_conn *c)
{
    conn_slot *sl = &s->slots[c->slot];
    if (++sl->seq == 0)
        sl->seq = 1;
    return (http_exchange){(uint64_t)c->slot << 32 | sl->seq};
}

void http__exchange_end(http_server *s, http_conn *c)
{
    if (c->slot != UINT32_MAX)
        s->slots[c->slot].seq++;
}

http_conn *http__exchange_conn(http_server *s, http_exchange ex)
{
    uint32_t i = (uint32_t)(ex.id >> 32), seq = (uint32_t)ex.id;
    if (s->closing || i >= s->n_slots)
        return NULL;
    conn_slot *sl = &s->slots[i];
    if (sl->c == NULL || sl->seq != seq || sl->c->state != CONN_WAITING)
        return NULL;
    return sl->c;
}

/* ---- listeners and routes ---- */

/* Parses "host:port" with an IPv4 host or an IPv6 one in brackets. */
static bool parse_address(const char *address, struct sockaddr_storage *ss)
{
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon == address || colon[1] == '\0')
        return false;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return false;
    char host[64];
    size_t hlen = (size_t)(colon - address);
    bool v6 = address[0] == '[';
    if (v6) {
        if (hlen < 3 || address[hlen - 1] != ']')
            return false;
        address++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return false;
    memcpy(host, address, hlen);
    host[hlen] = '\0';
    memset(ss, 0, sizeof *ss);
    if (v6)
        return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0;
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0;
}

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void addr_name(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char ip[48] = "?";
    if (ss->ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)ss, ip, sizeof ip);
        snprintf(out, size, "[%s]:%u", ip, (unsigned)addr_port(ss));
    } else {
        uv_ip4_name((const struct sockaddr_in *)ss, ip, sizeof ip);
        snprintf(out, size, "%s:%u", ip, (unsigned)addr_port(ss));
    }
}

static bool same_address(const struct sockaddr_storage *a,
                         const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family || addr_port(a) != addr_port(b))
        return false;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

void http__listener_unref(http_listener *l)
{
    if (--l->refs > 0)
        return;
    for (size_t i = 0; i < l->n_routes; i++) {
        free(l->routes[i]->prefix);
        free(l->routes[i]);
    }
    free(l->routes);
    free(l);
}

static void on_listener_closed(uv_handle_t *h)
{
    http_listener *l = h->data;
    http_server *s = l->s;
    http__listener_unref(l);
    http__handle_closed(s);
}

/* Closes l's handle and winds down its connections; l is freed when the
 * last of them is gone. */
static void listener_close(http_listener *l)
{
    http_server *s = l->s;
    if (l->closing)
        return;
    l->closing = true;
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        s->listeners = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    http_conn *next;
    for (http_conn *c = s->conns; c != NULL; c = next) {
        next = c->next;
        if (c->l == l)
            http__conn_wind_down(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    http_listener *l = server->data;
    http_server *s = l->s;
    if (status < 0) {
        http__log(s, 1, "accept on %s: %s", l->name, uv_strerror(status));
        return;
    }
    http_conn *c = http__conn_alloc(s, l);
    if (c == NULL) {
        /* Out of memory: leave the connection in the backlog. */
        http__log(s, 0, "accept on %s: out of memory", l->name);
        return;
    }
    uv_tcp_init(s->loop, &c->h.tcp);
    if (uv_accept(server, &c->h.stream) != 0) {
        http__conn_close(c);
        return;
    }
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&peer, &plen) == 0)
        addr_name(&peer, c->remote, sizeof c->remote);
    uv_tcp_nodelay(&c->h.tcp, 1);
    if (s->n_conns >= s->lim.max_connections) {
        http__conn_refuse(c);
        return;
    }
    if (!slot_take(s, c)) {
        http__conn_close(c);
        return;
    }
    s->n_conns++;
    http__conn_start(c);
}

static shoal_err listener_open(http_server *s,
                               const struct sockaddr_storage *addr,
                               const char *address, http_listener **out,
                               shoal_errinfo *ei)
{
    http_listener *l = calloc(1, sizeof *l);
    if (l == NULL)
        return SHOAL_ENOMEM;
    l->s = s;
    l->refs = 1;
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    s->open_handles++;
    int r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    int len = sizeof l->addr;
    if (r == 0)
        r = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&l->addr, &len);
    if (r != 0) {
        l->closing = true;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "cannot listen on %s: %s", address,
                                 uv_strerror(r));
    }
    addr_name(&l->addr, l->name, sizeof l->name);
    l->next = s->listeners;
    if (l->next != NULL)
        l->next->prev = l;
    s->listeners = l;
    *out = l;
    return SHOAL_OK;
}

shoal_err http_server_route_add(http_server *s, const char *address,
                                const char *prefix, void *route_ctx,
                                uint32_t *route_id, uint16_t *bound_port,
                                shoal_errinfo *ei)
{
    if (s->closing)
        return shoal_errinfo_set(ei, SHOAL_ESTATE, SIZE_MAX,
                                 "the server is closing");
    struct sockaddr_storage addr;
    if (address == NULL || !parse_address(address, &addr))
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "bad listen address \"%s\" (want "
                                 "host:port, e.g. 0.0.0.0:8080)",
                                 address ? address : "");
    if (prefix == NULL || prefix[0] != '/')
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "bad path prefix \"%s\" (must start "
                                 "with /)",
                                 prefix ? prefix : "");
    size_t plen = strlen(prefix);

    http_listener *l = NULL;
    if (addr_port(&addr) != 0) {
        for (http_listener *it = s->listeners; it != NULL; it = it->next)
            if (same_address(&it->addr, &addr))
                l = it;
    }
    if (l != NULL) {
        for (size_t i = 0; i < l->n_routes; i++)
            if (l->routes[i]->prefix_len == plen &&
                memcmp(l->routes[i]->prefix, prefix, plen) == 0)
                return shoal_errinfo_set(ei, SHOAL_EEXIST, SIZE_MAX,
                                         "%s already routes prefix %s", l->name,
                                         prefix);
    }

    http_route *r = calloc(1, sizeof *r);
    if (r == NULL)
        return SHOAL_ENOMEM;
    r->prefix = malloc(plen + 1);
    if (r->prefix == NULL)
        goto fail_free_route;
    memcpy(r->prefix, prefix, plen + 1);
    r->prefix_len = plen;
    r->ctx = route_ctx;

    bool opened = false;
    if (l == NULL) {
        shoal_err err = listener_open(s, &addr, address, &l, ei);
        if (err != SHOAL_OK) {
            free(r->prefix);
            free(r);
            return err;
        }
        opened = true;
    }
    if (l->n_routes == l->cap_routes) {
        size_t cap = l->cap_routes ? l->cap_routes * 2 : 4;
        http_route **p = realloc(l->routes, cap * sizeof *p);
        if (p == NULL)
            goto fail_close_listener;
        l->routes = p;
        l->cap_routes = cap;
    }
    /* Keep the longest prefix first, so the first match is the best. */
    size_t at = 0;
    while (at < l->n_routes && l->routes[at]->prefix_len >= plen)
        at++;
    memmove(l->routes + at + 1, l->routes + at,
            (l->n_routes - at) * sizeof *l->routes);
    l->routes[at] = r;
    l->n_routes++;
    r->id = s->next_route_id++;
    if (s->next_route_id == 0)
        s->next_route_id = 1;
    if (route_id != NULL)
        *route_id = r->id;
    if (bound_port != NULL)
        *bound_port = addr_port(&l->addr);
    return SHOAL_OK;

fail_close_listener:
    if (opened)
        listener_close(l);
    free(r->prefix);
fail_free_route:
    free(r);
    return SHOAL_ENOMEM;
}

void http_server_route_remove(http_server *s, uint32_t route_id)
{
    for (http_listener *l = s->listeners; l != NULL; l = l->next) {
        for (size_t i = 0; i < l->n_routes; i++) {
            if (l->routes[i]->id != route_id)
                continue;
            http_route *r = l->routes[i];
            memmove(l->routes + i, l->routes + i + 1,
                    (l->n_routes - i - 1) * sizeof *l->routes);
            l->n_routes--;
            free(r->prefix);
            free(r);
            if (l->n_routes == 0)
                listener_close(l);
            return;
        }
    }
}

http_route *http__route_match(http_listener *l, const char *path, size_t len)
{
    if (l->closing)
        return NULL;
    for (size_t i = 0; i < l->n_routes; i++) {
        http_route *r = l->routes[i];
        if (r->prefix_len <= len && memcmp(r->prefix, path, r->prefix_len) == 0)
            return r;
    }
    return NULL;
}

/* ---- exchanges ---- */

void http_respond(http_server *s, http_exchange ex, const uint8_t *resp,
                  size_t len)
{
    http_conn *c = http__exchange_conn(s, ex);
    if (c == NULL) {
        http__log(s, 3, "response to an ended exchange dropped");
        return;
    }
    http__conn_respond(c, resp, len);
}

void http_fail(http_server *s, http_exchange ex, int status, const char *reason)
{
    http_conn *c = http__exchange_conn(s, ex);
    if (c == NULL)
        return;
    if (status < 400 || status > 599)
        status = 500;
    http__log(s, 3, "%s: %d %s", c->remote, status, reason ? reason : "");
    http__conn_send_status(c, status);
}

/* ---- closing ---- */

void http_server_close(http_server *s, void (*done)(void *ctx), void *ctx)
{
    if (s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_ctx = ctx;
    while (s->listeners != NULL)
        listener_close(s->listeners);
    http_conn *next;
    for (http_conn *c = s->conns; c != NULL; c = next) {
        next = c->next;
        http__conn_close(c);
    }
    uv_close((uv_handle_t *)&s->close_timer, on_close_timer_closed);
}

/* ---- for the fuzzer and tests ---- */

shoal_err http__adopt_fd(http_server *s, uint32_t route_id, int fd)
{
    http_listener *l = NULL;
    for (http_listener *it = s->listeners; it != NULL && l == NULL;
         it = it->next)
        for (size_t i = 0; i < it->n_routes; i++)
            if (it->routes[i]->id == route_id)
                l = it;
    if (l == NULL)
        return SHOAL_ENOTFOUND;
    if (s->n_conns >= s->lim.max_connections)
        return SHOAL_ELIMIT;
    http_conn *c = http__conn_alloc(s, l);
    if (c == NULL)
        return SHOAL_ENOMEM;
    uv_pipe_init(s->loop, &c->h.pipe, 0);
    if (uv_pipe_open(&c->h.pipe, fd) != 0) {
        http__conn_close(c);
        return SHOAL_EIO;
    }
    snprintf(c->remote, sizeof c->remote, "unix");
    if (!slot_take(s, c)) {
        http__conn_close(c);
        return SHOAL_ENOMEM;
    }
    s->n_conns++;
    http__conn_start(c);
    return SHOAL_OK;
}
