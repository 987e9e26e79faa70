/*  =========================================================================
    cab_daemon - what every cabruca daemon's thin main shares
    =========================================================================
*/
#include "config.h"
#include "cab_daemon.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
cab_daemon_usage (FILE *out, const char *name, const char *config_help, const char *check_help)
{
    fprintf (out,
             "usage: %s --config FILE [-n] [--notify-fd N]\n"
             "\n"
             "  -c, --config FILE   %s\n"
             "  -n, --check         %s\n"
             "  -d, --notify-fd N   write a newline to fd N when ready, then close it\n"
             "  -h, --help          show this help\n"
             "      --version       show the version\n"
             "\n"
             "Exit status: 0 ok, 100 usage or configuration error, 111 system error.\n",
             name, config_help, check_help);
}

//  Parse a file descriptor number; -1 if it is not one.
static int
s_parse_fd (const char *text)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < 0 || value > 65535)
        return -1;
    return (int)value;
}

static bool
s_is (const char *arg, const char *short_name, const char *long_name)
{
    return (short_name && strcmp (arg, short_name) == 0) || strcmp (arg, long_name) == 0;
}

int
cab_daemon_parse (int argc, char **argv, const char *name, const char *config_help,
                  const char *check_help, cab_daemon_options_t *options)
{
    options->config_path = NULL;
    options->check_only = false;
    options->notify_fd = -1;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        bool has_value = index + 1 < argc;
        if (s_is (arg, "-c", "--config") && has_value)
            options->config_path = argv[++index];
        else if (s_is (arg, "-n", "--check"))
            options->check_only = true;
        else if (s_is (arg, "-d", "--notify-fd") && has_value) {
            options->notify_fd = s_parse_fd (argv[++index]);
            if (options->notify_fd < 0) {
                fprintf (stderr, "%s: --notify-fd needs a file descriptor\n", name);
                return CAB_DAEMON_EXIT_USAGE;
            }
        } else if (s_is (arg, "-h", "--help")) {
            cab_daemon_usage (stdout, name, config_help, check_help);
            return CAB_DAEMON_EXIT_OK;
        } else if (s_is (arg, NULL, "--version")) {
            printf ("%s %s\n", name, PACKAGE_VERSION);
            return CAB_DAEMON_EXIT_OK;
        } else {
            fprintf (stderr, "%s: unknown or incomplete option '%s'\n", name, arg);
            cab_daemon_usage (stderr, name, config_help, check_help);
            return CAB_DAEMON_EXIT_USAGE;
        }
    }
    if (!options->config_path) {
        fprintf (stderr, "%s: --config FILE is required\n", name);
        cab_daemon_usage (stderr, name, config_help, check_help);
        return CAB_DAEMON_EXIT_USAGE;
    }
    return CAB_DAEMON_RUN;
}

void
cab_daemon_notify_ready (const char *name, int notify_fd)
{
    if (notify_fd < 0)
        return;
    if (write (notify_fd, "\n", 1) != 1)
        fprintf (stderr, "%s: cannot write to notify fd %d: %s\n", name, notify_fd,
                 strerror (errno));
    close (notify_fd);
}
