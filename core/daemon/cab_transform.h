/*  =========================================================================
    cab_transform - EventBridge input transformers

    An input transformer rewrites an event before a target receives it, as
    Amazon EventBridge does: an input paths map names values of the event
    by JSON path ({"var": "$.detail.x"}, at most 100), and an input
    template (at most 8192 characters) places them with <var>. Reserved
    variables: <aws.events.rule-name>, <aws.events.rule-arn>,
    <aws.events.event>, <aws.events.event.json> and
    <aws.events.event.ingestion-time>. Quoting follows EventBridge: a
    variable inside a JSON string is replaced by its text, escaped; outside
    quotes by its JSON value; a path that resolves to nothing gives null
    (outside quotes) or nothing (inside quotes). See docs/rules.md.
    =========================================================================
*/
#ifndef CAB_TRANSFORM_H_INCLUDED
#define CAB_TRANSFORM_H_INCLUDED

#include "cabruca.h"
#include "cab_rules.h"
#include <stddef.h>
#include <stdint.h>

//  Most variables in an input paths map (EventBridge's limit).
#define CAB_TRANSFORM_VARS_MAX 100
//  Longest input template, in characters (EventBridge's limit).
#define CAB_TRANSFORM_TEMPLATE_MAX 8192

//  Compile an input transformer, the JSON object {"input_paths_map": {..},
//  "input_template": "..."} of a rule file (borrowed; not stolen). Returns a
//  new transformer (caller owns it, cab_transform_destroy) or NULL and
//  fills error: CAB_ERR_INVALID_CONFIG with the JSON Pointer relative to
//  the transformer object (e.g. /input_paths_map/x), CAB_ERR_NOMEM.
cab_transform_t *
    cab_transform_new (const json_t *input_transformer, cab_error_t *error);

//  Destroy a transformer and null the pointer; safe on NULL.
void
    cab_transform_destroy (cab_transform_t **self_p);

//  Apply to one event (`length` bytes of JSON text). rule_name fills
//  <aws.events.rule-name>; ingestion_ms (ms since the epoch) fills
//  <aws.events.event.ingestion-time>. On CAB_OK *out_p is a new malloc'd,
//  NUL-terminated buffer (caller frees it) of *out_size bytes, at most
//  CAB_EVENT_MAX_SIZE. Errors: CAB_ERR_INVALID_JSON, CAB_ERR_INVALID_UTF8,
//  CAB_ERR_TOO_DEEP (the event), CAB_ERR_TOO_LARGE (the event or the
//  output), CAB_ERR_NOMEM. Safe to call from several threads at once.
cab_status_t
    cab_transform_apply (cab_transform_t *self, const char *event, size_t length,
                         const char *rule_name, int64_t ingestion_ms, char **out_p,
                         size_t *out_size, cab_error_t *error);

#endif
