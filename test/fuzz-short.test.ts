/**
 * A short fuzz run (scripts/fuzz.ts does long ones): a few thousand mutated samples and public
 * captures through the whole pipeline in worker threads, each within a time bound and a heap
 * bound, none throwing out of the pipeline. The seed is fixed so a failure here reproduces with
 * `npm run fuzz -- 1 --seed SEED --start INDEX`; PGSNIFF_FUZZ_SEED picks another.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from '../scripts/fuzz-run.js';

const SEED = Number(process.env.PGSNIFF_FUZZ_SEED ?? 20261126);
const INPUTS = Number(process.env.PGSNIFF_FUZZ_INPUTS ?? 3000);

test(`fuzz: ${INPUTS} mutated captures, seed ${SEED}`, { timeout: 180_000 }, async () => {
  const s = await runFuzz({ seed: SEED, iterations: INPUTS, workers: 2, timeoutMs: 5000, heapLimitMb: 512, heapCheckMb: 256 });
  const report = s.failures.map((f) => `${f.kind} at index ${f.index} (${f.source}; ${f.mutations.join(', ')}): ${f.message.split('\n')[0]} [saved ${f.saved}]`);
  assert.deepEqual(report, [], `fuzz failures with seed ${SEED}`);
  assert.equal(s.inputs, INPUTS);
  assert.ok(s.corpus >= 10, `corpus of ${s.corpus} captures`);
  // The mutations must actually hurt: most inputs carry damage the pipeline reports.
  assert.ok(s.anomalies > INPUTS / 2, `${s.anomalies} anomalies over ${INPUTS} inputs`);
});
