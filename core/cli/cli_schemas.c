/*  =========================================================================
    cli_schemas - `cabruca schemas`: list the registered event types and
    validate JSON documents, one a line, against the registry or against a
    schema file. See docs/man/cabruca-schemas.md.

    Output of validate: one line per non-blank input line,
        valid
        invalid: <pointer>: <message>
    where <message> is the validator's "<keyword>: <reason>" for a schema
    violation and "<StatusName>: <reason>" for anything else (InvalidJson,
    InvalidUtf8, TooLarge, TooDeep, InvalidEnvelope, UnknownEventType).
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_lines.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Largest schema file `validate --schema` reads.
#define S_SCHEMA_MAX (16 * 1024 * 1024)

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca schemas list [--json] [--dir DIR]\n"
             "       cabruca schemas validate [--schema FILE] [--dir DIR] [FILE|-]\n"
             "\n"
             "list      print the registered event types: source, detail-type, version, file\n"
             "          (--json: one JSON array instead of a table)\n"
             "validate  read JSON documents, one a line (standard input by default; blank\n"
             "          lines are skipped) and print `valid` or `invalid: <pointer>: <message>`\n"
             "          for each. Without --schema, each line is an event, checked against\n"
             "          the envelope and its type's schema in the registry; with --schema,\n"
             "          each line is any JSON document checked against that schema file.\n"
             "--dir DIR  schema directory (default: $CABRUCA_SCHEMAS, else the installed one)\n"
             "\n"
             "Exit status: 0 all valid, 1 some line invalid, 2 usage error or an unreadable\n"
             "or invalid schema.\n");
}

static void
s_fail (const char *what, const cab_error_t *error)
{
    char buffer[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
    fprintf (stderr, "cabruca schemas: %s%s%s\n", what ? what : "", what ? ": " : "",
             cab_error_format (error, buffer, sizeof buffer));
}

static int s_usage_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "cabruca schemas: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, " (see cabruca schemas --help)\n");
    va_end (args);
    return CLI_EXIT_USAGE;
}

//  Options shared by both commands.
typedef struct {
    bool json;
    const char *dir;
    const char *schema;
    const char *input;
} s_options_t;

//  Parse argv [1..] of list (is_list) or validate. Returns 0, -1 after
//  printing help, or CLI_EXIT_USAGE.
static int
s_parse (int argc, char **argv, bool is_list, s_options_t *options)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && cli_is_help (arg)) {
            s_usage (stdout);
            return -1;
        }
        if (!options_done && strcmp (arg, "--") == 0)
            options_done = true;
        else if (!options_done && is_list && strcmp (arg, "--json") == 0)
            options->json = true;
        else if (!options_done &&
                 (strcmp (arg, "--dir") == 0 || (!is_list && strcmp (arg, "--schema") == 0))) {
            if (i + 1 == argc)
                return s_usage_error ("%s needs a value", arg);
            if (strcmp (arg, "--dir") == 0)
                options->dir = argv[++i];
            else
                options->schema = argv[++i];
        } else if (!options_done && strncmp (arg, "--dir=", 6) == 0)
            options->dir = arg + 6;
        else if (!options_done && !is_list && strncmp (arg, "--schema=", 9) == 0)
            options->schema = arg + 9;
        else if (!options_done && arg[0] == '-' && arg[1] != '\0')
            return s_usage_error ("unknown option %s", arg);
        else if (is_list)
            return s_usage_error ("unexpected argument %s", arg);
        else if (options->input)
            return s_usage_error ("one input at most (extra: %s)", arg);
        else
            options->input = arg;
    }
    if ((options->dir && !*options->dir) || (options->schema && !*options->schema))
        return s_usage_error ("%s", "empty file name");
    return 0;
}

static cab_registry_t *
s_registry (const char *dir)
{
    cab_error_t error;
    cab_registry_t *registry = cab_registry_new ();
    if (!registry) {
        cab_error_set (&error, CAB_ERR_NOMEM, NULL, NULL);
        s_fail (NULL, &error);
        return NULL;
    }
    if (cab_registry_load_dir (registry, dir, &error) != CAB_OK) {
        s_fail (dir, &error);
        cab_registry_destroy (&registry);
    }
    return registry;
}

//  ---------------------------------------------------------------------
//  list

static int
s_list (const s_options_t *options)
{
    cab_registry_t *registry = s_registry (options->dir ? options->dir : cli_schema_dir ());
    if (!registry)
        return CLI_EXIT_USAGE;
    size_t size = cab_registry_size (registry);
    const char *source, *detail_type, *version, *origin;
    if (options->json) {
        json_t *list = json_array ();
        for (size_t i = 0; list && i < size; i++) {
            cab_registry_entry (registry, i, &source, &detail_type, &version, &origin);
            json_array_append_new (list, json_pack ("{s:s, s:s, s:s, s:s}", "source", source,
                                                    "detail-type", detail_type, "schema_version",
                                                    version, "file", origin));
        }
        char *text = list ? json_dumps (list, JSON_INDENT (2)) : NULL;
        if (text)
            printf ("%s\n", text);
        free (text);
        json_decref (list);
        cab_registry_destroy (&registry);
        return text ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
    int widths[3] = {6, 11, 7};
    for (size_t i = 0; i < size; i++) {
        cab_registry_entry (registry, i, &source, &detail_type, &version, NULL);
        const char *columns[3] = {source, detail_type, version};
        for (int c = 0; c < 3; c++)
            if ((int)strlen (columns[c]) > widths[c])
                widths[c] = (int)strlen (columns[c]);
    }
    printf ("%-*s  %-*s  %-*s  %s\n", widths[0], "SOURCE", widths[1], "DETAIL-TYPE", widths[2],
            "VERSION", "FILE");
    for (size_t i = 0; i < size; i++) {
        cab_registry_entry (registry, i, &source, &detail_type, &version, &origin);
        printf ("%-*s  %-*s  %-*s  %s\n", widths[0], source, widths[1], detail_type, widths[2],
                version, origin);
    }
    cab_registry_destroy (&registry);
    return CLI_EXIT_OK;
}

//  ---------------------------------------------------------------------
//  validate

static cab_schema_t *
s_load_schema (const char *path)
{
    cab_error_t error;
    size_t size = 0;
    char *text = cab_file_read (path, S_SCHEMA_MAX, &size, &error);
    if (!text) {
        s_fail (NULL, &error);
        return NULL;
    }
    json_error_t json_error;
    json_t *document = json_loadb (
        text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &json_error);
    free (text);
    if (!document) {
        fprintf (stderr, "cabruca schemas: %s:%d:%d: InvalidJson: %s\n", path, json_error.line,
                 json_error.column, json_error.text);
        return NULL;
    }
    cab_schema_t *schema = cab_schema_new (document, &error);
    json_decref (document);
    if (!schema) {
        char buffer[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
        fprintf (stderr, "cabruca schemas: %s: %s: %s\n", path, cab_status_name (error.code),
                 cab_error_format (&error, buffer, sizeof buffer));
    }
    return schema;
}

//  Print one result line.
static void
s_result (const cab_error_t *error)
{
    if (error->code == CAB_OK)
        fputs ("valid\n", stdout);
    else if (error->code == CAB_ERR_SCHEMA_VIOLATION)
        printf ("invalid: %s: %s\n", error->path, error->text);
    else
        printf ("invalid: %s: %s: %s\n", error->path, cab_status_name (error->code), error->text);
}

//  Check one line against a schema: any JSON document.
static void
s_check_document (cab_schema_t *schema, const char *line, size_t length, cab_error_t *error)
{
    json_error_t json_error;
    json_t *document = json_loadb (
        line, length, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &json_error);
    if (!document) {
        cab_error_set (error, CAB_ERR_INVALID_JSON, "", "line %d, column %d: %s", json_error.line,
                       json_error.column, json_error.text);
        return;
    }
    cab_schema_validate (schema, document, error);
    json_decref (document);
}

//  Check one line as an event against the registry.
static void
s_check_event (cab_registry_t *registry, const char *line, size_t length, cab_error_t *error)
{
    cab_event_t *event = cab_event_load (line, length, error);
    if (event) {
        cab_registry_validate (registry, event, error);
        cab_event_destroy (&event);
    }
}

static int
s_validate (const s_options_t *options)
{
    cab_schema_t *schema = NULL;
    cab_registry_t *registry = NULL;
    if (options->schema)
        schema = s_load_schema (options->schema);
    else
        registry = s_registry (options->dir ? options->dir : cli_schema_dir ());
    if (!schema && !registry)
        return CLI_EXIT_USAGE;

    cab_error_t error;
    cab_lines_t *lines = cab_lines_new (options->input, CLI_LINE_MAX, &error);
    if (!lines) {
        s_fail (NULL, &error);
        cab_schema_destroy (&schema);
        cab_registry_destroy (&registry);
        return CLI_EXIT_USAGE;
    }
    int status = CLI_EXIT_OK;
    const char *line;
    size_t length;
    cab_status_t rc;
    while ((rc = cab_lines_next (lines, &line, &length, &error)) != CAB_ERR_NOT_FOUND) {
        if (rc == CAB_ERR_IO) {
            s_fail (options->input ? options->input : "standard input", &error);
            status = CLI_EXIT_USAGE;
            break;
        }
        if (rc == CAB_OK) {
            size_t i = 0;
            while (i < length && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                i++;
            if (i == length)
                continue;  //  Blank line
            cab_error_clear (&error);
            if (schema)
                s_check_document (schema, line, length, &error);
            else
                s_check_event (registry, line, length, &error);
        } else
            error.path[0] = '\0';  //  TooLarge: the line was skipped
        s_result (&error);
        if (error.code != CAB_OK)
            status = CLI_EXIT_FAILURE;
    }
    fflush (stdout);
    cab_lines_destroy (&lines);
    cab_schema_destroy (&schema);
    cab_registry_destroy (&registry);
    return status;
}

int
cli_schemas_main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help (argv[1])) {
        s_usage (stdout);
        return CLI_EXIT_OK;
    }
    bool is_list = strcmp (argv[1], "list") == 0;
    if (!is_list && strcmp (argv[1], "validate") != 0)
        return s_usage_error ("unknown command %s", argv[1]);
    s_options_t options = {false, NULL, NULL, NULL};
    int rc = s_parse (argc - 1, argv + 1, is_list, &options);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    return is_list ? s_list (&options) : s_validate (&options);
}
