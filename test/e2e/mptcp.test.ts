/**
 * MPTCP for real: one connection over two veth pairs with two subflows.
 * The agent recognises both as subflows of one connection, reports exactly
 * two, counts the join's signals under the connection's series, and writes
 * the connection and its subflows to the connection log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProc } from '../helpers/agent.js';
import { until } from '../helpers/exec.js';
import { MptcpLab } from '../helpers/mptcp.js';
import { one, pick, type Sample } from '../helpers/prom.js';
import { missing } from '../helpers/features.js';

describe('MPTCP subflows', { skip: await missing('mptcp') }, () => {
  let lab: MptcpLab;
  let agent: AgentProc;
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-mptcp-'));
  const log = join(dir, 'connections.jsonl');

  before(async () => {
    lab = await MptcpLab.create('agent');
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', lab.vethA1, '--interface', lab.vethA2, '--interval', '200ms', '--connection-log', log]);
  });

  after(async () => {
    await agent?.stop('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports exactly two subflows for a two-subflow connection', async () => {
    const port = 5701;
    await lab.startServer(port);
    const client = { local_address: lab.ipA1, peer_address: lab.ipB1, server_port: String(port) };
    const server = { local_address: lab.ipB1, peer_address: lab.ipA1, server_port: String(port) };
    let live: Sample[] = [];
    await lab.connect(port, 4_000_000, {
      holdMs: 100,
      during: async () => {
        await until('both subflows open on both sides', async () => {
          live = await agent.scrape();
          return [client, server].every((l) => pick(live, 'tcpulse_mptcp_subflows_open', l)[0]?.value === 2);
        });
      },
    });
    let m: Sample[] = [];
    await until('the connection closed on both sides', async () => {
      m = await agent.scrape();
      return [client, server].every((l) => pick(m, 'tcpulse_mptcp_subflow_events_total', { ...l, event: 'closed' })[0]?.value === 2);
    });

    // while open: one connection with two open subflows, on each side
    for (const labels of [client, server]) {
      assert.equal(one(live, 'tcpulse_mptcp_connections_open', labels), 1, JSON.stringify(labels));
      assert.equal(one(live, 'tcpulse_mptcp_subflows_open', labels), 2, JSON.stringify(labels));
    }
    // closed: observed once, at 2
    for (const labels of [client, server]) {
      assert.equal(one(m, 'tcpulse_mptcp_subflows_count', labels), 1);
      assert.equal(one(m, 'tcpulse_mptcp_subflows_sum', labels), 2);
      assert.equal(one(m, 'tcpulse_mptcp_subflows_bucket', { ...labels, le: '1' }), 0);
      assert.equal(one(m, 'tcpulse_mptcp_subflows_bucket', { ...labels, le: '2' }), 1);
      assert.equal(one(m, 'tcpulse_mptcp_subflow_events_total', { ...labels, event: 'established' }), 2);
      assert.equal(one(m, 'tcpulse_mptcp_subflow_events_total', { ...labels, event: 'closed' }), 2);
      assert.equal(one(m, 'tcpulse_connections_opened_total', labels), 2, 'each subflow is a TCP connection');
    }
    assert.equal(pick(m, 'tcpulse_mptcp_connections_open').length, 0, 'nothing open afterwards');
    // the join's socket (from ipA2) counts under the connection: no socket series of its own
    // (its packets on vethA2 are a flow of the packet path, which has one)
    for (const name of ['tcpulse_srtt_seconds_count', 'tcpulse_connections_opened_total', 'tcpulse_retransmits_total']) {
      assert.deepEqual(pick(m, name, { local_address: lab.ipA2 }), [], name);
    }
    assert.ok(one(m, 'tcpulse_packets_total', { local_address: lab.ipA2, direction: 'egress' }) > 0, 'the join on the wire');
    assert.ok(one(m, 'tcpulse_srtt_seconds_count', client) > 0);

    const recs = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const conn = recs.filter((r) => r.type === 'mptcp' && r.local_address === lab.ipA1 && r.server_port === port);
    assert.equal(conn.length, 1, JSON.stringify(recs));
    assert.equal(conn[0]!.subflows, 2);
    const subflows = recs.filter((r) => r.type === 'subflow' && r.mptcp_token === conn[0]!.mptcp_token && r.role === 'client');
    assert.deepEqual(subflows.map((r) => r.subflow).sort(), ['first', 'join']);
    assert.deepEqual(subflows.map((r) => r.local_address).sort(), [lab.ipA1, lab.ipA2].sort());
  });
});
