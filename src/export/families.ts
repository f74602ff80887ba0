/**
 * Every metric family the agent exports, once: name, help, unit, kind,
 * where its values come from in a snapshot and with which labels. The
 * Prometheus text (prometheus.ts), the OTLP instruments (otlp/metrics.ts),
 * the README's metric table and the names the dashboards may use
 * (dashboards/src/selectors.ts) are all made from this list.
 *
 * Series families have one sample set per series (the series' labels,
 * plus the family's own); agent families describe the agent itself.
 */
import { Side } from '../bpf/layout.js';
import type { HistCounters } from '../flows/counters.js';
import { bucketPlan, type BucketPlan, type HistShape } from './buckets.js';
import type { Config } from '../config/options.js';
import { CLOSE_REASONS } from '../flows/series.js';
import type { ListWatchStats } from '../k8s/listwatch.js';
import type { SeriesView, Snapshot, TableStatus } from './snapshot.js';

export type Kind = 'counter' | 'gauge' | 'histogram';
export type LabelSet = Readonly<Record<string, string>>;

interface Base {
  /** the Prometheus name */
  readonly name: `tcpulse_${string}`;
  readonly help: string;
  /** UCUM unit, as OTLP carries it */
  readonly unit: string;
  readonly kind: Kind;
  /** the OTLP name; absent: not exported over OTLP */
  readonly otel?: `tcpulse.${string}`;
}


export interface SeriesFamily extends Base {
  readonly of: 'series';
  /** which series carry it: those the packet path fed, or the socket path */
  readonly fed: 'flows' | 'sockets';
  /** only with this option on */
  readonly option?: 'localRtt';
  /** counters and gauges: the family's own labels, one set per value */
  readonly labels?: readonly LabelSet[];
  readonly values?: (s: SeriesView) => readonly number[];
  /** and when a series has them (default: always, once fed) */
  readonly present?: (s: SeriesView) => boolean;
  /** kernel histograms: the counts, their shape, the option choosing their spacing, what the sum's unit is in the exported one */
  readonly hist?: HistShape & { readonly pick: (s: SeriesView) => HistCounters; readonly spacing: keyof Config['histograms']; readonly sumScale: number };
  /** small integer histograms: value -> count, their sum, the largest bound */
  readonly small?: { readonly counts: (s: SeriesView) => ReadonlyMap<number, number>; readonly sum: (s: SeriesView) => number; readonly max: number };
}

export interface AgentFamily extends Base {
  readonly of: 'agent';
  readonly kind: 'counter' | 'gauge';
  /** the names of its labels, and what values they take where fixed */
  readonly labelNames?: readonly string[];
  readonly values: (snap: Snapshot) => readonly (readonly [LabelSet, number])[];
}

export type Family = SeriesFamily | AgentFamily;

const DIRECTIONS = [{ direction: 'ingress' }, { direction: 'egress' }];
const one = (v: number): readonly (readonly [LabelSet, number])[] => [[{}, v]];
/** Values labelled by name: [[name, value], ...] -> [[{ label: name }, value], ...]. */
const by = (label: string, entries: readonly (readonly [string, number])[]) => entries.map(([k, v]) => [{ [label]: k }, v] as const);
/** Native indices of the bounds kept outside `fine`: RTT 2^-16 s (15 µs) to 4 s (loopback to a bad satellite link), cwnd 2 to 65,536 segments. */
const RTT_RANGE = [-64, 8] as const;
const CWND_RANGE = [4, 64] as const;
const mptcpLive = (s: SeriesView) => s.mptcpConnections > 0;

export const SERIES_FAMILIES = [
  {
    of: 'series', name: 'tcpulse_rtt_seconds', otel: 'tcpulse.rtt', kind: 'histogram', unit: 's', fed: 'flows',
    help: 'Passive RTT from TCP timestamps: interface to the peer and back.',
    hist: { pick: (s) => s.total.rtt[Side.dst]!, scale: 'seconds', range: RTT_RANGE, spacing: 'rtt', sumScale: 1e-9 },
  },
  {
    of: 'series', name: 'tcpulse_local_rtt_seconds', otel: 'tcpulse.local_rtt', kind: 'histogram', unit: 's', fed: 'flows', option: 'localRtt',
    help: 'Passive RTT from TCP timestamps: interface to the local endpoint and back.',
    hist: { pick: (s) => s.total.rtt[Side.src]!, scale: 'seconds', range: RTT_RANGE, spacing: 'rtt', sumScale: 1e-9 },
  },
  {
    of: 'series', name: 'tcpulse_min_rtt_seconds', otel: 'tcpulse.min_rtt', kind: 'gauge', unit: 's', fed: 'flows',
    help: 'Lowest passive RTT to the peer over the last one to two min-RTT windows (what alerts use).',
    present: (s) => Number.isFinite(s.minRttNs[Side.dst]), values: (s) => [s.minRttNs[Side.dst]! / 1e9],
  },
  {
    of: 'series', name: 'tcpulse_packets_total', otel: 'tcpulse.packets', kind: 'counter', unit: '{packet}', fed: 'flows', labels: DIRECTIONS,
    help: 'TCP packets on the wire (GSO/GRO batches counted per segment).', values: (s) => s.total.packets,
  },
  {
    of: 'series', name: 'tcpulse_bytes_total', otel: 'tcpulse.bytes', kind: 'counter', unit: 'By', fed: 'flows', labels: DIRECTIONS,
    help: 'TCP bytes on the wire at layer 3 (IP and TCP headers included).', values: (s) => s.total.bytes,
  },
  {
    of: 'series', name: 'tcpulse_flows_active', otel: 'tcpulse.flows.active', kind: 'gauge', unit: '{flow}', fed: 'flows',
    help: 'Flows of the series in the kernel flow table.', values: (s) => [s.flows],
  },
  {
    of: 'series', name: 'tcpulse_srtt_seconds', otel: 'tcpulse.srtt', kind: 'histogram', unit: 's', fed: 'sockets',
    help: 'Smoothed RTT of the kernel (tcp_probe samples) of sockets on this node.',
    hist: { pick: (s) => s.total.srtt, scale: 'seconds', range: RTT_RANGE, spacing: 'srtt', sumScale: 1e-6 },
  },
  {
    of: 'series', name: 'tcpulse_cwnd_segments', otel: 'tcpulse.cwnd', kind: 'histogram', unit: '{segment}', fed: 'sockets',
    help: 'Congestion window (tcp_probe samples) of sockets on this node.',
    hist: { pick: (s) => s.total.cwnd, scale: 'count', range: CWND_RANGE, spacing: 'cwnd', sumScale: 1 },
  },
  {
    of: 'series', name: 'tcpulse_retransmits_total', otel: 'tcpulse.retransmits', kind: 'counter', unit: '{segment}', fed: 'sockets',
    help: 'Retransmitted segments of sockets on this node.', values: (s) => [s.total.sock('retransmits')],
  },
  {
    of: 'series', name: 'tcpulse_delivered_segments_total', otel: 'tcpulse.delivered', kind: 'counter', unit: '{segment}', fed: 'sockets',
    help: 'Segments of sockets on this node that the peer acknowledged, retransmissions included (tcp_sock.delivered).', values: (s) => [s.total.sock('delivered')],
  },
  {
    of: 'series', name: 'tcpulse_connections_opened_total', otel: 'tcpulse.connections.opened', kind: 'counter', unit: '{connection}', fed: 'sockets',
    help: 'Connections of sockets on this node that reached ESTABLISHED.', values: (s) => [s.opened],
  },
  {
    of: 'series', name: 'tcpulse_connections_closed_total', otel: 'tcpulse.connections.closed', kind: 'counter', unit: '{connection}', fed: 'sockets',
    help: 'Established connections that closed, by how.', labels: CLOSE_REASONS.map((reason) => ({ reason })), values: (s) => CLOSE_REASONS.map((r) => s.closed[r]),
  },
  {
    of: 'series', name: 'tcpulse_connections_active', otel: 'tcpulse.connections.active', kind: 'gauge', unit: '{connection}', fed: 'sockets',
    help: 'Open sockets of the series in the kernel socket table.', values: (s) => [s.sockets],
  },
  {
    of: 'series', name: 'tcpulse_mptcp_subflows', kind: 'histogram', unit: '{subflow}', fed: 'sockets',
    help: 'Subflows per MPTCP connection, observed when the connection closes.',
    present: (s) => s.mptcpSubflows.size > 0, small: { counts: (s) => s.mptcpSubflows, sum: (s) => s.mptcpSubflowsSum, max: 8 },
  },
  {
    of: 'series', name: 'tcpulse_mptcp_subflows_open', kind: 'gauge', unit: '{subflow}', fed: 'sockets',
    help: 'Open subflows of the open MPTCP connections.', present: mptcpLive, values: (s) => [s.mptcpSubflowsOpen],
  },
  {
    of: 'series', name: 'tcpulse_mptcp_connections_open', kind: 'gauge', unit: '{connection}', fed: 'sockets',
    help: 'Open MPTCP connections.', present: mptcpLive, values: (s) => [s.mptcpConnections],
  },
  {
    of: 'series', name: 'tcpulse_mptcp_subflow_events_total', kind: 'counter', unit: '{subflow}', fed: 'sockets',
    help: 'MPTCP subflows established and closed.', labels: [{ event: 'established' }, { event: 'closed' }],
    present: (s) => s.subflowEvents.established + s.subflowEvents.closed > 0, values: (s) => [s.subflowEvents.established, s.subflowEvents.closed],
  },
] as const satisfies readonly SeriesFamily[];

/** One value per kernel table, labelled by it. */
const perTable = (v: (t: TableStatus) => number) => (s: Snapshot) => s.tables.map((t) => [{ table: t.table }, v(t)] as const);
/** One value per watched Kubernetes resource, labelled by it. */
const perResource = (v: (w: ListWatchStats) => number) => (s: Snapshot) => (s.kubernetes?.watches ?? []).map((w) => [{ resource: w.kind }, v(w.stats)] as const);
const k = (snap: Snapshot) => snap.kernel;
const sk = (snap: Snapshot) => snap.sockKernel;

export const AGENT_FAMILIES = [
  { of: 'agent', name: 'tcpulse_flow_table_untracked_total', labelNames: ['table'], otel: 'tcpulse.flow_table.untracked', kind: 'counter', unit: '{event}', help: 'Packets (table flows) and socket events (table sockets) of new flows and sockets that a full table refused: those are not measured; the entries in it are, as before.', values: perTable((t) => t.untracked) },
  { of: 'agent', name: 'tcpulse_flow_table_created_total', labelNames: ['table'], kind: 'counter', unit: '{entry}', help: 'Entries the kernel created in a table (created - deleted = entries).', values: perTable((t) => t.created) },
  { of: 'agent', name: 'tcpulse_flow_table_deleted_total', labelNames: ['table'], kind: 'counter', unit: '{entry}', help: 'Entries the agent removed from a table (idle, closed, or finished by their event).', values: perTable((t) => t.deleted) },
  { of: 'agent', name: 'tcpulse_flow_table_entries', labelNames: ['table'], kind: 'gauge', unit: '{entry}', help: 'Entries in a kernel table (flows: packet path, sockets: socket path).', values: perTable((t) => t.entries) },
  { of: 'agent', name: 'tcpulse_flow_table_capacity', labelNames: ['table'], kind: 'gauge', unit: '{entry}', help: 'Maximum entries of a kernel table.', values: perTable((t) => t.capacity) },
  { of: 'agent', name: 'tcpulse_flow_table_memory_bytes', labelNames: ['table'], kind: 'gauge', unit: 'By', help: "Kernel memory of a table's keys and values, from its configured size.", values: perTable((t) => t.bytes) },
  { of: 'agent', name: 'tcpulse_series_overflow_total', kind: 'counter', unit: '{flow}', help: 'Flows folded into the overflow series because the series budget was spent.', values: (s) => one(s.overflowTotal) },
  { of: 'agent', name: 'tcpulse_series', kind: 'gauge', unit: '{series}', help: 'Series exported, the overflow series included.', values: (s) => one(s.series.length) },
  { of: 'agent', name: 'tcpulse_rollup_duration_seconds', kind: 'gauge', unit: 's', help: 'Time the last round took to read the kernel tables and roll them up.', values: (s) => one(s.roundSeconds) },
  { of: 'agent', name: 'tcpulse_round_errors_total', kind: 'counter', unit: '{round}', help: 'Rounds that failed as a whole (each is logged; the next round runs).', values: (s) => one(s.roundErrors) },
  { of: 'agent', name: 'tcpulse_source_duration_seconds', labelNames: ['source'], kind: 'gauge', unit: 's', help: 'Time the last round spent on each source (a kernel table, the events, MPTCP connections).', values: (s) => s.sources.map((x) => [{ source: x.source }, x.seconds] as const) },
  { of: 'agent', name: 'tcpulse_source_success', labelNames: ['source'], kind: 'gauge', unit: '1', help: 'Whether the last round read each source without error (1) or not (0, logged).', values: (s) => s.sources.map((x) => [{ source: x.source }, x.ok ? 1 : 0] as const) },
  { of: 'agent', name: 'tcpulse_events_lost_total', otel: 'tcpulse.events.lost', kind: 'counter', unit: '{event}', help: 'Events dropped because a ring buffer was full.', values: (s) => one(k(s).eventsLost + (sk(s)?.eventsLost ?? 0)) },
  { of: 'agent', name: 'tcpulse_connection_log_records_total', kind: 'counter', unit: '{record}', help: 'Records written to the connection log.', values: (s) => one(s.connectionLogRecords) },
  {
    of: 'agent', name: 'tcpulse_socket_events_total', labelNames: ['event'], kind: 'counter', unit: '{event}', help: 'Kernel socket events handled, by hook.',
    values: (s) => { const x = sk(s); return x ? by('event', [['tcp_probe', x.probeEvents], ['tcp_retransmit_skb', x.retransmitEvents], ['inet_sock_set_state', x.stateEvents]] as const) : []; },
  },
  {
    of: 'agent', name: 'tcpulse_bpf_packets_total', labelNames: ['result'], kind: 'counter', unit: '{packet}', help: 'Packets seen by the packet programs, by parse result.',
    values: (s) => by('result', [['tcp', k(s).packets - k(s).notTcp - k(s).malformed - k(s).fragment], ['not_tcp', k(s).notTcp], ['malformed', k(s).malformed], ['fragment', k(s).fragment]] as const),
  },
  {
    of: 'agent', name: 'tcpulse_rtt_timestamps_total', labelNames: ['outcome'], kind: 'counter', unit: '{timestamp}', help: 'TCP timestamps taken for RTT matching, by outcome.',
    values: (s) => by('outcome', [['taken', k(s).tsTaken], ['matched', k(s).rttSamples], ['expired', k(s).tsExpired]] as const),
  },
  { of: 'agent', name: 'tcpulse_flow_events_total', labelNames: ['event'], kind: 'counter', unit: '{event}', help: 'Flow events received from the kernel.', values: (s) => by('event', Object.entries(s.flowEvents)) },
  { of: 'agent', name: 'tcpulse_probe_available', labelNames: ['probe', 'hook'], kind: 'gauge', unit: '1', help: 'Whether a probe is loaded and attached (1) or not (0), and by which hook.', values: (s) => s.probes.map((p) => [{ probe: p.probe, hook: p.hook }, p.available ? 1 : 0] as const) },
  { of: 'agent', name: 'tcpulse_interface_attached', labelNames: ['interface', 'link'], kind: 'gauge', unit: '{link}', help: 'Links the agent holds, per interface and hook.', values: (s) => s.interfaces.flatMap((i) => i.links.map((link) => [{ interface: i.name, link }, 1] as const)) },
  { of: 'agent', name: 'tcpulse_bpf_program_runs_total', labelNames: ['program'], kind: 'counter', unit: '{run}', help: 'Runs of each BPF program (packets for the packet programs, events for the socket hooks).', values: (s) => s.programs.map((p) => [{ program: p.name }, p.runCnt] as const) },
  { of: 'agent', name: 'tcpulse_bpf_program_run_seconds_total', labelNames: ['program'], kind: 'counter', unit: 's', help: 'Time spent in each BPF program.', values: (s) => s.programs.map((p) => [{ program: p.name }, p.runTimeNs / 1e9] as const) },
  {
    of: 'agent', name: 'tcpulse_qlog_kernel_total', labelNames: ['path', 'what'], kind: 'counter', unit: '{record}', help: 'What qlog did in the kernel, by path (packets, sockets): traced (matched the filter), full (matched, no room), records sent, cut (per-connection limit), lost (ring full).',
    values: (s) => {
      const rows: (readonly [LabelSet, number])[] = [];
      for (const [path, x] of [['packets', k(s)], ['sockets', sk(s)]] as const) {
        if (!x) continue;
        for (const [what, v] of [['traced', x.qlogTraced], ['full', x.qlogFull], ['records', x.qlogRecords], ['cut', x.qlogCut], ['lost', x.qlogLost]] as const) rows.push([{ path, what }, v]);
      }
      return rows;
    },
  },
  {
    of: 'agent', name: 'tcpulse_qlog_connections_total', labelNames: ['outcome'], kind: 'counter', unit: '{connection}', help: 'Files of qlog begun (traced), and connections not traced because maxConnections files were open (refused).',
    values: (s) => (s.qlog ? by('outcome', [['traced', s.qlog.connections], ['refused', s.qlog.refused]] as const) : []),
  },
  { of: 'agent', name: 'tcpulse_qlog_files_open', kind: 'gauge', unit: '{file}', help: 'Files of qlog being written.', values: (s) => (s.qlog ? one(s.qlog.open) : []) },
  { of: 'agent', name: 'tcpulse_qlog_unmatched_socket_records_total', kind: 'counter', unit: '{record}', help: 'Socket records of qlog that belonged to no traced connection.', values: (s) => (s.qlog ? one(s.qlog.unmatchedSocketRecords) : []) },
  { of: 'agent', name: 'tcpulse_qlog_sockets_released_total', kind: 'counter', unit: '{socket}', help: 'Sockets the kernel traced by the filter alone that the agent let go (their connection is not traced).', values: (s) => (s.qlog ? one(s.qlog.socketsReleased) : []) },
  {
    of: 'agent', name: 'tcpulse_otlp_exports_total', labelNames: ['outcome'], kind: 'counter', unit: '{export}', help: 'OTLP metric exports, by outcome.',
    values: (s) => (s.otlp ? by('outcome', [['ok', s.otlp.metricExports.ok], ['failed', s.otlp.metricExports.failed]] as const) : []),
  },
  {
    of: 'agent', name: 'tcpulse_otlp_spans_total', labelNames: ['outcome'], kind: 'counter', unit: '{span}', help: 'Connection spans, by outcome: exported, failed (export failed after retries), dropped (queue full), sampled_out.',
    values: (s) => { const x = s.otlp?.spans; return x ? by('outcome', [['exported', x.exported], ['failed', x.failed], ['dropped', x.dropped], ['sampled_out', x.sampledOut]] as const) : []; },
  },
  { of: 'agent', name: 'tcpulse_interface_changes_total', labelNames: ['event'], kind: 'counter', unit: '{interface}', help: 'Interfaces attached to, detached from (gone), or failed to attach.', values: (s) => by('event', Object.entries(s.interfaceEvents)) },
  { of: 'agent', name: 'tcpulse_kubernetes_synced', labelNames: ['resource'], kind: 'gauge', unit: '1', help: 'Whether a resource was listed at least once (1) or not yet (0).', values: perResource((w) => w.synced ? 1 : 0) },
  { of: 'agent', name: 'tcpulse_kubernetes_lists_total', labelNames: ['resource'], kind: 'counter', unit: '{list}', help: 'Full lists of a resource (at start, and after a watch expired).', values: perResource((w) => w.lists) },
  { of: 'agent', name: 'tcpulse_kubernetes_watches_total', labelNames: ['resource'], kind: 'counter', unit: '{watch}', help: 'Watches started.', values: perResource((w) => w.watches) },
  { of: 'agent', name: 'tcpulse_kubernetes_watch_expired_total', labelNames: ['resource'], kind: 'counter', unit: '{watch}', help: 'Watches that ended with 410 Gone.', values: perResource((w) => w.expired) },
  { of: 'agent', name: 'tcpulse_kubernetes_errors_total', labelNames: ['resource'], kind: 'counter', unit: '{error}', help: 'Failed lists and watches (retried with backoff).', values: perResource((w) => w.errors) },
  { of: 'agent', name: 'tcpulse_kubernetes_pods', kind: 'gauge', unit: '{pod}', help: 'Pods known (deleted ones within their grace included).', values: (s) => one(s.kubernetes?.pods ?? 0) },
  {
    of: 'agent', name: 'tcpulse_build_info', labelNames: ['version', 'kernel', 'bpf_objects'], kind: 'gauge', unit: '1', help: 'Build information: version, kernel release, build of the BPF objects (current, or compat for kernels before 5.12).',
    values: (s) => [[{ version: s.build.version, kernel: s.build.kernel, bpf_objects: s.build.bpfObjects }, 1]],
  },
] as const satisfies readonly AgentFamily[];

export const FAMILIES: readonly Family[] = [...SERIES_FAMILIES, ...AGENT_FAMILIES];

/** Whether a series has samples of a family: histograms once they hold one, the rest once their path fed the series. */
export function seriesHas(f: SeriesFamily, s: SeriesView): boolean {
  if (f.hist) return f.hist.pick(s).count > 0;
  return (f.fed === 'flows' ? s.hasFlows : s.hasSockets) && (f.present?.(s) ?? true);
}

/** The series families exported with these options. */
export function seriesFamilies(opts: { localRtt: boolean }): readonly SeriesFamily[] {
  return SERIES_FAMILIES.filter((f: SeriesFamily) => f.option !== 'localRtt' || opts.localRtt);
}

/** The bucket plan of each histogram family, from the `histograms` spacings. */
export function histogramPlans(families: readonly SeriesFamily[], spacings: Config['histograms']): ReadonlyMap<SeriesFamily, BucketPlan> {
  return new Map(families.flatMap((f) => (f.hist ? [[f, bucketPlan(spacings[f.hist.spacing], f.hist)] as const] : [])));
}

/** The exposition's own family (process_* and nodejs_* are process.ts'). */
export const SCRAPE_FAMILY = { name: 'tcpulse_scrape_duration_seconds', help: 'Time to render /metrics.', kind: 'histogram' } as const;

/** Every name the agent exports under its prefix: what dashboards and alerts may select. */
export type FamilyName = (typeof SERIES_FAMILIES)[number]['name'] | (typeof AGENT_FAMILIES)[number]['name'] | (typeof SCRAPE_FAMILY)['name'];
type HistogramName = Extract<(typeof SERIES_FAMILIES)[number], { kind: 'histogram' }>['name'] | (typeof SCRAPE_FAMILY)['name'];
/** The names of the samples in the exposition: families, and the bucket, sum and count of histograms. */
export type SampleName = FamilyName | `${HistogramName}_${'bucket' | 'sum' | 'count'}`;
