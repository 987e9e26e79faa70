/*  =========================================================================
    failmalloc - a malloc interposer that fails the n-th allocation
    =========================================================================
*/
#include "failmalloc.h"
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void *malloc (size_t size);
void *calloc (size_t count, size_t size);
void *realloc (void *pointer, size_t size);
void free (void *pointer);
char *strdup (const char *text);
char *strndup (const char *text, size_t size);

typedef void *(s_malloc_fn)(size_t);
typedef void *(s_calloc_fn)(size_t, size_t);
typedef void *(s_realloc_fn)(void *, size_t);
typedef void (s_free_fn) (void *);

static s_malloc_fn *s_next_malloc;
static s_calloc_fn *s_next_calloc;
static s_realloc_fn *s_next_realloc;
static s_free_fn *s_next_free;

//  dlsym may allocate (calloc) while we look the next allocator up: those
//  few blocks come from here and are never freed.
static _Alignas(16) char s_bootstrap[8192];
static size_t s_bootstrap_used;
static bool s_resolving;

static bool s_armed;
static long s_fail_at, s_count, s_live;
static bool s_failed;

static void
s_resolve (void)
{
    if (s_next_free || s_resolving)
        return;
    s_resolving = true;
    s_next_malloc = (s_malloc_fn *)dlsym (RTLD_NEXT, "malloc");
    s_next_calloc = (s_calloc_fn *)dlsym (RTLD_NEXT, "calloc");
    s_next_realloc = (s_realloc_fn *)dlsym (RTLD_NEXT, "realloc");
    s_next_free = (s_free_fn *)dlsym (RTLD_NEXT, "free");
    s_resolving = false;
}

static void *
s_bootstrap_alloc (size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (s_bootstrap_used + size > sizeof s_bootstrap)
        return NULL;
    void *block = s_bootstrap + s_bootstrap_used;
    s_bootstrap_used += size;
    return block;
}

static bool
s_is_bootstrap (const void *pointer)
{
    return (const char *)pointer >= s_bootstrap &&
           (const char *)pointer < s_bootstrap + sizeof s_bootstrap;
}

//  Count one allocation; true when it is the one to fail.
static bool
s_fail_now (void)
{
    if (!s_armed)
        return false;
    s_count++;
    if (s_count != s_fail_at)
        return false;
    s_failed = true;
    errno = ENOMEM;
    return true;
}

void *
malloc (size_t size)
{
    s_resolve ();
    if (!s_next_malloc)
        return s_bootstrap_alloc (size);
    if (s_fail_now ())
        return NULL;
    void *block = s_next_malloc (size);
    if (block)
        s_live++;
    return block;
}

void *
calloc (size_t count, size_t size)
{
    s_resolve ();
    if (!s_next_calloc) {
        void *block = count && size > SIZE_MAX / count ? NULL : s_bootstrap_alloc (count * size);
        if (block)
            memset (block, 0, count * size);
        return block;
    }
    if (s_fail_now ())
        return NULL;
    void *block = s_next_calloc (count, size);
    if (block)
        s_live++;
    return block;
}

void *
realloc (void *pointer, size_t size)
{
    s_resolve ();
    if (s_is_bootstrap (pointer) || !s_next_realloc)
        return NULL;
    //  realloc (p, 0) frees p; count it as a free, never fail it.
    if (pointer && size == 0) {
        void *block = s_next_realloc (pointer, size);
        if (!block)
            s_live--;
        return block;
    }
    if (s_fail_now ())
        return NULL;
    void *block = s_next_realloc (pointer, size);
    if (block && !pointer)
        s_live++;
    return block;
}

void
free (void *pointer)
{
    if (!pointer || s_is_bootstrap (pointer))
        return;
    s_resolve ();
    s_live--;
    s_next_free (pointer);
}

char *
strdup (const char *text)
{
    size_t size = strlen (text) + 1;
    char *copy = (char *)malloc (size);
    if (copy)
        memcpy (copy, text, size);
    return copy;
}

char *
strndup (const char *text, size_t size)
{
    size_t length = strnlen (text, size);
    char *copy = (char *)malloc (length + 1);
    if (copy) {
        memcpy (copy, text, length);
        copy[length] = 0;
    }
    return copy;
}

void
failmalloc_arm (long fail_at)
{
    s_fail_at = fail_at;
    s_count = 0;
    s_failed = false;
    s_armed = true;
}

long
failmalloc_disarm (void)
{
    s_armed = false;
    return s_count;
}

bool
failmalloc_failed (void)
{
    return s_failed;
}

long
failmalloc_live (void)
{
    return s_live;
}

bool
failmalloc_active (void)
{
    //  clang links ASan's runtime into the program: our malloc would hide
    //  ASan's and hand out the C library's blocks, which ASan's other
    //  interceptors then cannot free. (gcc's libasan.so comes after us.)
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(address_sanitizer)
    return false;
#endif
#endif
    void *(*volatile allocate) (size_t) = malloc;
    failmalloc_arm (1);
    void *block = allocate (16);
    failmalloc_disarm ();
    free (block);
    return block == NULL;
}
