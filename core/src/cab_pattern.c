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
#include "cab_pattern_set.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  The hash map: growing and freeing (lookups are in cab_pattern_set.h)

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
    cabi_arrays_destroy (&self->arrays);
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
    int id = (int)self->nfields++;
    slot->value = id;
    //  Every dot-prefix leads towards it. (Putting them may grow the map:
    //  slot is not valid after this loop.)
    for (size_t i = 0; i < len; i++)
        if (path[i] == '.' && !s_map_put (&self->paths, path, i))
            return -2;
    return id;
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

bool
cabi_ruleset_scratch (cab_ruleset_t *self, size_t need)
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
    if (!cabi_ruleset_scratch (self, m->len + 64))
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

cab_status_t
cabi_ruleset_freeze (cab_ruleset_t *self, cab_error_t *error)
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
