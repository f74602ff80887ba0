/**
 * Rolls flows into series. Until Kubernetes enrichment exists a series is
 * (local address, peer address, server port). The number of series is
 * capped: a flow whose series would exceed the budget is folded into one
 * overflow series and counted. A flow keeps its series for its lifetime, so
 * every counter stays monotonic even when the budget frees up later.
 */
import { FlowFlag, type FlowKeyValue } from '../bpf/layout.js';
import { addressToString } from './address.js';
import { Series, type Labels } from './series.js';

export const OVERFLOW = '__overflow__';
export const LABEL_NAMES = ['local_address', 'peer_address', 'server_port'] as const;

/** Linux's default ephemeral range starts here (net.ipv4.ip_local_port_range). */
const EPHEMERAL_MIN = 32768;

/**
 * The server's port: known from the handshake when it was seen, otherwise
 * the port outside the ephemeral range, otherwise the lower one.
 */
export function serverPort(key: FlowKeyValue, flags: number): number {
  if (flags & (FlowFlag.synEgress | FlowFlag.synAckIngress)) return key.dport;
  if (flags & (FlowFlag.synIngress | FlowFlag.synAckEgress)) return key.sport;
  const sEph = key.sport >= EPHEMERAL_MIN;
  const dEph = key.dport >= EPHEMERAL_MIN;
  if (sEph !== dEph) return sEph ? key.dport : key.sport;
  return Math.min(key.sport, key.dport);
}

/** Egress orientation: on a host interface the egress source is this node. */
export function flowLabels(key: FlowKeyValue, flags: number): Labels {
  return {
    local_address: addressToString(key.saddr),
    peer_address: addressToString(key.daddr),
    server_port: String(serverPort(key, flags)),
  };
}

export class Rollup {
  private readonly byId = new Map<string, Series>();
  private overflowSeries: Series | null = null;
  /** Flows folded into the overflow series, ever. */
  overflowedFlows = 0;

  constructor(private readonly maxSeries: number) {}

  assign(labels: Labels, nowNs: number): Series {
    const id = LABEL_NAMES.map((n) => labels[n]).join('\u0000');
    const s = this.byId.get(id);
    if (s) return s;
    if (this.byId.size < this.maxSeries) {
      const created = new Series(id, labels, nowNs);
      this.byId.set(id, created);
      return created;
    }
    this.overflowedFlows++;
    this.overflowSeries ??= new Series(
      OVERFLOW,
      Object.fromEntries(LABEL_NAMES.map((n) => [n, OVERFLOW])),
      nowNs,
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

  /** Drops series without flows for idleNs; the overflow series stays. */
  expire(nowNs: number, idleNs: number): number {
    let n = 0;
    for (const [id, s] of this.byId) {
      if (s.flows === 0 && nowNs - s.lastActiveNs >= idleNs) {
        this.byId.delete(id);
        n++;
      }
    }
    return n;
  }
}
