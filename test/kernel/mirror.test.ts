/**
 * The socket table mirror against the real socks map of bpf/sock.bpf.o
 * (loaded, nothing attached): entries are written as the programs write
 * them, and the series must add up to every socket exactly once, also when
 * a socket's key (its kernel address) goes to the next connection before a
 * round read the old one's end, and when its completion record is lost.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SockFlag, SockStats, SOCK_SUMMARY, SockSummary } from '../../src/bpf/layout.js';
import { writeU64 } from '../../src/bpf/codec.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { BpfObject } from '../../src/bpf/object.js';
import { bucketOf } from '../../src/flows/histogram.js';
import { MapMirror } from '../../src/flows/mirror.js';
import { Rollup } from '../../src/flows/rollup.js';
import { SockKind } from '../../src/flows/socktable.js';
import { Labeler } from '../../src/flows/labels.js';
import { SOCKET_SIGNALS } from '../../src/probes/hooks.js';
import { projectRoot } from '../../src/paths.js';

const LOCAL = '10.9.9.1';
const PEER = '10.9.9.2';

interface Sock {
  id: bigint;
  startNs: number;
  sport: number;
  srtt: number[]; // µs samples
  retrans?: number;
  closed?: boolean;
}

function value(s: Sock, lastNs: number): Buffer {
  const v = Buffer.alloc(SockStats.size);
  const key = SockStats.offset('key');
  v.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...LOCAL.split('.').map(Number)], key);
  v.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...PEER.split('.').map(Number)], key + 16);
  v.writeUInt16LE(s.sport, SockStats.offset('key.sport'));
  v.writeUInt16LE(443, SockStats.offset('key.dport'));
  const at = (f: string) => SOCK_SUMMARY + SockSummary.offset(f);
  writeU64(v, at('start_ns'), s.startNs);
  writeU64(v, at('last_ns'), lastNs);
  if (s.closed) writeU64(v, at('end_ns'), lastNs);
  v.writeUInt32LE(SockFlag.active | SockFlag.established | (s.closed ? SockFlag.closed : 0), at('flags'));
  v.writeUInt32LE(s.srtt.length, at('srtt_count'));
  writeU64(v, at('srtt_sum_us'), s.srtt.reduce((a, b) => a + b, 0));
  v.writeUInt32LE(s.retrans ?? 0, at('counters.retransmits'));
  for (const us of s.srtt) {
    const o = SockStats.offset(`srtt_hist.${bucketOf('seconds', us * 1000)}`);
    v.writeUInt32LE(v.readUInt32LE(o) + 1, o);
  }
  return v;
}

const keyOf = (id: bigint) => {
  const k = Buffer.alloc(8);
  k.writeBigUInt64LE(id);
  return k;
};

describe('socket table mirror on the real socks map', () => {
  let obj: BpfObject;
  let socks: BpfMap;
  let rollup: Rollup;
  let mirror: MapMirror;
  let now = 1e12;

  before(() => {
    obj = BpfObject.open(join(projectRoot, 'bpf/sock.bpf.o'));
    for (const c of SOCKET_SIGNALS.flatMap((sig) => sig.candidates)) obj.setAutoload(c.program, false);
    obj.load();
    socks = obj.map('socks');
  });
  after(() => obj?.close());

  beforeEach(() => {
    for (const k of [1n, 2n, 3n]) socks.delete(keyOf(k));
    const labeler = new Labeler(null);
    rollup = new Rollup(100, labeler.labelNames);
    const kind = new SockKind(rollup, labeler, { firstKey: () => undefined });
    mirror = new MapMirror(socks, kind, { idleNs: 300e9, closedNs: 10e9 });
  });

  const write = (s: Sock) => socks.update(keyOf(s.id), value(s, now));
  const finish = (s: Sock) => mirror.finish(keyOf(s.id), value({ ...s, closed: true }, now), now);
  const round = async () => {
    now += 300e6;
    for (const s of rollup.all()) s.beginRound();
    return mirror.round(now);
  };
  const srtt = () => {
    const [s] = rollup.all();
    const t = s!.total();
    return { count: t.srtt.count, sum: t.srtt.sum, buckets: t.srtt.hist.reduce((a, b) => a + b, 0), retrans: t.sock('retransmits') };
  };

  it('counts a socket whose key went to the next one before any round read it', async () => {
    const a: Sock = { id: 1n, startNs: now, sport: 40000, srtt: [50, 60, 70], retrans: 1 };
    write({ ...a, closed: true });
    const b: Sock = { id: 1n, startNs: now + 1000, sport: 40002, srtt: [80, 90] };
    write(b); // the kernel reused the socket's memory
    finish(a); // its completion record
    await round();
    assert.deepEqual(srtt(), { count: 5, sum: 350, buckets: 5, retrans: 1 });
  });

  it('counts a socket read, then replaced, then finished once: from its record, not twice', async () => {
    const a: Sock = { id: 1n, startNs: now, sport: 40000, srtt: [50] };
    write(a);
    await round();
    assert.equal(srtt().count, 1);
    const b: Sock = { id: 1n, startNs: now + 1000, sport: 40002, srtt: [80, 90] };
    write(b); // a got two more samples, closed and was replaced between two rounds
    await round();
    assert.equal(srtt().count, 3, 'a as last read, waiting for its record, and b');
    finish({ ...a, srtt: [50, 60, 70] });
    await round();
    assert.deepEqual(srtt(), { count: 5, sum: 350, buckets: 5, retrans: 0 });
  });

  it('takes a finished entry out of the table and counts it once', async () => {
    const a: Sock = { id: 2n, startNs: now, sport: 40000, srtt: [50, 60] };
    write(a);
    await round();
    write({ ...a, srtt: [50, 60, 70], closed: true });
    finish({ ...a, srtt: [50, 60, 70] });
    const r = await round();
    assert.equal(r.deleted, 1);
    assert.equal(socks.lookup(keyOf(2n), Buffer.alloc(SockStats.size)), false);
    await round();
    assert.deepEqual(srtt(), { count: 3, sum: 180, buckets: 3, retrans: 0 });
  });

  it('retires a replaced socket as last read when its record never comes, and never goes backwards', async () => {
    const a: Sock = { id: 3n, startNs: now, sport: 40000, srtt: [50, 60] };
    write(a);
    await round();
    write({ id: 3n, startNs: now + 1000, sport: 40002, srtt: [80] });
    await round();
    assert.equal(srtt().count, 3);
    now += 3e9; // the record was lost (ring buffer full)
    await round();
    assert.equal(srtt().count, 3);
  });
});
