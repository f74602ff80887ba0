/**
 * WATCH (watch=true|1): 200, chunked application/json, one
 * `{"type","object"}` JSON per line. resourceVersion=N replays history after
 * N then streams live events; no resourceVersion or "0" (or
 * sendInitialEvents=true) first sends synthetic ADDED events for the current
 * objects. Selectors are applied per event the way the watch cache does: an
 * object that stops matching is sent as DELETED, one that starts matching as
 * ADDED. An RV older than the retained history gets a single ERROR event with
 * a 410 Expired Status and the stream ends (HTTP status stays 200); one newer
 * than the current RV waits for it, else gets a 504 ERROR. BOOKMARK events go
 * only to watches with allowWatchBookmarks=true. timeoutSeconds ends the
 * stream cleanly (terminating chunk); drop() ends streams abruptly.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INFO, type Route } from './kinds.js';
import { selector, type Predicate } from './selectors.js';
import { badRequest, parseResourceVersion, tooLarge, tooOld } from './status.js';
import { clone, type HistoryEntry, type ObjectStore } from './store.js';
import type { Kind, KubeObject, ObjectMeta, RequestRecord, WatchEventType } from './types.js';

interface Watcher {
  kind: Kind;
  /** Namespace and selectors of the request. */
  match: Predicate;
  bookmarks: boolean;
  /** RV the client asked for; events at or below it are not sent. */
  fromRV: number;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
  closed: boolean;
}

export const truthy = (v: string | undefined) => v === 'true' || v === '1';

export class WatchHub {
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly store: ObjectStore,
    /** How long a watch from a future RV waits before its 504 ERROR. */
    private readonly tooLargeWaitMs: number,
  ) {}

  /** Serves a watch request; throws HttpError (before anything is sent) for a bad query. */
  open(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, r: Route, q: Record<string, string>): void {
    const match = selector(r.kind, r.namespace, q);
    const rvParam = q.resourceVersion ?? '';
    if (rvParam !== '') parseResourceVersion(rvParam);
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

    const store = this.store;
    const initial = rvParam === '' || rvParam === '0' || truthy(q.sendInitialEvents);
    const fromRV = initial ? store.rv : Number(rvParam);
    const w: Watcher = { kind: r.kind, match, bookmarks: truthy(q.allowWatchBookmarks), fromRV, res, timers: [], closed: false };
    res.on('close', () => {
      w.closed = true;
      for (const t of w.timers) clearTimeout(t);
      this.watchers.delete(w);
    });

    if (!initial && fromRV < store.minRV(r.kind)) {
      res.end(JSON.stringify({ type: 'ERROR', object: tooOld(fromRV, store.minRV(r.kind)) }) + '\n');
      w.closed = true;
      return;
    }

    this.watchers.add(w);
    if (initial) {
      for (const o of store.objects(r.kind)) if (w.match(o)) this.send(w, 'ADDED', o);
      if (truthy(q.sendInitialEvents) && w.bookmarks) {
        this.send(w, 'BOOKMARK', this.bookmarkObject(r.kind, { 'k8s.io/initial-events-end': 'true' }));
      }
    } else {
      for (const e of store.history(r.kind)) if (e.rv > fromRV) this.deliver(w, e);
      if (fromRV > store.rv) {
        w.timers.push(
          setTimeout(() => {
            if (w.closed || store.rv >= fromRV) return;
            const body = tooLarge(fromRV, store.rv, {
              details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
            });
            this.send(w, 'ERROR', body);
            this.close(w, true);
          }, this.tooLargeWaitMs),
        );
      }
    }
    if (timeoutS !== undefined && timeoutS > 0) {
      w.timers.push(setTimeout(() => this.close(w, true), timeoutS * 1000));
    }
  }

  /** Passes a stored event on to the open watches of its kind. */
  publish(kind: Kind, e: HistoryEntry): void {
    for (const w of this.watchers) if (w.kind === kind && !w.closed) this.deliver(w, e);
  }

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

  /** Ends open watches (of `kind`): abruptly (socket destroyed) or gracefully (terminating chunk). Returns how many. */
  drop(kind: Kind | undefined, graceful: boolean): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      if (kind && w.kind !== kind) continue;
      this.close(w, graceful);
      n++;
    }
    return n;
  }

  /** Open watch connections (optionally of one kind). */
  count(kind?: Kind): number {
    let n = 0;
    for (const w of this.watchers) if (!w.closed && (!kind || w.kind === kind)) n++;
    return n;
  }

  /** The watch cache's per-watcher event conversion, selectors and namespace included. */
  private deliver(w: Watcher, e: HistoryEntry): void {
    if (e.rv <= w.fromRV) return;
    const matches = (o: KubeObject | undefined) => o !== undefined && w.match(o);
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
    const meta: ObjectMeta = { resourceVersion: String(this.store.rv) } as ObjectMeta;
    if (annotations) meta.annotations = annotations;
    return { kind: INFO[kind].kind, apiVersion: INFO[kind].apiVersion, metadata: meta };
  }

  private close(w: Watcher, graceful: boolean): void {
    if (w.closed) return;
    w.closed = true;
    for (const t of w.timers) clearTimeout(t);
    this.watchers.delete(w);
    if (graceful) w.res.end();
    else w.res.socket?.destroy();
  }
}
