/*  =========================================================================
    dash_system - /api/budget, /api/mirror, /api/agents, /api/supervisor

    Shapes the poller's cached answers (dash_poll) for the API, adds their
    summaries to /api/stats, and reads one event's mirror status from the
    store (cab_store_mirror_get). Nothing here waits for the broker or the
    supervisor: a member they did not answer says so, {"available": false,
    "error": "..."}, and the rest of the answer stands. See docs/dashboard.md.
    =========================================================================
*/
#include "config.h"
#include "dash.h"
#include "cab_store_mirror.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Retry opening the store's read-only handle at most this often.
#define S_REOPEN_MS 5000

static json_t *
s_member (json_t *object, const char *name)
{
    return json_object_get (object, name);
}

static bool
s_available (json_t *answer)
{
    return json_is_true (s_member (answer, "available"));
}

//  Copy the named members of from into to (those present).
static void
s_copy (json_t *to, json_t *from, const char *const *names)
{
    for (size_t index = 0; names[index]; index++) {
        json_t *value = s_member (from, names[index]);
        if (value)
            json_object_set (to, names[index], value);
    }
}

//  A new {"available": false, "error": text}.
static json_t *
s_unavailable (const char *text)
{
    return json_pack ("{s:b, s:s}", "available", 0, "error", text ? text : "not available");
}

//  "ok", "alarm" (at or past alarm_percent), "limit" (at or past 100%,
//  or an event was refused for the budget), "off" (the mirror is off).
static const char *
s_alarm_state (json_t *budget)
{
    if (!json_is_true (s_member (budget, "enabled")))
        return "off";
    json_t *report = s_member (budget, "report");
    json_t *month = s_member (report, "month");
    json_t *threshold = s_member (report, "threshold");
    double used = json_number_value (s_member (month, "used_percent"));
    double alarm = json_number_value (s_member (threshold, "alarm_percent"));
    if (json_is_true (s_member (month, "over_budget")) || used >= 100.0 ||
        json_is_string (s_member (threshold, "limit_at")))
        return "limit";
    if ((alarm > 0 && used >= alarm) || json_is_string (s_member (threshold, "alarm_at")))
        return "alarm";
    return "ok";
}

static json_t *
s_budget (dash_ctx_t *ctx)
{
    json_t *answer = dash_poll_get (ctx->poll, DASH_POLL_BUDGET);
    if (answer && s_available (answer)) {
        json_object_set_new (answer, "source", json_string ("broker"));
        json_object_set_new (answer, "alarm_state", json_string (s_alarm_state (answer)));
    } else if (answer) {
        //  The counters the broker last saved in the store, when it is silent.
        json_t *store = dash_poll_get (ctx->poll, DASH_POLL_MIRROR_STORE);
        json_t *saved = s_member (store, "budget_saved");
        if (s_available (store) && json_is_object (saved)) {
            json_object_set (saved, "read", s_member (store, "updated"));
            json_object_set (answer, "saved", saved);
        }
        json_decref (store);
    }
    return answer;
}

static json_t *
s_mirror (dash_ctx_t *ctx)
{
    json_t *answer = dash_poll_get (ctx->poll, DASH_POLL_MIRROR);
    if (!answer || s_available (answer)) {
        if (answer)
            json_object_set_new (answer, "source", json_string ("broker"));
        return answer;
    }
    //  The broker does not say: the store's figures, as the poller read them.
    json_t *store = dash_poll_get (ctx->poll, DASH_POLL_MIRROR_STORE);
    json_t *result = NULL;
    const char *broker_error = json_string_value (s_member (answer, "error"));
    if (store && s_available (store)) {
        result = json_pack ("{s:b, s:s, s:s, s:O?, s:O?}", "available", 1, "source", "store",
                            "broker_error", broker_error ? broker_error : "", "age_ms",
                            s_member (store, "age_ms"), "updated", s_member (store, "updated"));
        json_object_del (store, "available");
        json_object_del (store, "age_ms");
        json_object_del (store, "updated");
        json_object_del (store, "budget_saved");
        if (result)
            json_object_set (result, "store", store);
    } else {
        char text[700];
        snprintf (text, sizeof text, "%s; %s", broker_error ? broker_error : "",
                  store ? json_string_value (s_member (store, "error")) : "out of memory");
        result = s_unavailable (text);
    }
    json_decref (store);
    json_decref (answer);
    return result;
}

static json_t *
s_agents (dash_ctx_t *ctx)
{
    json_t *status = dash_poll_get (ctx->poll, DASH_POLL_STATUS);
    if (!status || !s_available (status))
        return status;
    static const char *const names[] = {"available",    "age_ms",           "updated", "broker",
                                        "uptime_ms",    "received",         "stored",  "duplicates",
                                        "in_flight",    "connected_agents", "agents",  "nacked",
                                        "nacked_total", "errors",           "mirror",  NULL};
    json_t *answer = json_pack ("{s:s}", "source", "broker");
    if (answer)
        s_copy (answer, status, names);
    json_decref (status);
    return answer;
}

static json_t *
s_supervisor (dash_ctx_t *ctx)
{
    json_t *answer = dash_poll_get (ctx->poll, DASH_POLL_SUPERVISOR);
    if (!answer || !s_available (answer))
        return answer;
    json_t *counts = json_object ();
    const char *name;
    json_t *program;
    json_object_foreach (s_member (answer, "programs"), name, program)
    {
        const char *state = json_string_value (s_member (program, "state"));
        if (!state)
            continue;
        json_object_set_new (counts, state,
                             json_integer (json_integer_value (s_member (counts, state)) + 1));
    }
    json_object_set_new (answer, "counts", counts);
    return answer;
}

json_t *
dash_system_answer (dash_ctx_t *ctx, const char *name)
{
    if (strcmp (name, "budget") == 0)
        return s_budget (ctx);
    if (strcmp (name, "mirror") == 0)
        return s_mirror (ctx);
    if (strcmp (name, "agents") == 0)
        return s_agents (ctx);
    if (strcmp (name, "supervisor") == 0)
        return s_supervisor (ctx);
    return NULL;
}

//  A summary member of /api/stats: the named members of section (new).
static json_t *
s_summary (json_t *answer, json_t *section, const char *const *names)
{
    if (!answer)
        return NULL;
    if (!s_available (answer))
        return s_unavailable (json_string_value (s_member (answer, "error")));
    json_t *summary =
        json_pack ("{s:b, s:O?}", "available", 1, "age_ms", s_member (answer, "age_ms"));
    if (summary)
        s_copy (summary, section, names);
    return summary;
}

void
dash_system_stats (dash_ctx_t *ctx, json_t *stats)
{
    json_t *status = dash_poll_get (ctx->poll, DASH_POLL_STATUS);
    json_t *nacks = s_summary (status, status, (const char *const[]){"nacked_total", NULL});
    if (nacks && s_available (nacks)) {
        json_object_set (nacks, "by_code", json_object_get (status, "nacked"));
        json_object_set (nacks, "total", json_object_get (status, "nacked_total"));
        json_object_del (nacks, "nacked_total");
    }
    json_object_set_new (stats, "nacks", nacks);
    json_t *agents = s_summary (status, status, (const char *const[]){"connected_agents", NULL});
    json_object_set_new (stats, "agents", agents);
    json_decref (status);

    json_t *mirror = s_mirror (ctx);
    json_t *figures = s_member (mirror, "store");
    static const char *const mirror_names[] = {"lag_ms",  "outbox",   "deferred",  "failed",
                                               "due",     "accepted", "dry_run",   "dead",
                                               "sampled", "shed",     "dlq_depth", NULL};
    json_t *summary = s_summary (mirror, figures, mirror_names);
    if (summary && s_available (summary)) {
        s_copy (summary, mirror, (const char *const[]){"source", "enabled", NULL});
        //  "dry_run" is a count here: the mode has its own name.
        json_t *enabled = s_member (mirror, "enabled");
        json_object_set_new (summary, "mode",
                             !enabled                                      ? json_null ()
                             : !json_is_true (enabled)                     ? json_string ("off")
                             : json_is_true (s_member (mirror, "dry_run")) ? json_string ("dry-run")
                                                                           : json_string ("live"));
    }
    json_object_set_new (stats, "mirror", summary);
    json_decref (mirror);

    json_t *budget = s_budget (ctx);
    json_t *month = s_member (s_member (budget, "report"), "month");
    summary = s_summary (budget, month,
                         (const char *const[]){"cost_usd", "projected_usd", "budget_usd",
                                               "used_percent", "events", NULL});
    if (summary && s_available (summary)) {
        s_copy (summary, budget, (const char *const[]){"enabled", "alarm_state", NULL});
        json_t *alarm =
            s_member (s_member (s_member (budget, "report"), "threshold"), "alarm_percent");
        if (alarm)
            json_object_set (summary, "alarm_percent", alarm);
    }
    json_object_set_new (stats, "budget", summary);
    json_decref (budget);
}

json_t *
dash_system_event_mirror (dash_ctx_t *ctx, int64_t seq)
{
    cab_error_t error;
    cab_error_clear (&error);
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (!ctx->mirror_store &&
        (ctx->mirror_store_tried_ms == 0 || now_ms - ctx->mirror_store_tried_ms >= S_REOPEN_MS)) {
        ctx->mirror_store_tried_ms = now_ms;
        ctx->mirror_store = cab_store_new_readonly (ctx->store_path, &error);
    }
    const char *state = NULL;
    json_t *answer = NULL;
    if (!ctx->mirror_store) {
        if (!error.text[0])
            cab_error_set (&error, CAB_ERR_STORE_UNAVAILABLE, NULL,
                           "the store could not be opened a moment ago; asked again in 5 s");
    } else if (cab_store_mirror_get (ctx->mirror_store, seq, &state, &answer, &error) != CAB_OK) {
        answer = NULL;
        cab_store_destroy (&ctx->mirror_store);
    }
    if (!answer && state)
        answer = json_pack ("{s:s}", "state", state);
    if (!answer)
        answer = json_pack ("{s:s, s:s}", "state", "unknown", "error",
                            error.text[0] ? error.text : "out of memory");
    return answer;
}
