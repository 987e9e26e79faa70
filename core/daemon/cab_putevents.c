/*  =========================================================================
    cab_putevents - EventBridge PutEvents requests and responses
    =========================================================================
*/
#include "cab_putevents.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

size_t
cab_putevents_entry_size (const char *source, const char *detail_type, const char *detail,
                          const char *const *resources, size_t resource_count, bool has_time)
{
    size_t size = has_time ? 14 : 0;
    size += source ? strlen (source) : 0;
    size += detail_type ? strlen (detail_type) : 0;
    size += detail ? strlen (detail) : 0;
    for (size_t i = 0; resources && i < resource_count; i++)
        size += resources[i] ? strlen (resources[i]) : 0;
    return size;
}

size_t
cab_putevents_chunks (size_t size)
{
    size_t chunks = (size + CAB_PUTEVENTS_CHUNK - 1) / CAB_PUTEVENTS_CHUNK;
    return chunks ? chunks : 1;
}

void
cab_putevents_entry_clear (cab_putevents_entry_t *entry)
{
    if (!entry)
        return;
    free (entry->json);
    memset (entry, 0, sizeof *entry);
}

static cab_status_t
s_envelope_error (cab_error_t *error, const char *path, const char *what)
{
    return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, path, "%s", what);
}

//  Check the envelope fields an entry needs; the entry size as AWS computes
//  it into *size_p (the detail serialised compact, key order kept, counted
//  without building the text).
static cab_status_t
s_entry_check (const json_t *event, size_t *size_p, cab_error_t *error)
{
    if (!json_is_object (event))
        return s_envelope_error (error, "", "an event must be a JSON object");
    json_t *source = json_object_get (event, "source");
    json_t *detail_type = json_object_get (event, "detail-type");
    json_t *detail = json_object_get (event, "detail");
    json_t *resources = json_object_get (event, "resources");
    json_t *time = json_object_get (event, "time");
    if (!json_is_string (source) || !json_is_string (detail_type))
        return s_envelope_error (error, json_is_string (source) ? "/detail-type" : "/source",
                                 "must be a string");
    if (!json_is_object (detail))
        return s_envelope_error (error, "/detail", "must be an object");
    if (resources && !json_is_array (resources))
        return s_envelope_error (error, "/resources", "must be an array of strings");
    size_t size = json_string_length (source) + json_string_length (detail_type);
    size += json_dumpb (detail, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t index;
    json_t *item;
    json_array_foreach (resources, index, item)
    {
        if (!json_is_string (item))
            return s_envelope_error (error, "/resources", "must be an array of strings");
        size += json_string_length (item);
    }
    if (time) {
        int64_t millis;
        if (!json_is_string (time) || cab_time_parse (json_string_value (time), &millis) != CAB_OK)
            return s_envelope_error (error, "/time", "must be an ISO 8601 UTC time");
        size += 14;
    }
    if (size >= CAB_PUTEVENTS_MAX_SIZE)
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL,
                              "entry size %zu bytes is over the PutEvents limit (%d)", size,
                              CAB_PUTEVENTS_MAX_SIZE);
    *size_p = size;
    return CAB_OK;
}

cab_status_t
cab_putevents_entry_size_json (const json_t *event, size_t *size_p, cab_error_t *error)
{
    size_t size = 0;
    cab_status_t status = s_entry_check (event, &size, error);
    if (size_p)
        *size_p = status == CAB_OK ? size : 0;
    return status;
}

cab_status_t
cab_putevents_entry_build_json (const json_t *event, const char *bus_name,
                                cab_putevents_entry_t *entry, cab_error_t *error)
{
    memset (entry, 0, sizeof *entry);
    size_t size = 0;
    cab_status_t status = s_entry_check (event, &size, error);
    if (status != CAB_OK)
        return status;
    char *detail_text =
        json_dumps (json_object_get (event, "detail"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *entry_json = json_object ();
    json_t *resources = json_object_get (event, "resources");
    json_t *time = json_object_get (event, "time");
    int64_t millis = 0;
    if (time)
        cab_time_parse (json_string_value (time), &millis);  //  Checked above
    if (!detail_text || !entry_json ||
        json_object_set (entry_json, "Source", json_object_get (event, "source")) ||
        json_object_set (entry_json, "DetailType", json_object_get (event, "detail-type")) ||
        json_object_set_new (entry_json, "Detail", json_string (detail_text)) ||
        (json_array_size (resources) > 0 && json_object_set (entry_json, "Resources", resources)) ||
        //  AWS JSON 1.1 timestamps are epoch seconds; keep whole seconds.
        (time && json_object_set_new (entry_json, "Time", json_integer (millis / 1000))) ||
        (bus_name && *bus_name &&
         json_object_set_new (entry_json, "EventBusName", json_string (bus_name))))
        status = cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
    if (status == CAB_OK) {
        entry->json = json_dumps (entry_json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!entry->json)
            status = cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
        else {
            entry->json_length = strlen (entry->json);
            entry->size = size;
        }
    }
    free (detail_text);
    json_decref (entry_json);
    return status;
}

cab_status_t
cab_putevents_entry_build (const char *event_text, size_t length, const char *bus_name,
                           cab_putevents_entry_t *entry, cab_error_t *error)
{
    memset (entry, 0, sizeof *entry);
    json_error_t jerror;
    json_t *event = json_loadb (event_text, length, JSON_REJECT_DUPLICATES, &jerror);
    if (!event)
        return cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "%s", jerror.text);
    cab_status_t status = cab_putevents_entry_build_json (event, bus_name, entry, error);
    json_decref (event);
    return status;
}

size_t
cab_putevents_batch_fit (const size_t *sizes, size_t count)
{
    size_t total = 0;
    size_t fit = 0;
    while (fit < count && fit < CAB_PUTEVENTS_MAX_ENTRIES) {
        if (fit > 0 && total + sizes[fit] >= CAB_PUTEVENTS_MAX_SIZE)
            break;
        total += sizes[fit];
        fit++;
    }
    return fit;
}

char *
cab_putevents_body_new (const cab_putevents_entry_t *const *entries, size_t count, size_t *length_p)
{
    static const char head[] = "{\"Entries\":[";
    static const char tail[] = "]}";
    size_t length = sizeof head - 1 + sizeof tail - 1;
    for (size_t i = 0; i < count; i++)
        length += entries[i]->json_length + (i > 0);
    char *body = malloc (length + 1);
    if (!body)
        return NULL;
    char *at = body;
    memcpy (at, head, sizeof head - 1);
    at += sizeof head - 1;
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            *at++ = ',';
        memcpy (at, entries[i]->json, entries[i]->json_length);
        at += entries[i]->json_length;
    }
    memcpy (at, tail, sizeof tail);
    if (length_p)
        *length_p = length;
    return body;
}

static void
s_copy (char *to, size_t size, const char *from)
{
    if (size == 0)
        return;
    size_t length = from ? strlen (from) : 0;
    if (length >= size)
        length = size - 1;
    if (length)
        memcpy (to, from, length);
    to[length] = 0;
}

cab_status_t
cab_putevents_response_parse (const char *body, size_t length, size_t expected,
                              cab_putevents_result_t *results, size_t *failed_p, cab_error_t *error)
{
    json_error_t jerror;
    json_t *root = json_loadb (body, length, 0, &jerror);
    if (!root)
        return cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "PutEvents response: %s",
                              jerror.text);
    cab_status_t status = CAB_OK;
    json_t *entries = json_object_get (root, "Entries");
    json_t *failed = json_object_get (root, "FailedEntryCount");
    if (!json_is_array (entries) || json_array_size (entries) != expected) {
        status = cab_error_set (error, CAB_ERR_PROTOCOL, "/Entries",
                                "PutEvents response: expected %zu entries", expected);
        goto done;
    }
    size_t failures = 0;
    for (size_t i = 0; i < expected; i++) {
        json_t *item = json_array_get (entries, i);
        cab_putevents_result_t *result = &results[i];
        memset (result, 0, sizeof *result);
        json_t *id = json_object_get (item, "EventId");
        json_t *code = json_object_get (item, "ErrorCode");
        if (json_is_string (code) && json_string_length (code) > 0) {
            s_copy (result->error_code, sizeof result->error_code, json_string_value (code));
            s_copy (result->error_message, sizeof result->error_message,
                    json_string_value (json_object_get (item, "ErrorMessage")));
            failures++;
        } else if (json_is_string (id) && json_string_length (id) > 0) {
            s_copy (result->event_id, sizeof result->event_id, json_string_value (id));
        } else {
            status = cab_error_set (error, CAB_ERR_PROTOCOL, NULL,
                                    "PutEvents response: entry %zu has neither EventId nor "
                                    "ErrorCode",
                                    i);
            goto done;
        }
    }
    if (failed && (!json_is_integer (failed) || (size_t)json_integer_value (failed) != failures)) {
        status = cab_error_set (error, CAB_ERR_PROTOCOL, "/FailedEntryCount",
                                "PutEvents response: FailedEntryCount does not match the entries");
        goto done;
    }
    if (failed_p)
        *failed_p = failures;
done:
    json_decref (root);
    return status;
}

cab_status_t
cab_putevents_error_parse (const char *body, size_t length, char *type, size_t type_size,
                           char *message, size_t message_size)
{
    s_copy (type, type_size, "");
    s_copy (message, message_size, "");
    json_t *root = body ? json_loadb (body, length, 0, NULL) : NULL;
    if (!json_is_object (root)) {
        json_decref (root);
        return CAB_ERR_INVALID_JSON;
    }
    const char *name = json_string_value (json_object_get (root, "__type"));
    if (!name)
        name = json_string_value (json_object_get (root, "code"));
    if (name) {
        const char *hash = strrchr (name, '#');
        if (hash)
            name = hash + 1;
        //  Some services append ":http://..." to the type.
        const char *colon = strchr (name, ':');
        char buffer[128];
        if (colon && (size_t)(colon - name) < sizeof buffer) {
            memcpy (buffer, name, (size_t)(colon - name));
            buffer[colon - name] = 0;
            s_copy (type, type_size, buffer);
        } else
            s_copy (type, type_size, name);
    }
    const char *text = json_string_value (json_object_get (root, "message"));
    if (!text)
        text = json_string_value (json_object_get (root, "Message"));
    s_copy (message, message_size, text);
    json_decref (root);
    return CAB_OK;
}

bool
cab_putevents_retryable (const char *error_code)
{
    static const char *const retryable[] = {
        "ThrottlingException",     "InternalFailure",
        "InternalException",       "ServiceUnavailable",
        "InternalError",           "RequestTimeout",
        "RequestTimeoutException", "ServiceUnavailableException",
        "TooManyRequestsException"};
    if (!error_code)
        return false;
    for (size_t i = 0; i < sizeof retryable / sizeof retryable[0]; i++)
        if (strcmp (error_code, retryable[i]) == 0)
            return true;
    return false;
}
