/**
 * readCapture: the one entry point for capture files and piped captures. Detects the format by
 * its magic, streams the source through the matching reader (pcap.ts, pcapng.ts) and pushes
 * every packet synchronously to the caller. Nothing holds more than the chunk being handled,
 * the one read ahead (regular files) and one incomplete record: the loop awaits the next chunk
 * only after every packet of the previous one was handled, so a slow consumer slows the read
 * instead of growing memory.
 */
import { read as fsRead } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UserError, isUserError } from '../core/errors.js';
import { PcapReader, PCAP_MAGIC } from './pcap.js';
import { PcapngReader, BLOCK } from './pcapng.js';
import type { CaptureFormat, CaptureHandlers, CaptureSummary, FormatReader, ReaderContext } from './types.js';

export type { CaptureFormat, CaptureSummary } from './types.js';

export interface ReadCaptureOptions {
  /** Aborting stops the read after the packet being handled; the promise resolves with `aborted: true`. */
  signal?: AbortSignal;
  /** Name used in messages for a stream source (default "standard input"). */
  name?: string;
  /** Read size for files (default 256 KiB). */
  chunkSize?: number;
}

const GZIP_MAGIC = 0x1f8b;
/** Read size: a chunk's worth of packets is handled between two awaits. */
const DEFAULT_CHUNK = 256 * 1024;
const KUZNETSOV_MAGIC_LE = 0x34cdb2a1;
const KUZNETSOV_MAGIC_BE = 0xa1b2cd34;

/** Which reader a file needs, from its first four bytes; null when it is no capture we read. */
export function detectFormat(head: Buffer): CaptureFormat | null {
  if (head.length < 4) return null;
  const m = head.readUInt32BE(0);
  if (m === PCAP_MAGIC.usLE || m === PCAP_MAGIC.usBE || m === PCAP_MAGIC.nsLE || m === PCAP_MAGIC.nsBE) return 'pcap';
  if (m === BLOCK.SHB) return 'pcapng';
  return null;
}

function notACapture(name: string, head: Buffer, total: number, gzip: boolean): UserError {
  if (total === 0) return new UserError('NOT_A_CAPTURE', `${name} is empty, not a pcap or pcapng capture file`);
  if (gzip) return new UserError('NOT_A_CAPTURE', `${name} is gzip-compressed, but what it holds is not a pcap or pcapng capture file`);
  if (head.length >= 4) {
    const m = head.readUInt32BE(0);
    if (m === KUZNETSOV_MAGIC_LE || m === KUZNETSOV_MAGIC_BE) {
      return new UserError('UNSUPPORTED', `${name} is a modified (Kuznetsov) pcap file, which pgsniff does not read; convert it with: editcap -F pcap`);
    }
  }
  return new UserError('NOT_A_CAPTURE', `${name} is not a pcap or pcapng capture file`);
}

function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head.readUInt16BE(0) === GZIP_MAGIC;
}

/** zlib's complaints about damaged or cut-short compressed data. */
function zlibError(e: unknown): string | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_') ? code : null;
}

/** The compressed source for the decompressor: the bytes already read, then the rest, counted. */
async function* compressed(head: Buffer, rest: AsyncIterator<string | Buffer>, summary: CaptureSummary): AsyncGenerator<Buffer> {
  try {
    yield head;
    for (;;) {
      const r = await rest.next();
      if (r.done) return;
      if (typeof r.value === 'string') throw new UserError('BAD_INPUT', 'the stream delivers text, not bytes');
      summary.bytes += r.value.length;
      yield r.value;
    }
  } finally {
    await rest.return?.();
  }
}

/**
 * A regular file's bytes, chunk by chunk, each in a buffer of its own (packets are views of it).
 * The next read is under way while the caller handles a chunk, so the disk (or page cache) and
 * the parsing overlap instead of taking turns. Stops early once `stop` says so (an abort); the
 * read in flight is always awaited, so the handle is never closed under it.
 */
async function* fileChunks(file: FileHandle, size: number, stop: () => boolean): AsyncGenerator<Buffer> {
  // fs.read on the handle's descriptor: its call costs the reading thread much less than
  // FileHandle.read's (docs/BENCHMARK.md, "Figures moved out of the code").
  const fd = file.fd;
  const read = (): Promise<Buffer> => new Promise((resolve, reject) => {
    const buffer = Buffer.allocUnsafeSlow(size);
    fsRead(fd, buffer, 0, size, null, (e, n) => {
      if (e) reject(e);
      else resolve(n === size ? buffer : buffer.subarray(0, n));
    });
  });
  let next: Promise<Buffer> | null = read();
  try {
    for (;;) {
      const chunk: Buffer = await next;
      next = null;
      if (chunk.length === 0 || stop()) return;
      next = read();
      yield chunk;
    }
  } finally {
    if (next !== null) await next.catch(() => undefined);
  }
}

function fsError(e: unknown, name: string): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new UserError('ENOENT', `${name}: no such file`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError('EACCES', `${name}: permission denied`);
  if (code === 'EISDIR') return new UserError('NOT_A_CAPTURE', `${name} is a directory, not a pcap or pcapng capture file`);
  return e;
}

/**
 * Reads a capture. `source` is a path, "-" (process.stdin) or a readable stream of bytes.
 * Resolves when the input ends, the read stops at damage (reported as an anomaly first) or
 * the signal aborts it. Rejects with a UserError for sources that are no readable capture:
 * ENOENT, EACCES, NOT_A_CAPTURE (empty, text, unknown magic), BAD_CAPTURE (cut-short header),
 * UNSUPPORTED; and with whatever a handler throws.
 */
export async function readCapture(
  source: string | NodeJS.ReadableStream,
  handlers: CaptureHandlers,
  opts: ReadCaptureOptions = {},
): Promise<CaptureSummary> {
  const summary: CaptureSummary = {
    format: 'pcap',
    interfaces: [],
    linkTypes: [],
    packets: 0,
    bytes: 0,
    firstTimeUs: null,
    lastTimeUs: null,
    complete: true,
    aborted: false,
  };
  if (opts.signal?.aborted) {
    summary.aborted = true;
    return summary;
  }
  let stream: NodeJS.ReadableStream | null = null;
  let name: string;
  let file: FileHandle | null = null;
  let isFile = false;
  if (typeof source === 'string' && source !== '-') {
    name = source;
    try {
      file = await open(source, 'r');
      const st = await file.stat();
      if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
      isFile = st.isFile();
    } catch (e) {
      await file?.close();
      throw fsError(e, name);
    }
    // Regular files are read ahead (fileChunks); FIFOs and devices through a stream, whose reads
    // may wait on a writer.
    if (!isFile) stream = file.createReadStream({ highWaterMark: opts.chunkSize ?? DEFAULT_CHUNK });
  } else {
    stream = source === '-' ? process.stdin : (source as NodeJS.ReadableStream);
    name = opts.name ?? 'standard input';
  }

  const ctx: ReaderContext = { handlers, name, offsets: isFile, signal: opts.signal, summary };
  let reader: FormatReader | null = null;
  // Bytes before the magic could be judged (a pipe may deliver fewer than four at first).
  let head: Buffer = Buffer.alloc(0);

  // An abort while the source is idle (a quiet pipe) must not wait for the next chunk.
  const onAbort = (): void => {
    summary.aborted = true;
    (stream as Partial<Readable> | null)?.destroy?.();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  let chunks: AsyncIterator<string | Buffer> = stream !== null
    ? stream[Symbol.asyncIterator]()
    : fileChunks(file!, opts.chunkSize ?? DEFAULT_CHUNK, () => summary.aborted);
  let gzip = false;
  try {
    for (;;) {
      let next: IteratorResult<string | Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        const z = gzip && !summary.aborted ? zlibError(e) : null;
        if (z === null) throw e;
        if (reader === null) throw new UserError('BAD_CAPTURE', `${name}: the gzip data is damaged or cut short before a capture header (${z})`);
        handlers.anomaly({
          code: z === 'Z_BUF_ERROR' ? 'capture-truncated' : 'capture-corrupt',
          reason: `${name}: the gzip data is ${z === 'Z_BUF_ERROR' ? 'cut short' : 'damaged'} after packet ${summary.packets} (${z}); the rest is not read`,
          frame: null,
          timeUs: summary.lastTimeUs,
          session: null,
        });
        summary.complete = false;
        return summary;
      }
      if (next.done) break;
      const chunk = next.value;
      if (typeof chunk === 'string') throw new UserError('BAD_INPUT', `${name}: the stream delivers text, not bytes (no setEncoding on a capture stream)`);
      if (!gzip) summary.bytes += chunk.length;
      if (reader === null) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        if (!gzip && isGzip(head)) {
          // A compressed capture (as Wireshark reads them): decompress on the fly and judge
          // what comes out. Offsets into the decompressed data cannot be re-read from the file.
          gzip = true;
          ctx.offsets = false;
          const inflate = createGunzip();
          pipeline(Readable.from(compressed(head, chunks, summary)), inflate, () => undefined);
          chunks = inflate[Symbol.asyncIterator]();
          head = Buffer.alloc(0);
          continue;
        }
        if (head.length < 4) continue;
        const format = detectFormat(head);
        if (format === null) throw notACapture(name, head, summary.bytes, gzip);
        summary.format = format;
        reader = format === 'pcap' ? new PcapReader(ctx) : new PcapngReader(ctx);
        reader.push(head);
      } else {
        reader.push(chunk);
      }
      if (reader.stopped) break;
      const behind = handlers.ready?.();
      if (behind) await behind;
      if (opts.signal?.aborted) {
        summary.aborted = true;
        break;
      }
    }
    // An abort ends a file's chunks without an error (a stream's ends with one, caught below).
    if (summary.aborted) return summary;
    if (reader === null) throw notACapture(name, head, summary.bytes, gzip);
    reader.finish();
    return summary;
  } catch (e) {
    // Destroying the source on abort ends the loop with a premature-close error.
    if (summary.aborted && !isUserError(e)) return summary;
    throw fsError(e, name);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    // Ends the source (a file stream closes its handle with it); closing the handle too covers
    // an error before the first read.
    await chunks.return?.().catch(() => undefined);
    if (file !== null) await file.close().catch(() => undefined);
  }
}
