/* The failing allocator of failalloc.h. */
#include "failalloc.h"

failalloc alloc;

void alloc_watch(unsigned fail_at)
{
    alloc.count = 0;
    alloc.fail_at = fail_at;
    alloc.live = 0;
    alloc.on = true;
}

void alloc_unwatch(void)
{
    alloc.on = false;
}

bool alloc_note(void)
{
    if (!alloc.on)
        return true;
    alloc.count++;
    return alloc.count != alloc.fail_at;
}

void *alloc_got(void *p)
{
    if (alloc.on && p != NULL)
        alloc.live++;
    return p;
}

void *__wrap_malloc(size_t n)
{
    return alloc_note() ? alloc_got(__real_malloc(n)) : NULL;
}

void *__wrap_calloc(size_t n, size_t sz)
{
    return alloc_note() ? alloc_got(__real_calloc(n, sz)) : NULL;
}

void *__wrap_realloc(void *p, size_t n)
{
    if (!alloc_note())
        return NULL;
    void *q = __real_realloc(p, n);
    return p == NULL ? alloc_got(q) : q;
}

void __wrap_free(void *p)
{
    if (alloc.on && p != NULL)
        alloc.live--;
    __real_free(p);
}
