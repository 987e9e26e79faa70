/*  =========================================================================
    test_cab_events - the typed event layer: every constructor's output
    validates against its schema; every property of every schema in
    schemas/events can be set (a field added to a schema without a setter
    fails here); enum names match the schemas and round-trip; values that
    break the schema are refused with the field's JSON Pointer and leave
    the event as it was; causation chains share one correlation id
    =========================================================================
*/
#include "failmalloc.h"
#include <cabruca.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The source tree's schemas; the Makefile passes CAB_SRCDIR to tests.
static char s_schemas[1024];

static const char *
s_schema_dir (void)
{
    const char *top = getenv ("CAB_SRCDIR");
    snprintf (s_schemas, sizeof s_schemas, "%s/schemas", top ? top : ".");
    return s_schemas;
}

static cab_registry_t *
s_registry (void)
{
    cab_registry_t *registry = cab_registry_new ();
    ck_assert_ptr_nonnull (registry);
    cab_error_t error;
    ck_assert_msg (cab_registry_load_dir (registry, s_schema_dir (), &error) == CAB_OK, "%s: %s",
                   cab_status_name (error.code), error.text);
    return registry;
}

//  The schema document of a type, read from schemas/events. New reference.
static json_t *
s_schema_json (const char *file)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/events/%s", s_schema_dir (), file);
    json_error_t json_error;
    json_t *schema = json_load_file (path, 0, &json_error);
    ck_assert_msg (schema != NULL, "%s: %s", path, json_error.text);
    return schema;
}

static void
s_assert_valid (cab_registry_t *registry, cab_event_t *event)
{
    cab_error_t error;
    cab_status_t rc = cab_registry_validate (registry, event, &error);
    ck_assert_msg (rc == CAB_OK, "%s at %s: %s\n%s", cab_status_name (rc), error.path, error.text,
                   cab_event_text (event, NULL));
}

//  Run a call that takes `E` as its error record; fail with the record.
#define OK(call)                                                                                   \
    do {                                                                                           \
        cab_error_t ok_error_ = {0};                                                               \
        cab_status_t ok_rc_ = (call);                                                              \
        ck_assert_msg (ok_rc_ == CAB_OK, "%s: %s at %s: %s", #call, cab_status_name (ok_rc_),      \
                       ok_error_.path, ok_error_.text);                                            \
    } while (0)
#define E (&ok_error_)

//  Run a call that must fail with `code` at `where`, leaving the event's
//  text as it was.
#define REFUSED(event, expected, where, call)                                                      \
    do {                                                                                           \
        char *before_ = strdup (cab_event_text (event, NULL));                                     \
        cab_error_t ok_error_ = {0};                                                               \
        cab_status_t ok_rc_ = (call);                                                              \
        ck_assert_msg (ok_rc_ == (expected), "%s: %s (%s at %s), not %s", #call,                   \
                       cab_status_name (ok_rc_), ok_error_.text, ok_error_.path,                   \
                       cab_status_name (expected));                                                \
        ck_assert_int_eq (ok_error_.code, (expected));                                             \
        ck_assert_str_eq (ok_error_.path, (where));                                                \
        ck_assert_str_eq (cab_event_text (event, NULL), before_);                                  \
        free (before_);                                                                            \
    } while (0)

//  ---------------------------------------------------------------------
//  Each event type: a constructor call with its required fields, and a
//  function that calls every one of its setters.

static const char *const s_uuid = "0193a5b2-7c10-7001-8001-000000000001";
static const char *const s_uuid2 = "0193a5b2-7c10-7001-8001-000000000002";

static cab_event_t *
s_issue_detection (cab_error_t *error)
{
    return cab_issue_detection_new ("monitor-001", CAB_SEVERITY_HIGH, "disk_full",
                                    "/var is 97% full", error);
}

static void
s_issue_detection_fill (cab_event_t *event)
{
    OK (cab_issue_detection_add_affected_resource (event, "/var", E));
    OK (cab_issue_detection_set_metric (event, "disk_used_percent", 97.2, E));
    OK (cab_issue_detection_add_suggested_action (event, "rotate the logs", E));
}

static cab_event_t *
s_feature_request (cab_error_t *error)
{
    return cab_feature_request_new ("product-001", CAB_PRIORITY_HIGH, CAB_FEATURE_TYPE_RELIABILITY,
                                    "Rotate logs before /var fills",
                                    "disk_full seen 5 times in a day", error);
}

static void
s_feature_request_fill (cab_event_t *event)
{
    OK (cab_feature_request_set_business_justification (event, "outages cost money", E));
    OK (cab_feature_request_set_estimated_impact (event, CAB_IMPACT_LEVEL_MEDIUM, E));
    OK (cab_feature_request_set_estimated_impact_users_affected (event, 120, E));
    OK (cab_feature_request_set_estimated_impact_effort_days (event, 1.5, E));
    OK (cab_feature_request_set_estimated_impact_notes (event, "one cron job", E));
    OK (cab_feature_request_add_related_event (event, s_uuid, E));
}

static cab_event_t *
s_code_change (cab_error_t *error)
{
    return cab_code_change_new ("developer-001", "/srv/git/app.git", "main", "0a1b2c3d4e5f",
                                CAB_CHANGE_TYPE_BUG_FIX, CAB_CHANGE_STATUS_APPROVED, error);
}

static void
s_code_change_fill (cab_event_t *event)
{
    OK (cab_code_change_set_title (event, "fix: rotate logs daily", E));
    OK (cab_code_change_set_author (event, "Ana <ana@example.com>", E));
    OK (cab_code_change_add_file_changed (event, "etc/logrotate.conf", E));
    OK (cab_code_change_set_test_command (event, "make check", E));
    OK (cab_code_change_set_test_results (event, 10, 0, E));
    OK (cab_code_change_set_test_results_total (event, 11, E));
    OK (cab_code_change_set_test_results_skipped (event, 1, E));
}

static cab_event_t *
s_test_results (cab_error_t *error)
{
    return cab_test_results_new ("tester-001", CAB_TEST_TYPE_UNIT, CAB_TEST_STATUS_FAILED, 5123,
                                 error);
}

static void
s_test_results_fill (cab_event_t *event)
{
    OK (cab_test_results_set_repository (event, "/srv/git/app.git", E));
    OK (cab_test_results_set_commit (event, "0a1b2c3d4e5f", E));
    OK (cab_test_results_set_code_change_id (event, s_uuid, E));
    OK (cab_test_results_set_counts_total (event, 12, E));
    OK (cab_test_results_set_counts_passed (event, 10, E));
    OK (cab_test_results_set_counts_failed (event, 1, E));
    OK (cab_test_results_set_counts_skipped (event, 1, E));
    OK (cab_test_results_set_coverage_lines (event, 81.5, E));
    OK (cab_test_results_set_coverage_branches (event, 70, E));
    OK (cab_test_results_set_coverage_functions (event, 90, E));
    OK (cab_test_results_add_failed_test (event, "test_rotate", "expected 1, got 2",
                                          "tests/test_rotate.c", E));
    OK (cab_test_results_add_artifact (event, "/var/log/tester/run-1.log", E));
}

static cab_event_t *
s_agent_lifecycle (cab_error_t *error)
{
    return cab_agent_lifecycle_new ("supervisor", CAB_LIFECYCLE_STATE_EXITED, "cabruca-monitor",
                                    error);
}

static void
s_agent_lifecycle_fill (cab_event_t *event)
{
    OK (cab_agent_lifecycle_set_pid (event, 4242, E));
    OK (cab_agent_lifecycle_set_exit_status (event, 1, E));
    OK (cab_agent_lifecycle_set_signal (event, 15, E));
    OK (cab_agent_lifecycle_set_restarts (event, 3, E));
    OK (cab_agent_lifecycle_set_backoff_ms (event, 4000, E));
    OK (cab_agent_lifecycle_set_message (event, "exited with status 1", E));
}

static cab_event_t *
s_budget_threshold (cab_error_t *error)
{
    return cab_budget_threshold_new ("broker", CAB_BUDGET_SCOPE_DAILY, 90, 900, 1000,
                                     CAB_BUDGET_UNIT_EVENTS, error);
}

static void
s_budget_threshold_fill (cab_event_t *event)
{
    OK (cab_budget_threshold_set_agent_type (event, "monitor", E));
    OK (cab_budget_threshold_set_period_start (event, "2026-11-22T00:00:00Z", E));
    OK (cab_budget_threshold_set_action (event, CAB_BUDGET_ACTION_SAMPLE, E));
}

static cab_event_t *
s_delivery_dead_lettered (cab_error_t *error)
{
    return cab_delivery_dead_lettered_new ("broker", s_uuid, "CI/CD", "tester",
                                           CAB_DEAD_LETTER_QUEUE_STANDARD,
                                           CAB_DEAD_LETTER_REASON_MAX_ATTEMPTS, 5, error);
}

static void
s_delivery_dead_lettered_fill (cab_event_t *event)
{
    OK (cab_delivery_dead_lettered_set_event_source (event, "cabruca.agents.developer", E));
    OK (cab_delivery_dead_lettered_set_event_detail_type (event, "Code Change", E));
    OK (cab_delivery_dead_lettered_set_last_error (event, "NACK TargetFailed", E));
}

typedef struct {
    const char *file;  //  In schemas/events
    cab_event_t *(*create) (cab_error_t *error);
    void (*fill) (cab_event_t *event);
} s_type_t;

static const s_type_t s_types[] = {
    {"issue-detection-1.0.json", s_issue_detection, s_issue_detection_fill},
    {"feature-request-1.0.json", s_feature_request, s_feature_request_fill},
    {"code-change-1.0.json", s_code_change, s_code_change_fill},
    {"test-results-1.0.json", s_test_results, s_test_results_fill},
    {"agent-lifecycle-1.0.json", s_agent_lifecycle, s_agent_lifecycle_fill},
    {"budget-threshold-1.0.json", s_budget_threshold, s_budget_threshold_fill},
    {"delivery-dead-lettered-1.0.json", s_delivery_dead_lettered, s_delivery_dead_lettered_fill},
};
#define S_TYPES (sizeof s_types / sizeof s_types[0])

static cab_event_t *
s_create (const s_type_t *type)
{
    cab_error_t error;
    cab_event_t *event = type->create (&error);
    ck_assert_msg (event != NULL, "%s: %s at %s: %s", type->file, cab_status_name (error.code),
                   error.path, error.text);
    return event;
}

//  Every field set: the constructor, every setter, and a cause.
static cab_event_t *
s_full (const s_type_t *type)
{
    cab_event_t *event = s_create (type);
    type->fill (event);
    cab_event_t *cause = s_create (&s_types[0]);
    ck_assert_int_eq (cab_event_set_cause (event, cause), CAB_OK);
    cab_event_destroy (&cause);
    return event;
}

//  ---------------------------------------------------------------------

START_TEST (test_every_schema_has_a_constructor)
{
    //  Each event type the registry loads from schemas/ is in s_types.
    cab_registry_t *registry = s_registry ();
    size_t size = cab_registry_size (registry);
    ck_assert_uint_eq (size, S_TYPES);
    for (size_t index = 0; index < size; index++) {
        const char *origin;
        ck_assert_int_eq (cab_registry_entry (registry, index, NULL, NULL, NULL, &origin), CAB_OK);
        const char *base = strrchr (origin, '/');
        base = base ? base + 1 : origin;
        bool found = false;
        for (size_t t = 0; t < S_TYPES; t++)
            found = found || strcmp (s_types[t].file, base) == 0;
        ck_assert_msg (found, "schemas/events/%s has no typed constructor in this test", base);
    }
    cab_registry_destroy (&registry);
}
END_TEST

START_TEST (test_constructors_validate)
{
    cab_registry_t *registry = s_registry ();
    for (size_t t = 0; t < S_TYPES; t++) {
        cab_event_t *event = s_create (&s_types[t]);
        s_assert_valid (registry, event);
        //  Its own id is its correlation id, and nothing caused it.
        ck_assert_str_eq (cab_event_correlation_id (event), cab_event_id (event));
        ck_assert_ptr_null (cab_event_causation_id (event));
        ck_assert_int_eq (cab_event_check (event, NULL), CAB_OK);
        cab_event_destroy (&event);

        event = s_full (&s_types[t]);
        s_assert_valid (registry, event);
        cab_event_destroy (&event);
    }
    cab_registry_destroy (&registry);
}
END_TEST

//  Check that every property a schema node declares is present in value;
//  recurse into objects and into the first item of arrays of objects.
static void
s_walk (const char *file, const char *path, const json_t *schema, const json_t *value,
        const json_t *definitions, int *count)
{
    const char *ref = json_string_value (json_object_get (schema, "$ref"));
    if (ref && strncmp (ref, "#/definitions/", 14) == 0)
        schema = json_object_get (definitions, ref + 14);
    const json_t *properties = json_object_get (schema, "properties");
    const json_t *items = json_object_get (schema, "items");
    const json_t *additional = json_object_get (schema, "additionalProperties");
    if (json_is_object (properties)) {
        const char *name;
        const json_t *property;
        json_object_foreach ((json_t *)properties, name, property)
        {
            char inner[512];
            snprintf (inner, sizeof inner, "%s/%s", path, name);
            const json_t *member = json_object_get (value, name);
            ck_assert_msg (member != NULL,
                           "%s: %s is never set: no typed setter, or the test does not call it",
                           file, inner);
            (*count)++;
            s_walk (file, inner, property, member, definitions, count);
        }
    } else if (json_is_object (additional)) {
        ck_assert_msg (json_object_size (value) > 0, "%s: no entry ever set in %s", file, path);
        (*count)++;
    }
    if (json_is_object (items)) {
        ck_assert_msg (json_array_size (value) > 0, "%s: no item ever added to %s", file, path);
        char inner[512];
        snprintf (inner, sizeof inner, "%s/0", path);
        s_walk (file, inner, items, json_array_get (value, 0), definitions, count);
    }
}

START_TEST (test_every_property_can_be_set)
{
    //  The schema files say what there is; the full events must have it all.
    int count = 0;
    for (size_t t = 0; t < S_TYPES; t++) {
        json_t *schema = s_schema_json (s_types[t].file);
        cab_event_t *event = s_full (&s_types[t]);
        json_t *detail_schema = json_object_get (json_object_get (schema, "properties"), "detail");
        json_t *detail = json_object_get (cab_event_json (event), "detail");
        s_walk (s_types[t].file, "/detail", detail_schema, detail,
                json_object_get (schema, "definitions"), &count);
        cab_event_destroy (&event);
        json_decref (schema);
    }
    //  More than the common four of each type: the walk saw the fields.
    ck_assert_int_gt (count, 7 * 4 + 50);
}
END_TEST

//  ---------------------------------------------------------------------
//  Enums: names are the schema's, in order, and round-trip.

static json_t *
s_enum_in_schema (const char *file, const char *field, const char *member)
{
    json_t *schema = s_schema_json (file);
    json_t *node = json_object_get (
        json_object_get (json_object_get (json_object_get (schema, "properties"), "detail"),
                         "properties"),
        field);
    if (member)
        node = json_object_get (json_object_get (node, "properties"), member);
    json_t *values = json_incref (json_object_get (node, "enum"));
    json_decref (schema);
    ck_assert_msg (json_is_array (values), "%s: %s has no enum", file, field);
    return values;
}

#define CHECK_ENUM(prefix, type, count, file, field, member)                                       \
    do {                                                                                           \
        json_t *values_ = s_enum_in_schema (file, field, member);                                  \
        ck_assert_uint_eq (json_array_size (values_), (size_t)(count));                            \
        for (int v_ = 0; v_ < (int)(count); v_++) {                                                \
            const char *name_ = prefix##_name ((type)v_);                                          \
            ck_assert_ptr_nonnull (name_);                                                         \
            ck_assert_str_eq (name_, json_string_value (json_array_get (values_, v_)));            \
            type parsed_ = (type)(count);                                                          \
            ck_assert_int_eq (prefix##_parse (name_, &parsed_), CAB_OK);                           \
            ck_assert_int_eq (parsed_, v_);                                                        \
        }                                                                                          \
        ck_assert_ptr_null (prefix##_name ((type)(count)));                                        \
        ck_assert_ptr_null (prefix##_name ((type)-1));                                             \
        type kept_ = (type)0;                                                                      \
        ck_assert_int_eq (prefix##_parse ("NO_SUCH_VALUE", &kept_), CAB_ERR_INVALID_ARGUMENT);     \
        ck_assert_int_eq (prefix##_parse (NULL, &kept_), CAB_ERR_INVALID_ARGUMENT);                \
        ck_assert_int_eq (kept_, 0);                                                               \
        json_decref (values_);                                                                     \
    } while (0)

START_TEST (test_enums_round_trip)
{
    CHECK_ENUM (cab_severity, cab_severity_t, CAB_SEVERITY_COUNT_, "issue-detection-1.0.json",
                "severity", NULL);
    CHECK_ENUM (cab_priority, cab_priority_t, CAB_PRIORITY_COUNT_, "feature-request-1.0.json",
                "priority", NULL);
    CHECK_ENUM (cab_feature_type, cab_feature_type_t, CAB_FEATURE_TYPE_COUNT_,
                "feature-request-1.0.json", "feature_type", NULL);
    CHECK_ENUM (cab_impact_level, cab_impact_level_t, CAB_IMPACT_LEVEL_COUNT_,
                "feature-request-1.0.json", "estimated_impact", "level");
    CHECK_ENUM (cab_change_type, cab_change_type_t, CAB_CHANGE_TYPE_COUNT_, "code-change-1.0.json",
                "change_type", NULL);
    CHECK_ENUM (cab_change_status, cab_change_status_t, CAB_CHANGE_STATUS_COUNT_,
                "code-change-1.0.json", "status", NULL);
    CHECK_ENUM (cab_test_type, cab_test_type_t, CAB_TEST_TYPE_COUNT_, "test-results-1.0.json",
                "test_type", NULL);
    CHECK_ENUM (cab_test_status, cab_test_status_t, CAB_TEST_STATUS_COUNT_, "test-results-1.0.json",
                "status", NULL);
    CHECK_ENUM (cab_lifecycle_state, cab_lifecycle_state_t, CAB_LIFECYCLE_STATE_COUNT_,
                "agent-lifecycle-1.0.json", "state", NULL);
    CHECK_ENUM (cab_budget_scope, cab_budget_scope_t, CAB_BUDGET_SCOPE_COUNT_,
                "budget-threshold-1.0.json", "scope", NULL);
    CHECK_ENUM (cab_budget_unit, cab_budget_unit_t, CAB_BUDGET_UNIT_COUNT_,
                "budget-threshold-1.0.json", "unit", NULL);
    CHECK_ENUM (cab_budget_action, cab_budget_action_t, CAB_BUDGET_ACTION_COUNT_,
                "budget-threshold-1.0.json", "action", NULL);
    CHECK_ENUM (cab_dead_letter_queue, cab_dead_letter_queue_t, CAB_DEAD_LETTER_QUEUE_COUNT_,
                "delivery-dead-lettered-1.0.json", "queue", NULL);
    CHECK_ENUM (cab_dead_letter_reason, cab_dead_letter_reason_t, CAB_DEAD_LETTER_REASON_COUNT_,
                "delivery-dead-lettered-1.0.json", "reason", NULL);

    //  Order follows the schema, so severities compare.
    ck_assert_int_lt (CAB_SEVERITY_LOW, CAB_SEVERITY_CRITICAL);
    ck_assert_str_eq (cab_severity_name (CAB_SEVERITY_CRITICAL), "CRITICAL");
    //  Names are exact: no case folding.
    cab_severity_t severity;
    ck_assert_int_eq (cab_severity_parse ("high", &severity), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_severity_parse ("HIGH", NULL), CAB_OK);
}
END_TEST

START_TEST (test_enum_readers)
{
    //  Every enum field reads back what the constructor or setter wrote.
    cab_event_t *event = s_full (&s_types[1]);
    cab_priority_t priority;
    cab_feature_type_t feature_type;
    cab_impact_level_t level;
    ck_assert_int_eq (cab_feature_request_priority (event, &priority), CAB_OK);
    ck_assert_int_eq (priority, CAB_PRIORITY_HIGH);
    ck_assert_int_eq (cab_feature_request_feature_type (event, &feature_type), CAB_OK);
    ck_assert_int_eq (feature_type, CAB_FEATURE_TYPE_RELIABILITY);
    ck_assert_int_eq (cab_feature_request_estimated_impact_level (event, &level), CAB_OK);
    ck_assert_int_eq (level, CAB_IMPACT_LEVEL_MEDIUM);
    ck_assert_int_eq (cab_feature_request_priority (event, NULL), CAB_OK);
    //  An event of another type is refused; *value_p is left alone.
    cab_severity_t severity = CAB_SEVERITY_COUNT_;
    ck_assert_int_eq (cab_issue_detection_severity (event, &severity), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (severity, CAB_SEVERITY_COUNT_);
    ck_assert_int_eq (cab_issue_detection_severity (NULL, &severity), CAB_ERR_INVALID_ARGUMENT);
    cab_event_destroy (&event);

    //  An optional field not set: NotFound.
    event = s_create (&s_types[1]);
    ck_assert_int_eq (cab_feature_request_estimated_impact_level (event, &level),
                      CAB_ERR_NOT_FOUND);
    cab_event_destroy (&event);

    event = s_full (&s_types[2]);
    cab_change_type_t change_type;
    cab_change_status_t change_status;
    ck_assert_int_eq (cab_code_change_change_type (event, &change_type), CAB_OK);
    ck_assert_int_eq (change_type, CAB_CHANGE_TYPE_BUG_FIX);
    ck_assert_int_eq (cab_code_change_status (event, &change_status), CAB_OK);
    ck_assert_int_eq (change_status, CAB_CHANGE_STATUS_APPROVED);
    cab_event_destroy (&event);

    event = s_full (&s_types[3]);
    cab_test_type_t test_type;
    cab_test_status_t test_status;
    ck_assert_int_eq (cab_test_results_test_type (event, &test_type), CAB_OK);
    ck_assert_int_eq (test_type, CAB_TEST_TYPE_UNIT);
    ck_assert_int_eq (cab_test_results_status (event, &test_status), CAB_OK);
    ck_assert_int_eq (test_status, CAB_TEST_STATUS_FAILED);
    cab_event_destroy (&event);

    event = s_full (&s_types[4]);
    cab_lifecycle_state_t state;
    ck_assert_int_eq (cab_agent_lifecycle_state (event, &state), CAB_OK);
    ck_assert_int_eq (state, CAB_LIFECYCLE_STATE_EXITED);
    cab_event_destroy (&event);

    event = s_full (&s_types[5]);
    cab_budget_scope_t scope;
    cab_budget_unit_t unit;
    cab_budget_action_t action;
    ck_assert_int_eq (cab_budget_threshold_scope (event, &scope), CAB_OK);
    ck_assert_int_eq (scope, CAB_BUDGET_SCOPE_DAILY);
    ck_assert_int_eq (cab_budget_threshold_unit (event, &unit), CAB_OK);
    ck_assert_int_eq (unit, CAB_BUDGET_UNIT_EVENTS);
    ck_assert_int_eq (cab_budget_threshold_action (event, &action), CAB_OK);
    ck_assert_int_eq (action, CAB_BUDGET_ACTION_SAMPLE);
    cab_event_destroy (&event);

    event = s_full (&s_types[6]);
    cab_dead_letter_queue_t queue;
    cab_dead_letter_reason_t reason;
    ck_assert_int_eq (cab_delivery_dead_lettered_queue (event, &queue), CAB_OK);
    ck_assert_int_eq (queue, CAB_DEAD_LETTER_QUEUE_STANDARD);
    ck_assert_int_eq (cab_delivery_dead_lettered_reason (event, &reason), CAB_OK);
    ck_assert_int_eq (reason, CAB_DEAD_LETTER_REASON_MAX_ATTEMPTS);
    cab_event_destroy (&event);

    //  A received event with a value that is not one of the names.
    static const char text[] =
        "{\"version\":\"0\",\"id\":\"0193a5b2-7c10-7001-8001-000000000001\","
        "\"detail-type\":\"Issue Detection\",\"source\":\"cabruca.agents.monitor\","
        "\"account\":\"local\",\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\","
        "\"resources\":[],\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"m\","
        "\"correlation_id\":\"0193a5b2-7c10-7001-8001-000000000001\",\"severity\":\"SEVERE\"}}";
    event = cab_event_load (text, sizeof text - 1, NULL);
    ck_assert_ptr_nonnull (event);
    ck_assert_int_eq (cab_issue_detection_severity (event, &severity), CAB_ERR_SCHEMA_VIOLATION);
    cab_event_destroy (&event);
    event = s_full (&s_types[0]);
    ck_assert_int_eq (cab_issue_detection_severity (event, &severity), CAB_OK);
    ck_assert_int_eq (severity, CAB_SEVERITY_HIGH);
    cab_event_destroy (&event);
}
END_TEST

//  ---------------------------------------------------------------------
//  Values that break the schema

START_TEST (test_constructor_refusals)
{
    cab_error_t error;
    cab_event_t *event =
        cab_issue_detection_new ("monitor-001", (cab_severity_t)42, "disk_full", "x", &error);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (error.code, CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/detail/severity");

    event = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_LOW, "Disk Full", "x", &error);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (error.code, CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/detail/issue_type");
    ck_assert_ptr_nonnull (strstr (error.text, "pattern"));

    event = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_LOW, "disk_full", "", &error);
    ck_assert_ptr_null (event);
    ck_assert_str_eq (error.path, "/detail/description");

    event = cab_issue_detection_new ("-bad agent", CAB_SEVERITY_LOW, "disk_full", "x", &error);
    ck_assert_ptr_null (event);
    ck_assert_str_eq (error.path, "/detail/agent_id");

    event = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_LOW, NULL, "x", &error);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq (error.path, "/detail/issue_type");

    event =
        cab_issue_detection_new ("monitor-001", CAB_SEVERITY_LOW, "disk_full", "\xc3\x28", &error);
    ck_assert_ptr_null (event);
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_UTF8);
    ck_assert_str_eq (error.path, "/detail/description");

    event = cab_code_change_new ("developer-001", "/repo", "main", "NOT-A-SHA",
                                 CAB_CHANGE_TYPE_FEATURE, CAB_CHANGE_STATUS_MERGED, &error);
    ck_assert_ptr_null (event);
    ck_assert_str_eq (error.path, "/detail/commit");

    event =
        cab_test_results_new ("tester-001", CAB_TEST_TYPE_UNIT, CAB_TEST_STATUS_PASSED, -1, &error);
    ck_assert_ptr_null (event);
    ck_assert_str_eq (error.path, "/detail/duration_ms");
    ck_assert_ptr_nonnull (strstr (error.text, "minimum"));

    event = cab_delivery_dead_lettered_new ("broker", "not-a-uuid", "r", "t",
                                            CAB_DEAD_LETTER_QUEUE_CRITICAL,
                                            CAB_DEAD_LETTER_REASON_MAX_AGE, 1, &error);
    ck_assert_ptr_null (event);
    ck_assert_str_eq (error.path, "/detail/event_id");

    //  A NULL error record is fine.
    ck_assert_ptr_null (cab_feature_request_new ("p", CAB_PRIORITY_COUNT_, CAB_FEATURE_TYPE_BUG_FIX,
                                                 "t", "d", NULL));
}
END_TEST

START_TEST (test_setter_refusals)
{
    cab_event_t *issue = s_issue_detection (NULL);
    REFUSED (issue, CAB_ERR_SCHEMA_VIOLATION, "/detail/affected_resources/0",
             cab_issue_detection_add_affected_resource (issue, "", E));
    REFUSED (issue, CAB_ERR_INVALID_ARGUMENT, "/detail/affected_resources/0",
             cab_issue_detection_add_affected_resource (issue, NULL, E));
    REFUSED (issue, CAB_ERR_INVALID_UTF8, "/detail/suggested_actions/0",
             cab_issue_detection_add_suggested_action (issue, "\xff", E));
    REFUSED (issue, CAB_ERR_SCHEMA_VIOLATION, "/detail/metrics/load",
             cab_issue_detection_set_metric (issue, "load", NAN, E));
    REFUSED (issue, CAB_ERR_INVALID_ARGUMENT, "/detail/metrics",
             cab_issue_detection_set_metric (issue, NULL, 1, E));
    //  Bounds: 20 suggested actions, 64 metrics; a name set again replaces.
    for (int i = 0; i < 20; i++)
        OK (cab_issue_detection_add_suggested_action (issue, "act", E));
    REFUSED (issue, CAB_ERR_SCHEMA_VIOLATION, "/detail/suggested_actions",
             cab_issue_detection_add_suggested_action (issue, "one more", E));
    for (int i = 0; i < 64; i++) {
        char name[32];
        snprintf (name, sizeof name, "m%d", i);
        OK (cab_issue_detection_set_metric (issue, name, i, E));
    }
    OK (cab_issue_detection_set_metric (issue, "m0", -1.5, E));
    REFUSED (issue, CAB_ERR_SCHEMA_VIOLATION, "/detail/metrics",
             cab_issue_detection_set_metric (issue, "m64", 1, E));
    //  A map key is escaped in the pointer (RFC 6901).
    cab_event_t *other = s_issue_detection (NULL);
    REFUSED (other, CAB_ERR_SCHEMA_VIOLATION, "/detail/metrics/a~1b~0c",
             cab_issue_detection_set_metric (other, "a/b~c", INFINITY, E));
    cab_event_destroy (&other);
    cab_event_destroy (&issue);

    cab_event_t *request = s_feature_request (NULL);
    //  A member of an object whose required members are not set yet.
    REFUSED (request, CAB_ERR_SCHEMA_VIOLATION, "/detail/estimated_impact",
             cab_feature_request_set_estimated_impact_notes (request, "n", E));
    REFUSED (request, CAB_ERR_SCHEMA_VIOLATION, "/detail/estimated_impact/level",
             cab_feature_request_set_estimated_impact (request, (cab_impact_level_t)9, E));
    OK (cab_feature_request_set_estimated_impact (request, CAB_IMPACT_LEVEL_LOW, E));
    REFUSED (request, CAB_ERR_SCHEMA_VIOLATION, "/detail/estimated_impact/effort_days",
             cab_feature_request_set_estimated_impact_effort_days (request, -2, E));
    REFUSED (request, CAB_ERR_SCHEMA_VIOLATION, "/detail/related_events/0",
             cab_feature_request_add_related_event (request, "not-a-uuid", E));
    OK (cab_feature_request_add_related_event (request, s_uuid, E));
    OK (cab_feature_request_add_related_event (request, s_uuid2, E));
    REFUSED (request, CAB_ERR_SCHEMA_VIOLATION, "/detail/related_events/2",
             cab_feature_request_add_related_event (request, s_uuid, E));
    char long_title[300];
    memset (long_title, 'x', sizeof long_title - 1);
    long_title[sizeof long_title - 1] = '\0';
    REFUSED (request, CAB_ERR_SCHEMA_VIOLATION, "/detail/business_justification",
             cab_feature_request_set_business_justification (request, "", E));
    cab_event_destroy (&request);

    cab_event_t *change = s_code_change (NULL);
    REFUSED (change, CAB_ERR_SCHEMA_VIOLATION, "/detail/title",
             cab_code_change_set_title (change, long_title, E));
    REFUSED (change, CAB_ERR_SCHEMA_VIOLATION, "/detail/test_results",
             cab_code_change_set_test_results_total (change, 3, E));
    REFUSED (change, CAB_ERR_SCHEMA_VIOLATION, "/detail/test_results/failed",
             cab_code_change_set_test_results (change, 3, -1, E));
    //  Members set before are kept when the required ones change.
    OK (cab_code_change_set_test_results (change, 3, 0, E));
    OK (cab_code_change_set_test_results_skipped (change, 2, E));
    OK (cab_code_change_set_test_results (change, 2, 1, E));
    json_t *results =
        json_object_get (json_object_get (cab_event_json (change), "detail"), "test_results");
    ck_assert_int_eq (json_integer_value (json_object_get (results, "skipped")), 2);
    ck_assert_int_eq (json_integer_value (json_object_get (results, "failed")), 1);
    cab_event_destroy (&change);

    cab_event_t *run = s_test_results (NULL);
    REFUSED (run, CAB_ERR_SCHEMA_VIOLATION, "/detail/coverage/lines",
             cab_test_results_set_coverage_lines (run, 100.5, E));
    REFUSED (run, CAB_ERR_SCHEMA_VIOLATION, "/detail/counts/total",
             cab_test_results_set_counts_total (run, -1, E));
    //  An item without its required member; optional members may be NULL.
    REFUSED (run, CAB_ERR_SCHEMA_VIOLATION, "/detail/failed_tests/0",
             cab_test_results_add_failed_test (run, NULL, "boom", NULL, E));
    OK (cab_test_results_add_failed_test (run, "test_a", NULL, NULL, E));
    REFUSED (run, CAB_ERR_SCHEMA_VIOLATION, "/detail/failed_tests/1/file",
             cab_test_results_add_failed_test (run, "test_b", NULL, "", E));
    REFUSED (run, CAB_ERR_INVALID_UTF8, "/detail/failed_tests/1/message",
             cab_test_results_add_failed_test (run, "test_b", "\xc0\xaf", NULL, E));
    REFUSED (run, CAB_ERR_SCHEMA_VIOLATION, "/detail/commit",
             cab_test_results_set_commit (run, "abc", E));
    cab_event_destroy (&run);

    cab_event_t *budget = s_budget_threshold (NULL);
    REFUSED (budget, CAB_ERR_SCHEMA_VIOLATION, "/detail/period_start",
             cab_budget_threshold_set_period_start (budget, "yesterday", E));
    REFUSED (budget, CAB_ERR_SCHEMA_VIOLATION, "/detail/action",
             cab_budget_threshold_set_action (budget, CAB_BUDGET_ACTION_COUNT_, E));
    cab_event_destroy (&budget);

    cab_event_t *life = s_agent_lifecycle (NULL);
    REFUSED (life, CAB_ERR_SCHEMA_VIOLATION, "/detail/exit_status",
             cab_agent_lifecycle_set_exit_status (life, 256, E));
    REFUSED (life, CAB_ERR_SCHEMA_VIOLATION, "/detail/pid",
             cab_agent_lifecycle_set_pid (life, 0, E));
    cab_event_destroy (&life);

    //  No event at all.
    cab_error_t error;
    ck_assert_int_eq (cab_code_change_set_title (NULL, "t", &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_code_change_set_title (NULL, "t", NULL), CAB_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST (test_setters_replace_and_change_text)
{
    cab_event_t *change = s_code_change (NULL);
    const char *text = cab_event_text (change, NULL);
    ck_assert_ptr_null (strstr (text, "\"title\""));
    OK (cab_code_change_set_title (change, "first", E));
    OK (cab_code_change_set_title (change, "second", E));
    text = cab_event_text (change, NULL);
    ck_assert_ptr_null (strstr (text, "first"));
    ck_assert_ptr_nonnull (strstr (text, "\"title\":\"second\""));
    //  Items accumulate in order.
    OK (cab_code_change_add_file_changed (change, "a.c", E));
    OK (cab_code_change_add_file_changed (change, "b.c", E));
    ck_assert_ptr_nonnull (strstr (cab_event_text (change, NULL), "[\"a.c\",\"b.c\"]"));
    //  The envelope is the right type's.
    ck_assert_str_eq (cab_event_source (change), "cabruca.agents.developer");
    ck_assert_str_eq (cab_event_detail_type (change), "Code Change");
    ck_assert_str_eq (cab_event_schema_version (change), "1.0");
    ck_assert_str_eq (cab_event_agent_id (change), "developer-001");
    cab_event_destroy (&change);
}
END_TEST

//  ---------------------------------------------------------------------
//  Correlation: A -> B -> C

START_TEST (test_causation_chain)
{
    cab_registry_t *registry = s_registry ();
    cab_event_t *issue = s_issue_detection (NULL);
    cab_event_t *request = s_feature_request (NULL);
    cab_event_t *change = s_code_change (NULL);
    cab_event_t *run = s_test_results (NULL);

    ck_assert_int_eq (cab_event_set_cause (request, issue), CAB_OK);
    ck_assert_int_eq (cab_event_set_cause (change, request), CAB_OK);
    ck_assert_int_eq (cab_event_set_cause (run, change), CAB_OK);

    //  One correlation id, the first event's id, all along the chain.
    const char *root = cab_event_id (issue);
    ck_assert_str_eq (cab_event_correlation_id (issue), root);
    ck_assert_str_eq (cab_event_correlation_id (request), root);
    ck_assert_str_eq (cab_event_correlation_id (change), root);
    ck_assert_str_eq (cab_event_correlation_id (run), root);
    //  Each link names the one before.
    ck_assert_ptr_null (cab_event_causation_id (issue));
    ck_assert_str_eq (cab_event_causation_id (request), cab_event_id (issue));
    ck_assert_str_eq (cab_event_causation_id (change), cab_event_id (request));
    ck_assert_str_eq (cab_event_causation_id (run), cab_event_id (change));
    //  The ids are distinct, and every event still validates.
    ck_assert_str_ne (cab_event_id (request), root);
    s_assert_valid (registry, request);
    s_assert_valid (registry, change);
    s_assert_valid (registry, run);
    //  The text follows.
    ck_assert_ptr_nonnull (strstr (cab_event_text (run, NULL), "\"causation_id\""));

    //  A cause loaded from text works the same (the handler's case).
    size_t length;
    const char *text = cab_event_text (change, &length);
    cab_event_t *received = cab_event_load (text, length, NULL);
    ck_assert_ptr_nonnull (received);
    cab_event_t *again = s_test_results (NULL);
    ck_assert_int_eq (cab_event_set_cause (again, received), CAB_OK);
    ck_assert_str_eq (cab_event_correlation_id (again), root);
    ck_assert_str_eq (cab_event_causation_id (again), cab_event_id (change));

    //  Refused: no event, no cause, itself.
    ck_assert_int_eq (cab_event_set_cause (NULL, issue), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_cause (again, NULL), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_cause (again, again), CAB_ERR_INVALID_ARGUMENT);

    cab_event_destroy (&again);
    cab_event_destroy (&received);
    cab_event_destroy (&run);
    cab_event_destroy (&change);
    cab_event_destroy (&request);
    cab_event_destroy (&issue);
    cab_registry_destroy (&registry);
}
END_TEST

//  ---------------------------------------------------------------------
//  Allocation failures: every allocation of building an event, failed in
//  turn (tests/unit/failmalloc.c), gives CAB_ERR_NOMEM or success, leaks
//  nothing, and leaves an event that still validates.

typedef struct {
    cab_registry_t *registry;
    cab_event_t *cause;
} s_fail_arg_t;

static cab_status_t
s_build_failing (s_fail_arg_t *arg, long fail_at, cab_error_t *error)
{
    failmalloc_arm (fail_at);
    cab_event_t *run =
        cab_test_results_new ("tester-001", CAB_TEST_TYPE_UNIT, CAB_TEST_STATUS_FAILED, 12, error);
    cab_status_t rc = run ? CAB_OK : error->code;
    if (!rc)
        rc = cab_test_results_set_commit (run, "0a1b2c3d", error);
    if (!rc)
        rc = cab_test_results_set_counts_failed (run, 1, error);
    if (!rc)
        rc = cab_test_results_add_failed_test (run, "test_a", "boom", NULL, error);
    if (!rc)
        rc = cab_test_results_add_artifact (run, "/tmp/run.log", error);
    if (!rc && (rc = cab_event_set_cause (run, arg->cause)))
        cab_error_set (error, rc, NULL, "cab_event_set_cause failed");
    cab_event_t *issue = NULL;
    if (!rc)
        issue = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_LOW, "x", "y", error);
    if (!rc && !issue)
        rc = error->code;
    if (!rc)
        rc = cab_issue_detection_set_metric (issue, "load", 1.5, error);
    failmalloc_disarm ();
    //  Whatever failed, what was built is still a valid event.
    cab_error_t check;
    if (run)
        ck_assert_msg (cab_registry_validate (arg->registry, run, &check) == CAB_OK, "%s: %s",
                       check.path, check.text);
    if (issue)
        ck_assert_msg (cab_registry_validate (arg->registry, issue, &check) == CAB_OK, "%s: %s",
                       check.path, check.text);
    cab_event_destroy (&issue);
    cab_event_destroy (&run);
    return rc;
}

START_TEST (test_allocation_failures)
{
    if (!failmalloc_active ()) {
        printf ("allocation failures: skipped (allocations not interposed here)\n");
        return;
    }
    s_fail_arg_t arg = {s_registry (), s_issue_detection (NULL)};
    cab_error_t error;
    //  Once to compile the fields' schemas (a one-time cache), once to count.
    ck_assert_int_eq (s_build_failing (&arg, 0, &error), CAB_OK);
    long live = failmalloc_live ();
    ck_assert_int_eq (s_build_failing (&arg, 0, &error), CAB_OK);
    ck_assert_int_eq (failmalloc_live (), live);
    long fail_at;
    for (fail_at = 1;; fail_at++) {
        cab_error_clear (&error);
        live = failmalloc_live ();
        cab_status_t rc = s_build_failing (&arg, fail_at, &error);
        ck_assert_msg (failmalloc_live () == live, "allocation %ld failed: %ld blocks leaked",
                       fail_at, failmalloc_live () - live);
        if (!failmalloc_failed ()) {
            ck_assert_int_eq (rc, CAB_OK);
            break;
        }
        ck_assert_msg (rc == CAB_OK || (rc == CAB_ERR_NOMEM && error.code == CAB_ERR_NOMEM),
                       "allocation %ld failed: %s (%s %s)", fail_at, cab_status_name (rc),
                       error.path, error.text);
    }
    ck_assert_int_gt (fail_at, 20);
    printf ("allocation failures: %ld allocations, each failed in turn\n", fail_at - 1);
    cab_event_destroy (&arg.cause);
    cab_registry_destroy (&arg.registry);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_events");
    TCase *tcase = tcase_create ("typed");
    tcase_add_test (tcase, test_every_schema_has_a_constructor);
    tcase_add_test (tcase, test_constructors_validate);
    tcase_add_test (tcase, test_every_property_can_be_set);
    tcase_add_test (tcase, test_enums_round_trip);
    tcase_add_test (tcase, test_enum_readers);
    tcase_add_test (tcase, test_constructor_refusals);
    tcase_add_test (tcase, test_setter_refusals);
    tcase_add_test (tcase, test_setters_replace_and_change_text);
    tcase_add_test (tcase, test_causation_chain);
    tcase_add_test (tcase, test_allocation_failures);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
