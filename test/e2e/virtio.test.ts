/**
 * A NIC like those of most cloud VMs: virtio-net hands up large TCP
 * packets with a GSO header and the segment count not filled in yet
 * (gso_segs 0). A TAP device with virtio-net headers, written as a
 * hypervisor writes it, stands in for one: the agent must count the
 * segments each packet stands for on the wire, as the capture of the same
 * device and the writer's own reckoning do: at TC ingress from the skb's
 * gso_size, at XDP (generic here: the frame is the whole packet, with no
 * GSO metadata) from the device's MTU. The writer cuts at the MTU, as a
 * sender's TCP does (gso_size = MTU - headers).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentProc } from '../helpers/agent.js';
import { Lab } from '../helpers/netns.js';
import { one } from '../helpers/prom.js';
import { Tap, type TapPacket } from '../helpers/tap.js';
import { connection, totals, Wire, type WirePacket } from '../helpers/wire.js';

const INTERVAL_MS = 300;
const PORT = 5001;
const SPORT = 40_123;

for (const hook of ['tc', 'xdp'] as const) describe(`a virtio-like NIC (TAP with GSO headers, gso_segs 0), ${hook} ingress`, () => {
  let lab: Lab;
  let tap: Tap;
  let wire: Wire;
  let agent: AgentProc;

  before(async () => {
    lab = await Lab.create('tap');
    const [, b, c] = lab.ipA.split('.');
    tap = await Tap.create(lab, lab.nsA, `${lab.vethA}t`, `10.${b}.${(Number(c) + 64) % 256}.1`, `10.${b}.${(Number(c) + 64) % 256}.2`);
    wire = await Wire.start(lab, lab.nsA, tap.name, PORT);
    agent = await AgentProc.start(lab, lab.nsA, ['--interface', tap.name, '--interval', `${INTERVAL_MS}ms`, '--no-sockets', '--ingress-hook', hook]);
  });

  after(async () => {
    await wire?.stop().catch(() => {});
    await agent?.stop('SIGKILL');
    await tap?.close();
    await lab?.destroy();
  });

  it('counts every segment of a GSO packet, as the wire would carry it', async () => {
    // GSO batches (the last segment short or not), single segments, a batch no larger than one segment
    const packets: TapPacket[] = [];
    let seq = 1;
    // at TC also a gso_size other than the MTU's: the skb says how it is cut
    const cases = [[64_000, 1448], [10_000, 1448], [1448 * 7, 1448], [500, 0], [1448, 1448], [1000, 0], ...(hook === 'tc' ? [[30_000, 8948]] : [])];
    for (const [payload, gsoSize] of cases) {
      packets.push({ seq, payload: payload!, gsoSize: gsoSize! });
      seq += payload!;
    }
    let sent = { packets: 0, bytes: 0 };
    for (const p of packets) {
      const w = await tap.send(SPORT, PORT, p);
      sent = { packets: sent.packets + w.segments, bytes: sent.bytes + w.bytes };
    }
    assert.equal(sent.packets, 45 + 7 + 7 + 1 + 1 + 1 + (hook === 'tc' ? 4 : 0), 'the writer cut as a TCP would');

    const labels = { local_address: tap.ip, peer_address: tap.peerIp, server_port: String(PORT) };
    const fromAgent = async () => {
      const m = await agent.scrape();
      return { packets: one(m, 'tcpulse_packets_total', { ...labels, direction: 'ingress' }), bytes: one(m, 'tcpulse_bytes_total', { ...labels, direction: 'ingress' }) };
    };
    const fromWire = (pkts: WirePacket[]) => totals(connection(pkts, tap.ip, tap.peerIp, PORT).ingress);
    const seen = await wire.agree(fromAgent, fromWire, INTERVAL_MS * 3);
    assert.deepEqual(seen.wire, sent, 'the capture counts what was written');
    assert.deepEqual(seen.agent, sent, 'ingress packets (segments) and L3 bytes');
  });
});
