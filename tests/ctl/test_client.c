/* Tests of ctl/client.c against nodes played in this process on loopback
 * ports: the address forms, a success and an error reply, replies that
 * are not the protocol's, no reply, a refused connection, a peer that
 * never completes NNG's handshake, and a connection lost mid-request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include "client.h"

/* ---- a node played by a rep socket ---- */

typedef enum fake_action {
    FAKE_REPLY,  /* send the bytes */
    FAKE_SILENT, /* take the request, say nothing */
    FAKE_CLOSE,  /* take the request, close the socket */
} fake_action;

typedef struct fake_node {
    nng_socket sock;
    nng_thread *thread;
    char url[64];
    fake_action action;
    const void *reply;
    size_t reply_len;
    size_t requests; /* taken so far */
} fake_node;

static void fake_serve(void *arg)
{
    fake_node *f = arg;
    for (;;) {
        nng_msg *msg;
        if (nng_recvmsg(f->sock, &msg, 0) != 0)
            return;
        f->requests++;
        if (f->action == FAKE_CLOSE) {
            nng_msg_free(msg);
            nng_close(f->sock);
            return;
        }
        if (f->action == FAKE_SILENT) {
            nng_msg_free(msg);
            continue;
        }
        nng_msg_clear(msg);
        nng_msg_append(msg, f->reply, f->reply_len);
        if (nng_sendmsg(f->sock, msg, 0) != 0)
            nng_msg_free(msg);
    }
}

static void fake_start(fake_node *f, fake_action action, const void *reply,
                       size_t len)
{
    memset(f, 0, sizeof *f);
    f->action = action;
    f->reply = reply;
    f->reply_len = len;
    assert_int_equal(nng_rep0_open(&f->sock), 0);
    nng_listener l;
    assert_int_equal(nng_listen(f->sock, "tcp://127.0.0.1:0", &l, 0), 0);
    int port = 0;
    assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", port);
    assert_int_equal(nng_thread_create(&f->thread, fake_serve, f), 0);
}

static void fake_stop(fake_node *f)
{
    nng_close(f->sock); /* ends a recv under way; may already be closed */
    nng_thread_destroy(f->thread);
}

/* A loopback port nobody listens on: bound, then closed. */
static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A version request, as shoalctl sends it. */
static shoal_err send_version(ctl_client *c, ctl_reply *reply,
                              shoal_errinfo *ei)
{
    api_writer w;
    api_writer_init(&w);
    api_pack_request(&w.pk, "version", 0);
    shoal_err err = ctl_client_send(c, &w, reply, ei);
    api_writer_free(&w);
    return err;
}

/* Connects to f, sends a version request, returns its status. */
static shoal_err one_request(fake_node *f, int64_t timeout_ms, ctl_reply *reply,
                             shoal_errinfo *ei)
{
    ctl_client *c = NULL;
    assert_int_equal(ctl_client_open(f->url, timeout_ms, &c, ei), SHOAL_OK);
    assert_string_equal(ctl_client_url(c), f->url);
    shoal_err err = send_version(c, reply, ei);
    ctl_client_close(c);
    return err;
}

/* ---- tests ---- */

static void url_is(const char *address, const char *want)
{
    char *url = NULL;
    shoal_errinfo ei;
    assert_int_equal(ctl_node_url(address, &url, &ei), SHOAL_OK);
    assert_string_equal(url, want);
    free(url);
}

static void test_node_urls(void **state)
{
    url_is("tcp://10.0.0.1:7401", "tcp://10.0.0.1:7401");
    url_is("ipc:///var/lib/shoal/control.sock",
           "ipc:///var/lib/shoal/control.sock");
    url_is("127.0.0.1:9000", "tcp://127.0.0.1:9000");
    url_is("node-1.example:7401", "tcp://node-1.example:7401");
    url_is("node-1", "tcp://node-1:7401");
    url_is("[::1]:7402", "tcp://[::1]:7402");
    url_is("[::1]", "tcp://[::1]:7401");
    char *url = NULL;
    shoal_errinfo ei;
    assert_int_equal(ctl_node_url("", &url, &ei), SHOAL_EINVAL);
    assert_int_equal(ctl_node_url("host:", &url, &ei), SHOAL_EINVAL);
    assert_string_equal(ei.msg, "node address \"host:\" lacks a port");
}

static void test_ok_reply(void **state)
{
    static const char reply[] = "\x84\xa1v\x01\xa2ok\xc3"
                                "\xa7version\xa5"
                                "0.1.0"
                                "\xa4node\xa2n1";
    fake_node f;
    fake_start(&f, FAKE_REPLY, reply, sizeof reply - 1);
    ctl_reply r;
    shoal_errinfo ei;
    assert_int_equal(one_request(&f, 2000, &r, &ei), SHOAL_OK);
    const char *s;
    size_t n;
    assert_true(api_get_str(r.root, "node", &s, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(s, "n1", 2);
    ctl_reply_free(&r);
    assert_int_equal(f.requests, 1);
    fake_stop(&f);
}

static void test_error_reply(void **state)
{
    static const char reply[] = "\x84\xa1v\x01\xa2ok\xc2"
                                "\xa5"
                                "error\xa9"
                                "ENOTFOUND"
                                "\xa7message\xb5"
                                "no application \"shop\"";
    fake_node f;
    fake_start(&f, FAKE_REPLY, reply, sizeof reply - 1);
    ctl_reply r;
    shoal_errinfo ei;
    assert_int_equal(one_request(&f, 2000, &r, &ei), SHOAL_ENOTFOUND);
    assert_string_equal(ei.msg, "no application \"shop\"");
    fake_stop(&f);
}

static void test_malformed_replies(void **state)
{
    static const char garbage[] = "\xc1";
    static const char v2[] = "\x82\xa1v\x02\xa2ok\xc3";
    static const char no_v[] = "\x81\xa2ok\xc3";
    static const char array[] = "\x91\x01";
    fake_node f;
    ctl_reply r;
    shoal_errinfo ei;

    fake_start(&f, FAKE_REPLY, garbage, 1);
    assert_int_equal(one_request(&f, 2000, &r, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "sent a malformed reply"));
    assert_non_null(strstr(ei.msg, f.url));
    fake_stop(&f);

    fake_start(&f, FAKE_REPLY, array, sizeof array - 1);
    assert_int_equal(one_request(&f, 2000, &r, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "not a map"));
    fake_stop(&f);

    fake_start(&f, FAKE_REPLY, v2, sizeof v2 - 1);
    assert_int_equal(one_request(&f, 2000, &r, &ei), SHOAL_EMALFORMED);
    assert_non_null(strstr(ei.msg, "does not speak version 1"));
    fake_stop(&f);

    fake_start(&f, FAKE_REPLY, no_v, sizeof no_v - 1);
    assert_int_equal(one_request(&f, 2000, &r, &ei), SHOAL_EMALFORMED);
    fake_stop(&f);
}

static void test_no_reply(void **state)
{
    fake_node f;
    fake_start(&f, FAKE_SILENT, NULL, 0);
    ctl_reply r;
    shoal_errinfo ei;
    int64_t t0 = now_ms();
    assert_int_equal(one_request(&f, 300, &r, &ei), SHOAL_ETIMEDOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 3000);
    char want[128];
    snprintf(want, sizeof want, "no reply from node at %s within 300ms", f.url);
    assert_string_equal(ei.msg, want);
    /* Sent once: resending is off. */
    assert_int_equal(f.requests, 1);
    fake_stop(&f);
}

static void test_refused(void **state)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", free_port());
    ctl_client *c = NULL;
    shoal_errinfo ei;
    assert_int_equal(ctl_client_open(url, 2000, &c, &ei), SHOAL_EIO);
    assert_null(c);
    char want[128];
    snprintf(want, sizeof want, "cannot reach node at %s: connection refused",
             url);
    assert_string_equal(ei.msg, want);

    assert_int_equal(ctl_client_open("bogus://x", 2000, &c, &ei), SHOAL_EIO);
    assert_non_null(strstr(ei.msg, "unsupported transport"));
}

/* A TCP listener that accepts connections (the kernel does, from its
 * backlog) but never speaks: nng_dial would wait for its handshake
 * forever. */
static void test_dial_is_bounded(void **state)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 4), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", ntohs(a.sin_port));

    ctl_client *c = NULL;
    shoal_errinfo ei;
    int64_t t0 = now_ms();
    assert_int_equal(ctl_client_open(url, 300, &c, &ei), SHOAL_ETIMEDOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 3000);
    char want[128];
    snprintf(want, sizeof want,
             "cannot reach node at %s: no connection within 300ms", url);
    assert_string_equal(ei.msg, want);
    close(s);
}

static void test_connection_lost(void **state)
{
    fake_node f;
    fake_start(&f, FAKE_CLOSE, NULL, 0);
    ctl_client *c = NULL;
    shoal_errinfo ei;
    ctl_reply r;
    assert_int_equal(ctl_client_open(f.url, 5000, &c, &ei), SHOAL_OK);
    int64_t t0 = now_ms();
    assert_int_equal(send_version(c, &r, &ei), SHOAL_EIO);
    assert_true(now_ms() - t0 < 3000); /* not the timeout */
    char want[128];
    snprintf(want, sizeof want, "lost the connection to node at %s", f.url);
    assert_string_equal(ei.msg, want);
    /* The next request fails at once too. */
    assert_int_equal(send_version(c, &r, &ei), SHOAL_EIO);
    assert_string_equal(ei.msg, want);
    ctl_client_close(c);
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_urls),
        cmocka_unit_test(test_ok_reply),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_no_reply),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_dial_is_bounded),
        cmocka_unit_test(test_connection_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
