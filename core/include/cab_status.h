/*  =========================================================================
    cab_status - stable status codes and the caller-provided error record

    Every fallible function in cabruca returns a cab_status_t (CAB_OK is 0)
    or NULL, and fills an optional cab_error_t with the code, the JSON
    Pointer of the offending value (when there is one) and a readable text.
    The numbers are stable: they travel on the wire in NACKs, map to CLI
    exit statuses and are listed in docs/errors.md. A number is never
    reused; new codes are appended.
    =========================================================================
*/
#ifndef CAB_STATUS_H_INCLUDED
#define CAB_STATUS_H_INCLUDED

#include <stddef.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CAB_OK = 0,                     //  Success
    CAB_ERR_NOMEM = 1,              //  OutOfMemory: an allocation failed
    CAB_ERR_INVALID_ARGUMENT = 2,   //  InvalidArgument: bad call or CLI usage
    CAB_ERR_IO = 3,                 //  IoError: a file or socket operation failed
    CAB_ERR_INVALID_JSON = 4,       //  InvalidJson: text is not well-formed JSON
    CAB_ERR_INVALID_UTF8 = 5,       //  InvalidUtf8: text is not valid UTF-8
    CAB_ERR_TOO_LARGE = 6,          //  TooLarge: over a size limit (events: 256 KB)
    CAB_ERR_TOO_DEEP = 7,           //  TooDeep: nesting over the depth limit
    CAB_ERR_INVALID_ENVELOPE = 8,   //  InvalidEnvelope: the EventBridge envelope is wrong
    CAB_ERR_SCHEMA_VIOLATION = 9,   //  SchemaViolation: the instance fails its schema
    CAB_ERR_INVALID_SCHEMA = 10,    //  InvalidSchema: a schema document is not usable
    CAB_ERR_UNKNOWN_EVENT_TYPE = 11,//  UnknownEventType: no schema for source/detail-type/version
    CAB_ERR_INVALID_PATTERN = 12,   //  InvalidPattern: an event pattern is not valid
    CAB_ERR_ACCESS_DENIED = 13,     //  AccessDenied: the peer may not do this
    CAB_ERR_STORE_UNAVAILABLE = 14, //  StoreUnavailable: the event store cannot commit
    CAB_ERR_PROTOCOL = 15,          //  ProtocolError: a malformed or unexpected message
    CAB_ERR_UNSUPPORTED_VERSION = 16, //  UnsupportedVersion: protocol or schema version
    CAB_ERR_TIMEOUT = 17,           //  Timeout: a deadline passed
    CAB_ERR_INVALID_CONFIG = 18,    //  InvalidConfig: a configuration file is not valid
    CAB_ERR_NOT_FOUND = 19,         //  NotFound: the named thing does not exist
    CAB_ERR_BUSY = 20,              //  Busy: a bounded queue or window is full
    CAB_ERR_DISCONNECTED = 21,      //  Disconnected: the peer is gone
    CAB_ERR_UNRESOLVED_REF = 22,    //  UnresolvedRef: a schema $ref cannot be resolved
    CAB_ERR_INTERNAL = 23,          //  InternalError: a bug; please report it
    CAB_ERR_TARGET_FAILED = 24,     //  TargetFailed: a delivery target refused or failed
    CAB_ERR_OVER_BUDGET = 25,       //  OverBudget: a cost budget or rate cap is exhausted
    CAB_STATUS_COUNT_              //  Not a status: one past the last code
} cab_status_t;

//  Size of the path and text buffers in cab_error_t, terminator included.
//  Longer paths and texts are truncated, ending in "...".
#define CAB_ERROR_PATH_MAX 256
#define CAB_ERROR_TEXT_MAX 512

//  An error record the caller provides (on the stack, usually). Functions
//  that take a `cab_error_t *error` accept NULL when the caller does not
//  want the details. On success the record is left untouched.
typedef struct {
    cab_status_t code;                  //  The status returned
    char path [CAB_ERROR_PATH_MAX];     //  JSON Pointer (RFC 6901), "" if none
    char text [CAB_ERROR_TEXT_MAX];     //  Readable message, no trailing newline
} cab_error_t;

//  Return a readable, static English description of a status code; never
//  NULL. Unknown codes give "unknown status".
const char *
    cab_strerror (cab_status_t code);

//  Return the stable CamelCase name of a status code as used on the wire
//  and in docs/errors.md (e.g. "SchemaViolation"); never NULL. Unknown
//  codes give "Unknown".
const char *
    cab_status_name (cab_status_t code);

//  Look up a status code by its CamelCase name. Returns the code, or -1
//  when the name is not known.
int
    cab_status_from_name (const char *name);

//  Return the process exit status the CLI uses for a status code: 0 for
//  CAB_OK, 2 for usage and configuration errors, 1 for everything else.
int
    cab_status_exit_code (cab_status_t code);

//  Reset an error record to CAB_OK with empty path and text. Safe on NULL.
void
    cab_error_clear (cab_error_t *error);

//  Fill an error record (if not NULL) with a code, a JSON Pointer (NULL for
//  none) and a printf-style message; return the code, so that callers can
//  write `return cab_error_set (error, CAB_ERR_IO, NULL, "...")`. Path and
//  text are cut at a character boundary ("..." marks it) and are always
//  valid UTF-8: a byte that is not part of a valid sequence becomes '?'.
cab_status_t
    cab_error_set (cab_error_t *error, cab_status_t code, const char *path,
                   const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  Like cab_error_set, with a va_list.
cab_status_t
    cab_error_setv (cab_error_t *error, cab_status_t code, const char *path,
                    const char *format, va_list args);

//  Format an error record as "<path>: <text>" (or "<text>" when the path is
//  empty) into buffer; returns buffer. The output is always terminated.
const char *
    cab_error_format (const cab_error_t *error, char *buffer, size_t size);

#ifdef __cplusplus
}
#endif

#endif
