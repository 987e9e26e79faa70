/*  =========================================================================
    cabruca-monitor - watches the host and publishes Issue Detection events

    Every interval it samples its checks (checks.c) and reports, with
    hysteresis, the issues that start, escalate, de-escalate or resolve, and
    reminds of the ones that last. See docs/agents.md ("monitor").
    =========================================================================
*/
#include "monitor.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    check_t *checks;
    size_t count;
    int64_t reminder_ms;
    const char *host;
} monitor_t;

static const char *s_usage =
    "The \"monitor\" section: {\"interval_ms\": 10000, \"reminder_s\": 3600,\n"
    "  \"load\": {\"medium\": 2, \"high\": 4, \"critical\": 8} (per CPU) or false,\n"
    "  \"memory\": {\"medium\": 85, \"high\": 92, \"critical\": 97} (percent used) or false,\n"
    "  \"disks\": [{\"path\": \"/\", \"medium\": 85, ...}],\n"
    "  \"http\": [{\"name\": \"web\", \"url\": \"http://...\", \"expect_status\": 200,\n"
    "            \"timeout_ms\": 2000, \"latency_ms\": {\"medium\": 500, \"high\": 2000}}],\n"
    "  \"logs\": [{\"path\": \"/var/log/app.log\", \"pattern\": \"ERROR|FATAL\", \"severity\": "
    "\"HIGH\"}]}\n";

//  Publish the Issue Detection event for one check's change of state.
static void
s_report (cab_agent_t *agent, monitor_t *self, check_t *check, const char *what)
{
    const verdict_t *verdict = &check->verdict;
    bool resolved = verdict->level == LEVEL_OK;
    //  A resolution is reported at LOW severity with the issue type of
    //  the issue it ends plus "_resolved".
    char issue_type[80];
    snprintf (issue_type, sizeof issue_type, "%s%s", check->issue_type,
              resolved ? "_resolved" : "");
    char description[700];
    snprintf (description, sizeof description, "%s: %s", what, verdict->description);
    cab_error_t error = {0};
    cab_event_t *event = cab_issue_detection_new (
        cab_agent_id (agent), resolved ? CAB_SEVERITY_LOW : (cab_severity_t)verdict->level,
        issue_type, description, &error);
    if (event &&
        cab_issue_detection_add_affected_resource (event, check->resource, &error) == CAB_OK &&
        self->host)
        cab_issue_detection_add_affected_resource (event, self->host, &error);
    const char *name;
    json_t *value;
    json_object_foreach (verdict->metrics, name, value) if (event && json_is_number (value))
        cab_issue_detection_set_metric (event, name, json_number_value (value), &error);
    if (event && verdict->action && !resolved)
        cab_issue_detection_add_suggested_action (event, verdict->action, &error);
    if (!event || error.code != CAB_OK) {
        cab_agent_log (agent, CAB_LOG_ERROR, "cannot build the event for %s: %s", check->key,
                       error.text);
        cab_event_destroy (&event);
        return;
    }
    if (cab_agent_publish (agent, &event, 1000, &error) != CAB_OK)
        cab_agent_log (agent, CAB_LOG_ERROR, "cannot publish %s: %s", check->key, error.text);
    else
        cab_agent_log (agent, CAB_LOG_INFO, "%s %s: %s", check->key, what, verdict->description);
}

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int
s_sample (cab_agent_t *agent, void *arg)
{
    monitor_t *self = (monitor_t *)arg;
    checks_sample (self->checks, self->count);
    int64_t now = s_now_ms ();
    for (size_t index = 0; index < self->count; index++) {
        check_t *check = &self->checks[index];
        level_t level = check->verdict.level;
        const char *what = NULL;
        if (level != check->reported) {
            if (check->reported == LEVEL_OK)
                what = "started";
            else if (level == LEVEL_OK)
                what = "resolved";
            else
                what = level > check->reported ? "escalated" : "de-escalated";
        } else if (level != LEVEL_OK && now - check->reported_at >= self->reminder_ms)
            what = "continues";
        if (what) {
            s_report (agent, self, check, what);
            check->reported = level;
            check->reported_at = now;
        }
    }
    return 0;
}

int
main (int argc, char **argv)
{
    cab_agent_args_t args;
    int rc = cab_agent_parse_args (argc, argv, "monitor", s_usage, &args);
    if (rc >= 0)
        return rc;
    cab_error_t error = {0};
    monitor_t self = {0};
    json_t *interval = json_object_get (args.config, "interval_ms");
    json_t *reminder = json_object_get (args.config, "reminder_s");
    json_int_t interval_ms = interval ? json_integer_value (interval) : 10000;
    json_int_t reminder_s = reminder ? json_integer_value (reminder) : 3600;
    json_t *host = json_object_get (args.config, "host");
    self.host = json_is_string (host) ? json_string_value (host) : NULL;
    self.reminder_ms = (int64_t)reminder_s * 1000;
    if (interval_ms < 100 || interval_ms > 86400000 || reminder_s < 1 || reminder_s > 604800) {
        fprintf (stderr, "cabruca-monitor: interval_ms must be 100..86400000 and reminder_s "
                         "1..604800\n");
        cab_agent_args_release (&args);
        return 2;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    self.checks = checks_new (args.config, &self.count, &error);
    if (!self.checks) {
        fprintf (stderr, "cabruca-monitor: %s: %s\n", error.path, error.text);
        cab_agent_args_release (&args);
        return 2;
    }
    cab_agent_t *agent = cab_agent_new_from_args (&args, &error);
    if (!agent) {
        fprintf (stderr, "cabruca-monitor: %s\n", error.text);
        checks_destroy (self.checks, self.count);
        cab_agent_args_release (&args);
        return 1;
    }
    cab_agent_log (agent, CAB_LOG_INFO, "watching %zu checks every %lld ms", self.count,
                   (long long)interval_ms);
    cab_agent_every (agent, interval_ms, s_sample, &self);
    s_sample (agent, &self);
    cab_status_t status = cab_agent_run (agent, 5000);
    cab_agent_destroy (&agent);
    checks_destroy (self.checks, self.count);
    cab_agent_args_release (&args);
    curl_global_cleanup ();
    return status == CAB_OK ? 0 : 1;
}
