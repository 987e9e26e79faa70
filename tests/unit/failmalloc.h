/*  =========================================================================
    failmalloc - fail the n-th allocation (tests/unit/failmalloc.c)

    Linked into a test program, failmalloc.c defines malloc, calloc,
    realloc, free, strdup and strndup, so that every allocation of the
    process goes through it: libcabruca's own, jansson's and PCRE2's, and
    the C library's internal ones (fopen, opendir, ...). Each is passed on
    to the allocator that comes next (the C library's, or ASan's), except
    the one chosen to fail, which returns NULL with errno ENOMEM.
    =========================================================================
*/
#ifndef FAILMALLOC_H_INCLUDED
#define FAILMALLOC_H_INCLUDED

#include <stdbool.h>

//  Start counting allocations; the fail_at-th one from now fails (1 =
//  the next one; 0 = none fails, only count).
void
    failmalloc_arm (long fail_at);

//  Stop counting and failing. Returns the number of allocations counted
//  since failmalloc_arm.
long
    failmalloc_disarm (void);

//  True when the armed failure happened since failmalloc_arm.
bool
    failmalloc_failed (void);

//  Blocks allocated and not yet freed, over the whole process: compare
//  before and after an operation to find a leak.
long
    failmalloc_live (void);

//  True when this process's allocations really go through failmalloc (not
//  under valgrind, which replaces malloc itself, or a static ASan runtime).
bool
    failmalloc_active (void);

#endif
