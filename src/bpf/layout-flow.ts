/**
 * The packet-path structs of bpf/tcpulse.h (packet.bpf.c), field for field.
 * test/unit/layout.test.ts checks every offset and size against the BTF of the
 * compiled object.
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
export function decodeTuple(def: StructDef, buf: Buffer, off: number) {
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
