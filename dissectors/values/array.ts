/**
 * Arrays in both formats. Both give nested JS arrays, one level per dimension, NULL as null.
 * Lower bounds other than 1 are not kept (a JS array has none); the values are.
 *
 * Binary (array_send): Int32 ndim, Int32 flags (1: has NULLs), Int32 element OID, ndim x
 * (Int32 length, Int32 lower bound), then every element in row-major order as Int32 length
 * (-1 for NULL) and that many bytes in the element type's binary format.
 *
 * Text (array_out): "{1,2,NULL}", "{{1,2},{3,4}}", optionally preceded by bounds
 * "[0:1]={...}". Elements are unquoted (surrounding spaces ignored, NULL is a null) or double
 * quoted ("NULL" is the string); a backslash takes the next character literally in both.
 */
import type { PgValue } from '../types.js';
import { malformed } from './errors.js';
import { elementOid } from './oids.js';

/** PostgreSQL's MAXDIM. */
const MAX_DIMENSIONS = 6;

export type ElementDecoder = (oid: number, bytes: Buffer) => PgValue;
export type TextElementDecoder = (oid: number, text: string) => PgValue;

export function decodeArrayBinary(b: Buffer, decodeElement: ElementDecoder): PgValue[] {
  if (b.length < 12) malformed('array: header needs 12 bytes');
  const ndim = b.readInt32BE(0);
  const flags = b.readInt32BE(4);
  const elemOid = b.readUInt32BE(8);
  if (ndim < 0 || ndim > MAX_DIMENSIONS) malformed(`array: ${ndim} dimensions`);
  if ((flags & ~1) !== 0) malformed('array: unknown flags');
  // Dimensions are in the header: an element that is itself an array is never sent, and
  // following it would let a hostile value recurse without bound.
  if (elementOid(elemOid) !== 0) malformed('array: elements of an array type');
  if (ndim === 0) {
    if (b.length !== 12) malformed('array: bytes after an empty array');
    return [];
  }
  if (b.length < 12 + ndim * 8) malformed('array: dimensions cut short');
  const dims: number[] = [];
  // Every element costs at least its 4-byte length word: checking the product against the
  // bytes present bounds the allocation by the message size, whatever the header claims.
  const budget = (b.length - 12 - ndim * 8) / 4;
  let total = 1;
  for (let d = 0; d < ndim; d++) {
    const len = b.readInt32BE(12 + d * 8);
    if (len < 0) malformed('array: negative dimension');
    total *= len;
    if (total > budget) malformed('array: more elements than bytes');
    dims.push(len);
  }
  const pos = { off: 12 + ndim * 8 };
  const out = readLevel(b, dims, 0, pos, elemOid, decodeElement);
  if (pos.off !== b.length) malformed('array: bytes after the last element');
  return out;
}

function readLevel(b: Buffer, dims: number[], level: number, pos: { off: number }, elemOid: number, decodeElement: ElementDecoder): PgValue[] {
  const n = dims[level] as number;
  const out: PgValue[] = new Array<PgValue>(n);
  const last = level === dims.length - 1;
  for (let i = 0; i < n; i++) {
    if (!last) {
      out[i] = readLevel(b, dims, level + 1, pos, elemOid, decodeElement);
      continue;
    }
    if (pos.off + 4 > b.length) malformed('array: element length cut short');
    const len = b.readInt32BE(pos.off);
    pos.off += 4;
    if (len === -1) {
      out[i] = null;
      continue;
    }
    if (len < 0 || pos.off + len > b.length) malformed('array: element longer than the bytes left');
    out[i] = decodeElement(elemOid, b.subarray(pos.off, pos.off + len));
    pos.off += len;
  }
  return out;
}

const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const OPEN = 0x7b;
const CLOSE = 0x7d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

/** Parser state for one text array literal. */
class TextArrayParser {
  pos = 0;
  constructor(private readonly s: string, private readonly delim: number, private readonly elemOid: number,
    private readonly decodeElement: TextElementDecoder) {}

  skipSpace(): void {
    while (this.pos < this.s.length && isSpace(this.s.charCodeAt(this.pos))) this.pos++;
  }

  /** At a '{': the array up to and including its '}'. */
  level(depth: number): PgValue[] {
    if (depth > MAX_DIMENSIONS) malformed('array: too many dimensions');
    this.pos++;
    const out: PgValue[] = [];
    this.skipSpace();
    if (this.s.charCodeAt(this.pos) === CLOSE) {
      this.pos++;
      return out;
    }
    let nested: boolean | null = null;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.s.length) malformed('array: unterminated');
      const isSub = this.s.charCodeAt(this.pos) === OPEN;
      if (nested === null) nested = isSub;
      else if (nested !== isSub) malformed('array: mixed sub-arrays and elements');
      out.push(isSub ? this.level(depth + 1) : this.element());
      this.skipSpace();
      const c = this.s.charCodeAt(this.pos);
      this.pos++;
      if (c === this.delim) continue;
      if (c === CLOSE) return out;
      malformed('array: expected a delimiter or "}"');
    }
  }

  element(): PgValue {
    const s = this.s;
    let text = '';
    if (s.charCodeAt(this.pos) === QUOTE) {
      this.pos++;
      let start = this.pos;
      for (;;) {
        if (this.pos >= s.length) malformed('array: unterminated quoted element');
        const c = s.charCodeAt(this.pos);
        if (c === QUOTE) break;
        if (c === BACKSLASH) {
          text += s.slice(start, this.pos);
          this.pos++;
          if (this.pos >= s.length) malformed('array: backslash at the end');
          start = this.pos;
        }
        this.pos++;
      }
      text += s.slice(start, this.pos);
      this.pos++;
      return this.decodeElement(this.elemOid, text);
    }
    // Unquoted: up to the delimiter or '}'. Trailing unescaped white space is not part of it.
    let start = this.pos;
    let keep = 0;
    let escaped = false;
    for (;;) {
      if (this.pos >= s.length) malformed('array: unterminated');
      const c = s.charCodeAt(this.pos);
      if (c === this.delim || c === CLOSE) break;
      if (c === OPEN || c === QUOTE) malformed('array: unexpected character in an element');
      if (c === BACKSLASH) {
        text += s.slice(start, this.pos);
        this.pos++;
        if (this.pos >= s.length) malformed('array: backslash at the end');
        escaped = true;
        start = this.pos;
        this.pos++;
        keep = text.length + 1;
        continue;
      }
      this.pos++;
      if (!isSpace(c)) keep = text.length + (this.pos - start);
    }
    text = (text + s.slice(start, this.pos)).slice(0, keep);
    if (text.length === 0) malformed('array: empty unquoted element');
    if (!escaped && text.length === 4 && text.toUpperCase() === 'NULL') return null;
    return this.decodeElement(this.elemOid, text);
  }
}

/** Parse a text array literal; elements go through `decodeElement` with the element OID. */
export function decodeArrayText(s: string, elemOid: number, delim: string, decodeElement: TextElementDecoder): PgValue[] {
  const p = new TextArrayParser(s, delim.charCodeAt(0), elemOid, decodeElement);
  p.skipSpace();
  if (s.charCodeAt(p.pos) === 0x5b) {
    // Explicit bounds, "[1:2][0:1]=": the lower bounds are not kept (see above).
    const eq = s.indexOf('=', p.pos);
    if (eq < 0) malformed('array: bounds without "="');
    p.pos = eq + 1;
    p.skipSpace();
  }
  if (s.charCodeAt(p.pos) !== OPEN) malformed('array: does not start with "{"');
  const out = p.level(1);
  p.skipSpace();
  if (p.pos !== s.length) malformed('array: text after the closing "}"');
  return out;
}
