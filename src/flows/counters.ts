/**
 * What a series adds up from its flows and sockets: packets and bytes each
 * way, passive RTT per side, the kernel's srtt and cwnd, the sockets'
 * counters (retransmissions, segments delivered, ...).
 * A histogram keeps its kernel buckets, the sample count and their sum.
 */
import { FLOW_RTT_HIST, HIST_BUCKETS, SOCK_COUNTER_NAMES, SOCK_CWND_HIST, SOCK_SRTT_HIST, type FlowStatsValue, type SockCounterName, type SockSummaryValue } from '../bpf/layout.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export class HistCounters {
  count = 0;
  /** in the unit of the samples' sum: ns for passive RTT, µs for srtt, segments for cwnd */
  sum = 0;
  readonly hist = new Float64Array(HIST_BUCKETS);

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.hist.fill(0);
  }

  add(o: HistCounters): void {
    this.count += o.count;
    this.sum += o.sum;
    for (let i = 0; i < HIST_BUCKETS; i++) this.hist[i]! += o.hist[i]!;
  }

  /** Adds u32 buckets read from a map value at off. */
  addBuckets(buf: Buffer, off: number, count: number, sum: number): void {
    this.count += count;
    this.sum += sum;
    const at = buf.byteOffset + off;
    if (at % 4 === 0 && LITTLE_ENDIAN) {
      // read in place: the buckets are u32s in the host's order
      const u = new Uint32Array(buf.buffer, at, HIST_BUCKETS);
      for (let i = 0; i < HIST_BUCKETS; i++) this.hist[i]! += u[i]!;
      return;
    }
    for (let i = 0, o = off; i < HIST_BUCKETS; i++, o += 4) this.hist[i]! += buf.readUInt32LE(o);
  }
}

export class Counters {
  readonly packets = [0, 0]; // [ingress, egress]
  readonly bytes = [0, 0];
  readonly rtt = [new HistCounters(), new HistCounters()]; // passive, [dst side, src side], ns
  readonly srtt = new HistCounters(); // µs
  readonly cwnd = new HistCounters(); // segments
  /** the sockets' counters (struct sock_counters), each summed */
  readonly sock = Object.fromEntries(SOCK_COUNTER_NAMES.map((n) => [n, 0])) as Record<SockCounterName, number>;

  reset(): void {
    this.packets[0] = this.packets[1] = 0;
    this.bytes[0] = this.bytes[1] = 0;
    this.rtt[0]!.reset();
    this.rtt[1]!.reset();
    this.srtt.reset();
    this.cwnd.reset();
    for (const n of SOCK_COUNTER_NAMES) this.sock[n] = 0;
  }

  add(o: Counters): void {
    for (let d = 0; d < 2; d++) {
      this.packets[d]! += o.packets[d]!;
      this.bytes[d]! += o.bytes[d]!;
      this.rtt[d]!.add(o.rtt[d]!);
    }
    this.srtt.add(o.srtt);
    this.cwnd.add(o.cwnd);
    for (const n of SOCK_COUNTER_NAMES) this.sock[n] += o.sock[n];
  }

  /**
   * Adds one kernel flow value (decoded v, its raw bytes in buf). flip: the
   * local end is the key's destination, so ingress and egress, and the two
   * RTT sides, trade places.
   */
  addFlow(v: FlowStatsValue, buf: Buffer, flip = false): void {
    for (let d = 0; d < 2; d++) {
      const to = flip ? 1 - d : d;
      this.packets[to]! += v.packets[d]!;
      this.bytes[to]! += v.bytes[d]!;
      const side = v.rtt[d]!;
      if (side.count > 0) this.rtt[to]!.addBuckets(buf, FLOW_RTT_HIST[d], side.count, side.sumNs);
    }
  }

  /** Adds one kernel socket value (its summary s, the raw sock_stats in buf). */
  addSock(s: SockSummaryValue, buf: Buffer): void {
    for (const n of SOCK_COUNTER_NAMES) this.sock[n] += s.counters[n];
    if (s.srttCount === 0) return;
    this.srtt.addBuckets(buf, SOCK_SRTT_HIST, s.srttCount, s.srttSumUs);
    this.cwnd.addBuckets(buf, SOCK_CWND_HIST, s.srttCount, s.cwndSum); // sampled together
  }
}
