/**
 * The command line against hostile surroundings (issue 19): a key log that never ends
 * (/dev/zero) or is huge, a display filter nested 5,000 deep, standard output on a full disk
 * (/dev/full) or a pipe whose reader left, and a capture whose file name carries terminal
 * escapes. Each ends with one line on stderr and an exit status that says what happened:
 * 2 for what could not be read or written (never 1, which is check's "rules violated"), and a
 * quiet end when the reader went away.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from './helpers/public-captures.js';
import { compileFilter, MAX_FILTER_DEPTH } from '../src/filter/index.js';
import { KeyLog, MAX_KEYLOG_LINE } from '../src/pg/tls/keylog.js';
import { isUserError } from '../src/core/errors.js';
import { engineFlags } from '../src/cli/engine.js';
import { manyConnections } from './helpers/hostile-captures.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const SAMPLE = join(projectRoot, 'samples', 'copy.pcap');
const tmp = mkdtempSync(join(tmpdir(), 'pgsniff-hostile-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

interface Run { status: number | null; stdout: string; stderr: string }

/** `stdout`: 'pipe', or a path opened for writing (/dev/full). */
function run(args: string[], stdout: 'pipe' | string = 'pipe'): Run {
  const fd = stdout === 'pipe' ? 'pipe' : openSync(stdout, 'w');
  try {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', stdio: ['ignore', fd, 'pipe'], maxBuffer: 1 << 26, timeout: 120_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr };
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}

function oneLine(r: Run, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0]!, /^pgsniff: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('--keylog /dev/zero: one line, exit 2, at once (read line by line, a line longer than any key log line stops it)', () => {
  oneLine(run(['read', SAMPLE, '--json', '--keylog', '/dev/zero'], '/dev/null'), 2, /key log \/dev\/zero: a line longer than/);
  oneLine(run(['stats', SAMPLE, '--keylog', '/dev/zero'], '/dev/null'), 2, /key log \/dev\/zero/);
});

test('a key log past its size limit, or with a line too long, is a BAD_INPUT; a good one of many lines reads', () => {
  const long = join(tmp, 'long-line.keylog');
  // a long line that ends is a bad line among others (counted); one that runs past a read chunk is not a key log
  writeFileSync(long, 'CLIENT_RANDOM ' + 'a'.repeat(MAX_KEYLOG_LINE * 3) + '\n');
  assert.deepEqual(KeyLog.fromFile(long).stats(), { sessions: 0, malformedLines: 1 });
  writeFileSync(long, 'CLIENT_RANDOM ' + 'a'.repeat(5 << 20) + '\n');
  assert.throws(() => KeyLog.fromFile(long), (e) => isUserError(e) && e.code === 'BAD_INPUT' && /line longer/.test(e.message));
  // many good lines across read chunks (4 MiB): every one is taken
  const good = join(tmp, 'good.keylog');
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++) lines.push(`CLIENT_RANDOM ${i.toString(16).padStart(64, '0')} ${'ab'.repeat(48)}`);
  writeFileSync(good, lines.join('\n')); // no final line end: the last line counts too
  const log = KeyLog.fromFile(good);
  assert.deepEqual(log.stats(), { sessions: 40_000, malformedLines: 0 });
});

test('a watched key log that grows with junk: read a chunk at a time, junk lines skipped, good lines after them taken', () => {
  const f = join(tmp, 'live.keylog');
  writeFileSync(f, 'x'.repeat(10 * MAX_KEYLOG_LINE) + '\n' + `CLIENT_RANDOM ${'1'.repeat(64)} ${'cd'.repeat(48)}\n`);
  const log = KeyLog.fromFile(f, { watch: true });
  try {
    assert.equal(log.stats().sessions, 1);
    assert.equal(log.overLimit, false);
  } finally {
    log.close();
  }
});

test(`-Y nested 5,000 deep: one line, exit 2 (depth limit ${MAX_FILTER_DEPTH}); long flat chains compile and run`, () => {
  const deep = '('.repeat(5000) + 'kind == query' + ')'.repeat(5000);
  oneLine(run(['read', SAMPLE, '--json', '-Y', deep], '/dev/null'), 2, new RegExp(`nested deeper than ${MAX_FILTER_DEPTH}`));
  const nots = '!'.repeat(5000) + 'kind';
  assert.throws(() => compileFilter(nots), (e) => isUserError(e) && e.code === 'BAD_FILTER');
  // depth within the limit is fine, and a chain of 20,000 terms evaluates without recursion
  const ok = compileFilter('('.repeat(MAX_FILTER_DEPTH) + 'kind == query' + ')'.repeat(MAX_FILTER_DEPTH));
  assert.equal(ok({ kind: 'query' }), true);
  const chain = compileFilter(Array.from({ length: 20_000 }, (_, i) => `frame == ${i}`).join(' || '));
  assert.equal(chain({ frame: 19_999 }), true);
  assert.equal(chain({ frame: -1 }), false);
  const and = compileFilter(Array.from({ length: 20_000 }, () => 'kind').join(' && '));
  assert.equal(and({ kind: 'x' }), true);
});

for (const args of [['stats', SAMPLE], ['stats', SAMPLE, '--json'], ['check', SAMPLE, '--max-queries', '0'], ['check', SAMPLE, '--max-queries', '1000'],
  ['schema'], ['read', SAMPLE, '--json'], ['read', SAMPLE, '--text'], ['read', SAMPLE, '--text', '-V'], ['--version'], ['--help']]) {
  test(`pgsniff ${args.join(' ').replace(SAMPLE, 'copy.pcap')} > /dev/full: one line, exit 2 (not check's 1, not a trace)`, () => {
    oneLine(run(args, '/dev/full'), 2, /cannot write to standard output: ENOSPC/);
  });
}

test('a reader that goes away (| head -c 1): a quiet end, with check\'s verdict kept', () => {
  for (const [args, status] of [[['read', SAMPLE, '--json'], 0], [['schema'], 0], [['check', SAMPLE, '--max-queries', '0'], 1], [['stats', SAMPLE], 0]] as const) {
    const p = spawnSync('/bin/sh', ['-c', `("${process.execPath}" "${MAIN}" ${args.map((a) => `'${a}'`).join(' ')}; echo "status $?" >&2) | head -c 1 > /dev/null`], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
    });
    assert.equal(p.stderr.trim(), `status ${status}`, `${args.join(' ')}: ${p.stderr}`);
  }
});

test('a capture file name with terminal escapes is printed escaped in "the capture is damaged"', () => {
  const name = join(tmp, 'evil\x1b]0;pwned\x07\x1b[2J.pcap');
  copyFileSync(SAMPLE, name);
  // cut the file inside a record: damaged
  const { size } = statSync(name);
  const fd = openSync(name, 'r+');
  try {
    ftruncateSync(fd, size - 5); // inside the last record
  } finally {
    closeSync(fd);
  }
  const r = run(['read', name, '--json'], '/dev/null');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /the capture is damaged/);
  assert.doesNotMatch(r.stderr, /\x1b|\x07/, 'no raw escape reaches the terminal');
  assert.match(r.stderr, /evil\\e\]0;pwned\\x07\\e\[2J\.pcap/);
  // the same name in a user error (not a capture) is escaped too
  writeFileSync(name, 'not a capture at all');
  const u = run(['read', name], '/dev/null');
  assert.equal(u.status, 2);
  assert.doesNotMatch(u.stderr, /\x1b|\x07/);
});

test('120,000 connections that each send a StartupMessage: peak resident size well under the 512 MB default limit', { timeout: 900_000 }, (t) => {
  // The pipeline as `pgsniff read FILE --json` runs it (its V8 flags, NDJSON to /dev/null), in a
  // child whose peak resident size it reports itself. Each connection opens PostgreSQL state
  // that the connection budget then gives up (connection-limit): V8 let the garbage grow the
  // heap to 433 MB (590 MB resident) before HeapGuard (core/budget.ts).
  const file = join(tmp, 'startup-120k.pcap');
  writeFileSync(file, manyConnections(120_000, 'startup'));
  const flags = engineFlags(['read', file, '--json'], false, false);
  assert.ok(flags);
  const url = (p: string): string => JSON.stringify(pathToFileURL(join(projectRoot, 'dist', p)).href);
  const script = `
    const { analyzeFile } = await import(${url('src/pipeline/analyze.js')});
    const { NdjsonSink } = await import(${url('src/sinks/ndjson.js')});
    const { openSync } = await import('node:fs');
    const s = await analyzeFile(${JSON.stringify(file)}, new NdjsonSink(openSync('/dev/null', 'w')));
    console.log(JSON.stringify({ connections: s.connections, maxRssMb: process.resourceUsage().maxRSS / 1024 }));`;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { connections: number; maxRssMb: number };
  t.diagnostic(`peak resident size ${out.maxRssMb.toFixed(0)} MB`);
  assert.equal(out.connections, 120_000);
  assert.ok(out.maxRssMb < 460, `peak resident size ${out.maxRssMb.toFixed(0)} MB`);
});
