/**
 * The README's generated blocks: the command line and config file
 * (config/docs.ts) and the metric table (export/docs.ts).
 *
 *   npm run gen    rewrites them (test/unit/readme.test.ts checks them)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from './paths.js';
import { configFileText, usageText } from './config/docs.js';
import { metricTable } from './export/docs.js';

export const README_BLOCKS = [
  { begin: '<!-- metrics (npm run gen) -->', end: '<!-- metrics:end -->', text: metricTable },
  { begin: '<!-- options:usage (npm run gen) -->', end: '<!-- options:usage:end -->', text: () => '```\n' + usageText() + '\n```' },
  { begin: '<!-- options:config (npm run gen) -->', end: '<!-- options:config:end -->', text: () => '```yaml\n' + configFileText() + '\n```' },
];

/** README.md with its blocks as generated. */
export function generatedReadme(readme: string): string {
  let out = readme;
  for (const b of README_BLOCKS) {
    const i = out.indexOf(b.begin);
    const j = out.indexOf(b.end);
    if (i < 0 || j < i) throw new Error(`README.md lacks ${b.begin} ... ${b.end}`);
    out = out.slice(0, i + b.begin.length) + '\n' + b.text() + '\n' + out.slice(j);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = join(projectRoot, 'README.md');
  writeFileSync(file, generatedReadme(readFileSync(file, 'utf8')));
}
