/**
 * libbpf's own messages (verifier logs, attach warnings) into our JSON log
 * instead of plain text on stderr. libbpf hands a printf format and a
 * va_list; vsnprintf formats it (on x86-64 and arm64 a va_list parameter is
 * passed as a pointer).
 */
import type { Logger } from '../log.js';
import { LibbpfPrintFn, libbpf, libcFns, register } from './libbpf.js';

const LEVELS = ['warn', 'info', 'debug'] as const; // LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG

let installed: bigint | null = null;
let target: Logger | null = null;
const buf = Buffer.alloc(16384);

export function routeLibbpfLogs(log: Logger): void {
  target = log;
  if (installed !== null) return;
  installed = register((level: number, fmt: string, args: unknown) => {
    const n = libcFns.vsnprintf(buf, buf.length, fmt, args);
    if (n <= 0 || !target) return 0;
    const text = buf.toString('utf8', 0, Math.min(n, buf.length - 1)).replace(/^libbpf: /, '').trimEnd();
    if (text) target[LEVELS[level] ?? 'debug']('libbpf', { message: text });
    return 0;
  }, LibbpfPrintFn);
  libbpf.set_print(installed);
}
