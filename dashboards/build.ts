/**
 * Writes the generated dashboards and alert rules (dashboards/src/outputs.ts):
 *
 *   node --import tsx dashboards/build.ts
 *
 * test/unit/dashboards.test.ts fails when a committed file differs from what
 * this writes: edit dashboards/src/, never the output.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { projectRoot } from '../src/paths.js';
import { generate } from './src/outputs.js';

for (const [path, content] of generate()) {
  const file = join(projectRoot, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  process.stdout.write(`wrote ${path}\n`);
}
