/**
 * OTLP metrics from the same snapshots as /metrics and the same family
 * table (families.ts: those with an OTel name): a MetricProducer that turns
 * the last snapshot into cumulative OTel data points, no second
 * aggregation. Kernel histograms go out as exponential histograms of
 * scale 2 with every kernel bucket as it is (the kernel's buckets are that
 * scale's, see src/flows/histogram.ts): OTLP's bucket j is (2^(j/4),
 * 2^((j+1)/4)], the native index minus one. The kernel's zero bucket is the
 * zero count. A family without buckets (spacing none) is an explicit
 * histogram with one bucket: count and sum.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Config } from '../../config/options.js';
import { nativeIndex, SCHEMA, type Scale } from '../../flows/histogram.js';
import type { HistCounters } from '../../flows/counters.js';
import { AGENT_FAMILIES, seriesFamilies, seriesHas, type AgentFamily, type Family, type SeriesFamily } from '../families.js';
import type { Snapshot } from '../snapshot.js';
import type { WallClock } from '../../time.js';

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

type Point = { startTime: HrTime; endTime: HrTime; attributes: Attributes };

export class SnapshotProducer implements MetricProducer {
  private snap: Snapshot | null = null;
  private readonly series: readonly SeriesFamily[];
  private readonly bucketless = new Set<SeriesFamily>();
  private readonly agent: readonly AgentFamily[] = AGENT_FAMILIES.filter((f: AgentFamily) => f.otel);

  constructor(
    private readonly startMs: number,
    private readonly toWallMs: WallClock,
    opts: { localRtt: boolean; histograms: Config['histograms'] },
  ) {
    this.series = seriesFamilies(opts).filter((f) => f.otel);
    for (const f of this.series) if (f.hist && opts.histograms[f.hist.spacing] === 'none') this.bucketless.add(f);
  }

  update(snap: Snapshot): void {
    this.snap = snap;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- MetricProducer wants a promise; async makes a throw in metrics() a rejection
  async collect(): Promise<CollectionResult> {
    return { resourceMetrics: { resource: undefined as never, scopeMetrics: [{ scope: { name: 'tcpulse' }, metrics: this.metrics() }] }, errors: [] };
  }

  metrics(): MetricData[] {
    const snap = this.snap;
    if (!snap) return [];
    const base = { startTime: hr(this.startMs), endTime: hr(this.toWallMs(snap.timeNs)) };
    const out: MetricData[] = [];
    for (const f of this.series) {
      const points: (Point & { value: number })[] = [];
      const hists: (Point & { value: ExponentialHistogram })[] = [];
      const sums: (Point & { value: Histogram })[] = [];
      for (const s of snap.series) {
        if (!seriesHas(f, s)) continue;
        if (f.hist) {
          const h = f.hist.pick(s);
          if (this.bucketless.has(f)) sums.push({ ...base, attributes: s.labels, value: { buckets: { boundaries: [], counts: [h.count] }, sum: h.sum * f.hist.sumScale, count: h.count } });
          else hists.push({ ...base, attributes: s.labels, value: exponential(h, f.hist.scale, f.hist.sumScale) });
        } else {
          f.values!(s).forEach((value, i) => points.push({ ...base, attributes: { ...s.labels, ...f.labels?.[i] }, value }));
        }
      }
      if (!f.hist) out.push(scalar(f, points));
      else if (this.bucketless.has(f)) out.push({ ...head(f), dataPointType: DataPointType.HISTOGRAM, dataPoints: sums });
      else out.push({ ...head(f), dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM, dataPoints: hists });
    }
    for (const f of this.agent) {
      out.push(scalar(f, f.values(snap).map(([attributes, value]) => ({ ...base, attributes, value }))));
    }
    return out;
  }
}

/** A kernel histogram as OTLP's exponential one: the buckets from the first to the last that holds samples. */
export function exponential(h: HistCounters, scale: Scale, sumScale: number): ExponentialHistogram {
  const hist = h.hist;
  let first = 1;
  let last = hist.length - 1;
  while (first <= last && hist[first] === 0) first++;
  while (last >= first && hist[last] === 0) last--;
  const bucketCounts = Array.from(hist.subarray(first, last + 1));
  let count = hist[0]!;
  for (const c of bucketCounts) count += c;
  return {
    count,
    sum: h.sum * sumScale,
    scale: SCHEMA,
    zeroCount: hist[0]!,
    positive: { offset: bucketCounts.length ? nativeIndex(scale, first) - 1 : 0, bucketCounts },
    negative: { offset: 0, bucketCounts: [] },
  };
}

function head(f: Family) {
  return {
    descriptor: { name: f.otel!, description: f.help, unit: f.unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
  };
}

function scalar(f: Family, dataPoints: (Point & { value: number })[]): MetricData {
  return f.kind === 'counter'
    ? { ...head(f), dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints }
    : { ...head(f), dataPointType: DataPointType.GAUGE, dataPoints };
}
