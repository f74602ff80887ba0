/**
 * End to end, all real: two network namespaces joined by a veth pair, the
 * agent attached in namespace A, real TCP between A and B, real scrapes of
 * /metrics compared with a capture of the same interface and with the
 * kernel's own socket counters (ss -ti).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { orphanProgIds, ourProgIds, progIdsOf } from '../helpers/held.js';
import { run, sleep, start, until } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { one, parseProm, pick, type Sample } from '../helpers/prom.js';
import { listening, ssPeerPort } from '../helpers/ss.js';
import { sendBytes, startSink } from '../helpers/tcp.js';
import { connection, totals, Wire, type WirePacket } from '../helpers/wire.js';
import { projectRoot } from '../../src/paths.js';
import { tcHook } from '../helpers/features.js';

const INTERVAL_MS = 300;

async function nothingAttached(lab: Lab, ns: string, dev: string, progIds: Set<number>): Promise<void> {
  const net = await lab.exec(ns, 'bpftool', ['net', 'show', 'dev', dev, '-j']);
  const entries = JSON.parse(net.stdout) as Record<string, unknown[]>[];
  for (const e of entries) for (const [hook, list] of Object.entries(e)) assert.deepEqual(list, [], `${hook} on ${dev}`);
  const tc = await lab.exec(ns, 'tc', ['filter', 'show', 'dev', dev, 'ingress']);
  assert.equal(tc.stdout.trim(), '', 'no clsact ingress filter');
  const tcEg = await lab.exec(ns, 'tc', ['filter', 'show', 'dev', dev, 'egress']);
  assert.equal(tcEg.stdout.trim(), '', 'no clsact egress filter');
  const link = await lab.exec(ns, 'ip', ['-d', 'link', 'show', dev]);
  assert.doesNotMatch(link.stdout, /prog\/xdp/, 'no XDP program');
  // the programs the agent loaded are gone (a link would keep them alive)
  for (let i = 0; i < 50; i++) {
    const left = [...(await ourProgIds())].filter((id) => progIds.has(id));
    if (left.length === 0) return;
    await sleep(100);
  }
  assert.fail('tcpulse programs still loaded after the agent stopped');
}

function series(samples: Sample[], name: string, serverPort: number, extra: Record<string, string> = {}): Sample[] {
  return pick(samples, name, { server_port: String(serverPort), ...extra });
}

for (const hook of ['tc', 'xdp'] as const) {
  describe(`agent with ${hook} ingress on a veth pair`, () => {
    let lab: Lab;
    let agent: AgentProc;
    let progIds: Set<number>;
    const cleanups: (() => Promise<unknown>)[] = [];

    before(async () => {
      lab = await Lab.create('e2e');
      agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA, '--interval', `${INTERVAL_MS}ms`, '--ingress-hook', hook, '--log-level', 'debug']);
      progIds = progIdsOf(agent.proc.proc.pid!);
    });

    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
      await agent?.stop('SIGKILL');
      await lab?.destroy();
    });

    it('measures RTT that agrees with the kernel min RTT of the connection (iperf3)', async () => {
      const [scmd, sargs] = lab.argv(lab.nsB, 'iperf3', ['-s', '-p', '5201']);
      const server = start(scmd, sargs);
      cleanups.push(() => server.stop('SIGKILL'));
      await listening(lab, lab.nsB, 5201);
      const [ccmd, cargs] = lab.argv(lab.nsA, 'iperf3', ['-c', lab.ipB, '-p', '5201', '-t', '3', '-J']);
      const client = start(ccmd, cargs);
      await sleep(2500);
      const socks = await ssPeerPort(lab, lab.nsA, 5201);
      assert.ok(socks.length >= 1, 'iperf3 connections visible in ss');
      const kernelMin = Math.min(...socks.map((s) => s.minRttMs! / 1000));
      assert.equal(await client.exited, 0, client.stderr());
      const m = await agent.scrapeSettled('tcpulse_rtt_seconds_count', { server_port: '5201', local_address: lab.ipA, peer_address: lab.ipB }, INTERVAL_MS * 2);
      const count = one(m, 'tcpulse_rtt_seconds_count', { server_port: '5201' });
      assert.ok(count > 100, `RTT samples: ${count}`);
      const minRtt = one(m, 'tcpulse_min_rtt_seconds', { server_port: '5201', local_address: lab.ipA, peer_address: lab.ipB });
      const diff = Math.abs(minRtt - kernelMin);
      assert.ok(diff <= Math.max(0.1 * kernelMin, 50e-6), `min RTT ${minRtt}s vs kernel minrtt ${kernelMin}s`);
      // the histogram is consistent: cumulative buckets end at the count
      const buckets = series(m, 'tcpulse_rtt_seconds_bucket', 5201);
      assert.equal(buckets.at(-1)!.labels.le, '+Inf');
      assert.equal(buckets.at(-1)!.value, count);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value);
      const firstNonEmpty = buckets.find((b) => b.value > 0)!;
      assert.ok(Number(firstNonEmpty.labels.le) >= minRtt, 'the min lies at or below the first non-empty bucket bound');
      const received = JSON.parse(client.stdout()).end.sum_received.bytes as number;
      assert.ok(one(m, 'tcpulse_bytes_total', { server_port: '5201', direction: 'egress' }) > received, 'L3 bytes exceed payload');
    });

    it('counts packets and bytes exactly as they crossed the wire, and as the kernel sent and received them', async () => {
      const port = 5301;
      const n = 3_000_000;
      const wire = await Wire.start(lab, lab.nsA, lab.vethA, port);
      cleanups.push(() => wire.stop());
      const sink = await startSink(lab, lab.nsB, port);
      cleanups.push(() => sink.stop('SIGKILL'));
      const sender = await sendBytes(lab, lab.nsA, lab.ipB, port, n);
      cleanups.push(() => sender.stop('SIGKILL'));
      await until('all bytes acknowledged', async () => ((await ssPeerPort(lab, lab.nsA, port))[0]?.bytesAcked ?? 0) >= n + 1);

      // the same moment on three sides: the agent, the capture, the socket
      const labels = { server_port: String(port), local_address: lab.ipA, peer_address: lab.ipB };
      const fromAgent = async () => {
        const m = await agent.scrape();
        const get = (name: string, direction: string) => one(m, name, { ...labels, direction });
        return {
          egress: { packets: get('tcpulse_packets_total', 'egress'), bytes: get('tcpulse_bytes_total', 'egress') },
          ingress: { packets: get('tcpulse_packets_total', 'ingress'), bytes: get('tcpulse_bytes_total', 'ingress') },
        };
      };
      const fromWire = (pkts: WirePacket[]) => {
        const c = connection(pkts, lab.ipA, lab.ipB, port);
        return { egress: totals(c.egress), ingress: totals(c.ingress) };
      };
      const seen = await wire.agree(fromAgent, fromWire, INTERVAL_MS * 3);
      assert.deepEqual(seen.agent, seen.wire, 'packets (segments) and L3 bytes each way: agent vs capture of the interface');
      const [sock] = await ssPeerPort(lab, lab.nsA, port);
      assert.ok(sock, 'connection in ss');
      assert.equal(sock.bytesSent - sock.bytesRetrans, n, 'every byte sent once, whatever was sent again');
      assert.equal(seen.agent.egress.packets, sock.segsOut, 'egress packets = segs_out');
      assert.equal(seen.agent.ingress.packets, sock.segsIn, 'ingress packets = segs_in');
      assert.equal(one(await agent.scrape(), 'tcpulse_flows_active', labels), 1);
      await wire.stop();
    });

    it('reports itself: probes, links, flow table, no overflow; promtool accepts the scrape', async () => {
      const text = await agent.fetch('/metrics');
      const lint = await run('bash', ['-c', 'promtool check metrics'], { input: text, allowFail: true });
      assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
      const m = parseProm(text);
      const tc = await tcHook();
      assert.equal(one(m, 'tcpulse_probe_available', { probe: 'packet_ingress', hook: hook === 'xdp' ? 'xdp' : tc }), 1);
      assert.equal(one(m, 'tcpulse_probe_available', { probe: 'packet_egress', hook: tc }), 1);
      assert.equal(pick(m, 'tcpulse_interface_attached', { interface: lab.vethA }).length, 2);
      assert.equal(one(m, 'tcpulse_series_overflow_total'), 0);
      const flows = { table: 'flows' };
      assert.equal(one(m, 'tcpulse_flow_table_untracked_total', flows), 0);
      assert.ok(one(m, 'tcpulse_flow_table_entries', flows) >= 3);
      assert.equal(one(m, 'tcpulse_flow_table_memory_bytes', flows), one(m, 'tcpulse_flow_table_capacity', flows) * 1040);
      assert.ok(one(m, 'tcpulse_flow_events_total', { event: 'opened' }) >= 3);
      assert.equal(await agent.fetch('/healthz'), 'ok\n');
      // what each program costs, for the health dashboard
      const egress = one(m, 'tcpulse_bpf_program_runs_total', { program: 'tcpulse_tc_eg' });
      assert.ok(egress > 0 && one(m, 'tcpulse_bpf_program_run_seconds_total', { program: 'tcpulse_tc_eg' }) > 0);
      assert.ok(one(m, 'tcpulse_bpf_program_runs_total', { program: 'ts_probe_btf' }) > 0);
    });

    it('detaches everything on SIGTERM', async () => {
      assert.ok(progIds.size >= 2, `agent programs found: ${[...progIds].join(',')}`);
      const code = await agent.stop('SIGTERM');
      assert.equal(code, 0, agent.proc.stderr());
      await nothingAttached(lab, lab.nsA, lab.vethA, progIds);
      assert.match(agent.proc.stderr(), /"msg":"detached"/);
    });
  });
}

describe('clsact fallback', () => {
  it('attaches by clsact filter and removes its filters on stop', async () => {
    const lab = await Lab.create('cls');
    try {
      const agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA, '--tc-attach', 'clsact']);
      try {
        const progIds = progIdsOf(agent.proc.proc.pid!);
        const f = await lab.exec(lab.nsA, 'tc', ['filter', 'show', 'dev', lab.vethA, 'egress']);
        assert.match(f.stdout, /tcpulse_tc_eg/);
        const m = await agent.scrape();
        assert.equal(one(m, 'tcpulse_probe_available', { probe: 'packet_egress', hook: 'clsact' }), 1);
        assert.equal(await agent.stop(), 0);
        await nothingAttached(lab, lab.nsA, lab.vethA, progIds);
      } finally {
        await agent.stop('SIGKILL');
      }
    } finally {
      await lab.destroy();
    }
  });
});

describe('bad input', () => {
  it('exits 2 with one line and leaves no program behind', async () => {
    const cli = join(projectRoot, 'src/cli.ts');
    const before = new Set(await orphanProgIds(0));
    for (const args of [['--interface', 'tcpulse-nope0'], ['--interface', 'lo', '--listen', 'x'], ['--bogus']]) {
      const r = await run(process.execPath, ['--import', 'tsx', cli, ...args], { allowFail: true });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^tcpulse: /);
    }
    // programs other agents on this machine load meanwhile are held by them
    assert.deepEqual((await orphanProgIds()).filter((id) => !before.has(id)), []);
  });

  it('on a kernel without BTF exits 3 with one line, before loading anything', async () => {
    const before = new Set(await orphanProgIds(0));
    // a mount namespace of its own where the kernel's BTF is not to be found
    const script = `mount -t tmpfs none /sys/kernel/btf && exec "$0" --import tsx "$1" --interface lo --listen 127.0.0.1:0`;
    const r = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, join(projectRoot, 'src/cli.ts')], { allowFail: true });
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(r.stderr.trim().split('\n'), ['tcpulse: this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): tcpulse needs a kernel built with CONFIG_DEBUG_INFO_BTF (most distributions since 5.4)']);
    assert.deepEqual((await orphanProgIds()).filter((id) => !before.has(id)), []);
  });
});
