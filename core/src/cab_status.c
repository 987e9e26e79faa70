/*  =========================================================================
    cab_status - stable status codes and the caller-provided error record
    =========================================================================
*/
#include "cabruca.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *text;
} s_status_info_t;

//  Indexed by code. Keep in step with cab_status.h and docs/errors.md;
//  tests/meta/errors-doc.sh checks all three.
static const s_status_info_t s_status[CAB_STATUS_COUNT_] = {
    [CAB_OK] = {"Ok", "success"},
    [CAB_ERR_NOMEM] = {"OutOfMemory", "out of memory"},
    [CAB_ERR_INVALID_ARGUMENT] = {"InvalidArgument", "invalid argument"},
    [CAB_ERR_IO] = {"IoError", "input/output error"},
    [CAB_ERR_INVALID_JSON] = {"InvalidJson", "invalid JSON"},
    [CAB_ERR_INVALID_UTF8] = {"InvalidUtf8", "invalid UTF-8"},
    [CAB_ERR_TOO_LARGE] = {"TooLarge", "too large"},
    [CAB_ERR_TOO_DEEP] = {"TooDeep", "nested too deeply"},
    [CAB_ERR_INVALID_ENVELOPE] = {"InvalidEnvelope", "invalid event envelope"},
    [CAB_ERR_SCHEMA_VIOLATION] = {"SchemaViolation", "schema violation"},
    [CAB_ERR_INVALID_SCHEMA] = {"InvalidSchema", "invalid schema"},
    [CAB_ERR_UNKNOWN_EVENT_TYPE] = {"UnknownEventType", "unknown event type"},
    [CAB_ERR_INVALID_PATTERN] = {"InvalidPattern", "invalid event pattern"},
    [CAB_ERR_ACCESS_DENIED] = {"AccessDenied", "access denied"},
    [CAB_ERR_STORE_UNAVAILABLE] = {"StoreUnavailable", "event store unavailable"},
    [CAB_ERR_PROTOCOL] = {"ProtocolError", "protocol error"},
    [CAB_ERR_UNSUPPORTED_VERSION] = {"UnsupportedVersion", "unsupported version"},
    [CAB_ERR_TIMEOUT] = {"Timeout", "timed out"},
    [CAB_ERR_INVALID_CONFIG] = {"InvalidConfig", "invalid configuration"},
    [CAB_ERR_NOT_FOUND] = {"NotFound", "not found"},
    [CAB_ERR_BUSY] = {"Busy", "busy: queue or window full"},
    [CAB_ERR_DISCONNECTED] = {"Disconnected", "disconnected"},
    [CAB_ERR_UNRESOLVED_REF] = {"UnresolvedRef", "unresolved schema reference"},
    [CAB_ERR_INTERNAL] = {"InternalError", "internal error"},
    [CAB_ERR_TARGET_FAILED] = {"TargetFailed", "delivery target failed"},
    [CAB_ERR_OVER_BUDGET] = {"OverBudget", "over budget"},
};

const char *
cab_strerror (cab_status_t code)
{
    if ((int)code < 0 || code >= CAB_STATUS_COUNT_ || !s_status[code].text)
        return "unknown status";
    return s_status[code].text;
}

const char *
cab_status_name (cab_status_t code)
{
    if ((int)code < 0 || code >= CAB_STATUS_COUNT_ || !s_status[code].name)
        return "Unknown";
    return s_status[code].name;
}

int
cab_status_from_name (const char *name)
{
    if (!name)
        return -1;
    for (int code = 0; code < CAB_STATUS_COUNT_; code++)
        if (s_status[code].name && strcmp (s_status[code].name, name) == 0)
            return code;
    return -1;
}

int
cab_status_exit_code (cab_status_t code)
{
    if (code == CAB_OK)
        return 0;
    if (code == CAB_ERR_INVALID_ARGUMENT || code == CAB_ERR_INVALID_CONFIG)
        return 2;
    return 1;
}

void
cab_error_clear (cab_error_t *error)
{
    if (!error)
        return;
    error->code = CAB_OK;
    error->path[0] = '\0';
    error->text[0] = '\0';
}

//  Length of the valid UTF-8 sequence at text (RFC 3629: no overlong
//  forms, no surrogates, at most U+10FFFF), or 0 when it is not one.
static size_t
s_utf8_length (const unsigned char *text)
{
    unsigned char c = text[0];
    if (c < 0x80)
        return 1;
    size_t length = c >= 0xC2 && c <= 0xDF   ? 2
                    : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4
                                             : 0;
    if (length == 0)
        return 0;
    unsigned char low = 0x80, high = 0xBF;
    if (c == 0xE0)
        low = 0xA0;
    else if (c == 0xED)
        high = 0x9F;
    else if (c == 0xF0)
        low = 0x90;
    else if (c == 0xF4)
        high = 0x8F;
    if (text[1] < low || text[1] > high)
        return 0;
    for (size_t index = 2; index < length; index++)
        if ((text[index] & 0xC0) != 0x80)
            return 0;
    return length;
}

//  Make text valid UTF-8 in place: every byte that does not belong to a
//  valid sequence becomes '?'. Messages quote input (cut by "%.40s" or by
//  truncation), and they travel in JSON (NACKs, answers), which must be
//  UTF-8.
static void
s_utf8_clean (char *text)
{
    unsigned char *at = (unsigned char *)text;
    while (*at) {
        size_t length = s_utf8_length (at);
        if (length == 0)
            *at++ = '?';
        else
            at += length;
    }
}

//  Copy src into a fixed buffer, marking truncation with "..." (after the
//  last whole character that fits).
static void
s_copy_truncated (char *dest, size_t size, const char *src)
{
    size_t length = strlen (src);
    if (length < size) {
        memcpy (dest, src, length + 1);
        return;
    }
    size_t cut = size - 4;
    while (cut > 0 && ((unsigned char)src[cut] & 0xC0) == 0x80)
        cut--;
    memcpy (dest, src, cut);
    memcpy (dest + cut, "...", 4);
}

cab_status_t
cab_error_setv (cab_error_t *error, cab_status_t code, const char *path, const char *format,
                va_list args)
{
    if (!error)
        return code;
    error->code = code;
    s_copy_truncated (error->path, sizeof error->path, path ? path : "");
    if (format) {
        int needed = vsnprintf (error->text, sizeof error->text, format, args);
        if (needed >= (int)sizeof error->text) {
            size_t cut = sizeof error->text - 4;
            while (cut > 0 && ((unsigned char)error->text[cut] & 0xC0) == 0x80)
                cut--;
            memcpy (error->text + cut, "...", 4);
        } else if (needed < 0)
            s_copy_truncated (error->text, sizeof error->text, cab_strerror (code));
    } else
        s_copy_truncated (error->text, sizeof error->text, cab_strerror (code));
    s_utf8_clean (error->path);
    s_utf8_clean (error->text);
    return code;
}

cab_status_t
cab_error_set (cab_error_t *error, cab_status_t code, const char *path, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    cab_error_setv (error, code, path, format, args);
    va_end (args);
    return code;
}

const char *
cab_error_format (const cab_error_t *error, char *buffer, size_t size)
{
    if (!buffer || size == 0)
        return buffer;
    if (!error) {
        buffer[0] = '\0';
        return buffer;
    }
    const char *text = error->text[0] ? error->text : cab_strerror (error->code);
    if (error->path[0])
        snprintf (buffer, size, "%s: %s", error->path, text);
    else
        snprintf (buffer, size, "%s", text);
    return buffer;
}
