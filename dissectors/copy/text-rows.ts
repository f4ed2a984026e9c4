/**
 * COPY data in text and CSV format ("COPY", File Formats). A CopyData message carries any
 * slice of the data stream: the server sends one row per message, a client whatever chunks it
 * reads. Only the rows complete in this message are decoded; a row cut at the message's end is
 * reported as `partial` (a preview) and not stitched to the next message.
 *
 * Text: one row per line, columns separated by a tab, "\N" is NULL, a backslash escapes
 * (\b \f \n \r \t \v, \ooo octal, \xhh hex, any other character itself). "\." alone on a line
 * ends the data. CSV: columns separated by ",", fields optionally double quoted with a quote
 * doubled inside; an unquoted empty field is NULL, a quoted one the empty string; quoted
 * fields may hold newlines. COPY's DELIMITER, NULL and QUOTE options are not on the wire:
 * the defaults are assumed.
 */
import type { PgValue } from '../types.js';
import { decodeTextValue } from '../values/index.js';

const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const COMMA = 0x2c;
const DOT = 0x2e;

/** Characters of a partial row's text kept in the preview. */
const TAIL_PREVIEW = 64;

interface PartialRow {
  /** Bytes of the incomplete row at the end of this message. */
  size: number;
  /** Its first characters. */
  preview: string;
}

interface TextRows {
  format: 'text' | 'csv';
  /** Complete rows, each an array of column values (NULL as null), typed when the column types are known. */
  rows: PgValue[][];
  /** Complete rows in the message: more than rows.length when the row cap cut the list. */
  rowCount: number;
  rowsTruncated?: true;
  /** COPY ... HEADER: the column names the data begins with (or the end of them, when an earlier message cut the line); not a row. */
  headerLine?: Array<string | null>;
  partial?: PartialRow;
  /** The "\." end-of-data line was seen. */
  endOfData?: true;
}

function typed(types: readonly number[] | null, col: number, s: string | null): PgValue {
  if (s === null) return null;
  const oid = types?.[col];
  return oid ? decodeTextValue(oid, s) : s;
}

function octal(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x37;
}

function hexVal(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

const SIMPLE_ESCAPES: Record<number, number> = { 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11 };

/** One text-format field with escapes, to its bytes (octal and hex escapes are bytes, not characters). */
function unescapeField(b: Buffer, start: number, end: number): string {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    if (c !== BACKSLASH || i + 1 >= end) { out[n++] = c; continue; }
    const e = b[++i] as number;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) { out[n++] = simple; continue; }
    if (octal(e)) {
      let v = e - 0x30;
      if (i + 1 < end && octal(b[i + 1])) { v = v * 8 + ((b[++i] as number) - 0x30); }
      if (i + 1 < end && octal(b[i + 1])) { v = v * 8 + ((b[++i] as number) - 0x30); }
      out[n++] = v & 0xff;
      continue;
    }
    if (e === 0x78 && i + 1 < end && hexVal(b[i + 1]) >= 0) {
      let v = hexVal(b[++i]);
      if (i + 1 < end && hexVal(b[i + 1]) >= 0) v = v * 16 + hexVal(b[++i]);
      out[n++] = v;
      continue;
    }
    out[n++] = e;
  }
  return out.toString('utf8', 0, n);
}

/**
 * The complete lines of a text-format COPY chunk src[start, end) and their fields, read in
 * place: each line's range (without its CR LF), each field's range and whether it holds an
 * escape. decodeTextRows splits its lines into fields with it, and the NDJSON export writes the
 * fields it finds without building the rows.
 */
export class TextRowCursor {
  src: Buffer = Buffer.alloc(0);
  private end = 0;
  private next = 0;
  rowStart = 0;
  rowEnd = 0;
  /** Where the next field starts; past rowEnd when the line has no more. */
  private field = 0;
  fieldStart = 0;
  fieldEnd = 0;
  /** The field holds a backslash: fieldText() unescapes it. */
  escaped = false;
  /** The field holds a NUL byte (escaped or not), which text-format COPY data never does. */
  nul = false;

  reset(src: Buffer, start: number, end: number): void {
    this.src = src;
    this.next = start;
    this.end = end;
  }

  /** The next complete line (one that ends with a newline before `end`); false when none is left. */
  nextRow(): boolean {
    const pos = this.next;
    if (pos >= this.end) return false;
    const b = this.src;
    const nl = b.indexOf(LF, pos);
    if (nl < 0 || nl >= this.end) return false;
    this.setRow(pos, nl > pos && b[nl - 1] === CR ? nl - 1 : nl);
    this.next = nl + 1;
    return true;
  }

  /** Read the line src[start, end) field by field. */
  setRow(start: number, end: number): void {
    this.rowStart = start;
    this.rowEnd = end;
    this.field = start;
  }

  /** Where the unread part of the chunk starts (after the last line nextRow gave). */
  get rest(): number {
    return this.next;
  }

  /** "\." alone on the line: the end of the data, not a row. */
  endMarker(): boolean {
    return isEndMarker(this.src, this.rowStart, this.rowEnd);
  }

  /** The next field of the line (a line has at least one); false when none is left. */
  nextField(): boolean {
    const start = this.field;
    const end = this.rowEnd;
    if (start > end) return false;
    const b = this.src;
    let escaped = false;
    let nul = false;
    let i = start;
    for (; i < end; i++) {
      const c = b[i]!;
      if (c === TAB) break;
      if (c === BACKSLASH) {
        escaped = true;
        // The escaped byte is data even when it is a tab.
        if (i + 1 < end) {
          i++;
          if (b[i] === 0) nul = true;
        }
      } else if (c === 0) nul = true;
    }
    this.fieldStart = start;
    this.fieldEnd = i;
    this.escaped = escaped;
    this.nul = nul;
    this.field = i + 1;
    return true;
  }

  /** The field is "\N", NULL. */
  fieldIsNull(): boolean {
    const s = this.fieldStart;
    return this.fieldEnd - s === 2 && this.src[s] === BACKSLASH && this.src[s + 1] === 0x4e;
  }

  /** The field's text, escapes undone (not NULL). */
  fieldText(): string {
    return this.escaped ? unescapeField(this.src, this.fieldStart, this.fieldEnd) : this.src.toString('utf8', this.fieldStart, this.fieldEnd);
  }

  /** The field's value, typed by `oid` when one is known (0 or undefined: its text). */
  fieldValue(oid: number | undefined): PgValue {
    if (this.fieldIsNull()) return null;
    return oid ? decodeTextValue(oid, this.fieldText()) : this.fieldText();
  }
}

/** textLine's cursor: used and done with inside one call. */
const LINE = new TextRowCursor();

function textLine(b: Buffer, start: number, end: number, types: readonly number[] | null): PgValue[] {
  const row: PgValue[] = [];
  const c = LINE;
  c.src = b;
  c.setRow(start, end);
  while (c.nextField()) row.push(c.fieldValue(types?.[row.length]));
  return row;
}

function isEndMarker(b: Buffer, start: number, end: number): boolean {
  return end - start === 2 && b[start] === BACKSLASH && b[start + 1] === DOT;
}

function partialOf(b: Buffer, start: number): PartialRow {
  const size = b.length - start;
  const preview = b.toString('utf8', start, Math.min(b.length, start + TAIL_PREVIEW * 4)).slice(0, TAIL_PREVIEW);
  return { size, preview };
}

/** `header`: the first line ending in this message is COPY's HEADER line (CopyHints.header). */
export function decodeTextRows(b: Buffer, types: readonly number[] | null, maxRows: number, header = false): TextRows {
  const out: TextRows = { format: 'text', rows: [], rowCount: 0 };
  let pos = 0;
  while (pos < b.length) {
    const nl = b.indexOf(LF, pos);
    if (nl < 0) break;
    const end = nl > pos && b[nl - 1] === CR ? nl - 1 : nl;
    if (header) {
      // Column names, never typed as the columns' values.
      out.headerLine = textLine(b, pos, end, null) as Array<string | null>;
      header = false;
    } else if (isEndMarker(b, pos, end)) out.endOfData = true;
    else {
      out.rowCount++;
      if (out.rows.length < maxRows) out.rows.push(textLine(b, pos, end, types));
    }
    pos = nl + 1;
  }
  if (pos < b.length) {
    if (isEndMarker(b, pos, b.length)) out.endOfData = true;
    else out.partial = partialOf(b, pos);
  }
  if (out.rowCount > out.rows.length) out.rowsTruncated = true;
  return out;
}

/**
 * One CSV row from `pos`: its fields (NULL as null) and where the next row starts, or null
 * when the message ends before the row does.
 */
function csvRow(b: Buffer, pos: number): { fields: Array<string | null>; next: number; marker: boolean } | null {
  const fields: Array<string | null> = [];
  const rowStart = pos;
  let s = '';
  let quoted = false;
  let inQuotes = false;
  let seg = pos;
  while (pos < b.length) {
    const c = b[pos] as number;
    if (inQuotes) {
      if (c === QUOTE) {
        s += b.toString('utf8', seg, pos);
        if (b[pos + 1] === QUOTE) { s += '"'; pos += 2; } else { inQuotes = false; pos++; }
        seg = pos;
      } else pos++;
      continue;
    }
    if (c === QUOTE) {
      s += b.toString('utf8', seg, pos);
      inQuotes = true;
      quoted = true;
      seg = ++pos;
      continue;
    }
    if (c === COMMA || c === LF || c === CR) {
      s += b.toString('utf8', seg, pos);
      fields.push(!quoted && s.length === 0 ? null : s);
      s = '';
      quoted = false;
      if (c === COMMA) { seg = ++pos; continue; }
      let next = pos + 1;
      if (c === CR) {
        if (next >= b.length) return null;
        if (b[next] === LF) next++;
      }
      const marker = fields.length === 1 && fields[0] === '\\.' && !isQuotedAt(b, rowStart);
      return { fields, next, marker };
    }
    pos++;
  }
  return null;
}

function isQuotedAt(b: Buffer, pos: number): boolean {
  return b[pos] === QUOTE;
}

/** `header`: the first row ending in this message is COPY's HEADER line (CopyHints.header). */
export function decodeCsvRows(b: Buffer, types: readonly number[] | null, maxRows: number, header = false): TextRows {
  const out: TextRows = { format: 'csv', rows: [], rowCount: 0 };
  let pos = 0;
  while (pos < b.length) {
    const r = csvRow(b, pos);
    if (r === null) break;
    pos = r.next;
    if (header) { out.headerLine = r.fields; header = false; continue; }
    if (r.marker) { out.endOfData = true; continue; }
    out.rowCount++;
    if (out.rows.length < maxRows) out.rows.push(r.fields.map((f, i) => typed(types, i, f)));
  }
  if (pos < b.length) {
    if (isEndMarker(b, pos, b.length)) out.endOfData = true;
    else out.partial = partialOf(b, pos);
  }
  if (out.rowCount > out.rows.length) out.rowsTruncated = true;
  return out;
}

/** Fields in the first line of `b` read as CSV (quotes respected), or -1 when the line does not end in this message. */
function csvFieldsInFirstRow(b: Buffer): number {
  const r = csvRow(b, 0);
  return r === null ? -1 : r.fields.length;
}

/** Unescaped tabs before the first newline. */
function tabsInFirstLine(b: Buffer): number {
  let tabs = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === LF) break;
    if (c === BACKSLASH) i++;
    else if (c === TAB) tabs++;
  }
  return tabs;
}

/**
 * Whether a text-format COPY looks like CSV, when nothing says which it is. The rule: the
 * CopyInResponse / CopyOutResponse gives the column count N. With N >= 2, a first line with
 * exactly N - 1 tabs is text; otherwise, if it reads as exactly N comma-separated CSV fields,
 * it is CSV. With one column, or when neither fits, it is text (PostgreSQL's default).
 */
export function looksLikeCsv(b: Buffer, columns: number): boolean {
  if (columns < 2) return false;
  if (tabsInFirstLine(b) === columns - 1) return false;
  return csvFieldsInFirstRow(b) === columns;
}
