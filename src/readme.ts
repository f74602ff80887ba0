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

/** What README.md holds between begin and end (trimmed), or null without that block. */
export function readmeBlock(readme: string, begin: string, end: string): string | null {
  const i = readme.indexOf(begin);
  const j = readme.indexOf(end);
  return i < 0 || j < i ? null : readme.slice(i + begin.length, j).trim();
}

/** README.md with text between begin and end. */
export function withReadmeBlock(readme: string, begin: string, end: string, text: string): string {
  if (readmeBlock(readme, begin, end) === null) throw new Error(`README.md lacks ${begin} ... ${end}`);
  return readme.slice(0, readme.indexOf(begin) + begin.length) + '\n' + text + '\n' + readme.slice(readme.indexOf(end));
}

/** README.md with its blocks as generated. */
export function generatedReadme(readme: string): string {
  return README_BLOCKS.reduce((out, b) => withReadmeBlock(out, b.begin, b.end, b.text()), readme);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = join(projectRoot, 'README.md');
  writeFileSync(file, generatedReadme(readFileSync(file, 'utf8')));
}
