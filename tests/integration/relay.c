/* relay: calls an actor of its own application by name, for the cluster
 * test's named lookups. A request holding a msgpack string "APP/ACTOR" is
 * answered with what that actor answers to the request "inc"; when the
 * lookup fails the answer is the string "no such actor", when the call
 * fails "call failed". */
#include "shoal.h"

static int on_request(shoal_message *m)
{
    if (m->kind != SHOAL_MSG_REQUEST)
        return 0;
    shoal_mp_reader r;
    const char *name;
    uint32_t len;
    shoal_mpr_init(&r, m->data, m->len);
    char buf[128];
    if (shoal_mpr_str(&r, &name, &len) != 0 || len >= sizeof buf) {
        (void)shoal_reply("\xa8no name?", 9);
        return 0;
    }
    for (uint32_t i = 0; i < len; i++)
        buf[i] = name[i];
    buf[len] = 0;
    shoal_id target;
    if (shoal_lookup(buf, &target) != 0) {
        (void)shoal_reply("\xadno such actor", 14);
        return 0;
    }
    shoal_message reply;
    if (shoal_call(target, "\xa3inc", 4, 5000, &reply) < 0) {
        (void)shoal_reply("\xab" "call failed", 12);
        return 0;
    }
    (void)shoal_reply(reply.data, reply.len);
    shoal_message_free(&reply);
    return 0;
}

SHOAL_HANDLER(on_request);
