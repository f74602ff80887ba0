/** The OTLP receiver's public types: decoded metrics and spans, the request log, options. */
import type * as grpc from '@grpc/grpc-js';

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
