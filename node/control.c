/* The control server: NNG REP0 on TCP and ipc, one context per request in
 * flight. Requests arrive on NNG's threads and are handed to the loop
 * thread, which decodes and answers them (docs/control-api.md). */
#include "node.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

/* Requests served at once; more wait in NNG's queues. */
#define CONTROL_CONTEXTS 32
#define MAX_LISTENERS 8

enum req_state {
    REQ_RECEIVING, /* NNG waits for a request on this context */
    REQ_HANDLING,  /* the loop thread has it */
    REQ_SENDING,   /* the reply is on its way */
};

struct control_req {
    node_event ev; /* first: the loop event that hands it over */
    control *c;
    nng_ctx ctx;
    nng_aio *aio;
    enum req_state state;
    nng_msg *msg; /* the request, while handled */
};

struct control {
    node *n;
    nng_socket sock;
    nng_listener listeners[MAX_LISTENERS];
    unsigned nlisteners;
    control_req reqs[CONTROL_CONTEXTS];
    unsigned nreqs;
    bool stopping;
};

static void on_request(node *n, node_event *ev);

static void receive_next(control_req *r)
{
    r->state = REQ_RECEIVING;
    nng_ctx_recv(r->ctx, r->aio);
}

/* NNG's thread: a receive or a send finished. */
static void on_aio(void *arg)
{
    control_req *r = arg;
    int rv = nng_aio_result(r->aio);
    if (r->state == REQ_RECEIVING) {
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return;
        if (rv != 0) {
            receive_next(r);
            return;
        }
        r->msg = nng_aio_get_msg(r->aio);
        r->state = REQ_HANDLING;
        r->ev.run = on_request;
        node__post(r->c->n, &r->ev);
        return;
    }
    if (r->state == REQ_SENDING) {
        if (rv != 0) {
            nng_msg *m = nng_aio_get_msg(r->aio);
            if (m)
                nng_msg_free(m);
        }
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return;
        receive_next(r);
    }
}

void control_reply(control_req *r, uint8_t *bytes, size_t len)
{
    nng_msg *m = NULL;
    if (bytes == NULL || nng_msg_alloc(&m, len) != 0) {
        free(bytes);
        /* Nothing to say: the context takes the next request and the
         * client times out. Only when memory is gone. */
        receive_next(r);
        return;
    }
    memcpy(nng_msg_body(m), bytes, len);
    free(bytes);
    nng_aio_set_msg(r->aio, m);
    r->state = REQ_SENDING;
    nng_ctx_send(r->ctx, r->aio);
}

void control_reply_error(control_req *r, shoal_err err, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    api_writer w;
    api_writer_init(&w);
    api_pack_error(&w.pk, err, buf);
    size_t len;
    uint8_t *bytes = api_writer_take(&w, &len);
    api_writer_free(&w);
    control_reply(r, bytes, len);
}

/* The loop thread: decode, check the version, hand to the operation. */
static void on_request(node *n, node_event *ev)
{
    control_req *r = (control_req *)ev;
    /* The request is this handler's: the decoded objects point into it,
     * and a handler that answers later copies what it needs. Once the reply
     * is sent, the context may receive the next request into r->msg. */
    nng_msg *req = r->msg;
    r->msg = NULL;
    if (r->c->stopping) {
        control_reply_error(r, SHOAL_ESTATE, "the node is shutting down");
        nng_msg_free(req);
        return;
    }
    api_msg m;
    shoal_errinfo ei = {0};
    shoal_err err = api_parse(nng_msg_body(req), nng_msg_len(req), &m, &ei);
    if (err) {
        node_log(n, LOG_WARN, "control", NULL, "bad request: %s", ei.msg);
        control_reply_error(r, err, "bad request: %s", ei.msg);
        nng_msg_free(req);
        return;
    }
    int64_t v = 0;
    if (!api_get_int(m.root, "v", &v) || v != SHOAL_API_VERSION) {
        control_reply_error(r, SHOAL_EINVAL,
                            "request speaks protocol version %lld; this node "
                            "speaks %d",
                            (long long)v, SHOAL_API_VERSION);
    } else {
        ops_handle(n, r, m.root);
    }
    api_msg_free(&m);
    nng_msg_free(req);
}

static shoal_err listen_on(control *c, const char *url, shoal_errinfo *ei)
{
    if (c->nlisteners == MAX_LISTENERS)
        return shoal_errinfo_set(ei, SHOAL_ELIMIT, SIZE_MAX,
                                 "at most %d listen addresses", MAX_LISTENERS);
    nng_listener l;
    int rv = nng_listen(c->sock, url, &l, 0);
    if (rv != 0)
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX,
                                 "cannot listen on %s: %s", url,
                                 nng_strerror(rv));
    c->listeners[c->nlisteners++] = l;
    node_log(c->n, LOG_INFO, "control", NULL, "listening on %s", url);
    return SHOAL_OK;
}

shoal_err control_start(node *n, shoal_errinfo *ei)
{
    control *c = calloc(1, sizeof *c);
    if (c == NULL)
        return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX, "out of memory");
    c->n = n;
    n->ctl = c;
    int rv = nng_rep0_open(&c->sock);
    if (rv != 0)
        return shoal_errinfo_set(ei, SHOAL_EIO, SIZE_MAX, "control socket: %s",
                                 nng_strerror(rv));
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, SHOAL_API_MAX_MSG);

    for (unsigned i = 0; i < n->opt.nlisten; i++) {
        shoal_err err = listen_on(c, n->opt.listen[i], ei);
        if (err)
            return err;
    }
    /* The ipc socket in the data directory: the data directory lock says
     * that no other node uses it, so a file left there is stale. */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", n->opt.data_dir, SHOAL_API_IPC_NAME);
    if (strlen(path) < 100) {
        unlink(path);
        char url[4200];
        snprintf(url, sizeof url, "ipc://%s", path);
        shoal_err err = listen_on(c, url, ei);
        if (err)
            return err;
    } else {
        node_log(n, LOG_WARN, "control", NULL,
                 "data directory path too long for an ipc socket; TCP only");
    }

    for (unsigned i = 0; i < CONTROL_CONTEXTS; i++) {
        control_req *r = &c->reqs[i];
        r->c = c;
        if (nng_ctx_open(&r->ctx, c->sock) != 0 ||
            nng_aio_alloc(&r->aio, on_aio, r) != 0)
            return shoal_errinfo_set(ei, SHOAL_ENOMEM, SIZE_MAX,
                                     "out of memory");
        c->nreqs++;
        receive_next(r);
    }
    return SHOAL_OK;
}

void control_stop(node *n)
{
    control *c = n->ctl;
    if (c == NULL)
        return;
    c->stopping = true;
    for (unsigned i = 0; i < c->nlisteners; i++)
        nng_listener_close(c->listeners[i]);
}

void control_free(node *n)
{
    control *c = n->ctl;
    if (c == NULL)
        return;
    nng_close(c->sock);
    for (unsigned i = 0; i < c->nreqs; i++) {
        control_req *r = &c->reqs[i];
        nng_aio_stop(r->aio);
        nng_aio_free(r->aio);
        if (r->msg)
            nng_msg_free(r->msg);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", n->opt.data_dir, SHOAL_API_IPC_NAME);
    unlink(path);
    free(c);
    n->ctl = NULL;
}
