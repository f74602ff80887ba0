/**
 * Prometheus exposition of snapshots, from the family table (families.ts),
 * in the format the scraper asks for (accept.ts): the text format (text.ts),
 * or the protobuf one (proto.ts) with native histograms. The series
 * families (thousands of series) are written straight from the last
 * snapshot, once per snapshot and format, keeping the kernel's buckets;
 * the agent's own families, the process' (process.ts) and the scrape
 * duration are written at each scrape. Nothing is observed twice, and no
 * metrics library sits in between.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Config } from '../config/options.js';
import { AGENT_FAMILIES, histogramPlans, SCRAPE_FAMILY, seriesFamilies, seriesHas, type LabelSet, type SeriesFamily } from './families.js';
import type { BucketPlan } from './buckets.js';
import type { Format } from './accept.js';
import { PROCESS_FAMILIES, ProcessMetrics } from './process.js';
import { classicHistogram, familyHead, kernelHistogram, labelPairs, PROTOBUF_TYPE, scalar, TYPE, type ClassicBuckets } from './proto.js';
import { ProtoWriter } from './protobuf.js';
import type { SeriesView, Snapshot } from './snapshot.js';
import { header, histogram, labelString, sample, classicHistogram as textClassic } from './text.js';

/** Series (of one family) written between two turns of the event loop: ~5 ms of work. */
const SAMPLES_PER_TURN = 500;
const TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Bounds of tcpulse_scrape_duration_seconds. */
const SCRAPE_BOUNDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

type Kind = 'counter' | 'gauge' | 'histogram';

/** Writes families in one format: a family, then its samples. */
interface Encoder {
  family(name: string, help: string, kind: Kind): void;
  /** a series family's samples for one series */
  series(f: SeriesFamily, s: SeriesView, i: number): void;
  scalar(name: string, labels: LabelSet, value: number, kind: 'counter' | 'gauge'): void;
  histogram(name: string, labels: LabelSet, buckets: ClassicBuckets, sum: number, count: number): void;
  finish(): Buffer;
}

/** The small integer histograms' buckets 1..max, cumulative, and their count. */
function smallBuckets(counts: ReadonlyMap<number, number>, max: number): { buckets: ClassicBuckets; count: number } {
  const buckets: [number, number][] = [];
  let cum = 0;
  for (let le = 1; le <= max; le++) buckets.push([le, (cum += counts.get(le) ?? 0)]);
  let count = 0;
  for (const c of counts.values()) count += c;
  return { buckets, count };
}

class TextEncoder implements Encoder {
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

  family(name: string, help: string, kind: Kind): void {
    header(this.out, name, kind, help);
  }

  series(f: SeriesFamily, s: SeriesView, i: number): void {
    const labels = this.labels[i]!;
    if (f.hist) histogram(this.out, f.name, labels, f.hist.pick(s), this.plans.get(f)!, f.hist.sumScale);
    else if (f.small) {
      const { buckets, count } = smallBuckets(f.small.counts(s), f.small.max);
      textClassic(this.out, f.name, labels, buckets, f.small.sum(s), count);
    } else {
      const extras = this.extras.get(f)!;
      f.values!(s).forEach((v, j) => sample(this.out, f.name, labels, v, extras[j]));
    }
  }

  scalar(name: string, labels: LabelSet, value: number): void {
    sample(this.out, name, labelString(labels), value);
  }

  histogram(name: string, labels: LabelSet, buckets: ClassicBuckets, sum: number, count: number): void {
    textClassic(this.out, name, labelString(labels), buckets, sum, count);
  }

  finish(): Buffer {
    return Buffer.from(this.out.join('\n') + '\n');
  }
}

class ProtoEncoder implements Encoder {
  private readonly out = new ProtoWriter(1 << 16);
  private readonly body = new ProtoWriter(1 << 16);
  private open = false;

  constructor(
    private readonly plans: ReadonlyMap<SeriesFamily, BucketPlan>,
    private readonly extras: ReadonlyMap<SeriesFamily, readonly Buffer[]>,
  ) {}

  family(name: string, help: string, kind: Kind): void {
    this.close();
    this.body.reset();
    familyHead(this.body, name, help, TYPE[kind]);
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
      const { buckets, count } = smallBuckets(f.small.counts(s), f.small.max);
      classicHistogram(this.body, [labels], buckets, f.small.sum(s), count);
    } else {
      const extras = this.extras.get(f)!;
      const type = TYPE[f.kind];
      f.values!(s).forEach((v, j) => scalar(this.body, type, extras[j] ? [labels, extras[j]] : [labels], v));
    }
  }

  scalar(_name: string, labels: LabelSet, value: number, kind: 'counter' | 'gauge'): void {
    scalar(this.body, TYPE[kind], [labelPairs(labels)], value);
  }

  histogram(_name: string, labels: LabelSet, buckets: ClassicBuckets, sum: number, count: number): void {
    classicHistogram(this.body, [labelPairs(labels)], buckets, sum, count);
  }

  finish(): Buffer {
    this.close();
    return this.out.finish();
  }
}

export interface PrometheusOptions {
  localRtt: boolean;
  histograms: Config['histograms'];
}

export class PrometheusExporter {
  private snap: Snapshot | null = null;
  /** the series families of a snapshot, per format, made by the first scrape after it */
  private readonly written = new Map<Format, { snap: Snapshot | null; bytes: Promise<Buffer> }>();
  private readonly plans: ReadonlyMap<SeriesFamily, BucketPlan>;
  private readonly series: readonly SeriesFamily[];
  /** per series family, its own label sets, as text (`k="v"`) and as protobuf label pairs */
  private readonly extras = new Map<SeriesFamily, readonly string[]>();
  private readonly protoExtras = new Map<SeriesFamily, readonly Buffer[]>();
  private readonly process = new ProcessMetrics();
  /** scrape durations: per bound, not cumulative; their sum */
  private readonly scrapes = { counts: new Array<number>(SCRAPE_BOUNDS.length + 1).fill(0), sum: 0 };

  constructor(opts: PrometheusOptions) {
    this.series = seriesFamilies(opts);
    this.plans = histogramPlans(this.series, opts.histograms);
    for (const f of this.series) {
      this.extras.set(f, (f.labels ?? []).map((set) => labelString(set)));
      this.protoExtras.set(f, (f.labels ?? []).map((set) => labelPairs(set)));
    }
  }

  update(snap: Snapshot): void {
    this.snap = snap;
  }

  private encoder(format: Format, series: readonly SeriesView[]): Encoder {
    return format === 'text' ? new TextEncoder(series, this.plans, this.extras) : new ProtoEncoder(this.plans, this.protoExtras);
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
    const enc = this.encoder(format, series);
    let samples = 0;
    for (const f of this.series) {
      enc.family(f.name, f.help, f.kind);
      for (let i = 0; i < series.length; i++) {
        const s = series[i]!;
        if (!seriesHas(f, s)) continue;
        enc.series(f, s, i);
        if (++samples % SAMPLES_PER_TURN === 0) await nextTurn();
      }
    }
    return enc.finish();
  }

  /** The agent's own families, the process', and the scrape durations so far: a few dozen samples, at each scrape. */
  private writeAgent(format: Format): Buffer {
    const enc = this.encoder(format, []);
    const snap = this.snap;
    for (const f of AGENT_FAMILIES) {
      enc.family(f.name, f.help, f.kind);
      if (snap) for (const [labels, v] of f.values(snap)) enc.scalar(f.name, labels, v, f.kind);
    }
    const p = this.process.sample();
    for (const f of PROCESS_FAMILIES) {
      enc.family(f.name, f.help, f.kind);
      enc.scalar(f.name, {}, f.value(p), f.kind);
    }
    enc.family(SCRAPE_FAMILY.name, SCRAPE_FAMILY.help, SCRAPE_FAMILY.kind);
    let cum = 0;
    const buckets = SCRAPE_BOUNDS.map((b, i) => [b, (cum += this.scrapes.counts[i]!)] as const);
    enc.histogram(SCRAPE_FAMILY.name, {}, buckets, this.scrapes.sum, cum + this.scrapes.counts.at(-1)!);
    return enc.finish();
  }

  /** /metrics: the series families, then the agent's own and the process'. */
  async render(format: Format = 'text'): Promise<Buffer> {
    const t0 = performance.now();
    try {
      const series = await this.renderSeries(format);
      return Buffer.concat([series, this.writeAgent(format)]);
    } finally {
      const seconds = (performance.now() - t0) / 1000;
      const i = SCRAPE_BOUNDS.findIndex((b) => seconds <= b);
      this.scrapes.counts[i < 0 ? SCRAPE_BOUNDS.length : i]!++;
      this.scrapes.sum += seconds;
    }
  }

  contentType(format: Format): string {
    return format === 'text' ? TEXT_TYPE : PROTOBUF_TYPE;
  }

  close(): void {
    this.process.close();
  }
}
