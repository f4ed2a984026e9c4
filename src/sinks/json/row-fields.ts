/**
 * The two bodies that make most of an export's bytes, written as JSON straight from the wire
 * (message-writer.ts writes the rest of the record): DataRow values typed by the result's
 * columns, and text-format COPY rows split into fields. Each returns false, having written
 * nothing the caller keeps, for anything it does not write exactly as the decoder's record
 * would read (dissectors/typed.ts, dissectors/copy/text-rows.ts): the caller then decodes.
 */
import type { ColumnDescription, DissectContext, RawMessage } from '../../../dissectors/types.js';
import { copyCsvSettled, copyIsCsv, DEFAULT_MAX_ROWS, type CopyHints } from '../../../dissectors/copy/index.js';
import { unescapeField } from '../../../dissectors/copy/text-rows.js';
import { decodeTextValue, decodeValue, typeName } from '../../../dissectors/values/index.js';
import { textIsVerbatim } from '../../../dissectors/values/text.js';
import { type JsonWriter, PLAIN } from './writer.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

const NULL = enc('null');
const VALUES = enc(',"values":[');
const SIZE = enc(',"size":');
const TEXT_ROWS = enc(',"format":"text","rows":[');
const ROW_COUNT = enc('],"rowCount":');

const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const BACKSLASH = 0x5c;

/** The JSON of a value's envelope in a DataRow (`{"oid":…,"typeName":…,"format":…,"value":`), per column. */
const columnPrefixes = new WeakMap<readonly ColumnDescription[], Buffer[]>();
/**
 * By type and format: a client that describes each execution (pgbench's extended protocol)
 * gets a new RowDescription, so a new column list, every time. Bounded: OIDs come from the wire.
 */
const prefixByType = new Map<number, Buffer>();
const MAX_PREFIXES = 4096;
const UNKNOWN_TEXT_COLUMN = valuePrefix(0, 'text');

function valuePrefix(oid: number, format: 'text' | 'binary'): Buffer {
  const k = oid * 2 + (format === 'binary' ? 1 : 0);
  let p = prefixByType.get(k);
  if (p === undefined) {
    const json = JSON.stringify({ oid, typeName: oid === 0 ? null : typeName(oid), format, value: 0 });
    p = enc(json.slice(0, -2));
    if (prefixByType.size >= MAX_PREFIXES) prefixByType.clear();
    prefixByType.set(k, p);
  }
  return p;
}

function prefixesFor(cols: readonly ColumnDescription[]): Buffer[] {
  let p = columnPrefixes.get(cols);
  if (p === undefined) {
    p = new Array<Buffer>(cols.length);
    for (let i = 0; i < cols.length; i++) p[i] = valuePrefix(cols[i]!.typeOid, cols[i]!.format);
    columnPrefixes.set(cols, p);
  }
  return p;
}

const OID_BOOL = 16;
const OID_INT2 = 21;
const OID_INT4 = 23;
const OID_OID = 26;

/**
 * Whether bytes[s, e) are an integer as JSON.stringify would print the number decodeText makes
 * of them: no sign but '-', no leading zero, within [min, max]. Anything else (and "-0") takes
 * the decoder's way.
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
    const d = b[i] - 0x30;
    if (d < 0 || d > 9) return false;
    n = n * 10 + d;
  }
  if (neg) n = -n;
  return n >= min && n <= max;
}

/** One DataRow value as readTypedValue decodes it (dissectors/typed.ts), written as JSON. */
function writeValue(w: JsonWriter, oid: number, format: 'text' | 'binary', b: Buffer, s: number, e: number): void {
  if (oid === 0) {
    if (format === 'text') w.utf8String(b, s, e);
    else w.hexString(b, s, e);
    return;
  }
  if (format === 'text') {
    if (textIsVerbatim(oid)) {
      w.utf8String(b, s, e);
      return;
    }
    if ((oid === OID_INT4 && canonicalInteger(b, s, e, -2147483648, 2147483647))
      || (oid === OID_INT2 && canonicalInteger(b, s, e, -32768, 32767))
      || (oid === OID_OID && canonicalInteger(b, s, e, 0, 4294967295))) {
      // At most 11 bytes: a loop, where Buffer#copy would make a view of the source.
      w.need(e - s);
      const buf = w.buf;
      let p = w.pos;
      for (let i = s; i < e; i++) buf[p++] = b[i];
      w.pos = p;
      return;
    }
    if (oid === OID_BOOL && e - s === 1 && (b[s] === 0x74 || b[s] === 0x66)) {
      w.value(b[s] === 0x74);
      return;
    }
  }
  w.value(decodeValue(oid, format, b.subarray(s, e)));
}

/** DataRow's `values` from the body b[start, end); false when it is not a well-formed DataRow. */
export function dataRowFields(w: JsonWriter, b: Buffer, start: number, end: number, ctx: DissectContext): boolean {
  if (end - start < 2 || ctx.decodeRows === false) return false;
  const n = b.readInt16BE(start);
  if (n < 0 || n * 4 > end - start - 2) return false;
  const cols = ctx.resultColumns();
  const prefixes = cols !== undefined ? prefixesFor(cols) : undefined;
  w.raw(VALUES);
  let pos = start + 2;
  for (let i = 0; i < n; i++) {
    if (end - pos < 4) return false;
    const len = b.readInt32BE(pos);
    pos += 4;
    if (i > 0) w.byte(0x2c);
    const col = cols !== undefined && i < cols.length ? cols[i] : undefined;
    w.raw(col !== undefined ? prefixes![i] : UNKNOWN_TEXT_COLUMN);
    if (len === -1) w.raw(NULL);
    else {
      if (len < -1 || len > end - pos) return false;
      writeValue(w, col !== undefined ? col.typeOid : 0, col !== undefined ? col.format : 'text', b, pos, pos + len);
      pos += len;
    }
    w.byte(0x7d);
  }
  if (pos !== end) return false;
  w.byte(0x5d);
  return true;
}

/** One text-format COPY field as decodeTextRows types it (dissectors/copy/text-rows.ts). */
function writeCopyField(w: JsonWriter, b: Buffer, s: number, e: number, escaped: boolean, oid: number | undefined): void {
  if (e - s === 2 && b[s] === BACKSLASH && b[s + 1] === 0x4e) {
    w.raw(NULL);
    return;
  }
  if (!oid) {
    if (escaped) w.string(unescapeField(b, s, e));
    else w.utf8String(b, s, e);
    return;
  }
  w.value(decodeTextValue(oid, escaped ? unescapeField(b, s, e) : b.toString('utf8', s, e)));
}

/**
 * The common row: untyped fields of printable ASCII without quotes or backslashes (so no
 * escapes, no \N), written in one pass as `["a","b"]`. False, with nothing written, for any
 * other row, which the field-by-field way then writes.
 */
function plainRow(w: JsonWriter, b: Buffer, start: number, end: number): boolean {
  // A tab becomes `","`: three bytes for one.
  w.need((end - start) * 3 + 4);
  const buf = w.buf;
  let p = w.pos;
  buf[p++] = 0x5b;
  buf[p++] = 0x22;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (PLAIN[c] === 1) buf[p++] = c;
    else if (c === TAB) {
      buf[p++] = 0x22; buf[p++] = 0x2c; buf[p++] = 0x22;
    } else return false;
  }
  buf[p++] = 0x22;
  buf[p++] = 0x5d;
  w.pos = p;
  return true;
}

/**
 * A text-format COPY CopyData of whole rows: `size`, `format`, `rows`, `rowCount`. Anything
 * else (CSV, binary, replication, a partial last row, the end marker, rows past the cap, a
 * NUL byte) is left to the decoder: false.
 */
export function copyDataFields(w: JsonWriter, b: Buffer, start: number, end: number, ctx: DissectContext, raw: RawMessage): boolean {
  const copy = ctx.copy as CopyHints | null;
  if (copy === null || copy.kind === 'both' || copy.format !== 'text' || copy.header === true) return false;
  const len = end - start;
  if (len === 0 || b[end - 1] !== LF) return false;
  const csv = copyCsvSettled(copy);
  if (csv === undefined) {
    // The CSV guess is remembered per COPY: asked exactly when the decoder would ask (after its
    // NUL test). Once settled, a NUL is found by the row loop below.
    const body = raw.body;
    if (body.includes(0) || copyIsCsv(copy, body)) return false;
  } else if (csv) return false;
  const types = copy.columnTypes;
  w.raw(SIZE);
  w.number(len);
  w.raw(TEXT_ROWS);
  let rows = 0;
  let pos = start;
  while (pos < end) {
    // Bounded: the body ends with a newline.
    const nl = b.indexOf(LF, pos);
    const rowEnd = nl > pos && b[nl - 1] === CR ? nl - 1 : nl;
    // "\." ends the data: the decoder reports it (endOfData).
    if (rowEnd - pos === 2 && b[pos] === BACKSLASH && b[pos + 1] === 0x2e) return false;
    if (++rows > DEFAULT_MAX_ROWS) return false;
    if (rows > 1) w.byte(0x2c);
    if (types === null && plainRow(w, b, pos, rowEnd)) {
      pos = nl + 1;
      continue;
    }
    w.byte(0x5b);
    let col = 0;
    let fieldStart = pos;
    let escaped = false;
    for (let i = pos; i <= rowEnd; i++) {
      const c = i === rowEnd ? TAB : b[i];
      if (c === TAB) {
        if (col > 0) w.byte(0x2c);
        writeCopyField(w, b, fieldStart, i, escaped, types?.[col]);
        col++;
        fieldStart = i + 1;
        escaped = false;
      } else if (c === BACKSLASH) {
        escaped = true;
        // The escaped byte is data even when it is a tab.
        if (i + 1 < rowEnd) {
          i++;
          if (b[i] === 0) return false;
        }
      } else if (c === 0) return false; // text-format COPY data never holds NUL: the decoder says what it is
    }
    w.byte(0x5d);
    pos = nl + 1;
  }
  w.raw(ROW_COUNT);
  w.number(rows);
  return true;
}
