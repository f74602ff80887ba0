/**
 * The connections of qlog tracing: records of the kernel's qlog_events
 * ring, in time order, become events in one file per connection. Packets
 * are grouped by flow key (one interface per subflow: the first that saw
 * it), flows into subflows by tuple, subflows into an MPTCP connection by
 * token (from its MP_CAPABLE keys, its sockets, an MP_JOIN's receiver
 * token); socket records join their subflow by tuple. Limits: at most
 * maxConnections connections at once, maxEventsPerConnection events per
 * file, then a last tcpulse:truncated record says what was cut.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { Dir, QlogRecType, SockFlag, type QlogPacketRecord, type QlogSockRecord } from '../bpf/layout.js';
import { addressToString } from '../flows/address.js';
import type { Logger } from '../log.js';
import { QlogFile, type Backlog, type Json } from './qlog-file.js';
import { decodeTcp, mptcpToken, TH, tokenHex, type TcpHeader } from './qlog-tcp.js';
import { connName, EV, endpoint, endpoints, header, metricsData, relMs, stateData, truncatedData, tupleKey, type Conn, type Endpoint, type Subflow } from './qlog-events.js';
import type { WallClock } from '../time.js';

/** After its last subflow closed, a connection's file stays open this long for the last ACKs. */
const LINGER_NS = 2e9;
/** Records of a finished or refused flow still in the ring are dropped for this long. */
const GONE_NS = 5e9;

export interface QlogStats {
  connections: number;
  refused: number;
  open: number;
  unmatchedSocketRecords: number;
  socketsReleased: number;
}

/** What the kernel holds for a traced flow: release() removes it and says what it cut and lost. */
export interface QlogKernel {
  release(flowKey: Buffer): { cut: number; lost: number } | null;
}

export class QlogConnections {
  private readonly conns = new Set<Conn>();
  private readonly byFlow = new Map<string, [Conn, Subflow]>();
  private readonly byTuple = new Map<string, [Conn, Subflow]>();
  private readonly byToken = new Map<number, Conn>();
  private readonly gone = new Map<string, number>();
  private readonly names = new Set<string>();
  private readonly closing = new Set<Promise<void>>();
  private readonly host = hostname();
  private readonly backlog: Backlog = { bytes: 0 };
  readonly stats: QlogStats = { connections: 0, refused: 0, open: 0, unmatchedSocketRecords: 0, socketsReleased: 0 };

  constructor(
    private readonly q: Config['qlog'] & { dir: string },
    private readonly idleNs: number,
    private readonly kernel: QlogKernel,
    private readonly log: Logger,
    private readonly toWallMs: WallClock,
    private readonly nowNs: () => number,
  ) {}

  /** Whether a tuple ("ip:port ip:port", either order) belongs to a traced connection. */
  hasTuple(a: Endpoint, b: Endpoint): boolean {
    return this.byTuple.has(tupleKey(a, b));
  }

  /** After a batch: what was written goes to the files. */
  flush(): void {
    for (const c of this.conns) c.file.flush();
  }

  /** Finishes closed connections after their linger, idle ones, and forgets old refusals. */
  sweep(): void {
    const now = this.nowNs();
    for (const c of this.conns) {
      if (c.closedNs ? now - c.closedNs > LINGER_NS : now - c.lastNs > this.idleNs) this.finish(c, c.closedNs ? null : 'idle_timeout');
    }
    for (const [k, until] of this.gone) if (until < now) this.gone.delete(k);
  }

  /** Finishes every file; resolves when all are flushed and closed. */
  async close(): Promise<void> {
    for (const c of [...this.conns]) this.finish(c, c.closedNs ? null : 'tracing_stopped');
    await Promise.all([...this.closing]);
  }

  private emit(c: Conn, tsNs: number, name: string, data: Json): void {
    if (c.written >= this.q.maxEventsPerConnection) {
      c.cut.set(name, (c.cut.get(name) ?? 0) + 1);
      return;
    }
    const t = Math.max(tsNs, c.lastWrittenNs);
    c.lastWrittenNs = t;
    if (c.file.write({ time: relMs(c, t), name, group_id: c.id, data })) c.written++;
  }

  /** A packet record of a traced flow. */
  packet(r: QlogPacketRecord): void {
    const fk = r.rawKey.toString('hex');
    const hdr = decodeTcp(r.tcp);
    const hit = this.byFlow.get(fk) ?? this.newFlow(r, fk, hdr);
    if (!hit) return;
    const [c, sf] = hit;
    c.lastNs = Math.max(c.lastNs, r.tsNs);
    const fromClient = (r.dir === Dir.egress) === sf.clientIsEgressSource;
    const data: Json = { subflow_id: sf.id, header: hdr?.json ?? { truncated: true }, raw: { length: r.l3Len, payload_length: r.payload } };
    if (r.segs > 1) data.segments = r.segs;
    this.emit(c, r.tsNs, fromClient ? EV.packetSent : EV.packetReceived, data);
    if (hdr) this.track(c, sf, hdr, fromClient, r.tsNs);
  }

  /** The first record of a flow key: its subflow, or null (and the kernel stops tracing it). */
  private newFlow(r: QlogPacketRecord, fk: string, hdr: TcpHeader | null): [Conn, Subflow] | null {
    if (this.gone.has(fk)) return null;
    const a = endpoint(addressToString(r.key.saddr), r.key.sport);
    const b = endpoint(addressToString(r.key.daddr), r.key.dport);
    const [src, dst] = r.dir === Dir.egress ? [a, b] : [b, a];
    // a subflow is recorded where it was seen first: at a second interface (a pod's
    // veth and the node's NIC, two pods' veths) the kernel stops tracing it
    const tk = tupleKey(src, dst);
    const hit = this.byTuple.has(tk) || this.gone.has(tk) ? null : this.startSubflow(r, hdr, src, dst, a, tk);
    if (!hit) {
      this.gone.set(fk, r.tsNs + GONE_NS);
      this.kernel.release(r.rawKey);
      return null;
    }
    hit[0].flowKeys.set(fk, r.rawKey);
    this.byFlow.set(fk, hit);
    return hit;
  }

  /** A flow not seen before: a join of a traced MPTCP connection, or a new connection (if there is room). */
  private startSubflow(r: QlogPacketRecord, hdr: TcpHeader | null, src: Endpoint, dst: Endpoint, egressSrc: Endpoint, tk: string): [Conn, Subflow] | null {
    const syn = hdr ? hdr.flags & (TH.SYN | TH.ACK) : 0;
    const handshake = syn === TH.SYN || syn === (TH.SYN | TH.ACK);
    const client = syn === (TH.SYN | TH.ACK) ? dst : handshake ? src : egressSrc;
    const server = client === src ? dst : src;
    const joinToken = hdr?.mptcp?.joinToken;
    let c = joinToken !== undefined ? this.byToken.get(joinToken) : undefined;
    const sf: Subflow = {
      id: c ? c.subflows.length : 0, client, server, handshake, join: joinToken !== undefined, fin: 0, rst: null, closed: false,
      ifindex: r.key.ifindex, clientIsEgressSource: client.text === egressSrc.text,
    };
    if (!c) {
      if (this.conns.size >= this.q.maxConnections) {
        this.gone.set(tk, r.tsNs + GONE_NS); // also where other interfaces see it
        this.stats.refused++;
        if (this.stats.refused === 1 || this.stats.refused % 1000 === 0) {
          this.log.info('qlog: maxConnections reached, connection not traced', { refused: this.stats.refused, client: client.text, server: server.text });
        }
        return null;
      }
      c = this.newConn(r, sf, hdr?.mptcp !== undefined);
      if (joinToken !== undefined) this.addToken(c, joinToken);
    } else {
      c.subflows.push(sf);
    }
    this.byTuple.set(tk, [c, sf]);
    if (c.mptcp) {
      const token = joinToken !== undefined ? { token: tokenHex(joinToken) } : {};
      this.emit(c, r.tsNs, EV.subflowStarted, { subflow_id: sf.id, ...endpoints(sf), join: sf.join, ifindex: r.key.ifindex, ...token });
    }
    return [c, sf];
  }

  private newConn(r: QlogPacketRecord, sf: Subflow, mptcp: boolean): Conn {
    const wallMs = this.toWallMs(r.tsNs);
    const name = connName(wallMs, mptcp, sf);
    let base = name;
    for (let i = 2; this.names.has(base) || existsSync(join(this.q.dir, `${base}.sqlog`)); i++) base = `${name}~${i}`;
    this.names.add(base);
    const c: Conn = {
      id: base, mptcp, startNs: r.tsNs, lastNs: r.tsNs, lastWrittenNs: r.tsNs, closedNs: 0, closeTrigger: null, subflows: [sf], flowKeys: new Map(), tokens: new Set(),
      written: 0, cut: new Map(), kernelCut: { packets: 0, metrics: 0 }, kernelLost: { packets: 0, metrics: 0 },
      file: null as unknown as QlogFile,
    };
    const head = header(c, sf, { host: this.host, maxEvents: this.q.maxEventsPerConnection, wallMs, ifindex: r.key.ifindex });
    const onError = (err: Error) => this.log.warn('qlog file', { path: base, error: err });
    c.file = new QlogFile(join(this.q.dir, `${base}.sqlog`), head, onError, this.backlog);
    this.conns.add(c);
    this.stats.connections++;
    this.stats.open = this.conns.size;
    this.emit(c, r.tsNs, EV.connectionStarted, { subflow_id: 0, ...endpoints(sf), protocol: mptcp ? 'MPTCP' : 'TCP', ifindex: r.key.ifindex, handshake_seen: sf.handshake });
    return c;
  }

  private addToken(c: Conn, token: number): void {
    if (c.tokens.has(token) || this.byToken.has(token)) return;
    c.tokens.add(token);
    this.byToken.set(token, c);
  }

  /** FIN/RST per subflow; MPTCP keys give the connection's tokens. */
  private track(c: Conn, sf: Subflow, hdr: TcpHeader, fromClient: boolean, ts: number): void {
    for (const key of hdr.mptcp?.keys ?? []) this.addToken(c, mptcpToken(key));
    if (sf.closed) return;
    if (hdr.flags & TH.FIN) sf.fin |= fromClient ? 1 : 2;
    if (hdr.flags & TH.RST) sf.rst = fromClient ? 'client' : 'server';
    if (sf.fin !== 3 && !sf.rst) return;
    sf.closed = true;
    const trigger = sf.rst ? 'reset' : 'clean';
    if (c.mptcp) this.emit(c, ts, EV.subflowClosed, { subflow_id: sf.id, trigger, ...(sf.rst ? { by: sf.rst } : {}) });
    if (c.subflows.every((s) => s.closed)) {
      c.closedNs = ts;
      c.closeTrigger = trigger;
      this.emit(c, ts, EV.connectionClosed, { trigger, ...(sf.rst ? { by: sf.rst } : {}) });
    }
  }

  /** A socket record (metrics, established, closed) of a traced socket. */
  socket(r: QlogSockRecord): void {
    const local = endpoint(addressToString(r.key.saddr), r.key.sport);
    const hit = this.byTuple.get(tupleKey(local, endpoint(addressToString(r.key.daddr), r.key.dport)));
    if (!hit) {
      this.stats.unmatchedSocketRecords++;
      return;
    }
    const [c, sf] = hit;
    const side = local.text === sf.client.text ? 'client' : 'server';
    if (r.mptcpToken && r.flags & SockFlag.mptcp) this.addToken(c, r.mptcpToken);
    if (r.type === QlogRecType.state) {
      c.kernelCut.metrics += r.cut;
      c.kernelLost.metrics += r.lost;
      this.emit(c, r.tsNs, EV.stateUpdated, stateData(r, sf, side, SockFlag.mptcp, SockFlag.mptcpJoin));
    } else {
      this.emit(c, r.tsNs, EV.metricsUpdated, metricsData(r, sf, side));
    }
  }

  /** Writes the end of a connection's file, lets go of its kernel entries and indexes. */
  private finish(c: Conn, trigger: string | null): void {
    if (trigger) this.emit(c, c.lastNs, EV.connectionClosed, { trigger });
    for (const [fk, key] of c.flowKeys) {
      const f = this.kernel.release(key);
      c.kernelCut.packets += f?.cut ?? 0;
      c.kernelLost.packets += f?.lost ?? 0;
      this.byFlow.delete(fk);
      this.gone.set(fk, this.nowNs() + GONE_NS);
    }
    const t = truncatedData(c, this.q.maxEventsPerConnection, trigger ?? c.closeTrigger ?? null);
    if (t) c.file.write({ time: relMs(c, c.lastWrittenNs), name: EV.truncated, group_id: c.id, data: t }, true);
    for (const sf of c.subflows) this.byTuple.delete(tupleKey(sf.client, sf.server));
    for (const t of c.tokens) this.byToken.delete(t);
    this.names.delete(c.id);
    this.conns.delete(c);
    this.stats.open = this.conns.size;
    const p = c.file.close();
    this.closing.add(p);
    void p.then(() => this.closing.delete(p));
  }
}
