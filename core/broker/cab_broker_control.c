/*  =========================================================================
    cab_broker_control - CONTROL requests: dead letters and replay

    {"op":"dlq-redrive","filter":{...}}   dead letters back to PENDING
    {"op":"dlq-purge","filter":{...}}     dead letters deleted
    {"op":"replay",...}                   archived events delivered again
    {"op":"replay-status","name":"..."}   a replay's deliveries by state
    {"op":"budget"}                       the mirror's budget report
    {"op":"mirror-status"}                the mirror's sender and outbox figures

    Redrive and purge run in the store writer between two batches (it owns
    the write connection). A replay scans the archive on the broker's
    read-only handle, a chunk per turn of the loop, matches each event
    against the rules and hands its deliveries (marked with the replay's
    name) to the writer with the next batch; it is answered once every one
    of them is committed. docs/protocol.md, "Control".
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

//  Events scanned per turn of the loop.
#define S_REPLAY_CHUNK 256
//  Most replay deliveries handed to the writer and not yet committed.
#define S_REPLAY_OUTSTANDING_MAX 20000

json_t *
cabi_control_error (cab_status_t code, const char *path, const char *format, ...)
{
    char message[CAB_ERROR_TEXT_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    json_t *reply = json_pack ("{s:b,s:i,s:s,s:s}", "ok", 0, "code", (int)code, "error",
                               cab_status_name (code), "message", message);
    if (reply && path && *path)
        json_object_set_new (reply, "path", json_string (path));
    return reply;
}

void
cabi_control_reply (cabi_broker_t *self, zframe_t *identity, json_t *reply)
{
    char *text = reply ? json_dumps (reply, JSON_COMPACT) : NULL;
    json_decref (reply);
    zmsg_t *msg = cabi_proto_new_json (
        CABI_PROTO_CONTROL_REPLY,
        text ? text : "{\"ok\":false,\"code\":1,\"error\":\"OutOfMemory\",\"message\":\"\"}");
    free (text);
    cabi_broker_send (self, identity, &msg);
}

//  A string member: absent or null is NULL; anything but a string is an error.
static bool
s_string (json_t *object, const char *key, const char **value_p)
{
    json_t *value = json_object_get (object, key);
    *value_p = json_string_value (value);
    return !value || json_is_null (value) || json_is_string (value);
}

//  Build a redrive or purge task from its filter.
static json_t *
s_dlq_task (cabi_broker_t *self, zframe_t *identity, cabi_task_kind_t kind, json_t *request)
{
    json_t *filter = json_object_get (request, "filter");
    if (filter && !json_is_null (filter) && !json_is_object (filter))
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/filter", "must be an object");
    cabi_task_t *task = (cabi_task_t *)calloc (1, sizeof *task);
    if (!task)
        return cabi_control_error (CAB_ERR_NOMEM, NULL, "out of memory");
    task->kind = kind;
    task->filter = json_is_object (filter) ? json_incref (filter) : json_object ();
    task->query.state = CAB_DELIVERY_DEAD;
    json_t *error = NULL;
    const char *keys[] = {"dlq", "rule", "target", "event_id"};
    const char **fields[] = {&task->query.dlq, &task->query.rule, &task->query.target,
                             &task->query.event_id};
    for (size_t index = 0; index < 4 && !error; index++)
        if (!s_string (task->filter, keys[index], fields[index])) {
            char path[64];
            snprintf (path, sizeof path, "/filter/%s", keys[index]);
            error = cabi_control_error (CAB_ERR_INVALID_ARGUMENT, path, "must be a string");
        }
    cab_dlq_t dlq;
    if (!error && task->query.dlq && strcmp (task->query.dlq, CAB_MIRROR_DLQ) != 0 &&
        cab_dlq_parse (task->query.dlq, &dlq) != 0)
        error = cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/filter/dlq",
                                    "must be \"standard\", \"critical\" or \"mirror\"");
    json_t *ids = json_object_get (task->filter, "ids");
    if (!error && ids && !json_is_null (ids)) {
        if (!json_is_array (ids) || json_array_size (ids) == 0 ||
            json_array_size (ids) > CAB_DELIVERY_IDS_MAX)
            error = cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/filter/ids",
                                        "must be an array of 1 to %d delivery ids",
                                        CAB_DELIVERY_IDS_MAX);
        size_t index;
        json_t *id;
        json_array_foreach (ids, index, id)
        {
            if (error)
                break;
            if (!json_is_integer (id) || json_integer_value (id) < 1) {
                char path[64];
                snprintf (path, sizeof path, "/filter/ids/%zu", index);
                error =
                    cabi_control_error (CAB_ERR_INVALID_ARGUMENT, path, "must be a delivery id");
            } else
                task->ids[task->query.id_count++] = json_integer_value (id);
        }
        task->query.ids = task->ids;
    }
    if (!error) {
        task->identity = zframe_dup (identity);
        if (!task->identity || cabi_writer_send_task (self->writer, task) != 0)
            error = cabi_control_error (CAB_ERR_INTERNAL, NULL, "the store writer does not answer");
    }
    if (error) {
        zframe_destroy (&task->identity);
        json_decref (task->filter);
        free (task);
    }
    return error;
}

void
cabi_control_task_done (cabi_broker_t *self, cabi_task_t *task)
{
    json_t *reply;
    if (task->status != CAB_OK)
        reply = cabi_control_error (task->status, task->error.path, "%s", task->error.text);
    else
        reply = json_pack ("{s:b,s:I}", "ok", 1,
                           task->kind == CABI_TASK_REDRIVE ? "redriven" : "purged",
                           (json_int_t)task->count);
    if (task->status == CAB_OK && task->kind == CABI_TASK_REDRIVE && task->count > 0)
        cabi_delivery_reload (self);  //  PENDING again: read them back
    if (task->status == CAB_OK && task->kind == CABI_TASK_REDRIVE && task->count > 0 &&
        self->mirror)
        zstr_send (self->mirror, "RESCAN");  //  Mirror dead letters are back in the outbox
    cabi_control_reply (self, task->identity, reply);
    zframe_destroy (&task->identity);
    json_decref (task->filter);
    free (task);
}

static void
s_replay_free (cabi_replay_t **replay_p)
{
    cabi_replay_t *replay = *replay_p;
    if (!replay)
        return;
    zframe_destroy (&replay->identity);
    cab_pattern_destroy (&replay->pattern);
    free (replay->rule);
    free (replay);
    *replay_p = NULL;
}

static json_t *
s_replay_status (cabi_broker_t *self, json_t *request)
{
    const char *name = json_string_value (json_object_get (request, "name"));
    if (!name || !cabi_proto_queue_valid (name))
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/name",
                                   "must be a replay name (1-64 of [A-Za-z0-9._-])");
    int64_t counts[3] = {0, 0, 0};
    for (int state = 0; state < 3; state++) {
        cab_delivery_query_t query = {0};
        query.state = state;
        query.replay = name;
        cab_error_t error;
        cab_error_clear (&error);
        if (cab_store_count_deliveries (self->reader, &query, &counts[state], &error) != CAB_OK)
            return cabi_control_error (error.code, NULL, "%s", error.text);
    }
    bool running = self->replay && strcmp (self->replay->name, name) == 0;
    if (!running && counts[0] + counts[1] + counts[2] == 0)
        return cabi_control_error (CAB_ERR_NOT_FOUND, "/name", "no replay called '%s'", name);
    json_t *reply = json_pack ("{s:b,s:s,s:I,s:I,s:I,s:b}", "ok", 1, "replay", name, "pending",
                               (json_int_t)counts[0], "done", (json_int_t)counts[1], "dead",
                               (json_int_t)counts[2], "running", running);
    if (reply && running) {
        json_object_set_new (reply, "events", json_integer (self->replay->events));
        json_object_set_new (reply, "deliveries", json_integer (self->replay->deliveries));
    }
    return reply;
}

//  Start a replay; NULL when started (answered when done), else the refusal.
static json_t *
s_replay (cabi_broker_t *self, zframe_t *identity, json_t *request)
{
    const char *name = json_string_value (json_object_get (request, "name"));
    json_t *from = json_object_get (request, "from_ms");
    json_t *to = json_object_get (request, "to_ms");
    const char *rule = NULL, *speed = NULL;
    json_t *pattern = json_object_get (request, "pattern");
    if (!name || !cabi_proto_queue_valid (name))
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/name",
                                   "must be a replay name (1-64 of [A-Za-z0-9._-])");
    if (!json_is_integer (from) || json_integer_value (from) < 1)
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/from_ms",
                                   "must be a time in ms since the epoch");
    if (!json_is_integer (to) || json_integer_value (to) < json_integer_value (from))
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/to_ms",
                                   "must be a time in ms, not before from_ms");
    if (!s_string (request, "rule", &rule))
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/rule", "must be a rule name");
    if (!s_string (request, "speed", &speed) ||
        (speed && strcmp (speed, "max") != 0 && strcmp (speed, "original") != 0))
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/speed",
                                   "must be \"max\" or \"original\"");
    if (rule && !cab_rules_find (self->rules, rule))
        return cabi_control_error (CAB_ERR_NOT_FOUND, "/rule", "no rule called '%s'", rule);
    if (self->replay)
        return cabi_control_error (CAB_ERR_BUSY, NULL, "replay '%s' is running",
                                   self->replay->name);
    cab_delivery_query_t query = {0};
    query.state = -1;
    query.replay = name;
    int64_t existing = 0;
    cab_error_t error;
    cab_error_clear (&error);
    if (cab_store_count_deliveries (self->reader, &query, &existing, &error) != CAB_OK)
        return cabi_control_error (error.code, NULL, "%s", error.text);
    if (existing > 0)
        return cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/name",
                                   "replay '%s' exists already (%" PRId64 " deliveries)", name,
                                   existing);
    cabi_replay_t *replay = (cabi_replay_t *)calloc (1, sizeof *replay);
    if (!replay)
        return cabi_control_error (CAB_ERR_NOMEM, NULL, "out of memory");
    snprintf (replay->name, sizeof replay->name, "%s", name);
    replay->from_ms = json_integer_value (from);
    replay->to_ms = json_integer_value (to);
    replay->original = speed && strcmp (speed, "original") == 0;
    replay->rule = rule ? strdup (rule) : NULL;
    replay->identity = zframe_dup (identity);
    replay->start_ms = zclock_time ();
    replay->cursor_ms = replay->from_ms;
    if (pattern && !json_is_null (pattern)) {
        replay->pattern = cab_pattern_new_from_json (pattern, &error);
        if (!replay->pattern) {
            char path[CAB_ERROR_PATH_MAX + 16];
            snprintf (path, sizeof path, "/pattern%s", error.path);
            s_replay_free (&replay);
            return cabi_control_error (CAB_ERR_INVALID_PATTERN, path, "%s", error.text);
        }
    }
    if ((rule && !replay->rule) || !replay->identity) {
        s_replay_free (&replay);
        return cabi_control_error (CAB_ERR_NOMEM, NULL, "out of memory");
    }
    self->replay = replay;
    zsys_info ("cabruca-broker: replay '%s' of %" PRId64 "..%" PRId64 " started", name,
               replay->from_ms, replay->to_ms);
    return NULL;
}

//  One archived event of the replay: its deliveries into the filling batch.
static int
s_replay_event (const cab_store_record_t *record, void *arg)
{
    cabi_broker_t *self = (cabi_broker_t *)arg;
    cabi_replay_t *replay = self->replay;
    replay->cursor_ms = record->time_ms;
    replay->cursor_seq = record->seq;
    cab_error_t error;
    cab_error_clear (&error);
    bool matched = true;
    if (replay->pattern && (cab_pattern_match (replay->pattern, record->text, record->length,
                                               &matched, &error) != CAB_OK ||
                            !matched))
        return 0;
    size_t count = 0;
    if (cab_rules_match (self->rules, record->text, record->length, self->matches,
                         self->match_capacity, &count, &error) != CAB_OK ||
        count == 0)
        return 0;
    if (count > self->match_capacity)
        count = self->match_capacity;
    cabi_text_t *text = NULL;
    size_t routes = 0;
    for (size_t index = 0; index < count; index++) {
        const cab_rule_t *rule = cab_rules_get (self->rules, self->matches[index]);
        if (!rule || (replay->rule && strcmp (rule->name, replay->rule) != 0) ||
            (!replay->rule && cab_rules_is_subscription (rule->name)))
            continue;
        if (!text && !(text = cabi_text_new (record->text, record->length, 0)))
            break;
        text->ingest_ms = record->received_ms;
        for (size_t target = 0; target < rule->target_count; target++) {
            cab_store_route_t *route = cabi_routes_add (&self->accum->routes, self->rules,
                                                        self->matches[index], target, text);
            if (!route)
                break;
            route->rule = rule->name;
            route->target = rule->targets[target].id;
            route->replay = replay->name;
            route->seq = record->seq;
            route->next_ms =
                replay->original ? replay->start_ms + (record->time_ms - replay->from_ms) : 0;
            routes++;
        }
    }
    cabi_text_unref (&text);
    if (routes) {
        replay->events++;
        replay->deliveries += (int64_t)routes;
        replay->outstanding += routes;
    }
    return 0;
}

static void
s_replay_finish (cabi_broker_t *self)
{
    cabi_replay_t *replay = self->replay;
    json_t *reply;
    if (replay->status != CAB_OK)
        reply = cabi_control_error (replay->status, NULL, "replay '%s' stopped: %s", replay->name,
                                    replay->error.text);
    else
        reply =
            json_pack ("{s:b,s:s,s:I,s:I}", "ok", 1, "replay", replay->name, "events",
                       (json_int_t)replay->events, "deliveries", (json_int_t)replay->deliveries);
    zsys_info ("cabruca-broker: replay '%s': %" PRId64 " events, %" PRId64 " deliveries",
               replay->name, replay->events, replay->deliveries);
    cabi_control_reply (self, replay->identity, reply);
    s_replay_free (&self->replay);
}

void
cabi_control_replay_step (cabi_broker_t *self)
{
    cabi_replay_t *replay = self->replay;
    if (replay->scanned || replay->outstanding >= S_REPLAY_OUTSTANDING_MAX)
        return;
    //  First the events at the cursor's time after the cursor's seq, then
    //  the later ones: (time, seq) order, whatever the ties.
    cab_store_query_t query = {0};
    query.from_ms = replay->cursor_ms;
    query.to_ms = replay->cursor_ms;
    query.from_seq = replay->cursor_seq + 1;
    query.limit = S_REPLAY_CHUNK;
    int64_t before_ms = replay->cursor_ms, before_seq = replay->cursor_seq;
    cab_status_t status =
        cab_store_scan (self->reader, &query, s_replay_event, self, &replay->error);
    bool moved = replay->cursor_seq != before_seq || replay->cursor_ms != before_ms;
    if (status == CAB_OK && !moved && replay->cursor_ms < replay->to_ms) {
        cab_store_query_t later = {0};
        later.from_ms = replay->cursor_ms + 1;
        later.to_ms = replay->to_ms;
        later.limit = S_REPLAY_CHUNK;
        status = cab_store_scan (self->reader, &later, s_replay_event, self, &replay->error);
        moved = replay->cursor_seq != before_seq || replay->cursor_ms != before_ms;
    }
    if (status != CAB_OK) {
        replay->status = status;
        replay->scanned = true;
    } else if (!moved)
        replay->scanned = true;
    if (replay->scanned && replay->outstanding == 0)
        s_replay_finish (self);
}

void
cabi_control_replay_committed (cabi_broker_t *self, size_t count, cab_status_t status)
{
    cabi_replay_t *replay = self->replay;
    if (!replay)
        return;
    replay->outstanding = replay->outstanding > count ? replay->outstanding - count : 0;
    if (status != CAB_OK && replay->status == CAB_OK) {
        replay->status = status;
        cab_error_set (&replay->error, status, NULL, "the store could not commit");
        replay->scanned = true;
    }
    if (replay->scanned && replay->outstanding == 0)
        s_replay_finish (self);
}

void
cabi_control (cabi_broker_t *self, zframe_t *identity, cabi_proto_t *msg)
{
    json_error_t json_error;
    json_t *request = json_loadb (msg->body, msg->body_size, 0, &json_error);
    const char *op = json_string_value (json_object_get (request, "op"));
    json_t *reply = NULL;
    if (!json_is_object (request))
        reply = cabi_control_error (CAB_ERR_INVALID_JSON, NULL, "not a JSON object: %s",
                                    request ? "" : json_error.text);
    else if (!op)
        reply = cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/op", "missing \"op\"");
    else if (strcmp (op, "dlq-redrive") == 0)
        reply = s_dlq_task (self, identity, CABI_TASK_REDRIVE, request);
    else if (strcmp (op, "dlq-purge") == 0)
        reply = s_dlq_task (self, identity, CABI_TASK_PURGE, request);
    else if (strcmp (op, "replay") == 0)
        reply = s_replay (self, identity, request);
    else if (strcmp (op, "replay-status") == 0)
        reply = s_replay_status (self, request);
    else if (strcmp (op, "budget") == 0)
        reply = cabi_mirror_control_budget (self);
    else if (strcmp (op, "mirror-status") == 0)
        reply = cabi_mirror_control_status (self);
    else
        reply = cabi_control_error (CAB_ERR_INVALID_ARGUMENT, "/op",
                                    "unknown op '%s' (dlq-redrive, dlq-purge, replay, "
                                    "replay-status, budget, mirror-status)",
                                    op);
    json_decref (request);
    if (reply)
        cabi_control_reply (self, identity, reply);
}
