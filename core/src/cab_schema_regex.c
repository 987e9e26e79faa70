/*  =========================================================================
    cab_schema_regex - ECMA-262 regular expressions on PCRE2

    JSON Schema patterns are ECMA-262 regexes. PCRE2 (with PCRE2_UTF and
    PCRE2_UCP) is close; this file rewrites the differences before
    compiling:
      - \d \w \b and their negations are ASCII-only in ECMA-262: rewritten
        as explicit classes and lookarounds;
      - \s is ECMA's whitespace set (Unicode spaces, line terminators and
        U+FEFF): rewritten as an explicit class;
      - "." does not match line terminators (\n \r U+2028 U+2029);
      - $ matches only at the very end (PCRE2_DOLLAR_ENDONLY);
      - \uXXXX, \u{...}, \xHH and \v are ECMA escapes; [] matches nothing
        and [^] anything; "[" inside a class is literal;
      - PCRE-only syntax is rejected as not ECMA-262: escapes such as \A \Z
        \z \G \K \R \h \Q, possessive quantifiers, atomic groups, inline
        flags, recursion and conditionals.
    The common simple patterns (anchored ASCII classes with counts) are
    matched without PCRE2 (cab_schema_simple.c). Other matching uses one
    cached match-data block per schema (taken with an
    atomic flag, so concurrent validations allocate their own) and a match
    limit against catastrophic backtracking. No JIT: schema patterns are
    short, the interpreter measured as fast on events (tests/bench), and
    JIT memory escapes the allocator hooks and confuses valgrind.
    =========================================================================
*/
#include "cab_schema_internal.h"
#include <stdio.h>
#include <string.h>

#define S_WORD "A-Za-z0-9_"
#define S_WHITESPACE                                                                               \
    "\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}"                    \
    "\\x{202f}\\x{205f}\\x{3000}\\x{feff}"
#define S_NOT_DIGIT    "\\x{0}-\\x{2f}\\x{3a}-\\x{10ffff}"
#define S_NOT_WORD     "\\x{0}-\\x{2f}\\x{3a}-\\x{40}\\x{5b}-\\x{5e}\\x{60}\\x{7b}-\\x{10ffff}"
#define S_BOUNDARY     "(?:(?<=[" S_WORD "])(?![" S_WORD "])|(?<![" S_WORD "])(?=[" S_WORD "]))"
#define S_NOT_BOUNDARY "(?:(?<=[" S_WORD "])(?=[" S_WORD "])|(?<![" S_WORD "])(?![" S_WORD "]))"

static void *
s_pcre_malloc (size_t size, void *data)
{
    (void)data;
    return cabi_schema_malloc (size);
}

static void
s_pcre_free (void *pointer, void *data)
{
    (void)data;
    cabi_schema_free (pointer);
}

pcre2_general_context *
cabi_schema_regex_context (void)
{
    return pcre2_general_context_create (s_pcre_malloc, s_pcre_free, NULL);
}

typedef struct {
    char *text;
    size_t length, capacity;
    bool failed;
} s_buffer_t;

static void
s_put (s_buffer_t *buffer, const char *text, size_t length)
{
    if (buffer->failed)
        return;
    if (cabi_schema_grow ((void **)&buffer->text, &buffer->capacity, buffer->length + length + 1,
                          1)) {
        buffer->failed = true;
        return;
    }
    memcpy (buffer->text + buffer->length, text, length);
    buffer->length += length;
    buffer->text[buffer->length] = '\0';
}

static void
s_puts (s_buffer_t *buffer, const char *text)
{
    s_put (buffer, text, strlen (text));
}

static bool
s_is_hex (char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

//  Translate an escape at source[*at] (the character after '\').
//  Returns NULL, or a reason why it is not ECMA-262.
static const char *
s_escape (s_buffer_t *out, const char *source, size_t length, size_t *at, bool in_class)
{
    char c = source[*at];
    char hex[16];
    switch (c) {
        case 'd':
            s_puts (out, in_class ? "0-9" : "[0-9]");
            return NULL;
        case 'D':
            s_puts (out, in_class ? S_NOT_DIGIT : "[^0-9]");
            return NULL;
        case 'w':
            s_puts (out, in_class ? S_WORD : "[" S_WORD "]");
            return NULL;
        case 'W':
            s_puts (out, in_class ? S_NOT_WORD : "[^" S_WORD "]");
            return NULL;
        case 's':
            s_puts (out, in_class ? S_WHITESPACE : "[" S_WHITESPACE "]");
            return NULL;
        case 'S':
            s_puts (out, in_class ? "\\S" : "[^" S_WHITESPACE "]");
            return NULL;
        case 'b':
            s_puts (out, in_class ? "\\x{08}" : S_BOUNDARY);
            return NULL;
        case 'B':
            if (in_class)
                return "\\B inside a class";
            s_puts (out, S_NOT_BOUNDARY);
            return NULL;
        case 'v':
            s_puts (out, "\\x{0b}");
            return NULL;
        case 'u':
            if (*at + 4 < length && s_is_hex (source[*at + 1]) && s_is_hex (source[*at + 2]) &&
                s_is_hex (source[*at + 3]) && s_is_hex (source[*at + 4])) {
                snprintf (hex, sizeof hex, "\\x{%.4s}", source + *at + 1);
                s_puts (out, hex);
                *at += 4;
                return NULL;
            }
            if (*at + 1 < length && source[*at + 1] == '{') {
                size_t end = *at + 2;
                while (end < length && s_is_hex (source[end]) && end - *at < 10)
                    end++;
                if (end < length && source[end] == '}' && end > *at + 2) {
                    s_puts (out, "\\x");
                    s_put (out, source + *at + 1, end - *at);
                    *at = end;
                    return NULL;
                }
            }
            s_puts (out, "u");
            return NULL;
        case 'x':
            if (*at + 2 < length && s_is_hex (source[*at + 1]) && s_is_hex (source[*at + 2])) {
                snprintf (hex, sizeof hex, "\\x{%.2s}", source + *at + 1);
                s_puts (out, hex);
                *at += 2;
                return NULL;
            }
            s_puts (out, "x");
            return NULL;
        case '0':
            if (*at + 1 < length && source[*at + 1] >= '0' && source[*at + 1] <= '9')
                return "octal escapes";
            s_puts (out, "\\x{00}");
            return NULL;
        case 'c':
            if (*at + 1 < length && ((source[*at + 1] >= 'a' && source[*at + 1] <= 'z') ||
                                     (source[*at + 1] >= 'A' && source[*at + 1] <= 'Z'))) {
                s_put (out, source + *at - 1, 3);
                *at += 1;
                return NULL;
            }
            return "\\c without a control letter";
        case 't':
        case 'n':
        case 'f':
        case 'r':
        case 'k':
        case 'p':
        case 'P':
            s_put (out, source + *at - 1, 2);
            return NULL;
        default:
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
                return "an escape that ECMA-262 does not define (such as \\A, \\Z, \\z, \\G)";
            s_put (out, source + *at - 1, 2);  //  \1-\9 and escaped punctuation
            return NULL;
    }
}

//  Rewrite ECMA-262 source as PCRE2 source. Returns NULL or a reason.
static const char *
s_translate (s_buffer_t *out, const char *source, size_t length)
{
    bool in_class = false, after_quantifier = false, after_lazy = false;
    for (size_t at = 0; at < length; at++) {
        char c = source[at];
        bool quantifier = false, lazy = false;
        if (c == '\\') {
            if (++at >= length)
                return "a trailing backslash";
            const char *reason = s_escape (out, source, length, &at, in_class);
            if (reason)
                return reason;
        } else if (in_class) {
            if (c == ']')
                in_class = false;
            s_puts (out, c == '[' ? "\\[" : (char[]){c, '\0'});
        } else if (c == '[') {
            if (at + 1 < length && source[at + 1] == ']') {
                s_puts (out, "(?!)");
                at += 1;
            } else if (at + 2 < length && source[at + 1] == '^' && source[at + 2] == ']') {
                s_puts (out, "[\\x{0}-\\x{10ffff}]");
                at += 2;
            } else {
                in_class = true;
                s_puts (out, "[");
                if (at + 1 < length && source[at + 1] == '^') {
                    s_puts (out, "^");
                    at++;
                }
            }
        } else if (c == '.')
            s_puts (out, "[^\\n\\r\\x{2028}\\x{2029}]");
        else if (c == '(' && at + 1 < length && source[at + 1] == '?') {
            const char *rest = source + at + 2;
            size_t left = length - at - 2;
            if (left >= 1 && (rest[0] == ':' || rest[0] == '=' || rest[0] == '!'))
                ;
            else if (left >= 2 && rest[0] == '<' && (rest[1] == '=' || rest[1] == '!'))
                ;
            else if (left >= 2 && rest[0] == '<')
                ;  //  Named group
            else
                return "group syntax that ECMA-262 does not define (such as (?>, (?i), (?P)";
            s_puts (out, "(?");
            at++;
        } else if (c == '*' || c == '+' || c == '?' || c == '}') {
            //  PCRE2 reads "a++" as possessive; in ECMA-262 it is an error.
            if (c == '+' && after_quantifier && !after_lazy)
                return "possessive quantifiers";
            lazy = c == '?' && after_quantifier && !after_lazy;
            quantifier = true;
            s_put (out, &c, 1);
        } else
            s_put (out, &c, 1);
        after_quantifier = quantifier;
        after_lazy = lazy;
    }
    if (in_class)
        return "an unterminated character class";
    return NULL;
}

pcre2_code *
cabi_schema_regex_compile (pcre2_general_context *general, const char *source, size_t length,
                           char *reason, size_t reason_size, cab_status_t *status)
{
    s_buffer_t out = {0};
    s_put (&out, "", 0);
    const char *why = s_translate (&out, source, length);
    if (out.failed) {
        cabi_schema_free (out.text);
        *status = CAB_ERR_NOMEM;
        return NULL;
    }
    if (why) {
        snprintf (reason, reason_size, "%s", why);
        cabi_schema_free (out.text);
        *status = CAB_ERR_INVALID_SCHEMA;
        return NULL;
    }
    pcre2_compile_context *context = pcre2_compile_context_create (general);
    if (!context) {
        cabi_schema_free (out.text);
        *status = CAB_ERR_NOMEM;
        return NULL;
    }
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *regex =
        pcre2_compile ((PCRE2_SPTR)out.text, out.length,
                       PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &code, &offset, context);
    pcre2_compile_context_free (context);
    cabi_schema_free (out.text);
    if (!regex) {
        if (code == PCRE2_ERROR_NOMEMORY || code == PCRE2_ERROR_HEAP_FAILED) {
            *status = CAB_ERR_NOMEM;
            return NULL;
        }
        PCRE2_UCHAR message[120];
        pcre2_get_error_message (code, message, sizeof message);
        snprintf (reason, reason_size, "%s", (char *)message);
        *status = CAB_ERR_INVALID_SCHEMA;
        return NULL;
    }
    *status = CAB_OK;
    return regex;
}

int
cabi_schema_regex_match (cab_schema_t *schema, const cabi_regex_t *regex, const char *subject,
                         size_t length)
{
    if (regex->simple)
        return cabi_schema_simple_match (regex->simple, subject, length) ? 1 : 0;
    pcre2_match_data *data = NULL;
    bool cached = !atomic_flag_test_and_set (&schema->match_data_busy);
    if (cached) {
        if (!schema->match_data)
            schema->match_data = pcre2_match_data_create (1, schema->general);
        data = schema->match_data;
    } else
        data = pcre2_match_data_create (1, schema->general);
    int result;
    if (!data)
        result = -CAB_ERR_NOMEM;
    else {
        int rc = pcre2_match (regex->code, (PCRE2_SPTR)subject, length, 0, 0, data,
                              schema->match_context);
        if (rc >= 0)
            result = 1;
        else if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
                 rc == PCRE2_ERROR_HEAPLIMIT)
            result = -CAB_ERR_TOO_LARGE;
        else if (rc == PCRE2_ERROR_NOMEMORY)
            result = -CAB_ERR_NOMEM;
        else
            result = 0;  //  No match, or a subject that is not UTF-8
    }
    if (cached)
        atomic_flag_clear (&schema->match_data_busy);
    else
        pcre2_match_data_free (data);
    return result;
}
