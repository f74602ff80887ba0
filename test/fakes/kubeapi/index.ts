/**
 * A fake Kubernetes API server for tests: a real HTTP server on 127.0.0.1
 * that speaks the list/watch protocol for pods, replicasets and jobs, so code
 * built on @kubernetes/client-node (CoreV1Api/AppsV1Api/BatchV1Api lists and
 * the Watch class) can be exercised over real sockets, failure modes included.
 *
 * What it mirrors from the real apiserver (watch cache + etcd), by file:
 *  - store.ts: one global, monotonically increasing resourceVersion across
 *    kinds, history and its compaction;
 *  - list.ts: LIST with selectors (selectors.ts), limit + continue, Exact
 *    resourceVersion from a snapshot;
 *  - watch.ts: WATCH streams, replay from a resourceVersion, synthetic initial
 *    events, per-event selector changes, BOOKMARK, 410 and 504 ERROR events,
 *    timeoutSeconds, dropped connections;
 *  - server.ts: routing, the request log, failure modes (setDown, failNext),
 *    lifecycle;
 *  - objects.ts, kubeconfig.ts: what tests build objects and clients with.
 *
 * Not modelled: auth, admission, writes through the API (mutations come from
 * the control methods), protobuf, table output, discovery beyond /version.
 */
export type {
  FailMode,
  Kind,
  KubeApiServerOptions,
  KubeObject,
  ObjectMeta,
  OwnerReference,
  RequestRecord,
  Status,
  Verb,
  WatchEventType,
} from './types.js';
export { collectionPath, kindInfo, KINDS } from './kinds.js';
export { CONTINUE_EXPIRED_MESSAGE, status } from './status.js';
export { KubeApiServer, waitFor } from './server.js';
export { job, ownerRef, pod, replicaSet } from './objects.js';
export type { JobInput, OwnerInput, PodInput, ReplicaSetInput } from './objects.js';
export { kubeconfig, kubeconfigOptions } from './kubeconfig.js';
