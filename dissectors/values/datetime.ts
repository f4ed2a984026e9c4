/**
 * Date and time values. The binary formats (date_send, time_send, timetz_send, timestamp_send,
 * interval_send in src/backend/utils/adt/) count from PostgreSQL's epoch, 2000-01-01:
 *   date         Int32 days; INT32_MIN / INT32_MAX are -infinity / infinity
 *   time         Int64 µs since midnight (0 .. 24:00:00)
 *   timetz       Int64 µs since midnight, Int32 zone offset in seconds WEST of UTC
 *   timestamp(tz) Int64 µs; INT64_MIN / INT64_MAX are -infinity / infinity
 *   interval     Int64 µs, Int32 days, Int32 months (all MAX / all MIN: infinity / -infinity)
 *
 * Values print exactly as the server prints them in text format with its defaults (DateStyle
 * ISO, IntervalStyle postgres) and TimeZone UTC, so a value looks the same whichever result
 * format the client asked for:
 *   date         "2024-05-01", "10000-01-01", "0044-03-15 BC"
 *   timestamp    "2024-05-01 12:00:00.5"; timestamptz in UTC "2024-05-01 12:00:00.5+00"
 *                (ISO 8601 with a space, as RFC 3339 allows; Date.parse reads it)
 *   time         "12:00:00.5"; timetz "12:00:00+02", "12:00:00+05:30"
 *   fractions    trailing zeros dropped; none when zero
 *   infinities   "infinity" / "-infinity"
 *   interval     "1 year 2 mons 3 days 04:05:06.5"
 * A text-format value is the server's own text: in a session whose TimeZone is not UTC its
 * timestamptz shows that zone's offset, the binary one "+00", for the same instant.
 *
 * Protocol times (replication messages, pgoutput) are not SQL values: timestampAt gives them
 * as ISO 8601 UTC with "T" and "Z", like the records' `time`, with years signed beyond
 * 0000-9999 and astronomical below year 1.
 */
import { expectSize, malformed } from './errors.js';

const US_PER_DAY = 86_400_000_000;
const US_PER_HOUR = 3_600_000_000;
const US_PER_MINUTE = 60_000_000;
const US_PER_SECOND = 1_000_000;
/** Days from 1970-01-01 to 2000-01-01. */
const PG_EPOCH_DAYS = 10_957;
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** The civil date (proleptic Gregorian) of a day count since 1970-01-01. */
interface Civil { y: number; m: number; d: number }

/**
 * The well-known era/day-of-era method: plain doubles for any day count PostgreSQL can hold,
 * unlike Date (whose range ends in 275760).
 */
function civil(unixDays: number): Civil {
  const z = unixDays + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

/** ISO 8601: years signed outside 0000-9999, astronomical numbering (44 BC is -0043). */
function formatDays(unixDays: number): string {
  const c = civil(unixDays);
  const year = c.y >= 0 && c.y <= 9999 ? String(c.y).padStart(4, '0') : (c.y < 0 ? '-' : '+') + String(Math.abs(c.y)).padStart(4, '0');
  return year + '-' + pad2(c.m) + '-' + pad2(c.d);
}

/** PostgreSQL's ISO DateStyle: the date, and whether it is BC (year 0 is 1 BC). */
function pgDate(unixDays: number): { date: string; bc: boolean } {
  const c = civil(unixDays);
  const bc = c.y <= 0;
  const year = bc ? 1 - c.y : c.y;
  return { date: String(year).padStart(4, '0') + '-' + pad2(c.m) + '-' + pad2(c.d), bc };
}

/** ".5", ".000123" or "" for a µs count below one second. */
function fraction(us: number): string {
  if (us === 0) return '';
  let s = String(us).padStart(6, '0');
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x30) end--;
  s = s.slice(0, end);
  return '.' + s;
}

/** HH:MM:SS[.f] of a non-negative µs count below 24:00:00 (or exactly 24:00:00). */
function formatClock(us: number): string {
  const h = Math.floor(us / US_PER_HOUR);
  const m = Math.floor((us % US_PER_HOUR) / US_PER_MINUTE);
  const s = Math.floor((us % US_PER_MINUTE) / US_PER_SECOND);
  return pad2(h) + ':' + pad2(m) + ':' + pad2(s) + fraction(us % US_PER_SECOND);
}

/**
 * An Int64 as a double when it is exactly representable, else null. Reading the two halves
 * avoids a BigInt for every timestamp in a result set.
 */
function readInt64Exact(b: Buffer, off: number): number | null {
  const hi = b.readInt32BE(off);
  const lo = b.readUInt32BE(off + 4);
  if (hi >= -0x200000 && hi < 0x200000) return hi * 4_294_967_296 + lo;
  return null;
}

const INT64_MAX = 0x7fffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;

export function decodeDateBinary(b: Buffer): string {
  expectSize(b, 4, 'date');
  const days = b.readInt32BE(0);
  if (days === INT32_MAX) return 'infinity';
  if (days === INT32_MIN) return '-infinity';
  const d = pgDate(days + PG_EPOCH_DAYS);
  return d.bc ? d.date + ' BC' : d.date;
}

/**
 * Days since 1970-01-01 and µs of that day of the Int64 timestamp at `off`, split with floor
 * so that times before 2000 come out right; or an infinity.
 */
function timestampParts(b: Buffer, off: number): { days: number; us: number } | 'infinity' | '-infinity' {
  const exact = readInt64Exact(b, off);
  if (exact !== null) {
    const days = Math.floor(exact / US_PER_DAY);
    return { days: days + PG_EPOCH_DAYS, us: exact - days * US_PER_DAY };
  }
  const big = b.readBigInt64BE(off);
  if (big === INT64_MAX) return 'infinity';
  if (big === INT64_MIN) return '-infinity';
  const perDay = BigInt(US_PER_DAY);
  let d = big / perDay;
  let r = big % perDay;
  if (r < 0n) { r += perDay; d -= 1n; }
  return { days: Number(d) + PG_EPOCH_DAYS, us: Number(r) };
}

export function decodeTimestampBinary(b: Buffer, withZone: boolean): string {
  expectSize(b, 8, withZone ? 'timestamptz' : 'timestamp');
  const t = timestampParts(b, 0);
  if (typeof t === 'string') return t;
  const d = pgDate(t.days);
  return d.date + ' ' + formatClock(t.us) + (withZone ? '+00' : '') + (d.bc ? ' BC' : '');
}

/**
 * A protocol time at `off` (Int64 µs since 2000-01-01; the caller checked 8 bytes are there)
 * as ISO 8601 UTC, "2024-05-01T12:00:00.5Z".
 */
export function timestampAt(b: Buffer, off: number): string {
  const t = timestampParts(b, off);
  if (typeof t === 'string') return t;
  return formatDays(t.days) + 'T' + formatClock(t.us) + 'Z';
}

function timeOfDay(b: Buffer, what: string): string {
  const us = readInt64Exact(b, 0);
  if (us === null || us < 0 || us > US_PER_DAY) malformed(`${what}: µs since midnight out of range`);
  return formatClock(us);
}

export function decodeTimeBinary(b: Buffer): string {
  expectSize(b, 8, 'time');
  return timeOfDay(b, 'time');
}

/** A zone offset as the server prints it, from "seconds west of UTC": -19800 is "+05:30", -7200 "+02". */
function formatOffset(secondsWest: number): string {
  const east = -secondsWest;
  const a = Math.abs(east);
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const s = a % 60;
  return (east < 0 ? '-' : '+') + pad2(h) + (m || s ? ':' + pad2(m) : '') + (s ? ':' + pad2(s) : '');
}

export function decodeTimetzBinary(b: Buffer): string {
  expectSize(b, 12, 'timetz');
  const zone = b.readInt32BE(8);
  // PostgreSQL limits zone offsets to +-15:59:59.
  if (zone < -57_599 || zone > 57_599) malformed('timetz: zone offset out of range');
  return timeOfDay(b, 'timetz') + formatOffset(zone);
}

/** One "N unit(s)" part in PostgreSQL style: '+' marks a positive part after a negative one. */
function intervalPart(out: string, value: number, unit: string, state: { zero: boolean; before: boolean }): string {
  if (value === 0) return out;
  const part = (state.zero ? '' : ' ') + (state.before && value > 0 ? '+' : '') + value + ' ' + unit + (value !== 1 ? 's' : '');
  state.before = value < 0;
  state.zero = false;
  return out + part;
}

export function decodeIntervalBinary(b: Buffer): string {
  expectSize(b, 16, 'interval');
  const months = b.readInt32BE(12);
  const days = b.readInt32BE(8);
  const big = b.readBigInt64BE(0);
  if (months === INT32_MAX && days === INT32_MAX && big === INT64_MAX) return 'infinity';
  if (months === INT32_MIN && days === INT32_MIN && big === INT64_MIN) return '-infinity';
  // Split µs into hours and the rest with BigInt: an interval's time part may exceed 2^53 µs.
  const hoursBig = big / BigInt(US_PER_HOUR);
  const restUs = Number(big - hoursBig * BigInt(US_PER_HOUR));
  const hours = Number(hoursBig);
  const minutes = Math.trunc(restUs / US_PER_MINUTE);
  const secUs = restUs - minutes * US_PER_MINUTE;
  const state = { zero: true, before: false };
  let out = '';
  out = intervalPart(out, Math.trunc(months / 12), 'year', state);
  out = intervalPart(out, months % 12, 'mon', state);
  out = intervalPart(out, days, 'day', state);
  if (state.zero || hours !== 0 || restUs !== 0) {
    const minus = hours < 0 || restUs < 0;
    const sec = Math.abs(secUs);
    out += (state.zero ? '' : ' ') + (minus ? '-' : state.before ? '+' : '')
      + pad2(Math.abs(hours)) + ':' + pad2(Math.abs(minutes)) + ':'
      + pad2(Math.floor(sec / US_PER_SECOND)) + fraction(sec % US_PER_SECOND);
  }
  return out;
}
