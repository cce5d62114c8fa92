/* A fuzz target for the http-server core (capabilities/http): each input is
 * what one or two clients send, fed to real server connections over
 * socketpairs (http__adopt_fd), in chunks, with the loop running in
 * between, then the clients' EOF.
 *
 * Input: byte 0 picks the chunk size (bits 1-7) and whether there are two
 * connections (bit 0; then byte 1 tells where the second one's bytes
 * start); the rest is the stream.
 *
 * The dispatcher, by path: "/r..." answers with the request's body taken
 * as the response map (so the response reader is fuzzed too); "/f..."
 * fails 503; "/h..." holds the exchange; "/a..." answers every held
 * exchange from inside its own dispatch (another connection's, or stale
 * ones); anything else gets a small response with headers. Held exchanges
 * left at the end are answered after the clients' EOF.
 *
 * Checks, besides the sanitizers': every request map is a map of the seven
 * documented fields of the documented types; when the stream holds no
 * "HEAD" (whose answers have no body for their length), what the server
 * writes parses as HTTP/1.1 responses; the connections close once the
 * clients have sent EOF and everything was answered; no connection is
 * left counted. Built with -fsanitize=fuzzer by run-http.sh; the meson
 * test fuzz-http-regressions replays tests/capabilities/http/regressions
 * through this same function. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <msgpack.h>

#include "http_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http: check failed: %s\n", what);
        abort();
    }
}

#define MAX_HELD 64

typedef struct harness {
    uv_loop_t loop;
    http_server *s;
    uint32_t route;
    http_exchange held[MAX_HELD];
    size_t n_held;
} harness;

static bool str_is(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Checks the request map and finds its path and body. */
static void check_request(const uint8_t *req, size_t len, const char **path,
                          size_t *path_len, const char **body, size_t *body_len)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object root;
    size_t off = 0;
    fuzz_check(msgpack_unpack((const char *)req, len, &off, &zone, &root) ==
                   MSGPACK_UNPACK_SUCCESS,
               "the request is one msgpack value");
    fuzz_check(root.type == MSGPACK_OBJECT_MAP && root.via.map.size == 7,
               "the request is a map of 7");
    static const char *const keys[] = {"method", "path",   "query", "headers",
                                       "body",   "remote", "route"};
    for (uint32_t i = 0; i < 7; i++) {
        const msgpack_object *k = &root.via.map.ptr[i].key;
        const msgpack_object *v = &root.via.map.ptr[i].val;
        fuzz_check(str_is(k, keys[i]), "the request's keys, in order");
        if (i == 3) {
            fuzz_check(v->type == MSGPACK_OBJECT_ARRAY, "headers array");
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                const msgpack_object *p = &v->via.array.ptr[j];
                fuzz_check(p->type == MSGPACK_OBJECT_ARRAY &&
                               p->via.array.size == 2 &&
                               p->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
                               p->via.array.ptr[1].type == MSGPACK_OBJECT_STR,
                           "a header is a pair of strings");
                const msgpack_object *n = &p->via.array.ptr[0];
                for (uint32_t b = 0; b < n->via.str.size; b++)
                    fuzz_check(n->via.str.ptr[b] < 'A' ||
                                   n->via.str.ptr[b] > 'Z',
                               "header names are lower-case");
            }
        } else if (i == 4) {
            fuzz_check(v->type == MSGPACK_OBJECT_BIN, "body is bin");
            fuzz_check(v->via.bin.size <= 4096, "body within the limit");
            *body = v->via.bin.ptr;
            *body_len = v->via.bin.size;
        } else {
            fuzz_check(v->type == MSGPACK_OBJECT_STR, "string field");
            if (i == 1) {
                fuzz_check(v->via.str.size > 0, "a path");
                *path = v->via.str.ptr;
                *path_len = v->via.str.size;
            }
        }
    }
    msgpack_zone_destroy(&zone);
}

static void respond_small(harness *h, http_exchange ex)
{
    /* {"status": 201, "headers": {"x-a": "b"}, "body": "ok"} */
    static const uint8_t resp[] = {
        0x83, 0xa6, 's', 't',  'a', 't', 'u', 's',  0xcc, 201, 0xa7,
        'h',  'e',  'a', 'd',  'e', 'r', 's', 0x81, 0xa3, 'x', '-',
        'a',  0xa1, 'b', 0xa4, 'b', 'o', 'd', 'y',  0xa2, 'o', 'k'};
    http_respond(h->s, ex, resp, sizeof resp);
}

static void answer_held(harness *h)
{
    for (size_t i = 0; i < h->n_held; i++) {
        if (i % 2 == 0)
            respond_small(h, h->held[i]);
        else
            http_fail(h->s, h->held[i], 504, "held");
        /* A second answer does nothing. */
        http_fail(h->s, h->held[i], 500, "again");
    }
    h->n_held = 0;
}

static void dispatch(void *ctx, void *route_ctx, http_exchange ex,
                     const uint8_t *req, size_t len)
{
    harness *h = ctx;
    const char *path = NULL, *body = NULL;
    size_t path_len = 0, body_len = 0;
    check_request(req, len, &path, &path_len, &body, &body_len);
    char kind = path_len > 1 ? path[1] : '/';
    switch (kind) {
    case 'r':
        http_respond(h->s, ex, (const uint8_t *)body, body_len);
        break;
    case 'f':
        http_fail(h->s, ex, 503, "mailbox full");
        break;
    case 'h':
        if (h->n_held < MAX_HELD) {
            h->held[h->n_held++] = ex;
            break;
        }
        http_fail(h->s, ex, 503, "too many held");
        break;
    case 'a':
        answer_held(h);
        respond_small(h, ex);
        break;
    default:
        respond_small(h, ex);
        break;
    }
}

static harness *harness_get(void)
{
    static harness *h;
    if (h != NULL)
        return h;
    h = calloc(1, sizeof *h);
    fuzz_check(h != NULL && uv_loop_init(&h->loop) == 0, "loop");
    http_limits lim = {.max_header_bytes = 1024,
                       .max_body_bytes = 4096,
                       .timeout_ms = 60000,
                       .keepalive_ms = 60000};
    fuzz_check(http_server_new(&h->loop, &lim, dispatch, h, &h->s) == SHOAL_OK,
               "server");
    shoal_errinfo ei;
    fuzz_check(http_server_route_add(h->s, "127.0.0.1:0", "/", NULL, &h->route,
                                     NULL, &ei) == SHOAL_OK,
               "route");
    uint16_t port;
    uint32_t id;
    fuzz_check(http_server_route_add(h->s, "127.0.0.1:0", "/x/", NULL, &id,
                                     &port, &ei) == SHOAL_OK,
               "route");
    return h;
}

/* One client: its bytes, how far they went, what came back. */
typedef struct client {
    int fd;
    const uint8_t *data;
    size_t len, sent;
    bool eof_sent, closed;
    char *got;
    size_t got_len, got_cap;
} client;

static void client_pump(client *c, size_t chunk)
{
    if (c->sent < c->len) {
        size_t n = c->len - c->sent < chunk ? c->len - c->sent : chunk;
        ssize_t w = send(c->fd, c->data + c->sent, n, MSG_NOSIGNAL);
        if (w > 0)
            c->sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            c->sent = c->len; /* the server closed: the rest is moot */
    } else if (!c->eof_sent) {
        shutdown(c->fd, SHUT_WR);
        c->eof_sent = true;
    }
    while (!c->closed) {
        if (c->got_cap - c->got_len < 4096) {
            c->got_cap = c->got_cap ? c->got_cap * 2 : 8192;
            c->got = realloc(c->got, c->got_cap);
            fuzz_check(c->got != NULL, "memory");
        }
        ssize_t r = read(c->fd, c->got + c->got_len, c->got_cap - c->got_len);
        if (r > 0) {
            c->got_len += (size_t)r;
            continue;
        }
        if (r == 0)
            c->closed = true;
        break;
    }
}

static int count_complete(http_parser *p)
{
    (*(int *)p->data)++;
    return 0;
}

/* What the server wrote parses as responses. */
static void check_responses(const client *c)
{
    static const http_parser_settings settings = {.on_message_complete =
                                                      count_complete};
    http_parser p;
    int n = 0;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &n;
    size_t used = http_parser_execute(&p, &settings, c->got, c->got_len);
    fuzz_check(HTTP_PARSER_ERRNO(&p) == HPE_OK && used == c->got_len,
               "the server's output parses as HTTP responses");
    fuzz_check(c->got_len == 0 || memcmp(c->got, "HTTP/1.1 ", 9) == 0,
               "responses are HTTP/1.1");
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    harness *h = harness_get();
    size_t chunk = (size_t)(data[0] >> 1) * 37 + 1;
    bool two = data[0] & 1;
    data++;
    size--;
    client cl[2] = {{.data = data, .len = size}, {.fd = -1}};
    if (two) {
        size_t split = (size_t)data[0] * size / 256;
        cl[0].data = data + 1;
        cl[0].len = split > 0 ? split - 1 : 0;
        cl[1].data = data + 1 + cl[0].len;
        cl[1].len = size - 1 - cl[0].len;
    }
    int n = two ? 2 : 1;
    for (int i = 0; i < n; i++) {
        int sv[2];
        fuzz_check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        fuzz_check(http__adopt_fd(h->s, h->route, sv[0]) == SHOAL_OK, "adopt");
        cl[i].fd = sv[1];
    }

    uint64_t start = now_ms();
    for (;;) {
        bool all_closed = true, all_eof = true;
        for (int i = 0; i < n; i++) {
            client_pump(&cl[i], chunk);
            all_closed &= cl[i].closed && cl[i].eof_sent;
            all_eof &= cl[i].eof_sent;
        }
        uv_run(&h->loop, UV_RUN_NOWAIT);
        if (all_closed)
            break;
        /* After EOF, what is held can only be answered from here. */
        if (all_eof)
            answer_held(h);
        fuzz_check(now_ms() - start < 5000,
                   "the connections close after the clients' EOF");
    }
    /* Let the closes finish. */
    for (int i = 0; i < 100 && h->s->conns != NULL; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    fuzz_check(h->s->n_conns == 0 && h->s->conns == NULL,
               "no connection is left");
    h->n_held = 0;

    bool has_head = false;
    for (size_t i = 0; i + 4 <= size && !has_head; i++)
        has_head = memcmp(data + i, "HEAD", 4) == 0;
    for (int i = 0; i < n; i++) {
        if (!has_head)
            check_responses(&cl[i]);
        close(cl[i].fd);
        free(cl[i].got);
    }
    return 0;
}
