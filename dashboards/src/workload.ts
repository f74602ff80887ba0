/** Dashboard (b): one pod (or, without Kubernetes, one node's addresses) and each of its peers. */
import type { Dashboard } from './model.js';
import {
  LOCAL, PAIR_LEGEND, PEER, PEER_LEGEND, RATE, agg, bucketRates, flow, mean, namespaceVar, nodeVar, podVar, quantile, retransmitRatio, sum,
} from './selectors.js';

const PAIR = [...LOCAL, ...PEER];

export const workloadDrilldown: Dashboard = {
  uid: 'tcpulse-workload',
  title: 'tcpulse / Workload drill-down',
  description: 'One pod and its peers: who it talks to, how far away they are (wire RTT and kernel srtt), how much it retransmits to each. Without Kubernetes, keep Namespace and Pod at All: peers are then addresses.',
  tags: ['tcpulse', 'tcp', 'network'],
  variables: [nodeVar, namespaceVar, podVar(false)],
  rows: [
    {
      title: 'Peers',
      panels: [
        {
          kind: 'table', title: 'Peers of the pod', w: 24, h: 9,
          description: 'One row per local pod and peer (peer pod, or the peer\'s range when it is no known pod; peer address without Kubernetes) and server port, now.',
          queries: [
            { expr: `${sum(PAIR)}(rate(${flow('tcpulse_bytes_total', 'direction="egress"')}[${RATE}])) * 8`, legend: 'sent', unit: 'bps' },
            { expr: `${sum(PAIR)}(rate(${flow('tcpulse_bytes_total', 'direction="ingress"')}[${RATE}])) * 8`, legend: 'received', unit: 'bps' },
            { expr: `${agg('min', PAIR)}(${flow('tcpulse_min_rtt_seconds')})`, legend: 'min RTT', unit: 's' },
            { expr: quantile(0.99, 'tcpulse_rtt_seconds', PAIR), legend: 'p99 RTT', unit: 's' },
            { expr: mean('tcpulse_srtt_seconds', PAIR), legend: 'mean srtt', unit: 's' },
            { expr: retransmitRatio(PAIR), legend: 'retransmitted', unit: 'percentunit' },
            { expr: `${sum(PAIR)}(${flow('tcpulse_connections_active')})`, legend: 'connections', unit: 'short' },
          ],
        },
      ],
    },
    {
      title: 'Round-trip time per peer',
      panels: [
        {
          kind: 'timeseries', title: 'Wire RTT (p50, p99)', unit: 's', log: true,
          description: 'Passive RTT from TCP timestamps on the pod\'s interface: the network and the peer\'s stack (tcpulse_rtt_seconds).',
          queries: [
            { expr: quantile(0.5, 'tcpulse_rtt_seconds', PAIR), legend: `p50 ${PAIR_LEGEND}` },
            { expr: quantile(0.99, 'tcpulse_rtt_seconds', PAIR), legend: `p99 ${PAIR_LEGEND}` },
          ],
        },
        {
          kind: 'timeseries', title: 'Kernel smoothed RTT (mean)', unit: 's', log: true,
          description: 'The mean of the kernel\'s srtt of the pod\'s sockets (tcpulse_srtt_seconds, tcp_probe): what TCP itself believes, delayed ACKs and the local stack included. srtt is a moving average already; its percentiles need the agent\'s histograms.srtt.',
          queries: [{ expr: mean('tcpulse_srtt_seconds', PAIR), legend: PAIR_LEGEND }],
        },
        {
          kind: 'timeseries', title: 'Min RTT', unit: 's', log: true,
          description: 'Lowest wire RTT to each peer over the last one to two min-RTT windows (tcpulse_min_rtt_seconds).',
          queries: [{ expr: `${agg('min', PAIR)}(${flow('tcpulse_min_rtt_seconds')})`, legend: PAIR_LEGEND }],
        },
        {
          kind: 'heatmap', title: 'Wire RTT distribution', unit: 's',
          description: 'RTT samples per second by bucket, all peers of the pod together (tcpulse_rtt_seconds).',
          queries: [{ expr: bucketRates('tcpulse_rtt_seconds') }],
        },
      ],
    },
    {
      title: 'Retransmissions, connections and throughput per peer',
      panels: [
        {
          kind: 'timeseries', title: 'Retransmit ratio', unit: 'percentunit', min: 0, w: 8,
          description: 'Share of the segments the pod sent to the peer that were retransmissions: rate(tcpulse_retransmits_total) / rate(tcpulse_packets_total{direction="egress"}).',
          queries: [{ expr: retransmitRatio(PAIR), legend: PAIR_LEGEND }],
        },
        {
          kind: 'timeseries', title: 'Retransmitted segments', unit: 'pps', min: 0, w: 8,
          description: 'Segments retransmitted per second by the pod\'s sockets to each peer (tcpulse_retransmits_total).',
          queries: [{ expr: `${sum(PAIR)}(rate(${flow('tcpulse_retransmits_total')}[${RATE}]))`, legend: PAIR_LEGEND }],
        },
        {
          kind: 'timeseries', title: 'Connections opened and closed', unit: 'cps', min: 0, w: 8,
          description: 'Connections to each peer that reached ESTABLISHED, and those that closed, by reason (fin, rst, timeout).',
          queries: [
            { expr: `${sum(PEER)}(rate(${flow('tcpulse_connections_opened_total')}[${RATE}]))`, legend: `opened ${PEER_LEGEND}` },
            { expr: `${sum(PEER, 'reason')}(rate(${flow('tcpulse_connections_closed_total')}[${RATE}]))`, legend: `{{reason}} ${PEER_LEGEND}` },
          ],
        },
        {
          kind: 'timeseries', title: 'Throughput', unit: 'bps', min: 0,
          description: 'Bits per second to and from each peer on the pod\'s interface (tcpulse_bytes_total, layer 3).',
          queries: [{ expr: `${sum(PEER, 'direction')}(rate(${flow('tcpulse_bytes_total')}[${RATE}])) * 8`, legend: `{{direction}} ${PEER_LEGEND}` }],
        },
        {
          kind: 'timeseries', title: 'Mean congestion window', unit: 'none', min: 0,
          description: 'Mean congestion window (segments) of the pod\'s sockets to each peer (tcpulse_cwnd_segments).',
          queries: [{ expr: mean('tcpulse_cwnd_segments', PAIR), legend: PAIR_LEGEND }],
        },
      ],
    },
  ],
};
