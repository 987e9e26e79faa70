/*  =========================================================================
    fuzz_schema_compile - the JSON Schema compiler on arbitrary JSON.

    The input, if jansson parses it, is compiled as a schema; remote
    references under http://fuzz.example/ resolve to a small fixed
    document, others fail. A compiled schema then validates a few fixed
    instances and its own document. Oracles: a failure fills the error; a
    validation gives CAB_OK or one of its documented errors.
    =========================================================================
*/
#include "fuzz.h"
#include <cabruca.h>
#include <string.h>

static json_t *s_instance[12];
static size_t s_instance_count;

static const char *s_instance_text[] = {
    "null",
    "0",
    "-1.5e3",
    "\"x\"",
    "\"2026-11-22T10:00:00Z\"",
    "[]",
    "{}",
    "[1, \"a\", {\"b\": null}, [true]]",
    "{\"a\": 1, \"b\": [true, false], \"c\": {\"d\": \"e\"}}",
    "{\"source\": \"cabruca.agents.monitor\", \"detail\": {\"severity\": \"HIGH\"}}",
};

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    for (size_t index = 0; index < sizeof s_instance_text / sizeof *s_instance_text; index++) {
        s_instance[index] = json_loads (s_instance_text[index], JSON_DECODE_ANY, NULL);
        FUZZ_ASSERT (s_instance[index]);
        s_instance_count++;
    }
    return 0;
}

static json_t *
s_resolver (const char *uri, void *arg, cab_error_t *error)
{
    if (strncmp (uri, "http://fuzz.example/", 20) == 0)
        return json_pack ("{s:s, s:{s:{s:s}, s:{s:i}}}", "type", "object", "definitions", "a",
                          "type", "string", "b", "minimum", 3);
    cab_error_set (error, CAB_ERR_UNRESOLVED_REF, NULL, "no %s", uri);
    return NULL;
}

static void
s_validate (cab_schema_t *schema, const json_t *instance)
{
    cab_error_t error;
    cab_status_t status = cab_schema_validate (schema, instance, &error);
    FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_SCHEMA_VIOLATION ||
                 status == CAB_ERR_TOO_DEEP || status == CAB_ERR_TOO_LARGE ||
                 status == CAB_ERR_NOMEM);
    FUZZ_ASSERT (status == CAB_OK || error.code == status);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *document = json_loadb ((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!document)
        return 0;
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new_with_resolver (document, s_resolver, NULL, &error);
    if (schema) {
        for (size_t index = 0; index < s_instance_count; index++)
            s_validate (schema, s_instance[index]);
        s_validate (schema, document);
        const char *id = cab_schema_id (schema);
        FUZZ_ASSERT (!id || strlen (id) < size + 1);
        FUZZ_ASSERT (cab_schema_document (schema) == document);
    } else
        FUZZ_ASSERT (error.code != CAB_OK);
    cab_schema_destroy (&schema);
    json_decref (document);
    return 0;
}
