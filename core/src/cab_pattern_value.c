/*  =========================================================================
    cab_pattern_value - the value predicates of event patterns: numbers
    compared by value, case folding, wildcards, IP addresses and CIDR blocks
    =========================================================================
*/
#include "cab_pattern_internal.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Normalize decimal text into significant digits (no leading or trailing
//  zeros) and the exponent of the last digit. Returns the digit count, or
//  -1 when there are more than `cap` significant digits.
static int
s_normalize (const char *text, size_t len, bool *negative, char *digits, int cap, long *exp10)
{
    size_t i = 0;
    *negative = false;
    if (i < len && text[i] == '-') {
        *negative = true;
        i++;
    }
    int n = 0;
    long point = 0;  //  digits after the decimal point that were kept
    long dropped = 0;
    bool after_point = false;
    long exponent = 0;
    for (; i < len; i++) {
        char c = text[i];
        if (c == '.') {
            after_point = true;
            continue;
        }
        if (c == 'e' || c == 'E') {
            i++;
            bool eneg = false;
            if (i < len && (text[i] == '+' || text[i] == '-'))
                eneg = text[i++] == '-';
            for (; i < len; i++) {
                if (exponent < 100000)
                    exponent = exponent * 10 + (text[i] - '0');
            }
            if (eneg)
                exponent = -exponent;
            break;
        }
        if (c == '0' && n == 0) {
            if (after_point)
                point++;
            continue;
        }
        if (n >= cap) {
            //  Only zeros may follow past the cap.
            if (c != '0')
                return -1;
            dropped++;
            if (after_point)
                point++;
            continue;
        }
        if (dropped) {
            if (c != '0')
                return -1;
        }
        digits[n++] = c;
        if (after_point)
            point++;
    }
    //  Value = 0.digits... rather: int(digits) * 10^(exponent - point + dropped)
    long e = exponent - point + dropped;
    while (n > 0 && digits[n - 1] == '0') {
        n--;
        e++;
    }
    digits[n] = 0;
    *exp10 = e;
    return n;
}

bool
cabi_number_comparable (const char *text, size_t len, double *out)
{
    //  Fast path: a small integer.
    if (len <= 15) {
        size_t i = text[0] == '-' ? 1 : 0;
        size_t j = i;
        uint64_t value = 0;
        while (j < len && text[j] >= '0' && text[j] <= '9')
            value = value * 10 + (uint64_t)(text[j++] - '0');
        if (j == len && j > i) {
            *out = i ? -(double)value : (double)value;
            if (*out == 0)
                *out = 0.0;
            return true;
        }
    }
    bool negative;
    char digits[24];
    long e;
    int n = s_normalize (text, len, &negative, digits, 17, &e);
    if (n < 0)
        return false;  //  more than 17 significant digits: never a float64's shortest form
    if (n == 0) {
        *out = 0.0;  //  -0 is 0, as a BigDecimal has no negative zero
        return true;
    }
    if (e > 400 || e < -400)
        return false;
    char buffer[64];
    snprintf (buffer, sizeof buffer, "%s%se%ld", negative ? "-" : "", digits, e);
    double d = strtod (buffer, NULL);
    if (!isfinite (d) || fabs (d) < DBL_MIN)
        return false;  //  overflow, or underflow into subnormals or zero
    *out = d;
    if (n <= 15)
        return true;  //  DBL_DIG: every 15-digit decimal survives a round trip
    //  16 or 17 digits: compare with the shortest representation of d.
    for (int p = 1; p <= 17; p++) {
        char shortest[40];
        snprintf (shortest, sizeof shortest, "%.*e", p - 1, d);
        if (strtod (shortest, NULL) == d) {
            bool sneg;
            char sdigits[24];
            long se;
            int sn = s_normalize (shortest, strlen (shortest), &sneg, sdigits, 17, &se);
            return sn == n && se == e && memcmp (sdigits, digits, (size_t)n) == 0;
        }
    }
    return false;
}

//  Decode one UTF-8 code point (input is valid UTF-8).
static unsigned
s_decode (const unsigned char *p, size_t *n)
{
    unsigned c = p[0];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    if (c < 0xE0) {
        *n = 2;
        return ((c & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (c < 0xF0) {
        *n = 3;
        return ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *n = 4;
    return ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

size_t
cabi_fold (const char *text, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0, o = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            unsigned char c = p[i++];
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            continue;
        }
        size_t n;
        unsigned cp = s_decode (p + i, &n);
        if (i + n > len)
            n = len - i;
        unsigned lower = cabi_fold_cp (cp);
        if (lower == cp) {
            memcpy (out + o, p + i, n);
            o += n;
        } else if (lower < 0x80)
            out[o++] = (char)lower;
        else if (lower < 0x800) {
            out[o++] = (char)(0xC0 | (lower >> 6));
            out[o++] = (char)(0x80 | (lower & 0x3F));
        } else if (lower < 0x10000) {
            out[o++] = (char)(0xE0 | (lower >> 12));
            out[o++] = (char)(0x80 | ((lower >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (lower & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (lower >> 18));
            out[o++] = (char)(0x80 | ((lower >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((lower >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (lower & 0x3F));
        }
        i += n;
    }
    out[o] = 0;
    return o;
}

const char *
cabi_wildcard_check (const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\') {
            if (i + 1 >= len || (text[i + 1] != '*' && text[i + 1] != '\\'))
                return "a backslash may only escape '*' or '\\'";
            i++;
        } else if (text[i] == '*' && i + 1 < len && text[i + 1] == '*')
            return "consecutive wildcard characters are not allowed";
    }
    return NULL;
}

//  Copy the literal segment of a wildcard starting at *i into seg, stopping
//  at an unescaped '*'. Returns the segment length.
static size_t
s_segment (const char *pattern, size_t plen, size_t *i, char *seg)
{
    size_t n = 0;
    while (*i < plen && pattern[*i] != '*') {
        if (pattern[*i] == '\\' && *i + 1 < plen)
            (*i)++;
        seg[n++] = pattern[(*i)++];
    }
    return n;
}

bool
cabi_wildcard_match (const char *pattern, size_t plen, const char *text, size_t tlen)
{
    char seg[CAB_PATTERN_SIZE_MAX * 4 + 8];
    if (plen > sizeof seg - 1)
        return false;
    size_t i = 0, pos = 0;
    size_t n = s_segment (pattern, plen, &i, seg);
    if (i >= plen)  //  no wildcard at all: equality
        return n == tlen && memcmp (seg, text, n) == 0;
    if (n > tlen || memcmp (seg, text, n) != 0)
        return false;
    pos = n;
    while (i < plen) {
        i++;  //  the '*'
        n = s_segment (pattern, plen, &i, seg);
        if (i >= plen) {
            //  Last segment: must end the text, after pos.
            return n <= tlen - pos && memcmp (seg, text + tlen - n, n) == 0;
        }
        if (n == 0)
            continue;
        const char *found = memmem (text + pos, tlen - pos, seg, n);
        if (!found)
            return false;
        pos = (size_t)(found - text) + n;
    }
    return true;
}

static bool
s_ipv4 (const char *t, size_t len, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || t[i] != '.')
                return false;
            i++;
        }
        unsigned value = 0;
        size_t digits = 0;
        while (i < len && t[i] >= '0' && t[i] <= '9' && digits < 4) {
            value = value * 10 + (unsigned)(t[i++] - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || value > 255)
            return false;
        out[part] = (uint8_t)value;
    }
    return i == len;
}

static bool
s_ipv6 (const char *t, size_t len, uint8_t out[16])
{
    uint16_t groups[8];
    int n = 0, gap = -1;
    size_t i = 0;
    if (len >= 2 && t[0] == ':' && t[1] == ':') {
        gap = 0;
        i = 2;
    } else if (len >= 1 && t[0] == ':')
        return false;
    while (i < len) {
        //  Embedded IPv4 tail?
        size_t j = i;
        while (j < len && t[j] != ':' && t[j] != '.')
            j++;
        if (j < len && t[j] == '.') {
            uint8_t v4[4];
            if (n > 6 || !s_ipv4 (t + i, len - i, v4))
                return false;
            groups[n++] = (uint16_t)((v4[0] << 8) | v4[1]);
            groups[n++] = (uint16_t)((v4[2] << 8) | v4[3]);
            i = len;
            break;
        }
        unsigned value = 0;
        size_t digits = 0;
        while (i < len && digits < 5) {
            char c = t[i];
            int h = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (h < 0)
                break;
            value = (value << 4) | (unsigned)h;
            digits++;
            i++;
        }
        if (digits == 0 || digits > 4 || n >= 8)
            return false;
        groups[n++] = (uint16_t)value;
        if (i == len)
            break;
        if (t[i] != ':')
            return false;
        i++;
        if (i < len && t[i] == ':') {
            if (gap >= 0)
                return false;
            gap = n;
            i++;
        } else if (i == len)
            return false;
    }
    if (gap < 0 && n != 8)
        return false;
    if (gap >= 0 && n > 7)
        return false;
    uint16_t full[8] = {0};
    if (gap < 0)
        memcpy (full, groups, sizeof full);
    else {
        for (int k = 0; k < gap; k++)
            full[k] = groups[k];
        int tail = n - gap;
        for (int k = 0; k < tail; k++)
            full[8 - tail + k] = groups[gap + k];
    }
    for (int k = 0; k < 8; k++) {
        out[2 * k] = (uint8_t)(full[k] >> 8);
        out[2 * k + 1] = (uint8_t)(full[k] & 0xFF);
    }
    return true;
}

bool
cabi_ip_parse (const char *text, size_t len, uint8_t ip[16], bool *v6)
{
    if (len == 0 || len > 45)
        return false;
    memset (ip, 0, 16);
    if (memchr (text, ':', len)) {
        *v6 = true;
        return s_ipv6 (text, len, ip);
    }
    *v6 = false;
    return s_ipv4 (text, len, ip);
}

const char *
cabi_cidr_parse (const char *text, size_t len, cabi_matcher_t *m)
{
    const char *slash = memchr (text, '/', len);
    if (!slash)
        return "malformed CIDR: a '/' and a prefix length are required";
    size_t alen = (size_t)(slash - text);
    if (!cabi_ip_parse (text, alen, m->ip, &m->ip_v6))
        return "malformed CIDR: not an IPv4 or IPv6 address";
    const char *p = slash + 1;
    size_t plen = len - alen - 1;
    if (plen == 0 || plen > 3)
        return "malformed CIDR: bad prefix length";
    int bits = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] < '0' || p[i] > '9')
            return "malformed CIDR: bad prefix length";
        bits = bits * 10 + (p[i] - '0');
    }
    if (bits > (m->ip_v6 ? 128 : 32))
        return "malformed CIDR: prefix length out of range";
    m->ip_bits = bits;
    return NULL;
}

bool
cabi_cidr_contains (const cabi_matcher_t *m, const uint8_t ip[16], bool v6)
{
    if (v6 != m->ip_v6)
        return false;
    int bits = m->ip_bits;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xFF : (uint8_t)(0xFF << (8 - bits));
        if ((ip[i] & mask) != (m->ip[i] & mask))
            return false;
    }
    return true;
}

static bool
s_prefix (const char *s, size_t n, const char *p, size_t pn)
{
    return pn <= n && memcmp (s, p, pn) == 0;
}

static bool
s_suffix (const char *s, size_t n, const char *p, size_t pn)
{
    return pn <= n && memcmp (s + n - pn, p, pn) == 0;
}

static void
s_fold_value (cabi_value_t *value, char *fold_buffer)
{
    if (!value->folded) {
        value->folded_len = cabi_fold (value->str, value->len, fold_buffer);
        value->folded = fold_buffer;
    }
}

bool
cabi_matcher_accepts (const cabi_matcher_t *m, cabi_value_t *value, char *fold_buffer)
{
    bool is_string = value->type == CABI_V_STRING;
    const char *s = value->str;
    size_t n = value->len;
    switch (m->kind) {
        case CABI_M_EXACT: {
            char tag = m->str[0];
            switch (value->type) {
                case CABI_V_STRING:
                    return tag == 's' && m->len - 1 == n && memcmp (m->str + 1, s, n) == 0;
                case CABI_V_NUMBER:
                    return tag == 'n' && m->len - 1 == n && memcmp (m->str + 1, s, n) == 0;
                case CABI_V_TRUE:
                    return tag == 't';
                case CABI_V_FALSE:
                    return tag == 'f';
                case CABI_V_NULL:
                    return tag == 'z';
            }
            return false;
        }
        case CABI_M_NUMERIC:
            if (value->type != CABI_V_NUMBER || !value->numeric)
                return false;
            if (m->has_lo && (m->lo_open ? !(value->num > m->lo) : !(value->num >= m->lo)))
                return false;
            if (m->has_hi && (m->hi_open ? !(value->num < m->hi) : !(value->num <= m->hi)))
                return false;
            return true;
        case CABI_M_PREFIX:
            return is_string && s_prefix (s, n, m->str, m->len);
        case CABI_M_SUFFIX:
            return is_string && s_suffix (s, n, m->str, m->len);
        case CABI_M_EIC:
        case CABI_M_PREFIX_EIC:
        case CABI_M_SUFFIX_EIC:
            if (!is_string)
                return false;
            s_fold_value (value, fold_buffer);
            if (m->kind == CABI_M_EIC)
                return value->folded_len == m->len && memcmp (value->folded, m->str, m->len) == 0;
            if (m->kind == CABI_M_PREFIX_EIC)
                return s_prefix (value->folded, value->folded_len, m->str, m->len);
            return s_suffix (value->folded, value->folded_len, m->str, m->len);
        case CABI_M_WILDCARD:
            return is_string && cabi_wildcard_match (m->str, m->len, s, n);
        case CABI_M_CIDR:
            if (!is_string)
                return false;
            if (value->ip_state == 0)
                value->ip_state = cabi_ip_parse (s, n, value->ip, &value->ip_v6) ? 1 : -1;
            return value->ip_state > 0 && cabi_cidr_contains (m, value->ip, value->ip_v6);
        case CABI_M_EXISTS:
            return true;
        case CABI_M_ABSENT:
            return false;
        case CABI_M_AB_VALUES:
            if (is_string) {
                for (size_t i = 0; i < m->nstrs; i++)
                    if (m->lens[i] == n && memcmp (m->strs[i], s, n) == 0)
                        return false;
            } else if (value->type == CABI_V_NUMBER && value->numeric) {
                for (size_t i = 0; i < m->nnums; i++)
                    if (m->nums[i] == value->num)
                        return false;
            }
            return true;
        case CABI_M_AB_PREFIX:
        case CABI_M_AB_SUFFIX:
        case CABI_M_AB_EIC:
        case CABI_M_AB_WILDCARD:
            if (!is_string)
                return true;
            if (m->kind == CABI_M_AB_EIC)
                s_fold_value (value, fold_buffer);
            for (size_t i = 0; i < m->nstrs; i++) {
                bool hit = false;
                if (m->kind == CABI_M_AB_PREFIX)
                    hit = s_prefix (s, n, m->strs[i], m->lens[i]);
                else if (m->kind == CABI_M_AB_SUFFIX)
                    hit = s_suffix (s, n, m->strs[i], m->lens[i]);
                else if (m->kind == CABI_M_AB_EIC)
                    hit = value->folded_len == m->lens[i] &&
                          memcmp (value->folded, m->strs[i], m->lens[i]) == 0;
                else
                    hit = cabi_wildcard_match (m->strs[i], m->lens[i], s, n);
                if (hit)
                    return false;
            }
            return true;
    }
    return false;
}

void
cabi_matcher_free (cabi_matcher_t *m)
{
    free (m->str);
    for (size_t i = 0; i < m->nstrs; i++)
        free (m->strs[i]);
    free (m->strs);
    free (m->lens);
    free (m->nums);
    memset (m, 0, sizeof *m);
}
