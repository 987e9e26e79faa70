/*  =========================================================================
    test_pattern_fuzz - random patterns and events (seeded, bounded): no
    crash, and two oracles: a rule set of N rules must answer, for every
    event, exactly the rules whose single compiled pattern matches; and
    matching the JSON text must agree with matching the parsed jansson
    value. Mutated and truncated event texts must give a result or an error.
    Seed: $CAB_FUZZ_SEED (default 1); rounds: $CAB_FUZZ_ROUNDS (default 300).
    =========================================================================
*/
#include <cabruca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long s_state = 1;

static unsigned
s_rand (unsigned n)
{
    s_state = s_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((s_state >> 33) % n);
}

static const char *s_fields[] = {"a", "b", "c", "d.e", "d.f", "arr.x", "arr.y", "arr.z.w"};
static const char *s_strings[] = {"\"\"",
                                  "\"x\"",
                                  "\"xy\"",
                                  "\"Xy\"",
                                  "\"10.0.0.1\"",
                                  "\"2001:db8::1\"",
                                  "\"a*b\"",
                                  "\"\\u00e9t\\u00e9\"",
                                  "\"\\u00c9T\\u00c9\"",
                                  "\"5\""};
static const char *s_numbers[] = {"0",
                                  "-0",
                                  "5",
                                  "5.0",
                                  "5e0",
                                  "-3.5",
                                  "1e300",
                                  "0.1",
                                  "12345678901234567890",
                                  "0.30000000000000001"};

static void
s_append (char *buffer, size_t size, const char *text)
{
    size_t n = strlen (buffer);
    snprintf (buffer + n, size - n, "%s", text);
}

static const char *
s_scalar (void)
{
    switch (s_rand (4)) {
        case 0:
            return s_strings[s_rand (10)];
        case 1:
            return s_numbers[s_rand (10)];
        case 2:
            return s_rand (2) ? "true" : "false";
        default:
            return s_rand (3) ? s_strings[s_rand (10)] : "null";
    }
}

static void
s_matcher (char *out, size_t size)
{
    char buffer[256];
    const char *s = s_strings[s_rand (10)];
    const char *num = s_numbers[s_rand (8)];
    switch (s_rand (14)) {
        case 0:
            snprintf (buffer, sizeof buffer, "%s", s_scalar ());
            break;
        case 1:
            snprintf (buffer, sizeof buffer, "{\"prefix\":%s}", s);
            break;
        case 2:
            snprintf (buffer, sizeof buffer, "{\"suffix\":%s}", s);
            break;
        case 3:
            snprintf (buffer, sizeof buffer, "{\"equals-ignore-case\":%s}", s);
            break;
        case 4:
            snprintf (buffer, sizeof buffer, "{\"wildcard\":\"%s\"}",
                      (const char *[]){"*", "x*", "*y", "a\\\\*b", "*.*", "x**"}[s_rand (6)]);
            break;
        case 5:
            snprintf (buffer, sizeof buffer, "{\"numeric\":[\">\",%s,\"<=\",1e301]}", num);
            break;
        case 6:
            snprintf (buffer, sizeof buffer, "{\"numeric\":[\"=\",%s]}", num);
            break;
        case 7:
            snprintf (buffer, sizeof buffer, "{\"anything-but\":%s}", s);
            break;
        case 8:
            snprintf (buffer, sizeof buffer, "{\"anything-but\":[%s,5]}", num);
            break;
        case 9:
            snprintf (buffer, sizeof buffer, "{\"anything-but\":{\"prefix\":\"x\"}}");
            break;
        case 10:
            snprintf (buffer, sizeof buffer, "{\"exists\":%s}", s_rand (2) ? "true" : "false");
            break;
        case 11:
            snprintf (buffer, sizeof buffer, "{\"cidr\":\"10.0.0.0/%u\"}", s_rand (33));
            break;
        case 12:
            snprintf (buffer, sizeof buffer, "{\"prefix\":{\"equals-ignore-case\":%s}}", s);
            break;
        default:
            snprintf (buffer, sizeof buffer, "{\"anything-but\":{\"equals-ignore-case\":%s}}", s);
    }
    s_append (out, size, buffer);
}

//  A pattern over 1-3 fields, sometimes with $or; nested paths as objects.
static void
s_pattern (char *out, size_t size)
{
    out[0] = 0;
    s_append (out, size, "{");
    int nfields = 1 + (int)s_rand (3);
    bool or = s_rand (4) == 0;
    if (or)
        s_append (out, size, "\"$or\":[");
    for (int f = 0; f < nfields; f++) {
        if (f)
            s_append (out, size, ",");
        if (or)
            s_append (out, size, "{");
        const char *path = s_fields[s_rand (8)];
        char key[64];
        int close = 0;
        const char *p = path;
        while (strchr (p, '.')) {
            const char *dot = strchr (p, '.');
            snprintf (key, sizeof key, "\"%.*s\":{", (int)(dot - p), p);
            s_append (out, size, key);
            close++;
            p = dot + 1;
        }
        snprintf (key, sizeof key, "\"%s\":[", p);
        s_append (out, size, key);
        int nvalues = 1 + (int)s_rand (3);
        for (int v = 0; v < nvalues; v++) {
            if (v)
                s_append (out, size, ",");
            s_matcher (out, size);
        }
        s_append (out, size, "]");
        while (close--)
            s_append (out, size, "}");
        if (or)
            s_append (out, size, "}");
    }
    if (or) {
        if (nfields == 1)
            s_append (out, size, ",{\"zz\":[1]}");
        s_append (out, size, "]");
    }
    s_append (out, size, "}");
}

static void
s_value (char *out, size_t size, int depth)
{
    if (depth < 2 && s_rand (5) == 0) {
        s_append (out, size, "[");
        int n = (int)s_rand (4);
        for (int i = 0; i < n; i++) {
            if (i)
                s_append (out, size, ",");
            s_value (out, size, depth + 1);
        }
        s_append (out, size, "]");
    } else
        s_append (out, size, s_scalar ());
}

static void
s_event (char *out, size_t size)
{
    out[0] = 0;
    s_append (out, size, "{");
    const char *top[] = {"a", "b", "c", "zz"};
    for (int i = 0; i < 4; i++) {
        if (s_rand (4) == 0)
            continue;
        char key[32];
        snprintf (key, sizeof key, "\"%s\":", top[i]);
        s_append (out, size, key);
        s_value (out, size, 0);
        s_append (out, size, ",");
    }
    s_append (out, size, "\"d\":{\"e\":");
    s_value (out, size, 0);
    s_append (out, size, ",\"f\":");
    s_value (out, size, 0);
    s_append (out, size, "},\"arr\":[");
    int n = (int)s_rand (4);
    for (int i = 0; i < n; i++) {
        if (i)
            s_append (out, size, ",");
        s_append (out, size, "{\"x\":");
        s_value (out, size, 0);
        if (s_rand (2)) {
            s_append (out, size, ",\"y\":");
            s_value (out, size, 0);
        }
        s_append (out, size, ",\"z\":[{\"w\":");
        s_value (out, size, 1);
        s_append (out, size, "}]}");
    }
    s_append (out, size, "]}");
}

#define RULES 24

//  Index of rule id "rNN" in a rule set built in order r00, r01, ...
static int
s_rule_number (const char *id)
{
    return (id[1] - '0') * 10 + (id[2] - '0');
}

//  ---------------------------------------------------------------------
//  Array consistency against a brute-force oracle: random events with
//  nested arrays of objects, patterns of 2 to 5 fields holding [1]. The
//  oracle lists every occurrence of 1 at a pattern path with the chain of
//  (array, index) around it and tries every combination.

#define S_OCC_MAX   24
#define S_CHAIN_MAX 8

typedef struct {
    int n;
    int array[S_CHAIN_MAX], index[S_CHAIN_MAX];
} s_chain_t;

static const char *s_opaths[] = {"x.a", "x.b", "x.c", "x.y.a", "x.y.b"};
static s_chain_t s_occ[5][S_OCC_MAX];
static int s_nocc[5];
static int s_next_array;

static json_t *s_onode (int depth, bool object);

static json_t *
s_oleaf (int depth)
{
    if (depth < 3 && s_rand (4) == 0) {
        json_t *array = json_array ();
        for (unsigned i = s_rand (3); i > 0; i--)
            json_array_append_new (array, json_integer (1 + s_rand (2)));
        return array;
    }
    return json_integer (1 + s_rand (2));
}

//  An object with some of a, b, c and maybe y, or an array of such.
static json_t *
s_onode (int depth, bool object)
{
    if (!object && depth < 4 && s_rand (3) != 0) {
        json_t *array = json_array ();
        for (unsigned i = s_rand (4); i > 0; i--)
            json_array_append_new (array, s_onode (depth + 1, s_rand (4) != 0));
        return array;
    }
    json_t *obj = json_object ();
    const char *keys[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        if (s_rand (3) != 0)
            json_object_set_new (obj, keys[i], s_oleaf (depth));
    if (depth < 3 && s_rand (2) == 0)
        json_object_set_new (obj, "y", s_onode (depth + 1, false));
    return obj;
}

static void
s_ocollect (json_t *value, char *path, s_chain_t *chain)
{
    if (json_is_array (value)) {
        if (chain->n == S_CHAIN_MAX)
            return;
        int id = s_next_array++;
        for (size_t i = 0; i < json_array_size (value); i++) {
            chain->array[chain->n] = id;
            chain->index[chain->n++] = (int)i;
            s_ocollect (json_array_get (value, i), path, chain);
            chain->n--;
        }
    } else if (json_is_object (value)) {
        const char *key;
        json_t *child;
        size_t len = strlen (path);
        json_object_foreach (value, key, child)
        {
            snprintf (path + len, 64 - len, "%s%s", len ? "." : "", key);
            s_ocollect (child, path, chain);
            path[len] = 0;
        }
    } else if (json_is_integer (value) && json_integer_value (value) == 1) {
        for (int f = 0; f < 5; f++)
            if (strcmp (path, s_opaths[f]) == 0 && s_nocc[f] < S_OCC_MAX)
                s_occ[f][s_nocc[f]++] = *chain;
    }
}

static bool
s_ocompatible (const s_chain_t *x, const s_chain_t *y)
{
    for (int i = 0; i < x->n; i++)
        for (int j = 0; j < y->n; j++)
            if (x->array[i] == y->array[j] && x->index[i] != y->index[j])
                return false;
    return true;
}

static bool
s_osearch (const int *fields, int k, int depth, const s_chain_t **chosen)
{
    if (depth == k)
        return true;
    int f = fields[depth];
    for (int i = 0; i < s_nocc[f]; i++) {
        bool ok = true;
        for (int d = 0; d < depth && ok; d++)
            ok = s_ocompatible (chosen[d], &s_occ[f][i]);
        if (!ok)
            continue;
        chosen[depth] = &s_occ[f][i];
        if (s_osearch (fields, k, depth + 1, chosen))
            return true;
    }
    return false;
}

static int
s_array_oracle (int rounds)
{
    int failures = 0, agreed = 0, positive = 0;
    for (int round = 0; round < rounds && failures < 10; round++) {
        int fields[5], k = 0;
        for (int f = 0; f < 5; f++)
            if (s_rand (2) == 0)
                fields[k++] = f;
        if (k < 2)
            continue;
        json_t *pattern = json_object ();
        for (int i = 0; i < k; i++) {
            const char *p = s_opaths[fields[i]];
            json_t *at = pattern;
            char part[8];
            while (strchr (p, '.')) {
                size_t n = (size_t)(strchr (p, '.') - p);
                memcpy (part, p, n);
                part[n] = 0;
                json_t *next = json_object_get (at, part);
                if (!next) {
                    next = json_object ();
                    json_object_set_new (at, part, next);
                }
                at = next;
                p += n + 1;
            }
            json_object_set_new (at, p, json_pack ("[i]", 1));
        }
        cab_error_t error;
        cab_pattern_t *compiled = cab_pattern_new_from_json (pattern, &error);
        for (int e = 0; e < 10 && compiled; e++) {
            json_t *event = json_pack ("{s:o}", "x", s_onode (0, s_rand (3) == 0));
            char path[64] = "";
            s_chain_t chain = {0};
            memset (s_nocc, 0, sizeof s_nocc);
            s_next_array = 0;
            s_ocollect (event, path, &chain);
            const s_chain_t *chosen[5];
            bool expected = s_osearch (fields, k, 0, chosen);
            bool matched = !expected;
            cab_status_t rc = cab_pattern_match_json (compiled, event, &matched, &error);
            if (rc != CAB_OK || matched != expected) {
                char *p = json_dumps (pattern, JSON_COMPACT);
                char *t = json_dumps (event, JSON_COMPACT);
                fprintf (stderr,
                         "array oracle: expected %d, got %d (rc %d)\n  pattern %s\n  event %s\n",
                         expected, matched, rc, p, t);
                free (p);
                free (t);
                failures++;
            } else {
                agreed++;
                positive += expected;
            }
            json_decref (event);
        }
        cab_pattern_destroy (&compiled);
        json_decref (pattern);
    }
    printf ("array oracle: %d events agreed (%d matches), %d failures\n", agreed, positive,
            failures);
    return failures;
}

int
main (void)
{
    const char *seed = getenv ("CAB_FUZZ_SEED");
    const char *rounds_text = getenv ("CAB_FUZZ_ROUNDS");
    s_state = seed ? strtoul (seed, NULL, 10) : 1;
    int rounds = rounds_text ? (int)strtol (rounds_text, NULL, 10) : 300;
    int failures = 0, valid = 0, invalid = 0, matched_total = 0, events = 0;
    static char patterns[RULES][2048];
    char event[4096];
    for (int round = 0; round < rounds && failures < 10; round++) {
        cab_ruleset_t *set = cab_ruleset_new ();
        cab_pattern_t *single[RULES];
        for (int r = 0; r < RULES; r++) {
            char id[8];
            s_pattern (patterns[r], sizeof patterns[r]);
            cab_error_t error;
            single[r] = cab_pattern_new (patterns[r], strlen (patterns[r]), &error);
            snprintf (id, sizeof id, "r%02d", r);
            cab_status_t rc = cab_ruleset_add (set, id, patterns[r], strlen (patterns[r]), &error);
            if ((rc == CAB_OK) != (single[r] != NULL)) {
                fprintf (stderr, "add and new disagree on %s\n", patterns[r]);
                failures++;
            }
            if (single[r])
                valid++;
            else
                invalid++;
        }
        for (int e = 0; e < 20; e++) {
            s_event (event, sizeof event);
            events++;
            cab_error_t error;
            size_t matches[RULES], count = 0;
            if (cab_ruleset_match (set, event, strlen (event), matches, RULES, &count, &error) !=
                CAB_OK) {
                fprintf (stderr, "event rejected: %s: %s\n", event, error.text);
                failures++;
                continue;
            }
            bool in_set[RULES] = {false};
            for (size_t i = 0; i < count && i < RULES; i++)
                in_set[s_rule_number (cab_ruleset_id (set, matches[i]))] = true;
            json_t *parsed = json_loads (event, JSON_DECODE_ANY, NULL);
            for (int r = 0; r < RULES; r++) {
                if (!single[r])
                    continue;
                bool m1 = false, m2 = false;
                cab_status_t rc1 =
                    cab_pattern_match (single[r], event, strlen (event), &m1, &error);
                cab_status_t rc2 = parsed ? cab_pattern_match_json (single[r], parsed, &m2, &error)
                                          : CAB_ERR_INVALID_JSON;
                if (rc1 != CAB_OK || m1 != in_set[r]) {
                    fprintf (stderr,
                             "rule set and pattern disagree (%d vs %d)\n  pattern %s\n  event %s\n",
                             in_set[r], m1, patterns[r], event);
                    failures++;
                }
                //  jansson turns numbers into doubles: compare only when the
                //  event has no number whose text is not its shortest form
                //  (the generator's 5.0, 5e0, -0, 12345678901234567890, ...)
                if (rc2 == CAB_OK && m2 != m1 && !strpbrk (event, "e.-") &&
                    !strstr (event, "12345678901234567890")) {
                    fprintf (stderr, "text and json disagree\n  pattern %s\n  event %s\n",
                             patterns[r], event);
                    failures++;
                }
                matched_total += m1;
            }
            json_decref (parsed);
            //  Mutations: flip, cut, duplicate bytes; must not crash.
            size_t len = strlen (event);
            for (int m = 0; m < 8; m++) {
                char mutated[4200];
                memcpy (mutated, event, len + 1);
                size_t at = s_rand ((unsigned)len);
                size_t mlen = len;
                switch (s_rand (3)) {
                    case 0:
                        mutated[at] = (char)s_rand (256);
                        break;
                    case 1:
                        mlen = at;
                        break;
                    default:
                        memmove (mutated + at + 1, mutated + at, len - at + 1);
                        mlen++;
                }
                cab_ruleset_match (set, mutated, mlen, matches, RULES, &count, &error);
            }
        }
        for (int r = 0; r < RULES; r++)
            cab_pattern_destroy (&single[r]);
        cab_ruleset_destroy (&set);
    }
    failures += s_array_oracle (rounds * 4);
    printf ("pattern fuzz: %d valid and %d invalid patterns, %d events, %d matches, %d failures\n",
            valid, invalid, events, matched_total, failures);
    return failures ? 1 : 0;
}
