/*  =========================================================================
    test_failmalloc - every allocation of the parsers failed in turn

    For each parser call (cab_event_new_from_json and cab_event_load, the
    text written again by cab_event_text, cab_schema_new +
    cab_schema_validate, cab_pattern_new + cab_pattern_match, a rule set's
    first match, cab_registry_load_dir),
    run it once to count its allocations, then once per allocation with
    that one failing (tests/unit/failmalloc.c fails malloc, calloc,
    realloc, strdup: ours, jansson's, PCRE2's and the C library's). Each
    run must give CAB_ERR_NOMEM or succeed, free everything it allocated,
    and leave the objects it was given working. Skipped (77) where the
    interposer cannot see the allocations (valgrind, static ASan runtime).
    =========================================================================
*/
#include "failmalloc.h"
#include <cabruca.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CAB_TEST_SRCDIR
#define CAB_TEST_SRCDIR "."
#endif

//  One run of an operation: arms failmalloc with fail_at around the calls
//  under test only (not around its own set-up and clean-up), and returns
//  CAB_OK when they did all they should.
typedef cab_status_t (s_operation_fn) (void *arg, long fail_at, cab_error_t *error);

//  Run op with each allocation failing in turn; returns how many there are.
static long
s_fail_each (const char *what, s_operation_fn *op, void *arg)
{
    cab_error_t error;
    //  Once to fill one-time caches, once to count.
    ck_assert_msg (op (arg, 0, &error) == CAB_OK, "%s: %s", what, error.text);
    long live = failmalloc_live ();
    ck_assert_msg (op (arg, 0, &error) == CAB_OK, "%s: %s", what, error.text);
    ck_assert_msg (failmalloc_live () == live, "%s leaks %ld blocks", what,
                   failmalloc_live () - live);
    long recovered = 0, fail_at;
    for (fail_at = 1;; fail_at++) {
        cab_error_clear (&error);
        live = failmalloc_live ();
        cab_status_t status = op (arg, fail_at, &error);
        bool failed = failmalloc_failed ();
        ck_assert_msg (failmalloc_live () == live, "%s, allocation %ld failed: %ld blocks leaked",
                       what, fail_at, failmalloc_live () - live);
        if (!failed) {
            ck_assert_msg (status == CAB_OK, "%s: %s", what, error.text);
            break;
        }
        ck_assert_msg (status == CAB_OK || status == CAB_ERR_NOMEM,
                       "%s, allocation %ld failed: %s (%s %s)", what, fail_at,
                       cab_status_name (status), error.path, error.text);
        ck_assert_msg (status == CAB_OK || error.code == CAB_ERR_NOMEM,
                       "%s, allocation %ld failed: error not filled", what, fail_at);
        recovered += status == CAB_OK;
    }
    printf ("%s: %ld allocations, each failed in turn (%ld runs still succeeded)\n", what,
            fail_at - 1, recovered);
    return fail_at - 1;
}

static char *
s_read (const char *relative)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", CAB_TEST_SRCDIR, relative);
    FILE *file = fopen (path, "rb");
    ck_assert_msg (file != NULL, "cannot open %s", path);
    static char buffer[65536];
    size_t size = fread (buffer, 1, sizeof buffer - 1, file);
    fclose (file);
    buffer[size] = 0;
    char *text = strdup (buffer);
    ck_assert (text);
    return text;
}

//  The first line of an examples file.
static char *
s_example (const char *name)
{
    char relative[256];
    snprintf (relative, sizeof relative, "schemas/examples/%s", name);
    char *text = s_read (relative);
    char *newline = strchr (text, '\n');
    if (newline)
        *newline = 0;
    return text;
}

static void
s_setup (void)
{
    if (!failmalloc_active ()) {
        printf ("test_failmalloc: allocations do not go through the interposer "
                "(valgrind or a static sanitizer runtime): skipped\n");
        exit (77);
    }
}

//  ---------------------------------------------------------------------
//  Events

//  cab_event.c parses with cabi_json_parse and serialises with
//  cabi_json_dumps (core/src/cab_jsonscan.h), which report every allocation
//  failure; jansson's json_loadb and json_dumps dropped some of them
//  (jansson issue #362, docs/robustness.md, "Findings"). Every failure must
//  be OutOfMemory, and whatever succeeds must be the document.

static cab_status_t
s_event_from_json (void *arg, long fail_at, cab_error_t *error)
{
    json_t *document = json_loads ((const char *)arg, 0, NULL);
    ck_assert (document);
    failmalloc_arm (fail_at);
    cab_event_t *event = cab_event_new_from_json (document, error);
    failmalloc_disarm ();
    cab_status_t status = event ? CAB_OK : error->code;
    if (event) {
        //  What it serialises is the document, whatever failed on the way.
        json_t *expected = json_loads ((const char *)arg, 0, NULL);
        const char *text = cab_event_text (event, NULL);
        json_t *actual = text ? json_loads (text, 0, NULL) : NULL;
        ck_assert (json_equal (expected, actual));
        json_decref (expected);
        json_decref (actual);
    }
    cab_event_destroy (&event);
    return status;
}

static cab_status_t
s_event_load (void *arg, long fail_at, cab_error_t *error)
{
    const char *text = (const char *)arg;
    failmalloc_arm (fail_at);
    cab_event_t *event = cab_event_load (text, strlen (text), error);
    const char *again = event ? cab_event_text (event, NULL) : NULL;
    failmalloc_disarm ();
    cab_status_t status = event ? CAB_OK : error->code;
    if (event)
        ck_assert (again && strcmp (again, text) == 0);
    ck_assert (status == CAB_OK || status == CAB_ERR_NOMEM);
    if (event) {
        json_t *expected = json_loads (text, 0, NULL);
        ck_assert (json_equal (expected, cab_event_json (event)));
        json_decref (expected);
    }
    cab_event_destroy (&event);
    return status;
}

//  The text written again after a change (cabi_json_dumps, our writer).
static cab_status_t
s_event_text (void *arg, long fail_at, cab_error_t *error)
{
    const char *text = (const char *)arg;
    cab_event_t *event = cab_event_load (text, strlen (text), error);
    ck_assert (event);
    ck_assert (cab_event_detail (event));  //  A change may follow: the text is dropped
    failmalloc_arm (fail_at);
    const char *written = cab_event_text (event, NULL);
    failmalloc_disarm ();
    cab_status_t status = written ? CAB_OK : CAB_ERR_NOMEM;
    if (!written) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "cab_event_text: out of memory");
        written = cab_event_text (event, NULL);  //  The event still works
    }
    json_t *expected = json_loads (text, 0, NULL), *actual = json_loads (written, 0, NULL);
    ck_assert (expected && json_equal (expected, actual));
    json_decref (expected);
    json_decref (actual);
    cab_event_destroy (&event);
    return status;
}

START_TEST (test_event)
{
    const char *names[] = {"issue-detection.valid.json", "test-results.valid.json"};
    for (size_t index = 0; index < 2; index++) {
        char *text = s_example (names[index]);
        char what[128];
        snprintf (what, sizeof what, "cab_event_new_from_json (%s)", names[index]);
        ck_assert (s_fail_each (what, s_event_from_json, text) > 0);
        snprintf (what, sizeof what, "cab_event_load (%s)", names[index]);
        ck_assert (s_fail_each (what, s_event_load, text) > 0);
        snprintf (what, sizeof what, "cab_event_text after a change (%s)", names[index]);
        ck_assert (s_fail_each (what, s_event_text, text) > 0);
        free (text);
    }
}
END_TEST

//  ---------------------------------------------------------------------
//  Schemas

typedef struct {
    json_t *schema, *valid, *invalid;
} s_schema_case_t;

static cab_status_t
s_schema_run (void *arg, long fail_at, cab_error_t *error)
{
    s_schema_case_t *test = (s_schema_case_t *)arg;
    failmalloc_arm (fail_at);
    cab_schema_t *schema = cab_schema_new (test->schema, error);
    cab_status_t status = schema ? CAB_OK : error->code;
    if (schema)
        status = cab_schema_validate (schema, test->valid, error);
    bool violated = false;
    if (status == CAB_OK) {
        status = cab_schema_validate (schema, test->invalid, error);
        violated = status == CAB_ERR_SCHEMA_VIOLATION;
        if (violated)
            status = CAB_OK;
    }
    failmalloc_disarm ();
    //  (No ck_assert while armed: Check allocates for its checkpoints.)
    ck_assert (status != CAB_OK || violated);
    cab_schema_destroy (&schema);
    return status;
}

static void
s_schema_case (const char *what, const char *schema, const char *valid, const char *invalid)
{
    s_schema_case_t test;
    test.schema = json_loads (schema, JSON_DECODE_ANY, NULL);
    test.valid = json_loads (valid, JSON_DECODE_ANY, NULL);
    test.invalid = json_loads (invalid, JSON_DECODE_ANY, NULL);
    ck_assert (test.schema && test.valid && test.invalid);
    ck_assert (s_fail_each (what, s_schema_run, &test) > 0);
    json_decref (test.schema);
    json_decref (test.valid);
    json_decref (test.invalid);
}

START_TEST (test_schema)
{
    char *schema = s_read ("schemas/events/issue-detection-1.0.json");
    char *valid = s_example ("issue-detection.valid.json");
    char *invalid = s_example ("issue-detection.invalid.json");
    s_schema_case ("cab_schema issue-detection-1.0", schema, valid, invalid);
    //  The built-in draft-07 metaschema, validating a schema.
    s_schema_case ("cab_schema draft-07 metaschema",
                   "{\"$ref\": \"http://json-schema.org/draft-07/schema#\"}", schema,
                   "{\"type\": 5, \"properties\": []}");
    free (schema);
    free (valid);
    free (invalid);
    //  Regular expressions (PCRE2 allocates through its own context) and formats.
    s_schema_case ("cab_schema patterns and formats",
                   "{\"type\": \"object\", \"properties\": {"
                   "\"a\": {\"type\": \"string\", \"pattern\": \"^[a-z]+\\\\d*$\"},"
                   "\"b\": {\"format\": \"regex\"}, \"c\": {\"format\": \"date-time\"},"
                   "\"d\": {\"format\": \"email\"}, \"e\": {\"uniqueItems\": true}},"
                   "\"patternProperties\": {\"^x-\": {\"type\": \"integer\"}},"
                   "\"definitions\": {\"n\": {\"$id\": \"#n\", \"minimum\": 0}},"
                   "\"required\": [\"a\"], \"additionalProperties\": {\"$ref\": \"#n\"}}",
                   "{\"a\": \"abc1\", \"x-1\": 3, \"b\": \"^a+$\", \"c\": \"2026-11-22T10:00:00Z\","
                   "\"d\": \"a@example.com\", \"e\": [1, [2], {\"f\": 3}], \"z\": 4}",
                   "{\"a\": \"ABC\", \"x-1\": \"no\", \"b\": \"(\", \"z\": -1}");
}
END_TEST

//  ---------------------------------------------------------------------
//  Patterns

typedef struct {
    const char *pattern;
    const char *event;
    bool expected;
} s_pattern_case_t;

static cab_status_t
s_pattern_run (void *arg, long fail_at, cab_error_t *error)
{
    s_pattern_case_t *test = (s_pattern_case_t *)arg;
    failmalloc_arm (fail_at);
    cab_pattern_t *pattern = cab_pattern_new (test->pattern, strlen (test->pattern), error);
    cab_status_t status = pattern ? CAB_OK : error->code;
    bool matched = false;
    if (pattern)
        status = cab_pattern_match (pattern, test->event, strlen (test->event), &matched, error);
    failmalloc_disarm ();
    if (status == CAB_OK)
        ck_assert (matched == test->expected);
    //  A match that ran out of memory leaves the pattern working.
    if (pattern && status != CAB_OK) {
        cab_error_t again;
        ck_assert (cab_pattern_match (pattern, test->event, strlen (test->event), &matched,
                                      &again) == CAB_OK);
        ck_assert (matched == test->expected);
    }
    cab_pattern_destroy (&pattern);
    return status;
}

static cab_status_t
s_ruleset_run (void *arg, long fail_at, cab_error_t *error)
{
    s_pattern_case_t *tests = (s_pattern_case_t *)arg;
    failmalloc_arm (fail_at);
    cab_ruleset_t *set = cab_ruleset_new ();
    cab_status_t status = set ? CAB_OK : CAB_ERR_NOMEM;
    if (!set)
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    char id[32];
    for (size_t index = 0; status == CAB_OK && tests[index].pattern; index++) {
        snprintf (id, sizeof id, "rule-%zu", index);
        status =
            cab_ruleset_add (set, id, tests[index].pattern, strlen (tests[index].pattern), error);
    }
    size_t matches[16], count = 0;
    if (status == CAB_OK)
        status = cab_ruleset_match (set, tests[0].event, strlen (tests[0].event), matches, 16,
                                    &count, error);
    failmalloc_disarm ();
    //  A first match that ran out of memory (it compiles the index) leaves
    //  the set working; so does a failed add.
    if (set && status != CAB_OK) {
        cab_error_t again;
        ck_assert (cab_ruleset_match (set, tests[0].event, strlen (tests[0].event), matches, 16,
                                      &count, &again) == CAB_OK);
    }
    cab_ruleset_destroy (&set);
    return status;
}

START_TEST (test_pattern)
{
    char *event = s_example ("issue-detection.valid.json");
    s_pattern_case_t tests[] = {
        {"{\"source\": [\"cabruca.agents.monitor\"], \"detail\": {\"severity\": [\"HIGH\", "
         "\"CRITICAL\"]}}",
         event, true},
        {"{\"detail\": {\"metrics\": {\"disk_used_percent\": [{\"numeric\": [\">\", 90, \"<=\", "
         "100]}]}, \"issue_type\": [{\"prefix\": \"disk\"}, {\"suffix\": \"_full\"}]}}",
         event, true},
        {"{\"$or\": [{\"detail\": {\"severity\": [{\"anything-but\": [\"LOW\"]}]}}, "
         "{\"region\": [{\"equals-ignore-case\": \"SA-EAST-1\"}]}], \"resources\": "
         "[{\"wildcard\": \"arn:aws:ec2:*:instance/*\"}], \"account\": [{\"exists\": true}]}",
         event, true},
        {"{\"detail\": {\"affected_resources\": [\"host:web-2\"], \"nothing\": [{\"exists\": "
         "false}]}}",
         event, false},
        {NULL, NULL, false},
    };
    char what[64];
    for (size_t index = 0; tests[index].pattern; index++) {
        snprintf (what, sizeof what, "cab_pattern %zu", index);
        ck_assert (s_fail_each (what, s_pattern_run, &tests[index]) > 0);
    }
    ck_assert (s_fail_each ("cab_ruleset of 4 rules", s_ruleset_run, tests) > 0);
    free (event);
}
END_TEST

//  ---------------------------------------------------------------------
//  The registry

typedef struct {
    char dir[256];
    json_t *event;
} s_registry_case_t;

static cab_status_t
s_registry_run (void *arg, long fail_at, cab_error_t *error)
{
    s_registry_case_t *test = (s_registry_case_t *)arg;
    failmalloc_arm (fail_at);
    cab_registry_t *registry = cab_registry_new ();
    cab_status_t status = registry ? CAB_OK : CAB_ERR_NOMEM;
    if (!registry)
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    else
        status = cab_registry_load_dir (registry, test->dir, error);
    bool loaded = status == CAB_OK;
    if (status == CAB_OK)
        status = cab_registry_validate_json (registry, test->event, error);
    failmalloc_disarm ();
    //  A load that failed leaves the registry as it was: empty.
    if (registry)
        ck_assert (cab_registry_size (registry) == (loaded ? 2u : 0u));
    cab_registry_destroy (&registry);
    return status;
}

static void
s_write (const char *dir, const char *name, const char *relative)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    char *text = s_read (relative);
    FILE *file = fopen (path, "wb");
    ck_assert (file);
    ck_assert (fwrite (text, 1, strlen (text), file) == strlen (text));
    ck_assert (fclose (file) == 0);
    free (text);
}

START_TEST (test_registry)
{
    s_registry_case_t test;
    snprintf (test.dir, sizeof test.dir, "%s/cab-failmalloc-XXXXXX",
              getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
    ck_assert (mkdtemp (test.dir));
    char events[300];
    snprintf (events, sizeof events, "%s/events", test.dir);
    ck_assert (mkdir (events, 0700) == 0);
    s_write (test.dir, "envelope.json", "schemas/envelope.json");
    s_write (events, "issue-detection-1.0.json", "schemas/events/issue-detection-1.0.json");
    s_write (events, "test-results-1.0.json", "schemas/events/test-results-1.0.json");
    char *text = s_example ("issue-detection.valid.json");
    test.event = json_loads (text, 0, NULL);
    free (text);
    ck_assert (test.event);
    ck_assert (s_fail_each ("cab_registry_load_dir", s_registry_run, &test) > 0);
    json_decref (test.event);
    char path[600];
    snprintf (path, sizeof path, "%s/issue-detection-1.0.json", events);
    unlink (path);
    snprintf (path, sizeof path, "%s/test-results-1.0.json", events);
    unlink (path);
    rmdir (events);
    snprintf (path, sizeof path, "%s/envelope.json", test.dir);
    unlink (path);
    rmdir (test.dir);
}
END_TEST

int
main (void)
{
    s_setup ();
    Suite *suite = suite_create ("failmalloc");
    TCase *parsers = tcase_create ("parsers");
    tcase_set_timeout (parsers, 600);
    tcase_add_test (parsers, test_event);
    tcase_add_test (parsers, test_schema);
    tcase_add_test (parsers, test_pattern);
    tcase_add_test (parsers, test_registry);
    suite_add_tcase (suite, parsers);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
