/*  =========================================================================
    test_cab_proto - the wire codec: every message round-trips, and every
    malformed message is refused with the right code (docs/protocol.md)
    =========================================================================
*/
#include "cab_proto.h"
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  Build a message from a NULL-terminated list of frame strings.
static zmsg_t *
s_msg (const char *first, ...)
{
    zmsg_t *msg = zmsg_new ();
    va_list args;
    va_start (args, first);
    for (const char *frame = first; frame; frame = va_arg (args, const char *))
        zmsg_addstr (msg, frame);
    va_end (args);
    return msg;
}

static cab_status_t
s_decode (zmsg_t *msg, cabi_proto_t *out, cab_error_t *error)
{
    cab_error_clear (error);
    cab_status_t status = cabi_proto_decode (msg, out, error);
    zmsg_destroy (&msg);
    return status;
}

START_TEST (test_round_trip)
{
    cabi_proto_t out;
    cab_error_t error;
    const char *event = "{\"id\":\"x\"}";
    zmsg_t *msg = cabi_proto_new_publish ("17", event, strlen (event));
    ck_assert_int_eq (zmsg_size (msg), 4);
    cab_error_clear (&error);
    ck_assert_int_eq (cabi_proto_decode (msg, &out, &error), CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_PUBLISH);
    ck_assert_int_eq (out.version, 1);
    ck_assert_str_eq (out.tag, "17");
    ck_assert_uint_eq (out.body_size, strlen (event));
    ck_assert (memcmp (out.body, event, out.body_size) == 0);
    zmsg_destroy (&msg);

    ck_assert_int_eq (
        s_decode (cabi_proto_new_ack ("17", 12345678901234ULL, "id-1", true), &out, &error),
        CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_ACK);
    ck_assert (out.seq == 12345678901234ULL);
    ck_assert (out.duplicate);
    ck_assert_str_eq (out.event_id, "id-1");

    ck_assert_int_eq (s_decode (cabi_proto_new_nack ("9", CAB_ERR_SCHEMA_VIOLATION,
                                                     "/detail/severity", "must be one of"),
                                &out, &error),
                      CAB_OK);
    ck_assert_int_eq (out.code, CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (out.path, "/detail/severity");
    ck_assert_str_eq (out.text, "must be one of");

    ck_assert_int_eq (s_decode (cabi_proto_new_hello ("monitor-001", "{}"), &out, &error), CAB_OK);
    ck_assert_str_eq (out.agent_id, "monitor-001");
    ck_assert_uint_eq (out.body_size, 2);
    ck_assert_int_eq (s_decode (cabi_proto_new_hello ("monitor-001", NULL), &out, &error), CAB_OK);
    ck_assert_int_eq (
        s_decode (cabi_proto_new_error (CAB_ERR_DISCONNECTED, "send HELLO"), &out, &error), CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_ERROR);
    ck_assert_int_eq (out.code, CAB_ERR_DISCONNECTED);
    ck_assert_int_eq (
        s_decode (cabi_proto_new_json (CABI_PROTO_WELCOME, "{\"a\":1}"), &out, &error), CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_WELCOME);
    for (int command = CABI_PROTO_HEARTBEAT; command <= CABI_PROTO_BYE; command++) {
        if (command == CABI_PROTO_STATUS_REPLY || command == CABI_PROTO_ERROR)
            continue;
        ck_assert_int_eq (
            s_decode (cabi_proto_new_simple ((cabi_proto_command_t)command), &out, &error), CAB_OK);
        ck_assert_int_eq (out.command, command);
    }
}
END_TEST

START_TEST (test_malformed)
{
    cabi_proto_t out;
    cab_error_t error;
    //  Too few frames, no signature, another version, unknown command
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", NULL), &out, &error), CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (zmsg_new (), &out, &error), CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("HELLO", "x", NULL), &out, &error), CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/x", "HELLO", "a", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/2", "HELLO", "a", NULL), &out, &error),
                      CAB_ERR_UNSUPPORTED_VERSION);
    ck_assert_int_eq (out.version, 2);
    ck_assert_int_eq (out.command, CABI_PROTO_HELLO);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "JUMP", NULL), &out, &error), CAB_ERR_PROTOCOL);
    ck_assert_str_eq (error.text, "unknown command 'JUMP'");
    //  Wrong argument counts
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "PUBLISH", "1", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_str_eq (out.tag, "1");  //  So the broker can NACK it
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "HEARTBEAT", "x", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "HELLO", NULL), &out, &error), CAB_ERR_PROTOCOL);
    //  Bad tokens
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "HELLO", "bad agent", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "PUBLISH", "", "{}", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    char long_tag[80];
    memset (long_tag, 'a', sizeof long_tag - 1);
    long_tag[sizeof long_tag - 1] = 0;
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "PUBLISH", long_tag, "{}", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    //  Bad numbers
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "ACK", "1", "0", "i", "stored", NULL), &out, &error),
        CAB_ERR_PROTOCOL);
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "ACK", "1", "-5", "i", "stored", NULL), &out, &error),
        CAB_ERR_PROTOCOL);
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "ACK", "1", "99999999999999999999", "i", "stored", NULL), &out,
                  &error),
        CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "ACK", "1", "5", "i", "maybe", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "NACK", "1", "x", "N", "", "t", NULL), &out, &error),
        CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "ERROR", "70000", "N", "t", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    //  NUL bytes in a text frame
    zmsg_t *msg = s_msg ("CAB/1", "ERROR", "15", "ProtocolError", NULL);
    zmsg_addmem (msg, "a\0b", 3);
    ck_assert_int_eq (s_decode (msg, &out, &error), CAB_ERR_PROTOCOL);
    //  Too many frames
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "BYE", "1", "2", "3", "4", "5", "6", "7", "8", "9", NULL), &out,
                  &error),
        CAB_ERR_PROTOCOL);
}
END_TEST

//  The consuming and control commands (docs/protocol.md, "Consuming").
START_TEST (test_consuming)
{
    cabi_proto_t out;
    cab_error_t error;
    ck_assert_int_eq (
        s_decode (cabi_proto_new_subscribe (CABI_PROTO_SUBSCRIBE, "cicd", "{\"max_in_flight\":5}"),
                  &out, &error),
        CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_SUBSCRIBE);
    ck_assert_str_eq (out.queue, "cicd");
    ck_assert_uint_eq (out.body_size, 19);
    ck_assert_int_eq (
        s_decode (cabi_proto_new_subscribe (CABI_PROTO_SUBSCRIBE, "q.1_-x", NULL), &out, &error),
        CAB_OK);
    ck_assert_ptr_null (out.body);
    ck_assert_int_eq (s_decode (cabi_proto_new_unsubscribe ("cicd"), &out, &error), CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_UNSUBSCRIBE);
    ck_assert_int_eq (
        s_decode (cabi_proto_new_subscribe (CABI_PROTO_SUBSCRIBED, "cicd", "{\"ok\":true}"), &out,
                  &error),
        CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_SUBSCRIBED);
    const char *event = "{\"id\":\"x\"}";
    ck_assert_int_eq (s_decode (cabi_proto_new_deliver (18446744073709551615ULL, "cicd", 3, event,
                                                        strlen (event)),
                                &out, &error),
                      CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_DELIVER);
    ck_assert (out.delivery == 18446744073709551615ULL);
    ck_assert_int_eq (out.attempt, 3);
    ck_assert_str_eq (out.queue, "cicd");
    ck_assert_uint_eq (out.body_size, strlen (event));
    ck_assert_int_eq (s_decode (cabi_proto_new_dack (CABI_PROTO_DACK, 7, NULL), &out, &error),
                      CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_DACK);
    ck_assert (out.delivery == 7);
    ck_assert_int_eq (s_decode (cabi_proto_new_dack (CABI_PROTO_DNACK, 8, "busy"), &out, &error),
                      CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_DNACK);
    ck_assert_str_eq (out.text, "busy");
    ck_assert_int_eq (s_decode (cabi_proto_new_dack (CABI_PROTO_DNACK, 8, NULL), &out, &error),
                      CAB_OK);
    ck_assert_str_eq (out.text, "");
    ck_assert_int_eq (
        s_decode (cabi_proto_new_json (CABI_PROTO_CONTROL, "{\"op\":\"x\"}"), &out, &error),
        CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_CONTROL);
    ck_assert_int_eq (s_decode (cabi_proto_new_json (CABI_PROTO_CONTROL_REPLY, "{}"), &out, &error),
                      CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_CONTROL_REPLY);
    //  Malformed: bad queue names, ids, attempts, frame counts.
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "SUBSCRIBE", "bad queue", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "SUBSCRIBE", "", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "SUBSCRIBE", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "UNSUBSCRIBE", "q", "{}", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "DACK", "0", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "DACK", "12a", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "DACK", "18446744073709551616", NULL), &out, &error),
        CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "DNACK", "1", "a", "b", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "DELIVER", "1", "q", "0", "{}", NULL), &out, &error),
        CAB_ERR_PROTOCOL);
    ck_assert_int_eq (
        s_decode (s_msg ("CAB/1", "DELIVER", "1", "q", "1000", "{}", NULL), &out, &error),
        CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "DELIVER", "1", "q", "1", NULL), &out, &error),
                      CAB_ERR_PROTOCOL);
    ck_assert_int_eq (s_decode (s_msg ("CAB/1", "CONTROL", NULL), &out, &error), CAB_ERR_PROTOCOL);
    ck_assert (cabi_proto_queue_valid ("investigation"));
    ck_assert (!cabi_proto_queue_valid ("a/b"));
    ck_assert (!cabi_proto_queue_valid (NULL));
}
END_TEST

START_TEST (test_too_large)
{
    cabi_proto_t out;
    cab_error_t error;
    size_t size = CAB_EVENT_MAX_SIZE + 1;
    char *big = (char *)calloc (1, size);
    memset (big, ' ', size);
    ck_assert_int_eq (s_decode (cabi_proto_new_publish ("7", big, size), &out, &error),
                      CAB_ERR_TOO_LARGE);
    ck_assert_str_eq (out.tag, "7");
    ck_assert_int_eq (s_decode (cabi_proto_new_publish ("7", big, size - 1), &out, &error), CAB_OK);
    free (big);
}
END_TEST

START_TEST (test_agent_ids)
{
    ck_assert (cabi_proto_agent_id_valid ("monitor-001"));
    ck_assert (cabi_proto_agent_id_valid ("a.b_c-D9"));
    ck_assert (!cabi_proto_agent_id_valid (""));
    ck_assert (!cabi_proto_agent_id_valid (NULL));
    ck_assert (!cabi_proto_agent_id_valid ("a b"));
    ck_assert (!cabi_proto_agent_id_valid ("a/b"));
    char long_id[70];
    memset (long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    ck_assert (!cabi_proto_agent_id_valid (long_id));
    ck_assert_str_eq (cabi_proto_command_name (CABI_PROTO_STATUS_REPLY), "STATUS-REPLY");
    ck_assert_str_eq (cabi_proto_command_name (CABI_PROTO_COUNT_), "?");
}
END_TEST

//  Random bytes in every frame never crash the decoder.
//  The field helpers: decimal numbers, and copies cut to their buffer.
START_TEST (test_field_helpers)
{
    char number[21], expected[32];
    const uint64_t values[] = {0, 7, 9, 10, 99, 100, 1234567890, UINT64_MAX / 10, UINT64_MAX};
    for (size_t index = 0; index < sizeof values / sizeof values[0]; index++) {
        snprintf (expected, sizeof expected, "%" PRIu64, values[index]);
        ck_assert_str_eq (cabi_proto_decimal (number, values[index]), expected);
    }
    ck_assert_str_eq (number, "18446744073709551615");
    char small[5];
    cabi_proto_copy (small, sizeof small, "abcdefgh");
    ck_assert_str_eq (small, "abcd");
    cabi_proto_copy (small, sizeof small, "abcd");
    ck_assert_str_eq (small, "abcd");
    cabi_proto_copy (small, sizeof small, "ab");
    ck_assert_str_eq (small, "ab");
    cabi_proto_copy (small, sizeof small, NULL);
    ck_assert_str_eq (small, "");
    char one[1] = {'x'};
    cabi_proto_copy (one, sizeof one, "abc");
    ck_assert_int_eq (one[0], 0);
}
END_TEST

//  The frames a message encodes to, as one string per frame joined by '|'.
static void
s_join (zmsg_t *msg, char *out, size_t capacity)
{
    size_t length = 0;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        int written = snprintf (out + length, capacity - length, "%s%.*s", length ? "|" : "",
                                (int)zframe_size (frame), (const char *)zframe_data (frame));
        length += (size_t)written;
    }
}

//  cabi_proto_send makes the frames cabi_proto_encode makes, for every
//  command, through a real ROUTER (with the routing id) and DEALER; the
//  receiver's cabi_proto_recv + cabi_proto_decode_parts reads them back.
START_TEST (test_send_recv_parts)
{
    zsock_t *router = zsock_new_router ("inproc://proto-parts");
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, "peer-1");
    ck_assert_int_eq (zsock_connect (dealer, "inproc://proto-parts"), 0);
    zsock_set_router_mandatory (router, 1);
    cabi_proto_parts_t parts;
    ck_assert_int_eq (cabi_proto_recv (zsock_resolve (router), &parts), 0);  //  Nothing yet
    cabi_proto_t messages[6] = {
        {.command = CABI_PROTO_ACK, .seq = 18446744073709551615ULL, .duplicate = true},
        {.command = CABI_PROTO_NACK, .code = CAB_ERR_SCHEMA_VIOLATION},
        {.command = CABI_PROTO_DELIVER, .delivery = 7, .attempt = 3, .body = "{}", .body_size = 2},
        {.command = CABI_PROTO_ERROR, .code = CAB_ERR_DISCONNECTED},
        {.command = CABI_PROTO_WELCOME, .body = "{\"a\":1}", .body_size = 7},
        {.command = CABI_PROTO_HEARTBEAT},
    };
    cabi_proto_copy (messages[0].tag, sizeof messages[0].tag, "t-1");
    cabi_proto_copy (messages[0].event_id, sizeof messages[0].event_id, "0193-id");
    cabi_proto_copy (messages[1].tag, sizeof messages[1].tag, "t-2");
    cabi_proto_copy (messages[1].path, sizeof messages[1].path, "/detail/severity");
    cabi_proto_copy (messages[1].text, sizeof messages[1].text, "not one of the enum");
    cabi_proto_copy (messages[2].queue, sizeof messages[2].queue, "developer");
    cabi_proto_copy (messages[3].text, sizeof messages[3].text, "who are you");
    for (size_t index = 0; index < sizeof messages / sizeof messages[0]; index++) {
        const cabi_proto_t *in = &messages[index];
        ck_assert_int_eq (cabi_proto_send (zsock_resolve (router), "peer-1", 6, in), 0);
        zmsg_t *received = zmsg_recv (dealer);
        zmsg_t *encoded = cabi_proto_encode (in);
        char got[512], want[512];
        s_join (received, got, sizeof got);
        s_join (encoded, want, sizeof want);
        ck_assert_str_eq (got, want);
        zmsg_destroy (&encoded);
        //  Back the other way, read as parts (routing id first).
        ck_assert_int_eq (zmsg_send (&received, dealer), 0);
        int rc;
        while ((rc = cabi_proto_recv (zsock_resolve (router), &parts)) == 0)
            zclock_sleep (1);
        ck_assert_int_eq (rc, 1);
        ck_assert_mem_eq (zmq_msg_data (&parts.parts[0]), "peer-1", 6);
        cabi_proto_t out;
        cab_error_t error;
        ck_assert_int_eq (cabi_proto_decode_parts (&parts, 1, &out, &error), CAB_OK);
        ck_assert_int_eq (out.command, in->command);
        ck_assert_str_eq (out.tag, in->tag);
        ck_assert_str_eq (out.event_id, in->event_id);
        ck_assert_uint_eq (out.seq, in->seq);
        ck_assert_int_eq (out.duplicate, in->duplicate);
        ck_assert_int_eq (out.code, in->code);
        ck_assert_str_eq (out.path, in->path);
        ck_assert_str_eq (out.text, in->text);
        ck_assert_str_eq (out.queue, in->queue);
        ck_assert_uint_eq (out.delivery, in->delivery);
        ck_assert_int_eq (out.attempt, in->attempt);
        ck_assert_uint_eq (out.body_size, in->body_size);
        if (in->body_size)
            ck_assert_mem_eq (out.body, in->body, in->body_size);
        cabi_proto_parts_close (&parts);
        ck_assert_uint_eq (parts.count, 0);
    }
    //  No such peer on a mandatory ROUTER: -1 EHOSTUNREACH, nothing sent.
    errno = 0;
    ck_assert_int_eq (cabi_proto_send (zsock_resolve (router), "nobody", 6, &messages[5]), -1);
    ck_assert_int_eq (errno, EHOSTUNREACH);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
}
END_TEST

//  A message of more parts than any command has: held up to
//  CABI_PROTO_PARTS_MAX, the rest read and dropped, refused by decoding;
//  the next message is read whole.
START_TEST (test_recv_too_many_parts)
{
    zsock_t *pull = zsock_new_pull ("inproc://proto-many");
    zsock_t *push = zsock_new_push (">inproc://proto-many");
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "CAB/1");
    zmsg_addstr (msg, "HEARTBEAT");
    for (int index = 0; index < 30; index++)
        zmsg_addstr (msg, "x");
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
    msg = cabi_proto_new_simple (CABI_PROTO_BYE);
    ck_assert_int_eq (zmsg_send (&msg, push), 0);
    cabi_proto_parts_t parts;
    int rc;
    while ((rc = cabi_proto_recv (zsock_resolve (pull), &parts)) == 0)
        zclock_sleep (1);
    ck_assert_int_eq (rc, 1);
    ck_assert_uint_eq (parts.count, CABI_PROTO_PARTS_MAX);
    ck_assert_uint_eq (parts.total, 32);
    cabi_proto_t out;
    cab_error_t error;
    ck_assert_int_eq (cabi_proto_decode_parts (&parts, 0, &out, &error), CAB_ERR_PROTOCOL);
    ck_assert_ptr_nonnull (strstr (error.text, "too many frames"));
    //  Past the end, or a lone signature: refused, not read out of bounds.
    ck_assert_int_eq (cabi_proto_decode_parts (&parts, 40, &out, &error), CAB_ERR_PROTOCOL);
    ck_assert_int_eq (cabi_proto_decode_parts (&parts, 31, &out, &error), CAB_ERR_PROTOCOL);
    cabi_proto_parts_close (&parts);
    while ((rc = cabi_proto_recv (zsock_resolve (pull), &parts)) == 0)
        zclock_sleep (1);
    ck_assert_int_eq (rc, 1);
    ck_assert_uint_eq (parts.total, 2);
    ck_assert_int_eq (cabi_proto_decode_parts (&parts, 0, &out, &error), CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_BYE);
    cabi_proto_parts_close (&parts);
    zsock_destroy (&push);
    zsock_destroy (&pull);
}
END_TEST

START_TEST (test_fuzz)
{
    cabi_proto_t out;
    cab_error_t error;
    srand (42);
    const char *commands[] = {"HELLO", "PUBLISH", "ACK", "NACK", "ERROR", "WELCOME", "BYE"};
    for (int round = 0; round < 5000; round++) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, rand () % 8 ? "CAB/1" : "CAB/9");
        zmsg_addstr (msg, commands[rand () % 7]);
        int frames = rand () % 7;
        for (int frame = 0; frame < frames; frame++) {
            char bytes[40];
            size_t size = (size_t)(rand () % (int)sizeof bytes);
            for (size_t index = 0; index < size; index++)
                bytes[index] = (char)(rand () % 8 ? '0' + rand () % 10 : rand () % 256);
            zmsg_addmem (msg, bytes, size);
        }
        s_decode (msg, &out, &error);
    }
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_proto");
    TCase *tcase = tcase_create ("codec");
    tcase_add_test (tcase, test_round_trip);
    tcase_add_test (tcase, test_malformed);
    tcase_add_test (tcase, test_consuming);
    tcase_add_test (tcase, test_too_large);
    tcase_add_test (tcase, test_agent_ids);
    tcase_add_test (tcase, test_field_helpers);
    tcase_add_test (tcase, test_send_recv_parts);
    tcase_add_test (tcase, test_recv_too_many_parts);
    tcase_add_test (tcase, test_fuzz);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
