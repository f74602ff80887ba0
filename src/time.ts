/**
 * The two clocks: the kernel stamps events with CLOCK_MONOTONIC
 * (bpf_ktime_get_ns), which process.hrtime reads too; people read wall
 * time. One place converts between them.
 */

/** CLOCK_MONOTONIC now, in ns (the clock of bpf_ktime_get_ns). */
export const monoNs = (): number => Number(process.hrtime.bigint());

/** A CLOCK_MONOTONIC time (ns) as wall-clock ms, given both clocks read now. */
export function monoToWallMs(mono: number, nowMonoNs: number, nowWallMs: number): number {
  return nowWallMs - (nowMonoNs - mono) / 1e6;
}

/** A CLOCK_MONOTONIC time (ns) as wall-clock ms, by the clocks now. */
export const toWallMs = (mono: number): number => monoToWallMs(mono, monoNs(), Date.now());

/** Converts kernel times to wall-clock ms: toWallMs, or a fake clock in tests. */
export type WallClock = (monoNs: number) => number;
