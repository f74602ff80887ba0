/**
 * The dashboards without Kubernetes, with two-subflow MPTCP: the agent on a
 * host with two paths to its peer (MptcpLab: namespace A, two veth pairs),
 * labels local_address/peer_address/server_port, a real Prometheus in A
 * scraping it with node="mptcp-node". The namespace and pod variables have
 * no values there and stay at All, and every panel still has data but the
 * Kubernetes and OTLP ones (off here); the MPTCP panels show the subflows
 * the kernel has (ss, both ends), two per connection, and the single-subflow
 * panel and alert follow what the connections really had.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { AGENT_PORT, AgentProc } from '../helpers/agent.js';
import { sleep } from '../helpers/exec.js';
import { describeEmpty, emptyPanels, expand, loadDashboards, panelQueries, resolveVariables } from '../helpers/grafana.js';
import { MptcpLab, type MptcpClient } from '../helpers/mptcp.js';
import { PrometheusProc } from '../helpers/prometheus.js';
import { missing } from '../helpers/features.js';

describe('dashboards without Kubernetes: two-subflow MPTCP through a real Prometheus', { skip: await missing('mptcp') }, () => {
  let lab: MptcpLab;
  let agent: AgentProc;
  let prom: PrometheusProc;
  let held: MptcpClient | undefined;
  let running = true;
  let loop: Promise<void> = Promise.resolve();
  /** subflows of each connection of the loop when it closed, as its client saw them */
  const closedSubflows: number[] = [];
  const PORT = 5702;

  /** The kernel's open MPTCP connections and their subflows on both ends, as the panel counts them. */
  const kernelView = async () => {
    let conns = 0;
    let subflows = 0;
    for (const ns of [lab.nsA, lab.nsB]) {
      conns += (await lab.msks(PORT, ns)).length;
      subflows += (await lab.subflows(PORT, ns)).length;
    }
    return `${conns} connections, ${subflows} subflows`;
  };

  before(async () => {
    lab = await MptcpLab.create('dash');
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA1, '--interface', lab.vethA2, '--interval', '500ms']);
    prom = await PrometheusProc.start(lab, lab.nsA, {
      targets: [`127.0.0.1:${AGENT_PORT}`], labels: { node: 'mptcp-node' }, ruleFiles: [join(projectRoot, 'deploy/prometheus/tcpulse-rules.yaml')],
    });
    await prom.waitFor('tcpulse_build_info');
    await lab.startServer(PORT);
    // one connection held open, with its join made (a busy machine may miss it: then another)
    for (let tries = 0; ; tries++) {
      held = await lab.open(PORT, 2_000_000, { holdMs: -1 });
      if ((await lab.subflows(PORT)).length === 2) break;
      await held.kill();
      if (tries === 4) throw new Error('no MPTCP connection with two subflows in five tries');
    }
    // connections opened, used over both subflows and closed, one after another
    loop = (async () => {
      while (running) {
        const last = await lab.connect(PORT, 500_000, { holdMs: 200 });
        closedSubflows.push(Math.max(last.subflows.length, last.info.subflows + 1));
      }
    })();
  });

  after(async () => {
    running = false;
    held?.release();
    await loop.catch(() => {});
    await prom?.stop();
    await agent?.stop('SIGKILL');
    await lab?.destroy();
  });

  it('every panel has data with All, except the Kubernetes and OTLP ones', async () => {
    const dashboards = loadDashboards();
    // (tcpulse_kubernetes_pods is there, at 0)
    const offHere = /tcpulse_(kubernetes_(?!pods)|otlp_)/;
    const expectedEmpty = dashboards.flatMap((d) => panelQueries(d).filter((q) => offHere.test(q.expr)).map((q) => `${q.dashboard} / ${q.panel} / ${q.refId}`));
    assert.ok(expectedEmpty.length >= 6);
    const deadline = Date.now() + 90_000;
    let unexpected = '';
    for (;;) {
      unexpected = '';
      for (const d of dashboards) {
        const { values, options } = await resolveVariables(prom, d);
        assert.deepEqual(options.node, ['mptcp-node']);
        if (options.namespace) assert.deepEqual([options.namespace, options.pod], [[], []], 'no Kubernetes: no namespaces or pods');
        const empty = await emptyPanels(prom, d, values);
        unexpected += describeEmpty(empty.filter((e) => !expectedEmpty.includes(`${e.dashboard} / ${e.panel} / ${e.refId}`)));
        if (!unexpected) {
          // the Kubernetes and OTLP panels are empty, not failing
          const names = empty.map((e) => `${e.dashboard} / ${e.panel} / ${e.refId}`);
          assert.deepEqual(names, expectedEmpty.filter((n) => n.startsWith(`${d.uid} /`)));
        }
      }
      if (!unexpected || Date.now() > deadline) break;
      await sleep(2000);
    }
    assert.equal(unexpected, '', `panels without data:\n${unexpected}`);
  });

  it('the MPTCP panels show the kernel\'s subflows, and single-subflow connections as they were', async () => {
    const [node] = loadDashboards();
    const { values } = await resolveVariables(prom, node!);
    const q = (title: string, ref = 'A') => {
      const pq = panelQueries(node!).find((x) => x.panel === title && x.refId === ref);
      assert.ok(pq, title);
      return prom.query(expand(pq.expr, values));
    };
    // the loop stops: the held connection stays, and the panels must come to show what the kernel has
    running = false;
    await loop;
    let open = '';
    let kernel = '';
    for (let i = 0; i < 40 && (open !== kernel || !open); i++) {
      const conns = Number((await q('Open MPTCP connections and subflows', 'A'))[0]!.value[1]);
      const subflows = Number((await q('Open MPTCP connections and subflows', 'B'))[0]!.value[1]);
      open = `${conns} connections, ${subflows} subflows`;
      kernel = await kernelView();
      if (open !== kernel) await sleep(500);
    }
    assert.equal(open, kernel, 'the panel against the kernel (ss -Mi, ss -ti in both namespaces)');
    assert.equal(open, '2 connections, 4 subflows', 'the held connection, both ends, two subflows each');
    // connections that closed: the histogram and the single-subflow panel follow what they had
    assert.ok(closedSubflows.length >= 3, `${closedSubflows.length} connections closed`);
    const single = closedSubflows.filter((n) => n < 2).length;
    const buckets = new Map((await q('Subflows per closed MPTCP connection')).map((s) => [s.metric.le!, Number(s.value[1])]));
    const singlePanel = Number((await q('MPTCP connections with a single subflow'))[0]!.value[1]);
    if (single === 0) {
      assert.equal(buckets.get('1'), 0, 'no connection closed with one subflow');
      assert.equal(singlePanel, 0);
    } else {
      // (the panel looks back 10 minutes, the whole test; the histogram one minute)
      assert.ok(singlePanel > 0, `${single} of ${closedSubflows.length} connections closed with one subflow`);
    }
    assert.ok(buckets.get('2')! > 0 && buckets.get('2') === buckets.get('+Inf'), `none with more than two: ${JSON.stringify([...buckets])}`);
    const rule = (await prom.rules()).find((r) => r.name === 'TcpulseMptcpSubflowFallback');
    assert.equal(rule?.health, 'ok', rule?.lastError);
    if (single === 0) assert.equal(rule?.state, 'inactive');
  });
});
