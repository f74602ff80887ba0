/**
 * The TS codec and the C structs must agree to the byte: every shared
 * struct is compared field by field with the BTF clang emits, both from the
 * real program object and from an anchor object holding every struct.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FlowEvent, FlowKey, FlowStats, RttStats, TcpulseCfg, TsState, HIST_BUCKETS, Stat,
  SockKey, SockSummary, SockStats, MptcpKey, MptcpConn, SockEvent, SockClosedEvent, SockCfg, SockStat,
  QlogAddr, QlogPacket, QlogFlow, QlogSockRec, QlogSock, QLOG_TCP_MAX, QlogCfgFlag, QlogRecType,
} from '../../src/bpf/layout.js';
import type { StructDef } from '../../src/bpf/codec.js';
import { btfStructs, type BtfStruct } from '../helpers/btf.js';
import { projectRoot } from '../../src/paths.js';

const bpfDir = join(projectRoot, 'bpf');
const tmp = mkdtempSync(join(tmpdir(), 'tcpulse-layout-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function anchorObject(): string {
  const out = join(tmp, 'layout_anchor.bpf.o');
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-I', bpfDir, '-I/usr/include/x86_64-linux-gnu', '-c',
    join(projectRoot, 'test/fixtures/layout_anchor.bpf.c'), '-o', out]);
  return out;
}

function assertSameLayout(def: StructDef, btf: BtfStruct | undefined): void {
  assert.ok(btf, `struct ${def.name} is not in the BTF`);
  assert.deepEqual(
    def.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size })),
    btf.members,
    `struct ${def.name}: TS codec and C layout differ`,
  );
  assert.equal(def.size, btf.size, `sizeof(struct ${def.name})`);
}

const all = [
  FlowKey, FlowStats, TsState, RttStats, FlowEvent, TcpulseCfg, SockKey, SockSummary, SockStats, MptcpKey, MptcpConn, SockEvent, SockClosedEvent, SockCfg,
  QlogAddr, QlogPacket, QlogFlow, QlogSockRec, QlogSock,
];

describe('struct layouts (bpf/tcpulse.h vs src/bpf/layout.ts)', () => {
  const anchor = btfStructs(anchorObject());
  for (const def of all) {
    it(`${def.name} matches the header`, () => assertSameLayout(def, anchor.get(def.name)));
  }

  it('the program object carries the same layouts', () => {
    const prog = btfStructs(join(bpfDir, 'packet.bpf.o'));
    for (const def of [FlowKey, FlowStats, TsState, RttStats, TcpulseCfg, QlogAddr, QlogFlow]) assertSameLayout(def, prog.get(def.name));
    const sock = btfStructs(join(bpfDir, 'sock.bpf.o'));
    for (const def of [SockKey, SockSummary, SockStats, MptcpKey, MptcpConn, SockCfg, QlogAddr, QlogSock]) assertSameLayout(def, sock.get(def.name));
  });

  it('constants agree with the header', () => {
    const header = execFileSync('clang', ['-E', '-dM', '-I/usr/include/x86_64-linux-gnu', join(bpfDir, 'tcpulse.h')], {
      encoding: 'utf8',
    });
    const define = (name: string) => Number(new RegExp(`#define ${name} (\\d+)`).exec(header)?.[1]);
    assert.equal(define('HIST_BUCKETS'), HIST_BUCKETS);
    assert.equal(define('QLOG_TCP_MAX'), QLOG_TCP_MAX);
    const text = readFileSync(join(bpfDir, 'tcpulse.h'), 'utf8');
    const enumValues = (name: string) => {
      const body = new RegExp(`enum ${name} \\{([^}]*)\\}`, 's').exec(text)![1]!;
      return [...body.matchAll(/([A-Z_]+) = (?:1 << )?(\d+)/g)].map((m) => [m[1]!, m[0]!.includes('<<') ? 1 << Number(m[2]) : Number(m[2])]);
    };
    assert.deepEqual(enumValues('qlog_cfg_flag').map(([, v]) => v), Object.values(QlogCfgFlag));
    assert.deepEqual(enumValues('qlog_rec_type').map(([, v]) => v), Object.values(QlogRecType));
    // enum stat: STAT_MAX is the number of counters
    const stats = /enum stat \{([^}]*)\}/s.exec(readFileSync(join(bpfDir, 'tcpulse.h'), 'utf8'))![1]!;
    const names = [...stats.matchAll(/STAT_([A-Z_]+)/g)].map((m) => m[1]!.toLowerCase()).filter((n) => n !== 'max');
    assert.deepEqual(names, [...Stat]);
    const sstats = /enum sock_stat \{([^}]*)\}/s.exec(readFileSync(join(bpfDir, 'tcpulse.h'), 'utf8'))![1]!;
    const snames = [...sstats.matchAll(/SSTAT_([A-Z_]+)/g)].map((m) => m[1]!.toLowerCase()).filter((n) => n !== 'max');
    assert.deepEqual(snames, [...SockStat]);
  });

  it('detects a drifted codec', () => {
    const anchorKey = anchor.get('flow_key')!;
    const drifted = { ...anchorKey, members: anchorKey.members.map((m) => (m.name === 'ifindex' ? { ...m, offset: m.offset + 4 } : m)) };
    assert.throws(() => assertSameLayout(FlowKey, drifted));
  });
});
