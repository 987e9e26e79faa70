/*  =========================================================================
    agent_util - small things the shipped agents share (compiled into each;
    not part of libcabruca): running a program with a timeout and capturing
    its output, and a JSON state file written atomically.
    =========================================================================
*/
#ifndef AGENT_UTIL_H_INCLUDED
#define AGENT_UTIL_H_INCLUDED

#include <cabruca.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  A program started by run_start, running in its own process group.
typedef struct {
    pid_t pid;
    int output_fd;  //  Read end of its stdout+stderr, or -1
    int log_fd;     //  Where its output is copied, or -1
    char *output;   //  The first max_output bytes (NUL-terminated)
    size_t output_size, max_output;
    long long started_ms, deadline_ms;
    bool done, timed_out;
    int exit_status;  //  0..255, or 128 + signal
} run_t;

//  Start argv (argv[0] looked up in PATH) in directory (NULL: ours) with
//  stdin from /dev/null, stdout and stderr captured (the first max_output
//  bytes kept, all of it copied to log_path when not NULL), killed with
//  its whole group after timeout_ms. Returns 0, or -1 with errno set.
int run_start (run_t *self, char *const argv[], const char *directory, const char *log_path,
               size_t max_output, long long timeout_ms);

//  Collect output and check for the end without blocking. Returns true once
//  the program has ended (self->done): then exit_status and timed_out are set.
bool run_poll (run_t *self);

//  Run to the end (blocking): run_start then run_poll until done. Returns
//  the exit status (128 + signal when killed), or -1 when it cannot start.
int run_wait (char *const argv[], const char *directory, char **output_p, size_t max_output,
              long long timeout_ms);

//  Free what a run holds (kills it if still running).
void run_release (run_t *self);

//  Read a JSON object from path: a new reference, an empty object when the
//  file does not exist, or NULL (with a message on stderr) when it is not
//  a JSON object.
json_t *state_load (const char *path, const char *agent);

//  Write state to path atomically (a temporary file, fsync, rename).
//  Returns 0 or -1 (with a message on stderr).
int state_save (const char *path, const json_t *state, const char *agent);

//  Milliseconds since the epoch (wall clock) and on the monotonic clock.
long long now_ms (void);
long long mono_ms (void);

#endif
