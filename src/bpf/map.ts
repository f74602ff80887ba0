/**
 * A loaded map, by fd (owned by its BpfObject). Reads go in batches: one
 * syscall per chunk of entries, never one per entry on a hot path.
 */
import { BpfError, check } from '../errors.js';
import { libbpf } from './libbpf.js';

const ENOENT = 2;
const ENOSPC = 28;

export interface Batch {
  /** entries in this chunk */
  count: number;
  keys: Buffer;
  values: Buffer;
}

export class BpfMap {
  private batchBufs?: { keys: Buffer; values: Buffer; inTok: Buffer; outTok: Buffer; count: Buffer; chunk: number };

  constructor(
    readonly name: string,
    readonly fd: number,
    readonly type: number,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
  ) {}

  /**
   * Every chunk of entries (bpf_map_lookup_batch), one syscall each. The
   * buffers are reused between chunks: copy what must outlive a chunk. An
   * iteration owns its buffers, so two may run at once (one paused at an
   * await).
   */
  *batches(chunk = 1024): Generator<Batch> {
    const tokSize = Math.max(8, this.keySize); // hash maps use a u32 bucket cursor
    let b = this.batchBufs && this.batchBufs.chunk >= chunk ? this.batchBufs : this.allocBatch(chunk, tokSize);
    this.batchBufs = undefined;
    try {
      let first = true;
      for (;;) {
        b.count.writeUInt32LE(b.chunk);
        const ret = libbpf.map_lookup_batch(this.fd, first ? null : b.inTok, b.outTok, b.keys, b.values, b.count, null);
        const n = b.count.readUInt32LE(0);
        if (ret < 0 && -ret === ENOSPC && n === 0) {
          // one hash bucket holds more entries than a chunk: same cursor, more room
          const inTok = Buffer.from(b.inTok);
          b = this.allocBatch(b.chunk * 4, tokSize);
          inTok.copy(b.inTok);
          continue;
        }
        if (ret < 0 && -ret !== ENOENT) throw new BpfError(`lookup batch in ${this.name}`, -ret);
        if (n > 0) yield { count: n, keys: b.keys, values: b.values };
        if (ret < 0) return; // ENOENT: that was the last chunk
        b.outTok.copy(b.inTok);
        first = false;
      }
    } finally {
      this.batchBufs = b;
    }
  }

  /** Calls fn for every chunk of entries (batches()). */
  forEachBatch(fn: (batch: Batch) => void, chunk = 1024): void {
    for (const b of this.batches(chunk)) fn(b);
  }

  private allocBatch(chunk: number, tokSize: number) {
    return {
      keys: Buffer.alloc(this.keySize * chunk),
      values: Buffer.alloc(this.valueSize * chunk),
      inTok: Buffer.alloc(tokSize),
      outTok: Buffer.alloc(tokSize),
      count: Buffer.alloc(4),
      chunk,
    };
  }

  lookup(key: Buffer, value: Buffer): boolean {
    const ret = libbpf.map_lookup_elem(this.fd, key, value);
    if (ret === -ENOENT) return false;
    check(`lookup in ${this.name}`, ret);
    return true;
  }

  update(key: Buffer, value: Buffer, flags = 0): void {
    check(`update in ${this.name}`, libbpf.map_update_elem(this.fd, key, value, flags));
  }

  /** false when the key was already gone. */
  delete(key: Buffer): boolean {
    const ret = libbpf.map_delete_elem(this.fd, key);
    if (ret === -ENOENT) return false;
    check(`delete in ${this.name}`, ret);
    return true;
  }

  /**
   * Sums a per-CPU array of u64 counters: slot i is the sum over CPUs.
   * Per-CPU values are padded to 8 bytes each.
   */
  sumPerCpuU64(nSlots: number, nCpus: number): number[] {
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(8 * nCpus);
    const out: number[] = [];
    for (let i = 0; i < nSlots; i++) {
      key.writeUInt32LE(i);
      let sum = 0;
      if (this.lookup(key, value)) {
        for (let c = 0; c < nCpus; c++) sum += Number(value.readBigUInt64LE(c * 8));
      }
      out.push(sum);
    }
    return out;
  }
}
