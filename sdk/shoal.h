/* shoal.h: the C SDK for Shoal actors.
 *
 * One header, nothing to link: compile an actor with
 *
 *     clang --target=wasm32-wasi -O2 -std=c11 -I sdk actor.c -o actor.wasm \
 *         -nostartfiles -Wl,--no-entry -Wl,--strip-debug \
 *         -Wl,-z,stack-size=16384 -Wl,--stack-first
 *
 * -nostartfiles and --no-entry are needed: the module then exports memory
 * and the entry points the SHOAL_* macros define, and nothing else (see
 * shoal__start below; do not use -mexec-model=reactor, whose _initialize
 * the runtime does not call). The stack options are a suggestion: a small
 * stack below the data, so that an overflow traps rather than overwriting
 * the data.
 *
 * It declares the imports of docs/abi.md (module "shoal"), its error codes
 * and message kinds, wrappers that read messages into a buffer, and a small
 * msgpack writer and reader, enough for the messages actors usually trade
 * (nil, bool, integers, doubles, strings, binaries, arrays and maps).
 *
 * A reactive actor is a function and a macro:
 *
 *     #include "shoal.h"
 *
 *     static int on_message(shoal_message *m)
 *     {
 *         if (m->kind == SHOAL_MSG_REQUEST)
 *             shoal_reply(m->data, m->len);
 *         return 0;
 *     }
 *     SHOAL_HANDLER(on_message);
 *
 * A long-running one is `SHOAL_MAIN(run);` over an `int run(void)` that
 * loops on shoal_receive().
 *
 * Ownership, everywhere below: nothing the runtime is given is kept by it
 * (it copies), and nothing it writes lands outside a buffer the actor
 * passed. The SDK reads a message into a static buffer of the translation
 * unit (SHOAL_INBUF_SIZE bytes for received messages, SHOAL_REPLYBUF_SIZE
 * for replies of shoal_call) or, when longer, into memory it mallocs; a
 * shoal_message says which, and shoal_message_free() releases it.
 *
 * The state of an actor lives in its own linear memory, so file-scope
 * variables in an actor are its state, not shared with any other actor.
 *
 * Host-side tests define SHOAL_SDK_NATIVE_TEST: the imports become plain
 * extern functions the test defines (fakes of the runtime), and the exports
 * plain functions it calls.
 */
#ifndef SHOAL_H
#define SHOAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__wasm32__) && !defined(SHOAL_SDK_NATIVE_TEST)
#error "shoal.h targets wasm32 (define SHOAL_SDK_NATIVE_TEST for host tests)"
#endif

#ifdef SHOAL_SDK_NATIVE_TEST
#define SHOAL_IMPORT(name)
#define SHOAL_EXPORT(name)
#else
#define SHOAL_IMPORT(name)                                                     \
    __attribute__((import_module("shoal"), import_name(name)))
#define SHOAL_EXPORT(name) __attribute__((export_name(name)))
#endif

/* ------------------------------------------------------------------------
 * Values of docs/abi.md
 */

/* An actor id: node (16 bits), local slot (32), generation (16). 0 is
 * nobody: the runtime, or the embedder that sent a message. */
typedef uint64_t shoal_id;

/* Status codes of the runtime: 0 or positive on success, else one of
 * these. */
#define SHOAL_OK 0
#define SHOAL_E_NOACTOR (-1)   /* no such actor (never existed, or exited) */
#define SHOAL_E_FULL (-2)      /* receiver's mailbox full; nothing sent */
#define SHOAL_E_MALFORMED (-3) /* not exactly one msgpack object */
#define SHOAL_E_TIMEOUT (-4)   /* the wait timed out */
#define SHOAL_E_FAULT (-5)     /* pointer/length outside linear memory */
#define SHOAL_E_NOMODULE (-6)  /* spawn: no module of that name */
#define SHOAL_E_LIMIT (-7)     /* a limit was reached (size, actor count) */
#define SHOAL_E_NOMSG (-8)     /* no current message / not a request */
#define SHOAL_E_EXITED (-9)    /* call: the callee exited before replying */
#define SHOAL_E_NOLINK (-10)   /* lookup: no link to that provider */

/* Codes of the SDK itself; the runtime never returns them. */
#define SHOAL_E_NOMEM (-64) /* malloc failed inside the SDK */
#define SHOAL_E_TYPE (-65)  /* msgpack: another type, or does not fit */

/* Message kinds. */
#define SHOAL_MSG_CAST 0    /* a plain message (send) */
#define SHOAL_MSG_REQUEST 1 /* a request (call): answer with shoal_reply */
#define SHOAL_MSG_REPLY 2   /* a reply, only ever the result of call */
#define SHOAL_MSG_EXIT 3    /* {"actor": id, "reason": str, "code": int} */
#define SHOAL_MSG_DOWN 4    /* {"actor": id, "ref": int, "reason", "code"} */
#define SHOAL_MSG_INIT 5    /* the init message of a long-running actor */

/* Log levels. */
#define SHOAL_LOG_DEBUG 0
#define SHOAL_LOG_INFO 1
#define SHOAL_LOG_WARN 2
#define SHOAL_LOG_ERROR 3

/* Timeouts for receive and call. */
#define SHOAL_WAIT_FOREVER ((int64_t)-1)
#define SHOAL_NO_WAIT ((int64_t)0)

/* The largest message the runtime accepts. */
#define SHOAL_MAX_MESSAGE (1u << 20)

/* The exit code of an actor whose message the SDK had no memory to read. */
#define SHOAL_EXIT_NOMEM 255

/* ------------------------------------------------------------------------
 * The imports, exactly as docs/abi.md has them. Pointers and lengths are
 * i32 on wasm32, ids and timeouts i64. Prefer the wrappers further down,
 * which take size_t lengths and read messages for you.
 */

SHOAL_IMPORT("self") shoal_id shoal_sys_self(void);
SHOAL_IMPORT("send")
int32_t shoal_sys_send(shoal_id to, const void *ptr, int32_t len);
SHOAL_IMPORT("receive") int32_t shoal_sys_receive(int64_t timeout_ms);
SHOAL_IMPORT("msg_read") int32_t shoal_sys_msg_read(void *ptr, int32_t cap);
SHOAL_IMPORT("msg_sender") shoal_id shoal_sys_msg_sender(void);
SHOAL_IMPORT("msg_kind") int32_t shoal_sys_msg_kind(void);
SHOAL_IMPORT("call")
int32_t shoal_sys_call(shoal_id to, const void *ptr, int32_t len,
                       int64_t timeout_ms);
SHOAL_IMPORT("reply") int32_t shoal_sys_reply(const void *ptr, int32_t len);
SHOAL_IMPORT("spawn")
int64_t shoal_sys_spawn(const void *name_ptr, int32_t name_len,
                        const void *init_ptr, int32_t init_len);
SHOAL_IMPORT("exit") _Noreturn void shoal_sys_exit(int32_t code);
SHOAL_IMPORT("log")
void shoal_sys_log(int32_t level, const void *ptr, int32_t len);
SHOAL_IMPORT("link") int32_t shoal_sys_link(shoal_id id);
SHOAL_IMPORT("unlink") int32_t shoal_sys_unlink(shoal_id id);
SHOAL_IMPORT("monitor") int64_t shoal_sys_monitor(shoal_id id);
SHOAL_IMPORT("demonitor") int32_t shoal_sys_demonitor(int64_t ref);
SHOAL_IMPORT("trap_exit") int32_t shoal_sys_trap_exit(int32_t on);
SHOAL_IMPORT("lookup")
int64_t shoal_sys_lookup(const void *name_ptr, int32_t name_len);

/* ------------------------------------------------------------------------
 * Messages
 */

#ifndef SHOAL_INBUF_SIZE
#define SHOAL_INBUF_SIZE 65536
#endif
#ifndef SHOAL_REPLYBUF_SIZE
#define SHOAL_REPLYBUF_SIZE 4096
#endif

/* A message read out of the runtime. data points into an SDK buffer or
 * into malloc'ed memory (then heap_ is that memory); either way the message
 * owns it until shoal_message_free(). Bytes in the static buffers are
 * valid until the next read into the same buffer: the next shoal_receive
 * (or the handler's return) for received messages, the next shoal_call for
 * replies. Copy what must outlive that. */
typedef struct shoal_message {
    const uint8_t *data;
    size_t len;
    int32_t kind;    /* SHOAL_MSG_* */
    shoal_id sender; /* 0: the runtime or the embedder */
    void *heap_;     /* private: malloc'ed data, or NULL */
} shoal_message;

/* One pair of buffers per translation unit that uses them (an actor is
 * usually one file). */
static uint8_t shoal__inbuf[SHOAL_INBUF_SIZE]
    __attribute__((unused, aligned(8)));
static uint8_t shoal__replybuf[SHOAL_REPLYBUF_SIZE]
    __attribute__((unused, aligned(8)));

/* Releases what m holds and empties it. Safe on an empty or zeroed
 * message, and twice. */
static inline void shoal_message_free(shoal_message *m)
{
    free(m->heap_);
    m->heap_ = NULL;
    m->data = NULL;
    m->len = 0;
}

/* Reads the current message, len bytes long (as receive, call or the
 * export's argument said), into buf when it fits in cap bytes, else into
 * malloc'ed memory. Returns the length, or SHOAL_E_NOMEM, or an error of
 * msg_read. On an error m is empty (data NULL, len 0). */
static inline int32_t shoal_message_load(shoal_message *m, int32_t kind,
                                         int32_t len, uint8_t *buf, size_t cap)
{
    m->kind = kind;
    m->sender = shoal_sys_msg_sender();
    m->data = buf;
    m->len = 0;
    m->heap_ = NULL;
    if (len <= 0)
        return 0;
    uint8_t *dst = buf;
    if ((size_t)len > cap) {
        dst = malloc((size_t)len);
        if (dst == NULL) {
            m->data = NULL;
            return SHOAL_E_NOMEM;
        }
        m->heap_ = dst;
    }
    int32_t n = shoal_sys_msg_read(dst, len);
    if (n < 0) {
        shoal_message_free(m);
        return n;
    }
    m->data = dst;
    /* msg_read reports the whole length; what was copied is the lesser. */
    m->len = (size_t)(n < len ? n : len);
    return (int32_t)m->len;
}

/* ------------------------------------------------------------------------
 * Wrappers of the imports
 */

static inline shoal_id shoal_self(void)
{
    return shoal_sys_self();
}

/* Sends a copy of msg[0..len) (exactly one msgpack object) to `to`.
 * Returns 0, or SHOAL_E_NOACTOR, _FULL (nothing was delivered: drop, retry
 * later or fail, the sender decides), _MALFORMED, _FAULT, _LIMIT. */
static inline int32_t shoal_send(shoal_id to, const void *msg, size_t len)
{
    if (len > SHOAL_MAX_MESSAGE)
        return SHOAL_E_LIMIT;
    return shoal_sys_send(to, msg, (int32_t)len);
}

/* Answers the current message, which must be a request (else
 * SHOAL_E_NOMSG). Note that shoal_call and shoal_receive replace the
 * current message: reply before either. Errors of shoal_send, but never
 * SHOAL_E_FULL. */
static inline int32_t shoal_reply(const void *msg, size_t len)
{
    if (len > SHOAL_MAX_MESSAGE)
        return SHOAL_E_LIMIT;
    return shoal_sys_reply(msg, (int32_t)len);
}

/* Waits up to timeout_ms (SHOAL_WAIT_FOREVER, or SHOAL_NO_WAIT to poll) for
 * the next message and reads it into *m (see shoal_message for how long its
 * bytes stay valid; call shoal_message_free when done). Returns its length,
 * or SHOAL_E_TIMEOUT, or SHOAL_E_NOMEM; on an error *m is empty. After
 * SHOAL_E_NOMEM the message is still the current one, so
 * shoal_message_load can read it into a buffer of the caller's. */
static inline int32_t shoal_receive(int64_t timeout_ms, shoal_message *m)
{
    int32_t n = shoal_sys_receive(timeout_ms);
    if (n < 0) {
        memset(m, 0, sizeof *m);
        return n;
    }
    return shoal_message_load(m, shoal_sys_msg_kind(), n, shoal__inbuf,
                              sizeof shoal__inbuf);
}

/* Sends a request and waits up to timeout_ms for its reply, which it reads
 * into *reply (kind SHOAL_MSG_REPLY; valid until the next shoal_call of
 * this file; shoal_message_free when done). The reply becomes the current
 * message, so a request being handled can no longer be answered after
 * this. Returns the reply's length, or an error of shoal_send,
 * SHOAL_E_TIMEOUT, SHOAL_E_EXITED, SHOAL_E_NOMEM; on an error *reply is
 * empty. */
static inline int32_t shoal_call(shoal_id to, const void *req, size_t len,
                                 int64_t timeout_ms, shoal_message *reply)
{
    int32_t n;
    if (len > SHOAL_MAX_MESSAGE)
        n = SHOAL_E_LIMIT;
    else
        n = shoal_sys_call(to, req, (int32_t)len, timeout_ms);
    if (n < 0) {
        memset(reply, 0, sizeof *reply);
        return n;
    }
    return shoal_message_load(reply, SHOAL_MSG_REPLY, n, shoal__replybuf,
                              sizeof shoal__replybuf);
}

/* Starts an actor of the module `name` with an init message (msgpack;
 * NULL/0 for none). On 0 *id is the new actor. Errors: SHOAL_E_NOMODULE,
 * _MALFORMED, _FAULT, _LIMIT.
 *
 * spawn returns an id or a negative error in one i64, so an id whose node
 * has the top bit set would look negative; only -127..-1 count as errors
 * here, which no id of a live actor can be (its generation would be
 * 0xff81..0xffff on node 0xffff, slot 0xffffffff). */
static inline int32_t shoal_spawn(const char *name, const void *init,
                                  size_t init_len, shoal_id *id)
{
    size_t name_len = strlen(name);
    if (init_len > SHOAL_MAX_MESSAGE || name_len > INT32_MAX)
        return SHOAL_E_LIMIT;
    int64_t r =
        shoal_sys_spawn(name, (int32_t)name_len, init, (int32_t)init_len);
    if (r < 0 && r > -128)
        return (int32_t)r;
    *id = (shoal_id)r;
    return 0;
}

/* Ends this actor: 0 is a normal exit, anything else a failure. */
static inline _Noreturn void shoal_exit(int32_t code)
{
    shoal_sys_exit(code);
}

/* Writes one line of len bytes (no newline needed) to the actor's log. */
static inline void shoal_logn(int32_t level, const void *text, size_t len)
{
    if (len > INT32_MAX)
        len = INT32_MAX;
    shoal_sys_log(level, text, (int32_t)len);
}

/* Writes a NUL-terminated line to the actor's log. */
static inline void shoal_log(int32_t level, const char *text)
{
    shoal_logn(level, text, strlen(text));
}

/* Links this actor with id (both ways): a failure of either stops the
 * other, or sends it SHOAL_MSG_EXIT if it traps exits. */
static inline int32_t shoal_link(shoal_id id)
{
    return shoal_sys_link(id);
}

static inline int32_t shoal_unlink(shoal_id id)
{
    return shoal_sys_unlink(id);
}

/* Watches id: one SHOAL_MSG_DOWN comes when it exits. Returns a positive
 * reference for shoal_demonitor, or a negative error. */
static inline int64_t shoal_monitor(shoal_id id)
{
    return shoal_sys_monitor(id);
}

static inline int32_t shoal_demonitor(int64_t ref)
{
    return shoal_sys_demonitor(ref);
}

/* on: failures of linked actors arrive as SHOAL_MSG_EXIT messages instead
 * of stopping this actor. */
static inline int32_t shoal_trap_exit(bool on)
{
    return shoal_sys_trap_exit(on ? 1 : 0);
}

/* ------------------------------------------------------------------------
 * Exports
 *
 * SHOAL_HANDLER(fn); defines the export shoal_handle of a reactive actor:
 * it reads each message into the static buffer (or malloc'ed memory) and
 * calls `int fn(shoal_message *m)`. m and its bytes belong to the SDK and
 * are released when fn returns. fn returns 0 to keep the actor, anything
 * else to exit with that code. A message the SDK has no memory for is
 * logged and makes the actor exit with SHOAL_EXIT_NOMEM.
 *
 * SHOAL_INIT(fn); defines the export shoal_init the same way: fn gets the
 * spawn's init message (kind SHOAL_MSG_INIT; len 0 when there was none)
 * before any other.
 *
 * SHOAL_MAIN(fn); defines the export shoal_main of a long-running actor
 * over `int fn(void)`: returning 0 exits normally, anything else exits with
 * that code.
 */

/* The module's constructors run on the first call of an export, so the
 * runtime needs to call nothing but the exports docs/abi.md names (no
 * _initialize). Calling __wasm_call_ctors here also tells wasm-ld that the
 * module starts itself, so it does not wrap each export in a run of the
 * constructors and destructors, as it does for commands. Link with
 * -nostartfiles -Wl,--no-entry. */
#ifdef SHOAL_SDK_NATIVE_TEST
static inline void shoal__start(void)
{
}
#else
void __wasm_call_ctors(void);
/* Weak: one flag however many files include this header. */
__attribute__((weak)) bool shoal__started;

static inline void shoal__start(void)
{
    if (!shoal__started) {
        shoal__started = true;
        __wasm_call_ctors();
    }
}
#endif

typedef int (*shoal_handler_fn)(shoal_message *m);

/* Inlined, so that fn is called directly rather than through the table. */
__attribute__((always_inline)) static inline int32_t
shoal__dispatch(shoal_handler_fn fn, int32_t len, int32_t kind)
{
    shoal__start();
    shoal_message m;
    int32_t n =
        shoal_message_load(&m, kind, len, shoal__inbuf, sizeof shoal__inbuf);
    if (n == SHOAL_E_NOMEM) {
        shoal_log(SHOAL_LOG_ERROR, "no memory to read a message");
        return SHOAL_EXIT_NOMEM;
    }
    int rc = fn(&m);
    shoal_message_free(&m);
    return rc;
}

/* Each macro ends in a _Static_assert so that its use takes a semicolon. */
#define SHOAL_HANDLER(fn)                                                      \
    SHOAL_EXPORT("shoal_handle")                                               \
    int32_t shoal_handle(int32_t len, int32_t kind);                           \
    int32_t shoal_handle(int32_t len, int32_t kind)                            \
    {                                                                          \
        return shoal__dispatch(fn, len, kind);                                 \
    }                                                                          \
    _Static_assert(1, "SHOAL_HANDLER")

#define SHOAL_INIT(fn)                                                         \
    SHOAL_EXPORT("shoal_init") int32_t shoal_init(int32_t len);                \
    int32_t shoal_init(int32_t len)                                            \
    {                                                                          \
        return shoal__dispatch(fn, len, SHOAL_MSG_INIT);                       \
    }                                                                          \
    _Static_assert(1, "SHOAL_INIT")

#define SHOAL_MAIN(fn)                                                         \
    SHOAL_EXPORT("shoal_main") void shoal_main(void);                          \
    void shoal_main(void)                                                      \
    {                                                                          \
        shoal__start();                                                        \
        int shoal__rc = fn();                                                  \
        if (shoal__rc != 0)                                                    \
            shoal_exit(shoal__rc);                                             \
    }                                                                          \
    _Static_assert(1, "SHOAL_MAIN")

/* ------------------------------------------------------------------------
 * msgpack writer
 *
 * Writes into a buffer the caller owns. Every call either appends a whole
 * item or, when it does not fit, appends nothing and marks the writer
 * failed; later calls then do nothing, so a message can be built with no
 * checks and the result checked once with shoal_mpw_ok(). Integers take
 * their shortest encoding, as msgpack-c writes them.
 */

typedef struct shoal_mp_writer {
    uint8_t *buf;
    size_t cap;
    size_t len; /* bytes written */
    bool failed;
} shoal_mp_writer;

static inline void shoal_mpw_init(shoal_mp_writer *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->failed = false;
}

static inline bool shoal_mpw_ok(const shoal_mp_writer *w)
{
    return !w->failed;
}

/* Reserves n bytes at the end, or fails the writer. */
static inline uint8_t *shoal__mpw_take(shoal_mp_writer *w, size_t n)
{
    if (w->failed || n > w->cap - w->len) {
        w->failed = true;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static inline void shoal__put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* A tag byte followed by `bytes` bytes of v, big-endian. */
static inline void shoal__mpw_tagged(shoal_mp_writer *w, uint8_t tag,
                                     uint64_t v, unsigned bytes)
{
    uint8_t *p = shoal__mpw_take(w, 1 + bytes);
    if (p == NULL)
        return;
    p[0] = tag;
    shoal__put_be(p + 1, v, bytes);
}

static inline void shoal_mpw_nil(shoal_mp_writer *w)
{
    uint8_t *p = shoal__mpw_take(w, 1);
    if (p != NULL)
        p[0] = 0xc0;
}

static inline void shoal_mpw_bool(shoal_mp_writer *w, bool v)
{
    uint8_t *p = shoal__mpw_take(w, 1);
    if (p != NULL)
        p[0] = v ? 0xc3 : 0xc2;
}

static inline void shoal_mpw_uint(shoal_mp_writer *w, uint64_t v)
{
    if (v <= 0x7f)
        shoal__mpw_tagged(w, (uint8_t)v, 0, 0);
    else if (v <= UINT8_MAX)
        shoal__mpw_tagged(w, 0xcc, v, 1);
    else if (v <= UINT16_MAX)
        shoal__mpw_tagged(w, 0xcd, v, 2);
    else if (v <= UINT32_MAX)
        shoal__mpw_tagged(w, 0xce, v, 4);
    else
        shoal__mpw_tagged(w, 0xcf, v, 8);
}

static inline void shoal_mpw_int(shoal_mp_writer *w, int64_t v)
{
    if (v >= 0)
        shoal_mpw_uint(w, (uint64_t)v);
    else if (v >= -32)
        shoal__mpw_tagged(w, (uint8_t)(int8_t)v, 0, 0);
    else if (v >= INT8_MIN)
        shoal__mpw_tagged(w, 0xd0, (uint64_t)v, 1);
    else if (v >= INT16_MIN)
        shoal__mpw_tagged(w, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        shoal__mpw_tagged(w, 0xd2, (uint64_t)v, 4);
    else
        shoal__mpw_tagged(w, 0xd3, (uint64_t)v, 8);
}

/* A float 64. */
static inline void shoal_mpw_double(shoal_mp_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    shoal__mpw_tagged(w, 0xcb, bits, 8);
}

/* A header (tag and length) and n bytes of data, all or nothing. */
static inline void shoal__mpw_blob(shoal_mp_writer *w, uint8_t tag,
                                   size_t lenbytes, size_t n, const void *data)
{
    if (w->failed || 1 + lenbytes > w->cap - w->len ||
        n > w->cap - w->len - 1 - lenbytes) {
        w->failed = true;
        return;
    }
    shoal__mpw_tagged(w, tag, n, (unsigned)lenbytes);
    if (n > 0)
        memcpy(w->buf + w->len, data, n);
    w->len += n;
}

/* A string of n bytes (UTF-8 is the caller's business). */
static inline void shoal_mpw_str(shoal_mp_writer *w, const char *s, size_t n)
{
    if (n <= 31)
        shoal__mpw_blob(w, (uint8_t)(0xa0 | n), 0, n, s);
    else if (n <= UINT8_MAX)
        shoal__mpw_blob(w, 0xd9, 1, n, s);
    else if (n <= UINT16_MAX)
        shoal__mpw_blob(w, 0xda, 2, n, s);
    else if ((uint64_t)n <= UINT32_MAX)
        shoal__mpw_blob(w, 0xdb, 4, n, s);
    else
        w->failed = true;
}

static inline void shoal_mpw_cstr(shoal_mp_writer *w, const char *s)
{
    shoal_mpw_str(w, s, strlen(s));
}

static inline void shoal_mpw_bin(shoal_mp_writer *w, const void *p, size_t n)
{
    if (n <= UINT8_MAX)
        shoal__mpw_blob(w, 0xc4, 1, n, p);
    else if (n <= UINT16_MAX)
        shoal__mpw_blob(w, 0xc5, 2, n, p);
    else if ((uint64_t)n <= UINT32_MAX)
        shoal__mpw_blob(w, 0xc6, 4, n, p);
    else
        w->failed = true;
}

/* The header of an array of n items; the items follow. */
static inline void shoal_mpw_array(shoal_mp_writer *w, uint32_t n)
{
    if (n <= 15)
        shoal__mpw_tagged(w, (uint8_t)(0x90 | n), 0, 0);
    else if (n <= UINT16_MAX)
        shoal__mpw_tagged(w, 0xdc, n, 2);
    else
        shoal__mpw_tagged(w, 0xdd, n, 4);
}

/* The header of a map of n pairs; key, value, key, value... follow. */
static inline void shoal_mpw_map(shoal_mp_writer *w, uint32_t n)
{
    if (n <= 15)
        shoal__mpw_tagged(w, (uint8_t)(0x80 | n), 0, 0);
    else if (n <= UINT16_MAX)
        shoal__mpw_tagged(w, 0xde, n, 2);
    else
        shoal__mpw_tagged(w, 0xdf, n, 4);
}

/* Appends bytes already encoded (e.g. a whole object received). */
static inline void shoal_mpw_raw(shoal_mp_writer *w, const void *p, size_t n)
{
    uint8_t *dst = shoal__mpw_take(w, n);
    if (dst != NULL && n > 0)
        memcpy(dst, p, n);
}

/* shoal_send / shoal_reply of what a writer holds; SHOAL_E_LIMIT if the
 * writer failed (the message did not fit its buffer). */
static inline int32_t shoal_send_mp(shoal_id to, const shoal_mp_writer *w)
{
    if (w->failed)
        return SHOAL_E_LIMIT;
    return shoal_send(to, w->buf, w->len);
}

static inline int32_t shoal_reply_mp(const shoal_mp_writer *w)
{
    if (w->failed)
        return SHOAL_E_LIMIT;
    return shoal_reply(w->buf, w->len);
}

/* ------------------------------------------------------------------------
 * msgpack reader
 *
 * Reads the bytes it is given (it never copies them, and never reads past
 * their end). Each function reads one item and returns 0, or returns
 * SHOAL_E_MALFORMED (truncated or invalid bytes) or SHOAL_E_TYPE (another
 * type, or a value that does not fit the result) and leaves the reader
 * where it was, so another type can be tried. Strings and binaries come
 * back as pointers into the reader's bytes: valid as long as those are.
 */

typedef struct shoal_mp_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
} shoal_mp_reader;

/* What shoal_mpr_peek() returns. */
#define SHOAL_MP_NIL 0
#define SHOAL_MP_BOOL 1
#define SHOAL_MP_UINT 2 /* an integer >= 0, whatever its encoding */
#define SHOAL_MP_INT 3  /* an integer < 0 */
#define SHOAL_MP_FLOAT 4
#define SHOAL_MP_STR 5
#define SHOAL_MP_BIN 6
#define SHOAL_MP_ARRAY 7
#define SHOAL_MP_MAP 8
#define SHOAL_MP_EXT 9

static inline void shoal_mpr_init(shoal_mp_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
}

/* True when every byte has been read. */
static inline bool shoal_mpr_done(const shoal_mp_reader *r)
{
    return r->pos >= r->len;
}

static inline uint64_t shoal__get_be(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The head of the next item, decoded: its type, the width of the value or
 * length that follows the tag, and `arg`: the value of a scalar, the length
 * of a str/bin/ext payload, the count of an array or map. */
typedef struct shoal__mp_head {
    int type;       /* SHOAL_MP_* */
    size_t size;    /* bytes of tag, length/value and ext type */
    uint64_t arg;   /* integer value (bits), length or count */
    uint64_t extra; /* payload bytes after the head (str, bin, ext) */
    bool is_float32;
} shoal__mp_head;

/* Decodes the head of the next item without moving; checks that the head
 * and its payload lie within the bytes. */
static inline int shoal__mpr_head(const shoal_mp_reader *r, shoal__mp_head *h)
{
    if (r->pos >= r->len)
        return SHOAL_E_MALFORMED;
    const uint8_t *p = r->p + r->pos;
    size_t left = r->len - r->pos;
    uint8_t tag = p[0];
    unsigned width = 0; /* bytes of length or value after the tag */
    h->size = 1;
    h->arg = 0;
    h->extra = 0;
    h->is_float32 = false;

    if (tag <= 0x7f) {
        h->type = SHOAL_MP_UINT;
        h->arg = tag;
        return 0;
    }
    if (tag >= 0xe0) {
        h->type = SHOAL_MP_INT;
        h->arg = (uint64_t)(int64_t)(int8_t)tag;
        return 0;
    }
    if (tag <= 0x8f || (tag >= 0x90 && tag <= 0x9f)) {
        h->type = tag <= 0x8f ? SHOAL_MP_MAP : SHOAL_MP_ARRAY;
        h->arg = tag & 0x0f;
        return 0;
    }
    if (tag >= 0xa0 && tag <= 0xbf) {
        h->type = SHOAL_MP_STR;
        h->arg = tag & 0x1f;
        h->extra = h->arg;
        goto check_extra;
    }
    switch (tag) {
    case 0xc0:
        h->type = SHOAL_MP_NIL;
        return 0;
    case 0xc2:
    case 0xc3:
        h->type = SHOAL_MP_BOOL;
        h->arg = tag == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        h->type = SHOAL_MP_BIN;
        width = 1u << (tag - 0xc4);
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        h->type = SHOAL_MP_EXT;
        width = 1u << (tag - 0xc7);
        break;
    case 0xca:
        h->type = SHOAL_MP_FLOAT;
        h->is_float32 = true;
        width = 4;
        break;
    case 0xcb:
        h->type = SHOAL_MP_FLOAT;
        width = 8;
        break;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        h->type = SHOAL_MP_UINT;
        width = 1u << (tag - 0xcc);
        break;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        h->type = SHOAL_MP_INT; /* for now; sign decided below */
        width = 1u << (tag - 0xd0);
        break;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        /* fixext 1..16: a type byte and 2^k bytes of data */
        h->type = SHOAL_MP_EXT;
        h->arg = 1u << (tag - 0xd4);
        h->extra = h->arg;
        h->size = 2;
        if (left < 2)
            return SHOAL_E_MALFORMED;
        goto check_extra;
    case 0xd9:
    case 0xda:
    case 0xdb:
        h->type = SHOAL_MP_STR;
        width = 1u << (tag - 0xd9);
        break;
    case 0xdc:
    case 0xdd:
        h->type = SHOAL_MP_ARRAY;
        width = tag == 0xdc ? 2 : 4;
        break;
    case 0xde:
    case 0xdf:
        h->type = SHOAL_MP_MAP;
        width = tag == 0xde ? 2 : 4;
        break;
    default: /* 0xc1 is never used */
        return SHOAL_E_MALFORMED;
    }

    if (left < 1 + (size_t)width)
        return SHOAL_E_MALFORMED;
    h->size = 1 + width;
    h->arg = shoal__get_be(p + 1, width);
    switch (h->type) {
    case SHOAL_MP_INT: {
        /* Sign-extend int8..int64; a non-negative one reads as a uint. */
        unsigned shift = 64 - 8 * width;
        int64_t v = (int64_t)(h->arg << shift) >> shift;
        h->arg = (uint64_t)v;
        if (v >= 0)
            h->type = SHOAL_MP_UINT;
        return 0;
    }
    case SHOAL_MP_EXT:
        if (left < h->size + 1)
            return SHOAL_E_MALFORMED;
        h->size += 1; /* the ext type byte */
        h->extra = h->arg;
        goto check_extra;
    case SHOAL_MP_STR:
    case SHOAL_MP_BIN:
        h->extra = h->arg;
        goto check_extra;
    default: /* a float's value, or an array's or map's count */
        return 0;
    }

check_extra:
    if (h->extra > (uint64_t)(left - h->size))
        return SHOAL_E_MALFORMED;
    return 0;
}

/* The type of the next item (SHOAL_MP_*), or SHOAL_E_MALFORMED. */
static inline int shoal_mpr_peek(const shoal_mp_reader *r)
{
    shoal__mp_head h;
    int rc = shoal__mpr_head(r, &h);
    return rc < 0 ? rc : h.type;
}

/* Reads the head of an item of type `type`; moves past the head only. */
static inline int shoal__mpr_expect(shoal_mp_reader *r, int type,
                                    shoal__mp_head *h)
{
    int rc = shoal__mpr_head(r, h);
    if (rc < 0)
        return rc;
    if (h->type != type)
        return SHOAL_E_TYPE;
    r->pos += h->size;
    return 0;
}

static inline int shoal_mpr_nil(shoal_mp_reader *r)
{
    shoal__mp_head h;
    return shoal__mpr_expect(r, SHOAL_MP_NIL, &h);
}

static inline int shoal_mpr_bool(shoal_mp_reader *r, bool *out)
{
    shoal__mp_head h;
    int rc = shoal__mpr_expect(r, SHOAL_MP_BOOL, &h);
    if (rc == 0)
        *out = h.arg != 0;
    return rc;
}

/* An integer >= 0, in any integer encoding. */
static inline int shoal_mpr_uint(shoal_mp_reader *r, uint64_t *out)
{
    shoal__mp_head h;
    int rc = shoal__mpr_expect(r, SHOAL_MP_UINT, &h);
    if (rc == 0)
        *out = h.arg;
    return rc;
}

/* An integer in INT64_MIN..INT64_MAX, in any integer encoding. */
static inline int shoal_mpr_int(shoal_mp_reader *r, int64_t *out)
{
    shoal__mp_head h;
    int rc = shoal__mpr_head(r, &h);
    if (rc < 0)
        return rc;
    if (h.type != SHOAL_MP_UINT && h.type != SHOAL_MP_INT)
        return SHOAL_E_TYPE;
    if (h.type == SHOAL_MP_UINT && h.arg > (uint64_t)INT64_MAX)
        return SHOAL_E_TYPE;
    r->pos += h.size;
    *out = (int64_t)h.arg;
    return 0;
}

/* A float 32 or float 64 (not an integer: read those as integers). */
static inline int shoal_mpr_double(shoal_mp_reader *r, double *out)
{
    shoal__mp_head h;
    int rc = shoal__mpr_expect(r, SHOAL_MP_FLOAT, &h);
    if (rc < 0)
        return rc;
    if (h.is_float32) {
        uint32_t bits = (uint32_t)h.arg;
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
    } else {
        memcpy(out, &h.arg, sizeof *out);
    }
    return 0;
}

/* Reads the head and payload of a str or bin. */
static inline int shoal__mpr_blob(shoal_mp_reader *r, int type,
                                  const uint8_t **p, uint32_t *n)
{
    shoal__mp_head h;
    int rc = shoal__mpr_expect(r, type, &h);
    if (rc < 0)
        return rc;
    *p = r->p + r->pos;
    *n = (uint32_t)h.extra;
    r->pos += (size_t)h.extra;
    return 0;
}

/* A string: *s points at its n bytes in the reader's buffer (not
 * NUL-terminated). */
static inline int shoal_mpr_str(shoal_mp_reader *r, const char **s, uint32_t *n)
{
    const uint8_t *p = NULL;
    int rc = shoal__mpr_blob(r, SHOAL_MP_STR, &p, n);
    if (rc == 0)
        *s = (const char *)p;
    return rc;
}

static inline int shoal_mpr_bin(shoal_mp_reader *r, const uint8_t **p,
                                uint32_t *n)
{
    return shoal__mpr_blob(r, SHOAL_MP_BIN, p, n);
}

/* The header of an array: *n items follow. */
static inline int shoal_mpr_array(shoal_mp_reader *r, uint32_t *n)
{
    shoal__mp_head h;
    int rc = shoal__mpr_expect(r, SHOAL_MP_ARRAY, &h);
    if (rc == 0)
        *n = (uint32_t)h.arg;
    return rc;
}

/* The header of a map: *n key-value pairs follow. */
static inline int shoal_mpr_map(shoal_mp_reader *r, uint32_t *n)
{
    shoal__mp_head h;
    int rc = shoal__mpr_expect(r, SHOAL_MP_MAP, &h);
    if (rc == 0)
        *n = (uint32_t)h.arg;
    return rc;
}

/* Skips one whole item, however deeply nested (without recursion). On an
 * error the reader is where it was. */
static inline int shoal_mpr_skip(shoal_mp_reader *r)
{
    size_t pos = r->pos;
    uint64_t pending = 1; /* items still to skip */
    while (pending > 0) {
        shoal__mp_head h;
        int rc = shoal__mpr_head(r, &h);
        if (rc < 0) {
            r->pos = pos;
            return rc;
        }
        r->pos += h.size + (size_t)h.extra;
        pending--;
        if (h.type == SHOAL_MP_ARRAY)
            pending += h.arg;
        else if (h.type == SHOAL_MP_MAP)
            pending += 2 * h.arg;
        /* Each pending item takes at least a byte: a count beyond the
         * bytes left cannot be honest. */
        if (pending > r->len - r->pos) {
            r->pos = pos;
            return SHOAL_E_MALFORMED;
        }
    }
    return 0;
}

/* True when bytes[0..len) are exactly one msgpack object. */
static inline bool shoal_mp_valid(const void *bytes, size_t len)
{
    shoal_mp_reader r;
    shoal_mpr_init(&r, bytes, len);
    return shoal_mpr_skip(&r) == 0 && shoal_mpr_done(&r);
}

/* True when s[0..n) is the NUL-terminated string lit. */
static inline bool shoal_mp_str_equals(const char *s, uint32_t n,
                                       const char *lit)
{
    size_t m = strlen(lit);
    return m == n && memcmp(s, lit, m) == 0;
}

/* True when bytes[0..len) are exactly one msgpack string equal to lit:
 * the usual test for a command such as "stop". */
static inline bool shoal_mp_is_str(const void *bytes, size_t len,
                                   const char *lit)
{
    shoal_mp_reader r;
    const char *s;
    uint32_t n;
    shoal_mpr_init(&r, bytes, len);
    return shoal_mpr_str(&r, &s, &n) == 0 && shoal_mpr_done(&r) &&
           shoal_mp_str_equals(s, n, lit);
}

/* ------------------------------------------------------------------------
 * Capability providers (docs/providers.md)
 */

/* The id to send to or call for a name: a provider this actor is linked to
 * ("kv"), as the manifest's links say. On 0 *id is set. Errors:
 * SHOAL_E_NOLINK (the actor has no such link; the node logs it),
 * SHOAL_E_FAULT. */
static inline int32_t shoal_lookup(const char *name, shoal_id *id)
{
    int64_t r = shoal_sys_lookup(name, (int32_t)strlen(name));
    if (r < 0 && r >= -127)
        return (int32_t)r;
    *id = (shoal_id)r;
    return 0;
}

/* An HTTP request from the http-server provider (docs/provider-http.md),
 * read in place: the fields point into the message. */
typedef struct shoal_http_request {
    const char *method;
    uint32_t method_len;
    const char *path;
    uint32_t path_len;
    const char *query; /* without the '?'; empty if none */
    uint32_t query_len;
    const uint8_t *body;
    uint32_t body_len;
    const uint8_t *headers_; /* private: the "headers" array */
    size_t headers_len_;
} shoal_http_request;

/* Reads the request map of msg. Returns 0, or SHOAL_E_MALFORMED when msg is
 * not such a map. */
static inline int32_t shoal_http_request_read(const void *msg, size_t len,
                                              shoal_http_request *req)
{
    shoal_mp_reader r;
    uint32_t pairs;
    memset(req, 0, sizeof *req);
    req->method = req->path = req->query = "";
    shoal_mpr_init(&r, msg, len);
    if (shoal_mpr_map(&r, &pairs) != 0)
        return SHOAL_E_MALFORMED;
    for (uint32_t i = 0; i < pairs; i++) {
        const char *k;
        uint32_t kn;
        if (shoal_mpr_str(&r, &k, &kn) != 0)
            return SHOAL_E_MALFORMED;
        int rc = 0;
        if (shoal_mp_str_equals(k, kn, "method")) {
            rc = shoal_mpr_str(&r, &req->method, &req->method_len);
        } else if (shoal_mp_str_equals(k, kn, "path")) {
            rc = shoal_mpr_str(&r, &req->path, &req->path_len);
        } else if (shoal_mp_str_equals(k, kn, "query")) {
            rc = shoal_mpr_str(&r, &req->query, &req->query_len);
        } else if (shoal_mp_str_equals(k, kn, "body")) {
            if (shoal_mpr_peek(&r) == SHOAL_MP_STR)
                rc = shoal_mpr_str(&r, (const char **)&req->body,
                                   &req->body_len);
            else
                rc = shoal_mpr_bin(&r, &req->body, &req->body_len);
        } else if (shoal_mp_str_equals(k, kn, "headers")) {
            size_t start = r.pos;
            rc = shoal_mpr_skip(&r);
            req->headers_ = r.p + start;
            req->headers_len_ = r.pos - start;
        } else {
            rc = shoal_mpr_skip(&r);
        }
        if (rc != 0)
            return SHOAL_E_MALFORMED;
    }
    return shoal_mpr_done(&r) ? 0 : SHOAL_E_MALFORMED;
}

/* The first value of header name (lower case, as the provider sends
 * names); true if found. */
static inline bool shoal_http_header(const shoal_http_request *req,
                                     const char *name, const char **value,
                                     uint32_t *value_len)
{
    shoal_mp_reader r;
    uint32_t n, two;
    shoal_mpr_init(&r, req->headers_, req->headers_len_);
    if (req->headers_ == NULL || shoal_mpr_array(&r, &n) != 0)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *v;
        uint32_t kn, vn;
        if (shoal_mpr_array(&r, &two) != 0 || two != 2 ||
            shoal_mpr_str(&r, &k, &kn) != 0 || shoal_mpr_str(&r, &v, &vn) != 0)
            return false;
        if (shoal_mp_str_equals(k, kn, name)) {
            *value = v;
            *value_len = vn;
            return true;
        }
    }
    return false;
}

/* Whether the request's method is m ("GET"). */
static inline bool shoal_http_method_is(const shoal_http_request *req,
                                        const char *m)
{
    return shoal_mp_str_equals(req->method, req->method_len, m);
}

/* Answers the request being handled with an HTTP response: status, a
 * Content-Type (NULL for none) and a body. Returns shoal_reply's result,
 * or SHOAL_E_NOMEM. */
static inline int32_t shoal_http_respond(int32_t status,
                                         const char *content_type,
                                         const void *body, size_t body_len)
{
    size_t cap = body_len + (content_type ? strlen(content_type) : 0) + 64;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return SHOAL_E_NOMEM;
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, cap);
    shoal_mpw_map(&w, 3);
    shoal_mpw_cstr(&w, "status");
    shoal_mpw_int(&w, status);
    shoal_mpw_cstr(&w, "headers");
    shoal_mpw_array(&w, content_type ? 1 : 0);
    if (content_type) {
        shoal_mpw_array(&w, 2);
        shoal_mpw_cstr(&w, "content-type");
        shoal_mpw_cstr(&w, content_type);
    }
    shoal_mpw_cstr(&w, "body");
    shoal_mpw_bin(&w, body, body_len);
    int32_t rc = shoal_reply_mp(&w);
    free(buf);
    return rc;
}

/* shoal_http_respond with a text/plain body. */
static inline int32_t shoal_http_respond_text(int32_t status,
                                              const char *text)
{
    return shoal_http_respond(status, "text/plain; charset=utf-8", text,
                              strlen(text));
}

/* Adds by to the integer at key in the kv provider kv (from shoal_lookup)
 * and reads the new value into *value. Returns 0, an error of shoal_call,
 * or SHOAL_E_LIMIT when the provider refused (its error is logged). */
static inline int32_t shoal_kv_incr(shoal_id kv, const char *key, int64_t by,
                                    int64_t *value)
{
    uint8_t buf[1100];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_map(&w, 3);
    shoal_mpw_cstr(&w, "op");
    shoal_mpw_cstr(&w, "incr");
    shoal_mpw_cstr(&w, "key");
    shoal_mpw_cstr(&w, key);
    shoal_mpw_cstr(&w, "by");
    shoal_mpw_int(&w, by);
    if (w.failed)
        return SHOAL_E_LIMIT;
    shoal_message reply;
    int32_t rc = shoal_call(kv, w.buf, w.len, 5000, &reply);
    if (rc < 0)
        return rc;
    shoal_mp_reader r;
    uint32_t pairs;
    bool ok = false, have = false;
    shoal_mpr_init(&r, reply.data, reply.len);
    if (shoal_mpr_map(&r, &pairs) == 0) {
        for (uint32_t i = 0; i < pairs; i++) {
            const char *k;
            uint32_t kn;
            if (shoal_mpr_str(&r, &k, &kn) != 0)
                break;
            if (shoal_mp_str_equals(k, kn, "ok")) {
                if (shoal_mpr_bool(&r, &ok) != 0)
                    break;
            } else if (shoal_mp_str_equals(k, kn, "value")) {
                have = shoal_mpr_int(&r, value) == 0;
            } else if (shoal_mpr_skip(&r) != 0) {
                break;
            }
        }
    }
    shoal_message_free(&reply);
    if (!ok || !have) {
        shoal_log(SHOAL_LOG_ERROR, "kv incr failed");
        return SHOAL_E_LIMIT;
    }
    return 0;
}

#endif
