#include "shoal_err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_names[] = {
#define SHOAL_ERR_NAME(name, msg) #name,
    SHOAL_ERR_MAP(SHOAL_ERR_NAME)
#undef SHOAL_ERR_NAME
};

static const char *const err_msgs[] = {
#define SHOAL_ERR_MSG(name, msg) msg,
    SHOAL_ERR_MAP(SHOAL_ERR_MSG)
#undef SHOAL_ERR_MSG
};

const char *shoal_err_name(shoal_err err)
{
    if ((unsigned)err >= SHOAL_ERR_COUNT)
        return "EUNKNOWN";
    return err_names[err];
}

const char *shoal_strerror(shoal_err err)
{
    if ((unsigned)err >= SHOAL_ERR_COUNT)
        return "unknown error";
    return err_msgs[err];
}

shoal_err shoal_errinfo_set(shoal_errinfo *ei, shoal_err err, size_t offset,
                            const char *fmt, ...)
{
    if (ei == NULL)
        return err;
    ei->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ei->msg, sizeof ei->msg, fmt, ap);
    va_end(ap);
    return err;
}
