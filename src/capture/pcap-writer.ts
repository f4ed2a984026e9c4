/**
 * Streaming writer of classic pcap files (the libpcap format tcpdump -w writes): little-endian,
 * microsecond timestamps (or nanosecond ones, with the nanosecond magic, for frames exported
 * from a finer capture), one link type for the whole file. Used by `-w FILE` and by the sample
 * generator; tshark, tcpdump and pgsniff's own readers read what it writes.
 *
 * Records are packed into one reusable chunk and written when it fills, on flush() and on
 * close(), so writing a packet allocates nothing. A file target is written synchronously (the
 * capture loop is synchronous and a live capture must not pile up buffers behind a slow disk
 * without bound); a stream target gets a copy of each chunk and its back-pressure is left to
 * the stream's own buffering.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Packet } from './packet.js';

/** 0xa1b2c3d4 written little-endian: microsecond timestamps; 0xa1b23c4d: nanosecond ones. */
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const GLOBAL_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
const CHUNK_LEN = 256 * 1024;
const UINT32_MAX = 0xffffffff;

/** What libpcap and tcpdump use when no snaplen is asked for. */
export const DEFAULT_SNAPLEN = 262144;

interface PcapWriterOptions {
  /** Bytes kept of each packet; longer packets are cut and keep their original length. */
  snaplen?: number;
  /** Write every record through at once (like tcpdump -U), so another program can read the
   * file while it grows. Off by default: records are written a chunk at a time. */
  autoFlush?: boolean;
  /** For a stream target: end the stream on close(). Defaults to true, except for
   * process.stdout, which is never ended. */
  endStream?: boolean;
  /** Nanosecond timestamps (the nanosecond magic): write() then takes the nanoseconds below
   * the packet's microsecond, so a nanosecond capture's frames keep their times exactly. */
  nanoseconds?: boolean;
}

export class PcapWriter {
  readonly linkType: number;
  readonly snaplen: number;
  readonly nanoseconds: boolean;
  private readonly fd: number | null;
  private readonly stream: Writable | null;
  private readonly autoFlush: boolean;
  private readonly endStream: boolean;
  private chunk: Buffer = Buffer.allocUnsafe(CHUNK_LEN);
  private used = 0;
  private closed = false;
  private packets = 0;
  private bytes = 0;

  /**
   * @param target a file path (created or truncated) or a writable byte stream
   * @param linkType LINKTYPE_* of every packet written (https://www.tcpdump.org/linktypes.html)
   */
  constructor(target: string | Writable, linkType: number, options: PcapWriterOptions = {}) {
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > UINT32_MAX) {
      throw new RangeError(`link type out of range: ${linkType}`);
    }
    const snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(snaplen) || snaplen <= 0 || snaplen > UINT32_MAX) {
      throw new RangeError(`snaplen out of range: ${snaplen}`);
    }
    this.linkType = linkType;
    this.snaplen = snaplen;
    this.autoFlush = options.autoFlush ?? false;
    this.nanoseconds = options.nanoseconds ?? false;
    if (typeof target === 'string') {
      this.fd = openSync(target, 'w');
      this.stream = null;
      this.endStream = false;
    } else {
      this.fd = null;
      this.stream = target;
      this.endStream = options.endStream ?? (target as unknown) !== process.stdout;
    }
    const h = this.chunk;
    h.writeUInt32LE(this.nanoseconds ? MAGIC_NS : MAGIC_US, 0);
    h.writeUInt16LE(2, 4); // version 2.4, the only classic version in use
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // thiszone: timestamps are UTC
    h.writeUInt32LE(0, 12); // sigfigs: always 0 in practice
    h.writeUInt32LE(snaplen, 16);
    h.writeUInt32LE(linkType, 20);
    this.used = GLOBAL_HEADER_LEN;
    this.bytes = GLOBAL_HEADER_LEN;
    if (this.autoFlush) this.flush();
  }

  /** Packets written so far. */
  get packetCount(): number {
    return this.packets;
  }

  /** Bytes of file written so far (headers included), whether or not flushed yet. */
  get byteCount(): number {
    return this.bytes;
  }

  /**
   * Appends one record. The packet's data is copied before returning, so a source's reused
   * buffer may be handed in directly. A packet of another link type than the file's is the
   * caller's mistake (one pcap file has one link type) and throws. `nanos`: the nanoseconds
   * (0-999) below packet.timeUs, kept in a nanosecond file and ignored in a microsecond one.
   */
  write(packet: Packet, nanos = 0): void {
    if (this.closed) throw new Error('PcapWriter: write after close');
    if (packet.linkType !== this.linkType) {
      throw new Error(`PcapWriter: packet of link type ${packet.linkType} in a file of link type ${this.linkType}`);
    }
    const data = packet.data;
    const capLen = data.length < this.snaplen ? data.length : this.snaplen;
    // Out-of-range times or lengths would make the Buffer writes throw; clamp them instead
    // (a capture source should never produce them, and a writer must not crash a capture).
    let timeUs = Math.floor(packet.timeUs);
    if (!(timeUs >= 0)) timeUs = 0;
    let sec = Math.floor(timeUs / 1e6);
    let sub = timeUs - sec * 1e6;
    if (this.nanoseconds) sub = sub * 1000 + (nanos >= 0 && nanos < 1000 ? Math.floor(nanos) : 0);
    if (sec > UINT32_MAX) {
      sec = UINT32_MAX;
      sub = this.nanoseconds ? 999_999_999 : 999_999;
    }
    let origLen = packet.origLen > capLen ? packet.origLen : capLen;
    if (origLen > UINT32_MAX) origLen = UINT32_MAX;

    const need = RECORD_HEADER_LEN + capLen;
    if (this.used + need > this.chunk.length) {
      this.flush();
      // A record bigger than the chunk (snaplen above 256 KiB) gets a chunk of its own size.
      if (need > this.chunk.length) this.chunk = Buffer.allocUnsafe(need);
    }
    const c = this.chunk;
    let o = this.used;
    c.writeUInt32LE(sec, o);
    c.writeUInt32LE(sub, o + 4);
    c.writeUInt32LE(capLen, o + 8);
    c.writeUInt32LE(origLen, o + 12);
    o += RECORD_HEADER_LEN;
    data.copy(c, o, 0, capLen);
    this.used = o + capLen;
    this.packets++;
    this.bytes += need;
    if (this.autoFlush) this.flush();
  }

  /** Writes buffered records out (to the file, or into the stream's buffer). */
  flush(): void {
    if (this.used === 0) return;
    if (this.fd !== null) {
      let off = 0;
      while (off < this.used) off += writeSync(this.fd, this.chunk, off, this.used - off);
    } else if (this.stream) {
      // The stream keeps a reference to what it is given until it is written: hand it a copy
      // so the chunk can be reused at once.
      this.stream.write(Buffer.from(this.chunk.subarray(0, this.used)));
    }
    this.used = 0;
  }

  /**
   * Flushes and closes the file (or ends the stream, see endStream). Resolves once a stream
   * has taken everything; idempotent.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.flush();
    this.closed = true;
    if (this.fd !== null) {
      closeSync(this.fd);
      return Promise.resolve();
    }
    const s = this.stream;
    if (!s || !this.endStream) return Promise.resolve();
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.end(() => resolve());
    });
  }
}
