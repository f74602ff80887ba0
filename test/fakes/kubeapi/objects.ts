/**
 * Object builders: Pods, ReplicaSets and Jobs filled in the way the API
 * server shows them (owner references, labels, status), from a few fields.
 */
import { randomUUID } from 'node:crypto';
import { nowStamp } from './store.js';
import type { KubeObject, ObjectMeta, OwnerReference } from './types.js';

export interface OwnerInput {
  kind: string;
  name: string;
  uid?: string;
  apiVersion?: string;
  controller?: boolean;
}

const OWNER_API: Record<string, string> = {
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  Node: 'v1',
  ReplicationController: 'v1',
};

/** A full ownerReference from a partial one (apiVersion inferred from kind, random uid if none). */
export function ownerRef(o: OwnerInput | KubeObject): OwnerReference {
  const i: OwnerInput =
    'metadata' in o ? { apiVersion: o.apiVersion ?? 'v1', kind: o.kind ?? '', name: o.metadata.name, uid: o.metadata.uid, controller: true } : o;
  return {
    apiVersion: i.apiVersion ?? OWNER_API[i.kind] ?? 'v1',
    kind: i.kind,
    name: i.name,
    uid: i.uid ?? randomUUID(),
    controller: i.controller ?? true,
    blockOwnerDeletion: true,
  };
}

/** metadata of a built object: namespace 'default' unless given, ownerReferences only if any. */
function objectMeta(p: { namespace?: string; name: string }, fields: Partial<ObjectMeta>, owners: OwnerReference[]): ObjectMeta {
  const metadata: ObjectMeta = { name: p.name, namespace: p.namespace ?? 'default', ...fields };
  if (owners.length) metadata.ownerReferences = owners;
  return metadata;
}

const pause = { name: 'main', image: 'registry.k8s.io/pause:3.9', imagePullPolicy: 'IfNotPresent', resources: {} };

export interface PodInput {
  namespace?: string;
  name: string;
  /** status.podIP; omitted (no IP yet) if undefined. */
  ip?: string;
  nodeName?: string;
  hostNetwork?: boolean;
  /** Full or partial owner references (apiVersion and uid filled in). Built objects are accepted too. */
  ownerReferences?: (OwnerInput | OwnerReference | KubeObject)[];
  /** Default 'Running' when ip is set, else 'Pending'. */
  phase?: string;
  /** status.podIPs; default [ip]. */
  podIPs?: string[];
  /** status.hostIP; default ip for hostNetwork pods. */
  hostIP?: string;
  labels?: Record<string, string>;
  uid?: string;
}

export function pod(p: PodInput): KubeObject {
  const phase = p.phase ?? (p.ip ? 'Running' : 'Pending');
  const owners = (p.ownerReferences ?? []).map((o) => ownerRef(o));
  const labels: Record<string, string> = { app: p.name.replace(/-[a-z0-9]{5}$/, ''), ...p.labels };
  const rsOwner = owners.find((o) => o.kind === 'ReplicaSet');
  if (rsOwner) labels['pod-template-hash'] ??= rsOwner.name.split('-').pop()!;
  const hostIP = p.hostIP ?? (p.hostNetwork ? p.ip : undefined);
  const podIPs = p.podIPs ?? (p.ip ? [p.ip] : []);
  const created = nowStamp();
  const spec: Record<string, unknown> = {
    containers: [pause],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: p.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
    serviceAccountName: 'default',
    schedulerName: 'default-scheduler',
    enableServiceLinks: true,
  };
  if (p.nodeName) spec.nodeName = p.nodeName;
  if (p.hostNetwork) spec.hostNetwork = true;
  const st: Record<string, unknown> = { phase, qosClass: 'BestEffort' };
  if (p.nodeName) st.startTime = created;
  if (hostIP) {
    st.hostIP = hostIP;
    st.hostIPs = [{ ip: hostIP }];
  }
  if (p.ip) st.podIP = p.ip;
  if (podIPs.length) st.podIPs = podIPs.map((ip) => ({ ip }));
  if (phase === 'Running') {
    st.conditions = ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
      type,
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: created,
    }));
  } else if (p.nodeName) {
    st.conditions = [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: created }];
  }
  const metadata = objectMeta(p, { uid: p.uid ?? randomUUID(), creationTimestamp: created, labels }, owners);
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec, status: st };
}

export interface ReplicaSetInput {
  namespace?: string;
  name: string;
  /** Usually {kind: 'Deployment', name}; omit for a bare ReplicaSet. */
  owner?: OwnerInput | KubeObject;
  replicas?: number;
  uid?: string;
}

export function replicaSet(p: ReplicaSetInput): KubeObject {
  const hash = p.name.split('-').pop()!;
  const app = p.owner ? ('metadata' in p.owner ? p.owner.metadata.name : p.owner.name) : p.name;
  const labels = { app, 'pod-template-hash': hash };
  const replicas = p.replicas ?? 1;
  const metadata = objectMeta(
    p,
    { uid: p.uid ?? randomUUID(), creationTimestamp: nowStamp(), generation: 1, labels, annotations: { 'deployment.kubernetes.io/revision': '1' } },
    p.owner ? [ownerRef(p.owner)] : [],
  );
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata,
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [pause] } } },
    status: { replicas, fullyLabeledReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 },
  };
}

export interface JobInput {
  namespace?: string;
  name: string;
  /** Usually {kind: 'CronJob', name}; omit for a standalone Job. */
  owner?: OwnerInput | KubeObject;
  uid?: string;
}

export function job(p: JobInput): KubeObject {
  const uid = p.uid ?? randomUUID();
  const labels = {
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': p.name,
    'controller-uid': uid,
    'job-name': p.name,
  };
  const created = nowStamp();
  const metadata = objectMeta(p, { uid, creationTimestamp: created, generation: 1, labels }, p.owner ? [ownerRef(p.owner)] : []);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
      template: { metadata: { labels }, spec: { containers: [pause], restartPolicy: 'Never' } },
    },
    status: { active: 1, startTime: created, ready: 0, terminating: 0, uncountedTerminatedPods: {} },
  };
}
