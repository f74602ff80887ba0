/**
 * One exported series: a label set, the flows rolled into it, and what it
 * shows. Counters are monotonic: flows that leave the kernel table keep
 * their last values in `retired`, live flows are summed anew each round.
 */
import { Counters } from './counters.js';

export type Labels = Readonly<Record<string, string>>;

export class Series {
  readonly retired = new Counters();
  readonly current = new Counters();
  /** Windowed min RTT over live flows, per side (ns; Infinity: none). */
  readonly minRttNs = [Infinity, Infinity];
  /** Flows of this series in the kernel table this round. */
  flows = 0;
  lastActiveNs: number;

  constructor(
    readonly id: string,
    readonly labels: Labels,
    nowNs: number,
  ) {
    this.lastActiveNs = nowNs;
  }

  beginRound(): void {
    this.current.reset();
    this.minRttNs[0] = this.minRttNs[1] = Infinity;
    this.flows = 0;
  }

  /** retired + current: what the series exports. */
  total(): Counters {
    const t = new Counters();
    t.add(this.retired);
    t.add(this.current);
    return t;
  }
}
