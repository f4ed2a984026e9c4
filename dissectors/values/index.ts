/**
 * Typed values: text and binary formats of the built-in types, by type OID.
 * PLACEHOLDER until the values work lands: returns text as text and binary as hex.
 */
import type { PgValue } from '../types.js';

/** Decode one non-NULL value of type `oid` in `format`. Never throws: undecodable bytes come back as "\\x..." hex. */
export function decodeValue(oid: number, format: 'text' | 'binary', bytes: Buffer): PgValue {
  void oid;
  return format === 'text' ? bytes.toString('utf8') : '\\x' + bytes.toString('hex');
}

/** Built-in type name for an OID (int4, text, _int4 ...), or null. */
export function typeName(oid: number): string | null {
  void oid;
  return null;
}
