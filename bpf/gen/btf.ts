/**
 * A reader of BTF, the type information clang writes into a BPF object's
 * .BTF section (Documentation/bpf/btf.rst): the ELF section found by its
 * name, then the header, the type records and the string table. Enough for
 * the generator (btf2ts.ts): integers, arrays, structs, enums, typedefs and
 * qualifiers, functions and the variables of data sections.
 */
import { readFileSync } from 'node:fs';

export interface BtfStruct {
  kind: 'struct' | 'union';
  name: string;
  size: number;
  members: { name: string; type: number; bitOffset: number; bitSize: number }[];
}

export interface BtfEnum {
  kind: 'enum';
  name: string;
  size: number;
  values: { name: string; value: number }[];
}

export type BtfType =
  | { kind: 'void' }
  | { kind: 'int'; name: string; size: number; signed: boolean }
  | { kind: 'ptr'; type: number }
  | { kind: 'array'; type: number; nelems: number }
  | BtfStruct
  | BtfEnum
  | { kind: 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag'; name: string; type: number }
  | { kind: 'fwd'; name: string }
  | { kind: 'func'; name: string; type: number; linkage: number }
  | { kind: 'func_proto'; type: number }
  | { kind: 'var'; name: string; type: number }
  | { kind: 'datasec'; name: string; size: number; vars: { type: number; offset: number; size: number }[] }
  | { kind: 'other'; code: number; name: string };

const KINDS = ['void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const', 'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64'] as const;

/** The bytes of the named section of a little-endian ELF64 file. */
function elfSection(file: Buffer, want: string): Buffer {
  if (file.readUInt32BE(0) !== 0x7f454c46 || file[4] !== 2 || file[5] !== 1) throw new Error('not a little-endian ELF64 file');
  const shoff = Number(file.readBigUInt64LE(0x28));
  const shentsize = file.readUInt16LE(0x3a);
  const shnum = file.readUInt16LE(0x3c);
  const shstrndx = file.readUInt16LE(0x3e);
  const header = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: file.readUInt32LE(o), offset: Number(file.readBigUInt64LE(o + 0x18)), size: Number(file.readBigUInt64LE(o + 0x20)) };
  };
  const names = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const end = file.indexOf(0, names.offset + h.name);
    if (file.toString('latin1', names.offset + h.name, end) === want) return file.subarray(h.offset, h.offset + h.size);
  }
  throw new Error(`no ${want} section`);
}

/** All types of the object's BTF, by id (0 is void). */
export function readBtf(objectFile: string): BtfType[] {
  const btf = elfSection(readFileSync(objectFile), '.BTF');
  if (btf.readUInt16LE(0) !== 0xeb9f) throw new Error(`${objectFile}: bad BTF magic`);
  const hdrLen = btf.readUInt32LE(4);
  const typeOff = hdrLen + btf.readUInt32LE(8);
  const typeLen = btf.readUInt32LE(12);
  const strOff = hdrLen + btf.readUInt32LE(16);
  const str = (off: number) => (off ? btf.toString('latin1', strOff + off, btf.indexOf(0, strOff + off)) : '');
  const types: BtfType[] = [{ kind: 'void' }];
  for (let o = typeOff; o < typeOff + typeLen; ) {
    const name = str(btf.readUInt32LE(o));
    const info = btf.readUInt32LE(o + 4);
    const sizeOrType = btf.readUInt32LE(o + 8);
    const vlen = info & 0xffff;
    const kind = KINDS[(info >>> 24) & 0x1f] ?? 'unknown';
    const kflag = info >>> 31;
    o += 12;
    switch (kind) {
      case 'int': {
        const enc = btf.readUInt32LE(o);
        o += 4;
        types.push({ kind, name, size: sizeOrType, signed: ((enc >>> 24) & 1) === 1 });
        break;
      }
      case 'ptr':
        types.push({ kind, type: sizeOrType });
        break;
      case 'array':
        types.push({ kind, type: btf.readUInt32LE(o), nelems: btf.readUInt32LE(o + 8) });
        o += 12;
        break;
      case 'struct':
      case 'union': {
        const members: BtfStruct['members'] = [];
        for (let i = 0; i < vlen; i++, o += 12) {
          const off = btf.readUInt32LE(o + 8);
          members.push({ name: str(btf.readUInt32LE(o)), type: btf.readUInt32LE(o + 4), bitOffset: kflag ? off & 0xffffff : off, bitSize: kflag ? off >>> 24 : 0 });
        }
        types.push({ kind, name, size: sizeOrType, members });
        break;
      }
      case 'enum': {
        const values: BtfEnum['values'] = [];
        for (let i = 0; i < vlen; i++, o += 8) values.push({ name: str(btf.readUInt32LE(o)), value: kflag ? btf.readInt32LE(o + 4) : btf.readUInt32LE(o + 4) });
        types.push({ kind, name, size: sizeOrType, values });
        break;
      }
      case 'enum64': {
        const values: BtfEnum['values'] = [];
        for (let i = 0; i < vlen; i++, o += 12) values.push({ name: str(btf.readUInt32LE(o)), value: btf.readUInt32LE(o + 4) + btf.readUInt32LE(o + 8) * 2 ** 32 });
        types.push({ kind: 'enum', name, size: sizeOrType, values });
        break;
      }
      case 'fwd':
        types.push({ kind, name });
        break;
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
        types.push({ kind, name, type: sizeOrType });
        break;
      case 'func':
        types.push({ kind, name, type: sizeOrType, linkage: vlen });
        break;
      case 'func_proto':
        o += 8 * vlen;
        types.push({ kind, type: sizeOrType });
        break;
      case 'var':
        o += 4;
        types.push({ kind, name, type: sizeOrType });
        break;
      case 'datasec': {
        const vars: { type: number; offset: number; size: number }[] = [];
        for (let i = 0; i < vlen; i++, o += 12) vars.push({ type: btf.readUInt32LE(o), offset: btf.readUInt32LE(o + 4), size: btf.readUInt32LE(o + 8) });
        types.push({ kind, name, size: sizeOrType, vars });
        break;
      }
      case 'float':
        types.push({ kind: 'other', code: 16, name });
        break;
      case 'decl_tag':
        o += 4;
        types.push({ kind: 'other', code: 17, name });
        break;
      default:
        throw new Error(`${objectFile}: BTF kind ${(info >>> 24) & 0x1f} is not known here`);
    }
  }
  return types;
}
