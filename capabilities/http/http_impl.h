/* Internals of the http module shared by its files: server.c (server,
 * listeners, routes, accepting), conn.c (a connection: reading, parsing,
 * dispatching, writing, timers) and response.c (response maps to bytes). */
#ifndef SHOAL_HTTP_IMPL_H
#define SHOAL_HTTP_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

#include <http_parser.h>
#include <msgpack.h>

#include "http.h"

/* A growable byte buffer, kept between requests. */
typedef struct hbuf {
    char *p;
    size_t len, cap;
} hbuf;

bool http__buf_reserve(hbuf *b, size_t extra);
bool http__buf_append(hbuf *b, const void *p, size_t n);
/* Frees b's memory when it grew past keep bytes, so that one large
 * request does not pin its buffer on an idle connection. */
void http__buf_trim(hbuf *b, size_t keep);
void http__buf_free(hbuf *b);

typedef struct http_listener http_listener;
typedef struct http_conn http_conn;

typedef struct http_route {
    uint32_t id;
    void *ctx;
    size_t prefix_len;
    char *prefix;
} http_route;

struct http_listener {
    uv_tcp_t tcp;
    http_server *s;
    struct sockaddr_storage addr; /* as bound (the real port) */
    char name[64];                /* "127.0.0.1:8080" */
    http_route **routes;          /* longest prefix first */
    size_t n_routes, cap_routes;
    /* One while the handle is open, one per connection it accepted. */
    uint32_t refs;
    bool closing;
    http_listener *prev, *next;
};

/* Where a connection is: reading a request, waiting for the dispatcher,
 * writing a response that did not fit the socket at once, or closing
 * (response sent, write side shut, discarding input until EOF). */
typedef enum conn_state {
    CONN_READING,
    CONN_WAITING,
    CONN_WRITING,
    CONN_CLOSING
} conn_state;

/* A header of the request being read: offsets into http_conn.head. */
typedef struct http_hdr {
    uint32_t name_off, name_len, val_off, val_len;
} http_hdr;

struct http_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_timer_t timer; /* idle, dispatcher, write or linger deadline */
    uv_write_t wr;
    uv_shutdown_t sd;
    http_server *s;
    http_listener *l;
    http_conn *prev, *next;
    uint32_t slot; /* in s->slots; UINT32_MAX for a refused connection */
    conn_state state;
    http_parser parser;

    bool in_process; /* conn_process is on the stack */
    bool request_ready;
    bool peer_eof;
    bool reading; /* uv_read_start in effect */
    bool handles_closing;
    bool close_after;  /* close once the current response is out */
    bool headers_done; /* of the request being read (trailers follow) */
    bool last_was_value;
    bool req_head; /* the request's method is HEAD */
    bool req_keep_alive;
    bool req_http10;
    bool kick; /* the timer is due at once to go on parsing */
    uint8_t open_handles;
    int reject_status; /* set by the parser callbacks: answer and close */

    /* The request being read: its target, then the headers' names
     * (lower-cased) and values, in head; its body in body. */
    hbuf head, body;
    http_hdr *hdrs;
    uint32_t n_hdrs, cap_hdrs;
    uint32_t url_len, head_bytes;
    uint32_t path_off, path_len, query_off, query_len;

    /* Input not parsed yet (pipelined requests, bytes read while waiting). */
    hbuf in;
    size_t in_off;
    /* The unsent rest of a response. */
    hbuf out;

    uint64_t last_active; /* uv_now of the last byte read */
    char remote[64];
};

/* A connection slot: the connection using it, and the sequence number of
 * its current exchange. An exchange id is slot << 32 | seq. */
typedef struct conn_slot {
    http_conn *c;
    uint32_t seq;
    uint32_t next_free;
} conn_slot;

struct http_server {
    uv_loop_t *loop;
    http_limits lim;
    http_dispatch_fn dispatch;
    void *ctx;
    http_log_fn log;
    void *log_ctx;

    http_listener *listeners;
    http_conn *conns;
    uint32_t n_conns; /* not counting refused ones */
    uint32_t next_route_id;
    uint32_t dispatching; /* depth of dispatcher calls on the stack */

    conn_slot *slots;
    uint32_t n_slots, cap_slots, free_slot; /* free list, UINT32_MAX ends */

    /* Shared by every connection: reads land here (one loop thread reads
     * one connection at a time), request maps and response heads are built
     * here, response maps are decoded into zone. */
    char *read_buf;
    msgpack_sbuffer req_buf;
    msgpack_packer req_pk;
    hbuf resp_head;
    msgpack_zone zone;
    time_t date_sec;
    char date[40];

    /* Keeps close asynchronous: closed with the rest by http_server_close. */
    uv_timer_t close_timer;
    uint32_t open_handles;
    bool closing;
    void (*done)(void *ctx);
    void *done_ctx;
};

#define HTTP_READ_BUF (64u << 10)
/* Bytes of a connection's buffers kept between requests. */
#define HTTP_KEEP_BUF (16u << 10)
/* Unparsed input held while a request is being answered; past it the
 * connection stops reading until the response is out. */
#define HTTP_MAX_PENDING (64u << 10)
/* How long a closing connection waits for its client's EOF. */
#define HTTP_LINGER_MS 2000u

void http__log(http_server *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One of the server's handles finished closing; frees the server when it
 * was the last one and the server is closing. */
void http__handle_closed(http_server *s);
void http__listener_unref(http_listener *l);
/* Gives c's slot back (c stops counting as a connection). */
void http__slot_release(http_server *s, http_conn *c);
/* A new exchange on c, and the end of c's current one: its handle is
 * stale from then on. */
http_exchange http__exchange_begin(http_server *s, http_conn *c);
void http__exchange_end(http_server *s, http_conn *c);
/* The route of l whose prefix is the longest one that path starts with. */
http_route *http__route_match(http_listener *l, const char *path, size_t len);

/* conn.c */
/* Takes a stream (uv_tcp_t accepted from l, or a pipe) into a new
 * connection. The caller initialised c->h and set c->remote. */
http_conn *http__conn_alloc(http_server *s, http_listener *l);
void http__conn_start(http_conn *c);
/* Answers 503 and closes: accepted beyond max_connections. */
void http__conn_refuse(http_conn *c);
void http__conn_close(http_conn *c);
/* The listener of c closes: close now, or after the current response. */
void http__conn_wind_down(http_conn *c);
/* The connection of a live exchange, or NULL. */
http_conn *http__exchange_conn(http_server *s, http_exchange ex);
void http__conn_respond(http_conn *c, const uint8_t *resp, size_t len);
/* Sends a response of the server's own: status and its phrase as body. */
void http__conn_send_status(http_conn *c, int status);

/* response.c */
const char *http__status_phrase(int status);
/* The Date header's value for now, cached per second. */
const char *http__date(http_server *s);
/* Builds the head of a response into s->resp_head for the request of c,
 * given the actor's headers (the msgpack array or map, or NULL) and body
 * length. With text, the body is the status's phrase and a newline, as
 * text/plain, and follows the head in s->resp_head. *no_body tells whether
 * the body must be left out (HEAD, 204, 304). Returns false with *why set
 * when a header is unacceptable or memory ran out; sets c->close_after
 * when the connection must close after the response. */
bool http__format_head(http_conn *c, int status, const msgpack_object *headers,
                       size_t body_len, bool text, bool *no_body,
                       const char **why);
/* Reads a response map: false with *why when malformed. *body points into
 * resp (or is NULL when empty). */
bool http__parse_response(http_server *s, const uint8_t *resp, size_t len,
                          int *status, const msgpack_object **headers,
                          const char **body, size_t *body_len,
                          const char **why);

/* For the fuzzer and tests: serves the stream socket fd (a socketpair end)
 * as if it had been accepted by the listener of route_id. The server owns
 * fd on SHOAL_OK. Errors: SHOAL_ENOTFOUND, SHOAL_ELIMIT, SHOAL_EIO,
 * SHOAL_ENOMEM. */
shoal_err http__adopt_fd(http_server *s, uint32_t route_id, int fd);

#endif
