/*  =========================================================================
    cab_schema - JSON Schema (draft-07) validator on jansson

    A schema is compiled once (cab_schema_new) and then validates any number
    of instances (cab_schema_validate) without further allocation on the
    success path. Supports every draft-07 validation keyword, $ref/$id/
    definitions (with a caller-supplied resolver for remote documents), the
    draft-07 metaschema built in, ECMA-262 regular expressions (PCRE2) and
    the formats date-time, date, time, email, ipv4, ipv6, hostname, uri,
    uri-reference, uuid, regex and json-pointer.

    Errors name the instance's JSON Pointer in error->path and the keyword
    and reason in error->text, e.g.
        path "/detail/severity", text "enum: must be one of LOW, MEDIUM, HIGH, CRITICAL"
    =========================================================================
*/
#ifndef CAB_SCHEMA_H_INCLUDED
#define CAB_SCHEMA_H_INCLUDED

#include "cab_status.h"
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _cab_schema_t cab_schema_t;

//  Resolves a remote $ref target. Given an absolute URI without fragment,
//  returns a new reference to the parsed document, or NULL after filling
//  error (CAB_ERR_UNRESOLVED_REF). `arg` is the pointer given to
//  cab_schema_new_with_resolver.
typedef json_t *(cab_schema_resolver_fn) (const char *uri, void *arg, cab_error_t *error);

//  Compile a schema document (borrowed; the compiled schema keeps its own
//  reference). The document must be a JSON object or a boolean. Remote
//  references (other than the built-in draft-07 metaschema) fail with
//  CAB_ERR_UNRESOLVED_REF. Returns NULL and fills error (CAB_ERR_INVALID_SCHEMA
//  with the schema-side JSON Pointer, CAB_ERR_UNRESOLVED_REF, CAB_ERR_NOMEM)
//  on failure. Caller owns the return value and must destroy it.
cab_schema_t *
    cab_schema_new (json_t *document, cab_error_t *error);

//  Like cab_schema_new, resolving remote references through `resolver`
//  (called during compilation only; each URI at most once).
cab_schema_t *
    cab_schema_new_with_resolver (json_t *document, cab_schema_resolver_fn *resolver,
                                  void *arg, cab_error_t *error);

//  Read and compile a schema file. Returns NULL and fills error (CAB_ERR_IO,
//  CAB_ERR_INVALID_JSON, CAB_ERR_INVALID_SCHEMA, ...) on failure. Caller owns
//  the return value and must destroy it.
cab_schema_t *
    cab_schema_load (const char *path, cab_error_t *error);

//  Destroy a compiled schema and null the pointer; safe on NULL.
void
    cab_schema_destroy (cab_schema_t **self_p);

//  Validate an instance (borrowed). Returns CAB_OK, or
//  CAB_ERR_SCHEMA_VIOLATION with the first failing instance location in
//  error->path and "<keyword>: <reason>" in error->text. Nesting deeper
//  than 512 schema applications (deep instances, $ref loops that consume
//  no input) gives CAB_ERR_TOO_DEEP; a pattern over PCRE2's match limit
//  CAB_ERR_TOO_LARGE. Safe to call from several threads on one schema.
cab_status_t
    cab_schema_validate (cab_schema_t *self, const json_t *instance, cab_error_t *error);

//  Return the schema's root $id, or NULL when it has none. Borrowed, valid
//  while the schema lives.
const char *
    cab_schema_id (cab_schema_t *self);

//  Return the compiled schema's document. Borrowed, valid while the schema
//  lives.
json_t *
    cab_schema_document (cab_schema_t *self);

#ifdef __cplusplus
}
#endif

#endif
