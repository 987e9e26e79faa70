/*  =========================================================================
    cab_time - ISO 8601 UTC times, EventBridge's form

    cabruca writes "YYYY-MM-DDThh:mm:ss.fffZ" and reads
    "YYYY-MM-DDThh:mm:ss[.f+]Z" (1 to 9 fraction digits). Nothing else:
    no offsets, no lowercase separators, no leap seconds, no years past 9999.
    Conversions use Howard Hinnant's days_from_civil / civil_from_days, so
    there is no dependency on the process's time zone.
    =========================================================================
*/
#include "cabruca.h"
#include <time.h>

int64_t
cab_time_days_from_civil (int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
cab_time_civil_from_days (int64_t z, int64_t *y_p, int *m_p, int *d_p)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y_p = yoe + era * 400 + (m <= 2);
    *m_p = m;
    *d_p = d;
}

static int
s_days_in_month (int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

//  Write `width` decimal digits of value into out.
static void
s_digits (char *out, int64_t value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

char *
cab_time_now (char *buffer)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    int64_t millis = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int64_t days = millis / 86400000;
    int64_t rest = millis % 86400000;
    int64_t year;
    int month, day;
    cab_time_civil_from_days (days, &year, &month, &day);
    if (year > 9999 || year < 0)
        year = 9999;  //  Not reachable before the year 10000.
    s_digits (buffer, year, 4);
    buffer[4] = '-';
    s_digits (buffer + 5, month, 2);
    buffer[7] = '-';
    s_digits (buffer + 8, day, 2);
    buffer[10] = 'T';
    s_digits (buffer + 11, rest / 3600000, 2);
    buffer[13] = ':';
    s_digits (buffer + 14, rest / 60000 % 60, 2);
    buffer[16] = ':';
    s_digits (buffer + 17, rest / 1000 % 60, 2);
    buffer[19] = '.';
    s_digits (buffer + 20, rest % 1000, 3);
    buffer[23] = 'Z';
    buffer[CAB_TIME_LENGTH] = '\0';
    return buffer;
}

//  Read exactly `width` digits at text; false if any is not a digit.
static bool
s_number (const char *text, int width, int *value_p)
{
    int value = 0;
    for (int i = 0; i < width; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (text[i] - '0');
    }
    *value_p = value;
    return true;
}

cab_status_t
cab_time_parse (const char *text, int64_t *millis_p)
{
    if (!text)
        return CAB_ERR_INVALID_ARGUMENT;
    int year, month, day, hour, minute, second;
    //  The fixed part; each check stops at the terminator, so short text is safe.
    if (!s_number (text, 4, &year) || text[4] != '-' || !s_number (text + 5, 2, &month) ||
        text[7] != '-' || !s_number (text + 8, 2, &day) || text[10] != 'T' ||
        !s_number (text + 11, 2, &hour) || text[13] != ':' || !s_number (text + 14, 2, &minute) ||
        text[16] != ':' || !s_number (text + 17, 2, &second))
        return CAB_ERR_INVALID_ARGUMENT;
    const char *cursor = text + 19;
    int millis = 0;
    if (*cursor == '.') {
        cursor++;
        int digits = 0;
        while (*cursor >= '0' && *cursor <= '9') {
            if (digits < 3)
                millis = millis * 10 + (*cursor - '0');
            digits++;
            cursor++;
        }
        if (digits == 0 || digits > 9)
            return CAB_ERR_INVALID_ARGUMENT;
        for (; digits < 3; digits++)
            millis *= 10;
    }
    if (cursor[0] != 'Z' || cursor[1] != '\0')
        return CAB_ERR_INVALID_ARGUMENT;
    if (month < 1 || month > 12 || day < 1 || day > s_days_in_month (year, month) || hour > 23 ||
        minute > 59 || second > 59)
        return CAB_ERR_INVALID_ARGUMENT;
    if (millis_p)
        *millis_p =
            ((cab_time_days_from_civil (year, month, day) * 24 + hour) * 60 + minute) * 60000 +
            (int64_t)second * 1000 + millis;
    return CAB_OK;
}
