/*  =========================================================================
    fuzz_schema_regex - schema patterns: the simple path against PCRE2

    The input is a pattern, "\n", and a subject (any bytes, UTF-8 or not).
    The pattern goes into {"type":"string","pattern":P} as it is, where the
    validator takes its simple path when it can (cab_schema_simple.c), and
    wrapped in a group "(?:P)", which only PCRE2 matches. Oracles: when P
    compiles, so does its wrapped form; both give the subject the same
    verdict (unless PCRE2 ran into its match limit); codes are documented.
    =========================================================================
*/
#include "fuzz.h"
#include <cabruca.h>
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static cab_schema_t *
s_schema (const char *pattern, size_t length)
{
    json_t *text = json_stringn (pattern, length);
    if (!text)
        return NULL;  //  not UTF-8: not a JSON string
    json_t *document = json_pack ("{s:s,s:o}", "type", "string", "pattern", text);
    FUZZ_ASSERT (document);
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new (document, &error);
    FUZZ_ASSERT (schema || error.code == CAB_ERR_INVALID_SCHEMA || error.code == CAB_ERR_NOMEM);
    json_decref (document);
    return schema;
}

static cab_status_t
s_verdict (cab_schema_t *schema, json_t *subject)
{
    cab_error_t error;
    cab_status_t status = cab_schema_validate (schema, subject, &error);
    FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_SCHEMA_VIOLATION ||
                 status == CAB_ERR_TOO_LARGE);
    return status;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *newline = (const char *)memchr (text, '\n', size);
    size_t pattern_length = newline ? (size_t)(newline - text) : size;
    if (pattern_length > 1000)
        return 0;
    cab_schema_t *direct = s_schema (text, pattern_length);
    if (!direct)
        return 0;
    char wrapped[1024];
    memcpy (wrapped, "(?:", 3);
    memcpy (wrapped + 3, text, pattern_length);
    memcpy (wrapped + 3 + pattern_length, ")", 1);
    cab_schema_t *reference = s_schema (wrapped, pattern_length + 4);
    FUZZ_ASSERT (reference);
    const char *subject = newline ? newline + 1 : "";
    size_t subject_length = newline ? size - pattern_length - 1 : 0;
    json_t *string = json_stringn_nocheck (subject, subject_length);
    FUZZ_ASSERT (string);
    cab_status_t got = s_verdict (direct, string);
    cab_status_t expect = s_verdict (reference, string);
    if (got != CAB_ERR_TOO_LARGE && expect != CAB_ERR_TOO_LARGE)
        FUZZ_ASSERT (got == expect);
    json_decref (string);
    cab_schema_destroy (&direct);
    cab_schema_destroy (&reference);
    return 0;
}
