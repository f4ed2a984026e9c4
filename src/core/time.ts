/**
 * Capture time is carried as integer microseconds since the Unix epoch: it fits a double
 * exactly (2^53 µs is about 285 years) and costs no allocation, unlike bigint. Nanosecond
 * captures are truncated to microseconds, which is what the JSON contract shows.
 */

/** ISO 8601 with microseconds, UTC: 2024-05-01T12:00:00.123456Z */
export function isoTime(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  const us = timeUs - ms * 1000;
  const base = new Date(ms).toISOString(); // ...SS.mmmZ
  return base.slice(0, -1) + String(us).padStart(3, '0') + 'Z';
}
