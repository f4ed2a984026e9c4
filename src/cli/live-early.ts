/**
 * Starts a live capture's capture process as the command starts, before Node.js loads the
 * pipeline (which takes longer than opening the capture): the capture handle is then open
 * within a fraction of a second of the command's start, and what arrives meanwhile waits in
 * the capture's spool until the pipeline takes it (src/pipeline/live.ts). Anything unusual
 * (bad arguments, help) starts nothing: the command itself then reports it.
 *
 * Only the argument parser and src/capture/capture-process.ts (Node's own modules and little
 * else) are loaded before the capture process is spawned; measured in docs/BENCHMARK.md.
 */
import { parseCli, type CliOptions } from './args.js';
import { defaultCaptureFilter, startEarlyCapture } from '../capture/capture-process.js';

/** Starts the capture when argv asks for one; true when it did. */
export function prestartCapture(argv: string[]): boolean {
  let o: CliOptions;
  try {
    o = parseCli(argv);
  } catch {
    return false; // The command reports its own argument errors.
  }
  if (!o.iface || o.help || o.version) return false;
  if (o.command !== 'live' && o.command !== 'read' && o.command !== 'stats' && o.command !== 'check' && o.command !== 'record') return false;
  try {
    // record captures on lo unless told otherwise; the others only with -i.
    startEarlyCapture(o.iface, o.captureFilter ?? defaultCaptureFilter(o.ports));
  } catch {
    return false; // No capture process, say: the command reports it in its own words.
  }
  return true;
}
