/*  =========================================================================
    test_cab_putevents - PutEvents entries, batches and responses
    =========================================================================
*/
#include "cab_putevents.h"
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *s_event =
    "{\"version\":\"0\",\"id\":\"6a7e8feb-b491-4cf7-a9f1-bf3703467718\","
    "\"detail-type\":\"Issue Detection\",\"source\":\"cabruca.agents.monitor\","
    "\"account\":\"local\",\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\","
    "\"resources\":[\"arn:aws:ec2:sa-east-1:1:instance/i-1\"],"
    "\"detail\":{\"severity\":\"HIGH\",\"msg\":\"caf\\u00e9\"}}";

START_TEST (test_entry_size_documented)
{
    //  "Calculating PutEvents event entry size": Time counts 14 bytes when
    //  present; Source, DetailType, Detail and each resource count their
    //  UTF-8 bytes; EventBusName does not count.
    ck_assert_uint_eq (cab_putevents_entry_size ("a", "b", NULL, NULL, 0, false), 2);
    ck_assert_uint_eq (cab_putevents_entry_size ("a", "b", NULL, NULL, 0, true), 16);
    const char *resources[] = {"r1", NULL, "r333"};
    ck_assert_uint_eq (cab_putevents_entry_size ("src", "dt", "{}", resources, 3, true),
                       14 + 3 + 2 + 2 + 2 + 4);
    //  "é" is 2 bytes in UTF-8, "€" 3.
    ck_assert_uint_eq (cab_putevents_entry_size ("\xc3\xa9", "\xe2\x82\xac", NULL, NULL, 0, false),
                       5);
}
END_TEST

START_TEST (test_entry_build)
{
    cab_putevents_entry_t entry;
    cab_error_t error;
    ck_assert_int_eq (
        cab_putevents_entry_build (s_event, strlen (s_event), "cabruca-agents-bus", &entry, &error),
        CAB_OK);
    json_t *json = json_loads (entry.json, 0, NULL);
    ck_assert_ptr_nonnull (json);
    ck_assert_str_eq (json_string_value (json_object_get (json, "Source")),
                      "cabruca.agents.monitor");
    ck_assert_str_eq (json_string_value (json_object_get (json, "DetailType")), "Issue Detection");
    ck_assert_str_eq (json_string_value (json_object_get (json, "EventBusName")),
                      "cabruca-agents-bus");
    //  Detail is the detail object as a JSON string, in its original order.
    const char *detail = json_string_value (json_object_get (json, "Detail"));
    ck_assert_str_eq (detail, "{\"severity\":\"HIGH\",\"msg\":\"caf\xc3\xa9\"}");
    //  Time in epoch seconds (AWS JSON 1.1 timestamps).
    ck_assert_int_eq (json_integer_value (json_object_get (json, "Time")), 1795341600);
    ck_assert_uint_eq (json_array_size (json_object_get (json, "Resources")), 1);
    ck_assert_uint_eq (entry.size, 14 + strlen ("cabruca.agents.monitor") +
                                       strlen ("Issue Detection") + strlen (detail) +
                                       strlen ("arn:aws:ec2:sa-east-1:1:instance/i-1"));
    ck_assert_uint_eq (entry.json_length, strlen (entry.json));
    json_decref (json);
    cab_putevents_entry_clear (&entry);
    ck_assert_ptr_null (entry.json);
    cab_putevents_entry_clear (&entry);
    cab_putevents_entry_clear (NULL);
}
END_TEST

START_TEST (test_entry_build_refuses)
{
    cab_putevents_entry_t entry;
    cab_error_t error;
    const char *bad[][2] = {
        {"{", "InvalidJson"},
        {"[]", "InvalidEnvelope"},
        {"{\"source\":1,\"detail-type\":\"x\",\"detail\":{}}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\"}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":\"text\"}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"resources\":[1]}",
         "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"time\":\"yesterday\"}",
         "InvalidEnvelope"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_ne (
            cab_putevents_entry_build (bad[i][0], strlen (bad[i][0]), NULL, &entry, &error),
            CAB_OK);
        ck_assert_str_eq (cab_status_name (error.code), bad[i][1]);
        ck_assert_ptr_null (entry.json);
    }
    //  An entry of 256 KB or more cannot be sent at all.
    size_t pad = CAB_PUTEVENTS_MAX_SIZE;
    char *big = malloc (pad + 200);
    int head = snprintf (big, 100, "{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{\"p\":\"");
    memset (big + head, 'x', pad);
    memcpy (big + head + pad, "\"}}", 4);
    ck_assert_int_eq (cab_putevents_entry_build (big, strlen (big), NULL, &entry, &error),
                      CAB_ERR_TOO_LARGE);
    free (big);
}
END_TEST

START_TEST (test_batch_fit)
{
    size_t sizes[25];
    for (size_t i = 0; i < 25; i++)
        sizes[i] = 100;
    ck_assert_uint_eq (cab_putevents_batch_fit (sizes, 25), 10);
    ck_assert_uint_eq (cab_putevents_batch_fit (sizes, 3), 3);
    ck_assert_uint_eq (cab_putevents_batch_fit (sizes, 0), 0);
    //  Total must stay strictly under 256 KB.
    size_t big[] = {100000, 100000, 62144, 1};
    ck_assert_uint_eq (cab_putevents_batch_fit (big, 4), 2);
    size_t exact[] = {131072, 131071, 1};
    ck_assert_uint_eq (cab_putevents_batch_fit (exact, 3), 2);
    size_t alone[] = {262143, 1};
    ck_assert_uint_eq (cab_putevents_batch_fit (alone, 2), 1);
    ck_assert_uint_eq (cab_putevents_chunks (0), 1);
    ck_assert_uint_eq (cab_putevents_chunks (65536), 1);
    ck_assert_uint_eq (cab_putevents_chunks (65537), 2);
    ck_assert_uint_eq (cab_putevents_chunks (262143), 4);
}
END_TEST

START_TEST (test_body)
{
    cab_putevents_entry_t a = {(char *)"{\"Source\":\"a\"}", 14, 1};
    cab_putevents_entry_t b = {(char *)"{\"Source\":\"b\"}", 14, 1};
    const cab_putevents_entry_t *entries[] = {&a, &b};
    size_t length;
    char *body = cab_putevents_body_new (entries, 2, &length);
    ck_assert_str_eq (body, "{\"Entries\":[{\"Source\":\"a\"},{\"Source\":\"b\"}]}");
    ck_assert_uint_eq (length, strlen (body));
    free (body);
}
END_TEST

START_TEST (test_response_parse)
{
    cab_putevents_result_t results[3];
    size_t failed = 99;
    cab_error_t error;
    const char *ok = "{\"FailedEntryCount\":0,\"Entries\":[{\"EventId\":\"11710aed-b79e\"}]}";
    ck_assert_int_eq (cab_putevents_response_parse (ok, strlen (ok), 1, results, &failed, &error),
                      CAB_OK);
    ck_assert_uint_eq (failed, 0);
    ck_assert_str_eq (results[0].event_id, "11710aed-b79e");
    const char *partial =
        "{\"FailedEntryCount\":2,\"Entries\":[{\"EventId\":\"e1\"},"
        "{\"ErrorCode\":\"ThrottlingException\",\"ErrorMessage\":\"Rate exceeded\"},"
        "{\"ErrorCode\":\"MalformedDetail\",\"ErrorMessage\":\"Detail is malformed.\"}]}";
    ck_assert_int_eq (
        cab_putevents_response_parse (partial, strlen (partial), 3, results, &failed, &error),
        CAB_OK);
    ck_assert_uint_eq (failed, 2);
    ck_assert_str_eq (results[0].event_id, "e1");
    ck_assert_str_eq (results[1].error_code, "ThrottlingException");
    ck_assert_str_eq (results[1].error_message, "Rate exceeded");
    ck_assert_str_eq (results[2].error_code, "MalformedDetail");
    ck_assert (cab_putevents_retryable (results[1].error_code));
    ck_assert (!cab_putevents_retryable (results[2].error_code));
    ck_assert (cab_putevents_retryable ("InternalFailure"));
    ck_assert (!cab_putevents_retryable (NULL));

    const char *malformed[][2] = {
        {"", "InvalidJson"},
        {"{\"Entries\":", "InvalidJson"},
        {"{}", "ProtocolError"},
        {"{\"Entries\":[]}", "ProtocolError"},
        {"{\"Entries\":[{}]}", "ProtocolError"},
        {"{\"Entries\":[{\"EventId\":5}]}", "ProtocolError"},
        {"{\"FailedEntryCount\":1,\"Entries\":[{\"EventId\":\"x\"}]}", "ProtocolError"},
        {"{\"FailedEntryCount\":\"0\",\"Entries\":[{\"EventId\":\"x\"}]}", "ProtocolError"},
        {"[1]", "ProtocolError"},
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        ck_assert_int_ne (cab_putevents_response_parse (malformed[i][0], strlen (malformed[i][0]),
                                                        1, results, NULL, &error),
                          CAB_OK);
        ck_assert_str_eq (cab_status_name (error.code), malformed[i][1]);
    }
}
END_TEST

START_TEST (test_error_parse)
{
    char type[64], message[64];
    const char *body = "{\"__type\":\"com.amazon.coral.service#InvalidSignatureException\","
                       "\"message\":\"The request signature we calculated does not match\"}";
    ck_assert_int_eq (
        cab_putevents_error_parse (body, strlen (body), type, sizeof type, message, sizeof message),
        CAB_OK);
    ck_assert_str_eq (type, "InvalidSignatureException");
    ck_assert_str_eq (message, "The request signature we calculated does not match");
    body = "{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}";
    cab_putevents_error_parse (body, strlen (body), type, sizeof type, message, sizeof message);
    ck_assert_str_eq (type, "ThrottlingException");
    ck_assert_str_eq (message, "Rate exceeded");
    body = "{\"__type\":\"ValidationException:http://internal.amazon.com/\"}";
    cab_putevents_error_parse (body, strlen (body), type, sizeof type, message, sizeof message);
    ck_assert_str_eq (type, "ValidationException");
    ck_assert_str_eq (message, "");
    char small[8];
    body = "{\"__type\":\"a#InternalFailure\"}";
    cab_putevents_error_parse (body, strlen (body), small, sizeof small, message, sizeof message);
    ck_assert_str_eq (small, "Interna");
    ck_assert_int_eq (
        cab_putevents_error_parse ("<html>", 6, type, sizeof type, message, sizeof message),
        CAB_ERR_INVALID_JSON);
    ck_assert_str_eq (type, "");
    ck_assert_int_eq (
        cab_putevents_error_parse (NULL, 0, type, sizeof type, message, sizeof message),
        CAB_ERR_INVALID_JSON);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_putevents");
    TCase *tcase = tcase_create ("core");
    tcase_add_test (tcase, test_entry_size_documented);
    tcase_add_test (tcase, test_entry_build);
    tcase_add_test (tcase, test_entry_build_refuses);
    tcase_add_test (tcase, test_batch_fit);
    tcase_add_test (tcase, test_body);
    tcase_add_test (tcase, test_response_parse);
    tcase_add_test (tcase, test_error_parse);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
