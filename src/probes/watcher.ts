/**
 * Which interfaces the packet probe is attached to: resolved at start (a
 * named interface must exist), then kept current as interfaces come and go
 * (pod veths): new matches are attached, vanished ones let go. A link dies
 * with its device; closing it releases our handle. Programs of others stay
 * untouched (tcx appends, clsact uses its own handle and priority).
 */
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PacketProbe } from './packets.js';
import { ETHERNET_TYPES, isGlob, listInterfaces, matchInterfaces, type NetInterface } from '../net/interfaces.js';

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

export class InterfaceWatcher {
  readonly events = { attached: 0, detached: 0, failed: 0 };

  constructor(
    private readonly patterns: string[],
    private readonly probe: PacketProbe,
    private readonly log: Logger,
  ) {}

  attach(i: NetInterface): void {
    try {
      this.probe.attach(i);
      this.events.attached++;
    } catch (err) {
      this.events.failed++;
      this.log.error('attach failed', { interface: i.name, error: err });
    }
  }

  scan(): void {
    const all = listInterfaces();
    const present = new Map(all.map((i) => [i.ifindex, i]));
    for (const a of this.probe.attached()) {
      const now = present.get(a.iface.ifindex);
      if (!now || now.name !== a.iface.name) {
        this.probe.detach(a.iface.ifindex);
        this.events.detached++;
      } else if (now.mtu !== a.iface.mtu) {
        this.probe.setMtu(now);
      }
    }
    const attached = new Set(this.probe.attached().map((a) => a.iface.ifindex));
    for (const i of matchInterfaces(this.patterns, all)) {
      if (!attached.has(i.ifindex) && ETHERNET_TYPES.has(i.type)) this.attach(i);
    }
  }
}
