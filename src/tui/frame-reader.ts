/**
 * The hex pane's frame bytes, re-read from the capture file by the record offset the pipeline
 * reported (FrameInfo.fileOffset): src/capture/frame-at.ts reads them (the one frame re-reader),
 * opened on first use. A file that cannot be opened, or any offset that holds no frame, reads
 * as null: the pane shows nothing rather than an error.
 */
import { FrameAt } from '../capture/frame-at.js';

export class FrameReader {
  /** undefined: not opened yet; null: cannot be opened. */
  private at: FrameAt | null | undefined = undefined;
  constructor(private readonly path: string) {}

  read(fileOffset: number): Buffer | null {
    if (this.at === undefined) {
      try {
        this.at = new FrameAt(this.path);
      } catch {
        this.at = null;
      }
    }
    return this.at === null ? null : this.at.read(fileOffset);
  }

  close(): void {
    this.at?.close();
    this.at = undefined;
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
