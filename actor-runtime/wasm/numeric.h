/* Private to actor-runtime/wasm: numeric helpers with WebAssembly's exact
 * semantics where C's differ (zero counts, rotations, NaN-propagating min
 * and max, saturating conversions). */
#ifndef SHOAL_WASM_NUMERIC_H
#define SHOAL_WASM_NUMERIC_H

#include <math.h>
#include <stdint.h>

typedef uint32_t u32;
typedef uint64_t u64;
typedef float f32;
typedef double f64;

static inline u32 num_clz32(u32 a)
{
    return a ? (u32)__builtin_clz(a) : 32;
}
static inline u32 num_ctz32(u32 a)
{
    return a ? (u32)__builtin_ctz(a) : 32;
}
static inline u64 num_clz64(u64 a)
{
    return a ? (u64)__builtin_clzll(a) : 64;
}
static inline u64 num_ctz64(u64 a)
{
    return a ? (u64)__builtin_ctzll(a) : 64;
}
static inline u32 num_rotl32(u32 a, u32 b)
{
    b &= 31;
    return (a << b) | (a >> ((32 - b) & 31));
}
static inline u32 num_rotr32(u32 a, u32 b)
{
    b &= 31;
    return (a >> b) | (a << ((32 - b) & 31));
}
static inline u64 num_rotl64(u64 a, u64 b)
{
    b &= 63;
    return (a << b) | (a >> ((64 - b) & 63));
}
static inline u64 num_rotr64(u64 a, u64 b)
{
    b &= 63;
    return (a >> b) | (a << ((64 - b) & 63));
}

/* min and max: a NaN operand gives a NaN (a + b propagates it, quieted), and
 * -0 is below +0. */
static inline f32 num_fminf(f32 a, f32 b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline f32 num_fmaxf(f32 a, f32 b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline f64 num_fmin(f64 a, f64 b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline f64 num_fmax(f64 a, f64 b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

/* Rounding: a NaN operand gives a quiet NaN (C's functions may return a
 * signalling NaN unchanged). */
#define NUM_ROUND(name, T, fn)                                                 \
    static inline T name(T a)                                                  \
    {                                                                          \
        return a != a ? a + a : fn(a);                                         \
    }
NUM_ROUND(num_ceilf, f32, ceilf)
NUM_ROUND(num_floorf, f32, floorf)
NUM_ROUND(num_truncf, f32, truncf)
NUM_ROUND(num_nearbyintf, f32, nearbyintf)
NUM_ROUND(num_ceil, f64, ceil)
NUM_ROUND(num_floor, f64, floor)
NUM_ROUND(num_trunc, f64, trunc)
NUM_ROUND(num_nearbyint, f64, nearbyint)
#undef NUM_ROUND

/* Saturating truncations: NaN gives 0, out of range clamps. */
#define NUM_SAT(name, ft, it, lo_excl, hi_excl, minv, maxv)                    \
    static inline it name(ft a)                                                \
    {                                                                          \
        if (a != a)                                                            \
            return 0;                                                          \
        if (!(a > (lo_excl)))                                                  \
            return (it)(minv);                                                 \
        if (!(a < (hi_excl)))                                                  \
            return (it)(maxv);                                                 \
        return (it)a;                                                          \
    }
NUM_SAT(num_sat_i32_f32_, f32, int32_t, -2147483904.0f, 2147483648.0f,
        INT32_MIN, INT32_MAX)
NUM_SAT(num_sat_u32_f32, f32, u32, -1.0f, 4294967296.0f, 0, UINT32_MAX)
NUM_SAT(num_sat_i32_f64_, f64, int32_t, -2147483649.0, 2147483648.0,
        INT32_MIN, INT32_MAX)
NUM_SAT(num_sat_u32_f64, f64, u32, -1.0, 4294967296.0, 0, UINT32_MAX)
NUM_SAT(num_sat_i64_f32_, f32, int64_t, -9223373136366403584.0f,
        9223372036854775808.0f, INT64_MIN, INT64_MAX)
NUM_SAT(num_sat_u64_f32, f32, u64, -1.0f, 18446744073709551616.0f, 0,
        UINT64_MAX)
NUM_SAT(num_sat_i64_f64_, f64, int64_t, -9223372036854777856.0,
        9223372036854775808.0, INT64_MIN, INT64_MAX)
NUM_SAT(num_sat_u64_f64, f64, u64, -1.0, 18446744073709551616.0, 0,
        UINT64_MAX)
#undef NUM_SAT

static inline u32 num_sat_i32_f32(f32 a)
{
    return (u32)num_sat_i32_f32_(a);
}
static inline u32 num_sat_i32_f64(f64 a)
{
    return (u32)num_sat_i32_f64_(a);
}
static inline u64 num_sat_i64_f32(f32 a)
{
    return (u64)num_sat_i64_f32_(a);
}
static inline u64 num_sat_i64_f64(f64 a)
{
    return (u64)num_sat_i64_f64_(a);
}

#endif
