/**
 * qlog tracing for real: the agent with --qlog-dir and a filter traces
 * real TCP connections between namespaces and a real two-subflow MPTCP
 * connection; every file is parsed as JSON-SEQ and checked against the
 * schema in code (test/helpers/qlog.ts), then against what was sent: the
 * handshake, the bytes (sequence numbers and payload lengths), the FINs,
 * the socket metrics, the subflows. Limits: a connection outside the
 * filter gets no file, maxConnections is held, and maxEventsPerConnection
 * ends a file with its truncation record. Kernel side: BPF_PROG_TEST_RUN
 * on crafted packets (test/kernel/qlog.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { sleep, type Running } from '../helpers/exec.js';
import { MptcpLab } from '../helpers/mptcp.js';
import { Lab } from '../helpers/netns.js';
import { hasFlags, named, readQlogDir, type Json, type Qlog } from '../helpers/qlog.js';
import { sendBytes, startSink } from '../helpers/tcp.js';
import { connection, stream, Wire, type WirePacket } from '../helpers/wire.js';
import { missing } from '../helpers/features.js';

const sum = (es: Json[], f: (e: Json) => number) => es.reduce((a, e) => a + f(e), 0);
const payload = (es: Json[]) => sum(es, (e) => e.data.raw.payload_length);
const totalPayload = (ps: WirePacket[]) => ps.reduce((a, p) => a + p.payload, 0);
const mod32 = (n: number) => ((n % 2 ** 32) + 2 ** 32) % 2 ** 32;

function writeConfig(dir: string, qlog: Record<string, unknown>): string {
  const path = join(dir, `config-${Object.keys(qlog).join('-')}-${Date.now()}.yaml`);
  writeFileSync(path, JSON.stringify({ qlog })); // YAML is a superset of JSON
  return path;
}

/** Connections to port: file whose connection_started names it as the server port. */
const filesFor = (qs: Qlog[], port: number) => qs.filter((q) => named(q, 'connectivity:connection_started')[0]?.data.dst_port === port);

describe('qlog: real TCP connections', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tcpulse-qlog-'));
  const out = join(tmp, 'out');
  const N = 300_000;
  const [P, Q] = [5811, 5812];
  let lab: Lab;
  let agent: AgentProc | null = null;
  const procs: Running[] = [];
  let files: Qlog[] = [];
  let stderr = '';
  let wire: Wire | null = null;

  before(async () => {
    lab = await Lab.create('qlog');
    wire = await Wire.start(lab, lab.nsA, lab.vethA, P);
    const cfg = writeConfig(tmp, { ports: [P], maxConnections: 3 });
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA, '--interval', '200ms', '--config', cfg, '--qlog-dir', out]);
    for (const port of [P, Q]) procs.push(await startSink(lab, lab.nsB, port));
    // one traced connection (port P) and one outside the filter (port Q), both closed with FINs
    const [c1, c2] = await Promise.all([sendBytes(lab, lab.nsA, lab.ipB, P, N), sendBytes(lab, lab.nsA, lab.ipB, Q, N)]);
    await sleep(300);
    await Promise.all([c1.stop(), c2.stop()]);
    await sleep(3000); // the first file is finished (2 s after its close): no connection is live
    // five at once with room for three, held long enough for the untraced ones' sockets to be let go
    const five = await Promise.all([1, 2, 3, 4, 5].map(() => sendBytes(lab, lab.nsA, lab.ipB, P, 1000)));
    await sleep(2500);
    await Promise.all(five.map((c) => c.stop()));
    await sleep(300);
    await agent.stop(); // SIGTERM: files flushed and closed
    await wire.stop();
    stderr = agent.proc.stderr();
    files = readQlogDir(out);
  });

  after(async () => {
    await wire?.stop().catch(() => {});
    await agent?.stop('SIGKILL');
    for (const p of procs) await p.stop('SIGKILL');
    await lab?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('writes valid JSON-SEQ qlog files (header, events, data) and none for a connection outside the filter', () => {
    assert.ok(files.length > 0, 'no file');
    assert.deepEqual(filesFor(files, Q), [], 'port Q is not in the filter');
    assert.equal(filesFor(files, P).length, files.length, 'only port P connections are traced');
    for (const q of files) {
      assert.equal(q.header.trace.vantage_point.type, 'network');
      assert.deepEqual(q.header.trace.common_fields.protocol_type, ['TCP']);
      assert.ok(q.file.endsWith('.sqlog'));
    }
  });

  it('the traced connection: handshake, every byte sent, FIN both ways, metrics, each event with its connection and subflow', () => {
    const q = files.find((f) => named(f, 'transport:packet_sent').some((e) => e.data.raw.payload_length > 1000))!;
    assert.ok(q, 'the 300 kB connection has no file');
    const started = named(q, 'connectivity:connection_started');
    assert.equal(started.length, 1);
    assert.deepEqual([started[0]!.data.src_ip, started[0]!.data.dst_ip, started[0]!.data.dst_port, started[0]!.data.protocol], [lab.ipA, lab.ipB, P, 'TCP']);
    assert.equal(started[0]!.data.handshake_seen, true);
    const sent = named(q, 'transport:packet_sent');
    const received = named(q, 'transport:packet_received');
    // handshake: SYN (with MSS, SACK-permitted, timestamps, window scale), SYN-ACK acknowledging it, then ACK
    const syn = sent.find((e) => hasFlags(e, 'SYN'))!;
    assert.ok(syn, 'no SYN sent');
    assert.equal(q.events.filter((e) => e.name.startsWith('transport:'))[0], syn, 'the SYN is the first packet');
    assert.deepEqual(syn.data.header.options.map((o: Json) => o.type).sort(), ['mss', 'sack_permitted', 'timestamp', 'window_scale']);
    const synAck = received.find((e) => hasFlags(e, 'SYN', 'ACK'))!;
    assert.ok(synAck, 'no SYN-ACK received');
    assert.equal(synAck.data.header.ack, mod32(syn.data.header.seq + 1));
    // every packet (or batch) each way exactly as the wire carried it, in order
    const onWire = connection(wire!.packets(), lab.ipA, lab.ipB, P);
    const mine = (ps: WirePacket[]) => ps.filter((p) => p.sport === started[0]!.data.src_port || p.dport === started[0]!.data.src_port);
    const fromWire = (ps: WirePacket[]) => mine(ps).map((p) => [p.seq, p.ack, p.payload + p.segs * p.hdr, p.payload, p.segs]);
    const fromQlog = (es: Json[]) => es.map((e) => [e.data.header.seq, e.data.header.ack, e.data.raw.length, e.data.raw.payload_length, e.data.segments ?? 1]);
    assert.deepEqual(fromQlog(sent), fromWire(onWire.egress), 'packets sent: qlog vs capture');
    assert.deepEqual(fromQlog(received), fromWire(onWire.ingress), 'packets received: qlog vs capture');
    // data: every byte of N went out, and the FIN's sequence number is ISN + 1 + N
    assert.equal(stream(mine(onWire.egress)).fresh, N);
    assert.equal(payload(received), 0, 'the sink sends nothing');
    const fin = sent.find((e) => e.data.header.flags.includes('FIN'))!;
    assert.ok(fin, 'no FIN sent');
    assert.equal(fin.data.header.seq, mod32(syn.data.header.seq + 1 + N));
    const finBack = received.find((e) => e.data.header.flags.includes('FIN'))!;
    assert.ok(finBack, 'no FIN received');
    assert.equal(finBack.data.header.ack, mod32(syn.data.header.seq + 2 + N));
    assert.ok(sent.every((e) => e.data.header.ack === 0 || e.data.header.ack === mod32(synAck.data.header.seq + 1) || e.data.header.ack === mod32(synAck.data.header.seq + 2)));
    assert.equal(named(q, 'connectivity:connection_closed').length, 1);
    assert.equal(named(q, 'connectivity:connection_closed')[0]!.data.trigger, 'clean');
    // both sockets are on this node: established and closed, metrics with srtt and cwnd, per side
    for (const side of ['client', 'server']) {
      const st = named(q, 'connectivity:connection_state_updated').filter((e) => e.data.side === side).map((e) => e.data.new);
      assert.deepEqual(st, ['established', 'closed'], side);
    }
    const metrics = named(q, 'recovery:metrics_updated');
    assert.ok(metrics.some((e) => e.data.side === 'client' && e.data.smoothed_rtt > 0 && e.data.cwnd_segments >= 10), 'client metrics');
    for (const side of ['client', 'server']) {
      const values = metrics.filter((e) => e.data.side === side).map((e) => JSON.stringify([e.data.smoothed_rtt, e.data.rtt_variance, e.data.cwnd_segments, e.data.ssthresh_segments]));
      values.forEach((v, i) => assert.notEqual(v, values[i - 1], `${side}: a metrics_updated event without a change`));
    }
    for (const e of q.events) assert.equal(e.group_id, q.header.trace.common_fields.group_id);
    for (const e of [...sent, ...received, ...metrics]) assert.equal(e.data.subflow_id, 0);
    assert.equal(named(q, 'tcpulse:truncated').length, 0, 'nothing cut');
  });

  it('maxConnections: of five connections at once, three are traced', () => {
    assert.equal(filesFor(files, P).length, 1 + 3, files.map((f) => f.file).join('\n'));
    assert.match(stderr, /maxConnections reached/);
    const stopped = stderr.split('\n').filter((l) => l.includes('qlog stopped')).map((l) => JSON.parse(l) as Json);
    assert.equal(stopped[0]?.refused, 2);
    assert.equal(stopped[0]?.connections, 4);
    assert.equal(stopped[0]?.socketsReleased, 4, 'the kernel stops tracing both sockets of each untraced connection');
    for (const q of filesFor(files, P).slice(1)) {
      const sides = named(q, 'connectivity:connection_state_updated').map((e) => `${e.data.side} ${e.data.new}`).sort();
      assert.deepEqual(sides, ['client closed', 'client established', 'server closed', 'server established'], q.file);
    }
  });
});

describe('qlog: address filter and maxEventsPerConnection', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tcpulse-qlog-'));
  const out = join(tmp, 'out');
  const [P, Q] = [5813, 5814];
  let lab: Lab;
  let agent: AgentProc | null = null;
  const procs: Running[] = [];
  let files: Qlog[] = [];

  before(async () => {
    lab = await Lab.create('qlogcut');
    const net = lab.ipB.replace(/\.\d+$/, '.0/24');
    const cfg = writeConfig(tmp, { addresses: [net], ports: [P], maxEventsPerConnection: 20 });
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA, '--interval', '200ms', '--config', cfg, '--qlog-dir', out]);
    for (const port of [P, Q]) procs.push(await startSink(lab, lab.nsB, port));
    const cs = await Promise.all([sendBytes(lab, lab.nsA, lab.ipB, P, 1_000_000), sendBytes(lab, lab.nsA, lab.ipB, Q, 1000)]);
    await sleep(300);
    await Promise.all(cs.map((c) => c.stop()));
    await sleep(300);
    await agent.stop();
    files = readQlogDir(out);
  });

  after(async () => {
    await agent?.stop('SIGKILL');
    for (const p of procs) await p.stop('SIGKILL');
    await lab?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('address (CIDR) and port must both match: only the port P connection is traced', () => {
    assert.equal(files.length, 1, files.map((f) => f.file).join('\n'));
    assert.equal(filesFor(files, P).length, 1);
  });

  it('the file stops at 20 events and its last record says what was cut', () => {
    const q = files[0]!;
    assert.equal(q.events.length, 21);
    const t = q.events.at(-1)!;
    assert.equal(t.name, 'tcpulse:truncated');
    assert.equal(t.data.max_events_per_connection, 20);
    assert.equal(t.data.events_written, 20);
    assert.ok(t.data.reasons.includes('max_events_per_connection'));
    const cutByName = Object.values(t.data.cut_by_name as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(t.data.events_cut, cutByName + t.data.cut_in_kernel.packets + t.data.cut_in_kernel.metrics + t.data.lost_in_kernel.packets + t.data.lost_in_kernel.metrics + t.data.dropped_by_writer);
    assert.ok(t.data.cut_by_name['transport:packet_sent'] > 0, JSON.stringify(t.data));
    assert.ok(t.data.cut_in_kernel.packets > 0, 'the kernel stops sending records past the limit too');
    assert.equal(t.data.connection_closed, 'clean');
  });
});

describe('qlog: a real MPTCP connection with two subflows', { skip: await missing('mptcp') }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tcpulse-qlog-mptcp-'));
  const out = join(tmp, 'out');
  const P = 5815;
  const N = 2_000_000;
  let lab: MptcpLab;
  let agent: AgentProc | null = null;
  let files: Qlog[] = [];
  const wires: Wire[] = [];

  before(async () => {
    lab = await MptcpLab.create('qlog');
    const cfg = writeConfig(tmp, { ports: [P] });
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA1, '--interface', lab.vethA2, '--interval', '200ms', '--config', cfg, '--qlog-dir', out]);
    for (const dev of [lab.vethA1, lab.vethA2]) wires.push(await Wire.start(lab, lab.nsA, dev, P));
    await lab.startServer(P);
    await lab.connect(P, N, { holdMs: 100 });
    await sleep(300);
    await agent.stop();
    for (const w of wires) await w.stop();
    files = readQlogDir(out);
  });

  after(async () => {
    for (const w of wires) await w.stop().catch(() => {});
    await agent?.stop('SIGKILL');
    await lab?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('one file for the connection, both subflows in it, each event with its subflow', () => {
    assert.equal(files.length, 1, readdirSync(out).join('\n'));
    const q = files[0]!;
    assert.deepEqual(q.header.trace.common_fields.protocol_type, ['TCP', 'MPTCP']);
    assert.equal(named(q, 'connectivity:connection_started')[0]!.data.protocol, 'MPTCP');
    const sfs = named(q, 'connectivity:subflow_connection_started');
    assert.equal(sfs.length, 2);
    assert.deepEqual(sfs.map((e) => [e.data.subflow_id, e.data.join, e.data.src_ip, e.data.dst_ip, e.data.dst_port]), [
      [0, false, lab.ipA1, lab.ipB1, P],
      [1, true, lab.ipA2, lab.ipB1, P],
    ]);
    assert.notEqual(sfs[0]!.data.ifindex, sfs[1]!.data.ifindex, 'the subflows cross different interfaces');
    assert.equal(named(q, 'connectivity:subflow_connection_closed').length, 2);
    assert.equal(named(q, 'connectivity:connection_closed').length, 1);
    const packets = q.events.filter((e) => e.name.startsWith('transport:'));
    for (const id of [0, 1]) {
      const mine = packets.filter((e) => e.data.subflow_id === id);
      assert.ok(mine.some((e) => hasFlags(e, 'SYN')) && mine.some((e) => hasFlags(e, 'SYN', 'ACK')), `subflow ${id}: handshake`);
      assert.ok(mine.some((e) => e.data.header.flags.includes('FIN')), `subflow ${id}: FIN`);
      assert.ok(named(q, 'recovery:metrics_updated').some((e) => e.data.subflow_id === id), `subflow ${id}: metrics`);
    }
    // each subflow's payload as its interface's wire carried it, and together at least every byte
    const sentOn = (id: number) => payload(packets.filter((e) => e.data.subflow_id === id && e.name === 'transport:packet_sent'));
    const wireSent = (i: number, local: string) => totalPayload(connection(wires[i]!.packets(), local, lab.ipB1, P).egress);
    assert.equal(sentOn(0), wireSent(0, lab.ipA1), `${lab.vethA1}: qlog vs capture`);
    assert.equal(sentOn(1), wireSent(1, lab.ipA2), `${lab.vethA2}: qlog vs capture`);
    assert.ok(sentOn(0) + sentOn(1) >= N, `payload sent ${sentOn(0) + sentOn(1)}`);
    assert.ok(sentOn(1) > 0, 'data on the join');
  });

  it('MPTCP options: MP_CAPABLE keys, MP_JOIN with the token of the server side, DSS', () => {
    const q = files[0]!;
    const opts = (e: Json) => (e.data.header.options ?? []).filter((o: Json) => o.type === 'mptcp');
    const packets = q.events.filter((e) => e.name.startsWith('transport:'));
    const syn0 = packets.find((e) => e.data.subflow_id === 0 && hasFlags(e, 'SYN'))!;
    assert.equal(opts(syn0)[0]?.subtype, 'MP_CAPABLE');
    const join = packets.find((e) => e.data.subflow_id === 1 && hasFlags(e, 'SYN'))!;
    const mpj = opts(join)[0]!;
    assert.equal(mpj.subtype, 'MP_JOIN');
    const serverToken = named(q, 'connectivity:connection_state_updated').find((e) => e.data.side === 'server' && e.data.subflow_id === 0)!.data.mptcp_token;
    assert.equal(mpj.receiver_token, serverToken, 'the join names the server connection token the agent grouped it by');
    assert.equal(named(q, 'connectivity:subflow_connection_started')[1]!.data.token, serverToken);
    assert.ok(packets.some((e) => opts(e).some((o: Json) => o.subtype === 'DSS' && o.data_ack !== undefined)), 'DSS data ACKs');
    const states = named(q, 'connectivity:connection_state_updated').filter((e) => e.data.new === 'established');
    assert.deepEqual(states.map((e) => [e.data.subflow_id, e.data.side, e.data.join]).sort(), [
      [0, 'client', false], [0, 'server', false], [1, 'client', true], [1, 'server', true],
    ]);
  });
});
