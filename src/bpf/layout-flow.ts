/**
 * The packet path's side of the contract (packet.bpf.c): what the generated
 * layouts and readers (contract.gen.ts) leave to say.
 */
import { counterNames } from './codec.js';
import { FlowStats, HistGeometry, Stat } from './contract.gen.js';

export const HIST_BUCKETS = HistGeometry.histBuckets;

/** The stats counters by name, in the kernel's order (enum stat). */
export type StatName = Exclude<keyof typeof Stat, 'max'>;
export const STAT_NAMES: StatName[] = counterNames(Stat);

/** Offsets in a flow_stats value of each RTT side's histogram (read in place, not decoded). */
export const FLOW_RTT_HIST = [FlowStats.offset('rtt.0.hist'), FlowStats.offset('rtt.1.hist')] as const;
