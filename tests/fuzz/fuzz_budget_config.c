/*  =========================================================================
    fuzz_budget_config - the mirror budget's configuration section
    (cab_budget_new, core/daemon) on arbitrary JSON.

    Oracles: a refusal is CAB_ERR_INVALID_CONFIG with a JSON Pointer under
    /budget (or CAB_ERR_NOMEM); an accepted section gives a budget that
    decides on every example event (each decision charged), reports, and
    whose state document loads into a fresh default budget.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_budget.h"
#include <string.h>

//  2026-11-16T10:30:00Z: a fixed clock.
#define S_NOW_MS 1794825000000LL

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    size_t count;
    fuzz_examples (&count);
    return 0;
}

//  Decide on each example event, charge the decision, twice over.
static void
s_decide_examples (cab_budget_t *budget)
{
    size_t count;
    const char *const *examples = fuzz_examples (&count);
    const char *rules[] = {"archive-everything", "critical-issues"};
    for (size_t round = 0; round < 2; round++)
        for (size_t index = 0; index < count; index++) {
            json_t *event = json_loads (examples[index], 0, NULL);
            const char *source = json_string_value (json_object_get (event, "source"));
            if (!source) {
                json_decref (event);
                continue;
            }
            cab_budget_event_t input = {examples[index],
                                        strlen (examples[index]),
                                        source,
                                        json_string_value (json_object_get (event, "detail-type")),
                                        strlen (examples[index]) + round * 70000,
                                        rules,
                                        index % 3,
                                        index % 4,
                                        round == 1};
            cab_budget_decision_t decision;
            cab_error_t error;
            cab_error_clear (&error);
            cab_status_t status = cab_budget_decide (
                budget, &input, S_NOW_MS + (int64_t)round * 3600000, &decision, &error);
            FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_NOMEM);
            if (status == CAB_OK) {
                FUZZ_ASSERT (decision.action <= CAB_BUDGET_SHED);
                FUZZ_ASSERT (decision.action == CAB_BUDGET_MIRROR || decision.cost_usd == 0);
                FUZZ_ASSERT (decision.action != CAB_BUDGET_DEFER ||
                             decision.not_before_ms > S_NOW_MS);
                FUZZ_ASSERT (memchr (decision.agent_type, 0, sizeof decision.agent_type));
                if (index % 5 == 4)
                    FUZZ_ASSERT (cab_budget_release (budget, &decision) == CAB_OK);
                else
                    FUZZ_ASSERT (cab_budget_charge (budget, &decision, S_NOW_MS + 1000) == CAB_OK);
                //  Never twice.
                FUZZ_ASSERT (cab_budget_release (budget, &decision) == CAB_ERR_INVALID_ARGUMENT);
            }
            json_decref (event);
        }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *document =
        json_loadb ((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!document)
        return 0;
    cab_error_t error;
    cab_error_clear (&error);
    cab_budget_t *budget = cab_budget_new (document, &error);
    if (!budget) {
        FUZZ_ASSERT (error.code == CAB_ERR_INVALID_CONFIG || error.code == CAB_ERR_NOMEM);
        FUZZ_ASSERT (error.code != CAB_ERR_INVALID_CONFIG ||
                     strncmp (error.path, "/budget", 7) == 0);
        FUZZ_ASSERT (error.text[0]);
        json_decref (document);
        return 0;
    }
    s_decide_examples (budget);
    json_t *report = cab_budget_report (budget, S_NOW_MS + 7200000);
    FUZZ_ASSERT (report && json_is_object (json_object_get (report, "month")));
    json_decref (report);
    json_t *detail = cab_budget_threshold_detail (budget, true, "broker", NULL);
    FUZZ_ASSERT (detail);
    json_decref (detail);
    //  The state belongs to no configuration: a default budget takes it.
    json_t *state = cab_budget_state_json (budget);
    FUZZ_ASSERT (state);
    cab_budget_t *other = cab_budget_new (NULL, &error);
    FUZZ_ASSERT (other);
    FUZZ_ASSERT (cab_budget_state_load (other, state, &error) == CAB_OK);
    json_t *again = cab_budget_state_json (other);
    FUZZ_ASSERT (json_equal (state, again));
    json_decref (again);
    json_decref (state);
    cab_budget_destroy (&other);
    cab_budget_destroy (&budget);
    FUZZ_ASSERT (budget == NULL);
    json_decref (document);
    return 0;
}
