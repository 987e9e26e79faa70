/*  =========================================================================
    cab_pattern_text - jansson values to JSON text for the pattern engine:
    reals in their shortest round-trip form (the number event-ruler would
    see), bounded in size and depth
    =========================================================================
*/
#include "cab_pattern_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  jansson values to JSON text, reals in their shortest round-trip form
//  (as event-ruler sees a number), bounded in size

typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} s_text_t;

static void
s_text_put (s_text_t *text, const char *bytes, size_t n)
{
    if (text->failed)
        return;
    if (text->len + n + 1 > text->cap) {
        size_t cap = text->cap ? text->cap * 2 : 256;
        while (cap < text->len + n + 1)
            cap *= 2;
        if (cap > 2 * (size_t)CAB_PATTERN_EVENT_MAX + 64) {
            text->failed = true;
            return;
        }
        char *data = realloc (text->data, cap);
        if (!data) {
            text->failed = true;
            return;
        }
        text->data = data;
        text->cap = cap;
    }
    memcpy (text->data + text->len, bytes, n);
    text->len += n;
    text->data[text->len] = 0;
}

static void
s_text_string (s_text_t *text, const char *s, size_t n)
{
    s_text_put (text, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        s_text_put (text, s + start, i - start);
        char escape[8];
        snprintf (escape, sizeof escape, "\\u%04x", c);
        s_text_put (text, escape, 6);
        start = i + 1;
    }
    s_text_put (text, s + start, n - start);
    s_text_put (text, "\"", 1);
}

static void
s_text_json (s_text_t *text, const json_t *value, int depth)
{
    char buffer[40];
    if (depth > CAB_PATTERN_DEPTH_MAX) {
        text->failed = true;
        return;
    }
    switch (json_typeof (value)) {
        case JSON_OBJECT: {
            const char *key;
            json_t *member;
            bool first = true;
            s_text_put (text, "{", 1);
            json_object_foreach ((json_t *)value, key, member)
            {
                if (!first)
                    s_text_put (text, ",", 1);
                first = false;
                s_text_string (text, key, strlen (key));
                s_text_put (text, ":", 1);
                s_text_json (text, member, depth + 1);
            }
            s_text_put (text, "}", 1);
            break;
        }
        case JSON_ARRAY:
            s_text_put (text, "[", 1);
            for (size_t i = 0; i < json_array_size (value); i++) {
                if (i)
                    s_text_put (text, ",", 1);
                s_text_json (text, json_array_get (value, i), depth + 1);
            }
            s_text_put (text, "]", 1);
            break;
        case JSON_STRING:
            s_text_string (text, json_string_value (value), json_string_length (value));
            break;
        case JSON_INTEGER:
            snprintf (buffer, sizeof buffer, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
            s_text_put (text, buffer, strlen (buffer));
            break;
        case JSON_REAL: {
            double d = json_real_value (value);
            for (int p = 1; p <= 17; p++) {
                snprintf (buffer, sizeof buffer, "%.*g", p, d);
                if (strtod (buffer, NULL) == d)
                    break;
            }
            //  JSON needs a digit where C may print "inf" or "nan" (jansson rejects both)
            s_text_put (text, buffer, strlen (buffer));
            break;
        }
        case JSON_TRUE:
            s_text_put (text, "true", 4);
            break;
        case JSON_FALSE:
            s_text_put (text, "false", 5);
            break;
        default:
            s_text_put (text, "null", 4);
    }
}

//  Returns new text (caller frees) or NULL and fills error.
char *
cabi_json_text (const json_t *value, size_t *len_p, cab_error_t *error)
{
    s_text_t text = {NULL, 0, 0, false};
    s_text_json (&text, value, 0);
    if (text.failed || !text.data) {
        free (text.data);
        cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "JSON value too large or too deep");
        return NULL;
    }
    *len_p = text.len;
    return text.data;
}
