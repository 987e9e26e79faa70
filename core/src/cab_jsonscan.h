/*  =========================================================================
    cab_jsonscan - JSON parsing helpers shared by libcabruca's files
    (private: not installed, not exported; libcabd uses the inline string
    block helpers alone, which need no symbol of libcabruca)
    =========================================================================
*/
#ifndef CAB_JSONSCAN_H_INCLUDED
#define CAB_JSONSCAN_H_INCLUDED

#include "cabruca.h"
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

//  True when none of the eight bytes at p needs a look inside a JSON
//  string: no '"', no '\\', no control character, nothing past ASCII. The
//  string scanners (cab_jsonscan.c, cab_putevents_text.c) step over such
//  blocks whole. p must have eight readable bytes.
static inline bool
cabi_json_plain8 (const unsigned char *p)
{
    uint64_t w;
    memcpy (&w, p, 8);
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
    //  A byte below 0x20, equal to '"' or '\\' (zero after the xor), or
    //  with its high bit set sets the high bit of its lane (borrows only
    //  reach lanes above one that is set already).
    uint64_t special =
        ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((slash - ones) & ~slash) | w;
    return (special & high) == 0;
}

#if defined(__SSE2__)
//  The bytes among the sixteen at p that need a look, as a mask (bit i for
//  p[i]): '"', '\\', past ASCII, and the control characters unless
//  controls_plain (the envelope's pre-scan leaves those to the parser).
static inline unsigned
cabi_json_special16 (const unsigned char *p, bool controls_plain)
{
    __m128i v = _mm_loadu_si128 ((const __m128i *)(const void *)p);
    __m128i special = _mm_or_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('"')),
                                    _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('\\')));
    //  As signed bytes, a byte past ASCII is negative, so "below 0x20" is
    //  a control character or one of those; with controls plain, the high
    //  bit of v itself marks them.
    special = _mm_or_si128 (special, controls_plain ? v : _mm_cmplt_epi8 (v, _mm_set1_epi8 (0x20)));
    return (unsigned)_mm_movemask_epi8 (special);
}
#endif

//  Length of the run at p (at most n bytes) in which no byte needs a look
//  inside a JSON string, as cabi_json_plain8 tells: the string scanners
//  skip it, then look at the byte after it (the closing quote, most
//  often). With SSE2 (every x86-64 has it) sixteen bytes at a time, and
//  the length is exact up to the last sixteen bytes of p; else, and
//  there, in whole blocks of eight (the scanners go on byte by byte).
static inline size_t
cabi_json_plain_span (const unsigned char *p, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        unsigned mask = cabi_json_special16 (p + i, false);
        if (mask)
            return i + (size_t)__builtin_ctz (mask);
    }
#endif
    while (i + 8 <= n && cabi_json_plain8 (p + i))
        i += 8;
    return i;
}

//  Length of the valid UTF-8 sequence at p (p [0] >= 0x80, at most avail
//  bytes readable): 2 to 4, or 0 when it is not one (overlong, surrogate,
//  past U+10FFFF, cut short).
static inline size_t
cabi_json_utf8_length (const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF)
        return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0;  //  overlong
        if (c == 0xED && p[1] >= 0xA0)
            return 0;  //  surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0;
        if (c == 0xF4 && p[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

//  Whether the n bytes at p are all UTF-8 (NUL bytes included): eight
//  ASCII bytes at a time, each other sequence by cabi_json_utf8_length.
static inline bool
cabi_json_utf8_valid (const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (i + 8 <= n) {
            uint64_t word;
            memcpy (&word, p + i, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        size_t size = p[i] < 0x80 ? 1 : cabi_json_utf8_length (p + i, n - i);
        if (size == 0)
            return false;
        i += size;
    }
    return true;
}

//  Where and why cabi_json_parse refused a text.
typedef struct {
    cab_status_t code;  //  CAB_ERR_INVALID_JSON or CAB_ERR_NOMEM
    char reason[128];   //  What is wrong, with the byte offset for syntax errors
    size_t line;        //  1-based, as jansson counts them
    size_t column;      //  1-based, in bytes
} cabi_json_fault_t;

//  Build a jansson document from `length` bytes of JSON text, about seven
//  times faster than json_loadb (one pass of cab_jsonscan, no per-character
//  buffer); accepts and refuses what json_loadb does with the same flags
//  (JSON_DECODE_ANY and JSON_REJECT_DUPLICATES are understood), except that
//  it nests at most CAB_PATTERN_DEPTH_MAX deep and refuses bytes after a
//  NUL that json_loadb ignores. Returns a new reference, or NULL with
//  *fault filled (every allocation failure is CAB_ERR_NOMEM).
json_t *cabi_json_parse (const char *text, size_t length, size_t flags, cabi_json_fault_t *fault);

//  cabi_json_parse with the fault as a cab_error_t: CAB_ERR_INVALID_JSON
//  (text "<what>:<line>:<column>: <reason>", what may be NULL) or
//  CAB_ERR_NOMEM.
json_t *cabi_json_loadb (const char *text, size_t length, size_t flags, const char *what,
                         cab_error_t *error);

//  Serialise a JSON value to the text json_dumps gives (cab_jsondump.c):
//  with JSON_COMPACT (and JSON_ENCODE_ANY, JSON_REAL_PRECISION) in one pass
//  of our own, about ten times faster; with other flags, and for what the
//  fast path leaves to jansson, with two passes of json_dumpb (json_dumps
//  drops the text of an object key when its buffer cannot grow, jansson
//  2.14). Returns a new NUL-terminated string (caller frees it) and sets
//  *length_p (may be NULL), or NULL when out of memory or when jansson
//  cannot encode the value (a scalar without JSON_ENCODE_ANY, a string
//  or, unlike jansson, an object key that is not UTF-8, a document that
//  contains itself).
char *cabi_json_dumps (const json_t *json, size_t flags, size_t *length_p);

#endif
