/**
 * The OTLP collector protobuf messages, from the protobufjs root generated
 * into @opentelemetry/otlp-transformer@0.57.2 (devDependency, aliased as
 * `otlp-transformer-0572`; later versions no longer ship decoders), per
 * signal: the Export*ServiceRequest, the empty Export*ServiceResponse, the
 * gRPC method path.
 */
import generatedRoot from 'otlp-transformer-0572/build/src/generated/root.js';
import type { RawMetricsRequest, RawTraceRequest } from './raw.js';
import type { Signal } from './types.js';

// what the root has (its .d.ts only says `protobuf.Root`)
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

/** longs as decimal strings, enums as numbers, bytes kept as Uint8Array: the shape OTLP/JSON also has (except ids, hex there) */
export const TO_OBJECT: ConversionOptions = { longs: String, defaults: false, arrays: false };

export const GRPC_METRICS_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
export const GRPC_TRACES_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** The raw (toObject) shape of each signal's request. */
export interface RawRequestOf {
  metrics: RawMetricsRequest;
  traces: RawTraceRequest;
}

const emptyResponse = (m: GeneratedMessage<object>) => Buffer.from(m.encode(m.create({})).finish());

export const PROTO: { [S in Signal]: { request: GeneratedMessage<RawRequestOf[S]>; emptyResponse: Buffer; grpcPath: string } } = {
  metrics: {
    request: collector.metrics.v1.ExportMetricsServiceRequest,
    emptyResponse: emptyResponse(collector.metrics.v1.ExportMetricsServiceResponse),
    grpcPath: GRPC_METRICS_PATH,
  },
  traces: {
    request: collector.trace.v1.ExportTraceServiceRequest,
    emptyResponse: emptyResponse(collector.trace.v1.ExportTraceServiceResponse),
    grpcPath: GRPC_TRACES_PATH,
  },
};
