/** Network interfaces of this namespace, from /sys/class/net, and globs over their names. */
import { readdirSync, readFileSync } from 'node:fs';

export interface NetInterface {
  name: string;
  ifindex: number;
  /** ARPHRD_* from the kernel: 1 is Ethernet (veth, NICs, bridges), 772 loopback. */
  type: number;
  /** Bytes of the largest IP packet the device sends or receives unsegmented. */
  mtu: number;
}

/** Link types whose frames start with an Ethernet header, as the parser expects. */
export const ETHERNET_TYPES = new Set([1, 772]);

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let set = glob.slice(i + 1, end);
        if (set.startsWith('!')) set = '^' + set.slice(1);
        re += '[' + set.replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

export function listInterfaces(sysClassNet = '/sys/class/net'): NetInterface[] {
  const out: NetInterface[] = [];
  for (const name of readdirSync(sysClassNet)) {
    try {
      const ifindex = Number(readFileSync(`${sysClassNet}/${name}/ifindex`, 'utf8'));
      const type = Number(readFileSync(`${sysClassNet}/${name}/type`, 'utf8'));
      const mtu = Number(readFileSync(`${sysClassNet}/${name}/mtu`, 'utf8'));
      out.push({ name, ifindex, type, mtu });
    } catch {
      // gone between readdir and read: skip it
    }
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

/** The interfaces matching any pattern, each once, in ifindex order. */
export function matchInterfaces(patterns: string[], all: NetInterface[]): NetInterface[] {
  const res = patterns.map(globToRegExp);
  return all.filter((i) => res.some((r) => r.test(i.name)));
}
