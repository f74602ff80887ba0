/**
 * The kernel suite: what must hold on every kernel tcpulse supports. The
 * matrix (matrix.ts) runs it inside each guest kernel, and on this
 * machine's own kernel; it can run alone too (`npm run test:kernels --
 * --host`). Three agents in turn, each forcing other hooks:
 *
 *  - best: the hooks the agent picks by itself (tcx or clsact, tp_btf);
 *  - xdp + clsact + raw_tp;
 *  - kprobe (the socket hooks; the guests have kprobes, this host does not).
 *
 * Each measures real TCP between two namespaces: RTT against the socket's
 * own minrtt (ss), srtt and cwnd samples, retransmissions against the
 * socket's own counter, FIN and RST closes; the first also MPTCP subflows.
 * tcpulse_probe_available must name the hook each signal came through, and
 * SIGTERM must leave nothing attached. What each agent reported is written
 * to $TCPULSE_KERNEL_REPORT (one JSON line per agent) for the matrix's
 * compatibility table.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { sleep, start, TIME_SCALE, until, type Running } from '../helpers/exec.js';
import { has, missing, tcHook } from '../helpers/features.js';
import { ourProgIds, progIdsOf } from '../helpers/held.js';
import { MptcpLab } from '../helpers/mptcp.js';
import { Lab } from '../helpers/netns.js';
import { one, pick, type Sample } from '../helpers/prom.js';
import { listening, ssPeerPort } from '../helpers/ss.js';
import { burst, sendBytes, startSink } from '../helpers/tcp.js';
import type { RunReport } from './table.js';

const SOCKET_SIGNALS = ['tcp_probe', 'tcp_retransmit_skb', 'inet_sock_set_state', 'tcp_send_reset', 'tcp_receive_reset'];

/** One line of what an agent reported, for the matrix (table.ts reads them). */
function report(r: RunReport): void {
  const path = process.env.TCPULSE_KERNEL_REPORT;
  if (path) appendFileSync(path, JSON.stringify({ kernel: release(), ...r }) + '\n');
}

interface Run {
  name: string;
  /** agent flags and sockets.hooks */
  flags: string[];
  hooks: string[];
  /** what tcpulse_probe_available must say for the packet path */
  ingress: () => string | Promise<string>;
  egress: () => string | Promise<string>;
  /** the socket family that must serve every socket signal, or null: none can */
  family: () => string | null | Promise<string | null>;
  mptcp?: boolean;
  /** false: the packet path is that of an earlier run, its RTT not measured again */
  rtt?: boolean;
}

const RUNS: Run[] = [
  { name: 'best hooks', flags: [], hooks: ['tp_btf', 'raw_tp', 'kprobe'], ingress: tcHook, egress: tcHook, family: async () => ((await has('tp_btf')) ? 'tp_btf' : 'raw_tp'), mptcp: true },
  { name: 'xdp, clsact and raw_tp', flags: ['--ingress-hook', 'xdp', '--tc-attach', 'clsact'], hooks: ['raw_tp'], ingress: () => 'xdp', egress: () => 'clsact', family: () => 'raw_tp' },
  { name: 'kprobe', flags: [], hooks: ['kprobe'], ingress: tcHook, egress: tcHook, family: async () => ((await has('kprobe')) ? 'kprobe' : null), rtt: false },
];

describe(`kernel ${release()}`, () => {
  let lab: Lab;
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-kernel-'));
  const procs: Running[] = [];
  let port = 6000;

  before(async () => {
    lab = await Lab.create('kern');
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const run of RUNS) {
    describe(run.name, () => {
      let agent: AgentProc;
      let progIds: Set<number>;
      const client = () => ({ local_address: lab.ipA, peer_address: lab.ipB });

      before(async () => {
        const cfg = join(dir, `${run.name.replace(/\W+/g, '-')}.yaml`);
        writeFileSync(cfg, `sockets:\n  hooks: [${run.hooks.join(', ')}]\ninterval: 300ms\n`);
        agent = await AgentProc.start(lab, lab.nsA, ['--config', cfg, '--interface', lab.vethA, ...run.flags]);
        progIds = progIdsOf(agent.proc.proc.pid!);
      });

      after(async () => {
        if (agent?.proc.proc.exitCode === null) await agent.stop('SIGKILL');
      });

      it('serves each signal through the hook it says', async () => {
        const m = await agent.scrape();
        const reported = Object.fromEntries(pick(m, 'tcpulse_probe_available').map((s) => [s.labels.probe!, { hook: s.labels.hook!, available: s.value }]));
        report({ run: run.name, objects: pick(m, 'tcpulse_build_info')[0]?.labels.bpf_objects, probes: reported });
        assert.deepEqual(reported.packet_ingress, { hook: await run.ingress(), available: 1 });
        assert.deepEqual(reported.packet_egress, { hook: await run.egress(), available: 1 });
        const family = await run.family();
        for (const signal of SOCKET_SIGNALS) {
          assert.deepEqual(reported[signal], family ? { hook: family, available: 1 } : { hook: 'none', available: 0 }, signal);
        }
      });

      it('measures RTT that agrees with the socket’s own minrtt', { skip: run.rtt === false && 'the packet hooks of an earlier run' }, async () => {
        const p = ++port;
        const [scmd, sargs] = lab.argv(lab.nsB, 'iperf3', ['-s', '-1', '-p', String(p)]);
        procs.push(start(scmd, sargs));
        await listening(lab, lab.nsB, p);
        const [ccmd, cargs] = lab.argv(lab.nsA, 'iperf3', ['-c', lab.ipB, '-p', String(p), '-t', '3', '-b', '200M']);
        const iperf = start(ccmd, cargs);
        procs.push(iperf);
        let kernelMin = Infinity;
        while (iperf.proc.exitCode === null) {
          for (const s of await ssPeerPort(lab, lab.nsA, p)) if (s.minRttMs !== undefined) kernelMin = Math.min(kernelMin, s.minRttMs / 1000);
          await sleep(200);
        }
        assert.equal(await iperf.exited, 0, iperf.stderr());
        assert.ok(Number.isFinite(kernelMin), 'ss saw the connection');
        const labels = { ...client(), server_port: String(p) };
        const m = await agent.scrapeSettled('tcpulse_rtt_seconds_count', labels, 700);
        assert.ok(one(m, 'tcpulse_rtt_seconds_count', labels) > 10, 'RTT samples');
        const minRtt = one(m, 'tcpulse_min_rtt_seconds', labels);
        // The socket's minrtt also holds this end's own stack (sending the
        // data, taking in the ACK), which the interface does not see: it
        // cannot be below the agent's, and here it is a few µs; under QEMU's
        // emulation it is about half of it (test/e2e/agent.test.ts holds the
        // agent to 10 % on this machine). And the agent times one segment
        // per TSval (a millisecond) where the socket times every ACK: under
        // emulation, where RTTs spread widely, the lowest of the agent's
        // samples was once 1.6 times the socket's (5.10, XDP ingress).
        const spread = TIME_SCALE > 1 ? 0.6 : 0.1;
        assert.ok(minRtt <= kernelMin * (1 + spread) + 20e-6 && minRtt >= kernelMin * (1 - spread) - 20e-6, `min RTT ${minRtt}s vs ss minrtt ${kernelMin}s`);
        assert.ok(one(m, 'tcpulse_packets_total', { ...labels, direction: 'egress' }) > 100);
      });

      it('counts retransmissions as the socket does', async (t) => {
        if ((await run.family()) === null) return t.skip('no socket hook of this family on this kernel');
        const p = ++port;
        procs.push(await startSink(lab, lab.nsB, p));
        const events = (m: Sample[]) => one(m, 'tcpulse_socket_events_total', { event: 'tcp_retransmit_skb' });
        const before = events(await agent.scrape());
        // the server is away while the client connects (its link down; the
        // client knows its MAC, so the SYN leaves and is lost): the SYN goes
        // again after the initial RTO (1 s), however fast or slow the machine,
        // and counts as a retransmission
        const mac = JSON.parse((await lab.exec(lab.nsB, 'ip', ['-j', 'link', 'show', lab.vethB])).stdout) as { address: string }[];
        await lab.exec(lab.nsA, 'ip', ['neigh', 'replace', lab.ipB, 'lladdr', mac[0]!.address, 'dev', lab.vethA, 'nud', 'permanent']);
        await lab.exec(lab.nsB, 'ip', ['link', 'set', lab.vethB, 'down']);
        const sending = sendBytes(lab, lab.nsA, lab.ipB, p, 100_000);
        let retrans = 0;
        try {
          await until('the SYN sent again', async () => {
            const r = await lab.exec(lab.nsA, 'ss', ['-tinH', 'state', 'syn-sent', `( dport = :${p} )`]);
            return /\sretrans:\d+\/[1-9]/.test(r.stdout);
          });
        } finally {
          await lab.exec(lab.nsB, 'ip', ['link', 'set', lab.vethB, 'up']);
        }
        const sender = await sending;
        procs.push(sender);
        await until('all sent and acknowledged', async () => {
          const [s] = await ssPeerPort(lab, lab.nsA, p);
          retrans = s?.retrans ?? 0;
          return (s?.bytesAcked ?? 0) >= 100_001;
        });
        assert.ok(retrans > 0, 'the socket retransmitted');
        const labels = { ...client(), server_port: String(p) };
        // every byte was acknowledged, so tcp_probe ran: a round that read the socket
        // before its ACKs came (just after the handshake) shows its retransmission only
        const seen = (s: Sample[]) => ({ retransmits: pick(s, 'tcpulse_retransmits_total', labels)[0]?.value, srtt: pick(s, 'tcpulse_srtt_seconds_count', labels)[0]?.value, events: events(s) });
        const m = await agent.scrapeUntil(
          `${retrans} retransmissions and srtt samples`,
          (s) => seen(s).retransmits === retrans && (seen(s).srtt ?? 0) > 0,
          undefined,
          (s) => JSON.stringify(seen(s)),
        );
        assert.equal(one(m, 'tcpulse_retransmits_total', labels), retrans);
        // the hook fired (a kprobe's run is skipped while another BPF program
        // runs on its CPU: the count stays right, read from the socket's
        // own total at its next event)
        assert.ok(events(m) > before, 'the retransmit hook fired');
        assert.ok(one(m, 'tcpulse_cwnd_segments_count', labels) > 0, 'cwnd samples');
        await sender.stop('SIGTERM');
      });

      it('tells a FIN from a RST', async (t) => {
        if ((await run.family()) === null) return t.skip('no socket hook of this family on this kernel');
        const fin = ++port;
        const rst = ++port;
        procs.push(await startSink(lab, lab.nsB, fin), await startSink(lab, lab.nsB, rst));
        procs.push(await burst(lab, lab.nsA, lab.ipB, 3, [fin], { bytes: 100 }));
        procs.push(await burst(lab, lab.nsA, lab.ipB, 3, [rst], { bytes: 100, reset: true }));
        const closed = (m: Sample[], p: number, reason: string) => pick(m, 'tcpulse_connections_closed_total', { ...client(), server_port: String(p), reason })[0]?.value;
        const m = await agent.scrapeUntil('6 closes', (s) => closed(s, fin, 'fin') === 3 && closed(s, rst, 'rst') === 3);
        assert.equal(closed(m, fin, 'rst'), 0);
        assert.equal(closed(m, rst, 'fin'), 0);
        // the server side saw the RST arrive
        assert.equal(one(m, 'tcpulse_connections_closed_total', { local_address: lab.ipB, peer_address: lab.ipA, server_port: String(rst), reason: 'rst' }), 3);
      });

      if (run.mptcp) {
        it('counts MPTCP subflows', async (t) => {
          const why = await missing('mptcp');
          report({ run: run.name, mptcp: why || 'ok' });
          if (why) return t.skip(why);
          // two more veth pairs: the socket hooks see every namespace
          const mp = await MptcpLab.create('kern');
          try {
            const p = ++port;
            await mp.startServer(p);
            await mp.connect(p, 200_000, { holdMs: 100 });
            const labels = { local_address: mp.ipA1, peer_address: mp.ipB1, server_port: String(p) };
            const m = await agent.scrapeUntil('the MPTCP connection closed', (s) => pick(s, 'tcpulse_mptcp_subflows_count', labels)[0]?.value === 1);
            assert.equal(one(m, 'tcpulse_mptcp_subflows_sum', labels), 2);
            assert.equal(one(m, 'tcpulse_mptcp_subflow_events_total', { ...labels, event: 'established' }), 2);
          } finally {
            await mp.destroy();
          }
        });
      }

      it('leaves nothing attached after SIGTERM', async () => {
        assert.equal(await agent.stop('SIGTERM'), 0, agent.proc.stderr());
        const tc = await lab.exec(lab.nsA, 'tc', ['filter', 'show', 'dev', lab.vethA, 'ingress']);
        assert.equal(tc.stdout.trim(), '', 'no clsact filter');
        const link = await lab.exec(lab.nsA, 'ip', ['-d', 'link', 'show', lab.vethA]);
        assert.doesNotMatch(link.stdout, /prog\/xdp/, 'no XDP program');
        await until('the agent’s programs freed', async () => [...(await ourProgIds())].every((id) => !progIds.has(id)));
      });
    });
  }
});
