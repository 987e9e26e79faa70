//  The "Typed events" example of docs/writing-an-agent.md, which quotes
//  this file whole (tests/meta/docs-examples.sh checks that it does).
//  make check builds it against libcabruca and runs it.
#include <cabruca.h>
#include <stdio.h>

//  A monitor's finding, with some of its optional fields.
static cab_event_t *
s_disk_full (cab_error_t *error)
{
    cab_event_t *issue = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_HIGH, "disk_full",
                                                  "/var is 97% full", error);
    if (issue && (cab_issue_detection_add_affected_resource (issue, "/var", error) ||
                  cab_issue_detection_set_metric (issue, "disk_used_percent", 97.2, error) ||
                  cab_issue_detection_add_suggested_action (issue, "rotate the logs", error)))
        cab_event_destroy (&issue);
    return issue;
}

//  What a product agent's handler makes of a received issue: a Feature
//  Request that continues the issue's chain.
static cab_event_t *
s_request_for (cab_event_t *issue, cab_error_t *error)
{
    //  Enum fields of a received event read back as enums.
    cab_severity_t severity;
    if (cab_issue_detection_severity (issue, &severity) != CAB_OK)
        return NULL;
    cab_priority_t priority =
        severity >= CAB_SEVERITY_HIGH ? CAB_PRIORITY_HIGH : CAB_PRIORITY_MEDIUM;

    cab_event_t *request = cab_feature_request_new (
        "product-001", priority, CAB_FEATURE_TYPE_RELIABILITY, "Rotate logs before /var fills",
        "disk_full keeps coming back on /var", error);
    if (!request)
        return NULL;
    //  Same correlation id as the issue; causation_id = the issue's id.
    if (cab_event_set_cause (request, issue) ||
        cab_feature_request_add_related_event (request, cab_event_id (issue), error) ||
        cab_feature_request_set_estimated_impact (request, CAB_IMPACT_LEVEL_MEDIUM, error) ||
        cab_feature_request_set_estimated_impact_effort_days (request, 0.5, error))
        cab_event_destroy (&request);
    return request;
}

int
main (void)
{
    cab_error_t error = {0};
    cab_event_t *issue = s_disk_full (&error);
    cab_event_t *request = issue ? s_request_for (issue, &error) : NULL;
    if (!request) {
        fprintf (stderr, "%s at %s: %s\n", cab_status_name (error.code), error.path, error.text);
        cab_event_destroy (&issue);
        return 1;
    }
    printf ("%s\n%s\n", cab_event_text (issue, NULL), cab_event_text (request, NULL));

    //  A value the schema does not allow is refused, and the error says where.
    cab_event_t *bad = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_LOW, "Disk Full!",
                                                "/var is full", &error);
    printf ("%s at %s: %s\n", cab_status_name (error.code), error.path, error.text);
    int status = !bad && error.code == CAB_ERR_SCHEMA_VIOLATION ? 0 : 1;

    cab_event_destroy (&bad);
    cab_event_destroy (&request);
    cab_event_destroy (&issue);
    return status;
}
