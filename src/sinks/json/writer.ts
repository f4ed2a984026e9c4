/**
 * A growable byte buffer that JSON is written into directly, for the NDJSON export's hot path
 * (message-writer.ts): numbers as digits, wire strings from their UTF-8 bytes with only the
 * escapes JSON.stringify would make, constant key runs copied from pre-encoded bytes. Its
 * output for a value is byte for byte what JSON.stringify gives for the same value, which
 * test/ndjson-fast.test.ts checks on every sample and public capture.
 *
 * A record is written whole or not at all: the caller notes `pos`, and on finding something
 * the fast path does not handle (a malformed body, a rare layout) sets it back and lets the
 * generic path build the record.
 */
import { isUtf8 } from 'node:buffer';
import { isoSecondPrefix, isoTime } from '../../core/time.js';

/** JSON.stringify's escapes for the control characters; other bytes below 0x20 become \u00XX. */
const SHORT_ESCAPE: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Bytes that may be copied into a JSON string as they are: ASCII from space up (DEL included) other than `"` and `\`. */
export const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) PLAIN[c] = c === 0x22 || c === 0x5c ? 0 : 1;

/** Nesting beyond this is left to JSON.stringify (decoded json/jsonb values can nest deeply). */
const MAX_DEPTH = 64;
const KEYS = new Map<string, Buffer>();

export class JsonWriter {
  buf: Buffer;
  pos = 0;
  /** The size the buffer returns to after a record that made it grow. */
  private readonly base: number;

  constructor(size: number) {
    this.base = size;
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Make room for n more bytes (a record larger than the buffer grows it). */
  need(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** After a flush: give back a buffer that one large record made large. */
  reset(): void {
    this.pos = 0;
    if (this.buf.length > this.base) this.buf = Buffer.allocUnsafe(this.base);
  }

  byte(c: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = c;
  }

  /** Pre-encoded bytes (keys, punctuation). */
  raw(b: Uint8Array): void {
    const n = b.length;
    this.need(n);
    const buf = this.buf;
    let p = this.pos;
    // Short runs: a loop beats the call into TypedArray#set.
    if (n <= 8) for (let i = 0; i < n; i++) buf[p++] = b[i];
    else {
      buf.set(b, p);
      p += n;
    }
    this.pos = p;
  }

  /** A string known to be ASCII and to need no escaping (digits, ISO times, names from tables). */
  ascii(s: string): void {
    const n = s.length;
    this.need(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** A number as JSON.stringify writes it (integers in safe range by digits, others through String). */
  number(n: number): void {
    if (n >= 0 && n < 1e9 && (n | 0) === n) {
      this.uint(n);
      return;
    }
    this.ascii(Number.isFinite(n) ? (Object.is(n, -0) ? '0' : String(n)) : 'null');
  }

  /**
   * Milliseconds as the pipeline makes them (integer microseconds / 1000), as JSON.stringify
   * writes them: the integer part, then up to three decimals without trailing zeros. Such a
   * number prints as that decimal (it is the double nearest to it, and a decimal of so few
   * digits is the shortest that reads back as it); any other number goes through number().
   */
  millis(ms: number): void {
    const us = Math.round(ms * 1000);
    if (!(us >= 0 && us < 1e12 && us / 1000 === ms)) {
      this.number(ms);
      return;
    }
    const whole = Math.floor(us / 1000);
    let frac = us - whole * 1000;
    if (whole < 1e9) this.uint(whole);
    else this.ascii(String(whole));
    if (frac === 0) return;
    let digits = 3;
    while (frac % 10 === 0) {
      frac /= 10;
      digits--;
    }
    this.need(digits + 1);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x2e;
    p += digits;
    this.pos = p;
    for (let i = 0; i < digits; i++) {
      const q = Math.floor(frac / 10);
      buf[--p] = 0x30 + frac - q * 10;
      frac = q;
    }
  }

  /** A non-negative integer below 1e9. */
  private uint(n: number): void {
    let digits = 1;
    for (let t = n; t >= 10; t = (t / 10) | 0) digits++;
    this.need(digits);
    const buf = this.buf;
    let p = this.pos + digits;
    this.pos = p;
    do {
      const q = (n / 10) | 0;
      buf[--p] = 0x30 + n - q * 10;
      n = q;
    } while (n > 0);
  }

  /**
   * bytes[start, end) (UTF-8 from the wire) as a JSON string: what JSON.stringify gives for
   * bytes.toString('utf8', start, end). Invalid UTF-8 goes through that decode, so its
   * replacement characters come out the same.
   */
  utf8String(bytes: Buffer, start: number, end: number): void {
    const mark = this.pos;
    // Worst case: every byte a \u00XX escape.
    this.need((end - start) * 6 + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    let wide = false;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (PLAIN[c] === 1) buf[p++] = c;
      else if (c >= 0x80) {
        wide = true;
        buf[p++] = c;
      } else {
        buf[p++] = 0x5c;
        const short = c === 0x22 || c === 0x5c ? c : SHORT_ESCAPE[c];
        if (short !== undefined) buf[p++] = short;
        else {
          buf[p++] = 0x75; buf[p++] = 0x30; buf[p++] = 0x30;
          buf[p++] = HEX[c >> 4]; buf[p++] = HEX[c & 15];
        }
      }
    }
    buf[p++] = 0x22;
    this.pos = p;
    if (wide && !isUtf8(bytes.subarray(start, end))) {
      this.pos = mark;
      this.string(bytes.toString('utf8', start, end));
    }
  }

  /** A JS string as JSON.stringify quotes it. */
  string(s: string): void {
    this.stringSlice(s, 0, s.length);
  }

  /** s.slice(from, to) as JSON.stringify quotes it, without making the slice when it is printable ASCII. */
  stringSlice(s: string, from: number, to: number): void {
    // Printable ASCII is copied char by char; anything else, JSON.stringify's escapes and UTF-8.
    this.need(to - from + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    for (let i = from; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80 || PLAIN[c] !== 1) {
        this.utf8(JSON.stringify(from === 0 && to === s.length ? s : s.slice(from, to)));
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** "\x" followed by the bytes in lowercase hex, as a JSON string (bytea and unknown binary values). */
  hexString(bytes: Buffer, start: number, end: number): void {
    this.need((end - start) * 2 + 5);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22; buf[p++] = 0x5c; buf[p++] = 0x5c; buf[p++] = 0x78;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      buf[p++] = HEX[c >> 4];
      buf[p++] = HEX[c & 15];
    }
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** Any JSON-compatible value, as JSON.stringify writes it. */
  value(v: unknown, depth = 0): void {
    if (v === null) this.ascii('null');
    else if (typeof v === 'string') this.string(v);
    else if (typeof v === 'number') this.number(v);
    else if (typeof v === 'boolean') this.ascii(v ? 'true' : 'false');
    else if (typeof v === 'object' && depth < MAX_DEPTH && typeof (v as { toJSON?: unknown }).toJSON !== 'function') {
      if (Array.isArray(v)) this.array(v, depth + 1);
      else this.object(v as Record<string, unknown>, depth + 1);
    }
    // toJSON, deep nesting, undefined, bigint: JSON.stringify's own rules (and errors).
    else this.utf8(JSON.stringify(v) ?? 'null');
  }

  private array(a: readonly unknown[], depth: number): void {
    this.byte(0x5b);
    for (let i = 0; i < a.length; i++) {
      if (i > 0) this.byte(0x2c);
      const e = a[i];
      // JSON.stringify writes holes, undefined and functions in arrays as null.
      if (e === undefined || typeof e === 'function' || typeof e === 'symbol') this.ascii('null');
      else this.value(e, depth);
    }
    this.byte(0x5d);
  }

  /**
   * A plain object (a record, a decoded message's fields) without making its JSON string first:
   * own enumerable keys in their order, keys whose value JSON.stringify leaves out left out.
   */
  object(o: Record<string, unknown>, depth = 1): void {
    this.byte(0x7b);
    this.members(o, null, false, depth);
    this.byte(0x7d);
  }

  /**
   * The members of `o` but `skip`, each preceded by a comma: they continue an object already
   * open (a message record's decoded fields after its envelope).
   */
  fieldsAfter(o: object, skip: string): void {
    this.members(o as Record<string, unknown>, skip, true, 1);
  }

  private members(o: Record<string, unknown>, skip: string | null, comma: boolean, depth: number): void {
    // Object.keys: own enumerable string keys in JSON.stringify's order.
    const keys = Object.keys(o);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k === skip) continue;
      const v = o[k];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      if (comma) this.byte(0x2c);
      comma = true;
      this.key(k);
      this.value(v, depth);
    }
  }

  /** `"k":`, from a cache of encoded keys (bounded: keys can come from the wire). */
  private key(k: string): void {
    let b = KEYS.get(k);
    if (b === undefined) {
      b = Buffer.from(JSON.stringify(k) + ':', 'utf8');
      if (KEYS.size < 4096) KEYS.set(k, b);
    }
    this.raw(b);
  }

  /**
   * A capture time as isoTime (src/core/time.ts) writes it, quoted: the date and time of day
   * from isoSecondPrefix (cached per second), the microseconds as six digits, no string made.
   */
  isoTime(timeUs: number): void {
    if (!Number.isSafeInteger(timeUs)) {
      this.string(isoTime(timeUs));
      return;
    }
    const second = Math.floor(timeUs / 1_000_000);
    const prefix = isoSecondPrefix(second);
    const n = prefix.length;
    this.need(n + 10);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    for (let i = 0; i < n; i++) buf[p++] = prefix.charCodeAt(i);
    buf[p++] = 0x2e; // .
    let us = timeUs - second * 1_000_000;
    for (let i = p + 5; i >= p; i--) {
      const q = (us / 10) | 0;
      buf[i] = 0x30 + us - q * 10;
      us = q;
    }
    p += 6;
    buf[p++] = 0x5a; // Z
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** A string already in JSON form. */
  utf8(s: string): void {
    this.need(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
}
