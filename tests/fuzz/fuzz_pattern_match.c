/*  =========================================================================
    fuzz_pattern_match - the event pattern matcher on arbitrary event text.

    A fixed set of patterns (every valid pattern of the conformance suite
    tests/conformance/patterns and of schemas/rules/default.json) is
    compiled once, one by one and into one rule set. The input is matched
    as text against the set and against a window of them one by one.
    Oracles: the rule set answers exactly the patterns of the window that
    match one by one; all accept or refuse the text alike;
    for an input without digits (jansson and the text scanner read numbers
    differently), matching the parsed value agrees with matching the text.
    =========================================================================
*/
#include "fuzz.h"
#include <cabruca.h>
#include <glob.h>
#include <string.h>

#define S_PATTERNS_MAX 1024

static cab_pattern_t *s_pattern[S_PATTERNS_MAX];
static size_t s_count;
static cab_ruleset_t *s_set;

static void
s_add (const json_t *value)
{
    if (s_count == S_PATTERNS_MAX || !json_is_object (value))
        return;
    cab_pattern_t *pattern = cab_pattern_new_from_json (value, NULL);
    if (!pattern)
        return;
    char id[16];
    snprintf (id, sizeof id, "p%04zu", s_count);
    FUZZ_ASSERT (cab_ruleset_add_json (s_set, id, value, NULL) == CAB_OK);
    s_pattern[s_count++] = pattern;
}

static json_t *
s_load (const char *path)
{
    json_t *document = json_load_file (path, 0, NULL);
    if (!document) {
        fprintf (stderr, "fuzz_pattern_match: cannot load %s\n", path);
        abort ();
    }
    return document;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    s_set = cab_ruleset_new ();
    FUZZ_ASSERT (s_set);
    char path[1024];
    snprintf (path, sizeof path, "%s/tests/conformance/patterns/*.json", fuzz_srcdir ());
    glob_t files;
    FUZZ_ASSERT (glob (path, 0, NULL, &files) == 0);
    for (size_t file = 0; file < files.gl_pathc; file++) {
        json_t *cases = s_load (files.gl_pathv[file]);
        size_t index;
        json_t *item;
        json_array_foreach (cases, index, item) s_add (json_object_get (item, "pattern"));
        json_decref (cases);
    }
    globfree (&files);
    snprintf (path, sizeof path, "%s/schemas/rules/default.json", fuzz_srcdir ());
    json_t *rules = s_load (path);
    size_t index;
    json_t *rule;
    json_array_foreach (json_object_get (rules, "rules"), index, rule)
        s_add (json_object_get (rule, "event_pattern"));
    json_decref (rules);
    FUZZ_ASSERT (s_count > 10);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cab_error_t error;
    size_t matches[S_PATTERNS_MAX], count = 0;
    cab_status_t status =
        cab_ruleset_match (s_set, text, size, matches, S_PATTERNS_MAX, &count, &error);
    FUZZ_ASSERT (status == CAB_OK || error.code == status);
    bool in_set[S_PATTERNS_MAX] = {false};
    for (size_t index = 0; status == CAB_OK && index < count; index++) {
        const char *id = cab_ruleset_id (s_set, matches[index]);
        FUZZ_ASSERT (id && id[0] == 'p');
        size_t number = strtoul (id + 1, NULL, 10);
        FUZZ_ASSERT (number < s_count);
        in_set[number] = true;
    }
    bool compare_json = true;
    for (size_t index = 0; index < size && compare_json; index++)
        compare_json = data[index] != 0 && (data[index] < '0' || data[index] > '9');
    json_t *document = compare_json ? json_loadb (text, size, JSON_REJECT_DUPLICATES, NULL) : NULL;
    //  One by one, a window of the patterns (all of them would cost a scan
    //  of the text each): which window depends on the input.
    size_t first = 0, window = 48;
    for (size_t index = 0; index < size && index < 16; index++)
        first = first * 31 + data[index];
    first %= s_count;
    for (size_t step = 0; step < window && step < s_count; step++) {
        size_t index = (first + step) % s_count;
        bool matched = false;
        cab_status_t one = cab_pattern_match (s_pattern[index], text, size, &matched, &error);
        FUZZ_ASSERT (one == status);
        FUZZ_ASSERT (one != CAB_OK || matched == in_set[index]);
        if (document && one == CAB_OK) {
            bool matched_json = false;
            FUZZ_ASSERT (cab_pattern_match_json (s_pattern[index], document, &matched_json,
                                                 &error) == CAB_OK);
            FUZZ_ASSERT (matched_json == matched);
        }
    }
    json_decref (document);
    return 0;
}
