/*  =========================================================================
    cab_schema_validate - validating instances against a compiled schema

    One recursive walk over the compiled node graph and the instance. The
    walk stops at the first failure. Inside anyOf, oneOf, not, if and
    contains the alternatives run "quietly" (no message formatting); only
    when the whole keyword fails is a message built, by running the
    alternatives again and reporting the one that got deepest into the
    instance. The instance path is a stack of borrowed keys and indexes,
    turned into an RFC 6901 pointer only when an error is reported.
    Depth is bounded (CABI_SCHEMA_MAX_DEPTH schema applications), which
    also stops $ref loops that consume no input, e.g. {"allOf":[{"$ref":"#"}]}.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include "cab_jsonscan.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_VALID   0
#define S_INVALID 1
#define S_ERROR   (-1)

typedef struct {
    const char *key;  //  NULL for an array index
    size_t length;    //  Key length, or the index
} s_segment_t;

typedef struct {
    cab_schema_t *schema;
    cab_error_t *error;  //  Where violations go (NULL when nobody reads them)
    cab_error_t *real;   //  The caller's record, for hard errors
    int quiet;           //  > 0: find out, do not explain
    int depth;
    cab_status_t hard;  //  Status of an S_ERROR
    size_t path_length;
    s_segment_t path[CABI_SCHEMA_MAX_DEPTH + 4];
} s_ctx_t;

static int s_validate (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance);

//  ---------------------------------------------------------------------
//  Paths and messages

static void
s_push (s_ctx_t *ctx, const char *key, size_t length)
{
    ctx->path[ctx->path_length].key = key;
    ctx->path[ctx->path_length].length = length;
    ctx->path_length++;
}

static void
s_pop (s_ctx_t *ctx)
{
    ctx->path_length--;
}

static void
s_format_path (const s_ctx_t *ctx, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (size_t index = 0; index < ctx->path_length && used + 1 < size; index++) {
        const s_segment_t *segment = &ctx->path[index];
        buffer[used++] = '/';
        if (!segment->key) {
            int wrote = snprintf (buffer + used, size - used, "%zu", segment->length);
            used += wrote > 0 ? (size_t)wrote : 0;
            if (used >= size)
                used = size - 1;
            continue;
        }
        for (size_t at = 0; at < segment->length && used + 3 < size; at++) {
            char c = segment->key[at];
            if (c == '~' || c == '/') {
                buffer[used++] = '~';
                buffer[used++] = c == '~' ? '0' : '1';
            } else
                buffer[used++] = c;
        }
        buffer[used < size ? used : size - 1] = '\0';
    }
    buffer[used < size ? used : size - 1] = '\0';
}

static int s_fail (s_ctx_t *ctx, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static int
s_fail (s_ctx_t *ctx, const char *format, ...)
{
    if (ctx->quiet || !ctx->error)
        return S_INVALID;
    char path[CAB_ERROR_PATH_MAX + 8];
    s_format_path (ctx, path, sizeof path);
    va_list args;
    va_start (args, format);
    cab_error_setv (ctx->error, CAB_ERR_SCHEMA_VIOLATION, path, format, args);
    va_end (args);
    return S_INVALID;
}

static int
s_hard (s_ctx_t *ctx, cab_status_t status, const char *text)
{
    char path[CAB_ERROR_PATH_MAX + 8];
    s_format_path (ctx, path, sizeof path);
    ctx->hard = status;
    cab_error_set (ctx->real, status, path, "%s", text);
    return S_ERROR;
}

static const char *
s_type_name (const json_t *instance)
{
    switch (json_typeof (instance)) {
        case JSON_OBJECT:
            return "object";
        case JSON_ARRAY:
            return "array";
        case JSON_STRING:
            return "string";
        case JSON_INTEGER:
            return "integer";
        case JSON_REAL:
            return "number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "boolean";
        default:
            return "null";
    }
}

static void
s_format_double (char *buffer, size_t size, double value)
{
    snprintf (buffer, size, "%.15g", value);
    if (strtod (buffer, NULL) != value)
        snprintf (buffer, size, "%.17g", value);
}

static void
s_format_bound (char *buffer, size_t size, const cabi_number_t *bound)
{
    if (bound->is_integer)
        snprintf (buffer, size, "%" JSON_INTEGER_FORMAT, bound->integer);
    else
        s_format_double (buffer, size, bound->real);
}

//  Append one JSON value to a message: strings as they are, others as JSON.
static size_t
s_format_value (char *buffer, size_t size, size_t used, const json_t *value)
{
    if (used >= size)
        return used;
    int wrote;
    if (json_is_string (value))
        wrote = snprintf (buffer + used, size - used, "%s", json_string_value (value));
    else if (json_is_real (value)) {
        char number[40];
        s_format_double (number, sizeof number, json_real_value (value));
        wrote = snprintf (buffer + used, size - used, "%s", number);
    } else {
        char *text = cabi_json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY, NULL);
        wrote = snprintf (buffer + used, size - used, "%s", text ? text : "?");
        free (text);
    }
    used += wrote > 0 ? (size_t)wrote : 0;
    return used < size ? used : size - 1;
}

//  ---------------------------------------------------------------------
//  Numbers

//  Compare an instance number to a bound: <0, 0, >0.
static int
s_compare (const json_t *instance, const cabi_number_t *bound)
{
    if (json_is_integer (instance) && bound->is_integer) {
        json_int_t value = json_integer_value (instance);
        return (value > bound->integer) - (value < bound->integer);
    }
    double value = json_number_value (instance);
    return (value > bound->real) - (value < bound->real);
}

static bool
s_multiple_of (const json_t *instance, const cabi_number_t *divisor)
{
    if (json_is_integer (instance) && divisor->is_integer)
        return json_integer_value (instance) % divisor->integer == 0;
    double quotient = json_number_value (instance) / divisor->real;
    if (!isfinite (quotient))
        return false;
    return fabs (quotient - round (quotient)) < 1e-9;
}

static int
s_numbers (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    char bound[48];
    if (node->minimum.set && s_compare (instance, &node->minimum) < 0) {
        s_format_bound (bound, sizeof bound, &node->minimum);
        return s_fail (ctx, "minimum: must be at least %s", bound);
    }
    if (node->maximum.set && s_compare (instance, &node->maximum) > 0) {
        s_format_bound (bound, sizeof bound, &node->maximum);
        return s_fail (ctx, "maximum: must be at most %s", bound);
    }
    if (node->exclusive_minimum.set && s_compare (instance, &node->exclusive_minimum) <= 0) {
        s_format_bound (bound, sizeof bound, &node->exclusive_minimum);
        return s_fail (ctx, "exclusiveMinimum: must be greater than %s", bound);
    }
    if (node->exclusive_maximum.set && s_compare (instance, &node->exclusive_maximum) >= 0) {
        s_format_bound (bound, sizeof bound, &node->exclusive_maximum);
        return s_fail (ctx, "exclusiveMaximum: must be less than %s", bound);
    }
    if (node->multiple_of.set && !s_multiple_of (instance, &node->multiple_of)) {
        s_format_bound (bound, sizeof bound, &node->multiple_of);
        return s_fail (ctx, "multipleOf: must be a multiple of %s", bound);
    }
    return S_VALID;
}

//  ---------------------------------------------------------------------
//  Strings

static int
s_strings (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    const char *text = json_string_value (instance);
    size_t length = json_string_length (instance);
    //  Code points never outnumber bytes, nor bytes four times code points.
    if (node->min_length > length / 4 || node->max_length < length) {
        size_t characters = cabi_schema_utf8_length (text, length);
        if (characters < node->min_length)
            return s_fail (ctx, "minLength: must be at least %zu characters", node->min_length);
        if (characters > node->max_length)
            return s_fail (ctx, "maxLength: must be at most %zu characters", node->max_length);
    }
    if (node->pattern) {
        int match = cabi_schema_regex_match (ctx->schema, node->pattern, text, length);
        if (match < 0)
            return s_hard (ctx, (cab_status_t)-match,
                           "pattern: regular expression match limit exceeded");
        if (!match)
            return s_fail (ctx, "pattern: must match the pattern '%s'", node->pattern->source);
    }
    if (node->format) {
        int valid = cabi_schema_format_check (ctx->schema, node->format, text, length);
        if (valid < 0)
            return s_hard (ctx, (cab_status_t)-valid, "format: out of memory");
        if (!valid)
            return s_fail (ctx, "format: must be a valid %s",
                           cabi_schema_format_name (node->format));
    }
    return S_VALID;
}

//  ---------------------------------------------------------------------
//  Arrays

typedef struct {
    uint64_t hash;
    size_t index;
} s_hashed_t;

static int
s_hashed_compare (const void *a, const void *b)
{
    const s_hashed_t *left = a, *right = b;
    if (left->hash != right->hash)
        return left->hash < right->hash ? -1 : 1;
    return (left->index > right->index) - (left->index < right->index);
}

static int
s_unique (s_ctx_t *ctx, const json_t *instance)
{
    size_t size = json_array_size (instance);
    if (size <= 16) {
        for (size_t first = 0; first < size; first++)
            for (size_t second = first + 1; second < size; second++) {
                int equal = cabi_schema_json_equal (json_array_get (instance, first),
                                                    json_array_get (instance, second), 0);
                if (equal < 0)
                    return s_hard (ctx, CAB_ERR_TOO_DEEP, "uniqueItems: items nested too deeply");
                if (equal)
                    return s_fail (ctx, "uniqueItems: items %zu and %zu are equal", first, second);
            }
        return S_VALID;
    }
    //  Large arrays: sort by a hash consistent with JSON equality.
    s_hashed_t *hashed = cabi_schema_malloc (size * sizeof *hashed);
    if (!hashed)
        return s_hard (ctx, CAB_ERR_NOMEM, "uniqueItems: out of memory");
    int ok = 0;
    for (size_t index = 0; index < size; index++) {
        hashed[index].hash = cabi_schema_json_hash (json_array_get (instance, index), 0, &ok);
        hashed[index].index = index;
    }
    int result = S_VALID;
    if (ok < 0)
        result = s_hard (ctx, CAB_ERR_TOO_DEEP, "uniqueItems: items nested too deeply");
    else
        qsort (hashed, size, sizeof *hashed, s_hashed_compare);
    for (size_t run = 0; result == S_VALID && run < size; run++) {
        for (size_t other = run + 1;
             result == S_VALID && other < size && hashed[other].hash == hashed[run].hash; other++) {
            int equal = cabi_schema_json_equal (json_array_get (instance, hashed[run].index),
                                                json_array_get (instance, hashed[other].index), 0);
            if (equal < 0)
                result = s_hard (ctx, CAB_ERR_TOO_DEEP, "uniqueItems: items nested too deeply");
            else if (equal)
                result = s_fail (ctx, "uniqueItems: items %zu and %zu are equal", hashed[run].index,
                                 hashed[other].index);
        }
    }
    cabi_schema_free (hashed);
    return result;
}

static int
s_item (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance, size_t index)
{
    s_push (ctx, NULL, index);
    int result = s_validate (ctx, node, json_array_get (instance, index));
    s_pop (ctx);
    return result;
}

static int
s_arrays (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    size_t size = json_array_size (instance);
    if (size < node->min_items)
        return s_fail (ctx, "minItems: must have at least %zu items", node->min_items);
    if (size > node->max_items)
        return s_fail (ctx, "maxItems: must have at most %zu items", node->max_items);
    int result;
    if (node->unique_items && (result = s_unique (ctx, instance)))
        return result;
    if (node->items_is_list) {
        for (size_t index = 0; index < size; index++) {
            const cabi_node_t *item =
                index < node->item_count ? node->item_list[index] : node->additional_items;
            if (item && item->boolean == 0 && !item->ref && index >= node->item_count)
                return s_fail (ctx, "additionalItems: must have at most %zu items",
                               node->item_count);
            if (item && (result = s_item (ctx, item, instance, index)))
                return result;
        }
    } else if (node->items)
        for (size_t index = 0; index < size; index++)
            if ((result = s_item (ctx, node->items, instance, index)))
                return result;
    if (node->contains) {
        ctx->quiet++;
        result = S_INVALID;
        for (size_t index = 0; index < size && result == S_INVALID; index++)
            result = s_item (ctx, node->contains, instance, index);
        ctx->quiet--;
        if (result == S_ERROR)
            return result;
        if (result == S_INVALID)
            return s_fail (ctx, "contains: no item matches the 'contains' schema");
    }
    return S_VALID;
}

//  ---------------------------------------------------------------------
//  Objects

static const cabi_property_t *
s_find_property (const cabi_node_t *node, const char *key, size_t length)
{
    size_t low = 0, high = node->property_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        const cabi_property_t *property = &node->properties[middle];
        size_t shorter = length < property->length ? length : property->length;
        int order = memcmp (key, property->key, shorter);
        if (!order)
            order = (length > property->length) - (length < property->length);
        if (!order)
            return property;
        if (order < 0)
            high = middle;
        else
            low = middle + 1;
    }
    return NULL;
}

static int
s_member (s_ctx_t *ctx, const cabi_node_t *node, const json_t *value, const char *key,
          size_t length)
{
    s_push (ctx, key, length);
    int result = s_validate (ctx, node, value);
    s_pop (ctx);
    return result;
}

static int
s_members (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    int result;
    if (!node->pattern_property_count && !node->additional_properties) {
        //  Only "properties": look each one up.
        for (size_t index = 0; index < node->property_count; index++) {
            const cabi_property_t *property = &node->properties[index];
            json_t *value = json_object_getn (instance, property->key, property->length);
            if (value &&
                (result = s_member (ctx, property->node, value, property->key, property->length)))
                return result;
        }
        return S_VALID;
    }
    const char *key;
    size_t length;
    json_t *value;
    json_object_keylen_foreach ((json_t *)instance, key, length, value)
    {
        bool matched = false;
        const cabi_property_t *property = s_find_property (node, key, length);
        if (property) {
            matched = true;
            if ((result = s_member (ctx, property->node, value, key, length)))
                return result;
        }
        for (size_t index = 0; index < node->pattern_property_count; index++) {
            const cabi_pattern_property_t *entry = &node->pattern_properties[index];
            int match = cabi_schema_regex_match (ctx->schema, entry->regex, key, length);
            if (match < 0)
                return s_hard (ctx, (cab_status_t)-match,
                               "patternProperties: regular expression match limit exceeded");
            if (match) {
                matched = true;
                if ((result = s_member (ctx, entry->node, value, key, length)))
                    return result;
            }
        }
        if (!matched && node->additional_properties) {
            const cabi_node_t *additional = node->additional_properties;
            if (additional->boolean == 0 && !additional->ref)
                return s_fail (ctx, "additionalProperties: property '%.*s' is not allowed",
                               (int)length, key);
            if ((result = s_member (ctx, additional, value, key, length)))
                return result;
        }
    }
    return S_VALID;
}

static int
s_property_names (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    const char *key;
    size_t length;
    json_t *value;
    json_object_keylen_foreach ((json_t *)instance, key, length, value)
    {
        json_t *name = json_stringn (key, length);
        if (!name)
            return s_hard (ctx, CAB_ERR_NOMEM, "propertyNames: out of memory");
        s_push (ctx, key, length);
        int result = s_validate (ctx, node->property_names, name);
        s_pop (ctx);
        json_decref (name);
        if (result == S_INVALID && !ctx->quiet && ctx->error) {
            char text[CAB_ERROR_TEXT_MAX];
            snprintf (text, sizeof text, "%s", ctx->error->text);
            cab_error_set (ctx->error, CAB_ERR_SCHEMA_VIOLATION, ctx->error->path,
                           "propertyNames: name '%.*s' is not valid: %s", (int)length, key, text);
        }
        if (result)
            return result;
    }
    return S_VALID;
}

static int
s_objects (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    size_t size = json_object_size (instance);
    if (size < node->min_properties)
        return s_fail (ctx, "minProperties: must have at least %zu properties",
                       node->min_properties);
    if (size > node->max_properties)
        return s_fail (ctx, "maxProperties: must have at most %zu properties",
                       node->max_properties);
    for (size_t index = 0; index < node->required_count; index++)
        if (!json_object_getn (instance, node->required[index].text, node->required[index].length))
            return s_fail (ctx, "required: missing property '%s'", node->required[index].text);
    int result;
    if ((result = s_members (ctx, node, instance)))
        return result;
    for (size_t index = 0; index < node->dependency_count; index++) {
        const cabi_dependency_t *dependency = &node->dependencies[index];
        if (!json_object_getn (instance, dependency->key, dependency->length))
            continue;
        for (size_t name = 0; name < dependency->name_count; name++)
            if (!json_object_getn (instance, dependency->names[name],
                                   dependency->name_lengths[name]))
                return s_fail (ctx, "dependencies: property '%s' requires property '%s'",
                               dependency->key, dependency->names[name]);
        if (dependency->schema && (result = s_validate (ctx, dependency->schema, instance)))
            return result;
    }
    if (node->property_names && (result = s_property_names (ctx, node, instance)))
        return result;
    return S_VALID;
}

//  ---------------------------------------------------------------------
//  Applicators

static int
s_quietly (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    ctx->quiet++;
    int result = s_validate (ctx, node, instance);
    ctx->quiet--;
    return result;
}

//  Number of segments in a pointer, to rank how far an alternative got.
static size_t
s_path_depth (const char *path)
{
    size_t depth = 0;
    for (; *path; path++)
        depth += *path == '/';
    return depth;
}

//  Explain why no alternative matched: the one that failed deepest.
static int
s_explain (s_ctx_t *ctx, const char *keyword, cabi_node_t *const *list, size_t count,
           const json_t *instance)
{
    if (ctx->quiet || !ctx->error)
        return S_INVALID;
    cab_error_t best, attempt, *saved = ctx->error;
    size_t best_index = 0, best_depth = 0;
    cab_error_clear (&best);
    for (size_t index = 0; index < count; index++) {
        cab_error_clear (&attempt);
        ctx->error = &attempt;
        int result = s_validate (ctx, list[index], instance);
        ctx->error = saved;
        if (result == S_ERROR)
            return result;
        size_t depth = s_path_depth (attempt.path);
        if (result == S_INVALID && (best.code == CAB_OK || depth > best_depth)) {
            best = attempt;
            best_depth = depth;
            best_index = index;
        }
    }
    if (best.code == CAB_OK)
        return s_fail (ctx, "%s: no alternative matched", keyword);
    cab_error_set (ctx->error, CAB_ERR_SCHEMA_VIOLATION, best.path,
                   "%s: no alternative matched; closest (%zu of %zu): %s", keyword, best_index + 1,
                   count, best.text);
    return S_INVALID;
}

static int
s_applicators (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    int result;
    for (size_t index = 0; index < node->all_of_count; index++)
        if ((result = s_validate (ctx, node->all_of[index], instance)))
            return result;
    if (node->any_of_count) {
        result = S_INVALID;
        for (size_t index = 0; index < node->any_of_count && result == S_INVALID; index++)
            result = s_quietly (ctx, node->any_of[index], instance);
        if (result == S_ERROR)
            return result;
        if (result == S_INVALID)
            return s_explain (ctx, "anyOf", node->any_of, node->any_of_count, instance);
    }
    if (node->one_of_count) {
        size_t matched = 0, first = 0;
        for (size_t index = 0; index < node->one_of_count; index++) {
            result = s_quietly (ctx, node->one_of[index], instance);
            if (result == S_ERROR)
                return result;
            if (result == S_VALID && matched++ == 0)
                first = index;
            else if (result == S_VALID)
                return s_fail (ctx,
                               "oneOf: must match exactly one alternative, but matches %zu and %zu",
                               first + 1, index + 1);
        }
        if (matched == 0)
            return s_explain (ctx, "oneOf", node->one_of, node->one_of_count, instance);
    }
    if (node->not_schema) {
        result = s_quietly (ctx, node->not_schema, instance);
        if (result == S_ERROR)
            return result;
        if (result == S_VALID)
            return s_fail (ctx, "not: must not match the 'not' schema");
    }
    if (node->if_schema && (node->then_schema || node->else_schema)) {
        result = s_quietly (ctx, node->if_schema, instance);
        if (result == S_ERROR)
            return result;
        const cabi_node_t *branch = result == S_VALID ? node->then_schema : node->else_schema;
        if (branch && (result = s_validate (ctx, branch, instance)))
            return result;
    }
    return S_VALID;
}

//  ---------------------------------------------------------------------
//  The walk

static int
s_string_compare (const void *a, const void *b)
{
    const cabi_string_t *left = a, *right = b;
    size_t shorter = left->length < right->length ? left->length : right->length;
    int result = memcmp (left->text, right->text, shorter);
    if (result)
        return result;
    return (left->length > right->length) - (left->length < right->length);
}

static int
s_enum (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    if (node->has_const) {
        int equal = cabi_schema_json_equal (node->const_value, instance, 0);
        if (equal < 0)
            return s_hard (ctx, CAB_ERR_TOO_DEEP, "const: value nested too deeply");
        if (!equal) {
            char text[CAB_ERROR_TEXT_MAX];
            s_format_value (text, sizeof text, 0, node->const_value);
            return s_fail (ctx, "const: must be %s", text);
        }
    }
    if (!node->enum_array)
        return S_VALID;
    if (json_is_string (instance)) {
        cabi_string_t key = {json_string_value (instance), json_string_length (instance)};
        if (bsearch (&key, node->enum_strings, node->enum_string_count, sizeof key,
                     s_string_compare))
            return S_VALID;
    } else
        for (size_t index = 0; index < node->enum_count; index++) {
            int equal = cabi_schema_json_equal (node->enum_values[index], instance, 0);
            if (equal < 0)
                return s_hard (ctx, CAB_ERR_TOO_DEEP, "enum: value nested too deeply");
            if (equal)
                return S_VALID;
        }
    if (ctx->quiet || !ctx->error)
        return S_INVALID;
    char list[400];
    size_t used = 0, size = json_array_size (node->enum_array);
    list[0] = '\0';
    for (size_t index = 0; index < size && used < sizeof list - 1; index++) {
        if (index)
            used += (size_t)snprintf (list + used, sizeof list - used, ", ");
        if (used < sizeof list - 1)
            used =
                s_format_value (list, sizeof list, used, json_array_get (node->enum_array, index));
    }
    return s_fail (ctx, "enum: must be one of %s", list);
}

static int
s_types (s_ctx_t *ctx, unsigned types, const json_t *instance)
{
    static const char *names[] = {"null",   "boolean", "object", "array",
                                  "number", "string",  "integer"};
    unsigned have;
    switch (json_typeof (instance)) {
        case JSON_OBJECT:
            have = CABI_TYPE_OBJECT;
            break;
        case JSON_ARRAY:
            have = CABI_TYPE_ARRAY;
            break;
        case JSON_STRING:
            have = CABI_TYPE_STRING;
            break;
        case JSON_INTEGER:
            have = CABI_TYPE_NUMBER | CABI_TYPE_INTEGER;
            break;
        case JSON_REAL: {
            double real = json_real_value (instance);
            have = CABI_TYPE_NUMBER | (floor (real) == real ? CABI_TYPE_INTEGER : 0);
            break;
        }
        case JSON_TRUE:
        case JSON_FALSE:
            have = CABI_TYPE_BOOLEAN;
            break;
        default:
            have = CABI_TYPE_NULL;
    }
    if (types & have)
        return S_VALID;
    if (ctx->quiet || !ctx->error)
        return S_INVALID;
    char wanted[128];
    size_t used = 0;
    wanted[0] = '\0';
    for (unsigned bit = 0; bit < 7; bit++)
        if (types & (1u << bit))
            used += (size_t)snprintf (wanted + used, sizeof wanted - used, "%s%s",
                                      used ? " or " : "", names[bit]);
    return s_fail (ctx, "type: must be %s, not %s", wanted, s_type_name (instance));
}

static int
s_node (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    int result;
    if (node->types && (result = s_types (ctx, node->types, instance)))
        return result;
    if ((node->has_const || node->enum_array) && (result = s_enum (ctx, node, instance)))
        return result;
    switch (json_typeof (instance)) {
        case JSON_INTEGER:
        case JSON_REAL:
            result = s_numbers (ctx, node, instance);
            break;
        case JSON_STRING:
            result = s_strings (ctx, node, instance);
            break;
        case JSON_ARRAY:
            result = s_arrays (ctx, node, instance);
            break;
        case JSON_OBJECT:
            result = s_objects (ctx, node, instance);
            break;
        default:
            result = S_VALID;
    }
    if (result)
        return result;
    return s_applicators (ctx, node, instance);
}

static int
s_validate (s_ctx_t *ctx, const cabi_node_t *node, const json_t *instance)
{
    while (node->ref)
        node = node->ref;
    if (node->boolean == 1)
        return S_VALID;
    if (node->boolean == 0)
        return s_fail (ctx, "false: no value is allowed here");
    if (ctx->depth >= CABI_SCHEMA_MAX_DEPTH) {
        char text[80];
        snprintf (text, sizeof text, "validation nested deeper than %d levels",
                  CABI_SCHEMA_MAX_DEPTH);
        return s_hard (ctx, CAB_ERR_TOO_DEEP, text);
    }
    ctx->depth++;
    int result = s_node (ctx, node, instance);
    ctx->depth--;
    return result;
}

cab_status_t
cab_schema_validate (cab_schema_t *self, const json_t *instance, cab_error_t *error)
{
    if (!self || !instance)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "cab_schema_validate needs a schema and an instance");
    s_ctx_t ctx;
    ctx.schema = self;
    ctx.error = error;
    ctx.real = error;
    ctx.quiet = 0;
    ctx.depth = 0;
    ctx.hard = CAB_OK;
    ctx.path_length = 0;
    int result = s_validate (&ctx, self->root, instance);
    if (result == S_VALID)
        return CAB_OK;
    if (result == S_ERROR)
        return ctx.hard;
    return CAB_ERR_SCHEMA_VIOLATION;
}
