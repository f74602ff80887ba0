/**
 * The layering of src/ (README, "Layout"): a module imports only from its
 * own layer and the layers below it, and nothing imports in a cycle.
 * `npm run lint` runs it.
 */
const LAYERS = [
  ['base', '^src/(paths|errors|log|time)\\.ts$'],
  ['config', '^src/config(\\.ts$|/)'],
  ['system', '^src/(bpf|net)/'],
  ['k8s', '^src/k8s/'],
  ['flows', '^src/flows/'],
  ['probes', '^src/probes/'],
  ['export', '^src/export/'],
  ['agent', '^src/(round|agent|readme)\\.ts$'],
  ['cli', '^src/(cli|flags)\\.ts$'],
];

const upward = LAYERS.flatMap(([name, path], i) => {
  const above = LAYERS.slice(i + 1).map(([, p]) => `(${p})`);
  return above.length ? [{ name: `${name}-imports-up`, severity: 'error', comment: `${name} imports only from its layer and below`, from: { path }, to: { path: above.join('|') } }] : [];
});

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    { name: 'in-a-layer', severity: 'error', comment: 'every module of src/ belongs to a layer', from: { path: '^src/', pathNot: LAYERS.map(([, p]) => `(${p})`).join('|') }, to: {} },
    { name: 'src-only', severity: 'error', comment: 'the product does not import tests, benchmarks or tools', from: { path: '^src/' }, to: { path: '^(test|bench|dashboards|bpf)/' } },
    ...upward,
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.tools)/' },
  },
};
