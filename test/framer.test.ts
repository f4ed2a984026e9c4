import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from './helpers/prng.js';
import { DirectionFramer, type FramerEvents } from '../src/pg/framer.js';
import type { RawMessage } from '../dissectors/types.js';
import type { Direction } from '../src/core/direction.js';
import { cstring, msg, startup } from './helpers/pg-builder.js';

/** A typed message; a string body is one NUL-terminated string. */
function typed(code: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  return msg(code, typeof body === 'string' ? cstring(body) : body);
}

interface Seen { msgs: Array<{ code: string | null; length: number; body: string; frame: number; firstFrame: number; offset: number }>; skipped: Array<[number, string]>; large: number; notStartup: number }

function framer(dir: Direction, mode: 'typed' | 'untyped', max?: number): { f: DirectionFramer; seen: Seen } {
  const seen: Seen = { msgs: [], skipped: [], large: 0, notStartup: 0 };
  const ev: FramerEvents = {
    message: (m: RawMessage) => seen.msgs.push({ code: m.code, length: m.length, body: m.body.toString('hex'), frame: m.frame, firstFrame: m.firstFrame, offset: m.offset }),
    skipped: (n, reason) => seen.skipped.push([n, reason]),
    tooLarge: () => { seen.large++; },
    notStartup: () => { seen.notStartup++; },
  };
  return { f: new DirectionFramer(dir, mode, ev, max), seen };
}

const backendStream = Buffer.concat([
  typed('R', Buffer.from([0, 0, 0, 0])),
  typed('S', Buffer.from('client_encoding\0UTF8\0')),
  typed('K', Buffer.from([0, 0, 0, 7, 1, 2, 3, 4])),
  typed('Z', Buffer.from('I')),
  typed('T', Buffer.from([0, 0])),
  typed('D', Buffer.alloc(300, 0x41)),
  typed('C', 'SELECT 1'),
  typed('I'),
  typed('Z', Buffer.from('I')),
]);

function whole(): Seen {
  const { f, seen } = framer('backend', 'typed');
  f.push(backendStream, 1, 0);
  return seen;
}

test('framer: a stream in one piece yields every message with its offset', () => {
  const s = whole();
  assert.deepEqual(s.msgs.map((m) => m.code), ['R', 'S', 'K', 'Z', 'T', 'D', 'C', 'I', 'Z']);
  assert.equal(s.msgs[1].offset, 9);
  assert.equal(s.msgs[7].length, 4);
  assert.deepEqual(s.skipped, []);
});

test('framer: split at every offset gives the same messages, dated by the frames they span', () => {
  const want = whole().msgs.map(({ code, length, body, offset }) => ({ code, length, body, offset }));
  for (let cut = 1; cut < backendStream.length; cut++) {
    const { f, seen } = framer('backend', 'typed');
    f.push(backendStream.subarray(0, cut), 1, 10);
    f.push(backendStream.subarray(cut), 2, 20);
    assert.deepEqual(seen.msgs.map(({ code, length, body, offset }) => ({ code, length, body, offset })), want, `cut at ${cut}`);
    for (const m of seen.msgs) {
      const end = m.offset + (m.code === null ? 0 : 1) + m.length;
      assert.equal(m.frame, end <= cut ? 1 : 2, `cut ${cut}: last frame`);
      assert.equal(m.firstFrame, m.offset < cut ? 1 : 2, `cut ${cut}: first frame`);
    }
  }
});

test('framer: one byte at a time', () => {
  const { f, seen } = framer('backend', 'typed');
  for (let i = 0; i < backendStream.length; i++) f.push(backendStream.subarray(i, i + 1), i + 1, i);
  assert.equal(seen.msgs.length, 9);
  assert.deepEqual(seen.skipped, []);
});

test('framer: startup packet without a type byte, then typed messages', () => {
  const { f, seen } = framer('frontend', 'untyped');
  const s = startup({ user: 'alice', database: 'app' });
  f.push(s, 1, 0);
  assert.equal(seen.msgs.length, 1);
  assert.equal(seen.msgs[0].code, null);
  assert.equal(seen.msgs[0].length, s.length);
  f.mode = 'typed';
  f.push(Buffer.concat([typed('Q', 'select 1'), typed('X')]), 2, 0);
  assert.deepEqual(seen.msgs.map((m) => m.code), [null, 'Q', 'X']);
});

test('framer: HTTP on a startup phase stops framing (not a startup packet)', () => {
  const { f, seen } = framer('frontend', 'untyped');
  f.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 1, 0);
  assert.equal(seen.notStartup, 1);
  assert.equal(seen.msgs.length, 0);
  assert.equal(f.mode, 'off');
});

test('framer: a gap inside a message keeps alignment; the damaged message is not emitted', () => {
  const { f, seen } = framer('backend', 'typed');
  const dStart = backendStream.indexOf(typed('D', Buffer.alloc(300, 0x41)));
  f.push(backendStream.subarray(0, dStart + 100), 1, 0);
  f.gap(50, 2, 0);
  f.push(backendStream.subarray(dStart + 150), 3, 0);
  assert.deepEqual(seen.msgs.map((m) => m.code), ['R', 'S', 'K', 'Z', 'T', 'C', 'I', 'Z']);
  assert.ok(seen.skipped.some(([, r]) => r === 'damaged'));
});

test('framer: a gap across a boundary resynchronises on the next plausible message', () => {
  const { f, seen } = framer('backend', 'typed');
  const cStart = backendStream.indexOf(typed('C', 'SELECT 1'));
  f.push(backendStream.subarray(0, cStart - 10), 1, 0);
  f.gap(20, 2, 0);
  f.push(backendStream.subarray(cStart + 10), 3, 0);
  const codes = seen.msgs.map((m) => m.code);
  assert.deepEqual(codes.slice(0, 5), ['R', 'S', 'K', 'Z', 'T']);
  assert.deepEqual(codes.slice(-2), ['I', 'Z']);
  assert.ok(seen.skipped.some(([, r]) => r === 'resync'));
});

test('framer: a stream that starts mid-message finds the first boundary', () => {
  const { f, seen } = framer('backend', 'typed');
  f.desync();
  const dStart = backendStream.indexOf(typed('D', Buffer.alloc(300, 0x41)));
  f.push(backendStream.subarray(dStart + 7), 1, 0);
  assert.deepEqual(seen.msgs.map((m) => m.code), ['C', 'I', 'Z']);
  assert.equal(seen.skipped[0][1], 'resync');
  assert.equal(seen.skipped[0][0], 300 + 5 - 7);
});

test('framer: a message over the size limit is skipped whole, the next one framed', () => {
  const { f, seen } = framer('backend', 'typed', 1000);
  f.push(Buffer.concat([typed('D', Buffer.alloc(5000)), typed('Z', Buffer.from('I'))]), 1, 0);
  assert.equal(seen.large, 1);
  assert.deepEqual(seen.msgs.map((m) => m.code), ['Z']);
});

test('framer: an undocumented type byte with a sane length frames (the dissector calls it Unknown)', () => {
  const { f, seen } = framer('backend', 'typed');
  f.push(Buffer.concat([typed('!', Buffer.from('xyz')), typed('Z', Buffer.from('I'))]), 1, 0);
  assert.deepEqual(seen.msgs.map((m) => m.code), ['!', 'Z']);
});

test('framer: a length below 4 is not a boundary (zeek bad-backend-message: Z with length 1)', () => {
  const { f, seen } = framer('backend', 'typed');
  const bad = Buffer.from([0x5a, 0, 0, 0, 1, 0x49]);
  f.push(Buffer.concat([bad, typed('Z', Buffer.from('I'))]), 1, 0);
  f.finish(2, 0);
  assert.ok(seen.skipped.length > 0);
  assert.ok(seen.msgs.every((m) => m.length >= 4));
});

test('framer: random bytes never throw and keep bounded state', () => {
  const random = prng(12345);
  const rnd = () => Math.floor(random() * 256);
  for (let round = 0; round < 200; round++) {
    const { f } = framer(round % 2 ? 'frontend' : 'backend', round % 3 ? 'typed' : 'untyped');
    if (round % 5 === 0) f.desync();
    for (let k = 0; k < 20; k++) {
      const b = Buffer.alloc(1 + (rnd() * 7));
      for (let i = 0; i < b.length; i++) b[i] = rnd();
      if (k % 7 === 3) f.gap(rnd(), k, 0);
      f.push(b, k, 0);
    }
    f.finish(99, 0);
  }
});

test('framer: a declared length is a claim, not an allocation: memory follows the bytes that arrived', () => {
  // Issue 19: 10,000 connections each declaring a 60 MiB message with a 1-byte body made the
  // framer allocate 60 MiB per connection up front. What it holds now grows with what arrived.
  const declared = 60 * 1024 * 1024;
  const { f, seen } = framer('backend', 'typed', 64 * 1024 * 1024);
  const h = Buffer.alloc(6);
  h.write('D', 0, 'latin1');
  h.writeUInt32BE(declared, 1);
  f.push(h, 1, 0);
  assert.ok(f.heldBytes < 16 * 1024, `held ${f.heldBytes} bytes after a 1-byte body`);
  // Growing by what arrives still frames the whole message, byte for byte.
  const body = Buffer.alloc(declared - 4 - 1);
  for (let i = 0; i < body.length; i += 4093) body[i] = i & 0xff;
  let held = 0;
  for (let at = 0; at < body.length; at += 65536) {
    f.push(body.subarray(at, Math.min(body.length, at + 65536)), 2, 0);
    const want = Math.min(body.length, at + 65536) + 1;
    // At most twice what arrived: the doubling never jumps to the declared size.
    if (at + 65536 < body.length) assert.ok(f.heldBytes <= 2 * want + 16 * 1024, `held ${f.heldBytes} for ${want} bytes`);
    held = Math.max(held, f.heldBytes);
  }
  assert.equal(seen.msgs.length, 1);
  assert.equal(seen.msgs[0]!.length, declared);
  const got = Buffer.from(seen.msgs[0]!.body, 'hex');
  assert.equal(got[0], 0);
  assert.ok(got.subarray(1).equals(body));
  assert.equal(f.heldBytes, 5);
});

test('framer: a gap inside a large message lets its bytes go (only counted to stay aligned)', () => {
  const { f, seen } = framer('backend', 'typed');
  const h = Buffer.alloc(5);
  h.write('D', 0, 'latin1');
  h.writeUInt32BE(4 + 300_000, 1);
  f.push(h, 1, 0);
  f.push(Buffer.alloc(100_000), 2, 0);
  f.gap(1000, 3, 0);
  assert.ok(f.heldBytes < 1024, `held ${f.heldBytes} after the gap`);
  f.push(Buffer.alloc(199_000), 4, 0);
  f.push(typed('Z', Buffer.from('I')), 5, 0);
  assert.deepEqual(seen.msgs.map((m) => m.code), ['Z']);
  assert.deepEqual(seen.skipped, [[1000, 'gap'], [0, 'damaged']]);
});
