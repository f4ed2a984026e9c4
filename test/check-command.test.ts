/**
 * `check` end to end: exit codes for a passing and a failing rule set, on a capture and on an
 * NDJSON export of the same capture, through the command function and through the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { projectRoot } from './helpers/public-captures.js';
import { checkCommand, type CheckCommandOptions } from '../src/cli/check.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { NdjsonSink } from '../src/sinks/ndjson.js';
import { isUserError } from '../src/core/errors.js';

const nPlusOne = join(projectRoot, 'samples', 'n-plus-one.pcap');
const errors = join(projectRoot, 'samples', 'errors.pcap');
const authMethods = join(projectRoot, 'samples', 'auth-methods.pcap');
const SKIP = existsSync(nPlusOne) ? false : 'samples are absent (npm run samples makes them): check end-to-end skipped';
const main = join(projectRoot, 'dist', 'src', 'cli', 'main.js');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function check(file: string, o: Partial<CheckCommandOptions>): Promise<{ status: number; out: string }> {
  const out = new Capture();
  const status = await checkCommand({ file, rules: null, ports: [], ...o }, { stdout: out });
  return { status, out: out.text };
}

test('check on a capture: passing and failing rule sets', { skip: SKIP }, async () => {
  const fail = await check(nPlusOne, { maxPerFingerprint: 5 });
  assert.equal(fail.status, 1);
  assert.match(fail.out, /check failed: 1 violation/);
  assert.match(fail.out, /\[maxPerFingerprint\] ran 10 times, more than the 5 allowed/);
  const pass = await check(nPlusOne, { maxPerFingerprint: 10, maxQueries: 11, noErrors: true, maxLatency: 1000 });
  assert.equal(pass.status, 0, pass.out);
  assert.match(pass.out, /check passed: 4 rule\(s\) hold \(11 queries, 1 sessions\)/);

  assert.equal((await check(errors, { noErrors: true })).status, 1);
  const allowed = await check(errors, { allowSqlstate: ['22012', '42601', '42P01', '22P02', '25P02'] });
  assert.equal(allowed.status, 0, allowed.out);
  const pw = await check(authMethods, { noPlaintextPasswords: true });
  assert.equal(pw.status, 1);
  assert.match(pw.out, /user clear_user.*cleartext password/);
  assert.equal((await check(nPlusOne, { requireTls: true })).status, 1);
  const json = await check(nPlusOne, { maxPerFingerprint: 5, json: true });
  const res = JSON.parse(json.out) as { ok: boolean; violations: Array<{ rule: string; count: number }> };
  assert.equal(res.ok, false);
  assert.deepEqual(res.violations.map((v) => [v.rule, v.count]), [['maxPerFingerprint', 10]]);
});

test('check on an NDJSON export gives the same verdicts; rules from a YAML file', { skip: SKIP }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-check-'));
  try {
    const ndjson = join(dir, 'run.ndjson');
    const fd = openSync(ndjson, 'w');
    const sink = new NdjsonSink(fd);
    await analyzeFile(nPlusOne, sink, {});
    closeSync(fd);
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'max-per-fingerprint: 5\n');
    assert.equal((await check(ndjson, { rules })).status, 1);
    writeFileSync(rules, 'max-per-fingerprint: 10\nmaxQueries: 11\n');
    assert.equal((await check(ndjson, { rules })).status, 0);
    // flags win over the file
    assert.equal((await check(ndjson, { rules, maxPerFingerprint: 3 })).status, 1);

    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, '{"kind":"query","session":0}\n');
    await assert.rejects(check(bad, { maxQueries: 1 }), (e: unknown) => isUserError(e) && e.code === 'BAD_INPUT' && /bad\.ndjson:1/.test(e.message));
    await assert.rejects(check(nPlusOne, {}), (e: unknown) => isUserError(e) && e.code === 'BAD_ARGUMENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pgsniff check through the CLI: exit 1 on a violation, 0 when the rules hold, 2 on a usage mistake', { skip: SKIP || (!existsSync(main) && 'dist/src/cli/main.js is not built') }, () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [main, 'check', ...args], { encoding: 'utf8', timeout: 60_000 });
  const fail = run(nPlusOne, '--max-per-fingerprint', '5');
  assert.equal(fail.status, 1, fail.stderr);
  assert.match(fail.stdout, /maxPerFingerprint/);
  const pass = run(nPlusOne, '--max-per-fingerprint', '10');
  assert.equal(pass.status, 0, pass.stderr);
  const usage = run(nPlusOne);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^pgsniff: no rules to check/);
});
