/**
 * A bpf_link held by fd. Not pinned: when the agent exits, however it
 * exits, the kernel closes the fd and detaches the program.
 */
import { check } from '../../errors.js';
import koffi from 'koffi';
import { BpfLinkCreateOpts, libbpf, libcFns } from '../libbpf.js';
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
    const opts = flags ? { sz: koffi.sizeof(BpfLinkCreateOpts), flags } : null;
    return new FdLink(description, check(`attach ${description}`, libbpf.link_create(progFd, ifindex, attachType, opts)));
  }

  close(): void {
    if (this.fd >= 0) libcFns.close(this.fd);
    this.fd = -1;
  }
}
