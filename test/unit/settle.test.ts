import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CloseReason, SockEventType, type SockEventRecord, type SockSummaryValue } from '../../src/bpf/layout.js';
import { SockEventSettler } from '../../src/flows/settle.js';

const MS = 1e6;

/** A socket event of the connection on `port` that began at `startNs`; the fake clock is the `now` passed to take(). */
function ev(type: number, port: number, endNs: number, closeReason: number = CloseReason.none, startNs = 1): SockEventRecord {
  const s = { startNs, endNs, closeReason } as SockSummaryValue;
  return { type, subflows: 0, key: { saddr: Buffer.alloc(16), daddr: Buffer.alloc(16, 1), sport: 40000, dport: port, netns: 7 }, s };
}

describe('socket event settling', () => {
  it('holds a close record for the settle time, then hands it out', () => {
    const st = new SockEventSettler(20 * MS);
    st.push(ev(SockEventType.closed, 80, 100 * MS, CloseReason.fin));
    assert.deepEqual(st.take(119 * MS), []);
    assert.equal(st.waiting, 1);
    const out = st.take(120 * MS);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.s.closeReason, CloseReason.fin);
    assert.equal(st.waiting, 0);
  });

  it("a RST that follows within the settle time corrects the close record's reason", () => {
    const st = new SockEventSettler(20 * MS);
    st.push(ev(SockEventType.closed, 80, 100 * MS, CloseReason.fin));
    st.push(ev(SockEventType.reset, 80, 100.01 * MS, CloseReason.rst));
    const out = st.take(200 * MS);
    assert.deepEqual(out.map((e) => [e.type, e.s.closeReason]), [[SockEventType.closed, CloseReason.rst]]);
    assert.equal(st.lateResets, 0);
  });

  it('keeps the kernel order: what follows a held close waits behind it', () => {
    const st = new SockEventSettler(20 * MS);
    st.push(ev(SockEventType.opened, 81, 90 * MS));
    st.push(ev(SockEventType.closed, 80, 100 * MS, CloseReason.fin));
    st.push(ev(SockEventType.opened, 82, 101 * MS));
    assert.deepEqual(st.take(105 * MS).map((e) => e.key.dport), [81]);
    assert.deepEqual(st.take(121 * MS).map((e) => e.key.dport), [80, 82]);
  });

  it('a RST of another connection on the same ports (a later start) corrects nothing', () => {
    const st = new SockEventSettler(20 * MS);
    st.push(ev(SockEventType.closed, 80, 100 * MS, CloseReason.fin, 1));
    st.push(ev(SockEventType.reset, 80, 101 * MS, CloseReason.rst, 2));
    assert.equal(st.take(200 * MS)[0]!.s.closeReason, CloseReason.fin);
    assert.equal(st.lateResets, 1);
  });

  it('a RST after its close record was handed out is counted late, and changes nothing', () => {
    const st = new SockEventSettler(20 * MS);
    st.push(ev(SockEventType.closed, 80, 100 * MS, CloseReason.fin));
    const [closed] = st.take(150 * MS);
    st.push(ev(SockEventType.reset, 80, 151 * MS, CloseReason.rst));
    assert.deepEqual(st.take(300 * MS), []);
    assert.equal(closed!.s.closeReason, CloseReason.fin);
    assert.equal(st.lateResets, 1);
  });

  it('take(now, true) hands out everything (the agent stopping)', () => {
    const st = new SockEventSettler(20 * MS);
    st.push(ev(SockEventType.closed, 80, 100 * MS, CloseReason.fin));
    st.push(ev(SockEventType.mptcpClosed, 81, 100 * MS));
    assert.equal(st.take(100 * MS, true).length, 2);
    assert.equal(st.waiting, 0);
  });
});
