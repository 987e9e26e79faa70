/*  =========================================================================
    example - a complete small cabruca agent (docs/writing-an-agent.md)

    It watches for serious disk problems and asks the product team for a
    fix: every HIGH or CRITICAL "disk_full" Issue Detection becomes a
    Feature Request, caused by the issue (same correlation id, causation_id
    = the issue's id). Once a minute it logs how many it has filed.

    Build it like any program outside the cabruca tree:
        cc -o example example.c $(pkg-config --cflags --libs libcabruca)
    Run it:
        ./example --broker ipc:///tmp/cabruca-broker.ipc --agent-id example-001
    =========================================================================
*/
#include <cabruca.h>
#include <stdio.h>

typedef struct {
    int filed;
} example_t;

//  A delivery: return 0 to acknowledge it, non-zero to get it again later.
static int
s_on_issue (cab_agent_t *agent, cab_event_t *issue, const cab_client_delivery_t *delivery,
            void *arg)
{
    example_t *self = (example_t *)arg;
    if (!issue)
        return 0;  //  Not an event (a transformed payload): nothing to do
    json_t *detail = json_object_get (cab_event_json (issue), "detail");
    const char *where =
        json_string_value (json_array_get (json_object_get (detail, "affected_resources"), 0));
    char title[200];
    snprintf (title, sizeof title, "Free space on %.150s", where ? where : "the host");
    cab_error_t error;
    cab_event_t *request = cab_feature_request_new (
        cab_agent_id (agent), CAB_PRIORITY_HIGH, CAB_FEATURE_TYPE_RELIABILITY, title,
        json_string_value (json_object_get (detail, "description")), &error);
    if (!request) {
        cab_agent_log (agent, CAB_LOG_ERROR, "cannot build the request: %s", error.text);
        return 0;  //  Retrying would not help
    }
    cab_feature_request_add_related_event (request, cab_event_id (issue), NULL);
    //  Published while handling the issue: the agent records the cause.
    if (cab_agent_publish (agent, &request, 0, &error) != CAB_OK) {
        cab_agent_log (agent, CAB_LOG_WARNING, "not now (%s): deliver it again", error.text);
        return -1;
    }
    self->filed++;
    cab_agent_log (agent, CAB_LOG_INFO, "asked for a fix of %s (attempt %d)", cab_event_id (issue),
                   delivery->attempt);
    return 0;
}

static int
s_report (cab_agent_t *agent, void *arg)
{
    cab_agent_log (agent, CAB_LOG_INFO, "%d requests filed so far", ((example_t *)arg)->filed);
    return 0;
}

int
main (int argc, char **argv)
{
    cab_agent_args_t args;
    int rc = cab_agent_parse_args (argc, argv, "example", NULL, &args);
    if (rc >= 0)
        return rc;  //  --help, or a usage error already explained
    cab_error_t error;
    cab_agent_t *agent = cab_agent_new_from_args (&args, &error);
    if (!agent) {
        fprintf (stderr, "example: %s\n", error.text);
        cab_agent_args_release (&args);
        return 1;
    }
    //  Our own queue, fed by a pattern the broker matches for us.
    example_t self = {0};
    json_t *options =
        json_pack ("{s:{s:[s], s:{s:[s, s], s:[s]}}}", "pattern", "detail-type", "Issue Detection",
                   "detail", "severity", "HIGH", "CRITICAL", "issue_type", "disk_full");
    if (cab_agent_subscribe (agent, "example-disk", options, s_on_issue, &self, &error) != CAB_OK)
        fprintf (stderr, "example: %s\n", error.text);
    json_decref (options);
    cab_agent_every (agent, 60000, s_report, &self);
    cab_status_t status = cab_agent_run (agent, 5000);  //  Until SIGTERM or SIGINT
    cab_agent_destroy (&agent);
    cab_agent_args_release (&args);
    return status == CAB_OK ? 0 : 1;
}
