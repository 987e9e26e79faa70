/*  =========================================================================
    cab_uuid - UUIDv7 ids (RFC 9562) and UUID syntax checks

    Layout of a UUIDv7 (RFC 9562 section 5.7), most significant bit first:
        unix_ts_ms (48) | ver = 7 (4) | rand_a (12) | var = 10 (2) | rand_b (62)
    We use rand_a as a counter (RFC 9562 section 6.2, method 1, "fixed
    bit-length dedicated counter"): at each new millisecond it is seeded with
    random bits, its top bit clear, and within the same millisecond it is
    incremented, so ids made by one process sort in the order they were made.
    When the counter overflows, or the clock steps back, we keep counting on
    the last timestamp plus one ("borrowing" from the future, as the RFC
    allows). rand_b is fresh from getrandom() for every id, so processes that
    fork from one another never share ids. A mutex makes it thread-safe.
    =========================================================================
*/
#include "cabruca.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t s_last_ms;   //  Timestamp of the last id made
static uint16_t s_counter;   //  rand_a of the last id made (12 bits)
static uint64_t s_fallback;  //  State of the fallback generator

//  Fill buffer with random bytes from the kernel. If the kernel will not give
//  any (no getrandom, no /dev/urandom: a broken sandbox), fall back to a
//  splitmix64 stream seeded from the clock and pid: ids stay unique within
//  the process (the counter sees to that), only less unpredictable.
static void
s_random (void *buffer, size_t size)
{
    uint8_t *bytes = buffer;
    size_t done = 0;
    while (done < size) {
        ssize_t got = getrandom (bytes + done, size - done, 0);
        if (got > 0)
            done += (size_t)got;
        else if (got < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    if (done < size) {
        int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            while (done < size) {
                ssize_t got = read (fd, bytes + done, size - done);
                if (got > 0)
                    done += (size_t)got;
                else if (got < 0 && errno == EINTR)
                    continue;
                else
                    break;
            }
            close (fd);
        }
    }
    while (done < size) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        uint64_t z = __atomic_add_fetch (&s_fallback, 0x9e3779b97f4a7c15ULL, __ATOMIC_RELAXED);
        z ^= (uint64_t)now.tv_nsec ^ ((uint64_t)getpid () << 32);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (int i = 0; i < 8 && done < size; i++)
            bytes[done++] = (uint8_t)(z >> (8 * i));
    }
}

static void
s_hex (char *out, const uint8_t *bytes, size_t count)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < count; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
}

char *
cab_uuid_v7 (char *buffer)
{
    uint8_t random[10];
    s_random (random, sizeof random);

    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    uint64_t now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;

    pthread_mutex_lock (&s_lock);
    uint64_t ms;
    uint16_t counter;
    if (now_ms > s_last_ms) {
        ms = now_ms;
        //  Seed with 11 random bits: the top bit clear leaves room to count.
        counter = (uint16_t)(((random[8] << 8) | random[9]) & 0x07ff);
    } else {
        ms = s_last_ms;
        counter = (uint16_t)(s_counter + 1);
        if (counter > 0x0fff) {
            ms++;
            counter = 0;
        }
    }
    s_last_ms = ms & 0xffffffffffffULL;
    s_counter = counter;
    pthread_mutex_unlock (&s_lock);

    uint8_t bytes[16];
    for (int i = 0; i < 6; i++)
        bytes[i] = (uint8_t)(ms >> (8 * (5 - i)));
    bytes[6] = (uint8_t)(0x70 | (counter >> 8));
    bytes[7] = (uint8_t)(counter & 0xff);
    memcpy (bytes + 8, random, 8);
    bytes[8] = (uint8_t)(0x80 | (bytes[8] & 0x3f));

    s_hex (buffer, bytes, 4);
    buffer[8] = '-';
    s_hex (buffer + 9, bytes + 4, 2);
    buffer[13] = '-';
    s_hex (buffer + 14, bytes + 6, 2);
    buffer[18] = '-';
    s_hex (buffer + 19, bytes + 8, 2);
    buffer[23] = '-';
    s_hex (buffer + 24, bytes + 10, 6);
    buffer[CAB_UUID_LENGTH] = '\0';
    return buffer;
}

bool
cab_uuid_valid (const char *text)
{
    if (!text)
        return false;
    for (int i = 0; i < CAB_UUID_LENGTH; i++) {
        char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return text[CAB_UUID_LENGTH] == '\0';
}
