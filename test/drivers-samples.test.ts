/**
 * The driver samples (psycopg2, psycopg 3, asyncpg, SQLAlchemy, pgJDBC, postgres.js; made by
 * scripts/sample-drivers.ts against PostgreSQL 18) read back through pgsniff and compared with
 * what each driver reported (samples/manifest.json): every SQLSTATE the driver raised is on
 * exactly one query record, the session's error count agrees, and the driver-specific shapes
 * (execute_batch, executeBatch, setFetchSize, binary COPY, Describe statement) come out as the
 * clients saw them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { analyzeFile, PacketPipeline } from '../src/pipeline/analyze.js';
import { readAll } from './helpers/read-all.js';
import { queryRecordSchema, sessionRecordSchema, type QueryRecord, type SessionRecord } from '../src/session/schema.js';
import type { Manifest, ManifestSample } from '../scripts/sample-manifest.js';

const manifestPath = join(projectRoot, 'samples', 'manifest.json');
const manifest: Manifest | null = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) : null;
const DRIVERS = ['psycopg2', 'psycopg3', 'asyncpg', 'sqlalchemy', 'pgjdbc', 'postgresjs-describe'];

function sample(name: string): ManifestSample {
  const s = manifest?.samples.find((x) => x.name === name);
  assert.ok(s, `${name} is not in samples/manifest.json (npm run samples)`);
  return s;
}

async function records(name: string): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
  const queries: QueryRecord[] = [];
  const sessions: SessionRecord[] = [];
  await analyzeFile(join(projectRoot, 'samples', `${name}.pcap`), {
    record: (r) => {
      if (r.kind === 'query') queries.push(queryRecordSchema.parse(r));
      else if (r.kind === 'session') sessions.push(sessionRecordSchema.parse(r));
    },
  }, { messages: false, keepRows: true });
  return { queries, sessions };
}

const SKIP = manifest && DRIVERS.every((d) => manifest.samples.some((s) => s.name === d)) ? false : 'the driver samples are not in samples/ (npm run samples)';


for (const name of DRIVERS) {
  test(`${name}: every SQLSTATE the driver reported is on exactly one query record, and the session counts them`, { skip: SKIP }, async () => {
    const s = sample(name);
    const { queries, sessions } = await records(name);
    const reported = s.steps.filter((st) => st.error).map((st) => `${st.error!.sqlstate} ${st.sql}`);
    const seen = queries.filter((q) => q.error !== null && !q.skipped).map((q) => `${q.error!.sqlstate} ${q.sql}`);
    assert.deepEqual(seen.sort(), [...reported].sort());
    const errors = sessions.filter((x) => x.cancel === null).reduce((n, x) => n + x.errors, 0);
    assert.equal(errors, reported.length, 'session error counts equal the failed queries');
    // what the driver ran is what pgsniff counts: one Query message or one Execute per step
    assert.equal(queries.filter((q) => !q.skipped && q.statementIndex === 0).length, s.steps.length);
  });
}

test('psycopg2: execute_batch is one Query of three INSERTs, each its own record with its own tag', { skip: SKIP }, async () => {
  const { queries } = await records('psycopg2');
  const batch = queries.filter((q) => q.statementCount === 3);
  assert.deepEqual(batch.map((q) => [q.statementIndex, q.command, q.protocol]), [[0, 'INSERT 0 1', 'simple'], [1, 'INSERT 0 1', 'simple'], [2, 'INSERT 0 1', 'simple']]);
  assert.equal(new Set(batch.map((q) => q.firstFrame)).size, 1, 'one Query message');
  const failed = queries.filter((q) => q.error).map((q) => q.error!.sqlstate);
  assert.deepEqual(failed, ['42P01', '23505', '42601']);
});

test('pgjdbc: executeBatch binds S_2 four times after one Parse; setFetchSize(3) is a suspended Execute then its continuation', { skip: SKIP }, async () => {
  const { queries } = await records('pgjdbc');
  const inserts = queries.filter((q) => q.statement === 'S_2');
  assert.deepEqual(inserts.map((q) => [q.parsed, q.command, q.params[0]?.value]), [[true, 'INSERT 0 1', 1], [false, 'INSERT 0 1', 2], [false, 'INSERT 0 1', 3], [false, 'INSERT 0 1', 4]]);
  const fetch = queries.filter((q) => q.statement === 'S_7');
  assert.deepEqual(fetch.map((q) => [q.portal, q.suspended, q.rowsReturned, q.command]), [['C_8', true, 3, null], ['C_8', false, 1, 'SELECT 1']]);
  assert.deepEqual(fetch.flatMap((q) => q.rowValues ?? []), [[1, 'one'], [2, 'two'], [3, 'three'], [4, 'four']]);
  const parseErrors = queries.filter((q) => q.error !== null && !q.skipped);
  assert.deepEqual(parseErrors.map((q) => [q.statement, q.error!.sqlstate]), [['S_4', '42P01'], ['S_5', '42601']]);
});

test('pgjdbc: the second execution of S_3 asks for int4 in binary without a Describe: its row is typed from the first RowDescription', {
  skip: SKIP,
}, async () => {
  const { queries } = await records('pgjdbc');
  const second = queries.filter((q) => q.statement === 'S_3')[1]!;
  assert.deepEqual(second.rowValues, [[3, 'three']]);
});

test('asyncpg: the binary COPY counts the CopyData sent before the CopyInResponse', {
  skip: SKIP,
}, async () => {
  const s = sample('asyncpg');
  const step = s.steps.find((st) => st.copy)!;
  const { queries } = await records('asyncpg');
  const copy = queries.find((q) => q.copy !== null)!;
  assert.equal(copy.command, 'COPY 2');
  assert.equal(copy.copy!.format, 'binary');
  assert.equal(copy.copy!.bytesIn, step.copy!.bytes);
  assert.ok(copy.copy!.messagesIn >= 1);
});

test('asyncpg: executemany and prepare() results are typed from the Describe statement (binary int4 and text)', { skip: SKIP }, async () => {
  const { queries } = await records('asyncpg');
  const sel = queries.filter((q) => q.statement === '__asyncpg_stmt_3__');
  assert.deepEqual(sel.map((q) => q.rowValues), [[[2, 'two']], [[5, 'five']]]);
  assert.deepEqual(sel.map((q) => q.parsed), [true, false]);
  assert.equal(queries.filter((q) => q.statement === '__asyncpg_stmt_1__' && q.command === 'INSERT 0 1').length, 3);
});

test('postgres.js: Parse, Describe statement, Bind, Execute, Sync in one segment give typed DataRows', {
  skip: SKIP,
}, async () => {
  const { queries } = await records('postgresjs-describe');
  assert.equal(queries.length, 3);
  for (const q of queries) {
    assert.deepEqual(q.columns?.map((c) => [c.name, c.typeOid]), [['n', 23], ['word', 25]], `${q.firstFrame}`);
  }
  assert.deepEqual(queries.map((q) => q.rowValues), [[[7, 'seven']], [[7, 'seven']], [[8, 'eight']]]);
});

test('pgjdbc: a capture that begins after S_3 was described shows its binary int4 as hex of unknown type, never as text', { skip: SKIP }, async () => {
  // Frames from the second execution of S_3 on (Bind, Execute, Sync; int4 asked in binary):
  // the capture never saw the Parse nor the Describe, so the column types are unknown.
  const { packets } = await readAll(join(projectRoot, 'samples', 'pgjdbc.pcap'));
  const queries: QueryRecord[] = [];
  const p = new PacketPipeline({ record: (r) => { if (r.kind === 'query') queries.push(queryRecordSchema.parse(r)); } }, { messages: false, keepRows: true });
  for (const pkt of packets) if (pkt.frame >= 32) p.packet(pkt);
  await p.finish();
  const s3 = queries.find((q) => q.statement === 'S_3')!;
  assert.equal(s3.sql, null, 'prepared before the capture');
  assert.equal(s3.columns, null);
  assert.deepEqual(s3.rowValues, [['\\x00000003', 'three']]);
});
