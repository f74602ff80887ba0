/**
 * The packet probe: loads bpf/packet.bpf.o with the configured settings,
 * attaches ingress (TC or XDP) and egress (TC) per interface, and gives the
 * agent its maps. It owns the object, the links and the ring buffer;
 * close() detaches everything it attached.
 */
import type { Config } from '../config.js';
import { BpfError } from '../errors.js';
import { readFlowEvent, STAT_NAMES, writeTcpulseCfg, type FlowEventValue, type PacketMap, type PacketProgram, type StatName } from '../bpf/layout.js';
import { libbpf } from '../bpf/libbpf.js';
import { BpfObject } from '../bpf/object.js';
import type { BpfMap } from '../bpf/map.js';
import { RingBuffer } from '../bpf/ringbuf.js';
import type { Link } from '../bpf/links/link.js';
import { attachXdp } from '../bpf/links/xdp.js';
import { attachTcx, type TcDirection } from '../bpf/links/tcx.js';
import { ClsactLink } from '../bpf/links/clsact.js';
import type { NetInterface } from '../net/interfaces.js';
import type { Logger } from '../log.js';
import { objectPath, type ObjectBuild } from './objects.js';
import { qlogFlags, sizeQlogMaps } from './qlog.js';

/** What of the configuration the packet probe uses. */
export type PacketConfig = Pick<Config, 'bpfDir' | 'flowTableSize' | 'ingressHook' | 'xdpMode' | 'tcAttach' | 'rtt' | 'qlog'>;

const EINVAL = 22;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;

export const PROGRAMS = { xdpIngress: 'tcpulse_xdp_in', tcIngress: 'tcpulse_tc_in', tcEgress: 'tcpulse_tc_eg' } as const;

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

export interface Attachment {
  iface: NetInterface;
  links: Link[];
}

export class PacketProbe {
  readonly obj: BpfObject<PacketMap, PacketProgram>;
  readonly flows: BpfMap;
  private readonly stats: BpfMap;
  private readonly ifMtu: BpfMap;
  private readonly nCpus = libbpf.num_possible_cpus();
  private readonly attachments = new Map<number, Attachment>();
  private ringbuf: RingBuffer | null = null;
  /** Which TC attach method works here; decided by the first attach. */
  private tcMethod: 'tcx' | 'clsact' | null;

  constructor(
    private readonly config: PacketConfig,
    private readonly log: Logger,
    build: ObjectBuild = 'current',
  ) {
    this.tcMethod = config.tcAttach === 'auto' ? null : config.tcAttach;
    const qlog = qlogFlags(config.qlog); // validates the qlog filter before anything loads
    const obj = BpfObject.open<PacketMap, PacketProgram>(objectPath(config.bpfDir, 'packet.bpf.o', build));
    try {
      obj.setRodata(
        writeTcpulseCfg({
          rttRateLimitNs: config.rtt.rateLimitMs * 1e6,
          tsTimeoutNs: config.rtt.timeoutMs * 1e6,
          minRttWindowNs: config.rtt.minRttWindowMs * 1e6,
          emitEvents: 1,
          qlog,
          qlogMaxRecords: config.qlog.maxEventsPerConnection,
        }),
      );
      obj.setMaxEntries('flows', config.flowTableSize);
      sizeQlogMaps(obj, config.qlog, 'traced', true);
      obj.setAutoload(PROGRAMS.xdpIngress, config.ingressHook === 'xdp');
      obj.setAutoload(PROGRAMS.tcIngress, config.ingressHook === 'tc');
      obj.load();
    } catch (err) {
      obj.close();
      throw err;
    }
    this.obj = obj;
    this.flows = obj.map('flows');
    this.stats = obj.map('stats');
    this.ifMtu = obj.map('if_mtu');
  }

  /** qlog_events, for the socket probe to share, while qlog tracing is on. */
  qlogRing(): BpfMap | null {
    return this.config.qlog.dir ? this.obj.map('qlog_events') : null;
  }

  /** Kernel memory of the flow table values and keys, from the configured sizes. */
  flowTableBytes(): number {
    return this.flows.maxEntries * (this.flows.keySize + this.flows.valueSize);
  }

  private attachTc(progFd: number, iface: NetInterface, dir: TcDirection): Link {
    if (this.tcMethod !== 'clsact') {
      try {
        const l = attachTcx(progFd, iface.ifindex, iface.name, dir);
        this.tcMethod = 'tcx';
        return l;
      } catch (err) {
        const e = err instanceof BpfError ? err.errno : 0;
        if (this.tcMethod === 'tcx' || ![EINVAL, EOPNOTSUPP, ENOTSUPP].includes(e)) throw err;
        this.log.info('tcx is not available, using clsact filters', { interface: iface.name, error: err });
        this.tcMethod = 'clsact';
      }
    }
    return ClsactLink.attach(progFd, iface.ifindex, iface.name, dir);
  }

  /** Attaches ingress and egress on iface; all or nothing. */
  attach(iface: NetInterface): Attachment {
    const links: Link[] = [];
    try {
      if (this.config.ingressHook === 'xdp') {
        this.setMtu(iface);
        links.push(attachXdp(this.obj.programFd(PROGRAMS.xdpIngress), iface.ifindex, iface.name, this.config.xdpMode));
      } else {
        links.push(this.attachTc(this.obj.programFd(PROGRAMS.tcIngress), iface, 'ingress'));
      }
      links.push(this.attachTc(this.obj.programFd(PROGRAMS.tcEgress), iface, 'egress'));
    } catch (err) {
      for (const l of links) l.close();
      this.ifMtu.delete(u32(iface.ifindex));
      throw err;
    }
    const a = { iface: { ...iface }, links };
    this.attachments.set(iface.ifindex, a);
    this.log.info('attached', { interface: iface.name, ifindex: iface.ifindex, links: links.map((l) => l.description) });
    return a;
  }

  detach(ifindex: number): void {
    const a = this.attachments.get(ifindex);
    if (!a) return;
    this.attachments.delete(ifindex);
    this.ifMtu.delete(u32(ifindex));
    for (const l of a.links) {
      try {
        l.close();
      } catch (err) {
        this.log.warn('detach failed', { link: l.description, error: err });
      }
    }
    this.log.info('detached', { interface: a.iface.name });
  }

  attached(): Attachment[] {
    return [...this.attachments.values()];
  }

  /**
   * Tells the XDP program the MTU of iface (it counts a longer frame as
   * the segments it stands for); called on attach and when the MTU of an
   * attached interface changed.
   */
  setMtu(iface: NetInterface): void {
    const a = this.attachments.get(iface.ifindex);
    if (a) a.iface.mtu = iface.mtu;
    if (this.config.ingressHook === 'xdp') this.ifMtu.update(u32(iface.ifindex), u32(iface.mtu));
  }

  /** The loaded programs: name and fd (owned by the object). */
  programs(): { name: string; fd: number }[] {
    const names = [this.config.ingressHook === 'xdp' ? PROGRAMS.xdpIngress : PROGRAMS.tcIngress, PROGRAMS.tcEgress];
    return names.map((name) => ({ name, fd: this.obj.programFd(name) }));
  }

  /** The TC method in use ('tcx' or 'clsact'), once something is attached. */
  tcAttachMethod(): string | null {
    return this.tcMethod;
  }

  readStats(): Record<StatName, number> {
    const v = this.stats.sumPerCpuU64(STAT_NAMES.length, this.nCpus);
    return Object.fromEntries(STAT_NAMES.map((name, i) => [name, v[i]!])) as Record<StatName, number>;
  }

  /** Starts draining flow events into onEvent. */
  onEvents(onEvent: (ev: FlowEventValue) => void, onError: (err: unknown) => void): void {
    this.ringbuf = new RingBuffer(this.obj.map('events'), (data) => onEvent(readFlowEvent(data)));
    this.ringbuf.start(onError);
  }

  drainEvents(): number {
    return this.ringbuf?.consume() ?? 0;
  }

  close(): void {
    for (const ifindex of [...this.attachments.keys()]) this.detach(ifindex);
    this.ringbuf?.close();
    this.ringbuf = null;
    this.obj.close();
  }
}
