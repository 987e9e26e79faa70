/*  =========================================================================
    cab_schema_simple - the common schema patterns matched without PCRE2

    Most "pattern" keywords in event schemas are a "^", a sequence of ASCII
    literals and character classes with counts, and perhaps a "$": an id, a
    name, a version, a UUID. Such a pattern compiles here into atoms (a set
    of ASCII bytes, a minimum and a maximum count) matched in one pass over
    the subject, each atom taking as many bytes as it may. That greedy pass
    is exact when no atom with a variable count shares a byte with an atom
    that may follow it (the next ones up to the first that must match at
    least once): the byte after the run could not then belong to anything
    else, so every match ends the run where the pass does.

    Accepted (ECMA-262 with the meaning cab_schema_regex.c gives it):
      "^" (ATOM | GROUP)* "$"?      the "^" first; a "$" only last
      ATOM   = (LITERAL | "\" PUNCT | "\d" | "\w" | CLASS) QUANT?
      GROUP  = "(" "?:"? ATOM+ ")?"  optional, its first atom taking one
               byte at least, which decides whether it is there: nothing
               that may follow the group takes that byte, and the pattern
               ends with "$" (else a shorter prefix could match without it)
      CLASS  = "[" (ITEM | ITEM "-" ITEM | "\d" | "\w")+ "]", not negated
      QUANT  = "*" | "+" | "?" | "{n}" | "{n,}" | "{n,m}" (n, m <= 65535),
               greedy (a lazy or possessive mark is not accepted)
    with every literal and item a printable ASCII byte. Anything else
    (other groups, alternation, ".", negated classes, \s \b \u..., non-ASCII
    bytes, a pattern that fails the condition above) is left to PCRE2, which
    compiles every pattern anyway (its errors are the schema's).

    Same answers as PCRE2 with PCRE2_UTF: a byte >= 0x80 is in no set, so a
    multibyte character fails an atom as its code point fails the ASCII
    class; a subject that is not UTF-8 matches nothing (PCRE2 refuses it),
    which only needs a check where the pattern ends without "$" (elsewhere
    a match consumes ASCII bytes only). tests/fuzz/fuzz_schema_regex.c
    compares the two.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include "cab_jsonscan.h"
#include <string.h>

#define S_ATOMS_MAX 32
#define S_COUNT_MAX 65535

typedef struct {
    uint64_t set[2];  //  ASCII bytes the atom takes (a group: its first atom's)
    uint32_t min, max;
    uint32_t group;  //  > 0: an optional group of the next `group` atoms
} s_atom_t;

struct cabi_simple_s {
    size_t count;
    bool anchored;  //  ends with "$"
    s_atom_t atoms[];
};

static void
s_add (s_atom_t *atom, unsigned char lo, unsigned char hi)
{
    for (unsigned c = lo; c <= hi; c++)
        atom->set[c >> 6] |= (uint64_t)1 << (c & 63);
}

static bool
s_has (const s_atom_t *atom, unsigned char c)
{
    return c < 128 && (atom->set[c >> 6] >> (c & 63)) & 1;
}

static bool
s_printable (char c)
{
    return c >= 0x20 && c <= 0x7e;
}

//  ASCII punctuation: what "\" may escape to mean itself.
static bool
s_punct (char c)
{
    return s_printable (c) && !(c >= '0' && c <= '9') && !(c >= 'A' && c <= 'Z') &&
           !(c >= 'a' && c <= 'z') && c != ' ';
}

//  \d or \w into atom; false for any other letter.
static bool
s_shorthand (s_atom_t *atom, char c)
{
    if (c == 'd')
        s_add (atom, '0', '9');
    else if (c == 'w') {
        s_add (atom, '0', '9');
        s_add (atom, 'A', 'Z');
        s_add (atom, 'a', 'z');
        s_add (atom, '_', '_');
    } else
        return false;
    return true;
}

//  One class item at *at (before end): a byte in *c, or a shorthand added
//  to atom (*c = -1). False when not accepted.
static bool
s_item (const char **at, const char *end, s_atom_t *atom, int *c)
{
    const char *p = *at;
    if (*p == '\\') {
        if (++p == end)
            return false;
        if (s_shorthand (atom, *p))
            *c = -1;
        else if (s_punct (*p))
            *c = (unsigned char)*p;
        else
            return false;
    } else if (s_printable (*p) && *p != '[' && *p != ']')
        *c = (unsigned char)*p;
    else
        return false;
    *at = p + 1;
    return true;
}

//  A class after its "[" (at), up to and past its "]".
static bool
s_class (const char **at, const char *end, s_atom_t *atom)
{
    const char *p = *at;
    if (p == end || *p == '^' || *p == ']')
        return false;
    while (p < end && *p != ']') {
        int lo, hi;
        if (!s_item (&p, end, atom, &lo))
            return false;
        if (lo >= 0 && p + 1 < end && *p == '-' && p[1] != ']') {
            p++;
            if (!s_item (&p, end, atom, &hi) || hi < lo)
                return false;
            s_add (atom, (unsigned char)lo, (unsigned char)hi);
        } else if (lo >= 0)
            s_add (atom, (unsigned char)lo, (unsigned char)lo);
    }
    if (p == end)
        return false;
    *at = p + 1;
    return true;
}

//  A decimal count at *at; false when absent or past S_COUNT_MAX.
static bool
s_number (const char **at, const char *end, uint32_t *value)
{
    const char *p = *at;
    uint32_t n = 0;
    if (p == end || *p < '0' || *p > '9')
        return false;
    while (p < end && *p >= '0' && *p <= '9') {
        n = n * 10 + (uint32_t)(*p++ - '0');
        if (n > S_COUNT_MAX)
            return false;
    }
    *value = n;
    *at = p;
    return true;
}

//  The quantifier at *at, if any, into atom (1 and 1 without one).
static bool
s_quantifier (const char **at, const char *end, s_atom_t *atom)
{
    const char *p = *at;
    atom->min = atom->max = 1;
    if (p == end)
        return true;
    if (*p == '*' || *p == '+' || *p == '?') {
        atom->min = *p == '+' ? 1 : 0;
        atom->max = *p == '?' ? 1 : UINT32_MAX;
        p++;
    } else if (*p == '{') {
        p++;
        if (!s_number (&p, end, &atom->min))
            return false;
        atom->max = atom->min;
        if (p < end && *p == ',') {
            p++;
            atom->max = UINT32_MAX;
            if (p < end && *p != '}' && (!s_number (&p, end, &atom->max) || atom->max < atom->min))
                return false;
        }
        if (p == end || *p != '}')
            return false;
        p++;
    } else
        return true;
    if (p < end && (*p == '?' || *p == '+'))
        return false;  //  lazy or possessive
    *at = p;
    return true;
}

//  One atom at *at.
static bool
s_atom (const char **at, const char *end, s_atom_t *atom)
{
    const char *p = *at;
    memset (atom, 0, sizeof *atom);
    if (*p == '[') {
        p++;
        if (!s_class (&p, end, atom))
            return false;
    } else if (*p == '\\') {
        int c;  //  an escape is read as in a class
        if (!s_item (&p, end, atom, &c))
            return false;
        if (c >= 0)
            s_add (atom, (unsigned char)c, (unsigned char)c);
    } else if (s_printable (*p) && !strchr ("^$.|?*+()[]{}", *p)) {
        s_add (atom, (unsigned char)*p, (unsigned char)*p);
        p++;
    } else
        return false;
    if (!s_quantifier (&p, end, atom))
        return false;
    *at = p;
    return true;
}

//  An optional group after its "(" (at): "?:" perhaps, atoms, ")?". Its
//  atoms go to atoms[1..], the group itself to atoms[0]; *count_p is the
//  room there, then the atoms used.
static bool
s_group (const char **at, const char *end, s_atom_t *atoms, size_t *count_p)
{
    const char *p = *at;
    if (end - p >= 2 && p[0] == '?' && p[1] == ':')
        p += 2;
    size_t inner = 0;
    while (p < end && *p != ')') {
        if (*p == '(' || *p == '|' || 1 + inner == *count_p)
            return false;
        if (!s_atom (&p, end, &atoms[1 + inner]))
            return false;
        inner++;
    }
    //  Entered on its first byte: that atom must take at least one.
    if (p == end || inner == 0 || atoms[1].min == 0 || end - p < 2 || p[1] != '?')
        return false;
    p += 2;
    if (p < end && (*p == '?' || *p == '+'))
        return false;
    memset (&atoms[0], 0, sizeof atoms[0]);
    memcpy (atoms[0].set, atoms[1].set, sizeof atoms[0].set);
    atoms[0].max = 1;
    atoms[0].group = (uint32_t)inner;
    *count_p = 1 + inner;
    *at = p;
    return true;
}

//  Nothing from atoms[from] on that may come next shares a byte with set
//  (an optional group offers its first atom's bytes, then is passed).
static bool
s_disjoint (const s_atom_t *atoms, size_t count, size_t from, const uint64_t set[2])
{
    for (size_t next = from; next < count; next++) {
        if ((set[0] & atoms[next].set[0]) || (set[1] & atoms[next].set[1]))
            return false;
        if (atoms[next].group)
            next += atoms[next].group;
        else if (atoms[next].min > 0)
            break;
    }
    return true;
}

//  The greedy pass is exact: no variable atom shares a byte with what may
//  follow it, and the first byte of an optional group decides whether it
//  is there.
static bool
s_greedy_exact (const s_atom_t *atoms, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        if (atoms[index].group) {
            if (!s_disjoint (atoms, count, index + 1 + atoms[index].group, atoms[index].set))
                return false;
        } else if (atoms[index].min != atoms[index].max &&
                   !s_disjoint (atoms, count, index + 1, atoms[index].set))
            return false;
    }
    return true;
}

cabi_simple_t *
cabi_schema_simple_compile (cabi_arena_t *arena, const char *source, size_t length)
{
    const char *p = source, *end = source + length;
    if (p == end || *p != '^')
        return NULL;
    p++;
    s_atom_t atoms[S_ATOMS_MAX];
    size_t count = 0;
    bool anchored = false;
    while (p < end) {
        if (*p == '$') {
            if (p + 1 != end)
                return NULL;
            anchored = true;
            break;
        }
        if (count == S_ATOMS_MAX)
            return NULL;
        if (*p == '(') {
            size_t used = S_ATOMS_MAX - count;
            p++;
            if (!s_group (&p, end, &atoms[count], &used))
                return NULL;
            count += used;
            continue;
        }
        if (!s_atom (&p, end, &atoms[count]))
            return NULL;
        count++;
    }
    //  Without "$" a group that is entered and fails may still be skipped
    //  by a match of a shorter prefix: not one pass.
    for (size_t index = 0; !anchored && index < count; index++)
        if (atoms[index].group)
            return NULL;
    if (!s_greedy_exact (atoms, count))
        return NULL;
    cabi_simple_t *simple = (cabi_simple_t *)cabi_schema_arena_alloc (
        arena, sizeof *simple + count * sizeof (s_atom_t));
    if (!simple)
        return NULL;
    simple->count = count;
    simple->anchored = anchored;
    memcpy (simple->atoms, atoms, count * sizeof (s_atom_t));
    return simple;
}

bool
cabi_schema_simple_match (const cabi_simple_t *simple, const char *subject, size_t length)
{
    const unsigned char *text = (const unsigned char *)subject;
    size_t at = 0;
    for (size_t index = 0; index < simple->count; index++) {
        const s_atom_t *atom = &simple->atoms[index];
        if (atom->group) {
            //  In it on its first byte, else past it.
            if (at == length || !s_has (atom, text[at]))
                index += atom->group;
            continue;
        }
        size_t taken = 0;
        while (taken < atom->max && at < length && s_has (atom, text[at])) {
            taken++;
            at++;
        }
        if (taken < atom->min)
            return false;
    }
    if (simple->anchored)
        return at == length;
    return cabi_json_utf8_valid (text + at, length - at);
}
