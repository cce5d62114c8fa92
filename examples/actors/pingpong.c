/* pingpong: a reactive actor that plays a rally with another one.
 *
 * The ball is a msgpack integer N >= 0 sent as a cast. On a ball N > 0
 * from an actor S, it sends N - 1 back to S. An actor that receives the
 * ball 0, or sends it, has played its last shot and exits normally (code 0)
 * unless its init said "stay". So two pingpong actors and a count N make
 * N + 1 casts in all, and then both exit normally.
 *
 * The init message is a map; every key is optional:
 *   "peer"  (integer actor id) and "count" (integer N >= 0): serve, i.e.
 *           send N to peer at once. Without both, wait to be served.
 *   "stay"  (bool): do not exit when the rally ends.
 * nil or no init message means wait and do not stay. Unknown keys are
 * ignored.
 *
 * A ball from the embedder (sender 0) is counted but has nobody to go back
 * to. A request, whatever it holds, is answered with the number of balls
 * received so far (an integer). Other messages are ignored.
 *
 * Exit codes: 2 the init message was not as above, 3 a ball could not be
 * sent (the peer exited, or its mailbox was full).
 */
#include "shoal.h"

#define EXIT_BAD_INIT 2
#define EXIT_SEND_FAILED 3

/* This actor's state (its own linear memory). */
static bool stay;
static uint64_t balls_received;

/* Sends the ball n to `to`; exits if that was the last shot. */
static int shoot(shoal_id to, uint64_t n)
{
    uint8_t buf[16];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_uint(&w, n);
    if (shoal_send_mp(to, &w) < 0) {
        shoal_log(SHOAL_LOG_ERROR, "pingpong: could not send the ball");
        return EXIT_SEND_FAILED;
    }
    if (n == 0 && !stay)
        shoal_exit(0);
    return 0;
}

static int on_init(shoal_message *m)
{
    shoal_mp_reader r;
    uint32_t pairs;
    uint64_t peer = 0, count = 0;
    bool have_peer = false, have_count = false;

    shoal_mpr_init(&r, m->data, m->len);
    if (m->len == 0 || shoal_mpr_nil(&r) == 0)
        return 0;
    if (shoal_mpr_map(&r, &pairs) < 0)
        goto fail_bad_init;
    for (uint32_t i = 0; i < pairs; i++) {
        const char *key;
        uint32_t key_len;
        int rc;
        if (shoal_mpr_str(&r, &key, &key_len) < 0) {
            /* Not a string key: skip it and its value. */
            rc = shoal_mpr_skip(&r);
            if (rc == 0)
                rc = shoal_mpr_skip(&r);
        } else if (shoal_mp_str_equals(key, key_len, "peer")) {
            rc = shoal_mpr_uint(&r, &peer);
            have_peer = true;
        } else if (shoal_mp_str_equals(key, key_len, "count")) {
            rc = shoal_mpr_uint(&r, &count);
            have_count = true;
        } else if (shoal_mp_str_equals(key, key_len, "stay")) {
            rc = shoal_mpr_bool(&r, &stay);
        } else {
            rc = shoal_mpr_skip(&r);
        }
        if (rc < 0)
            goto fail_bad_init;
    }
    if (!shoal_mpr_done(&r))
        goto fail_bad_init;
    if (have_peer && have_count)
        return shoot(peer, count);
    return 0;

fail_bad_init:
    shoal_log(SHOAL_LOG_ERROR, "pingpong: the init message must be a map "
                               "{\"peer\": id, \"count\": n, \"stay\": bool}");
    return EXIT_BAD_INIT;
}

static int on_message(shoal_message *m)
{
    if (m->kind == SHOAL_MSG_REQUEST) {
        uint8_t buf[16];
        shoal_mp_writer w;
        shoal_mpw_init(&w, buf, sizeof buf);
        shoal_mpw_uint(&w, balls_received);
        (void)shoal_reply_mp(&w);
        return 0;
    }
    if (m->kind != SHOAL_MSG_CAST)
        return 0;

    shoal_mp_reader r;
    uint64_t n;
    shoal_mpr_init(&r, m->data, m->len);
    if (shoal_mpr_uint(&r, &n) < 0 || !shoal_mpr_done(&r))
        return 0; /* not a ball */
    balls_received++;
    if (n == 0) {
        if (!stay)
            shoal_exit(0);
        return 0;
    }
    if (m->sender == 0)
        return 0;
    return shoot(m->sender, n - 1);
}

SHOAL_INIT(on_init);
SHOAL_HANDLER(on_message);
