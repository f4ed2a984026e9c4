/**
 * Ranges, multiranges and anonymous records in binary format, and ranges and multiranges in
 * text format (range_out: "[1,10)", "empty", bounds double-quoted when they hold special
 * characters; multirange_out: "{[1,2),[5,6)}"); a record's text stays text.
 *
 * range_send: Byte flags (0x01 empty, 0x02 lower inclusive, 0x04 upper inclusive, 0x08 lower
 * infinite, 0x10 upper infinite), then each finite bound as Int32 length and the subtype's
 * binary value. Decoded as {empty: true} or {lower, upper, lowerInclusive, upperInclusive},
 * an infinite bound being null. multirange_send: Int32 count, then per range Int32 length and
 * the range. record_send: Int32 column count, then per column Int32 type OID, Int32 length
 * (-1 NULL) and the value: decoded as an array, each value by its own OID.
 */
import type { PgValue } from '../types.js';
import type { ElementDecoder, TextElementDecoder } from './array.js';
import { malformed } from './errors.js';

const EMPTY = 0x01;
const LB_INC = 0x02;
const UB_INC = 0x04;
const LB_INF = 0x08;
const UB_INF = 0x10;

/** Built-in range and multirange types and their subtypes (pg_range.dat). */
export const RANGE_SUBTYPE: ReadonlyMap<number, number> = new Map([
  [3904, 23], [3906, 1700], [3908, 1114], [3910, 1184], [3912, 1082], [3926, 20],
]);
export const MULTIRANGE_RANGE: ReadonlyMap<number, number> = new Map([
  [4451, 3904], [4532, 3906], [4533, 3908], [4534, 3910], [4535, 3912], [4536, 3926],
]);

export function decodeRangeBinary(b: Buffer, subtype: number, decode: ElementDecoder): PgValue {
  if (b.length < 1) malformed('range: no flags');
  const flags = b[0] as number;
  if (flags & ~0x1f) malformed('range: unknown flags');
  if (flags & EMPTY) {
    if (b.length !== 1) malformed('range: bytes after an empty range');
    return { empty: true };
  }
  let off = 1;
  const bound = (infinite: boolean): PgValue => {
    if (infinite) return null;
    if (off + 4 > b.length) malformed('range: bound cut short');
    const len = b.readInt32BE(off);
    off += 4;
    if (len < 0 || off + len > b.length) malformed('range: bound longer than the bytes left');
    const v = decode(subtype, b.subarray(off, off + len));
    off += len;
    return v;
  };
  const lower = bound((flags & LB_INF) !== 0);
  const upper = bound((flags & UB_INF) !== 0);
  if (off !== b.length) malformed('range: bytes after the bounds');
  return { lower, upper, lowerInclusive: (flags & LB_INC) !== 0, upperInclusive: (flags & UB_INC) !== 0 };
}

export function decodeMultirangeBinary(b: Buffer, subtype: number, decode: ElementDecoder): PgValue[] {
  if (b.length < 4) malformed('multirange: count cut short');
  const n = b.readInt32BE(0);
  // Each range takes at least 5 bytes (its length and flags): bound the list by the bytes.
  if (n < 0 || n * 5 > b.length - 4) malformed('multirange: more ranges than bytes');
  const out: PgValue[] = [];
  let off = 4;
  for (let i = 0; i < n; i++) {
    const len = b.readInt32BE(off);
    off += 4;
    if (len < 0 || off + len > b.length) malformed('multirange: range longer than the bytes left');
    out.push(decodeRangeBinary(b.subarray(off, off + len), subtype, decode));
    off += len;
  }
  if (off !== b.length) malformed('multirange: bytes after the last range');
  return out;
}

/** Records nest (a record of arrays of records ...): a hostile value must not exhaust the stack. */
const MAX_RECORD_NESTING = 32;
let recordDepth = 0;

export function decodeRecordBinary(b: Buffer, decode: ElementDecoder): PgValue[] {
  if (recordDepth >= MAX_RECORD_NESTING) malformed('record: nested too deeply');
  recordDepth++;
  try {
    return recordColumns(b, decode);
  } finally {
    recordDepth--;
  }
}

function recordColumns(b: Buffer, decode: ElementDecoder): PgValue[] {
  if (b.length < 4) malformed('record: column count cut short');
  const n = b.readInt32BE(0);
  if (n < 0 || n * 8 > b.length - 4) malformed('record: more columns than bytes');
  const out: PgValue[] = [];
  let off = 4;
  for (let i = 0; i < n; i++) {
    const oid = b.readUInt32BE(off);
    const len = b.readInt32BE(off + 4);
    off += 8;
    if (len === -1) { out.push(null); continue; }
    if (len < 0 || off + len > b.length) malformed('record: column longer than the bytes left');
    out.push(decode(oid, b.subarray(off, off + len)));
    off += len;
  }
  if (off !== b.length) malformed('record: bytes after the last column');
  return out;
}

/** One bound of a text range at `pos`: its text (null when empty: infinite) and where it ends. */
function textBound(s: string, pos: number): { text: string | null; end: number } {
  let text = '';
  let quoted = false;
  let i = pos;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === '"') {
      quoted = true;
      i++;
      for (;;) {
        if (i >= s.length) malformed('range: unterminated quoted bound');
        const q = s[i] as string;
        if (q === '"') {
          if (s[i + 1] === '"') { text += '"'; i += 2; continue; }
          i++;
          break;
        }
        if (q === '\\') {
          if (i + 1 >= s.length) malformed('range: backslash at the end');
          text += s[i + 1];
          i += 2;
          continue;
        }
        text += q;
        i++;
      }
      continue;
    }
    if (c === ',' || c === ')' || c === ']') break;
    if (c === '\\') {
      if (i + 1 >= s.length) malformed('range: backslash at the end');
      text += s[i + 1];
      i += 2;
      continue;
    }
    text += c;
    i++;
  }
  return { text: !quoted && text.length === 0 ? null : text, end: i };
}

/** A text range from `pos`; returns the value and the index after its closing bracket. */
function textRangeAt(s: string, pos: number, subtype: number, decode: TextElementDecoder): { value: PgValue; end: number } {
  if (s.slice(pos, pos + 5).toLowerCase() === 'empty') return { value: { empty: true }, end: pos + 5 };
  const open = s[pos];
  if (open !== '[' && open !== '(') malformed('range: does not start with "[" or "("');
  const lower = textBound(s, pos + 1);
  if (s[lower.end] !== ',') malformed('range: no "," between the bounds');
  const upper = textBound(s, lower.end + 1);
  const close = s[upper.end];
  if (close !== ']' && close !== ')') malformed('range: does not end with "]" or ")"');
  return {
    value: {
      lower: lower.text === null ? null : decode(subtype, lower.text),
      upper: upper.text === null ? null : decode(subtype, upper.text),
      lowerInclusive: open === '[',
      upperInclusive: close === ']',
    },
    end: upper.end + 1,
  };
}

export function decodeRangeText(s: string, subtype: number, decode: TextElementDecoder): PgValue {
  const t = s.trim();
  const r = textRangeAt(t, 0, subtype, decode);
  if (r.end !== t.length) malformed('range: text after the range');
  return r.value;
}

export function decodeMultirangeText(s: string, subtype: number, decode: TextElementDecoder): PgValue[] {
  const t = s.trim();
  if (t[0] !== '{') malformed('multirange: does not start with "{"');
  const out: PgValue[] = [];
  let pos = 1;
  while (t[pos] === ' ') pos++;
  if (t[pos] === '}') {
    if (pos + 1 !== t.length) malformed('multirange: text after "}"');
    return out;
  }
  for (;;) {
    while (t[pos] === ' ') pos++;
    const r = textRangeAt(t, pos, subtype, decode);
    out.push(r.value);
    pos = r.end;
    while (t[pos] === ' ') pos++;
    if (t[pos] === ',') { pos++; continue; }
    if (t[pos] === '}' && pos + 1 === t.length) return out;
    malformed('multirange: expected "," or a final "}"');
  }
}
