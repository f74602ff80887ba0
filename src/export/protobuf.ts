/**
 * Protocol buffers, the writing half and only what the Prometheus
 * exposition needs (varints, zigzag, doubles, strings, nested and
 * length-delimited messages). A dependency for this would carry a schema
 * compiler and a reader we never use.
 */

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;

export class ProtoWriter {
  private buf: Buffer;
  private len = 0;
  /** writers for nested messages, one per depth, reused */
  private child: ProtoWriter | null = null;

  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafe(size);
  }

  get length(): number {
    return this.len;
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** A non-negative integer up to 2^53. */
  varint(v: number): this {
    this.room(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** uint32/uint64/enum field. */
  uint(field: number, v: number): this {
    this.tag(field, WIRE_VARINT);
    return this.varint(v);
  }

  /** sint32/sint64 field (zigzag). */
  sint(field: number, v: number): this {
    this.tag(field, WIRE_VARINT);
    return this.varint(zigzag(v));
  }

  double(field: number, v: number): this {
    this.tag(field, WIRE_I64);
    this.room(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s));
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    return this.raw(b);
  }

  /** Bytes already encoded as fields (a cached label set). */
  raw(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** Packed repeated sint64. */
  packedSint(field: number, values: readonly number[]): this {
    return this.message(field, (w) => {
      for (const v of values) w.varint(zigzag(v));
    });
  }

  /** A nested message, written by fill into a reused child writer. */
  message(field: number, fill: (w: ProtoWriter) => void): this {
    const w = this.nested(fill);
    this.tag(field, WIRE_LEN);
    return this.delimitedFrom(w);
  }

  /** Another writer's bytes, prefixed by their length. */
  delimitedFrom(w: ProtoWriter): this {
    this.varint(w.len);
    this.room(w.len);
    w.buf.copy(this.buf, this.len, 0, w.len);
    this.len += w.len;
    return this;
  }

  reset(): void {
    this.len = 0;
  }

  private nested(fill: (w: ProtoWriter) => void): ProtoWriter {
    const w = (this.child ??= new ProtoWriter(256));
    w.len = 0;
    fill(w);
    return w;
  }

  /** A copy of what was written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}
