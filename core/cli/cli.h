/*  =========================================================================
    cli - shared declarations of the cabruca command-line interface

    Each subcommand lives in its own file, core/cli/cli_<name>.c, and exports
    one entry point `int cli_<name>_main (int argc, char **argv)` where argv[0]
    is the subcommand's name. It returns the process exit status:
        0  success
        1  the command ran and found a failure (invalid input, NACKs, ...)
        2  usage error, unreadable or invalid configuration/schema/pattern
    Messages go to stderr as "cabruca <subcommand>: <message>".
    =========================================================================
*/
#ifndef CLI_H_INCLUDED
#define CLI_H_INCLUDED

#include "cabruca.h"
#include "cab_store.h"
#include <stdio.h>

#define CLI_EXIT_OK      0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE   2

//  Longest input line the CLI accepts: an event is at most 256 KB, and a
//  line may hold a little more (a schema, a rule); anything over is refused.
#define CLI_LINE_MAX (1024 * 1024)

//  Directory of the schemas: $CABRUCA_SCHEMAS, else the source tree's when
//  run from a build tree, else the installed one. Borrowed, static.
const char *
    cli_schema_dir (void);

//  True when argv[i] asks for help (-h or --help).
bool
    cli_is_help (const char *arg);

//  Return the current time, ms since the Unix epoch (UTC).
int64_t
    cli_now_ms (void);

//  Parse a time given on the command line: ISO 8601 UTC
//  ("2026-11-22T10:00:00Z", a fraction allowed), "now", or a time before
//  now_ms: -30s, -15m, -2h, -7d. Returns true and sets *ms_p, or false
//  when text is none of these (the caller reports a usage error).
bool
    cli_parse_time (const char *text, int64_t now_ms, int64_t *ms_p);

//  Write ms (since the epoch) as "YYYY-MM-DDThh:mm:ss.fffZ" into buffer
//  (CLI_TIME_SIZE bytes suffice). Returns buffer.
char *
    cli_format_time (int64_t ms, char *buffer, size_t size);
#define CLI_TIME_SIZE 32

int cli_schemas_main (int argc, char **argv);
int cli_pattern_main (int argc, char **argv);
int cli_publish_main (int argc, char **argv);
int cli_status_main (int argc, char **argv);
int cli_supervisor_main (int argc, char **argv);
int cli_rules_main (int argc, char **argv);
int cli_dlq_main (int argc, char **argv);
int cli_replay_main (int argc, char **argv);
int cli_query_main (int argc, char **argv);
int cli_keys_main (int argc, char **argv);

//  Use CURVE on client when cert (the agent's secret certificate) and
//  server (the broker's public certificate) are given, each defaulting to
//  $CABRUCA_CURVE_CERT / $CABRUCA_SERVER_CERT (cli_keys.c). CAB_OK when
//  neither is set; CAB_ERR_INVALID_ARGUMENT when only one is; else the
//  errors of cab_client_set_curve.
cab_status_t
    cli_curve_apply (cab_client_t *client, const char *cert, const char *server,
                     cab_error_t *error);
int cli_tail_main (int argc, char **argv);
int cli_budget_main (int argc, char **argv);
int cli_mirror_main (int argc, char **argv);

//  The options of `cabruca budget` and `cabruca mirror status` (cli_mirror.c).
//  With store_path or config_path they read the store instead of asking
//  the broker.
typedef struct {
    const char *endpoint, *curve_cert, *server_cert;
    const char *store_path, *config_path;
    long timeout_ms;
    bool as_json;
} cli_mirror_options_t;

//  Parse argv[first..] into *options (--broker, --json, --timeout,
//  --curve-cert, --server-cert, --store, --config; --help prints usage on
//  stdout). Returns -1 when all is well, else the exit status (messages
//  printed, prefixed by name).
int
    cli_mirror_parse (cli_mirror_options_t *options, const char *name, int argc, char **argv,
                      int first, void (*usage) (FILE *out));

//  Send the broker CONTROL {"op": op}. Returns the reply (new reference),
//  or NULL after printing the typed error: *exit_p is CLI_EXIT_FAILURE (no
//  answer, a refusal, a broker that does not know op) or CLI_EXIT_USAGE.
json_t *
    cli_mirror_ask (const cli_mirror_options_t *options, const char *name, const char *op,
                    int *exit_p);

//  Open the store read-only: options->store_path, else the broker
//  configuration's store.path (relative to the file's directory). Sets
//  *config_p to the configuration (new reference; an empty object without
//  --config). Returns NULL after printing the error: *exit_p is
//  CLI_EXIT_USAGE (an unreadable or invalid configuration) or
//  CLI_EXIT_FAILURE (the store cannot be read).
cab_store_t *
    cli_mirror_open (const cli_mirror_options_t *options, const char *name, json_t **config_p,
                     int *exit_p);

//  The mirror-status document read from the store and the configuration:
//  the broker's shape, with "source": "store" and "sender": null (the
//  sender's counters live in the broker). Returns a new reference, or NULL
//  after printing the error (*exit_p CLI_EXIT_FAILURE).
json_t *
    cli_mirror_store_status (cab_store_t *store, json_t *config, const char *name,
                             int *exit_p);

//  Print a document indented, keys sorted.
void
    cli_mirror_print_json (json_t *document);

//  Format a JSON count with thousands separators ("1,234,567"; "-" when
//  not a number) into buffer (32 bytes suffice). Returns buffer.
char *
    cli_count (json_t *value, char *buffer, size_t size);

//  Format a JSON number of dollars ("$12.34", "$0.0012", "<$0.0001"; "-"
//  when not a number), a percent ("4.2%", "<0.1%"), a duration in ms
//  ("850 ms", "4.2 s", "3m 07s", "2h 05m", "3d 04h") into buffer. Return it.
char *
    cli_money (json_t *usd, char *buffer, size_t size);
char *
    cli_percent (json_t *percent, char *buffer, size_t size);
char *
    cli_duration (int64_t ms, char *buffer, size_t size);

#endif
