/**
 * The socket path, all real: sockets in two network namespaces, the agent
 * in the root namespace (socket hooks see every namespace), the kernel's own
 * view (ss -ti) to compare with, and the connection log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { sleep, start, until, type Running } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { one, pick, type Sample } from '../helpers/prom.js';
import { listening, ssPeerPort } from '../helpers/ss.js';
import { burst, sendBytes, startSink } from '../helpers/tcp.js';

/** The bucket holding quantile q of a Prometheus histogram series, as [lower, upper] (le units). */
function quantileRange(buckets: Sample[], q: number): [number, number] {
  const total = buckets.at(-1)!.value;
  let prevLe = 0;
  for (const b of buckets) {
    if (b.value > 0 && b.value >= q * total) return [prevLe, Number(b.labels.le)];
    prevLe = Number(b.labels.le);
  }
  return [prevLe, Infinity];
}

describe('socket signals', () => {
  let lab: Lab;
  let agent: AgentProc;
  const procs: Running[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-sockets-'));
  const log = join(dir, 'connections.jsonl');

  before(async () => {
    lab = await Lab.create('sock');
    // the agent runs in A (the packet path needs an interface); socket hooks are global
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA, '--interval', '300ms', '--rtt-buckets', 'fine', '--srtt-buckets', 'fine', '--cwnd-buckets', 'fine', '--connection-log', log]);
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await agent?.stop('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const records = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('probes every socket hook and uses tp_btf on this kernel', async () => {
    const m = await agent.scrape();
    for (const probe of ['tcp_probe', 'tcp_retransmit_skb', 'inet_sock_set_state', 'tcp_send_reset', 'tcp_receive_reset']) {
      assert.equal(one(m, 'tcpulse_probe_available', { probe, hook: 'tp_btf' }), 1, probe);
    }
  });

  it('srtt and cwnd agree with ss -ti for the socket during a transfer', async () => {
    const port = 5401;
    const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) };
    const [scmd, sargs] = lab.argv(lab.nsB, 'iperf3', ['-s', '-p', String(port), '-1']);
    procs.push(start(scmd, sargs));
    await listening(lab, lab.nsB, port);
    // paced below the link rate: no queue builds up, so srtt is steady enough to compare means
    const [ccmd, cargs] = lab.argv(lab.nsA, 'iperf3', ['-c', lab.ipB, '-p', String(port), '-t', '4', '-b', '300M']);
    const client = start(ccmd, cargs);
    procs.push(client);
    await sleep(1000);
    // the agent's samples between two scrapes, against ss's over the same time
    const m1 = await agent.scrape();
    const ssSrttUs: number[] = [];
    const ssCwnd: number[] = [];
    while (client.proc.exitCode === null) {
      for (const s of await ssPeerPort(lab, lab.nsA, port)) {
        if (s.bytesSent > 1e6) {
          ssSrttUs.push(s.rttMs! * 1000);
          ssCwnd.push(s.cwnd!);
        }
      }
      await sleep(40);
    }
    assert.ok(ssSrttUs.length >= 20, `ss samples: ${ssSrttUs.length}`);
    const m2 = await agent.scrapeSettled('tcpulse_srtt_seconds_count', labels, 700); // the last samples read
    const delta = (name: string) => one(m2, name, labels) - one(m1, name, labels);
    const srttMeanUs = (delta('tcpulse_srtt_seconds_sum') / delta('tcpulse_srtt_seconds_count')) * 1e6;
    const cwndMean = delta('tcpulse_cwnd_segments_sum') / delta('tcpulse_cwnd_segments_count');
    assert.ok(delta('tcpulse_srtt_seconds_count') > 100, 'agent samples in the window');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const near = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(a, b);
    assert.ok(near(srttMeanUs, mean(ssSrttUs), 0.4), `mean srtt: agent ${srttMeanUs.toFixed(1)}us, ss ${mean(ssSrttUs).toFixed(1)}us`);
    assert.ok(near(cwndMean, mean(ssCwnd), 0.4), `mean cwnd: agent ${cwndMean.toFixed(1)}, ss ${mean(ssCwnd).toFixed(1)}`);
    // and every value ss saw lies within the range the agent sampled
    const [srttLo] = quantileRange(pick(m2, 'tcpulse_srtt_seconds_bucket', labels), 0);
    const [, srttHi] = quantileRange(pick(m2, 'tcpulse_srtt_seconds_bucket', labels), 1);
    for (const v of ssSrttUs) assert.ok(v / 1e6 >= srttLo && v / 1e6 <= srttHi, `ss srtt ${v}us outside [${srttLo}, ${srttHi}]s`);
    const [cwLo] = quantileRange(pick(m2, 'tcpulse_cwnd_segments_bucket', labels), 0);
    const [, cwHi] = quantileRange(pick(m2, 'tcpulse_cwnd_segments_bucket', labels), 1);
    for (const v of ssCwnd) assert.ok(v >= cwLo && v <= cwHi, `ss cwnd ${v} outside [${cwLo}, ${cwHi}]`);
  });

  it('writes one correct completion record per connection', async () => {
    const port = 5402;
    const n = 2_000_000;
    procs.push(await startSink(lab, lab.nsB, port));
    const sender = await sendBytes(lab, lab.nsA, lab.ipB, port, n);
    await until('all bytes acknowledged', async () => ((await ssPeerPort(lab, lab.nsA, port))[0]?.bytesAcked ?? 0) >= n + 1);
    const [ss] = await ssPeerPort(lab, lab.nsA, port); // nothing in flight: the socket's counters hold still
    assert.ok(ss, 'connection in ss');
    await sender.stop('SIGTERM'); // closes the socket: FIN
    await until('both completion records', () => records().filter((r) => r.server_port === port).length >= 2);
    const mine = records().filter((r) => r.server_port === port);
    assert.equal(mine.length, 2, JSON.stringify(mine));
    const client = mine.find((r) => r.role === 'client')!;
    const server = mine.find((r) => r.role === 'server')!;
    assert.deepEqual([client.local_address, client.peer_address, client.peer_port], [lab.ipA, lab.ipB, port]);
    assert.deepEqual([server.local_address, server.local_port, server.peer_port], [lab.ipB, port, client.local_port]);
    // bytes_sent counts retransmissions too (a tail loss probe may resend the last segment)
    assert.equal((client.bytes_sent as number) - (client.bytes_retrans as number), n);
    assert.ok((client.bytes_acked as number) >= n + 1 && (client.bytes_acked as number) <= n + 2, 'SYN, data and FIN acknowledged');
    assert.ok((client.retransmits as number) >= ss.retrans);
    assert.equal(client.close_reason, 'fin');
    assert.equal(server.close_reason, 'fin');
    assert.ok((server.bytes_received as number) >= n && (server.bytes_received as number) <= n + 1);
    assert.ok((client.segs_out as number) >= ss.segsOut, 'segments out at least what ss saw before the close');
    // everything was acknowledged when ss looked; after it only the FIN was sent and acknowledged
    assert.equal(client.delivered, ss.delivered + 1, `delivered: the socket's ${ss.delivered} before the close, and the FIN`);
    assert.ok((client.duration_s as number) > 0 && (client.duration_s as number) < 30);
    assert.ok(Date.parse(client.end as string) - Date.parse(client.start as string) >= 0);
    assert.ok(Math.abs(Date.parse(client.end as string) - Date.now()) < 10_000, 'wall-clock times');
    for (const k of ['srtt_min_ms', 'srtt_avg_ms', 'srtt_max_ms', 'min_rtt_ms', 'cwnd', 'ssthresh', 'snd_wnd', 'rcv_wnd', 'mss']) {
      assert.ok(typeof client[k] === 'number', `${k} in the record`);
    }
    assert.ok((client.srtt_min_ms as number) <= (client.srtt_avg_ms as number) && (client.srtt_avg_ms as number) <= (client.srtt_max_ms as number));
    const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) };
    const m = await agent.scrapeUntil('the close counted', (s) => (pick(s, 'tcpulse_connections_closed_total', { ...labels, reason: 'fin' })[0]?.value ?? 0) > 0);
    assert.equal(one(m, 'tcpulse_connections_opened_total', labels), 1);
    assert.equal(one(m, 'tcpulse_connections_closed_total', { ...labels, reason: 'fin' }), 1);
    assert.equal(one(m, 'tcpulse_delivered_segments_total', labels), client.delivered, 'the series sums its one socket');
  });

  it('keeps one record per connection through a burst of 1000, and tells RST from FIN', async () => {
    const ports = [5403, 5404];
    for (const p of ports) procs.push(await startSink(lab, lab.nsB, p));
    procs.push(await burst(lab, lab.nsA, lab.ipB, 1000, ports, { bytes: 100 }));
    const resetPort = 5405;
    procs.push(await startSink(lab, lab.nsB, resetPort));
    procs.push(await burst(lab, lab.nsA, lab.ipB, 20, [resetPort], { bytes: 100, reset: true }));
    const expected = (r: Record<string, unknown>) => [...ports, resetPort].includes(r.server_port as number);
    await until('2040 completion records', () => records().filter(expected).length >= 2040, 20_000);
    await sleep(500); // and no more than those
    const recs = records();
    const clients = recs.filter((r) => ports.includes(r.server_port as number) && r.role === 'client');
    const servers = recs.filter((r) => ports.includes(r.server_port as number) && r.role === 'server');
    assert.equal(clients.length, 1000);
    assert.equal(servers.length, 1000);
    assert.equal(new Set(clients.map((r) => `${String(r.local_port)}>${String(r.peer_port)}`)).size, 1000, 'one record per connection');
    for (const r of clients) assert.equal((r.bytes_sent as number) - (r.bytes_retrans as number), 100);
    for (const r of servers) assert.ok((r.bytes_received as number) >= 100 && (r.bytes_received as number) <= 101);
    const reset = recs.filter((r) => r.server_port === resetPort && r.role === 'client');
    assert.equal(reset.length, 20);
    for (const r of reset) assert.equal(r.close_reason, 'rst');
    const openedIn = (m: Sample[]) => ports.reduce((a, port) => a + (pick(m, 'tcpulse_connections_opened_total', { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) })[0]?.value ?? 0), 0);
    const m = await agent.scrapeUntil('1000 connections opened', (s) => openedIn(s) >= 1000);
    assert.equal(openedIn(m), 1000);
    assert.equal(one(m, 'tcpulse_connections_closed_total', { local_address: lab.ipA, server_port: String(resetPort), reason: 'rst' }), 20);
    assert.equal(one(m, 'tcpulse_events_lost_total'), 0);
    assert.ok(one(m, 'tcpulse_connection_log_records_total') >= 2040);
    // short connections whose socket memory went to the next one before a
    // round read the table still count whole: the series add up to the
    // completion records, sample for sample
    for (const port of ports) {
      const labels = { local_address: lab.ipA, peer_address: lab.ipB, server_port: String(port) };
      const mine = clients.filter((r) => r.server_port === port);
      const settled = await agent.scrapeSettled('tcpulse_srtt_seconds_count', labels, 700);
      const sum = (k: string) => mine.reduce((a, r) => a + (r[k] as number), 0);
      assert.equal(one(settled, 'tcpulse_srtt_seconds_count', labels), sum('rtt_samples'), `srtt samples to port ${port}`);
      assert.equal(one(settled, 'tcpulse_retransmits_total', labels), sum('retransmits'), `retransmits to port ${port}`);
    }
  });
});
