/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef TCPULSE_HIST_H
#define TCPULSE_HIST_H

#include "tcpulse.h"
#include "gen/hist_bounds.h"

/*
 * Bucket of v: the first k whose bound le[k] (the largest value in bucket
 * k) is at least v. A binary search over HIST_TABLE entries, unrolled:
 * seven loads and compares. The tables come from src/flows/histogram.ts,
 * which holds the geometry (bpf/gen/hist2h.ts writes them).
 */
static __always_inline __u32 hist_search(const __u64 *le, __u64 v)
{
	__u32 k = 0;

#pragma unroll
	for (__u32 step = HIST_TABLE / 2; step; step >>= 1)
		if (le[k + step - 1] < v)
			k += step;
	return k < HIST_BUCKETS ? k : HIST_BUCKETS - 1;
}

/* An RTT in nanoseconds: native buckets of seconds. */
static __always_inline __u32 hist_bucket_ns(__u64 ns)
{
	return hist_search(hist_le_ns, ns);
}

/* A count (segments). */
static __always_inline __u32 hist_bucket_count(__u64 v)
{
	return hist_search(hist_le_count, v);
}

#endif /* TCPULSE_HIST_H */
