/** Dashboard (a): what the TCP traffic of the chosen nodes, namespaces and pods looks like. */
import type { Dashboard } from './model.js';
import {
  LOCAL, LOCAL_LEGEND, PAIR_LEGEND, PEER, PEER_LEGEND, RATE, agg, bucketRates, flow, mean, namespaceVar, nodeVar, podVar, quantile,
  retransmitRatio, singleSubflowShare, sum,
} from './selectors.js';

export const nodeOverview: Dashboard = {
  uid: 'tcpulse-node',
  title: 'tcpulse / Node overview',
  description: 'TCP as the tcpulse agents see it: RTT on the wire and in the kernel, retransmissions, congestion windows, flows, connections and MPTCP subflows.',
  tags: ['tcpulse', 'tcp', 'network'],
  variables: [nodeVar, namespaceVar, podVar(true)],
  rows: [
    {
      title: 'Round-trip time',
      panels: [
        {
          kind: 'heatmap', title: 'RTT on the wire', unit: 's',
          description: 'Passive RTT samples from TCP timestamps (interface → peer → interface) per second, by bucket (tcpulse_rtt_seconds). The buckets are the kernel\'s: one per power of four by default (the agent\'s histograms.rtt).',
          queries: [{ expr: bucketRates('tcpulse_rtt_seconds') }],
        },
        {
          kind: 'timeseries', title: 'RTT percentiles', unit: 's', log: true,
          description: 'Wire RTT percentiles (tcpulse_rtt_seconds, packet path) and the mean of the kernel\'s smoothed RTT of the sockets on these nodes (tcpulse_srtt_seconds, tcp_probe), all selected series together. Percentiles are interpolated within the exported buckets: choose finer ones with the agent\'s histograms.rtt.',
          queries: [
            { expr: quantile(0.5, 'tcpulse_rtt_seconds'), legend: 'wire p50' },
            { expr: quantile(0.99, 'tcpulse_rtt_seconds'), legend: 'wire p99' },
            { expr: mean('tcpulse_srtt_seconds'), legend: 'srtt mean' },
          ],
        },
        {
          kind: 'timeseries', title: 'Min RTT per peer', unit: 's', log: true, w: 24,
          description: 'Lowest wire RTT to each peer over the last one to two min-RTT windows (tcpulse_min_rtt_seconds), the lowest over the selected local pods: the path\'s propagation delay, free of queueing. What TcpulseMinRttHigh watches.',
          queries: [{ expr: `${agg('min', PEER)}(${flow('tcpulse_min_rtt_seconds')})`, legend: PEER_LEGEND }],
        },
      ],
    },
    {
      title: 'Retransmissions',
      panels: [
        {
          kind: 'timeseries', title: 'Retransmit ratio', unit: 'percentunit', min: 0,
          description: 'Share of the segments a local pod sent to a peer that were retransmissions: rate(tcpulse_retransmits_total) (socket path) / rate(tcpulse_packets_total{direction="egress"}) (wire, per segment), per local pod and peer. Series the packet path does not see are left out. What TcpulseRetransmitRatioHigh watches.',
          queries: [{ expr: retransmitRatio([...LOCAL, ...PEER]), legend: PAIR_LEGEND }],
        },
        {
          kind: 'timeseries', title: 'Retransmitted segments', unit: 'pps', min: 0,
          description: 'Segments retransmitted per second by the sockets of each local pod (tcpulse_retransmits_total).',
          queries: [{ expr: `${sum(LOCAL)}(rate(${flow('tcpulse_retransmits_total')}[${RATE}]))`, legend: LOCAL_LEGEND }],
        },
      ],
    },
    {
      title: 'Congestion window',
      panels: [
        {
          kind: 'timeseries', title: 'Mean congestion window per pod', unit: 'none', min: 0,
          description: 'Mean congestion window (segments) of each local pod\'s sockets over the samples of the interval (tcpulse_cwnd_segments, tcp_probe, at most one sample per socket per millisecond).',
          queries: [{ expr: mean('tcpulse_cwnd_segments', LOCAL), legend: LOCAL_LEGEND }],
        },
        {
          kind: 'timeseries', title: 'Mean congestion window per peer', unit: 'none', min: 0,
          description: 'Mean congestion window (segments) of the selected sockets to each peer over the samples of the interval.',
          queries: [{ expr: mean('tcpulse_cwnd_segments', PEER), legend: PEER_LEGEND }],
        },
      ],
    },
    {
      title: 'Flows and connections',
      panels: [
        {
          kind: 'timeseries', title: 'Active flows and connections', unit: 'short', min: 0, w: 8,
          description: 'Flows in the kernel flow table (tcpulse_flows_active: what crosses the attached interfaces) and open sockets (tcpulse_connections_active: what ends on the node), per node.',
          queries: [
            { expr: `${sum('node')}(${flow('tcpulse_flows_active')})`, legend: 'flows {{node}}' },
            { expr: `${sum('node')}(${flow('tcpulse_connections_active')})`, legend: 'connections {{node}}' },
          ],
        },
        {
          kind: 'timeseries', title: 'Connections opened and closed', unit: 'cps', min: 0, w: 8,
          description: 'Sockets that reached ESTABLISHED (tcpulse_connections_opened_total) and established sockets that closed (tcpulse_connections_closed_total), by how: fin, rst or timeout.',
          queries: [
            { expr: `${sum()}(rate(${flow('tcpulse_connections_opened_total')}[${RATE}]))`, legend: 'opened' },
            { expr: `${sum('reason')}(rate(${flow('tcpulse_connections_closed_total')}[${RATE}]))`, legend: 'closed: {{reason}}' },
          ],
        },
        {
          kind: 'timeseries', title: 'Throughput', unit: 'bps', min: 0, w: 8,
          description: 'TCP bits per second on the attached interfaces (tcpulse_bytes_total, layer 3), by direction as seen from the local end.',
          queries: [{ expr: `${sum('direction')}(rate(${flow('tcpulse_bytes_total')}[${RATE}])) * 8`, legend: '{{direction}}' }],
        },
      ],
    },
    {
      title: 'MPTCP',
      panels: [
        {
          kind: 'timeseries', title: 'Open MPTCP connections and subflows', unit: 'short', min: 0, w: 8,
          description: 'Live MPTCP connections (tcpulse_mptcp_connections_open) and their open subflows (tcpulse_mptcp_subflows_open).',
          queries: [
            { expr: `${sum()}(${flow('tcpulse_mptcp_connections_open')})`, legend: 'connections' },
            { expr: `${sum()}(${flow('tcpulse_mptcp_subflows_open')})`, legend: 'subflows' },
          ],
        },
        {
          kind: 'bargauge', title: 'Subflows per closed MPTCP connection', unit: 'short', w: 8,
          description: 'MPTCP connections closed over the dashboard\'s time range, by the number of subflows they had (tcpulse_mptcp_subflows, observed when the last subflow closes).',
          queries: [{ expr: `${sum('le')}(increase(${flow('tcpulse_mptcp_subflows_bucket')}[$__range]))` }],
        },
        {
          kind: 'timeseries', title: 'MPTCP connections with a single subflow', unit: 'percentunit', min: 0, max: 1, w: 8,
          description: 'Share of the MPTCP connections closed in the last 10 minutes that never had more than one subflow (bucket le="1" of tcpulse_mptcp_subflows over its count): no second path joined, or the connection fell back. What TcpulseMptcpSubflowFallback watches.',
          queries: [{ expr: singleSubflowShare([], '10m'), legend: 'one subflow' }],
        },
      ],
    },
  ],
};
