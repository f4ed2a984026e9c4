/**
 * Typed values: the text and binary formats of PostgreSQL's built-in types, by type OID, for
 * DataRow, Bind, FunctionCall and COPY values. Never throws: bytes that do not match their type
 * come back as text (text format) or "\x" hex (binary format), and tryDecodeValue says why.
 *
 * Output conventions (the JSON a user sees) are documented beside each decoder: text.ts for the
 * text format, binary.ts for the binary one, datetime.ts for dates, times and intervals,
 * numeric.ts, network.ts, array.ts, composite.ts for ranges and records.
 */
import type { PgValue } from '../types.js';
import { decodeBinary, hexValue } from './binary.js';
import { MalformedValue } from './errors.js';
import { decodeText } from './text.js';

export { typeName, typeOid, elementOid, arrayOid, builtinTypes, OID } from './oids.js';

export type ValueResult =
  | { ok: true; value: PgValue }
  /** `value` is the fallback: the text as sent, or "\x" hex of the binary bytes. */
  | { ok: false; value: PgValue; reason: string };

function reasonOf(e: unknown): string {
  if (e instanceof MalformedValue) return e.message;
  // A Buffer read past the end: the decoders check sizes first, so this is a bug's safety net.
  return e instanceof Error ? e.message : 'undecodable value';
}

/** Decode one non-NULL value of type `oid` in `format`. Never throws: undecodable bytes come back as "\\x..." hex. */
export function decodeValue(oid: number, format: 'text' | 'binary', bytes: Buffer): PgValue {
  try {
    return format === 'text' ? decodeText(oid, bytes.toString('utf8')) : decodeBinary(oid, bytes);
  } catch {
    return format === 'text' ? bytes.toString('utf8') : hexValue(bytes);
  }
}

/** As decodeValue, and says whether the bytes matched the type (ok: false carries the reason). */
export function tryDecodeValue(oid: number, format: 'text' | 'binary', bytes: Buffer): ValueResult {
  try {
    const value = format === 'text' ? decodeText(oid, bytes.toString('utf8')) : decodeBinary(oid, bytes);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, value: format === 'text' ? bytes.toString('utf8') : hexValue(bytes), reason: reasonOf(e) };
  }
}

/** A text-format value already in a string (COPY text rows): as decodeValue(oid, 'text', ...). */
export function decodeTextValue(oid: number, text: string): PgValue {
  try {
    return decodeText(oid, text);
  } catch {
    return text;
  }
}
