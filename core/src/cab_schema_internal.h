/*  =========================================================================
    cab_schema_internal - private structures of the JSON Schema validator

    Shared by cab_schema.c (lifecycle, memo), cab_schema_compile.c
    (keywords), cab_schema_refs.c (URIs, $id and $ref), cab_schema_validate.c
    (validation), cab_schema_equal.c (JSON equality and hashing),
    cab_schema_regex.c (ECMA-262 on PCRE2), cab_schema_format.c (formats)
    and cab_schema_meta.c (the metaschema).
    Not installed; internal non-static functions are prefixed cabi_schema_.

    A schema document is compiled into a graph of cabi_node_t, one per
    subschema, allocated from an arena the schema owns. $ref edges point at
    compiled nodes, so validation never looks at the schema JSON again.
    All memory goes through jansson's allocator (json_get_alloc_funcs) so
    that tests can fail any allocation with json_set_alloc_funcs.
    =========================================================================
*/
#ifndef CAB_SCHEMA_INTERNAL_H_INCLUDED
#define CAB_SCHEMA_INTERNAL_H_INCLUDED

#define PCRE2_CODE_UNIT_WIDTH 8
#include "cabruca.h"
#include <pcre2.h>
#include <stdatomic.h>

//  Maximum nesting: of schemas while compiling, of schema applications
//  while validating, and of JSON values compared or hashed.
#define CABI_SCHEMA_MAX_DEPTH 512

//  Largest schema file cab_schema_load reads.
#define CABI_SCHEMA_MAX_FILE (16 * 1024 * 1024)

//  Type bits for the "type" keyword.
#define CABI_TYPE_NULL    0x01
#define CABI_TYPE_BOOLEAN 0x02
#define CABI_TYPE_OBJECT  0x04
#define CABI_TYPE_ARRAY   0x08
#define CABI_TYPE_NUMBER  0x10
#define CABI_TYPE_STRING  0x20
#define CABI_TYPE_INTEGER 0x40
#define CABI_TYPE_ALL     0x7f

typedef enum {
    CABI_FORMAT_NONE = 0,
    CABI_FORMAT_DATE_TIME,
    CABI_FORMAT_DATE,
    CABI_FORMAT_TIME,
    CABI_FORMAT_EMAIL,
    CABI_FORMAT_IPV4,
    CABI_FORMAT_IPV6,
    CABI_FORMAT_HOSTNAME,
    CABI_FORMAT_URI,
    CABI_FORMAT_URI_REFERENCE,
    CABI_FORMAT_UUID,
    CABI_FORMAT_REGEX,
    CABI_FORMAT_JSON_POINTER,
    CABI_FORMAT_RELATIVE_JSON_POINTER
} cabi_format_t;

//  Simple bump allocator; everything compiled lives here until destroy.
typedef struct cabi_arena_chunk_s cabi_arena_chunk_t;
typedef struct {
    cabi_arena_chunk_t *chunks;
    char *cursor;
    size_t left;
} cabi_arena_t;

//  A pattern of ASCII classes with counts (cab_schema_simple.c).
typedef struct cabi_simple_s cabi_simple_t;

//  A compiled ECMA-262 regular expression.
typedef struct {
    pcre2_code *code;
    cabi_simple_t *simple; //  The same pattern matched without PCRE2, or NULL
    const char *source; //  As written in the schema (arena)
} cabi_regex_t;

//  A numeric bound, exact for integers.
typedef struct {
    bool set;
    bool is_integer;
    json_int_t integer;
    double real;
} cabi_number_t;

typedef struct cabi_node_s cabi_node_t;

typedef struct {
    const char *key;
    size_t length;
    cabi_node_t *node;
} cabi_property_t;

typedef struct {
    cabi_regex_t *regex;
    cabi_node_t *node;
} cabi_pattern_property_t;

typedef struct {
    const char *key;
    size_t length;
    cabi_node_t *schema;  //  Schema form, or NULL
    const char **names;   //  Array form
    size_t *name_lengths; //
    size_t name_count;    //
} cabi_dependency_t;

typedef struct {
    const char *text;
    size_t length;
} cabi_string_t;

struct cabi_node_s {
    int state;               //  0 = not compiled yet, 1 = compiled
    int boolean;             //  -1 object schema, 0 false, 1 true
    const char *pointer;     //  Schema-side location, for messages
    cabi_node_t *ref;        //  $ref target: every sibling is ignored
    unsigned types;          //  CABI_TYPE_* bits, 0 when no "type"
    //  Any type
    const json_t *const_value; //  Borrowed from a retained document
    bool has_const;
    const json_t **enum_values; //  Non-string members
    size_t enum_count;
    cabi_string_t *enum_strings; //  String members, sorted
    size_t enum_string_count;
    const json_t *enum_array; //  For messages
    cabi_node_t **all_of, **any_of, **one_of;
    size_t all_of_count, any_of_count, one_of_count;
    cabi_node_t *not_schema;
    cabi_node_t *if_schema, *then_schema, *else_schema;
    //  Numbers
    cabi_number_t minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;
    //  Strings
    size_t min_length, max_length; //  max SIZE_MAX when absent
    cabi_regex_t *pattern;
    cabi_format_t format;
    //  Arrays
    cabi_node_t *items;         //  Single-schema form
    cabi_node_t **item_list;    //  Array form
    size_t item_count;          //
    bool items_is_list;         //
    cabi_node_t *additional_items;
    size_t min_items, max_items;
    bool unique_items;
    cabi_node_t *contains;
    //  Objects
    cabi_property_t *properties; //  Sorted by key
    size_t property_count;
    cabi_pattern_property_t *pattern_properties;
    size_t pattern_property_count;
    cabi_node_t *additional_properties;
    cabi_string_t *required;
    size_t required_count;
    size_t min_properties, max_properties;
    cabi_dependency_t *dependencies;
    size_t dependency_count;
    cabi_node_t *property_names;
};

//  A document the schema keeps a reference to: the root, the metaschema,
//  remote documents.
typedef struct {
    char *uri; //  Retrieval URI without fragment ("" for the root)
    json_t *json;
} cabi_document_t;

struct _cab_schema_t {
    json_t *document;            //  The root document (new reference)
    cabi_node_t *root;           //
    const char *id;              //  Root $id as written, or NULL
    cabi_arena_t arena;          //
    cabi_document_t *documents;  //  Retained documents
    size_t document_count;       //
    cabi_regex_t **regexes;      //  Every compiled regex, to free
    size_t regex_count, regex_capacity;
    pcre2_general_context *general; //  jansson's allocator for PCRE2
    pcre2_match_context *match_context;
    pcre2_match_data *match_data; //  Cached, taken by one validation at a time
    atomic_flag match_data_busy;
};

//  One $id or root seen while indexing documents.
typedef struct {
    const char *uri;         //  Absolute URI, possibly with "#name" (arena)
    json_t *json;            //  The subschema
    const char *parent_base; //  Base URI its own $id resolves against
    const char *pointer;     //  Location, for messages
} cabi_ident_t;

//  Pending compilation of a $ref target.
typedef struct {
    json_t *json;
    const char *parent_base;
    const char *pointer;
    cabi_node_t *node;
} cabi_pending_t;

//  Compile-time state.
typedef struct {
    cab_schema_t *schema;
    cab_error_t *error;
    cab_schema_resolver_fn *resolver;
    void *resolver_arg;
    cabi_ident_t *idents;
    size_t ident_count, ident_capacity;
    //  Map json_t * -> compiled node (open addressing)
    const json_t **memo_keys;
    cabi_node_t **memo_nodes;
    size_t memo_count, memo_capacity;
    cabi_pending_t *pending;
    size_t pending_count, pending_capacity;
    size_t document_capacity;
    size_t node_count;
} cabi_compiler_t;

//  ---- Memory (cab_schema.c) ----
void *
cabi_schema_malloc (size_t size);
void
cabi_schema_free (void *pointer);
//  Grow an array of `size`-byte elements to hold at least `need`.
int
cabi_schema_grow (void **array, size_t *capacity, size_t need, size_t size);
void *
cabi_schema_arena_alloc (cabi_arena_t *arena, size_t size);
char *
cabi_schema_arena_strndup (cabi_arena_t *arena, const char *text, size_t length);
char *
cabi_schema_strdup (const char *text);
//  Compile one schema (object or boolean) into node (cab_schema_compile.c).
cab_status_t
cabi_schema_compile (cabi_compiler_t *compiler, json_t *json, const char *parent_base,
                     const char *pointer, cabi_node_t *node, int depth);
//  Compile (or find) the node for a subschema below the current one.
cabi_node_t *
cabi_schema_compile_child (cabi_compiler_t *compiler, json_t *json, const char *parent_base,
                           const char *pointer, int depth);
//  Find or create the node for a $ref target, queued for compilation.
cabi_node_t *
cabi_schema_node_for_target (cabi_compiler_t *compiler, json_t *json, const char *parent_base,
                             const char *pointer);

//  ---- References (cab_schema_refs.c) ----
//  Resolve `reference` against `base` (RFC 3986 section 5.2). Returns a
//  string in the arena, or NULL when out of memory.
char *
cabi_schema_uri_resolve (cabi_arena_t *arena, const char *base, const char *reference);
//  Return the base URI in effect inside `json` (parent_base plus its $id,
//  fragment dropped). Arena string, or NULL on out of memory.
const char *
cabi_schema_base_of (cabi_arena_t *arena, json_t *json, const char *parent_base);
//  Register a document and index its $ids. Steals nothing: takes a new
//  reference to json.
cab_status_t
cabi_schema_add_document (cabi_compiler_t *compiler, const char *uri, json_t *json);
//  Resolve a $ref found at `pointer` (schema side) with `base` into the
//  compiled target node.
cab_status_t
cabi_schema_resolve_ref (cabi_compiler_t *compiler, const char *base, const char *reference,
                         const char *pointer, cabi_node_t **target);
void
cabi_schema_compiler_free (cabi_compiler_t *compiler);
//  Append an escaped RFC 6901 token to a pointer; arena string or NULL.
char *
cabi_schema_pointer_append (cabi_arena_t *arena, const char *pointer, const char *token,
                            size_t length);

//  ---- Regular expressions (cab_schema_regex.c) ----
//  Translate and compile an ECMA-262 regex. On a syntax error returns
//  NULL with a reason in `reason` (status CAB_ERR_INVALID_SCHEMA), on
//  out of memory NULL with *status CAB_ERR_NOMEM.
pcre2_code *
cabi_schema_regex_compile (pcre2_general_context *general, const char *source, size_t length,
                           char *reason, size_t reason_size, cab_status_t *status);
//  Match: 1 match, 0 no match, <0 a CAB_ERR_* status negated.
int
cabi_schema_regex_match (cab_schema_t *schema, const cabi_regex_t *regex, const char *subject,
                         size_t length);
pcre2_general_context *
cabi_schema_regex_context (void);

//  ---- Formats (cab_schema_format.c) ----
cabi_format_t
cabi_schema_format_lookup (const char *name);
const char *
cabi_schema_format_name (cabi_format_t format);
//  1 valid, 0 invalid, <0 a CAB_ERR_* status negated.
int
cabi_schema_format_check (cab_schema_t *schema, cabi_format_t format, const char *text,
                          size_t length);
//  Validate the generic syntax of a URI (absolute when `absolute`).
bool
cabi_schema_uri_valid (const char *text, size_t length, bool absolute);

//  ---- JSON equality and hashing (cab_schema_equal.c) ----
//  1 equal, 0 not, -1 nested too deeply.
int
cabi_schema_json_equal (const json_t *a, const json_t *b, int depth);
//  Hash consistent with cabi_schema_json_equal; -1 in *ok when too deep.
uint64_t
cabi_schema_json_hash (const json_t *value, int depth, int *ok);
//  Depth of a JSON value up to limit + 1.
int
cabi_schema_json_depth (const json_t *value, int limit);
//  ---- Simple patterns (cab_schema_simple.c) ----
//  The pattern source[0..length) (one PCRE2 compiled) as atoms in arena
//  when it is "^", ASCII literals and classes with counts, perhaps "$",
//  and one greedy pass matches it exactly; NULL otherwise (or out of
//  memory): PCRE2 then matches it.
cabi_simple_t *
cabi_schema_simple_compile (cabi_arena_t *arena, const char *source, size_t length);
//  Whether subject[0..length) matches, as pcre2_match with PCRE2_UTF would
//  say (a subject that is not UTF-8 matches nothing).
bool
cabi_schema_simple_match (const cabi_simple_t *simple, const char *subject, size_t length);

//  Number of Unicode code points in a UTF-8 string.
size_t
cabi_schema_utf8_length (const char *text, size_t length);

//  ---- The draft-07 metaschema (cab_schema_meta.c) ----
extern const char cabi_schema_draft07_uri[];
extern const char cabi_schema_draft07_text[];

#endif
