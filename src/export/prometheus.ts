/**
 * Prometheus exposition of snapshots. The flow families (thousands of
 * series) are written by text.ts straight from the last snapshot, keeping
 * the kernel's bucket bounds; the agent's own metrics go through a
 * prom-client registry. Nothing is observed twice.
 */
import client from 'prom-client';
import { HIST_BUCKETS, Side } from '../bpf/layout.js';
import { bucketUpperBound } from '../flows/histogram.js';
import type { SeriesView, Snapshot, TableStatus } from '../snapshot.js';
import type { HistCounters } from '../flows/counters.js';
import type { ListWatchStats } from '../k8s/listwatch.js';
import { CLOSE_REASONS } from '../flows/series.js';
import { header, histogram, labelString, sample, smallHistogram, type BucketPlan } from './text.js';

/** Which kernel bucket bounds become `le` lines: all, two or one per power of two. */
export type BucketResolution = 'fine' | 'medium' | 'coarse';

/**
 * The kernel bucket bounds exported as `le`: every one, or the two (1, 1.5)
 * or one (power of two) per octave. toLe turns a bucket's exclusive upper
 * bound into the `le` value: seconds for microsecond buckets, the largest
 * integer inside for integer-valued ones.
 */
export function bucketPlan(res: BucketResolution, toLe: (upper: number) => number): BucketPlan {
  const indices: number[] = [];
  for (let i = 0; i < HIST_BUCKETS - 1; i++) {
    const up = bucketUpperBound(i);
    const pow2 = 2 ** Math.round(Math.log2(up)) === up;
    const threeHalves = up % 3 === 0 && 2 ** Math.round(Math.log2(up / 3)) * 3 === up;
    if (res === 'fine' || pow2 || (res === 'medium' && threeHalves)) indices.push(i);
  }
  const le = [...indices.map((i) => `le="${toLe(bucketUpperBound(i))}"`), 'le="+Inf"'];
  return { indices, le };
}

const usToSeconds = (up: number) => up / 1e6;
const integerInside = (up: number) => up - 1;

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
  /** The kernel release and which build of the BPF objects it loaded (src/probes/objects.ts). */
  kernel: string;
  bpfObjects: string;
}

export class PrometheusExporter {
  readonly registry = new client.Registry();
  private snap: Snapshot | null = null;
  private readonly scrapeDuration: client.Histogram;
  private readonly usPlan: BucketPlan;
  private readonly intPlan: BucketPlan;

  constructor(private readonly opts: PrometheusOptions) {
    this.usPlan = bucketPlan(opts.buckets, usToSeconds);
    this.intPlan = bucketPlan(opts.buckets, integerInside);
    const r = this.registry;
    const add = (name: string, help: string, type: MetricType, collect: () => Value[]) =>
      r.registerMetric(new CallbackMetric(name, help, type, collect) as unknown as client.Metric);
    const single = (name: string, help: string, type: MetricType, v: (s: Snapshot) => number) =>
      add(name, help, type, () => [{ labels: {}, value: this.snap ? v(this.snap) : 0 }]);
    const kernel = (k: keyof Snapshot['kernel']) => this.snap?.kernel[k] ?? 0;

    const tables = (name: string, help: string, type: MetricType, v: (t: TableStatus) => number) =>
      add(name, help, type, () => (this.snap?.tables ?? []).map((t) => ({ labels: { table: t.table }, value: v(t) })));
    tables('tcpulse_flow_table_evictions_total', 'Entries the kernel evicted (LRU, table full) before the agent read their end.', 'counter', (t) => t.evicted);
    tables('tcpulse_flow_table_entries', 'Entries in a kernel table (flows: packet path, sockets: socket path).', 'gauge', (t) => t.entries);
    tables('tcpulse_flow_table_capacity', 'Maximum entries of a kernel table.', 'gauge', (t) => t.capacity);
    tables('tcpulse_flow_table_memory_bytes', 'Kernel memory of a table\'s keys and values, from its configured size.', 'gauge', (t) => t.bytes);
    single('tcpulse_series_overflow_total', 'Flows folded into the overflow series because the series budget was spent.', 'counter', (s) => s.overflowTotal);
    single('tcpulse_series', 'Series exported, the overflow series included.', 'gauge', (s) => s.series.length);
    single('tcpulse_rollup_duration_seconds', 'Time the last round took to read the kernel tables and roll them up.', 'gauge', (s) => s.roundSeconds);
    single('tcpulse_flow_create_errors_total', 'Flows the kernel could not add to the flow table.', 'counter', () => kernel('flow_create_error'));
    single('tcpulse_events_lost_total', 'Events dropped because a ring buffer was full.', 'counter', (s) => s.kernel.events_lost + (s.sockKernel?.events_lost ?? 0));
    single('tcpulse_connection_log_records_total', 'Records written to the connection log.', 'counter', (s) => s.connectionLogRecords);
    add('tcpulse_socket_events_total', 'Kernel socket events handled, by hook.', 'counter', () => {
      const k = this.snap?.sockKernel;
      if (!k) return [];
      return [
        { labels: { event: 'tcp_probe' }, value: k.probe_events },
        { labels: { event: 'tcp_retransmit_skb' }, value: k.retransmit_events },
        { labels: { event: 'inet_sock_set_state' }, value: k.state_events },
      ];
    });
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
    add('tcpulse_probe_available', 'Whether a probe is loaded and attached (1) or not (0), and by which hook.', 'gauge', () =>
      (this.snap?.probes ?? []).map((p) => ({ labels: { probe: p.probe, hook: p.hook }, value: p.available ? 1 : 0 })));
    add('tcpulse_interface_attached', 'Links the agent holds, per interface and hook.', 'gauge', () =>
      (this.snap?.interfaces ?? []).flatMap((i) => i.links.map((link) => ({ labels: { interface: i.name, link }, value: 1 }))));
    add('tcpulse_bpf_program_runs_total', 'Runs of each BPF program (packets for the packet programs, events for the socket hooks).', 'counter', () =>
      (this.snap?.programs ?? []).map((p) => ({ labels: { program: p.name }, value: p.runCnt })));
    add('tcpulse_bpf_program_run_seconds_total', 'Time spent in each BPF program.', 'counter', () =>
      (this.snap?.programs ?? []).map((p) => ({ labels: { program: p.name }, value: p.runTimeNs / 1e9 })));
    add('tcpulse_otlp_exports_total', 'OTLP metric exports, by outcome.', 'counter', () => {
      const o = this.snap?.otlp;
      return o ? [{ labels: { outcome: 'ok' }, value: o.metricExports.ok }, { labels: { outcome: 'failed' }, value: o.metricExports.failed }] : [];
    });
    add('tcpulse_otlp_spans_total', 'Connection spans, by outcome: exported, failed (export failed after retries), dropped (queue full), sampled_out.', 'counter', () => {
      const s = this.snap?.otlp?.spans;
      return s
        ? [
            { labels: { outcome: 'exported' }, value: s.exported },
            { labels: { outcome: 'failed' }, value: s.failed },
            { labels: { outcome: 'dropped' }, value: s.dropped },
            { labels: { outcome: 'sampled_out' }, value: s.sampledOut },
          ]
        : [];
    });
    add('tcpulse_interface_changes_total', 'Interfaces attached to, detached from (gone), or failed to attach.', 'counter', () =>
      Object.entries(this.snap?.interfaceEvents ?? {}).map(([event, value]) => ({ labels: { event }, value })));
    const k8s = (name: string, help: string, type: MetricType, v: (s: ListWatchStats) => number) =>
      add(name, help, type, () => (this.snap?.kubernetes?.watches ?? []).map((w) => ({ labels: { resource: w.kind }, value: v(w.stats) })));
    k8s('tcpulse_kubernetes_synced', 'Whether a resource was listed at least once (1) or not yet (0).', 'gauge', (s) => (s.synced ? 1 : 0));
    k8s('tcpulse_kubernetes_lists_total', 'Full lists of a resource (at start, and after a watch expired).', 'counter', (s) => s.lists);
    k8s('tcpulse_kubernetes_watches_total', 'Watches started.', 'counter', (s) => s.watches);
    k8s('tcpulse_kubernetes_watch_expired_total', 'Watches that ended with 410 Gone.', 'counter', (s) => s.expired);
    k8s('tcpulse_kubernetes_errors_total', 'Failed lists and watches (retried with backoff).', 'counter', (s) => s.errors);
    single('tcpulse_kubernetes_pods', 'Pods known (deleted ones within their grace included).', 'gauge', (s) => s.kubernetes?.pods ?? 0);
    add('tcpulse_build_info', 'Build information: version, kernel release, build of the BPF objects (current, or compat for kernels before 5.12).', 'gauge', () => [
      { labels: { version: opts.version, kernel: opts.kernel, bpf_objects: opts.bpfObjects }, value: 1 },
    ]);

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
    const hist = (name: string, help: string, pick: (s: SeriesView) => HistCounters, plan: BucketPlan, sumScale: number) => {
      header(out, name, 'histogram', help);
      for (const s of series) {
        const h = pick(s);
        if (h.count > 0) histogram(out, name, labelString(s.labels), h, plan, sumScale);
      }
    };
    const counter = (name: string, help: string, values: (s: SeriesView) => [string | undefined, number][], type = 'counter', sockets = false) => {
      header(out, name, type, help);
      for (const s of series) {
        if (!(sockets ? s.hasSockets : s.hasFlows)) continue;
        for (const [extra, v] of values(s)) sample(out, name, labelString(s.labels), v, extra);
      }
    };
    hist('tcpulse_rtt_seconds', 'Passive RTT from TCP timestamps: interface to the peer and back.', (s) => s.total.rtt[Side.dst]!, this.usPlan, 1e-9);
    if (this.opts.localRtt) {
      hist('tcpulse_local_rtt_seconds', 'Passive RTT from TCP timestamps: interface to the local endpoint and back.', (s) => s.total.rtt[Side.src]!, this.usPlan, 1e-9);
    }
    header(out, 'tcpulse_min_rtt_seconds', 'gauge', 'Lowest passive RTT to the peer over the last one to two min-RTT windows.');
    for (const s of series) {
      const m = s.minRttNs[Side.dst]!;
      if (Number.isFinite(m)) sample(out, 'tcpulse_min_rtt_seconds', labelString(s.labels), m / 1e9);
    }
    counter('tcpulse_packets_total', 'TCP packets on the wire (GSO/GRO batches counted per segment).', (s) => [
      ['direction="ingress"', s.total.packets[0]!],
      ['direction="egress"', s.total.packets[1]!],
    ]);
    counter('tcpulse_bytes_total', 'TCP bytes on the wire at layer 3 (IP and TCP headers included).', (s) => [
      ['direction="ingress"', s.total.bytes[0]!],
      ['direction="egress"', s.total.bytes[1]!],
    ]);
    counter('tcpulse_flows_active', 'Flows of the series in the kernel flow table.', (s) => [[undefined, s.flows]], 'gauge');
    hist('tcpulse_srtt_seconds', 'Smoothed RTT of the kernel (tcp_probe samples) of sockets on this node.', (s) => s.total.srtt, this.usPlan, 1e-6);
    hist('tcpulse_cwnd_segments', 'Congestion window (tcp_probe samples) of sockets on this node.', (s) => s.total.cwnd, this.intPlan, 1);
    counter('tcpulse_retransmits_total', 'Retransmitted segments of sockets on this node.', (s) => [[undefined, s.total.retransmits]], 'counter', true);
    counter('tcpulse_connections_opened_total', 'Connections of sockets on this node that reached ESTABLISHED.', (s) => [[undefined, s.opened]], 'counter', true);
    counter('tcpulse_connections_closed_total', 'Established connections that closed, by how.', (s) =>
      CLOSE_REASONS.map((r) => [`reason="${r}"`, s.closed[r]] as [string, number]), 'counter', true);
    counter('tcpulse_connections_active', 'Open sockets of the series in the kernel socket table.', (s) => [[undefined, s.sockets]], 'gauge', true);
    header(out, 'tcpulse_mptcp_subflows', 'histogram', 'Subflows per MPTCP connection, observed when the connection closes.');
    for (const s of series) {
      if (s.mptcpSubflows.size > 0) smallHistogram(out, 'tcpulse_mptcp_subflows', labelString(s.labels), s.mptcpSubflows, s.mptcpSubflowsSum, 8);
    }
    const mptcpLive = (s: SeriesView, v: number): [string | undefined, number][] => (s.mptcpConnections > 0 ? [[undefined, v]] : []);
    counter('tcpulse_mptcp_subflows_open', 'Open subflows of the open MPTCP connections.', (s) => mptcpLive(s, s.mptcpSubflowsOpen), 'gauge', true);
    counter('tcpulse_mptcp_connections_open', 'Open MPTCP connections.', (s) => mptcpLive(s, s.mptcpConnections), 'gauge', true);
    counter('tcpulse_mptcp_subflow_events_total', 'MPTCP subflows established and closed.', (s) =>
      s.subflowEvents.established + s.subflowEvents.closed === 0
        ? []
        : [
            ['event="established"', s.subflowEvents.established],
            ['event="closed"', s.subflowEvents.closed],
          ],
      'counter',
      true,
    );
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
