/**
 * Socket hook probing, the real thing on this kernel: forced onto raw_tp
 * the agent still measures sockets; forced onto kprobes it uses them where
 * the kernel has them, and elsewhere (this host builds none in) reports the
 * signals as unavailable and keeps running.
 * test/unit/hooks.test.ts covers the selection logic with kernels we do not
 * have.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { Lab } from '../helpers/netns.js';
import { one, pick } from '../helpers/prom.js';
import { sendBytes, startSink } from '../helpers/tcp.js';
import { sleep, type Running } from '../helpers/exec.js';
import { has, tcHook } from '../helpers/features.js';

describe('hook fallback on this kernel', () => {
  let lab: Lab;
  const procs: Running[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-hooks-'));

  before(async () => {
    lab = await Lab.create('hook');
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function agentWith(hooks: string[]): Promise<AgentProc> {
    const cfg = join(dir, `${hooks.join('-')}.yaml`);
    writeFileSync(cfg, `sockets:\n  hooks: [${hooks.join(', ')}]\ninterval: 300ms\n`);
    return AgentProc.start(lab, lab.nsA, ['--config', cfg, '--interface', lab.vethA]);
  }

  it('measures sockets through raw_tp when told to', async () => {
    const agent = await agentWith(['raw_tp']);
    try {
      const m0 = await agent.scrape();
      for (const probe of ['tcp_probe', 'inet_sock_set_state', 'tcp_retransmit_skb']) {
        assert.equal(one(m0, 'tcpulse_probe_available', { probe, hook: 'raw_tp' }), 1);
      }
      procs.push(await startSink(lab, lab.nsB, 5501));
      const sender = await sendBytes(lab, lab.nsA, lab.ipB, 5501, 1_000_000);
      await sleep(200);
      await sender.stop('SIGTERM');
      const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: '5501' };
      const m = await agent.scrapeUntil('the close counted', (s) => (pick(s, 'tcpulse_connections_closed_total', { ...labels, reason: 'fin' })[0]?.value ?? 0) > 0);
      assert.equal(one(m, 'tcpulse_connections_opened_total', labels), 1);
      assert.equal(one(m, 'tcpulse_connections_closed_total', { ...labels, reason: 'fin' }), 1);
      assert.ok(one(m, 'tcpulse_srtt_seconds_count', labels) > 0);
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });

  it('forced onto kprobes: uses them where the kernel has them, else reports the signals unavailable and keeps the packet path', async () => {
    const kprobes = await has('kprobe');
    const agent = await agentWith(['kprobe']);
    try {
      const m = await agent.scrape();
      for (const probe of ['tcp_probe', 'inet_sock_set_state']) {
        if (kprobes) assert.equal(one(m, 'tcpulse_probe_available', { probe, hook: 'kprobe' }), 1, probe);
        else assert.equal(one(m, 'tcpulse_probe_available', { probe, hook: 'none' }), 0, probe);
      }
      assert.equal(one(m, 'tcpulse_probe_available', { probe: 'packet_egress', hook: await tcHook() }), 1);
      if (!kprobes) assert.match(agent.proc.stderr(), /socket signal disabled/);
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });
});
