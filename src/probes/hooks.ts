/**
 * Probe, don't assume: each socket signal has hooks in several families,
 * tried in order of preference. A candidate is supported when it loads and
 * attaches on this kernel, unsupported when the kernel says it cannot
 * (missing tracepoint, no kprobes, fentry not permitted), and an error
 * otherwise. The first supported candidate serves the signal; a signal with
 * none is disabled and reported, and the agent goes on without it.
 */
import { BpfError } from '../errors.js';
import { SockPrograms, type SockProgram } from '../bpf/contract.gen.js';
import { HOOK_FAMILIES, type HookFamily } from '../config.js';

export type { HookFamily };

export interface Candidate {
  family: HookFamily;
  program: SockProgram;
}

export interface Signal {
  name: string;
  candidates: Candidate[];
}

export type Outcome = { status: 'supported' } | { status: 'unsupported'; reason: string } | { status: 'error'; reason: string };

export interface Choice {
  signal: string;
  chosen: Candidate | null;
  /** every candidate tried, in order, with its outcome */
  tried: { candidate: Candidate; outcome: Outcome }[];
}

/** How sock.bpf.c names a hook's program in each family: ts_probe_btf, ts_probe_raw, ts_probe_kp. */
const PROGRAM_SUFFIX: Record<HookFamily, string> = { tp_btf: 'btf', raw_tp: 'raw', kprobe: 'kp' };

/** The socket signals and their programs in bpf/sock.bpf.c, best first. */
export const SOCKET_SIGNALS: Signal[] = [
  { name: 'tcp_probe', base: 'ts_probe' },
  { name: 'tcp_retransmit_skb', base: 'ts_retx' },
  { name: 'inet_sock_set_state', base: 'ts_state' },
  { name: 'tcp_send_reset', base: 'ts_rsttx' },
  { name: 'tcp_receive_reset', base: 'ts_rstrx' },
].map(({ name, base }) => ({
  name,
  candidates: HOOK_FAMILIES.map((family) => ({ family, program: sockProgram(`${base}_${PROGRAM_SUFFIX[family]}`) })),
}));

/** A program of bpf/sock.bpf.o by name; a name the object lacks fails at load of this module. */
function sockProgram(name: string): SockProgram {
  if (!(SockPrograms as readonly string[]).includes(name)) throw new Error(`bpf/sock.bpf.o has no program ${name}`);
  return name as SockProgram;
}

/** errno values by which a kernel says "not here" rather than "failed". */
const UNSUPPORTED = new Set([
  1, // EPERM: fentry/fexit where the kernel refuses them
  2, // ENOENT: no such tracepoint or function
  22, // EINVAL: program type or attach type unknown to this kernel
  95, // EOPNOTSUPP: e.g. kprobes not built in
  524, // ENOTSUPP
]);

export function classify(err: unknown): Outcome {
  if (err instanceof BpfError && UNSUPPORTED.has(err.errno)) return { status: 'unsupported', reason: err.message };
  return { status: 'error', reason: err instanceof Error ? err.message : String(err) };
}

/**
 * Picks the first supported candidate of every signal. tryCandidate is
 * the real probe (load and attach one program); allowed limits the
 * families (configuration).
 */
export function chooseHooks(
  signals: Signal[],
  tryCandidate: (c: Candidate) => Outcome,
  allowed: readonly HookFamily[] = HOOK_FAMILIES,
): Choice[] {
  return signals.map((s) => {
    const tried: Choice['tried'] = [];
    let chosen: Candidate | null = null;
    for (const c of s.candidates) {
      if (!allowed.includes(c.family)) continue;
      const outcome = tryCandidate(c);
      tried.push({ candidate: c, outcome });
      if (outcome.status === 'supported') {
        chosen = c;
        break;
      }
    }
    return { signal: s.name, chosen, tried };
  });
}
