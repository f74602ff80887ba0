/**
 * The structs of bpf/tcpulse.h, field for field. test/layout.test.ts checks
 * every offset and size here against the BTF of the compiled object.
 */
import { array, readU64, struct, u16, u32, u64, u8, writeU64, type StructDef } from './codec.js';

export const HIST_SUB_BITS = 2;
export const HIST_BUCKETS = 100;

export const Dir = { ingress: 0, egress: 1 } as const;
export const Side = { dst: 0, src: 1 } as const;

export const FlowFlag = {
  synEgress: 1 << 0,
  synIngress: 1 << 1,
  synAckEgress: 1 << 2,
  synAckIngress: 1 << 3,
  finEgress: 1 << 4,
  finIngress: 1 << 5,
  rstEgress: 1 << 6,
  rstIngress: 1 << 7,
} as const;

export const Stat = [
  'packets',
  'not_tcp',
  'malformed',
  'fragment',
  'flow_created',
  'flow_create_error',
  'ts_taken',
  'rtt_samples',
  'ts_expired',
  'events_lost',
  'qlog_traced',
  'qlog_full',
  'qlog_records',
  'qlog_cut',
  'qlog_lost',
] as const;
export type StatName = (typeof Stat)[number];

export const FlowEventType = { opened: 1, closedFin: 2, closedRst: 3 } as const;

export const FlowKey = struct('flow_key', {
  saddr: array(u8, 16),
  daddr: array(u8, 16),
  sport: u16,
  dport: u16,
  ifindex: u32,
});

export const TsState = struct('ts_state', {
  pending_ns: u64,
  last_take_ns: u64,
  pending_tsval: u32,
  last_tsval: u32,
});

export const RttStats = struct('rtt_stats', {
  count: u64,
  sum_ns: u64,
  min_ns: u64,
  win_min_ns: u64,
  prev_min_ns: u64,
  win_epoch: u32,
  _pad: u32,
  hist: array(u32, HIST_BUCKETS),
});

export const FlowStats = struct('flow_stats', {
  first_ns: u64,
  last_ns: u64,
  packets: array(u64, 2),
  bytes: array(u64, 2),
  flags: u32,
  traced: u32,
  ts: array(TsState, 2),
  rtt: array(RttStats, 2),
});

export const FlowEvent = struct('flow_event', {
  key: FlowKey,
  ts_ns: u64,
  type: u32,
  flags: u32,
});

export const TcpulseCfg = struct('tcpulse_cfg', {
  rtt_rate_limit_ns: u64,
  ts_timeout_ns: u64,
  min_rtt_window_ns: u64,
  emit_events: u32,
  qlog: u32,
  qlog_max_records: u32,
  _pad: u32,
});

export interface FlowKeyValue {
  saddr: Buffer; // 16 bytes, IPv4 mapped
  daddr: Buffer;
  sport: number;
  dport: number;
  ifindex: number;
}

/** The tuple both key layouts share: addresses at 0 and 16, then the ports. */
function decodeTuple(def: StructDef, buf: Buffer, off: number) {
  return {
    saddr: buf.subarray(off, off + 16),
    daddr: buf.subarray(off + 16, off + 32),
    sport: buf.readUInt16LE(off + def.offset('sport')),
    dport: buf.readUInt16LE(off + def.offset('dport')),
  };
}

export function decodeFlowKey(buf: Buffer, off = 0): FlowKeyValue {
  return { ...decodeTuple(FlowKey, buf, off), ifindex: buf.readUInt32LE(off + FlowKey.offset('ifindex')) };
}

export function encodeFlowKey(k: FlowKeyValue): Buffer {
  const buf = Buffer.alloc(FlowKey.size);
  k.saddr.copy(buf, 0);
  k.daddr.copy(buf, 16);
  buf.writeUInt16LE(k.sport, FlowKey.offset('sport'));
  buf.writeUInt16LE(k.dport, FlowKey.offset('dport'));
  buf.writeUInt32LE(k.ifindex, FlowKey.offset('ifindex'));
  return buf;
}

export interface RttSide {
  count: number;
  sumNs: number;
  minNs: number;
  winMinNs: number;
  prevMinNs: number;
  winEpoch: number;
  /** Offset of hist[0] in the value buffer; buckets are read lazily. */
  histOffset: number;
}

export interface FlowStatsValue {
  firstNs: number;
  lastNs: number;
  packets: [number, number]; // [ingress, egress]
  bytes: [number, number];
  flags: number;
  rtt: [RttSide, RttSide]; // [dst, src]
}

const O = {
  first: FlowStats.offset('first_ns'),
  last: FlowStats.offset('last_ns'),
  pkts: FlowStats.offset('packets'),
  bytes: FlowStats.offset('bytes'),
  flags: FlowStats.offset('flags'),
  rtt: [FlowStats.offset('rtt.0'), FlowStats.offset('rtt.1')],
  count: RttStats.offset('count'),
  sum: RttStats.offset('sum_ns'),
  min: RttStats.offset('min_ns'),
  winMin: RttStats.offset('win_min_ns'),
  prevMin: RttStats.offset('prev_min_ns'),
  epoch: RttStats.offset('win_epoch'),
  hist: RttStats.offset('hist'),
};

function decodeRtt(buf: Buffer, base: number): RttSide {
  return {
    count: readU64(buf, base + O.count),
    sumNs: readU64(buf, base + O.sum),
    minNs: readU64(buf, base + O.min),
    winMinNs: readU64(buf, base + O.winMin),
    prevMinNs: readU64(buf, base + O.prevMin),
    winEpoch: buf.readUInt32LE(base + O.epoch),
    histOffset: base + O.hist,
  };
}

export function decodeFlowStats(buf: Buffer, off = 0): FlowStatsValue {
  return {
    firstNs: readU64(buf, off + O.first),
    lastNs: readU64(buf, off + O.last),
    packets: [readU64(buf, off + O.pkts), readU64(buf, off + O.pkts + 8)],
    bytes: [readU64(buf, off + O.bytes), readU64(buf, off + O.bytes + 8)],
    flags: buf.readUInt32LE(off + O.flags),
    rtt: [decodeRtt(buf, off + O.rtt[0]!), decodeRtt(buf, off + O.rtt[1]!)],
  };
}

export interface FlowEventValue {
  key: FlowKeyValue;
  tsNs: number;
  type: number;
  flags: number;
}

export function decodeFlowEvent(buf: Buffer): FlowEventValue {
  return {
    key: decodeFlowKey(Buffer.from(buf.subarray(0, FlowKey.size))),
    tsNs: readU64(buf, FlowEvent.offset('ts_ns')),
    type: buf.readUInt32LE(FlowEvent.offset('type')),
    flags: buf.readUInt32LE(FlowEvent.offset('flags')),
  };
}

export interface CfgValue {
  rttRateLimitNs: number;
  tsTimeoutNs: number;
  minRttWindowNs: number;
  emitEvents: boolean;
  /** enum qlog_cfg_flag (QlogCfgFlag); 0 or absent: qlog off */
  qlog?: number;
  qlogMaxRecords?: number;
}

export function encodeCfg(c: CfgValue): Buffer {
  const buf = Buffer.alloc(TcpulseCfg.size);
  writeU64(buf, TcpulseCfg.offset('rtt_rate_limit_ns'), c.rttRateLimitNs);
  writeU64(buf, TcpulseCfg.offset('ts_timeout_ns'), c.tsTimeoutNs);
  writeU64(buf, TcpulseCfg.offset('min_rtt_window_ns'), c.minRttWindowNs);
  buf.writeUInt32LE(c.emitEvents ? 1 : 0, TcpulseCfg.offset('emit_events'));
  buf.writeUInt32LE(c.qlog ?? 0, TcpulseCfg.offset('qlog'));
  buf.writeUInt32LE(c.qlogMaxRecords ?? 0, TcpulseCfg.offset('qlog_max_records'));
  return buf;
}

/* ---- sockets (sock.bpf.c) ---- */

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
}

export function decodeSockEvent(buf: Buffer): SockEventValue {
  return {
    type: buf.readUInt32LE(SockEvent.offset('type')),
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

/* ---- qlog (bpf/qlog.h, both objects) ---- */

export const QlogCfgFlag = { on: 1 << 0, byAddr: 1 << 1, byPort: 1 << 2 } as const;
export const QlogRecType = { packet: 1, metrics: 2, state: 3 } as const;
export const QLOG_TCP_MAX = 60;

export const QlogAddr = struct('qlog_addr', { prefixlen: u32, addr: array(u8, 16) });

export const QlogPacket = struct('qlog_packet', {
  type: u32,
  dir: u32,
  key: FlowKey,
  ts_ns: u64,
  payload: u32,
  segs: u32,
  l3_len: u32,
  tcp_len: u8,
  _pad: array(u8, 3),
  tcp: array(u8, QLOG_TCP_MAX),
});

export const QlogFlow = struct('qlog_flow', { first_ns: u64, records: u32, cut: u32, lost: u32, _pad: u32 });

export const QlogSockRec = struct('qlog_sock_rec', {
  type: u32,
  state: u32,
  key: SockKey,
  ts_ns: u64,
  srtt_us: u32,
  rttvar_us: u32,
  min_rtt_us: u32,
  cwnd: u32,
  ssthresh: u32,
  packets_out: u32,
  retrans: u32,
  mss: u32,
  snd_wnd: u32,
  mptcp_token: u32,
  flags: u32,
  cut: u32,
  lost: u32,
  _pad: u32,
});

export const QlogSock = struct('qlog_sock', {
  key: SockKey,
  srtt_us: u32,
  rttvar_us: u32,
  cwnd: u32,
  ssthresh: u32,
  records: u32,
  cut: u32,
  lost: u32,
  _pad: u32,
});

export function encodeQlogAddr(addr: Buffer, prefixLen: number): Buffer {
  const buf = Buffer.alloc(QlogAddr.size);
  buf.writeUInt32LE(prefixLen, 0);
  addr.copy(buf, QlogAddr.offset('addr'));
  return buf;
}

export interface QlogPacketValue {
  type: typeof QlogRecType.packet;
  dir: number;
  key: FlowKeyValue;
  /** the struct flow_key bytes (the traced map's key) */
  rawKey: Buffer;
  tsNs: number;
  payload: number;
  segs: number;
  l3Len: number;
  /** The TCP header with its options as on the wire (tcp_len bytes). */
  tcp: Buffer;
}

export interface QlogSockValue {
  type: typeof QlogRecType.metrics | typeof QlogRecType.state;
  state: number;
  key: SockKeyValue;
  tsNs: number;
  srttUs: number;
  rttvarUs: number;
  minRttUs: number;
  cwnd: number;
  ssthresh: number;
  packetsOut: number;
  retrans: number;
  mss: number;
  sndWnd: number;
  mptcpToken: number;
  flags: number;
  cut: number;
  lost: number;
}

const QP = Object.fromEntries(QlogPacket.fields.map((f) => [f.name, f.offset])) as Record<string, number>;
const QS = Object.fromEntries(QlogSockRec.fields.map((f) => [f.name, f.offset])) as Record<string, number>;

/** A qlog_events record: a packet, or a socket's metrics or state change. */
export function decodeQlogRecord(buf: Buffer): QlogPacketValue | QlogSockValue | null {
  const type = buf.readUInt32LE(0);
  if (type === QlogRecType.packet && buf.length >= QlogPacket.size) {
    const tcpLen = Math.min(buf.readUInt8(QP.tcp_len!), QLOG_TCP_MAX);
    return {
      type,
      dir: buf.readUInt32LE(QP.dir!),
      key: decodeFlowKey(buf, QP.key!),
      rawKey: buf.subarray(QP.key!, QP.key! + FlowKey.size),
      tsNs: readU64(buf, QP.ts_ns!),
      payload: buf.readUInt32LE(QP.payload!),
      segs: buf.readUInt32LE(QP.segs!),
      l3Len: buf.readUInt32LE(QP.l3_len!),
      tcp: buf.subarray(QP.tcp!, QP.tcp! + tcpLen),
    };
  }
  if ((type === QlogRecType.metrics || type === QlogRecType.state) && buf.length >= QlogSockRec.size) {
    const u = (n: string) => buf.readUInt32LE(QS[n]!);
    return {
      type,
      state: u('state'),
      key: decodeSockKey(buf, QS.key!),
      tsNs: readU64(buf, QS.ts_ns!),
      srttUs: u('srtt_us'),
      rttvarUs: u('rttvar_us'),
      minRttUs: u('min_rtt_us'),
      cwnd: u('cwnd'),
      ssthresh: u('ssthresh'),
      packetsOut: u('packets_out'),
      retrans: u('retrans'),
      mss: u('mss'),
      sndWnd: u('snd_wnd'),
      mptcpToken: u('mptcp_token'),
      flags: u('flags'),
      cut: u('cut'),
      lost: u('lost'),
    };
  }
  return null;
}

export function decodeQlogFlow(buf: Buffer): { firstNs: number; records: number; cut: number; lost: number } {
  return {
    firstNs: readU64(buf, QlogFlow.offset('first_ns')),
    records: buf.readUInt32LE(QlogFlow.offset('records')),
    cut: buf.readUInt32LE(QlogFlow.offset('cut')),
    lost: buf.readUInt32LE(QlogFlow.offset('lost')),
  };
}
