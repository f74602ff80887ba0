/**
 * A fake Kubernetes API server for tests: a real HTTP server on 127.0.0.1
 * that speaks the list/watch protocol for pods, replicasets and jobs, so code
 * built on @kubernetes/client-node (CoreV1Api/AppsV1Api/BatchV1Api lists and
 * the Watch class) can be exercised over real sockets, failure modes included.
 *
 * What it mirrors from the real apiserver (watch cache + etcd):
 *  - one global, monotonically increasing resourceVersion across kinds; every
 *    object carries metadata.resourceVersion of its last write, a DELETED event
 *    carries the RV of the deletion;
 *  - LIST: `{kind: PodList, apiVersion: v1, metadata: {resourceVersion}, items}`,
 *    items without kind/apiVersion (as the real server encodes them), sorted by
 *    namespace/name (etcd key order); fieldSelector, labelSelector,
 *    limit + continue served from a consistent snapshot at the first page's RV;
 *    a continue token older than the retained history gets HTTP 410 Expired;
 *    resourceVersion + resourceVersionMatch=Exact is served from a snapshot
 *    too, any other resourceVersion on a list is answered with current state;
 *  - WATCH (watch=true|1): 200, chunked application/json, one
 *    `{"type","object"}` JSON per line. resourceVersion=N replays history
 *    after N then streams live events; no resourceVersion or "0" (or
 *    sendInitialEvents=true) first sends synthetic ADDED events for the current
 *    objects. Selectors are applied per event the way the watch cache does: an
 *    object that stops matching is sent as DELETED, one that starts matching
 *    as ADDED. An RV older than the retained history gets a single ERROR event
 *    with a 410 Expired Status and the stream ends (HTTP status stays 200).
 *    BOOKMARK events go only to watches with allowWatchBookmarks=true.
 *    timeoutSeconds ends the stream cleanly (terminating chunk).
 *
 * Not modelled: auth, admission, writes through the API (mutations come from
 * the control methods), protobuf, table output, discovery beyond /version.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

// ---------------------------------------------------------------------------
// Types

export type Kind = 'pods' | 'replicasets' | 'jobs';
export const KINDS: readonly Kind[] = ['pods', 'replicasets', 'jobs'];

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

// ---------------------------------------------------------------------------
// Kind table

interface KindInfo {
  kind: string;
  listKind: string;
  apiVersion: string;
  prefix: string;
  fields: Record<string, (o: KubeObject) => string>;
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
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

const INFO: Record<Kind, KindInfo> = {
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

export function kindInfo(kind: Kind): { kind: string; listKind: string; apiVersion: string; path: string } {
  const i = INFO[kind];
  return { kind: i.kind, listKind: i.listKind, apiVersion: i.apiVersion, path: `${i.prefix}/${kind}` };
}

/** The all-namespaces collection path of a kind, e.g. '/api/v1/pods' (what Watch.watch takes). */
export function collectionPath(kind: Kind, namespace?: string): string {
  const i = INFO[kind];
  return namespace === undefined ? `${i.prefix}/${kind}` : `${i.prefix}/namespaces/${namespace}/${kind}`;
}

interface Route {
  kind: Kind;
  namespace?: string;
  name?: string;
}

function route(pathname: string): Route | undefined {
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

// ---------------------------------------------------------------------------
// Status objects and errors

export function status(code: number, reason: string, message: string, extra: Partial<Status> = {}): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...extra };
}

class HttpError extends Error {
  constructor(readonly body: Status) {
    super(body.message);
  }
}
const badRequest = (message: string) => new HttpError(status(400, 'BadRequest', message));

export const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

// ---------------------------------------------------------------------------
// Selectors

type Predicate = (o: KubeObject) => boolean;

function parseFieldSelector(kind: Kind, sel: string | undefined): Predicate {
  if (!sel) return () => true;
  const fields = INFO[kind].fields;
  const reqs = sel.split(',').filter((s) => s.trim() !== '').map((term) => {
    const m = /^\s*([^=!\s]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${sel}'; can't understand '${term}'`);
    const [, key, op, value] = m as unknown as [string, string, string, string];
    const get = fields[key];
    if (!get) throw badRequest(`field label not supported: ${key}`);
    return op === '!=' ? (o: KubeObject) => get(o) !== value : (o: KubeObject) => get(o) === value;
  });
  return (o) => reqs.every((r) => r(o));
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

function parseLabelSelector(sel: string | undefined): Predicate {
  if (!sel) return () => true;
  const key = '([A-Za-z0-9][-A-Za-z0-9_./]*)';
  const reqs = splitTopLevel(sel).map((term): ((l: Record<string, string>) => boolean) => {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^${key}\\s+(in|notin)\\s+\\(([^)]*)\\)$`).exec(term))) {
      const k = m[1]!;
      const values = new Set(m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== ''));
      return m[2] === 'in' ? (l) => k in l && values.has(l[k]!) : (l) => !(k in l) || !values.has(l[k]!);
    }
    if ((m = new RegExp(`^${key}\\s*(==|!=|=)\\s*([-A-Za-z0-9_.]*)$`).exec(term))) {
      const [k, op, v] = [m[1]!, m[2]!, m[3]!];
      return op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v;
    }
    if ((m = new RegExp(`^(!?)\\s*${key}$`).exec(term))) {
      const [neg, k] = [m[1] === '!', m[2]!];
      return neg ? (l) => !(k in l) : (l) => k in l;
    }
    throw badRequest(`unable to parse requirement: ${term}`);
  });
  return (o) => reqs.every((r) => r(o.metadata.labels ?? {}));
}

// ---------------------------------------------------------------------------
// Internals

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  prev?: KubeObject;
}

interface Store {
  objects: Map<string, KubeObject>;
  history: HistoryEntry[];
  /** Oldest RV a watch may start from (all events after it are retained). */
  minRV: number;
}

interface Watcher {
  kind: Kind;
  namespace?: string;
  match: Predicate;
  bookmarks: boolean;
  /** RV the client asked for; events at or below it are not sent. */
  fromRV: number;
  req: IncomingMessage;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
  closed: boolean;
}

interface Injected {
  remaining: number;
  mode: '503' | 'destroy' | number;
  verb?: Verb;
  kind?: Kind;
}

const clone = <T>(v: T): T => structuredClone(v);
const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const truthy = (v: string | undefined) => v === 'true' || v === '1';
const nowStamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: lastKey + '\u0000' })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: string; rv?: number; start?: string };
    if (t.v !== 'meta.k8s.io/v1' || typeof t.rv !== 'number' || typeof t.start !== 'string') throw new Error('bad token');
    return { rv: t.rv, start: t.start };
  } catch {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

// ---------------------------------------------------------------------------
// The server

export class KubeApiServer {
  /** Every request received, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** Requests that reached the list/watch/get handlers (not refused by setDown or failNext), per kind. */
  readonly counts: Record<'list' | 'watch' | 'get', Record<Kind, number>> = {
    list: { pods: 0, replicasets: 0, jobs: 0 },
    watch: { pods: 0, replicasets: 0, jobs: 0 },
    get: { pods: 0, replicasets: 0, jobs: 0 },
  };

  private readonly opts: Required<Omit<KubeApiServerOptions, 'bookmarkIntervalMs' | 'port' | 'host'>> & KubeApiServerOptions;
  private server: Server | undefined;
  private port = 0;
  private rv: number;
  private readonly stores: Record<Kind, Store>;
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private down: { mode: FailMode } | undefined;
  private injected: Injected[] = [];
  private bookmarkTimer: NodeJS.Timeout | undefined;

  constructor(options: KubeApiServerOptions = {}) {
    this.opts = { historyLimit: 1000, initialResourceVersion: 1000, downMode: '503', tooLargeWaitMs: 3000, ...options };
    this.rv = this.opts.initialResourceVersion;
    const store = (): Store => ({ objects: new Map(), history: [], minRV: this.rv });
    this.stores = { pods: store(), replicasets: store(), jobs: store() };
  }

  // ----- lifecycle

  /**
   * Starts listening on 127.0.0.1 (random port unless options.port); resolves
   * to the base URL. After stop(), start() again reopens on the same port with
   * objects and history kept: an API server restart.
   */
  async start(): Promise<string> {
    if (this.server) return this.url;
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    await this.listen(this.opts.port ?? this.port);
    if (this.opts.bookmarkIntervalMs) {
      this.bookmarkTimer = setInterval(() => this.bookmark(), this.opts.bookmarkIntervalMs);
      this.bookmarkTimer.unref();
    }
    return this.url;
  }

  /** Closes every connection (watches abruptly) and the listener. Safe to call twice. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    for (const w of this.watchers) this.closeWatcher(w, false);
    for (const s of this.sockets) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  }

  get url(): string {
    if (!this.server) throw new Error('KubeApiServer not started');
    return `http://${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** Current (latest handed out) resourceVersion, as the string clients see. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  // ----- mutations (each bumps the global RV and notifies watches)

  /** Adds an object; fills apiVersion/kind/namespace/uid/creationTimestamp if missing. Returns the stored copy. */
  add(kind: Kind, obj: KubeObject): KubeObject {
    const o = this.normalize(kind, obj);
    const key = keyOf(o);
    const store = this.stores[kind];
    if (store.objects.has(key)) throw new Error(`${kind} "${key}" already exists`);
    o.metadata.resourceVersion = String(++this.rv);
    store.objects.set(key, o);
    this.record(kind, { rv: this.rv, type: 'ADDED', object: o });
    return clone(o);
  }

  /** Replaces an existing object (matched by namespace/name); uid and creationTimestamp are kept if missing. */
  modify(kind: Kind, obj: KubeObject): KubeObject {
    const o = this.normalize(kind, obj);
    const key = keyOf(o);
    const store = this.stores[kind];
    const prev = store.objects.get(key);
    if (!prev) throw new Error(`${kind} "${key}" not found`);
    if (!obj.metadata.uid) o.metadata.uid = prev.metadata.uid;
    if (!obj.metadata.creationTimestamp) o.metadata.creationTimestamp = prev.metadata.creationTimestamp;
    o.metadata.resourceVersion = String(++this.rv);
    store.objects.set(key, o);
    this.record(kind, { rv: this.rv, type: 'MODIFIED', object: o, prev });
    return clone(o);
  }

  /** Mutates a copy of the stored object with `fn` and stores it as a MODIFIED event. */
  update(kind: Kind, namespace: string, name: string, fn: (o: KubeObject) => void): KubeObject {
    const cur = this.get(kind, namespace, name);
    if (!cur) throw new Error(`${kind} "${namespace}/${name}" not found`);
    fn(cur);
    return this.modify(kind, cur);
  }

  /** Deletes an object; the DELETED event carries its last state with the deletion's RV. */
  delete(kind: Kind, namespace: string, name: string): KubeObject {
    const store = this.stores[kind];
    const key = `${namespace}/${name}`;
    const prev = store.objects.get(key);
    if (!prev) throw new Error(`${kind} "${key}" not found`);
    const o = clone(prev);
    o.metadata.resourceVersion = String(++this.rv);
    store.objects.delete(key);
    this.record(kind, { rv: this.rv, type: 'DELETED', object: o, prev });
    return clone(o);
  }

  get(kind: Kind, namespace: string, name: string): KubeObject | undefined {
    const o = this.stores[kind].objects.get(`${namespace}/${name}`);
    return o && clone(o);
  }

  list(kind: Kind): KubeObject[] {
    return [...this.sorted(this.stores[kind].objects)].map(clone);
  }

  // ----- watch control

  /** Sends BOOKMARK (current RV) to open watches that asked for bookmarks. Returns how many got one. */
  bookmark(kind?: Kind): number {
    let n = 0;
    for (const w of this.watchers) {
      if (w.closed || !w.bookmarks || (kind && w.kind !== kind)) continue;
      this.send(w, 'BOOKMARK', this.bookmarkObject(w.kind));
      n++;
    }
    return n;
  }

  /**
   * Forgets history up to `upTo` (default: now) for every kind, as an etcd
   * compaction / watch-cache window roll-over: watches from an older RV get a
   * 410 ERROR event, continue tokens from an older RV get HTTP 410.
   */
  compact(upTo: number | string = this.rv): void {
    const rv = Number(upTo);
    for (const kind of KINDS) {
      const s = this.stores[kind];
      s.history = s.history.filter((e) => e.rv > rv);
      s.minRV = Math.max(s.minRV, rv);
    }
  }

  /**
   * Ends open watch connections. Default: abruptly (socket destroyed, no
   * terminating chunk) like a load balancer reset; graceful: true ends the
   * chunked stream cleanly, like the server's own watch timeout.
   * Returns how many were closed.
   */
  dropWatches(opts: { kind?: Kind; graceful?: boolean } = {}): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      if (opts.kind && w.kind !== opts.kind) continue;
      this.closeWatcher(w, opts.graceful ?? false);
      n++;
    }
    return n;
  }

  /** Open watch connections (optionally of one kind). */
  openWatches(kind?: Kind): number {
    let n = 0;
    for (const w of this.watchers) if (!w.closed && (!kind || w.kind === kind)) n++;
    return n;
  }

  // ----- failure injection

  /**
   * Takes the API server "down" or back up. While down, requests get `mode`:
   * '503' (HTTP 503 Status), 'destroy' (socket destroyed after the request is
   * read) or 'refuse' (listener closed: ECONNREFUSED; reopened on the same
   * port by setDown(false)). Open watches are dropped abruptly unless
   * dropWatches: false.
   */
  async setDown(down: boolean, opts: { mode?: FailMode; dropWatches?: boolean } = {}): Promise<void> {
    if (down) {
      const mode = opts.mode ?? this.opts.downMode;
      const wasRefusing = this.down?.mode === 'refuse';
      this.down = { mode };
      if (opts.dropWatches ?? true) this.dropWatches();
      if (mode === 'refuse' && !wasRefusing && this.server?.listening) {
        // Stops accepting (new connections: ECONNREFUSED); kept-alive sockets get 'destroy' above.
        this.server.close();
        this.server.closeIdleConnections();
      }
    } else {
      const wasRefusing = this.down?.mode === 'refuse';
      this.down = undefined;
      if (wasRefusing && this.server && !this.server.listening) await this.listen(this.port);
    }
  }

  get isDown(): boolean {
    return this.down !== undefined;
  }

  /**
   * Fails the next `count` matching requests: mode '503' / a status code (HTTP
   * error with a Status body) or 'destroy' (socket destroyed). Filter by verb
   * ('list' | 'watch' | 'get') and kind.
   */
  failNext(count: number, opts: { mode?: '503' | 'destroy' | number; verb?: Verb; kind?: Kind } = {}): void {
    this.injected.push({ remaining: count, mode: opts.mode ?? '503', verb: opts.verb, kind: opts.kind });
  }

  // ----- helpers for assertions

  /** Requests of one verb (and kind), in order. */
  requestsOf(verb: Verb, kind?: Kind): RequestRecord[] {
    return this.requests.filter((r) => r.verb === verb && (!kind || r.kind === kind));
  }

  /** Resolves once `n` watches (of `kind`) are open. */
  waitForWatches(n = 1, kind?: Kind, timeoutMs = 5000): Promise<void> {
    return waitFor(() => this.openWatches(kind) >= n, timeoutMs, `${n} open ${kind ?? ''} watch(es), have ${this.openWatches(kind)}`);
  }

  // ----- internals

  private async listen(port: number): Promise<void> {
    const server = this.server!;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
  }

  private normalize(kind: Kind, obj: KubeObject): KubeObject {
    const o = clone(obj);
    if (!o.metadata?.name) throw new Error(`${kind}: metadata.name is required`);
    o.apiVersion = INFO[kind].apiVersion;
    o.kind = INFO[kind].kind;
    o.metadata.namespace ??= 'default';
    o.metadata.uid ??= randomUUID();
    o.metadata.creationTimestamp ??= nowStamp();
    return o;
  }

  private *sorted(objects: Map<string, KubeObject>): Iterable<KubeObject> {
    for (const k of [...objects.keys()].sort()) yield objects.get(k)!;
  }

  private record(kind: Kind, e: HistoryEntry): void {
    const s = this.stores[kind];
    s.history.push(e);
    while (s.history.length > this.opts.historyLimit) s.minRV = s.history.shift()!.rv;
    for (const w of this.watchers) if (w.kind === kind && !w.closed) this.deliver(w, e);
  }

  /** The watch cache's per-watcher event conversion, selectors and namespace included. */
  private deliver(w: Watcher, e: HistoryEntry): void {
    if (e.rv <= w.fromRV) return;
    const matches = (o: KubeObject | undefined) =>
      o !== undefined && (w.namespace === undefined || o.metadata.namespace === w.namespace) && w.match(o);
    const now = matches(e.object);
    const before = matches(e.prev);
    if (e.type === 'ADDED') {
      if (now) this.send(w, 'ADDED', e.object);
    } else if (e.type === 'DELETED') {
      if (before) this.send(w, 'DELETED', e.object);
    } else if (now && before) this.send(w, 'MODIFIED', e.object);
    else if (now) this.send(w, 'ADDED', e.object);
    else if (before) {
      const old = clone(e.prev!);
      old.metadata.resourceVersion = String(e.rv);
      this.send(w, 'DELETED', old);
    }
  }

  private send(w: Watcher, type: WatchEventType, object: unknown): void {
    if (w.closed) return;
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private bookmarkObject(kind: Kind, annotations?: Record<string, string>): KubeObject {
    const meta: ObjectMeta = { resourceVersion: String(this.rv) } as ObjectMeta;
    if (annotations) meta.annotations = annotations;
    return { kind: INFO[kind].kind, apiVersion: INFO[kind].apiVersion, metadata: meta };
  }

  private closeWatcher(w: Watcher, graceful: boolean): void {
    if (w.closed) return;
    w.closed = true;
    for (const t of w.timers) clearTimeout(t);
    this.watchers.delete(w);
    if (graceful) w.res.end();
    else w.res.socket?.destroy();
  }

  /** State of a kind as of resourceVersion `rv`, rebuilt from current state and history. */
  private snapshot(kind: Kind, rv: number): Map<string, KubeObject> | undefined {
    const s = this.stores[kind];
    if (rv < s.minRV) return undefined;
    const m = new Map(s.objects);
    for (let i = s.history.length - 1; i >= 0 && s.history[i]!.rv > rv; i--) {
      const e = s.history[i]!;
      const key = keyOf(e.object);
      if (e.type === 'ADDED') m.delete(key);
      else m.set(key, e.prev!);
    }
    return m;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    const r = route(url.pathname);
    const method = req.method ?? 'GET';
    const verb: Verb = !r || method !== 'GET' ? 'other' : r.name !== undefined ? 'get' : truthy(query.watch) ? 'watch' : 'list';
    const rec: RequestRecord = {
      method,
      path: url.pathname,
      query,
      headers: req.headers,
      time: performance.now(),
      kind: r?.kind,
      namespace: r?.namespace,
      verb,
    };
    this.requests.push(rec);

    const fail = (mode: '503' | 'destroy' | number): void => {
      if (mode === 'destroy') {
        rec.outcome = 'destroyed';
        req.socket.destroy();
        return;
      }
      const code = mode === '503' ? 503 : mode;
      const reason = code === 503 ? 'ServiceUnavailable' : code === 429 ? 'TooManyRequests' : code === 410 ? 'Expired' : code >= 500 ? 'InternalError' : 'BadRequest';
      this.json(res, rec, code, status(code, reason, code === 503 ? 'the server is currently unable to handle the request' : `injected failure (${code})`));
    };
    if (this.down) return fail(this.down.mode === 'refuse' ? 'destroy' : this.down.mode);
    const inj = this.injected.find((i) => i.remaining > 0 && (!i.verb || i.verb === verb) && (!i.kind || i.kind === r?.kind));
    if (inj) {
      inj.remaining--;
      this.injected = this.injected.filter((i) => i.remaining > 0);
      return fail(inj.mode);
    }

    try {
      if (method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez')) {
        rec.outcome = 200;
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ok');
        return;
      }
      if (method === 'GET' && url.pathname === '/version') {
        return this.json(res, rec, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0', platform: 'linux/amd64' });
      }
      if (!r) throw new HttpError(status(404, 'NotFound', 'the server could not find the requested resource', { details: {} }));
      if (method !== 'GET') throw new HttpError(status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, { details: {} }));
      if (verb === 'get') return this.serveGet(res, rec, r);
      if (verb === 'watch') return this.serveWatch(req, res, rec, r, query);
      return this.serveList(res, rec, r, query);
    } catch (err) {
      if (err instanceof HttpError) return this.json(res, rec, err.body.code, err.body);
      throw err;
    }
  }

  private json(res: ServerResponse, rec: RequestRecord, code: number, body: unknown): void {
    const data = JSON.stringify(body);
    rec.outcome = code;
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(data),
      'Cache-Control': 'no-cache, private',
    });
    res.end(data);
  }

  private serveGet(res: ServerResponse, rec: RequestRecord, r: Route): void {
    this.counts.get[r.kind]++;
    const o = this.stores[r.kind].objects.get(`${r.namespace}/${r.name}`);
    if (!o) throw new HttpError(status(404, 'NotFound', `${r.kind} "${r.name}" not found`, { details: { name: r.name, kind: r.kind } }));
    this.json(res, rec, 200, o);
  }

  private serveList(res: ServerResponse, rec: RequestRecord, r: Route, q: Record<string, string>): void {
    this.counts.list[r.kind]++;
    const info = INFO[r.kind];
    const field = parseFieldSelector(r.kind, q.fieldSelector);
    const label = parseLabelSelector(q.labelSelector);
    const limit = q.limit !== undefined ? Number(q.limit) : 0;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`invalid limit: ${q.limit}`);

    let rv = this.rv;
    let start = '';
    if (q.continue) {
      const tok = decodeContinue(q.continue);
      if (tok.rv < this.stores[r.kind].minRV) {
        const fresh = encodeContinue(this.rv, tok.start.replace(/\u0000$/, ''));
        throw new HttpError(status(410, 'Expired', CONTINUE_EXPIRED_MESSAGE, { metadata: { continue: fresh } }));
      }
      rv = tok.rv;
      start = tok.start;
    } else if (q.resourceVersion && q.resourceVersionMatch === 'Exact') {
      if (!/^\d+$/.test(q.resourceVersion)) throw badRequest(`invalid resource version "${q.resourceVersion}"`);
      rv = Number(q.resourceVersion);
      if (rv > this.rv) throw new HttpError(status(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.rv}`));
      if (rv < this.stores[r.kind].minRV) {
        throw new HttpError(status(410, 'Expired', `too old resource version: ${rv} (${this.stores[r.kind].minRV})`));
      }
    }
    const objects = rv === this.rv ? this.stores[r.kind].objects : this.snapshot(r.kind, rv)!;
    const all = [...this.sorted(objects)].filter(
      (o) => (r.namespace === undefined || o.metadata.namespace === r.namespace) && field(o) && label(o) && (!start || keyOf(o) >= start),
    );
    const page = limit > 0 ? all.slice(0, limit) : all;
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && all.length > limit) {
      metadata.continue = encodeContinue(rv, keyOf(page[page.length - 1]!));
      if (!q.fieldSelector && !q.labelSelector) metadata.remainingItemCount = all.length - limit;
    }
    const items = page.map((o) => {
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    });
    this.json(res, rec, 200, { kind: info.listKind, apiVersion: info.apiVersion, metadata, items });
  }

  private serveWatch(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, r: Route, q: Record<string, string>): void {
    this.counts.watch[r.kind]++;
    const field = parseFieldSelector(r.kind, q.fieldSelector);
    const label = parseLabelSelector(q.labelSelector);
    const rvParam = q.resourceVersion ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version "${rvParam}"`);
    const timeoutS = q.timeoutSeconds !== undefined ? Number(q.timeoutSeconds) : undefined;
    if (timeoutS !== undefined && !(timeoutS >= 0)) throw badRequest(`invalid timeoutSeconds: ${q.timeoutSeconds}`);

    rec.outcome = 200;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);

    const store = this.stores[r.kind];
    const initial = rvParam === '' || rvParam === '0' || truthy(q.sendInitialEvents);
    const fromRV = initial ? this.rv : Number(rvParam);
    const w: Watcher = {
      kind: r.kind,
      namespace: r.namespace,
      match: (o) => field(o) && label(o),
      bookmarks: truthy(q.allowWatchBookmarks),
      fromRV,
      req,
      res,
      timers: [],
      closed: false,
    };
    res.on('close', () => {
      w.closed = true;
      for (const t of w.timers) clearTimeout(t);
      this.watchers.delete(w);
    });

    if (!initial && fromRV < store.minRV) {
      const body = status(410, 'Expired', `too old resource version: ${fromRV} (${store.minRV})`);
      res.end(JSON.stringify({ type: 'ERROR', object: body }) + '\n');
      w.closed = true;
      return;
    }

    this.watchers.add(w);
    if (initial) {
      for (const o of this.sorted(store.objects)) {
        if ((w.namespace === undefined || o.metadata.namespace === w.namespace) && w.match(o)) this.send(w, 'ADDED', o);
      }
      if (truthy(q.sendInitialEvents) && w.bookmarks) {
        this.send(w, 'BOOKMARK', this.bookmarkObject(r.kind, { 'k8s.io/initial-events-end': 'true' }));
      }
    } else {
      for (const e of store.history) if (e.rv > fromRV) this.deliver(w, e);
      if (fromRV > this.rv) {
        w.timers.push(
          setTimeout(() => {
            if (w.closed || this.rv >= fromRV) return;
            const body = status(504, 'Timeout', `Too large resource version: ${fromRV}, current: ${this.rv}`, {
              details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
            });
            this.send(w, 'ERROR', body);
            this.closeWatcher(w, true);
          }, this.opts.tooLargeWaitMs),
        );
      }
    }
    if (timeoutS !== undefined && timeoutS > 0) {
      w.timers.push(setTimeout(() => this.closeWatcher(w, true), timeoutS * 1000));
    }
  }
}

// ---------------------------------------------------------------------------
// Object builders

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
  if ('metadata' in o) {
    return {
      apiVersion: o.apiVersion ?? 'v1',
      kind: o.kind ?? '',
      name: o.metadata.name,
      uid: o.metadata.uid ?? randomUUID(),
      controller: true,
      blockOwnerDeletion: true,
    };
  }
  return {
    apiVersion: o.apiVersion ?? OWNER_API[o.kind] ?? 'v1',
    kind: o.kind,
    name: o.name,
    uid: o.uid ?? randomUUID(),
    controller: o.controller ?? true,
    blockOwnerDeletion: true,
  };
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
  const metadata: ObjectMeta = {
    name: p.name,
    namespace: p.namespace ?? 'default',
    uid: p.uid ?? randomUUID(),
    creationTimestamp: created,
    labels,
  };
  if (owners.length) metadata.ownerReferences = owners;
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
  const metadata: ObjectMeta = {
    name: p.name,
    namespace: p.namespace ?? 'default',
    uid: p.uid ?? randomUUID(),
    creationTimestamp: nowStamp(),
    generation: 1,
    labels,
    annotations: { 'deployment.kubernetes.io/revision': '1' },
  };
  if (p.owner) metadata.ownerReferences = [ownerRef(p.owner)];
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
  const metadata: ObjectMeta = { name: p.name, namespace: p.namespace ?? 'default', uid, creationTimestamp: created, generation: 1, labels };
  if (p.owner) metadata.ownerReferences = [ownerRef(p.owner)];
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

// ---------------------------------------------------------------------------
// kubeconfig

const CTX = 'kubeapi-test';

/**
 * A kubeconfig (YAML) pointing at `url` over plain http with no credentials.
 * `insecure-skip-tls-verify: true` is required: @kubernetes/client-node 1.x
 * refuses an http:// server without it ("HTTP protocol is not allowed when
 * skipTLSVerify is not set or false").
 */
export function kubeconfig(url: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${CTX}`,
    '  cluster:',
    `    server: ${url}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${CTX}`,
    '  user: {}',
    'contexts:',
    `- name: ${CTX}`,
    '  context:',
    `    cluster: ${CTX}`,
    `    user: ${CTX}`,
    `    namespace: ${namespace}`,
    `current-context: ${CTX}`,
    '',
  ].join('\n');
}

/** The same as an object for `new KubeConfig().loadFromOptions(...)`. */
export function kubeconfigOptions(url: string, namespace = 'default') {
  return {
    clusters: [{ name: CTX, server: url, skipTLSVerify: true }],
    users: [{ name: CTX }],
    contexts: [{ name: CTX, cluster: CTX, user: CTX, namespace }],
    currentContext: CTX,
  };
}

// ---------------------------------------------------------------------------
// misc

/** Polls `pred` every 5 ms until true; rejects after timeoutMs. */
export async function waitFor(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
