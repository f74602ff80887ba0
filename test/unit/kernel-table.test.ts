/** The kernel matrix's compatibility table, from the agents' reports (test/kernels/table.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compatTable, parseReports } from '../kernels/table.js';

const SIGNALS = ['tcp_probe', 'tcp_retransmit_skb', 'inet_sock_set_state', 'tcp_send_reset', 'tcp_receive_reset'];
const probes = (ingress: string, egress: string, socket: (s: string) => string) => ({
  packet_ingress: { hook: ingress, available: 1 },
  packet_egress: { hook: egress, available: 1 },
  ...Object.fromEntries(SIGNALS.map((s) => [s, socket(s) === 'none' ? { hook: 'none', available: 0 } : { hook: socket(s), available: 1 }])),
});

describe('kernel compatibility table', () => {
  it('says per kernel what served, what fell back and what is absent', () => {
    const old = [
      { run: 'best hooks', objects: 'compat', probes: probes('clsact', 'clsact', () => 'tp_btf') },
      { run: 'best hooks', mptcp: 'kernel 5.10 lacks MPTCP' },
      { run: 'xdp, clsact and raw_tp', probes: probes('xdp', 'clsact', () => 'raw_tp') },
      { run: 'kprobe', probes: probes('clsact', 'clsact', (s) => (s === 'tcp_receive_reset' ? 'none' : 'kprobe')) },
    ];
    const recent = [
      { run: 'best hooks', objects: 'current', probes: probes('tcx', 'tcx', () => 'tp_btf') },
      { run: 'best hooks', mptcp: 'ok' },
      { run: 'xdp, clsact and raw_tp', probes: probes('xdp', 'clsact', () => 'raw_tp') },
      { run: 'kprobe', probes: probes('tcx', 'tcx', () => 'none') },
    ];
    const lines = (rs: object[]) => rs.map((r) => JSON.stringify(r)).join('\n');
    const table = compatTable([
      { series: '6.18', distro: 'this machine', runs: parseReports(lines(recent)) },
      { series: '5.10', distro: 'Debian 11', runs: parseReports(lines(old)) },
    ]).split('\n');
    assert.equal(table.length, 4);
    assert.equal(table[2], '| 5.10 (Debian 11) | compat (no atomics that return a value before 5.12) | clsact (no tcx before 6.6) | ✓ | ✓ | ✓ | 4 of 5 (tcp_receive_reset: none) | absent |');
    assert.equal(table[3], '| 6.18 (this machine) | current | tcx | ✓ | ✓ | ✓ | absent | ✓ |');
  });

  it('marks what did not run', () => {
    const table = compatTable([{ series: '6.1', distro: 'Debian 12', runs: [] }]).split('\n');
    assert.equal(table[2], '| 6.1 (Debian 12) | not run | not run | not run | not run | not run | not run | not run |');
  });
});
