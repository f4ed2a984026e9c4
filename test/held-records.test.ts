/**
 * Query records held while their transaction block is open (src/session/outbox.ts) are charged
 * to the process-wide session budget (issue 19): thousands of connections that each BEGIN and
 * then run answered statements never committed must not grow memory past --memory-limit. Past
 * the share, the oldest waiting records of any session go out early with rollbackUnknown, and
 * each session that lost some says so once (memory-limit). Captures are generated here
 * (test/helpers/held-captures.ts); peak resident sizes are in docs/BENCHMARK.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketPipeline } from '../src/pipeline/analyze.js';
import type { OutRecord } from '../src/pipeline/events.js';
import type { QueryRecord } from '../src/session/schema.js';
import { TCP_ACK, TCP_PSH } from '../src/net/segment.js';
import { BASE_TIME_US, tcpFrame, type FrameRecord } from './helpers/build-packets.js';
import { commandComplete, query, readyForQuery } from './helpers/pg-builder.js';
import { openBlocks } from './helpers/held-captures.js';


test('open transaction blocks on many connections: held records stay within the session share, go out early with rollbackUnknown, reported once per session', async () => {
  const conns = 300;
  const perConn = 30;
  const frames = openBlocks(conns, perConn, 1000, 200);
  const recs: OutRecord[] = [];
  const p = new PacketPipeline({ record: (r) => { recs.push(r); } }, { messages: false, keepRows: true, memoryLimitMb: 128 });
  let maxUsed = 0;
  let earlyBeforeEnd = 0;
  frames.forEach((f, i) => {
    p.packet({ frame: i + 1, timeUs: f.timeUs!, linkType: 1, data: f.data, origLen: f.data.length, interfaceId: 0, fileOffset: -1 });
    maxUsed = Math.max(maxUsed, p.budget.session.used);
    if (i === frames.length - 1) earlyBeforeEnd = recs.filter((r) => r.kind === 'query').length;
  });
  await p.finish();
  const cap = p.budget.session.capacity;
  assert.ok(conns * perConn * 1000 > 2 * cap, 'the capture holds more SQL than the share: the test must exceed it');
  assert.ok(maxUsed <= cap, `${maxUsed} bytes held, share ${cap}`);
  assert.equal(p.budget.session.used, 0, 'every charge released at the end');
  assert.equal(p.budget.rows.used, 0, 'every kept row given back');
  const queries = recs.filter((r) => r.kind === 'query');
  assert.equal(queries.length, conns * (perConn + 1), 'every statement has its record');
  assert.ok(earlyBeforeEnd > conns * perConn / 2, `${earlyBeforeEnd} records written before the capture ended`);
  const selects = queries.filter((q) => q.command === 'SELECT 1');
  assert.equal(selects.length, conns * perConn);
  assert.ok(selects.every((q) => q.rollbackUnknown === true && q.rolledBack !== true), 'their block never ended: fate unknown');
  assert.ok(selects.every((q) => q.transactionStatus === 'transaction' || q.transactionStatus === null));
  const limits = recs.filter((r) => r.kind === 'anomaly' && r.code === 'memory-limit');
  assert.ok(limits.length > conns / 2 && limits.length <= conns, `${limits.length} memory-limit anomalies`);
  assert.equal(new Set(limits.map((a) => a.session)).size, limits.length, 'once per session');
  for (const a of limits) {
    assert.equal(typeof a.frame, 'number');
    assert.match(a.reason as string, /waiting for the end of their transaction/);
  }
});

test('a block that ends after the budget wrote some of its records: the records still held are marked rolled back, the ones written stay unknown', async () => {
  // One session: BEGIN, 40 statements of 20 KB (800 KB: over a 4 MiB share only with others), so
  // here a second session floods the share first and then the first one rolls back.
  const frames = openBlocks(2, 300, 20_000, 10);
  const tailFrames: FrameRecord[] = [];
  // the first connection's ROLLBACK: its sequence numbers, read back from the frames built
  let cseq = 0;
  let sseq = 0;
  for (const f of frames) {
    const d = f.data;
    const sport = d.readUInt16BE(34);
    const dport = d.readUInt16BE(36);
    const seq = d.readUInt32BE(38);
    const len = d.readUInt16BE(16) - 40;
    if (sport === 30000 && dport === 5432) cseq = Math.max(cseq, seq + len);
    if (sport === 5432 && dport === 30000) sseq = Math.max(sseq, seq + len);
  }
  const fe = { src: '10.20.0.0', dst: '10.20.255.1', sport: 30000, dport: 5432 };
  const be = { src: '10.20.255.1', dst: '10.20.0.0', sport: 5432, dport: 30000 };
  tailFrames.push({ data: tcpFrame({ ...fe, seq: cseq, flags: TCP_PSH | TCP_ACK, payload: query('ROLLBACK') }), timeUs: BASE_TIME_US + 10_000_000 });
  tailFrames.push({ data: tcpFrame({ ...be, seq: sseq, flags: TCP_PSH | TCP_ACK, payload: Buffer.concat([commandComplete('ROLLBACK'), readyForQuery()]) }), timeUs: BASE_TIME_US + 10_000_001 });
  const all = [...frames, ...tailFrames];
  const recs: OutRecord[] = [];
  const p = new PacketPipeline({ record: (r) => { recs.push(r); } }, { messages: false, memoryLimitMb: 128 });
  all.forEach((f, i) => p.packet({ frame: i + 1, timeUs: f.timeUs!, linkType: 1, data: f.data, origLen: f.data.length, interfaceId: 0, fileOffset: -1 }));
  await p.finish();
  const first = recs.filter((r): r is QueryRecord => r.kind === 'query' && r.command === 'SELECT 1' && (r.sql as string).startsWith('SELECT /* 0.'));
  assert.equal(first.length, 300);
  const unknown = first.filter((q) => q.rollbackUnknown === true);
  const rolled = first.filter((q) => q.rolledBack === true);
  assert.ok(unknown.length > 0, 'the budget wrote some early');
  assert.ok(rolled.length > 0, 'those still held when the ROLLBACK came are marked');
  assert.equal(unknown.length + rolled.length, 300);
  assert.ok(first.every((q) => !(q.rollbackUnknown === true && q.rolledBack === true)));
});
