/** Dashboard (c): the agent's own health: probes, kernel tables, lost data, cost, Kubernetes watches, OTLP. */
import type { Dashboard } from './model.js';
import { RATE, agent, agg, nodeVar, ofAgent, quantile, sum, type Metric } from './selectors.js';

const rate = (metric: Metric, ...extra: string[]) => `rate(${agent(metric, ...extra)}[${RATE}])`;
const increase = (metric: Metric) => `increase(${agent(metric)}[${RATE}])`;

export const agentHealth: Dashboard = {
  uid: 'tcpulse-agent',
  title: 'tcpulse / Agent health',
  description: 'The tcpulse agents themselves: which probes are loaded, how full the kernel tables are, what was lost or folded, what it costs, and the Kubernetes and OTLP connections.',
  tags: ['tcpulse', 'agent'],
  variables: [nodeVar],
  rows: [
    {
      title: 'Probes',
      panels: [
        {
          kind: 'stat', title: 'Agents', w: 4, h: 6,
          description: 'Agents reporting, by version (tcpulse_build_info).',
          queries: [{ expr: `count by (version) (${agent('tcpulse_build_info')})`, legend: '{{version}}' }],
        },
        {
          kind: 'stat', title: 'Probes loaded', w: 20, h: 6,
          thresholds: ['red', [1, 'green']],
          mappings: { 0: { text: 'missing', color: 'red' }, 1: { text: 'loaded', color: 'green' } },
          description: 'Whether each probe is loaded and attached on every selected node (tcpulse_probe_available, the lowest over the nodes), and by which hook. packet_ingress/packet_egress missing: no interface attached; a socket hook missing: that signal is off on this kernel (TcpulseAgentBlind).',
          queries: [{ expr: `${agg('min', 'probe', 'hook')}(${agent('tcpulse_probe_available')})`, legend: '{{probe}} ({{hook}})' }],
        },
        {
          kind: 'timeseries', title: 'Interfaces', unit: 'short', min: 0, w: 8,
          description: 'Links held per node (tcpulse_interface_attached: two per interface, ingress and egress), and interfaces attached, detached (gone) or failed in the interval (tcpulse_interface_changes_total).',
          queries: [
            { expr: `count by (node) (${agent('tcpulse_interface_attached')})`, legend: 'links {{node}}' },
            { expr: `${sum('event')}(${increase('tcpulse_interface_changes_total')})`, legend: '{{event}}' },
          ],
        },
        {
          kind: 'timeseries', title: 'Packets parsed', unit: 'pps', min: 0, w: 8,
          description: 'Packets the packet programs saw, by parse result (tcpulse_bpf_packets_total): tcp, not_tcp, malformed, fragment.',
          queries: [{ expr: `${sum('result')}(${rate('tcpulse_bpf_packets_total')})`, legend: '{{result}}' }],
        },
        {
          kind: 'timeseries', title: 'RTT timestamps', unit: 'ops', min: 0, w: 8,
          description: 'TCP timestamps taken for RTT matching, matched into an RTT sample, and expired unmatched (tcpulse_rtt_timestamps_total).',
          queries: [{ expr: `${sum('outcome')}(${rate('tcpulse_rtt_timestamps_total')})`, legend: '{{outcome}}' }],
        },
      ],
    },
    {
      title: 'Kernel tables and lost data',
      panels: [
        {
          kind: 'timeseries', title: 'Table fill', unit: 'percentunit', min: 0, max: 1, w: 6,
          description: 'Entries per capacity of each kernel table (tcpulse_flow_table_entries / tcpulse_flow_table_capacity): flows (packet path) and sockets (socket path). A full table measures what it holds and refuses new entries.',
          queries: [{ expr: `${agg('max', 'node', 'table')}(${agent('tcpulse_flow_table_entries')} / ${agent('tcpulse_flow_table_capacity')})`, legend: '{{table}} {{node}}' }],
        },
        {
          kind: 'timeseries', title: 'Not tracked', unit: 'ops', min: 0, w: 6,
          description: 'New flows and sockets per second that a full table could not take (tcpulse_flow_table_untracked_total): they are not measured (TcpulseFlowTableFull).',
          queries: [{ expr: `${sum('node', 'table')}(${rate('tcpulse_flow_table_untracked_total')})`, legend: '{{table}} {{node}}' }],
        },
        {
          kind: 'timeseries', title: 'Series', unit: 'short', min: 0, w: 6,
          description: 'Series exported per node (tcpulse_series, the overflow series included), against the budget maxSeries.',
          queries: [{ expr: `${sum('node')}(${agent('tcpulse_series')})`, legend: '{{node}}' }],
        },
        {
          kind: 'timeseries', title: 'Series overflow', unit: 'ops', min: 0, w: 6,
          description: 'Flows folded into the __overflow__ series per second because the series budget was spent (tcpulse_series_overflow_total; TcpulseSeriesOverflow).',
          queries: [{ expr: `${sum('node')}(${rate('tcpulse_series_overflow_total')})`, legend: '{{node}}' }],
        },
        {
          kind: 'timeseries', title: 'Events received and lost', unit: 'ops', min: 0, w: 24,
          description: 'Flow events (tcpulse_flow_events_total) and socket events (tcpulse_socket_events_total) handled, and events dropped because a ring buffer was full (tcpulse_events_lost_total; TcpulseEventsLost).',
          queries: [
            { expr: `${sum('node')}(${rate('tcpulse_events_lost_total')})`, legend: 'lost {{node}}' },
            { expr: `${sum('event')}(${rate('tcpulse_flow_events_total')})`, legend: 'flow {{event}}' },
            { expr: `${sum('event')}(${rate('tcpulse_socket_events_total')})`, legend: 'socket {{event}}' },
          ],
        },
      ],
    },
    {
      title: 'Cost',
      panels: [
        {
          kind: 'timeseries', title: 'Scrape duration', unit: 's', min: 0, w: 8,
          description: 'Time to render /metrics (tcpulse_scrape_duration_seconds): p99 and mean per node.',
          queries: [
            { expr: quantile(0.99, 'tcpulse_scrape_duration_seconds', ['node'], agent), legend: 'p99 {{node}}' },
            { expr: `${sum('node')}(${rate('tcpulse_scrape_duration_seconds_sum')}) / ${sum('node')}(${rate('tcpulse_scrape_duration_seconds_count')})`, legend: 'mean {{node}}' },
          ],
        },
        {
          kind: 'timeseries', title: 'Rollup duration', unit: 's', min: 0, w: 8,
          description: 'Time the last round took to read the kernel tables and roll them up into series (tcpulse_rollup_duration_seconds), once per interval.',
          queries: [{ expr: `${agg('max', 'node')}(${agent('tcpulse_rollup_duration_seconds')})`, legend: '{{node}}' }],
        },
        {
          kind: 'timeseries', title: 'Agent CPU', unit: 'percentunit', min: 0, w: 4,
          description: 'CPU of the agent process in cores (process_cpu_seconds_total of the agent\'s targets only).',
          queries: [{ expr: `${rate('process_cpu_seconds_total')} ${ofAgent}`, legend: '{{node}}' }],
        },
        {
          kind: 'timeseries', title: 'Agent memory', unit: 'bytes', min: 0, w: 4,
          description: 'Resident memory of the agent process (process_resident_memory_bytes of the agent\'s targets only); the kernel tables are extra (tcpulse_flow_table_memory_bytes).',
          queries: [{ expr: `${agent('process_resident_memory_bytes')} ${ofAgent}`, legend: '{{node}}' }],
        },
        {
          kind: 'timeseries', title: 'BPF time per run', unit: 's', min: 0,
          description: 'Mean time per run of each BPF program (tcpulse_bpf_program_run_seconds_total / tcpulse_bpf_program_runs_total, kernel bpf_stats): per packet or GSO/GRO batch for the packet programs, per event for the socket hooks. Needs bpfStats (the chart leaves it off: it needs CAP_SYS_ADMIN).',
          queries: [{ expr: `${sum('program')}(${rate('tcpulse_bpf_program_run_seconds_total')})\n/\n(${sum('program')}(${rate('tcpulse_bpf_program_runs_total')}) > 0)`, legend: '{{program}}' }],
        },
        {
          kind: 'timeseries', title: 'BPF CPU', unit: 'percentunit', min: 0, stack: true,
          description: 'CPU time of each BPF program in cores (rate of tcpulse_bpf_program_run_seconds_total): the cost the agent adds to the data path. Needs bpfStats.',
          queries: [{ expr: `${sum('program')}(${rate('tcpulse_bpf_program_run_seconds_total')})`, legend: '{{program}}' }],
        },
      ],
    },
    {
      title: 'Kubernetes and OTLP',
      panels: [
        {
          kind: 'stat', title: 'Watches synced', w: 6, h: 6,
          thresholds: ['red', [1, 'green']],
          mappings: { 0: { text: 'not synced', color: 'red' }, 1: { text: 'synced', color: 'green' } },
          description: 'Whether each resource was listed at least once on every selected node (tcpulse_kubernetes_synced). Until then series carry no pod labels.',
          queries: [{ expr: `${agg('min', 'resource')}(${agent('tcpulse_kubernetes_synced')})`, legend: '{{resource}}' }],
        },
        {
          kind: 'stat', title: 'Pods known', w: 6, h: 6,
          description: 'Pods the agent knows (tcpulse_kubernetes_pods), deleted ones within their grace included, the most over the selected nodes.',
          queries: [{ expr: `${agg('max')}(${agent('tcpulse_kubernetes_pods')})`, legend: 'pods' }],
        },
        {
          kind: 'timeseries', title: 'List and watch', unit: 'short', min: 0, w: 12, h: 6,
          description: 'Lists, watches started, watches expired (410 Gone: followed by a list) and errors (retried with backoff) in the interval, by resource (tcpulse_kubernetes_*_total).',
          queries: [
            { expr: `${sum('resource')}(${increase('tcpulse_kubernetes_lists_total')})`, legend: 'lists {{resource}}' },
            { expr: `${sum('resource')}(${increase('tcpulse_kubernetes_watches_total')})`, legend: 'watches {{resource}}' },
            { expr: `${sum('resource')}(${increase('tcpulse_kubernetes_watch_expired_total')})`, legend: 'expired {{resource}}' },
            { expr: `${sum('resource')}(${increase('tcpulse_kubernetes_errors_total')})`, legend: 'errors {{resource}}' },
          ],
        },
        {
          kind: 'timeseries', title: 'OTLP metric exports', unit: 'ops', min: 0,
          description: 'OTLP metric exports per second by outcome (tcpulse_otlp_exports_total): ok, failed (after the exporter\'s retries).',
          queries: [{ expr: `${sum('outcome')}(${rate('tcpulse_otlp_exports_total')})`, legend: '{{outcome}}' }],
        },
        {
          kind: 'timeseries', title: 'OTLP connection spans', unit: 'ops', min: 0,
          description: 'Connection spans per second by outcome (tcpulse_otlp_spans_total): exported, failed, dropped (queue full), sampled_out.',
          queries: [{ expr: `${sum('outcome')}(${rate('tcpulse_otlp_spans_total')})`, legend: '{{outcome}}' }],
        },
      ],
    },
  ],
};
