/**
 * Retransmissions for real: a test-only TC program drops 2 % of the data
 * segments leaving namespace A (as a lossy wire would: the sender believes
 * they left), TCP retransmits them, and the agent's count for the
 * connection is the socket's own total_retrans (ss -ti), read at a moment
 * nothing crosses the wire.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentProc } from '../helpers/agent.js';
import { attachDropper, type Dropper } from '../helpers/drop.js';
import { until } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { one } from '../helpers/prom.js';
import { ssPeerPort } from '../helpers/ss.js';
import { sendBytes, startSink } from '../helpers/tcp.js';
import { Wire } from '../helpers/wire.js';
import { missing } from '../helpers/features.js';

// the loss injector attaches by tcx link
describe('retransmits under injected loss', { skip: await missing('tcx') }, () => {
  let lab: Lab;
  let agent: AgentProc;
  let dropper: Dropper | undefined;
  const procs: { stop(): Promise<unknown> }[] = [];

  before(async () => {
    lab = await Lab.create('loss');
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA, '--interval', '300ms']);
  });

  after(async () => {
    dropper?.close();
    for (const p of procs) await p.stop().catch(() => {});
    await agent?.stop('SIGKILL');
    await lab?.destroy();
  });

  it('tcpulse_retransmits_total is the socket\'s own total_retrans, exactly', async () => {
    const port = 5601;
    const n = 60_000_000;
    const wire = await Wire.start(lab, lab.nsA, lab.vethA, port);
    procs.push(wire);
    procs.push(await startSink(lab, lab.nsB, port));
    dropper = await attachDropper(lab, lab.nsA, lab.vethA, 20_000, { port }); // 2 %, this connection only
    const sender = await sendBytes(lab, lab.nsA, lab.ipB, port, n);
    procs.push(sender);
    await until('all bytes acknowledged', async () => ((await ssPeerPort(lab, lab.nsA, port))[0]?.bytesAcked ?? 0) > n, 60_000);
    dropper.close();
    assert.ok(dropper.counters().droppedSegs > 100, `dropped segments: ${dropper.counters().droppedSegs}`);

    // the connection stays open: compare at a moment nothing moves
    const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) };
    const seen = await wire.agree(
      async () => one(await agent.scrape(), 'tcpulse_retransmits_total', labels),
      async () => (await ssPeerPort(lab, lab.nsA, port))[0]!.retrans,
      900,
    );
    assert.ok(seen.wire >= dropper.counters().droppedSegs, `total_retrans ${seen.wire}`);
    assert.equal(seen.agent, seen.wire, 'agent vs total_retrans of the socket (ss -ti)');
  });
});
