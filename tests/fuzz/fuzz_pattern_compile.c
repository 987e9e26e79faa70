/*  =========================================================================
    fuzz_pattern_compile - the event pattern compiler on arbitrary text.

    The input is compiled as a pattern (cab_pattern_new), added as a rule to
    a rule set, and compiled from its jansson value when jansson parses it;
    a compiled pattern is matched against the example events. Oracles: the
    pattern and the one-rule set accept the same texts and match the same
    events; a failure fills the error.
    =========================================================================
*/
#include "fuzz.h"
#include <cabruca.h>
#include <string.h>

static const char *const *s_event;
static size_t s_event_count;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    s_event = fuzz_examples (&s_event_count);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cab_error_t error;
    cab_pattern_t *pattern = cab_pattern_new (text, size, &error);
    FUZZ_ASSERT (pattern || error.code != CAB_OK);
    cab_ruleset_t *set = cab_ruleset_new ();
    FUZZ_ASSERT (set);
    cab_status_t added = cab_ruleset_add (set, "fuzz", text, size, &error);
    FUZZ_ASSERT ((added == CAB_OK) == (pattern != NULL));
    for (size_t index = 0; pattern && index < s_event_count; index++) {
        const char *event = s_event[index];
        bool matched = false;
        FUZZ_ASSERT (cab_pattern_match (pattern, event, strlen (event), &matched, &error) ==
                     CAB_OK);
        size_t matches[1], count = 0;
        FUZZ_ASSERT (cab_ruleset_match (set, event, strlen (event), matches, 1, &count, &error) ==
                     CAB_OK);
        FUZZ_ASSERT (count == (matched ? 1u : 0u));
    }
    cab_ruleset_destroy (&set);
    cab_pattern_destroy (&pattern);

    json_t *document = json_loadb (text, size, JSON_DECODE_ANY, NULL);
    if (document) {
        pattern = cab_pattern_new_from_json (document, &error);
        FUZZ_ASSERT (pattern || error.code != CAB_OK);
        for (size_t index = 0; pattern && index < s_event_count; index++) {
            bool matched = false;
            FUZZ_ASSERT (cab_pattern_match (pattern, s_event[index], strlen (s_event[index]),
                                            &matched, &error) == CAB_OK);
        }
        cab_pattern_destroy (&pattern);
        json_decref (document);
    }
    return 0;
}
