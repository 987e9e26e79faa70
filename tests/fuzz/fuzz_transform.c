/*  =========================================================================
    fuzz_transform - EventBridge input transformers (cab_transform,
    core/daemon): compile one from arbitrary JSON and apply it.

    The input is a transformer object, a newline, then an event's JSON
    text; with nothing after the newline the example events are used.
    Oracles: a failure to compile is InvalidConfig or OutOfMemory; an
    output is NUL-terminated, of the size it claims, at most
    CAB_EVENT_MAX_SIZE bytes; applying twice gives the same output.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_transform.h"
#include <string.h>

static const char *const *s_event;
static size_t s_event_count;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    s_event = fuzz_examples (&s_event_count);
    return 0;
}

static void
s_apply (cab_transform_t *transform, const char *event, size_t length)
{
    char *out = NULL, *again = NULL;
    size_t size = 0, size_again = 0;
    cab_error_t error;
    cab_status_t status = cab_transform_apply (transform, event, length, "fuzz-rule", 1795341600000,
                                               &out, &size, &error);
    if (status == CAB_OK) {
        FUZZ_ASSERT (out && out[size] == 0 && size <= CAB_EVENT_MAX_SIZE);
        FUZZ_ASSERT (cab_transform_apply (transform, event, length, "fuzz-rule", 1795341600000,
                                          &again, &size_again, &error) == CAB_OK);
        FUZZ_ASSERT (size == size_again && memcmp (out, again, size) == 0);
    } else
        FUZZ_ASSERT (error.code == status &&
                     (status == CAB_ERR_INVALID_JSON || status == CAB_ERR_INVALID_UTF8 ||
                      status == CAB_ERR_TOO_DEEP || status == CAB_ERR_TOO_LARGE ||
                      status == CAB_ERR_NOMEM));
    free (out);
    free (again);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *newline = memchr (text, '\n', size);
    size_t head = newline ? (size_t)(newline - text) : size;
    json_t *document = json_loadb (text, head, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!document)
        return 0;
    cab_error_t error;
    cab_transform_t *transform = cab_transform_new (document, &error);
    if (transform) {
        if (newline && size - head > 1)
            s_apply (transform, newline + 1, size - head - 1);
        else
            for (size_t index = 0; index < s_event_count; index++)
                s_apply (transform, s_event[index], strlen (s_event[index]));
        cab_transform_destroy (&transform);
    } else
        FUZZ_ASSERT (error.code == CAB_ERR_INVALID_CONFIG || error.code == CAB_ERR_NOMEM);
    json_decref (document);
    return 0;
}
