/**
 * The contract with the BPF programs: the layouts, values, readers and
 * enums generated from bpf/tcpulse.h (contract.gen.ts), and by program
 * family what the generator leaves to hand-written code.
 */
export * from './contract.gen.js';
export * from './layout-flow.js';
export * from './layout-sock.js';
export * from './layout-qlog.js';
