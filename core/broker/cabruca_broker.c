/*  =========================================================================
    cabruca-broker - the broker daemon (a thin main; see docs/man/cabruca-broker.md)

    Foreground, logs to stderr, readiness line on a notification fd (s6),
    SIGTERM drains in-flight events, SIGHUP reloads the rule file (an error
    keeps the old rules). Exit: 0 ok, 100 usage or configuration error, 111
    system error.
    =========================================================================
*/
#include "config.h"
#include "cab_daemon.h"
#include "cab_broker.h"
#include <curl/curl.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Load the schemas once to report their errors as configuration errors.
static cab_status_t
s_check_schemas (cab_broker_config_t *config, cab_error_t *error)
{
    if (!config->schemas_dir)
        return CAB_OK;
    cab_registry_t *registry = cab_registry_new ();
    if (!registry)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    cab_status_t status = cab_registry_load_dir (registry, config->schemas_dir, error);
    cab_registry_destroy (&registry);
    return status;
}

//  Load the mirror's cloud rule file once, to report its errors with the
//  configuration's (the broker would refuse to start).
static cab_status_t
s_check_cloud_rules (cab_broker_config_t *config, cab_error_t *error)
{
    if (!config->mirror_enabled || !config->mirror_cloud_rules)
        return CAB_OK;
    cab_rules_t *rules = cab_rules_load (config->mirror_cloud_rules, config->data_dir, error);
    if (!rules) {
        char text[CAB_ERROR_TEXT_MAX];
        snprintf (text, sizeof text, "%s", error ? error->text : "");
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/mirror/cloud_rules",
                              "cloud rules %.200s: %.250s", config->mirror_cloud_rules, text);
    }
    cab_rules_unref (&rules);
    return CAB_OK;
}

int
main (int argc, char **argv)
{
    cab_daemon_options_t options;
    int exit_code = cab_daemon_parse (
        argc, argv, "cabruca-broker", "the broker's JSON configuration (required)",
        "check the configuration and the schemas, then exit", &options);
    if (exit_code != CAB_DAEMON_RUN)
        return exit_code;
    const char *config_path = options.config_path;
    cab_error_t error;
    cab_error_clear (&error);
    char message[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
    cab_broker_config_t *config = cab_broker_config_load (config_path, &error);
    //  The rule file: its errors name the rule file and a pointer into it.
    if (config && cab_broker_config_load_rules (config, NULL, &error) != CAB_OK) {
        fprintf (stderr, "cabruca-broker: %s: %s [%s]\n",
                 config->rules_path ? config->rules_path : config_path,
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        cab_broker_config_destroy (&config);
        return error.code == CAB_ERR_IO || error.code == CAB_ERR_NOMEM ? CAB_DAEMON_EXIT_SYSTEM
                                                                       : CAB_DAEMON_EXIT_USAGE;
    }
    if (!config || s_check_schemas (config, &error) != CAB_OK ||
        s_check_cloud_rules (config, &error) != CAB_OK) {
        fprintf (stderr, "cabruca-broker: %s: %s [%s]\n", config_path,
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        cab_broker_config_destroy (&config);
        return error.code == CAB_ERR_IO || error.code == CAB_ERR_NOMEM ? CAB_DAEMON_EXIT_SYSTEM
                                                                       : CAB_DAEMON_EXIT_USAGE;
    }
    if (options.check_only) {
        fprintf (stderr, "cabruca-broker: %s: configuration OK\n", config_path);
        cab_broker_config_destroy (&config);
        return CAB_DAEMON_EXIT_OK;
    }
    //  Signals: blocked in every thread, taken here with sigwait.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    zsys_set_logident ("cabruca-broker");
    zsys_set_logstream (stderr);

    //  libcurl (the http targets) initialised once, here, before any thread.
    curl_global_init (CURL_GLOBAL_DEFAULT);
    //  For the SIGHUP messages (the broker takes the configuration).
    char rules_path[1024];
    snprintf (rules_path, sizeof rules_path, "%s", config->rules_path ? config->rules_path : "-");
    cab_broker_t *broker = cab_broker_new (&config, &error);
    if (!broker) {
        fprintf (stderr, "cabruca-broker: cannot start: %s [%s]\n",
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        return error.code == CAB_ERR_INVALID_CONFIG ? CAB_DAEMON_EXIT_USAGE
                                                    : CAB_DAEMON_EXIT_SYSTEM;
    }
    fprintf (stderr, "cabruca-broker: ready on");
    for (size_t index = 0; cab_broker_endpoint (broker, index); index++)
        fprintf (stderr, " %s", cab_broker_endpoint (broker, index));
    fprintf (stderr, "\n");
    cab_daemon_notify_ready ("cabruca-broker", options.notify_fd);
    int signal_number = 0;
    while (sigwait (&signals, &signal_number) == 0 && signal_number == SIGHUP) {
        cab_error_clear (&error);
        if (cab_broker_reload (broker, &error) == CAB_OK)
            fprintf (stderr, "cabruca-broker: SIGHUP: rules reloaded\n");
        else
            fprintf (stderr, "cabruca-broker: SIGHUP: the old rules and budget stay: %s: %s [%s]\n",
                     rules_path, cab_error_format (&error, message, sizeof message),
                     cab_status_name (error.code));
    }
    fprintf (stderr, "cabruca-broker: %s: draining\n", strsignal (signal_number));
    cab_broker_destroy (&broker);
    curl_global_cleanup ();
    fprintf (stderr, "cabruca-broker: stopped\n");
    return CAB_DAEMON_EXIT_OK;
}
