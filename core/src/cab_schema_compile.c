/*  =========================================================================
    cab_schema_compile - turning one schema object into a cabi_node_t

    Checks each draft-07 keyword (InvalidSchema with the schema-side JSON
    Pointer of the keyword when it is malformed) and stores it pre-parsed:
    numbers with their integer form, enums split into sorted strings and
    other values, properties sorted for binary search, regexes compiled,
    formats looked up. Subschemas go through cabi_schema_compile_child
    (memoized, depth bounded); $ref through cabi_schema_resolve_ref. Every
    keyword beside $ref is ignored, as draft-07 requires.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cabi_compiler_t *compiler;
    cabi_arena_t *arena;
    json_t *json;         //  The schema object
    const char *base;     //  Base URI inside it
    const char *pointer;  //  Its location
    int depth;
} s_site_t;

static cab_status_t
s_nomem (cabi_compiler_t *compiler)
{
    return cab_error_set (compiler->error, CAB_ERR_NOMEM, NULL, "out of memory compiling schema");
}

//  Fill an InvalidSchema error at pointer/keyword.
static cab_status_t
s_invalid (s_site_t *site, const char *keyword, const char *reason)
{
    char *where =
        cabi_schema_pointer_append (site->arena, site->pointer, keyword, strlen (keyword));
    return cab_error_set (site->compiler->error, CAB_ERR_INVALID_SCHEMA,
                          where ? where : site->pointer, "%s", reason);
}

static bool
s_is_integral (const json_t *value)
{
    if (json_is_integer (value))
        return true;
    if (json_is_real (value)) {
        double real = json_real_value (value);
        return isfinite (real) && floor (real) == real;
    }
    return false;
}

//  A non-negative integer keyword; absent leaves *out alone.
static cab_status_t
s_count (s_site_t *site, const char *keyword, size_t *out)
{
    json_t *value = json_object_get (site->json, keyword);
    if (!value)
        return CAB_OK;
    if (!s_is_integral (value) || json_number_value (value) < 0)
        return s_invalid (site, keyword, "must be a non-negative integer");
    if (json_is_integer (value))
        *out = (size_t)json_integer_value (value);
    else
        *out = json_real_value (value) >= (double)SIZE_MAX ? SIZE_MAX
                                                           : (size_t)json_real_value (value);
    return CAB_OK;
}

static cab_status_t
s_number (s_site_t *site, const char *keyword, cabi_number_t *out)
{
    json_t *value = json_object_get (site->json, keyword);
    if (!value)
        return CAB_OK;
    if (!json_is_number (value))
        return s_invalid (site, keyword, "must be a number");
    out->set = true;
    out->is_integer = json_is_integer (value);
    out->integer = out->is_integer ? json_integer_value (value) : 0;
    out->real = json_number_value (value);
    return CAB_OK;
}

static cab_status_t
s_child (s_site_t *site, const char *keyword, json_t *value, cabi_node_t **out)
{
    char *pointer =
        cabi_schema_pointer_append (site->arena, site->pointer, keyword, strlen (keyword));
    if (!pointer)
        return s_nomem (site->compiler);
    *out = cabi_schema_compile_child (site->compiler, value, site->base, pointer, site->depth + 1);
    return *out ? CAB_OK : site->compiler->error->code;
}

static cab_status_t
s_subschema (s_site_t *site, const char *keyword, cabi_node_t **out)
{
    json_t *value = json_object_get (site->json, keyword);
    if (!value)
        return CAB_OK;
    return s_child (site, keyword, value, out);
}

//  An array of schemas (allOf, anyOf, oneOf, items).
static cab_status_t
s_schema_list (s_site_t *site, const char *keyword, json_t *value, cabi_node_t ***out,
               size_t *count, bool non_empty)
{
    if (!json_is_array (value) || (non_empty && json_array_size (value) == 0))
        return s_invalid (site, keyword,
                          non_empty ? "must be a non-empty array of schemas"
                                    : "must be a schema or an array of schemas");
    char *pointer =
        cabi_schema_pointer_append (site->arena, site->pointer, keyword, strlen (keyword));
    size_t size = json_array_size (value);
    cabi_node_t **list = cabi_schema_arena_alloc (site->arena, size * sizeof *list);
    if (!pointer || !list)
        return s_nomem (site->compiler);
    for (size_t index = 0; index < size; index++) {
        char token[32];
        int length = snprintf (token, sizeof token, "%zu", index);
        char *item_pointer =
            cabi_schema_pointer_append (site->arena, pointer, token, (size_t)length);
        if (!item_pointer)
            return s_nomem (site->compiler);
        list[index] = cabi_schema_compile_child (site->compiler, json_array_get (value, index),
                                                 site->base, item_pointer, site->depth + 1);
        if (!list[index])
            return site->compiler->error->code;
    }
    *out = list;
    *count = size;
    return CAB_OK;
}

static cab_status_t
s_combinator (s_site_t *site, const char *keyword, cabi_node_t ***out, size_t *count)
{
    json_t *value = json_object_get (site->json, keyword);
    if (!value)
        return CAB_OK;
    return s_schema_list (site, keyword, value, out, count, true);
}

static cab_status_t
s_type (s_site_t *site, cabi_node_t *node)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"null", CABI_TYPE_NULL},       {"boolean", CABI_TYPE_BOOLEAN},
        {"object", CABI_TYPE_OBJECT},   {"array", CABI_TYPE_ARRAY},
        {"number", CABI_TYPE_NUMBER},   {"string", CABI_TYPE_STRING},
        {"integer", CABI_TYPE_INTEGER},
    };
    json_t *value = json_object_get (site->json, "type");
    if (!value)
        return CAB_OK;
    size_t count = json_is_array (value) ? json_array_size (value) : 1;
    if (!json_is_string (value) && !(json_is_array (value) && count > 0))
        return s_invalid (site, "type", "must be a type name or a non-empty array of type names");
    for (size_t index = 0; index < count; index++) {
        json_t *name = json_is_array (value) ? json_array_get (value, index) : value;
        unsigned bit = 0;
        for (size_t known = 0; json_is_string (name) && known < sizeof names / sizeof names[0];
             known++)
            if (strcmp (json_string_value (name), names[known].name) == 0)
                bit = names[known].bit;
        if (!bit)
            return s_invalid (site, "type",
                              "must be one of null, boolean, object, array, number, string, "
                              "integer");
        if (node->types & bit)
            return s_invalid (site, "type", "must not repeat a type");
        node->types |= bit;
    }
    return CAB_OK;
}

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
s_property_compare (const void *a, const void *b)
{
    const cabi_property_t *left = a, *right = b;
    cabi_string_t l = {left->key, left->length}, r = {right->key, right->length};
    return s_string_compare (&l, &r);
}

static cab_status_t
s_enum (s_site_t *site, cabi_node_t *node)
{
    json_t *value = json_object_get (site->json, "const");
    if (value) {
        if (cabi_schema_json_depth (value, CABI_SCHEMA_MAX_DEPTH) > CABI_SCHEMA_MAX_DEPTH)
            return s_invalid (site, "const", "value nested too deeply");
        node->const_value = value;
        node->has_const = true;
    }
    value = json_object_get (site->json, "enum");
    if (!value)
        return CAB_OK;
    if (!json_is_array (value))
        return s_invalid (site, "enum", "must be an array");
    if (cabi_schema_json_depth (value, CABI_SCHEMA_MAX_DEPTH) > CABI_SCHEMA_MAX_DEPTH)
        return s_invalid (site, "enum", "value nested too deeply");
    size_t size = json_array_size (value);
    node->enum_array = value;
    node->enum_values = cabi_schema_arena_alloc (site->arena, size * sizeof (json_t *));
    node->enum_strings = cabi_schema_arena_alloc (site->arena, size * sizeof (cabi_string_t));
    if (!node->enum_values || !node->enum_strings)
        return s_nomem (site->compiler);
    for (size_t index = 0; index < size; index++) {
        json_t *member = json_array_get (value, index);
        if (json_is_string (member)) {
            cabi_string_t *entry = &node->enum_strings[node->enum_string_count++];
            entry->text = json_string_value (member);
            entry->length = json_string_length (member);
        } else
            node->enum_values[node->enum_count++] = member;
    }
    qsort (node->enum_strings, node->enum_string_count, sizeof (cabi_string_t), s_string_compare);
    //  Marks "enum present" even when empty: enum_array is set.
    return CAB_OK;
}

static cab_status_t
s_regex (s_site_t *site, const char *where_keyword, const char *source, size_t length,
         cabi_regex_t **out)
{
    cab_schema_t *schema = site->compiler->schema;
    char reason[160];
    cab_status_t status = CAB_OK;
    if (cabi_schema_grow ((void **)&schema->regexes, &schema->regex_capacity,
                          schema->regex_count + 1, sizeof (cabi_regex_t *)))
        return s_nomem (site->compiler);
    cabi_regex_t *regex = cabi_schema_arena_alloc (site->arena, sizeof *regex);
    if (!regex || !(regex->source = cabi_schema_arena_strndup (site->arena, source, length)))
        return s_nomem (site->compiler);
    regex->code =
        cabi_schema_regex_compile (schema->general, source, length, reason, sizeof reason, &status);
    if (!regex->code) {
        if (status == CAB_ERR_NOMEM)
            return s_nomem (site->compiler);
        char text[256];
        snprintf (text, sizeof text, "not a valid ECMA-262 regular expression: %s", reason);
        return s_invalid (site, where_keyword, text);
    }
    regex->simple = cabi_schema_simple_compile (site->arena, source, length);
    schema->regexes[schema->regex_count++] = regex;
    *out = regex;
    return CAB_OK;
}

static cab_status_t
s_string_keywords (s_site_t *site, cabi_node_t *node)
{
    cab_status_t status;
    if ((status = s_count (site, "minLength", &node->min_length)) ||
        (status = s_count (site, "maxLength", &node->max_length)))
        return status;
    json_t *value = json_object_get (site->json, "pattern");
    if (value) {
        if (!json_is_string (value))
            return s_invalid (site, "pattern", "must be a string");
        if ((status = s_regex (site, "pattern", json_string_value (value),
                               json_string_length (value), &node->pattern)))
            return status;
    }
    value = json_object_get (site->json, "format");
    if (value) {
        if (!json_is_string (value))
            return s_invalid (site, "format", "must be a string");
        node->format = cabi_schema_format_lookup (json_string_value (value));
    }
    return CAB_OK;
}

static cab_status_t
s_number_keywords (s_site_t *site, cabi_node_t *node)
{
    cab_status_t status;
    if ((status = s_number (site, "minimum", &node->minimum)) ||
        (status = s_number (site, "maximum", &node->maximum)) ||
        (status = s_number (site, "exclusiveMinimum", &node->exclusive_minimum)) ||
        (status = s_number (site, "exclusiveMaximum", &node->exclusive_maximum)) ||
        (status = s_number (site, "multipleOf", &node->multiple_of)))
        return status;
    if (node->multiple_of.set && !(node->multiple_of.real > 0))
        return s_invalid (site, "multipleOf", "must be a number greater than 0");
    return CAB_OK;
}

static cab_status_t
s_array_keywords (s_site_t *site, cabi_node_t *node)
{
    cab_status_t status;
    json_t *value = json_object_get (site->json, "items");
    if (value) {
        if (json_is_array (value)) {
            node->items_is_list = true;
            status =
                s_schema_list (site, "items", value, &node->item_list, &node->item_count, false);
        } else
            status = s_child (site, "items", value, &node->items);
        if (status)
            return status;
    }
    if ((status = s_subschema (site, "additionalItems", &node->additional_items)) ||
        (status = s_subschema (site, "contains", &node->contains)) ||
        (status = s_count (site, "minItems", &node->min_items)) ||
        (status = s_count (site, "maxItems", &node->max_items)))
        return status;
    value = json_object_get (site->json, "uniqueItems");
    if (value) {
        if (!json_is_boolean (value))
            return s_invalid (site, "uniqueItems", "must be a boolean");
        node->unique_items = json_is_true (value);
    }
    return CAB_OK;
}

static cab_status_t
s_map_pointer (s_site_t *site, const char *keyword, const char *key, size_t length, char **pointer)
{
    char *map = cabi_schema_pointer_append (site->arena, site->pointer, keyword, strlen (keyword));
    *pointer = map ? cabi_schema_pointer_append (site->arena, map, key, length) : NULL;
    return *pointer ? CAB_OK : s_nomem (site->compiler);
}

static cab_status_t
s_properties (s_site_t *site, cabi_node_t *node)
{
    cab_status_t status;
    json_t *value = json_object_get (site->json, "properties");
    if (value) {
        if (!json_is_object (value))
            return s_invalid (site, "properties", "must be an object of schemas");
        node->properties = cabi_schema_arena_alloc (site->arena, json_object_size (value) *
                                                                     sizeof (cabi_property_t));
        if (!node->properties)
            return s_nomem (site->compiler);
        const char *key;
        size_t length;
        json_t *member;
        json_object_keylen_foreach (value, key, length, member)
        {
            char *pointer;
            if ((status = s_map_pointer (site, "properties", key, length, &pointer)))
                return status;
            cabi_property_t *property = &node->properties[node->property_count++];
            property->key = key;
            property->length = length;
            property->node = cabi_schema_compile_child (site->compiler, member, site->base, pointer,
                                                        site->depth + 1);
            if (!property->node)
                return site->compiler->error->code;
        }
        qsort (node->properties, node->property_count, sizeof (cabi_property_t),
               s_property_compare);
    }
    value = json_object_get (site->json, "patternProperties");
    if (value) {
        if (!json_is_object (value))
            return s_invalid (site, "patternProperties", "must be an object of schemas");
        node->pattern_properties = cabi_schema_arena_alloc (
            site->arena, json_object_size (value) * sizeof (cabi_pattern_property_t));
        if (!node->pattern_properties)
            return s_nomem (site->compiler);
        const char *key;
        size_t length;
        json_t *member;
        json_object_keylen_foreach (value, key, length, member)
        {
            char *pointer;
            if ((status = s_map_pointer (site, "patternProperties", key, length, &pointer)))
                return status;
            cabi_pattern_property_t *entry =
                &node->pattern_properties[node->pattern_property_count];
            if ((status = s_regex (site, "patternProperties", key, length, &entry->regex)))
                return status;
            entry->node = cabi_schema_compile_child (site->compiler, member, site->base, pointer,
                                                     site->depth + 1);
            if (!entry->node)
                return site->compiler->error->code;
            node->pattern_property_count++;
        }
    }
    return s_subschema (site, "additionalProperties", &node->additional_properties);
}

static cab_status_t
s_required (s_site_t *site, cabi_node_t *node)
{
    json_t *value = json_object_get (site->json, "required");
    if (!value)
        return CAB_OK;
    if (!json_is_array (value))
        return s_invalid (site, "required", "must be an array of strings");
    size_t size = json_array_size (value);
    node->required = cabi_schema_arena_alloc (site->arena, size * sizeof (cabi_string_t));
    if (!node->required)
        return s_nomem (site->compiler);
    for (size_t index = 0; index < size; index++) {
        json_t *name = json_array_get (value, index);
        if (!json_is_string (name))
            return s_invalid (site, "required", "must be an array of strings");
        node->required[index].text = json_string_value (name);
        node->required[index].length = json_string_length (name);
    }
    node->required_count = size;
    return CAB_OK;
}

static cab_status_t
s_dependencies (s_site_t *site, cabi_node_t *node)
{
    json_t *value = json_object_get (site->json, "dependencies");
    if (!value)
        return CAB_OK;
    if (!json_is_object (value))
        return s_invalid (site, "dependencies", "must be an object");
    node->dependencies = cabi_schema_arena_alloc (site->arena, json_object_size (value) *
                                                                   sizeof (cabi_dependency_t));
    if (!node->dependencies)
        return s_nomem (site->compiler);
    const char *key;
    size_t length;
    json_t *member;
    json_object_keylen_foreach (value, key, length, member)
    {
        cabi_dependency_t *entry = &node->dependencies[node->dependency_count];
        entry->key = key;
        entry->length = length;
        if (json_is_array (member)) {
            size_t size = json_array_size (member);
            entry->names = cabi_schema_arena_alloc (site->arena, size * sizeof (char *));
            entry->name_lengths = cabi_schema_arena_alloc (site->arena, size * sizeof (size_t));
            if (!entry->names || !entry->name_lengths)
                return s_nomem (site->compiler);
            for (size_t index = 0; index < size; index++) {
                json_t *name = json_array_get (member, index);
                if (!json_is_string (name))
                    return s_invalid (site, "dependencies",
                                      "each value must be a schema or an array of strings");
                entry->names[index] = json_string_value (name);
                entry->name_lengths[index] = json_string_length (name);
            }
            entry->name_count = size;
        } else {
            char *pointer;
            cab_status_t status = s_map_pointer (site, "dependencies", key, length, &pointer);
            if (status)
                return status;
            entry->schema = cabi_schema_compile_child (site->compiler, member, site->base, pointer,
                                                       site->depth + 1);
            if (!entry->schema)
                return site->compiler->error->code;
        }
        node->dependency_count++;
    }
    return CAB_OK;
}

static cab_status_t
s_object_keywords (s_site_t *site, cabi_node_t *node)
{
    cab_status_t status;
    if ((status = s_properties (site, node)) || (status = s_required (site, node)) ||
        (status = s_dependencies (site, node)) ||
        (status = s_subschema (site, "propertyNames", &node->property_names)) ||
        (status = s_count (site, "minProperties", &node->min_properties)) ||
        (status = s_count (site, "maxProperties", &node->max_properties)))
        return status;
    //  Definitions are compiled too, so that their errors show up early.
    json_t *value = json_object_get (site->json, "definitions");
    if (value) {
        if (!json_is_object (value))
            return s_invalid (site, "definitions", "must be an object of schemas");
        const char *key;
        size_t length;
        json_t *member;
        json_object_keylen_foreach (value, key, length, member)
        {
            char *pointer;
            if ((status = s_map_pointer (site, "definitions", key, length, &pointer)))
                return status;
            if (!cabi_schema_compile_child (site->compiler, member, site->base, pointer,
                                            site->depth + 1))
                return site->compiler->error->code;
        }
    }
    return CAB_OK;
}

cab_status_t
cabi_schema_compile (cabi_compiler_t *compiler, json_t *json, const char *parent_base,
                     const char *pointer, cabi_node_t *node, int depth)
{
    node->state = 1;
    node->pointer = pointer;
    node->max_length = node->max_items = node->max_properties = SIZE_MAX;
    if (json_is_boolean (json)) {
        node->boolean = json_is_true (json);
        return CAB_OK;
    }
    node->boolean = -1;
    if (!json_is_object (json))
        return cab_error_set (compiler->error, CAB_ERR_INVALID_SCHEMA, pointer,
                              "must be a schema (an object or a boolean)");
    if (depth > CABI_SCHEMA_MAX_DEPTH)
        return cab_error_set (compiler->error, CAB_ERR_TOO_DEEP, pointer,
                              "schema nested deeper than %d levels", CABI_SCHEMA_MAX_DEPTH);
    compiler->node_count++;
    s_site_t site = {compiler, &compiler->schema->arena, json, NULL, pointer, depth};
    json_t *value = json_object_get (json, "$id");
    if (value && !json_is_string (value))
        return s_invalid (&site, "$id", "must be a string");
    site.base = cabi_schema_base_of (site.arena, json, parent_base);
    if (!site.base)
        return s_nomem (compiler);
    value = json_object_get (json, "$ref");
    if (value) {
        //  Draft-07: every keyword beside $ref is ignored.
        if (!json_is_string (value))
            return s_invalid (&site, "$ref", "must be a string");
        return cabi_schema_resolve_ref (compiler, site.base, json_string_value (value), pointer,
                                        &node->ref);
    }
    cab_status_t status;
    if ((status = s_type (&site, node)) || (status = s_enum (&site, node)) ||
        (status = s_number_keywords (&site, node)) || (status = s_string_keywords (&site, node)) ||
        (status = s_array_keywords (&site, node)) || (status = s_object_keywords (&site, node)) ||
        (status = s_combinator (&site, "allOf", &node->all_of, &node->all_of_count)) ||
        (status = s_combinator (&site, "anyOf", &node->any_of, &node->any_of_count)) ||
        (status = s_combinator (&site, "oneOf", &node->one_of, &node->one_of_count)) ||
        (status = s_subschema (&site, "not", &node->not_schema)) ||
        (status = s_subschema (&site, "if", &node->if_schema)) ||
        (status = s_subschema (&site, "then", &node->then_schema)) ||
        (status = s_subschema (&site, "else", &node->else_schema)))
        return status;
    return CAB_OK;
}
