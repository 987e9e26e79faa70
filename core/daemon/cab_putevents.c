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
