/* Private to actor-runtime/wasm: the single source of truth for opcodes.
 *
 * Numeric instructions are described once here, by a row per opcode:
 *   X(NAME, opcode, operand type, result type, C operand type,
 *     C result type, expression)
 * compile.c takes the validation types from a row, interp.c builds its
 * handlers from the C types and the expression (over `a`, and `b` for binary
 * operators), and the internal opcode enum, the handler table and the names
 * all come from the same rows. Expressions may use TRAP(kind) from
 * interp.c. */
#ifndef SHOAL_WASM_OPS_H
#define SHOAL_WASM_OPS_H

#include "numeric.h"

/* Unary operators: expression over a. */
#define WASM_UNOPS(X)                                                          \
    X(I32_EQZ, 0x45, I32, I32, u32, u32, a == 0)                               \
    X(I64_EQZ, 0x50, I64, I32, u64, u32, a == 0)                               \
    X(I32_CLZ, 0x67, I32, I32, u32, u32, num_clz32(a))                         \
    X(I32_CTZ, 0x68, I32, I32, u32, u32, num_ctz32(a))                         \
    X(I32_POPCNT, 0x69, I32, I32, u32, u32, (u32)__builtin_popcount(a))        \
    X(I64_CLZ, 0x79, I64, I64, u64, u64, num_clz64(a))                         \
    X(I64_CTZ, 0x7a, I64, I64, u64, u64, num_ctz64(a))                         \
    X(I64_POPCNT, 0x7b, I64, I64, u64, u64, (u64)__builtin_popcountll(a))      \
    X(F32_ABS, 0x8b, F32, F32, u32, u32, a & 0x7fffffffu)                      \
    X(F32_NEG, 0x8c, F32, F32, u32, u32, a ^ 0x80000000u)                      \
    X(F32_CEIL, 0x8d, F32, F32, f32, f32, num_ceilf(a))                            \
    X(F32_FLOOR, 0x8e, F32, F32, f32, f32, num_floorf(a))                          \
    X(F32_TRUNC, 0x8f, F32, F32, f32, f32, num_truncf(a))                          \
    X(F32_NEAREST, 0x90, F32, F32, f32, f32, num_nearbyintf(a))                    \
    X(F32_SQRT, 0x91, F32, F32, f32, f32, sqrtf(a))                            \
    X(F64_ABS, 0x99, F64, F64, u64, u64, a & 0x7fffffffffffffffull)            \
    X(F64_NEG, 0x9a, F64, F64, u64, u64, a ^ 0x8000000000000000ull)            \
    X(F64_CEIL, 0x9b, F64, F64, f64, f64, num_ceil(a))                             \
    X(F64_FLOOR, 0x9c, F64, F64, f64, f64, num_floor(a))                           \
    X(F64_TRUNC, 0x9d, F64, F64, f64, f64, num_trunc(a))                           \
    X(F64_NEAREST, 0x9e, F64, F64, f64, f64, num_nearbyint(a))                     \
    X(F64_SQRT, 0x9f, F64, F64, f64, f64, sqrt(a))                             \
    X(I32_TRUNC_F32_S, 0xa8, F32, I32, f32, u32,                               \
      (u32)(int32_t)TRUNC_CHECK(a, -2147483904.0f, 2147483648.0f))             \
    X(I32_TRUNC_F32_U, 0xa9, F32, I32, f32, u32,                               \
      (u32)TRUNC_CHECK(a, -1.0f, 4294967296.0f))                               \
    X(I32_TRUNC_F64_S, 0xaa, F64, I32, f64, u32,                               \
      (u32)(int32_t)TRUNC_CHECK(a, -2147483649.0, 2147483648.0))               \
    X(I32_TRUNC_F64_U, 0xab, F64, I32, f64, u32,                               \
      (u32)TRUNC_CHECK(a, -1.0, 4294967296.0))                                 \
    X(I64_EXTEND_I32_S, 0xac, I32, I64, u32, u64, (u64)(int64_t)(int32_t)a)    \
    X(I64_EXTEND_I32_U, 0xad, I32, I64, u32, u64, (u64)a)                      \
    X(I64_TRUNC_F32_S, 0xae, F32, I64, f32, u64,                               \
      (u64)(int64_t)TRUNC_CHECK(a, -9223373136366403584.0f,                    \
                                9223372036854775808.0f))                       \
    X(I64_TRUNC_F32_U, 0xaf, F32, I64, f32, u64,                               \
      (u64)TRUNC_CHECK(a, -1.0f, 18446744073709551616.0f))                     \
    X(I64_TRUNC_F64_S, 0xb0, F64, I64, f64, u64,                               \
      (u64)(int64_t)TRUNC_CHECK(a, -9223372036854777856.0,                     \
                                9223372036854775808.0))                        \
    X(I64_TRUNC_F64_U, 0xb1, F64, I64, f64, u64,                               \
      (u64)TRUNC_CHECK(a, -1.0, 18446744073709551616.0))                       \
    X(F32_CONVERT_I32_S, 0xb2, I32, F32, u32, f32, (f32)(int32_t)a)            \
    X(F32_CONVERT_I32_U, 0xb3, I32, F32, u32, f32, (f32)a)                     \
    X(F32_CONVERT_I64_S, 0xb4, I64, F32, u64, f32, (f32)(int64_t)a)            \
    X(F32_CONVERT_I64_U, 0xb5, I64, F32, u64, f32, (f32)a)                     \
    X(F32_DEMOTE_F64, 0xb6, F64, F32, f64, f32, (f32)a)                        \
    X(F64_CONVERT_I32_S, 0xb7, I32, F64, u32, f64, (f64)(int32_t)a)            \
    X(F64_CONVERT_I32_U, 0xb8, I32, F64, u32, f64, (f64)a)                     \
    X(F64_CONVERT_I64_S, 0xb9, I64, F64, u64, f64, (f64)(int64_t)a)            \
    X(F64_CONVERT_I64_U, 0xba, I64, F64, u64, f64, (f64)a)                     \
    X(F64_PROMOTE_F32, 0xbb, F32, F64, f32, f64, (f64)a)                       \
    X(I32_EXTEND8_S, 0xc0, I32, I32, u32, u32, (u32)(int32_t)(int8_t)a)        \
    X(I32_EXTEND16_S, 0xc1, I32, I32, u32, u32, (u32)(int32_t)(int16_t)a)      \
    X(I64_EXTEND8_S, 0xc2, I64, I64, u64, u64, (u64)(int64_t)(int8_t)a)        \
    X(I64_EXTEND16_S, 0xc3, I64, I64, u64, u64, (u64)(int64_t)(int16_t)a)      \
    X(I64_EXTEND32_S, 0xc4, I64, I64, u64, u64, (u64)(int64_t)(int32_t)a)

/* The saturating conversions, opcodes 0xfc 0..7. */
#define WASM_SATOPS(X)                                                         \
    X(I32_TRUNC_SAT_F32_S, 0, F32, I32, f32, u32, num_sat_i32_f32(a))          \
    X(I32_TRUNC_SAT_F32_U, 1, F32, I32, f32, u32, num_sat_u32_f32(a))          \
    X(I32_TRUNC_SAT_F64_S, 2, F64, I32, f64, u32, num_sat_i32_f64(a))          \
    X(I32_TRUNC_SAT_F64_U, 3, F64, I32, f64, u32, num_sat_u32_f64(a))          \
    X(I64_TRUNC_SAT_F32_S, 4, F32, I64, f32, u64, num_sat_i64_f32(a))          \
    X(I64_TRUNC_SAT_F32_U, 5, F32, I64, f32, u64, num_sat_u64_f32(a))          \
    X(I64_TRUNC_SAT_F64_S, 6, F64, I64, f64, u64, num_sat_i64_f64(a))          \
    X(I64_TRUNC_SAT_F64_U, 7, F64, I64, f64, u64, num_sat_u64_f64(a))

/* Comparisons: binary operators with an i32 result, which may also fuse
 * with a following br_if or if into one compare-and-branch. */
#define WASM_CMPOPS(X)                                                         \
    X(I32_EQ, 0x46, I32, I32, u32, u32, a == b)                                \
    X(I32_NE, 0x47, I32, I32, u32, u32, a != b)                                \
    X(I32_LT_S, 0x48, I32, I32, u32, u32, (int32_t)a < (int32_t)b)             \
    X(I32_LT_U, 0x49, I32, I32, u32, u32, a < b)                               \
    X(I32_GT_S, 0x4a, I32, I32, u32, u32, (int32_t)a > (int32_t)b)             \
    X(I32_GT_U, 0x4b, I32, I32, u32, u32, a > b)                               \
    X(I32_LE_S, 0x4c, I32, I32, u32, u32, (int32_t)a <= (int32_t)b)            \
    X(I32_LE_U, 0x4d, I32, I32, u32, u32, a <= b)                              \
    X(I32_GE_S, 0x4e, I32, I32, u32, u32, (int32_t)a >= (int32_t)b)            \
    X(I32_GE_U, 0x4f, I32, I32, u32, u32, a >= b)                              \
    X(I64_EQ, 0x51, I64, I32, u64, u32, a == b)                                \
    X(I64_NE, 0x52, I64, I32, u64, u32, a != b)                                \
    X(I64_LT_S, 0x53, I64, I32, u64, u32, (int64_t)a < (int64_t)b)             \
    X(I64_LT_U, 0x54, I64, I32, u64, u32, a < b)                               \
    X(I64_GT_S, 0x55, I64, I32, u64, u32, (int64_t)a > (int64_t)b)             \
    X(I64_GT_U, 0x56, I64, I32, u64, u32, a > b)                               \
    X(I64_LE_S, 0x57, I64, I32, u64, u32, (int64_t)a <= (int64_t)b)            \
    X(I64_LE_U, 0x58, I64, I32, u64, u32, a <= b)                              \
    X(I64_GE_S, 0x59, I64, I32, u64, u32, (int64_t)a >= (int64_t)b)            \
    X(I64_GE_U, 0x5a, I64, I32, u64, u32, a >= b)                              \
    X(F32_EQ, 0x5b, F32, I32, f32, u32, a == b)                                \
    X(F32_NE, 0x5c, F32, I32, f32, u32, a != b)                                \
    X(F32_LT, 0x5d, F32, I32, f32, u32, a < b)                                 \
    X(F32_GT, 0x5e, F32, I32, f32, u32, a > b)                                 \
    X(F32_LE, 0x5f, F32, I32, f32, u32, a <= b)                                \
    X(F32_GE, 0x60, F32, I32, f32, u32, a >= b)                                \
    X(F64_EQ, 0x61, F64, I32, f64, u32, a == b)                                \
    X(F64_NE, 0x62, F64, I32, f64, u32, a != b)                                \
    X(F64_LT, 0x63, F64, I32, f64, u32, a < b)                                 \
    X(F64_GT, 0x64, F64, I32, f64, u32, a > b)                                 \
    X(F64_LE, 0x65, F64, I32, f64, u32, a <= b)                                \
    X(F64_GE, 0x66, F64, I32, f64, u32, a >= b)

/* Binary operators: expression over a and b. Each also gets a variant whose
 * right operand (NAME_I) or left operand (NAME_R) is an immediate. */
#define WASM_BINOPS(X) WASM_CMPOPS(X) WASM_ARITHOPS(X)

#define WASM_ARITHOPS(X)                                                       \
    X(I32_ADD, 0x6a, I32, I32, u32, u32, a + b)                                \
    X(I32_SUB, 0x6b, I32, I32, u32, u32, a - b)                                \
    X(I32_MUL, 0x6c, I32, I32, u32, u32, a * b)                                \
    X(I32_DIV_S, 0x6d, I32, I32, u32, u32, DIV_S(int32_t, a, b))               \
    X(I32_DIV_U, 0x6e, I32, I32, u32, u32, DIV_U(a, b))                        \
    X(I32_REM_S, 0x6f, I32, I32, u32, u32, REM_S(int32_t, a, b))               \
    X(I32_REM_U, 0x70, I32, I32, u32, u32, REM_U(a, b))                        \
    X(I32_AND, 0x71, I32, I32, u32, u32, a & b)                                \
    X(I32_OR, 0x72, I32, I32, u32, u32, a | b)                                 \
    X(I32_XOR, 0x73, I32, I32, u32, u32, a ^ b)                                \
    X(I32_SHL, 0x74, I32, I32, u32, u32, a << (b & 31))                        \
    X(I32_SHR_S, 0x75, I32, I32, u32, u32, (u32)((int32_t)a >> (b & 31)))      \
    X(I32_SHR_U, 0x76, I32, I32, u32, u32, a >> (b & 31))                      \
    X(I32_ROTL, 0x77, I32, I32, u32, u32, num_rotl32(a, b))                    \
    X(I32_ROTR, 0x78, I32, I32, u32, u32, num_rotr32(a, b))                    \
    X(I64_ADD, 0x7c, I64, I64, u64, u64, a + b)                                \
    X(I64_SUB, 0x7d, I64, I64, u64, u64, a - b)                                \
    X(I64_MUL, 0x7e, I64, I64, u64, u64, a * b)                                \
    X(I64_DIV_S, 0x7f, I64, I64, u64, u64, DIV_S(int64_t, a, b))               \
    X(I64_DIV_U, 0x80, I64, I64, u64, u64, DIV_U(a, b))                        \
    X(I64_REM_S, 0x81, I64, I64, u64, u64, REM_S(int64_t, a, b))               \
    X(I64_REM_U, 0x82, I64, I64, u64, u64, REM_U(a, b))                        \
    X(I64_AND, 0x83, I64, I64, u64, u64, a & b)                                \
    X(I64_OR, 0x84, I64, I64, u64, u64, a | b)                                 \
    X(I64_XOR, 0x85, I64, I64, u64, u64, a ^ b)                                \
    X(I64_SHL, 0x86, I64, I64, u64, u64, a << (b & 63))                        \
    X(I64_SHR_S, 0x87, I64, I64, u64, u64, (u64)((int64_t)a >> (b & 63)))      \
    X(I64_SHR_U, 0x88, I64, I64, u64, u64, a >> (b & 63))                      \
    X(I64_ROTL, 0x89, I64, I64, u64, u64, num_rotl64(a, b))                    \
    X(I64_ROTR, 0x8a, I64, I64, u64, u64, num_rotr64(a, b))                    \
    X(F32_ADD, 0x92, F32, F32, f32, f32, a + b)                                \
    X(F32_SUB, 0x93, F32, F32, f32, f32, a - b)                                \
    X(F32_MUL, 0x94, F32, F32, f32, f32, a * b)                                \
    X(F32_DIV, 0x95, F32, F32, f32, f32, a / b)                                \
    X(F32_MIN, 0x96, F32, F32, f32, f32, num_fminf(a, b))                      \
    X(F32_MAX, 0x97, F32, F32, f32, f32, num_fmaxf(a, b))                      \
    X(F32_COPYSIGN, 0x98, F32, F32, u32, u32,                                  \
      (a & 0x7fffffffu) | (b & 0x80000000u))                                   \
    X(F64_ADD, 0xa0, F64, F64, f64, f64, a + b)                                \
    X(F64_SUB, 0xa1, F64, F64, f64, f64, a - b)                                \
    X(F64_MUL, 0xa2, F64, F64, f64, f64, a * b)                                \
    X(F64_DIV, 0xa3, F64, F64, f64, f64, a / b)                                \
    X(F64_MIN, 0xa4, F64, F64, f64, f64, num_fmin(a, b))                       \
    X(F64_MAX, 0xa5, F64, F64, f64, f64, num_fmax(a, b))                       \
    X(F64_COPYSIGN, 0xa6, F64, F64, u64, u64,                                  \
      (a & 0x7fffffffffffffffull) | (b & 0x8000000000000000ull))

/* Conversions that leave the bits of a slot as they are: the compiler only
 * changes the type on its operand stack. */
#define WASM_RETYPE_OPS(X)                                                     \
    X(I32_WRAP_I64, 0xa7, I64, I32)                                            \
    X(I32_REINTERPRET_F32, 0xbc, F32, I32)                                     \
    X(I64_REINTERPRET_F64, 0xbd, F64, I64)                                     \
    X(F32_REINTERPRET_I32, 0xbe, I32, F32)                                     \
    X(F64_REINTERPRET_I64, 0xbf, I64, F64)

/* Loads and stores: X(NAME, opcode, value type, natural alignment log2,
 * internal op). Loads of the same width and extension share an op. */
#define WASM_LOADS(X)                                                          \
    X(I32_LOAD, 0x28, I32, 2, LOAD32)                                          \
    X(I64_LOAD, 0x29, I64, 3, LOAD64)                                          \
    X(F32_LOAD, 0x2a, F32, 2, LOAD32)                                          \
    X(F64_LOAD, 0x2b, F64, 3, LOAD64)                                          \
    X(I32_LOAD8_S, 0x2c, I32, 0, LOAD8_S32)                                    \
    X(I32_LOAD8_U, 0x2d, I32, 0, LOAD8_U)                                      \
    X(I32_LOAD16_S, 0x2e, I32, 1, LOAD16_S32)                                  \
    X(I32_LOAD16_U, 0x2f, I32, 1, LOAD16_U)                                    \
    X(I64_LOAD8_S, 0x30, I64, 0, LOAD8_S64)                                    \
    X(I64_LOAD8_U, 0x31, I64, 0, LOAD8_U)                                      \
    X(I64_LOAD16_S, 0x32, I64, 1, LOAD16_S64)                                  \
    X(I64_LOAD16_U, 0x33, I64, 1, LOAD16_U)                                    \
    X(I64_LOAD32_S, 0x34, I64, 2, LOAD32_S64)                                  \
    X(I64_LOAD32_U, 0x35, I64, 2, LOAD32_U64)

#define WASM_STORES(X)                                                         \
    X(I32_STORE, 0x36, I32, 2, STORE32)                                        \
    X(I64_STORE, 0x37, I64, 3, STORE64)                                        \
    X(F32_STORE, 0x38, F32, 2, STORE32)                                        \
    X(F64_STORE, 0x39, F64, 3, STORE64)                                        \
    X(I32_STORE8, 0x3a, I32, 0, STORE8)                                        \
    X(I32_STORE16, 0x3b, I32, 1, STORE16)                                      \
    X(I64_STORE8, 0x3c, I64, 0, STORE8)                                        \
    X(I64_STORE16, 0x3d, I64, 1, STORE16)                                      \
    X(I64_STORE32, 0x3e, I64, 2, STORE32)

/* Internal ops other than the numeric ones, with their operand layout
 * (cells after the handler cell; a|b are two 32-bit halves of one cell;
 * slot operands are byte offsets from the frame pointer). */
#define WASM_CONTROL_OPS(X)                                                    \
    X(HALT)            /* end of the entry call */                             \
    X(UNREACHABLE)     /* */                                                   \
    X(COPY)            /* [dst|src] */                                         \
    X(CONST)           /* [dst|-][value] */                                    \
    X(BR)              /* [off|-] */                                           \
    X(BR_M)            /* [off|cost]: a metered loop back-edge */              \
    X(BR_IF)           /* [cond|off] */                                        \
    X(BR_UNLESS)       /* [cond|off] */                                        \
    X(BR_IF_M)         /* [cond|off][cost|-] */                                \
    X(BR_TABLE)        /* [idx|n] then n+1 cells [off|-] */                    \
    X(RETURN)          /* results already in fp[0..] */                        \
    X(RETURN1)         /* [src|-]: fp[0] = src, then return */                 \
    X(CALL)            /* [func|frame] */                                      \
    X(CALL_M)          /* [func|frame] */                                      \
    X(CALL_OWN)        /* [own index|frame][cfunc]: a function of the module */\
    X(CALL_OWN_M)      /* [own index|frame][cfunc] */                          \
    X(CALL_INDIRECT)   /* [type|table][idx|frame] */                           \
    X(CALL_INDIRECT_M) /* [type|table][idx|frame] */                           \
    X(SELECT)          /* [dst|cond][a|b] */                                   \
    X(GLOBAL_GET)      /* [dst|global] */                                      \
    X(GLOBAL_SET)      /* [src|global] */                                      \
    X(GLOBAL_GET_OWN)  /* [dst|own index]: a global the module defines */     \
    X(GLOBAL_SET_OWN)  /* [src|own index] */                                   \
    X(LOAD32)          /* [dst|addr][offset|-] */                              \
    X(LOAD64)                                                                  \
    X(LOAD8_S32)                                                               \
    X(LOAD8_U)                                                                 \
    X(LOAD16_S32)                                                              \
    X(LOAD16_U)                                                                \
    X(LOAD8_S64)                                                               \
    X(LOAD16_S64)                                                              \
    X(LOAD32_S64)                                                              \
    X(LOAD32_U64)                                                              \
    X(STORE32) /* [addr|value][offset|-] */                                    \
    X(STORE64)                                                                 \
    X(STORE8)                                                                  \
    X(STORE16)                                                                 \
    X(MEMORY_SIZE) /* [dst|-] */                                               \
    X(MEMORY_GROW) /* [dst|delta] */                                           \
    X(MEMORY_FILL) /* [d|value][n|-] */                                        \
    X(MEMORY_COPY) /* [d|s][n|-] */                                            \
    X(MEMORY_INIT) /* [d|s][n|segment] */                                      \
    X(DATA_DROP)   /* [segment|-] */                                           \
    X(TABLE_GET)   /* [dst|idx][table|-] */                                    \
    X(TABLE_SET)   /* [idx|value][table|-] */                                  \
    X(TABLE_SIZE)  /* [dst|table] */                                           \
    X(TABLE_GROW)  /* [dst|init][n|table] */                                   \
    X(TABLE_FILL)  /* [i|value][n|table] */                                    \
    X(TABLE_COPY)  /* [d|s][n|-][dst table|src table] */                       \
    X(TABLE_INIT)  /* [d|s][n|table][segment|-] */                             \
    X(ELEM_DROP)   /* [segment|-] */                                           \
    X(REF_FUNC)    /* [dst|func] */                                            \
    X(REF_IS_NULL) /* [dst|src] */

/* The internal opcode enum: control ops, then each numeric op in its
 * slot-slot form (NAME) and, for binary ops, its immediate forms (NAME_I,
 * NAME_R); then for each comparison six compare-and-branch ops laid out as
 * [a|b][off|cost][imm]: branch if true (BRIF), branch if true on a metered
 * loop back-edge (BRIFM), branch if false (BRUN), each slot-slot and
 * slot-immediate. */
typedef enum op {
#define OP_PLAIN(name) OP_##name,
#define OP_NUM1(name, opc, ta, tr, ca, cr, e) OP_##name,
#define OP_NUM2(name, opc, ta, tr, ca, cr, e)                                  \
    OP_##name, OP_##name##_I, OP_##name##_R,
#define OP_FUSED(name, opc, ta, tr, ca, cr, e)                                 \
    OP_BRIF_##name, OP_BRIF_##name##_I, OP_BRIFM_##name, OP_BRIFM_##name##_I, \
        OP_BRUN_##name, OP_BRUN_##name##_I,
    WASM_CONTROL_OPS(OP_PLAIN)
    WASM_UNOPS(OP_NUM1)
    WASM_SATOPS(OP_NUM1)
    WASM_BINOPS(OP_NUM2)
    WASM_CMPOPS(OP_FUSED)
#undef OP_PLAIN
#undef OP_FUSED
#undef OP_NUM1
#undef OP_NUM2
    OP_COUNT
} op;

#endif
