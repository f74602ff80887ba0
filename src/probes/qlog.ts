/**
 * The kernel side of qlog tracing, for both probes: the .rodata flags and
 * map sizes set before load, and the filter maps (qlog_addrs, qlog_ports)
 * that both objects read when a flow is created or a socket established.
 * Addresses and CIDRs come from the config; pods ("namespace/name" or
 * "namespace/*") are turned into their IPs from the pod index, and kept
 * current as pods come and go.
 */
import { isIP } from 'node:net';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { QlogCfgFlag, writeQlogAddr } from '../bpf/layout.js';
import type { BpfMap } from '../bpf/map.js';
import type { BpfObject } from '../bpf/object.js';
import type { PodIndex } from '../k8s/pods.js';

/** The shared ring of packet and socket records (~60k packet records). */
export const QLOG_RING_BYTES = 8 << 20;
/** Pod IPs the address filter holds at most (besides the configured addresses). */
export const QLOG_POD_ADDRS = 4096;
/** Kernel entries per traced connection: subflows, and interfaces that see the same flow. */
export const QLOG_FLOWS_PER_CONNECTION = 4;

export type QlogConfig = Config['qlog'];

export interface Cidr {
  /** 16 bytes, IPv4 mapped */
  addr: Buffer;
  /** counted over the 128 bits (IPv4: 96 + the IPv4 prefix) */
  prefixLen: number;
}

/** 16-byte form of an IP address (IPv4 mapped), or null. */
export function ipBytes(ip: string): Buffer | null {
  const v = isIP(ip);
  if (v === 4) return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.split('.').map(Number)]);
  if (v !== 6) return null;
  let text = ip;
  const tail: number[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (v4) {
    text = ip.slice(0, -v4[1]!.length) + '0:0';
    tail.push(...v4[1]!.split('.').map(Number));
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tail.length) Buffer.from(tail).copy(b, 12);
  return b;
}

/** "10.0.0.1", "10.0.0.0/8", "fd00::/64": throws ConfigError on anything else. */
export function parseCidr(text: string): Cidr {
  const [ip, len, extra] = text.trim().split('/');
  const addr = ipBytes(ip ?? '');
  const v4 = isIP(ip ?? '') === 4;
  const max = v4 ? 32 : 128;
  const n = len === undefined ? max : /^\d+$/.test(len) ? Number(len) : NaN;
  if (!addr || extra !== undefined || !(n >= 0 && n <= max)) {
    throw new ConfigError(`qlog.addresses: ${JSON.stringify(text)} is not an IP address or CIDR`);
  }
  return { addr, prefixLen: v4 ? 96 + n : n };
}

/** .rodata flags for both objects. Validates the filter (ConfigError) before anything loads. */
export function qlogFlags(q: QlogConfig): number {
  if (!q.dir) return 0;
  for (const a of q.addresses) parseCidr(a);
  for (const p of q.pods) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/(\*|[a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.test(p)) {
      throw new ConfigError(`qlog.pods: ${JSON.stringify(p)} is not "namespace/name" or "namespace/*"`);
    }
  }
  let f = QlogCfgFlag.on;
  if (q.addresses.length || q.pods.length) f |= QlogCfgFlag.byAddr;
  if (q.ports.length) f |= QlogCfgFlag.byPort;
  return f;
}

/** Map sizes before load, for the maps of qlog.h and the object's traced map (traced or qlog_socks). */
export function sizeQlogMaps(obj: BpfObject, q: QlogConfig, tracedMap: 'traced' | 'qlog_socks', ring: boolean): void {
  if (!q.dir) return;
  obj.setMaxEntries(tracedMap, Math.max(16, q.maxConnections * QLOG_FLOWS_PER_CONNECTION));
  obj.setMaxEntries('qlog_addrs', Math.max(1, q.addresses.length + (q.pods.length ? QLOG_POD_ADDRS : 0)));
  obj.setMaxEntries('qlog_ports', Math.max(1, q.ports.length));
  if (ring) obj.setMaxEntries('qlog_events', QLOG_RING_BYTES);
}

const ONE = Buffer.from([1]);

/** Whether a pod selector ("ns/name" or "ns/*") names this pod. */
function selects(sel: string, ns: string, name: string): boolean {
  const [sns, sname] = sel.split('/');
  return sns === ns && (sname === '*' || sname === name);
}

/**
 * The filter maps of both objects, written the same. Configured addresses
 * and ports are written once; pod IPs follow the pod index (sync()).
 */
export class QlogFilter {
  private readonly podKeys = new Map<string, Buffer>(); // hex -> key
  private readonly staticKeys = new Set<string>();
  private generation = -1;

  constructor(
    private readonly maps: { addrs: BpfMap; ports: BpfMap }[],
    private readonly q: QlogConfig,
    private readonly pods: PodIndex | null,
  ) {
    for (const text of q.addresses) {
      const c = parseCidr(text);
      const key = writeQlogAddr({ prefixlen: c.prefixLen, addr: c.addr });
      this.staticKeys.add(key.toString('hex'));
      for (const m of maps) m.addrs.update(key, ONE);
    }
    for (const port of q.ports) {
      const key = Buffer.alloc(2);
      key.writeUInt16LE(port);
      for (const m of maps) m.ports.update(key, ONE);
    }
    this.sync();
  }

  /** Pod IPs of the selected pods into qlog_addrs; a no-op while the index has not changed. */
  sync(): void {
    if (!this.pods || this.q.pods.length === 0 || this.pods.generation === this.generation) return;
    this.generation = this.pods.generation;
    const want = new Map<string, Buffer>();
    for (const p of this.pods.all()) {
      if (p.hostNetwork || !this.q.pods.some((s) => selects(s, p.namespace, p.name))) continue;
      for (const ip of p.ips) {
        const b = ipBytes(ip);
        if (!b) continue;
        const key = writeQlogAddr({ prefixlen: 128, addr: b });
        want.set(key.toString('hex'), key);
      }
    }
    for (const [hex, key] of this.podKeys) {
      if (want.has(hex)) continue;
      this.podKeys.delete(hex);
      if (!this.staticKeys.has(hex)) for (const m of this.maps) m.addrs.delete(key);
    }
    for (const [hex, key] of want) {
      if (this.podKeys.has(hex) || this.podKeys.size >= QLOG_POD_ADDRS) continue;
      this.podKeys.set(hex, key);
      for (const m of this.maps) m.addrs.update(key, ONE);
    }
  }

  /** Pod IPs in the filter now. */
  get podAddresses(): number {
    return this.podKeys.size;
  }
}
