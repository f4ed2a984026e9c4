/**
 * Text format of the built-in types: what each type's output function prints. The text is kept
 * as the server wrote it unless a JS value holds it exactly: bool as a boolean, 16/32-bit
 * integers and OIDs as numbers, floats as numbers (NaN, the infinities and negative zero as the
 * strings "NaN", "Infinity", "-Infinity", "-0"), json/jsonb parsed, bytea in the "\x" hex form, point as
 * {x, y}, arrays as nested arrays, ranges as {lower, upper, lowerInclusive, upperInclusive}
 * or {empty: true} (an infinite bound is null), multiranges as arrays of those. int8 and
 * numeric stay strings: a double would round them. Dates and times stay as printed: their form
 * depends on the session's DateStyle and TimeZone, which the wire does not always show.
 */
import type { PgValue } from '../types.js';
import { decodeArrayText } from './array.js';
import { decodeMultirangeText, decodeRangeText, MULTIRANGE_RANGE, RANGE_SUBTYPE } from './composite.js';
import { malformed } from './errors.js';
import { floatValue } from './binary.js';
import { parseJson } from './json.js';
import { elementOid, OID } from './oids.js';

const INTEGER = /^[+-]?\d{1,10}$/;
const BOX = 603;

function integer(s: string, min: number, max: number, what: string): number {
  if (!INTEGER.test(s)) malformed(`${what}: not an integer`);
  const n = Number(s);
  if (n < min || n > max) malformed(`${what}: out of range`);
  return n;
}

function float(s: string): number | string {
  if (s === 'NaN' || s === 'Infinity' || s === '-Infinity') return s;
  const t = s.trim();
  const n = Number(t);
  // Number('') is 0 and Number('0x10') is 16: neither is a float the server prints.
  if (t.length === 0 || Number.isNaN(n) || /[xXbBoO]/.test(t)) malformed('float: not a number');
  return floatValue(n);
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * bytea's text forms (byteaout): hex "\x0102" (bytea_output = hex, the default) or escape
 * "ab\000\\" (bytea_output = escape: octal escapes and a doubled backslash). Both become
 * "\x" + lowercase hex.
 */
function bytea(s: string): string {
  if (s.startsWith('\\x')) {
    if ((s.length & 1) !== 0) malformed('bytea: odd number of hex digits');
    for (let i = 2; i < s.length; i++) if (hexDigit(s.charCodeAt(i)) < 0) malformed('bytea: not a hex digit');
    return s.toLowerCase();
  }
  const raw = Buffer.from(s, 'latin1');
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as number;
    if (c !== 0x5c) { out[n++] = c; continue; }
    if (raw[i + 1] === 0x5c) { out[n++] = 0x5c; i++; continue; }
    const d1 = (raw[i + 1] ?? 0) - 0x30;
    const d2 = (raw[i + 2] ?? 0) - 0x30;
    const d3 = (raw[i + 3] ?? 0) - 0x30;
    if (d1 < 0 || d1 > 3 || d2 < 0 || d2 > 7 || d3 < 0 || d3 > 7) malformed('bytea: bad escape');
    out[n++] = d1 * 64 + d2 * 8 + d3;
    i += 3;
  }
  return '\\x' + out.toString('hex', 0, n);
}

/** point_out: "(x,y)". */
function point(s: string): PgValue {
  const m = /^\s*\(\s*([^,()\s]+)\s*,\s*([^,()\s]+)\s*\)\s*$/.exec(s);
  if (!m) malformed('point: not "(x,y)"');
  return { x: float(m[1] as string), y: float(m[2] as string) };
}

/** int2vector / oidvector print as space-separated numbers. */
function vector(s: string, min: number, max: number): number[] {
  const t = s.trim();
  if (t.length === 0) return [];
  return t.split(/\s+/).map((p) => integer(p, min, max, 'vector'));
}

/** OIDs decodeText handles itself; every other OID that is not an array, range or multirange comes back as its text. */
const SPECIAL_TEXT = new Set<number>([
  OID.bool, OID.int2, OID.int4, OID.oid, OID.xid, OID.cid, OID.float4, OID.float8, OID.json, OID.jsonb, OID.bytea,
  OID.point, OID.int2vector, OID.oidvector,
]);
const verbatim = new Map<number, boolean>();

/**
 * Whether decodeText(oid, s) is s for every s (text, varchar, int8, numeric, dates, ...): the
 * NDJSON export then writes such a value straight from its bytes (src/sinks/json).
 */
export function textIsVerbatim(oid: number): boolean {
  let v = verbatim.get(oid);
  if (v === undefined) {
    v = !SPECIAL_TEXT.has(oid) && elementOid(oid) === 0 && !RANGE_SUBTYPE.has(oid) && !MULTIRANGE_RANGE.has(oid);
    // Bounded: OIDs come from the wire.
    if (verbatim.size < 4096) verbatim.set(oid, v);
  }
  return v;
}

/** Decode one non-NULL text value; throws MalformedValue (caught by the public entry points). */
export function decodeText(oid: number, s: string): PgValue {
  switch (oid) {
    case OID.bool:
      if (s === 't') return true;
      if (s === 'f') return false;
      return malformed('bool: not "t" or "f"');
    case OID.int2:
      return integer(s, -32768, 32767, 'int2');
    case OID.int4:
      return integer(s, -2147483648, 2147483647, 'int4');
    case OID.oid: case OID.xid: case OID.cid:
      return integer(s, 0, 4294967295, 'oid');
    case OID.float4: case OID.float8:
      return float(s);
    case OID.json: case OID.jsonb:
      return parseJson(s);
    case OID.bytea:
      return bytea(s);
    case OID.point:
      return point(s);
    case OID.int2vector:
      return vector(s, -32768, 32767);
    case OID.oidvector:
      return vector(s, 0, 4294967295);
    default: {
      const elem = elementOid(oid);
      if (elem !== 0) return decodeArrayText(s, elem, elem === BOX ? ';' : ',', decodeText);
      const sub = RANGE_SUBTYPE.get(oid);
      if (sub !== undefined) return decodeRangeText(s, sub, decodeText);
      const range = MULTIRANGE_RANGE.get(oid);
      if (range !== undefined) return decodeMultirangeText(s, RANGE_SUBTYPE.get(range) as number, decodeText);
      return s;
    }
  }
}
