/**
 * Length-prefixed values (Bind parameters, DataRow columns, FunctionCall arguments and result):
 * an Int32 length, -1 for NULL, then that many bytes, decoded by type OID and format through
 * dissectors/values. Unknown types (OID 0): text as text, binary as hex.
 */
import { isUtf8 } from 'node:buffer';
import { decodeValue, typeName } from './values/index.js';
import type { FieldDef } from './fields.js';
import { F } from './fields.js';
import type { Reader } from './reader.js';
import type { TypedValue, PgValue } from './types.js';

/**
 * Whether bytes of unknown format read as text: valid UTF-8 without control characters other
 * than tab, newline and carriage return.
 */
function looksLikeText(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
    if (b === 0x7f) return false;
  }
  return isUtf8(bytes);
}

/**
 * Read one value inside an already opened group (the group's display value becomes the decoded
 * value). Format 'guess' (a result whose format is not on the wire): text when the bytes read
 * as text, else binary.
 */
export function readTypedValue(r: Reader, oid: number, wanted: 'text' | 'binary' | 'guess'): TypedValue {
  const len = r.i32(F.valueLength);
  let value: PgValue = null;
  let format: 'text' | 'binary' = wanted === 'binary' ? 'binary' : 'text';
  if (len < -1) {
    r.fail('invalid', `${F.valueLength.label}: ${len} (only -1 means NULL)`, r.pos - 4);
  } else if (len >= 0) {
    const start = r.skip(F.valueData, len);
    if (start >= 0) {
      const buf = r.buf;
      const end = start + len;
      if (wanted === 'guess' && !looksLikeText(buf.subarray(start, end))) format = 'binary';
      // Unknown types are read in place: no Buffer view per value on the DataRow hot path.
      if (oid !== 0) value = decodeValue(oid, format, buf.subarray(start, end));
      else value = format === 'text' ? buf.toString('utf8', start, end) : '\\x' + buf.toString('hex', start, end);
      r.note(value);
    }
  }
  return { oid, typeName: oid === 0 ? null : typeName(oid), format, value };
}

/** Read `count` Int16 format codes; 0 is text, 1 binary, anything else is invalid. */
export function readFormats(r: Reader, field: FieldDef, count: number): Array<'text' | 'binary'> {
  const out: Array<'text' | 'binary'> = [];
  for (let i = 0; i < count && r.ok; i++) {
    const at = r.pos;
    const code = r.i16(field, i);
    if (code === 0) out.push('text');
    else if (code === 1) out.push('binary');
    else if (r.ok) r.fail('invalid', `${field.label}: unknown format code ${code}`, at);
  }
  return out;
}

/** One format code (Int16 or Int8 per the field), validated like readFormats. */
export function formatOf(r: Reader, code: number, field: FieldDef, at: number): 'text' | 'binary' {
  if (code === 1) return 'binary';
  if (code !== 0 && r.ok) r.fail('invalid', `${field.label}: unknown format code ${code}`, at);
  return 'text';
}

/**
 * The format of value i, given the format codes sent (Bind, FunctionCall): none means all
 * text, one applies to all, otherwise one per value.
 */
export function formatFor(formats: ReadonlyArray<'text' | 'binary'>, i: number): 'text' | 'binary' {
  if (formats.length === 0) return 'text';
  if (formats.length === 1) return formats[0];
  return formats[i] ?? 'text';
}
