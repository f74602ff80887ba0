/**
 * OTLP metrics from the same snapshots as /metrics and the same family
 * table (families.ts: those with an OTel name): a MetricProducer that turns
 * the last snapshot into cumulative OTel data points, no second
 * aggregation. Histograms go out as explicit-bucket histograms with the
 * kernel's bucket bounds (the same set as /metrics' `le`): the kernel's
 * sub-buckets are linear within each power of two (1, 1.25, 1.5, 1.75),
 * and OTel's exponential scales are geometric (2^(i/2^scale)), so only
 * scale 0 would map exactly, and it would throw three quarters of the
 * resolution away.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Config } from '../../config/options.js';
import { foldBuckets, type BucketPlan } from '../buckets.js';
import { AGENT_FAMILIES, histogramPlans, seriesFamilies, seriesHas, type AgentFamily, type Family, type SeriesFamily } from '../families.js';
import type { Snapshot } from '../snapshot.js';
import type { WallClock } from '../../time.js';

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

type Point = { startTime: HrTime; endTime: HrTime; attributes: Attributes };

export class SnapshotProducer implements MetricProducer {
  private snap: Snapshot | null = null;
  private readonly plans: ReadonlyMap<SeriesFamily, BucketPlan>;
  /** each plan's bounds as the data points carry them: one array, shared by every point */
  private readonly boundaries = new Map<SeriesFamily, number[]>();
  private readonly series: readonly SeriesFamily[];
  private readonly agent: readonly AgentFamily[] = AGENT_FAMILIES.filter((f: AgentFamily) => f.otel);

  constructor(
    private readonly startMs: number,
    private readonly toWallMs: WallClock,
    opts: { localRtt: boolean; histograms: Config['histograms'] },
  ) {
    this.series = seriesFamilies(opts).filter((f) => f.otel);
    this.plans = histogramPlans(this.series, opts.histograms);
    for (const [f, plan] of this.plans) this.boundaries.set(f, [...plan.bounds]);
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
      const hists: (Point & { value: { buckets: { boundaries: number[]; counts: number[] }; sum: number; count: number; hasMinMax: false } })[] = [];
      for (const s of snap.series) {
        if (!seriesHas(f, s)) continue;
        if (f.hist) {
          const h = f.hist.pick(s);
          const counts = foldBuckets(h, this.plans.get(f)!);
          const value = { buckets: { boundaries: this.boundaries.get(f)!, counts }, sum: h.sum * f.hist.sumScale, count: counts.reduce((x, y) => x + y, 0), hasMinMax: false as const };
          hists.push({ ...base, attributes: s.labels, value });
        } else {
          f.values!(s).forEach((value, i) => points.push({ ...base, attributes: { ...s.labels, ...f.labels?.[i] }, value }));
        }
      }
      out.push(f.hist ? { ...head(f), dataPointType: DataPointType.HISTOGRAM, dataPoints: hists } : scalar(f, points));
    }
    for (const f of this.agent) {
      out.push(scalar(f, f.values(snap).map(([attributes, value]) => ({ ...base, attributes, value }))));
    }
    return out;
  }
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
