/**
 * A Kubernetes node in miniature: a node namespace that forwards between
 * pod namespaces, each joined to it by a veth pair whose node side is named
 * like a CNI's (veth...), and one more veth pair from the root namespace
 * (where the test runs its fake API server) to the node namespace.
 */
import { randomBytes } from 'node:crypto';
import { run } from './exec.js';
import { nsArgv, nsExec, sweepStaleNamespaces } from './netns.js';

export interface PodNet {
  name: string;
  ns: string;
  /** the node side of the pod's veth */
  veth: string;
  ip: string;
  gateway: string;
}

export class NodeLab {
  readonly ns: string;
  readonly id: string;
  /** root side and node side of the API link */
  readonly apiVeth: string;
  readonly apiRootIp: string;
  readonly apiNodeIp: string;
  private readonly net: number;
  private readonly pods = new Map<string, PodNet>();
  private nextPod = 1;

  private constructor() {
    this.id = randomBytes(2).toString('hex');
    this.ns = `tcpulse-node-${process.pid}-${this.id}`;
    this.apiVeth = `tpapi${this.id}`;
    this.net = 100 + (randomBytes(1)[0]! % 100);
    this.apiRootIp = `10.${this.net}.250.1`;
    this.apiNodeIp = `10.${this.net}.250.2`;
  }

  static async create(): Promise<NodeLab> {
    await sweepStaleNamespaces();
    const lab = new NodeLab();
    try {
      await run('ip', ['netns', 'add', lab.ns]);
      await lab.exec('ip', ['link', 'set', 'lo', 'up']);
      await lab.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      await run('ip', ['link', 'add', lab.apiVeth, 'type', 'veth', 'peer', 'name', `${lab.apiVeth}n`, 'netns', lab.ns]);
      await run('ip', ['addr', 'add', `${lab.apiRootIp}/30`, 'dev', lab.apiVeth]);
      await run('ip', ['link', 'set', lab.apiVeth, 'up']);
      await lab.exec('ip', ['addr', 'add', `${lab.apiNodeIp}/30`, 'dev', `${lab.apiVeth}n`]);
      await lab.exec('ip', ['link', 'set', `${lab.apiVeth}n`, 'up']);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  exec(cmd: string, args: string[], opts?: Parameters<typeof run>[2]) {
    return nsExec(this.ns, cmd, args, opts);
  }

  /** The glob that matches this node's pod veths (and nothing else on the machine). */
  get vethGlob(): string {
    return `veth${this.id}*`;
  }

  async addPod(name: string): Promise<PodNet> {
    const n = this.nextPod++;
    const p: PodNet = {
      name,
      ns: `${this.ns}-pod${n}`,
      veth: `veth${this.id}p${n}`,
      ip: `10.${this.net}.${n}.2`,
      gateway: `10.${this.net}.${n}.1`,
    };
    await run('ip', ['netns', 'add', p.ns]);
    this.pods.set(name, p);
    await run('ip', ['link', 'add', p.veth, 'netns', this.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns]);
    await this.exec('ip', ['addr', 'add', `${p.gateway}/24`, 'dev', p.veth]);
    await this.exec('ip', ['link', 'set', p.veth, 'up']);
    for (const args of [
      ['addr', 'add', `${p.ip}/24`, 'dev', 'eth0'],
      ['link', 'set', 'eth0', 'up'],
      ['link', 'set', 'lo', 'up'],
      ['route', 'add', 'default', 'via', p.gateway],
    ]) {
      await nsExec(p.ns, 'ip', args);
    }
    return p;
  }

  async removePod(name: string): Promise<void> {
    const p = this.pods.get(name);
    if (!p) return;
    this.pods.delete(name);
    await run('ip', ['netns', 'del', p.ns], { allowFail: true });
  }

  /** What AgentProc and the tcp helpers need: commands in any namespace. */
  readonly ctl = { exec: nsExec, argv: nsArgv };

  async destroy(): Promise<void> {
    for (const name of [...this.pods.keys()]) await this.removePod(name);
    await run('ip', ['link', 'del', this.apiVeth], { allowFail: true });
    await run('ip', ['netns', 'del', this.ns], { allowFail: true });
  }
}
