/**
 * The real bpf/packet.bpf.o under BPF_PROG_TEST_RUN: crafted frames through
 * tcpulse_xdp_in / tcpulse_tc_in / tcpulse_tc_eg, results read back from the
 * flows, stats and events maps. Every run asserts verdict pass and an
 * unchanged packet (TestBpf.run). The test runs all see ifindex 1, so egress
 * and ingress runs of one connection share a flow entry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Dir, FlowEventType, FlowFlag, Side } from '../../src/bpf/layout.js';
import { testRun } from '../helpers/testrun.js';
import { bucketOf } from '../../src/flows/histogram.js';
import { ack, ALL_PROGS, conn, data, delta, garbageFrames, newPort, nowNs, PROG, sleepSince, TestBpf } from '../helpers/bpfobj.js';
import type { Opts, ProgName, Stats } from '../helpers/bpfobj.js';
import { tcpPacket, TH } from '../helpers/packet.js';

const rtt = (b: TestBpf, c: { sport: number; dport: number }) => b.flow(c.sport, c.dport).stats.rtt;

describe('RTT from TCP timestamps', () => {
  for (const ing of [PROG.xdp, PROG.tcIn] as const) {
    it(`egress TSval echoed at ${ing}: one rtt[dst] sample of the elapsed time`, async (t) => {
      const b = TestBpf.open(t);
      const c = conn();
      const s0 = b.stats();
      const [sent0, sent1] = b.timed(PROG.tcEg, c.out(data(5000, 70)));
      await sleepSince(sent1, 30e6);
      const [echo0, echo1] = b.timed(ing, c.inn(ack(71, 5000)));
      b.run(ing, c.inn(ack(72, 5000))); // the same echo again: no second sample
      const f = b.flow(c.sport, c.dport);
      const r = f.stats.rtt[Side.dst];
      assert.equal(r.count, 1);
      assert.ok(r.minNs >= 30e6 && r.minNs < 1e9, `min_ns ${r.minNs}`);
      assert.ok(r.minNs >= echo0 - sent1 && r.minNs <= echo1 - sent0, `min_ns ${r.minNs} outside the measured interval`);
      assert.equal(r.sumNs, r.minNs);
      assert.equal(r.winMinNs, r.minNs);
      assert.deepEqual(f.hist(Side.dst), { [bucketOf('seconds', r.minNs)]: 1 });
      assert.equal(f.stats.rtt[Side.src].count, 0);
      assert.deepEqual(f.hist(Side.src), {});
      assert.deepEqual(delta(s0, b.stats()), { packets: 3, flowCreated: 1, tsTaken: 1, rttSamples: 1 });
    });

    it(`TSval arriving at ${ing} echoed on egress: one rtt[src] sample`, async (t) => {
      const b = TestBpf.open(t);
      const c = conn('10.0.1.1', '10.0.1.2');
      const [sent0, sent1] = b.timed(ing, c.inn(data(9000, 0)));
      await sleepSince(sent1, 30e6);
      const [echo0, echo1] = b.timed(PROG.tcEg, c.out(ack(1, 9000)));
      b.run(PROG.tcEg, c.out(ack(2, 9000)));
      const f = b.flow(c.sport, c.dport);
      const r = f.stats.rtt[Side.src];
      assert.equal(r.count, 1);
      assert.ok(r.minNs >= echo0 - sent1 && r.minNs <= echo1 - sent0 && r.minNs >= 30e6 && r.minNs < 1e9);
      assert.deepEqual(f.hist(Side.src), { [bucketOf('seconds', r.minNs)]: 1 });
      assert.equal(f.stats.rtt[Side.dst].count, 0);
    });
  }

  it('only the first packet carrying a TSval is timed', (t) => {
    const b = TestBpf.open(t);
    const c = conn('10.0.2.1', '10.0.2.2');
    const s0 = b.stats();
    b.run(PROG.tcEg, c.out(data(100, 1)));
    b.run(PROG.tcEg, c.out(data(100, 1))); // same TSval: not timed again
    b.run(PROG.xdp, c.inn(ack(2, 100)));
    assert.equal(rtt(b, c)[Side.dst].count, 1);
    b.run(PROG.tcEg, c.out(data(100, 2))); // TSval already seen: must not restart timing
    b.run(PROG.xdp, c.inn(ack(3, 100)));
    assert.equal(rtt(b, c)[Side.dst].count, 1);
    b.run(PROG.tcEg, c.out(data(101, 3))); // a new TSval is timed
    b.run(PROG.xdp, c.inn(ack(4, 101)));
    assert.equal(rtt(b, c)[Side.dst].count, 2);
    assert.deepEqual(delta(s0, b.stats()), { packets: 7, flowCreated: 1, tsTaken: 2, rttSamples: 2 });
  });

  it('pure ACKs are not timed; a FIN without payload is', (t) => {
    const b = TestBpf.open(t);
    const c = conn('10.0.3.1', '10.0.3.2');
    const s0 = b.stats();
    b.run(PROG.tcEg, c.out(ack(200, 1)));
    b.run(PROG.tcIn, c.inn(ack(2, 200)));
    assert.equal(rtt(b, c)[Side.dst].count, 0);
    assert.deepEqual(delta(s0, b.stats()), { packets: 2, flowCreated: 1 });
    b.run(PROG.tcEg, c.out({ flags: TH.FIN | TH.ACK, ts: { val: 201, ecr: 2 } }));
    b.run(PROG.tcIn, c.inn(ack(3, 201)));
    assert.equal(rtt(b, c)[Side.dst].count, 1);
    assert.deepEqual(delta(s0, b.stats()), { packets: 4, flowCreated: 1, tsTaken: 1, rttSamples: 1 });
  });

  it('SYN, SYN-ACK, ACK: both handshake legs are timed and the SYN flags set', (t) => {
    const b = TestBpf.open(t);
    const c = conn('10.0.4.1', '10.0.4.2');
    const s0 = b.stats();
    b.run(PROG.tcEg, c.out({ flags: TH.SYN, ts: { val: 300, ecr: 0 } }));
    b.run(PROG.xdp, c.inn({ flags: TH.SYN | TH.ACK, ts: { val: 900, ecr: 300 } }));
    b.run(PROG.tcEg, c.out(ack(301, 900)));
    const f = b.flow(c.sport, c.dport);
    assert.equal(f.stats.rtt[Side.dst].count, 1);
    assert.equal(f.stats.rtt[Side.src].count, 1);
    assert.equal(f.stats.flags, FlowFlag.synEgress | FlowFlag.synackIngress);
    assert.deepEqual(delta(s0, b.stats()), { packets: 3, flowCreated: 1, tsTaken: 2, rttSamples: 2 });
  });

  it('an echo of an older TSval waits; a later one discards the pending timestamp', (t) => {
    const b = TestBpf.open(t);
    const c = conn('10.0.5.1', '10.0.5.2');
    const s0 = b.stats();
    b.run(PROG.tcEg, c.out(data(400, 1)));
    b.run(PROG.xdp, c.inn(ack(2, 399))); // older: keeps waiting
    b.run(PROG.xdp, c.inn(ack(3, 400)));
    assert.equal(rtt(b, c)[Side.dst].count, 1);
    b.run(PROG.tcEg, c.out(data(402, 3)));
    b.run(PROG.xdp, c.inn(ack(4, 403))); // later: ours will never come back
    b.run(PROG.xdp, c.inn(ack(5, 402)));
    b.run(PROG.tcEg, c.out(data(0xfffffff0, 5))); // across the 2^32 wrap
    b.run(PROG.xdp, c.inn(ack(6, 0x10)));
    b.run(PROG.xdp, c.inn(ack(7, 0xfffffff0)));
    assert.equal(rtt(b, c)[Side.dst].count, 1);
    assert.deepEqual(delta(s0, b.stats()), { packets: 9, flowCreated: 1, tsTaken: 3, rttSamples: 1, tsExpired: 2 });
  });
});

describe('counters and events', () => {
  it('packets and bytes per direction; XDP counts IP length, TC the skb length after L2', (t) => {
    const b = TestBpf.open(t);
    const c = conn('10.0.6.1', '10.0.6.2');
    const pad = (p: Buffer) => Buffer.concat([p, Buffer.alloc(60 - p.length)]); // Ethernet minimum frame
    const small = pad(c.out({}));
    assert.equal(small.length, 60); // 14 + 40 IP bytes + 6 padding
    const [first0, first1] = b.timed(PROG.tcEg, small);
    b.run(PROG.tcEg, c.out(data(1, 0, 100))); // 14 + 152
    b.run(PROG.xdp, pad(c.inn({})));
    const [last0, last1] = b.timed(PROG.tcIn, pad(c.inn({})));
    const f = b.flow(c.sport, c.dport).stats;
    assert.deepEqual(f.packets, [2, 2]);
    assert.equal(f.bytes[Dir.egress], 46 + 152);
    assert.equal(f.bytes[Dir.ingress], 40 + 46);
    assert.ok(f.firstNs >= first0 && f.firstNs <= first1, 'first_ns');
    assert.ok(f.lastNs >= last0 && f.lastNs <= last1, 'last_ns');
    assert.equal(f.flags, 0);

    const v = conn('10.0.6.3', '10.0.6.4', { vlans: [5] });
    const tagged = Buffer.concat([v.inn({}), Buffer.alloc(6)]);
    assert.equal(tagged.length, 64); // 18 + 40 + 6 padding
    b.run(PROG.xdp, tagged);
    b.run(PROG.tcIn, tagged);
    assert.deepEqual(b.flow(v.sport, v.dport).stats.bytes, [40 + 46, 0]);
  });

  it('events: opened on creation, closed by FIN both ways, closed by RST', (t) => {
    const b = TestBpf.open(t);
    const c = conn('10.0.7.1', '10.0.7.2');
    b.run(PROG.tcEg, c.out({ flags: TH.SYN, ts: { val: 1, ecr: 0 } }));
    const fa = b.flow(c.sport, c.dport).stats;
    const key = { saddr: '10.0.7.1', daddr: '10.0.7.2', sport: c.sport, dport: c.dport };
    assert.deepEqual(b.events(), [{ ...key, tsNs: fa.firstNs, type: FlowEventType.opened, flags: 0 }]);
    b.run(PROG.tcEg, c.out({ flags: TH.FIN | TH.ACK }));
    assert.deepEqual(b.events(), []);
    b.run(PROG.xdp, c.inn({ flags: TH.FIN | TH.ACK }));
    const fin = FlowFlag.synEgress | FlowFlag.finEgress | FlowFlag.finIngress;
    const evs = b.events();
    assert.equal(evs.length, 1);
    assert.deepEqual({ ...evs[0], tsNs: 0 }, { ...key, tsNs: 0, type: FlowEventType.closedFin, flags: fin });
    assert.equal(evs[0]!.tsNs, b.flow(c.sport, c.dport).stats.lastNs);
    b.run(PROG.tcIn, c.inn({ flags: TH.FIN | TH.ACK }));
    b.run(PROG.tcEg, c.out({ flags: TH.ACK }));
    assert.deepEqual(b.events(), []);
    assert.equal(b.flow(c.sport, c.dport).stats.flags, fin);
    b.run(PROG.tcEg, c.out({ flags: TH.RST }));
    assert.deepEqual(b.events(), [], 'a RST after FIN both ways closes nothing twice');

    const r = conn('10.0.7.3', '10.0.7.4');
    b.run(PROG.tcIn, r.inn({ flags: TH.RST }));
    const types = b.events().map((e) => [e.saddr, e.daddr, e.sport, e.dport, e.type, e.flags]);
    assert.deepEqual(types, [
      ['10.0.7.3', '10.0.7.4', r.sport, r.dport, FlowEventType.opened, 0],
      ['10.0.7.3', '10.0.7.4', r.sport, r.dport, FlowEventType.closedRst, FlowFlag.rstIngress],
    ]);
    b.run(PROG.tcEg, r.out({ flags: TH.RST }));
    assert.deepEqual(b.events(), []);
    assert.equal(b.flow(r.sport, r.dport).stats.flags, FlowFlag.rstIngress | FlowFlag.rstEgress);
  });
});

describe('IPv6 and VLAN', () => {
  const variants: { name: string; src: string; dst: string; l2: Opts }[] = [
    { name: 'IPv6', src: '2001:db8::1', dst: '2001:db8:0:1::2', l2: {} },
    ...[1, 2, 3].map((n) => ({ name: `IPv6 + ${n} destination options`, src: 'fd00::a:1', dst: 'fd00::b:2', l2: { ipv6Ext: n } })),
    { name: 'IPv4 in one VLAN tag', src: '192.168.7.1', dst: '192.168.7.2', l2: { vlans: [7] } },
    { name: 'IPv4 in 802.1ad + 802.1Q', src: '192.168.8.1', dst: '192.168.8.2', l2: { vlans: [100, 8] } },
    { name: 'IPv6 + 2 options in 802.1ad + 802.1Q', src: '2001:db8::9', dst: '2001:db8::a', l2: { vlans: [100, 9], ipv6Ext: 2 } },
  ];
  for (const v of variants) {
    it(`${v.name}: flow key, counters and RTT both ways`, (t) => {
      const b = TestBpf.open(t);
      const c = conn(v.src, v.dst, v.l2);
      const l2 = 14 + 4 * (v.l2.vlans?.length ?? 0);
      const eg = [c.out(data(1000, 0)), c.out(ack(1001, 7000))];
      const ing = [c.inn(ack(6999, 1000)), c.inn(data(7000, 1001, 33))];
      b.run(PROG.tcEg, eg[0]!);
      b.run(PROG.xdp, ing[0]!);
      b.run(PROG.tcIn, ing[1]!);
      b.run(PROG.tcEg, eg[1]!);
      const all = b.flows();
      assert.equal(all.length, 1);
      const f = all[0]!;
      assert.deepEqual([f.saddr, f.daddr, f.sport, f.dport, f.ifindex], [v.src, v.dst, c.sport, c.dport, 1]);
      assert.deepEqual([f.stats.rtt[Side.dst].count, f.stats.rtt[Side.src].count], [1, 1]);
      assert.deepEqual(f.stats.packets, [2, 2]);
      const l3 = (ps: Buffer[]) => ps.reduce((s, p) => s + p.length - l2, 0);
      assert.deepEqual(f.stats.bytes, [l3(ing), l3(eg)]);
    });
  }
});

describe('robustness: every frame passes unchanged and is counted', () => {
  const v4 = (o: Opts = {}) => tcpPacket({ src: '10.9.0.1', dst: '10.9.0.2', sport: newPort(), dport: 80, ...data(9, 0, 10), ...o });
  const v6 = (o: Opts = {}) => tcpPacket({ src: 'fd09::1', dst: 'fd09::2', sport: newPort(), dport: 80, ...data(9, 0, 10), ...o });
  const set = (p: Buffer, f: (p: Buffer) => void) => (f(p), p);
  const bad = (k: 'malformed' | 'notTcp' | 'fragment'): Partial<Stats> => ({ packets: 3, [k]: 3 });
  // parsed: egress creates one flow, the two ingress programs share the reverse one; each times the TSval once
  const ok = (timed = true): Partial<Stats> => ({ packets: 3, flowCreated: 2, ...(timed ? { tsTaken: 2 } : {}) });
  const tsAfter = (opt: number[]) => Buffer.concat([Buffer.from(opt), Buffer.from([8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0])]);
  const v6frag = (off: number) => set(v6({ ipv6Ext: 1 }), (p) => ((p[20] = 44), p.writeUInt16BE(off, 56)));
  const cases: [string, () => Buffer, Partial<Stats>][] = [
    ['valid IPv4 frame', () => v4(), ok()],
    ['valid IPv6 frame with 6 extension headers', () => v6({ ipv6Ext: 6 }), ok()],
    ...[0, 1, 2, 3, 4].map((d): [string, () => Buffer, Partial<Stats>] => [`TCP doff ${d}`, () => set(v4(), (p) => (p[46] = d << 4)), bad('malformed')]),
    ['TCP doff 15, past the end of the frame', () => set(v4(), (p) => (p[46] = 0xf0)), ok(false)],
    ['TCP option of length 0 before the timestamp', () => v4({ options: tsAfter([3, 0, 1, 1]) }), ok(false)],
    ['TCP option of length 1 before the timestamp', () => v4({ options: tsAfter([3, 1, 1, 1]) }), ok(false)],
    ['TCP options: 40 NOPs', () => v4({ options: Buffer.alloc(40, 1) }), ok(false)],
    ...[0, 1, 2, 3, 4].map((i): [string, () => Buffer, Partial<Stats>] => [`IPv4 ihl ${i}`, () => set(v4(), (p) => (p[14] = 0x40 | i)), bad('malformed')]),
    ['IPv4 ihl 15, past the end', () => set(v4(), (p) => (p[14] = 0x4f)), bad('malformed')],
    ['IPv4 ethertype, version 6', () => set(v4(), (p) => (p[14] = 0x65)), bad('malformed')],
    ['IPv4 total length below the header', () => set(v4(), (p) => p.writeUInt16BE(16, 16)), bad('malformed')],
    ['IPv4 non-first fragment', () => set(v4(), (p) => p.writeUInt16BE(0x0001, 20)), bad('fragment')],
    ['IPv4 middle fragment (MF, offset 16)', () => set(v4(), (p) => p.writeUInt16BE(0x2002, 20)), bad('fragment')],
    ['IPv4 first fragment (MF, offset 0)', () => set(v4(), (p) => p.writeUInt16BE(0x2000, 20)), ok()],
    ['IPv4 DF', () => set(v4(), (p) => p.writeUInt16BE(0x4000, 20)), ok()],
    ['IPv6 non-first fragment', () => v6frag(0x0008), bad('fragment')],
    ['IPv6 first fragment (M, offset 0)', () => v6frag(0x0001), ok()],
    ['IPv6 ethertype, version 4', () => set(v6(), (p) => (p[14] = 0x40)), bad('malformed')],
    ['IPv6 options header length past the end', () => set(v6({ ipv6Ext: 1 }), (p) => (p[55] = 255)), bad('malformed')],
    ['IPv6 with 7 extension headers', () => v6({ ipv6Ext: 7 }), bad('notTcp')],
    ['UDP over IPv4', () => set(v4(), (p) => (p[23] = 17)), bad('notTcp')],
    ['UDP over IPv6', () => set(v6(), (p) => (p[20] = 17)), bad('notTcp')],
    ['ICMPv6 after an options header', () => set(v6({ ipv6Ext: 1 }), (p) => (p[54] = 58)), bad('notTcp')],
    ['ARP ethertype', () => set(v4(), (p) => p.writeUInt16BE(0x0806, 12)), bad('notTcp')],
    ['three VLAN tags', () => v4({ vlans: [1, 2, 3] }), bad('notTcp')],
  ];
  let b: TestBpf;
  before(() => (b = TestBpf.load()));
  after(() => b.close());

  for (const [name, make, want] of cases) {
    it(name, () => {
      const pkt = make();
      const s0 = b.stats();
      for (const p of ALL_PROGS) b.run(p, pkt);
      assert.deepEqual(delta(s0, b.stats()), want);
    });
  }

  it('truncated at every length: malformed until the TCP header is whole', () => {
    const frames: [Buffer, number][] = [
      [v4(), 14 + 20 + 20],
      [v6({ ipv6Ext: 2 }), 14 + 40 + 16 + 20],
      [v4({ vlans: [100, 7] }), 22 + 20 + 20],
      [v6({ vlans: [7] }), 18 + 40 + 20],
    ];
    const s0 = b.stats();
    let runs = 0;
    let malformed = 0;
    for (const [full, tcpEnd] of frames) {
      for (let n = 0; n <= full.length; n++) {
        const cut = Buffer.from(full.subarray(0, n));
        for (const p of ALL_PROGS) {
          if (n < 14) assert.throws(() => testRun(b.fd(p), cut), { errno: 22 }, `${p} ran on ${n} bytes`);
          else if (b.tryRun(p, cut)) {
            runs++;
            if (n < tcpEnd) malformed++;
          }
        }
      }
    }
    const d = delta(s0, b.stats());
    assert.deepEqual([d.packets, d.malformed, d.notTcp, d.fragment, d.flowCreateError], [runs, malformed, undefined, undefined, undefined]);
  });

  it('random garbage (seeded): 3000 frames through all programs', () => {
    const s0 = b.stats();
    let opened = 0;
    let runs = 0;
    const drain = () => (opened += b.events().filter((e) => e.type === FlowEventType.opened).length);
    b.events(); // earlier tests' events
    for (const [i, f] of garbageFrames(0x7c0ffee, 3000).entries()) {
      for (const p of ALL_PROGS) if (b.tryRun(p, f)) runs++;
      if (i % 500 === 0) drain();
    }
    drain();
    const d = delta(s0, b.stats());
    assert.ok(runs > 8500, `only ${runs} runs`);
    assert.equal(d.packets, runs);
    assert.equal(d.flowCreateError, undefined);
    assert.equal(d.eventsLost, undefined);
    assert.equal(opened, d.flowCreated, 'one opened event per flow created');
    for (const k of ['malformed', 'notTcp', 'fragment', 'flowCreated'] as const) assert.ok((d[k] ?? 0) > 0, `${k} never reached`);
    assert.ok((d.malformed ?? 0) + (d.notTcp ?? 0) + (d.fragment ?? 0) < runs);
  });
});

describe('settings from .rodata', () => {
  it('rtt_rate_limit_ns: a second timestamp within the limit is not taken', (t) => {
    for (const [limit, samples] of [[10e9, 1], [0, 2]] as const) {
      const b = TestBpf.open(t, { rttRateLimitNs: limit });
      const c = conn('10.0.8.1', '10.0.8.2');
      const s0 = b.stats();
      b.run(PROG.tcEg, c.out(data(10, 1)));
      b.run(PROG.xdp, c.inn(ack(2, 10)));
      b.run(PROG.tcEg, c.out(data(11, 2)));
      b.run(PROG.xdp, c.inn(ack(3, 11)));
      assert.equal(rtt(b, c)[Side.dst].count, samples, `rate limit ${limit}`);
      assert.equal(delta(s0, b.stats()).tsTaken, samples);
    }
  });

  it('ts_timeout_ns: a pending timestamp past the timeout is replaced by a new TSval', async (t) => {
    const b = TestBpf.open(t, { tsTimeoutNs: 20e6 });
    const c = conn('10.0.9.1', '10.0.9.2');
    const s0 = b.stats();
    const [, sent] = b.timed(PROG.tcEg, c.out(data(50, 1)));
    await sleepSince(sent, 40e6);
    b.run(PROG.tcEg, c.out(data(51, 1))); // replaces 50
    b.run(PROG.xdp, c.inn(ack(2, 51)));
    const r = rtt(b, c)[Side.dst];
    assert.equal(r.count, 1);
    assert.ok(r.minNs < 40e6, `the sample is timed from TSval 51, got ${r.minNs}`);
    assert.deepEqual(delta(s0, b.stats()), { packets: 3, flowCreated: 1, tsTaken: 2, tsExpired: 1, rttSamples: 1 });
  });

  it('ts_timeout_ns: an echo arriving after the timeout gives no sample', async (t) => {
    const b = TestBpf.open(t, { tsTimeoutNs: 20e6 });
    const c = conn('10.0.9.3', '10.0.9.4');
    const [, sent] = b.timed(PROG.tcEg, c.out(data(60, 1)));
    await sleepSince(sent, 40e6);
    b.run(PROG.xdp, c.inn(ack(2, 60)));
    // tcpulse.h: "a pending timestamp older than this is dropped"
    assert.equal(rtt(b, c)[Side.dst].count, 0, 'RTT sample longer than ts_timeout_ns recorded');
  });

  it('rate limit above the timeout: an expired timestamp is counted and dropped once', async (t) => {
    const b = TestBpf.open(t, { tsTimeoutNs: 20e6, rttRateLimitNs: 10e9 });
    const c = conn('10.0.9.5', '10.0.9.6');
    const s0 = b.stats();
    const [, sent] = b.timed(PROG.tcEg, c.out(data(70, 1)));
    await sleepSince(sent, 40e6);
    b.run(PROG.tcEg, c.out(data(71, 1))); // expires 70; 71 is rate limited
    b.run(PROG.tcEg, c.out(data(72, 1))); // nothing left to expire
    b.run(PROG.xdp, c.inn(ack(2, 70)));
    assert.equal(delta(s0, b.stats()).tsExpired, 1, 'ts_expired counted per packet');
    assert.equal(rtt(b, c)[Side.dst].count, 0, 'expired timestamp still matched');
  });

  it('emit_events = 0: flows are kept, no events', (t) => {
    const b = TestBpf.open(t, { emitEvents: 0 });
    const c = conn('10.0.10.1', '10.0.10.2');
    b.run(PROG.tcEg, c.out({ flags: TH.SYN }));
    b.run(PROG.tcIn, c.inn({ flags: TH.RST }));
    assert.equal(b.flow(c.sport, c.dport).stats.flags, FlowFlag.synEgress | FlowFlag.rstIngress);
    assert.deepEqual(b.events(), []);
    assert.equal(b.stats().eventsLost, 0);
  });

  it('min_rtt_window_ns: window minimum and previous-window minimum', async (t) => {
    const w = 250e6;
    const b = TestBpf.open(t, { minRttWindowNs: w });
    const c = conn('10.0.11.1', '10.0.11.2');
    const model = { epoch: 0, winMin: 0, prevMin: 0, sum: 0 };
    const epochOf = (ns: number) => Math.floor(ns / w) + 1; // the kernel counts windows from 1
    const untilEpoch = async (e: number) => { while (epochOf(nowNs()) < e) await sleepSince(nowNs(), 5e6); };
    let tsval = 1000;
    const sample = async (waitNs: number, prog: ProgName = PROG.xdp) => {
      const [, sent] = b.timed(PROG.tcEg, c.out(data(++tsval, 1)));
      await sleepSince(sent, waitNs);
      const [e0, e1] = b.timed(prog, c.inn(ack(2, tsval)));
      const r = rtt(b, c)[Side.dst];
      const s = r.sumNs - model.sum;
      const epoch = epochOf(e0);
      assert.equal(epochOf(e1), epoch, 'echo straddled a window boundary: rerun');
      if (epoch !== model.epoch) Object.assign(model, { prevMin: model.epoch + 1 === epoch ? model.winMin : 0, winMin: s, epoch });
      else model.winMin = Math.min(model.winMin, s);
      model.sum = r.sumNs;
      assert.deepEqual([r.winEpoch, r.winMinNs, r.prevMinNs], [model.epoch, model.winMin, model.prevMin]);
      return r;
    };
    await untilEpoch(epochOf(nowNs()) + 1);
    const e = epochOf(nowNs());
    await sample(2e6);
    await sample(10e6, PROG.tcIn); // same window, larger: window minimum stays
    await untilEpoch(e + 1);
    const r3 = await sample(5e6);
    assert.ok(r3.prevMinNs > 0, 'adjacent window keeps the previous minimum');
    await untilEpoch(e + 3);
    const r4 = await sample(1e6);
    assert.equal(r4.prevMinNs, 0, 'a skipped window leaves no previous minimum');
    assert.equal(r4.count, 4);
  });
});
