/*  =========================================================================
    test_cab_rules - rule files: loading the default rules, every validation
    error with its code and JSON Pointer, hostile files, reference counting,
    matching (the examples of schemas/examples against the default rules,
    as tests/terraform/rules-default.sh routes them) and subscriptions.

    Documents in the error table are written with ' for " to stay readable.
    =========================================================================
*/
#include "cab_rules.h"
#include "cab_transform.h"
#include "failmalloc.h"
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_srcdir[1024];
static char s_tmp[256];

static void
s_setup (void)
{
    const char *srcdir = getenv ("CAB_SRCDIR");
    snprintf (s_srcdir, sizeof s_srcdir, "%s", srcdir ? srcdir : ".");
    snprintf (s_tmp, sizeof s_tmp, "%s/cab-rules-XXXXXX",
              getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull (mkdtemp (s_tmp));
}

static void
s_teardown (void)
{
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", s_tmp);
    ck_assert_int_eq (system (command), 0);
}

static cab_rules_t *
s_default (const char *data_dir, cab_error_t *error)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/schemas/rules/default.json", s_srcdir);
    return cab_rules_load (path, data_dir, error);
}

//  Parse text with ' for ", then cab_rules_parse it.
static cab_rules_t *
s_parse (const char *text, cab_error_t *error)
{
    char *copy = strdup (text);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t jerror;
    json_t *document = json_loads (copy, JSON_DECODE_ANY, &jerror);
    ck_assert_msg (document != NULL, "test document: %s: %s", jerror.text, copy);
    free (copy);
    cab_rules_t *rules = cab_rules_parse (document, "/data", error);
    json_decref (document);
    return rules;
}

static void
s_write (const char *name, const char *bytes, size_t size, char *path, size_t path_size)
{
    snprintf (path, path_size, "%s/%s", s_tmp, name);
    FILE *file = fopen (path, "wb");
    ck_assert_ptr_nonnull (file);
    ck_assert_uint_eq (fwrite (bytes, 1, size, file), size);
    fclose (file);
}

//  ---------------------------------------------------------------------

START_TEST (test_default_rules)
{
    cab_error_t error;
    cab_rules_t *rules = s_default ("/var/lib/cabruca", &error);
    ck_assert_msg (rules != NULL, "%s: %s", error.path, error.text);
    ck_assert_uint_eq (cab_rules_count (rules), 6);

    const cab_rule_t *rule = cab_rules_get (rules, 0);
    ck_assert_str_eq (rule->name, "issue-detection-log");
    ck_assert (rule->enabled);
    ck_assert_str_eq (rule->description, "Every Issue Detection event goes to the event log.");
    ck_assert_uint_eq (rule->target_count, 1);
    const cab_rule_target_t *target = &rule->targets[0];
    ck_assert_str_eq (target->id, "event-log");
    ck_assert_int_eq (target->type, CAB_TARGET_LOG);
    ck_assert_str_eq (target->path, "/var/lib/cabruca/logs/issues.jsonl");
    ck_assert_int_eq (target->max_bytes, 10 * 1024 * 1024);
    ck_assert_int_eq (target->keep, 5);
    ck_assert_int_eq (target->max_attempts, 185);
    ck_assert_int_eq (target->max_age_s, 86400);
    ck_assert_int_eq (target->dlq, CAB_DLQ_STANDARD);
    ck_assert_ptr_null (target->transform);
    ck_assert_str_eq (
        json_string_value (json_array_get (json_object_get (rule->pattern, "detail-type"), 0)),
        "Issue Detection");

    target = cab_rules_target (rules, "high-severity-alert", "alert");
    ck_assert_ptr_nonnull (target);
    ck_assert_int_eq (target->type, CAB_TARGET_COMMAND);
    ck_assert_uint_eq (target->argc, 5);
    ck_assert_str_eq (target->argv[0], "logger");
    ck_assert_str_eq (target->argv[4], "user.crit");
    ck_assert_ptr_null (target->argv[5]);
    ck_assert_int_eq (target->timeout_ms, 10000);
    ck_assert_int_eq (target->max_attempts, 20);
    ck_assert_int_eq (target->max_age_s, 3600);
    ck_assert_int_eq (target->dlq, CAB_DLQ_CRITICAL);
    ck_assert_ptr_nonnull (target->transform);

    target = cab_rules_target (rules, "feature-request-product-queue", "product-management");
    ck_assert_int_eq (target->type, CAB_TARGET_AGENT);
    ck_assert_str_eq (target->queue, "product-management");
    ck_assert_int_eq (target->timeout_ms, 0);

    target = cab_rules_target (rules, "approved-code-change-cicd", "cicd");
    ck_assert_str_eq (target->queue, "cicd");
    ck_assert_int_eq (target->max_attempts, 50);
    ck_assert_int_eq (target->max_age_s, 21600);
    ck_assert_int_eq (target->dlq, CAB_DLQ_CRITICAL);

    target = cab_rules_target (rules, "test-results-tracking", "tracking");
    ck_assert_str_eq (target->path, "/var/lib/cabruca/logs/test-results.jsonl");
    target = cab_rules_target (rules, "failed-tests-investigation", "investigation");
    ck_assert_str_eq (target->queue, "investigation");

    ck_assert_ptr_null (cab_rules_find (rules, "nope"));
    ck_assert_ptr_null (cab_rules_target (rules, "high-severity-alert", "nope"));
    ck_assert_ptr_null (cab_rules_target (rules, "nope", "alert"));
    ck_assert_ptr_null (cab_rules_get (rules, 6));
    ck_assert_ptr_eq (cab_rules_find (rules, "test-results-tracking"), cab_rules_get (rules, 4));
    cab_rules_unref (&rules);
    ck_assert_ptr_null (rules);
}
END_TEST

START_TEST (test_default_transform)
{
    //  The alert's message, as logger gets it.
    cab_rules_t *rules = s_default (NULL, NULL);
    ck_assert_ptr_nonnull (rules);
    const cab_rule_target_t *target = cab_rules_target (rules, "high-severity-alert", "alert");
    const char *event = "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue "
                        "Detection\",\"detail\":{\"severity\":\"CRITICAL\",\"issue_type\":"
                        "\"disk\",\"agent_id\":\"monitor-1\",\"description\":\"/ is 99% full\"}}";
    char *out = NULL;
    size_t size = 0;
    ck_assert_int_eq (cab_transform_apply (target->transform, event, strlen (event),
                                           "high-severity-alert", 0, &out, &size, NULL),
                      CAB_OK);
    ck_assert_str_eq (out, "\"CRITICAL disk reported by monitor-1: / is 99% full\"");
    free (out);
    //  Relative log paths without a data_dir resolve against the cwd.
    char cwd[1024], expect[1200];
    ck_assert_ptr_nonnull (getcwd (cwd, sizeof cwd));
    snprintf (expect, sizeof expect, "%s/logs/issues.jsonl", cwd);
    ck_assert_str_eq (cab_rules_target (rules, "issue-detection-log", "event-log")->path, expect);
    cab_rules_unref (&rules);
}
END_TEST

//  ---------------------------------------------------------------------
//  Every validation error, with its code and pointer.

#define T0          "{'id':'t','type':'agent','queue':'q'}"
#define R0(targets) "{'name':'r','event_pattern':{'source':['s']},'targets':[" targets "]}"
#define DOC(rule)   "{'rules':[" rule "]}"
#define TGT(fields) DOC (R0 ("{'id':'t'," fields "}"))

static const struct {
    const char *name;
    const char *document;
    cab_status_t code;
    const char *path;
    const char *text;  //  a substring of the message
} s_errors[] = {
    {"not an object", "[]", CAB_ERR_INVALID_CONFIG, "", "JSON object"},
    {"unknown top key", "{'rules':[],'x':1}", CAB_ERR_INVALID_CONFIG, "/x", "unknown key 'x'"},
    {"pointer escaping", "{'rules':[],'a/b~':1}", CAB_ERR_INVALID_CONFIG, "/a~1b~0", "unknown"},
    {"rules missing", "{}", CAB_ERR_INVALID_CONFIG, "/rules", "required"},
    {"rules not array", "{'rules':{}}", CAB_ERR_INVALID_CONFIG, "/rules", "array"},
    {"rule not object", "{'rules':[1]}", CAB_ERR_INVALID_CONFIG, "/rules/0", "object"},
    {"unknown rule key",
     DOC ("{'name':'r','event_pattern':{'a':[1]},'targets':[" T0 "],'state':1}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/state", "unknown key 'state' in rule"},
    {"name missing", DOC ("{'event_pattern':{'a':[1]},'targets':[" T0 "]}"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/name", "required"},
    {"name with space", DOC ("{'name':'has space','event_pattern':{'a':[1]},'targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/name", "1 to 64"},
    {"name too long",
     DOC ("{'name':'"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "','event_pattern':{'a':[1]},'targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/name", "1 to 64"},
    {"name empty", DOC ("{'name':'','event_pattern':{'a':[1]},'targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/name", NULL},
    {"name not string", DOC ("{'name':7,'event_pattern':{'a':[1]},'targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/name", NULL},
    {"name duplicate", "{'rules':[" R0 (T0) "," R0 (T0) "]}", CAB_ERR_INVALID_CONFIG,
     "/rules/1/name", "already used by /rules/0"},
    {"description not string",
     DOC ("{'name':'r','description':1,'event_pattern':{'a':[1]},'targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/description", "string"},
    {"enabled not boolean",
     DOC ("{'name':'r','enabled':'yes','event_pattern':{'a':[1]},'targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/enabled", "true or false"},
    {"pattern missing", DOC ("{'name':'r','targets':[" T0 "]}"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/event_pattern", "required"},
    {"pattern empty", DOC ("{'name':'r','event_pattern':{},'targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/event_pattern", "non-empty"},
    {"pattern not object", DOC ("{'name':'r','event_pattern':'x','targets':[" T0 "]}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/event_pattern", NULL},
    {"pattern invalid",
     "{'rules':[" R0 (T0) ",{'name':'b','event_pattern':{'a':[1]},'targets':[" T0
                          "]},{'name':'c','event_pattern':{'a':[1]},'targets':[" T0
                          "]},{'name':'d','event_pattern':{'detail':{'x':'HIGH'}},'targets':[" T0
                          "]}]}",
     CAB_ERR_INVALID_PATTERN, "/rules/3/event_pattern/detail/x", NULL},
    {"pattern invalid in a disabled rule",
     DOC ("{'name':'r','enabled':false,'event_pattern':{'detail':{'x':[{'prefix':1}]}},'targets':"
          "[" T0 "]}"),
     CAB_ERR_INVALID_PATTERN, "/rules/0/event_pattern/detail/x/0/prefix", NULL},
    {"targets missing", DOC ("{'name':'r','event_pattern':{'a':[1]}}"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets", "required"},
    {"targets empty", DOC (R0 ("")), CAB_ERR_INVALID_CONFIG, "/rules/0/targets", "1 to 5"},
    {"six targets",
     DOC (R0 ("{'id':'a','type':'agent','queue':'q'},{'id':'b','type':'agent','queue':'q'},"
              "{'id':'c','type':'agent','queue':'q'},{'id':'d','type':'agent','queue':'q'},"
              "{'id':'e','type':'agent','queue':'q'},{'id':'f','type':'agent','queue':'q'}")),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets", "1 to 5"},
    {"target not object", DOC (R0 ("[]")), CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0", "object"},
    {"target unknown key", TGT ("'type':'agent','queue':'q','arn':'x'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/arn", "unknown key 'arn' in target"},
    {"target id missing", DOC (R0 ("{'type':'agent','queue':'q'}")), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/id", "required"},
    {"target id bad", DOC (R0 ("{'id':'a b','type':'agent','queue':'q'}")), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/id", NULL},
    {"target id duplicate", DOC (R0 (T0 "," T0)), CAB_ERR_INVALID_CONFIG, "/rules/0/targets/1/id",
     "already used by /rules/0/targets/0"},
    {"type missing", TGT ("'queue':'q'"), CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/type",
     "required"},
    {"type unknown", TGT ("'type':'sqs','queue':'q'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/type", "agent, command, http or log"},
    {"field of another type", TGT ("'type':'log','path':'x','queue':'q'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/queue", "does not apply to a log target"},
    {"timeout on agent", TGT ("'type':'agent','queue':'q','timeout_ms':1000"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/timeout_ms", "does not apply"},
    {"queue missing", TGT ("'type':'agent'"), CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/queue",
     "required"},
    {"queue bad", TGT ("'type':'agent','queue':'a/b'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/queue", NULL},
    {"command missing", TGT ("'type':'command'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/command", "needs 'command'"},
    {"command not array", TGT ("'type':'command','command':'ls -l'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/command", "array of 1 to 64"},
    {"command empty", TGT ("'type':'command','command':[]"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/command", "array of 1 to 64"},
    {"command argument not string", TGT ("'type':'command','command':['ls',1]"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/command/1", "1 to 4096"},
    {"command argument empty", TGT ("'type':'command','command':['']"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/command/0", NULL},
    {"url missing", TGT ("'type':'http'"), CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/url",
     "needs 'url'"},
    {"url scheme", TGT ("'type':'http','url':'ftp://h/x'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/url", "http:// or https://"},
    {"url no host", TGT ("'type':'http','url':'https://'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/url", "with a host"},
    {"url with space", TGT ("'type':'http','url':'http://h/a b'"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/url", "space"},
    {"headers not object", TGT ("'type':'http','url':'http://h','headers':[]"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/headers", "object"},
    {"header name not a token", TGT ("'type':'http','url':'http://h','headers':{'Bad Name':'v'}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/headers/Bad Name", "HTTP token"},
    {"header value CRLF",
     TGT ("'type':'http','url':'http://h','headers':{'X-A':'v\\r\\nX-Evil: 1'}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/headers/X-A", "CR, LF"},
    {"header value not string", TGT ("'type':'http','url':'http://h','headers':{'X-A':1}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/headers/X-A", "string value"},
    {"header reserved", TGT ("'type':'http','url':'http://h','headers':{'Host':'x'}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/headers/Host", "HTTP client"},
    {"rate too high", TGT ("'type':'http','url':'http://h','rate_per_second':301"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/rate_per_second", "0 (unlimited) to 300"},
    {"rate negative", TGT ("'type':'http','url':'http://h','rate_per_second':-1"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/rate_per_second", NULL},
    {"timeout too small", TGT ("'type':'http','url':'http://h','timeout_ms':99"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/timeout_ms", "100 to 300000"},
    {"timeout too large", TGT ("'type':'command','command':['x'],'timeout_ms':300001"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/timeout_ms", "100 to 300000"},
    {"timeout not integer", TGT ("'type':'command','command':['x'],'timeout_ms':1500.5"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/timeout_ms", "integer"},
    {"log path missing", TGT ("'type':'log'"), CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/path",
     "needs 'path'"},
    {"log path empty", TGT ("'type':'log','path':''"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/path", NULL},
    {"max_bytes too small", TGT ("'type':'log','path':'x','max_bytes':4095"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/max_bytes", "4096"},
    {"keep too large", TGT ("'type':'log','path':'x','keep':101"), CAB_ERR_INVALID_CONFIG,
     "/rules/0/targets/0/keep", "0 to 100"},
    {"retry policy not object", TGT ("'type':'agent','queue':'q','retry_policy':3"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/retry_policy", "object"},
    {"retry policy unknown key",
     TGT ("'type':'agent','queue':'q','retry_policy':{'maximum_retry_attempt':3}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/retry_policy/maximum_retry_attempt",
     "unknown key"},
    {"attempts over 185",
     TGT ("'type':'agent','queue':'q','retry_policy':{'maximum_retry_attempts':186}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/retry_policy/maximum_retry_attempts", "0 to 185"},
    {"attempts negative",
     TGT ("'type':'agent','queue':'q','retry_policy':{'maximum_retry_attempts':-1}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/retry_policy/maximum_retry_attempts", NULL},
    {"attempts as string",
     TGT ("'type':'agent','queue':'q','retry_policy':{'maximum_retry_attempts':'5'}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/retry_policy/maximum_retry_attempts", NULL},
    {"age under 60",
     TGT ("'type':'agent','queue':'q','retry_policy':{'maximum_event_age_seconds':59}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/retry_policy/maximum_event_age_seconds",
     "60 to 86400"},
    {"age over a day",
     TGT ("'type':'agent','queue':'q','retry_policy':{'maximum_event_age_seconds':86401}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/retry_policy/maximum_event_age_seconds", NULL},
    {"dead-letter queue unknown", TGT ("'type':'agent','queue':'q','dead_letter_queue':'urgent'"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/dead_letter_queue", "standard or critical"},
    {"transformer template",
     TGT ("'type':'agent','queue':'q','input_transformer':{'input_template':'<x>'}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/input_transformer/input_template",
     "invalid placeholder <x>"},
    {"transformer path",
     TGT ("'type':'agent','queue':'q','input_transformer':{'input_paths_map':{'x':'$..a'},"
          "'input_template':'<x>'}"),
     CAB_ERR_INVALID_CONFIG, "/rules/0/targets/0/input_transformer/input_paths_map/x",
     "recursive descent"},
};

START_TEST (test_validation_error)
{
    cab_error_t error;
    cab_error_clear (&error);
    cab_rules_t *rules = s_parse (s_errors[_i].document, &error);
    ck_assert_msg (rules == NULL, "%s: accepted", s_errors[_i].name);
    ck_assert_msg (error.code == s_errors[_i].code, "%s: got %s (%s: %s)", s_errors[_i].name,
                   cab_status_name (error.code), error.path, error.text);
    ck_assert_msg (strcmp (error.path, s_errors[_i].path) == 0, "%s: path '%s', expected '%s'",
                   s_errors[_i].name, error.path, s_errors[_i].path);
    ck_assert_msg (error.text[0], "%s: no text", s_errors[_i].name);
    if (s_errors[_i].text)
        ck_assert_msg (strstr (error.text, s_errors[_i].text), "%s: text '%s' lacks '%s'",
                       s_errors[_i].name, error.text, s_errors[_i].text);
}
END_TEST

//  Errors that need values the ' notation cannot write.
START_TEST (test_validation_built)
{
    cab_error_t error;
    json_t *argv = json_pack ("[s,s]", "ls", "x");
    json_t *document = json_pack ("{s:[{s:s, s:{s:[i]}, s:[{s:s, s:s, s:O}]}]}", "rules", "name",
                                  "r", "event_pattern", "a", 1, "targets", "id", "t", "type",
                                  "command", "command", argv);
    //  An argument with a NUL byte.
    json_array_set_new (argv, 1, json_stringn ("a\0b", 3));
    ck_assert_ptr_null (cab_rules_parse (document, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
    ck_assert_str_eq (error.path, "/rules/0/targets/0/command/1");
    ck_assert_ptr_nonnull (strstr (error.text, "NUL"));
    //  An argument of 4097 bytes; 4096 is fine.
    char *big = malloc (4098);
    memset (big, 'a', 4097);
    big[4097] = 0;
    json_array_set_new (argv, 1, json_string (big));
    ck_assert_ptr_null (cab_rules_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/rules/0/targets/0/command/1");
    big[4096] = 0;
    json_array_set_new (argv, 1, json_string (big));
    cab_rules_t *rules = cab_rules_parse (document, NULL, &error);
    ck_assert_ptr_nonnull (rules);
    cab_rules_unref (&rules);
    //  65 arguments.
    for (int i = 0; i < 63; i++)
        json_array_append_new (argv, json_string ("x"));
    ck_assert_ptr_null (cab_rules_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/rules/0/targets/0/command");
    free (big);
    //  A description of 513 characters (multi-byte ones count once).
    json_t *rule = json_array_get (json_object_get (document, "rules"), 0);
    json_array_remove (argv, 64);
    char description[1100] = "";
    for (int i = 0; i < 512; i++)
        memcpy (description + 2 * i, "\xc3\xa9", 3);
    json_object_set_new (rule, "description", json_string (description));
    rules = cab_rules_parse (document, NULL, &error);
    ck_assert_msg (rules != NULL, "%s", error.text);
    cab_rules_unref (&rules);
    memcpy (description + 1024, "x", 2);
    json_object_set_new (rule, "description", json_string (description));
    ck_assert_ptr_null (cab_rules_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/rules/0/description");
    json_decref (document);
    json_decref (argv);
    //  Not a document at all.
    ck_assert_ptr_null (cab_rules_parse (NULL, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
}
END_TEST

START_TEST (test_optional_fields)
{
    cab_error_t error;
    cab_rules_t *rules =
        s_parse ("{'rules':[{'name':'r','enabled':false,'event_pattern':{'a':[1]},'targets':["
                 "{'id':'h','type':'http','url':'https://example.com/hook','timeout_ms':2500,"
                 "'headers':{'Authorization':'Bearer x','X-Trace':''},'rate_per_second':2.5},"
                 "{'id':'l','type':'log','path':'/abs/x.jsonl','max_bytes':4096,'keep':0},"
                 "{'id':'c','type':'command','command':['/bin/true'],'retry_policy':{}}]}]}",
                 &error);
    ck_assert_msg (rules != NULL, "%s: %s", error.path, error.text);
    const cab_rule_t *rule = cab_rules_get (rules, 0);
    ck_assert (!rule->enabled);
    ck_assert_ptr_null (rule->description);
    const cab_rule_target_t *http = &rule->targets[0];
    ck_assert_int_eq (http->type, CAB_TARGET_HTTP);
    ck_assert_str_eq (http->url, "https://example.com/hook");
    ck_assert_int_eq (http->timeout_ms, 2500);
    ck_assert_str_eq (json_string_value (json_object_get (http->headers, "Authorization")),
                      "Bearer x");
    ck_assert (http->rate_per_second == 2.5);
    const cab_rule_target_t *log = &rule->targets[1];
    ck_assert_str_eq (log->path, "/abs/x.jsonl");
    ck_assert_int_eq (log->max_bytes, 4096);
    ck_assert_int_eq (log->keep, 0);
    const cab_rule_target_t *command = &rule->targets[2];
    ck_assert_int_eq (command->max_attempts, 185);
    ck_assert_int_eq (command->max_age_s, 86400);
    ck_assert_int_eq (command->timeout_ms, 10000);
    ck_assert_ptr_null (rule->targets[2].headers);
    //  A disabled rule matches nothing.
    size_t matches[4], count = 9;
    ck_assert_int_eq (cab_rules_match (rules, "{\"a\":1}", 7, matches, 4, &count, NULL), CAB_OK);
    ck_assert_uint_eq (count, 0);
    cab_rules_unref (&rules);

    ck_assert_str_eq (cab_dlq_name (CAB_DLQ_CRITICAL), "critical");
    ck_assert_str_eq (cab_dlq_name ((cab_dlq_t)7), "unknown");
    cab_dlq_t dlq = CAB_DLQ_CRITICAL;
    ck_assert_int_eq (cab_dlq_parse ("standard", &dlq), 0);
    ck_assert_int_eq (dlq, CAB_DLQ_STANDARD);
    ck_assert_int_eq (cab_dlq_parse ("urgent", &dlq), -1);
    ck_assert_int_eq (cab_dlq_parse (NULL, &dlq), -1);
    ck_assert_str_eq (cab_target_type_name (CAB_TARGET_HTTP), "http");
}
END_TEST

//  ---------------------------------------------------------------------
//  Hostile files

START_TEST (test_load_errors)
{
    cab_error_t error;
    char path[400];
    ck_assert_ptr_null (cab_rules_load ("/nonexistent/rules.json", NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_IO);

    s_write ("broken.json", "{\"rules\": [\n  {\"name\": }\n]}", 26, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);
    ck_assert_ptr_nonnull (strstr (error.text, "broken.json:2:"));

    s_write ("utf8.json", "{\"rules\": [], \"\xff\xfe\": 1}", 23, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_UTF8);

    s_write ("nul.json", "{\"rules\": [\0]}", 14, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);

    s_write ("nul-escape.json", "{\"rules\": [], \"a\\u0000\": 1}", 27, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);

    s_write ("dup.json", "{\"rules\": [], \"rules\": []}", 26, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
    ck_assert_ptr_nonnull (strstr (error.text, "duplicate"));

    s_write ("empty.json", "", 0, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);
}
END_TEST

START_TEST (test_hostile_sizes)
{
    cab_error_t error;
    char path[400];
    //  Over the file limit.
    size_t size = CAB_RULES_FILE_MAX + 1;
    char *huge = malloc (size);
    memset (huge, ' ', size);
    huge[0] = '{';
    huge[size - 1] = '}';
    s_write ("huge.json", huge, size, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_TOO_LARGE);
    //  Nesting far past jansson's depth limit.
    size = 100000;
    for (size_t i = 0; i < size; i++)
        huge[i] = i < size / 2 ? '[' : ']';
    s_write ("deep.json", huge, size, path, sizeof path);
    ck_assert_ptr_null (cab_rules_load (path, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_TOO_DEEP);
    free (huge);
    //  Deep nesting inside a pattern: refused by the pattern engine.
    json_t *deep = json_pack ("[i]", 1);
    for (int i = 0; i < 500; i++)
        deep = json_pack ("{s:o}", "x", deep);
    json_t *document =
        json_pack ("{s:[{s:s, s:o, s:[{s:s, s:s, s:s}]}]}", "rules", "name", "r", "event_pattern",
                   deep, "targets", "id", "t", "type", "agent", "queue", "q");
    ck_assert_ptr_null (cab_rules_parse (document, NULL, &error));
    ck_assert_msg (error.code != CAB_OK, "deep pattern accepted");
    ck_assert_ptr_nonnull (strstr (error.path, "/rules/0/event_pattern"));
    json_decref (document);
}
END_TEST

static json_t *
s_many (size_t count)
{
    json_t *rules = json_array ();
    for (size_t i = 0; i < count; i++) {
        char name[32];
        snprintf (name, sizeof name, "rule-%04zu", i);
        json_array_append_new (rules,
                               json_pack ("{s:s, s:{s:[s]}, s:[{s:s, s:s, s:s}]}", "name", name,
                                          "event_pattern", "detail-type", name, "targets", "id",
                                          "t", "type", "agent", "queue", "q"));
    }
    return json_pack ("{s:o}", "rules", rules);
}

START_TEST (test_rule_count_limit)
{
    cab_error_t error;
    json_t *document = s_many (1000);
    ck_assert_ptr_null (cab_rules_parse (document, NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
    ck_assert_str_eq (error.path, "/rules");
    ck_assert_ptr_nonnull (strstr (error.text, "at most 300"));
    json_decref (document);

    document = s_many (300);
    cab_rules_t *rules = cab_rules_parse (document, NULL, &error);
    json_decref (document);
    ck_assert_msg (rules != NULL, "%s", error.text);
    ck_assert_uint_eq (cab_rules_count (rules), 300);
    const char *event = "{\"detail-type\":\"rule-0299\"}";
    size_t matches[2], count = 0;
    ck_assert_int_eq (cab_rules_match (rules, event, strlen (event), matches, 2, &count, NULL),
                      CAB_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (matches[0], 299);
    //  A bad event is reported, not matched.
    ck_assert_int_eq (cab_rules_match (rules, "{\"a\":", 5, matches, 2, &count, &error),
                      CAB_ERR_INVALID_JSON);
    ck_assert_int_eq (cab_rules_match (rules, "{\"a\":\"\xff\"}", 8, matches, 2, &count, &error),
                      CAB_ERR_INVALID_UTF8);
    ck_assert_int_eq (cab_rules_match (NULL, event, 1, matches, 2, &count, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    cab_rules_unref (&rules);
}
END_TEST

//  ---------------------------------------------------------------------
//  Reference counting

static void *
s_refs (void *arg)
{
    cab_rules_t *rules = arg;
    for (int i = 0; i < 20000; i++) {
        cab_rules_t *held = cab_rules_ref (rules);
        cab_rules_unref (&held);
    }
    return NULL;
}

START_TEST (test_refcount)
{
    cab_rules_t *rules = s_default (NULL, NULL);
    ck_assert_ptr_nonnull (rules);
    cab_rules_t *second = cab_rules_ref (rules);
    ck_assert_ptr_eq (second, rules);
    const cab_rule_target_t *target = cab_rules_target (rules, "high-severity-alert", "alert");
    cab_rules_unref (&rules);
    ck_assert_ptr_null (rules);
    //  Still alive through the second reference.
    ck_assert_str_eq (target->argv[0], "logger");
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq (pthread_create (&threads[i], NULL, s_refs, second), 0);
    for (int i = 0; i < 4; i++)
        pthread_join (threads[i], NULL);
    ck_assert_uint_eq (cab_rules_count (second), 6);
    cab_rules_unref (&second);
    ck_assert_ptr_null (second);
    cab_rules_unref (&second);
    cab_rules_unref (NULL);
    ck_assert_ptr_null (cab_rules_ref (NULL));
    ck_assert_uint_eq (cab_rules_count (NULL), 0);
}
END_TEST

//  ---------------------------------------------------------------------
//  Matching the examples as tests/terraform/rules-default.sh does.

typedef struct {
    char id[80];
    char line[300];
} s_routed_t;

static int
s_by_id (const void *a, const void *b)
{
    return strcmp (((const s_routed_t *)a)->id, ((const s_routed_t *)b)->id);
}

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

START_TEST (test_match_examples)
{
    static const char *expected =
        "Issue Detection HIGH high-severity-alert,issue-detection-log\n"
        "Issue Detection LOW issue-detection-log\n"
        "Feature Request - feature-request-product-queue\n"
        "Feature Request - feature-request-product-queue\n"
        "Code Change APPROVED approved-code-change-cicd\n"
        "Code Change PROPOSED -\n"
        "Test Results FAILED failed-tests-investigation,test-results-tracking\n"
        "Test Results PASSED test-results-tracking\n"
        "Budget Threshold - -\n"
        "Budget Threshold - -\n"
        "Delivery Dead-Lettered - -\n"
        "Agent Lifecycle - -\n"
        "Agent Lifecycle - -\n"
        "Agent Lifecycle - -\n";
    static const char *types[] = {
        "agent-lifecycle", "budget-threshold", "code-change",  "delivery-dead-lettered",
        "feature-request", "issue-detection",  "test-results", NULL};
    cab_rules_t *rules = s_default (NULL, NULL);
    ck_assert_ptr_nonnull (rules);
    s_routed_t routed[64];
    size_t n = 0;
    for (int t = 0; types[t]; t++) {
        char path[1200];
        snprintf (path, sizeof path, "%s/schemas/examples/%s.valid.json", s_srcdir, types[t]);
        FILE *file = fopen (path, "r");
        ck_assert_msg (file != NULL, "%s", path);
        char line[65536];
        while (fgets (line, sizeof line, file) && n < 64) {
            size_t length = strcspn (line, "\r\n");
            if (length == 0)
                continue;
            line[length] = 0;
            json_t *event = json_loads (line, 0, NULL);
            ck_assert_ptr_nonnull (event);
            json_t *detail = json_object_get (event, "detail");
            const char *mark = json_string_value (json_object_get (detail, "severity"));
            if (!mark)
                mark = json_string_value (json_object_get (detail, "status"));
            size_t matches[8], count = 0;
            ck_assert_int_eq (cab_rules_match (rules, line, length, matches, 8, &count, NULL),
                              CAB_OK);
            const char *names[8];
            char list[200] = "";
            for (size_t i = 0; i < count; i++) {
                names[i] = cab_rules_get (rules, matches[i])->name;
                if (i)
                    ck_assert_uint_lt (matches[i - 1], matches[i]);
            }
            qsort (names, count, sizeof *names, s_by_name);
            for (size_t i = 0; i < count; i++) {
                strncat (list, i ? "," : "", sizeof list - strlen (list) - 1);
                strncat (list, names[i], sizeof list - strlen (list) - 1);
            }
            snprintf (routed[n].id, sizeof routed[n].id, "%s",
                      json_string_value (json_object_get (event, "id")));
            snprintf (routed[n].line, sizeof routed[n].line, "%s %s %s\n",
                      json_string_value (json_object_get (event, "detail-type")), mark ? mark : "-",
                      count ? list : "-");
            n++;
            json_decref (event);
        }
        fclose (file);
    }
    qsort (routed, n, sizeof *routed, s_by_id);
    char actual[4096] = "";
    for (size_t i = 0; i < n; i++)
        strncat (actual, routed[i].line, sizeof actual - strlen (actual) - 1);
    ck_assert_str_eq (actual, expected);

    //  Capacity smaller than the number of matches: count is complete.
    const char *event = "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue "
                        "Detection\",\"detail\":{\"severity\":\"HIGH\"}}";
    size_t one = 99, count = 0;
    ck_assert_int_eq (cab_rules_match (rules, event, strlen (event), &one, 1, &count, NULL),
                      CAB_OK);
    ck_assert_uint_eq (count, 2);
    ck_assert_uint_eq (one, 0);
    ck_assert_int_eq (cab_rules_match (rules, event, strlen (event), NULL, 0, &count, NULL),
                      CAB_OK);
    ck_assert_uint_eq (count, 2);
    cab_rules_unref (&rules);
}
END_TEST

START_TEST (test_disabled_rule_skipped)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/schemas/rules/default.json", s_srcdir);
    json_t *document = json_load_file (path, 0, NULL);
    ck_assert_ptr_nonnull (document);
    json_object_set_new (json_array_get (json_object_get (document, "rules"), 0), "enabled",
                         json_false ());
    cab_rules_t *rules = cab_rules_parse (document, NULL, NULL);
    json_decref (document);
    ck_assert_ptr_nonnull (rules);
    ck_assert_uint_eq (cab_rules_count (rules), 6);
    const char *event = "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue "
                        "Detection\",\"detail\":{\"severity\":\"HIGH\"}}";
    size_t matches[8], count = 0;
    ck_assert_int_eq (cab_rules_match (rules, event, strlen (event), matches, 8, &count, NULL),
                      CAB_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (matches[0], 1);
    cab_rules_unref (&rules);
}
END_TEST

START_TEST (test_subscriptions)
{
    cab_error_t error;
    cab_rules_t *rules = cab_rules_new_empty ();
    ck_assert_ptr_nonnull (rules);
    ck_assert_uint_eq (cab_rules_count (rules), 0);
    size_t matches[4], count = 9;
    ck_assert_int_eq (cab_rules_match (rules, "{}", 2, matches, 4, &count, NULL), CAB_OK);
    ck_assert_uint_eq (count, 0);

    json_t *pattern = json_pack ("{s:[s]}", "source", "a");
    ck_assert_int_eq (cab_rules_add_subscription (rules, "q1", pattern, &error), CAB_OK);
    json_decref (pattern);
    const cab_rule_t *rule = cab_rules_find (rules, "sub:q1");
    ck_assert_ptr_nonnull (rule);
    ck_assert_int_eq (rule->targets[0].type, CAB_TARGET_AGENT);
    ck_assert_str_eq (rule->targets[0].queue, "q1");
    ck_assert_str_eq (rule->targets[0].id, "queue");
    ck_assert_int_eq (rule->targets[0].max_attempts, 185);
    ck_assert_ptr_eq (cab_rules_target (rules, "sub:q1", "queue"), &rule->targets[0]);

    //  The same queue again: patterns are ORed; the rule pointer stays.
    pattern = json_pack ("{s:[s]}", "source", "b");
    ck_assert_int_eq (cab_rules_add_subscription (rules, "q1", pattern, &error), CAB_OK);
    json_decref (pattern);
    ck_assert_uint_eq (cab_rules_count (rules), 1);
    ck_assert_ptr_eq (cab_rules_find (rules, "sub:q1"), rule);
    ck_assert_ptr_nonnull (json_object_get (rule->pattern, "$or"));
    ck_assert_int_eq (cab_rules_match (rules, "{\"source\":\"b\"}", 14, matches, 4, &count, NULL),
                      CAB_OK);
    ck_assert_uint_eq (count, 1);
    ck_assert_int_eq (cab_rules_match (rules, "{\"source\":\"a\"}", 14, matches, 4, &count, NULL),
                      CAB_OK);
    ck_assert_uint_eq (count, 1);

    //  Errors.
    pattern = json_pack ("{s:s}", "source", "not-an-array");
    ck_assert_int_eq (cab_rules_add_subscription (rules, "q2", pattern, &error),
                      CAB_ERR_INVALID_PATTERN);
    ck_assert_int_eq (cab_rules_add_subscription (rules, "q 2", pattern, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_rules_add_subscription (rules, "q2", NULL, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_rules_add_subscription (rules, "q2", pattern, NULL),
                      CAB_ERR_INVALID_PATTERN);
    json_decref (pattern);
    ck_assert_uint_eq (cab_rules_count (rules), 1);
    cab_rules_unref (&rules);

    //  On top of a rule file: subscriptions come after the file's rules.
    rules = s_default (NULL, NULL);
    pattern = json_pack ("{s:[s]}", "detail-type", "Issue Detection");
    ck_assert_int_eq (cab_rules_add_subscription (rules, "watch", pattern, &error), CAB_OK);
    json_decref (pattern);
    const char *event = "{\"source\":\"cabruca.agents.monitor\",\"detail-type\":\"Issue "
                        "Detection\",\"detail\":{\"severity\":\"LOW\"}}";
    ck_assert_int_eq (cab_rules_match (rules, event, strlen (event), matches, 4, &count, NULL),
                      CAB_OK);
    ck_assert_uint_eq (count, 2);
    ck_assert_uint_eq (matches[0], 0);
    ck_assert_uint_eq (matches[1], 6);
    cab_rules_unref (&rules);
}
END_TEST

//  ---------------------------------------------------------------------
//  Out of memory: fail every allocation of a load, then of a subscription,
//  in turn (tests/unit/failmalloc.c: ours, jansson's, the C library's);
//  each must give an error or succeed, and free what it allocated.

START_TEST (test_out_of_memory)
{
    if (!failmalloc_active ())
        return;  //  valgrind or a static sanitizer runtime: nothing to fail
    char path[1200];
    snprintf (path, sizeof path, "%s/schemas/rules/default.json", s_srcdir);
    cab_rules_t *rules = cab_rules_load (path, "/data", NULL);  //  one-time caches
    cab_rules_unref (&rules);
    long at;
    for (at = 1;; at++) {
        cab_error_t error;
        cab_error_clear (&error);
        long live = failmalloc_live ();
        failmalloc_arm (at);
        rules = cab_rules_load (path, "/data", &error);
        failmalloc_disarm ();
        bool failed = failmalloc_failed ();
        cab_rules_unref (&rules);
        ck_assert_msg (failmalloc_live () == live, "allocation %ld: %ld blocks leaked", at,
                       failmalloc_live () - live);
        if (!failed)
            break;
        //  jansson reports some allocation failures as syntax errors, the
        //  C library's fopen failing is an I/O error, and libcabruca's
        //  cab_ruleset_add_json reports its own as TooLarge (cabi_json_text).
        ck_assert_msg (error.code == CAB_OK || error.code == CAB_ERR_NOMEM ||
                           error.code == CAB_ERR_INVALID_JSON || error.code == CAB_ERR_IO ||
                           error.code == CAB_ERR_TOO_LARGE,
                       "allocation %ld: %s: %s", at, cab_status_name (error.code), error.text);
    }
    ck_assert_int_gt (at, 50);

    rules = cab_rules_load (path, "/data", NULL);
    json_t *pattern = json_pack ("{s:[s]}", "source", "a");
    for (at = 1;; at++) {
        char queue[32];
        snprintf (queue, sizeof queue, "q%ld", at);
        cab_error_t error;
        //  (No block count here: libcabruca's rule set keeps the id it
        //  was adding when an allocation fails, until it is destroyed.)
        failmalloc_arm (at);
        cab_status_t rc = cab_rules_add_subscription (rules, queue, pattern, &error);
        failmalloc_disarm ();
        if (!failmalloc_failed ()) {
            ck_assert_int_eq (rc, CAB_OK);
            break;
        }
        ck_assert_msg (rc == CAB_OK || rc == CAB_ERR_NOMEM || rc == CAB_ERR_TOO_LARGE,
                       "allocation %ld: %s", at, cab_status_name (rc));
    }
    json_decref (pattern);
    const char *event = "{\"source\":\"a\"}";
    size_t matches[2], count = 0;
    ck_assert_int_eq (cab_rules_match (rules, event, strlen (event), matches, 2, &count, NULL),
                      CAB_OK);
    ck_assert_uint_ge (count, 1);
    cab_rules_unref (&rules);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_rules");
    TCase *tcase = tcase_create ("core");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_default_rules);
    tcase_add_test (tcase, test_default_transform);
    tcase_add_loop_test (tcase, test_validation_error, 0,
                         (int)(sizeof s_errors / sizeof s_errors[0]));
    tcase_add_test (tcase, test_validation_built);
    tcase_add_test (tcase, test_optional_fields);
    tcase_add_test (tcase, test_load_errors);
    tcase_add_test (tcase, test_hostile_sizes);
    tcase_add_test (tcase, test_rule_count_limit);
    tcase_add_test (tcase, test_refcount);
    tcase_add_test (tcase, test_match_examples);
    tcase_add_test (tcase, test_disabled_rule_skipped);
    tcase_add_test (tcase, test_subscriptions);
    tcase_add_test (tcase, test_out_of_memory);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
