/* The fake runtime of fake_host.h. */
#include "fake_host.h"

#include <stdlib.h>
#include <string.h>

fake_host fake;

/* With -Wl,--wrap=malloc: the SDK's malloc calls go to __wrap_malloc. */
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

static uint8_t *copy(const void *p, size_t len)
{
    /* The real malloc: a failure the test asked for is for the actor. */
    uint8_t *c = __real_malloc(len + 1); /* +1: never malloc(0) */
    if (c == NULL)
        abort();
    if (len > 0)
        memcpy(c, p, len);
    return c;
}

static void record(int32_t kind, shoal_id peer, int32_t level, const void *p,
                   size_t len)
{
    if (fake.out_len == FAKE_MAX)
        abort();
    fake.out[fake.out_len++] = (fake_msg){kind, peer, level, copy(p, len), len};
}

void fake_reset(shoal_id self)
{
    free(fake.current.data);
    for (size_t i = 0; i < fake.queue_len; i++)
        free(fake.queue[(fake.queue_head + i) % FAKE_MAX].data);
    for (size_t i = 0; i < fake.out_len; i++)
        free(fake.out[i].data);
    memset(&fake, 0, sizeof fake);
    fake.self = self;
    fake.idle_limit = 3;
}

void fake_clear_out(void)
{
    for (size_t i = 0; i < fake.out_len; i++)
        free(fake.out[i].data);
    fake.out_len = 0;
}

void fake_set_current(int32_t kind, shoal_id sender, const void *p, size_t len)
{
    free(fake.current.data);
    fake.current = (fake_msg){kind, sender, 0, copy(p, len), len};
    fake.has_current = true;
}

void fake_enqueue(int32_t kind, shoal_id sender, const void *p, size_t len)
{
    if (fake.queue_len == FAKE_MAX)
        abort();
    fake.queue[(fake.queue_head + fake.queue_len++) % FAKE_MAX] =
        (fake_msg){kind, sender, 0, copy(p, len), len};
}

const uint8_t *fake_mp_str(const char *s, size_t *len)
{
    static uint8_t buf[256];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_cstr(&w, s);
    *len = w.len;
    return buf;
}

const uint8_t *fake_mp_uint(uint64_t v, size_t *len)
{
    static uint8_t buf[16];
    shoal_mp_writer w;
    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_uint(&w, v);
    *len = w.len;
    return buf;
}

bool fake_out_int(size_t i, int64_t v)
{
    shoal_mp_reader r;
    int64_t got;
    if (i >= fake.out_len)
        return false;
    shoal_mpr_init(&r, fake.out[i].data, fake.out[i].len);
    return shoal_mpr_int(&r, &got) == 0 && shoal_mpr_done(&r) && got == v;
}

bool fake_out_str(size_t i, const char *s)
{
    return i < fake.out_len &&
           shoal_mp_is_str(fake.out[i].data, fake.out[i].len, s);
}

bool fake_out_log(size_t i, int32_t level, const char *text)
{
    return i < fake.out_len && fake.out[i].kind == FAKE_OUT_LOG &&
           fake.out[i].level == level && fake.out[i].len == strlen(text) &&
           memcmp(fake.out[i].data, text, fake.out[i].len) == 0;
}

/* The imports. */

shoal_id shoal_sys_self(void)
{
    return fake.self;
}

int32_t shoal_sys_send(shoal_id to, const void *ptr, int32_t len)
{
    if (len < 0)
        return SHOAL_E_FAULT;
    if (!shoal_mp_valid(ptr, (size_t)len))
        return SHOAL_E_MALFORMED;
    if (to == 0)
        return SHOAL_E_NOACTOR;
    if (fake.send_result != 0)
        return fake.send_result;
    record(FAKE_OUT_SEND, to, 0, ptr, (size_t)len);
    return 0;
}

int32_t shoal_sys_receive(int64_t timeout_ms)
{
    (void)timeout_ms;
    if (fake.queue_len == 0) {
        if (++fake.idle >= fake.idle_limit) {
            fake.exited = true;
            fake.exit_code = -1;
            longjmp(fake.exit_jmp, 1);
        }
        return SHOAL_E_TIMEOUT;
    }
    fake.idle = 0;
    free(fake.current.data);
    fake.current = fake.queue[fake.queue_head];
    fake.queue_head = (fake.queue_head + 1) % FAKE_MAX;
    fake.queue_len--;
    fake.has_current = true;
    return (int32_t)fake.current.len;
}

int32_t shoal_sys_msg_read(void *ptr, int32_t cap)
{
    if (!fake.has_current)
        return SHOAL_E_NOMSG;
    if (cap < 0)
        return SHOAL_E_FAULT;
    size_t n = fake.current.len < (size_t)cap ? fake.current.len : (size_t)cap;
    if (n > 0)
        memcpy(ptr, fake.current.data, n);
    return (int32_t)fake.current.len;
}

shoal_id shoal_sys_msg_sender(void)
{
    return fake.has_current ? fake.current.peer : 0;
}

int32_t shoal_sys_msg_kind(void)
{
    return fake.has_current ? fake.current.kind : SHOAL_E_NOMSG;
}

int32_t shoal_sys_call(shoal_id to, const void *ptr, int32_t len,
                       int64_t timeout_ms)
{
    (void)to;
    (void)ptr;
    (void)len;
    (void)timeout_ms;
    return SHOAL_E_TIMEOUT;
}

int32_t shoal_sys_reply(const void *ptr, int32_t len)
{
    if (!fake.has_current || fake.current.kind != SHOAL_MSG_REQUEST)
        return SHOAL_E_NOMSG;
    if (len < 0)
        return SHOAL_E_FAULT;
    if (!shoal_mp_valid(ptr, (size_t)len))
        return SHOAL_E_MALFORMED;
    record(FAKE_OUT_REPLY, fake.current.peer, 0, ptr, (size_t)len);
    return 0;
}

int64_t shoal_sys_spawn(const void *name_ptr, int32_t name_len,
                        const void *init_ptr, int32_t init_len)
{
    (void)name_ptr;
    (void)name_len;
    (void)init_ptr;
    (void)init_len;
    return SHOAL_E_NOMODULE;
}

_Noreturn void shoal_sys_exit(int32_t code)
{
    fake.exited = true;
    fake.exit_code = code;
    longjmp(fake.exit_jmp, 1);
}

void shoal_sys_log(int32_t level, const void *ptr, int32_t len)
{
    record(FAKE_OUT_LOG, 0, level, ptr, (size_t)len);
}

int32_t shoal_sys_link(shoal_id id)
{
    (void)id;
    return 0;
}

int32_t shoal_sys_unlink(shoal_id id)
{
    (void)id;
    return 0;
}

int64_t shoal_sys_monitor(shoal_id id)
{
    (void)id;
    return 1;
}

int32_t shoal_sys_demonitor(int64_t ref)
{
    (void)ref;
    return 0;
}

int32_t shoal_sys_trap_exit(int32_t on)
{
    (void)on;
    return 0;
}

/* Fails one allocation when asked. */
void *__wrap_malloc(size_t size)
{
    if (fake.fail_malloc) {
        fake.fail_malloc = false;
        return NULL;
    }
    return __real_malloc(size);
}
