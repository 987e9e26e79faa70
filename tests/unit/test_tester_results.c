/*  =========================================================================
    test_tester_results - what the tester agent reads in test output:
    Check, TAP, the automake harness, "N passed, M failed", JUnit XML
    =========================================================================
*/
#include "../../agents/tester/results.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

static results_t *
s_parse (const char *output)
{
    results_t *results = (results_t *)calloc (1, sizeof *results);
    ck_assert_ptr_nonnull (results);
    results_parse (results, output, strlen (output));
    return results;
}

START_TEST (test_check_output)
{
    results_t *results = s_parse (
        "Running suite(s): cab_store\n"
        "83%: Checks: 12, Failures: 1, Errors: 1\n"
        "tests/unit/test_cab_store.c:120:F:store:test_append:0: Assertion 'rc == 0' failed\n"
        "tests/unit/test_cab_store.c:300:E:store:test_sweep:0: (after this point) Received "
        "signal 11 (Segmentation fault)\n"
        "tests/unit/test_cab_store.c:40:P:store:test_open:0: Passed\n");
    ck_assert (results->found);
    ck_assert_int_eq (results->total, 12);
    ck_assert_int_eq (results->failed, 2);
    ck_assert_int_eq (results->passed, 10);
    ck_assert_int_eq (results->failure_count, 2);
    ck_assert_str_eq (results->failures[0].name, "test_append");
    ck_assert_str_eq (results->failures[0].message, "Assertion 'rc == 0' failed");
    ck_assert_str_eq (results->failures[0].file, "tests/unit/test_cab_store.c");
    ck_assert_str_eq (results->failures[1].name, "test_sweep");
    free (results);
}
END_TEST

START_TEST (test_tap)
{
    results_t *results = s_parse ("1..5\r\nok 1 - compress\r\nnot ok 2 - rotate # expected 1\n"
                                  "ok 3 - skipped one # SKIP no disk\nnot ok 4 - later # TODO\n"
                                  "not ok 5 keep\n# a comment\n");
    ck_assert_int_eq (results->total, 5);
    ck_assert_int_eq (results->passed, 1);
    ck_assert_int_eq (results->failed, 2);
    ck_assert_int_eq (results->skipped, 2);
    ck_assert_int_eq (results->failure_count, 2);
    ck_assert_str_eq (results->failures[0].name, "rotate");
    ck_assert_str_eq (results->failures[1].name, "keep");
    free (results);
}
END_TEST

START_TEST (test_automake_harness)
{
    results_t *results =
        s_parse ("PASS: tests/unit/test_a\nFAIL: tests/unit/test_b\nERROR: tests/unit/test_c\n"
                 "SKIP: tests/meta/format.sh\n"
                 "============================================================================\n"
                 "# TOTAL: 4\n# PASS:  1\n# SKIP:  1\n# XFAIL: 0\n# FAIL:  1\n# XPASS: 0\n"
                 "# ERROR: 1\n");
    ck_assert_int_eq (results->total, 4);
    ck_assert_int_eq (results->passed, 1);
    ck_assert_int_eq (results->failed, 2);
    ck_assert_int_eq (results->skipped, 1);
    ck_assert_int_eq (results->failure_count, 2);
    ck_assert_str_eq (results->failures[0].name, "tests/unit/test_b");
    ck_assert_str_eq (results->failures[1].name, "tests/unit/test_c");
    free (results);
}
END_TEST

START_TEST (test_plain_line)
{
    results_t *results = s_parse ("===== 7 passed, 2 failed in 0.31s =====\n");
    ck_assert_int_eq (results->total, 9);
    ck_assert_int_eq (results->passed, 7);
    ck_assert_int_eq (results->failed, 2);
    free (results);
    results = s_parse ("12 passed in 1.0s\n");
    ck_assert_int_eq (results->total, 12);
    ck_assert_int_eq (results->failed, 0);
    free (results);
}
END_TEST

START_TEST (test_junit)
{
    results_t *results = (results_t *)calloc (1, sizeof *results);
    results_add_junit (results,
                       "<?xml version=\"1.0\"?><testsuite name=\"s\" tests=\"4\">"
                       "<testcase name=\"ok_one\" classname=\"c\"/>"
                       "<testcase name=\"bad_one\" file=\"t.py\"><failure message=\"boom\">"
                       "trace</failure></testcase>"
                       "<testcase name=\"err_one\"><error message=\"oops\"/></testcase>"
                       "<testcase name=\"skip_one\"><skipped/></testcase></testsuite>");
    ck_assert_int_eq (results->total, 4);
    ck_assert_int_eq (results->failed, 2);
    ck_assert_int_eq (results->skipped, 1);
    ck_assert_int_eq (results->passed, 1);
    ck_assert_int_eq (results->failure_count, 2);
    ck_assert_str_eq (results->failures[0].name, "bad_one");
    ck_assert_str_eq (results->failures[0].message, "boom");
    ck_assert_str_eq (results->failures[0].file, "t.py");
    ck_assert_str_eq (results->failures[1].name, "err_one");
    free (results);
}
END_TEST

START_TEST (test_hostile_output)
{
    //  Nothing recognisable, huge lines, NULs, truncated tags: no counts,
    //  no crash, bounded failure list.
    size_t size = 3 * 1024 * 1024;
    char *noise = (char *)malloc (size + 1);
    static const char pattern[] = "not ok 1 - x\n\0FAIL: \n<testcase";
    for (size_t index = 0; index < size; index++)
        noise[index] = pattern[index % (sizeof pattern - 1)];
    noise[size] = '\0';
    results_t *results = (results_t *)calloc (1, sizeof *results);
    results_parse (results, noise, size);
    ck_assert_int_le (results->failure_count, RESULTS_MAX_FAILURES);
    results_add_junit (results, "<testcase name=\"unterminated");
    results_add_junit (results, "<testcase");
    free (noise);
    free (results);
    results = s_parse ("all good\n");
    ck_assert (!results->found);
    free (results);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("tester results");
    TCase *tcase = tcase_create ("results");
    tcase_add_test (tcase, test_check_output);
    tcase_add_test (tcase, test_tap);
    tcase_add_test (tcase, test_automake_harness);
    tcase_add_test (tcase, test_plain_line);
    tcase_add_test (tcase, test_junit);
    tcase_add_test (tcase, test_hostile_output);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
