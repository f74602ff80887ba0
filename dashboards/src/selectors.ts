/**
 * Every selector, label set and legend of the dashboards (and the label
 * sets of the alerts), in one place.
 *
 * Labels: the agent's series carry, with Kubernetes rollup `pod` (the
 * chart's default), namespace, pod, workload, peer_namespace, peer_pod,
 * peer_workload, peer_address and server_port; without Kubernetes
 * local_address, peer_address and server_port. `node` is no label of the
 * agent: Prometheus adds it as a target label (the chart's ServiceMonitor
 * relabels it from the pod's node; a static scrape config sets it).
 *
 * Degrading without Kubernetes: the variables' "All" is the regex `.*`,
 * which also matches a missing label, so every selector still matches; the
 * groupings name both label sets (a missing label groups as empty) and the
 * legends print both (`{{pod}}{{local_address}}`: one of them is empty).
 */
import type { SampleName } from '../../src/export/families.js';
import type { Variable } from './model.js';

/** What a selector may name: the agent's samples (the family table), and the process metrics (src/export/process.ts). */
export type Metric = SampleName | `process_${string}`;

/** Grafana's rate window: at least four scrape intervals. */
export const RATE = '$__rate_interval';

const matchers = (base: string[], extra: string[]) => `{${[...base, ...extra].join(',')}}`;

/** A flow family (wire and socket series) filtered by the node, namespace and pod variables. */
export const flow = (metric: Metric, ...extra: string[]) =>
  `${metric}${matchers(['node=~"$node"', 'namespace=~"$namespace"', 'pod=~"$pod"'], extra)}`;

/**
 * One of the agent's own families, filtered by node only: they have no
 * namespace or pod label of their own, and under a ServiceMonitor the
 * target labels namespace and pod would name the agent's own pod.
 */
export const agent = (metric: Metric, ...extra: string[]) => `${metric}${matchers(['node=~"$node"'], extra)}`;

/** The agent's targets, for generic process metrics that other jobs export too. */
export const ofAgent = 'and on (job, instance) tcpulse_build_info';

// ---- label sets ----

/** The local end of a series: the pod (Kubernetes) or the local address. */
export const LOCAL = ['namespace', 'workload', 'pod', 'local_address'] as const;
/** The peer of a series: the peer pod or range (Kubernetes) or the peer address, and the server port. */
export const PEER = ['peer_namespace', 'peer_workload', 'peer_pod', 'peer_address', 'server_port'] as const;
/** Per workload and peer (alerts): pods of a workload fold together; local_address without Kubernetes. */
export const WORKLOAD_PAIR = ['namespace', 'workload', 'local_address', 'peer_namespace', 'peer_workload', 'peer_address', 'server_port'] as const;

/** An aggregation over label sets: `sum by (a, b) `, or `sum ` for none. */
export const agg = (op: string, ...labels: (readonly string[] | string)[]) => {
  const all = labels.flat();
  return all.length ? `${op} by (${all.join(', ')}) ` : `${op} `;
};
export const sum = (...labels: (readonly string[] | string)[]) => agg('sum', ...labels);

// ---- legends ----

export const LOCAL_LEGEND = '{{pod}}{{local_address}}';
export const PEER_LEGEND = '{{peer_pod}}{{peer_address}}:{{server_port}}';
export const PAIR_LEGEND = `${LOCAL_LEGEND} → ${PEER_LEGEND}`;

// ---- template variables (label_values queries, Grafana's Prometheus syntax) ----

export const VAR_NODE = 'label_values(tcpulse_build_info, node)';
export const VAR_NAMESPACE = 'label_values(tcpulse_packets_total{node=~"$node"}, namespace)';
export const VAR_POD = 'label_values(tcpulse_packets_total{node=~"$node",namespace=~"$namespace"}, pod)';

export const nodeVar: Variable = {
  name: 'node', label: 'Node', query: VAR_NODE,
  description: 'The node label Prometheus puts on the agent\'s targets (the chart\'s ServiceMonitor relabels it from the pod\'s node).',
};
export const namespaceVar: Variable = {
  name: 'namespace', label: 'Namespace', query: VAR_NAMESPACE,
  description: 'Namespace of the local pod (Kubernetes rollup pod, workload or flow). Without Kubernetes there are none: keep All.',
};
export const podVar = (multi: boolean): Variable => ({
  name: 'pod', label: 'Pod', query: VAR_POD, multi,
  description: 'The local pod (Kubernetes rollup pod or flow). Without Kubernetes there are none: keep All.',
});

// ---- shared definitions (dashboards and alerts) ----

export type Selector = (metric: Metric, ...extra: string[]) => string;
/** No filter at all (alert rules). */
export const bare: Selector = (metric, ...extra) => (extra.length ? `${metric}{${extra.join(',')}}` : metric);

/**
 * Retransmit ratio: segments the local sockets retransmitted (socket path,
 * tcp_sock.total_retrans) per segment the local end sent on the wire
 * (packet path, direction="egress", GSO batches counted per segment). Both
 * are counted in the same series, so the division pairs them label for
 * label; retransmissions are sent segments too, so the ratio is the share
 * of sent segments that were retransmissions, from 0 to 1. Series without
 * wire packets (sockets on interfaces the agent is not attached to) are left
 * out rather than divided by zero.
 */
export const retransmitRatio = (labels: readonly string[], window = RATE, s: Selector = flow) =>
  `${sum(labels)}(rate(${s('tcpulse_retransmits_total')}[${window}]))\n/\n` +
  `(${sum(labels)}(rate(${s('tcpulse_packets_total', 'direction="egress"')}[${window}])) > 0)`;

/** Histogram families: the kernel's (native when Prometheus scrapes protobuf with native histograms on) and the classic-only ones. */
export type HistogramFamily = Extract<Metric, 'tcpulse_rtt_seconds' | 'tcpulse_local_rtt_seconds' | 'tcpulse_srtt_seconds' | 'tcpulse_cwnd_segments' | 'tcpulse_scrape_duration_seconds'>;

/**
 * Both histogram modes in one query: the classic form (`_bucket`, `_sum`,
 * `_count` series: the text exposition, or native histograms off) `or` the
 * native form (one series of the family's own name). Only one of the two
 * has series in a given Prometheus, so the `or` is the one that has.
 */
const eitherMode = (classic: string, native: string) => `(${classic})\nor\n(${native})`;

/** A quantile of a histogram family's rate, per label set. */
export const quantile = (q: number, family: HistogramFamily, labels: readonly string[] = [], s: Selector = flow, window = RATE) =>
  eitherMode(
    `histogram_quantile(${q}, ${sum('le', labels)}(rate(${s(`${family}_bucket`)}[${window}])))`,
    `histogram_quantile(${q}, ${sum(labels)}(rate(${s(family)}[${window}])))`,
  );

/** A histogram family's rate per bucket, all selected series together (heatmaps). */
export const bucketRates = (family: HistogramFamily, s: Selector = flow, window = RATE) =>
  eitherMode(`${sum('le')}(rate(${s(`${family}_bucket`)}[${window}]))`, `${sum()}(rate(${s(family)}[${window}]))`);

/**
 * The mean of a histogram family's samples over the window, per label set:
 * rate of the sum over rate of the count, with buckets or without (srtt and
 * cwnd export no buckets by default: the agent's `histograms` option).
 */
export const mean = (family: HistogramFamily, labels: readonly string[] = [], s: Selector = flow, window = RATE) => {
  const native = `${sum(labels)}(rate(${s(family)}[${window}]))`;
  return eitherMode(
    `${sum(labels)}(rate(${s(`${family}_sum`)}[${window}]))\n/\n${sum(labels)}(rate(${s(`${family}_count`)}[${window}]))`,
    `histogram_sum(${native})\n/\nhistogram_count(${native})`,
  );
};

/**
 * Share of closed MPTCP connections that had a single subflow
 * (tcpulse_mptcp_subflows observed at 1). The bound is `le="1"` from the
 * text format and `le="1.0"` from the protobuf one (Prometheus 2 formats
 * protobuf bounds the OpenMetrics way): the matcher takes both.
 */
export const singleSubflowShare = (labels: readonly string[], window: string, s: Selector = flow) =>
  `${sum(labels)}(increase(${s('tcpulse_mptcp_subflows_bucket', 'le=~"1|1.0"')}[${window}]))\n/\n` +
  `${sum(labels)}(increase(${s('tcpulse_mptcp_subflows_count')}[${window}]))`;
