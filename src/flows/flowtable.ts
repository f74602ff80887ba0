/** The packet path's flow table as a MapMirror: flows, their labels and passive RTT minima. */
import { decodeFlowKey, decodeFlowStats, FlowFlag, FlowStats, type FlowStatsValue, type RttSide } from '../bpf/layout.js';
import type { EntryKind } from './mirror.js';
import { flowLabels, type Rollup } from './rollup.js';

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
export function windowedMin(r: RttSide, epoch: number): number {
  if (r.count === 0) return Infinity;
  if (r.winEpoch === epoch) return r.prevMinNs > 0 ? Math.min(r.winMinNs, r.prevMinNs) : r.winMinNs;
  if (r.winEpoch === ((epoch - 1) >>> 0)) return r.winMinNs;
  return Infinity;
}

export function flowKind(rollup: Rollup, minRttWindowNs: number): EntryKind<FlowStatsValue> & { setNow(nowNs: number): void } {
  let epoch = 0;
  return {
    firstNsOffset: FlowStats.offset('first_ns'),
    decode: (value) => decodeFlowStats(value, 0),
    lastNs: (v) => v.lastNs,
    closed: (v) => isClosed(v.flags),
    assign: (key, v, nowNs) => rollup.assign(flowLabels(decodeFlowKey(key), v.flags), nowNs),
    add: (c, v, value) => c.addFlow(v, value),
    observe: (s, v) => {
      s.flows++;
      s.hasFlows = true;
      for (let side = 0; side < 2; side++) {
        const m = windowedMin(v.rtt[side]!, epoch);
        if (m < s.minRttNs[side]!) s.minRttNs[side] = m;
      }
    },
    setNow: (nowNs) => {
      epoch = minRttEpoch(nowNs, minRttWindowNs);
    },
  };
}
