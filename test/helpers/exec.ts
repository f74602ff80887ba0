/** Child processes for tests: run to completion, or keep running and stop later. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';

/**
 * How much slower than this machine the tests' machine is: every default
 * wait of the helpers is multiplied by it. The kernel matrix sets it for
 * its guests (QEMU without acceleration runs user space ~15x slower).
 */
export const TIME_SCALE = Number(process.env.TCPULSE_TEST_TIME_SCALE ?? 1);

export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; allowFail?: boolean; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000 * TIME_SCALE, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      if (err && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin!.on('error', () => {}); // a command that never reads its input
    child.stdin!.end(opts.input ?? '');
  });
}

export interface Running {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/** Starts cmd; with stdin, its standard input is a pipe (proc.stdin) rather than nothing. */
export function start(cmd: string, args: string[], opts: { stdin?: boolean } = {}): Running {
  const proc = spawn(cmd, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  proc.stdin?.on('error', () => {}); // a child that exits before reading
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 10_000 * TIME_SCALE) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        const r = await exited;
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once r printed text on stdout; throws if it exits or ms pass first. */
export async function waitForOutput(r: Running, text: string, ms = 10_000 * TIME_SCALE): Promise<void> {
  const deadline = Date.now() + ms;
  while (!r.stdout().includes(text)) {
    if (Date.now() > deadline || r.proc.exitCode !== null) throw new Error(`waiting for "${text}": ${r.stderr()}`);
    await sleep(20);
  }
}

/** Polls fn until it holds; fails the test with what (or what it returns then) after ms. */
export async function until(what: string | (() => string), fn: () => boolean | Promise<boolean>, ms = 8000 * TIME_SCALE): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(100);
  }
}
