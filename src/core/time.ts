/**
 * Capture time is carried as integer microseconds since the Unix epoch: it fits a double
 * exactly (2^53 µs is about 285 years) and costs no allocation, unlike bigint. Nanosecond
 * captures are truncated to microseconds, which is what the JSON contract shows.
 */

/** 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the four-digit years ISO 8601 (and the JSON schema) allow. */
const MIN_TIME_US = -62_167_219_200_000_000;
const MAX_TIME_US = 253_402_300_799_000_000; // whole seconds: a double cannot hold ...999999 at this size

/**
 * Any time, through Date: total, because a damaged capture can carry any 64-bit timestamp and
 * Date#toISOString throws outside its range, so times beyond four-digit years are clamped to
 * the nearest end (NaN to the epoch).
 */
function isoTimeAny(timeUs: number): string {
  if (!(timeUs >= MIN_TIME_US && timeUs <= MAX_TIME_US)) timeUs = timeUs > 0 ? MAX_TIME_US : timeUs < 0 ? MIN_TIME_US : 0;
  else timeUs = Math.floor(timeUs);
  const ms = Math.floor(timeUs / 1000);
  const us = timeUs - ms * 1000;
  const base = new Date(ms).toISOString(); // ...SS.mmmZ
  return base.slice(0, -1) + String(us).padStart(3, '0') + 'Z';
}

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * `YYYY-MM-DDTHH:MM:SS` of a whole second since the epoch (a safe integer), kept for the last
 * second asked: consecutive records mostly fall in the same one, and Date#toISOString was most
 * of the cost of building a query record. Shared with the NDJSON writer's JsonWriter.isoTime,
 * which writes the same text as bytes.
 */
export function isoSecondPrefix(second: number): string {
  if (second !== cachedSecond) {
    const full = isoTimeAny(second * 1_000_000);
    cachedPrefix = full.slice(0, full.length - 8); // drop ".000000Z"
    cachedSecond = second;
  }
  return cachedPrefix;
}

/** ISO 8601 with microseconds, UTC: 2024-05-01T12:00:00.123456Z. Total (see isoTimeAny). */
export function isoTime(timeUs: number): string {
  // Every safe integer is within four-digit years: the date part comes from the cache.
  if (!Number.isSafeInteger(timeUs)) return isoTimeAny(timeUs);
  const second = Math.floor(timeUs / 1_000_000);
  const us = timeUs - second * 1_000_000;
  return isoSecondPrefix(second) + '.' + (us < 100_000 ? String(us).padStart(6, '0') : String(us)) + 'Z';
}
