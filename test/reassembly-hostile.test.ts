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

/**
 * A server direction with a 1000-byte hole at its start and `total` bytes behind it, then the
 * retransmission that fills the hole. `scaled`: both SYNs announce window scale 7 and the client
 * advertises 65535 << 7 (8 MiB), as Linux does on loopback for a large result.
 */
function bigWindowTransfer(total: number, scaled: boolean): Recorder {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  let f = 0;
  const seg = (s: Parameters<typeof tcpSeg>[0]): void => ft.segment(tcpSeg(s, ++f));
  seg({ seq: 100, flags: SYN, window: 65535, wscale: scaled ? 7 : undefined });
  seg({ c2s: false, seq: 5000, ack: 101, flags: SYN | TCP_ACK, window: 65535, wscale: scaled ? 7 : undefined });
  seg({ seq: 101, ack: 5001, flags: TCP_ACK, window: 65535 });
  const piece = 65536;
  for (let off = 1000; off < 1000 + total; off += piece) {
    seg({ c2s: false, seq: 5001 + off, ack: 101, flags: DATA, data: Buffer.alloc(piece, off & 0xff), window: 65535 });
  }
  seg({ c2s: false, seq: 5001, ack: 101, flags: DATA, data: Buffer.alloc(1000, 7), window: 65535 });
  ft.finish(f + 1, (f + 1) * 1000);
  return rec;
}

test('out-of-order buffer sized from the window: 6 MiB waiting behind a hole in a scaled 8 MiB window all arrive', () => {
  const rec = bigWindowTransfer(6 * 1024 * 1024, true);
  assert.deepEqual(rec.anomalies.map((a) => a.code), []);
  const got = rec.dir(0, 'backend');
  assert.equal(got.reduce((n, d) => n + d[1].length, 0), 1000 + 6 * 1024 * 1024);
  assert.ok(got.every((d) => d[0] === 0), 'no skip anywhere');
});

test('out-of-order buffer without window scaling keeps the 4 MiB floor and says so (buffer-limit, gap)', () => {
  const rec = bigWindowTransfer(6 * 1024 * 1024, false);
  const codes = rec.anomalies.map((a) => a.code);
  assert.ok(codes.includes('buffer-limit'), codes.join());
  assert.ok(codes.includes('gap'));
  assert.match(rec.anomalies.find((a) => a.code === 'buffer-limit')!.reason, /twice the largest window/);
});

/** Connection A (port 40000) with a hole that never fills, and connection B (port 40001) chatting once a second. */
function holeAndClock(times: { outlierUs?: number; first?: number }): Recorder {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  const T0 = 1_700_000_000_000_000;
  let f = 0;
  const seg = (s: Parameters<typeof tcpSeg>[0]): void => ft.segment(tcpSeg(s, ++f));
  if (times.first !== undefined) seg({ seq: 1, flags: SYN, clientPort: 40002, timeUs: times.first });
  seg({ seq: 100, flags: SYN, timeUs: T0 });
  seg({ seq: 101, flags: DATA, data: 'a', timeUs: T0 + 1000 });
  seg({ seq: 110, flags: DATA, data: 'after the hole', timeUs: T0 + 2000 });
  if (times.outlierUs !== undefined) seg({ seq: 5, flags: SYN, clientPort: 40003, timeUs: times.outlierUs });
  for (let i = 0; i < 20; i++) seg({ seq: 1000 + i, flags: i === 0 ? SYN : DATA, data: i === 0 ? undefined : 'b', clientPort: 40001, timeUs: T0 + 10_000 + i * 1_000_000 });
  return rec;
}

test('time: a lone frame dated far in the future neither closes everything nor stalls the hole timeout', () => {
  const rec = holeAndClock({ outlierUs: 4_000_000_000_000_000 });
  // The hole gave up after 5 s of the other packets' time, as without the outlier.
  const gap = rec.anomalies.find((a) => a.code === 'gap');
  assert.ok(gap, JSON.stringify(rec.anomalies));
  assert.match(gap.reason, /hole timeout/);
  const jump = rec.anomalies.filter((a) => a.code === 'time-jump');
  assert.equal(jump.length, 1);
  assert.equal(jump[0]!.frame, 4);
  assert.ok(rec.conns.every((c) => c?.end?.reason !== 'idle'), 'no connection was closed as idle by the outlier');
});

test('time: a first frame dated in 1970 does not hold the clock back', () => {
  const rec = holeAndClock({ first: 1_000_000 });
  assert.ok(rec.anomalies.some((a) => a.code === 'gap' && /hole timeout/.test(a.reason)), JSON.stringify(rec.anomalies));
});

test('time: a real pause (every packet after it agrees) moves the clock: idle connections close at the next sweep', () => {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  const T0 = 1_700_000_000_000_000;
  ft.segment(tcpSeg({ seq: 100, flags: SYN, timeUs: T0 }, 1));
  ft.segment(tcpSeg({ seq: 101, flags: DATA, data: 'x', timeUs: T0 + 1000 }, 2));
  const later = T0 + 20 * 60_000_000;
  ft.segment(tcpSeg({ seq: 7, flags: SYN, clientPort: 40009, timeUs: later }, 3));
  ft.segment(tcpSeg({ seq: 8, flags: DATA, data: 'y', clientPort: 40009, timeUs: later + 2_000_000 }, 4));
  assert.equal(rec.conns[0]!.end?.reason, 'idle');
  assert.deepEqual(rec.anomalies.filter((a) => a.code === 'time-jump'), []);
});

/** Issue 19: an out-of-order segment, then an in-order one overlapping it with other bytes. */
function evasion(overlap?: 'first' | 'last'): Recorder {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly, overlap ? { overlap } : {});
  const segs = [
    { seq: 100, flags: SYN },
    { seq: 101 + 16, flags: DATA, data: "OOO_EVIL'" },
    { seq: 101, flags: DATA, data: "SELECT 'xxxxxxx'OOO_GOOD'" },
  ];
  segs.forEach((s, i) => ft.segment(tcpSeg(s, i + 1)));
  ft.finish(4, 4000);
  return rec;
}

test('overlap: an in-order segment over buffered out-of-order bytes wins by default (as the Linux receiver), and the difference is reported', () => {
  const rec = evasion();
  assert.deepEqual(rec.dir(0, 'frontend').map((d) => d[1]).join(''), "SELECT 'xxxxxxx'OOO_GOOD'");
  const m = rec.anomalies.filter((a) => a.code === 'overlap-mismatch');
  assert.equal(m.length, 1);
  assert.equal(m[0]!.frame, 3);
  assert.equal(m[0]!.skipped, 4, 'EVIL vs GOOD: 4 bytes differ');
  assert.match(m[0]!.reason, /frames 2 and 3: frame 3's copy is kept/);
});

test('overlap: --overlap first keeps the copy that arrived first, and reports the same difference', () => {
  const rec = evasion('first');
  assert.deepEqual(rec.dir(0, 'frontend').map((d) => d[1]).join(''), "SELECT 'xxxxxxx'OOO_EVIL'");
  const m = rec.anomalies.filter((a) => a.code === 'overlap-mismatch');
  assert.equal(m.length, 1);
  assert.match(m[0]!.reason, /frame 2's copy is kept/);
});

test('overlap: two out-of-order copies that differ are reported; identical retransmissions are not', () => {
  for (const overlap of ['first', 'last'] as const) {
    const rec = new Recorder();
    const ft = new FlowTable(rec, rec.onAnomaly, { overlap });
    const segs = [
      { seq: 100, flags: SYN },
      { seq: 111, flags: DATA, data: 'AAAAAAAAAA' },
      { seq: 111, flags: DATA, data: 'AAAAAAAAAA' },
      { seq: 115, flags: DATA, data: 'BBBBBBBBBB' },
      { seq: 101, flags: DATA, data: '0123456789' },
    ];
    segs.forEach((s, i) => ft.segment(tcpSeg(s, i + 1)));
    ft.finish(6, 6000);
    const got = rec.dir(0, 'frontend').map((d) => d[1]).join('');
    assert.equal(got, overlap === 'first' ? '0123456789AAAAAAAAAABBBB' : '0123456789AAAABBBBBBBBBB');
    const m = rec.anomalies.filter((a) => a.code === 'overlap-mismatch');
    assert.deepEqual(m.map((a) => [a.frame, a.skipped]), [[4, 6]]);
  }
});

test('overlap: --overlap takes first or last (default last); anything else is a usage error', async () => {
  const { parseCli } = await import('../src/cli/args.js');
  assert.equal(parseCli(['read', 'x.pcap']).overlap, 'last');
  assert.equal(parseCli(['read', 'x.pcap', '--overlap', 'first']).overlap, 'first');
  assert.throws(() => parseCli(['read', 'x.pcap', '--overlap', 'middle']), /--overlap wants first or last/);
});

// ---------------------------------------------------------------- checksums and RSTs, from real frames

import { TcpDecoder } from '../src/net/decoder.js';
import { tcpFrame } from './helpers/build-packets.js';
import { TCP_FIN, TCP_RST } from '../src/net/segment.js';

/** TCP checksum field of an Ethernet + IPv4 (no options) frame from tcpFrame. */
const CK = 14 + 20 + 16;

function framesRun(frames: Buffer[]): Recorder {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  const dec = new TcpDecoder(rec.onAnomaly);
  frames.forEach((data, i) => {
    const seg = dec.decode({ frame: i + 1, timeUs: 1_700_000_000_000_000 + i * 1000, data, origLen: data.length, linkType: 1, interfaceId: 0, fileOffset: 0 } as never);
    if (seg) ft.segment(seg);
  });
  ft.finish(frames.length + 1, 1_700_000_000_000_000 + frames.length * 1000);
  return rec;
}

const fe = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 5432 };
const be = { src: '10.0.0.2', dst: '10.0.0.1', sport: 5432, dport: 40000 };
const handshake = (): Buffer[] => [
  tcpFrame({ ...fe, seq: 100, flags: SYN }),
  tcpFrame({ ...be, seq: 500, ack: 101, flags: SYN | TCP_ACK }),
];
function corrupt(f: Buffer, how: 'bad' | 'zero'): Buffer {
  const c = Buffer.from(f);
  if (how === 'zero') c.writeUInt16BE(0, CK);
  else c.writeUInt16BE(c.readUInt16BE(CK) ^ 0x1234, CK);
  return c;
}

test('RST outside the expected sequence number is ignored (rst-ignored) and the connection goes on', () => {
  const rec = framesRun([
    ...handshake(),
    tcpFrame({ ...fe, seq: 101, ack: 501, flags: DATA, payload: 'abc' }),
    tcpFrame({ ...be, seq: 90_000, ack: 104, flags: TCP_RST | TCP_ACK }),
    tcpFrame({ ...fe, seq: 104, ack: 501, flags: DATA, payload: 'def' }),
    tcpFrame({ ...fe, seq: 107, ack: 501, flags: TCP_RST | TCP_ACK }),
  ]);
  assert.deepEqual(rec.anomalies.map((a) => [a.code, a.frame]), [['rst-ignored', 4]]);
  assert.equal(rec.dir(0, 'frontend').map((d) => d[1]).join(''), 'abcdef');
  assert.equal(rec.conns[0]!.end?.reason, 'rst');
  assert.equal(rec.conns[0]!.end?.frame, 6);
});

test('checksums: in a direction with correct checksums, a RST and a FIN with bad ones are ignored; data with a bad one waits for the receiver\'s ACK, is then taken and said unconfirmed', () => {
  const rec = framesRun([
    ...handshake(),
    tcpFrame({ ...fe, seq: 101, ack: 501, flags: DATA, payload: 'Q1' }),
    corrupt(tcpFrame({ ...fe, seq: 103, ack: 501, flags: TCP_RST | TCP_ACK }), 'bad'),
    corrupt(tcpFrame({ ...fe, seq: 103, ack: 501, flags: DATA, payload: 'AB' }), 'bad'),
    corrupt(tcpFrame({ ...fe, seq: 105, ack: 501, flags: TCP_FIN | TCP_ACK }), 'zero'),
    corrupt(tcpFrame({ ...fe, seq: 105, ack: 501, flags: DATA, payload: 'CD' }), 'bad'),
    // The server answers, acknowledging both: they reached it. Its answer comes after them.
    tcpFrame({ ...be, seq: 501, ack: 107, flags: DATA, payload: 'R' }),
    corrupt(tcpFrame({ ...fe, seq: 107, ack: 502, flags: DATA, payload: 'EF' }), 'bad'),
  ]);
  assert.deepEqual(rec.anomalies.map((a) => [a.code, a.frame]), [['bad-checksum', 4], ['bad-checksum', 5], ['bad-checksum', 6], ['bad-checksum', 8], ['bad-checksum', 9]]);
  assert.match(rec.anomalies[3]!.reason, /acknowledged it in frame 8: its bytes are unconfirmed/);
  // Never acknowledged: taken at the end all the same, said so.
  assert.match(rec.anomalies[4]!.reason, /1 data segment with a wrong TCP checksum .*from frame 9.* without the receiver's acknowledgement/);
  assert.equal(rec.dir(0, 'frontend').map((d) => d[1]).join(''), 'Q1ABCDEF');
  assert.deepEqual(rec.conns[0]!.deliveries.map((d) => `${d.dir[0]}:${d.bytes}`), ['f:Q1', 'f:AB', 'f:CD', 'b:R', 'f:EF']);
  assert.equal(rec.conns[0]!.end?.reason, 'capture-end');
});

test('checksums: a data segment with a bad checksum does not win over the real one', () => {
  const rec = framesRun([
    ...handshake(),
    tcpFrame({ ...fe, seq: 101, ack: 501, flags: DATA, payload: 'Q1' }),
    corrupt(tcpFrame({ ...fe, seq: 103, ack: 501, flags: DATA, payload: 'EVIL' }), 'bad'),
    tcpFrame({ ...fe, seq: 103, ack: 501, flags: DATA, payload: 'GOOD' }),
    tcpFrame({ ...be, seq: 501, ack: 107, flags: DATA, payload: 'R' }),
  ]);
  assert.equal(rec.dir(0, 'frontend').map((d) => d[1]).join(''), 'Q1GOOD');
  assert.deepEqual(rec.anomalies.map((a) => [a.code, a.frame]), [['bad-checksum', 4]]);
  assert.match(rec.anomalies[0]!.reason, /held until the receiver acknowledges it/);
});

test('a hole the receiver acknowledged past is given up at once (gap dated by the ACK), not after the hole timeout', () => {
  const rec = framesRun([
    ...handshake(),
    tcpFrame({ ...fe, seq: 101, ack: 501, flags: DATA, payload: 'Q1' }),
    // 'LOST' (103..107) is not in the capture.
    tcpFrame({ ...fe, seq: 107, ack: 501, flags: DATA, payload: 'Q3' }),
    tcpFrame({ ...be, seq: 501, ack: 109, flags: DATA, payload: 'R1' }),
    tcpFrame({ ...be, seq: 503, ack: 109, flags: DATA, payload: 'R2' }),
  ]);
  const gap = rec.anomalies.find((a) => a.code === 'gap');
  assert.ok(gap, JSON.stringify(rec.anomalies));
  assert.equal(gap.frame, 5);
  assert.equal(gap.skipped, 4);
  assert.match(gap.reason, /acknowledged them in frame 5/);
  // Given up at the connection's next segment, long before its end: Q3 reaches the sink before R2.
  assert.deepEqual(rec.conns[0]!.deliveries.map((d) => `${d.dir[0]}:${d.bytes}`), ['f:Q1', 'b:R1', 'f:Q3', 'b:R2']);
  assert.equal(rec.conns[0]!.end?.reason, 'capture-end');
});

test('an ACK captured just before the retransmission it acknowledges gives nothing up', () => {
  const rec = framesRun([
    ...handshake(),
    tcpFrame({ ...be, seq: 501, ack: 101, flags: DATA, payload: 'B1' }),
    tcpFrame({ ...be, seq: 505, ack: 101, flags: DATA, payload: 'B3' }),
    tcpFrame({ ...fe, seq: 101, ack: 507, flags: TCP_ACK }),
    tcpFrame({ ...be, seq: 503, ack: 101, flags: DATA, payload: 'B2' }),
    // An ACK past the end of what the server was seen to send declares nothing either.
    tcpFrame({ ...fe, seq: 101, ack: 900, flags: TCP_ACK }),
    tcpFrame({ ...be, seq: 507, ack: 101, flags: DATA, payload: 'B4' }),
  ]);
  assert.deepEqual(rec.anomalies, []);
  assert.equal(rec.dir(0, 'backend').map((d) => d[1]).join(''), 'B1B2B3B4');
});

test('checksums: offloaded on the capturing host (zero or the pseudo-header sum, as on loopback) are not verified', () => {
  const rec = framesRun([
    corrupt(tcpFrame({ ...fe, seq: 100, flags: SYN }), 'zero'),
    tcpFrame({ ...be, seq: 500, ack: 101, flags: SYN | TCP_ACK }),
    corrupt(tcpFrame({ ...fe, seq: 101, ack: 501, flags: DATA, payload: 'abc' }), 'bad'),
    tcpFrame({ ...be, seq: 501, ack: 104, flags: DATA, payload: 'xyz' }),
  ]);
  assert.deepEqual(rec.anomalies, []);
  assert.equal(rec.dir(0, 'frontend').map((d) => d[1]).join(''), 'abc');
  assert.equal(rec.dir(0, 'backend').map((d) => d[1]).join(''), 'xyz');
});

for (const [what, outlierUs] of [['in 2106', 4_300_000_000_000_000], ['in 1970', 1_000_000]] as const) {
  test(`time: a lone frame dated ${what} in the middle of a capture does not stall the idle sweeps after it`, () => {
    const rec = new Recorder();
    const ft = new FlowTable(rec, rec.onAnomaly);
    const T0 = 1_700_000_000_000_000;
    let f = 0;
    const seg = (s: Parameters<typeof tcpSeg>[0]): void => ft.segment(tcpSeg(s, ++f));
    // Connection 0 goes quiet; connection 1 sends a byte every 10 s for 20 minutes, with the outlier 1 minute in.
    seg({ seq: 100, flags: SYN, timeUs: T0 });
    seg({ seq: 101, flags: DATA, data: 'x', timeUs: T0 + 1000 });
    let closedAt = -1;
    for (let i = 0; i < 120; i++) {
      if (i === 6) seg({ seq: 1, flags: SYN, clientPort: 40100, timeUs: outlierUs });
      seg({ seq: 500 + i, flags: i === 0 ? SYN : DATA, data: i === 0 ? undefined : 'y', clientPort: 40001, timeUs: T0 + 2000 + i * 10_000_000 });
      if (closedAt < 0 && rec.conns[0]!.end !== null) closedAt = i;
    }
    // Idle after 10 minutes of the other packets' time (packet 60; 61 as packets 10 s apart are
    // each believed at the next one), neither at the outlier nor never.
    assert.ok(closedAt === 60 || closedAt === 61, `connection 0 closed at packet ${closedAt}`);
    const idle = rec.conns[0]!.end;
    assert.equal(idle?.reason, 'idle');
    assert.equal(idle?.frame, 2, 'an idle close is dated by the connection\'s last segment');
    const closedBy = rec.conns.filter((c) => c?.end?.reason === 'idle').map((c) => c!.info.id);
    // The outlier's own connection (2) idles out too, 10 minutes of the clock after it came: its date moved nothing.
    assert.deepEqual(closedBy, [0, 2]);
    const jumps = rec.anomalies.filter((a) => a.code === 'time-jump');
    assert.equal(jumps.length, 1);
    assert.equal(jumps[0]!.frame, 9);
    // The sweep came in time: connection 1 still open, and its packets after minute 10 were not delayed by a stalled clock.
    assert.equal(rec.conns[1]!.end, null);
  });
}
