/**
 * The compatibility table of the kernel matrix, from what the agents of the
 * kernel suite reported (one JSON line per agent run, suite.test.ts): per
 * kernel, which build of the BPF objects loaded, which TC attachment and
 * socket hook families serve, and MPTCP.
 */

export const README_BEGIN = '<!-- kernel-matrix:begin (npm run test:kernels -- --write) -->';
export const README_END = '<!-- kernel-matrix:end -->';

const SOCKET_SIGNALS = ['tcp_probe', 'tcp_retransmit_skb', 'inet_sock_set_state', 'tcp_send_reset', 'tcp_receive_reset'];

export interface RunReport {
  run: string;
  objects?: string;
  probes?: Record<string, { hook: string; available: number }>;
  mptcp?: string;
}

export interface KernelResult {
  series: string;
  distro: string;
  runs: RunReport[];
}

export function parseReports(text: string): RunReport[] {
  const byRun = new Map<string, RunReport>();
  for (const line of text.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as RunReport;
    byRun.set(r.run, { ...byRun.get(r.run), ...r });
  }
  return [...byRun.values()];
}

/** How the socket signals of one run were served: ✓ by the family, or what served instead. */
function family(r: RunReport | undefined, want: string): string {
  if (!r?.probes) return 'not run';
  const hooks = SOCKET_SIGNALS.map((s) => (r.probes![s]?.available ? r.probes![s]!.hook : 'none'));
  if (hooks.every((h) => h === want)) return '✓';
  if (hooks.every((h) => h === 'none')) return 'absent';
  const others = SOCKET_SIGNALS.flatMap((s, i) => (hooks[i] === want ? [] : [`${s}: ${hooks[i]}`]));
  return `${hooks.length - others.length} of ${hooks.length} (${others.join(', ')})`;
}

function cells(k: KernelResult): string[] {
  const run = (name: string) => k.runs.find((r) => r.run === name);
  const best = run('best hooks');
  const xdp = run('xdp, clsact and raw_tp');
  const tc = best?.probes?.packet_ingress?.hook;
  return [
    `${k.series} (${k.distro})`,
    best?.objects === 'compat' ? 'compat (no atomics that return a value before 5.12)' : (best?.objects ?? 'not run'),
    tc === 'tcx' ? 'tcx' : tc === 'clsact' ? 'clsact (no tcx before 6.6)' : (tc ?? 'not run'),
    xdp?.probes ? (xdp.probes.packet_ingress?.available && xdp.probes.packet_ingress.hook === 'xdp' ? '✓' : 'absent') : 'not run',
    family(best, 'tp_btf'),
    family(xdp, 'raw_tp'),
    family(run('kprobe'), 'kprobe'),
    best?.mptcp === undefined ? 'not run' : best.mptcp === 'ok' ? '✓' : 'absent',
  ];
}

export function compatTable(results: KernelResult[]): string {
  const head = ['kernel', 'BPF objects', 'TC attach (default)', 'XDP', 'tp_btf', 'raw_tp', 'kprobe', 'MPTCP'];
  const sorted = [...results].sort((a, b) => {
    const [am, an] = a.series.split('.').map(Number);
    const [bm, bn] = b.series.split('.').map(Number);
    return am! - bm! || an! - bn!;
  });
  const row = (c: string[]) => `| ${c.join(' | ')} |`;
  return [row(head), row(head.map(() => '---')), ...sorted.map((k) => row(cells(k)))].join('\n');
}
