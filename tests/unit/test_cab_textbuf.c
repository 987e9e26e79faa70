/*  =========================================================================
    test_cab_textbuf - event texts shared with ZeroMQ: whoever lets go
    last frees the text (or pools it), the pool stays bounded, and a
    PUBLISH sent without a copy arrives whole after the publisher let go
    =========================================================================
*/
#include "cab_proto.h"
#include "cab_textbuf.h"
#include <check.h>
#include <errno.h>
#include <string.h>

START_TEST (test_pool_reuse)
{
    cabi_textpool_t pool = {0};
    ck_assert (cabi_textpool_set_max (&pool, 4));
    cabi_textbuf_t *first = cabi_textbuf_new (&pool, "{\"a\":1}", 7);
    ck_assert_ptr_nonnull (first);
    ck_assert_uint_eq (cabi_textbuf_size (first), 7);
    ck_assert_mem_eq (cabi_textbuf_data (first), "{\"a\":1}", 7);
    cabi_textbuf_t *kept = first;
    cabi_textbuf_release (&first, &pool);
    ck_assert_ptr_null (first);
    ck_assert_uint_eq (pool.count, 1);
    //  The next text takes the same buffer, with its own bytes and size.
    cabi_textbuf_t *second = cabi_textbuf_new (&pool, "[true,false]", 12);
    ck_assert_ptr_eq (second, kept);
    ck_assert_uint_eq (pool.count, 0);
    ck_assert_uint_eq (cabi_textbuf_size (second), 12);
    ck_assert_mem_eq (cabi_textbuf_data (second), "[true,false]", 12);
    //  Empty texts are texts too.
    cabi_textbuf_t *empty = cabi_textbuf_new (&pool, "", 0);
    ck_assert_ptr_nonnull (empty);
    ck_assert_uint_eq (cabi_textbuf_size (empty), 0);
    cabi_textbuf_release (&second, &pool);
    cabi_textbuf_release (&empty, &pool);
    ck_assert_uint_eq (pool.count, 2);
    cabi_textbuf_release (&empty, &pool);  //  NULL: nothing
    cabi_textbuf_release (NULL, &pool);
    ck_assert_uint_eq (pool.count, 2);
    cabi_textpool_fini (&pool);
    ck_assert_uint_eq (pool.count, 0);
    ck_assert_ptr_null (pool.items);
}
END_TEST

START_TEST (test_pool_bounds)
{
    cabi_textpool_t pool = {0};
    //  max 0: nothing kept.
    cabi_textbuf_t *text = cabi_textbuf_new (&pool, "x", 1);
    cabi_textbuf_release (&text, &pool);
    ck_assert_uint_eq (pool.count, 0);
    ck_assert (cabi_textpool_set_max (&pool, 2));
    cabi_textbuf_t *texts[3];
    for (int index = 0; index < 3; index++)
        texts[index] = cabi_textbuf_new (&pool, "abc", 3);
    for (int index = 0; index < 3; index++)
        cabi_textbuf_release (&texts[index], &pool);
    ck_assert_uint_eq (pool.count, 2);
    //  A text larger than a pooled buffer is allocated to size, never pooled.
    size_t size = CABI_TEXTBUF_POOLED + 1;
    char *big = malloc (size);
    memset (big, 'b', size);
    cabi_textbuf_t *large = cabi_textbuf_new (&pool, big, size);
    ck_assert_uint_eq (pool.count, 2);  //  The pooled ones were not taken
    ck_assert_mem_eq (cabi_textbuf_data (large), big, size);
    ck_assert (cabi_textpool_set_max (&pool, 3));
    cabi_textbuf_release (&large, &pool);
    ck_assert_uint_eq (pool.count, 2);
    //  The largest pooled size fits a pooled buffer.
    cabi_textbuf_t *edge = cabi_textbuf_new (&pool, big, CABI_TEXTBUF_POOLED);
    ck_assert_uint_eq (pool.count, 1);
    cabi_textbuf_release (&edge, &pool);
    ck_assert_uint_eq (pool.count, 2);
    //  Shrinking frees what is beyond the bound.
    ck_assert (cabi_textpool_set_max (&pool, 1));
    ck_assert_uint_eq (pool.count, 1);
    ck_assert (cabi_textpool_set_max (&pool, 0));
    ck_assert_uint_eq (pool.count, 0);
    free (big);
    cabi_textpool_fini (&pool);
}
END_TEST

//  Both orders of letting go: ZeroMQ last (it frees), the owner last (it pools).
START_TEST (test_shared_with_zeromq)
{
    cabi_textpool_t pool = {0};
    ck_assert (cabi_textpool_set_max (&pool, 4));
    cabi_textbuf_t *text = cabi_textbuf_new (&pool, "hello", 5);
    zmq_msg_t msg;
    ck_assert_int_eq (cabi_textbuf_msg (text, &msg), 0);
    ck_assert_ptr_eq (zmq_msg_data (&msg), cabi_textbuf_data (text));  //  No copy
    ck_assert_uint_eq (zmq_msg_size (&msg), 5);
    cabi_textbuf_release (&text, &pool);
    ck_assert_uint_eq (pool.count, 0);  //  ZeroMQ still holds it
    ck_assert_mem_eq (zmq_msg_data (&msg), "hello", 5);
    zmq_msg_close (&msg);  //  Frees it (a leak or a double free shows under valgrind/ASan)
    ck_assert_uint_eq (pool.count, 0);

    text = cabi_textbuf_new (&pool, "world", 5);
    ck_assert_int_eq (cabi_textbuf_msg (text, &msg), 0);
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    ck_assert_int_eq (zmq_msg_copy (&copy, &msg), 0);  //  One more holder, same reference
    zmq_msg_close (&msg);
    zmq_msg_close (&copy);
    cabi_textbuf_release (&text, &pool);
    ck_assert_uint_eq (pool.count, 1);  //  The owner was last: pooled
    cabi_textpool_fini (&pool);
}
END_TEST

//  A PUBLISH sent without a copy, its text released before the broker side
//  reads it: the frames arrive whole and decode.
START_TEST (test_send_publish)
{
    zsock_t *router = zsock_new_router ("inproc://textbuf");
    zsock_t *dealer = zsock_new_dealer (">inproc://textbuf");
    ck_assert_ptr_nonnull (router);
    ck_assert_ptr_nonnull (dealer);
    cabi_textpool_t pool = {0};
    ck_assert (cabi_textpool_set_max (&pool, 4));
    char event[1024];
    memset (event, 'e', sizeof event);
    event[0] = '{';
    cabi_textbuf_t *text = cabi_textbuf_new (&pool, event, sizeof event);
    zmq_msg_t msg;
    ck_assert_int_eq (cabi_textbuf_msg (text, &msg), 0);
    ck_assert_int_eq (cabi_proto_send_publish (zsock_resolve (dealer), "42", &msg), 0);
    cabi_textbuf_release (&text, &pool);
    zmsg_t *received = zmsg_recv (router);
    ck_assert_ptr_nonnull (received);
    zframe_t *routing = zmsg_pop (received);
    zframe_destroy (&routing);
    cabi_proto_t out;
    cab_error_t error;
    ck_assert_int_eq (cabi_proto_decode (received, &out, &error), CAB_OK);
    ck_assert_int_eq (out.command, CABI_PROTO_PUBLISH);
    ck_assert_str_eq (out.tag, "42");
    ck_assert_uint_eq (out.body_size, sizeof event);
    ck_assert_mem_eq (out.body, event, sizeof event);
    zmsg_destroy (&received);
    //  A tag longer than the protocol allows is cut to CABI_PROTO_TAG_MAX.
    char tag[CABI_PROTO_TAG_MAX + 10];
    memset (tag, '7', sizeof tag - 1);
    tag[sizeof tag - 1] = 0;
    text = cabi_textbuf_new (&pool, "{}", 2);
    ck_assert_int_eq (cabi_textbuf_msg (text, &msg), 0);
    ck_assert_int_eq (cabi_proto_send_publish (zsock_resolve (dealer), tag, &msg), 0);
    received = zmsg_recv (router);
    routing = zmsg_pop (received);
    zframe_destroy (&routing);
    ck_assert_int_eq (cabi_proto_decode (received, &out, &error), CAB_OK);
    ck_assert_uint_eq (strlen (out.tag), CABI_PROTO_TAG_MAX);
    zmsg_destroy (&received);
    cabi_textbuf_release (&text, &pool);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    cabi_textpool_fini (&pool);
}
END_TEST

//  A socket that cannot take the message: -1 EAGAIN, nothing sent, and
//  ZeroMQ's reference is given back (the owner's release pools the text).
START_TEST (test_send_refused)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);  //  No peer: nowhere to queue
    ck_assert_ptr_nonnull (dealer);
    cabi_textpool_t pool = {0};
    ck_assert (cabi_textpool_set_max (&pool, 4));
    cabi_textbuf_t *text = cabi_textbuf_new (&pool, "{\"k\":\"v\"}", 9);
    zmq_msg_t msg;
    ck_assert_int_eq (cabi_textbuf_msg (text, &msg), 0);
    errno = 0;
    ck_assert_int_eq (cabi_proto_send_publish (zsock_resolve (dealer), "1", &msg), -1);
    ck_assert_int_eq (errno, EAGAIN);
    cabi_textbuf_release (&text, &pool);
    ck_assert_uint_eq (pool.count, 1);
    zsock_destroy (&dealer);
    cabi_textpool_fini (&pool);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_textbuf");
    TCase *tcase = tcase_create ("textbuf");
    tcase_add_test (tcase, test_pool_reuse);
    tcase_add_test (tcase, test_pool_bounds);
    tcase_add_test (tcase, test_shared_with_zeromq);
    tcase_add_test (tcase, test_send_publish);
    tcase_add_test (tcase, test_send_refused);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
