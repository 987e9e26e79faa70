/*  =========================================================================
    fuzz_replay - run a fuzz target over files, without fuzzing

        replay_<name> [FILE | DIR]...

    With no argument it replays tests/fuzz/corpus/<name>/ (the seeds and the
    regression cases). Every file is one input, in a buffer of exactly its
    size, as libFuzzer gives it. Exits 0 when every input ran (a finding
    aborts), 1 when a file cannot be read, 77 (skip) for an empty corpus.
    =========================================================================
*/
#include "fuzz.h"
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#ifndef CAB_FUZZ_TARGET
#error "CAB_FUZZ_TARGET must name the target"
#endif

static int s_runs;

static int
s_replay_file (const char *path)
{
    size_t size = 0;
    char *text = fuzz_read_file (path, &size);
    if (!text) {
        fprintf (stderr, "replay_%s: cannot read %s\n", CAB_FUZZ_TARGET, path);
        return 1;
    }
    //  A copy of exactly size bytes: reading past the input is an error.
    uint8_t *data = (uint8_t *)malloc (size ? size : 1);
    if (!data) {
        free (text);
        return 1;
    }
    memcpy (data, text, size);
    free (text);
    if (getenv ("CAB_FUZZ_VERBOSE"))
        fprintf (stderr, "replay_%s: %s\n", CAB_FUZZ_TARGET, path);
    LLVMFuzzerTestOneInput (data, size);
    free (data);
    s_runs++;
    return 0;
}

static int
s_select (const struct dirent *entry)
{
    return entry->d_name[0] != '.';
}

static int
s_replay (const char *path)
{
    struct stat status;
    if (stat (path, &status) != 0) {
        fprintf (stderr, "replay_%s: cannot read %s\n", CAB_FUZZ_TARGET, path);
        return 1;
    }
    if (!S_ISDIR (status.st_mode))
        return s_replay_file (path);
    struct dirent **entries;
    int count = scandir (path, &entries, s_select, alphasort);
    if (count < 0) {
        fprintf (stderr, "replay_%s: cannot list %s\n", CAB_FUZZ_TARGET, path);
        return 1;
    }
    int rc = 0;
    for (int index = 0; index < count; index++) {
        char file[4096];
        snprintf (file, sizeof file, "%s/%s", path, entries[index]->d_name);
        rc |= s_replay_file (file);
        free (entries[index]);
    }
    free (entries);
    return rc;
}

int
main (int argc, char **argv)
{
    LLVMFuzzerInitialize (&argc, &argv);
    int rc = 0;
    if (argc > 1)
        for (int index = 1; index < argc; index++)
            rc |= s_replay (argv[index]);
    else {
        char corpus[4096];
        snprintf (corpus, sizeof corpus, "%s/tests/fuzz/corpus/%s", fuzz_srcdir (),
                  CAB_FUZZ_TARGET);
        rc = s_replay (corpus);
    }
    printf ("replay_%s: %d inputs%s\n", CAB_FUZZ_TARGET, s_runs, rc ? ", some unreadable" : "");
    return rc ? 1 : s_runs ? 0 : 77;
}
