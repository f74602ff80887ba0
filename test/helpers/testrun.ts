/**
 * BPF_PROG_TEST_RUN: runs a loaded program once on a packet we built, in
 * the kernel, with the real maps. The packet buffer is the program's input;
 * data_out shows whether the program changed it (it must not).
 */
import { check } from '../../src/errors.js';
import { BpfTestRunOpts, koffi, libbpf, type TestRunOpts } from '../../src/bpf/libbpf.js';

export interface TestRunResult {
  retval: number;
  dataOut: Buffer;
  durationNs: number;
}

export function testRun(progFd: number, packet: Buffer, repeat = 1): TestRunResult {
  const out = Buffer.alloc(Math.max(packet.length, 64) + 256);
  const opts: TestRunOpts = {
    sz: koffi.sizeof(BpfTestRunOpts),
    data_in: packet,
    data_out: out,
    data_size_in: packet.length,
    data_size_out: out.length,
    ctx_in: null,
    ctx_out: null,
    ctx_size_in: 0,
    ctx_size_out: 0,
    retval: 0,
    repeat,
    duration: 0,
    flags: 0,
    cpu: 0,
    batch_size: 0,
  };
  check('BPF_PROG_TEST_RUN', libbpf.prog_test_run_opts(progFd, opts));
  return { retval: opts.retval, dataOut: out.subarray(0, opts.data_size_out), durationNs: opts.duration };
}
