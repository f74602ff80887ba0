/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef TCPULSE_HIST_H
#define TCPULSE_HIST_H

#include "tcpulse.h"

/* floor(log2(v)) for v > 0, branch-free enough for the verifier. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	/* A table, one halving step a line: kept as written. */
	/* clang-format off */
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	/* clang-format on */
	return r;
}

/*
 * Bucket of v: 0..HIST_SUB-1 for small values, then HIST_SUB linear
 * sub-buckets per power of two. Mirrored by src/flows/histogram.ts, which
 * also derives each bucket's upper bound.
 */
static __always_inline __u32 hist_bucket(__u64 v)
{
	__u32 e, m, idx;

	if (v < HIST_SUB)
		return v;
	e = log2_u64(v);
	m = (v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
	idx = HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + m;
	return idx < HIST_BUCKETS - 1 ? idx : HIST_BUCKETS - 1;
}

#endif /* TCPULSE_HIST_H */
