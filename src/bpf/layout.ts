/**
 * The structs of bpf/tcpulse.h and bpf/qlog.h, field for field, by program
 * family. test/unit/layout.test.ts checks every offset and size against the BTF
 * of the compiled objects.
 */
export * from './layout-flow.js';
export * from './layout-sock.js';
export * from './layout-qlog.js';
