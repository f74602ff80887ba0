/**
 * XDP by bpf_link. A link never replaces a program someone else attached:
 * the kernel answers EBUSY, and we report it.
 */
import { AttachType } from './link.js';
import { FdLink } from './fdlink.js';

export type XdpMode = 'auto' | 'native' | 'generic';

const XDP_FLAGS_SKB_MODE = 1 << 1;
const XDP_FLAGS_DRV_MODE = 1 << 2;

export function attachXdp(progFd: number, ifindex: number, ifname: string, mode: XdpMode): FdLink {
  const flags = mode === 'native' ? XDP_FLAGS_DRV_MODE : mode === 'generic' ? XDP_FLAGS_SKB_MODE : 0;
  return FdLink.create(`xdp/${mode} ${ifname}`, progFd, ifindex, AttachType.xdp, flags);
}
