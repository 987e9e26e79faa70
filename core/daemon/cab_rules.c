/*  =========================================================================
    cab_rules - a loaded, validated and compiled rule file

    Validation walks the document once, field by field, and stops at the
    first error with the JSON Pointer of the offending value. The enabled
    rules' patterns go into one cab_ruleset_t (rule set index -> rule index
    in set_map); disabled rules' patterns are compiled only to check them.
    Rules are allocated one by one, so pointers handed out stay valid when
    subscriptions are added.
    =========================================================================
*/
#include "cab_rules.h"
#include "cab_transform.h"
#include "cab_lines.h"
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

//  Subscriptions a rule set accepts on top of its file's rules.
#define S_SUBSCRIPTIONS_MAX 1000
#define S_ARG_MAX           4096
#define S_ARGV_MAX          64
#define S_URL_MAX           2048
#define S_PATH_MAX          4096
#define S_HEADERS_MAX       64
#define S_HEADER_NAME_MAX   256
#define S_HEADER_VALUE_MAX  4096
#define S_DESCRIPTION_MAX   512

struct _cab_rules_t {
    int refs;
    cab_rule_t **rules;
    size_t count, capacity;
    cab_ruleset_t *set;  //  the enabled rules
    size_t *set_map;     //  rule set index -> rule index
    size_t *scratch;     //  cab_rules_match's buffer, set size entries
    size_t scratch_size;
};

const char *
cab_dlq_name (cab_dlq_t dlq)
{
    return dlq == CAB_DLQ_STANDARD ? "standard" : dlq == CAB_DLQ_CRITICAL ? "critical" : "unknown";
}

int
cab_dlq_parse (const char *name, cab_dlq_t *dlq_p)
{
    if (!name || !dlq_p)
        return -1;
    if (strcmp (name, "standard") == 0)
        *dlq_p = CAB_DLQ_STANDARD;
    else if (strcmp (name, "critical") == 0)
        *dlq_p = CAB_DLQ_CRITICAL;
    else
        return -1;
    return 0;
}

const char *
cab_target_type_name (cab_target_type_t type)
{
    static const char *names[] = {"agent", "command", "http", "log"};
    return (unsigned)type < 4 ? names[type] : "unknown";
}

//  ---------------------------------------------------------------------
//  Freeing

static void
s_target_fini (cab_rule_target_t *target)
{
    free (target->id);
    free (target->queue);
    for (size_t i = 0; target->argv && i < target->argc; i++)
        free (target->argv[i]);
    free (target->argv);
    free (target->url);
    json_decref (target->headers);
    free (target->path);
    cab_transform_destroy (&target->transform);
}

static void
s_rule_free (cab_rule_t *rule)
{
    if (!rule)
        return;
    free (rule->name);
    free (rule->description);
    json_decref (rule->pattern);
    for (size_t i = 0; rule->targets && i < rule->target_count; i++)
        s_target_fini (&rule->targets[i]);
    free (rule->targets);
    free (rule);
}

static void
s_rules_free (cab_rules_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        s_rule_free (self->rules[i]);
    free (self->rules);
    cab_ruleset_destroy (&self->set);
    free (self->set_map);
    free (self->scratch);
    free (self);
}

cab_rules_t *
cab_rules_new_empty (void)
{
    cab_rules_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->refs = 1;
    self->set = cab_ruleset_new ();
    if (!self->set) {
        free (self);
        return NULL;
    }
    return self;
}

cab_rules_t *
cab_rules_ref (cab_rules_t *self)
{
    if (self)
        __atomic_add_fetch (&self->refs, 1, __ATOMIC_RELAXED);
    return self;
}

void
cab_rules_unref (cab_rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_rules_t *self = *self_p;
    *self_p = NULL;
    if (__atomic_sub_fetch (&self->refs, 1, __ATOMIC_ACQ_REL) == 0)
        s_rules_free (self);
}

//  ---------------------------------------------------------------------
//  Validation helpers. `at` is the JSON Pointer of the object being read.

static cab_status_t
s_nomem (cab_error_t *error)
{
    return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
}

//  out = a + b + c, truncated to CAB_ERROR_PATH_MAX - 1 bytes.
static const char *
s_join (char *out, const char *a, const char *b, const char *c)
{
    size_t used = 0;
    const char *parts[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        size_t length = strlen (parts[i]);
        if (length > CAB_ERROR_PATH_MAX - 1 - used)
            length = CAB_ERROR_PATH_MAX - 1 - used;
        memcpy (out + used, parts[i], length);
        used += length;
    }
    out[used] = 0;
    return out;
}

//  at + "/" + key, with ~ and / escaped as RFC 6901 says.
static const char *
s_ptr (char *buffer, const char *at, const char *key)
{
    size_t used = (size_t)snprintf (buffer, CAB_ERROR_PATH_MAX, "%s/", at);
    for (const char *p = key; *p && used + 3 < CAB_ERROR_PATH_MAX; p++) {
        if (*p == '~' || *p == '/') {
            buffer[used++] = '~';
            buffer[used++] = *p == '~' ? '0' : '1';
        } else
            buffer[used++] = *p;
    }
    buffer[used < CAB_ERROR_PATH_MAX ? used : CAB_ERROR_PATH_MAX - 1] = 0;
    return buffer;
}

static cab_status_t s_invalid (cab_error_t *error, const char *at, const char *key,
                               const char *format, ...) __attribute__ ((format (printf, 4, 5)));

static cab_status_t
s_invalid (cab_error_t *error, const char *at, const char *key, const char *format, ...)
{
    char pointer[CAB_ERROR_PATH_MAX];
    va_list args;
    va_start (args, format);
    cab_error_setv (error, CAB_ERR_INVALID_CONFIG, key ? s_ptr (pointer, at, key) : at, format,
                    args);
    va_end (args);
    return CAB_ERR_INVALID_CONFIG;
}

//  Refuse keys not in the NULL-terminated list `known`.
static cab_status_t
s_known_keys (const json_t *object, const char *const *known, const char *what, const char *at,
              cab_error_t *error)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)object, key, value)
    {
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp (key, known[i]) == 0;
        if (!found) {
            char list[400] = "";
            size_t used = 0;
            for (size_t i = 0; known[i] && used < sizeof list; i++)
                used += (size_t)snprintf (list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                          known[i]);
            return s_invalid (error, at, key, "unknown key '%.64s' in %s (known: %s)", key, what,
                              list);
        }
    }
    return CAB_OK;
}

static bool
s_name_ok (const char *text, size_t length)
{
    if (length < 1 || length > CAB_RULE_NAME_MAX || strlen (text) != length)
        return false;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  A name field (rule name, target id, queue): a new copy in *out_p.
static cab_status_t
s_get_name (const json_t *object, const char *key, const char *at, char **out_p, cab_error_t *error)
{
    const json_t *value = json_object_get (object, key);
    if (!value)
        return s_invalid (error, at, key, "'%s' is required", key);
    if (!json_is_string (value) ||
        !s_name_ok (json_string_value (value), json_string_length (value)))
        return s_invalid (error, at, key, "'%s' must be 1 to %d of A-Z a-z 0-9 . _ -", key,
                          CAB_RULE_NAME_MAX);
    *out_p = strdup (json_string_value (value));
    return *out_p ? CAB_OK : s_nomem (error);
}

//  An optional integer in [min, max]; *out_p keeps its default when absent.
static cab_status_t
s_get_int (const json_t *object, const char *key, const char *at, int64_t min, int64_t max,
           int64_t *out_p, cab_error_t *error)
{
    const json_t *value = json_object_get (object, key);
    if (!value)
        return CAB_OK;
    if (!json_is_integer (value) || json_integer_value (value) < min ||
        json_integer_value (value) > max)
        return s_invalid (error, at, key, "'%s' must be an integer from %" PRId64 " to %" PRId64,
                          key, min, max);
    *out_p = json_integer_value (value);
    return CAB_OK;
}

//  A string of 1 to max bytes without NUL; a new copy in *out_p.
static cab_status_t
s_get_string (const json_t *value, const char *at, const char *key, const char *what, size_t max,
              char **out_p, cab_error_t *error)
{
    if (!json_is_string (value) || json_string_length (value) < 1 ||
        json_string_length (value) > max)
        return s_invalid (error, at, key, "%s must be a string of 1 to %zu bytes", what, max);
    if (strlen (json_string_value (value)) != json_string_length (value))
        return s_invalid (error, at, key, "%s contains a NUL character", what);
    *out_p = strdup (json_string_value (value));
    return *out_p ? CAB_OK : s_nomem (error);
}

//  ---------------------------------------------------------------------
//  Targets

static cab_status_t
s_parse_command (cab_rule_target_t *target, const json_t *spec, const char *at, cab_error_t *error)
{
    const json_t *argv = json_object_get (spec, "command");
    char pointer[CAB_ERROR_PATH_MAX];
    if (!argv)
        return s_invalid (error, at, "command", "a command target needs 'command' (argv array)");
    if (!json_is_array (argv) || json_array_size (argv) < 1 || json_array_size (argv) > S_ARGV_MAX)
        return s_invalid (error, at, "command", "'command' must be an array of 1 to %d strings",
                          S_ARGV_MAX);
    target->argv = calloc (json_array_size (argv) + 1, sizeof *target->argv);
    if (!target->argv)
        return s_nomem (error);
    size_t index;
    json_t *item;
    json_array_foreach ((json_t *)argv, index, item)
    {
        char key[32];
        snprintf (key, sizeof key, "%zu", index);
        s_ptr (pointer, at, "command");
        cab_status_t rc = s_get_string (item, pointer, key, "a command argument", S_ARG_MAX,
                                        &target->argv[index], error);
        if (rc != CAB_OK)
            return rc;
        target->argc = index + 1;
    }
    return CAB_OK;
}

static bool
s_token_char (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr ("!#$%&'*+-.^_`|~", c));
}

static cab_status_t
s_parse_http (cab_rule_target_t *target, const json_t *spec, const char *at, cab_error_t *error)
{
    const json_t *url = json_object_get (spec, "url");
    if (!url)
        return s_invalid (error, at, "url", "an http target needs 'url'");
    cab_status_t rc = s_get_string (url, at, "url", "'url'", S_URL_MAX, &target->url, error);
    if (rc != CAB_OK)
        return rc;
    size_t scheme = strncmp (target->url, "http://", 7) == 0    ? 7
                    : strncmp (target->url, "https://", 8) == 0 ? 8
                                                                : 0;
    if (!scheme || !target->url[scheme] || target->url[scheme] == '/')
        return s_invalid (error, at, "url", "'url' must be an http:// or https:// URL with a host");
    for (const char *p = target->url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return s_invalid (error, at, "url", "'url' contains a space or control character");

    const json_t *headers = json_object_get (spec, "headers");
    if (headers) {
        char pointer[CAB_ERROR_PATH_MAX];
        s_ptr (pointer, at, "headers");
        if (!json_is_object (headers) || json_object_size (headers) > S_HEADERS_MAX)
            return s_invalid (error, at, "headers",
                              "'headers' must be an object of at most %d name: value strings",
                              S_HEADERS_MAX);
        const char *name;
        json_t *value;
        json_object_foreach ((json_t *)headers, name, value)
        {
            size_t length = strlen (name);
            bool good = length >= 1 && length <= S_HEADER_NAME_MAX;
            for (size_t i = 0; good && i < length; i++)
                good = s_token_char ((unsigned char)name[i]);
            if (!good)
                return s_invalid (error, pointer, name,
                                  "header name '%.64s' must be an HTTP token (letters, digits, "
                                  "!#$%%&'*+-.^_`|~)",
                                  name);
            static const char *reserved[] = {"content-length", "host", "transfer-encoding",
                                             "connection", NULL};
            for (size_t i = 0; reserved[i]; i++)
                if (strcasecmp (name, reserved[i]) == 0)
                    return s_invalid (error, pointer, name,
                                      "header '%s' is set by the HTTP client, not by config", name);
            if (!json_is_string (value) || json_string_length (value) > S_HEADER_VALUE_MAX)
                return s_invalid (error, pointer, name,
                                  "header '%.64s' must have a string value of at most %d bytes",
                                  name, S_HEADER_VALUE_MAX);
            const char *text = json_string_value (value);
            for (size_t i = 0; i < json_string_length (value); i++)
                if (text[i] == '\r' || text[i] == '\n' || text[i] == 0)
                    return s_invalid (error, pointer, name,
                                      "header '%.64s' value contains CR, LF or NUL", name);
        }
        target->headers = json_deep_copy (headers);
        if (!target->headers)
            return s_nomem (error);
    }
    const json_t *rate = json_object_get (spec, "rate_per_second");
    if (rate) {
        if (!json_is_number (rate) || json_number_value (rate) < 0 ||
            json_number_value (rate) > 300)
            return s_invalid (error, at, "rate_per_second",
                              "'rate_per_second' must be a number from 0 (unlimited) to 300");
        target->rate_per_second = json_number_value (rate);
    }
    return CAB_OK;
}

static cab_status_t
s_parse_log (cab_rule_target_t *target, const json_t *spec, const char *at, const char *data_dir,
             cab_error_t *error)
{
    const json_t *path = json_object_get (spec, "path");
    if (!path)
        return s_invalid (error, at, "path", "a log target needs 'path'");
    char *given = NULL;
    cab_status_t rc = s_get_string (path, at, "path", "'path'", S_PATH_MAX, &given, error);
    if (rc != CAB_OK)
        return rc;
    if (given[0] == '/')
        target->path = given;
    else {
        char cwd[PATH_MAX];
        const char *base = data_dir && *data_dir ? data_dir : getcwd (cwd, sizeof cwd);
        if (!base) {
            free (given);
            return cab_error_set (error, CAB_ERR_IO, NULL, "cannot get the current directory");
        }
        size_t size = strlen (base) + strlen (given) + 2;
        target->path = malloc (size);
        if (target->path)
            snprintf (target->path, size, "%s%s%s", base, base[strlen (base) - 1] == '/' ? "" : "/",
                      given);
        free (given);
        if (!target->path)
            return s_nomem (error);
    }
    int64_t max_bytes = 10 * 1024 * 1024, keep = 5;
    if ((rc = s_get_int (spec, "max_bytes", at, 4096, (int64_t)1 << 40, &max_bytes, error)) ||
        (rc = s_get_int (spec, "keep", at, 0, 100, &keep, error)))
        return rc;
    target->max_bytes = max_bytes;
    target->keep = (int)keep;
    return CAB_OK;
}

//  Fields that only some types take.
static const struct {
    const char *key;
    unsigned types;  //  bit per cab_target_type_t
} s_typed_keys[] = {{"queue", 1u << CAB_TARGET_AGENT},
                    {"command", 1u << CAB_TARGET_COMMAND},
                    {"timeout_ms", (1u << CAB_TARGET_COMMAND) | (1u << CAB_TARGET_HTTP)},
                    {"url", 1u << CAB_TARGET_HTTP},
                    {"headers", 1u << CAB_TARGET_HTTP},
                    {"rate_per_second", 1u << CAB_TARGET_HTTP},
                    {"path", 1u << CAB_TARGET_LOG},
                    {"max_bytes", 1u << CAB_TARGET_LOG},
                    {"keep", 1u << CAB_TARGET_LOG},
                    {NULL, 0}};

static cab_status_t
s_parse_target (cab_rule_target_t *target, const json_t *spec, const char *at, const char *data_dir,
                cab_error_t *error)
{
    static const char *known[] = {"id",
                                  "type",
                                  "queue",
                                  "command",
                                  "timeout_ms",
                                  "url",
                                  "headers",
                                  "rate_per_second",
                                  "path",
                                  "max_bytes",
                                  "keep",
                                  "retry_policy",
                                  "dead_letter_queue",
                                  "input_transformer",
                                  NULL};
    if (!json_is_object (spec))
        return s_invalid (error, at, NULL, "a target must be an object");
    cab_status_t rc = s_known_keys (spec, known, "target", at, error);
    if (rc == CAB_OK)
        rc = s_get_name (spec, "id", at, &target->id, error);
    if (rc != CAB_OK)
        return rc;

    const json_t *type = json_object_get (spec, "type");
    if (!type)
        return s_invalid (error, at, "type", "'type' is required (agent, command, http or log)");
    const char *type_name = json_is_string (type) ? json_string_value (type) : "";
    int found = -1;
    for (int i = 0; i < 4 && found < 0; i++)
        if (strcmp (type_name, cab_target_type_name ((cab_target_type_t)i)) == 0)
            found = i;
    if (found < 0)
        return s_invalid (error, at, "type", "'type' must be agent, command, http or log");
    target->type = (cab_target_type_t)found;
    for (size_t i = 0; s_typed_keys[i].key; i++)
        if (json_object_get (spec, s_typed_keys[i].key) &&
            !(s_typed_keys[i].types & (1u << target->type)))
            return s_invalid (error, at, s_typed_keys[i].key, "'%s' does not apply to a %s target",
                              s_typed_keys[i].key, type_name);

    int64_t timeout_ms = 10000;
    if (target->type == CAB_TARGET_AGENT)
        rc = s_get_name (spec, "queue", at, &target->queue, error);
    else if (target->type == CAB_TARGET_COMMAND)
        rc = s_parse_command (target, spec, at, error);
    else if (target->type == CAB_TARGET_HTTP)
        rc = s_parse_http (target, spec, at, error);
    else
        rc = s_parse_log (target, spec, at, data_dir, error);
    if (rc == CAB_OK)
        rc = s_get_int (spec, "timeout_ms", at, 100, 300000, &timeout_ms, error);
    if (rc != CAB_OK)
        return rc;
    target->timeout_ms =
        target->type == CAB_TARGET_COMMAND || target->type == CAB_TARGET_HTTP ? (int)timeout_ms : 0;

    int64_t attempts = 185, age = 86400;
    const json_t *retry = json_object_get (spec, "retry_policy");
    if (retry) {
        static const char *retry_known[] = {"maximum_retry_attempts", "maximum_event_age_seconds",
                                            NULL};
        char pointer[CAB_ERROR_PATH_MAX];
        s_ptr (pointer, at, "retry_policy");
        if (!json_is_object (retry))
            return s_invalid (error, pointer, NULL, "'retry_policy' must be an object");
        if ((rc = s_known_keys (retry, retry_known, "retry_policy", pointer, error)) ||
            (rc = s_get_int (retry, "maximum_retry_attempts", pointer, 0, 185, &attempts, error)) ||
            (rc = s_get_int (retry, "maximum_event_age_seconds", pointer, 60, 86400, &age, error)))
            return rc;
    }
    target->max_attempts = (int)attempts;
    target->max_age_s = (int)age;

    target->dlq = CAB_DLQ_STANDARD;
    const json_t *dlq = json_object_get (spec, "dead_letter_queue");
    if (dlq && (!json_is_string (dlq) || cab_dlq_parse (json_string_value (dlq), &target->dlq)))
        return s_invalid (error, at, "dead_letter_queue",
                          "'dead_letter_queue' must be standard or critical");

    const json_t *transformer = json_object_get (spec, "input_transformer");
    if (transformer) {
        cab_error_t inner;
        cab_error_clear (&inner);
        target->transform = cab_transform_new (transformer, &inner);
        if (!target->transform) {
            char pointer[CAB_ERROR_PATH_MAX], full[CAB_ERROR_PATH_MAX];
            s_ptr (pointer, at, "input_transformer");
            return cab_error_set (error, inner.code, s_join (full, pointer, inner.path, ""), "%s",
                                  inner.text);
        }
    }
    return CAB_OK;
}

//  ---------------------------------------------------------------------
//  Rules

static cab_status_t
s_append (cab_rules_t *self, cab_rule_t *rule, cab_error_t *error)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 8;
        cab_rule_t **rules = realloc (self->rules, capacity * sizeof *rules);
        if (!rules)
            return s_nomem (error);
        self->rules = rules;
        self->capacity = capacity;
    }
    self->rules[self->count++] = rule;
    return CAB_OK;
}

//  Put rule index `index` into the matcher (enabled rules only) and keep
//  set_map and scratch in step with the rule set's size.
static cab_status_t
s_index_rule (cab_rules_t *self, size_t index, const json_t *pattern, cab_error_t *error)
{
    const cab_rule_t *rule = self->rules[index];
    size_t before = cab_ruleset_size (self->set);
    size_t *map = realloc (self->set_map, (before + 1) * sizeof *map);
    if (!map)
        return s_nomem (error);
    self->set_map = map;
    size_t *scratch = realloc (self->scratch, (before + 1) * sizeof *scratch);
    if (!scratch)
        return s_nomem (error);
    self->scratch = scratch;
    self->scratch_size = before + 1;
    cab_status_t rc = cab_ruleset_add_json (self->set, rule->name, pattern, error);
    if (rc == CAB_OK && cab_ruleset_size (self->set) > before)
        self->set_map[before] = index;
    return rc;
}

static cab_status_t
s_parse_rule (cab_rules_t *self, const json_t *spec, size_t index, const char *data_dir,
              cab_error_t *error)
{
    static const char *known[] = {"name",    "description", "event_pattern",
                                  "targets", "enabled",     NULL};
    char at[CAB_ERROR_PATH_MAX];
    snprintf (at, sizeof at, "/rules/%zu", index);
    if (!json_is_object (spec))
        return s_invalid (error, at, NULL, "a rule must be an object");
    cab_status_t rc = s_known_keys (spec, known, "rule", at, error);
    if (rc != CAB_OK)
        return rc;
    cab_rule_t *rule = calloc (1, sizeof *rule);
    if (!rule)
        return s_nomem (error);
    if (s_append (self, rule, error) != CAB_OK) {
        free (rule);
        return CAB_ERR_NOMEM;
    }
    if ((rc = s_get_name (spec, "name", at, &rule->name, error)))
        return rc;
    for (size_t i = 0; i + 1 < self->count; i++)
        if (strcmp (self->rules[i]->name, rule->name) == 0)
            return s_invalid (error, at, "name", "rule name '%s' is already used by /rules/%zu",
                              rule->name, i);
    const json_t *description = json_object_get (spec, "description");
    if (description) {
        if (!json_is_string (description) ||
            strlen (json_string_value (description)) != json_string_length (description))
            return s_invalid (error, at, "description", "'description' must be a string");
        size_t chars = 0;
        for (const char *p = json_string_value (description); *p; p++)
            chars += ((unsigned char)*p & 0xC0) != 0x80;
        if (chars > S_DESCRIPTION_MAX)
            return s_invalid (error, at, "description",
                              "'description' has %zu characters; at most %d", chars,
                              S_DESCRIPTION_MAX);
        rule->description = strdup (json_string_value (description));
        if (!rule->description)
            return s_nomem (error);
    }
    rule->enabled = true;
    const json_t *enabled = json_object_get (spec, "enabled");
    if (enabled) {
        if (!json_is_boolean (enabled))
            return s_invalid (error, at, "enabled", "'enabled' must be true or false");
        rule->enabled = json_is_true (enabled);
    }

    const json_t *pattern = json_object_get (spec, "event_pattern");
    if (!pattern)
        return s_invalid (error, at, "event_pattern", "'event_pattern' is required");
    if (!json_is_object (pattern) || json_object_size (pattern) == 0)
        return s_invalid (error, at, "event_pattern",
                          "'event_pattern' must be a non-empty object (an EventBridge pattern)");
    rule->pattern = json_deep_copy (pattern);
    if (!rule->pattern)
        return s_nomem (error);

    const json_t *targets = json_object_get (spec, "targets");
    if (!targets)
        return s_invalid (error, at, "targets", "'targets' is required");
    if (!json_is_array (targets) || json_array_size (targets) < 1 ||
        json_array_size (targets) > CAB_RULE_TARGETS_MAX)
        return s_invalid (error, at, "targets", "'targets' must be an array of 1 to %d targets",
                          CAB_RULE_TARGETS_MAX);
    rule->targets = calloc (json_array_size (targets), sizeof *rule->targets);
    if (!rule->targets)
        return s_nomem (error);
    size_t t;
    json_t *target;
    json_array_foreach ((json_t *)targets, t, target)
    {
        char target_at[CAB_ERROR_PATH_MAX], number[32];
        snprintf (number, sizeof number, "/targets/%zu", t);
        s_join (target_at, at, number, "");
        rule->target_count = t + 1;
        if ((rc = s_parse_target (&rule->targets[t], target, target_at, data_dir, error)))
            return rc;
        for (size_t i = 0; i < t; i++)
            if (strcmp (rule->targets[i].id, rule->targets[t].id) == 0)
                return s_invalid (error, target_at, "id",
                                  "target id '%s' is already used by %s/targets/%zu",
                                  rule->targets[t].id, at, i);
    }

    //  The pattern last: its errors point into the file.
    cab_error_t inner;
    cab_error_clear (&inner);
    if (rule->enabled)
        rc = s_index_rule (self, self->count - 1, rule->pattern, &inner);
    else {
        cab_pattern_t *compiled = cab_pattern_new_from_json (rule->pattern, &inner);
        rc = compiled ? CAB_OK : inner.code;
        cab_pattern_destroy (&compiled);
    }
    if (rc != CAB_OK) {
        char full[CAB_ERROR_PATH_MAX];
        return cab_error_set (error, rc, s_join (full, at, "/event_pattern", inner.path), "%s",
                              inner.text);
    }
    return CAB_OK;
}

cab_rules_t *
cab_rules_parse (json_t *document, const char *data_dir, cab_error_t *error)
{
    static const char *known[] = {"rules", NULL};
    if (!json_is_object (document)) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, "", "a rule file is a JSON object");
        return NULL;
    }
    if (s_known_keys (document, known, "the rule file", "", error) != CAB_OK)
        return NULL;
    const json_t *rules = json_object_get (document, "rules");
    if (!rules || !json_is_array (rules)) {
        s_invalid (error, "", "rules", "'rules' (an array of rules) is required");
        return NULL;
    }
    if (json_array_size (rules) > CAB_RULES_MAX) {
        s_invalid (error, "", "rules", "%zu rules; a rule file holds at most %d",
                   json_array_size (rules), CAB_RULES_MAX);
        return NULL;
    }
    cab_rules_t *self = cab_rules_new_empty ();
    if (!self) {
        s_nomem (error);
        return NULL;
    }
    size_t index;
    json_t *rule;
    json_array_foreach ((json_t *)rules, index, rule)
    {
        if (s_parse_rule (self, rule, index, data_dir, error) != CAB_OK) {
            s_rules_free (self);
            return NULL;
        }
    }
    return self;
}

cab_rules_t *
cab_rules_load (const char *path, const char *data_dir, cab_error_t *error)
{
    size_t size = 0;
    char *text = cab_file_read (path, CAB_RULES_FILE_MAX, &size, error);
    if (!text)
        return NULL;
    json_error_t jerror;
    json_t *document = json_loadb (text, size, JSON_REJECT_DUPLICATES, &jerror);
    free (text);
    if (!document) {
        cab_status_t code = CAB_ERR_INVALID_JSON;
        if (json_error_code (&jerror) == json_error_invalid_utf8)
            code = CAB_ERR_INVALID_UTF8;
        else if (json_error_code (&jerror) == json_error_stack_overflow)
            code = CAB_ERR_TOO_DEEP;
        else if (json_error_code (&jerror) == json_error_out_of_memory || !jerror.text[0])
            code = CAB_ERR_NOMEM;
        else if (json_error_code (&jerror) == json_error_duplicate_key)
            code = CAB_ERR_INVALID_CONFIG;
        cab_error_set (error, code, NULL, "%s:%d:%d: %s", path, jerror.line, jerror.column,
                       jerror.text);
        return NULL;
    }
    cab_rules_t *self = cab_rules_parse (document, data_dir, error);
    json_decref (document);
    return self;
}

//  ---------------------------------------------------------------------
//  Access and matching

size_t
cab_rules_count (cab_rules_t *self)
{
    return self ? self->count : 0;
}

const cab_rule_t *
cab_rules_get (cab_rules_t *self, size_t index)
{
    return self && index < self->count ? self->rules[index] : NULL;
}

const cab_rule_t *
cab_rules_find (cab_rules_t *self, const char *name)
{
    for (size_t i = 0; self && name && i < self->count; i++)
        if (strcmp (self->rules[i]->name, name) == 0)
            return self->rules[i];
    return NULL;
}

const cab_rule_target_t *
cab_rules_target (cab_rules_t *self, const char *rule, const char *target_id)
{
    const cab_rule_t *found = cab_rules_find (self, rule);
    for (size_t i = 0; found && target_id && i < found->target_count; i++)
        if (strcmp (found->targets[i].id, target_id) == 0)
            return &found->targets[i];
    return NULL;
}

static int
s_compare_size (const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

cab_status_t
cab_rules_match (cab_rules_t *self, const char *text, size_t length, size_t *matches,
                 size_t capacity, size_t *count_p, cab_error_t *error)
{
    if (!self || !text || !count_p || (capacity && !matches))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "cab_rules_match: bad arguments");
    *count_p = 0;
    if (cab_ruleset_size (self->set) == 0)
        return CAB_OK;
    size_t count = 0;
    cab_status_t rc = cab_ruleset_match (self->set, text, length, self->scratch, self->scratch_size,
                                         &count, error);
    if (rc != CAB_OK)
        return rc;
    if (count > self->scratch_size)
        count = self->scratch_size;
    for (size_t i = 0; i < count; i++)
        self->scratch[i] = self->set_map[self->scratch[i]];
    if (count > 16)
        qsort (self->scratch, count, sizeof *self->scratch, s_compare_size);
    else
        for (size_t i = 1; i < count; i++) {
            size_t value = self->scratch[i], j = i;
            for (; j > 0 && self->scratch[j - 1] > value; j--)
                self->scratch[j] = self->scratch[j - 1];
            self->scratch[j] = value;
        }
    for (size_t i = 0; i < count && i < capacity; i++)
        matches[i] = self->scratch[i];
    *count_p = count;
    return CAB_OK;
}

cab_status_t
cab_rules_add_subscription (cab_rules_t *self, const char *queue, const json_t *pattern,
                            cab_error_t *error)
{
    cab_error_t local;
    if (!error)
        error = &local;
    if (!self || !queue || !s_name_ok (queue, strlen (queue)))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "a queue name is 1 to %d of A-Z a-z 0-9 . _ -", CAB_RULE_NAME_MAX);
    if (!json_is_object (pattern))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "a subscription needs a pattern object");
    char name[CAB_RULE_NAME_MAX + 8];
    snprintf (name, sizeof name, CAB_RULES_SUBSCRIPTION_PREFIX "%s", queue);
    cab_rule_t *existing = (cab_rule_t *)cab_rules_find (self, name);
    if (existing) {
        //  OR the new pattern with the old ones, as the rule set does.
        json_t *either = json_pack ("{s:[O,O]}", "$or", existing->pattern, pattern);
        if (!either)
            return s_nomem (error);
        cab_status_t rc = cab_ruleset_add_json (self->set, name, pattern, error);
        if (rc != CAB_OK) {
            json_decref (either);
            return rc;
        }
        json_decref (existing->pattern);
        existing->pattern = either;
        return CAB_OK;
    }
    if (self->count >= CAB_RULES_MAX + S_SUBSCRIPTIONS_MAX)
        return cab_error_set (error, CAB_ERR_BUSY, NULL, "too many rules and subscriptions (%d)",
                              CAB_RULES_MAX + S_SUBSCRIPTIONS_MAX);
    cab_rule_t *rule = calloc (1, sizeof *rule);
    if (!rule)
        return s_nomem (error);
    rule->name = strdup (name);
    rule->enabled = true;
    rule->pattern = json_deep_copy (pattern);
    rule->targets = calloc (1, sizeof *rule->targets);
    cab_rule_target_t *target = rule->targets;
    if (target) {
        target->id = strdup ("queue");
        target->queue = strdup (queue);
    }
    rule->target_count = 1;
    if (!rule->name || !rule->pattern || !target || !target->id || !target->queue) {
        s_rule_free (rule);
        return s_nomem (error);
    }
    target->type = CAB_TARGET_AGENT;
    target->max_attempts = 185;
    target->max_age_s = 86400;
    target->dlq = CAB_DLQ_STANDARD;
    //  Check the pattern before the rule becomes visible.
    cab_pattern_t *compiled = cab_pattern_new_from_json (pattern, error);
    if (!compiled) {
        s_rule_free (rule);
        return error->code;
    }
    cab_pattern_destroy (&compiled);
    if (s_append (self, rule, error) != CAB_OK) {
        s_rule_free (rule);
        return CAB_ERR_NOMEM;
    }
    cab_status_t rc = s_index_rule (self, self->count - 1, rule->pattern, error);
    if (rc != CAB_OK) {
        self->count--;
        s_rule_free (rule);
    }
    return rc;
}

bool
cab_rules_is_subscription (const char *name)
{
    size_t length = strlen (CAB_RULES_SUBSCRIPTION_PREFIX);
    return name && strncmp (name, CAB_RULES_SUBSCRIPTION_PREFIX, length) == 0;
}
