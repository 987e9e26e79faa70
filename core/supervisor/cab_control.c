/*  =========================================================================
    cab_control - the supervisor's control socket

    A ZeroMQ REP socket on ipc://RUN_DIR/supervisor.ipc (the directory and
    the socket file are owner-only). A request is one or two frames,
    COMMAND [NAME]; the reply is one frame of JSON:

        status              {"ok":true,"programs":{"NAME":{"program":...,
                             "state":"RUNNING","pid":42,"uptime":1.5,
                             "restarts":0,"last_exit":{"status":1}},...}}
        start|stop|restart NAME   {"ok":true,"processes":["NAME-1",...]}
        reload              {"ok":true}
        (errors)            {"ok":false,"error":"NotFound","text":"..."}

    NAME is a program (all its instances) or one instance (NAME-i).
    =========================================================================
*/
#include "cab_supervisor_internal.h"
#include <sys/stat.h>
#include <unistd.h>

static json_t *
s_error (cab_status_t code, const char *text)
{
    return json_pack ("{s:b, s:s, s:s}", "ok", 0, "error", cab_status_name (code), "text", text);
}

json_t *
cab_supervisor_command (cab_supervisor_t *self, const char *command, const char *name)
{
    if (strcmp (command, "status") == 0) {
        json_t *programs = json_object ();
        for (size_t index = 0; index < self->process_count; index++)
            if (!self->processes[index]->removed)
                json_object_set_new (programs, self->processes[index]->name,
                                     cab_process_status (self->processes[index]));
        return json_pack ("{s:b, s:o}", "ok", 1, "programs", programs);
    }
    if (strcmp (command, "reload") == 0) {
        cab_error_t error;
        char text[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
        if (cab_supervisor_reload (self, &error) != CAB_OK)
            return s_error (error.code, cab_error_format (&error, text, sizeof text));
        return json_pack ("{s:b}", "ok", 1);
    }
    bool start = strcmp (command, "start") == 0, stop = strcmp (command, "stop") == 0,
         restart = strcmp (command, "restart") == 0;
    if (!start && !stop && !restart)
        return s_error (CAB_ERR_PROTOCOL, "unknown command (status, start, stop, restart, reload)");
    if (!name || !*name)
        return s_error (CAB_ERR_INVALID_ARGUMENT, "this command needs a program name");
    if (self->shutting_down)
        return s_error (CAB_ERR_BUSY, "the supervisor is shutting down");
    json_t *names = json_array ();
    for (size_t index = 0; index < self->process_count; index++) {
        cab_process_t *process = self->processes[index];
        if (process->removed ||
            (strcmp (process->name, name) != 0 && strcmp (process->def->name, name) != 0))
            continue;
        json_array_append_new (names, json_string (process->name));
        if (stop)
            process->want = false;
        else if (cab_process_idle (process) || process->state == CAB_PROCESS_BACKOFF) {
            if (process->state == CAB_PROCESS_BACKOFF)
                cab_process_stop (process);  //  restart now rather than after the delay
            cab_process_reset (process);
        } else if (restart) {
            process->want = true;
            cab_process_stop (process);  //  the start rule starts it again once it exits
        } else
            process->want = true;
    }
    if (json_array_size (names) == 0) {
        json_decref (names);
        char text[160];
        snprintf (text, sizeof text, "no program or instance named '%s'", name);
        return s_error (CAB_ERR_NOT_FOUND, text);
    }
    cab_supervisor_schedule (self);
    return json_pack ("{s:b, s:o}", "ok", 1, "processes", names);
}

static int
s_on_request (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    cab_supervisor_t *self = (cab_supervisor_t *)arg;
    zmsg_t *request = zmsg_recv (reader);
    if (!request)
        return 0;
    char *command = zmsg_popstr (request);
    char *name = zmsg_popstr (request);
    json_t *reply = command && zmsg_size (request) == 0
                        ? cab_supervisor_command (self, command, name)
                        : s_error (CAB_ERR_PROTOCOL, "a request is COMMAND [NAME]");
    char *text = reply ? json_dumps (reply, JSON_COMPACT) : NULL;
    zstr_send (reader, text ? text : "{\"ok\":false,\"error\":\"OutOfMemory\",\"text\":\"\"}");
    free (text);
    json_decref (reply);
    free (command);
    free (name);
    zmsg_destroy (&request);
    return self->done ? -1 : 0;
}

cab_status_t
cab_control_start (cab_supervisor_t *self, cab_error_t *error)
{
    size_t size = strlen (self->config->run_dir) + 32;
    self->control_endpoint = (char *)malloc (size);
    if (!self->control_endpoint)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    snprintf (self->control_endpoint, size, "ipc://%s/supervisor.ipc", self->config->run_dir);
    if (size - 6 > 100)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/run_dir",
                              "too long for a socket path (at most 80 bytes)");
    chmod (self->config->run_dir, 0700);
    mode_t mask = umask (077);
    self->control = zsock_new (ZMQ_REP);
    int rc = self->control ? zsock_bind (self->control, "%s", self->control_endpoint) : -1;
    umask (mask);
    if (rc != 0) {
        zsock_destroy (&self->control);
        return cab_error_set (error, CAB_ERR_IO, NULL, "cannot bind %s: %s", self->control_endpoint,
                              zmq_strerror (zmq_errno ()));
    }
    chmod (self->control_endpoint + 6, 0600);
    zloop_reader (self->loop, self->control, s_on_request, self);
    return CAB_OK;
}

void
cab_control_stop (cab_supervisor_t *self)
{
    if (self->control) {
        if (self->loop)
            zloop_reader_end (self->loop, self->control);
        zsock_destroy (&self->control);
        unlink (self->control_endpoint + 6);
    }
    free (self->control_endpoint);
    self->control_endpoint = NULL;
}
