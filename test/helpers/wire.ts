/**
 * The wire as ground truth: a capture of every TCP packet crossing one
 * interface (test/helpers/wire.py, an AF_PACKET socket with virtio net
 * headers, so a GSO/GRO batch counts as the segments it carries), and what
 * tests read from it: packets and layer-3 bytes of a connection each way,
 * and how a sender's data went onto the wire (retransmitted, skipped).
 *
 * Where the tap sits decides what it shows: at egress after TC (a packet a
 * TC program dropped is not there), at ingress after GRO and before TC.
 */
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { projectRoot } from '../../src/paths.js';
import { sleep, start, waitForOutput, type Running } from './exec.js';
import type { LabLike } from './agent.js';

/** One packet (or GSO/GRO batch) as captured. */
export interface WirePacket {
  /** Leaving the interface (PACKET_OUTGOING), else arriving. */
  out: boolean;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** TCP flags (FIN 0x01, SYN 0x02, RST 0x04, ...). */
  flags: number;
  /** IP + TCP header bytes of each segment. */
  hdr: number;
  /** Payload bytes of the whole batch. */
  payload: number;
  /** Segments on the wire. */
  segs: number;
}

export interface WireStats {
  packets: number;
  drops: number;
}

/** Packets and layer-3 bytes (every segment with its headers), as the agent counts them. */
export interface Totals {
  packets: number;
  bytes: number;
}

const SCRIPT = join(projectRoot, 'test/helpers/wire.py');
const SYN = 0x02;

interface Raw {
  o: number;
  s: string;
  d: string;
  sp: number;
  dp: number;
  q: number;
  a: number;
  f: number;
  h: number;
  p: number;
  n: number;
}

export class Wire {
  private readonly seen: WirePacket[] = [];
  private parsed = 0;
  private closing: Promise<WireStats> | null = null;

  private constructor(private readonly proc: Running) {}

  /** Starts capturing on dev in namespace ns (only port, when given); resolves once the socket is bound. */
  static async start(lab: LabLike, ns: string, dev: string, port?: number): Promise<Wire> {
    const [cmd, args] = lab.argv(ns, 'python3', ['-u', SCRIPT, dev, ...(port ? [String(port)] : [])]);
    const proc = start(cmd, args);
    try {
      await waitForOutput(proc, 'ready');
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    return new Wire(proc);
  }

  /** Everything captured so far, in capture order. */
  packets(): WirePacket[] {
    const text = this.proc.stdout();
    const end = text.lastIndexOf('\n') + 1;
    for (const line of text.slice(this.parsed, end).split('\n')) {
      if (!line.startsWith('{"o"')) continue; // "ready", the stats line
      const r = JSON.parse(line) as Raw;
      this.seen.push({ out: r.o === 1, src: r.s, dst: r.d, sport: r.sp, dport: r.dp, seq: r.q, ack: r.a, flags: r.f, hdr: r.h, payload: r.p, segs: r.n });
    }
    this.parsed = end;
    return this.seen;
  }

  /**
   * Stops the capture and returns its statistics; throws if the socket lost
   * packets (an incomplete capture is no ground truth). Idempotent.
   */
  async stop(): Promise<WireStats> {
    this.closing ??= (async () => {
      await this.proc.stop('SIGTERM');
      const line = this.proc.stdout().split('\n').find((l) => l.startsWith('{"stats"'));
      if (!line) throw new Error(`wire capture ended without statistics: ${this.proc.stderr()}`);
      const { stats } = JSON.parse(line) as { stats: WireStats };
      if (stats.drops > 0) throw new Error(`wire capture lost ${stats.drops} of ${stats.packets + stats.drops} packets`);
      return stats;
    })();
    return this.closing;
  }

  /**
   * read() taken while the wire was quiet: nothing captured from quietMs
   * before it until after it. With the packets captured up to then, which
   * are then everything read() can have seen (once the wire is quiet the
   * capture has reported all of it). Throws if the wire never went quiet.
   */
  async quiet<T>(read: () => Promise<T>, quietMs: number, ms = 20_000): Promise<{ value: T; packets: WirePacket[] }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const before = this.packets().length;
      await sleep(quietMs);
      const value = await read();
      if (this.packets().length === before) return { value, packets: this.packets() };
      if (Date.now() > deadline) throw new Error(`the wire was never quiet for ${quietMs} ms within ${ms} ms`);
    }
  }

  /**
   * Reads a value from the agent and the same value from the wire (or from
   * the kernel, read while the wire is quiet) until the two agree at a
   * quiet moment (quiet()). With quietMs above the agent's
   * read interval, the agent has by then read its tables after the last
   * packet, so agreement is exact, not a matter of timing. Returns the last
   * pair (equal, unless ms passed first: the caller asserts on them and so
   * shows the difference).
   */
  async agree<T>(agent: () => Promise<T>, wire: (pkts: WirePacket[]) => T | Promise<T>, quietMs: number, ms = 20_000): Promise<{ agent: T; wire: T }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const { value, packets } = await this.quiet(agent, quietMs, ms);
      const w = await wire(packets);
      if (isDeepStrictEqual(value, w) || Date.now() > deadline) return { agent: value, wire: w };
    }
  }
}

/** The packets of one connection, from the local end's point of view. */
export function connection(pkts: WirePacket[], local: string, peer: string, serverPort: number): { egress: WirePacket[]; ingress: WirePacket[] } {
  const egress: WirePacket[] = [];
  const ingress: WirePacket[] = [];
  for (const p of pkts) {
    if (p.sport !== serverPort && p.dport !== serverPort) continue;
    if (p.src === local && p.dst === peer) egress.push(p);
    else if (p.src === peer && p.dst === local) ingress.push(p);
  }
  return { egress, ingress };
}

export function totals(pkts: WirePacket[]): Totals {
  let packets = 0;
  let bytes = 0;
  for (const p of pkts) {
    packets += p.segs;
    bytes += p.payload + p.segs * p.hdr;
  }
  return { packets, bytes };
}

/**
 * How one direction's data went onto the wire, in capture order, relative
 * to its SYN (which the capture must have seen):
 * - fresh: payload bytes seen here for the first time;
 * - dup / dupSegs: bytes (and segments of batches made only of such bytes)
 *   that were on this wire before: retransmissions of data that had left;
 * - partial: batches mixing fresh and repeated bytes;
 * - skipped: bytes jumped over when a batch started beyond the highest byte
 *   seen so far (a hole: data that left the sender's TCP but not this tap),
 *   and holes: those jumps that were never filled.
 */
export interface StreamReport {
  fresh: number;
  dup: number;
  dupSegs: number;
  partial: number;
  skipped: number;
  holes: number;
}

export function stream(pkts: WirePacket[]): StreamReport {
  const syn = pkts.find((p) => p.flags & SYN);
  if (!syn) throw new Error('no SYN captured for this direction: start the capture before the connection');
  const base = (syn.seq + 1) >>> 0;
  const have = new Ranges();
  const r: StreamReport = { fresh: 0, dup: 0, dupSegs: 0, partial: 0, skipped: 0, holes: 0 };
  for (const p of pkts) {
    if (p.payload === 0) continue;
    const from = (p.seq - base) >>> 0;
    const to = from + p.payload;
    const gap = from - have.end();
    if (gap > 0) r.skipped += gap;
    const old = have.add(from, to);
    r.fresh += p.payload - old;
    r.dup += old;
    if (old === p.payload) r.dupSegs += p.segs;
    else if (old > 0) r.partial++;
  }
  r.holes = have.gaps();
  return r;
}

/** Disjoint sorted [from, to) ranges of stream offsets. */
class Ranges {
  private readonly list: [number, number][] = [];

  end(): number {
    return this.list.at(-1)?.[1] ?? 0;
  }

  /** Ranges missing between offset 0 and the end. */
  gaps(): number {
    const first = this.list[0];
    return first ? this.list.length - 1 + (first[0] > 0 ? 1 : 0) : 0;
  }

  /** Adds [from, to); returns how many of its bytes were already there. */
  add(from: number, to: number): number {
    let overlap = 0;
    let lo = from;
    let hi = to;
    const keep: [number, number][] = [];
    for (const [a, b] of this.list) {
      if (b < lo || a > hi) {
        keep.push([a, b]);
        continue;
      }
      overlap += Math.max(0, Math.min(b, to) - Math.max(a, from));
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    keep.push([lo, hi]);
    keep.sort((x, y) => x[0] - y[0]);
    this.list.length = 0;
    this.list.push(...keep);
    return overlap;
  }
}
