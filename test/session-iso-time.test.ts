import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from '../src/core/time.js';
import { isoTimeFast } from '../src/session/iso-time.js';

test('isoTimeFast equals isoTime', () => {
  const base = [0, 1, 999_999, 1_000_000, 1_700_000_000_000_000, 1_700_000_000_999_999, 951_782_399_999_999, 4_102_444_800_000_001];
  let x = 1_700_000_000_000_000;
  for (let i = 0; i < 20_000; i++) {
    x += (i * 7919) % 3_000_001;
    base.push(x);
  }
  for (const t of base) assert.equal(isoTimeFast(t), isoTime(t), String(t));
});
