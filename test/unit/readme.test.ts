/** The README starts with the two commands; CI runs the second one, word for word. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { generatedReadme } from '../../src/readme.js';

describe('README commands', () => {
  const commands = () => {
    const block = /^```sh\n([\s\S]*?)```/m.exec(readFileSync(join(projectRoot, 'README.md'), 'utf8'));
    assert.ok(block, 'the README opens with a sh block');
    return block[1]!.trim().split('\n').map((l) => l.replace(/\s+#.*$/, '').trim());
  };

  it('are two: set up and run the agent, set up and run every test', () => {
    const [runIt, testIt] = commands();
    assert.match(runIt!, /^\.\/setup\.sh && npx tcpulse /);
    assert.match(testIt!, /^\.\/setup\.sh --test && npm test$/);
  });

  it('show the metrics and options as their tables say (else: npm run gen)', () => {
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
    assert.equal(readme, generatedReadme(readme));
  });

  it('.ci/run runs the test command', () => {
    const ci = readFileSync(join(projectRoot, '.ci/run'), 'utf8').trim().split('\n').at(-1);
    assert.equal(ci, commands()[1]);
  });
});
