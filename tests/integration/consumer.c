/*  =========================================================================
    consumer - a consuming agent on the public cab_client API, for the
    delivery tests (tests/integration/delivery-*.sh)

    It subscribes to one queue, prints `SUBSCRIBED <queue>` on stdout once
    the broker confirmed, and handles deliveries: acknowledges them (DACK),
    or refuses them (DNACK) when told to, or dies on the spot with SIGKILL
    without acknowledging (a consumer killed mid-delivery). With --record it
    writes one line per delivery, flushed at once so that a SIGKILL loses
    nothing:

        <delivery-id> <attempt> <event-id> ack|nack|hold|die <replay-name or ->

    usage: consumer --broker ENDPOINT --agent ID --queue QUEUE [--count N]
                    [--die-after K] [--nack-first] [--hold] [--record FILE]
                    [--texts FILE] [--max-in-flight N] [--pattern JSON]
                    [--durable] [--linger MS] [--timeout MS] [--slow-ms MS]

    --count N      exit 0 once N distinct delivery ids were acknowledged (0:
                   run until --timeout or SIGTERM, then exit 0)
    --die-after K  raise SIGKILL on receiving the K-th delivery (not acked)
    --nack-first   refuse every first attempt (attempt 1), ack later ones
    --hold         answer no delivery at all (CAB_CLIENT_LATER, never settled),
                   while staying connected: the broker's ack timeout applies
    --texts FILE   append each delivered event text, one a line
    --linger MS    after --count is reached, go on handling (and recording)
                   deliveries for MS milliseconds
    --slow-ms MS   spend MS milliseconds in each delivery before answering
    Exit: 0 done, 1 --count not reached before --timeout, 100 usage, 111
    could not subscribe.
    =========================================================================
*/
#include <cabruca.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define streq(a, b) (strcmp ((a), (b)) == 0)

//  A set of delivery ids (open addressing; 0 is never a delivery id).
typedef struct {
    uint64_t *slots;
    size_t capacity, size;
} s_set_t;

typedef struct {
    s_set_t acked;   //  distinct delivery ids acknowledged
    long received;   //  deliveries handled
    long die_after;  //  0: never
    bool nack_first, hold;
    long slow_ms;
    FILE *record, *texts;
} s_state_t;

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signal_number)
{
    (void)signal_number;
    s_stop = 1;
}

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static size_t
s_hash (uint64_t key, size_t capacity)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)(key & (capacity - 1));
}

//  Add key; returns true when it was new. Exits on out of memory (a test driver).
static bool
s_set_add (s_set_t *self, uint64_t key)
{
    if (2 * (self->size + 1) > self->capacity) {
        s_set_t bigger = {calloc (self->capacity * 2, sizeof (uint64_t)), self->capacity * 2, 0};
        if (!bigger.slots) {
            fprintf (stderr, "consumer: out of memory\n");
            exit (111);
        }
        for (size_t index = 0; index < self->capacity; index++)
            if (self->slots[index])
                s_set_add (&bigger, self->slots[index]);
        free (self->slots);
        *self = bigger;
    }
    size_t slot = s_hash (key, self->capacity);
    while (self->slots[slot]) {
        if (self->slots[slot] == key)
            return false;
        slot = (slot + 1) & (self->capacity - 1);
    }
    self->slots[slot] = key;
    self->size++;
    return true;
}

//  The top-level "replay-name" of an event text, copied into name ("-" if none).
static void
s_replay_name (const char *text, size_t size, char *name, size_t capacity)
{
    snprintf (name, capacity, "-");
    json_t *event = json_loadb (text, size, 0, NULL);
    const char *value = json_string_value (json_object_get (event, "replay-name"));
    if (value && *value)
        snprintf (name, capacity, "%s", value);
    json_decref (event);
}

static int
s_on_delivery (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    s_state_t *state = (s_state_t *)arg;
    state->received++;
    const char *action = "ack";
    if (state->die_after > 0 && state->received >= state->die_after)
        action = "die";
    else if (state->hold)
        action = "hold";
    else if (state->nack_first && delivery->attempt <= 1)
        action = "nack";
    if (state->record) {
        char replay[128];
        s_replay_name (delivery->text, delivery->size, replay, sizeof replay);
        fprintf (state->record, "%" PRIu64 " %d %s %s %s\n", delivery->delivery, delivery->attempt,
                 delivery->event_id && *delivery->event_id ? delivery->event_id : "-", action,
                 replay);
        fflush (state->record);
    }
    if (state->texts) {
        fwrite (delivery->text, 1, delivery->size, state->texts);
        fputc ('\n', state->texts);
        fflush (state->texts);
    }
    if (streq (action, "die"))
        raise (SIGKILL);  //  mid-delivery: received, never acknowledged
    if (state->slow_ms > 0) {
        struct timespec pause = {state->slow_ms / 1000, (state->slow_ms % 1000) * 1000000};
        while (nanosleep (&pause, &pause) != 0 && errno == EINTR)
            ;
    }
    if (streq (action, "hold"))
        return CAB_CLIENT_LATER;
    if (streq (action, "nack"))
        return 1;
    s_set_add (&state->acked, delivery->delivery);
    return 0;
}

static long
s_number (const char *text, const char *option)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || !end || *end || value < 0) {
        fprintf (stderr, "consumer: %s needs a number, got '%s'\n", option, text);
        exit (100);
    }
    return value;
}

static FILE *
s_open (const char *path)
{
    FILE *file = fopen (path, "a");
    if (!file) {
        fprintf (stderr, "consumer: cannot open %s: %s\n", path, strerror (errno));
        exit (111);
    }
    return file;
}

//  How long to wait for SUBSCRIBED, whatever --timeout says: a loaded
//  machine can take seconds to answer a durable subscription (fsync).
#define S_SUBSCRIBE_WAIT_MS 20000

int
main (int argc, char **argv)
{
    const char *endpoint = NULL, *agent = NULL, *queue = NULL, *pattern = NULL;
    long count = 0, max_in_flight = 0, linger_ms = 0, timeout_ms = 60000;
    bool durable = false;
    s_state_t state = {
        {calloc (1024, sizeof (uint64_t)), 1024, 0}, 0, 0, false, false, 0, NULL, NULL};
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (streq (arg, "--nack-first"))
            state.nack_first = true;
        else if (streq (arg, "--hold"))
            state.hold = true;
        else if (streq (arg, "--durable"))
            durable = true;
        else if (!value) {
            fprintf (stderr, "consumer: unknown or incomplete option '%s'\n", arg);
            return 100;
        } else {
            index++;
            if (streq (arg, "--broker"))
                endpoint = value;
            else if (streq (arg, "--agent"))
                agent = value;
            else if (streq (arg, "--queue"))
                queue = value;
            else if (streq (arg, "--pattern"))
                pattern = value;
            else if (streq (arg, "--count"))
                count = s_number (value, arg);
            else if (streq (arg, "--die-after"))
                state.die_after = s_number (value, arg);
            else if (streq (arg, "--max-in-flight"))
                max_in_flight = s_number (value, arg);
            else if (streq (arg, "--linger"))
                linger_ms = s_number (value, arg);
            else if (streq (arg, "--timeout"))
                timeout_ms = s_number (value, arg);
            else if (streq (arg, "--slow-ms"))
                state.slow_ms = s_number (value, arg);
            else if (streq (arg, "--record"))
                state.record = s_open (value);
            else if (streq (arg, "--texts"))
                state.texts = s_open (value);
            else {
                fprintf (stderr, "consumer: unknown option '%s'\n", arg);
                return 100;
            }
        }
    }
    if (!agent || !queue || !state.acked.slots) {
        fprintf (stderr, "usage: consumer --broker ENDPOINT --agent ID --queue QUEUE [--count N] "
                         "[--die-after K] [--nack-first] [--hold] [--record FILE] [--texts FILE] "
                         "[--max-in-flight N] [--pattern JSON] [--durable] [--linger MS] "
                         "[--timeout MS] [--slow-ms MS]\n");
        return 100;
    }
    json_t *options = json_object ();
    if (max_in_flight > 0)
        json_object_set_new (options, "max_in_flight", json_integer (max_in_flight));
    if (pattern) {
        json_error_t json_error;
        json_t *compiled = json_loads (pattern, 0, &json_error);
        if (!compiled) {
            fprintf (stderr, "consumer: --pattern: %s\n", json_error.text);
            return 100;
        }
        json_object_set_new (options, "pattern", compiled);
        if (durable)
            json_object_set_new (options, "durable", json_true ());
    }
    cab_error_t error;
    cab_error_clear (&error);
    int64_t deadline = s_now_ms () + timeout_ms;
    cab_client_t *client = cab_client_new (endpoint, agent, &error);
    //  After the client: ZeroMQ's library installs its own handlers when it starts.
    signal (SIGTERM, s_on_signal);
    signal (SIGINT, s_on_signal);
    //  CURVE (curve.sh) as the shipped agents take it: from the environment.
    const char *cert = getenv ("CABRUCA_CURVE_CERT"), *server = getenv ("CABRUCA_SERVER_CERT");
    if (client && cert && server && cab_client_set_curve (client, cert, server, &error) != CAB_OK)
        cab_client_destroy (&client);
    if (!client || cab_client_subscribe (client, queue, options, s_on_delivery, &state,
                                         S_SUBSCRIBE_WAIT_MS, &error) != CAB_OK) {
        fprintf (stderr, "consumer: cannot subscribe to %s: %s [%s %s]\n", queue, error.text,
                 cab_status_name (error.code), error.path);
        json_decref (options);
        cab_client_destroy (&client);
        free (state.acked.slots);
        return 111;
    }
    json_decref (options);
    printf ("SUBSCRIBED %s\n", queue);
    fflush (stdout);

    int exit_code = 0;
    int64_t linger_until = 0;
    while (!s_stop) {
        int64_t now = s_now_ms ();
        if (count > 0 && !linger_until && (long)state.acked.size >= count)
            linger_until = now + linger_ms;
        if (linger_until && now >= linger_until)
            break;
        if (now >= deadline) {
            if (count > 0) {
                fprintf (stderr, "consumer: %s: %zu of %ld deliveries acknowledged in %ld ms\n",
                         queue, state.acked.size, count, timeout_ms);
                exit_code = 1;
            }
            break;
        }
        cab_client_poll (client, 50);
    }
    //  A round trip: every DACK sent before it has reached the broker.
    json_t *report = NULL;
    cab_client_status (client, &report, 5000, NULL);
    json_decref (report);
    fprintf (stderr, "consumer: %s: %ld deliveries, %zu distinct acknowledged\n", queue,
             state.received, state.acked.size);
    cab_client_destroy (&client);
    if (state.record)
        fclose (state.record);
    if (state.texts)
        fclose (state.texts);
    free (state.acked.slots);
    return exit_code;
}
