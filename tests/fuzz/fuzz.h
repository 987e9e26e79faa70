/*  =========================================================================
    fuzz - what the fuzz targets share (tests/fuzz, docs/robustness.md)

    Each fuzz_<name>.c defines the two libFuzzer entry points. It is linked
    twice: with libFuzzer's main into fuzz_<name> (configure
    --enable-fuzzing, clang), and with fuzz_replay.c's plain main into
    replay_<name>, which `make check` runs over tests/fuzz/corpus/<name>/
    with any compiler. A target checks its oracles with FUZZ_ASSERT, which
    aborts (a finding) in both builds.
    =========================================================================
*/
#ifndef FUZZ_H_INCLUDED
#define FUZZ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

//  libFuzzer's entry points, defined by every target.
int
    LLVMFuzzerInitialize (int *argc, char ***argv);
int
    LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  An oracle: a broken contract is a finding, in the fuzzer and in replay.
#define FUZZ_ASSERT(condition)                                                                 \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            fprintf (stderr, "%s:%d: oracle failed: %s\n", __FILE__, __LINE__, #condition);    \
            abort ();                                                                          \
        }                                                                                      \
    } while (0)

//  The source tree: $CAB_SRCDIR, or the one the target was built from.
const char *
    fuzz_srcdir (void);

//  Read a whole file into a new NUL-terminated buffer (caller frees it);
//  sets *size_p. Returns NULL when the file cannot be read.
char *
    fuzz_read_file (const char *path, size_t *size_p);

//  The example events of schemas/examples/*.valid.json, one JSON text per
//  line, loaded once. Sets *count_p; the texts live until exit.
const char *const *
    fuzz_examples (size_t *count_p);

#endif
