/**
 * Rolls flows and sockets into series, by the label set of labels.ts
 * (local address, peer address, server port; with Kubernetes, pods and
 * workloads by the rollup level): a flow's wire RTT and its socket's srtt
 * land in the same series. The number of series is
 * capped: a flow whose series would exceed the budget is folded into one
 * overflow series and counted. A flow keeps its series for its lifetime, so
 * every counter stays monotonic even when the budget frees up later.
 */
import { FlowFlag, SockFlag, type FlowKeyValue } from '../bpf/layout.js';
import { ALL_BUCKETS, type BucketShape } from './counters.js';
import { Series, type Labels } from './series.js';

export const OVERFLOW = '__overflow__';

/** Linux's default ephemeral range starts here (net.ipv4.ip_local_port_range). */
const EPHEMERAL_MIN = 32768;

/**
 * The server's port: known from the handshake (or connect/accept) when it
 * was seen, otherwise the port outside the ephemeral range, otherwise the
 * lower one. server: 'local' (sport), 'remote' (dport) or unknown.
 */
export function serverPortOf(sport: number, dport: number, server: 'local' | 'remote' | null): number {
  if (server === 'remote') return dport;
  if (server === 'local') return sport;
  const sEph = sport >= EPHEMERAL_MIN;
  const dEph = dport >= EPHEMERAL_MIN;
  if (sEph !== dEph) return sEph ? dport : sport;
  return Math.min(sport, dport);
}

export function serverPort(key: FlowKeyValue, flags: number): number {
  const server =
    flags & (FlowFlag.synEgress | FlowFlag.synackIngress) ? 'remote'
    : flags & (FlowFlag.synIngress | FlowFlag.synackEgress) ? 'local'
    : null;
  return serverPortOf(key.sport, key.dport, server);
}

export class Rollup {
  private readonly byId = new Map<string, Series>();
  private overflowSeries: Series | null = null;
  /** Flows folded into the overflow series, ever. */
  overflowedFlows = 0;

  constructor(
    private readonly maxSeries: number,
    private readonly labelNames: readonly string[],
    /** which histograms of the series keep buckets */
    private readonly shape: BucketShape = ALL_BUCKETS,
  ) {}

  assign(labels: Labels, nowNs: number): Series {
    const id = this.labelNames.map((n) => labels[n]).join('\u0000');
    const s = this.byId.get(id);
    if (s) return s;
    if (this.byId.size < this.maxSeries) {
      const created = new Series(id, labels, nowNs, this.shape);
      this.byId.set(id, created);
      return created;
    }
    this.overflowedFlows++;
    this.overflowSeries ??= new Series(
      OVERFLOW,
      Object.fromEntries(this.labelNames.map((n) => [n, OVERFLOW])),
      nowNs,
      this.shape,
    );
    return this.overflowSeries;
  }

  /** Every series, the overflow series last once it exists. */
  all(): Series[] {
    const list = [...this.byId.values()];
    if (this.overflowSeries) list.push(this.overflowSeries);
    return list;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Drops the series pred picks (their pod is gone), live or not. */
  remove(pred: (s: Series) => boolean): number {
    let n = 0;
    for (const [id, s] of this.byId) {
      if (!pred(s)) continue;
      s.removed = true;
      this.byId.delete(id);
      n++;
    }
    return n;
  }

  /** Drops series without live entries for idleNs; the overflow series stays. */
  expire(nowNs: number, idleNs: number): number {
    let n = 0;
    for (const [id, s] of this.byId) {
      if (!s.live && nowNs - s.lastActiveNs >= idleNs) {
        s.removed = true;
        this.byId.delete(id);
        n++;
      }
    }
    return n;
  }
}

/** The server's port of a socket: connect() means the remote one, accept() the local one. */
export function sockServerPort(sport: number, dport: number, flags: number): number {
  const server = flags & SockFlag.active ? 'remote' : flags & SockFlag.passive ? 'local' : null;
  return serverPortOf(sport, dport, server);
}
