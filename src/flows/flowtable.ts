/** The packet path's flow table as a MapMirror: flows, their labels and passive RTT minima. */
import { readU64 } from '../bpf/codec.js';
import { FlowFlag, FlowStats, readFlowKey } from '../bpf/layout.js';
import type { EntryKind } from './mirror.js';
import { serverPort, type Rollup } from './rollup.js';
import type { Labeler } from './labels.js';

const CLOSED_FIN = FlowFlag.finEgress | FlowFlag.finIngress;
const CLOSED_RST = FlowFlag.rstEgress | FlowFlag.rstIngress;

export function isClosed(flags: number): boolean {
  return (flags & CLOSED_RST) !== 0 || (flags & CLOSED_FIN) === CLOSED_FIN;
}

/** The kernel's min-RTT window number for a time (windows count from 1). */
export function minRttEpoch(nowNs: number, windowNs: number): number {
  return (Math.floor(nowNs / windowNs) + 1) >>> 0;
}

/** Where the flow kind reads a flow_stats value, in place. */
const LAST_NS = FlowStats.offset('last_ns');
const FLAGS = FlowStats.offset('flags');
const RTT = [0, 1].map((side) => ({
  count: FlowStats.offset(`rtt.${side}.count`),
  winMinNs: FlowStats.offset(`rtt.${side}.win_min_ns`),
  prevMinNs: FlowStats.offset(`rtt.${side}.prev_min_ns`),
  winEpoch: FlowStats.offset(`rtt.${side}.win_epoch`),
}));

/**
 * The minimum of one side of a raw flow_stats value over the current and
 * the previous min-RTT window (ns), or Infinity when neither has a sample.
 */
export function windowedMin(buf: Buffer, off: number, side: number, epoch: number): number {
  const o = RTT[side]!;
  if (readU64(buf, off + o.count) === 0) return Infinity;
  const win = buf.readUInt32LE(off + o.winEpoch);
  const winMin = readU64(buf, off + o.winMinNs);
  if (win === epoch) {
    const prev = readU64(buf, off + o.prevMinNs);
    return prev > 0 ? Math.min(winMin, prev) : winMin;
  }
  return win === ((epoch - 1) >>> 0) ? winMin : Infinity;
}

export function flowKind(rollup: Rollup, labeler: Labeler, minRttWindowNs: number): EntryKind & { setNow(nowNs: number): void } {
  let epoch = 0;
  return {
    firstNsOffset: FlowStats.offset('first_ns'),
    vanishes: false, // only the agent deletes flows, and a key is never reused while its entry exists
    lastNs: (buf, off) => readU64(buf, off + LAST_NS),
    closed: (buf, off) => isClosed(buf.readUInt32LE(off + FLAGS)),
    finalEvent: () => false, // flow close events carry no counters: the table is read
    place: (key, value, nowNs) => {
      const k = readFlowKey(key);
      const p = labeler.place(k.saddr, k.sport, k.daddr, k.dport, serverPort(k, value.readUInt32LE(FLAGS)));
      return { series: rollup.assign(p.labels, nowNs), flip: p.flip, provisional: p.provisional };
    },
    add: (c, buf, off, flip) => c.addFlow(buf, off, flip),
    observe: (s, buf, off, flip) => {
      s.flows++;
      s.hasFlows = true;
      for (let side = 0; side < 2; side++) {
        const m = windowedMin(buf, off, side, epoch);
        const as = flip ? 1 - side : side; // the series' peer side
        if (m < s.minRttNs[as]!) s.minRttNs[as] = m;
      }
    },
    setNow: (nowNs) => {
      epoch = minRttEpoch(nowNs, minRttWindowNs);
    },
  };
}
