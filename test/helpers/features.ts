/**
 * Kernel features some tests need, probed on the kernel the suite runs on
 * (as cilium/ebpf's tests do): a test whose feature is absent skips with
 * the reason (`describe(name, { skip: await missing('mptcp') }, ...)`), one
 * that can use either of two paths asserts the one the kernel has. Three
 * outcomes: supported, unsupported (the skip), or an error (a probe that
 * cannot tell fails the run). A feature that the kernel's version promises
 * but the probe does not find fails too: a broken kernel is no reason to
 * skip.
 *
 * Probes read the kernel's BTF (the enums and functions that a feature
 * brought) and sysfs/procfs, the way libbpf detects features, so they need
 * no program of ours to load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { run } from './exec.js';

export type Feature = 'tcx' | 'tp_btf' | 'ringbuf' | 'bpf_stats' | 'memcg_bpf' | 'kprobe' | 'mptcp';

interface Probe {
  /** What it is, for the skip message. */
  what: string;
  /** The first kernel version that has it whatever the configuration, if any. */
  since?: [number, number];
  /** Where to look: a name in the kernel's BTF, or a path that exists when it is there. */
  btf?: RegExp;
  check?: () => boolean;
}

const PROBES: Record<Feature, Probe> = {
  tcx: { what: 'tcx links (BPF_TCX_INGRESS)', since: [6, 6], btf: /'BPF_TCX_INGRESS' val=/ },
  tp_btf: { what: 'BTF tracepoints (btf_trace_tcp_probe)', since: [5, 5], btf: /TYPEDEF 'btf_trace_tcp_probe'/ },
  ringbuf: { what: 'BPF ring buffers', since: [5, 8], btf: /'BPF_MAP_TYPE_RINGBUF' val=/ },
  bpf_stats: { what: 'BPF run-time statistics (BPF_ENABLE_STATS)', since: [5, 8], btf: /'BPF_STATS_RUN_TIME' val=/ },
  memcg_bpf: { what: 'BPF memory charged to the cgroup instead of RLIMIT_MEMLOCK', since: [5, 11], btf: /FUNC 'bpf_map_kmalloc_node'/ },
  // a kernel configuration choice, no version promises it
  kprobe: { what: 'kprobes (the kprobe PMU)', check: () => existsSync('/sys/bus/event_source/devices/kprobe') },
  mptcp: { what: 'MPTCP (net.mptcp.enabled)', check: () => existsSync('/proc/sys/net/mptcp/enabled') && readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() === '1' },
};

let btfText: Promise<string> | null = null;
function kernelBtf(): Promise<string> {
  btfText ??= (async () => {
    if (!existsSync('/sys/kernel/btf/vmlinux')) return '';
    const r = await run('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { timeoutMs: 60_000 });
    return r.stdout;
  })();
  return btfText;
}

function kernelVersion(): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) throw new Error(`cannot read the kernel version from ${release()}`);
  return [Number(m[1]), Number(m[2])];
}

const atLeast = (v: [number, number], since: [number, number]) => v[0] > since[0] || (v[0] === since[0] && v[1] >= since[1]);

const cache = new Map<Feature, Promise<boolean>>();

/** Whether the kernel has feature f; throws when the probe cannot tell or contradicts the kernel's version. */
export function has(f: Feature): Promise<boolean> {
  let p = cache.get(f);
  if (!p) {
    p = (async () => {
      const probe = PROBES[f];
      const found = probe.btf ? probe.btf.test(await kernelBtf()) : probe.check!();
      const v = kernelVersion();
      if (!found && probe.since && atLeast(v, probe.since)) {
        throw new Error(`kernel ${release()} should have ${probe.what} (since ${probe.since.join('.')}) but the probe found none`);
      }
      return found;
    })();
    cache.set(f, p);
  }
  return p;
}

/** The skip reason when one of fs is missing, else false: `{ skip: await missing('mptcp') }`. */
export async function missing(...fs: Feature[]): Promise<string | false> {
  const absent: string[] = [];
  for (const f of fs) if (!(await has(f))) absent.push(PROBES[f].what);
  return absent.length ? `kernel ${release()} lacks ${absent.join(', ')}` : false;
}

/** The TC hook the agent uses by default on this kernel: tcx links where the kernel has them, else clsact. */
export async function tcHook(): Promise<'tcx' | 'clsact'> {
  return (await has('tcx')) ? 'tcx' : 'clsact';
}
