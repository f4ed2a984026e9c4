import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from '../src/core/time.js';

test('isoTime prints microseconds', () => {
  assert.equal(isoTime(1_700_000_000_123_456), '2023-11-14T22:13:20.123456Z');
});
