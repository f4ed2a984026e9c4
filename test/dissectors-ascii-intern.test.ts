/**
 * asciiIntern (dissectors/ascii-intern.ts) must answer exactly what decoding the bytes as
 * UTF-8 answers, whatever the bytes and whatever the table already holds; repeated ASCII is one
 * string.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asciiIntern, MAX_BYTES } from '../dissectors/ascii-intern.js';

test('the same ASCII bytes give the same string, wherever they sit', () => {
  const a = Buffer.from('xxSELECT 1\0yy');
  const b = Buffer.from('SELECT 1');
  const s1 = asciiIntern(a, 2, 10);
  const s2 = asciiIntern(b, 0, b.length);
  assert.equal(s1, 'SELECT 1');
  assert.equal(s2, 'SELECT 1');
  assert.equal(asciiIntern(a, 0, 0), '');
  assert.equal(asciiIntern(a, 5, 5), '');
  // a one-character change in the middle or at the end is another string
  assert.equal(asciiIntern(Buffer.from('SELECT 2'), 0, 8), 'SELECT 2');
  assert.equal(asciiIntern(Buffer.from('SELECU 1'), 0, 8), 'SELECU 1');
  assert.equal(asciiIntern(b, 0, 7), 'SELECT ');
});

test('non-ASCII, invalid UTF-8 and long strings decode as UTF-8 does', () => {
  const cases = [
    Buffer.from('é'), Buffer.from('statement_ñ'), Buffer.from([0x41, 0x80, 0x42]), Buffer.from([0xff]),
    Buffer.from([0xe2, 0x82]), Buffer.alloc(MAX_BYTES, 0x61), Buffer.alloc(MAX_BYTES + 1, 0x61), Buffer.from('x'.repeat(300) + 'ü'),
    Buffer.from([0x7f, 0x00, 0x01]),
  ];
  for (let round = 0; round < 3; round++) {
    for (const c of cases) assert.equal(asciiIntern(c, 0, c.length), c.toString('utf8'), c.toString('hex'));
  }
});

test('many distinct byte strings (slot collisions) always decode right', () => {
  let x = 12345;
  const next = (): number => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  const buf = Buffer.alloc(MAX_BYTES + 8);
  for (let k = 0; k < 100_000; k++) {
    const len = next() % (MAX_BYTES + 4);
    // mostly a small alphabet, so that strings recur and collide; now and then any byte
    for (let i = 0; i < len; i++) buf[i] = next() % 50 === 0 ? next() & 0xff : 0x41 + (next() % 4);
    assert.equal(asciiIntern(buf, 0, len), buf.toString('utf8', 0, len));
  }
});
