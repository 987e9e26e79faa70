/*  =========================================================================
    fuzz_rules - the rule file loader (cab_rules_parse, core/daemon) on
    arbitrary JSON.

    A rule set that loads is matched against the example events and gets a
    run-time subscription. Oracles: a failure is InvalidConfig,
    InvalidPattern or OutOfMemory with its JSON Pointer; every rule has 1
    to CAB_RULE_TARGETS_MAX targets; matches are ascending rule indexes of
    enabled rules.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_rules.h"
#include <string.h>

static const char *const *s_event;
static size_t s_event_count;
static json_t *s_subscription;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    s_event = fuzz_examples (&s_event_count);
    s_subscription = json_pack ("{s:[s]}", "source", "cabruca.agents.monitor");
    FUZZ_ASSERT (s_subscription);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *document =
        json_loadb ((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!document)
        return 0;
    cab_error_t error;
    cab_rules_t *rules = cab_rules_parse (document, "/fuzz/data", &error);
    if (rules) {
        size_t count = cab_rules_count (rules);
        for (size_t index = 0; index < count; index++) {
            const cab_rule_t *rule = cab_rules_get (rules, index);
            FUZZ_ASSERT (rule && rule->name && rule->pattern);
            FUZZ_ASSERT (rule->target_count >= 1 && rule->target_count <= CAB_RULE_TARGETS_MAX);
            FUZZ_ASSERT (cab_rules_find (rules, rule->name) == rule);
            for (size_t target = 0; target < rule->target_count; target++)
                FUZZ_ASSERT (cab_rules_target (rules, rule->name, rule->targets[target].id) ==
                             &rule->targets[target]);
        }
        for (size_t index = 0; index < s_event_count; index++) {
            size_t matches[CAB_RULES_MAX + 8], matched = 0;
            FUZZ_ASSERT (cab_rules_match (rules, s_event[index], strlen (s_event[index]), matches,
                                          CAB_RULES_MAX + 8, &matched, &error) == CAB_OK);
            for (size_t one = 0; one < matched && one < CAB_RULES_MAX + 8; one++) {
                FUZZ_ASSERT (matches[one] < count);
                FUZZ_ASSERT (one == 0 || matches[one] > matches[one - 1]);
                FUZZ_ASSERT (cab_rules_get (rules, matches[one])->enabled);
            }
        }
        cab_status_t status =
            cab_rules_add_subscription (rules, "fuzz-queue", s_subscription, &error);
        FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_BUSY);
        cab_rules_unref (&rules);
    } else
        FUZZ_ASSERT (error.code == CAB_ERR_INVALID_CONFIG ||
                     error.code == CAB_ERR_INVALID_PATTERN || error.code == CAB_ERR_NOMEM);
    json_decref (document);
    return 0;
}
