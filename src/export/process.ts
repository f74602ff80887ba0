/**
 * The agent process itself, read at scrape time: the process_* families
 * every Prometheus client library exports (CPU, memory, descriptors, start
 * time) and the Node.js ones worth watching (event loop delay, heap). The
 * same names and meanings as prom-client's default metrics, without
 * prom-client: a registry, its collectors and their timers for twenty
 * numbers, and a second path for families the encoders already write.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface ProcessFamily {
  readonly name: `${'process' | 'nodejs'}_${string}`;
  readonly help: string;
  readonly kind: 'counter' | 'gauge';
  readonly value: (p: ProcessSample) => number;
}

export interface ProcessSample {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  residentBytes: number;
  virtualBytes: number;
  openFds: number;
  maxFds: number;
  heapTotalBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  /** event loop delay since the last sample, seconds: how late the loop ran a timer, beyond its period */
  lag: { min: number; max: number; mean: number; stddev: number; p50: number; p90: number; p99: number };
}

const PAGE = 4096;
/** the delay histogram's timer period: each value it records is the period plus the delay */
const RESOLUTION_MS = 10;
const START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

export const PROCESS_FAMILIES: readonly ProcessFamily[] = [
  { name: 'process_cpu_user_seconds_total', kind: 'counter', help: 'Total user CPU time spent in seconds.', value: (p) => p.cpuUserSeconds },
  { name: 'process_cpu_system_seconds_total', kind: 'counter', help: 'Total system CPU time spent in seconds.', value: (p) => p.cpuSystemSeconds },
  { name: 'process_cpu_seconds_total', kind: 'counter', help: 'Total user and system CPU time spent in seconds.', value: (p) => p.cpuUserSeconds + p.cpuSystemSeconds },
  { name: 'process_start_time_seconds', kind: 'gauge', help: 'Start time of the process since unix epoch in seconds.', value: () => START_SECONDS },
  { name: 'process_resident_memory_bytes', kind: 'gauge', help: 'Resident memory size in bytes.', value: (p) => p.residentBytes },
  { name: 'process_virtual_memory_bytes', kind: 'gauge', help: 'Virtual memory size in bytes.', value: (p) => p.virtualBytes },
  { name: 'process_open_fds', kind: 'gauge', help: 'Number of open file descriptors.', value: (p) => p.openFds },
  { name: 'process_max_fds', kind: 'gauge', help: 'Maximum number of open file descriptors.', value: (p) => p.maxFds },
  { name: 'nodejs_heap_size_total_bytes', kind: 'gauge', help: 'Process heap size from Node.js in bytes.', value: (p) => p.heapTotalBytes },
  { name: 'nodejs_heap_size_used_bytes', kind: 'gauge', help: 'Process heap size used from Node.js in bytes.', value: (p) => p.heapUsedBytes },
  { name: 'nodejs_external_memory_bytes', kind: 'gauge', help: 'Node.js external memory size in bytes (Buffers).', value: (p) => p.externalBytes },
  ...(['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const).map((k): ProcessFamily => ({
    name: `nodejs_eventloop_lag_${k}_seconds`, kind: 'gauge', help: `The ${k} of the event loop delay since the previous scrape, in seconds.`, value: (p) => p.lag[k],
  })),
];

function maxFds(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : 0;
}

export class ProcessMetrics {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly maxFds = maxFds();

  constructor() {
    this.delay.enable();
  }

  /** What the process is now; the event loop delay histogram starts anew. */
  sample(): ProcessSample {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const statm = readFileSync('/proc/self/statm', 'utf8').split(' ');
    const d = this.delay;
    // an empty histogram's min is 2^63
    const s = (ns: number) => (d.count > 0 ? Math.max(0, ns / 1e9 - RESOLUTION_MS / 1e3) : 0);
    const lag = { min: s(d.min), max: s(d.max), mean: s(d.mean), stddev: d.count > 0 ? d.stddev / 1e9 : 0, p50: s(d.percentile(50)), p90: s(d.percentile(90)), p99: s(d.percentile(99)) };
    d.reset();
    return {
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      residentBytes: Number(statm[1]) * PAGE,
      virtualBytes: Number(statm[0]) * PAGE,
      openFds: readdirSync('/proc/self/fd').length - 1, // the directory read itself
      maxFds: this.maxFds,
      heapTotalBytes: mem.heapTotal,
      heapUsedBytes: mem.heapUsed,
      externalBytes: mem.external,
      lag,
    };
  }

  close(): void {
    this.delay.disable();
  }
}
