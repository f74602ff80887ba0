/**
 * The alert rules (deploy/prometheus/tcpulse-rules.yaml) with the tools that
 * consume them: promtool accepts them, promtool's unit tests
 * (deploy/prometheus/tcpulse-rules.test.yaml) make each alert fire from
 * input series and keep it quiet on others, and the chart renders them
 * from its values. test/chart/dashboards.test.ts loads the same rules into
 * a real Prometheus scraping a real agent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { projectRoot } from '../../src/paths.js';
import { run } from '../helpers/exec.js';
import { helmTemplate } from '../helpers/helm.js';
import { REQUIRED_ALERTS as REQUIRED, RULES, type Rule } from '../helpers/rules.js';

const TESTS = join(projectRoot, 'deploy/prometheus/tcpulse-rules.test.yaml');

describe('alert rules', () => {
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
