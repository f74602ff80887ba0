/**
 * qlog's side of the contract (bpf/tcpulse.h, both objects): the records of
 * qlog_events, whose first word says which struct follows, as the domain
 * values the writer takes.
 */
import { FlowKey, QlogPacket, QlogRecType, QlogSockRec, readQlogPacket, readQlogSockRec, type FlowKeyValue, type QlogSockRecValue } from './contract.gen.js';

export interface QlogPacketRecord {
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

export interface QlogSockRecord extends Omit<QlogSockRecValue, 'type'> {
  type: typeof QlogRecType.metrics | typeof QlogRecType.state;
}

/** A qlog_events record: a packet, or a socket's metrics or state change. */
export function decodeQlogRecord(buf: Buffer): QlogPacketRecord | QlogSockRecord | null {
  const type = buf.readUInt32LE(0);
  if (type === QlogRecType.packet && buf.length >= QlogPacket.size) {
    const p = readQlogPacket(buf);
    const key = QlogPacket.offset('key');
    return { type, dir: p.dir, key: p.key, rawKey: buf.subarray(key, key + FlowKey.size), tsNs: p.tsNs, payload: p.payload, segs: p.segs, l3Len: p.l3Len, tcp: p.tcp.subarray(0, p.tcpLen) };
  }
  if ((type === QlogRecType.metrics || type === QlogRecType.state) && buf.length >= QlogSockRec.size) {
    return { ...readQlogSockRec(buf), type };
  }
  return null;
}
