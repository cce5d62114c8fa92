/* rawreq: sends one request of arbitrary bytes (given in hex) to a node's
 * control API and prints the reply's "error" name, or "ok". For the
 * integration tests: requests that shoalctl would never send.
 *
 *   rawreq URL HEX       e.g. rawreq tcp://127.0.0.1:7401 c1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "shoal_api.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: rawreq URL HEX\n");
        return 2;
    }
    size_t hexlen = strlen(argv[2]);
    size_t len = hexlen / 2;
    unsigned char *buf = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(argv[2] + 2 * i, "%2x", &v) != 1) {
            fprintf(stderr, "rawreq: bad hex\n");
            return 2;
        }
        buf[i] = (unsigned char)v;
    }
    nng_socket s;
    int rv = nng_req0_open(&s);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
    if (rv == 0)
        rv = nng_dial(s, argv[1], NULL, 0);
    if (rv == 0)
        rv = nng_send(s, buf, len, 0);
    char *reply = NULL;
    size_t rlen = 0;
    if (rv == 0)
        rv = nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC);
    free(buf);
    if (rv != 0) {
        fprintf(stderr, "rawreq: %s\n", nng_strerror(rv));
        nng_close(s);
        return 1;
    }
    api_msg m;
    shoal_errinfo ei = {0};
    if (api_parse(reply, rlen, &m, &ei) != SHOAL_OK) {
        printf("unreadable reply: %s\n", ei.msg);
    } else {
        shoal_err err = api_reply_status(m.root, &ei);
        if (err == SHOAL_OK)
            printf("ok\n");
        else
            printf("%s %s\n", shoal_err_name(err), ei.msg);
        api_msg_free(&m);
    }
    nng_free(reply, rlen);
    nng_close(s);
    return 0;
}
