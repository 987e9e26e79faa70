/*  =========================================================================
    control_stub - a stand-in broker that answers CONTROL requests with
    canned documents, so that the CLI's tables can be tested against known
    figures (tests/integration/cli-budget.sh).

    control_stub ENDPOINT DIR

    Binds a ROUTER on ENDPOINT and answers each `CAB/1 CONTROL {"op": OP}`
    with `CAB/1 CONTROL-REPLY` and the contents of DIR/OP.json (read at each
    request, so a test can change the answer), or with the broker's refusal
    of an unknown op when there is no such file. Prints "ready" on stdout once
    bound; runs until SIGTERM or SIGINT. Anything else it receives is ignored.
    =========================================================================
*/
#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Largest canned answer (the protocol's bound on a json-object).
#define S_ANSWER_MAX 65536

//  DIR/OP.json as a frame, or NULL when there is none.
static zframe_t *
s_canned (const char *dir, const char *op)
{
    char path[4096];
    if (strchr (op, '/') || snprintf (path, sizeof path, "%s/%s.json", dir, op) >= (int)sizeof path)
        return NULL;
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *buffer = malloc (S_ANSWER_MAX);
    size_t size = buffer ? fread (buffer, 1, S_ANSWER_MAX, file) : 0;
    fclose (file);
    while (size > 0 && (buffer[size - 1] == '\n' || buffer[size - 1] == ' '))
        size--;
    zframe_t *frame = buffer ? zframe_new (buffer, size) : NULL;
    free (buffer);
    return frame;
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: control_stub ENDPOINT DIR\n");
        return 100;
    }
    zsys_handler_reset ();
    zsys_catch_interrupts ();
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    if (!router || zsock_bind (router, "%s", argv[1]) < 0) {
        fprintf (stderr, "control_stub: cannot bind %s\n", argv[1]);
        zsock_destroy (&router);
        return 111;
    }
    zsock_set_rcvtimeo (router, 200);
    printf ("ready\n");
    fflush (stdout);
    while (!zsys_interrupted) {
        zmsg_t *msg = zmsg_recv (router);
        if (!msg)
            continue;
        zframe_t *identity = zmsg_pop (msg);
        char *signature = zmsg_popstr (msg);
        char *command = zmsg_popstr (msg);
        zframe_t *body = zmsg_pop (msg);
        if (identity && signature && command && body && streq (signature, "CAB/1") &&
            streq (command, "CONTROL")) {
            json_t *request =
                json_loadb ((const char *)zframe_data (body), zframe_size (body), 0, NULL);
            const char *op = json_string_value (json_object_get (request, "op"));
            zframe_t *answer = op ? s_canned (argv[2], op) : NULL;
            if (!answer) {
                char text[256];
                snprintf (text, sizeof text,
                          "{\"ok\": false, \"code\": 2, \"error\": \"InvalidArgument\", "
                          "\"path\": \"/op\", \"message\": \"unknown op '%.64s'\"}",
                          op ? op : "");
                answer = zframe_new (text, strlen (text));
            }
            zmsg_t *reply = zmsg_new ();
            zmsg_append (reply, &identity);
            zmsg_addstr (reply, "CAB/1");
            zmsg_addstr (reply, "CONTROL-REPLY");
            zmsg_append (reply, &answer);
            zmsg_send (&reply, router);
            json_decref (request);
        }
        zframe_destroy (&identity);
        zframe_destroy (&body);
        free (signature);
        free (command);
        zmsg_destroy (&msg);
    }
    zsock_destroy (&router);
    return 0;
}
