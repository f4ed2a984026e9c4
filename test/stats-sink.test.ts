import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencySketch, EXACT_LIMIT } from '../src/sinks/stats-latency.js';
import { fallbackNormalize, createNormalizer } from '../src/sinks/stats-normalize.js';
import { StatsSink } from '../src/sinks/stats.js';
import { formatStatsText } from '../src/sinks/stats-format.js';
import { q, s } from './helpers/records.js';
import { PacketPipeline } from '../src/pipeline/analyze.js';
import type { QueryRecord } from '../src/session/schema.js';
import { openBlocks } from './helpers/held-captures.js';


test('LatencySketch: exact nearest-rank percentiles', () => {
  const l = new LatencySketch();
  for (let i = 100; i >= 1; i--) l.add(i);
  assert.equal(l.count, 100);
  assert.equal(l.quantile(0.5), 50);
  assert.equal(l.quantile(0.95), 95);
  assert.equal(l.quantile(0.99), 99);
  assert.equal(l.quantile(1), 100);
  assert.equal(l.maxMs, 100);
  assert.equal(l.meanMs, 50.5);
  assert.equal(l.isExact, true);
  const one = new LatencySketch();
  one.add(7);
  assert.equal(one.quantile(0.5), 7);
  assert.equal(new LatencySketch().quantile(0.95), 0);
});

test('LatencySketch: past the exact limit, percentiles within 1% and memory bounded', () => {
  const l = new LatencySketch();
  const n = EXACT_LIMIT * 5;
  // a skewed distribution: 1..n ms in a shuffled order
  for (let i = 0; i < n; i++) l.add(((i * 7919) % n) + 1);
  assert.equal(l.isExact, false);
  for (const qq of [0.5, 0.95, 0.99]) {
    const want = Math.ceil(qq * n);
    const got = l.quantile(qq);
    assert.ok(Math.abs(got - want) / want <= 0.011, `${qq}: ${got} vs ${want}`);
  }
  assert.equal(l.maxMs, n);
  l.add(Number.NaN);
  l.add(-1);
  assert.equal(l.count, n);
});

test('fallback normalizer strips literals and keeps identifiers', () => {
  const a = fallbackNormalize("select * from t where a = 1 and b = 'x''y' and c in (1, 2, 3) -- hi");
  const b = fallbackNormalize("SELECT * FROM t WHERE a = 42 AND b = E'z\\'' AND c IN (4,5)");
  assert.equal(a.fingerprint, b.fingerprint);
  assert.equal(a.hasLiterals, true);
  assert.equal(a.parsed, false);
  assert.equal(fallbackNormalize('select "t1".a from t1').hasLiterals, false);
  assert.equal(fallbackNormalize('select $tag$x$tag$').text, 'select $1');
  assert.notEqual(fallbackNormalize('select a from t').fingerprint, fallbackNormalize('select b from t').fingerprint);
});

test('libpg-query normalizer groups by fingerprint; unparsable SQL falls back', async () => {
  const n = await createNormalizer();
  assert.equal(n.usesParser, true);
  const a = n.normalize('select * from users where id = 1');
  const b = n.normalize('SELECT *   FROM users WHERE id = 99');
  assert.equal(a.fingerprint, b.fingerprint);
  assert.equal(a.parsed, true);
  assert.equal(a.text, 'select * from users where id = $1');
  const bad = n.normalize('selec 1 from');
  assert.equal(bad.parsed, false);
  assert.ok(bad.fingerprint.startsWith('x'));
  // An empty Query (libpq sends one for a bare `;`) groups with blank ones, with no literal and no error text
  const empty = n.normalize('');
  assert.deepEqual(empty, n.normalize('   '));
  assert.equal(empty.text, '');
  assert.equal(empty.hasLiterals, false);
});

test('the statistics table names an empty query as such', async () => {
  const sink = new StatsSink(await createNormalizer());
  sink.record(q({ sql: '', command: null }));
  const text = formatStatsText(sink.report());
  assert.match(text, /\(empty query\)/);
  assert.doesNotMatch(text, /Invalid input/);
});

test('StatsSink: calls, rows, errors, percentiles per fingerprint; sessions; errors by SQLSTATE; auth and TLS', async () => {
  const sink = await StatsSink.create();
  for (let i = 1; i <= 20; i++) sink.record(q({ sql: `select * from users where id = ${i}`, rows: 1, durationMs: i }));
  sink.record(q({ sql: 'insert into t values (1)', error: { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: '23505', message: 'duplicate key' }, rows: 0, durationMs: 2 }));
  sink.record(q({ sql: 'insert into t values (2)', skipped: true, durationMs: null }));
  sink.record(q({ sql: null, protocol: 'extended', statement: 'S_1', session: 1, durationMs: 4, rows: 3 }));
  sink.record(s({ session: 0, queries: 21, errors: 1, applicationName: 'app\x1b[31m' }));
  sink.record(s({ session: 1, encryption: 'tls', auth: { method: 'cleartext', mechanism: null, mechanismsOffered: [], outcome: 'success', sqlstate: null, error: null } }));
  sink.record(s({
    session: 2, auth: { method: 'md5', mechanism: null, mechanismsOffered: [], outcome: 'failure', sqlstate: '28P01',
      error: { severity: 'FATAL', severityNonLocalized: 'FATAL', sqlstate: '28P01', message: 'password authentication failed' } },
  }));
  const r = sink.report();
  assert.equal(r.totals.queries, 22);
  assert.equal(r.totals.errors, 1);
  assert.equal(r.totals.skipped, 1);
  const users = r.queries.find((x) => x.query.startsWith('select * from users'))!;
  assert.equal(users.calls, 20);
  assert.equal(users.rows, 20);
  assert.equal(users.p50Ms, 10);
  assert.equal(users.p95Ms, 19);
  assert.equal(users.p99Ms, 20);
  assert.equal(users.maxMs, 20);
  assert.equal(users.totalMs, 210);
  assert.equal(users.meanMs, 10.5);
  assert.equal(r.queries[0], users, 'sorted by total time');
  const ins = r.queries.find((x) => x.query.startsWith('insert'))!;
  assert.deepEqual([ins.calls, ins.errors, ins.skipped], [1, 1, 1]);
  const unknown = r.queries.find((x) => x.query.includes('S_1'))!;
  assert.equal(unknown.calls, 1);
  assert.deepEqual(r.errors.map((e) => [e.sqlstate, e.count]), [['23505', 1], ['28P01', 1]]);
  assert.deepEqual(r.auth.methods, { trust: 1, cleartext: 1, md5: 1 });
  assert.deepEqual(r.auth.outcomes, { success: 2, failure: 1 });
  assert.equal(r.auth.cleartextSessions, 1);
  assert.deepEqual(r.encryption, { none: 2, tls: 1 });
  assert.equal(r.sessions.length, 3);
  assert.equal(r.sessions[0]!.totalQueryMs, 212);
  assert.equal(r.sessions[1]!.totalQueryMs, 4);

  const text = formatStatsText(r);
  assert.ok(!text.includes('\x1b'), 'wire strings escaped');
  assert.ok(text.includes('app\\e[31m'));
  const line = text.split('\n').find((l) => l.includes('select * from users'))!;
  assert.match(line, /^\s*20\s+20\s+0\s+210\s+10\.500\s+10\s+19\s+20\s+20\s+select \* from users where id = \$1$/);
  JSON.parse(JSON.stringify(r));
});

test('StatsSink: a multi-megabyte bulk INSERT is grouped and not kept', { timeout: 120_000 }, async () => {
  const sink = await StatsSink.create();
  const rows = Array.from({ length: 200_000 }, (_, i) => `(${i}, 'name ${i}')`).join(', ');
  for (let k = 0; k < 3; k++) sink.record(q({ sql: `INSERT INTO t VALUES ${rows}`, durationMs: 5 }));
  const r = sink.report();
  assert.equal(r.queries.length, 1);
  assert.equal(r.queries[0]!.calls, 3);
  assert.ok(r.queries[0]!.example!.length <= 2000);
  assert.ok(r.queries[0]!.query.length <= 2000);
});

test('grouping as pg_stat_statements: statements it counts apart are apart, what it ignores is ignored', async () => {
  const n = await createNormalizer();
  const fp = (sql: string) => n.normalize(sql).fingerprint;
  // libpg-query's fingerprint gives all of these one value (a FROM-less SELECT's target list is ignored)
  const apart = ['SELECT 1 AS one', 'SELECT $1::int', 'SELECT $1::text', "SELECT 1::int, 'a'::text, 3::int8, true, now(), 6, 7, 8, 9, 10", 'SELECT 1, 2', 'SELECT a, b FROM t', 'SELECT b, a FROM t'];
  assert.equal(new Set(apart.map(fp)).size, apart.length);
  // keyword case, whitespace, comments, literal values and IN-list lengths do not matter
  assert.equal(fp('SELECT 1 AS one'), fp('select   2 as one -- again'));
  assert.equal(fp('SELECT a FROM t WHERE id IN (1, 2, 3)'), fp('select a from t where id in (4)'));
  assert.equal(fp('SELECT pg_sleep(0.2)'), fp('SELECT pg_sleep($1)'));
  // quoted identifiers keep their case
  assert.notEqual(fp('SELECT "A" FROM t'), fp('SELECT "a" FROM t'));
  // the fallback keeps the columns of a SELECT apart too, and IN lists together
  assert.notEqual(fallbackNormalize('select 1, 2').fingerprint, fallbackNormalize('select 1').fingerprint);
  assert.equal(fallbackNormalize('select x from t where a in (1, 2)').fingerprint, fallbackNormalize('SELECT x FROM t WHERE a IN (3)').fingerprint);
});

test('SQL the parser cannot take (deep expressions) never groups by an error text; the fallback is linear', async () => {
  const n = await createNormalizer();
  // 49,000 `+1` terms: libpg-query runs out of stack; before, the fallback took ~13 s per statement
  const sum = (head: string, terms: number) => head + Array(terms).fill('1').join('+');
  const a = n.normalize(sum('SELECT ', 49_000));
  const b = n.normalize(sum('UPDATE t SET x = ', 49_000));
  const c = n.normalize('SELECT (' + '('.repeat(20_000) + '1' + ')'.repeat(20_001));
  for (const r of [a, b, c]) {
    assert.match(r.fingerprint, /^x?[0-9a-f]{16}$/);
    assert.doesNotMatch(r.text, /memory exhausted|syntax error|stack/i);
  }
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.notEqual(a.fingerprint, c.fingerprint);
  assert.match(a.text, /^SELECT \$1\+\$2\+/);
});

test('stats: batches counted once with their time (not in the statements\' percentiles), rolled back and incomplete counted, damage said', async () => {
  const sink = new StatsSink(await createNormalizer());
  const batch = { id: 50, size: 2, durationMs: 400 };
  sink.record(q({ sql: 'insert into t values (1)', durationMs: null, batch, rolledBack: true, command: 'INSERT 0 1' }));
  sink.record(q({ sql: 'select 1/0', durationMs: null, batch, error: { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: '22012', message: 'division by zero' } }));
  sink.record(q({ sql: 'select 2', durationMs: 3, incomplete: true, incompleteReason: 'gap' }));
  sink.record({ kind: 'anomaly', session: 0, time: '2024-01-01T00:00:00.000000Z', frame: 7, code: 'gap', reason: 'gap', skipped: 100 });
  const r = sink.report();
  assert.equal(r.totals.batches, 1);
  assert.equal(r.totals.batchedQueries, 2);
  assert.equal(r.totals.batchMs, 400);
  assert.equal(r.totals.totalMs, 403);
  assert.equal(r.totals.rolledBack, 1);
  assert.equal(r.totals.incomplete, 1);
  const ins = r.queries.find((x) => x.query.startsWith('insert'))!;
  assert.deepEqual([ins.calls, ins.batched, ins.rolledBack, ins.maxMs], [1, 1, 1, 0]);
  assert.equal(r.uncertain, true);
  assert.equal(r.damage?.bytesLost, 100);
  const text = formatStatsText(r);
  assert.match(text, /^The capture is damaged: 1 gap \(100 bytes lost or skipped, first at frame 7\); 1 query incomplete \(1 gap\)\. The numbers below are uncertain/);
  assert.match(text, /1 incomplete, 1 rolled back;/);
  assert.match(text, /Batches: 1 \(2 statements whose answers arrived together, 400 ms\)/);
});

test('stats: a portal fetched in several Executes is one call, its time the sum of its fetches (as pg_stat_statements counts)', async () => {
  for (const defer of [true, false]) {
    const sink = new StatsSink(await createNormalizer(), { defer });
    const fetch = (session: number, suspended: boolean, durationMs: number) =>
      q({ session, protocol: 'extended', sql: 'select * from big', statement: '', portal: 'C_1', suspended, durationMs, rows: 10 });
    // session 0: three suspended fetches and the last; session 1: the capture ends while suspended
    for (const r of [fetch(0, true, 1), fetch(0, true, 2), fetch(0, true, 3), fetch(0, false, 4), fetch(1, true, 5), fetch(1, true, 6)]) sink.record(r);
    const r = sink.report();
    assert.equal(r.totals.queries, 2);
    const big = r.queries[0]!;
    assert.deepEqual([big.calls, big.rows, big.maxMs, big.totalMs], [2, 60, 11, 21], `defer ${defer}`);
    // a new Bind to the unnamed portal with other SQL is a new execution, not a continuation
    const other = new StatsSink(await createNormalizer(), { defer });
    other.record(q({ protocol: 'extended', sql: 'select * from a', portal: '', suspended: true, durationMs: 1 }));
    other.record(q({ protocol: 'extended', sql: 'select * from b', portal: '', durationMs: 2 }));
    assert.equal(other.report().totals.queries, 2);
  }
});

test('stats: statements written before their transaction ended (rollbackUnknown) are counted, in the totals, per query and in the text', async () => {
  for (const defer of [true, false]) {
    const sink = new StatsSink(await createNormalizer(), { defer });
    sink.record(q({ sql: 'select 1', rollbackUnknown: true, transactionStatus: 'transaction' }));
    sink.record(q({ sql: 'select 2', rollbackUnknown: true, transactionStatus: 'transaction' }));
    sink.record(q({ sql: 'select 3', rolledBack: true }));
    sink.record(q({ sql: 'insert into t values (1)' }));
    const r = sink.report();
    assert.deepEqual([r.totals.rollbackUnknown, r.totals.rolledBack], [2, 1], `defer ${defer}`);
    const sel = r.queries.find((x) => x.query.startsWith('select'))!;
    assert.deepEqual([sel.calls, sel.rollbackUnknown, sel.rolledBack], [3, 2, 1]);
    assert.equal(r.queries.find((x) => x.query.startsWith('insert'))!.rollbackUnknown, 0);
    assert.match(formatStatsText(r), /0 incomplete, 1 rolled back \(2 more not known: written before their transaction ended\);/);
  }
  // none: the line is as it always was
  const none = new StatsSink(await createNormalizer());
  none.record(q({ sql: 'select 1' }));
  assert.match(formatStatsText(none.report()), /0 incomplete, 0 rolled back; 0 rows;/);
});

test('stats: a capture whose open blocks outgrow the session budget: every record marked rollbackUnknown is counted', async () => {
  // 300 connections, each BEGIN and 30 answered statements never committed (held-records.test.ts)
  const frames = openBlocks(300, 30, 1000, 200);
  const stats = new StatsSink(await createNormalizer());
  let marked = 0;
  const p = new PacketPipeline({
    record: (r) => {
      if (r.kind === 'query' && (r as unknown as QueryRecord).rollbackUnknown === true) marked++;
      stats.record(r);
    },
  }, { messages: false, queryDetail: 'summary', memoryLimitMb: 128 });
  frames.forEach((f, i) => p.packet({ frame: i + 1, timeUs: f.timeUs!, linkType: 1, data: f.data, origLen: f.data.length, interfaceId: 0, fileOffset: -1 }));
  await p.finish();
  const r = stats.report();
  assert.ok(marked > 1000, `${marked} records marked`);
  assert.equal(r.totals.rollbackUnknown, marked);
  assert.equal(r.queries.reduce((n, x) => n + x.rollbackUnknown, 0), marked);
  assert.match(formatStatsText(r), new RegExp(`rolled back \\(${marked} more not known`));
});
