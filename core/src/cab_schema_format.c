/*  =========================================================================
    cab_schema_format - the "format" keyword

    Supported: date-time, date, time (RFC 3339), email (RFC 5321 shape:
    dot-atom local part, hostname or address literal domain), ipv4 (dotted
    quad, no leading zeros), ipv6 (RFC 4291 text, embedded IPv4), hostname
    (RFC 1123 labels), uri and uri-reference (RFC 3986 generic syntax),
    uuid (RFC 4122 text), regex (ECMA-262, as for "pattern"), json-pointer
    and relative-json-pointer (RFC 6901 and its draft). Other formats are
    accepted without checking, as draft-07 allows; non-strings always pass.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include <string.h>

static const struct {
    const char *name;
    cabi_format_t format;
} s_formats[] = {
    {"date-time", CABI_FORMAT_DATE_TIME},
    {"date", CABI_FORMAT_DATE},
    {"time", CABI_FORMAT_TIME},
    {"email", CABI_FORMAT_EMAIL},
    {"ipv4", CABI_FORMAT_IPV4},
    {"ipv6", CABI_FORMAT_IPV6},
    {"hostname", CABI_FORMAT_HOSTNAME},
    {"uri", CABI_FORMAT_URI},
    {"uri-reference", CABI_FORMAT_URI_REFERENCE},
    {"uuid", CABI_FORMAT_UUID},
    {"regex", CABI_FORMAT_REGEX},
    {"json-pointer", CABI_FORMAT_JSON_POINTER},
    {"relative-json-pointer", CABI_FORMAT_RELATIVE_JSON_POINTER},
};

cabi_format_t
cabi_schema_format_lookup (const char *name)
{
    for (size_t index = 0; index < sizeof s_formats / sizeof s_formats[0]; index++)
        if (strcmp (s_formats[index].name, name) == 0)
            return s_formats[index].format;
    return CABI_FORMAT_NONE;
}

const char *
cabi_schema_format_name (cabi_format_t format)
{
    for (size_t index = 0; index < sizeof s_formats / sizeof s_formats[0]; index++)
        if (s_formats[index].format == format)
            return s_formats[index].name;
    return "unknown";
}

static bool
s_digit (char c)
{
    return c >= '0' && c <= '9';
}

static bool
s_alpha (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
s_hexdig (char c)
{
    return s_digit (c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

//  Read exactly `count` digits at text[*at]; -1 if not there.
static int
s_digits (const char *text, size_t length, size_t *at, int count)
{
    int value = 0;
    for (int index = 0; index < count; index++, (*at)++) {
        if (*at >= length || !s_digit (text[*at]))
            return -1;
        value = value * 10 + (text[*at] - '0');
    }
    return value;
}

static bool
s_expect (const char *text, size_t length, size_t *at, char c)
{
    if (*at < length && (text[*at] == c || (s_alpha (c) && (text[*at] | 0x20) == (c | 0x20)))) {
        (*at)++;
        return true;
    }
    return false;
}

static bool
s_full_date (const char *text, size_t length, size_t *at)
{
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = s_digits (text, length, at, 4);
    if (year < 0 || !s_expect (text, length, at, '-'))
        return false;
    int month = s_digits (text, length, at, 2);
    if (month < 1 || month > 12 || !s_expect (text, length, at, '-'))
        return false;
    int day = s_digits (text, length, at, 2);
    if (day < 1 || day > days[month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return !(month == 2 && day == 29 && !leap);
}

static bool
s_full_time (const char *text, size_t length, size_t *at)
{
    int hour = s_digits (text, length, at, 2);
    if (hour < 0 || hour > 23 || !s_expect (text, length, at, ':'))
        return false;
    int minute = s_digits (text, length, at, 2);
    if (minute < 0 || minute > 59 || !s_expect (text, length, at, ':'))
        return false;
    int second = s_digits (text, length, at, 2);
    if (second < 0 || second > 60)  //  60: a leap second
        return false;
    if (s_expect (text, length, at, '.')) {
        size_t start = *at;
        while (*at < length && s_digit (text[*at]))
            (*at)++;
        if (*at == start)
            return false;
    }
    if (s_expect (text, length, at, 'Z'))
        return true;
    if (*at >= length || (text[*at] != '+' && text[*at] != '-'))
        return false;
    (*at)++;
    int offset_hour = s_digits (text, length, at, 2);
    if (offset_hour < 0 || offset_hour > 23 || !s_expect (text, length, at, ':'))
        return false;
    int offset_minute = s_digits (text, length, at, 2);
    return offset_minute >= 0 && offset_minute <= 59;
}

static bool
s_ipv4 (const char *text, size_t length)
{
    size_t at = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && !s_expect (text, length, &at, '.'))
            return false;
        size_t start = at;
        int value = 0;
        while (at < length && s_digit (text[at]) && at - start < 3)
            value = value * 10 + (text[at++] - '0');
        if (at == start || value > 255 || (at - start > 1 && text[start] == '0'))
            return false;
    }
    return at == length;
}

static bool
s_ipv6 (const char *text, size_t length)
{
    int groups = 0;
    bool compressed = false;
    size_t at = 0;
    if (length >= 2 && text[0] == ':' && text[1] == ':') {
        compressed = true;
        at = 2;
    } else if (length >= 1 && text[0] == ':')
        return false;
    while (at < length) {
        size_t start = at;
        while (at < length && s_hexdig (text[at]) && at - start < 5)
            at++;
        if (at < length && text[at] == '.') {
            //  Trailing dotted IPv4 counts for two groups.
            if (!s_ipv4 (text + start, length - start) || groups > 6)
                return false;
            groups += 2;
            at = length;
            break;
        }
        if (at == start || at - start > 4)
            return false;
        groups++;
        if (at == length)
            break;
        if (text[at] != ':')
            return false;
        at++;
        if (at < length && text[at] == ':') {
            if (compressed)
                return false;
            compressed = true;
            at++;
        } else if (at == length)
            return false;  //  Trailing single colon
    }
    return compressed ? groups <= 7 : groups == 8;
}

static bool
s_hostname (const char *text, size_t length)
{
    if (length == 0 || length > 253)
        return false;
    size_t label = 0;
    for (size_t at = 0; at <= length; at++) {
        if (at == length || text[at] == '.') {
            if (label == 0 || label > 63 || text[at - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        char c = text[at];
        if (!s_alpha (c) && !s_digit (c) && c != '-')
            return false;
        if (label == 0 && c == '-')
            return false;
        label++;
    }
    return true;
}

static bool
s_email (const char *text, size_t length)
{
    const char *at_sign = memchr (text, '@', length);
    if (!at_sign)
        return false;
    size_t local = (size_t)(at_sign - text), domain = length - local - 1;
    if (local == 0 || local > 64 || domain == 0)
        return false;
    static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
    for (size_t at = 0; at < local; at++) {
        char c = text[at];
        if (c == '.') {
            if (at == 0 || at == local - 1 || text[at - 1] == '.')
                return false;
        } else if (!s_alpha (c) && !s_digit (c) && !strchr (atext, c) && (unsigned char)c < 0x80)
            return false;
    }
    const char *host = at_sign + 1;
    if (host[0] == '[' && host[domain - 1] == ']') {
        if (domain > 6 && strncmp (host + 1, "IPv6:", 5) == 0)
            return s_ipv6 (host + 6, domain - 7);
        return s_ipv4 (host + 1, domain - 2);
    }
    return s_hostname (host, domain);
}

static bool
s_uuid (const char *text, size_t length)
{
    if (length != 36)
        return false;
    for (size_t at = 0; at < 36; at++) {
        bool dash = at == 8 || at == 13 || at == 18 || at == 23;
        if (dash ? text[at] != '-' : !s_hexdig (text[at]))
            return false;
    }
    return true;
}

static bool
s_json_pointer (const char *text, size_t length)
{
    if (length > 0 && text[0] != '/')
        return false;
    for (size_t at = 0; at < length; at++)
        if (text[at] == '~' && (at + 1 >= length || (text[at + 1] != '0' && text[at + 1] != '1')))
            return false;
    return true;
}

static bool
s_relative_json_pointer (const char *text, size_t length)
{
    size_t at = 0;
    while (at < length && s_digit (text[at]))
        at++;
    if (at == 0 || (at > 1 && text[0] == '0'))
        return false;
    if (at == length)
        return true;
    if (text[at] == '#')
        return at + 1 == length;
    return s_json_pointer (text + at, length - at);
}

//  RFC 3986 character classes.
static bool
s_unreserved (char c)
{
    return s_alpha (c) || s_digit (c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool
s_sub_delim (char c)
{
    return c && strchr ("!$&'()*+,;=", c);
}

//  Check text[start,end) holds pchar-like characters plus `extra`.
static bool
s_uri_chars (const char *text, size_t start, size_t end, const char *extra)
{
    for (size_t at = start; at < end; at++) {
        char c = text[at];
        if (c == '%') {
            if (at + 2 >= end || !s_hexdig (text[at + 1]) || !s_hexdig (text[at + 2]))
                return false;
            at += 2;
        } else if (!s_unreserved (c) && !s_sub_delim (c) && !(c && strchr (extra, c)))
            return false;
    }
    return true;
}

bool
cabi_schema_uri_valid (const char *text, size_t length, bool absolute)
{
    size_t at = 0;
    //  scheme
    size_t colon = 0;
    while (colon < length && !strchr (":/?#", text[colon]))
        colon++;
    bool has_scheme = colon < length && text[colon] == ':' && colon > 0;
    if (has_scheme) {
        if (!s_alpha (text[0]))
            return false;
        for (size_t index = 1; index < colon; index++)
            if (!s_alpha (text[index]) && !s_digit (text[index]) && !strchr ("+-.", text[index]))
                return false;
        at = colon + 1;
    } else if (absolute)
        return false;
    size_t end = length;
    const char *hash = memchr (text + at, '#', length - at);
    if (hash) {
        end = (size_t)(hash - text);
        if (!s_uri_chars (text, end + 1, length, ":@/?"))
            return false;
    }
    const char *question = memchr (text + at, '?', end - at);
    size_t path_end = question ? (size_t)(question - text) : end;
    if (question && !s_uri_chars (text, path_end + 1, end, ":@/?"))
        return false;
    if (path_end - at >= 2 && text[at] == '/' && text[at + 1] == '/') {
        at += 2;
        size_t authority_end = at;
        while (authority_end < path_end && text[authority_end] != '/')
            authority_end++;
        const char *host = text + at;
        size_t host_length = authority_end - at;
        const char *user = memchr (host, '@', host_length);
        if (user) {
            if (!s_uri_chars (text, at, (size_t)(user - text), ":"))
                return false;
            host_length -= (size_t)(user + 1 - host);
            host = user + 1;
        }
        if (host_length > 0 && host[0] == '[') {
            const char *close = memchr (host, ']', host_length);
            if (!close || !s_ipv6 (host + 1, (size_t)(close - host - 1)))
                return false;
            host_length -= (size_t)(close + 1 - host);
            host = close + 1;
            if (host_length > 0 && host[0] != ':')
                return false;
        }
        const char *port = memchr (host, ':', host_length);
        size_t name_length = port ? (size_t)(port - host) : host_length;
        if (!s_uri_chars (host, 0, name_length, ""))
            return false;
        if (port)
            for (const char *digit = port + 1; digit < host + host_length; digit++)
                if (!s_digit (*digit))
                    return false;
        at = authority_end;
    } else if (!has_scheme) {
        //  relative-ref: the first segment of a path may not hold ':'
        size_t first = at;
        while (first < path_end && text[first] != '/')
            if (text[first++] == ':')
                return false;
    }
    return s_uri_chars (text, at, path_end, ":@/");
}

int
cabi_schema_format_check (cab_schema_t *schema, cabi_format_t format, const char *text,
                          size_t length)
{
    size_t at = 0;
    switch (format) {
        case CABI_FORMAT_DATE_TIME:
            return s_full_date (text, length, &at) && s_expect (text, length, &at, 'T') &&
                   s_full_time (text, length, &at) && at == length;
        case CABI_FORMAT_DATE:
            return s_full_date (text, length, &at) && at == length;
        case CABI_FORMAT_TIME:
            return s_full_time (text, length, &at) && at == length;
        case CABI_FORMAT_EMAIL:
            return s_email (text, length);
        case CABI_FORMAT_IPV4:
            return s_ipv4 (text, length);
        case CABI_FORMAT_IPV6:
            return s_ipv6 (text, length);
        case CABI_FORMAT_HOSTNAME:
            return s_hostname (text, length);
        case CABI_FORMAT_URI:
            return cabi_schema_uri_valid (text, length, true);
        case CABI_FORMAT_URI_REFERENCE:
            return cabi_schema_uri_valid (text, length, false);
        case CABI_FORMAT_UUID:
            return s_uuid (text, length);
        case CABI_FORMAT_JSON_POINTER:
            return s_json_pointer (text, length);
        case CABI_FORMAT_RELATIVE_JSON_POINTER:
            return s_relative_json_pointer (text, length);
        case CABI_FORMAT_REGEX: {
            char reason[160];
            cab_status_t status = CAB_OK;
            pcre2_code *code = cabi_schema_regex_compile (schema->general, text, length, reason,
                                                          sizeof reason, &status);
            pcre2_code_free (code);
            if (status == CAB_ERR_NOMEM)
                return -CAB_ERR_NOMEM;
            return code != NULL;
        }
        default:
            return 1;
    }
}
