/**
 * Parsers of option values: each takes what a YAML file or a flag gives,
 * returns the value or throws ConfigError with one line naming the option,
 * and says what it accepts as a JSON schema (checked against the chart's
 * values schema) and how a value is written back (for --help and README).
 */
import { ConfigError } from '../errors.js';

export interface Parser<T> {
  parse(what: string, v: unknown): T;
  /** JSON schema of the accepted config file value */
  readonly schema: Record<string, unknown>;
  /** a value as it would be written in a config file */
  show(v: T): string;
}

const json = (v: unknown) => JSON.stringify(v);

const durationRe = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(what: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000; // bare numbers are seconds
  if (v === '0') return 0;
  const m = typeof v === 'string' ? durationRe.exec(v.trim()) : null;
  if (!m) throw new ConfigError(`${what}: expected a duration like 250ms, 5s or 2m, got ${json(v)}`);
  return Number(m[1]) * unitMs[m[2]!]!;
}

function showDuration(ms: number): string {
  for (const [u, n] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= n && ms % n === 0) return `${ms / n}${u}`;
  return ms === 0 ? '0s' : `${ms}ms`;
}

/** A duration (250ms, 5s, 2m, 1h; a bare number is seconds), in ms, at least minMs. */
export function duration(minMs = 0): Parser<number> {
  return {
    parse(what, v) {
      const ms = parseDuration(what, v);
      if (ms < minMs) throw new ConfigError(`${what}: at least ${showDuration(minMs)}, got ${showDuration(ms)}`);
      return ms;
    },
    schema: {
      oneOf: [{ type: 'string', pattern: '^(0|\\d+(\\.\\d+)?(ms|s|m|h))$' }, { type: 'number', minimum: 0 }],
      description: 'duration: 250ms, 5s, 2m, 1h (a bare number is seconds)',
    },
    show: showDuration,
  };
}

export function integer(min: number, max: number): Parser<number> {
  return {
    parse(what, v) {
      const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        throw new ConfigError(`${what}: expected an integer from ${min} to ${max}, got ${json(v)}`);
      }
      return n;
    },
    schema: { type: 'integer', minimum: min, maximum: max },
    show: String,
  };
}

export function ratio(): Parser<number> {
  return {
    parse(what, v) {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !(n >= 0 && n <= 1)) throw new ConfigError(`${what}: expected a number from 0 to 1, got ${json(v)}`);
      return n;
    },
    schema: { type: 'number', minimum: 0, maximum: 1 },
    show: String,
  };
}

export function choice<const T extends string>(choices: readonly T[]): Parser<T> {
  return {
    parse(what, v) {
      if (typeof v !== 'string' || !choices.includes(v as T)) throw new ConfigError(`${what}: expected one of ${choices.join(', ')}, got ${json(v)}`);
      return v as T;
    },
    schema: { enum: [...choices] },
    show: (v) => (v === '' ? '""' : v),
  };
}

/** A comma-separated string (a flag) as its items; anything else as it is (a YAML value). */
const listOf = (v: unknown): unknown => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v);

/** A list of choices: a YAML sequence or a comma-separated string. */
export function choices<const T extends string>(all: readonly T[], opts: { minItems?: number } = {}): Parser<T[]> {
  const one = choice(all);
  return {
    parse(what, v) {
      const list = listOf(v);
      if (!Array.isArray(list)) throw new ConfigError(`${what}: expected a list of ${all.join(', ')}`);
      const out = list.map((x) => one.parse(what, x));
      if (new Set(out).size !== out.length) throw new ConfigError(`${what}: ${out.join(', ')} names one twice`);
      if (out.length < (opts.minItems ?? 0)) throw new ConfigError(`${what}: at least ${opts.minItems} of ${all.join(', ')}`);
      return out;
    },
    schema: { type: 'array', ...(opts.minItems ? { minItems: opts.minItems } : {}), uniqueItems: true, items: { enum: [...all] } },
    show: (v) => `[${v.join(', ')}]`,
  };
}

export function bool(): Parser<boolean> {
  return {
    parse(what, v) {
      if (typeof v === 'boolean') return v;
      throw new ConfigError(`${what}: expected true or false, got ${json(v)}`);
    },
    schema: { type: 'boolean' },
    show: String,
  };
}

/** A string; with url, empty or an http(s) URL. */
export function string(opts: { url?: boolean } = {}): Parser<string> {
  return {
    parse(what, v) {
      if (typeof v !== 'string') throw new ConfigError(`${what}: expected a string, got ${json(v)}`);
      const s = v.trim();
      if (opts.url && s && !/^https?:\/\/[^\s/]+/.test(s)) throw new ConfigError(`${what}: expected an http(s) URL, got ${json(s)}`);
      return s;
    },
    schema: opts.url ? { type: 'string', pattern: '^(|https?://[^\\s/]+.*)$' } : { type: 'string' },
    show: (v) => json(v),
  };
}

/** A path (of a what: file, directory), or null where off is allowed. */
export function path(what: string, nullable: true): Parser<string | null>;
export function path(what: string, nullable?: false): Parser<string>;
export function path(kind: string, nullable = false): Parser<string | null> {
  return {
    parse(what, v) {
      if (nullable && v === null) return null;
      if (typeof v !== 'string' || !v) throw new ConfigError(`${what}: expected a ${kind}${nullable ? ' or null' : ''}`);
      return v;
    },
    schema: nullable ? { oneOf: [{ type: 'null' }, { type: 'string', minLength: 1 }] } : { type: 'string', minLength: 1 },
    show: (v) => (v === null ? 'null' : v),
  };
}

/** A list of strings (or numbers, as strings): a YAML sequence or a comma-separated string. */
export function strings(): Parser<string[]> {
  return {
    parse(what, v) {
      const list = listOf(v);
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' || typeof x === 'number')) throw new ConfigError(`${what}: expected a list`);
      return list.map(String);
    },
    schema: { type: 'array', items: { type: ['string', 'number'] } },
    show: (v) => `[${v.map((x) => json(x)).join(', ')}]`,
  };
}

/** A list of TCP ports. */
export function ports(): Parser<number[]> {
  const list = strings();
  const port = integer(1, 65535);
  return {
    parse: (what, v) => list.parse(what, v).map((p) => port.parse(what, p)),
    schema: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 65535 } },
    show: (v) => `[${v.join(', ')}]`,
  };
}

export function parseListen(what: string, v: unknown): { host: string; port: number } {
  const m = typeof v === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v.trim()) : null;
  if (!m) throw new ConfigError(`${what}: expected HOST:PORT, [IPv6]:PORT or :PORT, got ${json(v)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${what}: port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** HOST:PORT, [IPv6]:PORT or :PORT (all addresses). */
export function listen(): Parser<{ host: string; port: number }> {
  return {
    parse: parseListen,
    schema: { type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\[\\]]*):\\d{1,5}$' },
    show: (v) => (v.host.includes(':') ? `[${v.host}]:${v.port}` : `${v.host}:${v.port}`),
  };
}

const ifaceRe = /^[A-Za-z0-9_.:@*?[\]!-]{1,15}$/;

/** Interface names or globs (eth0, veth*, eth[01]). */
export function interfaces(): Parser<string[]> {
  return {
    parse(what, v) {
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list)) throw new ConfigError(`${what}: expected a list of interface names or globs`);
      return list.map((x) => {
        if (typeof x !== 'string' || !ifaceRe.test(x)) throw new ConfigError(`${what}: ${json(x)} is not an interface name or glob`);
        return x;
      });
    },
    schema: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9_.:@*?\\[\\]!-]{1,15}$' } },
    show: (v) => `[${v.map((x) => json(x)).join(', ')}]`,
  };
}
