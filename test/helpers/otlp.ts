/**
 * A local OTLP receiver for tests: http/protobuf (and http/json) on
 * POST /v1/metrics and /v1/traces, and gRPC on
 * opentelemetry.proto.collector.{metrics,trace}.v1.{Metrics,Trace}Service/Export.
 * Every request is decoded into plain JS objects so tests can assert metric
 * values and span attributes.
 *
 * Decoding uses the protobufjs root generated into
 * @opentelemetry/otlp-transformer@0.57.2 (devDependency, aliased as
 * `otlp-transformer-0572`); later versions no longer ship decoders.
 *
 * Value conventions of the decoded objects:
 * - timestamps (`*UnixNano`) are decimal strings of nanoseconds since the
 *   epoch (exact; `BigInt(s)` to compare, `nanosToMillis(s)` for ms);
 * - int64 values (attribute intValue, asInt, counts, bucketCounts) are JS
 *   numbers (exact below 2^53);
 * - trace, span and parent span ids are lowercase hex strings;
 * - attribute values: string, number, boolean, arrays of those (kept as
 *   arrays), kvlists as plain objects, bytes as hex strings, empty as null;
 * - enums as lowercase words: span kind 'internal' | 'server' | 'client' |
 *   'producer' | 'consumer' | 'unspecified', status 'unset' | 'ok' | 'error',
 *   temporality 'delta' | 'cumulative' | 'unspecified'.
 *
 * Modes: 'ok' answers at once; 'slow' answers after delayMs; 'error'
 * answers HTTP 503 / gRPC UNAVAILABLE (both configurable); 'down' closes
 * the listeners so connections are refused (ECONNREFUSED), and reopens them
 * on the same ports when the mode changes back. Data of requests answered
 * with an error is not recorded in `metrics`/`spans` (a collector would not
 * have accepted it), but every request is in `requests`.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import generatedRoot from 'otlp-transformer-0572/build/src/generated/root.js';

// ---------------------------------------------------------------------------
// public types

export type ReceiverMode = 'ok' | 'down' | 'slow' | 'error';
export type Transport = 'http' | 'grpc';
export type Signal = 'metrics' | 'traces';

export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export interface DecodedScope {
  name: string;
  version?: string;
  attributes: Attributes;
}

export interface DecodedPoint {
  attributes: Attributes;
  startTimeUnixNano: string;
  timeUnixNano: string;
  /** gauge and sum points: asDouble or asInt */
  value?: number;
  /** histogram, exponential histogram and summary points */
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  /** explicit-bucket histograms: bucketCounts has explicitBounds.length + 1 entries */
  bucketCounts?: number[];
  explicitBounds?: number[];
  /** exponential histograms */
  scale?: number;
  zeroCount?: number;
  positive?: { offset: number; bucketCounts: number[] };
  negative?: { offset: number; bucketCounts: number[] };
  /** summaries */
  quantiles?: { quantile: number; value: number }[];
  flags?: number;
}

export type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary' | 'unknown';
export type Temporality = 'delta' | 'cumulative' | 'unspecified';

export interface DecodedMetric {
  name: string;
  description: string;
  unit: string;
  type: MetricType;
  /** sums and histograms */
  temporality?: Temporality;
  /** sums */
  isMonotonic?: boolean;
  points: DecodedPoint[];
}

export interface DecodedResourceMetrics {
  transport: Transport;
  /** Date.now() when the request arrived */
  receivedAt: number;
  resource: Attributes;
  schemaUrl?: string;
  scopeMetrics: { scope: DecodedScope; schemaUrl?: string; metrics: DecodedMetric[] }[];
}

export type SpanKindName = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type StatusCodeName = 'unset' | 'ok' | 'error';

export interface DecodedEvent {
  name: string;
  timeUnixNano: string;
  attributes: Attributes;
}

export interface DecodedLink {
  traceId: string;
  spanId: string;
  traceState?: string;
  attributes: Attributes;
}

export interface DecodedSpan {
  transport: Transport;
  receivedAt: number;
  name: string;
  traceId: string;
  spanId: string;
  /** undefined for a root span */
  parentSpanId?: string;
  traceState?: string;
  kind: SpanKindName;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attributes;
  events: DecodedEvent[];
  links: DecodedLink[];
  status: { code: StatusCodeName; message?: string };
  resource: Attributes;
  scope: DecodedScope;
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  droppedLinksCount?: number;
}

/**
 * outcome: 'ok' (answered at once), 'slow' (answered after delayMs),
 * 'error' (answered with the error status), 'invalid' (undecodable body,
 * unsupported content type: HTTP 400/415).
 */
export type RequestOutcome = 'ok' | 'slow' | 'error' | 'invalid';

export interface ReceivedRequest {
  transport: Transport;
  signal: Signal;
  /** Date.now() on arrival (after the body was read) */
  time: number;
  /** Date.now() when the answer was sent, once it was */
  respondedAt?: number;
  outcome: RequestOutcome;
  /** http: the request's content type ('application/x-protobuf', 'application/json'); grpc: 'application/grpc' */
  contentType: string;
  /** body size as received (before gunzip) for http; message size for grpc */
  bytes: number;
  /** request headers (http) or metadata (grpc), lowercase keys */
  headers: Record<string, string>;
}

export interface OtlpReceiverOptions {
  mode?: ReceiverMode;
  /** the delay of mode 'slow', ms (default 1000) */
  delayMs?: number;
  /** address to bind, default '127.0.0.1' */
  host?: string;
  /** status of mode 'error' over http, default 503 (retryable for the OTel exporters; 400 is not) */
  errorHttpStatus?: number;
  /** status of mode 'error' over grpc, default UNAVAILABLE (14) */
  errorGrpcCode?: grpc.status;
}

export function nanosToMillis(nanos: string): number {
  return Number(BigInt(nanos) / 1000n) / 1000;
}

// ---------------------------------------------------------------------------
// the generated protobuf root (its .d.ts only says `protobuf.Root`)

interface ConversionOptions {
  longs?: StringConstructor | NumberConstructor;
  enums?: StringConstructor;
  bytes?: StringConstructor | ArrayConstructor;
  defaults?: boolean;
  arrays?: boolean;
}
interface GeneratedMessage<Plain> {
  decode(data: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  create(properties?: object): object;
  toObject(message: object, options?: ConversionOptions): Plain;
}
interface GeneratedRoot {
  opentelemetry: {
    proto: {
      collector: {
        metrics: { v1: { ExportMetricsServiceRequest: GeneratedMessage<RawMetricsRequest>; ExportMetricsServiceResponse: GeneratedMessage<object> } };
        trace: { v1: { ExportTraceServiceRequest: GeneratedMessage<RawTraceRequest>; ExportTraceServiceResponse: GeneratedMessage<object> } };
      };
    };
  };
}
const collector = (generatedRoot as unknown as GeneratedRoot).opentelemetry.proto.collector;
const MetricsRequest = collector.metrics.v1.ExportMetricsServiceRequest;
const MetricsResponse = collector.metrics.v1.ExportMetricsServiceResponse;
const TraceRequest = collector.trace.v1.ExportTraceServiceRequest;
const TraceResponse = collector.trace.v1.ExportTraceServiceResponse;
/** longs as decimal strings, enums as numbers, bytes kept as Uint8Array: the shape OTLP/JSON also has (except ids, hex there) */
const TO_OBJECT: ConversionOptions = { longs: String, defaults: false, arrays: false };

const EMPTY_METRICS_RESPONSE = Buffer.from(MetricsResponse.encode(MetricsResponse.create({})).finish());
const EMPTY_TRACE_RESPONSE = Buffer.from(TraceResponse.encode(TraceResponse.create({})).finish());

export const GRPC_METRICS_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
export const GRPC_TRACES_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

// ---------------------------------------------------------------------------
// loose shapes: protobufjs toObject() output and OTLP/JSON alike

type Int64Like = string | number | { toString(): string };
type DoubleLike = number | string;
type EnumLike = number | string;
type BytesLike = Uint8Array | string;
interface RawKeyValue {
  key?: string;
  value?: RawAnyValue | null;
}
interface RawAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64Like;
  doubleValue?: DoubleLike;
  arrayValue?: { values?: RawAnyValue[] };
  kvlistValue?: { values?: RawKeyValue[] };
  bytesValue?: BytesLike;
}
interface RawResource {
  attributes?: RawKeyValue[];
}
interface RawScope {
  name?: string;
  version?: string;
  attributes?: RawKeyValue[];
}
interface RawPointBase {
  attributes?: RawKeyValue[];
  startTimeUnixNano?: Int64Like;
  timeUnixNano?: Int64Like;
  flags?: number;
}
interface RawNumberPoint extends RawPointBase {
  asDouble?: DoubleLike;
  asInt?: Int64Like;
}
interface RawHistogramPoint extends RawPointBase {
  count?: Int64Like;
  sum?: DoubleLike;
  min?: DoubleLike;
  max?: DoubleLike;
  bucketCounts?: Int64Like[];
  explicitBounds?: DoubleLike[];
}
interface RawBuckets {
  offset?: number;
  bucketCounts?: Int64Like[];
}
interface RawExpHistogramPoint extends RawPointBase {
  count?: Int64Like;
  sum?: DoubleLike;
  min?: DoubleLike;
  max?: DoubleLike;
  scale?: number;
  zeroCount?: Int64Like;
  positive?: RawBuckets;
  negative?: RawBuckets;
}
interface RawSummaryPoint extends RawPointBase {
  count?: Int64Like;
  sum?: DoubleLike;
  quantileValues?: { quantile?: DoubleLike; value?: DoubleLike }[];
}
interface RawMetric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: RawNumberPoint[] };
  sum?: { dataPoints?: RawNumberPoint[]; aggregationTemporality?: EnumLike; isMonotonic?: boolean };
  histogram?: { dataPoints?: RawHistogramPoint[]; aggregationTemporality?: EnumLike };
  exponentialHistogram?: { dataPoints?: RawExpHistogramPoint[]; aggregationTemporality?: EnumLike };
  summary?: { dataPoints?: RawSummaryPoint[] };
}
interface RawMetricsRequest {
  resourceMetrics?: {
    resource?: RawResource;
    schemaUrl?: string;
    scopeMetrics?: { scope?: RawScope; schemaUrl?: string; metrics?: RawMetric[] }[];
  }[];
}
interface RawEvent {
  name?: string;
  timeUnixNano?: Int64Like;
  attributes?: RawKeyValue[];
}
interface RawLink {
  traceId?: BytesLike;
  spanId?: BytesLike;
  traceState?: string;
  attributes?: RawKeyValue[];
}
interface RawSpan {
  traceId?: BytesLike;
  spanId?: BytesLike;
  parentSpanId?: BytesLike;
  traceState?: string;
  name?: string;
  kind?: EnumLike;
  startTimeUnixNano?: Int64Like;
  endTimeUnixNano?: Int64Like;
  attributes?: RawKeyValue[];
  droppedAttributesCount?: number;
  events?: RawEvent[];
  droppedEventsCount?: number;
  links?: RawLink[];
  droppedLinksCount?: number;
  status?: { code?: EnumLike; message?: string };
}
interface RawTraceRequest {
  resourceSpans?: { resource?: RawResource; scopeSpans?: { scope?: RawScope; spans?: RawSpan[] }[] }[];
}

// ---------------------------------------------------------------------------
// normalisation

function num(v: Int64Like | DoubleLike | undefined | null): number | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' ? v : Number(v.toString());
}

function nanos(v: Int64Like | undefined): string {
  return v === undefined || v === null ? '0' : v.toString();
}

/** ids: bytes from protobuf, hex strings in OTLP/JSON */
function hexId(v: BytesLike | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v.toLowerCase() : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
}

function anyValue(v: RawAnyValue | null | undefined): AttrValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return num(v.intValue)!;
  if (v.doubleValue !== undefined) return num(v.doubleValue)!;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) {
    // protobuf: bytes; OTLP/JSON: base64
    const b = typeof v.bytesValue === 'string' ? Buffer.from(v.bytesValue, 'base64') : Buffer.from(v.bytesValue);
    return b.toString('hex');
  }
  return null;
}

function attributes(kvs: RawKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of kvs ?? []) if (kv.key !== undefined) out[kv.key] = anyValue(kv.value);
  return out;
}

function scope(s: RawScope | undefined): DecodedScope {
  return { name: s?.name ?? '', ...(s?.version ? { version: s.version } : {}), attributes: attributes(s?.attributes) };
}

function enumIndex(v: EnumLike | undefined, names: readonly string[], prefix: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const i = names.indexOf(v.replace(prefix, '').toLowerCase());
  return i < 0 ? Number(v) || 0 : i;
}

const TEMPORALITIES = ['unspecified', 'delta', 'cumulative'] as const;
const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
const STATUS_CODES = ['unset', 'ok', 'error'] as const;

function temporality(v: EnumLike | undefined): Temporality {
  return TEMPORALITIES[enumIndex(v, TEMPORALITIES, 'AGGREGATION_TEMPORALITY_')] ?? 'unspecified';
}

function pointBase(p: RawPointBase): DecodedPoint {
  return {
    attributes: attributes(p.attributes),
    startTimeUnixNano: nanos(p.startTimeUnixNano),
    timeUnixNano: nanos(p.timeUnixNano),
    ...(p.flags ? { flags: p.flags } : {}),
  };
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function metric(m: RawMetric): DecodedMetric {
  const base = { name: m.name ?? '', description: m.description ?? '', unit: m.unit ?? '' };
  const numberPoint = (p: RawNumberPoint): DecodedPoint => defined({ ...pointBase(p), value: num(p.asDouble ?? p.asInt) });
  if (m.gauge) return { ...base, type: 'gauge', points: (m.gauge.dataPoints ?? []).map(numberPoint) };
  if (m.sum) {
    return {
      ...base,
      type: 'sum',
      temporality: temporality(m.sum.aggregationTemporality),
      isMonotonic: m.sum.isMonotonic ?? false,
      points: (m.sum.dataPoints ?? []).map(numberPoint),
    };
  }
  if (m.histogram) {
    return {
      ...base,
      type: 'histogram',
      temporality: temporality(m.histogram.aggregationTemporality),
      points: (m.histogram.dataPoints ?? []).map((p) =>
        defined({
          ...pointBase(p),
          count: num(p.count) ?? 0,
          sum: num(p.sum),
          min: num(p.min),
          max: num(p.max),
          bucketCounts: (p.bucketCounts ?? []).map((c) => num(c)!),
          explicitBounds: (p.explicitBounds ?? []).map((b) => num(b)!),
        }),
      ),
    };
  }
  if (m.exponentialHistogram) {
    const buckets = (b: RawBuckets | undefined) => ({ offset: b?.offset ?? 0, bucketCounts: (b?.bucketCounts ?? []).map((c) => num(c)!) });
    return {
      ...base,
      type: 'exponentialHistogram',
      temporality: temporality(m.exponentialHistogram.aggregationTemporality),
      points: (m.exponentialHistogram.dataPoints ?? []).map((p) =>
        defined({
          ...pointBase(p),
          count: num(p.count) ?? 0,
          sum: num(p.sum),
          min: num(p.min),
          max: num(p.max),
          scale: p.scale ?? 0,
          zeroCount: num(p.zeroCount) ?? 0,
          positive: buckets(p.positive),
          negative: buckets(p.negative),
        }),
      ),
    };
  }
  if (m.summary) {
    return {
      ...base,
      type: 'summary',
      points: (m.summary.dataPoints ?? []).map((p) =>
        defined({
          ...pointBase(p),
          count: num(p.count) ?? 0,
          sum: num(p.sum),
          quantiles: (p.quantileValues ?? []).map((q) => ({ quantile: num(q.quantile) ?? 0, value: num(q.value) ?? 0 })),
        }),
      ),
    };
  }
  return { ...base, type: 'unknown', points: [] };
}

export function normaliseMetrics(req: RawMetricsRequest, transport: Transport, receivedAt: number): DecodedResourceMetrics[] {
  return (req.resourceMetrics ?? []).map((rm) =>
    defined({
      transport,
      receivedAt,
      resource: attributes(rm.resource?.attributes),
      schemaUrl: rm.schemaUrl || undefined,
      scopeMetrics: (rm.scopeMetrics ?? []).map((sm) =>
        defined({ scope: scope(sm.scope), schemaUrl: sm.schemaUrl || undefined, metrics: (sm.metrics ?? []).map(metric) }),
      ),
    }),
  );
}

export function normaliseSpans(req: RawTraceRequest, transport: Transport, receivedAt: number): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const sc = scope(ss.scope);
      for (const s of ss.spans ?? []) {
        const parent = hexId(s.parentSpanId);
        out.push(
          defined({
            transport,
            receivedAt,
            name: s.name ?? '',
            traceId: hexId(s.traceId),
            spanId: hexId(s.spanId),
            parentSpanId: parent || undefined,
            traceState: s.traceState || undefined,
            kind: SPAN_KINDS[enumIndex(s.kind, SPAN_KINDS, 'SPAN_KIND_')] ?? 'unspecified',
            startTimeUnixNano: nanos(s.startTimeUnixNano),
            endTimeUnixNano: nanos(s.endTimeUnixNano),
            attributes: attributes(s.attributes),
            events: (s.events ?? []).map((e) => ({ name: e.name ?? '', timeUnixNano: nanos(e.timeUnixNano), attributes: attributes(e.attributes) })),
            links: (s.links ?? []).map((l) =>
              defined({ traceId: hexId(l.traceId), spanId: hexId(l.spanId), traceState: l.traceState || undefined, attributes: attributes(l.attributes) }),
            ),
            status: defined({
              code: STATUS_CODES[enumIndex(s.status?.code, STATUS_CODES, 'STATUS_CODE_')] ?? 'unset',
              message: s.status?.message || undefined,
            }),
            resource,
            scope: sc,
            droppedAttributesCount: s.droppedAttributesCount || undefined,
            droppedEventsCount: s.droppedEventsCount || undefined,
            droppedLinksCount: s.droppedLinksCount || undefined,
          }),
        );
      }
    }
  }
  return out;
}

/** Decodes an ExportMetricsServiceRequest (protobuf) into plain objects. */
export function decodeMetrics(body: Uint8Array, transport: Transport = 'http', receivedAt = Date.now()): DecodedResourceMetrics[] {
  return normaliseMetrics(MetricsRequest.toObject(MetricsRequest.decode(body), TO_OBJECT), transport, receivedAt);
}

/** Decodes an ExportTraceServiceRequest (protobuf) into flattened spans. */
export function decodeSpans(body: Uint8Array, transport: Transport = 'http', receivedAt = Date.now()): DecodedSpan[] {
  return normaliseSpans(TraceRequest.toObject(TraceRequest.decode(body), TO_OBJECT), transport, receivedAt);
}

function attrsMatch(have: Attributes, want: Record<string, string | number | boolean> | undefined): boolean {
  if (!want) return true;
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

// ---------------------------------------------------------------------------
// the receiver

interface GrpcRequest {
  bytes: number;
  message: object;
}

const HTTP_PATHS: Record<string, Signal> = { '/v1/metrics': 'metrics', '/v1/traces': 'traces' };
const MAX_BODY = 64 * 1024 * 1024;

export class OtlpReceiver {
  /** every accepted ResourceMetrics, in arrival order */
  readonly metrics: DecodedResourceMetrics[] = [];
  /** every accepted span, flattened, in arrival order */
  readonly spans: DecodedSpan[] = [];
  /** every request that reached the receiver, in arrival order */
  readonly requests: ReceivedRequest[] = [];

  private mode: ReceiverMode;
  private delayMs: number;
  private readonly host: string;
  private readonly errorHttpStatus: number;
  private readonly errorGrpcCode: grpc.status;
  private httpServer: http.Server | null = null;
  private httpPort = 0;
  private grpcServer: grpc.Server | null = null;
  private grpcPort = 0;
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private stopped = false;

  constructor(opts: OtlpReceiverOptions = {}) {
    this.mode = opts.mode ?? 'ok';
    this.delayMs = opts.delayMs ?? 1000;
    this.host = opts.host ?? '127.0.0.1';
    this.errorHttpStatus = opts.errorHttpStatus ?? 503;
    this.errorGrpcCode = opts.errorGrpcCode ?? grpc.status.UNAVAILABLE;
  }

  private get hostForUrl(): string {
    return this.host.includes(':') && !this.host.startsWith('[') ? `[${this.host}]` : this.host;
  }

  /** Starts the http/protobuf + http/json listener; resolves to http://HOST:PORT (an OTEL_EXPORTER_OTLP_ENDPOINT). */
  async startHttp(): Promise<string> {
    if (this.httpServer) throw new Error('http receiver already started');
    const server = http.createServer((req, res) => this.onHttp(req, res));
    server.keepAliveTimeout = 5000;
    this.httpServer = server;
    server.listen(0, this.host);
    await once(server, 'listening');
    this.httpPort = (server.address() as AddressInfo).port;
    if (this.mode === 'down') await this.closeHttp();
    return this.httpUrl;
  }

  /** Starts the gRPC listener; resolves to http://HOST:PORT (the grpc exporters' `url`). */
  async startGrpc(): Promise<string> {
    if (this.grpcPort) throw new Error('grpc receiver already started');
    this.grpcPort = await this.bindGrpc(0);
    if (this.mode === 'down') this.closeGrpc();
    return this.grpcUrl;
  }

  get httpUrl(): string {
    if (!this.httpPort) throw new Error('http receiver not started');
    return `http://${this.hostForUrl}:${this.httpPort}`;
  }

  get grpcUrl(): string {
    if (!this.grpcPort) throw new Error('grpc receiver not started');
    return `http://${this.hostForUrl}:${this.grpcPort}`;
  }

  /** Changes the mode; entering or leaving 'down' closes or reopens the listeners (same ports). */
  async setMode(mode: ReceiverMode, delayMs?: number): Promise<void> {
    const was = this.mode;
    this.mode = mode;
    if (delayMs !== undefined) this.delayMs = delayMs;
    if (mode === 'down' && was !== 'down') {
      await this.closeHttp();
      this.closeGrpc();
    } else if (mode !== 'down' && was === 'down' && !this.stopped) {
      if (this.httpPort && this.httpServer && !this.httpServer.listening) {
        this.httpServer.listen(this.httpPort, this.host);
        await once(this.httpServer, 'listening');
      }
      if (this.grpcPort && !this.grpcServer) await this.bindGrpc(this.grpcPort);
    }
  }

  getMode(): ReceiverMode {
    return this.mode;
  }

  /** Forgets everything received so far. */
  reset(): void {
    this.metrics.length = 0;
    this.spans.length = 0;
    this.requests.length = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const [t, fire] of this.timers) {
      clearTimeout(t);
      fire();
    }
    this.timers.clear();
    await this.closeHttp();
    this.closeGrpc();
    this.httpServer = null;
  }

  /** Every point of the metric `name` whose attributes include `attrs`, in arrival order. */
  points(name: string, attrs?: Record<string, string | number | boolean>): DecodedPoint[] {
    const out: DecodedPoint[] = [];
    for (const rm of this.metrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) if (m.name === name) for (const p of m.points) if (attrsMatch(p.attributes, attrs)) out.push(p);
    return out;
  }

  /** The last received point of metric `name` whose attributes include `attrs`. */
  latestPoint(name: string, attrs?: Record<string, string | number | boolean>): DecodedPoint | undefined {
    for (let i = this.metrics.length - 1; i >= 0; i--) {
      const rm = this.metrics[i]!;
      for (let j = rm.scopeMetrics.length - 1; j >= 0; j--) {
        const sm = rm.scopeMetrics[j]!;
        for (let k = sm.metrics.length - 1; k >= 0; k--) {
          const m = sm.metrics[k]!;
          if (m.name !== name) continue;
          for (let l = m.points.length - 1; l >= 0; l--) if (attrsMatch(m.points[l]!.attributes, attrs)) return m.points[l];
        }
      }
    }
    return undefined;
  }

  /** The last received metric `name`, with the resource and scope it came with. */
  latestMetric(name: string): { metric: DecodedMetric; resource: Attributes; scope: DecodedScope; transport: Transport } | undefined {
    for (let i = this.metrics.length - 1; i >= 0; i--) {
      const rm = this.metrics[i]!;
      for (let j = rm.scopeMetrics.length - 1; j >= 0; j--) {
        const sm = rm.scopeMetrics[j]!;
        for (let k = sm.metrics.length - 1; k >= 0; k--) {
          const m = sm.metrics[k]!;
          if (m.name === name) return { metric: m, resource: rm.resource, scope: sm.scope, transport: rm.transport };
        }
      }
    }
    return undefined;
  }

  /** Polls `pred` every 10 ms until it holds; rejects after `ms` (default 5000). */
  async waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) {
        throw new Error(`OtlpReceiver.waitFor: ${what} not met within ${ms} ms (${this.requests.length} requests, ${this.spans.length} spans)`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // -- internals ------------------------------------------------------------

  private async closeHttp(): Promise<void> {
    const server = this.httpServer;
    if (!server || !server.listening) return;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  }

  private closeGrpc(): void {
    this.grpcServer?.forceShutdown();
    this.grpcServer = null;
  }

  private async bindGrpc(port: number): Promise<number> {
    const server = new grpc.Server();
    // the request deserializer is the protobuf decode; the response serializer encodes an empty Export*ServiceResponse
    const def = (path: string, decode: (b: Buffer) => object, empty: Buffer): grpc.MethodDefinition<GrpcRequest, object> => ({
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: () => {
        throw new Error('server side only');
      },
      requestDeserialize: (b: Buffer) => ({ bytes: b.length, message: decode(b) }),
      responseSerialize: () => empty,
      responseDeserialize: () => ({}),
    });
    const service = (signal: Signal): grpc.ServiceDefinition =>
      signal === 'metrics'
        ? { Export: def(GRPC_METRICS_PATH, (b) => MetricsRequest.decode(b), EMPTY_METRICS_RESPONSE) }
        : { Export: def(GRPC_TRACES_PATH, (b) => TraceRequest.decode(b), EMPTY_TRACE_RESPONSE) };
    const handler =
      (signal: Signal): grpc.handleUnaryCall<GrpcRequest, object> =>
      (call, callback) =>
        this.onGrpc(signal, call, callback);
    server.addService(service('metrics'), { Export: handler('metrics') });
    server.addService(service('traces'), { Export: handler('traces') });
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.hostForUrl}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.grpcServer = server;
    return bound;
  }

  /** Runs `fire` now, or after delayMs in mode 'slow' (at once on stop()). */
  private answer(outcome: RequestOutcome, entry: ReceivedRequest, fire: () => void): void {
    const done = () => {
      entry.respondedAt = Date.now();
      fire();
    };
    if (outcome !== 'slow') return done();
    const t = setTimeout(() => {
      this.timers.delete(t);
      done();
    }, this.delayMs);
    this.timers.set(t, done);
  }

  /** The outcome the current mode gives a request; keeps its data unless that is 'error'. */
  private record(keep: () => void): RequestOutcome {
    const mode = this.mode;
    if (mode === 'error') return 'error';
    keep();
    return mode === 'slow' ? 'slow' : 'ok';
  }

  private onGrpc(signal: Signal, call: grpc.ServerUnaryCall<GrpcRequest, object>, callback: grpc.sendUnaryData<object>): void {
    const time = Date.now();
    const { message, bytes } = call.request;
    const entry: ReceivedRequest = {
      transport: 'grpc',
      signal,
      time,
      outcome: 'ok',
      contentType: 'application/grpc',
      bytes,
      headers: metadataToHeaders(call.metadata),
    };
    this.requests.push(entry);
    try {
      if (signal === 'metrics') {
        entry.outcome = this.record(() =>
          this.metrics.push(...normaliseMetrics(MetricsRequest.toObject(message, TO_OBJECT), 'grpc', time)),
        );
      } else {
        entry.outcome = this.record(() => this.spans.push(...normaliseSpans(TraceRequest.toObject(message, TO_OBJECT), 'grpc', time)));
      }
    } catch (e) {
      entry.outcome = 'invalid';
      entry.respondedAt = Date.now();
      callback({ code: grpc.status.INVALID_ARGUMENT, details: String(e) });
      return;
    }
    this.answer(entry.outcome, entry, () => {
      if (entry.outcome === 'error') callback({ code: this.errorGrpcCode, details: 'OtlpReceiver in mode error' });
      else callback(null, {});
    });
  }

  private onHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0]!;
    const signal = HTTP_PATHS[path];
    if (!signal || req.method !== 'POST') {
      res.writeHead(signal ? 405 : 404, { 'Content-Type': 'text/plain' }).end(signal ? 'POST only\n' : 'not found\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => this.onHttpBody(signal, req, res, Buffer.concat(chunks)));
  }

  private onHttpBody(signal: Signal, req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void {
    const time = Date.now();
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const entry: ReceivedRequest = {
      transport: 'http',
      signal,
      time,
      outcome: 'ok',
      contentType,
      bytes: raw.length,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
    };
    this.requests.push(entry);
    const json = contentType === 'application/json';
    const reply = (status: number, body: Buffer | string, type: string) => {
      entry.respondedAt = Date.now();
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(status, { 'Content-Type': type }).end(body);
    };
    if (!json && contentType !== 'application/x-protobuf') {
      entry.outcome = 'invalid';
      reply(415, `unsupported content type '${contentType}'\n`, 'text/plain');
      return;
    }
    try {
      const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
      const body = encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : raw;
      entry.outcome = this.record(() => {
        if (signal === 'metrics') {
          this.metrics.push(...(json ? normaliseMetrics(JSON.parse(body.toString('utf8')) as RawMetricsRequest, 'http', time) : decodeMetrics(body, 'http', time)));
        } else {
          this.spans.push(...(json ? normaliseSpans(JSON.parse(body.toString('utf8')) as RawTraceRequest, 'http', time) : decodeSpans(body, 'http', time)));
        }
      });
    } catch (e) {
      entry.outcome = 'invalid';
      reply(400, `cannot decode: ${String(e)}\n`, 'text/plain');
      return;
    }
    this.answer(entry.outcome, entry, () => {
      if (entry.outcome === 'error') {
        reply(this.errorHttpStatus, 'OtlpReceiver in mode error\n', 'text/plain');
      } else if (json) reply(200, '{}', 'application/json');
      else reply(200, signal === 'metrics' ? EMPTY_METRICS_RESPONSE : EMPTY_TRACE_RESPONSE, 'application/x-protobuf');
    });
  }
}

function metadataToHeaders(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = typeof v === 'string' ? v : v.toString('base64');
  return out;
}
