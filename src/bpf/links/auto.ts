/**
 * A libbpf-made link (bpf_program__attach: tracepoints, raw tracepoints,
 * kprobes). Like the fd links it detaches when the process exits.
 */
import { libbpf, type Ptr } from '../libbpf.js';
import type { Link } from './link.js';

export class AutoLink implements Link {
  constructor(
    readonly description: string,
    private link: Ptr | null,
  ) {}

  close(): void {
    if (this.link) libbpf.link_destroy(this.link);
    this.link = null;
  }
}
