/**
 * The pgsniff command as a user meets it: exit codes, one-line errors (never a stack trace),
 * NDJSON and text output, display filters, standard input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, publicCapture, publicCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';
import { validateRecord } from '../src/pipeline/schema.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'pgsniff-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertUserError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0], /^pgsniff: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('no such file: one line, exit 2', () => {
  assertUserError(run(['read', join(tmp, 'missing.pcap')]), /missing\.pcap/);
});

test('a text file is not a capture: one line, exit 2', () => {
  const f = join(tmp, 'notes.txt');
  writeFileSync(f, 'hello, this is not a capture\n');
  assertUserError(run(['read', f, '--json']), /not a pcap or pcapng/i);
});

test('an empty file: one line, exit 2', () => {
  const f = join(tmp, 'empty.pcap');
  writeFileSync(f, '');
  assertUserError(run(['read', f]), /empty|not a pcap/i);
});

test('unknown command, unknown option, bad filter, bad port: one line, exit 2', () => {
  assertUserError(run(['frobnicate']), /unknown command/);
  assertUserError(run(['read', 'x.pcap', '--no-such-option']), /no-such-option/);
  assertUserError(run(['read', 'x.pcap', '-Y', 'type ==']), /invalid filter/);
  assertUserError(run(['read', 'x.pcap', '-p', '70000']), /ports/);
});

test('option mistakes in pgsniff\'s words: the nearest option for a typo, a missing or unwanted value', () => {
  assertUserError(run(['read', 'x.pcap', '--jsno']), /^pgsniff: unknown option --jsno \(did you mean --json\?\)/);
  assertUserError(run(['read', 'x.pcap', '-c']), /^pgsniff: -c, --count needs a value/);
  assertUserError(run(['read', 'x.pcap', '--json=yes']), /^pgsniff: --json takes no value/);
  assertUserError(run(['read', 'x.pcap', '--duration', '-1']), /^pgsniff: --duration needs a value \(one that starts with "-" is written --duration=-VALUE\)/);
  assertUserError(run(['read', 'x.pcap', '-c', '-1']), /^pgsniff: -c needs a value \(one that starts with "-" is written --count=-VALUE\)/);
  assertUserError(run(['read', 'a.pcap', 'b.pcap']), /^pgsniff: unexpected argument "b.pcap"/);
  assertUserError(run(['schema', 'query']), /^pgsniff: unexpected argument "query"/);
});

test('--help and --version', () => {
  const h = run(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /pgsniff read FILE/);
  const v = run(['--version']);
  assert.match(v.stdout, /^pgsniff \d+\.\d+\.\d+/);
});

test('schema prints a JSON Schema document', () => {
  const r = run(['schema']);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { oneOf: unknown[] };
  assert.equal(doc.oneOf.length, 5);
});

test('live capture on an interface that does not exist: one line, exit 2', () => {
  const r = run(['-i', 'nosuchif0', '--json', '-c', '1']);
  assertUserError(r, /no such interface|libpcap|permission/);
});

const corpus = publicCaptures();
const noCorpus = corpus === null ? SKIP_NO_PUBLIC : false;

test('read --json: NDJSON whose every line validates', { skip: noCorpus }, () => {
  const r = run(['read', publicCapture('zeek/psql-select-now.pcap'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const rec of recs) assert.equal(validateRecord(rec), null);
  const query = recs.find((x) => x.kind === 'query')!;
  assert.equal(query.sql, 'select now()');
  assert.equal(query.rows, 1);
  const session = recs.find((x) => x.kind === 'session')!;
  assert.equal(session.user, 'zeek');
  assert.ok(recs.some((x) => x.type === 'SASLResponse' && JSON.stringify(x).includes('<redacted>')), 'SCRAM proof redacted');
});

test('--show-secrets reveals the SCRAM proof', { skip: noCorpus }, () => {
  const r = run(['read', publicCapture('zeek/psql-select-now.pcap'), '--json', '--show-secrets', '-Y', 'type == SASLResponse']);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /<redacted>/);
  assert.match(r.stdout, /p=/);
});

test('-Y selects records; --queries keeps query records only', { skip: noCorpus }, () => {
  const f = publicCapture('suricata-verify/pgsql-simple-query-rollback/input.pcap');
  const r = run(['read', f, '--json', '-Y', 'type == "Query"']);
  assert.equal(r.status, 0, r.stderr);
  const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(recs.length >= 10);
  assert.ok(recs.every((x) => x.type === 'Query'));
  const q = run(['read', f, '--json', '--queries', '-Y', 'error.sqlstate == "25P02"']);
  const qs = q.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(qs.length, 3, q.stdout);
  assert.ok(qs.every((x) => x.kind === 'query'));
});

test('--text: one line per frame with codes and summaries; -V adds the tree', { skip: noCorpus }, () => {
  const f = publicCapture('beats/pgsql_extended_query.pcap');
  const r = run(['read', f, '--text']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, />P\/B\/(D\/)?E\/S Parse /);
  assert.match(r.stdout, /<1\/2\//);
  const v = run(['read', f, '--text', '-V']);
  assert.ok(v.stdout.split('\n').length > r.stdout.split('\n').length * 3);
});

test('- reads standard input', { skip: noCorpus }, () => {
  const data = readFileSync(publicCapture('zeek/psql-select-now.pcap'));
  const r = run(['read', '-', '--json', '--queries'], data);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /select now\(\)/);
});

test('a truncated capture: what came before is decoded, the damage is an anomaly, exit 0', { skip: noCorpus }, () => {
  const data = readFileSync(publicCapture('zeek/psql-select-now.pcap'));
  const f = join(tmp, 'cut.pcap');
  writeFileSync(f, data.subarray(0, data.length - 30));
  const r = run(['read', f, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /"kind":"anomaly"/);
  assert.match(r.stdout, /"type":"Query"/);
  assert.ok(existsSync(f));
});

test('--text --queries: a suspended portal says "suspended", not an empty command', () => {
  // samples/pgjdbc.pcap: setFetchSize(2) over 3 rows, the first Execute stops at PortalSuspended
  const r = run(['read', join(projectRoot, 'samples', 'pgjdbc.pcap'), '--text', '--queries']);
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.includes('FROM jdbc_items ORDER BY id') && l.includes('suspended'));
  assert.ok(line, r.stdout);
  assert.match(line, /-> suspended rows=\d+( \[[^\]]+\])*$/);
  assert.doesNotMatch(r.stdout, /->  rows=/);
});

test('--text --queries: a line says what its record says of itself (batch, rolled back, pooler leg)', () => {
  const lines = (sample: string, ...args: string[]): string[] => {
    const r = run(['read', join(projectRoot, 'samples', sample), '--text', '--queries', ...args]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n');
  };
  // psycopg 3 executemany: three INSERTs answered in one frame; none has a time of its own.
  const batched = lines('psycopg3.pcap').filter((l) => l.includes('INSERT INTO pg3_items'));
  assert.equal(batched.length, 3);
  for (const l of batched) assert.match(l, / - ms .* \[batch of 3: \d+\.\d{3} ms\]$/);
  // psycopg2: UPDATEs undone by the ROLLBACK that ended their block.
  assert.ok(lines('psycopg2.pcap').some((l) => /UPDATE drv_items .* \[rolled back\]$/.test(l)));
  assert.ok(lines('pgbouncer.pcap', '-p', '6432').some((l) => l.endsWith('[pooler server leg]')));
});
