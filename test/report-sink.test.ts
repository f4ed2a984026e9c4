/**
 * The report's aggregation (src/sinks/report): its statements are `pgsniff stats`'s own, the
 * time buckets widen without losing a count, an NDJSON export gives the page a capture gives,
 * and what the samples hold (errors by SQLSTATE with condition names, N+1 runs, COPY,
 * replication, transactions, undecrypted TLS) reaches the page's data. The browser half is
 * report-browser.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { NdjsonSink } from '../src/sinks/ndjson.js';
import { StatsSink, OTHER_FINGERPRINT } from '../src/sinks/stats.js';
import { ReportSink, MAX_LISTED_SESSIONS, MAX_TIMELINE_SESSIONS } from '../src/sinks/report/sink.js';
import { BucketArray, TimeGrid, logBin, binUpperMs } from '../src/sinks/report/grid.js';
import { renderReportHtml, scriptSafeJson } from '../src/sinks/report/html.js';
import { PAGE_SCRIPT } from '../src/sinks/report/page.js';
import { readNdjsonRecords } from '../src/sinks/check-ndjson.js';
import { boundParams } from '../src/session/bound-params.js';
import type { QueryRecord } from '../src/session/schema.js';
import type { ReportData } from '../src/sinks/report/data.js';
import { openSync, closeSync } from 'node:fs';
import { projectRoot } from './helpers/public-captures.js';
import { tempDir } from './helpers/temp-dir.js';
import { q, s } from './helpers/records.js';

const samples = join(projectRoot, 'samples');
const main = join(projectRoot, 'dist', 'src', 'cli', 'main.js');

async function reportOf(file: string, opts: { keylog?: string } = {}) {
  const sink = await ReportSink.create();
  // as `pgsniff report` reads a capture: summary records keeping the Bind bytes
  const summary = await analyzeFile(join(samples, file), sink, { messages: false, queryDetail: 'summary', boundBytes: true, keylog: opts.keylog ?? null });
  return sink.result({ source: file, input: 'capture', packets: summary.packets });
}

test('time buckets: widening keeps every count and keeps bucket i at floor(i/2)', () => {
  const g = new TimeGrid(8);
  const a = new BucketArray();
  g.onWiden(() => a.widen());
  let total = 0;
  for (let k = 0; k < 1000; k++) {
    const t = 1_000_000 + k * 7_919; // µs, over 7.9 s: the grid must widen many times
    a.add(g.index(t), 1);
    total++;
  }
  assert.ok(g.size <= 8, `grid holds ${g.size} buckets`);
  assert.equal(a.values().reduce((x, y) => x + y, 0), total);
  // an earlier time than the first one seen: negative index, still counted
  a.add(g.index(0), 5);
  assert.ok(g.size <= 8);
  assert.equal(a.values().reduce((x, y) => x + y, 0), total + 5);
  assert.ok(g.startOf(g.lo) <= 0 && g.startOf(g.hi + 1) > 1_000_000 + 999 * 7_919);
});

test('latency bins: each duration falls in the bin whose bounds hold it', () => {
  for (const ms of [0.0005, 0.001, 0.0123, 0.5, 1, 3.7, 250, 60_000]) {
    const b = logBin(ms);
    assert.ok(ms <= binUpperMs(b) || b === 127, `${ms} ms <= upper of bin ${b}`);
    if (b > 1) assert.ok(ms >= binUpperMs(b - 1), `${ms} ms >= upper of bin ${b - 1}`);
  }
});

test('statements are pgsniff stats\'s own: same fingerprints, calls, percentiles', async () => {
  // pgbouncer.pcap: a pooler's server legs are not counted again (each statement counts on its client leg)
  for (const file of ['concurrent.pcap', 'pipeline.pcap', 'n-plus-one.pcap', 'errors.pcap', 'transaction-savepoint.pcap', 'pgbouncer.pcap']) {
    const data = await reportOf(file);
    const stats = await StatsSink.create();
    await analyzeFile(join(samples, file), stats, { messages: false, queryDetail: 'summary' });
    const want = stats.report();
    assert.equal(data.overview.queries, want.totals.queries, file);
    assert.equal(data.overview.poolerServerLeg, want.totals.poolerServerLeg, file);
    assert.deepEqual(
      [data.overview.rolledBack, data.overview.batches, data.overview.batchedQueries, data.overview.incomplete],
      [want.totals.rolledBack, want.totals.batches, want.totals.batchedQueries, want.totals.incomplete], `${file}: totals`);
    assert.deepEqual(
      data.statements.map((q) => [q.fingerprint, q.query, q.calls, q.errors, q.p50Ms, q.p95Ms, q.maxMs]),
      want.queries.map((q) => [q.fingerprint, q.query, q.calls, q.errors, q.p50Ms, q.p95Ms, q.maxMs]),
      file,
    );
    const timed = data.statements.reduce((n, q) => n + q.hist.reduce((m, [, c]) => m + c, 0), 0);
    assert.equal(data.latency.bins.reduce((n, [, c]) => n + c, 0), timed, `${file}: overall histogram = sum of the statements'`);
    assert.equal(data.series.queries.reduce((x, y) => x + y, 0), data.overview.queries, `${file}: queries per bucket add up`);
    for (const q of data.statements) {
      if (q.slowest) assert.equal(q.slowest.durationMs, q.maxMs, `${file}: slowest example is the max`);
    }
  }
});

test('each statement\'s histogram, rows and slowest are grouped as stats groups: texts folded by fingerprint, past MAX_GROUPS texts, and "other" past MAX_FINGERPRINTS', async () => {
  const sink = await ReportSink.create();
  // 12,000 distinct texts (past MAX_GROUPS: stats resolves its groups and goes on per record)
  // over 11,000 fingerprints (past MAX_FINGERPRINTS: the rest is "other")
  const n = 12_000;
  for (let i = 0; i < n; i++) {
    sink.record(q({ sql: `select * from t${i % 11_000} where a = ${i}`, durationMs: (i % 97) + 1, rowsReturned: 1, bytesReturned: 10, frame: i + 1 }));
  }
  sink.end();
  const data = sink.result({ source: 'generated', input: 'ndjson' });
  const other = data.statements.find((x) => x.fingerprint === OTHER_FINGERPRINT);
  assert.equal(other?.calls, 1000, 'the other group is listed');
  assert.ok(data.statements.some((x) => x.calls === 2), 'texts of one fingerprint folded');
  for (const x of data.statements) {
    assert.equal(x.hist.reduce((m, [, c]) => m + c, 0), x.calls, `${x.query}: histogram`);
    assert.deepEqual([x.rowsReturned, x.bytesReturned], [x.calls, 10 * x.calls], `${x.query}: rows and bytes returned`);
    assert.equal(x.slowest?.durationMs, x.maxMs, `${x.query}: slowest`);
  }
});

test('records taken in batches keep the time of the frame that completed them, and result() takes the ones still waiting', async () => {
  const sink = await ReportSink.create();
  // summary records carry no time: each is dated by the latest frame when it came (here 20 ms
  // apart, so that each batch of records spans many buckets); a number of records that is no
  // multiple of a batch, so that some still wait when result() is called
  const base = Date.parse('2024-01-01T00:00:00Z') * 1000;
  const n = 1543;
  const times: number[] = [];
  for (let k = 0; k < n; k++) {
    const t = base + k * 20_000 + (k % 3) * 1_000;
    sink.packetSize(t, 100, 40000, 5432);
    sink.record(q({ session: k % 5, time: '', startTime: '', durationMs: 0.25, frame: k + 1 }));
    times.push(t);
  }
  const d = sink.result({ source: 'generated', input: 'capture' });
  assert.equal(d.overview.queries, n);
  const want = new Array<number>(d.series.n).fill(0);
  for (const t of times) want[Math.floor((t - d.series.baseUs) / d.series.stepUs) - d.series.lo]! += 1;
  assert.deepEqual(d.series.queries, want);
  assert.ok(d.series.stepUs > 20_000, 'the grid widened while records waited');
});

test('prepared statements: how often each was prepared against how often it ran', async () => {
  // pipeline.pcap: psycopg 3 prepares its statement once and executes it five times
  const reused = (await reportOf('pipeline.pcap')).statements.find((x) => x.query.startsWith('SELECT $1::int * $2'))!;
  assert.deepEqual([reused.parses, reused.protocols.extended, reused.calls], [1, 5, 5]);
  // n-plus-one.pcap: node-postgres's unnamed statement, parsed at each of its ten executions
  const each = (await reportOf('n-plus-one.pcap')).statements.find((x) => x.query.startsWith('SELECT $1::int AS author_id'))!;
  assert.deepEqual([each.parses, each.protocols.extended], [10, 10]);
});

test('sessions past the caps: timeline rows past MAX_TIMELINE_SESSIONS share one row with their busy time, the table lists MAX_LISTED_SESSIONS', async () => {
  const sink = await ReportSink.create();
  const n = MAX_LISTED_SESSIONS + 500;
  const base = Date.parse('2024-01-01T00:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');
  for (let k = 0; k < n; k++) {
    // each session: one 2 ms query, then its end
    sink.record(q({ session: k, time: iso(base + k * 10 + 5), durationMs: 2, frame: 2 * k + 1 }));
    sink.record(s({ session: k, start: iso(base + k * 10), end: iso(base + k * 10 + 8), time: iso(base + k * 10 + 8), frame: 2 * k + 2, queries: 1 }));
  }
  sink.end();
  const d = sink.result({ source: 'generated', input: 'ndjson' });
  assert.equal(d.sessions.length, MAX_LISTED_SESSIONS);
  assert.equal(d.sessionsNotListed, 500);
  assert.equal(d.timeline.rows.length, MAX_TIMELINE_SESSIONS + 1);
  const other = d.timeline.rows[d.timeline.rows.length - 1]!;
  assert.equal(other.session, null);
  assert.equal(d.timeline.otherSessions, n - MAX_TIMELINE_SESSIONS);
  assert.match(other.label, new RegExp(`^${n - MAX_TIMELINE_SESSIONS} more sessions`));
  // the shared row carries the busy time of all of them: 2 ms each
  const busy = [...other.busy].reduce((t, c) => t + (parseInt(c, 36) / 35) * other.scaleUs, 0);
  assert.ok(Math.abs(busy - (n - MAX_TIMELINE_SESSIONS) * 2000) / ((n - MAX_TIMELINE_SESSIONS) * 2000) < 0.05, `${busy} µs busy in the shared row`);
});

test('errors by SQLSTATE carry the condition name, the message, an example statement and its frame', async () => {
  const data = await reportOf('errors.pcap');
  assert.ok(data.errors.length > 0);
  for (const e of data.errors) {
    assert.ok(e.condition, `${e.sqlstate} has a condition name`);
    assert.ok(e.message);
    assert.ok(e.example && e.example.frame > 0);
  }
  const undefinedTable = data.errors.find((e) => e.sqlstate === '42P01');
  if (undefinedTable) assert.equal(undefinedTable.condition, 'undefined_table');
  assert.equal(data.series.errors.reduce((x, y) => x + y, 0), data.overview.errors);
});

test('N+1 runs, COPY, replication and transactions from the samples', async () => {
  const n1 = await reportOf('n-plus-one.pcap');
  assert.equal(n1.nPlusOne.length, 1, JSON.stringify(n1.nPlusOne));
  assert.ok(n1.nPlusOne[0]!.longestRun >= 10);

  const copy = await reportOf('copy.pcap');
  assert.ok(copy.copy.length > 0);
  assert.ok(copy.copy.some((c) => c.bytesIn > 0 || c.bytesOut > 0));

  const repl = await reportOf('replication.pcap');
  assert.ok(repl.replication.length > 0, 'replication sessions listed');

  const tx = await reportOf('transaction-savepoint.pcap');
  assert.ok(tx.transactions.committed + tx.transactions.rolledBack > 0);
  assert.equal(tx.transactions.bins.reduce((n, [, c]) => n + c, 0), tx.transactions.committed + tx.transactions.rolledBack);
});

test('trust line: a clean capture says so; TLS without keys says what was not decoded', async () => {
  const clean = await reportOf('simple-query.pcap');
  assert.equal(clean.overview.trust.level, 'ok', clean.overview.trust.line);
  const tls = await reportOf('tls-13.pcap');
  assert.notEqual(tls.overview.trust.level, 'ok');
  assert.match(tls.overview.trust.line, /TLS sessions? not decrypted/);
  const keyed = await reportOf('tls-13.pcap', { keylog: join(samples, 'tls-13.keylog') });
  assert.equal(keyed.overview.tlsUndecrypted, 0);
  assert.ok(keyed.overview.queries > 0);
});

test('an NDJSON export gives the statements, errors and sessions the capture gives', async () => {
  const dir = tempDir('pgsniff-report-');
  for (const file of ['errors.pcap', 'concurrent.pcap']) {
    const ndjson = join(dir, file + '.ndjson');
    const fd = openSync(ndjson, 'w');
    await analyzeFile(join(samples, file), new NdjsonSink(fd), {});
    closeSync(fd);
    const fromCapture = await reportOf(file);
    const sink = await ReportSink.create();
    await readNdjsonRecords(ndjson, sink, { others: true });
    const fromExport = sink.result({ source: ndjson, input: 'ndjson' });
    const pick = (d: typeof fromCapture) => ({
      statements: d.statements.map((q) => [q.fingerprint, q.calls, q.errors, q.rows, q.bytesReturned, q.maxMs]),
      errors: d.errors.map((e) => [e.sqlstate, e.count, e.example?.frame]),
      sessions: d.sessions.map((s) => [s.session, s.user, s.startUs, s.endUs, s.queries]),
      start: d.overview.startUs,
    });
    assert.deepEqual(pick(fromExport), pick(fromCapture), file);
    // the capture's span runs to its last packet (the final ACKs), the export's to its last record
    assert.ok(fromExport.overview.endUs! <= fromCapture.overview.endUs!);
    assert.ok(fromExport.series.bytesFrontend !== null, `${file}: bytes per direction from the message records`);
  }
});

test('the page: wire text only inside the escaped JSON block, scripts allowed by hash only', async () => {
  const data = await reportOf('simple-query.pcap');
  const evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\u2028';
  data.meta.source = evil;
  data.statements[0]!.query = evil;
  const html = renderReportHtml(data);
  assert.equal(html.split('</script>').length - 1, 3, 'exactly the three script elements close');
  assert.ok(!html.includes('<img src=x'));
  assert.ok(!html.includes('\u2028'));
  assert.match(html, /Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-/);
  assert.ok(!/(src|href)\s*=\s*["']?https?:|url\(\s*["']?https?:|<link\b|@import/i.test(html), 'nothing to fetch');
  assert.deepEqual(JSON.parse(scriptSafeJson({ s: evil })), { s: evil }, 'the escaping is lossless');
  // the page's script at least parses (the browser test runs it)
  assert.doesNotThrow(() => new Function(PAGE_SCRIPT));
});

test('pgsniff report: writes the file; usage mistakes are one line and exit 2', { skip: existsSync(main) ? false : 'dist not built' }, () => {
  const dir = tempDir('pgsniff-report-cli-');
  const out = join(dir, 'r.html');
  const ok = spawnSync(process.execPath, [main, 'report', join(samples, 'errors.pcap'), '-o', out], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /wrote .*r\.html \(\d+ KB\): 9 queries, 1 sessions, 6 errors/);
  assert.match(readFileSync(out, 'utf8'), /^<!DOCTYPE html>/);
  // pcapng as pcap (editcap comes with tshark, which CI installs)
  const ng = join(dir, 'errors.pcapng');
  const conv = spawnSync('editcap', ['-F', 'pcapng', join(samples, 'errors.pcap'), ng], { encoding: 'utf8' });
  assert.equal(conv.status, 0, conv.stderr);
  const fromNg = spawnSync(process.execPath, [main, 'report', ng, '-o', join(dir, 'ng.html')], { encoding: 'utf8' });
  assert.equal(fromNg.status, 0, fromNg.stderr);
  assert.match(fromNg.stderr, /: 9 queries, 1 sessions, 6 errors/);
  // --keylog as for read: the TLS 1.3 sample's queries are in the page only with its key log
  const tls = spawnSync(process.execPath, [main, 'report', join(samples, 'tls-13.pcap'), '--keylog', join(samples, 'tls-13.keylog'), '-o', join(dir, 'tls.html')], { encoding: 'utf8' });
  assert.equal(tls.status, 0, tls.stderr);
  assert.match(tls.stderr, /: [1-9]\d* queries, 1 sessions/);
  assert.match(readFileSync(join(dir, 'tls.html'), 'utf8'), /"tlsUndecrypted":0/);
  const noKeys = spawnSync(process.execPath, [main, 'report', join(samples, 'tls-13.pcap'), '-o', join(dir, 'tls0.html')], { encoding: 'utf8' });
  assert.match(noKeys.stderr, /: 0 queries, 1 sessions/);
  assert.match(readFileSync(join(dir, 'tls0.html'), 'utf8'), /TLS sessions? not decrypted/);
  const noOut = spawnSync(process.execPath, [main, 'report', join(samples, 'errors.pcap')], { encoding: 'utf8' });
  assert.equal(noOut.status, 2);
  assert.equal(noOut.stderr, 'pgsniff: report needs an output file: pgsniff report FILE -o report.html\n');
  const missing = spawnSync(process.execPath, [main, 'report', join(dir, 'nope.pcap'), '-o', join(dir, 'x.html')], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.ok(!existsSync(join(dir, 'x.html')), 'no report for an input that is not there');
  const bad = join(dir, 'bad.ndjson');
  writeFileSync(bad, '{"kind":"query"}\n');
  const invalid = spawnSync(process.execPath, [main, 'report', bad, '-o', join(dir, 'y.html')], { encoding: 'utf8' });
  assert.equal(invalid.status, 2);
  assert.match(invalid.stderr, /^pgsniff: .*bad\.ndjson:1: not a valid query record/);
  assert.ok(!existsSync(join(dir, 'y.html')));
  const filtered = spawnSync(process.execPath, [main, 'report', join(samples, 'errors.pcap'), '-Y', 'error', '-o', out], { encoding: 'utf8' });
  assert.equal(filtered.status, 0, filtered.stderr);
  // as `read -Y error` prints: the failed queries, and no session record (it has no `error` field)
  assert.match(filtered.stderr, /: 6 queries, 0 sessions, 6 errors/);
  const badFilter = spawnSync(process.execPath, [main, 'report', join(samples, 'errors.pcap'), '-Y', 'durationMs >', '-o', join(dir, 'z.html')], { encoding: 'utf8' });
  assert.equal(badFilter.status, 2);
  assert.equal(badFilter.stderr.split('\n').length, 2, 'one line');
  assert.ok(!existsSync(join(dir, 'z.html')));
});

/** The page's data, from its JSON block. */
function pageData(html: string): ReportData {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the data block');
  return JSON.parse(m[1]!) as ReportData;
}

test('-Y: the report is made of the records `read -Y` prints (queries, sessions, messages); the trust line stays the capture\'s', { skip: existsSync(main) ? false : 'dist not built' }, () => {
  const dir = tempDir('pgsniff-report-filter-');
  for (const [file, expr] of [['concurrent.pcap', 'session == 2'], ['errors.pcap', 'kind == session || error.sqlstate == "42P01"'], ['tls-13.pcap', 'kind == query']] as const) {
    const read = spawnSync(process.execPath, [main, 'read', join(samples, file), '--json', '-Y', expr], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(read.status, 0, read.stderr);
    const recs = read.stdout.trim() === '' ? [] : read.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const out = join(dir, file + '.html');
    const r = spawnSync(process.execPath, [main, 'report', join(samples, file), '-Y', expr, '-o', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const d = pageData(readFileSync(out, 'utf8'));
    const queries = recs.filter((x) => x.kind === 'query' && x.skipped !== true);
    const sessions = recs.filter((x) => x.kind === 'session');
    const messages = recs.filter((x) => x.kind === 'message');
    assert.equal(d.overview.queries, queries.length, `${file}: queries`);
    assert.equal(d.overview.errors, queries.filter((x) => x.error !== null).length, `${file}: errors`);
    assert.equal(d.overview.sessions, sessions.length, `${file}: sessions`);
    assert.deepEqual(d.sessions.map((x) => x.session).sort(), sessions.map((x) => x.session).sort(), `${file}: the sessions listed`);
    assert.equal(d.statements.reduce((n, q) => n + q.calls, 0), queries.length, `${file}: statement calls`);
    const msgBytes = messages.reduce((n, x) => n + (x.length as number) + (x.code === null ? 0 : 1), 0);
    assert.equal(d.overview.bytes, messages.length > 0 ? msgBytes : null, `${file}: bytes of the messages shown`);
    const series = (d.series.bytesFrontend ?? []).concat(d.series.bytesBackend ?? []).reduce((n, v) => n + v, 0);
    assert.equal(series, messages.length > 0 ? msgBytes : 0, `${file}: the bytes chart`);
    assert.equal(d.meta.filter?.expression, expr);
    assert.equal(d.meta.filter?.shown, recs.length, `${file}: records shown`);
  }
  // the trust line is the capture's: TLS sessions not decrypted are said even when no session is shown
  const tls = pageData(readFileSync(join(dir, 'tls-13.pcap.html'), 'utf8'));
  assert.equal(tls.overview.sessions, 0);
  assert.match(tls.overview.trust.line, /TLS sessions? not decrypted/);
});

test('the slowest executions\' parameters from a capture: Bind bytes kept on summary records decode to the full records\' parameters', async () => {
  const collect = async (file: string, opts: Parameters<typeof analyzeFile>[2]): Promise<QueryRecord[]> => {
    const recs: QueryRecord[] = [];
    await analyzeFile(join(samples, file), { record: (r) => { if (r.kind === 'query') recs.push(r as unknown as QueryRecord); } }, { messages: false, ...opts });
    return recs;
  };
  let checked = 0;
  for (const file of ['extended-query.pcap', 'asyncpg.pcap', 'pgjdbc.pcap', 'psycopg3.pcap', 'data-types.pcap', 'pipeline.pcap', 'n-plus-one.pcap', 'postgresjs-describe.pcap', 'errors.pcap']) {
    const full = await collect(file, {});
    const lean = await collect(file, { queryDetail: 'summary', boundBytes: true });
    assert.equal(lean.length, full.length, file);
    for (let i = 0; i < full.length; i++) {
      assert.deepEqual(lean[i]!.params, [], `${file} #${i}: summary records still carry no decoded parameters`);
      assert.deepEqual(boundParams(lean[i]!), full[i]!.params, `${file} #${i}: ${full[i]!.sql}`);
      if (full[i]!.params.length > 0) checked++;
    }
    assert.ok(!JSON.stringify(lean).includes('"body"'), `${file}: the kept bytes never reach JSON`);
    // the report's examples: each statement's slowest execution with its parameters
    const d = await reportOf(file);
    for (const q of d.statements) {
      const ex = q.slowest;
      if (ex === null) continue;
      const rec = full.find((r) => r.frame === ex.frame && r.firstFrame === ex.firstFrame && r.session === ex.session && r.durationMs === ex.durationMs);
      assert.ok(rec, `${file}: the slowest execution of ${q.query} is a query record`);
      assert.deepEqual(ex.params.map((p) => p.value), rec.params.slice(0, 50).map((p) => {
        const v = typeof p.value === 'string' ? p.value : JSON.stringify(p.value) ?? 'null';
        return v.length > 200 ? v.slice(0, 200) + '…' : v;
      }), `${file}: parameters of the slowest ${q.query}`);
    }
  }
  assert.ok(checked > 30, `${checked} executions with parameters compared`);
});
