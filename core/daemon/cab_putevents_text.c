/*  =========================================================================
    cab_putevents_text - PutEvents entries from an event's JSON text

    One pass over the text, no tree: a small validating scanner (RFC 8259
    syntax, UTF-8 without overlongs or surrogates, no \u0000, nesting up to
    jansson's 2048 levels) that notes where the envelope members an entry
    needs are. Detail is the `detail` member as it appears in the text with
    insignificant whitespace removed, so the size counted is the length of
    the Detail string sent and nothing is serialised again. The entry
    object is written by hand (count, then write), its strings escaped as
    jansson writes them: no jansson value is built at all.
    =========================================================================
*/
#include "cab_jsonscan.h"
#include "cab_putevents.h"
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  jansson's JSON_PARSER_MAX_DEPTH: the parse this replaces refused deeper text.
#define S_DEPTH_MAX 2048

//  One envelope member as found in the text.
typedef struct {
    const char *at;  //  the value's first byte ('"' for a string), NULL when absent
    size_t length;   //  bytes of the value in the text
    size_t size;     //  string: UTF-8 bytes unescaped; object: bytes without whitespace
    char type;       //  's' string, 'o' object, 'a' array, 'x' anything else
    size_t count;    //  resources: items (all strings when !bad)
    bool bad;        //  resources: an item is not a string
} s_member_t;

enum { S_SOURCE, S_DETAIL_TYPE, S_DETAIL, S_RESOURCES, S_TIME, S_MEMBERS };
static const char *const s_names[S_MEMBERS] = {"source", "detail-type", "detail", "resources",
                                               "time"};

typedef struct {
    const unsigned char *p;
    const unsigned char *start;
    const unsigned char *end;
    size_t blanks;  //  whitespace bytes skipped since the caller reset it
    cab_error_t *error;
} s_scan_t;

static bool
s_fail (s_scan_t *s, const char *reason)
{
    cab_error_set (s->error, CAB_ERR_INVALID_JSON, NULL, "not JSON: %s at byte %zu", reason,
                   (size_t)(s->p - s->start));
    return false;
}

static void
s_skip (s_scan_t *s)
{
    const unsigned char *p = s->p;
    while (p < s->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    s->blanks += (size_t)(p - s->p);
    s->p = p;
}

//  Bytes in the UTF-8 sequence at p (p [0] >= 0x80) when it is well formed
//  (shortest form, no surrogate, at most U+10FFFF), else 0.
static size_t
s_utf8_length (const unsigned char *p, size_t avail)
{
    unsigned char lead = p[0];
    size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (lead < 0xC2 || lead > 0xF4 || avail < length)
        return 0;
    for (size_t i = 1; i < length; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((lead == 0xE0 && p[1] < 0xA0) || (lead == 0xED && p[1] > 0x9F) ||
        (lead == 0xF0 && p[1] < 0x90) || (lead == 0xF4 && p[1] > 0x8F))
        return 0;
    return length;
}

static bool
s_hex4 (const unsigned char *p, const unsigned char *end, uint32_t *value_p)
{
    if (end - p < 4)
        return false;
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0)
            return false;
        value = value * 16 + (uint32_t)digit;
    }
    *value_p = value;
    return true;
}

//  A string at s->p (its opening quote): validates it, leaves s->p after
//  the closing quote and sets *size_p to its UTF-8 length once unescaped.
static bool
s_string (s_scan_t *s, size_t *size_p)
{
    const unsigned char *p = s->p + 1;
    size_t size = 0;
    for (;;) {
        //  Whole blocks while none of their bytes is '"', '\\', a control
        //  character or non-ASCII (the mirror thread's largest cost per
        //  event was this loop a byte at a time).
        size_t plain = cabi_json_plain_span (p, (size_t)(s->end - p));
        p += plain;
        size += plain;
        s->p = p;
        if (p >= s->end)
            return s_fail (s, "unterminated string");
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return s_fail (s, "control character in a string");
        if (c < 0x80 && c != '\\') {
            p++;
            size++;
        } else if (c >= 0x80) {
            size_t length = s_utf8_length (p, (size_t)(s->end - p));
            if (!length)
                return s_fail (s, "invalid UTF-8");
            p += length;
            size += length;
        } else if (p + 1 < s->end && strchr ("\"\\/bfnrt", p[1]) && p[1]) {
            p += 2;
            size++;
        } else {
            uint32_t code, low;
            if (p + 1 >= s->end || p[1] != 'u' || !s_hex4 (p + 2, s->end, &code))
                return s_fail (s, "invalid escape");
            p += 6;
            if (code == 0)
                return s_fail (s, "\\u0000 in a string");
            if (code >= 0xDC00 && code <= 0xDFFF)
                return s_fail (s, "lone low surrogate");
            if (code >= 0xD800 && code <= 0xDBFF) {
                if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                    !s_hex4 (p + 2, s->end, &low) || low < 0xDC00 || low > 0xDFFF)
                    return s_fail (s, "lone high surrogate");
                p += 6;
                size += 4;
            } else
                size += code < 0x80 ? 1 : code < 0x800 ? 2 : 3;
        }
    }
    s->p = p + 1;
    if (size_p)
        *size_p = size;
    return true;
}

static bool
s_digits (s_scan_t *s)
{
    const unsigned char *from = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > from;
}

static bool
s_number (s_scan_t *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!s_digits (s))
        return s_fail (s, "invalid number");
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!s_digits (s))
            return s_fail (s, "invalid number");
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!s_digits (s))
            return s_fail (s, "invalid number");
    }
    return true;
}

//  A member name at s->p, then ':' and the blanks before its value.
static bool
s_member_name (s_scan_t *s)
{
    if (s->p >= s->end || *s->p != '"')
        return s_fail (s, "expected a member name");
    if (!s_string (s, NULL))
        return false;
    s_skip (s);
    if (s->p >= s->end || *s->p != ':')
        return s_fail (s, "expected ':'");
    s->p++;
    s_skip (s);
    return true;
}

//  Any value at s->p (not whitespace), nested `depth` levels deep already:
//  validates it and leaves s->p after it. Iterative: one bit per level.
static bool
s_value (s_scan_t *s, int depth)
{
    uint8_t arrays[S_DEPTH_MAX / 8 + 1];
    int base = depth;
    for (;;) {
        //  A value.
        if (s->p >= s->end)
            return s_fail (s, "unexpected end of text");
        unsigned char c = *s->p;
        if (c == '{' || c == '[') {
            if (depth >= S_DEPTH_MAX)
                return s_fail (s, "too deeply nested");
            uint8_t bit = (uint8_t)(1u << (depth % 8));
            arrays[depth / 8] = c == '[' ? (arrays[depth / 8] | bit) : (arrays[depth / 8] & ~bit);
            depth++;
            s->p++;
            s_skip (s);
            if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                s->p++;
                depth--;
            } else if (c == '[' || s_member_name (s))
                continue;  //  to the first item
            else
                return false;
        } else if (c == '"') {
            if (!s_string (s, NULL))
                return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!s_number (s))
                return false;
        } else {
            static const char *const words[] = {"true", "false", "null"};
            size_t i = c == 't' ? 0 : c == 'f' ? 1 : 2;
            size_t length = strlen (words[i]);
            if ((size_t)(s->end - s->p) < length || memcmp (s->p, words[i], length) != 0)
                return s_fail (s, "unexpected character");
            s->p += length;
        }
        //  After a value: close containers or go on to the next item.
        for (;;) {
            if (depth == base)
                return true;
            bool array = arrays[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
            s_skip (s);
            if (s->p < s->end && *s->p == (array ? ']' : '}')) {
                s->p++;
                depth--;
                continue;
            }
            if (s->p >= s->end || *s->p != ',')
                return s_fail (s, array ? "expected ',' or ']'" : "expected ',' or '}'");
            s->p++;
            s_skip (s);
            if (!array && !s_member_name (s))
                return false;
            break;
        }
    }
}

//  Write code point `code` as UTF-8 into out; returns the bytes (1 to 4).
static size_t
s_utf8_encode (uint32_t code, char *out)
{
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18));
    out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

//  The code point of the validated escape at *p_p ('\'), a surrogate pair
//  taken whole; moves *p_p past it.
static uint32_t
s_escape_decode (const unsigned char **p_p)
{
    const unsigned char *p = *p_p;
    if (p[1] != 'u') {
        static const char from[] = "\"\\/bfnrt";
        static const char to[] = "\"\\/\b\f\n\r\t";
        *p_p = p + 2;
        return (unsigned char)to[strchr (from, p[1]) - from];
    }
    uint32_t code = 0, low = 0;
    s_hex4 (p + 2, p + 6, &code);
    p += 6;
    if (code >= 0xD800 && code <= 0xDBFF) {
        s_hex4 (p + 2, p + 6, &low);
        p += 6;
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    *p_p = p;
    return code;
}

//  Unescape a validated string's content (between its quotes) into out,
//  which has room for `length` bytes (unescaping never grows a string).
//  Returns the bytes written.
static size_t
s_unescape (const char *text, size_t length, char *out)
{
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *end = p + length;
    char *at = out;
    while (p < end) {
        if (*p != '\\')
            *at++ = (char)*p++;
        else
            at += s_utf8_encode (s_escape_decode (&p), at);
    }
    return (size_t)(at - out);
}

//  Which envelope member a top-level name (a validated string at `at`,
//  quotes included) is, or -1.
static int
s_member_index (const unsigned char *at, size_t length)
{
    char name[16];
    size_t size = length - 2;
    if (memchr (at + 1, '\\', size)) {
        if (size > 6 * 11)
            return -1;
        char buffer[6 * 11];
        memcpy (buffer, at + 1, size);
        size = s_unescape (buffer, size, buffer);
        if (size >= sizeof name)
            return -1;
        memcpy (name, buffer, size);
    } else if (size < sizeof name)
        memcpy (name, at + 1, size);
    else
        return -1;
    for (int index = 0; index < S_MEMBERS; index++)
        if (strlen (s_names[index]) == size && memcmp (name, s_names[index], size) == 0)
            return index;
    return -1;
}

//  The items of a resources array at s->p ('['): counts the strings and
//  their unescaped size, marks an item that is not a string.
static bool
s_resources (s_scan_t *s, s_member_t *member)
{
    s->p++;
    s_skip (s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return true;
    }
    for (;;) {
        size_t size = 0;
        if (s->p < s->end && *s->p == '"') {
            if (!s_string (s, &size))
                return false;
            member->size += size;
            member->count++;
        } else {
            member->bad = true;
            if (!s_value (s, 2))
                return false;
        }
        s_skip (s);
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return true;
        }
        if (s->p >= s->end || *s->p != ',')
            return s_fail (s, "expected ',' or ']'");
        s->p++;
        s_skip (s);
    }
}

//  The top-level value at s->p: an object whose envelope members are noted
//  in members [], or (*object_p false) any other container, validated.
static bool
s_top (s_scan_t *s, s_member_t *members, bool *object_p)
{
    s_skip (s);
    if (s->p >= s->end || (*s->p != '{' && *s->p != '['))
        return s_fail (s, "expected '{' or '['");
    *object_p = *s->p == '{';
    if (!*object_p)
        return s_value (s, 0);
    s->p++;
    s_skip (s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return true;
    }
    for (;;) {
        const unsigned char *name = s->p;
        if (s->p >= s->end || *s->p != '"')
            return s_fail (s, "expected a member name");
        if (!s_string (s, NULL))
            return false;
        int index = s_member_index (name, (size_t)(s->p - name));
        s_skip (s);
        if (s->p >= s->end || *s->p != ':')
            return s_fail (s, "expected ':'");
        s->p++;
        s_skip (s);
        if (index >= 0 && members[index].at) {
            s->p = name;
            return s_fail (s, "duplicate object key");
        }
        s_member_t scratch;
        s_member_t *member = index >= 0 ? &members[index] : &scratch;
        memset (member, 0, sizeof *member);
        member->at = (const char *)s->p;
        char c = s->p < s->end ? (char)*s->p : 0;
        member->type = c == '"' ? 's' : c == '{' ? 'o' : c == '[' ? 'a' : 'x';
        s->blanks = 0;
        bool ok = member->type == 's'                           ? s_string (s, &member->size)
                  : member->type == 'a' && index == S_RESOURCES ? s_resources (s, member)
                                                                : s_value (s, 1);
        if (!ok)
            return false;
        member->length = (size_t)(s->p - (const unsigned char *)member->at);
        if (member->type == 'o')
            member->size = member->length - s->blanks;
        s_skip (s);
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return true;
        }
        if (s->p >= s->end || *s->p != ',')
            return s_fail (s, "expected ',' or '}'");
        s->p++;
        s_skip (s);
    }
}

//  Scan the whole event, noting the envelope members, then check them as
//  the entry needs them. *size_p gets the entry size.
static cab_status_t
s_scan_event (const char *text, size_t length, s_member_t *members, size_t *size_p,
              cab_error_t *error)
{
    memset (members, 0, S_MEMBERS * sizeof *members);
    if (!text)
        return cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "not JSON: no text");
    s_scan_t s = {(const unsigned char *)text, (const unsigned char *)text,
                  (const unsigned char *)text + length, 0, error};
    bool object = false;
    if (!s_top (&s, members, &object))
        return CAB_ERR_INVALID_JSON;
    s_skip (&s);
    if (s.p < s.end) {
        s_fail (&s, "text after the value");
        return CAB_ERR_INVALID_JSON;
    }

    //  The checks of the entry, in the order the envelope is described.
    const s_member_t *source = &members[S_SOURCE], *detail_type = &members[S_DETAIL_TYPE];
    const s_member_t *detail = &members[S_DETAIL], *resources = &members[S_RESOURCES];
    const s_member_t *time = &members[S_TIME];
    if (!object)
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "",
                              "an event must be a JSON object");
    if (source->type != 's' || detail_type->type != 's')
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE,
                              source->type == 's' ? "/detail-type" : "/source", "must be a string");
    if (detail->type != 'o')
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/detail", "must be an object");
    if (resources->at && (resources->type != 'a' || resources->bad))
        return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/resources",
                              "must be an array of strings");
    size_t size = source->size + detail_type->size + detail->size + resources->size;
    if (time->at) {
        int64_t millis;
        //  cab_time_parse takes at most 30 characters ("...:00.123456789Z"):
        //  a longer string cannot be a time and needs no copy.
        char value[64];
        bool ok = time->type == 's' && time->size < sizeof value;
        if (ok) {
            value[s_unescape (time->at + 1, time->length - 2, value)] = 0;
            ok = cab_time_parse (value, &millis) == CAB_OK;
        }
        if (!ok)
            return cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/time",
                                  "must be an ISO 8601 UTC time");
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
cab_putevents_entry_size_text (const char *event_text, size_t length, size_t *size_p,
                               cab_error_t *error)
{
    s_member_t members[S_MEMBERS];
    size_t size = 0;
    cab_status_t status = s_scan_event (event_text, length, members, &size, error);
    if (size_p)
        *size_p = status == CAB_OK ? size : 0;
    return status;
}

//  ---- Writing the entry -----------------------------------------------
//  Two passes over the same calls: the first (at NULL) counts, the second
//  writes into a buffer of exactly that size. Strings are escaped as
//  jansson writes them without flags (\" \\ \b \f \n \r \t, \u00XX for
//  the other control characters, nothing else), so an entry is the same
//  text jansson gave for the same values.

typedef struct {
    char *at;       //  where the next byte goes, NULL when counting
    size_t length;  //  bytes so far
} s_out_t;

static void
s_put (s_out_t *out, const char *bytes, size_t length)
{
    if (out->at) {
        memcpy (out->at, bytes, length);
        out->at += length;
    }
    out->length += length;
}

//  One code point of a string's value, escaped if it must be.
static void
s_put_code (s_out_t *out, uint32_t code)
{
    char bytes[8];
    size_t length = 2;
    static const char controls[] = "\"\\\b\f\n\r\t";
    const char *short_form = code && code < 0x80 ? strchr (controls, (int)code) : NULL;
    if (short_form) {
        bytes[0] = '\\';
        bytes[1] = "\"\\bfnrt"[short_form - controls];
    } else if (code < 0x20)
        length = (size_t)snprintf (bytes, sizeof bytes, "\\u%04X", (unsigned)code);
    else
        length = s_utf8_encode (code, bytes);
    s_put (out, bytes, length);
}

//  A validated string member's value (its text, quotes included) as a
//  JSON string: escapes decoded and written again the jansson way.
static void
s_put_member (s_out_t *out, const char *at, size_t length)
{
    const unsigned char *p = (const unsigned char *)at + 1;
    const unsigned char *end = (const unsigned char *)at + length - 1;
    s_put (out, "\"", 1);
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p != '\\')
            p++;
        s_put (out, (const char *)run, (size_t)(p - run));
        if (p < end)
            s_put_code (out, s_escape_decode (&p));
    }
    s_put (out, "\"", 1);
}

//  A C string (the bus name) as a JSON string.
static void
s_put_text (s_out_t *out, const char *text)
{
    s_put (out, "\"", 1);
    for (const char *run = text; *text; run = text) {
        while (*text && *text != '"' && *text != '\\' && (unsigned char)*text >= 0x20)
            text++;
        s_put (out, run, (size_t)(text - run));
        if (*text)
            s_put_code (out, (unsigned char)*text++);
    }
    s_put (out, "\"", 1);
}

//  The detail object's text without its insignificant whitespace, as a
//  JSON string: only '"' and '\' need escaping in JSON text.
static void
s_put_detail (s_out_t *out, const char *at, size_t length)
{
    const char *end = at + length;
    bool quoted = false;
    s_put (out, "\"", 1);
    while (at < end) {
        const char *run = at;
        while (at < end && *at != '"' && *at != '\\' &&
               (quoted || (*at != ' ' && *at != '\n' && *at != '\r' && *at != '\t')))
            at++;
        s_put (out, run, (size_t)(at - run));
        if (at == end)
            break;
        if (*at == '"') {
            s_put (out, "\\\"", 2);
            quoted = !quoted;
        } else if (*at == '\\') {
            //  Only inside a string: the escape and the byte after it.
            s_put (out, "\\\\", 2);
            if (at[1] == '"' || at[1] == '\\')
                s_put (out, at[1] == '"' ? "\\\"" : "\\\\", 2);
            else
                s_put (out, at + 1, 1);
            at++;
        }
        at++;  //  the quote, the escape's second byte, or a blank
    }
    s_put (out, "\"", 1);
}

static void
s_put_entry (s_out_t *out, const s_member_t *members, const int64_t *seconds, const char *bus_name)
{
    const s_member_t *resources = &members[S_RESOURCES];
    s_put (out, "{\"Source\":", 10);
    s_put_member (out, members[S_SOURCE].at, members[S_SOURCE].length);
    s_put (out, ",\"DetailType\":", 14);
    s_put_member (out, members[S_DETAIL_TYPE].at, members[S_DETAIL_TYPE].length);
    s_put (out, ",\"Detail\":", 10);
    s_put_detail (out, members[S_DETAIL].at, members[S_DETAIL].length);
    if (resources->count > 0) {
        //  Walk the validated array again: strings separated by ',' and blanks.
        s_scan_t s = {(const unsigned char *)resources->at, (const unsigned char *)resources->at,
                      (const unsigned char *)resources->at + resources->length, 0, NULL};
        s_put (out, ",\"Resources\":[", 14);
        for (size_t item = 0; item < resources->count; item++) {
            while (*s.p != '"')
                s.p++;
            const unsigned char *from = s.p;
            s_string (&s, NULL);
            if (item > 0)
                s_put (out, ",", 1);
            s_put_member (out, (const char *)from, (size_t)(s.p - from));
        }
        s_put (out, "]", 1);
    }
    if (seconds) {
        char text[40];
        int length = snprintf (text, sizeof text, ",\"Time\":%lld", (long long)*seconds);
        s_put (out, text, (size_t)length);
    }
    if (bus_name && *bus_name) {
        s_put (out, ",\"EventBusName\":", 16);
        s_put_text (out, bus_name);
    }
    s_put (out, "}", 1);
}

cab_status_t
cab_putevents_entry_build (const char *event_text, size_t length, const char *bus_name,
                           cab_putevents_entry_t *entry, cab_error_t *error)
{
    memset (entry, 0, sizeof *entry);
    if (bus_name) {
        const unsigned char *p = (const unsigned char *)bus_name;
        const unsigned char *end = p + strlen (bus_name);
        while (p < end) {
            size_t step = *p < 0x80 ? 1 : s_utf8_length (p, (size_t)(end - p));
            if (!step)
                return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                                      "the event bus name is not UTF-8");
            p += step;
        }
    }
    s_member_t members[S_MEMBERS];
    size_t size = 0;
    cab_status_t status = s_scan_event (event_text, length, members, &size, error);
    if (status != CAB_OK)
        return status;
    int64_t seconds = 0;
    const s_member_t *time = &members[S_TIME];
    if (time->at) {
        char value[64];  //  Checked by s_scan_event: a time, so short
        int64_t millis = 0;
        value[s_unescape (time->at + 1, time->length - 2, value)] = 0;
        cab_time_parse (value, &millis);
        //  AWS JSON 1.1 timestamps are epoch seconds; keep whole seconds.
        seconds = millis / 1000;
    }
    s_out_t out = {NULL, 0};
    s_put_entry (&out, members, time->at ? &seconds : NULL, bus_name);
    entry->json = (char *)malloc (out.length + 1);
    if (!entry->json)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
    s_out_t write = {entry->json, 0};
    s_put_entry (&write, members, time->at ? &seconds : NULL, bus_name);
    entry->json[write.length] = 0;
    entry->json_length = write.length;
    entry->size = size;
    return CAB_OK;
}
