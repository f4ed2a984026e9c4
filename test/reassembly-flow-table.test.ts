/**
 * FlowTable, table-driven in gopacket's manner: segments in, deliveries (per direction:
 * [skip, bytes, frame]) and anomalies out. Frames are the 1-based position in `in` unless set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTable } from '../src/reassembly/flow-table.js';
import type { FlowTableOptions } from '../src/reassembly/types.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../src/net/segment.js';
import { Recorder, tcpSeg, type SegSpec } from './helpers/reassembly-recorder.js';
import { prng } from './helpers/prng.js';

const SYN = TCP_SYN;
const SYNACK = TCP_SYN | TCP_ACK;
const ACK = TCP_ACK;
const FIN = TCP_FIN | TCP_ACK;
const RST = TCP_RST | TCP_ACK;

type Want = Array<[number, string, number]>;

interface Case {
  name: string;
  in: SegSpec[];
  fe?: Want;
  be?: Want;
  /** Anomaly codes expected, in order ([code, frame, skipped]); omitted: not checked. */
  anomalies?: Array<[string, number | null, number | undefined]>;
  /** How connection 0 ends (finish() runs after the segments with frame in.length + 1). */
  end?: string;
  options?: Partial<FlowTableOptions>;
}

function run(segs: SegSpec[], options?: Partial<FlowTableOptions>, finish = true): Recorder {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly, options);
  segs.forEach((s, i) => ft.segment(tcpSeg(s, i + 1)));
  if (finish) ft.finish(segs.length + 1, (segs.length + 1) * 1000);
  for (const c of rec.conns) assert.deepEqual(c.misuse, [], `connection ${c.info.id} misused`);
  return rec;
}

// A handshake: client ISN 100 (data from 101), server ISN 500 (data from 501).
const HS: SegSpec[] = [
  { seq: 100, flags: SYN },
  { c2s: false, seq: 500, ack: 101, flags: SYNACK },
  { seq: 101, ack: 501 },
];

const cases: Case[] = [
  {
    name: 'in order, both directions',
    in: [...HS, { seq: 101, data: 'abc' }, { c2s: false, seq: 501, data: 'xy' }, { seq: 104, data: 'def' }],
    fe: [[0, 'abc', 4], [0, 'def', 6]],
    be: [[0, 'xy', 5]],
    anomalies: [],
    end: 'capture-end',
  },
  {
    name: 'reorder: later segment first',
    in: [...HS, { seq: 104, data: 'def' }, { seq: 101, data: 'abc' }, { seq: 107, data: 'g' }],
    fe: [[0, 'abc', 5], [0, 'def', 4], [0, 'g', 6]],
    anomalies: [],
  },
  {
    name: 'reorder: three segments reversed',
    in: [...HS, { seq: 107, data: 'ghi' }, { seq: 104, data: 'def' }, { seq: 101, data: 'abc' }],
    fe: [[0, 'abc', 6], [0, 'def', 5], [0, 'ghi', 4]],
  },
  {
    name: 'retransmission delivered once',
    in: [...HS, { seq: 101, data: 'abc' }, { seq: 101, data: 'abc' }, { seq: 104, data: 'def' }, { seq: 101, data: 'abcdef' }],
    fe: [[0, 'abc', 4], [0, 'def', 6]],
  },
  {
    name: 'partial overlap with delivered bytes is trimmed',
    in: [...HS, { seq: 101, data: 'abcdef' }, { seq: 104, data: 'DEFghi' }],
    fe: [[0, 'abcdef', 4], [0, 'ghi', 5]],
  },
  {
    name: 'complete overlap with different bytes: first copy wins',
    in: [...HS, { seq: 101, data: 'abcdef' }, { seq: 102, data: 'XYZ' }],
    fe: [[0, 'abcdef', 4]],
  },
  {
    name: 'in-order segment overlapping an earlier buffered copy, --overlap first: buffered copy wins',
    in: [...HS, { seq: 104, data: 'XY' }, { seq: 101, data: 'abcdefgh' }],
    fe: [[0, 'abc', 5], [0, 'XY', 4], [0, 'fgh', 5]],
    options: { overlap: 'first' },
  },
  {
    name: 'in-order segment overlapping an earlier buffered copy, default (last): the in-order copy wins, as on Linux',
    in: [...HS, { seq: 104, data: 'XY' }, { seq: 101, data: 'abcdefgh' }],
    fe: [[0, 'abcdefgh', 5]],
    anomalies: [['overlap-mismatch', 5, 2]],
  },
  {
    name: 'overlaps between buffered segments, --overlap first: first copy wins',
    in: [...HS, { seq: 104, data: 'XYZ' }, { seq: 103, data: 'QQQQQQ' }, { seq: 101, data: 'ab' }],
    fe: [[0, 'ab', 6], [0, 'Q', 5], [0, 'XYZ', 4], [0, 'QQ', 5]],
    options: { overlap: 'first' },
  },
  {
    name: 'overlaps between buffered segments, default (last): the later copy wins',
    in: [...HS, { seq: 104, data: 'XYZ' }, { seq: 103, data: 'QQQQQQ' }, { seq: 101, data: 'ab' }],
    fe: [[0, 'ab', 6], [0, 'Q', 5], [0, 'QQQ', 5], [0, 'QQ', 5]],
    anomalies: [['overlap-mismatch', 5, 3]],
  },
  {
    name: 'sequence wrap at 0xFFFFFFFF in order',
    in: [
      { seq: 0xfffffffc, flags: SYN },
      { c2s: false, seq: 0xffffffff, ack: 0xfffffffd, flags: SYNACK },
      { seq: 0xfffffffd, data: 'abcd' },
      { seq: 1, data: 'efg' },
      { c2s: false, seq: 0, data: 'xyz' },
      { c2s: false, seq: 3, data: 'w' },
    ],
    fe: [[0, 'abcd', 3], [0, 'efg', 4]],
    be: [[0, 'xyz', 5], [0, 'w', 6]],
    anomalies: [],
  },
  {
    name: 'sequence wrap, reordered across the wrap',
    in: [
      { seq: 0xfffffffc, flags: SYN },
      { seq: 1, data: 'efg' },
      { seq: 4, data: 'h' },
      { seq: 0xfffffffd, data: 'abcd' },
    ],
    fe: [[0, 'abcd', 4], [0, 'efg', 2], [0, 'h', 3]],
    anomalies: [],
  },
  {
    name: 'mid-stream across the wrap',
    in: [{ seq: 0xfffffffe, data: 'ab' }, { seq: 0, data: 'cd' }, { seq: 0xfffffffe, data: 'ab' }],
    fe: [[-1, 'ab', 1], [0, 'cd', 2]],
    anomalies: [['mid-stream', 1, undefined]],
  },
  {
    name: 'gap filled late',
    in: [...HS, { seq: 101, data: 'abc' }, { seq: 107, data: 'ghi' }, { c2s: false, seq: 501, data: 'x' }, { seq: 104, data: 'def' }],
    fe: [[0, 'abc', 4], [0, 'def', 7], [0, 'ghi', 5]],
    anomalies: [],
  },
  {
    name: 'gap never filled: hole timeout (capture time)',
    in: [
      ...HS,
      { seq: 101, data: 'abc', timeUs: 1_000_000 },
      { seq: 107, data: 'ghi', timeUs: 2_000_000 },
      { c2s: false, seq: 501, data: 'x', timeUs: 6_900_000 },
      { c2s: false, seq: 502, data: 'y', timeUs: 7_000_000 },
      { seq: 104, data: 'def', timeUs: 7_100_000 },
      { seq: 110, data: 'j', timeUs: 7_200_000 },
    ],
    fe: [[0, 'abc', 4], [3, 'ghi', 5], [0, 'j', 9]],
    be: [[0, 'x', 6], [0, 'y', 7]],
    anomalies: [['gap', 5, 3]],
  },
  {
    name: 'gap never filled: FIN in both directions closes after one segment of grace',
    in: [
      ...HS,
      { seq: 101, data: 'abc' },
      { seq: 107, data: 'ghi' },
      { seq: 110, flags: FIN },
      { c2s: false, seq: 501, flags: FIN },
      { seq: 111, ack: 502 },
    ],
    fe: [[0, 'abc', 4], [3, 'ghi', 5]],
    anomalies: [['gap', 5, 3]],
    end: 'fin',
  },
  {
    name: 'reordered last segment before the second FIN still arrives in the grace',
    in: [
      ...HS,
      { seq: 101, data: 'abc' },
      { c2s: false, seq: 501, flags: FIN },
      { seq: 107, flags: FIN },
      { seq: 104, data: 'def' },
      { c2s: false, seq: 502, ack: 108 },
    ],
    fe: [[0, 'abc', 4], [0, 'def', 7]],
    anomalies: [],
    end: 'fin',
  },
  {
    name: 'gap never filled: RST flushes it',
    in: [...HS, { seq: 101, data: 'abc' }, { seq: 107, data: 'ghi' }, { c2s: false, seq: 501, flags: RST }],
    fe: [[0, 'abc', 4], [3, 'ghi', 5]],
    anomalies: [['gap', 5, 3]],
    end: 'rst',
  },
  {
    name: 'gap never filled: finish flushes it',
    in: [...HS, { seq: 101, data: 'abc' }, { seq: 107, data: 'ghi' }],
    fe: [[0, 'abc', 4], [3, 'ghi', 5]],
    anomalies: [['gap', 5, 3]],
    end: 'capture-end',
  },
  {
    name: 'lost tail before a FIN becomes an empty delivery with the gap',
    in: [...HS, { seq: 101, data: 'abc' }, { seq: 110, flags: FIN }, { c2s: false, seq: 501, flags: FIN }, { seq: 111 }],
    fe: [[0, 'abc', 4], [6, '', 7]],
    anomalies: [['gap', 7, 6]],
    end: 'fin',
  },
  {
    name: 'mid-stream start: skip -1, server by port',
    in: [{ seq: 7000, data: 'abc' }, { c2s: false, seq: 9000, data: 'xy' }, { seq: 7003, data: 'def' }],
    fe: [[-1, 'abc', 1], [0, 'def', 3]],
    be: [[-1, 'xy', 2]],
    anomalies: [['mid-stream', 1, undefined], ['mid-stream', 2, undefined]],
  },
  {
    name: 'mid-stream: bytes before the first seen are old',
    in: [{ seq: 7003, data: 'def' }, { seq: 7000, data: 'abc' }, { seq: 7006, data: 'g' }],
    fe: [[-1, 'def', 1], [0, 'g', 3]],
  },
  {
    name: 'SYN-ACK without the SYN: the client start is its ack number',
    in: [{ c2s: false, seq: 500, ack: 101, flags: SYNACK }, { seq: 101, data: 'abc' }],
    fe: [[0, 'abc', 2]],
    anomalies: [],
  },
  {
    name: 'SYN carrying data (TCP Fast Open): data starts after the SYN',
    in: [{ seq: 100, flags: SYN, data: 'abc' }, { seq: 104, data: 'def' }],
    fe: [[0, 'abc', 1], [0, 'def', 2]],
  },
  {
    name: 'FIN both ways closes; FIN consumes one sequence number; data after FIN dropped',
    in: [
      ...HS,
      { seq: 101, data: 'abc', flags: FIN },
      { c2s: false, seq: 501, data: 'xyz' },
      { seq: 104, data: 'late' },
      { c2s: false, seq: 504, ack: 105, flags: FIN },
      { seq: 105, ack: 505 },
    ],
    fe: [[0, 'abc', 4]],
    be: [[0, 'xyz', 5]],
    anomalies: [],
    end: 'fin',
  },
  {
    name: 'reordered FIN waits for the data before it',
    in: [
      ...HS,
      { seq: 104, flags: FIN },
      { c2s: false, seq: 501, flags: FIN },
      { seq: 101, data: 'abc' },
    ],
    fe: [[0, 'abc', 6]],
    anomalies: [],
    end: 'fin',
  },
  {
    name: 'RST closes and its payload is not data',
    in: [...HS, { seq: 101, data: 'abc' }, { seq: 104, flags: RST, data: 'reset text' }, { seq: 104, data: 'zzz' }],
    fe: [[0, 'abc', 4]],
    end: 'rst',
  },
  {
    name: 'zero-length segments deliver nothing',
    in: [...HS, { seq: 101 }, { seq: 101, data: '' }, { c2s: false, seq: 501 }],
    fe: [],
    be: [],
    anomalies: [],
  },
  {
    name: 'snaplen-cut payload is a gap; the next delivery carries it',
    in: [...HS, { seq: 101, data: 'abc', missing: 5 }, { seq: 109, data: 'xyz' }],
    fe: [[0, 'abc', 4], [5, 'xyz', 5]],
    anomalies: [['gap', 4, 5]],
  },
  {
    name: 'snaplen-cut payload at the end is reported by an empty delivery',
    in: [...HS, { seq: 101, data: 'abc', missing: 5 }],
    fe: [[0, 'abc', 4], [5, '', 5]],
    anomalies: [['gap', 4, 5]],
  },
  {
    name: 'snaplen-cut segment arriving out of order',
    in: [...HS, { seq: 104, data: 'de', missing: 2 }, { seq: 101, data: 'abc' }, { seq: 108, data: 'h' }],
    fe: [[0, 'abc', 5], [0, 'de', 4], [2, 'h', 6]],
    anomalies: [['gap', 4, 2]],
  },
];

for (const c of cases) {
  test(`reassembly: ${c.name}`, () => {
    const rec = run(c.in, c.options);
    if (c.fe) assert.deepEqual(rec.dir(0, 'frontend'), c.fe, 'frontend deliveries');
    if (c.be) assert.deepEqual(rec.dir(0, 'backend'), c.be, 'backend deliveries');
    if (c.anomalies) assert.deepEqual(rec.codes(), c.anomalies, 'anomalies');
    if (c.end) assert.equal(rec.conns[0]?.end?.reason, c.end, 'end reason');
  });
}

test('reassembly: server side by SYN, SYN-ACK, port and guess', () => {
  const bySyn = run([{ seq: 1, flags: SYN, clientPort: 5432, serverPort: 40000 }]);
  assert.equal(bySyn.conns[0]!.info.server.port, 40000);
  assert.equal(bySyn.conns[0]!.info.serverBy, 'syn');
  assert.equal(bySyn.conns[0]!.info.sawSyn, true);
  const bySynAck = run([{ c2s: false, seq: 1, flags: SYNACK, serverPort: 7777 }]);
  assert.equal(bySynAck.conns[0]!.info.server.port, 7777);
  assert.equal(bySynAck.conns[0]!.info.serverBy, 'syn');
  const byPort = run([{ c2s: false, seq: 1, data: 'x' }]);
  assert.equal(byPort.conns[0]!.info.server.port, 5432);
  assert.equal(byPort.conns[0]!.info.client.port, 40000);
  assert.equal(byPort.conns[0]!.info.serverBy, 'port');
  assert.deepEqual(byPort.dir(0, 'backend'), [[-1, 'x', 1]]);
  const byOption = run([{ c2s: false, seq: 1, data: 'x', serverPort: 60000, clientPort: 1000 }], { serverPorts: [60000] });
  assert.equal(byOption.conns[0]!.info.server.port, 60000);
  const guessed = run([{ seq: 1, data: 'x', clientPort: 40000, serverPort: 8000 }, { c2s: false, seq: 1, data: 'y', clientPort: 40000, serverPort: 8000 }]);
  assert.equal(guessed.conns[0]!.info.server.port, 8000);
  assert.equal(guessed.conns[0]!.info.serverBy, 'guess');
  assert.equal(guessed.conns[0]!.info.sawSyn, false);
  assert.deepEqual(guessed.dir(0, 'frontend'), [[-1, 'x', 1]]);
  assert.deepEqual(guessed.dir(0, 'backend'), [[-1, 'y', 2]]);
});

test('reassembly: session ids in order of first segment, both directions share one', () => {
  const rec = run([
    { seq: 1, flags: SYN, clientPort: 1001 },
    { seq: 1, flags: SYN, clientPort: 1002 },
    { c2s: false, seq: 9, ack: 2, flags: SYNACK, clientPort: 1001 },
    { seq: 1, flags: SYN, clientPort: 1003, clientIp: '::1', serverIp: '::2' },
    { c2s: false, seq: 9, ack: 2, flags: SYNACK, clientPort: 1003, clientIp: '::1', serverIp: '::2' },
  ]);
  assert.deepEqual(rec.conns.map((c) => [c.info.id, c.info.client.port, c.info.client.ip]), [
    [0, 1001, '10.0.0.1'],
    [1, 1002, '10.0.0.1'],
    [2, 1003, '::1'],
  ]);
});

test('reassembly: port reuse: a new SYN after FIN/FIN opens a new connection; stray segments do not', () => {
  const rec = run([
    ...HS,
    { seq: 101, data: 'one', flags: FIN },
    { c2s: false, seq: 501, ack: 105, flags: FIN },
    { seq: 105, ack: 502 },
    { seq: 105, ack: 502 }, // duplicate final ACK: no phantom connection
    { seq: 9000, flags: SYN },
    { c2s: false, seq: 7000, ack: 9001, flags: SYNACK },
    { seq: 9001, data: 'two' },
  ]);
  assert.equal(rec.conns.length, 2);
  assert.equal(rec.conns[0]!.end?.reason, 'fin');
  assert.equal(rec.conns[0]!.end?.frame, 5);
  assert.deepEqual(rec.dir(0, 'frontend'), [[0, 'one', 4]]);
  assert.equal(rec.conns[1]!.info.id, 1);
  assert.equal(rec.conns[1]!.info.startFrame, 8);
  assert.deepEqual(rec.dir(1, 'frontend'), [[0, 'two', 10]]);
  assert.equal(rec.conns[1]!.end?.reason, 'capture-end');
});

test('reassembly: port reuse on a live 4-tuple (different ISN) closes the old one', () => {
  const rec = run([...HS, { seq: 101, data: 'abc' }, { seq: 100, flags: SYN }, { seq: 5000, flags: SYN }, { seq: 5001, data: 'new' }]);
  assert.equal(rec.conns.length, 2, 'a retransmitted SYN (same ISN) is not a new connection');
  assert.equal(rec.conns[0]!.end?.reason, 'port-reuse');
  assert.deepEqual(rec.dir(1, 'frontend'), [[0, 'new', 7]]);
});

test('reassembly: RST then new SYN is a new connection', () => {
  const rec = run([...HS, { c2s: false, seq: 501, flags: RST }, { seq: 100, flags: SYN }]);
  assert.equal(rec.conns.length, 2);
  assert.equal(rec.conns[0]!.end?.reason, 'rst');
});

test('reassembly: idle connections close lazily on capture time', () => {
  const min = 60_000_000;
  const rec = run(
    [
      { seq: 1, data: 'a', clientPort: 1, timeUs: 0 },
      { seq: 1, data: 'b', clientPort: 2, timeUs: 5 * min },
      { seq: 2, data: 'c', clientPort: 2, timeUs: 11 * min },
      // A step of minutes is believed once the next packet agrees (a lone far timestamp is not).
      { seq: 3, data: 'd', clientPort: 2, timeUs: 11 * min + 1 },
    ],
    undefined,
    false,
  );
  assert.equal(rec.conns[0]!.end?.reason, 'idle');
  assert.equal(rec.conns[0]!.end?.frame, 1);
  assert.equal(rec.conns[1]!.end, null);
});

test('reassembly: per-direction buffer cap flushes the lowest hole, memory bounded', () => {
  const rec = new Recorder();
  const cap = 2000;
  const ft = new FlowTable(rec, rec.onAnomaly, { maxBufferedPerDirection: cap });
  let frame = 0;
  const s = (spec: SegSpec) => ft.segment(tcpSeg(spec, ++frame));
  HS.forEach(s);
  s({ seq: 101, data: 'a' });
  // A hole at 102..111, then 100-byte segments after it: each charged 100 + overhead.
  let seq = 112;
  let maxBuffered = 0;
  for (let i = 0; i < 200; i++) {
    s({ seq, data: Buffer.alloc(100, 0x41 + (i % 26)) });
    seq += 100;
    // Every 5th segment leaves a 10-byte hole behind it.
    if (i % 5 === 4) seq += 10;
    maxBuffered = Math.max(maxBuffered, ft.bufferedBytes);
  }
  assert.ok(maxBuffered <= cap, `buffered ${maxBuffered} > cap ${cap}`);
  const codes = rec.anomalies.map((a) => a.code);
  assert.ok(codes.includes('buffer-limit'));
  assert.ok(codes.includes('gap'));
  ft.finish(++frame, frame * 1000);
  const fe = rec.conns[0]!.deliveries.filter((d) => d.dir === 'frontend');
  const bytes = fe.reduce((n, d) => n + d.bytes.length, 0);
  const skipped = fe.reduce((n, d) => n + (d.skip > 0 ? d.skip : 0), 0);
  assert.equal(bytes, 1 + 200 * 100, 'every byte that arrived is delivered');
  assert.equal(skipped, 10 + 39 * 10, 'every hole is an explicit gap');
  assert.equal(ft.bufferedBytes, 0);
});

test('reassembly: total buffer cap over connections', () => {
  const rec = new Recorder();
  const cap = 10_000;
  const ft = new FlowTable(rec, rec.onAnomaly, { maxBufferedTotal: cap });
  let frame = 0;
  let maxBuffered = 0;
  for (let conn = 0; conn < 50; conn++) {
    const clientPort = 1000 + conn;
    ft.segment(tcpSeg({ seq: 1, flags: SYN, clientPort }, ++frame));
    for (let i = 0; i < 5; i++) {
      ft.segment(tcpSeg({ seq: 10 + i * 200, data: Buffer.alloc(150, 1), clientPort }, ++frame));
      maxBuffered = Math.max(maxBuffered, ft.bufferedBytes);
    }
  }
  assert.ok(maxBuffered <= cap, `buffered ${maxBuffered} > cap ${cap}`);
  const limits = rec.anomalies.filter((a) => a.code === 'buffer-limit');
  assert.ok(limits.length > 0);
  // The oldest holes go first: the first connection gave up before the last one.
  assert.equal(limits[0]!.session, 0);
  ft.finish(++frame, 0);
  assert.equal(ft.bufferedBytes, 0);
});

test('reassembly: connection cap expires the least recently active', () => {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly, { maxConnections: 3 });
  let frame = 0;
  for (let i = 0; i < 3; i++) ft.segment(tcpSeg({ seq: 1, flags: SYN, clientPort: 1000 + i }, ++frame));
  ft.segment(tcpSeg({ seq: 2, data: 'keep', clientPort: 1000 }, ++frame)); // 1000 is now the most recent
  for (let i = 3; i < 10; i++) {
    ft.segment(tcpSeg({ seq: 1, flags: SYN, clientPort: 1000 + i }, ++frame));
    assert.ok(ft.connections <= 3);
  }
  const limited = rec.anomalies.filter((a) => a.code === 'connection-limit');
  assert.equal(limited.length, 7);
  assert.equal(limited[0]!.session, 1, 'the idlest (not the one just used) goes first');
  assert.equal(rec.conns[1]!.end?.reason, 'limit');
  assert.deepEqual(rec.dir(0, 'frontend'), [[0, 'keep', 4]]);
});

test('reassembly: in-order payload goes through without a copy', () => {
  const seen: Buffer[] = [];
  const ft = new FlowTable(
    { open: () => ({ data: (d) => seen.push(d.bytes), close: () => {} }) },
    () => {},
  );
  HS.forEach((s, i) => ft.segment(tcpSeg(s, i + 1)));
  const payload = Buffer.from('hello world');
  ft.segment({ ...tcpSeg({ seq: 101 }, 4), payload });
  assert.equal(seen.length, 1);
  assert.equal(seen[0], payload, 'the very same Buffer is delivered');
});

test('reassembly: shuffled, duplicated, overlapping segments rebuild the exact stream', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = prng(seed);
    const stream = Buffer.alloc(2000 + Math.floor(rnd() * 3000));
    for (let i = 0; i < stream.length; i++) stream[i] = Math.floor(rnd() * 256);
    const isn = Math.floor(rnd() * 0x100000000) >>> 0; // some cross the wrap
    const segs: SegSpec[] = [];
    for (let off = 0; off < stream.length; ) {
      const len = 1 + Math.floor(rnd() * 300);
      segs.push({ seq: (isn + 1 + off) >>> 0, data: stream.subarray(off, off + len) });
      // Overlapping re-segmentation of the same bytes, as a retransmission might be.
      if (rnd() < 0.2) {
        const back = Math.floor(rnd() * Math.min(off, 100));
        segs.push({ seq: (isn + 1 + off - back) >>> 0, data: stream.subarray(off - back, off + len + 50) });
      }
      off += len;
    }
    for (let i = segs.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [segs[i], segs[j]] = [segs[j]!, segs[i]!];
    }
    const rec = run([{ seq: isn, flags: SYN }, ...segs]);
    const fe = rec.conns[0]!.deliveries.filter((d) => d.dir === 'frontend');
    assert.ok(fe.every((d) => d.skip === 0), `seed ${seed}: no gap expected`);
    assert.equal(Buffer.from(fe.map((d) => d.bytes).join(''), 'latin1').equals(stream), true, `seed ${seed}: stream differs`);
  }
});

test('reassembly: hostile random segments never throw and stay within the caps', () => {
  const rnd = prng(42);
  const rec = new Recorder();
  const opts = { maxBufferedPerDirection: 5000, maxBufferedTotal: 20000, maxConnections: 20, holeTimeoutUs: 1000 };
  const ft = new FlowTable(rec, rec.onAnomaly, opts);
  const flagsPool = [0, TCP_ACK, TCP_SYN, SYNACK, FIN, RST, TCP_FIN, 0xff];
  for (let frame = 1; frame <= 20000; frame++) {
    const len = rnd() < 0.3 ? 0 : Math.floor(rnd() * 200);
    ft.segment({
      frame,
      timeUs: Math.floor(frame * 10 + rnd() * 50 - 25), // jittered, sometimes backwards
      ipVersion: 4,
      src: rnd() < 0.5 ? '1.1.1.1' : '2.2.2.2',
      dst: rnd() < 0.5 ? '1.1.1.1' : '2.2.2.2',
      srcPort: Math.floor(rnd() * 6) + 5430,
      dstPort: Math.floor(rnd() * 6) + 5430,
      seq: rnd() < 0.7 ? Math.floor(rnd() * 4000) : Math.floor(rnd() * 0x100000000),
      ack: Math.floor(rnd() * 0x100000000),
      flags: flagsPool[Math.floor(rnd() * flagsPool.length)]!,
      payload: Buffer.alloc(len, frame & 0xff),
      missing: rnd() < 0.05 ? Math.floor(rnd() * 100) : 0,
    });
    assert.ok(ft.bufferedBytes <= opts.maxBufferedTotal);
    assert.ok(ft.connections <= opts.maxConnections);
  }
  ft.finish(20001, 300000);
  assert.equal(ft.bufferedBytes, 0);
  for (const c of rec.conns) {
    assert.deepEqual(c.misuse, []);
    assert.ok(c.end, `connection ${c.info.id} closed`);
  }
});

test('reassembly: one segment filling many holes between buffered chunks', () => {
  // 500 one-byte chunks at every other position after a hole, then one segment covering all.
  const segs: SegSpec[] = [{ seq: 100, flags: SYN }];
  for (let k = 0; k < 500; k++) segs.push({ seq: 102 + 2 * k, data: 'x' });
  segs.push({ seq: 101, data: 'y'.repeat(1001) });
  const first = run(segs, { overlap: 'first' }).dir(0, 'frontend');
  assert.equal(first.length, 1001);
  assert.equal(first.map((d) => d[1]).join(''), 'yx'.repeat(500) + 'y');
  assert.ok(first.every((d) => d[0] === 0));
  const rec = run(segs);
  const last = rec.dir(0, 'frontend');
  assert.equal(last.map((d) => d[1]).join(''), 'y'.repeat(1001));
  assert.ok(last.every((d) => d[0] === 0));
  assert.deepEqual(rec.codes(), [['overlap-mismatch', 502, 500]]);
});

// A quadratic insert would not end before the timeout; how fast it is belongs to the benchmark.
test('reassembly: hostile tiny segments up to the caps stay bounded', { timeout: 120_000 }, () => {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  let frame = 0;
  ft.segment(tcpSeg({ seq: 100, flags: SYN }, ++frame));
  // Reverse order (each insert lands in front), one-byte holes between: the costliest pattern.
  for (let round = 0; round < 3; round++) {
    const base = 1_000_000 * (round + 1);
    for (let k = 20_000; k > 0; k--) ft.segment(tcpSeg({ seq: base + 2 * k, data: 'x', timeUs: round }, ++frame));
    ft.segment(tcpSeg({ seq: base, data: Buffer.alloc(40_002, 0x79), timeUs: round }, ++frame));
  }
  ft.finish(++frame, 0);
  assert.ok(rec.anomalies.some((a) => a.code === 'buffer-limit'));
  assert.equal(ft.bufferedBytes, 0);
});

test('reassembly: lastSession names the connection of the last segment', () => {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  assert.equal(ft.lastSession, null);
  ft.segment(tcpSeg({ seq: 1, flags: SYN, clientPort: 1 }, 1));
  ft.segment(tcpSeg({ seq: 1, flags: SYN, clientPort: 2 }, 2));
  assert.equal(ft.lastSession, 1);
  ft.segment(tcpSeg({ c2s: false, seq: 7, ack: 2, flags: SYNACK, clientPort: 1 }, 3));
  assert.equal(ft.lastSession, 0);
  ft.segment(tcpSeg({ seq: 2, flags: RST, clientPort: 1 }, 4));
  ft.segment(tcpSeg({ seq: 2, clientPort: 1 }, 5)); // ignored: connection 0 is closed
  assert.equal(ft.lastSession, 0);
});

test('reassembly: byte-level model: per overlap policy, the first or last copy before delivery wins, uncovered runs are gaps', () => {
  for (let seed = 1000; seed < 1300; seed++) {
    const policy = seed % 2 === 0 ? 'first' : 'last';
    const rnd = prng(seed);
    const size = 500 + Math.floor(rnd() * 2000);
    const isn = Math.floor(rnd() * 0x100000000) >>> 0;
    // Random segments over [0, size), each filled with its own byte value (so copies differ),
    // some dropped: the model keeps, per position, the byte of the first segment to arrive.
    // Bytes are delivered once every byte before them is there (no timeout at time 0): until
    // then 'last' lets a later copy replace them.
    const segs: SegSpec[] = [];
    const model: number[] = new Array(size).fill(-1);
    let delivered = 0;
    for (let k = 0; k < 60; k++) {
      const off = Math.floor(rnd() * size);
      const len = Math.min(size - off, 1 + Math.floor(rnd() * 120));
      const fill = 0x21 + (k % 90);
      segs.push({ seq: (isn + 1 + off) >>> 0, data: Buffer.alloc(len, fill) });
      for (let p = Math.max(off, delivered); p < off + len; p++) if (model[p] === -1 || policy === 'last') model[p] = fill;
      while (delivered < size && model[delivered] !== -1) delivered++;
    }
    const rec = run([{ seq: isn, flags: SYN, timeUs: 0 }, ...segs.map((s) => ({ ...s, timeUs: 0 }))], { overlap: policy });
    // Expected: covered bytes in order; each uncovered run before a covered byte is a gap.
    let want = '';
    const wantGaps: Array<[number, number]> = [];
    let run0 = 0;
    for (let p = 0; p < size; p++) {
      if (model[p] === -1) {
        run0++;
        continue;
      }
      if (run0 > 0) wantGaps.push([want.length, run0]);
      run0 = 0;
      want += String.fromCharCode(model[p]!);
    }
    const fe = rec.conns[0]!.deliveries.filter((d) => d.dir === 'frontend');
    let got = '';
    const gotGaps: Array<[number, number]> = [];
    for (const d of fe) {
      if (d.skip > 0) gotGaps.push([got.length, d.skip]);
      assert.notEqual(d.skip, -1);
      got += d.bytes;
    }
    assert.equal(got, want, `seed ${seed}: bytes`);
    assert.deepEqual(gotGaps, wantGaps, `seed ${seed}: gaps`);
  }
});
