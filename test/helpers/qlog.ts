/**
 * A checker for the qlog files tcpulse writes: JSON-SEQ framing (RFC 7464),
 * the qlog main schema's header and event shape (version 0.3), and the
 * data of each event name tcpulse uses. Throws (assert) on the first
 * violation; returns the parsed header and events.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Json = Record<string, any>;

export interface Qlog {
  file: string;
  header: Json;
  events: Json[];
}

const NAMES = [
  'connectivity:connection_started', 'connectivity:connection_closed', 'connectivity:subflow_connection_started',
  'connectivity:subflow_connection_closed', 'connectivity:connection_state_updated', 'transport:packet_sent',
  'transport:packet_received', 'recovery:metrics_updated', 'tcpulse:truncated',
];
const FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];
const OPTION_TYPES = ['mss', 'window_scale', 'sack_permitted', 'sack', 'timestamp', 'mptcp', 'fast_open', 'md5', 'tcp_ao', 'unknown', 'malformed'];
const SUBFLOW_EVENTS = NAMES.filter((n) => !['connectivity:connection_closed', 'tcpulse:truncated'].includes(n));

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const u32 = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
const isIp = (v: unknown) => typeof v === 'string' && /^(\d+\.\d+\.\d+\.\d+|[0-9a-f:]+)$/.test(v);

function checkHeader(h: Json, where: string): void {
  assert.equal(h.qlog_version, '0.3', `${where}: qlog_version`);
  assert.equal(h.qlog_format, 'JSON-SEQ', `${where}: qlog_format`);
  assert.equal(typeof h.title, 'string', `${where}: title`);
  assert.equal(typeof h.description, 'string', `${where}: description`);
  assert.ok(isObj(h.trace), `${where}: trace`);
  const vp = h.trace.vantage_point;
  assert.ok(isObj(vp) && ['client', 'server', 'network', 'unknown'].includes(vp.type), `${where}: vantage_point.type`);
  if (vp.type === 'network') assert.ok(['client', 'server'].includes(vp.flow), `${where}: a network vantage point needs flow`);
  const cf = h.trace.common_fields;
  assert.ok(isObj(cf), `${where}: common_fields`);
  assert.equal(typeof cf.group_id, 'string', `${where}: group_id`);
  assert.equal(cf.time_format, 'relative', `${where}: time_format`);
  assert.ok(typeof cf.reference_time === 'number' && cf.reference_time > 1.6e12, `${where}: reference_time (epoch ms)`);
  assert.ok(Array.isArray(cf.protocol_type) && cf.protocol_type.includes('TCP'), `${where}: protocol_type`);
}

function checkHeaderObject(hd: Json, where: string): void {
  if (hd.truncated === true && hd.flags === undefined) return;
  assert.ok(Array.isArray(hd.flags) && hd.flags.every((f: string) => FLAGS.includes(f)), `${where}: header.flags`);
  assert.ok(u32(hd.seq) && u32(hd.ack), `${where}: seq/ack`);
  assert.ok(Number.isInteger(hd.win) && hd.win >= 0 && hd.win <= 65535, `${where}: win`);
  for (const o of hd.options ?? []) assert.ok(isObj(o) && OPTION_TYPES.includes(o.type), `${where}: option ${JSON.stringify(o)}`);
}

function checkData(e: Json, where: string): void {
  const d = e.data;
  assert.ok(isObj(d), `${where}: data`);
  if (SUBFLOW_EVENTS.includes(e.name)) assert.ok(Number.isInteger(d.subflow_id) && d.subflow_id >= 0, `${where}: data.subflow_id`);
  switch (e.name) {
    case 'transport:packet_sent':
    case 'transport:packet_received':
      assert.ok(isObj(d.header), `${where}: data.header`);
      checkHeaderObject(d.header, where);
      assert.ok(isObj(d.raw) && Number.isInteger(d.raw.length) && Number.isInteger(d.raw.payload_length), `${where}: raw`);
      assert.ok(d.raw.payload_length >= 0 && d.raw.payload_length < d.raw.length, `${where}: raw lengths`);
      break;
    case 'recovery:metrics_updated':
    case 'connectivity:connection_state_updated':
      assert.ok(['client', 'server'].includes(d.side), `${where}: side`);
      assert.ok(d.cwnd_segments > 0 && d.congestion_window === d.cwnd_segments * d.mss, `${where}: cwnd`);
      if (d.smoothed_rtt !== undefined) assert.ok(d.smoothed_rtt > 0 && d.rtt_variance >= 0, `${where}: rtt`);
      if (e.name === 'connectivity:connection_state_updated') assert.ok(['established', 'closed'].includes(d.new), `${where}: new state`);
      break;
    case 'connectivity:connection_started':
    case 'connectivity:subflow_connection_started':
      assert.ok(isIp(d.src_ip) && isIp(d.dst_ip) && d.src_port > 0 && d.dst_port > 0, `${where}: endpoints`);
      assert.ok(['v4', 'v6'].includes(d.ip_version), `${where}: ip_version`);
      break;
    case 'connectivity:connection_closed':
    case 'connectivity:subflow_connection_closed':
      assert.equal(typeof d.trigger, 'string', `${where}: trigger`);
      break;
    case 'tcpulse:truncated':
      assert.ok(d.events_cut > 0 && Array.isArray(d.reasons) && d.reasons.length > 0, `${where}: truncated counts`);
      break;
  }
}

/** Parses and checks one file. */
export function readQlog(path: string): Qlog {
  const text = readFileSync(path, 'utf8');
  assert.ok(text.startsWith('\x1e'), `${path}: a JSON-SEQ file starts with RS`);
  const parts = text.split('\x1e').slice(1);
  const recs = parts.map((p, i) => {
    assert.ok(p.endsWith('\n') && !p.slice(0, -1).includes('\n'), `${path}: record ${i} is one JSON text ended by LF`);
    return JSON.parse(p) as Json;
  });
  assert.ok(recs.length >= 1, `${path}: no header`);
  const [header, ...events] = recs as [Json, ...Json[]];
  checkHeader(header, path);
  let last = 0;
  events.forEach((e, i) => {
    const where = `${path}: event ${i} (${e.name})`;
    assert.ok(typeof e.time === 'number' && Number.isFinite(e.time) && e.time >= last, `${where}: time ${e.time} after ${last}`);
    last = e.time;
    assert.ok(NAMES.includes(e.name), `${where}: unknown name`);
    assert.equal(e.group_id, header.trace.common_fields.group_id, `${where}: group_id`);
    if (e.name === 'tcpulse:truncated') assert.equal(i, events.length - 1, `${where}: truncation is the last record`);
    checkData(e, where);
  });
  return { file: path, header, events };
}

/** Every .sqlog file in dir, checked. */
export function readQlogDir(dir: string): Qlog[] {
  return readdirSync(dir).filter((f) => f.endsWith('.sqlog')).sort().map((f) => readQlog(join(dir, f)));
}

export const named = (q: Qlog, name: string): Json[] => q.events.filter((e) => e.name === name);
export const hasFlags = (e: Json, ...flags: string[]) => {
  const f: string[] = e.data.header?.flags ?? [];
  return flags.every((x) => f.includes(x)) && f.length === flags.length;
};
