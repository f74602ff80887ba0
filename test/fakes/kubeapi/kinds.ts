/**
 * The kinds served (pods, replicasets, jobs): their names, API groups and
 * paths, the fields a fieldSelector may name, and routing a request path.
 */
import type { Kind, KubeObject } from './types.js';

export const KINDS: readonly Kind[] = ['pods', 'replicasets', 'jobs'];

interface KindInfo {
  kind: string;
  listKind: string;
  apiVersion: string;
  prefix: string;
  fields: Record<string, (o: KubeObject) => string>;
}

/** A field selector compares scalars (a string, a number, a boolean); anything else matches nothing. */
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');
const at = (o: KubeObject, path: string): unknown => {
  let cur: unknown = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
};
const metaFields = {
  'metadata.name': (o: KubeObject) => str(o.metadata.name),
  'metadata.namespace': (o: KubeObject) => str(o.metadata.namespace),
};

export const INFO: Record<Kind, KindInfo> = {
  pods: {
    kind: 'Pod',
    listKind: 'PodList',
    apiVersion: 'v1',
    prefix: '/api/v1',
    fields: {
      ...metaFields,
      'spec.nodeName': (o) => str(at(o, 'spec.nodeName')),
      'spec.restartPolicy': (o) => str(at(o, 'spec.restartPolicy')),
      'spec.schedulerName': (o) => str(at(o, 'spec.schedulerName')),
      'spec.serviceAccountName': (o) => str(at(o, 'spec.serviceAccountName')),
      'spec.hostNetwork': (o) => String(at(o, 'spec.hostNetwork') === true),
      'status.phase': (o) => str(at(o, 'status.phase')),
      'status.podIP': (o) => str(at(o, 'status.podIP')),
      'status.nominatedNodeName': (o) => str(at(o, 'status.nominatedNodeName')),
    },
  },
  replicasets: {
    kind: 'ReplicaSet',
    listKind: 'ReplicaSetList',
    apiVersion: 'apps/v1',
    prefix: '/apis/apps/v1',
    fields: { ...metaFields, 'status.replicas': (o) => str(at(o, 'status.replicas')) },
  },
  jobs: {
    kind: 'Job',
    listKind: 'JobList',
    apiVersion: 'batch/v1',
    prefix: '/apis/batch/v1',
    fields: { ...metaFields, 'status.successful': (o) => str(at(o, 'status.successful')) },
  },
};

/** One value per kind, each made by `make`. */
export function perKind<T>(make: () => T): Record<Kind, T> {
  return { pods: make(), replicasets: make(), jobs: make() };
}

export function kindInfo(kind: Kind): { kind: string; listKind: string; apiVersion: string; path: string } {
  const i = INFO[kind];
  return { kind: i.kind, listKind: i.listKind, apiVersion: i.apiVersion, path: collectionPath(kind) };
}

/** The all-namespaces collection path of a kind, e.g. '/api/v1/pods' (what Watch.watch takes). */
export function collectionPath(kind: Kind, namespace?: string): string {
  const i = INFO[kind];
  return namespace === undefined ? `${i.prefix}/${kind}` : `${i.prefix}/namespaces/${namespace}/${kind}`;
}

export interface Route {
  kind: Kind;
  namespace?: string;
  name?: string;
}

/** The kind (and namespace, name) a request path names, if any. */
export function route(pathname: string): Route | undefined {
  const p = pathname.replace(/\/+$/, '');
  for (const kind of KINDS) {
    const prefix = INFO[kind].prefix;
    if (!p.startsWith(prefix + '/')) continue;
    const rest = p.slice(prefix.length + 1).split('/').map(decodeURIComponent);
    if (rest.length === 1 && rest[0] === kind) return { kind };
    if (rest.length === 3 && rest[0] === 'namespaces' && rest[2] === kind) return { kind, namespace: rest[1] };
    if (rest.length === 4 && rest[0] === 'namespaces' && rest[2] === kind) return { kind, namespace: rest[1], name: rest[3] };
  }
  return undefined;
}
