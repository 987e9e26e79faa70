/*  =========================================================================
    test_cab_schema - the JSON Schema (draft-07) validator

    Hand-written cases for messages, compile errors, hostile schemas and
    instances, ownership and allocation failure; then the official JSON
    Schema Test Suite (JSTS_DIR, Debian's json-schema-test-suite) through
    the public API, with remote references served over real HTTP from a
    thread on 127.0.0.1 and fetched with libcurl by the test's resolver.
    Tests the suite may skip are listed, with reasons, in
    tests/conformance/jsts-skips.txt.
    =========================================================================
*/
#include <cabruca.h>
#include <check.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  ---------------------------------------------------------------------
//  Helpers

static json_t *
s_json (const char *text)
{
    json_error_t error;
    json_t *value = json_loads (text, JSON_DECODE_ANY, &error);
    ck_assert_msg (value != NULL, "bad test JSON: %s: %s", error.text, text);
    return value;
}

static cab_schema_t *
s_schema (const char *text)
{
    json_t *document = s_json (text);
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new (document, &error);
    ck_assert_msg (schema != NULL, "schema failed: %s %s", error.path, error.text);
    json_decref (document);
    return schema;
}

//  Validate text against schema; return the status, fill error.
static cab_status_t
s_check (cab_schema_t *schema, const char *instance_text, cab_error_t *error)
{
    json_t *instance = s_json (instance_text);
    cab_error_clear (error);
    cab_status_t status = cab_schema_validate (schema, instance, error);
    json_decref (instance);
    return status;
}

static void
s_expect_violation (cab_schema_t *schema, const char *instance, const char *path, const char *text)
{
    cab_error_t error;
    ck_assert_int_eq (s_check (schema, instance, &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_int_eq (error.code, CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, path);
    ck_assert_str_eq (error.text, text);
}

static void
s_expect_compile_error (const char *text, cab_status_t code, const char *path,
                        const char *message_start)
{
    json_t *document = s_json (text);
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new (document, &error);
    ck_assert_ptr_null (schema);
    ck_assert_int_eq (error.code, code);
    if (path)
        ck_assert_str_eq (error.path, path);
    ck_assert_msg (strncmp (error.text, message_start, strlen (message_start)) == 0,
                   "text '%s' does not start with '%s'", error.text, message_start);
    json_decref (document);
}

static const char *s_event_schema =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
    " \"$id\":\"https://cabruca.example/schemas/issue-detection-1.0.json\","
    " \"type\":\"object\",\"required\":[\"source\",\"detail-type\",\"detail\"],"
    " \"properties\":{"
    "  \"source\":{\"type\":\"string\",\"enum\":[\"cabruca.agents.monitor\"]},"
    "  \"detail-type\":{\"type\":\"string\",\"const\":\"Issue Detection\"},"
    "  \"time\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "  \"detail\":{\"type\":\"object\",\"additionalProperties\":false,"
    "   \"required\":[\"agent_id\",\"severity\",\"correlation_id\"],"
    "   \"properties\":{"
    "    \"agent_id\":{\"type\":\"string\",\"maxLength\":64,\"pattern\":\"^[a-z0-9-]+$\"},"
    "    \"severity\":{\"type\":\"string\",\"enum\":[\"LOW\",\"MEDIUM\",\"HIGH\",\"CRITICAL\"]},"
    "    \"correlation_id\":{\"$ref\":\"#/definitions/uuid\"},"
    "    \"count\":{\"type\":\"integer\",\"minimum\":0},"
    "    \"tags\":{\"type\":\"array\",\"uniqueItems\":true,\"items\":{\"type\":\"string\"}},"
    "    \"target\":{\"anyOf\":[{\"type\":\"string\",\"format\":\"uri\"},{\"type\":\"null\"}]},"
    "    \"a/b~c\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\"}}}}}},"
    " \"definitions\":{\"uuid\":{\"type\":\"string\",\"format\":\"uuid\"}}}";

static const char *s_event =
    "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
    " \"time\":\"2024-05-01T12:00:00Z\","
    " \"detail\":{\"agent_id\":\"monitor-001\",\"severity\":\"HIGH\","
    "  \"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\",\"count\":1.0,"
    "  \"tags\":[\"disk\",\"io\"],\"target\":null}}";

//  ---------------------------------------------------------------------
//  Messages

START_TEST (test_valid_event)
{
    cab_schema_t *schema = s_schema (s_event_schema);
    cab_error_t error;
    ck_assert_int_eq (s_check (schema, s_event, &error), CAB_OK);
    ck_assert_str_eq (cab_schema_id (schema),
                      "https://cabruca.example/schemas/issue-detection-1.0.json");
    //  NULL error records are allowed.
    json_t *instance = s_json ("{}");
    ck_assert_int_eq (cab_schema_validate (schema, instance, NULL), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_int_eq (cab_schema_validate (NULL, instance, &error), CAB_ERR_INVALID_ARGUMENT);
    json_decref (instance);
    cab_schema_destroy (&schema);
    ck_assert_ptr_null (schema);
    cab_schema_destroy (&schema);
    cab_schema_destroy (NULL);
}
END_TEST

START_TEST (test_messages)
{
    cab_schema_t *schema = s_schema (s_event_schema);
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"SEVERE\","
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail/severity", "enum: must be one of LOW, MEDIUM, HIGH, CRITICAL");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"severity\":\"LOW\"}}",
        "/detail", "required: missing property 'agent_id'");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":7,\"severity\":\"LOW\","
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail/agent_id", "type: must be string, not integer");
    char instance[512];
    snprintf (instance, sizeof instance,
              "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
              "\"detail\":{\"agent_id\":\"%0100d\",\"severity\":\"LOW\","
              "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
              0);
    s_expect_violation (schema, instance, "/detail/agent_id",
                        "maxLength: must be at most 64 characters");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"A B\",\"severity\":\"LOW\","
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail/agent_id", "pattern: must match the pattern '^[a-z0-9-]+$'");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"LOW\","
        "\"correlation_id\":\"nope\"}}",
        "/detail/correlation_id", "format: must be a valid uuid");
    s_expect_violation (schema,
                        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue\","
                        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"LOW\","
                        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
                        "/detail-type", "const: must be Issue Detection");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"LOW\",\"extra\":1,"
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail", "additionalProperties: property 'extra' is not allowed");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"LOW\",\"a/b~c\":{\"x\":1},"
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail/a~1b~0c/x", "type: must be string, not integer");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"LOW\",\"tags\":[\"a\",\"b\",\"a\"],"
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail/tags", "uniqueItems: items 0 and 2 are equal");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"LOW\",\"tags\":[\"a\",2],"
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail/tags/1", "type: must be string, not integer");
    s_expect_violation (
        schema,
        "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue Detection\","
        "\"detail\":{\"agent_id\":\"m\",\"severity\":\"LOW\",\"target\":5,"
        "\"correlation_id\":\"8d3a3f58-7b4e-4c1b-9a55-0f3d5f1e2c11\"}}",
        "/detail/target",
        "anyOf: no alternative matched; closest (1 of 2): type: must be string, "
        "not integer");
    cab_schema_destroy (&schema);

    schema = s_schema ("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}],"
                       " \"properties\":{\"n\":{\"type\":[\"string\",\"null\"]}}}");
    s_expect_violation (schema, "3", "",
                        "oneOf: must match exactly one alternative, but matches 1 and 2");
    s_expect_violation (schema, "1.5", "",
                        "oneOf: no alternative matched; closest (1 of 2): type: must be integer, "
                        "not number");
    cab_schema_destroy (&schema);

    schema = s_schema ("{\"items\":{\"not\":{\"type\":\"string\"}},\"minItems\":2,"
                       " \"propertyNames\":{\"maxLength\":3},"
                       " \"properties\":{\"big\":{\"exclusiveMaximum\":1.5,\"multipleOf\":0.5}},"
                       " \"dependencies\":{\"a\":[\"b\"]}}");
    s_expect_violation (schema, "[1]", "", "minItems: must have at least 2 items");
    s_expect_violation (schema, "[1,\"x\"]", "/1", "not: must not match the 'not' schema");
    s_expect_violation (schema, "{\"long\":1}", "/long",
                        "propertyNames: name 'long' is not valid: maxLength: must be at most 3 "
                        "characters");
    s_expect_violation (schema, "{\"big\":1.5}", "/big", "exclusiveMaximum: must be less than 1.5");
    s_expect_violation (schema, "{\"big\":0.7}", "/big", "multipleOf: must be a multiple of 0.5");
    s_expect_violation (schema, "{\"a\":1}", "",
                        "dependencies: property 'a' requires property 'b'");
    cab_schema_destroy (&schema);

    schema = s_schema ("false");
    s_expect_violation (schema, "1", "", "false: no value is allowed here");
    cab_schema_destroy (&schema);
}
END_TEST

START_TEST (test_semantics)
{
    cab_error_t error;
    //  Integers accept 1.0; const/enum compare numbers by value, objects unordered.
    cab_schema_t *schema =
        s_schema ("{\"type\":\"integer\",\"enum\":[1,{\"a\":[1,2],\"b\":null}]}");
    ck_assert_int_eq (s_check (schema, "1.0", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "1.5", &error), CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    schema = s_schema ("{\"const\":{\"a\":[1,2],\"b\":null}}");
    ck_assert_int_eq (s_check (schema, "{\"b\":null,\"a\":[1.0,2]}", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "{\"b\":null,\"a\":[2,1]}", &error),
                      CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    //  Lengths count code points; \d is ASCII-only; $ does not match before "\n".
    schema = s_schema ("{\"maxLength\":2,\"pattern\":\"^\\\\D*$\"}");
    ck_assert_int_eq (s_check (schema, "\"\\u00e9\\u00e9\"", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "\"\\u0663\"", &error), CAB_OK);  //  Arabic-Indic 3
    ck_assert_int_eq (s_check (schema, "\"1\"", &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_int_eq (s_check (schema, "\"\\u00e9\\u00e9\\u00e9\"", &error),
                      CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    schema = s_schema ("{\"pattern\":\"^a$\"}");
    ck_assert_int_eq (s_check (schema, "\"a\\n\"", &error), CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    schema = s_schema ("{\"pattern\":\"^\\\\w\\\\s\\\\u0041.$\"}");
    ck_assert_int_eq (s_check (schema, "\"a\\u00a0Ab\"", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "\"\\u00e9 Ab\"", &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_int_eq (s_check (schema, "\"a A\\n\"", &error), CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    //  Location-independent identifiers, $id base changes, escaped pointers.
    schema =
        s_schema ("{\"$id\":\"http://example.com/root.json\","
                  " \"definitions\":{\"A\":{\"$id\":\"#foo\",\"type\":\"integer\"},"
                  "  \"B\":{\"$id\":\"other/b.json\",\"definitions\":{\"X\":{\"type\":\"string\"}},"
                  "   \"items\":{\"$ref\":\"#/definitions/X\"}},"
                  "  \"c%d/e~f\":{\"type\":\"boolean\"}},"
                  " \"properties\":{\"a\":{\"$ref\":\"#foo\"},"
                  "  \"b\":{\"$ref\":\"other/b.json\"},"
                  "  \"c\":{\"$ref\":\"#/definitions/c%25d~1e~0f\"},"
                  "  \"d\":{\"$ref\":\"http://example.com/root.json#foo\"}}}");
    ck_assert_int_eq (s_check (schema, "{\"a\":1,\"b\":[\"x\"],\"c\":true,\"d\":2}", &error),
                      CAB_OK);
    ck_assert_int_eq (s_check (schema, "{\"a\":\"1\"}", &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_int_eq (s_check (schema, "{\"b\":[1]}", &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/b/0");
    ck_assert_int_eq (s_check (schema, "{\"c\":1}", &error), CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    schema = s_schema ("{\"allOf\":[{\"$ref\":\"http://localhost:1234/bar#foo\"}],"
                       " \"definitions\":{\"A\":{\"$id\":\"http://localhost:1234/bar#foo\","
                       "  \"type\":\"integer\"}}}");
    ck_assert_int_eq (s_check (schema, "1", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "\"a\"", &error), CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    schema = s_schema ("{\"$id\":\"http://localhost:1234/root\","
                       " \"allOf\":[{\"$ref\":\"http://localhost:1234/nested.json#foo\"}],"
                       " \"definitions\":{\"A\":{\"$id\":\"nested.json\","
                       "  \"definitions\":{\"B\":{\"$id\":\"#foo\",\"type\":\"integer\"}}}}}");
    ck_assert_int_eq (s_check (schema, "1", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "\"a\"", &error), CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    //  $ref beside $id: the $id is ignored (draft-07 ignores $ref's siblings).
    schema = s_schema (
        "{\"$id\":\"http://localhost:1234/sibling_id/base/\","
        " \"definitions\":{\"foo\":{\"$id\":\"http://localhost:1234/sibling_id/foo.json\","
        "  \"type\":\"string\"},"
        "  \"base_foo\":{\"$id\":\"foo.json\",\"type\":\"number\"}},"
        " \"allOf\":[{\"$id\":\"http://localhost:1234/sibling_id/\",\"$ref\":\"foo.json\"}]}");
    ck_assert_int_eq (s_check (schema, "5", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "\"a\"", &error), CAB_ERR_SCHEMA_VIOLATION);
    cab_schema_destroy (&schema);
    //  The metaschema is built in.
    schema = s_schema ("{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}");
    ck_assert_int_eq (s_check (schema, s_event_schema, &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "{\"minLength\":-1}", &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/minLength");
    cab_schema_destroy (&schema);
}
END_TEST

START_TEST (test_compile_errors)
{
    s_expect_compile_error ("{\"properties\":{\"x\":{\"minLength\":-1}}}", CAB_ERR_INVALID_SCHEMA,
                            "/properties/x/minLength", "must be a non-negative integer");
    s_expect_compile_error ("{\"pattern\":\"(\"}", CAB_ERR_INVALID_SCHEMA, "/pattern",
                            "not a valid ECMA-262 regular expression");
    s_expect_compile_error ("{\"pattern\":\"a\\\\Z\"}", CAB_ERR_INVALID_SCHEMA, "/pattern",
                            "not a valid ECMA-262 regular expression");
    s_expect_compile_error ("{\"pattern\":\"(?i)a\"}", CAB_ERR_INVALID_SCHEMA, "/pattern",
                            "not a valid ECMA-262 regular expression");
    s_expect_compile_error ("{\"patternProperties\":{\"a++\":{}}}", CAB_ERR_INVALID_SCHEMA,
                            "/patternProperties", "not a valid ECMA-262 regular expression");
    s_expect_compile_error ("{\"type\":\"text\"}", CAB_ERR_INVALID_SCHEMA, "/type",
                            "must be one of");
    s_expect_compile_error ("{\"allOf\":[]}", CAB_ERR_INVALID_SCHEMA, "/allOf",
                            "must be a non-empty array of schemas");
    s_expect_compile_error ("{\"items\":[{},3]}", CAB_ERR_INVALID_SCHEMA, "/items/1",
                            "must be a schema");
    s_expect_compile_error ("{\"multipleOf\":0}", CAB_ERR_INVALID_SCHEMA, "/multipleOf",
                            "must be a number greater than 0");
    s_expect_compile_error ("{\"required\":[1]}", CAB_ERR_INVALID_SCHEMA, "/required",
                            "must be an array of strings");
    s_expect_compile_error ("{\"$ref\":\"#/definitions/missing\"}", CAB_ERR_UNRESOLVED_REF, "/$ref",
                            "cannot resolve '#/definitions/missing'");
    s_expect_compile_error ("{\"properties\":{\"a\":{\"$ref\":\"#nowhere\"}}}",
                            CAB_ERR_UNRESOLVED_REF, "/properties/a/$ref", "cannot resolve");
    s_expect_compile_error ("{\"$ref\":\"http://example.com/remote.json\"}", CAB_ERR_UNRESOLVED_REF,
                            "/$ref", "cannot resolve 'http://example.com/remote.json'");
    s_expect_compile_error ("{\"$ref\":\"#\"}", CAB_ERR_INVALID_SCHEMA, NULL,
                            "$ref: reference cycle");
    s_expect_compile_error ("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},"
                            "\"b\":{\"$ref\":\"#/definitions/a\"}}}",
                            CAB_ERR_INVALID_SCHEMA, NULL, "$ref: reference cycle");
    s_expect_compile_error ("[1]", CAB_ERR_INVALID_SCHEMA, "", "a schema must be");
    cab_error_t error;
    ck_assert_ptr_null (cab_schema_new (NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_SCHEMA);
}
END_TEST

//  ---------------------------------------------------------------------
//  Hostile input

START_TEST (test_deep_schema)
{
    //  {"not":{"not":...}} 100000 deep: compile refuses, no stack overflow.
    json_t *document = json_object ();
    json_t *inner = document;
    for (int level = 0; level < 100000; level++) {
        json_t *child = json_object ();
        json_object_set_new (inner, "not", child);
        inner = child;
    }
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new (document, &error);
    ck_assert_ptr_null (schema);
    ck_assert_int_eq (error.code, CAB_ERR_TOO_DEEP);
    json_decref (document);
}
END_TEST

START_TEST (test_deep_instance)
{
    cab_schema_t *schema = s_schema ("{\"type\":[\"array\",\"integer\"],\"items\":{\"$ref\":\"#\"},"
                                     " \"uniqueItems\":true,\"enum\":[[[1]],1,[1]]}");
    json_t *instance = json_integer (1);
    for (int level = 0; level < 100000; level++) {
        json_t *array = json_array ();
        json_array_append_new (array, instance);
        instance = array;
    }
    cab_error_t error;
    cab_status_t status = cab_schema_validate (schema, instance, &error);
    ck_assert_int_ne (status, CAB_OK);
    json_decref (instance);
    cab_schema_destroy (&schema);

    schema = s_schema ("{\"items\":{\"$ref\":\"#\"}}");
    instance = json_integer (1);
    for (int level = 0; level < 100000; level++) {
        json_t *array = json_array ();
        json_array_append_new (array, instance);
        instance = array;
    }
    ck_assert_int_eq (cab_schema_validate (schema, instance, &error), CAB_ERR_TOO_DEEP);
    ck_assert_str_eq (error.text, "validation nested deeper than 512 levels");
    json_decref (instance);
    cab_schema_destroy (&schema);
}
END_TEST

START_TEST (test_ref_loops)
{
    //  Applies to the same instance forever: the depth bound stops it.
    cab_schema_t *schema = s_schema ("{\"allOf\":[{\"$ref\":\"#\"}]}");
    cab_error_t error;
    ck_assert_int_eq (s_check (schema, "1", &error), CAB_ERR_TOO_DEEP);
    cab_schema_destroy (&schema);
    schema = s_schema ("{\"anyOf\":[{\"$ref\":\"#/definitions/a\"}],"
                       " \"definitions\":{\"a\":{\"not\":{\"$ref\":\"#\"}}}}");
    ck_assert_int_eq (s_check (schema, "1", &error), CAB_ERR_TOO_DEEP);
    cab_schema_destroy (&schema);
    //  Recursion that consumes input is fine.
    schema = s_schema ("{\"properties\":{\"next\":{\"$ref\":\"#\"}},\"required\":[\"v\"]}");
    ck_assert_int_eq (s_check (schema, "{\"v\":1,\"next\":{\"v\":2,\"next\":{\"v\":3}}}", &error),
                      CAB_OK);
    ck_assert_int_eq (s_check (schema, "{\"v\":1,\"next\":{\"next\":{\"v\":3}}}", &error),
                      CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/next");
    cab_schema_destroy (&schema);
}
END_TEST

START_TEST (test_huge)
{
    //  A 100000-member enum and a 100000-item uniqueItems array.
    json_t *values = json_array ();
    char name[32];
    for (int index = 0; index < 100000; index++) {
        snprintf (name, sizeof name, "value-%d", index);
        json_array_append_new (values, json_string (name));
    }
    json_array_append_new (values, json_integer (7));
    json_t *document = json_pack ("{s:O,s:{s:b}}", "enum", values, "items", "uniqueItems", 1);
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new (document, &error);
    ck_assert_ptr_nonnull (schema);
    json_t *instance = json_string ("value-99999");
    ck_assert_int_eq (cab_schema_validate (schema, instance, &error), CAB_OK);
    json_decref (instance);
    instance = json_real (7.0);
    ck_assert_int_eq (cab_schema_validate (schema, instance, &error), CAB_OK);
    json_decref (instance);
    instance = json_string ("value-100000");
    ck_assert_int_eq (cab_schema_validate (schema, instance, &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_msg (strlen (error.text) < CAB_ERROR_TEXT_MAX, "bounded message");
    json_decref (instance);
    cab_schema_destroy (&schema);
    json_decref (document);

    schema = s_schema ("{\"uniqueItems\":true}");
    json_t *array = json_array ();
    for (int index = 0; index < 100000; index++)
        json_array_append_new (array, index % 2 ? json_integer (index) : json_real (index + 0.5));
    ck_assert_int_eq (cab_schema_validate (schema, array, &error), CAB_OK);
    json_array_append_new (array, json_real (99999.0));  //  Equals the integer 99999
    ck_assert_int_eq (cab_schema_validate (schema, array, &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.text, "uniqueItems: items 99999 and 100000 are equal");
    json_decref (array);
    json_decref (values);
    cab_schema_destroy (&schema);

    //  Catastrophic backtracking stops at the match limit.
    schema = s_schema ("{\"pattern\":\"^(a+)+$\"}");
    char subject[64];
    memset (subject, 'a', sizeof subject - 2);
    subject[sizeof subject - 2] = 'b';
    subject[sizeof subject - 1] = '\0';
    instance = json_string (subject);
    cab_status_t status = cab_schema_validate (schema, instance, &error);
    ck_assert (status == CAB_ERR_SCHEMA_VIOLATION || status == CAB_ERR_TOO_LARGE);
    json_decref (instance);
    cab_schema_destroy (&schema);
}
END_TEST

//  ---------------------------------------------------------------------
//  Ownership, files, allocation failure

START_TEST (test_ownership)
{
    json_t *document = s_json ("{\"type\":\"string\"}");
    cab_schema_t *schema = cab_schema_new (document, NULL);
    ck_assert_ptr_nonnull (schema);
    ck_assert_int_gt (document->refcount, 1);
    ck_assert_ptr_eq (cab_schema_document (schema), document);
    ck_assert_ptr_null (cab_schema_id (schema));
    cab_schema_destroy (&schema);
    ck_assert_int_eq (document->refcount, 1);
    json_decref (document);
}
END_TEST

START_TEST (test_load)
{
    char directory[] = "/tmp/test_cab_schema.XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (directory));
    char path[256];
    snprintf (path, sizeof path, "%s/schema.json", directory);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fputs (s_event_schema, file);
    fclose (file);
    cab_error_t error;
    cab_schema_t *schema = cab_schema_load (path, &error);
    ck_assert_ptr_nonnull (schema);
    ck_assert_int_eq (s_check (schema, s_event, &error), CAB_OK);
    cab_schema_destroy (&schema);
    file = fopen (path, "w");
    fputs ("{\"type\":", file);
    fclose (file);
    ck_assert_ptr_null (cab_schema_load (path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);
    unlink (path);
    ck_assert_ptr_null (cab_schema_load (path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_IO);
    ck_assert_ptr_null (cab_schema_load (NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    rmdir (directory);
}
END_TEST

static long s_alloc_budget = -1;  //  -1: unlimited

static void *
s_failing_malloc (size_t size)
{
    if (s_alloc_budget == 0)
        return NULL;
    if (s_alloc_budget > 0)
        s_alloc_budget--;
    return malloc (size);
}

START_TEST (test_allocation_failure)
{
    json_set_alloc_funcs (s_failing_malloc, free);
    const char *texts[] = {
        s_event_schema,
        "{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}",
    };
    const char *instances[] = {s_event, s_event_schema};
    for (size_t which = 0; which < 2; which++) {
        json_t *document = s_json (texts[which]);
        json_t *instance = s_json (instances[which]);
        bool compiled = false, validated = false;
        for (long budget = 0; budget < 100000 && !(compiled && validated); budget++) {
            cab_error_t error;
            cab_error_clear (&error);
            s_alloc_budget = budget;
            cab_schema_t *schema = cab_schema_new (document, &error);
            if (!schema) {
                s_alloc_budget = -1;
                ck_assert_msg (error.code == CAB_ERR_NOMEM, "budget %ld: %s %s", budget, error.path,
                               error.text);
                continue;
            }
            compiled = true;
            cab_status_t status = cab_schema_validate (schema, instance, &error);
            s_alloc_budget = -1;
            ck_assert_msg (status == CAB_OK || status == CAB_ERR_NOMEM, "budget %ld: %s", budget,
                           error.text);
            validated = status == CAB_OK;
            cab_schema_destroy (&schema);
        }
        s_alloc_budget = -1;
        ck_assert (compiled && validated);
        json_decref (document);
        json_decref (instance);
    }
    json_set_alloc_funcs (malloc, free);
}
END_TEST

//  ---------------------------------------------------------------------
//  An HTTP server for the suite's remotes/ directory, on 127.0.0.1

typedef struct {
    int listener;
    int port;
    char root[512];
    volatile int stop;
    pthread_t thread;
    int fetches;
} s_server_t;

static void
s_serve_one (s_server_t *server, int connection)
{
    char request[2048] = "";
    size_t used = 0;
    while (used < sizeof request - 1 && !strstr (request, "\r\n\r\n")) {
        struct pollfd poller = {connection, POLLIN, 0};
        if (poll (&poller, 1, 5000) <= 0)
            return;
        ssize_t got = recv (connection, request + used, sizeof request - 1 - used, 0);
        if (got <= 0)
            return;
        used += (size_t)got;
        request[used] = '\0';
    }
    char path[256] = "";
    char body[65536];
    size_t length = 0;
    const char *status = "404 Not Found";
    if (sscanf (request, "GET /%255s HTTP/", path) == 1 && !strstr (path, "..")) {
        char file_path[1024];
        snprintf (file_path, sizeof file_path, "%s/%s", server->root, path);
        FILE *file = fopen (file_path, "rb");
        if (file) {
            length = fread (body, 1, sizeof body, file);
            fclose (file);
            status = "200 OK";
        }
    }
    char header[256];
    int header_length = snprintf (header, sizeof header,
                                  "HTTP/1.0 %s\r\nContent-Type: application/json\r\n"
                                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                  status, length);
    if (send (connection, header, (size_t)header_length, MSG_NOSIGNAL) == header_length && length)
        (void)!send (connection, body, length, MSG_NOSIGNAL);
}

static void *
s_server_run (void *arg)
{
    s_server_t *server = arg;
    while (!server->stop) {
        struct pollfd poller = {server->listener, POLLIN, 0};
        if (poll (&poller, 1, 100) <= 0)
            continue;
        int connection = accept (server->listener, NULL, NULL);
        if (connection < 0)
            continue;
        s_serve_one (server, connection);
        close (connection);
    }
    return NULL;
}

static void
s_server_start (s_server_t *server, const char *root)
{
    memset (server, 0, sizeof *server);
    snprintf (server->root, sizeof server->root, "%s", root);
    server->listener = socket (AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge (server->listener, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    address.sin_port = 0;
    ck_assert_int_eq (bind (server->listener, (struct sockaddr *)&address, sizeof address), 0);
    ck_assert_int_eq (listen (server->listener, 16), 0);
    socklen_t size = sizeof address;
    ck_assert_int_eq (getsockname (server->listener, (struct sockaddr *)&address, &size), 0);
    server->port = ntohs (address.sin_port);
    ck_assert_int_eq (pthread_create (&server->thread, NULL, s_server_run, server), 0);
}

static void
s_server_stop (s_server_t *server)
{
    server->stop = 1;
    pthread_join (server->thread, NULL);
    close (server->listener);
}

typedef struct {
    char *data;
    size_t length;
} s_body_t;

static size_t
s_curl_write (char *data, size_t size, size_t count, void *arg)
{
    s_body_t *body = arg;
    size_t bytes = size * count;
    if (body->length + bytes > 1024 * 1024)
        return 0;  //  Bounded: 1 MB
    char *grown = realloc (body->data, body->length + bytes + 1);
    if (!grown)
        return 0;
    body->data = grown;
    memcpy (body->data + body->length, data, bytes);
    body->length += bytes;
    body->data[body->length] = '\0';
    return bytes;
}

//  The resolver: http://localhost:1234/ is the suite's name for remotes/.
static json_t *
s_resolve (const char *uri, void *arg, cab_error_t *error)
{
    s_server_t *server = arg;
    const char *prefix = "http://localhost:1234/";
    if (strncmp (uri, prefix, strlen (prefix)) != 0) {
        cab_error_set (error, CAB_ERR_UNRESOLVED_REF, NULL, "unknown remote %s", uri);
        return NULL;
    }
    char url[1024];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/%s", server->port, uri + strlen (prefix));
    CURL *curl = curl_easy_init ();
    s_body_t body = {NULL, 0};
    long code = 0;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_PROXY, "");
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_curl_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body);
    CURLcode result = curl_easy_perform (curl);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup (curl);
    server->fetches++;
    json_t *document = NULL;
    if (result != CURLE_OK || code != 200)
        cab_error_set (error, CAB_ERR_UNRESOLVED_REF, NULL, "GET %s: %s (HTTP %ld)", url,
                       curl_easy_strerror (result), code);
    else if (!(document = json_loadb (body.data, body.length, 0, NULL)))
        cab_error_set (error, CAB_ERR_UNRESOLVED_REF, NULL, "GET %s: not JSON", url);
    free (body.data);
    return document;
}

START_TEST (test_remote_resolver)
{
    const char *suite = getenv ("JSTS_DIR");
    char root[600];
    snprintf (root, sizeof root, "%s/remotes",
              suite && *suite ? suite : "/usr/share/json-schema-test-suite");
    s_server_t server;
    s_server_start (&server, root);
    json_t *document = s_json ("{\"$id\":\"http://localhost:1234/\","
                               " \"properties\":{\"a\":{\"$ref\":\"integer.json\"},"
                               "  \"b\":{\"$ref\":\"subSchemas.json#/refToInteger\"},"
                               "  \"c\":{\"$ref\":\"integer.json\"},"
                               "  \"d\":{\"$ref\":\"folder/folderInteger.json\"}}}");
    cab_error_t error;
    cab_schema_t *schema = cab_schema_new_with_resolver (document, s_resolve, &server, &error);
    ck_assert_msg (schema != NULL, "%s %s", error.path, error.text);
    ck_assert_int_eq (server.fetches, 3);  //  Each URI at most once
    ck_assert_int_eq (s_check (schema, "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", &error), CAB_OK);
    ck_assert_int_eq (s_check (schema, "{\"b\":\"x\"}", &error), CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/b");
    cab_schema_destroy (&schema);
    json_decref (document);
    //  A missing remote is an unresolved reference.
    document = s_json ("{\"$ref\":\"http://localhost:1234/missing.json\"}");
    ck_assert_ptr_null (cab_schema_new_with_resolver (document, s_resolve, &server, &error));
    ck_assert_int_eq (error.code, CAB_ERR_UNRESOLVED_REF);
    json_decref (document);
    s_server_stop (&server);
}
END_TEST

//  ---------------------------------------------------------------------
//  The JSON Schema Test Suite

typedef struct {
    char *file, *group, *test, *reason;
    int used;
} s_skip_t;

typedef struct {
    s_skip_t skips[256];
    int skip_count;
    int passed, failed, skipped;
    s_server_t *server;
} s_run_t;

static void
s_load_skips (s_run_t *run)
{
    const char *srcdir = getenv ("CAB_SRCDIR");
    char path[1024];
    snprintf (path, sizeof path, "%s/tests/conformance/jsts-skips.txt", srcdir ? srcdir : ".");
    FILE *file = fopen (path, "r");
    ck_assert_msg (file != NULL, "cannot open %s", path);
    char line[2048];
    while (fgets (line, sizeof line, file)) {
        line[strcspn (line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *fields[4] = {line, NULL, NULL, NULL};
        for (int index = 1; index < 4; index++) {
            char *tab = fields[index - 1] ? strchr (fields[index - 1], '\t') : NULL;
            ck_assert_msg (tab != NULL, "jsts-skips.txt: need 4 tab-separated fields: %s", line);
            *tab = '\0';
            fields[index] = tab + 1;
        }
        ck_assert_int_lt (run->skip_count, 256);
        s_skip_t *skip = &run->skips[run->skip_count++];
        skip->file = strdup (fields[0]);
        skip->group = strdup (fields[1]);
        skip->test = strdup (fields[2]);
        skip->reason = strdup (fields[3]);
        skip->used = 0;
    }
    fclose (file);
}

static void
s_free_skips (s_run_t *run)
{
    for (int index = 0; index < run->skip_count; index++) {
        free (run->skips[index].file);
        free (run->skips[index].group);
        free (run->skips[index].test);
        free (run->skips[index].reason);
    }
}

static s_skip_t *
s_find_skip (s_run_t *run, const char *file, const char *group, const char *test)
{
    for (int index = 0; index < run->skip_count; index++) {
        s_skip_t *skip = &run->skips[index];
        if (strcmp (skip->file, file) == 0 && strcmp (skip->group, group) == 0 &&
            strcmp (skip->test, test) == 0)
            return skip;
    }
    return NULL;
}

//  Run every case of one suite file; count into run.
static void
s_run_file (s_run_t *run, const char *suite, const char *name, size_t flags)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/tests/draft7/%s", suite, name);
    json_error_t json_error;
    json_t *groups = json_load_file (path, flags, &json_error);
    ck_assert_msg (groups != NULL, "%s: %s", path, json_error.text);
    size_t group_index;
    json_t *group;
    json_array_foreach (groups, group_index, group)
    {
        const char *group_name = json_string_value (json_object_get (group, "description"));
        cab_error_t error;
        cab_schema_t *schema = cab_schema_new_with_resolver (json_object_get (group, "schema"),
                                                             s_resolve, run->server, &error);
        size_t test_index;
        json_t *test;
        json_array_foreach (json_object_get (group, "tests"), test_index, test)
        {
            const char *test_name = json_string_value (json_object_get (test, "description"));
            bool expected = json_is_true (json_object_get (test, "valid"));
            cab_status_t status = CAB_ERR_INVALID_SCHEMA;
            cab_error_t verdict;
            cab_error_clear (&verdict);
            if (schema)
                status = cab_schema_validate (schema, json_object_get (test, "data"), &verdict);
            bool passed =
                schema && (expected ? status == CAB_OK : status == CAB_ERR_SCHEMA_VIOLATION);
            s_skip_t *skip = s_find_skip (run, name, group_name, test_name);
            if (skip) {
                skip->used = 1;
                run->skipped++;
                if (passed)
                    printf ("note: skipped test passes now: %s | %s | %s\n", name, group_name,
                            test_name);
            } else if (passed)
                run->passed++;
            else {
                run->failed++;
                printf ("FAIL %s | %s | %s: expected %s, got %s (%s%s%s)\n", name, group_name,
                        test_name, expected ? "valid" : "invalid", cab_status_name (status),
                        schema ? verdict.path : error.path,
                        schema ? " " : " compile: ", schema ? verdict.text : error.text);
            }
        }
        cab_schema_destroy (&schema);
    }
    json_decref (groups);
}

static int
s_name_compare (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

START_TEST (test_json_schema_test_suite)
{
    const char *suite = getenv ("JSTS_DIR");
    if (!suite || !*suite)
        suite = "/usr/share/json-schema-test-suite";
    char directory[1024];
    snprintf (directory, sizeof directory, "%s/tests/draft7", suite);
    DIR *listing = opendir (directory);
    ck_assert_msg (listing != NULL, "JSON Schema Test Suite not found at %s", suite);
    char *names[128];
    int name_count = 0;
    struct dirent *entry;
    while ((entry = readdir (listing)) && name_count < 128) {
        size_t length = strlen (entry->d_name);
        if (length > 5 && strcmp (entry->d_name + length - 5, ".json") == 0)
            names[name_count++] = strdup (entry->d_name);
    }
    closedir (listing);
    qsort (names, (size_t)name_count, sizeof names[0], s_name_compare);
    ck_assert_int_gt (name_count, 30);

    char remotes[1100];
    snprintf (remotes, sizeof remotes, "%s/remotes", suite);
    s_server_t server;
    s_server_start (&server, remotes);
    s_run_t *run = calloc (1, sizeof *run);
    run->server = &server;
    s_load_skips (run);

    for (int index = 0; index < name_count; index++)
        s_run_file (run, suite, names[index], 0);
    int required_passed = run->passed, required_failed = run->failed,
        required_skipped = run->skipped;

    //  Optional tests for what cabruca supports. bignum.json is read with
    //  integers as reals: jansson's integers are 64-bit.
    static const char *optional[] = {
        "optional/format/date-time.json",
        "optional/format/date.json",
        "optional/format/time.json",
        "optional/format/email.json",
        "optional/format/ipv4.json",
        "optional/format/ipv6.json",
        "optional/format/hostname.json",
        "optional/format/uri.json",
        "optional/format/uri-reference.json",
        "optional/format/regex.json",
        "optional/format/json-pointer.json",
        "optional/format/relative-json-pointer.json",
        "optional/format/uuid.json",
        "optional/ecmascript-regex.json",
        "optional/zeroTerminatedFloats.json",
        "optional/content.json",
        "optional/bignum.json",
    };
    run->passed = run->failed = run->skipped = 0;
    int format_passed = 0, format_total = 0, optional_failed = 0;
    for (size_t index = 0; index < sizeof optional / sizeof optional[0]; index++) {
        char path[1200];
        snprintf (path, sizeof path, "%s/tests/draft7/%s", suite, optional[index]);
        if (access (path, R_OK) != 0)
            continue;  //  Not in this version of the suite
        s_run_file (run, suite, optional[index],
                    strstr (optional[index], "bignum") ? JSON_DECODE_INT_AS_REAL : 0);
        if (strncmp (optional[index], "optional/format/", 16) == 0) {
            format_passed += run->passed;
            format_total += run->passed + run->failed + run->skipped;
        }
        optional_failed += run->failed;
        run->passed = run->failed = run->skipped = 0;
    }
    printf ("draft7: %d/%d required tests passed, %d skipped; optional/format: %d/%d "
            "(formats not run: idn-email, idn-hostname, iri, iri-reference, uri-template); "
            "%d optional failures\n",
            required_passed, required_passed + required_failed + required_skipped, required_skipped,
            format_passed, format_total, optional_failed);
    for (int index = 0; index < run->skip_count; index++) {
        s_skip_t *skip = &run->skips[index];
        if (skip->used)
            printf ("skipped: %s | %s | %s: %s\n", skip->file, skip->group, skip->test,
                    skip->reason);
        else
            printf ("STALE skip entry (matches no test): %s | %s | %s\n", skip->file, skip->group,
                    skip->test);
    }
    fflush (stdout);
    int stale = 0;
    for (int index = 0; index < run->skip_count; index++)
        stale += !run->skips[index].used;
    s_free_skips (run);
    free (run);
    s_server_stop (&server);
    for (int index = 0; index < name_count; index++)
        free (names[index]);
    ck_assert_msg (required_failed == 0, "%d required suite tests failed", required_failed);
    ck_assert_msg (optional_failed == 0, "%d optional suite tests failed", optional_failed);
    ck_assert_msg (stale == 0, "%d stale entries in jsts-skips.txt", stale);
}
END_TEST

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    Suite *suite = suite_create ("cab_schema");
    TCase *messages = tcase_create ("messages");
    tcase_add_test (messages, test_valid_event);
    tcase_add_test (messages, test_messages);
    tcase_add_test (messages, test_semantics);
    tcase_add_test (messages, test_compile_errors);
    suite_add_tcase (suite, messages);
    TCase *hostile = tcase_create ("hostile");
    tcase_add_test (hostile, test_deep_schema);
    tcase_add_test (hostile, test_deep_instance);
    tcase_add_test (hostile, test_ref_loops);
    tcase_add_test (hostile, test_huge);
    suite_add_tcase (suite, hostile);
    TCase *lifecycle = tcase_create ("lifecycle");
    tcase_add_test (lifecycle, test_ownership);
    tcase_add_test (lifecycle, test_load);
    tcase_add_test (lifecycle, test_allocation_failure);
    suite_add_tcase (suite, lifecycle);
    TCase *conformance = tcase_create ("conformance");
    tcase_add_test (conformance, test_remote_resolver);
    tcase_add_test (conformance, test_json_schema_test_suite);
    suite_add_tcase (suite, conformance);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    curl_global_cleanup ();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
