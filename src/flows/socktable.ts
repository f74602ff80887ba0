/**
 * The socket table as a MapMirror. A socket's series is its own label set,
 * except for MPTCP subflows: they count under their connection, whose
 * series is that of its first subflow.
 */
import { readSockKey, readSockSummary, SOCK_SUMMARY, SockFlag, SockStats, type SockKeyValue, type SockSummaryValue } from '../bpf/layout.js';
import type { Counters } from './counters.js';
import type { EntryKind, Placement } from './mirror.js';
import { sockServerPort, type Rollup } from './rollup.js';
import type { Labeler } from './labels.js';
import type { Series } from './series.js';

export const mptcpId = (token: number, netns: number) => `${netns}:${token}`;

/** Where MPTCP connections are: token -> the first subflow's key. */
export interface MptcpIndex {
  firstKey(token: number, netns: number): SockKeyValue | undefined;
}

/** A socket table entry: its tuple (sport 0 while incomplete) and summary. */
export interface SockEntry {
  key: SockKeyValue;
  s: SockSummaryValue;
}

export class SockKind implements EntryKind<SockEntry> {
  readonly firstNsOffset = SockStats.offset('s.start_ns');
  /** series of MPTCP connections already seen, by mptcpId */
  private readonly connSeries = new Map<string, Series>();
  private readonly closedAt = new Map<string, number>();

  constructor(
    private readonly rollup: Rollup,
    private readonly labeler: Labeler,
    private readonly mptcp: MptcpIndex,
  ) {}

  private own(key: SockKeyValue, flags: number, nowNs: number): { series: Series; provisional: boolean } {
    const p = this.labeler.place(key.saddr, key.sport, key.daddr, key.dport, sockServerPort(key.sport, key.dport, flags), true);
    return { series: this.rollup.assign(p.labels, nowNs), provisional: p.provisional };
  }

  decode(value: Buffer): SockEntry {
    return { key: readSockKey(value), s: readSockSummary(value, SOCK_SUMMARY) };
  }

  lastNs(v: SockEntry): number {
    return v.s.lastNs;
  }

  closed(v: SockEntry): boolean {
    return (v.s.flags & SockFlag.closed) !== 0;
  }

  /** An established socket's close sends its whole entry (SOCK_EV_CLOSED). */
  finalEvent(v: SockEntry): boolean {
    return (v.s.flags & SockFlag.established) !== 0;
  }

  /** The series of a socket key with these flags and MPTCP token. */
  seriesOf(key: SockKeyValue, flags: number, token: number, nowNs: number): Series {
    return this.placeSock(key, flags, token, nowNs).series;
  }

  private placeSock(key: SockKeyValue, flags: number, token: number, nowNs: number): { series: Series; provisional: boolean } {
    if (!(flags & SockFlag.mptcp) || !token) return this.own(key, flags, nowNs);
    const id = mptcpId(token, key.netns);
    let s = this.connSeries.get(id);
    if (!s || s.removed) {
      const first = flags & SockFlag.mptcpJoin ? this.mptcp.firstKey(token, key.netns) : key;
      // the first subflow of a connection is its client or server like the joins
      s = this.own(first ?? key, flags, nowNs).series;
      this.connSeries.set(id, s);
    }
    return { series: s, provisional: false };
  }

  /**
   * A finished MPTCP connection's series is kept a while longer: its
   * subflow sockets may still be read (or first read) after it closed.
   */
  connectionClosed(token: number, netns: number, nowNs: number): void {
    this.closedAt.set(mptcpId(token, netns), nowNs);
  }

  /** Forgets connections closed more than keepNs ago. */
  purge(nowNs: number, keepNs: number): void {
    for (const [id, t] of this.closedAt) {
      if (nowNs - t < keepNs) continue;
      this.closedAt.delete(id);
      this.connSeries.delete(id);
    }
  }

  place(_key: Buffer, v: SockEntry, nowNs: number): Placement | null {
    if (v.key.sport === 0) return null; // connect() has not picked a port yet
    // in the handshake: wait for ESTABLISHED, which also tells an MPTCP
    // subflow's connection (sockets older than the agent have neither flag)
    const handshake = v.s.flags & (SockFlag.active | SockFlag.passive) && !(v.s.flags & SockFlag.established);
    if (handshake) return null;
    return { ...this.placeSock(v.key, v.s.flags, v.s.mptcpToken, nowNs), flip: false };
  }

  add(c: Counters, v: SockEntry, value: Buffer): void {
    c.addSock(v.s, value);
  }

  observe(s: Series, v: SockEntry): void {
    s.hasSockets = true;
    if (!(v.s.flags & SockFlag.closed)) s.sockets++;
  }
}
