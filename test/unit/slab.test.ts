/** The mirror's slab (src/flows/slab.ts): slots reused, records kept through growth and compaction. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Slab } from '../../src/flows/slab.js';

const write = (s: Slab, slot: number, v: number) => s.buffer.writeUInt32LE(v, s.at(slot));
const read = (s: Slab, slot: number) => s.buffer.readUInt32LE(s.at(slot));

describe('slab', () => {
  it('reuses released slots and keeps records when it grows', () => {
    const s = new Slab(16, 4);
    const slots = Array.from({ length: 4 }, () => s.alloc());
    slots.forEach((slot, i) => write(s, slot, 100 + i));
    s.release(slots[1]!);
    assert.equal(s.alloc(), slots[1], 'a released slot comes back first');
    const more = Array.from({ length: 5 }, () => s.alloc()); // past the room: 4 more slots, twice
    assert.equal(s.capacity, 12);
    assert.equal(new Set([...slots, ...more]).size, 9);
    for (const [i, slot] of slots.entries()) if (i !== 1) assert.equal(read(s, slot), 100 + i, 'records survive growth');
    assert.equal(s.size, 9);
  });

  it('compacts when a quarter or less is used, renumbering every record it keeps', () => {
    const s = new Slab(8, 4);
    const slots = Array.from({ length: 32 }, () => s.alloc()); // room 32: 4, 8, ..., 20, then a quarter more
    slots.forEach((slot) => write(s, slot, slot * 7));
    const kept = new Map(slots.filter((slot) => slot % 5 === 0).map((slot) => [slot, slot * 7])); // 7 of 32
    for (const slot of slots) if (!kept.has(slot)) s.release(slot);
    const moved = new Map<number, number>();
    s.compact((move) => {
      for (const slot of kept.keys()) moved.set(slot, move(slot));
    });
    assert.equal(s.capacity, 16, 'half the room');
    assert.equal(s.size, 7);
    for (const [old, v] of kept) assert.equal(read(s, moved.get(old)!), v, `record of slot ${old}`);
    assert.deepEqual([...moved.values()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(s.alloc(), 7, 'new slots after the kept ones');
  });

  it('keeps its room while more than a quarter is used, and never below its minimum', () => {
    const s = new Slab(8, 4);
    const slots = Array.from({ length: 16 }, () => s.alloc());
    for (const slot of slots.slice(5)) s.release(slot);
    s.compact(() => assert.fail('5 of 16 used: no compaction'));
    const t = new Slab(8, 4);
    t.release(t.alloc());
    t.compact(() => assert.fail('at its minimum'));
    assert.equal(t.capacity, 4);
    assert.throws(() => new Slab(12), /multiple of 8/);
  });
});
