/* The control protocol's client side over an NNG req socket; see
 * client.h. */
#include "client.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "output.h"

struct ctl_client {
    nng_socket sock;
    char *url;
    int64_t timeout_ms;
    /* Set from NNG's thread when the connection to the node closes: a
     * request after that fails at once instead of waiting for a
     * reconnection that a node that went away will not accept. */
    atomic_bool lost;
};

shoal_err ctl_node_url(const char *address, char **url, shoal_errinfo *ei)
{
    size_t n = strlen(address);
    if (n == 0)
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "empty node address");
    const char *fmt;
    if (strstr(address, "://")) {
        fmt = "%s";
    } else if (address[n - 1] == ']' || !strchr(address, ':')) {
        /* "host" or "[::1]": no port. */
        fmt = "tcp://%s:7401";
    } else if (address[n - 1] == ':') {
        return shoal_errinfo_set(ei, SHOAL_EINVAL, SIZE_MAX,
                                 "node address \"%s\" lacks a port", address);
    } else {
        fmt = "tcp://%s";
    }
    if (asprintf(url, fmt, address) < 0) {
        *url = NULL;
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    }
    return SHOAL_OK;
}

/* What went wrong, for the end of a sentence. */
static void nng_why(int rv, char *buf, size_t size)
{
    switch (rv) {
    case NNG_ECONNREFUSED:
        snprintf(buf, size, "connection refused");
        break;
    case NNG_ENOENT:
        snprintf(buf, size, "no such socket");
        break;
    case NNG_EADDRINVAL:
        snprintf(buf, size, "invalid address or unknown host");
        break;
    case NNG_ENOTSUP:
        snprintf(buf, size, "unsupported transport (use tcp:// or ipc://)");
        break;
    case NNG_EPERM:
        snprintf(buf, size, "permission denied");
        break;
    default:
        snprintf(buf, size, "%s", nng_strerror(rv));
        buf[0] = (char)tolower((unsigned char)buf[0]);
    }
}

static void pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    ctl_client *c = arg;
    atomic_store(&c->lost, true);
}

/* ---- Dialing with a bounded wait -----------------------------------------
 *
 * nng_dial without NNG_FLAG_NONBLOCK reports why a connection fails
 * (refused, no such host) but waits as long as the operating system does
 * for a host that does not answer, and for a peer that accepts the
 * connection but never completes NNG's handshake. So a helper thread
 * dials; the caller waits for it with a deadline and, past it, closes the
 * socket, which ends the dial.
 */

typedef struct dial_wait {
    nng_socket sock;
    const char *url;
    nng_mtx *mtx;
    nng_cv *cv;
    bool done;
    int rv;
} dial_wait;

static void dial_thread(void *arg)
{
    dial_wait *d = arg;
    int rv = nng_dial(d->sock, d->url, NULL, 0);
    nng_mtx_lock(d->mtx);
    d->done = true;
    d->rv = rv;
    nng_cv_wake(d->cv);
    nng_mtx_unlock(d->mtx);
}

/* Dials; NNG_ETIMEDOUT when the dial took longer than timeout_ms, in
 * which case the socket is closed. */
static int dial_bounded(nng_socket sock, const char *url, int64_t timeout_ms,
                        bool *closed)
{
    dial_wait d = {.sock = sock, .url = url};
    nng_thread *thr = NULL;
    int rv;
    *closed = false;
    if ((rv = nng_mtx_alloc(&d.mtx)) != 0)
        return rv;
    if ((rv = nng_cv_alloc(&d.cv, d.mtx)) != 0)
        goto fail_free_mtx;
    if ((rv = nng_thread_create(&thr, dial_thread, &d)) != 0)
        goto fail_free_cv;

    nng_time deadline = nng_clock() + (nng_time)timeout_ms;
    nng_mtx_lock(d.mtx);
    while (!d.done)
        if (nng_cv_until(d.cv, deadline) == NNG_ETIMEDOUT)
            break;
    bool done = d.done;
    nng_mtx_unlock(d.mtx);
    if (!done) {
        nng_close(sock);
        *closed = true;
    }
    nng_thread_destroy(thr); /* joins the thread */
    rv = done ? d.rv : NNG_ETIMEDOUT;
fail_free_cv:
    nng_cv_free(d.cv);
fail_free_mtx:
    nng_mtx_free(d.mtx);
    return rv;
}

static int set_timeouts(nng_socket sock, int64_t timeout_ms)
{
    int rv =
        nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
    if (rv == 0)
        rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO,
                               (nng_duration)timeout_ms);
    return rv;
}

shoal_err ctl_client_open(const char *url, int64_t timeout_ms, ctl_client **out,
                          shoal_errinfo *ei)
{
    char why[128];
    char dur[32];
    ctl_client *c = calloc(1, sizeof *c);
    if (!c || !(c->url = strdup(url))) {
        free(c);
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    }
    c->timeout_ms = timeout_ms;
    atomic_init(&c->lost, false);

    int rv = nng_req0_open(&c->sock);
    if (rv != 0)
        goto fail_free_client;
    /* A request is sent once: a slow operation (a call that waits for an
     * actor, a large upload) must not be sent again after a minute. With
     * resending off, a connection lost during a request ends it with
     * NNG_ECONNRESET. */
    if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
                                NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
                                  SHOAL_API_MAX_MSG)) != 0 ||
        (rv = set_timeouts(c->sock, timeout_ms)) != 0 ||
        (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_removed,
                              c)) != 0)
        goto fail_close_socket;

    bool closed = false;
    rv = dial_bounded(c->sock, url, timeout_ms, &closed);
    if (rv != 0) {
        shoal_err err = SHOAL_EIO;
        if (rv == NNG_ETIMEDOUT) {
            ctl_format_duration(timeout_ms, dur, sizeof dur);
            snprintf(why, sizeof why, "no connection within %s", dur);
            err = SHOAL_ETIMEDOUT;
        } else {
            nng_why(rv, why, sizeof why);
        }
        if (!closed)
            nng_close(c->sock);
        free(c->url);
        free(c);
        return shoal_errinfo_set(ei, err, SIZE_MAX,
                                 "cannot reach node at %s: %s", url, why);
    }
    *out = c;
    return SHOAL_OK;

fail_close_socket:
    nng_close(c->sock);
fail_free_client:
    nng_why(rv, why, sizeof why);
    free(c->url);
    free(c);
    return shoal_errinfo_set(ei, rv == NNG_ENOMEM ? SHOAL_ENOMEM : SHOAL_EIO,
                             SIZE_MAX, "cannot open a socket: %s", why);
}

void ctl_client_close(ctl_client *c)
{
    if (!c)
        return;
    nng_close(c->sock);
    free(c->url);
    free(c);
}

void ctl_client_set_timeout(ctl_client *c, int64_t timeout_ms)
{
    c->timeout_ms = timeout_ms;
    set_timeouts(c->sock, timeout_ms);
}

const char *ctl_client_url(const ctl_client *c)
{
    return c->url;
}

static shoal_err lost(const ctl_client *c, shoal_errinfo *ei)
{
    return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                             "lost the connection to node at %s", c->url);
}

void ctl_reply_free(ctl_reply *r)
{
    if (!r->body)
        return;
    api_msg_free(&r->msg);
    nng_msg_free(r->body);
    r->body = NULL;
    r->root = NULL;
}

/* Reads the reply in msg into *reply, which takes msg on SHOAL_OK, and
 * checks its version and status. */
static shoal_err read_reply(ctl_client *c, nng_msg *msg, ctl_reply *reply,
                            shoal_errinfo *ei)
{
    shoal_errinfo pei;
    api_msg *m = &reply->msg;
    shoal_err err = api_parse(nng_msg_body(msg), nng_msg_len(msg), m, &pei);
    if (err == SHOAL_ENOMEM)
        return shoal_errinfo_set(ei, err, SIZE_MAX,
                                 "out of memory reading a reply");
    if (err != SHOAL_OK)
        return shoal_errinfo_set(ei, err, SIZE_MAX,
                                 "node at %s sent a malformed reply: %s",
                                 c->url, pei.msg);
    int64_t v = 0;
    if (!api_get_int(m->root, "v", &v) || v != SHOAL_API_VERSION) {
        api_msg_free(m);
        return shoal_errinfo_set(
            ei, SHOAL_EMALFORMED, SIZE_MAX,
            "node at %s does not speak version %d of the control protocol",
            c->url, SHOAL_API_VERSION);
    }
    err = api_reply_status(m->root, ei);
    if (err != SHOAL_OK) {
        api_msg_free(m);
        return err;
    }
    reply->root = m->root;
    reply->body = msg;
    return SHOAL_OK;
}

shoal_err ctl_client_request(ctl_client *c, const uint8_t *req, size_t len,
                             ctl_reply *reply, shoal_errinfo *ei)
{
    char why[128];
    char dur[32];
    nng_msg *msg = NULL;
    reply->root = NULL;
    reply->body = NULL;
    if (atomic_load(&c->lost))
        return lost(c, ei);
    int rv = nng_msg_alloc(&msg, 0);
    if (rv == 0)
        rv = nng_msg_append(msg, req, len);
    if (rv != 0) {
        nng_msg_free(msg);
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    }
    ctl_format_duration(c->timeout_ms, dur, sizeof dur);
    if ((rv = nng_sendmsg(c->sock, msg, 0)) != 0) {
        nng_msg_free(msg);
        if (rv == NNG_ETIMEDOUT)
            return shoal_errinfo_set(ei, SHOAL_ETIMEDOUT, SIZE_MAX,
                                     "node at %s did not take the request "
                                     "within %s",
                                     c->url, dur);
        nng_why(rv, why, sizeof why);
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "cannot send to node at %s: %s", c->url, why);
    }
    if ((rv = nng_recvmsg(c->sock, &msg, 0)) != 0) {
        if (rv == NNG_ETIMEDOUT)
            return shoal_errinfo_set(ei, SHOAL_ETIMEDOUT, SIZE_MAX,
                                     "no reply from node at %s within %s",
                                     c->url, dur);
        if (rv == NNG_ECONNRESET || rv == NNG_ECLOSED ||
            atomic_load(&c->lost)) {
            atomic_store(&c->lost, true);
            return lost(c, ei);
        }
        nng_why(rv, why, sizeof why);
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "no reply from node at %s: %s", c->url, why);
    }
    shoal_err err = read_reply(c, msg, reply, ei);
    if (err != SHOAL_OK)
        nng_msg_free(msg);
    return err;
}

shoal_err ctl_client_send(ctl_client *c, api_writer *w, ctl_reply *reply,
                          shoal_errinfo *ei)
{
    size_t len = 0;
    uint8_t *req = api_writer_take(w, &len);
    if (!req)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    shoal_err err = ctl_client_request(c, req, len, reply, ei);
    free(req);
    return err;
}
