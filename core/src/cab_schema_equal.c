/*  =========================================================================
    cab_schema_equal - JSON equality and hashing as JSON Schema defines them

    Numbers compare by value (1 == 1.0), objects without regard to member
    order, strings byte for byte (jansson keeps them as UTF-8). jansson's
    json_equal treats 1 and 1.0 as different, hence these. Recursion is
    bounded: past 4 * CABI_SCHEMA_MAX_DEPTH levels the answer is "too deep".
    =========================================================================
*/
#include "cab_schema_internal.h"
#include <math.h>
#include <string.h>

#define S_MAX_DEPTH (4 * CABI_SCHEMA_MAX_DEPTH)

static int
s_number_equal (const json_t *a, const json_t *b)
{
    if (json_is_integer (a) && json_is_integer (b))
        return json_integer_value (a) == json_integer_value (b);
    if (json_is_real (a) && json_is_real (b))
        return json_real_value (a) == json_real_value (b);
    const json_t *integer = json_is_integer (a) ? a : b;
    double real = json_real_value (json_is_integer (a) ? b : a);
    json_int_t value = json_integer_value (integer);
    if ((double)value != real)
        return 0;
    //  (double) loses precision past 2^53: check the way back too.
    if (real >= 9223372036854775807.0 || real < -9223372036854775807.0)
        return 0;
    return (json_int_t)real == value;
}

int
cabi_schema_json_equal (const json_t *a, const json_t *b, int depth)
{
    if (a == b)
        return 1;
    if (depth > S_MAX_DEPTH)
        return -1;
    if (json_is_number (a) && json_is_number (b))
        return s_number_equal (a, b);
    if (json_typeof (a) != json_typeof (b))
        return 0;
    switch (json_typeof (a)) {
        case JSON_STRING:
            return json_string_length (a) == json_string_length (b) &&
                   memcmp (json_string_value (a), json_string_value (b), json_string_length (a)) ==
                       0;
        case JSON_ARRAY: {
            size_t size = json_array_size (a);
            if (size != json_array_size (b))
                return 0;
            for (size_t index = 0; index < size; index++) {
                int equal = cabi_schema_json_equal (json_array_get (a, index),
                                                    json_array_get (b, index), depth + 1);
                if (equal != 1)
                    return equal;
            }
            return 1;
        }
        case JSON_OBJECT: {
            if (json_object_size (a) != json_object_size (b))
                return 0;
            const char *key;
            size_t length;
            json_t *value;
            json_object_keylen_foreach ((json_t *)a, key, length, value)
            {
                json_t *other = json_object_getn (b, key, length);
                if (!other)
                    return 0;
                int equal = cabi_schema_json_equal (value, other, depth + 1);
                if (equal != 1)
                    return equal;
            }
            return 1;
        }
        default:
            return 1;  //  true, false, null: same type is enough
    }
}

static uint64_t
s_mix (uint64_t hash, uint64_t value)
{
    hash ^= value + 0x9E3779B97F4A7C15ull + (hash << 6) + (hash >> 2);
    return hash * 0xff51afd7ed558ccdull;
}

static uint64_t
s_bytes (const char *text, size_t length)
{
    uint64_t hash = 0xcbf29ce484222325ull;  //  FNV-1a
    for (size_t index = 0; index < length; index++) {
        hash ^= (unsigned char)text[index];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

uint64_t
cabi_schema_json_hash (const json_t *value, int depth, int *ok)
{
    if (depth > S_MAX_DEPTH) {
        *ok = -1;
        return 0;
    }
    switch (json_typeof (value)) {
        case JSON_INTEGER:
        case JSON_REAL: {
            double real = json_number_value (value);
            if (real == 0)
                real = 0;  //  -0.0 equals 0
            uint64_t bits;
            memcpy (&bits, &real, sizeof bits);
            return s_mix (1, bits);
        }
        case JSON_STRING:
            return s_mix (2, s_bytes (json_string_value (value), json_string_length (value)));
        case JSON_ARRAY: {
            uint64_t hash = 3;
            for (size_t index = 0; index < json_array_size (value); index++)
                hash = s_mix (hash,
                              cabi_schema_json_hash (json_array_get (value, index), depth + 1, ok));
            return hash;
        }
        case JSON_OBJECT: {
            uint64_t sum = 0;  //  Order-independent
            const char *key;
            size_t length;
            json_t *member;
            json_object_keylen_foreach ((json_t *)value, key, length, member)
            {
                sum += s_mix (s_bytes (key, length), cabi_schema_json_hash (member, depth + 1, ok));
            }
            return s_mix (4, sum);
        }
        case JSON_TRUE:
            return 5;
        case JSON_FALSE:
            return 6;
        default:
            return 7;
    }
}

int
cabi_schema_json_depth (const json_t *value, int limit)
{
    if (limit < 0)
        return 1;
    int deepest = 0;
    if (json_is_array (value)) {
        for (size_t index = 0; index < json_array_size (value); index++) {
            int depth = cabi_schema_json_depth (json_array_get (value, index), limit - 1);
            if (depth > deepest)
                deepest = depth;
        }
    } else if (json_is_object (value)) {
        const char *key;
        json_t *member;
        json_object_foreach ((json_t *)value, key, member)
        {
            int depth = cabi_schema_json_depth (member, limit - 1);
            if (depth > deepest)
                deepest = depth;
        }
    } else
        return 0;
    return deepest + 1;
}

size_t
cabi_schema_utf8_length (const char *text, size_t length)
{
    size_t count = 0;
    for (size_t index = 0; index < length; index++)
        count += ((unsigned char)text[index] & 0xC0) != 0x80;
    return count;
}
