/**
 * Where OTLP goes, from the config and the standard environment: apart
 * from the exporter so that deciding whether to export loads no OTel module.
 */
import type { Config } from '../../config.js';

export interface OtlpTarget {
  endpoint: string;
  protocol: 'http/protobuf' | 'grpc';
}

export function otlpEndpoint(config: Pick<Config, 'otlp'>): OtlpTarget | null {
  const endpoint = config.otlp.endpoint || process.env.OTEL_EXPORTER_OTLP_ENDPOINT || '';
  if (!endpoint) return null;
  const env = process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
  const protocol = config.otlp.protocol || (env === 'grpc' ? 'grpc' : 'http/protobuf');
  return { endpoint: endpoint.replace(/\/+$/, ''), protocol };
}
