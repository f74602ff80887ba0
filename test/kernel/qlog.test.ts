/**
 * The qlog path of bpf/packet.bpf.o under BPF_PROG_TEST_RUN: which flows
 * the filter (ports, CIDRs) traces, what a packet record carries (the TCP
 * header as on the wire), the per-flow limit with SYN/FIN/RST let through,
 * a full ring buffer, and malformed input with every flow traced. Every run
 * asserts verdict pass and an unchanged packet (TestBpf.run).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { decodeQlogRecord, Dir, QlogCfgFlag, QlogFlow, readQlogFlow, writeQlogAddr, type QlogPacketRecord } from '../../src/bpf/layout.js';
import { RingBuffer } from '../../src/bpf/ringbuf.js';
import { addressToString } from '../../src/flows/address.js';
import { ipBytes, parseCidr } from '../../src/probes/qlog.js';
import { decodeTcp, mptcpToken } from '../../src/export/qlog-tcp.js';
import { ALL_PROGS, conn, data, delta, garbageFrames, PROG, TestBpf } from '../helpers/bpfobj.js';
import { tcpPacket, TH } from '../helpers/packet.js';

const ON = QlogCfgFlag.on;

function traced(t: TestContext, flags: number, maxRecords = 1000) {
  const b = TestBpf.open(t, { qlog: flags, qlogMaxRecords: maxRecords });
  const got: QlogPacketRecord[] = [];
  const rb = new RingBuffer(b.obj.map('qlog_events'), (d) => got.push(decodeQlogRecord(d) as QlogPacketRecord));
  t.after(() => rb.close());
  const records = () => (rb.consume(), got.splice(0));
  const port = (p: number) => {
    const k = Buffer.alloc(2);
    k.writeUInt16LE(p);
    b.obj.map('qlog_ports').update(k, Buffer.from([1]));
  };
  const cidr = (c: string) => {
    const { addr, prefixLen } = parseCidr(c);
    b.obj.map('qlog_addrs').update(writeQlogAddr({ prefixlen: prefixLen, addr }), Buffer.from([1]));
  };
  const tracedFlows = () => {
    const m = b.obj.map('traced');
    const out: ReturnType<typeof readQlogFlow>[] = [];
    m.forEachBatch(({ count, values }) => {
      for (let i = 0; i < count; i++) out.push(readQlogFlow(Buffer.from(values.subarray(i * QlogFlow.size, (i + 1) * QlogFlow.size))));
    });
    return out;
  };
  return { b, records, port, cidr, tracedFlows };
}

/** The TCP header (with options) of a frame built by tcpPacket without VLANs: IPv4 at 14. */
const tcpHeaderOf = (frame: Buffer) => {
  const off = 14 + (frame[14]! & 0xf) * 4;
  return frame.subarray(off, off + (frame[off + 12]! >> 4) * 4);
};

describe('qlog in the packet programs', () => {
  it('off (the default): nothing traced, no records', (t) => {
    const { b, records, tracedFlows } = traced(t, 0);
    const c = conn('10.70.0.1', '10.70.0.2');
    b.run(PROG.tcEg, c.out({ flags: TH.SYN }));
    b.run(PROG.tcIn, c.inn({ flags: TH.SYN | TH.ACK }));
    assert.deepEqual(records(), []);
    assert.deepEqual(tracedFlows(), []);
    assert.equal(b.flow(c.sport, c.dport).stats.packets[Dir.egress], 1);
  });

  it('port filter: a matching flow is traced from its first packet, each packet with its TCP header; others are not', (t) => {
    const { b, records, port, tracedFlows } = traced(t, ON | QlogCfgFlag.byPort);
    port(443); // conn() talks to port 443
    const s0 = b.stats();
    const c = conn('10.71.0.1', '10.71.0.2');
    const frames: [string, Buffer][] = [
      [PROG.tcEg, c.out({ flags: TH.SYN, seq: 1000, options: Buffer.from([2, 4, 5, 0xb4, 4, 2, 1, 1, 1, 3, 3, 7]) })],
      [PROG.xdp, c.inn({ flags: TH.SYN | TH.ACK, seq: 5000, ack: 1001 })],
      [PROG.tcEg, c.out({ ...data(7, 8, 300), seq: 1001, ack: 5001 })],
      [PROG.tcIn, c.inn({ flags: TH.FIN | TH.ACK, seq: 5001, ack: 1301 })],
    ];
    for (const [p, f] of frames) b.run(p as (typeof ALL_PROGS)[number], f);
    b.run(PROG.tcEg, tcpPacket({ src: '10.71.0.1', dst: '10.71.0.2', sport: 40999, dport: 80, flags: TH.SYN })); // not port 443
    const rs = records();
    assert.equal(rs.length, 4);
    rs.forEach((r, i) => {
      const [prog, frame] = frames[i]!;
      assert.equal(r.dir, prog === PROG.tcEg ? Dir.egress : Dir.ingress);
      assert.deepEqual([addressToString(r.key.saddr), addressToString(r.key.daddr), r.key.sport, r.key.dport], ['10.71.0.1', '10.71.0.2', c.sport, 443]);
      assert.deepEqual(r.tcp, tcpHeaderOf(frame), `record ${i}: the TCP header as sent`);
      assert.equal(r.l3Len, frame.length - 14);
      assert.equal(r.payload, i === 2 ? 300 : 0);
      assert.equal(r.segs, 1);
    });
    assert.ok(rs.every((r, i) => i === 0 || r.tsNs >= rs[i - 1]!.tsNs));
    assert.deepEqual(tracedFlows().map((f) => [f.records, f.cut, f.lost]), [[4, 0, 0]]);
    assert.deepEqual(delta(s0, b.stats()), { packets: 5, flowCreated: 2, qlogTraced: 1, qlogRecords: 4, tsTaken: 1 });
  });

  it('address filter: an endpoint in the CIDR (LPM trie), either side', (t) => {
    const { b, records, cidr } = traced(t, ON | QlogCfgFlag.byAddr);
    cidr('10.72.128.0/17');
    b.run(PROG.tcEg, conn('10.72.200.1', '10.9.9.9').out({ flags: TH.SYN })); // source in it
    b.run(PROG.tcIn, conn('10.72.129.5', '10.9.9.9').inn({ flags: TH.SYN })); // destination in it
    b.run(PROG.tcEg, conn('10.72.1.1', '10.9.9.9').out({ flags: TH.SYN })); // outside
    assert.deepEqual(records().map((r) => [addressToString(r.key.saddr), r.dir]), [['10.72.200.1', Dir.egress], ['10.72.129.5', Dir.ingress]]);
  });

  it('address filter: IPv6 prefix', (t) => {
    const { b, records, cidr } = traced(t, ON | QlogCfgFlag.byAddr);
    cidr('fd72:0:0:5::/64');
    b.run(PROG.tcEg, conn('fd72:0:0:5::1', 'fd00::2').out({ flags: TH.SYN }));
    b.run(PROG.tcEg, conn('fd72:0:0:6::1', 'fd00::2').out({ flags: TH.SYN }));
    assert.deepEqual(records().map((r) => addressToString(r.key.saddr)), ['fd72:0:0:5::1']);
    assert.deepEqual(ipBytes('::ffff:10.1.2.3'), ipBytes('10.1.2.3'));
  });

  it('per-flow limit: later packets are cut and counted, SYN/FIN/RST still go', (t) => {
    const { b, records, tracedFlows } = traced(t, ON, 3);
    const s0 = b.stats();
    const c = conn('10.73.0.1', '10.73.0.2');
    for (let i = 0; i < 5; i++) b.run(PROG.tcEg, c.out(data(i, 0, 10)));
    b.run(PROG.tcEg, c.out({ flags: TH.FIN | TH.ACK }));
    b.run(PROG.tcIn, c.inn({ flags: TH.RST }));
    assert.equal(records().length, 5);
    assert.deepEqual(tracedFlows().map((f) => [f.records, f.cut]), [[5, 2]]);
    assert.deepEqual(delta(s0, b.stats()), { packets: 7, flowCreated: 1, qlogTraced: 1, qlogRecords: 5, qlogCut: 2, tsTaken: 1 });
  });

  it('ring buffer full: records lost and counted, packets pass', (t) => {
    const { b, tracedFlows } = traced(t, ON); // the default ring: one page, ~28 records
    const c = conn('10.74.0.1', '10.74.0.2');
    for (let i = 0; i < 60; i++) b.run(PROG.tcEg, c.out(data(i, 0, 10)));
    const [f] = tracedFlows();
    assert.ok(f!.lost > 0 && f!.records + f!.lost === 60, JSON.stringify(f));
    assert.equal(b.stats().qlogLost, f!.lost);
  });

  it('malformed and garbage frames with every flow traced: all pass unchanged, records stay within the header', (t) => {
    const { b, records } = traced(t, ON);
    const s0 = b.stats();
    // TCP doff 15 with a 20-byte header: copies only what the frame holds
    const short = tcpPacket({ src: '10.75.0.1', dst: '10.75.0.2', sport: 41000, dport: 80, flags: TH.SYN });
    short[14 + 20 + 12] = 0xf0;
    b.run(PROG.tcEg, short);
    const [r] = records();
    assert.equal(r!.tcp.length, 20);
    let runs = 0;
    for (const [i, f] of garbageFrames(0x9106, 2000).entries()) {
      for (const p of ALL_PROGS) if (b.tryRun(p, f)) runs++;
      if (i % 10 === 0) for (const x of records()) assert.ok(x.tcp.length % 4 === 0 && x.tcp.length <= 60 && x.segs === 1);
    }
    const d = delta(s0, b.stats());
    assert.ok(runs > 5000);
    assert.equal((d.qlogTraced ?? 0) + (d.qlogFull ?? 0), d.flowCreated, 'every new flow is traced or the map is full');
    assert.ok((d.qlogRecords ?? 0) > 0);
  });

  it('options through the kernel and the decoder: SACK blocks, MPTCP DSS with 8-octet fields, ADD_ADDR, REMOVE_ADDR, a malformed one', (t) => {
    const { b, records } = traced(t, ON);
    const c = conn('10.76.0.1', '10.76.0.2');
    const u32 = (...v: number[]) => Buffer.concat(v.map((x) => { const w = Buffer.alloc(4); w.writeUInt32BE(x); return w; }));
    const sack = Buffer.concat([Buffer.from([1, 1, 5, 18]), u32(100, 200, 300, 400)]);
    // DSS: flags A|a|M|m (data ACK and DSN 8 octets), data ACK, DSN, subflow seq, length, checksum
    const dss = Buffer.concat([Buffer.from([30, 28, 0x20, 0x0f]), Buffer.from('0000000100000002', 'hex'), Buffer.from('0000000300000004', 'hex'), u32(5), Buffer.from([0, 6, 0xab, 0xcd])]);
    const addAddr = Buffer.from([30, 10, 0x31, 7, 10, 76, 0, 9, 0x1f, 0x90]); // echo, id 7, 10.76.0.9 port 8080
    const removeAddr = Buffer.from([30, 5, 0x40, 3, 4, 1, 0, 0]); // ids 3 and 4, padded
    const bad = Buffer.from([1, 1, 5, 1]); // SACK of length 1
    for (const options of [Buffer.concat([sack, Buffer.alloc(0)]), dss, Buffer.concat([addAddr, Buffer.from([1, 1])]), removeAddr, bad]) {
      b.run(PROG.tcEg, c.out({ flags: TH.ACK, options }));
    }
    const opts = records().map((r) => decodeTcp(r.tcp)!.json.options as Record<string, unknown>[]);
    assert.deepEqual(opts[0], [{ type: 'sack', blocks: [[100, 200], [300, 400]] }]);
    assert.deepEqual(opts[1], [{
      type: 'mptcp', subtype: 'DSS', length: 28, data_fin: false, data_ack: String(2 ** 32 + 2), data_sequence_number: String(3 * 2 ** 32 + 4),
      subflow_sequence_number: 5, data_level_length: 6, checksum: 0xabcd,
    }]);
    assert.deepEqual(opts[2], [{ type: 'mptcp', subtype: 'ADD_ADDR', length: 10, echo: true, address_id: 7, address: '10.76.0.9', port: 8080 }]);
    assert.deepEqual(opts[3], [{ type: 'mptcp', subtype: 'REMOVE_ADDR', length: 5, address_ids: [3, 4] }]);
    assert.deepEqual(opts[4], [{ type: 'malformed', kind: 5, offset: 2 }]);
    // RFC 8684 token: the top 32 bits of SHA-256(key); a known pair from a captured handshake
    assert.equal(mptcpToken(Buffer.from('18581a9f9fbffe20', 'hex')).toString(16).padStart(8, '0'), '8cb5b364');
  });
});
