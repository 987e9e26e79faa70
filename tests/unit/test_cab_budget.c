/*  =========================================================================
    test_cab_budget - the cloud mirror's budget: caps, windows, months,
    policies, the threshold, charges and releases, state and report

    The clock is injected: every call takes now_ms, built here from ISO
    times with cab_time_parse.
    =========================================================================
*/
#include "cab_budget.h"
#include "cab_mirror.h"
#include "cab_putevents.h"
#include "failmalloc.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  UTC milliseconds of an ISO 8601 time.
static int64_t
s_ms (const char *iso)
{
    int64_t ms = 0;
    ck_assert_int_eq (cab_time_parse (iso, &ms), CAB_OK);
    return ms;
}

static cab_budget_t *
s_budget (const char *config_text)
{
    json_error_t jerror;
    json_t *config = config_text ? json_loads (config_text, 0, &jerror) : NULL;
    if (config_text)
        ck_assert_msg (config != NULL, "bad test config: %s", jerror.text);
    cab_error_t error;
    cab_budget_t *budget = cab_budget_new (config, &error);
    ck_assert_msg (budget != NULL, "%s: %s", error.path, error.text);
    json_decref (config);
    return budget;
}

//  An event of `source` whose detail is `detail` (JSON text), 1 chunk.
typedef struct {
    char text[1024];
    cab_budget_event_t event;
} s_event_t;

static cab_budget_event_t *
s_event (s_event_t *holder, const char *source, const char *detail_type, const char *detail)
{
    snprintf (holder->text, sizeof holder->text,
              "{\"version\":\"0\",\"id\":\"6a7e8feb-b491-4cf7-a9f1-bf3703467718\","
              "\"detail-type\":\"%s\",\"source\":\"%s\",\"account\":\"local\","
              "\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"local\",\"resources\":[],"
              "\"detail\":%s}",
              detail_type, source, detail);
    memset (&holder->event, 0, sizeof holder->event);
    holder->event.text = holder->text;
    holder->event.length = strlen (holder->text);
    holder->event.source = source;
    holder->event.detail_type = detail_type;
    holder->event.size = cab_putevents_entry_size (source, detail_type, detail, NULL, 0, true);
    return &holder->event;
}

//  Decide and charge at `now`; returns the verdict, fills *out if given.
static cab_budget_verdict_t
s_go (cab_budget_t *budget, const cab_budget_event_t *event, int64_t now,
      cab_budget_decision_t *out)
{
    cab_budget_decision_t decision;
    cab_error_t error;
    ck_assert_int_eq (cab_budget_decide (budget, event, now, &decision, &error), CAB_OK);
    ck_assert_int_eq (cab_budget_charge (budget, &decision, now), CAB_OK);
    if (out)
        *out = decision;
    return decision.action;
}

//  The report's value at a path of object keys ("month", "cost_usd").
static json_t *
s_at (json_t *report, const char *a, const char *b, const char *c)
{
    json_t *value = json_object_get (report, a);
    if (b)
        value = json_object_get (value, b);
    if (c)
        value = json_object_get (value, c);
    ck_assert_msg (value != NULL, "no %s/%s/%s in the report", a, b ? b : "", c ? c : "");
    return value;
}

static long long
s_count (cab_budget_t *budget, int64_t now, const char *a, const char *b, const char *c)
{
    json_t *report = cab_budget_report (budget, now);
    ck_assert_ptr_nonnull (report);
    long long value = json_integer_value (s_at (report, a, b, c));
    json_decref (report);
    return value;
}

//  An agent type's use (or cap, -1 for none) of its "hour" or "day" window.
static long long
s_window (cab_budget_t *budget, int64_t now, const char *type, const char *window, const char *what)
{
    json_t *report = cab_budget_report (budget, now);
    ck_assert_ptr_nonnull (report);
    json_t *value = json_object_get (s_at (report, "agent_types", type, window), what);
    long long number = json_is_null (value) ? -1 : json_integer_value (value);
    ck_assert (json_is_null (value) || json_is_integer (value));
    json_decref (report);
    return number;
}

static const char *s_plain = "{\"n\":1}";

//  Product capped at 2 an hour, 3 a day; "Urgent" events always go.
static const char *s_capped = "{\"caps\": {\"product\": {\"per_hour\": 2, \"per_day\": 3}},"
                              " \"always_mirror\": [{\"detail-type\": [\"Urgent\"]}]}";

START_TEST (test_agent_types)
{
    char buffer[80];
    ck_assert_str_eq (cab_budget_agent_type ("cabruca.agents.monitor", buffer, sizeof buffer),
                      "monitor");
    ck_assert_str_eq (cab_budget_agent_type ("cabruca.agents.tester.ci", buffer, sizeof buffer),
                      "tester");
    ck_assert_str_eq (cab_budget_agent_type ("cabruca.agents.ex_1-a", buffer, sizeof buffer),
                      "ex_1-a");
    ck_assert_str_eq (cab_budget_agent_type ("cabruca.agents.", buffer, sizeof buffer), "other");
    ck_assert_str_eq (cab_budget_agent_type ("cabruca.agents.Monitor", buffer, sizeof buffer),
                      "other");
    ck_assert_str_eq (cab_budget_agent_type ("cabruca.agents.9x", buffer, sizeof buffer), "other");
    ck_assert_str_eq (cab_budget_agent_type ("cabruca.broker", buffer, sizeof buffer), "other");
    ck_assert_str_eq (cab_budget_agent_type ("myapp", buffer, sizeof buffer), "other");
    ck_assert_str_eq (cab_budget_agent_type (NULL, buffer, sizeof buffer), "other");
    char source[128];
    snprintf (source, sizeof source, "cabruca.agents.%065d", 0);
    source[15] = 'a';
    ck_assert_str_eq (cab_budget_agent_type (source, buffer, sizeof buffer), "other");
    source[15 + 64] = 0;  //  exactly 64 characters
    ck_assert_str_eq (cab_budget_agent_type (source, buffer, sizeof buffer), source + 15);
}
END_TEST

START_TEST (test_months)
{
    int64_t start, end;
    //  31-day, 30-day, February in leap and common years, December -> January.
    static const struct {
        const char *now, *start, *end;
    } cases[] = {
        {"2026-01-31T23:59:59.999Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
        {"2026-04-15T12:00:00Z", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"},
        {"2028-02-29T00:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
        {"2027-02-28T23:59:59.999Z", "2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z"},
        {"2100-02-28T00:00:00Z", "2100-02-01T00:00:00Z", "2100-03-01T00:00:00Z"},
        {"2000-02-29T00:00:00Z", "2000-02-01T00:00:00Z", "2000-03-01T00:00:00Z"},
        {"2026-12-31T23:59:59.999Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
        {"2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"},
        {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1970-02-01T00:00:00Z"},
        {"9999-12-31T23:59:59.999Z", "9999-12-01T00:00:00Z", "10000-01-01T00:00:00Z"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof *cases; index++) {
        ck_assert_int_eq (cab_budget_month (s_ms (cases[index].now), &start, &end), CAB_OK);
        ck_assert_int_eq (start, s_ms (cases[index].start));
        if (index == sizeof cases / sizeof *cases - 1)
            ck_assert_int_eq (end, 253402300800000LL);  //  cab_time_parse stops at 9999
        else
            ck_assert_int_eq (end, s_ms (cases[index].end));
    }
    ck_assert_int_eq (cab_budget_month (-1, &start, &end), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_month (253402300800000LL, &start, &end), CAB_ERR_INVALID_ARGUMENT);
}
END_TEST

//  Every default cap, hourly then daily, is hit at exactly the cap.
static const struct {
    const char *type;
    int per_hour, per_day;
} s_caps[] = {
    {"monitor", 2100, 50000},
    {"product", 200, 5000},
    {"developer", 850, 20000},
    {"tester", 1250, 30000},
};

START_TEST (test_hour_caps_exact)
{
    cab_budget_t *budget = s_budget (NULL);
    char source[64];
    snprintf (source, sizeof source, "cabruca.agents.%s", s_caps[_i].type);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, source, "Something", s_plain);
    int64_t now = s_ms ("2026-11-22T10:17:00Z");
    int mirrored = 0;
    cab_budget_decision_t decision;
    while (s_go (budget, event, now, &decision) == CAB_BUDGET_MIRROR)
        mirrored++;
    ck_assert_int_eq (mirrored, s_caps[_i].per_hour);
    ck_assert_uint_eq (decision.limits, CAB_BUDGET_LIMIT_HOUR);
    ck_assert_int_eq (decision.action, CAB_BUDGET_DEFER);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2026-11-22T11:00:00Z"));
    ck_assert_str_eq (decision.agent_type, s_caps[_i].type);
    ck_assert_int_eq (s_window (budget, now, s_caps[_i].type, "hour", "used"), s_caps[_i].per_hour);
    ck_assert_int_eq (s_window (budget, now, s_caps[_i].type, "hour", "cap"), s_caps[_i].per_hour);
    cab_budget_destroy (&budget);
    ck_assert_ptr_null (budget);
    cab_budget_destroy (&budget);
    cab_budget_destroy (NULL);
}
END_TEST

START_TEST (test_day_caps_exact)
{
    //  Spread over the day, hour by hour (product's hours add up to less
    //  than its day: 24 x 200 < 5,000, so its hour cap is lifted; a cap
    //  given without per_day keeps the default per_day).
    char config[128];
    snprintf (config, sizeof config, "{\"caps\": {\"%s\": {\"per_hour\": %s}}}", s_caps[_i].type,
              strcmp (s_caps[_i].type, "product") == 0 ? "null" : "2100");
    cab_budget_t *budget = s_budget (config);
    char source[64];
    snprintf (source, sizeof source, "cabruca.agents.%s", s_caps[_i].type);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, source, "Something", s_plain);
    int64_t day = s_ms ("2026-11-22T00:00:00Z");
    int total = 0;
    cab_budget_decision_t decision;
    for (int hour = 0; hour < 24; hour++) {
        int64_t now = day + hour * 3600000LL + 1000;
        while (s_go (budget, event, now, &decision) == CAB_BUDGET_MIRROR)
            total++;
        if (decision.limits & CAB_BUDGET_LIMIT_DAY)
            break;
    }
    ck_assert_int_eq (total, s_caps[_i].per_day);
    ck_assert (decision.limits & CAB_BUDGET_LIMIT_DAY);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2026-11-23T00:00:00Z"));
    ck_assert_int_eq (s_window (budget, day + 86399999, s_caps[_i].type, "day", "used"),
                      s_caps[_i].per_day);
    //  The next day opens at midnight.
    ck_assert_int_eq (s_go (budget, event, s_ms ("2026-11-23T00:00:00Z"), NULL), CAB_BUDGET_MIRROR);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_windows_roll)
{
    cab_budget_t *budget = s_budget (s_capped);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    cab_budget_decision_t decision;
    int64_t t = s_ms ("2026-11-22T10:59:59.998Z");
    ck_assert_int_eq (s_go (budget, event, t, NULL), CAB_BUDGET_MIRROR);
    ck_assert_int_eq (s_go (budget, event, t + 1, NULL), CAB_BUDGET_MIRROR);
    ck_assert_int_eq (s_go (budget, event, t + 1, &decision), CAB_BUDGET_DEFER);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2026-11-22T11:00:00Z"));
    //  The next hour opens at 11:00:00.000 exactly; the day cap (3) then.
    ck_assert_int_eq (s_go (budget, event, t + 2, NULL), CAB_BUDGET_MIRROR);
    ck_assert_int_eq (s_go (budget, event, t + 3, &decision), CAB_BUDGET_DEFER);
    ck_assert_uint_eq (decision.limits, CAB_BUDGET_LIMIT_DAY);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2026-11-23T00:00:00Z"));
    ck_assert_int_eq (s_window (budget, t + 3, "product", "day", "used"), 3);
    ck_assert_int_eq (s_window (budget, t + 3, "product", "hour", "used"), 1);
    ck_assert_int_eq (s_window (budget, t + 3, "product", "day", "cap"), 3);
    //  Both hour and day full at 23:59 -> the day decides.
    ck_assert_int_eq (s_go (budget, event, s_ms ("2026-11-22T23:59:59.999Z"), &decision),
                      CAB_BUDGET_DEFER);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2026-11-23T00:00:00Z"));
    ck_assert_int_eq (s_go (budget, event, s_ms ("2026-11-23T00:00:00Z"), NULL), CAB_BUDGET_MIRROR);
    //  A clock that steps back keeps counting in the current windows.
    ck_assert_int_eq (s_go (budget, event, s_ms ("2026-11-22T12:00:00Z"), NULL), CAB_BUDGET_MIRROR);
    ck_assert_int_eq (s_go (budget, event, s_ms ("2026-11-22T12:00:00Z"), &decision),
                      CAB_BUDGET_DEFER);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2026-11-23T01:00:00Z"));
    cab_budget_destroy (&budget);
}
END_TEST

//  A MIRROR decision holds its place until charged or released.
START_TEST (test_reservations)
{
    cab_budget_t *budget = s_budget ("{\"caps\": {\"product\": {\"per_hour\": 3}}}");
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    cab_budget_decision_t d[4];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq (cab_budget_decide (budget, event, now, &d[i], NULL), CAB_OK);
        ck_assert_int_eq (d[i].action, CAB_BUDGET_MIRROR);
    }
    ck_assert_int_eq (cab_budget_decide (budget, event, now, &d[3], NULL), CAB_OK);
    ck_assert_int_eq (d[3].action, CAB_BUDGET_DEFER);
    ck_assert_int_eq (s_count (budget, now, "in_flight", "events", NULL), 3);
    //  The send of d[1] failed: its place is free again, counted nothing.
    ck_assert_int_eq (cab_budget_release (budget, &d[1]), CAB_OK);
    ck_assert_int_eq (cab_budget_release (budget, &d[1]), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_charge (budget, &d[1], now), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_release (budget, &d[3]), CAB_OK);
    ck_assert_int_eq (cab_budget_decide (budget, event, now, &d[1], NULL), CAB_OK);
    ck_assert_int_eq (d[1].action, CAB_BUDGET_MIRROR);
    //  Accepted: each counts once, in the window of the charge.
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq (cab_budget_charge (budget, &d[i], now + 10), CAB_OK);
    ck_assert_int_eq (cab_budget_charge (budget, &d[0], now + 10), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (s_count (budget, now, "in_flight", "events", NULL), 0);
    ck_assert_int_eq (s_count (budget, now, "month", "events", NULL), 3);
    ck_assert_int_eq (s_count (budget, now, "counts", "mirrored", NULL), 3);
    //  Decided at 10:59, accepted at 11:00: counted in the 11:00 hour.
    ck_assert_int_eq (cab_budget_decide (budget, event, s_ms ("2026-11-22T10:59:59Z"), &d[0], NULL),
                      CAB_OK);
    ck_assert_int_eq (d[0].action, CAB_BUDGET_DEFER);
    cab_budget_release (budget, &d[0]);
    int64_t eleven = s_ms ("2026-11-22T11:00:00Z");
    ck_assert_int_eq (cab_budget_decide (budget, event, eleven, &d[0], NULL), CAB_OK);
    ck_assert_int_eq (d[0].action, CAB_BUDGET_MIRROR);
    ck_assert_int_eq (cab_budget_charge (budget, &d[0], eleven + 5), CAB_OK);
    ck_assert_int_eq (s_window (budget, eleven + 5, "product", "hour", "used"), 1);
    ck_assert_int_eq (s_window (budget, eleven + 5, "product", "day", "used"), 4);
    //  A zeroed or failed decision cannot be charged.
    cab_budget_decision_t zero;
    memset (&zero, 0, sizeof zero);
    ck_assert_int_eq (cab_budget_charge (budget, &zero, now), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_release (budget, &zero), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_charge (budget, NULL, now), CAB_ERR_INVALID_ARGUMENT);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_bad_arguments)
{
    cab_budget_t *budget = s_budget (NULL);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    cab_budget_decision_t decision;
    cab_error_t error;
    ck_assert_int_eq (cab_budget_decide (budget, event, -1, &decision, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_decide (budget, event, 253402300800000LL, &decision, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_decide (budget, NULL, 0, &decision, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    event->source = NULL;
    ck_assert_int_eq (cab_budget_decide (budget, event, 0, &decision, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    event->source = "cabruca.agents.product";
    event->rule_count = 2;
    ck_assert_int_eq (cab_budget_decide (budget, event, 0, &decision, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_charge (budget, &decision, 0), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (cab_budget_report (budget, -5));
    ck_assert_str_eq (cab_budget_verdict_name (CAB_BUDGET_MIRROR), "mirror");
    ck_assert_str_eq (cab_budget_verdict_name (CAB_BUDGET_DEFER), "defer");
    ck_assert_str_eq (cab_budget_verdict_name (CAB_BUDGET_SAMPLE_SKIP), "sample-skip");
    ck_assert_str_eq (cab_budget_verdict_name (CAB_BUDGET_SHED), "shed");
    ck_assert_str_eq (cab_budget_verdict_name ((cab_budget_verdict_t)9), "unknown");
    //  An event over a limit that is not JSON: always_mirror cannot be
    //  checked, the error says so.
    cab_budget_t *capped = s_budget ("{\"caps\": {\"product\": {\"per_hour\": 0}}}");
    event->rule_count = 0;
    event->text = "{not json";
    event->length = strlen (event->text);
    ck_assert_int_eq (cab_budget_decide (capped, event, 0, &decision, &error),
                      CAB_ERR_INVALID_JSON);
    ck_assert_int_eq (cab_budget_charge (capped, &decision, 0), CAB_ERR_INVALID_ARGUMENT);
    //  Without text, always_mirror simply does not match.
    event->text = NULL;
    ck_assert_int_eq (cab_budget_decide (capped, event, 0, &decision, &error), CAB_OK);
    ck_assert_int_eq (decision.action, CAB_BUDGET_DEFER);
    cab_budget_destroy (&capped);
    cab_budget_destroy (&budget);
}
END_TEST

//  Budget $10e-6: ten 1-chunk entries at $1.00 per million.
static const char *s_tiny =
    "{\"monthly_budget_usd\": 0.00001, \"alarm_percent\": 90, "
    "\"policies\": [{\"source\": \"cabruca.agents.product\", \"policy\": \"shed\"},"
    "               {\"source\": \"cabruca.agents.developer\", \"policy\": \"sample\","
    "                \"sample_every\": 2}]}";

START_TEST (test_threshold_once_per_month)
{
    cab_budget_t *budget = s_budget (s_tiny);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "myapp", "X", s_plain);
    int64_t now = s_ms ("2026-11-03T08:00:00Z");
    cab_budget_decision_t decision;
    int crossed = 0, reached = 0;
    for (int i = 1; i <= 10; i++) {
        ck_assert_int_eq (s_go (budget, event, now + i, &decision), CAB_BUDGET_MIRROR);
        ck_assert_double_eq_tol (decision.cost_usd, 1e-6, 1e-15);
        if (decision.threshold_crossed) {
            crossed++;
            ck_assert_int_eq (i, 9);  //  9 of 10 = 90%
        }
        reached += decision.limit_reached;
    }
    //  The tenth brought the month to exactly 100%: the limit is reached.
    ck_assert_int_eq (crossed, 1);
    ck_assert_int_eq (reached, 1);
    ck_assert (decision.limit_reached);
    //  The eleventh would pass it: deferred to the next month.
    ck_assert_int_eq (s_go (budget, event, now + 20, &decision), CAB_BUDGET_DEFER);
    ck_assert_uint_eq (decision.limits, CAB_BUDGET_LIMIT_MONTH);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2026-12-01T00:00:00Z"));
    ck_assert (!decision.threshold_crossed && !decision.limit_reached);
    ck_assert_double_eq (decision.cost_usd, 0);
    //  The report says so.
    json_t *report = cab_budget_report (budget, now + 30);
    ck_assert (json_is_true (s_at (report, "month", "over_budget", NULL)));
    ck_assert_double_eq_tol (json_real_value (s_at (report, "month", "used_percent", NULL)), 100,
                             1e-9);
    ck_assert_str_eq (json_string_value (s_at (report, "threshold", "alarm_at", NULL)),
                      "2026-11-03T08:00:00Z");
    json_decref (report);
    //  A new month: counters reset, the threshold can fire once again.
    int64_t december = s_ms ("2026-12-01T00:00:00Z");
    ck_assert_int_eq (s_count (budget, december, "month", "events", NULL), 0);
    crossed = reached = 0;
    for (int i = 1; i <= 11; i++) {
        s_go (budget, event, december + i, &decision);
        crossed += decision.threshold_crossed;
        reached += decision.limit_reached;
    }
    ck_assert_int_eq (crossed, 1);
    ck_assert_int_eq (reached, 1);
    cab_budget_destroy (&budget);
}
END_TEST

//  Over 100%, only always_mirror events go; the policies say what happens
//  to the rest (sampling lets none through).
START_TEST (test_over_budget_only_always_mirror)
{
    cab_budget_t *budget = s_budget (s_tiny);
    s_event_t holder;
    int64_t now = s_ms ("2026-12-31T23:00:00Z");
    cab_budget_event_t *event = s_event (&holder, "myapp", "X", s_plain);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_MIRROR);
    cab_budget_decision_t decision;
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert_int_eq (decision.not_before_ms, s_ms ("2027-01-01T00:00:00Z"));
    event = s_event (&holder, "cabruca.agents.monitor", "Issue Detection",
                     "{\"severity\":\"CRITICAL\",\"issue_type\":\"disk_full\"}");
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert (decision.always_mirror);
    ck_assert_uint_eq (decision.limits, CAB_BUDGET_LIMIT_MONTH);
    event = s_event (&holder, "cabruca.agents.tester", "Test Results", "{\"status\":\"FAILED\"}");
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert (decision.always_mirror);
    event = s_event (&holder, "cabruca.agents.tester", "Test Results", "{\"status\":\"PASSED\"}");
    ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_DEFER);
    event =
        s_event (&holder, "cabruca.agents.monitor", "Issue Detection", "{\"severity\":\"HIGH\"}");
    ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_DEFER);
    event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_SHED);
    event = s_event (&holder, "cabruca.agents.developer", "X", s_plain);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_SAMPLE_SKIP);
    json_t *report = cab_budget_report (budget, now);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "always_mirror_bypassed", NULL)),
                      2);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "mirrored", NULL)), 12);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "shed", NULL)), 1);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "sampled", NULL)), 4);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "deferred", NULL)), 3);
    ck_assert_int_eq (json_integer_value (s_at (report, "month", "events", NULL)), 12);
    ck_assert_double_eq_tol (json_real_value (s_at (report, "month", "cost_usd", NULL)), 12e-6,
                             1e-15);
    json_decref (report);
    //  January: a new month, December's spending does not count.
    event = s_event (&holder, "myapp", "X", s_plain);
    ck_assert_int_eq (s_go (budget, event, s_ms ("2027-01-01T00:00:00Z"), NULL), CAB_BUDGET_MIRROR);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_always_mirror_bypasses_caps)
{
    cab_budget_t *budget = s_budget ("{\"caps\": {\"tester\": {\"per_hour\": 1}}}");
    s_event_t holder;
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    cab_budget_event_t *event =
        s_event (&holder, "cabruca.agents.tester", "Test Results", "{\"status\":\"FAILED\"}");
    cab_budget_decision_t decision;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
        ck_assert (decision.always_mirror == (i > 0));
        ck_assert_uint_eq (decision.limits, i > 0 ? CAB_BUDGET_LIMIT_HOUR : 0);
    }
    //  They count: the hour shows 5 used against a cap of 1.
    ck_assert_int_eq (s_window (budget, now, "tester", "hour", "used"), 5);
    ck_assert_int_eq (s_window (budget, now, "tester", "hour", "cap"), 1);
    event = s_event (&holder, "cabruca.agents.tester", "Test Results", "{\"status\":\"PASSED\"}");
    ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_DEFER);
    //  An empty always_mirror list: nothing bypasses.
    cab_budget_t *none = s_budget ("{\"always_mirror\": [], "
                                   "\"caps\": {\"tester\": {\"per_hour\": 0}}}");
    event = s_event (&holder, "cabruca.agents.tester", "Test Results", "{\"status\":\"FAILED\"}");
    ck_assert_int_eq (s_go (none, event, now, NULL), CAB_BUDGET_DEFER);
    cab_budget_destroy (&none);
    //  A custom list replaces the defaults.
    cab_budget_t *custom = s_budget ("{\"always_mirror\": [{\"detail\": {\"n\": [1]}}], "
                                     "\"caps\": {\"tester\": {\"per_hour\": 0}}}");
    ck_assert_int_eq (s_go (custom, event, now, NULL), CAB_BUDGET_DEFER);
    event = s_event (&holder, "cabruca.agents.tester", "X", s_plain);
    ck_assert_int_eq (s_go (custom, event, now, NULL), CAB_BUDGET_MIRROR);
    cab_budget_destroy (&custom);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_policies)
{
    cab_budget_t *budget = s_budget (
        "{\"default_cap\": {\"per_hour\": 0},"
        " \"caps\": {\"monitor\": {\"per_hour\": 0}, \"product\": {\"per_hour\": 0}},"
        " \"policies\": ["
        "   {\"rule\": \"to-slack\", \"policy\": \"shed\"},"
        "   {\"source\": \"cabruca.agents.monitor\", \"detail_type\": \"Heartbeat\","
        "    \"policy\": \"sample\", \"sample_every\": 3},"
        "   {\"source\": \"cabruca.agents.monitor\", \"policy\": \"shed\"},"
        "   {\"source\": \"cabruca.agents.*\", \"policy\": \"sample\", \"sample_every\": 1000}],"
        " \"default_policy\": {\"policy\": \"defer\"}}");
    s_event_t holder;
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    cab_budget_decision_t decision;
    //  Per source.
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.monitor", "Disk", s_plain);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_SHED);
    ck_assert_int_eq (decision.policy, 2);
    //  Per source and detail-type (more specific, listed first).
    event = s_event (&holder, "cabruca.agents.monitor", "Heartbeat", s_plain);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert (decision.sampled);
    ck_assert_int_eq (decision.policy, 1);
    ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_SAMPLE_SKIP);
    //  Per rule: the first policy wins for any source when the rule matches.
    static const char *const rules[] = {"archive", "to-slack"};
    event->rules = rules;
    event->rule_count = 2;
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_SHED);
    ck_assert_int_eq (decision.policy, 0);
    event->rule_count = 1;  //  only "archive": not that policy
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_SAMPLE_SKIP);
    //  By prefix.
    event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert_int_eq (decision.policy, 3);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_SAMPLE_SKIP);
    //  The default.
    event = s_event (&holder, "myapp", "X", s_plain);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert_int_eq (decision.policy, -1);
    //  A default policy given as a string.
    cab_budget_t *shed =
        s_budget ("{\"default_cap\": {\"per_day\": 0}, \"default_policy\": \"shed\"}");
    ck_assert_int_eq (s_go (shed, event, now, &decision), CAB_BUDGET_SHED);
    ck_assert_uint_eq (decision.limits, CAB_BUDGET_LIMIT_DAY);
    ck_assert_int_eq (s_count (shed, now, "agent_types", "other", "shed"), 1);
    cab_budget_destroy (&shed);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_sample_exact)
{
    cab_budget_t *budget =
        s_budget ("{\"caps\": {\"product\": {\"per_hour\": 5}},"
                  " \"policies\": [{\"source\": \"cabruca.agents.product\", \"policy\": \"sample\","
                  "                 \"sample_every\": 10}]}");
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    int mirrored = 0, skipped = 0;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_MIRROR);
    for (int i = 0; i < 100; i++) {
        cab_budget_decision_t decision;
        cab_budget_verdict_t verdict = s_go (budget, event, now, &decision);
        if (verdict == CAB_BUDGET_MIRROR) {
            ck_assert (decision.sampled);
            ck_assert_int_eq (i % 10, 0);  //  the 1st, 11th, 21st... over the cap
            mirrored++;
        } else {
            ck_assert_int_eq (verdict, CAB_BUDGET_SAMPLE_SKIP);
            skipped++;
        }
    }
    ck_assert_int_eq (mirrored, 10);
    ck_assert_int_eq (skipped, 90);
    json_t *report = cab_budget_report (budget, now);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "sampled", NULL)), 90);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "sample_mirrored", NULL)), 10);
    ck_assert_int_eq (json_integer_value (s_at (report, "counts", "mirrored", NULL)), 15);
    ck_assert_int_eq (json_integer_value (s_at (report, "agent_types", "product", "sampled")), 90);
    json_decref (report);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_chunks_and_matches)
{
    cab_budget_t *budget = s_budget (NULL);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "myapp", "X", s_plain);
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    cab_budget_decision_t decision;
    static const struct {
        size_t size, chunks;
    } cases[] = {{0, 1},         {1, 1},      {65536, 1},  {65537, 2},
                 {65 * 1024, 2}, {131072, 2}, {131073, 3}, {262143, 4}};
    size_t total = 0;
    for (size_t index = 0; index < sizeof cases / sizeof *cases; index++) {
        event->size = cases[index].size;
        ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
        ck_assert_uint_eq (decision.chunks, cases[index].chunks);
        ck_assert_double_eq_tol (decision.cost_usd, cases[index].chunks * 1e-6, 1e-15);
        total += cases[index].chunks;
    }
    //  Cloud rule matches: $0.64 per million each.
    event->size = 100;
    event->cloud_matches = 3;
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert_double_eq_tol (decision.cost_usd, 1e-6 + 3 * 0.64e-6, 1e-15);
    total += 1;
    json_t *report = cab_budget_report (budget, now);
    ck_assert_int_eq (json_integer_value (s_at (report, "month", "chunks", NULL)),
                      (long long)total);
    ck_assert_int_eq (json_integer_value (s_at (report, "month", "rule_matches", NULL)), 3);
    ck_assert_int_eq (json_integer_value (s_at (report, "month", "events", NULL)), 9);
    ck_assert_double_eq_tol (json_real_value (s_at (report, "month", "cost_usd", NULL)),
                             total * 1e-6 + 3 * 0.64e-6, 1e-15);
    json_decref (report);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_deferred_not_counted_twice)
{
    cab_budget_t *budget = s_budget ("{\"caps\": {\"product\": {\"per_hour\": 0}}}");
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_DEFER);
    event->deferred_before = true;
    ck_assert_int_eq (s_go (budget, event, now + 3600000, NULL), CAB_BUDGET_DEFER);
    ck_assert_int_eq (s_go (budget, event, now + 7200000, NULL), CAB_BUDGET_DEFER);
    ck_assert_int_eq (s_count (budget, now + 7200000, "counts", "deferred", NULL), 1);
    ck_assert_int_eq (s_count (budget, now + 7200000, "counts", "deferrals", NULL), 3);
    ck_assert_int_eq (s_count (budget, now + 7200000, "agent_types", "product", "deferred"), 1);
    //  A DEFER that is released (the outbox row could not be updated) is
    //  not counted at all.
    cab_budget_decision_t decision;
    ck_assert_int_eq (cab_budget_decide (budget, event, now + 7200000, &decision, NULL), CAB_OK);
    ck_assert_int_eq (cab_budget_release (budget, &decision), CAB_OK);
    ck_assert_int_eq (s_count (budget, now + 7200000, "counts", "deferrals", NULL), 3);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_report_and_projection)
{
    cab_budget_t *budget = s_budget (NULL);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.monitor", "X", s_plain);
    //  November has 30 days; on the 16th at 00:00, half of it is gone.
    int64_t now = s_ms ("2026-11-16T00:00:00Z");
    for (int i = 0; i < 100; i++)
        s_go (budget, event, now, NULL);
    json_t *report = cab_budget_report (budget, now);
    ck_assert_str_eq (json_string_value (s_at (report, "time", NULL, NULL)),
                      "2026-11-16T00:00:00Z");
    ck_assert_str_eq (json_string_value (s_at (report, "month", "start", NULL)),
                      "2026-11-01T00:00:00Z");
    ck_assert_str_eq (json_string_value (s_at (report, "month", "end", NULL)),
                      "2026-12-01T00:00:00Z");
    ck_assert_double_eq_tol (json_real_value (s_at (report, "month", "elapsed_percent", NULL)), 50,
                             1e-9);
    ck_assert_double_eq_tol (json_real_value (s_at (report, "month", "cost_usd", NULL)), 100e-6,
                             1e-15);
    ck_assert_double_eq_tol (json_real_value (s_at (report, "month", "projected_usd", NULL)),
                             200e-6, 1e-12);
    ck_assert_double_eq (json_number_value (s_at (report, "month", "budget_usd", NULL)), 10);
    ck_assert (json_is_false (s_at (report, "month", "over_budget", NULL)));
    ck_assert (json_is_null (s_at (report, "threshold", "alarm_at", NULL)));
    ck_assert_int_eq (s_window (budget, now, "monitor", "hour", "cap"), 2100);
    ck_assert_int_eq (s_window (budget, now, "monitor", "day", "cap"), 50000);
    ck_assert_int_eq (s_window (budget, now, "monitor", "hour", "used"), 100);
    ck_assert_int_eq (s_window (budget, now, "other", "day", "cap"), -1);
    ck_assert_str_eq (json_string_value (s_at (report, "config", "default_policy", NULL)), "defer");
    ck_assert_int_eq (json_integer_value (s_at (report, "config", "always_mirror", NULL)), 2);
    json_decref (report);
    //  In the first hour of a month, the elapsed time counts as one hour.
    int64_t first = s_ms ("2026-12-01T00:00:01Z");
    s_go (budget, event, first, NULL);
    report = cab_budget_report (budget, first);
    ck_assert_double_eq_tol (json_real_value (s_at (report, "month", "projected_usd", NULL)),
                             1e-6 * 31 * 24, 1e-12);
    json_decref (report);
    cab_budget_destroy (&budget);
}
END_TEST

//  Fill a budget with some of everything; return the time used.
static int64_t
s_populate (cab_budget_t *budget)
{
    s_event_t holder;
    int64_t now = s_ms ("2026-11-22T10:30:00Z");
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    for (int i = 0; i < 150; i++)
        s_go (budget, event, now, NULL);
    event = s_event (&holder, "cabruca.agents.example", "X", s_plain);
    event->cloud_matches = 2;
    event->size = 70000;
    for (int i = 0; i < 7; i++)
        s_go (budget, event, now, NULL);
    event = s_event (&holder, "myapp", "X", s_plain);
    s_go (budget, event, now, NULL);
    return now;
}

START_TEST (test_state_round_trip)
{
    cab_budget_t *budget = s_budget (NULL);
    int64_t now = s_populate (budget);
    json_t *state = cab_budget_state_json (budget);
    ck_assert_ptr_nonnull (state);
    ck_assert_int_eq (json_integer_value (json_object_get (state, "version")),
                      CAB_BUDGET_STATE_VERSION);
    //  Through text, as the store keeps it.
    char *text = json_dumps (state, JSON_COMPACT);
    json_t *loaded = json_loads (text, 0, NULL);
    free (text);
    cab_budget_t *restarted = s_budget (NULL);
    cab_error_t error;
    ck_assert_int_eq (cab_budget_state_load (restarted, loaded, &error), CAB_OK);
    json_t *again = cab_budget_state_json (restarted);
    ck_assert (json_equal (state, again));
    json_t *r1 = cab_budget_report (budget, now), *r2 = cab_budget_report (restarted, now);
    ck_assert (json_equal (r1, r2));
    json_decref (r1);
    json_decref (r2);
    //  The hour's use survived: 50 more products, then the cap (200).
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq (s_go (restarted, event, now + 1, NULL), CAB_BUDGET_MIRROR);
    ck_assert_int_eq (s_go (restarted, event, now + 1, NULL), CAB_BUDGET_DEFER);
    //  Loaded later, in another hour and month: the windows roll.
    ck_assert_int_eq (cab_budget_state_load (restarted, loaded, &error), CAB_OK);
    ck_assert_int_eq (s_count (restarted, s_ms ("2026-12-02T00:00:00Z"), "month", "events", NULL),
                      0);
    json_decref (loaded);
    json_decref (again);
    json_decref (state);
    cab_budget_destroy (&restarted);
    cab_budget_destroy (&budget);
}
END_TEST

//  Corrupt or foreign state documents are refused, and change nothing.
static const struct {
    const char *edit;       //  JSON Pointer-ish: what the case breaks
    const char *key, *sub;  //  the key (and sub-key) to replace
    const char *value;      //  its new value (JSON), NULL to remove it
    cab_status_t code;
    const char *path;
} s_corrupt[] = {
    {"newer version", "version", NULL, "2", CAB_ERR_UNSUPPORTED_VERSION, "/version"},
    {"older version", "version", NULL, "0", CAB_ERR_UNSUPPORTED_VERSION, "/version"},
    {"no version", "version", NULL, NULL, CAB_ERR_UNSUPPORTED_VERSION, "/version"},
    {"version as text", "version", NULL, "\"1\"", CAB_ERR_UNSUPPORTED_VERSION, "/version"},
    {"unknown key", "extra", NULL, "1", CAB_ERR_INVALID_ARGUMENT, "/extra"},
    {"no windows", "windows", NULL, NULL, CAB_ERR_INVALID_ARGUMENT, "/windows"},
    {"hour not aligned", "windows", "hour", "1795341600001", CAB_ERR_INVALID_ARGUMENT,
     "/windows/hour"},
    {"hour outside the day", "windows", "hour", "1795428000000", CAB_ERR_INVALID_ARGUMENT,
     "/windows/day"},
    {"month not a month start", "windows", "month", "1795132800000", CAB_ERR_INVALID_ARGUMENT,
     "/windows/month"},
    {"half-set windows", "windows", "month", "null", CAB_ERR_INVALID_ARGUMENT, "/windows"},
    {"negative time", "windows", "hour", "-3600000", CAB_ERR_INVALID_ARGUMENT, "/windows/hour"},
    {"time past 9999", "alarm_at", NULL, "9999999999999999", CAB_ERR_INVALID_ARGUMENT, "/alarm_at"},
    {"negative count", "month", "entries", "-1", CAB_ERR_INVALID_ARGUMENT, "/month/entries"},
    {"real count", "month", "chunks", "1.5", CAB_ERR_INVALID_ARGUMENT, "/month/chunks"},
    {"missing count", "month", "shed", NULL, CAB_ERR_INVALID_ARGUMENT, "/month/shed"},
    {"text cost", "month", "cost_pusd", "\"10\"", CAB_ERR_INVALID_ARGUMENT, "/month/cost_pusd"},
    {"bad type name", "types", "Bad Name", "{}", CAB_ERR_INVALID_ARGUMENT, "/types/Bad Name"},
    {"type not an object", "types", "product", "[]", CAB_ERR_INVALID_ARGUMENT, "/types/product"},
    {"types not an object", "types", NULL, "[]", CAB_ERR_INVALID_ARGUMENT, "/types"},
};

START_TEST (test_state_refused)
{
    cab_budget_t *budget = s_budget (NULL);
    int64_t now = s_populate (budget);
    json_t *good = cab_budget_state_json (budget);
    json_t *state = json_deep_copy (good);
    const char *key = s_corrupt[_i].key, *sub = s_corrupt[_i].sub;
    json_t *parent = sub ? json_object_get (state, key) : state;
    const char *name = sub ? sub : key;
    if (s_corrupt[_i].value)
        json_object_set_new (parent, name, json_loads (s_corrupt[_i].value, JSON_DECODE_ANY, NULL));
    else
        json_object_del (parent, name);
    cab_error_t error;
    cab_error_clear (&error);
    ck_assert_int_eq (cab_budget_state_load (budget, state, &error), s_corrupt[_i].code);
    ck_assert_msg (strcmp (error.path, s_corrupt[_i].path) == 0, "%s: path %s, text %s",
                   s_corrupt[_i].edit, error.path, error.text);
    ck_assert (strlen (error.text) > 10);
    //  Nothing changed.
    json_t *after = cab_budget_state_json (budget);
    ck_assert (json_equal (good, after));
    json_decref (after);
    json_decref (state);
    json_decref (good);
    (void)now;
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_state_not_object)
{
    cab_budget_t *budget = s_budget (NULL);
    cab_error_t error;
    json_t *array = json_array ();
    ck_assert_int_eq (cab_budget_state_load (budget, array, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_budget_state_load (budget, NULL, &error), CAB_ERR_INVALID_ARGUMENT);
    json_decref (array);
    //  A fresh budget's state (never used) loads.
    json_t *fresh = cab_budget_state_json (budget);
    ck_assert (json_is_null (json_object_get (json_object_get (fresh, "windows"), "hour")));
    ck_assert_int_eq (cab_budget_state_load (budget, fresh, &error), CAB_OK);
    json_decref (fresh);
    cab_budget_destroy (&budget);
}
END_TEST

//  Configuration errors: one case each, with the JSON Pointer expected.
static const struct {
    const char *config;
    const char *path;
} s_bad_config[] = {
    {"[]", "/budget"},
    {"{\"monthly_budget\": 10}", "/budget/monthly_budget"},
    {"{\"monthly_budget_usd\": -1}", "/budget/monthly_budget_usd"},
    {"{\"monthly_budget_usd\": 1e300}", "/budget/monthly_budget_usd"},
    {"{\"monthly_budget_usd\": \"NaN\"}", "/budget/monthly_budget_usd"},
    {"{\"monthly_budget_usd\": \"Infinity\"}", "/budget/monthly_budget_usd"},
    {"{\"monthly_budget_usd\": \"10\"}", "/budget/monthly_budget_usd"},
    {"{\"monthly_budget_usd\": true}", "/budget/monthly_budget_usd"},
    {"{\"monthly_budget_usd\": null}", "/budget/monthly_budget_usd"},
    {"{\"alarm_percent\": 0}", "/budget/alarm_percent"},
    {"{\"alarm_percent\": 100.5}", "/budget/alarm_percent"},
    {"{\"alarm_percent\": \"-Infinity\"}", "/budget/alarm_percent"},
    {"{\"prices\": 1}", "/budget/prices"},
    {"{\"prices\": {\"per_million_entries\": -0.01}}", "/budget/prices/per_million_entries"},
    {"{\"prices\": {\"per_million_matches\": 1e308}}", "/budget/prices/per_million_matches"},
    {"{\"prices\": {\"per_million_events\": 1}}", "/budget/prices/per_million_events"},
    {"{\"caps\": []}", "/budget/caps"},
    {"{\"caps\": {\"Monitor\": {}}}", "/budget/caps/Monitor"},
    {"{\"caps\": {\"other\": {}}}", "/budget/caps/other"},
    {"{\"caps\": {\"a/b\": {}}}", "/budget/caps/a~1b"},
    {"{\"caps\": {\"monitor\": 5}}", "/budget/caps/monitor"},
    {"{\"caps\": {\"monitor\": {\"per_minute\": 5}}}", "/budget/caps/monitor/per_minute"},
    {"{\"caps\": {\"monitor\": {\"per_hour\": -1}}}", "/budget/caps/monitor/per_hour"},
    {"{\"caps\": {\"monitor\": {\"per_hour\": 2.5}}}", "/budget/caps/monitor/per_hour"},
    {"{\"caps\": {\"monitor\": {\"per_day\": 9223372036854775807}}}",
     "/budget/caps/monitor/per_day"},
    {"{\"caps\": {\"monitor\": {\"per_day\": 1e18}}}", "/budget/caps/monitor/per_day"},
    {"{\"caps\": {\"monitor\": {\"per_day\": \"NaN\"}}}", "/budget/caps/monitor/per_day"},
    {"{\"default_cap\": {\"per_hour\": -5}}", "/budget/default_cap/per_hour"},
    {"{\"default_cap\": null}", "/budget/default_cap"},
    {"{\"policies\": {}}", "/budget/policies"},
    {"{\"policies\": [1]}", "/budget/policies/0"},
    {"{\"policies\": [{\"source\": \"a\"}]}", "/budget/policies/0/policy"},
    {"{\"policies\": [{\"policy\": \"drop\"}]}", "/budget/policies/0/policy"},
    {"{\"policies\": [{\"policy\": \"defer\", \"when\": 1}]}", "/budget/policies/0/when"},
    {"{\"policies\": [{\"policy\": \"defer\", \"source\": \"\"}]}", "/budget/policies/0/source"},
    {"{\"policies\": [{\"policy\": \"defer\", \"rule\": 7}]}", "/budget/policies/0/rule"},
    {"{\"policies\": [{\"policy\": \"defer\"}, {\"policy\": \"sample\"}]}", "/budget/policies/1"},
    {"{\"policies\": [{\"policy\": \"sample\", \"sample_every\": 0}]}",
     "/budget/policies/0/sample_every"},
    {"{\"policies\": [{\"policy\": \"sample\", \"sample_every\": 1e400}]}",
     "/budget/policies/0/sample_every"},
    {"{\"policies\": [{\"policy\": \"sample\", \"sample_every\": 99999999999999}]}",
     "/budget/policies/0/sample_every"},
    {"{\"policies\": [{\"policy\": \"shed\", \"sample_every\": 2}]}",
     "/budget/policies/0/sample_every"},
    {"{\"default_policy\": \"drop\"}", "/budget/default_policy"},
    {"{\"default_policy\": 3}", "/budget/default_policy"},
    {"{\"default_policy\": {\"policy\": \"sample\", \"sample_every\": -1}}",
     "/budget/default_policy/sample_every"},
    {"{\"always_mirror\": {}}", "/budget/always_mirror"},
    {"{\"always_mirror\": [\"{}\"]}", "/budget/always_mirror/0"},
    {"{\"always_mirror\": [{\"source\": \"x\"}]}", "/budget/always_mirror/0/source"},
    {"{\"always_mirror\": [{\"source\": [\"a\"]}, {\"detail\": {\"n\": [{\"numeric\": [\">\", "
     "\"x\"]}]}}]}",
     "/budget/always_mirror/1/detail/n/0/numeric/1"},
};

START_TEST (test_config_error)
{
    const char *text = s_bad_config[_i].config;
    json_error_t jerror;
    json_t *config = json_loads (text, JSON_DECODE_ANY, &jerror);
    cab_error_t error;
    cab_error_clear (&error);
    cab_budget_t *budget = NULL;
    if (config) {
        budget = cab_budget_new (config, &error);
        json_decref (config);
    } else {
        //  Numbers jansson itself refuses (1e400) never reach the budget.
        ck_assert_msg (strstr (jerror.text, "overflow") || strstr (jerror.text, "too big"),
                       "%s: %s", text, jerror.text);
        return;
    }
    ck_assert_msg (budget == NULL, "accepted: %s", text);
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
    ck_assert_msg (strcmp (error.path, s_bad_config[_i].path) == 0, "%s: path %s (expected %s): %s",
                   text, error.path, s_bad_config[_i].path, error.text);
    ck_assert (strlen (error.text) > 5);
}
END_TEST

START_TEST (test_config_limits)
{
    //  The largest accepted values, and zero, work without overflow.
    cab_budget_t *budget =
        s_budget ("{\"monthly_budget_usd\": 1000000, \"alarm_percent\": 100,"
                  " \"prices\": {\"per_million_entries\": 1000, \"per_million_matches\": 0},"
                  " \"caps\": {\"monitor\": {\"per_hour\": 1000000000000, \"per_day\": null}},"
                  " \"policies\": [{\"policy\": \"sample\", \"sample_every\": 1000000000}]}");
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.monitor", "X", s_plain);
    event->size = 262143;
    event->cloud_matches = (size_t)-1;  //  absurd: saturates, does not wrap
    cab_budget_decision_t decision;
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert_double_eq_tol (decision.cost_usd, 4 * 1e-3, 1e-12);
    //  An absurd size costs more than any budget, it does not wrap to free.
    event->size = (size_t)-1;
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_SAMPLE_SKIP);
    ck_assert_uint_eq (decision.limits, CAB_BUDGET_LIMIT_MONTH);
    ck_assert_uint_gt (decision.chunks, 1000);
    event->size = 262143;
    cab_budget_destroy (&budget);
    //  A zero budget lets only always_mirror through.
    budget = s_budget ("{\"monthly_budget_usd\": 0}");
    event->cloud_matches = 0;
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert (decision.limit_reached);
    cab_budget_destroy (&budget);
    //  Too many agent types.
    json_t *caps = json_object ();
    for (int i = 0; i < 64; i++) {
        char name[16];
        snprintf (name, sizeof name, "t%d", i);
        json_object_set_new (caps, name, json_object ());
    }
    json_t *config = json_pack ("{s:o}", "caps", caps);
    cab_error_t error;
    ck_assert_ptr_null (cab_budget_new (config, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
    ck_assert_str_eq (error.path, "/budget/caps/t59");
    json_decref (config);
}
END_TEST

//  Types beyond the table share "other", and keep being counted.
START_TEST (test_many_types)
{
    cab_budget_t *budget = s_budget (NULL);
    s_event_t holder;
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    for (int i = 0; i < 100; i++) {
        char source[64];
        snprintf (source, sizeof source, "cabruca.agents.t%d", i);
        cab_budget_event_t *event = s_event (&holder, source, "X", s_plain);
        ck_assert_int_eq (s_go (budget, event, now, NULL), CAB_BUDGET_MIRROR);
    }
    json_t *report = cab_budget_report (budget, now);
    ck_assert_int_eq (json_object_size (s_at (report, "agent_types", NULL, NULL)),
                      CAB_BUDGET_TYPES_MAX);
    ck_assert_int_eq (json_integer_value (s_at (report, "month", "events", NULL)), 100);
    //  4 defaults + other + 59 new ones; 41 counted as "other".
    ck_assert_int_eq (json_integer_value (s_at (report, "agent_types", "other", "mirrored")), 41);
    json_decref (report);
    cab_budget_destroy (&budget);
}
END_TEST

START_TEST (test_threshold_detail)
{
    cab_budget_t *budget = s_budget (s_tiny);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "myapp", "X", s_plain);
    int64_t now = s_ms ("2026-11-03T08:00:00Z");
    for (int i = 0; i < 9; i++)
        s_go (budget, event, now, NULL);
    cab_schema_t *schema =
        cab_schema_load (CAB_TEST_SRCDIR "/schemas/events/budget-threshold-1.0.json", NULL);
    ck_assert_ptr_nonnull (schema);
    for (int limit = 0; limit < 2; limit++) {
        json_t *detail = cab_budget_threshold_detail (budget, limit, "broker", NULL);
        ck_assert_ptr_nonnull (detail);
        ck_assert_str_eq (json_string_value (json_object_get (detail, "scope")), "MONTHLY");
        ck_assert_str_eq (json_string_value (json_object_get (detail, "unit")), "USD");
        ck_assert_str_eq (json_string_value (json_object_get (detail, "period_start")),
                          "2026-11-01T00:00:00Z");
        ck_assert_double_eq (json_number_value (json_object_get (detail, "threshold_percent")),
                             limit ? 100 : 90);
        ck_assert_str_eq (json_string_value (json_object_get (detail, "action")),
                          limit ? "DEFER" : "NONE");
        ck_assert_double_eq_tol (json_number_value (json_object_get (detail, "used")), 9e-6, 1e-15);
        ck_assert_double_eq_tol (json_number_value (json_object_get (detail, "limit")), 1e-5,
                                 1e-15);
        json_t *instance = json_pack ("{s:s,s:s,s:o}", "source", "cabruca.broker", "detail-type",
                                      "Budget Threshold", "detail", detail);
        cab_error_t error;
        ck_assert_msg (cab_schema_validate (schema, instance, &error) == CAB_OK, "%s: %s",
                       error.path, error.text);
        json_decref (instance);
    }
    json_t *detail = cab_budget_threshold_detail (budget, false, "broker",
                                                  "0190a5b2-0000-7000-8000-000000000001");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "correlation_id")),
                      "0190a5b2-0000-7000-8000-000000000001");
    json_decref (detail);
    ck_assert_ptr_null (cab_budget_threshold_detail (budget, false, NULL, NULL));
    cab_schema_destroy (&schema);
    cab_budget_destroy (&budget);
}
END_TEST

//  The first event past a cap in its window says so, once per type and
//  window; the detail is a valid Budget Threshold event (HOURLY, DAILY).
START_TEST (test_cap_reached)
{
    cab_budget_t *budget = s_budget (s_capped);
    s_event_t holder;
    cab_budget_event_t *event = s_event (&holder, "cabruca.agents.product", "X", s_plain);
    int64_t now = s_ms ("2026-11-22T10:00:00Z");
    cab_budget_decision_t decision;
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert_uint_eq (decision.cap_reached, 0);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert_uint_eq (decision.cap_reached, 0);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert_uint_eq (decision.cap_reached, CAB_BUDGET_LIMIT_HOUR);
    cab_schema_t *schema =
        cab_schema_load (CAB_TEST_SRCDIR "/schemas/events/budget-threshold-1.0.json", NULL);
    ck_assert_ptr_nonnull (schema);
    json_t *detail =
        cab_budget_cap_detail (budget, &decision, CAB_BUDGET_LIMIT_HOUR, "broker", NULL);
    ck_assert_ptr_nonnull (detail);
    ck_assert_str_eq (json_string_value (json_object_get (detail, "scope")), "HOURLY");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "agent_type")), "product");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "unit")), "EVENTS");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "action")), "DEFER");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "period_start")),
                      "2026-11-22T10:00:00Z");
    ck_assert_int_eq (json_integer_value (json_object_get (detail, "used")), 2);
    ck_assert_int_eq (json_integer_value (json_object_get (detail, "limit")), 2);
    json_t *instance = json_pack ("{s:s,s:s,s:o}", "source", "cabruca.broker", "detail-type",
                                  "Budget Threshold", "detail", detail);
    cab_error_t error;
    ck_assert_msg (cab_schema_validate (schema, instance, &error) == CAB_OK, "%s: %s", error.path,
                   error.text);
    json_decref (instance);
    ck_assert_ptr_null (cab_budget_cap_detail (budget, &decision, CAB_BUDGET_LIMIT_DAY, "b", NULL));
    //  Once per window: not for another refusal (nor, below, for an
    //  always_mirror bypass).
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert_uint_eq (decision.cap_reached, 0);
    //  Survives a restart.
    json_t *state = cab_budget_state_json (budget);
    cab_budget_t *restarted = s_budget (s_capped);
    ck_assert_int_eq (cab_budget_state_load (restarted, state, NULL), CAB_OK);
    ck_assert_int_eq (s_go (restarted, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert_uint_eq (decision.cap_reached, 0);
    //  A corrupt flag is refused.
    json_object_set_new (json_object_get (json_object_get (state, "types"), "product"),
                         "day_alerted", json_string ("yes"));
    ck_assert_int_eq (cab_budget_state_load (restarted, state, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq (error.path, "/types/product/day_alerted");
    json_decref (state);
    cab_budget_destroy (&restarted);
    s_event_t urgent;
    cab_budget_event_t *always = s_event (&urgent, "cabruca.agents.product", "Urgent", s_plain);
    ck_assert_int_eq (s_go (budget, always, now, &decision), CAB_BUDGET_MIRROR);
    ck_assert (decision.always_mirror);
    ck_assert_uint_eq (decision.cap_reached, 0);
    //  The next hour: the bypass made 3 today, the day cap: DAILY (the hour
    //  cap is not reached in this hour).
    now = s_ms ("2026-11-22T11:00:00Z");
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert_uint_eq (decision.limits, CAB_BUDGET_LIMIT_DAY);
    ck_assert_uint_eq (decision.cap_reached, CAB_BUDGET_LIMIT_DAY);
    detail = cab_budget_cap_detail (budget, &decision, CAB_BUDGET_LIMIT_DAY, "broker", NULL);
    ck_assert_str_eq (json_string_value (json_object_get (detail, "scope")), "DAILY");
    ck_assert_int_eq (json_integer_value (json_object_get (detail, "used")), 3);
    ck_assert_str_eq (json_string_value (json_object_get (detail, "period_start")),
                      "2026-11-22T00:00:00Z");
    instance = json_pack ("{s:s,s:s,s:o}", "source", "cabruca.broker", "detail-type",
                          "Budget Threshold", "detail", detail);
    ck_assert_msg (cab_schema_validate (schema, instance, &error) == CAB_OK, "%s: %s", error.path,
                   error.text);
    json_decref (instance);
    //  The next day: the flags are reset.
    now = s_ms ("2026-11-23T00:00:00Z");
    s_go (budget, event, now, NULL);
    s_go (budget, event, now, NULL);
    ck_assert_int_eq (s_go (budget, event, now, &decision), CAB_BUDGET_DEFER);
    ck_assert_uint_eq (decision.cap_reached, CAB_BUDGET_LIMIT_HOUR);
    cab_schema_destroy (&schema);
    cab_budget_destroy (&budget);
}
END_TEST

//  The budget in front of the real sender (cab_mirror, dry-run), as the
//  broker's mirror worker will use them: decide, submit the MIRRORs, charge
//  on the result (release on FAILED), defer the rest to the next window.
typedef struct {
    cab_budget_t *budget;
    cab_budget_decision_t decisions[8];
    int64_t now;
    int results;
} s_worker_t;

static void
s_on_result (void *arg, const cab_mirror_result_t *result)
{
    s_worker_t *worker = (s_worker_t *)arg;
    cab_budget_decision_t *decision = &worker->decisions[result->key];
    if (result->outcome == CAB_MIRROR_ACCEPTED || result->outcome == CAB_MIRROR_DRY_RUN)
        ck_assert_int_eq (cab_budget_charge (worker->budget, decision, worker->now), CAB_OK);
    else
        ck_assert_int_eq (cab_budget_release (worker->budget, decision), CAB_OK);
    worker->results++;
}

START_TEST (test_with_mirror)
{
    s_worker_t worker = {0};
    worker.budget = s_budget ("{\"caps\": {\"product\": {\"per_hour\": 5}}}");
    worker.now = s_ms ("2026-11-22T10:00:00Z");
    cab_mirror_config_t config = {0};
    config.dry_run = true;
    config.region = "sa-east-1";
    cab_error_t error;
    cab_mirror_t *mirror = cab_mirror_new (&config, s_on_result, &worker, &error);
    ck_assert_msg (mirror != NULL, "%s", error.text);
    s_event_t holder[8];
    bool deferred[8] = {false};
    for (int round = 0; round < 2; round++) {
        int submitted = 0, deferrals = 0;
        for (int key = 0; key < 8; key++) {
            if (round == 1 && !deferred[key])
                continue;
            char detail[32];
            snprintf (detail, sizeof detail, "{\"n\":%d}", key);
            cab_budget_event_t *event =
                s_event (&holder[key], "cabruca.agents.product", "Feature Request", detail);
            //  The entry size the way the mirror computes it.
            cab_putevents_entry_t entry;
            ck_assert_int_eq (
                cab_putevents_entry_build (event->text, event->length, NULL, &entry, NULL), CAB_OK);
            event->size = entry.size;
            cab_putevents_entry_clear (&entry);
            event->deferred_before = deferred[key];
            cab_budget_decision_t *decision = &worker.decisions[key];
            ck_assert_int_eq (cab_budget_decide (worker.budget, event, worker.now, decision, NULL),
                              CAB_OK);
            if (decision->action == CAB_BUDGET_MIRROR) {
                ck_assert_int_eq (
                    cab_mirror_submit (mirror, key, event->text, event->length, &error), CAB_OK);
                submitted++;
                deferred[key] = false;
            } else {
                ck_assert_int_eq (decision->action, CAB_BUDGET_DEFER);
                ck_assert_int_eq (cab_budget_charge (worker.budget, decision, worker.now), CAB_OK);
                deferred[key] = true;
                deferrals++;
                //  The outbox keeps it until not_before.
                ck_assert_int_eq (decision->not_before_ms, s_ms ("2026-11-22T11:00:00Z"));
            }
        }
        ck_assert_int_eq (submitted, round == 0 ? 5 : 3);
        ck_assert_int_eq (deferrals, round == 0 ? 3 : 0);
        for (int spin = 0; spin < 1000 && cab_mirror_pending (mirror); spin++)
            cab_mirror_run (mirror, 10);
        ck_assert_int_eq (cab_mirror_pending (mirror), 0);
        ck_assert_int_eq (s_count (worker.budget, worker.now, "in_flight", "events", NULL), 0);
        //  The next window.
        worker.now = s_ms ("2026-11-22T11:00:00Z");
    }
    ck_assert_int_eq (worker.results, 8);
    ck_assert_int_eq (s_count (worker.budget, worker.now, "month", "events", NULL), 8);
    ck_assert_int_eq (s_count (worker.budget, worker.now, "counts", "deferred", NULL), 3);
    ck_assert_int_eq (s_window (worker.budget, worker.now, "product", "hour", "used"), 3);
    cab_mirror_stats_t stats;
    cab_mirror_stats (mirror, &stats);
    ck_assert_uint_eq (stats.dry_run_events, 8);
    cab_mirror_destroy (&mirror);
    cab_budget_destroy (&worker.budget);
}
END_TEST

//  jansson's allocations fail after s_allocs_left more (-1: never).
static long s_allocs_left = -1;

static void *
s_malloc (size_t size)
{
    if (s_allocs_left == 0)
        return NULL;
    if (s_allocs_left > 0)
        s_allocs_left--;
    return malloc (size);
}

//  Every jansson allocation fails in turn: the budget's documents come out
//  whole or NULL, never half-built, and nothing leaks (valgrind run).
START_TEST (test_out_of_memory)
{
    json_t *config = json_loads (s_tiny, 0, NULL);
    cab_budget_t *reference = cab_budget_new (config, NULL);
    int64_t now = s_populate (reference);
    json_t *state = cab_budget_state_json (reference);
    json_t *report = cab_budget_report (reference, now);
    json_set_alloc_funcs (s_malloc, free);
    bool done = false;
    for (long n = 0; !done; n++) {
        s_allocs_left = n;
        cab_error_t error;
        cab_budget_t *budget = cab_budget_new (config, &error);
        if (budget) {
            ck_assert_int_eq (cab_budget_state_load (budget, state, &error), CAB_OK);
            json_t *again = cab_budget_state_json (budget);
            json_t *report2 = cab_budget_report (budget, now);
            json_t *detail = cab_budget_threshold_detail (budget, true, "broker", NULL);
            ck_assert (!again || json_equal (again, state));
            ck_assert (!report2 || json_equal (report2, report));
            ck_assert (!detail || json_object_size (detail) == 10);
            json_decref (again);
            json_decref (report2);
            json_decref (detail);
            cab_budget_destroy (&budget);
        }
        done = s_allocs_left > 0;
        ck_assert (n < 100000);
    }
    s_allocs_left = -1;
    json_decref (state);
    json_decref (report);
    json_decref (config);
    cab_budget_destroy (&reference);
}
END_TEST

//  Every allocation (ours, jansson's, the C library's: failmalloc.c) of
//  parsing a configuration, loading a state, saving it and reporting fails
//  in turn: each gives CAB_ERR_NOMEM or NULL, or succeeds, and leaks
//  nothing.
START_TEST (test_every_allocation_fails)
{
    if (!failmalloc_active ())
        return;  //  valgrind or a static sanitizer runtime: nothing to fail
    static const char *text =
        "{\"caps\": {\"example\": {\"per_hour\": 3}},"
        " \"policies\": [{\"source\": \"cabruca.agents.*\", \"rule\": \"r\","
        "                  \"policy\": \"sample\", \"sample_every\": 4}],"
        " \"default_policy\": \"shed\","
        " \"always_mirror\": [{\"detail\": {\"n\": [{\"numeric\": [\">\", 5]}]}}]}";
    json_t *config = json_loads (text, 0, NULL);
    cab_budget_t *reference = cab_budget_new (config, NULL);
    int64_t now = s_populate (reference);
    json_t *state = cab_budget_state_json (reference);
    json_t *report = cab_budget_report (reference, now);
    long at;
    for (at = 1;; at++) {
        cab_error_t error;
        cab_error_clear (&error);
        long live = failmalloc_live ();
        failmalloc_arm (at);
        cab_budget_t *budget = cab_budget_new (config, &error);
        cab_status_t status = budget ? cab_budget_state_load (budget, state, &error) : error.code;
        json_t *saved = status == CAB_OK ? cab_budget_state_json (budget) : NULL;
        json_t *report2 = status == CAB_OK ? cab_budget_report (budget, now) : NULL;
        failmalloc_disarm ();
        bool failed = failmalloc_failed ();
        ck_assert_msg (status == CAB_OK || status == CAB_ERR_NOMEM, "allocation %ld: %s: %s %s", at,
                       cab_status_name (status), error.path, error.text);
        ck_assert (!saved || json_equal (saved, state));
        ck_assert (!report2 || json_equal (report2, report));
        json_decref (saved);
        json_decref (report2);
        cab_budget_destroy (&budget);
        ck_assert_msg (failmalloc_live () == live, "allocation %ld: %ld blocks leaked", at,
                       failmalloc_live () - live);
        if (!failed) {
            ck_assert_int_eq (status, CAB_OK);
            break;
        }
    }
    ck_assert_int_gt (at, 20);
    json_decref (report);
    json_decref (state);
    json_decref (config);
    cab_budget_destroy (&reference);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_budget");
    TCase *tcase = tcase_create ("core");
    tcase_add_test (tcase, test_agent_types);
    tcase_add_test (tcase, test_months);
    tcase_add_loop_test (tcase, test_hour_caps_exact, 0, sizeof s_caps / sizeof *s_caps);
    tcase_add_loop_test (tcase, test_day_caps_exact, 0, sizeof s_caps / sizeof *s_caps);
    tcase_add_test (tcase, test_windows_roll);
    tcase_add_test (tcase, test_reservations);
    tcase_add_test (tcase, test_bad_arguments);
    tcase_add_test (tcase, test_threshold_once_per_month);
    tcase_add_test (tcase, test_over_budget_only_always_mirror);
    tcase_add_test (tcase, test_always_mirror_bypasses_caps);
    tcase_add_test (tcase, test_policies);
    tcase_add_test (tcase, test_sample_exact);
    tcase_add_test (tcase, test_chunks_and_matches);
    tcase_add_test (tcase, test_deferred_not_counted_twice);
    tcase_add_test (tcase, test_report_and_projection);
    tcase_add_test (tcase, test_state_round_trip);
    tcase_add_loop_test (tcase, test_state_refused, 0, sizeof s_corrupt / sizeof *s_corrupt);
    tcase_add_test (tcase, test_state_not_object);
    tcase_add_loop_test (tcase, test_config_error, 0, sizeof s_bad_config / sizeof *s_bad_config);
    tcase_add_test (tcase, test_config_limits);
    tcase_add_test (tcase, test_many_types);
    tcase_add_test (tcase, test_threshold_detail);
    tcase_add_test (tcase, test_cap_reached);
    tcase_add_test (tcase, test_with_mirror);
    tcase_add_test (tcase, test_out_of_memory);
    tcase_add_test (tcase, test_every_allocation_fails);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
