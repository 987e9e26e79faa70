/*  =========================================================================
    test_cab_event - the EventBridge envelope: build, load, check, dump;
    UUIDv7 ids and ISO 8601 times; hostile input (malformed JSON, invalid
    UTF-8, oversized and deeply nested events, wrong types everywhere)
    =========================================================================
*/
#include <cabruca.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALID_EVENT                                                                                \
    "{\"version\":\"0\",\"id\":\"0190e8a6-3c1b-7d2e-9f00-1234567890ab\","                          \
    "\"detail-type\":\"Issue Detection\",\"source\":\"cabruca.agents.monitor\","                   \
    "\"account\":\"local\",\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\","            \
    "\"resources\":[\"arn:aws:ec2:sa-east-1:123456789012:instance/i-1\"],"                         \
    "\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"monitor-001\","                         \
    "\"correlation_id\":\"0190e8a6-3c1b-7d2e-9f00-1234567890ac\",\"severity\":\"HIGH\"}}"

static json_t *
s_valid_document (void)
{
    json_t *document = json_loads (VALID_EVENT, 0, NULL);
    ck_assert_ptr_nonnull (document);
    return document;
}

//  Load text and expect failure with a code and a path.
static void
s_expect_load_error (const char *text, size_t length, cab_status_t code, const char *path)
{
    cab_error_t error;
    cab_event_t *event = cab_event_load (text, length, &error);
    ck_assert_msg (event == NULL, "loaded: %.200s", text);
    ck_assert_msg (error.code == code, "%.200s: got %s (%s: %s), want %s", text,
                   cab_status_name (error.code), error.path, error.text, cab_status_name (code));
    if (path)
        ck_assert_str_eq (error.path, path);
    ck_assert_uint_gt (strlen (error.text), 0);
}

//  ---------------------------------------------------------------------
//  Building events

START_TEST (test_new_defaults)
{
    unsetenv ("AWS_REGION");
    cab_error_t error;
    cab_event_t *event = cab_event_new ("cabruca.agents.monitor", "Issue Detection", &error);
    ck_assert_ptr_nonnull (event);
    ck_assert_str_eq (cab_event_source (event), "cabruca.agents.monitor");
    ck_assert_str_eq (cab_event_detail_type (event), "Issue Detection");
    ck_assert (cab_uuid_valid (cab_event_id (event)));
    ck_assert_int_eq (cab_event_id (event)[14], '7');
    ck_assert_str_eq (cab_event_correlation_id (event), cab_event_id (event));
    ck_assert_str_eq (cab_event_schema_version (event), "1.0");
    ck_assert_ptr_null (cab_event_agent_id (event));
    int64_t millis;
    ck_assert_int_eq (cab_time_parse (cab_event_time (event), &millis), CAB_OK);
    ck_assert_int_lt (llabs (millis - (int64_t)time (NULL) * 1000), 5000);
    json_t *document = cab_event_json (event);
    ck_assert_str_eq (json_string_value (json_object_get (document, "version")), "0");
    ck_assert_str_eq (json_string_value (json_object_get (document, "account")), "local");
    ck_assert_str_eq (json_string_value (json_object_get (document, "region")), "us-east-1");
    ck_assert_uint_eq (json_array_size (json_object_get (document, "resources")), 0);

    //  No agent yet: the envelope is incomplete, and says where.
    ck_assert_int_eq (cab_event_check (event, &error), CAB_ERR_INVALID_ENVELOPE);
    ck_assert_str_eq (error.path, "/detail/agent_id");
    ck_assert_int_eq (cab_event_set_agent_id (event, "monitor-001"), CAB_OK);
    ck_assert_int_eq (cab_event_check (event, &error), CAB_OK);
    ck_assert_str_eq (cab_event_agent_id (event), "monitor-001");
    cab_event_destroy (&event);
    ck_assert_ptr_null (event);
    cab_event_destroy (&event);
    cab_event_destroy (NULL);

    setenv ("AWS_REGION", "sa-east-1", 1);
    event = cab_event_new ("s", "t", NULL);
    ck_assert_str_eq (json_string_value (json_object_get (cab_event_json (event), "region")),
                      "sa-east-1");
    cab_event_destroy (&event);
    unsetenv ("AWS_REGION");
}
END_TEST

START_TEST (test_new_bad_arguments)
{
    cab_error_t error;
    ck_assert_ptr_null (cab_event_new (NULL, "Issue Detection", &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (cab_event_new ("cabruca.agents.monitor", "", &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (cab_event_new ("bad\xff", "x", NULL));
    char name[300];
    memset (name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    ck_assert_ptr_null (cab_event_new (name, "x", &error));
    name[256] = '\0';
    cab_event_t *event = cab_event_new (name, "x", &error);
    ck_assert_ptr_nonnull (event);
    cab_event_destroy (&event);
}
END_TEST

START_TEST (test_setters)
{
    cab_event_t *event = cab_event_new ("cabruca.agents.tester", "Test Results", NULL);
    ck_assert_int_eq (cab_event_set_agent_id (event, "tester-1"), CAB_OK);
    ck_assert_int_eq (cab_event_set_account (event, "123456789012"), CAB_OK);
    ck_assert_int_eq (cab_event_set_region (event, "sa-east-1"), CAB_OK);
    ck_assert_int_eq (cab_event_set_time (event, "2026-11-22T10:00:00.5Z"), CAB_OK);
    ck_assert_str_eq (cab_event_time (event), "2026-11-22T10:00:00.5Z");
    ck_assert_int_eq (cab_event_set_schema_version (event, "2.0"), CAB_OK);
    ck_assert_int_eq (cab_event_set_correlation_id (event, "0190E8A6-3C1B-7D2E-9F00-1234567890AB"),
                      CAB_OK);
    ck_assert_int_eq (cab_event_add_resource (event, "arn:aws:s3:::bucket"), CAB_OK);

    //  Refusals leave the event as it was.
    ck_assert_int_eq (cab_event_set_time (event, "2026-11-22 10:00:00"), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_correlation_id (event, "not-a-uuid"), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_agent_id (event, ""), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_agent_id (event, NULL), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_schema_version (event, ""), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_region (event, "\xc0\xaf"), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_add_resource (event, NULL), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_set_account (NULL, "x"), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq (cab_event_time (event), "2026-11-22T10:00:00.5Z");

    //  Type-specific fields; the envelope's detail fields keep their types.
    ck_assert_int_eq (
        cab_event_update_detail_new (event, json_pack ("{s:s, s:i, s:[s]}", "status", "PASSED",
                                                       "duration_ms", 1200, "failed_tests", "t1")),
        CAB_OK);
    ck_assert_int_eq (cab_event_update_detail_new (event, json_pack ("{s:i}", "agent_id", 7)),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (
        cab_event_update_detail_new (event, json_pack ("{s:s}", "correlation_id", "x")),
        CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_update_detail_new (event, json_array ()), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_event_update_detail_new (event, NULL), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq (cab_event_agent_id (event), "tester-1");

    cab_error_t error;
    ck_assert_int_eq (cab_event_check (event, &error), CAB_OK);
    size_t length;
    const char *text = cab_event_text (event, &length);
    ck_assert_uint_eq (strlen (text), length);
    ck_assert_ptr_nonnull (strstr (text, "\"duration_ms\":1200"));
    ck_assert_ptr_nonnull (strstr (text, "\"resources\":[\"arn:aws:s3:::bucket\"]"));

    //  Text follows changes.
    ck_assert_int_eq (cab_event_set_agent_id (event, "tester-2"), CAB_OK);
    ck_assert_ptr_nonnull (strstr (cab_event_text (event, NULL), "\"agent_id\":\"tester-2\""));
    json_object_set_new (cab_event_detail (event), "status", json_string ("FAILED"));
    ck_assert_ptr_nonnull (strstr (cab_event_text (event, NULL), "\"status\":\"FAILED\""));
    cab_event_destroy (&event);
}
END_TEST

START_TEST (test_round_trip)
{
    cab_event_t *event = cab_event_new ("cabruca.agents.developer", "Code Change", NULL);
    cab_event_set_agent_id (event, "developer-1");
    cab_event_update_detail_new (
        event, json_pack ("{s:s, s:s}", "repository", "cabruca", "snowman", "\xe2\x98\x83"));
    size_t length;
    const char *text = cab_event_text (event, &length);
    cab_error_t error;
    cab_event_t *copy = cab_event_load (text, length, &error);
    ck_assert_ptr_nonnull (copy);
    ck_assert_str_eq (cab_event_id (copy), cab_event_id (event));
    ck_assert_str_eq (cab_event_time (copy), cab_event_time (event));
    ck_assert (json_equal (cab_event_json (copy), cab_event_json (event)));
    cab_event_destroy (&copy);
    cab_event_destroy (&event);
}
END_TEST

START_TEST (test_load_keeps_bytes)
{
    const char *text =
        "{ \"version\": \"0\", \"id\": \"0190e8a6-3c1b-7d2e-9f00-1234567890ab\",\n"
        "  \"detail-type\": \"Feature Request\", \"source\": \"cabruca.agents.product\","
        "  \"account\": \"\", \"time\": \"2026-01-01T00:00:00.123456Z\","
        "  \"region\": \"\", \"resources\": [],"
        "  \"detail\": {\"schema_version\": \"1.0\", \"agent_id\": \"p\","
        "   \"correlation_id\": \"0190e8a6-3c1b-7d2e-9f00-1234567890ab\"} }";
    cab_error_t error;
    cab_event_t *event = cab_event_load (text, strlen (text), &error);
    ck_assert_msg (event != NULL, "%s: %s", error.path, error.text);
    size_t length;
    ck_assert_str_eq (cab_event_text (event, &length), text);
    ck_assert_uint_eq (length, strlen (text));
    ck_assert_str_eq (cab_event_source (event), "cabruca.agents.product");
    ck_assert_str_eq (cab_event_detail_type (event), "Feature Request");
    ck_assert_str_eq (cab_event_agent_id (event), "p");
    //  Reading the document does not lose the bytes; writing does.
    ck_assert_ptr_nonnull (cab_event_json (event));
    ck_assert_str_eq (cab_event_text (event, NULL), text);
    ck_assert_ptr_nonnull (cab_event_detail (event));
    ck_assert_str_ne (cab_event_text (event, NULL), text);
    cab_event_destroy (&event);

    //  Text need not be terminated: only `length` bytes are read.
    char *padded = malloc (strlen (VALID_EVENT) + 10);
    memcpy (padded, VALID_EVENT, strlen (VALID_EVENT));
    memcpy (padded + strlen (VALID_EVENT), "garbage!!", 10);
    event = cab_event_load (padded, strlen (VALID_EVENT), &error);
    ck_assert_ptr_nonnull (event);
    ck_assert_str_eq (cab_event_text (event, NULL), VALID_EVENT);
    cab_event_destroy (&event);
    free (padded);
}
END_TEST

START_TEST (test_new_from_json)
{
    cab_error_t error;
    cab_event_t *event = cab_event_new_from_json (s_valid_document (), &error);
    ck_assert_ptr_nonnull (event);
    ck_assert_str_eq (cab_event_agent_id (event), "monitor-001");
    cab_event_destroy (&event);

    json_t *document = s_valid_document ();
    json_object_set_new (document, "id", json_integer (5));
    ck_assert_ptr_null (cab_event_new_from_json (document, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ENVELOPE);
    ck_assert_str_eq (error.path, "/id");
    ck_assert_ptr_null (cab_event_new_from_json (NULL, &error));

    //  65 levels built in memory: refused, and no deep recursion.
    document = s_valid_document ();
    json_t *inner = json_array ();
    json_t *outer = inner;
    for (int i = 0; i < 5000; i++) {
        json_t *wrap = json_array ();
        json_array_append_new (wrap, outer);
        outer = wrap;
    }
    json_object_set_new (json_object_get (document, "detail"), "deep", outer);
    ck_assert_ptr_null (cab_event_new_from_json (document, &error));
    ck_assert_int_eq (error.code, CAB_ERR_TOO_DEEP);
}
END_TEST

//  ---------------------------------------------------------------------
//  Hostile input

START_TEST (test_malformed_json)
{
    static const char *cases[] = {
        "",
        "{",
        "{\"version\":\"0\",}",
        "{\"version\":'0'}",
        "nul",
        "{\"a\":1}{\"b\":2}",
        "[1,2,,3]",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":1e99999}",
        "{\"a\":123456789012345678901234567890}",
        "{\"a\":\"unterminated",
        "{\"a\":\"\\x41\"}",
        "{\"version\":\"0\",\"version\":\"0\"}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_expect_load_error (cases[i], strlen (cases[i]), CAB_ERR_INVALID_JSON, "");
    cab_error_t error;
    ck_assert_ptr_null (cab_event_load ("{\n  \"a\": tru }", 14, &error));
    ck_assert_ptr_nonnull (strstr (error.text, "line 2"));
    //  Embedded NUL byte.
    s_expect_load_error ("{\"a\":1}\0", 8, CAB_ERR_INVALID_JSON, "");
    ck_assert_ptr_null (cab_event_load (NULL, 0, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
}
END_TEST

//  A setter's string checked for UTF-8 with a bad or a good sequence at
//  every offset past a run of ASCII (skipped eight bytes at a time): a bad
//  one is refused and leaves the event as it was, a good one is written.
START_TEST (test_setter_utf8)
{
    static const char *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
    static const char *good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f"};
    cab_event_t *event = cab_event_new ("cabruca.agents.tester", "Test Results", NULL);
    ck_assert_ptr_nonnull (event);
    for (size_t at = 0; at < 40; at++) {
        char text[64];
        memset (text, 'a', at);
        for (size_t kind = 0; kind < sizeof bad / sizeof bad[0]; kind++) {
            snprintf (text + at, sizeof text - at, "%s%s", bad[kind], kind % 2 ? "tail" : "");
            ck_assert_int_eq (cab_event_add_resource (event, text), CAB_ERR_INVALID_ARGUMENT);
            ck_assert_int_eq (cab_event_set_region (event, text), CAB_ERR_INVALID_ARGUMENT);
        }
        for (size_t kind = 0; kind < sizeof good / sizeof good[0]; kind++) {
            snprintf (text + at, sizeof text - at, "%s%s", good[kind], kind % 2 ? "" : "tail");
            ck_assert_int_eq (cab_event_set_region (event, text), CAB_OK);
            ck_assert_str_eq (
                json_string_value (json_object_get (cab_event_json (event), "region")), text);
        }
    }
    size_t length = 0;
    const char *written = cab_event_text (event, &length);
    json_t *document = written ? json_loadb (written, length, 0, NULL) : NULL;
    ck_assert (json_equal (document, cab_event_json (event)));
    ck_assert_uint_eq (json_array_size (json_object_get (document, "resources")), 0);
    json_decref (document);
    cab_event_destroy (&event);
}
END_TEST

START_TEST (test_invalid_utf8)
{
    static const char *cases[] = {
        "{\"a\":\"\xff\"}",              //  Never valid
        "{\"a\":\"\xc0\xaf\"}",          //  Overlong "/"
        "{\"a\":\"\xe0\x80\xaf\"}",      //  Overlong, 3 bytes
        "{\"a\":\"\xed\xa0\x80\"}",      //  UTF-16 surrogate
        "{\"a\":\"\xf4\x90\x80\x80\"}",  //  Past U+10FFFF
        "{\"a\":\"\xe2\x98\"}",          //  Truncated sequence
        "{\"a\":\"\x80\"}",              //  Lone continuation byte
        "{\"\xfe\":1}",                  //  In a key
        "\xef\xbb",                      //  Truncated at the end
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_expect_load_error (cases[i], strlen (cases[i]), CAB_ERR_INVALID_UTF8, "");
    cab_error_t error;
    cab_event_load ("{\"a\":\"\xff\"}", 9, &error);
    ck_assert_str_eq (error.text, "invalid UTF-8 sequence at byte 6");
    //  Valid multi-byte text is fine (and then the envelope is wrong).
    const char *fine = "{\"a\":\"\xe2\x98\x83 \xf0\x9f\x90\x9f \xc3\xa9\"}";
    s_expect_load_error (fine, strlen (fine), CAB_ERR_INVALID_ENVELOPE, "/version");
}
END_TEST

//  The scan before the parse skips plain string bytes eight at a time: a
//  byte that matters is found wherever it falls in (or after) a word.
START_TEST (test_scan_long_strings)
{
    cab_error_t error;
    for (size_t at = 0; at < 48; at++) {
        //  {"a":"xxx...x" with the byte of interest at offset `at` of the string
        char text[128], expect[64];
        char run[64];
        memset (run, 'x', sizeof run);
        //  An invalid byte: refused, at its exact position.
        int length = snprintf (text, sizeof text, "{\"a\":\"%.*s\xff%.*s\"}", (int)at, run,
                               (int)(30 - at % 30), run);
        s_expect_load_error (text, (size_t)length, CAB_ERR_INVALID_UTF8, "");
        cab_event_load (text, (size_t)length, &error);
        snprintf (expect, sizeof expect, "invalid UTF-8 sequence at byte %zu", 6 + at);
        ck_assert_str_eq (error.text, expect);
        //  Valid multi-byte text and an escaped quote followed by brackets
        //  that must not count: the scan passes, the envelope is wrong.
        length = snprintf (text, sizeof text, "{\"a\":\"%.*s\xc3\xa9\\\"[[[{%.*s\"}", (int)at, run,
                           (int)(30 - at % 30), run);
        s_expect_load_error (text, (size_t)length, CAB_ERR_INVALID_ENVELOPE, "/version");
        //  A string that ends at any offset, then one level too many.
        char *deep = malloc (CAB_EVENT_MAX_DEPTH + 128);
        length = snprintf (deep, CAB_EVENT_MAX_DEPTH + 128, "{\"a\":\"%.*s\",\"b\":", (int)at, run);
        for (int level = 0; level < CAB_EVENT_MAX_DEPTH; level++)
            deep[length++] = '[';
        deep[length] = '\0';
        s_expect_load_error (deep, (size_t)length, CAB_ERR_TOO_DEEP, "");
        free (deep);
    }
}
END_TEST

//  The string scanners skip plain bytes sixteen (SSE2) or eight at a time:
//  a byte that needs a look (an escape, a multi-byte character, a control
//  character, a bad or cut UTF-8 sequence, a quote) at every offset of the
//  first blocks of a detail string. cab_event_load accepts and refuses as
//  jansson does, and reads the same string.
START_TEST (test_string_blocks)
{
    const char *kinds[] = {"\\\"",         "\\\\", "\\n",  "\\u00e9", "\xc3\xa9",
                           "\xe2\x98\x83", "\x01", "\xff", "\xc3x",   "\""};
    char run[64];
    memset (run, 'x', sizeof run);
    for (size_t kind = 0; kind < sizeof kinds / sizeof *kinds; kind++)
        for (int at = 0; at < 52; at++) {
            char text[1024];
            int length = snprintf (
                text, sizeof text,
                "{\"version\":\"0\",\"id\":\"0190e8a6-3c1b-7d2e-9f00-1234567890ab\","
                "\"detail-type\":\"Issue Detection\",\"source\":\"cabruca.agents.monitor\","
                "\"account\":\"local\",\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\","
                "\"resources\":[],\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"monitor-"
                "001\","
                "\"correlation_id\":\"0190e8a6-3c1b-7d2e-9f00-1234567890ac\",\"severity\":\"HIGH\","
                "\"d\":\"%.*s%s%.*s\"}}",
                at, run, kinds[kind], 40 - at % 40, run);
            json_error_t oracle_error;
            json_t *oracle =
                json_loadb (text, (size_t)length, JSON_REJECT_DUPLICATES, &oracle_error);
            cab_error_t error;
            cab_event_t *event = cab_event_load (text, (size_t)length, &error);
            ck_assert_msg ((event != NULL) == (oracle != NULL), "kind %zu at %d: jansson %s, we %s",
                           kind, at, oracle ? "accept" : oracle_error.text,
                           event ? "accept" : error.text);
            if (event) {
                json_t *ours = json_object_get (cab_event_detail (event), "d");
                json_t *theirs = json_object_get (json_object_get (oracle, "detail"), "d");
                ck_assert_msg (json_equal (ours, theirs), "kind %zu at %d", kind, at);
            }
            cab_event_destroy (&event);
            json_decref (oracle);
        }
}
END_TEST

START_TEST (test_too_large)
{
    //  A 300 KB event, otherwise valid.
    size_t size = 300 * 1024;
    char *text = malloc (size + 1);
    const char *head = "{\"version\":\"0\",\"detail\":{\"pad\":\"";
    memcpy (text, head, strlen (head));
    memset (text + strlen (head), 'x', size - strlen (head) - 3);
    memcpy (text + size - 3, "\"}}", 4);
    cab_error_t error;
    ck_assert_ptr_null (cab_event_load (text, size, &error));
    ck_assert_int_eq (error.code, CAB_ERR_TOO_LARGE);
    ck_assert_str_eq (error.text, "event is 307200 bytes, over the limit of 262144");
    free (text);

    //  The limit is exact: 262,144 bytes load, 262,145 do not.
    json_t *document = s_valid_document ();
    size_t base = strlen (VALID_EVENT) + strlen (",\"pad\":\"\"");
    char *pad = malloc (CAB_EVENT_MAX_SIZE);
    memset (pad, 'p', CAB_EVENT_MAX_SIZE - base);
    pad[CAB_EVENT_MAX_SIZE - base] = '\0';
    json_object_set_new (json_object_get (document, "detail"), "pad", json_string (pad));
    char *dumped = json_dumps (document, JSON_COMPACT);
    ck_assert_uint_eq (strlen (dumped), CAB_EVENT_MAX_SIZE);
    cab_event_t *event = cab_event_load (dumped, strlen (dumped), &error);
    ck_assert_ptr_nonnull (event);
    cab_event_destroy (&event);
    free (dumped);
    pad[CAB_EVENT_MAX_SIZE - base] = 'p';
    pad[CAB_EVENT_MAX_SIZE - base + 1] = '\0';
    json_object_set_new (json_object_get (document, "detail"), "pad", json_string (pad));
    dumped = json_dumps (document, JSON_COMPACT);
    s_expect_load_error (dumped, strlen (dumped), CAB_ERR_TOO_LARGE, "");
    free (dumped);

    //  Built events are checked too: too large to publish.
    ck_assert_ptr_null (cab_event_new_from_json (document, &error));
    ck_assert_int_eq (error.code, CAB_ERR_TOO_LARGE);
    event = cab_event_new ("cabruca.agents.monitor", "Issue Detection", NULL);
    cab_event_set_agent_id (event, "m");
    cab_event_update_detail_new (event, json_pack ("{s:s, s:s}", "pad", pad, "pad2", pad));
    ck_assert_int_eq (cab_event_check (event, &error), CAB_ERR_TOO_LARGE);
    cab_event_destroy (&event);
    free (pad);
}
END_TEST

static char *
s_nested (int depth, char open, char close, const char *prefix, const char *suffix)
{
    size_t length = strlen (prefix) + 2 * (size_t)depth + strlen (suffix) + 1;
    char *text = malloc (length);
    size_t at = 0;
    memcpy (text, prefix, strlen (prefix));
    at += strlen (prefix);
    memset (text + at, open, (size_t)depth);
    at += (size_t)depth;
    memset (text + at, close, (size_t)depth);
    at += (size_t)depth;
    memcpy (text + at, suffix, strlen (suffix) + 1);
    return text;
}

START_TEST (test_too_deep)
{
    cab_error_t error;
    //  10,000 levels of arrays: refused before jansson recurses.
    char *text = s_nested (10000, '[', ']', "", "");
    s_expect_load_error (text, strlen (text), CAB_ERR_TOO_DEEP, "");
    free (text);
    //  10,000 levels of objects, unbalanced (never closed).
    size_t size = 10000 * 6;
    text = malloc (size + 1);
    for (size_t i = 0; i < size; i += 6)
        memcpy (text + i, "{\"a\":", 6);
    text[size] = '\0';
    s_expect_load_error (text, size, CAB_ERR_TOO_DEEP, "");
    free (text);

    //  Inside an event: the envelope is level 1, detail level 2, so 62 more
    //  arrays reach the limit of 64 exactly; 63 are one too many.
    const char *head = VALID_EVENT;
    size_t cut = strlen (head) - 2;  //  Before the closing "}}"
    char prefix[1024];
    snprintf (prefix, sizeof prefix, "%.*s,\"deep\":", (int)cut, head);
    text = s_nested (CAB_EVENT_MAX_DEPTH - 2, '[', ']', prefix, "}}");
    cab_event_t *event = cab_event_load (text, strlen (text), &error);
    ck_assert_msg (event != NULL, "%s", error.text);
    cab_event_destroy (&event);
    free (text);
    text = s_nested (CAB_EVENT_MAX_DEPTH - 1, '[', ']', prefix, "}}");
    s_expect_load_error (text, strlen (text), CAB_ERR_TOO_DEEP, "");
    free (text);

    //  Brackets inside strings (and escaped quotes) do not count.
    char *brackets = s_nested (5000, '[', '{', "", "");
    char *escaped = malloc (strlen (brackets) + 1024);
    snprintf (escaped, strlen (brackets) + 1024, "%.*s,\"s\":\"\\\"%s\\\\\"}}", (int)cut, head,
              brackets);
    event = cab_event_load (escaped, strlen (escaped), &error);
    ck_assert_msg (event != NULL, "%s", error.text);
    cab_event_destroy (&event);
    free (escaped);
    free (brackets);
}
END_TEST

//  Replace (or remove, when value is NULL) one member of a valid event and
//  expect InvalidEnvelope at `path`.
static void
s_expect_envelope_error (const char *member, json_t *value, const char *path)
{
    json_t *document = s_valid_document ();
    json_t *parent = document;
    const char *name = member;
    if (strncmp (member, "detail/", 7) == 0) {
        parent = json_object_get (document, "detail");
        name = member + 7;
    }
    if (value)
        json_object_set_new (parent, name, value);
    else
        json_object_del (parent, name);
    //  Both ways in: the check on a document and the loader on text.
    cab_error_t error;
    ck_assert_int_eq (cab_event_check_envelope (document, &error), CAB_ERR_INVALID_ENVELOPE);
    ck_assert_msg (strcmp (error.path, path) == 0, "%s: path %s, want %s", member, error.path,
                   path);
    char *text = json_dumps (document, JSON_COMPACT);
    s_expect_load_error (text, strlen (text), CAB_ERR_INVALID_ENVELOPE, path);
    free (text);
    json_decref (document);
}

START_TEST (test_envelope_wrong_types)
{
    static const char *fields[] = {"version",         "id",
                                   "detail-type",     "source",
                                   "account",         "time",
                                   "region",          "resources",
                                   "detail",          "detail/schema_version",
                                   "detail/agent_id", "detail/correlation_id"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char path[64];
        snprintf (path, sizeof path, "/%s", fields[i]);
        bool is_string = strcmp (fields[i], "resources") && strcmp (fields[i], "detail");
        //  Every wrong JSON type, and the field missing.
        json_t *wrong[] = {json_integer (0), json_real (1.5), json_true (),     json_null (),
                           json_object (),   json_array (),   json_string ("x")};
        for (size_t j = 0; j < sizeof wrong / sizeof wrong[0]; j++) {
            bool right = is_string
                             ? json_is_string (wrong[j])
                             : (strcmp (fields[i], "resources") == 0 ? json_is_array (wrong[j])
                                                                     : json_is_object (wrong[j]));
            if (right || (json_is_string (wrong[j]) &&
                          (!strcmp (fields[i], "account") || !strcmp (fields[i], "region") ||
                           !strcmp (fields[i], "detail-type") || !strcmp (fields[i], "source") ||
                           !strcmp (fields[i], "detail/schema_version") ||
                           !strcmp (fields[i], "detail/agent_id")))) {
                json_decref (wrong[j]);
                continue;
            }
            const char *want = path;
            if (!strcmp (fields[i], "detail") && json_is_object (wrong[j]))
                want = "/detail/schema_version";
            s_expect_envelope_error (fields[i], wrong[j], want);
        }
        s_expect_envelope_error (fields[i], NULL, path);
    }
    //  A resource that is not a string names its index.
    s_expect_envelope_error ("resources", json_pack ("[s, i]", "arn:x", 3), "/resources/1");
    //  The event itself must be an object.
    cab_error_t error;
    json_t *array = json_array ();
    ck_assert_int_eq (cab_event_check_envelope (array, &error), CAB_ERR_INVALID_ENVELOPE);
    ck_assert_str_eq (error.path, "");
    json_decref (array);
    s_expect_load_error ("[]", 2, CAB_ERR_INVALID_ENVELOPE, "");
    s_expect_load_error ("\"event\"", 7, CAB_ERR_INVALID_ENVELOPE, "");
    ck_assert_int_eq (cab_event_check_envelope (NULL, &error), CAB_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST (test_envelope_bad_values)
{
    s_expect_envelope_error ("version", json_string ("1"), "/version");
    s_expect_envelope_error ("detail-type", json_string (""), "/detail-type");
    s_expect_envelope_error ("source", json_string (""), "/source");
    char name[258];
    memset (name, 's', 257);
    name[257] = '\0';
    s_expect_envelope_error ("source", json_string (name), "/source");
    static const char *bad_ids[] = {
        "",
        "0190e8a6-3c1b-7d2e-9f00-1234567890a",    //  Short
        "0190e8a6-3c1b-7d2e-9f00-1234567890abc",  //  Long
        "0190e8a63c1b-7d2e-9f00-1234567890abcd",  //  Hyphen moved
        "0190e8a6-3c1b-7d2e-9f00-1234567890ag",   //  Not hex
        "{0190e8a6-3c1b-7d2e-9f00-1234567890ab}",
        "urn:uuid:0190e8a6-3c1b-7d2e-9f00-12345678",
    };
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        s_expect_envelope_error ("id", json_string (bad_ids[i]), "/id");
        s_expect_envelope_error ("detail/correlation_id", json_string (bad_ids[i]),
                                 "/detail/correlation_id");
    }
    static const char *bad_times[] = {
        "",
        "2026-11-22",
        "2026-11-22T10:00:00",        //  No zone
        "2026-11-22T10:00:00+00:00",  //  Offset, not Z
        "2026-11-22 10:00:00Z",       //  Space
        "2026-11-22t10:00:00z",       //  Lowercase
        "2026-13-01T00:00:00Z",       //  Month 13
        "2026-02-29T00:00:00Z",       //  Not a leap year
        "2026-04-31T00:00:00Z",       //  April has 30 days
        "2026-11-22T24:00:00Z",       //  Hour 24
        "2026-11-22T10:60:00Z",       //  Minute 60
        "2026-11-22T10:00:61Z",       //  Second 61
        "2026-11-22T10:00:00.Z",      //  Empty fraction
        "2026-11-22T10:00:00.1234567890Z",
        "26-11-22T10:00:00Z",
        "2026-11-22T10:00:00ZZ",
        "yesterday",
    };
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++)
        s_expect_envelope_error ("time", json_string (bad_times[i]), "/time");
}
END_TEST

//  ---------------------------------------------------------------------
//  Ids and times

START_TEST (test_time_parse)
{
    int64_t millis;
    ck_assert_int_eq (cab_time_parse ("1970-01-01T00:00:00Z", &millis), CAB_OK);
    ck_assert_int_eq (millis, 0);
    ck_assert_int_eq (cab_time_parse ("2026-11-22T10:00:00Z", &millis), CAB_OK);
    ck_assert_int_eq (millis, 1795341600000LL);
    ck_assert_int_eq (cab_time_parse ("2026-11-22T10:00:00.5Z", &millis), CAB_OK);
    ck_assert_int_eq (millis, 1795341600500LL);
    ck_assert_int_eq (cab_time_parse ("2026-11-22T10:00:00.123456789Z", &millis), CAB_OK);
    ck_assert_int_eq (millis, 1795341600123LL);
    ck_assert_int_eq (cab_time_parse ("2024-02-29T23:59:59.999Z", &millis), CAB_OK);
    ck_assert_int_eq (millis, 1709251199999LL);
    ck_assert_int_eq (cab_time_parse ("2000-02-29T00:00:00Z", NULL), CAB_OK);
    ck_assert_int_eq (cab_time_parse ("1900-02-29T00:00:00Z", NULL), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_time_parse ("1969-12-31T23:59:59Z", &millis), CAB_OK);
    ck_assert_int_eq (millis, -1000);
    ck_assert_int_eq (cab_time_parse (NULL, &millis), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_time_parse ("2026-11-2", &millis), CAB_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST (test_time_civil)
{
    ck_assert_int_eq (cab_time_days_from_civil (1970, 1, 1), 0);
    ck_assert_int_eq (cab_time_days_from_civil (2000, 3, 1), 11017);
    ck_assert_int_eq (cab_time_days_from_civil (1969, 12, 31), -1);
    //  Every day from 1600 to 2400 goes there and back.
    for (int64_t days = -135140; days <= 157054; days++) {
        int64_t year;
        int month, day;
        cab_time_civil_from_days (days, &year, &month, &day);
        ck_assert (month >= 1 && month <= 12 && day >= 1 && day <= 31);
        ck_assert_int_eq (cab_time_days_from_civil (year, month, day), days);
    }
    int64_t year;
    int month, day;
    cab_time_civil_from_days (20779, &year, &month, &day);  //  2026-11-22
    ck_assert (year == 2026 && month == 11 && day == 22);
}
END_TEST

START_TEST (test_time_now)
{
    char buffer[CAB_TIME_LENGTH + 1];
    ck_assert_ptr_eq (cab_time_now (buffer), buffer);
    ck_assert_uint_eq (strlen (buffer), CAB_TIME_LENGTH);
    int64_t millis;
    ck_assert_int_eq (cab_time_parse (buffer, &millis), CAB_OK);
    ck_assert_int_lt (llabs (millis - (int64_t)time (NULL) * 1000), 2000);
    ck_assert_int_eq (buffer[10], 'T');
    ck_assert_int_eq (buffer[23], 'Z');
}
END_TEST

START_TEST (test_uuid_syntax)
{
    ck_assert (cab_uuid_valid ("0190e8a6-3c1b-7d2e-9f00-1234567890ab"));
    ck_assert (cab_uuid_valid ("0190E8A6-3C1B-4D2E-9F00-1234567890AB"));
    ck_assert (cab_uuid_valid ("00000000-0000-0000-0000-000000000000"));
    ck_assert (!cab_uuid_valid (NULL));
    ck_assert (!cab_uuid_valid (""));
    ck_assert (!cab_uuid_valid ("0190e8a6-3c1b-7d2e-9f00-1234567890a"));
    ck_assert (!cab_uuid_valid ("0190e8a6-3c1b-7d2e-9f00-1234567890abc"));
    ck_assert (!cab_uuid_valid ("0190e8a6x3c1b-7d2e-9f00-1234567890ab"));
}
END_TEST

START_TEST (test_uuid_v7_layout)
{
    char id[CAB_UUID_LENGTH + 1];
    int64_t before = (int64_t)time (NULL) * 1000;
    ck_assert_ptr_eq (cab_uuid_v7 (id), id);
    ck_assert (cab_uuid_valid (id));
    ck_assert_int_eq (id[14], '7');                   //  Version 7
    ck_assert_ptr_nonnull (strchr ("89ab", id[19]));  //  Variant 10
    //  The first 48 bits are the Unix time in milliseconds.
    char hex[13];
    memcpy (hex, id, 8);
    memcpy (hex + 8, id + 9, 4);
    hex[12] = '\0';
    int64_t millis = strtoll (hex, NULL, 16);
    ck_assert_int_ge (millis, before);
    ck_assert_int_lt (millis - before, 2000);
}
END_TEST

START_TEST (test_uuid_v7_monotonic)
{
    //  Many ids in the same millisecond still sort in creation order.
    enum { COUNT = 20000 };
    char (*ids)[CAB_UUID_LENGTH + 1] = malloc (COUNT * sizeof *ids);
    for (int i = 0; i < COUNT; i++)
        cab_uuid_v7 (ids[i]);
    for (int i = 1; i < COUNT; i++)
        ck_assert_msg (strcmp (ids[i - 1], ids[i]) < 0, "%s !< %s", ids[i - 1], ids[i]);
    free (ids);
}
END_TEST

enum { THREADS = 4, PER_THREAD = 5000 };
static char s_thread_ids[THREADS * PER_THREAD][CAB_UUID_LENGTH + 1];

static void *
s_make_ids (void *arg)
{
    char (*ids)[CAB_UUID_LENGTH + 1] = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        cab_uuid_v7 (ids[i]);
        if (i > 0 && strcmp (ids[i - 1], ids[i]) >= 0)
            return (void *)1;
    }
    return NULL;
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp (a, b);
}

START_TEST (test_uuid_v7_threads)
{
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq (
            pthread_create (&threads[i], NULL, s_make_ids, s_thread_ids[i * PER_THREAD]), 0);
    for (int i = 0; i < THREADS; i++) {
        void *result;
        pthread_join (threads[i], &result);
        ck_assert_ptr_null (result);  //  Each thread saw increasing ids
    }
    qsort (s_thread_ids, THREADS * PER_THREAD, sizeof s_thread_ids[0], s_compare);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        ck_assert_str_ne (s_thread_ids[i - 1], s_thread_ids[i]);
}
END_TEST

//  ---------------------------------------------------------------------
//  Out of memory: fail jansson's allocations in turn while loading.

static int s_allocations_left = -1;

static void *
s_malloc (size_t size)
{
    if (s_allocations_left == 0)
        return NULL;
    if (s_allocations_left > 0)
        s_allocations_left--;
    return malloc (size);
}

START_TEST (test_out_of_memory)
{
    json_set_alloc_funcs (s_malloc, free);
    bool succeeded = false;
    for (int budget = 0; budget < 200 && !succeeded; budget++) {
        s_allocations_left = budget;
        cab_error_t error;
        cab_event_t *event = cab_event_load (VALID_EVENT, strlen (VALID_EVENT), &error);
        if (event) {
            succeeded = true;
            ck_assert_str_eq (cab_event_agent_id (event), "monitor-001");
            cab_event_destroy (&event);
        } else
            //  jansson reports some failed allocations (a key, a string) as
            //  a syntax error at that token; either way: no crash, no leak.
            ck_assert_msg (error.code == CAB_ERR_NOMEM || error.code == CAB_ERR_INVALID_JSON,
                           "budget %d: %s", budget, error.text);
        s_allocations_left = budget;
        event = cab_event_new ("cabruca.agents.monitor", "Issue Detection", &error);
        if (event)
            cab_event_destroy (&event);
        else
            ck_assert_int_eq (error.code, CAB_ERR_NOMEM);
    }
    s_allocations_left = -1;
    json_set_alloc_funcs (malloc, free);
    ck_assert (succeeded);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_event");
    TCase *build = tcase_create ("build");
    tcase_add_test (build, test_new_defaults);
    tcase_add_test (build, test_new_bad_arguments);
    tcase_add_test (build, test_setters);
    tcase_add_test (build, test_round_trip);
    tcase_add_test (build, test_load_keeps_bytes);
    tcase_add_test (build, test_new_from_json);
    suite_add_tcase (suite, build);
    TCase *hostile = tcase_create ("hostile");
    tcase_add_test (hostile, test_malformed_json);
    tcase_add_test (hostile, test_invalid_utf8);
    tcase_add_test (hostile, test_setter_utf8);
    tcase_add_test (hostile, test_scan_long_strings);
    tcase_add_test (hostile, test_string_blocks);
    tcase_add_test (hostile, test_too_large);
    tcase_add_test (hostile, test_too_deep);
    tcase_add_test (hostile, test_envelope_wrong_types);
    tcase_add_test (hostile, test_envelope_bad_values);
    tcase_add_test (hostile, test_out_of_memory);
    suite_add_tcase (suite, hostile);
    TCase *ids = tcase_create ("ids and times");
    tcase_add_test (ids, test_time_parse);
    tcase_add_test (ids, test_time_civil);
    tcase_add_test (ids, test_time_now);
    tcase_add_test (ids, test_uuid_syntax);
    tcase_add_test (ids, test_uuid_v7_layout);
    tcase_add_test (ids, test_uuid_v7_monotonic);
    tcase_add_test (ids, test_uuid_v7_threads);
    suite_add_tcase (suite, ids);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
