/* receiver: a long-running actor that loops on receive.
 *
 * It waits for messages with a timeout (1000 ms, or the init message's
 * "timeout_ms"), logs each one it gets at level info as
 *
 *     receiver: <kind> from <sender id> (<n> bytes): <the message as text>
 *
 * (the text is JSON-like and cut at about 200 characters) and logs
 * "receiver: idle" at level debug whenever the wait times out.
 *
 * - The msgpack string "stop" (cast or request) makes it return from
 *   shoal_main: a normal exit. A request "stop" is first answered with the
 *   string "stopping".
 * - The msgpack string "crash" (cast or request) makes it exit with code 3
 *   at once, without replying: a caller gets SHOAL_E_EXITED.
 * - Any other request is answered with a reply of the same bytes.
 *
 * The init message (the first in the mailbox, kind INIT) is logged too; if
 * it is a map with an integer "timeout_ms" >= 0, that is the wait.
 */
#include "shoal.h"

#define EXIT_CRASH 3
#define DEFAULT_TIMEOUT_MS 1000
#define TEXT_MAX 200
/* Nesting rendered before "..."; also bounds the renderer's recursion. */
#define RENDER_DEPTH 8

/* A line being written; what does not fit is cut and marked. */
typedef struct text {
    char buf[TEXT_MAX + 4];
    size_t len;
    bool cut;
} text;

static void put(text *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !t->cut; i++) {
        if (t->len == TEXT_MAX) {
            memcpy(t->buf + t->len, "...", 3);
            t->len += 3;
            t->cut = true;
            return;
        }
        t->buf[t->len++] = s[i];
    }
}

static void puts_(text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void put_u64(text *t, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(t, digits + sizeof digits - n, n);
}

static void put_i64(text *t, int64_t v)
{
    if (v < 0) {
        put(t, "-", 1);
        put_u64(t, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(t, (uint64_t)v);
    }
}

/* A string in quotes; bytes that are not printable ASCII show as '?'. */
static void put_quoted(text *t, const char *s, uint32_t n)
{
    put(t, "\"", 1);
    for (uint32_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"' || c == '\\')
            put(t, "\\", 1);
        put(t, c >= 0x20 && c < 0x7f ? &c : "?", 1);
    }
    put(t, "\"", 1);
}

/* Renders the next item of r; returns an error of the reader. */
static int render(shoal_mp_reader *r, text *t, int depth)
{
    bool b = false;
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    const char *s = NULL;
    const uint8_t *bytes = NULL;
    uint32_t n = 0;
    int rc = 0;

    int type = shoal_mpr_peek(r);
    if (type < 0)
        return type;
    if (depth >= RENDER_DEPTH &&
        (type == SHOAL_MP_ARRAY || type == SHOAL_MP_MAP)) {
        puts_(t, "...");
        return shoal_mpr_skip(r);
    }
    switch (type) {
    case SHOAL_MP_NIL:
        puts_(t, "nil");
        return shoal_mpr_nil(r);
    case SHOAL_MP_BOOL:
        rc = shoal_mpr_bool(r, &b);
        puts_(t, b ? "true" : "false");
        return rc;
    case SHOAL_MP_UINT:
        rc = shoal_mpr_uint(r, &u);
        put_u64(t, u);
        return rc;
    case SHOAL_MP_INT:
        rc = shoal_mpr_int(r, &i);
        put_i64(t, i);
        return rc;
    case SHOAL_MP_FLOAT:
        /* Printing a double would pull in printf; its integer part will
         * do for a log. */
        rc = shoal_mpr_double(r, &d);
        if (d > -9.2e18 && d < 9.2e18)
            put_i64(t, (int64_t)d);
        puts_(t, "(float)");
        return rc;
    case SHOAL_MP_STR:
        rc = shoal_mpr_str(r, &s, &n);
        put_quoted(t, s, n);
        return rc;
    case SHOAL_MP_BIN:
        rc = shoal_mpr_bin(r, &bytes, &n);
        puts_(t, "<");
        put_u64(t, n);
        puts_(t, " bytes>");
        return rc;
    case SHOAL_MP_ARRAY:
        rc = shoal_mpr_array(r, &n);
        puts_(t, "[");
        for (uint32_t k = 0; k < n && rc == 0; k++) {
            if (k > 0)
                puts_(t, ", ");
            rc = render(r, t, depth + 1);
        }
        puts_(t, "]");
        return rc;
    case SHOAL_MP_MAP:
        rc = shoal_mpr_map(r, &n);
        puts_(t, "{");
        for (uint32_t k = 0; k < n && rc == 0; k++) {
            if (k > 0)
                puts_(t, ", ");
            rc = render(r, t, depth + 1);
            puts_(t, ": ");
            if (rc == 0)
                rc = render(r, t, depth + 1);
        }
        puts_(t, "}");
        return rc;
    default:
        puts_(t, "<ext>");
        return shoal_mpr_skip(r);
    }
}

static const char *kind_name(int32_t kind)
{
    static const char *const names[] = {"cast", "request", "reply",
                                        "exit", "down",    "init"};
    if (kind >= 0 && kind < (int32_t)(sizeof names / sizeof names[0]))
        return names[kind];
    return "unknown";
}

static void log_message(const shoal_message *m)
{
    text t = {.len = 0};
    shoal_mp_reader r;

    puts_(&t, "receiver: ");
    puts_(&t, kind_name(m->kind));
    puts_(&t, " from ");
    put_u64(&t, m->sender);
    puts_(&t, " (");
    put_u64(&t, m->len);
    puts_(&t, " bytes): ");
    shoal_mpr_init(&r, m->data, m->len);
    if (m->len == 0)
        puts_(&t, "nothing");
    else if (render(&r, &t, 0) < 0)
        puts_(&t, " <malformed>");
    shoal_logn(SHOAL_LOG_INFO, t.buf, t.len);
}

/* The wait from an init message, or the default. */
static int64_t init_timeout(const shoal_message *m)
{
    shoal_mp_reader r;
    uint32_t pairs;
    shoal_mpr_init(&r, m->data, m->len);
    if (shoal_mpr_map(&r, &pairs) < 0)
        return DEFAULT_TIMEOUT_MS;
    for (uint32_t i = 0; i < pairs; i++) {
        const char *key;
        uint32_t key_len;
        uint64_t ms;
        if (shoal_mpr_str(&r, &key, &key_len) < 0) {
            if (shoal_mpr_skip(&r) < 0) /* a key of another type */
                break;
        } else if (shoal_mp_str_equals(key, key_len, "timeout_ms") &&
                   shoal_mpr_uint(&r, &ms) == 0) {
            return ms > INT64_MAX ? INT64_MAX : (int64_t)ms;
        }
        if (shoal_mpr_skip(&r) < 0) /* the value */
            break;
    }
    return DEFAULT_TIMEOUT_MS;
}

static int run(void)
{
    int64_t timeout_ms = DEFAULT_TIMEOUT_MS;

    for (;;) {
        shoal_message m;
        int32_t n = shoal_receive(timeout_ms, &m);
        if (n == SHOAL_E_TIMEOUT) {
            shoal_log(SHOAL_LOG_DEBUG, "receiver: idle");
            continue;
        }
        if (n < 0) {
            shoal_log(SHOAL_LOG_ERROR, "receiver: no memory for a message");
            return SHOAL_EXIT_NOMEM;
        }
        log_message(&m);

        bool asked = m.kind == SHOAL_MSG_REQUEST;
        if (m.kind == SHOAL_MSG_INIT) {
            timeout_ms = init_timeout(&m);
        } else if (asked || m.kind == SHOAL_MSG_CAST) {
            if (shoal_mp_is_str(m.data, m.len, "stop")) {
                static const uint8_t stopping[] = {0xa8, 's', 't', 'o', 'p',
                                                   'p',  'i', 'n', 'g'};
                if (asked)
                    (void)shoal_reply(stopping, sizeof stopping);
                shoal_message_free(&m);
                shoal_log(SHOAL_LOG_INFO, "receiver: stopping");
                return 0;
            }
            if (shoal_mp_is_str(m.data, m.len, "crash")) {
                shoal_log(SHOAL_LOG_INFO, "receiver: crashing");
                shoal_exit(EXIT_CRASH);
            }
            if (asked)
                (void)shoal_reply(m.data, m.len);
        }
        shoal_message_free(&m);
    }
}

SHOAL_MAIN(run);
