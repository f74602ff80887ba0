import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bucketLowerBound, bucketOf, bucketUpperBound, rttBoundsSeconds } from '../../src/flows/histogram.js';
import { HIST_BUCKETS } from '../../src/bpf/layout.js';
import { HistCounters } from '../../src/flows/counters.js';

describe('log-linear histogram buckets', () => {
  it('gives 0..3 a bucket each, then 4 sub-buckets per power of two', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16].map(bucketOf), [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 11, 12]);
  });

  it('puts every value inside its bucket bounds', () => {
    const values = [0, 1, 3, 4, 7, 8, 100, 1000, 1023, 1024, 1025, 65535, 65536, 999_999, 2 ** 24 - 1, 2 ** 24, 7 * 2 ** 23 - 1];
    for (let e = 2; e < 26; e++) values.push(2 ** e - 1, 2 ** e, 2 ** e + 1, 1.25 * 2 ** e, 1.75 * 2 ** e - 1);
    for (const v of values) {
      const b = bucketOf(v);
      assert.ok(v >= bucketLowerBound(b) && v < bucketUpperBound(b), `${v} in bucket ${b} [${bucketLowerBound(b)}, ${bucketUpperBound(b)})`);
    }
  });

  it('has contiguous increasing bounds and a last +Inf bucket from 7 * 2^23', () => {
    for (let i = 1; i < HIST_BUCKETS; i++) assert.equal(bucketLowerBound(i), bucketUpperBound(i - 1));
    assert.equal(bucketUpperBound(HIST_BUCKETS - 2), 7 * 2 ** 23);
    assert.equal(bucketUpperBound(HIST_BUCKETS - 1), Infinity);
    assert.equal(bucketOf(7 * 2 ** 23), HIST_BUCKETS - 1);
    assert.equal(bucketOf(2 ** 40), HIST_BUCKETS - 1);
  });

  it('keeps relative bucket width at most 25% above 4', () => {
    for (let i = 4; i < HIST_BUCKETS - 1; i++) {
      assert.ok((bucketUpperBound(i) - bucketLowerBound(i)) / bucketLowerBound(i) <= 0.25);
    }
  });

  it('exports bounds in seconds from microseconds', () => {
    assert.equal(rttBoundsSeconds.length, HIST_BUCKETS - 1);
    assert.equal(rttBoundsSeconds[0], 1e-6);
    assert.equal(rttBoundsSeconds[HIST_BUCKETS - 2], (7 * 2 ** 23) / 1e6);
  });
});

describe('kernel buckets summed from a map value', () => {
  it('reads the same u32 buckets in place (aligned) and byte by byte (unaligned)', () => {
    const buckets = Array.from({ length: HIST_BUCKETS }, (_, i) => (i * 2654435761) % 2 ** 32);
    const at = (shift: number) => {
      const b = Buffer.alloc(HIST_BUCKETS * 4 + 8);
      buckets.forEach((v, i) => b.writeUInt32LE(v, shift + i * 4));
      const h = new HistCounters();
      h.addBuckets(b, shift, 3, 7);
      h.addBuckets(b, shift, 1, 1);
      return { count: h.count, sum: h.sum, hist: [...h.hist] };
    };
    const want = { count: 4, sum: 8, hist: buckets.map((v) => 2 * v) };
    assert.deepEqual(at(0), want);
    assert.deepEqual(at(4), want);
    assert.deepEqual(at(1), want);
  });
});
