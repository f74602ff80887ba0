/**
 * TCP headers as the kernel copied them (struct qlog_packet.tcp) decoded
 * into qlog's header object: flags, seq, ack, window and every option,
 * MPTCP's (kind 30, RFC 8684) field by field. MPTCP keys give the tokens
 * that group an MP_JOIN subflow with its connection.
 */
import { createHash } from 'node:crypto';
import { addressToString } from '../flows/address.js';

export const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;
export const TH = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;

export type Json = Record<string, unknown>;

export interface TcpHeader {
  flags: number;
  seq: number;
  ack: number;
  window: number;
  /** qlog form: { flags: [...], seq, ack, win, options: [...] } */
  json: Json;
  /** MPTCP details the tracer groups by */
  mptcp?: MptcpInfo;
}

export interface MptcpInfo {
  subtype: number;
  /** MP_CAPABLE: the sender's key, and on the third ACK the receiver's (8 bytes each) */
  keys?: Buffer[];
  /** MP_JOIN SYN: the token of the connection joined (the receiver's) */
  joinToken?: number;
  /** any MPTCP option on the packet */
  capable?: boolean;
  join?: boolean;
}

const SUBTYPES = ['MP_CAPABLE', 'MP_JOIN', 'DSS', 'ADD_ADDR', 'REMOVE_ADDR', 'MP_PRIO', 'MP_FAIL', 'MP_FASTCLOSE', 'MP_TCPRST'];

const hex = (b: Buffer) => b.toString('hex');
/** 8-octet values as decimal strings (JSON numbers lose precision above 2^53). */
const u64 = (b: Buffer, off: number) => b.readBigUInt64BE(off).toString();

/** MPTCP token of a key: the most significant 32 bits of SHA-256(key) (RFC 8684, 3.2). */
export function mptcpToken(key: Buffer): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0);
}

export const tokenHex = (t: number) => t.toString(16).padStart(8, '0');

const ipText = (b: Buffer) => (b.length === 4 ? [...b].join('.') : addressToString(b));

/** One MPTCP option (o: the whole option, kind and length included). */
function mptcpOption(o: Buffer, syn: boolean, ack: boolean, info: MptcpInfo): Json {
  const len = o.length;
  const subtype = len > 2 ? o[2]! >> 4 : -1;
  const out: Json = { type: 'mptcp', subtype: SUBTYPES[subtype] ?? subtype, length: len };
  info.subtype = subtype;
  if (subtype === 0 && len >= 4) {
    info.capable = true;
    out.version = o[2]! & 0xf;
    out.flags = o[3]!;
    const keys: Buffer[] = [];
    if (len >= 12) keys.push(Buffer.from(o.subarray(4, 12)));
    if (len >= 20) keys.push(Buffer.from(o.subarray(12, 20)));
    if (keys[0]) out.sender_key = hex(keys[0]);
    if (keys[1]) out.receiver_key = hex(keys[1]);
    if (len >= 22) out.data_level_length = o.readUInt16BE(20);
    if (len >= 24) out.checksum = o.readUInt16BE(22);
    if (keys.length) info.keys = keys;
  } else if (subtype === 1) {
    info.join = true;
    out.backup = (o[2]! & 1) === 1;
    if (syn && !ack && len >= 12) {
      out.address_id = o[3];
      info.joinToken = o.readUInt32BE(4);
      out.receiver_token = tokenHex(info.joinToken);
      out.sender_nonce = o.readUInt32BE(8);
    } else if (syn && len >= 16) {
      out.address_id = o[3];
      out.sender_truncated_hmac = hex(o.subarray(4, 12));
      out.sender_nonce = o.readUInt32BE(12);
    } else if (len >= 24) {
      out.sender_hmac = hex(o.subarray(4, 24));
    }
  } else if (subtype === 2 && len >= 4) {
    const f = o[3]!;
    let off = 4;
    Object.assign(out, { data_fin: (f & 0x10) !== 0 });
    if (f & 0x01) {
      const wide = (f & 0x02) !== 0;
      if (off + (wide ? 8 : 4) <= len) out.data_ack = wide ? u64(o, off) : o.readUInt32BE(off);
      off += wide ? 8 : 4;
    }
    if (f & 0x04) {
      const wide = (f & 0x08) !== 0;
      if (off + (wide ? 8 : 4) + 6 <= len) {
        out.data_sequence_number = wide ? u64(o, off) : o.readUInt32BE(off);
        off += wide ? 8 : 4;
        out.subflow_sequence_number = o.readUInt32BE(off);
        out.data_level_length = o.readUInt16BE(off + 4);
        if (off + 8 <= len) out.checksum = o.readUInt16BE(off + 6);
      }
    }
  } else if (subtype === 3 && len >= 8) {
    out.echo = (o[2]! & 1) === 1;
    out.address_id = o[3];
    const v6 = len >= 20;
    const alen = v6 ? 16 : 4;
    out.address = ipText(o.subarray(4, 4 + alen));
    const rest = len - 4 - alen; // port (2) and/or truncated HMAC (8)
    if (rest === 2 || rest === 10) out.port = o.readUInt16BE(4 + alen);
    if (rest >= 8) out.truncated_hmac = hex(o.subarray(len - 8, len));
  } else if (subtype === 4 && len >= 4) {
    out.address_ids = [...o.subarray(3, len)];
  } else if (subtype === 5 && len >= 3) {
    out.backup = (o[2]! & 1) === 1;
    if (len >= 4) out.address_id = o[3];
  } else if (subtype === 6 && len >= 12) {
    out.data_sequence_number = u64(o, 4);
  } else if (subtype === 7 && len >= 12) {
    out.receiver_key = hex(o.subarray(4, 12));
  } else if (subtype === 8 && len >= 4) {
    out.flags = o[2]! & 0xf;
    out.reason = o[3];
  }
  return out;
}

/** The options (NOP and EOL left out), at most 40 bytes. */
function options(opts: Buffer, syn: boolean, ack: boolean, info: MptcpInfo | undefined): [Json[], MptcpInfo | undefined] {
  const out: Json[] = [];
  let i = 0;
  while (i < opts.length) {
    const kind = opts[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = opts[i + 1];
    if (len === undefined || len < 2 || i + len > opts.length) {
      out.push({ type: 'malformed', kind, offset: i });
      break;
    }
    const o = opts.subarray(i, i + len);
    if (kind === 2 && len === 4) out.push({ type: 'mss', value: o.readUInt16BE(2) });
    else if (kind === 3 && len === 3) out.push({ type: 'window_scale', value: o[2] });
    else if (kind === 4 && len === 2) out.push({ type: 'sack_permitted' });
    else if (kind === 5 && len >= 10) {
      const blocks: [number, number][] = [];
      for (let b = 2; b + 8 <= len; b += 8) blocks.push([o.readUInt32BE(b), o.readUInt32BE(b + 4)]);
      out.push({ type: 'sack', blocks });
    } else if (kind === 8 && len === 10) out.push({ type: 'timestamp', tsval: o.readUInt32BE(2), tsecr: o.readUInt32BE(6) });
    else if (kind === 30) out.push(mptcpOption(o, syn, ack, (info ??= { subtype: -1 })));
    else if (kind === 34) out.push({ type: 'fast_open', cookie: hex(o.subarray(2)) });
    else if (kind === 19) out.push({ type: 'md5' });
    else if (kind === 29) out.push({ type: 'tcp_ao', key_id: o[2], rnext_key_id: o[3] });
    else out.push({ type: 'unknown', kind, length: len });
    i += len;
  }
  return [out, info];
}

/** Decodes tcp (the header as copied, maybe cut short); null when not even the fixed 20 bytes are there. */
export function decodeTcp(tcp: Buffer): TcpHeader | null {
  if (tcp.length < 20) return null;
  const flags = tcp[13]!;
  const seq = tcp.readUInt32BE(4);
  const ack = tcp.readUInt32BE(8);
  const window = tcp.readUInt16BE(14);
  const hlen = (tcp[12]! >> 4) * 4;
  const names = TCP_FLAGS.filter((_, i) => flags & (1 << i));
  const json: Json = { flags: names, seq, ack, win: window };
  if (hlen > tcp.length) json.truncated = true;
  const [opts, mptcp] = options(tcp.subarray(20, Math.min(hlen, tcp.length)), (flags & TH.SYN) !== 0, (flags & TH.ACK) !== 0, undefined);
  if (opts.length) json.options = opts;
  if (flags & 0x20) json.urgent_pointer = tcp.readUInt16BE(18);
  return { flags, seq, ack, window, json, mptcp };
}
