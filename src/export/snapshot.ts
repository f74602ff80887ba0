/**
 * What one round of the agent produced: the state every exporter renders.
 * Exporters read snapshots; they never touch BPF maps themselves.
 */
import type { SockStatName, StatName } from '../bpf/layout.js';
import type { SeriesView } from '../flows/series.js';
import type { ListWatchStats } from '../k8s/listwatch.js';
import type { QlogStats } from './qlog-conns.js';

export type { SeriesView };

/** What the OTLP exporter counted (otlp/exporter.ts). */
export interface OtlpStats {
  metricExports: { ok: number; failed: number };
  spans: { exported: number; failed: number; dropped: number; sampledOut: number; kept: Record<string, number> };
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
  /** created by the kernel, deleted by the agent; untracked: not created, the table was full */
  created: number;
  deleted: number;
  untracked: number;
}

/** One source a round reads, the way node_exporter reports its collectors. */
export interface SourceStatus {
  source: string;
  seconds: number;
  ok: boolean;
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
  /** rounds that failed as a whole */
  roundErrors: number;
  sources: SourceStatus[];
  probes: ProbeStatus[];
  interfaces: { name: string; links: string[] }[];
  flowEvents: Record<string, number>;
  connectionLogRecords: number;
  interfaceEvents: { attached: number; detached: number; failed: number };
  otlp: OtlpStats | null;
  qlog: QlogStats | null;
  /** per loaded program, while run-time statistics are on */
  programs: { name: string; runCnt: number; runTimeNs: number }[];
  kubernetes: { pods: number; watches: { kind: string; stats: ListWatchStats }[] } | null;
  build: { version: string; kernel: string; bpfObjects: string };
}
