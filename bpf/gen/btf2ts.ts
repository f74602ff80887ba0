/**
 * Writes src/bpf/contract*.gen.ts from the compiled objects' BTF, the way
 * cilium/ebpf's bpf2go writes Go types: every struct and enum of the
 * contract (bpf/contract.o holds one of each, from tcpulse.h), and the
 * names of each program object's maps and programs. Hand-written code
 * keeps only what is not mechanical (decoders into domain objects).
 *
 *   npm run gen            rewrite it (after changing a header; needs make -C bpf)
 *   npm run gen -- --check exit 1 if it is not current (test/unit/layout.test.ts does the same)
 *
 * Per struct: its layout (codec.ts struct(), offsets by field path), a
 * value interface with camelCase fields and a reader; structs without
 * large arrays also get a writer. Arrays of more than 8 numbers are left
 * out of values (histograms: read in place at X.offset('field')), arrays
 * of u8 are Buffers (views into the input), padding (_pad*) is skipped.
 * Per enum: a const object, its members without their common prefix, in
 * camelCase.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBtf, type BtfEnum, type BtfStruct, type BtfType } from './btf.js';

const BPF = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(BPF, '../src/bpf');
/**
 * The generated files: one per part of the contract (by the name of the
 * struct or enum), and contract.gen.ts, which exports them all with the
 * map and program names.
 */
const PARTS = ['flow', 'sock', 'qlog'] as const;
type Part = (typeof PARTS)[number];
const partOf = (name: string): Part => (name.startsWith('qlog_') ? 'qlog' : /^(sock_|mptcp_|close_reason)/.test(name) ? 'sock' : 'flow');
const fileOf = (part: Part) => `contract-${part}.gen.ts`;
const CODEC = ['array', 'readU64', 'struct', 'u16', 'u32', 'u64', 'u8', 'writeU64'];
/** The program objects whose map and program names are generated: object file -> TS name prefix. */
const OBJECTS: Record<string, string> = { 'packet.bpf.o': 'Packet', 'sock.bpf.o': 'Sock' };
const SMALL_ARRAY = 8;
/** Structs the agent writes into the kernel (.rodata, map keys): they get writers, and what they hold. */
const WRITTEN = ['tcpulse_cfg', 'sock_cfg', 'qlog_addr'];

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
const pascal = (s: string) => camel(s).replace(/^./, (c) => c.toUpperCase());

function resolve(types: BtfType[], id: number): BtfType {
  let t = types[id]!;
  while (t.kind === 'typedef' || t.kind === 'volatile' || t.kind === 'const' || t.kind === 'restrict' || t.kind === 'type_tag') t = types[t.type]!;
  return t;
}

/** `o + off`, or `o`. */
const at = (off: number) => (off ? `o + ${off}` : 'o');

interface Field {
  /** the codec.ts expression of its layout */
  codec: string;
  /** its TS type in values; null: left out of them */
  ts: string | null;
  /** expressions that read it from b at offset off, and write v there */
  read: (off: number) => string;
  write?: (off: number, v: string) => string;
}

/** How a field of BTF type id is laid out, typed, read and written. */
function field(types: BtfType[], id: number): Field {
  const t = resolve(types, id);
  if (t.kind === 'int') {
    if (t.signed) throw new Error(`signed ${t.name}: the contract has __u* fields only`);
    const c = ({ 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' } as Record<number, string>)[t.size];
    if (!c) throw new Error(`int of ${t.size} bytes`);
    const reader = { 1: 'readUInt8', 2: 'readUInt16LE', 4: 'readUInt32LE' }[t.size as 1 | 2 | 4];
    const writer = { 1: 'writeUInt8', 2: 'writeUInt16LE', 4: 'writeUInt32LE' }[t.size as 1 | 2 | 4];
    return {
      codec: c,
      ts: 'number',
      read: (off) => (t.size === 8 ? `readU64(b, ${at(off)})` : `b.${reader}(${at(off)})`),
      write: (off, v) => (t.size === 8 ? `writeU64(b, ${at(off)}, ${v})` : `b.${writer}(${v}, ${at(off)})`),
    };
  }
  if (t.kind === 'array') {
    const el = field(types, t.type);
    const elSize = sizeOf(types, t.type);
    const codec = `array(${el.codec}, ${t.nelems})`;
    if (el.codec === 'u8') return { codec, ts: 'Buffer', read: (off) => `b.subarray(${at(off)}, ${at(off + t.nelems)})`, write: (off, v) => `${v}.copy(b, ${at(off)}, 0, ${t.nelems})` };
    if (t.nelems > SMALL_ARRAY || !el.ts) return { codec, ts: null, read: () => '' };
    const idx = [...Array(t.nelems).keys()];
    return {
      codec,
      ts: `${el.ts}[]`,
      read: (off) => `[${idx.map((i) => el.read(off + i * elSize)).join(', ')}]`,
      write: el.write ? (off, v) => idx.map((i) => el.write!(off + i * elSize, `${v}[${i}]!`)).join('; ') : undefined,
    };
  }
  if (t.kind === 'struct') {
    const n = pascal(t.name);
    const large = hasLargeArray(types, t);
    return { codec: n, ts: `${n}Value`, read: (off) => `read${n}(b, ${at(off)})`, write: large ? undefined : (off, v) => `write${n}To(b, ${at(off)}, ${v})` };
  }
  throw new Error(`BTF kind ${t.kind} in the contract`);
}

function sizeOf(types: BtfType[], id: number): number {
  const t = resolve(types, id);
  if (t.kind === 'int' || t.kind === 'struct' || t.kind === 'enum') return t.size;
  if (t.kind === 'array') return t.nelems * sizeOf(types, t.type);
  throw new Error(`no size for ${t.kind}`);
}

/** Whether a struct holds an array too large for its value (then it has no writer either). */
function hasLargeArray(types: BtfType[], s: BtfStruct): boolean {
  return s.members.some((m) => {
    let t = resolve(types, m.type);
    let n = 1;
    if (t.kind === 'array') {
      n = t.nelems;
      t = resolve(types, t.type);
    }
    if (t.kind === 'struct') return hasLargeArray(types, t);
    return n > SMALL_ARRAY && !(t.kind === 'int' && t.size === 1);
  });
}

/** Member names without the prefix every member shares (up to an underscore). */
function enumKeys(names: string[]): string[] {
  let prefix = names.length > 1 ? names[0]! : '';
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('_') + 1);
  return names.map((n) => camel(n.slice(prefix.length)));
}

function contractTypes(types: BtfType[]): { structs: BtfStruct[]; enums: BtfEnum[] } {
  // the contract object's globals are one of each: their types, in header order
  const structs: BtfStruct[] = [];
  const enums: BtfEnum[] = [];
  const seen = new Set<string>();
  const visit = (id: number) => {
    const t = resolve(types, id);
    if (t.kind === 'array') return visit(t.type);
    if (t.kind === 'struct' || t.kind === 'union') {
      if (t.kind === 'union') throw new Error(`union ${t.name} in the contract`);
      if (seen.has(t.name)) return;
      seen.add(t.name);
      for (const m of t.members) visit(m.type);
      structs.push(t);
    } else if (t.kind === 'enum' && t.name && !seen.has(t.name)) {
      seen.add(t.name);
      enums.push(t);
    }
  };
  for (const t of types) if (t.kind === 'var') visit(t.type);
  return { structs, enums };
}

function names(types: BtfType[]): { maps: string[]; programs: string[] } {
  const maps: string[] = [];
  for (const t of types) {
    if (t.kind !== 'datasec' || t.name !== '.maps') continue;
    for (const v of t.vars) maps.push((types[v.type] as { name: string }).name);
  }
  const programs = types.flatMap((t) => (t.kind === 'func' && t.linkage === 1 ? [t.name] : []));
  return { maps, programs };
}

/** The generated files, by name (in src/bpf/). */
export function generate(): Map<string, string> {
  const types = readBtf(join(BPF, 'contract.o'));
  const { structs, enums } = contractTypes(types);
  const written = new Set<string>();
  const mark = (name: string) => {
    written.add(name);
    const s = structs.find((x) => x.name === name)!;
    for (const m of s.members) {
      const t = resolve(types, m.type);
      const inner = t.kind === 'array' ? resolve(types, t.type) : t;
      if (inner.kind === 'struct') mark(inner.name);
    }
  };
  WRITTEN.forEach(mark);
  const declared = [...readFileSync(join(BPF, 'tcpulse.h'), 'utf8').matchAll(/^(?:enum|struct) (\w+) \{/gm)].map((m) => m[1]!);
  const missing = declared.filter((n) => !structs.some((s) => s.name === n) && !enums.some((e) => e.name === n));
  if (missing.length) throw new Error(`bpf/contract.c lacks a global of ${missing.join(', ')}`);
  const parts = Object.fromEntries(PARTS.map((p) => [p, { lines: [] as string[], names: [] as string[] }])) as Record<Part, { lines: string[]; names: string[] }>;
  for (const e of enums) {
    const keys = enumKeys(e.values.map((v) => v.name));
    const { lines: out, names: defined } = parts[partOf(e.name)];
    defined.push(pascal(e.name));
    out.push(`/** enum ${e.name} */`);
    out.push(`export const ${pascal(e.name)} = {`);
    e.values.forEach((v, i) => out.push(`  ${keys[i]}: ${v.value},`));
    out.push('} as const;', '');
  }
  for (const s of structs) {
    const n = pascal(s.name);
    const { lines: out, names: defined } = parts[partOf(s.name)];
    defined.push(n, `${n}Value`, `read${n}`);
    if (written.has(s.name)) defined.push(`write${n}To`, `write${n}`);
    const members = s.members.map((m) => {
      if (m.bitSize || m.bitOffset % 8) throw new Error(`${s.name}.${m.name}: bitfield`);
      return { ...m, f: field(types, m.type), offset: m.bitOffset / 8 };
    });
    out.push(`/** struct ${s.name} */`);
    out.push(`export const ${n} = struct('${s.name}', {`);
    for (const m of members) out.push(`  ${m.name}: ${m.f.codec},`);
    out.push('});', '');
    const shown = members.filter((m) => m.f.ts && !m.name.startsWith('_'));
    out.push(`export interface ${n}Value {`);
    for (const m of shown) out.push(`  ${camel(m.name)}: ${m.f.ts};`);
    out.push('}', '');
    out.push(`export function read${n}(b: Buffer, o = 0): ${n}Value {`);
    out.push('  return {');
    for (const m of shown) out.push(`    ${camel(m.name)}: ${m.f.read(m.offset)},`);
    out.push('  };', '}', '');
    if (written.has(s.name)) {
      if (hasLargeArray(types, s)) throw new Error(`struct ${s.name} is too large to write`);
      out.push(`export function write${n}To(b: Buffer, o: number, v: ${n}Value): void {`);
      for (const m of shown) out.push(`  ${m.f.write!(m.offset, `v.${camel(m.name)}`)};`);
      out.push('}', '');
      out.push(`export function write${n}(v: ${n}Value): Buffer {`);
      out.push(`  const b = Buffer.alloc(${s.size});`, `  write${n}To(b, 0, v);`, '  return b;', '}', '');
    }
  }
  const files = new Map<string, string>();
  for (const part of PARTS) {
    const body = parts[part].lines.join('\n');
    const uses = (id: string) => new RegExp(`\\b${id}\\b`).test(body);
    const imports = [`import { ${CODEC.filter(uses).join(', ')} } from './codec.js';`];
    for (const other of PARTS) {
      if (other === part) continue;
      const ids = parts[other].names.filter(uses).map((id) => (id.endsWith('Value') ? `type ${id}` : id));
      if (ids.length) imports.push(`import { ${ids.join(', ')} } from './${fileOf(other).replace(/\.ts$/, '.js')}';`);
    }
    files.set(fileOf(part), [...HEADER, ...imports, '', body].join('\n').replace(/\n+$/, '\n'));
  }
  const out = [...HEADER, ...PARTS.map((p) => `export * from './${fileOf(p).replace(/\.ts$/, '.js')}';`), ''];
  for (const [file, prefix] of Object.entries(OBJECTS)) {
    const { maps, programs } = names(readBtf(join(BPF, file)));
    out.push(`/** Maps of bpf/${file}. */`);
    out.push(`export const ${prefix}Maps = [${maps.map((m) => `'${m}'`).join(', ')}] as const;`);
    out.push(`export type ${prefix}Map = (typeof ${prefix}Maps)[number];`);
    out.push(`/** Programs of bpf/${file}. */`);
    out.push(`export const ${prefix}Programs = [${programs.map((p) => `'${p}'`).join(', ')}] as const;`);
    out.push(`export type ${prefix}Program = (typeof ${prefix}Programs)[number];`, '');
  }
  files.set('contract.gen.ts', out.join('\n').replace(/\n+$/, '\n'));
  return files;
}

const HEADER = [
  '// Code generated by bpf/gen/btf2ts.ts from the BTF of bpf/contract.o (bpf/tcpulse.h) and the',
  '// program objects. DO NOT EDIT: change the header, then `make -C bpf && npm run gen`.',
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of generate()) {
    const path = join(OUT_DIR, file);
    if (!check) writeFileSync(path, text);
    else if (readFileSync(path, 'utf8') !== text) {
      process.stderr.write(`${path} is not current: make -C bpf && npm run gen\n`);
      stale++;
    }
  }
  process.exit(stale ? 1 : 0);
}
