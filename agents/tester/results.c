/*  =========================================================================
    results - what a test run's output says: counts and failed tests

    Understands, in one pass over the output: Check's summary line
    ("92%: Checks: 12, Failures: 1, Errors: 0") and failure lines
    ("file.c:12:F:tcase:test_name:0: message"); TAP ("ok 1 - name",
    "not ok 2 - name", "# SKIP"); the automake test harness ("FAIL: name",
    "# TOTAL: 5", "# PASS: 4", "# FAIL: 1", "# SKIP: 0", "# ERROR: 0"); the plain
    "3 passed, 1 failed" line of pytest and others. JUnit XML reports are read
    from files (results_add_junit). The largest evidence wins for counts;
    failed test names are collected from every format, without repeats.
    =========================================================================
*/
#include "results.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_add_failure (results_t *self, const char *name, size_t name_length, const char *message,
               size_t message_length, const char *file, size_t file_length)
{
    if (self->failure_count >= RESULTS_MAX_FAILURES || name_length == 0)
        return;
    if (name_length >= sizeof self->failures[0].name)
        name_length = sizeof self->failures[0].name - 1;
    for (size_t index = 0; index < self->failure_count; index++)
        if (strlen (self->failures[index].name) == name_length &&
            memcmp (self->failures[index].name, name, name_length) == 0)
            return;
    failure_t *failure = &self->failures[self->failure_count++];
    memset (failure, 0, sizeof *failure);
    memcpy (failure->name, name, name_length);
    if (message) {
        if (message_length >= sizeof failure->message)
            message_length = sizeof failure->message - 1;
        memcpy (failure->message, message, message_length);
    }
    if (file) {
        if (file_length >= sizeof failure->file)
            file_length = sizeof failure->file - 1;
        memcpy (failure->file, file, file_length);
    }
}

static void
s_counts (results_t *self, long total, long passed, long failed, long skipped)
{
    //  Several formats may report: keep the one that saw the most tests.
    if (total < self->total)
        return;
    self->total = total;
    self->passed = passed;
    self->failed = failed;
    self->skipped = skipped;
    self->found = true;
}

//  Check's failure line: file:line:F|E:tcase:test:iteration: message
static bool
s_check_failure (results_t *self, const char *line, size_t length)
{
    const char *fields[6];
    const char *cursor = line, *end = line + length;
    for (int index = 0; index < 6; index++) {
        fields[index] = cursor;
        const char *colon = memchr (cursor, ':', (size_t)(end - cursor));
        if (!colon)
            return false;
        cursor = colon + 1;
    }
    //  fields: file, line, result, tcase, test, iteration
    if (!isdigit ((unsigned char)*fields[1]) || (fields[2][0] != 'F' && fields[2][0] != 'E') ||
        fields[2][1] != ':')
        return false;
    const char *message = cursor;
    while (message < end && *message == ' ')
        message++;
    s_add_failure (self, fields[4], (size_t)(fields[5] - fields[4] - 1), message,
                   (size_t)(end - message), fields[0], (size_t)(fields[1] - fields[0] - 1));
    return true;
}

static void
s_line (results_t *self, const char *line, size_t length, long tap[3], long harness[5])
{
    char text[1024];
    if (length >= sizeof text)
        length = sizeof text - 1;
    memcpy (text, line, length);
    text[length] = '\0';
    long checks, failures, errors, a, b;
    const char *found;
    if ((found = strstr (text, "%: Checks: ")) &&
        sscanf (found, "%%: Checks: %ld, Failures: %ld, Errors: %ld", &checks, &failures,
                &errors) == 3) {
        s_counts (self, checks, checks - failures - errors, failures + errors, 0);
    } else if (s_check_failure (self, line, length))
        ;
    else if (strncmp (text, "ok ", 3) == 0 && isdigit ((unsigned char)text[3])) {
        if (strstr (text, "# SKIP") || strstr (text, "# skip"))
            tap[2]++;
        else
            tap[0]++;
    } else if (strncmp (text, "not ok ", 7) == 0 && isdigit ((unsigned char)text[7])) {
        if (strstr (text, "# TODO"))
            tap[2]++;
        else {
            tap[1]++;
            const char *name = text + 7;
            while (isdigit ((unsigned char)*name))
                name++;
            while (*name == ' ' || *name == '-')
                name++;
            const char *hash = strchr (name, '#');
            size_t name_length = hash ? (size_t)(hash - name) : strlen (name);
            while (name_length && name[name_length - 1] == ' ')
                name_length--;
            s_add_failure (self, name, name_length, NULL, 0, NULL, 0);
        }
    } else if (strncmp (text, "FAIL: ", 6) == 0 || strncmp (text, "ERROR: ", 7) == 0) {
        const char *name = text + (text[0] == 'F' ? 6 : 7);
        s_add_failure (self, name, strlen (name), NULL, 0, NULL, 0);
    } else if (sscanf (text, "# TOTAL: %ld", &a) == 1)
        harness[0] = a;
    else if (sscanf (text, "# PASS: %ld", &a) == 1)
        harness[1] = a;
    else if (sscanf (text, "# FAIL: %ld", &a) == 1)
        harness[2] = a;
    else if (sscanf (text, "# SKIP: %ld", &a) == 1)
        harness[3] = a;
    else if (sscanf (text, "# ERROR: %ld", &a) == 1)
        harness[4] = a;
    else {
        //  "3 passed, 1 failed" (pytest: "=== 3 passed, 1 failed in 0.1s ===")
        const char *passed = strstr (text, " passed");
        if (passed) {
            const char *start = passed;
            while (start > text && isdigit ((unsigned char)start[-1]))
                start--;
            if (start < passed && sscanf (start, "%ld passed", &a) == 1) {
                b = 0;
                const char *failed = strstr (passed, " failed");
                if (failed) {
                    const char *digits = failed;
                    while (digits > passed && isdigit ((unsigned char)digits[-1]))
                        digits--;
                    if (digits < failed)
                        b = strtol (digits, NULL, 10);
                }
                s_counts (self, a + b, a, b, 0);
            }
        }
    }
}

void
results_parse (results_t *self, const char *output, size_t size)
{
    long tap[3] = {0, 0, 0};                 //  passed, failed, skipped
    long harness[5] = {-1, -1, -1, -1, -1};  //  total, pass, fail, skip, error
    for (const char *line = output; line < output + size;) {
        const char *end = memchr (line, '\n', (size_t)(output + size - line));
        size_t length = end ? (size_t)(end - line) : (size_t)(output + size - line);
        if (length && line[length - 1] == '\r')
            length--;
        s_line (self, line, length, tap, harness);
        line = end ? end + 1 : output + size;
    }
    if (tap[0] + tap[1] + tap[2])
        s_counts (self, tap[0] + tap[1] + tap[2], tap[0], tap[1], tap[2]);
    if (harness[0] >= 0)
        s_counts (self, harness[0], harness[1] > 0 ? harness[1] : 0,
                  (harness[2] > 0 ? harness[2] : 0) + (harness[4] > 0 ? harness[4] : 0),
                  harness[3] > 0 ? harness[3] : 0);
}

//  The value of attribute name="..." in the tag starting at tag, or "".
static size_t
s_attribute (const char *tag, const char *tag_end, const char *name, const char **value_p)
{
    char pattern[32];
    snprintf (pattern, sizeof pattern, " %s=\"", name);
    const char *found = strstr (tag, pattern);
    if (!found || found > tag_end)
        return 0;
    found += strlen (pattern);
    const char *quote = strchr (found, '"');
    if (!quote || quote > tag_end)
        return 0;
    *value_p = found;
    return (size_t)(quote - found);
}

void
results_add_junit (results_t *self, const char *xml)
{
    long total = 0, failed = 0, skipped = 0;
    for (const char *testcase = strstr (xml, "<testcase"); testcase;
         testcase = strstr (testcase + 9, "<testcase")) {
        total++;
        const char *tag_end = strchr (testcase, '>');
        if (!tag_end)
            break;
        const char *next = strstr (testcase + 9, "<testcase");
        const char *failure = strstr (tag_end, "<failure");
        const char *error = strstr (tag_end, "<error");
        const char *skip = strstr (tag_end, "<skipped");
        bool self_closing = tag_end[-1] == '/';
        if (!self_closing && skip && (!next || skip < next))
            skipped++;
        const char *bad = failure && (!next || failure < next) ? failure
                          : error && (!next || error < next)   ? error
                                                               : NULL;
        if (self_closing || !bad)
            continue;
        failed++;
        const char *name = NULL, *message = NULL, *file = NULL;
        size_t name_length = s_attribute (testcase, tag_end, "name", &name);
        size_t file_length = s_attribute (testcase, tag_end, "file", &file);
        const char *bad_end = strchr (bad, '>');
        size_t message_length = bad_end ? s_attribute (bad, bad_end, "message", &message) : 0;
        if (name_length)
            s_add_failure (self, name, name_length, message, message_length, file, file_length);
    }
    if (total)
        s_counts (self, total, total - failed - skipped, failed, skipped);
}
