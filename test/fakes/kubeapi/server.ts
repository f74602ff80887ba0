/**
 * The HTTP server: routing to get/list/watch, /version and the health
 * endpoints, the request log, failure modes (down, injected failures),
 * lifecycle, and the control methods tests mutate objects and watches with.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { listen, urlHost } from '../net.js';
import { pollUntil } from '../poll.js';
import { perKind, route, type Route } from './kinds.js';
import { listBody } from './list.js';
import { HttpError, status } from './status.js';
import { clone, ObjectStore } from './store.js';
import type { FailMode, Kind, KubeApiServerOptions, KubeObject, RequestRecord, Verb } from './types.js';
import { truthy, WatchHub } from './watch.js';

interface Injected {
  remaining: number;
  mode: '503' | 'destroy' | number;
  verb?: Verb;
  kind?: Kind;
}

export class KubeApiServer {
  /** Every request received, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** Requests that reached the list/watch/get handlers (not refused by setDown or failNext), per kind. */
  readonly counts: Record<'list' | 'watch' | 'get', Record<Kind, number>> = { list: perKind(() => 0), watch: perKind(() => 0), get: perKind(() => 0) };

  private readonly opts: Required<Omit<KubeApiServerOptions, 'bookmarkIntervalMs' | 'port' | 'host'>> & KubeApiServerOptions;
  private server: Server | undefined;
  private port = 0;
  private readonly store: ObjectStore;
  private readonly watches: WatchHub;
  private readonly sockets = new Set<Socket>();
  private down: { mode: FailMode } | undefined;
  private injected: Injected[] = [];
  private bookmarkTimer: NodeJS.Timeout | undefined;

  constructor(options: KubeApiServerOptions = {}) {
    this.opts = { historyLimit: 1000, initialResourceVersion: 1000, downMode: '503', tooLargeWaitMs: 3000, ...options };
    this.store = new ObjectStore(this.opts.initialResourceVersion, this.opts.historyLimit, (kind, e) => this.watches.publish(kind, e));
    this.watches = new WatchHub(this.store, this.opts.tooLargeWaitMs);
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
    this.watches.drop(undefined, false);
    for (const s of this.sockets) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  }

  get url(): string {
    if (!this.server) throw new Error('KubeApiServer not started');
    return `http://${urlHost(this.host)}:${this.port}`;
  }

  /** Current (latest handed out) resourceVersion, as the string clients see. */
  get resourceVersion(): string {
    return String(this.store.rv);
  }

  // ----- mutations (each bumps the global RV and notifies watches)

  /** Adds an object; fills apiVersion/kind/namespace/uid/creationTimestamp if missing. Returns the stored copy. */
  add(kind: Kind, obj: KubeObject): KubeObject {
    return this.store.add(kind, obj);
  }

  /** Replaces an existing object (matched by namespace/name); uid and creationTimestamp are kept if missing. */
  modify(kind: Kind, obj: KubeObject): KubeObject {
    return this.store.modify(kind, obj);
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
    return this.store.delete(kind, namespace, name);
  }

  get(kind: Kind, namespace: string, name: string): KubeObject | undefined {
    const o = this.store.stored(kind, namespace, name);
    return o && clone(o);
  }

  list(kind: Kind): KubeObject[] {
    return [...this.store.objects(kind)].map(clone);
  }

  // ----- watch control

  /** Sends BOOKMARK (current RV) to open watches that asked for bookmarks. Returns how many got one. */
  bookmark(kind?: Kind): number {
    return this.watches.bookmark(kind);
  }

  /**
   * Forgets history up to `upTo` (default: now) for every kind, as an etcd
   * compaction / watch-cache window roll-over: watches from an older RV get a
   * 410 ERROR event, continue tokens from an older RV get HTTP 410.
   */
  compact(upTo: number | string = this.store.rv): void {
    this.store.compact(Number(upTo));
  }

  /**
   * Ends open watch connections. Default: abruptly (socket destroyed, no
   * terminating chunk) like a load balancer reset; graceful: true ends the
   * chunked stream cleanly, like the server's own watch timeout.
   * Returns how many were closed.
   */
  dropWatches(opts: { kind?: Kind; graceful?: boolean } = {}): number {
    return this.watches.drop(opts.kind, opts.graceful ?? false);
  }

  /** Open watch connections (optionally of one kind). */
  openWatches(kind?: Kind): number {
    return this.watches.count(kind);
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
    const wasRefusing = this.down?.mode === 'refuse';
    if (down) {
      const mode = opts.mode ?? this.opts.downMode;
      this.down = { mode };
      if (opts.dropWatches ?? true) this.dropWatches();
      if (mode === 'refuse' && !wasRefusing && this.server?.listening) {
        // Stops accepting (new connections: ECONNREFUSED); kept-alive sockets get 'destroy' above.
        this.server.close();
        this.server.closeIdleConnections();
      }
    } else {
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

  private get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  private async listen(port: number): Promise<void> {
    this.port = await listen(this.server!, port, this.host);
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
      this.counts[verb === 'watch' ? 'watch' : 'list'][r.kind]++;
      if (verb === 'watch') return this.watches.open(req, res, rec, r, query);
      return this.json(res, rec, 200, listBody(this.store, r, query));
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
    const o = this.store.stored(r.kind, r.namespace, r.name);
    if (!o) throw new HttpError(status(404, 'NotFound', `${r.kind} "${r.name}" not found`, { details: { name: r.name, kind: r.kind } }));
    this.json(res, rec, 200, o);
  }
}

/** Polls `pred` every 5 ms until true; rejects after timeoutMs. */
export function waitFor(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  return pollUntil(pred, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${what}`);
}
