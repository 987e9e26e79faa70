/*  =========================================================================
    fuzz_budget_state - the budget's saved state document
    (cab_budget_state_load, core/daemon), as read back from the store.

    Oracles: a refusal is UnsupportedVersion, InvalidArgument (with a
    pointer) or OutOfMemory and changes nothing (the state document is the
    same before and after); an accepted document saves to a document that
    loads to the same state again, and the budget goes on deciding,
    charging and reporting.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_budget.h"
#include <string.h>

//  2026-11-16T10:30:00Z
#define S_NOW_MS 1794825000000LL

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void
s_charge (cab_budget_t *budget, const char *source, int64_t now_ms, bool deferred_before)
{
    cab_budget_event_t event = {NULL, 0, source, "Issue Detection", 1200,
                                NULL, 0, 1,      deferred_before};
    cab_budget_decision_t decision;
    cab_error_t error;
    cab_status_t status = cab_budget_decide (budget, &event, now_ms, &decision, &error);
    FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_NOMEM);
    if (status == CAB_OK)
        FUZZ_ASSERT (cab_budget_charge (budget, &decision, now_ms) == CAB_OK);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *document =
        json_loadb ((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!document)
        return 0;
    //  Small caps, so that loaded counts hit them.
    json_t *section = json_pack ("{s:{s:{s:i,s:i}},s:f}", "caps", "monitor", "per_hour", 3,
                                 "per_day", 5, "monthly_budget_usd", 0.001);
    cab_error_t error;
    cab_error_clear (&error);
    cab_budget_t *budget = section ? cab_budget_new (section, &error) : NULL;
    json_decref (section);
    if (!budget) {
        json_decref (document);
        return 0;
    }
    s_charge (budget, "cabruca.agents.monitor", S_NOW_MS, false);
    json_t *before = cab_budget_state_json (budget);
    cab_error_clear (&error);
    cab_status_t status = cab_budget_state_load (budget, document, &error);
    json_t *after = cab_budget_state_json (budget);
    if (status != CAB_OK) {
        FUZZ_ASSERT (status == CAB_ERR_UNSUPPORTED_VERSION || status == CAB_ERR_INVALID_ARGUMENT ||
                     status == CAB_ERR_NOMEM);
        FUZZ_ASSERT (error.code == status && error.text[0]);
        FUZZ_ASSERT (status == CAB_ERR_NOMEM || error.path[0] == '/' || !json_is_object (document));
        FUZZ_ASSERT (!before || !after || json_equal (before, after));
    } else if (after) {
        //  Saved and loaded again: the same state.
        FUZZ_ASSERT (cab_budget_state_load (budget, after, &error) == CAB_OK);
        json_t *again = cab_budget_state_json (budget);
        FUZZ_ASSERT (!again || json_equal (after, again));
        json_decref (again);
    }
    json_decref (before);
    json_decref (after);
    //  It goes on: decisions in and after the loaded windows, a report.
    s_charge (budget, "cabruca.agents.monitor", S_NOW_MS, false);
    s_charge (budget, "cabruca.agents.tester", S_NOW_MS + 86400000LL * 40, true);
    json_t *report = cab_budget_report (budget, S_NOW_MS + 86400000LL * 40);
    FUZZ_ASSERT (report);
    json_decref (report);
    cab_budget_destroy (&budget);
    json_decref (document);
    return 0;
}
