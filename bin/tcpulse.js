#!/usr/bin/env -S node --max-semi-space-size=2
// Runs the compiled agent (npm run build makes dist/). A young generation of
// 2 MB per semi-space instead of 16: the agent's garbage is small and short-lived,
// and at 10k connections its RSS is a fifth lower (bench/scale.ts).
import '../dist/src/cli.js';
