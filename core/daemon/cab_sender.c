/*  =========================================================================
    cab_sender - the actor that delivers to command, http and log targets

    On the pipe, a job travels as one frame holding its pointer (exactly
    sizeof (void *) bytes), in both directions; commands are strings of
    another size: "$TERM" (zactor), "STOP" (cab_sender_destroy), answered
    by "STOPPED" once everything inside is freed.

    Inside, a lane per target (keyed by the target's address) holds the
    jobs waiting for it, counts those running and spaces starts for a rate
    limit. Finished jobs go to an outbox sent back without blocking; when
    the pipe is full the outbox waits for POLLOUT on it.
    =========================================================================
*/
#include "cab_sender.h"
#include "cab_target.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define S_BACKENDS     3
#define S_READ_BURST   256    //  messages read from the pipe per wake-up
#define S_GC_INTERVAL  10000  //  ms between sweeps of idle lanes
#define S_LANE_IDLE_US (10 * 1000000LL)

typedef struct _s_sender_t s_sender_t;

typedef struct {
    s_sender_t *owner;
    const cab_rule_target_t *target;  //  key (not dereferenced)
    const cab_target_ops_t *ops;
    void *backend;
    cab_target_task_t *head, *tail;  //  waiting tasks
    size_t active;                   //  running tasks
    int64_t next_us;                 //  rate limit: earliest next start
    int timer_id;                    //  rate limit wake-up, 0 when none
    int64_t idle_since_us;
    bool pumping;
} s_lane_t;

struct _s_sender_t {
    zsock_t *pipe;
    zloop_t *loop;
    const cab_target_ops_t *ops[S_BACKENDS];
    void *backends[S_BACKENDS];
    zhashx_t *lanes;   //  target address -> s_lane_t
    size_t inside;     //  jobs received, not yet handed back
    zlistx_t *outbox;  //  finished jobs waiting for the pipe
    bool writer;       //  POLLOUT poller on the pipe registered
    bool stopping;
    int gc_timer;
};

cab_send_job_t *
cab_send_job_new (int64_t delivery, const cab_rule_target_t *target, const char *rule_name,
                  char **payload_p, size_t size)
{
    cab_send_job_t *job = (cab_send_job_t *)calloc (1, sizeof *job);
    if (!job) {
        if (payload_p) {
            free (*payload_p);
            *payload_p = NULL;
        }
        return NULL;
    }
    job->delivery = delivery;
    job->target = target;
    job->rule_name = rule_name;
    if (payload_p) {
        job->owned = *payload_p;
        job->payload = job->owned;
        *payload_p = NULL;
    }
    job->size = job->payload ? size : 0;
    job->status = CAB_OK;
    return job;
}

cab_send_job_t *
cab_send_job_borrow (int64_t delivery, const cab_rule_target_t *target, const char *rule_name,
                     const char *data, size_t size, void (*release) (void *arg), void *arg)
{
    cab_send_job_t *job = cab_send_job_new (delivery, target, rule_name, NULL, 0);
    if (!job)
        return NULL;
    job->payload = data;
    job->size = data ? size : 0;
    job->release = release;
    job->release_arg = arg;
    return job;
}

void
cab_send_job_destroy (cab_send_job_t **job_p)
{
    if (job_p && *job_p) {
        if ((*job_p)->release)
            (*job_p)->release ((*job_p)->release_arg);
        free ((*job_p)->owned);
        free (*job_p);
        *job_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Lanes

static size_t
s_pointer_hash (const void *key)
{
    uintptr_t value = (uintptr_t)key;
    value ^= value >> 17;
    value *= 0xed5ad4bbU;
    value ^= value >> 11;
    return (size_t)value;
}

static int
s_pointer_compare (const void *a, const void *b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

static void
s_lane_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static s_lane_t *
s_lane (s_sender_t *self, const cab_rule_target_t *target, size_t backend)
{
    s_lane_t *lane = (s_lane_t *)zhashx_lookup (self->lanes, target);
    if (!lane) {
        lane = (s_lane_t *)calloc (1, sizeof *lane);
        if (!lane)
            return NULL;
        lane->owner = self;
        lane->target = target;
        if (zhashx_insert (self->lanes, target, lane) != 0) {
            free (lane);
            return NULL;
        }
    }
    //  An idle lane left by a freed target may meet a new one at the same
    //  address: it only keeps the rate spacing, and takes the new backend.
    lane->ops = self->ops[backend];
    lane->backend = self->backends[backend];
    return lane;
}

static void s_pump (s_sender_t *self, s_lane_t *lane);

static int
s_on_lane_timer (zloop_t *loop, int timer_id, void *arg)
{
    s_lane_t *lane = (s_lane_t *)arg;
    lane->timer_id = 0;
    s_pump (lane->owner, lane);
    return 0;
}

//  Start what the lane's limits allow.
static void
s_pump (s_sender_t *self, s_lane_t *lane)
{
    if (lane->pumping || self->stopping)
        return;  //  the outer call goes on: a finished task frees a place
    lane->pumping = true;
    while (lane->head) {
        size_t max = lane->ops->max_active;
        if (max && lane->active >= max)
            break;
        cab_target_task_t *task = lane->head;
        double rate = task->job->target->rate_per_second;
        int64_t now = cab_target_now_us ();
        if (rate > 0 && isfinite (rate)) {
            if (now < lane->next_us) {
                if (!lane->timer_id) {
                    size_t delay = (size_t)((lane->next_us - now + 999) / 1000);
                    int id = zloop_timer (self->loop, delay, 1, s_on_lane_timer, lane);
                    lane->timer_id = id > 0 ? id : 0;
                }
                break;
            }
            int64_t interval = (int64_t)(1e6 / rate);
            lane->next_us = (lane->next_us > now ? lane->next_us : now) + interval;
        }
        lane->head = task->next;
        if (!lane->head)
            lane->tail = NULL;
        task->next = NULL;
        lane->active++;
        task->started_us = now;
        lane->ops->start (lane->backend, task);
    }
    lane->pumping = false;
    if (!lane->head && lane->active == 0)
        lane->idle_since_us = cab_target_now_us ();
}

//  Drop lanes idle for a while (targets of an old rule set, mostly).
static int
s_on_gc (zloop_t *loop, int timer_id, void *arg)
{
    s_sender_t *self = (s_sender_t *)arg;
    int64_t now = cab_target_now_us ();
    zlistx_t *dead = zlistx_new ();
    if (!dead)
        return 0;
    for (s_lane_t *lane = (s_lane_t *)zhashx_first (self->lanes); lane;
         lane = (s_lane_t *)zhashx_next (self->lanes))
        if (!lane->head && lane->active == 0 && !lane->timer_id && now >= lane->next_us &&
            now - lane->idle_since_us > S_LANE_IDLE_US)
            zlistx_add_end (dead, (void *)lane->target);
    for (void *key = zlistx_first (dead); key; key = zlistx_next (dead))
        zhashx_delete (self->lanes, key);
    zlistx_destroy (&dead);
    return 0;
}

//  --------------------------------------------------------------------------
//  Results back to the owner

static int s_on_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_flush (s_sender_t *self)
{
    void *socket = zsock_resolve (self->pipe);
    cab_send_job_t *job;
    while ((job = (cab_send_job_t *)zlistx_first (self->outbox))) {
        if (zmq_send (socket, &job, sizeof job, ZMQ_DONTWAIT) != (int)sizeof job)
            break;
        zlistx_detach (self->outbox, NULL);
        self->inside--;
    }
    bool pending = zlistx_size (self->outbox) > 0;
    if (pending != self->writer) {
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLOUT, 0};
        if (pending)
            self->writer = zloop_poller (self->loop, &item, s_on_writable, self) == 0;
        else {
            zloop_poller_end (self->loop, &item);
            self->writer = false;
        }
    }
}

static int
s_on_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_flush ((s_sender_t *)arg);
    return 0;
}

static void
s_return (s_sender_t *self, cab_send_job_t *job)
{
    if (self->stopping || !zlistx_add_end (self->outbox, job)) {
        cab_send_job_destroy (&job);
        self->inside--;
        return;
    }
    s_flush (self);
}

static void
s_on_done (cab_target_task_t *task, void *arg)
{
    s_sender_t *self = (s_sender_t *)arg;
    s_lane_t *lane = (s_lane_t *)task->lane;
    cab_send_job_t *job = task->job;
    job->elapsed_us = cab_target_now_us () - task->started_us;
    free (task);
    lane->active--;
    s_return (self, job);
    s_pump (self, lane);
}

//  --------------------------------------------------------------------------
//  Jobs in

static void
s_on_job (s_sender_t *self, cab_send_job_t *job)
{
    self->inside++;
    if (self->inside > CAB_SENDER_MAX_JOBS) {
        cab_target_fail (job, CAB_ERR_BUSY, false, "sender full (%d jobs inside)",
                         CAB_SENDER_MAX_JOBS);
        s_return (self, job);
        return;
    }
    const cab_target_ops_t *ops = job->target ? cab_target_for_type (job->target->type) : NULL;
    size_t backend = 0;
    while (ops && backend < S_BACKENDS && self->ops[backend] != ops)
        backend++;
    if (!ops || backend == S_BACKENDS || !self->backends[backend]) {
        cab_target_fail (job, CAB_ERR_INVALID_ARGUMENT, true, "no sender backend for %s target",
                         job->target ? cab_target_type_name (job->target->type) : "a NULL");
        s_return (self, job);
        return;
    }
    cab_target_task_t *task = (cab_target_task_t *)calloc (1, sizeof *task);
    s_lane_t *lane = task ? s_lane (self, job->target, backend) : NULL;
    if (!lane) {
        free (task);
        cab_target_fail (job, CAB_ERR_NOMEM, false, "out of memory in the sender");
        s_return (self, job);
        return;
    }
    job->status = CAB_OK;
    job->permanent = false;
    job->error[0] = '\0';
    task->job = job;
    task->lane = lane;
    if (lane->tail)
        lane->tail->next = task;
    else
        lane->head = task;
    lane->tail = task;
    s_pump (self, lane);
}

//  Abandon everything inside: children killed, transfers cancelled, jobs
//  freed. The loop keeps only the pipe.
static void
s_abandon (s_sender_t *self)
{
    if (self->stopping)
        return;
    self->stopping = true;
    if (self->gc_timer)
        zloop_timer_end (self->loop, self->gc_timer);
    self->gc_timer = 0;
    for (size_t index = 0; index < S_BACKENDS; index++)
        if (self->backends[index])
            self->ops[index]->destroy (&self->backends[index]);
    for (s_lane_t *lane = (s_lane_t *)zhashx_first (self->lanes); lane;
         lane = (s_lane_t *)zhashx_next (self->lanes)) {
        while (lane->head) {
            cab_target_task_t *task = lane->head;
            lane->head = task->next;
            cab_send_job_destroy (&task->job);
            free (task);
            self->inside--;
        }
        lane->tail = NULL;
        if (lane->timer_id)
            zloop_timer_end (self->loop, lane->timer_id);
        lane->timer_id = 0;
    }
    cab_send_job_t *job;
    while ((job = (cab_send_job_t *)zlistx_detach (self->outbox, NULL))) {
        cab_send_job_destroy (&job);
        self->inside--;
    }
    if (self->writer) {
        zmq_pollitem_t item = {zsock_resolve (self->pipe), 0, ZMQ_POLLOUT, 0};
        zloop_poller_end (self->loop, &item);
        self->writer = false;
    }
}

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    s_sender_t *self = (s_sender_t *)arg;
    void *socket = zsock_resolve (pipe);
    for (int count = 0; count < S_READ_BURST; count++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            return errno == EAGAIN ? 0 : -1;
        }
        size_t size = zmq_msg_size (&msg);
        const char *data = (const char *)zmq_msg_data (&msg);
        if (size == sizeof (cab_send_job_t *) && !zmq_msg_more (&msg)) {
            cab_send_job_t *job;
            memcpy (&job, data, sizeof job);
            zmq_msg_close (&msg);
            if (self->stopping)
                cab_send_job_destroy (&job);
            else if (job)
                s_on_job (self, job);
            continue;
        }
        bool term = size == 5 && memcmp (data, "$TERM", 5) == 0;
        bool stop = size == 4 && memcmp (data, "STOP", 4) == 0;
        bool more = zmq_msg_more (&msg);
        zmq_msg_close (&msg);
        while (more) {  //  skip the rest of a message we do not know
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, socket, 0) < 0)
                more = false;
            else
                more = zmq_msg_more (&msg);
            zmq_msg_close (&msg);
        }
        if (term)
            return -1;
        if (stop) {
            s_abandon (self);
            zstr_send (pipe, "STOPPED");
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Life cycle

static void
s_sender_free (s_sender_t **self_p)
{
    s_sender_t *self = *self_p;
    if (!self)
        return;
    s_abandon (self);
    zhashx_destroy (&self->lanes);
    zlistx_destroy (&self->outbox);
    zloop_destroy (&self->loop);
    free (self);
    *self_p = NULL;
}

static s_sender_t *
s_sender_alloc (void)
{
    s_sender_t *self = (s_sender_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = zloop_new ();
    self->lanes = zhashx_new ();
    self->outbox = zlistx_new ();
    if (!self->loop || !self->lanes || !self->outbox) {
        s_sender_free (&self);
        return NULL;
    }
    zhashx_set_key_hasher (self->lanes, s_pointer_hash);
    zhashx_set_key_comparator (self->lanes, s_pointer_compare);
    zhashx_set_key_duplicator (self->lanes, NULL);
    zhashx_set_key_destructor (self->lanes, NULL);
    zhashx_set_destructor (self->lanes, s_lane_destroy);
    zloop_set_nonstop (self->loop, true);
    cab_target_env_t env = {self->loop, s_on_done, self};
    const char *names[S_BACKENDS] = {"command", "http", "log"};
    for (size_t index = 0; index < S_BACKENDS; index++) {
        self->ops[index] = cab_target_lookup (names[index]);
        self->backends[index] = self->ops[index]->create (&env);
        if (!self->backends[index]) {
            s_sender_free (&self);
            return NULL;
        }
    }
    return self;
}

static void
s_actor (zsock_t *pipe, void *args)
{
    s_sender_t *self = (s_sender_t *)args;
    //  A child that closes stdin early must not take the process down.
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &set, NULL);
    self->pipe = pipe;
    zloop_reader (self->loop, pipe, s_on_pipe, self);
    zloop_reader_set_tolerant (self->loop, pipe);
    int id = zloop_timer (self->loop, S_GC_INTERVAL, 0, s_on_gc, self);
    self->gc_timer = id > 0 ? id : 0;
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_sender_free (&self);
}

zactor_t *
cab_sender_new (void)
{
    s_sender_t *self = s_sender_alloc ();
    if (!self)
        return NULL;
    zactor_t *actor = zactor_new (s_actor, self);
    if (!actor)
        s_sender_free (&self);
    return actor;
}

void
cab_sender_destroy (zactor_t **sender_p)
{
    if (!sender_p || !*sender_p)
        return;
    zactor_t *sender = *sender_p;
    void *socket = zsock_resolve (sender);
    if (zstr_send (sender, "STOP") == 0) {
        while (true) {
            zmq_msg_t msg;
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, socket, 0) < 0) {
                zmq_msg_close (&msg);
                break;
            }
            size_t size = zmq_msg_size (&msg);
            bool stopped = size == 7 && memcmp (zmq_msg_data (&msg), "STOPPED", 7) == 0;
            if (size == sizeof (cab_send_job_t *)) {
                cab_send_job_t *job;
                memcpy (&job, zmq_msg_data (&msg), sizeof job);
                cab_send_job_destroy (&job);
            }
            zmq_msg_close (&msg);
            if (stopped)
                break;
        }
    }
    zactor_destroy (sender_p);
}

int
cab_sender_send (zactor_t *sender, cab_send_job_t *job)
{
    if (!sender || !job)
        return -1;
    void *socket = zsock_resolve (sender);
    int rc;
    do
        rc = zmq_send (socket, &job, sizeof job, 0);
    while (rc < 0 && errno == EINTR);
    return rc == (int)sizeof job ? 0 : -1;
}

static cab_send_job_t *
s_recv (zactor_t *sender, int flags)
{
    if (!sender)
        return NULL;
    void *socket = zsock_resolve (sender);
    while (true) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, socket, flags) < 0) {
            zmq_msg_close (&msg);
            return NULL;
        }
        cab_send_job_t *job = NULL;
        if (zmq_msg_size (&msg) == sizeof job)
            memcpy (&job, zmq_msg_data (&msg), sizeof job);
        zmq_msg_close (&msg);
        if (job)
            return job;
    }
}

cab_send_job_t *
cab_sender_recv (zactor_t *sender)
{
    return s_recv (sender, 0);
}

cab_send_job_t *
cab_sender_try_recv (zactor_t *sender)
{
    return s_recv (sender, ZMQ_DONTWAIT);
}
