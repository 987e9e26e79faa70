/*  =========================================================================
    cab_budget - the cloud mirror's cost budget and per-agent-type caps

    Decides, event by event, whether the mirror may copy an event to the
    EventBridge bus now, and keeps the counters that make the decision:

      MIRROR       send it now; it adds decision->cost_usd to the month.
      DEFER        keep it in the outbox and ask again at or after
                   decision->not_before_ms: the start of the next UTC
                   month when over the budget, else of the next UTC day
                   when over the day cap, else of the next UTC hour.
      SAMPLE_SKIP  a `sample` policy skipped it (1 in N goes): counted, kept
                   local only.
      SHED         a `shed` policy dropped it from the mirror: counted, kept
                   local only.

    Limits: a monthly dollar budget (entries at $1.00 per million 64 KB
    chunks plus cloud rule matches at $0.64 per million, by default $10 per
    UTC calendar month) and, per agent type (the TYPE of a source
    cabruca.agents.TYPE), a cap of events per UTC hour and per UTC day, as
    fixed windows. An event over a limit gets the policy of the first
    matching entry of the configured list (by source, detail-type or rule
    name), else the default policy (defer). Events matching an always_mirror
    pattern (default: CRITICAL issues, failed tests) bypass the caps and the
    budget but are counted. See docs/budget.md.

    Two phases, so that nothing is counted twice or lost across retries:
    cab_budget_decide reserves what a MIRROR would use (so that decisions
    made while earlier ones are still in flight see them); the caller then
    calls cab_budget_charge once the decided action happened (PutEvents
    accepted the entry, the outbox row records the deferral, the skip or the
    shed) or cab_budget_release when it did not (the send failed and the
    event stays in the outbox, to be decided again). Every decision must end
    in exactly one of the two.

    Time is never read inside: every call that needs it takes now_ms, UTC
    milliseconds since 1970 (the caller's clock; tests inject one). Valid
    times are 1970-01-01 to 9999-12-31.

    Threads: a budget is used by one thread (the mirror worker).
    =========================================================================
*/
#ifndef CAB_BUDGET_H_INCLUDED
#define CAB_BUDGET_H_INCLUDED

#include "cabruca.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _cab_budget_t cab_budget_t;

//  Agent types tracked one by one (configured ones first); sources beyond
//  this share the "other" type. Longest agent type name, bytes.
#define CAB_BUDGET_TYPES_MAX    64
#define CAB_BUDGET_TYPE_NAME_MAX 64
//  Most entries in "policies" and "always_mirror".
#define CAB_BUDGET_POLICIES_MAX 256
#define CAB_BUDGET_ALWAYS_MAX   64
//  The version of cab_budget_state_json's document.
#define CAB_BUDGET_STATE_VERSION 1

//  What to do with one event (see above).
typedef enum {
    CAB_BUDGET_MIRROR = 0,
    CAB_BUDGET_DEFER = 1,
    CAB_BUDGET_SAMPLE_SKIP = 2,
    CAB_BUDGET_SHED = 3
} cab_budget_verdict_t;

//  Limits an event hit (bits of cab_budget_decision_t.limits).
#define CAB_BUDGET_LIMIT_HOUR  1u
#define CAB_BUDGET_LIMIT_DAY   2u
#define CAB_BUDGET_LIMIT_MONTH 4u

//  One event to decide on. Every pointer is borrowed for the call only.
typedef struct {
    const char *text;           //  the envelope as JSON text, for always_mirror (NULL: no match)
    size_t length;              //  bytes of text
    const char *source;         //  its source (required)
    const char *detail_type;    //  its detail-type (NULL: matches no detail_type policy)
    size_t size;                //  PutEvents entry size, cab_putevents_entry_size
    const char *const *rules;   //  names of the rules it matches, for per-rule policies
    size_t rule_count;          //  entries in rules
    size_t cloud_matches;       //  cloud rules it matches: $0.64 per million each
    bool deferred_before;       //  it was DEFERred before (re-asked): not counted again
} cab_budget_event_t;

//  A decision, filled by cab_budget_decide; the caller keeps it (it holds
//  no pointers) until it passes it to cab_budget_charge or
//  cab_budget_release. Fields after `private_` are the budget's own.
typedef struct {
    cab_budget_verdict_t action;
    unsigned limits;            //  CAB_BUDGET_LIMIT_* bits the event hit; 0 when within
    bool always_mirror;         //  MIRROR past a limit because of an always_mirror pattern
    bool sampled;               //  MIRROR past a limit as the 1 in N of a sample policy
    int64_t not_before_ms;      //  DEFER: ask again at or after this time; else 0
    double cost_usd;            //  what it adds to the month if charged (0 unless MIRROR)
    size_t chunks;              //  64 KB chunks of the entry
    char agent_type[CAB_BUDGET_TYPE_NAME_MAX + 1];  //  its agent type ("other" for the rest)
    int policy;                 //  index in "policies" that decided, -1 the default, -2 none
    //  Set by cab_budget_charge, true at most once per month each:
    bool threshold_crossed;     //  month cost reached alarm_percent: publish Budget Threshold
    bool limit_reached;         //  month cost reached 100% (or an event was refused for it)
    unsigned cap_reached;       //  CAB_BUDGET_LIMIT_HOUR/DAY: the first event of this agent
                                //  type past that cap in this window (once per window)
    //  private_: bookkeeping, do not touch.
    int64_t private_cost;       //  pico-dollars
    uint64_t private_matches;
    unsigned private_type;
    bool private_deferred_before;
    int private_state;
} cab_budget_decision_t;

//  Create a budget from the "budget" section of the broker configuration
//  (borrowed; NULL for every default: $10 a month, alarm at 90%, the caps of
//  DESIGN.md, policy defer, always_mirror CRITICAL issues and failed tests).
//  Unknown keys are errors. Counters start at zero; load saved ones with
//  cab_budget_state_load. Returns a new budget (caller owns it, destroy with
//  cab_budget_destroy), or NULL and fills error: CAB_ERR_INVALID_CONFIG with
//  error->path the JSON Pointer of the bad value from the configuration
//  file's root ("/budget/caps/monitor/per_hour"), CAB_ERR_NOMEM.
cab_budget_t *
    cab_budget_new (const json_t *section, cab_error_t *error);

//  Destroy a budget and null the pointer; safe on NULL and on a NULL pointer.
void
    cab_budget_destroy (cab_budget_t **self_p);

//  Decide what to do with one event at now_ms and fill *decision. A MIRROR
//  decision reserves its event and cost (in-flight decisions count against
//  the caps and the budget) until it is charged or released. Windows roll
//  forward with now_ms (never back: a clock that steps back keeps counting
//  in the current windows). Returns CAB_OK, or CAB_ERR_INVALID_ARGUMENT
//  (event or source NULL, now_ms out of range) or CAB_ERR_INVALID_JSON and
//  the other errors of cab_pattern_match when event->text is not JSON
//  (always_mirror is checked only for events over a limit); *decision is
//  then not to be charged or released.
cab_status_t
    cab_budget_decide (cab_budget_t *self, const cab_budget_event_t *event, int64_t now_ms,
                       cab_budget_decision_t *decision, cab_error_t *error);

//  Return true when a policy selects events by rule name (then
//  cab_budget_decide needs event->rules, not only cloud_matches); false
//  otherwise, and on NULL.
bool
    cab_budget_uses_rule_names (const cab_budget_t *self);

//  The decided action happened at now_ms: PutEvents accepted the entry (or
//  the dry-run mirror reported it), or the caller recorded the deferral,
//  skip or shed with the outbox row. Counts it (MIRROR: its event in the
//  agent type's hour, day and month, its chunks, matches and cost in the
//  month of now_ms) and sets decision->threshold_crossed and
//  decision->limit_reached when this charge crosses them (once per month).
//  Save cab_budget_state_json in the same store transaction that records
//  the outcome, and a restart neither loses nor repeats a count. Returns
//  CAB_OK, or CAB_ERR_INVALID_ARGUMENT for a decision already charged or
//  released (nothing counted), or now_ms out of range.
cab_status_t
    cab_budget_charge (cab_budget_t *self, cab_budget_decision_t *decision, int64_t now_ms);

//  The decided action did not happen (the send failed, the entry was
//  dead-lettered, the worker gave up): drop the decision's reservation.
//  The event is decided afresh when asked again. Returns CAB_OK, or
//  CAB_ERR_INVALID_ARGUMENT for a decision already charged or released.
cab_status_t
    cab_budget_release (cab_budget_t *self, cab_budget_decision_t *decision);

//  The counters as a versioned document to persist (the broker keeps it in
//  the store's meta table): windows, month totals, per agent type use,
//  threshold state. In-flight reservations are not saved (their events are
//  still in the outbox and are decided again after a restart). Returns a
//  new reference, NULL when out of memory.
json_t *
    cab_budget_state_json (cab_budget_t *self);

//  Replace the counters with a document from cab_budget_state_json
//  (borrowed). All or nothing: on error the counters are unchanged.
//  In-flight reservations are kept: decisions made before the load are
//  charged or released as usual. Returns CAB_OK, or
//  CAB_ERR_UNSUPPORTED_VERSION ("version" is not CAB_BUDGET_STATE_VERSION),
//  CAB_ERR_INVALID_ARGUMENT (a corrupt document; error->path points at the
//  bad value), CAB_ERR_NOMEM.
cab_status_t
    cab_budget_state_load (cab_budget_t *self, const json_t *state, cab_error_t *error);

//  The report `cabruca budget` and the dashboard show, as of now_ms:
//  month-to-date events and cost, projection to month end, per agent type
//  hour and day use against the caps, deferred/sampled/shed counts,
//  threshold state (shape in docs/budget.md). Rolls windows forward as
//  cab_budget_decide does. Returns a new reference, NULL when out of memory
//  or now_ms is out of range.
json_t *
    cab_budget_report (cab_budget_t *self, int64_t now_ms);

//  The detail of the cabruca.broker "Budget Threshold" event
//  (schemas/events/budget-threshold-1.0.json) for the current month, scope
//  MONTHLY, unit USD: with `limit` false the alarm (threshold_percent =
//  alarm_percent, action NONE: publish it when a charge sets
//  threshold_crossed), with `limit` true the budget itself (100, action of
//  the default policy: when a charge sets limit_reached). agent_id is the
//  broker's id; correlation_id a UUID, or NULL for a new UUIDv7. Returns a
//  new reference, NULL when agent_id is NULL or out of memory.
json_t *
    cab_budget_threshold_detail (cab_budget_t *self, bool limit, const char *agent_id,
                                 const char *correlation_id);

//  The detail of the "Budget Threshold" event for an agent type's cap, for
//  a charged decision whose cap_reached has `cap` (CAB_BUDGET_LIMIT_HOUR:
//  scope HOURLY, or CAB_BUDGET_LIMIT_DAY: DAILY): agent_type, 100 percent,
//  used and limit in EVENTS for the current window, period_start its start,
//  action what the decision did (DEFER, SAMPLE, SHED; NONE when an
//  always_mirror event went past the cap). Publishing these is optional
//  (at most one per agent type per hour and per day). agent_id and
//  correlation_id as for cab_budget_threshold_detail. Returns a new
//  reference, NULL when the decision's cap_reached lacks `cap`, agent_id is
//  NULL or out of memory.
json_t *
    cab_budget_cap_detail (cab_budget_t *self, const cab_budget_decision_t *decision,
                           unsigned cap, const char *agent_id, const char *correlation_id);

//  The agent type of a source: TYPE for "cabruca.agents.TYPE" (up to the
//  next '.'), when TYPE is 1 to 64 of [a-z0-9_-] starting with a letter;
//  else "other". Writes it to buffer (terminated, truncated to size) and
//  returns buffer.
const char *
    cab_budget_agent_type (const char *source, char *buffer, size_t size);

//  Start and end (exclusive) of the UTC month holding now_ms, in ms.
//  Returns CAB_OK or CAB_ERR_INVALID_ARGUMENT for now_ms out of range.
cab_status_t
    cab_budget_month (int64_t now_ms, int64_t *start_p, int64_t *end_p);

//  Name of a verdict: "mirror", "defer", "sample-skip", "shed".
const char *
    cab_budget_verdict_name (cab_budget_verdict_t action);

#endif
