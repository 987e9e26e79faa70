/*  =========================================================================
    store_fixture - a store file in a mkdtemp directory of its own per test

    For Check tests of the store: define STORE_FIXTURE_NAME (the directory's
    prefix) before including, then tcase_add_checked_fixture (tc, s_setup,
    s_teardown). s_path is the store's file; s_teardown removes it, its
    WAL, shared memory, journal and a ".txt" beside it, then the directory.
    =========================================================================
*/
#ifndef STORE_FIXTURE_H_INCLUDED
#define STORE_FIXTURE_H_INCLUDED

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef STORE_FIXTURE_NAME
#error "define STORE_FIXTURE_NAME before including store_fixture.h"
#endif

static char s_dir[256];
static char s_path[300];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "%s/" STORE_FIXTURE_NAME "-XXXXXX",
              getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (s_path, sizeof s_path, "%s/events.db", s_dir);
}

static void
s_teardown (void)
{
    const char *suffixes[] = {"", "-wal", "-shm", "-journal", ".txt"};
    char path[320];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf (path, sizeof path, "%s%s", s_path, suffixes[i]);
        unlink (path);
    }
    rmdir (s_dir);
}

#endif
