/**
 * Series labels from a connection's two ends. Without Kubernetes: local
 * address, peer address, server port. With Kubernetes the label set follows
 * the configured rollup, and the local end is the pod on this node: a flow
 * on a pod's veth, seen from the host side, is turned around (flip) so that
 * "local" is the pod and "ingress" what the pod received.
 */
import { addressToString } from './address.js';
import type { Labels } from './series.js';
import type { RollupLevel } from '../config.js';

/** A pod as labels name it. */
export interface LabeledPod {
  namespace: string;
  name: string;
  node: string;
}

/** What labels need of the pod index (k8s/pods.ts keeps it). */
export interface PodLookup<P extends LabeledPod = LabeledPod> {
  /** bumped whenever a pod or its IPs change */
  readonly generation: number;
  lookup(ip: string): P | undefined;
  /** `deployment/web`, `cronjob/x`, `pod/name`: the pod's top owner */
  workload(p: P): string;
}

export const PLAIN_LABELS = ['local_address', 'peer_address', 'server_port'] as const;

const LEVEL_LABELS: Record<RollupLevel, readonly string[]> = {
  flow: ['namespace', 'pod', 'workload', 'local_address', 'local_port', 'peer_namespace', 'peer_pod', 'peer_workload', 'peer_address', 'peer_port', 'server_port'],
  pod: ['namespace', 'pod', 'workload', 'peer_namespace', 'peer_pod', 'peer_workload', 'peer_address', 'server_port'],
  workload: ['namespace', 'workload', 'peer_namespace', 'peer_workload', 'peer_address', 'server_port'],
  namespace: ['namespace', 'peer_namespace', 'peer_address', 'server_port'],
  node: ['peer_address', 'server_port'],
};

export interface Placement {
  labels: Labels;
  /** the key's second address is the local end */
  flip: boolean;
  /** an end is no known pod (yet): labels may change when pods do */
  provisional: boolean;
}

export interface LabelerOptions {
  index: PodLookup;
  level: RollupLevel;
  nodeName: string;
  /** prefix lengths of the peer range for peers that are no known pod */
  prefixV4: number;
  prefixV6: number;
}

/** The network of addr with the prefix length: 10.1.2.0/24, fd00::/64. */
export function addressRange(addr: Buffer, v4: boolean, prefix: number): string {
  const bytes = v4 ? Buffer.from(addr.subarray(12, 16)) : Buffer.from(addr);
  const bits = bytes.length * 8;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  const full = v4 ? Buffer.concat([addr.subarray(0, 12), bytes]) : bytes;
  return `${addressToString(full)}/${Math.min(prefix, bits)}`;
}

export class Labeler {
  readonly labelNames: readonly string[];

  constructor(private readonly o: LabelerOptions | null) {
    this.labelNames = o ? LEVEL_LABELS[o.level] : PLAIN_LABELS;
  }

  get generation(): number {
    return this.o?.index.generation ?? 0;
  }

  /**
   * Labels for a connection between a (first) and b (second address of the
   * key). fixed: a is the local end whatever the pods say (a socket's own end).
   */
  place(a: Buffer, aPort: number, b: Buffer, bPort: number, serverPort: number, fixed = false): Placement {
    const o = this.o;
    if (!o) {
      const labels = { local_address: addressToString(a), peer_address: addressToString(b), server_port: String(serverPort) };
      return { labels, flip: false, provisional: false };
    }
    const aText = addressToString(a);
    const bText = addressToString(b);
    const aPod = o.index.lookup(aText);
    const bPod = o.index.lookup(bText);
    const onNode = (p: LabeledPod | undefined) => p !== undefined && p.node === o.nodeName;
    const flip = !fixed && onNode(bPod) && !onNode(aPod);
    const [local, lPort, lPod, peer, pPort, pPod] = flip ? [b, bPort, bPod, a, aPort, aPod] : [a, aPort, aPod, b, bPort, bPod];
    const v4 = addressToString(peer).includes('.');
    const all: Record<string, string> = {
      namespace: lPod?.namespace ?? '',
      pod: lPod?.name ?? '',
      workload: lPod ? o.index.workload(lPod) : '',
      local_address: addressToString(local),
      local_port: String(lPort),
      peer_namespace: pPod?.namespace ?? '',
      peer_pod: pPod?.name ?? '',
      peer_workload: pPod ? o.index.workload(pPod) : '',
      // a known pod needs no address; anything else is named by its range
      peer_address: o.level === 'flow' ? addressToString(peer) : pPod ? '' : addressRange(peer, v4, v4 ? o.prefixV4 : o.prefixV6),
      peer_port: String(pPort),
      server_port: String(serverPort),
    };
    const labels: Record<string, string> = {};
    for (const n of this.labelNames) labels[n] = all[n]!;
    return { labels, flip, provisional: !lPod || !pPod };
  }

  /** Series labels that name this pod (local or peer side), to drop them when it is gone. */
  namesPod(labels: Labels, p: LabeledPod): boolean {
    return (
      (labels.namespace === p.namespace && labels.pod === p.name) ||
      (labels.peer_namespace === p.namespace && labels.peer_pod === p.name)
    );
  }
}
