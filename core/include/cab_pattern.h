/*  =========================================================================
    cab_pattern - Amazon EventBridge event patterns, compiled once, matched fast

    A pattern is the JSON text of an EventBridge event pattern. It is
    compiled once (with the checks and error texts of aws/event-ruler, the
    engine behind EventBridge) and then matched against events given as JSON
    text, without building a DOM. A rule set compiles many named patterns
    into one index and returns every matching rule of an event in one pass;
    its cost grows with the number of fields an event shares with the
    patterns, not with the number of rules. See docs/patterns.md.

    Errors: an invalid pattern gives CAB_ERR_INVALID_PATTERN with the JSON
    Pointer of the offending part of the pattern in error->path; a pattern or
    event that is not JSON gives CAB_ERR_INVALID_JSON, CAB_ERR_INVALID_UTF8,
    CAB_ERR_TOO_DEEP or CAB_ERR_TOO_LARGE.
    =========================================================================
*/
#ifndef CAB_PATTERN_H_INCLUDED
#define CAB_PATTERN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "cab_status.h"

#ifdef __cplusplus
extern "C" {
#endif

//  EventBridge's default limit on the size of a pattern, in characters.
#define CAB_PATTERN_SIZE_MAX 2048
//  Most sub-patterns one pattern may expand to through $or.
#define CAB_PATTERN_COMBINATIONS_MAX 1000
//  Largest event accepted, in bytes (EventBridge's PutEvents entry limit).
#define CAB_PATTERN_EVENT_MAX (256 * 1024)
//  Deepest nesting of objects and arrays accepted in an event or pattern.
#define CAB_PATTERN_DEPTH_MAX 128
//  Longest rule id, in bytes.
#define CAB_PATTERN_ID_MAX 256

typedef struct _cab_pattern_t cab_pattern_t;
typedef struct _cab_ruleset_t cab_ruleset_t;

//  Compile a pattern from `length` bytes of JSON text. Returns a new pattern
//  (caller owns it, cab_pattern_destroy) or NULL and fills error:
//  CAB_ERR_INVALID_PATTERN (path = JSON Pointer into the pattern),
//  CAB_ERR_INVALID_JSON, CAB_ERR_INVALID_UTF8, CAB_ERR_NOMEM.
cab_pattern_t *
    cab_pattern_new (const char *text, size_t length, cab_error_t *error);

//  Compile a pattern from a jansson value (borrowed; not stolen). Numbers are
//  taken as jansson holds them. Returns and fails as cab_pattern_new.
cab_pattern_t *
    cab_pattern_new_from_json (const json_t *pattern, cab_error_t *error);

//  Destroy a pattern and null the pointer; safe on NULL.
void
    cab_pattern_destroy (cab_pattern_t **self_p);

//  Match one event given as `length` bytes of JSON text. Sets *matched_p and
//  returns CAB_OK, or returns CAB_ERR_INVALID_JSON, CAB_ERR_INVALID_UTF8,
//  CAB_ERR_TOO_DEEP, CAB_ERR_TOO_LARGE or CAB_ERR_NOMEM (filling error).
//  Not safe to call on the same pattern from two threads at once.
cab_status_t
    cab_pattern_match (cab_pattern_t *self, const char *event, size_t length, bool *matched_p,
                       cab_error_t *error);

//  Match one event given as a jansson value (borrowed). Returns as
//  cab_pattern_match.
cab_status_t
    cab_pattern_match_json (cab_pattern_t *self, const json_t *event, bool *matched_p,
                            cab_error_t *error);

//  Create an empty rule set. Returns NULL only when out of memory. Caller
//  owns it and must destroy it.
cab_ruleset_t *
    cab_ruleset_new (void);

//  Destroy a rule set and null the pointer; safe on NULL.
void
    cab_ruleset_destroy (cab_ruleset_t **self_p);

//  Add a rule: an id (1 to CAB_PATTERN_ID_MAX bytes, copied) and the JSON
//  text of its pattern. Adding an id again ORs the new pattern with the old
//  ones, as event-ruler does. Returns CAB_OK or the errors of
//  cab_pattern_new, or CAB_ERR_INVALID_ARGUMENT for a bad id.
cab_status_t
    cab_ruleset_add (cab_ruleset_t *self, const char *id, const char *text, size_t length,
                     cab_error_t *error);

//  Add a rule whose pattern is a jansson value (borrowed). As cab_ruleset_add.
cab_status_t
    cab_ruleset_add_json (cab_ruleset_t *self, const char *id, const json_t *pattern,
                          cab_error_t *error);

//  Return the number of distinct rule ids in the set.
size_t
    cab_ruleset_size (cab_ruleset_t *self);

//  Return the id of rule `index` (0 <= index < size); borrowed, valid while
//  the rule set lives. Returns NULL for an index out of range.
const char *
    cab_ruleset_id (cab_ruleset_t *self, size_t index);

//  Match one event (JSON text) against every rule in one pass. Writes the
//  indexes of the matching rules, sorted by ascending byte order of their
//  ids, to matches[0 .. capacity-1] and sets *count_p to the number of
//  matching rules (which may exceed capacity: then only the first capacity
//  are written). The first match after an add compiles the index. Returns
//  CAB_OK or the errors of cab_pattern_match. Not safe to call on the same
//  rule set from two threads at once.
cab_status_t
    cab_ruleset_match (cab_ruleset_t *self, const char *event, size_t length, size_t *matches,
                       size_t capacity, size_t *count_p, cab_error_t *error);

//  Match one event given as a jansson value (borrowed). As cab_ruleset_match.
cab_status_t
    cab_ruleset_match_json (cab_ruleset_t *self, const json_t *event, size_t *matches,
                            size_t capacity, size_t *count_p, cab_error_t *error);

#ifdef __cplusplus
}
#endif

#endif
