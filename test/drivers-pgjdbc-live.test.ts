/**
 * pgJDBC (Debian's libpostgresql-jdbc-java under java 17) against a fresh PostgreSQL 18, captured
 * on loopback while test/helpers/jdbc-fastpath-batch.java runs, and pgsniff's records compared
 * with what the driver saw (issue 13, section 8):
 * - its large-object API speaks the fast-path FunctionCall, asking binary results: each
 *   FunctionCallResponse is reported in that format (loread's bytes as hex, even when they read
 *   as text), with the bytes the driver got;
 * - executeBatch whose first INSERT fails (23505): pgJDBC goes on sending Bind/Execute after the
 *   ErrorResponse came back; the server skips them, and each skipped record shows its own
 *   parameters, not those of the last Bind before the error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { QueryRecord } from '../src/session/schema.js';
import { projectRoot } from './helpers/public-captures.js';
import { startServer } from './helpers/pg-server.js';
import { hasTcpdump, Tcpdump } from './helpers/tls-capture.js';
import { tempDir } from './helpers/temp-dir.js';

const JAR = '/usr/share/java/postgresql.jar';
const SKIP = !hasTcpdump() ? 'needs tcpdump and root to capture loopback traffic'
  : !existsSync(JAR) ? `${JAR} is absent (apt-get install libpostgresql-jdbc-java default-jdk-headless)` : false;

interface Seen { oid: number; written: string; read: string; batch: number; failedAt: number }

let run: Promise<{ seen: Seen; queries: QueryRecord[] }> | null = null;

/** Runs the Java program under capture, once unless `again` (one server a run). */
function captured(again = false): Promise<{ seen: Seen; queries: QueryRecord[] }> {
  if (again) run = null;
  run ??= (async () => {
    const dir = tempDir('pgsniff-pgjdbc-live-');
    const pcap = join(dir, 'pgjdbc.pcap');
    const srv = await startServer();
    let out: string;
    try {
      const dump = await Tcpdump.start(pcap, srv.port);
      try {
        const r = spawnSync('java', ['-cp', JAR, join(projectRoot, 'test', 'helpers', 'jdbc-fastpath-batch.java')], {
          encoding: 'utf8', timeout: 120_000,
          env: { ...process.env, PGHOST: srv.host, PGPORT: String(srv.port), PGUSER: srv.user, PGPASSWORD: srv.password, PGDATABASE: srv.database },
        });
        assert.equal(r.status, 0, `java: ${r.stderr}`);
        out = r.stdout;
      } finally {
        await dump.stop();
      }
    } finally {
      await srv.stop();
    }
    const queries: QueryRecord[] = [];
    await analyzeFile(pcap, { record: (r) => { if (r.kind === 'query') queries.push(r as QueryRecord); } }, { messages: false, ports: [srv.port] });
    return { seen: JSON.parse(out) as Seen, queries };
  })();
  return run;
}

// pg_proc OIDs of the large-object functions pgJDBC calls by fast path.
const LO_CREAT = 957;
const LOWRITE = 955;
const LOREAD = 954;

test('pgJDBC large objects: each FunctionCallResponse is in the binary format the FunctionCall asked for, with the bytes the driver got', { skip: SKIP, timeout: 240_000 }, async () => {
  const { seen, queries } = await captured();
  const calls = queries.filter((q) => q.protocol === 'function');
  assert.ok(calls.length >= 5, `${calls.length} fast-path calls`);
  for (const q of calls) assert.equal(q.function!.result!.format, 'binary', `function ${q.function!.oid}`);
  const result = (oid: number) => calls.find((q) => q.function!.oid === oid)!.function!.result!.value;
  assert.equal(result(LO_CREAT), '\\x' + seen.oid.toString(16).padStart(8, '0'));
  assert.equal(result(LOWRITE), '\\x' + (seen.written.length / 2).toString(16).padStart(8, '0'));
  assert.equal(seen.read, seen.written);
  // The bytes read as text ("fast path bytes"): the format still is the one asked for.
  assert.equal(result(LOREAD), '\\x' + seen.read);
});

test('pgJDBC executeBatch failing at its first INSERT: the Binds the server skipped show their own parameters', { skip: SKIP, timeout: 600_000 }, async (t) => {
  // The case under test needs Binds sent after the ErrorResponse had come back; whether pgJDBC
  // sends some that late depends on scheduling (on a loaded machine it may send all before), so
  // a run that did not give the case is run again, at most three times in all.
  for (let attempt = 1; ; attempt++) {
    const { seen, queries } = await captured(attempt > 1);
    assert.equal(seen.failedAt, 0);
    const inserts = queries.filter((q) => q.sql === 'INSERT INTO skip_items VALUES ($1, $2)');
    const failed = inserts.filter((q) => q.error !== null);
    assert.deepEqual(failed.map((q) => [q.error!.sqlstate, q.params.map((p) => p.value)]), [['23505', [1, 'name 1']]]);
    const skipped = inserts.filter((q) => q.skipped);
    assert.ok(skipped.length > 10, `${skipped.length} skipped`);
    assert.deepEqual(skipped.map((q) => q.params.map((p) => p.value)), skipped.map((_, i) => [i + 2, `name ${i + 2}`]));
    assert.equal(inserts.filter((q) => !q.skipped && q.error === null).length, 0, 'nothing after the error ran');
    if (skipped.some((q) => q.firstFrame > failed[0]!.lastFrame)) return;
    if (attempt === 3) {
      t.skip('in 3 runs pgJDBC sent the whole batch before the error came back: the Binds-after-the-error case did not occur (the checks above held)');
      return;
    }
  }
});
