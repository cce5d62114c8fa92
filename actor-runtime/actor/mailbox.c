/* An actor's mailbox: many producers, one consumer, no lock (mailbox.h).
 *
 * Memory orders, in one place:
 * - A push publishes its message with a compare-and-swap on the inbox
 *   (release at least); the consumer's exchange of the inbox acquires, so
 *   the message's bytes and its next link are visible to it. Both, and the
 *   consumer's first look at the inbox, are seq_cst for the scheduler's
 *   notification protocol (sched.c): a runner that looks after clearing its
 *   notification finds every message whose sender saw the bit set.
 * - `pushed` is only a count: its compare-and-swap is relaxed. It is
 *   sequenced before the release push, so it happens before the consumer
 *   pops that message and stores `popped` (release).
 * - Readers of the count load `popped` (acquire) before `pushed`: then
 *   every push that a pop they see depends on is visible too, and
 *   pushed - popped is never below the real count (it never wraps below
 *   zero).
 */
#include <stdlib.h>

#include "mailbox.h"

/* The inbox of a closed mailbox: not a message, never dereferenced. */
#define MBOX_CLOSED ((shoal_msg *)(uintptr_t)1)

void mbox_init(mailbox *mb, uint32_t cap)
{
    atomic_init(&mb->inbox, NULL);
    mb->head = mb->tail = NULL;
    atomic_init(&mb->pushed, 0);
    atomic_init(&mb->popped, 0);
    mb->cap = cap;
}

/* Reserves a place for one message: false when the mailbox is full. */
static bool reserve(mailbox *mb)
{
    unsigned popped = atomic_load_explicit(&mb->popped, memory_order_acquire);
    unsigned pushed = atomic_load_explicit(&mb->pushed, memory_order_relaxed);
    for (;;) {
        if (pushed - popped >= mb->cap) {
            /* Full as of the popped count read; if the consumer popped
             * since, look again, so that a full mailbox is reported only
             * when it was full at one moment. */
            unsigned now =
                atomic_load_explicit(&mb->popped, memory_order_acquire);
            if (now == popped)
                return false;
            popped = now;
            pushed = atomic_load_explicit(&mb->pushed, memory_order_relaxed);
            continue;
        }
        /* Relaxed: the count publishes nothing; see the file comment. */
        if (atomic_compare_exchange_weak_explicit(
                &mb->pushed, &pushed, pushed + 1, memory_order_relaxed,
                memory_order_relaxed))
            return true;
    }
}

shoal_err mbox_push(mailbox *mb, shoal_msg *m, bool bounded)
{
    if (bounded) {
        if (!reserve(mb))
            return SHOAL_EFULL;
    } else {
        atomic_fetch_add_explicit(&mb->pushed, 1, memory_order_relaxed);
    }
    shoal_msg *top = atomic_load_explicit(&mb->inbox, memory_order_relaxed);
    do {
        if (top == MBOX_CLOSED) {
            atomic_fetch_sub_explicit(&mb->pushed, 1, memory_order_relaxed);
            return SHOAL_ENOTFOUND;
        }
        m->next = top;
        /* Seq_cst (release at least): the consumer that takes m sees its
         * bytes and link; see the file comment. */
    } while (!atomic_compare_exchange_weak_explicit(
        &mb->inbox, &top, m, memory_order_seq_cst, memory_order_relaxed));
    return SHOAL_OK;
}

/* Takes the inbox (newest first) and appends it to the consumer's list in
 * arrival order. Leaves `with` in the inbox (NULL, or MBOX_CLOSED). */
static void take_inbox(mailbox *mb, shoal_msg *with)
{
    /* Acquire (seq_cst): pairs with each push. */
    shoal_msg *m =
        atomic_exchange_explicit(&mb->inbox, with, memory_order_seq_cst);
    if (m == MBOX_CLOSED || m == NULL)
        return;
    shoal_msg *first = NULL, *last = m;
    while (m) {
        shoal_msg *next = m->next;
        m->next = first;
        first = m;
        m = next;
    }
    if (mb->tail)
        mb->tail->next = first;
    else
        mb->head = first;
    mb->tail = last;
}

static void count_popped(mailbox *mb, unsigned n)
{
    /* One writer: a load and a store, no read-modify-write. Release: a
     * producer that reads this count sees the pushes it covers. */
    unsigned p = atomic_load_explicit(&mb->popped, memory_order_relaxed);
    atomic_store_explicit(&mb->popped, p + n, memory_order_release);
}

shoal_msg *mbox_pop(mailbox *mb)
{
    if (mb->head == NULL) {
        /* Seq_cst: see the file comment. */
        shoal_msg *top = atomic_load_explicit(&mb->inbox, memory_order_seq_cst);
        if (top == NULL || top == MBOX_CLOSED)
            return NULL;
        take_inbox(mb, NULL);
    }
    shoal_msg *m = mb->head;
    mb->head = m->next;
    if (mb->head == NULL)
        mb->tail = NULL;
    m->next = NULL;
    count_popped(mb, 1);
    return m;
}

void mbox_push_front(mailbox *mb, shoal_msg *m)
{
    /* Producers change `pushed` too: a read-modify-write. */
    atomic_fetch_add_explicit(&mb->pushed, 1, memory_order_relaxed);
    m->next = mb->head;
    mb->head = m;
    if (mb->tail == NULL)
        mb->tail = m;
}

bool mbox_empty(mailbox *mb)
{
    if (mb->head)
        return false;
    shoal_msg *top = atomic_load_explicit(&mb->inbox, memory_order_seq_cst);
    return top == NULL || top == MBOX_CLOSED;
}

shoal_msg *mbox_close(mailbox *mb)
{
    take_inbox(mb, MBOX_CLOSED);
    shoal_msg *all = mb->head;
    unsigned n = 0;
    for (shoal_msg *m = all; m; m = m->next)
        n++;
    mb->head = mb->tail = NULL;
    count_popped(mb, n);
    return all;
}

void mbox_free(mailbox *mb)
{
    shoal_msg *m = mbox_close(mb);
    while (m) {
        shoal_msg *next = m->next;
        msg_free(m);
        m = next;
    }
}

uint32_t mbox_count(mailbox *mb)
{
    /* popped first (acquire), then pushed: see the file comment. */
    unsigned popped = atomic_load_explicit(&mb->popped, memory_order_acquire);
    unsigned pushed = atomic_load_explicit(&mb->pushed, memory_order_relaxed);
    return pushed - popped;
}
