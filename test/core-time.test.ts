import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from '../src/core/time.js';

/** The reference: Date's milliseconds and the three digits after them. */
function reference(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  return new Date(ms).toISOString().slice(0, -1) + String(timeUs - ms * 1000).padStart(3, '0') + 'Z';
}

test('isoTime (date part cached per second) equals Date\'s text with microseconds', () => {
  const base = [0, 1, 999_999, 1_000_000, 1_700_000_000_000_000, 1_700_000_000_999_999, 951_782_399_999_999, 4_102_444_800_000_001, -1, -1_000_001];
  let x = 1_700_000_000_000_000;
  for (let i = 0; i < 20_000; i++) {
    x += (i * 7919) % 3_000_001;
    base.push(x);
  }
  for (const t of base) assert.equal(isoTime(t), reference(t), String(t));
});

test('isoTime is total: beyond four-digit years and NaN are clamped, fractions floored', () => {
  assert.equal(isoTime(Number.NaN), '1970-01-01T00:00:00.000000Z');
  assert.equal(isoTime(1e300), '9999-12-31T23:59:59.000000Z');
  assert.equal(isoTime(-1e300), '0000-01-01T00:00:00.000000Z');
  assert.equal(isoTime(1.5), '1970-01-01T00:00:00.000001Z');
});
