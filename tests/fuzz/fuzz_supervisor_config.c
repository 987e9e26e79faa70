/*  =========================================================================
    fuzz_supervisor_config - the supervisor's configuration parser
    (cab_supervisor_config_parse, core/supervisor) on arbitrary text.

    Oracles: a refusal is InvalidJson, InvalidConfig (with a JSON Pointer),
    TooLarge or OutOfMemory; an accepted configuration holds its documented
    bounds (programs, instances, arguments, environment, dependencies, names),
    its arrays are NULL-terminated, every program is found by its name, and
    a definition's references count.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_supervisor_config.h"
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cab_error_t error;
    cab_error_clear (&error);
    cab_supervisor_config_t *config =
        cab_supervisor_config_parse ((const char *)data, size, "/fuzz/base", &error);
    if (!config) {
        FUZZ_ASSERT (error.code == CAB_ERR_INVALID_JSON || error.code == CAB_ERR_INVALID_CONFIG ||
                     error.code == CAB_ERR_TOO_LARGE || error.code == CAB_ERR_NOMEM);
        FUZZ_ASSERT (error.text[0]);
        return 0;
    }
    FUZZ_ASSERT (config->program_count <= CAB_SUPERVISOR_MAX_PROGRAMS);
    FUZZ_ASSERT (config->run_dir && config->log_dir);
    for (size_t index = 0; index < config->program_count; index++) {
        cab_program_def_t *def = config->programs[index];
        FUZZ_ASSERT (def && def->name && def->name[0]);
        FUZZ_ASSERT (strlen (def->name) <= CAB_SUPERVISOR_NAME_MAX);
        FUZZ_ASSERT (def->argc >= 1 && def->argc <= CAB_SUPERVISOR_MAX_ARGS);
        FUZZ_ASSERT (def->argv[def->argc] == NULL && def->argv[0]);
        FUZZ_ASSERT (def->env_count <= CAB_SUPERVISOR_MAX_ENV);
        FUZZ_ASSERT (!def->env || def->env[def->env_count] == NULL);
        for (size_t e = 0; e < def->env_count; e++)
            FUZZ_ASSERT (strchr (def->env[e], '='));
        FUZZ_ASSERT (def->instances >= 1 && def->instances <= CAB_SUPERVISOR_MAX_INSTANCES);
        FUZZ_ASSERT (def->depends_count <= CAB_SUPERVISOR_MAX_DEPENDS);
        FUZZ_ASSERT (def->restart <= CAB_RESTART_NEVER);
        FUZZ_ASSERT (def->backoff_initial_ms >= 0 &&
                     def->backoff_maximum_ms >= def->backoff_initial_ms);
        FUZZ_ASSERT (def->stop_timeout_ms >= 0);
        FUZZ_ASSERT (strcmp (cab_supervisor_signal_name (def->stop_signal), "?") != 0);
        FUZZ_ASSERT (cab_supervisor_config_find (config, def->name) == def);
        FUZZ_ASSERT (json_is_object (def->normalized));
        cab_program_def_t *extra = cab_program_def_ref (def);
        cab_program_def_unref (&extra);
        FUZZ_ASSERT (extra == NULL);
    }
    cab_supervisor_config_destroy (&config);
    FUZZ_ASSERT (config == NULL);
    return 0;
}
