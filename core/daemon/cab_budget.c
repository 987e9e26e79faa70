/*  =========================================================================
    cab_budget - the cloud mirror's cost budget and per-agent-type caps

    Decisions, charges and releases, windows and calendar arithmetic. The
    configuration is parsed in cab_budget_config.c, the state document and
    the report are in cab_budget_state.c. Design: docs/budget.md.
    =========================================================================
*/
#include "cab_budget_internal.h"
#include "cab_putevents.h"
#include <stdlib.h>
#include <string.h>

//  Valid clock range: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
#define S_TIME_MAX 253402300799999LL

//  Decision states (private_state): a decision is charged or released once.
enum { S_PENDING = 0x5ca1ab1e, S_DONE = 0x0dd0 };

static bool
s_time_valid (int64_t now_ms)
{
    return now_ms >= 0 && now_ms <= S_TIME_MAX;
}

cab_status_t
cab_budget_month (int64_t now_ms, int64_t *start_p, int64_t *end_p)
{
    if (!s_time_valid (now_ms))
        return CAB_ERR_INVALID_ARGUMENT;
    int64_t year;
    int month, day;
    cab_time_civil_from_days (now_ms / CABI_DAY_MS, &year, &month, &day);
    if (start_p)
        *start_p = cab_time_days_from_civil (year, month, 1) * CABI_DAY_MS;
    if (end_p)
        *end_p = cab_time_days_from_civil (month == 12 ? year + 1 : year,
                                           month == 12 ? 1 : month + 1, 1) *
                 CABI_DAY_MS;
    return CAB_OK;
}

void
cabi_budget_iso (int64_t ms, char *buffer, size_t size)
{
    int64_t year;
    int month, day;
    int64_t days = ms / CABI_DAY_MS, rest = ms % CABI_DAY_MS;
    cab_time_civil_from_days (days, &year, &month, &day);
    snprintf (buffer, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)year, month, day,
              (int)(rest / CABI_HOUR_MS), (int)(rest / 60000 % 60), (int)(rest / 1000 % 60));
}

double
cabi_usd (int64_t pusd)
{
    return (double)pusd / CABI_PUSD;
}

static int64_t
s_add (int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t
s_mul (uint64_t count, int64_t price)
{
    if (price == 0 || count == 0)
        return 0;
    return count > (uint64_t)(INT64_MAX / price) ? INT64_MAX : (int64_t)count * price;
}

cab_budget_t *
cab_budget_new (const json_t *section, cab_error_t *error)
{
    cab_budget_t *self = (cab_budget_t *)calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    self->counters.hour_start = CABI_UNSET;
    self->counters.day_start = CABI_UNSET;
    self->counters.month_start = CABI_UNSET;
    self->counters.month_end = CABI_UNSET;
    self->counters.alarm_at = CABI_UNSET;
    self->counters.limit_at = CABI_UNSET;
    if (cabi_budget_config (self, section, error) != CAB_OK)
        cab_budget_destroy (&self);
    return self;
}

void
cab_budget_destroy (cab_budget_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_budget_t *self = *self_p;
    cabi_budget_config_free (self);
    free (self);
    *self_p = NULL;
}

size_t
cabi_budget_type (cab_budget_t *self, cabi_counters_t *counters, const char *name)
{
    size_t other = 0;
    for (size_t index = 0; index < counters->type_count; index++) {
        if (strcmp (counters->types[index].name, name) == 0)
            return index;
        if (strcmp (counters->types[index].name, "other") == 0)
            other = index;
    }
    if (counters->type_count == CAB_BUDGET_TYPES_MAX)
        return other;
    cabi_type_t *type = &counters->types[counters->type_count];
    memset (type, 0, sizeof *type);
    snprintf (type->name, sizeof type->name, "%s", name);
    type->hour_cap = self->default_hour_cap;
    type->day_cap = self->default_day_cap;
    return counters->type_count++;
}

void
cabi_budget_roll (cab_budget_t *self, int64_t now_ms)
{
    cabi_counters_t *counters = &self->counters;
    int64_t hour = now_ms - now_ms % CABI_HOUR_MS;
    int64_t day = now_ms - now_ms % CABI_DAY_MS;
    if (counters->hour_start == CABI_UNSET || hour > counters->hour_start) {
        counters->hour_start = hour;
        for (size_t index = 0; index < counters->type_count; index++) {
            counters->types[index].hour_used = 0;
            counters->types[index].hour_alerted = false;
        }
    }
    if (counters->day_start == CABI_UNSET || day > counters->day_start) {
        counters->day_start = day;
        for (size_t index = 0; index < counters->type_count; index++) {
            counters->types[index].day_used = 0;
            counters->types[index].day_alerted = false;
        }
    }
    if (counters->month_start == CABI_UNSET || now_ms >= counters->month_end) {
        cab_budget_month (now_ms, &counters->month_start, &counters->month_end);
        memset (&counters->month, 0, sizeof counters->month);
        counters->alarm_at = CABI_UNSET;
        counters->limit_at = CABI_UNSET;
        for (size_t index = 0; index < counters->type_count; index++) {
            cabi_type_t *type = &counters->types[index];
            type->mirrored = type->deferred = type->sampled = type->shed = 0;
        }
    }
}

const char *
cab_budget_agent_type (const char *source, char *buffer, size_t size)
{
    static const char prefix[] = "cabruca.agents.";
    const char *type = NULL;
    size_t length = 0;
    if (source && strncmp (source, prefix, sizeof prefix - 1) == 0) {
        type = source + sizeof prefix - 1;
        while (type[length] && type[length] != '.')
            length++;
        bool valid =
            length >= 1 && length <= CAB_BUDGET_TYPE_NAME_MAX && type[0] >= 'a' && type[0] <= 'z';
        for (size_t index = 0; valid && index < length; index++) {
            char c = type[index];
            valid = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        }
        if (!valid)
            type = NULL;
    }
    if (!type) {
        type = "other";
        length = 5;
    }
    if (size)
        snprintf (buffer, size, "%.*s", (int)length, type);
    return buffer;
}

//  The policy for an event: the first listed one whose selectors all match,
//  else the default (index -1).
static cabi_policy_t *
s_policy (cab_budget_t *self, const cab_budget_event_t *event, int *index_p)
{
    for (size_t index = 0; index < self->policy_count; index++) {
        cabi_policy_t *policy = &self->policies[index];
        if (policy->source) {
            size_t length = strlen (policy->source);
            if (policy->source_prefix ? strncmp (event->source, policy->source, length) != 0
                                      : strcmp (event->source, policy->source) != 0)
                continue;
        }
        if (policy->detail_type &&
            (!event->detail_type || strcmp (event->detail_type, policy->detail_type) != 0))
            continue;
        if (policy->rule) {
            bool found = false;
            for (size_t rule = 0; rule < event->rule_count && !found; rule++)
                found = event->rules[rule] && strcmp (event->rules[rule], policy->rule) == 0;
            if (!found)
                continue;
        }
        *index_p = (int)index;
        return policy;
    }
    *index_p = -1;
    return &self->default_policy;
}

bool
cab_budget_uses_rule_names (const cab_budget_t *self)
{
    return self && self->rule_policies;
}

//  The earliest time the limits hit may have room again.
static int64_t
s_not_before (cab_budget_t *self, unsigned limits)
{
    const cabi_counters_t *counters = &self->counters;
    if (limits & CAB_BUDGET_LIMIT_MONTH)
        return counters->month_end;
    if (limits & CAB_BUDGET_LIMIT_DAY)
        return counters->day_start + CABI_DAY_MS;
    return counters->hour_start + CABI_HOUR_MS;
}

static cab_status_t
s_always (cab_budget_t *self, const cab_budget_event_t *event, bool *matched_p, cab_error_t *error)
{
    *matched_p = false;
    if (!self->always_count || !event->text)
        return CAB_OK;
    size_t match, count = 0;
    cab_status_t status =
        cab_ruleset_match (self->always, event->text, event->length, &match, 1, &count, error);
    *matched_p = count > 0;
    return status;
}

cab_status_t
cab_budget_decide (cab_budget_t *self, const cab_budget_event_t *event, int64_t now_ms,
                   cab_budget_decision_t *decision, cab_error_t *error)
{
    memset (decision, 0, sizeof *decision);
    if (!event || !event->source || (event->rule_count && !event->rules))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "an event needs a source (and rules when rule_count > 0)");
    if (!s_time_valid (now_ms))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "now_ms %lld is outside 1970..9999", (long long)now_ms);
    cabi_budget_roll (self, now_ms);
    cabi_counters_t *counters = &self->counters;
    cab_budget_agent_type (event->source, decision->agent_type, sizeof decision->agent_type);
    size_t type_index = cabi_budget_type (self, counters, decision->agent_type);
    cabi_type_t *type = &counters->types[type_index];
    snprintf (decision->agent_type, sizeof decision->agent_type, "%s", type->name);

    //  (cab_putevents_chunks would wrap for sizes near SIZE_MAX, which no
    //  entry has; a bogus size still costs, it does not come out free.)
    decision->chunks = event->size > SIZE_MAX / 2 ? event->size / CAB_PUTEVENTS_CHUNK + 1
                                                  : cab_putevents_chunks (event->size);
    int64_t cost = s_add (s_mul (decision->chunks, self->price_entry),
                          s_mul (event->cloud_matches, self->price_match));
    //  The limits this event would pass if it went now, counting the
    //  decisions still in flight.
    unsigned limits = 0;
    if (s_add (s_add (counters->month.cost, self->reserved_cost), cost) > self->budget)
        limits |= CAB_BUDGET_LIMIT_MONTH;
    uint64_t busy = type->reserved + 1;
    if (type->hour_cap != CABI_UNCAPPED && type->hour_used + busy > (uint64_t)type->hour_cap)
        limits |= CAB_BUDGET_LIMIT_HOUR;
    if (type->day_cap != CABI_UNCAPPED && type->day_used + busy > (uint64_t)type->day_cap)
        limits |= CAB_BUDGET_LIMIT_DAY;

    decision->action = CAB_BUDGET_MIRROR;
    decision->limits = limits;
    decision->policy = -2;
    if (limits) {
        bool always;
        cab_status_t status = s_always (self, event, &always, error);
        if (status != CAB_OK) {
            memset (decision, 0, sizeof *decision);
            return status;
        }
        if (always)
            decision->always_mirror = true;
        else {
            cabi_policy_t *policy = s_policy (self, event, &decision->policy);
            decision->action = policy->action;
            //  Sampling lets 1 in N past the caps, never past the budget.
            if (policy->action == CAB_BUDGET_SAMPLE_SKIP && !(limits & CAB_BUDGET_LIMIT_MONTH) &&
                policy->seen++ % policy->sample_every == 0) {
                decision->action = CAB_BUDGET_MIRROR;
                decision->sampled = true;
            }
        }
    }
    if (decision->action == CAB_BUDGET_DEFER)
        decision->not_before_ms = s_not_before (self, limits);
    if (decision->action == CAB_BUDGET_MIRROR) {
        decision->private_cost = cost;
        decision->private_matches = event->cloud_matches;
        decision->cost_usd = cabi_usd (cost);
        type->reserved++;
        self->reserved_cost = s_add (self->reserved_cost, cost);
    }
    decision->private_type = (unsigned)type_index;
    decision->private_deferred_before = event->deferred_before;
    decision->private_state = S_PENDING;
    return CAB_OK;
}

//  The decision's type in the current table (by index, unless a state load
//  rebuilt the table: then by name).
static cabi_type_t *
s_decision_type (cab_budget_t *self, const cab_budget_decision_t *decision)
{
    cabi_counters_t *counters = &self->counters;
    size_t index = decision->private_type;
    if (index >= counters->type_count ||
        strcmp (counters->types[index].name, decision->agent_type) != 0)
        index = cabi_budget_type (self, counters, decision->agent_type);
    return &counters->types[index];
}

//  Drop a MIRROR decision's reservation.
static void
s_unreserve (cab_budget_t *self, cab_budget_decision_t *decision, cabi_type_t *type)
{
    if (decision->action != CAB_BUDGET_MIRROR)
        return;
    if (type->reserved)
        type->reserved--;
    self->reserved_cost -=
        decision->private_cost < self->reserved_cost ? decision->private_cost : self->reserved_cost;
}

cab_status_t
cab_budget_charge (cab_budget_t *self, cab_budget_decision_t *decision, int64_t now_ms)
{
    if (!decision || decision->private_state != S_PENDING || !s_time_valid (now_ms))
        return CAB_ERR_INVALID_ARGUMENT;
    decision->private_state = S_DONE;
    cabi_type_t *type = s_decision_type (self, decision);
    s_unreserve (self, decision, type);
    cabi_budget_roll (self, now_ms);
    cabi_counters_t *counters = &self->counters;
    cabi_month_t *month = &counters->month;
    switch (decision->action) {
        case CAB_BUDGET_MIRROR:
            type->hour_used++;
            type->day_used++;
            type->mirrored++;
            month->entries++;
            month->chunks += decision->chunks;
            month->matches += decision->private_matches;
            month->cost = s_add (month->cost, decision->private_cost);
            month->mirrored++;
            month->bypassed += decision->always_mirror;
            month->sample_mirrored += decision->sampled;
            break;
        case CAB_BUDGET_DEFER:
            month->deferrals++;
            if (!decision->private_deferred_before) {
                month->deferred++;
                type->deferred++;
            }
            break;
        case CAB_BUDGET_SAMPLE_SKIP:
            month->sampled++;
            type->sampled++;
            break;
        case CAB_BUDGET_SHED:
            month->shed++;
            type->shed++;
            break;
    }
    //  The first event past a cap in its window (decided in this window or
    //  the last: either way the cap was reached).
    if ((decision->limits & CAB_BUDGET_LIMIT_HOUR) && !type->hour_alerted) {
        type->hour_alerted = true;
        decision->cap_reached |= CAB_BUDGET_LIMIT_HOUR;
    }
    if ((decision->limits & CAB_BUDGET_LIMIT_DAY) && !type->day_alerted) {
        type->day_alerted = true;
        decision->cap_reached |= CAB_BUDGET_LIMIT_DAY;
    }
    if (counters->alarm_at == CABI_UNSET && month->cost >= self->alarm && month->cost > 0) {
        counters->alarm_at = now_ms;
        decision->threshold_crossed = true;
    }
    bool refused =
        decision->action != CAB_BUDGET_MIRROR && (decision->limits & CAB_BUDGET_LIMIT_MONTH);
    if (counters->limit_at == CABI_UNSET &&
        (refused || (month->cost >= self->budget && month->cost > 0))) {
        counters->limit_at = now_ms;
        decision->limit_reached = true;
    }
    return CAB_OK;
}

cab_status_t
cab_budget_release (cab_budget_t *self, cab_budget_decision_t *decision)
{
    if (!decision || decision->private_state != S_PENDING)
        return CAB_ERR_INVALID_ARGUMENT;
    decision->private_state = S_DONE;
    s_unreserve (self, decision, s_decision_type (self, decision));
    return CAB_OK;
}

const char *
cab_budget_verdict_name (cab_budget_verdict_t action)
{
    switch (action) {
        case CAB_BUDGET_MIRROR:
            return "mirror";
        case CAB_BUDGET_DEFER:
            return "defer";
        case CAB_BUDGET_SAMPLE_SKIP:
            return "sample-skip";
        case CAB_BUDGET_SHED:
            return "shed";
    }
    return "unknown";
}
