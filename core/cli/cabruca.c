/*  =========================================================================
    cabruca - the command-line interface: one entry point, one file per
    subcommand (core/cli/cli_<name>.c). See docs/man/cabruca.md.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int (*main) (int argc, char **argv);
    const char *summary;
} s_command_t;

static const s_command_t s_commands[] = {
    {"schemas", cli_schemas_main, "list event types; validate events against their schemas"},
    {"pattern", cli_pattern_main, "check EventBridge event patterns and match events offline"},
    {"publish", cli_publish_main, "publish events to the broker; print each ACK or NACK"},
    {"status", cli_status_main, "show the broker's counters, agents and store size"},
    {"keys", cli_keys_main, "make CURVE certificates for the broker and its agents"},
    {"supervisor", cli_supervisor_main, "status, start, stop, restart programs; reload"},
    {"rules", cli_rules_main, "check a rule file and list its rules and targets"},
    {"dlq", cli_dlq_main, "list, show, redrive or purge dead letters"},
    {"replay", cli_replay_main, "deliver archived events of a time window again"},
    {"query", cli_query_main, "print stored events by pattern, source, type, time, correlation"},
    {"tail", cli_tail_main, "print the last events, then new ones as they are stored"},
    {"budget", cli_budget_main, "the mirror's monthly budget, cost, caps per agent type, lag"},
    {"mirror", cli_mirror_main, "the cloud mirror: mode, outbox, lag, results, errors"},
    {NULL, NULL, NULL}};

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: cabruca [--version] [--help] COMMAND [ARGS...]\n"
                  "\n"
                  "cabruca: multi-agent coordination over ZeroMQ with EventBridge semantics.\n"
                  "\n"
                  "commands:\n");
    for (const s_command_t *command = s_commands; command->name; command++)
        fprintf (out, "  %-10s %s\n", command->name, command->summary);
    fprintf (out, "\n"
                  "Run `cabruca COMMAND --help` for a command's options.\n"
                  "Exit status: 0 success, 1 failure found, 2 usage or configuration error.\n");
}

bool
cli_is_help (const char *arg)
{
    return arg && (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0);
}

const char *
cli_schema_dir (void)
{
    const char *dir = getenv ("CABRUCA_SCHEMAS");
    if (dir && *dir)
        return dir;
#ifdef CAB_SRC_SCHEMADIR
    //  Run from the build tree: use the source tree's schemas.
    if (access (CAB_SRC_SCHEMADIR "/envelope.json", R_OK) == 0)
        return CAB_SRC_SCHEMADIR;
#endif
    return CAB_SCHEMADIR;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help (argv[1])) {
        s_usage (stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp (argv[1], "--version") == 0) {
        printf ("cabruca %s\n", PACKAGE_VERSION);
        return CLI_EXIT_OK;
    }
    for (const s_command_t *command = s_commands; command->name; command++)
        if (strcmp (argv[1], command->name) == 0)
            return command->main (argc - 1, argv + 1);
    fprintf (stderr, "cabruca: unknown command '%s' (see cabruca --help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
