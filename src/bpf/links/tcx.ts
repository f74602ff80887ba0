/**
 * TC by tcx link (Linux 6.6+): appended after the programs already there,
 * so it coexists with Cilium, Calico and friends and replaces nothing.
 * libbpf 1.1 predates its tcx helpers; bpf_link_create with the raw attach
 * type does the same.
 */
import { AttachType } from './link.js';
import { FdLink } from './fdlink.js';

export type TcDirection = 'ingress' | 'egress';

export function attachTcx(progFd: number, ifindex: number, ifname: string, dir: TcDirection): FdLink {
  const type = dir === 'ingress' ? AttachType.tcxIngress : AttachType.tcxEgress;
  return FdLink.create(`tcx/${dir} ${ifname}`, progFd, ifindex, type);
}
