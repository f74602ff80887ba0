/**
 * The objects, as etcd and the watch cache keep them: one global,
 * monotonically increasing resourceVersion across kinds, stamped on every
 * write (a DELETED event carries the RV of the deletion); per kind, the
 * current objects and the history of events, bounded by historyLimit and by
 * compaction; the state as of an older RV rebuilt from that history.
 */
import { randomUUID } from 'node:crypto';
import { INFO, KINDS, perKind } from './kinds.js';
import type { Kind, KubeObject } from './types.js';

export interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  prev?: KubeObject;
}

interface KindStore {
  objects: Map<string, KubeObject>;
  history: HistoryEntry[];
  /** Oldest RV a watch may start from (all events after it are retained). */
  minRV: number;
}

export const clone = <T>(v: T): T => structuredClone(v);
/** An object's key: namespace/name (the order lists are in, as etcd keys are). */
export const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
/** Now as metadata timestamps have it: RFC 3339, whole seconds. */
export const nowStamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class ObjectStore {
  /** Current (latest handed out) resourceVersion. */
  rv: number;
  private readonly kinds: Record<Kind, KindStore>;

  /** `onEvent` hears every write, after it is stored. */
  constructor(
    initialResourceVersion: number,
    private readonly historyLimit: number,
    private readonly onEvent: (kind: Kind, e: HistoryEntry) => void,
  ) {
    this.rv = initialResourceVersion;
    this.kinds = perKind(() => ({ objects: new Map(), history: [], minRV: this.rv }));
  }

  add(kind: Kind, obj: KubeObject): KubeObject {
    const o = this.normalize(kind, obj);
    const key = keyOf(o);
    const store = this.kinds[kind];
    if (store.objects.has(key)) throw new Error(`${kind} "${key}" already exists`);
    o.metadata.resourceVersion = String(++this.rv);
    store.objects.set(key, o);
    this.record(kind, { rv: this.rv, type: 'ADDED', object: o });
    return clone(o);
  }

  modify(kind: Kind, obj: KubeObject): KubeObject {
    const o = this.normalize(kind, obj);
    const key = keyOf(o);
    const store = this.kinds[kind];
    const prev = store.objects.get(key);
    if (!prev) throw new Error(`${kind} "${key}" not found`);
    if (!obj.metadata.uid) o.metadata.uid = prev.metadata.uid;
    if (!obj.metadata.creationTimestamp) o.metadata.creationTimestamp = prev.metadata.creationTimestamp;
    o.metadata.resourceVersion = String(++this.rv);
    store.objects.set(key, o);
    this.record(kind, { rv: this.rv, type: 'MODIFIED', object: o, prev });
    return clone(o);
  }

  delete(kind: Kind, namespace: string, name: string): KubeObject {
    const store = this.kinds[kind];
    const key = `${namespace}/${name}`;
    const prev = store.objects.get(key);
    if (!prev) throw new Error(`${kind} "${key}" not found`);
    const o = clone(prev);
    o.metadata.resourceVersion = String(++this.rv);
    store.objects.delete(key);
    this.record(kind, { rv: this.rv, type: 'DELETED', object: o, prev });
    return clone(o);
  }

  /** The stored object itself (not a copy), if any. */
  stored(kind: Kind, namespace: string | undefined, name: string | undefined): KubeObject | undefined {
    return this.kinds[kind].objects.get(`${namespace}/${name}`);
  }

  /** The current objects of a kind in key order (not copies). */
  *objects(kind: Kind): Iterable<KubeObject> {
    yield* sorted(this.kinds[kind].objects);
  }

  /** The retained events of a kind, oldest first. */
  history(kind: Kind): readonly HistoryEntry[] {
    return this.kinds[kind].history;
  }

  /** Oldest RV of a kind that a watch or a consistent list may start from. */
  minRV(kind: Kind): number {
    return this.kinds[kind].minRV;
  }

  /** Forgets history up to `rv` for every kind (an etcd compaction). */
  compact(rv: number): void {
    for (const kind of KINDS) {
      const s = this.kinds[kind];
      s.history = s.history.filter((e) => e.rv > rv);
      s.minRV = Math.max(s.minRV, rv);
    }
  }

  /** The objects of a kind as of resourceVersion `rv` in key order, rebuilt from current state and history. */
  snapshot(kind: Kind, rv: number): Iterable<KubeObject> {
    const s = this.kinds[kind];
    if (rv === this.rv) return sorted(s.objects);
    const m = new Map(s.objects);
    for (let i = s.history.length - 1; i >= 0 && s.history[i]!.rv > rv; i--) {
      const e = s.history[i]!;
      const key = keyOf(e.object);
      if (e.type === 'ADDED') m.delete(key);
      else m.set(key, e.prev!);
    }
    return sorted(m);
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

  private record(kind: Kind, e: HistoryEntry): void {
    const s = this.kinds[kind];
    s.history.push(e);
    while (s.history.length > this.historyLimit) s.minRV = s.history.shift()!.rv;
    this.onEvent(kind, e);
  }
}

function* sorted(objects: Map<string, KubeObject>): Iterable<KubeObject> {
  for (const k of [...objects.keys()].sort()) yield objects.get(k)!;
}
