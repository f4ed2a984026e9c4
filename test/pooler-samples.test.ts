/**
 * The PgBouncer sample (scripts/sample-pooler.ts: real PgBouncer in transaction pooling mode in
 * front of PostgreSQL 18, both legs captured) read with `-p 6432`, compared with what the two pg
 * clients saw (samples/manifest.json). What issue 13 section 7 asks that pgsniff does not do yet
 * runs as todo: counting each statement once, linking a client-leg record to the server leg and
 * backend that ran it, and not calling a statement prepared on another server connection
 * "prepared before the capture".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { projectRoot } from './helpers/public-captures.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { statsCommand } from '../src/cli/stats.js';
import type { StatsReport } from '../src/sinks/stats.js';
import { queryRecordSchema, sessionRecordSchema, type QueryRecord, type SessionRecord } from '../src/session/schema.js';
import type { Manifest, ManifestSample } from '../scripts/sample-manifest.js';

const manifestPath = join(projectRoot, 'samples', 'manifest.json');
const manifest: Manifest | null = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) : null;
const sample: ManifestSample | undefined = manifest?.samples.find((s) => s.pooler);
const SKIP = sample ? false : 'no pooler sample in samples/manifest.json (npm run samples)';
const file = join(projectRoot, 'samples', 'pgbouncer.pcap');

async function records(): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
  const queries: QueryRecord[] = [];
  const sessions: SessionRecord[] = [];
  await analyzeFile(file, {
    record: (r) => {
      if (r.kind === 'query') queries.push(queryRecordSchema.parse(r));
      else if (r.kind === 'session') sessions.push(sessionRecordSchema.parse(r));
    },
  }, { messages: false, ports: [sample!.pooler!.port] });
  return { queries, sessions };
}

async function stats(json: boolean): Promise<string> {
  let text = '';
  const out = new Writable({ write(chunk: Buffer, _e, cb) { text += chunk.toString(); cb(); } });
  assert.equal(await statsCommand({ file, ports: [sample!.pooler!.port], json }, { stdout: out }), 0);
  return text;
}

test('pgbouncer: -p 6432 decodes both legs; every client-leg statement also runs on a server leg inside its time', { skip: SKIP }, async () => {
  const { queries, sessions } = await records();
  const port = sample!.pooler!.port;
  const clientLegs = sessions.filter((s) => s.server.port === port);
  const serverLegs = sessions.filter((s) => s.server.port !== port);
  assert.equal(clientLegs.length, sample!.connections.length);
  assert.ok(serverLegs.length >= 2, 'the 26000 needs a second server connection');
  for (const s of [...clientLegs, ...serverLegs]) assert.equal(s.auth.outcome, 'success');
  const legOf = (q: QueryRecord) => (clientLegs.some((s) => s.session === q.session) ? 'client' : 'server');
  const client = queries.filter((q) => legOf(q) === 'client');
  assert.deepEqual(client.map((q) => q.error?.sqlstate ?? q.command), sample!.steps.map((st) => st.error?.sqlstate ?? st.commands?.[0]));
  const server = queries.filter((q) => legOf(q) === 'server');
  for (const c of client) {
    // the server leg's execution lies within the client leg's: request after, completion before
    const twin = server.find((x) => x.command === c.command && (x.error?.sqlstate ?? null) === (c.error?.sqlstate ?? null) && x.firstFrame > c.firstFrame && x.lastFrame < c.lastFrame);
    assert.ok(twin, `no server-leg twin of ${c.sql ?? c.statement} (frame ${c.firstFrame})`);
  }
});

test('pgbouncer: stats counts each statement once, on the client leg', {
  skip: SKIP,
  todo: 'issue 13 section 7: stats adds both legs (16 executions, 4 failed for 7 and 2) and the server legs\' SET application_name; pooler recognition (src/session/pooler.ts) is not built yet',
}, async () => {
  const report = JSON.parse(await stats(true)) as StatsReport;
  assert.equal(report.totals.queries, sample!.steps.length);
  assert.equal(report.totals.errors, sample!.steps.filter((s) => s.error).length);
});

test('pgbouncer: pool_stmt on the second server connection is not "prepared before the capture"', {
  skip: SKIP,
  todo: 'issue 13 section 7: the Bind of pool_stmt on the second server connection gets sql null and stats calls it <statement "pool_stmt" prepared before the capture>, though its Parse is in the capture on the first server connection (and on the client leg)',
}, async () => {
  const { queries } = await records();
  const failed = queries.filter((q) => q.error?.sqlstate === '26000');
  assert.equal(failed.length >= 1, true);
  for (const q of failed) assert.equal(q.sql, 'SELECT $1::int * 10 AS tens');
  assert.doesNotMatch(await stats(false), /prepared before the capture/);
});

test('pgbouncer: a client-leg query record names the server-leg session and backend pid that ran it', {
  skip: SKIP,
  todo: 'issue 13 section 7: no field links a client-leg record to its server leg yet (to be declared once in src/session/schema.ts)',
}, async () => {
  const { queries, sessions } = await records();
  const port = sample!.pooler!.port;
  const pidOf = new Map(sessions.map((s) => [s.session, s.backendPid]));
  for (const q of queries.filter((x) => sessions.find((s) => s.session === x.session)!.server.port === port)) {
    const link = (q as unknown as { serverLeg?: { session: number; backendPid: number | null } }).serverLeg;
    assert.ok(link, `frame ${q.firstFrame}`);
    assert.equal(link.backendPid, pidOf.get(link.session));
  }
});

test('pgbouncer: the sessions table shows each session\'s server address: the client legs PgBouncer\'s, the server legs PostgreSQL\'s', { skip: SKIP }, async () => {
  const text = await stats(false);
  const table = text.slice(text.indexOf('Sessions:'));
  assert.match(table, /127\.0\.0\.1:6432/);
  assert.match(table, /127\.0\.0\.1:5432/);
});
