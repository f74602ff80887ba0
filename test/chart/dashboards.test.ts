/**
 * The Grafana dashboards (dashboards/*.json) as shipped and as used: the
 * chart carries each one as a ConfigMap for the Grafana sidecar, and every
 * panel query returns data from a REAL Prometheus scraping a REAL agent
 * while real traffic runs (test/unit/dashboards.test.ts checks generation
 * and structure).
 *
 * Scenario: a Kubernetes node in miniature (NodeLab: pods in namespaces
 * behind veths, the fake API server), the agent with Kubernetes (rollup
 * pod), bpf_stats and OTLP export (to a stub receiver), Prometheus in the
 * node namespace scraping it every second with the target label
 * node="node-1" and evaluating the alert rules, and a second one doing the
 * same with native histograms on (the protobuf exposition: the kernel
 * histograms are native ones there), so that every panel and rule is
 * proven in both modes. Traffic from pod web to pod
 * db: an iperf3 stream with 5 % of its data segments dropped (real
 * retransmissions), bursts of short connections closed by FIN and by RST,
 * and MPTCP connections (one held, others opened and closed in a loop).
 * dashboards-mptcp.test.ts covers two-subflow MPTCP without Kubernetes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { AGENT_PORT, AgentProc } from '../helpers/agent.js';
import { attachDropper, type Dropper } from '../helpers/drop.js';
import { run, sleep, start, waitForOutput, type Running } from '../helpers/exec.js';
import { DASHBOARD_FILES, describeEmpty, emptyPanels, loadDashboards, resolveVariables, type DashboardJson } from '../helpers/grafana.js';
import { helmTemplate, type Manifest } from '../helpers/helm.js';
import type { KubeApiServer } from '../fakes/kubeapi/index.js';
import { shopNode, WEB_POD, type Shop } from '../helpers/shop.js';
import type { NodeLab} from '../helpers/node.js';
import type { PodNet } from '../helpers/node.js';
import { PrometheusProc, type PromRule } from '../helpers/prometheus.js';
import { missing } from '../helpers/features.js';
import { listening } from '../helpers/ss.js';
import { burst, startSink } from '../helpers/tcp.js';

describe('dashboards in the chart', () => {
  it('the Helm chart ships each dashboard as a ConfigMap labelled for the Grafana sidecar', async () => {
    const boards = (docs: Manifest[]) => docs.filter((d) => d.kind === 'ConfigMap' && Object.keys(d.data ?? {}).some((k) => k.endsWith('.json')));
    const shipped = boards(await helmTemplate());
    assert.deepEqual(shipped.map((c) => Object.keys(c.data)).flat().sort(), [...DASHBOARD_FILES].sort());
    for (const c of shipped) {
      assert.equal(c.metadata.labels!.grafana_dashboard, '1');
      const [file, json] = Object.entries(c.data as Record<string, string>)[0]!;
      assert.equal(json + '\n', readFileSync(join(projectRoot, 'dashboards', file), 'utf8'), `${c.metadata.name}: ${file} as generated`);
    }
    assert.deepEqual(boards(await helmTemplate(['--set', 'dashboards.enabled=false'])), []);
    const custom = boards(await helmTemplate(['--set', 'dashboards.label=dashboards', '--set', 'dashboards.labelValue=tcpulse', '--set', 'dashboards.annotations.grafana_folder=Network']));
    assert.equal(custom.length, DASHBOARD_FILES.length);
    for (const c of custom) {
      assert.equal(c.metadata.labels!.dashboards, 'tcpulse');
      assert.equal(c.metadata.labels!.grafana_dashboard, undefined);
      assert.equal(c.metadata.annotations!.grafana_folder, 'Network');
    }
  });
});

// ---- the real thing ----

const serverPy = String.raw`
import socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(64)
def serve(c):
    while c.recv(65536): pass
    c.close()
print('listening', flush=True)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;
/** One MPTCP connection held open, and one every 300 ms opened, used and closed. */
const clientPy = String.raw`
import socket, sys, time
def conn():
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); c.connect((sys.argv[1], int(sys.argv[2]))); return c
held = conn(); held.sendall(b'x' * 100000)
print('ready', flush=True)
while True:
    c = conn(); c.sendall(b'y' * 50000); c.shutdown(socket.SHUT_WR)
    while c.recv(65536): pass
    c.close(); held.sendall(b'z' * 1000); time.sleep(0.3)
`;
/** A stub OTLP/HTTP receiver: 200 and an empty protobuf response to every export. */
const otlpJs = `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/x-protobuf'});s.end()})}).listen(4318,'127.0.0.1',()=>console.log('listening'))`;


// the scenario has MPTCP connections and injects loss (by tcx link)
describe('dashboards: every panel has data from a real Prometheus scraping a real agent (Kubernetes, pod rollup)', { skip: await missing('mptcp', 'tcx') }, () => {
  let node: NodeLab;
  let api: KubeApiServer;
  let agent: AgentProc;
  let prom: PrometheusProc;
  let promNative: PrometheusProc;
  /** both servers, by the histogram mode they scrape in */
  const modes = () => [['classic', prom], ['native', promNative]] as const;
  let dropper: Dropper | undefined;
  let web: PodNet;
  let db: PodNet;
  const procs: Running[] = [];
  const loops: Promise<void>[] = [];
  let running = true;
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-dash-'));
  const WEB = WEB_POD;
  let shop: Shop | undefined;

  before(async () => {
    shop = await shopNode();
    ({ node, api, web, db } = shop);
    const otlp = start(...node.ctl.argv(node.ns, process.execPath, ['-e', otlpJs]));
    procs.push(otlp);
    await waitForOutput(otlp, 'listening');
    const cfg = join(dir, 'tcpulse.yaml');
    writeFileSync(cfg, [
      `interfaces: ["${node.vethGlob}"]`, 'interval: 500ms',
      'kubernetes:', '  enabled: true', '  nodeName: node-1', `  apiServer: ${api.url}`,
      'otlp:', '  endpoint: http://127.0.0.1:4318', '  metricsInterval: 1s',
    ].join('\n'));
    agent = await AgentProc.start(node.ctl, node.ns, ['--config', cfg]);
    const scrape = { targets: [`127.0.0.1:${AGENT_PORT}`], labels: { node: 'node-1' }, ruleFiles: [join(projectRoot, 'deploy/prometheus/tcpulse-rules.yaml')] };
    prom = await PrometheusProc.start(node.ctl, node.ns, scrape);
    promNative = await PrometheusProc.start(node.ctl, node.ns, { ...scrape, nativeHistograms: true });

    // an iperf3 stream web -> db losing 5 % of its data segments on the way out of web
    dropper = await attachDropper(node.ctl, web.ns, 'eth0', 50_000, { port: 5201 });
    procs.push(start(...node.ctl.argv(db.ns, 'iperf3', ['-s', '-p', '5201'])));
    await listening(node.ctl, db.ns, 5201);
    procs.push(start(...node.ctl.argv(web.ns, 'iperf3', ['-c', db.ip, '-p', '5201', '-t', '600', '-b', '50M'])));
    // short connections web -> db, closed by FIN and by RST
    procs.push(await startSink(node.ctl, db.ns, 5432));
    loops.push((async () => {
      for (let i = 0; running; i++) {
        await burst(node.ctl, web.ns, db.ip, 20, [5432], { reset: i % 2 === 1 });
        await sleep(300);
      }
    })());
    // MPTCP web -> db (one subflow: each pod has one interface)
    const server = start(...node.ctl.argv(db.ns, 'python3', ['-u', '-c', serverPy, '6000']));
    procs.push(server);
    await waitForOutput(server, 'listening');
    const client = start(...node.ctl.argv(web.ns, 'python3', ['-u', '-c', clientPy, db.ip, '6000']));
    procs.push(client);
    await waitForOutput(client, 'ready');
  });

  after(async () => {
    running = false;
    await Promise.allSettled(loops);
    for (const p of procs) await p.stop('SIGKILL');
    dropper?.close();
    await prom?.stop();
    await promNative?.stop();
    await agent?.stop('SIGKILL');
    await shop?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both Prometheus servers scrape the agent with the node label', async () => {
    for (const [mode, p] of modes()) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const t = await p.targets();
        if (t.length === 1 && t[0]!.health === 'up') {
          assert.equal(t[0]!.labels.node, 'node-1');
          break;
        }
        if (Date.now() > deadline) assert.fail(`${mode}: target not up: ${JSON.stringify(t)}`);
        await sleep(500);
      }
    }
    // the native server holds the RTT histograms as native ones
    await promNative.waitFor('histogram_count(tcpulse_rtt_seconds)', 20_000);
    assert.deepEqual(await promNative.query('tcpulse_rtt_seconds_bucket'), []);
  });

  it('promtool check metrics reports nothing on a scrape with every family', async () => {
    const text = await agent.fetch('/metrics');
    for (const family of ['tcpulse_mptcp_subflows_open', 'tcpulse_kubernetes_synced', 'tcpulse_otlp_exports_total', 'tcpulse_retransmits_total']) {
      assert.match(text, new RegExp(`^${family}\\{`, 'm'), family);
    }
    const lint = await run('promtool', ['check', 'metrics'], { input: text, allowFail: true });
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    assert.equal(lint.stdout + lint.stderr, '');
  });

  it('every panel query of every dashboard returns data, with All and with one node, namespace and pod, in both histogram modes', async () => {
    const dashboards = loadDashboards();
    const settings = (d: DashboardJson): Record<string, string>[] =>
      d.uid === 'tcpulse-agent' ? [{}, { node: 'node-1' }] : [{}, { node: 'node-1', namespace: 'shop', pod: WEB }];
    // rates need a few scrapes of the traffic: wait until everything has data, then check once more
    const deadline = Date.now() + 90_000;
    let report = '';
    for (;;) {
      report = '';
      for (const [mode, p] of modes()) {
        for (const d of dashboards) {
          for (const chosen of settings(d)) {
            const { values, options } = await resolveVariables(p, d, chosen);
            if (d.uid !== 'tcpulse-agent') assert.ok(options.pod!.includes(WEB) && options.pod!.includes('db-0'), JSON.stringify(options));
            const empty = describeEmpty(await emptyPanels(p, d, values));
            if (empty) report += `${mode}:\n${empty}`;
          }
        }
      }
      if (!report || Date.now() > deadline) break;
      await sleep(2000);
    }
    assert.equal(report, '', `panels without data:\n${report}`);
  });

  it('real retransmissions show in the retransmit ratio of web toward db', async () => {
    const r = await prom.query(`sum(rate(tcpulse_retransmits_total{pod="${WEB}",server_port="5201"}[15s])) / sum(rate(tcpulse_packets_total{pod="${WEB}",server_port="5201",direction="egress"}[15s]))`);
    const ratio = Number(r[0]?.value[1]);
    assert.ok(ratio > 0.001 && ratio < 0.5, `ratio ${ratio}`);
  });

  it('the alert rules evaluate against the real series: loss and single-subflow MPTCP pending, the agent healthy', async () => {
    for (const [mode, p] of modes()) rulesHold(mode, await p.rules());
  });
});

/** The alert rules' state in the dashboards scenario: loss and single-subflow MPTCP pending, the rest inactive. */
function rulesHold(mode: string, rules: PromRule[]): void {
  assert.equal(rules.length, 8, mode);
  const web = { namespace: 'shop', workload: 'deployment/web' };
  const db = { namespace: 'shop', workload: 'statefulset/db' };
  const pair = (a: typeof web, b: typeof web, port: string) =>
    ({ namespace: a.namespace, workload: a.workload, peer_namespace: b.namespace, peer_workload: b.workload, server_port: port });
  const pending: Record<string, Record<string, string>[]> = {
    // the sender retransmits
    TcpulseRetransmitRatioHigh: [pair(web, db, '5201')],
    // both ends of each MPTCP connection see one subflow
    TcpulseMptcpSubflowFallback: [pair(web, db, '6000'), pair(db, web, '6000')],
  };
  const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort());
  for (const r of rules) {
    assert.equal(r.health, 'ok', `${mode} ${r.name}: ${r.lastError}`);
    const want = pending[r.name];
    if (want) {
      // pending, not firing: their "for" is 10 minutes
      assert.equal(r.state, 'pending', `${mode} ${r.name}: ${JSON.stringify(r.alerts)}`);
      const got = r.alerts!.map((a) => key(a.labels)).sort();
      assert.deepEqual(got, want.map((l) => key({ alertname: r.name, severity: 'warning', ...l })).sort());
    } else {
      assert.equal(r.state, 'inactive', `${mode} ${r.name}: ${JSON.stringify(r.alerts)}`);
    }
  }
}
