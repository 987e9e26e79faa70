/*  =========================================================================
    cab_sender - the actor that delivers to command, http and log targets

    The broker hands the sender jobs (one delivery attempt each: a target
    and a transformed payload) and gets them back finished, in any order,
    with the outcome filled in. The sender is a zactor: one thread that owns
    the child processes of command targets, one libcurl multi handle for
    http targets and the open files of log targets, all driven by one zloop
    that stays responsive to its pipe (cab_target.h has the backends).

    Inside the sender, jobs wait in one queue per target (FIFO): a command
    target runs at most CAB_TARGET_COMMAND_MAX_ACTIVE processes at once, an
    http target CAB_TARGET_HTTP_MAX_ACTIVE requests, and an http target with
    rate_per_second > 0 starts at most that many per second (evenly spaced,
    no burst). Jobs wait; none is dropped.

    Bound: at most CAB_SENDER_MAX_JOBS jobs are inside the sender (waiting,
    running, or finished and not yet received). A job sent beyond that comes
    back at once with status CAB_ERR_BUSY (not permanent): the caller keeps
    it and retries later.

    Outcomes (job->status): CAB_OK delivered; CAB_ERR_TARGET_FAILED the
    target refused (non-zero exit, killed by a signal, non-2xx answer);
    CAB_ERR_TIMEOUT (timeout_ms passed); CAB_ERR_IO (spawn, pipe, network,
    file write); CAB_ERR_INVALID_ARGUMENT (a job the sender cannot run: an
    agent target, no argv/url/path; permanent); CAB_ERR_BUSY (see above).
    job->permanent is true when retrying cannot help (HTTP 1xx, 3xx and 4xx
    other than 401, 407, 409 and 429, as EventBridge API destinations).

    Shutdown: cab_sender_destroy abandons what is running (children killed
    with SIGKILL and reaped, transfers cancelled), frees every job still
    inside or waiting in the pipe, and ends the actor. Abandoned deliveries
    are still PENDING in the store and run again after a restart.

    Use from a loop: register the actor as a reader (zloop_reader or
    zpoller: it is readable when a finished job is waiting) and drain it
    with cab_sender_try_recv until NULL.

    Threads: the zactor handle is used by one thread (the broker's), as any
    czmq socket. SIGPIPE is blocked in the sender thread. Child processes
    are watched with a pidfd (Linux 5.3+), else polled with waitid every
    10 ms; the sender never reaps a process it did not start.
    =========================================================================
*/
#ifndef CAB_SENDER_H_INCLUDED
#define CAB_SENDER_H_INCLUDED

#include "cab_rules.h"
#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Most jobs inside one sender.
#define CAB_SENDER_MAX_JOBS 10000

//  One delivery attempt.
typedef struct {
    int64_t delivery;                   //  in: delivery id (opaque to the sender)
    const cab_rule_target_t *target;    //  in: borrowed; the broker keeps its cab_rules_t alive
    const char *rule_name;              //  in: borrowed, same lifetime
    const char *payload;                //  in: the bytes to deliver (already transformed)
    size_t size;                        //  in: payload bytes
    char *owned;                        //  the job's own copy (payload points into it), or
                                        //  NULL while the payload is borrowed
    void (*release) (void *arg);        //  borrowed payload: called once, by the destroy
    void *release_arg;
    cab_status_t status;                //  out: CAB_OK delivered, else the failure
    bool permanent;                     //  out: retrying cannot help
    char error[256];                    //  out: readable reason ("" on success)
    int64_t elapsed_us;                 //  out: from start (after any wait) to the outcome
} cab_send_job_t;

//  Create a job: target and rule_name are borrowed (they must outlive the
//  job), the payload is stolen (*payload_p is nulled; it must come from
//  malloc). Returns a new job the caller owns (cab_send_job_destroy), or
//  NULL when out of memory (the payload is then freed and *payload_p nulled).
cab_send_job_t *
    cab_send_job_new (int64_t delivery, const cab_rule_target_t *target, const char *rule_name,
                      char **payload_p, size_t size);

//  Create a job that borrows its payload: data (size bytes and a NUL after
//  them) must stay as it is until release (arg) is called, once, by
//  cab_send_job_destroy; release may be NULL. No backend writes to a
//  borrowed payload (one that must change it takes its own copy into
//  owned). The destroy runs in the owner's thread, or in the sender's while
//  cab_sender_destroy waits for it. Returns a new job the caller owns, or
//  NULL when out of memory (then release is not called).
cab_send_job_t *
    cab_send_job_borrow (int64_t delivery, const cab_rule_target_t *target, const char *rule_name,
                         const char *data, size_t size, void (*release) (void *arg), void *arg);

//  Destroy a job (free its own payload, call the release of a borrowed one,
//  free the job: a job built by hand must be malloc'd, its owned payload
//  too) and null the pointer; safe on NULL.
void
    cab_send_job_destroy (cab_send_job_t **job_p);

//  Start a sender (a new zactor; the caller destroys it with
//  cab_sender_destroy). Returns NULL when the actor cannot start.
zactor_t *
    cab_sender_new (void);

//  Stop a sender: abandon its jobs (children killed and reaped), free every
//  job inside it or in its pipe, end the actor, null the pointer; safe on
//  NULL. Plain zactor_destroy also stops it but leaks finished jobs still in
//  the pipe.
void
    cab_sender_destroy (zactor_t **sender_p);

//  Hand a job to the sender, which then owns it until it comes back through
//  cab_sender_recv. Returns 0, or -1 when the message cannot be sent (the
//  caller keeps the job). May block briefly while the pipe is full (the
//  actor drains it without blocking). Beyond CAB_SENDER_MAX_JOBS the job
//  comes back at once with CAB_ERR_BUSY.
int
    cab_sender_send (zactor_t *sender, cab_send_job_t *job);

//  Receive one finished job (any order), waiting for it. Returns the job
//  (caller owns it again), or NULL when interrupted.
cab_send_job_t *
    cab_sender_recv (zactor_t *sender);

//  Receive one finished job if one is ready, without waiting; NULL if none.
cab_send_job_t *
    cab_sender_try_recv (zactor_t *sender);

#endif
