/*  =========================================================================
    cab_supervisor - runs the programs of a configuration, keeps them up

    The supervisor starts each program (in dependency order, a program only
    once its dependencies are ready), captures its output to rotated log
    files, restarts it by its policy with growing delays, gives up (FATAL)
    on a program that crash-loops, answers a control socket, reloads its
    configuration, publishes lifecycle events, and on shutdown stops
    everything in reverse dependency order. It runs in the calling thread.

    The caller must block SIGCHLD, SIGTERM, SIGINT and SIGHUP in every
    thread before creating the supervisor (and before any ZeroMQ context):
    the supervisor takes them through a signalfd. See
    docs/man/cabruca-supervisor.md.
    =========================================================================
*/
#ifndef CAB_SUPERVISOR_H_INCLUDED
#define CAB_SUPERVISOR_H_INCLUDED

#include "cabruca.h"
#include "cab_supervisor_config.h"

typedef struct _cab_supervisor_t cab_supervisor_t;

//  Create a supervisor for a loaded configuration (stolen: *config_p is
//  nulled, even on failure); config_path is remembered for reloads. Binds
//  the control socket, opens the signalfd and starts the orphan guard, but
//  starts no program yet. Returns NULL and fills error (CAB_ERR_IO,
//  CAB_ERR_NOMEM) on failure. Caller owns the result and must destroy it.
cab_supervisor_t *
    cab_supervisor_new (const char *config_path, cab_supervisor_config_t **config_p,
                        cab_error_t *error);

//  Destroy a supervisor; any process still running is killed (SIGKILL to
//  its group) and reaped. Nulls the pointer; safe on NULL.
void
    cab_supervisor_destroy (cab_supervisor_t **self_p);

//  Start the autostart programs and run until SIGTERM or SIGINT has
//  stopped every program. Returns CAB_OK, or CAB_ERR_IO when the loop
//  failed.
cab_status_t
    cab_supervisor_run (cab_supervisor_t *self);

//  Reload the configuration file: start added programs, stop removed ones,
//  restart changed ones, leave the others alone. Returns CAB_OK or the
//  error of the new configuration (then nothing changes).
cab_status_t
    cab_supervisor_reload (cab_supervisor_t *self, cab_error_t *error);

//  The control socket's endpoint ("ipc://RUN_DIR/supervisor.ipc").
//  Borrowed.
const char *
    cab_supervisor_endpoint (cab_supervisor_t *self);

//  Handle one control command ("status", "start", "stop", "restart",
//  "reload") with an optional name; returns the reply object
//  {"ok":true,...} or {"ok":false,"error":CODE,"text":...}. New reference.
json_t *
    cab_supervisor_command (cab_supervisor_t *self, const char *command, const char *name);

#endif
