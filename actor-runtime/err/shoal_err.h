/* Shoal's one error enum, shared by every module.
 *
 * SHOAL_ERR_MAP lists each error once with its name and a message for people;
 * the enum, shoal_err_name() and shoal_strerror() are generated from it.
 * Detail for a person (byte offset, line, field) goes in a shoal_errinfo that
 * the callee fills when the caller passes one. */
#ifndef SHOAL_ERR_H
#define SHOAL_ERR_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_ERR_MAP(X)                                                       \
    X(OK, "success")                                                           \
    X(ENOMEM, "out of memory")                                                 \
    X(EINVAL, "invalid argument")                                              \
    X(EMALFORMED, "malformed module")                                          \
    X(EINVALID, "invalid module")                                              \
    X(EUNLINKABLE, "module cannot be linked")                                  \
    X(ETRAP, "trap")                                                           \
    X(ELIMIT, "limit exceeded")                                                \
    X(ENOTFOUND, "not found")                                                  \
    X(ESTATE, "operation not allowed in the current state")                    \
    X(EIO, "input/output error")                                               \
    X(EFULL, "mailbox full")                                                   \
    X(ETIMEDOUT, "timed out")                                                  \
    X(EEXITED, "the actor exited")                                             \
    X(EMANIFEST, "invalid manifest")                                           \
    X(EEXIST, "already exists")

typedef enum shoal_err {
#define SHOAL_ERR_ENUM(name, msg) SHOAL_##name,
    SHOAL_ERR_MAP(SHOAL_ERR_ENUM)
#undef SHOAL_ERR_ENUM
        SHOAL_ERR_COUNT
} shoal_err;

/* Detail about an error, for a person. offset is a byte offset into the
 * input that was being read, or SIZE_MAX when it does not apply. */
typedef struct shoal_errinfo {
    size_t offset;
    char msg[256];
} shoal_errinfo;

/* The enum member's name without the prefix, e.g. "EMALFORMED". */
const char *shoal_err_name(shoal_err err);
/* A short message for people, e.g. "malformed module". */
const char *shoal_strerror(shoal_err err);

/* Fills ei (when not NULL) with an offset and a printf-style message, and
 * returns err, so that a callee can write `return shoal_errinfo_set(...)`. */
shoal_err shoal_errinfo_set(shoal_errinfo *ei, shoal_err err, size_t offset,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
