/*  =========================================================================
    lt_event - the events simulated agents publish

    A realistic mix: each agent type publishes its own event type with
    values that vary from event to event (severities, statuses, counts), so
    that rules with content filters (HIGH or CRITICAL issues, APPROVED
    changes, FAILED tests) match a realistic share of them.
    =========================================================================
*/
#include "loadtest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_names[LT_TYPES] = {"monitor", "product", "developer", "tester"};

const char *
lt_type_name (lt_type_t type)
{
    return type < LT_TYPES ? s_names[type] : "?";
}

//  A cheap, deterministic spread of k (so runs are repeatable).
static uint64_t
s_mix (uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static int
s_fill_monitor (json_t *detail, uint64_t k)
{
    static const char *severities[] = {"LOW", "LOW", "LOW", "MEDIUM", "MEDIUM", "HIGH", "CRITICAL"};
    static const char *issues[] = {"disk_full", "high_load", "http_health", "memory_pressure",
                                   "log_pattern"};
    uint64_t r = s_mix (k);
    char description[96], host[32];
    snprintf (host, sizeof host, "host:web-%u", (unsigned)(r % 16));
    snprintf (description, sizeof description, "%s on %s: sample %llu", issues[r % 5], host,
              (unsigned long long)k);
    return json_object_update_new (
        detail, json_pack ("{s:s, s:s, s:s, s:[s, s], s:{s:f, s:I}, s:[s]}", "severity",
                           severities[(r >> 8) % 7], "issue_type", issues[r % 5], "description",
                           description, "affected_resources", host, "/var", "metrics", "value",
                           (double)(r % 1000) / 10.0, "samples", (json_int_t)(k % 100000),
                           "suggested_actions", "investigate"));
}

static int
s_fill_product (json_t *detail, uint64_t k)
{
    static const char *priorities[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
    uint64_t r = s_mix (k);
    char title[64];
    snprintf (title, sizeof title, "Reduce recurring incident %llu", (unsigned long long)k);
    return json_object_update_new (
        detail, json_pack ("{s:s, s:s, s:s, s:s}", "priority", priorities[r % 4], "feature_type",
                           "RELIABILITY", "title", title, "description",
                           "Recurring issues on the web tier; automate the remediation."));
}

static int
s_fill_developer (json_t *detail, uint64_t k)
{
    static const char *statuses[] = {"PROPOSED", "PROPOSED", "APPROVED", "MERGED", "REJECTED"};
    static const char *types[] = {"FEATURE", "BUG_FIX", "REFACTOR"};
    uint64_t r = s_mix (k);
    char commit[41];
    snprintf (commit, sizeof commit, "%016llx%016llx%08x", (unsigned long long)r,
              (unsigned long long)s_mix (r), (unsigned)(k & 0xffffffffu));
    return json_object_update_new (
        detail, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "repository", "/srv/git/webapp",
                           "branch", "main", "commit", commit, "change_type", types[r % 3],
                           "status", statuses[(r >> 4) % 5], "files_changed", "src/main.c"));
}

static int
s_fill_tester (json_t *detail, uint64_t k)
{
    static const char *statuses[] = {"PASSED", "PASSED", "PASSED", "FAILED", "ERROR"};
    static const char *types[] = {"UNIT", "INTEGRATION"};
    uint64_t r = s_mix (k);
    return json_object_update_new (detail, json_pack ("{s:s, s:s, s:I}", "test_type", types[r % 2],
                                                      "status", statuses[(r >> 4) % 5],
                                                      "duration_ms", (json_int_t)(r % 60000)));
}

cab_event_t *
lt_event_new (lt_type_t type, const char *agent_id, uint64_t k, size_t pad_bytes,
              cab_error_t *error)
{
    static const char *detail_types[LT_TYPES] = {"Issue Detection", "Feature Request",
                                                 "Code Change", "Test Results"};
    char source[64];
    snprintf (source, sizeof source, "cabruca.agents.%s", lt_type_name (type));
    cab_event_t *event = cab_event_new (source, detail_types[type], error);
    if (!event)
        return NULL;
    json_t *detail = json_object ();
    int rc = cab_event_set_agent_id (event, agent_id) == CAB_OK && detail ? 0 : -1;
    if (rc == 0) {
        if (type == LT_MONITOR)
            rc = s_fill_monitor (detail, k);
        else if (type == LT_PRODUCT)
            rc = s_fill_product (detail, k);
        else if (type == LT_DEVELOPER)
            rc = s_fill_developer (detail, k);
        else
            rc = s_fill_tester (detail, k);
    }
    if (rc == 0)
        rc = cab_event_update_detail_new (event, detail) == CAB_OK ? 0 : -1;
    else
        json_decref (detail);
    //  Pad with resource names (the envelope allows 100 of 2,048 characters):
    //  every type carries them, and no rule of ours looks at them.
    size_t length = 0;
    if (rc == 0 && pad_bytes && cab_event_text (event, &length) && length < pad_bytes) {
        size_t missing = pad_bytes - length;
        char name[2049];
        for (int count = 0; rc == 0 && missing > 40 && count < 100; count++) {
            size_t size = missing - 3 > 2048 ? 2048 : missing - 3;
            int prefix =
                snprintf (name, sizeof name, "arn:cabruca:loadtest:%llu:", (unsigned long long)k);
            if ((size_t)prefix < size)
                memset (name + prefix, 'x', size - (size_t)prefix);
            name[size] = '\0';
            rc = cab_event_add_resource (event, name) == CAB_OK ? 0 : -1;
            missing -= size + 3;
        }
    }
    if (rc != 0) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "cannot build a %s event", lt_type_name (type));
        cab_event_destroy (&event);
    }
    return event;
}
