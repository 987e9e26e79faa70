/*  =========================================================================
    test_cab_schema_simple - the schema patterns matched without PCRE2

    cab_schema_simple.c is compiled into this test (with an arena of its
    own) to see which patterns it takes; its answers are compared with the
    validator's through the public API for the same pattern wrapped in a
    group "(?:...)", which the simple path never takes (so PCRE2 answers),
    on seeded random subjects made of the pattern's own bytes, other ASCII,
    multibyte characters and bytes that are not UTF-8.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include <cabruca.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The arena cab_schema_simple.c allocates from (the library's own is not
//  exported): every block is kept until the end of the test.
static void *s_blocks[4096];
static size_t s_block_count;

void *
cabi_schema_arena_alloc (cabi_arena_t *arena, size_t size)
{
    (void)arena;
    ck_assert_uint_lt (s_block_count, 4096);
    void *block = calloc (1, size ? size : 1);
    s_blocks[s_block_count++] = block;
    return block;
}

static void
s_teardown (void)
{
    for (size_t index = 0; index < s_block_count; index++)
        free (s_blocks[index]);
    s_block_count = 0;
}

static cabi_simple_t *
s_compile (const char *pattern)
{
    return cabi_schema_simple_compile (NULL, pattern, strlen (pattern));
}

//  The validator's verdict on subject for {"type":"string","pattern":P}.
static cab_schema_t *
s_schema (const char *pattern)
{
    json_t *document = json_pack ("{s:s,s:s}", "type", "string", "pattern", pattern);
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new (document, &error);
    json_decref (document);
    ck_assert_msg (schema != NULL, "%s: %s", pattern, error.text);
    return schema;
}

static int
s_verdict (cab_schema_t *schema, const char *subject, size_t length)
{
    json_t *text = json_stringn_nocheck (subject, length);
    ck_assert_ptr_nonnull (text);
    cab_error_t error;
    cab_status_t status = cab_schema_validate (schema, text, &error);
    json_decref (text);
    ck_assert_msg (status == CAB_OK || status == CAB_ERR_SCHEMA_VIOLATION, "%s", error.text);
    return status == CAB_OK;
}

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
s_random (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ULL;
}

//  A subject of up to 80 bytes: mostly bytes of the pattern itself (so
//  that matches are common), other ASCII, a multibyte character, a byte
//  that is not UTF-8, a NUL.
static size_t
s_subject (const char *pattern, char *out)
{
    static const char *extras[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\x80", "\0", "-", ".", "_",
        " "};
    size_t length = 0, want = s_random () % 81, plen = strlen (pattern);
    while (length < want) {
        uint64_t pick = s_random () % 100;
        if (pick < 80) {
            char c = pattern[s_random () % plen];
            if (c == '[' || c == ']' || c == '\\' || c == '{' || c == '}' || c == '^' || c == '$' ||
                c == '*' || c == '+' || c == '?')
                c = (char)('0' + s_random () % 75);
            out[length++] = c;
        } else if (pick < 92)
            out[length++] = (char)(0x20 + s_random () % 95);
        else {
            const char *extra = extras[s_random () % (sizeof extras / sizeof extras[0])];
            size_t size = extra[0] ? strlen (extra) : 1;
            memcpy (out + length, extra, size);
            length += size;
        }
    }
    return length;
}

//  The simple path and PCRE2 agree on pattern for `rounds` subjects, and
//  on the given ones (NULL-terminated).
static void
s_agree (const char *pattern, int rounds, const char **given)
{
    cabi_simple_t *simple = s_compile (pattern);
    ck_assert_msg (simple != NULL, "not taken: %s", pattern);
    cab_schema_t *direct = s_schema (pattern);
    char wrapped[512];
    snprintf (wrapped, sizeof wrapped, "(?:%s)", pattern);
    cab_schema_t *reference = s_schema (wrapped);
    char subject[512];
    //  The same subjects for a pattern whatever ran before (and with
    //  CK_FORK=no).
    s_rng = 0x9e3779b97f4a7c15ULL ^ strlen (pattern);
    size_t count = 0;
    while (given && given[count])
        count++;
    int matched = 0;
    for (size_t round = 0; round < count + (size_t)rounds; round++) {
        size_t length;
        if (round < count) {
            length = strlen (given[round]);
            memcpy (subject, given[round], length + 1);
        } else
            length = s_subject (pattern, subject);
        int expect = s_verdict (reference, subject, length);
        int got = cabi_schema_simple_match (simple, subject, length) ? 1 : 0;
        ck_assert_msg (got == expect, "%s on \"%.*s\" (%zu bytes): simple %d, PCRE2 %d", pattern,
                       (int)length, subject, length, got, expect);
        //  And the validator itself takes the simple path to the same.
        ck_assert_int_eq (s_verdict (direct, subject, length), expect);
        matched += expect;
    }
    //  The subjects matched at times (or the comparison says little).
    ck_assert_msg (matched > 0 || rounds == 0, "%s never matched", pattern);
    cab_schema_destroy (&direct);
    cab_schema_destroy (&reference);
}

//  ---------------------------------------------------------------------

START_TEST (test_schema_patterns)
{
    //  The patterns the shipped schemas use that the simple path takes.
    const char *uuid[] = {"0190c6f5-8f4b-7a3c-9d2e-1f0a2b3c4d5e",
                          "0190C6F5-8F4B-7A3C-9D2E-1F0A2B3C4D5E",
                          "0190c6f5-8f4b-7a3c-9d2e-1f0a2b3c4d5",
                          "0190c6f5-8f4b-7a3c-9d2e-1f0a2b3c4d5e0",
                          "0190c6f58f4b-7a3c-9d2e-1f0a2b3c4d5e-",
                          "",
                          NULL};
    s_agree ("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", 3000,
             uuid);
    const char *agent[] = {"monitor-001", "m", "-m", "monitor:1.a_b", "monitor 1", NULL};
    s_agree ("^[A-Za-z0-9][A-Za-z0-9._:-]*$", 3000, agent);
    const char *version[] = {"1.0", "10.25", "1.", ".1", "1.0.0", "1", NULL};
    s_agree ("^[0-9]+\\.[0-9]+$", 3000, version);
    const char *aws[] = {"aws.ec2",      "aws.", "aws",   "aws.\xff",
                         "aws.\xc3\xa9", "aw.s", "xaws.", NULL};
    s_agree ("^aws\\.", 3000, aws);
    s_agree ("^[a-z][a-z0-9_]*$", 3000, NULL);
    s_agree ("^[a-z][a-z0-9_-]*$", 3000, NULL);
    s_agree ("^[A-Za-z0-9._-]+$", 3000, NULL);
    const char *sha[] = {"abc1234", "abc123", "ABC1234", "0123456789abcdef", NULL};
    s_agree ("^[0-9a-f]{7,64}$", 3000, sha);
    s_agree ("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", 3000, NULL);
    const char *account[] = {"123456789012", "12345678901", "1234567890123", NULL};
    s_agree ("^[0-9]{12}$", 3000, account);
    const char *url[] = {"http://x", "https://x", "https:/", "ftp://", "http://\xff", NULL};
    s_agree ("^https?://", 3000, url);
    const char *time[] = {"2026-11-23T07:00:00Z",           "2026-11-23T07:00:00.5Z",
                          "2026-11-23T07:00:00.123456789Z", "2026-11-23T07:00:00.1234567890Z",
                          "2026-11-23T07:00:00.Z",          "2026-11-23T07:00:00",
                          "2026-11-23T07:00:00+00:00",      NULL};
    s_agree ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z$", 3000,
             time);
    const char *dollar[] = {"$", "$x", "x$", "", NULL};
    s_agree ("^\\$", 3000, dollar);
}
END_TEST

START_TEST (test_shapes)
{
    //  Quantifiers, escapes, class forms, the empty pattern, "$" alone.
    const char *any[] = {"", "a", "\xff", "\xc3\xa9", NULL};
    s_agree ("^", 500, any);
    s_agree ("^$", 500, any);
    const char *counts[] = {"bb", "abbb", "abbcccddd", "abbccccd", "ab", "bbd", NULL};
    s_agree ("^a?b{2,}c{0,3}d*$", 3000, counts);
    const char *zero[] = {"y", "xy", "", NULL};
    s_agree ("^x{0}y$", 1000, zero);
    const char *words[] = {"1-", "12-ab_9", "-a", "1-a-", NULL};
    s_agree ("^\\d+-\\w*$", 3000, words);
    const char *digits[] = {"1.2c", "..a", "1d", "c", NULL};
    s_agree ("^[\\d.]+[a-c]$", 3000, digits);
    const char *punct[] = {"-a-/_", "a--/_", "aa-/_", "-a-/", "-a-/_x", NULL};
    s_agree ("^[-a][a-]\\-\\/\\_$", 3000, punct);
    const char *brackets[] = {"]z", "[\\]z", "z", "]]", NULL};
    s_agree ("^[\\]\\[\\\\]+z$", 3000, brackets);
    s_agree ("^[ !~]{2}", 3000, NULL);
    s_agree ("^ab?c?d", 3000, NULL);
    const char *groups[] = {"ad", "abcd", "abd", "acd", "abcbcd", "a", NULL};
    s_agree ("^a(bc)?d$", 3000, groups);
    const char *groups2[] = {"ae", "abbe", "abbcd", "abce", "ab", "acd", NULL};
    s_agree ("^a(?:b+c?)?[de]$", 3000, groups2);
    const char *groups3[] = {"x", "x1", "x1y", "xy", "x12y", NULL};
    s_agree ("^x(?:[0-9]{2})?y?$", 3000, groups3);
    const char *runs[] = {"abg", "abcdezz", "abcdefz", "ag", "abzzz", NULL};
    s_agree ("^[a-f]{2,5}[g-z]{1,2}$", 3000, runs);
}
END_TEST

START_TEST (test_left_to_pcre2)
{
    //  Not the simple shape, or a greedy pass would not be exact.
    const char *others[] = {
        "abc$",                 //  not anchored at the start
        "^(ab)+$",              //  group
        "^a|b$",                //  alternation
        "^a.c$",                //  any character
        "^[^a]$",               //  negated class
        "^[]$",                 //  empty class
        "^\\s$",                //  ECMA whitespace
        "^\\bx$",               //  boundary
        "^\\u0041$",            //  escape of a code point
        "^a*?$",                //  lazy
        "^\xc3\xa9+$",          //  non-ASCII literal
        "^a$b",                 //  "$" not last
        "^a{2,1}$",             //  bad count
        "^a{,3}$",              //  not a count in ECMA
        "^a{70000}$",           //  past PCRE2's limit
        "^[a-z]*[a-z]$",        //  greedy would take the last letter
        "^[0-9]*5?[0-9]$",      //  through an optional atom
        "^a+a$",                //
        "^[a-z]+\\d?[a-z0-9]",  //
        "^[a-z]+\\d?[a-z]$",    //
        "^a{2}{3}$",            //  a quantifier of a quantifier
        "^a(b)?b$",             //  a group that may be there or not before "b"
        "^a(b?c)?$",            //  a group whose first atom may take nothing
        "^a(b)??$",             //  lazy group
        "^a(b)+$",              //  a group repeated
        "^a(b)$",               //  a group that is not optional
        "^a((b))?$",            //  nested
        "^a(b|c)?$",            //  alternation in a group
        "^a()?$",               //  empty group
        "^a(bc)?",              //  without "$": "abx" matches "a" alone
        "^[a-c]*(b)?$",         //  a run that may take the group's first byte
        "^a(b[a-z]*)?z$",       //  a run in the group that may take what follows
        "",                     //  empty
    };
    for (size_t index = 0; index < sizeof others / sizeof others[0]; index++)
        ck_assert_msg (s_compile (others[index]) == NULL, "taken: %s", others[index]);
    //  Fixed counts need no such care; "$" ends it.
    ck_assert_ptr_nonnull (s_compile ("^[a-z]{3}[a-z]$"));
    ck_assert_ptr_nonnull (s_compile ("^[a-z]*[0-9]$"));
}
END_TEST

START_TEST (test_long_subjects)
{
    //  A run far longer than anything PCRE2 would backtrack over; a
    //  variable atom capped by its maximum.
    cabi_simple_t *simple = s_compile ("^[a-z]+$");
    cab_schema_t *reference = s_schema ("(?:^[a-z]+$)");
    size_t length = 200000;
    char *subject = (char *)malloc (length + 1);
    memset (subject, 'q', length);
    ck_assert (cabi_schema_simple_match (simple, subject, length));
    ck_assert_int_eq (s_verdict (reference, subject, length), 1);
    subject[length - 1] = '7';
    ck_assert (!cabi_schema_simple_match (simple, subject, length));
    ck_assert_int_eq (s_verdict (reference, subject, length), 0);
    cabi_simple_t *capped = s_compile ("^[a-z]{1,4}$");
    ck_assert (cabi_schema_simple_match (capped, "abcd", 4));
    ck_assert (!cabi_schema_simple_match (capped, "abcde", 5));
    free (subject);
    cab_schema_destroy (&reference);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_schema_simple");
    TCase *tcase = tcase_create ("core");
    tcase_set_timeout (tcase, 120);
    tcase_add_checked_fixture (tcase, NULL, s_teardown);
    tcase_add_test (tcase, test_schema_patterns);
    tcase_add_test (tcase, test_shapes);
    tcase_add_test (tcase, test_left_to_pcre2);
    tcase_add_test (tcase, test_long_subjects);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed == 0 ? 0 : 1;
}
