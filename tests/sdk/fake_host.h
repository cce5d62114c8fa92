/* A fake of the Shoal runtime for host-side tests of the SDK and of the
 * example actors: sdk/shoal.h built with SHOAL_SDK_NATIVE_TEST declares the
 * imports as plain functions, and fake_host.c defines them over the state
 * below. One actor per test executable; tests call its exports directly. */
#ifndef SHOAL_FAKE_HOST_H
#define SHOAL_FAKE_HOST_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

#define FAKE_MAX 64

/* A message the actor sent, replied, logged or will receive. */
typedef struct fake_msg {
    int32_t kind;  /* SHOAL_MSG_* (sent/queued), or FAKE_OUT_* */
    shoal_id peer; /* destination of a send, sender of a queued one */
    int32_t level; /* log lines */
    uint8_t *data; /* malloc'ed copy */
    size_t len;
} fake_msg;

#define FAKE_OUT_SEND 100
#define FAKE_OUT_REPLY 101
#define FAKE_OUT_LOG 102

typedef struct fake_host {
    shoal_id self;
    /* The current message. */
    bool has_current;
    fake_msg current;
    /* What receive hands out, in order; when empty it times out, and
     * after idle_limit timeouts in a row the run ends as if by exit(-1). */
    fake_msg queue[FAKE_MAX];
    size_t queue_head, queue_len;
    int idle, idle_limit;
    /* What the actor sent, replied and logged, in order. */
    fake_msg out[FAKE_MAX];
    size_t out_len;
    /* Forced result of send when not 0 (e.g. SHOAL_E_FULL). */
    int32_t send_result;
    /* The next malloc fails when set (tests link with --wrap=malloc). */
    bool fail_malloc;
    /* The end of a run. */
    jmp_buf exit_jmp;
    bool exited;
    int32_t exit_code;
    int32_t rc; /* what the export returned */
} fake_host;

extern fake_host fake;

/* The exports an actor may define. */
int32_t shoal_handle(int32_t len, int32_t kind);
int32_t shoal_init(int32_t len);
void shoal_main(void);

/* Frees everything and starts over with actor id self. */
void fake_reset(shoal_id self);
/* Forgets what the actor did so far (fake.out). */
void fake_clear_out(void);
/* Makes a copy of p[0..len) the current message. */
void fake_set_current(int32_t kind, shoal_id sender, const void *p, size_t len);
/* Appends a copy to the messages receive hands out. */
void fake_enqueue(int32_t kind, shoal_id sender, const void *p, size_t len);

/* Runs an export: fake.rc is what it returned, or fake.exited and
 * fake.exit_code say that it called exit. */
#define FAKE_RUN(call)                                                         \
    do {                                                                       \
        fake.exited = false;                                                   \
        fake.rc = 0;                                                           \
        if (setjmp(fake.exit_jmp) == 0)                                        \
            fake.rc = (call);                                                  \
    } while (0)

/* Delivers a message to a reactive actor's shoal_handle with FAKE_RUN.
 * (Inline, so that only tests of an actor with that export refer to it.) */
static inline void fake_deliver(int32_t kind, shoal_id sender, const void *p,
                                size_t len)
{
    fake_set_current(kind, sender, p, len);
    FAKE_RUN(shoal_handle((int32_t)len, kind));
}

/* Runs shoal_init with a message (NULL/0: none) with FAKE_RUN. */
static inline void fake_init(shoal_id sender, const void *p, size_t len)
{
    fake_set_current(SHOAL_MSG_INIT, sender, p, len);
    FAKE_RUN(shoal_init((int32_t)len));
}

/* Runs a long-running actor's shoal_main with FAKE_RUN. */
static inline void fake_run_main(void)
{
    FAKE_RUN((shoal_main(), 0));
}

/* A msgpack encoding of a string, an unsigned integer, into a static
 * buffer (valid until the next call); *len is its length. */
const uint8_t *fake_mp_str(const char *s, size_t *len);
const uint8_t *fake_mp_uint(uint64_t v, size_t *len);

/* What the actor put out: out[i] exists and holds exactly one msgpack
 * integer equal to v, or one string equal to s. */
bool fake_out_int(size_t i, int64_t v);
bool fake_out_str(size_t i, const char *s);
/* out[i] is a log line of that level and text. */
bool fake_out_log(size_t i, int32_t level, const char *text);

#endif
