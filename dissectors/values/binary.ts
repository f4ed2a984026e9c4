/**
 * Binary format of the built-in types: what each type's send function writes (int4send,
 * float8send, numeric_send, uuid_send, ... in src/backend/utils/adt/). Sizes are exact: a value
 * of the wrong size is malformed, never padded or cut. Integers are big-endian.
 */
import type { PgValue } from '../types.js';
import { decodeArrayBinary } from './array.js';
import { decodeMultirangeBinary, decodeRangeBinary, decodeRecordBinary, MULTIRANGE_RANGE, RANGE_SUBTYPE } from './composite.js';
import { decodeDateBinary, decodeIntervalBinary, decodeTimeBinary, decodeTimestampBinary, decodeTimetzBinary } from './datetime.js';
import { expectSize, malformed } from './errors.js';
import { decodeInetBinary, decodeMacaddrBinary } from './network.js';
import { decodeNumericBinary } from './numeric.js';
import { elementOid, OID } from './oids.js';
import { parseJson } from './json.js';

/** The anonymous record type (ROW(...) results): its binary form names each column's type. */
const RECORD = 2249;

/**
 * A float as a number, or PostgreSQL's spelling of the values JSON cannot hold: NaN, the
 * infinities, and -0 (JSON.stringify(-0) is "0", which would lose the sign the server printed).
 */
export function floatValue(f: number): number | string {
  if (Object.is(f, -0)) return '-0';
  if (Number.isFinite(f)) return f;
  if (Number.isNaN(f)) return 'NaN';
  return f > 0 ? 'Infinity' : '-Infinity';
}

export function hexValue(b: Buffer): string {
  return '\\x' + b.toString('hex');
}

/**
 * float4 as the server prints it (float4out, shortest exact): the shortest decimal that reads
 * back as the same 32-bit float, not the longer double the bits widen to (1.1, not
 * 1.100000023841858). When two shortest decimals are equally close (the float is exactly
 * halfway), the one with the even last digit, as the server's algorithm (Ryu) picks.
 */
function float4Value(f: number): number | string {
  if (!Number.isFinite(f) || f === 0) return floatValue(f);
  for (let p = 1; p < 9; p++) {
    const n = Number(f.toPrecision(p));
    if (Math.fround(n) !== f) continue;
    // A float32 is exactly a double, and toExponential shows its exact decimal digits.
    const exact = Math.abs(f).toExponential(99);
    const e = exact.indexOf('e');
    const mantissa = exact.slice(0, 1) + exact.slice(2, e);
    if (/^50*$/.test(mantissa.slice(p)) && Number(mantissa[p - 1]) % 2 === 0) {
      // A tie that toPrecision rounded away from zero: keep the even digit instead.
      const down = Number((f < 0 ? '-' : '') + mantissa[0] + '.' + mantissa.slice(1, p) + exact.slice(e));
      if (Math.fround(down) === f) return down;
    }
    return n;
  }
  return Number(f.toPrecision(9));
}

/** "char": one byte, printed as the server prints it (char_out): octal escape when not ASCII. */
function charValue(b: Buffer): string {
  if (b.length === 0) return '';
  expectSize(b, 1, '"char"');
  const c = b[0] as number;
  if (c === 0) return '';
  if (c < 0x80) return String.fromCharCode(c);
  return '\\' + c.toString(8).padStart(3, '0');
}

function uuidValue(b: Buffer): string {
  expectSize(b, 16, 'uuid');
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** pg_lsn: UInt64 printed as two hex halves, "16/B374D848". */
export function lsnValue(b: Buffer, off: number): string {
  return b.readUInt32BE(off).toString(16).toUpperCase() + '/' + b.readUInt32BE(off + 4).toString(16).toUpperCase();
}

/** bit / varbit (bit_send): Int32 bit count, then the bits, packed high bit first. */
function bitsValue(b: Buffer): string {
  if (b.length < 4) malformed('bit: length needs 4 bytes');
  const n = b.readInt32BE(0);
  if (n < 0 || b.length !== 4 + Math.ceil(n / 8)) malformed('bit: bit count does not match the size');
  let out = '';
  for (let i = 0; i < n; i++) out += ((b[4 + (i >> 3)] as number) >> (7 - (i & 7))) & 1 ? '1' : '0';
  return out;
}

/** A version-prefixed text type (jsonb_send, jsonpath_send): Byte version 1, then the text. */
function versioned(b: Buffer, what: string): string {
  if (b.length < 1 || b[0] !== 1) malformed(`${what}: unknown binary version`);
  return b.toString('utf8', 1);
}

/** Decode one non-NULL binary value; throws MalformedValue (caught by the public entry points). */
export function decodeBinary(oid: number, b: Buffer): PgValue {
  switch (oid) {
    case OID.bool:
      expectSize(b, 1, 'bool');
      return b[0] !== 0;
    case OID.int2:
      expectSize(b, 2, 'int2');
      return b.readInt16BE(0);
    case OID.int4:
      expectSize(b, 4, 'int4');
      return b.readInt32BE(0);
    case OID.int8:
      expectSize(b, 8, 'int8');
      return b.readBigInt64BE(0).toString();
    case OID.oid: case OID.xid: case OID.cid: case OID.regproc: case OID.regprocedure: case OID.regoper:
    case OID.regoperator: case OID.regclass: case OID.regtype: case OID.regconfig: case OID.regdictionary:
    case OID.regnamespace: case OID.regrole: case OID.regcollation:
      expectSize(b, 4, 'oid');
      return b.readUInt32BE(0);
    case OID.xid8:
      expectSize(b, 8, 'xid8');
      return b.readBigUInt64BE(0).toString();
    case OID.float4:
      expectSize(b, 4, 'float4');
      return float4Value(b.readFloatBE(0));
    case OID.float8:
      expectSize(b, 8, 'float8');
      return floatValue(b.readDoubleBE(0));
    case OID.numeric:
      return decodeNumericBinary(b);
    case OID.text: case OID.varchar: case OID.bpchar: case OID.name: case OID.unknown: case OID.cstring:
    case OID.xml: case OID.refcursor:
      return b.toString('utf8');
    case OID.json:
      return parseJson(b.toString('utf8'));
    case OID.jsonb:
      return parseJson(versioned(b, 'jsonb'));
    case OID.jsonpath:
      return versioned(b, 'jsonpath');
    case OID.char:
      return charValue(b);
    case OID.bytea:
      return hexValue(b);
    case OID.uuid:
      return uuidValue(b);
    case OID.date:
      return decodeDateBinary(b);
    case OID.time:
      return decodeTimeBinary(b);
    case OID.timetz:
      return decodeTimetzBinary(b);
    case OID.timestamp:
      return decodeTimestampBinary(b, false);
    case OID.timestamptz:
      return decodeTimestampBinary(b, true);
    case OID.interval:
      return decodeIntervalBinary(b);
    case OID.inet:
      return decodeInetBinary(b, false);
    case OID.cidr:
      return decodeInetBinary(b, true);
    case OID.macaddr:
      return decodeMacaddrBinary(b, 6);
    case OID.macaddr8:
      return decodeMacaddrBinary(b, 8);
    case OID.point:
      expectSize(b, 16, 'point');
      return { x: floatValue(b.readDoubleBE(0)), y: floatValue(b.readDoubleBE(8)) };
    case OID.pg_lsn:
      expectSize(b, 8, 'pg_lsn');
      return lsnValue(b, 0);
    case OID.tid:
      expectSize(b, 6, 'tid');
      return `(${b.readUInt32BE(0)},${b.readUInt16BE(4)})`;
    case OID.bit: case OID.varbit:
      return bitsValue(b);
    case RECORD:
      return decodeRecordBinary(b, decodeBinary);
    default: {
      if (elementOid(oid) !== 0) return decodeArrayBinary(b, decodeBinary);
      const sub = RANGE_SUBTYPE.get(oid);
      if (sub !== undefined) return decodeRangeBinary(b, sub, decodeBinary);
      const range = MULTIRANGE_RANGE.get(oid);
      if (range !== undefined) return decodeMultirangeBinary(b, RANGE_SUBTYPE.get(range) as number, decodeBinary);
      // A type this table does not know (an extension's, an enum, a composite): its bytes.
      return hexValue(b);
    }
  }
}
