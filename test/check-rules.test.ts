import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CheckSink, formatCheckResult } from '../src/sinks/check.js';
import { parseRules, readRulesFile, mergeRules, hasRules } from '../src/sinks/check-rules.js';
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

test('preparedOnce: Parse repeated for one statement in a session', async () => {
  const stmt = (parsed: boolean, session = 0) => q({ protocol: 'extended', sql: 'select * from t where id = $1', statement: '', parsed, session });
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
  const tls = s({ session: 1, encryption: 'tls' });
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
