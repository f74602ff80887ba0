/**
 * /metrics in both formats: content negotiation as Prometheus does it, and
 * the protobuf exposition read back by an independent reader
 * (test/helpers/protoread.ts): the same families as the text, the kernel
 * histograms as native schema-2 histograms holding exactly the kernel's
 * buckets (spans and gaps included), and the same classic buckets as the
 * text. test/e2e/native-histograms.test.ts has a real Prometheus read it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { negotiate } from '../../src/export/accept.js';
import { PrometheusExporter } from '../../src/export/prometheus.js';
import type { Snapshot } from '../../src/export/snapshot.js';
import { nativeIndex, zeroThreshold } from '../../src/flows/histogram.js';
import { bucketShape } from '../../src/flows/counters.js';
import { Series } from '../../src/flows/series.js';
import { parseProm } from '../helpers/prom.js';
import { dbl, msgs, num, packed, readDelimited, readFields, str, unzigzag } from '../helpers/protoread.js';

const PROMETHEUS_NATIVE = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROMETHEUS_CLASSIC = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('content negotiation', () => {
  it('gives protobuf only to a scraper that prefers delimited MetricFamily messages', () => {
    assert.equal(negotiate(PROMETHEUS_NATIVE), 'protobuf');
    assert.equal(negotiate(PROMETHEUS_CLASSIC), 'text');
    assert.equal(negotiate(undefined), 'text');
    assert.equal(negotiate('*/*'), 'text');
    assert.equal(negotiate('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text'), 'text', 'the text encoding of protobuf is not served');
    assert.equal(negotiate('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain;q=0.5'), 'text');
    assert.equal(negotiate('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0'), 'text');
  });
});

/** Kernel buckets with samples: a run, a gap of two (kept inside a span), a gap of five (a new span), the zero bucket. */
const KERNEL = new Map([[0, 2], [40, 3], [41, 1], [44, 7], [50, 5], [98, 1]]);

function snapshot(): Snapshot {
  const s = new Series('x', { local_address: '10.0.0.1', peer_address: '10.0.0.2', server_port: '80' }, 0);
  s.hasFlows = s.hasSockets = true;
  const h = s.current.rtt[0]!;
  for (const [k, c] of KERNEL) {
    h.hist[k] = c;
    h.count += c;
  }
  h.sum = 123_456_789; // ns
  return {
    timeNs: 1, series: [s.view()], kernel: {} as Snapshot['kernel'], tables: [], overflowTotal: 0, roundSeconds: 0, roundErrors: 0, sources: [], probes: [], interfaces: [],
    flowEvents: {}, connectionLogRecords: 0, interfaceEvents: { attached: 0, detached: 0, failed: 0 }, programs: [], build: { version: '0', kernel: 'k', bpfObjects: 'current' },
  } as unknown as Snapshot;
}

describe('the protobuf exposition', () => {
  const prom = new PrometheusExporter({ localRtt: false, histograms: { rtt: 'coarse', srtt: 'none', cwnd: 'none' } });
  prom.update(snapshot());

  it('has the families of the text, with their types', async () => {
    const text = (await prom.render('text')).toString();
    const textTypes = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const families = readDelimited(await prom.render('protobuf')).map(readFields);
    const TYPES = ['counter', 'gauge', 'summary', 'untyped', 'histogram'];
    const protoTypes = new Map(families.map((f) => [str(f, 1), TYPES[num(f, 3)]!]));
    assert.deepEqual(protoTypes, textTypes);
    assert.equal(prom.contentType('protobuf'), 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
  });

  it('carries the kernel histogram as a native one of schema 2, bucket for bucket, and the classic buckets of the text', async () => {
    const families = readDelimited(await prom.render('protobuf')).map(readFields);
    const rtt = families.find((f) => str(f, 1) === 'tcpulse_rtt_seconds')!;
    const [metric] = msgs(rtt, 4);
    const labels = Object.fromEntries(msgs(metric!, 1).map((l) => [str(l, 1), str(l, 2)]));
    assert.deepEqual(labels, { local_address: '10.0.0.1', peer_address: '10.0.0.2', server_port: '80' });
    const [h] = msgs(metric!, 7);
    const total = [...KERNEL.values()].reduce((a, b) => a + b, 0);
    assert.equal(num(h!, 1), total, 'sample_count');
    assert.equal(dbl(h!, 2), 123_456_789 * 1e-9, 'sample_sum in seconds');
    assert.equal(unzigzag(num(h!, 5)), 2, 'schema');
    assert.equal(dbl(h!, 6), zeroThreshold('seconds'));
    assert.equal(num(h!, 7), KERNEL.get(0), 'zero_count: kernel bucket 0');
    // spans and deltas back to native buckets
    const spans = msgs(h!, 12).map((s) => [unzigzag(num(s, 1)), num(s, 2)] as const);
    const deltas = packed(h!, 13).map(unzigzag);
    const native = new Map<number, number>();
    let i = 0;
    let n = 0;
    let count = 0;
    for (const [j, [offset, length]] of spans.entries()) {
      i = j === 0 ? offset : i + offset;
      for (let x = 0; x < length; x++, i++) {
        count += deltas[n++]!;
        if (count) native.set(i, count);
      }
    }
    assert.equal(n, deltas.length, 'one delta per bucket of the spans');
    assert.equal(spans.length, 3, 'gaps up to two buckets stay inside a span');
    assert.deepEqual(native, new Map([...KERNEL].filter(([k]) => k > 0).map(([k, c]) => [nativeIndex('seconds', k), c])));
    // the classic buckets: what the text has, +Inf left to the count
    const classic = msgs(h!, 3).map((b) => [dbl(b, 2), num(b, 1)]);
    const text = parseProm((await prom.render('text')).toString()).filter((s) => s.name === 'tcpulse_rtt_seconds_bucket' && s.labels.le !== '+Inf');
    assert.deepEqual(classic, text.map((s) => [Number(s.labels.le), s.value]));
    assert.ok(classic.length > 10);
  });
});

describe('histograms without buckets (spacing none)', () => {
  const shape = bucketShape({ localRtt: false, histograms: { rtt: 'none', srtt: 'none', cwnd: 'none' } });
  const s = new Series('x', { local_address: '10.0.0.1', peer_address: '10.0.0.2', server_port: '80' }, 0, shape);
  s.hasFlows = true;
  const value = Buffer.alloc(4 * 100);
  value.writeUInt32LE(5, 4 * 40); // kernel buckets a series without buckets never reads
  s.current.rtt[0].addBuckets(value, 0, 5, 2_000_000);
  const prom = new PrometheusExporter({ localRtt: false, histograms: { rtt: 'none', srtt: 'none', cwnd: 'none' } });
  prom.update({ ...snapshot(), series: [s.view()] });

  it('keep count and sum only, and no bucket in the series', () => {
    assert.equal(s.current.rtt[0].hist.length, 0);
    assert.equal(s.current.rtt[0].count, 5);
  });

  it('are count and sum in the text and a classic histogram without buckets in protobuf', async () => {
    const text = parseProm((await prom.render('text')).toString()).filter((x) => x.name.startsWith('tcpulse_rtt_seconds'));
    assert.deepEqual(text.map((x) => [x.name, x.labels.le, x.value]), [
      ['tcpulse_rtt_seconds_bucket', '+Inf', 5],
      ['tcpulse_rtt_seconds_sum', undefined, 0.002],
      ['tcpulse_rtt_seconds_count', undefined, 5],
    ]);
    const rtt = readDelimited(await prom.render('protobuf')).map(readFields).find((f) => str(f, 1) === 'tcpulse_rtt_seconds')!;
    const [h] = msgs(msgs(rtt, 4)[0]!, 7);
    assert.equal(num(h!, 1), 5);
    assert.equal(dbl(h!, 2), 0.002);
    assert.equal(h!.get(5), undefined, 'no schema: not a native histogram');
    assert.deepEqual(msgs(h!, 3), []);
  });
});
