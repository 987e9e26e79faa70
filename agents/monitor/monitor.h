/*  =========================================================================
    monitor - the monitor agent's parts (not installed)

    A check samples one thing (the load, memory, a disk, an HTTP endpoint, a
    log file) and says how bad it is now: a level from OK to CRITICAL, with
    the metrics and words of an Issue Detection event. monitor.c turns
    levels into events with hysteresis: an issue is reported when it
    starts, escalates, de-escalates or resolves, and again every reminder
    interval while it lasts, never on every sample.
    =========================================================================
*/
#ifndef MONITOR_H_INCLUDED
#define MONITOR_H_INCLUDED

#include <cabruca.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

//  How bad a check is now: OK, or one of the Issue Detection severities.
typedef enum { LEVEL_OK = -1, LEVEL_LOW = 0, LEVEL_MEDIUM, LEVEL_HIGH, LEVEL_CRITICAL } level_t;

typedef enum { CHECK_LOAD, CHECK_MEMORY, CHECK_DISK, CHECK_HTTP, CHECK_LOG } check_kind_t;

//  One sample's verdict. Strings are owned by the check and valid until its
//  next sample.
typedef struct {
    level_t level;
    char description[512];
    json_t *metrics;     //  New reference, or NULL
    const char *action;  //  A suggested action, or NULL
} verdict_t;

typedef struct {
    check_kind_t kind;
    char key[300];           //  "disk:/var", "http:web", ...: the issue's identity
    const char *issue_type;  //  Schema-valid: ^[a-z][a-z0-9_]*$
    const char *resource;    //  What is affected (host, path, URL)
    //  Thresholds (MEDIUM, HIGH, CRITICAL): load per CPU, percent used, or ms
    double thresholds[3];
    //  http
    char *url;
    long expect_status;
    long timeout_ms;
    //  log
    char *path;
    regex_t regex;
    bool regex_ready;
    level_t log_level;
    ino_t inode;
    off_t offset;
    bool opened;
    int64_t quiet_ms;       //  A log issue resolves after this long without a match
    int64_t last_match_ms;  //  Monotonic ms of the last matching sample
    long total_matches;     //  Since the issue started
    //  Hysteresis state
    level_t reported;
    int64_t reported_at;  //  ms, wall clock
    verdict_t verdict;
} check_t;

//  Parse the "monitor" section into checks (array of count, caller frees
//  with checks_destroy). Returns NULL with a message (pointer and reason)
//  in error on a bad section.
check_t *checks_new (const json_t *section, size_t *count_p, cab_error_t *error);

//  Free checks made by checks_new.
void checks_destroy (check_t *checks, size_t count);

//  Sample every check once (HTTP checks together, bounded by their
//  timeouts), filling each check's verdict.
void checks_sample (check_t *checks, size_t count);

//  The level of value against ascending thresholds (MEDIUM, HIGH, CRITICAL;
//  a threshold <= 0 is unused): LEVEL_OK under the first.
level_t level_of (double value, const double thresholds[3]);

#endif
