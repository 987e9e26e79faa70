/*  =========================================================================
    cli_keys - `cabruca keys`: CURVE certificates for the broker and its
    agents (docs/security.md, docs/man/cabruca-keys.md), and the CLI's own
    CURVE options (--curve-cert, --server-cert) shared by its subcommands.

    An agent's certificate is a czmq zcert pair: NAME (public: copy it into
    the broker's clients directory) and NAME_secret (owner-only: it stays
    with the agent). Its metadata names the agent and the sources it may
    publish, and optionally the queues it may subscribe to ("queues") and
    the sources its subscription patterns may match ("read_sources"); the
    broker takes them from the certificate.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_NAME "cabruca keys"
//  Longest sources list in a certificate, characters.
#define S_SOURCES_MAX 4096

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca keys new NAME --sources SOURCE[,SOURCE...]\n"
             "           [--queues QUEUE[,QUEUE...]] [--read-sources SOURCE[,...]] [--dir DIR]\n"
             "       cabruca keys new-broker [--dir DIR]\n"
             "\n"
             "Make CURVE certificates (docs/security.md).\n"
             "\n"
             "new         an agent's certificate: DIR/NAME (public, for the broker's\n"
             "            clients directory) and DIR/NAME_secret (mode 0600, for the\n"
             "            agent); its metadata names the agent and its sources\n"
             "new-broker  the broker's certificate: DIR/broker.key (public, for the\n"
             "            agents) and DIR/broker.key_secret (mode 0600, for the broker)\n"
             "--sources   the sources the agent may publish, comma-separated (\"*\": any)\n"
             "--queues    the queues it may subscribe to (default: the broker's\n"
             "            configuration decides; \"*\": any)\n"
             "--read-sources  the sources its subscription patterns may match (they\n"
             "            must then name them in \"source\"; \"*\": any)\n"
             "--dir       where to write (default: the current directory)\n"
             "\n"
             "Exit status: 0 written, 1 cannot write, 2 usage error.\n");
}

cab_status_t
cli_curve_apply (cab_client_t *client, const char *cert, const char *server, cab_error_t *error)
{
    if (!cert || !*cert)
        cert = getenv ("CABRUCA_CURVE_CERT");
    if (!server || !*server)
        server = getenv ("CABRUCA_SERVER_CERT");
    bool have_cert = cert && *cert, have_server = server && *server;
    if (!have_cert && !have_server)
        return CAB_OK;
    if (!have_cert || !have_server)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "CURVE needs both --curve-cert and --server-cert "
                              "($CABRUCA_CURVE_CERT, $CABRUCA_SERVER_CERT)");
    return cab_client_set_curve (client, cert, server, error);
}

//  True when text is a usable certificate name: 1-64 of [A-Za-z0-9._-],
//  not starting with a dot.
static bool
s_name_valid (const char *text)
{
    size_t length = strlen (text);
    if (length == 0 || length > 64 || text[0] == '.')
        return false;
    for (const char *c = text; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return false;
    return true;
}

//  Write cert as DIR/FILE and DIR/FILE_secret (0600). Exit status.
static int
s_save (zcert_t *cert, const char *dir, const char *file)
{
    char path[1024], secret[1100];
    if (snprintf (path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        fprintf (stderr, S_NAME ": directory name too long\n");
        return CLI_EXIT_USAGE;
    }
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (zsys_file_exists (path) || zsys_file_exists (secret)) {
        fprintf (stderr, S_NAME ": %s exists: not overwriting a key\n", path);
        return CLI_EXIT_FAILURE;
    }
    if (zsys_dir_create ("%s", dir) != 0) {
        fprintf (stderr, S_NAME ": cannot create %s\n", dir);
        return CLI_EXIT_FAILURE;
    }
    //  The secret file is created owner-only, never readable for a moment.
    mode_t old = umask (077);
    int rc = zcert_save_secret (cert, secret);
    umask (old);
    if (rc == 0)
        rc = chmod (secret, S_IRUSR | S_IWUSR);
    if (rc == 0)
        rc = zcert_save_public (cert, path);
    if (rc != 0) {
        fprintf (stderr, S_NAME ": cannot write %s: %s\n", path, strerror (errno));
        return CLI_EXIT_FAILURE;
    }
    printf ("%s\n%s\n", path, secret);
    return CLI_EXIT_OK;
}

//  True when list is a usable comma-separated metadata value.
static bool
s_list_valid (const char *list)
{
    return *list && strlen (list) <= S_SOURCES_MAX && !strchr (list, '"') && !strchr (list, '\n');
}

static int
s_new (const char *name, const char *sources, const char *queues, const char *reads,
       const char *dir, bool broker)
{
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, S_NAME ": cannot make a key pair\n");
        return CLI_EXIT_FAILURE;
    }
    char created[CLI_TIME_SIZE];
    cli_format_time (cli_now_ms (), created, sizeof created);
    zcert_set_meta (cert, "name", "%s", name);
    if (!broker)
        zcert_set_meta (cert, "sources", "%s", sources);
    if (queues)
        zcert_set_meta (cert, "queues", "%s", queues);
    if (reads)
        zcert_set_meta (cert, "read_sources", "%s", reads);
    zcert_set_meta (cert, "created", "%s", created);
    int exit_code = s_save (cert, dir, broker ? "broker.key" : name);
    zcert_destroy (&cert);
    return exit_code;
}

int
cli_keys_main (int argc, char **argv)
{
    const char *action = NULL, *name = NULL, *sources = NULL, *dir = ".";
    const char *queues = NULL, *reads = NULL;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (cli_is_help (arg)) {
            s_usage (stdout);
            return CLI_EXIT_OK;
        } else if (streq (arg, "--sources") && index + 1 < argc)
            sources = argv[++index];
        else if (streq (arg, "--queues") && index + 1 < argc)
            queues = argv[++index];
        else if (streq (arg, "--read-sources") && index + 1 < argc)
            reads = argv[++index];
        else if (streq (arg, "--dir") && index + 1 < argc)
            dir = argv[++index];
        else if (arg[0] != '-' && !action)
            action = arg;
        else if (arg[0] != '-' && !name && action && streq (action, "new"))
            name = arg;
        else {
            fprintf (stderr, S_NAME ": unknown or incomplete option '%s'\n", arg);
            s_usage (stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!zsys_has_curve ()) {
        fprintf (stderr, S_NAME ": this ZeroMQ library has no CURVE support\n");
        return CLI_EXIT_FAILURE;
    }
    if (action && streq (action, "new-broker") && !sources && !queues && !reads)
        return s_new ("broker", NULL, NULL, NULL, dir, true);
    if (!action || !streq (action, "new") || !name || !sources) {
        fprintf (stderr, S_NAME ": give 'new NAME --sources S1,S2' or 'new-broker'\n");
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    if (!s_name_valid (name)) {
        fprintf (stderr, S_NAME ": NAME must be 1-64 of [A-Za-z0-9._-] (the agent id)\n");
        return CLI_EXIT_USAGE;
    }
    if (!s_list_valid (sources) || (queues && !s_list_valid (queues)) ||
        (reads && !s_list_valid (reads))) {
        fprintf (stderr,
                 S_NAME ": --sources, --queues and --read-sources must be 1-%d characters, "
                        "comma-separated\n",
                 S_SOURCES_MAX);
        return CLI_EXIT_USAGE;
    }
    return s_new (name, sources, queues, reads, dir, false);
}
