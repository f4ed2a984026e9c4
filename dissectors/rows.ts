/**
 * DataRow ("Message Formats") read from its body range, src[start, end): the column count, then
 * per column an Int32 length (-1: NULL) and that many bytes. The rows are most of a result's
 * bytes, so this reader makes nothing per row: it finds each value's range (RowCells, one
 * scratch reused), and says how the value each range decodes to relates to its bytes
 * (valueKind). dissect() builds the DataRow object from these (dataRowRange, Entry.direct); the
 * NDJSON export writes the same values as JSON straight from the ranges without that object.
 * Both read the row here; the Reader's decoder (simple-query.ts) reads it when tracing and
 * reports what is wrong with a row this reader refuses. test/dissectors-ranges.test.ts holds
 * both ways to the same answers.
 */
import { decodeValue, typeName } from './values/index.js';
import { textIsVerbatim } from './values/text.js';
import type { DataRow, DissectContext, PgValue, TypedValue } from './types.js';

/** The type name a value of this OID carries in a record (null for OID 0, unknown). */
export { typeName };

/** Where a DataRow's values lie: value i is src[starts[i], ends[i]), or NULL when ends[i] is -1. */
export class RowCells {
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);

  reserve(n: number): void {
    if (n <= this.starts.length) return;
    // At most 32,767 values (an Int16 count).
    let size = this.starts.length;
    while (size < n) size *= 2;
    this.starts = new Int32Array(size);
    this.ends = new Int32Array(size);
  }
}

/** Int32 at p (signed), the caller having checked p + 4 <= end. */
function int32(src: Buffer, p: number): number {
  return (src[p]! << 24) | (src[p + 1]! << 16) | (src[p + 2]! << 8) | src[p + 3]!;
}

/**
 * A DataRow's value ranges into `cells`; false when src[start, end) is not a count, that many
 * values and nothing after (the Reader's decoder then says what is wrong).
 */
export function dataRowCells(src: Buffer, start: number, end: number, cells: RowCells): boolean {
  if (end - start < 2) return false;
  const n = ((src[start]! << 24) | (src[start + 1]! << 16)) >> 16;
  if (n < 0 || n * 4 > end - start - 2) return false;
  cells.reserve(n);
  const starts = cells.starts;
  const ends = cells.ends;
  let p = start + 2;
  for (let i = 0; i < n; i++) {
    if (end - p < 4) return false;
    const len = int32(src, p);
    p += 4;
    if (len === -1) {
      starts[i] = p;
      ends[i] = -1;
      continue;
    }
    if (len < -1 || len > end - p) return false;
    starts[i] = p;
    p += len;
    ends[i] = p;
  }
  if (p !== end) return false;
  cells.count = n;
  return true;
}

/** How the value a range decodes to (cellValue) relates to its bytes. */
export const enum ValueKind {
  /** The bytes' UTF-8 text. */
  Text = 0,
  /** "\\x" and the bytes in lowercase hex (binary of an unknown type). */
  Hex = 1,
  /** A number, written in JSON exactly as the bytes are (canonical decimal integer). */
  Number = 2,
  True = 3,
  False = 4,
  /** Anything else: cellValue decodes it. */
  Decoded = 5,
}

const OID_BOOL = 16;
const OID_INT2 = 21;
const OID_INT4 = 23;
const OID_OID = 26;

/**
 * Whether src[s, e) is an integer as JSON.stringify prints the number the text decoder makes of
 * it: no sign but '-', no leading zero, within [min, max]. Anything else (and "-0") is Decoded.
 */
function canonicalInteger(b: Buffer, s: number, e: number, min: number, max: number): boolean {
  let i = s;
  const neg = b[i] === 0x2d;
  if (neg) i++;
  const digits = e - i;
  if (digits < 1 || digits > 10) return false;
  if (b[i] === 0x30 && (digits > 1 || neg)) return false;
  let n = 0;
  for (; i < e; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return false;
    n = n * 10 + d;
  }
  if (neg) n = -n;
  return n >= min && n <= max;
}

/** How the value of type `oid` in `format` at src[s, e) relates to its bytes (not NULL). */
export function valueKind(oid: number, format: 'text' | 'binary', src: Buffer, s: number, e: number): ValueKind {
  if (oid === 0) return format === 'text' ? ValueKind.Text : ValueKind.Hex;
  if (format !== 'text') return ValueKind.Decoded;
  if (textIsVerbatim(oid)) return ValueKind.Text;
  if ((oid === OID_INT4 && canonicalInteger(src, s, e, -2147483648, 2147483647))
    || (oid === OID_INT2 && canonicalInteger(src, s, e, -32768, 32767))
    || (oid === OID_OID && canonicalInteger(src, s, e, 0, 4294967295))) return ValueKind.Number;
  if (oid === OID_BOOL && e - s === 1) {
    if (src[s] === 0x74) return ValueKind.True;
    if (src[s] === 0x66) return ValueKind.False;
  }
  return ValueKind.Decoded;
}

/** The value of type `oid` in `format` at src[s, e) (not NULL), as the Reader's decoder reads it (typed.ts). */
export function cellValue(oid: number, format: 'text' | 'binary', src: Buffer, s: number, e: number): PgValue {
  if (oid !== 0) return decodeValue(oid, format, src.subarray(s, e));
  return format === 'text' ? src.toString('utf8', s, e) : '\\x' + src.toString('hex', s, e);
}

/** dataRowRange's scratch: used and done with inside one call. */
const CELLS = new RowCells();

/** DataRow typed by the result's columns (ctx.resultColumns), or null when it is not well formed. */
export function dataRowRange(src: Buffer, start: number, end: number, ctx: DissectContext): DataRow | null {
  const cells = CELLS;
  if (!dataRowCells(src, start, end, cells)) return null;
  const n = cells.count;
  const values: TypedValue[] = [];
  if (ctx.decodeRows === false) return { type: 'DataRow', values, columnCount: n, valuesOmitted: true };
  const cols = ctx.resultColumns();
  for (let i = 0; i < n; i++) {
    const col = cols !== undefined && i < cols.length ? cols[i] : undefined;
    const oid = col !== undefined ? col.typeOid : 0;
    const format = col !== undefined ? col.format : 'text';
    const e = cells.ends[i]!;
    values.push({ oid, typeName: oid === 0 ? null : typeName(oid), format, value: e < 0 ? null : cellValue(oid, format, src, cells.starts[i]!, e) });
  }
  return { type: 'DataRow', values };
}
