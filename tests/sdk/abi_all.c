/* A module that calls every wrapper of sdk/shoal.h, so that the module
 * check sees every import the header declares and can compare its
 * signature with docs/abi.md. It is never run. */
#include "shoal.h"

static int run(void)
{
    uint8_t buf[32];
    shoal_mp_writer w;
    shoal_message m;
    shoal_id child = 0;

    shoal_mpw_init(&w, buf, sizeof buf);
    shoal_mpw_cstr(&w, "hi");
    shoal_id me = shoal_self();
    (void)shoal_send_mp(me, &w);
    (void)shoal_receive(SHOAL_NO_WAIT, &m);
    shoal_message_free(&m);
    (void)shoal_call(me, w.buf, w.len, 10, &m);
    shoal_message_free(&m);
    (void)shoal_reply_mp(&w);
    if (shoal_spawn("echo", NULL, 0, &child) == 0) {
        (void)shoal_link(child);
        (void)shoal_unlink(child);
        (void)shoal_demonitor(shoal_monitor(child));
    }
    (void)shoal_trap_exit(true);
    shoal_log(SHOAL_LOG_INFO, "abi_all");
    if (shoal_sys_msg_kind() < 0)
        shoal_exit(1);
    return 0;
}

SHOAL_MAIN(run);
