/* greeter: answers HTTP requests from the http-server provider.
 *
 * GET / (or any path its route sends it) gets "hello from shoal", with the
 * path it was asked for; any other method gets 405. It keeps no state, so
 * it runs as several replicas and the provider spreads requests over them.
 */
#include "shoal.h"

#include <stdio.h>

static int on_request(shoal_message *m)
{
    if (m->kind != SHOAL_MSG_REQUEST)
        return 0;
    shoal_http_request req;
    if (shoal_http_request_read(m->data, m->len, &req) != 0) {
        (void)shoal_http_respond_text(400, "not an HTTP request\n");
        return 0;
    }
    if (!shoal_http_method_is(&req, "GET") &&
        !shoal_http_method_is(&req, "HEAD")) {
        (void)shoal_http_respond_text(405, "only GET here\n");
        return 0;
    }
    char body[256];
    int n =
        snprintf(body, sizeof body, "hello from shoal (you asked for %.*s)\n",
                 (int)(req.path_len > 160 ? 160 : req.path_len), req.path);
    (void)shoal_http_respond(200, "text/plain; charset=utf-8", body, (size_t)n);
    return 0;
}

SHOAL_HANDLER(on_request);
