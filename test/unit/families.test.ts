/**
 * The metric-family table (src/export/families.ts) and what is made from
 * it, on a snapshot with every part present: names follow the Prometheus
 * conventions, each agent family's samples carry exactly the labels it
 * declares, and /metrics has every family once, with its type and help.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SOCK_STAT_NAMES, STAT_NAMES } from '../../src/bpf/layout.js';
import { Series } from '../../src/flows/series.js';
import { AGENT_FAMILIES, FAMILIES, SCRAPE_FAMILY, type AgentFamily } from '../../src/export/families.js';
import { PrometheusExporter } from '../../src/export/prometheus.js';
import type { Snapshot } from '../../src/export/snapshot.js';

const counts = <N extends string>(names: readonly N[]) => Object.fromEntries(names.map((n, i) => [n, 100 + i])) as Record<N, number>;

/** A snapshot with one series and every optional part of the agent present. */
function fullSnapshot(): Snapshot {
  const s = new Series('x', { local_address: '10.0.0.1', peer_address: '10.0.0.2', server_port: '80' }, 0);
  s.hasFlows = s.hasSockets = true;
  s.opened = 1;
  return {
    timeNs: 1,
    series: [s.view()],
    kernel: counts(STAT_NAMES),
    sockKernel: counts(SOCK_STAT_NAMES),
    tables: [{ table: 'flows', entries: 1, capacity: 8, bytes: 800, created: 3, deleted: 1, untracked: 1 }],
    overflowTotal: 0,
    roundSeconds: 0.001,
    roundErrors: 0,
    sources: [{ source: 'flows', seconds: 0.001, ok: true }],
    probes: [{ probe: 'tcp_probe', hook: 'tp_btf', available: true }],
    interfaces: [{ name: 'veth0', links: ['tcx ingress'] }],
    flowEvents: { opened: 1 },
    connectionLogRecords: 0,
    interfaceEvents: { attached: 1, detached: 0, failed: 0 },
    otlp: { metricExports: { ok: 1, failed: 0 }, spans: { exported: 1, failed: 0, dropped: 0, sampledOut: 0, kept: {} } },
    qlog: { connections: 1, refused: 0, open: 1, unmatchedSocketRecords: 0, socketsReleased: 0 },
    programs: [{ name: 'tcpulse_tc_in', runCnt: 1, runTimeNs: 10 }],
    kubernetes: { pods: 1, watches: [{ kind: 'pods', stats: { lists: 1, watches: 1, expired: 0, errors: 0, synced: true } }] },
    build: { version: '0.0.0', kernel: '6.18.0', bpfObjects: 'current' },
  };
}

describe('metric families', () => {
  it('have unique names under tcpulse_, counters ending in _total, units in the name', () => {
    const names = [...FAMILIES.map((f) => f.name), SCRAPE_FAMILY.name];
    assert.equal(new Set(names).size, names.length, 'a name twice');
    for (const f of FAMILIES) {
      assert.match(f.name, /^tcpulse_[a-z0-9_]+$/);
      assert.equal(f.name.endsWith('_total'), f.kind === 'counter', `${f.name}: _total for counters and only them`);
      if (f.unit === 's') assert.match(f.name, /_seconds(_total)?$/, f.name);
      if (f.unit === 'By') assert.match(f.name, /_bytes(_total)?$/, f.name);
      assert.match(f.help, /^[A-Z].*\.$/, `${f.name}: help is a sentence`);
    }
    const otel = FAMILIES.flatMap((f) => (f.otel ? [f.otel] : []));
    assert.equal(new Set(otel).size, otel.length, 'an OTel name twice');
  });

  it('give every agent family samples with exactly the labels it declares', () => {
    const snap = fullSnapshot();
    for (const f of AGENT_FAMILIES as readonly AgentFamily[]) {
      const values = f.values(snap);
      assert.ok(values.length > 0, `${f.name}: no sample from a full snapshot`);
      for (const [labels] of values) assert.deepEqual(Object.keys(labels).sort(), [...(f.labelNames ?? [])].sort(), f.name);
    }
  });

  it('are each in /metrics once, with their type and help', async () => {
    const prom = new PrometheusExporter({ localRtt: true, histograms: { rtt: 'coarse', srtt: 'sparse', cwnd: 'none' } });
    prom.update(fullSnapshot());
    const text = (await prom.render()).toString();
    for (const f of [...FAMILIES, SCRAPE_FAMILY]) {
      assert.equal(text.split(`\n# TYPE ${f.name} ${f.kind}\n`).length, 2, `${f.name}: one TYPE line`);
      assert.ok(text.includes(`# HELP ${f.name} ${f.help}\n`), `${f.name}: help`);
    }
    assert.match(text, /^tcpulse_connections_opened_total\{local_address="10\.0\.0\.1",peer_address="10\.0\.0\.2",server_port="80"\} 1$/m);
    assert.match(text, /^tcpulse_build_info\{version="0\.0\.0",kernel="6\.18\.0",bpf_objects="current"\} 1$/m);
  });
});
