/*  =========================================================================
    cab_broker_config - the broker's one JSON configuration file

        {"endpoints": ["ipc:///run/cabruca/broker.ipc"],
         "store": {"path": "events.db", "durability": "normal"},
         "schemas": "/usr/share/cabruca/schemas",
         "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"],
                                    "subscribe": ["monitor"], "read_sources": ["*"]}},
         "limits": {"max_in_flight": 1000, "heartbeat_ms": 1000,
                    "timeout_ms": 5000, "batch_max": 1000, "max_peers": 1024,
                    "validators": 0},
         "rules": "rules.json", "data_dir": "/var/lib/cabruca",
         "archive": {"retention_days": 7},
         "dead_letters": {"standard_days": 14, "critical_days": 4},
         "delivery": {"ack_timeout_ms": 30000, "backoff_base_ms": 1000,
                      "backoff_max_ms": 300000, "max_pending_in_memory": 10000,
                      "sweep_every_ms": 1000},
         "curve": {"secret_key_file": "broker.key_secret", "clients_dir": "certs"},
         "allow_remote": false,
         "mirror": {"enabled": true, "dry_run": false, "bus_name": "cabruca-agents-bus",
                    "endpoint": null, "region": null, "max_in_flight": 8,
                    "max_queue": 2000, "request_timeout_ms": 10000,
                    "failed_retry_ms": 60000, "backoff_base_ms": 100,
                    "backoff_cap_ms": 20000, "max_attempts": 0, "cloud_rules": null},
         "budget": {...cab_budget's section, docs/budget.md...}}

    Validation is strict (unknown keys are errors) and every error names the
    value with a JSON Pointer. Documented in docs/man/cabruca-broker.md.
    =========================================================================
*/
#include "cab_broker.h"
#include "cab_budget.h"
#include "cab_lines.h"
#include "cab_proto.h"
#include "cab_store_delivery.h"
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Largest configuration file, bytes.
#define S_CONFIG_MAX (1024 * 1024)

cab_broker_config_t *
cab_broker_config_new (void)
{
    cab_broker_config_t *self = (cab_broker_config_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->agents = json_object ();
    if (!self->agents) {
        free (self);
        return NULL;
    }
    self->durability = CAB_STORE_NORMAL;
    self->cache_tail_bytes = CAB_BROKER_CACHE_TAIL_BYTES;
    self->max_in_flight = 1000;
    self->heartbeat_ms = 1000;
    self->timeout_ms = 5000;
    self->batch_max = 1000;
    self->max_peers = 1024;
    self->archive_ms = CAB_STORE_ARCHIVE_MS;
    self->standard_ms = CAB_STORE_STANDARD_MS;
    self->critical_ms = CAB_STORE_CRITICAL_MS;
    self->ack_timeout_ms = 30000;
    self->backoff_base_ms = 1000;
    self->backoff_max_ms = 300000;
    self->max_pending_in_memory = 10000;
    self->sweep_every_ms = 1000;
    self->mirror_enabled = true;
    self->mirror_max_in_flight = 8;
    self->mirror_max_queue = 2000;
    self->mirror_request_timeout_ms = 10000;
    self->mirror_failed_retry_ms = 60000;
    //  Validators pay off only with cores to spare: the broker thread, the
    //  writer and the publishers need theirs (docs/performance.md).
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->validators = cores > 2 ? (size_t)(cores - 2 < 4 ? cores - 2 : 4) : 0;
    return self;
}

void
cab_broker_config_destroy (cab_broker_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_broker_config_t *self = *self_p;
    for (size_t index = 0; index < self->endpoint_count; index++)
        free (self->endpoints[index]);
    free (self->store_path);
    free (self->schemas_dir);
    json_decref (self->agents);
    free (self->rules_path);
    free (self->data_dir);
    json_decref (self->rules_document);
    free (self->curve_secret_key);
    free (self->curve_clients_dir);
    free (self->mirror_bus_name);
    free (self->mirror_endpoint);
    free (self->mirror_region);
    free (self->mirror_cloud_rules);
    json_decref (self->budget);
    free (self->config_path);
    free (self);
    *self_p = NULL;
}

cab_status_t
cab_broker_config_add_endpoint (cab_broker_config_t *self, const char *endpoint)
{
    if (self->endpoint_count == CAB_BROKER_MAX_ENDPOINTS)
        return CAB_ERR_INVALID_CONFIG;
    char *copy = strdup (endpoint);
    if (!copy)
        return CAB_ERR_NOMEM;
    self->endpoints[self->endpoint_count++] = copy;
    return CAB_OK;
}

cab_status_t
cab_broker_config_allow (cab_broker_config_t *self, const char *agent_id, const char *source)
{
    json_t *agent = json_object_get (self->agents, agent_id);
    if (!agent) {
        agent = json_pack ("{s:[]}", "sources");
        if (!agent || json_object_set_new (self->agents, agent_id, agent) != 0)
            return CAB_ERR_NOMEM;
    }
    json_t *sources = json_object_get (agent, "sources");
    return json_array_append_new (sources, json_string (source)) == 0 ? CAB_OK : CAB_ERR_NOMEM;
}

bool
cab_broker_config_allows (const cab_broker_config_t *self, const char *agent_id, const char *source)
{
    if (!agent_id || !source)
        return false;
    json_t *sources = json_object_get (json_object_get (self->agents, agent_id), "sources");
    size_t index;
    json_t *value;
    json_array_foreach (sources, index, value)
    {
        const char *allowed = json_string_value (value);
        if (strcmp (allowed, "*") == 0 || strcmp (allowed, source) == 0)
            return true;
    }
    return false;
}

//  Append a JSON Pointer token (escaped per RFC 6901) to path.
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
s_invalid (cab_error_t *error, const char *path, const char *message)
{
    return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "%s", message);
}

//  Check that object has only the listed keys.
static cab_status_t
s_known_keys (json_t *object, const char *parent, const char *const *keys, cab_error_t *error)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value)
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

//  A path relative to the configuration file's directory, as a new string.
static char *
s_resolve (const char *path, const char *base_dir)
{
    if (path[0] == '/' || !base_dir || !*base_dir)
        return strdup (path);
    size_t size = strlen (base_dir) + strlen (path) + 2;
    char *full = (char *)malloc (size);
    if (full)
        snprintf (full, size, "%s/%s", base_dir, path);
    return full;
}

static cab_status_t
s_parse_endpoints (cab_broker_config_t *self, json_t *value, cab_error_t *error)
{
    if (!json_is_array (value) || json_array_size (value) == 0 ||
        json_array_size (value) > CAB_BROKER_MAX_ENDPOINTS)
        return s_invalid (error, "/endpoints", "must be an array of 1 to 8 endpoints");
    size_t index;
    json_t *item;
    json_array_foreach (value, index, item)
    {
        char path[64];
        snprintf (path, sizeof path, "/endpoints/%zu", index);
        const char *endpoint = json_string_value (item);
        if (!endpoint ||
            (strncmp (endpoint, "ipc://", 6) != 0 && strncmp (endpoint, "tcp://", 6) != 0) ||
            strlen (endpoint) < 7 || strlen (endpoint) > 255)
            return s_invalid (error, path,
                              "must be an \"ipc://PATH\" or \"tcp://HOST:PORT\" string");
        if (cab_broker_config_add_endpoint (self, endpoint) != CAB_OK)
            return cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
    }
    return CAB_OK;
}

static cab_status_t s_integer (json_t *object, const char *parent, const char *name, long long min,
                               long long max, long long *out, cab_error_t *error);

static cab_status_t
s_parse_store (cab_broker_config_t *self, json_t *value, const char *base_dir, cab_error_t *error)
{
    static const char *const keys[] = {"path", "durability", "cache_tail_mb", NULL};
    if (!json_is_object (value))
        return s_invalid (error, "/store", "must be an object with \"path\"");
    if (s_known_keys (value, "/store", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    const char *path = json_string_value (json_object_get (value, "path"));
    if (!path || !*path)
        return s_invalid (error, "/store/path", "must be a non-empty string (the SQLite file)");
    json_t *durability = json_object_get (value, "durability");
    if (durability) {
        const char *name = json_string_value (durability);
        if (name && strcmp (name, "normal") == 0)
            self->durability = CAB_STORE_NORMAL;
        else if (name && strcmp (name, "full") == 0)
            self->durability = CAB_STORE_FULL;
        else
            return s_invalid (error, "/store/durability", "must be \"normal\" or \"full\"");
    }
    long long tail_mb = self->cache_tail_bytes >> 20;
    if (s_integer (value, "/store", "cache_tail_mb", 0, 1048576, &tail_mb, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    self->cache_tail_bytes = (int64_t)tail_mb << 20;
    self->store_path = s_resolve (path, base_dir);
    return self->store_path ? CAB_OK : cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
}

//  An agent's optional "subscribe" (queue names) or "read_sources" list:
//  checked, then copied into the configuration's entry for agent_id.
static cab_status_t
s_parse_grant (cab_broker_config_t *self, const char *agent_id, json_t *agent, const char *path,
               const char *key, cab_error_t *error)
{
    json_t *list = json_object_get (agent, key);
    if (!list)
        return CAB_OK;
    bool queues = strcmp (key, "subscribe") == 0;
    char list_path[CAB_ERROR_PATH_MAX];
    s_pointer (list_path, sizeof list_path, path, key);
    if (!json_is_array (list))
        return s_invalid (error, list_path,
                          queues ? "must be an array of queue names (\"*\": any)"
                                 : "must be an array of sources (\"*\": any)");
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
    {
        const char *text = json_string_value (item);
        bool valid = text && (strcmp (text, "*") == 0 ||
                              (queues ? cabi_proto_queue_valid (text)
                                      : *text && strlen (text) <= 256 && !strchr (text, ',')));
        if (!valid) {
            char item_path[CAB_ERROR_PATH_MAX];
            snprintf (item_path, sizeof item_path, "%.200s/%zu", list_path, index);
            return s_invalid (error, item_path,
                              queues ? "must be a queue name (1-64 of [A-Za-z0-9._-]) or \"*\""
                                     : "must be a source of 1 to 256 characters or \"*\"");
        }
    }
    json_t *entry = json_object_get (self->agents, agent_id);
    if (!entry) {
        entry = json_pack ("{s:[]}", "sources");
        if (!entry || json_object_set_new (self->agents, agent_id, entry) != 0)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    json_t *copy = json_deep_copy (list);
    if (!copy || json_object_set_new (entry, key, copy) != 0)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    return CAB_OK;
}

static cab_status_t
s_parse_agents (cab_broker_config_t *self, json_t *value, cab_error_t *error)
{
    if (!json_is_object (value))
        return s_invalid (error, "/agents", "must be an object of agent ids");
    const char *agent_id;
    json_t *agent;
    json_object_foreach (value, agent_id, agent)
    {
        char path[CAB_ERROR_PATH_MAX];
        s_pointer (path, sizeof path, "/agents", agent_id);
        if (!cabi_proto_agent_id_valid (agent_id))
            return s_invalid (error, path, "agent id must be 1-64 of [A-Za-z0-9._-]");
        static const char *const keys[] = {"sources", "subscribe", "read_sources", NULL};
        if (!json_is_object (agent))
            return s_invalid (error, path, "must be an object with \"sources\"");
        if (s_known_keys (agent, path, keys, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
        char sources_path[CAB_ERROR_PATH_MAX];
        s_pointer (sources_path, sizeof sources_path, path, "sources");
        json_t *sources = json_object_get (agent, "sources");
        if (!json_is_array (sources))
            return s_invalid (error, sources_path, "must be an array of sources (\"*\": any)");
        size_t index;
        json_t *source;
        json_array_foreach (sources, index, source)
        {
            const char *text = json_string_value (source);
            if (!text || !*text || strlen (text) > 256) {
                char item_path[CAB_ERROR_PATH_MAX];
                snprintf (item_path, sizeof item_path, "%.200s/%zu", sources_path, index);
                return s_invalid (error, item_path, "must be a source of 1 to 256 characters");
            }
            if (cab_broker_config_allow (self, agent_id, text) != CAB_OK)
                return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        }
        if (s_parse_grant (self, agent_id, agent, path, "subscribe", error) != CAB_OK ||
            s_parse_grant (self, agent_id, agent, path, "read_sources", error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
    }
    return CAB_OK;
}

//  Read an integer in [min, max] of an object at parent into *out when present.
static cab_status_t
s_integer (json_t *object, const char *parent, const char *name, long long min, long long max,
           long long *out, cab_error_t *error)
{
    json_t *value = json_object_get (object, name);
    if (!value)
        return CAB_OK;
    char path[64];
    snprintf (path, sizeof path, "%s/%s", parent, name);
    if (!json_is_integer (value) || json_integer_value (value) < min ||
        json_integer_value (value) > max)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path,
                              "must be an integer from %lld to %lld", min, max);
    *out = json_integer_value (value);
    return CAB_OK;
}

static cab_status_t
s_limit (json_t *limits, const char *name, long long min, long long max, long long *out,
         cab_error_t *error)
{
    return s_integer (limits, "/limits", name, min, max, out, error);
}

static cab_status_t
s_parse_limits (cab_broker_config_t *self, json_t *value, cab_error_t *error)
{
    static const char *const keys[] = {"max_in_flight", "heartbeat_ms", "timeout_ms", "batch_max",
                                       "max_peers",     "validators",   NULL};
    if (!json_is_object (value))
        return s_invalid (error, "/limits", "must be an object");
    if (s_known_keys (value, "/limits", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    long long window = (long long)self->max_in_flight, heartbeat = self->heartbeat_ms;
    long long timeout = self->timeout_ms, batch = (long long)self->batch_max;
    long long peers = (long long)self->max_peers;
    long long validators = (long long)self->validators;
    if (s_limit (value, "max_in_flight", 1, CAB_BROKER_MAX_WINDOW, &window, error) ||
        s_limit (value, "heartbeat_ms", 10, 600000, &heartbeat, error) ||
        s_limit (value, "timeout_ms", 30, 3600000, &timeout, error) ||
        s_limit (value, "batch_max", 1, CAB_BROKER_MAX_BATCH, &batch, error) ||
        s_limit (value, "max_peers", 1, CAB_BROKER_MAX_PEERS, &peers, error) ||
        s_limit (value, "validators", 0, CAB_BROKER_MAX_VALIDATORS, &validators, error))
        return CAB_ERR_INVALID_CONFIG;
    if (timeout < 2 * heartbeat)
        return s_invalid (error, "/limits/timeout_ms", "must be at least twice heartbeat_ms");
    self->max_in_flight = (size_t)window;
    self->heartbeat_ms = (int)heartbeat;
    self->timeout_ms = (int)timeout;
    self->batch_max = (size_t)batch;
    self->max_peers = (size_t)peers;
    self->validators = (size_t)validators;
    return CAB_OK;
}

static cab_status_t
s_parse_retention (cab_broker_config_t *self, json_t *document, cab_error_t *error)
{
    json_t *value = json_object_get (document, "archive");
    if (value) {
        static const char *const keys[] = {"retention_days", NULL};
        if (!json_is_object (value))
            return s_invalid (error, "/archive", "must be an object");
        long long days = self->archive_ms / 86400000LL;
        if (s_known_keys (value, "/archive", keys, error) != CAB_OK ||
            s_integer (value, "/archive", "retention_days", 0, 3650, &days, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
        self->archive_ms = days * 86400000LL;
    }
    value = json_object_get (document, "dead_letters");
    if (value) {
        static const char *const keys[] = {"standard_days", "critical_days", NULL};
        if (!json_is_object (value))
            return s_invalid (error, "/dead_letters", "must be an object");
        long long standard = self->standard_ms / 86400000LL;
        long long critical = self->critical_ms / 86400000LL;
        if (s_known_keys (value, "/dead_letters", keys, error) != CAB_OK ||
            s_integer (value, "/dead_letters", "standard_days", 0, 3650, &standard, error) ||
            s_integer (value, "/dead_letters", "critical_days", 0, 3650, &critical, error))
            return CAB_ERR_INVALID_CONFIG;
        self->standard_ms = standard * 86400000LL;
        self->critical_ms = critical * 86400000LL;
    }
    return CAB_OK;
}

static cab_status_t
s_parse_delivery (cab_broker_config_t *self, json_t *value, cab_error_t *error)
{
    static const char *const keys[] = {"ack_timeout_ms",        "backoff_base_ms", "backoff_max_ms",
                                       "max_pending_in_memory", "sweep_every_ms",  NULL};
    if (!json_is_object (value))
        return s_invalid (error, "/delivery", "must be an object");
    if (s_known_keys (value, "/delivery", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    long long ack = self->ack_timeout_ms, base = self->backoff_base_ms;
    long long max = self->backoff_max_ms, pending = (long long)self->max_pending_in_memory;
    long long sweep = self->sweep_every_ms;
    if (s_integer (value, "/delivery", "ack_timeout_ms", 100, 3600000, &ack, error) ||
        s_integer (value, "/delivery", "backoff_base_ms", 10, 3600000, &base, error) ||
        s_integer (value, "/delivery", "backoff_max_ms", 10, 86400000, &max, error) ||
        s_integer (value, "/delivery", "max_pending_in_memory", 100, CAB_BROKER_MAX_PENDING,
                   &pending, error) ||
        s_integer (value, "/delivery", "sweep_every_ms", 10, 3600000, &sweep, error))
        return CAB_ERR_INVALID_CONFIG;
    if (max < base)
        return s_invalid (error, "/delivery/backoff_max_ms", "must be at least backoff_base_ms");
    self->ack_timeout_ms = (int)ack;
    self->backoff_base_ms = (int)base;
    self->backoff_max_ms = (int)max;
    self->max_pending_in_memory = (size_t)pending;
    self->sweep_every_ms = (int)sweep;
    return CAB_OK;
}

//  "curve": {"secret_key_file": FILE, "clients_dir": DIR}, both required;
//  the files themselves are read when the broker starts.
static cab_status_t
s_parse_curve (cab_broker_config_t *self, json_t *value, const char *base_dir, cab_error_t *error)
{
    static const char *const keys[] = {"secret_key_file", "clients_dir", NULL};
    if (!json_is_object (value))
        return s_invalid (error, "/curve",
                          "must be an object with \"secret_key_file\" and \"clients_dir\"");
    if (s_known_keys (value, "/curve", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    const char *key = json_string_value (json_object_get (value, "secret_key_file"));
    if (!key || !*key)
        return s_invalid (error, "/curve/secret_key_file",
                          "must be the broker's secret certificate file (cabruca keys new-broker)");
    const char *clients = json_string_value (json_object_get (value, "clients_dir"));
    if (!clients || !*clients)
        return s_invalid (error, "/curve/clients_dir",
                          "must be the directory of the agents' public certificates");
    self->curve_secret_key = s_resolve (key, base_dir);
    self->curve_clients_dir = s_resolve (clients, base_dir);
    if (!self->curve_secret_key || !self->curve_clients_dir)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    return CAB_OK;
}

//  A string member of the "mirror" section: absent or null keeps *out;
//  else a string of 1 to max bytes (copied into *out).
static cab_status_t
s_mirror_string (json_t *section, const char *name, size_t max, char **out, cab_error_t *error)
{
    json_t *value = json_object_get (section, name);
    if (!value || json_is_null (value))
        return CAB_OK;
    char path[64];
    snprintf (path, sizeof path, "/mirror/%s", name);
    if (!json_is_string (value) || json_string_length (value) == 0 ||
        json_string_length (value) > max)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path,
                              "must be a string of 1 to %zu characters, or null", max);
    free (*out);
    *out = strdup (json_string_value (value));
    return *out ? CAB_OK : cab_error_set (error, CAB_ERR_NOMEM, path, "out of memory");
}

//  "mirror": the cloud mirror (docs/mirror.md, "Configuration").
static cab_status_t
s_parse_mirror (cab_broker_config_t *self, json_t *value, const char *base_dir, cab_error_t *error)
{
    static const char *const keys[] = {"enabled",         "dry_run",
                                       "bus_name",        "endpoint",
                                       "region",          "max_in_flight",
                                       "max_queue",       "request_timeout_ms",
                                       "failed_retry_ms", "backoff_base_ms",
                                       "backoff_cap_ms",  "max_attempts",
                                       "cloud_rules",     NULL};
    if (!json_is_object (value))
        return s_invalid (error, "/mirror", "must be an object");
    if (s_known_keys (value, "/mirror", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    const char *flags[] = {"enabled", "dry_run"};
    bool *targets[] = {&self->mirror_enabled, &self->mirror_dry_run};
    for (size_t index = 0; index < 2; index++) {
        json_t *flag = json_object_get (value, flags[index]);
        if (!flag)
            continue;
        if (!json_is_boolean (flag)) {
            char path[64];
            snprintf (path, sizeof path, "/mirror/%s", flags[index]);
            return s_invalid (error, path, "must be true or false");
        }
        *targets[index] = json_is_true (flag);
    }
    long long in_flight = (long long)self->mirror_max_in_flight;
    long long queue = (long long)self->mirror_max_queue;
    long long timeout = self->mirror_request_timeout_ms;
    long long retry = self->mirror_failed_retry_ms;
    long long base = self->mirror_backoff_base_ms, cap = self->mirror_backoff_cap_ms;
    long long attempts = self->mirror_max_attempts;
    if (s_integer (value, "/mirror", "max_in_flight", 1, 64, &in_flight, error) ||
        s_integer (value, "/mirror", "max_queue", 10, 1000000, &queue, error) ||
        s_integer (value, "/mirror", "request_timeout_ms", 100, 600000, &timeout, error) ||
        s_integer (value, "/mirror", "failed_retry_ms", 100, 86400000, &retry, error) ||
        s_integer (value, "/mirror", "backoff_base_ms", 1, 600000, &base, error) ||
        s_integer (value, "/mirror", "backoff_cap_ms", 1, 3600000, &cap, error) ||
        s_integer (value, "/mirror", "max_attempts", 0, 1000000, &attempts, error))
        return CAB_ERR_INVALID_CONFIG;
    if (base && cap && cap < base)
        return s_invalid (error, "/mirror/backoff_cap_ms", "must be at least backoff_base_ms");
    self->mirror_max_in_flight = (size_t)in_flight;
    self->mirror_max_queue = (size_t)queue;
    self->mirror_request_timeout_ms = (long)timeout;
    self->mirror_failed_retry_ms = retry;
    self->mirror_backoff_base_ms = (unsigned)base;
    self->mirror_backoff_cap_ms = (unsigned)cap;
    self->mirror_max_attempts = (unsigned)attempts;
    if (s_mirror_string (value, "bus_name", 256, &self->mirror_bus_name, error) ||
        s_mirror_string (value, "endpoint", 1000, &self->mirror_endpoint, error) ||
        s_mirror_string (value, "region", 100, &self->mirror_region, error))
        return error ? error->code : CAB_ERR_INVALID_CONFIG;
    if (self->mirror_endpoint && strncmp (self->mirror_endpoint, "http://", 7) != 0 &&
        strncmp (self->mirror_endpoint, "https://", 8) != 0)
        return s_invalid (error, "/mirror/endpoint", "must be an http:// or https:// URL");
    json_t *rules = json_object_get (value, "cloud_rules");
    if (rules && !json_is_null (rules)) {
        if (!json_is_string (rules) || json_string_length (rules) == 0)
            return s_invalid (error, "/mirror/cloud_rules",
                              "must be the path of a rule file, or null (the broker's rules)");
        self->mirror_cloud_rules = s_resolve (json_string_value (rules), base_dir);
        if (!self->mirror_cloud_rules)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    return CAB_OK;
}

//  "budget": cab_budget's section, checked by cab_budget_new (its errors
//  carry pointers from the file's root) and kept as is.
static cab_status_t
s_parse_budget (cab_broker_config_t *self, json_t *value, cab_error_t *error)
{
    cab_budget_t *budget = cab_budget_new (value, error);
    if (!budget)
        return error && error->code ? error->code : CAB_ERR_INVALID_CONFIG;
    cab_budget_destroy (&budget);
    self->budget = json_deep_copy (value);
    return self->budget ? CAB_OK : cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
}

//  A directory name, as a new string (dirname of path).
static char *
s_dirname (const char *path)
{
    char *copy = strdup (path);
    char *dir = copy ? strdup (dirname (copy)) : NULL;
    free (copy);
    return dir;
}

static cab_status_t
s_parse_paths (cab_broker_config_t *self, json_t *document, const char *base_dir,
               cab_error_t *error)
{
    json_t *value = json_object_get (document, "rules");
    if (value) {
        if (!json_is_string (value) || json_string_length (value) == 0)
            return s_invalid (error, "/rules", "must be the path of a rule file");
        self->rules_path = s_resolve (json_string_value (value), base_dir);
        if (!self->rules_path)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    value = json_object_get (document, "data_dir");
    if (value) {
        if (!json_is_string (value) || json_string_length (value) == 0)
            return s_invalid (error, "/data_dir", "must be a directory name");
        self->data_dir = s_resolve (json_string_value (value), base_dir);
    } else
        self->data_dir = s_dirname (self->store_path);
    if (!self->data_dir)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    return CAB_OK;
}

//  Read a JSON file (at most max bytes) into a new document.
static json_t *
s_read_json (const char *path, size_t max, cab_error_t *error)
{
    char *text = cab_file_read (path, max, NULL, error);
    if (!text)
        return NULL;
    json_error_t json_error;
    json_t *document = json_loads (text, JSON_REJECT_DUPLICATES, &json_error);
    free (text);
    if (!document)
        cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "%s:%d:%d: %s", path, json_error.line,
                       json_error.column, json_error.text);
    return document;
}

cab_status_t
cab_broker_config_load_rules (cab_broker_config_t *self, cab_rules_t **rules_p, cab_error_t *error)
{
    if (rules_p)
        *rules_p = NULL;
    if (!self->rules_document && self->rules_path) {
        self->rules_document = s_read_json (self->rules_path, CAB_RULES_FILE_MAX, error);
        if (!self->rules_document)
            return error ? error->code : CAB_ERR_IO;
    }
    cab_rules_t *rules = self->rules_document
                             ? cab_rules_parse (self->rules_document, self->data_dir, error)
                             : cab_rules_new_empty ();
    if (!rules)
        return self->rules_document ? (error ? error->code : CAB_ERR_INVALID_CONFIG)
                                    : cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    if (rules_p)
        *rules_p = rules;
    else
        cab_rules_unref (&rules);
    return CAB_OK;
}

static cab_status_t
s_parse (cab_broker_config_t *self, json_t *document, const char *base_dir, cab_error_t *error)
{
    static const char *const keys[] = {"endpoints",    "store",    "schemas",      "agents",
                                       "limits",       "$schema",  "rules",        "data_dir",
                                       "archive",      "delivery", "dead_letters", "curve",
                                       "allow_remote", "mirror",   "budget",       NULL};
    if (!json_is_object (document))
        return s_invalid (error, "", "the configuration must be a JSON object");
    if (s_known_keys (document, "", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    json_t *value = json_object_get (document, "endpoints");
    if (!value)
        return s_invalid (error, "/endpoints", "is required");
    if (s_parse_endpoints (self, value, error) != CAB_OK)
        return error ? error->code : CAB_ERR_INVALID_CONFIG;
    value = json_object_get (document, "store");
    if (!value)
        return s_invalid (error, "/store", "is required");
    if (s_parse_store (self, value, base_dir, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (document, "schemas");
    if (value) {
        if (!json_is_string (value) || json_string_length (value) == 0)
            return s_invalid (error, "/schemas", "must be a directory name");
        self->schemas_dir = s_resolve (json_string_value (value), base_dir);
        if (!self->schemas_dir)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    value = json_object_get (document, "agents");
    if (value && s_parse_agents (self, value, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (document, "limits");
    if (value && s_parse_limits (self, value, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    if (s_parse_paths (self, document, base_dir, error) != CAB_OK ||
        s_parse_retention (self, document, error) != CAB_OK)
        return error ? error->code : CAB_ERR_INVALID_CONFIG;
    value = json_object_get (document, "delivery");
    if (value && s_parse_delivery (self, value, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    value = json_object_get (document, "curve");
    if (value && s_parse_curve (self, value, base_dir, error) != CAB_OK)
        return error ? error->code : CAB_ERR_INVALID_CONFIG;
    value = json_object_get (document, "allow_remote");
    if (value && !json_is_boolean (value))
        return s_invalid (error, "/allow_remote", "must be true or false");
    self->allow_remote = json_is_true (value);
    value = json_object_get (document, "mirror");
    if (value && s_parse_mirror (self, value, base_dir, error) != CAB_OK)
        return error ? error->code : CAB_ERR_INVALID_CONFIG;
    value = json_object_get (document, "budget");
    if (value && s_parse_budget (self, value, error) != CAB_OK)
        return error ? error->code : CAB_ERR_INVALID_CONFIG;
    return CAB_OK;
}

cab_broker_config_t *
cab_broker_config_parse (json_t *document, const char *base_dir, cab_error_t *error)
{
    cab_broker_config_t *self = cab_broker_config_new ();
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    if (s_parse (self, document, base_dir, error) != CAB_OK)
        cab_broker_config_destroy (&self);
    return self;
}

cab_broker_config_t *
cab_broker_config_load (const char *path, cab_error_t *error)
{
    json_t *document = s_read_json (path, S_CONFIG_MAX, error);
    if (!document)
        return NULL;
    char *copy = strdup (path);
    cab_broker_config_t *self =
        copy ? cab_broker_config_parse (document, dirname (copy), error) : NULL;
    if (!copy)
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    free (copy);
    json_decref (document);
    if (self && !(self->config_path = strdup (path))) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        cab_broker_config_destroy (&self);
    }
    return self;
}
