/**
 * The alert rules: the one source of deploy/prometheus/tcpulse-rules.yaml
 * (plain Prometheus) and of deploy/helm/tcpulse/files/prometheus-rules.yaml,
 * which the chart's PrometheusRule renders with tpl: the same rules with
 * each alert's parameters (threshold, for, severity, ...) taken from
 * `prometheusRule.<key>` in the chart's values, whose defaults are the
 * ones here (test/chart/alerts.test.ts renders the chart and compares), plus the
 * chart's additionalAlertLabels. Each alert has a section in
 * docs/runbook.md, titled like the alert.
 *
 * Network alerts are per workload and peer (WORKLOAD_PAIR: the pods of one
 * workload fold together; without Kubernetes, per local and peer address).
 * Agent alerts are per agent target (job, instance, node).
 */
import YAML from 'yaml';
import { WORKLOAD_PAIR, agg, bare, retransmitRatio, singleSubflowShare, sum } from './selectors.js';

/** Where docs/runbook.md is published; each alert links to its section. */
export const RUNBOOK_URL = 'https://github.com/tcpulse/tcpulse/blob/main/docs/runbook.md';
/** The scrape job of the plain rule file (the chart uses its ServiceMonitor's job). */
export const PLAIN_JOB = 'tcpulse';

type Params = { for: string; severity: 'critical' | 'warning' } & Record<string, number | string>;
/** Parameter values as they appear in the rule: literals, or Helm template actions. */
type P = Record<string, string>;

export interface Alert {
  alert: string;
  /** Key of the alert's parameters under prometheusRule in the chart's values. */
  key: string;
  /** Parameters and their defaults. */
  params: Params;
  expr: (p: P) => string;
  summary: string;
  description: (p: P) => string;
}

export interface Group {
  name: string;
  rules: Alert[];
}

// Go templates for the annotations: the local and peer ends in either label set.
const LOCAL = '{{ if $labels.workload }}{{ $labels.namespace }}/{{ $labels.workload }}{{ else }}{{ $labels.local_address }}{{ end }}';
const PEER = '{{ if $labels.peer_workload }}{{ $labels.peer_namespace }}/{{ $labels.peer_workload }}{{ else }}{{ $labels.peer_address }}{{ end }}:{{ $labels.server_port }}';
const AGENT = 'The tcpulse agent {{ $labels.instance }}{{ with $labels.node }} on node {{ . }}{{ end }}';
const W = WORKLOAD_PAIR;
const indent = (s: string) => s.split('\n').map((l) => `  ${l}`).join('\n');

export const groups: Group[] = [
  {
    name: 'tcpulse.network',
    rules: [
      {
        alert: 'TcpulseMinRttHigh', key: 'minRttHigh',
        params: { threshold: 0.1, for: '10m', severity: 'warning' },
        expr: (p) => `${agg('min', W)}(tcpulse_min_rtt_seconds) > ${p.threshold}`,
        summary: 'The path from a workload to a peer is slow even at its best.',
        description: (p) => `The lowest RTT from ${LOCAL} to ${PEER} has stayed above ${p.threshold} s for ${p.for} (now {{ $value | humanizeDuration }}): the path itself is long or congested, not just busy.`,
      },
      {
        alert: 'TcpulseRetransmitRatioHigh', key: 'retransmitRatioHigh',
        params: { threshold: 0.02, minPacketRate: 10, for: '10m', severity: 'warning' },
        expr: (p) => `(\n${indent(retransmitRatio(W, '5m', bare))}\n) > ${p.threshold}\nand\n${sum(W)}(rate(tcpulse_packets_total{direction="egress"}[5m])) > ${p.minPacketRate}`,
        summary: 'A workload retransmits much of what it sends to a peer.',
        description: (p) => `{{ $value | humanizePercentage }} of the segments ${LOCAL} sent to ${PEER} over the last 5 minutes were retransmissions (threshold ${p.threshold}, for ${p.for}): packets are being lost on the way.`,
      },
      {
        alert: 'TcpulseMptcpSubflowFallback', key: 'mptcpSubflowFallback',
        params: { threshold: 0.5, minConnections: 5, for: '10m', severity: 'warning' },
        expr: (p) => `(\n${indent(singleSubflowShare(W, '30m', bare))}\n) > ${p.threshold}\nand\n${sum(W)}(increase(tcpulse_mptcp_subflows_count[30m])) >= ${p.minConnections}`,
        summary: 'MPTCP connections run on a single subflow.',
        description: (p) => `{{ $value | humanizePercentage }} of the MPTCP connections from ${LOCAL} to ${PEER} closed in the last 30 minutes never had a second subflow (threshold ${p.threshold}, for ${p.for}): they get no redundancy and no extra path.`,
      },
    ],
  },
  {
    name: 'tcpulse.agent',
    rules: [
      {
        alert: 'TcpulseAgentDown', key: 'agentDown',
        params: { for: '5m', severity: 'critical' },
        expr: (p) => `up{job="${p.job}"} == 0`,
        summary: 'A tcpulse agent cannot be scraped.',
        description: (p) => `${AGENT} has not been scraped successfully for ${p.for}: the TCP metrics of that node are missing.`,
      },
      {
        alert: 'TcpulseAgentBlind', key: 'agentBlind',
        params: { for: '10m', severity: 'critical' },
        expr: () => 'tcpulse_probe_available{probe=~"packet_ingress|packet_egress|tcp_probe"} == 0',
        summary: 'A tcpulse agent runs without one of its main probes.',
        description: (p) => `${AGENT} has had no {{ $labels.probe }} probe loaded and attached for ${p.for} (hook {{ $labels.hook }}): it does not see that part of the TCP traffic.`,
      },
      {
        alert: 'TcpulseEventsLost', key: 'eventsLost',
        params: { for: '1m', severity: 'warning' },
        expr: () => 'increase(tcpulse_events_lost_total[10m]) > 0',
        summary: 'A tcpulse agent loses kernel events.',
        description: () => `${AGENT} lost {{ $value | humanize }} events from its ring buffers in the last 10 minutes: connection opens, closes or connection log records are missing.`,
      },
      {
        alert: 'TcpulseSeriesOverflow', key: 'seriesOverflow',
        params: { for: '15m', severity: 'warning' },
        expr: () => 'increase(tcpulse_series_overflow_total[10m]) > 0',
        summary: 'A tcpulse agent folds flows into its overflow series.',
        description: () => `${AGENT} has spent its series budget: {{ $value | humanize }} flows in the last 10 minutes were counted under the __overflow__ series instead of their own.`,
      },
      {
        alert: 'TcpulseFlowTableFull', key: 'flowTableFull',
        params: { for: '15m', severity: 'warning' },
        expr: () => 'increase(tcpulse_flow_table_untracked_total[10m]) > 0',
        summary: 'A tcpulse kernel table is full: new flows or sockets are not measured.',
        description: () => `${AGENT}: its {{ $labels.table }} table was full for {{ $value | humanize }} new entries in the last 10 minutes; those are not measured.`,
      },
    ],
  },
];

/** The GitHub anchor of a runbook section titled exactly like the alert. */
export const runbookUrl = (alert: string) => `${RUNBOOK_URL}#${alert.toLowerCase()}`;

/** The rule groups (rule file `groups`, PrometheusRule `spec.groups`) with the parameters p(alert) gives. */
function ruleGroups(p: (a: Alert) => P): unknown[] {
  return groups.map((g) => ({
    name: g.name,
    rules: g.rules.map((a) => {
      const q = p(a);
      return {
        alert: a.alert,
        expr: a.expr(q),
        for: q.for,
        labels: { severity: q.severity },
        annotations: { summary: a.summary, description: a.description(q), runbook_url: runbookUrl(a.alert) },
      };
    }),
  }));
}

export const GENERATED = 'Generated by dashboards/build.ts from dashboards/src/alerts.ts: do not edit.';

/** The plain Prometheus rule file: the defaults, the scrape job `tcpulse`. */
export function rulesYaml(): string {
  const p = (a: Alert): P => ({ ...Object.fromEntries(Object.entries(a.params).map(([k, v]) => [k, String(v)])), job: PLAIN_JOB });
  return `# ${GENERATED}\n# Alerting rules for the tcpulse agents, scraped by the job "${PLAIN_JOB}".\n` + YAML.stringify({ groups: ruleGroups(p) }, { lineWidth: 0 });
}

/**
 * The chart's files/prometheus-rules.yaml, for its template to render with
 * tpl: parameters become {{ .Values.prometheusRule.<key>.<name> }}, the
 * job the chart's, Prometheus' own templates are escaped, and every alert
 * gets the chart's additionalAlertLabels.
 */
export function helmRulesYaml(): string {
  const refs: string[] = [];
  const ref = (action: string) => `HELMREF${refs.push(action) - 1}X`;
  const p = (a: Alert): P => ({
    ...Object.fromEntries(Object.keys(a.params).map((k) => [k, ref(`{{ .Values.prometheusRule.${a.key}.${k} }}`)])),
    job: ref('{{ include "tcpulse.job" . }}'),
  });
  const text = YAML.stringify({ groups: ruleGroups(p) }, { lineWidth: 0 })
    .replaceAll('{{', '{{ "{{" }}')
    .replace(/^(\s*)severity: (.*)$/gm, (_, ind: string, v: string) =>
      [`${ind}severity: ${v}`, `${ind}{{- with .Values.prometheusRule.additionalAlertLabels }}`, `${ind}{{- toYaml . | nindent ${ind.length} }}`, `${ind}{{- end }}`].join('\n'))
    .replace(/HELMREF(\d+)X/g, (_, i: string) => refs[Number(i)]!);
  return [
    `# ${GENERATED}`,
    '# The rule groups of the chart\'s PrometheusRule (spec.groups), rendered by',
    '# templates/prometheusrule.yaml with tpl: each alert\'s parameters come from',
    '# prometheusRule.<alert> in values.yaml, the job is the ServiceMonitor\'s.',
    text,
  ].join('\n');
}
