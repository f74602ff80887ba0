/**
 * A busy node (prints figures; not a test). Needs root, iproute2, curl.
 *
 *   node --import tsx bench/scale.ts [--connections 1000,10000,50000] [--ports 500] [--seconds 20]
 *
 * Two namespaces on one veth pair; B listens on --ports ports, A opens N
 * connections spread over them, each sending 64 bytes each way once a
 * second (bench/scale-load.ts). Both ends are on this node, so the socket
 * hooks track both sides: 2N sockets, N flows on the veth. The agent, as
 * shipped (bin/tcpulse.js, default settings but for the interface), runs in A on its
 * veth, a fresh one for each N. After all connections are up and two
 * rounds have passed, over --seconds: the agent's CPU (utime + stime of
 * /proc/PID/stat) and RSS (largest VmRSS sampled each second), the kernel
 * memory of its flow and socket tables (tcpulse_flow_table_memory_bytes:
 * keys and values at capacity; bpftool's memlock reads 0 under memcg
 * accounting),
 * three scrapes of /metrics (time, bytes, lines; per series), the event
 * loop's longest stall (nodejs_eventloop_lag_max_seconds, monitorEventLoopDelay
 * since the scrape before, so it covers the scrapes too), what the last
 * round spent on each source (tcpulse_source_duration_seconds), and how
 * full its tables are. Each column's growth over the one before is printed beside it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/paths.js';
import { sleep, start, waitForOutput, type Running } from '../test/helpers/exec.js';
import { Lab } from '../test/helpers/netns.js';
import { parseProm, pick, type Sample } from '../test/helpers/prom.js';

const { values: opt } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000,10000,50000' },
    ports: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
  },
});
const sizes = opt.connections.split(',').map(Number);
const ports = Number(opt.ports);
const seconds = Number(opt.seconds);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(ports) || ports < 1 || ports > 5000 || !Number.isInteger(seconds) || seconds < 2) {
  process.stderr.write('usage: scale.ts [--connections N,N,...] [--ports 1..5000] [--seconds N>=2] (whole numbers)\n');
  process.exit(2);
}

const BASE_PORT = 20000;
const AGENT = '127.0.0.1:9983';
const INTERVAL_MS = 5000; // the agent's default round
const CLK_TCK = 100;
const MB = 2 ** 20;

/** A command in a namespace, from the project's folder, with the file limit at its hard limit; exec: one process to stop. */
const inNs = (lab: Lab, ns: string, cmd: string) => lab.argv(ns, 'sh', ['-c', `cd ${projectRoot} && ulimit -n "$(ulimit -Hn)" && exec ${cmd}`]);
/** Sockets per load process: under the hard limit on descriptors (20,000 here), so large N takes several. */
const PER_PROCESS = Math.max(1000, Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' })) - 2000);
const load = (...args: (string | number)[]) => node('--import tsx bench/scale-load.ts', ...args);
const node = (script: string, ...args: (string | number)[]) => `${process.execPath} ${script} ${args.join(' ')}`;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime
}
const rssBytes = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;


/** Every process the benchmark started, stopped however it ends. */
const children = new Set<Running>();
function spawnIn(lab: Lab, ns: string, cmd: string): Running {
  const r = start(...inNs(lab, ns, cmd));
  children.add(r);
  return r;
}
const stopAll = () => Promise.all([...children].map((r) => r.stop('SIGKILL')));

interface Scrape {
  ms: number;
  bytes: number;
  lines: number;
  samples: Sample[];
}

async function scrape(lab: Lab): Promise<Scrape> {
  const t0 = performance.now();
  const r = await lab.exec(lab.nsA, 'curl', ['-sf', `http://${AGENT}/metrics`]);
  const ms = performance.now() - t0;
  return { ms, bytes: Buffer.byteLength(r.stdout), lines: r.stdout.split('\n').length - 1, samples: parseProm(r.stdout) };
}

/** The sum of the samples of name with these labels. */
const value = (m: Sample[], name: string, labels: Record<string, string> = {}) => pick(m, name, labels).reduce((a, s) => a + s.value, 0);

type Row = Record<string, number>;

async function measure(lab: Lab, n: number): Promise<{ idle: Row; busy: Row }> {
  // as shipped: bin/tcpulse.js with its Node.js flags
  const agent = spawnIn(lab, lab.nsA, `${join(projectRoot, 'bin/tcpulse.js')} --interface ${lab.vethA} --listen ${AGENT}`);
  const clients: Running[] = [];
  try {
    const pid = agent.proc.pid!;
    const deadline = Date.now() + 20_000;
    while ((await lab.exec(lab.nsA, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${AGENT}/readyz`], { allowFail: true })).stdout !== '200') {
      if (agent.proc.exitCode !== null || Date.now() > deadline) throw new Error(`agent not ready: ${agent.stderr()}`);
      await sleep(100);
    }
    await sleep(2000);
    const idle = { rssMb: rssBytes(pid) / MB, mapMb: value((await scrape(lab)).samples, 'tcpulse_flow_table_memory_bytes') / MB };

    const procs = Math.ceil(n / PER_PROCESS);
    for (let i = 0; i < procs; i++) {
      const share = Math.floor(n / procs) + (i < n % procs ? 1 : 0);
      clients.push(spawnIn(lab, lab.nsA, load('client', lab.ipB, BASE_PORT, ports, share)));
      await waitForOutput(clients[i]!, `ready ${share}`, 60_000 + share * 5);
    }
    await sleep(2 * INTERVAL_MS + 500);
    await scrape(lab); // the event loop's lag counts from here
    const c0 = cpuTicks(pid);
    const t0 = performance.now();
    let rss = 0;
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      rss = Math.max(rss, rssBytes(pid));
    }
    const cpu = ((cpuTicks(pid) - c0) / CLK_TCK / ((performance.now() - t0) / 1000)) * 100;
    const scrapes = [await scrape(lab), await scrape(lab), await scrape(lab)];
    const m = scrapes.at(-1)!.samples;
    const series = value(m, 'tcpulse_series');
    const median = (k: 'ms' | 'bytes' | 'lines') => scrapes.map((s) => s[k]).sort((a, b) => a - b)[1]!;
    for (const c of clients) if (c.proc.exitCode !== null) throw new Error(`traffic: ${c.stderr()}`);
    return {
      idle,
      busy: {
        cpuPct: cpu,
        rssMb: Math.max(rss, rssBytes(pid)) / MB,
        mapMb: value(m, 'tcpulse_flow_table_memory_bytes') / MB,
        heapUsedMb: value(m, 'nodejs_heap_size_used_bytes') / MB,
        heapTotalMb: value(m, 'nodejs_heap_size_total_bytes') / MB,
        externalMb: value(m, 'nodejs_external_memory_bytes') / MB,
        scrapeMs: median('ms'),
        scrapeMb: median('bytes') / MB,
        lines: median('lines'),
        series,
        linesPerSeries: median('lines') / series,
        bytesPerSeries: median('bytes') / series,
        // the first scrape after the window covers it (the agent starts the delay histogram anew at each scrape)
        stallMs: Math.max(...scrapes.map((s) => value(s.samples, 'nodejs_eventloop_lag_max_seconds'))) * 1000,
        roundFlowsMs: value(m, 'tcpulse_source_duration_seconds', { source: 'flows' }) * 1000,
        roundSocketsMs: value(m, 'tcpulse_source_duration_seconds', { source: 'sockets' }) * 1000,
        roundEventsMs: (value(m, 'tcpulse_source_duration_seconds', { source: 'events' }) + value(m, 'tcpulse_source_duration_seconds', { source: 'socket_events' })) * 1000,
        sockets: value(m, 'tcpulse_flow_table_entries', { table: 'sockets' }),
        socketsCap: value(m, 'tcpulse_flow_table_capacity', { table: 'sockets' }),
        flows: value(m, 'tcpulse_flow_table_entries', { table: 'flows' }),
        flowsCap: value(m, 'tcpulse_flow_table_capacity', { table: 'flows' }),
        untracked: value(m, 'tcpulse_flow_table_untracked_total'),
      },
    };
  } finally {
    for (const c of clients) await c.stop('SIGKILL');
    await agent.stop('SIGTERM');
  }
}

const ROWS: [string, string, (r: Row) => number, number][] = [
  ['agent CPU', '% of a core', (r) => r.cpuPct!, 2],
  ['agent RSS', 'MB', (r) => r.rssMb!, 0],
  ['  JS heap used / total', 'MB', (r) => r.heapUsedMb!, 0],
  ['', 'MB', (r) => r.heapTotalMb!, 0],
  ['  Buffers (external)', 'MB', (r) => r.externalMb!, 0],
  ['kernel tables', 'MB', (r) => r.mapMb!, 1],
  ['one scrape', 'ms', (r) => r.scrapeMs!, 0],
  ['one scrape', 'MB', (r) => r.scrapeMb!, 2],
  ['one scrape', 'lines', (r) => r.lines!, 0],
  ['series', '', (r) => r.series!, 0],
  ['per series', 'lines', (r) => r.linesPerSeries!, 0],
  ['per series', 'bytes', (r) => r.bytesPerSeries!, 0],
  ['event loop stall', 'ms (longest)', (r) => r.stallMs!, 0],
  ['round: flow table', 'ms', (r) => r.roundFlowsMs!, 1],
  ['round: socket table', 'ms', (r) => r.roundSocketsMs!, 1],
  ['round: events', 'ms', (r) => r.roundEventsMs!, 1],
  ['socket table', 'entries', (r) => r.sockets!, 0],
  ['socket table', 'capacity', (r) => r.socketsCap!, 0],
  ['flow table', 'entries', (r) => r.flows!, 0],
  ['full table: not tracked', 'packets+events', (r) => r.untracked!, 0],
];

function print(results: { n: number; idle: Row; busy: Row }[]): void {
  const head = ['', '', 'idle', ...results.flatMap((r, i) => [`${r.n}`, ...(i ? [`×${(r.n / results[i - 1]!.n).toFixed(0)} N`] : [])])];
  const rows = ROWS.map(([what, unit, pick, digits]) => {
    const idle = what === 'agent RSS' ? results[0]!.idle.rssMb!.toFixed(0) : what === 'kernel tables' ? results[0]!.idle.mapMb!.toFixed(1) : '';
    const cells = results.flatMap((r, i) => {
      const v = pick(r.busy);
      const prev = i ? pick(results[i - 1]!.busy) : 0;
      return [v.toFixed(digits), ...(i ? [prev > 0 ? `×${(v / prev).toFixed(2)}` : ''] : [])];
    });
    return [what, unit, idle, ...cells];
  });
  const widths = head.map((_, c) => Math.max(...[head, ...rows].map((r) => r[c]!.length)));
  for (const r of [head, ...rows]) process.stdout.write(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ') + '\n');
}

async function main(): Promise<void> {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: projectRoot, stdio: 'inherit' });
  const lab = await Lab.create('scale');
  const servers: Running[] = [];
  const stop = () => void stopAll().finally(() => void lab.destroy().finally(() => process.exit(130)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await lab.exec(lab.nsB, 'sysctl', ['-qw', 'net.core.somaxconn=65535']);
    // servers split the ports: each holds its ports' share of the largest N
    const count = Math.min(ports, Math.ceil(Math.max(...sizes) / PER_PROCESS));
    for (let i = 0, first = 0; i < count; i++) {
      const k = Math.floor(ports / count) + (i < ports % count ? 1 : 0);
      servers.push(spawnIn(lab, lab.nsB, load('server', BASE_PORT + first, k)));
      await waitForOutput(servers[i]!, `listening ${k}`, 30_000);
      first += k;
    }
    const results: { n: number; idle: Row; busy: Row }[] = [];
    for (const n of sizes) {
      process.stderr.write(`${n} connections over ${ports} ports...\n`);
      results.push({ n, ...(await measure(lab, n)) });
      await sleep(2000); // the closed connections' sockets leave
    }
    process.stdout.write(`\n${ports} server ports, 64 B each way per connection per second, ${seconds} s per column, both ends on this node\n\n`);
    print(results);
  } finally {
    await stopAll();
    await lab.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`scale: ${(err as Error).message}\n`);
  process.exit(1);
});
