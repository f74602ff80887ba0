/**
 * Loss injection for end-to-end tests: test/fixtures/drop.bpf.c, compiled
 * here with the flags of bpf/Makefile, loaded in this process and attached
 * by tcx link to an interface inside a lab namespace.
 *
 * Attaching inside the namespace: an ifindex means something only in its
 * namespace, and bpf_link_create resolves it in the namespace of the calling
 * thread. attachDropper switches the main thread into the namespace with
 * setns(2) for the few synchronous calls that need it (if_nametoindex,
 * bpf_link_create) and back before returning, so no JavaScript ever runs
 * in the lab namespace and no child process is needed. Network namespaces
 * are per thread, and setns(CLONE_NEWNET) is allowed in a multi-threaded
 * process (unlike CLONE_NEWNS).
 *
 * Lifetime: the program, its map and the link are file descriptors of this
 * process. close() detaches and frees them (and process exit does too). The
 * link holds neither the device nor the namespace: when the namespace is
 * deleted its veths go and the kernel detaches the link by itself (the link
 * stays as a defunct fd until close(), its fdinfo showing ifindex 0: see
 * Dropper.link(); bpftool 7.1 does not decode tcx links, nor list them in
 * `bpftool net`).
 *
 * Counters are per program run, i.e. per skb: on a veth egress with TSO one
 * skb is a GSO batch of many wire segments, all dropped together; the *Segs
 * counters count segments (skb->gso_segs).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { BpfError } from '../../src/errors.js';
import { BpfLinkCreateOpts, libbpf, libcFns, type LinkCreateOpts } from '../../src/bpf/libbpf.js';
import { AttachType } from '../../src/bpf/links/link.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { BpfObject } from '../../src/bpf/object.js';
import { projectRoot } from '../../src/paths.js';
import type { Lab } from './netns.js';

export const DROP_PROG = 'tcpulse_test_drop';
/** The kernel keeps 15 characters of a program name (BPF_OBJ_NAME_LEN). */
export const DROP_PROG_KERNEL_NAME = DROP_PROG.slice(0, 15);
const FIXTURE = join(projectRoot, 'test/fixtures/drop.bpf.c');

/** Anything that runs a command inside one of its namespaces (Lab, MptcpLab). */
export type NsExec = Pick<Lab, 'exec'>;

/** Slots of drop_stats, in the order of enum drop_stat. */
const SLOTS = ['tcp', 'eligible', 'dropped', 'eligibleSegs', 'droppedSegs', 'notTcp', 'droppedBytes'] as const;
export type DropCounters = Record<(typeof SLOTS)[number], number>;

/** The const volatile globals, which are the whole .rodata of the fixture. */
const RODATA_VARS = ['drop_per_million', 'data_only', 'port', 'silent'] as const;

export interface DropOptions {
  /** Hook: 'egress' (default) or 'ingress' of dev. */
  dir?: 'egress' | 'ingress';
  /**
   * Only segments with TCP payload are eligible, never SYN or RST (default
   * true): handshakes, pure ACKs and bare FINs always pass, so connections
   * open and close without timeouts and every drop is a data loss.
   */
  dataOnly?: boolean;
  /** Only packets with this source or destination port are eligible (0: all). */
  port?: number;
  /**
   * Run before the programs already attached at the hook (BPF_F_BEFORE).
   * Default false: appended, so a tcpulse agent attached earlier at the same
   * egress hook still sees the segments that are then dropped.
   */
  first?: boolean;
  /**
   * How a packet is dropped. 'silent' (the default at egress): redirected
   * to ifindex 0, i.e. freed while the hook reports it sent, so the loss is
   * invisible to the sender as on a wire and TCP retransmits. 'shot'
   * (TC_ACT_SHOT, the default at ingress): at egress the sender's stack gets
   * NET_XMIT_DROP back, keeps the segment as unsent and sends it again later
   * as new data: no retransmission (RetransSegs unchanged), only a cwnd
   * reduction. At ingress both are silent for the sender. (tcx has no
   * TC_ACT_STOLEN: it would mean "next", i.e. pass.)
   */
  verdict?: 'shot' | 'silent';
}

export interface Dropper {
  /** Eligible packets (skbs) the program saw: the population it drops from. */
  seen(): number;
  /** Packets (skbs) it dropped. */
  dropped(): number;
  /** All counters, summed over CPUs (after close(): their values at close). */
  counters(): DropCounters;
  readonly progId: number;
  readonly linkId: number;
  /** The ifindex attached to, in the namespace ns. */
  readonly ifindex: number;
  /**
   * The link as the kernel reports it now (/proc/self/fdinfo): ifindex 0
   * once the device is gone (the namespace was deleted). Null after close().
   */
  link(): { type: string; ifindex: number; attachType: number } | null;
  /** Detaches and unloads; idempotent. */
  close(): void;
}

// ---- compile (once per process) ----

let compiled: { obj: string; offsets: Map<string, number>; size: number } | null = null;

/** Compiles the fixture with bpf/Makefile's flags; the object and its .rodata layout. */
export function compileDropper(): { obj: string; offsets: Map<string, number>; size: number } {
  if (compiled) return compiled;
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-drop-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const obj = join(dir, 'drop.bpf.o');
  const arch = (() => {
    try {
      return execFileSync('dpkg-architecture', ['-qDEB_HOST_MULTIARCH'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'x86_64-linux-gnu';
    }
  })();
  execFileSync('clang', [
    '-O2', '-g', '-target', 'bpf', '-mcpu=v3', '-Wall', '-Werror',
    '-I', join(projectRoot, 'bpf'), `-I/usr/include/${arch}`,
    '-c', FIXTURE, '-o', obj,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  // The BTF DATASEC of an unlinked object has every offset 0 (libbpf fixes
  // them from the symbol table at open), so read the symbol table.
  const syms = execFileSync('llvm-objdump', ['-t', obj], { encoding: 'utf8' });
  const offsets = new Map<string, number>();
  for (const line of syms.split('\n')) {
    // 0000000000000004 g     O .rodata	0000000000000004 data_only
    const m = /^([0-9a-f]+)\s.*\s\.rodata\s+([0-9a-f]+)\s+(\S+)$/.exec(line);
    if (m) {
      if (Number.parseInt(m[2]!, 16) !== 4) throw new Error(`${FIXTURE}: .rodata symbol ${m[3]} is not 4 bytes`);
      offsets.set(m[3]!, Number.parseInt(m[1]!, 16));
    }
  }
  const names = [...offsets.keys()].sort().join(',');
  if (names !== [...RODATA_VARS].sort().join(',')) {
    throw new Error(`${FIXTURE}: .rodata holds ${names || 'nothing'}, expected ${RODATA_VARS.join(',')}`);
  }
  compiled = { obj, offsets, size: 4 * RODATA_VARS.length };
  return compiled;
}

// ---- network namespace of the calling thread ----

const libc = koffi.load('libc.so.6');
const setns = libc.func('int setns(int fd, int nstype)') as (fd: number, nstype: number) => number;
const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *ifname)') as (name: string) => number;
const CLONE_NEWNET = 0x40000000;

/**
 * Runs fn (synchronous: nothing else runs meanwhile) with the calling thread
 * in network namespace ns (a name under /run/netns), then switches back.
 */
export function inNetns<T>(ns: string, fn: () => T): T {
  const selfPath = '/proc/thread-self/ns/net';
  const before = readlinkSync(selfPath);
  const self = openSync(selfPath, 'r');
  let target = -1;
  try {
    target = openSync(`/run/netns/${ns}`, 'r');
    if (setns(target, CLONE_NEWNET) !== 0) throw new BpfError(`setns into ${ns}`, koffi.errno());
    try {
      return fn();
    } finally {
      if (setns(self, CLONE_NEWNET) !== 0 || readlinkSync(selfPath) !== before) {
        // everything after this would run in the wrong namespace
        process.stderr.write(`inNetns: could not switch back from ${ns} (errno ${koffi.errno()})\n`);
        process.abort();
      }
    }
  } finally {
    if (target >= 0) closeSync(target);
    closeSync(self);
  }
}

function fdinfoId(fd: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (!m) throw new Error(`no ${key} in fdinfo of fd ${fd}`);
  return Number(m[1]);
}

const BPF_F_BEFORE = 1 << 3;

/**
 * Loads the dropper with drop probability perMillion / 1e6 and attaches it
 * by tcx to dev in namespace ns (a name under /run/netns: Lab.nsA, ...).
 */
export async function attachDropper(
  lab: NsExec,
  ns: string,
  dev: string,
  perMillion: number,
  opts: DropOptions = {},
): Promise<Dropper> {
  if (!Number.isInteger(perMillion) || perMillion < 0 || perMillion > 1_000_000) {
    throw new RangeError(`perMillion ${perMillion}: an integer in 0..1000000`);
  }
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port ${port}`);
  const { obj: path, offsets, size } = compileDropper();
  const values: Record<(typeof RODATA_VARS)[number], number> = {
    drop_per_million: perMillion,
    data_only: opts.dataOnly === false ? 0 : 1,
    port,
    silent: (opts.verdict ?? ((opts.dir ?? 'egress') === 'egress' ? 'silent' : 'shot')) === 'silent' ? 1 : 0,
  };
  const rodata = Buffer.alloc(size);
  for (const name of RODATA_VARS) rodata.writeUInt32LE(values[name], offsets.get(name)!);

  // the ifindex as the namespace itself sees it, to check the setns path against
  const expectIndex = Number((await lab.exec(ns, 'cat', [`/sys/class/net/${dev}/ifindex`])).stdout);
  const obj = BpfObject.open(path);
  let linkFd = -1;
  try {
    obj.setRodata(rodata); // also checks that .rodata is exactly `size` bytes
    obj.load();
    const progFd = obj.programFd(DROP_PROG);
    const stats: BpfMap = obj.map('drop_stats');
    let opt: LinkCreateOpts | null = null;
    // relative_fd/id 0 = the whole chain
    if (opts.first) opt = { sz: koffi.sizeof(BpfLinkCreateOpts), flags: BPF_F_BEFORE };
    const attachType = (opts.dir ?? 'egress') === 'egress' ? AttachType.tcxEgress : AttachType.tcxIngress;
    const ifindex = inNetns(ns, () => {
      const idx = ifNameToIndex(dev);
      if (!idx) throw new BpfError(`if_nametoindex ${dev} in ${ns}`, koffi.errno());
      if (idx !== expectIndex) throw new Error(`${dev} in ${ns}: ifindex ${idx} after setns, ${expectIndex} in the namespace`);
      const fd = libbpf.link_create(progFd, idx, attachType, opt);
      if (fd < 0) throw new BpfError(`tcx/${opts.dir ?? 'egress'} ${dev} in ${ns}`, -fd);
      linkFd = fd;
      return idx;
    });
    const progId = fdinfoId(progFd, 'prog_id');
    const linkId = fdinfoId(linkFd, 'link_id');
    const nCpus = libbpf.num_possible_cpus();
    let closed = false;
    let final: DropCounters | null = null;
    const counters = (): DropCounters => {
      if (final) return { ...final };
      const v = stats.sumPerCpuU64(SLOTS.length, nCpus);
      return Object.fromEntries(SLOTS.map((k, i) => [k, v[i]!])) as DropCounters;
    };
    return {
      progId,
      linkId,
      ifindex,
      counters,
      link() {
        if (closed) return null;
        const info = readFileSync(`/proc/self/fdinfo/${linkFd}`, 'utf8');
        const get = (k: string) => new RegExp(`^${k}:\\s+(\\S+)`, 'm').exec(info)?.[1] ?? '';
        return { type: get('link_type'), ifindex: Number(get('ifindex')), attachType: Number(get('attach_type')) };
      },
      seen: () => counters().eligible,
      dropped: () => counters().dropped,
      close() {
        if (closed) return;
        final = counters();
        closed = true;
        libcFns.close(linkFd);
        obj.close();
      },
    };
  } catch (err) {
    if (linkFd >= 0) libcFns.close(linkFd);
    obj.close();
    throw err;
  }
}

// ---- kernel counters inside a namespace ----

/**
 * The counters of /proc/net/snmp or /proc/net/netstat in ns, as
 * "Group.Name" -> value (e.g. "Tcp.RetransSegs", "MPTcpExt.MPJoinSynAckRx").
 * Read with cat: nstat keeps a history file that namespaces would share.
 */
export async function procNetCounters(lab: NsExec, ns: string, file: 'snmp' | 'netstat' | 'snmp6'): Promise<Map<string, number>> {
  const r = await lab.exec(ns, 'cat', [`/proc/net/${file}`]);
  const out = new Map<string, number>();
  const lines = r.stdout.split('\n');
  if (file === 'snmp6') {
    for (const l of lines) {
      const [k, v] = l.trim().split(/\s+/);
      if (k && v !== undefined) out.set(k, Number(v));
    }
    return out;
  }
  // pairs of lines: "Group: Name1 Name2 ..." then "Group: v1 v2 ..."
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.trim().split(/\s+/);
    const vals = lines[i + 1]!.trim().split(/\s+/);
    const group = names[0]?.replace(/:$/, '');
    if (!group || vals[0] !== names[0]) throw new Error(`/proc/net/${file}: unexpected line pair at ${i}`);
    for (let j = 1; j < names.length; j++) out.set(`${group}.${names[j]}`, Number(vals[j]));
  }
  return out;
}

/** Tcp RetransSegs of namespace ns (IPv4 and IPv6 together, as the kernel counts). */
export async function retransSegs(lab: NsExec, ns: string): Promise<number> {
  const v = (await procNetCounters(lab, ns, 'snmp')).get('Tcp.RetransSegs');
  if (v === undefined) throw new Error(`no Tcp RetransSegs in /proc/net/snmp of ${ns}`);
  return v;
}
