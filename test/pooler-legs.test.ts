/**
 * src/session/pooler.ts on made-up captures, for what the PgBouncer sample and live test do not
 * show: a pooler on its own host among direct clients of the same server, two servers and no
 * pooler, and the bound on records held back while a session is undecided.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_HELD } from '../src/session/pooler.js';
import type { QueryRecord, SessionRecord } from '../src/session/schema.js';
import { queryAndSessionRecords } from './helpers/pooler-records.js';
import { pcapFile } from './helpers/build-packets.js';
import { LoggedInConnections } from './helpers/logged-in-connections.js';
import { commandComplete, query, readyForQuery } from './helpers/pg-builder.js';
import { tempDir } from './helpers/temp-dir.js';

const dir = tempDir('pgsniff-pooler-legs-');

/** Frames in the order they are added, 1 ms apart; each connection opens with a handshake and a login. */
class Net extends LoggedInConnections {
  async read(name: string, ports: number[]): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
    const file = join(dir, name);
    writeFileSync(file, pcapFile(this.frames));
    const { queries, sessions } = await queryAndSessionRecords(file, ports);
    return { queries, sessions };
  }
}

const ok = (tag: string): Buffer => Buffer.concat([commandComplete(tag), readyForQuery()]);

test('a pooler on its own host: its server legs by their nested statements, direct clients of the same server left alone', async () => {
  const net = new Net();
  const app = net.conn('10.0.0.5', '10.0.0.10', 6432); // session 0: client leg
  const leg = net.conn('10.0.0.10', '10.0.0.20', 5432); // session 1: server leg
  const direct = net.conn('10.0.0.6', '10.0.0.20', 5432); // session 2: a direct client of the server
  // The application's statement; the pooler first sets a parameter of its own, then sends it on.
  app.c(query('SELECT 1'));
  leg.c(query("SET application_name = 'app'"));
  leg.s(ok('SET'));
  leg.c(query('SELECT 1'));
  // a direct client runs another statement meanwhile
  direct.c(query('SELECT 2'));
  leg.s(ok('SELECT 1'));
  direct.s(ok('SELECT 1'));
  app.s(ok('SELECT 1'));
  // the same statement directly, after the pooler's: not nested in anything
  direct.c(query('SELECT 1'));
  direct.s(ok('SELECT 1'));
  const { queries, sessions } = await net.read('own-host.pcap', [6432]);
  const of = (s: number) => queries.filter((q) => q.session === s);
  assert.deepEqual(of(1).map((q) => [q.sql, q.poolerLeg]), [["SET application_name = 'app'", 'server'], ['SELECT 1', 'server']]);
  assert.deepEqual(of(0).map((q) => [q.sql, q.poolerLeg, q.serverLeg]), [['SELECT 1', undefined, { session: 1, backendPid: 101 }]]);
  assert.deepEqual(of(2).map((q) => [q.sql, q.poolerLeg, q.serverLeg]), [['SELECT 2', undefined, undefined], ['SELECT 1', undefined, undefined]]);
  assert.deepEqual(sessions.map((s) => [s.session, s.poolerLeg]).sort(), [[0, 'client'], [1, 'server'], [2, undefined]]);
});

test('two servers and no pooler: nothing is marked, every record goes out', async () => {
  const net = new Net();
  const a = net.conn('10.0.0.5', '10.0.0.20', 5432);
  const b = net.conn('10.0.0.6', '10.0.0.21', 5432);
  for (let i = 0; i < 5; i++) {
    a.c(query(`SELECT ${i} AS a`));
    b.c(query(`SELECT ${i} AS b`));
    b.s(ok('SELECT 1'));
    a.s(ok('SELECT 1'));
  }
  const { queries, sessions } = await net.read('two-servers.pcap', []);
  assert.equal(queries.length, 10);
  for (const q of queries) assert.equal(q.poolerLeg ?? q.serverLeg, undefined);
  for (const s of sessions) assert.equal(s.poolerLeg, undefined);
});

test(`an undecided session holds back at most ${MAX_HELD} records, then lets them go unmarked`, async () => {
  const net = new Net();
  const a = net.conn('10.0.0.5', '10.0.0.20', 5432);
  const b = net.conn('10.0.0.6', '10.0.0.21', 5432);
  // a's request waits all along while b runs many statements of its own
  a.c(query('SELECT pg_sleep(1)'));
  const n = MAX_HELD + 5;
  for (let i = 0; i < n; i++) {
    b.c(query(`SELECT ${i}`));
    b.s(ok('SELECT 1'));
  }
  a.s(ok('SELECT 1'));
  const { queries } = await net.read('held.pcap', []);
  const bs = queries.filter((q) => q.session === 1);
  assert.equal(bs.length, n);
  assert.deepEqual(bs.map((q) => q.sql), Array.from({ length: n }, (_, i) => `SELECT ${i}`));
  for (const q of queries) assert.equal(q.poolerLeg, undefined);
  // the held ones went out when the bound was reached, before a's answer
  const aIndex = queries.findIndex((q) => q.session === 0);
  assert.equal(aIndex, n);
});

test('two clients, the same statement on two server legs, answers handed back in the other order: each links to its own', async () => {
  const net = new Net();
  const a = net.conn('10.0.0.5', '10.0.0.10', 6432); // session 0
  const b = net.conn('10.0.0.6', '10.0.0.10', 6432); // session 1
  const s1 = net.conn('10.0.0.10', '10.0.0.20', 5432); // session 2, pid 102
  const s2 = net.conn('10.0.0.10', '10.0.0.20', 5432); // session 3, pid 103
  b.c(query('SELECT 1'));
  s2.c(query('SELECT 1')); // b's, sent on at once
  a.c(query('SELECT 1'));
  s1.c(query('SELECT 1')); // a's
  s1.s(ok('SELECT 1'));
  s2.s(ok('SELECT 1'));
  // the pooler read s2 first: b is answered before a, whose server leg answered first
  b.s(ok('SELECT 1'));
  a.s(ok('SELECT 1'));
  const { queries } = await net.read('crossed.pcap', [6432]);
  const link = (s: number) => queries.find((q) => q.session === s)!.serverLeg;
  assert.deepEqual(link(0), { session: 2, backendPid: 102 });
  assert.deepEqual(link(1), { session: 3, backendPid: 103 });
  assert.equal(queries.filter((q) => q.poolerLeg === 'server').length, 2);
});
