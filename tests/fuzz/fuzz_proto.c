/*  =========================================================================
    fuzz_proto - the CAB/1 wire decoder (core/src/cab_proto.h).

    The input is split into frames at each newline byte ("CAB/1\nPUBLISH\n
    t1\n{...}" is a PUBLISH), made into a zmsg_t and decoded; what a peer
    would then parse (a PUBLISH or DELIVER event, a JSON body) is parsed.
    Oracles: a decoded message encodes again and decodes to the same
    fields; a failure is one of the documented codes with its text.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_proto.h"
#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    return 0;
}

static void
s_same (const cabi_proto_t *a, const cabi_proto_t *b)
{
    FUZZ_ASSERT (a->command == b->command && a->version == b->version);
    FUZZ_ASSERT (strcmp (a->tag, b->tag) == 0 && strcmp (a->agent_id, b->agent_id) == 0);
    FUZZ_ASSERT (strcmp (a->event_id, b->event_id) == 0 && a->seq == b->seq);
    FUZZ_ASSERT (a->duplicate == b->duplicate && a->code == b->code);
    FUZZ_ASSERT (strcmp (a->path, b->path) == 0 && strcmp (a->text, b->text) == 0);
    FUZZ_ASSERT (strcmp (a->queue, b->queue) == 0 && a->delivery == b->delivery);
    FUZZ_ASSERT (a->attempt == b->attempt && a->body_size == b->body_size);
    FUZZ_ASSERT (a->body_size == 0 || memcmp (a->body, b->body, a->body_size) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    FUZZ_ASSERT (msg);
    size_t start = 0;
    for (size_t index = 0; index <= size; index++)
        if (index == size || data[index] == '\n') {
            FUZZ_ASSERT (zmsg_addmem (msg, data + start, index - start) == 0);
            start = index + 1;
        }
    cabi_proto_t decoded;
    cab_error_t error;
    cab_status_t status = cabi_proto_decode (msg, &decoded, &error);
    if (status == CAB_OK) {
        zmsg_t *encoded = cabi_proto_encode (&decoded);
        FUZZ_ASSERT (encoded);
        cabi_proto_t again;
        FUZZ_ASSERT (cabi_proto_decode (encoded, &again, &error) == CAB_OK);
        s_same (&decoded, &again);
        zmsg_destroy (&encoded);
        //  What the receiving side parses next.
        if (decoded.command == CABI_PROTO_PUBLISH || decoded.command == CABI_PROTO_DELIVER) {
            cab_event_t *event = cab_event_load (decoded.body, decoded.body_size, &error);
            cab_event_destroy (&event);
        } else if (decoded.body) {
            json_t *body = json_loadb (decoded.body, decoded.body_size, 0, NULL);
            json_decref (body);
        }
    } else {
        FUZZ_ASSERT (status == CAB_ERR_PROTOCOL || status == CAB_ERR_UNSUPPORTED_VERSION ||
                     status == CAB_ERR_TOO_LARGE);
        FUZZ_ASSERT (error.code == status && error.text[0]);
    }
    zmsg_destroy (&msg);
    return 0;
}
