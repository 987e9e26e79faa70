/*  =========================================================================
    cabruca-developer - watches git repositories, publishes Code Change events

    Every interval, for each configured repository and branch (names or
    fnmatch globs), the commits new since the last one seen become Code
    Change events, oldest first: repository, branch, commit, author, title,
    files changed, change_type from the Conventional Commits prefix, status
    by branch policy (MERGED on a main branch, APPROVED when the commit
    carries the approval trailer, PROPOSED otherwise), the repository's test
    command, and a link to the feature request named by a trailer
    ("Feature-Request: <event id>" becomes the event's causation_id). The
    last commit seen per branch is saved (atomically) only after the events
    are acknowledged, so a restart neither skips nor repeats work. A branch
    seen for the first time is remembered without publishing its history.
    =========================================================================
*/
#include "../common/agent_util.h"
#include <fnmatch.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Most commits published per branch per interval; the rest come next time.
#define S_MAX_COMMITS    100
#define S_GIT_TIMEOUT_MS 30000
#define S_GIT_OUTPUT     (4 * 1024 * 1024)

typedef struct {
    json_t *repositories;  //  Borrowed from the config
    json_t *state;         //  {"repo\tbranch": "sha"}
    const char *state_path;
    const char *approval_trailer;
    const char *feature_trailer;
} developer_t;

static const char *s_usage =
    "The \"developer\" section: {\"interval_ms\": 5000, \"state_file\": "
    "\"developer-state.json\",\n"
    "  \"approval_trailer\": \"Approved-by\", \"feature_trailer\": \"Feature-Request\",\n"
    "  \"repositories\": [{\"path\": \"/srv/git/app\", \"branches\": [\"main\", \"feature/*\"],\n"
    "                    \"main_branches\": [\"main\"], \"test_command\": \"make check\"}]}\n";

//  The change type of a commit title by its Conventional Commits prefix.
static cab_change_type_t
s_change_type (const char *title)
{
    static const struct {
        const char *prefix;
        cab_change_type_t type;
    } prefixes[] = {
        {"feat", CAB_CHANGE_TYPE_FEATURE},       {"fix", CAB_CHANGE_TYPE_BUG_FIX},
        {"refactor", CAB_CHANGE_TYPE_REFACTOR},  {"perf", CAB_CHANGE_TYPE_PERFORMANCE},
        {"docs", CAB_CHANGE_TYPE_DOCUMENTATION}, {"test", CAB_CHANGE_TYPE_TEST},
        {"build", CAB_CHANGE_TYPE_DEPENDENCY},   {"deps", CAB_CHANGE_TYPE_DEPENDENCY},
        {"ci", CAB_CHANGE_TYPE_CONFIGURATION},   {"chore", CAB_CHANGE_TYPE_CONFIGURATION},
        {"revert", CAB_CHANGE_TYPE_REVERT}};
    for (size_t index = 0; index < sizeof prefixes / sizeof prefixes[0]; index++) {
        size_t length = strlen (prefixes[index].prefix);
        const char *rest = title + length;
        if (strncasecmp (title, prefixes[index].prefix, length) != 0)
            continue;
        if (*rest == '(')  //  feat(scope): ...
            rest = strchr (rest, ')') ? strchr (rest, ')') + 1 : rest;
        if (*rest == '!')
            rest++;
        if (*rest == ':')
            return prefixes[index].type;
    }
    if (strncmp (title, "Revert \"", 8) == 0)
        return CAB_CHANGE_TYPE_REVERT;
    return CAB_CHANGE_TYPE_OTHER;
}

static bool
s_in_list (const json_t *list, const char *name, bool glob)
{
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
    {
        const char *pattern = json_string_value (item);
        if (pattern && (glob ? fnmatch (pattern, name, 0) == 0 : strcmp (pattern, name) == 0))
            return true;
    }
    return false;
}

//  The value of trailer "Name: value" in a commit message, or NULL.
static char *
s_trailer (const char *message, const char *name)
{
    size_t length = strlen (name);
    for (const char *line = message; line && *line;) {
        const char *end = strchr (line, '\n');
        if (strncasecmp (line, name, length) == 0 && line[length] == ':') {
            const char *value = line + length + 1;
            while (*value == ' ')
                value++;
            size_t size = end ? (size_t)(end - value) : strlen (value);
            return strndup (value, size);
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

//  Run git in the repository; the output (new, caller frees) or NULL.
static char *
s_git (cab_agent_t *agent, const char *repository, char **argv)
{
    char *command[32] = {"git", "-C", (char *)repository};
    size_t count = 3;
    for (; argv[count - 3] && count < 31; count++)
        command[count] = argv[count - 3];
    command[count] = NULL;
    char *output = NULL;
    int status = run_wait (command, NULL, &output, S_GIT_OUTPUT, S_GIT_TIMEOUT_MS);
    if (status != 0) {
        cab_agent_log (agent, CAB_LOG_WARNING, "git %s in %s failed (%d): %.200s", argv[0],
                       repository, status, output ? output : "");
        free (output);
        return NULL;
    }
    return output;
}

static cab_event_t *
s_code_change (cab_agent_t *agent, developer_t *self, const json_t *repository, const char *path,
               const char *branch, const char *commit)
{
    char format[] = "--format=%an <%ae>%x00%s%x00%B";
    char *show_args[] = {"show", "-s", format, (char *)commit, NULL};
    char *shown = s_git (agent, path, show_args);
    if (!shown)
        return NULL;
    const char *author = shown;
    const char *title = author + strlen (author) + 1;
    const char *body = title + strlen (title) + 1;
    char *approval = s_trailer (body, self->approval_trailer);
    char *feature = s_trailer (body, self->feature_trailer);
    cab_change_status_t status = CAB_CHANGE_STATUS_PROPOSED;
    if (s_in_list (json_object_get (repository, "main_branches"), branch, true))
        status = CAB_CHANGE_STATUS_MERGED;
    else if (approval)
        status = CAB_CHANGE_STATUS_APPROVED;
    cab_error_t error = {0};
    cab_event_t *event = cab_code_change_new (cab_agent_id (agent), path, branch, commit,
                                              s_change_type (title), status, &error);
    if (event && *title)
        cab_code_change_set_title (event, title, &error);
    if (event && *author)
        cab_code_change_set_author (event, author, &error);
    json_t *command = json_object_get (repository, "test_command");
    if (event && json_is_string (command))
        cab_code_change_set_test_command (event, json_string_value (command), &error);
    char *files_args[] = {"diff-tree",    "--root", "--no-commit-id", "--name-only", "-r",
                          (char *)commit, NULL};
    char *files = event ? s_git (agent, path, files_args) : NULL;
    size_t listed = 0;
    for (char *line = files; line && *line && listed < 5000; listed++) {
        char *end = strchr (line, '\n');
        if (end)
            *end = '\0';
        if (*line)
            cab_code_change_add_file_changed (event, line, &error);
        line = end ? end + 1 : NULL;
    }
    if (event && feature) {
        json_t *fields = json_pack ("{s:s}", "causation_id", feature);
        if (cab_uuid_valid (feature))
            cab_event_update_detail_new (event, fields);
        else {
            json_decref (fields);
            cab_agent_log (agent, CAB_LOG_WARNING, "commit %.12s: %s '%s' is not an event id",
                           commit, self->feature_trailer, feature);
        }
    }
    if (error.code != CAB_OK) {
        cab_agent_log (agent, CAB_LOG_WARNING, "commit %.12s: %s", commit, error.text);
        cab_event_destroy (&event);
    }
    free (shown);
    free (files);
    free (approval);
    free (feature);
    return event;
}

//  Publish the new commits of one branch; returns the head to remember.
static char *
s_branch (cab_agent_t *agent, developer_t *self, const json_t *repository, const char *path,
          const char *branch, const char *head)
{
    char key[4400];
    snprintf (key, sizeof key, "%s\t%s", path, branch);
    const char *last = json_string_value (json_object_get (self->state, key));
    if (!last)
        return strdup (head);  //  First sight: remember, do not publish history
    if (strcmp (last, head) == 0)
        return NULL;
    char range[200];
    snprintf (range, sizeof range, "%s..%s", last, head);
    char max[32];
    snprintf (max, sizeof max, "--max-count=%d", S_MAX_COMMITS);
    char *list_args[] = {"rev-list", "--reverse", max, range, NULL};
    char *list = s_git (agent, path, list_args);
    if (!list)
        return strdup (head);  //  History rewritten (force push): start again from here
    char *published = NULL;
    for (char *line = list; *line;) {
        char *end = strchr (line, '\n');
        if (end)
            *end = '\0';
        if (*line) {
            //  A commit that cannot be described is skipped (logged); one
            //  that cannot be published stops here, to be tried again.
            cab_event_t *event = s_code_change (agent, self, repository, path, branch, line);
            cab_error_t error = {0};
            if (event && cab_agent_publish (agent, &event, 5000, &error) != CAB_OK) {
                cab_agent_log (agent, CAB_LOG_ERROR, "cannot publish %.12s: %s", line, error.text);
                break;
            }
            free (published);
            published = strdup (line);
            cab_agent_log (agent, CAB_LOG_INFO, "%s %s: commit %.12s", path, branch, line);
        }
        if (!end)
            break;
        line = end + 1;
    }
    free (list);
    return published;
}

static int
s_scan (cab_agent_t *agent, void *arg)
{
    developer_t *self = (developer_t *)arg;
    json_t *updates = json_object ();
    size_t index;
    json_t *repository;
    json_array_foreach (self->repositories, index, repository)
    {
        const char *path = json_string_value (json_object_get (repository, "path"));
        char format[] = "--format=%(refname:short) %(objectname)";
        char *refs_args[] = {"for-each-ref", format, "refs/heads/", NULL};
        char *refs = s_git (agent, path, refs_args);
        for (char *line = refs; line && *line;) {
            char *end = strchr (line, '\n');
            if (end)
                *end = '\0';
            char *space = strchr (line, ' ');
            if (space) {
                *space = '\0';
                if (s_in_list (json_object_get (repository, "branches"), line, true)) {
                    char *head = s_branch (agent, self, repository, path, line, space + 1);
                    char key[4400];
                    snprintf (key, sizeof key, "%s\t%s", path, line);
                    if (head)
                        json_object_set_new (updates, key, json_string (head));
                    free (head);
                }
            }
            line = end ? end + 1 : NULL;
        }
        free (refs);
    }
    //  Remember only what the broker acknowledged.
    if (json_object_size (updates)) {
        cab_error_t error = {0};
        if (cab_client_flush (cab_agent_client (agent), 10000, &error) == CAB_OK) {
            json_object_update (self->state, updates);
            state_save (self->state_path, self->state, "developer");
        } else
            cab_agent_log (agent, CAB_LOG_WARNING, "not acknowledged yet (%s): will look again",
                           error.text);
    }
    json_decref (updates);
    return 0;
}

int
main (int argc, char **argv)
{
    cab_agent_args_t args;
    int rc = cab_agent_parse_args (argc, argv, "developer", s_usage, &args);
    if (rc >= 0)
        return rc;
    developer_t self = {0};
    self.repositories = json_object_get (args.config, "repositories");
    json_t *state_file = json_object_get (args.config, "state_file");
    self.state_path =
        json_is_string (state_file) ? json_string_value (state_file) : "developer-state.json";
    json_t *approval = json_object_get (args.config, "approval_trailer");
    self.approval_trailer =
        json_is_string (approval) ? json_string_value (approval) : "Approved-by";
    json_t *feature = json_object_get (args.config, "feature_trailer");
    self.feature_trailer =
        json_is_string (feature) ? json_string_value (feature) : "Feature-Request";
    json_t *interval = json_object_get (args.config, "interval_ms");
    json_int_t interval_ms = interval ? json_integer_value (interval) : 5000;
    size_t index;
    json_t *repository;
    bool valid = json_is_array (self.repositories) && interval_ms >= 100;
    json_array_foreach (self.repositories, index, repository) valid =
        valid && json_is_string (json_object_get (repository, "path")) &&
        json_is_array (json_object_get (repository, "branches"));
    if (!valid) {
        fprintf (stderr, "cabruca-developer: /developer: repositories must be an array of "
                         "{path, branches[]} and interval_ms >= 100\n");
        cab_agent_args_release (&args);
        return 2;
    }
    self.state = state_load (self.state_path, "developer");
    cab_error_t error = {0};
    cab_agent_t *agent = self.state ? cab_agent_new_from_args (&args, &error) : NULL;
    if (!agent) {
        if (self.state)
            fprintf (stderr, "cabruca-developer: %s\n", error.text);
        json_decref (self.state);
        cab_agent_args_release (&args);
        return self.state ? 1 : 2;
    }
    cab_agent_log (agent, CAB_LOG_INFO, "watching %zu repositories every %lld ms",
                   json_array_size (self.repositories), (long long)interval_ms);
    cab_agent_every (agent, interval_ms, s_scan, &self);
    cab_status_t status = cab_agent_run (agent, 5000);
    cab_agent_destroy (&agent);
    json_decref (self.state);
    cab_agent_args_release (&args);
    return status == CAB_OK ? 0 : 1;
}
