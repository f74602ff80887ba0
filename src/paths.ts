/** Where the checkout (or the installed package) lives, from src/ or dist/src/, and its version. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function isRoot(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'tcpulse';
  } catch {
    return false;
  }
}

/** The nearest directory up from this file whose package.json is ours (checkout, or image). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!isRoot(dir)) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

export const projectRoot = findRoot();

/** The package's version (package.json). */
export const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
