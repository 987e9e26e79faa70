/*  =========================================================================
    cab_supervisor_internal - what the supervisor's files share

    The supervisor owns a list of processes (one per program instance); each
    process is a small state machine (cab_program.c) driven by the
    supervisor's zloop: SIGCHLD through a signalfd, zloop timers for
    readiness, backoff and stop timeouts, and pollers on each process's
    output pipe and notification pipe.
    =========================================================================
*/
#ifndef CAB_SUPERVISOR_INTERNAL_H_INCLUDED
#define CAB_SUPERVISOR_INTERNAL_H_INCLUDED

#include "cab_supervisor.h"
#include "cab_supervisor_config.h"
#include "cab_logfile.h"
#include <czmq.h>
#include <sys/types.h>

//  Most processes (instances of all programs) at once.
#define CAB_SUPERVISOR_MAX_PROCESSES 1024
//  Lifecycle events waiting for the broker, at most.
#define CAB_SUPERVISOR_EVENT_QUEUE 1000
//  The supervisor never starts a process twice within this many ms.
#define CAB_SUPERVISOR_MIN_RESTART_MS 1000

typedef enum {
    CAB_PROCESS_STOPPED = 0,
    CAB_PROCESS_STARTING,
    CAB_PROCESS_RUNNING,
    CAB_PROCESS_BACKOFF,
    CAB_PROCESS_STOPPING,
    CAB_PROCESS_EXITED,
    CAB_PROCESS_FATAL
} cab_process_state_t;

typedef struct _cab_process_t cab_process_t;

struct _cab_process_t {
    cab_supervisor_t *supervisor;       //  borrowed
    cab_program_def_t *def;             //  one reference
    char name[CAB_SUPERVISOR_NAME_MAX + 16]; //  instance name: NAME or NAME-i
    cab_process_state_t state;
    bool want;                          //  should be running
    bool removed;                       //  dropped by a reload: free once stopped
    bool healthy;                       //  this run lasted start_secs
    bool restarting;                    //  the spawn is an automatic restart
    pid_t pid;                          //  0 when not running
    int64_t started_at;                 //  zclock_mono of the last spawn, 0 never
    int restarts;                       //  automatic restarts so far
    int exit_status;                    //  last exit: status, or -1
    int exit_signal;                    //  last exit: signal, or 0
    int64_t backoff_ms;                 //  delay before the next unhealthy restart
    int64_t *failures;                  //  times of failed starts (ring of burst)
    int failure_count;
    int failure_next;
    int timer;                          //  backoff or stop timer id, -1 none
    int health_timer;                   //  start_secs timer id, -1 none
    int output_fd;                      //  read end of stdout/stderr pipe, -1
    int notify_fd;                      //  read end of the notification pipe, -1
    cab_logfile_t *log;
};

struct _cab_supervisor_t {
    char *config_path;
    cab_supervisor_config_t *config;
    zloop_t *loop;
    int signal_fd;
    zsock_t *control;
    char *control_endpoint;
    cab_process_t **processes;
    size_t process_count;
    bool shutting_down;
    bool done;
    bool scheduling;                    //  inside cab_supervisor_schedule
    bool schedule_again;
    int guard_fd;                       //  write end of the orphan guard's pipe
    pid_t guard_pid;
    //  Lifecycle events
    cab_client_t *client;
    FILE *events_file;
    uint64_t events_dropped;
    int client_timer;
};

//  --- cab_program.c: one process's state machine

//  Create a process for instance `instance` (1-based; 0 when the program has
//  one instance) of def (a new reference is taken). NULL on failure.
cab_process_t *
    cab_process_new (cab_supervisor_t *supervisor, cab_program_def_t *def, int instance);

//  Stop timers and pollers, close pipes, free; the process must not run.
void
    cab_process_destroy (cab_process_t **self_p);

//  Start the program now (fork + exec). Returns CAB_OK or CAB_ERR_IO.
cab_status_t
    cab_process_spawn (cab_process_t *self);

//  The process exited with a waitpid status.
void
    cab_process_exited (cab_process_t *self, int wait_status);

//  Stop: stop signal to the group, SIGKILL after the stop timeout; a
//  process waiting to restart just stops waiting.
void
    cab_process_stop (cab_process_t *self);

//  Start again after FATAL or EXITED, or from STOPPED: reset the counters.
void
    cab_process_reset (cab_process_t *self);

//  True when no process of this one runs (STOPPED, EXITED, FATAL).
bool
    cab_process_idle (cab_process_t *self);

//  State name: "STOPPED", "RUNNING", ...
const char *
    cab_process_state_name (cab_process_state_t state);

//  The status object of a process. New reference.
json_t *
    cab_process_status (cab_process_t *self);

//  --- cab_supervisor.c

//  Apply the start and stop rules to every process (dependencies, reverse
//  order, shutdown, removal); called after every change.
void
    cab_supervisor_schedule (cab_supervisor_t *self);

//  Publish a lifecycle event `state` for a process with extra detail
//  fields (stolen, may be NULL).
void
    cab_supervisor_event (cab_supervisor_t *self, cab_process_t *process, const char *state,
                          json_t *fields);

//  Tell the orphan guard that a process group exists (add) or is gone.
void
    cab_supervisor_guard (cab_supervisor_t *self, pid_t pgid, bool add);

//  Print a log line on stderr: "cabruca-supervisor: ...".
void
    cab_supervisor_log (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  --- cab_control.c: the control socket

//  Bind the control socket in run_dir (owner-only) and register it.
cab_status_t
    cab_control_start (cab_supervisor_t *self, cab_error_t *error);

//  Unregister and close the control socket, remove its file.
void
    cab_control_stop (cab_supervisor_t *self);

#endif
