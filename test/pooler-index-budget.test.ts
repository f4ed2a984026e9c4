/**
 * Issue 19: the index a pooler's legs keep for matching (pooler.ts: each session's requests, and
 * its server-leg records waiting for a client leg to claim them) is charged to the session share
 * of the memory budget; when the budget gives one up, it and the session's older ones are
 * forgotten and memory-limit says so. Requests and captures are generated here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLedger } from '../src/core/budget.js';
import { PacketPipeline } from '../src/pipeline/analyze.js';
import type { OutRecord } from '../src/pipeline/events.js';
import { Execution } from '../src/session/execution.js';
import { PoolerLegs } from '../src/session/pooler.js';
import type { QueryRequest } from '../src/session/request-queue.js';
import type { ConnectionInfo } from '../src/reassembly/types.js';
import { LoggedInConnections } from './helpers/logged-in-connections.js';
import { commandComplete, query, readyForQuery } from './helpers/pg-builder.js';

const T0 = 1_700_000_000_000_000;

function conn(id: number, server: string, port = 5432): ConnectionInfo {
  return { id, client: { ip: '10.0.0.1', port: 40000 + id }, server: { ip: server, port }, serverBy: 'syn', sawSyn: true, startFrame: 1, startTimeUs: T0 };
}

function request(sql: string, frame: number): QueryRequest {
  return { kind: 'query', sql, pieces: [], index: 0, exec: null, last: null, failed: false, firstFrame: frame, reqTimeUs: T0 + frame, seq: frame };
}

const sqlOf = (i: number): string => `SELECT ${i} /* ${'x'.repeat(10_000)} */`;

test('a pooler leg\'s index is charged: the budget gives the oldest entries up (memory-limit through onIndexGiveUp), and they no longer match', () => {
  const ledger = new MemoryLedger(500_000);
  const pool = new PoolerLegs();
  let indexGiveUps = 0;
  const written: Execution[] = [];
  const leg = (id: number, server: string, port = 5432) =>
    pool.session(conn(id, server, port), (e) => { written.push(e); }, () => 4242, ledger, () => undefined, () => { indexGiveUps++; });
  // A client leg to the pooler (6432) and server legs from it to the server: two endpoints, matching runs.
  const client = leg(0, '10.0.0.20', 6432);
  const server1 = leg(1, '10.0.0.30');
  const server2 = leg(2, '10.0.0.30');
  let peak = 0;
  for (let i = 0; i < 100; i++) {
    client.request(request(sqlOf(i), 10 + i));
    peak = Math.max(peak, ledger.used);
  }
  // 100 entries of 20 KB each (10,000 characters, two bytes each): 2 MB unbudgeted; held to the share.
  assert.ok(peak <= ledger.capacity, `${peak} bytes charged over the ${ledger.capacity}-byte share`);
  assert.ok(ledger.used > 400_000, `${ledger.used} bytes charged for the entries kept`);
  assert.ok(indexGiveUps > 0, 'the give-up was told');
  // The newest entry still matches: a server leg running its statement is recognised ...
  const newest = new Execution('simple', sqlOf(99), 500, T0 + 500);
  server1.out(newest, 'idle');
  assert.equal(newest.poolerLeg, true, 'the newest request is still indexed');
  // ... the oldest, forgotten, no longer does (its server leg is not linked: said by memory-limit).
  const oldest = new Execution('simple', sqlOf(0), 501, T0 + 501);
  server2.out(oldest, 'idle');
  assert.equal(oldest.poolerLeg, false);
  // The server leg's waiting record (for the client's record to claim) is charged too, and released when claimed.
  const before = ledger.used;
  const clientRec = new Execution('simple', sqlOf(99), 109, T0 + 109);
  clientRec.lastFrame = 600;
  client.out(clientRec, 'idle');
  assert.deepEqual(clientRec.serverLeg, { session: 1, backendPid: 4242 });
  assert.ok(ledger.used < before, 'the claimed record and the answered entries let go of their charge');
  // Sessions end: nothing of the index stays charged.
  for (const l of [client, server1, server2]) l.close({ poolerLeg: undefined } as never);
  assert.equal(ledger.used, 0);
});

test('a generated capture through a pooler: unanswered requests of large SQL on a client leg give the index up with a memory-limit anomaly, and every charge is released', async () => {
  const net = new LoggedInConnections();
  // Two endpoints open at once (the pooler and the server), so the legs are told apart.
  const server = net.conn('10.0.0.20', '10.0.0.30', 5432);
  const client = net.conn('10.0.0.5', '10.0.0.20', 6432);
  server.c(query('SELECT 1'));
  server.s(Buffer.concat([commandComplete('SELECT 1'), readyForQuery()]));
  // --memory-limit 128: a session share of 4 MiB; 40 requests of 100 KB each are charged twice
  // (request queue, and the pooler's index), 16 MB.
  for (let i = 0; i < 40; i++) client.c(query(`SELECT ${i} /* ${'z'.repeat(100_000)} */`));
  const recs: OutRecord[] = [];
  const p = new PacketPipeline({ record: (r) => { recs.push(r); } }, { messages: false, memoryLimitMb: 128 });
  let maxUsed = 0;
  net.frames.forEach((data, i) => {
    p.packet({ frame: i + 1, timeUs: T0 + i * 1000, linkType: 1, data, origLen: data.length, interfaceId: 0, fileOffset: -1 });
    maxUsed = Math.max(maxUsed, p.budget.session.used);
  });
  await p.finish();
  assert.ok(maxUsed <= p.budget.session.capacity, `${maxUsed} bytes charged, share ${p.budget.session.capacity}`);
  assert.equal(p.budget.session.used, 0, 'every charge released');
  const limits = recs.filter((r) => r.kind === 'anomaly' && r.code === 'memory-limit' && r.session === 1);
  assert.ok(limits.some((a) => /pooler's server legs from its client legs were forgotten/.test(a.reason as string)), JSON.stringify(limits.map((a) => a.reason)));
  assert.equal(recs.filter((r) => r.kind === 'query' && r.session === 1).length, 40, 'every request has its record');
});
