/*  =========================================================================
    cab_supervisor_config - load and validate the supervisor's configuration

    Strict: unknown keys, wrong types and values out of range are errors,
    each reported as CAB_ERR_INVALID_CONFIG with the JSON Pointer of the
    value. Dependencies must name programs and must not form a cycle.
    =========================================================================
*/
#include "cab_supervisor_config.h"
#include "cab_lines.h"
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

//  Largest configuration file, bytes.
#define S_CONFIG_MAX (1024 * 1024)
//  Longest argument, environment value or path, bytes.
#define S_STRING_MAX 4096

static const struct {
    const char *name;
    int number;
} s_signals[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},   {"QUIT", SIGQUIT},
                 {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL}, {NULL, 0}};

const char *
cab_supervisor_signal_name (int signal_number)
{
    for (size_t index = 0; s_signals[index].name; index++)
        if (s_signals[index].number == signal_number)
            return s_signals[index].name;
    return "?";
}

cab_program_def_t *
cab_program_def_ref (cab_program_def_t *def)
{
    if (def)
        def->refs++;
    return def;
}

static void
s_strings_free (char **strings)
{
    if (!strings)
        return;
    for (char **cursor = strings; *cursor; cursor++)
        free (*cursor);
    free (strings);
}

void
cab_program_def_unref (cab_program_def_t **def_p)
{
    if (!def_p || !*def_p)
        return;
    cab_program_def_t *def = *def_p;
    *def_p = NULL;
    if (--def->refs > 0)
        return;
    free (def->name);
    s_strings_free (def->argv);
    s_strings_free (def->env);
    s_strings_free (def->depends_on);
    free (def->directory);
    json_decref (def->normalized);
    free (def);
}

void
cab_supervisor_config_destroy (cab_supervisor_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_supervisor_config_t *self = *self_p;
    for (size_t index = 0; index < self->program_count; index++)
        cab_program_def_unref (&self->programs[index]);
    free (self->programs);
    free (self->run_dir);
    free (self->log_dir);
    free (self->broker_endpoint);
    free (self->broker_agent_id);
    free (self->events_file);
    free (self);
    *self_p = NULL;
}

cab_program_def_t *
cab_supervisor_config_find (cab_supervisor_config_t *self, const char *name)
{
    for (size_t index = 0; index < self->program_count; index++)
        if (strcmp (self->programs[index]->name, name) == 0)
            return self->programs[index];
    return NULL;
}

//  ---------------------------------------------------------------------
//  Small validators; each returns CAB_OK or fills error with the path.

static cab_status_t
s_invalid (cab_error_t *error, const char *path, const char *text)
{
    return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "%s", text);
}

//  Check that object `node` at `path` has only keys in `allowed`.
static cab_status_t
s_check_keys (json_t *node, const char *path, const char *const *allowed, cab_error_t *error)
{
    if (!json_is_object (node))
        return s_invalid (error, path, "must be an object");
    const char *key;
    json_t *value;
    json_object_foreach (node, key, value)
    {
        bool known = false;
        for (const char *const *cursor = allowed; *cursor && !known; cursor++)
            known = strcmp (*cursor, key) == 0;
        if (!known) {
            char at[CAB_ERROR_PATH_MAX];
            snprintf (at, sizeof at, "%s/%s", path, key);
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, at, "unknown field '%s'", key);
        }
    }
    return CAB_OK;
}

static bool
s_valid_name (const char *name)
{
    size_t length = strlen (name);
    if (length == 0 || length > CAB_SUPERVISOR_NAME_MAX)
        return false;
    for (size_t index = 0; index < length; index++) {
        char c = name[index];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (index > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

//  A string of 1..S_STRING_MAX bytes; *value_p borrowed.
static cab_status_t
s_string (json_t *node, const char *path, const char **value_p, cab_error_t *error)
{
    if (!json_is_string (node))
        return s_invalid (error, path, "must be a string");
    size_t length = json_string_length (node);
    if (length == 0 || length > S_STRING_MAX || strlen (json_string_value (node)) != length)
        return s_invalid (error, path, "must be a non-empty string of at most 4096 bytes, no NUL");
    *value_p = json_string_value (node);
    return CAB_OK;
}

//  Seconds (a number, may be fractional) in [low, high] into milliseconds.
static cab_status_t
s_seconds (json_t *node, const char *path, double low, double high, int64_t *ms_p,
           cab_error_t *error)
{
    if (!node)
        return CAB_OK;
    if (!json_is_number (node))
        return s_invalid (error, path, "must be a number of seconds");
    double value = json_number_value (node);
    if (!(value >= low && value <= high))
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path,
                              "must be between %g and %g seconds", low, high);
    *ms_p = (int64_t)llround (value * 1000.0);
    return CAB_OK;
}

static cab_status_t
s_integer (json_t *node, const char *path, json_int_t low, json_int_t high, int64_t *value_p,
           cab_error_t *error)
{
    if (!node)
        return CAB_OK;
    if (!json_is_integer (node))
        return s_invalid (error, path, "must be an integer");
    json_int_t value = json_integer_value (node);
    if (value < low || value > high)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "must be between %lld and %lld",
                              (long long)low, (long long)high);
    *value_p = value;
    return CAB_OK;
}

//  Resolve a path against base_dir into a new string.
static char *
s_resolve (const char *base_dir, const char *path)
{
    if (path[0] == '/' || !base_dir)
        return strdup (path);
    size_t size = strlen (base_dir) + strlen (path) + 2;
    char *full = (char *)malloc (size);
    if (full)
        snprintf (full, size, "%s/%s", base_dir, path);
    return full;
}

static char **
s_strings_new (size_t count)
{
    return (char **)calloc (count + 1, sizeof (char *));
}

//  ---------------------------------------------------------------------
//  One program

static const char *const s_program_keys[] = {"name",
                                             "command",
                                             "environment",
                                             "directory",
                                             "instances",
                                             "autostart",
                                             "restart",
                                             "backoff",
                                             "start_secs",
                                             "start_limit_burst",
                                             "start_limit_interval",
                                             "notify_fd",
                                             "stop_signal",
                                             "stop_timeout",
                                             "depends_on",
                                             NULL};

static cab_status_t
s_program_strings (cab_program_def_t *def, json_t *node, const char *path, cab_error_t *error)
{
    char at[CAB_ERROR_PATH_MAX];
    //  command
    json_t *command = json_object_get (node, "command");
    snprintf (at, sizeof at, "%s/command", path);
    if (!command)
        return s_invalid (error, at,
                          "is required (an array of strings: the program and its arguments)");
    if (!json_is_array (command) || json_array_size (command) == 0 ||
        json_array_size (command) > CAB_SUPERVISOR_MAX_ARGS)
        return s_invalid (error, at, "must be an array of 1 to 256 strings");
    def->argc = json_array_size (command);
    if (!(def->argv = s_strings_new (def->argc)))
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    for (size_t index = 0; index < def->argc; index++) {
        const char *arg;
        snprintf (at, sizeof at, "%s/command/%zu", path, index);
        if (s_string (json_array_get (command, index), at, &arg, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
        if (!(def->argv[index] = strdup (arg)))
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    //  environment
    json_t *environment = json_object_get (node, "environment");
    snprintf (at, sizeof at, "%s/environment", path);
    if (environment &&
        (!json_is_object (environment) || json_object_size (environment) > CAB_SUPERVISOR_MAX_ENV))
        return s_invalid (error, at, "must be an object of at most 256 string values");
    if (!(def->env = s_strings_new (environment ? json_object_size (environment) : 0)))
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    const char *key;
    json_t *value;
    json_object_foreach (environment, key, value)
    {
        snprintf (at, sizeof at, "%s/environment/%s", path, key);
        bool ok = *key && !(key[0] >= '0' && key[0] <= '9') && strlen (key) <= 256;
        for (const char *c = key; ok && *c; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '_';
        if (!ok)
            return s_invalid (error, at, "environment names are [A-Za-z_][A-Za-z0-9_]*");
        if (!json_is_string (value) || strlen (json_string_value (value)) > S_STRING_MAX)
            return s_invalid (error, at, "must be a string of at most 4096 bytes");
        size_t size = strlen (key) + json_string_length (value) + 2;
        char *entry = (char *)malloc (size);
        if (!entry)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        snprintf (entry, size, "%s=%s", key, json_string_value (value));
        def->env[def->env_count++] = entry;
    }
    //  depends_on
    json_t *depends = json_object_get (node, "depends_on");
    snprintf (at, sizeof at, "%s/depends_on", path);
    if (depends &&
        (!json_is_array (depends) || json_array_size (depends) > CAB_SUPERVISOR_MAX_DEPENDS))
        return s_invalid (error, at, "must be an array of at most 32 program names");
    if (!(def->depends_on = s_strings_new (depends ? json_array_size (depends) : 0)))
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    for (size_t index = 0; depends && index < json_array_size (depends); index++) {
        json_t *item = json_array_get (depends, index);
        snprintf (at, sizeof at, "%s/depends_on/%zu", path, index);
        if (!json_is_string (item) || !s_valid_name (json_string_value (item)))
            return s_invalid (error, at, "must be a program name");
        if (!(def->depends_on[def->depends_count++] = strdup (json_string_value (item))))
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    return CAB_OK;
}

static cab_status_t
s_program_numbers (cab_program_def_t *def, json_t *node, const char *path, cab_error_t *error)
{
    char at[CAB_ERROR_PATH_MAX];
    int64_t value = 1;
    snprintf (at, sizeof at, "%s/instances", path);
    if (s_integer (json_object_get (node, "instances"), at, 1, CAB_SUPERVISOR_MAX_INSTANCES, &value,
                   error))
        return CAB_ERR_INVALID_CONFIG;
    def->instances = (int)value;
    json_t *autostart = json_object_get (node, "autostart");
    snprintf (at, sizeof at, "%s/autostart", path);
    if (autostart && !json_is_boolean (autostart))
        return s_invalid (error, at, "must be true or false");
    def->autostart = !autostart || json_is_true (autostart);
    json_t *restart = json_object_get (node, "restart");
    snprintf (at, sizeof at, "%s/restart", path);
    const char *policy = json_is_string (restart) ? json_string_value (restart) : "";
    if (!restart)
        def->restart = CAB_RESTART_ALWAYS;
    else if (strcmp (policy, "always") == 0)
        def->restart = CAB_RESTART_ALWAYS;
    else if (strcmp (policy, "on-failure") == 0)
        def->restart = CAB_RESTART_ON_FAILURE;
    else if (strcmp (policy, "never") == 0)
        def->restart = CAB_RESTART_NEVER;
    else
        return s_invalid (error, at, "must be \"always\", \"on-failure\" or \"never\"");
    //  backoff: never faster than once a second
    def->backoff_initial_ms = 1000;
    def->backoff_maximum_ms = 60000;
    json_t *backoff = json_object_get (node, "backoff");
    snprintf (at, sizeof at, "%s/backoff", path);
    if (backoff) {
        static const char *const keys[] = {"initial", "maximum", NULL};
        if (s_check_keys (backoff, at, keys, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
        snprintf (at, sizeof at, "%s/backoff/initial", path);
        if (s_seconds (json_object_get (backoff, "initial"), at, 1, 3600, &def->backoff_initial_ms,
                       error))
            return CAB_ERR_INVALID_CONFIG;
        snprintf (at, sizeof at, "%s/backoff/maximum", path);
        if (s_seconds (json_object_get (backoff, "maximum"), at, 1, 86400, &def->backoff_maximum_ms,
                       error))
            return CAB_ERR_INVALID_CONFIG;
        if (def->backoff_maximum_ms < def->backoff_initial_ms)
            return s_invalid (error, at, "must not be less than backoff/initial");
    }
    def->start_ms = 1000;
    snprintf (at, sizeof at, "%s/start_secs", path);
    if (s_seconds (json_object_get (node, "start_secs"), at, 0, 3600, &def->start_ms, error))
        return CAB_ERR_INVALID_CONFIG;
    value = 5;
    snprintf (at, sizeof at, "%s/start_limit_burst", path);
    if (s_integer (json_object_get (node, "start_limit_burst"), at, 1, 1000, &value, error))
        return CAB_ERR_INVALID_CONFIG;
    def->start_limit_burst = (int)value;
    def->start_limit_interval_ms = 60000;
    snprintf (at, sizeof at, "%s/start_limit_interval", path);
    if (s_seconds (json_object_get (node, "start_limit_interval"), at, 1, 86400,
                   &def->start_limit_interval_ms, error))
        return CAB_ERR_INVALID_CONFIG;
    value = -1;
    snprintf (at, sizeof at, "%s/notify_fd", path);
    if (s_integer (json_object_get (node, "notify_fd"), at, 3, 1023, &value, error))
        return CAB_ERR_INVALID_CONFIG;
    def->notify_fd = (int)value;
    def->stop_signal = SIGTERM;
    json_t *stop_signal = json_object_get (node, "stop_signal");
    snprintf (at, sizeof at, "%s/stop_signal", path);
    if (stop_signal) {
        const char *name = json_is_string (stop_signal) ? json_string_value (stop_signal) : "";
        if (strncmp (name, "SIG", 3) == 0)
            name += 3;
        def->stop_signal = 0;
        for (size_t index = 0; s_signals[index].name; index++)
            if (strcmp (s_signals[index].name, name) == 0)
                def->stop_signal = s_signals[index].number;
        if (!def->stop_signal)
            return s_invalid (error, at, "must be one of TERM INT HUP QUIT USR1 USR2 KILL");
    }
    def->stop_timeout_ms = 10000;
    snprintf (at, sizeof at, "%s/stop_timeout", path);
    if (s_seconds (json_object_get (node, "stop_timeout"), at, 0.1, 3600, &def->stop_timeout_ms,
                   error))
        return CAB_ERR_INVALID_CONFIG;
    return CAB_OK;
}

//  The definition with every default filled in: two definitions are the
//  same program exactly when their normalized forms are equal.
static json_t *
s_normalize (cab_program_def_t *def)
{
    json_t *command = json_array ();
    json_t *environment = json_object ();
    json_t *depends = json_array ();
    for (size_t index = 0; index < def->argc; index++)
        json_array_append_new (command, json_string (def->argv[index]));
    for (size_t index = 0; index < def->env_count; index++) {
        char *equals = strchr (def->env[index], '=');
        *equals = '\0';
        json_object_set_new (environment, def->env[index], json_string (equals + 1));
        *equals = '=';
    }
    for (size_t index = 0; index < def->depends_count; index++)
        json_array_append_new (depends, json_string (def->depends_on[index]));
    static const char *const policies[] = {"always", "on-failure", "never"};
    return json_pack ("{s:s, s:o, s:o, s:s?, s:i, s:b, s:s, s:{s:I, s:I}, s:I, s:i, s:I, s:i,"
                      " s:i, s:I, s:o}",
                      "name", def->name, "command", command, "environment", environment,
                      "directory", def->directory, "instances", def->instances, "autostart",
                      def->autostart, "restart", policies[def->restart], "backoff", "initial_ms",
                      (json_int_t)def->backoff_initial_ms, "maximum_ms",
                      (json_int_t)def->backoff_maximum_ms, "start_ms", (json_int_t)def->start_ms,
                      "start_limit_burst", def->start_limit_burst, "start_limit_interval_ms",
                      (json_int_t)def->start_limit_interval_ms, "notify_fd", def->notify_fd,
                      "stop_signal", def->stop_signal, "stop_timeout_ms",
                      (json_int_t)def->stop_timeout_ms, "depends_on", depends);
}

static cab_program_def_t *
s_program_new (json_t *node, const char *path, const char *base_dir, cab_error_t *error)
{
    if (s_check_keys (node, path, s_program_keys, error) != CAB_OK)
        return NULL;
    cab_program_def_t *def = (cab_program_def_t *)calloc (1, sizeof *def);
    if (!def) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    def->refs = 1;
    char at[CAB_ERROR_PATH_MAX];
    snprintf (at, sizeof at, "%s/name", path);
    json_t *name = json_object_get (node, "name");
    const char *text = NULL;
    if (!name)
        s_invalid (error, at, "is required");
    else if (!json_is_string (name) || !s_valid_name (json_string_value (name)))
        s_invalid (error, at, "must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit");
    else if (!(def->name = strdup (json_string_value (name))))
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    else if (s_program_strings (def, node, path, error) == CAB_OK &&
             s_program_numbers (def, node, path, error) == CAB_OK) {
        json_t *directory = json_object_get (node, "directory");
        snprintf (at, sizeof at, "%s/directory", path);
        if (directory && s_string (directory, at, &text, error) != CAB_OK)
            ;
        else if (directory && !(def->directory = s_resolve (base_dir, text)))
            cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        else if (!(def->normalized = s_normalize (def)))
            cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        else
            return def;
    }
    cab_program_def_unref (&def);
    return NULL;
}

//  ---------------------------------------------------------------------
//  Dependencies: each names a program; no cycles (depth-first search).

static cab_status_t
s_visit (cab_supervisor_config_t *self, size_t index, char *marks, cab_error_t *error)
{
    marks[index] = 1;  //  on the stack
    cab_program_def_t *def = self->programs[index];
    for (size_t edge = 0; edge < def->depends_count; edge++) {
        size_t target = 0;
        while (target < self->program_count &&
               strcmp (self->programs[target]->name, def->depends_on[edge]) != 0)
            target++;
        char at[CAB_ERROR_PATH_MAX];
        snprintf (at, sizeof at, "/programs/%zu/depends_on/%zu", index, edge);
        if (target == self->program_count)
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, at, "no program named '%s'",
                                  def->depends_on[edge]);
        if (marks[target] == 1)
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, at,
                                  "dependency cycle: '%s' depends on '%s', which leads back",
                                  def->name, def->depends_on[edge]);
        if (marks[target] == 0 && s_visit (self, target, marks, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
    }
    marks[index] = 2;  //  done
    return CAB_OK;
}

//  ---------------------------------------------------------------------

static cab_status_t
s_parse_top (cab_supervisor_config_t *self, json_t *root, const char *base_dir, cab_error_t *error)
{
    static const char *const keys[] = {"run_dir",     "log_dir",  "log", "broker",
                                       "events_file", "programs", NULL};
    if (s_check_keys (root, "", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_CONFIG;
    const char *names[] = {"run_dir", "log_dir", "events_file"};
    char **targets[] = {&self->run_dir, &self->log_dir, &self->events_file};
    const char *defaults[] = {"/tmp/cabruca", ".", NULL};
    for (size_t index = 0; index < 3; index++) {
        char at[64];
        snprintf (at, sizeof at, "/%s", names[index]);
        json_t *node = json_object_get (root, names[index]);
        const char *text = defaults[index];
        if (node && s_string (node, at, &text, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
        if (text && !(*targets[index] = s_resolve (base_dir, text)))
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    self->log_max_bytes = 10 * 1024 * 1024;
    self->log_keep = 5;
    json_t *log = json_object_get (root, "log");
    if (log) {
        static const char *const log_keys[] = {"max_bytes", "keep", NULL};
        int64_t keep = self->log_keep;
        if (s_check_keys (log, "/log", log_keys, error) != CAB_OK ||
            s_integer (json_object_get (log, "max_bytes"), "/log/max_bytes", 1024,
                       (json_int_t)1 << 40, &self->log_max_bytes, error) ||
            s_integer (json_object_get (log, "keep"), "/log/keep", 0, 100, &keep, error))
            return CAB_ERR_INVALID_CONFIG;
        self->log_keep = (int)keep;
    }
    json_t *broker = json_object_get (root, "broker");
    if (broker) {
        static const char *const broker_keys[] = {"endpoint", "agent_id", NULL};
        const char *endpoint = NULL, *agent_id = "supervisor";
        json_t *agent = json_object_get (broker, "agent_id");
        if (s_check_keys (broker, "/broker", broker_keys, error) != CAB_OK)
            return CAB_ERR_INVALID_CONFIG;
        if (!json_object_get (broker, "endpoint"))
            return s_invalid (error, "/broker/endpoint", "is required");
        if (s_string (json_object_get (broker, "endpoint"), "/broker/endpoint", &endpoint, error))
            return CAB_ERR_INVALID_CONFIG;
        if (strncmp (endpoint, "ipc://", 6) != 0 && strncmp (endpoint, "tcp://", 6) != 0)
            return s_invalid (error, "/broker/endpoint", "must be ipc://PATH or tcp://HOST:PORT");
        if (agent && (!json_is_string (agent) || !s_valid_name (json_string_value (agent))))
            return s_invalid (error, "/broker/agent_id", "must be 1-64 of [A-Za-z0-9._-]");
        if (agent)
            agent_id = json_string_value (agent);
        if (!(self->broker_endpoint = strdup (endpoint)) ||
            !(self->broker_agent_id = strdup (agent_id)))
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    return CAB_OK;
}

cab_supervisor_config_t *
cab_supervisor_config_parse (const char *text, size_t length, const char *base_dir,
                             cab_error_t *error)
{
    json_error_t json_error;
    json_t *root = json_loadb (text, length, JSON_REJECT_DUPLICATES, &json_error);
    if (!root) {
        cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "line %d, column %d: %s", json_error.line,
                       json_error.column, json_error.text);
        return NULL;
    }
    cab_supervisor_config_t *self = (cab_supervisor_config_t *)calloc (1, sizeof *self);
    if (!self) {
        json_decref (root);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    cab_status_t status = s_parse_top (self, root, base_dir, error);
    json_t *programs = json_object_get (root, "programs");
    if (status == CAB_OK && !programs)
        status = s_invalid (error, "/programs", "is required (an array of programs)");
    else if (status == CAB_OK && (!json_is_array (programs) ||
                                  json_array_size (programs) > CAB_SUPERVISOR_MAX_PROGRAMS))
        status = s_invalid (error, "/programs", "must be an array of at most 256 programs");
    if (status == CAB_OK) {
        self->programs = (cab_program_def_t **)calloc (json_array_size (programs) + 1,
                                                       sizeof (cab_program_def_t *));
        if (!self->programs)
            status = cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    for (size_t index = 0; status == CAB_OK && index < json_array_size (programs); index++) {
        char at[64];
        snprintf (at, sizeof at, "/programs/%zu", index);
        cab_program_def_t *def =
            s_program_new (json_array_get (programs, index), at, base_dir, error);
        if (!def) {
            status = error ? error->code : CAB_ERR_INVALID_CONFIG;
            break;
        }
        self->programs[self->program_count++] = def;
        for (size_t other = 0; other + 1 < self->program_count; other++)
            if (strcmp (self->programs[other]->name, def->name) == 0) {
                snprintf (at, sizeof at, "/programs/%zu/name", index);
                status = cab_error_set (error, CAB_ERR_INVALID_CONFIG, at,
                                        "duplicate program name '%s'", def->name);
            }
    }
    if (status == CAB_OK && self->program_count) {
        char *marks = (char *)calloc (self->program_count, 1);
        if (!marks)
            status = cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        for (size_t index = 0; status == CAB_OK && index < self->program_count; index++)
            if (marks[index] == 0)
                status = s_visit (self, index, marks, error);
        free (marks);
    }
    json_decref (root);
    if (status != CAB_OK)
        cab_supervisor_config_destroy (&self);
    return self;
}

cab_supervisor_config_t *
cab_supervisor_config_load (const char *path, cab_error_t *error)
{
    size_t size = 0;
    char *text = cab_file_read (path, S_CONFIG_MAX, &size, error);
    if (!text)
        return NULL;
    char *copy = strdup (path);
    cab_supervisor_config_t *self = NULL;
    if (!copy)
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    else {
        char resolved[PATH_MAX];
        const char *dir = dirname (copy);
        if (realpath (dir, resolved))
            dir = resolved;
        self = cab_supervisor_config_parse (text, size, dir, error);
    }
    free (copy);
    free (text);
    return self;
}
