/**
 * A protocol buffers reader for tests: a message as its fields by number,
 * each a list of raw values (varints as numbers, 64-bit fields as Buffers,
 * length-delimited ones as Buffers), without a schema. Written apart from
 * src/export/protobuf.ts, so that the two do not share a mistake.
 */
export type Fields = Map<number, (number | Buffer)[]>;

function varint(b: Buffer, pos: { at: number }): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos.at >= b.length) throw new Error('varint past the end');
    const byte = b[pos.at++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return v;
    mul *= 128;
  }
}

export function readFields(b: Buffer): Fields {
  const out: Fields = new Map();
  const pos = { at: 0 };
  while (pos.at < b.length) {
    const key = varint(b, pos);
    const field = Math.floor(key / 8);
    let v: number | Buffer;
    switch (key & 7) {
      case 0: v = varint(b, pos); break;
      case 1: v = b.subarray(pos.at, (pos.at += 8)); break;
      case 2: { const n = varint(b, pos); v = b.subarray(pos.at, (pos.at += n)); break; }
      case 5: v = b.subarray(pos.at, (pos.at += 4)); break;
      default: throw new Error(`wire type ${key & 7} at ${pos.at}`);
    }
    if (pos.at > b.length) throw new Error('field past the end');
    out.set(field, [...(out.get(field) ?? []), v]);
  }
  return out;
}

/** The messages of a length-delimited stream. */
export function readDelimited(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const pos = { at: 0 };
  while (pos.at < b.length) {
    const n = varint(b, pos);
    out.push(b.subarray(pos.at, (pos.at += n)));
  }
  return out;
}

export const str = (f: Fields, n: number) => (f.get(n)?.[0] as Buffer | undefined)?.toString() ?? '';
export const num = (f: Fields, n: number) => (f.get(n)?.[0] as number | undefined) ?? 0;
export const dbl = (f: Fields, n: number) => (f.get(n)?.[0] as Buffer | undefined)?.readDoubleLE(0) ?? 0;
export const msgs = (f: Fields, n: number) => (f.get(n) ?? []).map((v) => readFields(v as Buffer));
export const unzigzag = (v: number) => (v % 2 === 0 ? v / 2 : -(v + 1) / 2);

/** A packed repeated varint field. */
export function packed(f: Fields, n: number): number[] {
  const out: number[] = [];
  for (const b of (f.get(n) ?? []) as Buffer[]) {
    const pos = { at: 0 };
    while (pos.at < b.length) out.push(varint(b, pos));
  }
  return out;
}
