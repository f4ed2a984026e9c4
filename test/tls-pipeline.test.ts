/**
 * The TLS samples through the whole pipeline (src/pipeline/analyze.ts): with their key logs,
 * every PostgreSQL message of the session is decoded and marked as coming from TLS; without,
 * only the clear SSLRequest exchange, the session's TLS facts and one undecryptable note.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { collect } from './helpers/run-pipeline.js';
import { TLS_SAMPLES, TLS_SAMPLE_QUERIES } from './helpers/tls-samples.js';
import { projectRoot } from './helpers/public-captures.js';

const dir = join(projectRoot, 'samples');
/** Until src/pg/connection.ts keeps a TLS connection in its TLS phase after the inner StartupMessage. */

for (const s of TLS_SAMPLES) {
  const pcap = join(dir, `${s.name}.pcap`);
  const keylog = join(dir, `${s.name}.keylog`);
  const skip = existsSync(pcap) && existsSync(keylog) ? false : `samples/${s.name}.pcap or its key log is absent`;

  test(`${s.name} with its key log: every message decoded, marked TLS`, { skip }, async () => {
    const { records } = await collect(pcap, { keylog });
    const messages = records.filter((r) => r.kind === 'message');
    assert.deepEqual(records.filter((r) => r.kind === 'anomaly'), []);
    const inner = messages.filter((m) => m.tls === true);
    assert.deepEqual(inner.filter((m) => m.type === 'Query').map((m) => m.query), TLS_SAMPLE_QUERIES);
    assert.equal(inner.filter((m) => m.type === 'DataRow').length, 7);
    assert.equal(inner[0]?.type, 'StartupMessage');
    assert.equal(inner.at(-1)?.type, 'Terminate');
    const queries = records.filter((r) => r.kind === 'query');
    assert.deepEqual(queries.map((q) => q.sql), TLS_SAMPLE_QUERIES);
  });
}

test('tls-13 without a key log: the clear exchange, the TLS facts, one note', { skip: existsSync(join(dir, 'tls-13.pcap')) ? false : 'samples/tls-13.pcap is absent' }, async () => {
  const { records } = await collect(join(dir, 'tls-13.pcap'));
  const types = records.filter((r) => r.kind === 'message').map((r) => r.type);
  assert.deepEqual(types, ['SSLRequest', 'SSLResponse']);
  const anomalies = records.filter((r) => r.kind === 'anomaly');
  assert.ok(anomalies.length >= 1 && anomalies.every((a) => a.code === 'tls-undecryptable'), JSON.stringify(anomalies));
  assert.ok(anomalies.some((a) => /no key for this session/.test(String(a.reason))));
});
