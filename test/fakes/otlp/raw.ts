/**
 * The loose input shapes of the decoder: protobufjs toObject() output and
 * OTLP/JSON alike (int64 as string or number, enums as number or name,
 * bytes as Uint8Array or hex/base64 strings).
 */

export type Int64Like = string | number | { toString(): string };
export type DoubleLike = number | string;
export type EnumLike = number | string;
export type BytesLike = Uint8Array | string;
export interface RawKeyValue {
  key?: string;
  value?: RawAnyValue | null;
}
export interface RawAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64Like;
  doubleValue?: DoubleLike;
  arrayValue?: { values?: RawAnyValue[] };
  kvlistValue?: { values?: RawKeyValue[] };
  bytesValue?: BytesLike;
}
export interface RawResource {
  attributes?: RawKeyValue[];
}
export interface RawScope {
  name?: string;
  version?: string;
  attributes?: RawKeyValue[];
}
export interface RawPointBase {
  attributes?: RawKeyValue[];
  startTimeUnixNano?: Int64Like;
  timeUnixNano?: Int64Like;
  flags?: number;
}
export interface RawNumberPoint extends RawPointBase {
  asDouble?: DoubleLike;
  asInt?: Int64Like;
}
/** What histogram, exponential histogram and summary points have in common. */
export interface RawCountedPoint extends RawPointBase {
  count?: Int64Like;
  sum?: DoubleLike;
}
/** ... and what both kinds of histogram points have. */
export interface RawSpreadPoint extends RawCountedPoint {
  min?: DoubleLike;
  max?: DoubleLike;
}
export interface RawHistogramPoint extends RawSpreadPoint {
  bucketCounts?: Int64Like[];
  explicitBounds?: DoubleLike[];
}
export interface RawBuckets {
  offset?: number;
  bucketCounts?: Int64Like[];
}
export interface RawExpHistogramPoint extends RawSpreadPoint {
  scale?: number;
  zeroCount?: Int64Like;
  positive?: RawBuckets;
  negative?: RawBuckets;
}
export interface RawSummaryPoint extends RawCountedPoint {
  quantileValues?: { quantile?: DoubleLike; value?: DoubleLike }[];
}
export interface RawMetric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: RawNumberPoint[] };
  sum?: { dataPoints?: RawNumberPoint[]; aggregationTemporality?: EnumLike; isMonotonic?: boolean };
  histogram?: { dataPoints?: RawHistogramPoint[]; aggregationTemporality?: EnumLike };
  exponentialHistogram?: { dataPoints?: RawExpHistogramPoint[]; aggregationTemporality?: EnumLike };
  summary?: { dataPoints?: RawSummaryPoint[] };
}
export interface RawMetricsRequest {
  resourceMetrics?: {
    resource?: RawResource;
    schemaUrl?: string;
    scopeMetrics?: { scope?: RawScope; schemaUrl?: string; metrics?: RawMetric[] }[];
  }[];
}
export interface RawEvent {
  name?: string;
  timeUnixNano?: Int64Like;
  attributes?: RawKeyValue[];
}
export interface RawLink {
  traceId?: BytesLike;
  spanId?: BytesLike;
  traceState?: string;
  attributes?: RawKeyValue[];
}
export interface RawSpan {
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
export interface RawTraceRequest {
  resourceSpans?: { resource?: RawResource; scopeSpans?: { scope?: RawScope; spans?: RawSpan[] }[] }[];
}
