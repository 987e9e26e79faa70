/*  =========================================================================
    test_cab_transform - input transformers through the API: lifecycle,
    events that are not JSON, size limits, numbers and times. The
    EventBridge semantics themselves are the data cases of
    tests/conformance/transform (test_transform_conformance).
    =========================================================================
*/
#include "cab_transform.h"
#include "failmalloc.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

static cab_transform_t *
s_new (const char *paths, const char *template_text)
{
    json_t *spec = json_object ();
    if (paths)
        json_object_set_new (spec, "input_paths_map", json_loads (paths, 0, NULL));
    json_object_set_new (spec, "input_template", json_string (template_text));
    cab_error_t error;
    cab_transform_t *transform = cab_transform_new (spec, &error);
    json_decref (spec);
    ck_assert_msg (transform != NULL, "%s: %s", error.path, error.text);
    return transform;
}

static char *
s_apply (cab_transform_t *transform, const char *event, cab_status_t expect)
{
    char *out = NULL;
    size_t size = 0;
    cab_error_t error;
    cab_status_t rc =
        cab_transform_apply (transform, event, strlen (event), "r", 0, &out, &size, &error);
    ck_assert_msg (rc == expect, "got %s: %s", cab_status_name (rc), rc ? error.text : out);
    if (rc == CAB_OK)
        ck_assert_uint_eq (size, strlen (out));
    else
        ck_assert_ptr_null (out);
    return out;
}

START_TEST (test_lifecycle)
{
    cab_transform_t *transform = s_new ("{\"s\": \"$.detail.state\"}", "\"<s>\"");
    char *out = s_apply (transform, "{\"detail\":{\"state\":\"up\"}}", CAB_OK);
    ck_assert_str_eq (out, "\"up\"");
    free (out);
    cab_transform_destroy (&transform);
    ck_assert_ptr_null (transform);
    cab_transform_destroy (&transform);
    cab_transform_destroy (NULL);

    cab_error_t error;
    ck_assert_ptr_null (cab_transform_new (NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
    json_t *spec = json_string ("\"x\"");
    ck_assert_ptr_null (cab_transform_new (spec, NULL));
    json_decref (spec);
    //  A template with a NUL character.
    spec = json_pack ("{s:s%}", "input_template", "a\0b", (size_t)3);
    ck_assert_ptr_null (cab_transform_new (spec, &error));
    ck_assert_str_eq (error.path, "/input_template");
    json_decref (spec);
    //  A JSON path with a NUL byte.
    spec = json_pack ("{s:{s:s%}, s:s}", "input_paths_map", "x", "$.a\0b", (size_t)5,
                      "input_template", "<x>");
    ck_assert_ptr_null (cab_transform_new (spec, &error));
    ck_assert_str_eq (error.path, "/input_paths_map/x");
    json_decref (spec);
}
END_TEST

START_TEST (test_bad_events)
{
    cab_transform_t *transform = s_new ("{\"s\": \"$.a\"}", "{\"s\": <s>}");
    s_apply (transform, "{\"a\":", CAB_ERR_INVALID_JSON);
    s_apply (transform, "{\"a\":\"\xc3\x28\"}", CAB_ERR_INVALID_UTF8);
    s_apply (transform, "", CAB_ERR_INVALID_JSON);
    char *deep = malloc (20001);
    for (int i = 0; i < 20000; i++)
        deep[i] = i < 10000 ? '[' : ']';
    deep[20000] = 0;
    s_apply (transform, deep, CAB_ERR_TOO_DEEP);
    free (deep);
    //  Over the event size limit.
    size_t size = CAB_EVENT_MAX_SIZE + 100;
    char *big = malloc (size + 1);
    memset (big, ' ', size);
    memcpy (big, "{\"a\":1}", 7);
    big[size] = 0;
    s_apply (transform, big, CAB_ERR_TOO_LARGE);
    free (big);
    char *out = NULL;
    ck_assert_int_eq (cab_transform_apply (transform, NULL, 5, "r", 0, &out, NULL, NULL),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_transform_apply (NULL, "{}", 2, "r", 0, &out, NULL, NULL),
                      CAB_ERR_INVALID_ARGUMENT);
    cab_transform_destroy (&transform);

    //  A template that reads nothing of the event does not parse it.
    transform = s_new (NULL, "\"<aws.events.rule-name> fired\"");
    out = s_apply (transform, "not json at all", CAB_OK);
    ck_assert_str_eq (out, "\"r fired\"");
    free (out);
    cab_transform_destroy (&transform);
}
END_TEST

START_TEST (test_output_limit)
{
    //  The whole event, twice: over the limit once the event is > 128 KB.
    cab_transform_t *transform = s_new ("{\"e\": \"$\"}", "{\"a\": <e>, \"b\": <e>}");
    size_t size = 150 * 1024;
    char *event = malloc (size + 1);
    memset (event, 'x', size);
    memcpy (event, "{\"s\":\"", 6);
    memcpy (event + size - 2, "\"}", 2);
    event[size] = 0;
    s_apply (transform, event, CAB_ERR_TOO_LARGE);
    cab_transform_destroy (&transform);
    //  Inside a string, quotes are escaped: 100 KB of quotes become 200 KB.
    transform = s_new ("{\"e\": \"$.s\"}", "\"<e><e>\"");
    memset (event + 6, '"', size - 8);
    for (size_t i = 6; i < size - 2; i += 2)
        event[i] = '\\';
    s_apply (transform, event, CAB_ERR_TOO_LARGE);
    cab_transform_destroy (&transform);
    //  Just under the limit is fine.
    transform = s_new ("{\"e\": \"$.s\"}", "\"<e>\"");
    memset (event + 6, 'y', size - 8);
    char *out = s_apply (transform, event, CAB_OK);
    ck_assert_uint_eq (strlen (out), size - 8 + 2);
    free (out);
    cab_transform_destroy (&transform);
    free (event);
}
END_TEST

START_TEST (test_numbers)
{
    cab_transform_t *transform = s_new ("{\"n\": \"$.n\"}", "{\"n\": <n>}");
    static const struct {
        const char *event, *out;
    } cases[] = {
        {"{\"n\": 0.1}", "{\"n\":0.1}"},
        {"{\"n\": 1e300}", "{\"n\":1e+300}"},
        {"{\"n\": -9223372036854775808}", "{\"n\":-9223372036854775808}"},
        {"{\"n\": 9223372036854775807}", "{\"n\":9223372036854775807}"},
        //  Past 64 bits jansson reads the event again with integers as reals.
        {"{\"n\": 12345678901234567890}", "{\"n\":1.2345678901234567e+19}"},
        {"{\"n\": 2.5E-3}", "{\"n\":0.0025}"},
        {"{\"n\": -0.0}", "{\"n\":-0}"},
        {"{\"n\": 100.0}", "{\"n\":100}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = s_apply (transform, cases[i].event, CAB_OK);
        ck_assert_str_eq (out, cases[i].out);
        free (out);
    }
    cab_transform_destroy (&transform);
}
END_TEST

START_TEST (test_times_and_nul)
{
    cab_transform_t *transform =
        s_new ("{\"s\": \"$.s\"}", "{\"t\": <aws.events.event.ingestion-time>, \"s\": "
                                   "\"<s>\", \"r\": \"<aws.events.rule-arn>\"}");
    const char *event = "{\"s\": \"a\\u0000b\\u001f\"}";
    char *out = NULL;
    ck_assert_int_eq (
        cab_transform_apply (transform, event, strlen (event), "rule-1", -1, &out, NULL, NULL),
        CAB_OK);
    ck_assert_str_eq (out, "{\"t\":\"1969-12-31T23:59:59Z\",\"s\":\"a\\u0000b\\u001f\","
                           "\"r\":\"arn:cabruca:events:::rule/rule-1\"}");
    free (out);
    ck_assert_int_eq (
        cab_transform_apply (transform, event, strlen (event), NULL, 86400000, &out, NULL, NULL),
        CAB_OK);
    ck_assert_str_eq (out, "{\"t\":\"1970-01-02T00:00:00Z\",\"s\":\"a\\u0000b\\u001f\","
                           "\"r\":\"arn:cabruca:events:::rule/\"}");
    free (out);
    cab_transform_destroy (&transform);
}
END_TEST

START_TEST (test_limits)
{
    //  100 variables and 8192 characters are allowed.
    json_t *map = json_object ();
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf (name, sizeof name, "v%d", i);
        json_object_set_new (map, name, json_string ("$.id"));
    }
    char *text = malloc (8193);
    memset (text, 'x', 8192);
    text[0] = text[8191] = '"';
    text[8192] = 0;
    memcpy (text + 1, "<v99>", 5);
    json_t *spec = json_pack ("{s:o, s:s}", "input_paths_map", map, "input_template", text);
    cab_error_t error;
    cab_transform_t *transform = cab_transform_new (spec, &error);
    ck_assert_msg (transform != NULL, "%s", error.text);
    char *out = s_apply (transform, "{\"id\": \"I\"}", CAB_OK);
    ck_assert_uint_eq (strlen (out), 8192 - 5 + 1);
    ck_assert_int_eq (out[1], 'I');
    free (out);
    cab_transform_destroy (&transform);
    json_decref (spec);
    //  8192 characters of which some are multi-byte: still 8192.
    for (int i = 1; i < 8191 - 2; i += 2)
        memcpy (text + i, "\xc3\xa9", 2);
    text[8190] = '"';
    text[8191] = 0;
    spec = json_pack ("{s:s}", "input_template", text);
    transform = cab_transform_new (spec, &error);
    ck_assert_msg (transform != NULL, "%s", error.text);
    cab_transform_destroy (&transform);
    json_decref (spec);
    free (text);
}
END_TEST

//  Out of memory: fail every allocation of a compile, then of an apply.
START_TEST (test_out_of_memory)
{
    if (!failmalloc_active ())
        return;  //  valgrind or a static sanitizer runtime: nothing to fail
    json_t *spec =
        json_loads ("{\"input_paths_map\": {\"a\": \"$.detail.items[*].name\", \"b\": \"$.detail\","
                    " \"c\": \"$.detail.items[0]\"}, \"input_template\": \"{\\\"a\\\": <a>,"
                    " \\\"b\\\": \\\"<b>\\\", \\\"c\\\": <c>, \\\"e\\\": <aws.events.event>,"
                    " \\\"t\\\": <aws.events.event.ingestion-time>}\"}",
                    0, NULL);
    ck_assert_ptr_nonnull (spec);
    cab_transform_t *transform = NULL;
    long at;
    for (at = 1;; at++) {
        cab_error_t error;
        long live = failmalloc_live ();
        failmalloc_arm (at);
        transform = cab_transform_new (spec, &error);
        failmalloc_disarm ();
        if (!failmalloc_failed ())
            break;
        if (!transform)
            ck_assert_msg (failmalloc_live () == live, "allocation %ld: %ld blocks leaked", at,
                           failmalloc_live () - live);
        //  jansson's lexer reports some allocation failures as syntax errors
        //  (here: of the filled template).
        if (transform)
            cab_transform_destroy (&transform);
        else
            ck_assert_msg (error.code == CAB_ERR_NOMEM || error.code == CAB_ERR_INVALID_CONFIG,
                           "allocation %ld: %s", at, error.text);
    }
    ck_assert_ptr_nonnull (transform);
    ck_assert_int_gt (at, 10);
    json_decref (spec);

    const char *event = "{\"id\":\"x\",\"detail\":{\"items\":[{\"name\":\"a\"},"
                        "{\"name\":\"b\"}],\"n\":0.5}}";
    //  Once to fill the C library's one-time caches (gmtime_r's time zone).
    char *out = NULL;
    ck_assert_int_eq (
        cab_transform_apply (transform, event, strlen (event), "r", 0, &out, NULL, NULL), CAB_OK);
    free (out);
    out = NULL;
    for (at = 1;; at++) {
        cab_error_t error;
        long live = failmalloc_live ();
        failmalloc_arm (at);
        cab_status_t rc =
            cab_transform_apply (transform, event, strlen (event), "r", 0, &out, NULL, &error);
        failmalloc_disarm ();
        if (rc != CAB_OK)
            ck_assert_msg (failmalloc_live () == live, "allocation %ld: %ld blocks leaked", at,
                           failmalloc_live () - live);
        if (!failmalloc_failed ()) {
            ck_assert_int_eq (rc, CAB_OK);
            break;
        }
        ck_assert_msg (rc == CAB_OK || rc == CAB_ERR_NOMEM || rc == CAB_ERR_INVALID_JSON,
                       "allocation %ld: %s", at, cab_status_name (rc));
        free (out);
        out = NULL;
    }
    ck_assert_str_eq (out, "{\"a\":[\"a\",\"b\"],\"b\":\"{items: [{name: a}, {name: b}], n: "
                           "0.5}\",\"c\":{\"name\":\"a\"},\"e\":{\"id\":\"x\"},\"t\":"
                           "\"1970-01-01T00:00:00Z\"}");
    free (out);
    cab_transform_destroy (&transform);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_transform");
    TCase *tcase = tcase_create ("core");
    tcase_add_test (tcase, test_lifecycle);
    tcase_add_test (tcase, test_bad_events);
    tcase_add_test (tcase, test_output_limit);
    tcase_add_test (tcase, test_numbers);
    tcase_add_test (tcase, test_times_and_nul);
    tcase_add_test (tcase, test_limits);
    tcase_add_test (tcase, test_out_of_memory);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
