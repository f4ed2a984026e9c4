/**
 * Random access to one packet of a capture file by Packet.fileOffset, for viewers that keep
 * only an index and show a frame's bytes on demand (DESIGN.md: the TUI decodes details on
 * demand). It reads exactly what readCapture delivered for that frame: the pcap record's
 * captured bytes, or the pcapng Enhanced / Simple / obsolete Packet Block's data, in the byte
 * order of the block's own section. Any offset that does not hold such a record gives null.
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { detectFormat } from './open.js';
import { BLOCK } from './pcapng.js';
import { MAX_BLOCK, MAX_SNAPLEN, type CaptureFormat } from './types.js';

export class FrameAt {
  private fd: number | null;
  private readonly size: number;
  private readonly format: CaptureFormat;
  /** pcap only: byte order and the largest record the stream reader accepts. */
  private readonly le: boolean = true;
  private readonly maxCaplen: number = MAX_SNAPLEN;
  private readonly head = Buffer.alloc(28);

  /** Opens a capture file; throws a UserError as readCapture would for a missing or non-capture file. */
  constructor(path: string) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') throw new UserError('EACCES', `${path}: permission denied`);
      throw new UserError('ENOENT', `${path}: no such file`);
    }
    this.fd = fd;
    this.size = fstatSync(fd).size;
    const got = readSync(fd, this.head, 0, 24, 0);
    const format = detectFormat(this.head.subarray(0, got));
    if (format === null) {
      this.close();
      throw new UserError('NOT_A_CAPTURE', `${path} is not a pcap or pcapng capture file`);
    }
    this.format = format;
    if (format === 'pcap' && got >= 24) {
      this.le = this.head[0] === 0xd4 || this.head[0] === 0x4d;
      const snaplen = this.le ? this.head.readUInt32LE(16) : this.head.readUInt32BE(16);
      this.maxCaplen = Math.max(MAX_SNAPLEN, Math.min(snaplen, MAX_BLOCK));
    }
  }

  /** The captured bytes of the packet record at `fileOffset` (a copy), or null. */
  read(fileOffset: number): Buffer | null {
    const fd = this.fd;
    if (fd === null || !Number.isInteger(fileOffset) || fileOffset < 0) return null;
    const h = this.head;
    const got = readSync(fd, h, 0, 28, fileOffset);
    let dataAt: number;
    let caplen: number;
    if (this.format === 'pcap') {
      if (fileOffset < 24 || got < 16) return null;
      caplen = this.le ? h.readUInt32LE(8) : h.readUInt32BE(8);
      if (caplen > this.maxCaplen) return null;
      dataAt = fileOffset + 16;
    } else {
      if (got < 12) return null;
      // A block does not say its byte order; its section does. Packet block types read in the
      // wrong order are huge numbers, so the order in which the type makes sense is the one.
      let le = true;
      let type = h.readUInt32LE(0);
      if (!isPacketBlock(type)) {
        le = false;
        type = h.readUInt32BE(0);
        if (!isPacketBlock(type)) return null;
      }
      const len = le ? h.readUInt32LE(4) : h.readUInt32BE(4);
      if (len < 16 || len % 4 !== 0 || len > MAX_BLOCK || fileOffset + len > this.size) return null;
      const tail = Buffer.alloc(4);
      if (readSync(fd, tail, 0, 4, fileOffset + len - 4) !== 4 || (le ? tail.readUInt32LE(0) : tail.readUInt32BE(0)) !== len) return null;
      const u32 = (o: number) => (le ? h.readUInt32LE(o) : h.readUInt32BE(o));
      if (type === BLOCK.SPB) {
        caplen = Math.min(u32(8), len - 16);
        dataAt = fileOffset + 12;
      } else {
        if (len < 32 || got < 28) return null;
        caplen = u32(20);
        if (caplen > len - 32) return null;
        dataAt = fileOffset + 28;
      }
    }
    if (dataAt + caplen > this.size) return null;
    const data = Buffer.alloc(caplen);
    return readSync(fd, data, 0, caplen, dataAt) === caplen ? data : null;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function isPacketBlock(type: number): boolean {
  return type === BLOCK.EPB || type === BLOCK.SPB || type === BLOCK.OPB;
}
