/*  =========================================================================
    cli_pattern - `cabruca pattern`: test EventBridge event patterns offline,
    like EventBridge's TestEventPattern. See docs/man/cabruca-pattern.md.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_lines.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: cabruca pattern check PATTERN_FILE\n"
                  "       cabruca pattern match PATTERN_FILE [EVENTS_FILE|-]\n"
                  "       cabruca pattern match-rules RULES_FILE [EVENTS_FILE|-]\n"
                  "\n"
                  "Check an EventBridge event pattern, or match events (one JSON object per\n"
                  "line, standard input by default) against a pattern or against rules (one\n"
                  "{\"id\": \"...\", \"pattern\": {...}} per line).\n"
                  "  match        prints true or false per event line\n"
                  "  match-rules  prints the ids of the matching rules per event line, in\n"
                  "               ascending byte order, joined by commas (empty: none)\n"
                  "An event line that is not valid JSON prints `error: <reason>`.\n"
                  "Exit status: 0 ok, 1 some event line was invalid, 2 usage error or\n"
                  "invalid pattern (`<pointer>: <reason>` on stderr).\n");
}

static void
s_report (const char *where, const cab_error_t *error)
{
    char buffer[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
    cab_error_format (error, buffer, sizeof buffer);
    if (where)
        fprintf (stderr, "%s: %s\n", where, buffer);
    else
        fprintf (stderr, "%s\n", buffer);
}

static cab_pattern_t *
s_load_pattern (const char *path)
{
    cab_error_t error;
    size_t size = 0;
    char *text = cab_file_read (path, CLI_LINE_MAX, &size, &error);
    if (!text) {
        s_report ("cabruca pattern", &error);
        return NULL;
    }
    cab_pattern_t *pattern = cab_pattern_new (text, size, &error);
    free (text);
    if (!pattern)
        s_report (NULL, &error);
    return pattern;
}

static cab_ruleset_t *
s_load_rules (const char *path)
{
    cab_error_t error;
    cab_lines_t *lines = cab_lines_new (path, CLI_LINE_MAX, &error);
    if (!lines) {
        s_report ("cabruca pattern", &error);
        return NULL;
    }
    cab_ruleset_t *rules = cab_ruleset_new ();
    bool ok = rules != NULL;
    const char *line;
    size_t length;
    cab_status_t rc;
    while (ok && (rc = cab_lines_next (lines, &line, &length, &error)) != CAB_ERR_NOT_FOUND) {
        char where[64];
        snprintf (where, sizeof where, "%s:%zu", path, cab_lines_number (lines));
        if (rc != CAB_OK) {
            s_report (where, &error);
            ok = false;
            break;
        }
        size_t i = 0;
        while (i < length && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == length || line[i] == '#')
            continue;  //  blank lines and comments
        json_error_t jerror;
        json_t *rule = json_loadb (line, length, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerror);
        if (!rule) {
            fprintf (stderr, "%s: not valid JSON: %s\n", where, jerror.text);
            ok = false;
            break;
        }
        json_t *id = json_object_get (rule, "id");
        json_t *pattern = json_object_get (rule, "pattern");
        if (!json_is_string (id) || !pattern) {
            fprintf (stderr, "%s: a rule needs \"id\" (a string) and \"pattern\"\n", where);
            ok = false;
        } else if (cab_ruleset_add_json (rules, json_string_value (id), pattern, &error) !=
                   CAB_OK) {
            fprintf (stderr, "%s: rule %s: ", where, json_string_value (id));
            s_report (NULL, &error);
            ok = false;
        }
        json_decref (rule);
    }
    cab_lines_destroy (&lines);
    if (!ok)
        cab_ruleset_destroy (&rules);
    return rules;
}

static int
s_match (cab_pattern_t *pattern, cab_ruleset_t *rules, const char *events)
{
    cab_error_t error;
    cab_lines_t *lines = cab_lines_new (events, CLI_LINE_MAX, &error);
    if (!lines) {
        s_report ("cabruca pattern", &error);
        return CLI_EXIT_USAGE;
    }
    size_t capacity = rules ? cab_ruleset_size (rules) + 1 : 1;
    size_t *matches = malloc (capacity * sizeof *matches);
    if (!matches) {
        cab_lines_destroy (&lines);
        fprintf (stderr, "cabruca pattern: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    int status = CLI_EXIT_OK;
    const char *line;
    size_t length;
    cab_status_t rc;
    //  Output is buffered by stdio: one write per block, not per line.
    while ((rc = cab_lines_next (lines, &line, &length, &error)) != CAB_ERR_NOT_FOUND) {
        if (rc == CAB_OK) {
            if (pattern) {
                bool matched = false;
                rc = cab_pattern_match (pattern, line, length, &matched, &error);
                if (rc == CAB_OK)
                    fputs (matched ? "true\n" : "false\n", stdout);
            } else {
                size_t count = 0;
                rc = cab_ruleset_match (rules, line, length, matches, capacity, &count, &error);
                if (rc == CAB_OK) {
                    for (size_t i = 0; i < count; i++) {
                        if (i)
                            putchar (',');
                        fputs (cab_ruleset_id (rules, matches[i]), stdout);
                    }
                    putchar ('\n');
                }
            }
        } else if (rc == CAB_ERR_IO) {
            s_report ("cabruca pattern", &error);
            status = CLI_EXIT_FAILURE;
            break;
        }
        if (rc != CAB_OK) {
            char buffer[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
            printf ("error: %s\n", cab_error_format (&error, buffer, sizeof buffer));
            status = CLI_EXIT_FAILURE;
        }
    }
    free (matches);
    cab_lines_destroy (&lines);
    if (fflush (stdout) != 0)
        status = CLI_EXIT_FAILURE;
    return status;
}

int
cli_pattern_main (int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help (argv[i])) {
            s_usage (stdout);
            return CLI_EXIT_OK;
        }
    if (argc < 3) {
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp (verb, "check") == 0) {
        if (argc != 3) {
            s_usage (stderr);
            return CLI_EXIT_USAGE;
        }
        cab_pattern_t *pattern = s_load_pattern (argv[2]);
        if (!pattern)
            return CLI_EXIT_USAGE;
        cab_pattern_destroy (&pattern);
        return CLI_EXIT_OK;
    }
    if (strcmp (verb, "match") != 0 && strcmp (verb, "match-rules") != 0) {
        fprintf (stderr, "cabruca pattern: unknown action '%s' (see --help)\n", verb);
        return CLI_EXIT_USAGE;
    }
    if (argc > 4) {
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    const char *events = argc == 4 ? argv[3] : "-";
    int status;
    if (strcmp (verb, "match") == 0) {
        cab_pattern_t *pattern = s_load_pattern (argv[2]);
        if (!pattern)
            return CLI_EXIT_USAGE;
        status = s_match (pattern, NULL, events);
        cab_pattern_destroy (&pattern);
    } else {
        cab_ruleset_t *rules = s_load_rules (argv[2]);
        if (!rules)
            return CLI_EXIT_USAGE;
        status = s_match (NULL, rules, events);
        cab_ruleset_destroy (&rules);
    }
    return status;
}
