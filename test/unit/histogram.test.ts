import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { generate, HEADER_PATH } from '../../bpf/gen/hist2h.js';
import { HIST_BUCKETS } from '../../src/bpf/layout.js';
import { bucketPlan } from '../../src/export/buckets.js';
import { bucketOf, kernelBounds, nativeIndex, upperBound, zeroThreshold } from '../../src/flows/histogram.js';

const LAST = HIST_BUCKETS - 1;

test('the kernel bounds are the largest integers inside each native bucket of schema 2', () => {
  const ns = kernelBounds('seconds').map(Number);
  for (let k = 0; k < LAST; k++) {
    const exact = 1e9 * 2 ** (nativeIndex('seconds', k) / 4);
    assert.ok(ns[k]! <= exact + 1e-6 && exact < ns[k]! + 1, `bucket ${k}: ${ns[k]} vs ${exact}`);
  }
  // where 2^(i/4) s is a whole number of nanoseconds, the bound is it, exactly
  assert.equal(ns[bucketOf('seconds', 1_953_125)], 1_953_125); // 2^-9 s
  assert.equal(upperBound('seconds', bucketOf('seconds', 1_953_125)), 2 ** -9);
  assert.equal(upperBound('seconds', bucketOf('seconds', 1e9)), 1);
  assert.equal(upperBound('seconds', bucketOf('seconds', 1e9 + 1)), 2 ** 0.25);
  const counts = kernelBounds('count').map(Number);
  assert.deepEqual(counts.slice(0, 10), [0, 1, 1, 1, 1, 2, 2, 2, 3, 4]); // floor(2^(i/4)), i = -1..8
  for (let k = LAST; k < counts.length; k++) assert.equal(kernelBounds('count')[k], 2n ** 64n - 1n);
});

test('bucketOf puts a bound in its bucket and the next integer in the next one', () => {
  for (const scale of ['seconds', 'count'] as const) {
    const le = kernelBounds(scale).map(Number);
    for (let k = 0; k < LAST; k++) {
      if (k > 0 && le[k] === le[k - 1]) continue; // an empty bucket: no integer inside
      assert.equal(bucketOf(scale, le[k]!), k);
      assert.ok(bucketOf(scale, le[k]! + 1) > k);
    }
  }
  assert.equal(bucketOf('seconds', 0), 0);
  assert.equal(bucketOf('seconds', 1_000), 0); // under 2^(-77/4) s: the zero bucket
  assert.equal(bucketOf('seconds', 1e12), LAST); // 1000 s: the last bucket takes it
  assert.equal(bucketOf('count', 0), 0);
  assert.equal(nativeIndex('count', bucketOf('count', 1)), 0);
  assert.equal(nativeIndex('count', bucketOf('count', 2)), 4);
  assert.equal(nativeIndex('count', bucketOf('count', 3)), 7); // (2^(6/4), 2^(7/4)] = (2.83, 3.36]
});

test('bounds: 2^(i/4) in the exported unit, the zero bucket below the first, +Inf last', () => {
  assert.equal(upperBound('seconds', 0), zeroThreshold('seconds'));
  assert.equal(zeroThreshold('seconds'), 2 ** (-77 / 4));
  assert.equal(upperBound('seconds', LAST - 1), 2 ** (21 / 4)); // then the last bucket: above 38 s
  assert.equal(upperBound('seconds', LAST), Infinity);
  assert.equal(upperBound('count', bucketOf('count', 65_536)), 65_536);
  for (let k = 1; k < LAST; k++) assert.ok(Math.abs(upperBound('seconds', k) / upperBound('seconds', k - 1) - 2 ** 0.25) < 1e-12);
});

test('bpf/gen/hist_bounds.h is current', () => {
  assert.equal(readFileSync(HEADER_PATH, 'utf8'), generate(), 'run npm run gen');
});

test('classic bucket plans: 99, 37, 19 and 10 RTT bounds, and none at all for none', () => {
  const rtt = { scale: 'seconds', range: [-64, 8] } as const;
  const counts = (['fine', 'medium', 'coarse', 'sparse', 'none'] as const).map((sp) => bucketPlan(sp, rtt).bounds.length);
  assert.deepEqual(counts, [99, 37, 19, 10, 0]);
  assert.deepEqual(bucketPlan('sparse', rtt).bounds, [-16, -14, -12, -10, -8, -6, -4, -2, 0, 2].map((e) => 2 ** e));
  assert.deepEqual(bucketPlan('sparse', { scale: 'count', range: [4, 64] }).bounds, [4, 16, 64, 256, 1024, 4096, 16384, 65536]);
  assert.deepEqual(bucketPlan('none', { scale: 'count', range: [4, 64] }), { indices: [], bounds: [] });
});
