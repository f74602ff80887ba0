/**
 * The packet suite (packet.test.ts) against the build for kernels before
 * 5.12 (bpf/compat/, no atomics that return a value): on one CPU at a time,
 * as BPF_PROG_TEST_RUN runs it, it must measure exactly what the current
 * build does. Kernels that need it run it for real in the kernel matrix.
 */
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

process.env.TCPULSE_TEST_BPF_OBJ = join(projectRoot, 'bpf/compat/packet.bpf.o');
await import('./packet.test.js');
