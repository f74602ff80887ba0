/**
 * The kernel matrix: the kernel suite (suite.test.ts) on this machine's
 * kernel, then inside each kernel of the lab (lab.sh fetched them into
 * .tools/kernel-lab), booted one at a time in QEMU by virtme-ng with this
 * machine's root shared in. The agent and the tests are the ones built
 * here; the guests only load, attach and measure.
 *
 *   npm run test:kernels                  all of them
 *   npm run test:kernels -- 5.10 host     some
 *   npm run test:kernels -- --write       and rewrite README's table
 *
 * Prints per kernel its boot and suite time and the suite's summary, then
 * the compatibility table built from what each agent reported; the table
 * in README.md must match it for the kernels of the lab (--write updates
 * it). Exits non-zero if a suite fails or the table differs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { readmeBlock, withReadmeBlock } from '../../src/readme.js';
import { compatTable, parseReports, README_BEGIN, README_END, type KernelResult } from './table.js';

const LAB = join(projectRoot, '.tools/kernel-lab');
/** The lab's kernels (lab.sh), oldest first, with the Debian release each comes from. */
export const KERNELS = [
  { series: '5.10', distro: 'Debian 11' },
  { series: '6.1', distro: 'Debian 12' },
  { series: '6.12', distro: 'Debian 13' },
];
/** Guest user space under TCG runs ~15x slower than here: the tests' waits stretch by this. */
const GUEST_TIME_SCALE = 20;
const GUEST_TIMEOUT_MS = 10 * 60_000;

interface Outcome {
  code: number;
  output: string;
  ms: number;
}

function runCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Outcome> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output, ms: Date.now() - t0 });
    });
  });
}

/** The summary lines node's test runner prints last (tests, pass, fail, skipped, ...). */
function summary(output: string): string {
  return output
    .split('\n')
    .filter((l) => /^# (tests|pass|fail|cancelled|skipped) \d+/.test(l))
    .map((l) => l.slice(2))
    .join(', ');
}

/** Time from QEMU's start to the guest's first line of the suite, from the kernel's own clock. */
function bootSeconds(output: string): number | null {
  const m = /\[\s*([\d.]+)\] virtme-ng-init: starting script/.exec(output);
  return m ? Number(m[1]) : null;
}

async function onHost(report: string): Promise<Outcome> {
  return runCmd(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', 'test/kernels/suite.test.ts'], { ...process.env, TCPULSE_KERNEL_REPORT: report }, GUEST_TIMEOUT_MS);
}

async function inGuest(series: string, report: string, resultsDir: string): Promise<Outcome> {
  const vmlinux = join(LAB, 'kernels', series, 'vmlinux');
  if (!existsSync(vmlinux)) throw new Error(`${vmlinux} is missing: run ./setup.sh --test`);
  const env = { ...process.env, PATH: `${join(LAB, 'venv/bin')}:${join(LAB, 'bin')}:${process.env.PATH ?? ''}` };
  const virtiofs = existsSync(join(LAB, 'bin/virtiofsd'));
  const exec = `TCPULSE_TEST_TIME_SCALE=${GUEST_TIME_SCALE} TCPULSE_KERNEL_REPORT=${report} sh test/kernels/guest.sh`;
  return runCmd(
    'vng',
    ['--disable-kvm', '--run', vmlinux, '--cpus', '2', '--memory', '2G', '--verbose', ...(virtiofs ? [] : ['--force-9p']), '--rwdir', resultsDir, '--exec', exec],
    env,
    GUEST_TIMEOUT_MS,
  );
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const write = args.includes('--write');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const targets = ['host', ...KERNELS.map((k) => k.series)].filter((t) => wanted.length === 0 || wanted.includes(t));
  const resultsDir = join(LAB, 'results');
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });

  const results: KernelResult[] = [];
  let failed = 0;
  for (const t of targets) {
    const report = join(resultsDir, `${t}.jsonl`);
    writeFileSync(report, '');
    process.stdout.write(`kernel ${t === 'host' ? `${release()} (this machine)` : t}: `);
    const o = t === 'host' ? await onHost(report) : await inGuest(t, report, resultsDir);
    const boot = t === 'host' ? null : bootSeconds(o.output);
    const line = `${o.code === 0 ? 'ok' : `FAILED (exit ${o.code})`} in ${(o.ms / 1000).toFixed(0)} s${boot === null ? '' : ` (boot ${boot.toFixed(1)} s)`}: ${summary(o.output) || 'no summary'}`;
    process.stdout.write(line + '\n');
    writeFileSync(join(resultsDir, `${t}.log`), o.output);
    if (o.code !== 0) {
      failed++;
      const tail = o.output.split('\n').filter((l) => /not ok|error:|Error|expected|actual/.test(l)).slice(0, 40);
      process.stdout.write(tail.map((l) => `  | ${l}`).join('\n') + `\n  (whole output: ${join(resultsDir, `${t}.log`)})\n`);
    }
    const series = t === 'host' ? /^\d+\.\d+/.exec(release())![0] : t;
    const distro = t === 'host' ? 'this machine' : KERNELS.find((k) => k.series === t)!.distro;
    results.push({ series, distro, runs: parseReports(readFileSync(report, 'utf8')) });
  }

  const table = compatTable(results);
  process.stdout.write('\n' + table + '\n');
  const readmePath = join(projectRoot, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const current = readmeBlock(readme, README_BEGIN, README_END);
  if (current === null) {
    process.stdout.write(`README.md has no ${README_BEGIN} ... ${README_END} block\n`);
    return 1;
  }
  if (write && wanted.length === 0 && failed === 0) {
    writeFileSync(readmePath, withReadmeBlock(readme, README_BEGIN, README_END, table));
    process.stdout.write('README.md: table written\n');
  } else if (!sameRows(current, table)) {
    process.stdout.write('README.md: its compatibility table differs from this run (npm run test:kernels -- --write)\n');
    failed++;
  }
  return failed === 0 ? 0 : 1;
}

/** The rows of the lab's kernels agree (the host's row stands for whatever kernel this machine has). */
function sameRows(readme: string, run: string): boolean {
  const rows = (t: string) => new Map(t.split('\n').filter((l) => /^\| \d/.test(l)).map((l) => [l.split('|')[1]!.trim(), l]));
  const a = rows(readme);
  const b = rows(run);
  for (const [k, l] of b) {
    const lab = KERNELS.some((x) => k.startsWith(x.series + ' '));
    if ((lab || a.has(k)) && a.get(k) !== l) return false;
  }
  return true;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kernel matrix: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
