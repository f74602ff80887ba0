/**
 * The user-side mirror of a kernel table (flows or sockets). Once per round
 * it reads the whole map in batches, matches entries to those it knows,
 * rolls each into its series and decides which leave the kernel table.
 *
 * How an entry leaves:
 *  - idle (or closed and idle for a shorter time): the agent deletes it and
 *    moves its last values into its series' retired counters;
 *  - gone from the table without the agent deleting it (the kernel tables
 *    are plain hashes: a full one refuses new entries and evicts none, so
 *    only a socket's key taken by the next socket does this): the values
 *    read the round before, kept for such kinds (EntryKind.vanishes), are
 *    retired.
 *  - finished by an event that carries its last value (a socket's
 *    completion record): retired from that value, and skipped, then
 *    deleted, when a round finds it still in the table. A key can be taken
 *    by a new entry before a round read the old one's end, or any of it (a
 *    socket's memory goes to the next connection): the event has it all. A
 *    tracked entry seen replaced waits for its event (counted as last read
 *    meanwhile) rather than retiring what was read of it.
 */
import { readU64 } from '../bpf/codec.js';
import type { BpfMap } from '../bpf/map.js';
import type { Counters } from './counters.js';
import type { Series } from './series.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Slab } from './slab.js';
import { monoNs } from '../time.js';

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

/**
 * How long a replaced entry waits for its final event: the event left the
 * kernel before the entry that replaced it was made, so it is drained by
 * the next round; longer means it was lost (ring buffer full).
 */
const AWAIT_FINAL_NS = 2e9;

const awaitId = (id: string, firstNs: number) => `${id}/${firstNs}`;

/**
 * What a table's entries mean: the flow or socket specifics. Every method
 * reads a raw value in place (buf at off): a round decodes nothing into
 * objects but what placing a new entry needs.
 */
export interface EntryKind {
  /** offset of the u64 creation time in a value: a new one means a new entry */
  readonly firstNsOffset: number;
  /**
   * Whether an entry can leave the table without the agent (a socket's key
   * taken by the next socket): the mirror then keeps each entry's last value
   * to count it by. Entries only the agent removes are counted from the
   * value read as they go, and nothing of them is kept but the key.
   */
  readonly vanishes: boolean;
  lastNs(buf: Buffer, off: number): number;
  closed(buf: Buffer, off: number): boolean;
  /** where an entry counts; null: not yet (read it again next round) */
  place(key: Buffer, value: Buffer, nowNs: number): Placement | null;
  /** adds the entry's counters */
  add(c: Counters, buf: Buffer, off: number, flip: boolean): void;
  /** per round, for live entries: gauges (entries, min RTT) */
  observe(s: Series, buf: Buffer, off: number, flip: boolean): void;
  /** whether the entry's last value will come as an event (finish) when it ends */
  finalEvent(buf: Buffer, off: number): boolean;
}

/** An entry the mirror counts: its key (and last value read, see vanishes) live in the slab. */
interface Tracked extends Placement {
  id: string;
  slot: number;
  firstNs: number;
  /** labeler generation when placed */
  gen: number;
  round: number;
}

export interface Timeouts {
  idleNs: number;
  closedNs: number;
}

export interface RoundStats {
  entries: number;
  /** known entries that vanished (their key taken by a new entry) */
  vanished: number;
  deleted: number;
  durationMs: number;
}

export class MapMirror {
  private readonly entries = new Map<string, Tracked>();
  /** keys finished by an event, with the creation time of the entry that finished */
  private readonly finished = new Map<string, number>();
  /** entries replaced in the kernel whose final event is still to come, since when (ns) */
  private readonly awaiting = new Map<string, { t: Tracked; sinceNs: number }>();
  /** per tracked entry: its key (padded to 8 bytes), then its last value if entries vanish */
  private readonly slab: Slab;
  private readonly valueAt: number;
  private roundNo = 0;
  /** Entries the agent removed (idle or closed), ever. */
  deletedTotal = 0;

  constructor(
    private readonly map: BpfMap,
    private readonly kind: EntryKind,
    private readonly timeouts: Timeouts,
    /** changes whenever what labels depend on (pods) changes */
    private readonly generation: () => number = () => 0,
  ) {
    this.valueAt = Math.ceil(map.keySize / 8) * 8;
    this.slab = new Slab(this.valueAt + (kind.vanishes ? Math.ceil(map.valueSize / 8) * 8 : 0));
  }

  get size(): number {
    return this.entries.size;
  }

  private key(t: Tracked): Buffer {
    const at = this.slab.at(t.slot);
    return this.slab.buffer.subarray(at, at + this.map.keySize);
  }

  /** Its last values into its series' retired counters (where kept: vanishes); the entry is gone. */
  private retire(t: Tracked): void {
    if (this.kind.vanishes) this.kind.add(t.series.retired, this.slab.buffer, this.slab.at(t.slot) + this.valueAt, t.flip);
    this.slab.release(t.slot);
  }

  /**
   * An entry whose series was dropped, or that was placed without knowing
   * its pods and is young, is placed again. Moving keeps both series
   * monotonic: the old one keeps what it had, the new one counts the entry.
   */
  private replace(t: Tracked, nowNs: number, gen: number, buf: Buffer, off: number): void {
    if (!t.series.removed && !(t.provisional && t.gen !== gen && nowNs - t.firstNs < REPLACE_WINDOW_NS)) return;
    t.gen = gen;
    const p = this.kind.place(this.key(t), buf.subarray(off, off + this.map.valueSize), nowNs);
    if (!p || (p.series === t.series && p.flip === t.flip)) {
      if (p) t.provisional = p.provisional;
      return;
    }
    if (!t.series.removed) this.kind.add(t.series.retired, buf, off, t.flip);
    Object.assign(t, p);
  }

  /**
   * The last value of the entry at key, from an event: counted in its
   * series' retired counters now, whether a round read the entry, saw it
   * replaced, or never saw it; and never again from the table.
   */
  finish(key: Buffer, value: Buffer, nowNs: number): void {
    const id = key.toString('latin1');
    const firstNs = readU64(value, this.kind.firstNsOffset);
    const t = this.entries.get(id);
    const replaced = this.awaiting.get(awaitId(id, firstNs))?.t;
    let at: Placement | null;
    if (t && t.firstNs === firstNs) {
      this.entries.delete(id);
      this.slab.release(t.slot);
      at = t;
    } else if (replaced) {
      this.awaiting.delete(awaitId(id, firstNs));
      this.slab.release(replaced.slot);
      at = replaced;
    } else {
      at = this.kind.place(key, value, nowNs);
    }
    if (at) {
      this.kind.add(at.series.retired, value, 0, at.flip);
      at.series.lastActiveNs = nowNs;
    }
    if (t && t.firstNs < firstNs) {
      // the entry this one replaced in the kernel, unseen by any round
      this.retire(t);
      this.entries.delete(id);
    }
    // the table holds this entry until a round deletes it (unless a newer one took the key)
    if (!(t && t.firstNs > firstNs)) this.finished.set(id, firstNs);
  }

  /**
   * Reads the table; the series' current counters must have been reset.
   * Between two chunks of entries it gives the event loop a turn (a scrape
   * is served meanwhile): nothing else may touch this mirror until it ends.
   */
  async round(nowNs: number): Promise<RoundStats> {
    const t0 = monoNs();
    const round = ++this.roundNo;
    const gen = this.generation();
    const toDelete: Tracked[] = [];
    const untracked: Buffer[] = []; // not ready for a series and done, or finished: removed unread
    let pending = 0;
    let vanished = 0;
    const ks = this.map.keySize;
    const vs = this.map.valueSize;
    const kind = this.kind;
    const slab = this.slab;
    const idle = (buf: Buffer, off: number) => {
      const quiet = nowNs - kind.lastNs(buf, off);
      return quiet >= this.timeouts.idleNs || (kind.closed(buf, off) && quiet >= this.timeouts.closedNs);
    };

    for (const { count, keys, values } of this.map.batches()) {
      for (let i = 0; i < count; i++) {
        const ko = i * ks;
        const vo = i * vs;
        const id = keys.toString('latin1', ko, ko + ks);
        const firstNs = readU64(values, vo + kind.firstNsOffset);
        if (this.finished.get(id) === firstNs) {
          untracked.push(Buffer.from(keys.subarray(ko, ko + ks)));
          continue;
        }
        let t = this.entries.get(id);
        if (t && t.firstNs !== firstNs) {
          // replaced by a new entry with the same key between two rounds:
          // its last value is on its way as an event, or it retires as read
          if (kind.finalEvent(slab.buffer, slab.at(t.slot) + this.valueAt)) this.awaiting.set(awaitId(id, t.firstNs), { t, sinceNs: nowNs });
          else this.retire(t);
          vanished++;
          t = undefined;
        }
        const known = t !== undefined;
        if (!t) {
          const placed = kind.place(keys.subarray(ko, ko + ks), values.subarray(vo, vo + vs), nowNs);
          if (!placed) {
            if (idle(values, vo)) untracked.push(Buffer.from(keys.subarray(ko, ko + ks)));
            else pending++;
            continue;
          }
          t = { id, slot: slab.alloc(), firstNs, ...placed, gen, round };
          keys.copy(slab.buffer, slab.at(t.slot), ko, ko + ks);
          this.entries.set(id, t);
        }
        t.round = round;
        // the value read now: kept in the slab where entries vanish, else read in the batch
        let buf = values;
        let v = vo;
        if (kind.vanishes) {
          buf = slab.buffer;
          v = slab.at(t.slot) + this.valueAt;
          values.copy(buf, v, vo, vo + vs);
        }
        if (known) this.replace(t, nowNs, gen, buf, v);
        if (idle(buf, v)) {
          kind.add(t.series.retired, buf, v, t.flip); // its last values: it is deleted below
          toDelete.push(t);
          continue;
        }
        const s = t.series;
        kind.add(s.current, buf, v, t.flip);
        kind.observe(s, buf, v, t.flip);
        s.lastActiveNs = nowNs;
      }
      await nextTurn();
    }

    for (const [id, { t, sinceNs }] of this.awaiting) {
      if (nowNs - sinceNs < AWAIT_FINAL_NS) {
        kind.add(t.series.current, slab.buffer, slab.at(t.slot) + this.valueAt, t.flip);
        continue;
      }
      this.retire(t); // its event was lost
      this.awaiting.delete(id);
    }
    for (const [id, t] of this.entries) {
      if (t.round !== round) {
        this.retire(t);
        this.entries.delete(id);
        vanished++;
      }
    }
    let deleted = 0;
    for (const t of toDelete) {
      if (this.map.delete(this.key(t))) deleted++; // else gone meanwhile
      this.slab.release(t.slot);
      this.entries.delete(t.id);
    }
    for (const key of untracked) if (this.map.delete(key)) deleted++;
    // finished keys were deleted above, or a new entry holds them: done either way
    this.finished.clear();
    this.deletedTotal += deleted;
    slab.compact((move) => {
      for (const t of this.entries.values()) t.slot = move(t.slot);
      for (const { t } of this.awaiting.values()) t.slot = move(t.slot);
    });
    return { entries: this.entries.size + pending, vanished, deleted, durationMs: (monoNs() - t0) / 1e6 };
  }
}
