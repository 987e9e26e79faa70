/*  =========================================================================
    fuzz_broker_config - the broker's configuration parser
    (cab_broker_config_parse, core/broker) on arbitrary JSON.

    Oracles: a failure is CAB_ERR_INVALID_CONFIG (or CAB_ERR_NOMEM) with its
    JSON Pointer; a parsed configuration holds values within the bounds of
    docs/man/cabruca-broker.md.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_broker.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *document =
        json_loadb ((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!document)
        return 0;
    cab_error_t error;
    cab_broker_config_t *config = cab_broker_config_parse (document, "/fuzz/base", &error);
    if (config) {
        FUZZ_ASSERT (config->endpoint_count <= CAB_BROKER_MAX_ENDPOINTS);
        FUZZ_ASSERT (config->max_in_flight >= 1 && config->max_in_flight <= CAB_BROKER_MAX_WINDOW);
        FUZZ_ASSERT (config->batch_max >= 1 && config->batch_max <= CAB_BROKER_MAX_BATCH);
        FUZZ_ASSERT (config->max_peers >= 1 && config->max_peers <= CAB_BROKER_MAX_PEERS);
        FUZZ_ASSERT (config->validators <= CAB_BROKER_MAX_VALIDATORS);
        FUZZ_ASSERT (config->timeout_ms >= 2 * config->heartbeat_ms);
        const char *key;
        json_t *agent;
        json_object_foreach (config->agents, key, agent)
        {
            json_t *source = json_array_get (json_object_get (agent, "sources"), 0);
            if (json_is_string (source))
                FUZZ_ASSERT (cab_broker_config_allows (config, key, json_string_value (source)));
        }
        cab_broker_config_destroy (&config);
    } else
        FUZZ_ASSERT (error.code == CAB_ERR_INVALID_CONFIG || error.code == CAB_ERR_NOMEM);
    json_decref (document);
    return 0;
}
