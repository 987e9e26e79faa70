/*  =========================================================================
    test_cab_pattern - compile patterns, match events, rule sets, and hostile
    input (deep nesting, huge arrays, long strings, invalid UTF-8)
    =========================================================================
*/
#include <cabruca.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool
s_matches (const char *pattern_text, const char *event)
{
    cab_error_t error;
    cab_pattern_t *pattern = cab_pattern_new (pattern_text, strlen (pattern_text), &error);
    ck_assert_msg (pattern, "%s: %s", error.path, error.text);
    bool matched = false;
    cab_status_t rc = cab_pattern_match (pattern, event, strlen (event), &matched, &error);
    ck_assert_msg (rc == CAB_OK, "%s", error.text);
    cab_pattern_destroy (&pattern);
    ck_assert_ptr_null (pattern);
    return matched;
}

START_TEST (test_pattern_basics)
{
    const char *event = "{\"source\":\"aws.ec2\",\"detail\":{\"state\":\"running\",\"n\":5}}";
    ck_assert (s_matches ("{\"source\":[\"aws.ec2\"]}", event));
    ck_assert (!s_matches ("{\"source\":[\"aws.s3\"]}", event));
    ck_assert (s_matches ("{\"detail\":{\"n\":[{\"numeric\":[\">\",4.5]}]}}", event));
    ck_assert (s_matches ("{\"detail\":{\"state\":[{\"anything-but\":\"stopped\"}]}}", event));
    cab_pattern_destroy (NULL);
    cab_pattern_t *none = NULL;
    cab_pattern_destroy (&none);
}
END_TEST

START_TEST (test_pattern_errors)
{
    cab_error_t error;
    const char *text = "{\"detail\":{\"state\":[{\"prefix\":7}]}}";
    ck_assert_ptr_null (cab_pattern_new (text, strlen (text), &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_PATTERN);
    ck_assert_str_eq (error.path, "/detail/state/0/prefix");
    ck_assert_str_eq (error.text, "prefix match pattern must be a string");
    text = "{\"a\": [\"x\"";
    ck_assert_ptr_null (cab_pattern_new (text, strlen (text), &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);
    text = "{\"a\": [\"\xC3\x28\"]}";
    ck_assert_ptr_null (cab_pattern_new (text, strlen (text), &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_UTF8);
    ck_assert_ptr_null (cab_pattern_new (text, strlen (text), NULL));
}
END_TEST

START_TEST (test_pattern_json_api)
{
    cab_error_t error;
    json_t *pattern_json =
        json_pack ("{s:[{s:[s,f,s,f]}]}", "price", "numeric", ">", 0.1, "<=", 301.8);
    cab_pattern_t *pattern = cab_pattern_new_from_json (pattern_json, &error);
    ck_assert_msg (pattern, "%s", error.text);
    json_t *event = json_pack ("{s:f}", "price", 301.8);
    bool matched = false;
    ck_assert_int_eq (cab_pattern_match_json (pattern, event, &matched, &error), CAB_OK);
    ck_assert (matched);
    json_decref (event);
    event = json_pack ("{s:s}", "price", "301.8");
    ck_assert_int_eq (cab_pattern_match_json (pattern, event, &matched, &error), CAB_OK);
    ck_assert (!matched);
    json_decref (event);
    json_decref (pattern_json);
    cab_pattern_destroy (&pattern);
}
END_TEST

START_TEST (test_ruleset)
{
    cab_error_t error;
    cab_ruleset_t *set = cab_ruleset_new ();
    const char *a = "{\"source\":[\"s\"]}";
    const char *b = "{\"n\":[{\"numeric\":[\">\",1]}]}";
    const char *c = "{\"source\":[{\"prefix\":\"x\"}]}";
    ck_assert_int_eq (cab_ruleset_add (set, "zeta", a, strlen (a), &error), CAB_OK);
    ck_assert_int_eq (cab_ruleset_add (set, "alpha", b, strlen (b), &error), CAB_OK);
    //  The same id again: OR
    ck_assert_int_eq (cab_ruleset_add (set, "zeta", c, strlen (c), &error), CAB_OK);
    ck_assert_int_eq (cab_ruleset_add (set, "", a, strlen (a), &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_ruleset_add (set, "bad", "{}", 2, &error), CAB_ERR_INVALID_PATTERN);
    ck_assert_uint_eq (cab_ruleset_size (set), 2);
    size_t matches[4], count = 0;
    const char *event = "{\"source\":\"xs\",\"n\":2}";
    ck_assert_int_eq (cab_ruleset_match (set, event, strlen (event), matches, 4, &count, &error),
                      CAB_OK);
    ck_assert_uint_eq (count, 2);
    ck_assert_str_eq (cab_ruleset_id (set, matches[0]), "alpha");
    ck_assert_str_eq (cab_ruleset_id (set, matches[1]), "zeta");
    //  Capacity smaller than the count: count still tells the truth.
    ck_assert_int_eq (cab_ruleset_match (set, event, strlen (event), matches, 1, &count, &error),
                      CAB_OK);
    ck_assert_uint_eq (count, 2);
    ck_assert_ptr_null (cab_ruleset_id (set, 2));
    //  Adding after matching recompiles.
    const char *d = "{\"n\":[2]}";
    ck_assert_int_eq (cab_ruleset_add (set, "beta", d, strlen (d), &error), CAB_OK);
    ck_assert_int_eq (cab_ruleset_match (set, event, strlen (event), matches, 4, &count, &error),
                      CAB_OK);
    ck_assert_uint_eq (count, 3);
    ck_assert_str_eq (cab_ruleset_id (set, matches[1]), "beta");
    cab_ruleset_destroy (&set);
    ck_assert_ptr_null (set);
}
END_TEST

static char *
s_repeat (const char *head, const char *unit, size_t times, const char *tail)
{
    size_t hl = strlen (head), ul = strlen (unit), tl = strlen (tail);
    char *text = malloc (hl + ul * times + tl + 1);
    ck_assert_ptr_nonnull (text);
    memcpy (text, head, hl);
    for (size_t i = 0; i < times; i++)
        memcpy (text + hl + i * ul, unit, ul);
    memcpy (text + hl + ul * times, tail, tl + 1);
    return text;
}

START_TEST (test_hostile_events)
{
    cab_error_t error;
    const char *p = "{\"a\":[{\"exists\":true}],\"b\":{\"c\":[{\"wildcard\":\"*x*y*z\"}]}}";
    cab_pattern_t *pattern = cab_pattern_new (p, strlen (p), &error);
    ck_assert_ptr_nonnull (pattern);
    bool matched;
    //  Deep nesting: 10,000 levels, skipped and followed.
    char *deep = s_repeat ("{\"a\":", "[", 10000, "");
    ck_assert_int_eq (cab_pattern_match (pattern, deep, strlen (deep), &matched, &error),
                      CAB_ERR_TOO_DEEP);
    free (deep);
    deep = s_repeat ("{\"zz\":", "{\"k\":", 10000, "1");
    ck_assert_int_eq (cab_pattern_match (pattern, deep, strlen (deep), &matched, &error),
                      CAB_ERR_TOO_DEEP);
    free (deep);
    //  A huge array of objects at a watched path: linear time.
    char *huge =
        s_repeat ("{\"b\":[", "{\"c\":\"xxxxxxxxxxxx\"},", 12000, "{\"c\":\"q\"}],\"a\":1}");
    clock_t start = clock ();
    ck_assert_int_eq (cab_pattern_match (pattern, huge, strlen (huge), &matched, &error), CAB_OK);
    ck_assert (!matched);
    ck_assert (clock () - start < 2 * CLOCKS_PER_SEC);
    free (huge);
    //  Long strings against a wildcard (no quadratic blow-up).
    char *longs = s_repeat ("{\"a\":1,\"b\":{\"c\":\"", "xy", 100000, "\"}}");
    start = clock ();
    ck_assert_int_eq (cab_pattern_match (pattern, longs, strlen (longs), &matched, &error), CAB_OK);
    ck_assert (!matched);
    ck_assert (clock () - start < 2 * CLOCKS_PER_SEC);
    free (longs);
    //  Over the size limit.
    char *big = s_repeat ("{\"a\":\"", "x", CAB_PATTERN_EVENT_MAX, "\"}");
    ck_assert_int_eq (cab_pattern_match (pattern, big, strlen (big), &matched, &error),
                      CAB_ERR_TOO_LARGE);
    free (big);
    //  Invalid UTF-8, in watched and in skipped parts.
    const char *bad[] = {"{\"a\":\"\xFF\"}", "{\"zz\":\"\xC0\xAF\"}", "{\"a\":\"\xED\xA0\x80\"}",
                         "{\"a\":\"\\ud800\"}", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_int_eq (cab_pattern_match (pattern, bad[i], strlen (bad[i]), &matched, &error),
                          CAB_ERR_INVALID_UTF8);
    //  Invalid JSON.
    const char *invalid[] = {"",      "{",          "{\"a\":}",         "{\"a\":1,}", "{\"a\":01}",
                             "[1 2]", "{\"a\":1}x", "{\"a\":\"\x01\"}", "nul",        NULL};
    for (int i = 0; invalid[i]; i++)
        ck_assert_int_eq (
            cab_pattern_match (pattern, invalid[i], strlen (invalid[i]), &matched, &error),
            CAB_ERR_INVALID_JSON);
    cab_pattern_destroy (&pattern);
}
END_TEST

START_TEST (test_array_consistency_worst_case)
{
    //  Many fields, many elements: an answer, in near-linear time.
    cab_error_t error;
    const char *p = "{\"x\":{\"a\":[1],\"b\":[2],\"c\":[3]}}";
    cab_pattern_t *pattern = cab_pattern_new (p, strlen (p), &error);
    ck_assert_ptr_nonnull (pattern);
    char *event = s_repeat ("{\"x\":[", "{\"a\":1},{\"b\":2},{\"c\":3},", 3000, "{}]}");
    bool matched = true;
    clock_t start = clock ();
    ck_assert_int_eq (cab_pattern_match (pattern, event, strlen (event), &matched, &error), CAB_OK);
    ck_assert (!matched);
    free (event);
    //  The same, with one element holding all three at the end.
    event = s_repeat ("{\"x\":[", "{\"a\":1,\"b\":2},{\"b\":2,\"c\":3},", 3000,
                      "{\"c\":3,\"a\":1,\"b\":2}]}");
    ck_assert_int_eq (cab_pattern_match (pattern, event, strlen (event), &matched, &error), CAB_OK);
    ck_assert (matched);
    free (event);
    //  Nested arrays: x is an array of arrays of objects.
    event = s_repeat ("{\"x\":[", "[{\"a\":1},{\"b\":2,\"c\":3}],", 2000, "[{\"a\":5}]]}");
    ck_assert_int_eq (cab_pattern_match (pattern, event, strlen (event), &matched, &error), CAB_OK);
    ck_assert (!matched);
    free (event);
    ck_assert (clock () - start < 2 * CLOCKS_PER_SEC);
    cab_pattern_destroy (&pattern);
    //  A field outside the array combines with any element.
    p = "{\"x\":{\"a\":[1],\"b\":[2]},\"y\":[7]}";
    pattern = cab_pattern_new (p, strlen (p), &error);
    const char *e = "{\"y\":[0,7],\"x\":[{\"a\":1},{\"a\":1,\"b\":2}]}";
    ck_assert_int_eq (cab_pattern_match (pattern, e, strlen (e), &matched, &error), CAB_OK);
    ck_assert (matched);
    cab_pattern_destroy (&pattern);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_pattern");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_pattern_basics);
    tcase_add_test (tc, test_pattern_errors);
    tcase_add_test (tc, test_pattern_json_api);
    tcase_add_test (tc, test_ruleset);
    tcase_add_test (tc, test_hostile_events);
    tcase_add_test (tc, test_array_consistency_worst_case);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
