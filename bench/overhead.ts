/**
 * Overhead benchmark (prints figures; not a test). Needs root, iperf3, clang, bpftool, iproute2.
 *
 *   node --import tsx bench/overhead.ts [--seconds 5] [--rounds 3] [--reverse]
 *
 * A veth pair joins the root namespace to a fresh netns holding an iperf3
 * server; the client runs in the root namespace (--reverse: the server sends).
 * Each round measures, --seconds each: nothing attached; the agent with TC
 * ingress + TC egress and its socket hooks (the default); the same with
 * --no-sockets; the agent with XDP ingress + TC egress + socket hooks; an empty
 * XDP program (the cost of XDP on a veth itself: NAPI mode, the peer loses TSO);
 * the floor: empty programs on the agent's default hooks (tcx ingress and
 * egress, tp_btf/tcp_probe; bench/floor.bpf.c), what any program there costs
 * per run. Each program's ns per run is shown above its floor, and ns per MB
 * carried (iperf3's bytes) beside it.
 * The socket hooks (ts_*) are global, so they run for both iperf3 ends.
 * BPF run time comes from run-time stats held on by a BPF_ENABLE_STATS fd for
 * the run (gone with the process; kernel.bpf_stats_enabled is not touched),
 * which itself adds a little cost to every program run. Agent CPU is read from
 * /proc/PID/stat before iperf3 and after the agent's next rollups, so the work
 * on the last packets is counted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { attachTcx } from '../src/bpf/links/tcx.js';
import { BpfObject } from '../src/bpf/object.js';
import { enableRunTimeStats } from '../src/bpf/progstats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, reverse: { type: 'boolean', default: false } },
});
const seconds = Number(opt.seconds);
const rounds = Number(opt.rounds);
if (!Number.isInteger(seconds) || seconds < 1 || !Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write('usage: overhead.ts [--seconds N>=1] [--rounds N>=1] [--reverse] (whole numbers)\n');
  process.exit(2);
}
const intervalMs = 1000;

const tag = randomBytes(3).toString('hex').slice(0, 5);
const ns = `tpbench-${process.pid}-${tag}`;
const veth = `tpb${tag}a`;
const peer = `tpb${tag}b`;

/** What cleanup() must undo; set as soon as each thing exists. */
const st: { agent?: ChildProcess; client?: ChildProcess; server?: ChildProcess; ns?: boolean; veth?: boolean; xdp?: boolean; floor?: () => void; stats?: { close(): void }; tmp?: string } = {};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
function sh(cmd: string, ...args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}
function exited(c: ChildProcess, ms: number): Promise<boolean> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(true);
  return new Promise((r) => {
    const t = setTimeout(() => r(false), ms);
    c.once('exit', () => (clearTimeout(t), r(true)));
  });
}
async function stop(c: ChildProcess | undefined, ms: number): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  if (!(await exited(c, ms))) {
    c.kill('SIGKILL');
    await exited(c, 2000);
  }
}

// ---- measurements ---------------------------------------------------------

interface ProgStat { id: number; name: string; ns: number; cnt: number }
/** The agent's programs: packet (tcpulse_*) and socket (ts_*). */
const ours = (name?: string) => !!name && /^(tcpulse_|ts_)/.test(name);
function progs(filter: (p: { id: number; name?: string }) => boolean): Map<number, ProgStat> {
  const all = JSON.parse(sh('bpftool', 'prog', 'show', '-j')) as { id: number; name?: string; run_time_ns?: number; run_cnt?: number }[];
  return new Map(all.filter(filter).map((p) => [p.id, { id: p.id, name: p.name ?? '?', ns: p.run_time_ns ?? 0, cnt: p.run_cnt ?? 0 }]));
}
function progDelta(a: Map<number, ProgStat>, b: Map<number, ProgStat>): ProgStat[] {
  return [...b.values()].map((p) => ({ ...p, ns: p.ns - (a.get(p.id)?.ns ?? 0), cnt: p.cnt - (a.get(p.id)?.cnt ?? 0) }));
}
const clkTck = Number(sh('getconf', 'CLK_TCK').trim());
function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' '); // rest[0] is field 3 (state)
  return Number(rest[14 - 3]) + Number(rest[15 - 3]);
}
/** Ids of the BPF programs pid holds (program and link fds), from /proc/PID/fdinfo. */
function heldProgIds(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // fd closed meanwhile
    }
  }
  return ids;
}
function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}
type Dir = 'ingress' | 'egress';
async function agentPackets(port: number): Promise<Record<Dir, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = { ingress: 0, egress: 0 };
  for (const m of text.matchAll(/^tcpulse_packets_total\{([^}]*)\}\s+(\S+)/gm)) {
    const dir = /direction="(ingress|egress)"/.exec(m[1]!)?.[1] as Dir | undefined;
    if (dir) sum[dir] += Number(m[2]);
  }
  return sum;
}

async function iperf(addr: string): Promise<{ gbps: number; mb: number }> {
  const args = ['-c', addr, '-t', String(seconds), '-J', ...(opt.reverse ? ['-R'] : [])];
  const c = (st.client = spawn('iperf3', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  if (!(await exited(c, (seconds + 30) * 1000))) throw new Error('iperf3 client did not finish');
  st.client = undefined;
  let j: { error?: string; end?: { sum_received?: { bits_per_second?: number; bytes?: number } } };
  try {
    j = JSON.parse(out) as typeof j;
  } catch {
    throw new Error(`iperf3 client: ${out.trim().slice(0, 500)}`);
  }
  const bps = j.end?.sum_received?.bits_per_second;
  const bytes = j.end?.sum_received?.bytes;
  if (j.error || typeof bps !== 'number' || typeof bytes !== 'number') throw new Error(`iperf3 client: ${j.error ?? 'no end.sum_received'}`);
  return { gbps: bps / 1e9, mb: bytes / 1e6 };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startAgent(extra: readonly string[]): Promise<{ pid: number; port: number }> {
  const port = await freePort();
  const args = ['--import', 'tsx', 'src/cli.ts', '--interface', veth, '--listen', `127.0.0.1:${port}`, '--interval', `${intervalMs}ms`, ...extra];
  const c = (st.agent = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
  let tail = '';
  const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-2000));
  c.stdout!.on('data', keep);
  c.stderr!.on('data', keep);
  for (const t0 = Date.now(); Date.now() - t0 < 30_000; await sleep(100)) {
    if (c.exitCode !== null || c.signalCode !== null) throw new Error(`agent exited (${c.exitCode ?? c.signalCode}):\n${tail}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return { pid: c.pid!, port };
  }
  throw new Error(`agent not ready after 30s:\n${tail}`);
}

// ---- phases ---------------------------------------------------------------

/** secs: wall time between the two program snapshots (the runs/s divisor). */
interface Sample { gbps: number; mb: number; secs: number; progs: ProgStat[]; pkts?: Record<Dir, number>; cpuS?: number; rssKiB?: number }
const configs = [
  { key: 'none', label: 'nothing attached' },
  { key: 'tc', label: 'agent tc-in + tc-eg + sockets', args: [], sockets: true },
  { key: 'tcns', label: 'agent tc-in + tc-eg, --no-sockets', args: ['--no-sockets'], sockets: false },
  { key: 'xdp', label: 'agent xdp-in + tc-eg + sockets', args: ['--ingress-hook', 'xdp'], sockets: true },
  { key: 'empty', label: 'empty XDP (xdp_pass)' },
  { key: 'floor', label: 'empty tc-in + tc-eg + tcp_probe' },
] as const;
/** The empty program on each of the agent's hooks (the floor of its runs there). */
const FLOOR_OF: Record<string, string> = { tcpulse_tc_in: 'floor_tc_in', tcpulse_tc_eg: 'floor_tc_eg', tcpulse_xdp_in: 'xdp_pass', ts_probe_btf: 'floor_probe' };
type Config = (typeof configs)[number];

/** Another tcpulse (a test run) competes for the CPUs, and its socket hooks run for our sockets too. */
function others(held: Set<number>): string {
  const n = progs((p) => ours(p.name) && !held.has(p.id)).size;
  const nets = sh('ip', 'netns', 'list').split('\n').filter((l) => l.startsWith('tcpulse-')).length;
  return n || nets ? `${n} tcpulse_/ts_ program(s) of another process, ${nets} tcpulse-* netns` : '';
}
/** CPU ticks of other user processes: live ones, and reaped ones in their parents' cutime/cstime. */
function othersTicks(): number {
  const mine = new Set([process.pid, st.agent?.pid, st.client?.pid, st.server?.pid]);
  let t = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || mine.has(Number(d))) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8');
      const r = f.slice(f.lastIndexOf(')') + 2).split(' '); // r[k - 3] is field k
      if (!(Number(r[9 - 3]) & 0x200000)) t += Number(r[14 - 3]) + Number(r[15 - 3]) + Number(r[16 - 3]) + Number(r[17 - 3]); // not PF_KTHREAD
    } catch {
      // exited meanwhile
    }
  }
  return t;
}
/** One iperf3 run with program snapshots around it; warns if another tcpulse or other work was seen. */
async function measure(cfg: Config, addr: string, held: Set<number>, sel: (p: { id: number; name?: string }) => boolean) {
  const [before, o0] = [others(held), othersTicks()];
  const [t0, p0] = [performance.now(), progs(sel)];
  const { gbps, mb } = await iperf(addr);
  const [p1, secs] = [progs(sel), (performance.now() - t0) / 1000];
  const busy = (othersTicks() - o0) / clkTck;
  const seen = [others(held) || before, busy > 0.1 * secs ? `other processes used ${busy.toFixed(2)} CPU-s` : ''].filter(Boolean).join('; ');
  if (seen) process.stderr.write(`warning: ${cfg.label}: ${seen}; figures may be disturbed\n`);
  return { gbps, mb, secs, progs: progDelta(p0, p1) };
}

/** The floor: empty programs on tcx ingress and egress of the veth and on tp_btf/tcp_probe, loaded here. */
async function floorPhase(cfg: Config, addr: string, floorObj: string): Promise<Sample> {
  const obj = BpfObject.open<never, 'floor_tc_in' | 'floor_tc_eg' | 'floor_probe'>(floorObj);
  const links: { close(): void }[] = [];
  st.floor = () => {
    for (const l of links.splice(0)) l.close();
    obj.close();
  };
  try {
    obj.load();
    const ifindex = Number(readFileSync(`/sys/class/net/${veth}/ifindex`, 'utf8'));
    links.push(attachTcx(obj.programFd('floor_tc_in'), ifindex, veth, 'ingress'));
    links.push(attachTcx(obj.programFd('floor_tc_eg'), ifindex, veth, 'egress'));
    links.push(obj.attach('floor_probe'));
    const ids = new Set(progs((p) => /^floor_(tc_in|tc_eg|probe)$/.test(p.name ?? '')).keys());
    if (ids.size !== 3) throw new Error(`floor: ${ids.size} of 3 empty programs loaded (another run of this benchmark?)`);
    return await measure(cfg, addr, new Set(), (p) => ids.has(p.id));
  } finally {
    st.floor();
    st.floor = undefined;
  }
}

async function phase(cfg: Config, addr: string, xdpObj: string, floorObj: string): Promise<Sample> {
  if (cfg.key === 'none') return measure(cfg, addr, new Set(), () => false);
  if (cfg.key === 'floor') return floorPhase(cfg, addr, floorObj);
  if (cfg.key === 'empty') {
    st.xdp = true;
    sh('ip', 'link', 'set', 'dev', veth, 'xdpdrv', 'obj', xdpObj, 'sec', 'xdp');
    try {
      const id = (JSON.parse(sh('ip', '-j', 'link', 'show', 'dev', veth)) as { xdp?: { prog?: { id: number } } }[])[0]?.xdp?.prog?.id;
      if (id === undefined) throw new Error(`no XDP program on ${veth} after attaching`);
      return await measure(cfg, addr, new Set(), (p) => p.id === id);
    } finally {
      sh('ip', 'link', 'set', 'dev', veth, 'xdp', 'off');
      st.xdp = false;
    }
  }
  const agent = await startAgent(cfg.args);
  try {
    // Only this agent's programs: another tcpulse (a test run) may load its own meanwhile.
    const held = heldProgIds(agent.pid);
    const mine = (p: { id: number; name?: string }) => held.has(p.id) && ours(p.name);
    const names = [...progs(mine).values()].map((p) => p.name);
    if (!names.some((n) => n.startsWith('tcpulse_'))) throw new Error(`agent ${agent.pid} holds no tcpulse_ programs`);
    if (names.some((n) => n.startsWith('ts_')) !== cfg.sockets) throw new Error(`${cfg.label}: agent ${agent.pid} holds ts_ programs: ${!cfg.sockets}`);
    const [m0, c0] = [await agentPackets(agent.port), cpuTicks(agent.pid)];
    const s = await measure(cfg, addr, held, mine);
    await sleep(2 * intervalMs + 500); // let the agent roll the last packets up
    const [m1, c1] = [await agentPackets(agent.port), cpuTicks(agent.pid)];
    const pkts = { ingress: m1.ingress - m0.ingress, egress: m1.egress - m0.egress };
    return { ...s, pkts, cpuS: (c1 - c0) / clkTck, rssKiB: rssKiB(agent.pid) };
  } finally {
    const a = st.agent!;
    await stop(a, 15_000);
    st.agent = undefined;
    if (a.exitCode !== 0) process.stderr.write(`warning: agent exit ${a.exitCode ?? a.signalCode}\n`);
  }
}

// ---- setup, cleanup, report -----------------------------------------------

async function setup(): Promise<{ addr: string; xdpObj: string; floorObj: string }> {
  if (process.getuid?.() !== 0) throw new Error('run as root (network namespaces, BPF)');
  st.tmp = mkdtempSync(join(tmpdir(), 'tpbench-'));
  const xdpObj = join(st.tmp, 'xdp_pass.bpf.o');
  sh('clang', '-O2', '-g', '-target', 'bpf', '-c', join(root, 'bench/xdp_pass.bpf.c'), '-o', xdpObj);
  const floorObj = join(st.tmp, 'floor.bpf.o');
  sh('clang', '-O2', '-g', '-target', 'bpf', '-c', join(root, 'bench/floor.bpf.c'), '-o', floorObj);
  const used = sh('ip', '-4', '-o', 'addr') + sh('ip', '-4', 'route');
  let net = '';
  do net = `10.${randomInt(16, 255)}.${randomInt(0, 256)}`;
  while (used.includes(`${net}.`));
  st.stats = enableRunTimeStats();
  sh('ip', 'netns', 'add', ns);
  st.ns = true;
  sh('ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
  st.veth = true;
  sh('ip', 'addr', 'add', `${net}.1/24`, 'dev', veth);
  sh('ip', 'link', 'set', veth, 'up');
  sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  sh('ip', '-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', peer);
  sh('ip', '-n', ns, 'link', 'set', peer, 'up');
  st.server = spawn('ip', ['netns', 'exec', ns, 'iperf3', '-s', '-B', `${net}.2`, '-p', '5201'], { stdio: 'ignore' });
  for (let i = 0; !sh('ip', 'netns', 'exec', ns, 'ss', '-Hltn', 'sport = :5201').trim(); i++) {
    if (i > 50 || st.server.exitCode !== null) throw new Error('iperf3 server did not start');
    await sleep(100);
  }
  return { addr: `${net}.2`, xdpObj, floorObj };
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  const step = async (what: string, f: () => unknown) => {
    try {
      await f();
    } catch (err) {
      process.stderr.write(`cleanup: ${what}: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  };
  return (cleaning ??= (async () => {
    await step('agent', () => stop(st.agent, 15_000));
    await step('iperf3 client', () => stop(st.client, 2000));
    await step('iperf3 server', () => stop(st.server, 5000));
    if (st.xdp) await step('xdp off', () => sh('ip', 'link', 'set', 'dev', veth, 'xdp', 'off'));
    if (st.floor) await step('floor programs', () => st.floor?.());
    if (st.veth) await step('veth', () => sh('ip', 'link', 'del', veth));
    if (st.ns) await step('netns', () => sh('ip', 'netns', 'del', ns));
    await step('bpf stats', () => st.stats?.close());
    if (st.tmp) await step('tmpdir', () => rmSync(st.tmp!, { recursive: true, force: true }));
  })());
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fix = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

function report(results: Map<Config['key'], Sample[]>): void {
  const gbps = (k: Config['key']) => mean(results.get(k)!.map((s) => s.gbps));
  const base = gbps('none');
  /** run time and runs per program name over a config's rounds, and the MB carried meanwhile */
  const programs = (k: Config['key']) => {
    const byName = new Map<string, { ns: number; cnt: number }>();
    for (const p of results.get(k)!.flatMap((s) => s.progs)) {
      const t = byName.get(p.name) ?? { ns: 0, cnt: 0 };
      byName.set(p.name, { ns: t.ns + p.ns, cnt: t.cnt + p.cnt });
    }
    return { byName, mb: results.get(k)!.reduce((a, s) => a + s.mb, 0) };
  };
  const floors = new Map([...programs('floor').byName, ...programs('empty').byName]);
  const floorOf = (name: string) => {
    const f = floors.get(FLOOR_OF[name] ?? '');
    return f ? f.ns / f.cnt : NaN;
  };
  const rows: string[][] = [['config', 'Gbit/s', '±sd', 'vs none', 'program', 'runs', 'runs/s', 'ns/run', 'floor', 'above', 'ns/MB', 'agent pkts', 'pkts/run', 'ns/pkt', 'CPU s/Mpkt', 'RSS MiB']];
  const perPkt = new Map<Config['key'], { cpu: number; bpf: number }>(); // for the sockets on/off line
  for (const cfg of configs) {
    const ss = results.get(cfg.key)!;
    const g = ss.map((s) => s.gbps);
    const agent = ss[0]!.pkts !== undefined;
    const pk = { ingress: 0, egress: 0 };
    for (const s of ss) {
      if (!s.pkts) continue;
      pk.ingress += s.pkts.ingress;
      pk.egress += s.pkts.egress;
    }
    const all = pk.ingress + pk.egress;
    const [cpu, secs] = [ss.reduce((a, s) => a + (s.cpuS ?? 0), 0), ss.reduce((a, s) => a + s.secs, 0)];
    const { byName, mb } = programs(cfg.key);
    if (agent) perPkt.set(cfg.key, { cpu: cpu / (all / 1e6), bpf: [...byName.values()].reduce((a, t) => a + t.ns, 0) / all });
    const head = [cfg.label, mean(g).toFixed(2), sd(g).toFixed(2), (mean(g) / base).toFixed(3)];
    const tailCols = agent ? [fix(cpu / (all / 1e6), 4), fix(mean(ss.map((s) => s.rssKiB!)) / 1024, 1)] : ['-', '-'];
    if (byName.size === 0) rows.push([...head, ...Array<string>(10).fill('-'), ...tailCols]);
    [...byName].sort().forEach(([name, t], i) => {
      // Packet programs: the agent's packets of their direction; socket hooks: all its packets.
      const n = !agent ? NaN : name.startsWith('ts_') ? all : pk[/_in$/.test(name) ? 'ingress' : 'egress'];
      const floor = floorOf(name);
      rows.push([
        ...(i === 0 ? head : ['', '', '', '']),
        name, String(t.cnt), fix(t.cnt / secs, 0), fix(t.ns / t.cnt, 1), fix(floor, 1), fix(t.ns / t.cnt - floor, 1), fix(t.ns / mb, 0),
        agent ? String(n) : '-', fix(n / t.cnt, n / t.cnt < 1000 ? 2 : 0), fix(t.ns / n, 1),
        ...(i === 0 ? tailCols : ['', '']),
      ]);
    });
  }
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const left = new Set([0, 4]);
  for (const r of rows) console.log(r.map((v, c) => (left.has(c) ? v.padEnd(w[c]!) : v.padStart(w[c]!))).join('  ').trimEnd());
  const [on, off] = [perPkt.get('tc')!, perPkt.get('tcns')!];
  console.log(
    `\nsocket hooks on vs off (agent tc-in + tc-eg): throughput ${fix(gbps('tc') / gbps('tcns'), 3)}x, agent CPU ` +
      `${fix(on.cpu, 4)} vs ${fix(off.cpu, 4)} s/Mpkt, agent BPF (all programs) ${fix(on.bpf, 1)} vs ${fix(off.bpf, 1)} ns/pkt\n`,
  );
  const perMb = (k: Config['key'], which: (name: string) => boolean) => {
    const { byName, mb } = programs(k);
    return [...byName].filter(([name]) => which(name)).reduce((a, [, t]) => a + t.ns, 0) / mb;
  };
  const packetPath = (name: string) => name.startsWith('tcpulse_') || name.startsWith('floor_tc');
  console.log(
    `ns of BPF run time per MB carried: agent tc-in + tc-eg + sockets: packet path ${fix(perMb('tc', packetPath), 0)}, all programs ` +
      `${fix(perMb('tc', () => true), 0)}; --no-sockets: ${fix(perMb('tcns', () => true), 0)}; floor: empty tc pair ` +
      `${fix(perMb('floor', packetPath), 0)}, empty tcp_probe ${fix(perMb('floor', (n) => n === 'floor_probe'), 0)}\n`,
  );
  console.log(
    `runs, agent pkts: totals over ${rounds} round(s); runs/s: runs / time between the program snapshots around iperf3.\n` +
      `ns/run: bpf_stats run_time_ns/run_cnt (tcpulse_*: one run may be a GSO/GRO super-packet; ts_* socket hooks: one run\n` +
      `is one event, e.g. ts_probe_btf per segment received by an established socket, both iperf3 ends, any socket on the host).\n` +
      `floor: ns/run of the empty program on the same hook (the floor config; xdp_pass for XDP); above: the difference.\n` +
      `ns/MB: run time per MB that iperf3 carried in that config.\n` +
      `agent pkts: tcpulse_packets_total delta (per segment) of the program's direction, both directions for ts_*; ns/pkt =\n` +
      `time/pkts. CPU s/Mpkt: agent utime+stime / all agent packets; RSS: VmRSS at the end of the phase, mean over rounds.`,
  );
}

async function main(): Promise<void> {
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  console.log(
    `tcpulse overhead | kernel ${sh('uname', '-r').trim()} | ${cpuModel} x${cpus().length} | ${seconds}s x ${rounds} round(s) | ` +
      `iperf3 ${opt.reverse ? 'netns -> root (-R)' : 'root -> netns'} over veth ${veth} | ns ${ns} | node ${process.version}`,
  );
  const { addr, xdpObj, floorObj } = await setup();
  const results = new Map<Config['key'], Sample[]>(configs.map((c) => [c.key, []]));
  for (let r = 1; r <= rounds; r++) {
    for (const cfg of configs) {
      const s = await phase(cfg, addr, xdpObj, floorObj);
      results.get(cfg.key)!.push(s);
      process.stderr.write(`round ${r}/${rounds} ${cfg.label}: ${s.gbps.toFixed(2)} Gbit/s\n`);
    }
  }
  console.log('');
  report(results);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`overhead: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
