/**
 * The command line: flags over the config file over the defaults. The
 * flags are those of the options table (config/options.ts), each parsed by
 * its option's parser and named in its errors; --config, --help and
 * --version are the command's own.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import YAML from 'yaml';
import { applyRaw, defaults, obj, validate, type Config, type Raw } from './config.js';
import { placed } from './config/options.js';
import { usageText } from './config/docs.js';
import { ConfigError } from './errors.js';

export const usage = usageText();

export type CliResult = { kind: 'run'; config: Config } | { kind: 'help' } | { kind: 'version' };

const flagged = placed().filter((p) => p.option.flag);

const argOptions: NonNullable<ParseArgsConfig['options']> = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  ...Object.fromEntries(
    flagged.map(({ option: o }) => [o.flag!, { type: o.sets === undefined ? ('string' as const) : ('boolean' as const), ...(o.short ? { short: o.short } : {}), ...(o.repeat ? { multiple: true } : {}) }]),
  ),
};

/** argv without node and script. Throws ConfigError on any bad input. */
export function parseCli(argv: string[]): CliResult {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, strict: true, allowPositionals: false, options: argOptions }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message.split('\n')[0]!);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  let config: Config = structuredClone(defaults);
  const file = values.config as string | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`--config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = YAML.parse(text);
    } catch (err) {
      throw new ConfigError(`--config ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    config = applyRaw(config, obj(`--config ${file}`, doc), `${file}: `);
  }

  for (const { key, option: o } of flagged) {
    const v = values[o.flag!];
    if (v === undefined || v === false) continue;
    let into = config as unknown as Raw;
    for (const k of key.slice(0, -1)) into = into[k] as Raw;
    into[key.at(-1)!] = o.sets !== undefined ? o.sets : o.parser.parse(`--${o.flag}`, v);
  }
  return { kind: 'run', config: validate(config) };
}
