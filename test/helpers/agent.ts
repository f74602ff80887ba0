/** Runs the real agent (src/cli.ts through tsx) inside a namespace and scrapes it there. */
import { projectRoot } from '../../src/paths.js';
import { join } from 'node:path';
import { sleep, start, TIME_SCALE, type Running } from './exec.js';
import type { Lab } from './netns.js';

/** What the agent runner needs of a lab: running commands in its namespaces. */
export type LabLike = Pick<Lab, 'exec' | 'argv'>;
import { parseProm, pick, type Sample } from './prom.js';

export const AGENT_PORT = 9983;

export class AgentProc {
  private constructor(
    readonly lab: LabLike,
    readonly ns: string,
    readonly proc: Running,
  ) {}

  static async start(lab: LabLike, ns: string, args: string[]): Promise<AgentProc> {
    const [cmd, argv] = lab.argv(ns, process.execPath, [
      '--import', 'tsx', join(projectRoot, 'src/cli.ts'), '--listen', `127.0.0.1:${AGENT_PORT}`, ...args,
    ]);
    const a = new AgentProc(lab, ns, start(cmd, argv));
    const deadline = Date.now() + 20_000 * TIME_SCALE;
    while (Date.now() < deadline) {
      if (a.proc.proc.exitCode !== null) throw new Error(`agent exited ${a.proc.proc.exitCode}: ${a.proc.stderr()}`);
      const r = await lab.exec(ns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${AGENT_PORT}/readyz`], { allowFail: true });
      if (r.stdout === '200') return a;
      await sleep(100);
    }
    await a.proc.stop('SIGKILL');
    throw new Error(`agent not ready: ${a.proc.stderr()}`);
  }

  async fetch(path: string): Promise<string> {
    const r = await this.lab.exec(this.ns, 'curl', ['-sf', `http://127.0.0.1:${AGENT_PORT}${path}`]);
    return r.stdout;
  }

  async scrape(): Promise<Sample[]> {
    return parseProm(await this.fetch('/metrics'));
  }

  /**
   * Scrapes until done(samples) holds and returns those samples: the agent
   * reads the kernel once per interval, later on a busy machine, so a test
   * waits for what it expects rather than for a fixed time. Throws with
   * what after ms, and what show() says of the last scrape.
   */
  async scrapeUntil(what: string, done: (m: Sample[]) => boolean, ms = 10_000 * TIME_SCALE, show?: (m: Sample[]) => string): Promise<Sample[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.scrape();
      if (done(m)) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${show ? ` (last: ${show(m)})` : ''}`);
      await sleep(100);
    }
  }

  /**
   * Scrapes until the series name{labels} reads the same twice, gapMs
   * apart (more than the agent's interval, so that it read the kernel in
   * between): the agent has caught up with traffic that has ended.
   */
  async scrapeSettled(name: string, labels: Record<string, string>, gapMs: number, ms = 15_000 * TIME_SCALE): Promise<Sample[]> {
    const deadline = Date.now() + ms;
    const value = (m: Sample[]) => pick(m, name, labels)[0]?.value;
    let m = await this.scrape();
    for (;;) {
      await sleep(gapMs);
      const next = await this.scrape();
      if (value(next) !== undefined && value(next) === value(m)) return next;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${name} to settle`);
      m = next;
    }
  }

  stop(signal: NodeJS.Signals = 'SIGTERM') {
    return this.proc.stop(signal);
  }
}
