/**
 * Proves test/fakes/otlp/ against the real OpenTelemetry JS exporters
 * (SDK 2.12.x, exporters 0.223.x): metrics and spans over http/protobuf and
 * gRPC arrive decoded, OTLP/JSON is accepted, and the modes 'down', 'error'
 * and 'slow' produce the failures the exporters report.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { context, SpanKind, SpanStatusCode, trace, ValueType } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { nanosToMillis, OtlpReceiver, type OtlpReceiverOptions, type Transport } from '../fakes/otlp/index.js';

const TRANSPORTS: Transport[] = ['http', 'grpc'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function metricExporter(transport: Transport, base: string, timeoutMillis?: number): PushMetricExporter {
  // http/protobuf takes the full signal URL; grpc takes http://host:port (any path is ignored, with a warning)
  return transport === 'http' ? new ProtoMetricExporter({ url: `${base}/v1/metrics`, timeoutMillis }) : new GrpcMetricExporter({ url: base, timeoutMillis });
}

function traceExporter(transport: Transport, base: string, timeoutMillis?: number): SpanExporter {
  return transport === 'http' ? new ProtoTraceExporter({ url: `${base}/v1/traces`, timeoutMillis }) : new GrpcTraceExporter({ url: base, timeoutMillis });
}

/** One export straight through the exporter: its result and how long it took. */
function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ result: ExportResult; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => exporter.export(spans, (result) => resolve({ result, ms: Date.now() - t0 })));
}

/** A few finished ReadableSpans to hand to exporters directly. */
function someSpans(): ReadableSpan[] {
  const mem = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(mem)] });
  provider.getTracer('otlp-receiver-test').startSpan('probe', { attributes: { n: 1 } }).end();
  return mem.getFinishedSpans();
}

describe('OtlpReceiver with the OTel JS 0.223 exporters', () => {
  const receiver = new OtlpReceiver();
  const base: Record<Transport, string> = { http: '', grpc: '' };

  before(async () => {
    base.http = await receiver.startHttp();
    base.grpc = await receiver.startGrpc();
  });
  after(() => receiver.stop());

  for (const transport of TRANSPORTS) {
    test(`metrics over ${transport}: counter, gauges and explicit-bucket histogram decoded`, async (t) => {
      receiver.reset();
      const provider = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': 'otlp-receiver-test', 'test.transport': transport }),
        readers: [
          new PeriodicExportingMetricReader({ exporter: metricExporter(transport, base[transport]), exportIntervalMillis: 100, exportTimeoutMillis: 100 }),
        ],
      });
      t.after(() => provider.shutdown());
      const meter = provider.getMeter('otlp-receiver-test-meter', '1.2.3');

      const counter = meter.createCounter('test.requests', { unit: '{request}', description: 'requests served' });
      counter.add(3, { route: '/a' });
      counter.add(4, { route: '/a' });
      counter.add(5, { route: '/b' });
      meter.createGauge('test.temperature', { unit: 'Cel' }).record(21.5, { room: 'lab' });
      meter.createObservableGauge('test.queue', { valueType: ValueType.INT }).addCallback((r) => r.observe(7, { queue: 'q1' }));
      const latency = meter.createHistogram('test.latency', { unit: 's', advice: { explicitBucketBoundaries: [0.1, 1, 10] } });
      for (const v of [0.05, 0.5, 0.7, 5, 50]) latency.record(v, { route: '/a', 'http.status': 200 });

      await receiver.waitFor(() => receiver.latestPoint('test.latency', { route: '/a' })?.count === 5, 5000, 'histogram point');

      const requests = receiver.latestMetric('test.requests');
      assert.ok(requests);
      assert.equal(requests.transport, transport);
      assert.equal(requests.resource['service.name'], 'otlp-receiver-test');
      assert.equal(requests.resource['test.transport'], transport);
      assert.deepEqual(requests.scope, { name: 'otlp-receiver-test-meter', version: '1.2.3', attributes: {} });
      assert.equal(requests.metric.type, 'sum');
      assert.equal(requests.metric.isMonotonic, true);
      assert.equal(requests.metric.temporality, 'cumulative');
      assert.equal(requests.metric.unit, '{request}');
      assert.equal(requests.metric.description, 'requests served');
      assert.equal(receiver.latestPoint('test.requests', { route: '/a' })?.value, 7);
      assert.equal(receiver.latestPoint('test.requests', { route: '/b' })?.value, 5);
      assert.equal(receiver.latestPoint('test.requests', { route: '/c' }), undefined);

      const temperature = receiver.latestMetric('test.temperature');
      assert.equal(temperature?.metric.type, 'gauge');
      assert.equal(temperature?.metric.unit, 'Cel');
      assert.deepEqual(receiver.latestPoint('test.temperature')?.attributes, { room: 'lab' });
      assert.equal(receiver.latestPoint('test.temperature')?.value, 21.5);
      assert.equal(receiver.latestPoint('test.queue', { queue: 'q1' })?.value, 7); // asInt

      const hist = receiver.latestPoint('test.latency', { route: '/a', 'http.status': 200 });
      assert.ok(hist);
      assert.equal(receiver.latestMetric('test.latency')?.metric.type, 'histogram');
      assert.deepEqual(hist.explicitBounds, [0.1, 1, 10]);
      assert.deepEqual(hist.bucketCounts, [1, 2, 1, 1]);
      assert.equal(hist.count, 5);
      assert.equal(hist.sum, 56.25);
      assert.equal(hist.min, 0.05);
      assert.equal(hist.max, 50);
      assert.equal(hist.value, undefined);
      assert.deepEqual(hist.attributes, { route: '/a', 'http.status': 200 });
      assert.match(hist.timeUnixNano, /^\d{19}$/);
      assert.ok(BigInt(hist.timeUnixNano) >= BigInt(hist.startTimeUnixNano));
      assert.ok(Math.abs(nanosToMillis(hist.timeUnixNano) - Date.now()) < 10_000);

      // later exports carry the cumulative value; latestPoint follows them
      counter.add(10, { route: '/a' });
      await receiver.waitFor(() => receiver.latestPoint('test.requests', { route: '/a' })?.value === 17, 5000, 'counter at 17');
      const values = receiver.points('test.requests', { route: '/a' }).map((p) => p.value!);
      assert.ok(values.length >= 2);
      assert.deepEqual([...values].sort((a, b) => a - b), values, 'cumulative values never go back');

      assert.ok(receiver.requests.length >= 2);
      for (const r of receiver.requests) {
        assert.equal(r.transport, transport);
        assert.equal(r.signal, 'metrics');
        assert.equal(r.outcome, 'ok');
        assert.equal(r.contentType, transport === 'http' ? 'application/x-protobuf' : 'application/grpc');
        assert.match(r.headers['user-agent'] ?? '', /OTel-OTLP-Exporter-JavaScript\/0\.223\./);
      }
    });

    test(`spans over ${transport}: attributes, events, parents, status and resource decoded`, async (t) => {
      receiver.reset();
      const exporter = traceExporter(transport, base[transport]);
      const processor: SpanProcessor =
        transport === 'http' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, { scheduledDelayMillis: 50 });
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'otlp-receiver-test', 'k8s.node.name': 'node-1' }),
        spanProcessors: [processor],
      });
      t.after(() => provider.shutdown());
      const tracer = provider.getTracer('otlp-receiver-test-tracer', '0.0.1');

      const parent = tracer.startSpan('tcp.connection', {
        kind: SpanKind.SERVER,
        startTime: [1_700_000_000, 123_456_789],
        attributes: { 'network.peer.port': 443, 'tcp.srtt': 0.25, 'mptcp': false, 'net.tags': ['a', 'b'], 'net.ports': [1, 2, 3], 'peer.address': '10.0.0.1' },
      });
      parent.addEvent('tcp.retransmit', { 'tcp.seq': 1234, reason: 'rto' }, [1_700_000_000, 500_000_000]);
      parent.addEvent('bare');
      const child = tracer.startSpan('child', { kind: SpanKind.CLIENT }, trace.setSpan(context.active(), parent));
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'reset by peer' });
      child.end();
      parent.setStatus({ code: SpanStatusCode.OK });
      parent.end([1_700_000_001, 5]);
      await provider.forceFlush();
      await receiver.waitFor(() => receiver.spans.length === 2, 5000, 'two spans');

      const p = receiver.spans.find((s) => s.name === 'tcp.connection');
      const c = receiver.spans.find((s) => s.name === 'child');
      assert.ok(p && c);
      assert.equal(p.transport, transport);
      assert.equal(p.traceId, parent.spanContext().traceId);
      assert.equal(p.spanId, parent.spanContext().spanId);
      assert.equal(p.parentSpanId, undefined);
      assert.equal(c.traceId, p.traceId);
      assert.equal(c.parentSpanId, p.spanId);
      assert.match(p.traceId, /^[0-9a-f]{32}$/);
      assert.match(p.spanId, /^[0-9a-f]{16}$/);
      assert.equal(p.kind, 'server');
      assert.equal(c.kind, 'client');
      assert.equal(p.startTimeUnixNano, '1700000000123456789');
      assert.equal(p.endTimeUnixNano, '1700000001000000005');
      assert.deepEqual(p.attributes, {
        'network.peer.port': 443,
        'tcp.srtt': 0.25,
        mptcp: false,
        'net.tags': ['a', 'b'],
        'net.ports': [1, 2, 3],
        'peer.address': '10.0.0.1',
      });
      assert.deepEqual(p.events, [
        { name: 'tcp.retransmit', timeUnixNano: '1700000000500000000', attributes: { 'tcp.seq': 1234, reason: 'rto' } },
        { name: 'bare', timeUnixNano: p.events[1]!.timeUnixNano, attributes: {} },
      ]);
      assert.deepEqual(p.status, { code: 'ok' });
      assert.deepEqual(c.status, { code: 'error', message: 'reset by peer' });
      assert.equal(p.resource['service.name'], 'otlp-receiver-test');
      assert.equal(p.resource['k8s.node.name'], 'node-1');
      assert.deepEqual(p.scope, { name: 'otlp-receiver-test-tracer', version: '0.0.1', attributes: {} });
      assert.ok(receiver.requests.every((r) => r.transport === transport && r.signal === 'traces' && r.outcome === 'ok'));
    });
  }

  test('exporters built without url read OTEL_EXPORTER_OTLP_ENDPOINT and _HEADERS (at construction)', async () => {
    receiver.reset();
    const saved = { ...process.env };
    const made: Record<Transport, SpanExporter> = {} as Record<Transport, SpanExporter>;
    try {
      process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=blue,x-token=abc';
      // http/protobuf appends v1/traces to the base endpoint; grpc takes it as host:port (http:// = insecure)
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = base.http;
      made.http = new ProtoTraceExporter();
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = base.grpc;
      made.grpc = new GrpcTraceExporter();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    const spans = someSpans();
    for (const transport of TRANSPORTS) {
      const r = await exportOnce(made[transport], spans);
      assert.equal(r.result.code, ExportResultCode.SUCCESS, transport);
      await made[transport].shutdown();
    }
    assert.deepEqual(
      receiver.requests.map((r) => [r.transport, r.headers['x-tenant'], r.headers['x-token']]),
      [
        ['http', 'blue', 'abc'],
        ['grpc', 'blue', 'abc'],
      ],
    );
    assert.equal(receiver.spans.length, 2);
  });

  test('http/json bodies are decoded too; bad requests are refused', async () => {
    receiver.reset();
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-sender' } }] },
          scopeSpans: [
            {
              scope: { name: 'json' },
              spans: [
                {
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                  spanId: 'EEE19B7EC3C1B174',
                  parentSpanId: '',
                  name: 'json-span',
                  kind: 3,
                  startTimeUnixNano: '1544712660000000000',
                  endTimeUnixNano: '1544712661000000000',
                  attributes: [
                    { key: 'i', value: { intValue: '42' } },
                    { key: 'd', value: { doubleValue: 1.5 } },
                    { key: 'b', value: { boolValue: true } },
                    { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: 2 }] } } },
                    { key: 'kv', value: { kvlistValue: { values: [{ key: 'inner', value: { stringValue: 'y' } }] } } },
                  ],
                  events: [{ name: 'e', timeUnixNano: '1544712660500000000', attributes: [] }],
                  status: { code: 2, message: 'bad' },
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${base.http}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), {});
    const [s] = receiver.spans;
    assert.ok(s);
    assert.equal(s.traceId, '5b8efff798038103d269b633813fc60c');
    assert.equal(s.spanId, 'eee19b7ec3c1b174');
    assert.equal(s.parentSpanId, undefined);
    assert.equal(s.kind, 'client');
    assert.deepEqual(s.attributes, { i: 42, d: 1.5, b: true, a: ['x', 2], kv: { inner: 'y' } });
    assert.deepEqual(s.status, { code: 'error', message: 'bad' });
    assert.deepEqual(s.resource, { 'service.name': 'json-sender' });
    assert.equal(s.events[0]?.timeUnixNano, '1544712660500000000');

    const metrics = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-sender' } }] },
          scopeMetrics: [
            {
              scope: { name: 'json' },
              metrics: [
                {
                  name: 'json.sum',
                  sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: '9', timeUnixNano: '1544712660300000000', attributes: [] }] },
                },
              ],
            },
          ],
        },
      ],
    };
    const mres = await fetch(`${base.http}/v1/metrics`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(metrics) });
    assert.equal(mres.status, 200);
    assert.equal(receiver.latestPoint('json.sum')?.value, 9);
    assert.equal(receiver.latestMetric('json.sum')?.metric.temporality, 'delta');

    const post = (path: string, type: string, data: NonNullable<RequestInit['body']>) => fetch(`${base.http}${path}`, { method: 'POST', headers: { 'Content-Type': type }, body: data });
    assert.equal((await post('/v1/traces', 'text/plain', 'x')).status, 415);
    assert.equal((await post('/v1/traces', 'application/x-protobuf', new Uint8Array([0xff, 0xff, 0xff]))).status, 400);
    assert.equal((await post('/v1/logs', 'application/x-protobuf', new Uint8Array(0))).status, 404);
    assert.equal((await fetch(`${base.http}/v1/metrics`)).status, 405);
    assert.deepEqual(
      receiver.requests.map((r) => r.outcome),
      ['ok', 'ok', 'invalid', 'invalid'],
    );
  });
});

/**
 * The http exporter retries after 1 s x(1±0.2), then 1.5 s x(1±0.2) later, ... (fixed in 0.223), each
 * retry only if it fits in what is left of timeoutMillis. With this timeout it makes exactly one retry,
 * and the export ends with that retry's answer, ~1 s in, not at the timeout.
 */
const ONE_RETRY_TIMEOUT_MS = 1500;

// The tests run at once, each with a receiver of its own: they mostly wait on the exporters' backoff.
describe('OtlpReceiver modes and how the 0.223 exporters fail', { concurrency: true }, () => {
  const spans = someSpans();

  /** A receiver listening on both transports, and trace exporters to it; all stopped after the test. */
  async function setUp(t: TestContext, opts?: OtlpReceiverOptions) {
    const receiver = new OtlpReceiver(opts);
    const exporters: SpanExporter[] = [];
    t.after(async () => {
      await Promise.all(exporters.map((e) => e.shutdown()));
      await receiver.stop();
    });
    const base: Record<Transport, string> = { http: await receiver.startHttp(), grpc: await receiver.startGrpc() };
    const exporter = (transport: Transport, timeoutMillis?: number) => {
      const e = traceExporter(transport, base[transport], timeoutMillis);
      exporters.push(e);
      return e;
    };
    return { receiver, exporter };
  }

  test("'down' refuses connections: http retries with backoff until its timeout, grpc fails at once", async (t) => {
    const { receiver, exporter } = await setUp(t);
    await receiver.setMode('down');

    // http: ECONNREFUSED is retryable; one retry after ~1 s, the next would not fit in timeoutMillis
    const http = await exportOnce(exporter('http', ONE_RETRY_TIMEOUT_MS), spans);
    assert.equal(http.result.code, ExportResultCode.FAILED);
    assert.equal((http.result.error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    assert.ok(http.ms >= 800 && http.ms < ONE_RETRY_TIMEOUT_MS + 1000, `http down took ${http.ms} ms`);

    // grpc: no retry layer in 0.223; UNAVAILABLE (14) right away
    const grpcExporter = exporter('grpc', ONE_RETRY_TIMEOUT_MS);
    const grpc = await exportOnce(grpcExporter, spans);
    assert.equal(grpc.result.code, ExportResultCode.FAILED);
    assert.equal((grpc.result.error as { code?: number }).code, 14);
    assert.match(grpc.result.error?.message ?? '', /UNAVAILABLE.*ECONNREFUSED/);
    assert.ok(grpc.ms < 1000, `grpc down took ${grpc.ms} ms`);
    assert.equal(receiver.requests.length, 0);

    // back up on the same ports: http at once; grpc once its channel has reconnected (reconnect backoff ~1 s)
    await receiver.setMode('ok');
    const again = await exportOnce(exporter('http', ONE_RETRY_TIMEOUT_MS), spans);
    assert.equal(again.result.code, ExportResultCode.SUCCESS);
    const t0 = Date.now();
    let ok = false;
    while (!ok && Date.now() - t0 < 5000) {
      ok = (await exportOnce(grpcExporter, spans)).result.code === ExportResultCode.SUCCESS;
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'grpc exporter recovers after the receiver is back');
    assert.deepEqual(
      receiver.requests.map((r) => r.transport),
      ['http', 'grpc'],
    );
  });

  test("mode 'down' from the start gives a URL whose port refuses connections", async (t) => {
    const down = new OtlpReceiver({ mode: 'down' });
    t.after(() => down.stop());
    const url = await down.startHttp();
    await assert.rejects(fetch(`${url}/v1/traces`, { method: 'POST' }), (e: Error) => (e.cause as NodeJS.ErrnoException).code === 'ECONNREFUSED');
    await down.setMode('ok');
    assert.equal((await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status, 200);
  });

  test("'error' answers 503 (http, retried) and UNAVAILABLE (grpc, not retried)", async (t) => {
    const { receiver, exporter } = await setUp(t, { mode: 'error' });
    const of = (transport: Transport) => receiver.requests.filter((r) => r.transport === transport);
    // both at once: grpc fails at once, then has as long to retry as http takes for its one retry, and more
    const [http, grpc] = await Promise.all([
      exportOnce(exporter('http', ONE_RETRY_TIMEOUT_MS), spans),
      exportOnce(exporter('grpc', ONE_RETRY_TIMEOUT_MS), spans).then(async (r) => {
        await sleep(1200);
        return r;
      }),
    ]);
    assert.equal(http.result.code, ExportResultCode.FAILED);
    assert.equal(http.result.error?.name, 'OTLPExporterError');
    assert.equal(http.result.error?.message, 'Export failed with retryable status');
    const attempts = of('http').map((r) => r.time);
    assert.equal(attempts.length, 2, `${attempts.length} http attempts`);
    assert.ok(attempts[1]! - attempts[0]! >= 750, `first retry after ${attempts[1]! - attempts[0]!} ms`);
    assert.ok(receiver.requests.every((r) => r.outcome === 'error'));
    assert.equal(receiver.spans.length, 0, 'rejected data is not recorded');

    assert.equal(grpc.result.code, ExportResultCode.FAILED);
    assert.equal((grpc.result.error as { code?: number }).code, 14);
    assert.equal(of('grpc').length, 1, 'grpc does not retry');
  });

  test('a non-retryable http status fails at once with its code', async (t) => {
    const { receiver: strict, exporter } = await setUp(t, { mode: 'error', errorHttpStatus: 400 });
    const r = await exportOnce(exporter('http'), spans);
    assert.equal(r.result.code, ExportResultCode.FAILED);
    assert.equal((r.result.error as { code?: number }).code, 400);
    assert.equal(strict.requests.length, 1);
  });

  test("'slow' delays each answer by delayMs; beyond the exporter's timeout the export fails", async (t) => {
    const { receiver, exporter } = await setUp(t, { mode: 'slow', delayMs: 200 });
    for (const transport of TRANSPORTS) {
      const r = await exportOnce(exporter(transport), spans);
      assert.equal(r.result.code, ExportResultCode.SUCCESS, transport);
      assert.ok(r.ms >= 150, `${transport} slow export took ${r.ms} ms`);
    }
    assert.equal(receiver.requests.length, 2);
    for (const q of receiver.requests) {
      assert.equal(q.outcome, 'slow');
      assert.ok(q.respondedAt! - q.time >= 190, `answered after ${q.respondedAt! - q.time} ms`);
    }
    assert.equal(receiver.spans.length, 2, 'slow requests keep their data');

    await receiver.setMode('slow', 500);
    const http = await exportOnce(exporter('http', 100), spans);
    assert.equal(http.result.code, ExportResultCode.FAILED);
    assert.equal(http.result.error?.message, 'Request timed out');
    const grpc = await exportOnce(exporter('grpc', 100), spans);
    assert.equal(grpc.result.code, ExportResultCode.FAILED);
    assert.equal((grpc.result.error as { code?: number }).code, 4); // DEADLINE_EXCEEDED
    assert.ok(http.ms < 500 && grpc.ms < 500, `gave up after ${http.ms} ms (http), ${grpc.ms} ms (grpc)`);
  });
});
