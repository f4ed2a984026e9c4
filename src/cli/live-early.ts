/**
 * Starts a live capture's capture process as the command starts, before Node.js loads the
 * pipeline (which takes longer than opening the capture): the capture handle is then open
 * within a fraction of a second of the command's start, and what arrives meanwhile waits in
 * the capture's spool until the pipeline takes it (src/pipeline/live.ts). Anything unusual
 * (bad arguments, help) starts nothing: the command itself then reports it.
 */
import { parseCli, type CliOptions } from './args.js';

/** Starts the capture when argv asks for one; true when it did. The capture module is loaded only then. */
export async function prestartCapture(argv: string[]): Promise<boolean> {
  let o: CliOptions;
  try {
    o = parseCli(argv);
  } catch {
    return false; // The command reports its own argument errors.
  }
  if (!o.iface || o.help || o.version) return false;
  if (o.command !== 'live' && o.command !== 'read' && o.command !== 'stats' && o.command !== 'check' && o.command !== 'record') return false;
  const { defaultCaptureFilter, prestartLiveSource } = await import('../capture/live-source.js');
  try {
    // record captures on lo unless told otherwise; the others only with -i.
    prestartLiveSource({ iface: o.iface, filter: o.captureFilter ?? defaultCaptureFilter(o.ports) });
  } catch {
    return false;
  }
  return true;
}
