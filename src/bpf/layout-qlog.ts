/**
 * The qlog records of bpf/qlog.h (both objects), field for field; checked
 * against BTF by test/unit/layout.test.ts like the rest of layout.ts.
 */
import { array, readU64, struct, u32, u64, u8 } from './codec.js';
import { decodeFlowKey, FlowKey, type FlowKeyValue } from './layout-flow.js';
import { decodeSockKey, SockKey, type SockKeyValue } from './layout-sock.js';

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
