/**
 * Prometheus exposition of snapshots. The flow families (thousands of
 * series) are written by text.ts straight from the last snapshot, keeping
 * the kernel's bucket bounds; the agent's own metrics go through a
 * prom-client registry. Nothing is observed twice.
 */
import client from 'prom-client';
import { HIST_BUCKETS, Side } from '../bpf/layout.js';
import { bucketUpperBound } from '../flows/histogram.js';
import type { SeriesView, Snapshot } from '../snapshot.js';
import { header, histogram, labelString, sample, type BucketPlan } from './text.js';

/** Which kernel bucket bounds become `le` lines: all, two or one per power of two. */
export type BucketResolution = 'fine' | 'medium' | 'coarse';

export function bucketPlan(res: BucketResolution): BucketPlan {
  const indices: number[] = [];
  for (let i = 0; i < HIST_BUCKETS - 1; i++) {
    const up = bucketUpperBound(i);
    const exp = Math.floor(Math.log2(up));
    const pow2 = 2 ** exp === up;
    const threeHalves = up % 3 === 0 && 2 ** Math.round(Math.log2(up / 3)) * 3 === up;
    if (res === 'fine' || pow2 || (res === 'medium' && threeHalves)) indices.push(i);
  }
  const le = [...indices.map((i) => `le="${bucketUpperBound(i) / 1e6}"`), 'le="+Inf"'];
  return { indices, le };
}

type MetricType = 'counter' | 'gauge';
interface Value {
  labels: Record<string, string | number>;
  value: number;
}

/** A prom-client metric whose values come from a function at scrape time. */
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

export interface PrometheusOptions {
  localRtt: boolean;
  buckets: BucketResolution;
  version: string;
}

export class PrometheusExporter {
  readonly registry = new client.Registry();
  private snap: Snapshot | null = null;
  private readonly scrapeDuration: client.Histogram;
  private readonly plan: BucketPlan;

  constructor(private readonly opts: PrometheusOptions) {
    this.plan = bucketPlan(opts.buckets);
    const r = this.registry;
    const add = (name: string, help: string, type: MetricType, collect: () => Value[]) =>
      r.registerMetric(new CallbackMetric(name, help, type, collect) as unknown as client.Metric);
    const single = (name: string, help: string, type: MetricType, v: (s: Snapshot) => number) =>
      add(name, help, type, () => [{ labels: {}, value: this.snap ? v(this.snap) : 0 }]);
    const kernel = (k: keyof Snapshot['kernel']) => this.snap?.kernel[k] ?? 0;

    single('tcpulse_flow_table_evictions_total', 'Flows evicted by the kernel (LRU, table full) before the agent read their end.', 'counter', (s) => s.evictedTotal);
    single('tcpulse_series_overflow_total', 'Flows folded into the overflow series because the series budget was spent.', 'counter', (s) => s.overflowTotal);
    single('tcpulse_series', 'Series exported, the overflow series included.', 'gauge', (s) => s.series.length);
    single('tcpulse_flow_table_entries', 'Entries in the kernel flow table.', 'gauge', (s) => s.flowsInTable);
    single('tcpulse_flow_table_capacity', 'Maximum entries of the kernel flow table.', 'gauge', (s) => s.flowTableCapacity);
    single('tcpulse_flow_table_memory_bytes', 'Kernel memory of flow table keys and values, from the configured size.', 'gauge', (s) => s.flowTableBytes);
    single('tcpulse_rollup_duration_seconds', 'Time the last round took to read the flow table and roll it up.', 'gauge', (s) => s.roundSeconds);
    single('tcpulse_flow_create_errors_total', 'Flows the kernel could not add to the flow table.', 'counter', () => kernel('flow_create_error'));
    single('tcpulse_events_lost_total', 'Events dropped because the ring buffer was full.', 'counter', () => kernel('events_lost'));
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
    add('tcpulse_flow_events_total', 'Flow events received from the kernel.', 'counter', () =>
      Object.entries(this.snap?.flowEvents ?? {}).map(([event, value]) => ({ labels: { event }, value })));
    add('tcpulse_probe_available', 'Whether a probe loaded and attached (1) or not (0).', 'gauge', () =>
      Object.entries(this.snap?.probes ?? {}).map(([probe, ok]) => ({ labels: { probe }, value: ok ? 1 : 0 })));
    add('tcpulse_interface_attached', 'Links the agent holds, per interface and hook.', 'gauge', () =>
      (this.snap?.interfaces ?? []).flatMap((i) => i.links.map((link) => ({ labels: { interface: i.name, link }, value: 1 }))));
    add('tcpulse_build_info', 'Build information.', 'gauge', () => [{ labels: { version: opts.version }, value: 1 }]);

    this.scrapeDuration = new client.Histogram({
      name: 'tcpulse_scrape_duration_seconds',
      help: 'Time to render /metrics.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [r],
    });
    client.collectDefaultMetrics({ register: r });
    // gauges named like counters: promtool rejects them, nobody needs them
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      r.removeSingleMetric(name);
    }
  }

  update(snap: Snapshot): void {
    this.snap = snap;
  }

  /** The flow families, from the last snapshot. */
  renderFlows(): string {
    const out: string[] = [];
    const series: SeriesView[] = this.snap?.series ?? [];
    const rtt = (name: string, side: number, help: string) => {
      header(out, name, 'histogram', help);
      for (const s of series) if (s.total.rtt[side]!.count > 0) histogram(out, name, labelString(s.labels), s.total.rtt[side]!, this.plan);
    };
    rtt('tcpulse_rtt_seconds', Side.dst, 'Passive RTT from TCP timestamps: interface to the peer and back.');
    if (this.opts.localRtt) {
      rtt('tcpulse_local_rtt_seconds', Side.src, 'Passive RTT from TCP timestamps: interface to the local endpoint and back.');
    }
    header(out, 'tcpulse_min_rtt_seconds', 'gauge', 'Lowest passive RTT to the peer over the last one to two min-RTT windows.');
    for (const s of series) {
      const m = s.minRttNs[Side.dst]!;
      if (Number.isFinite(m)) sample(out, 'tcpulse_min_rtt_seconds', labelString(s.labels), m / 1e9);
    }
    for (const [name, pick, help] of [
      ['tcpulse_packets_total', (s: SeriesView) => s.total.packets, 'TCP packets on the wire (GSO/GRO batches counted per segment).'],
      ['tcpulse_bytes_total', (s: SeriesView) => s.total.bytes, 'TCP bytes on the wire at layer 3 (IP and TCP headers included).'],
    ] as const) {
      header(out, name, 'counter', help);
      for (const s of series) {
        const l = labelString(s.labels);
        sample(out, name, l, pick(s)[0]!, 'direction="ingress"');
        sample(out, name, l, pick(s)[1]!, 'direction="egress"');
      }
    }
    header(out, 'tcpulse_flows_active', 'gauge', 'Flows of the series in the kernel flow table.');
    for (const s of series) sample(out, 'tcpulse_flows_active', labelString(s.labels), s.flows);
    return out.join('\n') + '\n';
  }

  async render(): Promise<string> {
    const end = this.scrapeDuration.startTimer();
    try {
      const flows = this.renderFlows();
      return flows + '\n' + (await this.registry.metrics());
    } finally {
      end();
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
