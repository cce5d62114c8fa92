/* counter: a reactive actor holding one integer.
 *
 * Commands are msgpack strings. As a request, "inc" adds one and replies
 * with the new count, "get" replies with the count; both replies are
 * msgpack integers. Any other request gets the map
 * {"error": "unknown command"}. As a cast, "inc" adds one and nothing is
 * sent back; other casts are ignored.
 *
 * The init message may be an integer, the starting count (default 0), or
 * nil, or absent; anything else makes the actor exit with code 2. It logs
 * one line when it starts.
 */
#include "shoal.h"

#define EXIT_BAD_INIT 2

/* This actor's state (its own linear memory). */
static int64_t count;

static int on_init(shoal_message *m)
{
    shoal_mp_reader r;
    shoal_mpr_init(&r, m->data, m->len);
    if (m->len == 0 || shoal_mpr_nil(&r) == 0 ||
        (shoal_mpr_int(&r, &count) == 0 && shoal_mpr_done(&r))) {
        shoal_log(SHOAL_LOG_INFO, "counter: ready");
        return 0;
    }
    shoal_log(SHOAL_LOG_ERROR, "counter: the init message must be an integer");
    return EXIT_BAD_INIT;
}

static void reply_count(void)
{
    uint8_t buf[16];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_int(&w, count);
    (void)shoal_reply_mp(&w);
}

static void reply_error(const char *what)
{
    uint8_t buf[64];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_map(&w, 1);
    shoal_mpw_cstr(&w, "error");
    shoal_mpw_cstr(&w, what);
    (void)shoal_reply_mp(&w);
}

static int on_message(shoal_message *m)
{
    bool inc = shoal_mp_is_str(m->data, m->len, "inc");
    bool get = shoal_mp_is_str(m->data, m->len, "get");

    switch (m->kind) {
    case SHOAL_MSG_REQUEST:
        if (inc)
            count++;
        if (inc || get)
            reply_count();
        else
            reply_error("unknown command");
        break;
    case SHOAL_MSG_CAST:
        if (inc)
            count++;
        break;
    default:
        break;
    }
    return 0;
}

SHOAL_INIT(on_init);
SHOAL_HANDLER(on_message);
