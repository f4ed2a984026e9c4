/**
 * The reading side of a live capture: the capture process (src/capture/live-source.ts) writes
 * pcap files into a private temporary directory, rotating to a new file every few megabytes
 * (tcpdump -C: `capture.pcap`, `capture.pcap1`, `capture.pcap2`, ...), and this module reads
 * them behind it, as Wireshark reads what dumpcap writes. The files are the buffer between
 * capturing and decoding: while pgsniff decodes, the capture process keeps draining the
 * kernel's buffer into them, so a busy decoder does not make the kernel drop.
 *
 * The buffer is bounded: when the bytes written and not yet read exceed `limit`, whole files
 * that the capture process has finished (every file but the one it writes) are deleted unread,
 * oldest first. Their packets are counted (their record headers are walked) and reported, in
 * the statistics and as a `capture-dropped` anomaly, so nothing is lost silently. A file is
 * deleted as soon as it has been read.
 *
 * A file is known to be complete once its successor exists: tcpdump closes a file before it
 * creates the next one.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Anomaly, AnomalyHandler } from '../core/anomaly.js';
import type { Packet, PacketHandler } from './packet.js';
import { PcapReader } from './pcap.js';
import type { CaptureSummary } from './types.js';

/** Largest read handed to the decoder at once: between two reads the event loop runs (timers, output). */
const READ_CHUNK = 1024 * 1024;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

interface SpoolHandlers {
  packet: PacketHandler;
  anomaly: AnomalyHandler;
  /** The reader has caught up with the writer: what is decoded is everything captured so far. */
  idle?: () => void;
}

interface SpoolPosition {
  /** Bytes written by the capture process and not read yet. */
  backlogBytes: number;
  /** Packets and bytes deleted unread because the backlog exceeded the limit. */
  droppedPackets: number;
  droppedBytes: number;
  /** Bytes read (pcap records and file headers). */
  readBytes: number;
}

export class Spool {
  /** Index of the file being read (0: `base`, n: `base` + n). */
  private index = 0;
  private fd: number | null = null;
  private offset = 0;
  private reader: PcapReader | null = null;
  /** Files below this index were read or dropped. */
  private next = 1;
  private frame = 0;
  private readBytes = 0;
  private droppedPackets = 0;
  private droppedBytes = 0;
  /** True when the last read found nothing more to read. */
  caughtUp = false;
  lastTimeUs: number | null = null;

  constructor(
    private readonly dir: string,
    private readonly base: string,
    private readonly limit: number,
    private readonly handlers: SpoolHandlers,
  ) {}

  private path(i: number): string {
    return join(this.dir, i === 0 ? this.base : this.base + String(i));
  }

  /** Packets delivered so far (the last frame number). */
  get delivered(): number {
    return this.frame;
  }

  /**
   * Reads what is there, at most one chunk. Returns 'data' when it delivered something,
   * 'more' when it moved to the next file, 'wait' when the writer has written nothing new,
   * and 'end' when `writerDone` and every file has been read.
   */
  step(writerDone: boolean): 'data' | 'more' | 'wait' | 'end' {
    if (this.fd === null) {
      if (!existsSync(this.path(this.index))) return writerDone ? 'end' : 'wait';
      this.open(this.index);
    }
    // Looked at before reading: when the next file exists this one is complete, so a read
    // that then finds nothing has reached its true end.
    const complete = writerDone || existsSync(this.path(this.next));
    const size = fstatSync(this.fd!).size;
    const want = Math.min(size - this.offset, READ_CHUNK);
    if (want > 0) {
      const buf = Buffer.allocUnsafe(want);
      const n = readSync(this.fd!, buf, 0, want, this.offset);
      if (n > 0) {
        this.offset += n;
        this.readBytes += n;
        this.caughtUp = false;
        this.reader!.push(n === want ? buf : buf.subarray(0, n));
        return 'data';
      }
    }
    if (!complete) {
      this.caughtUp = true;
      return 'wait';
    }
    this.closeCurrent(true);
    if (!existsSync(this.path(this.next))) return 'end';
    this.index = this.next;
    this.next = this.index + 1;
    return 'more';
  }

  private open(i: number): void {
    this.fd = openSync(this.path(i), 'r');
    this.offset = 0;
    this.next = i + 1;
    const summary: CaptureSummary = {
      format: 'pcap', interfaces: [], linkTypes: [], packets: 0, bytes: 0,
      firstTimeUs: null, lastTimeUs: null, complete: true, aborted: false,
    };
    this.reader = new PcapReader({
      handlers: {
        // Each file numbers its packets from 1: the capture's frame numbers continue across files.
        packet: (p: Packet) => {
          p.frame = ++this.frame;
          this.lastTimeUs = p.timeUs;
          this.handlers.packet(p);
        },
        anomaly: this.handlers.anomaly,
      },
      name: `live capture file ${i}`,
      offsets: false,
      signal: undefined,
      summary,
    });
  }

  private closeCurrent(finish: boolean): void {
    if (this.fd === null) return;
    if (finish) this.reader!.finish();
    closeSync(this.fd);
    this.fd = null;
    this.reader = null;
    try {
      unlinkSync(this.path(this.index));
    } catch {
      // Already gone (the directory is being removed): nothing to free.
    }
  }

  /** Where the reader is: the backlog is measured on the files, so it costs a stat per file. */
  position(): SpoolPosition {
    let backlog = 0;
    if (this.fd !== null) backlog += Math.max(0, fstatSync(this.fd).size - this.offset);
    for (let i = this.fd === null ? this.index : this.next; ; i++) {
      const st = statSafe(this.path(i));
      if (st === null) break;
      backlog += st;
    }
    return { backlogBytes: backlog, droppedPackets: this.droppedPackets, droppedBytes: this.droppedBytes, readBytes: this.readBytes };
  }

  /**
   * Keeps the backlog within the limit: deletes finished files after the one being read, oldest
   * first, counting their packets. Returns the anomaly it reported, or null when nothing was dropped.
   */
  enforceLimit(): Anomaly | null {
    let backlog = this.position().backlogBytes;
    if (backlog <= this.limit) return null;
    let packets = 0;
    let bytes = 0;
    let first: number | null = null;
    let last: number | null = null;
    // The file being written (the last one that exists) is never touched.
    while (backlog > this.limit) {
      const i = this.fd === null ? this.index : this.next;
      if (!existsSync(this.path(i + 1))) break;
      const counted = countRecords(this.path(i));
      try {
        unlinkSync(this.path(i));
      } catch {
        break;
      }
      packets += counted.packets;
      bytes += counted.bytes;
      first ??= counted.firstTimeUs;
      last = counted.lastTimeUs ?? last;
      backlog -= counted.fileBytes;
      if (this.fd === null) this.index = i + 1;
      else this.next = i + 1;
    }
    if (packets === 0) return null;
    this.droppedPackets += packets;
    this.droppedBytes += bytes;
    const a: Anomaly = {
      code: 'capture-dropped',
      reason: `pgsniff fell more than ${mib(this.limit)} behind the capture and dropped ${packets} captured packets (${bytes} bytes)` +
        (first !== null && last !== null ? ` captured over ${((last - first) / 1e6).toFixed(3)} s` : '') +
        ': sessions they belong to show gaps',
      frame: null,
      timeUs: first,
      session: null,
      skipped: bytes,
    };
    this.handlers.anomaly(a);
    return a;
  }

  /** Stops reading; files not read are left to the caller, who removes the directory. */
  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
      this.reader = null;
    }
  }
}

function mib(n: number): string {
  return `${Math.round(n / (1024 * 1024))} MiB`;
}

function statSafe(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/**
 * Packets in a pcap file the capture process wrote (its own byte order), by walking the record
 * headers: the file is read in large chunks, never decoded.
 */
function countRecords(path: string): { packets: number; bytes: number; fileBytes: number; firstTimeUs: number | null; lastTimeUs: number | null } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(GLOBAL_HEADER);
    if (readSync(fd, head, 0, GLOBAL_HEADER, 0) < GLOBAL_HEADER) return { packets: 0, bytes: 0, fileBytes: size, firstTimeUs: null, lastTimeUs: null };
    const le = head.readUInt32LE(0) === 0xa1b2c3d4 || head.readUInt32LE(0) === 0xa1b23c4d;
    const nanos = head.readUInt32LE(0) === 0xa1b23c4d || head.readUInt32BE(0) === 0xa1b23c4d;
    let pos = GLOBAL_HEADER;
    let packets = 0;
    let bytes = 0;
    let firstTimeUs: number | null = null;
    let lastTimeUs: number | null = null;
    // Read in large chunks; a record header that straddles two chunks is read again at the next one.
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let chunkStart = -1;
    let chunkLen = 0;
    while (pos + RECORD_HEADER <= size) {
      if (pos < chunkStart || pos + RECORD_HEADER > chunkStart + chunkLen) {
        chunkStart = pos;
        chunkLen = readSync(fd, chunk, 0, READ_CHUNK, pos);
        if (chunkLen < RECORD_HEADER) break;
      }
      const o = pos - chunkStart;
      const sec = le ? chunk.readUInt32LE(o) : chunk.readUInt32BE(o);
      const sub = le ? chunk.readUInt32LE(o + 4) : chunk.readUInt32BE(o + 4);
      const caplen = le ? chunk.readUInt32LE(o + 8) : chunk.readUInt32BE(o + 8);
      const t = sec * 1_000_000 + (nanos ? Math.floor(sub / 1000) : sub);
      firstTimeUs ??= t;
      lastTimeUs = t;
      packets++;
      bytes += caplen;
      pos += RECORD_HEADER + caplen;
    }
    return { packets, bytes, fileBytes: size, firstTimeUs, lastTimeUs };
  } finally {
    closeSync(fd);
  }
}
