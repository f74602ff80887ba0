/**
 * Self-test of the lab helpers that the retransmission and MPTCP end-to-end
 * tests stand on: the loss injector (helpers/drop.ts) on real TCP between
 * two namespaces, checked against a capture of the sender's wire and the
 * sender's own socket counters (exact on a busy machine too), and the
 * two-path MPTCP lab (helpers/mptcp.ts), checked against ss and MPTcpExt.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { attachDropper, DROP_PROG, procNetCounters, retransSegs, type Dropper } from '../helpers/drop.js';
import { run, sleep, until } from '../helpers/exec.js';
import { MptcpLab, type MptcpConnection } from '../helpers/mptcp.js';
import { Lab } from '../helpers/netns.js';
import { ssPeerPort, type SockInfo } from '../helpers/ss.js';
import { sendBytes, startSink } from '../helpers/tcp.js';
import { connection, stream, Wire, type StreamReport } from '../helpers/wire.js';
import { missing } from '../helpers/features.js';

/** What a transfer left: the sender's socket, its data as seen on A's wire, A's counters. */
interface Transfer {
  sock: SockInfo;
  /** The sender's data on the wire of vethA (after TC egress, so after an egress dropper). */
  wire: StreamReport;
  /** Growth of namespace A's Tcp RetransSegs and TcpExt TCPRetransFail (retransmissions that never left). */
  retransSegs: number;
  retransFail: number;
}

async function counters(lab: Lab): Promise<{ retransSegs: number; retransFail: number }> {
  const snmp = await procNetCounters(lab, lab.nsA, 'snmp');
  const netstat = await procNetCounters(lab, lab.nsA, 'netstat');
  return { retransSegs: snmp.get('Tcp.RetransSegs')!, retransFail: netstat.get('TcpExt.TCPRetransFail')! };
}

/**
 * Sends n bytes from A to B through a capture of vethA and waits until all
 * of them are acknowledged; then reads the sender's socket at a moment the
 * wire is quiet, so that its counters and the capture describe the same
 * packets. A is the only TCP user of its namespace.
 */
async function transfer(lab: Lab, port: number, n: number): Promise<Transfer> {
  const wire = await Wire.start(lab, lab.nsA, lab.vethA, port);
  try {
    const c0 = await counters(lab);
    const sink = await startSink(lab, lab.nsB, port);
    try {
      const sender = await sendBytes(lab, lab.nsA, lab.ipB, port, n);
      try {
        await until(`transfer to :${port} acknowledged`, async () => ((await ssPeerPort(lab, lab.nsA, port))[0]?.bytesAcked ?? 0) > n, 60_000);
        const { value: sock, packets } = await wire.quiet(async () => (await ssPeerPort(lab, lab.nsA, port))[0], 300);
        assert.ok(sock, 'sender socket in ss');
        const c1 = await counters(lab);
        return {
          sock,
          wire: stream(connection(packets, lab.ipA, lab.ipB, port).egress),
          retransSegs: c1.retransSegs - c0.retransSegs,
          retransFail: c1.retransFail - c0.retransFail,
        };
      } finally {
        await sender.stop();
      }
    } finally {
      await sink.stop();
    }
  } finally {
    await wire.stop();
  }
}

async function progExists(id: number): Promise<boolean> {
  return (await run('bpftool', ['prog', 'show', 'id', String(id)], { allowFail: true })).code === 0;
}

async function linkExists(id: number): Promise<boolean> {
  return (await run('bpftool', ['link', 'show', 'id', String(id)], { allowFail: true })).code === 0;
}

/** Binomial: dropped within 5 standard deviations (plus slack) of p * seen. */
function assertFraction(d: Dropper, perMillion: number): void {
  const p = perMillion / 1e6;
  const seen = d.seen();
  const dropped = d.dropped();
  const sd = Math.sqrt(seen * p * (1 - p));
  assert.ok(seen >= 500, `too few eligible packets for a rate check: ${seen}`);
  assert.ok(Math.abs(dropped - p * seen) <= 5 * sd + 2, `dropped ${dropped} of ${seen}, expected ~${(p * seen).toFixed(1)} ± ${(5 * sd).toFixed(1)}`);
}

// the loss injector attaches by tcx link
const noTcx = await missing('tcx');

describe('loss injection', { skip: noTcx }, () => {
  let lab: Lab;
  const droppers: Dropper[] = [];
  const labs: Lab[] = [];
  const N = 100_000_000;
  const PER_MILLION = 20_000; // 2 %

  before(async () => {
    lab = await Lab.create('lab');
    labs.push(lab);
  });
  after(async () => {
    for (const d of droppers) d.close();
    for (const l of labs) await l.destroy();
  });

  it('2 % lost at the sender egress: every lost byte retransmitted, counted in RetransSegs; close() removes everything', async () => {
    const d = await attachDropper(lab, lab.nsA, lab.vethA, PER_MILLION);
    droppers.push(d);
    assert.ok(await progExists(d.progId));
    assert.deepEqual(d.link(), { type: 'tcx', ifindex: d.ifindex, attachType: 47 }); // BPF_TCX_EGRESS
    const ifindexInA = Number((await lab.exec(lab.nsA, 'cat', [`/sys/class/net/${lab.vethA}/ifindex`])).stdout);
    assert.equal(d.ifindex, ifindexInA, 'attached to the interface of namespace A');

    const t = await transfer(lab, 5301, N);
    const c = d.counters();
    assert.ok(c.dropped > 0, `dropped ${JSON.stringify(c)}`);
    assertFraction(d, PER_MILLION);
    // The wire after the dropper: every byte arrived once fresh, some were
    // skipped at first (the drops), and no hole is left.
    assert.equal(t.wire.fresh, N, JSON.stringify(t.wire));
    assert.ok(t.wire.skipped > 0 && t.wire.holes === 0, JSON.stringify(t.wire));
    // TCP's own account, exact on a busy machine too: it sent again every
    // dropped byte (first sendings and retransmissions the dropper hit),
    // and the rest of what it retransmitted was on the wire already
    // (spurious: tail loss probes, RACK on reordering).
    assert.equal(t.sock.bytesRetrans, t.wire.dup + c.droppedBytes, `bytes_retrans vs ${t.wire.dup} repeated on the wire + ${c.droppedBytes} dropped`);
    assert.ok(t.sock.retrans >= c.droppedSegs, `retransmitted segments ${t.sock.retrans} < dropped segments ${c.droppedSegs}`);
    assert.equal(t.retransSegs, t.sock.retrans, 'RetransSegs of the namespace = the socket\'s total_retrans');
    assert.equal(t.retransFail, 0, 'a silent drop is a successful send for TCP');

    // its name as bpftool shows it (the kernel keeps 15 characters, bpftool completes it from BTF)
    const progs = JSON.parse((await run('bpftool', ['prog', 'show', '-j'])).stdout) as { id: number; name?: string }[];
    assert.equal(progs.find((p) => p.id === d.progId)?.name, DROP_PROG);

    d.close();
    d.close(); // idempotent
    assert.equal(await progExists(d.progId), false, 'program unloaded');
    assert.equal(await linkExists(d.linkId), false, 'link gone');
    const links = JSON.parse((await run('bpftool', ['link', 'show', '-j'])).stdout) as { prog_id: number }[];
    assert.ok(!links.some((l) => l.prog_id === d.progId), 'no link holds the program');
    // and traffic flows undisturbed again: nothing skipped on the wire, and
    // whatever TCP retransmitted (a busy machine makes it do so spuriously)
    // had left before
    const u = await transfer(lab, 5302, 10_000_000);
    assert.equal(u.wire.skipped, 0, JSON.stringify(u.wire));
    assert.equal(u.wire.fresh, 10_000_000);
    assert.equal(u.sock.bytesRetrans, u.wire.dup, 'every retransmitted byte was on the wire before');
  });

  it('TC_ACT_SHOT at the receiver ingress: every lost byte retransmitted', async () => {
    const d = await attachDropper(lab, lab.nsB, lab.vethB, PER_MILLION, { dir: 'ingress' });
    droppers.push(d);
    const t = await transfer(lab, 5303, N);
    const c = d.counters();
    d.close();
    assert.ok(c.dropped > 0);
    assertFraction(d, PER_MILLION);
    // dropped after A's wire: A's retransmissions repeat bytes that had left
    assert.equal(t.wire.skipped, 0, JSON.stringify(t.wire));
    assert.equal(t.sock.bytesRetrans, t.wire.dup);
    assert.ok(t.sock.bytesRetrans >= c.droppedBytes, `bytes_retrans ${t.sock.bytesRetrans} < dropped bytes ${c.droppedBytes}`);
    assert.ok(t.sock.retrans >= c.droppedSegs, `retransmitted segments ${t.sock.retrans} < dropped segments ${c.droppedSegs}`);
  });

  it('TC_ACT_SHOT at the sender egress is no loss: TCP sends the segment again as new data', async () => {
    // pins the reason why egress drops are silent by default
    const d = await attachDropper(lab, lab.nsA, lab.vethA, PER_MILLION, { verdict: 'shot' });
    droppers.push(d);
    const t = await transfer(lab, 5304, N / 2);
    const c = d.counters();
    d.close();
    assert.ok(c.droppedSegs > 100, JSON.stringify(c));
    // TCP never went past a segment it failed to send: no byte skipped on the wire
    assert.equal(t.wire.skipped, 0, JSON.stringify(t.wire));
    assert.equal(t.wire.fresh, N / 2);
    // and none of the dropped segments was retransmitted: every
    // retransmission either repeated what was on the wire (spurious) or
    // never left (TCPRetransFail: a retransmission the dropper hit)
    assert.equal(t.wire.partial, 0);
    assert.equal(t.sock.retrans, t.wire.dupSegs + t.retransFail, `total_retrans vs ${t.wire.dupSegs} repeated on the wire + ${t.retransFail} failed`);
  });

  it('deleting the namespace detaches the link; close() then frees the rest', async () => {
    const l2 = await Lab.create('labdel');
    labs.push(l2);
    const d = await attachDropper(l2, l2.nsA, l2.vethA, PER_MILLION);
    droppers.push(d);
    assert.notEqual(d.link()?.ifindex, 0);
    await l2.destroy();
    assert.equal(existsSync(`/run/netns/${l2.nsA}`), false);
    let detached = false;
    for (let i = 0; i < 100 && !detached; i++) {
      detached = d.link()?.ifindex === 0;
      if (!detached) await sleep(50);
    }
    assert.ok(detached, 'tcx link detached when its device went with the namespace');
    d.close();
    assert.equal(d.link(), null);
    assert.equal(await progExists(d.progId), false);
    assert.equal(await linkExists(d.linkId), false);
  });
});

describe('MPTCP lab', { skip: await missing('mptcp') }, () => {
  let lab: MptcpLab;
  before(async () => {
    lab = await MptcpLab.create('lab');
  });
  after(async () => {
    await lab?.destroy();
  });

  it('one connection has exactly two subflows, one over each veth pair', async () => {
    const port = 5310;
    const bytes = 8_000_000;
    const server = await lab.startServer(port);
    const a0 = await lab.counters(lab.nsA);
    const b0 = await lab.counters(lab.nsB);
    const l0 = { a1: await lab.linkStats(lab.nsA, lab.vethA1), a2: await lab.linkStats(lab.nsA, lab.vethA2) };
    let connA: MptcpConnection[] = [];
    let connB: MptcpConnection[] = [];
    const snap = await lab.connect(port, bytes, {
      holdMs: 100,
      during: async () => {
        connA = await lab.connections(port, lab.nsA);
        connB = await lab.connections(port, lab.nsB);
      },
    });

    // the kernel's view in A: one MPTCP socket, two TCP subflows carrying its token
    assert.equal(connA.length, 1, JSON.stringify(connA));
    const [ca] = connA as [MptcpConnection];
    assert.equal(ca.token, Number.parseInt(snap.info.token, 16), 'ss token = MPTCP_INFO token');
    assert.equal(ca.msk?.subflows, 1, 'msk: one subflow beyond the first');
    assert.equal(ca.subflows.length, 2);
    const first = ca.subflows.find((s) => s.flags.includes('M'));
    const join = ca.subflows.find((s) => s.flags.includes('J'));
    assert.ok(first && join, JSON.stringify(ca.subflows));
    assert.equal(first.local.split(':')[0], lab.ipA1);
    assert.equal(first.peer, `${lab.ipB1}:${port}`);
    assert.equal(join.local.split(':')[0], lab.ipA2);
    assert.equal(join.dev, lab.vethA2);
    assert.equal(join.peer, `${lab.ipB1}:${port}`);
    assert.equal(join.localId, 1, 'the endpoint id');
    // and in B: the same two subflows, from A's two addresses
    assert.equal(connB.length, 1, JSON.stringify(connB));
    assert.deepEqual(connB[0]!.subflows.map((s) => s.peer.split(':')[0]).sort(), [lab.ipA1, lab.ipA2].sort());
    assert.equal(join.remoteToken, connB[0]!.token, 'the join carried B\'s token');

    // the client's own view, just before it closed
    assert.equal(snap.subflows.length, 2);
    assert.equal(snap.info.subflows, 1);
    assert.equal(snap.info.bytesAcked, bytes);
    const sent = snap.subflows.reduce((s, f) => s + (f.bytesSent ?? 0), 0);
    assert.ok(sent >= bytes, `subflows sent ${sent} of ${bytes}`);
    assert.ok(snap.subflows.every((f) => (f.bytesSent ?? 0) > 0), 'data over both subflows');

    // MPTcpExt: one MP_CAPABLE and one MP_JOIN handshake each side
    const a1 = await lab.counters(lab.nsA);
    const b1 = await lab.counters(lab.nsB);
    const delta = (x: Record<string, number>, y: Record<string, number>, k: string) => (y[k] ?? NaN) - (x[k] ?? NaN);
    assert.equal(delta(a0, a1, 'MPCapableSYNACKRX'), 1);
    assert.equal(delta(a0, a1, 'MPJoinSynAckRx'), 1);
    assert.equal(delta(b0, b1, 'MPCapableACKRX'), 1);
    assert.equal(delta(b0, b1, 'MPJoinAckRx'), 1);

    // each subflow's bytes left through its own interface
    const byLocal = new Map(snap.subflows.map((f) => [f.local.split(':')[0], f.bytesSent ?? 0]));
    const tx1 = (await lab.linkStats(lab.nsA, lab.vethA1)).txBytes - l0.a1.txBytes;
    const tx2 = (await lab.linkStats(lab.nsA, lab.vethA2)).txBytes - l0.a2.txBytes;
    assert.ok(tx1 >= byLocal.get(lab.ipA1)!, `${lab.vethA1} sent ${tx1} bytes`);
    assert.ok(tx2 >= byLocal.get(lab.ipA2)!, `${lab.vethA2} sent ${tx2} bytes`);
    assert.ok(tx2 < byLocal.get(lab.ipA2)! + 1_000_000, `${lab.vethA2} carried only its subflow: ${tx2}`);

    // the server got everything, and nothing is left open
    for (let i = 0; i < 100 && server.closed().length === 0; i++) await sleep(20);
    assert.deepEqual(server.closed().map((c) => c.bytes), [bytes]);
    assert.deepEqual(await lab.connections(port, lab.nsA), []);
    await server.stop();
  });

  it('losses on one path are retransmitted by the subflow on that path (dropper on vethA1)', { skip: noTcx }, async () => {
    const port = 5311;
    const server = await lab.startServer(port);
    const d = await attachDropper(lab, lab.nsA, lab.vethA1, 50_000); // 5 %
    try {
      // the scheduler's split between the subflows varies from run to run:
      // repeat until the path with the dropper carried some loss
      for (let attempt = 0; ; attempt++) {
        const c0 = d.counters();
        const r0 = await retransSegs(lab, lab.nsA);
        const snap = await lab.connect(port, 20_000_000);
        const dropped = d.counters().droppedSegs - c0.droppedSegs;
        const retrans = (await retransSegs(lab, lab.nsA)) - r0;
        if (dropped === 0 && attempt < 5) continue;
        assert.ok(dropped > 0, 'no loss in 6 connections');
        const lossy = snap.subflows.find((f) => f.local.startsWith(`${lab.ipA1}:`));
        const clean = snap.subflows.find((f) => f.local.startsWith(`${lab.ipA2}:`));
        assert.ok(lossy && clean, JSON.stringify(snap.subflows));
        // Not ">= dropped" as for plain TCP: MPTCP may reinject lost data on
        // the other subflow, the data ACK then completes before the lossy
        // subflow has retransmitted everything, and a subflow closed with
        // data outstanding does not retransmit it.
        const msg = `${lab.vethA1}: ${dropped} segments dropped; retransmitted: ${lossy.totalRetrans} there, ${clean.totalRetrans} on ${lab.vethA2}`;
        assert.ok((lossy.totalRetrans ?? 0) > 0, msg);
        assert.ok((lossy.totalRetrans ?? 0) > (clean.totalRetrans ?? 0), msg);
        assert.ok(retrans > 0);
        break;
      }
    } finally {
      d.close();
      await server.stop();
    }
  });
});
