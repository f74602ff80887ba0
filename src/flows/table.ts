/**
 * The user-side mirror of the kernel flow table. Once per round it reads
 * the whole map in batches, matches entries to the flows it knows, rolls
 * each into its series and decides which flows leave the kernel table.
 *
 * How a flow leaves:
 *  - idle (or closed and idle for a shorter time): the agent deletes it and
 *    moves its last values into its series' retired counters;
 *  - evicted by the kernel's LRU when the table is full: it is gone before
 *    the agent could read its last packets. The values read the round before
 *    are retired. (Evictions are counted from the kernel's creation counter,
 *    which also sees flows evicted before any read: see Agent.round.)
 */
import { readU64 } from '../bpf/codec.js';
import { decodeFlowKey, decodeFlowStats, FlowFlag, FlowStats, type FlowStatsValue, type RttSide } from '../bpf/layout.js';
import type { BpfMap } from '../bpf/map.js';
import { Counters } from './counters.js';
import { flowLabels, type Rollup } from './rollup.js';
import type { Series } from './series.js';

interface TrackedFlow {
  keyBuf: Buffer;
  firstNs: number;
  series: Series;
  value: Buffer; // last value read, raw
  decoded: FlowStatsValue;
  round: number;
}

export interface TableTimeouts {
  idleNs: number;
  closedNs: number;
  minRttWindowNs: number;
}

export interface RoundStats {
  flows: number;
  /** known flows that vanished (the kernel evicted them after a read) */
  evicted: number;
  deleted: number;
  durationMs: number;
}

const FIRST_NS = FlowStats.offset('first_ns');
const CLOSED_FIN = FlowFlag.finEgress | FlowFlag.finIngress;
const CLOSED_RST = FlowFlag.rstEgress | FlowFlag.rstIngress;

export function isClosed(flags: number): boolean {
  return (flags & CLOSED_RST) !== 0 || (flags & CLOSED_FIN) === CLOSED_FIN;
}

/**
 * The minimum of one flow side over the current and the previous window
 * (ns), or Infinity when neither has a sample. epoch is now / window.
 */
export function windowedMin(r: RttSide, epoch: number): number {
  if (r.count === 0) return Infinity;
  if (r.winEpoch === epoch) return r.prevMinNs > 0 ? Math.min(r.winMinNs, r.prevMinNs) : r.winMinNs;
  if (r.winEpoch === ((epoch - 1) >>> 0)) return r.winMinNs;
  return Infinity;
}

export class FlowTable {
  private readonly flows = new Map<string, TrackedFlow>();
  private roundNo = 0;
  /** Flows the agent removed (idle or closed), ever. */
  deletedTotal = 0;

  constructor(
    private readonly map: BpfMap,
    private readonly rollup: Rollup,
    private readonly timeouts: TableTimeouts,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  private retire(f: TrackedFlow): void {
    const c = new Counters();
    c.addFlow(f.decoded, f.value);
    f.series.retired.add(c);
  }

  round(nowNs: number): RoundStats {
    const t0 = performance.now();
    const round = ++this.roundNo;
    for (const s of this.rollup.all()) s.beginRound();
    const epoch = (Math.floor(nowNs / this.timeouts.minRttWindowNs) + 1) >>> 0; // as the kernel counts
    const toDelete: TrackedFlow[] = [];
    let evicted = 0;
    const ks = this.map.keySize;
    const vs = this.map.valueSize;

    this.map.forEachBatch(({ count, keys, values }) => {
      for (let i = 0; i < count; i++) {
        const id = keys.toString('latin1', i * ks, (i + 1) * ks);
        const firstNs = readU64(values, i * vs + FIRST_NS);
        let f = this.flows.get(id);
        if (f && f.firstNs !== firstNs) {
          // evicted and created anew between two rounds
          this.retire(f);
          evicted++;
          f = undefined;
        }
        if (!f) {
          const keyBuf = Buffer.from(keys.subarray(i * ks, (i + 1) * ks));
          const value = Buffer.from(values.subarray(i * vs, (i + 1) * vs));
          const decoded = decodeFlowStats(value, 0);
          f = {
            keyBuf,
            firstNs,
            series: this.rollup.assign(flowLabels(decodeFlowKey(keyBuf), decoded.flags), nowNs),
            value,
            decoded,
            round,
          };
          this.flows.set(id, f);
        } else {
          values.copy(f.value, 0, i * vs, (i + 1) * vs);
          f.decoded = decodeFlowStats(f.value, 0);
          f.round = round;
        }
        const v = f.decoded;

        const idle = nowNs - v.lastNs;
        if (idle >= this.timeouts.idleNs || (isClosed(v.flags) && idle >= this.timeouts.closedNs)) {
          toDelete.push(f);
          continue;
        }
        const s = f.series;
        s.current.addFlow(f.decoded, f.value);
        s.flows++;
        s.lastActiveNs = nowNs;
        for (let side = 0; side < 2; side++) {
          const m = windowedMin(f.decoded.rtt[side]!, epoch);
          if (m < s.minRttNs[side]!) s.minRttNs[side] = m;
        }
      }
    });

    for (const [id, f] of this.flows) {
      if (f.round !== round) {
        this.retire(f);
        this.flows.delete(id);
        evicted++;
      }
    }
    let deleted = 0;
    for (const f of toDelete) {
      if (this.map.delete(f.keyBuf)) deleted++; // else evicted meanwhile
      this.retire(f);
      this.flows.delete(f.keyBuf.toString('latin1'));
    }
    this.deletedTotal += deleted;
    return { flows: this.flows.size, evicted, deleted, durationMs: performance.now() - t0 };
  }
}
