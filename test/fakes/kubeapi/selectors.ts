/**
 * fieldSelector and labelSelector, as the API server parses them (HTTP 400
 * on what it cannot), and the namespace of a namespaced path: together, what
 * decides whether a list or a watch includes an object.
 */
import { INFO } from './kinds.js';
import { badRequest } from './status.js';
import type { Kind, KubeObject } from './types.js';

export type Predicate = (o: KubeObject) => boolean;

/** The objects a request for `namespace` (all if undefined) with these selectors sees. */
export function selector(kind: Kind, namespace: string | undefined, q: Record<string, string>): Predicate {
  const field = parseFieldSelector(kind, q.fieldSelector);
  const label = parseLabelSelector(q.labelSelector);
  return (o) => (namespace === undefined || o.metadata.namespace === namespace) && field(o) && label(o);
}

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
