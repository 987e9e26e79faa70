/*  =========================================================================
    cabruca-tester - runs the tests of approved changes, publishes results

    Consumes Code Change events from its queue (the default rule
    "approved-code-change-cicd" routes APPROVED changes to "cicd"). For each:
    checks the commit out in a temporary git worktree, runs the change's
    test_command (or the configured default) with a timeout, its output
    copied to a log file kept as an artifact, reads the results (results.c:
    Check, TAP, the automake harness, "N passed, M failed", JUnit XML files)
    and publishes Test Results caused by the Code Change. The delivery is
    acknowledged only once the broker has acknowledged the Test Results
    event; the test runs in the background meanwhile, so the agent keeps its
    session (heartbeats) whatever the test's length.
    =========================================================================
*/
#include "../common/agent_util.h"
#include "results.h"
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAX_JOBS   16
#define S_OUTPUT_MAX (1024 * 1024)
//  Most bytes of one JUnit report read.
#define S_JUNIT_MAX (8 * 1024 * 1024)

typedef struct {
    bool active;
    uint64_t delivery;
    cab_event_t *change;  //  The Code Change (a copy)
    char worktree[4200];
    char log_path[4200];
    char repository[1100];
    run_t run;
    long long started_ms;
    bool failed_to_start;
    char start_error[512];
} job_t;

typedef struct {
    const char *queue;
    const char *work_dir;
    const char *artifacts_dir;
    const char *default_command;
    const char *junit_glob;
    long long timeout_ms;
    cab_test_type_t test_type;
    size_t max_parallel;
    job_t jobs[S_MAX_JOBS];
} tester_t;

static const char *s_usage =
    "The \"tester\" section: {\"queue\": \"cicd\", \"work_dir\": \"/tmp/cabruca-tester\",\n"
    "  \"artifacts_dir\": \"tester-runs\", \"timeout_s\": 600, \"test_type\": \"UNIT\",\n"
    "  \"default_command\": \"make check\", \"junit_glob\": \"test-results/*.xml\",\n"
    "  \"max_parallel\": 1}\n";

static const char *
s_detail (cab_event_t *event, const char *name)
{
    return json_string_value (
        json_object_get (json_object_get (cab_event_json (event), "detail"), name));
}

//  Read at most max bytes of a file, NUL-terminated (new), or NULL.
static char *
s_read_file (const char *path, size_t max)
{
    FILE *file = fopen (path, "rb");
    char *text = file ? (char *)malloc (max + 1) : NULL;
    size_t size = text ? fread (text, 1, max, file) : 0;
    if (file)
        fclose (file);
    if (text)
        text[size] = '\0';
    return text;
}

//  Publish the job's Test Results and settle its delivery.
static void
s_finish (cab_agent_t *agent, tester_t *self, job_t *job)
{
    results_t *results = (results_t *)calloc (1, sizeof *results);
    cab_test_status_t status = CAB_TEST_STATUS_ERROR;
    long long duration = mono_ms () - job->started_ms;
    if (results && !job->failed_to_start && !job->run.timed_out) {
        results_parse (results, job->run.output ? job->run.output : "", job->run.output_size);
        glob_t found = {0};
        char pattern[4400];
        if (self->junit_glob &&
            snprintf (pattern, sizeof pattern, "%s/%s", job->worktree, self->junit_glob) <
                (int)sizeof pattern &&
            glob (pattern, 0, NULL, &found) == 0)
            for (size_t index = 0; index < found.gl_pathc && index < 64; index++) {
                char *xml = s_read_file (found.gl_pathv[index], S_JUNIT_MAX);
                if (xml)
                    results_add_junit (results, xml);
                free (xml);
            }
        globfree (&found);
        status = job->run.exit_status == 0 && results->failed == 0 ? CAB_TEST_STATUS_PASSED
                                                                   : CAB_TEST_STATUS_FAILED;
    }
    cab_error_t error = {0};
    cab_event_t *event =
        cab_test_results_new (cab_agent_id (agent), self->test_type, status, duration, &error);
    if (event) {
        cab_event_set_cause (event, job->change);
        cab_test_results_set_repository (event, job->repository, &error);
        const char *commit = s_detail (job->change, "commit");
        if (commit)
            cab_test_results_set_commit (event, commit, &error);
        cab_test_results_set_code_change_id (event, cab_event_id (job->change), &error);
        if (results && results->found) {
            cab_test_results_set_counts_total (event, results->total, &error);
            cab_test_results_set_counts_passed (event, results->passed, &error);
            cab_test_results_set_counts_failed (event, results->failed, &error);
            cab_test_results_set_counts_skipped (event, results->skipped, &error);
        }
        for (size_t index = 0; results && index < results->failure_count; index++) {
            failure_t *failure = &results->failures[index];
            cab_test_results_add_failed_test (event, failure->name,
                                              *failure->message ? failure->message : NULL,
                                              *failure->file ? failure->file : NULL, &error);
        }
        if (status == CAB_TEST_STATUS_FAILED && results && results->failure_count == 0 &&
            job->run.exit_status != 0) {
            char message[64];
            snprintf (message, sizeof message, "exit status %d", job->run.exit_status);
            cab_test_results_add_failed_test (event, "test command", message, NULL, &error);
        }
        if (job->failed_to_start || job->run.timed_out)
            cab_test_results_add_failed_test (event, "test run",
                                              job->failed_to_start ? job->start_error : "timed out",
                                              NULL, &error);
        cab_test_results_add_artifact (event, job->log_path, &error);
    }
    //  Publish and wait for the broker's ACK, then acknowledge the delivery.
    uint64_t seq = 0;
    cab_status_t published =
        event && error.code == CAB_OK
            ? cab_client_publish_wait (cab_agent_client (agent), &event, 30000, &seq, &error)
            : CAB_ERR_INTERNAL;
    cab_event_destroy (&event);
    cab_agent_log (
        agent, published == CAB_OK ? CAB_LOG_INFO : CAB_LOG_ERROR,
        "%.12s in %s: %s in %lld ms (%ld failed)%s%s",
        s_detail (job->change, "commit") ? s_detail (job->change, "commit") : "?", job->repository,
        cab_test_status_name (status), duration, results ? results->failed : 0,
        published == CAB_OK ? "" : "; not published: ", published == CAB_OK ? "" : error.text);
    cab_agent_settle (agent, job->delivery, published == CAB_OK, NULL);
    free (results);
    //  The worktree goes; the log stays as the artifact.
    char *remove[] = {"git",    "-C",      job->repository, "worktree",
                      "remove", "--force", job->worktree,   NULL};
    run_wait (remove, NULL, NULL, 4096, 60000);
    run_release (&job->run);
    cab_event_destroy (&job->change);
    job->active = false;
}

static int
s_check_jobs (cab_agent_t *agent, void *arg)
{
    tester_t *self = (tester_t *)arg;
    for (size_t index = 0; index < S_MAX_JOBS; index++) {
        job_t *job = &self->jobs[index];
        if (job->active && (job->failed_to_start || run_poll (&job->run)))
            s_finish (agent, self, job);
    }
    return 0;
}

static int
s_on_change (cab_agent_t *agent, cab_event_t *event, const cab_client_delivery_t *delivery,
             void *arg)
{
    tester_t *self = (tester_t *)arg;
    const char *type = event ? cab_event_detail_type (event) : NULL;
    if (!type || strcmp (type, "Code Change") != 0) {
        cab_agent_log (agent, CAB_LOG_WARNING, "delivery %llu is not a Code Change: dropped",
                       (unsigned long long)delivery->delivery);
        return 0;
    }
    job_t *job = NULL;
    size_t running = 0;
    for (size_t index = 0; index < S_MAX_JOBS; index++) {
        if (self->jobs[index].active) {
            running++;
            if (self->jobs[index].delivery == delivery->delivery)
                return CAB_AGENT_LATER;  //  A redelivery of a job in progress
        } else if (!job)
            job = &self->jobs[index];
    }
    if (!job || running >= self->max_parallel)
        return -1;  //  Busy: the broker delivers it again later
    memset (job, 0, sizeof *job);
    job->active = true;
    job->delivery = delivery->delivery;
    job->change = cab_event_load (delivery->text, delivery->size, NULL);
    job->started_ms = mono_ms ();
    const char *repository = s_detail (event, "repository");
    const char *commit = s_detail (event, "commit");
    const char *command = s_detail (event, "test_command");
    if (!command)
        command = self->default_command;
    snprintf (job->repository, sizeof job->repository, "%s", repository ? repository : "");
    snprintf (job->worktree, sizeof job->worktree, "%s/run-%llu", self->work_dir,
              (unsigned long long)delivery->delivery);
    snprintf (job->log_path, sizeof job->log_path, "%s/%s.log", self->artifacts_dir,
              cab_event_id (event));
    if (!job->change || !repository || !commit || !command) {
        job->failed_to_start = true;
        snprintf (job->start_error, sizeof job->start_error, "%s",
                  !command ? "no test_command in the change and no default_command"
                           : "the change names no repository or commit");
        return CAB_AGENT_LATER;
    }
    char *worktree[] = {"git",      "-C",          (char *)repository, "worktree", "add",
                        "--detach", job->worktree, (char *)commit,     NULL};
    char *output = NULL;
    if (run_wait (worktree, NULL, &output, 4096, 120000) != 0) {
        job->failed_to_start = true;
        snprintf (job->start_error, sizeof job->start_error, "checkout failed: %.400s",
                  output ? output : "");
    } else {
        char *shell[] = {"sh", "-c", (char *)command, NULL};
        if (run_start (&job->run, shell, job->worktree, job->log_path, S_OUTPUT_MAX,
                       self->timeout_ms) != 0) {
            job->failed_to_start = true;
            snprintf (job->start_error, sizeof job->start_error, "cannot run the tests");
        } else
            cab_agent_log (agent, CAB_LOG_INFO, "testing %.12s of %s: %s", commit, repository,
                           command);
    }
    free (output);
    return CAB_AGENT_LATER;
}

static const char *
s_config_string (json_t *config, const char *name, const char *fallback)
{
    json_t *value = json_object_get (config, name);
    return json_is_string (value) ? json_string_value (value) : fallback;
}

int
main (int argc, char **argv)
{
    cab_agent_args_t args;
    int rc = cab_agent_parse_args (argc, argv, "tester", s_usage, &args);
    if (rc >= 0)
        return rc;
    static tester_t self;
    self.queue = s_config_string (args.config, "queue", "cicd");
    self.work_dir = s_config_string (args.config, "work_dir", "/tmp/cabruca-tester");
    self.artifacts_dir = s_config_string (args.config, "artifacts_dir", "tester-runs");
    self.default_command = s_config_string (args.config, "default_command", NULL);
    self.junit_glob = s_config_string (args.config, "junit_glob", NULL);
    json_t *timeout = json_object_get (args.config, "timeout_s");
    json_int_t timeout_s = timeout ? json_integer_value (timeout) : 600;
    json_t *parallel = json_object_get (args.config, "max_parallel");
    json_int_t max_parallel = parallel ? json_integer_value (parallel) : 1;
    cab_test_type_t test_type = CAB_TEST_TYPE_UNIT;
    json_t *type = json_object_get (args.config, "test_type");
    if (timeout_s < 1 || timeout_s > 86400 || max_parallel < 1 || max_parallel > S_MAX_JOBS ||
        (type && cab_test_type_parse (json_string_value (type), &test_type) != CAB_OK)) {
        fprintf (stderr, "cabruca-tester: /tester: timeout_s must be 1..86400, max_parallel "
                         "1..16, test_type one of the schema's\n");
        cab_agent_args_release (&args);
        return 2;
    }
    self.timeout_ms = (long long)timeout_s * 1000;
    self.max_parallel = (size_t)max_parallel;
    self.test_type = test_type;
    mkdir (self.work_dir, 0700);
    mkdir (self.artifacts_dir, 0755);
    cab_error_t error = {0};
    cab_agent_t *agent = cab_agent_new_from_args (&args, &error);
    json_t *options = json_pack ("{s:I, s:I}", "max_in_flight", (json_int_t)self.max_parallel,
                                 "ack_timeout_ms", (json_int_t)(self.timeout_ms + 120000));
    if (!agent ||
        cab_agent_subscribe (agent, self.queue, options, s_on_change, &self, &error) != CAB_OK) {
        fprintf (stderr, "cabruca-tester: %s\n", error.text);
        json_decref (options);
        cab_agent_destroy (&agent);
        cab_agent_args_release (&args);
        return 1;
    }
    json_decref (options);
    cab_agent_every (agent, 200, s_check_jobs, &self);
    cab_agent_log (agent, CAB_LOG_INFO, "testing changes from queue %s", self.queue);
    cab_status_t status = cab_agent_run (agent, 5000);
    //  Runs still going are stopped; their deliveries were not acknowledged
    //  and come back to the next tester.
    for (size_t index = 0; index < S_MAX_JOBS; index++)
        if (self.jobs[index].active) {
            run_release (&self.jobs[index].run);
            cab_event_destroy (&self.jobs[index].change);
        }
    cab_agent_destroy (&agent);
    cab_agent_args_release (&args);
    return status == CAB_OK ? 0 : 1;
}
