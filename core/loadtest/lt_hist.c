/*  =========================================================================
    lt_hist - a logarithmic latency histogram (1% buckets)
    =========================================================================
*/
#include "loadtest.h"
#include <math.h>

//  Bucket i holds latencies in [G^i, G^(i+1)) microseconds.
#define S_GROWTH 1.01

static size_t
s_bucket (int64_t latency_us)
{
    if (latency_us < 1)
        latency_us = 1;
    double index = floor (log ((double)latency_us) / log (S_GROWTH));
    if (index < 0)
        return 0;
    if (index >= LT_HIST_BUCKETS)
        return LT_HIST_BUCKETS - 1;
    return (size_t)index;
}

void
lt_hist_add (lt_hist_t *self, int64_t latency_us)
{
    self->counts[s_bucket (latency_us)]++;
    self->total++;
    if (latency_us > self->max_us)
        self->max_us = latency_us;
}

void
lt_hist_merge (lt_hist_t *self, const lt_hist_t *other)
{
    for (size_t index = 0; index < LT_HIST_BUCKETS; index++)
        self->counts[index] += other->counts[index];
    self->total += other->total;
    if (other->max_us > self->max_us)
        self->max_us = other->max_us;
}

double
lt_hist_percentile (const lt_hist_t *self, double p)
{
    if (self->total == 0)
        return 0;
    //  The rank of the percentile, 1-based: the smallest value with at
    //  least p% of the samples at or below it.
    uint64_t rank = (uint64_t)ceil (p / 100.0 * (double)self->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t index = 0; index < LT_HIST_BUCKETS; index++) {
        seen += self->counts[index];
        if (seen >= rank) {
            double upper = pow (S_GROWTH, (double)index + 1);
            return upper < (double)self->max_us ? upper : (double)self->max_us;
        }
    }
    return (double)self->max_us;
}
