/*  =========================================================================
    cab_budget_config - the "budget" section of the broker configuration

        "budget": {
            "monthly_budget_usd": 10, "alarm_percent": 90,
            "prices": {"per_million_entries": 1.00, "per_million_matches": 0.64},
            "caps": {"monitor": {"per_hour": 2100, "per_day": 50000}, ...},
            "default_cap": {"per_hour": null, "per_day": null},
            "policies": [{"source": "cabruca.agents.monitor", "policy": "sample",
                          "sample_every": 10}],
            "default_policy": "defer",
            "always_mirror": [{"detail-type": ["Issue Detection"],
                               "detail": {"severity": ["CRITICAL"]}}, ...]
        }

    Every key is optional; unknown keys are errors; every error names the
    value with a JSON Pointer from the file's root. Documented in
    docs/budget.md.
    =========================================================================
*/
#include "cab_budget_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_ROOT "/budget"
//  Largest accepted values: a cap (events), the monthly budget and a price
//  per million (USD), sample_every.
#define S_CAP_MAX    1000000000000LL
#define S_BUDGET_MAX 1000000.0
#define S_PRICE_MAX  1000.0
#define S_SAMPLE_MAX 1000000000LL

//  The default caps (DESIGN.md, "Budget").
static const struct {
    const char *name;
    int64_t per_hour, per_day;
} s_default_caps[] = {{"monitor", 2100, 50000},
                      {"product", 200, 5000},
                      {"developer", 850, 20000},
                      {"tester", 1250, 30000}};

//  The default always_mirror patterns: critical issues, failed tests.
static const char *s_default_always[] = {
    "{\"source\":[\"cabruca.agents.monitor\"],\"detail-type\":[\"Issue Detection\"],"
    "\"detail\":{\"severity\":[\"CRITICAL\"]}}",
    "{\"source\":[\"cabruca.agents.tester\"],\"detail-type\":[\"Test Results\"],"
    "\"detail\":{\"status\":[\"FAILED\"]}}"};

//  Round a checked, non-negative amount to the nearest integer (no libm).
static int64_t
s_round (double value)
{
    return (int64_t)(value + 0.5);
}

static cab_status_t
s_invalid (cab_error_t *error, const char *path, const char *message)
{
    return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "%s", message);
}

//  path = parent + "/" + token, escaped per RFC 6901.
static void
s_pointer (char *path, size_t size, const char *parent, const char *token)
{
    size_t used = (size_t)snprintf (path, size, "%s/", parent);
    for (const char *c = token; *c && used + 3 < size; c++) {
        if (*c == '~' || *c == '/') {
            path[used++] = '~';
            path[used++] = *c == '~' ? '0' : '1';
        } else
            path[used++] = *c;
    }
    path[used < size ? used : size - 1] = 0;
}

static cab_status_t
s_known_keys (const json_t *object, const char *parent, const char *const *keys, cab_error_t *error)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)object, key, value)
    {
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp (*k, key) == 0;
        if (!known) {
            char path[CAB_ERROR_PATH_MAX];
            s_pointer (path, sizeof path, parent, key);
            return s_invalid (error, path, "unknown key");
        }
    }
    return CAB_OK;
}

//  A number in [min, max] (integers and reals; not strings, not booleans).
static cab_status_t
s_number (const json_t *value, const char *path, double min, double max, double *out,
          cab_error_t *error)
{
    if (!json_is_number (value))
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "must be a number from %g to %g",
                              min, max);
    double number = json_number_value (value);
    if (!isfinite (number) || number < min || number > max)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "must be a number from %g to %g",
                              min, max);
    *out = number;
    return CAB_OK;
}

//  An integer in [min, max], or null (-> CABI_UNCAPPED) when nullable.
static cab_status_t
s_integer (const json_t *value, const char *path, int64_t min, int64_t max, bool nullable,
           int64_t *out, cab_error_t *error)
{
    if (nullable && json_is_null (value)) {
        *out = CABI_UNCAPPED;
        return CAB_OK;
    }
    if (!json_is_integer (value) || json_integer_value (value) < min ||
        json_integer_value (value) > max)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path,
                              "must be an integer from %lld to %lld%s", (long long)min,
                              (long long)max, nullable ? " or null (no cap)" : "");
    *out = (int64_t)json_integer_value (value);
    return CAB_OK;
}

//  {"per_hour": N|null, "per_day": N|null}; absent keys keep *hour, *day.
static cab_status_t
s_parse_cap (const json_t *value, const char *path, int64_t *hour, int64_t *day, cab_error_t *error)
{
    static const char *const keys[] = {"per_hour", "per_day", NULL};
    if (!json_is_object (value))
        return s_invalid (error, path, "must be an object with \"per_hour\" and \"per_day\"");
    if (s_known_keys (value, path, keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    char sub[CAB_ERROR_PATH_MAX];
    json_t *item = json_object_get (value, "per_hour");
    snprintf (sub, sizeof sub, "%s/per_hour", path);
    if (item && s_integer (item, sub, 0, S_CAP_MAX, true, hour, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    item = json_object_get (value, "per_day");
    snprintf (sub, sizeof sub, "%s/per_day", path);
    if (item && s_integer (item, sub, 0, S_CAP_MAX, true, day, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    return CAB_OK;
}

static bool
s_type_name_valid (const char *name)
{
    size_t length = strlen (name);
    if (length < 1 || length > CAB_BUDGET_TYPE_NAME_MAX || name[0] < 'a' || name[0] > 'z')
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return false;
    return true;
}

static cab_status_t
s_parse_caps (cab_budget_t *self, const json_t *caps, cab_error_t *error)
{
    cabi_counters_t *counters = &self->counters;
    if (!json_is_object (caps))
        return s_invalid (error, S_ROOT "/caps",
                          "must be an object: agent type -> {\"per_hour\", \"per_day\"}");
    const char *name;
    json_t *value;
    json_object_foreach ((json_t *)caps, name, value)
    {
        char path[CAB_ERROR_PATH_MAX];
        s_pointer (path, sizeof path, S_ROOT "/caps", name);
        if (!s_type_name_valid (name) || strcmp (name, "other") == 0)
            return s_invalid (error, path,
                              "agent type must be 1 to 64 of [a-z0-9_-] starting with a letter, "
                              "not \"other\"");
        size_t index = 0;
        while (index < counters->type_count && strcmp (counters->types[index].name, name) != 0)
            index++;
        if (index == counters->type_count) {
            if (counters->type_count == CAB_BUDGET_TYPES_MAX - 1)
                return s_invalid (error, path, "too many agent types (at most 63)");
            counters->type_count++;
            cabi_type_t *type = &counters->types[index];
            snprintf (type->name, sizeof type->name, "%s", name);
            type->hour_cap = CABI_UNCAPPED;
            type->day_cap = CABI_UNCAPPED;
        }
        cabi_type_t *type = &counters->types[index];
        if (s_parse_cap (value, path, &type->hour_cap, &type->day_cap, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
    }
    return CAB_OK;
}

//  A policy name, and sample_every when it is "sample".
static cab_status_t
s_parse_action (const json_t *object, const char *path, cabi_policy_t *policy, cab_error_t *error)
{
    char sub[CAB_ERROR_PATH_MAX];
    snprintf (sub, sizeof sub, "%s/policy", path);
    const char *name = json_string_value (json_object_get (object, "policy"));
    if (name && strcmp (name, "defer") == 0)
        policy->action = CAB_BUDGET_DEFER;
    else if (name && strcmp (name, "sample") == 0)
        policy->action = CAB_BUDGET_SAMPLE_SKIP;
    else if (name && strcmp (name, "shed") == 0)
        policy->action = CAB_BUDGET_SHED;
    else
        return s_invalid (error, sub, "must be \"defer\", \"sample\" or \"shed\"");
    json_t *every = json_object_get (object, "sample_every");
    snprintf (sub, sizeof sub, "%s/sample_every", path);
    if (policy->action != CAB_BUDGET_SAMPLE_SKIP) {
        if (every)
            return s_invalid (error, sub, "only for the \"sample\" policy");
        return CAB_OK;
    }
    if (!every)
        return s_invalid (error, path, "a \"sample\" policy needs \"sample_every\"");
    int64_t n;
    if (s_integer (every, sub, 1, S_SAMPLE_MAX, false, &n, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    policy->sample_every = (uint64_t)n;
    return CAB_OK;
}

//  A selector string: 1 to 256 bytes.
static cab_status_t
s_selector (const json_t *object, const char *key, const char *path, char **out, cab_error_t *error)
{
    json_t *value = json_object_get (object, key);
    if (!value)
        return CAB_OK;
    char sub[CAB_ERROR_PATH_MAX];
    s_pointer (sub, sizeof sub, path, key);
    const char *text = json_string_value (value);
    if (!text || !*text || strlen (text) > 256)
        return s_invalid (error, sub, "must be a string of 1 to 256 bytes");
    *out = strdup (text);
    return *out ? CAB_OK : cab_error_set (error, CAB_ERR_NOMEM, sub, "out of memory");
}

static cab_status_t
s_parse_policies (cab_budget_t *self, const json_t *list, cab_error_t *error)
{
    static const char *const keys[] = {"source", "detail_type",  "rule",
                                       "policy", "sample_every", NULL};
    if (!json_is_array (list) || json_array_size (list) > CAB_BUDGET_POLICIES_MAX)
        return s_invalid (error, S_ROOT "/policies", "must be an array of at most 256 policies");
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
    {
        char path[CAB_ERROR_PATH_MAX];
        snprintf (path, sizeof path, S_ROOT "/policies/%zu", index);
        if (!json_is_object (item))
            return s_invalid (error, path, "must be an object with \"policy\"");
        if (s_known_keys (item, path, keys, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
        cabi_policy_t *policy = &self->policies[self->policy_count++];
        cab_status_t status = s_selector (item, "source", path, &policy->source, error);
        if (status == CAB_OK)
            status = s_selector (item, "detail_type", path, &policy->detail_type, error);
        if (status == CAB_OK)
            status = s_selector (item, "rule", path, &policy->rule, error);
        self->rule_policies |= policy->rule != NULL;
        if (status == CAB_OK)
            status = s_parse_action (item, path, policy, error);
        if (status != CAB_OK)
            return status;
        size_t length = policy->source ? strlen (policy->source) : 0;
        if (length && policy->source[length - 1] == '*') {
            policy->source[length - 1] = 0;
            policy->source_prefix = true;
        }
    }
    return CAB_OK;
}

static cab_status_t
s_parse_default_policy (cab_budget_t *self, const json_t *value, cab_error_t *error)
{
    static const char *const keys[] = {"policy", "sample_every", NULL};
    const char *path = S_ROOT "/default_policy";
    if (json_is_string (value)) {
        json_t *object = json_pack ("{s:O}", "policy", (json_t *)value);
        if (!object)
            return cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
        cab_status_t status = s_parse_action (object, path, &self->default_policy, error);
        json_decref (object);
        if (status != CAB_OK && error && strcmp (error->path, path) != 0)
            snprintf (error->path, sizeof error->path, "%s", path);
        return status;
    }
    if (!json_is_object (value))
        return s_invalid (
            error, path,
            "must be \"defer\", \"sample\", \"shed\" or {\"policy\", \"sample_every\"}");
    if (s_known_keys (value, path, keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    return s_parse_action (value, path, &self->default_policy, error);
}

//  Add a default always_mirror pattern (trusted text).
static cab_status_t
s_add_default (cab_budget_t *self, size_t index, cab_error_t *error)
{
    char id[48];
    snprintf (id, sizeof id, "always_mirror/%zu", index);
    const char *text = s_default_always[index];
    cab_status_t status = cab_ruleset_add (self->always, id, text, strlen (text), error);
    if (status == CAB_OK)
        self->always_count++;
    return status;
}

static cab_status_t
s_parse_always (cab_budget_t *self, const json_t *list, cab_error_t *error)
{
    if (!list) {
        cab_status_t status = CAB_OK;
        for (size_t index = 0;
             index < sizeof s_default_always / sizeof *s_default_always && status == CAB_OK;
             index++)
            status = s_add_default (self, index, error);
        return status;
    }
    if (!json_is_array (list) || json_array_size (list) > CAB_BUDGET_ALWAYS_MAX)
        return s_invalid (error, S_ROOT "/always_mirror",
                          "must be an array of at most 64 event patterns");
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
    {
        char path[CAB_ERROR_PATH_MAX];
        snprintf (path, sizeof path, S_ROOT "/always_mirror/%zu", index);
        if (!json_is_object (item))
            return s_invalid (error, path, "must be an event pattern (a JSON object)");
        char id[48];
        snprintf (id, sizeof id, "always_mirror/%zu", index);
        cab_error_t inner;
        cab_error_clear (&inner);
        //  As text: cab_ruleset_add_json reports its own allocation
        //  failures as TooLarge, which would read as a configuration error.
        char *pattern = json_dumps (item, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!pattern)
            return cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
        cab_status_t status = cab_ruleset_add (self->always, id, pattern, strlen (pattern), &inner);
        free (pattern);
        if (status == CAB_ERR_NOMEM)
            return cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
        if (status != CAB_OK) {
            char full[2 * CAB_ERROR_PATH_MAX];
            snprintf (full, sizeof full, "%s%s", path, inner.path);
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, full, "%s", inner.text);
        }
        self->always_count++;
    }
    return CAB_OK;
}

static cab_status_t
s_parse_prices (cab_budget_t *self, const json_t *prices, cab_error_t *error)
{
    static const char *const keys[] = {"per_million_entries", "per_million_matches", NULL};
    if (!json_is_object (prices))
        return s_invalid (
            error, S_ROOT "/prices",
            "must be an object with \"per_million_entries\", \"per_million_matches\"");
    if (s_known_keys (prices, S_ROOT "/prices", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    json_t *value = json_object_get (prices, "per_million_entries");
    if (value && s_number (value, S_ROOT "/prices/per_million_entries", 0, S_PRICE_MAX,
                           &self->price_entry_usd, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (prices, "per_million_matches");
    if (value && s_number (value, S_ROOT "/prices/per_million_matches", 0, S_PRICE_MAX,
                           &self->price_match_usd, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    return CAB_OK;
}

cab_status_t
cabi_budget_config (cab_budget_t *self, const json_t *section, cab_error_t *error)
{
    static const char *const keys[] = {
        "monthly_budget_usd", "alarm_percent",  "prices",        "caps", "default_cap",
        "policies",           "default_policy", "always_mirror", NULL};
    //  Defaults.
    self->budget_usd = 10.0;
    self->alarm_percent = 90.0;
    self->price_entry_usd = 1.00;
    self->price_match_usd = 0.64;
    self->default_hour_cap = CABI_UNCAPPED;
    self->default_day_cap = CABI_UNCAPPED;
    self->default_policy.action = CAB_BUDGET_DEFER;
    cabi_counters_t *counters = &self->counters;
    for (size_t index = 0; index < sizeof s_default_caps / sizeof *s_default_caps; index++) {
        cabi_type_t *type = &counters->types[counters->type_count++];
        snprintf (type->name, sizeof type->name, "%s", s_default_caps[index].name);
        type->hour_cap = s_default_caps[index].per_hour;
        type->day_cap = s_default_caps[index].per_day;
    }
    self->always = cab_ruleset_new ();
    if (!self->always)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");

    if (section && !json_is_object (section))
        return s_invalid (error, S_ROOT, "must be an object");
    if (section && s_known_keys (section, S_ROOT, keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    json_t *value = json_object_get (section, "monthly_budget_usd");
    if (value && s_number (value, S_ROOT "/monthly_budget_usd", 0, S_BUDGET_MAX, &self->budget_usd,
                           error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (section, "alarm_percent");
    if (value &&
        s_number (value, S_ROOT "/alarm_percent", 1, 100, &self->alarm_percent, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (section, "prices");
    if (value && s_parse_prices (self, value, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (section, "caps");
    if (value && s_parse_caps (self, value, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (section, "default_cap");
    if (value && s_parse_cap (value, S_ROOT "/default_cap", &self->default_hour_cap,
                              &self->default_day_cap, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    cab_status_t status = CAB_OK;
    value = json_object_get (section, "policies");
    if (value && (status = s_parse_policies (self, value, error)) != CAB_OK)
        return status;
    value = json_object_get (section, "default_policy");
    if (value && (status = s_parse_default_policy (self, value, error)) != CAB_OK)
        return status;
    if ((status = s_parse_always (self, json_object_get (section, "always_mirror"), error)) !=
        CAB_OK)
        return status;

    //  Money in pico-dollars (see cab_budget_internal.h).
    self->budget = s_round (self->budget_usd * CABI_PUSD);
    self->alarm = s_round (self->budget_usd * self->alarm_percent / 100.0 * CABI_PUSD);
    self->price_entry = s_round (self->price_entry_usd * 1e6);
    self->price_match = s_round (self->price_match_usd * 1e6);
    //  The catch-all type for other sources and for types past the table.
    cabi_type_t *other = &counters->types[counters->type_count++];
    snprintf (other->name, sizeof other->name, "other");
    other->hour_cap = self->default_hour_cap;
    other->day_cap = self->default_day_cap;
    return CAB_OK;
}

void
cabi_budget_config_free (cab_budget_t *self)
{
    for (size_t index = 0; index < self->policy_count; index++) {
        free (self->policies[index].source);
        free (self->policies[index].detail_type);
        free (self->policies[index].rule);
    }
    self->policy_count = 0;
    self->rule_policies = false;
    cab_ruleset_destroy (&self->always);
}
