/**
 * Keeps the pod index current from the Kubernetes API: pods of the whole
 * cluster (peers are anywhere), ReplicaSets and Jobs (to name Deployments
 * and CronJobs as workloads). While the API server is unreachable the index
 * keeps what it knew and metrics keep flowing with it.
 */
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { ListWatch, type ListWatchStats } from './listwatch.js';
import { PodIndex, type OwnedObject, type PodObject } from './pods.js';

export interface EnricherOptions {
  /** API server URL; empty: in-cluster service account, else $KUBECONFIG or ~/.kube/config */
  apiServer: string;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
}

export function kubeConfig(apiServer: string): KubeConfig {
  const kc = new KubeConfig();
  if (!apiServer) {
    kc.loadFromDefault();
    return kc;
  }
  const token = process.env.TCPULSE_KUBE_TOKEN;
  kc.loadFromOptions({
    // client-node refuses plain http unless TLS checking is off; https keeps it on
    clusters: [{ name: 'tcpulse', server: apiServer, skipTLSVerify: apiServer.startsWith('http:') }],
    users: [{ name: 'tcpulse', ...(token ? { token } : {}) }],
    contexts: [{ name: 'tcpulse', cluster: 'tcpulse', user: 'tcpulse' }],
    currentContext: 'tcpulse',
  });
  return kc;
}

export class Enricher {
  readonly index = new PodIndex();
  private readonly watches: { kind: string; lw: ListWatch<PodObject | OwnedObject> }[];

  constructor(o: EnricherOptions) {
    const kc = kubeConfig(o.apiServer);
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const watch = new Watch(kc);
    const common = { watch, log: o.log, backoff: o.backoff };
    const idx = this.index;
    this.watches = [
      {
        kind: 'pods',
        lw: new ListWatch<PodObject>({
          ...common,
          kind: 'pods',
          path: '/api/v1/pods',
          list: (p) => core.listPodForAllNamespaces(p),
          onSync: (items) => idx.syncPods(items),
          onEvent: (type, obj) => idx.podEvent(type, obj),
        }) as ListWatch<PodObject | OwnedObject>,
      },
      {
        kind: 'replicasets',
        lw: new ListWatch<OwnedObject>({
          ...common,
          kind: 'replicasets',
          path: '/apis/apps/v1/replicasets',
          list: (p) => apps.listReplicaSetForAllNamespaces(p),
          onSync: (items) => idx.syncOwners('replicasets', items),
          onEvent: (type, obj) => idx.ownerEvent('replicasets', type, obj),
        }),
      },
      {
        kind: 'jobs',
        lw: new ListWatch<OwnedObject>({
          ...common,
          kind: 'jobs',
          path: '/apis/batch/v1/jobs',
          list: (p) => batch.listJobForAllNamespaces(p),
          onSync: (items) => idx.syncOwners('jobs', items),
          onEvent: (type, obj) => idx.ownerEvent('jobs', type, obj),
        }),
      },
    ];
  }

  start(): void {
    for (const w of this.watches) w.lw.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.lw.stop()));
  }

  stats(): { kind: string; stats: ListWatchStats }[] {
    return this.watches.map((w) => ({ kind: w.kind, stats: { ...w.lw.stats } }));
  }
}
