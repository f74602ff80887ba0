/**
 * The real bpf/packet.bpf.o, loaded for BPF_PROG_TEST_RUN: one object per
 * test (fresh maps), readers for the flow table, the stats counters and the
 * event ring buffer, and a run() that asserts the pass-through contract.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import {
  decodeFlowEvent,
  decodeFlowKey,
  decodeFlowStats,
  encodeCfg,
  HIST_BUCKETS,
  Stat,
  type CfgValue,
  type FlowEventValue,
  type FlowStatsValue,
  type StatName,
} from '../../src/bpf/layout.js';
import { libbpf } from '../../src/bpf/libbpf.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { BpfObject } from '../../src/bpf/object.js';
import { RingBuffer } from '../../src/bpf/ringbuf.js';
import { testRun } from '../../src/bpf/testrun.js';
import { addressToString } from '../../src/flows/address.js';

export const OBJ_PATH = fileURLToPath(new URL('../../bpf/packet.bpf.o', import.meta.url));
export const PROG = { xdp: 'tcpulse_xdp_in', tcIn: 'tcpulse_tc_in', tcEg: 'tcpulse_tc_eg' } as const;
export type ProgName = (typeof PROG)[keyof typeof PROG];
export const ALL_PROGS: readonly ProgName[] = [PROG.xdp, PROG.tcIn, PROG.tcEg];
const XDP_PASS = 2;
const TC_ACT_UNSPEC = 0xffffffff; // -1 read back as u32

export const DEFAULT_CFG: CfgValue = { rttRateLimitNs: 0, tsTimeoutNs: 10e9, minRttWindowNs: 10e9, emitEvents: true };
const nCpus = libbpf.num_possible_cpus();

export type Stats = Record<StatName, number>;

export interface FlowView {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  ifindex: number;
  stats: FlowStatsValue;
  /** Non-zero histogram buckets of one side: bucket index -> count. */
  hist(side: number): Record<number, number>;
}

export interface EventView extends Omit<FlowEventValue, 'key'> {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

/** CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns(). */
export const nowNs = (): number => Number(process.hrtime.bigint());

/** Sleeps until at least ns have passed since `from` (setTimeout may fire early). */
export async function sleepSince(from: number, ns: number): Promise<void> {
  while (nowNs() - from < ns) await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil((ns - (nowNs() - from)) / 1e6))));
}

export class TestBpf {
  private readonly flowsMap: BpfMap;
  private readonly statsMap: BpfMap;
  private rb: RingBuffer | null = null;
  private readonly pending: FlowEventValue[] = [];

  private constructor(readonly obj: BpfObject) {
    this.flowsMap = obj.map('flows');
    this.statsMap = obj.map('stats');
  }

  /** Opens and loads a fresh object; closed when the test ends. */
  static open(t: TestContext, cfg: Partial<CfgValue> = {}): TestBpf {
    const b = TestBpf.load(cfg);
    t.after(() => b.close());
    return b;
  }

  /** Opens and loads a fresh object; the caller closes it. */
  static load(cfg: Partial<CfgValue> = {}): TestBpf {
    const obj = BpfObject.open(OBJ_PATH);
    try {
      obj.setRodata(encodeCfg({ ...DEFAULT_CFG, ...cfg }));
      obj.setMaxEntries('flows', 1024);
      for (const p of ALL_PROGS) obj.setAutoload(p, true);
      obj.load();
    } catch (err) {
      obj.close();
      throw err;
    }
    return new TestBpf(obj);
  }

  fd(prog: ProgName): number {
    return this.obj.programFd(prog);
  }

  /** Runs prog on pkt; asserts the verdict is pass and the packet unchanged. */
  run(prog: ProgName, pkt: Buffer): void {
    const { retval, dataOut } = testRun(this.fd(prog), pkt);
    if (retval !== (prog === PROG.xdp ? XDP_PASS : TC_ACT_UNSPEC) || !dataOut.equals(pkt)) {
      assert.fail(`${prog} on ${pkt.toString('hex')}: retval ${retval}, changed: ${!dataOut.equals(pkt)}`);
    }
  }

  /** Runs and returns the monotonic time just before and just after. */
  timed(prog: ProgName, pkt: Buffer): [number, number] {
    const t0 = nowNs();
    this.run(prog, pkt);
    return [t0, nowNs()];
  }

  stats(): Stats {
    const v = this.statsMap.sumPerCpuU64(Stat.length, nCpus);
    return Object.fromEntries(Stat.map((name, i) => [name, v[i]!])) as Stats;
  }

  flows(): FlowView[] {
    const out: FlowView[] = [];
    const ks = this.flowsMap.keySize;
    const vs = this.flowsMap.valueSize;
    this.flowsMap.forEachBatch(({ count, keys, values }) => {
      for (let i = 0; i < count; i++) {
        const k = decodeFlowKey(Buffer.from(keys.subarray(i * ks, (i + 1) * ks)));
        const v = Buffer.from(values.subarray(i * vs, (i + 1) * vs));
        const stats = decodeFlowStats(v);
        const hist = (side: number): Record<number, number> => {
          const h: Record<number, number> = {};
          for (let j = 0; j < HIST_BUCKETS; j++) {
            const n = v.readUInt32LE(stats.rtt[side]!.histOffset + 4 * j);
            if (n) h[j] = n;
          }
          return h;
        };
        const { sport, dport, ifindex } = k;
        out.push({ saddr: addressToString(k.saddr), daddr: addressToString(k.daddr), sport, dport, ifindex, stats, hist });
      }
    });
    return out;
  }

  /** The one flow with these ports in egress orientation; fails unless exactly one. */
  flow(sport: number, dport: number): FlowView {
    const all = this.flows();
    const m = all.filter((f) => f.sport === sport && f.dport === dport);
    assert.equal(m.length, 1, `flows with ports ${sport}->${dport}: ${JSON.stringify(all.map((f) => [f.sport, f.dport]))}`);
    return m[0]!;
  }

  /** Drains the ring buffer. */
  events(): EventView[] {
    this.rb ??= new RingBuffer(this.obj.map('events'), (d) => this.pending.push(decodeFlowEvent(d)));
    this.rb.consume();
    return this.pending.splice(0).map(({ key, ...rest }) => ({
      ...rest,
      saddr: addressToString(key.saddr),
      daddr: addressToString(key.daddr),
      sport: key.sport,
      dport: key.dport,
    }));
  }

  close(): void {
    this.rb?.close();
    this.rb = null;
    this.obj.close();
  }
}

/** Counters that moved between two readings, and by how much. */
export function delta(before: Stats, after: Stats): Partial<Stats> {
  const d: Partial<Stats> = {};
  for (const k of Stat) if (after[k] !== before[k]) d[k] = after[k] - before[k];
  return d;
}

/** Deterministic PRNG (mulberry32) for the garbage frames. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
