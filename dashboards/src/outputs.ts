/**
 * Every generated file, by path from the project root: the dashboards, the
 * Prometheus rule file, and their copies inside the Helm chart (a chart can
 * only read its own files).
 */
import { agentHealth } from './agent.js';
import { helmRulesYaml, rulesYaml } from './alerts.js';
import { toJson, type Dashboard } from './model.js';
import { nodeOverview } from './node.js';
import { workloadDrilldown } from './workload.js';

export const dashboards: Dashboard[] = [nodeOverview, workloadDrilldown, agentHealth];

export const RULES_FILE = 'deploy/prometheus/tcpulse-rules.yaml';
export const CHART = 'deploy/helm/tcpulse';

export function generate(): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dashboards) out.set(`dashboards/${d.uid}.json`, toJson(d));
  out.set(RULES_FILE, rulesYaml());
  out.set(`${CHART}/files/prometheus-rules.yaml`, helmRulesYaml());
  for (const d of dashboards) out.set(`${CHART}/files/dashboards/${d.uid}.json`, toJson(d));
  return out;
}
