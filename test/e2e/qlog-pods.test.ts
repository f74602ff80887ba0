/**
 * qlog with a pods filter on a Kubernetes node in miniature (pods in
 * namespaces behind veths, a fake API server): connections of the selected
 * pods are traced, others not, a pod that appears later is picked up, and
 * a connection between two pods on the node, seen at both pods' veths, is
 * one file recorded at one interface.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { sleep, until, type Running } from '../helpers/exec.js';
import { mapEntries } from '../helpers/held.js';
import { KubeApiServer, pod } from '../fakes/kubeapi/index.js';
import { NodeLab, type PodNet } from '../helpers/node.js';
import { one } from '../helpers/prom.js';
import { hasFlags, named, readQlogDir, type Qlog } from '../helpers/qlog.js';
import { sendBytes, startSink } from '../helpers/tcp.js';

describe('qlog: pods filter (Kubernetes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-qlog-pods-'));
  const out = join(dir, 'out');
  let node: NodeLab;
  let api: KubeApiServer;
  let agent: AgentProc | null = null;
  let pods: Record<'web' | 'db' | 'cache' | 'job', PodNet>;
  const procs: Running[] = [];
  let files: Qlog[] = [];
  let cleanStops = -1;

  before(async () => {
    node = await NodeLab.create();
    api = new KubeApiServer({ host: node.apiRootIp });
    await api.start();
    pods = { web: await node.addPod('web'), db: await node.addPod('db'), cache: await node.addPod('cache'), job: await node.addPod('job') };
    for (const [name, p] of [['web-1', pods.web], ['db-0', pods.db], ['cache-0', pods.cache]] as const) {
      api.add('pods', pod({ namespace: 'shop', name, ip: p.ip, nodeName: 'node-1' }));
    }
    const cfg = join(dir, 'tcpulse.yaml');
    writeFileSync(cfg, JSON.stringify({
      interfaces: [node.vethGlob],
      interval: '300ms',
      kubernetes: { enabled: true, nodeName: 'node-1', apiServer: api.url },
      qlog: { pods: ['shop/db-0', 'batch/*'] },
    }));
    agent = await AgentProc.start(node.ctl, node.ns, ['--config', cfg, '--qlog-dir', out]);
    const deadline = Date.now() + 8000;
    while (one(await agent.scrape(), 'tcpulse_kubernetes_synced', { resource: 'pods' }) !== 1) {
      if (Date.now() > deadline) throw new Error('pods not listed');
      await sleep(100);
    }
    const filtered = async (n: number) => until(`${n} pod addresses in the kernel's qlog filter`, async () => (await mapEntries(agent!.proc.proc.pid!, 'qlog_addrs')).length === n);
    await filtered(1); // shop/db-0; batch/* has no pod yet
    for (const [p, port] of [[pods.db, 5432], [pods.cache, 6379], [pods.job, 8080]] as const) procs.push(await startSink(node.ctl, p.ns, port));
    const talk = async (to: PodNet, port: number) => {
      const c = await sendBytes(node.ctl, pods.web.ns, to.ip, port, 100_000);
      await sleep(200);
      await c.stop();
    };
    await Promise.all([talk(pods.db, 5432), talk(pods.cache, 6379), talk(pods.job, 8080)]); // the job pod is not known yet
    api.add('pods', pod({ namespace: 'batch', name: 'job-7', ip: pods.job.ip, nodeName: 'node-1' }));
    await filtered(2); // the watch event, then the filter follows the pod index
    await talk(pods.job, 8080);
    await sleep(300);
    await agent.stop();
    const stopped = agent.proc.stderr().split('\n').filter((l) => l.includes('"qlog stopped"'));
    cleanStops = stopped.length;
    files = readQlogDir(out);
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await agent?.stop('SIGKILL');
    await api?.stop();
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('traces the selected pods only, and a selected pod that appeared later', () => {
    assert.equal(cleanStops, 1, 'the agent stopped cleanly');
    const servers = files.map((q) => `${named(q, 'connectivity:connection_started')[0]!.data.dst_ip}:${named(q, 'connectivity:connection_started')[0]!.data.dst_port}`);
    assert.deepEqual(servers.sort(), [`${pods.db.ip}:5432`, `${pods.job.ip}:8080`].sort(), files.map((f) => f.file).join('\n'));
  });

  it('a pod-to-pod connection seen at two veths is one file with each packet once', () => {
    const q = files.find((f) => named(f, 'connectivity:connection_started')[0]!.data.dst_port === 5432)!;
    const started = named(q, 'connectivity:connection_started')[0]!;
    assert.deepEqual([started.data.src_ip, started.data.dst_ip], [pods.web.ip, pods.db.ip]);
    assert.equal(named(q, 'transport:packet_sent').filter((e) => hasFlags(e, 'SYN')).length, 1);
    assert.equal(named(q, 'transport:packet_received').filter((e) => hasFlags(e, 'SYN', 'ACK')).length, 1);
    const bytes = named(q, 'transport:packet_sent').reduce((a, e) => a + e.data.raw.payload_length, 0);
    assert.ok(bytes >= 100_000 && bytes < 102_000, `payload sent ${bytes}`);
    const sides = new Set(named(q, 'connectivity:connection_state_updated').map((e) => e.data.side));
    assert.deepEqual([...sides].sort(), ['client', 'server'], 'both pods\' sockets, in their own network namespaces');
  });
});
