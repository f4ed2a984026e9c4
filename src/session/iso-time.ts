/**
 * src/core/time.ts's isoTime with the date part cached per second: a query record carries two
 * timestamps, and Date#toISOString was most of the cost of building one. Same output for the
 * integer microseconds the pipeline carries.
 */
import { isoTime } from '../core/time.js';

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * `YYYY-MM-DDTHH:MM:SS` of a whole second since the epoch (a safe integer), kept for the last
 * second asked: consecutive records mostly fall in the same one. Shared with the NDJSON
 * writer's JsonWriter.isoTime, which writes the same text as bytes.
 */
export function isoSecondPrefix(second: number): string {
  if (second !== cachedSecond) {
    const full = isoTime(second * 1_000_000);
    cachedPrefix = full.slice(0, full.length - 8); // drop ".000000Z"
    cachedSecond = second;
  }
  return cachedPrefix;
}

export function isoTimeFast(timeUs: number): string {
  if (!Number.isSafeInteger(timeUs)) return isoTime(timeUs);
  const second = Math.floor(timeUs / 1_000_000);
  const us = timeUs - second * 1_000_000;
  return isoSecondPrefix(second) + '.' + (us < 100_000 ? String(us).padStart(6, '0') : String(us)) + 'Z';
}
