/** Program statistics: real counts from a real program run. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { enableRunTimeStats, programStats } from '../../src/bpf/progstats.js';
import { BpfObject } from '../../src/bpf/object.js';
import { writeTcpulseCfg } from '../../src/bpf/layout.js';
import { testRun } from '../helpers/testrun.js';
import { projectRoot } from '../../src/paths.js';
import { tcpPacket } from '../helpers/packet.js';
import { missing } from '../helpers/features.js';

describe('BPF program statistics', { skip: await missing('bpf_stats') }, () => {
  it('counts runs and run time while statistics are on', () => {
    const obj = BpfObject.open(join(projectRoot, 'bpf/packet.bpf.o'));
    obj.setRodata(writeTcpulseCfg({ rttRateLimitNs: 0, tsTimeoutNs: 1e9, minRttWindowNs: 1e9, emitEvents: 0, qlog: 0, qlogMaxRecords: 0 }));
    obj.load();
    const stats = enableRunTimeStats();
    try {
      const fd = obj.programFd('tcpulse_tc_eg');
      const before = programStats(fd);
      assert.equal(before.name, 'tcpulse_tc_eg');
      const pkt = tcpPacket({ src: '10.1.1.1', dst: '10.1.1.2', sport: 1000, dport: 80, ts: { val: 1, ecr: 0 }, payload: 10 });
      testRun(fd, pkt, 1000);
      const after = programStats(fd);
      assert.equal(after.runCnt - before.runCnt, 1000);
      assert.ok(after.runTimeNs > before.runTimeNs);
    } finally {
      stats.close();
      obj.close();
    }
  });
});
