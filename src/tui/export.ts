/**
 * Writing out from the UI (w / W): the frames the display filter shows to a pcap file, and the
 * records it matches to NDJSON. Both re-read the capture file, so what is written is what the
 * file holds, not what the index kept:
 * - frames: each packet record as captured, in the capture's own link type (one per pcap file),
 *   and at the capture's own time resolution: microseconds, or the nanosecond pcap format when
 *   the capture is finer (a nanosecond pcap, a pcapng interface of if_tsresol 9 and the like), the
 *   nanoseconds read back from the record's own timestamp (src/capture/pcap-writer.ts). tshark
 *   and tcpdump read it.
 * - records: the pipeline run again into the NDJSON sink with the same options and filter as
 *   `pgsniff read FILE --json -Y EXPR` (`--queries` from the queries view), so the bytes are the
 *   ones that command writes.
 * Failures (a path that cannot be written, a full disk) reject with the reason; the UI says it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readCapture } from '../capture/open.js';
import { PcapWriter } from '../capture/pcap-writer.js';
import { compileFilter } from '../filter/index.js';
import { analyzeFile, type AnalyzeOptions } from '../pipeline/analyze.js';
import type { OutRecord } from '../pipeline/events.js';
import type { Packet } from '../capture/packet.js';
import { NdjsonSink } from '../sinks/ndjson.js';

/** A failed export, in one line for the status line. */
class ExportError extends Error {}

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

/** Whether an if_tsresol (pcapng's byte; pcap: 6 or 9) is finer than a microsecond. */
function finerThanMicro(tsresol: number): boolean {
  return tsresol & 0x80 ? (tsresol & 0x7f) > 19 : tsresol > 6;
}

/**
 * The nanoseconds (0-999) below a packet's microsecond, read from its record's own timestamp
 * in the file: the packet source keeps microseconds only. pcap: the record header's sub-second
 * field (nanoseconds in a nanosecond file); pcapng: the Enhanced (or obsolete) Packet Block's
 * 64-bit count of if_tsresol units, in the byte order of its section (told by the block type).
 * 0 when the record cannot be read again (a compressed file: no offsets) or has no timestamp.
 */
class SubMicro {
  private readonly head = Buffer.alloc(20);
  private pcapLe: boolean | null = null;

  constructor(private readonly fd: number, private readonly tsresol: ReadonlyMap<number, number>) {
    const magic = Buffer.alloc(4);
    if (readSync(fd, magic, 0, 4, 0) === 4 && magic.readUInt32LE(0) !== 0x0a0d0d0a) {
      this.pcapLe = magic[0] === 0xd4 || magic[0] === 0x4d;
    }
  }

  nanos(p: Packet): number {
    const res = this.tsresol.get(p.interfaceId) ?? 6;
    if (p.fileOffset < 0 || !finerThanMicro(res)) return 0;
    const h = this.head;
    if (this.pcapLe !== null) {
      if (readSync(this.fd, h, 0, 8, p.fileOffset) < 8) return 0;
      return (this.pcapLe ? h.readUInt32LE(4) : h.readUInt32BE(4)) % 1000;
    }
    if (readSync(this.fd, h, 0, 20, p.fileOffset) < 20) return 0;
    const le = h.readUInt32LE(0) === 6 || h.readUInt32LE(0) === 2;
    const type = le ? h.readUInt32LE(0) : h.readUInt32BE(0);
    if (type !== 6 && type !== 2) return 0;
    const units = (BigInt(le ? h.readUInt32LE(12) : h.readUInt32BE(12)) << 32n) | BigInt(le ? h.readUInt32LE(16) : h.readUInt32BE(16));
    const per = res & 0x80 ? 1n << BigInt(res & 0x7f) : 10n ** BigInt(res);
    // floor(units / per) s and its floor in µs are what the reader made timeUs of; the if_tsoffset
    // it added is whole seconds, so the nanoseconds below the microsecond are these.
    return Number(((units * 1_000_000_000n) / per) % 1000n);
  }
}

/**
 * Writes the packets whose frame numbers are in `frames` (ascending) from `capture` to a pcap
 * file at `target`; resolves to the number written. A capture whose chosen frames have two link
 * types cannot be one pcap file: that is refused, naming the frame. Times keep the capture's
 * resolution down to the nanosecond (finer ones, rare, are cut to it).
 */
export async function exportFrames(capture: string, frames: Uint32Array, target: string, signal?: AbortSignal): Promise<number> {
  closeSync(openTarget(target));
  let writer = null as PcapWriter | null;
  let firstLinkType: number | null = null;
  const tsresol = new Map<number, number>();
  let k = 0;
  // Stops reading once the last chosen frame is written.
  const done = new AbortController();
  const stop = (): void => done.abort();
  signal?.addEventListener('abort', stop, { once: true });
  let fd: number | null = null;
  try {
    fd = openSync(capture, 'r');
    const sub = new SubMicro(fd, tsresol);
    await readCapture(capture, {
      packet: (p) => {
        while (k < frames.length && (frames[k] as number) < p.frame) k++;
        if (k >= frames.length) { done.abort(); return; }
        if (frames[k] !== p.frame) return;
        if (writer === null) writer = new PcapWriter(target, p.linkType, { nanoseconds: [...tsresol.values()].some(finerThanMicro) });
        else if (p.linkType !== writer.linkType) {
          throw new ExportError(`frame ${p.frame} has link type ${p.linkType}, the frames before it ${writer.linkType}: one pcap file holds one link type (narrow the filter to one interface)`);
        }
        writer.write(p, writer.nanoseconds ? sub.nanos(p) : 0);
      },
      anomaly: () => {},
      linkType: (id, lt, res) => { firstLinkType ??= lt; tsresol.set(id, res); },
    }, { signal: done.signal });
    const w: PcapWriter = writer ?? new PcapWriter(target, firstLinkType ?? 1);
    await w.close();
    if (signal?.aborted) throw new ExportError(`writing ${target} was cancelled after ${w.packetCount} frames`);
    return w.packetCount;
  } catch (e) {
    await writer?.close().catch(() => undefined);
    throw writeFailure(target, e);
  } finally {
    if (fd !== null) closeSync(fd);
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
