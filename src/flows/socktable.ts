/**
 * The socket table as a MapMirror. A socket's series is its own label set,
 * except for MPTCP subflows: they count under their connection, whose
 * series is that of its first subflow.
 */
import { readU64 } from '../bpf/codec.js';
import { readSockKey, SOCK_SUMMARY, SockFlag, SockStats, SockSummary, type SockKeyValue } from '../bpf/layout.js';
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

const LAST_NS = SOCK_SUMMARY + SockSummary.offset('last_ns');
const FLAGS = SOCK_SUMMARY + SockSummary.offset('flags');
const TOKEN = SOCK_SUMMARY + SockSummary.offset('mptcp_token');
const KEY = SockStats.offset('key');
const flagsOf = (buf: Buffer, off = 0) => buf.readUInt32LE(off + FLAGS);

export class SockKind implements EntryKind {
  readonly firstNsOffset = SockStats.offset('s.start_ns');
  /** a socket's memory, its key, goes to the next socket, whose entry replaces its own */
  readonly vanishes = true;
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

  lastNs(buf: Buffer, off: number): number {
    return readU64(buf, off + LAST_NS);
  }

  closed(buf: Buffer, off: number): boolean {
    return (flagsOf(buf, off) & SockFlag.closed) !== 0;
  }

  /** An established socket's close sends its whole entry (SOCK_EV_CLOSED). */
  finalEvent(buf: Buffer, off: number): boolean {
    return (flagsOf(buf, off) & SockFlag.established) !== 0;
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

  place(_key: Buffer, value: Buffer, nowNs: number): Placement | null {
    const key = readSockKey(value, KEY);
    if (key.sport === 0) return null; // connect() has not picked a port yet
    // in the handshake: wait for ESTABLISHED, which also tells an MPTCP
    // subflow's connection (sockets older than the agent have neither flag)
    const flags = flagsOf(value);
    const handshake = flags & (SockFlag.active | SockFlag.passive) && !(flags & SockFlag.established);
    if (handshake) return null;
    return { ...this.placeSock(key, flags, value.readUInt32LE(TOKEN), nowNs), flip: false };
  }

  add(c: Counters, buf: Buffer, off: number): void {
    c.addSock(buf, off);
  }

  observe(s: Series, buf: Buffer, off: number): void {
    s.hasSockets = true;
    if (!(flagsOf(buf, off) & SockFlag.closed)) s.sockets++;
  }
}
