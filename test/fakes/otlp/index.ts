/**
 * A local OTLP receiver for tests: http/protobuf (and http/json) on
 * POST /v1/metrics and /v1/traces (http.ts), and gRPC on
 * opentelemetry.proto.collector.{metrics,trace}.v1.{Metrics,Trace}Service/Export
 * (grpc.ts). Every request is decoded into plain JS objects (decode.ts, with
 * the protobuf messages of proto.ts) so tests can assert metric values and
 * span attributes; OtlpReceiver (receiver.ts) keeps them and has the modes
 * 'ok', 'slow', 'error' and 'down'.
 */
export type {
  Attributes,
  AttrValue,
  DecodedEvent,
  DecodedLink,
  DecodedMetric,
  DecodedPoint,
  DecodedResourceMetrics,
  DecodedScope,
  DecodedSpan,
  MetricType,
  OtlpReceiverOptions,
  ReceivedRequest,
  ReceiverMode,
  RequestOutcome,
  Signal,
  SpanKindName,
  StatusCodeName,
  Temporality,
  Transport,
} from './types.js';
export { decodeMetrics, decodeSpans, nanosToMillis, normaliseMetrics, normaliseSpans } from './decode.js';
export { GRPC_METRICS_PATH, GRPC_TRACES_PATH } from './proto.js';
export { OtlpReceiver } from './receiver.js';
