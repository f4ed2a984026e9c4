/**
 * README.md's example outputs are what pgsniff prints on the shipped samples
 * (scripts/readme-examples.ts): a change in the output, or an edit of an example by hand, fails
 * here. `node dist/scripts/readme-examples.js` rewrites them after a deliberate change.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderExamples, exampleInputs, exampleOutput, ROOT } from '../scripts/readme-examples.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
// The damaged captures some examples show, made from the samples by cutting them short.
const inputs = await exampleInputs(readme);
after(() => { inputs.remove(); });

test('README.md has example blocks generated from the samples', () => {
  const markers = readme.split('\n').filter((l) => l.startsWith('<!-- example'));
  assert.ok(markers.length >= 4, `only ${markers.length} example markers`);
  for (const m of markers) assert.match(m, /samples\//, `${m}: examples run on the shipped samples`);
});

test("README.md's example blocks are what pgsniff prints on the samples", () => {
  const want = renderExamples(readme, inputs.files).split('\n');
  const got = readme.split('\n');
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    assert.equal(got[i], want[i], `README.md line ${i + 1} differs from pgsniff's output (node dist/scripts/readme-examples.js rewrites the examples)`);
  }
});

test('an example step other than skip N / head N is refused', () => {
  assert.throws(() => exampleOutput('schema | tail 3'), /unknown step/);
});

test('a damaged capture of an example is its sample cut short in the middle of the frame named', async () => {
  const made = await exampleInputs('<!-- example: stats c.pcap | c.pcap = samples/simple-query.pcap cut in frame 17 -->');
  try {
    const cut = readFileSync(made.files.get('c.pcap')!);
    const whole = readFileSync(join(ROOT, 'samples', 'simple-query.pcap'));
    assert.ok(cut.length < whole.length);
    assert.ok(whole.subarray(0, cut.length).equals(cut), 'the sample\'s first bytes, unchanged');
    assert.match(exampleOutput('read c.pcap --text | c.pcap = samples/simple-query.pcap cut in frame 17', made.files), /capture-truncated/);
  } finally {
    made.remove();
  }
  assert.throws(() => exampleOutput('stats d.pcap | d.pcap = samples/simple-query.pcap cut in frame 17'), /d\.pcap was not made/);
});
