/**
 * Issue 13, sections 3 and 4, against a real PostgreSQL 18 and the real drivers (Debian's
 * python3-psycopg, python3-psycopg2, python3-asyncpg, libpostgresql-jdbc-java), captured with
 * tcpdump on loopback (test/helpers/batch-clients.py and BatchJdbc.java run the clients):
 * - answers that arrive in one frame form a batch: none of its statements has a durationMs, the
 *   batch has the time, and pg_sleep inside it shows in the batch's time (a made-up 0 would not);
 *   answers that arrive one flush each keep their own times, from the previous completion;
 * - statements undone by a rollback say so: every INSERT's record is rolledBack exactly when its
 *   row is absent from the table at the end (what the server kept is the truth compared with).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { QueryRecord, SessionRecord } from '../src/session/schema.js';
import { StatsSink } from '../src/sinks/stats.js';
import { CheckSink } from '../src/sinks/check.js';
import { createNormalizer } from '../src/sinks/stats-normalize.js';
import { startServer } from './helpers/pg-server.js';
import { projectRoot } from './helpers/public-captures.js';
import { hasTcpdump, Tcpdump } from './helpers/tls-capture.js';
import { tempDir } from './helpers/temp-dir.js';

const PYTHON = '/usr/bin/python3';
const JAR = '/usr/share/java/postgresql.jar';

interface Seen { start: number; end: number; sqlstate?: string; commitTag?: string }
type ClientOutput = Record<string, Seen> & { ids: number[] };

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Record<string, unknown> {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('batches and rollbacks of psycopg 3, psycopg2, asyncpg and pgJDBC, captured live', { timeout: 300_000 }, async (t) => {
  if (!hasTcpdump()) {
    t.skip('needs tcpdump and root to capture loopback traffic');
    return;
  }
  assert.ok(existsSync(PYTHON) && existsSync(JAR), 'the drivers are installed in CI (python3-psycopg*, python3-asyncpg, libpostgresql-jdbc-java)');
  const dir = tempDir('pgsniff-batch-');
  const pcap = join(dir, 'batch.pcap');
  const srv = await startServer();
  let seen: ClientOutput;
  try {
    const env = { ...process.env, PGHOST: srv.host, PGPORT: String(srv.port), PGUSER: srv.user, PGPASSWORD: srv.password, PGDATABASE: srv.database };
    const dump = await Tcpdump.start(pcap, srv.port);
    try {
      const py = run(PYTHON, [join(projectRoot, 'test', 'helpers', 'batch-clients.py')], env);
      const java = run('java', ['-cp', JAR, join(projectRoot, 'test', 'helpers', 'BatchJdbc.java')], env);
      // The Python client read the table before the JDBC one ran: read it again.
      const ids = run(PYTHON, ['-c', 'import json, os, psycopg2; c = psycopg2.connect(""); k = c.cursor(); k.execute("SELECT id FROM bt ORDER BY id"); print(json.dumps({"ids": [r[0] for r in k.fetchall()]}))'], env);
      seen = { ...py, ...java, ...ids } as ClientOutput;
    } finally {
      await dump.stop();
    }
  } finally {
    await srv.stop();
  }

  const queries: QueryRecord[] = [];
  const sessions: SessionRecord[] = [];
  const normalizer = await createNormalizer();
  const stats = new StatsSink(normalizer);
  // Every statement here is under 250 ms alone; only batches holding 0.3 s of sleep are over.
  const check = new CheckSink({ maxLatencyMs: 250, maxP95Ms: 250 }, normalizer);
  await analyzeFile(pcap, {
    record: (r) => {
      if (r.kind === 'query') { queries.push(r as QueryRecord); stats.query(r as QueryRecord); check.query(r as QueryRecord); }
      else if (r.kind === 'session') sessions.push(r as SessionRecord);
    },
  }, { messages: false, ports: [srv.port] });
  const of = (app: string): QueryRecord[] => {
    const s = sessions.filter((x) => x.applicationName === app);
    assert.equal(s.length, 1, `one session of ${app}`);
    return queries.filter((q) => q.session === s[0]!.session && !q.skipped);
  };
  const sleeping = (q: QueryRecord): number => {
    const m = /pg_sleep\((0\.\d+)\)/.exec(q.sql ?? '');
    return m ? Number(m[1]) * 1000 : 0;
  };
  const us = (iso: string): number => Date.parse(iso.slice(0, 23) + 'Z') * 1000 + Number(iso.slice(23, 26));
  for (const q of queries) assert.ok(!q.incomplete, `capture complete: ${q.sql} frame ${q.frame} ${q.incompleteReason ?? ''}`);

  await t.test('answers in one flush: a batch with the time, no statement with a duration it did not have', () => {
    for (const [app, size] of [['pg3-pipeline', 3], ['pg3-executemany', 3], ['pg2-execute-batch', 3], ['simple-multi', 3], ['asyncpg-executemany', 3], ['jdbc-batch', 3]] as const) {
      // The batch holding the sleeping statement (pgJDBC's session has a second, failing batch).
      const all = of(app);
      const id = all.find((q) => sleeping(q) > 0)?.batch?.id;
      const qs = all.filter((q) => q.batch !== undefined && q.batch.id === id);
      assert.equal(qs.length, size, `${app}: ${size} statements in a batch, got ${JSON.stringify(all.map((q) => [q.sql, q.durationMs, q.batch]))}`);
      const b = qs[0]!.batch!;
      assert.equal(b.size, size, app);
      for (const q of qs) {
        assert.deepEqual(q.batch, b, `${app}: one batch`);
        assert.equal(q.durationMs, null, `${app}: ${q.sql} has no time of its own`);
        assert.equal(q.frame, b.id, `${app}: the batch is the frame that completed it`);
        assert.equal(q.error, null);
      }
      // The server slept inside the batch: its time holds every sleep (a made-up 0 would not).
      const slept = qs.reduce((s, q) => s + sleeping(q), 0);
      assert.ok(slept > 0, `${app}: a statement sleeps`);
      assert.ok(b.durationMs >= slept, `${app}: batch ${b.durationMs} ms < ${slept} ms slept`);
      // ... and it is within what the client saw around the call (same clock; 5 ms for scheduling).
      const s = seen[app]!;
      assert.ok(b.durationMs <= (s.end - s.start) * 1000 + 5, `${app}: batch ${b.durationMs} ms > client ${(s.end - s.start) * 1000} ms`);
    }
  });

  await t.test('answers one flush each: their own times, from the previous completion', () => {
    for (const app of ['pg3-syncs', 'simple-each']) {
      const qs = of(app).filter((q) => /pg_sleep/.test(q.sql ?? ''));
      assert.equal(qs.length, 2, app);
      for (const q of qs) {
        assert.equal(q.batch, undefined, `${app}: ${q.sql} answered alone`);
        assert.ok(q.durationMs !== null && q.durationMs >= sleeping(q), `${app}: ${q.sql} ${q.durationMs} ms`);
      }
      // Pipelined (pg3-syncs): the second waited behind the first; its time starts when the first completed.
      const [a, b] = qs as [QueryRecord, QueryRecord];
      if (app === 'pg3-syncs') assert.ok(b.durationMs! <= (us(b.time) - us(a.time)) / 1000, `${app}: the second's time starts no earlier than the first's completion`);
    }
  });

  await t.test('stats: batches counted once, their statements outside the latency percentiles', () => {
    const s = stats.report();
    const batched = queries.filter((q) => q.batch !== undefined);
    assert.equal(s.totals.batchedQueries, batched.length);
    assert.equal(s.totals.batches, new Set(batched.map((q) => `${q.session}/${q.batch!.id}`)).size);
    assert.equal(s.totals.rolledBack, queries.filter((q) => q.rolledBack === true).length);
  });

  await t.test('check --max-latency / --max-p95 name the batch, never its first statement', () => {
    const v = check.result().violations;
    const latency = v.filter((x) => x.rule === 'maxLatencyMs');
    const batches = latency.filter((x) => /^a batch of 3 statements whose answers arrived together/.test(x.message));
    // pg3-pipeline (0.3 s) and pg3-executemany, pg2-execute-batch, asyncpg, pgJDBC (3 x 0.1 s).
    assert.equal(batches.length, 5, JSON.stringify(v.map((x) => x.message)));
    // Any other is a statement answered alone, over the budget on its own time (pg3-syncs' 0.3 s sleep).
    for (const x of latency.filter((y) => !batches.includes(y))) {
      const q = queries.find((r) => r.frame === x.frame && r.durationMs !== null && r.durationMs > 250);
      assert.ok(q !== undefined && q.batch === undefined, `not a batch, not a statement over the budget alone: ${x.message}`);
    }
    // p95: the batches' group, or statements whose own times are over (never a batch member's).
    for (const x of v.filter((y) => y.rule === 'maxP95Ms')) assert.ok(/^a batch of 3 statements/.test(x.query ?? '') || /pg_sleep/.test(x.query ?? ''), x.message);
  });

  await t.test('rolledBack exactly on what the server did not keep', () => {
    const kept = new Set(seen.ids);
    let inserts = 0;
    for (const q of queries) {
      const m = /^INSERT INTO bt(?: \(id\))? (?:VALUES \((\d+|\$1)\)|SELECT (\d+|\$1))/.exec(q.sql ?? '');
      if (!m || q.error !== null || q.skipped) continue;
      const lit = m[1] ?? m[2]!;
      const id = Number(lit === '$1' ? q.params[0]?.value : lit);
      if (!Number.isInteger(id)) continue;
      inserts++;
      assert.equal(q.rolledBack === true, !kept.has(id), `INSERT ${id} (session ${q.session}, frame ${q.frame}): rolledBack ${q.rolledBack} but kept ${kept.has(id)}`);
      assert.equal(q.rollbackUnknown, undefined);
    }
    // 20, 21, 30, 31, 40-43, 50, 60-62, 70-72, 80, the batches' 1-10 and 90-94
    assert.ok(inserts >= 30, `${inserts} INSERT records compared`);
    // The transaction-control statements themselves are never marked.
    for (const q of queries) if (/^(BEGIN|SAVEPOINT|RELEASE|ROLLBACK|COMMIT)/i.test(q.sql ?? '')) assert.equal(q.rolledBack, undefined, q.sql!);
    assert.equal(seen['rb-block-error']!.commitTag, 'ROLLBACK');
    assert.equal(seen['jdbc-batch-error']!.sqlstate, '23505');
  });
});
