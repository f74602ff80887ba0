#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=2
// Runs the compiled agent (npm run build makes dist/), as the image does.
// A young generation of 2 MB per semi-space instead of 16: the agent's
// garbage is small and short-lived. One malloc arena instead of one per
// thread (up to eight per core): the V8 and libuv threads allocate little.
// The arena alone: 127 -> 112 MB of RSS at 10k connections (bench/scale.ts).
import '../dist/src/cli.js';
