/**
 * The agent on a Kubernetes node in miniature: pods in network namespaces
 * behind veths a node namespace forwards between, a fake API server that
 * speaks list/watch, real TCP between the pods. Series carry pod labels
 * from the pod's side; interfaces come and go; the API server fails in the
 * ways real ones do.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { sleep, until, type Running } from '../helpers/exec.js';
import { pod, type KubeApiServer } from '../fakes/kubeapi/index.js';
import { shopNode, WEB_POD, type Shop } from '../helpers/shop.js';
import type { NodeLab} from '../helpers/node.js';
import type { PodNet } from '../helpers/node.js';
import { one, pick, type Sample } from '../helpers/prom.js';
import { sendBytes, startSink } from '../helpers/tcp.js';


describe('agent on a Kubernetes node', () => {
  let node: NodeLab;
  let api: KubeApiServer;
  let agent: AgentProc;
  let web: PodNet;
  let db: PodNet;
  const procs: Running[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-k8s-'));
  const WEB = WEB_POD;
  let shop: Shop | undefined;
  const webLabels = { namespace: 'shop', pod: WEB, workload: 'deployment/web' };
  const dbLabels = { namespace: 'shop', pod: 'db-0', workload: 'statefulset/db' };
  const peer = (l: typeof webLabels) => ({ peer_namespace: l.namespace, peer_pod: l.pod, peer_workload: l.workload, peer_address: '' });
  const scrape = () => agent.scrape();

  before(async () => {
    shop = await shopNode();
    ({ node, api, web, db } = shop);
    api.add('pods', pod({ namespace: 'kube-system', name: 'kube-proxy-abcde', ip: web.gateway, nodeName: 'node-1', hostNetwork: true }));
    const cfg = join(dir, 'tcpulse.yaml');
    writeFileSync(
      cfg,
      [
        `interfaces: ["${node.vethGlob}"]`,
        'interval: 300ms',
        'kubernetes:',
        '  enabled: true',
        '  nodeName: node-1',
        `  apiServer: ${api.url}`,
        '  deletedPodGrace: 1s',
      ].join('\n'),
    );
    agent = await AgentProc.start(node.ctl, node.ns, ['--config', cfg]);
    await until('pods listed', async () => one(await scrape(), 'tcpulse_kubernetes_synced', { resource: 'pods' }) === 1);
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await agent?.stop('SIGKILL');
    await shop?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('labels flows and sockets by pod, seen from each pod', async () => {
    const n = 1_000_000;
    procs.push(await startSink(node.ctl, db.ns, 5432));
    procs.push(await sendBytes(node.ctl, web.ns, db.ip, 5432, n));
    const fromWeb = { ...webLabels, ...peer(dbLabels), server_port: '5432' };
    const fromDb = { ...dbLabels, ...peer(webLabels), server_port: '5432' };
    const m = await agent.scrapeUntil('both sides labelled', (s) =>
      (pick(s, 'tcpulse_bytes_total', { ...fromDb, direction: 'ingress' })[0]?.value ?? 0) > n &&
      (pick(s, 'tcpulse_srtt_seconds_count', fromWeb)[0]?.value ?? 0) > 0 &&
      pick(s, 'tcpulse_connections_opened_total', fromDb).length > 0);
    // packet path: web's veth shows what web sent as its egress, db's veth what db received
    assert.ok(one(m, 'tcpulse_bytes_total', { ...fromWeb, direction: 'egress' }) > n);
    assert.ok(one(m, 'tcpulse_bytes_total', { ...fromDb, direction: 'ingress' }) > n);
    assert.ok(one(m, 'tcpulse_rtt_seconds_count', fromWeb) > 0, 'RTT measured from web toward db');
    // socket path: each socket's own end is local
    assert.equal(one(m, 'tcpulse_connections_opened_total', fromWeb), 1);
    assert.equal(one(m, 'tcpulse_connections_opened_total', fromDb), 1);
    assert.ok(one(m, 'tcpulse_srtt_seconds_count', fromWeb) > 0);
  });

  it('names a peer that is no pod (a host-network pod shares the node IP) by its range', async () => {
    procs.push(await startSink(node.ctl, node.ns, 7000));
    procs.push(await sendBytes(node.ctl, web.ns, web.gateway, 7000, 10_000));
    const range = web.gateway.replace(/\.\d+$/, '.0/24');
    const labels = { ...webLabels, peer_namespace: '', peer_pod: '', peer_workload: '', peer_address: range, server_port: '7000' };
    const m = await agent.scrapeUntil('the flow to the node', (s) => (pick(s, 'tcpulse_bytes_total', { ...labels, direction: 'egress' })[0]?.value ?? 0) > 10_000);
    assert.ok(one(m, 'tcpulse_bytes_total', { ...labels, direction: 'egress' }) > 10_000);
    assert.deepEqual(pick(m, 'tcpulse_bytes_total', { peer_pod: 'kube-proxy-abcde' }), [], 'never the host-network pod');
  });

  it('attaches to pod veths as they come and lets go as they leave', async () => {
    const changes = async (event: string) => one(await scrape(), 'tcpulse_interface_changes_total', { event });
    const attached0 = await changes('attached');
    const detached0 = await changes('detached');
    const extra = await node.addPod('extra');
    await until('attached', async () => pick(await scrape(), 'tcpulse_interface_attached', { interface: extra.veth }).length === 2);
    assert.equal(await changes('attached'), attached0 + 1);
    await node.removePod('extra');
    await until('detached', async () => pick(await scrape(), 'tcpulse_interface_attached', { interface: extra.veth }).length === 0);
    assert.equal(await changes('detached'), detached0 + 1);
    assert.match(agent.proc.stderr(), new RegExp(`"msg":"detached","interface":"${extra.veth}"`));
  });

  it('keeps labelling while the API server is down, backs off, and resumes', async () => {
    const errors0 = one(await scrape(), 'tcpulse_kubernetes_errors_total', { resource: 'pods' });
    await api.setDown(true);
    const t0 = performance.now();
    await sleep(3500);
    const during = api.requests.filter((r) => r.time > t0 && r.kind === 'pods').length;
    assert.ok(during <= 5, `requests for pods while down: ${during} (backoff)`);
    const m = await scrape();
    assert.ok(one(m, 'tcpulse_kubernetes_errors_total', { resource: 'pods' }) > errors0);
    // what was known still labels new traffic
    procs.push(await sendBytes(node.ctl, web.ns, db.ip, 5432, 50_000));
    await agent.scrapeUntil('the new connection labelled', (s) => (pick(s, 'tcpulse_connections_opened_total', { ...webLabels, peer_pod: 'db-0', server_port: '5432' })[0]?.value ?? 0) >= 2);
    await api.setDown(false);
    await api.waitForWatches(1, 'pods', 40_000);
  });

  it('lists again when its resourceVersion has expired (410)', async () => {
    const before: Sample[] = await scrape();
    // the agent is cut off; meanwhile pods change and the server forgets that history
    await api.setDown(true);
    api.add('pods', pod({ namespace: 'shop', name: 'cache-0', ip: '10.250.0.9', nodeName: 'node-2' }));
    api.compact();
    await api.setDown(false);
    await until('relisted', async () => {
      const m = await scrape();
      return one(m, 'tcpulse_kubernetes_lists_total', { resource: 'pods' }) > one(before, 'tcpulse_kubernetes_lists_total', { resource: 'pods' });
    }, 15_000);
    const m = await scrape();
    assert.ok(one(m, 'tcpulse_kubernetes_watch_expired_total', { resource: 'pods' }) >= 1);
    const rvs = api.requestsOf('watch', 'pods').map((r) => r.query.resourceVersion);
    assert.ok(rvs.every(Boolean), 'every watch resumes from a resourceVersion');
  });

  it('drops the series of a deleted pod after its grace', async () => {
    assert.ok(pick(await scrape(), 'tcpulse_bytes_total', { peer_pod: 'db-0' }).length > 0);
    api.delete('pods', 'shop', 'db-0');
    await until('series gone', async () => {
      const m = await scrape();
      return pick(m, 'tcpulse_bytes_total', { peer_pod: 'db-0' }).length === 0 && pick(m, 'tcpulse_bytes_total', { pod: 'db-0' }).length === 0;
    }, 10_000);
    assert.equal(one(await scrape(), 'tcpulse_kubernetes_pods'), 3, 'web, cache-0 and kube-proxy remain');
  });
});
