/*  =========================================================================
    cab_jsonscan - JSON parsing helpers shared by libcabruca's files
    (private: not installed, not exported)
    =========================================================================
*/
#ifndef CAB_JSONSCAN_H_INCLUDED
#define CAB_JSONSCAN_H_INCLUDED

#include "cabruca.h"

//  Parse `length` bytes of JSON text with jansson (flags as json_loadb's;
//  JSON_DECODE_ANY and JSON_REJECT_DUPLICATES are understood). Returns a
//  new reference, or NULL and fills error: CAB_ERR_INVALID_JSON (text
//  "<what>:<line>:<column>: <reason>", what may be NULL) or CAB_ERR_NOMEM.
//  jansson reports some allocation failures (inside a string, a number or
//  an object) as syntax errors; a syntax error on text that cab_jsonscan
//  finds valid is therefore reported as CAB_ERR_NOMEM. (Text nested deeper
//  than CAB_PATTERN_DEPTH_MAX is not rescanned: its errors stay InvalidJson.)
json_t *
    cabi_json_loadb (const char *text, size_t length, size_t flags, const char *what,
                     cab_error_t *error);

//  Serialise a JSON value like json_dumps, with two passes of json_dumpb:
//  json_dumps drops the text of an object key when its buffer cannot grow
//  (jansson 2.14), which gives text that is not the document. Returns a new
//  NUL-terminated string (caller frees it) and sets *length_p (may be
//  NULL), or NULL when out of memory or when jansson cannot encode the
//  value (e.g. a scalar without JSON_ENCODE_ANY).
char *
    cabi_json_dumps (const json_t *json, size_t flags, size_t *length_p);

#endif
