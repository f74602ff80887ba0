/**
 * The flow table mirror against the real flows map of bpf/packet.bpf.o
 * (loaded, nothing attached). The mirror keeps no copy of a flow's value
 * between rounds (only the agent removes flows): a flow must still count
 * exactly once, live or removed, and a new flow on the same key anew.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlowKey, FlowStats } from '../../src/bpf/layout.js';
import { writeU64 } from '../../src/bpf/codec.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { BpfObject } from '../../src/bpf/object.js';
import { bucketOf } from '../../src/flows/histogram.js';
import { flowKind } from '../../src/flows/flowtable.js';
import { MapMirror } from '../../src/flows/mirror.js';
import { Rollup } from '../../src/flows/rollup.js';
import { Labeler } from '../../src/flows/labels.js';
import { ALL_PROGS, OBJ_PATH } from '../helpers/bpfobj.js';

const IDLE_NS = 300e9;

function key(sport: number): Buffer {
  const k = Buffer.alloc(FlowKey.size);
  k.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 8, 1], FlowKey.offset('saddr'));
  k.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 8, 2], FlowKey.offset('daddr'));
  k.writeUInt16LE(sport, FlowKey.offset('sport'));
  k.writeUInt16LE(443, FlowKey.offset('dport'));
  k.writeUInt32LE(7, FlowKey.offset('ifindex'));
  return k;
}

/** A flow value as the packet programs leave it: packets each way and RTT samples (µs) to the peer. */
function value(firstNs: number, lastNs: number, packets: [number, number], rttUs: number[]): Buffer {
  const v = Buffer.alloc(FlowStats.size);
  writeU64(v, FlowStats.offset('first_ns'), firstNs);
  writeU64(v, FlowStats.offset('last_ns'), lastNs);
  writeU64(v, FlowStats.offset('packets.0'), packets[0]);
  writeU64(v, FlowStats.offset('packets.1'), packets[1]);
  writeU64(v, FlowStats.offset('rtt.0.count'), rttUs.length);
  writeU64(v, FlowStats.offset('rtt.0.sum_ns'), rttUs.reduce((a, b) => a + b * 1000, 0));
  for (const us of rttUs) {
    const o = FlowStats.offset(`rtt.0.hist.${bucketOf('seconds', us * 1000)}`);
    v.writeUInt32LE(v.readUInt32LE(o) + 1, o);
  }
  return v;
}

describe('flow table mirror on the real flows map', () => {
  let obj: BpfObject;
  let flows: BpfMap;

  before(() => {
    obj = BpfObject.open(OBJ_PATH);
    for (const p of ALL_PROGS) obj.setAutoload(p, false);
    obj.load();
    flows = obj.map('flows');
  });
  after(() => obj?.close());

  it('counts a flow once while it lives, once when it goes idle, and a new flow on its key anew', async () => {
    const rollup = new Rollup(10, new Labeler(null).labelNames);
    const kind = flowKind(rollup, new Labeler(null), 30e9);
    const mirror = new MapMirror(flows, kind, { idleNs: IDLE_NS, closedNs: 10e9 });
    let now = 1e12;
    const round = async () => {
      now += 5e9;
      for (const s of rollup.all()) s.beginRound();
      kind.setNow(now);
      return mirror.round(now);
    };
    const totals = () => {
      const [s] = rollup.all();
      const t = s!.total();
      return { packets: [...t.packets], rtt: t.rtt[0]!.count, buckets: t.rtt[0]!.hist.reduce((a, b) => a + b, 0), flows: s!.flows };
    };
    const k = key(40000);
    const first = now;
    flows.update(k, value(first, now, [3, 4], [50, 60]));
    await round();
    assert.deepEqual(totals(), { packets: [3, 4], rtt: 2, buckets: 2, flows: 1 });
    flows.update(k, value(first, now, [10, 12], [50, 60, 70]));
    await round();
    await round(); // read twice unchanged: counted once
    assert.deepEqual(totals(), { packets: [10, 12], rtt: 3, buckets: 3, flows: 1 });

    // idle: removed from the map, its last values retired, once
    flows.update(k, value(first, now - IDLE_NS, [11, 13], [50, 60, 70, 80]));
    const r = await round();
    assert.equal(r.deleted, 1);
    assert.equal(flows.lookup(k, Buffer.alloc(FlowStats.size)), false, 'deleted from the kernel table');
    assert.deepEqual(totals(), { packets: [11, 13], rtt: 4, buckets: 4, flows: 0 });
    await round();
    assert.deepEqual(totals(), { packets: [11, 13], rtt: 4, buckets: 4, flows: 0 }, 'not counted again');

    // the same tuple again: a new flow, counted on top
    flows.update(k, value(now, now, [1, 1], [90]));
    await round();
    assert.deepEqual(totals(), { packets: [12, 14], rtt: 5, buckets: 5, flows: 1 });
    flows.delete(k);
  });
});
