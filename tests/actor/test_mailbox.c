/* Tests of mailbox.c, the actor's lock-free mailbox: order, the bound,
 * push_front, closing, and stress with many producers and one consumer
 * (no message lost or duplicated, each sender's order kept, the bound
 * never exceeded), also while the consumer closes the mailbox. The suite
 * runs under ThreadSanitizer too (scripts/test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox.h"

/* A message from sender `from` with sequence number `seq` (in corr). */
static shoal_msg *msg(uint64_t from, uint64_t seq)
{
    shoal_msg *m = msg_new(MSG_CAST, from, seq, NULL, 0);
    assert_non_null(m);
    return m;
}

static void test_order_and_count(void **state)
{
    (void)state;
    mailbox mb;
    mbox_init(&mb, 100);
    assert_true(mbox_empty(&mb));
    assert_null(mbox_pop(&mb));
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(mbox_push(&mb, msg(1, i), true), SHOAL_OK);
    assert_int_equal(mbox_count(&mb), 10);
    assert_false(mbox_empty(&mb));
    /* Pops take the inbox in batches; pushes between pops keep order. */
    for (uint64_t i = 0; i < 5; i++) {
        shoal_msg *m = mbox_pop(&mb);
        assert_non_null(m);
        assert_int_equal(m->corr, i);
        assert_null(m->next);
        msg_free(m);
    }
    for (uint64_t i = 10; i < 15; i++)
        assert_int_equal(mbox_push(&mb, msg(1, i), true), SHOAL_OK);
    assert_int_equal(mbox_count(&mb), 10);
    for (uint64_t i = 5; i < 15; i++) {
        shoal_msg *m = mbox_pop(&mb);
        assert_non_null(m);
        assert_int_equal(m->corr, i);
        msg_free(m);
    }
    assert_null(mbox_pop(&mb));
    assert_true(mbox_empty(&mb));
    assert_int_equal(mbox_count(&mb), 0);
    mbox_free(&mb);
}

static void test_bound(void **state)
{
    (void)state;
    mailbox mb;
    mbox_init(&mb, 4);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(mbox_push(&mb, msg(1, i), true), SHOAL_OK);
    shoal_msg *extra = msg(1, 99);
    assert_int_equal(mbox_push(&mb, extra, true), SHOAL_EFULL);
    assert_int_equal(mbox_count(&mb), 4);
    /* Notices are never refused for a full mailbox. */
    assert_int_equal(mbox_push(&mb, msg(2, 0), false), SHOAL_OK);
    assert_int_equal(mbox_count(&mb), 5);
    assert_int_equal(mbox_push(&mb, extra, true), SHOAL_EFULL);
    /* A pop makes room only once the count is below the bound again. */
    msg_free(mbox_pop(&mb));
    assert_int_equal(mbox_push(&mb, extra, true), SHOAL_EFULL);
    msg_free(mbox_pop(&mb));
    assert_int_equal(mbox_push(&mb, extra, true), SHOAL_OK);
    assert_int_equal(mbox_count(&mb), 4);
    mbox_free(&mb); /* frees what is left */
}

static void test_push_front(void **state)
{
    (void)state;
    mailbox mb;
    mbox_init(&mb, 8);
    assert_int_equal(mbox_push(&mb, msg(1, 1), true), SHOAL_OK);
    mbox_push_front(&mb, msg(0, 0));
    assert_int_equal(mbox_count(&mb), 2);
    shoal_msg *m = mbox_pop(&mb);
    assert_int_equal(m->sender, 0);
    msg_free(m);
    m = mbox_pop(&mb);
    assert_int_equal(m->corr, 1);
    msg_free(m);
    /* Into an empty mailbox, too. */
    mbox_push_front(&mb, msg(0, 7));
    assert_false(mbox_empty(&mb));
    m = mbox_pop(&mb);
    assert_int_equal(m->corr, 7);
    msg_free(m);
    mbox_free(&mb);
}

static void test_close(void **state)
{
    (void)state;
    mailbox mb;
    mbox_init(&mb, 8);
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(mbox_push(&mb, msg(1, i), true), SHOAL_OK);
    msg_free(mbox_pop(&mb)); /* 0 is in the consumer's list, 1 and 2 not */
    assert_int_equal(mbox_push(&mb, msg(1, 3), true), SHOAL_OK);
    shoal_msg *all = mbox_close(&mb);
    uint64_t want = 1;
    while (all) {
        shoal_msg *next = all->next;
        assert_int_equal(all->corr, want++);
        msg_free(all);
        all = next;
    }
    assert_int_equal(want, 4);
    assert_int_equal(mbox_count(&mb), 0);
    shoal_msg *late = msg(1, 4);
    assert_int_equal(mbox_push(&mb, late, true), SHOAL_ENOTFOUND);
    assert_int_equal(mbox_push(&mb, late, false), SHOAL_ENOTFOUND);
    assert_int_equal(mbox_count(&mb), 0);
    assert_null(mbox_pop(&mb));
    assert_true(mbox_empty(&mb));
    assert_null(mbox_close(&mb));
    msg_free(late);
    mbox_free(&mb);
}

/* ---- many producers, one consumer ---- */

enum { PRODUCERS = 4, PER_PRODUCER = 50000 };

typedef struct stress {
    mailbox mb;
    uint64_t accepted[PRODUCERS]; /* by each producer */
} stress;

typedef struct producer {
    stress *s;
    uint64_t id;
} producer;

/* Pushes PER_PRODUCER numbered messages, retrying while the mailbox is
 * full, and stops at the first refusal for a closed mailbox. */
static void *produce(void *arg)
{
    producer *p = arg;
    stress *s = p->s;
    uint64_t n = 0;
    for (uint64_t seq = 0; seq < PER_PRODUCER; seq++) {
        shoal_msg *m = msg_new(MSG_CAST, p->id, seq, NULL, 0);
        if (m == NULL)
            break;
        shoal_err err;
        while ((err = mbox_push(&s->mb, m, true)) == SHOAL_EFULL)
            sched_yield();
        if (err != SHOAL_OK) {
            msg_free(m); /* closed: not taken */
            break;
        }
        n++;
    }
    s->accepted[p->id] = n;
    return NULL;
}

/* Checks one message received from a producer: the next in its order. */
static void receive(uint64_t *next, shoal_msg *m)
{
    assert_true(m->sender < PRODUCERS);
    assert_int_equal(m->corr, next[m->sender]);
    next[m->sender]++;
    msg_free(m);
}

/* Runs the producers against one consumer that pops until `close_after`
 * messages (then closes the mailbox) or until all came. */
static void run_stress(uint32_t cap, uint64_t close_after)
{
    stress s;
    mbox_init(&s.mb, cap);
    memset(s.accepted, 0, sizeof s.accepted);
    pthread_t t[PRODUCERS];
    producer p[PRODUCERS];
    for (uint64_t i = 0; i < PRODUCERS; i++) {
        p[i] = (producer){.s = &s, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    }
    uint64_t next[PRODUCERS] = {0};
    uint64_t got = 0, total = (uint64_t)PRODUCERS * PER_PRODUCER;
    bool over_bound = false;
    while (got < total && got < close_after) {
        /* Seen from the consumer, whose own pops are exact, the count never
         * exceeds the bound. */
        if (mbox_count(&s.mb) > cap)
            over_bound = true;
        shoal_msg *m = mbox_pop(&s.mb);
        if (m == NULL) {
            sched_yield();
            continue;
        }
        receive(next, m);
        got++;
    }
    if (got < total) {
        /* Closed while producers push: what the close returns and what
         * they were refused add up to everything, exactly once. */
        shoal_msg *rest = mbox_close(&s.mb);
        while (rest) {
            shoal_msg *n = rest->next;
            receive(next, rest);
            got++;
            rest = n;
        }
    }
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    uint64_t accepted = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        accepted += s.accepted[i];
        /* Every accepted message of producer i arrived, in order. */
        assert_int_equal(next[i], s.accepted[i]);
    }
    assert_int_equal(got, accepted);
    if (close_after >= total)
        assert_int_equal(got, total);
    assert_false(over_bound);
    assert_null(mbox_pop(&s.mb));
    mbox_free(&s.mb);
}

static void test_stress_unbounded(void **state)
{
    (void)state;
    run_stress(UINT32_MAX / 2, UINT64_MAX);
}

/* A small bound: producers keep meeting a full mailbox. */
static void test_stress_bounded(void **state)
{
    (void)state;
    run_stress(16, UINT64_MAX);
}

static void test_stress_close(void **state)
{
    (void)state;
    run_stress(64, (uint64_t)PRODUCERS * PER_PRODUCER / 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_count),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_push_front),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_stress_unbounded),
        cmocka_unit_test(test_stress_bounded),
        cmocka_unit_test(test_stress_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
