/**
 * The PgBouncer sample (scripts/sample-pooler.ts: real PgBouncer in transaction pooling mode in
 * front of PostgreSQL 18, both legs captured) read with `-p 6432`, compared with what the two pg
 * clients saw (samples/manifest.json). Issue 13 section 7 (src/session/pooler.ts): stats and check
 * count each statement once (the client leg), a client-leg record names the server leg and
 * backend that ran it, the server legs' records (and PgBouncer's own SETs) say poolerLeg, and a
 * statement prepared on another server connection is not "prepared before the capture".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { projectRoot } from './helpers/public-captures.js';
import { statsCommand } from '../src/cli/stats.js';
import { checkFile } from '../src/cli/check.js';
import { queryDetail } from '../src/tui/record-fields.js';
import type { StatsReport } from '../src/sinks/stats.js';
import type { QueryRecord, SessionRecord } from '../src/session/schema.js';
import { queryAndSessionRecords } from './helpers/pooler-records.js';
import type { Manifest, ManifestSample } from '../scripts/sample-manifest.js';

const manifestPath = join(projectRoot, 'samples', 'manifest.json');
const manifest: Manifest | null = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) : null;
const sample: ManifestSample | undefined = manifest?.samples.find((s) => s.pooler);
const SKIP = sample ? false : 'no pooler sample in samples/manifest.json (npm run samples)';
const file = join(projectRoot, 'samples', 'pgbouncer.pcap');

async function records(): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
  const { queries, sessions } = await queryAndSessionRecords(file, [sample!.pooler!.port]);
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
  // in the order the statements were sent (a transaction block's records go out at its end)
  const client = queries.filter((q) => legOf(q) === 'client').sort((a, b) => a.firstFrame - b.firstFrame);
  assert.deepEqual(client.map((q) => q.error?.sqlstate ?? q.command), sample!.steps.map((st) => st.error?.sqlstate ?? st.commands?.[0]));
  const server = queries.filter((q) => legOf(q) === 'server');
  for (const c of client) {
    // the server leg's execution lies within the client leg's: request after, completion before
    const twin = server.find((x) => x.command === c.command && (x.error?.sqlstate ?? null) === (c.error?.sqlstate ?? null) && x.firstFrame > c.firstFrame && x.lastFrame < c.lastFrame);
    assert.ok(twin, `no server-leg twin of ${c.sql ?? c.statement} (frame ${c.firstFrame})`);
  }
});

test('pgbouncer: stats and check count each statement once, on the client leg', { skip: SKIP }, async () => {
  // Before: 16 executions and 4 failed for the clients' 7 and 2 (both legs, and PgBouncer's SETs).
  const report = JSON.parse(await stats(true)) as StatsReport;
  const steps = sample!.steps.length;
  const failed = sample!.steps.filter((s) => s.error).length;
  assert.equal(report.totals.queries, steps);
  assert.equal(report.totals.errors, failed);
  const { queries } = await records();
  assert.equal(report.totals.poolerServerLeg, queries.filter((q) => q.poolerLeg === 'server').length);
  assert.match(await stats(false), new RegExp(`Pooler: ${report.totals.poolerServerLeg} statements on its server legs not counted`));
  const ports = [sample!.pooler!.port];
  assert.equal((await checkFile(file, { maxQueries: steps }, { ports })).ok, true);
  const over = await checkFile(file, { maxQueries: steps - 1 }, { ports });
  assert.equal(over.ok, false);
  assert.equal(over.checked.queries, steps);
  const errors = await checkFile(file, { noErrors: true }, { ports });
  assert.equal(errors.violations.reduce((n, v) => n + (v.count ?? 0), 0), failed);
});

test('pgbouncer: the server legs\' records, and only theirs, say poolerLeg "server", PgBouncer\'s own SETs too', { skip: SKIP }, async () => {
  const { queries, sessions } = await records();
  const port = sample!.pooler!.port;
  for (const s of sessions) assert.equal(s.poolerLeg, s.server.port === port ? 'client' : 'server', `session ${s.session}`);
  const serverSessions = new Set(sessions.filter((s) => s.server.port !== port).map((s) => s.session));
  for (const q of queries) assert.equal(q.poolerLeg === 'server', serverSessions.has(q.session), `frame ${q.firstFrame}`);
  const own = queries.filter((q) => q.poolerLeg === 'server' && q.sql !== null && /^SET application_name/.test(q.sql));
  assert.equal(own.length, serverSessions.size, 'PgBouncer sets application_name once on each new server connection');
});

test('pgbouncer: pool_stmt on the second server connection is not "prepared before the capture"', { skip: SKIP }, async () => {
  // Before: the Bind on the second server connection got sql null and stats called it
  // <statement "pool_stmt" prepared before the capture>; the client leg's statement names it.
  const { queries } = await records();
  const failed = queries.filter((q) => q.error?.sqlstate === '26000');
  assert.equal(failed.length >= 1, true);
  for (const q of failed) assert.equal(q.sql, 'SELECT $1::int * 10 AS tens');
  assert.doesNotMatch(await stats(false), /prepared before the capture/);
});

test('pgbouncer: a client-leg query record names the server-leg session and backend pid that ran it', { skip: SKIP }, async () => {
  const { queries, sessions } = await records();
  const port = sample!.pooler!.port;
  const pidOf = new Map(sessions.map((s) => [s.session, s.backendPid]));
  const serverOf = new Map(sessions.map((s) => [s.session, s.server.port]));
  const legs = new Set<number>();
  for (const q of queries.filter((x) => serverOf.get(x.session) === port)) {
    const link = q.serverLeg;
    assert.ok(link, `frame ${q.firstFrame}`);
    assert.notEqual(serverOf.get(link.session), port);
    assert.equal(link.backendPid, pidOf.get(link.session));
    // the server leg's twin: same outcome, inside the client leg's time
    const twin = queries.find((x) => x.session === link.session && x.sql === q.sql && (x.error?.sqlstate ?? null) === (q.error?.sqlstate ?? null)
      && x.firstFrame > q.firstFrame && x.lastFrame < q.lastFrame);
    assert.ok(twin, `frame ${q.firstFrame}: no twin on session ${link.session}`);
    legs.add(link.session);
  }
  // pool_stmt's 26000 ran on the second server connection, the rest on the first
  assert.equal(legs.size, 2);
  // the TUI's detail line says both
  const first = queries.find((q) => q.serverLeg !== undefined)!;
  assert.match(queryDetail(first as unknown as Record<string, unknown>), new RegExp(`ran through the pooler on session ${first.serverLeg!.session} \\(backend pid ${first.serverLeg!.backendPid}\\)`));
  assert.match(queryDetail(queries.find((q) => q.poolerLeg === 'server')! as unknown as Record<string, unknown>), /pooler's server leg/);
  for (const q of queries.filter((x) => x.serverLeg === undefined)) assert.equal(q.poolerLeg, 'server', `frame ${q.firstFrame}`);
});

test('pgbouncer: the sessions table shows each session\'s server address: the client legs PgBouncer\'s, the server legs PostgreSQL\'s', { skip: SKIP }, async () => {
  const text = await stats(false);
  const table = text.slice(text.indexOf('Sessions:'));
  assert.match(table, /127\.0\.0\.1:6432/);
  assert.match(table, /127\.0\.0\.1:5432/);
});
