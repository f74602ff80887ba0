/**
 * The agent's rtnetlink watch (src/net/linkwatch.ts) against the real
 * kernel: a veth pair made and deleted in this network namespace (named
 * after this process, removed whatever happens) is announced, each burst of
 * messages calling back once; nothing calls back after close().
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkWatch } from '../../src/net/linkwatch.js';
import { run, sleep } from '../helpers/exec.js';

describe('link watch (rtnetlink)', () => {
  it('calls back when a link comes and when it goes, and not after close', async () => {
    const calls: number[] = [];
    const watch = LinkWatch.open(() => calls.push(performance.now()));
    assert.ok(watch, 'rtnetlink opens');
    const name = `tlw${process.pid}`;
    try {
      const waitCall = async (what: string, since: number) => {
        const deadline = performance.now() + 2000;
        while (!calls.some((t) => t >= since)) {
          assert.ok(performance.now() < deadline, `a call back within 2 s of ${what}`);
          await sleep(10);
        }
      };
      let t = performance.now();
      await run('ip', ['link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`]);
      await waitCall('ip link add', t);
      t = performance.now();
      await run('ip', ['link', 'del', `${name}a`]);
      await waitCall('ip link del', t);
      watch.close();
      const n = calls.length;
      await run('ip', ['link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`]);
      await run('ip', ['link', 'del', `${name}a`]);
      await sleep(200);
      assert.equal(calls.length, n, 'closed: no more calls');
    } finally {
      watch.close();
      await run('ip', ['link', 'del', `${name}a`], { allowFail: true });
    }
  });
});
