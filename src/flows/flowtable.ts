/** The packet path's flow table as a MapMirror: flows, their labels and passive RTT minima. */
import { FlowFlag, FlowStats, readFlowKey, readFlowStats, type FlowStatsValue, type RttStatsValue } from '../bpf/layout.js';
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

/**
 * The minimum of one flow side over the current and the previous window
 * (ns), or Infinity when neither has a sample.
 */
export function windowedMin(r: RttStatsValue, epoch: number): number {
  if (r.count === 0) return Infinity;
  if (r.winEpoch === epoch) return r.prevMinNs > 0 ? Math.min(r.winMinNs, r.prevMinNs) : r.winMinNs;
  if (r.winEpoch === ((epoch - 1) >>> 0)) return r.winMinNs;
  return Infinity;
}

export function flowKind(rollup: Rollup, labeler: Labeler, minRttWindowNs: number): EntryKind<FlowStatsValue> & { setNow(nowNs: number): void } {
  let epoch = 0;
  return {
    firstNsOffset: FlowStats.offset('first_ns'),
    decode: (value) => readFlowStats(value),
    lastNs: (v) => v.lastNs,
    closed: (v) => isClosed(v.flags),
    finalEvent: () => false, // flow close events carry no counters: the table is read
    place: (key, v, nowNs) => {
      const k = readFlowKey(key);
      const p = labeler.place(k.saddr, k.sport, k.daddr, k.dport, serverPort(k, v.flags));
      return { series: rollup.assign(p.labels, nowNs), flip: p.flip, provisional: p.provisional };
    },
    add: (c, v, value, flip) => c.addFlow(v, value, flip),
    observe: (s, v, flip) => {
      s.flows++;
      s.hasFlows = true;
      for (let side = 0; side < 2; side++) {
        const m = windowedMin(v.rtt[side]!, epoch);
        const as = flip ? 1 - side : side; // the series' peer side
        if (m < s.minRttNs[as]!) s.minRttNs[as] = m;
      }
    },
    setNow: (nowNs) => {
      epoch = minRttEpoch(nowNs, minRttWindowNs);
    },
  };
}
