/**
 * README.md's example outputs are what pgsniff prints on the shipped samples
 * (scripts/readme-examples.ts): a change in the output, or an edit of an example by hand, fails
 * here. `node dist/scripts/readme-examples.js` rewrites them after a deliberate change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderExamples, exampleOutput, ROOT } from '../scripts/readme-examples.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('README.md has example blocks generated from the samples', () => {
  const markers = readme.split('\n').filter((l) => l.startsWith('<!-- example'));
  assert.ok(markers.length >= 4, `only ${markers.length} example markers`);
  for (const m of markers) assert.match(m, /samples\//, `${m}: examples run on the shipped samples`);
});

test("README.md's example blocks are what pgsniff prints on the samples", () => {
  const want = renderExamples(readme).split('\n');
  const got = readme.split('\n');
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    assert.equal(got[i], want[i], `README.md line ${i + 1} differs from pgsniff's output (node dist/scripts/readme-examples.js rewrites the examples)`);
  }
});

test('an example step other than skip N / head N is refused', () => {
  assert.throws(() => exampleOutput('schema | tail 3'), /unknown step/);
});
