/**
 * TC by clsact filter, for kernels without tcx. The filter is a netlink
 * object that outlives the process, so the agent removes its own filter
 * (handle and priority below) on stop, and removes a stale one left by a
 * crashed predecessor before attaching. The clsact qdisc is shared with
 * other users and is never deleted.
 */
import { BpfError } from '../../errors.js';
import koffi from 'koffi';
import { BpfTcHook, BpfTcOpts, libbpf, type TcHook, type TcOpts } from '../libbpf.js';
import type { Link } from './link.js';
import type { TcDirection } from './tcx.js';

const BPF_TC_INGRESS = 1;
const BPF_TC_EGRESS = 2;
const EEXIST = 17;
const ENOENT = 2;

/** Ours: a fixed handle and a priority late in the chain. */
export const CLSACT_HANDLE = 0x7c9;
export const CLSACT_PRIORITY = 0xc0de;

function hook(ifindex: number, dir: TcDirection): TcHook {
  return { sz: koffi.sizeof(BpfTcHook), ifindex, attach_point: dir === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS, parent: 0 };
}

/** Our filter: with progFd to attach it, with 0 to name it for detaching. */
function opts(progFd: number): TcOpts {
  return { sz: koffi.sizeof(BpfTcOpts), prog_fd: progFd, flags: 0, prog_id: 0, handle: CLSACT_HANDLE, priority: CLSACT_PRIORITY };
}

export class ClsactLink implements Link {
  private attached = true;

  private constructor(
    readonly description: string,
    private readonly tcHook: TcHook,
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
    const r = libbpf.tc_detach(this.tcHook, opts(0));
    if (r < 0 && -r !== ENOENT) throw new BpfError(`detach ${this.description}`, -r);
  }
}
