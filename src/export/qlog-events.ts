/**
 * The qlog vocabulary tcpulse writes, and the shape of a traced connection.
 * Names follow the seed logger's categories (connectivity, transport) and
 * qlog's QUIC event names where TCP has the same thing (recovery).
 */
import type { QlogSockRecord } from '../bpf/layout.js';
import type { QlogFile, Json, QlogHeader } from './qlog-file.js';
import { tokenHex } from './qlog-tcp.js';

export const EV = {
  connectionStarted: 'connectivity:connection_started',
  connectionClosed: 'connectivity:connection_closed',
  subflowStarted: 'connectivity:subflow_connection_started',
  subflowClosed: 'connectivity:subflow_connection_closed',
  stateUpdated: 'connectivity:connection_state_updated',
  packetSent: 'transport:packet_sent',
  packetReceived: 'transport:packet_received',
  metricsUpdated: 'recovery:metrics_updated',
  truncated: 'tcpulse:truncated',
} as const;
export const EVENT_NAMES: readonly string[] = Object.values(EV);

export interface Endpoint {
  ip: string;
  port: number;
  /** "ip:port" ([ip]:port for IPv6) */
  text: string;
  v6: boolean;
}

export interface Subflow {
  id: number;
  client: Endpoint;
  server: Endpoint;
  /** the client is known from the SYN (or SYN-ACK); else it is the egress source */
  handshake: boolean;
  join: boolean;
  /** FIN seen from the client (1) and from the server (2) */
  fin: number;
  rst: 'client' | 'server' | null;
  closed: boolean;
  /** the interface it is recorded at (the first that saw it), and which way is from the client there */
  ifindex: number;
  clientIsEgressSource: boolean;
}

export interface Conn {
  id: string;
  file: QlogFile;
  mptcp: boolean;
  startNs: number;
  /** last record seen (idle), last event time written (events never go back in time) */
  lastNs: number;
  lastWrittenNs: number;
  /** all subflows closed at (0: open), and how */
  closedNs: number;
  closeTrigger: string | null;
  subflows: Subflow[];
  /** flow keys (hex -> struct flow_key) in the kernel's traced map */
  flowKeys: Map<string, Buffer>;
  tokens: Set<number>;
  /** events written, and those cut by name once the limit was reached */
  written: number;
  cut: Map<string, number>;
  /** cut or lost in the kernel, per kind */
  kernelCut: { packets: number; metrics: number };
  kernelLost: { packets: number; metrics: number };
}

export function endpoint(ip: string, port: number): Endpoint {
  const v6 = ip.includes(':');
  return { ip, port, v6, text: v6 ? `[${ip}]:${port}` : `${ip}:${port}` };
}

/** Event time: ms since the connection's first record, to the microsecond. */
export const relMs = (c: Conn, ns: number) => Math.round((ns - c.startNs) / 1e3) / 1e3;

/** A file's base name (and group_id): start time, protocol, client and server. */
export function connName(wallMs: number, mptcp: boolean, sf: Subflow): string {
  const stamp = new Date(wallMs).toISOString().replace(/[-:]/g, '');
  const safe = (e: Endpoint) => `${e.ip.replace(/:/g, '-')}_${e.port}`;
  return `${stamp}_${mptcp ? 'mptcp' : 'tcp'}_${safe(sf.client)}_${safe(sf.server)}`;
}

/** The same key for both orientations of a tuple. */
export function tupleKey(a: Endpoint, b: Endpoint): string {
  return a.text < b.text ? `${a.text} ${b.text}` : `${b.text} ${a.text}`;
}

const ms = (us: number) => Math.round(us) / 1000;
const TCP_INFINITE_SSTHRESH = 0x7fffffff;
const TCP_STATES: Record<number, string> = { 1: 'established', 7: 'closed' };

export function endpoints(sf: Subflow): Json {
  return {
    ip_version: sf.client.v6 ? 'v6' : 'v4',
    src_ip: sf.client.ip,
    src_port: sf.client.port,
    dst_ip: sf.server.ip,
    dst_port: sf.server.port,
  };
}

/** recovery:metrics_updated from a socket record; RTTs in ms, congestion_window in bytes (qlog's unit). */
export function metricsData(r: QlogSockRecord, sf: Subflow, side: string): Json {
  const d: Json = { subflow_id: sf.id, side };
  if (r.srttUs) {
    d.smoothed_rtt = ms(r.srttUs);
    d.rtt_variance = ms(r.rttvarUs);
  }
  if (r.minRttUs && r.minRttUs !== 0xffffffff) d.min_rtt = ms(r.minRttUs);
  d.congestion_window = r.cwnd * r.mss;
  d.cwnd_segments = r.cwnd;
  if (r.ssthresh < TCP_INFINITE_SSTHRESH) d.ssthresh_segments = r.ssthresh;
  d.packets_out = r.packetsOut;
  d.mss = r.mss;
  d.retransmits = r.retrans;
  return d;
}

/** connectivity:connection_state_updated from a socket's established or closed record. */
export function stateData(r: QlogSockRecord, sf: Subflow, side: string, mptcpFlag: number, joinFlag: number): Json {
  const d: Json = { subflow_id: sf.id, side, new: TCP_STATES[r.state] ?? `tcp_state_${r.state}` };
  if (r.flags & mptcpFlag) {
    d.mptcp_token = tokenHex(r.mptcpToken);
    d.join = (r.flags & joinFlag) !== 0;
  }
  return { ...d, ...metricsData(r, sf, side) };
}

export function header(c: Conn, sf: Subflow, o: { host: string; maxEvents: number; wallMs: number; ifindex: number }): QlogHeader {
  const proto = c.mptcp ? 'MPTCP' : 'TCP';
  const title = `${proto} ${sf.client.text} -> ${sf.server.text}`;
  return {
    title: `tcpulse: ${title}`,
    description:
      `One ${proto} connection as tcpulse on ${o.host} saw it: packets at the attached interfaces, ` +
      `and srtt/cwnd of its sockets on this node. At most ${o.maxEvents} events; ` +
      `if anything was cut, the last record (${EV.truncated}) says what.`,
    trace: {
      title,
      description: sf.handshake
        ? 'client: the end that sent the SYN'
        : `handshake not seen: "client" is the egress source at interface ${o.ifindex}`,
      vantage_point: { name: `tcpulse@${o.host}`, type: 'network', flow: 'client' },
      common_fields: {
        group_id: c.id,
        protocol_type: c.mptcp ? ['TCP', 'MPTCP'] : ['TCP'],
        reference_time: Math.round(o.wallMs * 1000) / 1000,
        time_format: 'relative',
      },
    },
  };
}

/** tcpulse:truncated: what the limits, the ring buffer or the file cut. */
export function truncatedData(c: Conn, maxEvents: number, closed: string | null): Json | null {
  const userCut = [...c.cut.values()].reduce((a, b) => a + b, 0);
  const k = c.kernelCut;
  const l = c.kernelLost;
  const total = userCut + k.packets + k.metrics + l.packets + l.metrics + c.file.dropped;
  if (total === 0) return null;
  const reasons: string[] = [];
  if (userCut || k.packets || k.metrics) reasons.push('max_events_per_connection');
  if (l.packets || l.metrics) reasons.push('ring_buffer_full');
  if (c.file.dropped) reasons.push('writer_backlog');
  return {
    reasons,
    max_events_per_connection: maxEvents,
    events_written: c.written,
    events_cut: total,
    cut_by_name: Object.fromEntries(c.cut),
    cut_in_kernel: { ...k },
    lost_in_kernel: { ...l },
    dropped_by_writer: c.file.dropped,
    ...(closed ? { connection_closed: closed } : {}),
  };
}
