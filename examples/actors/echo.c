/* echo: a reactive actor that gives every message back.
 *
 * A request is answered with a reply of the same bytes; a cast is sent
 * back to its sender as a cast of the same bytes (a cast from the embedder,
 * sender 0, has nobody to go back to and is dropped, as is a cast whose
 * sender's mailbox is full or that has exited). Exit and down notices are
 * ignored. It never exits by itself.
 */
#include "shoal.h"

static int on_message(shoal_message *m)
{
    switch (m->kind) {
    case SHOAL_MSG_REQUEST:
        (void)shoal_reply(m->data, m->len);
        break;
    case SHOAL_MSG_CAST:
        /* Best effort: an echo that cannot be delivered is dropped. */
        if (m->sender != 0)
            (void)shoal_send(m->sender, m->data, m->len);
        break;
    default:
        break;
    }
    return 0;
}

SHOAL_HANDLER(on_message);
