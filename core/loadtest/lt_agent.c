/*  =========================================================================
    lt_agent - one simulated agent: a thread with its own cab_client

    Open-loop pacing: with a rate, event k of an agent is due at
    start + k / agent_rate, and its latency is measured from that due time,
    not from when it was actually sent, so a stalled broker shows up in the
    percentiles instead of silently slowing the publishers down (the
    "coordinated omission" trap). Without a rate, events go as fast as the
    window allows and latency is measured from the send.
    =========================================================================
*/
#include "loadtest.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_start_t *s_start;

static void
s_on_result (const cab_client_result_t *result, void *arg)
{
    lt_agent_t *self = (lt_agent_t *)arg;
    int64_t now = zclock_usecs ();
    self->last_answer_us = now;
    if (result->code == CAB_OK) {
        self->acked++;
        if (result->duplicate)
            self->duplicates++;
        lt_hist_add (&self->hist, now - self->sent_at[result->number % self->ring]);
    } else {
        self->nacked++;
        if (result->code < CAB_STATUS_COUNT_)
            self->nacked_by_code[result->code]++;
    }
}

//  Tell the others this agent is ready (or failed) and wait for the go.
static bool
s_wait_for_start (lt_agent_t *self)
{
    pthread_mutex_lock (&s_start->mutex);
    s_start->waiting++;
    if (!self->connected)
        s_start->abort = true;
    if (s_start->waiting == s_start->total) {
        s_start->start_us = zclock_usecs () + 10000;
        pthread_cond_broadcast (&s_start->cond);
    } else
        while (s_start->start_us == 0 && !s_start->abort)
            pthread_cond_wait (&s_start->cond, &s_start->mutex);
    if (s_start->abort)
        pthread_cond_broadcast (&s_start->cond);
    bool go = !s_start->abort;
    pthread_mutex_unlock (&s_start->mutex);
    return go;
}

static void
s_fail (lt_agent_t *self, const cab_error_t *error)
{
    self->failure = error->code ? error->code : CAB_ERR_INTERNAL;
    snprintf (self->failure_text, sizeof self->failure_text, "%s", error->text);
}

void *
lt_agent_run (void *arg)
{
    lt_agent_t *self = (lt_agent_t *)arg;
    const lt_options_t *options = self->options;
    cab_error_t error = {0};
    cab_client_t *client = cab_client_new (options->endpoint, self->agent_id, &error);
    if (!client)
        s_fail (self, &error);
    else {
        cab_client_set_handler (client, s_on_result, self);
        cab_client_set_window (client, options->window);
        int64_t deadline = zclock_mono () + (int64_t)(options->connect_s * 1000);
        while (!cab_client_connected (client) && zclock_mono () < deadline && !zsys_interrupted)
            cab_client_poll (client, 50);
        self->connected = cab_client_connected (client);
        if (!self->connected) {
            cab_error_set (&error, CAB_ERR_TIMEOUT, NULL, "no session with the broker after %.1f s",
                           options->connect_s);
            s_fail (self, &error);
        }
    }
    if (!s_wait_for_start (self)) {
        cab_client_destroy (&client);
        return NULL;
    }
    double agent_rate = options->rate > 0 ? options->rate / (double)s_start->total : 0;
    int64_t start = s_start->start_us;
    int64_t end = options->duration_s > 0 ? start + (int64_t)(options->duration_s * 1e6) : 0;
    while (zclock_usecs () < start)
        cab_client_poll (client, 1);
    self->first_send_us = start;
    for (uint64_t k = 0; !zsys_interrupted; k++) {
        if (options->events_per_agent && k >= options->events_per_agent)
            break;
        int64_t due =
            agent_rate > 0 ? start + (int64_t)((double)k * 1e6 / agent_rate) : zclock_usecs ();
        if (end && due >= end)
            break;
        int64_t now = zclock_usecs ();
        //  Handle answers while waiting for the next due time. The wait is
        //  rounded up to the millisecond (the poll's unit) and the events
        //  that fell due meanwhile go out together: waiting in smaller steps
        //  would spin, and on a small machine the spinning agents would take
        //  the CPU from the broker they measure. Lateness counts: latency is
        //  measured from the due time.
        while (now < due) {
            cab_client_poll (client, (int)((due - now + 999) / 1000));
            now = zclock_usecs ();
        }
        cab_event_t *event =
            lt_event_new (self->type, self->agent_id, k, options->pad_bytes, &error);
        if (!event) {
            s_fail (self, &error);
            break;
        }
        //  The publish number of this event is sent + 1 (numbers start at 1
        //  and count accepted publishes).
        self->sent_at[(self->sent + 1) % self->ring] = agent_rate > 0 ? due : zclock_usecs ();
        //  A full window: the client handles answers until a slot frees. The
        //  event is rebuilt only when no slot freed for a whole second.
        if (cab_client_in_flight (client) >= options->window)
            self->busy_waits++;
        cab_status_t status;
        while ((status = cab_client_publish (client, &event, 1000, &error)) == CAB_ERR_BUSY &&
               !zsys_interrupted) {
            event = lt_event_new (self->type, self->agent_id, k, options->pad_bytes, &error);
            if (!event)
                break;
        }
        if (status != CAB_OK) {
            cab_event_destroy (&event);
            if (status != CAB_ERR_BUSY)
                s_fail (self, &error);
            break;
        }
        self->sent++;
        cab_client_poll (client, 0);
    }
    cab_client_flush (client, (int)(options->drain_s * 1000), NULL);
    cab_client_destroy (&client);
    return NULL;
}

int
lt_agents_run (lt_agent_t *agents, size_t count, lt_start_t *start)
{
    s_start = start;
    size_t started = 0;
    for (; started < count; started++)
        if (pthread_create (&agents[started].thread, NULL, lt_agent_run, &agents[started]) != 0)
            break;
    if (started < count) {
        pthread_mutex_lock (&start->mutex);
        start->abort = true;
        pthread_cond_broadcast (&start->cond);
        pthread_mutex_unlock (&start->mutex);
    }
    for (size_t index = 0; index < started; index++)
        pthread_join (agents[index].thread, NULL);
    return started == count ? 0 : -1;
}
