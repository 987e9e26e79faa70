/*  =========================================================================
    checks - what the monitor samples: load, memory, disks (/proc, statvfs),
    HTTP health (libcurl multi: every endpoint at once), log files (tailed,
    with rotation, lines matched by POSIX extended regular expressions)
    =========================================================================
*/
#include "monitor.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

//  Most bytes of a log file read per sample; the rest waits for the next.
#define S_LOG_CHUNK  (1024 * 1024)
#define S_MAX_CHECKS 256

level_t
level_of (double value, const double thresholds[3])
{
    level_t level = LEVEL_OK;
    for (int index = 0; index < 3; index++)
        if (thresholds[index] > 0 && value >= thresholds[index])
            level = (level_t)(LEVEL_MEDIUM + index);
    return level;
}

static bool
s_thresholds (const json_t *object, const char *where, double defaults[3], double out[3],
              cab_error_t *error)
{
    static const char *names[3] = {"medium", "high", "critical"};
    for (int index = 0; index < 3; index++) {
        json_t *value = json_object_get (object, names[index]);
        if (!value)
            out[index] = defaults[index];
        else if (!json_is_number (value) || json_number_value (value) < 0) {
            char path[256];
            snprintf (path, sizeof path, "%s/%s", where, names[index]);
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "must be a number >= 0");
            return false;
        } else
            out[index] = json_number_value (value);
    }
    return true;
}

static check_t *
s_add (check_t *checks, size_t *count, check_kind_t kind, const char *key, const char *issue_type)
{
    if (*count >= S_MAX_CHECKS)
        return NULL;
    check_t *check = &checks[(*count)++];
    memset (check, 0, sizeof *check);
    check->kind = kind;
    snprintf (check->key, sizeof check->key, "%s", key);
    check->issue_type = issue_type;
    check->reported = LEVEL_OK;
    check->verdict.level = LEVEL_OK;
    return check;
}

static const char *
s_string (const json_t *object, const char *name, const char *where, cab_error_t *error)
{
    json_t *value = json_object_get (object, name);
    if (!json_is_string (value) || !*json_string_value (value)) {
        char path[256];
        snprintf (path, sizeof path, "%s/%s", where, name);
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, path, "a non-empty string is required");
        return NULL;
    }
    return json_string_value (value);
}

check_t *
checks_new (const json_t *section, size_t *count_p, cab_error_t *error)
{
    check_t *checks = (check_t *)calloc (S_MAX_CHECKS, sizeof *checks);
    size_t count = 0;
    if (!checks) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    double load_defaults[3] = {2.0, 4.0, 8.0};  //  Per CPU
    double percent_defaults[3] = {85, 92, 97};
    json_t *load = json_object_get (section, "load");
    if (!json_is_false (load)) {
        check_t *check = s_add (checks, &count, CHECK_LOAD, "load", "high_load");
        check->resource = "host";
        if (!s_thresholds (load, "/monitor/load", load_defaults, check->thresholds, error))
            goto fail;
    }
    json_t *memory = json_object_get (section, "memory");
    if (!json_is_false (memory)) {
        check_t *check = s_add (checks, &count, CHECK_MEMORY, "memory", "memory_pressure");
        check->resource = "host";
        if (!s_thresholds (memory, "/monitor/memory", percent_defaults, check->thresholds, error))
            goto fail;
    }
    json_t *disks = json_object_get (section, "disks");
    json_t *default_disks = NULL;
    if (!disks)
        disks = default_disks = json_pack ("[{s:s}]", "path", "/");
    size_t index;
    json_t *item;
    char where[128];
    json_array_foreach (disks, index, item)
    {
        snprintf (where, sizeof where, "/monitor/disks/%zu", index);
        const char *path = s_string (item, "path", where, error);
        char key[300];
        snprintf (key, sizeof key, "disk:%s", path ? path : "");
        check_t *check = path ? s_add (checks, &count, CHECK_DISK, key, "disk_full") : NULL;
        if (!check || !(check->path = strdup (path)) ||
            !s_thresholds (item, where, percent_defaults, check->thresholds, error)) {
            json_decref (default_disks);
            goto fail;
        }
        check->resource = check->path;
    }
    json_decref (default_disks);
    double latency_defaults[3] = {500, 2000, 0};
    json_array_foreach (json_object_get (section, "http"), index, item)
    {
        snprintf (where, sizeof where, "/monitor/http/%zu", index);
        const char *name = s_string (item, "name", where, error);
        const char *url = name ? s_string (item, "url", where, error) : NULL;
        if (!url)
            goto fail;
        if (strncmp (url, "http://", 7) && strncmp (url, "https://", 8)) {
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, where, "url must be http:// or https://");
            goto fail;
        }
        char key[300];
        snprintf (key, sizeof key, "http:%s", name);
        check_t *check = s_add (checks, &count, CHECK_HTTP, key, "http_health");
        if (!check || !(check->url = strdup (url)))
            goto fail;
        check->resource = check->url;
        json_t *expect = json_object_get (item, "expect_status");
        check->expect_status = expect ? (long)json_integer_value (expect) : 200;
        json_t *timeout = json_object_get (item, "timeout_ms");
        check->timeout_ms = timeout ? (long)json_integer_value (timeout) : 2000;
        if (check->timeout_ms < 100 || check->timeout_ms > 10000 || check->expect_status < 100 ||
            check->expect_status > 599) {
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, where,
                           "timeout_ms must be 100..10000 and expect_status 100..599");
            goto fail;
        }
        if (!s_thresholds (json_object_get (item, "latency_ms"), where, latency_defaults,
                           check->thresholds, error))
            goto fail;
    }
    json_array_foreach (json_object_get (section, "logs"), index, item)
    {
        snprintf (where, sizeof where, "/monitor/logs/%zu", index);
        const char *path = s_string (item, "path", where, error);
        const char *pattern = path ? s_string (item, "pattern", where, error) : NULL;
        if (!pattern)
            goto fail;
        char key[300];
        snprintf (key, sizeof key, "log:%s:%zu", path, index);
        check_t *check = s_add (checks, &count, CHECK_LOG, key, "log_pattern");
        if (!check || !(check->path = strdup (path)))
            goto fail;
        check->resource = check->path;
        int rc = regcomp (&check->regex, pattern, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char text[256];
            regerror (rc, &check->regex, text, sizeof text);
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, where, "pattern: %s", text);
            goto fail;
        }
        check->regex_ready = true;
        cab_severity_t severity = CAB_SEVERITY_HIGH;
        json_t *given = json_object_get (item, "severity");
        if (given && cab_severity_parse (json_string_value (given), &severity) != CAB_OK) {
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, where,
                           "severity must be LOW, MEDIUM, HIGH or CRITICAL");
            goto fail;
        }
        check->log_level = (level_t)severity;
        json_t *quiet = json_object_get (item, "quiet_s");
        json_int_t quiet_s = quiet ? json_integer_value (quiet) : 300;
        if (quiet && (!json_is_integer (quiet) || quiet_s < 0 || quiet_s > 86400)) {
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, where, "quiet_s must be 0..86400");
            goto fail;
        }
        check->quiet_ms = (int64_t)quiet_s * 1000;
    }
    *count_p = count;
    return checks;
fail:
    if (error && error->code == CAB_OK)
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/monitor", "at most %d checks",
                       S_MAX_CHECKS);
    checks_destroy (checks, count);
    return NULL;
}

void
checks_destroy (check_t *checks, size_t count)
{
    for (size_t index = 0; checks && index < count; index++) {
        free (checks[index].url);
        free (checks[index].path);
        if (checks[index].regex_ready)
            regfree (&checks[index].regex);
        json_decref (checks[index].verdict.metrics);
    }
    free (checks);
}

static void s_verdict (check_t *check, level_t level, json_t *metrics, const char *action,
                       const char *format, ...) __attribute__ ((format (printf, 5, 6)));

static void
s_verdict (check_t *check, level_t level, json_t *metrics, const char *action, const char *format,
           ...)
{
    json_decref (check->verdict.metrics);
    check->verdict.level = level;
    check->verdict.metrics = metrics;
    check->verdict.action = action;
    va_list args;
    va_start (args, format);
    vsnprintf (check->verdict.description, sizeof check->verdict.description, format, args);
    va_end (args);
}

static void
s_sample_load (check_t *check)
{
    double one = 0, five = 0, fifteen = 0;
    FILE *file = fopen ("/proc/loadavg", "r");
    int read = file ? fscanf (file, "%lf %lf %lf", &one, &five, &fifteen) : 0;
    if (file)
        fclose (file);
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    if (read != 3 || cpus < 1) {
        s_verdict (check, LEVEL_OK, NULL, NULL, "load unknown");
        return;
    }
    double per_cpu = one / (double)cpus;
    s_verdict (check, level_of (per_cpu, check->thresholds),
               json_pack ("{s:f, s:f, s:f, s:I}", "load1", one, "load5", five, "load15", fifteen,
                          "cpus", (json_int_t)cpus),
               "find the processes using the CPU", "load %.2f on %ld CPUs (%.2f per CPU)", one,
               cpus, per_cpu);
}

static void
s_sample_memory (check_t *check)
{
    FILE *file = fopen ("/proc/meminfo", "r");
    char line[256];
    long long total = -1, available = -1;
    while (file && fgets (line, sizeof line, file)) {
        long long value;
        if (sscanf (line, "MemTotal: %lld kB", &value) == 1)
            total = value;
        else if (sscanf (line, "MemAvailable: %lld kB", &value) == 1)
            available = value;
    }
    if (file)
        fclose (file);
    if (total <= 0 || available < 0) {
        s_verdict (check, LEVEL_OK, NULL, NULL, "memory unknown");
        return;
    }
    double used = 100.0 * (double)(total - available) / (double)total;
    s_verdict (check, level_of (used, check->thresholds),
               json_pack ("{s:f, s:I, s:I}", "memory_used_percent", used, "total_kib",
                          (json_int_t)total, "available_kib", (json_int_t)available),
               "find the processes using the memory", "memory %.1f%% used (%lld of %lld MiB free)",
               used, available / 1024, total / 1024);
}

static void
s_sample_disk (check_t *check)
{
    struct statvfs fs;
    if (statvfs (check->path, &fs) != 0 || fs.f_blocks == 0) {
        s_verdict (check, LEVEL_HIGH, NULL, "check that the file system is mounted",
                   "cannot read %s: %s", check->path, strerror (errno));
        return;
    }
    //  As df computes it: used / (used + available to users).
    double used = (double)(fs.f_blocks - fs.f_bfree);
    double percent = 100.0 * used / (used + (double)fs.f_bavail);
    double free_bytes = (double)fs.f_bavail * (double)fs.f_frsize;
    s_verdict (check, level_of (percent, check->thresholds),
               json_pack ("{s:f, s:f}", "disk_used_percent", percent, "free_bytes", free_bytes),
               "free space or grow the volume", "%s is %.1f%% full", check->path, percent);
}

static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void)data;
    (void)arg;
    return size * count;
}

static void
s_sample_http (check_t *checks, size_t count)
{
    CURLM *multi = curl_multi_init ();
    CURL *handles[S_MAX_CHECKS] = {0};
    for (size_t index = 0; multi && index < count; index++) {
        if (checks[index].kind != CHECK_HTTP)
            continue;
        CURL *easy = curl_easy_init ();
        if (!easy)
            continue;
        curl_easy_setopt (easy, CURLOPT_URL, checks[index].url);
        curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, checks[index].timeout_ms);
        curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (easy, CURLOPT_USERAGENT, "cabruca-monitor");
        curl_easy_setopt (easy, CURLOPT_PRIVATE, &checks[index]);
        handles[index] = easy;
        curl_multi_add_handle (multi, easy);
    }
    int running = 1;
    while (multi && running) {
        if (curl_multi_perform (multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll (multi, NULL, 0, 100, NULL);
    }
    CURLMsg *message;
    int left;
    while (multi && (message = curl_multi_info_read (multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        check_t *check = NULL;
        curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **)&check);
        long status = 0;
        double seconds = 0;
        curl_easy_getinfo (message->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo (message->easy_handle, CURLINFO_TOTAL_TIME, &seconds);
        double ms = seconds * 1000;
        if (message->data.result != CURLE_OK)
            s_verdict (check, LEVEL_CRITICAL, json_pack ("{s:f}", "latency_ms", ms),
                       "check that the service is running", "%s is down: %s", check->url,
                       curl_easy_strerror (message->data.result));
        else if (status != check->expect_status)
            s_verdict (check, LEVEL_HIGH,
                       json_pack ("{s:I, s:f}", "status", (json_int_t)status, "latency_ms", ms),
                       "read the service's logs", "%s answered %ld, expected %ld", check->url,
                       status, check->expect_status);
        else
            s_verdict (check, level_of (ms, check->thresholds),
                       json_pack ("{s:I, s:f}", "status", (json_int_t)status, "latency_ms", ms),
                       "look for slow requests", "%s answered %ld in %.0f ms", check->url, status,
                       ms);
    }
    for (size_t index = 0; index < count; index++)
        if (handles[index]) {
            curl_multi_remove_handle (multi, handles[index]);
            curl_easy_cleanup (handles[index]);
        }
    curl_multi_cleanup (multi);
}

//  Read what was appended since the last sample; count matching lines.
static void
s_sample_log (check_t *check)
{
    int fd = open (check->path, O_RDONLY | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat (fd, &info) != 0) {
        if (fd >= 0)
            close (fd);
        s_verdict (check, LEVEL_OK, NULL, NULL, "%s not readable", check->path);
        return;
    }
    if (!check->opened) {
        //  First look: start at the end; only new lines count.
        check->opened = true;
        check->inode = info.st_ino;
        check->offset = info.st_size;
    } else if (info.st_ino != check->inode || info.st_size < check->offset) {
        check->inode = info.st_ino;  //  Rotated or truncated: read the new file from the start
        check->offset = 0;
    }
    size_t want = (size_t)(info.st_size - check->offset);
    if (want > S_LOG_CHUNK)
        want = S_LOG_CHUNK;
    char *data = want ? (char *)malloc (want + 1) : NULL;
    ssize_t got = data ? pread (fd, data, want, check->offset) : 0;
    close (fd);
    long matches = 0;
    char first[200] = "";
    if (got > 0) {
        //  Only whole lines; a partial last line waits for its newline.
        ssize_t end = got;
        while (end > 0 && data[end - 1] != '\n')
            end--;
        check->offset += end;
        data[end] = '\0';
        for (char *line = data; line < data + end;) {
            char *newline = strchr (line, '\n');
            *newline = '\0';
            if (regexec (&check->regex, line, 0, NULL, 0) == 0) {
                if (!matches++)
                    snprintf (first, sizeof first, "%s", line);
            }
            line = newline + 1;
        }
    }
    free (data);
    //  A log issue lasts while lines keep matching, and quiet_ms more.
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    bool active = check->verdict.level != LEVEL_OK && check->total_matches > 0;
    if (matches) {
        check->total_matches = (active ? check->total_matches : 0) + matches;
        check->last_match_ms = now_ms;
        s_verdict (check, check->log_level,
                   json_pack ("{s:I, s:I}", "matching_lines", (json_int_t)matches,
                              "matching_lines_total", (json_int_t)check->total_matches),
                   "read the log around the matching lines", "%ld matching line%s in %s: %s",
                   matches, matches == 1 ? "" : "s", check->path, first);
    } else if (!active || now_ms - check->last_match_ms >= check->quiet_ms) {
        check->total_matches = 0;
        s_verdict (check, LEVEL_OK, NULL, NULL, "no matching lines in %s", check->path);
    }
    //  Otherwise the verdict stands: the issue lasts through the quiet period.
}

void
checks_sample (check_t *checks, size_t count)
{
    bool http = false;
    for (size_t index = 0; index < count; index++) {
        check_t *check = &checks[index];
        if (check->kind == CHECK_LOAD)
            s_sample_load (check);
        else if (check->kind == CHECK_MEMORY)
            s_sample_memory (check);
        else if (check->kind == CHECK_DISK)
            s_sample_disk (check);
        else if (check->kind == CHECK_LOG)
            s_sample_log (check);
        else
            http = true;
    }
    if (http)
        s_sample_http (checks, count);
}
