/**
 * A bounds-checked cursor over one CopyData payload. A read past the end throws OutOfBytes,
 * which the decoders in this folder catch and report; it never leaves dissectors/copy.
 */
import { lsnValue } from '../values/binary.js';
import { timestampAt } from '../values/datetime.js';

/** Not an Error: no stack trace to capture, since hostile or foreign payloads fail often. */
export class OutOfBytes {
  readonly message: string;
  constructor(what: string) {
    this.message = `${what}: payload ends early`;
  }
}

export class Cursor {
  pos: number;
  constructor(readonly buf: Buffer, start = 0, readonly end = buf.length) {
    this.pos = start;
  }

  get left(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new OutOfBytes(what);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  i16(what: string): number {
    this.need(2, what);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** An XLogRecPtr as PostgreSQL prints it: "16/B374D848". */
  lsn(what: string): string {
    this.need(8, what);
    const v = lsnValue(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  /** A TimestampTz (µs since 2000-01-01) as ISO 8601 UTC. */
  time(what: string): string {
    this.need(8, what);
    const v = timestampAt(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  /** A NUL-terminated string; the scan stops at the payload's end. */
  cstr(what: string): string {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw new OutOfBytes(what);
    const s = this.buf.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}
