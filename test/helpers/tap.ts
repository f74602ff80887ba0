/**
 * A NIC that hands up GSO packets with gso_segs still 0, as virtio-net does
 * (test/helpers/tap.py): a TAP device with virtio-net headers, in a
 * namespace, with an address and a neighbour entry for its peer so that the
 * kernel's answers leave through it too.
 */
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { start, type Running } from './exec.js';
import type { LabLike } from './agent.js';

const SCRIPT = join(projectRoot, 'test/helpers/tap.py');

/** One packet as written, and what it stands for on a wire. */
export interface TapPacket {
  seq: number;
  payload: number;
  /** 0: no GSO header. */
  gsoSize: number;
}

export class Tap {
  private answered = 0;

  private constructor(
    private readonly proc: Running,
    readonly name: string,
    readonly ip: string,
    readonly peerIp: string,
  ) {}

  /** Creates tap dev in ns with ip/24; peerIp is where its packets come from. */
  static async create(lab: LabLike, ns: string, dev: string, ip: string, peerIp: string): Promise<Tap> {
    const [cmd, args] = lab.argv(ns, 'python3', ['-u', SCRIPT, dev]);
    const proc = start(cmd, args, { stdin: true });
    const tap = new Tap(proc, dev, ip, peerIp);
    try {
      const mac = await tap.line(/^ready (\S+)$/m);
      await lab.exec(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', dev]);
      await lab.exec(ns, 'ip', ['link', 'set', dev, 'up']);
      await lab.exec(ns, 'ip', ['neigh', 'replace', peerIp, 'lladdr', mac[1]!, 'dev', dev, 'nud', 'permanent']);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    return tap;
  }

  private async line(re: RegExp, ms = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.proc.stdout());
      if (m) return m;
      if (Date.now() > deadline || this.proc.proc.exitCode !== null) throw new Error(`tap.py: ${this.proc.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Writes p from peerIp:sport to ip:dport; what it stands for on a wire (segments, layer-3 bytes). */
  async send(sport: number, dport: number, p: TapPacket): Promise<{ segments: number; bytes: number }> {
    this.proc.proc.stdin!.write(`${this.peerIp} ${this.ip} ${sport} ${dport} ${p.seq} ${p.payload} ${p.gsoSize}\n`);
    const n = ++this.answered;
    const lines = () => this.proc.stdout().split('\n').filter((l) => l.startsWith('{'));
    const deadline = Date.now() + 10_000;
    while (lines().length < n) {
      if (Date.now() > deadline || this.proc.proc.exitCode !== null) throw new Error(`tap.py: ${this.proc.stderr()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return JSON.parse(lines()[n - 1]!) as { segments: number; bytes: number };
  }

  close(): Promise<unknown> {
    return this.proc.stop('SIGKILL');
  }
}
