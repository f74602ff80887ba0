/**
 * Which build of the BPF objects this kernel loads. Atomic instructions
 * that return a value (BPF_FETCH: fetch-and-or, fetch-and-add whose result
 * is used; compare-and-exchange) came with Linux 5.12; an older verifier
 * refuses an object holding one anywhere ("BPF_STX uses reserved fields").
 * bpf/compat/ holds the same programs built without them (see
 * bpf/common.h): on such kernels two CPUs updating one flow's flags at the
 * same moment may lose one update. Probed, not read off the version: a
 * tiny program with one fetch-and-add is loaded and closed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError, KernelError } from '../errors.js';
import { libbpf, libcFns } from '../bpf/libbpf.js';
import type { Outcome } from './hooks.js';

const BPF_PROG_TYPE_SOCKET_FILTER = 1;

/** One eBPF instruction: opcode, dst and src registers, offset, immediate. */
function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

/** r0 = 0; *(u64 *)(r10 - 8) = r0; r1 = 1; r1 = atomic_fetch_add((u64 *)(r10 - 8), r1); exit */
const FETCH_ADD_PROGRAM = Buffer.concat([
  insn(0xb7, 0, 0, 0, 0), // BPF_ALU64 | BPF_MOV | BPF_K
  insn(0x7b, 10, 0, -8, 0), // BPF_STX | BPF_DW | BPF_MEM
  insn(0xb7, 1, 0, 0, 1),
  insn(0xdb, 10, 1, -8, 0x01), // BPF_STX | BPF_DW | BPF_ATOMIC, imm BPF_ADD | BPF_FETCH
  insn(0x95, 0, 0, 0, 0), // BPF_JMP | BPF_EXIT
]);

const EINVAL = 22;

/**
 * Whether the kernel accepts atomics that return a value (5.12+): such a
 * verifier loads the probe, an older one refuses it with EINVAL. Anything
 * else (EPERM without CAP_BPF, ...) cannot tell.
 */
export function probeFetchAtomics(): Outcome {
  const fd = libbpf.prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 'tcpulse_probe', 'GPL', FETCH_ADD_PROGRAM, FETCH_ADD_PROGRAM.length / 8, null);
  if (fd >= 0) {
    libcFns.close(fd);
    return { status: 'supported' };
  }
  const err = new BpfError('load a program with BPF_ATOMIC | BPF_FETCH', -fd);
  return -fd === EINVAL ? { status: 'unsupported', reason: err.message } : { status: 'error', reason: err.message };
}

export type ObjectBuild = 'current' | 'compat';

/** Where libbpf finds the running kernel's types for CO-RE. */
export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/** The objects are CO-RE: without the kernel's BTF none of them can be relocated to it. */
export function requireKernelBtf(path = KERNEL_BTF): void {
  if (!existsSync(path)) {
    throw new KernelError(`this kernel has no BTF (${path} is missing): tcpulse needs a kernel built with CONFIG_DEBUG_INFO_BTF (most distributions since 5.4)`);
  }
}

/**
 * The build to load: compat where the kernel refuses fetch atomics, else
 * current. A probe that cannot tell picks current: loading it then reports
 * what is wrong (missing privileges, say) in the words of the real load.
 */
export function chooseObjects(outcome: Outcome = probeFetchAtomics()): ObjectBuild {
  return outcome.status === 'unsupported' ? 'compat' : 'current';
}

/** Path of object name (e.g. 'packet.bpf.o') of a build under bpfDir. */
export function objectPath(bpfDir: string, name: string, build: ObjectBuild): string {
  const path = build === 'compat' ? join(bpfDir, 'compat', name) : join(bpfDir, name);
  if (build === 'compat' && !existsSync(path)) throw new BpfError(`${path} (this kernel needs the build for kernels before 5.12)`, 2);
  return path;
}
