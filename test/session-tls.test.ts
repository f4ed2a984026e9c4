/**
 * Sessions inside TLS (samples/tls-*.pcap with their key logs, see samples/TLS.md): with the
 * keys, the same query records as in the clear and a session record saying TLS, decrypted;
 * without them, a session record saying TLS, not decrypted, and no queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { queryRecordSchema, sessionRecordSchema, type QueryRecord, type SessionRecord } from '../src/session/schema.js';

const dir = join(projectRoot, 'samples');
const CASES = [
  { name: 'tls-13', version: 'TLS 1.3', cipher: 'TLS_AES_128_GCM_SHA256', sslRequested: true },
  { name: 'tls-12', version: 'TLS 1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', sslRequested: true },
  { name: 'tls-direct', version: 'TLS 1.3', cipher: 'TLS_CHACHA20_POLY1305_SHA256', sslRequested: false },
];
const SQL = [
  "SELECT 1 AS one, 'über TLS' AS msg",
  'SELECT g, md5(g::text) FROM generate_series(1, 5) g',
  'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
];

async function load(name: string, keylog: string | null): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
  const queries: QueryRecord[] = [];
  const sessions: SessionRecord[] = [];
  await analyzeFile(join(dir, `${name}.pcap`), {
    record: (r) => {
      if (r.kind === 'query') queries.push(queryRecordSchema.parse(r));
      else if (r.kind === 'session') sessions.push(sessionRecordSchema.parse(r));
    },
  }, { messages: false, keylog });
  return { queries, sessions };
}

for (const c of CASES) {
  const SKIP = existsSync(join(dir, `${c.name}.pcap`)) ? false : `samples/${c.name}.pcap is absent (scripts/make-tls-samples.ts makes it): skipped`;
  test(`TLS sample ${c.name}: query and session records with and without the key log`, { skip: SKIP }, async () => {
    const open = await load(c.name, join(dir, `${c.name}.keylog`));
    assert.deepEqual(open.queries.map((q) => q.sql), SQL);
    assert.deepEqual(open.queries.map((q) => q.command), ['SELECT 1', 'SELECT 5', 'SELECT 1']);
    assert.equal(open.sessions.length, 1);
    const s = open.sessions[0]!;
    assert.equal(s.encryption, 'tls');
    const { version, cipher, sni, alpn, decrypted, alpnOffered, certSubject, encryptedBytes, note } = s.tls!;
    assert.deepEqual({ version, cipher, sni, alpn, decrypted }, { version: c.version, cipher: c.cipher, sni: 'localhost', alpn: 'postgresql', decrypted: true });
    assert.deepEqual(alpnOffered, ['postgresql']);
    assert.equal(certSubject, 'CN=pgsniff-test, O=pgsniff');
    assert.ok(encryptedBytes!.frontend > 0 && encryptedBytes!.backend > encryptedBytes!.frontend);
    assert.equal(note, null);
    assert.equal(s.sslRequested, c.sslRequested);
    assert.deepEqual([s.user, s.auth.method, s.auth.outcome, s.endedBy], ['postgres', 'trust', 'success', 'terminate']);

    const shut = await load(c.name, null);
    assert.equal(shut.queries.length, 0);
    assert.equal(shut.sessions.length, 1);
    assert.equal(shut.sessions[0]!.encryption, 'tls');
    assert.equal(shut.sessions[0]!.tls?.decrypted, false);
    assert.equal(shut.sessions[0]!.auth.outcome, 'unknown');
  });
}
