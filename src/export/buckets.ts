/**
 * Which kernel histogram buckets are exported, and their upper bounds as
 * numbers in the exported unit: both exporters fold the kernel's buckets
 * onto the same bounds (/metrics writes them as `le`, OTLP as explicit
 * bounds), nothing is parsed back from text.
 *
 * A histogram series costs one line (one Prometheus series) per bound, plus
 * +Inf, _sum and _count: the spacing chooses how many of the kernel's
 * bounds that is, per family (config `histograms`).
 */
import { HIST_BUCKETS } from '../bpf/layout.js';
import { bucketUpperBound } from '../flows/histogram.js';
import type { HistCounters } from '../flows/counters.js';
import type { BucketSpacing } from '../config/options.js';

/** Buckets of a kernel histogram: microseconds (exported in seconds) or integers. */
export type Buckets = 'micros' | 'integer';

/** How a family's histogram is exported: its kernel unit and which kernel bounds it keeps outside `fine`. */
export interface HistShape {
  readonly buckets: Buckets;
  /** the kernel upper bounds (exclusive, kernel units) kept by medium, coarse and sparse: [lowest, highest] */
  readonly range: readonly [number, number];
}

export interface BucketPlan {
  /** kernel bucket index whose upper bound is exported, ascending */
  readonly indices: readonly number[];
  /** the exported bound of each index: seconds for microsecond buckets, the largest integer inside for integer ones */
  readonly bounds: readonly number[];
}

const toBound: Record<Buckets, (upper: number) => number> = {
  micros: (up) => up / 1e6,
  integer: (up) => up - 1,
};

const isPow2 = (v: number) => 2 ** Math.round(Math.log2(v)) === v;

/** Which kernel upper bounds a spacing keeps (all within the range but for fine). */
const keeps: Record<BucketSpacing, (up: number) => boolean> = {
  fine: () => true,
  medium: (up) => isPow2(up) || (up % 3 === 0 && isPow2(up / 3)), // 1 and 1.5 per power of two
  coarse: isPow2,
  sparse: (up) => isPow2(up) && Math.round(Math.log2(up)) % 2 === 0, // powers of four
  none: () => false,
};

/**
 * The kernel bucket bounds a spacing exports: every one (fine), two per
 * power of two (medium: 1 and 1.5), one (coarse: the power of two), one per
 * power of four (sparse) or none (sum and count only). A bucket's upper
 * bound is exclusive in the kernel.
 */
export function bucketPlan(spacing: BucketSpacing, shape: HistShape): BucketPlan {
  const indices: number[] = [];
  const [lo, hi] = shape.range;
  for (let i = 0; i < HIST_BUCKETS - 1; i++) {
    const up = bucketUpperBound(i);
    if (keeps[spacing](up) && (spacing === 'fine' || (up >= lo && up <= hi))) indices.push(i);
  }
  return { indices, bounds: indices.map((i) => toBound[shape.buckets](bucketUpperBound(i))) };
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
