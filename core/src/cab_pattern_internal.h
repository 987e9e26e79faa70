/*  =========================================================================
    cab_pattern_internal - private declarations shared by the cab_pattern
    sources (not installed, not exported: names start with cabi_)
    =========================================================================
*/
#ifndef CAB_PATTERN_INTERNAL_H_INCLUDED
#define CAB_PATTERN_INTERNAL_H_INCLUDED

#include "cabruca.h"
#include "cab_pattern.h"
#include <stdint.h>

//  ---------------------------------------------------------------------
//  cab_jsonscan.c: a pull tokenizer over JSON text (RFC 8259), validating
//  UTF-8 and nesting; strings are unescaped on demand.

typedef enum {
    CABI_TOK_ERROR = 0,
    CABI_TOK_END,        //  end of input after one complete value
    CABI_TOK_OBJECT,     //  {
    CABI_TOK_OBJECT_END, //  }
    CABI_TOK_ARRAY,      //  [
    CABI_TOK_ARRAY_END,  //  ]
    CABI_TOK_KEY,        //  a member name (value in str/len)
    CABI_TOK_STRING,     //  a string value (str/len, unescaped)
    CABI_TOK_NUMBER,     //  a number (str/len: its text)
    CABI_TOK_TRUE,
    CABI_TOK_FALSE,
    CABI_TOK_NULL
} cabi_tok_t;

typedef struct {
    const char *text;
    size_t length;
    size_t pos;
    int depth;
    int max_depth;
    uint8_t stack [CAB_PATTERN_DEPTH_MAX + 1]; //  'o' or 'a' per level
    int state;         //  what may come next
    const char *str;   //  current token's text (borrowed)
    size_t len;
    char *buffer;      //  unescaped strings
    size_t buffer_size;
    cab_status_t code; //  on CABI_TOK_ERROR
    char reason [128];
} cabi_scan_t;

void
    cabi_scan_init (cabi_scan_t *scan, const char *text, size_t length, int max_depth);
void
    cabi_scan_fini (cabi_scan_t *scan);
cabi_tok_t
    cabi_scan_next (cabi_scan_t *scan);
//  Skip the value whose first token was just returned (a no-op for scalars).
//  Returns false on a syntax error.
bool
    cabi_scan_skip (cabi_scan_t *scan, cabi_tok_t first);
//  Fill error from a scanner error.
cab_status_t
    cabi_scan_error (cabi_scan_t *scan, cab_error_t *error, const char *what);

//  ---------------------------------------------------------------------
//  cab_pattern_value.c: value predicates.

typedef enum {
    CABI_M_EXACT,        //  key: tagged bytes ('s' string, 'n' number text, 't' 'f' 'z' literals)
    CABI_M_NUMERIC,      //  range lo..hi (equality is lo == hi, both closed)
    CABI_M_PREFIX,
    CABI_M_SUFFIX,
    CABI_M_EIC,          //  equals-ignore-case (str is folded)
    CABI_M_PREFIX_EIC,
    CABI_M_SUFFIX_EIC,
    CABI_M_WILDCARD,     //  str is the raw wildcard text, validated
    CABI_M_CIDR,
    CABI_M_EXISTS,
    CABI_M_ABSENT,
    CABI_M_AB_VALUES,    //  anything-but strings (strs) or numbers (nums)
    CABI_M_AB_PREFIX,
    CABI_M_AB_SUFFIX,
    CABI_M_AB_EIC,       //  strs folded
    CABI_M_AB_WILDCARD
} cabi_mkind_t;

typedef struct {
    cabi_mkind_t kind;
    char *str;   //  NUL-terminated copy
    size_t len;
    double lo, hi;
    bool has_lo, has_hi, lo_open, hi_open;
    uint8_t ip [16];
    int ip_bits;   //  prefix length
    bool ip_v6;
    char **strs;
    size_t *lens;
    size_t nstrs;
    double *nums;
    size_t nnums;
} cabi_matcher_t;

//  One leaf value of an event.
typedef enum { CABI_V_STRING, CABI_V_NUMBER, CABI_V_TRUE, CABI_V_FALSE, CABI_V_NULL } cabi_vtype_t;

typedef struct {
    cabi_vtype_t type;
    const char *str; //  string bytes or number text
    size_t len;
    bool numeric;    //  number comparable as a float64 (event-ruler's rule)
    double num;
    const char *folded; //  case-folded string, or NULL when not computed
    size_t folded_len;
    int ip_state;       //  0 not parsed yet, 1 an IP address, -1 not one
    bool ip_v6;
    uint8_t ip [16];
} cabi_value_t;

//  Parse JSON number text; true when it is "comparable": its decimal value
//  is exactly the shortest representation of a finite float64. Sets *out.
bool
    cabi_number_comparable (const char *text, size_t len, double *out);
//  Case-fold UTF-8 text into out (capacity >= 2 * len + 4); returns length.
size_t
    cabi_fold (const char *text, size_t len, char *out);
//  Validate a wildcard pattern; NULL if fine, else a static reason.
const char *
    cabi_wildcard_check (const char *text, size_t len);
bool
    cabi_wildcard_match (const char *pattern, size_t plen, const char *text, size_t tlen);
//  Parse "a.b.c.d" or an IPv6 address into 16 bytes; *v6 tells which.
bool
    cabi_ip_parse (const char *text, size_t len, uint8_t ip [16], bool *v6);
//  Parse a CIDR block into the matcher; NULL if fine, else a static reason.
const char *
    cabi_cidr_parse (const char *text, size_t len, cabi_matcher_t *m);
bool
    cabi_cidr_contains (const cabi_matcher_t *m, const uint8_t ip [16], bool v6);
//  Does a matcher accept a value? (Not for EXISTS/ABSENT, handled by callers.)
bool
    cabi_matcher_accepts (const cabi_matcher_t *m, cabi_value_t *value, char *fold_buffer);
void
    cabi_matcher_free (cabi_matcher_t *m);

//  ---------------------------------------------------------------------
//  cab_pattern_compile.c: a pattern to sub-patterns (its $or expansion).

typedef struct {
    char *path;          //  dot-joined field path, as event-ruler flattens
    size_t path_len;
    cabi_matcher_t *matchers;
    size_t nmatchers;
    bool absent_ok;      //  {"exists": false} is among the values: absence satisfies it
} cabi_clause_t;

typedef struct {
    size_t *clauses; //  indexes into cabi_compiled_t.clauses
    size_t nclauses;
} cabi_subpattern_t;

typedef struct {
    cabi_clause_t *clauses; //  shared by the sub-patterns
    size_t nclauses;
    cabi_subpattern_t *subs;
    size_t nsubs;
} cabi_compiled_t;

cab_status_t
    cabi_compile (const char *text, size_t length, cabi_compiled_t *out, cab_error_t *error);
void
    cabi_compiled_free (cabi_compiled_t *compiled);

//  ---------------------------------------------------------------------
//  cab_pattern_text.c: a jansson value as compact JSON text, reals in
//  shortest round-trip form. Returns new text (caller frees) and sets
//  *len_p, or NULL with CAB_ERR_TOO_LARGE in error.
char *
    cabi_json_text (const json_t *value, size_t *len_p, cab_error_t *error);

#endif
