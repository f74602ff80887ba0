/**
 * The generated Grafana dashboards as Grafana would run them: their
 * template variables resolved against a Prometheus (label_values()), and
 * every panel query expanded and evaluated through the HTTP API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import type { PrometheusProc } from './prometheus.js';

export type DashboardJson = Record<string, any>;

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

export const DASHBOARD_FILES = ['tcpulse-node.json', 'tcpulse-workload.json', 'tcpulse-agent.json'];

export function loadDashboards(): DashboardJson[] {
  return DASHBOARD_FILES.map((f) => JSON.parse(readFileSync(join(projectRoot, 'dashboards', f), 'utf8')) as DashboardJson);
}

/** Every target of every panel (rows included). */
export function panelQueries(d: DashboardJson): PanelQuery[] {
  const panels = (d.panels as any[]).flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p) =>
    ((p.targets ?? []) as any[]).map((t) => ({ dashboard: d.uid as string, panel: p.title as string, refId: t.refId as string, expr: t.expr as string })),
  );
}

/** The query variables, in order (later ones may refer to earlier ones). */
export function queryVariables(d: DashboardJson): { name: string; query: string; multi: boolean }[] {
  return (d.templating.list as any[]).filter((v) => v.type === 'query').map((v) => ({ name: v.name, query: v.query.query ?? v.query, multi: v.multi }));
}

/** What Grafana substitutes for its built-in variables, for a test: a rate window of 15 scrapes of 1 s. */
export const BUILTINS: Record<string, string> = { __rate_interval: '15s', __range: '1m', __interval: '1s', datasource: 'prometheus' };

const regexEscape = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');

/** A variable's value as Grafana formats it into a regex matcher: All is the allValue `.*`, values are escaped and joined. */
export function formatValue(values: string[] | 'all'): string {
  if (values === 'all') return '.*';
  return values.length === 1 ? regexEscape(values[0]!) : `(${values.map(regexEscape).join('|')})`;
}

export function expand(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (m, name: string) => {
    const v = values[name] ?? BUILTINS[name];
    if (v === undefined) throw new Error(`unknown variable ${m} in ${expr}`);
    return v;
  });
}

/** label_values(metric{...}, label) through /api/v1/label/<label>/values. */
export async function variableOptions(prom: PrometheusProc, query: string, values: Record<string, string>): Promise<string[]> {
  const m = /^label_values\((.*),\s*(\w+)\)$/.exec(query);
  if (!m) throw new Error(`not a label_values query: ${query}`);
  return prom.labelValues(m[2]!, expand(m[1]!, values));
}

/**
 * Resolves a dashboard's variables in order: `chosen` picks values by name
 * (each must be among the options), others are All.
 */
export async function resolveVariables(
  prom: PrometheusProc,
  d: DashboardJson,
  chosen: Record<string, string> = {},
): Promise<{ values: Record<string, string>; options: Record<string, string[]> }> {
  const values: Record<string, string> = {};
  const options: Record<string, string[]> = {};
  for (const v of queryVariables(d)) {
    options[v.name] = await variableOptions(prom, v.query, values);
    const pick = chosen[v.name];
    if (pick !== undefined && !options[v.name]!.includes(pick)) throw new Error(`${d.uid}: $${v.name} has no option ${pick}: ${options[v.name]!.join(',')}`);
    values[v.name] = formatValue(pick === undefined ? 'all' : [pick]);
  }
  return { values, options };
}

/** Evaluates every panel query of d with the variable values; the ones with an empty result. */
export async function emptyPanels(prom: PrometheusProc, d: DashboardJson, values: Record<string, string>): Promise<(PanelQuery & { expanded: string })[]> {
  const empty: (PanelQuery & { expanded: string })[] = [];
  for (const q of panelQueries(d)) {
    const expanded = expand(q.expr, values);
    const r = await prom.query(expanded);
    if (r.length === 0) empty.push({ ...q, expanded });
  }
  return empty;
}

export const describeEmpty = (e: { dashboard: string; panel: string; refId: string; expanded: string }[]) =>
  e.map((x) => `${x.dashboard} / ${x.panel} / ${x.refId}: ${x.expanded.replace(/\s+/g, ' ')}`).join('\n');
