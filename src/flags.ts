/**
 * The command line: flags over the config file over the defaults, each
 * value validated by the config's own parsers; --help and --version.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { applyRaw, defaults, obj, validate, type Config, type Raw } from './config.js';
import { ConfigError } from './errors.js';

export const usage = `Usage: tcpulse [options]

Measures every TCP flow on the given interfaces with eBPF (XDP/TC) and
serves Prometheus metrics.

Options:
  -i, --interface NAME      interface or glob to attach to (repeatable)
  -l, --listen HOST:PORT    address for /metrics, /healthz, /readyz [0.0.0.0:9983]
  -c, --config FILE         YAML config file; flags override it
      --log-level LEVEL     debug, info, warn, error [info]
      --interval DURATION   flow table read interval [5s]
      --flow-table-size N   kernel flow table entries [16384]
      --max-series N        series budget before the overflow series [2000]
      --ingress-hook HOOK   tc or xdp [tc]
      --xdp-mode MODE       auto, native or generic [auto]
      --tc-attach MODE      auto, tcx or clsact [auto]
      --rtt-rate-limit D    minimum gap between RTT timestamps per flow [0]
      --min-rtt-window D    min RTT window [30s]
      --rtt-buckets RES     exported RTT buckets: fine, medium, coarse [medium]
      --connection-log FILE one JSON line per finished connection
      --connection-log-fields G  field groups: core,rtt,window,mptcp [all]
      --no-sockets          packet path only: no socket signals
      --otlp-endpoint URL   export metrics and connection spans over OTLP
      --qlog-dir DIR        one qlog file per traced connection (filter: config qlog.*)
      --kubernetes          label series by pod (Kubernetes API; node from $NODE_NAME)
      --rollup LEVEL        with --kubernetes: flow, pod, workload, namespace, node [pod]
  -h, --help                this text
  -V, --version             the version

Durations: 250ms, 5s, 2m, 1h. Config file keys: see README.md.`;

export type CliResult = { kind: 'run'; config: Config } | { kind: 'help' } | { kind: 'version' };

/** argv without node and script. Throws ConfigError on any bad input. */
export function parseCli(argv: string[]): CliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        interface: { type: 'string', short: 'i', multiple: true },
        listen: { type: 'string', short: 'l' },
        config: { type: 'string', short: 'c' },
        'log-level': { type: 'string' },
        interval: { type: 'string' },
        'flow-table-size': { type: 'string' },
        'max-series': { type: 'string' },
        'ingress-hook': { type: 'string' },
        'xdp-mode': { type: 'string' },
        'tc-attach': { type: 'string' },
        'rtt-rate-limit': { type: 'string' },
        'min-rtt-window': { type: 'string' },
        'rtt-buckets': { type: 'string' },
        'connection-log': { type: 'string' },
        'connection-log-fields': { type: 'string' },
        'no-sockets': { type: 'boolean' },
        kubernetes: { type: 'boolean' },
        'otlp-endpoint': { type: 'string' },
        'qlog-dir': { type: 'string' },
        rollup: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (err) {
    throw new ConfigError((err as Error).message.split('\n')[0]!);
  }
  const v = parsed.values;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };

  let config = defaults;
  if (v.config !== undefined) {
    let text: string;
    try {
      text = readFileSync(v.config, 'utf8');
    } catch (err) {
      throw new ConfigError(`--config ${v.config}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = YAML.parse(text);
    } catch (err) {
      throw new ConfigError(`--config ${v.config}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    config = applyRaw(config, obj(`--config ${v.config}`, doc), `${v.config}: `);
  }

  const flags: Raw = {};
  const rtt: Raw = {};
  if (v.interface) flags.interfaces = v.interface;
  if (v.listen !== undefined) flags.listen = v.listen;
  if (v['log-level'] !== undefined) flags.logLevel = v['log-level'];
  if (v.interval !== undefined) flags.interval = v.interval;
  if (v['flow-table-size'] !== undefined) flags.flowTableSize = v['flow-table-size'];
  if (v['max-series'] !== undefined) flags.maxSeries = v['max-series'];
  if (v['ingress-hook'] !== undefined) flags.ingressHook = v['ingress-hook'];
  if (v['xdp-mode'] !== undefined) flags.xdpMode = v['xdp-mode'];
  if (v['tc-attach'] !== undefined) flags.tcAttach = v['tc-attach'];
  if (v['rtt-rate-limit'] !== undefined) rtt.rateLimit = v['rtt-rate-limit'];
  if (v['min-rtt-window'] !== undefined) rtt.minRttWindow = v['min-rtt-window'];
  if (v['rtt-buckets'] !== undefined) rtt.buckets = v['rtt-buckets'];
  if (Object.keys(rtt).length) flags.rtt = { ...rtt };
  const connLog: Raw = {};
  if (v['connection-log'] !== undefined) connLog.path = v['connection-log'];
  if (v['connection-log-fields'] !== undefined) connLog.groups = v['connection-log-fields'];
  if (Object.keys(connLog).length) flags.connectionLog = connLog;
  if (v['no-sockets']) flags.sockets = { enabled: false };
  const k8s: Raw = {};
  if (v.kubernetes) k8s.enabled = true;
  if (v.rollup !== undefined) k8s.rollup = v.rollup;
  if (Object.keys(k8s).length) flags.kubernetes = k8s;
  if (v['otlp-endpoint'] !== undefined) flags.otlp = { endpoint: v['otlp-endpoint'] };
  if (v['qlog-dir'] !== undefined) flags.qlog = { dir: v['qlog-dir'] };
  // flag errors name the flag, not the config key
  try {
    config = applyRaw(config, flags, '');
  } catch (err) {
    throw new ConfigError('--' + (err as Error).message.replace(/^(\w+)(?:\.(\w+))?/, (_m, a: string, b?: string) => flagName(b ?? a)));
  }
  return { kind: 'run', config: validate(config) };
}

function flagName(key: string): string {
  const map: Record<string, string> = {
    interfaces: 'interface', logLevel: 'log-level', flowTableSize: 'flow-table-size', maxSeries: 'max-series',
    ingressHook: 'ingress-hook', xdpMode: 'xdp-mode', tcAttach: 'tc-attach', rateLimit: 'rtt-rate-limit',
    minRttWindow: 'min-rtt-window', buckets: 'rtt-buckets', path: 'connection-log', groups: 'connection-log-fields',
    endpoint: 'otlp-endpoint', dir: 'qlog-dir',
  };
  return map[key] ?? key;
}
