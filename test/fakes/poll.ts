/** Polling a condition, for both fakes' wait helpers. */
import { performance } from 'node:perf_hooks';

/** Polls `pred` every `everyMs` until it holds; rejects with `message()` once `timeoutMs` have passed. */
export async function pollUntil(pred: () => boolean, timeoutMs: number, message: () => string, everyMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
