/*  =========================================================================
    loadtest - shared between cabruca-loadtest's files (not installed)

    cabruca-loadtest runs N simulated agents, each a thread with its own
    cab_client (its own DEALER socket and session), publishing a mix of the
    four agent event types at a target rate, and reports what the broker
    acknowledged and how fast. See docs/man/cabruca-loadtest.md.
    =========================================================================
*/
#ifndef LOADTEST_H_INCLUDED
#define LOADTEST_H_INCLUDED

#include <cabruca.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

//  Latency histogram: logarithmic buckets 1% wide from 1 us to about 20 min,
//  so percentiles are within 1% whatever the run's length, in constant memory.
#define LT_HIST_BUCKETS 2100

typedef struct {
    uint64_t counts[LT_HIST_BUCKETS];
    uint64_t total;
    int64_t max_us;
} lt_hist_t;

//  Record one latency in microseconds (values below 1 us count as 1 us).
void lt_hist_add (lt_hist_t *self, int64_t latency_us);

//  Add every count of other into self.
void lt_hist_merge (lt_hist_t *self, const lt_hist_t *other);

//  Return the latency at percentile p (0 < p <= 100) in microseconds: the
//  upper edge of the bucket holding it; 0 for an empty histogram.
double lt_hist_percentile (const lt_hist_t *self, double p);

//  The four agent types whose events the load test publishes.
typedef enum { LT_MONITOR, LT_PRODUCT, LT_DEVELOPER, LT_TESTER, LT_TYPES } lt_type_t;

//  Return the agent type's name ("monitor", ...).
const char *lt_type_name (lt_type_t type);

//  Build the k-th event an agent of this type publishes: a valid event of
//  the type's schema with varied, realistic field values, padded to about
//  pad_bytes of JSON text when pad_bytes is larger than the natural size.
//  Returns a new event or NULL with error filled.
cab_event_t *lt_event_new (lt_type_t type, const char *agent_id, uint64_t k, size_t pad_bytes,
                           cab_error_t *error);

//  What one run is asked to do (from the command line).
typedef struct {
    const char *endpoint;  //  NULL: $CABRUCA_BROKER or the default
    size_t agents;
    uint64_t events_per_agent;  //  0: until the duration ends
    double duration_s;          //  0: until every agent sent its events
    double rate;                //  Events/s over all agents; 0: as fast as the windows allow
    size_t window;
    size_t pad_bytes;
    double drain_s;    //  Wait this long for the last answers
    double connect_s;  //  Wait this long for every session
} lt_options_t;

//  One simulated agent: its thread, its counters.
typedef struct {
    const lt_options_t *options;  //  Borrowed
    lt_type_t type;
    char agent_id[65];
    pthread_t thread;
    //  Set by the thread
    bool connected;
    cab_status_t failure;  //  Why it could not run (CAB_OK if it ran)
    char failure_text[CAB_ERROR_TEXT_MAX];
    uint64_t sent, acked, duplicates, nacked, busy_waits;
    uint64_t nacked_by_code[CAB_STATUS_COUNT_];
    int64_t first_send_us, last_answer_us;
    int64_t *sent_at;  //  Ring: intended send time by publish number
    size_t ring;
    lt_hist_t hist;
} lt_agent_t;

//  Start time shared by the agents (monotonic us), set once all are connected.
typedef struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    size_t waiting;  //  Agents connected (or failed) so far
    size_t total;
    int64_t start_us;  //  0 until the go
    bool abort;
} lt_start_t;

//  The agent thread's body (arg: lt_agent_t *, with lt_start_t via the
//  global set by lt_agents_run).
void *lt_agent_run (void *arg);

//  Run every agent to the end; fills their counters. Returns 0, or -1 when
//  threads cannot be started.
int lt_agents_run (lt_agent_t *agents, size_t count, lt_start_t *start);

#endif
