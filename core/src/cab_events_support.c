/*  =========================================================================
    cab_events_support - the machinery under the typed event layer

    The generated setters in cab_events.c hand their C values here with a
    field description. A value goes: C value -> JSON (strings checked for
    NULL and UTF-8, enums for range, numbers for finiteness) -> bounds
    (maxItems, maxProperties, uniqueItems: kept here, so adding the 5,000th
    file does not re-check the 4,999 before it) -> the field's own schema,
    cut from the schema file by the generator and compiled once per process
    -> into the event. Errors name the field by its JSON Pointer from the
    event's root, e.g. /detail/failed_tests/3/name.
    =========================================================================
*/
#include "cab_events_internal.h"
#include "cab_event_internal.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Enums

const char *
cabi_enum_name (const char *const *names, int count, int value)
{
    return value >= 0 && value < count ? names[value] : NULL;
}

int
cabi_enum_parse (const char *const *names, int count, const char *name)
{
    if (name)
        for (int index = 0; index < count; index++)
            if (strcmp (names[index], name) == 0)
                return index;
    return -1;
}

//  ---------------------------------------------------------------------
//  Schemas, compiled on first use

static cab_schema_t *
s_compiled (cabi_field_t *field, cab_error_t *error)
{
    cab_schema_t *schema = atomic_load (&field->compiled);
    if (schema)
        return schema;
    json_error_t json_error;
    json_t *document = json_loads (field->schema, 0, &json_error);
    if (!document) {
        if (json_error_code (&json_error) == json_error_out_of_memory || !json_error.text[0])
            cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory reading a field's schema");
        else
            cab_error_set (error, CAB_ERR_INTERNAL, NULL, "schema of %s: %s", field->name,
                           json_error.text);
        return NULL;
    }
    schema = cab_schema_new (document, error);
    json_decref (document);
    if (!schema)
        return NULL;
    //  Another thread may have compiled it meanwhile: keep the first one.
    cab_schema_t *expected = NULL;
    if (!atomic_compare_exchange_strong (&field->compiled, &expected, schema)) {
        cab_schema_destroy (&schema);
        schema = expected;
    }
    return schema;
}

//  ---------------------------------------------------------------------
//  C values to JSON

//  Append a JSON Pointer token (RFC 6901: ~ as ~0, / as ~1) to path.
static void
s_path_token (char *path, size_t size, const char *token)
{
    size_t used = strlen (path);
    if (used + 1 < size)
        path[used++] = '/';
    for (; *token && used + 2 < size; token++) {
        if (*token == '~' || *token == '/') {
            path[used++] = '~';
            path[used++] = *token == '~' ? '0' : '1';
        } else
            path[used++] = *token;
    }
    path[used] = '\0';
}

//  Make the JSON for one C value into *json_p (new). `optional`: a NULL
//  string is left out (*json_p stays NULL) instead of refused.
static cab_status_t
s_value (const cabi_value_t *value, bool optional, const char *path, json_t **json_p,
         cab_error_t *error)
{
    *json_p = NULL;
    switch (value->kind) {
        case 's':
            if (!value->string)
                return optional ? CAB_OK
                                : cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, path,
                                                 "must be a string, not NULL");
            if (!cabi_utf8_valid (value->string))
                return cab_error_set (error, CAB_ERR_INVALID_UTF8, path, "must be UTF-8");
            *json_p = json_string (value->string);
            break;
        case 'e':
            if (!value->string)
                return cab_error_set (error, CAB_ERR_SCHEMA_VIOLATION, path,
                                      "enum: %lld is not a value of the field's enum",
                                      (long long)value->integer);
            *json_p = json_string (value->string);
            break;
        case 'i':
            *json_p = json_integer ((json_int_t)value->integer);
            break;
        case 'b':
            *json_p = json_boolean (value->integer);
            break;
        default:
            if (!isfinite (value->number))
                return cab_error_set (error, CAB_ERR_SCHEMA_VIOLATION, path,
                                      "type: must be a finite number");
            *json_p = json_real (value->number);
            break;
    }
    return *json_p ? CAB_OK : cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
}

//  Make the JSON of a field's values: one value, or an object of members.
static cab_status_t
s_values (const cabi_field_t *field, const cabi_value_t *values, const char *path, json_t **json_p,
          cab_error_t *error)
{
    if (!field->members)
        return s_value (values, false, path, json_p, error);
    json_t *object = json_object ();
    if (!object)
        return cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
    for (size_t index = 0; field->members[index]; index++) {
        char member_path[CAB_ERROR_PATH_MAX];
        snprintf (member_path, sizeof member_path, "%s", path);
        s_path_token (member_path, sizeof member_path, field->members[index]);
        json_t *member;
        //  Items of an array leave optional strings out when NULL.
        cab_status_t rc =
            s_value (&values[index], field->op == CABI_ADD, member_path, &member, error);
        if (!rc && member && json_object_set_new (object, field->members[index], member))
            rc = cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
        if (rc) {
            json_decref (object);
            return rc;
        }
    }
    *json_p = object;
    return CAB_OK;
}

//  Check a value (borrowed) against the field's schema; errors are put at
//  `path` (the validator's own path is relative to the value).
static cab_status_t
s_check (cabi_field_t *field, const json_t *value, const char *path, cab_error_t *error)
{
    cab_schema_t *schema = s_compiled (field, error);
    if (!schema)
        return error ? error->code : CAB_ERR_NOMEM;
    cab_error_t local;
    cab_status_t rc = cab_schema_validate (schema, value, &local);
    if (rc) {
        char full[CAB_ERROR_PATH_MAX];
        snprintf (full, sizeof full, "%s%s", path, local.path);
        cab_error_set (error, rc, full, "%s", local.text);
    }
    return rc;
}

//  ---------------------------------------------------------------------
//  Setting

static cab_status_t
s_oom (cab_error_t *error, const char *path)
{
    return cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
}

//  Put a checked value (stolen) where the field says.
static cab_status_t
s_apply (cab_event_t *event, const cabi_field_t *field, const char *key, json_t *value,
         const char *path, cab_error_t *error)
{
    //  cab_event_detail drops the event's cached text: only now do we change it.
    json_t *detail = cab_event_detail (event);
    int rc;
    if (field->op == CABI_ADD) {
        json_t *array = json_object_get (detail, field->name);
        if (!array) {
            array = json_array ();
            if (json_object_set_new (detail, field->name, array)) {
                json_decref (value);
                return s_oom (error, path);
            }
        }
        rc = json_array_append_new (array, value);
    } else if (field->op == CABI_PUT) {
        json_t *map = json_object_get (detail, field->name);
        if (!map) {
            map = json_object ();
            if (json_object_set_new (detail, field->name, map)) {
                json_decref (value);
                return s_oom (error, path);
            }
        }
        rc = json_object_set_new (map, key, value);
    } else
        rc = json_object_set_new (detail, field->name, value);
    return rc ? s_oom (error, path) : CAB_OK;
}

cab_status_t
cabi_typed_set (cab_event_t *event, cabi_field_t *field, const char *key,
                const cabi_value_t *values, cab_error_t *error)
{
    char path[CAB_ERROR_PATH_MAX] = "/detail";
    s_path_token (path, sizeof path, field->name);
    json_t *document = cab_event_json (event);
    json_t *detail = json_object_get (document, "detail");
    if (!json_is_object (detail))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, path,
                              event ? "the event has no detail object" : "no event");
    json_t *current = json_object_get (detail, field->name);

    //  Where the new value goes, for the messages; and the bounds.
    if (field->op == CABI_ADD) {
        if (current && !json_is_array (current))
            return cab_error_set (error, CAB_ERR_SCHEMA_VIOLATION, path, "type: must be an array");
        size_t size = json_array_size (current);
        if (field->limit && size >= field->limit)
            return cab_error_set (error, CAB_ERR_SCHEMA_VIOLATION, path,
                                  "maxItems: must have at most %zu items", field->limit);
        char index[32];
        snprintf (index, sizeof index, "%zu", size);
        s_path_token (path, sizeof path, index);
    } else if (field->op == CABI_PUT) {
        if (!key)
            return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, path, "no name given");
        if (!cabi_utf8_valid (key))
            return cab_error_set (error, CAB_ERR_INVALID_UTF8, path, "name must be UTF-8");
        if (current && !json_is_object (current))
            return cab_error_set (error, CAB_ERR_SCHEMA_VIOLATION, path, "type: must be an object");
        if (field->limit && !json_object_get (current, key) &&
            json_object_size (current) >= field->limit)
            return cab_error_set (error, CAB_ERR_SCHEMA_VIOLATION, path,
                                  "maxProperties: must have at most %zu members", field->limit);
        s_path_token (path, sizeof path, key);
    }

    json_t *value;
    cab_status_t rc = s_values (field, values, path, &value, error);
    if (rc)
        return rc;
    if (field->op == CABI_MEMBER) {
        //  The members join the object's others, and the whole is checked.
        json_t *merged = json_is_object (current) ? json_copy (current) : json_object ();
        if (!merged || json_object_update (merged, value)) {
            json_decref (merged);
            json_decref (value);
            return s_oom (error, path);
        }
        json_decref (value);
        value = merged;
    }
    if (field->op == CABI_ADD && field->unique) {
        size_t index;
        json_t *item;
        json_array_foreach (current, index, item) if (json_equal (item, value))
        {
            json_decref (value);
            return cab_error_set (error, CAB_ERR_SCHEMA_VIOLATION, path,
                                  "uniqueItems: equal to item %zu", index);
        }
    }
    if ((rc = s_check (field, value, path, error))) {
        json_decref (value);
        return rc;
    }
    return s_apply (event, field, key, value, path, error);
}

cab_event_t *
cabi_typed_new (const cabi_event_type_t *type, const cabi_value_t *values, cab_error_t *error)
{
    cab_event_t *event = cab_event_new (type->source, type->detail_type, error);
    if (event && cab_event_set_schema_version (event, type->schema_version) != CAB_OK) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory creating an event");
        cab_event_destroy (&event);
    }
    for (size_t index = 0; event && type->required[index]; index++)
        if (cabi_typed_set (event, type->required[index], NULL, &values[index], error))
            cab_event_destroy (&event);
    return event;
}

cab_status_t
cabi_typed_get_enum (cab_event_t *event, const cabi_enum_field_t *field, int *value_p)
{
    const char *source = cab_event_source (event), *detail_type = cab_event_detail_type (event);
    if (!source || !detail_type || strcmp (source, field->type->source) != 0 ||
        strcmp (detail_type, field->type->detail_type) != 0)
        return CAB_ERR_INVALID_ARGUMENT;
    json_t *value =
        json_object_get (json_object_get (cab_event_json (event), "detail"), field->name);
    if (field->member)
        value = json_object_get (value, field->member);
    if (!value)
        return CAB_ERR_NOT_FOUND;
    int index = cabi_enum_parse (field->names, field->count, json_string_value (value));
    if (index < 0)
        return CAB_ERR_SCHEMA_VIOLATION;
    *value_p = index;
    return CAB_OK;
}
