/**
 * Prometheus exposition of snapshots. Flow metrics are rendered straight
 * from the last snapshot by callback metrics: the kernel histograms keep
 * their own bucket bounds, and nothing is observed twice.
 */
import client from 'prom-client';
import { Side } from '../bpf/layout.js';
import type { RttCounters } from '../flows/counters.js';
import { rttBoundsSeconds } from '../flows/histogram.js';
import type { SeriesView, Snapshot } from '../snapshot.js';

type MetricType = 'counter' | 'gauge' | 'histogram';
interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A metric whose values come from a function at scrape time. */
class CallbackMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly collect: () => Value[],
  ) {}

  get() {
    return { name: this.name, help: this.help, type: this.type, values: this.collect(), aggregator: 'sum' };
  }

  reset(): void {}
}

const leLabels = [...rttBoundsSeconds.map((b) => String(b)), '+Inf'];

function histogramValues(name: string, labels: Record<string, string>, r: RttCounters): Value[] {
  const out: Value[] = [];
  let cum = 0;
  for (let i = 0; i < leLabels.length; i++) {
    cum += r.hist[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: leLabels[i]! }, value: cum });
  }
  out.push({ metricName: `${name}_sum`, labels, value: r.sumNs / 1e9 });
  out.push({ metricName: `${name}_count`, labels, value: r.count });
  return out;
}

export interface PrometheusOptions {
  localRtt: boolean;
  version: string;
}

export class PrometheusExporter {
  readonly registry = new client.Registry();
  private snap: Snapshot | null = null;
  private readonly scrapeDuration: client.Histogram;

  constructor(opts: PrometheusOptions) {
    const r = this.registry;
    const series = (): SeriesView[] => this.snap?.series ?? [];
    const add = (name: string, help: string, type: MetricType, collect: () => Value[]) =>
      r.registerMetric(new CallbackMetric(name, help, type, collect) as unknown as client.Metric);
    const kernel = (k: keyof Snapshot['kernel']) => this.snap?.kernel[k] ?? 0;

    const rttHistogram = (name: string, side: number) =>
      add(name, side === Side.dst
        ? 'Passive RTT from TCP timestamps: interface to the peer and back.'
        : 'Passive RTT from TCP timestamps: interface to the local endpoint and back.', 'histogram', () =>
        series()
          .filter((s) => s.total.rtt[side]!.count > 0)
          .flatMap((s) => histogramValues(name, s.labels, s.total.rtt[side]!)));
    rttHistogram('tcpulse_rtt_seconds', Side.dst);
    if (opts.localRtt) rttHistogram('tcpulse_local_rtt_seconds', Side.src);

    add('tcpulse_min_rtt_seconds', 'Lowest passive RTT to the peer over the last one to two min-RTT windows.', 'gauge', () =>
      series()
        .filter((s) => Number.isFinite(s.minRttNs[Side.dst]))
        .map((s) => ({ labels: s.labels, value: s.minRttNs[Side.dst]! / 1e9 })));
    for (const [name, pick, help] of [
      ['tcpulse_packets_total', (s: SeriesView) => s.total.packets, 'TCP packets on the wire (GSO/GRO batches counted per segment).'],
      ['tcpulse_bytes_total', (s: SeriesView) => s.total.bytes, 'TCP bytes on the wire at layer 3 (IP and TCP headers included).'],
    ] as const) {
      add(name, help, 'counter', () =>
        series().flatMap((s) => [
          { labels: { ...s.labels, direction: 'ingress' }, value: pick(s)[0]! },
          { labels: { ...s.labels, direction: 'egress' }, value: pick(s)[1]! },
        ]));
    }
    add('tcpulse_flows_active', 'Flows of the series in the kernel flow table.', 'gauge', () =>
      series().map((s) => ({ labels: s.labels, value: s.flows })));

    add('tcpulse_flow_table_evictions_total', 'Flows evicted by the kernel (LRU, table full) before the agent read their end.', 'counter', () => [
      { labels: {}, value: this.snap?.evictedTotal ?? 0 },
    ]);
    add('tcpulse_series_overflow_total', 'Flows folded into the overflow series because the series budget was spent.', 'counter', () => [
      { labels: {}, value: this.snap?.overflowTotal ?? 0 },
    ]);
    add('tcpulse_series', 'Series exported (overflow series included).', 'gauge', () => [{ labels: {}, value: series().length }]);
    add('tcpulse_flow_table_entries', 'Entries in the kernel flow table.', 'gauge', () => [
      { labels: {}, value: this.snap?.flowsInTable ?? 0 },
    ]);
    add('tcpulse_flow_table_capacity', 'Maximum entries of the kernel flow table.', 'gauge', () => [
      { labels: {}, value: this.snap?.flowTableCapacity ?? 0 },
    ]);
    add('tcpulse_flow_table_memory_bytes', 'Kernel memory of flow table keys and values, from the configured size.', 'gauge', () => [
      { labels: {}, value: this.snap?.flowTableBytes ?? 0 },
    ]);
    add('tcpulse_bpf_packets_total', 'Packets seen by the packet programs, by parse result.', 'counter', () => [
      { labels: { result: 'tcp' }, value: kernel('packets') - kernel('not_tcp') - kernel('malformed') - kernel('fragment') },
      { labels: { result: 'not_tcp' }, value: kernel('not_tcp') },
      { labels: { result: 'malformed' }, value: kernel('malformed') },
      { labels: { result: 'fragment' }, value: kernel('fragment') },
    ]);
    add('tcpulse_rtt_timestamps_total', 'TCP timestamps taken for RTT matching, by outcome.', 'counter', () => [
      { labels: { outcome: 'taken' }, value: kernel('ts_taken') },
      { labels: { outcome: 'matched' }, value: kernel('rtt_samples') },
      { labels: { outcome: 'expired' }, value: kernel('ts_expired') },
    ]);
    add('tcpulse_flow_create_errors_total', 'Flows the kernel could not add to the flow table.', 'counter', () => [
      { labels: {}, value: kernel('flow_create_error') },
    ]);
    add('tcpulse_events_lost_total', 'Events dropped because the ring buffer was full.', 'counter', () => [
      { labels: {}, value: kernel('events_lost') },
    ]);
    add('tcpulse_flow_events_total', 'Flow events received from the kernel.', 'counter', () =>
      Object.entries(this.snap?.flowEvents ?? {}).map(([event, value]) => ({ labels: { event }, value })));
    add('tcpulse_probe_available', 'Whether a probe loaded and attached (1) or not (0).', 'gauge', () =>
      Object.entries(this.snap?.probes ?? {}).map(([probe, ok]) => ({ labels: { probe }, value: ok ? 1 : 0 })));
    add('tcpulse_interface_attached', 'Links the agent holds, per interface and hook.', 'gauge', () =>
      (this.snap?.interfaces ?? []).flatMap((i) => i.links.map((link) => ({ labels: { interface: i.name, link }, value: 1 }))));
    add('tcpulse_rollup_duration_seconds', 'Time the last round took to read the flow table and roll it up.', 'gauge', () => [
      { labels: {}, value: this.snap?.roundSeconds ?? 0 },
    ]);
    add('tcpulse_build_info', 'Build information.', 'gauge', () => [{ labels: { version: opts.version }, value: 1 }]);

    this.scrapeDuration = new client.Histogram({
      name: 'tcpulse_scrape_duration_seconds',
      help: 'Time to render /metrics.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [r],
    });
    client.collectDefaultMetrics({ register: r });
  }

  update(snap: Snapshot): void {
    this.snap = snap;
  }

  async render(): Promise<string> {
    const end = this.scrapeDuration.startTimer();
    try {
      return await this.registry.metrics();
    } finally {
      end();
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
