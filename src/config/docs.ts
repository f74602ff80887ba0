/**
 * What the options table says to people and to other tools: --help, the
 * README's two option blocks (the command line and a config file with
 * every key at its default; src/readme.ts writes them), and the JSON schema
 * of the config file.
 */
import { OPTIONS, placed, type Option, type Tree } from './options.js';

const unquote = (s: string) => s.replace(/^"(.*)"$/, '$1');

/** The default as --help shows it (a list as a flag would give it), or null: nothing to show. */
function shownDefault(o: Option<unknown>): string | null {
  if (o.shown) return o.shown;
  if (o.sets !== undefined) return null;
  if (Array.isArray(o.default)) return o.default.length ? o.default.join(',') : null;
  const s = o.parser.show(o.default);
  return s === '""' || s === 'null' ? null : unquote(s);
}

/** text, then at least one space, then the comment, at column col. */
const column = (text: string, col: number, rest: string) => `${text} `.padEnd(col) + rest;

/** The command's own flags after those of the options. */
const OWN = [
  { left: '-c, --config FILE', doc: 'YAML config file; flags override it' },
  { left: '-h, --help', doc: 'this text' },
  { left: '-V, --version', doc: 'the version' },
];

function flagLines(): string[] {
  const rows = placed()
    .filter((p) => p.option.flag)
    .map(({ option: o }) => {
      const d = shownDefault(o);
      const left = `${o.short ? `-${o.short}, ` : '    '}--${o.flag}${o.arg ? ` ${o.arg}` : ''}`;
      return { left, doc: `${o.flagDoc ?? o.doc}${o.repeat ? ' (repeatable)' : ''}${d !== null ? ` [${d}]` : ''}` };
    });
  return [...rows, ...OWN].map((r) => column(`  ${r.left}`, 30, r.doc));
}

export function usageText(): string {
  return [
    'Usage: tcpulse [options]',
    '',
    'Measures every TCP flow on the given interfaces with eBPF (XDP/TC) and',
    'serves Prometheus metrics.',
    '',
    'Options:',
    ...flagLines(),
    '',
    'Durations: 250ms, 5s, 2m, 1h. Config file keys: see README.md.',
  ].join('\n');
}

/** A config file with every key at its default and what it does. */
export function configFileText(tree: Tree = OPTIONS, indent = ''): string {
  const lines: string[] = [];
  for (const [name, o] of Object.entries(tree)) {
    if (o.kind === 'group') {
      lines.push(column(`${indent}${name}:`, 32, `# ${o.doc}`));
      lines.push(configFileText(o.options, indent + '  '));
    } else {
      const key = o.file ?? name;
      const line = o.shown ? `${indent}# ${key}: ${o.shown}` : `${indent}${key}: ${o.parser.show(o.default)}`;
      lines.push(column(line, 32, `# ${o.doc}`));
    }
  }
  return lines.join('\n');
}

/** The JSON schema of a config file, as the chart's values schema describes its `config`. */
export function configSchema(tree: Tree = OPTIONS): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(tree).map(([name, o]) => (o.kind === 'group' ? [name, configSchema(o.options)] : [o.file ?? name, o.parser.schema]))),
  };
}
