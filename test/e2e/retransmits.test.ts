/**
 * Retransmissions for real: a test-only TC program drops 2 % of the data
 * segments leaving namespace A (as a lossy wire would: the sender believes
 * they left), TCP retransmits them, and the agent's count for the
 * connection agrees with the namespace's own TcpRetransSegs within 2 %.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentProc } from '../helpers/agent.js';
import { attachDropper, retransSegs, type Dropper } from '../helpers/drop.js';
import { sleep, type Running } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { one } from '../helpers/prom.js';
import { ssPeerPort } from '../helpers/ss.js';
import { sendBytes, startSink } from '../helpers/tcp.js';

describe('retransmits under injected loss', () => {
  let lab: Lab;
  let agent: AgentProc;
  let dropper: Dropper | undefined;
  const procs: Running[] = [];

  before(async () => {
    lab = await Lab.create('loss');
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA, '--interval', '300ms']);
  });

  after(async () => {
    dropper?.close();
    for (const p of procs) await p.stop('SIGKILL');
    await agent?.stop('SIGKILL');
    await lab?.destroy();
  });

  it('tcpulse_retransmits_total agrees with TcpRetransSegs within 2 %', async () => {
    const port = 5601;
    const n = 60_000_000;
    procs.push(await startSink(lab, lab.nsB, port));
    dropper = await attachDropper(lab, lab.nsA, lab.vethA, 20_000, { port }); // 2 %, this connection only
    const r0 = await retransSegs(lab, lab.nsA);
    const sender = await sendBytes(lab, lab.nsA, lab.ipB, port, n);
    procs.push(sender);
    for (let i = 0; i < 600; i++) {
      const [s] = await ssPeerPort(lab, lab.nsA, port);
      if (s && s.bytesAcked > n) break;
      await sleep(50);
    }
    dropper.close();
    await sender.stop('SIGTERM');
    await sleep(1000);
    const kernel = (await retransSegs(lab, lab.nsA)) - r0;
    const m = await agent.scrape();
    const agentCount = one(m, 'tcpulse_retransmits_total', { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) });
    assert.ok(dropper.counters().droppedSegs > 100, `dropped segments: ${dropper.counters().droppedSegs}`);
    assert.ok(kernel > 100, `TcpRetransSegs grew by ${kernel}`);
    assert.ok(Math.abs(agentCount - kernel) <= 0.02 * kernel, `agent ${agentCount} vs TcpRetransSegs ${kernel}`);
  });
});
