/* The core of the shoal:http-server capability provider
 * (docs/provider-http.md): an HTTP/1.1 server on a libuv loop that turns
 * each request into a msgpack request map, hands it to a dispatcher and
 * writes the msgpack response map the dispatcher gives back.
 *
 * Everything here runs on the thread of the loop given to http_server_new:
 * every function must be called there, and every callback runs there. The
 * server never blocks.
 *
 * Differences from the first sketch of this interface:
 * - an exchange is a value handle (http_exchange, a slot and a sequence
 *   number), not a pointer: a handle held after the exchange ended (it timed
 *   out, its client went away, the server closed) is recognised as stale and
 *   ignored, without the dispatcher having to release anything. So
 *   http_respond and http_fail take the server too.
 * - http_server_set_log routes the server's log lines (default: stderr).
 * - a response status of 100-199 is refused as malformed (502): an
 *   informational status cannot end an exchange. */
#ifndef SHOAL_HTTP_H
#define SHOAL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "shoal_err.h"

typedef struct http_server http_server;

/* One request awaiting its response. Copy it freely; it names the request
 * until the exchange ends, then nothing (id 0 never names one). */
typedef struct http_exchange {
    uint64_t id;
} http_exchange;

/* Zero in a field means its default. */
typedef struct http_limits {
    /* The request target plus every header's name and value, counting 4
     * bytes per header for ": " and CRLF (default 16 KiB). Beyond: 431 and
     * close. http-parser's own bound of 80 KiB for the whole head applies
     * too, with the same answer. */
    uint32_t max_header_bytes;
    /* The decoded request body (default 1 MiB). Beyond: 413 and close; a
     * Content-Length over it is refused before any of the body is read. */
    uint64_t max_body_bytes;
    /* How long the dispatcher has to answer (default 10000). Then: 504. */
    uint32_t timeout_ms;
    /* A connection that receives no byte for this long while it waits for
     * a request (between keep-alive requests, or in the middle of one), or
     * whose client reads nothing of a response for this long, is closed
     * (default 30000). */
    uint32_t keepalive_ms;
    /* Open connections (default 10000). A connection accepted beyond this
     * is answered 503 at once and closed. */
    uint32_t max_connections;
} http_limits;

#define HTTP_DEFAULT_MAX_HEADER_BYTES (16u << 10)
#define HTTP_DEFAULT_MAX_BODY_BYTES (1u << 20)
#define HTTP_DEFAULT_TIMEOUT_MS 10000u
#define HTTP_DEFAULT_KEEPALIVE_MS 30000u
#define HTTP_DEFAULT_MAX_CONNECTIONS 10000u

/* Called for each complete request routed to route_ctx. req is the msgpack
 * request map (docs/provider-http.md), valid only during the call. One of
 * http_respond or http_fail should follow for ex, now (inside this call)
 * or later; after the exchange ended (timeout, client gone, server closed)
 * either call is allowed and does nothing, and not calling at all is fine
 * then too. */
typedef void (*http_dispatch_fn)(void *ctx, void *route_ctx, http_exchange ex,
                                 const uint8_t *req, size_t len);

/* Log levels, as the node's: 0 error, 1 warn, 2 info, 3 debug. */
typedef void (*http_log_fn)(void *ctx, int level, const char *msg);

/* Makes a server on loop with no listener yet. limits may be NULL (all
 * defaults); the server copies it. On SHOAL_OK the caller owns *out and
 * ends it with http_server_close. Errors: SHOAL_ENOMEM. */
shoal_err http_server_new(uv_loop_t *loop, const http_limits *limits,
                          http_dispatch_fn dispatch, void *ctx,
                          http_server **out);

/* Sends the server's log lines to fn (NULL: back to stderr). */
void http_server_set_log(http_server *s, http_log_fn fn, void *ctx);

/* Routes the requests that reach address ("0.0.0.0:8080", "127.0.0.1:0",
 * "[::1]:8080") with a path starting with prefix ("/", "/api/": a plain
 * byte prefix that must start with '/') to route_ctx; among the routes of
 * one address the longest matching prefix wins. The first route of an
 * address opens its listener; port 0 always opens a new one on a free port
 * (give the port reported in *bound_port to add more routes to it). On
 * SHOAL_OK *route_id (never 0) names the route and *bound_port (either may
 * be NULL) is the listener's port. Errors: SHOAL_EINVAL (bad address or
 * prefix), SHOAL_EIO (bind or listen failed: ei says on what address and
 * why), SHOAL_EEXIST (the address already has a route with this prefix),
 * SHOAL_ESTATE (the server is closing), SHOAL_ENOMEM. */
shoal_err http_server_route_add(http_server *s, const char *address,
                                const char *prefix, void *route_ctx,
                                uint32_t *route_id, uint16_t *bound_port,
                                shoal_errinfo *ei);

/* Removes a route; an unknown id is ignored. When it was its address's last
 * route the listener closes, and so do the connections it accepted: idle
 * ones at once, busy ones after their current response. Requests already
 * dispatched to the route may still be answered. */
void http_server_route_remove(http_server *s, uint32_t route_id);

/* Answers ex with the msgpack response map resp (read during the call
 * only): {"status": int, "headers": [[name, value], ...] or {name: value},
 * "body": bin or str}, at most 1 MiB (docs/provider-http.md). A malformed
 * map is answered 502 and logged. Does nothing for an exchange that
 * ended. */
void http_respond(http_server *s, http_exchange ex, const uint8_t *resp,
                  size_t len);

/* Answers ex with status (503 when the actor's mailbox is full or it has
 * no replica, 504, 502, ...; outside 400-599: 500) and a body of the
 * status's standard phrase; reason goes to the debug log only. Does
 * nothing for an exchange that ended. */
void http_fail(http_server *s, http_exchange ex, int status,
               const char *reason);

/* Closes every listener and connection at once (dispatched exchanges end)
 * and frees the server once the loop has closed their handles: then it
 * calls done(ctx), never before http_server_close returns. From this call
 * on, http_respond and http_fail do nothing; after done, s is gone. */
void http_server_close(http_server *s, void (*done)(void *ctx), void *ctx);

#endif
