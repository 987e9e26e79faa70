/*  =========================================================================
    cab_mirror - the sending side of the cloud mirror (EventBridge PutEvents)
    =========================================================================
*/
#include "cab_mirror.h"
#include "cab_aws_creds.h"
#include "cab_putevents.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_RESPONSE_LIMIT (1024 * 1024)  //  a PutEvents answer is far smaller
#define S_RETRY_COST     5
#define S_RETRY_REFUND   1

typedef struct _s_item_t s_item_t;
struct _s_item_t {
    s_item_t *next;
    int64_t key;
    cab_putevents_entry_t entry;
    unsigned attempts;
    int64_t not_before;  //  ms, monotonic
    bool solo;           //  send alone (after a request-level ValidationException)
};

typedef struct {
    s_item_t *head, *tail;
} s_list_t;

typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    size_t body_length;
    s_item_t *items[CAB_PUTEVENTS_MAX_ENTRIES];
    size_t count;
    char *response;
    size_t response_length;
    bool overflow;
} s_request_t;

struct _cab_mirror_t {
    cab_mirror_config_t config;
    char *region, *bus_name, *url, *sigv4;
    cab_mirror_result_fn *fn;
    void *arg;
    cab_aws_creds_t *creds;
    cab_aws_credentials_t credentials;
    CURLM *multi;
    s_list_t ready, delayed;
    s_request_t **active;  //  max_in_flight slots, NULL when free
    size_t pending;        //  submitted, no result yet
    cab_mirror_stats_t stats;
    uint64_t rng;
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
s_random (cab_mirror_t *self)
{
    //  xorshift64*: jitter only, not cryptographic.
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * 2685821657736338717ULL;
}

static void
s_push (s_list_t *list, s_item_t *item)
{
    item->next = NULL;
    if (list->tail)
        list->tail->next = item;
    else
        list->head = item;
    list->tail = item;
}

static s_item_t *
s_pop (s_list_t *list)
{
    s_item_t *item = list->head;
    if (item) {
        list->head = item->next;
        if (!list->head)
            list->tail = NULL;
        item->next = NULL;
    }
    return item;
}

static void
s_item_destroy (s_item_t *item)
{
    cab_putevents_entry_clear (&item->entry);
    free (item);
}

static char *
s_strdup_or (const char *text, const char *fallback)
{
    return strdup (text && *text ? text : fallback);
}

const char *
cab_mirror_outcome_name (cab_mirror_outcome_t outcome)
{
    switch (outcome) {
        case CAB_MIRROR_ACCEPTED:
            return "accepted";
        case CAB_MIRROR_DEAD_LETTERED:
            return "dead-lettered";
        case CAB_MIRROR_FAILED:
            return "failed";
        case CAB_MIRROR_DRY_RUN:
            return "dry-run";
    }
    return "unknown";
}

cab_mirror_t *
cab_mirror_new (const cab_mirror_config_t *config, cab_mirror_result_fn *fn, void *arg,
                cab_error_t *error)
{
    static const cab_mirror_config_t none = {0};
    if (!fn) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "a result callback is required");
        return NULL;
    }
    cab_mirror_t *self = calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
        return NULL;
    }
    self->config = config ? *config : none;
    cab_mirror_config_t *c = &self->config;
    c->max_in_flight = c->max_in_flight ? c->max_in_flight : 8;
    c->max_queue = c->max_queue ? c->max_queue : 10000;
    c->backoff_base_ms = c->backoff_base_ms ? c->backoff_base_ms : 100;
    c->backoff_cap_ms = c->backoff_cap_ms ? c->backoff_cap_ms : 20000;
    c->retry_quota = c->retry_quota ? c->retry_quota : 500;
    c->request_timeout_ms = c->request_timeout_ms ? c->request_timeout_ms : 10000;
    c->price_per_million = c->price_per_million > 0 ? c->price_per_million : 1.00;
    self->fn = fn;
    self->arg = arg;
    self->rng = (uint64_t)s_now_ms () * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid () ^ 1;
    self->stats.retry_tokens = c->retry_quota;
    self->bus_name = s_strdup_or (c->bus_name, "cabruca-agents-bus");
    c->endpoint = c->region = c->bus_name = NULL;  //  not ours; copies below
    if (!self->bus_name)
        goto nomem;

    bool dry_run = config && config->dry_run;
    if (!dry_run) {
        self->creds = cab_aws_creds_new (error);
        if (!self->creds)
            goto failed;
        cab_error_t local;
        cab_status_t status = cab_aws_creds_get (self->creds, 0, &self->credentials, &local);
        if (status == CAB_ERR_NOT_FOUND)
            dry_run = true;
        else if (status != CAB_OK) {
            cab_error_set (error, local.code, NULL, "AWS credentials: %s", local.text);
            goto failed;
        }
    }
    self->stats.dry_run = dry_run;
    if (dry_run) {
        cab_aws_creds_destroy (&self->creds);
        return self;
    }
    char region[128];
    if (config && config->region && *config->region)
        snprintf (region, sizeof region, "%s", config->region);
    else if (cab_aws_region (region, sizeof region, NULL) != CAB_OK) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL,
                       "AWS credentials found but no region (set AWS_REGION)");
        goto failed;
    }
    char endpoint[1024];
    if (config && config->endpoint && *config->endpoint)
        snprintf (endpoint, sizeof endpoint, "%s", config->endpoint);
    else if (cab_aws_endpoint (region, endpoint, sizeof endpoint, error) != CAB_OK)
        goto failed;
    if (strncmp (endpoint, "http://", 7) != 0 && strncmp (endpoint, "https://", 8) != 0) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL, "endpoint %s is not an http(s) URL",
                       endpoint);
        goto failed;
    }
    size_t length = strlen (endpoint) + 2;
    self->region = strdup (region);
    self->url = malloc (length);
    self->sigv4 = malloc (strlen (region) + 32);
    self->multi = curl_multi_init ();
    self->active = calloc (c->max_in_flight, sizeof *self->active);
    if (!self->region || !self->url || !self->sigv4 || !self->multi || !self->active)
        goto nomem;
    //  A bare host gets the "/" path the signature is computed over.
    const char *path = strchr (endpoint + 8, '/');
    snprintf (self->url, length, "%s%s", endpoint, path ? "" : "/");
    snprintf (self->sigv4, strlen (region) + 32, "aws:amz:%s:events", region);
    curl_multi_setopt (self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->max_in_flight);
    curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, (long)c->max_in_flight);
    return self;
nomem:
    cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
failed:
    cab_mirror_destroy (&self);
    return NULL;
}

static void
s_request_destroy (cab_mirror_t *self, s_request_t *request, bool free_items)
{
    if (request->easy) {
        if (self->multi)
            curl_multi_remove_handle (self->multi, request->easy);
        curl_easy_cleanup (request->easy);
    }
    curl_slist_free_all (request->headers);
    free (request->body);
    free (request->response);
    for (size_t i = 0; free_items && i < request->count; i++)
        s_item_destroy (request->items[i]);
    free (request);
}

void
cab_mirror_destroy (cab_mirror_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_mirror_t *self = *self_p;
    for (size_t i = 0; self->active && i < self->config.max_in_flight; i++)
        if (self->active[i])
            s_request_destroy (self, self->active[i], true);
    free (self->active);
    if (self->multi)
        curl_multi_cleanup (self->multi);
    s_item_t *item;
    while ((item = s_pop (&self->ready)))
        s_item_destroy (item);
    while ((item = s_pop (&self->delayed)))
        s_item_destroy (item);
    cab_aws_creds_destroy (&self->creds);
    memset (&self->credentials, 0, sizeof self->credentials);
    free (self->region);
    free (self->bus_name);
    free (self->url);
    free (self->sigv4);
    free (self);
    *self_p = NULL;
}

cab_status_t
cab_mirror_submit (cab_mirror_t *self, int64_t key, const char *event_text, size_t length,
                   cab_error_t *error)
{
    if (self->pending >= self->config.max_queue)
        return cab_error_set (error, CAB_ERR_BUSY, NULL, "mirror queue is full (%zu events)",
                              self->config.max_queue);
    cab_putevents_entry_t entry;
    memset (&entry, 0, sizeof entry);
    cab_status_t status =
        cab_putevents_entry_build (event_text, length, self->bus_name, &entry, error);
    if (status == CAB_OK)
        status = cab_mirror_submit_entry (self, key, &entry, error);
    cab_putevents_entry_clear (&entry);
    return status;
}

cab_status_t
cab_mirror_submit_entry (cab_mirror_t *self, int64_t key, cab_putevents_entry_t *entry,
                         cab_error_t *error)
{
    if (!entry || !entry->json)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "mirror: no entry");
    if (self->pending >= self->config.max_queue)
        return cab_error_set (error, CAB_ERR_BUSY, NULL, "mirror queue is full (%zu events)",
                              self->config.max_queue);
    s_item_t *item = calloc (1, sizeof *item);
    if (!item)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
    item->entry = *entry;
    memset (entry, 0, sizeof *entry);
    item->key = key;
    s_push (&self->ready, item);
    self->pending++;
    self->stats.submitted++;
    return CAB_OK;
}

const char *
cab_mirror_bus_name (cab_mirror_t *self)
{
    return self->bus_name;
}

static void
s_report (cab_mirror_t *self, s_item_t *item, cab_mirror_outcome_t outcome, const char *event_id,
          const char *code, const char *message, uint64_t batch)
{
    cab_mirror_result_t result = {item->key,
                                  outcome,
                                  event_id ? event_id : "",
                                  code ? code : "",
                                  message ? message : "",
                                  item->attempts,
                                  item->entry.size,
                                  batch};
    switch (outcome) {
        case CAB_MIRROR_ACCEPTED:
            self->stats.accepted++;
            self->stats.chunks += cab_putevents_chunks (item->entry.size);
            break;
        case CAB_MIRROR_DEAD_LETTERED:
            self->stats.dead_lettered++;
            break;
        case CAB_MIRROR_FAILED:
            self->stats.failed++;
            break;
        case CAB_MIRROR_DRY_RUN:
            self->stats.dry_run_events++;
            self->stats.chunks += cab_putevents_chunks (item->entry.size);
            break;
    }
    self->stats.cost_usd = (double)self->stats.chunks * self->config.price_per_million / 1e6;
    self->pending--;
    self->fn (self->arg, &result);
    s_item_destroy (item);
}

//  Take the retry cost from the quota, once per failed request; false
//  when the quota is spent.
static bool
s_charge (cab_mirror_t *self)
{
    if (self->stats.retry_tokens < S_RETRY_COST)
        return false;
    self->stats.retry_tokens -= S_RETRY_COST;
    return true;
}

//  Requeue an item for another attempt after a full-jitter backoff, or
//  after the cap when the retry quota is spent (`charged` false).
static void
s_retry (cab_mirror_t *self, s_item_t *item, bool charged, const char *code, const char *message)
{
    if (self->config.max_attempts && item->attempts >= self->config.max_attempts) {
        s_report (self, item, CAB_MIRROR_FAILED, NULL, code, "attempt limit reached", 0);
        return;
    }
    cab_mirror_config_t *c = &self->config;
    uint64_t ceiling = c->backoff_cap_ms;
    if (charged) {
        unsigned shift = item->attempts > 30 ? 30 : item->attempts;
        uint64_t exp = (uint64_t)c->backoff_base_ms << shift;
        if (exp < ceiling)
            ceiling = exp;
        item->not_before = s_now_ms () + (int64_t)(s_random (self) % (ceiling + 1));
    } else
        item->not_before = s_now_ms () + (int64_t)ceiling;
    (void)message;
    self->stats.retries++;
    s_push (&self->delayed, item);
}

static size_t
s_on_body (char *ptr, size_t size, size_t count, void *arg)
{
    s_request_t *request = arg;
    size_t bytes = size * count;
    if (request->response_length + bytes > S_RESPONSE_LIMIT) {
        request->overflow = true;
        return 0;
    }
    char *grown = realloc (request->response, request->response_length + bytes + 1);
    if (!grown)
        return 0;
    request->response = grown;
    memcpy (grown + request->response_length, ptr, bytes);
    request->response_length += bytes;
    grown[request->response_length] = 0;
    return bytes;
}

//  Take the next batch off the ready list: up to 10 entries under 256 KB;
//  a solo item goes alone.
static size_t
s_take_batch (cab_mirror_t *self, s_item_t **items)
{
    size_t count = 0, total = 0;
    while (self->ready.head && count < CAB_PUTEVENTS_MAX_ENTRIES) {
        s_item_t *item = self->ready.head;
        if (count > 0 && (item->solo || total + item->entry.size >= CAB_PUTEVENTS_MAX_SIZE))
            break;
        items[count++] = s_pop (&self->ready);
        total += item->entry.size;
        if (item->solo)
            break;
    }
    return count;
}

static void
s_dry_run (cab_mirror_t *self)
{
    s_item_t *items[CAB_PUTEVENTS_MAX_ENTRIES];
    size_t count;
    while ((count = s_take_batch (self, items)) > 0) {
        const cab_putevents_entry_t *entries[CAB_PUTEVENTS_MAX_ENTRIES];
        size_t length = 0;
        for (size_t i = 0; i < count; i++)
            entries[i] = &items[i]->entry;
        char *body = cab_putevents_body_new (entries, count, &length);
        free (body);
        self->stats.requests++;
        self->stats.bytes += length;
        for (size_t i = 0; i < count; i++)
            s_report (self, items[i], CAB_MIRROR_DRY_RUN, NULL, NULL, NULL, self->stats.requests);
    }
}

//  Start one request with `count` items; on failure they go back for retry.
static void
s_start (cab_mirror_t *self, s_item_t **items, size_t count)
{
    s_request_t *request = calloc (1, sizeof *request);
    const cab_putevents_entry_t *entries[CAB_PUTEVENTS_MAX_ENTRIES];
    for (size_t i = 0; i < count; i++)
        entries[i] = &items[i]->entry;
    if (request) {
        memcpy (request->items, items, count * sizeof *items);
        request->count = count;
        request->body = cab_putevents_body_new (entries, count, &request->body_length);
        request->easy = curl_easy_init ();
    }
    char token[sizeof self->credentials.session_token + 32];
    struct curl_slist *headers = NULL;
    bool ok = request && request->body && request->easy;
    //  Signed headers: none removed ("Expect:"), no name a prefix of another.
    const char *lines[] = {"Content-Type: application/x-amz-json-1.1",
                           "X-Amz-Target: AWSEvents.PutEvents", NULL};
    if (ok && *self->credentials.session_token) {
        snprintf (token, sizeof token, "X-Amz-Security-Token: %s", self->credentials.session_token);
        lines[2] = token;
    }
    for (size_t i = 0; ok && i < 3 && lines[i]; i++) {
        struct curl_slist *more = curl_slist_append (headers, lines[i]);
        ok = more != NULL;
        if (more)
            headers = more;
    }
    if (request)
        request->headers = headers;
    if (ok) {
        CURL *easy = request->easy;
        curl_easy_setopt (easy, CURLOPT_URL, self->url);
        curl_easy_setopt (easy, CURLOPT_POST, 1L);
        curl_easy_setopt (easy, CURLOPT_POSTFIELDS, request->body);
        curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, (long)request->body_length);
        curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt (easy, CURLOPT_AWS_SIGV4, self->sigv4);
        curl_easy_setopt (easy, CURLOPT_USERNAME, self->credentials.access_key_id);
        curl_easy_setopt (easy, CURLOPT_PASSWORD, self->credentials.secret_access_key);
        curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
        curl_easy_setopt (easy, CURLOPT_WRITEDATA, request);
        curl_easy_setopt (easy, CURLOPT_PRIVATE, request);
        curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, self->config.request_timeout_ms);
        curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (easy, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
        ok = curl_multi_add_handle (self->multi, easy) == CURLM_OK;
    }
    if (!ok) {
        if (request) {
            request->count = 0;
            s_request_destroy (self, request, false);
        }
        bool charged = s_charge (self);
        for (size_t i = 0; i < count; i++)
            s_retry (self, items[i], charged, "OutOfMemory", "could not start the request");
        return;
    }
    for (size_t i = 0; i < count; i++)
        items[i]->attempts++;
    for (size_t i = 0; i < self->config.max_in_flight; i++)
        if (!self->active[i]) {
            self->active[i] = request;
            break;
        }
    self->stats.in_flight++;
    self->stats.bytes += request->body_length;
}

static bool
s_is_auth_error (const char *type, long http)
{
    static const char *const names[] = {"InvalidSignatureException",
                                        "UnrecognizedClientException",
                                        "AccessDeniedException",
                                        "IncompleteSignatureException",
                                        "MissingAuthenticationTokenException",
                                        "InvalidClientTokenId",
                                        "SignatureDoesNotMatch",
                                        "AccessDenied",
                                        "NotAuthorized"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp (type, names[i]) == 0)
            return true;
    return http == 401 || (http == 403 && !*type);
}

static void
s_complete (cab_mirror_t *self, s_request_t *request, CURLcode rc)
{
    long http = 0;
    curl_easy_getinfo (request->easy, CURLINFO_RESPONSE_CODE, &http);
    self->stats.requests++;
    self->stats.in_flight--;
    for (size_t i = 0; i < self->config.max_in_flight; i++)
        if (self->active[i] == request)
            self->active[i] = NULL;
    size_t count = request->count;
    s_item_t **items = request->items;
    char type[128] = "", message[256] = "";
    if (rc != CURLE_OK) {
        self->stats.network_errors++;
        snprintf (self->stats.last_error, sizeof self->stats.last_error, "%s",
                  curl_easy_strerror (rc));
        bool charged = s_charge (self);
        for (size_t i = 0; i < count; i++)
            s_retry (self, items[i], charged, "NetworkError", curl_easy_strerror (rc));
    } else if (http == 200) {
        cab_putevents_result_t results[CAB_PUTEVENTS_MAX_ENTRIES];
        cab_error_t error;
        if (cab_putevents_response_parse (request->response ? request->response : "",
                                          request->response_length, count, results, NULL,
                                          &error) != CAB_OK) {
            snprintf (self->stats.last_error, sizeof self->stats.last_error, "BadResponse");
            bool charged = s_charge (self);
            for (size_t i = 0; i < count; i++)
                s_retry (self, items[i], charged, "BadResponse", error.text);
        } else {
            unsigned refund = self->stats.retry_tokens + S_RETRY_REFUND;
            self->stats.retry_tokens =
                refund > self->config.retry_quota ? self->config.retry_quota : refund;
            bool charged = true, asked = false;
            for (size_t i = 0; i < count; i++) {
                cab_putevents_result_t *r = &results[i];
                if (*r->event_id)
                    s_report (self, items[i], CAB_MIRROR_ACCEPTED, r->event_id, NULL, NULL, 0);
                else if (cab_putevents_retryable (r->error_code)) {
                    if (strcmp (r->error_code, "ThrottlingException") == 0)
                        self->stats.throttled++;
                    if (!asked) {
                        charged = s_charge (self);
                        asked = true;
                    }
                    s_retry (self, items[i], charged, r->error_code, r->error_message);
                } else
                    s_report (self, items[i], CAB_MIRROR_DEAD_LETTERED, NULL, r->error_code,
                              r->error_message, 0);
            }
        }
    } else {
        cab_putevents_error_parse (request->response, request->response_length, type, sizeof type,
                                   message, sizeof message);
        if (!*type)
            snprintf (type, sizeof type, "HTTP%ld", http);
        snprintf (self->stats.last_error, sizeof self->stats.last_error, "%s", type);
        bool expired = strstr (type, "ExpiredToken") != NULL;
        if (http >= 500 || cab_putevents_retryable (type) || expired || http == 429) {
            if (http >= 500)
                self->stats.server_errors++;
            else if (!expired)
                self->stats.throttled++;
            if (expired && self->creds) {
                cab_aws_creds_invalidate (self->creds);
                cab_aws_creds_get (self->creds, 0, &self->credentials, NULL);
            }
            bool charged = s_charge (self);
            for (size_t i = 0; i < count; i++)
                s_retry (self, items[i], charged, type, message);
        } else if (s_is_auth_error (type, http)) {
            self->stats.auth_errors++;
            for (size_t i = 0; i < count; i++)
                s_report (self, items[i], CAB_MIRROR_FAILED, NULL, type, message, 0);
        } else if (count > 1) {
            //  A request-level refusal (ValidationException...): find the
            //  culprit by sending each entry alone.
            for (size_t i = 0; i < count; i++) {
                items[i]->solo = true;
                s_push (&self->ready, items[i]);
            }
        } else
            s_report (self, items[0], CAB_MIRROR_DEAD_LETTERED, NULL, type, message, 0);
    }
    request->count = 0;
    s_request_destroy (self, request, false);
}

static void
s_promote (cab_mirror_t *self, int64_t now, int64_t *next_p)
{
    s_list_t still = {NULL, NULL};
    s_item_t *item;
    while ((item = s_pop (&self->delayed))) {
        if (item->not_before <= now)
            s_push (&self->ready, item);
        else {
            if (*next_p < 0 || item->not_before - now < *next_p)
                *next_p = item->not_before - now;
            s_push (&still, item);
        }
    }
    self->delayed = still;
}

static void
s_refresh_credentials (cab_mirror_t *self)
{
    if (!self->creds)
        return;
    cab_aws_credentials_t fresh;
    if (cab_aws_creds_get (self->creds, 0, &fresh, NULL) == CAB_OK)
        self->credentials = fresh;
    memset (&fresh, 0, sizeof fresh);
}

cab_status_t
cab_mirror_run (cab_mirror_t *self, int timeout_ms)
{
    int64_t next = -1;
    s_promote (self, s_now_ms (), &next);
    if (self->stats.dry_run) {
        if (self->ready.head)
            s_dry_run (self);
        else if (timeout_ms > 0)
            usleep ((useconds_t)timeout_ms * 1000);
        return CAB_OK;
    }
    //  With the retry quota spent, keep a single probe in flight.
    size_t window = self->stats.retry_tokens >= S_RETRY_COST ? self->config.max_in_flight : 1;
    if (self->ready.head && self->stats.in_flight < window)
        s_refresh_credentials (self);
    s_item_t *items[CAB_PUTEVENTS_MAX_ENTRIES];
    while (self->stats.in_flight < window) {
        size_t count = s_take_batch (self, items);
        if (count == 0)
            break;
        s_start (self, items, count);
    }
    int running = 0;
    if (curl_multi_perform (self->multi, &running) != CURLM_OK)
        return CAB_ERR_INTERNAL;
    int wait = timeout_ms;
    if (next >= 0 && next < wait)
        wait = (int)next;
    if (self->stats.in_flight == 0 && self->ready.head)
        wait = 0;
    if (wait > 0 && curl_multi_poll (self->multi, NULL, 0, wait, NULL) != CURLM_OK)
        return CAB_ERR_INTERNAL;
    if (curl_multi_perform (self->multi, &running) != CURLM_OK)
        return CAB_ERR_INTERNAL;
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (self->multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        s_request_t *request = NULL;
        curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **)&request);
        CURLcode rc = message->data.result;
        if (request)
            s_complete (self, request, rc);
    }
    return CAB_OK;
}

size_t
cab_mirror_pending (cab_mirror_t *self)
{
    return self->pending;
}

bool
cab_mirror_dry_run (cab_mirror_t *self)
{
    return self->stats.dry_run;
}

void
cab_mirror_stats (cab_mirror_t *self, cab_mirror_stats_t *stats)
{
    *stats = self->stats;
    size_t queued = 0;
    for (s_item_t *item = self->ready.head; item; item = item->next)
        queued++;
    for (s_item_t *item = self->delayed.head; item; item = item->next)
        queued++;
    stats->queued = queued;
}
