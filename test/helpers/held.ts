/**
 * The BPF objects processes hold, from the kernel's own bookkeeping: the
 * fdinfo of each process's file descriptors names the program or map
 * behind a BPF fd (a link's fdinfo names its program). A program no
 * process holds, yet loaded, is one something left behind; a map a process
 * holds can be read (bpftool) to see what the kernel side sees now.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { run, sleep } from './exec.js';

/** Ids after `key:` in the fdinfo of every fd of pid (prog_id, map_id). */
function fdinfoIds(pid: number | string, key: 'prog_id' | 'map_id'): Set<number> {
  const ids = new Set<number>();
  const re = new RegExp(`^${key}:\\s+(\\d+)`, 'm');
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return ids; // gone meanwhile
  }
  for (const fd of fds) {
    try {
      const m = re.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}

/** BPF programs a process holds (through program or link fds). */
export function progIdsOf(pid: number): Set<number> {
  return fdinfoIds(pid, 'prog_id');
}

/** tcpulse programs (tcpulse_*, ts_*) loaded right now, by id. */
export async function ourProgIds(): Promise<Set<number>> {
  const r = await run('bpftool', ['prog', 'show', '-j']);
  const progs = JSON.parse(r.stdout) as { id: number; name?: string }[];
  return new Set(progs.filter((p) => p.name?.startsWith('tcpulse_') || p.name?.startsWith('ts_')).map((p) => p.id));
}

/**
 * tcpulse programs that no process holds: attached to something with
 * nothing reading them, or pinned. Other agents running on the machine
 * hold theirs, so this is what a run left behind whatever else runs. A
 * program whose last holder just exited is freed a moment later: polled
 * for ms until none is left, then the ones left are returned.
 */
export async function orphanProgIds(ms = 5000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const held = new Set<number>();
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) for (const id of fdinfoIds(pid, 'prog_id')) held.add(id);
    const orphans = [...(await ourProgIds())].filter((id) => !held.has(id));
    if (orphans.length === 0 || Date.now() > deadline) return orphans;
    await sleep(100);
  }
}

/** The entries of the map named name that process pid holds (keys and values as byte arrays). */
export async function mapEntries(pid: number, name: string): Promise<{ key: number[]; value: number[] }[]> {
  for (const id of fdinfoIds(pid, 'map_id')) {
    const info = JSON.parse((await run('bpftool', ['map', 'show', 'id', String(id), '-j'])).stdout) as { name: string };
    if (info.name !== name) continue;
    const dump = JSON.parse((await run('bpftool', ['map', 'dump', 'id', String(id), '-j'])).stdout) as { key: string[]; value: string[] }[];
    return dump.map((e) => ({ key: e.key.map((b) => Number(b)), value: e.value.map((b) => Number(b)) }));
  }
  throw new Error(`process ${pid} holds no map named ${name}`);
}
