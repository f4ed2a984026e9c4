/**
 * The library API: `import { read } from 'pgsniff'` yields the typed records of a capture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read, isUserError, validateRecord } from '../src/index.js';
import { publicCapture, publicCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';

const skip = publicCaptures() === null ? SKIP_NO_PUBLIC : false;

test('read() yields query and session records in capture order', { skip }, async () => {
  const kinds: string[] = [];
  let sql = '';
  for await (const rec of read(publicCapture('zeek/psql-select-now.pcap'), { messages: false })) {
    kinds.push(rec.kind);
    assert.equal(validateRecord(rec), null);
    if (rec.kind === 'query') sql = rec.sql ?? '';
  }
  assert.deepEqual(kinds, ['query', 'session']);
  assert.equal(sql, 'select now()');
});

test('read() on a large capture with a slow consumer, and breaking out early', { skip }, async () => {
  let n = 0;
  for await (const rec of read(publicCapture('suricata-verify/pgsql-5000-query-results/input.pcap'), { filter: 'type == DataRow' })) {
    assert.equal(rec.kind, 'message');
    if (++n % 1000 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(n, 5000);
  let m = 0;
  for await (const _ of read(publicCapture('suricata-verify/pgsql-5000-query-results/input.pcap'))) {
    if (++m === 10) break;
  }
  assert.equal(m, 10);
});

test('read() of a missing file rejects with a UserError', async () => {
  await assert.rejects(async () => {
    for await (const _ of read('/nonexistent/dump.pcap')) void _;
  }, (e: unknown) => isUserError(e) && e.code === 'ENOENT');
});
