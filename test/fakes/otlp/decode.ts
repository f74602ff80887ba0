/**
 * Decoding OTLP requests (protobuf or OTLP/JSON) into the plain objects of
 * types.ts. Value conventions:
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
 */
import { PROTO, TO_OBJECT, type RawRequestOf } from './proto.js';
import type {
  BytesLike,
  DoubleLike,
  EnumLike,
  Int64Like,
  RawAnyValue,
  RawBuckets,
  RawCountedPoint,
  RawKeyValue,
  RawMetric,
  RawMetricsRequest,
  RawNumberPoint,
  RawPointBase,
  RawScope,
  RawSpreadPoint,
  RawTraceRequest,
} from './raw.js';
import type { AttrValue, Attributes, DecodedMetric, DecodedPoint, DecodedResourceMetrics, DecodedScope, DecodedSpan, Signal, Temporality, Transport } from './types.js';

export function nanosToMillis(nanos: string): number {
  return Number(BigInt(nanos) / 1000n) / 1000;
}

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

const counted = (p: RawCountedPoint) => ({ count: num(p.count) ?? 0, sum: num(p.sum) });
const spread = (p: RawSpreadPoint) => ({ ...counted(p), min: num(p.min), max: num(p.max) });

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
          ...spread(p),
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
          ...spread(p),
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
          ...counted(p),
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

/** What each signal decodes to. */
export interface DecodedOf {
  metrics: DecodedResourceMetrics[];
  traces: DecodedSpan[];
}

const NORMALISE: { [S in Signal]: (req: RawRequestOf[S], transport: Transport, receivedAt: number) => DecodedOf[S] } = {
  metrics: normaliseMetrics,
  traces: normaliseSpans,
};

/** An Export*ServiceRequest message as protobufjs decoded it, normalised. */
export function fromMessage<S extends Signal>(signal: S, message: object, transport: Transport, receivedAt: number): DecodedOf[S] {
  const { request } = PROTO[signal];
  return NORMALISE[signal](request.toObject(message, TO_OBJECT), transport, receivedAt);
}

/** An Export*ServiceRequest in protobuf, decoded. */
export function fromProtobuf<S extends Signal>(signal: S, body: Uint8Array, transport: Transport, receivedAt: number): DecodedOf[S] {
  return fromMessage(signal, PROTO[signal].request.decode(body), transport, receivedAt);
}

/** An Export*ServiceRequest in OTLP/JSON, decoded. */
export function fromJson<S extends Signal>(signal: S, body: Buffer, transport: Transport, receivedAt: number): DecodedOf[S] {
  return NORMALISE[signal](JSON.parse(body.toString('utf8')) as RawRequestOf[S], transport, receivedAt);
}

/** Decodes an ExportMetricsServiceRequest (protobuf) into plain objects. */
export function decodeMetrics(body: Uint8Array, transport: Transport = 'http', receivedAt = Date.now()): DecodedResourceMetrics[] {
  return fromProtobuf('metrics', body, transport, receivedAt);
}

/** Decodes an ExportTraceServiceRequest (protobuf) into flattened spans. */
export function decodeSpans(body: Uint8Array, transport: Transport = 'http', receivedAt = Date.now()): DecodedSpan[] {
  return fromProtobuf('traces', body, transport, receivedAt);
}
