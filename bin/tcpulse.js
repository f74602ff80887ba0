#!/usr/bin/env node
// Runs the compiled agent (npm run build makes dist/).
import '../dist/src/cli.js';
