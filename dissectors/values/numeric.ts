/**
 * numeric in binary (numeric_send): Int16 ndigits, Int16 weight, UInt16 sign, UInt16 dscale,
 * then ndigits Int16 base-10000 digits, most significant first. The value is
 * sum(digit[i] * 10000^(weight - i)); dscale is the number of decimal digits shown after the
 * point. Special values are signalled by the sign word alone. The result is the exact decimal
 * string the server prints in text format (never a JS number: it would round), except for
 * values over MAX_PLAIN_LENGTH characters, which keep every digit but use an exponent.
 */
import { malformed } from './errors.js';

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;
/** numeric's display scale is limited to 0x3FFF digits (NUMERIC_DSCALE_MASK). */
const MAX_DSCALE = 0x3fff;
/** Longest plain decimal string produced; longer values are written with an exponent. */
const MAX_PLAIN_LENGTH = 1024;

function group(d: number): string {
  return d < 10 ? '000' + d : d < 100 ? '00' + d : d < 1000 ? '0' + d : String(d);
}

export function decodeNumericBinary(b: Buffer): string {
  if (b.length < 8) malformed('numeric: header needs 8 bytes');
  const ndigits = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readUInt16BE(6);
  if (ndigits < 0 || b.length !== 8 + ndigits * 2) malformed('numeric: digit count does not match the size');
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_PINF) return 'Infinity';
  if (sign === NUMERIC_NINF) return '-Infinity';
  if (sign !== NUMERIC_POS && sign !== NUMERIC_NEG) malformed('numeric: unknown sign word');
  if (dscale > MAX_DSCALE) malformed('numeric: display scale out of range');

  for (let i = 0; i < ndigits; i++) {
    const d = b.readInt16BE(8 + i * 2);
    if (d < 0 || d > 9999) malformed('numeric: digit out of range');
  }
  const intLength = weight >= 0 ? (weight + 1) * 4 : 1;
  if (intLength + dscale > MAX_PLAIN_LENGTH) return scientific(b, ndigits, weight, sign === NUMERIC_NEG);

  let out = sign === NUMERIC_NEG ? '-' : '';
  // Integer part: groups 0..weight; groups beyond ndigits are zeros. The first group is unpadded.
  if (weight < 0) {
    out += '0';
  } else {
    for (let i = 0; i <= weight; i++) {
      const d = i < ndigits ? b.readInt16BE(8 + i * 2) : 0;
      if (d < 0 || d > 9999) malformed('numeric: digit out of range');
      out += i === 0 ? String(d) : group(d);
    }
  }
  if (dscale > 0) {
    // Fraction: group at position weight+1+k is the k-th after the point; groups before the
    // first stored one (weight < -1) are zeros. Cut to dscale digits, as the server does.
    let frac = '';
    for (let k = 0; frac.length < dscale; k++) {
      const i = weight + 1 + k;
      const d = i >= 0 && i < ndigits ? b.readInt16BE(8 + i * 2) : 0;
      if (d < 0 || d > 9999) malformed('numeric: digit out of range');
      frac += group(d);
    }
    out += '.' + frac.slice(0, dscale);
  }
  return out;
}

/**
 * The same value as "d.ddde+N": every stored digit, no padding zeros. PostgreSQL drops
 * trailing zero groups from storage, so 1e131071 is ten bytes on the wire but 131072
 * characters in plain form: past MAX_PLAIN_LENGTH characters the plain form would let a small
 * message become megabytes. (The display scale is not applied in this form.)
 */
function scientific(b: Buffer, ndigits: number, weight: number, negative: boolean): string {
  let ds = '';
  for (let i = 0; i < ndigits; i++) ds += group(b.readInt16BE(8 + i * 2));
  let lead = 0;
  while (lead < ds.length && ds.charCodeAt(lead) === 0x30) lead++;
  let end = ds.length;
  while (end > lead && ds.charCodeAt(end - 1) === 0x30) end--;
  if (lead === end) return '0';
  const digits = ds.slice(lead, end);
  // The value is 0.<ds> x 10^((weight + 1) * 4); with the leading zeros gone, d.ddd x 10^exp.
  const exp = (weight + 1) * 4 - lead - 1;
  return (negative ? '-' : '') + digits[0] + (digits.length > 1 ? '.' + digits.slice(1) : '') + 'e' + (exp >= 0 ? '+' : '') + exp;
}
