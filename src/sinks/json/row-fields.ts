/**
 * The two bodies that make most of an export's bytes, written as JSON straight from the wire
 * (message-writer.ts writes the rest of the record): DataRow values typed by the result's
 * columns, and text-format COPY rows split into fields. Each returns false, having written
 * nothing the caller keeps, for anything it does not write exactly as the decoder's record
 * would read (dissectors/typed.ts, dissectors/copy/text-rows.ts): the caller then decodes.
 */
import type { ColumnDescription, DissectContext, RawMessage } from '../../../dissectors/types.js';
import { copyTextRowsInPlace, DEFAULT_MAX_ROWS, TextRowCursor } from '../../../dissectors/copy/index.js';
import { cellValue, dataRowCells, RowCells, typeName, valueKind, ValueKind } from '../../../dissectors/rows.js';
import { type JsonWriter, PLAIN } from './writer.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

const NULL = enc('null');
const TRUE = enc('true');
const FALSE = enc('false');
const VALUES = enc(',"values":[');
const SIZE = enc(',"size":');
const TEXT_ROWS = enc(',"format":"text","rows":[');
const ROW_COUNT = enc('],"rowCount":');

const TAB = 0x09;

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

/** dataRowFields' scratch: used and done with inside one call. */
const CELLS = new RowCells();

/** DataRow's `values` from the body b[start, end), as dissectors/rows.ts reads them; false when it is not a well-formed DataRow. */
export function dataRowFields(w: JsonWriter, b: Buffer, start: number, end: number, ctx: DissectContext): boolean {
  if (ctx.decodeRows === false) return false;
  const cells = CELLS;
  if (!dataRowCells(b, start, end, cells)) return false;
  const n = cells.count;
  const starts = cells.starts;
  const ends = cells.ends;
  const cols = ctx.resultColumns();
  const prefixes = cols !== undefined ? prefixesFor(cols) : undefined;
  w.raw(VALUES);
  for (let i = 0; i < n; i++) {
    if (i > 0) w.byte(0x2c);
    const col = cols !== undefined && i < cols.length ? cols[i] : undefined;
    w.raw(col !== undefined ? prefixes![i] : UNKNOWN_TEXT_COLUMN);
    const s = starts[i];
    const e = ends[i];
    if (e < 0) w.raw(NULL);
    else {
      const oid = col !== undefined ? col.typeOid : 0;
      const format = col !== undefined ? col.format : 'text';
      switch (valueKind(oid, format, b, s, e)) {
        case ValueKind.Text: w.utf8String(b, s, e); break;
        case ValueKind.Hex: w.hexString(b, s, e); break;
        case ValueKind.Number: {
          // At most 11 bytes: a loop, where Buffer#copy would make a view of the source.
          w.need(e - s);
          const buf = w.buf;
          let p = w.pos;
          for (let k = s; k < e; k++) buf[p++] = b[k];
          w.pos = p;
          break;
        }
        case ValueKind.True: w.raw(TRUE); break;
        case ValueKind.False: w.raw(FALSE); break;
        default: w.value(cellValue(oid, format, b, s, e));
      }
    }
    w.byte(0x7d);
  }
  w.byte(0x5d);
  return true;
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

/** copyDataFields' cursor: used and done with inside one call. */
const ROWS = new TextRowCursor();

/**
 * A text-format COPY CopyData of whole rows: `size`, `format`, `rows`, `rowCount`, the rows as
 * dissectors/copy's TextRowCursor reads them. Anything else (CSV, binary, replication, a partial
 * last row, the end marker, rows past the cap, a NUL byte) is left to the decoder: false.
 */
export function copyDataFields(w: JsonWriter, b: Buffer, start: number, end: number, ctx: DissectContext, raw: RawMessage): boolean {
  if (!copyTextRowsInPlace(ctx, b, start, end, () => raw.body)) return false;
  const types = ctx.copy!.columnTypes;
  const cur = ROWS;
  cur.reset(b, start, end);
  w.raw(SIZE);
  w.number(end - start);
  w.raw(TEXT_ROWS);
  let rows = 0;
  while (cur.nextRow()) {
    // "\." ends the data: the decoder reports it (endOfData).
    if (cur.endMarker()) return false;
    if (++rows > DEFAULT_MAX_ROWS) return false;
    if (rows > 1) w.byte(0x2c);
    if (types === null && plainRow(w, b, cur.rowStart, cur.rowEnd)) continue;
    w.byte(0x5b);
    let col = 0;
    while (cur.nextField()) {
      // text-format COPY data never holds NUL: the decoder says what it is
      if (cur.nul) return false;
      if (col > 0) w.byte(0x2c);
      const oid = types?.[col];
      if (cur.fieldIsNull()) w.raw(NULL);
      else if (oid) w.value(cur.fieldValue(oid));
      else if (cur.escaped) w.string(cur.fieldText());
      else w.utf8String(b, cur.fieldStart, cur.fieldEnd);
      col++;
    }
    w.byte(0x5d);
  }
  w.raw(ROW_COUNT);
  w.number(rows);
  return true;
}
