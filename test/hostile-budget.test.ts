/**
 * What the whole-process memory budget (src/core/budget.ts) must also hold (issue 19): query
 * records a pooler's undecided leg holds back after the outbox let go of them (pooler.ts), and
 * sessions that ended while the budget's queue of tickets still names them (LedgerAccount).
 * Captures are made here, in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LedgerAccount, MemoryLedger, type BudgetHolder } from '../src/core/budget.js';
import { PacketPipeline } from '../src/pipeline/analyze.js';
import { MAX_PREPARED_CHARS, PoolerLegs } from '../src/session/pooler.js';
import type { OutRecord } from '../src/pipeline/events.js';
import { LoggedInConnections } from './helpers/logged-in-connections.js';
import { commandComplete, query, readyForQuery } from './helpers/pg-builder.js';

/** Connections whose frames are added in order. */
const Net = LoggedInConnections;

const ok = (): Buffer => Buffer.concat([commandComplete('SELECT 1'), readyForQuery()]);

function run(frames: Buffer[], limitMb: number, onPacket: (p: PacketPipeline, i: number) => void = () => undefined): Promise<{ recs: OutRecord[]; p: PacketPipeline }> {
  const recs: OutRecord[] = [];
  const p = new PacketPipeline({ record: (r) => { recs.push(r); } }, { messages: false, memoryLimitMb: limitMb });
  frames.forEach((data, i) => {
    p.packet({ frame: i + 1, timeUs: 1_700_000_000_000_000 + i * 1000, linkType: 1, data, origLen: data.length, interfaceId: 0, fileOffset: -1 });
    onPacket(p, i);
  });
  return p.finish().then(() => ({ recs, p }));
}

test('records a pooler\'s undecided leg holds back are charged to the session share, and released when they go out', async () => {
  // Two servers (so the pooler module runs); a's request waits while b runs statements of 100 KB:
  // b may be a's server leg, so b's records are held back (pooler.ts MAX_HELD).
  const net = new Net();
  const a = net.conn('10.0.0.5', '10.0.0.20', 5432);
  const b = net.conn('10.0.0.6', '10.0.0.21', 5432);
  a.c(query('SELECT pg_sleep(1)'));
  const sql = (i: number): string => `SELECT ${i} /* ${'x'.repeat(100_000)} */`;
  for (let i = 0; i < 3; i++) {
    b.c(query(sql(i)));
    b.s(ok());
  }
  const heldUntil = net.frames.length;
  a.s(ok());
  let usedWhileHeld = 0;
  const { recs, p } = await run(net.frames, 512, (pp, i) => {
    if (i === heldUntil - 1) usedWhileHeld = pp.budget.session.used;
  });
  // 3 records of 100,000+ characters (2 bytes each), plus a's pending request
  assert.ok(usedWhileHeld > 3 * 200_000, `${usedWhileHeld} bytes charged while b's records were held`);
  assert.equal(p.budget.session.used, 0, 'every charge released');
  assert.equal(recs.filter((r) => r.kind === 'query').length, 4);
});

test('the budget gives up a pooler leg\'s held records: they go out (the session taken for a direct one), memory-limit said once', async () => {
  // --memory-limit 128: a session share of 4 MiB; b's held records of 1 MB each (2 MB charged) pass it.
  const net = new Net();
  const a = net.conn('10.0.0.5', '10.0.0.20', 5432);
  const b = net.conn('10.0.0.6', '10.0.0.21', 5432);
  a.c(query('SELECT pg_sleep(1)'));
  for (let i = 0; i < 6; i++) {
    b.c(query(`SELECT ${i} /* ${'y'.repeat(1_000_000)} */`));
    b.s(ok());
  }
  a.s(ok());
  let maxUsed = 0;
  const { recs, p } = await run(net.frames, 128, (pp) => {
    maxUsed = Math.max(maxUsed, pp.budget.session.used);
  });
  assert.ok(maxUsed <= p.budget.session.capacity, `${maxUsed} bytes charged, share ${p.budget.session.capacity}`);
  assert.equal(p.budget.session.used, 0);
  const queries = recs.filter((r) => r.kind === 'query');
  assert.equal(queries.length, 7, 'every statement has its record');
  const bs = queries.filter((q) => q.session === 1);
  assert.equal(bs.length, 6);
  for (const q of queries) assert.equal(q.poolerLeg, undefined);
  // a's request, the oldest item of the share, was given up first (reported incomplete)
  const aq = queries.find((q) => q.session === 0)!;
  assert.equal(aq.incomplete, true);
  assert.equal(aq.incompleteReason, 'limit');
  // Once for the held records (b's index of 1 MB requests is given up too, and says so apart: pooler-index-budget).
  const limits = recs.filter((r) => r.kind === 'anomaly' && r.code === 'memory-limit' && r.session === 1 && /held back/.test(r.reason as string));
  assert.equal(limits.length, 1, JSON.stringify(limits));
  assert.match(limits[0]!.reason as string, /held back to tell a pooler's server legs/);
  assert.equal(typeof limits[0]!.frame, 'number');
});

test('a closed account: the ledger\'s stale tickets no longer reach the holder, and give nothing up through it', () => {
  const ledger = new MemoryLedger(1000);
  let given = 0;
  let held = true;
  const holder: BudgetHolder = { holds: () => held, giveUp: () => { given++; held = false; } };
  const account = new LedgerAccount(holder);
  const t = ledger.charge(account, 600);
  assert.equal(account.holds(t), true);
  ledger.release(600);
  held = false;
  account.close();
  assert.equal(account.holds(t), false);
  // over the capacity: the closed account's ticket is skipped, not given up
  const other = new LedgerAccount({ holds: () => true, giveUp: () => { given++; } });
  ledger.charge(other, 900);
  ledger.charge(other, 900);
  assert.equal(given, 1, 'only the live holder gave up its item');
});

test('statements remembered from a pooler\'s server legs are bounded by characters too: the oldest go first', () => {
  const pool = new PoolerLegs();
  const big = 'x'.repeat(1024 * 1024);
  const n = MAX_PREPARED_CHARS / big.length + 4;
  for (let i = 0; i < n; i++) pool.prepare('10.0.0.20:5432', `s${i}`, `SELECT ${i} /* ${big} */`);
  assert.equal(pool.preparedOn('10.0.0.20:5432', 's0'), null, 'the oldest was forgotten');
  assert.match(pool.preparedOn('10.0.0.20:5432', `s${n - 1}`)!, new RegExp(`^SELECT ${n - 1} `));
});
