/*  =========================================================================
    cab_broker_security - who may connect to the broker (docs/security.md)

    With "curve" configured, every endpoint is a CURVE server with the
    broker's certificate, and a czmq authenticator (zauth) admits only the
    public certificates in the clients directory. Deny by default: if the
    certificate, the directory or the authenticator is missing the broker
    does not start, so there is never a CURVE endpoint nobody checks. The
    authenticator hands each certificate's metadata ("name", "sources") to
    the connection, and its User-Id (the client's public key); at HELLO the
    broker looks that key up in its own store of the same directory and
    takes name and sources from the certificate (cab_broker_ingest.c).

    Without CURVE, the broker is for its own host and user: an ipc socket
    file is made owner-only (0600), an abstract ipc name is refused, and a
    tcp endpoint must be on a loopback address unless "allow_remote".

    ZeroMQ has one authentication handler per process (inproc
    "zeromq.zap.01"), so one CURVE broker runs per process at most.
    =========================================================================
*/
#include "config.h"
#include "cab_broker_internal.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Length of a Z85-encoded CURVE key.
#define S_Z85_KEY 40

//  Set while this process runs a CURVE broker (its zauth owns the ZAP handler).
static int s_curve_running = 0;

static bool
s_z85_key (const char *text)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (!text || strlen (text) != S_Z85_KEY)
        return false;
    for (const char *c = text; *c; c++)
        if (!strchr (alphabet, *c))
            return false;
    return true;
}

//  True when host (of a tcp endpoint) is a loopback address or interface.
static bool
s_loopback (const char *host, size_t size)
{
    static const char *const names[] = {"localhost", "lo", "[::1]", "::1", NULL};
    for (const char *const *name = names; *name; name++)
        if (strlen (*name) == size && memcmp (*name, host, size) == 0)
            return true;
    //  127.0.0.0/8, written as a dotted quad
    if (size < 9 || size > 15 || memcmp (host, "127.", 4) != 0)
        return false;
    for (size_t index = 4; index < size; index++)
        if (!((host[index] >= '0' && host[index] <= '9') || host[index] == '.'))
            return false;
    return true;
}

static cab_status_t
s_check_endpoints (const cab_broker_config_t *config, bool curve, cab_error_t *error)
{
    if (config->allow_remote)
        return CAB_OK;
    for (size_t index = 0; index < config->endpoint_count; index++) {
        const char *endpoint = config->endpoints[index];
        char path[64];
        snprintf (path, sizeof path, "/endpoints/%zu", index);
        if (strncmp (endpoint, "ipc://@", 7) == 0 && !curve)
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path,
                                  "%s: an abstract ipc name has no permissions (any local user "
                                  "could connect); use an ipc file, or set \"curve\"",
                                  endpoint);
        if (strncmp (endpoint, "tcp://", 6) != 0 || curve)
            continue;
        const char *host = endpoint + 6;
        const char *colon = strrchr (host, ':');
        if (!colon || strchr (host, ';') || !s_loopback (host, (size_t)(colon - host)))
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, path,
                                  "%s is not a loopback address: without \"curve\" the broker "
                                  "binds tcp to 127.0.0.1 or localhost only (set "
                                  "\"allow_remote\": true to bind anyway, unauthenticated)",
                                  endpoint);
    }
    return CAB_OK;
}

//  Load the broker's secret certificate: a zcert file with both keys.
static zcert_t *
s_load_cert (const char *path, cab_error_t *error)
{
    struct stat info;
    if (stat (path, &info) != 0 || !S_ISREG (info.st_mode)) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/curve/secret_key_file",
                       "cannot read the broker's secret certificate %s: %s", path,
                       strerror (errno ? errno : EINVAL));
        return NULL;
    }
    //  Check the keys before czmq reads them.
    zconfig_t *root = zconfig_load (path);
    bool valid = root && s_z85_key (zconfig_get (root, "/curve/public-key", NULL)) &&
                 s_z85_key (zconfig_get (root, "/curve/secret-key", NULL));
    zconfig_destroy (&root);
    zcert_t *cert = valid ? zcert_load (path) : NULL;
    if (!cert) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/curve/secret_key_file",
                       "%s is not a secret certificate (public-key and secret-key); make one "
                       "with 'cabruca keys new-broker'",
                       path);
        return NULL;
    }
    if (info.st_mode & 077)
        zsys_warning ("cabruca-broker: %s can be read by other users: chmod 600 it", path);
    return cert;
}

cab_status_t
cabi_security_setup (cabi_broker_t *self, cab_error_t *error)
{
    const cab_broker_config_t *config = self->config;
    bool curve = config->curve_secret_key != NULL;
    cab_status_t status = s_check_endpoints (config, curve, error);
    if (status != CAB_OK || !curve)
        return status;
    if (!config->curve_clients_dir)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/curve/clients_dir",
                              "CURVE needs the directory of the agents' public certificates");
    DIR *dir = opendir (config->curve_clients_dir);
    if (!dir)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/curve/clients_dir",
                              "cannot read the clients directory %s: %s", config->curve_clients_dir,
                              strerror (errno));
    size_t certs = 0;
    for (struct dirent *entry = readdir (dir); entry; entry = readdir (dir)) {
        size_t length = strlen (entry->d_name);
        if (entry->d_name[0] == '.')
            continue;
        if (length > 7 && strcmp (entry->d_name + length - 7, "_secret") == 0)
            zsys_warning ("cabruca-broker: %s/%s is a secret key: the clients directory needs "
                          "only the agents' public certificates",
                          config->curve_clients_dir, entry->d_name);
        else
            certs++;
    }
    closedir (dir);
    if (certs == 0)
        zsys_warning ("cabruca-broker: no certificate in %s: no agent can connect",
                      config->curve_clients_dir);
    zcert_t *cert = s_load_cert (config->curve_secret_key, error);
    if (!cert)
        return CAB_ERR_INVALID_CONFIG;
    int expected = 0;
    if (!__atomic_compare_exchange_n (&s_curve_running, &expected, 1, false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST)) {
        zcert_destroy (&cert);
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/curve",
                              "another CURVE broker runs in this process (one authenticator per "
                              "process)");
    }
    self->certs = zcertstore_new (config->curve_clients_dir);
    self->auth = self->certs ? zactor_new (zauth, NULL) : NULL;
    if (self->auth && (zstr_sendx (self->auth, "CURVE", config->curve_clients_dir, NULL) != 0 ||
                       zsock_wait (self->auth) != 0))
        zactor_destroy (&self->auth);
    if (!self->auth) {
        zcert_destroy (&cert);
        zcertstore_destroy (&self->certs);
        __atomic_store_n (&s_curve_running, 0, __ATOMIC_SEQ_CST);
        return cab_error_set (error, CAB_ERR_IO, "/curve",
                              "the authenticator did not start: refusing CURVE endpoints "
                              "without it");
    }
    zcert_apply (cert, self->router);
    zsock_set_curve_server (self->router, 1);
    zsock_set_zap_domain (self->router, "cabruca");
    zcert_destroy (&cert);
    zsys_info ("cabruca-broker: CURVE on; agents' certificates from %s", config->curve_clients_dir);
    return CAB_OK;
}

cab_status_t
cabi_security_bound (cabi_broker_t *self, const char *endpoint, cab_error_t *error)
{
    if (self->auth || strncmp (endpoint, "ipc://", 6) != 0 || endpoint[6] == '@')
        return CAB_OK;
    const char *path = endpoint + 6;
    if (chmod (path, S_IRUSR | S_IWUSR) != 0)
        return cab_error_set (error, CAB_ERR_IO, NULL, "cannot make %s owner-only: %s", path,
                              strerror (errno));
    return CAB_OK;
}

const char *
cabi_security_user_id (cabi_proto_parts_t *parts)
{
    const char *key = NULL;
    for (size_t index = 0; index < parts->count && !key; index++)
        key = zmq_msg_gets (&parts->parts[index], "User-Id");
    return key;
}

void
cabi_security_identity (cabi_broker_t *self, const char *user_id, const char **name_p,
                        const char **sources_p)
{
    *name_p = *sources_p = NULL;
    zcert_t *cert = user_id && self->certs ? zcertstore_lookup (self->certs, user_id) : NULL;
    if (cert) {
        *name_p = zcert_meta (cert, "name");
        *sources_p = zcert_meta (cert, "sources");
    }
}

//  A new copy of text, or NULL for NULL; *failed set when out of memory.
static char *
s_copy (const char *text, bool *failed)
{
    char *copy = text ? strdup (text) : NULL;
    if (text && !copy)
        *failed = true;
    return copy;
}

cab_status_t
cabi_security_grants (cabi_broker_t *self, cabi_peer_t *peer, const char *user_id)
{
    zcert_t *cert = user_id && self->certs ? zcertstore_lookup (self->certs, user_id) : NULL;
    bool failed = false;
    free (peer->cert_queues);
    free (peer->cert_reads);
    peer->cert_queues = s_copy (cert ? zcert_meta (cert, "queues") : NULL, &failed);
    peer->cert_reads = s_copy (cert ? zcert_meta (cert, "read_sources") : NULL, &failed);
    return failed ? CAB_ERR_NOMEM : CAB_OK;
}

//  Does a grant allow name? cert_list (a certificate's comma-separated
//  list) decides when not NULL, else the array config_list of the
//  configuration; with neither, anything is allowed (the default).
static bool
s_granted (const char *cert_list, json_t *config_list, const char *name)
{
    if (cert_list)
        return cabi_sources_allow (cert_list, name);
    if (!json_is_array (config_list))
        return true;
    size_t index;
    json_t *value;
    json_array_foreach (config_list, index, value)
    {
        const char *allowed = json_string_value (value);
        if (allowed && (strcmp (allowed, "*") == 0 || strcmp (allowed, name) == 0))
            return true;
    }
    return false;
}

cab_status_t
cabi_security_may_subscribe (cabi_broker_t *self, cabi_peer_t *peer, const char *queue,
                             json_t *pattern, cab_error_t *error)
{
    json_t *agent = json_object_get (self->config->agents, peer->agent_id);
    const char *whose =
        self->auth && peer->cert_queues ? "its certificate's queues" : "agents.ID.subscribe";
    if (!s_granted (peer->cert_queues, json_object_get (agent, "subscribe"), queue))
        return cab_error_set (error, CAB_ERR_ACCESS_DENIED, "/queue",
                              "agent '%s' may not subscribe to queue '%s' (%s)", peer->agent_id,
                              queue, whose);
    json_t *reads = json_object_get (agent, "read_sources");
    //  "*" is never a source: granted only by an unrestricted list.
    if (!pattern || s_granted (peer->cert_reads, reads, "*"))
        return CAB_OK;
    whose = peer->cert_reads ? "its certificate's read_sources" : "agents.ID.read_sources";
    json_t *sources = json_object_get (pattern, "source");
    if (!json_is_array (sources) || json_array_size (sources) == 0)
        return cab_error_set (error, CAB_ERR_ACCESS_DENIED, "/pattern",
                              "agent '%s' may read only some sources (%s): its pattern must "
                              "list them in a top-level \"source\" array of strings",
                              peer->agent_id, whose);
    size_t index;
    json_t *value;
    json_array_foreach (sources, index, value)
    {
        const char *source = json_string_value (value);
        if (!source || !s_granted (peer->cert_reads, reads, source)) {
            char path[64];
            snprintf (path, sizeof path, "/pattern/source/%zu", index);
            if (!source)
                return cab_error_set (error, CAB_ERR_ACCESS_DENIED, path,
                                      "agent '%s' may match only exact sources (%s)",
                                      peer->agent_id, whose);
            return cab_error_set (error, CAB_ERR_ACCESS_DENIED, path,
                                  "agent '%s' may not read source '%s' (%s)", peer->agent_id,
                                  source, whose);
        }
    }
    return CAB_OK;
}

void
cabi_security_teardown (cabi_broker_t *self)
{
    zcertstore_destroy (&self->certs);
    if (!self->auth)
        return;
    zactor_destroy (&self->auth);
    __atomic_store_n (&s_curve_running, 0, __ATOMIC_SEQ_CST);
}
