/**
 * Probing: the selection logic with kernels we do not have (outcomes given
 * by the test), and the real thing on this kernel: forced onto raw_tp the
 * agent still measures sockets; forced onto kprobes (not built into this
 * kernel) it reports the signals as unavailable and keeps running.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseHooks, classify, SOCKET_SIGNALS, type Candidate, type Outcome } from '../src/probes/hooks.js';
import { BpfError } from '../src/errors.js';
import { AgentProc } from './helpers/agent.js';
import { Lab } from './helpers/netns.js';
import { one } from './helpers/prom.js';
import { sendBytes, startSink } from './helpers/tcp.js';
import { sleep, type Running } from './helpers/exec.js';

const EPERM = 1;
const ENOENT = 2;
const ENOMEM = 12;
const EOPNOTSUPP = 95;

describe('hook selection', () => {
  const kernel = (outcomes: Record<string, Outcome>) => (c: Candidate): Outcome => outcomes[c.family] ?? { status: 'supported' };

  it('prefers tp_btf, then raw_tp, then kprobe', () => {
    const tried: string[] = [];
    const choices = chooseHooks(SOCKET_SIGNALS, (c) => (tried.push(c.program), { status: 'supported' }));
    assert.deepEqual(choices.map((c) => c.chosen?.family), SOCKET_SIGNALS.map(() => 'tp_btf'));
    assert.equal(tried.length, SOCKET_SIGNALS.length, 'stops at the first supported');
  });

  it('falls back on a kernel without BTF tracepoints (4.x) to raw_tp', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, kernel({ tp_btf: { status: 'unsupported', reason: 'no BTF' } }));
    for (const c of choices) {
      assert.equal(c.chosen?.family, 'raw_tp');
      assert.deepEqual(c.tried.map((t) => t.outcome.status), ['unsupported', 'supported']);
    }
  });

  it('falls back to kprobes where the tracepoint does not exist', () => {
    const noTp = { status: 'unsupported', reason: 'ENOENT' } as const;
    const choices = chooseHooks(SOCKET_SIGNALS, kernel({ tp_btf: noTp, raw_tp: noTp }));
    assert.deepEqual(choices.map((c) => c.chosen?.program), SOCKET_SIGNALS.map((s) => s.candidates[2]!.program));
  });

  it('disables a signal when nothing works, and keeps the others', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, (c) =>
      c.program.startsWith('ts_probe') ? { status: 'unsupported', reason: 'x' } : { status: 'supported' },
    );
    assert.equal(choices.find((c) => c.signal === 'tcp_probe')!.chosen, null);
    assert.equal(choices.filter((c) => c.chosen).length, SOCKET_SIGNALS.length - 1);
  });

  it('moves past an error but reports it as one', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, kernel({ tp_btf: { status: 'error', reason: 'ENOMEM' } }));
    assert.equal(choices[0]!.tried[0]!.outcome.status, 'error');
    assert.equal(choices[0]!.chosen?.family, 'raw_tp');
  });

  it('honours the configured families', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, () => ({ status: 'supported' }), ['kprobe']);
    for (const c of choices) assert.equal(c.chosen?.family, 'kprobe');
  });

  it('tells "not here" from "failed"', () => {
    for (const e of [EPERM, ENOENT, EOPNOTSUPP]) assert.equal(classify(new BpfError('x', e)).status, 'unsupported');
    assert.equal(classify(new BpfError('x', ENOMEM)).status, 'error');
    assert.equal(classify(new Error('boom')).status, 'error');
  });
});

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
      await sleep(800);
      const m = await agent.scrape();
      const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: '5501' };
      assert.equal(one(m, 'tcpulse_connections_opened_total', labels), 1);
      assert.equal(one(m, 'tcpulse_connections_closed_total', { ...labels, reason: 'fin' }), 1);
      assert.ok(one(m, 'tcpulse_srtt_seconds_count', labels) > 0);
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });

  it('reports signals without a working hook and keeps the packet path', async () => {
    const agent = await agentWith(['kprobe']); // kprobes are not built into this kernel
    try {
      const m = await agent.scrape();
      for (const probe of ['tcp_probe', 'inet_sock_set_state']) {
        assert.equal(one(m, 'tcpulse_probe_available', { probe, hook: 'none' }), 0);
      }
      assert.equal(one(m, 'tcpulse_probe_available', { probe: 'packet_egress', hook: 'tcx' }), 1);
      assert.match(agent.proc.stderr(), /socket signal disabled/);
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });
});
