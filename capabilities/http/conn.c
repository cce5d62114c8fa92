/* A connection: bytes in through http-parser, one request at a time to the
 * dispatcher, its response out, then the next request (pipelined ones wait
 * in c->in), until the client or a limit closes it.
 *
 * States (http_impl.h): READING -> (request complete) WAITING -> (answer)
 * back to READING when the response went out at once, or WRITING until it
 * did; CLOSING after a response that ends the connection. One timer per
 * connection holds the deadline of the current state. */
#include <stdlib.h>
#include <string.h>

#include "http_impl.h"

static void conn_process(http_conn *c);
static void conn_arm(http_conn *c);
static void on_timer(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* ---- parser callbacks: collect the request ---- */

static int reject(http_conn *c, int status)
{
    c->reject_status = status;
    return -1;
}

/* Counts n more bytes of the head against the limit. */
static bool count_head(http_conn *c, size_t n)
{
    if (n > c->s->lim.max_header_bytes - c->head_bytes) {
        reject(c, 431);
        return false;
    }
    c->head_bytes += (uint32_t)n;
    return true;
}

static int on_message_begin(http_parser *p)
{
    http_conn *c = p->data;
    c->head.len = 0;
    c->body.len = 0;
    c->n_hdrs = 0;
    c->url_len = 0;
    c->head_bytes = 0;
    c->headers_done = false;
    c->last_was_value = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (!count_head(c, len))
        return -1;
    if (!http__buf_append(&c->head, at, len))
        return reject(c, 500);
    c->url_len += (uint32_t)len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    bool new_field = c->n_hdrs == 0 || c->last_was_value;
    if (!count_head(c, len + (new_field ? 4 : 0)))
        return -1;
    c->last_was_value = false;
    if (c->headers_done)
        return 0; /* a trailer: counted, not kept */
    if (new_field) {
        if (c->n_hdrs == c->cap_hdrs) {
            uint32_t cap = c->cap_hdrs ? c->cap_hdrs * 2 : 16;
            http_hdr *h = realloc(c->hdrs, cap * sizeof *h);
            if (h == NULL)
                return reject(c, 500);
            c->hdrs = h;
            c->cap_hdrs = cap;
        }
        c->hdrs[c->n_hdrs++] =
            (http_hdr){(uint32_t)c->head.len, 0, (uint32_t)c->head.len, 0};
    }
    if (!http__buf_reserve(&c->head, len))
        return reject(c, 500);
    char *dst = c->head.p + c->head.len;
    for (size_t i = 0; i < len; i++) {
        char ch = at[i];
        dst[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    c->head.len += len;
    c->hdrs[c->n_hdrs - 1].name_len += (uint32_t)len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (!count_head(c, len))
        return -1;
    bool first = !c->last_was_value;
    c->last_was_value = true;
    if (c->headers_done)
        return 0;
    http_hdr *h = &c->hdrs[c->n_hdrs - 1];
    if (first)
        h->val_off = (uint32_t)c->head.len;
    if (!http__buf_append(&c->head, at, len))
        return reject(c, 500);
    h->val_len += (uint32_t)len;
    return 0;
}

static bool header_is(http_conn *c, const http_hdr *h, const char *name,
                      const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    return h->name_len == nl &&
           memcmp(c->head.p + h->name_off, name, nl) == 0 && h->val_len == vl &&
           strncasecmp(c->head.p + h->val_off, value, vl) == 0;
}

static int on_headers_complete(http_parser *p)
{
    http_conn *c = p->data;
    c->headers_done = true;
    if (p->http_major != 1)
        return reject(c, 505);
    if (p->method == HTTP_CONNECT)
        return reject(c, 405);

    /* The target: origin form ("/a?b"), absolute form ("http://h/a?b") or
     * "*". http-parser splits it; a missing path is "/". */
    const char *url = c->head.p;
    c->path_off = c->path_len = c->query_off = c->query_len = 0;
    if (c->url_len == 1 && url[0] == '*') {
        c->path_len = 1;
    } else {
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(url, c->url_len, 0, &u) != 0)
            return reject(c, 400);
        if (u.field_set & (1 << UF_PATH)) {
            c->path_off = u.field_data[UF_PATH].off;
            c->path_len = u.field_data[UF_PATH].len;
        }
        if (u.field_set & (1 << UF_QUERY)) {
            c->query_off = u.field_data[UF_QUERY].off;
            c->query_len = u.field_data[UF_QUERY].len;
        }
    }

    if ((p->flags & F_CONTENTLENGTH) &&
        p->content_length > c->s->lim.max_body_bytes)
        return reject(c, 413);

    /* A client that waits for "100 Continue" before its body gets it here,
     * when the body may come. The socket has no response queued (the last
     * one went out before this request was read), so the 25 bytes go at
     * once; if the client reads nothing, it sends the body after its own
     * wait anyway. */
    if (p->http_major == 1 && p->http_minor >= 1) {
        for (uint32_t i = 0; i < c->n_hdrs; i++) {
            if (header_is(c, &c->hdrs[i], "expect", "100-continue")) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
                uv_try_write(&c->h.stream, &b, 1);
                break;
            }
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (len > c->s->lim.max_body_bytes - c->body.len)
        return reject(c, 413);
    if (!http__buf_append(&c->body, at, len))
        return reject(c, 500);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_conn *c = p->data;
    c->request_ready = true;
    c->req_head = p->method == HTTP_HEAD;
    c->req_http10 =
        p->http_major == 0 || (p->http_major == 1 && p->http_minor == 0);
    /* After an upgrade request the stream is no longer HTTP. */
    c->req_keep_alive = http_should_keep_alive(p) && !p->upgrade;
    /* Stop here: one request at a time; the rest waits in c->in. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Parses up to len bytes; stops after a complete request (request_ready)
 * or at an error (reject_status). Returns the bytes consumed. */
static size_t conn_feed(http_conn *c, const char *data, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        return n;
    }
    if (e != HPE_OK) {
        if (c->reject_status == 0)
            c->reject_status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
        http__log(c->s, 3, "%s: %s", c->remote, http_errno_name(e));
        return len;
    }
    if (n < len) {
        /* Only after an upgrade; the connection ends with this request. */
        c->close_after = true;
        return len;
    }
    return n;
}

/* ---- the request message ---- */

static int pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, s, len);
}

static int pack_key(msgpack_packer *pk, const char *key)
{
    return pack_str(pk, key, strlen(key));
}

/* Packs the request of c into s->req_buf (docs/provider-http.md). False
 * when memory ran out. */
static bool pack_request(http_conn *c, const http_route *r)
{
    http_server *s = c->s;
    msgpack_packer *pk = &s->req_pk;
    const char *head = c->head.p;
    int e = 0; /* msgpack-c's writers return 0 or -1 */
    s->req_buf.size = 0;
    e |= msgpack_pack_map(pk, 7);
    e |= pack_key(pk, "method");
    e |= pack_key(pk, http_method_str(c->parser.method));
    e |= pack_key(pk, "path");
    if (c->path_len > 0)
        e |= pack_str(pk, head + c->path_off, c->path_len);
    else
        e |= pack_str(pk, "/", 1);
    e |= pack_key(pk, "query");
    e |= pack_str(pk, head + c->query_off, c->query_len);
    e |= pack_key(pk, "headers");
    e |= msgpack_pack_array(pk, c->n_hdrs);
    for (uint32_t i = 0; i < c->n_hdrs; i++) {
        const http_hdr *h = &c->hdrs[i];
        e |= msgpack_pack_array(pk, 2);
        e |= pack_str(pk, head + h->name_off, h->name_len);
        e |= pack_str(pk, head + h->val_off, h->val_len);
    }
    e |= pack_key(pk, "body");
    e |= msgpack_pack_bin(pk, c->body.len);
    e |= msgpack_pack_bin_body(pk, c->body.p, c->body.len);
    e |= pack_key(pk, "remote");
    e |= pack_key(pk, c->remote);
    e |= pack_key(pk, "route");
    e |= pack_str(pk, r->prefix, r->prefix_len);
    return e == 0;
}

static void conn_dispatch(http_conn *c)
{
    http_server *s = c->s;
    c->request_ready = false;
    if (!c->req_keep_alive)
        c->close_after = true;
    const char *path = c->path_len ? c->head.p + c->path_off : "/";
    http_route *r =
        http__route_match(c->l, path, c->path_len ? c->path_len : 1);
    if (r == NULL) {
        http__conn_send_status(c, 404);
        return;
    }
    if (!pack_request(c, r)) {
        http__conn_send_status(c, 500);
        return;
    }
    http_exchange ex = http__exchange_begin(s, c);
    c->state = CONN_WAITING;
    conn_arm(c);
    s->dispatching++;
    s->dispatch(s->ctx, r->ctx, ex, (const uint8_t *)s->req_buf.data,
                s->req_buf.size);
    s->dispatching--;
}

/* ---- writing ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn *c = req->data;
    if (c->handles_closing)
        return;
    if (status < 0 || c->peer_eof)
        http__conn_close(c);
}

static void start_reading(http_conn *c)
{
    if (c->reading || c->peer_eof)
        return;
    if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
        c->reading = true;
}

/* The response that ends the connection went out: shut the write side and
 * read (discarding) until the client closes, so that its unread request
 * bytes do not turn our close into a reset that loses the response. */
static void conn_linger(http_conn *c)
{
    c->state = CONN_CLOSING;
    if (uv_shutdown(&c->sd, &c->h.stream, on_shutdown) != 0) {
        http__conn_close(c);
        return;
    }
    start_reading(c);
    conn_arm(c);
}

static void conn_after_response(http_conn *c)
{
    if (c->close_after) {
        conn_linger(c);
        return;
    }
    c->state = CONN_READING;
    http__buf_trim(&c->out, HTTP_KEEP_BUF);
    if (c->body.cap > HTTP_KEEP_BUF) {
        c->body.len = 0;
        http__buf_free(&c->body);
    }
    c->last_active = uv_now(c->s->loop);
    start_reading(c);
    if (c->in_process) {
        conn_arm(c);
        return; /* conn_process, below us on the stack, goes on */
    }
    if (c->s->dispatching > 0) {
        /* Answered from inside another connection's dispatch: that
         * request's map is still in use, so go on from the loop. */
        c->kick = true;
        uv_timer_start(&c->timer, on_timer, 0, 0);
        return;
    }
    conn_arm(c);
    conn_process(c);
}

static void on_write(uv_write_t *req, int status)
{
    http_conn *c = req->data;
    if (c->handles_closing)
        return;
    c->out.len = 0;
    if (status < 0) {
        http__conn_close(c);
        return;
    }
    conn_after_response(c);
}

/* Sends head and body: at once when the socket takes them, else from a
 * copy in c->out. */
static void conn_write(http_conn *c, const char *head, size_t hlen,
                       const char *body, size_t blen)
{
    uv_buf_t b[2] = {uv_buf_init((char *)head, (unsigned)hlen),
                     uv_buf_init((char *)body, (unsigned)blen)};
    int r = uv_try_write(&c->h.stream, b, blen ? 2 : 1);
    if (r == UV_EAGAIN || r == UV_ENOSYS)
        r = 0;
    if (r < 0) {
        http__conn_close(c);
        return;
    }
    size_t sent = (size_t)r;
    if (sent == hlen + blen) {
        conn_after_response(c);
        return;
    }
    c->out.len = 0;
    bool ok = sent < hlen
                  ? http__buf_append(&c->out, head + sent, hlen - sent) &&
                        http__buf_append(&c->out, body, blen)
                  : http__buf_append(&c->out, body + (sent - hlen),
                                     blen - (sent - hlen));
    if (!ok) {
        http__conn_close(c);
        return;
    }
    c->state = CONN_WRITING;
    conn_arm(c);
    uv_buf_t rest = uv_buf_init(c->out.p, (unsigned)c->out.len);
    if (uv_write(&c->wr, &c->h.stream, &rest, 1, on_write) != 0)
        http__conn_close(c);
}

void http__conn_send_status(http_conn *c, int status)
{
    http_server *s = c->s;
    http__exchange_end(s, c);
    const char *why;
    bool no_body;
    if (!http__format_head(c, status, NULL, 0, true, &no_body, &why)) {
        http__log(s, 0, "%s: %s", c->remote, why);
        http__conn_close(c);
        return;
    }
    conn_write(c, s->resp_head.p, s->resp_head.len, NULL, 0);
}

void http__conn_respond(http_conn *c, const uint8_t *resp, size_t len)
{
    http_server *s = c->s;
    int status;
    const msgpack_object *headers;
    const char *body, *why;
    size_t blen;
    bool no_body;
    if (!http__parse_response(s, resp, len, &status, &headers, &body, &blen,
                              &why) ||
        !http__format_head(c, status, headers, blen, false, &no_body, &why)) {
        msgpack_zone_clear(&s->zone);
        http__log(s, 1, "%s: malformed response for %s: %s; answered 502",
                  c->l->name, c->remote, why);
        http__conn_send_status(c, 502);
        return;
    }
    msgpack_zone_clear(&s->zone);
    http__exchange_end(s, c);
    conn_write(c, s->resp_head.p, s->resp_head.len, body, no_body ? 0 : blen);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    http_conn *c = h->data;
    buf->base = c->s->read_buf;
    buf->len = HTTP_READ_BUF;
}

static bool keep_input(http_conn *c, const char *p, size_t n)
{
    if (c->in_off > 0) {
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    if (!http__buf_append(&c->in, p, n)) {
        http__conn_close(c);
        return false;
    }
    return true;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    http_conn *c = st->data;
    if (nread == 0 || c->handles_closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            http__conn_close(c);
            return;
        }
        c->peer_eof = true;
        c->reading = false;
        uv_read_stop(st);
        if (c->state == CONN_CLOSING)
            http__conn_close(c);
        else if (c->state == CONN_READING)
            conn_process(c);
        return;
    }
    c->last_active = uv_now(c->s->loop);
    if (c->state == CONN_CLOSING)
        return;
    size_t n = (size_t)nread;
    if (c->state == CONN_READING && c->in.len == c->in_off && !c->in_process) {
        /* Parse straight from the shared buffer; keep what follows a
         * complete request. */
        c->in_process = true;
        size_t used = conn_feed(c, buf->base, n);
        c->in_process = false;
        if (used < n && !keep_input(c, buf->base + used, n - used))
            return;
        conn_process(c);
        return;
    }
    if (!keep_input(c, buf->base, n))
        return;
    if (c->state != CONN_READING) {
        if (c->in.len - c->in_off > HTTP_MAX_PENDING) {
            uv_read_stop(st);
            c->reading = false;
        }
        return;
    }
    conn_process(c);
}

/* Answers rejections, dispatches complete requests and parses held input,
 * for as long as the connection is free to. */
static void conn_process(http_conn *c)
{
    if (c->in_process || c->handles_closing)
        return;
    c->in_process = true;
    c->kick = false; /* whatever it was due for happens now */
    while (!c->handles_closing) {
        if (c->reject_status != 0 && c->state == CONN_READING) {
            int status = c->reject_status;
            c->reject_status = 0;
            c->request_ready = false;
            c->close_after = true;
            c->in.len = c->in_off = 0;
            http__conn_send_status(c, status);
            continue;
        }
        if (c->state != CONN_READING)
            break;
        if (c->request_ready) {
            conn_dispatch(c);
            continue;
        }
        size_t avail = c->in.len - c->in_off;
        if (avail > 0) {
            c->in_off += conn_feed(c, c->in.p + c->in_off, avail);
            if (c->in_off >= c->in.len)
                c->in.len = c->in_off = 0;
            continue;
        }
        if (c->peer_eof) {
            /* Everything asked has been answered (or the request was cut
             * short by the client): nothing more can come. */
            http__conn_close(c);
            break;
        }
        break;
    }
    c->in_process = false;
    if (!c->handles_closing && c->state == CONN_READING) {
        http__buf_trim(&c->in, HTTP_KEEP_BUF);
        start_reading(c);
    }
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t)
{
    http_conn *c = t->data;
    http_server *s = c->s;
    if (c->handles_closing)
        return;
    switch (c->state) {
    case CONN_READING:
        if (c->kick) {
            c->kick = false;
            conn_arm(c);
            conn_process(c);
            return;
        }
        if (uv_now(s->loop) - c->last_active < s->lim.keepalive_ms) {
            conn_arm(c);
            return;
        }
        http__conn_close(c);
        return;
    case CONN_WAITING:
        http__log(s, 3, "%s: no response within %u ms; answered 504", c->remote,
                  s->lim.timeout_ms);
        http__conn_send_status(c, 504);
        return;
    case CONN_WRITING: /* the client reads nothing */
    case CONN_CLOSING:
        http__conn_close(c);
        return;
    }
}

/* Sets the timer to the deadline of c's state. */
static void conn_arm(http_conn *c)
{
    http_server *s = c->s;
    uint64_t ms = 0;
    switch (c->state) {
    case CONN_READING: {
        if (c->kick)
            return;
        uint64_t idle = uv_now(s->loop) - c->last_active;
        ms = idle < s->lim.keepalive_ms ? s->lim.keepalive_ms - idle : 0;
        break;
    }
    case CONN_WAITING:
        ms = s->lim.timeout_ms;
        break;
    case CONN_WRITING:
        ms = s->lim.keepalive_ms;
        break;
    case CONN_CLOSING:
        ms = HTTP_LINGER_MS < s->lim.keepalive_ms ? HTTP_LINGER_MS
                                                  : s->lim.keepalive_ms;
        break;
    }
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- life ---- */

http_conn *http__conn_alloc(http_server *s, http_listener *l)
{
    http_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->s = s;
    c->l = l;
    l->refs++;
    c->slot = UINT32_MAX;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2; /* the stream, initialised by the caller, and timer */
    s->open_handles += 2;
    c->next = s->conns;
    if (c->next != NULL)
        c->next->prev = c;
    s->conns = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->wr.data = c;
    c->sd.data = c;
    c->state = CONN_READING;
    return c;
}

void http__conn_start(http_conn *c)
{
    c->h.handle.data = c;
    c->last_active = uv_now(c->s->loop);
    start_reading(c);
    if (!c->reading) {
        http__conn_close(c);
        return;
    }
    conn_arm(c);
}

void http__conn_refuse(http_conn *c)
{
    c->h.handle.data = c;
    c->close_after = true;
    http__log(c->s, 1, "%s: %u connections open; refused %s", c->l->name,
              c->s->n_conns, c->remote);
    http__conn_send_status(c, 503);
}

void http__conn_wind_down(http_conn *c)
{
    if (c->state == CONN_WAITING || c->state == CONN_WRITING)
        c->close_after = true;
    else if (c->state == CONN_READING)
        http__conn_close(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    http_server *s = c->s;
    if (--c->open_handles == 0) {
        http__buf_free(&c->head);
        http__buf_free(&c->body);
        http__buf_free(&c->in);
        http__buf_free(&c->out);
        free(c->hdrs);
        http__listener_unref(c->l);
        free(c);
    }
    http__handle_closed(s);
}

void http__conn_close(http_conn *c)
{
    http_server *s = c->s;
    if (c->handles_closing)
        return;
    c->handles_closing = true;
    http__slot_release(s, c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->h.handle.data = c;
    c->timer.data = c;
    uv_close(&c->h.handle, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}
