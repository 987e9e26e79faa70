/*  =========================================================================
    test_transform_conformance - run the cases of tests/conformance/transform
    (one JSON file per case) through cab_transform, one Check test per file.

    A case: {"description", "input_transformer", "event" (an object; or
    "event_text", the exact text), "rule_name" (default "example"),
    "ingestion_ms" (default 1447277394000), and either "expect" (the
    output text) or "expect_error" (a status name, e.g. "InvalidConfig")
    with an optional "expect_path" (the JSON Pointer into the transformer)}.
    =========================================================================
*/
#include "cab_transform.h"
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CASES_MAX 1000

static char s_dir[1024];
static char *s_files[S_CASES_MAX];
static int s_count;

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

static void
s_list (void)
{
    const char *srcdir = getenv ("CAB_SRCDIR");
    snprintf (s_dir, sizeof s_dir, "%s/tests/conformance/transform", srcdir ? srcdir : ".");
    DIR *dir = opendir (s_dir);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir)) && s_count < S_CASES_MAX) {
        size_t length = strlen (entry->d_name);
        if (length > 5 && strcmp (entry->d_name + length - 5, ".json") == 0)
            s_files[s_count++] = strdup (entry->d_name);
    }
    closedir (dir);
    qsort (s_files, (size_t)s_count, sizeof *s_files, s_compare);
}

START_TEST (test_case)
{
    char path[2048];
    snprintf (path, sizeof path, "%s/%s", s_dir, s_files[_i]);
    json_error_t jerror;
    json_t *c = json_load_file (path, JSON_REJECT_DUPLICATES, &jerror);
    ck_assert_msg (json_is_object (c), "%s: %s", s_files[_i], jerror.text);
    ck_assert_msg (json_is_string (json_object_get (c, "description")), "%s: no description",
                   s_files[_i]);

    cab_error_t error;
    cab_error_clear (&error);
    cab_transform_t *transform =
        cab_transform_new (json_object_get (c, "input_transformer"), &error);
    const char *expect_error = json_string_value (json_object_get (c, "expect_error"));
    if (expect_error) {
        ck_assert_msg (transform == NULL, "%s: expected %s, transformer compiled", s_files[_i],
                       expect_error);
        ck_assert_msg (strcmp (cab_status_name (error.code), expect_error) == 0,
                       "%s: expected %s, got %s (%s)", s_files[_i], expect_error,
                       cab_status_name (error.code), error.text);
        const char *expect_path = json_string_value (json_object_get (c, "expect_path"));
        if (expect_path)
            ck_assert_msg (strcmp (error.path, expect_path) == 0, "%s: path %s, expected %s",
                           s_files[_i], error.path, expect_path);
        ck_assert_msg (error.text[0], "%s: no error text", s_files[_i]);
        json_decref (c);
        return;
    }
    ck_assert_msg (transform != NULL, "%s: %s: %s", s_files[_i], error.path, error.text);

    char *event;
    json_t *text = json_object_get (c, "event_text");
    if (text)
        event = strdup (json_string_value (text));
    else
        event = json_dumps (json_object_get (c, "event"), JSON_COMPACT);
    ck_assert_ptr_nonnull (event);
    const char *rule = json_string_value (json_object_get (c, "rule_name"));
    json_t *when = json_object_get (c, "ingestion_ms");
    int64_t ingestion_ms = when ? (int64_t)json_integer_value (when) : 1447277394000;

    char *out = NULL;
    size_t size = 0;
    cab_status_t rc =
        cab_transform_apply (transform, event, strlen (event), rule ? rule : "example",
                             ingestion_ms, &out, &size, &error);
    ck_assert_msg (rc == CAB_OK, "%s: %s", s_files[_i], error.text);
    const char *expect = json_string_value (json_object_get (c, "expect"));
    ck_assert_msg (expect != NULL, "%s: no expect", s_files[_i]);
    ck_assert_msg (size == strlen (out), "%s: size %zu", s_files[_i], size);
    ck_assert_msg (strcmp (out, expect) == 0, "%s:\n  got      %s\n  expected %s", s_files[_i], out,
                   expect);
    free (out);
    free (event);
    cab_transform_destroy (&transform);
    ck_assert_ptr_null (transform);
    json_decref (c);
}
END_TEST

START_TEST (test_enough_cases)
{
    ck_assert_msg (s_count >= 40, "only %d cases in %s", s_count, s_dir);
}
END_TEST

int
main (void)
{
    s_list ();
    Suite *suite = suite_create ("transform conformance");
    TCase *tc = tcase_create ("cases");
    tcase_add_test (tc, test_enough_cases);
    if (s_count)
        tcase_add_loop_test (tc, test_case, 0, s_count);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    for (int i = 0; i < s_count; i++)
        free (s_files[i]);
    return failed ? 1 : 0;
}
