/*  =========================================================================
    cab_pattern_match - the one-pass matcher: walk the event text once,
    descending only into watched paths; count hits per sub-pattern; verify
    the candidates (exists:false, array consistency) and list the rules
    =========================================================================
*/
#include "cab_pattern_set.h"

static cab_status_t
s_nomem (cab_error_t *error)
{
    return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
}

static void
s_hit (cab_ruleset_t *self, int clause, int node)
{
    const uint32_t gen = self->gen;
    bool first = self->clause_gen[clause] != gen;
    if (!first && self->hits[self->clause_head[clause]].node == node)
        return;  //  the same value again, through another matcher
    //  Grow before marking the clause: a clause marked has a hit.
    if (self->nhits == self->hits_cap) {
        size_t cap = self->hits_cap ? self->hits_cap * 2 : 256;
        cabi_hit_t *hits = realloc (self->hits, cap * sizeof *hits);
        if (!hits) {
            self->walk_code = CAB_ERR_NOMEM;
            return;
        }
        self->hits = hits;
        self->hits_cap = cap;
    }
    if (first) {
        self->clause_gen[clause] = gen;
        self->clause_head[clause] = -1;
    }
    self->hits[self->nhits].node = node;
    self->hits[self->nhits].next = self->clause_head[clause];
    self->clause_head[clause] = (int)self->nhits++;
    if (!first)
        return;
    const s_gclause_t *gc = &self->clauses[clause];
    if (gc->absent_ok)
        return;
    int sub = gc->sub;
    if (self->sub_gen[sub] != gen) {
        self->sub_gen[sub] = gen;
        self->sub_count[sub] = 0;
    }
    if (++self->sub_count[sub] == self->subs[sub].needed && !s_ints_push (&self->candidates, sub))
        self->walk_code = CAB_ERR_NOMEM;
}

static void
s_post_hits (cab_ruleset_t *self, const char *key, size_t len, int node)
{
    s_slot_t *slot = s_map_find (&self->values, key, len, s_hash (key, len));
    if (!slot)
        return;
    const s_ints_t *list = &self->postings[slot->value];
    for (size_t i = 0; i < list->n; i++)
        s_hit (self, list->v[i], node);
}

static void
s_value (cab_ruleset_t *self, int fid, cabi_tok_t tok, const char *str, size_t len, int node)
{
    s_field_t *field = &self->fields[fid];
    self->field_gen[fid] = self->gen;
    cabi_value_t value;
    memset (&value, 0, sizeof value);
    value.type = CABI_V_STRING;
    value.str = str;
    value.len = len;
    char tag = 's';
    switch (tok) {
        case CABI_TOK_NUMBER:
            value.type = CABI_V_NUMBER;
            tag = 'n';
            break;
        case CABI_TOK_TRUE:
            value.type = CABI_V_TRUE;
            tag = 't';
            value.len = 0;
            break;
        case CABI_TOK_FALSE:
            value.type = CABI_V_FALSE;
            tag = 'f';
            value.len = 0;
            break;
        case CABI_TOK_NULL:
            value.type = CABI_V_NULL;
            tag = 'z';
            value.len = 0;
            break;
        default:
            break;
    }
    size_t n = s_key (self->key, fid, tag, value.str, value.len);
    s_post_hits (self, self->key, n, node);
    if (value.type == CABI_V_NUMBER && field->numeric) {
        value.numeric = cabi_number_comparable (str, len, &value.num);
        if (value.numeric) {
            n = s_key (self->key, fid, 'd', (const char *)&value.num, sizeof value.num);
            s_post_hits (self, self->key, n, node);
        }
    }
    if (value.type == CABI_V_STRING && field->fold) {
        value.folded_len = cabi_fold (str, len, self->fold);
        value.folded = self->fold;
        n = s_key (self->key, fid, 'i', value.folded, value.folded_len);
        s_post_hits (self, self->key, n, node);
    }
    for (size_t i = 0; i < field->nscans; i++)
        if (cabi_matcher_accepts (field->scans[i].matcher, &value, self->fold))
            s_hit (self, field->scans[i].clause, node);
    for (size_t i = 0; i < field->exists.n; i++)
        s_hit (self, field->exists.v[i], node);
}

static int
s_new_node (cab_ruleset_t *self, int array, int index, int parent)
{
    if (self->nnodes == self->nodes_cap) {
        size_t cap = self->nodes_cap ? self->nodes_cap * 2 : 64;
        cabi_node_t *nodes = realloc (self->nodes, cap * sizeof *nodes);
        if (!nodes) {
            self->walk_code = CAB_ERR_NOMEM;
            return -1;
        }
        self->nodes = nodes;
        self->nodes_cap = cap;
    }
    self->nodes[self->nnodes].array = array;
    self->nodes[self->nnodes].index = index;
    self->nodes[self->nnodes].parent = parent;
    self->nodes[self->nnodes].end = (int)self->nnodes;
    return (int)self->nnodes++;
}

static bool s_walk (cab_ruleset_t *self, cabi_scan_t *scan, cabi_tok_t tok, size_t path_len,
                    int fid, int node);

static bool
s_walk_array (cab_ruleset_t *self, cabi_scan_t *scan, size_t path_len, int fid, int node)
{
    int array = self->narrays++;
    for (int index = 0;; index++) {
        cabi_tok_t tok = cabi_scan_next (scan);
        if (tok == CABI_TOK_ARRAY_END)
            return true;
        if (tok == CABI_TOK_ERROR)
            return false;
        int child = s_new_node (self, array, index, node);
        if (child < 0)
            return false;
        if (!s_walk (self, scan, tok, path_len, fid, child))
            return false;
        self->nodes[child].end = (int)self->nnodes - 1;
    }
}

static bool
s_walk_object (cab_ruleset_t *self, cabi_scan_t *scan, size_t path_len, int node)
{
    while (true) {
        cabi_tok_t tok = cabi_scan_next (scan);
        if (tok == CABI_TOK_OBJECT_END)
            return true;
        if (tok != CABI_TOK_KEY)
            return false;
        size_t len = path_len + (path_len ? 1 : 0) + scan->len;
        s_slot_t *slot = NULL;
        if (len < sizeof self->path) {
            if (path_len)
                self->path[path_len] = '.';
            memcpy (self->path + len - scan->len, scan->str, scan->len);
            slot = s_map_find (&self->paths, self->path, len, s_hash (self->path, len));
        }
        tok = cabi_scan_next (scan);
        if (!slot) {
            if (!cabi_scan_skip (scan, tok))
                return false;
            continue;
        }
        if (!s_walk (self, scan, tok, len, slot->value, node))
            return false;
    }
}

static bool
s_walk (cab_ruleset_t *self, cabi_scan_t *scan, cabi_tok_t tok, size_t path_len, int fid, int node)
{
    if (self->walk_code != CAB_OK)
        return false;
    switch (tok) {
        case CABI_TOK_OBJECT:
            return s_walk_object (self, scan, path_len, node);
        case CABI_TOK_ARRAY:
            return s_walk_array (self, scan, path_len, fid, node);
        case CABI_TOK_ERROR:
            return false;
        default:
            if (fid >= 0)
                s_value (self, fid, tok, scan->str, scan->len, node);
            return self->walk_code == CAB_OK;
    }
}

static bool
s_verify (cab_ruleset_t *self, int sid)
{
    const s_sub_t *sub = &self->subs[sid];
    int stack_clauses[64];
    int *clauses = sub->nclauses <= 64 ? stack_clauses : malloc (sub->nclauses * sizeof (int));
    if (!clauses) {
        self->walk_code = CAB_ERR_NOMEM;
        return false;
    }
    int k = 0;
    bool arrays = false;
    bool ok = true;
    for (int i = 0; i < sub->nclauses && ok; i++) {
        int c = sub->first + i;
        const s_gclause_t *gc = &self->clauses[c];
        bool hit = self->clause_gen[c] == self->gen;
        if (gc->absent_ok && self->field_gen[gc->field] != self->gen)
            continue;  //  satisfied by absence
        if (!hit) {
            ok = false;
            break;
        }
        clauses[k++] = c;
        for (int h = self->clause_head[c]; h >= 0 && !arrays; h = self->hits[h].next)
            arrays = self->hits[h].node >= 0;
    }
    if (ok && arrays && k > 1) {
        if (!self->arrays && !(self->arrays = cabi_arrays_new ()))
            self->walk_code = CAB_ERR_NOMEM;
        else {
            for (int i = 0; i < k; i++)
                clauses[i] = self->clause_head[clauses[i]];
            cab_status_t rc =
                cabi_arrays_check (self->arrays, self->nodes, self->nnodes, (size_t)self->narrays,
                                   self->hits, clauses, k, &ok);
            if (rc != CAB_OK)
                self->walk_code = rc;
        }
    }
    if (clauses != stack_clauses)
        free (clauses);
    return ok;
}

static void
s_accept (cab_ruleset_t *self, int sid)
{
    int rule = self->subs[sid].rule;
    if (self->rule_gen[rule] == self->gen)
        return;
    if (!s_verify (self, sid))
        return;
    self->rule_gen[rule] = self->gen;
    if (!s_ints_push (&self->matched, self->rules[rule].rank))
        self->walk_code = CAB_ERR_NOMEM;
}

static int
s_int_cmp (const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

cab_status_t
cab_ruleset_match (cab_ruleset_t *self, const char *event, size_t length, size_t *matches,
                   size_t capacity, size_t *count_p, cab_error_t *error)
{
    if (!self || !event)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no rule set or event");
    if (length > CAB_PATTERN_EVENT_MAX)
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL,
                              "event is %zu bytes, over the limit of %d", length,
                              CAB_PATTERN_EVENT_MAX);
    if (!self->frozen) {
        cab_status_t rc = cabi_ruleset_freeze (self, error);
        if (rc != CAB_OK)
            return rc;
    }
    if (!cabi_ruleset_scratch (self, 2 * length + 64))
        return s_nomem (error);
    if (++self->gen == 0) {
        //  Wrapped: forget every stamp.
        memset (self->clause_gen, 0, (self->nclauses + 1) * sizeof (uint32_t));
        memset (self->sub_gen, 0, (self->nsubs + 1) * sizeof (uint32_t));
        memset (self->field_gen, 0, (self->nfields + 1) * sizeof (uint32_t));
        memset (self->rule_gen, 0, (self->nrules + 1) * sizeof (uint32_t));
        self->gen = 1;
    }
    self->nhits = self->nnodes = 0;
    self->narrays = 0;
    self->candidates.n = self->matched.n = 0;
    self->walk_code = CAB_OK;
    cabi_scan_t scan;
    cabi_scan_init (&scan, event, length, CAB_PATTERN_DEPTH_MAX);
    cabi_tok_t tok = cabi_scan_next (&scan);
    //  Only an object has fields; any other event is valid but has none.
    bool ok =
        tok == CABI_TOK_OBJECT ? s_walk (self, &scan, tok, 0, -1, -1) : cabi_scan_skip (&scan, tok);
    if (ok && cabi_scan_next (&scan) != CABI_TOK_END)
        ok = false;
    if (!ok && self->walk_code == CAB_OK) {
        cab_status_t rc = cabi_scan_error (&scan, error, "event is not valid JSON");
        cabi_scan_fini (&scan);
        return rc;
    }
    cabi_scan_fini (&scan);
    for (size_t i = 0; i < self->candidates.n && self->walk_code == CAB_OK; i++)
        s_accept (self, self->candidates.v[i]);
    for (size_t i = 0; i < self->always.n && self->walk_code == CAB_OK; i++)
        s_accept (self, self->always.v[i]);
    if (self->walk_code != CAB_OK)
        return self->walk_code == CAB_ERR_NOMEM
                   ? s_nomem (error)
                   : cab_error_set (error, self->walk_code, NULL,
                                    "event too complex for array-consistent matching");
    //  Ranks back to rule indexes, in id order.
    if (self->matched.n > 1)
        qsort (self->matched.v, self->matched.n, sizeof (int), s_int_cmp);
    for (size_t i = 0; matches && i < self->matched.n && i < capacity; i++)
        matches[i] = (size_t)self->by_rank[self->matched.v[i]];
    if (count_p)
        *count_p = self->matched.n;
    return CAB_OK;
}

cab_status_t
cab_ruleset_match_json (cab_ruleset_t *self, const json_t *event, size_t *matches, size_t capacity,
                        size_t *count_p, cab_error_t *error)
{
    if (!event)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no event");
    size_t len;
    char *text = cabi_json_text (event, &len, error);
    if (!text)
        return CAB_ERR_TOO_LARGE;
    cab_status_t rc = cab_ruleset_match (self, text, len, matches, capacity, count_p, error);
    free (text);
    return rc;
}
