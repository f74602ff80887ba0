/**
 * The real bpf/packet.bpf.o, loaded for BPF_PROG_TEST_RUN: one object per
 * test (fresh maps), readers for the flow table, the stats counters and the
 * event ring buffer, and a run() that asserts the pass-through contract.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import {
  FLOW_RTT_HIST,
  readFlowEvent,
  readFlowKey,
  readFlowStats,
  STAT_NAMES,
  writeTcpulseCfg,
  HIST_BUCKETS,
  type TcpulseCfgValue as CfgValue,
  type FlowEventValue,
  type FlowStatsValue,
  type StatName,
} from '../../src/bpf/layout.js';
import { libbpf } from '../../src/bpf/libbpf.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { BpfObject } from '../../src/bpf/object.js';
import { RingBuffer } from '../../src/bpf/ringbuf.js';
import { testRun } from './testrun.js';
import { addressToString } from '../../src/flows/address.js';
import { tcpPacket, TH, type TcpSpec } from './packet.js';

/** TCPULSE_TEST_BPF_OBJ: run the suite against another build of the object (a candidate fix). */
export const OBJ_PATH = process.env.TCPULSE_TEST_BPF_OBJ ?? fileURLToPath(new URL('../../bpf/packet.bpf.o', import.meta.url));
export const PROG = { xdp: 'tcpulse_xdp_in', tcIn: 'tcpulse_tc_in', tcEg: 'tcpulse_tc_eg' } as const;
export type ProgName = (typeof PROG)[keyof typeof PROG];
export const ALL_PROGS: readonly ProgName[] = [PROG.xdp, PROG.tcIn, PROG.tcEg];
const XDP_PASS = 2;
const TC_ACT_UNSPEC = 0xffffffff; // -1 read back as u32
const EINVAL = 22;

export const DEFAULT_CFG: CfgValue = { rttRateLimitNs: 0, tsTimeoutNs: 10e9, minRttWindowNs: 10e9, emitEvents: 1, qlog: 0, qlogMaxRecords: 0 };
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
      obj.setRodata(writeTcpulseCfg({ ...DEFAULT_CFG, ...cfg }));
      obj.setMaxEntries('flows', 16384); // a plain hash: room for every flow a test file makes
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

  /**
   * Like run(), but the kernel may refuse the frame (EINVAL, the program
   * does not run): BPF_PROG_TEST_RUN needs 14 bytes, and for skb programs
   * Linux 6.18 also needs the fixed IPv4 / IPv6 header when the ethertype
   * says IP. Refusal is accepted only there; returns whether it ran.
   */
  tryRun(prog: ProgName, pkt: Buffer): boolean {
    const et = pkt.length >= 14 ? pkt.readUInt16BE(12) : 0;
    const mayRefuse =
      pkt.length < 14 || (prog !== PROG.xdp && ((et === 0x0800 && pkt.length < 34) || (et === 0x86dd && pkt.length < 54)));
    try {
      this.run(prog, pkt);
      return true;
    } catch (err) {
      if (mayRefuse && (err as { errno?: number }).errno === EINVAL) return false;
      throw err;
    }
  }

  /** Runs and returns the monotonic time just before and just after. */
  timed(prog: ProgName, pkt: Buffer): [number, number] {
    const t0 = nowNs();
    this.run(prog, pkt);
    return [t0, nowNs()];
  }

  stats(): Stats {
    const v = this.statsMap.sumPerCpuU64(STAT_NAMES.length, nCpus);
    return Object.fromEntries(STAT_NAMES.map((name, i) => [name, v[i]!])) as Stats;
  }

  flows(): FlowView[] {
    const out: FlowView[] = [];
    const ks = this.flowsMap.keySize;
    const vs = this.flowsMap.valueSize;
    this.flowsMap.forEachBatch(({ count, keys, values }) => {
      for (let i = 0; i < count; i++) {
        const k = readFlowKey(Buffer.from(keys.subarray(i * ks, (i + 1) * ks)));
        const v = Buffer.from(values.subarray(i * vs, (i + 1) * vs));
        const stats = readFlowStats(v);
        const hist = (side: number): Record<number, number> => {
          const h: Record<number, number> = {};
          for (let j = 0; j < HIST_BUCKETS; j++) {
            const n = v.readUInt32LE(FLOW_RTT_HIST[side as 0 | 1] + 4 * j);
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
    this.rb ??= new RingBuffer(this.obj.map('events'), (d) => this.pending.push(readFlowEvent(d)));
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
  for (const k of STAT_NAMES) if (after[k] !== before[k]) d[k] = after[k] - before[k];
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

// ---- frames ----

export type Opts = Omit<TcpSpec, 'src' | 'dst' | 'sport' | 'dport'>;
let lastPort = 40000;
/** A port no other frame of this process used: flows never collide. */
export const newPort = (): number => ++lastPort;

/** A connection: out() builds egress frames (local -> peer), inn() ingress ones. */
export function conn(src = '10.0.0.1', dst = '10.0.0.2', l2: Opts = {}) {
  const sport = newPort();
  const dport = 443;
  const out = (o: Opts) => tcpPacket({ src, dst, sport, dport, ...l2, ...o });
  const inn = (o: Opts) => tcpPacket({ src: dst, dst: src, sport: dport, dport: sport, ...l2, ...o });
  return { src, dst, sport, dport, out, inn };
}
export const data = (val: number, ecr: number, payload = 100): Opts => ({ flags: TH.ACK | TH.PSH, ts: { val, ecr }, payload });
export const ack = (val: number, ecr: number): Opts => ({ flags: TH.ACK, ts: { val, ecr } });

/**
 * Seeded garbage. Frame i % 4 == 0: a valid TCP frame (IPv4/IPv6, 0-2 VLAN
 * tags, 0-3 extension headers) with 1-3 bytes overwritten, to reach the
 * deep parsing paths; 1: random bytes, random ethertype; 2: random bytes
 * behind an IPv4/IPv6/VLAN ethertype with a plausible IP header start; 3: the
 * same behind an 802.1Q tag.
 */
export function garbageFrames(seed: number, n: number): Buffer[] {
  const rnd = prng(seed);
  const byte = () => Math.floor(rnd() * 256);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    let f: Buffer;
    if (i % 4 === 0) {
      const [src, dst] = pick([['10.5.0.1', '10.5.0.2'], ['fd05::1', 'fd05::2']]);
      const vlans = pick([[], [3], [4, 5]]);
      f = tcpPacket({ src: src!, dst: dst!, sport: byte(), dport: 80, vlans, ipv6Ext: pick([0, 1, 3]), ...data(byte(), byte(), byte() % 20) });
      for (let k = 1 + (byte() % 3); k > 0; k--) f[14 + Math.floor(rnd() * (f.length - 14))] = byte();
    } else {
      f = Buffer.alloc(14 + Math.floor(rnd() * 200));
      for (let k = 0; k < f.length; k++) f[k] = byte();
      const l3 = i % 4 === 3 ? 18 : 14;
      if (l3 === 18) f.writeUInt16BE(0x8100, 12);
      const eth = i % 4 === 1 ? byte() << 8 : pick([0x0800, 0x86dd, 0x8100, 0x88a8]);
      if (f.length >= l3) f.writeUInt16BE(eth, l3 - 2);
      if (eth === 0x0800 && f.length >= l3 + 20) {
        f[l3] = 0x40 | (byte() & 15);
        f[l3 + 9] = pick([6, 6, 17]);
        if (rnd() < 0.7) f.writeUInt16BE(0, l3 + 6); // not a fragment
      }
      if (eth === 0x86dd && f.length >= l3 + 40) {
        f[l3] = 0x60;
        f[l3 + 6] = pick([6, 0, 43, 44, 51, 60, 17, 59]);
      }
    }
    out.push(f);
  }
  return out;
}
