/* A failing allocator for tests (STYLE.md, "Tests"): a test links with
 * failalloc.c and -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=free (failalloc_link_args, tests/meson.build), so that every
 * allocation of the code under test, and of the libraries it calls, goes
 * through here. Between alloc_watch and alloc_unwatch requests are counted,
 * the fail_at-th fails, and blocks still live are counted; the state is
 * global because the allocator is. */
#ifndef SHOAL_TESTS_FAILALLOC_H
#define SHOAL_TESTS_FAILALLOC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct failalloc {
    bool on;
    unsigned count;   /* requests made */
    unsigned fail_at; /* fail request number fail_at (1-based); 0: never */
    long live;        /* blocks allocated and not yet freed */
} failalloc;

extern failalloc alloc;

void alloc_watch(unsigned fail_at);
void alloc_unwatch(void);
/* Counts a request; false when it must fail (for allocators of other
 * libraries that a test routes here too, e.g. SQLite's). */
bool alloc_note(void);
/* Counts p as live if it is a new block. */
void *alloc_got(void *p);

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t sz);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t sz);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

#endif
