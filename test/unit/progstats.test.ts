/** Program statistics: the offsets of the kernel's uapi struct bpf_prog_info, from the C compiler. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROG_INFO } from '../../src/bpf/progstats.js';

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
});
