/**
 * List, then watch from the list's resourceVersion; on a clean end resume
 * from the last resourceVersion seen (events and bookmarks advance it); on
 * 410 Gone list again; on errors back off exponentially (with jitter) and
 * retry. Never gives up until stop(). The state stays what was last known
 * while the API server is away.
 */
import type { Watch } from '@kubernetes/client-node';
import type { Logger } from '../log.js';

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface ListPage<T> {
  metadata?: { resourceVersion?: string; _continue?: string };
  items: T[];
}

export interface ListWatchOptions<T extends KubeObject> {
  /** for logs and metrics: pods, replicasets, jobs */
  kind: string;
  /** the watch path, e.g. /api/v1/pods */
  path: string;
  list(page: { limit: number; _continue?: string }): Promise<ListPage<T>>;
  watch: Pick<Watch, 'watch'>;
  /** a complete list: replaces everything known */
  onSync(items: T[]): void;
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
  /** server-side watch timeout; the watch is then resumed */
  watchTimeoutSeconds?: number;
}

export interface ListWatchStats {
  lists: number;
  watches: number;
  expired: number;
  errors: number;
  synced: boolean;
}

const PAGE = 500;

export class ListWatch<T extends KubeObject> {
  private stopped = false;
  private rv: string | null = null;
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  readonly stats: ListWatchStats = { lists: 0, watches: 0, expired: 0, errors: 0, synced: false };
  private running: Promise<void> | null = null;

  constructor(private readonly o: ListWatchOptions<T>) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.running;
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = null;
  }

  private async relist(): Promise<string> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.o.list({ limit: PAGE, _continue: cont });
      items.push(...page.items);
      cont = page.metadata?._continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    this.stats.lists++;
    this.o.onSync(items);
    this.stats.synced = true;
    this.o.log.debug('listed', { kind: this.o.kind, items: items.length, resourceVersion: rv });
    return rv;
  }

  /** One watch; resolves when it ends: expired (410) or not, with the error if any. */
  private watchOnce(rv: string): Promise<{ expired: boolean; err: unknown; events: number }> {
    return new Promise((resolve) => {
      let expired = false;
      let events = 0;
      this.stats.watches++;
      const params = { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: this.o.watchTimeoutSeconds ?? 300 };
      void this.o.watch
        .watch(
          this.o.path,
          params,
          (type: string, obj: T & { code?: number }) => {
            if (type === 'ERROR') {
              if (obj.code === 410) expired = true;
              else this.o.log.warn('watch error event', { kind: this.o.kind, status: obj });
              return;
            }
            const next = obj.metadata?.resourceVersion;
            if (next) this.rv = next;
            events++;
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.o.onEvent(type, obj);
          },
          (err: unknown) => resolve({ expired, err, events }),
        )
        .then((ctl) => {
          this.abort = ctl;
          if (this.stopped) ctl.abort();
        });
    });
  }

  private async loop(): Promise<void> {
    const { initialMs, maxMs } = this.o.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    let backoff = initialMs;
    while (!this.stopped) {
      let failed: unknown = null;
      try {
        this.rv ??= await this.relist();
        const started = Date.now();
        const r = await this.watchOnce(this.rv);
        if (this.stopped) break;
        if (r.expired) {
          // our resourceVersion is older than the server keeps: list anew
          this.stats.expired++;
          this.o.log.info('watch expired (410), listing again', { kind: this.o.kind });
          this.rv = null;
          backoff = initialMs;
          continue;
        }
        if (r.err) failed = r.err;
        else if (Date.now() - started < 1000 && r.events === 0) failed = new Error('watch ended at once');
        else backoff = initialMs; // a clean end (timeout): resume from rv
      } catch (err) {
        failed = err;
      }
      if (failed && !this.stopped) {
        this.stats.errors++;
        const wait = backoff * (0.8 + Math.random() * 0.4);
        this.o.log.warn('list/watch failed, retrying', { kind: this.o.kind, error: failed, retryMs: Math.round(wait) });
        await this.sleep(wait);
        backoff = Math.min(backoff * 2, maxMs);
      }
    }
  }
}
