/**
 * `--metrics HOST:PORT`: Prometheus metrics, read back through a real Prometheus (Debian's
 * prometheus package) scraping a live capture of a real workload against PostgreSQL, asserted on
 * PromQL results (counts, rates, a p95 from the histogram), not only on the text of /metrics.
 * And the statement label's bound: at most `top` statements, the rest "other", counts whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from './helpers/public-captures.js';
import { freePort, startServer } from './helpers/pg-server.js';
import { tempDir } from './helpers/temp-dir.js';
import { MetricsSink } from '../src/sinks/export/metrics.js';
import { createNormalizer } from '../src/sinks/stats-normalize.js';
import type { OutRecord } from '../src/pipeline/events.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
const LIVE_SKIP = !isRoot ? 'not root: live capture needs root or CAP_NET_RAW'
  : !has('tcpdump') ? 'tcpdump is not installed (live capture runs it)'
    : !has('prometheus') ? 'prometheus is not installed (Debian package prometheus; .ci/run installs it)' : false;

function queryRecord(session: number, sql: string, durationMs: number, extra: Record<string, unknown> = {}): OutRecord {
  return {
    kind: 'query', session, time: '2026-12-07T10:00:00.000000Z', frame: 1, protocol: 'simple', sql, durationMs, rows: 1,
    skipped: false, incomplete: false, error: null, ...extra,
  } as unknown as OutRecord;
}

function samples(text: string, name: string): Array<{ labels: string; value: number }> {
  return text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' ')).map((l) => {
    const i = l.lastIndexOf(' ');
    return { labels: l.slice(name.length, i), value: Number(l.slice(i + 1)) };
  });
}

test('the statement label names at most `top` statements (and as many that lost their place), the rest "other", and no execution is lost', async () => {
  const sink = new MetricsSink({ normalizer: await createNormalizer(), top: 10 });
  for (let i = 0; i < 300; i++) sink.record(queryRecord(1, `SELECT * FROM table_${i} WHERE id = ${i}`, 1));
  // One statement that comes late but takes more time than any: it gets a label of its own.
  for (let i = 0; i < 1200; i++) sink.record(queryRecord(1, `UPDATE heavy SET x = ${i}`, 50));
  sink.record(queryRecord(1, 'SELECT broken', 2, { error: { sqlstate: '42601', severity: 'ERROR', severityNonLocalized: 'ERROR', message: 'syntax error' } }));
  const text = await sink.text();
  const totals = samples(text, 'pgsniff_queries_total');
  const statements = new Set(totals.map((s) => /statement="((?:[^"\\]|\\.)*)"/.exec(s.labels)![1]));
  // 10 labelled, at most 10 that lost their label and keep their series, and "other".
  assert.ok(statements.size <= 21, `at most 2 x 10 statements and "other": ${[...statements].join(', ')}`);
  assert.ok(statements.has('other'));
  assert.ok(statements.has('UPDATE heavy SET x = $1'), 'the statement with the most total time has its own label');
  assert.equal(totals.reduce((a, s) => a + s.value, 0), 1501, 'every execution counted once');
  assert.equal(samples(text, 'pgsniff_errors_total').find((s) => s.labels.includes('42601'))?.value, 1);
  const count = samples(text, 'pgsniff_query_duration_seconds_count').reduce((a, s) => a + s.value, 0);
  assert.equal(count, 1501);
});

test('a batch is observed once, in its own histogram; statements without a time of their own are not', async () => {
  const sink = new MetricsSink({ normalizer: await createNormalizer() });
  const batch = { id: 7, size: 3, durationMs: 400 };
  for (const sql of ['SELECT pg_sleep(0.4)', 'SELECT 1', 'SELECT 2']) sink.record(queryRecord(2, sql, null as unknown as number, { durationMs: null, batch }));
  const text = await sink.text();
  assert.equal(samples(text, 'pgsniff_batch_duration_seconds_count').reduce((a, s) => a + s.value, 0), 1);
  assert.equal(samples(text, 'pgsniff_batch_duration_seconds_sum').reduce((a, s) => a + s.value, 0), 0.4);
  assert.equal(samples(text, 'pgsniff_query_duration_seconds_count').reduce((a, s) => a + s.value, 0), 0, 'no statement gets the batch\'s time');
  assert.equal(samples(text, 'pgsniff_queries_total').reduce((a, s) => a + s.value, 0), 3);
});

test('every metric the Grafana dashboard and docs/FLEET.md name is one pgsniff serves', async () => {
  const zero = { packets: 0, bytes: 0, kernelDrops: 0, pgsniffDrops: 0, backlogBytes: 0, backlogSeconds: 0, exportDroppedRows: 0 };
  const sink = new MetricsSink({ normalizer: await createNormalizer(), capture: () => zero });
  const served = new Set((await sink.registry.getMetricsAsJSON()).flatMap((m) =>
    String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name]));
  const dashboard = readFileSync(join(projectRoot, 'docs', 'grafana-pgsniff.json'), 'utf8');
  const fleet = readFileSync(join(projectRoot, 'docs', 'FLEET.md'), 'utf8');
  const named = new Set([...`${dashboard}\n${fleet}`.matchAll(/\bpgsniff_[a-z_]+(?=\{|\[|\)|\s|,|$)/g)].map((m) => m[0])
    .filter((n) => !/^pgsniff_(queries|sessions|anomalies|messages)$/.test(n) && !n.startsWith('pgsniff_fleet')));
  assert.ok(named.size >= 6, [...named].join(', '));
  for (const n of named) assert.ok(served.has(n), `${n} is named in the docs but not served`);
});

test('--metrics with a bad address is a usage error', () => {
  const r = spawnSync(process.execPath, [MAIN, 'read', join(projectRoot, 'samples', 'n-plus-one.pcap'), '--metrics', 'nonsense'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^pgsniff: --metrics wants HOST:PORT/);
});

async function waitFor<T>(what: string, fn: () => Promise<T | null>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('Prometheus scrapes a live capture: executions, their rate and p95 from the histogram, errors, sessions', { skip: LIVE_SKIP, timeout: 180_000 }, async () => {
  const srv = await startServer({ database: 'metrics_db' });
  const dir = tempDir('pgsniff-prom-');
  const metricsPort = await freePort();
  const promPort = await freePort();
  let sniff: ChildProcess | null = null;
  let prom: ChildProcess | null = null;
  try {
    sniff = spawn(process.execPath, [MAIN, '-i', 'lo', '-p', String(srv.port), '-f', `tcp port ${srv.port}`, '--metrics', `127.0.0.1:${metricsPort}`],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    sniff.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    await waitFor('capturing on', async () => (err.includes('capturing on') ? true : null));

    writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pgsniff\n    static_configs:\n      - targets: ['127.0.0.1:${metricsPort}']\n`);
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    const promql = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = await res.json() as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      assert.equal(body.status, 'success', q);
      return body.data.result;
    };
    await waitFor('prometheus ready', async () => ((await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok ? true : null));
    await waitFor('the first scrape', async () => ((await promql('up{job="pgsniff"} == 1')).length > 0 ? true : null));

    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, password: srv.password, database: srv.database, application_name: 'metrics-test' });
    await client.connect();
    for (let i = 0; i < 20; i++) {
      await client.query('SELECT pg_sleep(0.06)');
      for (let j = 0; j < 5; j++) await client.query(`SELECT ${j} AS n`);
    }
    for (let i = 0; i < 3; i++) await client.query('SELECT * FROM no_such_table').catch(() => undefined);
    await client.end();

    const sleep = 'statement="SELECT pg_sleep($1)"';
    const calls = await waitFor('20 pg_sleep executions in Prometheus', async () => {
      const r = await promql(`sum(pgsniff_queries_total{${sleep},outcome="ok"})`);
      return r.length > 0 && Number(r[0]!.value[1]) === 20 ? r : null;
    });
    assert.equal(Number(calls[0]!.value[1]), 20);
    const labels = await promql(`pgsniff_queries_total{${sleep}}`);
    assert.equal(labels[0]!.metric.database, 'metrics_db');
    assert.equal(labels[0]!.metric.application, 'metrics-test');
    const rate = await promql(`sum(rate(pgsniff_queries_total{${sleep}}[1m]))`);
    assert.ok(Number(rate[0]!.value[1]) > 0, 'a rate of executions');
    const p95 = await promql(`histogram_quantile(0.95, sum by (le) (pgsniff_query_duration_seconds_bucket{${sleep}}))`);
    const v = Number(p95[0]!.value[1]);
    assert.ok(v > 0.05 && v <= 0.1, `p95 of pg_sleep(0.06) from the histogram: ${v} s`);
    const errors = await waitFor('3 errors', async () => {
      const r = await promql('sum(pgsniff_errors_total{sqlstate="42P01"})');
      return r.length > 0 && Number(r[0]!.value[1]) === 3 ? r : null;
    });
    assert.equal(Number(errors[0]!.value[1]), 3);
    const opened = await promql('pgsniff_sessions_opened_total');
    assert.ok(Number(opened[0]!.value[1]) >= 1);
    const packets = await promql('pgsniff_packets_total');
    assert.ok(Number(packets[0]!.value[1]) > 0, 'the capture layer\'s packet count');
    const drops = await promql('pgsniff_kernel_dropped_packets_total');
    assert.equal(drops.length, 1, 'kernel drops are known (tcpdump reports pcap_stats)');
  } finally {
    prom?.kill('SIGTERM');
    if (sniff) {
      const exited = new Promise((r) => sniff!.once('exit', r));
      sniff.kill('SIGINT');
      await exited;
    }
    await srv.stop();
  }
});
