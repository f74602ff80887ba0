/** helm template of the chart (deploy/helm/tcpulse), parsed; helm from .tools/bin (./setup.sh) or PATH. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import YAML from 'yaml';
import { projectRoot } from '../../src/paths.js';
import { run } from './exec.js';

export const CHART_DIR = join(projectRoot, 'deploy/helm/tcpulse');

/* The parsed manifests are free-form Kubernetes objects. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

function helmBinary(): string {
  const candidates = [join(projectRoot, '.tools/bin/helm'), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'helm'))];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error('helm not found in .tools/bin or PATH: run ./setup.sh --test');
}

/** Renders the chart as release `tcpulse` in namespace tcpulse-system with these extra arguments. */
export async function helmTemplate(args: string[] = []): Promise<Manifest[]> {
  const r = await run(helmBinary(), ['template', 'tcpulse', CHART_DIR, '--namespace', 'tcpulse-system', ...args]);
  return YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest | null).filter((m): m is Manifest => m !== null);
}
