/**
 * A small typed model of a Grafana dashboard (rows of panels, each a few
 * PromQL queries) and its rendering to Grafana's JSON model (schemaVersion
 * 39: Grafana 10.3 and later). Layout is computed: panels flow left to
 * right in a 24-column grid under their row, wrapping when full.
 */

/** Grafana unit ids used here. */
export type Unit = 's' | 'percentunit' | 'short' | 'bps' | 'pps' | 'ops' | 'cps' | 'bytes' | 'none';

export interface Query {
  expr: string;
  /** Legend template ({{label}}); for tables, the column header of the value. */
  legend?: string;
  /** Unit of this query's values where it differs from the panel's (table columns). */
  unit?: Unit;
}

interface PanelBase {
  title: string;
  description: string;
  queries: Query[];
  unit?: Unit;
  /** Width in grid columns (of 24), default 12. */
  w?: number;
  /** Height in grid rows, default 8. */
  h?: number;
}

/** Lines over time. */
export interface TimeSeries extends PanelBase {
  kind: 'timeseries';
  stack?: boolean;
  min?: number;
  max?: number;
  /** Logarithmic y axis (base 10), for latencies spanning decades. */
  log?: boolean;
}

/** Cumulative histogram buckets (a `le` label) over time, de-accumulated by Grafana. */
export interface Heatmap extends PanelBase {
  kind: 'heatmap';
}

/** Histogram buckets (a `le` label) over the dashboard's range, one bar per bucket. */
export interface BarGauge extends PanelBase {
  kind: 'bargauge';
}

/** The latest value of each series, with value mappings (text and color per value). */
export interface Stat extends PanelBase {
  kind: 'stat';
  mappings?: Record<string, { text: string; color: string }>;
  /** Threshold colors: the base color, then [value, color] steps. */
  thresholds?: [string, ...[number, string][]];
}

/** Instant queries joined on their labels into one row per label set, one column per query. */
export interface Table extends PanelBase {
  kind: 'table';
}

export type Panel = TimeSeries | Heatmap | BarGauge | Stat | Table;

export interface Row {
  title: string;
  panels: Panel[];
}

/** A template variable whose values come from a label_values() query. */
export interface Variable {
  name: string;
  label: string;
  query: string;
  description: string;
  /** Several values at once (default true). */
  multi?: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: Variable[];
  rows: Row[];
}

// ---- rendering ----

const DS = { type: 'prometheus', uid: '${datasource}' };
type Json = Record<string, unknown>;

function target(q: Query, i: number, kind: Panel['kind']): Json {
  const t: Json = { datasource: DS, editorMode: 'code', expr: q.expr, legendFormat: q.legend ?? '__auto', refId: String.fromCharCode(65 + i) };
  if (kind === 'table') return { ...t, format: 'table', instant: true, range: false };
  if (kind === 'heatmap') return { ...t, format: 'heatmap', legendFormat: '{{le}}', range: true };
  if (kind === 'bargauge') return { ...t, format: 'heatmap', legendFormat: '{{le}}', instant: true, range: false };
  return { ...t, range: true };
}

function thresholds(steps: [string, ...[number, string][]] = ['green']): Json {
  const [base, ...rest] = steps;
  return { mode: 'absolute', steps: [{ color: base, value: null }, ...rest.map(([value, color]) => ({ color, value }))] };
}

function body(p: Panel): Json {
  const defaults: Json = { unit: p.unit ?? 'short', thresholds: thresholds() };
  switch (p.kind) {
    case 'timeseries': {
      if (p.min !== undefined) defaults.min = p.min;
      if (p.max !== undefined) defaults.max = p.max;
      defaults.color = { mode: 'palette-classic' };
      defaults.custom = {
        drawStyle: 'line', lineWidth: 1, fillOpacity: p.stack ? 30 : 10, showPoints: 'never', spanNulls: false,
        stacking: { group: 'A', mode: p.stack ? 'normal' : 'none' },
        scaleDistribution: p.log ? { type: 'log', log: 10 } : { type: 'linear' },
      };
      return {
        fieldConfig: { defaults, overrides: [] },
        options: { legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['mean', 'max', 'lastNotNull'] }, tooltip: { mode: 'multi', sort: 'desc' } },
      };
    }
    case 'heatmap':
      return {
        fieldConfig: { defaults: { custom: { scaleDistribution: { type: 'linear' } } }, overrides: [] },
        options: {
          calculate: false, cellGap: 1, showValue: 'never', filterValues: { le: 1e-9 }, rowsFrame: { layout: 'auto' },
          color: { mode: 'scheme', scheme: 'Spectral', steps: 64, exponent: 0.5, scale: 'exponential', fill: 'dark-orange', reverse: false },
          yAxis: { axisPlacement: 'left', reverse: false, unit: p.unit ?? 'short' },
          cellValues: { unit: 'ops' }, legend: { show: true }, tooltip: { mode: 'single', yHistogram: true, showColorScale: false },
          exemplars: { color: 'rgba(255,0,255,0.7)' },
        },
      };
    case 'bargauge':
      return {
        fieldConfig: { defaults: { ...defaults, min: 0, color: { mode: 'continuous-BlYlRd' } }, overrides: [] },
        options: {
          displayMode: 'gradient', orientation: 'vertical', showUnfilled: true, valueMode: 'color', namePlacement: 'auto', sizing: 'auto',
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, minVizHeight: 16, minVizWidth: 8, maxVizHeight: 300,
        },
      };
    case 'stat': {
      const mappings = p.mappings
        ? [{ type: 'value', options: Object.fromEntries(Object.entries(p.mappings).map(([v, m], index) => [v, { ...m, index }])) }]
        : [];
      return {
        fieldConfig: { defaults: { ...defaults, mappings, thresholds: thresholds(p.thresholds), color: { mode: 'thresholds' } }, overrides: [] },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, orientation: 'auto', textMode: 'value_and_name',
          colorMode: 'background', graphMode: 'none', justifyMode: 'auto', wideLayout: true, showPercentChange: false,
        },
      };
    }
    case 'table':
      return {
        fieldConfig: {
          defaults: { ...defaults, custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true } },
          overrides: p.queries.map((q, i) => ({
            matcher: { id: 'byName', options: `Value #${String.fromCharCode(65 + i)}` },
            properties: [{ id: 'displayName', value: q.legend ?? `Value #${String.fromCharCode(65 + i)}` }, { id: 'unit', value: q.unit ?? p.unit ?? 'short' }],
          })),
        },
        options: { showHeader: true, cellHeight: 'sm', footer: { show: false, countRows: false, fields: '', reducer: ['sum'] } },
        transformations: [{ id: 'merge', options: {} }, { id: 'organize', options: { excludeByName: { Time: true }, indexByName: {}, renameByName: {} } }],
      };
  }
}

function variable(v: Variable): Json {
  return {
    allValue: '.*', current: {}, datasource: DS, definition: v.query, description: v.description, hide: 0,
    includeAll: true, label: v.label, multi: v.multi ?? true, name: v.name, options: [],
    query: { qryType: 1, query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2, regex: '', skipUrlSync: false, sort: 1, type: 'query',
  };
}

/** Grafana's JSON model of a dashboard. */
export function render(d: Dashboard): Json {
  const panels: Json[] = [];
  let id = 1;
  let y = 0;
  for (const row of d.rows) {
    panels.push({ collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, id: id++, panels: [], title: row.title, type: 'row' });
    y += 1;
    let x = 0;
    let rowH = 0;
    for (const p of row.panels) {
      const w = p.w ?? 12;
      const h = p.h ?? 8;
      if (x + w > 24) {
        x = 0;
        y += rowH;
        rowH = 0;
      }
      panels.push({
        datasource: DS, description: p.description, ...body(p), gridPos: { h, w, x, y }, id: id++,
        targets: p.queries.map((q, i) => target(q, i, p.kind)), title: p.title, type: p.kind,
      });
      x += w;
      rowH = Math.max(rowH, h);
    }
    y += rowH;
  }
  const datasource = {
    current: {}, hide: 0, includeAll: false, label: 'Data source', multi: false, name: 'datasource',
    options: [], query: 'prometheus', refresh: 1, regex: '', skipUrlSync: false, type: 'datasource',
  };
  return {
    annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
    description: d.description, editable: true, fiscalYearStartMonth: 0, graphTooltip: 1, id: null,
    links: [{ asDropdown: true, icon: 'external link', includeVars: true, keepTime: true, tags: ['tcpulse'], targetBlank: false, title: 'tcpulse', type: 'dashboards' }],
    panels, refresh: '30s', schemaVersion: 39, tags: d.tags,
    templating: { list: [datasource, ...d.variables.map(variable)] },
    time: { from: 'now-1h', to: 'now' }, timepicker: {}, timezone: 'browser', title: d.title, uid: d.uid, version: 1, weekStart: '',
  };
}

/** The file content: stable key order as written above, two-space indent, trailing newline. */
export const toJson = (d: Dashboard): string => JSON.stringify(render(d), null, 2) + '\n';

