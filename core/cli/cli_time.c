/*  =========================================================================
    cli_time - times on the command line: ISO 8601 UTC or relative to now

    Shared by the subcommands that take a time window (`cabruca dlq list
    --since`, `cabruca replay --from`). See cli.h.
    =========================================================================
*/
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Most a relative time may reach back: 100 years, in ms.
#define S_RELATIVE_MAX (100LL * 366 * 86400000)

int64_t
cli_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

bool
cli_parse_time (const char *text, int64_t now_ms, int64_t *ms_p)
{
    if (!text || !*text)
        return false;
    if (strcmp (text, "now") == 0) {
        *ms_p = now_ms;
        return true;
    }
    if (text[0] == '-') {
        if (text[1] < '0' || text[1] > '9')
            return false;
        char *end = NULL;
        errno = 0;
        long long amount = strtoll (text + 1, &end, 10);
        if (errno || !end || end[0] == '\0' || end[1] != '\0')
            return false;
        long long unit = end[0] == 's'   ? 1000LL
                         : end[0] == 'm' ? 60000LL
                         : end[0] == 'h' ? 3600000LL
                         : end[0] == 'd' ? 86400000LL
                                         : 0;
        if (unit == 0 || amount > S_RELATIVE_MAX / unit)
            return false;
        *ms_p = now_ms - amount * unit;
        return true;
    }
    return cab_time_parse (text, ms_p) == CAB_OK;
}

char *
cli_format_time (int64_t ms, char *buffer, size_t size)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r (&seconds, &tm)) {
        snprintf (buffer, size, "-");
        return buffer;
    }
    snprintf (buffer, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return buffer;
}
