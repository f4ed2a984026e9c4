/**
 * Every sample, damaged on purpose: bit flips anywhere past the file header, and the length
 * field of PostgreSQL messages set to 0, 3 and 2^31-1 (one file per message header, up to a
 * dozen per sample; not in the TLS samples, whose messages are encrypted). Nothing may throw out of the pipeline; a broken length must surface as an
 * anomaly record, and the flips as a whole must too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { sampleCaptures } from './helpers/public-captures.js';
import { lengthVariants, mutateOnce, Rng } from '../scripts/fuzz-mutate.js';
import { runOne } from '../scripts/fuzz-run.js';

const samples = sampleCaptures();

for (const path of samples) {
  const name = basename(path);
  const data = readFileSync(path);

  // In the TLS samples the PostgreSQL messages are encrypted: their length fields cannot be
  // reached without re-encrypting, so only the bit flips apply there.
  const clear = !name.startsWith('tls-');
  for (const value of clear ? [0, 3, 0x7fffffff] : []) {
    test(`${name}: message lengths set to ${value}`, async () => {
      const variants = lengthVariants(data, value, 12);
      assert.ok(variants.length > 0, 'no message header found');
      for (const [i, v] of variants.entries()) {
        const r = await runOne({ index: i, source: name, mutations: ['length'], data: v, chunk: 0 });
        assert.equal(r.refused, false);
        assert.ok(r.anomalies > 0, `variant ${i}: a length of ${value} went unreported`);
      }
    });
  }

  test(`${name}: bit flips`, async () => {
    const rng = new Rng(0x5eed + data.length);
    let anomalies = 0;
    for (let i = 0; i < 40; i++) {
      const r = await runOne({ index: i, source: name, mutations: ['bitflip'], data: mutateOnce(data, rng, 'bitflip'), chunk: i % 5 === 0 ? 1 + rng.int(2000) : 0 });
      anomalies += r.anomalies;
    }
    assert.ok(anomalies > 0, 'forty damaged copies without a single anomaly');
  });
}

test('samples are present', () => {
  assert.ok(samples.length > 0, 'samples/ holds no capture');
});
