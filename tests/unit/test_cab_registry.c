/*  =========================================================================
    test_cab_registry - the schema registry: loading schemas/, versions side
    by side, unknown types, validation of events in three layers (envelope,
    envelope schema, type schema), and a failed load leaving no trace
    =========================================================================
*/
#include <cabruca.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
s_loaded (void)
{
    cab_registry_t *registry = cab_registry_new ();
    ck_assert_ptr_nonnull (registry);
    cab_error_t error;
    ck_assert_msg (cab_registry_load_dir (registry, s_schema_dir (), &error) == CAB_OK, "%s: %s",
                   cab_status_name (error.code), error.text);
    return registry;
}

//  An Issue Detection event with a given severity.
static cab_event_t *
s_issue (const char *severity)
{
    cab_event_t *event = cab_event_new ("cabruca.agents.monitor", "Issue Detection", NULL);
    ck_assert_ptr_nonnull (event);
    ck_assert_int_eq (cab_event_set_agent_id (event, "monitor-001"), CAB_OK);
    ck_assert_int_eq (cab_event_set_region (event, "sa-east-1"), CAB_OK);
    ck_assert_int_eq (cab_event_update_detail_new (
                          event, json_pack ("{s:s, s:s, s:s, s:{s:f}}", "severity", severity,
                                            "issue_type", "disk_full", "description", "/var full",
                                            "metrics", "disk_used_percent", 97.5)),
                      CAB_OK);
    return event;
}

//  A type schema document for (source, detail-type, version).
static json_t *
s_type_schema (const char *source, const char *detail_type, const char *version)
{
    return json_pack ("{s:s, s:{s:{s:[s]}, s:{s:[s]}, s:{s:{s:{s:[s]}, s:{s:s}}}}}", "type",
                      "object", "properties", "source", "enum", source, "detail-type", "enum",
                      detail_type, "detail", "properties", "schema_version", "enum", version,
                      "level", "type", "integer");
}

START_TEST (test_load_schemas)
{
    cab_registry_t *registry = s_loaded ();
    //  The four agent types, the broker's two and the supervisor's one.
    ck_assert_uint_eq (cab_registry_size (registry), 7);
    const char *source, *detail_type, *version, *origin;
    ck_assert_int_eq (cab_registry_entry (registry, 0, &source, &detail_type, &version, &origin),
                      CAB_OK);
    //  Sorted by source, then detail-type.
    ck_assert_str_eq (source, "cabruca.agents.developer");
    ck_assert_str_eq (detail_type, "Code Change");
    ck_assert_str_eq (version, "1.0");
    ck_assert_ptr_nonnull (strstr (origin, "events/code-change-1.0.json"));
    ck_assert_int_eq (cab_registry_entry (registry, 6, &source, &detail_type, NULL, NULL), CAB_OK);
    ck_assert_str_eq (source, "cabruca.supervisor");
    ck_assert_str_eq (detail_type, "Agent Lifecycle");
    ck_assert_int_eq (cab_registry_entry (registry, 7, NULL, NULL, NULL, NULL), CAB_ERR_NOT_FOUND);

    cab_error_t error;
    ck_assert_ptr_nonnull (
        cab_registry_lookup (registry, "cabruca.broker", "Budget Threshold", "1.0", &error));
    ck_assert_ptr_nonnull (
        cab_registry_lookup (registry, "cabruca.agents.tester", "Test Results", "1.0", &error));
    cab_registry_destroy (&registry);
    ck_assert_ptr_null (registry);
    cab_registry_destroy (&registry);
    cab_registry_destroy (NULL);
}
END_TEST

START_TEST (test_validate_events)
{
    cab_registry_t *registry = s_loaded ();
    cab_error_t error;
    cab_event_t *event = s_issue ("HIGH");
    ck_assert_msg (cab_registry_validate (registry, event, &error) == CAB_OK, "%s: %s", error.path,
                   error.text);
    cab_event_destroy (&event);

    //  A type-specific field: the type's schema speaks.
    event = s_issue ("SEVERE");
    ck_assert_int_eq (cab_registry_validate (registry, event, &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/detail/severity");
    ck_assert_ptr_nonnull (strstr (error.text, "LOW, MEDIUM, HIGH, CRITICAL"));
    cab_event_destroy (&event);

    //  An envelope field: the C check speaks first, with the field's pointer.
    json_t *document = json_deep_copy (cab_event_json (event = s_issue ("LOW")));
    json_object_set_new (document, "time", json_string ("yesterday"));
    ck_assert_int_eq (cab_registry_validate_json (registry, document, &error),
                      CAB_ERR_INVALID_ENVELOPE);
    ck_assert_str_eq (error.path, "/time");
    json_decref (document);

    //  What only the envelope schema knows: no extra top-level fields, the
    //  region's shape. Still reported as an envelope error.
    document = json_deep_copy (cab_event_json (event));
    json_object_set_new (document, "extra", json_true ());
    ck_assert_int_eq (cab_registry_validate_json (registry, document, &error),
                      CAB_ERR_INVALID_ENVELOPE);
    json_object_del (document, "extra");
    json_object_set_new (document, "region", json_string ("Mars"));
    ck_assert_int_eq (cab_registry_validate_json (registry, document, &error),
                      CAB_ERR_INVALID_ENVELOPE);
    ck_assert_str_eq (error.path, "/region");
    json_object_set_new (document, "source", json_string ("aws.ec2"));
    json_object_set_new (document, "region", json_string ("sa-east-1"));
    ck_assert_int_eq (cab_registry_validate_json (registry, document, &error),
                      CAB_ERR_INVALID_ENVELOPE);
    ck_assert_str_eq (error.path, "/source");
    json_decref (document);
    cab_event_destroy (&event);

    ck_assert_int_eq (cab_registry_validate (registry, NULL, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_registry_validate_json (registry, NULL, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    cab_registry_destroy (&registry);
}
END_TEST

START_TEST (test_unknown_types)
{
    cab_registry_t *registry = s_loaded ();
    cab_error_t error;
    ck_assert_ptr_null (
        cab_registry_lookup (registry, "cabruca.agents.chef", "Dinner", "1.0", &error));
    ck_assert_int_eq (error.code, CAB_ERR_UNKNOWN_EVENT_TYPE);
    ck_assert_str_eq (error.path, "/source");
    ck_assert_ptr_nonnull (strstr (error.text, "cabruca.agents.chef"));

    ck_assert_ptr_null (cab_registry_lookup (registry, "cabruca.broker", "Coffee", "1.0", &error));
    ck_assert_str_eq (error.path, "/detail-type");
    ck_assert_str_eq (error.text, "source cabruca.broker has no detail-type Coffee (known: Budget "
                                  "Threshold, Delivery Dead-Lettered)");

    ck_assert_ptr_null (
        cab_registry_lookup (registry, "cabruca.agents.monitor", "Issue Detection", "9.9", &error));
    ck_assert_str_eq (error.path, "/detail/schema_version");
    ck_assert_str_eq (error.text,
                      "cabruca.agents.monitor / Issue Detection has no schema_version 9.9 "
                      "(known: 1.0)");

    //  Through validate: a well-formed event of an unknown type.
    cab_event_t *event = s_issue ("LOW");
    cab_event_set_schema_version (event, "2.0");
    ck_assert_int_eq (cab_registry_validate (registry, event, &error), CAB_ERR_UNKNOWN_EVENT_TYPE);
    ck_assert_str_eq (error.path, "/detail/schema_version");
    cab_event_destroy (&event);
    cab_registry_destroy (&registry);
}
END_TEST

START_TEST (test_versions_side_by_side)
{
    cab_registry_t *registry = s_loaded ();
    cab_error_t error;
    //  Version 2.0 of Issue Detection: only a `level` integer is typed.
    json_t *schema = s_type_schema ("cabruca.agents.monitor", "Issue Detection", "2.0");
    ck_assert_int_eq (cab_registry_add (registry, schema, "issue-detection-2.0.json", &error),
                      CAB_OK);
    ck_assert_uint_eq (cab_registry_size (registry), 8);
    const char *version, *origin;
    cab_registry_entry (registry, 2, NULL, NULL, &version, &origin);
    ck_assert_str_eq (version, "2.0");
    ck_assert_str_eq (origin, "issue-detection-2.0.json");

    //  Same type again: refused, naming the first definition.
    ck_assert_int_eq (cab_registry_add (registry, schema, "again.json", &error),
                      CAB_ERR_INVALID_SCHEMA);
    ck_assert_ptr_nonnull (strstr (error.text, "already defined by issue-detection-2.0.json"));
    json_decref (schema);

    //  Each event is checked by its own version's schema.
    cab_event_t *event = s_issue ("SEVERE");
    cab_event_set_schema_version (event, "2.0");
    ck_assert_int_eq (cab_registry_validate (registry, event, &error), CAB_OK);
    json_object_set_new (cab_event_detail (event), "level", json_string ("high"));
    ck_assert_int_eq (cab_registry_validate (registry, event, &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/detail/level");
    cab_event_set_schema_version (event, "1.0");
    ck_assert_int_eq (cab_registry_validate (registry, event, &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/detail/severity");
    cab_event_destroy (&event);

    //  Loading the same directory twice would define every type twice.
    ck_assert_int_eq (cab_registry_load_dir (registry, s_schema_dir (), &error),
                      CAB_ERR_INVALID_SCHEMA);
    ck_assert_uint_eq (cab_registry_size (registry), 8);
    cab_registry_destroy (&registry);
}
END_TEST

START_TEST (test_bad_schemas)
{
    cab_registry_t *registry = cab_registry_new ();
    cab_error_t error;
    //  A schema must name its type with one-valued enums.
    json_t *schema = s_type_schema ("a", "b", "1.0");
    json_array_append_new (
        json_object_get (json_object_get (json_object_get (schema, "properties"), "source"),
                         "enum"),
        json_string ("c"));
    ck_assert_int_eq (cab_registry_add (registry, schema, "two-sources.json", &error),
                      CAB_ERR_INVALID_SCHEMA);
    ck_assert_ptr_nonnull (strstr (error.text, "two-sources.json: does not name its type"));
    json_decref (schema);
    schema = json_pack ("{s:s}", "type", "object");
    ck_assert_int_eq (cab_registry_add (registry, schema, NULL, &error), CAB_ERR_INVALID_SCHEMA);
    json_decref (schema);
    //  It must compile.
    schema = s_type_schema ("a", "b", "1.0");
    json_object_set_new (schema, "minLength", json_string ("three"));
    ck_assert_int_eq (cab_registry_add (registry, schema, "bad.json", &error),
                      CAB_ERR_INVALID_SCHEMA);
    ck_assert_ptr_nonnull (strstr (error.text, "bad.json: "));
    json_decref (schema);
    ck_assert_uint_eq (cab_registry_size (registry), 0);
    ck_assert_int_eq (cab_registry_add (registry, NULL, NULL, &error), CAB_ERR_INVALID_ARGUMENT);
    cab_registry_destroy (&registry);
}
END_TEST

//  Write text to dir/name.
static void
s_write (const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fputs (text, file);
    fclose (file);
}

START_TEST (test_load_dir_all_or_nothing)
{
    char dir[] = "/tmp/cab-registry-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));
    char events[1100];
    snprintf (events, sizeof events, "%s/events", dir);

    cab_registry_t *registry = cab_registry_new ();
    cab_error_t error;
    //  No envelope.json: an I/O error naming the file.
    ck_assert_int_eq (cab_registry_load_dir (registry, dir, &error), CAB_ERR_IO);
    ck_assert_ptr_nonnull (strstr (error.text, "envelope.json"));
    s_write (dir, "envelope.json", "{\"type\": \"object\"}");
    //  No events/ directory.
    ck_assert_int_eq (cab_registry_load_dir (registry, dir, &error), CAB_ERR_IO);
    ck_assert_int_eq (mkdir (events, 0700), 0);
    //  A good type and a file that is not JSON: nothing is loaded.
    s_write (
        events, "a-1.0.json",
        "{\"properties\": {\"source\": {\"enum\": [\"s\"]}, \"detail-type\": {\"enum\": "
        "[\"a\"]}, \"detail\": {\"properties\": {\"schema_version\": {\"enum\": [\"1.0\"]}}}}}");
    s_write (events, "b-1.0.json", "{\"properties\": ");
    ck_assert_int_eq (cab_registry_load_dir (registry, dir, &error), CAB_ERR_INVALID_JSON);
    ck_assert_ptr_nonnull (strstr (error.text, "b-1.0.json:1:"));
    ck_assert_uint_eq (cab_registry_size (registry), 0);
    //  Two files defining one type.
    s_write (
        events, "b-1.0.json",
        "{\"properties\": {\"source\": {\"enum\": [\"s\"]}, \"detail-type\": {\"enum\": "
        "[\"a\"]}, \"detail\": {\"properties\": {\"schema_version\": {\"enum\": [\"1.0\"]}}}}}");
    ck_assert_int_eq (cab_registry_load_dir (registry, dir, &error), CAB_ERR_INVALID_SCHEMA);
    ck_assert_ptr_nonnull (strstr (error.text, "already defined by"));
    ck_assert_uint_eq (cab_registry_size (registry), 0);
    //  Fixed: both load. Files not ending in .json are ignored.
    s_write (
        events, "b-1.0.json",
        "{\"properties\": {\"source\": {\"enum\": [\"s\"]}, \"detail-type\": {\"enum\": "
        "[\"b\"]}, \"detail\": {\"properties\": {\"schema_version\": {\"enum\": [\"1.0\"]}}}}}");
    s_write (events, "README", "not a schema");
    ck_assert_int_eq (cab_registry_load_dir (registry, dir, &error), CAB_OK);
    ck_assert_uint_eq (cab_registry_size (registry), 2);
    //  An unreadable file: refused, and the registry keeps what it had.
    s_write (events, "c-1.0.json", "{}");
    char unreadable[1200];
    snprintf (unreadable, sizeof unreadable, "%s/c-1.0.json", events);
    ck_assert_int_eq (chmod (unreadable, 0), 0);
    if (access (unreadable, R_OK) != 0) {  //  Not when running as root
        ck_assert_int_eq (cab_registry_load_dir (registry, dir, &error), CAB_ERR_IO);
        ck_assert_uint_eq (cab_registry_size (registry), 2);
    }
    unlink (unreadable);
    //  A directory where a file should be: the same, even for root.
    ck_assert_int_eq (mkdir (unreadable, 0700), 0);
    ck_assert_int_eq (cab_registry_load_dir (registry, dir, &error), CAB_ERR_IO);
    ck_assert_ptr_nonnull (strstr (error.text, "not a regular file"));
    ck_assert_uint_eq (cab_registry_size (registry), 2);
    rmdir (unreadable);
    cab_registry_destroy (&registry);

    //  Clean up.
    static const char *const files[] = {"events/a-1.0.json", "events/b-1.0.json",
                                        "events/c-1.0.json", "events/README", "envelope.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1200];
        snprintf (path, sizeof path, "%s/%s", dir, files[i]);
        unlink (path);
    }
    rmdir (events);
    rmdir (dir);
}
END_TEST

START_TEST (test_examples)
{
    //  Every line of schemas/examples/<type>.valid.json is valid; every line
    //  of <type>.invalid.json is invalid.
    cab_registry_t *registry = s_loaded ();
    static const char *const slugs[] = {
        "issue-detection",  "feature-request",        "code-change",    "test-results",
        "budget-threshold", "delivery-dead-lettered", "agent-lifecycle"};
    for (size_t i = 0; i < sizeof slugs / sizeof slugs[0]; i++)
        for (int valid = 0; valid < 2; valid++) {
            char path[1200];
            snprintf (path, sizeof path, "%s/examples/%s.%s.json", s_schema_dir (), slugs[i],
                      valid ? "valid" : "invalid");
            FILE *file = fopen (path, "r");
            ck_assert_msg (file != NULL, "cannot open %s", path);
            char line[8192];
            int count = 0;
            while (fgets (line, sizeof line, file)) {
                cab_error_t error;
                cab_event_t *event = cab_event_load (line, strlen (line), &error);
                ck_assert_msg (event != NULL, "%s: %s", path, error.text);
                cab_status_t rc = cab_registry_validate (registry, event, &error);
                ck_assert_msg ((rc == CAB_OK) == (valid == 1), "%s line %d: %s: %s", path,
                               count + 1, error.path, error.text);
                cab_event_destroy (&event);
                count++;
            }
            fclose (file);
            ck_assert_int_gt (count, 0);
        }
    cab_registry_destroy (&registry);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_registry");
    TCase *tcase = tcase_create ("registry");
    tcase_add_test (tcase, test_load_schemas);
    tcase_add_test (tcase, test_validate_events);
    tcase_add_test (tcase, test_unknown_types);
    tcase_add_test (tcase, test_versions_side_by_side);
    tcase_add_test (tcase, test_bad_schemas);
    tcase_add_test (tcase, test_load_dir_all_or_nothing);
    tcase_add_test (tcase, test_examples);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
