/**
 * qlog tracing: one JSON-SEQ qlog file per traced connection. The kernel
 * picks the connections (the filter, at a flow's first packet and a
 * socket's establishment) and sends their packets (TCP header as on the
 * wire) and socket metrics into one ring buffer; this drains it on a timer
 * (and when a quarter full), sorts each batch by time and hands it to the
 * connections (qlog-conns.ts), keeps the filter's pod IPs current, and lets
 * go of kernel entries of connections that have no file. Nothing blocks.
 */
import { mkdirSync } from 'node:fs';
import type { Config } from '../config.js';
import { decodeQlogRecord, QlogFlow, QlogRecType, QlogSock, readQlogFlow, readSockKey, type QlogPacketRecord, type QlogSockRecord } from '../bpf/layout.js';
import type { BpfMap } from '../bpf/map.js';
import { RingBuffer } from '../bpf/ringbuf.js';
import { addressToString } from '../flows/address.js';
import type { PodIndex } from '../k8s/pods.js';
import type { Logger } from '../log.js';
import { monoNs, type WallClock } from '../time.js';
import type { PacketProbe } from '../probes/packets.js';
import type { SocketProbe } from '../probes/sockets.js';
import { QlogFilter } from '../probes/qlog.js';
import { QlogConnections, type QlogStats } from './qlog-conns.js';
import { endpoint } from './qlog-events.js';

const TICK_MS = 100;
/** How often sockets traced for connections without a file are let go (ticks). */
const SOCK_SWEEP_TICKS = 10;

export interface QlogMaps {
  /** qlog_events (shared by both objects) and traced of the packet probe */
  ring: BpfMap;
  traced: BpfMap;
  /** qlog_socks of the socket probe, or null */
  socks: BpfMap | null;
}

export class QlogTracer {
  private readonly conns: QlogConnections;
  private readonly ring: RingBuffer;
  private readonly timer: NodeJS.Timeout;
  private batch: (QlogPacketRecord | QlogSockRecord)[] = [];
  private scheduled = false;
  private ticks = 0;
  private stopped = false;
  /** qlog_socks keys (hex) without a traced connection at the last sweep */
  private strangers = new Set<string>();

  constructor(
    q: Config['qlog'] & { dir: string },
    idleNs: number,
    private readonly maps: QlogMaps,
    private readonly filter: QlogFilter,
    private readonly log: Logger,
    toWallMs: WallClock,
  ) {
    mkdirSync(q.dir, { recursive: true });
    const flowValue = Buffer.alloc(QlogFlow.size);
    const kernel = {
      release: (key: Buffer) => {
        if (!maps.traced.lookup(key, flowValue)) return null;
        maps.traced.delete(key);
        return readQlogFlow(flowValue);
      },
    };
    this.conns = new QlogConnections(q, idleNs, kernel, log, toWallMs, monoNs);
    this.ring = new RingBuffer(maps.ring, (data) => {
      const r = decodeQlogRecord(data);
      if (r) this.batch.push(r);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.tick());
      }
    });
    this.ring.start((err) => log.warn('qlog ring buffer', { error: err }));
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** The tracer on the agent's probes; socket records when the socket probe loaded. */
  static fromProbes(config: Pick<Config, 'qlog' | 'flowIdleTimeoutMs'>, packets: PacketProbe, sockets: SocketProbe | null, pods: PodIndex | null, log: Logger, toWallMs: WallClock): QlogTracer {
    const q = config.qlog;
    if (!q.dir) throw new Error('qlog: no directory');
    const filterMaps = [{ addrs: packets.obj.map('qlog_addrs'), ports: packets.obj.map('qlog_ports') }];
    const [sa, sp] = [sockets?.map('qlog_addrs'), sockets?.map('qlog_ports')];
    if (sa && sp) filterMaps.push({ addrs: sa, ports: sp });
    if (q.pods.length && !pods) log.warn('qlog.pods needs Kubernetes (--kubernetes): the pods filter matches nothing');
    const filter = new QlogFilter(filterMaps, q, pods);
    log.info('qlog tracing', { dir: q.dir, addresses: q.addresses, ports: q.ports, pods: q.pods, sockets: filterMaps.length > 1 });
    const maps = { ring: packets.obj.map('qlog_events'), traced: packets.obj.map('traced'), socks: sockets?.map('qlog_socks') ?? null };
    return new QlogTracer({ ...q, dir: q.dir }, config.flowIdleTimeoutMs * 1e6, maps, filter, log, toWallMs);
  }

  get stats(): QlogStats {
    return this.conns.stats;
  }

  /** Drains the ring, writes what came, in time order; finishes closed and idle connections. */
  tick(): void {
    this.scheduled = false;
    if (this.stopped) return;
    try {
      this.drain();
      this.conns.sweep();
      this.filter.sync();
      if (++this.ticks % SOCK_SWEEP_TICKS === 0) this.releaseSockets();
    } catch (err) {
      this.log.warn('qlog', { error: err });
    }
  }

  private drain(): void {
    this.ring.consume();
    const batch = this.batch;
    this.batch = [];
    // producers on several CPUs: a batch is in reservation order, nearly time order
    batch.sort((a, b) => a.tsNs - b.tsNs);
    for (const r of batch) {
      if (r.type === QlogRecType.packet) this.conns.packet(r);
      else this.conns.socket(r);
    }
    this.conns.flush();
  }

  /**
   * The kernel traces every socket the filter matches; those of connections
   * without a file (maxConnections, or not seen at an attached interface)
   * are let go, so that they do not fill qlog_socks. Called after a drain,
   * and only for sockets found without a connection twice in a row: a
   * socket established just now may have its handshake still in the ring.
   */
  private releaseSockets(): void {
    const m = this.maps.socks;
    if (!m) return;
    const seen = new Set<string>();
    const drop: Buffer[] = [];
    const keyOff = QlogSock.offset('key');
    m.forEachBatch(({ count, keys, values }) => {
      for (let i = 0; i < count; i++) {
        const k = readSockKey(values, i * m.valueSize + keyOff);
        if (this.conns.hasTuple(endpoint(addressToString(k.saddr), k.sport), endpoint(addressToString(k.daddr), k.dport))) continue;
        const key = Buffer.from(keys.subarray(i * m.keySize, (i + 1) * m.keySize));
        const hex = key.toString('hex');
        seen.add(hex);
        if (this.strangers.has(hex)) drop.push(key);
      }
    });
    for (const k of drop) m.delete(k);
    this.strangers = seen;
    this.stats.socketsReleased += drop.length;
  }

  /** Drains the ring once more, ends every file (flushed and closed). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    clearInterval(this.timer);
    try {
      this.drain();
    } catch (err) {
      this.log.warn('qlog: last records', { error: err });
    }
    this.stopped = true;
    await this.conns.close();
    this.ring.close();
    this.log.info('qlog stopped', { ...this.stats });
  }
}
