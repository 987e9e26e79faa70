/*  =========================================================================
    fuzz_event - the event envelope parser: cab_event_load and
    cab_event_new_from_json on arbitrary bytes.

    Oracles: both entries accept the same inputs (except a NUL byte outside
    a string, which jansson may read past and cab_event_load refuses); a
    loaded event keeps its
    bytes and passes cab_event_check; an event whose detail was changed
    serialises to text that loads again.
    =========================================================================
*/
#include "fuzz.h"
#include <cabruca.h>
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    return 0;
}

//  Read every accessor, as a consumer of the event would.
static void
s_read (cab_event_t *event)
{
    FUZZ_ASSERT (cab_event_id (event) && cab_event_source (event));
    FUZZ_ASSERT (cab_event_detail_type (event) && cab_event_time (event));
    size_t length = 0;
    length += cab_event_schema_version (event) ? strlen (cab_event_schema_version (event)) : 0;
    length += cab_event_agent_id (event) ? strlen (cab_event_agent_id (event)) : 0;
    length += cab_event_correlation_id (event) ? strlen (cab_event_correlation_id (event)) : 0;
    int64_t millis;
    FUZZ_ASSERT (cab_time_parse (cab_event_time (event), &millis) == CAB_OK);
    FUZZ_ASSERT (cab_uuid_valid (cab_event_id (event)));
    (void)length;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cab_error_t error;
    cab_event_t *loaded = cab_event_load (text, size, &error);
    if (loaded) {
        s_read (loaded);
        size_t length = 0;
        const char *kept = cab_event_text (loaded, &length);
        FUZZ_ASSERT (kept && length == size && memcmp (kept, text, size) == 0);
        FUZZ_ASSERT (cab_event_check (loaded, &error) == CAB_OK);
        //  Changing the detail drops the bytes: the new text loads again.
        json_t *detail = cab_event_detail (loaded);
        FUZZ_ASSERT (json_object_set_new (detail, "fuzz", json_true ()) == 0);
        kept = cab_event_text (loaded, &length);
        FUZZ_ASSERT (kept);
        cab_event_t *again = cab_event_load (kept, length, &error);
        FUZZ_ASSERT (again || error.code == CAB_ERR_TOO_LARGE);
        cab_event_destroy (&again);
    } else
        FUZZ_ASSERT (error.code != CAB_OK);

    //  The document entry, on what jansson parses as cab_event_load does.
    json_t *document = json_loadb (text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (document) {
        cab_event_t *built = cab_event_new_from_json (document, &error);
        //  jansson reads past a NUL byte after a number ("1\0,"); the
        //  builder cab_event_load parses with refuses it (the json target).
        FUZZ_ASSERT (!built == !loaded || (!loaded && memchr (text, 0, size)));
        if (built) {
            s_read (built);
            FUZZ_ASSERT (cab_event_text (built, NULL));
        }
        cab_event_destroy (&built);
    }
    cab_event_destroy (&loaded);
    return 0;
}
