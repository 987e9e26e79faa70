/*  =========================================================================
    test_cab_jsondump - cabi_json_dumps writes what jansson writes, byte
    for byte: random documents, every special byte at every offset of a
    string, and what it leaves to jansson (other flags, text that is not
    UTF-8, deep nesting, a document inside itself)
    =========================================================================
*/
#include "cab_jsonscan.h"
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  jansson's text for the same flags, or NULL when it refuses.
static char *
s_reference (const json_t *json, size_t flags, size_t *length_p)
{
    size_t size = json_dumpb (json, NULL, 0, flags);
    if (size == 0)
        return NULL;
    char *text = (char *)malloc (size + 1);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (json_dumpb (json, text, size, flags), size);
    text[size] = 0;
    *length_p = size;
    return text;
}

static void
s_same (const json_t *json, size_t flags)
{
    size_t mine_length = 0, reference_length = 0;
    char *mine = cabi_json_dumps (json, flags, &mine_length);
    char *reference = s_reference (json, flags, &reference_length);
    if (!reference)
        ck_assert_ptr_null (mine);
    else {
        ck_assert_ptr_nonnull (mine);
        ck_assert_uint_eq (mine_length, reference_length);
        ck_assert_mem_eq (mine, reference, reference_length);
        ck_assert_int_eq (mine[mine_length], 0);
    }
    free (mine);
    free (reference);
}

//  xorshift64*: the same documents every run.
static uint64_t s_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
s_random (void)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545F4914F6CDD1DULL;
}

//  A random string: plain runs longer than a block, and every kind of
//  byte a writer must look at.
static size_t
s_random_text (char *text, size_t max)
{
    static const char *pieces[] = {"\"",
                                   "\\",
                                   "/",
                                   "\n",
                                   "\t",
                                   "\x01",
                                   "\x1f",
                                   "\x7f",
                                   "\xc3\xa9",
                                   "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80",
                                   "\b",
                                   "\f",
                                   "\r"};
    size_t length = 0, target = s_random () % max;
    while (length < target) {
        uint64_t pick = s_random () % 24;
        const char *piece = pick < 14 ? pieces[pick] : "plain text, longer than a block: ";
        size_t size = strlen (piece);
        if (pick == 23)
            size = 1;  //  A NUL byte
        if (length + size > max)
            break;
        memcpy (text + length, pick == 23 ? "" : piece, size);
        length += size;
    }
    return length;
}

static json_t *
s_random_value (int depth)
{
    char text[160];
    uint64_t kind = s_random () % (depth > 5 ? 7 : 9);
    switch (kind) {
        case 0: {
            static const json_int_t integers[] = {
                0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN};
            return json_integer (integers[s_random () % 9]);
        }
        case 1: {
            static const double reals[] = {
                0.0, -0.0, 0.1, 1.0, -2.5, 1e300, 1e-7, 123456789.0, 3.141592653589793};
            return json_real (reals[s_random () % 9]);
        }
        case 2:
            return json_true ();
        case 3:
            return json_false ();
        case 4:
            return json_null ();
        case 5:
        case 6:
            return json_stringn (text, s_random_text (text, sizeof text));
        case 7: {
            json_t *array = json_array ();
            for (uint64_t count = s_random () % 6; count > 0; count--)
                json_array_append_new (array, s_random_value (depth + 1));
            return array;
        }
        default: {
            json_t *object = json_object ();
            for (uint64_t count = s_random () % 6; count > 0; count--) {
                size_t length = s_random_text (text, 40);
                json_object_setn_new (object, text, length, s_random_value (depth + 1));
            }
            return object;
        }
    }
}

START_TEST (test_random_documents)
{
    for (int round = 0; round < 3000; round++) {
        json_t *document = s_random_value (0);
        ck_assert_ptr_nonnull (document);
        s_same (document, JSON_COMPACT);
        s_same (document, JSON_COMPACT | JSON_ENCODE_ANY);
        s_same (document, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (5));
        json_decref (document);
    }
}
END_TEST

//  Each special byte at every offset of the first blocks of a string, in
//  a value and in a key.
START_TEST (test_every_offset)
{
    static const char *specials[] = {
        "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        ""};
    for (size_t kind = 0; kind < sizeof specials / sizeof specials[0]; kind++)
        for (size_t length = 0; length < 70; length++)
            for (size_t at = 0; at <= length; at++) {
                char text[80];
                memset (text, 'a', length);
                size_t size = strlen (specials[kind]);
                size = size ? size : 1;  //  "" stands for a NUL byte
                if (at + size > length)
                    continue;
                memcpy (text + at, specials[kind], size);
                json_t *document = json_pack ("{s:s%}", "k", text, length);
                ck_assert_ptr_nonnull (document);
                json_object_setn (document, text, length, json_true ());
                s_same (document, JSON_COMPACT);
                json_decref (document);
            }
}
END_TEST

START_TEST (test_left_to_jansson)
{
    //  Other flags: jansson's text.
    json_t *document = json_pack ("{s:i, s:[s, f], s:{}}", "b", 1, "a", "x", 0.5, "c");
    s_same (document, 0);
    s_same (document, JSON_INDENT (2) | JSON_SORT_KEYS);
    s_same (document, JSON_COMPACT | JSON_SORT_KEYS);
    s_same (document, JSON_COMPACT | JSON_ENSURE_ASCII);
    //  A scalar needs JSON_ENCODE_ANY.
    json_t *scalar = json_string ("x");
    ck_assert_ptr_null (cabi_json_dumps (scalar, JSON_COMPACT, NULL));
    s_same (scalar, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref (scalar);
    //  Text that is not UTF-8 (jansson refuses it, in a value or a key).
    json_object_set_new (document, "bad", json_string_nocheck ("ok \xff"));
    ck_assert_ptr_null (cabi_json_dumps (document, JSON_COMPACT, NULL));
    s_same (document, JSON_COMPACT);
    json_object_del (document, "bad");
    //  In a key jansson writes what it had ("{\"\":true}"); ours refuses.
    json_object_set_new_nocheck (document, "\xc0\x80", json_true ());
    ck_assert_ptr_null (cabi_json_dumps (document, JSON_COMPACT, NULL));
    json_object_del (document, "\xc0\x80");
    s_same (document, JSON_COMPACT);
    //  A document inside itself: jansson finds the cycle.
    json_t *inner = json_object_get (document, "c");
    json_object_set (inner, "self", document);
    ck_assert_ptr_null (cabi_json_dumps (document, JSON_COMPACT, NULL));
    json_object_del (inner, "self");
    s_same (document, JSON_COMPACT);
    json_decref (document);
    //  Deeper than the fast path goes: jansson's text all the same.
    json_t *deep = json_array ();
    for (int level = 0; level < 400; level++) {
        json_t *outer = json_array ();
        json_array_append_new (outer, deep);
        deep = outer;
    }
    size_t length = 0;
    char *text = cabi_json_dumps (deep, JSON_COMPACT, &length);
    ck_assert_ptr_nonnull (text);
    ck_assert_uint_eq (length, 802);
    s_same (deep, JSON_COMPACT);
    free (text);
    json_decref (deep);
    ck_assert_ptr_null (cabi_json_dumps (NULL, JSON_COMPACT, NULL));
}
END_TEST

//  A text far past the first buffer: the buffer grows, the text is whole.
START_TEST (test_long_text)
{
    json_t *document = json_array ();
    char piece[3000];
    memset (piece, 'x', sizeof piece - 1);
    piece[sizeof piece - 1] = 0;
    for (int index = 0; index < 200; index++) {
        piece[index] = '"';
        json_array_append_new (document, json_string (piece));
    }
    s_same (document, JSON_COMPACT);
    json_decref (document);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_jsondump");
    TCase *tcase = tcase_create ("jsondump");
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_random_documents);
    tcase_add_test (tcase, test_every_offset);
    tcase_add_test (tcase, test_left_to_jansson);
    tcase_add_test (tcase, test_long_text);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
