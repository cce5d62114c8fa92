/* Tests of the http-server core (capabilities/http/http.h) with real
 * clients: a server on its own loop in a second thread, on 127.0.0.1 port
 * 0, with a test dispatcher, driven over TCP by raw sockets from this
 * thread (responses are read with http-parser) and once by curl.
 *
 * The dispatcher's routes: /echo/ and /api/, /api/v2/ echo the request map
 * as text lines; /never never answers (504); /late answers after the
 * timeout (dropped); /fail answers 503 with http_fail; /slow answers after
 * 50 ms from a timer; /bad answers a malformed map (502), chosen by the
 * query; /custom answers with its own status and headers; /empty answers
 * 204. Every socket read has a timeout, every loop is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <http_parser.h>
#include <uv.h>

#include "http.h"
#include "shoal_api.h"

#define TIMEOUT_MS 300u
#define KEEPALIVE_MS 1000u
#define MAX_BODY 65536u
#define MAX_HEADER 2048u

enum route_kind {
    R_ECHO,
    R_NEVER,
    R_LATE,
    R_FAIL,
    R_SLOW,
    R_BAD,
    R_CUSTOM,
    R_EMPTY,
    R_HOLD,
    R_RELEASE
};

typedef struct fixture fixture;

/* A server of the fixture, and the context of its dispatcher. */
typedef struct test_server {
    fixture *f;
    http_server *s;
    uint16_t port;
} test_server;

/* An answer due later, from a timer. */
typedef struct delayed {
    uv_timer_t timer;
    test_server *ts;
    http_exchange ex;
    const char *body;
    struct delayed *next;
} delayed;

struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    test_server main, tiny;
    delayed *pending;
    int servers_open;
    http_exchange held[4]; /* by /hold, answered by /release */
    size_t n_held;
};

static const int route_kinds[] = {R_ECHO, R_NEVER,  R_LATE,  R_FAIL, R_SLOW,
                                  R_BAD,  R_CUSTOM, R_EMPTY, R_HOLD, R_RELEASE};

/* ---- the dispatcher (loop thread) ---- */

static void append(char **buf, size_t *len, size_t *cap, const char *s,
                   size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void append_str_field(char **buf, size_t *len, size_t *cap,
                             const msgpack_object *map, const char *key)
{
    const char *s;
    size_t n;
    append(buf, len, cap, key, strlen(key));
    append(buf, len, cap, " ", 1);
    if (api_get_str(map, key, &s, &n))
        append(buf, len, cap, s, n);
    else
        append(buf, len, cap, "<missing>", 9);
    append(buf, len, cap, "\n", 1);
}

/* The request map as text: "method GET\npath /x\n...h name: value\n...
 * body BYTES". Checks the map's shape on the way. */
static char *render_request(const uint8_t *req, size_t len, size_t *out_len)
{
    api_msg m;
    shoal_err err = api_parse(req, len, &m, NULL);
    if (err != SHOAL_OK)
        return NULL;
    char *buf = NULL;
    size_t blen = 0, cap = 0;
    append(&buf, &blen, &cap, "", 0);
    const char *keys[] = {"method", "path", "query", "route", "remote"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        append_str_field(&buf, &blen, &cap, m.root, keys[i]);
    const msgpack_object *hs = api_get(m.root, "headers");
    if (hs != NULL && hs->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < hs->via.array.size; i++) {
            const msgpack_object *pair = &hs->via.array.ptr[i];
            if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2)
                continue;
            const msgpack_object *n = &pair->via.array.ptr[0];
            const msgpack_object *v = &pair->via.array.ptr[1];
            append(&buf, &blen, &cap, "h ", 2);
            append(&buf, &blen, &cap, n->via.str.ptr, n->via.str.size);
            append(&buf, &blen, &cap, ": ", 2);
            append(&buf, &blen, &cap, v->via.str.ptr, v->via.str.size);
            append(&buf, &blen, &cap, "\n", 1);
        }
    }
    const uint8_t *body;
    size_t body_len;
    append(&buf, &blen, &cap, "body ", 5);
    if (api_get_bin(m.root, "body", &body, &body_len))
        append(&buf, &blen, &cap, (const char *)body, body_len);
    else
        append(&buf, &blen, &cap, "<missing>", 9);
    api_msg_free(&m);
    *out_len = blen;
    return buf;
}

static void respond_text(test_server *ts, http_exchange ex, int status,
                         const char *body, size_t len)
{
    api_writer w;
    api_writer_init(&w);
    msgpack_pack_map(&w.pk, 3);
    api_pack_kv_int(&w.pk, "status", status);
    api_pack_str(&w.pk, "headers");
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_array(&w.pk, 2);
    api_pack_str(&w.pk, "Content-Type");
    api_pack_str(&w.pk, "text/plain");
    api_pack_kv_bin(&w.pk, "body", body, len);
    http_respond(ts->s, ex, (const uint8_t *)w.buf.data, w.buf.size);
    api_writer_free(&w);
}

static void on_delayed_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_delayed(uv_timer_t *t)
{
    delayed *d = t->data;
    fixture *f = d->ts->f;
    for (delayed **p = &f->pending; *p != NULL; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    respond_text(d->ts, d->ex, 200, d->body, strlen(d->body));
    uv_close((uv_handle_t *)&d->timer, on_delayed_closed);
}

static void answer_later(test_server *ts, http_exchange ex, uint64_t ms,
                         const char *body)
{
    delayed *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->ts = ts;
    d->ex = ex;
    d->body = body;
    uv_timer_init(&ts->f->loop, &d->timer);
    d->timer.data = d;
    d->next = ts->f->pending;
    ts->f->pending = d;
    uv_timer_start(&d->timer, on_delayed, ms, 0);
}

static void respond_bad(test_server *ts, http_exchange ex, const char *query,
                        size_t qlen)
{
    api_writer w;
    api_writer_init(&w);
    if (qlen == 6 && memcmp(query, "notmap", 6) == 0) {
        msgpack_pack_int(&w.pk, 7);
    } else if (qlen == 4 && memcmp(query, "crlf", 4) == 0) {
        msgpack_pack_map(&w.pk, 1);
        api_pack_str(&w.pk, "headers");
        msgpack_pack_array(&w.pk, 1);
        msgpack_pack_array(&w.pk, 2);
        api_pack_str(&w.pk, "X-Split");
        api_pack_str(&w.pk, "a\r\nInjected: yes");
    } else if (qlen == 6 && memcmp(query, "status", 6) == 0) {
        msgpack_pack_map(&w.pk, 1);
        api_pack_kv_int(&w.pk, "status", 99);
    } else if (qlen == 5 && memcmp(query, "extra", 5) == 0) {
        msgpack_pack_map(&w.pk, 0);
        msgpack_pack_int(&w.pk, 1);
    } else if (qlen == 4 && memcmp(query, "name", 4) == 0) {
        msgpack_pack_map(&w.pk, 1);
        api_pack_str(&w.pk, "headers");
        msgpack_pack_map(&w.pk, 1);
        api_pack_kv_str(&w.pk, "Bad Name", "x");
    } else if (qlen == 4 && memcmp(query, "huge", 4) == 0) {
        /* A map that claims 2^31 entries in five bytes. */
        static const uint8_t huge[] = {0xdf, 0x7f, 0xff, 0xff, 0xff};
        http_respond(ts->s, ex, huge, sizeof huge);
        api_writer_free(&w);
        return;
    } else {
        static const uint8_t junk[] = {0xc1, 0x00};
        http_respond(ts->s, ex, junk, sizeof junk);
        api_writer_free(&w);
        return;
    }
    http_respond(ts->s, ex, (const uint8_t *)w.buf.data, w.buf.size);
    api_writer_free(&w);
}

static void dispatch(void *ctx, void *route_ctx, http_exchange ex,
                     const uint8_t *req, size_t len)
{
    test_server *ts = ctx;
    api_msg m;
    assert_int_equal(api_parse(req, len, &m, NULL), SHOAL_OK);
    const char *query = "";
    size_t qlen = 0;
    assert_true(api_get_str(m.root, "query", &query, &qlen));
    switch (*(const int *)route_ctx) {
    case R_ECHO: {
        size_t n = 0;
        char *text = render_request(req, len, &n);
        assert_non_null(text);
        respond_text(ts, ex, 200, text, n);
        free(text);
        break;
    }
    case R_NEVER:
        break;
    case R_LATE:
        answer_later(ts, ex, TIMEOUT_MS * 2, "late");
        break;
    case R_FAIL:
        http_fail(ts->s, ex, 503, "mailbox full");
        /* A second answer is a no-op. */
        http_fail(ts->s, ex, 502, "again");
        break;
    case R_SLOW:
        answer_later(ts, ex, 50, "slow");
        break;
    case R_BAD:
        respond_bad(ts, ex, query, qlen);
        break;
    case R_HOLD:
        assert_true(ts->f->n_held < 4);
        ts->f->held[ts->f->n_held++] = ex;
        break;
    case R_RELEASE:
        /* Answers other connections' exchanges from inside this one's
         * dispatch, then this one. */
        for (size_t i = 0; i < ts->f->n_held; i++)
            respond_text(ts, ts->f->held[i], 200, "released", 8);
        ts->f->n_held = 0;
        respond_text(ts, ex, 200, "release", 7);
        break;
    case R_CUSTOM: {
        api_writer w;
        api_writer_init(&w);
        msgpack_pack_map(&w.pk, 3);
        api_pack_kv_int(&w.pk, "status", 201);
        api_pack_str(&w.pk, "headers");
        msgpack_pack_map(&w.pk, 3);
        api_pack_kv_str(&w.pk, "X-Custom", "yes");
        api_pack_kv_str(&w.pk, "Content-Length", "999");
        api_pack_kv_str(&w.pk, "Connection", "close");
        api_pack_kv_str(&w.pk, "body", "made");
        http_respond(ts->s, ex, (const uint8_t *)w.buf.data, w.buf.size);
        api_writer_free(&w);
        break;
    }
    case R_EMPTY: {
        api_writer w;
        api_writer_init(&w);
        msgpack_pack_map(&w.pk, 2);
        api_pack_kv_int(&w.pk, "status", 204);
        api_pack_kv_str(&w.pk, "body", "dropped");
        http_respond(ts->s, ex, (const uint8_t *)w.buf.data, w.buf.size);
        api_writer_free(&w);
        break;
    }
    }
    api_msg_free(&m);
}

/* ---- the fixture ---- */

static void on_server_closed(void *ctx)
{
    fixture *f = ctx;
    f->servers_open--;
}

static void on_stop(uv_async_t *a)
{
    fixture *f = a->data;
    while (f->pending != NULL) {
        delayed *d = f->pending;
        f->pending = d->next;
        uv_close((uv_handle_t *)&d->timer, on_delayed_closed);
    }
    http_server_close(f->main.s, on_server_closed, f);
    http_server_close(f->tiny.s, on_server_closed, f);
    uv_close((uv_handle_t *)&f->stop, NULL);
}

static void run_loop(void *arg)
{
    fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void add_route(test_server *ts, const char *address, const char *prefix,
                      int kind)
{
    shoal_errinfo ei = {0};
    uint32_t id;
    uint16_t port;
    shoal_err err = http_server_route_add(
        ts->s, address, prefix, (void *)&route_kinds[kind], &id, &port, &ei);
    if (err != SHOAL_OK)
        fail_msg("route %s %s: %s", address, prefix, ei.msg);
    assert_int_not_equal(id, 0);
    ts->port = port;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    http_limits lim = {.max_header_bytes = MAX_HEADER,
                       .max_body_bytes = MAX_BODY,
                       .timeout_ms = TIMEOUT_MS,
                       .keepalive_ms = KEEPALIVE_MS};
    f->main.f = f;
    assert_int_equal(
        http_server_new(&f->loop, &lim, dispatch, &f->main, &f->main.s),
        SHOAL_OK);
    add_route(&f->main, "127.0.0.1:0", "/echo/", R_ECHO);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", f->main.port);
    add_route(&f->main, addr, "/api/", R_ECHO);
    add_route(&f->main, addr, "/api/v2/", R_ECHO);
    add_route(&f->main, addr, "/never", R_NEVER);
    add_route(&f->main, addr, "/late", R_LATE);
    add_route(&f->main, addr, "/fail", R_FAIL);
    add_route(&f->main, addr, "/slow", R_SLOW);
    add_route(&f->main, addr, "/bad", R_BAD);
    add_route(&f->main, addr, "/custom", R_CUSTOM);
    add_route(&f->main, addr, "/empty", R_EMPTY);
    add_route(&f->main, addr, "/hold", R_HOLD);
    add_route(&f->main, addr, "/release", R_RELEASE);

    http_limits tiny = {.max_connections = 2, .keepalive_ms = 5000};
    f->tiny.f = f;
    assert_int_equal(
        http_server_new(&f->loop, &tiny, dispatch, &f->tiny, &f->tiny.s),
        SHOAL_OK);
    add_route(&f->tiny, "127.0.0.1:0", "/", R_ECHO);
    f->servers_open = 2;

    assert_int_equal(uv_async_init(&f->loop, &f->stop, on_stop), 0);
    f->stop.data = f;
    assert_int_equal(uv_thread_create(&f->thread, run_loop, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    uv_async_send(&f->stop);
    uv_thread_join(&f->thread);
    assert_int_equal(f->servers_open, 0);
    /* Every handle of the servers was closed. */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* ---- the client (test thread) ---- */

typedef struct response {
    int status;
    char head[8192]; /* "name: value\n" lines, names lower-cased */
    size_t head_len;
    char body[131072];
    size_t body_len;
    bool complete;
    bool keep_alive;
} response;

typedef struct client {
    int fd;
    char buf[131072]; /* received, not parsed yet */
    size_t len;
    http_parser p;
    response *r;
    bool head_request;
} client;

static void head_add(response *r, const char *s, size_t n, bool lower)
{
    if (r->head_len + n >= sizeof r->head)
        n = sizeof r->head - r->head_len - 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        r->head[r->head_len++] = lower && c >= 'A' && c <= 'Z' ? c + 32 : c;
    }
    r->head[r->head_len] = '\0';
}

static int cl_on_field(http_parser *p, const char *at, size_t len)
{
    client *cl = p->data;
    head_add(cl->r, at, len, true);
    head_add(cl->r, ": ", 2, false);
    return 0;
}

static int cl_on_value(http_parser *p, const char *at, size_t len)
{
    client *cl = p->data;
    head_add(cl->r, at, len, false);
    head_add(cl->r, "\n", 1, false);
    return 0;
}

static int cl_on_headers_complete(http_parser *p)
{
    client *cl = p->data;
    cl->r->status = p->status_code;
    return cl->head_request ? 1 : 0;
}

static int cl_on_body(http_parser *p, const char *at, size_t len)
{
    response *r = ((client *)p->data)->r;
    assert_true(r->body_len + len < sizeof r->body);
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int cl_on_complete(http_parser *p)
{
    client *cl = p->data;
    cl->r->complete = true;
    cl->r->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings cl_settings = {
    .on_header_field = cl_on_field,
    .on_header_value = cl_on_value,
    .on_headers_complete = cl_on_headers_complete,
    .on_body = cl_on_body,
    .on_message_complete = cl_on_complete,
};

static client *cl_connect(uint16_t port)
{
    client *cl = calloc(1, sizeof *cl);
    assert_non_null(cl);
    cl->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cl->fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    http_parser_init(&cl->p, HTTP_RESPONSE);
    cl->p.data = cl;
    return cl;
}

static void cl_free(client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    free(cl);
}

static void cl_send(client *cl, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void cl_sends(client *cl, const char *s)
{
    cl_send(cl, s, strlen(s));
}

/* Reads one response into r; false when the connection ended (or 5 s
 * passed) first. */
static bool cl_read(client *cl, response *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    cl->r = r;
    cl->head_request = head_request;
    for (int rounds = 0; rounds < 1000; rounds++) {
        if (cl->len > 0) {
            size_t n =
                http_parser_execute(&cl->p, &cl_settings, cl->buf, cl->len);
            enum http_errno e = HTTP_PARSER_ERRNO(&cl->p);
            if (e == HPE_PAUSED)
                http_parser_pause(&cl->p, 0);
            else
                assert_int_equal(e, HPE_OK);
            memmove(cl->buf, cl->buf + n, cl->len - n);
            cl->len -= n;
            if (r->complete)
                return true;
            if (n > 0 && cl->len > 0)
                continue;
        }
        ssize_t got =
            recv(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len, 0);
        if (got <= 0)
            return false;
        cl->len += (size_t)got;
    }
    return false;
}

/* Whether the server closed the connection (within 5 s) with nothing more
 * to read. */
static bool cl_closed(client *cl)
{
    if (cl->len > 0)
        return false;
    char b[256];
    ssize_t n = recv(cl->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static bool has_header(const response *r, const char *line)
{
    return strstr(r->head, line) != NULL;
}

static response *new_response(void)
{
    response *r = calloc(1, sizeof *r);
    assert_non_null(r);
    return r;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void get(client *cl, const char *path, response *r)
{
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    cl_sends(cl, req);
    assert_true(cl_read(cl, r, false));
}

/* ---- tests ---- */

static void test_echo(void **state)
{
    fixture *f = *state;
    client *cl = cl_connect(f->main.port);
    response *r = new_response();
    cl_sends(cl, "GET /echo/x?a=1&b=2 HTTP/1.1\r\n"
                 "Host: 127.0.0.1\r\n"
                 "X-Multi: 1\r\n"
                 "Mixed-CASE: Value\r\n"
                 "X-Multi: 2\r\n"
                 "X-Empty:\r\n"
                 "\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 200);
    assert_true(r->keep_alive);
    assert_true(has_header(r, "server: shoal\n"));
    assert_true(has_header(r, "date: "));
    assert_true(has_header(r, " GMT\n"));
    assert_true(has_header(r, "content-type: text/plain\n"));
    char cl_line[64];
    snprintf(cl_line, sizeof cl_line, "content-length: %zu\n", r->body_len);
    assert_true(has_header(r, cl_line));
    assert_non_null(strstr(r->body, "method GET\n"));
    assert_non_null(strstr(r->body, "path /echo/x\n"));
    assert_non_null(strstr(r->body, "query a=1&b=2\n"));
    assert_non_null(strstr(r->body, "route /echo/\n"));
    assert_non_null(strstr(r->body, "remote 127.0.0.1:"));
    assert_non_null(strstr(r->body, "h host: 127.0.0.1\n"
                                    "h x-multi: 1\n"
                                    "h mixed-case: Value\n"
                                    "h x-multi: 2\n"
                                    "h x-empty: \n"));
    assert_non_null(strstr(r->body, "body \0"));

    /* No query; an absolute-form target. */
    get(cl, "/echo/", r);
    assert_non_null(strstr(r->body, "path /echo/\nquery \n"));
    get(cl, "http://example.com/echo/abs?q", r);
    assert_non_null(strstr(r->body, "path /echo/abs\nquery q\n"));
    free(r);
    cl_free(cl);
}

static void test_keep_alive(void **state)
{
    fixture *f = *state;
    client *cl = cl_connect(f->main.port);
    response *r = new_response();
    for (int i = 0; i < 3; i++) {
        char path[32];
        snprintf(path, sizeof path, "/echo/%d", i);
        get(cl, path, r);
        assert_int_equal(r->status, 200);
        assert_true(r->keep_alive);
        char want[64];
        snprintf(want, sizeof want, "path /echo/%d\n", i);
        assert_non_null(strstr(r->body, want));
    }
    free(r);
    cl_free(cl);
}

static void test_pipelined(void **state)
{
    fixture *f = *state;
    client *cl = cl_connect(f->main.port);
    response *r = new_response();
    /* The first is answered later than the second would be: order holds. */
    cl_sends(cl, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /echo/second HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /echo/third HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: 5\r\n\r\nhello");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "slow");
    assert_true(cl_read(cl, r, false));
    assert_non_null(strstr(r->body, "path /echo/second\n"));
    assert_true(cl_read(cl, r, false));
    assert_non_null(strstr(r->body, "method POST\npath /echo/third\n"));
    assert_non_null(strstr(r->body, "body hello"));
    free(r);
    cl_free(cl);
}

static void test_malformed_request(void **state)
{
    fixture *f = *state;
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /echo/\x7f HTTP/1.1\r\n\r\n",
        ("GET /echo/ HTTP/1.1\r\nContent-Length: 1\r\n"
         "Content-Length: 2\r\n\r\nab"),
        "GET /echo/ HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET /echo/ HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "POST /echo/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    response *r = new_response();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        client *cl = cl_connect(f->main.port);
        cl_sends(cl, bad[i]);
        assert_true(cl_read(cl, r, false));
        assert_int_equal(r->status, 400);
        assert_true(has_header(r, "connection: close\n"));
        assert_string_equal(r->body, "Bad Request\n");
        assert_true(cl_closed(cl));
        cl_free(cl);
    }
    /* Only HTTP/1.x. */
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, "GET /echo/ HTTP/2.0\r\nHost: x\r\n\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 505);
    assert_true(cl_closed(cl));
    cl_free(cl);
    /* CONNECT is refused. */
    cl = cl_connect(f->main.port);
    cl_sends(cl, "CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 405);
    assert_true(cl_closed(cl));
    cl_free(cl);
    free(r);
}

static void test_body_too_large(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    /* Refused on the Content-Length alone: no body is ever sent. */
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, "POST /echo/ HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: 1000000000\r\n\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 413);
    assert_true(has_header(r, "connection: close\n"));
    assert_true(cl_closed(cl));
    cl_free(cl);

    /* A chunked body that grows past the limit. */
    cl = cl_connect(f->main.port);
    cl_sends(cl, "POST /echo/ HTTP/1.1\r\nHost: t\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    static char chunk[8200];
    memcpy(chunk, "2000\r\n", 6);
    memset(chunk + 6, 'x', 0x2000);
    memcpy(chunk + 6 + 0x2000, "\r\n", 2);
    bool answered = false;
    for (int i = 0; i < 16 && !answered; i++) {
        if (send(cl->fd, chunk, 6 + 0x2000 + 2, MSG_NOSIGNAL) <= 0)
            break;
        struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
        answered = poll(&pfd, 1, 20) == 1;
    }
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 413);
    cl_free(cl);

    /* Exactly at the limit is fine. */
    cl = cl_connect(f->main.port);
    char head[128];
    snprintf(head, sizeof head,
             "PUT /echo/ HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n\r\n",
             MAX_BODY);
    cl_sends(cl, head);
    char *body = malloc(MAX_BODY);
    memset(body, 'y', MAX_BODY);
    cl_send(cl, body, MAX_BODY);
    free(body);
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 200);
    assert_true(r->body_len > MAX_BODY);
    cl_free(cl);
    free(r);
}

static void test_header_limit(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    char req[MAX_HEADER + 256];
    char big[MAX_HEADER + 1];
    memset(big, 'v', MAX_HEADER);
    big[MAX_HEADER] = '\0';
    snprintf(req, sizeof req, "GET /echo/ HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, req);
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 431);
    assert_true(has_header(r, "connection: close\n"));
    assert_true(cl_closed(cl));
    cl_free(cl);

    /* Many small headers add up the same way. */
    cl = cl_connect(f->main.port);
    cl_sends(cl, "GET /echo/ HTTP/1.1\r\n");
    for (int i = 0; i < 400; i++)
        cl_sends(cl, "A: b\r\n");
    cl_sends(cl, "\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 431);
    cl_free(cl);

    /* A long target counts too. */
    cl = cl_connect(f->main.port);
    snprintf(req, sizeof req, "GET /echo/%s HTTP/1.1\r\n\r\n", big);
    cl_sends(cl, req);
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 431);
    cl_free(cl);
    free(r);
}

static void test_http10(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, "GET /echo/old HTTP/1.0\r\n\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 200);
    assert_true(has_header(r, "connection: close\n"));
    assert_true(cl_closed(cl));
    cl_free(cl);

    cl = cl_connect(f->main.port);
    for (int i = 0; i < 2; i++) {
        cl_sends(cl,
                 "GET /echo/old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_true(cl_read(cl, r, false));
        assert_int_equal(r->status, 200);
        assert_true(has_header(r, "connection: keep-alive\n"));
    }
    cl_free(cl);

    /* HTTP/1.1 with Connection: close. */
    cl = cl_connect(f->main.port);
    cl_sends(cl, "GET /echo/ HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 200);
    assert_true(has_header(r, "connection: close\n"));
    assert_true(cl_closed(cl));
    cl_free(cl);
    free(r);
}

static void test_chunked_body(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, "POST /echo/chunks HTTP/1.1\r\nHost: t\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n");
    cl_sends(cl, "6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "body hello world"));
    /* Trailers are not headers of the request. */
    assert_null(strstr(r->body, "x-trailer"));
    get(cl, "/echo/next", r);
    assert_non_null(strstr(r->body, "path /echo/next\n"));
    free(r);
    cl_free(cl);
}

static void test_head(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, "HEAD /echo/h HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(cl_read(cl, r, true));
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    assert_true(has_header(r, "content-length: "));
    assert_null(strstr(r->head, "content-length: 0\n"));
    /* No stray body before the next response. */
    get(cl, "/echo/after-head", r);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "path /echo/after-head\n"));
    free(r);
    cl_free(cl);
}

static void test_not_found(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    get(cl, "/nothing", r);
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "Not Found\n");
    assert_true(r->keep_alive);
    /* "/echo" is not under the prefix "/echo/". */
    get(cl, "/echo", r);
    assert_int_equal(r->status, 404);
    get(cl, "/echo/yes", r);
    assert_int_equal(r->status, 200);
    /* The tiny server's "/" takes every path. */
    cl_free(cl);
    cl = cl_connect(f->tiny.port);
    get(cl, "/any/path", r);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "route /\n"));
    free(r);
    cl_free(cl);
}

static void test_longest_prefix(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    get(cl, "/api/x", r);
    assert_non_null(strstr(r->body, "route /api/\n"));
    get(cl, "/api/v2/x", r);
    assert_non_null(strstr(r->body, "route /api/v2/\n"));
    get(cl, "/api/v2", r);
    assert_non_null(strstr(r->body, "route /api/\n"));
    free(r);
    cl_free(cl);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    uint64_t t0 = now_ms();
    get(cl, "/never", r);
    uint64_t took = now_ms() - t0;
    assert_int_equal(r->status, 504);
    assert_string_equal(r->body, "Gateway Timeout\n");
    assert_true(took >= TIMEOUT_MS - 20 && took < 5000);
    /* The connection goes on. */
    get(cl, "/echo/after-timeout", r);
    assert_int_equal(r->status, 200);
    free(r);
    cl_free(cl);
}

static void test_late_response_dropped(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    get(cl, "/late", r);
    assert_int_equal(r->status, 504);
    /* The late answer comes while nothing is asked on the connection... */
    usleep((TIMEOUT_MS * 2) * 1000);
    /* ... and while the next request waits: neither reaches the client. */
    get(cl, "/late", r);
    assert_int_equal(r->status, 504);
    get(cl, "/echo/after-late", r);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "path /echo/after-late\n"));
    free(r);
    cl_free(cl);
}

static void test_fail_and_slow(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    get(cl, "/fail", r);
    assert_int_equal(r->status, 503);
    assert_string_equal(r->body, "Service Unavailable\n");
    get(cl, "/slow", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "slow");
    free(r);
    cl_free(cl);
}

static void test_bad_response(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    const char *kinds[] = {"/bad?junk",   "/bad?notmap", "/bad?crlf",
                           "/bad?status", "/bad?extra",  "/bad?name"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        get(cl, kinds[i], r);
        assert_int_equal(r->status, 502);
        assert_null(strstr(r->head, "injected"));
    }
    get(cl, "/echo/still", r);
    assert_int_equal(r->status, 200);
    free(r);
    cl_free(cl);
}

static void test_actor_headers(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    get(cl, "/custom", r);
    assert_int_equal(r->status, 201);
    assert_true(has_header(r, "x-custom: yes\n"));
    assert_true(has_header(r, "content-length: 4\n"));
    assert_null(strstr(r->head, "999"));
    assert_true(has_header(r, "connection: close\n"));
    assert_string_equal(r->body, "made");
    assert_true(cl_closed(cl));
    cl_free(cl);

    cl = cl_connect(f->main.port);
    get(cl, "/empty", r);
    assert_int_equal(r->status, 204);
    assert_int_equal(r->body_len, 0);
    assert_null(strstr(r->head, "content-length"));
    get(cl, "/echo/after-204", r);
    assert_int_equal(r->status, 200);
    free(r);
    cl_free(cl);
}

/* An exchange answered while another connection's request is being
 * dispatched: its connection goes on with its next request afterwards. */
static void test_answer_from_other_dispatch(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *a = cl_connect(f->main.port);
    cl_sends(a, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /echo/next HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(50000);
    client *b = cl_connect(f->main.port);
    get(b, "/release", r);
    assert_string_equal(r->body, "release");
    assert_true(cl_read(a, r, false));
    assert_string_equal(r->body, "released");
    assert_true(cl_read(a, r, false));
    assert_non_null(strstr(r->body, "path /echo/next\n"));
    cl_free(a);
    cl_free(b);
    free(r);
}

static void test_expect_continue(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, "POST /echo/up HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 100);
    cl_sends(cl, "data");
    assert_true(cl_read(cl, r, false));
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "body data"));
    free(r);
    cl_free(cl);
}

static void test_client_goes_away(void **state)
{
    fixture *f = *state;
    const char *reqs[] = {
        "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /never HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /echo/ HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /echo/ HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf",
        "GET /echo/ HTTP/1.1\r\nHo",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
        client *cl = cl_connect(f->main.port);
        cl_sends(cl, reqs[i]);
        cl_free(cl);
    }
    /* A reset instead of a close. */
    client *cl = cl_connect(f->main.port);
    cl_sends(cl, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    cl_free(cl);
    /* A half-close after the request still gets the answer. */
    cl = cl_connect(f->main.port);
    cl_sends(cl, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(cl->fd, SHUT_WR);
    response *r = new_response();
    assert_true(cl_read(cl, r, false));
    assert_string_equal(r->body, "slow");
    assert_true(cl_closed(cl));
    cl_free(cl);

    usleep((TIMEOUT_MS + 100) * 1000);
    cl = cl_connect(f->main.port);
    get(cl, "/echo/alive", r);
    assert_int_equal(r->status, 200);
    free(r);
    cl_free(cl);
}

static void test_idle_close(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *cl = cl_connect(f->main.port);
    get(cl, "/echo/", r);
    uint64_t t0 = now_ms();
    assert_true(cl_closed(cl));
    uint64_t took = now_ms() - t0;
    assert_true(took >= KEEPALIVE_MS - 50 && took < KEEPALIVE_MS + 2000);
    cl_free(cl);
    /* A request that never completes is cut off the same way. */
    cl = cl_connect(f->main.port);
    cl_sends(cl, "GET /echo/ HTTP/1.1\r\n");
    assert_true(cl_closed(cl));
    cl_free(cl);
    free(r);
}

static void test_max_connections(void **state)
{
    fixture *f = *state;
    response *r = new_response();
    client *a = cl_connect(f->tiny.port);
    client *b = cl_connect(f->tiny.port);
    get(a, "/a", r);
    get(b, "/b", r);
    client *c = cl_connect(f->tiny.port);
    cl_sends(c, "GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(cl_read(c, r, false));
    assert_int_equal(r->status, 503);
    assert_true(cl_closed(c));
    cl_free(c);
    /* Once one goes, a new one is served. */
    cl_free(a);
    bool served = false;
    for (int i = 0; i < 50 && !served; i++) {
        usleep(20000);
        c = cl_connect(f->tiny.port);
        cl_sends(c, "GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
        served = cl_read(c, r, false) && r->status == 200;
        cl_free(c);
    }
    assert_true(served);
    cl_free(b);
    free(r);
}

static void test_curl(void **state)
{
    fixture *f = *state;
    if (system("command -v curl >/dev/null 2>&1") != 0)
        skip();
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "curl -sS -i --max-time 5 -H 'X-From: curl' --data-binary hello "
             "'http://127.0.0.1:%u/echo/curl?x=1' 2>&1",
             f->main.port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[16384];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Server: shoal\r\n"));
    assert_non_null(strstr(out, "method POST\n"));
    assert_non_null(strstr(out, "path /echo/curl\nquery x=1\n"));
    assert_non_null(strstr(out, "h x-from: curl\n"));
    assert_non_null(strstr(out, "body hello"));
}

/* ---- routes, on a loop of this thread ---- */

static void on_done(void *ctx)
{
    *(int *)ctx = 1;
}

static void run_briefly(uv_loop_t *loop)
{
    for (int i = 0; i < 10; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static bool can_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void test_routes(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_server *s;
    assert_int_equal(http_server_new(&loop, NULL, dispatch, NULL, &s),
                     SHOAL_OK);
    shoal_errinfo ei;
    uint32_t a, b, c;
    uint16_t port, port2;
    assert_int_equal(
        http_server_route_add(s, "127.0.0.1:0", "/", NULL, &a, &port, &ei),
        SHOAL_OK);
    assert_true(port != 0);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    assert_int_equal(
        http_server_route_add(s, addr, "/x/", NULL, &b, &port2, &ei), SHOAL_OK);
    assert_int_equal(port2, port);
    assert_int_equal(http_server_route_add(s, addr, "/", NULL, &c, NULL, &ei),
                     SHOAL_EEXIST);
    assert_int_equal(
        http_server_route_add(s, "nonsense", "/", NULL, &c, NULL, &ei),
        SHOAL_EINVAL);
    assert_int_equal(
        http_server_route_add(s, "127.0.0.1:99999", "/", NULL, &c, NULL, &ei),
        SHOAL_EINVAL);
    assert_int_equal(
        http_server_route_add(s, "127.0.0.1:0", "nope", NULL, &c, NULL, &ei),
        SHOAL_EINVAL);

    /* A port someone else listens on. */
    int other = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(other, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(other, 1), 0);
    socklen_t slen = sizeof sa;
    getsockname(other, (struct sockaddr *)&sa, &slen);
    char taken[32];
    snprintf(taken, sizeof taken, "127.0.0.1:%u", ntohs(sa.sin_port));
    assert_int_equal(http_server_route_add(s, taken, "/", NULL, &c, NULL, &ei),
                     SHOAL_EIO);
    assert_non_null(strstr(ei.msg, taken));
    assert_non_null(strstr(ei.msg, "address already in use"));
    close(other);

    /* The listener stays while one route is left, and goes with it. */
    http_server_route_remove(s, a);
    run_briefly(&loop);
    assert_true(can_connect(port));
    http_server_route_remove(s, b);
    http_server_route_remove(s, b); /* unknown now: ignored */
    run_briefly(&loop);
    assert_false(can_connect(port));

    /* Closing frees everything once the loop has run. */
    assert_int_equal(http_server_route_add(s, "[::1]:0", "/", NULL, &a, &port,
                                           &ei) == SHOAL_OK ||
                         strstr(ei.msg, "[::1]") != NULL,
                     1);
    int done = 0;
    http_server_close(s, on_done, &done);
    assert_int_equal(done, 0);
    for (int i = 0; i < 100 && !done; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(done, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest with_servers[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_malformed_request),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_longest_prefix),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_late_response_dropped),
        cmocka_unit_test(test_fail_and_slow),
        cmocka_unit_test(test_bad_response),
        cmocka_unit_test(test_actor_headers),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_answer_from_other_dispatch),
        cmocka_unit_test(test_client_goes_away),
        cmocka_unit_test(test_idle_close),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_curl),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_routes),
    };
    int failed = cmocka_run_group_tests_name("http with servers", with_servers,
                                             setup, teardown);
    failed += cmocka_run_group_tests_name("http routes", alone, NULL, NULL);
    return failed;
}
