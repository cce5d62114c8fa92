/* shoal-clock: an external capability provider, the smallest useful one.
 *
 * shoald runs it (`shoald --provider clock=PATH/shoal-clock`) with
 * SHOAL_PROVIDER_URL in its environment, and this process dials that
 * address with an NNG REP0 socket and answers the node's requests
 * (docs/providers.md, "The provider protocol"). An actor linked to it
 * (`- provider: clock`) that calls it gets the time:
 *
 *   {"unix_ms": 1795251234567, "utc": "2026-11-21T09:33:54.567Z"}
 *
 * A link's config may set "offset_ms", added to the time (a toy of per-link
 * configuration). Anything in any language that speaks NNG and msgpack can
 * be a provider; this one uses only libnng and msgpack-c.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* The value of key in map, or NULL. */
static const msgpack_object *get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* The answer to one request of the node, into sb. */
static void answer(const char *req, size_t len, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, req, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_pack_map(&pk, 3);
        pack_str(&pk, "ok");
        msgpack_pack_false(&pk);
        pack_str(&pk, "error");
        pack_str(&pk, "EMALFORMED");
        pack_str(&pk, "message");
        pack_str(&pk, "not a msgpack map");
        msgpack_unpacked_destroy(&u);
        return;
    }
    int64_t offset = 0;
    const msgpack_object *link = get(&u.data, "link");
    const msgpack_object *o = link ? get(link, "offset_ms") : NULL;
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        offset = (int64_t)o->via.u64;
    else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        offset = o->via.i64;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char utc[40], stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(utc, sizeof utc, "%s.%03dZ", stamp, (int)(ms % 1000));

    /* The data for the actor is itself msgpack, carried as bin. */
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    msgpack_packer dp;
    msgpack_packer_init(&dp, &data, msgpack_sbuffer_write);
    msgpack_pack_map(&dp, 2);
    pack_str(&dp, "unix_ms");
    msgpack_pack_int64(&dp, ms);
    pack_str(&dp, "utc");
    pack_str(&dp, utc);

    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    pack_str(&pk, "data");
    msgpack_pack_bin(&pk, data.size);
    msgpack_pack_bin_body(&pk, data.data, data.size);
    msgpack_sbuffer_destroy(&data);
    msgpack_unpacked_destroy(&u);
}

int main(void)
{
    const char *url = getenv("SHOAL_PROVIDER_URL");
    if (url == NULL) {
        fprintf(stderr, "shoal-clock: SHOAL_PROVIDER_URL is not set; "
                        "run it with shoald --provider clock=...\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    nng_socket s;
    int rv = nng_rep0_open(&s);
    /* Non-blocking dial: it keeps trying while the node is not there. */
    if (rv == 0)
        rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500);
    if (rv != 0) {
        fprintf(stderr, "shoal-clock: %s: %s\n", url, nng_strerror(rv));
        return 1;
    }
    /* A provider outlives its node only by mistake: when the node is gone
     * (this process was handed to another parent), it stops. */
    pid_t node = getppid();
    while (!stop && getppid() == node) {
        char *req = NULL;
        size_t len = 0;
        rv = nng_recv(s, &req, &len, NNG_FLAG_ALLOC);
        if (rv == NNG_ETIMEDOUT)
            continue;
        if (rv != 0)
            break;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        answer(req, len, &sb);
        nng_free(req, len);
        nng_send(s, sb.data, sb.size, 0);
        msgpack_sbuffer_destroy(&sb);
    }
    nng_close(s);
    return 0;
}
