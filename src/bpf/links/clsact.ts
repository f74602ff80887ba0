/**
 * TC by clsact filter, for kernels without tcx. The filter is a netlink
 * object that outlives the process, so the agent removes its own filter
 * (handle and priority below) on stop, and removes a stale one left by a
 * crashed predecessor before attaching. The clsact qdisc is shared with
 * other users and is never deleted.
 */
import { BpfError } from '../../errors.js';
import { libbpf } from '../libbpf.js';
import type { Link } from './link.js';
import type { TcDirection } from './tcx.js';

const BPF_TC_INGRESS = 1;
const BPF_TC_EGRESS = 2;
const EEXIST = 17;
const ENOENT = 2;

/** Ours: a fixed handle and a priority late in the chain. */
export const CLSACT_HANDLE = 0x7c9;
export const CLSACT_PRIORITY = 0xc0de;

function hook(ifindex: number, dir: TcDirection): Buffer {
  // struct bpf_tc_hook { size_t sz; int ifindex; enum attach_point; __u32 parent; }
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(24n, 0);
  b.writeInt32LE(ifindex, 8);
  b.writeUInt32LE(dir === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS, 12);
  return b;
}

function opts(progFd: number): Buffer {
  // struct bpf_tc_opts { size_t sz; int prog_fd; __u32 flags, prog_id, handle, priority; }
  const b = Buffer.alloc(32);
  b.writeBigUInt64LE(32n, 0);
  b.writeInt32LE(progFd, 8);
  b.writeUInt32LE(CLSACT_HANDLE, 20);
  b.writeUInt32LE(CLSACT_PRIORITY, 24);
  return b;
}

export class ClsactLink implements Link {
  private attached = true;

  private constructor(
    readonly description: string,
    private readonly hookBuf: Buffer,
  ) {}

  static attach(progFd: number, ifindex: number, ifname: string, dir: TcDirection): ClsactLink {
    const h = hook(ifindex, dir);
    const c = libbpf.tc_hook_create(h);
    if (c < 0 && -c !== EEXIST) throw new BpfError(`create clsact on ${ifname}`, -c);
    libbpf.tc_detach(h, opts(0)); // a stale filter of ours from a crash; ENOENT is the usual answer
    const r = libbpf.tc_attach(h, opts(progFd));
    if (r < 0) throw new BpfError(`attach clsact/${dir} ${ifname}`, -r);
    return new ClsactLink(`clsact/${dir} ${ifname}`, h);
  }

  close(): void {
    if (!this.attached) return;
    this.attached = false;
    const r = libbpf.tc_detach(this.hookBuf, opts(0));
    if (r < 0 && -r !== ENOENT) throw new BpfError(`detach ${this.description}`, -r);
  }
}
