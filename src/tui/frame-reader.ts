/**
 * Re-reads one frame's captured bytes from the capture file by the record offset the
 * pipeline reported (FrameInfo.fileOffset), for the hex pane. pcap: a 16-byte record header
 * (incl_len at +8) then the data; pcapng: an Enhanced Packet Block (captured length at +20,
 * data at +28) or a Simple Packet Block (+8 ... data at +12). Everything is bounds-checked:
 * a damaged file gives null, never a throw or a huge allocation.
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';

const MAX_FRAME = 256 * 1024;

export class FrameReader {
  private fd: number | null = null;
  private kind: 'pcap' | 'pcapng' | null = null;
  private little = true;
  private size = 0;
  constructor(private readonly path: string) {}

  private open(): boolean {
    if (this.fd !== null) return true;
    try {
      this.fd = openSync(this.path, 'r');
      this.size = fstatSync(this.fd).size;
      const head = Buffer.alloc(12);
      readSync(this.fd, head, 0, 12, 0);
      const magic = head.readUInt32LE(0);
      if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) { this.kind = 'pcap'; this.little = true; }
      else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) { this.kind = 'pcap'; this.little = false; }
      else if (magic === 0x0a0d0d0a) { this.kind = 'pcapng'; this.little = head.readUInt32LE(8) === 0x1a2b3c4d; }
      return true;
    } catch {
      this.close();
      return false;
    }
  }

  private u32(b: Buffer, o: number): number {
    return this.little ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }

  read(fileOffset: number): Buffer | null {
    if (fileOffset < 0 || !this.open() || this.fd === null || !this.kind) return null;
    try {
      const head = Buffer.alloc(28);
      const got = readSync(this.fd, head, 0, 28, fileOffset);
      let len: number;
      let dataAt: number;
      if (this.kind === 'pcap') {
        if (got < 16) return null;
        len = this.u32(head, 8);
        dataAt = fileOffset + 16;
      } else {
        if (got < 12) return null;
        const type = this.u32(head, 0);
        if (type === 6 && got >= 28) { len = this.u32(head, 20); dataAt = fileOffset + 28; }
        else if (type === 3) { len = this.u32(head, 4) - 16; dataAt = fileOffset + 12; }
        else return null;
      }
      if (len < 0 || len > MAX_FRAME || dataAt + len > this.size) return null;
      const data = Buffer.alloc(len);
      readSync(this.fd, data, 0, len, dataAt);
      return data;
    } catch {
      return null;
    }
  }

  close(): void {
    if (this.fd !== null) {
      try { closeSync(this.fd); } catch { /* already closed: nothing to release */ }
    }
    this.fd = null;
  }
}

/**
 * Hex dump lines (offset, 16 bytes, ASCII), with [start, start+length) marked for highlighting
 * and the bytes `masked` marks (non-zero) shown as `**` / `*`: secrets the user did not ask to see.
 */
export function hexLines(buf: Buffer, hl: { start: number; length: number } | null, from: number, count: number,
  masked: Uint8Array | null = null): string[] {
  const out: string[] = [];
  const total = Math.ceil(buf.length / 16);
  const hs = hl ? hl.start : -1;
  const he = hl ? hl.start + hl.length : -1;
  for (let line = from; line < Math.min(total, from + count); line++) {
    let hex = '';
    let asc = '';
    for (let k = 0; k < 16; k++) {
      const i = line * 16 + k;
      const sep = k === 8 ? '  ' : k === 0 ? '' : ' ';
      if (i >= buf.length) { hex += sep + '  '; continue; }
      const b = buf[i] as number;
      const hidden = masked !== null && masked[i] !== 0;
      const h = hidden ? '**' : b.toString(16).padStart(2, '0');
      // Printable ASCII only; braces shown as themselves, escaped from blessed's tag parser.
      const ch = hidden ? '*' : b === 0x7b ? '{open}' : b === 0x7d ? '{close}' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      const on = i >= hs && i < he;
      hex += sep + (on ? `{inverse}${h}{/inverse}` : h);
      asc += on ? `{inverse}${ch}{/inverse}` : ch;
    }
    out.push(`${(line * 16).toString(16).padStart(4, '0')}  ${hex}  ${asc}`);
  }
  return out;
}
