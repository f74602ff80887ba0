/**
 * The agent: wiring and lifecycle. It resolves interfaces, loads and
 * attaches the packet and socket probes, runs a round (round.ts) once per
 * interval and hands its snapshot to the exporters, feeds socket events to
 * the connection log and spans, and serves the result. Every round catches,
 * counts and logs its own errors; the loop never dies.
 */
import type { Server } from 'node:http';
import { release } from 'node:os';
import { version } from './paths.js';
import type { Config } from './config.js';
import { SockEventType } from './bpf/layout.js';
import { PacketProbe } from './probes/packets.js';
import { chooseObjects, requireKernelBtf, type ObjectBuild } from './probes/objects.js';
import { SocketProbe } from './probes/sockets.js';
import { isGlob } from './net/interfaces.js';
import { LinkWatch } from './net/linkwatch.js';
import { InterfaceWatcher, resolveInterfaces } from './probes/watcher.js';
import { PrometheusExporter } from './export/prometheus.js';
import type { Enricher } from './k8s/enricher.js';
import { Labeler } from './flows/labels.js';
import { bucketShape } from './flows/counters.js';
import { enableRunTimeStats, programStats } from './bpf/progstats.js';
import { ConnectionLog } from './export/connlog.js';
import { monoNs, toWallMs } from './time.js';
import type { OtlpExporter } from './export/otlp/exporter.js';
import { otlpEndpoint } from './export/otlp/endpoint.js';
import type { QlogTracer } from './export/qlog.js';
import { startServer } from './export/server.js';
import type { ProbeStatus, Snapshot } from './export/snapshot.js';
import type { Logger } from './log.js';
import { Round } from './round.js';

/** How often interfaces are looked for (globs pick up new pod veths, gone ones are let go). */
/** Interfaces are looked at again when rtnetlink says links changed, and every so often anyway (a message lost to an overrun); every second without rtnetlink. */
const INTERFACE_SCAN_MS = 1000;
const INTERFACE_RESCAN_MS = 30_000;

export class Agent {
  private timer: NodeJS.Timeout | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  private links: LinkWatch | null = null;
  private server: Server | null = null;
  private rounds = 0;
  private roundErrors = 0;
  /** the round running now: the next tick skips while it runs, stop() waits for it */
  private running: Promise<void> | null = null;
  readonly prom: PrometheusExporter;
  private readonly round: Round;
  private readonly interfaces: InterfaceWatcher;
  private bpfStats: { close(): void } | null = null;
  private otlp: OtlpExporter | null = null;
  private connLog: ConnectionLog | null = null;
  /** qlog: one file per traced connection (src/export/qlog.ts) */
  private qlog: QlogTracer | null = null;

  private constructor(
    readonly config: Config,
    private readonly log: Logger,
    private readonly packets: PacketProbe,
    private readonly sockets: SocketProbe | null,
    private readonly enricher: Enricher | null,
    private readonly build: ObjectBuild,
  ) {
    const k = config.kubernetes;
    const labeler = new Labeler(
      enricher ? { index: enricher.index, level: k.rollup, nodeName: k.nodeName, prefixV4: k.peerPrefixV4, prefixV6: k.peerPrefixV6 } : null,
    );
    this.round = new Round(
      {
        maxSeries: config.maxSeries,
        flowIdleTimeoutMs: config.flowIdleTimeoutMs,
        flowClosedTimeoutMs: config.flowClosedTimeoutMs,
        seriesIdleTimeoutMs: config.seriesIdleTimeoutMs,
        intervalMs: config.intervalMs,
        minRttWindowMs: config.rtt.minRttWindowMs,
        deletedPodGraceMs: k.deletedPodGraceMs,
        buckets: bucketShape({ localRtt: config.rtt.localSide, histograms: config.histograms }),
      },
      packets,
      sockets,
      labeler,
      enricher?.index ?? null,
      log,
    );
    this.round.onSocketEvent = (ev, labels) => {
      if (this.connLog && ev.type !== SockEventType.opened) this.connLog.write(ev, toWallMs);
      this.otlp?.socketEvent(ev, labels, toWallMs);
    };
    this.interfaces = new InterfaceWatcher(config.interfaces, packets, log);
    this.prom = new PrometheusExporter({ localRtt: config.rtt.localSide, histograms: config.histograms });
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
      packets.onEvents((ev) => a.round.onFlowEvent(ev), (err) => log.warn('ring buffer', { error: err }));
      sockets?.onEvents((ev) => a.round.queueSockEvent(ev), (err) => log.warn('ring buffer', { error: err }));
      await agent.tick();
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
    agent.timer = setInterval(() => void agent.tick(), config.intervalMs);
    agent.links = LinkWatch.open(() => agent.scanInterfaces());
    agent.scanTimer = setInterval(() => agent.scanInterfaces(), agent.links ? INTERFACE_RESCAN_MS : INTERFACE_SCAN_MS);
    return agent;
  }

  private scanInterfaces(): void {
    try {
      this.interfaces.scan();
    } catch (err) {
      this.log.error('interface scan failed', { error: err });
    }
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

  /** A round, unless the last one still runs (a tick is skipped then). Never rejects. */
  private tick(): Promise<void> {
    if (this.running) {
      this.log.debug('round skipped: the last one still runs');
      return this.running;
    }
    this.running = this.roundOnce().finally(() => (this.running = null));
    return this.running;
  }

  /** One round, and the snapshot of it with the agent's own state. Never throws. */
  private async roundOnce(): Promise<void> {
    try {
      const r = await this.round.run(monoNs());
      const snap: Snapshot = {
        ...r,
        roundErrors: this.roundErrors,
        probes: this.probeStatus(),
        interfaces: this.packets.attached().map((a) => ({ name: a.iface.name, links: a.links.map((l) => l.description) })),
        connectionLogRecords: this.connLog?.written ?? 0,
        interfaceEvents: { ...this.interfaces.events },
        otlp: this.otlp?.stats ?? null,
        qlog: this.qlog?.stats ?? null,
        programs: this.bpfStats ? [...this.packets.programs(), ...(this.sockets?.programs() ?? [])].map((p) => ({ ...programStats(p.fd), name: p.name })) : [],
        kubernetes: this.enricher ? { pods: this.enricher.index.size, watches: this.enricher.stats() } : null,
        build: { version, kernel: release(), bpfObjects: this.build },
      };
      this.prom.update(snap);
      this.otlp?.update(snap);
      this.rounds++;
      this.log.debug('round', { flows: r.tables[0]?.entries ?? 0, sockets: r.tables[1]?.entries ?? 0, series: snap.series.length, ms: +(snap.roundSeconds * 1000).toFixed(2) });
    } catch (err) {
      this.roundErrors++;
      this.log.error('round failed', { error: err, errors: this.roundErrors });
    }
  }

  /** Detaches everything and closes the server; safe to call twice. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.timer = this.scanTimer = null;
    this.links?.close();
    this.links = null;
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.prom.close();
    await this.running; // the maps stay until the round reading them ends
    try {
      this.round.flushSockEvents(monoNs());
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

