/**
 * A bpf_link held by fd. Not pinned: when the agent exits, however it
 * exits, the kernel closes the fd and detaches the program.
 */
import { check } from '../../errors.js';
import { libbpf, libcFns } from '../libbpf.js';
import type { Link } from './link.js';

export class FdLink implements Link {
  private fd: number;

  constructor(
    readonly description: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static create(description: string, progFd: number, ifindex: number, attachType: number, flags = 0): FdLink {
    let opts: Buffer | null = null;
    if (flags) {
      // struct bpf_link_create_opts { size_t sz; __u32 flags; ... }: the
      // first 16 bytes; libbpf treats the rest as zero
      opts = Buffer.alloc(16);
      opts.writeBigUInt64LE(16n, 0);
      opts.writeUInt32LE(flags, 8);
    }
    return new FdLink(description, check(`attach ${description}`, libbpf.link_create(progFd, ifindex, attachType, opts)));
  }

  close(): void {
    if (this.fd >= 0) libcFns.close(this.fd);
    this.fd = -1;
  }
}
