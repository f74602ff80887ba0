/**
 * Which kernel histogram buckets the classic exposition keeps, and their
 * upper bounds as numbers in the exported unit: both exporters fold the
 * kernel's buckets onto the same bounds (/metrics writes them as `le`,
 * OTLP's explicit histograms as bounds), nothing is parsed back from text.
 * Native histograms (protobuf, OTLP exponential) carry every kernel bucket
 * as it is (native.ts).
 *
 * A classic histogram series costs one line (one Prometheus series) per
 * bound, plus +Inf, _sum and _count: the spacing chooses how many of the
 * kernel's bounds that is, per family (config `histograms`).
 */
import { HIST_BUCKETS } from '../bpf/layout.js';
import { nativeIndex, upperBound, type Scale } from '../flows/histogram.js';
import type { HistCounters } from '../flows/counters.js';
import type { BucketSpacing } from '../config/options.js';

/** How a family's histogram is exported: its scale and which kernel bounds it keeps outside `fine`. */
export interface HistShape {
  readonly scale: Scale;
  /** the native indices kept by medium, coarse and sparse: [lowest, highest] (bound 2^(i/4)) */
  readonly range: readonly [number, number];
}

export interface BucketPlan {
  /** kernel bucket index whose upper bound is exported, ascending */
  readonly indices: readonly number[];
  /** the exported bound of each index: seconds, or the largest integer inside for counts */
  readonly bounds: readonly number[];
}

/** Which native indices a spacing keeps (all within the range but for fine): every 2^(k/4), 2^(k/2), 2^k, 4^k. */
const every: Record<Exclude<BucketSpacing, 'none'>, number> = { fine: 1, medium: 2, coarse: 4, sparse: 8 };

/**
 * The kernel bucket bounds a spacing exports: every one (fine), two per
 * power of two (medium: 1 and 1.41), one (coarse: the power of two), one per
 * power of four (sparse) or none (sum and count only).
 */
export function bucketPlan(spacing: BucketSpacing, shape: HistShape): BucketPlan {
  const indices: number[] = [];
  if (spacing === 'none') return { indices, bounds: [] };
  const [lo, hi] = shape.range;
  for (let k = 0; k < HIST_BUCKETS - 1; k++) {
    const i = nativeIndex(shape.scale, k);
    if (spacing === 'fine' || (i % every[spacing] === 0 && i >= lo && i <= hi)) indices.push(k);
  }
  return { indices, bounds: indices.map((k) => upperBound(shape.scale, k)) };
}

/** Kernel buckets folded onto the plan's bounds, not cumulative: length = bounds + 1 (the last is +Inf). */
export function foldBuckets(h: HistCounters, plan: BucketPlan): number[] {
  const counts: number[] = [];
  let k = 0;
  for (const upTo of plan.indices) {
    let c = 0;
    for (; k <= upTo; k++) c += h.hist[k]!;
    counts.push(c);
  }
  let rest = 0;
  for (; k < h.hist.length; k++) rest += h.hist[k]!;
  counts.push(rest);
  return counts;
}
