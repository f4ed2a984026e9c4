/**
 * Golden NDJSON: the full export of every sample (messages, queries, sessions, anomalies) is
 * kept in test/golden/, and any change in what pgsniff decodes shows up as a diff there, reviewed
 * like code. After a deliberate change:  UPDATE_GOLDEN=1 npm test  and read the diff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { projectRoot, sampleCaptures } from './helpers/public-captures.js';
import { collect } from './helpers/run-pipeline.js';

const GOLDEN = join(projectRoot, 'test', 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

for (const path of sampleCaptures()) {
  const name = basename(path).replace(/\.pcap(ng)?$/, '');
  test(`golden NDJSON: ${name}`, async () => {
    const keylog = path.replace(/\.pcap(ng)?$/, '.keylog');
    const { records } = await collect(path, { keylog: existsSync(keylog) ? keylog : null });
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const file = join(GOLDEN, `${name}.ndjson`);
    if (update || !existsSync(file)) {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(file, text);
      if (!update) assert.fail(`${file} did not exist: written now, review and commit it`);
      return;
    }
    const want = readFileSync(file, 'utf8').split('\n');
    const got = text.split('\n');
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      assert.equal(got[i], want[i], `${name}.ndjson line ${i + 1} differs (UPDATE_GOLDEN=1 npm test rewrites it after a deliberate change)`);
    }
  });
}
