/**
 * COPY data in public captures (suricata-verify's pgsql-copy-data-in / -out, see the corpus
 * INDEX.md) through the whole pipeline: the CopyData records carry the rows decoded here.
 * Each holds `COPY 5` of a 13-column table; COPY OUT sends one row per CopyData, the client's
 * COPY IN sends all five in one. Skipped, saying so, when the corpus is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { collect } from './helpers/run-pipeline.js';
import { publicCapture, publicCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';

const CASES = [
  { file: 'suricata-verify/pgsql-copy-data-out/input.pcap', dir: 'backend', messages: 5 },
  { file: 'suricata-verify/pgsql-copy-data-in/TLPW-Jason-copyfrom-small.pcap', dir: 'frontend', messages: 1 },
];

for (const c of CASES) {
  test(`COPY rows in ${c.file}`, async (t) => {
    if (publicCaptures() === null || !existsSync(publicCapture(c.file))) {
      t.skip(SKIP_NO_PUBLIC);
      return;
    }
    const { records } = await collect(publicCapture(c.file));
    const data = records.filter((r) => r.kind === 'message' && r.type === 'CopyData');
    assert.equal(data.length, c.messages);
    let rows = 0;
    for (const rec of data) {
      const r = rec as unknown as Record<string, unknown>;
      assert.equal(r.dir, c.dir);
      assert.equal(r.format, 'text');
      assert.equal(r.partial, undefined);
      for (const row of r.rows as unknown[][]) {
        assert.equal(row.length, 13);
        // The first two columns are the table's integer ids, as text (COPY does not say the types).
        assert.match(row[0] as string, /^\d+$/);
        rows++;
      }
    }
    assert.equal(rows, 5, 'COPY 5');
  });
}
