/**
 * Issue 13 section 7, live: pg clients through a real PgBouncer (transaction pooling, fewer server
 * connections than clients, so statements of different clients share server connections and run
 * at the same moment), both legs captured with tcpdump on lo. What pgsniff's stats and check
 * count must be what the clients executed, once each; every client-leg record names a server leg
 * and its backend; every server-leg record says so.
 * Needs root, tcpdump and pgbouncer (all installed by CI); skips, saying why, without them.
 * tcpdump on a loaded machine may miss packets: the run is repeated (at most ATTEMPTS times)
 * until a capture is whole, and a damaged one is only held to what damage leaves certain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { statsCommand } from '../src/cli/stats.js';
import { checkFile } from '../src/cli/check.js';
import type { StatsReport } from '../src/sinks/stats.js';
import type { SessionRecord } from '../src/session/schema.js';
import { queryAndSessionRecords } from './helpers/pooler-records.js';
import { freePort, startServer, type PgServer } from './helpers/pg-server.js';
import { pgbouncerAvailable, startPgBouncer, type PgBouncer } from './helpers/pgbouncer.js';
import { Tcpdump, hasTcpdump } from './helpers/tls-capture.js';
import { tempDir } from './helpers/temp-dir.js';

const SKIP = !pgbouncerAvailable() ? 'pgbouncer is not installed (apt-get install pgbouncer): live pooler test skipped'
  : !hasTcpdump() ? 'tcpdump is not installed, or not root: live pooler test skipped' : false;

const CLIENTS = 5;
const ROUNDS = 12;
const ATTEMPTS = 3;

/** What one client ran: statements the server executed, and how many failed. */
interface Ran { statements: number; errors: number }

/** A mix drivers send: simple and extended, a two-statement Query, errors, transaction blocks. */
async function work(client: pg.Client, id: number): Promise<Ran> {
  const ran: Ran = { statements: 0, errors: 0 };
  const run = async (sql: string, params: unknown[] | undefined, statements: number): Promise<void> => {
    try {
      await client.query(sql, params);
    } catch {
      ran.errors++;
    }
    ran.statements += statements;
  };
  for (let i = 0; i < ROUNDS; i++) {
    await run('SELECT $1::int + $2::int AS n', [id, i], 1);
    await run('SELECT 1 AS one', undefined, 1);
    if (i % 4 === 0) await run('SELECT * FROM no_such_table_live', undefined, 1);
    if (i % 3 === 0) {
      await run('BEGIN', undefined, 1);
      await run('INSERT INTO live_t VALUES ($1, $2)', [id, i], 1);
      await run('SELECT count(*) FROM live_t WHERE client = $1', [id], 1);
      await run('COMMIT', undefined, 1);
    }
    if (i % 5 === 0) await run(`SELECT ${id} AS a; SELECT ${i} AS b`, undefined, 2);
  }
  return ran;
}

/** The clients' work through PgBouncer, captured on both legs; what they ran. */
async function capture(pcap: string, port: number, srv: PgServer): Promise<Ran> {
  const dump = await Tcpdump.start(pcap, port, `tcp port ${port} or tcp port ${srv.port}`, 16384);
  const ran: Ran[] = [];
  try {
    const clients = Array.from({ length: CLIENTS }, () => new pg.Client({ host: '127.0.0.1', port, user: srv.user, password: srv.password, database: srv.database }));
    for (const c of clients) await c.connect();
    ran.push(...await Promise.all(clients.map((c, id) => work(c, id))));
    for (const c of clients) await c.end();
  } finally {
    await dump.stop();
  }
  const statements = ran.reduce((n, r) => n + r.statements, 0);
  const errors = ran.reduce((n, r) => n + r.errors, 0);
  assert.equal(errors, CLIENTS * Math.ceil(ROUNDS / 4));
  return { statements, errors };
}

/**
 * pgsniff's stats, check and records of the capture against what the clients ran. A whole capture
 * must agree exactly; a damaged one (false is returned, unless `last`) only as far as damage
 * leaves it certain: counts no higher than what ran, and every link that is made is right.
 */
async function judge(pcap: string, ports: number[], port: number, serverPort: number, ran: Ran, last: boolean): Promise<boolean> {
  const { statements, errors } = ran;
  let text = '';
  const out = new Writable({ write(chunk: Buffer, _e, cb) { text += chunk.toString(); cb(); } });
  assert.equal(await statsCommand({ file: pcap, ports, json: true }, { stdout: out }), 0);
  const report = JSON.parse(text) as StatsReport;
  const whole = report.damage === null;
  if (!whole && !last) return false;
  if (whole) {
    assert.equal(report.totals.queries, statements);
    assert.equal(report.totals.errors, errors);
    const ok = await checkFile(pcap, { maxQueries: statements }, { ports });
    assert.equal(ok.ok, true, JSON.stringify(ok.violations));
    assert.equal(ok.checked.queries, statements);
    const failed = await checkFile(pcap, { noErrors: true }, { ports });
    assert.equal(failed.violations.filter((v) => v.rule === 'noErrors').reduce((n, v) => n + (v.count ?? 0), 0), errors);
  } else {
    // Both legs counted would be about twice what ran.
    assert.ok(report.totals.queries <= statements && report.totals.queries >= statements * 0.9, `${report.totals.queries} of ${statements}`);
  }

  const { queries, sessions } = await queryAndSessionRecords(pcap, ports);
  const byId = new Map(sessions.map((s) => [s.session, s]));
  const clientLegs = sessions.filter((s) => s.server.port === port);
  assert.equal(clientLegs.length, CLIENTS);
  for (const s of sessions) assert.equal(s.poolerLeg, s.server.port === port ? 'client' : 'server', `session ${s.session}`);
  const client = queries.filter((q) => byId.get(q.session)!.server.port === port);
  if (whole) assert.equal(client.length, statements);
  for (const q of queries) {
    const leg = byId.get(q.session)!;
    if (leg.server.port !== port) {
      assert.equal(q.poolerLeg, 'server', `frame ${q.firstFrame}`);
      continue;
    }
    assert.equal(q.poolerLeg, undefined);
    const link = q.serverLeg;
    // After a loss a server leg's answers may come out only at its end (a hole in its stream
    // holds them back), too late for the client's record: unlinked then, never linked wrong.
    if (!link && (!whole || q.incomplete)) continue;
    assert.ok(link, `client-leg record at frame ${q.firstFrame} names no server leg`);
    const server = byId.get(link.session)!;
    assert.equal(server.server.port, serverPort);
    assert.equal(link.backendPid, server.backendPid);
    // the twin on that server leg: the same statement and outcome, inside the client leg's time
    const twin = queries.find((x) => x.session === link.session && x.sql === q.sql && x.statementIndex === q.statementIndex
      && (x.error?.sqlstate ?? null) === (q.error?.sqlstate ?? null) && x.firstFrame > q.firstFrame && x.lastFrame < q.lastFrame);
    assert.ok(twin, `frame ${q.firstFrame}: ${q.sql} has no twin on session ${link.session}`);
  }
  return whole;
}

test('pgbouncer live: stats and check count what the clients executed, once, and every record says its leg', { skip: SKIP, timeout: 180_000 }, async () => {
  let srv: PgServer | null = null;
  let bouncer: PgBouncer | null = null;
  try {
    srv = await startServer();
    const setup = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, password: srv.password, database: srv.database });
    await setup.connect();
    await setup.query('CREATE TABLE live_t (client int, i int)');
    await setup.end();
    const port = await freePort();
    bouncer = await startPgBouncer({ port: srv.port, user: srv.user, password: srv.password }, { port, poolMode: 'transaction', poolSize: 2 });
    const ports = [port, srv.port];
    for (let attempt = 1; ; attempt++) {
      const pcap = join(tempDir('pgsniff-pooler-live-'), `pooler-${attempt}.pcap`);
      const ran = await capture(pcap, port, srv);
      const whole = await judge(pcap, ports, port, srv.port, ran, attempt === ATTEMPTS);
      if (whole || attempt === ATTEMPTS) break;
    }
  } finally {
    await bouncer?.stop();
    await srv?.stop();
  }
});
