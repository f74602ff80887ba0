/**
 * Fixed-size records in one growing buffer, addressed by slot number: the
 * mirror keeps each tracked entry's key and last value here, so that a
 * table of 100k entries is one allocation for the collector, not 200k
 * Buffers to trace and sweep. A slot's offset is stable until compact().
 */
export class Slab {
  private buf: Buffer;
  private readonly free: number[] = [];
  private used = 0; // slots ever handed out, the free ones included
  private live = 0;

  constructor(
    /** bytes per record, a multiple of 8: records stay 8-aligned */
    readonly recordSize: number,
    private readonly minSlots = 256,
  ) {
    if (recordSize % 8 !== 0) throw new Error(`record size ${recordSize} is not a multiple of 8`);
    this.buf = Buffer.alloc(recordSize * minSlots);
  }

  /** The records. A new one may be made by alloc() or compact(): read it again after either. */
  get buffer(): Buffer {
    return this.buf;
  }

  get size(): number {
    return this.live;
  }

  get capacity(): number {
    return this.buf.length / this.recordSize;
  }

  /** Byte offset of a slot's record. */
  at(slot: number): number {
    return slot * this.recordSize;
  }

  alloc(): number {
    this.live++;
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    // a quarter more (at least minSlots): the room left unused stays small
    if (this.used === this.capacity) this.resize(this.capacity + Math.max(this.minSlots, Math.ceil(this.capacity / 4)));
    return this.used++;
  }

  release(slot: number): void {
    this.live--;
    this.free.push(slot);
  }

  /**
   * Moves the live records to the front when at most a quarter of the room
   * is used, and halves the room: renumber(old, new) for each record moved.
   */
  compact(renumber: (move: (slot: number) => number) => void): void {
    const cap = this.capacity;
    if (cap <= this.minSlots || this.live > cap / 4) return;
    const old = this.buf;
    this.buf = Buffer.alloc(this.recordSize * Math.max(this.minSlots, cap / 2));
    let next = 0;
    renumber((slot) => {
      old.copy(this.buf, next * this.recordSize, slot * this.recordSize, (slot + 1) * this.recordSize);
      return next++;
    });
    this.used = this.live = next;
    this.free.length = 0;
  }

  private resize(slots: number): void {
    const b = Buffer.alloc(this.recordSize * slots);
    this.buf.copy(b, 0, 0, this.used * this.recordSize);
    this.buf = b;
  }
}
