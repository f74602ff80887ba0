/**
 * What one round of the agent produced: the state every exporter renders.
 * Exporters read snapshots; they never touch BPF maps themselves.
 */
import type { SockStatName, StatName } from './bpf/layout.js';
import type { Counters } from './flows/counters.js';
import type { CloseReasonName, Labels } from './flows/series.js';
import type { ListWatchStats } from './k8s/listwatch.js';
import type { OtlpStats } from './export/otlp/exporter.js';

export interface SeriesView {
  labels: Labels;
  total: Counters;
  /** Windowed min RTT per side (ns), Infinity when none. */
  minRttNs: readonly number[];
  flows: number;
  sockets: number;
  /** fed by the packet path / the socket path, ever: which families to export */
  hasFlows: boolean;
  hasSockets: boolean;
  opened: number;
  closed: Record<CloseReasonName, number>;
  subflowEvents: { established: number; closed: number };
  /** subflows per finished MPTCP connection -> connections */
  mptcpSubflows: ReadonlyMap<number, number>;
  mptcpSubflowsSum: number;
  mptcpConnections: number;
  mptcpSubflowsOpen: number;
}

export interface ProbeStatus {
  probe: string;
  hook: string;
  available: boolean;
}

export interface TableStatus {
  table: 'flows' | 'sockets';
  entries: number;
  capacity: number;
  bytes: number;
  evicted: number;
}

export interface Snapshot {
  /** CLOCK_MONOTONIC ns of the round */
  timeNs: number;
  series: SeriesView[];
  kernel: Record<StatName, number>;
  sockKernel: Record<SockStatName, number> | null;
  tables: TableStatus[];
  overflowTotal: number;
  roundSeconds: number;
  probes: ProbeStatus[];
  interfaces: { name: string; links: string[] }[];
  flowEvents: Record<string, number>;
  connectionLogRecords: number;
  interfaceEvents: { attached: number; detached: number; failed: number };
  otlp: OtlpStats | null;
  /** per loaded program, while run-time statistics are on */
  programs: { name: string; runCnt: number; runTimeNs: number }[];
  kubernetes: { pods: number; watches: { kind: string; stats: ListWatchStats }[] } | null;
}
