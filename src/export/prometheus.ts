/**
 * Prometheus exposition of snapshots, from the family table (families.ts),
 * in the format the scraper asks for (accept.ts): the text format, or the
 * protobuf one (proto.ts) with native histograms. The series families
 * (thousands of series) are written straight from the last snapshot, once
 * per snapshot and format, keeping the kernel's buckets; the agent's own
 * families go through a prom-client registry, next to its process and
 * Node.js metrics. Nothing is observed twice.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import client from 'prom-client';
import type { Config } from '../config/options.js';
import { AGENT_FAMILIES, histogramPlans, SCRAPE_FAMILY, seriesFamilies, seriesHas, type AgentFamily, type SeriesFamily } from './families.js';
import type { BucketPlan } from './buckets.js';
import type { Snapshot } from './snapshot.js';
import type { SeriesView } from './snapshot.js';
import type { Format } from './accept.js';
import { classicHistogram, familyHead, kernelHistogram, labelPairs, PROTOBUF_TYPE, scalar, TYPE, type ClassicBuckets } from './proto.js';
import { ProtoWriter } from './protobuf.js';
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

/** Writes the series families in one format, family by family, series by series. */
interface SeriesEncoder {
  family(f: SeriesFamily): void;
  series(f: SeriesFamily, s: SeriesView, i: number): void;
  finish(): Buffer;
}

class TextEncoder implements SeriesEncoder {
  private readonly out: string[] = [];
  /** once per series, not per family */
  private readonly labels: readonly string[];

  constructor(
    series: readonly SeriesView[],
    private readonly plans: ReadonlyMap<SeriesFamily, BucketPlan>,
    private readonly extras: ReadonlyMap<SeriesFamily, readonly string[]>,
  ) {
    this.labels = series.map((s) => labelString(s.labels));
  }

  family(f: SeriesFamily): void {
    header(this.out, f.name, f.kind, f.help);
  }

  series(f: SeriesFamily, s: SeriesView, i: number): void {
    const labels = this.labels[i]!;
    if (f.hist) histogram(this.out, f.name, labels, f.hist.pick(s), this.plans.get(f)!, f.hist.sumScale);
    else if (f.small) smallHistogram(this.out, f.name, labels, f.small.counts(s), f.small.sum(s), f.small.max);
    else {
      const extras = this.extras.get(f)!;
      f.values!(s).forEach((v, j) => sample(this.out, f.name, labels, v, extras[j]));
    }
  }

  finish(): Buffer {
    return Buffer.from(this.out.join('\n') + '\n');
  }
}

/** The small integer histograms' buckets 1..max, cumulative. */
function smallBuckets(counts: ReadonlyMap<number, number>, max: number): ClassicBuckets {
  const out: [number, number][] = [];
  let cum = 0;
  for (let le = 1; le <= max; le++) out.push([le, (cum += counts.get(le) ?? 0)]);
  return out;
}

class ProtoEncoder implements SeriesEncoder {
  private readonly out = new ProtoWriter(1 << 16);
  private readonly body = new ProtoWriter(1 << 16);
  private open = false;

  constructor(
    private readonly plans: ReadonlyMap<SeriesFamily, BucketPlan>,
    private readonly extras: ReadonlyMap<SeriesFamily, readonly Buffer[]>,
  ) {}

  family(f: SeriesFamily): void {
    this.close();
    this.body.reset();
    familyHead(this.body, f.name, f.help, TYPE[f.kind]);
    this.open = true;
  }

  private close(): void {
    if (this.open) this.out.delimitedFrom(this.body);
    this.open = false;
  }

  series(f: SeriesFamily, s: SeriesView): void {
    const labels = labelPairs(s.labels);
    if (f.hist) kernelHistogram(this.body, [labels], f.hist.pick(s), this.plans.get(f)!, f.hist.scale, f.hist.sumScale);
    else if (f.small) {
      const counts = f.small.counts(s);
      let total = 0;
      for (const c of counts.values()) total += c;
      classicHistogram(this.body, [labels], smallBuckets(counts, f.small.max), f.small.sum(s), total);
    } else {
      const extras = this.extras.get(f)!;
      const type = TYPE[f.kind];
      f.values!(s).forEach((v, j) => scalar(this.body, type, extras[j] ? [labels, extras[j]] : [labels], v));
    }
  }

  finish(): Buffer {
    this.close();
    return this.out.finish();
  }
}

/** prom-client's metrics (the agent's families, process, Node.js) as protobuf families. */
function registryProto(metrics: Awaited<ReturnType<client.Registry['getMetricsAsJSON']>>): Buffer {
  const out = new ProtoWriter();
  const body = new ProtoWriter();
  for (const m of metrics) {
    body.reset();
    const kind = String(m.type); // a string at run time, whatever the typings say
    const type = kind === 'counter' || kind === 'gauge' || kind === 'histogram' ? TYPE[kind] : TYPE.untyped;
    familyHead(body, m.name, m.help, type);
    if (kind === 'histogram') {
      // bucket, sum and count samples, grouped by their labels but le
      const byLabels = new Map<string, { labels: Record<string, string>; buckets: [number, number][]; sum: number; count: number }>();
      for (const v of m.values) {
        const { le, ...rest } = v.labels as Record<string, string | number>;
        const key = JSON.stringify(rest);
        let h = byLabels.get(key);
        if (!h) byLabels.set(key, (h = { labels: Object.fromEntries(Object.entries(rest).map(([k, x]) => [k, String(x)])), buckets: [], sum: 0, count: 0 }));
        const name = (v as { metricName?: string }).metricName ?? '';
        if (name.endsWith('_bucket') && le !== '+Inf') h.buckets.push([Number(le), v.value]);
        else if (name.endsWith('_sum')) h.sum = v.value;
        else if (name.endsWith('_count')) h.count = v.value;
      }
      for (const h of byLabels.values()) classicHistogram(body, [labelPairs(h.labels)], h.buckets, h.sum, h.count);
    } else {
      for (const v of m.values) scalar(body, type, [labelPairs(Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])))], v.value);
    }
    out.delimitedFrom(body);
  }
  return out.finish();
}

export class PrometheusExporter {
  readonly registry = new client.Registry();
  private snap: Snapshot | null = null;
  /** the series families of a snapshot, per format, made by the first scrape after it */
  private readonly written = new Map<Format, { snap: Snapshot | null; bytes: Promise<Buffer> }>();
  private readonly scrapeDuration: client.Histogram;
  private readonly plans: ReadonlyMap<SeriesFamily, BucketPlan>;
  private readonly series: readonly SeriesFamily[];
  /** per series family, its own label sets, as text (`k="v"`) and as protobuf label pairs */
  private readonly extras = new Map<SeriesFamily, readonly string[]>();
  private readonly protoExtras = new Map<SeriesFamily, readonly Buffer[]>();

  constructor(opts: PrometheusOptions) {
    this.series = seriesFamilies(opts);
    this.plans = histogramPlans(this.series, opts.histograms);
    for (const f of this.series) {
      this.extras.set(f, (f.labels ?? []).map((set) => labelString(set)));
      this.protoExtras.set(f, (f.labels ?? []).map((set) => labelPairs(set)));
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

  /** The series families, from the last snapshot: written once per snapshot and format, whatever the number of scrapes. */
  private renderSeries(format: Format): Promise<Buffer> {
    let w = this.written.get(format);
    if (w?.snap !== this.snap) this.written.set(format, (w = { snap: this.snap, bytes: this.writeSeries(this.snap, format) }));
    return w.bytes;
  }

  /** Gives the event loop a turn every SAMPLES_PER_TURN series samples: thousands of series never stall it. */
  private async writeSeries(snap: Snapshot | null, format: Format): Promise<Buffer> {
    const series = snap?.series ?? [];
    const enc: SeriesEncoder = format === 'text' ? new TextEncoder(series, this.plans, this.extras) : new ProtoEncoder(this.plans, this.protoExtras);
    let samples = 0;
    for (const f of this.series) {
      enc.family(f);
      for (let i = 0; i < series.length; i++) {
        const s = series[i]!;
        if (!seriesHas(f, s)) continue;
        enc.series(f, s, i);
        if (++samples % SAMPLES_PER_TURN === 0) await nextTurn();
      }
    }
    return enc.finish();
  }

  /** /metrics: the series families, then the agent's own and prom-client's (process, Node.js). */
  async render(format: Format = 'text'): Promise<Buffer> {
    const end = this.scrapeDuration.startTimer();
    try {
      const series = await this.renderSeries(format);
      const rest = format === 'text' ? Buffer.from('\n' + (await this.registry.metrics())) : registryProto(await this.registry.getMetricsAsJSON());
      return Buffer.concat([series, rest]);
    } finally {
      end();
    }
  }

  contentType(format: Format): string {
    return format === 'text' ? this.registry.contentType : PROTOBUF_TYPE;
  }
}
