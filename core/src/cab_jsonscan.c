/*  =========================================================================
    cab_jsonscan - a pull tokenizer over JSON text for the pattern engine

    One pass, no allocation except one buffer (the size of the input) the
    first time a string holds an escape. Validates RFC 8259 syntax, UTF-8
    (no overlongs, no surrogates) and the nesting depth.
    =========================================================================
*/
#include "cab_pattern_internal.h"
#include "cab_jsonscan.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

enum { S_VALUE, S_FIRST_KEY, S_KEY, S_FIRST_VALUE, S_COMMA, S_DONE };

void
cabi_scan_init (cabi_scan_t *scan, const char *text, size_t length, int max_depth)
{
    memset (scan, 0, offsetof (cabi_scan_t, stack));
    scan->text = text;
    scan->length = length;
    scan->max_depth = max_depth > CAB_PATTERN_DEPTH_MAX ? CAB_PATTERN_DEPTH_MAX : max_depth;
    scan->state = S_VALUE;
    scan->buffer = NULL;
    scan->buffer_size = 0;
    scan->code = CAB_OK;
    scan->reason[0] = 0;
}

void
cabi_scan_fini (cabi_scan_t *scan)
{
    free (scan->buffer);
    scan->buffer = NULL;
    scan->buffer_size = 0;
}

static cabi_tok_t
s_fail (cabi_scan_t *scan, cab_status_t code, const char *reason)
{
    scan->code = code;
    snprintf (scan->reason, sizeof scan->reason, "%s at byte %zu", reason, scan->pos);
    return CABI_TOK_ERROR;
}

cab_status_t
cabi_scan_error (cabi_scan_t *scan, cab_error_t *error, const char *what)
{
    return cab_error_set (error, scan->code ? scan->code : CAB_ERR_INVALID_JSON, NULL, "%s: %s",
                          what, scan->reason[0] ? scan->reason : "not valid JSON");
}

static int
s_hex4 (const char *p)
{
    int value = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        value <<= 4;
        if (c >= '0' && c <= '9')
            value |= c - '0';
        else if (c >= 'a' && c <= 'f')
            value |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            value |= c - 'A' + 10;
        else
            return -1;
    }
    return value;
}

static size_t
s_put_utf8 (char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

//  Parse the string starting at the opening quote; sets str/len.
static bool
s_string (cabi_scan_t *scan)
{
    const unsigned char *text = (const unsigned char *)scan->text;
    size_t end = scan->length;
    size_t start = scan->pos + 1;
    size_t i = start;
    //  Fast path: no escapes. Whole blocks while none of their bytes is
    //  '"', '\\', a control character or non-ASCII.
    while (i < end) {
        i += cabi_json_plain_span (text + i, end - i);
        if (i >= end)
            break;
        unsigned char c = text[i];
        if (c == '"') {
            scan->str = scan->text + start;
            scan->len = i - start;
            scan->pos = i + 1;
            return true;
        }
        if (c == '\\')
            break;
        if (c < 0x20) {
            scan->pos = i;
            s_fail (scan, CAB_ERR_INVALID_JSON, "control character in string");
            return false;
        }
        if (c >= 0x80) {
            size_t n = cabi_json_utf8_length (text + i, end - i);
            if (n == 0) {
                scan->pos = i;
                s_fail (scan, CAB_ERR_INVALID_UTF8, "invalid UTF-8");
                return false;
            }
            i += n;
        } else
            i++;
    }
    if (i >= end) {
        scan->pos = end;
        s_fail (scan, CAB_ERR_INVALID_JSON, "unterminated string");
        return false;
    }
    //  Slow path: unescape into the buffer (never longer than the input).
    if (scan->buffer_size < scan->length + 1) {
        char *buffer = malloc (scan->length + 1);
        if (!buffer) {
            s_fail (scan, CAB_ERR_NOMEM, "out of memory");
            return false;
        }
        free (scan->buffer);
        scan->buffer = buffer;
        scan->buffer_size = scan->length + 1;
    }
    size_t out = i - start;
    memcpy (scan->buffer, text + start, out);
    while (i < end) {
        unsigned char c = text[i];
        if (c == '"') {
            scan->str = scan->buffer;
            scan->len = out;
            scan->pos = i + 1;
            return true;
        }
        if (c == '\\') {
            if (i + 1 >= end)
                break;
            char e = (char)text[i + 1];
            char put = 0;
            switch (e) {
                case '"':
                    put = '"';
                    break;
                case '\\':
                    put = '\\';
                    break;
                case '/':
                    put = '/';
                    break;
                case 'b':
                    put = '\b';
                    break;
                case 'f':
                    put = '\f';
                    break;
                case 'n':
                    put = '\n';
                    break;
                case 'r':
                    put = '\r';
                    break;
                case 't':
                    put = '\t';
                    break;
                case 'u': {
                    int cp = i + 6 <= end ? s_hex4 (scan->text + i + 2) : -1;
                    if (cp < 0) {
                        scan->pos = i;
                        s_fail (scan, CAB_ERR_INVALID_JSON, "invalid \\u escape");
                        return false;
                    }
                    i += 6;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        int low = (i + 6 <= end && text[i] == '\\' && text[i + 1] == 'u')
                                      ? s_hex4 (scan->text + i + 2)
                                      : -1;
                        if (low < 0xDC00 || low > 0xDFFF) {
                            scan->pos = i;
                            s_fail (scan, CAB_ERR_INVALID_UTF8, "lone surrogate in \\u escape");
                            return false;
                        }
                        i += 6;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        scan->pos = i;
                        s_fail (scan, CAB_ERR_INVALID_UTF8, "lone surrogate in \\u escape");
                        return false;
                    }
                    out += s_put_utf8 (scan->buffer + out, (unsigned)cp);
                    continue;
                }
                default:
                    scan->pos = i;
                    s_fail (scan, CAB_ERR_INVALID_JSON, "invalid escape in string");
                    return false;
            }
            scan->buffer[out++] = put;
            i += 2;
            continue;
        }
        if (c < 0x20) {
            scan->pos = i;
            s_fail (scan, CAB_ERR_INVALID_JSON, "control character in string");
            return false;
        }
        size_t n = 1;
        if (c >= 0x80 && (n = cabi_json_utf8_length (text + i, end - i)) == 0) {
            scan->pos = i;
            s_fail (scan, CAB_ERR_INVALID_UTF8, "invalid UTF-8");
            return false;
        }
        memcpy (scan->buffer + out, text + i, n);
        out += n;
        i += n;
    }
    scan->pos = end;
    s_fail (scan, CAB_ERR_INVALID_JSON, "unterminated string");
    return false;
}

static bool
s_number (cabi_scan_t *scan)
{
    const char *t = scan->text;
    size_t i = scan->pos, end = scan->length, start = i;
    if (i < end && t[i] == '-')
        i++;
    if (i < end && t[i] == '0')
        i++;
    else if (i < end && t[i] >= '1' && t[i] <= '9')
        while (i < end && t[i] >= '0' && t[i] <= '9')
            i++;
    else
        goto bad;
    if (i < end && t[i] == '.') {
        i++;
        if (!(i < end && t[i] >= '0' && t[i] <= '9'))
            goto bad;
        while (i < end && t[i] >= '0' && t[i] <= '9')
            i++;
    }
    if (i < end && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < end && (t[i] == '+' || t[i] == '-'))
            i++;
        if (!(i < end && t[i] >= '0' && t[i] <= '9'))
            goto bad;
        while (i < end && t[i] >= '0' && t[i] <= '9')
            i++;
    }
    scan->str = t + start;
    scan->len = i - start;
    scan->pos = i;
    return true;
bad:
    scan->pos = i;
    s_fail (scan, CAB_ERR_INVALID_JSON, "invalid number");
    return false;
}

static inline void
s_after_value (cabi_scan_t *scan)
{
    scan->state = scan->depth == 0 ? S_DONE : S_COMMA;
}

static inline void
s_ws (cabi_scan_t *scan)
{
    const char *t = scan->text;
    size_t i = scan->pos, end = scan->length;
    while (i < end && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t'))
        i++;
    scan->pos = i;
}

static cabi_tok_t
s_value (cabi_scan_t *scan)
{
    if (scan->pos >= scan->length)
        return s_fail (scan, CAB_ERR_INVALID_JSON, "unexpected end of text");
    char c = scan->text[scan->pos];
    const char *t = scan->text + scan->pos;
    size_t avail = scan->length - scan->pos;
    switch (c) {
        case '{':
        case '[':
            if (scan->depth >= scan->max_depth)
                return s_fail (scan, CAB_ERR_TOO_DEEP, "nesting deeper than the limit");
            scan->stack[scan->depth++] = c == '{' ? 'o' : 'a';
            scan->pos++;
            scan->state = c == '{' ? S_FIRST_KEY : S_FIRST_VALUE;
            return c == '{' ? CABI_TOK_OBJECT : CABI_TOK_ARRAY;
        case '"':
            if (!s_string (scan))
                return CABI_TOK_ERROR;
            s_after_value (scan);
            return CABI_TOK_STRING;
        case 't':
            if (avail >= 4 && memcmp (t, "true", 4) == 0) {
                scan->pos += 4;
                s_after_value (scan);
                return CABI_TOK_TRUE;
            }
            break;
        case 'f':
            if (avail >= 5 && memcmp (t, "false", 5) == 0) {
                scan->pos += 5;
                s_after_value (scan);
                return CABI_TOK_FALSE;
            }
            break;
        case 'n':
            if (avail >= 4 && memcmp (t, "null", 4) == 0) {
                scan->pos += 4;
                s_after_value (scan);
                return CABI_TOK_NULL;
            }
            break;
        default:
            if (c == '-' || (c >= '0' && c <= '9')) {
                if (!s_number (scan))
                    return CABI_TOK_ERROR;
                s_after_value (scan);
                return CABI_TOK_NUMBER;
            }
    }
    return s_fail (scan, CAB_ERR_INVALID_JSON, "unexpected character");
}

static cabi_tok_t
s_close (cabi_scan_t *scan, char c)
{
    scan->depth--;
    scan->pos++;
    s_after_value (scan);
    return c == '}' ? CABI_TOK_OBJECT_END : CABI_TOK_ARRAY_END;
}

cabi_tok_t
cabi_scan_next (cabi_scan_t *scan)
{
    if (scan->code != CAB_OK)
        return CABI_TOK_ERROR;
    s_ws (scan);
    char c = scan->pos < scan->length ? scan->text[scan->pos] : 0;
    switch (scan->state) {
        case S_DONE:
            if (scan->pos == scan->length)
                return CABI_TOK_END;
            return s_fail (scan, CAB_ERR_INVALID_JSON, "text after the JSON value");
        case S_COMMA:
            if (c == ',') {
                scan->pos++;
                s_ws (scan);
                if (scan->stack[scan->depth - 1] == 'o') {
                    scan->state = S_KEY;
                    break;
                }
                return s_value (scan);
            }
            if (c == '}' && scan->stack[scan->depth - 1] == 'o')
                return s_close (scan, c);
            if (c == ']' && scan->stack[scan->depth - 1] == 'a')
                return s_close (scan, c);
            return s_fail (scan, CAB_ERR_INVALID_JSON, "expected ',' or a closing bracket");
        case S_FIRST_VALUE:
            if (c == ']')
                return s_close (scan, c);
            return s_value (scan);
        case S_VALUE:
            return s_value (scan);
        case S_FIRST_KEY:
            if (c == '}')
                return s_close (scan, c);
            break;
        default:
            break;
    }
    //  S_KEY (or S_FIRST_KEY with a key)
    c = scan->pos < scan->length ? scan->text[scan->pos] : 0;
    if (c != '"')
        return s_fail (scan, CAB_ERR_INVALID_JSON, "expected a member name");
    if (!s_string (scan))
        return CABI_TOK_ERROR;
    s_ws (scan);
    if (scan->pos >= scan->length || scan->text[scan->pos] != ':')
        return s_fail (scan, CAB_ERR_INVALID_JSON, "expected ':'");
    scan->pos++;
    scan->state = S_VALUE;
    return CABI_TOK_KEY;
}

bool
cabi_scan_skip (cabi_scan_t *scan, cabi_tok_t first)
{
    if (first != CABI_TOK_OBJECT && first != CABI_TOK_ARRAY)
        return first != CABI_TOK_ERROR;
    int target = scan->depth - 1;
    while (true) {
        cabi_tok_t tok = cabi_scan_next (scan);
        if (tok == CABI_TOK_ERROR || tok == CABI_TOK_END)
            return false;
        if ((tok == CABI_TOK_OBJECT_END || tok == CABI_TOK_ARRAY_END) && scan->depth == target)
            return true;
    }
}

//  ---------------------------------------------------------------------
//  A jansson document built from the scanner's tokens

//  jansson's own parser drops some allocation failures: a string or number
//  it cannot save is cut short or reported as a syntax error (jansson issue
//  #362). This builder reports every failure as CAB_ERR_NOMEM and otherwise
//  accepts and refuses what json_loadb does (integers and reals as jansson
//  tells them apart; no NUL in strings), but nests at most
//  CAB_PATTERN_DEPTH_MAX deep.

typedef struct {
    cab_status_t code;
    const char *reason;
    size_t pos;
} s_build_t;

static json_t *
s_build_fail (s_build_t *build, cab_status_t code, const char *reason, size_t pos)
{
    if (build->code == CAB_OK) {
        build->code = code;
        build->reason = reason;
        build->pos = pos;
    }
    return NULL;
}

//  A number token as jansson reads it: an integer unless it has a fraction
//  or an exponent; overflow is an error, underflow is not.
static json_t *
s_build_number (s_build_t *build, const char *str, size_t len, size_t pos)
{
    char small[128];
    char *text = len < sizeof small ? small : (char *)malloc (len + 1);
    if (!text)
        return s_build_fail (build, CAB_ERR_NOMEM, "out of memory", pos);
    memcpy (text, str, len);
    text[len] = 0;
    json_t *value = NULL;
    errno = 0;
    if (!strpbrk (text, ".eE")) {
        long long integer = strtoll (text, NULL, 10);
        if (errno == ERANGE)
            s_build_fail (build, CAB_ERR_INVALID_JSON,
                          integer < 0 ? "too big negative integer" : "too big integer", pos);
        else if (!(value = json_integer ((json_int_t)integer)))
            s_build_fail (build, CAB_ERR_NOMEM, "out of memory", pos);
    } else {
        double real = strtod (text, NULL);
        if (errno == ERANGE && (real == HUGE_VAL || real == -HUGE_VAL))
            s_build_fail (build, CAB_ERR_INVALID_JSON, "real number overflow", pos);
        else if (!(value = json_real (real)))
            s_build_fail (build, CAB_ERR_NOMEM, "out of memory", pos);
    }
    if (text != small)
        free (text);
    return value;
}

//  Build the document; NULL with build filled on error.
static json_t *
s_build (cabi_scan_t *scan, size_t flags, s_build_t *build)
{
    json_t *container[CAB_PATTERN_DEPTH_MAX + 1];
    char *key[CAB_PATTERN_DEPTH_MAX + 1];
    size_t key_length[CAB_PATTERN_DEPTH_MAX + 1];
    bool owned[CAB_PATTERN_DEPTH_MAX + 1];  //  key[] was allocated here
    int depth = 0;
    json_t *root = NULL;
    bool first = true;
    while (build->code == CAB_OK) {
        size_t pos = scan->pos;
        cabi_tok_t token = cabi_scan_next (scan);
        json_t *value = NULL;
        if (token == CABI_TOK_END)
            break;
        if (first && !(flags & JSON_DECODE_ANY) && token != CABI_TOK_OBJECT &&
            token != CABI_TOK_ARRAY && token != CABI_TOK_ERROR) {
            s_build_fail (build, CAB_ERR_INVALID_JSON, "'[' or '{' expected", pos);
            break;
        }
        first = false;
        switch (token) {
            case CABI_TOK_ERROR:
                s_build_fail (build, scan->code ? scan->code : CAB_ERR_INVALID_JSON,
                              scan->reason[0] ? scan->reason : "not valid JSON", scan->pos);
                continue;
            case CABI_TOK_OBJECT_END:
            case CABI_TOK_ARRAY_END:
                depth--;
                continue;
            case CABI_TOK_KEY:
                if (memchr (scan->str, 0, scan->len)) {
                    s_build_fail (build, CAB_ERR_INVALID_JSON,
                                  "NUL byte in object key not supported", pos);
                    continue;
                }
                if ((flags & JSON_REJECT_DUPLICATES) &&
                    json_object_getn (container[depth - 1], scan->str, scan->len)) {
                    s_build_fail (build, CAB_ERR_INVALID_JSON, "duplicate object key", pos);
                    continue;
                }
                key_length[depth - 1] = scan->len;
                if (scan->str >= scan->text && scan->str < scan->text + scan->length) {
                    //  Unescaped: the key's bytes stay where they are in the text
                    //  (jansson copies them when the member is set).
                    key[depth - 1] = (char *)scan->str;
                    owned[depth - 1] = false;
                    continue;
                }
                //  Decoded into the scanner's buffer, which the value may reuse.
                key[depth - 1] = (char *)malloc (scan->len + 1);
                if (!key[depth - 1]) {
                    s_build_fail (build, CAB_ERR_NOMEM, "out of memory", pos);
                    continue;
                }
                memcpy (key[depth - 1], scan->str, scan->len);
                key[depth - 1][scan->len] = 0;
                owned[depth - 1] = true;
                continue;
            case CABI_TOK_OBJECT:
                value = json_object ();
                break;
            case CABI_TOK_ARRAY:
                value = json_array ();
                break;
            case CABI_TOK_STRING:
                if (memchr (scan->str, 0, scan->len)) {
                    s_build_fail (build, CAB_ERR_INVALID_JSON,
                                  "\\u0000 is not allowed without JSON_ALLOW_NUL", pos);
                    continue;
                }
                value = json_stringn_nocheck (scan->str, scan->len);
                break;
            case CABI_TOK_NUMBER:
                if (!(value = s_build_number (build, scan->str, scan->len, pos)))
                    continue;
                break;
            case CABI_TOK_TRUE:
                value = json_true ();
                break;
            case CABI_TOK_FALSE:
                value = json_false ();
                break;
            default:
                value = json_null ();
                break;
        }
        if (!value) {
            s_build_fail (build, CAB_ERR_NOMEM, "out of memory", pos);
            continue;
        }
        bool nests = json_is_object (value) || json_is_array (value);
        if (depth == 0)
            root = value;
        else if (json_is_object (container[depth - 1])) {
            //  Steals value, even on failure.
            int rc = json_object_setn_new_nocheck (container[depth - 1], key[depth - 1],
                                                   key_length[depth - 1], value);
            if (owned[depth - 1])
                free (key[depth - 1]);
            key[depth - 1] = NULL;
            owned[depth - 1] = false;
            if (rc) {
                s_build_fail (build, CAB_ERR_NOMEM, "out of memory", pos);
                continue;
            }
        } else if (json_array_append_new (container[depth - 1], value)) {
            s_build_fail (build, CAB_ERR_NOMEM, "out of memory", pos);
            continue;
        }
        if (nests) {
            key[depth] = NULL;
            owned[depth] = false;
            container[depth++] = value;
        }
    }
    //  Keys read but not yet used (an error came before their value).
    for (int level = 0; level < depth; level++)
        if (json_is_object (container[level]) && owned[level])
            free (key[level]);
    if (build->code != CAB_OK) {
        json_decref (root);
        return NULL;
    }
    return root;
}

json_t *
cabi_json_parse (const char *text, size_t length, size_t flags, cabi_json_fault_t *fault)
{
    cabi_scan_t scan;
    cabi_scan_init (&scan, text, length, CAB_PATTERN_DEPTH_MAX);
    s_build_t build = {CAB_OK, NULL, 0};
    json_t *document = s_build (&scan, flags, &build);
    cabi_scan_fini (&scan);
    if (document)
        return document;
    fault->code = build.code == CAB_ERR_NOMEM ? CAB_ERR_NOMEM : CAB_ERR_INVALID_JSON;
    //  A copy: the reason may be the scanner's, which ends with this call.
    snprintf (fault->reason, sizeof fault->reason, "%s", build.reason ? build.reason : "");
    //  Line and column (1-based, in bytes) as jansson gives them.
    size_t line = 1, column = 0;
    for (size_t index = 0; index < build.pos && index < length; index++) {
        column++;
        if (text[index] == '\n') {
            line++;
            column = 0;
        }
    }
    fault->line = line;
    fault->column = column + 1;
    return NULL;
}

json_t *
cabi_json_loadb (const char *text, size_t length, size_t flags, const char *what,
                 cab_error_t *error)
{
    cabi_json_fault_t fault;
    json_t *document = cabi_json_parse (text, length, flags, &fault);
    if (document)
        return document;
    if (fault.code == CAB_ERR_NOMEM)
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory parsing %s",
                       what ? what : "JSON");
    else
        cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "%s%s%zu:%zu: %s", what ? what : "",
                       what ? ":" : "", fault.line, fault.column, fault.reason);
    return NULL;
}
