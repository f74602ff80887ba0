import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlowFlag, FlowStats, type FlowKeyValue } from '../../src/bpf/layout.js';
import { writeU64 } from '../../src/bpf/codec.js';
import { addressToString } from '../../src/flows/address.js';
import { OVERFLOW, Rollup, serverPort } from '../../src/flows/rollup.js';
import { Labeler, PLAIN_LABELS } from '../../src/flows/labels.js';
import { windowedMin, isClosed, minRttEpoch } from '../../src/flows/flowtable.js';

function v4(a: string): Buffer {
  return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split('.').map(Number)]);
}

const plain = new Labeler(null);
function flowLabels(k: FlowKeyValue, flags: number) {
  return plain.place(k.saddr, k.sport, k.daddr, k.dport, serverPort(k, flags)).labels;
}

function key(sport: number, dport: number, s = '10.0.0.1', d = '10.0.0.2'): FlowKeyValue {
  return { saddr: v4(s), daddr: v4(d), sport, dport, ifindex: 3 };
}

describe('addresses', () => {
  it('prints IPv4-mapped keys as dotted quads', () => assert.equal(addressToString(v4('192.168.7.42')), '192.168.7.42'));
  it('prints IPv6 per RFC 5952', () => {
    const a = Buffer.alloc(16);
    a.writeUInt16BE(0x2001, 0);
    a.writeUInt16BE(0xdb8, 2);
    a.writeUInt16BE(1, 14);
    assert.equal(addressToString(a), '2001:db8::1');
    assert.equal(addressToString(Buffer.alloc(16)), '::');
    const b = Buffer.from('fe800000000000000000000000000001', 'hex');
    assert.equal(addressToString(b), 'fe80::1');
    const c = Buffer.from('20010db8000000010000000000000001', 'hex'); // longest zero run wins
    assert.equal(addressToString(c), '2001:db8:0:1::1');
  });
});

describe('server port', () => {
  it('follows the handshake when it was seen', () => {
    assert.equal(serverPort(key(5201, 40000), FlowFlag.synIngress), 5201);
    assert.equal(serverPort(key(40000, 80), FlowFlag.synEgress), 80);
    assert.equal(serverPort(key(50000, 40000), FlowFlag.synackIngress), 40000);
    assert.equal(serverPort(key(50000, 40000), FlowFlag.synackEgress), 50000);
  });
  it('otherwise prefers the non-ephemeral port, then the lower one', () => {
    assert.equal(serverPort(key(45000, 8080), 0), 8080);
    assert.equal(serverPort(key(443, 50000), 0), 443);
    assert.equal(serverPort(key(40001, 40000), 0), 40000);
  });
  it('labels a flow by local address, peer address and server port', () => {
    assert.deepEqual(flowLabels(key(40000, 443), FlowFlag.synEgress), {
      local_address: '10.0.0.1',
      peer_address: '10.0.0.2',
      server_port: '443',
    });
  });
});

describe('rollup budget', () => {
  it('folds series over the budget into one overflow series and counts the flows', () => {
    const r = new Rollup(2, PLAIN_LABELS);
    const a = r.assign(flowLabels(key(1000, 80), 0), 0);
    const b = r.assign(flowLabels(key(1000, 81), 0), 0);
    assert.equal(r.assign(flowLabels(key(1001, 80), 0), 0), a, 'same labels, same series');
    const c = r.assign(flowLabels(key(1000, 82), 0), 0);
    const d = r.assign(flowLabels(key(1000, 83), 0), 0);
    assert.notEqual(a, b);
    assert.equal(c, d);
    assert.equal(c.labels.peer_address, OVERFLOW);
    assert.equal(r.overflowedFlows, 2);
    assert.equal(r.size, 2);
    assert.equal(r.all().length, 3);
  });

  it('expires idle series and frees their budget, never the overflow series', () => {
    const r = new Rollup(1, PLAIN_LABELS);
    const a = r.assign(flowLabels(key(1000, 80), 0), 0);
    r.assign(flowLabels(key(1000, 81), 0), 0); // overflow
    a.flows = 0;
    assert.equal(r.expire(5e9, 10e9), 0, 'not idle long enough');
    assert.equal(r.expire(20e9, 10e9), 1);
    const b = r.assign(flowLabels(key(1000, 81), 0), 20e9);
    assert.equal(b.labels.server_port, '81');
    assert.equal(r.all().length, 2);
  });
});

describe('flow state', () => {
  /** A flow_stats value whose destination side has these RTT window fields. */
  const side = (count: number, winEpoch: number, winMinNs: number, prevMinNs: number) => {
    const v = Buffer.alloc(FlowStats.size);
    writeU64(v, FlowStats.offset('rtt.0.count'), count);
    writeU64(v, FlowStats.offset('rtt.0.win_min_ns'), winMinNs);
    writeU64(v, FlowStats.offset('rtt.0.prev_min_ns'), prevMinNs);
    v.writeUInt32LE(winEpoch, FlowStats.offset('rtt.0.win_epoch'));
    return v;
  };
  it('takes the min of the current and the previous window', () => {
    assert.equal(windowedMin(side(5, 10, 300, 200), 0, 0, 10), 200);
    assert.equal(windowedMin(side(5, 10, 300, 0), 0, 0, 10), 300);
    assert.equal(windowedMin(side(5, 9, 300, 100), 0, 0, 10), 300, 'last window only: its prev is two windows old');
    assert.equal(windowedMin(side(5, 8, 300, 100), 0, 0, 10), Infinity, 'too old');
    assert.equal(windowedMin(side(0, 10, 0, 0), 0, 0, 10), Infinity);
    assert.equal(windowedMin(side(1, 0xffffffff, 7, 0), 0, 0, 0), 7, 'epoch wraps at 2^32');
    assert.equal(windowedMin(side(1, 10, 7, 0), 0, 1, 10), Infinity, 'the other side has no sample');
    assert.equal(minRttEpoch(0, 10e9), 1, 'windows count from 1, so 0 means none');
    assert.equal(minRttEpoch(25e9, 10e9), 3);
  });
  it('knows a closed flow', () => {
    assert.equal(isClosed(FlowFlag.finEgress), false);
    assert.equal(isClosed(FlowFlag.finEgress | FlowFlag.finIngress), true);
    assert.equal(isClosed(FlowFlag.rstIngress), true);
  });
});
