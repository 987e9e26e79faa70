/*  =========================================================================
    cab_registry - the schema registry: event types to compiled schemas

    Loads schemas/ (envelope.json and the .json files in events/) and maps each event
    type, the triple (source, detail-type, schema_version), to its compiled
    cab_schema. Several versions of a type live side by side. Each event
    schema names its type with single-valued enums on the envelope fields:
        properties/source/enum = ["cabruca.agents.monitor"]
        properties/detail-type/enum = ["Issue Detection"]
        properties/detail/properties/schema_version/enum = ["1.0"]
    =========================================================================
*/
#ifndef CAB_REGISTRY_H_INCLUDED
#define CAB_REGISTRY_H_INCLUDED

#include "cab_status.h"
#include "cab_schema.h"
#include "cab_event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _cab_registry_t cab_registry_t;

//  Create an empty registry. Returns NULL when out of memory. Caller owns
//  the return value and must destroy it.
cab_registry_t *
    cab_registry_new (void);

//  Destroy a registry and its schemas and null the pointer; safe on NULL.
void
    cab_registry_destroy (cab_registry_t **self_p);

//  Load a schema directory: DIR/envelope.json (the envelope schema) and
//  every .json file in DIR/events (event types). Returns CAB_OK, or an error naming
//  the file in error->text: CAB_ERR_IO, CAB_ERR_INVALID_JSON,
//  CAB_ERR_INVALID_SCHEMA (also for a schema that does not name its type, or
//  a type defined twice). On error the registry is left as it was.
cab_status_t
    cab_registry_load_dir (cab_registry_t *self, const char *dir, cab_error_t *error);

//  Add one event-type schema document (borrowed), read from `origin` (a file
//  name for messages; may be NULL). Returns CAB_OK or an error as for
//  cab_registry_load_dir.
cab_status_t
    cab_registry_add (cab_registry_t *self, json_t *document, const char *origin,
                      cab_error_t *error);

//  Find the schema of an event type. Returns the compiled schema (borrowed,
//  valid while the registry lives) or NULL with CAB_ERR_UNKNOWN_EVENT_TYPE
//  in error, whose text names the type and the versions that are known.
cab_schema_t *
    cab_registry_lookup (cab_registry_t *self, const char *source, const char *detail_type,
                         const char *schema_version, cab_error_t *error);

//  Validate an event: envelope (cab_event_check_envelope, then the envelope
//  schema when loaded), then its type's schema. Returns CAB_OK,
//  CAB_ERR_INVALID_ENVELOPE, CAB_ERR_UNKNOWN_EVENT_TYPE or
//  CAB_ERR_SCHEMA_VIOLATION, with the JSON Pointer in error->path.
cab_status_t
    cab_registry_validate (cab_registry_t *self, cab_event_t *event, cab_error_t *error);

//  Validate an event document (borrowed) as cab_registry_validate does.
cab_status_t
    cab_registry_validate_json (cab_registry_t *self, const json_t *document,
                                cab_error_t *error);

//  Return the number of event types registered.
size_t
    cab_registry_size (cab_registry_t *self);

//  Describe the index-th event type (0 <= index < size), sorted by source,
//  detail-type, then version. Each out-pointer may be NULL; strings are
//  borrowed, valid while the registry lives. Returns CAB_OK or
//  CAB_ERR_NOT_FOUND when index is out of range.
cab_status_t
    cab_registry_entry (cab_registry_t *self, size_t index, const char **source_p,
                        const char **detail_type_p, const char **schema_version_p,
                        const char **origin_p);

#ifdef __cplusplus
}
#endif

#endif
