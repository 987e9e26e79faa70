/*  =========================================================================
    cab_target - delivery backends for the non-agent targets

    A backend is a small struct of function pointers chosen by name
    ("command", "http", "log"; STYLE.md convention 9). The sender
    (cab_sender) owns one instance of each backend inside its actor thread
    and hands it tasks; a backend works inside the sender's zloop (pollers
    and timers) and never blocks for long:

      command   cab_target_command.c: posix_spawn of target->argv (no shell),
                the payload on stdin, exit 0 is success, timeout_ms then
                SIGTERM to the process group and SIGKILL 1 s later.
      http      cab_target_http.c: POST with libcurl's multi interface on
                the sender's zloop, 2xx is success, EventBridge API
                destinations' retry rules for the rest.
      log       cab_target_log.c: one JSON line per task appended to a file,
                with size-based rotation; the lines of the tasks started in
                one turn of the reactor go out together (one writev).

    Every task a backend starts ends with exactly one call to env->done,
    possibly before start returns. Destroying a backend abandons what is in
    flight (children killed and reaped, transfers cancelled): those tasks
    also come back through env->done, with CAB_ERR_DISCONNECTED.

    Private to libcabd: the broker and the tests use cab_sender.h.
    =========================================================================
*/
#ifndef CAB_TARGET_H_INCLUDED
#define CAB_TARGET_H_INCLUDED

#include "cab_rules.h"
#include "cab_sender.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  Processes one command target runs at once (more jobs wait in the sender).
#define CAB_TARGET_COMMAND_MAX_ACTIVE 4
//  Requests one http target has in flight at once.
#define CAB_TARGET_HTTP_MAX_ACTIVE 8
//  Bytes of a child's stderr or of an HTTP response body kept for the
//  error text (the rest is read and dropped).
#define CAB_TARGET_EXCERPT_MAX 1024
//  Grace between SIGTERM and SIGKILL for a command past its timeout, in ms.
#define CAB_TARGET_KILL_GRACE_MS 1000
//  timeout_ms used when a target has none (hand-built targets).
#define CAB_TARGET_DEFAULT_TIMEOUT_MS 10000

typedef struct _cab_target_task_t cab_target_task_t;

//  One job while the sender runs it. The sender owns the task and the job;
//  `backend` belongs to the backend between start and done.
struct _cab_target_task_t {
    cab_send_job_t *job;        //  the job (job->target borrowed)
    int64_t started_us;         //  monotonic time the sender started it
    void *backend;              //  backend's per-task state, or NULL
    void *lane;                 //  sender's: the per-target queue
    cab_target_task_t *next;    //  sender's: queue link
};

//  Completion callback: job->status, ->permanent and ->error are set.
typedef void (cab_target_done_fn) (cab_target_task_t *task, void *arg);

//  What the sender gives a backend: its reactor and the completion callback.
typedef struct {
    zloop_t *loop;              //  the sender's reactor (borrowed)
    cab_target_done_fn *done;   //  call once per task
    void *arg;                  //  for done
} cab_target_env_t;

//  A backend.
typedef struct {
    const char *name;           //  "command", "http", "log"
    cab_target_type_t type;     //  the rule target type it serves
    size_t max_active;          //  tasks per target at once; 0 = no limit
    //  Create the backend's state (NULL on failure). env is copied.
    void *(*create) (const cab_target_env_t *env);
    //  Abandon the tasks in flight (each comes back through env->done with
    //  CAB_ERR_DISCONNECTED), free the state, null the pointer; safe on NULL.
    void (*destroy) (void **state_p);
    //  Begin a task; it ends with exactly one env->done call.
    void (*start) (void *state, cab_target_task_t *task);
} cab_target_ops_t;

//  The backends, for cab_target_lookup and cab_target_for_type.
extern const cab_target_ops_t cab_target_command_ops;
extern const cab_target_ops_t cab_target_http_ops;
extern const cab_target_ops_t cab_target_log_ops;

//  Return the backend called `name` ("command", "http", "log"), static; NULL
//  when there is none ("agent" is the broker's own business).
const cab_target_ops_t *
    cab_target_lookup (const char *name);

//  Return the backend for a rule target type, static; NULL for
//  CAB_TARGET_AGENT and unknown types.
const cab_target_ops_t *
    cab_target_for_type (cab_target_type_t type);

//  Monotonic clock in microseconds.
int64_t
    cab_target_now_us (void);

//  Fill a job's outcome: status, permanent and a printf-style error text
//  (truncated to fit job->error). Returns status.
cab_status_t
    cab_target_fail (cab_send_job_t *job, cab_status_t status, bool permanent,
                     const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  Append `size` bytes of untrusted text (a child's stderr, a response body)
//  to the NUL-terminated string in buffer (capacity `capacity`) as one
//  readable line: valid UTF-8 is kept, line breaks and tabs become spaces,
//  other control bytes and invalid UTF-8 become '?', runs of spaces fold,
//  the end is trimmed; a cut text ends in "...". Returns buffer.
char *
    cab_target_excerpt (char *buffer, size_t capacity, const char *text, size_t size);

#endif
