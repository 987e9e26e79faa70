/*  =========================================================================
    cab_pattern_arrays - array consistency for one candidate sub-pattern

    A sub-pattern of k clauses matches when one hit per clause can be chosen
    so that no two chosen hits lie in different elements of one array. The
    elements of an event form a tree (an element holds arrays, an array holds
    elements); a choice is consistent exactly when, in every array, at most
    one element is used. So the answer is a bottom-up pass over the elements
    that hold hits and their ancestors, where each node carries its "family":
    the maximal sets of clauses (bitmasks) it can satisfy on its own.

        element  = {its direct hits} combined (OR) with one set from each of
                   its arrays' families
        array    = union of its elements' families, plus the empty set
                   (use no element of this array)

    Families are kept as antichains (no set is a subset of another), and a
    set that lacks a clause whose hits all lie inside the node is dropped:
    it can never be completed. A clause with a hit outside every array
    combines with anything and is set aside first. The pass is linear in
    the number of nodes with hits times the square of the family size, which
    is at most k in every shape except adversarial ones: with k clauses
    spread over many sibling arrays the problem is as hard as SAT (each array
    a variable, each element a value), so a safety bound remains for those.
    =========================================================================
*/
#include "cab_pattern_internal.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

//  Safety bounds for adversarial patterns (see docs/patterns.md).
#define S_STEPS_MAX (1L << 26)   //  mask comparisons per check
#define S_POOL_MAX  (1UL << 21)  //  mask words per check (16 MB)

struct cabi_arrays_t {
    uint64_t *pool;  //  every family, as runs of w-word masks
    size_t pool_n, pool_cap;
    size_t w;  //  words per mask
    long steps;
    uint32_t gen;
    //  Per node (element)
    uint32_t *nstamp;
    size_t *ndirect;  //  pool offset of its direct-hit mask, or SIZE_MAX
    size_t *nfam;     //  pool offset of its family
    int *nfam_n;
    int *nchild;  //  first array inside it
    int *nnext;   //  next element of the same array
    size_t nodes_cap;
    //  Per array
    uint32_t *astamp;
    int *ahead;      //  first element with a family
    int *asib;       //  next array inside the same element
    int *alo, *ahi;  //  node range covered by its elements
    size_t arrays_cap;
    //  Per remaining clause
    int *cmin, *cmax;
    size_t clauses_cap;
    int *list;  //  nodes to process
    size_t list_cap;
    cab_status_t code;
};

cabi_arrays_t *
cabi_arrays_new (void)
{
    return calloc (1, sizeof (cabi_arrays_t));
}

void
cabi_arrays_destroy (cabi_arrays_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cabi_arrays_t *self = *self_p;
    free (self->pool);
    free (self->nstamp);
    free (self->ndirect);
    free (self->nfam);
    free (self->nfam_n);
    free (self->nchild);
    free (self->nnext);
    free (self->astamp);
    free (self->ahead);
    free (self->asib);
    free (self->alo);
    free (self->ahi);
    free (self->cmin);
    free (self->cmax);
    free (self->list);
    free (self);
    *self_p = NULL;
}

//  Grow *p to hold n items of size bytes; stamps start at zero.
static bool
s_grow (void **p, size_t n, size_t size)
{
    void *q = realloc (*p, n * size);
    if (!q)
        return false;
    *p = q;
    return true;
}

static bool
s_reserve (cabi_arrays_t *self, size_t nnodes, size_t narrays, int k)
{
    if (nnodes > self->nodes_cap) {
        size_t cap = nnodes + nnodes / 2 + 16;
        if (!s_grow ((void **)&self->nstamp, cap, sizeof (uint32_t)) ||
            !s_grow ((void **)&self->ndirect, cap, sizeof (size_t)) ||
            !s_grow ((void **)&self->nfam, cap, sizeof (size_t)) ||
            !s_grow ((void **)&self->nfam_n, cap, sizeof (int)) ||
            !s_grow ((void **)&self->nchild, cap, sizeof (int)) ||
            !s_grow ((void **)&self->nnext, cap, sizeof (int)) ||
            !s_grow ((void **)&self->list, cap, sizeof (int)))
            return false;
        memset (self->nstamp + self->nodes_cap, 0, (cap - self->nodes_cap) * sizeof (uint32_t));
        self->nodes_cap = self->list_cap = cap;
    }
    if (narrays > self->arrays_cap) {
        size_t cap = narrays + narrays / 2 + 16;
        if (!s_grow ((void **)&self->astamp, cap, sizeof (uint32_t)) ||
            !s_grow ((void **)&self->ahead, cap, sizeof (int)) ||
            !s_grow ((void **)&self->asib, cap, sizeof (int)) ||
            !s_grow ((void **)&self->alo, cap, sizeof (int)) ||
            !s_grow ((void **)&self->ahi, cap, sizeof (int)))
            return false;
        memset (self->astamp + self->arrays_cap, 0, (cap - self->arrays_cap) * sizeof (uint32_t));
        self->arrays_cap = cap;
    }
    if ((size_t)k > self->clauses_cap) {
        size_t cap = (size_t)k + 16;
        if (!s_grow ((void **)&self->cmin, cap, sizeof (int)) ||
            !s_grow ((void **)&self->cmax, cap, sizeof (int)))
            return false;
        self->clauses_cap = cap;
    }
    return true;
}

//  Room for one more mask at the top of the pool; returns its offset.
static bool
s_push (cabi_arrays_t *self, size_t *at_p)
{
    if (self->pool_n + self->w > self->pool_cap) {
        if (self->pool_n + self->w > S_POOL_MAX) {
            self->code = CAB_ERR_TOO_LARGE;
            return false;
        }
        size_t cap = self->pool_cap ? self->pool_cap * 2 : 1024;
        while (cap < self->pool_n + self->w)
            cap *= 2;
        if (!s_grow ((void **)&self->pool, cap, sizeof (uint64_t))) {
            self->code = CAB_ERR_NOMEM;
            return false;
        }
        self->pool_cap = cap;
    }
    *at_p = self->pool_n;
    self->pool_n += self->w;
    return true;
}

static inline bool
s_subset (const uint64_t *a, const uint64_t *b, size_t w)
{
    for (size_t i = 0; i < w; i++)
        if (a[i] & ~b[i])
            return false;
    return true;
}

//  The candidate mask sits at the top of the pool, just after the block
//  [start, start + n masks). Keep it only if no mask of the block contains
//  it, and drop the masks it contains. Updates *n_p; false on a bound.
static bool
s_keep_top (cabi_arrays_t *self, size_t start, int *n_p)
{
    size_t w = self->w;
    int n = *n_p;
    uint64_t *block = self->pool + start;
    uint64_t *m = block + (size_t)n * w;
    self->steps -= n + 1;
    if (self->steps < 0) {
        self->code = CAB_ERR_TOO_LARGE;
        return false;
    }
    for (int i = 0; i < n; i++)
        if (s_subset (m, block + (size_t)i * w, w)) {
            self->pool_n -= w;  //  drop the candidate
            return true;
        }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        uint64_t *x = block + (size_t)i * w;
        if (s_subset (x, m, w))
            continue;
        if (kept != i)
            memmove (block + (size_t)kept * w, x, w * sizeof *x);
        kept++;
    }
    if (kept != n)
        memmove (block + (size_t)kept * w, m, w * sizeof *m);
    *n_p = kept + 1;
    self->pool_n = start + (size_t)(kept + 1) * w;
    return true;
}

//  Clauses whose every hit lies in nodes lo..hi, into mask (w words).
static void
s_local (const cabi_arrays_t *self, int kk, int lo, int hi, uint64_t *mask)
{
    memset (mask, 0, self->w * sizeof *mask);
    for (int j = 0; j < kk; j++)
        if (self->cmin[j] >= lo && self->cmax[j] <= hi)
            mask[j / 64] |= 1ULL << (j % 64);
}

//  The family of array a, as a new block at the top; *n_p masks.
static bool
s_array_family (cabi_arrays_t *self, int kk, int a, size_t *start_p, int *n_p)
{
    size_t w = self->w;
    uint64_t local[4];
    uint64_t *need = w <= 4 ? local : calloc (w, sizeof *need);
    if (!need) {
        self->code = CAB_ERR_NOMEM;
        return false;
    }
    s_local (self, kk, self->alo[a], self->ahi[a], need);
    bool empty_ok = true;
    for (size_t i = 0; i < w; i++)
        empty_ok = empty_ok && !need[i];
    size_t start = self->pool_n, at;
    int n = 0;
    bool ok = true;
    if (empty_ok) {
        ok = s_push (self, &at);
        if (ok) {
            memset (self->pool + at, 0, w * sizeof (uint64_t));
            n = 1;
        }
    }
    for (int e = self->ahead[a]; e >= 0 && ok; e = self->nnext[e])
        for (int i = 0; i < self->nfam_n[e] && ok; i++) {
            if (!s_subset (need, self->pool + self->nfam[e] + (size_t)i * w, w))
                continue;
            ok = s_push (self, &at);
            if (ok) {
                memcpy (self->pool + at, self->pool + self->nfam[e] + (size_t)i * w,
                        w * sizeof (uint64_t));
                ok = s_keep_top (self, start, &n);
            }
        }
    if (need != local)
        free (need);
    *start_p = start;
    *n_p = n;
    return ok;
}

//  The family of an element (node -1: the event itself), as a new block;
//  sets *full when some mask has every clause.
static bool
s_element (cabi_arrays_t *self, int kk, int node, int end, int child, size_t direct,
           size_t *start_p, int *n_p, bool *full)
{
    size_t w = self->w;
    size_t start, at;
    if (!s_push (self, &at))
        return false;
    start = at;
    if (direct == SIZE_MAX)
        memset (self->pool + at, 0, w * sizeof (uint64_t));
    else
        memcpy (self->pool + at, self->pool + direct, w * sizeof (uint64_t));
    int n = 1;
    for (int a = child; a >= 0 && n > 0; a = self->asib[a]) {
        size_t fa;
        int na;
        if (!s_array_family (self, kk, a, &fa, &na))
            return false;
        size_t product = self->pool_n;
        int np = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < na; j++) {
                if (!s_push (self, &at))
                    return false;
                const uint64_t *x = self->pool + start + (size_t)i * w;
                const uint64_t *y = self->pool + fa + (size_t)j * w;
                for (size_t q = 0; q < w; q++)
                    self->pool[at + q] = x[q] | y[q];
                if (!s_keep_top (self, product, &np))
                    return false;
            }
        start = product;
        n = np;
    }
    //  Drop the sets that miss a clause living only inside this node, and
    //  look for a complete one.
    uint64_t local[4];
    uint64_t *need = w <= 4 ? local : calloc (w, sizeof *need);
    if (!need) {
        self->code = CAB_ERR_NOMEM;
        return false;
    }
    if (node >= 0)
        s_local (self, kk, node, end, need);
    else
        memset (need, 0, w * sizeof *need);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        uint64_t *x = self->pool + start + (size_t)i * w;
        if (!s_subset (need, x, w))
            continue;
        int bits = 0;
        for (size_t q = 0; q < w; q++)
            bits += __builtin_popcountll (x[q]);
        if (bits == kk)
            *full = true;
        if (kept != i)
            memmove (self->pool + start + (size_t)kept * w, x, w * sizeof *x);
        kept++;
    }
    if (need != local)
        free (need);
    *start_p = start;
    *n_p = kept;
    return true;
}

static int
s_descending (const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

cab_status_t
cabi_arrays_check (cabi_arrays_t *self, const cabi_node_t *nodes, size_t nnodes, size_t narrays,
                   const cabi_hit_t *hits, const int *heads, int k, bool *ok_p)
{
    *ok_p = false;
    if (!s_reserve (self, nnodes, narrays, k))
        return CAB_ERR_NOMEM;
    if (++self->gen == 0) {
        memset (self->nstamp, 0, self->nodes_cap * sizeof (uint32_t));
        memset (self->astamp, 0, self->arrays_cap * sizeof (uint32_t));
        self->gen = 1;
    }
    const uint32_t gen = self->gen;
    self->code = CAB_OK;
    self->steps = S_STEPS_MAX;
    self->pool_n = 0;
    //  Clauses with a hit outside every array combine with anything.
    int kk = 0;
    for (int c = 0; c < k; c++) {
        if (heads[c] < 0)
            return CAB_OK;
        int lo = INT_MAX, hi = -1;
        for (int h = heads[c]; h >= 0 && hi >= -1; h = hits[h].next) {
            int x = hits[h].node;
            if (x < 0)
                hi = -2;
            else {
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
        }
        if (hi < 0)
            continue;
        self->cmin[kk] = lo;
        self->cmax[kk] = hi;
        kk++;
    }
    if (kk <= 1) {
        *ok_p = true;
        return CAB_OK;
    }
    self->w = ((size_t)kk + 63) / 64;
    //  Mark the elements with hits and their ancestors; set direct bits.
    size_t nlist = 0;
    int j = 0;
    for (int c = 0; c < k; c++) {
        bool root = false;
        for (int h = heads[c]; h >= 0; h = hits[h].next)
            root = root || hits[h].node < 0;
        if (root)
            continue;
        for (int h = heads[c]; h >= 0; h = hits[h].next) {
            int x0 = hits[h].node;
            for (int x = x0; x >= 0 && self->nstamp[x] != gen; x = nodes[x].parent) {
                self->nstamp[x] = gen;
                self->ndirect[x] = SIZE_MAX;
                self->nchild[x] = -1;
                self->list[nlist++] = x;
            }
            if (self->ndirect[x0] == SIZE_MAX) {
                size_t at;
                if (!s_push (self, &at))
                    return self->code;
                memset (self->pool + at, 0, self->w * sizeof (uint64_t));
                self->ndirect[x0] = at;
            }
            self->pool[self->ndirect[x0] + (size_t)j / 64] |= 1ULL << (j % 64);
        }
        j++;
    }
    //  Children before parents: document order, backwards.
    qsort (self->list, nlist, sizeof (int), s_descending);
    int root_child = -1;
    bool full = false;
    for (size_t i = 0; i < nlist && !full; i++) {
        int x = self->list[i];
        size_t at;
        int n;
        if (!s_element (self, kk, x, nodes[x].end, self->nchild[x], self->ndirect[x], &at, &n,
                        &full))
            return self->code;
        self->nfam[x] = at;
        self->nfam_n[x] = n;
        int a = nodes[x].array, p = nodes[x].parent;
        if (self->astamp[a] != gen) {
            self->astamp[a] = gen;
            self->ahead[a] = -1;
            self->alo[a] = x;
            self->ahi[a] = nodes[x].end;
            int *head = p >= 0 ? &self->nchild[p] : &root_child;
            self->asib[a] = *head;
            *head = a;
        }
        self->nnext[x] = self->ahead[a];
        self->ahead[a] = x;
        if (x < self->alo[a])
            self->alo[a] = x;
        if (nodes[x].end > self->ahi[a])
            self->ahi[a] = nodes[x].end;
    }
    if (!full) {
        size_t at;
        int n;
        if (!s_element (self, kk, -1, -1, root_child, SIZE_MAX, &at, &n, &full))
            return self->code;
    }
    *ok_p = full;
    return CAB_OK;
}
