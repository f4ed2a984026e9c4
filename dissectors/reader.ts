/**
 * A bounds-checked cursor over one message body (pg-protocol's BufferReader, made safe for
 * hostile input). Every read names the field it reads (a FieldDef from fields.ts), so the same
 * decoder code serves two purposes:
 *
 *  - the hot path (trace off): reads return plain values and nothing else is recorded;
 *  - the field tree and Malformed `partial` (trace on): every read also records a Span with the
 *    field, its byte range and its value.
 *
 * Faults never throw. The first fault is recorded (kind, reason, offset) and every later read
 * returns a neutral value (0, '', an empty buffer) without moving, so a decoder runs to its end
 * and the caller (dissect.ts) turns the result into a Malformed record. Loops in decoders stop
 * on `!r.ok`, and counts are checked against the bytes left before anything is allocated, so a
 * hostile count cannot make a decoder loop or allocate beyond the body's size.
 */
import type { FieldDef, SpanValue } from './fields.js';

type FaultKind = 'truncated' | 'trailing' | 'invalid';

/** One field's bytes within the body (offsets are body offsets), recorded when tracing. */
export interface Span {
  field: FieldDef;
  offset: number;
  length: number;
  value: SpanValue;
  /** Index within a repeated group or list (0-based), or -1. */
  index: number;
  /** Children of a group span (a Bind parameter, a RowDescription column ...), else null. */
  children: Span[] | null;
}

const EMPTY = Buffer.alloc(0);

export class Reader {
  readonly buf: Buffer;
  pos = 0;
  readonly end: number;
  fault: FaultKind | null = null;
  reason = '';
  /** Body offset where the fault was found. */
  faultOffset = -1;
  /** Recorded spans (top level) when tracing, else null. */
  trace: Span[] | null = null;
  /** Open groups while tracing: the innermost is last. */
  private groups: Span[] | null = null;
  /** Whether secrets may be shown: decoders read it to redact what they produce. */
  showSecrets = false;

  constructor(buf: Buffer, tracing = false) {
    this.buf = buf;
    this.end = buf.length;
    if (tracing) {
      this.trace = [];
      this.groups = [];
    }
  }

  get ok(): boolean {
    return this.fault === null;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  /** Record a fault (the first one wins) and stop reading. */
  fail(kind: FaultKind, reason: string, at = this.pos): void {
    if (this.fault !== null) return;
    this.fault = kind;
    this.reason = reason;
    this.faultOffset = at;
  }

  private need(n: number, f: FieldDef): boolean {
    if (this.fault !== null) return false;
    if (this.end - this.pos < n) {
      this.fail('truncated', `${f.label}: needs ${n} byte${n === 1 ? '' : 's'} at offset ${this.pos}, ${this.end - this.pos} left`);
      return false;
    }
    return true;
  }

  private record(f: FieldDef, offset: number, value: SpanValue, index: number): void {
    const span: Span = { field: f, offset, length: this.pos - offset, value, index, children: null };
    const groups = this.groups!;
    if (groups.length > 0) groups[groups.length - 1].children!.push(span);
    else this.trace!.push(span);
  }

  u8(f: FieldDef, index = -1): number {
    if (!this.need(1, f)) return 0;
    const v = this.buf[this.pos++];
    if (this.trace !== null) this.record(f, this.pos - 1, v, index);
    return v;
  }

  i16(f: FieldDef, index = -1): number {
    if (!this.need(2, f)) return 0;
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    if (this.trace !== null) this.record(f, this.pos - 2, v, index);
    return v;
  }

  i32(f: FieldDef, index = -1): number {
    if (!this.need(4, f)) return 0;
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    if (this.trace !== null) this.record(f, this.pos - 4, v, index);
    return v;
  }

  /** Unsigned Int32 (OIDs). */
  u32(f: FieldDef, index = -1): number {
    if (!this.need(4, f)) return 0;
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    if (this.trace !== null) this.record(f, this.pos - 4, v, index);
    return v;
  }

  /** A NUL-terminated string, decoded as UTF-8. A string that runs to the end of the body without its NUL is a fault. */
  cstr(f: FieldDef, index = -1): string {
    if (this.fault !== null) return '';
    const start = this.pos;
    const nul = this.buf.indexOf(0, start);
    if (nul < 0 || nul >= this.end) {
      this.fail('truncated', `${f.label}: string at offset ${start} has no terminating NUL`);
      return '';
    }
    const v = this.buf.toString('utf8', start, nul);
    this.pos = nul + 1;
    if (this.trace !== null) this.record(f, start, v, index);
    return v;
  }

  /** n bytes, as a view into the body (valid as long as the body is). */
  bytes(f: FieldDef, n: number, index = -1): Buffer {
    if (n < 0) {
      this.fail('invalid', `${f.label}: negative length ${n}`);
      return EMPTY;
    }
    if (!this.need(n, f)) return EMPTY;
    const start = this.pos;
    this.pos += n;
    const v = this.buf.subarray(start, this.pos);
    if (this.trace !== null) this.record(f, start, null, index);
    return v;
  }

  /**
   * Step over n bytes and return where they start (or -1 on a fault): for callers that read
   * the bytes in place, sparing the Buffer view that bytes() allocates.
   */
  skip(f: FieldDef, n: number, index = -1): number {
    if (n < 0) {
      this.fail('invalid', `${f.label}: negative length ${n}`);
      return -1;
    }
    if (!this.need(n, f)) return -1;
    const start = this.pos;
    this.pos += n;
    if (this.trace !== null) this.record(f, start, null, index);
    return start;
  }

  /** Every byte left (the "rest of the message" fields). */
  rest(f: FieldDef): Buffer {
    return this.bytes(f, this.fault === null ? this.end - this.pos : 0);
  }

  /**
   * Check that `count` items of at least `minEach` bytes can still fit before a decoder
   * allocates for them; a negative count is invalid.
   */
  fits(f: FieldDef, count: number, minEach: number): boolean {
    if (this.fault !== null) return false;
    if (count < 0) {
      this.fail('invalid', `${f.label}: negative count ${count}`, this.pos - 2);
      return false;
    }
    if (count * minEach > this.end - this.pos) {
      this.fail('truncated', `${f.label}: ${count} items need at least ${count * minEach} bytes, ${this.end - this.pos} left`);
      return false;
    }
    return true;
  }

  /** Begin a group span (tracing only; free otherwise). */
  open(f: FieldDef, index = -1): void {
    if (this.trace === null) return;
    const span: Span = { field: f, offset: this.pos, length: 0, value: null, index, children: [] };
    const groups = this.groups!;
    if (groups.length > 0) groups[groups.length - 1].children!.push(span);
    else this.trace.push(span);
    groups.push(span);
  }

  /** End the innermost group; `value` becomes its display value (e.g. a decoded parameter). */
  close(value: SpanValue = null): void {
    if (this.trace === null) return;
    const span = this.groups!.pop();
    if (span === undefined) return;
    span.length = this.pos - span.offset;
    span.value = value;
  }

  /** Replace the value of the span recorded last (a typed value decoded from raw bytes). */
  note(value: SpanValue): void {
    if (this.trace === null) return;
    const groups = this.groups!;
    const list = groups.length > 0 ? groups[groups.length - 1].children! : this.trace;
    if (list.length > 0) list[list.length - 1].value = value;
  }

  /** After the last field: bytes left over are a fault (STYLE.md: nothing left unread unnoticed). */
  finish(): void {
    if (this.fault === null && this.pos < this.end) {
      const n = this.end - this.pos;
      this.fail('trailing', `${n} unread byte${n === 1 ? '' : 's'} after the last field`);
    }
  }
}
