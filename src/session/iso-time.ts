/**
 * src/core/time.ts's isoTime with the date part cached per second: a query record carries two
 * timestamps, and Date#toISOString was most of the cost of building one. Same output for the
 * integer microseconds the pipeline carries.
 */
import { isoTime } from '../core/time.js';

let cachedSecond = Number.NaN;
let cachedPrefix = '';

export function isoTimeFast(timeUs: number): string {
  if (!Number.isSafeInteger(timeUs)) return isoTime(timeUs);
  const second = Math.floor(timeUs / 1_000_000);
  if (second !== cachedSecond) {
    const full = isoTime(second * 1_000_000);
    cachedPrefix = full.slice(0, full.length - 8); // drop ".000000Z"
    cachedSecond = second;
  }
  const us = timeUs - second * 1_000_000;
  return cachedPrefix + '.' + (us < 100_000 ? String(us).padStart(6, '0') : String(us)) + 'Z';
}
