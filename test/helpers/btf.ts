/** Struct layouts from BTF (bpftool btf dump -j), for comparing with the TS codec. */
import { execFileSync } from 'node:child_process';

interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
}

export interface BtfMember {
  name: string;
  offset: number;
  size: number;
}

export interface BtfStruct {
  name: string;
  size: number;
  members: BtfMember[];
}

export function btfStructs(objectFile: string): Map<string, BtfStruct> {
  const out = execFileSync('bpftool', ['btf', 'dump', 'file', objectFile, 'format', 'raw', '-j'], { encoding: 'utf8' });
  const types: BtfType[] = JSON.parse(out).types;
  const byId = new Map(types.map((t) => [t.id, t]));
  const sizeOf = (id: number): number => {
    const t = byId.get(id);
    if (!t) throw new Error(`BTF type ${id} missing`);
    switch (t.kind) {
      case 'INT':
      case 'STRUCT':
      case 'UNION':
      case 'ENUM':
      case 'ENUM64':
      case 'FLOAT':
        return t.size!;
      case 'PTR':
        return 8;
      case 'ARRAY':
        return t.nr_elems! * sizeOf(t.type_id!);
      case 'TYPEDEF':
      case 'CONST':
      case 'VOLATILE':
        return sizeOf(t.type_id!);
      default:
        throw new Error(`BTF kind ${t.kind} has no size here`);
    }
  };
  const res = new Map<string, BtfStruct>();
  for (const t of types) {
    if (t.kind !== 'STRUCT' || t.name === '(anon)') continue;
    if ((t.members ?? []).some((m) => m.name === '(anon)')) continue; // kernel types with unions: not ours
    res.set(t.name, {
      name: t.name,
      size: t.size!,
      members: (t.members ?? []).map((m) => ({ name: m.name, offset: m.bits_offset / 8, size: sizeOf(m.type_id) })),
    });
  }
  return res;
}
