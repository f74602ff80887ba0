/**
 * A real Prometheus server (the Debian `prometheus` binary) for tests, run
 * inside a lab namespace next to the agent it scrapes: a temp config
 * (static targets with extra target labels such as node, 1 s scrape and
 * rule evaluation), temp storage, a free port on 127.0.0.1 there. Its HTTP
 * API is queried from inside the namespace with curl.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { LabLike } from './agent.js';
import { sleep, start, type Running } from './exec.js';

export interface PromOptions {
  /** host:port targets, scraped as job `job`. */
  targets: string[];
  job?: string;
  /** Target labels added to every series (e.g. node). */
  labels?: Record<string, string>;
  /** Rule files to load (absolute paths). */
  ruleFiles?: string[];
  /** Native histograms on: Prometheus asks for the protobuf exposition and keeps histograms that have native buckets as native ones only. */
  nativeHistograms?: boolean;
}

export interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

export interface PromRule {
  name: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  state?: 'inactive' | 'pending' | 'firing';
  alerts?: { labels: Record<string, string>; state: string; value: string }[];
}

export class PrometheusProc {
  private constructor(
    private readonly lab: LabLike,
    private readonly ns: string,
    readonly port: number,
    readonly proc: Running,
    private readonly dir: string,
  ) {}

  static async start(lab: LabLike, ns: string, opts: PromOptions): Promise<PrometheusProc> {
    const dir = mkdtempSync(join(tmpdir(), 'tcpulse-prom-'));
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: opts.ruleFiles ?? [],
      scrape_configs: [{ job_name: opts.job ?? 'tcpulse', static_configs: [{ targets: opts.targets, labels: opts.labels ?? {} }] }],
    };
    writeFileSync(join(dir, 'prometheus.yml'), YAML.stringify(config));
    // a free port in the namespace: the kernel picks one
    const pick = await lab.exec(ns, 'python3', ['-c', 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']);
    const port = Number(pick.stdout.trim());
    const [cmd, argv] = lab.argv(ns, 'prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...(opts.nativeHistograms ? ['--enable-feature=native-histograms'] : []),
    ]);
    const p = new PrometheusProc(lab, ns, port, start(cmd, argv), dir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (p.proc.proc.exitCode !== null) throw new Error(`prometheus exited ${p.proc.proc.exitCode}: ${p.proc.stderr()}`);
      const r = await lab.exec(ns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/-/ready`], { allowFail: true });
      if (r.stdout === '200') return p;
      if (Date.now() > deadline) {
        await p.stop();
        throw new Error(`prometheus not ready: ${p.proc.stderr()}`);
      }
      await sleep(200);
    }
  }

  /** GET (or POST form) an API path from inside the namespace; throws on an API error. */
  async api<T>(path: string, form: [string, string][] = []): Promise<T> {
    const args = ['-s', '--max-time', '20', ...form.flatMap(([k, v]) => ['--data-urlencode', `${k}=${v}`]), `http://127.0.0.1:${this.port}${path}`];
    const r = await this.lab.exec(this.ns, 'curl', args);
    let body: ApiResponse<T>;
    try {
      body = JSON.parse(r.stdout) as ApiResponse<T>;
    } catch {
      throw new Error(`${path}: not JSON: ${r.stdout.slice(0, 500)}`);
    }
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(form)}: ${body.errorType}: ${body.error}`);
    return body.data;
  }

  /** An instant query now; the result as a vector (scalars become one unlabelled sample). */
  async query(expr: string): Promise<PromVector[]> {
    const d = await this.api<{ resultType: string; result: unknown }>('/api/v1/query', [['query', expr]]);
    if (d.resultType === 'vector') return d.result as PromVector[];
    if (d.resultType === 'scalar') return [{ metric: {}, value: d.result as [number, string] }];
    throw new Error(`${expr}: unexpected result type ${d.resultType}`);
  }

  /** Waits until expr has a result (e.g. the first scrape is in). */
  async waitFor(expr: string, ms = 20_000): Promise<PromVector[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = await this.query(expr);
      if (r.length > 0) return r;
      if (Date.now() > deadline) throw new Error(`no result for ${expr} after ${ms} ms`);
      await sleep(250);
    }
  }

  /** Values of a label over the series matching a selector (Grafana's label_values()). */
  labelValues(label: string, match: string): Promise<string[]> {
    return this.api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`);
  }

  async rules(): Promise<PromRule[]> {
    const d = await this.api<{ groups: { rules: PromRule[] }[] }>('/api/v1/rules');
    return d.groups.flatMap((g) => g.rules);
  }

  async targets(): Promise<{ health: string; lastError: string; labels: Record<string, string> }[]> {
    const d = await this.api<{ activeTargets: { health: string; lastError: string; labels: Record<string, string> }[] }>('/api/v1/targets');
    return d.activeTargets;
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
