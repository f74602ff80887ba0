/**
 * What one round of the agent produced: the state every exporter renders.
 * Exporters read snapshots; they never touch BPF maps themselves.
 */
import type { StatName } from './bpf/layout.js';
import type { Counters } from './flows/counters.js';
import type { Labels } from './flows/series.js';

export interface SeriesView {
  labels: Labels;
  total: Counters;
  /** Windowed min RTT per side (ns), Infinity when none. */
  minRttNs: readonly number[];
  flows: number;
}

export interface Snapshot {
  /** CLOCK_MONOTONIC ns of the round */
  timeNs: number;
  series: SeriesView[];
  kernel: Record<StatName, number>;
  flowsInTable: number;
  flowTableCapacity: number;
  flowTableBytes: number;
  evictedTotal: number;
  overflowTotal: number;
  roundSeconds: number;
  /** probe name -> loaded and attached */
  probes: Record<string, boolean>;
  interfaces: { name: string; links: string[] }[];
  flowEvents: Record<string, number>;
}
