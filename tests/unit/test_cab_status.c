/*  =========================================================================
    test_cab_status - status codes, names and the error record
    =========================================================================
*/
#include <cabruca.h>
#include <check.h>
#include <string.h>

START_TEST (test_names_round_trip)
{
    for (int code = 0; code < CAB_STATUS_COUNT_; code++) {
        const char *name = cab_status_name ((cab_status_t)code);
        ck_assert_str_ne (name, "Unknown");
        ck_assert_int_eq (cab_status_from_name (name), code);
        ck_assert_str_ne (cab_strerror ((cab_status_t)code), "unknown status");
    }
    ck_assert_str_eq (cab_status_name (CAB_ERR_SCHEMA_VIOLATION), "SchemaViolation");
    ck_assert_str_eq (cab_status_name ((cab_status_t)9999), "Unknown");
    ck_assert_str_eq (cab_status_name ((cab_status_t)-1), "Unknown");
    ck_assert_str_eq (cab_strerror ((cab_status_t)9999), "unknown status");
    ck_assert_int_eq (cab_status_from_name ("NoSuchThing"), -1);
    ck_assert_int_eq (cab_status_from_name (NULL), -1);
}
END_TEST

START_TEST (test_stable_numbers)
{
    //  These numbers are on the wire: they must never change.
    ck_assert_int_eq (CAB_OK, 0);
    ck_assert_int_eq (CAB_ERR_INVALID_JSON, 4);
    ck_assert_int_eq (CAB_ERR_TOO_LARGE, 6);
    ck_assert_int_eq (CAB_ERR_SCHEMA_VIOLATION, 9);
    ck_assert_int_eq (CAB_ERR_ACCESS_DENIED, 13);
    ck_assert_int_eq (CAB_ERR_STORE_UNAVAILABLE, 14);
    ck_assert_int_eq (CAB_ERR_PROTOCOL, 15);
}
END_TEST

START_TEST (test_error_record)
{
    cab_error_t error;
    cab_error_clear (&error);
    ck_assert_int_eq (error.code, CAB_OK);
    ck_assert_int_eq (cab_error_set (&error, CAB_ERR_SCHEMA_VIOLATION, "/detail/severity",
                                     "must be one of %s", "LOW, MEDIUM, HIGH, CRITICAL"),
                      CAB_ERR_SCHEMA_VIOLATION);
    char buffer[256];
    ck_assert_str_eq (cab_error_format (&error, buffer, sizeof buffer),
                      "/detail/severity: must be one of LOW, MEDIUM, HIGH, CRITICAL");
    cab_error_set (&error, CAB_ERR_IO, NULL, NULL);
    ck_assert_str_eq (cab_error_format (&error, buffer, sizeof buffer), "input/output error");
    //  NULL error records are allowed everywhere.
    ck_assert_int_eq (cab_error_set (NULL, CAB_ERR_IO, "/x", "y"), CAB_ERR_IO);
    cab_error_clear (NULL);
    ck_assert_str_eq (cab_error_format (NULL, buffer, sizeof buffer), "");
}
END_TEST

START_TEST (test_error_truncation)
{
    char long_text[2000];
    memset (long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    cab_error_t error;
    cab_error_set (&error, CAB_ERR_INVALID_JSON, long_text, "%s", long_text);
    ck_assert_uint_eq (strlen (error.path), CAB_ERROR_PATH_MAX - 1);
    ck_assert_uint_eq (strlen (error.text), CAB_ERROR_TEXT_MAX - 1);
    ck_assert_str_eq (error.text + CAB_ERROR_TEXT_MAX - 4, "...");
    ck_assert_str_eq (error.path + CAB_ERROR_PATH_MAX - 4, "...");
    char small[8];
    cab_error_format (&error, small, sizeof small);
    ck_assert_uint_eq (strlen (small), 7);
}
END_TEST

//  Messages go into JSON (NACKs, answers): they are valid UTF-8 whatever
//  they quote, and a cut never splits a character.
START_TEST (test_error_utf8)
{
    //  "é" (2 bytes) repeated: any cut at a byte count lands mid-character.
    char long_text[2001];
    for (size_t index = 0; index < 2000; index += 2)
        memcpy (long_text + index, "\xc3\xa9", 2);
    long_text[2000] = '\0';
    cab_error_t error;
    cab_error_set (&error, CAB_ERR_INVALID_PATTERN, long_text, "x%s", long_text);
    size_t length = strlen (error.text);
    ck_assert_str_eq (error.text + length - 3, "...");
    ck_assert_uint_eq ((length - 4) % 2, 0);  //  "x" + whole characters
    ck_assert_str_eq (error.path + strlen (error.path) - 3, "...");
    ck_assert_uint_eq ((strlen (error.path) - 3) % 2, 0);
    json_t *string = json_string (error.text);
    ck_assert_ptr_nonnull (string);
    json_decref (string);
    ck_assert_ptr_nonnull ((string = json_string (error.path)));
    json_decref (string);
    //  Bytes that are no UTF-8 (a lone continuation, an overlong form, a
    //  surrogate, a cut "%.3s") become '?'.
    cab_error_set (&error, CAB_ERR_INVALID_JSON, "/a\x80", "%s|%s|%s|%.3s", "\xc0\xaf",
                   "\xed\xa0\x80", "ok \xe2\x82\xac", "\xe2\x82\xac\xe2\x82\xac");
    ck_assert_str_eq (error.path, "/a?");
    ck_assert_str_eq (error.text, "??|???|ok \xe2\x82\xac|\xe2\x82\xac");
    cab_error_set (&error, CAB_ERR_INVALID_JSON, NULL, "%.4s", "\xe2\x82\xac\xe2\x82\xac");
    ck_assert_str_eq (error.text, "\xe2\x82\xac?");
}
END_TEST

START_TEST (test_exit_codes)
{
    ck_assert_int_eq (cab_status_exit_code (CAB_OK), 0);
    ck_assert_int_eq (cab_status_exit_code (CAB_ERR_INVALID_ARGUMENT), 2);
    ck_assert_int_eq (cab_status_exit_code (CAB_ERR_INVALID_CONFIG), 2);
    ck_assert_int_eq (cab_status_exit_code (CAB_ERR_SCHEMA_VIOLATION), 1);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_status");
    TCase *tcase = tcase_create ("core");
    tcase_add_test (tcase, test_names_round_trip);
    tcase_add_test (tcase, test_stable_numbers);
    tcase_add_test (tcase, test_error_record);
    tcase_add_test (tcase, test_error_truncation);
    tcase_add_test (tcase, test_error_utf8);
    tcase_add_test (tcase, test_exit_codes);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
