/**
 * The kernel's log-linear buckets (bpf/hist.h), mirrored: values 0..3 get a
 * bucket each, then every power of two is split into 4 equal sub-buckets.
 * The exported bucket bounds are the kernel's own, so nothing is re-bucketed.
 */
import { HIST_BUCKETS, HIST_SUB_BITS } from '../bpf/layout.js';

const SUB = 1 << HIST_SUB_BITS;

/** Bucket index of an integer value, as hist_bucket() computes it in BPF. */
export function bucketOf(v: number): number {
  if (v < SUB) return v;
  const e = Math.floor(Math.log2(v));
  // Math.log2 may round up just below a power of two: correct it
  const exp = 2 ** e > v ? e - 1 : e;
  const m = Math.floor(v / 2 ** (exp - HIST_SUB_BITS)) & (SUB - 1);
  return Math.min(SUB + (exp - HIST_SUB_BITS) * SUB + m, HIST_BUCKETS - 1);
}

/** Exclusive upper bound of bucket idx in value units; Infinity for the last. */
export function bucketUpperBound(idx: number): number {
  if (idx >= HIST_BUCKETS - 1) return Infinity;
  if (idx < SUB) return idx + 1;
  const e = Math.floor((idx - SUB) / SUB) + HIST_SUB_BITS;
  const m = (idx - SUB) % SUB;
  return (SUB + m + 1) * 2 ** (e - HIST_SUB_BITS);
}

/** Lower bound of bucket idx in value units. */
export function bucketLowerBound(idx: number): number {
  return idx === 0 ? 0 : bucketUpperBound(idx - 1);
}

/**
 * Prometheus `le` bounds for microsecond buckets, in seconds. A sample in
 * bucket i is an integer number of microseconds below upper(i), its
 * nanoseconds below upper(i) as well, so `le = upper(i)` holds exactly.
 */
export const rttBoundsSeconds: readonly number[] = Array.from({ length: HIST_BUCKETS - 1 }, (_, i) =>
  bucketUpperBound(i) / 1e6,
);
