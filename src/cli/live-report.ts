/**
 * What a live capture tells on stderr: how far decoding is behind while it is (seconds and
 * bytes), what pgsniff dropped when it had to, and the end-of-capture line with the kernel's
 * drop counts. Shared by the commands that capture (-i, stats -i, check -i, record).
 */
import type { LiveAnalysis, LiveStats, LiveSummary } from '../pipeline/live.js';
import { escapeTerminal } from '../core/escape.js';

/**
 * Awaits a live analysis to its end (count, duration, or Ctrl-C / SIGTERM, which abort `ac`),
 * saying on stderr once the handle is open: "pgsniff: capturing on IFACE (FILTER); Ctrl-C
 * stops" and `then`. The signal handlers are removed when it ends, however it ends.
 */
export async function awaitLive(live: LiveAnalysis, ac: AbortController, stderr: NodeJS.WritableStream, then = '', verb = 'capturing'): Promise<LiveSummary> {
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await live.ready;
    stderr.write(`pgsniff: ${verb} on ${escapeTerminal(live.capture.iface)} (${escapeTerminal(live.capture.filter)}); Ctrl-C stops${then}\n`);
    return await live.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Behind by at least this much, decoding says so; again at most every REPEAT_MS. */
const BEHIND_SEC = 1;
const REPEAT_MS = 5000;

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`;
}

/** "3.2 s (41.0 MB) behind", or '' when caught up. */
export function backlogText(s: LiveStats): string {
  return s.backlogBytes > 0 && s.backlogSeconds >= BEHIND_SEC ? `${s.backlogSeconds.toFixed(1)} s (${mb(s.backlogBytes)}) behind` : '';
}

/** A status handler that writes the backlog and pgsniff's own drops to stderr as they happen. */
export function backlogReporter(write: (line: string) => void): (s: LiveStats) => void {
  let lastBehindAt = 0;
  let reportedDrops = 0;
  let wasBehind = false;
  return (s) => {
    const now = Date.now();
    const behind = backlogText(s);
    if (behind !== '' && now - lastBehindAt >= REPEAT_MS) {
      lastBehindAt = now;
      wasBehind = true;
      write(`pgsniff: decoding is ${behind} the capture; nothing is lost while the backlog stays under its limit\n`);
    } else if (behind === '' && wasBehind) {
      wasBehind = false;
      lastBehindAt = 0;
      write('pgsniff: decoding has caught up with the capture\n');
    }
    if (s.pgsniffDropped > reportedDrops) {
      write(`pgsniff: fell too far behind: dropped ${s.pgsniffDropped - reportedDrops} captured packets (${mb(s.pgsniffDroppedBytes)} in all so far); their sessions show gaps\n`);
      reportedDrops = s.pgsniffDropped;
    }
  };
}

/** Kernel and pgsniff drops in a few words, for the end line and the TUI. */
function dropsText(s: LiveStats): string {
  const kernel = s.kernelDropped === null ? 'kernel drops not reported' : `${s.kernelDropped} dropped by the kernel`;
  const iface = s.ifDropped ? `, ${s.ifDropped} by the interface` : '';
  return `${kernel}${iface}, ${s.pgsniffDropped} by pgsniff`;
}

/** The end-of-capture line (without the "pgsniff: " prefix and newline). */
export function captureSummaryLine(summary: LiveSummary): string {
  const s = summary.live;
  const received = s.received === null ? '' : `${s.received} received by the kernel's filter, `;
  const lost = summary.lost.gaps === 0
    ? 'no gaps in the TCP streams'
    : `${summary.lost.gaps} gaps in the TCP streams, ${summary.lost.bytes} bytes not seen (see the gap anomalies)`;
  const ended = summary.endedItself ? `; ${summary.endedItself}` : '';
  return `${received}${summary.packets} packets decoded, ${summary.messages} PostgreSQL messages, ${summary.connections} sessions; ${dropsText(s)}; ${lost}${ended}`;
}
