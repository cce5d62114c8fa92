/* Private to actor-runtime/actor: an actor's mailbox, a bounded queue of
 * messages with many producers (any thread that sends) and one consumer
 * (whoever runs the actor), without a lock.
 *
 * Producers push onto a stack (the inbox) with one compare-and-swap; the
 * consumer takes the whole inbox with one exchange when its own list runs
 * out and reverses it into arrival order. A message is therefore linked
 * before it is published, so the consumer never sees a half-pushed message
 * (as it can in Vyukov's queue when a producer is preempted between its
 * exchange and its link), and nothing is shared but two counters and the
 * inbox pointer. Messages leave in the order their pushes took effect, so
 * the messages of one sender keep their order.
 *
 * The bound counts messages pushed and not yet popped: a producer reserves
 * its place with a compare-and-swap on `pushed` before it pushes, the
 * consumer counts `popped` alone. Closing swaps a marker into the inbox:
 * every later push fails, and the close returns what was pushed before.
 */
#ifndef SHOAL_MAILBOX_H
#define SHOAL_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "shoal_err.h"
#include "shoal_msg.h"

typedef struct mailbox {
    /* Pushed and not yet taken by the consumer, newest first; MBOX_CLOSED
     * once closed. */
    _Atomic(shoal_msg *) inbox;
    /* Messages ever accepted and ever popped, modulo 2^32: their difference
     * is the count. `popped` has one writer, the consumer. */
    atomic_uint pushed, popped;
    uint32_t cap;
    /* The consumer's list, oldest first. */
    shoal_msg *head, *tail;
} mailbox;

void mbox_init(mailbox *mb, uint32_t cap);

/* Pushes m from any thread. A bounded push to a mailbox holding cap
 * messages fails with SHOAL_EFULL; an unbounded one (exit and down notices)
 * never does. SHOAL_ENOTFOUND once the mailbox is closed. On SHOAL_OK the
 * mailbox owns m; on error the caller keeps it. */
shoal_err mbox_push(mailbox *mb, shoal_msg *m, bool bounded);

/* The consumer's side: one thread at a time (the actor's runner). */

/* The oldest message, now the caller's, or NULL when there is none. */
shoal_msg *mbox_pop(mailbox *mb);
/* Puts m (owned) before every other message. */
void mbox_push_front(mailbox *mb, shoal_msg *m);
/* Whether a pop would find nothing now. */
bool mbox_empty(mailbox *mb);
/* Closes the mailbox and returns the messages it held, oldest first, linked
 * by next (the caller's). Later pushes fail with SHOAL_ENOTFOUND. */
shoal_msg *mbox_close(mailbox *mb);
/* Frees every message left (no other thread may use the mailbox). */
void mbox_free(mailbox *mb);

/* Messages waiting, from any thread: exact when no push or pop is under
 * way, and never more than cap plus the unbounded pushes. */
uint32_t mbox_count(mailbox *mb);

#endif
