/* spinner: a long-running actor that loops forever and never waits.
 *
 * It logs one line ("spinner: spinning") and then spins without calling
 * receive or any other import, so only preemption by fuel slices keeps it
 * from holding a worker thread, and only the fuel limit per message (100
 * million by default, counted between two waits) or a kill ends it: with
 * the default limits it exits with reason "fuel exhausted". Its init
 * message and anything sent to it stay in its mailbox.
 */
#include "shoal.h"

static int spin(void)
{
    /* volatile: each turn does a load and a store, so the loop is real
     * work and cannot be optimized away. */
    volatile uint64_t turns = 0;

    shoal_log(SHOAL_LOG_INFO, "spinner: spinning");
    for (;;)
        turns++;
}

SHOAL_MAIN(spin);
