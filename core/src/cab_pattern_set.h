/*  =========================================================================
    cab_pattern_set - private: the rule set's index and per-event scratch,
    shared by cab_pattern.c (building) and cab_pattern_match.c (matching)
    =========================================================================
*/
#ifndef CAB_PATTERN_SET_H_INCLUDED
#define CAB_PATTERN_SET_H_INCLUDED

#include "cab_pattern_internal.h"
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

static inline s_slot_t *
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

//  ---------------------------------------------------------------------
//  Index structures

typedef struct {
    int *v;
    size_t n, cap;
} s_ints_t;

static inline bool
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
    cabi_hit_t *hits;
    size_t nhits, hits_cap;
    cabi_node_t *nodes;
    size_t nnodes, nodes_cap;
    int narrays;
    s_ints_t candidates;
    s_ints_t matched;
    char *key;   //  lookup key scratch
    char *fold;  //  folded value scratch
    size_t scratch_cap;
    char path[4096];
    cabi_arrays_t *arrays;
    cab_status_t walk_code;
};

//  A posting-list key: [field][tag][bytes]; returns its length.
static inline size_t
s_key (char *key, int field, char tag, const char *bytes, size_t len)
{
    memcpy (key, &field, sizeof field);
    key[sizeof field] = tag;
    memcpy (key + sizeof field + 1, bytes, len);
    return sizeof field + 1 + len;
}

//  Grow the key and fold scratch buffers to `need` bytes.
bool cabi_ruleset_scratch (cab_ruleset_t *self, size_t need);
//  Build the index from the rules added so far.
cab_status_t cabi_ruleset_freeze (cab_ruleset_t *self, cab_error_t *error);

#endif
