/**
 * The alert rules (deploy/prometheus/tcpulse-rules.yaml, generated from
 * dashboards/src/alerts.ts) without any tool: the committed files are what
 * the generator writes, every alert is there with its annotations, and
 * every alert links to its section of docs/runbook.md.
 * test/chart/alerts.test.ts runs promtool and helm on them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNBOOK_URL, groups, helmRulesYaml, rulesYaml } from '../../dashboards/src/alerts.js';
import { CHART, RULES_FILE } from '../../dashboards/src/outputs.js';
import { projectRoot } from '../../src/paths.js';
import { loadRules, REQUIRED_ALERTS as REQUIRED, RULES } from '../helpers/rules.js';

const RUNBOOK = join(projectRoot, 'docs/runbook.md');

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
});
