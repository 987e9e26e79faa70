/*  =========================================================================
    cab_rules - a loaded, validated and compiled rule file

    A rule file (docs/rules.md, schema schemas/config/rules.json) names the
    rules of the broker: each has an EventBridge event pattern and one to
    five targets (an agent queue, a command, an HTTP endpoint or a log
    file), with a retry policy, a dead-letter queue and an optional input
    transformer per target. Loading validates everything and reports the
    first error with a JSON Pointer into the file; a loaded rule set is
    immutable except for run-time subscriptions (cab_rules_add_subscription)
    and is shared by reference counting: the broker keeps the old set alive
    for deliveries in flight while a reloaded one takes new events.

    Threads: ref/unref are atomic and may be called from any thread. The
    accessors read immutable data. cab_rules_match and
    cab_rules_add_subscription change the compiled matcher: call them from
    one thread at a time on one cab_rules_t.
    =========================================================================
*/
#ifndef CAB_RULES_H_INCLUDED
#define CAB_RULES_H_INCLUDED

#include "cabruca.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Most rules in one rule file.
#define CAB_RULES_MAX 300
//  Most targets of one rule (EventBridge's limit).
#define CAB_RULE_TARGETS_MAX 5
//  Longest rule name, target id or queue name, in bytes.
#define CAB_RULE_NAME_MAX 64
//  Largest rule file read by cab_rules_load, in bytes.
#define CAB_RULES_FILE_MAX (4 * 1024 * 1024)

//  The kind of a target.
typedef enum {
    CAB_TARGET_AGENT,       //  a named queue that agents consume
    CAB_TARGET_COMMAND,     //  a program run with the event on stdin
    CAB_TARGET_HTTP,        //  a POST to a webhook
    CAB_TARGET_LOG          //  JSON lines appended to a file
} cab_target_type_t;

//  The dead-letter queue of a target.
typedef enum {
    CAB_DLQ_STANDARD,       //  "standard": dead letters kept 14 days
    CAB_DLQ_CRITICAL        //  "critical": dead letters kept 4 days
} cab_dlq_t;

typedef struct cab_transform_t cab_transform_t;   //  cab_transform.h (opaque)

//  One target of a rule. Every pointer is owned by the rule set and
//  valid while the rule set lives. Fields that do not apply to the type
//  are NULL / 0.
typedef struct {
    char *id;                       //  target id, unique in its rule
    cab_target_type_t type;
    char *queue;                    //  AGENT: queue name
    char **argv;                    //  COMMAND: argv (NULL-terminated too), no shell
    size_t argc;                    //  COMMAND: entries in argv before the NULL
    int timeout_ms;                 //  COMMAND and HTTP: default 10000, range 100..300000
    char *url;                      //  HTTP: http:// or https:// URL
    json_t *headers;                //  HTTP: {"Name": "value"} or NULL (owned)
    double rate_per_second;         //  HTTP: 0 = unlimited (EventBridge API destinations: 1..300)
    char *path;                     //  LOG: absolute (resolved against data_dir on load)
    int64_t max_bytes;              //  LOG: rotate above this size (default 10 MiB)
    int keep;                       //  LOG: rotated files kept (default 5)
    int max_attempts;               //  retry_policy.maximum_retry_attempts 0..185 (default 185)
    int max_age_s;                  //  retry_policy.maximum_event_age_seconds 60..86400 (default 86400)
    cab_dlq_t dlq;                  //  default standard
    cab_transform_t *transform;     //  input transformer, or NULL (owned)
} cab_rule_target_t;

//  One rule. Every pointer is owned by the rule set.
typedef struct {
    char *name;                     //  unique in the file; "sub:<queue>" for subscriptions
    char *description;              //  or NULL
    bool enabled;                   //  disabled rules never match
    json_t *pattern;                //  the event pattern (owned)
    cab_rule_target_t *targets;     //  target_count targets
    size_t target_count;
} cab_rule_t;

//  A loaded, validated, compiled rule file (refcounted).
typedef struct _cab_rules_t cab_rules_t;

//  Return the name of a dead-letter queue ("standard", "critical"); static,
//  never NULL ("unknown" for a value out of range).
const char *
    cab_dlq_name (cab_dlq_t dlq);

//  Parse a dead-letter queue name into *dlq_p. Returns 0, or -1 (and leaves
//  *dlq_p alone) when the name is neither "standard" nor "critical".
int
    cab_dlq_parse (const char *name, cab_dlq_t *dlq_p);

//  Return the name of a target type ("agent", "command", "http", "log");
//  static, never NULL.
const char *
    cab_target_type_name (cab_target_type_t type);

//  Load a rule file (at most CAB_RULES_FILE_MAX bytes) and parse it as
//  cab_rules_parse does. data_dir (may be NULL: the current directory)
//  resolves relative log paths. Returns a new rule set with one reference
//  (caller releases it with cab_rules_unref), or NULL and fills error:
//  CAB_ERR_IO (cannot read), CAB_ERR_TOO_LARGE, CAB_ERR_INVALID_JSON (path
//  empty, text with line and column), CAB_ERR_INVALID_UTF8, and the errors
//  of cab_rules_parse.
cab_rules_t *
    cab_rules_load (const char *path, const char *data_dir, cab_error_t *error);

//  Validate and compile a rule document (borrowed; not stolen). Returns a
//  new rule set with one reference, or NULL and fills error:
//  CAB_ERR_INVALID_CONFIG (error->path = JSON Pointer of the wrong value,
//  e.g. /rules/2/targets/0/retry_policy/maximum_retry_attempts),
//  CAB_ERR_INVALID_PATTERN (path into the file, e.g.
//  /rules/3/event_pattern/detail/x), CAB_ERR_NOMEM.
cab_rules_t *
    cab_rules_parse (json_t *document, const char *data_dir, cab_error_t *error);

//  Return a new rule set with no rules (a broker without a rule file), with
//  one reference; NULL when out of memory.
cab_rules_t *
    cab_rules_new_empty (void);

//  Take one more reference (atomic). Returns self (NULL when self is NULL).
cab_rules_t *
    cab_rules_ref (cab_rules_t *self);

//  Drop one reference (atomic); the last one frees the rule set. Nulls the
//  caller's pointer; safe on NULL.
void
    cab_rules_unref (cab_rules_t **self_p);

//  Return the number of rules (subscriptions included).
size_t
    cab_rules_count (cab_rules_t *self);

//  Return rule `index` (0 <= index < count), borrowed and valid while the
//  caller holds a reference; NULL when out of range.
const cab_rule_t *
    cab_rules_get (cab_rules_t *self, size_t index);

//  Return the rule called `name` (borrowed, as cab_rules_get), or NULL.
const cab_rule_t *
    cab_rules_find (cab_rules_t *self, const char *name);

//  Return target `target_id` of rule `rule` (borrowed, as cab_rules_get),
//  or NULL when either does not exist.
const cab_rule_target_t *
    cab_rules_target (cab_rules_t *self, const char *rule, const char *target_id);

//  Match an event's JSON text against the ENABLED rules: writes the indexes
//  (into cab_rules_get) of the matching rules, ascending, to
//  matches[0 .. capacity-1] and sets *count_p to the number of matching
//  rules (which may exceed capacity; then only the first capacity are
//  written). Returns CAB_OK or the errors of cab_ruleset_match
//  (CAB_ERR_INVALID_JSON, CAB_ERR_INVALID_UTF8, CAB_ERR_TOO_DEEP,
//  CAB_ERR_TOO_LARGE, CAB_ERR_NOMEM). Not thread-safe on one cab_rules_t.
cab_status_t
    cab_rules_match (cab_rules_t *self, const char *text, size_t length, size_t *matches,
                     size_t capacity, size_t *count_p, cab_error_t *error);

//  The name prefix of run-time subscription rules ("sub:<queue>").
#define CAB_RULES_SUBSCRIPTION_PREFIX "sub:"

//  Return true when name is a run-time subscription's rule name (it
//  starts with CAB_RULES_SUBSCRIPTION_PREFIX); false otherwise and on NULL.
bool
    cab_rules_is_subscription (const char *name);

//  Add a run-time subscription rule named "sub:<queue>": one AGENT target
//  (id "queue") to queue, with pattern (borrowed; copied), default retry
//  policy and the standard DLQ. Adding the same queue again ORs the
//  patterns (as cab_ruleset_add does). Returns CAB_OK, or
//  CAB_ERR_INVALID_ARGUMENT (bad queue name), CAB_ERR_INVALID_PATTERN (path
//  into the pattern), CAB_ERR_BUSY (CAB_RULES_MAX + 1000 rules reached),
//  CAB_ERR_NOMEM. Not thread-safe on one cab_rules_t.
cab_status_t
    cab_rules_add_subscription (cab_rules_t *self, const char *queue, const json_t *pattern,
                                cab_error_t *error);

#endif
