/**
 * The agent's configuration: the options of config/options.ts, their
 * defaults, a YAML file or the flags applied over them key by key, and the
 * checks across options. Every error is a ConfigError with one line naming
 * the option, at start, never later.
 */
import { ConfigError } from './errors.js';
import { defaultConfig, OPTIONS, type Config, type Group, type Option, type Tree } from './config/options.js';

export { parseDuration, parseListen } from './config/parsers.js';
export { BUCKET_SPACINGS, CONN_LOG_GROUPS, HOOK_FAMILIES, ROLLUPS } from './config/options.js';
export type { BucketSpacing, Config, ConnLogGroup, HookFamily, RollupLevel } from './config/options.js';

export const defaults: Readonly<Config> = defaultConfig();

export type Raw = Record<string, unknown>;

export function obj(what: string, v: unknown): Raw {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${what}: expected a mapping`);
  return v as Raw;
}

/** Applies a raw (file) object over base, each key parsed by its option; where names the source in errors. */
export function applyRaw(base: Config, raw: Raw, where: string): Config {
  const c = structuredClone(base);
  applyTree(OPTIONS, c as unknown as Raw, raw, where, '');
  return c;
}

function applyTree(tree: Tree, into: Raw, raw: Raw, where: string, prefix: string): void {
  const byFile = new Map(Object.entries(tree).map(([key, o]) => [o.kind === 'group' ? key : (o.file ?? key), { key, o }]));
  for (const [k, v] of Object.entries(raw)) {
    const entry = byFile.get(k);
    const at = `${where}${prefix}${k}`;
    if (!entry) throw new ConfigError(`${prefix ? where + prefix.slice(0, -1) : where || 'config'}: unknown key ${JSON.stringify(k)} (known: ${[...byFile.keys()].join(', ')})`);
    if (entry.o.kind === 'group') applyTree((entry.o as Group<Tree>).options, into[entry.key] as Raw, obj(at, v), where, `${prefix}${k}.`);
    else into[entry.key] = (entry.o as Option<unknown>).parser.parse(at, v);
  }
}

/** Checks across options, once everything is merged. */
export function validate(c: Config): Config {
  if (c.interfaces.length === 0) throw new ConfigError('no interface given: use --interface NAME (or interfaces: in the config file)');
  if (c.kubernetes.enabled) {
    c.kubernetes.nodeName ||= process.env.NODE_NAME ?? '';
    if (!c.kubernetes.nodeName) throw new ConfigError('kubernetes.nodeName: empty and $NODE_NAME is not set: the agent must know its node');
  }
  return c;
}
