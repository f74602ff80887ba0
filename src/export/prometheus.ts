/**
 * Prometheus exposition of snapshots, from the family table (families.ts).
 * The series families (thousands of series) are written by text.ts
 * straight from the last snapshot, keeping the kernel's bucket bounds; the
 * agent's own families go through a prom-client registry, next to its
 * process and Node.js metrics. Nothing is observed twice.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import client from 'prom-client';
import type { Config } from '../config/options.js';
import { AGENT_FAMILIES, histogramPlans, SCRAPE_FAMILY, seriesFamilies, seriesHas, type AgentFamily, type SeriesFamily } from './families.js';
import type { BucketPlan } from './buckets.js';
import type { Snapshot } from './snapshot.js';
import { header, histogram, labelString, sample, smallHistogram } from './text.js';

/** Series (of one family) written between two turns of the event loop: ~5 ms of work. */
const SAMPLES_PER_TURN = 500;

/** A prom-client metric whose values come from the last snapshot at scrape time. */
class FamilyMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';

  constructor(
    private readonly family: AgentFamily,
    private readonly snap: () => Snapshot | null,
  ) {
    this.name = family.name;
    this.help = family.help;
    this.type = family.kind;
  }

  get() {
    const s = this.snap();
    const values = s ? this.family.values(s).map(([labels, value]) => ({ labels, value })) : [];
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  reset(): void {}
}

export interface PrometheusOptions {
  localRtt: boolean;
  histograms: Config['histograms'];
}

export class PrometheusExporter {
  readonly registry = new client.Registry();
  private snap: Snapshot | null = null;
  /** the series families of a snapshot as text, made by the first scrape after it */
  private seriesText: { snap: Snapshot | null; text: Promise<Buffer> } | null = null;
  private readonly scrapeDuration: client.Histogram;
  private readonly plans: ReadonlyMap<SeriesFamily, BucketPlan>;
  private readonly series: readonly SeriesFamily[];
  /** per series family, the `k="v"` of its own label sets */
  private readonly extras = new Map<SeriesFamily, readonly string[]>();

  constructor(opts: PrometheusOptions) {
    this.series = seriesFamilies(opts);
    this.plans = histogramPlans(this.series, opts.histograms);
    for (const f of this.series) {
      this.extras.set(f, (f.labels ?? []).map((set) => labelString(set)));
    }
    const r = this.registry;
    for (const f of AGENT_FAMILIES) r.registerMetric(new FamilyMetric(f, () => this.snap) as unknown as client.Metric);
    this.scrapeDuration = new client.Histogram({
      name: SCRAPE_FAMILY.name,
      help: SCRAPE_FAMILY.help,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [r],
    });
    client.collectDefaultMetrics({ register: r });
    // gauges named like counters: promtool rejects them, nobody needs them
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      r.removeSingleMetric(name);
    }
  }

  update(snap: Snapshot): void {
    this.snap = snap;
  }

  /** The series families, from the last snapshot: written once per snapshot, whatever the number of scrapes. */
  private renderSeries(): Promise<Buffer> {
    if (this.seriesText?.snap !== this.snap) this.seriesText = { snap: this.snap, text: this.writeSeries(this.snap) };
    return this.seriesText.text;
  }

  /** Gives the event loop a turn every SAMPLES_PER_TURN series samples: thousands of series never stall it. */
  private async writeSeries(snap: Snapshot | null): Promise<Buffer> {
    const out: string[] = [];
    const series = snap?.series ?? [];
    const labelsOf = series.map((s) => labelString(s.labels)); // once per series, not per family
    let samples = 0;
    for (const f of this.series) {
      header(out, f.name, f.kind, f.help);
      const extras = this.extras.get(f)!;
      for (let i = 0; i < series.length; i++) {
        const s = series[i]!;
        if (!seriesHas(f, s)) continue;
        const labels = labelsOf[i]!;
        if (f.hist) histogram(out, f.name, labels, f.hist.pick(s), this.plans.get(f)!, f.hist.sumScale);
        else if (f.small) smallHistogram(out, f.name, labels, f.small.counts(s), f.small.sum(s), f.small.max);
        else f.values!(s).forEach((v, j) => sample(out, f.name, labels, v, extras[j]));
        if (++samples % SAMPLES_PER_TURN === 0) await nextTurn();
      }
    }
    return Buffer.from(out.join('\n') + '\n');
  }

  /** /metrics: the series families, then the agent's own and prom-client's (process, Node.js). */
  async render(): Promise<Buffer> {
    const end = this.scrapeDuration.startTimer();
    try {
      const series = await this.renderSeries();
      return Buffer.concat([series, Buffer.from('\n' + (await this.registry.metrics()))]);
    } finally {
      end();
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
