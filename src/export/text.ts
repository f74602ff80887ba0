/**
 * Prometheus text format (0.0.4) for the flow families, written directly:
 * thousands of series with ~50 bucket lines each are too many for a generic
 * per-value label formatter. Label sets are rendered once per series and
 * cached; bucket bounds once per process.
 */
import type { HistCounters } from '../flows/counters.js';
import type { Labels } from '../flows/series.js';
import type { BucketPlan } from './buckets.js';

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

const labelCache = new WeakMap<Labels, string>();

/** `a="x",b="y"` for a label set, cached per label object. */
export function labelString(labels: Labels): string {
  let s = labelCache.get(labels);
  if (s === undefined) {
    s = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
      .join(',');
    labelCache.set(labels, s);
  }
  return s;
}

export function header(out: string[], name: string, type: string, help: string): void {
  out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
}

function withLabels(name: string, labels: string, extra?: string): string {
  const all = extra ? (labels ? `${labels},${extra}` : extra) : labels;
  return all ? `${name}{${all}}` : name;
}

export function sample(out: string[], name: string, labels: string, value: number, extra?: string): void {
  out.push(`${withLabels(name, labels, extra)} ${formatValue(value)}`);
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const leCache = new WeakMap<BucketPlan, string[]>();

/** `le="..."` of each bound of a plan, then `le="+Inf"`, made once per plan. */
function leOf(plan: BucketPlan): string[] {
  let le = leCache.get(plan);
  if (!le) {
    le = [...plan.bounds.map((b) => `le="${formatValue(b)}"`), 'le="+Inf"'];
    leCache.set(plan, le);
  }
  return le;
}

/** One histogram series: cumulative counts at the plan's kernel bucket indices, then +Inf, sum and count. */
export function histogram(out: string[], name: string, labels: string, r: HistCounters, plan: BucketPlan, sumScale: number): void {
  const bucket = `${name}_bucket{${labels ? labels + ',' : ''}`;
  const le = leOf(plan);
  let cum = 0;
  let k = 0;
  for (let j = 0; j < plan.indices.length; j++) {
    const upTo = plan.indices[j]!;
    for (; k <= upTo; k++) cum += r.hist[k]!;
    out.push(`${bucket}${le[j]}} ${cum}`);
  }
  for (; k < r.hist.length; k++) cum += r.hist[k]!;
  // count is the bucket total: the kernel bumps count and bucket separately,
  // and a reader between the two must not see +Inf and _count disagree
  // (a histogram without buckets, spacing none, has its count alone)
  if (r.hist.length === 0) cum = r.count;
  out.push(`${bucket}${le[plan.indices.length]}} ${cum}`);
  out.push(`${withLabels(`${name}_sum`, labels)} ${r.sum * sumScale}`);
  out.push(`${withLabels(`${name}_count`, labels)} ${cum}`);
}

/** A classic histogram from cumulative [bound, count] pairs; +Inf is the count. */
export function classicHistogram(out: string[], name: string, labels: string, buckets: readonly (readonly [number, number])[], sum: number, count: number): void {
  const bucket = `${name}_bucket{${labels ? labels + ',' : ''}`;
  for (const [le, cum] of buckets) out.push(`${bucket}le="${formatValue(le)}"} ${cum}`);
  out.push(`${bucket}le="+Inf"} ${count}`);
  out.push(`${withLabels(`${name}_sum`, labels)} ${sum}`);
  out.push(`${withLabels(`${name}_count`, labels)} ${count}`);
}
