/** The fake API server's public types: objects, Status, the request log, options. */
import type { IncomingHttpHeaders } from 'node:http';

export type Kind = 'pods' | 'replicasets' | 'jobs';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string };
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
  details?: Record<string, unknown>;
}

export type Verb = 'list' | 'watch' | 'get' | 'other';

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** performance.now() at arrival: monotonic milliseconds, for backoff assertions. */
  time: number;
  kind?: Kind;
  namespace?: string;
  verb: Verb;
  /** HTTP status sent, 'destroyed' if the socket was destroyed, undefined while still undecided. */
  outcome?: number | 'destroyed';
}

/** How the server behaves while setDown(true) or for injected failures. */
export type FailMode =
  | '503' // HTTP 503 with a ServiceUnavailable Status body
  | 'destroy' // accept the connection, read the request, destroy the socket (ECONNRESET / socket hang up)
  | 'refuse'; // (setDown only) stop listening: new connections get ECONNREFUSED

export interface KubeApiServerOptions {
  /** Events retained per kind; older ones are forgotten and watches from before them get 410. Default 1000. */
  historyLimit?: number;
  /** First resourceVersion handed out is this + 1. Default 1000. */
  initialResourceVersion?: number;
  /** What setDown(true) does by default. Default '503'. */
  downMode?: FailMode;
  /** If set, every open watch with allowWatchBookmarks gets a BOOKMARK this often. */
  bookmarkIntervalMs?: number;
  /** Watch with resourceVersion above the current one: how long to wait before the 504 "Too large resource version" ERROR. Default 3000 (as the apiserver). */
  tooLargeWaitMs?: number;
  /** Fixed port instead of a random one. */
  port?: number;
  /** Address to listen on (default 127.0.0.1), e.g. one reachable from another namespace. */
  host?: string;
}
