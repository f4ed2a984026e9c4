/**
 * The session layer's limits, each reached through the whole pipeline and reported as an
 * anomaly record while decoding goes on:
 *  - kept rows (keepRows: query records that carry DataRow values, at most MAX_KEPT_ROWS): one
 *    row-limit per query that reached it, with the frame of the first row dropped, how many
 *    rows were dropped and their bytes; the rows are still counted;
 *  - requests waiting for an answer (MAX_PENDING) and prepared statements kept (MAX_STATEMENTS):
 *    request-limit and statement-limit, once per session.
 * The other limits (largest message, buffered bytes per direction and in total, open
 * connections) are reached in test/memory-limits.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnalyzeOptions } from '../src/pipeline/analyze.js';
import type { OutRecord } from '../src/pipeline/events.js';
import { MAX_KEPT_ROWS } from '../src/session/execution.js';
import { MAX_PENDING } from '../src/session/request-queue.js';
import { MAX_STATEMENTS } from '../src/session/statements.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { tcpFrame } from './helpers/build-packets.js';
import { collectFrames } from './helpers/run-pipeline.js';
import { authentication, commandComplete, dataRow, parse, query, readyForQuery, rowDescription, startup } from './helpers/pg-builder.js';

const T0 = 1_700_000_000_000_000;
const CLIENT = '10.7.0.1';
const SERVER = '10.7.0.2';

/** One connection's frames; the frame number of each pushed frame is its index + 1. */
class Conv {
  private cseq = 1000;
  private sseq = 5000;
  readonly frames: Buffer[] = [];
  constructor(private readonly cport: number) {
    this.frames.push(tcpFrame({ src: CLIENT, dst: SERVER, sport: cport, dport: 5432, seq: this.cseq, flags: TCP_SYN }));
    this.frames.push(tcpFrame({ src: SERVER, dst: CLIENT, sport: 5432, dport: cport, seq: this.sseq, ack: this.cseq + 1, flags: TCP_SYN | TCP_ACK }));
    this.cseq++;
    this.sseq++;
    this.c(startup({ user: 'u', database: 'd' })).s(Buffer.concat([authentication(0), readyForQuery()]));
  }
  c(payload: Buffer): this {
    this.frames.push(tcpFrame({ src: CLIENT, dst: SERVER, sport: this.cport, dport: 5432, seq: this.cseq, flags: TCP_PSH | TCP_ACK, payload }));
    this.cseq += payload.length;
    return this;
  }
  s(payload: Buffer): this {
    this.frames.push(tcpFrame({ src: SERVER, dst: CLIENT, sport: 5432, dport: this.cport, seq: this.sseq, flags: TCP_PSH | TCP_ACK, payload }));
    this.sseq += payload.length;
    return this;
  }
  /** A SELECT answered with `n` one-column rows, one row per frame. */
  select(n: number): this {
    this.c(query(`SELECT g FROM generate_series(1, ${n}) g`)).s(rowDescription([{ name: 'g', typeOid: 23 }]));
    for (let i = 0; i < n; i++) this.s(dataRow([String(i)]));
    return this.s(Buffer.concat([commandComplete(`SELECT ${n}`), readyForQuery()]));
  }
  fin(): this {
    this.frames.push(tcpFrame({ src: CLIENT, dst: SERVER, sport: this.cport, dport: 5432, seq: this.cseq, flags: TCP_FIN | TCP_ACK }));
    this.frames.push(tcpFrame({ src: SERVER, dst: CLIENT, sport: 5432, dport: this.cport, seq: this.sseq, flags: TCP_FIN | TCP_ACK }));
    return this;
  }
}

function run(frames: Buffer[], opts: AnalyzeOptions): Promise<OutRecord[]> {
  return collectFrames(frames, T0, opts);
}

test('rows kept: past MAX_KEPT_ROWS, one row-limit anomaly per query with the first dropped frame, rows and bytes dropped', async () => {
  const dropped = 250;
  const c = new Conv(41001);
  const firstRowFrame = c.frames.length + 3; // after the Query and RowDescription frames
  c.select(MAX_KEPT_ROWS + dropped);
  c.select(10); // under the limit: no anomaly
  const secondBig = c.frames.length + 3;
  c.select(MAX_KEPT_ROWS + 1);
  c.fin();
  const records = await run(c.frames, { keepRows: true, messages: false });
  const limits = records.filter((r) => r.kind === 'anomaly' && r.code === 'row-limit');
  assert.equal(limits.length, 2, JSON.stringify(limits));
  const [a, b] = limits as Array<OutRecord & { reason: string; skipped?: number; dir?: string }>;
  assert.equal(a!.frame, firstRowFrame + MAX_KEPT_ROWS);
  assert.equal(a!.session, 0);
  assert.equal(a!.dir, 'backend');
  assert.match(a!.reason, new RegExp(`^${dropped} DataRow\\(s\\) past the limit on kept rows \\(${MAX_KEPT_ROWS} rows`));
  // every dropped row is a DataRow of 1 column: type byte, length, count, column length, digits
  const rowBytes = (i: number): number => 1 + 4 + 2 + 4 + String(i).length;
  let want = 0;
  for (let i = MAX_KEPT_ROWS; i < MAX_KEPT_ROWS + dropped; i++) want += rowBytes(i);
  assert.equal(a!.skipped, want);
  assert.equal(b!.frame, secondBig + MAX_KEPT_ROWS);
  assert.match(b!.reason, /^1 DataRow\(s\)/);

  const queries = records.filter((r) => r.kind === 'query');
  assert.equal(queries.length, 3);
  assert.equal(queries[0]!.rows, MAX_KEPT_ROWS + dropped, 'dropped rows are still counted');
  assert.equal((queries[0]!.rowValues as unknown[]).length, MAX_KEPT_ROWS);
  assert.equal(queries[0]!.rowValuesTruncated, true);
  assert.equal(queries[1]!.rowValuesTruncated, false);
  // the anomaly comes when the query is complete, before its record (which waits for ReadyForQuery)
  assert.ok(records.indexOf(a!) < records.indexOf(queries[0]!));
  const session = records.find((r) => r.kind === 'session')!;
  assert.equal(session.anomalies, 2);
});

test('rows kept: without keepRows nothing is kept, so no row-limit anomaly', async () => {
  const c = new Conv(41002).select(MAX_KEPT_ROWS + 5).fin();
  const records = await run(c.frames, { messages: false });
  assert.equal(records.filter((r) => r.kind === 'anomaly').length, 0);
  assert.equal(records.find((r) => r.kind === 'query')!.rows, MAX_KEPT_ROWS + 5);
});

test('requests never answered and statements never closed: request-limit and statement-limit, once each', async () => {
  const n = Math.max(MAX_PENDING, MAX_STATEMENTS) + 500;
  const c = new Conv(41003);
  // n Parse messages of distinct statements, 400 to a segment, that the server never answers
  const frameOf = new Map<number, number>();
  for (let i = 0; i < n; i += 400) {
    const batch: Buffer[] = [];
    for (let k = i; k < Math.min(n, i + 400); k++) {
      batch.push(parse(`s${k}`, `select ${k}`));
      frameOf.set(k, c.frames.length + 1);
    }
    c.c(Buffer.concat(batch));
  }
  c.fin();
  const records = await run(c.frames, { messages: false });
  const anomalies = records.filter((r) => r.kind === 'anomaly');
  assert.deepEqual(anomalies.map((a) => a.code).sort(), ['request-limit', 'statement-limit'], JSON.stringify(anomalies));
  const req = anomalies.find((a) => a.code === 'request-limit')!;
  const stmt = anomalies.find((a) => a.code === 'statement-limit')!;
  // the request past the cap, and the statement past the cap, pushed out the oldest
  assert.equal(req.frame, frameOf.get(MAX_PENDING));
  assert.equal(stmt.frame, frameOf.get(MAX_STATEMENTS));
  assert.equal(req.session, 0);
  const session = records.find((r) => r.kind === 'session')!;
  assert.equal(session.anomalies, 2);
});
