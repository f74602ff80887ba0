/** Errors with a stable code, so callers and tests match on codes, not text. */
import { constants } from 'node:os';

export class TcpulseError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TcpulseError';
  }
}

/** A bad flag, config file or config value: the process exits 2. */
export class ConfigError extends TcpulseError {
  constructor(message: string) {
    super('TCPULSE_ERR_CONFIG', message);
    this.name = 'ConfigError';
  }
}

/** This kernel cannot run the agent (no BTF, say): the process exits 3, nothing loaded. */
export class KernelError extends TcpulseError {
  constructor(message: string) {
    super('TCPULSE_ERR_KERNEL', message);
    this.name = 'KernelError';
  }
}

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, num]) => [num as number, name]),
);

/** A failed libbpf or kernel call; errno is positive. */
export class BpfError extends TcpulseError {
  readonly errno: number;
  constructor(what: string, errno: number) {
    super('TCPULSE_ERR_BPF', `${what}: ${errnoNames.get(errno) ?? 'errno ' + errno}`);
    this.errno = errno;
    this.name = 'BpfError';
  }
}

/** Throws BpfError when a libbpf call returned a negative errno. */
export function check(what: string, ret: number): number {
  if (ret < 0) throw new BpfError(what, -ret);
  return ret;
}
