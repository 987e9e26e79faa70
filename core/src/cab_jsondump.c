/*  =========================================================================
    cab_jsondump - JSON text from a jansson document, in one pass

    cabi_json_dumps (declared in cab_jsonscan.h) gives jansson's compact
    text byte for byte, about ten times faster than json_dumpb: strings are
    copied sixteen bytes at a time between the bytes that need escaping
    (cabi_json_plain_span), where jansson decodes every character and, for
    every object and array, formats its address into a table of the values
    it is inside (its guard against cycles). A publisher serialises every
    event it sends (cab_event_text): with jansson that was two passes of
    about 10 us for a 1 KB event, a third of an agent's CPU per event.

    What is not the common case goes to jansson, so that its verdict and
    its text stay the reference: flags other than JSON_COMPACT,
    JSON_ENCODE_ANY and JSON_REAL_PRECISION, and nesting deeper than
    S_DEPTH_MAX (which includes a document that contains itself: jansson
    detects the cycle). Reals are formatted by jansson too (its rules for
    "%.17g" are particular) from a buffer on the stack.

    A string that is not UTF-8 is refused (NULL), as jansson refuses it in
    a value; in an object key jansson 2.14 ignores its own failure and
    writes what it had, which is not the document (json_object_set_nocheck
    takes such a key).
    =========================================================================
*/
#include "cab_jsonscan.h"
#include <stdlib.h>
#include <string.h>

//  Nesting beyond this goes to jansson (a cycle never ends).
#define S_DEPTH_MAX 256
//  The first buffer, bytes: an event's text fits most often.
#define S_FIRST_SIZE 2048

//  The flags the fast path writes as jansson does.
#define S_FLAGS_OURS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (31))

typedef enum {
    S_OK,
    S_REFUSED,  //  Out of memory, or text that is not UTF-8: the answer is NULL
    S_JANSSON   //  Not ours to write: jansson does it all
} s_state_t;

typedef struct {
    char *data;
    size_t length;
    size_t size;
    size_t flags;
    s_state_t state;
} s_out_t;

//  Stop writing: every reserve fails from now on (size 0), the buffer is
//  freed by cabi_json_dumps.
static void
s_stop (s_out_t *out, s_state_t state)
{
    out->state = state;
    out->size = 0;
}

//  Grow the buffer for `more` bytes past the text and its NUL.
static bool __attribute__ ((noinline)) s_grow (s_out_t *out, size_t more)
{
    if (out->state != S_OK)
        return false;
    size_t size = out->size ? out->size : S_FIRST_SIZE;
    while (size < out->length + more + 1) {
        if (size > SIZE_MAX / 2) {
            s_stop (out, S_REFUSED);
            return false;
        }
        size *= 2;
    }
    char *data = (char *)realloc (out->data, size);
    if (!data) {
        s_stop (out, S_REFUSED);
        return false;
    }
    out->data = data;
    out->size = size;
    return true;
}

//  Room for `more` bytes past the text and its NUL (a failed state has a
//  size of 0: every reserve fails).
static inline bool
s_reserve (s_out_t *out, size_t more)
{
    return out->length + more + 1 <= out->size || s_grow (out, more);
}

static inline void
s_put (s_out_t *out, const char *bytes, size_t length)
{
    if (s_reserve (out, length)) {
        memcpy (out->data + out->length, bytes, length);
        out->length += length;
    }
}

static inline void
s_put_char (s_out_t *out, char c)
{
    if (s_reserve (out, 1))
        out->data[out->length++] = c;
}

//  The escape jansson writes for the byte c (< 0x20, '"' or '\\') into
//  `escape`; returns its length.
static size_t
s_escape (unsigned char c, char escape[7])
{
    static const char hex[] = "0123456789ABCDEF";
    escape[0] = '\\';
    switch (c) {
        case '"':
        case '\\':
            escape[1] = (char)c;
            return 2;
        case '\b':
            escape[1] = 'b';
            return 2;
        case '\f':
            escape[1] = 'f';
            return 2;
        case '\n':
            escape[1] = 'n';
            return 2;
        case '\r':
            escape[1] = 'r';
            return 2;
        case '\t':
            escape[1] = 't';
            return 2;
        default:
            memcpy (escape + 1, "u00", 3);
            escape[4] = hex[c >> 4];
            escape[5] = hex[c & 15];
            return 6;
    }
}

//  The string's bytes, escaped as jansson escapes them. Room is reserved
//  for the rest of the input and the closing quote at the start and after
//  each escape, so the bytes copied as they are need no check.
static void
s_string (s_out_t *out, const char *text, size_t length)
{
    const unsigned char *p = (const unsigned char *)text;
    if (!s_reserve (out, length + 2))
        return;
    char *data = out->data;
    size_t at = out->length;
    data[at++] = '"';
    size_t i = 0;
    while (i < length) {
        size_t plain = cabi_json_plain_span (p + i, length - i);
        memcpy (data + at, text + i, plain);
        at += plain;
        i += plain;
        if (i == length)
            break;
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t size = cabi_json_utf8_length (p + i, length - i);
            if (size == 0) {
                s_stop (out, S_REFUSED);  //  Not UTF-8 (see the top of the file)
                return;
            }
            memcpy (data + at, text + i, size);
            at += size;
            i += size;
        } else if (c < 0x20 || c == '"' || c == '\\') {
            char escape[7];
            size_t size = s_escape (c, escape);
            out->length = at;
            if (!s_reserve (out, size + (length - i - 1) + 1))
                return;
            data = out->data;
            memcpy (data + at, escape, size);
            at += size;
            i++;
        } else {
            data[at++] = (char)c;  //  The tail the block scan leaves
            i++;
        }
    }
    data[at++] = '"';
    out->length = at;
}

static void
s_integer (s_out_t *out, json_int_t value)
{
    char digits[24];
    size_t at = sizeof digits;
    //  Through the unsigned type: the most negative value has no positive.
    unsigned long long magnitude =
        value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[--at] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0)
        digits[--at] = '-';
    s_put (out, digits + at, sizeof digits - at);
}

static void
s_real (s_out_t *out, const json_t *value)
{
    char text[64];
    size_t flags = JSON_ENCODE_ANY | (out->flags & JSON_REAL_PRECISION (31));
    size_t length = json_dumpb (value, text, sizeof text, flags);
    if (length == 0 || length > sizeof text)
        s_stop (out, S_JANSSON);
    else
        s_put (out, text, length);
}

static void s_value (s_out_t *out, const json_t *value, int depth);

static void
s_object (s_out_t *out, const json_t *object, int depth)
{
    s_put_char (out, '{');
    bool first = true;
    for (void *iter = json_object_iter ((json_t *)object); iter && out->state == S_OK;
         iter = json_object_iter_next ((json_t *)object, iter)) {
        if (!first)
            s_put_char (out, ',');
        first = false;
        s_string (out, json_object_iter_key (iter), json_object_iter_key_len (iter));
        s_put_char (out, ':');
        s_value (out, json_object_iter_value (iter), depth + 1);
    }
    s_put_char (out, '}');
}

static void
s_array (s_out_t *out, const json_t *array, int depth)
{
    s_put_char (out, '[');
    size_t size = json_array_size (array);
    for (size_t index = 0; index < size && out->state == S_OK; index++) {
        if (index)
            s_put_char (out, ',');
        s_value (out, json_array_get (array, index), depth + 1);
    }
    s_put_char (out, ']');
}

static void
s_value (s_out_t *out, const json_t *value, int depth)
{
    if (depth > S_DEPTH_MAX) {
        s_stop (out, S_JANSSON);
        return;
    }
    switch (json_typeof (value)) {
        case JSON_OBJECT:
            s_object (out, value, depth);
            break;
        case JSON_ARRAY:
            s_array (out, value, depth);
            break;
        case JSON_STRING:
            s_string (out, json_string_value (value), json_string_length (value));
            break;
        case JSON_INTEGER:
            s_integer (out, json_integer_value (value));
            break;
        case JSON_REAL:
            s_real (out, value);
            break;
        case JSON_TRUE:
            s_put (out, "true", 4);
            break;
        case JSON_FALSE:
            s_put (out, "false", 5);
            break;
        case JSON_NULL:
            s_put (out, "null", 4);
            break;
        default:
            s_stop (out, S_JANSSON);
    }
}

//  jansson's two passes of json_dumpb: json_dumps drops the text of an
//  object key when its buffer cannot grow (jansson 2.14), which gives text
//  that is not the document; a buffer of the right size never grows.
static char *
s_jansson (const json_t *json, size_t flags, size_t *length_p)
{
    size_t size = json_dumpb (json, NULL, 0, flags);
    char *buffer = size ? (char *)malloc (size + 1) : NULL;
    if (buffer && json_dumpb (json, buffer, size, flags) != size) {
        free (buffer);
        buffer = NULL;
    }
    if (buffer) {
        buffer[size] = 0;
        if (length_p)
            *length_p = size;
    }
    return buffer;
}

char *
cabi_json_dumps (const json_t *json, size_t flags, size_t *length_p)
{
    if (!json)
        return NULL;
    if ((flags & ~(size_t)S_FLAGS_OURS) || !(flags & JSON_COMPACT))
        return s_jansson (json, flags, length_p);
    if (!(flags & JSON_ENCODE_ANY) && !json_is_object (json) && !json_is_array (json))
        return NULL;  //  As jansson: a scalar needs JSON_ENCODE_ANY
    s_out_t out = {NULL, 0, 0, flags, S_OK};
    s_value (&out, json, 0);
    if (out.state != S_OK) {
        free (out.data);
        return out.state == S_JANSSON ? s_jansson (json, flags, length_p) : NULL;
    }
    out.data[out.length] = 0;
    //  Give back what doubling left unused when it is much.
    if (out.size - out.length > out.length / 4 + 64) {
        char *shrunk = (char *)realloc (out.data, out.length + 1);
        if (shrunk)
            out.data = shrunk;
    }
    if (length_p)
        *length_p = out.length;
    return out.data;
}
