/**
 * Issue 13: when the memory budget (core/budget.ts) gives up requests waiting for their answers,
 * or statements and portals, the answers that come later are never paired with the wrong
 * request unmarked. Every sample made from a real server (TLS ones aside: without their key
 * log nothing pairs) is read with the session share of the budget cut to a few requests, so
 * that requests of every session are given up while their answers are on the way, and compared
 * with the run under the default budget: every query record is equal (sql, command, rows,
 * error, skipped) or marked incomplete, and pairing resumes after each give-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import type { Packet } from '../src/capture/packet.js';
import { MemoryLedger } from '../src/core/budget.js';
import { PacketPipeline } from '../src/pipeline/analyze.js';
import type { QueryRecord } from '../src/session/schema.js';
import { sampleCaptures } from './helpers/public-captures.js';
import { compare, loadCapture, queryRecords } from './helpers/loss-compare.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { BASE_TIME_US, tcpFrame } from './helpers/build-packets.js';
import {
  authentication, bind, commandComplete, dataRow, errorResponse, execute, parse, query, readyForQuery, rowDescription, sync,
} from './helpers/pg-builder.js';
import { startupMessage } from './helpers/hostile-captures.js';

/** Session share sizes (bytes): a few requests' worth (REQUEST_OVERHEAD is 320 a request). */
const CAPACITIES = [700, 1500, 4000];

async function tightRecords(packets: readonly Packet[], capacity: number): Promise<{ records: QueryRecord[]; givenUp: number }> {
  const out: QueryRecord[] = [];
  const p = new PacketPipeline({ record: (r) => { if (r.kind === 'query') out.push(r as unknown as QueryRecord); } }, { messages: false });
  // Trackers take the ledger when their connection starts: before the first packet.
  p.budget.session = new MemoryLedger(capacity);
  for (const pkt of packets) p.packet(pkt);
  await p.finish();
  return { records: out, givenUp: p.budget.session.givenUp };
}

let totalGivenUp = 0;
let totalLimit = 0;
let totalEqual = 0;

for (const path of sampleCaptures()) {
  const name = basename(path);
  if (name.startsWith('tls-')) continue;
  test(`budget give-up: ${name}: every query record equal or marked`, async () => {
    const c = await loadCapture(path);
    const clean = await queryRecords(c.packets);
    const failures: string[] = [];
    for (const capacity of CAPACITIES) {
      const { records, givenUp } = await tightRecords(c.packets, capacity);
      const v = compare(clean, records);
      totalGivenUp += givenUp;
      totalLimit += records.filter((r) => r.incompleteReason === 'limit').length;
      totalEqual += v.equal;
      if (v.wrong > 0) failures.push(`${capacity} bytes (${givenUp} given up): ${v.wrong} wrong, e.g. ${v.examples.join('; ')}`);
    }
    assert.deepEqual(failures, [], 'records paired with another request\'s answers, unmarked');
  });
}

test('budget give-up: the tight budgets did give requests up, marked them "limit", and pairing resumed', () => {
  assert.ok(totalGivenUp > 100, `${totalGivenUp} items given up`);
  assert.ok(totalLimit > 50, `${totalLimit} records marked "limit"`);
  assert.ok(totalEqual > totalLimit, `${totalEqual} records equal to the default budget's`);
});

/** One TCP connection of a generated capture: frames appended in time order to `frames`. */
class Conn {
  private feSeq = 1001;
  private beSeq = 5001;
  constructor(private readonly frames: Packet[], private readonly port: number, private readonly clock: { t: number }) {
    this.frame(true, TCP_SYN, Buffer.alloc(0), 1000, 0);
    this.frame(false, TCP_SYN | TCP_ACK, Buffer.alloc(0), 5000, 1001);
    this.fe(startupMessage());
    this.be(Buffer.concat([authentication(0), readyForQuery()]));
  }

  private frame(fromClient: boolean, flags: number, payload: Buffer, seq: number, ack: number): void {
    const ends = fromClient
      ? { src: '10.0.0.1', dst: '10.0.0.2', sport: this.port, dport: 5432 }
      : { src: '10.0.0.2', dst: '10.0.0.1', sport: 5432, dport: this.port };
    const data = tcpFrame({ ...ends, seq, ack, flags, payload });
    this.clock.t += 10;
    this.frames.push({ frame: this.frames.length + 1, timeUs: this.clock.t, linkType: 1, data, origLen: data.length, interfaceId: 0, fileOffset: -1 });
  }

  fe(payload: Buffer): void {
    this.frame(true, TCP_PSH | TCP_ACK, payload, this.feSeq, this.beSeq);
    this.feSeq += payload.length;
  }

  be(payload: Buffer): void {
    this.frame(false, TCP_PSH | TCP_ACK, payload, this.beSeq, this.feSeq);
    this.beSeq += payload.length;
  }
}

/**
 * Request group k and its answer, told apart by their outcome: an extended-protocol UPDATE of k
 * rows, two simple SELECTs of k rows (DataRows: neighbours whose tags fit each other's SQL), or
 * an extended-protocol statement failing 22012.
 */
function group(k: number, simpleOnly = false): { request: Buffer; answer: Buffer; sql: string; command: string | null } {
  if (k % 4 === 0 && !simpleOnly) {
    const sql = `UPDATE t SET x = ${k} WHERE id <= ${k}`;
    return {
      sql, command: `UPDATE ${k}`,
      request: Buffer.concat([parse('', sql), bind('', '', []), execute(''), sync()]),
      answer: Buffer.concat([Buffer.from('1\0\0\0\x04', 'latin1'), Buffer.from('2\0\0\0\x04', 'latin1'), commandComplete(`UPDATE ${k}`), readyForQuery()]),
    };
  }
  if (k % 4 === 1 || k % 4 === 2 || simpleOnly) {
    const sql = `SELECT generate_series(1, ${k})`;
    const rows = Array.from({ length: k }, (_, i) => dataRow([String(i + 1)]));
    return {
      sql, command: `SELECT ${k}`, request: query(sql),
      answer: Buffer.concat([rowDescription([{ name: 'g', typeOid: 23 }]), ...rows, commandComplete(`SELECT ${k}`), readyForQuery()]),
    };
  }
  const sql = `SELECT 1 / 0 AS k${k}`;
  return {
    sql, command: null,
    request: Buffer.concat([parse('', sql), bind('', '', []), execute(''), sync()]),
    answer: Buffer.concat([Buffer.from('1\0\0\0\x04', 'latin1'), Buffer.from('2\0\0\0\x04', 'latin1'),
      errorResponse({ S: 'ERROR', V: 'ERROR', C: '22012', M: 'division by zero' }), readyForQuery()]),
  };
}

test('budget give-up: pipelined requests of two sessions given up while their answers are on the way (generated): none paired with another\'s answer, pairing resumes', async () => {
  const packets: Packet[] = [];
  const clock = { t: BASE_TIME_US };
  const a = new Conn(packets, 40001, clock);
  const b = new Conn(packets, 40002, clock);
  const want = new Map<string, string | null>();
  let k = 1;
  for (let round = 0; round < 6; round++) {
    // Each client pipelines a burst (in one segment and several), then the answers come.
    // Client b sends simple Queries only (a client that never fails at Parse).
    const burst = (c: Conn, n: number, split: boolean) => {
      const gs = Array.from({ length: n }, () => group(k++, c === b));
      for (const g of gs) want.set(g.sql, g.command);
      if (split) for (const g of gs) c.fe(g.request);
      else c.fe(Buffer.concat(gs.map((g) => g.request)));
      return gs;
    };
    const ga = burst(a, 12, round % 2 === 0);
    const gb = burst(b, 9, round % 2 === 1);
    for (let i = 0; i < Math.max(ga.length, gb.length); i++) {
      if (i < ga.length) a.be(ga[i]!.answer);
      if (i < gb.length) b.be(gb[i]!.answer);
    }
  }
  // Afterwards one request at a time: nothing waits, nothing is given up, every record is right.
  const last: string[] = [];
  for (let i = 0; i < 6; i++) {
    const g = group(k++);
    want.set(g.sql, g.command);
    last.push(g.sql);
    a.fe(g.request);
    a.be(g.answer);
  }
  const clean = await queryRecords(packets);
  assert.equal(clean.filter((r) => r.incomplete).length, 0);
  for (const r of clean) assert.equal(r.command, want.get(r.sql!), `the generated capture pairs ${r.sql} under the default budget`);
  // Each at least one request group (Parse, Bind, Execute, Sync: about 1,600 bytes) can wait in.
  for (const capacity of [2500, 5000, 10000]) {
    const { records, givenUp } = await tightRecords(packets, capacity);
    assert.ok(givenUp > 10, `${capacity} bytes: ${givenUp} given up`);
    const wrong = records.filter((r) => !r.incomplete && (r.sql === null || want.get(r.sql) !== r.command || (r.command === null) !== (r.error !== null)));
    assert.deepEqual(wrong.map((r) => [r.sql, r.command, r.error?.sqlstate ?? null]), [], `${capacity} bytes`);
    const limit = records.filter((r) => r.incompleteReason === 'limit').length;
    assert.ok(limit > 0, `${capacity} bytes: records marked "limit"`);
    assert.ok(records.some((r) => !r.incomplete && !last.includes(r.sql ?? "")), `${capacity} bytes: some pipelined records complete between give-ups`);
    const tail = records.filter((r) => last.includes(r.sql ?? ''));
    assert.deepEqual(tail.map((r) => [r.sql, r.command, r.incomplete]), last.map((sql) => [sql, want.get(sql), false]), `${capacity} bytes: later records are right again`);
  }
});
