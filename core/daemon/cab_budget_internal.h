/*  =========================================================================
    cab_budget_internal - what cab_budget.c, cab_budget_config.c and
    cab_budget_state.c share (private to core/daemon; names start cabi_)
    =========================================================================
*/
#ifndef CAB_BUDGET_INTERNAL_H_INCLUDED
#define CAB_BUDGET_INTERNAL_H_INCLUDED

#include "cab_budget.h"

#define CABI_HOUR_MS 3600000LL
#define CABI_DAY_MS  86400000LL
//  A window start that was never set.
#define CABI_UNSET INT64_MIN
//  No cap.
#define CABI_UNCAPPED (-1)
//  Money is counted in pico-dollars (1e-12 USD): $1.00 per million is 1e6
//  per unit, $10 is 1e13; int64 holds up to $9.2 million.
#define CABI_PUSD 1e12

//  One agent type: its caps and counters.
typedef struct {
    char name[CAB_BUDGET_TYPE_NAME_MAX + 1];
    int64_t hour_cap, day_cap;  //  events, or CABI_UNCAPPED
    uint64_t hour_used, day_used;
    uint64_t reserved;          //  MIRROR decisions in flight
    uint64_t mirrored, deferred, sampled, shed;  //  this month
    bool hour_alerted, day_alerted;              //  cap_reached given in this window
} cabi_type_t;

//  The month's totals.
typedef struct {
    uint64_t entries, chunks, matches;
    int64_t cost;               //  pico-dollars
    uint64_t mirrored, bypassed, sample_mirrored;
    uint64_t deferred, deferrals, sampled, shed;
} cabi_month_t;

//  One policy: who it applies to (NULL selectors match anything) and what.
typedef struct {
    char *source;               //  exact, or a prefix when source_prefix
    bool source_prefix;         //  the configured value ended in '*'
    char *detail_type;
    char *rule;
    cab_budget_verdict_t action; //  DEFER, SAMPLE_SKIP (sample) or SHED
    uint64_t sample_every;      //  sample: 1 in N goes
    uint64_t seen;              //  sample: events it judged so far
} cabi_policy_t;

//  The counters: what state_json saves and state_load replaces.
typedef struct {
    int64_t hour_start, day_start, month_start, month_end;
    cabi_month_t month;
    int64_t alarm_at, limit_at; //  when crossed this month, else CABI_UNSET
    cabi_type_t types[CAB_BUDGET_TYPES_MAX];
    size_t type_count;
} cabi_counters_t;

struct _cab_budget_t {
    //  Configuration.
    int64_t budget;             //  pico-dollars a month
    double budget_usd;
    double alarm_percent;
    int64_t alarm;              //  pico-dollars
    int64_t price_entry;        //  pico-dollars per 64 KB chunk
    int64_t price_match;        //  pico-dollars per cloud rule match
    double price_entry_usd, price_match_usd;  //  per million, as configured
    int64_t default_hour_cap, default_day_cap;
    cabi_policy_t policies[CAB_BUDGET_POLICIES_MAX];
    size_t policy_count;
    bool rule_policies;         //  a policy has a "rule" selector
    cabi_policy_t default_policy;
    cab_ruleset_t *always;      //  always_mirror patterns, or NULL for none
    size_t always_count;
    //  Counters and in-flight reservations.
    cabi_counters_t counters;
    int64_t reserved_cost;      //  pico-dollars of MIRROR decisions in flight
};

//  Parse the "budget" section (borrowed, may be NULL) into self's
//  configuration and its configured types. CAB_ERR_INVALID_CONFIG with a
//  pointer from the file's root, or CAB_ERR_NOMEM.
cab_status_t
    cabi_budget_config (cab_budget_t *self, const json_t *section, cab_error_t *error);

//  Free what the configuration allocated.
void
    cabi_budget_config_free (cab_budget_t *self);

//  Find an agent type in counters, or add it with the default caps (or
//  return "other" when the table is full). Returns its index.
size_t
    cabi_budget_type (cab_budget_t *self, cabi_counters_t *counters, const char *name);

//  Roll counters' windows forward to now_ms (now_ms already checked).
void
    cabi_budget_roll (cab_budget_t *self, int64_t now_ms);


//  Format ms as "YYYY-MM-DDThh:mm:ssZ" into buffer (at least 24 bytes).
void
    cabi_budget_iso (int64_t ms, char *buffer, size_t size);

//  Whole and fractional USD of pico-dollars.
double
    cabi_usd (int64_t pusd);

#endif
