/* slow: an HTTP actor for the provider tests that takes its time.
 *
 * Each request is answered after the actor has been busy for the number of
 * milliseconds its query says ("ms=300"; default 200), so that tests can
 * fill its mailbox (503) and outlast a route's timeout (504).
 */
#define _POSIX_C_SOURCE 200809L
#include "shoal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_request(shoal_message *m)
{
    if (m->kind != SHOAL_MSG_REQUEST)
        return 0;
    shoal_http_request req;
    if (shoal_http_request_read(m->data, m->len, &req) != 0)
        return 0;
    long ms = 200;
    if (req.query_len > 3 && req.query_len < 16 &&
        memcmp(req.query, "ms=", 3) == 0) {
        char digits[16];
        memcpy(digits, req.query + 3, req.query_len - 3);
        digits[req.query_len - 3] = 0;
        ms = strtol(digits, NULL, 10);
    }
    int64_t until = now_ms() + ms;
    volatile uint64_t spins = 0;
    while (now_ms() < until)
        spins++;
    (void)shoal_http_respond_text(200, "done\n");
    return 0;
}

SHOAL_HANDLER(on_request);
