/** Program statistics: the uapi offsets, and real counts from a real program run. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enableRunTimeStats, programStats, PROG_INFO } from '../src/bpf/progstats.js';
import { BpfObject } from '../src/bpf/object.js';
import { encodeCfg } from '../src/bpf/layout.js';
import { testRun } from '../src/bpf/testrun.js';
import { projectRoot } from '../src/paths.js';
import { tcpPacket } from './helpers/packet.js';

describe('BPF program statistics', () => {
  it('uses the offsets of struct bpf_prog_info', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpulse-proginfo-'));
    try {
      writeFileSync(
        join(dir, 'o.c'),
        '#include <linux/bpf.h>\n#include <stddef.h>\n#include <stdio.h>\nint main(void){printf("%zu %zu %zu %zu\\n", offsetof(struct bpf_prog_info, id), offsetof(struct bpf_prog_info, name), offsetof(struct bpf_prog_info, run_time_ns), offsetof(struct bpf_prog_info, run_cnt));return 0;}\n',
      );
      execFileSync('cc', [join(dir, 'o.c'), '-o', join(dir, 'o')]);
      const [id, name, rt, rc] = execFileSync(join(dir, 'o'), { encoding: 'utf8' }).trim().split(' ').map(Number);
      assert.deepEqual([id, name, rt, rc], [PROG_INFO.id, PROG_INFO.name, PROG_INFO.runTimeNs, PROG_INFO.runCnt]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts runs and run time while statistics are on', () => {
    const obj = BpfObject.open(join(projectRoot, 'bpf/packet.bpf.o'));
    obj.setRodata(encodeCfg({ rttRateLimitNs: 0, tsTimeoutNs: 1e9, minRttWindowNs: 1e9, emitEvents: false }));
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
