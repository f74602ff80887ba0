/**
 * What a series adds up from its flows: packets and bytes each way and, per
 * RTT side, the sample count, their sum and the histogram buckets.
 */
import { HIST_BUCKETS, type FlowStatsValue } from '../bpf/layout.js';

export class RttCounters {
  count = 0;
  sumNs = 0;
  readonly hist = new Float64Array(HIST_BUCKETS);

  reset(): void {
    this.count = 0;
    this.sumNs = 0;
    this.hist.fill(0);
  }

  add(o: RttCounters): void {
    this.count += o.count;
    this.sumNs += o.sumNs;
    for (let i = 0; i < HIST_BUCKETS; i++) this.hist[i]! += o.hist[i]!;
  }
}

export class Counters {
  readonly packets = [0, 0]; // [ingress, egress]
  readonly bytes = [0, 0];
  readonly rtt = [new RttCounters(), new RttCounters()]; // [dst side, src side]

  reset(): void {
    this.packets[0] = this.packets[1] = 0;
    this.bytes[0] = this.bytes[1] = 0;
    this.rtt[0]!.reset();
    this.rtt[1]!.reset();
  }

  add(o: Counters): void {
    for (let d = 0; d < 2; d++) {
      this.packets[d]! += o.packets[d]!;
      this.bytes[d]! += o.bytes[d]!;
      this.rtt[d]!.add(o.rtt[d]!);
    }
  }

  /** Adds one kernel flow value (decoded v, its raw bytes in buf). */
  addFlow(v: FlowStatsValue, buf: Buffer): void {
    for (let d = 0; d < 2; d++) {
      this.packets[d]! += v.packets[d]!;
      this.bytes[d]! += v.bytes[d]!;
      const side = v.rtt[d]!;
      if (side.count === 0) continue;
      const r = this.rtt[d]!;
      r.count += side.count;
      r.sumNs += side.sumNs;
      for (let i = 0, o = side.histOffset; i < HIST_BUCKETS; i++, o += 4) r.hist[i]! += buf.readUInt32LE(o);
    }
  }
}
