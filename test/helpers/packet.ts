/** Builds Ethernet frames carrying TCP, byte by byte, for BPF_PROG_TEST_RUN. */
import { isIPv4 } from 'node:net';

export interface TcpSpec {
  src: string; // IPv4 or IPv6 address
  dst: string;
  sport: number;
  dport: number;
  flags?: number; // FIN 1, SYN 2, RST 4, PSH 8, ACK 16
  seq?: number;
  ack?: number;
  ts?: { val: number; ecr: number };
  payload?: number; // bytes of payload
  vlans?: number[]; // VLAN ids, outermost first
  ipv6Ext?: number; // number of destination-options headers to insert
  options?: Buffer; // raw TCP options instead of the timestamp layout
}

export const TH = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

function ipBytes(a: string): Buffer {
  if (isIPv4(a)) return Buffer.from(a.split('.').map(Number));
  const [head, tail] = a.includes('::') ? a.split('::') : [a, ''];
  const h = head ? head!.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function tcpOptions(spec: TcpSpec): Buffer {
  if (spec.options) return spec.options;
  if (!spec.ts) return Buffer.alloc(0);
  const o = Buffer.alloc(12);
  o[0] = 1; // NOP
  o[1] = 1; // NOP
  o[2] = 8; // timestamp
  o[3] = 10;
  o.writeUInt32BE(spec.ts.val >>> 0, 4);
  o.writeUInt32BE(spec.ts.ecr >>> 0, 8);
  return o;
}

export function tcpPacket(spec: TcpSpec): Buffer {
  const v4 = isIPv4(spec.src);
  const opts = tcpOptions(spec);
  const tcp = Buffer.alloc(20 + opts.length + (spec.payload ?? 0));
  tcp.writeUInt16BE(spec.sport, 0);
  tcp.writeUInt16BE(spec.dport, 2);
  tcp.writeUInt32BE((spec.seq ?? 1000) >>> 0, 4);
  tcp.writeUInt32BE((spec.ack ?? 0) >>> 0, 8);
  tcp[12] = ((20 + opts.length) / 4) << 4;
  tcp[13] = spec.flags ?? TH.ACK;
  tcp.writeUInt16BE(65535, 14);
  opts.copy(tcp, 20);

  let l3: Buffer;
  if (v4) {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + tcp.length, 2);
    ip[8] = 64;
    ip[9] = 6;
    ipBytes(spec.src).copy(ip, 12);
    ipBytes(spec.dst).copy(ip, 16);
    l3 = Buffer.concat([ip, tcp]);
  } else {
    const nExt = spec.ipv6Ext ?? 0;
    const ext = Buffer.alloc(8 * nExt);
    for (let i = 0; i < nExt; i++) {
      ext[i * 8] = i === nExt - 1 ? 6 : 60; // next header
      ext[i * 8 + 1] = 0; // length in 8-byte units beyond the first 8
      ext[i * 8 + 2] = 1; // PadN option filling the rest
      ext[i * 8 + 3] = 4;
    }
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(ext.length + tcp.length, 4);
    ip[6] = nExt ? 60 : 6;
    ip[7] = 64;
    ipBytes(spec.src).copy(ip, 8);
    ipBytes(spec.dst).copy(ip, 24);
    l3 = Buffer.concat([ip, ext, tcp]);
  }

  const vlans = spec.vlans ?? [];
  const eth = Buffer.alloc(14 + 4 * vlans.length);
  Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]).copy(eth, 0);
  let off = 12;
  vlans.forEach((id, i) => {
    eth.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, off);
    eth.writeUInt16BE(id, off + 2);
    off += 4;
  });
  eth.writeUInt16BE(v4 ? 0x0800 : 0x86dd, off);
  return Buffer.concat([eth, l3]);
}
