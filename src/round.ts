/**
 * One round of the agent: the ring buffers, socket events (settled), the
 * kernel tables and MPTCP connections, folded into series; it returns the
 * part of the snapshot they make. Each source is timed and its failure
 * counted apart while the others run on, the way node_exporter reports its
 * collectors.
 */
import { CloseReason, FlowEventType, SockEventType, SockFlag, type FlowEventValue, type SockEventRecord } from './bpf/layout.js';
import { nameOf } from './bpf/codec.js';
import type { PacketProbe } from './probes/packets.js';
import type { MptcpConnection, SocketProbe } from './probes/sockets.js';
import { Rollup } from './flows/rollup.js';
import type { BucketShape } from './flows/counters.js';
import { MapMirror, type RoundStats } from './flows/mirror.js';
import { flowKind } from './flows/flowtable.js';
import { SockKind } from './flows/socktable.js';
import { CLOSE_REASONS, type CloseReasonName, type Labels } from './flows/series.js';
import { SockEventSettler } from './flows/settle.js';
import { addressToString } from './flows/address.js';
import type { Labeler } from './flows/labels.js';
import type { PodIndex } from './k8s/pods.js';
import type { Snapshot, SourceStatus, TableStatus } from './export/snapshot.js';
import type { Logger } from './log.js';
import { monoNs } from './time.js';

/** What of the configuration a round uses. */
export interface RoundConfig {
  maxSeries: number;
  flowIdleTimeoutMs: number;
  flowClosedTimeoutMs: number;
  seriesIdleTimeoutMs: number;
  intervalMs: number;
  minRttWindowMs: number;
  deletedPodGraceMs: number;
  /** which histograms keep buckets (flows/counters.ts, bucketShape) */
  buckets: BucketShape;
}

export type RoundSnapshot = Pick<Snapshot, 'timeNs' | 'series' | 'kernel' | 'sockKernel' | 'tables' | 'overflowTotal' | 'roundSeconds' | 'sources' | 'flowEvents'>;

const flowEventNames: Record<number, string> = {
  [FlowEventType.opened]: 'opened',
  [FlowEventType.closedFin]: 'closed_fin',
  [FlowEventType.closedRst]: 'closed_rst',
};

export class Round {
  readonly rollup: Rollup;
  /** a socket event was counted into its series: the connection log and spans take it from here */
  onSocketEvent: (ev: SockEventRecord, labels: Labels) => void = () => {};
  private readonly flows: MapMirror;
  private readonly flowKind: ReturnType<typeof flowKind>;
  private readonly sockKind: SockKind;
  private readonly socks: MapMirror | null;
  private readonly settler = new SockEventSettler();
  private readonly flowEvents: Record<string, number> = { opened: 0, closed_fin: 0, closed_rst: 0 };
  private mptcp: MptcpConnection[] = [];
  private untrackedLogged = 0;
  private lateResets = 0;
  private tables: TableStatus[] = [];

  constructor(
    private readonly config: RoundConfig,
    private readonly packets: PacketProbe,
    private readonly sockets: SocketProbe | null,
    private readonly labeler: Labeler,
    private readonly pods: PodIndex | null,
    private readonly log: Logger,
  ) {
    this.rollup = new Rollup(config.maxSeries, labeler.labelNames, config.buckets);
    const timeouts = { idleNs: config.flowIdleTimeoutMs * 1e6, closedNs: config.flowClosedTimeoutMs * 1e6 };
    const generation = () => labeler.generation;
    this.flowKind = flowKind(this.rollup, labeler, config.minRttWindowMs * 1e6);
    this.flows = new MapMirror(packets.flows, this.flowKind, timeouts, generation);
    this.sockKind = new SockKind(this.rollup, labeler, {
      firstKey: (token, netns) => this.mptcp.find((c) => c.token === token && c.netns === netns)?.first,
    });
    this.socks = sockets?.socks ? (new MapMirror(sockets.socks, this.sockKind, timeouts, generation)) : null;
  }

  onFlowEvent(ev: FlowEventValue): void {
    const name = flowEventNames[ev.type] ?? 'unknown';
    this.flowEvents[name] = (this.flowEvents[name] ?? 0) + 1;
    this.log.debug('flow event', {
      event: name,
      local: `${addressToString(ev.key.saddr)}:${ev.key.sport}`,
      peer: `${addressToString(ev.key.daddr)}:${ev.key.dport}`,
      ifindex: ev.key.ifindex,
    });
  }

  /** Socket events wait until a round handles them (settle.ts). */
  queueSockEvent(ev: SockEventRecord): void {
    this.settler.push(ev);
  }

  /** The events still waiting, handled at once (the agent stopping). */
  flushSockEvents(nowNs: number): void {
    this.sockets?.drainEvents(); // the last completion records
    for (const ev of this.settler.take(nowNs, true)) this.handleSockEvent(ev, nowNs);
  }

  /** One round; the table reads give the event loop turns, and the next round must wait for this one. */
  async run(now: number): Promise<RoundSnapshot> {
    const sources: SourceStatus[] = [];
    const source = async <T>(name: string, read: () => T | Promise<T>, failed: T): Promise<T> => {
      const t0 = monoNs();
      let ok = true;
      let out = failed;
      try {
        out = await read();
      } catch (err) {
        ok = false;
        this.log.error('round source failed', { source: name, error: err });
      }
      sources.push({ source: name, seconds: (monoNs() - t0) / 1e9, ok });
      return out;
    };
    await source('events', () => {
      this.packets.drainEvents();
      this.sockets?.drainEvents();
    }, undefined);
    // kernel counters before the tables: every entry created by then is
    // in its table or deleted by us
    const kernel = this.packets.readStats();
    const sockStats = this.sockets?.readStats() ?? null;
    await source('socket_events', () => {
      for (const ev of this.settler.take(now)) this.handleSockEvent(ev, now);
    }, undefined);
    for (const s of this.rollup.all()) s.beginRound();
    this.mptcp = this.sockets ? await source('mptcp', () => this.sockets!.readMptcp(), this.mptcp) : [];
    this.flowKind.setNow(now);
    const r = await source<RoundStats | null>('flows', () => this.flows.round(now), null);
    const rs = this.socks ? await source<RoundStats | null>('sockets', () => this.socks!.round(now), null) : null;
    for (const c of this.mptcp) {
      const s = this.sockKind.seriesOf(c.first, SockFlag.mptcp, c.token, now);
      s.mptcpConnections++;
      s.mptcpSubflowsOpen += c.open;
      s.hasSockets = true;
    }
    this.tableStatus(r, rs, kernel, sockStats);
    this.sockKind.purge(now, this.config.flowClosedTimeoutMs * 1e6 + 2 * this.config.intervalMs * 1e6);
    if (this.pods) {
      // pods deleted past their grace: their series go
      for (const pod of this.pods.expire(this.config.deletedPodGraceMs)) {
        const n = this.rollup.remove((s) => this.labeler.namesPod(s.labels, pod));
        if (n) this.log.debug('series of a deleted pod removed', { namespace: pod.namespace, pod: pod.name, series: n });
      }
    }
    this.rollup.expire(now, this.config.seriesIdleTimeoutMs * 1e6);
    this.logNews();
    return {
      timeNs: now,
      series: this.rollup.all().map((s) => s.view()),
      kernel,
      sockKernel: sockStats,
      tables: this.tables,
      overflowTotal: this.rollup.overflowedFlows,
      roundSeconds: ((r?.durationMs ?? 0) + (rs?.durationMs ?? 0)) / 1000,
      sources,
      flowEvents: { ...this.flowEvents },
    };
  }

  /** Entries, capacity and what a full table refused; a table whose read failed keeps its last status. */
  private tableStatus(r: RoundStats | null, rs: RoundStats | null, kernel: RoundSnapshot['kernel'], sock: RoundSnapshot['sockKernel']): void {
    const prev = (table: TableStatus['table']) => this.tables.find((t) => t.table === table);
    const tables: TableStatus[] = [];
    const flows = this.packets.flows;
    if (r) {
      tables.push({ table: 'flows', entries: r.entries, capacity: flows.maxEntries, bytes: this.packets.flowTableBytes(), created: kernel.flowCreated, deleted: this.flows.deletedTotal, untracked: kernel.flowCreateError });
    } else if (prev('flows')) tables.push(prev('flows')!);
    const socks = this.sockets?.socks;
    if (socks && this.socks && sock) {
      if (rs) {
        tables.push({ table: 'sockets', entries: rs.entries, capacity: socks.maxEntries, bytes: this.sockets!.tableBytes(), created: sock.created, deleted: this.socks.deletedTotal, untracked: sock.createError });
      } else if (prev('sockets')) tables.push(prev('sockets')!);
    }
    this.tables = tables;
  }

  private logNews(): void {
    const untracked = this.tables.reduce((n, t) => n + t.untracked, 0);
    if (untracked > this.untrackedLogged) {
      this.log.warn('new entries not tracked: a kernel table is full', { untracked: untracked - this.untrackedLogged });
      this.untrackedLogged = untracked;
    }
    if (this.settler.lateResets > this.lateResets) {
      this.log.debug('resets after a close record already handled', { resets: this.settler.lateResets - this.lateResets });
      this.lateResets = this.settler.lateResets;
    }
  }

  private handleSockEvent(ev: SockEventRecord, now: number): void {
    const s = this.sockKind.seriesOf(ev.key, ev.s.flags, ev.s.mptcpToken, now);
    s.lastActiveNs = now;
    s.hasSockets = true;
    const subflow = (ev.s.flags & SockFlag.mptcp) !== 0;
    this.log.debug('socket event', {
      event: ev.type,
      local: `${addressToString(ev.key.saddr)}:${ev.key.sport}`,
      peer: `${addressToString(ev.key.daddr)}:${ev.key.dport}`,
      flags: ev.s.flags,
      token: ev.s.mptcpToken,
    });
    if (ev.type === SockEventType.opened) {
      s.opened++;
      if (subflow) s.subflowEvents.established++;
    } else if (ev.type === SockEventType.closed) {
      const reason = nameOf(CloseReason, ev.s.closeReason) as string;
      if (CLOSE_REASONS.includes(reason as CloseReasonName)) s.closed[reason as CloseReasonName]++;
      if (subflow) s.subflowEvents.closed++;
      if (ev.entry) this.socks?.finish(ev.entry.id, ev.entry.value, now);
    } else if (ev.type === SockEventType.mptcpClosed) {
      s.mptcpSubflows.set(ev.subflows, (s.mptcpSubflows.get(ev.subflows) ?? 0) + 1);
      s.mptcpSubflowsSum += ev.subflows;
      this.sockKind.connectionClosed(ev.s.mptcpToken, ev.key.netns, now);
    }
    this.onSocketEvent(ev, s.labels);
  }
}
