import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { applyRaw, defaults, parseDuration, parseListen } from '../../src/config.js';
import { configFileText } from '../../src/config/docs.js';
import { placed } from '../../src/config/options.js';
import { parseCli, usage } from '../../src/flags.js';
import { ConfigError } from '../../src/errors.js';
import { globToRegExp, matchInterfaces } from '../../src/net/interfaces.js';

function run(argv: string[]) {
  const r = parseCli(argv);
  assert.equal(r.kind, 'run');
  return (r as { config: typeof defaults }).config;
}

function rejects(argv: string[], pattern: RegExp) {
  assert.throws(() => parseCli(argv), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

describe('command line', () => {
  it('parses flags over defaults', () => {
    const c = run(['-i', 'eth0', '--interface', 'veth*', '--listen', '127.0.0.1:9100', '--interval', '250ms', '--ingress-hook', 'xdp', '--rtt-rate-limit', '0', '--min-rtt-window', '2m']);
    assert.deepEqual(c.interfaces, ['eth0', 'veth*']);
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9100 });
    assert.equal(c.intervalMs, 250);
    assert.equal(c.ingressHook, 'xdp');
    assert.equal(c.rtt.minRttWindowMs, 120_000);
    assert.equal(c.flowTableSize, defaults.flowTableSize);
  });

  it('answers --help and --version', () => {
    assert.equal(parseCli(['--help']).kind, 'help');
    assert.equal(parseCli(['-V']).kind, 'version');
  });

  it('rejects bad input with one line naming the flag', () => {
    rejects(['--bogus'], /bogus/);
    rejects([], /no interface/);
    rejects(['-i', 'eth0', '--listen', 'nope'], /^--listen: expected HOST:PORT/);
    rejects(['-i', 'eth0', '--listen', ':99999'], /out of range/);
    rejects(['-i', 'eth0', '--interval', '5 parsecs'], /^--interval: expected a duration/);
    rejects(['-i', 'eth0', '--interval', '10ms'], /at least 100ms/);
    rejects(['-i', 'eth0', '--ingress-hook', 'kprobe'], /^--ingress-hook: expected one of tc, xdp/);
    rejects(['-i', 'eth0', '--flow-table-size', '12'], /^--flow-table-size: expected an integer from 64/);
    rejects(['-i', 'eth0', '--rtt-rate-limit', 'x'], /^--rtt-rate-limit: /);
    rejects(['-i', 'eth0;rm -rf /'], /not an interface name/);
    rejects(['-i', 'eth0', '--config', '/nonexistent/tcpulse.yaml'], /ENOENT/);
  });

  it('reads YAML and lets flags override it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpulse-config-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'interfaces: [eth1]\nmaxSeries: 50\nrtt:\n  localSide: true\n  minRttWindow: 10s\nlisten: ":9200"\n');
      const c = run(['--config', file, '--max-series', '60']);
      assert.deepEqual(c.interfaces, ['eth1']);
      assert.equal(c.maxSeries, 60);
      assert.equal(c.rtt.localSide, true);
      assert.equal(c.rtt.minRttWindowMs, 10_000);
      assert.deepEqual(c.listen, { host: '0.0.0.0', port: 9200 });
      writeFileSync(file, 'interfaces: [eth1]\nrtt: {windw: 3s}\n');
      rejects(['--config', file], /unknown key "windw"/);
      writeFileSync(file, 'interfaces: [eth1\n');
      rejects(['--config', file], /not valid YAML/);
      writeFileSync(file, 'flowTableSize: lots\ninterfaces: [x]\n');
      rejects(['--config', file], /flowTableSize: expected an integer/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('parses durations and listen addresses', () => {
    assert.equal(parseDuration('x', '1.5s'), 1500);
    assert.equal(parseDuration('x', 2), 2000);
    assert.deepEqual(parseListen('x', '[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen('x', ':80'), { host: '0.0.0.0', port: 80 });
  });
});

describe('interface globs', () => {
  const all = ['lo', 'eth0', 'eth1', 'veth12ab', 'cali3', 'lxc_health'].map((name, i) => ({ name, ifindex: i + 1, type: 1, mtu: 1500 }));
  it('matches shell-style globs', () => {
    assert.deepEqual(matchInterfaces(['veth*', 'eth[01]'], all).map((i) => i.name), ['eth0', 'eth1', 'veth12ab']);
    assert.deepEqual(matchInterfaces(['lxc?health'], all).map((i) => i.name), ['lxc_health']);
    assert.ok(!globToRegExp('eth.').test('eth0'), 'a dot is literal');
    assert.deepEqual(matchInterfaces(['eth[!0]'], all).map((i) => i.name), ['eth1']);
  });
});

describe('options table', () => {
  it('documents a config file that reads back as the defaults', () => {
    const doc = YAML.parse(configFileText()) as Record<string, unknown>;
    const c = applyRaw(defaults, doc, 'README: ');
    assert.deepEqual(c, defaults);
  });

  it('gives every flag once, and every option a doc', () => {
    const all = placed();
    const flags = all.flatMap((p) => (p.option.flag ? [p.option.flag] : []));
    assert.equal(new Set(flags).size, flags.length);
    for (const p of all) assert.ok(p.option.doc.length > 10, p.file.join('.'));
    assert.match(usage, /--connection-log-fields G +field groups/);
  });
});
