/**
 * A two-host lab: network namespaces A and B joined by a veth pair, with
 * unique names per test run. destroy() removes both namespaces (and with
 * them the veth pair and every program attached to it).
 */
import { randomBytes } from 'node:crypto';
import { run } from './exec.js';

/** Runs cmd inside network namespace ns to completion. */
export function nsExec(ns: string, cmd: string, args: string[], opts?: Parameters<typeof run>[2]) {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** argv that runs cmd inside ns (for spawning). */
export function nsArgv(ns: string, cmd: string, args: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

export class Lab {
  readonly nsA: string;
  readonly nsB: string;
  readonly vethA: string;
  readonly vethB: string;
  readonly ipA: string;
  readonly ipB: string;

  private constructor(tag: string) {
    const id = randomBytes(3).toString('hex');
    this.nsA = `tcpulse-${tag}-${process.pid}-${id}-a`;
    this.nsB = `tcpulse-${tag}-${process.pid}-${id}-b`;
    this.vethA = `tp${id}a`;
    this.vethB = `tp${id}b`;
    const n = randomBytes(2);
    this.ipA = `10.${100 + (n[0]! % 100)}.${n[1]}.1`;
    this.ipB = `10.${100 + (n[0]! % 100)}.${n[1]}.2`;
  }

  static async create(tag: string): Promise<Lab> {
    const lab = new Lab(tag);
    try {
      await run('ip', ['netns', 'add', lab.nsA]);
      await run('ip', ['netns', 'add', lab.nsB]);
      await run('ip', ['link', 'add', lab.vethA, 'netns', lab.nsA, 'type', 'veth', 'peer', 'name', lab.vethB, 'netns', lab.nsB]);
      for (const [ns, dev, ip] of [
        [lab.nsA, lab.vethA, lab.ipA],
        [lab.nsB, lab.vethB, lab.ipB],
      ] as const) {
        await lab.exec(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', dev]);
        await lab.exec(ns, 'ip', ['link', 'set', dev, 'up']);
        await lab.exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  exec(ns: string, cmd: string, args: string[], opts?: Parameters<typeof run>[2]) {
    return nsExec(ns, cmd, args, opts);
  }

  argv(ns: string, cmd: string, args: string[]): [string, string[]] {
    return nsArgv(ns, cmd, args);
  }

  async destroy(): Promise<void> {
    for (const ns of [this.nsA, this.nsB]) await run('ip', ['netns', 'del', ns], { allowFail: true });
  }
}
