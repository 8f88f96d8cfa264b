// Heap-profile support: the per-thread sampling countdown, stack capture into a per-thread buffer,
// glibc backtrace() (benchmark baseline) and zlib gzip/gunzip. Declared in cshims.h, section "Heap profile".
#include "cshims.h"

#ifdef __linux__
#ifndef _GNU_SOURCE
#error "_GNU_SOURCE must be defined (Package.swift cSettings)"
#endif
#include <errno.h>
#include <execinfo.h>
#include <math.h>
#include <stdint.h>
#include <time.h>
#include <zlib.h>

// Per thread: the sampling budget left before the next sample, in units of "mean intervals" (an Exp(1) draw),
// and the random state. Arenas subtract byteCount / meanInterval, so arenas with different rates share one
// countdown and each allocation is still sampled with probability 1 - exp(-size / mean) (the exponential is
// memoryless). Plain TLS: no allocation, no lock.
__thread double cshims_heap_sample_budget;
#define budget cshims_heap_sample_budget
static __thread int budget_ready;
static __thread uint64_t rng_state;

static uint64_t next_random(void) {
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state = (uint64_t)(uintptr_t)&budget ^ ((uint64_t)ts.tv_nsec << 17) ^ (uint64_t)ts.tv_sec ^ 0x9E3779B97F4A7C15ull;
        if (rng_state == 0) rng_state = 1;
    }
    // xorshift64*: good enough for sampling intervals, two multiplies per draw.
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double exponential_draw(void) {
    // u in (0, 1]: never log(0).
    double u = (double)((next_random() >> 11) + 1) * (1.0 / 9007199254740992.0);
    return -log(u);
}

int cshims_heap_sample_tick(double cost) {
    double b = budget - cost;
    if (b > 0.0) {
        budget = b;
        return 0;
    }
    return cshims_heap_sample_refill(cost);
}

int cshims_heap_sample_refill(double cost) {
    double b = budget - cost;
    if (!budget_ready) {
        // First allocation on this thread: start from a fresh draw (budget was 0, not a draw).
        budget_ready = 1;
        b = exponential_draw() - cost;
        if (b > 0.0) {
            budget = b;
            return 0;
        }
    }
    budget = exponential_draw();
    return 1;
}

void cshims_heap_sample_seed_thread(uint64_t seed) {
    rng_state = seed ? seed : 1;
    budget_ready = 1;
    budget = exponential_draw();
}

double cshims_heap_sample_exponential(void) { return exponential_draw(); }

static __thread void *frame_buffer[CSHIMS_HEAP_SAMPLE_MAX_FRAMES];

int cshims_heap_sample_stack(void ***frames) {
    int n = cshims_unwind_backtrace(frame_buffer, CSHIMS_HEAP_SAMPLE_MAX_FRAMES);
    *frames = frame_buffer;
    return n;
}

void cshims_atomic_add_u32(uint32_t *p, int32_t delta) { __atomic_fetch_add(p, (uint32_t)delta, __ATOMIC_RELAXED); }

int cshims_glibc_backtrace(void **buffer, int size) { return backtrace(buffer, size); }

size_t cshims_gzip_bound(size_t length) {
    // deflateBound for the raw stream plus the gzip header and trailer (18 bytes) and slack.
    return (size_t)compressBound((uLong)length) + 64;
}

int cshims_gzip(const uint8_t *input, size_t length, int level, uint8_t *output, size_t capacity, size_t *written) {
    z_stream s = {0};
    // 15 + 16: a gzip wrapper (header + CRC-32 + size trailer), the format pprof expects.
    if (deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return ENOMEM;
    s.next_in = (Bytef *)input;
    s.avail_in = (uInt)length;
    s.next_out = output;
    s.avail_out = (uInt)capacity;
    if (length > UINT32_MAX || capacity > UINT32_MAX) { deflateEnd(&s); return EFBIG; }
    int rc = deflate(&s, Z_FINISH);
    *written = capacity - s.avail_out;
    deflateEnd(&s);
    return rc == Z_STREAM_END ? 0 : ENOSPC;
}

int cshims_gunzip(const uint8_t *input, size_t length, uint8_t *output, size_t capacity, size_t *written, size_t *consumed) {
    z_stream s = {0};
    // 15 + 32: accept gzip or zlib headers.
    if (inflateInit2(&s, 15 + 32) != Z_OK) return ENOMEM;
    if (length > UINT32_MAX || capacity > UINT32_MAX) { inflateEnd(&s); return EFBIG; }
    s.next_in = (Bytef *)input;
    s.avail_in = (uInt)length;
    s.next_out = output;
    s.avail_out = (uInt)capacity;
    int rc = inflate(&s, Z_FINISH);
    *written = capacity - s.avail_out;
    *consumed = length - s.avail_in;
    inflateEnd(&s);
    if (rc == Z_STREAM_END) return 0;
    if (rc == Z_BUF_ERROR && s.avail_out == 0) return ENOSPC;   // output full: retry with more room
    return EINVAL;                                              // corrupt or truncated
}

#endif
