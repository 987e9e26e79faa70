/*  =========================================================================
    fuzz_putevents - what the mirror reads back from EventBridge and what
    it builds from stored events (cab_putevents, core/daemon): the
    PutEvents response parser, the AWS JSON 1.1 error parser, and the
    request entry built from an event's text (and its size alone).

    The first byte picks how many entries the response should have (0 to
    11: PutEvents sends at most 10); the rest is the body.

    Oracles: a response is refused with InvalidJson or ProtocolError, or
    every entry has an EventId or an ErrorCode and the failed count is the
    number of ErrorCodes; the error parser returns terminated strings (also
    into tiny buffers) and empty ones when it refuses; an entry built from
    the body is a JSON object of json_length bytes, below the request
    limit, that a request body wraps into valid JSON; the size alone
    (cab_putevents_entry_size_text) gives the same verdict and size, the
    size is the sum of the entry's strings, and Detail parses as the
    event's detail, and the entry is the text jansson writes for the same
    values.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_putevents.h"
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void
s_response (const char *body, size_t size, size_t expected)
{
    cab_putevents_result_t results[CAB_PUTEVENTS_MAX_ENTRIES + 1];
    memset (results, 0x5a, sizeof results);
    size_t failed = 99;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status =
        cab_putevents_response_parse (body, size, expected, results, &failed, &error);
    if (status != CAB_OK) {
        FUZZ_ASSERT (status == CAB_ERR_INVALID_JSON || status == CAB_ERR_PROTOCOL);
        FUZZ_ASSERT (error.code == status && error.text[0]);
        return;
    }
    size_t errors = 0;
    for (size_t index = 0; index < expected; index++) {
        cab_putevents_result_t *result = &results[index];
        FUZZ_ASSERT (memchr (result->event_id, 0, sizeof result->event_id));
        FUZZ_ASSERT (memchr (result->error_code, 0, sizeof result->error_code));
        FUZZ_ASSERT (memchr (result->error_message, 0, sizeof result->error_message));
        FUZZ_ASSERT (result->event_id[0] || result->error_code[0]);
        errors += result->error_code[0] != 0;
        //  Whatever the code, asking whether to retry is safe.
        (void)cab_putevents_retryable (result->error_code);
    }
    FUZZ_ASSERT (failed == errors);
}

static void
s_error_body (const char *body, size_t size, size_t type_size, size_t message_size)
{
    char type[80], message[300];
    memset (type, 0x5a, sizeof type);
    memset (message, 0x5a, sizeof message);
    cab_status_t status =
        cab_putevents_error_parse (body, size, type, type_size, message, message_size);
    FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_INVALID_JSON);
    FUZZ_ASSERT (memchr (type, 0, type_size) && memchr (message, 0, message_size));
    if (status != CAB_OK)
        FUZZ_ASSERT (type[0] == 0 && message[0] == 0);
    else
        FUZZ_ASSERT (strchr (type, '#') == NULL);
}

static void
s_entry (const char *text, size_t size)
{
    cab_putevents_entry_t entry;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status = cab_putevents_entry_build (text, size, "cabruca-bus", &entry, &error);
    //  The size alone agrees with the entry: same verdict, same size.
    size_t alone = 99;
    cab_error_t alone_error;
    cab_error_clear (&alone_error);
    cab_status_t checked = cab_putevents_entry_size_text (text, size, &alone, &alone_error);
    FUZZ_ASSERT (checked == status || status == CAB_ERR_NOMEM || checked == CAB_ERR_NOMEM);
    FUZZ_ASSERT (checked == CAB_OK ? alone < CAB_PUTEVENTS_MAX_SIZE : alone == 0);
    if (status != CAB_OK) {
        FUZZ_ASSERT (status == CAB_ERR_INVALID_JSON || status == CAB_ERR_INVALID_ENVELOPE ||
                     status == CAB_ERR_TOO_LARGE || status == CAB_ERR_NOMEM);
        FUZZ_ASSERT (error.code == status);
        return;
    }
    FUZZ_ASSERT (entry.json && strlen (entry.json) == entry.json_length);
    FUZZ_ASSERT (entry.size < CAB_PUTEVENTS_MAX_SIZE);
    FUZZ_ASSERT (checked != CAB_OK || alone == entry.size);
    FUZZ_ASSERT (cab_putevents_chunks (entry.size) >= 1);
    json_t *parsed = json_loadb (entry.json, entry.json_length, 0, NULL);
    FUZZ_ASSERT (json_is_object (parsed));
    FUZZ_ASSERT (json_is_string (json_object_get (parsed, "Source")));
    //  The size is the one of the entry's strings as sent, and Detail is
    //  the event's detail (the text parses as the same value).
    json_t *resources = json_object_get (parsed, "Resources");
    size_t counted = json_object_get (parsed, "Time") ? 14 : 0;
    const char *fields[] = {"Source", "DetailType", "Detail"};
    for (size_t index = 0; index < 3; index++)
        counted += json_string_length (json_object_get (parsed, fields[index]));
    for (size_t index = 0; index < json_array_size (resources); index++)
        counted += json_string_length (json_array_get (resources, index));
    FUZZ_ASSERT (counted == entry.size);
    json_t *event = json_loadb (text, size, JSON_REJECT_DUPLICATES, NULL);
    const char *detail = json_string_value (json_object_get (parsed, "Detail"));
    json_t *detail_json = detail ? json_loads (detail, 0, NULL) : NULL;
    if (event) {
        FUZZ_ASSERT (json_equal (detail_json, json_object_get (event, "detail")));
        //  Byte for byte what jansson writes for the same values.
        json_t *time = json_object_get (event, "time");
        int64_t millis = 0;
        FUZZ_ASSERT (!time || cab_time_parse (json_string_value (time), &millis) == CAB_OK);
        json_t *same = json_object ();
        json_t *items = json_object_get (event, "resources");
        json_object_set (same, "Source", json_object_get (event, "source"));
        json_object_set (same, "DetailType", json_object_get (event, "detail-type"));
        json_object_set_new (same, "Detail", json_string (detail));
        if (json_array_size (items) > 0)
            json_object_set (same, "Resources", items);
        if (time)
            json_object_set_new (same, "Time", json_integer (millis / 1000));
        json_object_set_new (same, "EventBusName", json_string ("cabruca-bus"));
        char *text_same = json_dumps (same, JSON_COMPACT | JSON_PRESERVE_ORDER);
        FUZZ_ASSERT (text_same && strcmp (text_same, entry.json) == 0);
        free (text_same);
        json_decref (same);
    }
    json_decref (detail_json);
    json_decref (event);
    json_decref (parsed);
    const cab_putevents_entry_t *entries[2] = {&entry, &entry};
    size_t length = 0;
    char *body = cab_putevents_body_new (entries, 2, &length);
    if (body) {
        json_t *request = json_loadb (body, length, 0, NULL);
        FUZZ_ASSERT (json_array_size (json_object_get (request, "Entries")) == 2);
        json_decref (request);
        free (body);
    }
    size_t sizes[2] = {entry.size, entry.size};
    size_t fit = cab_putevents_batch_fit (sizes, 2);
    FUZZ_ASSERT (fit >= 1 && fit <= 2);
    cab_putevents_entry_clear (&entry);
    FUZZ_ASSERT (entry.json == NULL);
    cab_putevents_entry_clear (&entry);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t expected = data[0] % (CAB_PUTEVENTS_MAX_ENTRIES + 2);
    const char *body = (const char *)data + 1;
    size--;
    s_response (body, size, expected);
    s_error_body (body, size, 80, 300);
    s_error_body (body, size, 1 + data[0] % 4, 1 + data[0] % 3);
    s_entry (body, size);
    return 0;
}
