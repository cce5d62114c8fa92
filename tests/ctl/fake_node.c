/* fake_node: plays a node for test_shoalctl.sh, so that the real shoalctl
 * can be driven through every command without shoald. It answers each
 * request by its "op" from a script, and writes down what it received.
 *
 *   fake_node SCRIPT.json URL_FILE REQUEST_LOG
 *
 * SCRIPT maps an op to a reply, or to an array of replies given in turn
 * (the last one again once they run out); "*" answers ops not listed.
 * Replies are JSON with convert.h's rules plus {"$msgpack": VALUE}, a bin
 * holding VALUE's msgpack; "v": 1 and "ok": true are added when missing.
 * A reply {"$close": true} closes the socket and ends fake_node (a node
 * going away); {"$silent": true} takes the request and never answers.
 *
 * fake_node listens on a free loopback port and writes its URL to
 * URL_FILE once it listens; each request is appended to REQUEST_LOG as one
 * line of JSON. It runs until killed or closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "convert.h"
#include "shoal_api.h"

static void die(const char *what)
{
    fprintf(stderr, "fake_node: %s\n", what);
    exit(1);
}

/* Replaces each {"$msgpack": V} under *v by {"$bin": BASE64(msgpack(V))}. */
static void expand(json_t **v)
{
    if (json_is_object(*v) && json_object_size(*v) == 1 &&
        json_object_get(*v, "$msgpack")) {
        msgpack_sbuffer buf;
        msgpack_packer pk;
        msgpack_sbuffer_init(&buf);
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        shoal_errinfo ei;
        if (ctl_json_pack(json_object_get(*v, "$msgpack"), &pk, &ei) !=
            SHOAL_OK)
            die(ei.msg);
        char *b64 = malloc(ctl_base64_len(buf.size) + 1);
        ctl_base64_encode((const uint8_t *)buf.data, buf.size, b64);
        json_t *bin = json_pack("{s:s}", "$bin", b64);
        free(b64);
        msgpack_sbuffer_destroy(&buf);
        json_decref(*v);
        *v = bin;
        return;
    }
    if (json_is_object(*v)) {
        const char *key;
        json_t *val;
        json_object_foreach(*v, key, val)
        {
            json_incref(val);
            expand(&val);
            json_object_set_new(*v, key, val);
        }
    } else if (json_is_array(*v)) {
        for (size_t i = 0; i < json_array_size(*v); i++) {
            json_t *val = json_incref(json_array_get(*v, i));
            expand(&val);
            json_array_set_new(*v, i, val);
        }
    }
}

/* The reply to the next request of op. */
static json_t *next_reply(json_t *script, json_t *turns, const char *op)
{
    json_t *r = json_object_get(script, op);
    if (!r) {
        r = json_object_get(script, "*");
        op = "*";
    }
    if (!r)
        return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", "EINVAL", "message",
                         "fake_node: no reply scripted");
    if (!json_is_array(r))
        return json_incref(r);
    json_int_t turn = json_integer_value(json_object_get(turns, op));
    json_object_set_new(turns, op, json_integer(turn + 1));
    size_t n = json_array_size(r);
    return json_incref(
        json_array_get(r, (size_t)turn < n ? (size_t)turn : n - 1));
}

int main(int argc, char **argv)
{
    if (argc != 4)
        die("usage: fake_node SCRIPT.json URL_FILE REQUEST_LOG");
    json_error_t jerr;
    json_t *script = json_load_file(argv[1], 0, &jerr);
    if (!script)
        die(jerr.text);
    expand(&script);
    json_t *turns = json_object();
    FILE *log = fopen(argv[3], "a");
    if (!log)
        die("cannot open the request log");

    nng_socket sock;
    nng_listener l;
    int port = 0;
    if (nng_rep0_open(&sock) != 0 ||
        nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, SHOAL_API_MAX_MSG) != 0 ||
        nng_listen(sock, "tcp://127.0.0.1:0", &l, 0) != 0 ||
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
        die("cannot listen");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    FILE *uf = fopen(tmp, "w");
    if (!uf)
        die("cannot write the URL file");
    fprintf(uf, "tcp://127.0.0.1:%d\n", port);
    fclose(uf);
    if (rename(tmp, argv[2]) != 0)
        die("cannot write the URL file");

    for (;;) {
        nng_msg *msg;
        if (nng_recvmsg(sock, &msg, 0) != 0)
            break;
        api_msg req;
        shoal_errinfo ei;
        char op[64] = "?";
        if (api_parse(nng_msg_body(msg), nng_msg_len(msg), &req, &ei) ==
            SHOAL_OK) {
            const char *s;
            size_t n;
            if (api_get_str(req.root, "op", &s, &n))
                snprintf(op, sizeof op, "%.*s", (int)n, s);
            ctl_msgpack_to_json(req.root, 0, log);
            fputc('\n', log);
            fflush(log);
            api_msg_free(&req);
        }
        json_t *reply = next_reply(script, turns, op);
        if (json_is_true(json_object_get(reply, "$close"))) {
            nng_msg_free(msg);
            json_decref(reply);
            break;
        }
        if (json_is_true(json_object_get(reply, "$silent"))) {
            nng_msg_free(msg);
            json_decref(reply);
            continue;
        }
        json_t *full = json_deep_copy(reply);
        json_decref(reply);
        if (!json_object_get(full, "v"))
            json_object_set_new(full, "v", json_integer(1));
        if (!json_object_get(full, "ok"))
            json_object_set_new(full, "ok", json_true());
        msgpack_sbuffer buf;
        msgpack_packer pk;
        msgpack_sbuffer_init(&buf);
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        if (ctl_json_pack(full, &pk, &ei) != SHOAL_OK)
            die(ei.msg);
        json_decref(full);
        nng_msg_clear(msg);
        nng_msg_append(msg, buf.data, buf.size);
        msgpack_sbuffer_destroy(&buf);
        if (nng_sendmsg(sock, msg, 0) != 0)
            nng_msg_free(msg);
    }
    nng_close(sock);
    fclose(log);
    json_decref(turns);
    json_decref(script);
    return 0;
}
