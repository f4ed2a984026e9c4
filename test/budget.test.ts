/**
 * The process-wide memory budget (src/core/budget.ts): its ledger gives up the oldest items of
 * all holders first, and through the whole pipeline many connections of unanswered requests
 * stay within the session share, each given-up request reported incomplete and each session
 * that lost some with one memory-limit anomaly. The 3,000 x 10,000 run of issue 19 is measured
 * in docs/BENCHMARK.md (peak RSS); here the same shape, smaller, under a small --memory-limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLedger, memoryShares, memoryBudget, DEFAULT_MEMORY_LIMIT_MB, type BudgetHolder } from '../src/core/budget.js';
import { requestBytes } from '../src/session/request-queue.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { tcpFrame } from './helpers/build-packets.js';
import { collectFrames } from './helpers/run-pipeline.js';
import { PacketPipeline } from '../src/pipeline/analyze.js';
import type { OutRecord } from '../src/pipeline/events.js';
import { authentication, commandComplete, dataRow, parse, query, readyForQuery, rowDescription, startup } from './helpers/pg-builder.js';
import { MAX_KEPT_ROW_BYTES } from '../src/session/execution.js';
import { valueBytes } from '../src/session/value-size.js';
import type { PgValue } from '../dissectors/types.js';

/** A holder of FIFO items, as the request queue is. */
class Fifo implements BudgetHolder {
  items: Array<{ ticket: number; bytes: number }> = [];
  lost: number[] = [];
  constructor(private readonly ledger: MemoryLedger) {}
  add(bytes: number): number {
    const ticket = this.ledger.charge(this, bytes);
    this.items.push({ ticket, bytes });
    return ticket;
  }
  pop(): void {
    const it = this.items.shift()!;
    this.ledger.release(it.bytes);
  }
  holds(t: number): boolean {
    return this.items.length > 0 && t >= this.items[0]!.ticket;
  }
  giveUp(t: number): void {
    assert.equal(this.items[0]!.ticket, t, 'the oldest of a holder goes first');
    this.lost.push(t);
    this.pop();
  }
}

test('MemoryLedger: over capacity, the oldest items still held go first, whoever holds them; released ones are skipped', () => {
  const ledger = new MemoryLedger(1000);
  const a = new Fifo(ledger);
  const b = new Fifo(ledger);
  const t1 = a.add(300);
  const t2 = b.add(300);
  a.add(300);
  a.pop(); // t1 answered: released, its ticket is skipped
  b.add(300); // 900: fits
  assert.equal(ledger.used, 900);
  a.add(300); // 1200: the oldest held is b's t2
  assert.deepEqual(b.lost, [t2]);
  assert.equal(a.lost.length, 0, 't1 was answered before: never given up');
  void t1;
  assert.equal(ledger.used, 900);
  assert.equal(ledger.givenUp, 1);
});

/** A holder of one run of items under one ticket (grown, shrunk item by item), as the outbox is. */
class Run implements BudgetHolder {
  ticket = 0;
  sizes: number[] = [];
  lost = 0;
  constructor(private readonly ledger: MemoryLedger) {}
  add(bytes: number): void {
    this.sizes.push(bytes);
    if (this.ticket === 0) this.ticket = this.ledger.charge(this, bytes);
    else this.ledger.grow(bytes);
  }
  pop(): void {
    this.ledger.shrink(this.sizes.shift()!);
    if (this.sizes.length === 0) this.end();
  }
  private end(): void {
    this.ticket = 0;
    this.ledger.release(0);
  }
  holds(t: number): boolean {
    return t === this.ticket && t !== 0;
  }
  giveUp(t: number): void {
    assert.equal(t, this.ticket);
    this.lost += this.sizes.length;
    while (this.sizes.length > 0) this.pop();
  }
}

test('MemoryLedger: grow and shrink under one ticket; past the capacity the oldest ticket goes, the growing run too when it is the oldest', () => {
  const ledger = new MemoryLedger(1000);
  const a = new Run(ledger);
  const b = new Fifo(ledger);
  a.add(200);
  b.add(300);
  a.add(200);
  a.add(200); // 900
  assert.equal(ledger.used, 900);
  a.pop();
  assert.equal(ledger.used, 700);
  a.add(400); // 1100: a's ticket is the oldest: its whole run goes (3 items), b stays
  assert.equal(a.lost, 3);
  assert.equal(b.lost.length, 0);
  assert.equal(ledger.used, 300);
  a.add(600); // a new ticket, younger than b's: fits (900)
  b.add(300); // 1200: b's older item goes first, then it fits
  assert.equal(b.lost.length, 1);
  assert.equal(a.lost, 3);
  assert.equal(ledger.used, 900);
  a.pop();
  b.pop();
  assert.equal(ledger.used, 0);
});

test('MemoryLedger: a flood of charges answered at once keeps its queue small (compaction), and used stays exact', () => {
  const ledger = new MemoryLedger(1 << 30);
  const a = new Fifo(ledger);
  const keep = new Fifo(ledger);
  keep.add(10); // held for ever: released tickets pile up behind it until compaction
  for (let i = 0; i < 200_000; i++) {
    a.add(100);
    a.pop();
  }
  assert.equal(ledger.used, 10);
  const queued = (ledger as unknown as { tickets: number[]; head: number });
  assert.ok(queued.tickets.length - queued.head < 10_000, `${queued.tickets.length - queued.head} tickets queued`);
  // and the one held is still the first given up
  const small = new MemoryLedger(50);
  const x = new Fifo(small);
  x.add(40);
  x.add(40);
  assert.equal(x.lost.length, 1);
});

test('memoryShares: the default limit splits into the documented shares, every share a fraction of the limit', () => {
  const s = memoryShares(DEFAULT_MEMORY_LIMIT_MB * 1024 * 1024);
  const MiB = 1024 * 1024;
  assert.deepEqual([s.reassembly, s.connections, s.session, s.rows].map((b) => Math.round(b / MiB)), [52, 78, 52, 26]);
  assert.ok(s.reassembly + s.connections + s.session + s.rows < s.limit / 2);
});

const T0 = 1_700_000_000_000_000;

/** `conns` connections that each send `perConn` Query messages (`sql`) the server never answers. */
function unansweredQueries(conns: number, perConn: number, sql: string): Buffer[] {
  const frames: Buffer[] = [];
  const one = query(sql);
  for (let c = 0; c < conns; c++) {
    const cport = 20000 + c;
    const cli = '10.9.' + (c >> 8) + '.' + (c & 255);
    let cseq = 1000;
    frames.push(tcpFrame({ src: cli, dst: '10.9.255.1', sport: cport, dport: 5432, seq: cseq++, flags: TCP_SYN }));
    frames.push(tcpFrame({ src: '10.9.255.1', dst: cli, sport: 5432, dport: cport, seq: 5000, ack: cseq, flags: TCP_SYN | TCP_ACK }));
    const st = startup({ user: 'u', database: 'd' });
    frames.push(tcpFrame({ src: cli, dst: '10.9.255.1', sport: cport, dport: 5432, seq: cseq, flags: TCP_PSH | TCP_ACK, payload: st }));
    cseq += st.length;
    const ok = Buffer.concat([authentication(0), readyForQuery()]);
    frames.push(tcpFrame({ src: '10.9.255.1', dst: cli, sport: 5432, dport: cport, seq: 5001, flags: TCP_PSH | TCP_ACK, payload: ok }));
  }
  // then the queries, interleaved over the connections, 100 to a segment
  const batch = Buffer.concat(Array.from({ length: 100 }, () => one));
  for (let sent = 0; sent < perConn; sent += 100) {
    for (let c = 0; c < conns; c++) {
      const cport = 20000 + c;
      const cli = '10.9.' + (c >> 8) + '.' + (c & 255);
      const st = startup({ user: 'u', database: 'd' });
      const seq = 1001 + st.length + sent * one.length;
      frames.push(tcpFrame({ src: cli, dst: '10.9.255.1', sport: cport, dport: 5432, seq, flags: TCP_PSH | TCP_ACK, payload: batch }));
    }
  }
  return frames;
}

test('unanswered requests on many connections: the session share holds, the oldest are given up first, each reported', async () => {
  const conns = 200;
  const perConn = 500; // 100,000 requests
  const budget = memoryBudget(128 * 1024 * 1024);
  const per = requestBytes({ kind: 'query', sql: '', pieces: [], index: 0, exec: null, last: null, failed: false, firstFrame: 0, reqTimeUs: 0, seq: 0 }, 5);
  const fit = Math.floor(budget.shares.session / per);
  assert.ok(fit < conns * perConn / 2, `the share holds ${fit} requests: the test must exceed it`);
  const frames = unansweredQueries(conns, perConn, '');
  const recs: OutRecord[] = [];
  let maxUsed = 0;
  const p = new PacketPipeline({ record: (r) => { recs.push(r); } }, { messages: false, memoryLimitMb: 128 });
  frames.forEach((data, i) => {
    p.packet({ frame: i + 1, timeUs: T0 + i * 10, linkType: 1, data, origLen: data.length, interfaceId: 0, fileOffset: -1 });
    maxUsed = Math.max(maxUsed, p.budget.session.used);
  });
  await p.finish();
  assert.ok(maxUsed <= p.budget.session.capacity, `${maxUsed} bytes held, share ${p.budget.session.capacity}`);
  assert.equal(p.budget.session.used, 0, 'every charge released at the end');
  const queries = recs.filter((r) => r.kind === 'query');
  assert.equal(queries.length, conns * perConn, 'every request has its record');
  assert.ok(queries.every((q) => q.incomplete === true));
  const limits = recs.filter((r) => r.kind === 'anomaly' && r.code === 'memory-limit');
  assert.ok(limits.length > 0 && limits.length <= conns, `${limits.length} memory-limit anomalies`);
  const sessionsWithLimit = new Set(limits.map((a) => a.session));
  assert.equal(sessionsWithLimit.size, limits.length, 'one memory-limit anomaly per session');
  for (const a of limits) assert.equal(typeof a.frame, 'number');
  // the oldest went first: records of given-up requests came out before the end of the capture,
  // in the order the requests were sent (their firstFrame never goes down)
  const early = queries.slice(0, conns * perConn - fit - conns);
  let prev = 0;
  for (const q of early) {
    assert.ok((q.firstFrame as number) >= prev, 'given up oldest first');
    prev = q.firstFrame as number;
  }
});

test('prepared statements never closed on many connections: the share holds, the oldest are forgotten, reported', async () => {
  const frames: Buffer[] = [];
  const conns = 50;
  for (let c = 0; c < conns; c++) {
    const cport = 30000 + c;
    let cseq = 1000;
    frames.push(tcpFrame({ src: '10.8.0.1', dst: '10.8.0.2', sport: cport, dport: 5432, seq: cseq++, flags: TCP_SYN }));
    frames.push(tcpFrame({ src: '10.8.0.2', dst: '10.8.0.1', sport: 5432, dport: cport, seq: 5000, ack: cseq, flags: TCP_SYN | TCP_ACK }));
    const st = startup({ user: 'u', database: 'd' });
    frames.push(tcpFrame({ src: '10.8.0.1', dst: '10.8.0.2', sport: cport, dport: 5432, seq: cseq, flags: TCP_PSH | TCP_ACK, payload: st }));
    cseq += st.length;
    // 100 statements of 2 KB of SQL each (and their Parse requests): about 0.85 MB a connection, 42 MB over all
    const sql = 'select ' + 'x'.repeat(2000);
    for (let i = 0; i < 100; i += 20) {
      const b = Buffer.concat(Array.from({ length: 20 }, (_, k) => parse(`s${i + k}`, sql)));
      frames.push(tcpFrame({ src: '10.8.0.1', dst: '10.8.0.2', sport: cport, dport: 5432, seq: cseq, flags: TCP_PSH | TCP_ACK, payload: b }));
      cseq += b.length;
    }
  }
  const recs = await collectFrames(frames, T0, { messages: false, memoryLimitMb: 128 });
  const limits = recs.filter((r) => r.kind === 'anomaly' && r.code === 'memory-limit');
  assert.ok(limits.length > conns / 2, `${limits.length} memory-limit anomalies`);
  // the first connections lost theirs (the oldest), not the last one
  assert.ok(limits.some((a) => a.session === 0));
  assert.ok(!limits.some((a) => a.session === conns - 1));
});

test('--rows: a byte budget per query as well as the row count: int8 arrays stop being kept past MAX_KEPT_ROW_BYTES, with row-limit', async () => {
  const frames: Buffer[] = [];
  let cseq = 1000;
  let sseq = 5000;
  const c = (payload: Buffer): void => {
    frames.push(tcpFrame({ src: '10.6.0.1', dst: '10.6.0.2', sport: 40000, dport: 5432, seq: cseq, flags: TCP_PSH | TCP_ACK, payload }));
    cseq += payload.length;
  };
  const s = (payload: Buffer): void => {
    // a row of 200 KB: in pieces that fit a frame
    for (let off = 0; off < payload.length; off += 60_000) {
      const part = payload.subarray(off, off + 60_000);
      frames.push(tcpFrame({ src: '10.6.0.2', dst: '10.6.0.1', sport: 5432, dport: 40000, seq: sseq, flags: TCP_PSH | TCP_ACK, payload: part }));
      sseq += part.length;
    }
  };
  frames.push(tcpFrame({ src: '10.6.0.1', dst: '10.6.0.2', sport: 40000, dport: 5432, seq: cseq++, flags: TCP_SYN }));
  frames.push(tcpFrame({ src: '10.6.0.2', dst: '10.6.0.1', sport: 5432, dport: 40000, seq: sseq++, ack: cseq, flags: TCP_SYN | TCP_ACK }));
  c(startup({ user: 'u', database: 'd' }));
  s(Buffer.concat([authentication(0), readyForQuery()]));
  const rows = 40;
  c(query('SELECT array_fill(1::int8, ARRAY[100000]) FROM generate_series(1, 40)'));
  s(rowDescription([{ name: 'a', typeOid: 1016 }]));
  const arr = '{' + Array.from({ length: 100_000 }, () => '1').join(',') + '}';
  for (let i = 0; i < rows; i++) s(dataRow([arr]));
  s(Buffer.concat([commandComplete(`SELECT ${rows}`), readyForQuery()]));
  const recs = await collectFrames(frames, T0, { messages: false, keepRows: true });
  const q = recs.find((r) => r.kind === 'query')!;
  assert.equal(q.rowsReturned, rows, 'every row still counted');
  assert.equal(q.rowValuesTruncated, true);
  const kept = (q.rowValues as unknown[][]).length;
  assert.ok(kept >= 1 && kept < rows, `${kept} rows kept`);
  // what was kept is within the per-query budget, by the same estimate
  let bytes = 0;
  for (const row of q.rowValues as PgValue[][]) bytes += 32 + 8 * row.length + row.reduce((n: number, v) => n + valueBytes(v), 0);
  assert.ok(bytes <= MAX_KEPT_ROW_BYTES, `${bytes} bytes kept`);
  const limit = recs.filter((r) => r.kind === 'anomaly' && r.code === 'row-limit');
  assert.equal(limit.length, 1);
  assert.ok((limit[0]!.skipped as number) > 0);
  assert.match(limit[0]!.reason as string, /^\d+ DataRow\(s\) past the limit on kept rows/);
});
