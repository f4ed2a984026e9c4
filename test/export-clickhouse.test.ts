/**
 * `--export clickhouse://...` against a real ClickHouse (Debian's clickhouse-server, 18.16: the
 * oldest release the tables must suit): every query, session and anomaly record becomes one row
 * whose typed columns say what the record says; the DDL of `export-schema` is what the export
 * creates; parameters and secrets stay out unless asked; a server that is down at first gets
 * the rows when it comes up; live delivery drops past its bound and counts what it dropped.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { clickhouseInstalled, startClickHouse, type ClickHouseServer } from './helpers/clickhouse-server.js';
import pg from 'pg';
import { freePort, startServer } from './helpers/pg-server.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { ClickHouseSink, parseClickHouseUrl } from '../src/sinks/export/clickhouse.js';
import { createNormalizer } from '../src/sinks/stats-normalize.js';
import { TABLES } from '../src/sinks/export/tables.js';
import { pcapFile } from './helpers/build-packets.js';
import { corrupt, fixChecksum, pcapFrames } from './helpers/tcp-checksum.js';
import { tempDir } from './helpers/temp-dir.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const sample = (name: string): string => join(projectRoot, 'samples', name);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const SKIP = clickhouseInstalled() ? false : 'clickhouse-server is not installed (Debian package clickhouse-server; .ci/run installs it)';

let ch: ClickHouseServer;
before(async () => { if (!SKIP) ch = await startClickHouse(); });
after(async () => { await ch?.stop(); });

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function records(file: string, extra: string[] = []): Array<Record<string, unknown>> {
  const r = cli(['read', file, '--json', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const SAMPLES = ['n-plus-one.pcap', 'errors.pcap', 'extended-query.pcap', 'pipeline.pcap', 'copy.pcap', 'concurrent.pcap', 'auth-methods.pcap', 'transaction-savepoint.pcap'];

test('every query, session and anomaly record of the samples is one row, its typed columns as the record says', { skip: SKIP }, async () => {
  const db = 'pgsniff_rows';
  for (const name of SAMPLES) {
    const r = cli(['read', sample(name), '--export', `clickhouse://127.0.0.1:${ch.port}/${db}`, '--host-label', 'ci-host']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '', 'with --export alone nothing goes to stdout');
    assert.match(r.stderr, /rows written to ClickHouse/);
  }
  for (const name of SAMPLES) {
    const recs = records(sample(name));
    const src = `source = '${sample(name)}'`;
    for (const [kind, table] of [['query', 'pgsniff_queries'], ['session', 'pgsniff_sessions'], ['anomaly', 'pgsniff_anomalies']] as const) {
      const want = recs.filter((x) => x.kind === kind).length;
      const [got] = await ch.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.${table} WHERE ${src}`);
      assert.equal(Number(got!.n), want, `${name}: ${kind} rows`);
    }
    const rows = await ch.rows<Record<string, unknown>>(
      `SELECT session, frame, first_frame, sql, command, rows, sqlstate, duration_us, incomplete, skipped, host, user, database, application, params FROM ${db}.pgsniff_queries WHERE ${src}`);
    const sessions = new Map(recs.filter((x) => x.kind === 'session').map((s) => [s.session, s]));
    for (const q of recs.filter((x) => x.kind === 'query')) {
      const row = rows.find((x) => Number(x.session) === q.session && Number(x.frame) === q.frame && Number(x.first_frame) === q.firstFrame && x.sql === q.sql);
      assert.ok(row, `${name}: a row for the query at frame ${String(q.frame)}`);
      assert.equal(row.command, q.command ?? '');
      assert.equal(Number(row.rows), q.rows);
      assert.equal(row.sqlstate, (q.error as { sqlstate?: string } | null)?.sqlstate ?? '');
      assert.equal(row.duration_us === null ? null : Number(row.duration_us) / 1000, q.durationMs);
      assert.equal(Number(row.incomplete), q.incomplete ? 1 : 0);
      assert.equal(Number(row.skipped), q.skipped ? 1 : 0);
      assert.equal(row.host, 'ci-host');
      assert.equal(row.params, '', 'parameters only with --export-params');
      const s = sessions.get(q.session) as { user: string | null; database: string | null; applicationName: string | null } | undefined;
      if (s?.user) {
        assert.equal(row.user, s.user, 'the user known from the StartupMessage, before the session ended');
        assert.equal(row.database, s.database ?? '');
      }
    }
  }
});

test('export-schema prints the DDL that --export creates, and ClickHouse 18.16 accepts it', { skip: SKIP }, async () => {
  const r = cli(['export-schema', 'clickhouse', '--export', `clickhouse://127.0.0.1:${ch.port}/pgsniff_ddl`]);
  assert.equal(r.status, 0, r.stderr);
  for (const stmt of r.stdout.split(';\n').map((s) => s.trim()).filter(Boolean)) await ch.query(stmt);
  for (const t of TABLES) {
    const cols = await ch.rows<{ name: string; type: string }>(`DESCRIBE TABLE pgsniff_ddl.${t.name}`);
    assert.deepEqual(cols.map((c) => [c.name, c.type]), t.columns.map((c) => [c.name, c.type]), t.name);
  }
  const bad = cli(['export-schema', 'mysql']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^pgsniff: export-schema knows one target/);
});

test('badChecksum: a query built from bytes with a wrong TCP checksum has bad_checksum 1; a table an older pgsniff made gets the column', { skip: SKIP }, async () => {
  // samples/simple-query.pcap with its (offloaded) checksums made correct, then its first Query's made wrong.
  const frames = pcapFrames(readFileSync(sample('simple-query.pcap')));
  for (const f of frames) fixChecksum(f);
  const tcp = 14 + 20;
  const at = frames.findIndex((f) => f.readUInt16BE(tcp + 2) === 5432 && f[tcp + ((f[tcp + 12]! >> 4) * 4)] === 0x51);
  assert.ok(at > 0);
  frames[at] = corrupt(frames[at]!);
  const file = join(tempDir('pgsniff-ch-badsum-'), 'bad-query.pcap');
  writeFileSync(file, pcapFile(frames));
  const recs = records(file).filter((x) => x.kind === 'query');
  assert.equal(recs.filter((q) => q.badChecksum === true).length, 1, 'the sample made so has one marked record');
  // The query table as pgsniff made it before bad_checksum was a column.
  const db = 'pgsniff_badsum';
  const queries = TABLES.find((t) => t.kind === 'query')!;
  await ch.query(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await ch.query(`CREATE TABLE ${db}.${queries.name} (${queries.columns.filter((c) => c.name !== 'bad_checksum').map((c) => `\`${c.name}\` ${c.type}`).join(', ')}) ENGINE = MergeTree() PARTITION BY toDate(time) ORDER BY ${queries.orderBy}`);
  const r = cli(['read', file, '--export', `clickhouse://127.0.0.1:${ch.port}/${db}`]);
  assert.equal(r.status, 0, r.stderr);
  const cols = await ch.rows<{ name: string; type: string }>(`DESCRIBE TABLE ${db}.${queries.name}`);
  assert.deepEqual(cols.map((c) => [c.name, c.type]), queries.columns.map((c) => [c.name, c.type]), 'the column added, where the DDL declares it');
  const rows = await ch.rows<{ frame: string; first_frame: string; bad_checksum: number; extra: string }>(`SELECT frame, first_frame, bad_checksum, extra FROM ${db}.${queries.name}`);
  assert.equal(rows.length, recs.length);
  for (const q of recs) {
    const row = rows.find((x) => Number(x.frame) === q.frame && Number(x.first_frame) === q.firstFrame);
    assert.ok(row, `a row for the query at frame ${String(q.frame)}`);
    assert.equal(Number(row.bad_checksum), q.badChecksum === true ? 1 : 0);
    assert.ok(!('badChecksum' in (JSON.parse(row.extra) as object)), 'a typed column, not in extra');
  }
  // A second export into the table as it is now adds nothing.
  assert.equal(cli(['read', file, '--export', `clickhouse://127.0.0.1:${ch.port}/${db}`]).status, 0);
  assert.equal((await ch.rows(`DESCRIBE TABLE ${db}.${queries.name}`)).length, queries.columns.length);
});

test('parameters go out only with --export-params; message rows only with --export-messages; no secret in any column', { skip: SKIP }, async () => {
  const db = 'pgsniff_opts';
  const file = sample('auth-methods.pcap');
  assert.equal(cli(['read', file, '--export', `clickhouse://127.0.0.1:${ch.port}/${db}`, '--export-messages']).status, 0);
  assert.equal(cli(['read', sample('extended-query.pcap'), '--export', `clickhouse://127.0.0.1:${ch.port}/${db}`, '--export-params']).status, 0);
  const [m] = await ch.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.pgsniff_messages WHERE source = '${file}'`);
  assert.equal(Number(m!.n), records(file).filter((x) => x.kind === 'message').length);
  const withParams = await ch.rows<{ params: string }>(`SELECT params FROM ${db}.pgsniff_queries WHERE params != '[]' AND params != ''`);
  assert.ok(withParams.length > 0, 'bound parameters exported');
  assert.ok(withParams.every((p) => Array.isArray(JSON.parse(p.params))));
  // The secrets the sample holds, as --show-secrets shows them, appear in no row.
  const secrets = new Set<string>();
  for (const rec of records(file, ['--show-secrets'])) {
    if (rec.type === 'PasswordMessage' && typeof rec.password === 'string' && rec.password.length >= 6) secrets.add(rec.password);
  }
  assert.ok(secrets.size > 0, 'the sample has passwords to look for');
  let dump = '';
  for (const t of ['pgsniff_messages', 'pgsniff_sessions', 'pgsniff_queries', 'pgsniff_anomalies']) dump += await ch.query(`SELECT * FROM ${db}.${t} FORMAT TSV`);
  for (const s of secrets) assert.ok(!dump.includes(s), `secret ${s.slice(0, 3)}... exported`);
});

test('ClickHouse down at first: the rows wait, with retries, and are all written when it comes up', { skip: SKIP }, async () => {
  const port = await freePort();
  const warnings: string[] = [];
  const sink = new ClickHouseSink({
    target: parseClickHouseUrl(`clickhouse://127.0.0.1:${port}/pgsniff_late`), host: 'h', source: 's',
    normalizer: await createNormalizer(), messages: false, params: false, live: false, flushMs: 50, warn: (l) => warnings.push(l),
  });
  const late = new Promise<ClickHouseServer>((resolve, reject) => {
    setTimeout(() => { startClickHouse({ port }).then(resolve, reject); }, 1000);
  });
  const summary = await analyzeFile(sample('concurrent.pcap'), sink, { messages: true });
  const server = await late;
  try {
    assert.ok(summary.packets > 0);
    assert.equal(sink.counts.dropped, 0);
    assert.ok(sink.counts.retries > 0, 'it retried while the server was down');
    assert.ok(warnings.some((w) => /insert failed.*retrying/.test(w)), warnings.join('\n'));
    const want = records(sample('concurrent.pcap')).filter((x) => x.kind === 'query' || x.kind === 'session' || x.kind === 'anomaly').length;
    assert.equal(sink.counts.written, want);
    const [q] = await server.rows<{ n: string }>('SELECT count() AS n FROM pgsniff_late.pgsniff_queries');
    assert.equal(Number(q!.n), records(sample('concurrent.pcap')).filter((x) => x.kind === 'query').length);
  } finally {
    await server.stop();
  }
});

test('live delivery never waits: past its byte bound the oldest rows are dropped and counted, and end() gives up in its time', { skip: SKIP }, async () => {
  const port = await freePort(); // nothing listens there
  const warnings: string[] = [];
  const sink = new ClickHouseSink({
    target: parseClickHouseUrl(`clickhouse://127.0.0.1:${port}/nowhere`), host: 'h', source: 's', normalizer: await createNormalizer(),
    messages: false, params: false, live: true, maxQueuedBytes: 4000, giveUpMs: 1500, flushMs: 20, warn: (l) => warnings.push(l),
  });
  assert.equal(sink.ready(), null, 'live capture is never held back');
  await analyzeFile(sample('n-plus-one.pcap'), sink, { messages: true });
  const total = records(sample('n-plus-one.pcap')).filter((x) => x.kind === 'query' || x.kind === 'session' || x.kind === 'anomaly').length;
  assert.equal(sink.counts.written, 0);
  assert.equal(sink.counts.dropped, total, 'every row that could not be delivered is counted as dropped');
  assert.match(sink.summary(), new RegExp(`0 rows written .*, ${total} dropped`));
  assert.ok(warnings.some((w) => /rows dropped/.test(w)), warnings.join('\n'));
});

test('--export with a bad URL is a usage error', () => {
  for (const url of ['not a url', 'mysql://h/db', 'clickhouse://h/a/b']) {
    const r = cli(['read', sample('n-plus-one.pcap'), '--export', url]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^pgsniff: --export: /);
  }
});

test('the SQL in README, docs/FLEET.md and the Grafana dashboard runs on ClickHouse 18.16 against exported tables', { skip: SKIP }, async () => {
  const db = 'pgsniff';
  for (const name of ['errors.pcap', 'n-plus-one.pcap']) {
    assert.equal(cli(['read', sample(name), '--export', `clickhouse://127.0.0.1:${ch.port}/${db}`, '--host-label', 'docs']).status, 0);
  }
  const sqlBlocks = (text: string): string[] => [...text.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const ready = readme.slice(readme.indexOf('Three questions, ready to run:'));
  const statements = [
    ...sqlBlocks(ready).slice(0, 1),
    ...sqlBlocks(readFileSync(join(projectRoot, 'docs', 'FLEET.md'), 'utf8')),
  ].flatMap((b) => b.split(';')).map((s) => s.replace(/^--.*$/gm, '').trim()).filter(Boolean);
  const dashboard = JSON.parse(readFileSync(join(projectRoot, 'docs', 'grafana-pgsniff.json'), 'utf8')) as { panels: Array<{ targets: Array<{ rawSql?: string }> }> };
  for (const p of dashboard.panels) for (const t of p.targets) if (t.rawSql) statements.push(t.rawSql.replace(/\$__timeFilter\(time\)/g, 'time > 0'));
  assert.ok(statements.length >= 7, `the documented queries: ${statements.length}`);
  for (const sql of statements) await ch.query(sql);
  const [top] = await ch.rows<{ calls: string }>(`SELECT count() AS calls FROM ${db}.pgsniff_queries WHERE host = 'docs'`);
  assert.ok(Number(top!.calls) > 0);
});

test('live capture with ClickHouse down: the capture record says how many rows the export dropped', { skip: SKIP || !isRoot ? (SKIP || 'not root: live capture needs root') : false, timeout: 240_000 }, async () => {
  const srv = await startServer();
  const dead = await freePort();
  try {
    const child = spawn(process.execPath, [MAIN, '-i', 'lo', '-p', String(srv.port), '-f', `tcp port ${srv.port}`, '--json',
      '--export', `clickhouse://127.0.0.1:${dead}/nowhere`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const deadline = Date.now() + 60_000;
    while (!err.includes('capturing on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, password: srv.password, database: srv.database });
    await client.connect();
    for (let i = 0; i < 5; i++) await client.query('SELECT $1::int AS n', [i]);
    await client.end();
    await new Promise((r) => setTimeout(r, 1000));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0, err);
    const recs = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const capture = recs.at(-1)!;
    assert.equal(capture.kind, 'capture');
    const rows = recs.filter((r) => r.kind === 'query' || r.kind === 'session' || r.kind === 'anomaly').length;
    assert.ok(rows >= 6, `queries and the session: ${rows}`);
    assert.equal(capture.droppedByExport, rows, 'every row the export could not deliver is counted in the capture record');
    assert.match(err, new RegExp(`export: 0 rows written .*, ${rows} dropped`));
  } finally {
    await srv.stop();
  }
});
