/* visits: a counter kept in the kv provider, served over HTTP.
 *
 * Each GET adds one to the key "visits" of its kv bucket and answers with
 * the new count; the count is the provider's, so it survives restarts of
 * this actor and of the node, and every replica shares it.
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
    if (!shoal_http_method_is(&req, "GET")) {
        (void)shoal_http_respond_text(405, "only GET here\n");
        return 0;
    }
    shoal_id kv;
    int64_t count;
    if (shoal_lookup("kv", &kv) != 0 ||
        shoal_kv_incr(kv, "visits", 1, &count) != 0) {
        (void)shoal_http_respond_text(503, "the counter is unavailable\n");
        return 0;
    }
    char body[64];
    int n = snprintf(body, sizeof body, "%lld\n", (long long)count);
    (void)shoal_http_respond(200, "text/plain; charset=utf-8", body, (size_t)n);
    return 0;
}

SHOAL_HANDLER(on_request);
