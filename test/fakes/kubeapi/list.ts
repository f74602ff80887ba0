/**
 * LIST: `{kind: PodList, apiVersion: v1, metadata: {resourceVersion}, items}`,
 * items without kind/apiVersion (as the real server encodes them), in
 * namespace/name order, filtered by the selectors; limit + continue served
 * from a consistent snapshot at the first page's RV (HTTP 410 Expired for a
 * continue token older than the retained history); resourceVersion +
 * resourceVersionMatch=Exact served from a snapshot too; any other
 * resourceVersion answered with the current state.
 */
import { INFO, type Route } from './kinds.js';
import { selector } from './selectors.js';
import { badRequest, CONTINUE_EXPIRED_MESSAGE, HttpError, parseResourceVersion, status, tooLarge, tooOld } from './status.js';
import { keyOf, type ObjectStore } from './store.js';

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

/** The body of a LIST of `r` with query `q`; throws HttpError for what the API server refuses. */
export function listBody(store: ObjectStore, r: Route, q: Record<string, string>): object {
  const info = INFO[r.kind];
  const match = selector(r.kind, r.namespace, q);
  const limit = q.limit !== undefined ? Number(q.limit) : 0;
  if (!Number.isInteger(limit) || limit < 0) throw badRequest(`invalid limit: ${q.limit}`);

  let rv = store.rv;
  let start = '';
  if (q.continue) {
    const tok = decodeContinue(q.continue);
    if (tok.rv < store.minRV(r.kind)) {
      const fresh = encodeContinue(store.rv, (tok.start.endsWith('\0') ? tok.start.slice(0, -1) : tok.start));
      throw new HttpError(status(410, 'Expired', CONTINUE_EXPIRED_MESSAGE, { metadata: { continue: fresh } }));
    }
    rv = tok.rv;
    start = tok.start;
  } else if (q.resourceVersion && q.resourceVersionMatch === 'Exact') {
    rv = parseResourceVersion(q.resourceVersion);
    if (rv > store.rv) throw new HttpError(tooLarge(rv, store.rv));
    if (rv < store.minRV(r.kind)) throw new HttpError(tooOld(rv, store.minRV(r.kind)));
  }
  const all = [...store.snapshot(r.kind, rv)].filter((o) => match(o) && (!start || keyOf(o) >= start));
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
  return { kind: info.listKind, apiVersion: info.apiVersion, metadata, items };
}
