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

/**
 * Every namespace a test makes is named tcpulse-...-PID-ID...: tests remove
 * their own even when they fail, but a test process that was killed
 * (a timeout, ^C) cannot. Namespaces of test processes that no longer run
 * are removed here, once per process, before the first lab is made.
 */
let swept: Promise<void> | null = null;
export function sweepStaleNamespaces(): Promise<void> {
  swept ??= (async () => {
    const r = await run('ip', ['-j', 'netns', 'list'], { allowFail: true });
    const names = r.code === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name) : [];
    for (const name of names) {
      const pid = /^tcpulse-(?:[a-z0-9]+-)*?(\d+)-[0-9a-f]{4,6}(?:-|$)/.exec(name)?.[1];
      if (pid && Number(pid) !== process.pid && !alive(Number(pid))) await run('ip', ['netns', 'del', name], { allowFail: true });
    }
  })();
  return swept;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Lab {
  readonly nsA: string;
  readonly nsB: string;
  readonly vethA: string;
  readonly vethB: string;
  readonly ipA: string;
  readonly ipB: string;
  private readonly rootLinks: string[] = [];

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
    await sweepStaleNamespaces();
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

  /**
   * A link from the root namespace to namespace A (for services the test
   * runs itself, e.g. an OTLP receiver); its veth names do not match vethA.
   */
  async linkRoot(): Promise<{ rootIp: string; nsIp: string }> {
    const dev = `${this.vethA}r`;
    const [, b, c] = this.ipA.split('.');
    const rootIp = `10.${b}.${(Number(c) + 128) % 256}.1`;
    const nsIp = rootIp.replace(/\.1$/, '.2');
    await run('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}n`, 'netns', this.nsA]);
    this.rootLinks.push(dev);
    await run('ip', ['addr', 'add', `${rootIp}/30`, 'dev', dev]);
    await run('ip', ['link', 'set', dev, 'up']);
    await this.exec(this.nsA, 'ip', ['addr', 'add', `${nsIp}/30`, 'dev', `${dev}n`]);
    await this.exec(this.nsA, 'ip', ['link', 'set', `${dev}n`, 'up']);
    return { rootIp, nsIp };
  }

  async destroy(): Promise<void> {
    for (const ns of [this.nsA, this.nsB]) await run('ip', ['netns', 'del', ns], { allowFail: true });
    for (const dev of this.rootLinks) await run('ip', ['link', 'del', dev], { allowFail: true });
  }
}
