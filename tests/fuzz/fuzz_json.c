/*  =========================================================================
    fuzz_json - cabruca's JSON reader and writer (cabi_json_loadb and
    cabi_json_dumps, core/src/cab_jsonscan.h) against jansson's.

    Oracles: both readers accept the same texts (ours refuses nesting
    deeper than CAB_PATTERN_DEPTH_MAX, and bytes after a NUL that jansson
    ignores), to equal documents; ours refuses
    with InvalidJson and a position; our writer gives json_dumps's text.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_jsonscan.h"
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    return 0;
}

static size_t
s_depth (const json_t *value)
{
    size_t deepest = 0, index;
    const char *key;
    json_t *item;
    if (json_is_array (value))
        json_array_foreach (value, index, item)
        {
            size_t depth = s_depth (item);
            deepest = depth > deepest ? depth : deepest;
        }
    else if (json_is_object (value))
        json_object_foreach ((json_t *)value, key, item)
        {
            size_t depth = s_depth (item);
            deepest = depth > deepest ? depth : deepest;
        }
    else
        return 0;
    return deepest + 1;
}

static void
s_compare (const char *text, size_t size, size_t flags)
{
    cab_error_t error;
    json_t *ours = cabi_json_loadb (text, size, flags, "fuzz", &error);
    json_t *theirs = json_loadb (text, size, flags, NULL);
    if (ours) {
        FUZZ_ASSERT (theirs && json_equal (ours, theirs));
        char *mine = cabi_json_dumps (ours, JSON_COMPACT | JSON_ENCODE_ANY, NULL);
        char *reference = json_dumps (ours, JSON_COMPACT | JSON_ENCODE_ANY);
        FUZZ_ASSERT (mine && reference && strcmp (mine, reference) == 0);
        free (mine);
        free (reference);
    } else {
        FUZZ_ASSERT (error.code == CAB_ERR_INVALID_JSON && strncmp (error.text, "fuzz:", 5) == 0);
        //  jansson takes a NUL byte after a top-level number as the end
        //  of the text ("0\0x" is 0); ours refuses the bytes after it.
        FUZZ_ASSERT (!theirs || s_depth (theirs) > CAB_PATTERN_DEPTH_MAX || memchr (text, 0, size));
    }
    json_decref (ours);
    json_decref (theirs);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_compare ((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES);
    s_compare ((const char *)data, size, 0);
    return 0;
}
