/* trapper: a reactive actor that traps on command.
 *
 * On the msgpack string "boom" (cast or request) it divides by zero: the
 * actor exits with reason "trap: integer divide by zero", and a caller of
 * the request gets SHOAL_E_EXITED. Two more ways to trap, for the
 * runtime's tests: "unreachable" executes the unreachable instruction, and
 * "oob" loads the last byte of the 4 GiB address space, out of bounds of
 * any memory smaller than that. Any other request is answered with the
 * string "ok"; other casts are ignored.
 */
#include "shoal.h"

/* volatile: the optimizer must see neither operand of the division (with
 * a known dividend such as 1, it turns x / y into compares, which do not
 * trap) nor the address. */
static volatile int32_t dividend = 100;
static volatile int32_t divisor = 0;
static volatile uintptr_t far_address = UINTPTR_MAX;

static int on_message(shoal_message *m)
{
    if (m->kind != SHOAL_MSG_CAST && m->kind != SHOAL_MSG_REQUEST)
        return 0;
    if (shoal_mp_is_str(m->data, m->len, "boom")) {
        volatile int32_t quotient = dividend / divisor;
        (void)quotient;
    } else if (shoal_mp_is_str(m->data, m->len, "unreachable")) {
        __builtin_trap();
    } else if (shoal_mp_is_str(m->data, m->len, "oob")) {
        volatile uint8_t byte = *(volatile const uint8_t *)far_address;
        (void)byte;
    }
    if (m->kind == SHOAL_MSG_REQUEST) {
        static const uint8_t ok[] = {0xa2, 'o', 'k'};
        (void)shoal_reply(ok, sizeof ok);
    }
    return 0;
}

SHOAL_HANDLER(on_message);
