/**
 * COPY data in binary format ("COPY", Binary Format). The stream opens with a header: the
 * 11-byte signature "PGCOPY\n\377\r\n\0", Int32 flags (bit 16: OIDs included; bits 0-15
 * critical, unknown ones must be refused), Int32 length of a header extension, the extension.
 * Then one tuple per row: Int16 field count, and per field Int32 length (-1 for NULL) and the
 * value in its type's binary format. An Int16 -1 in place of a field count is the trailer.
 *
 * As for text, each message is decoded on its own: the server sends the header, each tuple and
 * the trailer in messages of their own, a client sends arbitrary chunks, so a tuple cut at the
 * message end is reported as `partial`, and bytes that do not read as tuples (a chunk starting
 * mid-tuple) as `malformed`, with a preview.
 */
import type { PgValue } from '../types.js';
import { decodeValue } from '../values/index.js';
import { previewOf, type BytesPreview } from './preview.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Unknown-type values longer than this are shown as a preview, not as full hex. */
const VALUE_HEX_CAP = 1024;
/** A field count no table can have (MaxTupleAttributeNumber is 1664): the bytes are not a tuple. */
const MAX_FIELDS = 1664;

interface BinaryHeader {
  flags: number;
  /** Bit 16 of the flags. */
  oids: boolean;
  extensionLength: number;
}

interface BinaryRows {
  format: 'binary';
  header?: BinaryHeader;
  rows: PgValue[][];
  rowCount: number;
  rowsTruncated?: true;
  /** The trailer (field count -1) was seen. */
  endOfData?: true;
  /** A tuple cut at the end of this message. */
  partial?: BytesPreview;
  /** Bytes that do not read as tuples: why, where, and a preview of them. */
  malformed?: { reason: string; offset: number } & BytesPreview;
}

function fieldValue(types: readonly number[] | null, col: number, v: Buffer): PgValue {
  const oid = types?.[col];
  if (oid) return decodeValue(oid, 'binary', v);
  if (v.length <= VALUE_HEX_CAP) return '\\x' + v.toString('hex');
  // Kept as an object so it cannot be mistaken for the value's complete hex.
  const p = previewOf(v);
  return { size: p.size, preview: p.preview };
}

type TupleOutcome = { row: PgValue[]; next: number } | 'cut' | string;

function readTuple(b: Buffer, pos: number, types: readonly number[] | null, keep: boolean): TupleOutcome {
  const count = b.readInt16BE(pos);
  if (count < 0 || count > MAX_FIELDS) return `field count ${count}`;
  let p = pos + 2;
  const row: PgValue[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 4 > b.length) return 'cut';
    const len = b.readInt32BE(p);
    p += 4;
    if (len === -1) {
      if (keep) row.push(null);
      continue;
    }
    if (len < 0) return `field length ${len}`;
    if (p + len > b.length) return 'cut';
    if (keep) row.push(fieldValue(types, i, b.subarray(p, p + len)));
    p += len;
  }
  return { row, next: p };
}

export function decodeBinaryRows(b: Buffer, types: readonly number[] | null, maxRows: number, fullHex: boolean): BinaryRows {
  const out: BinaryRows = { format: 'binary', rows: [], rowCount: 0 };
  let pos = 0;
  if (b.length < SIGNATURE.length && b.length > 0 && SIGNATURE.compare(b, 0, b.length, 0, b.length) === 0) {
    // The message ends inside the signature: a header cut short, not a tuple.
    out.partial = previewOf(b, fullHex);
    return out;
  }
  if (b.length >= SIGNATURE.length && b.compare(SIGNATURE, 0, SIGNATURE.length, 0, SIGNATURE.length) === 0) {
    if (b.length < SIGNATURE.length + 8) {
      out.partial = previewOf(b, fullHex);
      return out;
    }
    const flags = b.readUInt32BE(11);
    const extensionLength = b.readUInt32BE(15);
    out.header = { flags, oids: (flags & 0x10000) !== 0, extensionLength };
    pos = SIGNATURE.length + 8;
    if (extensionLength > b.length - pos) {
      out.partial = previewOf(b.subarray(pos), fullHex);
      return out;
    }
    pos += extensionLength;
  }
  while (pos + 2 <= b.length) {
    if (b.readInt16BE(pos) === -1) {
      out.endOfData = true;
      pos += 2;
      if (pos < b.length) out.malformed = { reason: 'bytes after the trailer', offset: pos, ...previewOf(b.subarray(pos), fullHex) };
      pos = b.length;
      break;
    }
    const t = readTuple(b, pos, types, out.rows.length < maxRows);
    if (t === 'cut') break;
    if (typeof t === 'string') {
      out.malformed = { reason: `not a tuple: ${t}`, offset: pos, ...previewOf(b.subarray(pos), fullHex) };
      pos = b.length;
      break;
    }
    out.rowCount++;
    if (out.rows.length < maxRows) out.rows.push(t.row);
    pos = t.next;
  }
  if (pos < b.length) out.partial = previewOf(b.subarray(pos), fullHex);
  if (out.rowCount > out.rows.length) out.rowsTruncated = true;
  return out;
}
