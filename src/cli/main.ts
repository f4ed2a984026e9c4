#!/usr/bin/env node
/**
 * The pgsniff entry point: runs the command (run.ts), in a fresh Node.js process with V8
 * flags for throughput when the command is a long batch job (engine.ts). A live capture is
 * opened first of all (live-early.ts): it never relaunches, and a connection opened while the
 * rest of pgsniff loads is then captured whole.
 */
import { prestartCapture } from './live-early.js';

const argv = process.argv.slice(2);
if (prestartCapture(argv) || !(await import('./engine.js')).relaunchWithEngineFlags(argv)) {
  await import('./run.js');
}
