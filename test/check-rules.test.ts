import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CheckSink, formatCheckResult } from '../src/sinks/check.js';
import { mergeRules, hasRules } from '../src/sinks/check-rules.js';
import { parseRules, readRulesFile } from '../src/sinks/check-rules-file.js';
import { isUserError } from '../src/core/errors.js';
import { q, s } from './helpers/records.js';
import type { QueryRecord, SessionRecord } from '../src/session/schema.js';


const err = (sqlstate: string) => ({ severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate, message: 'boom' });

/** An N+1 pattern: one list query, then one query per item with its id inlined. */
function nPlusOne(n: number): QueryRecord[] {
  const out = [q({ sql: 'select id from orders', rows: n })];
  for (let i = 1; i <= n; i++) out.push(q({ sql: `select * from items where order_id = ${i}`, frame: i + 1, durationMs: i }));
  return out;
}

async function run(rules: Parameters<typeof parseRules>[0], records: Array<QueryRecord | SessionRecord>) {
  const sink = await CheckSink.create(parseRules(rules));
  for (const r of records) sink.record(r);
  return sink.result();
}

test('maxQueries and maxPerFingerprint (N+1)', async () => {
  const recs = nPlusOne(10);
  assert.equal((await run({ maxQueries: 11 }, recs)).ok, true);
  const total = await run({ maxQueries: 10 }, recs);
  assert.equal(total.ok, false);
  assert.equal(total.violations[0]!.rule, 'maxQueries');
  const per = await run({ maxPerFingerprint: 5 }, recs);
  assert.equal(per.ok, false);
  assert.equal(per.violations.length, 1);
  assert.equal(per.violations[0]!.count, 10);
  assert.equal(per.violations[0]!.query, 'select * from items where order_id = $1');
  assert.match(formatCheckResult(per), /1\. \[maxPerFingerprint\] ran 10 times, more than the 5 allowed/);
  assert.equal((await run({ maxPerFingerprint: 10 }, recs)).ok, true);
  // skipped requests are not executions
  assert.equal((await run({ maxQueries: 1 }, [q({}), q({ skipped: true })])).ok, true);
});

test('noErrors with allowed SQLSTATEs', async () => {
  const recs = [q({ error: err('23505') }), q({ error: err('23505') }), q({ sql: 'select 2', error: err('40001') })];
  const r = await run({ noErrors: true }, recs);
  assert.equal(r.ok, false);
  assert.deepEqual(r.violations.map((v) => v.count), [2, 1]);
  const allowed = await run({ noErrors: true, allowSqlstates: ['23505'] }, recs);
  assert.equal(allowed.violations.length, 1);
  assert.match(allowed.violations[0]!.message, /40001/);
  assert.equal((await run({ noErrors: true, allowSqlstates: ['23505', '40001'] }, recs)).ok, true);
  assert.equal((await run({}, recs)).ok, true);
});

test('latency budgets: p95 and max', async () => {
  const recs = nPlusOne(100);
  const p95 = await run({ maxP95Ms: 90 }, recs);
  assert.equal(p95.ok, false);
  assert.match(p95.violations[0]!.message, /p95 latency 95\.000 ms over the 90 ms budget \(100 calls\)/);
  assert.equal((await run({ maxP95Ms: 95 }, recs)).ok, true);
  const max = await run({ maxLatencyMs: 99.5 }, recs);
  assert.equal(max.violations[0]!.rule, 'maxLatencyMs');
  assert.equal(max.violations[0]!.frame, 101);
  assert.equal((await run({ maxLatencyMs: 100 }, recs)).ok, true);
});

test('preparedOnce: Parse repeated for one statement in a session; the unnamed statement is not judged', async () => {
  const stmt = (parsed: boolean, session = 0) => q({ protocol: 'extended', sql: 'select * from t where id = $1', statement: 'S_1', parsed, session });
  // libpq and most drivers Parse the unnamed statement for every execution, by design
  const unnamed = () => q({ protocol: 'extended', sql: 'select * from t where id = $1', statement: '', parsed: true });
  assert.equal((await run({ preparedOnce: true }, [unnamed(), unnamed(), unnamed()])).ok, true);
  assert.equal((await run({ preparedOnce: true }, [stmt(true), stmt(false), stmt(false), stmt(true, 1)])).ok, true);
  const r = await run({ preparedOnce: true }, [stmt(true), stmt(true), stmt(true)]);
  assert.equal(r.ok, false);
  assert.equal(r.violations[0]!.count, 3);
  assert.equal((await run({ preparedOnce: true, maxPrepares: 3 }, [stmt(true), stmt(true), stmt(true)])).ok, true);
});

test('noInlinedLiterals: one fingerprint with different literals through the simple protocol', async () => {
  const r = await run({ noInlinedLiterals: true }, nPlusOne(3));
  assert.equal(r.ok, false);
  assert.equal(r.violations[0]!.rule, 'noInlinedLiterals');
  // the same literal every time, or parameters: fine
  assert.equal((await run({ noInlinedLiterals: true }, [q({ sql: 'select 1' }), q({ sql: 'select 1' })])).ok, true);
  const ext = [1, 2].map(() => q({ protocol: 'extended', sql: 'select * from t where id = $1' }));
  assert.equal((await run({ noInlinedLiterals: true }, ext)).ok, true);
});

test('session rules: plaintext passwords and TLS required', async () => {
  const clear = s({ auth: { method: 'cleartext', mechanism: null, mechanismsOffered: [], outcome: 'success', sqlstate: null, error: null } });
  const tls = s({ session: 1, encryption: 'tls', tls: { version: 'TLS 1.3', cipher: null, sni: null, alpn: null, decrypted: true } });
  const cancel = s({ session: 2, cancel: { processId: 1, frame: 3, targetSession: 1, targetQuery: null } });
  const pw = await run({ noPlaintextPasswords: true }, [clear, tls]);
  assert.deepEqual(pw.violations.map((v) => [v.rule, v.session]), [['noPlaintextPasswords', 0]]);
  const t = await run({ requireTls: true }, [clear, tls, cancel]);
  assert.deepEqual(t.violations.map((v) => [v.rule, v.session]), [['requireTls', 0]]);
  assert.equal((await run({ requireTls: true, noPlaintextPasswords: true }, [tls, cancel])).ok, true);
});

test('rules from JSON and YAML files, kebab-case keys, flags over the file; bad files are user errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-rules-'));
  try {
    const y = join(dir, 'rules.yaml');
    writeFileSync(y, 'max-per-fingerprint: 5\nno-errors: true\nallow-sqlstate: "23505"\nmaxP95Ms: 100\n');
    assert.deepEqual(readRulesFile(y), { maxPerFingerprint: 5, noErrors: true, allowSqlstates: ['23505'], maxP95Ms: 100 });
    writeFileSync(y, 'allowSqlstates: [23505]\n');
    assert.throws(() => readRulesFile(y), (e: unknown) => isUserError(e) && /allowSqlstates/.test(e.message), 'a number is not a SQLSTATE');
    writeFileSync(y, 'allowSqlstates: ["23505"]\n');
    assert.deepEqual(readRulesFile(y), { allowSqlstates: ['23505'], noErrors: true });
    const j = join(dir, 'rules.json');
    writeFileSync(j, JSON.stringify({ maxQueries: 3, requireTls: true }));
    assert.deepEqual(readRulesFile(j), { maxQueries: 3, requireTls: true });
    const merged = mergeRules(readRulesFile(j), { maxQueries: 7, allowSqlstate: ['40001'], noPlaintextPasswords: true });
    assert.deepEqual(merged, { maxQueries: 7, requireTls: true, allowSqlstates: ['40001'], noErrors: true, noPlaintextPasswords: true });
    assert.equal(hasRules({}), false);
    assert.equal(hasRules(merged), true);
    const bad = join(dir, 'bad.yaml');
    for (const [text, want] of [
      ['max-queries: lots\n', /maxQueries/],
      ['maxQueeries: 3\n', /unknown rule maxQueeries/],
      ['- 1\n- 2\n', /mapping/],
      ['a: [\n', /not JSON or YAML/],
      ['allowSqlstates: ["bad"]\n', /SQLSTATE/],
    ] as const) {
      writeFileSync(bad, text);
      assert.throws(() => readRulesFile(bad), (e: unknown) => isUserError(e) && e.code === 'BAD_INPUT' && want.test(e.message), text);
    }
    assert.throws(() => readRulesFile(join(dir, 'absent.yaml')), (e: unknown) => isUserError(e) && e.code === 'ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const tlsNoKey = (session: number) => s({ session, encryption: 'tls', tls: { version: 'TLS 1.3', cipher: null, sni: null, alpn: null, decrypted: false, note: 'no key for this session' } });
const anomaly = (code: string, frame: number, skipped?: number) =>
  ({ kind: 'anomaly', session: 0, time: '2024-01-01T00:00:00.000000Z', frame, code, reason: code, ...(skipped !== undefined ? { skipped } : {}) }) as const;

async function runAll(rules: Parameters<typeof parseRules>[0], records: object[], opts: Parameters<typeof CheckSink.create>[1] = {}) {
  const sink = await CheckSink.create(parseRules(rules), opts);
  for (const r of records) sink.record(r as never);
  return sink.result();
}

test('undecodable sessions are a violation saying how many and why, unless allowUndecoded', async () => {
  const gss = s({ session: 3, encryption: 'gss' });
  const unframed = s({ session: 4, anomalies: 2 });
  const cancel = s({ session: 5, cancel: { processId: 1, frame: 3, targetSession: 1, targetQuery: null } });
  const recs = [tlsNoKey(1), tlsNoKey(2), gss, unframed, cancel, s({ session: 6, frontend: { bytes: 10, messages: 1 } }), q({ session: 6 })];
  const r = await runAll({ maxQueries: 10 }, recs);
  assert.equal(r.ok, false);
  assert.deepEqual(r.violations.map((v) => [v.rule, v.count]), [['undecoded', 4]]);
  assert.match(r.violations[0]!.message, /^4 sessions \(1 GSS-encrypted, 2 TLS without a key for it, 1 never framed \(its start was not captured\); sessions 1, 2, 3, 4\) could not be decoded/);
  assert.equal(r.undecoded.sessions, 4);
  const allowed = await runAll({ maxQueries: 10, allowUndecoded: true }, recs);
  assert.equal(allowed.ok, true);
  assert.match(formatCheckResult(allowed), /check passed: 1 rule\(s\) hold .*\n  not checked \(allowed by --allow-undecoded\): 4 sessions/);
  // a decrypted TLS session is decoded
  const decrypted = s({ session: 1, encryption: 'tls', tls: { version: 'TLS 1.3', cipher: null, sni: null, alpn: null, decrypted: true } });
  assert.equal((await runAll({ maxQueries: 10 }, [decrypted])).ok, true);
});

test('damage is said with a passing verdict, and is a violation with strict', async () => {
  const recs = [q({}), anomaly('gap', 17, 1234), anomaly('capture-truncated', 40), anomaly('mid-stream', 2), q({ incomplete: true, incompleteReason: 'gap', frame: 39 })];
  const r = await runAll({ maxQueries: 30 }, recs);
  assert.equal(r.ok, true);
  assert.deepEqual(r.damage, { anomalies: 2, byCode: { gap: 1, 'capture-truncated': 1 }, bytesLost: 1234, firstFrame: 17, incompleteQueries: 1, incompleteReasons: { gap: 1 }, badChecksumQueries: 0 });
  assert.match(formatCheckResult(r), /check passed: .*\n  but the capture is damaged: 1 capture-truncated, 1 gap \(1234 bytes lost or skipped, first at frame 17\); 1 query incomplete \(1 gap\); the counts above may be low or wrong \(--strict makes this a failure\)/);
  const strict = await runAll({ maxQueries: 30, strict: true }, recs);
  assert.equal(strict.ok, false);
  // strict alone is a rule (the capture is whole); the other qualifiers alone check nothing
  assert.equal(hasRules({ strict: true }), true);
  assert.equal(hasRules({ allowUndecoded: true, exclude: ['x'] }), false);
  assert.deepEqual(strict.violations.map((v) => [v.rule, v.frame]), [['damaged', 17]]);
  // an anomaly that loses nothing (the capture began mid-connection) is not damage
  assert.equal((await runAll({ maxQueries: 30, strict: true }, [q({}), anomaly('mid-stream', 2)])).damage, null);
});

test('N+1: transaction control and re-fetches of a suspended portal are not N+1; exclude', async () => {
  const control = ['BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT a', 'SET search_path = x', 'DISCARD ALL', 'RELEASE SAVEPOINT a'];
  const recs: QueryRecord[] = [];
  for (let i = 0; i < 5; i++) for (const sql of control) recs.push(q({ sql }));
  assert.equal((await runAll({ maxPerFingerprint: 2 }, recs)).ok, true);
  // one execution fetched in four Executes (PortalSuspended three times) is one call
  const fetches = (session: number) => [true, true, true, false].map((suspended) =>
    q({ session, protocol: 'extended', sql: 'select * from big', statement: '', portal: 'C_1', suspended }));
  const portal = await runAll({ maxPerFingerprint: 2, maxQueries: 2 }, [...fetches(0), ...fetches(1)]);
  assert.equal(portal.ok, true, formatCheckResult(portal));
  assert.equal(portal.checked.queries, 2);
  // a new Bind to the portal with other SQL is a new execution
  const rebound = await runAll({ maxQueries: 1 }, [fetches(0)[0]!, q({ protocol: 'extended', sql: 'select 2', portal: 'C_1' })]);
  assert.equal(rebound.checked.queries, 2);
  const three = await runAll({ maxPerFingerprint: 2 }, [...fetches(0), ...fetches(1), ...fetches(2)]);
  assert.deepEqual(three.violations.map((v) => [v.rule, v.count]), [['maxPerFingerprint', 3]]);
  // --exclude: on the SQL as sent or its normalized text, case-insensitive
  const n1 = nPlusOne(5);
  assert.equal((await runAll({ maxPerFingerprint: 2 }, n1)).ok, false);
  const ex = await runAll({ maxPerFingerprint: 2, exclude: ['FROM ITEMS'] }, n1);
  assert.equal(ex.ok, true);
  assert.equal(ex.checked.excluded, 5);
  assert.match(formatCheckResult(ex), /6 queries|1 queries, 0 sessions, 5 excluded/);
  assert.throws(() => parseRules({ exclude: ['('] }), (e: unknown) => isUserError(e) && /exclude\.0: not a valid regular expression/.test(e.message));
  assert.deepEqual(parseRules({ exclude: '^set ' }), { exclude: ['^set '] });
});

test('a violation quotes the statement that made it; statements pg_stat_statements counts apart are apart', async () => {
  const recs = [
    q({ sql: 'SELECT 1 AS one' }), q({ sql: 'SELECT 1 AS one' }),
    q({ sql: 'SELECT $1::int', protocol: 'extended' }),
    q({ sql: "SELECT 1::int, 'a'::text, 3::int8, true, now(), 6, 7, 8, 9, 10", error: err('22012'), frame: 7 }),
  ];
  const r = await runAll({ noErrors: true, maxPerFingerprint: 1 }, recs);
  assert.deepEqual(r.violations.map((v) => [v.rule, v.sql]), [
    ['maxPerFingerprint', 'SELECT 1 AS one'],
    ['noErrors', "SELECT 1::int, 'a'::text, 3::int8, true, now(), 6, 7, 8, 9, 10"],
  ]);
  assert.match(r.violations[1]!.message, /failed 1 time\(s\) with 22012 \(boom\), first at frame 7: SELECT 1::int, 'a'::text/);
});

test('-Y: only matching queries are checked, with their sessions', async () => {
  const { compileFilter } = await import('../src/filter/index.js');
  const recs = [q({ session: 1, error: err('42P01') }), s({ session: 1 }), q({ session: 2, sql: 'select 2' }), s({ session: 2 })];
  const r = await runAll({ noErrors: true, maxQueries: 0 }, recs, { filter: compileFilter('sql == "select 2"') });
  assert.deepEqual(r.violations.map((v) => v.rule), ['maxQueries']);
  assert.deepEqual(r.checked, { queries: 1, sessions: 1, excluded: 0 });
});

test('rules files: read with a size limit, YAML warnings escaped', () => {
  assert.throws(() => readRulesFile('/dev/zero'), (e: unknown) => isUserError(e) && e.code === 'BAD_INPUT' && /larger than 1048576 bytes/.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-rules-'));
  try {
    const y = join(dir, 'warn.yaml');
    writeFileSync(y, '%FOO\x1b[31mred\n---\nmax-queries: 3\n');
    const warnings: string[] = [];
    assert.deepEqual(readRulesFile(y, (l) => warnings.push(l)), { maxQueries: 3 });
    assert.equal(warnings.length, 1);
    assert.doesNotMatch(warnings[0]!, /\x1b/);
    assert.match(warnings[0]!, /\\e\[31m/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('latency budgets judge a batch by its own time and name the batch, not its first statement', async () => {
  const batch = { id: 50, size: 3, durationMs: 400 };
  const recs = [
    q({ sql: 'select pg_sleep(0.4)', durationMs: null, batch, frame: 50 }),
    q({ sql: 'select 2', durationMs: null, batch, frame: 50 }),
    q({ sql: 'select 3', durationMs: null, batch, frame: 50 }),
    q({ sql: 'select 4', durationMs: 5, frame: 60 }),
  ];
  const max = await runAll({ maxLatencyMs: 100 }, recs);
  assert.equal(max.violations.length, 1);
  const v = max.violations[0]!;
  assert.equal(v.rule, 'maxLatencyMs');
  assert.equal(v.fingerprint, undefined);
  assert.match(v.message, /^a batch of 3 statements whose answers arrived together \(select pg_sleep\(\$1\); select \$1; select \$1\) took 400\.000 ms up to frame 50/);
  const p95 = await runAll({ maxP95Ms: 100 }, recs);
  assert.deepEqual(p95.violations.map((x) => [x.rule, x.count]), [['maxP95Ms', 1]]);
  assert.match(p95.violations[0]!.message, /a batch of 3 statements/);
  assert.equal((await runAll({ maxLatencyMs: 400, maxP95Ms: 400 }, recs)).ok, true);
});

test('rule flags are checked without the rules file parser: whole numbers, SQLSTATEs, regular expressions', () => {
  const bad = (flags: Parameters<typeof mergeRules>[1], want: RegExp) =>
    assert.throws(() => mergeRules({}, flags), (e: unknown) => isUserError(e) && e.code === 'BAD_ARGUMENT' && want.test(e.message), want.source);
  bad({ maxQueries: 1.5 }, /--max-queries wants a whole number, not 1\.5/);
  bad({ maxPerFingerprint: 0.5 }, /--max-per-fingerprint wants a whole number/);
  bad({ allowSqlstate: ['2350'] }, /--allow-sqlstate: a SQLSTATE is five characters, e\.g\. 23505, not "2350"/);
  bad({ exclude: ['('] }, /--exclude: not a valid regular expression: "\("/);
  assert.deepEqual(mergeRules({}, { maxQueries: 3, maxP95: 2.5, exclude: ['^set '] }), { maxQueries: 3, maxP95Ms: 2.5, exclude: ['^set '] });
});

test('check loads yaml and zod only when a rules file is given (start-up CPU)', () => {
  // A resolve hook that names every module of those two packages as it is loaded.
  const hook = 'export async function resolve(s, c, next) { const r = await next(s, c); '
    + 'if (/node_modules\\/(yaml|zod)\\//.test(r.url)) process.stderr.write("LOADED " + r.url + "\\n"); return r; }';
  const register = `import { register } from 'node:module'; register(${JSON.stringify('data:text/javascript,' + encodeURIComponent(hook))});`;
  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const sample = fileURLToPath(new URL('../../samples/simple-query.pcap', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'data:text/javascript,' + encodeURIComponent(register), main, 'check', ...args, sample], {
    encoding: 'utf8', env: { ...process.env, PGSNIFF_RELAUNCH: '0' },
  });
  const flags = run('--no-errors');
  assert.equal(flags.status, 0, flags.stderr);
  assert.doesNotMatch(flags.stderr, /LOADED/);
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-rules-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), 'no-errors: true\n');
    const file = run('--rules', join(dir, 'rules.yaml'));
    assert.equal(file.status, 0, file.stderr);
    assert.match(file.stderr, /LOADED .*node_modules\/yaml\//);
    assert.match(file.stderr, /LOADED .*node_modules\/zod\//);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
