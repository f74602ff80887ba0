/**
 * The alert rules (deploy/prometheus/tcpulse-rules.yaml, generated from
 * dashboards/src/alerts.ts): the committed file is what the generator
 * writes, promtool accepts it, promtool's unit tests
 * (deploy/prometheus/tcpulse-rules.test.yaml) make each alert fire from
 * input series and keep it quiet on others, and every alert links to its
 * section of docs/runbook.md. test/dashboards.test.ts loads the same rules
 * into a real Prometheus scraping a real agent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { RUNBOOK_URL, groups, helmRulesYaml, rulesYaml } from '../dashboards/src/alerts.js';
import { CHART, RULES_FILE } from '../dashboards/src/outputs.js';
import { projectRoot } from '../src/paths.js';
import { run } from './helpers/exec.js';
import { helmTemplate } from './helpers/helm.js';

const RULES = join(projectRoot, RULES_FILE);
const TESTS = join(projectRoot, 'deploy/prometheus/tcpulse-rules.test.yaml');
const RUNBOOK = join(projectRoot, 'docs/runbook.md');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const loadRules = () => (YAML.parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

const REQUIRED = [
  'TcpulseMinRttHigh', 'TcpulseRetransmitRatioHigh', 'TcpulseMptcpSubflowFallback', 'TcpulseAgentDown',
  'TcpulseAgentBlind', 'TcpulseEventsLost', 'TcpulseSeriesOverflow', 'TcpulseFlowTableEvicting',
];

describe('alert rules', () => {
  it('the committed rule files (plain and the chart\'s) are byte-identical to a fresh generation', () => {
    const hint = 'differs from dashboards/src/alerts.ts: run node --import tsx dashboards/build.ts';
    assert.equal(readFileSync(RULES, 'utf8'), rulesYaml(), `${RULES_FILE} ${hint}`);
    assert.equal(readFileSync(join(projectRoot, CHART, 'files/prometheus-rules.yaml'), 'utf8'), helmRulesYaml(), `the chart's rules ${hint}`);
  });

  it('has every alert, each with a severity, summary, description and runbook link', () => {
    const rules = loadRules();
    assert.deepEqual(rules.map((r) => r.alert), REQUIRED);
    assert.deepEqual(groups.flatMap((g) => g.rules.map((r) => r.alert)), REQUIRED);
    for (const r of rules) {
      assert.match(r.labels.severity ?? '', /^(critical|warning)$/, r.alert);
      assert.ok(r.annotations.summary && r.annotations.description, r.alert);
      assert.equal(r.annotations.runbook_url, `${RUNBOOK_URL}#${r.alert.toLowerCase()}`);
    }
  });

  it('promtool check rules passes', async () => {
    const r = await run('promtool', ['check', 'rules', RULES], { allowFail: true });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${REQUIRED.length} rules found`));
  });

  it('promtool test rules passes, with a firing and a quiet expectation for every alert', async () => {
    const tests = YAML.parse(readFileSync(TESTS, 'utf8')) as { rule_files: string[]; tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    assert.deepEqual(tests.rule_files, ['tcpulse-rules.yaml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of REQUIRED) {
      const mine = cases.filter((c) => c.alertname === name);
      assert.ok(mine.some((c) => c.exp_alerts.length > 0), `${name}: no test where it fires`);
      assert.ok(mine.some((c) => c.exp_alerts.length === 0), `${name}: no test where it stays quiet`);
    }
    const r = await run('promtool', ['test', 'rules', TESTS], { allowFail: true });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('docs/runbook.md has a section per alert: meaning, likely causes, what to check, what to do', () => {
    const md = readFileSync(RUNBOOK, 'utf8');
    const sections = md.split(/^## /m).slice(1);
    assert.deepEqual(sections.map((s) => s.split('\n')[0]), REQUIRED, 'one "## <alert>" heading per alert, in order');
    for (const s of sections) {
      for (const part of ['**Meaning.**', '**Likely causes.**', '**What to check.**', '**What to do.**']) {
        assert.ok(s.includes(part), `${s.split('\n')[0]}: ${part}`);
      }
    }
  });

  it('the Helm chart\'s PrometheusRule renders exactly the rule file with its default values', async () => {
    const docs = await helmTemplate(['--set', 'prometheusRule.enabled=true']);
    const rule = docs.find((d) => d.kind === 'PrometheusRule');
    assert.ok(rule, 'PrometheusRule rendered');
    const plain = YAML.parse(readFileSync(RULES, 'utf8')) as { groups: unknown[] };
    assert.deepEqual(rule.spec.groups, plain.groups);
  });

  it('the chart\'s values set each alert\'s parameters, and its extra labels reach every alert', async () => {
    const docs = await helmTemplate([
      '--set', 'prometheusRule.enabled=true', '--set-json', 'prometheusRule.retransmitRatioHigh.threshold=0.05',
      '--set', 'prometheusRule.agentBlind.severity=page', '--set', 'prometheusRule.eventsLost.for=7m',
      '--set', 'prometheusRule.additionalAlertLabels.team=network', '--set', 'fullnameOverride=netobs',
    ]);
    const rules = (docs.find((d) => d.kind === 'PrometheusRule')!.spec.groups as { rules: Rule[] }[]).flatMap((g) => g.rules);
    const by = (name: string) => rules.find((r) => r.alert === name)!;
    assert.match(by('TcpulseRetransmitRatioHigh').expr, /\) > 0\.05\nand\n/);
    assert.match(by('TcpulseRetransmitRatioHigh').annotations.description!, /\(threshold 0\.05, for 10m\)/);
    assert.deepEqual(by('TcpulseAgentBlind').labels, { severity: 'page', team: 'network' });
    assert.equal(by('TcpulseEventsLost').for, '7m');
    assert.equal(by('TcpulseAgentDown').expr, 'up{job="netobs"} == 0', 'the ServiceMonitor\'s job');
    for (const r of rules) assert.equal(r.labels.team, 'network', r.alert);
  });
});
