/*  =========================================================================
    cab_broker_validate - one event's checks, and the validator actors that
    run them in parallel

    The checks of an event (after the codec's size check): parse and
    envelope (cab_event_load), the session's agent id, the allow-list, the
    schema (cab_registry_validate), the time. Parsing and validation are
    most of the broker's work per event, so with limits.validators > 0 the
    broker thread hands chunks of events to that many validator actors (each
    with its own schema registry) and appends their results to the store
    batch in the order it received them; with 0 it validates inline.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

bool
cabi_sources_allow (const char *list, const char *source)
{
    if (!list || !source)
        return false;
    size_t length = strlen (source);
    const char *item = list;
    while (*item) {
        while (*item == ' ' || *item == ',')
            item++;
        const char *end = item;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > item && last[-1] == ' ')
            last--;
        size_t size = (size_t)(last - item);
        if ((size == 1 && *item == '*') ||
            (size == length && size && memcmp (item, source, size) == 0))
            return true;
        item = end;
    }
    return false;
}

cab_event_t *
cabi_validate_event (const cab_broker_config_t *config, cab_registry_t *registry,
                     const char *session_agent, const char *cert_sources, const char *text,
                     size_t size, int64_t *time_ms, cab_error_t *error)
{
    cab_event_t *event = cab_event_load (text, size, error);
    if (!event)
        return NULL;
    const char *agent_id = cab_event_agent_id (event);
    const char *source = cab_event_source (event);
    cab_status_t status = CAB_OK;
    if (!agent_id || strcmp (agent_id, session_agent) != 0)
        status = cab_error_set (error, CAB_ERR_ACCESS_DENIED, "/detail/agent_id",
                                "the event's agent_id '%s' is not this session's agent '%s'",
                                agent_id ? agent_id : "", session_agent);
    else if (cert_sources ? !cabi_sources_allow (cert_sources, source)
                          : !cab_broker_config_allows (config, agent_id, source))
        status = cab_error_set (error, CAB_ERR_ACCESS_DENIED, "/source",
                                "agent '%s' may not publish source '%s'%s", agent_id, source,
                                cert_sources ? " (its certificate's sources)" : "");
    else if (registry)
        status = cab_registry_validate (registry, event, error);
    if (status == CAB_OK && cab_time_parse (cab_event_time (event), time_ms) != CAB_OK)
        status =
            cab_error_set (error, CAB_ERR_INVALID_ENVELOPE, "/time", "not an ISO 8601 UTC time");
    if (status != CAB_OK)
        cab_event_destroy (&event);
    return event;
}

cabi_chunk_t *
cabi_chunk_new (void)
{
    return (cabi_chunk_t *)calloc (1, sizeof (cabi_chunk_t));
}

void
cabi_chunk_destroy (cabi_chunk_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cabi_chunk_t *self = *self_p;
    for (size_t index = 0; index < self->count; index++) {
        cabi_job_t *job = &self->jobs[index];
        zframe_destroy (&job->identity);
        zmq_msg_close (&job->body_part);
        free (job->sources);
        cab_event_destroy (&job->event);
    }
    free (self);
    *self_p = NULL;
}

typedef struct {
    const cab_broker_config_t *config;
    const char *schemas_dir;
    int index;
    bool ready;  //  Set by the actor before it signals
} s_args_t;

static void
s_validator_actor (zsock_t *pipe, void *arg)
{
    s_args_t *args = (s_args_t *)arg;
    const cab_broker_config_t *config = args->config;
    char name[16];
    snprintf (name, sizeof name, "cab-valid-%d", args->index);
    pthread_setname_np (pthread_self (), name);
    cab_registry_t *registry = NULL;
    cab_error_t error;
    cab_error_clear (&error);
    if (args->schemas_dir) {
        registry = cab_registry_new ();
        if (!registry || cab_registry_load_dir (registry, args->schemas_dir, &error) != CAB_OK)
            cab_registry_destroy (&registry);
    }
    //  Our arguments are the caller's: signal only when done with them.
    args->ready = registry || !args->schemas_dir;
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        cabi_chunk_t *chunk = NULL;
        zframe_t *pointer = zmsg_next (msg);
        if (pointer && zframe_size (pointer) == sizeof chunk)
            memcpy (&chunk, zframe_data (pointer), sizeof chunk);
        bool terminate = zframe_streq (frame, "$TERM");
        zmsg_destroy (&msg);
        if (terminate)
            break;
        if (!chunk)
            continue;
        for (size_t index = 0; index < chunk->count; index++) {
            cabi_job_t *job = &chunk->jobs[index];
            cab_error_clear (&job->error);
            job->event =
                cabi_validate_event (config, registry, job->agent_id, job->sources, job->body,
                                     job->body_size, &job->time_ms, &job->error);
        }
        zsock_send (pipe, "p", chunk);
    }
    cab_registry_destroy (&registry);
}

zactor_t *
cabi_validator_new (const cab_broker_config_t *config, int index)
{
    s_args_t args = {config, config->schemas_dir, index, false};
    zactor_t *actor = zactor_new (s_validator_actor, &args);
    //  zactor_new waited for the signal: the actor no longer needs args.
    if (actor && !args.ready)
        zactor_destroy (&actor);
    return actor;
}

int
cabi_validator_send (zactor_t *validator, cabi_chunk_t *chunk)
{
    return zsock_send (validator, "sp", "CHUNK", chunk);
}

cabi_chunk_t *
cabi_validator_recv (zactor_t *validator)
{
    void *pointer = NULL;
    if (zsock_recv (validator, "p", &pointer) != 0)
        return NULL;
    return (cabi_chunk_t *)pointer;
}
