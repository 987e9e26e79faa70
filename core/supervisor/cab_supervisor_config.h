/*  =========================================================================
    cab_supervisor_config - the supervisor's one JSON configuration file

        {"run_dir": "run", "log_dir": "log",
         "log": {"max_bytes": 1048576, "keep": 5},
         "broker": {"endpoint": "ipc://run/broker.ipc", "agent_id": "supervisor"},
         "programs": [
           {"name": "broker", "command": ["cabruca-broker", "-c", "broker.json", "-d", "3"],
            "notify_fd": 3},
           {"name": "monitor", "command": ["cabruca-monitor"], "depends_on": ["broker"],
            "instances": 1, "autostart": true, "restart": "on-failure",
            "environment": {"LANG": "C"}, "directory": ".",
            "backoff": {"initial": 1, "maximum": 60}, "start_secs": 1,
            "start_limit_burst": 5, "start_limit_interval": 60,
            "stop_signal": "TERM", "stop_timeout": 10}]}

    Validation is strict (unknown keys are errors) and every error is
    CAB_ERR_INVALID_CONFIG (or CAB_ERR_INVALID_JSON) with the JSON Pointer of
    the offending value. Relative paths are relative to the file's directory.
    Documented in docs/man/cabruca-supervisor.md; schema in
    schemas/config/supervisor.json.
    =========================================================================
*/
#ifndef CAB_SUPERVISOR_CONFIG_H_INCLUDED
#define CAB_SUPERVISOR_CONFIG_H_INCLUDED

#include "cabruca.h"
#include <stdbool.h>
#include <stdint.h>

//  Bounds on the configuration.
#define CAB_SUPERVISOR_MAX_PROGRAMS  256
#define CAB_SUPERVISOR_MAX_INSTANCES 64
#define CAB_SUPERVISOR_MAX_ARGS      256
#define CAB_SUPERVISOR_MAX_ENV       256
#define CAB_SUPERVISOR_MAX_DEPENDS   32
#define CAB_SUPERVISOR_NAME_MAX      64

typedef enum {
    CAB_RESTART_ALWAYS = 0,
    CAB_RESTART_ON_FAILURE = 1,
    CAB_RESTART_NEVER = 2
} cab_restart_t;

//  One program's definition, shared (reference-counted) by the config and
//  the processes that run it, so a reload can replace the config while old
//  processes stop.
typedef struct {
    int refs;
    char *name;
    char **argv;                    //  NULL-terminated
    size_t argc;
    char **env;                     //  "KEY=VALUE" strings, NULL-terminated
    size_t env_count;
    char *directory;                //  absolute or relative to the config, or NULL
    int instances;
    bool autostart;
    cab_restart_t restart;
    int64_t backoff_initial_ms;
    int64_t backoff_maximum_ms;
    int64_t start_ms;               //  healthy/started after this long
    int start_limit_burst;
    int64_t start_limit_interval_ms;
    int notify_fd;                  //  -1: readiness is start_secs
    int stop_signal;
    int64_t stop_timeout_ms;
    char **depends_on;
    size_t depends_count;
    json_t *normalized;             //  the definition with defaults, for reload
} cab_program_def_t;

typedef struct {
    char *run_dir;
    char *log_dir;
    int64_t log_max_bytes;
    int log_keep;
    char *broker_endpoint;          //  NULL: no lifecycle events to a broker
    char *broker_agent_id;
    char *events_file;              //  NULL: no JSON-lines record of events
    cab_program_def_t **programs;
    size_t program_count;
} cab_supervisor_config_t;

//  Load and validate a configuration file. Returns NULL and fills error on
//  failure: CAB_ERR_IO, CAB_ERR_TOO_LARGE, CAB_ERR_INVALID_JSON,
//  CAB_ERR_INVALID_CONFIG (with a JSON Pointer), CAB_ERR_NOMEM. Caller owns
//  the return value and must destroy it.
cab_supervisor_config_t *
    cab_supervisor_config_load (const char *path, cab_error_t *error);

//  Parse and validate configuration text; relative paths are resolved
//  against base_dir (NULL: the current directory). As _load.
cab_supervisor_config_t *
    cab_supervisor_config_parse (const char *text, size_t length, const char *base_dir,
                                 cab_error_t *error);

//  Destroy a configuration (dropping its references to its programs) and
//  null the pointer; safe on NULL.
void
    cab_supervisor_config_destroy (cab_supervisor_config_t **self_p);

//  Take one more reference to a definition; returns it.
cab_program_def_t *
    cab_program_def_ref (cab_program_def_t *def);

//  Drop a reference to a definition (freed at zero) and null the pointer.
void
    cab_program_def_unref (cab_program_def_t **def_p);

//  Return the definition named `name`, or NULL. Borrowed.
cab_program_def_t *
    cab_supervisor_config_find (cab_supervisor_config_t *self, const char *name);

//  Return the name of a signal number ("TERM"), or "?" for others.
const char *
    cab_supervisor_signal_name (int signal_number);

#endif
