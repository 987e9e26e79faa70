/*  =========================================================================
    cab_transform - EventBridge input transformers

    Compile: the input paths map becomes a list of variables, each a parsed
    JSON path (segments: member name, array index, wildcard); the template
    becomes a list of pieces, literal text or a variable reference that
    knows whether it sits inside a JSON string of the template. A template
    that is a JSON object ("{...}") is checked to be JSON once its
    placeholders are filled and minified (EventBridge passes JSON minified).

    Apply: parse the event once (jansson), resolve every variable, and write
    the pieces into a bounded buffer: a value outside quotes is written as
    JSON, inside quotes as text (strings unquoted and escaped; objects and
    arrays as JSON with their quotes removed, as EventBridge does). Numbers
    are written in their shortest round-trip form, never re-rounded.
    =========================================================================
*/
#include "cab_transform.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Longest variable name and JSON path (EventBridge's limits).
#define S_NAME_MAX 256
#define S_PATH_MAX 256

typedef enum { S_SEG_KEY, S_SEG_INDEX, S_SEG_WILD } s_seg_kind_t;

typedef struct {
    s_seg_kind_t kind;
    char *key;     //  S_SEG_KEY
    size_t index;  //  S_SEG_INDEX
} s_seg_t;

typedef struct {
    char *name;
    s_seg_t *segs;
    size_t seg_count;
    bool wild;  //  some segment is a wildcard: the value is an array of matches
} s_var_t;

//  Reserved variables, as negative variable numbers.
enum { S_RULE_NAME = -1, S_RULE_ARN = -2, S_EVENT = -3, S_EVENT_JSON = -4, S_INGESTION_TIME = -5 };

static const struct {
    const char *name;
    int id;
} s_reserved[] = {{"aws.events.rule-name", S_RULE_NAME},
                  {"aws.events.rule-arn", S_RULE_ARN},
                  {"aws.events.event", S_EVENT},
                  {"aws.events.event.json", S_EVENT_JSON},
                  {"aws.events.event.ingestion-time", S_INGESTION_TIME},
                  {NULL, 0}};

typedef struct {
    size_t offset, length;  //  literal text in self->text, when var == 0
    int var;                //  0: literal; > 0: variable var-1; < 0: reserved
    bool quoted;            //  the placeholder is inside a JSON string
} s_piece_t;

struct cab_transform_t {
    s_var_t *vars;
    size_t var_count;
    s_piece_t *pieces;
    size_t piece_count;
    char *text;        //  the literals, one after the other
    bool needs_event;  //  some piece reads the event
};

//  ---------------------------------------------------------------------
//  A growing output buffer with a ceiling; errors are sticky.

typedef struct {
    char *data;
    size_t size, capacity, limit;
    cab_status_t status;
} s_buf_t;

static void
s_put (s_buf_t *buf, const char *bytes, size_t length)
{
    if (buf->status != CAB_OK)
        return;
    if (length > buf->limit - buf->size) {
        buf->status = CAB_ERR_TOO_LARGE;
        return;
    }
    if (buf->size + length + 1 > buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity : 256;
        while (capacity < buf->size + length + 1)
            capacity *= 2;
        char *data = realloc (buf->data, capacity);
        if (!data) {
            buf->status = CAB_ERR_NOMEM;
            return;
        }
        buf->data = data;
        buf->capacity = capacity;
    }
    memcpy (buf->data + buf->size, bytes, length);
    buf->size += length;
    buf->data[buf->size] = 0;
}

static void
s_puts (s_buf_t *buf, const char *text)
{
    s_put (buf, text, strlen (text));
}

//  Write bytes escaped for the inside of a JSON string (no quotes around).
static void
s_put_escaped (s_buf_t *buf, const char *text, size_t length, bool drop_quotes)
{
    size_t run = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        s_put (buf, text + run, i - run);
        run = i + 1;
        char escape[8];
        if (c == '"') {
            if (drop_quotes)
                continue;
            s_put (buf, "\\\"", 2);
        } else if (c == '\\')
            s_put (buf, "\\\\", 2);
        else if (c == '\n')
            s_put (buf, "\\n", 2);
        else if (c == '\r')
            s_put (buf, "\\r", 2);
        else if (c == '\t')
            s_put (buf, "\\t", 2);
        else {
            snprintf (escape, sizeof escape, "\\u%04x", c);
            s_put (buf, escape, 6);
        }
    }
    s_put (buf, text + run, length - run);
}

//  Shortest text that reads back as the same double.
static void
s_put_real (s_buf_t *buf, double value)
{
    char text[40];
    if (value > -1e16 && value < 1e16 && value == (double)(int64_t)value &&
        !(value == 0 && signbit (value))) {
        snprintf (text, sizeof text, "%.0f", value);
        s_puts (buf, text);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf (text, sizeof text, "%.*g", precision, value);
        if (strtod (text, NULL) == value)
            break;
    }
    s_puts (buf, text);
}

//  Write a value as JSON. compact: "," and ":" separators (EventBridge's
//  minified output); else ", " and ": ". skip_detail: leave out the
//  top-level "detail" member (<aws.events.event>).
static void
s_put_json (s_buf_t *buf, const json_t *value, bool compact, bool skip_detail)
{
    char number[32];
    switch (json_typeof (value)) {
        case JSON_OBJECT: {
            const char *key;
            json_t *member;
            bool first = true;
            s_put (buf, "{", 1);
            json_object_foreach ((json_t *)value, key, member)
            {
                if (skip_detail && strcmp (key, "detail") == 0)
                    continue;
                if (!first)
                    s_puts (buf, compact ? "," : ", ");
                first = false;
                s_put (buf, "\"", 1);
                s_put_escaped (buf, key, strlen (key), false);
                s_puts (buf, compact ? "\":" : "\": ");
                s_put_json (buf, member, compact, false);
            }
            s_put (buf, "}", 1);
            break;
        }
        case JSON_ARRAY: {
            size_t index;
            json_t *item;
            s_put (buf, "[", 1);
            json_array_foreach ((json_t *)value, index, item)
            {
                if (index)
                    s_puts (buf, compact ? "," : ", ");
                s_put_json (buf, item, compact, false);
            }
            s_put (buf, "]", 1);
            break;
        }
        case JSON_STRING:
            s_put (buf, "\"", 1);
            s_put_escaped (buf, json_string_value (value), json_string_length (value), false);
            s_put (buf, "\"", 1);
            break;
        case JSON_INTEGER:
            snprintf (number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
            s_puts (buf, number);
            break;
        case JSON_REAL:
            s_put_real (buf, json_real_value (value));
            break;
        case JSON_TRUE:
            s_puts (buf, "true");
            break;
        case JSON_FALSE:
            s_puts (buf, "false");
            break;
        case JSON_NULL:
            s_puts (buf, "null");
            break;
    }
}

//  Write a value where the template has it inside a JSON string: a string
//  as its escaped text; anything else as its JSON text with the quotes
//  removed (EventBridge: "Detail is {key1: value1}"). NULL (missing) and
//  JSON null write nothing.
static void
s_put_quoted (s_buf_t *buf, const json_t *value, bool skip_detail)
{
    if (!value || json_is_null (value))
        return;
    if (json_is_string (value)) {
        s_put_escaped (buf, json_string_value (value), json_string_length (value), false);
        return;
    }
    s_buf_t inner = {NULL, 0, 0, buf->limit, CAB_OK};
    s_put_json (&inner, value, false, skip_detail);
    if (inner.status != CAB_OK)
        buf->status = inner.status;
    else
        s_put_escaped (buf, inner.data ? inner.data : "", inner.size, true);
    free (inner.data);
}

//  ---------------------------------------------------------------------
//  JSON paths: $, $.a.b, $.a[0], $.a[*], $.a.*

static bool
s_key_char (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '/' || c >= 0x80;
}

static cab_status_t
s_seg_add (s_var_t *var, s_seg_kind_t kind, const char *key, size_t key_length, size_t index)
{
    s_seg_t *segs = realloc (var->segs, (var->seg_count + 1) * sizeof *segs);
    if (!segs)
        return CAB_ERR_NOMEM;
    var->segs = segs;
    s_seg_t *seg = &segs[var->seg_count];
    seg->kind = kind;
    seg->index = index;
    seg->key = NULL;
    if (kind == S_SEG_KEY) {
        seg->key = strndup (key, key_length);
        if (!seg->key)
            return CAB_ERR_NOMEM;
    }
    var->seg_count++;
    if (kind == S_SEG_WILD)
        var->wild = true;
    return CAB_OK;
}

//  Parse a JSON path into var's segments. On a syntax EventBridge does not
//  support, fill `why` and return CAB_ERR_INVALID_CONFIG.
static cab_status_t
s_path_parse (s_var_t *var, const char *path, char *why, size_t why_size)
{
    size_t length = strlen (path);
    if (length == 0 || path[0] != '$') {
        snprintf (why, why_size, "a JSON path starts with '$'");
        return CAB_ERR_INVALID_CONFIG;
    }
    size_t i = 1;
    while (i < length) {
        cab_status_t rc = CAB_OK;
        if (path[i] == '.') {
            i++;
            if (i < length && path[i] == '.') {
                snprintf (why, why_size, "recursive descent ('..') is not supported");
                return CAB_ERR_INVALID_CONFIG;
            }
            if (i < length && path[i] == '*') {
                rc = s_seg_add (var, S_SEG_WILD, NULL, 0, 0);
                i++;
            } else {
                size_t start = i;
                while (i < length && s_key_char ((unsigned char)path[i]))
                    i++;
                if (i == start) {
                    snprintf (why, why_size, "a member name is missing at offset %zu", start);
                    return CAB_ERR_INVALID_CONFIG;
                }
                rc = s_seg_add (var, S_SEG_KEY, path + start, i - start, 0);
            }
        } else if (path[i] == '[') {
            i++;
            if (i + 1 < length && path[i] == '*' && path[i + 1] == ']') {
                rc = s_seg_add (var, S_SEG_WILD, NULL, 0, 0);
                i += 2;
            } else if (i < length && path[i] >= '0' && path[i] <= '9') {
                size_t index = 0, digits = 0;
                while (i < length && path[i] >= '0' && path[i] <= '9' && digits < 10) {
                    index = index * 10 + (size_t)(path[i] - '0');
                    i++;
                    digits++;
                }
                if (i >= length || path[i] != ']') {
                    snprintf (why, why_size,
                              "an array index is digits in brackets, like [0] (slices, unions "
                              "and filters are not supported)");
                    return CAB_ERR_INVALID_CONFIG;
                }
                i++;
                rc = s_seg_add (var, S_SEG_INDEX, NULL, 0, index);
            } else if (i < length && (path[i] == '\'' || path[i] == '"')) {
                snprintf (why, why_size, "bracket notation is not supported: use dot notation");
                return CAB_ERR_INVALID_CONFIG;
            } else if (i < length && path[i] == '-') {
                snprintf (why, why_size, "negative array indexes are not supported");
                return CAB_ERR_INVALID_CONFIG;
            } else {
                snprintf (why, why_size,
                          "only [N] and [*] may follow '[' (filters, slices and unions are not "
                          "supported)");
                return CAB_ERR_INVALID_CONFIG;
            }
        } else {
            unsigned char c = (unsigned char)path[i];
            if (s_key_char (c))
                snprintf (why, why_size, "expected '.' or '[' at offset %zu", i);
            else if (c >= 0x20 && c < 0x7f)
                snprintf (why, why_size,
                          "character '%c' at offset %zu is not supported (member names are "
                          "letters, digits, '-', '_' and '/')",
                          c, i);
            else
                snprintf (why, why_size, "byte 0x%02x at offset %zu is not supported", c, i);
            return CAB_ERR_INVALID_CONFIG;
        }
        if (rc != CAB_OK)
            return rc;
    }
    return CAB_OK;
}

//  Collect the matches of segs[at..] under value into matches (wildcards).
static int
s_collect (const json_t *value, const s_seg_t *segs, size_t count, json_t *matches)
{
    if (count == 0)
        return json_array_append ((json_t *)matches, (json_t *)value);
    if (segs->kind == S_SEG_KEY) {
        const json_t *member = json_is_object (value) ? json_object_get (value, segs->key) : NULL;
        return member ? s_collect (member, segs + 1, count - 1, matches) : 0;
    }
    if (segs->kind == S_SEG_INDEX) {
        const json_t *item = json_is_array (value) ? json_array_get (value, segs->index) : NULL;
        return item ? s_collect (item, segs + 1, count - 1, matches) : 0;
    }
    if (json_is_object (value)) {
        const char *key;
        json_t *member;
        json_object_foreach ((json_t *)value, key, member)
        {
            if (s_collect (member, segs + 1, count - 1, matches))
                return -1;
        }
    } else if (json_is_array (value)) {
        size_t index;
        json_t *item;
        json_array_foreach ((json_t *)value, index, item)
        {
            if (s_collect (item, segs + 1, count - 1, matches))
                return -1;
        }
    }
    return 0;
}

//  Resolve a variable: a new reference, or NULL when the path resolves to
//  nothing. *nomem_p is set when out of memory.
static json_t *
s_resolve (const s_var_t *var, json_t *event, bool *nomem_p)
{
    if (!var->wild) {
        const json_t *value = event;
        for (size_t i = 0; value && i < var->seg_count; i++) {
            const s_seg_t *seg = &var->segs[i];
            if (seg->kind == S_SEG_KEY)
                value = json_is_object (value) ? json_object_get (value, seg->key) : NULL;
            else
                value = json_is_array (value) ? json_array_get (value, seg->index) : NULL;
        }
        return value ? json_incref ((json_t *)value) : NULL;
    }
    json_t *matches = json_array ();
    if (!matches || s_collect (event, var->segs, var->seg_count, matches)) {
        json_decref (matches);
        *nomem_p = true;
        return NULL;
    }
    return matches;
}

//  ---------------------------------------------------------------------
//  Compile

static void
s_var_fini (s_var_t *var)
{
    for (size_t i = 0; i < var->seg_count; i++)
        free (var->segs[i].key);
    free (var->segs);
    free (var->name);
}

void
cab_transform_destroy (cab_transform_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_transform_t *self = *self_p;
    for (size_t i = 0; i < self->var_count; i++)
        s_var_fini (&self->vars[i]);
    free (self->vars);
    free (self->pieces);
    free (self->text);
    free (self);
    *self_p = NULL;
}

static bool
s_name_char (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static size_t
s_utf8_chars (const char *text, size_t length)
{
    size_t chars = 0;
    for (size_t i = 0; i < length; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            chars++;
    return chars;
}

static cab_status_t
s_compile_paths (cab_transform_t *self, const json_t *map, cab_error_t *error)
{
    if (!json_is_object (map))
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_paths_map",
                              "input_paths_map must be an object of variable: JSON path");
    if (json_object_size (map) > CAB_TRANSFORM_VARS_MAX)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_paths_map",
                              "input_paths_map has %zu variables; at most %d",
                              json_object_size (map), CAB_TRANSFORM_VARS_MAX);
    self->vars = calloc (json_object_size (map) + 1, sizeof *self->vars);
    if (!self->vars)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    const char *name;
    json_t *path;
    json_object_foreach ((json_t *)map, name, path)
    {
        //  The pointer, with ~ and / escaped as RFC 6901 says.
        char pointer[CAB_ERROR_PATH_MAX] = "/input_paths_map/";
        size_t used = strlen (pointer);
        for (const char *p = name; *p && used + 3 < sizeof pointer; p++) {
            if (*p == '~' || *p == '/') {
                pointer[used++] = '~';
                pointer[used++] = *p == '~' ? '0' : '1';
            } else
                pointer[used++] = *p;
        }
        pointer[used] = 0;
        size_t name_length = strlen (name);
        bool good = name_length >= 1 && name_length <= S_NAME_MAX;
        for (size_t i = 0; good && i < name_length; i++)
            good = s_name_char ((unsigned char)name[i]);
        if (!good)
            return cab_error_set (
                error, CAB_ERR_INVALID_CONFIG, pointer,
                "variable name '%.64s' must be 1 to %d of A-Z a-z 0-9 '-' '_' (names with dots "
                "are reserved for aws.events.*)",
                name, S_NAME_MAX);
        if (!json_is_string (path))
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, pointer,
                                  "the JSON path of '%s' must be a string", name);
        const char *text = json_string_value (path);
        if (json_string_length (path) < 1 || json_string_length (path) > S_PATH_MAX ||
            strlen (text) != json_string_length (path))
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, pointer,
                                  "the JSON path of '%s' must be 1 to %d characters", name,
                                  S_PATH_MAX);
        s_var_t *var = &self->vars[self->var_count++];
        var->name = strdup (name);
        if (!var->name)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        char why[200];
        cab_status_t rc = s_path_parse (var, text, why, sizeof why);
        if (rc == CAB_ERR_NOMEM)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        if (rc != CAB_OK)
            return cab_error_set (error, rc, pointer, "JSON path '%s': %s", text, why);
    }
    return CAB_OK;
}

static cab_status_t
s_piece_add (cab_transform_t *self, size_t *capacity_p, s_piece_t piece)
{
    if (self->piece_count == *capacity_p) {
        size_t capacity = *capacity_p ? *capacity_p * 2 : 16;
        s_piece_t *pieces = realloc (self->pieces, capacity * sizeof *pieces);
        if (!pieces)
            return CAB_ERR_NOMEM;
        self->pieces = pieces;
        *capacity_p = capacity;
    }
    //  Adjacent literals merge.
    if (piece.var == 0 && self->piece_count > 0) {
        s_piece_t *last = &self->pieces[self->piece_count - 1];
        if (last->var == 0 && last->offset + last->length == piece.offset) {
            last->length += piece.length;
            return CAB_OK;
        }
    }
    self->pieces[self->piece_count++] = piece;
    return CAB_OK;
}

//  Find a placeholder name: a variable (> 0), a reserved one (< 0), or 0.
static int
s_lookup (cab_transform_t *self, const char *name, size_t length)
{
    for (size_t i = 0; i < self->var_count; i++)
        if (strlen (self->vars[i].name) == length && memcmp (self->vars[i].name, name, length) == 0)
            return (int)i + 1;
    for (int i = 0; s_reserved[i].name; i++)
        if (strlen (s_reserved[i].name) == length && memcmp (s_reserved[i].name, name, length) == 0)
            return s_reserved[i].id;
    return 0;
}

//  A JSON-object template must be JSON once filled: fill placeholders
//  outside strings with null, inside with U+E000, parse, and refuse a
//  placeholder used as an object key.
static bool
s_key_has_marker (const json_t *value)
{
    const char *key;
    json_t *member;
    size_t index;
    if (json_is_object (value)) {
        json_object_foreach ((json_t *)value, key, member)
        {
            if (strstr (key, "\xee\x80\x80") || s_key_has_marker (member))
                return true;
        }
    } else if (json_is_array (value)) {
        json_array_foreach ((json_t *)value, index, member)
        {
            if (s_key_has_marker (member))
                return true;
        }
    }
    return false;
}

static cab_status_t
s_check_json_template (cab_transform_t *self, cab_error_t *error)
{
    s_buf_t buf = {NULL, 0, 0, (size_t)1 << 30, CAB_OK};
    for (size_t i = 0; i < self->piece_count; i++) {
        const s_piece_t *piece = &self->pieces[i];
        if (piece->var == 0)
            s_put (&buf, self->text + piece->offset, piece->length);
        else
            s_puts (&buf, piece->quoted ? "\xee\x80\x80" : "null");
    }
    if (buf.status != CAB_OK) {
        free (buf.data);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    json_error_t jerror;
    json_t *parsed = json_loadb (buf.data ? buf.data : "", buf.size, JSON_ALLOW_NUL, &jerror);
    free (buf.data);
    if (!parsed && (json_error_code (&jerror) == json_error_out_of_memory || !jerror.text[0]))
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    if (!parsed)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                              "input_template starts with '{' but is not JSON once its "
                              "placeholders are filled: %s",
                              jerror.text);
    bool keyed = s_key_has_marker (parsed);
    json_decref (parsed);
    if (keyed)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                              "a placeholder cannot be used as an object key");
    return CAB_OK;
}

static cab_status_t
s_compile_template (cab_transform_t *self, const json_t *template_value, cab_error_t *error)
{
    if (!json_is_string (template_value))
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                              "input_template must be a string");
    const char *text = json_string_value (template_value);
    size_t length = json_string_length (template_value);
    size_t chars = s_utf8_chars (text, length);
    if (chars < 1 || chars > CAB_TRANSFORM_TEMPLATE_MAX)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                              "input_template has %zu characters; 1 to %d allowed", chars,
                              CAB_TRANSFORM_TEMPLATE_MAX);
    if (memchr (text, 0, length))
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                              "input_template contains a NUL character");
    size_t lead = strspn (text, " \t\r\n");
    bool json_template = text[lead] == '{';

    self->text = malloc (length + 1);
    if (!self->text)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    size_t used = 0, capacity = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < length;) {
        char c = text[i];
        if (c == '<') {
            size_t end = i + 1;
            while (end < length && end - i - 1 <= S_NAME_MAX &&
                   (s_name_char ((unsigned char)text[end]) || text[end] == '.'))
                end++;
            if (end < length && text[end] == '>' && end > i + 1) {
                const char *name = text + i + 1;
                size_t name_length = end - i - 1;
                int var = s_lookup (self, name, name_length);
                if (var == 0)
                    return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                                          "input_template contains invalid placeholder <%.*s>: "
                                          "not in input_paths_map nor a reserved aws.events "
                                          "variable",
                                          (int)(name_length > 64 ? 64 : name_length), name);
                if (in_string && (var == S_EVENT || var == S_EVENT_JSON))
                    return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                                          "<%.*s> can only be used as a JSON value, not inside "
                                          "a string",
                                          (int)name_length, name);
                s_piece_t piece = {0, 0, var, in_string};
                if (s_piece_add (self, &capacity, piece))
                    return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
                if (var != S_RULE_NAME && var != S_RULE_ARN && var != S_INGESTION_TIME)
                    self->needs_event = true;
                escaped = false;
                i = end + 1;
                continue;
            }
        }
        //  Track JSON strings; minify a JSON template outside them.
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"')
            in_string = true;
        else if (json_template && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
            i++;
            continue;
        }
        self->text[used] = c;
        s_piece_t piece = {used, 1, 0, false};
        used++;
        if (s_piece_add (self, &capacity, piece))
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        i++;
    }
    self->text[used] = 0;
    if (json_template)
        return s_check_json_template (self, error);
    return CAB_OK;
}

cab_transform_t *
cab_transform_new (const json_t *input_transformer, cab_error_t *error)
{
    if (!json_is_object (input_transformer)) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, "",
                       "input_transformer must be an object with input_template");
        return NULL;
    }
    const char *key;
    json_t *member;
    json_object_foreach ((json_t *)input_transformer, key, member)
    {
        if (strcmp (key, "input_paths_map") != 0 && strcmp (key, "input_template") != 0) {
            char pointer[CAB_ERROR_PATH_MAX];
            snprintf (pointer, sizeof pointer, "/%s", key);
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, pointer,
                           "unknown key '%.64s' in input_transformer (known: input_paths_map, "
                           "input_template)",
                           key);
            return NULL;
        }
    }
    const json_t *template_value = json_object_get (input_transformer, "input_template");
    if (!template_value) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/input_template",
                       "input_transformer needs an input_template");
        return NULL;
    }
    cab_transform_t *self = calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    const json_t *map = json_object_get (input_transformer, "input_paths_map");
    if ((map && s_compile_paths (self, map, error) != CAB_OK) ||
        s_compile_template (self, template_value, error) != CAB_OK)
        cab_transform_destroy (&self);
    return self;
}

//  ---------------------------------------------------------------------
//  Apply

static cab_status_t
s_parse_event (const char *event, size_t length, json_t **event_p, cab_error_t *error)
{
    if (length > CAB_EVENT_MAX_SIZE)
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "event of %zu bytes is over %d",
                              length, CAB_EVENT_MAX_SIZE);
    json_error_t jerror;
    *event_p = json_loadb (event, length, JSON_ALLOW_NUL, &jerror);
    if (!*event_p && json_error_code (&jerror) == json_error_numeric_overflow)
        *event_p = json_loadb (event, length, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerror);
    if (*event_p)
        return CAB_OK;
    if (!jerror.text[0])
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    switch (json_error_code (&jerror)) {
        case json_error_out_of_memory:
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        case json_error_invalid_utf8:
            return cab_error_set (error, CAB_ERR_INVALID_UTF8, NULL, "event: %s", jerror.text);
        case json_error_stack_overflow:
            return cab_error_set (error, CAB_ERR_TOO_DEEP, NULL, "event: %s", jerror.text);
        default:
            return cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "event: %s (offset %d)",
                                  jerror.text, jerror.position);
    }
}

static void
s_put_text (s_buf_t *buf, const char *text, bool quoted)
{
    if (!quoted)
        s_put (buf, "\"", 1);
    s_put_escaped (buf, text, strlen (text), false);
    if (!quoted)
        s_put (buf, "\"", 1);
}

cab_status_t
cab_transform_apply (cab_transform_t *self, const char *event, size_t length, const char *rule_name,
                     int64_t ingestion_ms, char **out_p, size_t *out_size, cab_error_t *error)
{
    if (!self || !out_p || (!event && length))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "cab_transform_apply: bad arguments");
    *out_p = NULL;
    if (out_size)
        *out_size = 0;
    json_t *root = NULL;
    if (self->needs_event) {
        cab_status_t rc = s_parse_event (event, length, &root, error);
        if (rc != CAB_OK)
            return rc;
    }
    json_t **values = calloc (self->var_count + 1, sizeof *values);
    if (!values) {
        json_decref (root);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    bool nomem = false;
    for (size_t i = 0; root && i < self->var_count; i++)
        values[i] = s_resolve (&self->vars[i], root, &nomem);

    char arn[128 + CAB_RULE_NAME_MAX], when[64];
    snprintf (arn, sizeof arn, "arn:cabruca:events:::rule/%s", rule_name ? rule_name : "");
    time_t seconds =
        (time_t)(ingestion_ms >= 0 ? ingestion_ms / 1000 : (ingestion_ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r (&seconds, &tm) || !strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf (when, sizeof when, "1970-01-01T00:00:00Z");

    s_buf_t buf = {NULL, 0, 0, CAB_EVENT_MAX_SIZE, nomem ? CAB_ERR_NOMEM : CAB_OK};
    for (size_t i = 0; i < self->piece_count && buf.status == CAB_OK; i++) {
        const s_piece_t *piece = &self->pieces[i];
        if (piece->var == 0)
            s_put (&buf, self->text + piece->offset, piece->length);
        else if (piece->var > 0) {
            json_t *value = values[piece->var - 1];
            if (piece->quoted)
                s_put_quoted (&buf, value, false);
            else if (value)
                s_put_json (&buf, value, true, false);
            else
                s_puts (&buf, "null");
        } else if (piece->var == S_RULE_NAME)
            s_put_text (&buf, rule_name ? rule_name : "", piece->quoted);
        else if (piece->var == S_RULE_ARN)
            s_put_text (&buf, arn, piece->quoted);
        else if (piece->var == S_INGESTION_TIME)
            s_put_text (&buf, when, piece->quoted);
        else
            s_put_json (&buf, root, true, piece->var == S_EVENT);
    }
    for (size_t i = 0; i < self->var_count; i++)
        json_decref (values[i]);
    free (values);
    json_decref (root);
    if (buf.status == CAB_OK && !buf.data)
        s_put (&buf, "", 0);
    if (buf.status == CAB_OK && !buf.data)
        buf.data = strdup ("");
    if (buf.status == CAB_OK && !buf.data)
        buf.status = CAB_ERR_NOMEM;
    if (buf.status != CAB_OK) {
        free (buf.data);
        if (buf.status == CAB_ERR_TOO_LARGE)
            return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL,
                                  "transformed event is over %d bytes", CAB_EVENT_MAX_SIZE);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    *out_p = buf.data;
    if (out_size)
        *out_size = buf.size;
    return CAB_OK;
}
