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

import { typeName } from './oids.js';

export { typeName, typeOid, elementOid, arrayOid, builtinTypes, OID } from './oids.js';

type ValueResult =
  | { ok: true; value: PgValue }
  /** `value` is the fallback: the text as sent, or "\x" hex of the binary bytes. */
  | { ok: false; value: PgValue; reason: string };

/**
 * Binary sizes of the fixed-size types. A value of another size is malformed, and is answered
 * here without the throw the decoders would use (a throw costs microseconds; a capture of
 * mistyped values can hold millions).
 */
const FIXED_SIZE: ReadonlyMap<number, number> = new Map([
  [16, 1], [21, 2], [23, 4], [20, 8], [26, 4], [28, 4], [29, 4], [24, 4], [2205, 4], [2206, 4], [700, 4], [701, 8],
  [2950, 16], [1082, 4], [1083, 8], [1266, 12], [1114, 8], [1184, 8], [1186, 16], [829, 6], [774, 8], [600, 16],
  [3220, 8], [27, 6], [5069, 8],
]);

function wrongSize(oid: number, bytes: Buffer): string | null {
  const size = FIXED_SIZE.get(oid);
  return size === undefined || size === bytes.length ? null : `${typeName(oid)}: expected ${size} bytes, got ${bytes.length}`;
}

function reasonOf(e: unknown): string {
  if (e instanceof MalformedValue) return e.message;
  // A Buffer read past the end: the decoders check sizes first, so this is a bug's safety net.
  return e instanceof Error ? e.message : 'undecodable value';
}

/** Decode one non-NULL value of type `oid` in `format`. Never throws: undecodable bytes come back as "\\x..." hex. */
export function decodeValue(oid: number, format: 'text' | 'binary', bytes: Buffer): PgValue {
  if (format === 'binary' && wrongSize(oid, bytes) !== null) return hexValue(bytes);
  try {
    return format === 'text' ? decodeText(oid, bytes.toString('utf8')) : decodeBinary(oid, bytes);
  } catch {
    return format === 'text' ? bytes.toString('utf8') : hexValue(bytes);
  }
}

/** As decodeValue, and says whether the bytes matched the type (ok: false carries the reason). */
export function tryDecodeValue(oid: number, format: 'text' | 'binary', bytes: Buffer): ValueResult {
  if (format === 'binary') {
    const reason = wrongSize(oid, bytes);
    if (reason !== null) return { ok: false, value: hexValue(bytes), reason };
  }
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
