/**
 * Which kernel histogram buckets are exported, and their upper bounds as
 * numbers in the exported unit: both exporters fold the kernel's buckets
 * onto the same bounds (/metrics writes them as `le`, OTLP as explicit
 * bounds), nothing is parsed back from text.
 */
import { HIST_BUCKETS } from '../bpf/layout.js';
import { bucketUpperBound } from '../flows/histogram.js';
import type { HistCounters } from '../flows/counters.js';
import type { BucketResolution } from '../config/options.js';

/** Buckets of a kernel histogram: microseconds (exported in seconds) or integers. */
export type Buckets = 'micros' | 'integer';

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

/**
 * Every kernel bucket bound (fine), two per power of two (medium: 1 and
 * 1.5) or one (coarse: the power of two). A bucket's upper bound is
 * exclusive in the kernel.
 */
export function bucketPlan(res: BucketResolution, kind: Buckets): BucketPlan {
  const indices: number[] = [];
  for (let i = 0; i < HIST_BUCKETS - 1; i++) {
    const up = bucketUpperBound(i);
    const pow2 = 2 ** Math.round(Math.log2(up)) === up;
    const threeHalves = up % 3 === 0 && 2 ** Math.round(Math.log2(up / 3)) * 3 === up;
    if (res === 'fine' || pow2 || (res === 'medium' && threeHalves)) indices.push(i);
  }
  return { indices, bounds: indices.map((i) => toBound[kind](bucketUpperBound(i))) };
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
