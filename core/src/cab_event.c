/*  =========================================================================
    cab_event - an event in the EventBridge envelope

    An event is a jansson document plus, when it came from text, the original
    bytes (so the broker stores and forwards exactly what it received). Text
    is checked in a fixed order, each step bounded, before jansson sees it:
        1. size      <= CAB_EVENT_MAX_SIZE            else TooLarge
        2. UTF-8 well-formed (no overlongs, no surrogates) else InvalidUtf8
        3. nesting   <= CAB_EVENT_MAX_DEPTH (a bracket count that skips
           strings, so jansson's recursive parser never goes deep) else TooDeep
        4. JSON      (jansson, duplicate keys rejected) else InvalidJson
        5. envelope  (cab_event_check_envelope)        else InvalidEnvelope
    =========================================================================
*/
#include "cabruca.h"
#include "cab_event_internal.h"
#include "cab_jsonscan.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Longest source and detail-type, in characters (EventBridge's limit).
#define S_NAME_MAX 256

struct _cab_event_t {
    json_t *document;  //  The event; we own one reference
    char *text;        //  Original bytes, or cached serialisation, or NULL
    size_t length;     //  Bytes in text
    bool checked;      //  Envelope checked, document not changed since
};

//  ---------------------------------------------------------------------
//  Text checks: UTF-8 and depth in one pass

//  True when a NUL-terminated string is well-formed UTF-8 (ASCII skipped
//  eight bytes at a time: a resource name may be 2,048 bytes).
static bool
s_utf8_ok (const char *text)
{
    return cabi_json_utf8_valid ((const unsigned char *)text, strlen (text));
}

//  Length of the run at the start of bytes (at most length) that a string
//  may hold with nothing to check: ASCII other than '"' and '\\'. Sixteen
//  bytes at a time with SSE2 (the mask gives the first byte to check),
//  then eight (a word with such a byte, or a false alarm, goes on byte by
//  byte): most of an event's bytes are in strings, and the byte by byte
//  scan took about 7 % of the broker thread (docs/performance.md).
static size_t
s_plain_run (const unsigned char *bytes, size_t length)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= length; i += 16) {
        unsigned mask = cabi_json_special16 (bytes + i, true);
        if (mask)
            return i + (size_t)__builtin_ctz (mask);  //  The first byte to check
    }
#endif
    while (i + 8 <= length) {
        uint64_t word;
        memcpy (&word, bytes + i, 8);
        uint64_t quote = word ^ (ones * '"'), slash = word ^ (ones * '\\');
        if ((((quote - ones) & ~quote) | ((slash - ones) & ~slash) | word) & highs)
            break;
        i += 8;
    }
    while (i < length && bytes[i] < 0x80 && bytes[i] != '"' && bytes[i] != '\\')
        i++;
    return i;
}

static cab_status_t
s_check_text (const char *text, size_t length, cab_error_t *error)
{
    const unsigned char *bytes = (const unsigned char *)text;
    int depth = 0;
    bool in_string = false, escaped = false;
    size_t i = 0;
    while (i < length) {
        if (in_string && !escaped) {
            i += s_plain_run (bytes + i, length - i);
            if (i == length)
                break;
        }
        unsigned char c = bytes[i];
        if (c >= 0x80) {
            size_t size = cabi_json_utf8_length (bytes + i, length - i);
            if (size == 0)
                return cab_error_set (error, CAB_ERR_INVALID_UTF8, "",
                                      "invalid UTF-8 sequence at byte %zu", i);
            escaped = false;
            i += size;
            continue;
        }
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > CAB_EVENT_MAX_DEPTH)
                return cab_error_set (error, CAB_ERR_TOO_DEEP, "",
                                      "nested deeper than %d levels at byte %zu",
                                      CAB_EVENT_MAX_DEPTH, i);
        } else if ((c == ']' || c == '}') && depth > 0)
            depth--;
        i++;
    }
    return CAB_OK;
}

//  True when a document nests deeper than `left` levels. Recursion stops at
//  the limit, so the stack never grows past CAB_EVENT_MAX_DEPTH frames.
static bool
s_too_deep (const json_t *value, int left)
{
    if (!json_is_object (value) && !json_is_array (value))
        return false;
    if (left == 0)
        return true;
    if (json_is_array (value)) {
        size_t index;
        const json_t *item;
        json_array_foreach (value, index, item) if (s_too_deep (item, left - 1)) return true;
    } else {
        const char *key;
        const json_t *item;
        json_object_foreach ((json_t *)value, key,
                             item) if (s_too_deep (item, left - 1)) return true;
    }
    return false;
}

//  ---------------------------------------------------------------------
//  Envelope checks

static const char *
s_type_name (const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_OBJECT:
            return "an object";
        case JSON_ARRAY:
            return "an array";
        case JSON_STRING:
            return "a string";
        case JSON_INTEGER:
            return "an integer";
        case JSON_REAL:
            return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "a boolean";
        default:
            return "null";
    }
}

//  Fetch a string member; missing or not a string is an envelope error.
static cab_status_t
s_string_member (const json_t *object, const char *name, const char *path, const char **value_p,
                 cab_error_t *error)
{
    const json_t *member = json_object_get (object, name);
    if (!member)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, path, "missing required field %s",
                              name);
    if (!json_is_string (member))
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, path, "must be a string, not %s",
                              s_type_name (member));
    *value_p = json_string_value (member);
    return CAB_OK;
}

static size_t
s_characters (const char *text)
{
    size_t count = 0;
    for (; *text; text++)
        if (((unsigned char)*text & 0xc0) != 0x80)
            count++;
    return count;
}

static cab_status_t
s_name_member (const json_t *object, const char *name, const char *path, cab_error_t *error)
{
    const char *value;
    cab_status_t rc = s_string_member (object, name, path, &value, error);
    if (rc)
        return rc;
    if (!*value)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, path, "must not be empty");
    if (s_characters (value) > S_NAME_MAX)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, path,
                              "must be at most %d characters", S_NAME_MAX);
    return CAB_OK;
}

static cab_status_t
s_uuid_member (const json_t *object, const char *name, const char *path, cab_error_t *error)
{
    const char *value;
    cab_status_t rc = s_string_member (object, name, path, &value, error);
    if (rc)
        return rc;
    if (!cab_uuid_valid (value))
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, path,
                              "must be a UUID (8-4-4-4-12 hex digits)");
    return CAB_OK;
}

cab_status_t
cab_event_check_envelope (const json_t *document, cab_error_t *error)
{
    if (!document)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, "", "no document");
    if (!json_is_object (document))
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "",
                              "an event must be an object, not %s", s_type_name (document));
    const char *value;
    cab_status_t rc = s_string_member (document, "version", "/version", &value, error);
    if (rc)
        return rc;
    if (strcmp (value, "0") != 0)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/version", "must be \"0\"");
    if ((rc = s_uuid_member (document, "id", "/id", error)) ||
        (rc = s_name_member (document, "detail-type", "/detail-type", error)) ||
        (rc = s_name_member (document, "source", "/source", error)) ||
        (rc = s_string_member (document, "account", "/account", &value, error)))
        return rc;
    if ((rc = s_string_member (document, "time", "/time", &value, error)))
        return rc;
    if (cab_time_parse (value, NULL) != CAB_OK)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/time",
                              "must be an ISO 8601 UTC time like 2026-11-22T10:00:00Z");
    if ((rc = s_string_member (document, "region", "/region", &value, error)))
        return rc;

    const json_t *resources = json_object_get (document, "resources");
    if (!resources)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/resources",
                              "missing required field resources");
    if (!json_is_array (resources))
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/resources",
                              "must be an array, not %s", s_type_name (resources));
    size_t index;
    const json_t *resource;
    json_array_foreach (resources, index, resource) if (!json_is_string (resource))
    {
        char path[32];
        snprintf (path, sizeof path, "/resources/%zu", index);
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, path, "must be a string, not %s",
                              s_type_name (resource));
    }

    const json_t *detail = json_object_get (document, "detail");
    if (!detail)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/detail",
                              "missing required field detail");
    if (!json_is_object (detail))
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/detail",
                              "must be an object, not %s", s_type_name (detail));
    if ((rc =
             s_string_member (detail, "schema_version", "/detail/schema_version", &value, error)) ||
        (rc = s_string_member (detail, "agent_id", "/detail/agent_id", &value, error)) ||
        (rc = s_uuid_member (detail, "correlation_id", "/detail/correlation_id", error)))
        return rc;
    return CAB_OK;
}

//  ---------------------------------------------------------------------
//  Construction

static cab_event_t *
s_event_new (json_t *document, char *text, size_t length)
{
    cab_event_t *self = calloc (1, sizeof *self);
    if (self) {
        self->document = document;
        self->text = text;
        self->length = length;
    }
    return self;
}

static bool
s_name_ok (const char *name)
{
    return name && *name && s_characters (name) <= S_NAME_MAX && s_utf8_ok (name);
}

cab_event_t *
cab_event_new (const char *source, const char *detail_type, cab_error_t *error)
{
    if (!s_name_ok (source) || !s_name_ok (detail_type)) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                       "source and detail-type must be non-empty UTF-8 strings of at most %d "
                       "characters",
                       S_NAME_MAX);
        return NULL;
    }
    char id[CAB_UUID_LENGTH + 1], now[CAB_TIME_LENGTH + 1];
    cab_uuid_v7 (id);
    cab_time_now (now);
    const char *region = getenv ("AWS_REGION");
    if (!region || !*region || !s_utf8_ok (region))
        region = "us-east-1";
    json_t *document = json_pack (
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:{s:s, s:s}}", "version", "0", "id", id,
        "detail-type", detail_type, "source", source, "account", "local", "time", now, "region",
        region, "resources", "detail", "schema_version", "1.0", "correlation_id", id);
    cab_event_t *self = document ? s_event_new (document, NULL, 0) : NULL;
    if (!self) {
        json_decref (document);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory creating an event");
    }
    return self;
}

cab_event_t *
cab_event_load (const char *text, size_t length, cab_error_t *error)
{
    if (!text) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, "", "no text");
        return NULL;
    }
    if (length > CAB_EVENT_MAX_SIZE) {
        cab_error_set (error, CAB_ERR_TOO_LARGE, "", "event is %zu bytes, over the limit of %d",
                       length, CAB_EVENT_MAX_SIZE);
        return NULL;
    }
    if (s_check_text (text, length, error))
        return NULL;
    //  Our builder, not json_loadb: the same documents and refusals (but
    //  for a NUL byte outside a string, which jansson may read past), in
    //  about a seventh of the time (docs/performance.md).
    cabi_json_fault_t fault;
    json_t *document =
        cabi_json_parse (text, length, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &fault);
    if (!document) {
        if (fault.code == CAB_ERR_NOMEM)
            cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory parsing an event");
        else
            cab_error_set (error, CAB_ERR_INVALID_JSON, "", "line %zu, column %zu: %s", fault.line,
                           fault.column, fault.reason);
        return NULL;
    }
    if (cab_event_check_envelope (document, error)) {
        json_decref (document);
        return NULL;
    }
    char *copy = malloc (length + 1);
    cab_event_t *self = copy ? s_event_new (document, copy, length) : NULL;
    if (!self) {
        free (copy);
        json_decref (document);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory loading an event");
        return NULL;
    }
    memcpy (copy, text, length);
    copy[length] = '\0';
    self->checked = true;
    return self;
}

cab_event_t *
cab_event_new_from_json (json_t *document, cab_error_t *error)
{
    if (!document) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, "", "no document");
        return NULL;
    }
    //  cab_event_check below checks envelope, depth and size, in that order.
    cab_event_t *self = s_event_new (document, NULL, 0);
    if (!self) {
        json_decref (document);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory creating an event");
        return NULL;
    }
    if (cab_event_check (self, error)) {
        cab_event_destroy (&self);
        return NULL;
    }
    return self;
}

void
cab_event_destroy (cab_event_t **self_p)
{
    if (self_p && *self_p) {
        cab_event_t *self = *self_p;
        json_decref (self->document);
        free (self->text);
        free (self);
        *self_p = NULL;
    }
}

cab_status_t
cab_event_check (cab_event_t *self, cab_error_t *error)
{
    if (!self)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no event");
    cab_status_t rc = cab_event_check_envelope (self->document, error);
    if (rc)
        return rc;
    if (s_too_deep (self->document, CAB_EVENT_MAX_DEPTH))
        return cab_error_set (error, CAB_ERR_TOO_DEEP, "", "nested deeper than %d levels",
                              CAB_EVENT_MAX_DEPTH);
    size_t length;
    if (!cab_event_text (self, &length))
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory serialising an event");
    if (length > CAB_EVENT_MAX_SIZE)
        return cab_error_set (error, CAB_ERR_TOO_LARGE, "",
                              "event is %zu bytes, over the limit of %d", length,
                              CAB_EVENT_MAX_SIZE);
    self->checked = true;
    return CAB_OK;
}

bool
cabi_event_envelope_checked (cab_event_t *self)
{
    return self && self->checked;
}

bool
cabi_utf8_valid (const char *text)
{
    return text && s_utf8_ok (text);
}

//  ---------------------------------------------------------------------
//  Text and accessors

//  The document is about to change: the text no longer describes it.
static void
s_touch (cab_event_t *self)
{
    free (self->text);
    self->text = NULL;
    self->length = 0;
    self->checked = false;
}

const char *
cab_event_text (cab_event_t *self, size_t *length_p)
{
    if (!self)
        return NULL;
    if (!self->text) {
        //  Not json_dumps: it can drop a key when out of memory (jansson
        //  issue #362, docs/robustness.md).
        self->length = 0;
        self->text = cabi_json_dumps (self->document, JSON_COMPACT, &self->length);
    }
    if (length_p)
        *length_p = self->length;
    return self->text;
}

json_t *
cab_event_json (cab_event_t *self)
{
    return self ? self->document : NULL;
}

json_t *
cab_event_detail (cab_event_t *self)
{
    if (!self)
        return NULL;
    s_touch (self);
    return json_object_get (self->document, "detail");
}

static const char *
s_member (const json_t *object, const char *name)
{
    return json_string_value (json_object_get (object, name));
}

const char *
cab_event_id (cab_event_t *self)
{
    return self ? s_member (self->document, "id") : NULL;
}

const char *
cab_event_source (cab_event_t *self)
{
    return self ? s_member (self->document, "source") : NULL;
}

const char *
cab_event_detail_type (cab_event_t *self)
{
    return self ? s_member (self->document, "detail-type") : NULL;
}

const char *
cab_event_time (cab_event_t *self)
{
    return self ? s_member (self->document, "time") : NULL;
}

static const char *
s_detail_member (cab_event_t *self, const char *name)
{
    return self ? s_member (json_object_get (self->document, "detail"), name) : NULL;
}

const char *
cab_event_schema_version (cab_event_t *self)
{
    return s_detail_member (self, "schema_version");
}

const char *
cab_event_agent_id (cab_event_t *self)
{
    return s_detail_member (self, "agent_id");
}

const char *
cab_event_correlation_id (cab_event_t *self)
{
    return s_detail_member (self, "correlation_id");
}

const char *
cab_event_causation_id (cab_event_t *self)
{
    return s_detail_member (self, "causation_id");
}

//  ---------------------------------------------------------------------
//  Setters

//  Set object[name] to a string value, after checking it is UTF-8.
static cab_status_t
s_set_string (cab_event_t *self, json_t *object, const char *name, const char *value,
              bool allow_empty)
{
    if (!self || !object || !value || (!allow_empty && !*value) || !s_utf8_ok (value))
        return CAB_ERR_INVALID_ARGUMENT;
    json_t *string = json_string_nocheck (value);  //  UTF-8 checked above
    if (!string)
        return CAB_ERR_NOMEM;
    if (json_object_set_new (object, name, string))
        return CAB_ERR_NOMEM;
    s_touch (self);
    return CAB_OK;
}

static json_t *
s_detail_object (cab_event_t *self)
{
    return self ? json_object_get (self->document, "detail") : NULL;
}

cab_status_t
cab_event_set_agent_id (cab_event_t *self, const char *agent_id)
{
    return s_set_string (self, s_detail_object (self), "agent_id", agent_id, false);
}

cab_status_t
cab_event_set_correlation_id (cab_event_t *self, const char *correlation_id)
{
    if (!cab_uuid_valid (correlation_id))
        return CAB_ERR_INVALID_ARGUMENT;
    return s_set_string (self, s_detail_object (self), "correlation_id", correlation_id, false);
}

cab_status_t
cab_event_set_schema_version (cab_event_t *self, const char *schema_version)
{
    return s_set_string (self, s_detail_object (self), "schema_version", schema_version, false);
}

cab_status_t
cab_event_set_account (cab_event_t *self, const char *account)
{
    return s_set_string (self, self ? self->document : NULL, "account", account, true);
}

cab_status_t
cab_event_set_region (cab_event_t *self, const char *region)
{
    return s_set_string (self, self ? self->document : NULL, "region", region, true);
}

cab_status_t
cab_event_set_time (cab_event_t *self, const char *time)
{
    if (cab_time_parse (time, NULL) != CAB_OK)
        return CAB_ERR_INVALID_ARGUMENT;
    return s_set_string (self, self ? self->document : NULL, "time", time, false);
}

cab_status_t
cab_event_add_resource (cab_event_t *self, const char *resource)
{
    if (!self || !resource || !s_utf8_ok (resource))
        return CAB_ERR_INVALID_ARGUMENT;
    json_t *resources = json_object_get (self->document, "resources");
    if (!json_is_array (resources))
        return CAB_ERR_INVALID_ARGUMENT;
    if (json_array_append_new (resources, json_string_nocheck (resource)))  //  Checked above
        return CAB_ERR_NOMEM;
    s_touch (self);
    return CAB_OK;
}

cab_status_t
cab_event_update_detail_new (cab_event_t *self, json_t *fields)
{
    json_t *detail = s_detail_object (self);
    if (!detail || !json_is_object (fields)) {
        json_decref (fields);
        return CAB_ERR_INVALID_ARGUMENT;
    }
    //  The envelope's own detail fields keep their types.
    static const char *const strings[] = {"schema_version", "agent_id", "correlation_id"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        json_t *value = json_object_get (fields, strings[i]);
        if (value &&
            (!json_is_string (value) || (i == 2 && !cab_uuid_valid (json_string_value (value))))) {
            json_decref (fields);
            return CAB_ERR_INVALID_ARGUMENT;
        }
    }
    int rc = json_object_update (detail, fields);
    json_decref (fields);
    s_touch (self);
    return rc ? CAB_ERR_NOMEM : CAB_OK;
}

cab_status_t
cab_event_set_cause (cab_event_t *self, const cab_event_t *cause)
{
    if (!self || !cause || self == cause)
        return CAB_ERR_INVALID_ARGUMENT;
    const char *cause_id = s_member (cause->document, "id");
    const char *correlation_id =
        s_member (json_object_get (cause->document, "detail"), "correlation_id");
    //  A cause without a usable correlation id starts the chain itself.
    if (!cab_uuid_valid (correlation_id))
        correlation_id = cause_id;
    if (!cab_uuid_valid (cause_id) || !json_is_object (s_detail_object (self)))
        return CAB_ERR_INVALID_ARGUMENT;
    json_t *correlation = json_string (correlation_id);
    json_t *causation = json_string (cause_id);
    if (!correlation || !causation) {
        json_decref (correlation);
        json_decref (causation);
        return CAB_ERR_NOMEM;
    }
    json_t *detail = s_detail_object (self);
    s_touch (self);
    //  The causation id first: if the second step fails, the event still
    //  names its own chain, only not the link.
    if (json_object_set_new (detail, "causation_id", causation)) {
        json_decref (correlation);
        return CAB_ERR_NOMEM;
    }
    return json_object_set_new (detail, "correlation_id", correlation) ? CAB_ERR_NOMEM : CAB_OK;
}
