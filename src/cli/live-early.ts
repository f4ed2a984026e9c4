/**
 * Starts a live capture's capture process as the command starts, before Node.js loads the
 * pipeline (which takes longer than opening the capture): the capture handle is then open
 * within a fraction of a second of the command's start, and what arrives meanwhile waits in
 * the capture's spool until the pipeline takes it (src/pipeline/live.ts). Anything unusual
 * (bad arguments, help) starts nothing: the command itself then reports it.
 */
import { parseCli } from './args.js';
import { defaultCaptureFilter, prestartLiveSource } from '../capture/live-source.js';

export function prestartCapture(argv: string[]): void {
  try {
    const o = parseCli(argv);
    if (!o.iface || o.help || o.version) return;
    if (o.command !== 'live' && o.command !== 'read' && o.command !== 'stats' && o.command !== 'check' && o.command !== 'record') return;
    // record captures on lo unless told otherwise; the others only with -i.
    prestartLiveSource({ iface: o.iface, filter: o.captureFilter ?? defaultCaptureFilter(o.ports) });
  } catch {
    // The command reports its own argument errors.
  }
}
