/*  =========================================================================
    cab_pattern_compile - check an event pattern and expand it into
    sub-patterns (one per $or combination), each a set of clauses "field
    path -> any of these matchers". Checks and texts follow aws/event-ruler's
    JsonRuleCompiler; every error carries the JSON Pointer of its cause.
    =========================================================================
*/
#include "cab_pattern_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A parsed pattern value (a small DOM that keeps number texts).
typedef struct s_node {
    cabi_tok_t type;
    char *key;  //  member name when inside an object
    size_t key_len;
    char *str;  //  string value or number text
    size_t len;
    struct s_node *kids;
    size_t nkids;
} s_node_t;

typedef struct {
    size_t *idx;
    size_t n;
} s_conj_t;

typedef struct {
    s_conj_t *v;
    size_t n;
} s_dnf_t;

typedef struct {
    cabi_compiled_t *out;
    cab_error_t *error;
    char pointer[CAB_ERROR_PATH_MAX * 2];
    size_t pointer_len;
    size_t clauses_cap;
} s_ctx_t;

static void
s_node_free (s_node_t *node)
{
    for (size_t i = 0; i < node->nkids; i++)
        s_node_free (&node->kids[i]);
    free (node->kids);
    free (node->key);
    free (node->str);
}

static char *
s_dup (const char *s, size_t n)
{
    char *copy = malloc (n + 1);
    if (copy) {
        memcpy (copy, s, n);
        copy[n] = 0;
    }
    return copy;
}

static cab_status_t
s_build (cabi_scan_t *scan, cabi_tok_t tok, s_node_t *node)
{
    node->type = tok;
    if (tok == CABI_TOK_STRING || tok == CABI_TOK_NUMBER) {
        node->str = s_dup (scan->str, scan->len);
        node->len = scan->len;
        return node->str ? CAB_OK : CAB_ERR_NOMEM;
    }
    if (tok != CABI_TOK_OBJECT && tok != CABI_TOK_ARRAY)
        return tok == CABI_TOK_ERROR ? scan->code : CAB_OK;
    size_t cap = 0;
    while (true) {
        cabi_tok_t next = cabi_scan_next (scan);
        if (next == CABI_TOK_ERROR)
            return scan->code;
        if (next == CABI_TOK_OBJECT_END || next == CABI_TOK_ARRAY_END)
            return CAB_OK;
        if (node->nkids == cap) {
            cap = cap ? cap * 2 : 4;
            s_node_t *kids = realloc (node->kids, cap * sizeof *kids);
            if (!kids)
                return CAB_ERR_NOMEM;
            node->kids = kids;
        }
        s_node_t *kid = &node->kids[node->nkids++];
        memset (kid, 0, sizeof *kid);
        if (next == CABI_TOK_KEY) {
            kid->key = s_dup (scan->str, scan->len);
            kid->key_len = scan->len;
            if (!kid->key)
                return CAB_ERR_NOMEM;
            next = cabi_scan_next (scan);
            if (next == CABI_TOK_ERROR)
                return scan->code;
        }
        cab_status_t rc = s_build (scan, next, kid);
        if (rc != CAB_OK)
            return rc;
    }
}

//  JSON Pointer handling
static size_t
s_push (s_ctx_t *ctx, const char *token, size_t len)
{
    size_t mark = ctx->pointer_len;
    size_t room = sizeof ctx->pointer - 1;
    if (ctx->pointer_len < room)
        ctx->pointer[ctx->pointer_len++] = '/';
    for (size_t i = 0; i < len && ctx->pointer_len + 2 < room; i++) {
        if (token[i] == '~') {
            ctx->pointer[ctx->pointer_len++] = '~';
            ctx->pointer[ctx->pointer_len++] = '0';
        } else if (token[i] == '/') {
            ctx->pointer[ctx->pointer_len++] = '~';
            ctx->pointer[ctx->pointer_len++] = '1';
        } else
            ctx->pointer[ctx->pointer_len++] = token[i];
    }
    ctx->pointer[ctx->pointer_len] = 0;
    return mark;
}

static size_t
s_push_index (s_ctx_t *ctx, size_t index)
{
    char buffer[32];
    int n = snprintf (buffer, sizeof buffer, "%zu", index);
    return s_push (ctx, buffer, (size_t)n);
}

static void
s_pop (s_ctx_t *ctx, size_t mark)
{
    ctx->pointer_len = mark;
    ctx->pointer[mark] = 0;
}

static cab_status_t s_fail (s_ctx_t *ctx, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static cab_status_t
s_fail (s_ctx_t *ctx, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    cab_error_setv (ctx->error, CAB_ERR_INVALID_PATTERN, ctx->pointer, format, args);
    va_end (args);
    return CAB_ERR_INVALID_PATTERN;
}

static cab_status_t
s_nomem (s_ctx_t *ctx)
{
    return cab_error_set (ctx->error, CAB_ERR_NOMEM, NULL, "out of memory compiling a pattern");
}

static void
s_dnf_free (s_dnf_t *dnf)
{
    for (size_t i = 0; i < dnf->n; i++)
        free (dnf->v[i].idx);
    free (dnf->v);
    dnf->v = NULL;
    dnf->n = 0;
}

static bool
s_is_reserved (const char *name)
{
    static const char *reserved[] = {"exactly",
                                     "equals-ignore-case",
                                     "prefix",
                                     "suffix",
                                     "anything-but",
                                     "exists",
                                     "wildcard",
                                     "numeric",
                                     "cidr",
                                     "=",
                                     "<",
                                     "<=",
                                     ">",
                                     ">=",
                                     "regex",
                                     "not-wildcard",
                                     "not-equals-ignore-case",
                                     "date-after",
                                     "date-on-or-after",
                                     "date-before",
                                     "date-on-or-before",
                                     "in-date-range",
                                     "ip-address-in-range",
                                     "ip-address-not-in-range",
                                     NULL};
    for (int i = 0; reserved[i]; i++)
        if (strcmp (name, reserved[i]) == 0)
            return true;
    return false;
}

static const char *
s_type_name (cabi_tok_t type)
{
    switch (type) {
        case CABI_TOK_OBJECT:
            return "an object";
        case CABI_TOK_ARRAY:
            return "an array";
        case CABI_TOK_STRING:
            return "a string";
        case CABI_TOK_NUMBER:
            return "a number";
        case CABI_TOK_TRUE:
        case CABI_TOK_FALSE:
            return "a boolean";
        case CABI_TOK_NULL:
            return "null";
        default:
            return "a value";
    }
}

//  Grow a matcher list by one zeroed matcher.
static cabi_matcher_t *
s_add_matcher (cabi_clause_t *clause)
{
    cabi_matcher_t *list = realloc (clause->matchers, (clause->nmatchers + 1) * sizeof *list);
    if (!list)
        return NULL;
    clause->matchers = list;
    cabi_matcher_t *m = &list[clause->nmatchers++];
    memset (m, 0, sizeof *m);
    return m;
}

static bool
s_set_str (cabi_matcher_t *m, const char *s, size_t n, bool fold)
{
    m->str = malloc (2 * n + 8);
    if (!m->str)
        return false;
    if (fold)
        m->len = cabi_fold (s, n, m->str);
    else {
        memcpy (m->str, s, n);
        m->str[n] = 0;
        m->len = n;
    }
    return true;
}

static bool
s_add_exact (cabi_clause_t *clause, char tag, const char *s, size_t n)
{
    cabi_matcher_t *m = s_add_matcher (clause);
    if (!m || !(m->str = malloc (n + 2)))
        return false;
    m->kind = CABI_M_EXACT;
    m->str[0] = tag;
    memcpy (m->str + 1, s, n);
    m->str[n + 1] = 0;
    m->len = n + 1;
    return true;
}

//  A numeric operand: must be a JSON number comparable as a float64.
static cab_status_t
s_operand (s_ctx_t *ctx, const s_node_t *node, const char *op, double *out)
{
    if (node->type != CABI_TOK_NUMBER)
        return s_fail (ctx, "Value of %s must be numeric", strcmp (op, "=") == 0 ? "equals" : op);
    if (!cabi_number_comparable (node->str, node->len, out))
        return s_fail (ctx, "Cannot compare number %s: it is not exactly a finite 64-bit float",
                       node->str);
    return CAB_OK;
}

static cab_status_t
s_numeric (s_ctx_t *ctx, const s_node_t *value, cabi_matcher_t *m)
{
    if (value->type != CABI_TOK_ARRAY)
        return s_fail (ctx, "Value of numeric must be an array.");
    m->kind = CABI_M_NUMERIC;
    const s_node_t *k = value->kids;
    size_t n = value->nkids;
    if (n == 0 || k[0].type != CABI_TOK_STRING) {
        size_t mark = s_push_index (ctx, 0);
        cab_status_t rc = s_fail (ctx, "Invalid member in numeric match: %s",
                                  n ? s_type_name (k[0].type) : "empty array");
        s_pop (ctx, mark);
        return rc;
    }
    const char *op = k[0].str;
    bool lower = strcmp (op, ">") == 0 || strcmp (op, ">=") == 0;
    bool upper = strcmp (op, "<") == 0 || strcmp (op, "<=") == 0;
    bool equal = strcmp (op, "=") == 0;
    if (!lower && !upper && !equal) {
        size_t mark = s_push_index (ctx, 0);
        cab_status_t rc = s_fail (ctx, "Unrecognized numeric range operator: %s", op);
        s_pop (ctx, mark);
        return rc;
    }
    size_t mark = s_push_index (ctx, 1);
    if (n < 2) {
        cab_status_t rc = s_fail (ctx, "Value of %s must be numeric", equal ? "equals" : op);
        s_pop (ctx, mark);
        return rc;
    }
    double v;
    cab_status_t rc = s_operand (ctx, &k[1], op, &v);
    s_pop (ctx, mark);
    if (rc != CAB_OK)
        return rc;
    if (equal || lower) {
        m->has_lo = true;
        m->lo = v;
        m->lo_open = strcmp (op, ">") == 0;
    }
    if (equal || upper) {
        m->has_hi = true;
        m->hi = v;
        m->hi_open = strcmp (op, "<") == 0;
    }
    if (n == 2)
        return CAB_OK;
    if (!lower) {
        mark = s_push_index (ctx, 2);
        rc = s_fail (ctx, "Too many elements in numeric expression");
        s_pop (ctx, mark);
        return rc;
    }
    mark = s_push_index (ctx, 2);
    if (k[2].type != CABI_TOK_STRING) {
        rc = s_fail (ctx, "Bad value in numeric range: %s", s_type_name (k[2].type));
        s_pop (ctx, mark);
        return rc;
    }
    const char *op2 = k[2].str;
    if (strcmp (op2, "<") != 0 && strcmp (op2, "<=") != 0) {
        rc = s_fail (ctx, "Bad numeric range operator: %s", op2);
        s_pop (ctx, mark);
        return rc;
    }
    s_pop (ctx, mark);
    if (n < 4)
        return s_fail (ctx, "Value of %s must be numeric", op2);
    mark = s_push_index (ctx, 3);
    rc = s_operand (ctx, &k[3], op2, &v);
    s_pop (ctx, mark);
    if (rc != CAB_OK)
        return rc;
    if (n > 4) {
        mark = s_push_index (ctx, 4);
        rc = s_fail (ctx, "Too many terms in numeric range expression");
        s_pop (ctx, mark);
        return rc;
    }
    if (!(m->lo < v))
        return s_fail (ctx, "Bottom must be less than top");
    m->has_hi = true;
    m->hi = v;
    m->hi_open = strcmp (op2, "<") == 0;
    return CAB_OK;
}

//  Strings for anything-but wrappers: a string or an array of them, not
//  empty except under equals-ignore-case (fold), as event-ruler's
//  JsonRuleCompiler accepts an empty anything-but/equals-ignore-case list.
static cab_status_t
s_string_list (s_ctx_t *ctx, const s_node_t *value, cabi_matcher_t *m, const char *what, bool fold,
               bool non_empty, bool wildcard)
{
    const s_node_t *items = value;
    size_t n = 1;
    bool list = value->type == CABI_TOK_ARRAY;
    if (list) {
        items = value->kids;
        n = value->nkids;
        if (n == 0 && !fold)
            return s_fail (ctx, "Empty arrays are not allowed");
    }
    if (!(m->strs = calloc (n + 1, sizeof *m->strs)) ||
        !(m->lens = calloc (n + 1, sizeof *m->lens)))
        return s_nomem (ctx);
    for (size_t i = 0; i < n; i++) {
        size_t mark = list ? s_push_index (ctx, i) : ctx->pointer_len;
        cab_status_t rc = CAB_OK;
        const char *reason;
        if (items[i].type != CABI_TOK_STRING)
            rc = s_fail (ctx, "%s", what);
        else if (non_empty && items[i].len == 0)
            rc = s_fail (ctx, "Null prefix/suffix not allowed");
        else if (wildcard && (reason = cabi_wildcard_check (items[i].str, items[i].len)))
            rc = s_fail (ctx, "%s", reason);
        s_pop (ctx, mark);
        if (rc != CAB_OK)
            return rc;
        m->strs[i] = malloc (2 * items[i].len + 8);
        if (!m->strs[i])
            return s_nomem (ctx);
        m->nstrs = i + 1;
        if (fold)
            m->lens[i] = cabi_fold (items[i].str, items[i].len, m->strs[i]);
        else {
            memcpy (m->strs[i], items[i].str, items[i].len + 1);
            m->lens[i] = items[i].len;
        }
    }
    return CAB_OK;
}

static cab_status_t
s_anything_but (s_ctx_t *ctx, const s_node_t *value, cabi_matcher_t *m)
{
    if (value->type == CABI_TOK_OBJECT) {
        if (value->nkids == 0)
            return s_fail (ctx, "Anything-But expression name not found");
        const s_node_t *inner = &value->kids[0];
        size_t mark = s_push (ctx, inner->key, inner->key_len);
        cab_status_t rc;
        if (value->nkids > 1) {
            s_pop (ctx, mark);
            mark = s_push (ctx, value->kids[1].key, value->kids[1].key_len);
            rc = s_fail (ctx, "Only one key allowed in match expression");
        } else if (strcmp (inner->key, "prefix") == 0 || strcmp (inner->key, "suffix") == 0) {
            m->kind = inner->key[0] == 'p' ? CABI_M_AB_PREFIX : CABI_M_AB_SUFFIX;
            rc = s_string_list (ctx, inner, m, "prefix/suffix match pattern must be a string",
                                false, true, false);
        } else if (strcmp (inner->key, "equals-ignore-case") == 0) {
            m->kind = CABI_M_AB_EIC;
            rc = s_string_list (
                ctx, inner, m,
                "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
                "supported.",
                true, false, false);
        } else if (strcmp (inner->key, "wildcard") == 0) {
            m->kind = CABI_M_AB_WILDCARD;
            rc = s_string_list (ctx, inner, m, "wildcard match pattern must be a string", false,
                                false, true);
        } else
            rc = s_fail (ctx, "Unsupported anything-but pattern: %s", inner->key);
        s_pop (ctx, mark);
        return rc;
    }
    m->kind = CABI_M_AB_VALUES;
    const s_node_t *items = value;
    size_t n = 1;
    bool list = value->type == CABI_TOK_ARRAY;
    if (list) {
        items = value->kids;
        n = value->nkids;
    } else if (value->type != CABI_TOK_STRING && value->type != CABI_TOK_NUMBER)
        return s_fail (ctx,
                       "Value of anything-but must be an array or single string/number value.");
    bool has_string = false, has_number = false;
    for (size_t i = 0; i < n; i++) {
        if (items[i].type == CABI_TOK_STRING)
            has_string = true;
        else if (items[i].type == CABI_TOK_NUMBER)
            has_number = true;
        else {
            size_t mark = s_push_index (ctx, i);
            cab_status_t rc =
                s_fail (ctx, "Inside anything but list, start|null|boolean is not supported.");
            s_pop (ctx, mark);
            return rc;
        }
    }
    if (has_string == has_number)
        return s_fail (ctx, "Inside anything but list, either all values are number or string, "
                            "mixed type is not supported");
    if (!(m->strs = calloc (n, sizeof *m->strs)) || !(m->lens = calloc (n, sizeof *m->lens)) ||
        !(m->nums = calloc (n, sizeof *m->nums)))
        return s_nomem (ctx);
    for (size_t i = 0; i < n; i++) {
        if (has_string) {
            if (!(m->strs[i] = s_dup (items[i].str, items[i].len)))
                return s_nomem (ctx);
            m->lens[i] = items[i].len;
            m->nstrs = i + 1;
        } else {
            size_t mark = list ? s_push_index (ctx, i) : ctx->pointer_len;
            bool ok = cabi_number_comparable (items[i].str, items[i].len, &m->nums[i]);
            cab_status_t rc = ok ? CAB_OK
                                 : s_fail (ctx,
                                           "Cannot compare number %s: it is not exactly a finite "
                                           "64-bit float",
                                           items[i].str);
            s_pop (ctx, mark);
            if (rc != CAB_OK)
                return rc;
            m->nnums = i + 1;
        }
    }
    return CAB_OK;
}

//  A string operand of prefix/suffix/equals-ignore-case/wildcard/cidr.
static cab_status_t
s_string_operand (s_ctx_t *ctx, const s_node_t *value, const char *name)
{
    if (value->type != CABI_TOK_STRING)
        return s_fail (ctx, "%s match pattern must be a string", name);
    return CAB_OK;
}

//  One match expression: { "op": operand }.
static cab_status_t
s_expression (s_ctx_t *ctx, const s_node_t *expr, cabi_clause_t *clause)
{
    if (expr->nkids == 0)
        return s_fail (ctx, "Match expression name not found");
    if (expr->nkids > 1) {
        size_t mark = s_push (ctx, expr->kids[1].key, expr->kids[1].key_len);
        cab_status_t rc = s_fail (ctx, "Only one key allowed in match expression");
        s_pop (ctx, mark);
        return rc;
    }
    const s_node_t *value = &expr->kids[0];
    const char *op = value->key;
    size_t mark = s_push (ctx, value->key, value->key_len);
    cab_status_t rc = CAB_OK;
    if (strcmp (op, "exists") == 0) {
        if (value->type == CABI_TOK_FALSE)
            clause->absent_ok = true;
        else if (value->type == CABI_TOK_TRUE) {
            cabi_matcher_t *m = s_add_matcher (clause);
            if (!m)
                rc = s_nomem (ctx);
            else
                m->kind = CABI_M_EXISTS;
        } else
            rc = s_fail (ctx, "exists match pattern must be either true or false.");
        s_pop (ctx, mark);
        return rc;
    }
    cabi_matcher_t *m = s_add_matcher (clause);
    if (!m) {
        s_pop (ctx, mark);
        return s_nomem (ctx);
    }
    if (strcmp (op, "prefix") == 0 || strcmp (op, "suffix") == 0) {
        bool prefix = op[0] == 'p';
        if (value->type == CABI_TOK_OBJECT) {
            //  { "prefix": { "equals-ignore-case": "..." } }
            const s_node_t *inner = value->nkids ? &value->kids[0] : NULL;
            size_t mark2 = inner ? s_push (ctx, inner->key, inner->key_len) : ctx->pointer_len;
            if (!inner)
                rc = s_fail (ctx, "%s expression name not found", prefix ? "Prefix" : "Suffix");
            else if (value->nkids > 1)
                rc = s_fail (ctx, "Only one key allowed in match expression");
            else if (strcmp (inner->key, "equals-ignore-case") != 0)
                rc = s_fail (ctx, "Unsupported %s pattern: %s", op, inner->key);
            else if ((rc = s_string_operand (ctx, inner, "equals-ignore-case")) == CAB_OK) {
                m->kind = prefix ? CABI_M_PREFIX_EIC : CABI_M_SUFFIX_EIC;
                if (!s_set_str (m, inner->str, inner->len, true))
                    rc = s_nomem (ctx);
            }
            s_pop (ctx, mark2);
        } else if ((rc = s_string_operand (ctx, value, op)) == CAB_OK) {
            m->kind = prefix ? CABI_M_PREFIX : CABI_M_SUFFIX;
            if (!s_set_str (m, value->str, value->len, false))
                rc = s_nomem (ctx);
        }
    } else if (strcmp (op, "equals-ignore-case") == 0) {
        if ((rc = s_string_operand (ctx, value, op)) == CAB_OK) {
            m->kind = CABI_M_EIC;
            if (!s_set_str (m, value->str, value->len, true))
                rc = s_nomem (ctx);
        }
    } else if (strcmp (op, "exactly") == 0) {
        if ((rc = s_string_operand (ctx, value, "exact")) == CAB_OK) {
            clause->nmatchers--;
            if (!s_add_exact (clause, 's', value->str, value->len))
                rc = s_nomem (ctx);
        }
    } else if (strcmp (op, "wildcard") == 0) {
        const char *reason;
        if ((rc = s_string_operand (ctx, value, op)) == CAB_OK) {
            if ((reason = cabi_wildcard_check (value->str, value->len)))
                rc = s_fail (ctx, "%s", reason);
            else {
                m->kind = CABI_M_WILDCARD;
                if (!s_set_str (m, value->str, value->len, false))
                    rc = s_nomem (ctx);
            }
        }
    } else if (strcmp (op, "cidr") == 0) {
        const char *reason;
        if ((rc = s_string_operand (ctx, value, op)) == CAB_OK) {
            m->kind = CABI_M_CIDR;
            if ((reason = cabi_cidr_parse (value->str, value->len, m)))
                rc = s_fail (ctx, "%s", reason);
        }
    } else if (strcmp (op, "numeric") == 0)
        rc = s_numeric (ctx, value, m);
    else if (strcmp (op, "anything-but") == 0)
        rc = s_anything_but (ctx, value, m);
    else
        rc = s_fail (ctx, "Unrecognized match type %s", op);
    s_pop (ctx, mark);
    return rc;
}

//  A field's array of values: one new clause.
static cab_status_t
s_field (s_ctx_t *ctx, const s_node_t *array, const char *path, size_t path_len, size_t *index_p)
{
    cabi_compiled_t *out = ctx->out;
    if (out->nclauses == ctx->clauses_cap) {
        size_t cap = ctx->clauses_cap ? ctx->clauses_cap * 2 : 8;
        cabi_clause_t *clauses = realloc (out->clauses, cap * sizeof *clauses);
        if (!clauses)
            return s_nomem (ctx);
        out->clauses = clauses;
        ctx->clauses_cap = cap;
    }
    cabi_clause_t *clause = &out->clauses[out->nclauses];
    memset (clause, 0, sizeof *clause);
    if (!(clause->path = s_dup (path, path_len)))
        return s_nomem (ctx);
    clause->path_len = path_len;
    *index_p = out->nclauses++;
    if (array->nkids == 0)
        return s_fail (ctx, "Empty arrays are not allowed");
    for (size_t i = 0; i < array->nkids; i++) {
        const s_node_t *item = &array->kids[i];
        size_t mark = s_push_index (ctx, i);
        cab_status_t rc = CAB_OK;
        bool ok = true;
        switch (item->type) {
            case CABI_TOK_OBJECT:
                rc = s_expression (ctx, item, clause);
                break;
            case CABI_TOK_STRING: {
                ok = s_add_exact (clause, 's', item->str, item->len);
                uint8_t ip[16];
                bool v6;
                //  event-ruler matches an IP address by value, not by text
                if (ok && cabi_ip_parse (item->str, item->len, ip, &v6)) {
                    cabi_matcher_t *m = s_add_matcher (clause);
                    if ((ok = m != NULL)) {
                        m->kind = CABI_M_CIDR;
                        memcpy (m->ip, ip, 16);
                        m->ip_v6 = v6;
                        m->ip_bits = v6 ? 128 : 32;
                    }
                }
                break;
            }
            case CABI_TOK_NUMBER: {
                double d;
                ok = s_add_exact (clause, 'n', item->str, item->len);
                if (ok && cabi_number_comparable (item->str, item->len, &d)) {
                    cabi_matcher_t *m = s_add_matcher (clause);
                    if ((ok = m != NULL)) {
                        m->kind = CABI_M_NUMERIC;
                        m->has_lo = m->has_hi = true;
                        m->lo = m->hi = d;
                    }
                }
                break;
            }
            case CABI_TOK_TRUE:
                ok = s_add_exact (clause, 't', "", 0);
                break;
            case CABI_TOK_FALSE:
                ok = s_add_exact (clause, 'f', "", 0);
                break;
            case CABI_TOK_NULL:
                ok = s_add_exact (clause, 'z', "", 0);
                break;
            default:
                rc = s_fail (ctx, "Match value must be String, number, true, false, or null");
        }
        s_pop (ctx, mark);
        if (!ok)
            return s_nomem (ctx);
        if (rc != CAB_OK)
            return rc;
    }
    return CAB_OK;
}

//  dnf = dnf x other (clauses of other override same paths in dnf)
static cab_status_t
s_product (s_ctx_t *ctx, s_dnf_t *dnf, s_dnf_t *other)
{
    if (dnf->n * other->n > CAB_PATTERN_COMBINATIONS_MAX)
        return s_fail (ctx, "Pattern expands to more than %d combinations through $or",
                       CAB_PATTERN_COMBINATIONS_MAX);
    s_dnf_t result = {calloc (dnf->n * other->n, sizeof (s_conj_t)), 0};
    if (!result.v)
        return s_nomem (ctx);
    for (size_t a = 0; a < dnf->n; a++)
        for (size_t b = 0; b < other->n; b++) {
            s_conj_t *ca = &dnf->v[a], *cb = &other->v[b];
            s_conj_t *c = &result.v[result.n++];
            c->idx = malloc ((ca->n + cb->n + 1) * sizeof (size_t));
            if (!c->idx) {
                s_dnf_free (&result);
                return s_nomem (ctx);
            }
            for (size_t i = 0; i < ca->n; i++) {
                bool overridden = false;
                const cabi_clause_t *x = &ctx->out->clauses[ca->idx[i]];
                for (size_t j = 0; j < cb->n && !overridden; j++) {
                    const cabi_clause_t *y = &ctx->out->clauses[cb->idx[j]];
                    overridden =
                        x->path_len == y->path_len && memcmp (x->path, y->path, x->path_len) == 0;
                }
                if (!overridden)
                    c->idx[c->n++] = ca->idx[i];
            }
            memcpy (c->idx + c->n, cb->idx, cb->n * sizeof (size_t));
            c->n += cb->n;
        }
    s_dnf_free (dnf);
    *dnf = result;
    return CAB_OK;
}

static cab_status_t s_object (s_ctx_t *ctx, const s_node_t *object, const char *path,
                              size_t path_len, bool in_or, s_dnf_t *out);

static cab_status_t
s_or (s_ctx_t *ctx, const s_node_t *value, const char *path, size_t path_len, s_dnf_t *out)
{
    if (value->type != CABI_TOK_ARRAY)
        return s_fail (ctx, "It must be an Array followed with $or.");
    for (size_t i = 0; i < value->nkids; i++) {
        size_t mark = s_push_index (ctx, i);
        cab_status_t rc = CAB_OK;
        s_dnf_t branch = {NULL, 0};
        if (value->kids[i].type != CABI_TOK_OBJECT)
            rc = s_fail (ctx, "Only JSON object is allowed in array of $or relationship.");
        else
            rc = s_object (ctx, &value->kids[i], path, path_len, true, &branch);
        s_pop (ctx, mark);
        if (rc == CAB_OK && out->n + branch.n > CAB_PATTERN_COMBINATIONS_MAX)
            rc = s_fail (ctx, "Pattern expands to more than %d combinations through $or",
                         CAB_PATTERN_COMBINATIONS_MAX);
        if (rc == CAB_OK) {
            s_conj_t *v = realloc (out->v, (out->n + branch.n) * sizeof *v);
            if (!v)
                rc = s_nomem (ctx);
            else {
                out->v = v;
                memcpy (out->v + out->n, branch.v, branch.n * sizeof *v);
                out->n += branch.n;
                free (branch.v);
                branch.v = NULL;
                branch.n = 0;
            }
        }
        s_dnf_free (&branch);
        if (rc != CAB_OK)
            return rc;
    }
    if (value->nkids < 2)
        return s_fail (ctx, "There must have at least 2 Objects in $or relationship.");
    return CAB_OK;
}

static cab_status_t
s_object (s_ctx_t *ctx, const s_node_t *object, const char *path, size_t path_len, bool in_or,
          s_dnf_t *out)
{
    if (object->nkids == 0)
        return s_fail (ctx, "Empty objects are not allowed");
    out->v = calloc (1, sizeof (s_conj_t));
    if (!out->v)
        return s_nomem (ctx);
    out->n = 1;
    for (size_t i = 0; i < object->nkids; i++) {
        const s_node_t *member = &object->kids[i];
        size_t mark = s_push (ctx, member->key, member->key_len);
        s_dnf_t part = {NULL, 0};
        cab_status_t rc = CAB_OK;
        size_t sub_len = path_len + (path_len ? 1 : 0) + member->key_len;
        char *sub = malloc (sub_len + 1);
        if (!sub)
            rc = s_nomem (ctx);
        else {
            if (path_len) {
                memcpy (sub, path, path_len);
                sub[path_len] = '.';
            }
            memcpy (sub + sub_len - member->key_len, member->key, member->key_len);
            sub[sub_len] = 0;
        }
        if (rc != CAB_OK)
            ;
        else if (strcmp (member->key, "$or") == 0)
            rc = s_or (ctx, member, path, path_len, &part);
        else if (in_or && s_is_reserved (member->key))
            rc = s_fail (ctx, "%s is Ruler reserved fieldName which cannot be used inside $or.",
                         member->key);
        else if (member->type == CABI_TOK_OBJECT)
            rc = s_object (ctx, member, sub, sub_len, in_or, &part);
        else if (member->type == CABI_TOK_ARRAY) {
            size_t index = 0;
            rc = s_field (ctx, member, sub, sub_len, &index);
            if (rc == CAB_OK) {
                part.v = calloc (1, sizeof (s_conj_t));
                if (part.v) {
                    part.n = 1;
                    part.v[0].idx = malloc (sizeof (size_t));
                }
                if (!part.v || !part.v[0].idx)
                    rc = s_nomem (ctx);
                else {
                    part.v[0].idx[0] = index;
                    part.v[0].n = 1;
                }
            }
        } else
            rc = s_fail (ctx, "\"%s\" must be an object or an array", member->key);
        free (sub);
        if (rc == CAB_OK)
            rc = s_product (ctx, out, &part);
        s_dnf_free (&part);
        s_pop (ctx, mark);
        if (rc != CAB_OK)
            return rc;
    }
    return CAB_OK;
}

//  Count UTF-8 characters (code points) of valid UTF-8 text.
static size_t
s_chars (const char *text, size_t length)
{
    size_t count = 0;
    for (size_t i = 0; i < length; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            count++;
    return count;
}

cab_status_t
cabi_compile (const char *text, size_t length, cabi_compiled_t *out, cab_error_t *error)
{
    memset (out, 0, sizeof *out);
    if (!text)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no pattern text");
    cabi_scan_t scan;
    cabi_scan_init (&scan, text, length, CAB_PATTERN_DEPTH_MAX);
    s_node_t root;
    memset (&root, 0, sizeof root);
    cabi_tok_t tok = cabi_scan_next (&scan);
    cab_status_t rc = tok == CABI_TOK_ERROR ? scan.code : s_build (&scan, tok, &root);
    if (rc == CAB_OK && cabi_scan_next (&scan) != CABI_TOK_END)
        rc = scan.code ? scan.code : CAB_ERR_INVALID_JSON;
    if (rc != CAB_OK) {
        if (rc == CAB_ERR_NOMEM)
            cab_error_set (error, rc, NULL, "out of memory parsing a pattern");
        else
            cabi_scan_error (&scan, error, "pattern is not valid JSON");
        cabi_scan_fini (&scan);
        s_node_free (&root);
        return rc;
    }
    cabi_scan_fini (&scan);
    s_ctx_t ctx;
    memset (&ctx, 0, sizeof ctx);
    ctx.out = out;
    ctx.error = error;
    size_t chars = s_chars (text, length);
    s_dnf_t dnf = {NULL, 0};
    if (chars > CAB_PATTERN_SIZE_MAX)
        rc = s_fail (&ctx, "Pattern is %zu characters long, over the limit of %d", chars,
                     CAB_PATTERN_SIZE_MAX);
    else if (root.type != CABI_TOK_OBJECT)
        rc = s_fail (&ctx, "Filter is not an object");
    else
        rc = s_object (&ctx, &root, "", 0, false, &dnf);
    s_node_free (&root);
    if (rc == CAB_OK) {
        out->subs = calloc (dnf.n, sizeof *out->subs);
        if (!out->subs)
            rc = s_nomem (&ctx);
        else {
            for (size_t i = 0; i < dnf.n; i++) {
                out->subs[i].clauses = dnf.v[i].idx;
                out->subs[i].nclauses = dnf.v[i].n;
                dnf.v[i].idx = NULL;
            }
            out->nsubs = dnf.n;
        }
    }
    s_dnf_free (&dnf);
    if (rc != CAB_OK)
        cabi_compiled_free (out);
    return rc;
}

void
cabi_compiled_free (cabi_compiled_t *compiled)
{
    for (size_t i = 0; i < compiled->nclauses; i++) {
        cabi_clause_t *clause = &compiled->clauses[i];
        for (size_t j = 0; j < clause->nmatchers; j++)
            cabi_matcher_free (&clause->matchers[j]);
        free (clause->matchers);
        free (clause->path);
    }
    free (compiled->clauses);
    for (size_t i = 0; i < compiled->nsubs; i++)
        free (compiled->subs[i].clauses);
    free (compiled->subs);
    memset (compiled, 0, sizeof *compiled);
}
