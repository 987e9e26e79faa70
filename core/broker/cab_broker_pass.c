/*  =========================================================================
    cab_broker_pass - the deliveries that wait in the store, rule changes,
    and the delivery state's setup and status

    A pass reads PENDING deliveries back from the store (on the broker's
    read-only handle), by ascending id, a chunk per turn of the loop and
    only while the window of deliveries in memory has room: first the ids
    (skipping those held, those with a change not committed yet, those not
    due yet, and those for a queue without room), then those rows with
    their events. Passes resume the deliveries after a restart and bring
    back those left in the store when the window was full, parked for a
    long backoff, redriven, or waiting for a consumer. See
    cab_broker_delivery.c.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include "cab_sender.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t
s_id_hash (const void *key)
{
    uint64_t x = (uint64_t)(uintptr_t)key;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static int
s_id_compare (const void *a, const void *b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

int
cabi_id_order (const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

zhashx_t *
cabi_id_table (void)
{
    zhashx_t *table = zhashx_new ();
    if (table) {
        zhashx_set_key_hasher (table, s_id_hash);
        zhashx_set_key_comparator (table, s_id_compare);
        zhashx_set_key_duplicator (table, NULL);
        zhashx_set_key_destructor (table, NULL);
    }
    return table;
}

static void
s_rules_destroy (void **item_p)
{
    cab_rules_unref ((cab_rules_t **)item_p);
}

static void
s_event_destroy (void **item_p)
{
    cab_event_destroy ((cab_event_t **)item_p);
}

//  ---- Passes over the store ------------------------------------------------------

typedef struct {
    cabi_broker_t *self;
    int64_t now;
    size_t rows;
    int64_t last_id;
    int64_t ids[CABI_PASS_ROWS];
    size_t id_count;
    size_t room;
    int64_t *unsettled;  //  cabi_delivery_unsettled
    size_t unsettled_count;
} s_pass_t;

//  First look (no text): which rows to read back.
static int
s_pass_look (const cab_delivery_record_t *record, void *arg)
{
    s_pass_t *pass = (s_pass_t *)arg;
    cabi_broker_t *self = pass->self;
    pass->rows++;
    pass->last_id = record->id;
    if (cabi_delivery_find (self, record->id) ||
        (pass->unsettled_count && bsearch (&record->id, pass->unsettled, pass->unsettled_count,
                                           sizeof *pass->unsettled, cabi_id_order)))
        return 0;
    if (record->next_ms > pass->now + CABI_PASS_AHEAD_MS) {
        if (self->reload_min_next == 0 || record->next_ms < self->reload_min_next)
            self->reload_min_next = record->next_ms;
        return 0;
    }
    cab_rules_t *rules = NULL;
    const cab_rule_target_t *target =
        cabi_delivery_lookup (self, record->rule, record->target, &rules);
    if (target && target->type == CAB_TARGET_AGENT) {
        cabi_queue_t *queue = cabi_queue_get (self, target->queue, true);
        if (queue && cabi_queue_full (self, queue)) {
            //  It waits in the store, not in memory.
            queue->stored = true;
            return 0;
        }
    }
    if (pass->id_count == pass->room) {
        pass->rows--;
        pass->last_id = record->id - 1;  //  Take it next time
        return 1;
    }
    pass->ids[pass->id_count++] = record->id;
    return 0;
}

//  Second look (with the events): hold them.
static int
s_pass_take (const cab_delivery_record_t *record, void *arg)
{
    s_pass_t *pass = (s_pass_t *)arg;
    cabi_broker_t *self = pass->self;
    cab_rules_t *rules = NULL;
    const cab_rule_target_t *target =
        cabi_delivery_lookup (self, record->rule, record->target, &rules);
    if (!record->text)
        return 0;  //  Its event is gone (cannot happen: the sweep keeps it)
    if (!target) {
        //  Its rule was removed while it waited in the store.
        cabi_delivery_record (self, record->id, CAB_DELIVERY_DEAD, record->attempts, 0, "standard",
                              "rule removed");
        self->dead_lettered++;
        cabi_delivery_notice (self, record->text, record->length, record->rule, record->target,
                              "standard", "TARGET_REJECTED", record->attempts, "rule removed");
        return 0;
    }
    cabi_text_t *text = cabi_text_new (record->text, record->length, 0);
    if (!text)
        return 1;
    text->ingest_ms = record->created_ms;
    cabi_delivery_t *d = cabi_delivery_hold (self, record->id, record->seq, rules,
                                             cab_rules_find (rules, record->rule), target, text,
                                             record->replay, record->attempts, record->created_ms);
    cabi_text_unref (&text);
    if (!d)
        return 1;
    cabi_delivery_schedule (self, d, record->next_ms);
    return 0;
}

//  One step of the current pass (or the start of a new one).
void
cabi_pass_step (cabi_broker_t *self, int64_t now)
{
    if (self->reload_cursor == 0) {
        self->reload_dirty = false;
        self->reload_min_next = 0;
        self->reload_cursor = 1;
        self->reload_passes++;
    }
    s_pass_t *pass = (s_pass_t *)calloc (1, sizeof *pass);
    if (!pass || !cabi_delivery_unsettled (self, &pass->unsettled, &pass->unsettled_count)) {
        free (pass);
        self->reload_at = now + CABI_PASS_RETRY_MS;
        return;
    }
    pass->self = self;
    pass->now = now;
    size_t held = zhashx_size (self->deliveries);
    pass->room = self->config->max_pending_in_memory - held;
    if (pass->room > CABI_PASS_ROWS)
        pass->room = CABI_PASS_ROWS;
    cab_delivery_query_t query = {0};
    query.state = CAB_DELIVERY_PENDING;
    query.from_id = self->reload_cursor;
    query.limit = CABI_PASS_ROWS;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status =
        cab_store_scan_deliveries (self->reader, &query, s_pass_look, pass, &error);
    if (status == CAB_OK && pass->id_count > 0) {
        cab_delivery_query_t take = {0};
        take.state = CAB_DELIVERY_PENDING;
        take.ids = pass->ids;
        take.id_count = pass->id_count;
        take.with_text = true;
        status = cab_store_scan_deliveries (self->reader, &take, s_pass_take, pass, &error);
    }
    if (status != CAB_OK) {
        zsys_warning ("cabruca-broker: cannot read pending deliveries: %s", error.text);
        self->reload_at = now + CABI_PASS_RETRY_MS;
    } else if (pass->rows == CABI_PASS_ROWS || pass->id_count == pass->room) {
        self->reload_cursor = pass->last_id + 1;  //  More to look at
        self->reload_at = now;
    } else {
        //  The pass is over.
        self->reload_cursor = 0;
        if (self->reload_dirty)
            self->reload_at = now;
        else
            self->reload_at =
                self->reload_min_next ? self->reload_min_next - CABI_PASS_AHEAD_MS : 0;
    }
    free (pass->unsettled);
    free (pass);
}

void
cabi_delivery_reload_queue (cabi_broker_t *self)
{
    cabi_delivery_reload (self);
    self->reload_after_commits = 2;
}

void
cabi_delivery_reload (cabi_broker_t *self)
{
    self->reload_dirty = true;
    if (self->reload_at == 0 || self->reload_at > zclock_time ())
        self->reload_at = zclock_time ();
}

//  ---- Rules -------------------------------------------------------------------------

cab_status_t
cabi_delivery_rebuild_rules (cabi_broker_t *self, cab_error_t *error)
{
    cab_rules_t *rules = self->rules_document
                             ? cab_rules_parse (self->rules_document, self->config->data_dir, error)
                             : cab_rules_new_empty ();
    if (!rules)
        return error && error->code ? error->code : CAB_ERR_NOMEM;
    for (cabi_queue_t *queue = (cabi_queue_t *)zhashx_first (self->queues); queue;
         queue = (cabi_queue_t *)zhashx_next (self->queues))
        for (cabi_consumer_t *consumer = (cabi_consumer_t *)zlistx_first (queue->consumers);
             consumer; consumer = (cabi_consumer_t *)zlistx_next (queue->consumers))
            if (consumer->pattern) {
                cab_status_t status =
                    cab_rules_add_subscription (rules, queue->name, consumer->pattern, error);
                if (status != CAB_OK) {
                    cab_rules_unref (&rules);
                    return status;
                }
            }
    const char *queue_name;
    json_t *patterns;
    json_object_foreach (self->durable, queue_name, patterns)
    {
        size_t index;
        json_t *pattern;
        json_array_foreach (patterns, index, pattern)
        {
            cab_status_t status = cab_rules_add_subscription (rules, queue_name, pattern, error);
            if (status != CAB_OK) {
                cab_rules_unref (&rules);
                return status;
            }
        }
    }
    cab_rules_unref (&self->rules);
    self->rules = rules;
    return CAB_OK;
}

cab_status_t
cabi_durable_save (cabi_broker_t *self, cab_error_t *error)
{
    char temporary[1100];
    snprintf (temporary, sizeof temporary, "%s.tmp", self->durable_path);
    FILE *file = fopen (temporary, "w");
    if (!file)
        return cab_error_set (error, CAB_ERR_IO, NULL, "cannot write %s: %s", temporary,
                              strerror (errno));
    int rc = json_dumpf (self->durable, file, JSON_INDENT (2) | JSON_SORT_KEYS);
    rc |= fputc ('\n', file) == EOF;
    rc |= fflush (file) != 0 || fsync (fileno (file)) != 0;
    rc |= fclose (file) != 0;
    if (rc != 0 || rename (temporary, self->durable_path) != 0) {
        int saved = errno;
        remove (temporary);
        return cab_error_set (error, CAB_ERR_IO, NULL, "cannot write %s: %s", self->durable_path,
                              strerror (saved));
    }
    return CAB_OK;
}

//  Read the durable subscriptions kept by an earlier run.
static cab_status_t
s_durable_load (cabi_broker_t *self, cab_error_t *error)
{
    const char *dir = self->config->data_dir ? self->config->data_dir : ".";
    size_t size = strlen (dir) + sizeof "/subscriptions.json";
    self->durable_path = (char *)malloc (size);
    if (!self->durable_path)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    snprintf (self->durable_path, size, "%s/subscriptions.json", dir);
    if (access (self->durable_path, F_OK) != 0) {
        self->durable = json_object ();
        return self->durable ? CAB_OK : cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    json_error_t json_error;
    self->durable = json_load_file (self->durable_path, JSON_REJECT_DUPLICATES, &json_error);
    if (!self->durable)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL, "%s:%d:%d: %s",
                              self->durable_path, json_error.line, json_error.column,
                              json_error.text);
    size_t count = 0;
    const char *queue_name;
    json_t *patterns;
    bool valid = json_is_object (self->durable);
    json_object_foreach (self->durable, queue_name, patterns)
    {
        valid &= cabi_proto_queue_valid (queue_name) && json_is_array (patterns);
        count += json_array_size (patterns);
    }
    if (!valid || count > CABI_DURABLE_MAX)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL,
                              "%s: not a list of durable subscriptions {\"queue\": [pattern...]}",
                              self->durable_path);
    return CAB_OK;
}

void
cabi_delivery_set_rules (cabi_broker_t *self, json_t **document_p, cab_rules_t **rules_p)
{
    json_decref (self->rules_document);
    self->rules_document = *document_p;
    *document_p = NULL;
    cab_rules_unref (&self->rules);
    self->rules = *rules_p;
    *rules_p = NULL;
    //  The subscriptions' patterns again, on the new set.
    cab_error_t error;
    cab_error_clear (&error);
    if (cabi_delivery_rebuild_rules (self, &error) != CAB_OK)
        zsys_warning ("cabruca-broker: run-time subscriptions not added to the new rules: %s",
                      error.text);
    //  Deliveries waiting whose rule is gone: dead letters now. (Those in
    //  flight finish with the old set; the others take the new one when
    //  they go out.)
    zlistx_t *gone = zlistx_new ();
    for (cabi_delivery_t *d = (cabi_delivery_t *)zhashx_first (self->deliveries); d && gone;
         d = (cabi_delivery_t *)zhashx_next (self->deliveries)) {
        cab_rules_t *rules = NULL;
        if (d->where != CABI_DELIVERY_FLIGHT &&
            !cabi_delivery_lookup (self, d->rule->name, d->target->id, &rules))
            zlistx_add_end (gone, d);
    }
    for (cabi_delivery_t *d = gone ? (cabi_delivery_t *)zlistx_first (gone) : NULL; d;
         d = (cabi_delivery_t *)zlistx_next (gone)) {
        if (d->where == CABI_DELIVERY_READY && d->target->type == CAB_TARGET_AGENT)
            cabi_queue_detach (self, d);
        else if (d->where == CABI_DELIVERY_READY && d->handle) {
            zlistx_delete (self->sender_wait, d->handle);
            d->handle = NULL;
        }
        cabi_delivery_dead (self, d, "TARGET_REJECTED", "rule removed", d->attempts);
    }
    zlistx_destroy (&gone);
    //  Rows in the store are checked by a pass.
    cabi_delivery_reload (self);
}

//  ---- Setup and status -------------------------------------------------------------

cab_status_t
cabi_delivery_setup (cabi_broker_t *self, cab_error_t *error)
{
    cab_broker_config_t *config = self->config;
    cab_rules_t *rules = NULL;
    cab_status_t status = cab_broker_config_load_rules (config, &rules, error);
    if (status != CAB_OK)
        return status;
    self->rules = rules;
    self->rules_document = config->rules_document;
    config->rules_document = NULL;
    self->match_capacity = CAB_RULES_MAX + 1000;
    self->matches = (size_t *)calloc (self->match_capacity, sizeof (size_t));
    self->deliveries = cabi_id_table ();
    self->queues = zhashx_new ();
    self->orphans = zhashx_new ();
    self->sender_wait = zlistx_new ();
    self->notices = zlistx_new ();
    self->heap_capacity = config->max_pending_in_memory;
    self->heap = (cabi_delivery_t **)calloc (self->heap_capacity, sizeof *self->heap);
    if (!self->matches || !self->deliveries || !self->queues || !self->orphans ||
        !self->sender_wait || !self->notices || !self->heap)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    zhashx_set_destructor (self->queues, cabi_queue_destroy);
    zhashx_set_destructor (self->orphans, s_rules_destroy);
    zlistx_set_destructor (self->notices, s_event_destroy);
    self->rng = (uint64_t)zclock_usecs () | 1;
    //  Durable subscriptions of an earlier run route events again.
    status = s_durable_load (self, error);
    if (status == CAB_OK && json_object_size (self->durable) > 0)
        status = cabi_delivery_rebuild_rules (self, error);
    if (status != CAB_OK)
        return status;
    self->reader = cab_store_new_readonly (config->store_path, error);
    if (!self->reader)
        return error ? error->code : CAB_ERR_STORE_UNAVAILABLE;
    self->sender = cab_sender_new ();
    if (!self->sender)
        return cab_error_set (error, CAB_ERR_INTERNAL, NULL, "cannot start the sender");
    //  Resume: the PENDING deliveries of the store.
    self->reload_at = zclock_time ();
    return CAB_OK;
}

void
cabi_delivery_teardown (cabi_broker_t *self)
{
    //  The sender first: the jobs it abandons borrow targets of our rules
    //  (and hold references to event texts, released as they go).
    cab_sender_destroy (&self->sender);
    //  Consumers and queues, then what is still held (PENDING in the store).
    zhashx_destroy (&self->queues);
    if (self->deliveries) {
        zlistx_t *all = zhashx_values (self->deliveries);
        for (cabi_delivery_t *d = all ? (cabi_delivery_t *)zlistx_first (all) : NULL; d;
             d = (cabi_delivery_t *)zlistx_next (all)) {
            cabi_delivery_release (self, d);
        }
        zlistx_destroy (&all);
    }
    zhashx_destroy (&self->deliveries);
    zlistx_destroy (&self->sender_wait);
    zlistx_destroy (&self->notices);
    zhashx_destroy (&self->orphans);
    free (self->heap);
    self->heap = NULL;
    free (self->matches);
    self->matches = NULL;
    cab_store_destroy (&self->reader);
    cab_rules_unref (&self->rules);
    json_decref (self->rules_document);
    self->rules_document = NULL;
    json_decref (self->durable);
    self->durable = NULL;
    free (self->durable_path);
    self->durable_path = NULL;
    if (self->replay) {
        zframe_destroy (&self->replay->identity);
        cab_pattern_destroy (&self->replay->pattern);
        free (self->replay->rule);
        free (self->replay);
        self->replay = NULL;
    }
}

json_t *
cabi_delivery_status (cabi_broker_t *self)
{
    int64_t pending = -1;
    cab_delivery_query_t query = {0};
    query.state = CAB_DELIVERY_PENDING;
    if (!self->reader ||
        cab_store_count_deliveries (self->reader, &query, &pending, NULL) != CAB_OK)
        pending = (int64_t)zhashx_size (self->deliveries);
    json_t *queues = json_array ();
    size_t in_flight = self->at_sender;
    for (cabi_queue_t *queue = (cabi_queue_t *)zhashx_first (self->queues); queue;
         queue = (cabi_queue_t *)zhashx_next (self->queues)) {
        in_flight += queue->unacked;
        if (json_array_size (queues) < 100)
            json_array_append_new (queues,
                                   json_pack ("{s:s,s:I,s:I,s:I}", "name", queue->name, "consumers",
                                              (json_int_t)zlistx_size (queue->consumers), "ready",
                                              (json_int_t)zlistx_size (queue->ready), "unacked",
                                              (json_int_t)queue->unacked));
    }
    return json_pack (
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "pending", (json_int_t)pending, "held",
        (json_int_t)zhashx_size (self->deliveries), "in_flight", (json_int_t)in_flight, "at_sender",
        (json_int_t)self->at_sender, "routed", (json_int_t)self->routed, "delivered",
        (json_int_t)self->delivered, "retried", (json_int_t)self->retried, "dead_lettered",
        (json_int_t)self->dead_lettered, "notices_lost", (json_int_t)self->dead_notices_lost,
        "rules", (json_int_t)(self->rules ? cab_rules_count (self->rules) : 0), "queues", queues,
        "subscriptions_refused", cabi_queue_refusals (self));
}
