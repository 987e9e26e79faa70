/*  =========================================================================
    fuzz_dashboard - the dashboard's request parameter parsing
    (core/dashboard/dash_api.c): the ISO 8601 times of from= and to=
    (dash_parse_iso8601) and the live stream's arguments
    (dash_api_stream_args: pattern, after).

    The input is a query's arguments as a JSON object (what dash_http hands
    the API), or, when it is not JSON, one time text.

    Oracles: a parsed time, written back as ISO 8601 UTC with milliseconds,
    parses to the same instant; the stream's arguments are refused with a
    400 body (InvalidArgument naming the parameter) and nothing returned,
    or accepted with a pattern exactly when one was given and a
    non-negative seq exactly when "after" was given.

    Only dash_api.c is linked: its functions that need the store are
    dropped at link time (-ffunction-sections, --gc-sections).
    =========================================================================
*/
#include "fuzz.h"
#include "dash.h"
#include <string.h>
#include <time.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void
s_time (const char *text)
{
    int64_t ms = 0;
    if (dash_parse_iso8601 (text, &ms) != 0)
        return;
    //  Years 0000 to 9999 with offsets: within a day of that range.
    FUZZ_ASSERT (ms > -62168000000000LL && ms < 253403000000000LL);
    time_t seconds = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r (&seconds, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return;
    char canonical[64];
    snprintf (canonical, sizeof canonical, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
              (int)(ms - (int64_t)seconds * 1000));
    int64_t again = 0;
    FUZZ_ASSERT (dash_parse_iso8601 (canonical, &again) == 0);
    FUZZ_ASSERT (again == ms);
}

static void
s_stream (json_t *args)
{
    cab_pattern_t *pattern = (cab_pattern_t *)1;
    int64_t after = -2;
    json_t *bad = dash_api_stream_args (args, &pattern, &after);
    if (bad) {
        FUZZ_ASSERT (pattern == NULL);
        FUZZ_ASSERT (json_is_string (json_object_get (bad, "parameter")));
        FUZZ_ASSERT (
            strcmp (json_string_value (json_object_get (bad, "error")), "InvalidArgument") == 0);
        json_decref (bad);
        return;
    }
    FUZZ_ASSERT ((pattern != NULL) == json_is_string (json_object_get (args, "pattern")));
    FUZZ_ASSERT ((after >= 0) == json_is_string (json_object_get (args, "after")));
    cab_pattern_destroy (&pattern);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text[size] = 0;
    json_t *args = json_loadb (text, size, 0, NULL);
    if (json_is_object (args)) {
        //  Each string argument as a time too, as /api/events reads from= and to=.
        const char *name;
        json_t *value;
        json_object_foreach (args, name, value)
        {
            if (json_is_string (value))
                s_time (json_string_value (value));
        }
        s_stream (args);
    } else
        s_time (text);
    json_decref (args);
    free (text);
    return 0;
}
