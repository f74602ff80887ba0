/**
 * The socket structs of bpf/tcpulse.h (sock.bpf.c), field for field;
 * checked against BTF by test/unit/layout.test.ts like the rest of layout.ts.
 */
import { array, readU64, struct, u16, u32, u64, u8, writeU64 } from './codec.js';
import { decodeTuple, HIST_BUCKETS } from './layout-flow.js';

export const SockKey = struct('sock_key', {
  saddr: array(u8, 16),
  daddr: array(u8, 16),
  sport: u16,
  dport: u16,
  netns: u32,
});

export const SockFlag = {
  active: 1 << 0,
  passive: 1 << 1,
  established: 1 << 2,
  closed: 1 << 3,
  rstSent: 1 << 4,
  rstReceived: 1 << 5,
  mptcp: 1 << 6,
  mptcpJoin: 1 << 7,
} as const;

export const CloseReason = ['none', 'fin', 'rst', 'timeout'] as const;

export const SockSummary = struct('sock_summary', {
  start_ns: u64,
  end_ns: u64,
  last_ns: u64,
  bytes_sent: u64,
  bytes_acked: u64,
  bytes_received: u64,
  bytes_retrans: u64,
  srtt_sum_us: u64,
  cwnd_sum: u64,
  segs_out: u32,
  segs_in: u32,
  retrans: u32,
  srtt_count: u32,
  srtt_us: u32,
  srtt_min_us: u32,
  srtt_max_us: u32,
  min_rtt_us: u32,
  cwnd: u32,
  ssthresh: u32,
  snd_wnd: u32,
  rcv_wnd: u32,
  mss: u32,
  mptcp_token: u32,
  flags: u32,
  state: u8,
  close_reason: u8,
  qlog: u16,
});

export const SockStats = struct('sock_stats', {
  key: SockKey,
  last_sample_ns: u64,
  s: SockSummary,
  srtt_hist: array(u32, HIST_BUCKETS),
  cwnd_hist: array(u32, HIST_BUCKETS),
});

export const MptcpKey = struct('mptcp_key', { token: u32, netns: u32 });

export const MptcpConn = struct('mptcp_conn', {
  start_ns: u64,
  first: SockKey,
  open: u32,
  total: u32,
});

export const SockEventType = { opened: 1, closed: 2, mptcpClosed: 3, reset: 4 } as const;

export const SockEvent = struct('sock_event', {
  type: u32,
  subflows: u32,
  key: SockKey,
  s: SockSummary,
});

/** SOCK_EV_CLOSED: the socket's whole table entry as it closed. */
export const SockClosedEvent = struct('sock_closed_event', {
  type: u32,
  _pad: u32,
  id: u64,
  st: SockStats,
});

export const SockStat = [
  'probe_events', 'retransmit_events', 'state_events', 'created', 'create_error', 'events_lost',
  'qlog_traced', 'qlog_full', 'qlog_records', 'qlog_cut', 'qlog_lost',
] as const;
export type SockStatName = (typeof SockStat)[number];

export const SockCfg = struct('sock_cfg', { sample_interval_ns: u64, qlog: u32, qlog_max_records: u32 });

export interface SockKeyValue {
  saddr: Buffer;
  daddr: Buffer;
  sport: number;
  dport: number;
  netns: number;
}

export function decodeSockKey(buf: Buffer, off = 0): SockKeyValue {
  return { ...decodeTuple(SockKey, buf, off), netns: buf.readUInt32LE(off + SockKey.offset('netns')) };
}

export interface SockSummaryValue {
  startNs: number;
  endNs: number;
  lastNs: number;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  bytesRetrans: number;
  srttSumUs: number;
  cwndSum: number;
  segsOut: number;
  segsIn: number;
  retrans: number;
  srttCount: number;
  srttUs: number;
  srttMinUs: number;
  srttMaxUs: number;
  minRttUs: number;
  cwnd: number;
  ssthresh: number;
  sndWnd: number;
  rcvWnd: number;
  mss: number;
  mptcpToken: number;
  flags: number;
  state: number;
  closeReason: number;
}

const SO = Object.fromEntries(SockSummary.fields.map((f) => [f.name, f.offset])) as Record<string, number>;

export function decodeSockSummary(buf: Buffer, off = 0): SockSummaryValue {
  const u32 = (n: string) => buf.readUInt32LE(off + SO[n]!);
  const u64v = (n: string) => readU64(buf, off + SO[n]!);
  return {
    startNs: u64v('start_ns'),
    endNs: u64v('end_ns'),
    lastNs: u64v('last_ns'),
    bytesSent: u64v('bytes_sent'),
    bytesAcked: u64v('bytes_acked'),
    bytesReceived: u64v('bytes_received'),
    bytesRetrans: u64v('bytes_retrans'),
    srttSumUs: u64v('srtt_sum_us'),
    cwndSum: u64v('cwnd_sum'),
    segsOut: u32('segs_out'),
    segsIn: u32('segs_in'),
    retrans: u32('retrans'),
    srttCount: u32('srtt_count'),
    srttUs: u32('srtt_us'),
    srttMinUs: u32('srtt_min_us'),
    srttMaxUs: u32('srtt_max_us'),
    minRttUs: u32('min_rtt_us'),
    cwnd: u32('cwnd'),
    ssthresh: u32('ssthresh'),
    sndWnd: u32('snd_wnd'),
    rcvWnd: u32('rcv_wnd'),
    mss: u32('mss'),
    mptcpToken: u32('mptcp_token'),
    flags: u32('flags'),
    state: buf.readUInt8(off + SO.state!),
    closeReason: buf.readUInt8(off + SO.close_reason!),
  };
}

export const SOCK_SUMMARY = SockStats.offset('s');
export const SOCK_SRTT_HIST = SockStats.offset('srtt_hist');
export const SOCK_CWND_HIST = SockStats.offset('cwnd_hist');

export interface SockEventValue {
  type: number;
  subflows: number;
  key: SockKeyValue;
  s: SockSummaryValue;
  /** SOCK_EV_CLOSED: the socks key and the whole entry (struct sock_stats) */
  entry?: { id: Buffer; value: Buffer };
}

export function decodeSockEvent(buf: Buffer): SockEventValue {
  const type = buf.readUInt32LE(SockEvent.offset('type'));
  if (type === SockEventType.closed) {
    const id = SockClosedEvent.offset('id');
    const st = SockClosedEvent.offset('st');
    const value = Buffer.from(buf.subarray(st, st + SockStats.size));
    return {
      type,
      subflows: 0,
      key: decodeSockKey(value, SockStats.offset('key')),
      s: decodeSockSummary(value, SOCK_SUMMARY),
      entry: { id: Buffer.from(buf.subarray(id, id + 8)), value },
    };
  }
  return {
    type,
    subflows: buf.readUInt32LE(SockEvent.offset('subflows')),
    key: decodeSockKey(Buffer.from(buf.subarray(SockEvent.offset('key'), SockEvent.offset('key') + SockKey.size))),
    s: decodeSockSummary(buf, SockEvent.offset('s')),
  };
}

export function encodeSockCfg(sampleIntervalNs: number, qlog = 0, qlogMaxRecords = 0): Buffer {
  const buf = Buffer.alloc(SockCfg.size);
  writeU64(buf, 0, sampleIntervalNs);
  buf.writeUInt32LE(qlog, SockCfg.offset('qlog'));
  buf.writeUInt32LE(qlogMaxRecords, SockCfg.offset('qlog_max_records'));
  return buf;
}

