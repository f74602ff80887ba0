/**
 * The Prometheus protobuf exposition (io.prometheus.client.MetricFamily,
 * length-delimited): what Prometheus asks for when native histograms are
 * on. Kernel histograms go out as native histograms of schema 2 with every
 * kernel bucket as it is (the kernel's buckets are that schema's, see
 * src/flows/histogram.ts), and with the classic buckets of their plan as
 * well, so that a Prometheus that keeps classic histograms too
 * (scrape_classic_histograms) gets the same `le` series as from the text.
 */
import type { HistCounters } from '../flows/counters.js';
import { nativeIndex, SCHEMA, zeroThreshold, type Scale } from '../flows/histogram.js';
import type { Labels } from '../flows/series.js';
import type { BucketPlan } from './buckets.js';
import { ProtoWriter } from './protobuf.js';

export const PROTOBUF_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** MetricType */
export const TYPE = { counter: 0, gauge: 1, untyped: 3, histogram: 4 } as const;

/** Field numbers of client_model's metrics.proto. */
const F = {
  family: { name: 1, help: 2, type: 3, metric: 4 },
  metric: { label: 1, gauge: 2, counter: 3, untyped: 5, histogram: 7 },
  label: { name: 1, value: 2 },
  value: 1, // Gauge.value, Counter.value, Untyped.value
  hist: { count: 1, sum: 2, bucket: 3, schema: 5, zeroThreshold: 6, zeroCount: 7, positiveSpan: 12, positiveDelta: 13 },
  bucket: { cumulative: 1, upper: 2 },
  span: { offset: 1, length: 2 },
} as const;

const labelCache = new WeakMap<object, Buffer>();

/** The repeated Metric.label fields of a label set, encoded once per label object. */
export function labelPairs(labels: Labels | Readonly<Record<string, string>>): Buffer {
  let b = labelCache.get(labels);
  if (!b) {
    const w = new ProtoWriter(128);
    for (const [name, value] of Object.entries(labels)) w.message(F.metric.label, (l) => l.string(F.label.name, name).string(F.label.value, value));
    b = w.finish();
    labelCache.set(labels, b);
  }
  return b;
}

/** One MetricFamily's body: name, help, type; its metrics follow (metric()). */
export function familyHead(w: ProtoWriter, name: string, help: string, type: number): void {
  w.string(F.family.name, name).string(F.family.help, help).uint(F.family.type, type);
}

/** A counter, gauge or untyped metric. */
export function scalar(w: ProtoWriter, type: number, labels: readonly Uint8Array[], value: number): void {
  const field = type === TYPE.counter ? F.metric.counter : type === TYPE.gauge ? F.metric.gauge : F.metric.untyped;
  w.message(F.family.metric, (m) => {
    for (const l of labels) m.raw(l);
    m.message(field, (v) => v.double(F.value, value));
  });
}

/** Classic buckets: [upper bound, cumulative count], +Inf left out (it is the count). */
export type ClassicBuckets = readonly (readonly [number, number])[];

/** A classic histogram (small integer ones, the agent's own). */
export function classicHistogram(w: ProtoWriter, labels: readonly Uint8Array[], buckets: ClassicBuckets, sum: number, count: number): void {
  w.message(F.family.metric, (m) => {
    for (const l of labels) m.raw(l);
    m.message(F.metric.histogram, (h) => {
      h.uint(F.hist.count, count).double(F.hist.sum, sum);
      for (const [upper, cum] of buckets) h.message(F.hist.bucket, (b) => b.uint(F.bucket.cumulative, cum).double(F.bucket.upper, upper));
    });
  });
}

/** Spans join runs of buckets with gaps up to this long: a span costs more than two zero deltas. */
const MAX_GAP = 2;

/**
 * A kernel histogram: native schema 2 (zero bucket = kernel bucket 0, native
 * bucket nativeIndex(k) = kernel bucket k), and the plan's classic buckets.
 * The count is the buckets' total, as in the text.
 */
export function kernelHistogram(w: ProtoWriter, labels: readonly Uint8Array[], h: HistCounters, plan: BucketPlan, scale: Scale, sumScale: number): void {
  const hist = h.hist;
  if (hist.length === 0) return classicHistogram(w, labels, [], h.sum * sumScale, h.count); // spacing none: count and sum alone
  let count = 0;
  for (let k = 0; k < hist.length; k++) count += hist[k]!;
  w.message(F.family.metric, (m) => {
    for (const l of labels) m.raw(l);
    m.message(F.metric.histogram, (p) => {
      p.uint(F.hist.count, count).double(F.hist.sum, h.sum * sumScale);
      let cum = 0;
      let k = 0;
      for (let j = 0; j < plan.indices.length; j++) {
        for (; k <= plan.indices[j]!; k++) cum += hist[k]!;
        const c = cum;
        p.message(F.hist.bucket, (b) => b.uint(F.bucket.cumulative, c).double(F.bucket.upper, plan.bounds[j]!));
      }
      p.sint(F.hist.schema, SCHEMA).double(F.hist.zeroThreshold, zeroThreshold(scale)).uint(F.hist.zeroCount, hist[0]!);
      const deltas: number[] = [];
      let prev = 0;
      let last = -1; // native index of the last bucket written
      let spanStart = 0;
      let spanLen = 0;
      const closeSpan = () => {
        if (spanLen) p.message(F.hist.positiveSpan, (s) => s.sint(F.span.offset, spanStart).uint(F.span.length, spanLen));
      };
      for (let kk = 1; kk < hist.length; kk++) {
        const c = hist[kk]!;
        if (c === 0) continue;
        const i = nativeIndex(scale, kk);
        if (spanLen && i - last - 1 <= MAX_GAP) {
          for (let z = last + 1; z < i; z++) {
            deltas.push(-prev);
            prev = 0;
          }
          spanLen += i - last;
        } else {
          closeSpan();
          spanStart = spanLen ? i - last - 1 : i; // the first span's offset is its index, the others' the gap
          spanLen = 1;
        }
        deltas.push(c - prev);
        prev = c;
        last = i;
      }
      closeSpan();
      if (deltas.length) p.packedSint(F.hist.positiveDelta, deltas);
    });
  });
}

