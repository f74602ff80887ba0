/**
 * What each program costs: run count and total run time from the kernel
 * (struct bpf_prog_info), counted while run-time statistics are on. They
 * are switched on through BPF_ENABLE_STATS, held by a file descriptor: no
 * global sysctl changes, and the kernel stops counting when the agent goes.
 * Counting costs two clock reads per program run.
 */
import { BpfError } from '../errors.js';
import { readU64 } from './codec.js';
import { libbpf, libcFns } from './libbpf.js';

/** Offsets in the kernel's uapi struct bpf_prog_info (stable ABI); test/kernel/progstats.test.ts checks them. */
export const PROG_INFO = { size: 232, id: 4, name: 64, runTimeNs: 192, runCnt: 200 } as const;

const BPF_STATS_RUN_TIME = 0;

export interface ProgramStats {
  id: number;
  name: string;
  runTimeNs: number;
  runCnt: number;
}

/** Turns run-time statistics on; close() the result to turn them off. */
export function enableRunTimeStats(): { close(): void } {
  const fd = libbpf.enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) throw new BpfError('enable BPF run-time statistics', -fd);
  let open = true;
  return {
    close() {
      if (open) libcFns.close(fd);
      open = false;
    },
  };
}

export function programStats(progFd: number): ProgramStats {
  const info = Buffer.alloc(PROG_INFO.size);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length);
  const r = libbpf.obj_get_info_by_fd(progFd, info, len);
  if (r < 0) throw new BpfError('program info', -r);
  const nameEnd = info.indexOf(0, PROG_INFO.name);
  return {
    id: info.readUInt32LE(PROG_INFO.id),
    name: info.toString('latin1', PROG_INFO.name, nameEnd < 0 || nameEnd > PROG_INFO.name + 16 ? PROG_INFO.name + 16 : nameEnd),
    runTimeNs: readU64(info, PROG_INFO.runTimeNs),
    runCnt: readU64(info, PROG_INFO.runCnt),
  };
}
