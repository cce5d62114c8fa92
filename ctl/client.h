/* shoalctl's side of the control protocol (docs/control-api.md): one NNG
 * req socket to one node, one request at a time, each reply decoded and
 * its status checked. Errors come back as one line for a person in the
 * shoal_errinfo, ready to print after "shoalctl: ". */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include <stdint.h>

#include "shoal_api.h"
#include "shoal_err.h"

typedef struct ctl_client ctl_client;

/* A success reply. root is its map; it and every object under it point
 * into the received message (msgpack-c decodes strings and bins in place),
 * which the reply keeps until ctl_reply_free. */
typedef struct ctl_reply {
    const msgpack_object *root;
    api_msg msg;
    void *body; /* the nng_msg */
} ctl_reply;

void ctl_reply_free(ctl_reply *r);

/* The NNG URL for a --node ADDRESS: a URL (anything with "://") stays as
 * it is; "host:port" becomes "tcp://host:port"; a bare "host" gets the
 * default port 7401. On SHOAL_OK the caller frees *url. Errors:
 * SHOAL_EINVAL (an empty address, or "host:" without a port), SHOAL_ENOMEM. */
shoal_err ctl_node_url(const char *address, char **url, shoal_errinfo *ei);

/* Connects to the node at url (an NNG URL), waiting at most timeout_ms for
 * the connection, and uses timeout_ms for each request until
 * ctl_client_set_timeout. On SHOAL_OK the caller owns *out
 * (ctl_client_close). Errors: SHOAL_EIO "cannot reach node at URL: WHY"
 * (refused, no such host or socket, a bad URL), SHOAL_ETIMEDOUT when the
 * connection does not complete in time, SHOAL_ENOMEM. */
shoal_err ctl_client_open(const char *url, int64_t timeout_ms, ctl_client **out,
                          shoal_errinfo *ei);
void ctl_client_close(ctl_client *c);

/* The time a request may take from now on, 1 ms to INT32_MAX ms. */
void ctl_client_set_timeout(ctl_client *c, int64_t timeout_ms);

/* Sends the len bytes of req (one request map) and waits for the reply.
 * On SHOAL_OK *reply holds a success reply ("ok": true) that the caller
 * frees with ctl_reply_free; it stays valid after ctl_client_close. Errors: the
 * error an error reply names, with its message in ei; SHOAL_ETIMEDOUT when no
 * reply came in time; SHOAL_EIO when the connection is lost; SHOAL_EMALFORMED
 * when the reply is not a reply of protocol version 1; SHOAL_ENOMEM. */
shoal_err ctl_client_request(ctl_client *c, const uint8_t *req, size_t len,
                             ctl_reply *reply, shoal_errinfo *ei);

/* ctl_client_request of what w holds; w is emptied. */
shoal_err ctl_client_send(ctl_client *c, api_writer *w, ctl_reply *reply,
                          shoal_errinfo *ei);

/* The URL the client was opened with. */
const char *ctl_client_url(const ctl_client *c);

#endif
