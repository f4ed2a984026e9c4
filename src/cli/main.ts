#!/usr/bin/env node
/**
 * The pgsniff entry point: runs the command (run.ts), in a fresh Node.js process with V8
 * flags for throughput when the command is a long batch job (engine.ts).
 */
import { relaunchWithEngineFlags } from './engine.js';

if (!relaunchWithEngineFlags(process.argv.slice(2))) {
  // Live capture: the capture opens while the rest of pgsniff loads.
  (await import('./live-early.js')).prestartCapture(process.argv.slice(2));
  await import('./run.js');
}
