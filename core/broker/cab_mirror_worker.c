/*  =========================================================================
    cab_mirror_worker - the cloud mirror's actor inside cabruca-broker

    The worker owns the sender (cab_mirror_t), the budget (cab_budget_t), a
    read-only store handle and the cloud rule set. Its loop:

      1. scan the outbox rows that are due, after its cursor (skipping the
         rows it holds already), and decide each with the budget: the entry
         size (cab_putevents_entry_size_text: one pass, no parse tree), the
         cloud rule matches and their names, deferred_before from the row;
      2. MIRROR: submit it to the sender; DEFER, SAMPLE_SKIP, SHED: an
         outcome at once;
      3. run the sender; its results become outcomes (ACCEPTED, DRY_RUN:
         charged; FAILED: released, tried again after failed_retry_ms;
         DEAD_LETTERED: released, a dead letter in queue "mirror");
      4. every 50 ms (or 1,000 outcomes), with no set at the broker, charge
         the set's decisions and hand the set with the budget's state to the
         broker thread ("SET"): the store writer commits it with the next
         batch. "DONE" brings it back: committed, its rows are forgotten;
         failed, the budget state from before the charges is loaded again
         and the rows are forgotten, so that they are read again.

    The worker never writes the store: one writer, as docs/architecture.md
    says. A restart reads the budget state saved with the last committed
    set, and every row still in the outbox is decided again (at-least-once).

    Messages on the pipe, from the broker: "WAKE" (events were stored),
    "RESCAN" (dead letters went back to the outbox), "DONE" + set pointer, "RULES" + json_t pointer (stolen), "STOP" (answer
    "STOPPED" and send nothing more). To the broker: "SET" + set pointer.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include "cab_aws_creds.h"
#include "cab_budget.h"
#include "cab_putevents.h"
#include <stdlib.h>
#include <string.h>

//  A set goes to the broker after this long, or with this many outcomes.
#define S_FLUSH_MS 50
//  Outbox rows read per scan.
#define S_SCAN_LIMIT 1000
//  A scan after one that read all there was waits this long, ms: under a
//  steady load every commit wakes us, and a read transaction per commit
//  of a dozen events cost more than the events (docs/performance.md,
//  "CPU at moderate rates"); sets go to the broker every S_FLUSH_MS.
#define S_SCAN_GAP_MS 10
//  Longest wait of the loop, ms (an injected clock is read this often).
#define S_IDLE_MS 1000
//  The sender's wait for network activity while requests are open, ms.
#define S_RUN_MS 10
//  Figures published for STATUS and CONTROL at most this often, ms.
#define S_PUBLISH_MS 200
//  A failed store read is tried again after this, ms.
#define S_SCAN_RETRY_MS 1000
//  Cloud rules matched per event, at most (the rest count, unnamed).
#define S_MATCH_MAX 256
//  Longest error text kept with an outcome.
#define S_ERROR_MAX 512

//  Where a row the worker holds is.
typedef enum { S_SUBMITTED, S_OUTCOME, S_COMMITTING } s_where_t;

typedef struct {
    int64_t seq;
    s_where_t where;
    bool decided;  //  decision holds a reservation, to charge or release
    cab_budget_decision_t decision;
} s_row_t;

typedef struct {
    zsock_t *pipe;
    cabi_mirror_shared_t *shared;
    //  Settings (copied)
    cab_mirror_config_t sender_config;  //  Strings point to the copies below
    char *endpoint, *region, *bus;
    int64_t failed_retry_ms;
    size_t max_queue;
    cab_broker_clock_fn *clock;
    void *clock_arg;
    bool own_rules;          //  The cloud rules are the broker's
    uint32_t rules_gen;      //  Generation of the broker's rule document they were made from
    uint64_t matches_taken;  //  Events whose count came from the broker (matchlog)
    uint64_t matches_made;   //  Events the worker matched against its rules
    char *data_dir;
    //  Owned
    cab_store_t *store;
    cab_mirror_t *mirror;  //  NULL until it can be created
    cab_budget_t *budget;
    cab_rules_t *rules;
    size_t matches[S_MATCH_MAX];
    zhashx_t *rows;     //  seq -> s_row_t
    int64_t cursor;     //  Scan rows after this seq
    bool scan_more;     //  Rows may be due after the cursor
    bool scan_stopped;  //  The last scan stopped for lack of room
    size_t scan_seen;
    int64_t scanned_at;          //  When the last scan that read all there was ran (mono ms)
    int64_t scan_retry_at;       //  Mono ms, 0: now
    int64_t next_due;            //  Clock ms of the next deferred or failed row
    cabi_mirror_set_t *filling;  //  Outcomes not handed over yet
    int64_t filling_since;       //  Mono ms
    cabi_mirror_set_t *sent;     //  At the broker (owned there), or NULL
    char *state_before;          //  Budget state before the sent set's charges
    uint64_t set_ids;
    int64_t sender_retry_at;    //  Mono ms of the next cab_mirror_new
    int64_t published_at;       //  Mono ms
    bool dirty;                 //  Something to publish
    int64_t failure_logged_at;  //  Mono ms
    unsigned commit_failures;   //  Sets not committed in a row
    cab_budget_t *next_budget;  //  A new budget (SIGHUP) waiting for the decisions in flight
    bool draining;              //  The broker stops: hand over the outcomes, send no more
    bool drained;               //  "DRAINED" said
} s_worker_t;

static void
s_row_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int64_t
s_now (s_worker_t *self)
{
    return self->clock ? self->clock (self->clock_arg) : zclock_time ();
}

//  ---- Outcome sets -------------------------------------------------------------

cabi_mirror_set_t *
cabi_mirror_set_new (size_t capacity)
{
    cabi_mirror_set_t *self = (cabi_mirror_set_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = capacity ? capacity : 64;
    self->recs = (cab_mirror_outcome_rec_t *)calloc (self->capacity, sizeof *self->recs);
    if (!self->recs)
        cabi_mirror_set_destroy (&self);
    return self;
}

void
cabi_mirror_set_destroy (cabi_mirror_set_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cabi_mirror_set_t *self = *self_p;
    for (size_t index = 0; self->recs && index < self->count; index++) {
        free ((char *)self->recs[index].aws_event_id);
        free ((char *)self->recs[index].error);
    }
    free (self->recs);
    free (self->budget_state);
    for (size_t index = 0; index < self->notice_count; index++)
        free (self->notices[index]);
    free (self);
    *self_p = NULL;
}

//  Forget a row: release its reservation if it holds one.
static void
s_forget (s_worker_t *self, int64_t seq)
{
    s_row_t *row = (s_row_t *)zhashx_lookup (self->rows, CABI_ID_KEY (seq));
    if (!row)
        return;
    if (row->decided)
        cab_budget_release (self->budget, &row->decision);
    zhashx_delete (self->rows, CABI_ID_KEY (seq));
}

//  Record an outcome of row in the filling set. On failure (out of memory)
//  the row is forgotten: it is read again from the outbox.
static void
s_outcome (s_worker_t *self, s_row_t *row, cab_mirrored_outcome_t outcome, const char *event_id,
           const char *error, int attempts, int64_t not_before_ms)
{
    cabi_mirror_set_t *set = self->filling;
    if (!set) {
        set = self->filling = cabi_mirror_set_new (256);
        self->filling_since = zclock_mono ();
    }
    if (set && set->count == set->capacity) {
        size_t capacity = set->capacity * 2;
        cab_mirror_outcome_rec_t *more =
            (cab_mirror_outcome_rec_t *)realloc (set->recs, capacity * sizeof *more);
        if (more) {
            set->recs = more;
            set->capacity = capacity;
        }
    }
    char *id_copy = event_id && *event_id ? strdup (event_id) : NULL;
    char *error_copy = error && *error ? strdup (error) : NULL;
    if (!set || set->count == set->capacity || (event_id && *event_id && !id_copy) ||
        (error && *error && !error_copy)) {
        free (id_copy);
        free (error_copy);
        s_forget (self, row->seq);
        return;
    }
    cab_mirror_outcome_rec_t *rec = &set->recs[set->count++];
    memset (rec, 0, sizeof *rec);
    rec->seq = row->seq;
    rec->outcome = outcome;
    rec->aws_event_id = id_copy;
    rec->error = error_copy;
    rec->attempts = attempts;
    rec->not_before_ms = not_before_ms;
    row->where = S_OUTCOME;
}

//  ---- Deciding and sending ------------------------------------------------

//  Take one due outbox row. Returns false when the sender has no room
//  (the row is not taken).
static bool
s_take (s_worker_t *self, const cab_outbox_record_t *record)
{
    s_row_t *row = (s_row_t *)calloc (1, sizeof *row);
    if (!row || zhashx_insert (self->rows, CABI_ID_KEY (record->seq), row) != 0) {
        free (row);
        return false;
    }
    row->seq = record->seq;
    char text[S_ERROR_MAX];
    cab_error_t error;
    cab_error_clear (&error);
    //  No parse tree: the budget needs the entry size as AWS computes it,
    //  counted in one pass over the text (cab_putevents_entry_size_text);
    //  the entry is built from the text only for a MIRROR verdict. Source
    //  and detail-type come from the store's columns. An event that cannot
    //  be an entry is a dead letter at once.
    size_t size = 0;
    cab_status_t checked =
        cab_putevents_entry_size_text (record->text, record->length, &size, &error);
    if (checked != CAB_OK) {
        snprintf (text, sizeof text, "%s: %.400s", cab_status_name (checked), error.text);
        s_outcome (self, row, CAB_MIRRORED_DEAD, NULL, text, 0, 0);
        return true;
    }
    const char *source = record->source;
    const char *detail_type = record->detail_type;
    size_t count = 0, named = 0;
    const char *names[S_MATCH_MAX];
    //  The broker's count when it has one and the names are not needed
    //  (cab_broker_matchlog.c); else the worker matches.
    if (self->own_rules && !cab_budget_uses_rule_names (self->budget) &&
        cabi_matchlog_get (self->shared->matchlog, record->seq, self->rules_gen, &count))
        self->matches_taken++;
    else {
        self->matches_made++;
        cab_error_t match_error;
        cab_error_clear (&match_error);
        if (cab_rules_match (self->rules, record->text, record->length, self->matches, S_MATCH_MAX,
                             &count, &match_error) != CAB_OK)
            count = 0;
        named = count < S_MATCH_MAX ? count : S_MATCH_MAX;
    }
    for (size_t index = 0; index < named; index++) {
        const cab_rule_t *rule = cab_rules_get (self->rules, self->matches[index]);
        names[index] = rule ? rule->name : "";
    }
    cab_budget_event_t event = {.text = record->text,
                                .length = record->length,
                                .source = source,
                                .detail_type = detail_type,
                                .size = size,
                                .rules = names,
                                .rule_count = named,
                                .cloud_matches = count,
                                .deferred_before = record->deferred};
    cab_status_t status =
        cab_budget_decide (self->budget, &event, s_now (self), &row->decision, &error);
    if (status != CAB_OK) {
        snprintf (text, sizeof text, "%s: %.400s", cab_status_name (status), error.text);
        s_outcome (self, row, CAB_MIRRORED_DEAD, NULL, text, 0, 0);
        return true;
    }
    row->decided = true;
    cab_putevents_entry_t entry;
    memset (&entry, 0, sizeof entry);
    if (row->decision.action == CAB_BUDGET_MIRROR)
        status = cab_putevents_entry_build (record->text, record->length,
                                            cab_mirror_bus_name (self->mirror), &entry, &error);
    switch (row->decision.action) {
        case CAB_BUDGET_MIRROR:
            if (status == CAB_OK)
                status = cab_mirror_submit_entry (self->mirror, record->seq, &entry, &error);
            cab_putevents_entry_clear (&entry);
            if (status == CAB_OK) {
                row->where = S_SUBMITTED;
                return true;
            }
            cab_budget_release (self->budget, &row->decision);
            row->decided = false;
            if (status == CAB_ERR_BUSY || status == CAB_ERR_NOMEM) {
                zhashx_delete (self->rows, CABI_ID_KEY (record->seq));
                return false;
            }
            snprintf (text, sizeof text, "%s: %.400s", cab_status_name (status), error.text);
            s_outcome (self, row, CAB_MIRRORED_DEAD, NULL, text, 0, 0);
            return true;
        case CAB_BUDGET_DEFER:
            s_outcome (self, row, CAB_MIRRORED_DEFERRED, NULL, NULL, record->attempts,
                       row->decision.not_before_ms);
            return true;
        case CAB_BUDGET_SAMPLE_SKIP:
            s_outcome (self, row, CAB_MIRRORED_SAMPLED, NULL, NULL, record->attempts, 0);
            return true;
        case CAB_BUDGET_SHED:
        default:
            s_outcome (self, row, CAB_MIRRORED_SHED, NULL, NULL, record->attempts, 0);
            return true;
    }
}

static int
s_on_row (const cab_outbox_record_t *record, void *arg)
{
    s_worker_t *self = (s_worker_t *)arg;
    self->scan_seen++;
    if (zhashx_lookup (self->rows, CABI_ID_KEY (record->seq))) {
        self->cursor = record->seq;
        return 0;
    }
    if (zhashx_size (self->rows) >= self->max_queue || !s_take (self, record)) {
        self->scan_stopped = true;
        return 1;
    }
    self->cursor = record->seq;
    self->dirty = true;
    return 0;
}

//  Log a store or sender failure at most every 10 s.
static void
s_log_failure (s_worker_t *self, const char *what, const char *text)
{
    int64_t now = zclock_mono ();
    if (self->failure_logged_at && now - self->failure_logged_at < 10000)
        return;
    self->failure_logged_at = now;
    zsys_warning ("cabruca-broker: mirror: %s: %s", what, text);
}

static void
s_refresh_due (s_worker_t *self, int64_t now)
{
    cab_error_t error;
    cab_error_clear (&error);
    int64_t next = INT64_MAX;
    if (cab_store_outbox_next_due (self->store, now, &next, &error) != CAB_OK) {
        s_log_failure (self, "cannot read the outbox", error.text);
        next = now + S_SCAN_RETRY_MS;
    }
    self->next_due = next;
}

//  How long until a scan may run, ms (0: now).
static int64_t
s_scan_wait (s_worker_t *self)
{
    int64_t left = self->scanned_at + S_SCAN_GAP_MS - zclock_mono ();
    return self->scanned_at && left > 0 ? left : 0;
}

//  One scan of the outbox, when there may be due rows and room.
static void
s_scan (s_worker_t *self)
{
    int64_t now = s_now (self);
    if (now >= self->next_due) {
        //  Deferred or failed rows are due: a pass from the first row.
        self->cursor = 0;
        self->scan_more = true;
        self->next_due = INT64_MAX;
    }
    if (self->scan_retry_at && zclock_mono () >= self->scan_retry_at)
        self->scan_retry_at = 0;
    if (!self->mirror || !self->scan_more || zhashx_size (self->rows) >= self->max_queue ||
        self->scan_retry_at || self->next_budget || s_scan_wait (self) > 0)
        return;
    self->scan_seen = 0;
    self->scan_stopped = false;
    cab_error_t error;
    cab_error_clear (&error);
    if (cab_store_outbox_scan (self->store, self->cursor, now, S_SCAN_LIMIT, s_on_row, self,
                               &error) != CAB_OK) {
        s_log_failure (self, "cannot read the outbox", error.text);
        self->scan_retry_at = zclock_mono () + S_SCAN_RETRY_MS;
        return;
    }
    self->scan_retry_at = 0;
    if (!self->scan_stopped && self->scan_seen < S_SCAN_LIMIT) {
        self->scan_more = false;
        self->scanned_at = zclock_mono ();
        s_refresh_due (self, now);
    }
}

static void
s_on_result (void *arg, const cab_mirror_result_t *result)
{
    s_worker_t *self = (s_worker_t *)arg;
    s_row_t *row = (s_row_t *)zhashx_lookup (self->rows, CABI_ID_KEY (result->key));
    if (!row || row->where != S_SUBMITTED)
        return;
    self->dirty = true;
    char error[S_ERROR_MAX];
    snprintf (error, sizeof error, "%s: %s", result->error_code, result->error_message);
    int attempts = (int)result->attempts;
    switch (result->outcome) {
        case CAB_MIRROR_ACCEPTED:
            s_outcome (self, row, CAB_MIRRORED_ACCEPTED, result->event_id, NULL, attempts, 0);
            break;
        case CAB_MIRROR_DRY_RUN:
            s_outcome (self, row, CAB_MIRRORED_DRY_RUN, NULL, NULL, attempts, 0);
            break;
        case CAB_MIRROR_DEAD_LETTERED:
            cab_budget_release (self->budget, &row->decision);
            row->decided = false;
            s_outcome (self, row, CAB_MIRRORED_DEAD, NULL, error, attempts, 0);
            break;
        case CAB_MIRROR_FAILED:
        default:
            cab_budget_release (self->budget, &row->decision);
            row->decided = false;
            s_outcome (self, row, CAB_MIRRORED_FAILED, NULL, error, attempts,
                       s_now (self) + self->failed_retry_ms);
            break;
    }
}

//  ---- Sets to the broker -------------------------------------------------------

//  A Budget Threshold detail (stolen) into the set, as JSON text; what is
//  the notice about, for the log when it cannot be.
static void
s_notice (cabi_mirror_set_t *set, json_t *detail, const char *what)
{
    char *text = detail ? json_dumps (detail, JSON_COMPACT) : NULL;
    json_decref (detail);
    if (text && set->notice_count < CABI_MIRROR_NOTICES_MAX)
        set->notices[set->notice_count++] = text;
    else {
        free (text);
        zsys_warning ("cabruca-broker: mirror: a Budget Threshold event (%s) was not published",
                      what);
    }
}

//  The Budget Threshold events a charged decision raised: the month's
//  alarm and limit, and its agent type's hourly and daily caps (each once
//  per window: at most 24 + 1 a day per type, docs/budget.md).
static void
s_notices (s_worker_t *self, cabi_mirror_set_t *set, const cab_budget_decision_t *decision)
{
    if (decision->threshold_crossed)
        s_notice (set, cab_budget_threshold_detail (self->budget, false, "broker", NULL), "alarm");
    if (decision->limit_reached)
        s_notice (set, cab_budget_threshold_detail (self->budget, true, "broker", NULL), "100%");
    if (decision->cap_reached & CAB_BUDGET_LIMIT_HOUR)
        s_notice (
            set,
            cab_budget_cap_detail (self->budget, decision, CAB_BUDGET_LIMIT_HOUR, "broker", NULL),
            "hourly cap");
    if (decision->cap_reached & CAB_BUDGET_LIMIT_DAY)
        s_notice (
            set,
            cab_budget_cap_detail (self->budget, decision, CAB_BUDGET_LIMIT_DAY, "broker", NULL),
            "daily cap");
}

//  Charge the filling set's decisions and hand it to the broker, when it
//  is due and no other set is at the broker.
static void
s_flush (s_worker_t *self, bool force)
{
    cabi_mirror_set_t *set = self->filling;
    if (!set || self->sent ||
        (!force && set->count < CABI_MIRROR_SET_MAX &&
         zclock_mono () - self->filling_since < S_FLUSH_MS))
        return;
    json_t *before = cab_budget_state_json (self->budget);
    char *before_text = before ? json_dumps (before, JSON_COMPACT) : NULL;
    json_decref (before);
    if (!before_text)
        return;  //  Out of memory: try again on the next turn
    int64_t now = s_now (self);
    for (size_t index = 0; index < set->count; index++) {
        s_row_t *row = (s_row_t *)zhashx_lookup (self->rows, CABI_ID_KEY (set->recs[index].seq));
        if (!row)
            continue;
        row->where = S_COMMITTING;
        if (!row->decided)
            continue;
        row->decided = false;
        if (cab_budget_charge (self->budget, &row->decision, now) != CAB_OK)
            continue;
        s_notices (self, set, &row->decision);
    }
    json_t *after = cab_budget_state_json (self->budget);
    set->budget_state = after ? json_dumps (after, JSON_COMPACT) : NULL;
    json_decref (after);
    set->id = ++self->set_ids;
    if (!set->budget_state || zsock_send (self->pipe, "sp", "SET", set) != 0) {
        //  Undo: the rows are read and decided again.
        json_t *state = json_loads (before_text, 0, NULL);
        if (state)
            cab_budget_state_load (self->budget, state, NULL);
        json_decref (state);
        for (size_t index = 0; index < set->count; index++)
            s_forget (self, set->recs[index].seq);
        cabi_mirror_set_destroy (&self->filling);
        free (before_text);
        self->cursor = 0;
        self->scan_more = true;
        return;
    }
    self->sent = set;
    self->filling = NULL;
    self->state_before = before_text;
    self->dirty = true;
}

//  The broker answered for the set at the broker.
static void
s_done (s_worker_t *self, cabi_mirror_set_t *set)
{
    if (!set || set != self->sent) {
        zsys_error ("cabruca-broker: mirror: an unknown outcome set came back");
        return;
    }
    if (set->status != CAB_OK) {
        //  Not committed: the counts go back to what they were, and the
        //  rows are read and decided again.
        s_log_failure (self, "outcomes not committed", cab_strerror (set->status));
        json_t *state = json_loads (self->state_before, 0, NULL);
        cab_error_t error;
        cab_error_clear (&error);
        if (!state || cab_budget_state_load (self->budget, state, &error) != CAB_OK)
            zsys_error ("cabruca-broker: mirror: cannot restore the budget state: %s",
                        state ? error.text : "out of memory");
        json_decref (state);
        self->cursor = 0;
        self->scan_more = true;
        //  The store is failing: read the rows again after a backoff (1 s
        //  doubling to 32 s), not at once, so that events accepted by AWS
        //  are not sent again and again while the disk is full.
        unsigned shift = self->commit_failures < 5 ? self->commit_failures : 5;
        self->commit_failures++;
        self->scan_retry_at = zclock_mono () + (1000LL << shift);
    } else
        self->commit_failures = 0;
    for (size_t index = 0; index < set->count; index++)
        s_forget (self, set->recs[index].seq);
    if (set->status == CAB_OK)
        s_refresh_due (self, s_now (self));
    cabi_mirror_set_destroy (&self->sent);
    free (self->state_before);
    self->state_before = NULL;
    self->dirty = true;
}

//  ---- Sender, rules, figures ---------------------------------------------------

static void
s_sender_start (s_worker_t *self)
{
    if (self->mirror || zclock_mono () < self->sender_retry_at)
        return;
    cab_error_t error;
    cab_error_clear (&error);
    self->mirror = cab_mirror_new (&self->sender_config, s_on_result, self, &error);
    char region[128] = "", endpoint[1024] = "";
    if (self->region)
        snprintf (region, sizeof region, "%s", self->region);
    else
        cab_aws_region (region, sizeof region, NULL);
    if (self->endpoint)
        snprintf (endpoint, sizeof endpoint, "%s", self->endpoint);
    else if (cab_aws_endpoint (*region ? region : NULL, endpoint, sizeof endpoint, NULL) != CAB_OK)
        endpoint[0] = 0;
    pthread_mutex_lock (&self->shared->lock);
    self->shared->sender_up = self->mirror != NULL;
    self->shared->dry_run = self->mirror && cab_mirror_dry_run (self->mirror);
    snprintf (self->shared->region, sizeof self->shared->region, "%s", region);
    snprintf (self->shared->endpoint, sizeof self->shared->endpoint, "%s", endpoint);
    snprintf (self->shared->error, sizeof self->shared->error, "%.200s",
              self->mirror ? "" : error.text);
    pthread_mutex_unlock (&self->shared->lock);
    if (!self->mirror) {
        zsys_error ("cabruca-broker: mirror: cannot start the sender: %s [%s]; events stay in "
                    "the outbox; trying again in %" PRId64 " ms",
                    error.text, cab_status_name (error.code), self->failed_retry_ms);
        self->sender_retry_at = zclock_mono () + self->failed_retry_ms;
        return;
    }
    if (cab_mirror_dry_run (self->mirror))
        zsys_info ("cabruca-broker: mirror: dry-run (%s): nothing leaves the host",
                   self->sender_config.dry_run ? "configured" : "no AWS credentials");
    else
        zsys_info ("cabruca-broker: mirror: to bus %s at %s (%s)", self->bus, endpoint, region);
    self->scan_more = true;
    self->dirty = true;
}

//  Replace the cloud rules by a rule document (stolen) of generation gen.
static void
s_set_rules (s_worker_t *self, json_t *document, uint32_t gen)
{
    if (!document || !self->own_rules) {
        json_decref (document);
        return;
    }
    cab_error_t error;
    cab_error_clear (&error);
    cab_rules_t *rules = cab_rules_parse (document, self->data_dir, &error);
    json_decref (document);
    if (!rules) {
        zsys_warning ("cabruca-broker: mirror: the new rules are not used for cloud matches: %s",
                      error.text);
        return;
    }
    cab_rules_unref (&self->rules);
    self->rules = rules;
    self->rules_gen = gen;
}

//  A new "budget" section (stolen; null: the defaults): the budget that
//  replaces the current one once no decision is in flight.
static void
s_new_budget (s_worker_t *self, json_t *section)
{
    cab_error_t error;
    cab_error_clear (&error);
    cab_budget_t *budget = cab_budget_new (json_is_object (section) ? section : NULL, &error);
    json_decref (section);
    if (!budget) {
        zsys_error ("cabruca-broker: mirror: the new budget section is not used: %s%s%s",
                    error.path, *error.path ? ": " : "", error.text);
        return;
    }
    cab_budget_destroy (&self->next_budget);
    self->next_budget = budget;
}

//  Put the new budget in place when no decision is in flight (new rows
//  wait meanwhile): the counts go over with the state document.
static void
s_swap_budget (s_worker_t *self)
{
    if (!self->next_budget)
        return;
    for (s_row_t *row = (s_row_t *)zhashx_first (self->rows); row;
         row = (s_row_t *)zhashx_next (self->rows))
        if (row->decided)
            return;
    json_t *state = cab_budget_state_json (self->budget);
    cab_error_t error;
    cab_error_clear (&error);
    if (!state || cab_budget_state_load (self->next_budget, state, &error) != CAB_OK) {
        json_decref (state);
        return;  //  Out of memory: on the next turn
    }
    json_decref (state);
    cab_budget_destroy (&self->budget);
    self->budget = self->next_budget;
    self->next_budget = NULL;
    self->scan_more = true;
    self->dirty = true;
    zsys_info ("cabruca-broker: mirror: the new budget section applies");
}

//  Publish the figures STATUS and CONTROL read.
static void
s_publish (s_worker_t *self, bool force)
{
    int64_t now_mono = zclock_mono ();
    if (!force && (!self->dirty || now_mono - self->published_at < S_PUBLISH_MS) &&
        now_mono - self->published_at < S_IDLE_MS)
        return;
    json_t *report = cab_budget_report (self->budget, s_now (self));
    char *text = report ? json_dumps (report, JSON_COMPACT) : NULL;
    double cost = json_real_value (json_object_get (json_object_get (report, "month"), "cost_usd"));
    json_decref (report);
    cab_mirror_stats_t stats;
    memset (&stats, 0, sizeof stats);
    if (self->mirror)
        cab_mirror_stats (self->mirror, &stats);
    pthread_mutex_lock (&self->shared->lock);
    self->shared->sender = stats;
    self->shared->matches_from_broker = self->matches_taken;
    self->shared->matches_by_worker = self->matches_made;
    if (text) {
        free (self->shared->report);
        self->shared->report = text;
        self->shared->cost_usd_month = cost;
    }
    pthread_mutex_unlock (&self->shared->lock);
    if (!text)
        return;
    self->published_at = now_mono;
    self->dirty = false;
}

//  A message from the broker. Returns false on $TERM or STOP.
static bool
s_command (s_worker_t *self, bool *stop_p)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg)
        return false;
    char *command = zmsg_popstr (msg);
    void *pointer = NULL;
    zframe_t *frame = zmsg_pop (msg);
    if (frame && zframe_size (frame) == sizeof pointer)
        memcpy (&pointer, zframe_data (frame), sizeof pointer);
    zframe_destroy (&frame);
    //  RULES: the document's generation follows.
    uint32_t gen = 0;
    frame = zmsg_pop (msg);
    if (frame && zframe_size (frame) == sizeof gen)
        memcpy (&gen, zframe_data (frame), sizeof gen);
    zframe_destroy (&frame);
    zmsg_destroy (&msg);
    bool go_on = command && !streq (command, "$TERM");
    if (go_on && streq (command, "WAKE"))
        self->scan_more = true;
    else if (go_on && streq (command, "RESCAN")) {
        self->cursor = 0;  //  Rows came back below the cursor
        self->scan_more = true;
    } else if (go_on && streq (command, "DONE"))
        s_done (self, (cabi_mirror_set_t *)pointer);
    else if (go_on && streq (command, "RULES"))
        s_set_rules (self, (json_t *)pointer, gen);
    else if (go_on && streq (command, "BUDGET"))
        s_new_budget (self, (json_t *)pointer);
    else if (go_on && streq (command, "DRAIN"))
        self->draining = true;
    else if (go_on && streq (command, "STOP")) {
        *stop_p = true;
        go_on = false;
    }
    zstr_free (&command);
    return go_on;
}

//  The loop: until $TERM or STOP. Returns true on $TERM.
static bool
s_run (s_worker_t *self)
{
    bool stop = false;
    while (true) {
        bool pending = false;
        if (self->draining) {
            //  The broker stops: no more sending; the outcomes we have go
            //  now (the events in flight are sent again at the next start).
            s_flush (self, true);
            if (!self->sent && !self->filling && !self->drained) {
                zstr_send (self->pipe, "DRAINED");
                self->drained = true;
            }
        } else {
            s_sender_start (self);
            s_scan (self);
            pending = self->mirror && cab_mirror_pending (self->mirror) > 0;
            if (pending) {
                cab_mirror_run (self->mirror, S_RUN_MS);
                self->dirty = true;
            }
            s_flush (self, false);
            s_swap_budget (self);
        }
        s_publish (self, false);
        //  How long to wait for the broker.
        long wait = S_IDLE_MS;  //  Draining: until DONE comes
        bool scan = self->scan_more && self->mirror && !self->next_budget &&
                    zhashx_size (self->rows) < self->max_queue && !self->scan_retry_at;
        int64_t scan_wait = scan ? s_scan_wait (self) : 0;
        bool busy = pending || (scan && scan_wait == 0);
        if (!self->draining && busy)
            wait = 0;
        else if (!self->draining) {
            int64_t now_mono = zclock_mono ();
            if (self->filling && !self->sent) {
                int64_t left = self->filling_since + S_FLUSH_MS - now_mono;
                wait = left < wait ? (left > 0 ? (long)left : 0) : wait;
            }
            if (self->next_due != INT64_MAX) {
                int64_t left = self->next_due - s_now (self);
                wait = left < wait ? (left > 0 ? (long)left : 0) : wait;
            }
            if (!self->mirror) {
                int64_t left = self->sender_retry_at - now_mono;
                wait = left < wait ? (left > 0 ? (long)left : 0) : wait;
            }
            if (self->dirty) {
                int64_t left = self->published_at + S_PUBLISH_MS - now_mono;
                wait = left < wait ? (left > 0 ? (long)left : 0) : wait;
            }
            if (self->scan_retry_at) {
                int64_t left = self->scan_retry_at - now_mono;
                wait = left < wait ? (left > 0 ? (long)left : 0) : wait;
            }
            if (scan_wait > 0 && scan_wait < wait)
                wait = (long)scan_wait;
        }
        zmq_pollitem_t item = {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll (&item, 1, wait);
        if (ready < 0)
            break;
        //  Every message waiting, then the next turn.
        while (ready > 0 && (item.revents & ZMQ_POLLIN)) {
            if (!s_command (self, &stop))
                goto done;
            item.revents = 0;
            ready = zmq_poll (&item, 1, 0);
        }
    }
done:
    if (stop)
        zstr_send (self->pipe, "STOPPED");
    return !stop;
}

//  ---- The actor ------------------------------------------------------------------

typedef struct {
    const cab_broker_config_t *config;
    json_t *rules_document;
    cabi_mirror_shared_t *shared;
    cab_status_t status;
    cab_error_t error;
} s_args_t;

static char *
s_strdup_or_null (const char *text)
{
    return text ? strdup (text) : NULL;
}

//  Set the worker up from the arguments (in the actor's thread, before
//  READY). CAB_OK or an error in args->error.
static cab_status_t
s_setup (s_worker_t *self, s_args_t *args)
{
    const cab_broker_config_t *config = args->config;
    cab_error_t *error = &args->error;
    self->shared = args->shared;
    self->endpoint = s_strdup_or_null (config->mirror_endpoint);
    self->region = s_strdup_or_null (config->mirror_region);
    self->bus = strdup (config->mirror_bus_name ? config->mirror_bus_name : CAB_MIRROR_TARGET);
    self->data_dir = s_strdup_or_null (config->data_dir);
    self->rows = cabi_id_table ();
    if ((config->mirror_endpoint && !self->endpoint) || (config->mirror_region && !self->region) ||
        !self->bus || (config->data_dir && !self->data_dir) || !self->rows)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    zhashx_set_destructor (self->rows, s_row_free);
    cab_mirror_config_t *sc = &self->sender_config;
    sc->endpoint = self->endpoint;
    sc->region = self->region;
    sc->bus_name = self->bus;
    sc->dry_run = config->mirror_dry_run;
    sc->max_in_flight = config->mirror_max_in_flight;
    sc->max_queue = config->mirror_max_queue;
    sc->backoff_base_ms = config->mirror_backoff_base_ms;
    sc->backoff_cap_ms = config->mirror_backoff_cap_ms;
    sc->max_attempts = config->mirror_max_attempts;
    sc->request_timeout_ms = config->mirror_request_timeout_ms;
    self->max_queue = config->mirror_max_queue ? config->mirror_max_queue : 2000;
    self->failed_retry_ms = config->mirror_failed_retry_ms;
    self->clock = config->mirror_clock;
    self->clock_arg = config->mirror_clock_arg;
    self->next_due = INT64_MAX;
    self->scan_more = true;
    snprintf (self->shared->bus, sizeof self->shared->bus, "%s", self->bus);

    self->store = cab_store_new_readonly (config->store_path, error);
    if (!self->store)
        return error->code;
    //  It reads the newest rows once, in order: a small page cache will do.
    cab_store_set_cache_size (self->store, 1024);
    self->budget = cab_budget_new (config->budget, error);
    if (!self->budget)
        return error->code;
    if (config->budget) {
        //  The budget's prices are the sender's too.
        json_t *price =
            json_object_get (json_object_get (config->budget, "prices"), "per_million_entries");
        if (json_is_number (price))
            sc->price_per_million = json_number_value (price);
    }
    json_t *state = NULL;
    cab_error_t local;
    cab_error_clear (&local);
    cab_status_t status = cab_store_budget_state (self->store, &state, &local);
    if (status == CAB_OK && state) {
        status = cab_budget_state_load (self->budget, state, &local);
        if (status != CAB_OK)
            zsys_error ("cabruca-broker: mirror: the saved budget state is not usable (%s%s%s: "
                        "%s); counting from zero",
                        cab_status_name (status), *local.path ? " at " : "", local.path,
                        local.text);
    } else if (status != CAB_OK)
        zsys_error ("cabruca-broker: mirror: cannot read the saved budget state (%s: %s); "
                    "counting from zero",
                    cab_status_name (status), local.text);
    json_decref (state);

    if (config->mirror_cloud_rules) {
        self->rules = cab_rules_load (config->mirror_cloud_rules, self->data_dir, error);
        if (!self->rules) {
            char text[CAB_ERROR_TEXT_MAX];
            snprintf (text, sizeof text, "%s", error->text);
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/mirror/cloud_rules",
                                  "cloud rules %s: %s", config->mirror_cloud_rules, text);
        }
    } else {
        self->own_rules = true;
        self->rules = args->rules_document
                          ? cab_rules_parse (args->rules_document, self->data_dir, error)
                          : cab_rules_new_empty ();
        if (!self->rules)
            return args->rules_document ? error->code
                                        : cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
    }
    s_publish (self, true);
    return CAB_OK;
}

static void
s_teardown (s_worker_t *self)
{
    cab_mirror_destroy (&self->mirror);
    zhashx_destroy (&self->rows);  //  The reservations go with the budget
    cabi_mirror_set_destroy (&self->filling);
    //  self->sent belongs to the broker until it comes back.
    free (self->state_before);
    cab_budget_destroy (&self->next_budget);
    cab_budget_destroy (&self->budget);
    cab_rules_unref (&self->rules);
    cab_store_destroy (&self->store);
    free (self->endpoint);
    free (self->region);
    free (self->bus);
    free (self->data_dir);
}

static void
s_worker_actor (zsock_t *pipe, void *arg)
{
    s_args_t *args = (s_args_t *)arg;
    pthread_setname_np (pthread_self (), "cab-mirror");
    zsock_signal (pipe, 0);
    s_worker_t *self = (s_worker_t *)calloc (1, sizeof *self);
    cab_status_t status =
        self ? s_setup (self, args) : cab_error_set (&args->error, CAB_ERR_NOMEM, NULL, NULL);
    args->status = status;
    //  args lives on the caller's stack: not used after this answer.
    zstr_send (pipe, status == CAB_OK ? "READY" : "ERROR");
    bool terminated = false;
    if (status == CAB_OK) {
        self->pipe = pipe;
        terminated = s_run (self);
    }
    if (self)
        s_teardown (self);
    free (self);
    //  Until $TERM (after STOP, or after an error at the start).
    char *command = NULL;
    while (!terminated && (command = zstr_recv (pipe)) && !streq (command, "$TERM"))
        zstr_free (&command);
    zstr_free (&command);
}

zactor_t *
cabi_mirror_worker_new (const cab_broker_config_t *config, json_t *rules_document,
                        cabi_mirror_shared_t *shared, cab_error_t *error)
{
    s_args_t args;
    memset (&args, 0, sizeof args);
    args.config = config;
    args.rules_document = rules_document;
    args.shared = shared;
    zactor_t *worker = zactor_new (s_worker_actor, &args);
    if (!worker) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "cannot start the mirror worker");
        return NULL;
    }
    char *answer = zstr_recv (worker);
    bool ready = answer && streq (answer, "READY");
    zstr_free (&answer);
    if (!ready) {
        if (error)
            *error = args.error;
        if (error && error->code == CAB_OK)
            cab_error_set (error, CAB_ERR_INTERNAL, NULL, "the mirror worker did not start");
        zactor_destroy (&worker);
    }
    return worker;
}
