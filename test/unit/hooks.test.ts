/** Socket hook selection with kernels we do not have: the outcomes of each probe are given by the test. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseHooks, classify, SOCKET_SIGNALS, type Candidate, type Outcome } from '../../src/probes/hooks.js';
import { BpfError } from '../../src/errors.js';

const EPERM = 1;
const ENOENT = 2;
const ENOMEM = 12;
const EOPNOTSUPP = 95;

describe('hook selection', () => {
  const kernel = (outcomes: Record<string, Outcome>) => (c: Candidate): Outcome => outcomes[c.family] ?? { status: 'supported' };

  it('prefers tp_btf, then raw_tp, then kprobe', () => {
    const tried: string[] = [];
    const choices = chooseHooks(SOCKET_SIGNALS, (c) => (tried.push(c.program), { status: 'supported' }));
    assert.deepEqual(choices.map((c) => c.chosen?.family), SOCKET_SIGNALS.map(() => 'tp_btf'));
    assert.equal(tried.length, SOCKET_SIGNALS.length, 'stops at the first supported');
  });

  it('falls back on a kernel without BTF tracepoints (4.x) to raw_tp', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, kernel({ tp_btf: { status: 'unsupported', reason: 'no BTF' } }));
    for (const c of choices) {
      assert.equal(c.chosen?.family, 'raw_tp');
      assert.deepEqual(c.tried.map((t) => t.outcome.status), ['unsupported', 'supported']);
    }
  });

  it('falls back to kprobes where the tracepoint does not exist', () => {
    const noTp = { status: 'unsupported', reason: 'ENOENT' } as const;
    const choices = chooseHooks(SOCKET_SIGNALS, kernel({ tp_btf: noTp, raw_tp: noTp }));
    assert.deepEqual(choices.map((c) => c.chosen?.program), SOCKET_SIGNALS.map((s) => s.candidates[2]!.program));
  });

  it('disables a signal when nothing works, and keeps the others', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, (c) =>
      c.program.startsWith('ts_probe') ? { status: 'unsupported', reason: 'x' } : { status: 'supported' },
    );
    assert.equal(choices.find((c) => c.signal === 'tcp_probe')!.chosen, null);
    assert.equal(choices.filter((c) => c.chosen).length, SOCKET_SIGNALS.length - 1);
  });

  it('moves past an error but reports it as one', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, kernel({ tp_btf: { status: 'error', reason: 'ENOMEM' } }));
    assert.equal(choices[0]!.tried[0]!.outcome.status, 'error');
    assert.equal(choices[0]!.chosen?.family, 'raw_tp');
  });

  it('honours the configured families', () => {
    const choices = chooseHooks(SOCKET_SIGNALS, () => ({ status: 'supported' }), ['kprobe']);
    for (const c of choices) assert.equal(c.chosen?.family, 'kprobe');
  });

  it('tells "not here" from "failed"', () => {
    for (const e of [EPERM, ENOENT, EOPNOTSUPP]) assert.equal(classify(new BpfError('x', e)).status, 'unsupported');
    assert.equal(classify(new BpfError('x', ENOMEM)).status, 'error');
    assert.equal(classify(new Error('boom')).status, 'error');
  });
});
