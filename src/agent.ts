/**
 * The agent: resolves interfaces, loads and attaches the packet and socket
 * probes, reads their tables once per interval into series, turns socket
 * events into counters and connection records, and serves the result.
 * Every round catches, counts and logs its own errors; the loop never dies.
 */
import type { Server } from 'node:http';
import { release } from 'node:os';
import { version } from './paths.js';
import type { Config } from './config.js';
import { CloseReason, FlowEventType, SockEventType, SockFlag, type FlowEventValue, type SockEventValue } from './bpf/layout.js';
import { PacketProbe } from './probes/packets.js';
import { chooseObjects, requireKernelBtf, type ObjectBuild } from './probes/objects.js';
import { SocketProbe, type MptcpConnValue } from './probes/sockets.js';
import { isGlob } from './net/interfaces.js';
import { InterfaceWatcher, resolveInterfaces } from './net/watcher.js';
import { Rollup } from './flows/rollup.js';
import { MapMirror } from './flows/mirror.js';
import { flowKind } from './flows/flowtable.js';
import { SockKind } from './flows/socktable.js';
import { CLOSE_REASONS, type CloseReasonName } from './flows/series.js';
import { addressToString } from './flows/address.js';
import { PrometheusExporter } from './export/prometheus.js';
import type { Enricher } from './k8s/enricher.js';
import { Labeler } from './k8s/labels.js';
import { enableRunTimeStats, programStats } from './bpf/progstats.js';
import { ConnectionLog, monoToWallMs } from './export/connlog.js';
import type { OtlpExporter } from './export/otlp/exporter.js';
import { otlpEndpoint } from './export/otlp/endpoint.js';
import type { QlogTracer } from './export/qlog.js';
import { startServer } from './export/server.js';
import type { ProbeStatus, Snapshot } from './snapshot.js';
import type { Logger } from './log.js';

const monoNs = () => Number(process.hrtime.bigint());
/** The kernel's CLOCK_MONOTONIC ns as wall-clock ms. */
const toWallMs = (mono: number) => monoToWallMs(mono, monoNs(), Date.now());

const flowEventNames: Record<number, string> = {
  [FlowEventType.opened]: 'opened',
  [FlowEventType.closedFin]: 'closed_fin',
  [FlowEventType.closedRst]: 'closed_rst',
};

/** How often interfaces are looked for (globs pick up new pod veths). */
const INTERFACE_SCAN_MS = 1000;

/** How long a close record waits for a RST that corrects it (the kernel sends it microseconds later). */
const CLOSE_SETTLE_NS = 20e6;

function sameKey(a: SockEventValue, b: SockEventValue): boolean {
  return a.key.sport === b.key.sport && a.key.dport === b.key.dport && a.key.netns === b.key.netns && a.key.daddr.equals(b.key.daddr);
}

/** Evictions: every entry created is in the table, was deleted by us, or was evicted. */
function evictions(prev: number, created: number, deleted: number, inTable: number): number {
  return Math.max(prev, created - deleted - inTable);
}

export class Agent {
  private timer: NodeJS.Timeout | null = null;
  private server: Server | null = null;
  private rounds = 0;
  private roundErrors = 0;
  private flowEvicted = 0;
  private sockEvicted = 0;
  private evictedLogged = 0;
  private readonly flowEvents: Record<string, number> = { opened: 0, closed_fin: 0, closed_rst: 0 };
  private mptcp: MptcpConnValue[] = [];
  private sockQueue: SockEventValue[] = [];
  readonly prom: PrometheusExporter;
  private readonly rollup: Rollup;
  private readonly labeler: Labeler;
  private readonly interfaces: InterfaceWatcher;
  private lastInterfaceScan = 0;
  private bpfStats: { close(): void } | null = null;
  private otlp: OtlpExporter | null = null;
  private readonly flows: MapMirror<unknown>;
  private readonly flowKind: ReturnType<typeof flowKind>;
  private readonly sockKind: SockKind;
  private readonly socks: MapMirror<unknown> | null;
  private connLog: ConnectionLog | null = null;
  /** qlog: one file per traced connection (src/export/qlog.ts) */
  private qlog: QlogTracer | null = null;

  private constructor(
    readonly config: Config,
    private readonly log: Logger,
    private readonly packets: PacketProbe,
    private readonly sockets: SocketProbe | null,
    private readonly enricher: Enricher | null,
    build: ObjectBuild,
  ) {
    const k = config.kubernetes;
    this.labeler = new Labeler(
      enricher ? { index: enricher.index, level: k.rollup, nodeName: k.nodeName, prefixV4: k.peerPrefixV4, prefixV6: k.peerPrefixV6 } : null,
    );
    this.rollup = new Rollup(config.maxSeries, this.labeler.labelNames);
    this.interfaces = new InterfaceWatcher(config.interfaces, packets, log);
    const timeouts = { idleNs: config.flowIdleTimeoutMs * 1e6, closedNs: config.flowClosedTimeoutMs * 1e6 };
    const generation = () => this.labeler.generation;
    this.flowKind = flowKind(this.rollup, this.labeler, config.rtt.minRttWindowMs * 1e6);
    this.flows = new MapMirror(packets.flows, this.flowKind, timeouts, generation) as MapMirror<unknown>;
    this.sockKind = new SockKind(this.rollup, this.labeler, {
      firstKey: (token, netns) => this.mptcp.find((c) => c.token === token && c.netns === netns)?.first,
    });
    this.socks = sockets?.socks ? (new MapMirror(sockets.socks, this.sockKind, timeouts, generation) as MapMirror<unknown>) : null;
    this.prom = new PrometheusExporter({ localRtt: config.rtt.localSide, buckets: config.rtt.buckets, version, kernel: release(), bpfObjects: build });
  }

  static async start(config: Config, log: Logger): Promise<Agent> {
    const ifaces = resolveInterfaces(config.interfaces, log);
    requireKernelBtf();
    const build = chooseObjects();
    if (build === 'compat') {
      log.info('BPF objects for kernels before 5.12 (no atomics that return a value): two CPUs updating one flow at once may lose a flag', { kernel: release() });
    }
    const packets = new PacketProbe(config, log, build);
    let sockets: SocketProbe | null = null;
    let enricher: Enricher | null = null;
    let agent: Agent | null = null;
    try {
      if (config.sockets.enabled) sockets = new SocketProbe(config, log, build, packets.qlogRing());
      // modules of optional features load only when the feature is on
      if (config.kubernetes.enabled) {
        const { Enricher } = await import('./k8s/enricher.js');
        enricher = new Enricher({ apiServer: config.kubernetes.apiServer, log: log.child({ component: 'kubernetes' }) });
        enricher.start();
      }
      agent = new Agent(config, log, packets, sockets, enricher, build);
      const otlpTarget = otlpEndpoint(config);
      if (otlpTarget) {
        const { OtlpExporter } = await import('./export/otlp/exporter.js');
        agent.otlp = new OtlpExporter(config, otlpTarget, version, log.child({ component: 'otlp' }), toWallMs);
      }
      if (config.bpfStats) {
        try {
          agent.bpfStats = enableRunTimeStats();
        } catch (err) {
          log.warn('BPF run-time statistics unavailable', { error: err });
        }
      }
      if (config.connectionLog.path) {
        agent.connLog = new ConnectionLog(config.connectionLog.path, config.connectionLog.groups, (err) =>
          log.error('connection log', { error: err }),
        );
      }
      // ---- qlog: its own ring and timer; nothing in the rounds ----
      if (config.qlog.dir) {
        const { QlogTracer } = await import('./export/qlog.js');
        agent.qlog = QlogTracer.fromProbes(config, packets, sockets, enricher?.index ?? null, log.child({ component: 'qlog' }), toWallMs);
      }
      // ---- end qlog ----
      for (const i of ifaces) agent.interfaces.attach(i);
      if (packets.attached().length === 0 && ifaces.length > 0) throw new Error('could not attach to any interface');
      log.info('kernel tables', {
        flows: config.flowTableSize,
        flowBytes: packets.flowTableBytes(),
        sockets: sockets?.enabled ? config.sockets.tableSize : 0,
        socketBytes: sockets?.tableBytes() ?? 0,
        mib: +((packets.flowTableBytes() + (sockets?.tableBytes() ?? 0)) / 2 ** 20).toFixed(1),
      });
      const a = agent;
      packets.onEvents((ev) => a.onFlowEvent(ev), (err) => log.warn('ring buffer', { error: err }));
      sockets?.onEvents((ev) => a.queueSockEvent(ev), (err) => log.warn('ring buffer', { error: err }));
      agent.round();
      agent.server = await startServer(config.listen.host, config.listen.port, agent.prom, agent, log);
      log.info('serving', { listen: `${config.listen.host}:${config.listen.port}` });
    } catch (err) {
      if (agent) await agent.stop();
      else {
        await enricher?.stop();
        sockets?.close();
        packets.close();
      }
      throw err;
    }
    agent.timer = setInterval(() => agent.round(), config.intervalMs);
    return agent;
  }

  private onFlowEvent(ev: FlowEventValue): void {
    const name = flowEventNames[ev.type] ?? 'unknown';
    this.flowEvents[name] = (this.flowEvents[name] ?? 0) + 1;
    this.log.debug('flow event', {
      event: name,
      local: `${addressToString(ev.key.saddr)}:${ev.key.sport}`,
      peer: `${addressToString(ev.key.daddr)}:${ev.key.dport}`,
      ifindex: ev.key.ifindex,
    });
  }

  /**
   * Socket events wait in a queue until a round handles them: a close
   * record is held for CLOSE_SETTLE_NS, in case the kernel sends the RST of
   * a linger-0 close right after it and a RESET event corrects its reason.
   */
  private queueSockEvent(ev: SockEventValue): void {
    this.sockQueue.push(ev);
  }

  private handleSockEvents(now: number, settleNs = CLOSE_SETTLE_NS): void {
    const resets = this.sockQueue.filter((e) => e.type === SockEventType.reset);
    let queue = this.sockQueue.filter((e) => e.type !== SockEventType.reset);
    for (const r of resets) {
      const closed = queue.find((e) => e.type === SockEventType.closed && e.s.startNs === r.s.startNs && sameKey(e, r));
      if (closed) closed.s.closeReason = r.s.closeReason;
      else this.log.debug('reset after a close record already handled', { port: r.key.sport, peer_port: r.key.dport });
    }
    const keep: SockEventValue[] = [];
    for (const ev of queue) {
      // close records wait (and what follows them, to keep the kernel's order)
      const closing = ev.type === SockEventType.closed || ev.type === SockEventType.mptcpClosed;
      if (keep.length > 0 || (closing && now - ev.s.endNs < settleNs)) keep.push(ev);
      else this.onSockEvent(ev, now);
    }
    queue = keep;
    this.sockQueue = queue;
  }

  private onSockEvent(ev: SockEventValue, now: number): void {
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
      const reason = CloseReason[ev.s.closeReason] as string;
      if (CLOSE_REASONS.includes(reason as CloseReasonName)) s.closed[reason as CloseReasonName]++;
      if (subflow) s.subflowEvents.closed++;
      if (ev.entry) this.socks?.finish(ev.entry.id, ev.entry.value, now);
    } else if (ev.type === SockEventType.mptcpClosed) {
      s.mptcpSubflows.set(ev.subflows, (s.mptcpSubflows.get(ev.subflows) ?? 0) + 1);
      s.mptcpSubflowsSum += ev.subflows;
      this.sockKind.connectionClosed(ev.s.mptcpToken, ev.key.netns, now);
    }
    if (this.connLog && ev.type !== SockEventType.opened) this.connLog.write(ev, toWallMs);
    this.otlp?.socketEvent(ev, s.labels, toWallMs);
  }

  ready(): { ok: boolean; reason?: string } {
    if (this.packets.attached().length === 0 && !this.config.interfaces.some(isGlob)) return { ok: false, reason: 'no interface attached' };
    if (this.rounds === 0) return { ok: false, reason: 'no round done yet' };
    return { ok: true };
  }

  private probeStatus(): ProbeStatus[] {
    const attached = this.packets.attached().length > 0;
    const tc = this.packets.tcAttachMethod() ?? 'none';
    const out: ProbeStatus[] = [
      { probe: 'packet_ingress', hook: this.config.ingressHook === 'xdp' ? 'xdp' : tc, available: attached },
      { probe: 'packet_egress', hook: tc, available: attached },
    ];
    for (const c of this.sockets?.choices ?? []) {
      out.push({ probe: c.signal, hook: c.chosen?.family ?? 'none', available: c.chosen !== null });
    }
    return out;
  }

  /** One round: events, tables, series, snapshot. Never throws. */
  round(): void {
    try {
      if (Date.now() - this.lastInterfaceScan >= INTERFACE_SCAN_MS) {
        this.lastInterfaceScan = Date.now();
        this.interfaces.scan();
      }
      this.packets.drainEvents();
      this.sockets?.drainEvents();
      // kernel counters before the tables: every entry created by then is
      // in its table, deleted by us, or evicted
      const kernel = this.packets.readStats();
      const sockStats = this.sockets?.readStats();
      const now = monoNs();
      this.handleSockEvents(now);
      for (const s of this.rollup.all()) s.beginRound();
      this.mptcp = this.sockets?.readMptcp() ?? [];
      this.flowKind.setNow(now);
      const r = this.flows.round(now);
      const rs = this.socks?.round(now);
      for (const c of this.mptcp) {
        const s = this.sockKind.seriesOf(c.first, SockFlag.mptcp, c.token, now);
        s.mptcpConnections++;
        s.mptcpSubflowsOpen += c.open;
        s.hasSockets = true;
      }
      this.flowEvicted = evictions(this.flowEvicted, kernel.flow_created, this.flows.deletedTotal, r.entries);
      if (rs && sockStats) this.sockEvicted = evictions(this.sockEvicted, sockStats.created, this.socks!.deletedTotal, rs.entries);
      this.sockKind.purge(now, this.config.flowClosedTimeoutMs * 1e6 + 2 * this.config.intervalMs * 1e6);
      if (this.enricher) {
        // pods deleted past their grace: their series go
        for (const pod of this.enricher.index.expire(this.config.kubernetes.deletedPodGraceMs)) {
          const n = this.rollup.remove((s) => this.labeler.namesPod(s.labels, pod));
          if (n) this.log.debug('series of a deleted pod removed', { namespace: pod.namespace, pod: pod.name, series: n });
        }
      }
      this.rollup.expire(now, this.config.seriesIdleTimeoutMs * 1e6);
      const attached = this.packets.attached();
      const snap: Snapshot = {
        timeNs: now,
        series: this.rollup.all().map((s) => ({
          labels: s.labels,
          total: s.total(),
          minRttNs: [...s.minRttNs],
          flows: s.flows,
          sockets: s.sockets,
          hasFlows: s.hasFlows,
          hasSockets: s.hasSockets,
          opened: s.opened,
          closed: { ...s.closed },
          subflowEvents: { ...s.subflowEvents },
          mptcpSubflows: new Map(s.mptcpSubflows),
          mptcpSubflowsSum: s.mptcpSubflowsSum,
          mptcpConnections: s.mptcpConnections,
          mptcpSubflowsOpen: s.mptcpSubflowsOpen,
        })),
        kernel,
        sockKernel: sockStats ?? null,
        tables: [
          { table: 'flows' as const, entries: r.entries, capacity: this.packets.flows.maxEntries, bytes: this.packets.flowTableBytes(), evicted: this.flowEvicted },
          ...(this.socks && this.sockets?.socks
            ? [{ table: 'sockets' as const, entries: rs!.entries, capacity: this.sockets.socks.maxEntries, bytes: this.sockets.tableBytes(), evicted: this.sockEvicted }]
            : []),
        ],
        overflowTotal: this.rollup.overflowedFlows,
        roundSeconds: (r.durationMs + (rs?.durationMs ?? 0)) / 1000,
        probes: this.probeStatus(),
        interfaces: attached.map((a) => ({ name: a.iface.name, links: a.links.map((l) => l.description) })),
        flowEvents: { ...this.flowEvents },
        connectionLogRecords: this.connLog?.written ?? 0,
        interfaceEvents: { ...this.interfaces.events },
        otlp: this.otlp?.stats ?? null,
        programs: this.bpfStats ? [...this.packets.programs(), ...(this.sockets?.programs() ?? [])].map((p) => ({ ...programStats(p.fd), name: p.name })) : [],
        kubernetes: this.enricher ? { pods: this.enricher.index.size, watches: this.enricher.stats() } : null,
      };
      this.prom.update(snap);
      this.otlp?.update(snap);
      this.rounds++;
      const evicted = this.flowEvicted + this.sockEvicted;
      if (evicted > this.evictedLogged) {
        this.log.warn('entries evicted from a full kernel table', { evicted: evicted - this.evictedLogged });
        this.evictedLogged = evicted;
      }
      this.log.debug('round', { flows: r.entries, sockets: rs?.entries ?? 0, series: snap.series.length, ms: +(snap.roundSeconds * 1000).toFixed(2) });
    } catch (err) {
      this.roundErrors++;
      this.log.error('round failed', { error: err, errors: this.roundErrors });
    }
  }

  /** Detaches everything and closes the server; safe to call twice. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    try {
      this.sockets?.drainEvents(); // the last completion records
      this.handleSockEvents(monoNs(), 0);
    } catch (err) {
      this.log.warn('last socket events', { error: err });
    }
    await this.qlog?.stop(); // qlog: last records, files flushed and closed (before the maps go)
    await this.enricher?.stop();
    await this.otlp?.shutdown();
    this.bpfStats?.close();
    this.sockets?.close();
    this.packets.close();
    await this.connLog?.close();
    this.connLog = null;
  }
}

