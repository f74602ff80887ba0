/**
 * A small description of C struct layouts (natural alignment, as clang lays
 * out the structs in bpf/tcpulse.h) with offset lookup and little-endian
 * readers. The layouts themselves are in layout.ts.
 */

export interface Scalar {
  readonly kind: 'scalar';
  readonly size: 1 | 2 | 4 | 8;
}
export interface ArrayType {
  readonly kind: 'array';
  readonly of: FieldType;
  readonly len: number;
}
export type FieldType = Scalar | ArrayType | StructDef;

export interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly offset: number;
  readonly size: number;
}

export const u8: Scalar = { kind: 'scalar', size: 1 };
export const u16: Scalar = { kind: 'scalar', size: 2 };
export const u32: Scalar = { kind: 'scalar', size: 4 };
export const u64: Scalar = { kind: 'scalar', size: 8 };

export function array(of: FieldType, len: number): ArrayType {
  return { kind: 'array', of, len };
}

export function sizeOf(t: FieldType): number {
  if (t.kind === 'scalar') return t.size;
  if (t.kind === 'array') return sizeOf(t.of) * t.len;
  return t.size;
}

export function alignOf(t: FieldType): number {
  if (t.kind === 'scalar') return t.size;
  if (t.kind === 'array') return alignOf(t.of);
  return t.align;
}

export class StructDef {
  readonly kind = 'struct' as const;
  readonly fields: readonly Field[];
  readonly size: number;
  readonly align: number;
  private readonly byName: Map<string, Field>;

  constructor(
    readonly name: string,
    spec: Record<string, FieldType>,
  ) {
    let offset = 0;
    let align = 1;
    const fields: Field[] = [];
    for (const [fieldName, type] of Object.entries(spec)) {
      const a = alignOf(type);
      offset = Math.ceil(offset / a) * a;
      fields.push({ name: fieldName, type, offset, size: sizeOf(type) });
      offset += sizeOf(type);
      align = Math.max(align, a);
    }
    this.fields = fields;
    this.align = align;
    this.size = Math.ceil(offset / align) * align;
    this.byName = new Map(fields.map((f) => [f.name, f]));
  }

  field(name: string): Field {
    const f = this.byName.get(name);
    if (!f) throw new Error(`struct ${this.name} has no field ${name}`);
    return f;
  }

  /** Offset of a dotted path: 'rtt.1.hist.3' (array indices as numbers). */
  offset(path: string): number {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- a cursor walking down from this struct, not a capture
    let type: FieldType = this;
    let offset = 0;
    for (const part of path.split('.')) {
      if (type.kind === 'struct') {
        const f = type.field(part);
        offset += f.offset;
        type = f.type;
      } else if (type.kind === 'array') {
        const i = Number(part);
        if (!Number.isInteger(i) || i < 0 || i >= type.len) throw new Error(`bad index ${part} in ${path}`);
        offset += i * sizeOf(type.of);
        type = type.of;
      } else {
        throw new Error(`${path}: ${part} is not inside a struct or array`);
      }
    }
    return offset;
  }
}

export function struct(name: string, spec: Record<string, FieldType>): StructDef {
  return new StructDef(name, spec);
}

/**
 * A u64 as a JS number. Exact up to 2^53; above that (monotonic ns after 104
 * days of uptime) it rounds to a few ns, which no consumer can tell.
 */
export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 4294967296;
}

export function writeU64(buf: Buffer, off: number, v: number | bigint): void {
  buf.writeBigUInt64LE(BigInt(v), off);
}

/** The counters of a generated counter enum (enum stat, enum sock_stat), in the kernel's order, without its max. */
export function counterNames<E extends Record<string, number>>(e: E): Exclude<keyof E & string, 'max'>[] {
  return Object.keys(e).filter((n): n is Exclude<keyof E & string, 'max'> => n !== 'max');
}

/** The member of a generated enum object with value v, or undefined. */
export function nameOf<E extends Record<string, number>>(e: E, v: number): keyof E | undefined {
  return (Object.keys(e) as (keyof E)[]).find((k) => e[k] === v);
}
