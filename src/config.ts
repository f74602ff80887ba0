/**
 * The agent's configuration: one documented type, its defaults, the YAML
 * file and the flags merged over it, and validation that throws ConfigError
 * with one clear line at start, never later.
 */
import { join } from 'node:path';
import { projectRoot } from './paths.js';
import { ConfigError } from './errors.js';
import { LogLevels, type LogLevel } from './log.js';
import type { BucketResolution } from './export/prometheus.js';
import type { HookFamily } from './probes/hooks.js';
import { ROLLUPS, type RollupLevel } from './k8s/labels.js';

export interface Config {
  /** Interface names or globs (`veth*`, `eth[01]`) to attach to. */
  interfaces: string[];
  /** Address of /metrics, /healthz and /readyz. */
  listen: { host: string; port: number };
  logLevel: LogLevel;
  /** How often the flow table is read and rolled into series (ms). */
  intervalMs: number;
  /** Entries of the kernel flow table (LRU). */
  flowTableSize: number;
  /** Series (label sets) before new ones fold into the overflow series. */
  maxSeries: number;
  /** Ingress hook: tc (default: keeps GRO/TSO intact) or xdp. */
  ingressHook: 'tc' | 'xdp';
  xdpMode: 'auto' | 'native' | 'generic';
  /** tcx link, clsact filter, or tcx with clsact where tcx is missing. */
  tcAttach: 'auto' | 'tcx' | 'clsact';
  rtt: {
    /** Minimum gap between two timestamps of one flow and side (ms). */
    rateLimitMs: number;
    /** A timestamp not echoed within this time is dropped (ms). */
    timeoutMs: number;
    /** Length of the min-RTT window; tcpulse_min_rtt_seconds covers one to two windows (ms). */
    minRttWindowMs: number;
    /** Also export tcpulse_local_rtt_seconds: interface to the local endpoint and back. */
    localSide: boolean;
    /** Exported `le` bounds: every kernel bound (4 per power of two), 2, or 1 per power of two. */
    buckets: BucketResolution;
  };
  /** A flow without packets for this long leaves the flow table (ms). */
  flowIdleTimeoutMs: number;
  /** A closed flow (FIN both ways, or RST) leaves the table after this long idle (ms). */
  flowClosedTimeoutMs: number;
  /** A series without flows for this long is no longer exported (ms). */
  seriesIdleTimeoutMs: number;
  /** Directory holding the compiled BPF objects. */
  bpfDir: string;
  /** Count each BPF program's runs and run time (two clock reads per run) for tcpulse_bpf_program_*. */
  bpfStats: boolean;
  sockets: {
    /** Socket signals (srtt, cwnd, retransmits, lifecycle, MPTCP) for sockets on this node. */
    enabled: boolean;
    /** Entries of the kernel socket table (LRU). */
    tableSize: number;
    /** Hook families to try, best first. */
    hooks: HookFamily[];
    /**
     * Minimum gap between two srtt/cwnd samples of one socket (ms; 0: every
     * tcp_probe event). tcp_probe fires per ACK, so unlimited samples weigh
     * busy moments (when ACKs come fast, and RTT is often low) more than
     * quiet ones; 1 ms samples a busy socket evenly in time.
     */
    sampleIntervalMs: number;
  };
  kubernetes: {
    /** Label series by pod, from the Kubernetes API. */
    enabled: boolean;
    /** This node (the DaemonSet passes NODE_NAME); empty: $NODE_NAME. */
    nodeName: string;
    /** API server URL; empty: in-cluster, else $KUBECONFIG. */
    apiServer: string;
    /** Series label set: flow, pod, workload, namespace or node. */
    rollup: RollupLevel;
    /** How long a deleted pod keeps its IP and series (ms). */
    deletedPodGraceMs: number;
    /** Prefix lengths that name a peer which is no known pod. */
    peerPrefixV4: number;
    peerPrefixV6: number;
  };
  otlp: {
    /**
     * OTLP endpoint (http://collector:4318 for http/protobuf, :4317 for
     * grpc); empty: $OTEL_EXPORTER_OTLP_ENDPOINT, and off when that is unset too.
     */
    endpoint: string;
    /** http/protobuf or grpc; empty: $OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf. */
    protocol: '' | 'http/protobuf' | 'grpc';
    /** How often metrics are exported (ms). */
    metricsIntervalMs: number;
    /** One span per finished connection. */
    spans: boolean;
    /** Fraction of ordinary connections kept as spans (0..1). */
    spanRatio: number;
    /** Always keep: connections with retransmissions, closed by RST, or with min RTT above this (ms; 0: off). */
    spanMinRttAboveMs: number;
    /** Spans waiting for export at most; more are dropped and counted. */
    spanQueueSize: number;
  };
  qlog: {
    /** Directory for one qlog file per traced connection; null: off. */
    dir: string | null;
    /** Which connections: addresses (or CIDRs), ports, pods ("namespace/name"); empty lists match all. */
    addresses: string[];
    ports: number[];
    pods: string[];
    /** Connections traced at once, and events written per connection (then the file says what was cut). */
    maxConnections: number;
    maxEventsPerConnection: number;
  };
  connectionLog: {
    /** JSON lines, one per finished connection; null: off. */
    path: string | null;
    /** Field groups written: core always, rtt, window, mptcp. */
    groups: ConnLogGroup[];
  };
}

export const CONN_LOG_GROUPS = ['core', 'rtt', 'window', 'mptcp'] as const;
export type ConnLogGroup = (typeof CONN_LOG_GROUPS)[number];
const HOOK_FAMILIES = ['tp_btf', 'raw_tp', 'kprobe'] as const;

export const defaults: Config = {
  interfaces: [],
  listen: { host: '0.0.0.0', port: 9983 },
  logLevel: 'info',
  intervalMs: 5000,
  flowTableSize: 16384,
  maxSeries: 2000,
  ingressHook: 'tc',
  xdpMode: 'auto',
  tcAttach: 'auto',
  rtt: { rateLimitMs: 0, timeoutMs: 10_000, minRttWindowMs: 30_000, localSide: false, buckets: 'medium' },
  flowIdleTimeoutMs: 300_000,
  flowClosedTimeoutMs: 10_000,
  seriesIdleTimeoutMs: 600_000,
  bpfDir: join(projectRoot, 'bpf'),
  bpfStats: true,
  sockets: { enabled: true, tableSize: 16384, hooks: [...HOOK_FAMILIES], sampleIntervalMs: 1 },
  kubernetes: { enabled: false, nodeName: '', apiServer: '', rollup: 'pod', deletedPodGraceMs: 300_000, peerPrefixV4: 24, peerPrefixV6: 64 },
  otlp: { endpoint: '', protocol: '', metricsIntervalMs: 15_000, spans: true, spanRatio: 1, spanMinRttAboveMs: 0, spanQueueSize: 4096 },
  qlog: { dir: null, addresses: [], ports: [], pods: [], maxConnections: 16, maxEventsPerConnection: 100_000 },
  connectionLog: { path: null, groups: [...CONN_LOG_GROUPS] },
};



const durationRe = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(what: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000; // bare numbers are seconds
  if (v === '0') return 0;
  const m = typeof v === 'string' ? durationRe.exec(v.trim()) : null;
  if (!m) throw new ConfigError(`${what}: expected a duration like 250ms, 5s or 2m, got ${JSON.stringify(v)}`);
  return Number(m[1]) * unitMs[m[2]!]!;
}

function parseInteger(what: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${what}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function parseChoice<T extends string>(what: string, v: unknown, choices: readonly T[]): T {
  if (typeof v !== 'string' || !choices.includes(v as T)) {
    throw new ConfigError(`${what}: expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function parseString(what: string, v: unknown): string {
  if (typeof v !== 'string') throw new ConfigError(`${what}: expected a string, got ${JSON.stringify(v)}`);
  return v.trim();
}

/** A list (YAML sequence or comma-separated string) of choices. */
function parseList<T extends string>(what: string, v: unknown, choices: readonly T[]): T[] {
  const list = typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v;
  if (!Array.isArray(list)) throw new ConfigError(`${what}: expected a list of ${choices.join(', ')}`);
  return list.map((x) => parseChoice(what, x, choices));
}

function parseBool(what: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  throw new ConfigError(`${what}: expected true or false, got ${JSON.stringify(v)}`);
}

export function parseListen(what: string, v: unknown): { host: string; port: number } {
  const m = typeof v === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v.trim()) : null;
  if (!m) throw new ConfigError(`${what}: expected HOST:PORT, [IPv6]:PORT or :PORT, got ${JSON.stringify(v)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${what}: port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const ifaceRe = /^[A-Za-z0-9_.:@*?[\]!-]{1,15}$/;

function parseInterfaces(what: string, v: unknown): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw new ConfigError(`${what}: expected a list of interface names or globs`);
  return list.map((x) => {
    if (typeof x !== 'string' || !ifaceRe.test(x)) {
      throw new ConfigError(`${what}: ${JSON.stringify(x)} is not an interface name or glob`);
    }
    return x;
  });
}

export type Raw = Record<string, unknown>;

export function obj(what: string, v: unknown): Raw {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${what}: expected a mapping`);
  return v as Raw;
}

function rejectUnknown(what: string, raw: Raw, known: string[]): void {
  for (const k of Object.keys(raw)) {
    if (!known.includes(k)) throw new ConfigError(`${what}: unknown key ${JSON.stringify(k)} (known: ${known.join(', ')})`);
  }
}

/** Applies a raw (file or flag) object over base; each key validated. */
export function applyRaw(base: Config, raw: Raw, where: string): Config {
  const c: Config = {
    ...base,
    listen: { ...base.listen },
    rtt: { ...base.rtt },
    sockets: { ...base.sockets },
    kubernetes: { ...base.kubernetes },
    otlp: { ...base.otlp },
    qlog: { ...base.qlog },
    connectionLog: { ...base.connectionLog },
  };
  const at = (k: string) => `${where}${k}`;
  rejectUnknown(where || 'config', raw, [
    'interfaces', 'listen', 'logLevel', 'interval', 'flowTableSize', 'maxSeries', 'ingressHook', 'xdpMode',
    'tcAttach', 'rtt', 'flowIdleTimeout', 'flowClosedTimeout', 'seriesIdleTimeout', 'bpfDir', 'bpfStats', 'sockets', 'kubernetes', 'otlp', 'qlog', 'connectionLog',
  ]);
  if (raw.interfaces !== undefined) c.interfaces = parseInterfaces(at('interfaces'), raw.interfaces);
  if (raw.listen !== undefined) c.listen = parseListen(at('listen'), raw.listen);
  if (raw.logLevel !== undefined) c.logLevel = parseChoice(at('logLevel'), raw.logLevel, LogLevels);
  if (raw.interval !== undefined) c.intervalMs = parseDuration(at('interval'), raw.interval);
  if (raw.flowTableSize !== undefined) c.flowTableSize = parseInteger(at('flowTableSize'), raw.flowTableSize, 64, 4_194_304);
  if (raw.maxSeries !== undefined) c.maxSeries = parseInteger(at('maxSeries'), raw.maxSeries, 1, 1_000_000);
  if (raw.ingressHook !== undefined) c.ingressHook = parseChoice(at('ingressHook'), raw.ingressHook, ['tc', 'xdp'] as const);
  if (raw.xdpMode !== undefined) c.xdpMode = parseChoice(at('xdpMode'), raw.xdpMode, ['auto', 'native', 'generic'] as const);
  if (raw.tcAttach !== undefined) c.tcAttach = parseChoice(at('tcAttach'), raw.tcAttach, ['auto', 'tcx', 'clsact'] as const);
  if (raw.flowIdleTimeout !== undefined) c.flowIdleTimeoutMs = parseDuration(at('flowIdleTimeout'), raw.flowIdleTimeout);
  if (raw.flowClosedTimeout !== undefined) c.flowClosedTimeoutMs = parseDuration(at('flowClosedTimeout'), raw.flowClosedTimeout);
  if (raw.seriesIdleTimeout !== undefined) c.seriesIdleTimeoutMs = parseDuration(at('seriesIdleTimeout'), raw.seriesIdleTimeout);
  if (raw.bpfDir !== undefined) {
    if (typeof raw.bpfDir !== 'string' || !raw.bpfDir) throw new ConfigError(`${at('bpfDir')}: expected a directory`);
    c.bpfDir = raw.bpfDir;
  }
  if (raw.bpfStats !== undefined) c.bpfStats = parseBool(at('bpfStats'), raw.bpfStats);
  if (raw.sockets !== undefined) {
    const r = obj(at('sockets'), raw.sockets);
    rejectUnknown(at('sockets'), r, ['enabled', 'tableSize', 'hooks', 'sampleInterval']);
    if (r.enabled !== undefined) c.sockets.enabled = parseBool(at('sockets.enabled'), r.enabled);
    if (r.tableSize !== undefined) c.sockets.tableSize = parseInteger(at('sockets.tableSize'), r.tableSize, 64, 4_194_304);
    if (r.hooks !== undefined) c.sockets.hooks = parseList(at('sockets.hooks'), r.hooks, HOOK_FAMILIES);
    if (r.sampleInterval !== undefined) c.sockets.sampleIntervalMs = parseDuration(at('sockets.sampleInterval'), r.sampleInterval);
  }
  if (raw.kubernetes !== undefined) {
    const r = obj(at('kubernetes'), raw.kubernetes);
    rejectUnknown(at('kubernetes'), r, ['enabled', 'nodeName', 'apiServer', 'rollup', 'deletedPodGrace', 'peerPrefixV4', 'peerPrefixV6']);
    const k = c.kubernetes;
    if (r.enabled !== undefined) k.enabled = parseBool(at('kubernetes.enabled'), r.enabled);
    if (r.nodeName !== undefined) k.nodeName = parseString(at('kubernetes.nodeName'), r.nodeName);
    if (r.apiServer !== undefined) {
      k.apiServer = parseString(at('kubernetes.apiServer'), r.apiServer);
      if (k.apiServer && !/^https?:\/\/[^\s/]+/.test(k.apiServer)) throw new ConfigError(`${at('kubernetes.apiServer')}: expected an http(s) URL, got ${JSON.stringify(k.apiServer)}`);
    }
    if (r.rollup !== undefined) k.rollup = parseChoice(at('kubernetes.rollup'), r.rollup, ROLLUPS);
    if (r.deletedPodGrace !== undefined) k.deletedPodGraceMs = parseDuration(at('kubernetes.deletedPodGrace'), r.deletedPodGrace);
    if (r.peerPrefixV4 !== undefined) k.peerPrefixV4 = parseInteger(at('kubernetes.peerPrefixV4'), r.peerPrefixV4, 0, 32);
    if (r.peerPrefixV6 !== undefined) k.peerPrefixV6 = parseInteger(at('kubernetes.peerPrefixV6'), r.peerPrefixV6, 0, 128);
  }
  if (raw.otlp !== undefined) {
    const r = obj(at('otlp'), raw.otlp);
    rejectUnknown(at('otlp'), r, ['endpoint', 'protocol', 'metricsInterval', 'spans', 'spanRatio', 'spanMinRttAbove', 'spanQueueSize']);
    const o = c.otlp;
    if (r.endpoint !== undefined) {
      o.endpoint = parseString(at('otlp.endpoint'), r.endpoint);
      if (o.endpoint && !/^https?:\/\/[^\s/]+/.test(o.endpoint)) throw new ConfigError(`${at('otlp.endpoint')}: expected an http(s) URL, got ${JSON.stringify(o.endpoint)}`);
    }
    if (r.protocol !== undefined) o.protocol = parseChoice(at('otlp.protocol'), r.protocol, ['', 'http/protobuf', 'grpc'] as const);
    if (r.metricsInterval !== undefined) o.metricsIntervalMs = parseDuration(at('otlp.metricsInterval'), r.metricsInterval);
    if (r.spans !== undefined) o.spans = parseBool(at('otlp.spans'), r.spans);
    if (r.spanRatio !== undefined) {
      if (typeof r.spanRatio !== 'number' || !(r.spanRatio >= 0 && r.spanRatio <= 1)) throw new ConfigError(`${at('otlp.spanRatio')}: expected a number from 0 to 1, got ${JSON.stringify(r.spanRatio)}`);
      o.spanRatio = r.spanRatio;
    }
    if (r.spanMinRttAbove !== undefined) o.spanMinRttAboveMs = parseDuration(at('otlp.spanMinRttAbove'), r.spanMinRttAbove);
    if (r.spanQueueSize !== undefined) o.spanQueueSize = parseInteger(at('otlp.spanQueueSize'), r.spanQueueSize, 1, 1_000_000);
  }
  if (raw.qlog !== undefined) {
    const r = obj(at('qlog'), raw.qlog);
    rejectUnknown(at('qlog'), r, ['dir', 'addresses', 'ports', 'pods', 'maxConnections', 'maxEventsPerConnection']);
    const q = c.qlog;
    if (r.dir !== undefined) {
      if (r.dir !== null && (typeof r.dir !== 'string' || !r.dir)) throw new ConfigError(`${at('qlog.dir')}: expected a directory`);
      q.dir = r.dir as string | null;
    }
    const strings = (k: string, v: unknown) => {
      const list = typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' || typeof x === 'number')) throw new ConfigError(`${at(k)}: expected a list`);
      return list.map(String);
    };
    if (r.addresses !== undefined) q.addresses = strings('qlog.addresses', r.addresses);
    if (r.ports !== undefined) q.ports = strings('qlog.ports', r.ports).map((p) => parseInteger(at('qlog.ports'), p, 1, 65535));
    if (r.pods !== undefined) q.pods = strings('qlog.pods', r.pods);
    if (r.maxConnections !== undefined) q.maxConnections = parseInteger(at('qlog.maxConnections'), r.maxConnections, 1, 10_000);
    if (r.maxEventsPerConnection !== undefined) q.maxEventsPerConnection = parseInteger(at('qlog.maxEventsPerConnection'), r.maxEventsPerConnection, 10, 100_000_000);
  }
  if (raw.connectionLog !== undefined) {
    const r = obj(at('connectionLog'), raw.connectionLog);
    rejectUnknown(at('connectionLog'), r, ['path', 'groups']);
    if (r.path !== undefined) {
      if (r.path !== null && (typeof r.path !== 'string' || !r.path)) throw new ConfigError(`${at('connectionLog.path')}: expected a file path`);
      c.connectionLog.path = r.path as string | null;
    }
    if (r.groups !== undefined) c.connectionLog.groups = parseList(at('connectionLog.groups'), r.groups, CONN_LOG_GROUPS);
  }
  if (raw.rtt !== undefined) {
    const r = obj(at('rtt'), raw.rtt);
    rejectUnknown(at('rtt'), r, ['rateLimit', 'timeout', 'minRttWindow', 'localSide', 'buckets']);
    if (r.buckets !== undefined) c.rtt.buckets = parseChoice(at('rtt.buckets'), r.buckets, ['fine', 'medium', 'coarse'] as const);
    if (r.rateLimit !== undefined) c.rtt.rateLimitMs = parseDuration(at('rtt.rateLimit'), r.rateLimit);
    if (r.timeout !== undefined) c.rtt.timeoutMs = parseDuration(at('rtt.timeout'), r.timeout);
    if (r.minRttWindow !== undefined) c.rtt.minRttWindowMs = parseDuration(at('rtt.minRttWindow'), r.minRttWindow);
    if (r.localSide !== undefined) c.rtt.localSide = parseBool(at('rtt.localSide'), r.localSide);
  }
  return c;
}

/** Checks across fields, once everything is merged. */
export function validate(c: Config): Config {
  if (c.interfaces.length === 0) throw new ConfigError('no interface given: use --interface NAME (or interfaces: in the config file)');
  if (c.intervalMs < 100) throw new ConfigError(`interval: at least 100ms, got ${c.intervalMs}ms`);
  if (c.rtt.minRttWindowMs < 1000) throw new ConfigError(`rtt.minRttWindow: at least 1s, got ${c.rtt.minRttWindowMs}ms`);
  if (c.rtt.timeoutMs <= 0) throw new ConfigError('rtt.timeout: must be above 0');
  if (c.kubernetes.enabled) {
    c.kubernetes.nodeName ||= process.env.NODE_NAME ?? '';
    if (!c.kubernetes.nodeName) throw new ConfigError('kubernetes.nodeName: empty and $NODE_NAME is not set: the agent must know its node');
  }
  return c;
}
