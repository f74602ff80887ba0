/**
 * The socket path's side of the contract (sock.bpf.c): what the generated
 * layouts and readers (contract.gen.ts) leave to say, chiefly the events of
 * the sock_events ring buffer, whose first word says which struct follows.
 */
import {
  readSockCounters,
  readSockEvent,
  readSockKey,
  readSockSummary,
  SockClosedEvent,
  SockCounters,
  SockEventType,
  SockStat,
  SockStats,
  type SockCountersValue,
  type SockKeyValue,
  type SockSummaryValue,
} from './contract.gen.js';
import { counterNames } from './codec.js';

/** The sock_stat counters by name, in the kernel's order. */
export type SockStatName = Exclude<keyof typeof SockStat, 'max'>;
export const SOCK_STAT_NAMES: SockStatName[] = counterNames(SockStat);

/** A socket's counters (struct sock_counters) by name, in the kernel's order. */
export type SockCounterName = keyof SockCountersValue;
export const SOCK_COUNTER_NAMES = Object.keys(readSockCounters(Buffer.alloc(SockCounters.size))) as SockCounterName[];
/** A counter's name in the connection record, and after `tcp.` in spans: the C member's. */
export const sockCounterField = (n: SockCounterName) => n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export const SOCK_SUMMARY = SockStats.offset('s');
export const SOCK_SRTT_HIST = SockStats.offset('srtt_hist');
export const SOCK_CWND_HIST = SockStats.offset('cwnd_hist');

export interface SockEventRecord {
  type: number;
  subflows: number;
  key: SockKeyValue;
  s: SockSummaryValue;
  /** SOCK_EV_CLOSED: the socks key and the whole entry (struct sock_stats) */
  entry?: { id: Buffer; value: Buffer };
}

/** A sock_events record (a copy: views into it outlive the ring buffer). */
export function decodeSockEvent(buf: Buffer): SockEventRecord {
  if (buf.readUInt32LE(0) !== SockEventType.closed) {
    const { type, subflows, key, s } = readSockEvent(buf);
    return { type, subflows, key, s };
  }
  const id = SockClosedEvent.offset('id');
  const st = SockClosedEvent.offset('st');
  const value = buf.subarray(st, st + SockStats.size);
  return {
    type: SockEventType.closed,
    subflows: 0,
    key: readSockKey(value, SockStats.offset('key')),
    s: readSockSummary(value, SOCK_SUMMARY),
    entry: { id: buf.subarray(id, id + 8), value },
  };
}
