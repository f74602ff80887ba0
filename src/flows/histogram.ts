/**
 * The kernel's histogram buckets (bpf/hist.h): Prometheus native histogram
 * schema 2, OTLP exponential histogram scale 2. Native bucket i covers
 * (2^((i-1)/4), 2^(i/4)] in the exported unit (seconds, or a count); the
 * kernel's bucket k >= 1 is native bucket first + k - 1, its bucket 0 is the
 * zero bucket [0, 2^((first-1)/4)], and its last bucket also takes what lies
 * above (RTTs over 38 s, windows over 23 million segments: none occur).
 *
 * The kernel compares integers (nanoseconds, counts) with the largest
 * integer inside each bucket. Those bounds are computed here exactly
 * (BigInt, no floating point) and written into bpf/gen/hist_bounds.h
 * (bpf/gen/hist2h.ts; a test fails when it is not current), so the native
 * buckets, the classic `le` bounds and OTLP's exponential buckets are all the
 * kernel's own: nothing is re-bucketed.
 */
import { HIST_BUCKETS } from '../bpf/layout.js';

export const SCHEMA = 2;
const PER_OCTAVE = 2 ** SCHEMA;

/** What a histogram's kernel values are: nanoseconds (exported in seconds), or a count. */
export type Scale = 'seconds' | 'count';

interface ScaleDef {
  /** native index of kernel bucket 1 */
  readonly first: number;
  /** kernel units per exported unit */
  readonly perUnit: bigint;
}

/** Seconds: the zero bucket ends at 2^(-77/4) s (1.6 µs), bucket 1 at 2^(-76/4) s, the last regular one at 2^(21/4) s (38 s). Counts: bucket 1 is 1. */
const SCALES: Record<Scale, ScaleDef> = {
  seconds: { first: -76, perUnit: 1_000_000_000n },
  count: { first: 0, perUnit: 1n },
};

/** Entries of the kernel's bound tables: HIST_BUCKETS rounded up to a power of two for its binary search. */
export const HIST_TABLE = 2 ** Math.ceil(Math.log2(HIST_BUCKETS));
const U64_MAX = (1n << 64n) - 1n;

/** floor(perUnit * 2^(i/4)), exactly: the largest t with t^4 <= perUnit^4 * 2^i. */
function floorBound(i: number, perUnit: bigint): bigint {
  const num = perUnit ** 4n * (i > 0 ? 2n ** BigInt(i) : 1n);
  const den = i < 0 ? 2n ** BigInt(-i) : 1n;
  let lo = 0n;
  let hi = perUnit * 2n ** BigInt(Math.max(0, Math.ceil(i / PER_OCTAVE))) + 1n;
  while (lo < hi) {
    const mid = (lo + hi + 1n) / 2n;
    if (mid ** 4n * den <= num) lo = mid;
    else hi = mid - 1n;
  }
  return lo;
}

/**
 * The kernel's table for a scale: entry k is the largest value in bucket k;
 * the last bucket and the padding up to HIST_TABLE hold everything.
 */
export function kernelBounds(scale: Scale): bigint[] {
  const { first, perUnit } = SCALES[scale];
  return Array.from({ length: HIST_TABLE }, (_, k) => (k < HIST_BUCKETS - 1 ? floorBound(first + k - 1, perUnit) : U64_MAX));
}

const tables: Record<Scale, readonly number[]> = {
  seconds: kernelBounds('seconds').slice(0, HIST_BUCKETS - 1).map(Number),
  count: kernelBounds('count').slice(0, HIST_BUCKETS - 1).map(Number),
};

/** Kernel bucket of an integer value in kernel units (nanoseconds, counts), as hist_bucket() finds it. */
export function bucketOf(scale: Scale, v: number): number {
  const le = tables[scale];
  let lo = 0;
  let hi = le.length; // the last bucket: above every bound
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (le[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Native (schema 2) index of kernel bucket k >= 1. */
export function nativeIndex(scale: Scale, k: number): number {
  return SCALES[scale].first + k - 1;
}

/** The upper bound of the zero bucket (kernel bucket 0) in the exported unit. */
export function zeroThreshold(scale: Scale): number {
  return 2 ** ((SCALES[scale].first - 1) / PER_OCTAVE);
}

/**
 * Upper bound of kernel bucket k in the exported unit, inclusive: 2^(i/4)
 * seconds; for counts the largest integer inside (the same set of values).
 * Infinity for the last bucket.
 */
export function upperBound(scale: Scale, k: number): number {
  if (k >= HIST_BUCKETS - 1) return Infinity;
  return scale === 'count' ? tables.count[k]! : 2 ** (nativeIndex(scale, k) / PER_OCTAVE);
}
