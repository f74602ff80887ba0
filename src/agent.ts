/**
 * The agent: resolves interfaces, loads and attaches the packet probe,
 * reads the flow table once per interval into series, and serves them.
 * Every round catches, counts and logs its own errors; the loop never dies.
 */
import type { Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths.js';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { FlowEventType, type FlowEventValue } from './bpf/layout.js';
import { PacketProbe } from './probes/packets.js';
import { ETHERNET_TYPES, isGlob, listInterfaces, matchInterfaces, type NetInterface } from './net/interfaces.js';
import { Rollup } from './flows/rollup.js';
import { FlowTable } from './flows/table.js';
import { addressToString } from './flows/address.js';
import { PrometheusExporter } from './export/prometheus.js';
import { startServer } from './export/server.js';
import type { Snapshot } from './snapshot.js';
import type { Logger } from './log.js';

export const version: string = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).version;

const monoNs = () => Number(process.hrtime.bigint());

/**
 * Interfaces to attach to. A name without glob characters must exist and
 * carry Ethernet frames; a glob that matches nothing is only a warning.
 */
export function resolveInterfaces(patterns: string[], log: Logger, all = listInterfaces()): NetInterface[] {
  for (const p of patterns) {
    if (isGlob(p)) {
      if (matchInterfaces([p], all).length === 0) log.warn('no interface matches', { pattern: p });
      continue;
    }
    const i = all.find((x) => x.name === p);
    if (!i) throw new ConfigError(`--interface ${p}: no such interface`);
    if (!ETHERNET_TYPES.has(i.type)) throw new ConfigError(`--interface ${p}: link type ${i.type} has no Ethernet header, which the packet path needs`);
  }
  return matchInterfaces(patterns, all).filter((i) => {
    if (ETHERNET_TYPES.has(i.type)) return true;
    log.warn('skipping interface without Ethernet header', { interface: i.name, type: i.type });
    return false;
  });
}

const eventNames: Record<number, string> = {
  [FlowEventType.opened]: 'opened',
  [FlowEventType.closedFin]: 'closed_fin',
  [FlowEventType.closedRst]: 'closed_rst',
};

export class Agent {
  private timer: NodeJS.Timeout | null = null;
  private server: Server | null = null;
  private rounds = 0;
  private evictedTotal = 0;
  private evictedLogged = 0;
  private roundErrors = 0;
  private readonly flowEvents: Record<string, number> = { opened: 0, closed_fin: 0, closed_rst: 0 };
  readonly prom: PrometheusExporter;
  private readonly rollup: Rollup;
  private readonly table: FlowTable;

  private constructor(
    readonly config: Config,
    private readonly log: Logger,
    private readonly probe: PacketProbe,
  ) {
    this.rollup = new Rollup(config.maxSeries);
    this.table = new FlowTable(probe.flows, this.rollup, {
      idleNs: config.flowIdleTimeoutMs * 1e6,
      closedNs: config.flowClosedTimeoutMs * 1e6,
      minRttWindowNs: config.rtt.minRttWindowMs * 1e6,
    });
    this.prom = new PrometheusExporter({ localRtt: config.rtt.localSide, buckets: config.rtt.buckets, version });
  }

  static async start(config: Config, log: Logger): Promise<Agent> {
    const ifaces = resolveInterfaces(config.interfaces, log);
    const probe = new PacketProbe(config, log);
    const agent = new Agent(config, log, probe);
    try {
      for (const i of ifaces) {
        try {
          probe.attach(i);
        } catch (err) {
          log.error('attach failed', { interface: i.name, error: err });
        }
      }
      if (probe.attached().length === 0 && ifaces.length > 0) throw new Error('could not attach to any interface');
      log.info('flow table', {
        entries: config.flowTableSize,
        bytes: probe.flowTableBytes(),
        mib: +(probe.flowTableBytes() / 2 ** 20).toFixed(1),
      });
      probe.onEvents((ev) => agent.onEvent(ev), (err) => log.warn('ring buffer', { error: err }));
      agent.round();
      agent.server = await startServer(config.listen.host, config.listen.port, agent.prom, agent, log);
      log.info('serving', { listen: `${config.listen.host}:${config.listen.port}` });
    } catch (err) {
      await agent.stop();
      throw err;
    }
    agent.timer = setInterval(() => agent.round(), config.intervalMs);
    return agent;
  }

  private onEvent(ev: FlowEventValue): void {
    const name = eventNames[ev.type] ?? 'unknown';
    this.flowEvents[name] = (this.flowEvents[name] ?? 0) + 1;
    this.log.debug('flow event', {
      event: name,
      local: `${addressToString(ev.key.saddr)}:${ev.key.sport}`,
      peer: `${addressToString(ev.key.daddr)}:${ev.key.dport}`,
      ifindex: ev.key.ifindex,
    });
  }

  ready(): { ok: boolean; reason?: string } {
    if (this.probe.attached().length === 0) return { ok: false, reason: 'no interface attached' };
    if (this.rounds === 0) return { ok: false, reason: 'no round done yet' };
    return { ok: true };
  }

  /** One round: events, flow table, series, snapshot. Never throws. */
  round(): void {
    try {
      this.probe.drainEvents();
      // kernel counters before the table: every flow created by then is
      // in the table, deleted by us, or evicted
      const kernel = this.probe.readStats();
      const now = monoNs();
      const r = this.table.round(now);
      this.evictedTotal = Math.max(this.evictedTotal, kernel.flow_created - this.table.deletedTotal - r.flows);
      this.rollup.expire(now, this.config.seriesIdleTimeoutMs * 1e6);
      const attached = this.probe.attached();
      const snap: Snapshot = {
        timeNs: now,
        series: this.rollup.all().map((s) => ({ labels: s.labels, total: s.total(), minRttNs: [...s.minRttNs], flows: s.flows })),
        kernel,
        flowsInTable: r.flows,
        flowTableCapacity: this.probe.flows.maxEntries,
        flowTableBytes: this.probe.flowTableBytes(),
        evictedTotal: this.evictedTotal,
        overflowTotal: this.rollup.overflowedFlows,
        roundSeconds: r.durationMs / 1000,
        probes: {
          [`packet_ingress_${this.config.ingressHook}`]: attached.length > 0,
          packet_egress_tc: attached.length > 0,
          ...(this.probe.tcAttachMethod() ? { [this.probe.tcAttachMethod()!]: attached.length > 0 } : {}),
        },
        interfaces: attached.map((a) => ({ name: a.iface.name, links: a.links.map((l) => l.description) })),
        flowEvents: { ...this.flowEvents },
      };
      this.prom.update(snap);
      this.rounds++;
      if (this.evictedTotal > this.evictedLogged) {
        this.log.warn('flows evicted from a full flow table', { evicted: this.evictedTotal - this.evictedLogged, capacity: snap.flowTableCapacity });
        this.evictedLogged = this.evictedTotal;
      }
      this.log.debug('round', { flows: r.flows, deleted: r.deleted, evicted: r.evicted, series: snap.series.length, ms: +r.durationMs.toFixed(2) });
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
    this.probe.close();
  }
}
