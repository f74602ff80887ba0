/** The alert rules as committed (deploy/prometheus), for the tests that read them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { RULES_FILE } from '../../dashboards/src/outputs.js';
import { projectRoot } from '../../src/paths.js';

export const RULES = join(projectRoot, RULES_FILE);

/** Every alert the project ships, in file order. */
export const REQUIRED_ALERTS = [
  'TcpulseMinRttHigh', 'TcpulseRetransmitRatioHigh', 'TcpulseMptcpSubflowFallback', 'TcpulseAgentDown',
  'TcpulseAgentBlind', 'TcpulseEventsLost', 'TcpulseSeriesOverflow', 'TcpulseFlowTableFull',
];

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export const loadRules = (): Rule[] =>
  (YAML.parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
