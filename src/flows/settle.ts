/**
 * Socket events wait here until a round handles them. A close record is
 * held for a settle time, in case the kernel sends the RST of a linger-0
 * close right after it: the RESET event then corrects the record's reason.
 * Whatever follows a held record waits behind it, keeping the kernel's
 * order. Pure: the caller says what time it is.
 */
import { SockEventType, type SockEventRecord } from '../bpf/layout.js';

/** How long a close record waits for a RST that corrects it (the kernel sends it microseconds later). */
export const CLOSE_SETTLE_NS = 20e6;

function sameConnection(a: SockEventRecord, b: SockEventRecord): boolean {
  return (
    a.s.startNs === b.s.startNs &&
    a.key.sport === b.key.sport &&
    a.key.dport === b.key.dport &&
    a.key.netns === b.key.netns &&
    a.key.daddr.equals(b.key.daddr)
  );
}

const closing = (ev: SockEventRecord) => ev.type === SockEventType.closed || ev.type === SockEventType.mptcpClosed;

export class SockEventSettler {
  private queue: SockEventRecord[] = [];
  /** RESET events that found no close record waiting (theirs was handled already) */
  lateResets = 0;

  constructor(private readonly settleNs = CLOSE_SETTLE_NS) {}

  push(ev: SockEventRecord): void {
    this.queue.push(ev);
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * The events ready at `nowNs`, in the kernel's order: resets folded into
   * their close records, close records younger than the settle time (and
   * what came after them) kept back. `all` takes everything (at stop).
   */
  take(nowNs: number, all = false): SockEventRecord[] {
    const queue = this.queue.filter((e) => e.type !== SockEventType.reset);
    for (const r of this.queue) {
      if (r.type !== SockEventType.reset) continue;
      const closed = queue.find((e) => e.type === SockEventType.closed && sameConnection(e, r));
      if (closed) closed.s.closeReason = r.s.closeReason;
      else this.lateResets++;
    }
    const ready: SockEventRecord[] = [];
    const keep: SockEventRecord[] = [];
    for (const ev of queue) {
      if (!all && (keep.length > 0 || (closing(ev) && nowNs - ev.s.endNs < this.settleNs))) keep.push(ev);
      else ready.push(ev);
    }
    this.queue = keep;
    return ready;
  }
}
