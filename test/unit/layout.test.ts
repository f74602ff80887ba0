/**
 * The user side of the contract is generated from the BTF clang emits for
 * bpf/tcpulse.h (bpf/gen/btf2ts.ts): the generated file must be current,
 * and the program objects the agent loads must carry the same layouts as
 * the contract object it was generated from.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as contract from '../../src/bpf/contract.gen.js';
import { StructDef } from '../../src/bpf/codec.js';
import { generate } from '../../bpf/gen/btf2ts.js';
import { btfStructs, type BtfStruct } from '../helpers/btf.js';
import { projectRoot } from '../../src/paths.js';

const bpfDir = join(projectRoot, 'bpf');
const structs = Object.values(contract).filter((v): v is StructDef => v instanceof StructDef);

function assertSameLayout(def: StructDef, btf: BtfStruct | undefined): void {
  assert.ok(btf, `struct ${def.name} is not in the BTF`);
  assert.deepEqual(
    def.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size })),
    btf.members,
    `struct ${def.name}: the generated layout and the object's differ`,
  );
  assert.equal(def.size, btf.size, `sizeof(struct ${def.name})`);
}

describe('the generated contract (src/bpf/contract*.gen.ts)', () => {
  it('is what the generator writes from the current objects (else: make -C bpf && npm run gen)', () => {
    for (const [file, text] of generate()) assert.equal(readFileSync(join(projectRoot, 'src/bpf', file), 'utf8'), text, file);
  });

  it('holds every struct of the header', () => {
    const header = readFileSync(join(bpfDir, 'tcpulse.h'), 'utf8');
    const declared = [...header.matchAll(/^struct (\w+) \{/gm)].map((m) => m[1]!);
    assert.deepEqual(structs.map((s) => s.name).sort(), declared.sort());
  });

  it('lays out each struct as the objects the agent loads do', () => {
    const objects = ['contract.o', 'packet.bpf.o', 'sock.bpf.o', 'compat/packet.bpf.o', 'compat/sock.bpf.o'].map((f) => btfStructs(join(bpfDir, f)));
    let compared = 0;
    for (const def of structs) {
      for (const o of objects) {
        if (!o.has(def.name)) continue;
        assertSameLayout(def, o.get(def.name));
        compared++;
      }
    }
    assert.ok(compared > structs.length, `${compared} comparisons`);
  });

  it('detects a drifted layout', () => {
    const btf = btfStructs(join(bpfDir, 'contract.o')).get('flow_key')!;
    const drifted = { ...btf, members: btf.members.map((m) => (m.name === 'ifindex' ? { ...m, offset: m.offset + 4 } : m)) };
    assert.throws(() => assertSameLayout(contract.FlowKey, drifted));
  });

  it('reads and writes values at the offsets of the layout', () => {
    const cfg = { rttRateLimitNs: 1, tsTimeoutNs: 2 ** 40 + 3, minRttWindowNs: 5, emitEvents: 1, qlog: 6, qlogMaxRecords: 7 };
    const buf = contract.writeTcpulseCfg(cfg);
    assert.equal(buf.length, contract.TcpulseCfg.size);
    assert.equal(buf.readUInt32LE(contract.TcpulseCfg.offset('qlog_max_records')), 7);
    assert.deepEqual(contract.readTcpulseCfg(buf), cfg);
    const key = Buffer.alloc(contract.FlowKey.size);
    key.writeUInt16LE(443, contract.FlowKey.offset('dport'));
    key[contract.FlowKey.offset('daddr') + 15] = 9;
    const k = contract.readFlowKey(key);
    assert.equal(k.dport, 443);
    assert.equal(k.daddr[15], 9);
  });
});
