/**
 * Every option of the agent, once: where it sits in the config file, its
 * flag, its parser, its default and what it does. The Config type, the
 * defaults, config file and flag parsing (../config.ts, ../flags.ts),
 * --help and the README's options blocks (docs.ts) and the check against
 * the chart's values schema (test/chart/helm.test.ts) all come from here:
 * a new option is one entry.
 */
import { join } from 'node:path';
import { LogLevels } from '../log.js';
import { projectRoot } from '../paths.js';
import * as P from './parsers.js';

/** The families of socket hooks, best first: probes/hooks.ts tries them in this order. */
export const HOOK_FAMILIES = ['tp_btf', 'raw_tp', 'kprobe'] as const;
export type HookFamily = (typeof HOOK_FAMILIES)[number];
export const ROLLUPS = ['flow', 'pod', 'workload', 'namespace', 'node'] as const;
export type RollupLevel = (typeof ROLLUPS)[number];
export const BUCKET_SPACINGS = ['fine', 'medium', 'coarse', 'sparse', 'none'] as const;
export type BucketSpacing = (typeof BUCKET_SPACINGS)[number];
export const CONN_LOG_GROUPS = ['core', 'rtt', 'window', 'mptcp'] as const;
export type ConnLogGroup = (typeof CONN_LOG_GROUPS)[number];

export interface Option<T> {
  readonly kind: 'option';
  readonly parser: P.Parser<T>;
  readonly default: T;
  /** one line for --help and the README */
  readonly doc: string;
  /** key in the config file (default: the property name) */
  readonly file?: string;
  /** --flag, its one-letter -f, the placeholder of its argument */
  readonly flag?: string;
  readonly short?: string;
  readonly arg?: string;
  /** a flag without argument that sets this value (--no-sockets sets false), and what it does */
  readonly sets?: T;
  readonly flagDoc?: string;
  /** the flag repeats, each time one more element */
  readonly repeat?: boolean;
  /** the default as --help and README show it, where the value does not say it well */
  readonly shown?: string;
}

export interface Group<S extends Tree> {
  readonly kind: 'group';
  readonly doc: string;
  readonly options: S;
}

export type Tree = { readonly [key: string]: Option<unknown> | Group<Tree> };

/** The values a tree of options holds. */
export type ValuesOf<S extends Tree> = { -readonly [K in keyof S]: S[K] extends Option<infer V> ? V : S[K] extends Group<infer G> ? ValuesOf<G> : never };

function opt<T>(parser: P.Parser<T>, value: NoInfer<T>, doc: string, more: Omit<Option<T>, 'kind' | 'parser' | 'default' | 'doc'> = {}): Option<T> {
  return { kind: 'option', parser, default: value, doc, ...more };
}

function group<const S extends Tree>(doc: string, options: S): Group<S> {
  return { kind: 'group', doc, options };
}

export const OPTIONS = {
  interfaces: opt(P.interfaces(), [] as string[], 'interface names or globs to attach to (veth*, eth[01])', { flag: 'interface', short: 'i', arg: 'NAME', repeat: true }),
  listen: opt(P.listen(), { host: '0.0.0.0', port: 9983 }, 'address for /metrics, /healthz, /readyz', { flag: 'listen', short: 'l', arg: 'HOST:PORT' }),
  logLevel: opt(P.choice(LogLevels), 'info', 'debug, info, warn or error', { flag: 'log-level', arg: 'LEVEL' }),
  intervalMs: opt(P.duration(100), 5000, 'how often the kernel tables are read into series', { file: 'interval', flag: 'interval', arg: 'DURATION' }),
  flowTableSize: opt(P.integer(64, 4_194_304), 32768, 'kernel flow table entries (preallocated: 1,040 B each); when full, new flows are not tracked (counted)', { flag: 'flow-table-size', arg: 'N' }),
  maxSeries: opt(P.integer(1, 1_000_000), 2000, 'series before new ones fold into the overflow series', { flag: 'max-series', arg: 'N' }),
  ingressHook: opt(P.choice(['tc', 'xdp']), 'tc', 'ingress hook: tc (keeps GRO/TSO intact) or xdp', { flag: 'ingress-hook', arg: 'HOOK' }),
  xdpMode: opt(P.choice(['auto', 'native', 'generic']), 'auto', 'XDP attach mode: auto, native or generic', { flag: 'xdp-mode', arg: 'MODE' }),
  tcAttach: opt(P.choice(['auto', 'tcx', 'clsact']), 'auto', 'TC attach: auto (tcx where the kernel has it, else clsact), tcx or clsact', { flag: 'tc-attach', arg: 'MODE' }),
  rtt: group('passive RTT from TCP timestamps', {
    rateLimitMs: opt(P.duration(), 0, 'minimum gap between two RTT timestamps of one flow and side', { file: 'rateLimit', flag: 'rtt-rate-limit', arg: 'D' }),
    timeoutMs: opt(P.duration(1), 10_000, 'a timestamp not echoed within this time is dropped', { file: 'timeout' }),
    minRttWindowMs: opt(P.duration(1000), 30_000, 'min RTT window (tcpulse_min_rtt_seconds covers one to two)', { file: 'minRttWindow', flag: 'min-rtt-window', arg: 'D' }),
    localSide: opt(P.bool(), false, 'also export tcpulse_local_rtt_seconds: interface to the local endpoint and back'),
  }),
  histograms: group('buckets of the classic (text) histograms, a subset of the kernel\'s; each bound is a line of /metrics per series. Native histograms (protobuf scrapes, OTLP) carry every kernel bucket that holds samples, whatever this says', {
    rtt: opt(P.choice(BUCKET_SPACINGS), 'sparse', 'tcpulse_rtt_seconds, tcpulse_local_rtt_seconds: fine (99 bounds, 2^(k/4) s from 1.6 µs to 38 s), medium (37: 2^(k/2)), coarse (19: 2^k), sparse (10: 4^k from 15 µs to 4 s), none (sum and count)', { flag: 'rtt-buckets', arg: 'S' }),
    srtt: opt(P.choice(BUCKET_SPACINGS), 'none', 'tcpulse_srtt_seconds, the same choices (none: sum and count, the mean of a value that is a moving average already)', { flag: 'srtt-buckets', arg: 'S' }),
    cwnd: opt(P.choice(BUCKET_SPACINGS), 'none', 'tcpulse_cwnd_segments, the same choices (sparse: 8 bounds, 4^k from 4 to 65,536 segments)', { flag: 'cwnd-buckets', arg: 'S' }),
  }),
  flowIdleTimeoutMs: opt(P.duration(), 300_000, 'a flow without packets for this long leaves the flow table', { file: 'flowIdleTimeout' }),
  flowClosedTimeoutMs: opt(P.duration(), 10_000, 'a closed flow (FIN both ways, or RST) leaves the table after this long idle', { file: 'flowClosedTimeout' }),
  seriesIdleTimeoutMs: opt(P.duration(), 600_000, 'a series without flows for this long is no longer exported', { file: 'seriesIdleTimeout' }),
  bpfDir: opt(P.path('directory'), join(projectRoot, 'bpf'), 'directory of the compiled BPF objects', { shown: '<package>/bpf' }),
  bpfStats: opt(P.bool(), true, 'per-program run counts and run time (two clock reads per run; needs CAP_SYS_ADMIN)'),
  sockets: group('signals of the node’s own sockets, from the kernel’s TCP tracepoints', {
    enabled: opt(P.bool(), true, 'srtt, cwnd, retransmits, lifecycle and MPTCP of sockets on this node', { flag: 'no-sockets', sets: false, flagDoc: 'packet path only: no socket signals' }),
    tableSize: opt(P.integer(64, 4_194_304), 32768, 'kernel socket table entries (preallocated: 200 B each, 1 KB when srtt or cwnd buckets are exported); when full, new sockets are not tracked (counted)'),
    hooks: opt(P.choices(HOOK_FAMILIES, { minItems: 1 }), [...HOOK_FAMILIES], 'hook families to try, best first'),
    sampleIntervalMs: opt(P.duration(), 1, 'minimum gap between two srtt/cwnd samples of one socket (0: every tcp_probe)', { file: 'sampleInterval' }),
  }),
  kubernetes: group('pod, workload and namespace labels from the Kubernetes API', {
    enabled: opt(P.bool(), false, 'label series by pod (the node from $NODE_NAME)', { flag: 'kubernetes', sets: true }),
    nodeName: opt(P.string(), '', 'this node; empty: $NODE_NAME'),
    apiServer: opt(P.string({ url: true }), '', 'API server URL; empty: in-cluster, else $KUBECONFIG'),
    rollup: opt(P.choice(ROLLUPS), 'pod', 'series labels: flow, pod, workload, namespace or node', { flag: 'rollup', arg: 'LEVEL' }),
    deletedPodGraceMs: opt(P.duration(), 300_000, 'how long a deleted pod keeps its IP and series', { file: 'deletedPodGrace' }),
    peerPrefixV4: opt(P.integer(0, 32), 24, 'prefix length naming an IPv4 peer that is no known pod'),
    peerPrefixV6: opt(P.integer(0, 128), 64, 'prefix length naming an IPv6 peer that is no known pod'),
  }),
  otlp: group('OpenTelemetry export (metrics, and one span per finished connection)', {
    endpoint: opt(P.string({ url: true }), '', 'OTLP endpoint; empty: $OTEL_EXPORTER_OTLP_ENDPOINT, off when unset', { flag: 'otlp-endpoint', arg: 'URL' }),
    protocol: opt(P.choice(['', 'http/protobuf', 'grpc']), '', 'http/protobuf or grpc; empty: $OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf'),
    metricsIntervalMs: opt(P.duration(), 15_000, 'how often metrics are exported', { file: 'metricsInterval' }),
    spans: opt(P.bool(), true, 'one span per finished connection'),
    spanRatio: opt(P.ratio(), 1, 'fraction of ordinary connections kept as spans'),
    spanMinRttAboveMs: opt(P.duration(), 0, 'always keep connections slower than this (0: off)', { file: 'spanMinRttAbove' }),
    spanQueueSize: opt(P.integer(1, 1_000_000), 4096, 'spans waiting for export at most; more are dropped and counted'),
  }),
  qlog: group('one qlog file per traced connection', {
    dir: opt(P.path('directory', true), null, 'one qlog file per traced connection, in this directory (which: the other qlog keys); null: off', { flag: 'qlog-dir', arg: 'DIR' }),
    addresses: opt(P.strings(), [] as string[], 'trace connections with an end in these addresses or CIDRs (empty: all)'),
    ports: opt(P.ports(), [] as number[], 'trace connections with an end on these ports (empty: all)'),
    pods: opt(P.strings(), [] as string[], 'trace connections of these pods, "namespace/name" or "namespace/*" (empty: all)'),
    maxConnections: opt(P.integer(1, 10_000), 16, 'files open at once; more connections are not traced'),
    maxEventsPerConnection: opt(P.integer(10, 100_000_000), 100_000, 'events per file, then it says what was cut'),
  }),
  connectionLog: group('one JSON line per finished connection', {
    path: opt(P.path('file path', true), null, 'one JSON line per finished connection, into this file; null: off', { flag: 'connection-log', arg: 'FILE' }),
    groups: opt(P.choices(CONN_LOG_GROUPS), [...CONN_LOG_GROUPS], 'field groups: core, rtt, window, mptcp', { flag: 'connection-log-fields', arg: 'G' }),
  }),
} as const satisfies Tree;

export type Config = ValuesOf<typeof OPTIONS>;

/** Each option with its place: the Config path, the file path, the flag. */
export interface Placed {
  /** property names from the root: ['rtt', 'minRttWindowMs'] */
  key: string[];
  /** config file keys from the root: ['rtt', 'minRttWindow'] */
  file: string[];
  option: Option<unknown>;
}

export function placed(tree: Tree = OPTIONS, key: string[] = [], file: string[] = []): Placed[] {
  return Object.entries(tree).flatMap(([name, o]): Placed[] =>
    o.kind === 'group' ? placed(o.options, [...key, name], [...file, name]) : [{ key: [...key, name], file: [...file, o.file ?? name], option: o }],
  );
}

function valuesOf(tree: Tree): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tree).map(([k, o]) => [k, o.kind === 'group' ? valuesOf(o.options) : structuredClone(o.default)]));
}

/** A fresh copy of the defaults. */
export function defaultConfig(): Config {
  return valuesOf(OPTIONS) as Config;
}
