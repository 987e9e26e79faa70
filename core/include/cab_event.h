/*  =========================================================================
    cab_event - an event in the EventBridge envelope

        {"version":"0","id":"<uuid>","detail-type":"Issue Detection",
         "source":"cabruca.agents.monitor","account":"<account>",
         "time":"2026-11-22T10:00:00Z","region":"sa-east-1","resources":[],
         "detail":{"schema_version":"1.0","agent_id":"monitor-001",
                   "correlation_id":"<uuid>", ...type-specific fields...}}

    An event is built (cab_event_new + setters) or loaded from text
    (cab_event_load). Loaded events keep their original bytes, so the broker
    can store and forward them without re-serialising. Events are at most
    CAB_EVENT_MAX_SIZE bytes of JSON text; ids cabruca generates are UUIDv7
    (time-ordered, still valid EventBridge ids); times are ISO 8601 UTC.
    =========================================================================
*/
#ifndef CAB_EVENT_H_INCLUDED
#define CAB_EVENT_H_INCLUDED

#include "cab_status.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Largest event, in bytes of JSON text (EventBridge's limit: 256 KB).
#define CAB_EVENT_MAX_SIZE 262144
//  Deepest nesting of arrays and objects accepted in an event.
#define CAB_EVENT_MAX_DEPTH 64
//  Length of a UUID in text form, without the terminator.
#define CAB_UUID_LENGTH 36
//  Length of a cabruca time, "2026-11-22T10:00:00.123Z", without terminator.
#define CAB_TIME_LENGTH 24

typedef struct _cab_event_t cab_event_t;

//  Create an event of a type: version "0", a new UUIDv7 id, the current time,
//  account "local", region from $AWS_REGION or "us-east-1", no resources,
//  detail {"schema_version":"1.0","correlation_id":<the id>}. Returns NULL
//  and fills error (CAB_ERR_INVALID_ARGUMENT for an empty source or
//  detail-type, CAB_ERR_NOMEM) on failure. Caller owns the return value and
//  must destroy it.
cab_event_t *
    cab_event_new (const char *source, const char *detail_type, cab_error_t *error);

//  Parse an event from JSON text of `length` bytes and check its envelope
//  (cab_event_check_envelope). Returns NULL and fills error on failure:
//  CAB_ERR_TOO_LARGE over CAB_EVENT_MAX_SIZE, CAB_ERR_INVALID_UTF8,
//  CAB_ERR_INVALID_JSON (text gives line and column), CAB_ERR_TOO_DEEP,
//  CAB_ERR_INVALID_ENVELOPE (path names the field). The event keeps a copy
//  of the text. Caller owns the return value and must destroy it.
cab_event_t *
    cab_event_load (const char *text, size_t length, cab_error_t *error);

//  Take a parsed event document (stolen: the event owns it, even on failure)
//  and check its envelope. Returns NULL and fills error on failure. Caller
//  owns the return value and must destroy it.
cab_event_t *
    cab_event_new_from_json (json_t *document, cab_error_t *error);

//  Destroy an event and null the pointer; safe on NULL.
void
    cab_event_destroy (cab_event_t **self_p);

//  Check that a document is a valid EventBridge envelope: an object with
//  version "0"; id a UUID; detail-type and source non-empty strings of at
//  most 256 characters; account and region strings; time ISO 8601 UTC
//  ("YYYY-MM-DDThh:mm:ss[.fff]Z"); resources an array of strings; detail an
//  object with schema_version, agent_id and correlation_id strings (the
//  correlation id a UUID). Returns CAB_OK or CAB_ERR_INVALID_ENVELOPE with
//  the field's JSON Pointer in error->path.
cab_status_t
    cab_event_check_envelope (const json_t *document, cab_error_t *error);

//  Return the event's JSON text: the original bytes for a loaded event, a
//  compact serialisation (cached) for a built one. Sets *length_p (may be
//  NULL). Borrowed, valid until the event is changed or destroyed. Returns
//  NULL only when serialisation fails for lack of memory.
const char *
    cab_event_text (cab_event_t *self, size_t *length_p);

//  Check a built or modified event as cab_event_load checks text: the
//  envelope, then nesting (CAB_ERR_TOO_DEEP over CAB_EVENT_MAX_DEPTH), then
//  the size of its JSON text (CAB_ERR_TOO_LARGE over CAB_EVENT_MAX_SIZE).
//  Publishers call it before sending. Returns CAB_OK or the error, with
//  the field's JSON Pointer in error->path; CAB_ERR_NOMEM when the text
//  cannot be made.
cab_status_t
    cab_event_check (cab_event_t *self, cab_error_t *error);

//  Return the whole event document, for reading. Borrowed, valid while the
//  event lives; do not modify it (use the setters or cab_event_detail).
json_t *
    cab_event_json (cab_event_t *self);

//  Return the detail object, for writing: the caller may modify it to set
//  type-specific fields. Because the event cannot see those changes, this
//  call drops the event's text (a loaded event's original bytes too): the
//  next cab_event_text serialises the document again. To read the detail
//  without that cost, use json_object_get (cab_event_json (e), "detail").
//  Borrowed, valid while the event lives.
json_t *
    cab_event_detail (cab_event_t *self);

//  Return the event id. Borrowed, valid while the event lives. (This and
//  the accessors below return NULL for a NULL event; a string they return
//  stays valid until its field is set again.)
const char *
    cab_event_id (cab_event_t *self);

//  Return the source. Borrowed, valid while the event lives.
const char *
    cab_event_source (cab_event_t *self);

//  Return the detail-type. Borrowed, valid while the event lives.
const char *
    cab_event_detail_type (cab_event_t *self);

//  Return the time. Borrowed, valid while the event lives.
const char *
    cab_event_time (cab_event_t *self);

//  Return detail.schema_version, or NULL if absent. Borrowed.
const char *
    cab_event_schema_version (cab_event_t *self);

//  Return detail.agent_id, or NULL if absent. Borrowed.
const char *
    cab_event_agent_id (cab_event_t *self);

//  Return detail.correlation_id, or NULL if absent. Borrowed.
const char *
    cab_event_correlation_id (cab_event_t *self);

//  Return detail.causation_id, the id of the event that caused this one
//  (see cab_event_set_cause), or NULL if absent. Borrowed.
const char *
    cab_event_causation_id (cab_event_t *self);

//  Set detail.agent_id (non-empty UTF-8). Returns CAB_OK,
//  CAB_ERR_INVALID_ARGUMENT, CAB_ERR_NOMEM. The setters below also return
//  CAB_ERR_NOMEM when out of memory; each drops the event's text.
cab_status_t
    cab_event_set_agent_id (cab_event_t *self, const char *agent_id);

//  Set detail.correlation_id (a UUID). Returns CAB_OK or
//  CAB_ERR_INVALID_ARGUMENT when it is not a UUID.
cab_status_t
    cab_event_set_correlation_id (cab_event_t *self, const char *correlation_id);

//  Set detail.schema_version. Returns CAB_OK or CAB_ERR_INVALID_ARGUMENT.
cab_status_t
    cab_event_set_schema_version (cab_event_t *self, const char *schema_version);

//  Record that `cause` (borrowed, not changed) caused this event: this
//  event takes the cause's correlation id (or, if the cause has none, the
//  cause's id), and detail.causation_id becomes the cause's id. An agent
//  calls it on each event it creates while handling another, so a chain
//  A -> B -> C shares A's correlation id and each link names the one before.
//  Returns CAB_OK, CAB_ERR_INVALID_ARGUMENT (a NULL event, an event as its
//  own cause, a cause without a UUID id) or CAB_ERR_NOMEM.
cab_status_t
    cab_event_set_cause (cab_event_t *self, const cab_event_t *cause);

//  Set the account. Returns CAB_OK or CAB_ERR_INVALID_ARGUMENT.
cab_status_t
    cab_event_set_account (cab_event_t *self, const char *account);

//  Set the region. Returns CAB_OK or CAB_ERR_INVALID_ARGUMENT.
cab_status_t
    cab_event_set_region (cab_event_t *self, const char *region);

//  Set the time (ISO 8601 UTC). Returns CAB_OK or CAB_ERR_INVALID_ARGUMENT.
cab_status_t
    cab_event_set_time (cab_event_t *self, const char *time);

//  Append a resource (an ARN or any string) to resources. Returns CAB_OK,
//  CAB_ERR_INVALID_ARGUMENT or CAB_ERR_NOMEM.
cab_status_t
    cab_event_add_resource (cab_event_t *self, const char *resource);

//  Replace the type-specific fields: every member of `fields` (stolen, even
//  on failure; must be an object) is set in detail, leaving schema_version,
//  agent_id and correlation_id unless `fields` names them (then they must
//  be strings, correlation_id a UUID). Returns CAB_OK,
//  CAB_ERR_INVALID_ARGUMENT or CAB_ERR_NOMEM.
cab_status_t
    cab_event_update_detail_new (cab_event_t *self, json_t *fields);

//  Write a new UUIDv7 (RFC 9562: 48-bit Unix milliseconds, version 7,
//  variant 10, random bits from the OS; monotonic within a process) into
//  buffer, which must hold CAB_UUID_LENGTH + 1 bytes. Returns buffer.
char *
    cab_uuid_v7 (char *buffer);

//  True when text is a UUID in canonical 8-4-4-4-12 hex form (any version,
//  either case).
bool
    cab_uuid_valid (const char *text);

//  Write the current UTC time as "YYYY-MM-DDThh:mm:ss.fffZ" into buffer,
//  which must hold CAB_TIME_LENGTH + 1 bytes. Returns buffer.
char *
    cab_time_now (char *buffer);

//  Parse an ISO 8601 UTC time "YYYY-MM-DDThh:mm:ss[.f+]Z" (EventBridge's
//  form) into milliseconds since the Unix epoch. Returns CAB_OK, or
//  CAB_ERR_INVALID_ARGUMENT when the text is not such a time or names an
//  impossible date.
cab_status_t
    cab_time_parse (const char *text, int64_t *millis_p);

//  Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day
//  1-31; not checked: an impossible date counts on, as 02-30 is 03-02).
//  Negative before 1970. Does not depend on the time zone.
int64_t
    cab_time_days_from_civil (int64_t year, int month, int day);

//  The proleptic Gregorian date of a day number since 1970-01-01 (the
//  inverse of cab_time_days_from_civil) into *year_p, *month_p (1-12) and
//  *day_p (1-31); none may be NULL.
void
    cab_time_civil_from_days (int64_t days, int64_t *year_p, int *month_p, int *day_p);

#ifdef __cplusplus
}
#endif

#endif
