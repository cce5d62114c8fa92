/* timeteller: asks the external "clock" provider for the time on each HTTP
 * request, for the external provider test. 200 with the provider's answer
 * (msgpack, as it came) when the clock answered; 503 with the reason when
 * it did not (no link, provider down). */
#include "shoal.h"

static int on_request(shoal_message *m)
{
    if (m->kind != SHOAL_MSG_REQUEST)
        return 0;
    shoal_id clock;
    if (shoal_lookup("clock", &clock) != 0) {
        (void)shoal_http_respond_text(503, "no link to clock\n");
        return 0;
    }
    static const uint8_t nil[] = {0xc0};
    shoal_message reply;
    int32_t rc = shoal_call(clock, nil, sizeof nil, 5000, &reply);
    if (rc < 0) {
        (void)shoal_http_respond_text(503, "the clock did not answer\n");
        return 0;
    }
    /* A provider's refusal is a map with "ok": false; its answer is the
     * clock's map, which has "unix_ms". */
    shoal_mp_reader r;
    uint32_t pairs;
    bool has_time = false;
    shoal_mpr_init(&r, reply.data, reply.len);
    if (shoal_mpr_map(&r, &pairs) == 0) {
        for (uint32_t i = 0; i < pairs; i++) {
            const char *k;
            uint32_t kn;
            if (shoal_mpr_str(&r, &k, &kn) != 0)
                break;
            has_time |= shoal_mp_str_equals(k, kn, "unix_ms");
            if (shoal_mpr_skip(&r) != 0)
                break;
        }
    }
    if (has_time)
        (void)shoal_http_respond(200, "application/msgpack", reply.data,
                                 reply.len);
    else
        (void)shoal_http_respond_text(503, "the clock refused\n");
    shoal_message_free(&reply);
    return 0;
}

SHOAL_HANDLER(on_request);
