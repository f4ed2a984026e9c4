/**
 * Writing out from the UI (w / W): the frames the display filter shows to a pcap file, and the
 * records it matches to NDJSON. Both re-read the capture file, so what is written is what the
 * file holds, not what the index kept:
 * - frames: each packet record as captured, in the capture's own link type (one per pcap file),
 *   at microsecond resolution (src/capture/pcap-writer.ts); tshark and tcpdump read it.
 * - records: the pipeline run again into the NDJSON sink with the same options and filter as
 *   `pgsniff read FILE --json -Y EXPR` (`--queries` from the queries view), so the bytes are the
 *   ones that command writes.
 * Failures (a path that cannot be written, a full disk) reject with the reason; the UI says it.
 */
import { closeSync, openSync } from 'node:fs';
import { readCapture } from '../capture/open.js';
import { PcapWriter } from '../capture/pcap-writer.js';
import { compileFilter } from '../filter/index.js';
import { analyzeFile, type AnalyzeOptions } from '../pipeline/analyze.js';
import type { OutRecord } from '../pipeline/events.js';
import { NdjsonSink } from '../sinks/ndjson.js';

/** A failed export, in one line for the status line. */
export class ExportError extends Error {}

/** Opens `path` for writing (created or truncated), or throws one line saying why not. */
function openTarget(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const why: Record<string, string> = {
      ENOENT: 'no such directory', EACCES: 'permission denied', EPERM: 'permission denied', EISDIR: 'is a directory',
      EROFS: 'read-only file system', ENOSPC: 'no space left on the device', ENOTDIR: 'a part of the path is not a directory',
    };
    throw new ExportError(`cannot write ${path}: ${why[code] ?? (e instanceof Error ? e.message : String(e))}`);
  }
}

/** A write that failed part-way, said in one line. */
function writeFailure(path: string, e: unknown): unknown {
  if (e instanceof ExportError || (e as { code?: unknown } | null)?.code === 'BAD_FILTER') return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code.startsWith('E')) return new ExportError(`writing ${path} failed: ${code === 'ENOSPC' ? 'no space left on the device' : (e as Error).message}`);
  return e;
}

/**
 * Writes the packets whose frame numbers are in `frames` (ascending) from `capture` to a pcap
 * file at `target`; resolves to the number written. A capture whose chosen frames have two link
 * types cannot be one pcap file: that is refused, naming the frame.
 */
export async function exportFrames(capture: string, frames: Uint32Array, target: string, signal?: AbortSignal): Promise<number> {
  closeSync(openTarget(target));
  let writer = null as PcapWriter | null;
  let firstLinkType: number | null = null;
  let k = 0;
  // Stops reading once the last chosen frame is written.
  const done = new AbortController();
  const stop = (): void => done.abort();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await readCapture(capture, {
      packet: (p) => {
        while (k < frames.length && (frames[k] as number) < p.frame) k++;
        if (k >= frames.length) { done.abort(); return; }
        if (frames[k] !== p.frame) return;
        if (writer === null) writer = new PcapWriter(target, p.linkType);
        else if (p.linkType !== writer.linkType) {
          throw new ExportError(`frame ${p.frame} has link type ${p.linkType}, the frames before it ${writer.linkType}: one pcap file holds one link type (narrow the filter to one interface)`);
        }
        writer.write(p);
      },
      anomaly: () => {},
      linkType: (_id, lt) => { firstLinkType ??= lt; },
    }, { signal: done.signal });
    const w: PcapWriter = writer ?? new PcapWriter(target, firstLinkType ?? 1);
    await w.close();
    if (signal?.aborted) throw new ExportError(`writing ${target} was cancelled after ${w.packetCount} frames`);
    return w.packetCount;
  } catch (e) {
    await writer?.close().catch(() => undefined);
    throw writeFailure(target, e);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

/**
 * Writes the records of `capture` that `filter` matches (all when '') to `target` as NDJSON,
 * exactly as `pgsniff read --json -Y` (with `queriesOnly`, `--json --queries -Y`) writes them
 * given the same pipeline options; resolves to the number of records written.
 */
export async function exportRecords(capture: string, analyze: AnalyzeOptions, filter: string, queriesOnly: boolean, target: string,
  signal?: AbortSignal): Promise<number> {
  const pred = filter.trim() === '' ? undefined : compileFilter(filter);
  const fd = openTarget(target);
  try {
    const kinds = queriesOnly ? new Set<OutRecord['kind']>(['query']) : undefined;
    const sink = new NdjsonSink(fd, { kinds, filter: pred });
    await analyzeFile(capture, sink, { ...analyze, messages: !queriesOnly, signal });
    if (signal?.aborted) throw new ExportError(`writing ${target} was cancelled after ${sink.count} records`);
    return sink.count;
  } catch (e) {
    throw writeFailure(target, e);
  } finally {
    closeSync(fd);
  }
}
