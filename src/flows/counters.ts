/**
 * What a series adds up from its flows and sockets: packets and bytes each
 * way, passive RTT per side, the kernel's srtt and cwnd, the sockets'
 * counters (retransmissions, segments delivered, ...).
 * A histogram keeps its kernel buckets, the sample count and their sum.
 */
import { readU64 } from '../bpf/codec.js';
import type { Config } from '../config/options.js';
import { FLOW_RTT_HIST, FlowStats, HIST_BUCKETS, SOCK_COUNTER_NAMES, SOCK_CWND_HIST, SOCK_SRTT_HIST, SOCK_SUMMARY, SockCounters, SockSummary, type SockCounterName } from '../bpf/layout.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Where a round reads a flow_stats value, in place: nothing is decoded into objects on the way. */
const FLOW = {
  packets: [FlowStats.offset('packets.0'), FlowStats.offset('packets.1')],
  bytes: [FlowStats.offset('bytes.0'), FlowStats.offset('bytes.1')],
  rttCount: [FlowStats.offset('rtt.0.count'), FlowStats.offset('rtt.1.count')],
  rttSum: [FlowStats.offset('rtt.0.sum_ns'), FlowStats.offset('rtt.1.sum_ns')],
} as const;
/** And a sock_stats value: each counter's offset and width, the srtt and cwnd sums. */
const at = (f: string) => SOCK_SUMMARY + SockSummary.offset(f);
const SOCK_COUNTERS = SockCounters.fields.map((f) => ({ off: at('counters') + f.offset, wide: f.size === 8 }));
const SOCK_COUNTER_INDEX = Object.fromEntries(SOCK_COUNTER_NAMES.map((n, i) => [n, i])) as Record<SockCounterName, number>;
const SOCK = { srttCount: at('srtt_count'), srttSum: at('srtt_sum_us'), cwndSum: at('cwnd_sum') } as const;

/**
 * Which histograms keep their kernel buckets: those some exporter writes
 * buckets of (config `histograms`, `rtt.localSide`). The others keep only
 * their count and sum: a round then reads no bucket of them, and a series
 * holds none (the buckets are 3/4 of a series' memory).
 */
export interface BucketShape {
  /** passive RTT, [dst side, src side] */
  readonly rtt: readonly [boolean, boolean];
  readonly srtt: boolean;
  readonly cwnd: boolean;
}

export const ALL_BUCKETS: BucketShape = { rtt: [true, true], srtt: true, cwnd: true };

/**
 * The buckets the exporters need: those of histograms exported with buckets
 * (a spacing other than `none`; the local side only when exported). `none`
 * means count and sum alone in every form: text, protobuf and OTLP.
 */
export function bucketShape(opts: { localRtt: boolean; histograms: Config['histograms'] }): BucketShape {
  const h = opts.histograms;
  return { rtt: [h.rtt !== 'none', opts.localRtt && h.rtt !== 'none'], srtt: h.srtt !== 'none', cwnd: h.cwnd !== 'none' };
}

/** u32 views over the ArrayBuffers that map batches are read into: one each, not one per entry and histogram. */
const u32Views = new WeakMap<ArrayBufferLike, Uint32Array>();
function u32View(buf: Buffer): Uint32Array {
  let v = u32Views.get(buf.buffer);
  if (!v) u32Views.set(buf.buffer, (v = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >> 2)));
  return v;
}

export class HistCounters {
  count = 0;
  /** in the unit of the samples' sum: ns for passive RTT, µs for srtt, segments for cwnd */
  sum = 0;
  /** the kernel buckets; empty when this histogram keeps none (BucketShape) */
  readonly hist: Float64Array;

  constructor(bucketed = true) {
    this.hist = new Float64Array(bucketed ? HIST_BUCKETS : 0);
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.hist.fill(0);
  }

  add(o: HistCounters): void {
    this.count += o.count;
    this.sum += o.sum;
    for (let i = 0; i < this.hist.length; i++) this.hist[i]! += o.hist[i]!;
  }

  /** Adds u32 buckets read from a map value at off. */
  addBuckets(buf: Buffer, off: number, count: number, sum: number): void {
    this.count += count;
    this.sum += sum;
    const hist = this.hist;
    if (hist.length === 0) return;
    const at = buf.byteOffset + off;
    if (at % 4 === 0 && LITTLE_ENDIAN) {
      // read in place: the buckets are u32s in the host's order
      const u = u32View(buf);
      for (let i = 0, j = at >> 2; i < HIST_BUCKETS; i++, j++) hist[i]! += u[j]!;
      return;
    }
    for (let i = 0, o = off; i < HIST_BUCKETS; i++, o += 4) hist[i]! += buf.readUInt32LE(o);
  }
}

export class Counters {
  readonly packets = [0, 0]; // [ingress, egress]
  readonly bytes = [0, 0];
  readonly rtt: readonly [HistCounters, HistCounters]; // passive, [dst side, src side], ns
  readonly srtt: HistCounters; // µs
  readonly cwnd: HistCounters; // segments
  /** the sockets' counters (struct sock_counters), each summed, in the struct's order */
  private readonly sockSums = new Float64Array(SOCK_COUNTERS.length);

  constructor(shape: BucketShape = ALL_BUCKETS) {
    this.rtt = [new HistCounters(shape.rtt[0]), new HistCounters(shape.rtt[1])];
    this.srtt = new HistCounters(shape.srtt);
    this.cwnd = new HistCounters(shape.cwnd);
  }

  /** the sockets' counter by name */
  sock(name: SockCounterName): number {
    return this.sockSums[SOCK_COUNTER_INDEX[name]]!;
  }

  reset(): void {
    this.packets[0] = this.packets[1] = 0;
    this.bytes[0] = this.bytes[1] = 0;
    this.rtt[0]!.reset();
    this.rtt[1]!.reset();
    this.srtt.reset();
    this.cwnd.reset();
    this.sockSums.fill(0);
  }

  add(o: Counters): void {
    for (let d = 0; d < 2; d++) {
      this.packets[d]! += o.packets[d]!;
      this.bytes[d]! += o.bytes[d]!;
      this.rtt[d]!.add(o.rtt[d]!);
    }
    this.srtt.add(o.srtt);
    this.cwnd.add(o.cwnd);
    for (let i = 0; i < SOCK_COUNTERS.length; i++) this.sockSums[i]! += o.sockSums[i]!;
  }

  /**
   * Adds one kernel flow value (struct flow_stats, raw). flip: the local end
   * is the key's destination, so ingress and egress, and the two RTT sides,
   * trade places.
   */
  addFlow(buf: Buffer, off: number, flip = false): void {
    for (let d = 0; d < 2; d++) {
      const to = flip ? 1 - d : d;
      this.packets[to]! += readU64(buf, off + FLOW.packets[d]!);
      this.bytes[to]! += readU64(buf, off + FLOW.bytes[d]!);
      const count = readU64(buf, off + FLOW.rttCount[d]!);
      if (count > 0) this.rtt[to]!.addBuckets(buf, off + FLOW_RTT_HIST[d], count, readU64(buf, off + FLOW.rttSum[d]!));
    }
  }

  /** Adds one kernel socket value (struct sock_stats, raw, at off). */
  addSock(buf: Buffer, off: number): void {
    for (let i = 0; i < SOCK_COUNTERS.length; i++) {
      const c = SOCK_COUNTERS[i]!;
      this.sockSums[i]! += c.wide ? readU64(buf, off + c.off) : buf.readUInt32LE(off + c.off);
    }
    const count = buf.readUInt32LE(off + SOCK.srttCount);
    if (count === 0) return;
    this.srtt.addBuckets(buf, off + SOCK_SRTT_HIST, count, readU64(buf, off + SOCK.srttSum));
    this.cwnd.addBuckets(buf, off + SOCK_CWND_HIST, count, readU64(buf, off + SOCK.cwndSum)); // sampled together
  }
}
