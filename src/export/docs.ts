/**
 * What the family table says to people: the README's metric table, one row
 * per family, made by `npm run gen` (src/readme.ts).
 */
import { FAMILIES, SCRAPE_FAMILY, type Family } from './families.js';

const code = (s: string) => `\`${s}\``;

function labelsOf(f: Family): string {
  if (f.of === 'series') {
    const own = [...new Set((f.labels ?? []).flatMap((set) => Object.entries(set).map(([k, v]) => `${k}=${v}`)))];
    return ['series labels', ...own.map(code)].join(', ');
  }
  return (f.labelNames ?? []).map(code).join(', ');
}

function condition(f: Family): string {
  return f.of === 'series' && f.option === 'localRtt' ? ' (with `rtt.localSide: true`)' : '';
}

export function metricTable(): string {
  const rows = FAMILIES.map((f) => `| ${code(f.name)} | ${f.kind} | ${labelsOf(f)} | ${f.otel ? code(f.otel) : ''} | ${f.help}${condition(f)} |`);
  rows.push(`| ${code(SCRAPE_FAMILY.name)} | ${SCRAPE_FAMILY.kind} | | | ${SCRAPE_FAMILY.help} |`);
  return ['| metric | type | labels | OTLP | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
