/*  =========================================================================
    cabruca-product - turns recurring problems into Feature Requests

    Subscribes (a run-time pattern subscription on its own queue) to Issue
    Detection and Test Results events. Each problem gets a fingerprint: an
    issue's type and first affected resource; a failed test's repository and
    name. When a fingerprint recurs `threshold` times within `window_s`, the
    agent files one Feature Request whose priority follows the worst
    severity and the frequency, and whose business justification cites the
    evidence (count, first and last seen, correlation ids; related_events
    lists the event ids). The state (occurrences, filed requests) is saved
    atomically after each change, events are counted once by id (deliveries
    are at least once), and a fingerprint is filed at most once: the request
    counts as filed when the broker has acknowledged it, and only then is the
    delivery that triggered it acknowledged.
    =========================================================================
*/
#include "../common/agent_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Event ids remembered per fingerprint (for counting each once and citing).
#define S_MAX_IDS          100
#define S_MAX_PENDING      64
#define S_MAX_FINGERPRINTS 32

typedef struct {
    uint64_t delivery;
    char fingerprint[600];
    char request_id[CAB_UUID_LENGTH + 1];
} pending_t;

typedef struct {
    const char *queue;
    const char *state_path;
    json_int_t threshold;
    long long window_ms;
    json_t *state;  //  {"fingerprints": {fp: {...}}}
    pending_t pending[S_MAX_PENDING];
    size_t pending_count;
} product_t;

static const char *s_usage =
    "Files a Feature Request when a HIGH or CRITICAL issue, or a failed test, recurs.\n"
    "The \"product\" section: {\"queue\": \"product-inbox\", \"threshold\": 3, \"window_s\": "
    "86400,\n"
    "  \"state_file\": \"product-state.json\"}\n";

static const char *
s_get (const json_t *object, const char *name)
{
    return json_string_value (json_object_get (object, name));
}

static int
s_severity_rank (const char *severity)
{
    static const char *names[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
    for (int index = 0; severity && index < 4; index++)
        if (strcmp (severity, names[index]) == 0)
            return index;
    return 1;
}

static cab_feature_type_t
s_feature_type (const char *kind, const char *issue_type)
{
    if (strcmp (kind, "test") == 0 || (issue_type && strcmp (issue_type, "log_pattern") == 0))
        return CAB_FEATURE_TYPE_BUG_FIX;
    if (issue_type &&
        (strcmp (issue_type, "high_load") == 0 || strcmp (issue_type, "http_health") == 0))
        return CAB_FEATURE_TYPE_PERFORMANCE;
    return CAB_FEATURE_TYPE_RELIABILITY;
}

static void
s_save (cab_agent_t *agent, product_t *self)
{
    if (state_save (self->state_path, self->state, "product") != 0)
        cab_agent_log (agent, CAB_LOG_ERROR, "state not saved to %s", self->state_path);
}

//  File the Feature Request for a fingerprint that crossed the threshold.
static bool
s_file (cab_agent_t *agent, product_t *self, const char *fingerprint, json_t *record,
        char *request_id)
{
    const char *kind = s_get (record, "kind");
    const char *subject = s_get (record, "subject");
    const char *issue_type = s_get (record, "issue_type");
    json_int_t count = json_integer_value (json_object_get (record, "count"));
    int rank = (int)json_integer_value (json_object_get (record, "severity"));
    if (count >= 2 * self->threshold && rank < 3)
        rank++;  //  Frequent: one step more urgent
    char title[200], description[1024], justification[2048];
    if (strcmp (kind, "test") == 0)
        snprintf (title, sizeof title, "Fix the recurring failure of %.150s", subject);
    else
        snprintf (title, sizeof title, "Prevent recurring %.60s on %.100s", issue_type, subject);
    snprintf (description, sizeof description,
              "%s has happened %lld times in the last %lld hours (threshold %lld). Fingerprint: "
              "%.500s.",
              subject, (long long)count, self->window_ms / 3600000, (long long)self->threshold,
              fingerprint);
    char first[CAB_TIME_LENGTH + 1] = "", last[CAB_TIME_LENGTH + 1] = "";
    snprintf (first, sizeof first, "%s",
              s_get (record, "first_seen") ? s_get (record, "first_seen") : "");
    snprintf (last, sizeof last, "%s",
              s_get (record, "last_seen") ? s_get (record, "last_seen") : "");
    size_t used =
        (size_t)snprintf (justification, sizeof justification,
                          "Seen %lld times, first %s, last %s; worst severity %s. "
                          "Correlation ids:",
                          (long long)count, first, last, cab_priority_name ((cab_priority_t)rank));
    size_t index;
    json_t *value;
    json_array_foreach (json_object_get (record, "correlations"), index, value)
    {
        if (used + 40 >= sizeof justification)
            break;
        used += (size_t)snprintf (justification + used, sizeof justification - used, "%s %s",
                                  index ? "," : "", json_string_value (value));
    }
    cab_error_t error = {0};
    cab_event_t *event =
        cab_feature_request_new (cab_agent_id (agent), (cab_priority_t)rank,
                                 s_feature_type (kind, issue_type), title, description, &error);
    if (event)
        cab_feature_request_set_business_justification (event, justification, &error);
    if (event)
        cab_feature_request_set_estimated_impact (event, (cab_impact_level_t)(rank > 2 ? 2 : rank),
                                                  &error);
    json_array_foreach (json_object_get (record, "ids"), index, value) if (event)
        cab_feature_request_add_related_event (event, json_string_value (value), &error);
    if (!event || error.code != CAB_OK) {
        cab_agent_log (agent, CAB_LOG_ERROR, "cannot build the request for %s: %s", fingerprint,
                       error.text);
        cab_event_destroy (&event);
        return false;
    }
    snprintf (request_id, CAB_UUID_LENGTH + 1, "%s", cab_event_id (event));
    //  Remembered before it leaves: after a crash or a stop before the
    //  broker's ACK, the same event (same id: the broker stores it once) is
    //  sent again at start, and the fingerprint is never filed twice.
    size_t length = 0;
    const char *text = cab_event_text (event, &length);
    json_t *pending =
        text ? json_pack ("{s:s, s:s%}", "id", request_id, "text", text, length) : NULL;
    if (!pending || json_object_set_new (record, "pending_request", pending) != 0 ||
        state_save (self->state_path, self->state, "product") != 0) {
        json_object_del (record, "pending_request");
        cab_agent_log (agent, CAB_LOG_WARNING, "cannot remember the request for %s: not filed now",
                       fingerprint);
        cab_event_destroy (&event);
        return false;
    }
    if (cab_agent_publish (agent, &event, 0, &error) != CAB_OK) {
        cab_agent_log (agent, CAB_LOG_WARNING, "cannot publish the request for %s now: %s",
                       fingerprint, error.text);
        json_object_del (record, "pending_request");
        return false;
    }
    cab_agent_log (agent, CAB_LOG_INFO, "filed %s: %s", request_id, title);
    return true;
}

//  Count one occurrence; returns the record (borrowed) or NULL if seen.
static json_t *
s_count (product_t *self, const char *fingerprint, const char *kind, const char *subject,
         const char *issue_type, int severity, cab_event_t *event)
{
    json_t *fingerprints = json_object_get (self->state, "fingerprints");
    if (!fingerprints) {
        fingerprints = json_object ();
        json_object_set_new (self->state, "fingerprints", fingerprints);
    }
    json_t *record = json_object_get (fingerprints, fingerprint);
    if (!record) {
        record = json_pack ("{s:s, s:s, s:i, s:[], s:[], s:[]}", "kind", kind, "subject", subject,
                            "severity", 0, "ids", "times", "correlations");
        if (issue_type)
            json_object_set_new (record, "issue_type", json_string (issue_type));
        json_object_set_new (fingerprints, fingerprint, record);
    }
    const char *id = cab_event_id (event);
    json_t *ids = json_object_get (record, "ids");
    size_t index;
    json_t *value;
    json_array_foreach (ids, index,
                        value) if (strcmp (json_string_value (value), id) == 0) return NULL;
    long long now = now_ms ();
    json_t *times = json_object_get (record, "times");
    json_array_append_new (ids, json_string (id));
    json_array_append_new (times, json_integer (now));
    while (json_array_size (ids) > S_MAX_IDS)
        json_array_remove (ids, 0);
    //  Only occurrences inside the window count.
    while (json_array_size (times) &&
           now - json_integer_value (json_array_get (times, 0)) > self->window_ms)
        json_array_remove (times, 0);
    while (json_array_size (times) > S_MAX_IDS)
        json_array_remove (times, 0);
    json_t *correlations = json_object_get (record, "correlations");
    const char *correlation = cab_event_correlation_id (event);
    bool known = false;
    json_array_foreach (correlations, index, value) known =
        known || strcmp (json_string_value (value), correlation) == 0;
    if (!known && json_array_size (correlations) < 20)
        json_array_append_new (correlations, json_string (correlation));
    if (!json_object_get (record, "first_seen"))
        json_object_set_new (record, "first_seen", json_string (cab_event_time (event)));
    json_object_set_new (record, "last_seen", json_string (cab_event_time (event)));
    json_object_set_new (record, "count", json_integer ((json_int_t)json_array_size (times)));
    if (severity > json_integer_value (json_object_get (record, "severity")))
        json_object_set_new (record, "severity", json_integer (severity));
    return record;
}

static int
s_on_event (cab_agent_t *agent, cab_event_t *event, const cab_client_delivery_t *delivery,
            void *arg)
{
    product_t *self = (product_t *)arg;
    if (!event)
        return 0;
    json_t *detail = json_object_get (cab_event_json (event), "detail");
    const char *type = cab_event_detail_type (event);
    char fingerprints[S_MAX_FINGERPRINTS][600];
    size_t count = 0;
    const char *kind = NULL, *issue_type = NULL;
    char subjects[S_MAX_FINGERPRINTS][300];
    int severity = 1;
    if (strcmp (type, "Issue Detection") == 0) {
        issue_type = s_get (detail, "issue_type");
        size_t length = issue_type ? strlen (issue_type) : 0;
        if (!issue_type || (length > 9 && strcmp (issue_type + length - 9, "_resolved") == 0))
            return 0;  //  A resolution is not a problem
        const char *resource =
            json_string_value (json_array_get (json_object_get (detail, "affected_resources"), 0));
        kind = "issue";
        severity = s_severity_rank (s_get (detail, "severity"));
        if (severity < 2)
            return 0;  //  Only HIGH and CRITICAL issues count
        snprintf (subjects[0], sizeof subjects[0], "%s", resource ? resource : "the host");
        snprintf (fingerprints[count++], sizeof fingerprints[0], "issue:%.64s:%.300s", issue_type,
                  subjects[0]);
    } else if (strcmp (type, "Test Results") == 0) {
        const char *status = s_get (detail, "status");
        if (!status || strcmp (status, "PASSED") == 0)
            return 0;
        kind = "test";
        severity = 2;
        const char *repository = s_get (detail, "repository");
        size_t index;
        json_t *failed;
        json_array_foreach (json_object_get (detail, "failed_tests"), index, failed)
        {
            if (count >= S_MAX_FINGERPRINTS)
                break;
            snprintf (subjects[count], sizeof subjects[0], "test %.150s in %.140s",
                      s_get (failed, "name"), repository ? repository : "?");
            snprintf (fingerprints[count], sizeof fingerprints[0], "test:%.300s:%.250s",
                      repository ? repository : "?", s_get (failed, "name"));
            count++;
        }
        if (count == 0) {
            snprintf (subjects[0], sizeof subjects[0], "the tests of %.250s",
                      repository ? repository : "?");
            snprintf (fingerprints[count++], sizeof fingerprints[0], "test:%.500s:*",
                      repository ? repository : "?");
        }
    } else
        return 0;
    bool filing = false;
    for (size_t index = 0; index < count; index++) {
        json_t *record =
            s_count (self, fingerprints[index], kind, subjects[index], issue_type, severity, event);
        if (!record || json_object_get (record, "filed") ||
            json_object_get (record, "pending_request") ||
            json_integer_value (json_object_get (record, "count")) < self->threshold)
            continue;
        bool already = false;
        for (size_t other = 0; other < self->pending_count; other++)
            already =
                already || strcmp (self->pending[other].fingerprint, fingerprints[index]) == 0;
        if (already || self->pending_count >= S_MAX_PENDING)
            continue;
        pending_t *pending = &self->pending[self->pending_count];
        if (s_file (agent, self, fingerprints[index], record, pending->request_id)) {
            pending->delivery = delivery->delivery;
            memcpy (pending->fingerprint, fingerprints[index], sizeof pending->fingerprint);
            self->pending_count++;
            filing = true;
        }
    }
    s_save (agent, self);
    return filing ? CAB_AGENT_LATER : 0;
}

//  Requests the broker has acknowledged count as filed; then their
//  deliveries are acknowledged.
static int
s_settle (cab_agent_t *agent, void *arg)
{
    product_t *self = (product_t *)arg;
    if (self->pending_count == 0 || cab_client_in_flight (cab_agent_client (agent)) > 0)
        return 0;
    json_t *fingerprints = json_object_get (self->state, "fingerprints");
    for (size_t index = 0; index < self->pending_count; index++) {
        json_t *record = json_object_get (fingerprints, self->pending[index].fingerprint);
        json_object_set_new (record, "filed", json_string (self->pending[index].request_id));
        json_object_del (record, "pending_request");
    }
    s_save (agent, self);
    for (size_t index = 0; index < self->pending_count; index++) {
        if (self->pending[index].delivery == 0)
            continue;       //  Sent again at start: no delivery waits for it
        bool seen = false;  //  Several requests may come from one delivery
        for (size_t other = 0; other < index; other++)
            seen = seen || self->pending[other].delivery == self->pending[index].delivery;
        if (!seen)
            cab_agent_settle (agent, self->pending[index].delivery, true, NULL);
    }
    self->pending_count = 0;
    return 0;
}

//  Requests remembered but not known to be stored (the agent stopped or
//  crashed before the broker's ACK): sent again with their own ids.
static void
s_resend_pending (cab_agent_t *agent, product_t *self)
{
    const char *fingerprint;
    json_t *record;
    json_object_foreach (json_object_get (self->state, "fingerprints"), fingerprint, record)
    {
        json_t *pending = json_object_get (record, "pending_request");
        const char *text = json_string_value (json_object_get (pending, "text"));
        const char *id = json_string_value (json_object_get (pending, "id"));
        if (!text || !id || self->pending_count >= S_MAX_PENDING ||
            strlen (fingerprint) >= sizeof self->pending[0].fingerprint)
            continue;
        cab_error_t error = {0};
        cab_event_t *event =
            cab_event_load (text, json_string_length (json_object_get (pending, "text")), &error);
        if (!event || cab_agent_publish (agent, &event, 1000, &error) != CAB_OK) {
            cab_agent_log (agent, CAB_LOG_ERROR, "cannot send request %s again: %s", id,
                           error.text);
            continue;
        }
        pending_t *slot = &self->pending[self->pending_count++];
        slot->delivery = 0;
        snprintf (slot->fingerprint, sizeof slot->fingerprint, "%s", fingerprint);
        snprintf (slot->request_id, sizeof slot->request_id, "%s", id);
        cab_agent_log (agent, CAB_LOG_INFO, "sending request %s again", id);
    }
}

int
main (int argc, char **argv)
{
    cab_agent_args_t args;
    int rc = cab_agent_parse_args (argc, argv, "product", s_usage, &args);
    if (rc >= 0)
        return rc;
    static product_t self;
    json_t *queue = json_object_get (args.config, "queue");
    json_t *state_file = json_object_get (args.config, "state_file");
    json_t *threshold = json_object_get (args.config, "threshold");
    json_t *window = json_object_get (args.config, "window_s");
    self.queue = json_is_string (queue) ? json_string_value (queue) : "product-inbox";
    self.state_path =
        json_is_string (state_file) ? json_string_value (state_file) : "product-state.json";
    self.threshold = threshold ? json_integer_value (threshold) : 3;
    json_int_t window_s = window ? json_integer_value (window) : 86400;
    if (self.threshold < 1 || self.threshold > 1000 || window_s < 1 || window_s > 31 * 86400) {
        fprintf (stderr, "cabruca-product: /product: threshold must be 1..1000 and window_s "
                         "1..2678400\n");
        cab_agent_args_release (&args);
        return 2;
    }
    self.window_ms = (long long)window_s * 1000;
    self.state = state_load (self.state_path, "product");
    cab_error_t error = {0};
    cab_agent_t *agent = self.state ? cab_agent_new_from_args (&args, &error) : NULL;
    //  HIGH and CRITICAL issues, and failed tests: the broker filters.
    json_t *options = json_pack (
        "{s:{s:[{s:[s], s:[s], s:{s:[s, s]}}, {s:[s], s:[s], s:{s:[s, s]}}]}}", "pattern", "$or",
        "source", "cabruca.agents.monitor", "detail-type", "Issue Detection", "detail", "severity",
        "HIGH", "CRITICAL", "source", "cabruca.agents.tester", "detail-type", "Test Results",
        "detail", "status", "FAILED", "ERROR");
    if (!agent ||
        cab_agent_subscribe (agent, self.queue, options, s_on_event, &self, &error) != CAB_OK) {
        if (self.state)
            fprintf (stderr, "cabruca-product: %s\n", error.text);
        json_decref (options);
        json_decref (self.state);
        cab_agent_destroy (&agent);
        cab_agent_args_release (&args);
        return self.state ? 1 : 2;
    }
    json_decref (options);
    s_resend_pending (agent, &self);
    cab_agent_every (agent, 200, s_settle, &self);
    cab_agent_log (agent, CAB_LOG_INFO, "filing requests after %lld occurrences in %lld s",
                   (long long)self.threshold, (long long)window_s);
    cab_status_t status = cab_agent_run (agent, 5000);
    s_settle (agent, &self);  //  What the drain got acknowledged counts as filed
    cab_agent_destroy (&agent);
    json_decref (self.state);
    cab_agent_args_release (&args);
    return status == CAB_OK ? 0 : 1;
}
