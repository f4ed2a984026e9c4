/**
 * Issue 19 and issue 13 section 1 at the flow table: hostile shapes, each generated here.
 * Assertions are on bytes held and on what is delivered, never on time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTable } from '../src/reassembly/flow-table.js';
import { CONNECTION_BYTES, OPENED_CONNECTION_BYTES } from '../src/reassembly/limits.js';
import type { ConnectionInfo, StreamConsumer } from '../src/reassembly/types.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { Recorder, tcpSeg } from './helpers/reassembly-recorder.js';

const SYN = TCP_SYN;
const DATA = TCP_PSH | TCP_ACK;

test('many connections: a SYN-only connection opens no consumer sink until it closes', () => {
  let opened = 0;
  const rec = new Recorder();
  const consumer: StreamConsumer = { open: (info: ConnectionInfo) => { opened++; return rec.open(info); } };
  const ft = new FlowTable(consumer, rec.onAnomaly);
  for (let i = 0; i < 2000; i++) ft.segment(tcpSeg({ seq: 100, flags: SYN, clientPort: 10000 + i }, i + 1));
  assert.equal(opened, 0, 'no PostgreSQL state for connections that carried no byte');
  assert.equal(ft.connectionBytesCharged, 2000 * CONNECTION_BYTES);
  // The first byte opens it.
  ft.segment(tcpSeg({ seq: 101, flags: DATA, clientPort: 10000, data: 'x' }, 2001));
  assert.equal(opened, 1);
  assert.equal(ft.connectionBytesCharged, 2000 * CONNECTION_BYTES + OPENED_CONNECTION_BYTES);
  ft.finish(2002, 3_000_000);
  // Every connection still ends with a close (session records downstream are unchanged).
  assert.equal(opened, 2000);
  assert.equal(rec.conns.filter((c) => c.end?.reason === 'capture-end').length, 2000);
});

test('many connections: the connection limit is a byte budget; past it the idlest is closed with connection-limit', () => {
  const budget = 200 * CONNECTION_BYTES;
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly, { maxConnectionBytes: budget });
  let peak = 0;
  for (let i = 0; i < 3000; i++) {
    const port = 10000 + i;
    ft.segment(tcpSeg({ seq: 100, flags: SYN, clientPort: port }, 2 * i + 1));
    // Half of them carry a startup packet: they cost more and count against the same budget.
    if (i % 2 === 0) ft.segment(tcpSeg({ seq: 101, flags: DATA, clientPort: port, data: 'startup' }, 2 * i + 2));
    peak = Math.max(peak, ft.connectionBytesCharged);
  }
  assert.ok(peak <= budget, `charged ${peak} over the ${budget}-byte budget`);
  assert.ok(ft.connections < 200);
  const limited = rec.anomalies.filter((a) => a.code === 'connection-limit');
  assert.ok(limited.length > 2500, `${limited.length} connection-limit anomalies`);
  assert.match(limited[0]!.reason, /byte budget/);
  ft.finish(10_000, 10_000_000);
  assert.equal(rec.conns.filter((c) => c?.end).length, 3000, 'every connection, evicted or not, was closed once');
});
