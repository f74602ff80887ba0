/**
 * What the agent knows of pods: IP -> pod, and each pod's workload (its
 * owner: a Deployment through its ReplicaSet, a CronJob through its Job, a
 * StatefulSet, a DaemonSet, a Job, or the pod itself). Host-network pods
 * share their node's IP and are never keyed by it. A deleted pod keeps its
 * IP for a grace period (connections close after their pod), unless a new
 * pod takes the IP first.
 */

export interface OwnerRef {
  kind?: string;
  name?: string;
  controller?: boolean;
}

export interface PodObject {
  metadata?: { name?: string; namespace?: string; uid?: string; ownerReferences?: OwnerRef[] };
  spec?: { nodeName?: string; hostNetwork?: boolean };
  status?: { podIP?: string; podIPs?: { ip?: string }[]; phase?: string };
}

export interface OwnedObject {
  metadata?: { name?: string; namespace?: string; ownerReferences?: OwnerRef[] };
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  hostNetwork: boolean;
  ips: string[];
  owner: OwnerRef | undefined;
  /** ms (Date.now()) when the pod was deleted; undefined while it exists */
  deletedAt?: number;
}

function controllerOf(o: { metadata?: { ownerReferences?: OwnerRef[] } }): OwnerRef | undefined {
  const refs = o.metadata?.ownerReferences ?? [];
  return refs.find((r) => r.controller) ?? refs[0];
}

const nsName = (ns: string | undefined, name: string | undefined) => `${ns ?? ''}/${name ?? ''}`;

export class PodIndex {
  private readonly byUid = new Map<string, PodInfo>();
  private readonly byIp = new Map<string, PodInfo>();
  /** namespace/replicaset -> owner (a Deployment), namespace/job -> owner (a CronJob) */
  private readonly rsOwner = new Map<string, OwnerRef | undefined>();
  private readonly jobOwner = new Map<string, OwnerRef | undefined>();
  /** bumps on every change: holders of labels know when to look again */
  generation = 0;

  private static info(p: PodObject): PodInfo | null {
    const uid = p.metadata?.uid;
    if (!uid || !p.metadata?.name) return null;
    const ips = new Set<string>();
    if (p.status?.podIP) ips.add(p.status.podIP);
    for (const i of p.status?.podIPs ?? []) if (i.ip) ips.add(i.ip);
    return {
      namespace: p.metadata.namespace ?? '',
      name: p.metadata.name,
      uid,
      node: p.spec?.nodeName ?? '',
      hostNetwork: p.spec?.hostNetwork === true,
      ips: [...ips],
      owner: controllerOf(p),
    };
  }

  private unindex(info: PodInfo): void {
    for (const ip of info.ips) if (this.byIp.get(ip) === info) this.byIp.delete(ip);
  }

  private index(info: PodInfo): void {
    this.byUid.set(info.uid, info);
    if (info.hostNetwork) return; // the node's IP: not this pod's alone
    for (const ip of info.ips) this.byIp.set(ip, info);
  }

  podEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', p: PodObject, now = Date.now()): void {
    const info = PodIndex.info(p);
    if (!info) return;
    const old = this.byUid.get(info.uid);
    if (type === 'DELETED') {
      if (old) old.deletedAt ??= now;
    } else {
      if (old) this.unindex(old);
      this.index(info);
    }
    this.generation++;
  }

  /** A complete list: pods not in it are deleted now. */
  syncPods(items: PodObject[], now = Date.now()): void {
    const seen = new Set<string>();
    for (const p of items) {
      const info = PodIndex.info(p);
      if (!info) continue;
      seen.add(info.uid);
      const old = this.byUid.get(info.uid);
      if (old) this.unindex(old);
      this.index(info);
    }
    for (const [uid, info] of this.byUid) if (!seen.has(uid)) info.deletedAt ??= now;
    this.generation++;
  }

  ownerEvent(kind: 'replicasets' | 'jobs', type: 'ADDED' | 'MODIFIED' | 'DELETED', o: OwnedObject): void {
    const map = kind === 'replicasets' ? this.rsOwner : this.jobOwner;
    const key = nsName(o.metadata?.namespace, o.metadata?.name);
    if (type === 'DELETED') map.delete(key);
    else map.set(key, controllerOf(o));
    this.generation++;
  }

  syncOwners(kind: 'replicasets' | 'jobs', items: OwnedObject[]): void {
    const map = kind === 'replicasets' ? this.rsOwner : this.jobOwner;
    map.clear();
    for (const o of items) map.set(nsName(o.metadata?.namespace, o.metadata?.name), controllerOf(o));
    this.generation++;
  }

  /** Deleted pods past their grace: forgotten, and returned so their series can go. */
  expire(graceMs: number, now = Date.now()): PodInfo[] {
    const gone: PodInfo[] = [];
    for (const [uid, info] of this.byUid) {
      if (info.deletedAt === undefined || now - info.deletedAt < graceMs) continue;
      this.byUid.delete(uid);
      this.unindex(info);
      gone.push(info);
    }
    if (gone.length) this.generation++;
    return gone;
  }

  lookup(ip: string): PodInfo | undefined {
    return this.byIp.get(ip);
  }

  get size(): number {
    return this.byUid.size;
  }

  /** Every pod known (deleted ones within their grace included). */
  all(): IterableIterator<PodInfo> {
    return this.byUid.values();
  }

  /** kind/name of the pod's workload, lower-case kind: deployment/web, statefulset/db, pod/debug. */
  workload(p: PodInfo): string {
    let owner = p.owner;
    if (owner?.kind === 'ReplicaSet') {
      const rsOwner = this.rsOwner.get(nsName(p.namespace, owner.name));
      if (rsOwner?.kind === 'Deployment') owner = rsOwner;
    } else if (owner?.kind === 'Job') {
      const jobOwner = this.jobOwner.get(nsName(p.namespace, owner.name));
      if (jobOwner?.kind === 'CronJob') owner = jobOwner;
    }
    if (!owner?.kind || !owner.name) return `pod/${p.name}`;
    return `${owner.kind.toLowerCase()}/${owner.name}`;
  }
}
