/*  =========================================================================
    cli_rules - `cabruca rules check`: load a rule file as the broker does
    and print its rules and targets, or the first error with its JSON
    Pointer. See docs/man/cabruca-rules.md.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_rules.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: cabruca rules check [--json] [--data-dir DIR] FILE\n"
                  "\n"
                  "Load a rule file (docs/rules.md) as the broker does: validate every field,\n"
                  "compile every event pattern and input transformer, and print the rules and\n"
                  "their targets; or the first error as `FILE: <pointer>: <reason>`.\n"
                  "  --json          print one JSON object (the summary or the error) on stdout\n"
                  "  --data-dir DIR  resolve relative log paths against DIR (default: the\n"
                  "                  current directory)\n"
                  "Exit status: 0 valid, 1 output failed, 2 usage error or invalid rule file.\n");
}

static json_t *
s_target_json (const cab_rule_target_t *target)
{
    json_t *object =
        json_pack ("{s:s, s:s}", "id", target->id, "type", cab_target_type_name (target->type));
    if (!object)
        return NULL;
    if (target->type == CAB_TARGET_AGENT)
        json_object_set_new (object, "queue", json_string (target->queue));
    else if (target->type == CAB_TARGET_COMMAND) {
        json_t *argv = json_array ();
        for (size_t i = 0; i < target->argc; i++)
            json_array_append_new (argv, json_string (target->argv[i]));
        json_object_set_new (object, "command", argv);
    } else if (target->type == CAB_TARGET_HTTP) {
        json_object_set_new (object, "url", json_string (target->url));
        if (target->headers)
            json_object_set_new (object, "headers", json_deep_copy (target->headers));
        json_object_set_new (object, "rate_per_second", json_real (target->rate_per_second));
    } else {
        json_object_set_new (object, "path", json_string (target->path));
        json_object_set_new (object, "max_bytes", json_integer (target->max_bytes));
        json_object_set_new (object, "keep", json_integer (target->keep));
    }
    if (target->type == CAB_TARGET_COMMAND || target->type == CAB_TARGET_HTTP)
        json_object_set_new (object, "timeout_ms", json_integer (target->timeout_ms));
    json_object_set_new (object, "retry_policy",
                         json_pack ("{s:i, s:i}", "maximum_retry_attempts", target->max_attempts,
                                    "maximum_event_age_seconds", target->max_age_s));
    json_object_set_new (object, "dead_letter_queue", json_string (cab_dlq_name (target->dlq)));
    json_object_set_new (object, "input_transformer", json_boolean (target->transform != NULL));
    return object;
}

static int
s_print_json (const char *path, cab_rules_t *rules)
{
    json_t *list = json_array ();
    size_t targets = 0, enabled = 0;
    for (size_t i = 0; i < cab_rules_count (rules); i++) {
        const cab_rule_t *rule = cab_rules_get (rules, i);
        json_t *target_list = json_array ();
        for (size_t t = 0; t < rule->target_count; t++)
            json_array_append_new (target_list, s_target_json (&rule->targets[t]));
        targets += rule->target_count;
        enabled += rule->enabled;
        json_t *object =
            json_pack ("{s:s, s:b, s:O, s:o}", "name", rule->name, "enabled", rule->enabled,
                       "event_pattern", rule->pattern, "targets", target_list);
        if (object && rule->description)
            json_object_set_new (object, "description", json_string (rule->description));
        json_array_append_new (list, object);
    }
    json_t *summary =
        json_pack ("{s:b, s:s, s:I, s:I, s:I, s:o}", "valid", 1, "file", path, "rule_count",
                   (json_int_t)cab_rules_count (rules), "enabled_count", (json_int_t)enabled,
                   "target_count", (json_int_t)targets, "rules", list);
    int rc = summary ? json_dumpf (summary, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
    json_decref (summary);
    if (rc == 0 && fputc ('\n', stdout) != EOF && fflush (stdout) == 0)
        return CLI_EXIT_OK;
    return CLI_EXIT_FAILURE;
}

static void
s_print_target (const cab_rule_target_t *target)
{
    printf ("  target %s: %s", target->id, cab_target_type_name (target->type));
    if (target->type == CAB_TARGET_AGENT)
        printf (" queue %s", target->queue);
    else if (target->type == CAB_TARGET_COMMAND) {
        for (size_t i = 0; i < target->argc; i++)
            printf (" %s", target->argv[i]);
    } else if (target->type == CAB_TARGET_HTTP) {
        printf (" POST %s", target->url);
        if (target->headers)
            printf (", %zu header%s", json_object_size (target->headers),
                    json_object_size (target->headers) == 1 ? "" : "s");
        if (target->rate_per_second > 0)
            printf (", at most %g/s", target->rate_per_second);
    } else
        printf (" %s (rotate at %lld bytes, keep %d)", target->path, (long long)target->max_bytes,
                target->keep);
    if (target->type == CAB_TARGET_COMMAND || target->type == CAB_TARGET_HTTP)
        printf (", timeout %d ms", target->timeout_ms);
    printf ("; retry %d attempts, %d s; dlq %s%s\n", target->max_attempts, target->max_age_s,
            cab_dlq_name (target->dlq), target->transform ? "; input transformer" : "");
}

static int
s_print_text (const char *path, cab_rules_t *rules)
{
    size_t targets = 0, enabled = 0;
    for (size_t i = 0; i < cab_rules_count (rules); i++) {
        const cab_rule_t *rule = cab_rules_get (rules, i);
        char *pattern = json_dumps (rule->pattern, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf ("rule %s (%s): %s\n", rule->name, rule->enabled ? "enabled" : "disabled",
                pattern ? pattern : "?");
        free (pattern);
        for (size_t t = 0; t < rule->target_count; t++)
            s_print_target (&rule->targets[t]);
        targets += rule->target_count;
        enabled += rule->enabled;
    }
    printf ("%s: valid: %zu rule%s (%zu enabled), %zu target%s\n", path, cab_rules_count (rules),
            cab_rules_count (rules) == 1 ? "" : "s", enabled, targets, targets == 1 ? "" : "s");
    return fflush (stdout) == 0 && !ferror (stdout) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int
s_check (const char *path, const char *data_dir, bool json)
{
    cab_error_t error;
    cab_error_clear (&error);
    cab_rules_t *rules = cab_rules_load (path, data_dir, &error);
    if (!rules) {
        char buffer[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
        cab_error_format (&error, buffer, sizeof buffer);
        fprintf (stderr, "cabruca rules: %s: %s\n", path, buffer);
        if (json) {
            json_t *object = json_pack (
                "{s:b, s:s, s:i, s:s, s:s, s:s}", "valid", 0, "file", path, "code", (int)error.code,
                "error", cab_status_name (error.code), "path", error.path, "message", error.text);
            if (object && json_dumpf (object, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0)
                fputc ('\n', stdout);
            json_decref (object);
        }
        return error.code == CAB_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    }
    int rc = json ? s_print_json (path, rules) : s_print_text (path, rules);
    cab_rules_unref (&rules);
    return rc;
}

int
cli_rules_main (int argc, char **argv)
{
    if (argc < 2 || cli_is_help (argv[1])) {
        s_usage (argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp (argv[1], "check") != 0) {
        fprintf (stderr, "cabruca rules: unknown subcommand '%s' (see cabruca rules --help)\n",
                 argv[1]);
        return CLI_EXIT_USAGE;
    }
    bool json = false;
    const char *data_dir = NULL, *path = NULL;
    for (int i = 2; i < argc; i++) {
        if (cli_is_help (argv[i])) {
            s_usage (stdout);
            return CLI_EXIT_OK;
        } else if (strcmp (argv[i], "--json") == 0)
            json = true;
        else if (strcmp (argv[i], "--data-dir") == 0) {
            if (++i == argc || !*argv[i]) {
                fprintf (stderr, "cabruca rules: --data-dir needs a directory\n");
                return CLI_EXIT_USAGE;
            }
            data_dir = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf (stderr, "cabruca rules: unknown option '%s' (see cabruca rules --help)\n",
                     argv[i]);
            return CLI_EXIT_USAGE;
        } else if (path) {
            fprintf (stderr, "cabruca rules: one FILE only\n");
            return CLI_EXIT_USAGE;
        } else
            path = argv[i];
    }
    if (!path) {
        fprintf (stderr, "cabruca rules: check needs a FILE (see cabruca rules --help)\n");
        return CLI_EXIT_USAGE;
    }
    return s_check (path, data_dir, json);
}
