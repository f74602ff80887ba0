/**
 * The Grafana dashboards (dashboards/*.json, generated from dashboards/src),
 * without a kernel or a Prometheus: the committed files are exactly what the
 * generator writes, their structure is Grafana's current schema with the
 * datasource and node/namespace/pod variables, and every tcpulse series is
 * filtered by those variables. test/chart/dashboards.test.ts runs every
 * panel query on a real Prometheus scraping a real agent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../dashboards/src/outputs.js';
import { projectRoot } from '../../src/paths.js';
import { loadDashboards, panelQueries, queryVariables, type DashboardJson } from '../helpers/grafana.js';

describe('dashboards: generated from dashboards/src', () => {
  it('the committed files are byte-identical to a fresh generation', () => {
    for (const [path, content] of generate()) {
      assert.equal(readFileSync(join(projectRoot, path), 'utf8'), content, `${path} differs from dashboards/src: run node --import tsx dashboards/build.ts`);
    }
  });

  it('use the current schema, the datasource variable and the node/namespace/pod variables', () => {
    for (const d of loadDashboards()) {
      assert.ok(d.schemaVersion >= 39, d.uid);
      const vars = d.templating.list as DashboardJson[];
      assert.deepEqual(vars[0], { ...vars[0], name: 'datasource', type: 'datasource', query: 'prometheus' });
      const names = queryVariables(d).map((v) => v.name);
      assert.deepEqual(names, d.uid === 'tcpulse-agent' ? ['node'] : ['node', 'namespace', 'pod'], d.uid);
      for (const v of vars.slice(1)) assert.match(v.query.query, /^label_values\(/, `${d.uid} $${v.name}`);
      const ids = new Set<number>();
      for (const p of d.panels as DashboardJson[]) {
        assert.ok(!ids.has(p.id), `${d.uid}: panel id ${p.id} twice`);
        ids.add(p.id);
        assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${d.uid} / ${p.title}: wider than the grid`);
        if (p.type === 'row') continue;
        assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' });
        assert.ok(p.description, `${d.uid} / ${p.title}: description`);
        for (const t of p.targets) assert.deepEqual(t.datasource, p.datasource);
      }
    }
  });

  it('filter every tcpulse series by the variables', () => {
    for (const d of loadDashboards()) {
      const wanted = d.uid === 'tcpulse-agent' ? '{node=~"$node"' : '{node=~"$node",namespace=~"$namespace",pod=~"$pod"';
      for (const q of panelQueries(d)) {
        for (const m of q.expr.matchAll(/\b(tcpulse_[a-z_]+|process_[a-z_]+)(.?)/g)) {
          if (m[1] === 'tcpulse_build_info' && q.expr.includes('on (job, instance) tcpulse_build_info')) continue; // the agent-target filter
          assert.ok(q.expr.slice(m.index! + m[1]!.length).startsWith(wanted), `${q.dashboard} / ${q.panel}: ${m[1]} not filtered: ${q.expr}`);
        }
      }
    }
  });
});
