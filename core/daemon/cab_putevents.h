/*  =========================================================================
    cab_putevents - EventBridge PutEvents requests and responses

    Turns stored cabruca events (the EventBridge envelope as text) into
    PutEvents request entries, packs entries into request bodies within the
    API's limits (at most 10 entries, total entry size under 256 KB, entry
    size computed as AWS documents it in "Calculating PutEvents event entry
    size"), and parses PutEvents responses and AWS JSON 1.1 error bodies.

    Pure functions, no I/O: the mirror (cab_mirror) and the tests use them.
    =========================================================================
*/
#ifndef CAB_PUTEVENTS_H_INCLUDED
#define CAB_PUTEVENTS_H_INCLUDED

#include "cabruca.h"
#include <stdbool.h>
#include <stddef.h>

//  PutEvents limits: entries per request and total entry size (bytes, the
//  sum must be strictly below it), and the billing chunk (64 KB).
#define CAB_PUTEVENTS_MAX_ENTRIES 10
#define CAB_PUTEVENTS_MAX_SIZE    262144
#define CAB_PUTEVENTS_CHUNK       65536

//  One request entry, serialised once and reused on every (re)send.
typedef struct {
    char *json;         //  {"Source":...,"EventBusName":...}, NUL-terminated
    size_t json_length; //  strlen (json)
    size_t size;        //  entry size as AWS computes it
} cab_putevents_entry_t;

//  The outcome of one entry in a PutEvents response: event_id is set when
//  the entry was accepted, error_code (and error_message) when it failed.
typedef struct {
    char event_id[80];
    char error_code[64];
    char error_message[256];
} cab_putevents_result_t;

//  Entry size as AWS documents it: 14 bytes for Time if present, plus the
//  UTF-8 byte lengths of Source, DetailType, Detail (if present) and of each
//  Resources item. NULL strings count 0. Never fails.
size_t
    cab_putevents_entry_size (const char *source, const char *detail_type, const char *detail,
                              const char *const *resources, size_t resource_count, bool has_time);

//  Number of 64 KB chunks EventBridge bills for an entry of `size` bytes
//  (at least 1).
size_t
    cab_putevents_chunks (size_t size);

//  Build the request entry for one stored event (the EventBridge envelope as
//  JSON text of `length` bytes) without a parse tree of the event:
//  Source, DetailType (unescaped), Detail (the "detail" object's text with
//  its insignificant whitespace removed; strings, escapes and numbers kept
//  byte for byte), Resources (unescaped, when non-empty), Time (epoch
//  seconds, as the AWS JSON 1.1 protocol serialises timestamps) and
//  EventBusName (`bus_name`, may be NULL for the default bus). The whole
//  text is validated (RFC 8259, UTF-8, no \u0000, at most 2048 levels
//  deep, as jansson's parser; numbers of any size, which jansson refused
//  past 64-bit integers and doubles). Fills *entry; the caller owns
//  entry->json and frees it with cab_putevents_entry_clear; *entry is
//  zeroed on error.
//  Errors: CAB_ERR_INVALID_JSON (not JSON, or source, detail-type, detail,
//  resources or time given twice), CAB_ERR_INVALID_ENVELOPE (not an
//  object; source, detail-type or detail missing or of the wrong type;
//  resources not an array of strings; time not ISO 8601 UTC),
//  CAB_ERR_TOO_LARGE (the entry alone is 256 KB or more),
//  CAB_ERR_INVALID_ARGUMENT (bus_name is not UTF-8), CAB_ERR_NOMEM.
cab_status_t
    cab_putevents_entry_build (const char *event_text, size_t length, const char *bus_name,
                               cab_putevents_entry_t *entry, cab_error_t *error);

//  The same checks as cab_putevents_entry_build and the same entry size
//  (entry.size), in one pass over the text, without building the entry
//  and without allocating. *size_p (may be NULL) gets the size, 0 on
//  error. Errors as cab_putevents_entry_build, never
//  CAB_ERR_INVALID_ARGUMENT or CAB_ERR_NOMEM.
cab_status_t
    cab_putevents_entry_size_text (const char *event_text, size_t length, size_t *size_p,
                                   cab_error_t *error);

//  Free entry->json and zero the entry. Safe on NULL and on a cleared entry.
void
    cab_putevents_entry_clear (cab_putevents_entry_t *entry);

//  How many of the first `count` entries (sizes in `sizes`) fit in one
//  request: at most 10 and total size below 256 KB. Returns at least 1 when
//  count > 0 (an entry over the limit alone is the caller's to refuse).
size_t
    cab_putevents_batch_fit (const size_t *sizes, size_t count);

//  Build a request body {"Entries":[e1,e2,...]} from `count` entries (their
//  json texts). Returns a new NUL-terminated buffer (caller frees) and sets
//  *length_p; NULL on allocation failure.
char *
    cab_putevents_body_new (const cab_putevents_entry_t *const *entries, size_t count,
                            size_t *length_p);

//  Parse a PutEvents success response (HTTP 200) for a request of
//  `expected` entries: fills results[0..expected-1] in request order and
//  sets *failed_p (may be NULL) to FailedEntryCount. Errors:
//  CAB_ERR_INVALID_JSON, CAB_ERR_PROTOCOL (Entries missing, count mismatch,
//  an entry with neither EventId nor ErrorCode, FailedEntryCount that does
//  not match the entries).
cab_status_t
    cab_putevents_response_parse (const char *body, size_t length, size_t expected,
                                  cab_putevents_result_t *results, size_t *failed_p,
                                  cab_error_t *error);

//  Parse an AWS JSON 1.1 error body ({"__type":"ns#Name","message":"..."}):
//  writes the error name without its namespace into `type` and the message
//  ("message" or "Message") into `message` (both truncated to their sizes,
//  empty when absent). Returns CAB_OK, or CAB_ERR_INVALID_JSON when the
//  body is not a JSON object (type and message are then empty).
cab_status_t
    cab_putevents_error_parse (const char *body, size_t length, char *type, size_t type_size,
                               char *message, size_t message_size);

//  True when an error code (per entry or per request) is worth retrying:
//  ThrottlingException, InternalFailure, InternalException,
//  ServiceUnavailable and the like. False for NULL.
bool
    cab_putevents_retryable (const char *error_code);

#endif
