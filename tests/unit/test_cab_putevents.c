/*  =========================================================================
    test_cab_putevents - PutEvents entries, batches and responses
    =========================================================================
*/
#include "cab_putevents.h"
#include "failmalloc.h"
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
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
    //  Detail is the detail object's text as a JSON string: order, escapes
    //  and all, byte for byte.
    const char *detail = json_string_value (json_object_get (json, "Detail"));
    ck_assert_str_eq (detail, "{\"severity\":\"HIGH\",\"msg\":\"caf\\u00e9\"}");
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

//  ---- Entries from the text, without a parse tree ---------------------------

//  The entry as the jansson path built it before (parse the event, dump the
//  detail compact in order, write the entry): the reference for text
//  without escapes and with integers only, where both must agree byte for
//  byte. Returns a new string, NULL when the event is not an entry.
//  With `detail_text` (may be NULL), Detail is that string instead.
static char *
s_jansson_entry (const char *text, const char *bus_name, const char *detail_text)
{
    json_t *event = json_loads (text, JSON_REJECT_DUPLICATES, NULL);
    json_t *resources = json_object_get (event, "resources");
    json_t *time = json_object_get (event, "time");
    char *detail = detail_text ? strdup (detail_text)
                               : json_dumps (json_object_get (event, "detail"),
                                             JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *entry = json_object ();
    json_object_set (entry, "Source", json_object_get (event, "source"));
    json_object_set (entry, "DetailType", json_object_get (event, "detail-type"));
    json_object_set_new (entry, "Detail", json_string (detail));
    if (json_array_size (resources) > 0)
        json_object_set (entry, "Resources", resources);
    if (time) {
        int64_t millis = 0;
        ck_assert_int_eq (cab_time_parse (json_string_value (time), &millis), CAB_OK);
        json_object_set_new (entry, "Time", json_integer (millis / 1000));
    }
    if (bus_name)
        json_object_set_new (entry, "EventBusName", json_string (bus_name));
    char *result = json_dumps (entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
    free (detail);
    json_decref (entry);
    json_decref (event);
    return result;
}

//  Build the entry of `text` (must succeed) and check that the size alone
//  agrees; returns the entry's JSON text (caller frees).
static char *
s_entry_text (const char *text, size_t *size_p)
{
    cab_putevents_entry_t entry;
    cab_error_t error;
    size_t size = 99;
    ck_assert_int_eq (cab_putevents_entry_size_text (text, strlen (text), &size, &error), CAB_OK);
    ck_assert_int_eq (cab_putevents_entry_build (text, strlen (text), "bus", &entry, &error),
                      CAB_OK);
    ck_assert_uint_eq (entry.size, size);
    ck_assert_uint_eq (entry.json_length, strlen (entry.json));
    if (size_p)
        *size_p = size;
    return entry.json;
}

START_TEST (test_entry_text_compact)
{
    const char *event =
        "{\"version\":\"0\",\"id\":\"6a7e\",\"detail-type\":\"Issue Detection\","
        "\"source\":\"cabruca.agents.monitor\",\"account\":\"local\","
        "\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\","
        "\"resources\":[\"arn:a\",\"arn:b\"],"
        "\"detail\":{\"severity\":\"HIGH\",\"n\":12,\"ok\":true,\"list\":[1,-2,{\"x\":null}],"
        "\"e\":{},\"a\":[],\"msg\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}}";
    size_t size;
    char *json = s_entry_text (event, &size);
    ck_assert_str_eq (
        json, "{\"Source\":\"cabruca.agents.monitor\",\"DetailType\":\"Issue Detection\","
              "\"Detail\":\"{\\\"severity\\\":\\\"HIGH\\\",\\\"n\\\":12,\\\"ok\\\":true,"
              "\\\"list\\\":[1,-2,{\\\"x\\\":null}],\\\"e\\\":{},\\\"a\\\":[],"
              "\\\"msg\\\":\\\"caf\xc3\xa9 \xf0\x9f\x98\x80\\\"}\","
              "\"Resources\":[\"arn:a\",\"arn:b\"],\"Time\":1795341600,\"EventBusName\":\"bus\"}");
    //  Identical to what the parse tree gave.
    char *reference = s_jansson_entry (event, "bus", NULL);
    ck_assert_str_eq (json, reference);
    const char *detail = strstr (event, "\"detail\":") + strlen ("\"detail\":");
    ck_assert_uint_eq (size, 14 + strlen ("cabruca.agents.monitor") + strlen ("Issue Detection") +
                                 strlen (detail) - 1 + strlen ("arn:a") + strlen ("arn:b"));
    free (reference);
    free (json);
}
END_TEST

START_TEST (test_entry_text_whitespace)
{
    const char *event = " \r\n{ \"detail\" :\n\t{ \"a\" : [ 1 ,\n 2 ] ,\r\n \"s\" : \" x  y\\t \" ,"
                        "\"o\":{ } , \"l\" : [ ] }\n, \"source\"\t:\t\"s\" , \"detail-type\" : "
                        "\"t\",\n\"resources\" : [ ] } \n\n";
    size_t size;
    char *json = s_entry_text (event, &size);
    //  Whitespace inside strings (and escapes) stays; empty resources are left out,
    //  and so is Time when the event has none.
    ck_assert_str_eq (json, "{\"Source\":\"s\",\"DetailType\":\"t\",\"Detail\":"
                            "\"{\\\"a\\\":[1,2],\\\"s\\\":\\\" x  y\\\\t \\\",\\\"o\\\":{},"
                            "\\\"l\\\":[]}\",\"EventBusName\":\"bus\"}");
    ck_assert_uint_eq (size,
                       1 + 1 + strlen ("{\"a\":[1,2],\"s\":\" x  y\\t \",\"o\":{},\"l\":[]}"));
    char *reference = s_jansson_entry (event, "bus", NULL);
    ck_assert_str_eq (json, reference);  //  jansson writes \t back as \t
    free (reference);
    free (json);
}
END_TEST

START_TEST (test_entry_text_escapes)
{
    //  Escapes stay as written in Detail; Source, DetailType and Resources
    //  are unescaped (and escaped again by the entry's JSON writer).
    const char *event =
        "{\"source\":\"caf\\u00e9\\/x\",\"detail-type\":\"q\\\"\\\\\\ud83d\\ude00\","
        "\"resources\":[\"r\\u00e9\",\"\\/\"],\"time\":\"2026-11-22T10:00:00.5Z\","
        "\"detail\":{\"k\\u00e9\":\"\\\" \\\\ \\/ \\ud83d\\ude00 "
        "\\u00e9\",\"n\":[1.0e2,-0,0.1,1E-7]}}";
    size_t size;
    char *json = s_entry_text (event, &size);
    json_t *entry = json_loads (json, 0, NULL);
    ck_assert_ptr_nonnull (entry);
    ck_assert_str_eq (json_string_value (json_object_get (entry, "Source")), "caf\xc3\xa9/x");
    ck_assert_str_eq (json_string_value (json_object_get (entry, "DetailType")),
                      "q\"\\\xf0\x9f\x98\x80");
    json_t *resources = json_object_get (entry, "Resources");
    ck_assert_str_eq (json_string_value (json_array_get (resources, 0)), "r\xc3\xa9");
    ck_assert_str_eq (json_string_value (json_array_get (resources, 1)), "/");
    const char *detail = json_string_value (json_object_get (entry, "Detail"));
    ck_assert_str_eq (detail, "{\"k\\u00e9\":\"\\\" \\\\ \\/ \\ud83d\\ude00 \\u00e9\","
                              "\"n\":[1.0e2,-0,0.1,1E-7]}");
    ck_assert_int_eq (json_integer_value (json_object_get (entry, "Time")), 1795341600);
    //  The size counts UTF-8 bytes of the unescaped strings and Detail as sent.
    ck_assert_uint_eq (size, 14 + strlen ("caf\xc3\xa9/x") + strlen ("q\"\\\xf0\x9f\x98\x80") +
                                 strlen ("r\xc3\xa9") + 1 + strlen (detail));
    //  A bus name with characters to escape, written as jansson does.
    cab_putevents_entry_t entry_bus;
    const char *bus = "b\"u\\s\x01\x1f\t/\xc3\xa9";
    ck_assert_int_eq (cab_putevents_entry_build (event, strlen (event), bus, &entry_bus, NULL),
                      CAB_OK);
    json_t *bus_json = json_string (bus);
    char *bus_text = json_dumps (bus_json, JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull (strstr (entry_bus.json, bus_text));
    const char *written = strstr (entry_bus.json, "\"EventBusName\":") + 15;
    ck_assert_uint_eq (strlen (written), strlen (bus_text) + 1);  //  and the '}'
    ck_assert_int_eq (strncmp (written, bus_text, strlen (bus_text)), 0);
    ck_assert_ptr_nonnull (strstr (bus_text, "\\u0001\\u001F\\t"));
    free (bus_text);
    json_decref (bus_json);
    cab_putevents_entry_clear (&entry_bus);
    ck_assert_int_eq (cab_putevents_entry_build (event, strlen (event), "\xff", &entry_bus, NULL),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (entry_bus.json);
    //  Member names may be escaped too.
    const char *named = "{\"sourc\\u0065\":\"s\",\"detail\\u002dtype\":\"t\",\"detail\":{}}";
    char *other = s_entry_text (named, &size);
    ck_assert_uint_eq (size, 4);
    free (other);
    json_decref (entry);
    free (json);
}
END_TEST

START_TEST (test_entry_text_refuses)
{
    const char *good = "\"source\":\"s\",\"detail-type\":\"t\"";
    char text[512];
    const char *bad[][2] = {
        {"", "InvalidJson"},
        {"   ", "InvalidJson"},
        {"nope", "InvalidJson"},
        {"\"a string\"", "InvalidJson"},
        {"42", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":[1,2}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":1}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":1}} x", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":01}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":1.}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":tru}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":\"\\u0000\"}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":\"\\ud800\"}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":\"\\q\"}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":\"\xc3\"}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":\"\xed\xa0\x80\"}}",
         "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":\"x\ty\"}}", "InvalidJson"},
        {"{\"source\":\"s\",\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{},\"detail\":{}}", "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{},\"tim\\u0065\":\"x\",\"time\":"
         "\"x\"}",
         "InvalidJson"},
        {"{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{},}", "InvalidJson"},
        {"[]", "InvalidEnvelope"},
        {"[{\"source\":\"s\"}]", "InvalidEnvelope"},
        {"{}", "InvalidEnvelope"},
        {"{\"source\":1,\"detail-type\":\"x\",\"detail\":{}}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":null,\"detail\":{}}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\"}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":\"text\"}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":[]}", "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"resources\":[1]}",
         "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"resources\":[\"a\",[]]}",
         "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"resources\":\"a\"}",
         "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"resources\":null}",
         "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"time\":\"yesterday\"}",
         "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"time\":1795341600}",
         "InvalidEnvelope"},
        {"{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{},\"time\":\"2026-02-30T10:00:00Z\"}",
         "InvalidEnvelope"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cab_putevents_entry_t entry;
        cab_error_t error;
        size_t size = 99;
        ck_assert_msg (
            cab_putevents_entry_size_text (bad[i][0], strlen (bad[i][0]), &size, &error) != CAB_OK,
            "accepted: %s", bad[i][0]);
        ck_assert_msg (strcmp (cab_status_name (error.code), bad[i][1]) == 0, "%s: %s (%s)",
                       bad[i][0], cab_status_name (error.code), error.text);
        ck_assert_uint_eq (size, 0);
        ck_assert_int_eq (
            cab_putevents_entry_build (bad[i][0], strlen (bad[i][0]), "bus", &entry, &error),
            error.code);
        ck_assert_ptr_null (entry.json);
    }
    //  Every truncation of a good event is not JSON.
    snprintf (text, sizeof text, "{%s,\"detail\":{\"a\":[1,\"\\u00e9\",true,null,{}]}}", good);
    for (size_t length = 0; length < strlen (text); length++) {
        cab_error_t error;
        ck_assert_int_eq (cab_putevents_entry_size_text (text, length, NULL, &error),
                          CAB_ERR_INVALID_JSON);
    }
    ck_assert_int_eq (cab_putevents_entry_size_text (text, strlen (text), NULL, NULL), CAB_OK);
    ck_assert_int_eq (cab_putevents_entry_size_text (NULL, 0, NULL, NULL), CAB_ERR_INVALID_JSON);
}
END_TEST

//  Nesting: jansson's 2048 levels (the event object is the first, the
//  detail object the second), and jansson agrees.
START_TEST (test_entry_text_depth)
{
    const char *head = "{\"source\":\"s\",\"detail-type\":\"t\",\"detail\":{\"a\":";
    for (size_t arrays = 2046; arrays <= 2047; arrays++) {
        size_t length = strlen (head) + 2 * arrays + 3;
        char *text = malloc (length);
        size_t at = (size_t)snprintf (text, length, "%s", head);
        memset (text + at, '[', arrays);
        memset (text + at + arrays, ']', arrays);
        memcpy (text + at + 2 * arrays, "}}", 3);
        cab_error_t error;
        cab_status_t status = cab_putevents_entry_size_text (text, strlen (text), NULL, &error);
        ck_assert_int_eq (status, arrays == 2046 ? CAB_OK : CAB_ERR_INVALID_JSON);
        json_t *parsed = json_loads (text, 0, NULL);
        ck_assert ((parsed != NULL) == (status == CAB_OK));
        json_decref (parsed);
        free (text);
    }
}
END_TEST

START_TEST (test_entry_text_too_large)
{
    //  The limit counts the minified detail: padding with whitespace does
    //  not make an entry too large, padding a string does.
    size_t pad = CAB_PUTEVENTS_MAX_SIZE;
    char *big = malloc (pad + 200);
    int head = snprintf (big, 100, "{\"source\":\"s\",\"detail-type\":\"x\",\"detail\":{\"p\":");
    memset (big + head, ' ', pad);
    memcpy (big + head + pad, "1}}", 4);
    size_t size = 0;
    ck_assert_int_eq (cab_putevents_entry_size_text (big, strlen (big), &size, NULL), CAB_OK);
    ck_assert_uint_eq (size, 2 + strlen ("{\"p\":1}"));
    big[head] = '"';
    memset (big + head + 1, 'x', pad - 1);
    memcpy (big + head + pad, "\"}}", 4);
    cab_error_t error;
    ck_assert_int_eq (cab_putevents_entry_size_text (big, strlen (big), &size, &error),
                      CAB_ERR_TOO_LARGE);
    cab_putevents_entry_t entry;
    ck_assert_int_eq (cab_putevents_entry_build (big, strlen (big), NULL, &entry, &error),
                      CAB_ERR_TOO_LARGE);
    ck_assert_ptr_null (entry.json);
    //  Exactly at the limit minus one byte is fine.
    size_t fixed = 1 + 1 + strlen ("{\"p\":\"\"}");
    size_t fill = CAB_PUTEVENTS_MAX_SIZE - 1 - fixed;
    memset (big + head + 1, 'x', fill);
    memcpy (big + head + 1 + fill, "\"}}", 4);
    ck_assert_int_eq (cab_putevents_entry_size_text (big, strlen (big), &size, &error), CAB_OK);
    ck_assert_uint_eq (size, CAB_PUTEVENTS_MAX_SIZE - 1);
    free (big);
}
END_TEST

//  ---- Generated events: the size and the entry always agree ---------------

typedef struct {
    char *text;
    size_t length;
    size_t capacity;
    uint32_t seed;
    bool escapes;  //  strings may hold escapes, numbers may be reals
} s_gen_t;

static uint32_t
s_rand (s_gen_t *gen, uint32_t range)
{
    gen->seed = gen->seed * 1103515245u + 12345u;
    return (gen->seed >> 16) % range;
}

static void
s_put (s_gen_t *gen, const char *text)
{
    size_t length = strlen (text);
    ck_assert (gen->length + length < gen->capacity);
    memcpy (gen->text + gen->length, text, length + 1);
    gen->length += length;
}

static void
s_blank (s_gen_t *gen)
{
    static const char *const blanks[] = {"", "", "", " ", "\n", "\t", "\r\n", "  \n "};
    s_put (gen, blanks[s_rand (gen, 8)]);
}

static void
s_gen_string (s_gen_t *gen)
{
    static const char *const plain[] = {
        "a", "Z", " ", "0", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "-",
        ":", "{", "]", ","};
    static const char *const escaped[] = {
        "\\\"",    "\\\\",           "\\/",    "\\n", "\\t", "\\b", "\\u00e9",
        "\\u20AC", "\\ud83d\\ude00", "\\u001f"};
    s_put (gen, "\"");
    for (uint32_t count = s_rand (gen, 6); count > 0; count--) {
        if (gen->escapes && s_rand (gen, 3) == 0)
            s_put (gen, escaped[s_rand (gen, 10)]);
        else
            s_put (gen, plain[s_rand (gen, 12)]);
    }
    s_put (gen, "\"");
}

static void
s_gen_value (s_gen_t *gen, int depth)
{
    static const char *const integers[] = {"0", "-1", "42", "123456789", "-0"};
    static const char *const reals[] = {"1.0e2", "0.1", "-2.5E-3", "1e9", "3.0"};
    uint32_t kind = s_rand (gen, depth > 3 ? 4 : 6);
    if (kind == 0)
        s_gen_string (gen);
    else if (kind == 1)
        s_put (gen, gen->escapes ? reals[s_rand (gen, 5)] : integers[s_rand (gen, 4)]);
    else if (kind == 2)
        s_put (gen, integers[s_rand (gen, 4)]);
    else if (kind == 3)
        s_put (gen, s_rand (gen, 2) ? "true" : s_rand (gen, 2) ? "false" : "null");
    else {
        bool object = kind == 4;
        s_put (gen, object ? "{" : "[");
        for (uint32_t index = 0, count = s_rand (gen, 4); index < count; index++) {
            s_blank (gen);
            if (index > 0) {
                s_put (gen, ",");
                s_blank (gen);
            }
            if (object) {
                char key[16];
                snprintf (key, sizeof key, "\"k%u\"", index);
                s_put (gen, key);
                s_blank (gen);
                s_put (gen, ":");
                s_blank (gen);
            }
            s_gen_value (gen, depth + 1);
        }
        s_blank (gen);
        s_put (gen, object ? "}" : "]");
    }
}

static void
s_gen_event (s_gen_t *gen)
{
    gen->length = 0;
    gen->text[0] = 0;
    const char *order[] = {"source", "detail-type", "detail", "resources", "time", "id"};
    s_blank (gen);
    s_put (gen, "{");
    for (size_t i = 0; i < 6; i++) {
        size_t at = (i + s_rand (gen, 2)) % 6;  //  a little shuffle
        const char *swap = order[i];
        order[i] = order[at];
        order[at] = swap;
    }
    bool first = true;
    for (size_t i = 0; i < 6; i++) {
        const char *name = order[i];
        if ((!strcmp (name, "resources") || !strcmp (name, "time") || !strcmp (name, "id")) &&
            s_rand (gen, 2))
            continue;
        s_blank (gen);
        if (!first)
            s_put (gen, ",");
        first = false;
        s_blank (gen);
        char key[32];
        snprintf (key, sizeof key, "\"%s\"", name);
        s_put (gen, key);
        s_blank (gen);
        s_put (gen, ":");
        s_blank (gen);
        if (!strcmp (name, "detail")) {
            s_put (gen, "{");
            s_blank (gen);
            s_put (gen, "\"x\":");
            s_gen_value (gen, 1);
            s_blank (gen);
            s_put (gen, "}");
        } else if (!strcmp (name, "resources")) {
            s_put (gen, "[");
            for (uint32_t index = 0, count = s_rand (gen, 4); index < count; index++) {
                s_put (gen, index ? " , " : "");
                s_gen_string (gen);
            }
            s_put (gen, "]");
        } else if (!strcmp (name, "time"))
            s_put (gen, "\"2026-11-22T10:00:00.123Z\"");
        else if (!strcmp (name, "id"))
            s_gen_value (gen, 0);
        else
            s_gen_string (gen);
    }
    s_blank (gen);
    s_put (gen, "}");
    s_blank (gen);
}

START_TEST (test_entry_text_generated)
{
    s_gen_t gen = {malloc (65536), 0, 65536, 7, false};
    for (int round = 0; round < 4000; round++) {
        gen.escapes = round % 2 == 1;
        s_gen_event (&gen);
        size_t size = 0;
        char *json = s_entry_text (gen.text, &size);
        json_t *entry = json_loads (json, JSON_REJECT_DUPLICATES, NULL);
        json_t *event = json_loads (gen.text, JSON_REJECT_DUPLICATES, NULL);
        ck_assert_ptr_nonnull (entry);
        ck_assert_ptr_nonnull (event);
        //  The size is the one computed from the entry's strings.
        json_t *resources = json_object_get (entry, "Resources");
        const char *items[4] = {NULL};
        for (size_t index = 0; index < json_array_size (resources) && index < 4; index++)
            items[index] = json_string_value (json_array_get (resources, index));
        const char *detail = json_string_value (json_object_get (entry, "Detail"));
        ck_assert_uint_eq (size, cab_putevents_entry_size (
                                     json_string_value (json_object_get (entry, "Source")),
                                     json_string_value (json_object_get (entry, "DetailType")),
                                     detail, items, json_array_size (resources),
                                     json_object_get (entry, "Time") != NULL));
        //  Detail has no whitespace outside its strings and is the detail.
        json_t *parsed = json_loads (detail, JSON_DECODE_ANY, NULL);
        ck_assert_msg (json_equal (parsed, json_object_get (event, "detail")), "%s", gen.text);
        ck_assert (
            json_equal (json_object_get (entry, "Source"), json_object_get (event, "source")));
        ck_assert (json_equal (json_object_get (entry, "DetailType"),
                               json_object_get (event, "detail-type")));
        json_t *original = json_object_get (event, "resources");
        ck_assert (json_array_size (original) == 0 ? resources == NULL
                                                   : json_equal (resources, original));
        //  Without escapes and reals, the jansson path gave the same bytes;
        //  with them, the same bytes but for Detail (kept as written).
        char *reference = s_jansson_entry (gen.text, "bus", gen.escapes ? detail : NULL);
        ck_assert_str_eq (json, reference);
        free (reference);
        json_decref (parsed);
        json_decref (event);
        json_decref (entry);
        free (json);
    }
    free (gen.text);
}
END_TEST

//  Strings are read eight bytes at a time until a byte that needs a look:
//  a quote, an escape, non-ASCII or a control character at every offset of
//  the first blocks gives the entry jansson gives (or the refusal).
START_TEST (test_entry_text_string_blocks)
{
    const char *specials[] = {"\\\"", "\\n", "\\u00e9", "\xc3\xa9", "\xe2\x82\xac", "\\\\"};
    const size_t kinds = sizeof specials / sizeof *specials;
    //  Offsets through three blocks of sixteen (SSE2) and five of eight.
    for (int offset = 0; offset < 40; offset++)
        for (size_t kind = 0; kind < kinds + 2; kind++) {
            char text[256], value[64];
            //  refused: a raw control character, a broken UTF-8 sequence
            const char *special = kind < kinds ? specials[kind] : kind == kinds ? "\x01" : "\xc3(";
            snprintf (value, sizeof value, "%.*s%sbbbbbbbbbbb", offset,
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", special);
            snprintf (text, sizeof text,
                      "{\"source\":\"src-%s\",\"detail-type\":\"t\",\"detail\":{\"k\":\"%s\"}}",
                      value, value);
            if (kind >= kinds) {
                cab_error_t error;
                cab_status_t refused =
                    cab_putevents_entry_size_text (text, strlen (text), NULL, &error);
                ck_assert_msg (refused == CAB_ERR_INVALID_JSON || refused == CAB_ERR_INVALID_UTF8,
                               "offset %d, kind %zu: %s", offset, kind, cab_status_name (refused));
                continue;
            }
            size_t size = 0;
            char *json = s_entry_text (text, &size);
            json_t *entry = json_loads (json, 0, NULL);
            ck_assert_ptr_nonnull (entry);
            const char *source = json_string_value (json_object_get (entry, "Source"));
            const char *detail = json_string_value (json_object_get (entry, "Detail"));
            ck_assert_uint_eq (size,
                               cab_putevents_entry_size (source, "t", detail, NULL, 0, false));
            json_t *event = json_loads (text, 0, NULL);
            ck_assert_msg (
                json_equal (json_object_get (entry, "Source"), json_object_get (event, "source")),
                "offset %d, kind %zu", offset, kind);
            json_decref (event);
            json_decref (entry);
            free (json);
        }
}
END_TEST

//  Every allocation (ours, jansson's: failmalloc.c) of an entry fails in
//  turn: NoMemory or the entry, never a leak. The size alone allocates
//  nothing.
START_TEST (test_entry_text_allocation_failures)
{
    if (!failmalloc_active ()) {
        printf ("allocation failures: skipped (allocations not interposed here)\n");
        return;
    }
    //  The time escaped character by character: 120 bytes in the text.
    const char *event =
        "{ \"source\":\"caf\\u00e9\",\"detail-type\":\"t\",\"resources\":[\"a\",\"b\"],\"time\":\""
        "\\u0032\\u0030\\u0032\\u0036\\u002d\\u0031\\u0031\\u002d\\u0032\\u0032\\u0054\\u0031"
        "\\u0030\\u003a\\u0030\\u0030\\u003a\\u0030\\u0030\\u005a\",\"detail\":{ \"k\" : [1, 2] } "
        "}";
    size_t size = 0;
    cab_error_t error;
    long live = failmalloc_live ();
    failmalloc_arm (0);
    cab_status_t checked = cab_putevents_entry_size_text (event, strlen (event), &size, &error);
    long allocations = failmalloc_disarm ();
    ck_assert_int_eq (checked, CAB_OK);
    ck_assert_int_eq (allocations, 0);
    ck_assert_uint_eq (size, 14 + 5 + 1 + 2 + strlen ("{\"k\":[1,2]}"));
    ck_assert_int_eq (failmalloc_live (), live);
    cab_putevents_entry_t reference;
    ck_assert_int_eq (cab_putevents_entry_build (event, strlen (event), "bus", &reference, &error),
                      CAB_OK);
    char *expected = reference.json;
    live = failmalloc_live ();
    bool succeeded = false;
    for (long at = 1; at < 1000 && !succeeded; at++) {
        cab_putevents_entry_t entry;
        failmalloc_arm (at);
        cab_status_t status =
            cab_putevents_entry_build (event, strlen (event), "bus", &entry, &error);
        failmalloc_disarm ();
        bool failed = failmalloc_failed ();
        if (status == CAB_OK) {
            ck_assert_str_eq (entry.json, expected);
            succeeded = !failed;
        } else {
            ck_assert_int_eq (status, CAB_ERR_NOMEM);
            ck_assert_ptr_null (entry.json);
        }
        cab_putevents_entry_clear (&entry);
        ck_assert_msg (failmalloc_live () == live, "allocation %ld: %ld blocks leaked", at,
                       failmalloc_live () - live);
    }
    ck_assert (succeeded);
    cab_putevents_entry_clear (&reference);
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
    tcase_add_test (tcase, test_entry_text_compact);
    tcase_add_test (tcase, test_entry_text_whitespace);
    tcase_add_test (tcase, test_entry_text_escapes);
    tcase_add_test (tcase, test_entry_text_refuses);
    tcase_add_test (tcase, test_entry_text_depth);
    tcase_add_test (tcase, test_entry_text_too_large);
    tcase_add_test (tcase, test_entry_text_generated);
    tcase_add_test (tcase, test_entry_text_string_blocks);
    tcase_add_test (tcase, test_entry_text_allocation_failures);
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
