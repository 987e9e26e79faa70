/*  =========================================================================
    cab_pattern - patterns and rule sets: the index and the one-pass matcher

    A rule set freezes into one index. Every field path named by any pattern
    gets an id; a hash map holds every path and every dot-prefix of one, so
    that the event walker descends only into the parts of an event that some
    pattern can see and skips the rest after validating it. Each sub-pattern
    (one $or combination) is a set of clauses; a clause is "field F has a
    value accepted by one of these matchers". Exact values, numbers by value
    and case-folded strings are found with one hash lookup per event value;
    the other operators are kept in a per-field list evaluated once per value
    of that field. A hit counts towards its sub-pattern; a sub-pattern whose
    count reaches its number of clauses is a candidate, verified for
    exists:false and for array consistency (event-ruler's rule: two fields
    matched inside objects that are different elements of one array do not
    combine).
    =========================================================================
*/
#include "cab_pattern_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  A hash map from byte strings to ints (open addressing, linear probing)

typedef struct {
    uint64_t hash;
    char *key;
    size_t len;
    int value;
} s_slot_t;

typedef struct {
    s_slot_t *slots;
    size_t cap;  //  power of two, 0 when empty
    size_t count;
} s_map_t;

static inline uint64_t
s_hash (const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy (&w, key + i, 8);
        h = (h ^ w) * 1099511628211ULL;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

static s_slot_t *
s_map_find (const s_map_t *map, const char *key, size_t len, uint64_t h)
{
    if (!map->cap)
        return NULL;
    size_t mask = map->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        s_slot_t *slot = &map->slots[i];
        if (!slot->hash)
            return NULL;
        if (slot->hash == h && slot->len == len && memcmp (slot->key, key, len) == 0)
            return slot;
    }
}

static bool
s_map_grow (s_map_t *map)
{
    size_t cap = map->cap ? map->cap * 2 : 64;
    s_slot_t *slots = calloc (cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < map->cap; i++) {
        s_slot_t *old = &map->slots[i];
        if (!old->hash)
            continue;
        size_t j = old->hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = *old;
    }
    free (map->slots);
    map->slots = slots;
    map->cap = cap;
    return true;
}

//  Find or insert; returns the slot (value -1 when new), NULL when out of memory.
static s_slot_t *
s_map_put (s_map_t *map, const char *key, size_t len)
{
    uint64_t h = s_hash (key, len);
    s_slot_t *slot = s_map_find (map, key, len, h);
    if (slot)
        return slot;
    if ((map->count + 1) * 2 > map->cap && !s_map_grow (map))
        return NULL;
    char *copy = malloc (len + 1);
    if (!copy)
        return NULL;
    memcpy (copy, key, len);
    copy[len] = 0;
    size_t mask = map->cap - 1;
    size_t i = h & mask;
    while (map->slots[i].hash)
        i = (i + 1) & mask;
    slot = &map->slots[i];
    slot->hash = h;
    slot->key = copy;
    slot->len = len;
    slot->value = -1;
    map->count++;
    return slot;
}

static void
s_map_free (s_map_t *map)
{
    for (size_t i = 0; i < map->cap; i++)
        free (map->slots[i].key);
    free (map->slots);
    memset (map, 0, sizeof *map);
}

//  ---------------------------------------------------------------------
//  Index structures

typedef struct {
    int *v;
    size_t n, cap;
} s_ints_t;

static bool
s_ints_push (s_ints_t *list, int value)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 4;
        int *v = realloc (list->v, cap * sizeof *v);
        if (!v)
            return false;
        list->v = v;
        list->cap = cap;
    }
    list->v[list->n++] = value;
    return true;
}

typedef struct {
    const cabi_matcher_t *matcher;
    int clause;
} s_scan_entry_t;

typedef struct {
    s_scan_entry_t *scans;  //  matchers tested one by one
    size_t nscans, scans_cap;
    s_ints_t exists;  //  clauses satisfied by any value
    bool numeric;     //  some matcher needs the value as a number
    bool fold;        //  some indexed matcher needs the folded string
} s_field_t;

typedef struct {
    int sub;
    int field;
    bool absent_ok;
} s_gclause_t;

typedef struct {
    int rule;
    int first;  //  first gclause
    int nclauses;
    int needed;  //  clauses without exists:false
} s_sub_t;

typedef struct {
    char *id;
    size_t id_len;
    cabi_compiled_t *patterns;  //  every pattern added under this id
    size_t npatterns;
    int rank;  //  position in ascending byte order of ids
} s_rule_t;

typedef struct {
    int occ_node;  //  array-context node of the value
    int next;
} s_hit_t;

typedef struct {
    int array;
    int index;
    int parent;
} s_node_t;

struct _cab_ruleset_t {
    s_rule_t *rules;
    size_t nrules, rules_cap;
    s_map_t ids;  //  id -> rule index
    bool frozen;
    //  The index
    s_map_t paths;  //  field path or dot-prefix -> field id (-1: prefix only)
    s_field_t *fields;
    size_t nfields;
    s_map_t values;  //  [field][tag][bytes] -> posting list
    s_ints_t *postings;
    size_t npostings;
    s_gclause_t *clauses;
    size_t nclauses;
    s_sub_t *subs;
    size_t nsubs;
    s_ints_t always;  //  sub-patterns with no positive clause
    int *by_rank;     //  rank -> rule index
    //  Per-event scratch
    uint32_t gen;
    uint32_t *clause_gen, *sub_gen, *field_gen, *rule_gen;
    int *clause_head, *sub_count;
    s_hit_t *hits;
    size_t nhits, hits_cap;
    s_node_t *nodes;
    size_t nnodes, nodes_cap;
    int narrays;
    s_ints_t candidates;
    s_ints_t matched;
    char *key;   //  lookup key scratch
    char *fold;  //  folded value scratch
    size_t scratch_cap;
    char path[4096];
    long budget;
    cab_status_t walk_code;
};

struct _cab_pattern_t {
    cab_ruleset_t *set;
};

cab_ruleset_t *
cab_ruleset_new (void)
{
    return calloc (1, sizeof (cab_ruleset_t));
}

static void
s_index_free (cab_ruleset_t *self)
{
    s_map_free (&self->paths);
    for (size_t i = 0; i < self->nfields; i++) {
        free (self->fields[i].scans);
        free (self->fields[i].exists.v);
    }
    free (self->fields);
    self->fields = NULL;
    self->nfields = 0;
    s_map_free (&self->values);
    for (size_t i = 0; i < self->npostings; i++)
        free (self->postings[i].v);
    free (self->postings);
    self->postings = NULL;
    self->npostings = 0;
    free (self->clauses);
    self->clauses = NULL;
    self->nclauses = 0;
    free (self->subs);
    self->subs = NULL;
    self->nsubs = 0;
    free (self->always.v);
    memset (&self->always, 0, sizeof self->always);
    free (self->by_rank);
    self->by_rank = NULL;
    free (self->clause_gen);
    free (self->sub_gen);
    free (self->field_gen);
    free (self->rule_gen);
    free (self->clause_head);
    free (self->sub_count);
    self->clause_gen = self->sub_gen = self->field_gen = self->rule_gen = NULL;
    self->clause_head = self->sub_count = NULL;
    self->frozen = false;
}

void
cab_ruleset_destroy (cab_ruleset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_ruleset_t *self = *self_p;
    s_index_free (self);
    for (size_t i = 0; i < self->nrules; i++) {
        for (size_t j = 0; j < self->rules[i].npatterns; j++)
            cabi_compiled_free (&self->rules[i].patterns[j]);
        free (self->rules[i].patterns);
        free (self->rules[i].id);
    }
    free (self->rules);
    s_map_free (&self->ids);
    free (self->hits);
    free (self->nodes);
    free (self->candidates.v);
    free (self->matched.v);
    free (self->key);
    free (self->fold);
    free (self);
    *self_p = NULL;
}

static cab_status_t
s_nomem (cab_error_t *error)
{
    return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
}

cab_status_t
cab_ruleset_add (cab_ruleset_t *self, const char *id, const char *text, size_t length,
                 cab_error_t *error)
{
    if (!self || !id || !text)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no rule set, id or text");
    size_t id_len = strlen (id);
    if (id_len == 0 || id_len > CAB_PATTERN_ID_MAX)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "a rule id must be 1 to %d bytes", CAB_PATTERN_ID_MAX);
    cabi_compiled_t compiled;
    cab_status_t rc = cabi_compile (text, length, &compiled, error);
    if (rc != CAB_OK)
        return rc;
    s_slot_t *slot = s_map_put (&self->ids, id, id_len);
    if (!slot) {
        cabi_compiled_free (&compiled);
        return s_nomem (error);
    }
    if (slot->value < 0) {
        if (self->nrules == self->rules_cap) {
            size_t cap = self->rules_cap ? self->rules_cap * 2 : 16;
            s_rule_t *rules = realloc (self->rules, cap * sizeof *rules);
            if (!rules) {
                cabi_compiled_free (&compiled);
                return s_nomem (error);
            }
            self->rules = rules;
            self->rules_cap = cap;
        }
        s_rule_t *rule = &self->rules[self->nrules];
        memset (rule, 0, sizeof *rule);
        rule->id = malloc (id_len + 1);
        if (!rule->id) {
            cabi_compiled_free (&compiled);
            return s_nomem (error);
        }
        memcpy (rule->id, id, id_len + 1);
        rule->id_len = id_len;
        slot->value = (int)self->nrules++;
    }
    s_rule_t *rule = &self->rules[slot->value];
    cabi_compiled_t *patterns = realloc (rule->patterns, (rule->npatterns + 1) * sizeof *patterns);
    if (!patterns) {
        cabi_compiled_free (&compiled);
        return s_nomem (error);
    }
    rule->patterns = patterns;
    rule->patterns[rule->npatterns++] = compiled;
    s_index_free (self);
    return CAB_OK;
}

cab_status_t
cab_ruleset_add_json (cab_ruleset_t *self, const char *id, const json_t *pattern,
                      cab_error_t *error)
{
    if (!pattern)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no pattern");
    size_t len;
    char *text = cabi_json_text (pattern, &len, error);
    if (!text)
        return CAB_ERR_TOO_LARGE;
    cab_status_t rc = cab_ruleset_add (self, id, text, len, error);
    free (text);
    return rc;
}

size_t
cab_ruleset_size (cab_ruleset_t *self)
{
    return self ? self->nrules : 0;
}

const char *
cab_ruleset_id (cab_ruleset_t *self, size_t index)
{
    return self && index < self->nrules ? self->rules[index].id : NULL;
}

//  ---------------------------------------------------------------------
//  Freezing: build the index

static int
s_field_id (cab_ruleset_t *self, const char *path, size_t len)
{
    s_slot_t *slot = s_map_put (&self->paths, path, len);
    if (!slot)
        return -2;
    if (slot->value >= 0)
        return slot->value;
    s_field_t *fields = realloc (self->fields, (self->nfields + 1) * sizeof *fields);
    if (!fields)
        return -2;
    self->fields = fields;
    memset (&fields[self->nfields], 0, sizeof *fields);
    slot->value = (int)self->nfields++;
    //  Every dot-prefix leads towards it.
    for (size_t i = 0; i < len; i++)
        if (path[i] == '.' && !s_map_put (&self->paths, path, i))
            return -2;
    return slot->value;
}

static bool
s_post (cab_ruleset_t *self, const char *key, size_t len, int clause)
{
    s_slot_t *slot = s_map_put (&self->values, key, len);
    if (!slot)
        return false;
    if (slot->value < 0) {
        s_ints_t *postings = realloc (self->postings, (self->npostings + 1) * sizeof *postings);
        if (!postings)
            return false;
        self->postings = postings;
        memset (&postings[self->npostings], 0, sizeof *postings);
        slot->value = (int)self->npostings++;
    }
    s_ints_t *list = &self->postings[slot->value];
    if (list->n && list->v[list->n - 1] == clause)
        return true;
    return s_ints_push (list, clause);
}

static size_t
s_key (char *key, int field, char tag, const char *bytes, size_t len)
{
    memcpy (key, &field, sizeof field);
    key[sizeof field] = tag;
    memcpy (key + sizeof field + 1, bytes, len);
    return sizeof field + 1 + len;
}

static bool
s_scratch (cab_ruleset_t *self, size_t need)
{
    if (need <= self->scratch_cap)
        return true;
    char *key = realloc (self->key, need);
    if (!key)
        return false;
    self->key = key;
    char *fold = realloc (self->fold, need);
    if (!fold)
        return false;
    self->fold = fold;
    self->scratch_cap = need;
    return true;
}

static bool
s_index_matcher (cab_ruleset_t *self, int fid, const cabi_matcher_t *m, int clause)
{
    s_field_t *field = &self->fields[fid];
    if (!s_scratch (self, m->len + 64))
        return false;
    if (m->kind == CABI_M_EXACT) {
        size_t n = s_key (self->key, fid, m->str[0], m->str + 1, m->len - 1);
        return s_post (self, self->key, n, clause);
    }
    if (m->kind == CABI_M_NUMERIC && m->has_lo && m->has_hi && m->lo == m->hi && !m->lo_open &&
        !m->hi_open) {
        field->numeric = true;
        double d = m->lo;
        size_t n = s_key (self->key, fid, 'd', (const char *)&d, sizeof d);
        return s_post (self, self->key, n, clause);
    }
    if (m->kind == CABI_M_EIC) {
        field->fold = true;
        size_t n = s_key (self->key, fid, 'i', m->str, m->len);
        return s_post (self, self->key, n, clause);
    }
    if (m->kind == CABI_M_EXISTS)
        return s_ints_push (&field->exists, clause);
    if (m->kind == CABI_M_NUMERIC || m->kind == CABI_M_AB_VALUES)
        field->numeric = true;
    if (field->nscans == field->scans_cap) {
        size_t cap = field->scans_cap ? field->scans_cap * 2 : 4;
        s_scan_entry_t *scans = realloc (field->scans, cap * sizeof *scans);
        if (!scans)
            return false;
        field->scans = scans;
        field->scans_cap = cap;
    }
    field->scans[field->nscans].matcher = m;
    field->scans[field->nscans++].clause = clause;
    return true;
}

static const cab_ruleset_t *s_sort_set;

static int
s_by_id (const void *a, const void *b)
{
    const s_rule_t *x = &s_sort_set->rules[*(const int *)a];
    const s_rule_t *y = &s_sort_set->rules[*(const int *)b];
    size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
    int c = memcmp (x->id, y->id, n);
    return c ? c : (x->id_len > y->id_len) - (x->id_len < y->id_len);
}

static cab_status_t
s_freeze (cab_ruleset_t *self, cab_error_t *error)
{
    s_index_free (self);
    //  Ranks in ascending byte order of ids.
    int *order = malloc ((self->nrules + 1) * sizeof *order);
    if (!order)
        return s_nomem (error);
    for (size_t i = 0; i < self->nrules; i++)
        order[i] = (int)i;
    s_sort_set = self;
    qsort (order, self->nrules, sizeof *order, s_by_id);
    for (size_t i = 0; i < self->nrules; i++)
        self->rules[order[i]].rank = (int)i;
    self->by_rank = order;
    //  Count sub-patterns and clauses.
    size_t nsubs = 0, nclauses = 0;
    for (size_t r = 0; r < self->nrules; r++)
        for (size_t p = 0; p < self->rules[r].npatterns; p++) {
            cabi_compiled_t *c = &self->rules[r].patterns[p];
            nsubs += c->nsubs;
            for (size_t s = 0; s < c->nsubs; s++)
                nclauses += c->subs[s].nclauses;
        }
    self->subs = calloc (nsubs + 1, sizeof *self->subs);
    self->clauses = calloc (nclauses + 1, sizeof *self->clauses);
    if (!self->subs || !self->clauses)
        goto nomem;
    for (size_t r = 0; r < self->nrules; r++)
        for (size_t p = 0; p < self->rules[r].npatterns; p++) {
            cabi_compiled_t *c = &self->rules[r].patterns[p];
            for (size_t s = 0; s < c->nsubs; s++) {
                int sid = (int)self->nsubs++;
                s_sub_t *sub = &self->subs[sid];
                sub->rule = (int)r;
                sub->first = (int)self->nclauses;
                sub->nclauses = (int)c->subs[s].nclauses;
                for (size_t k = 0; k < c->subs[s].nclauses; k++) {
                    const cabi_clause_t *cl = &c->clauses[c->subs[s].clauses[k]];
                    int gid = (int)self->nclauses++;
                    int fid = s_field_id (self, cl->path, cl->path_len);
                    if (fid < 0)
                        goto nomem;
                    self->clauses[gid].sub = sid;
                    self->clauses[gid].field = fid;
                    self->clauses[gid].absent_ok = cl->absent_ok;
                    if (!cl->absent_ok)
                        sub->needed++;
                    for (size_t j = 0; j < cl->nmatchers; j++)
                        if (!s_index_matcher (self, fid, &cl->matchers[j], gid))
                            goto nomem;
                }
                if (sub->needed == 0 && !s_ints_push (&self->always, sid))
                    goto nomem;
            }
        }
    self->clause_gen = calloc (self->nclauses + 1, sizeof (uint32_t));
    self->clause_head = calloc (self->nclauses + 1, sizeof (int));
    self->sub_gen = calloc (self->nsubs + 1, sizeof (uint32_t));
    self->sub_count = calloc (self->nsubs + 1, sizeof (int));
    self->field_gen = calloc (self->nfields + 1, sizeof (uint32_t));
    self->rule_gen = calloc (self->nrules + 1, sizeof (uint32_t));
    if (!self->clause_gen || !self->clause_head || !self->sub_gen || !self->sub_count ||
        !self->field_gen || !self->rule_gen)
        goto nomem;
    self->gen = 0;
    self->frozen = true;
    return CAB_OK;
nomem:
    s_index_free (self);
    return s_nomem (error);
}

//  ---------------------------------------------------------------------
//  Matching

static void
s_hit (cab_ruleset_t *self, int clause, int node)
{
    const uint32_t gen = self->gen;
    bool first = false;
    if (self->clause_gen[clause] != gen) {
        self->clause_gen[clause] = gen;
        self->clause_head[clause] = -1;
        first = true;
    } else if (self->hits[self->clause_head[clause]].occ_node == node)
        return;  //  the same value again, through another matcher
    if (self->nhits == self->hits_cap) {
        size_t cap = self->hits_cap ? self->hits_cap * 2 : 256;
        s_hit_t *hits = realloc (self->hits, cap * sizeof *hits);
        if (!hits) {
            self->walk_code = CAB_ERR_NOMEM;
            return;
        }
        self->hits = hits;
        self->hits_cap = cap;
    }
    self->hits[self->nhits].occ_node = node;
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
        s_node_t *nodes = realloc (self->nodes, cap * sizeof *nodes);
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

//  Chain of (array, index) from the root to a node; returns its length.
static int
s_chain (const cab_ruleset_t *self, int node, int *chain)
{
    int n = 0;
    for (; node >= 0 && n < CAB_PATTERN_DEPTH_MAX + 1; node = self->nodes[node].parent)
        chain[n++] = node;
    return n;
}

static bool
s_consistent (const cab_ruleset_t *self, int a, int b)
{
    if (a < 0 || b < 0 || a == b)
        return true;
    int ca[CAB_PATTERN_DEPTH_MAX + 2], cb[CAB_PATTERN_DEPTH_MAX + 2];
    int na = s_chain (self, a, ca), nb = s_chain (self, b, cb);
    //  Walk from the root down while both are in the same arrays.
    for (int i = na - 1, j = nb - 1; i >= 0 && j >= 0; i--, j--) {
        const s_node_t *x = &self->nodes[ca[i]], *y = &self->nodes[cb[j]];
        if (x->array != y->array)
            return true;
        if (x->index != y->index)
            return false;
    }
    return true;
}

static bool
s_search (cab_ruleset_t *self, const int *clauses, int k, int depth, int *chosen)
{
    if (depth == k)
        return true;
    for (int h = self->clause_head[clauses[depth]]; h >= 0; h = self->hits[h].next) {
        if (--self->budget < 0)
            return false;
        int node = self->hits[h].occ_node;
        bool ok = true;
        for (int i = 0; i < depth && ok; i++)
            ok = s_consistent (self, chosen[i], node);
        if (!ok)
            continue;
        chosen[depth] = node;
        if (s_search (self, clauses, k, depth + 1, chosen))
            return true;
    }
    return false;
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
            arrays = self->hits[h].occ_node >= 0;
    }
    if (ok && arrays && k > 1) {
        int chosen_stack[64];
        int *chosen = k <= 64 ? chosen_stack : malloc ((size_t)k * sizeof (int));
        if (!chosen)
            self->walk_code = CAB_ERR_NOMEM;
        self->budget = 1000000;
        ok = chosen && s_search (self, clauses, k, 0, chosen);
        if (self->budget < 0)
            self->walk_code = CAB_ERR_TOO_LARGE;
        if (chosen != chosen_stack)
            free (chosen);
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
        cab_status_t rc = s_freeze (self, error);
        if (rc != CAB_OK)
            return rc;
    }
    if (!s_scratch (self, 2 * length + 64))
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

//  ---------------------------------------------------------------------
//  A single pattern: a rule set of one rule

cab_pattern_t *
cab_pattern_new (const char *text, size_t length, cab_error_t *error)
{
    cab_pattern_t *self = calloc (1, sizeof *self);
    if (!self || !(self->set = cab_ruleset_new ())) {
        free (self);
        s_nomem (error);
        return NULL;
    }
    if (cab_ruleset_add (self->set, "pattern", text, length, error) != CAB_OK) {
        cab_pattern_destroy (&self);
        return NULL;
    }
    return self;
}

cab_pattern_t *
cab_pattern_new_from_json (const json_t *pattern, cab_error_t *error)
{
    if (!pattern) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no pattern");
        return NULL;
    }
    size_t len;
    char *text = cabi_json_text (pattern, &len, error);
    if (!text)
        return NULL;
    cab_pattern_t *self = cab_pattern_new (text, len, error);
    free (text);
    return self;
}

void
cab_pattern_destroy (cab_pattern_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_ruleset_destroy (&(*self_p)->set);
    free (*self_p);
    *self_p = NULL;
}

cab_status_t
cab_pattern_match (cab_pattern_t *self, const char *event, size_t length, bool *matched_p,
                   cab_error_t *error)
{
    if (!self)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no pattern");
    size_t count = 0;
    cab_status_t rc = cab_ruleset_match (self->set, event, length, NULL, 0, &count, error);
    if (rc == CAB_OK && matched_p)
        *matched_p = count > 0;
    return rc;
}

cab_status_t
cab_pattern_match_json (cab_pattern_t *self, const json_t *event, bool *matched_p,
                        cab_error_t *error)
{
    if (!self)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no pattern");
    size_t count = 0;
    cab_status_t rc = cab_ruleset_match_json (self->set, event, NULL, 0, &count, error);
    if (rc == CAB_OK && matched_p)
        *matched_p = count > 0;
    return rc;
}
