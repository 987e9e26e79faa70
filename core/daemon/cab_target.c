/*  =========================================================================
    cab_target - the backend table and the helpers the backends share
    =========================================================================
*/
#include "cab_target.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const cab_target_ops_t *s_backends[] = {
    &cab_target_command_ops,
    &cab_target_http_ops,
    &cab_target_log_ops,
};

const cab_target_ops_t *
cab_target_lookup (const char *name)
{
    if (!name)
        return NULL;
    for (size_t index = 0; index < sizeof s_backends / sizeof s_backends[0]; index++)
        if (strcmp (s_backends[index]->name, name) == 0)
            return s_backends[index];
    return NULL;
}

const cab_target_ops_t *
cab_target_for_type (cab_target_type_t type)
{
    for (size_t index = 0; index < sizeof s_backends / sizeof s_backends[0]; index++)
        if (s_backends[index]->type == type)
            return s_backends[index];
    return NULL;
}

int64_t
cab_target_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

cab_status_t
cab_target_fail (cab_send_job_t *job, cab_status_t status, bool permanent, const char *format, ...)
{
    job->status = status;
    job->permanent = permanent;
    va_list args;
    va_start (args, format);
    int length = vsnprintf (job->error, sizeof job->error, format, args);
    va_end (args);
    if (length >= (int)sizeof job->error)
        memcpy (job->error + sizeof job->error - 4, "...", 4);
    return status;
}

//  Length of the valid UTF-8 sequence at text (at most size bytes), or 0.
static size_t
s_utf8_length (const unsigned char *text, size_t size)
{
    unsigned char lead = text[0];
    size_t length;
    unsigned min;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        min = 0x10000;
    } else
        return 0;
    if (length > size)
        return 0;
    unsigned code = lead & (0x3F >> (length - 1));
    for (size_t index = 1; index < length; index++) {
        if ((text[index] & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (text[index] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

char *
cab_target_excerpt (char *buffer, size_t capacity, const char *text, size_t size)
{
    if (!buffer || capacity < 8)
        return buffer;
    size_t length = strnlen (buffer, capacity - 1);
    size_t limit = capacity - 4;  //  room for "..." and the terminator
    const unsigned char *in = (const unsigned char *)text;
    bool cut = false;
    size_t at = 0;
    while (text && at < size) {
        unsigned char byte = in[at];
        size_t step = 1;
        const char *out = NULL;
        char one;
        if (byte == '\n' || byte == '\r' || byte == '\t' || byte == ' ') {
            one = ' ';
            if (length == 0 || buffer[length - 1] == ' ') {
                at++;
                continue;
            }
            out = &one;
        } else if (byte < 0x20 || byte == 0x7F) {
            one = '?';
            out = &one;
        } else if (byte < 0x80) {
            out = (const char *)in + at;
        } else {
            step = s_utf8_length (in + at, size - at);
            if (step == 0) {
                step = 1;
                one = '?';
                out = &one;
            } else
                out = (const char *)in + at;
        }
        size_t width = out == &one ? 1 : step;
        if (length + width > limit) {
            cut = true;
            break;
        }
        memcpy (buffer + length, out, width);
        length += width;
        at += step;
    }
    while (length > 0 && buffer[length - 1] == ' ')
        length--;
    if (cut) {
        memcpy (buffer + length, "...", 3);
        length += 3;
    }
    buffer[length] = '\0';
    return buffer;
}
