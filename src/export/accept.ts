/**
 * Content negotiation for /metrics: the protobuf exposition when the
 * scraper prefers it (Prometheus with native histograms on asks for it
 * first), the text format otherwise, as client_golang's promhttp decides.
 */
export type Format = 'text' | 'protobuf';

const PROTO = 'application/vnd.google.protobuf';
const PROTO_MESSAGE = 'io.prometheus.client.MetricFamily';

/** The format for an Accept header: protobuf only when delimited MetricFamily messages rank above text. */
export function negotiate(accept: string | undefined): Format {
  if (!accept) return 'text';
  let proto = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const param = (name: string) => params.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1);
    const q = param('q') === undefined ? 1 : Number(param('q'));
    if (!(q > 0)) continue;
    if (type === PROTO) {
      if (param('proto') === PROTO_MESSAGE.toLowerCase() && param('encoding') === 'delimited') proto = Math.max(proto, q);
    } else if (type === 'text/plain' || type === 'text/*' || type === '*/*' || type === 'application/openmetrics-text') {
      text = Math.max(text, q);
    }
  }
  return proto > text ? 'protobuf' : 'text';
}
