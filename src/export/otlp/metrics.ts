/**
 * OTLP metrics from the same snapshots as /metrics: a MetricProducer that
 * turns the last snapshot into cumulative OTel data points, no second
 * aggregation. Histograms go out as explicit-bucket histograms with the
 * kernel's bucket bounds (the same `le` set as /metrics): the kernel's
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
import { Side } from '../../bpf/layout.js';
import type { HistCounters } from '../../flows/counters.js';
import { CLOSE_REASONS } from '../../flows/series.js';
import type { SeriesView, Snapshot } from '../../snapshot.js';
import type { BucketPlan } from '../text.js';

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/** The OTel names of the flow families; each has a Prometheus twin of the same labels. */
export const OTEL_NAMES = {
  rtt: 'tcpulse.rtt',
  minRtt: 'tcpulse.min_rtt',
  packets: 'tcpulse.packets',
  bytes: 'tcpulse.bytes',
  flowsActive: 'tcpulse.flows.active',
  srtt: 'tcpulse.srtt',
  cwnd: 'tcpulse.cwnd',
  retransmits: 'tcpulse.retransmits',
  opened: 'tcpulse.connections.opened',
  closed: 'tcpulse.connections.closed',
  active: 'tcpulse.connections.active',
  evictions: 'tcpulse.flow_table.evictions',
  eventsLost: 'tcpulse.events.lost',
} as const;

export interface BucketBounds {
  /** explicit bounds (value units) and, per bound, the kernel bucket index it closes */
  bounds: number[];
  indices: number[];
}

export function boundsOf(plan: BucketPlan): BucketBounds {
  return { indices: plan.indices, bounds: plan.le.slice(0, -1).map((l) => Number(/le="([^"]+)"/.exec(l)![1])) };
}

/** Kernel buckets folded onto the exported bounds: counts.length = bounds.length + 1. */
export function foldBuckets(h: HistCounters, b: BucketBounds): number[] {
  const counts: number[] = [];
  let k = 0;
  for (const upTo of b.indices) {
    let c = 0;
    for (; k <= upTo; k++) c += h.hist[k]!;
    counts.push(c);
  }
  let rest = 0;
  for (; k < h.hist.length; k++) rest += h.hist[k]!;
  counts.push(rest);
  return counts;
}

export class SnapshotProducer implements MetricProducer {
  private snap: Snapshot | null = null;

  constructor(
    private readonly startMs: number,
    private readonly toWallMs: (monoNs: number) => number,
    private readonly usBounds: BucketBounds,
    private readonly intBounds: BucketBounds,
  ) {}

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
    const start = hr(this.startMs);
    const end = hr(this.toWallMs(snap.timeNs));
    const series = snap.series;
    const point = <T>(attributes: Attributes, value: T) => ({ startTime: start, endTime: end, attributes, value });
    const descriptor = (name: string, description: string, unit: string, valueType = ValueType.DOUBLE) => ({ name, description, unit, valueType });
    const sum = (name: string, description: string, unit: string, points: [Attributes, number][], monotonic = true): MetricData => ({
      descriptor: descriptor(name, description, unit),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: monotonic,
      dataPoints: points.map(([a, v]) => point(a, v)),
    });
    const gauge = (name: string, description: string, unit: string, points: [Attributes, number][]): MetricData => ({
      descriptor: descriptor(name, description, unit),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: points.map(([a, v]) => point(a, v)),
    });
    const histogram = (name: string, description: string, unit: string, pick: (s: SeriesView) => HistCounters, b: BucketBounds, scale: number, sockets: boolean): MetricData => ({
      descriptor: descriptor(name, description, unit),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: series
        .filter((s) => (sockets ? s.hasSockets : s.hasFlows) && pick(s).count > 0)
        .map((s) => {
          const h = pick(s);
          const counts = foldBuckets(h, b);
          return point(s.labels, { buckets: { boundaries: b.bounds, counts }, sum: h.sum * scale, count: counts.reduce((x, y) => x + y, 0), hasMinMax: false });
        }),
    });
    const flows = series.filter((s) => s.hasFlows);
    const socks = series.filter((s) => s.hasSockets);
    const dirs = (pick: (s: SeriesView) => number[]) =>
      flows.flatMap((s): [Attributes, number][] => [
        [{ ...s.labels, direction: 'ingress' }, pick(s)[0]!],
        [{ ...s.labels, direction: 'egress' }, pick(s)[1]!],
      ]);
    return [
      histogram(OTEL_NAMES.rtt, 'Passive RTT from TCP timestamps: interface to the peer and back.', 's', (s) => s.total.rtt[Side.dst]!, this.usBounds, 1e-9, false),
      gauge(OTEL_NAMES.minRtt, 'Lowest passive RTT to the peer over the last one to two min-RTT windows.', 's',
        series.filter((s) => Number.isFinite(s.minRttNs[Side.dst])).map((s) => [s.labels, s.minRttNs[Side.dst]! / 1e9])),
      sum(OTEL_NAMES.packets, 'TCP packets on the wire.', '{packet}', dirs((s) => s.total.packets)),
      sum(OTEL_NAMES.bytes, 'TCP bytes on the wire at layer 3.', 'By', dirs((s) => s.total.bytes)),
      gauge(OTEL_NAMES.flowsActive, 'Flows in the kernel flow table.', '{flow}', flows.map((s) => [s.labels, s.flows])),
      histogram(OTEL_NAMES.srtt, 'Smoothed RTT of the kernel.', 's', (s) => s.total.srtt, this.usBounds, 1e-6, true),
      histogram(OTEL_NAMES.cwnd, 'Congestion window.', '{segment}', (s) => s.total.cwnd, this.intBounds, 1, true),
      sum(OTEL_NAMES.retransmits, 'Retransmitted segments.', '{segment}', socks.map((s) => [s.labels, s.total.retransmits])),
      sum(OTEL_NAMES.opened, 'Connections that reached ESTABLISHED.', '{connection}', socks.map((s) => [s.labels, s.opened])),
      sum(OTEL_NAMES.closed, 'Established connections that closed.', '{connection}',
        socks.flatMap((s) => CLOSE_REASONS.map((r): [Attributes, number] => [{ ...s.labels, reason: r }, s.closed[r]]))),
      gauge(OTEL_NAMES.active, 'Open sockets.', '{connection}', socks.map((s) => [s.labels, s.sockets])),
      sum(OTEL_NAMES.evictions, 'Entries evicted from a full kernel table.', '{entry}', snap.tables.map((t) => [{ table: t.table }, t.evicted])),
      sum(OTEL_NAMES.eventsLost, 'Events dropped because a ring buffer was full.', '{event}', [[{}, snap.kernel.events_lost + (snap.sockKernel?.events_lost ?? 0)]]),
    ];
  }
}
