/**
 * The normalizer's cache: past its bound (CACHE_LIMIT) it keeps answering exactly as an
 * uncached normalization would, for texts seen long ago, recently, and again after eviction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CACHE_LIMIT, createNormalizer } from '../src/sinks/stats-normalize.js';

test('normalizer cache: answers past its bound equal a fresh normalizer\'s, old and recent texts alike', async () => {
  const cached = await createNormalizer();
  const texts = Array.from({ length: CACHE_LIMIT * 3 }, (_, i) => `SELECT c${i % 97} FROM t${i} WHERE id = ${i}`);
  const first = texts.map((t) => cached.normalize(t));
  // Asked again in another order: evicted texts (the oldest), and texts still held.
  for (const i of [0, 1, CACHE_LIMIT, texts.length - 1, texts.length - 2, Math.floor(texts.length / 2)]) {
    const fresh = await createNormalizer();
    assert.deepEqual(cached.normalize(texts[i]!), fresh.normalize(texts[i]!), texts[i]);
    assert.deepEqual(cached.normalize(texts[i]!), first[i], texts[i]);
  }
});
