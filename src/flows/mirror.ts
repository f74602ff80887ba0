/**
 * The user-side mirror of a kernel table (flows or sockets). Once per round
 * it reads the whole map in batches, matches entries to those it knows,
 * rolls each into its series and decides which leave the kernel table.
 *
 * How an entry leaves:
 *  - idle (or closed and idle for a shorter time): the agent deletes it and
 *    moves its last values into its series' retired counters;
 *  - evicted by the kernel's LRU when the table is full: it is gone before
 *    the agent read its last values. The values read the round before are
 *    retired. (Evictions are counted from the kernel's creation counter,
 *    which also sees entries evicted before any read: see Agent.round.)
 */
import { readU64 } from '../bpf/codec.js';
import type { BpfMap } from '../bpf/map.js';
import type { Counters } from './counters.js';
import type { Series } from './series.js';

/** Where an entry counts: its series, and whether its key is turned around there. */
export interface Placement {
  series: Series;
  /** the key's second address is the local end: directions and RTT sides swap */
  flip: boolean;
  /** placed without knowing every pod: worth placing again when pods change */
  provisional: boolean;
}

/** Entries younger than this are placed again when what is known of pods changes. */
const REPLACE_WINDOW_NS = 60e9;

/** What a table's entries mean: the flow or socket specifics. */
export interface EntryKind<V> {
  /** offset of the u64 creation time in a value: a new one means a new entry */
  readonly firstNsOffset: number;
  decode(value: Buffer): V;
  lastNs(v: V): number;
  closed(v: V): boolean;
  /** where an entry counts; null: not yet (read it again next round) */
  place(key: Buffer, v: V, nowNs: number): Placement | null;
  /** adds the entry's counters */
  add(c: Counters, v: V, value: Buffer, flip: boolean): void;
  /** per round, for live entries: gauges (entries, min RTT) */
  observe(s: Series, v: V, flip: boolean): void;
}

interface Tracked<V> extends Placement {
  key: Buffer;
  firstNs: number;
  /** labeler generation when placed */
  gen: number;
  value: Buffer; // last value read, raw
  decoded: V;
  round: number;
}

export interface Timeouts {
  idleNs: number;
  closedNs: number;
}

export interface RoundStats {
  entries: number;
  /** known entries that vanished (the kernel evicted them after a read) */
  vanished: number;
  deleted: number;
  durationMs: number;
}

export class MapMirror<V> {
  private readonly entries = new Map<string, Tracked<V>>();
  private roundNo = 0;
  /** Entries the agent removed (idle or closed), ever. */
  deletedTotal = 0;

  constructor(
    private readonly map: BpfMap,
    private readonly kind: EntryKind<V>,
    private readonly timeouts: Timeouts,
    /** changes whenever what labels depend on (pods) changes */
    private readonly generation: () => number = () => 0,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  private retire(t: Tracked<V>): void {
    this.kind.add(t.series.retired, t.decoded, t.value, t.flip);
  }

  /**
   * An entry whose series was dropped, or that was placed without knowing
   * its pods and is young, is placed again. Moving keeps both series
   * monotonic: the old one keeps what it had, the new one counts the entry.
   */
  private replace(t: Tracked<V>, nowNs: number, gen: number): void {
    if (!t.series.removed && !(t.provisional && t.gen !== gen && nowNs - t.firstNs < REPLACE_WINDOW_NS)) return;
    t.gen = gen;
    const p = this.kind.place(t.key, t.decoded, nowNs);
    if (!p || (p.series === t.series && p.flip === t.flip)) {
      if (p) t.provisional = p.provisional;
      return;
    }
    if (!t.series.removed) this.retire(t);
    Object.assign(t, p);
  }

  /** Reads the table; the series' current counters must have been reset. */
  round(nowNs: number): RoundStats {
    const t0 = performance.now();
    const round = ++this.roundNo;
    const gen = this.generation();
    const toDelete: Tracked<V>[] = [];
    const untracked: Buffer[] = []; // not ready for a series and done: removed unread
    let pending = 0;
    let vanished = 0;
    const ks = this.map.keySize;
    const vs = this.map.valueSize;
    const kind = this.kind;

    this.map.forEachBatch(({ count, keys, values }) => {
      for (let i = 0; i < count; i++) {
        const id = keys.toString('latin1', i * ks, (i + 1) * ks);
        const firstNs = readU64(values, i * vs + kind.firstNsOffset);
        let t = this.entries.get(id);
        if (t && t.firstNs !== firstNs) {
          // replaced by a new entry with the same key between two rounds
          this.retire(t);
          vanished++;
          t = undefined;
        }
        if (!t) {
          const key = Buffer.from(keys.subarray(i * ks, (i + 1) * ks));
          const value = Buffer.from(values.subarray(i * vs, (i + 1) * vs));
          const decoded = kind.decode(value);
          const placed = kind.place(key, decoded, nowNs);
          if (!placed) {
            const idle = nowNs - kind.lastNs(decoded);
            if (idle >= this.timeouts.idleNs || (kind.closed(decoded) && idle >= this.timeouts.closedNs)) untracked.push(key);
            else pending++;
            continue;
          }
          t = { key, firstNs, ...placed, gen, value, decoded, round };
          this.entries.set(id, t);
        } else {
          values.copy(t.value, 0, i * vs, (i + 1) * vs);
          t.decoded = kind.decode(t.value);
          t.round = round;
          this.replace(t, nowNs, gen);
        }
        const v = t.decoded;
        const idle = nowNs - kind.lastNs(v);
        if (idle >= this.timeouts.idleNs || (kind.closed(v) && idle >= this.timeouts.closedNs)) {
          toDelete.push(t);
          continue;
        }
        const s = t.series;
        kind.add(s.current, v, t.value, t.flip);
        kind.observe(s, v, t.flip);
        s.lastActiveNs = nowNs;
      }
    });

    for (const [id, t] of this.entries) {
      if (t.round !== round) {
        this.retire(t);
        this.entries.delete(id);
        vanished++;
      }
    }
    let deleted = 0;
    for (const t of toDelete) {
      if (this.map.delete(t.key)) deleted++; // else evicted meanwhile
      this.retire(t);
      this.entries.delete(t.key.toString('latin1'));
    }
    for (const key of untracked) if (this.map.delete(key)) deleted++;
    this.deletedTotal += deleted;
    return { entries: this.entries.size + pending, vanished, deleted, durationMs: performance.now() - t0 };
  }
}
