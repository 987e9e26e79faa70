/*  =========================================================================
    fuzz_schema_validate - the validator: the registry of schemas/ (the
    envelope and every event type) and the draft-07 metaschema against an
    arbitrary instance.

    The input, if jansson parses it, is validated against every schema; as
    text it goes through cab_event_load and cab_registry_validate, as the
    broker does. Oracles: results are CAB_OK or documented errors; the same
    schema gives the same answer twice (no state kept between calls).
    =========================================================================
*/
#include "fuzz.h"
#include <cabruca.h>
#include <string.h>

static cab_registry_t *s_registry;
static cab_schema_t *s_schema[64];
static size_t s_schema_count;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    char dir[1024];
    snprintf (dir, sizeof dir, "%s/schemas", fuzz_srcdir ());
    cab_error_t error;
    s_registry = cab_registry_new ();
    FUZZ_ASSERT (s_registry);
    if (cab_registry_load_dir (s_registry, dir, &error) != CAB_OK) {
        fprintf (stderr, "fuzz_schema_validate: %s: %s\n", dir, error.text);
        abort ();
    }
    for (size_t index = 0; index < cab_registry_size (s_registry) && s_schema_count < 63; index++) {
        const char *source, *detail_type, *version;
        FUZZ_ASSERT (cab_registry_entry (s_registry, index, &source, &detail_type, &version,
                                         NULL) == CAB_OK);
        s_schema[s_schema_count] =
            cab_registry_lookup (s_registry, source, detail_type, version, &error);
        FUZZ_ASSERT (s_schema[s_schema_count]);
        s_schema_count++;
    }
    //  The draft-07 metaschema, built in: a schema that uses every keyword.
    json_t *meta = json_pack ("{s:s}", "$ref", "http://json-schema.org/draft-07/schema#");
    s_schema[s_schema_count] = cab_schema_new (meta, &error);
    json_decref (meta);
    FUZZ_ASSERT (s_schema[s_schema_count]);
    s_schema_count++;
    return 0;
}

static cab_status_t
s_validate (cab_schema_t *schema, const json_t *instance)
{
    cab_error_t error;
    cab_status_t status = cab_schema_validate (schema, instance, &error);
    FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_SCHEMA_VIOLATION ||
                 status == CAB_ERR_TOO_DEEP || status == CAB_ERR_TOO_LARGE);
    FUZZ_ASSERT (status == CAB_OK || (error.code == status && error.text[0]));
    return status;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *instance = json_loadb (text, size, JSON_DECODE_ANY, NULL);
    if (instance) {
        for (size_t index = 0; index < s_schema_count; index++) {
            cab_status_t status = s_validate (s_schema[index], instance);
            if (index == 0)
                FUZZ_ASSERT (s_validate (s_schema[index], instance) == status);
        }
        cab_error_t error;
        cab_status_t status = cab_registry_validate_json (s_registry, instance, &error);
        FUZZ_ASSERT (status == CAB_OK || error.code == status);
        json_decref (instance);
    }
    cab_error_t error;
    cab_event_t *event = cab_event_load (text, size, &error);
    if (event) {
        cab_status_t status = cab_registry_validate (s_registry, event, &error);
        FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_INVALID_ENVELOPE ||
                     status == CAB_ERR_UNKNOWN_EVENT_TYPE || status == CAB_ERR_SCHEMA_VIOLATION ||
                     status == CAB_ERR_TOO_DEEP);
        cab_event_destroy (&event);
    }
    return 0;
}
