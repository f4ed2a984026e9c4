/**
 * Every limit of the pipeline is reached on purpose and must be reported, never crash and never
 * let a buffer grow past it: the largest message (DEFAULT_MAX_MESSAGE, or the maxMessage
 * option), out-of-order bytes per direction and in total, and open connections
 * (src/reassembly/limits.ts); rows kept in a query record (src/session). Then a long synthetic
 * capture streams through PacketPipeline with RSS sampled: memory must not follow its length.
 *
 * Packets are built in memory (test/helpers/build-packets.ts) and pushed straight into the
 * pipeline, so the test measures the pipeline, not a file reader.
 */
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import assert from 'node:assert/strict';
import type { Packet } from '../src/capture/packet.js';
import { PacketPipeline, DEFAULT_MAX_MESSAGE, type AnalyzeOptions } from '../src/pipeline/analyze.js';
import type { OutRecord, PipelineSink } from '../src/pipeline/events.js';
import { DEFAULT_FLOW_TABLE_OPTIONS } from '../src/reassembly/limits.js';
import { MAX_KEPT_ROWS } from '../src/session/execution.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { tcpFrame } from './helpers/build-packets.js';
import { collectFrames } from './helpers/run-pipeline.js';
import { commandComplete, dataRow, msg, query, readyForQuery, rowDescription, startup, authentication } from './helpers/pg-builder.js';

const T0 = 1_700_000_000_000_000;

/** One TCP connection's packets, with sequence numbers kept per direction. */
class Conv {
  private cseq = 1000;
  private sseq = 5000;
  readonly packets: Buffer[] = [];
  constructor(readonly cport: number, readonly client = '10.9.0.1', readonly server = '10.9.0.2', readonly sport = 5432) {}
  handshake(): this {
    this.packets.push(tcpFrame({ src: this.client, dst: this.server, sport: this.cport, dport: this.sport, seq: this.cseq, flags: TCP_SYN }));
    this.packets.push(tcpFrame({ src: this.server, dst: this.client, sport: this.sport, dport: this.cport, seq: this.sseq, ack: this.cseq + 1, flags: TCP_SYN | TCP_ACK }));
    this.cseq++;
    this.sseq++;
    return this;
  }
  c(payload: Buffer): this {
    this.packets.push(tcpFrame({ src: this.client, dst: this.server, sport: this.cport, dport: this.sport, seq: this.cseq, flags: TCP_PSH | TCP_ACK, payload }));
    this.cseq += payload.length;
    return this;
  }
  s(payload: Buffer): this {
    this.packets.push(tcpFrame({ src: this.server, dst: this.client, sport: this.sport, dport: this.cport, seq: this.sseq, flags: TCP_PSH | TCP_ACK, payload }));
    this.sseq += payload.length;
    return this;
  }
  /** Server bytes that leave a hole of `hole` bytes before them (never filled). */
  sAfterHole(hole: number, payload: Buffer): this {
    this.sseq += hole;
    return this.s(payload);
  }
  login(): this {
    return this.handshake().c(startup({ user: 'u', database: 'd' })).s(Buffer.concat([authentication(0), readyForQuery()]));
  }
  fin(): this {
    this.packets.push(tcpFrame({ src: this.client, dst: this.server, sport: this.cport, dport: this.sport, seq: this.cseq, flags: TCP_FIN | TCP_ACK }));
    this.packets.push(tcpFrame({ src: this.server, dst: this.client, sport: this.sport, dport: this.cport, seq: this.sseq, flags: TCP_FIN | TCP_ACK }));
    return this;
  }
}

interface Run {
  records: OutRecord[];
  codes: Map<string, number>;
}

async function run(frames: Buffer[], opts: AnalyzeOptions = {}): Promise<Run> {
  const records = await collectFrames(frames, T0, opts);
  const codes = new Map<string, number>();
  for (const r of records) if (r.kind === 'anomaly') codes.set(r.code as string, (codes.get(r.code as string) ?? 0) + 1);
  return { records, codes };
}

function rowsOf(n: number, size: number): Buffer {
  const v = 'x'.repeat(size);
  return Buffer.concat(Array.from({ length: n }, () => dataRow([v])));
}

test('limits are documented where the README quotes them', () => {
  assert.equal(DEFAULT_MAX_MESSAGE, 64 * 1024 * 1024);
  assert.equal(DEFAULT_FLOW_TABLE_OPTIONS.maxBufferedPerDirection, 4 * 1024 * 1024);
  assert.equal(DEFAULT_FLOW_TABLE_OPTIONS.maxBufferedTotal, 64 * 1024 * 1024);
  assert.equal(DEFAULT_FLOW_TABLE_OPTIONS.maxConnections, 100_000);
  assert.equal(MAX_KEPT_ROWS, 1000);
});

test('largest message, default limit: a declared 64 MiB + 1 is skipped with message-too-large, and decoding goes on', async () => {
  const huge = Buffer.alloc(5);
  huge[0] = 0x44; // 'D'
  huge.writeInt32BE(DEFAULT_MAX_MESSAGE + 1, 1);
  const c = new Conv(40001).login().c(query('SELECT 1')).s(huge).fin();
  const r = await run(c.packets);
  assert.equal(r.codes.get('message-too-large'), 1, JSON.stringify([...r.codes]));
  const a = r.records.find((x) => x.kind === 'anomaly' && x.code === 'message-too-large')!;
  assert.equal(typeof a.frame, 'number');
  assert.equal(a.session, 0);
});

test('largest message, lowered limit: a real 200 KiB DataRow over 64 KiB is skipped and the messages after it decode', async () => {
  const big = dataRow(['y'.repeat(200 * 1024)]);
  const c = new Conv(40002).login().c(query('SELECT big'));
  c.s(rowDescription([{ name: 'v', typeOid: 25 }]));
  for (let i = 0; i < big.length; i += 16384) c.s(big.subarray(i, i + 16384));
  c.s(Buffer.concat([commandComplete('SELECT 1'), readyForQuery()])).c(query('SELECT 2')).s(Buffer.concat([commandComplete('SELECT 0'), readyForQuery()])).fin();
  const r = await run(c.packets, { maxMessage: 64 * 1024 });
  assert.equal(r.codes.get('message-too-large'), 1, JSON.stringify([...r.codes]));
  const types = r.records.filter((x) => x.kind === 'message').map((x) => x.type);
  assert.ok(types.includes('RowDescription'));
  assert.ok(!types.includes('DataRow'), 'the oversized DataRow was not buffered into a record');
  assert.equal(types.filter((t) => t === 'CommandComplete').length, 2);
  assert.equal(types.filter((t) => t === 'Query').length, 2);
});

test('buffered bytes per direction: past the cap the hole is given up (buffer-limit + gap), bytes never held beyond it', async () => {
  const cap = 64 * 1024;
  const c = new Conv(40003).login().c(query('SELECT 1'));
  // A 1000-byte hole that never fills, then 256 KiB of server bytes waiting behind it.
  c.sAfterHole(1000, rowsOf(16, 1000));
  for (let i = 0; i < 15; i++) c.s(rowsOf(16, 1000));
  c.fin();
  const r = await run(c.packets, { reassembly: { maxBufferedPerDirection: cap } });
  assert.ok((r.codes.get('buffer-limit') ?? 0) >= 1, JSON.stringify([...r.codes]));
  assert.ok((r.codes.get('gap') ?? 0) >= 1);
});

test('buffered bytes in total: many directions each under their cap, together over the total, raise buffer-limit', async () => {
  const frames: Buffer[] = [];
  for (let k = 0; k < 20; k++) {
    const c = new Conv(41000 + k).login().c(query('SELECT 1'));
    c.sAfterHole(500, rowsOf(8, 1000));
    c.s(rowsOf(8, 1000));
    frames.push(...c.packets);
  }
  const r = await run(frames, { reassembly: { maxBufferedPerDirection: 1024 * 1024, maxBufferedTotal: 128 * 1024 } });
  assert.ok((r.codes.get('buffer-limit') ?? 0) >= 1, JSON.stringify([...r.codes]));
});

test('open connections: one past maxConnections evicts the idlest with connection-limit', async () => {
  const frames: Buffer[] = [];
  for (let k = 0; k < 30; k++) frames.push(...new Conv(42000 + k).login().c(query('SELECT 1')).packets);
  const r = await run(frames, { reassembly: { maxConnections: 10 } });
  assert.ok((r.codes.get('connection-limit') ?? 0) >= 20, JSON.stringify([...r.codes]));
  const sessions = r.records.filter((x) => x.kind === 'session');
  assert.equal(sessions.length, 30, 'every evicted connection still ends with its session record');
});

test('rows kept: with keepRows, past MAX_KEPT_ROWS the query record says its rows were cut', async () => {
  const n = MAX_KEPT_ROWS + 500;
  const c = new Conv(40004).login().c(query('SELECT g FROM generate_series(1, 1500) g'));
  c.s(rowDescription([{ name: 'g', typeOid: 23 }]));
  const rows = Buffer.concat(Array.from({ length: n }, (_, i) => dataRow([String(i)])));
  for (let i = 0; i < rows.length; i += 16384) c.s(rows.subarray(i, i + 16384));
  c.s(Buffer.concat([commandComplete(`SELECT ${n}`), readyForQuery()])).fin();
  const r = await run(c.packets, { keepRows: true, messages: false });
  const q = r.records.find((x) => x.kind === 'query')!;
  assert.equal(q.rows, n);
  assert.equal((q.rowValues as unknown[]).length, MAX_KEPT_ROWS);
  assert.equal(q.rowValuesTruncated, true);
});

/**
 * The template connection of the long capture: login, a query answered with `segments` 16 KiB
 * segments of DataRows, Terminate, FIN. Its frames are patched in place per copy (client port),
 * which the Packet contract allows (data is valid only during the call).
 */
function templateConnection(segments: number): { frames: Buffer[]; messages: number; bytes: number } {
  const c = new Conv(10000, '10.8.0.1', '10.8.0.2').login().c(query('SELECT v FROM t'));
  c.s(rowDescription([{ name: 'v', typeOid: 25 }]));
  const row = dataRow(['z'.repeat(1019)]); // 1 KiB messages, 16 to a segment
  const seg = Buffer.concat(Array.from({ length: 16 }, () => row));
  for (let i = 0; i < segments; i++) c.s(seg);
  c.s(Buffer.concat([commandComplete(`SELECT ${segments * 16}`), readyForQuery()])).c(msg('X')).fin();
  // startup, AuthenticationOk, ReadyForQuery, Query, RowDescription, rows, CommandComplete, ReadyForQuery, Terminate
  const messages = 8 + segments * 16;
  return { frames: c.packets, messages, bytes: c.packets.reduce((n, f) => n + f.length, 0) };
}

const LONG_MB = Number(process.env.PGSNIFF_MEMORY_TEST_MB ?? 512);

test(`long capture: ${LONG_MB} MB of generated traffic through PacketPipeline, RSS does not grow with it`, { timeout: 600_000 }, async (t) => {
  const tpl = templateConnection(256); // ~4 MiB per connection
  const copies = Math.ceil((LONG_MB * 1024 * 1024) / tpl.bytes);
  let messages = 0;
  let anomalies = 0;
  let queries = 0;
  const sink: PipelineSink = {
    record(r) {
      if (r.kind === 'message') messages++;
      else if (r.kind === 'anomaly') anomalies++;
      else if (r.kind === 'query') queries++;
    },
  };
  const p = new PacketPipeline(sink, {});
  let frame = 0;
  const rss: number[] = [];
  let heapWarm = 0;
  for (let k = 0; k < copies; k++) {
    const port = 10000 + (k % 50000);
    for (const f of tpl.frames) {
      // Ethernet 14 + IPv4 20: TCP source port at 34, destination at 36.
      if (f.readUInt16BE(34) !== 5432) f.writeUInt16BE(port, 34);
      else f.writeUInt16BE(port, 36);
      frame++;
      p.packet({ frame, timeUs: T0 + frame * 10, linkType: 1, data: f, origLen: f.length, interfaceId: 0, fileOffset: -1 });
    }
    if (k % 16 === 0) {
      // Let the event loop breathe so the garbage collector's background work can run.
      await new Promise((r) => setImmediate(r));
      rss.push(process.memoryUsage.rss());
    }
    if (k === Math.floor(copies / 10)) {
      collect();
      heapWarm = process.memoryUsage().heapUsed;
    }
  }
  collect();
  const heapEnd = process.memoryUsage().heapUsed;
  await p.finish();
  assert.equal(anomalies, 0);
  assert.equal(messages, tpl.messages * copies);
  assert.equal(queries, copies);
  const mb = (n: number): number => n / (1024 * 1024);
  const warm = rss[Math.min(rss.length - 1, Math.floor(rss.length / 10))]!;
  const peak = Math.max(...rss);
  t.diagnostic(`${copies} connections, ${frame} packets, ${messages} messages; RSS after 10%: ${mb(warm).toFixed(0)} MB, peak: ${mb(peak).toFixed(0)} MB, at the end: ${mb(rss[rss.length - 1]!).toFixed(0)} MB; live heap after 10%: ${mb(heapWarm).toFixed(1)} MB, at the end: ${mb(heapEnd).toFixed(1)} MB`);
  // What survives a full collection: the remembered closed connections (about 1.2 KB each), nothing per byte.
  assert.ok(mb(heapEnd - heapWarm) < 8, `live heap grew by ${mb(heapEnd - heapWarm).toFixed(1)} MB`);
  // Memory follows open connections (one at a time here), not the bytes that went through.
  assert.ok(mb(peak - warm) < 64, `RSS grew from ${mb(warm).toFixed(0)} MB to ${mb(peak).toFixed(0)} MB over ${LONG_MB} MB of traffic`);
  assert.ok(mb(peak) < 400, `peak RSS ${mb(peak).toFixed(0)} MB`);
});

/** A full garbage collection, so heap figures count what is retained, not what is pending. */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

test('closed connections remembered for port reuse keep no PostgreSQL state alive', async (t) => {
  // Short connections within the idle timeout stay in the flow table (up to maxConnections):
  // what each costs there bounds memory on a capture of many short connections.
  const tpl = new Conv(10000, '10.7.0.1', '10.7.0.2').login().c(query('SELECT 1'))
    .s(Buffer.concat([rowDescription([{ name: 'a', typeOid: 23 }]), dataRow(['1']), commandComplete('SELECT 1'), readyForQuery()]))
    .c(msg('X')).fin().packets;
  const fromClient = tpl.map((f) => f.readUInt16BE(34) !== 5432);
  let records = 0;
  const p = new PacketPipeline({ record: () => { records++; } }, {});
  const N = 20_000;
  let frame = 0;
  collect();
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < N; k++) {
    tpl.forEach((f, i) => {
      f.writeUInt16BE(10000 + k, fromClient[i] ? 34 : 36);
      frame++;
      // 1 ms a frame: all of them well within the 10-minute idle timeout.
      p.packet({ frame, timeUs: T0 + frame * 1000, linkType: 1, data: f, origLen: f.length, interfaceId: 0, fileOffset: -1 });
    });
  }
  collect();
  const perConnection = (process.memoryUsage().heapUsed - before) / N;
  t.diagnostic(`${N} closed connections remembered: ${perConnection.toFixed(0)} bytes of heap each`);
  await p.finish();
  assert.ok(records >= N * 11, `${records} records`);
  // About 1.2 KB here (addresses, sequence state, table entry); with the PostgreSQL connection
  // and its framers still attached it was about 5 KB.
  assert.ok(perConnection < 2500, `${perConnection.toFixed(0)} bytes per remembered connection`);
});
