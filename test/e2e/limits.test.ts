/**
 * Bounded memory, for real: a flow table smaller than the number of
 * connections (full: new flows refused and counted, those in it measured),
 * a series budget smaller than the
 * number of peers (overflow series), closed flows leaving the table, and
 * counters that never go backwards through all of it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { sleep, until, type Running } from '../helpers/exec.js';
import { Lab } from '../helpers/netns.js';
import { one, pick, type Sample } from '../helpers/prom.js';
import { burst, startSink } from '../helpers/tcp.js';

const PORTS = [6001, 6002, 6003, 6004];
const CONNECTIONS = 240;

function total(m: Sample[], name: string): number {
  return pick(m, name).reduce((a, s) => a + s.value, 0);
}

describe('flow table and series budget limits', () => {
  let lab: Lab;
  let agent: AgentProc;
  const procs: Running[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-limits-'));

  before(async () => {
    lab = await Lab.create('lim');
    const cfg = join(dir, 'tcpulse.yaml');
    // a flow refused while the table was full and created later misses its SYN or FIN: the idle timeout removes it
    writeFileSync(cfg, 'flowTableSize: 64\nmaxSeries: 2\ninterval: 200ms\nflowClosedTimeout: 500ms\nflowIdleTimeout: 1s\n');
    agent = await AgentProc.start(lab, lab.nsA, ['--config', cfg, '--interface', lab.vethA]);
    for (const p of PORTS) procs.push(await startSink(lab, lab.nsB, p));
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await agent?.stop('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses new flows when full, overflows and retires without a counter going backwards', async () => {
    const seen: Sample[][] = [];
    let done = false;
    const running = burst(lab, lab.nsA, lab.ipB, CONNECTIONS, PORTS).finally(() => (done = true));
    while (!done) {
      seen.push(await agent.scrape());
      await sleep(100);
    }
    procs.push(await running);
    // a burst can end between two rounds: from rounds after its end (200 ms each), closed
    // flows leave the table after 500 ms idle, others after 1 s
    await sleep(1000);
    await until('closed and idle flows removed', async () => {
      const m = await agent.scrape();
      seen.push(m);
      return one(m, 'tcpulse_flow_table_entries', { table: 'flows' }) === 0;
    }, 20_000);
    const last = seen.at(-1)!;

    // the budget: two series and the overflow series, never more
    for (const m of seen) assert.ok(one(m, 'tcpulse_series') <= 3);
    assert.ok(one(last, 'tcpulse_series_overflow_total') > 0, 'flows folded into overflow');
    assert.ok(pick(last, 'tcpulse_packets_total', { peer_address: '__overflow__' }).length === 2);
    // the table: 240 connections through 64 entries; every flow created was read and removed
    assert.ok(one(last, 'tcpulse_flow_table_untracked_total', { table: 'flows' }) > 0, 'packets of refused flows counted');
    const created = one(last, 'tcpulse_flow_table_created_total', { table: 'flows' });
    assert.ok(created >= 64, `flows created: ${created}`);
    assert.equal(one(last, 'tcpulse_flow_table_deleted_total', { table: 'flows' }), created);
    assert.equal(one(last, 'tcpulse_flow_events_total', { event: 'opened' }), created);
    assert.equal(one(last, 'tcpulse_flow_table_capacity', { table: 'flows' }), 64);
    for (const s of pick(last, 'tcpulse_flows_active')) assert.equal(s.value, 0);
    // every counter of every series only grows
    for (const name of ['tcpulse_packets_total', 'tcpulse_bytes_total', 'tcpulse_rtt_seconds_count']) {
      for (let i = 1; i < seen.length; i++) {
        for (const s of pick(seen[i - 1]!, name)) {
          const now = pick(seen[i]!, name, s.labels);
          assert.equal(now.length, 1, `${name} ${JSON.stringify(s.labels)} still exported`);
          assert.ok(now[0]!.value >= s.value, `${name} ${JSON.stringify(s.labels)}: ${s.value} -> ${now[0]!.value}`);
        }
      }
    }
    // the flows in the table were measured whole: a handshake, data and a close each
    assert.ok(total(last, 'tcpulse_packets_total') >= 5 * 64, `packets ${total(last, 'tcpulse_packets_total')}`);
  });
});
