/**
 * Binary formats of the built-in types, with encodings derived by hand from the send functions'
 * layouts (src/backend/utils/adt/*.c), and malformed input that must fall back to hex.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeValue, tryDecodeValue, OID } from '../dissectors/values/index.js';
import type { PgValue } from '../dissectors/types.js';
import { prng } from './helpers/prng.js';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const bin = (oid: number, h: string): PgValue => decodeValue(oid, 'binary', hex(h));

function i64(n: bigint): string {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b.toString('hex');
}
function i32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b.toString('hex');
}
/** µs since 2000-01-01 of an ISO instant (UTC). */
function pgUs(iso: string): bigint {
  return (BigInt(Date.parse(iso)) - 946_684_800_000n) * 1000n;
}

test('integers, bool, oid, int8 as string', () => {
  assert.equal(bin(OID.bool, '01'), true);
  assert.equal(bin(OID.bool, '00'), false);
  assert.equal(bin(OID.int2, 'ff85'), -123);
  assert.equal(bin(OID.int4, '7fffffff'), 2147483647);
  assert.equal(bin(OID.int4, '80000000'), -2147483648);
  assert.equal(bin(OID.int8, '7fffffffffffffff'), '9223372036854775807');
  assert.equal(bin(OID.int8, 'ffffffffffffffff'), '-1');
  assert.equal(bin(OID.oid, 'ffffffff'), 4294967295);
  assert.equal(bin(OID.regclass, '000004eb'), 1259);
  assert.equal(bin(OID.xid8, 'ffffffffffffffff'), '18446744073709551615');
});

test('floats: numbers, float4 printed shortest, NaN, infinities and -0 as strings', () => {
  assert.equal(bin(OID.float4, '3f8ccccd'), 1.1);
  assert.equal(bin(OID.float4, '00000001'), 1e-45);
  assert.equal(bin(OID.float8, '3ff8000000000000'), 1.5);
  assert.equal(bin(OID.float8, '7ff8000000000000'), 'NaN');
  assert.equal(bin(OID.float8, '7ff0000000000000'), 'Infinity');
  assert.equal(bin(OID.float4, 'ff800000'), '-Infinity');
  // -0: JSON.stringify would print 0, so the sign is kept as the server's spelling
  assert.equal(bin(OID.float8, '8000000000000000'), '-0');
  assert.equal(bin(OID.float4, '80000000'), '-0');
  assert.equal(bin(OID.float8, '0000000000000000'), 0);
});

test('numeric: ndigits, weight, sign, dscale, base-10000 digits', () => {
  // 123.4500: digits [123, 4500], weight 0, dscale 4
  assert.equal(bin(OID.numeric, '0002 0000 0000 0004 007b 1194'), '123.4500');
  // -0.000012: one digit 1200 at weight -2, dscale 6
  assert.equal(bin(OID.numeric, '0001 fffe 4000 0006 04b0'), '-0.000012');
  // 1e20: digit 1 at weight 5, trailing zero groups not stored
  assert.equal(bin(OID.numeric, '0001 0005 0000 0000 0001'), '100000000000000000000');
  assert.equal(bin(OID.numeric, '0000 0000 0000 0000'), '0');
  assert.equal(bin(OID.numeric, '0000 0000 0000 0002'), '0.00');
  // 12345678.9: digits [1234, 5678, 9000], weight 1, dscale 1 (extra digits cut to dscale)
  assert.equal(bin(OID.numeric, '0003 0001 0000 0001 04d2 162e 2328'), '12345678.9');
  assert.equal(bin(OID.numeric, '0000 0000 c000 0000'), 'NaN');
  assert.equal(bin(OID.numeric, '0000 0000 d000 0000'), 'Infinity');
  assert.equal(bin(OID.numeric, '0000 0000 f000 0000'), '-Infinity');
  const bad = tryDecodeValue(OID.numeric, 'binary', hex('0005 0000 0000 0000 0001'));
  assert.equal(bad.ok, false);
  assert.equal(bad.value, '\\x00050000000000000001');
  assert.equal(tryDecodeValue(OID.numeric, 'binary', hex('0001 0000 0000 0000 2710')).ok, false, 'digit 10000');
  // 1e131071: one stored digit (1000) at weight 32767. Plain it would be 131072 characters from 10 bytes.
  assert.equal(bin(OID.numeric, '0001 7fff 0000 0000 03e8'), '1e+131071');
  assert.equal(bin(OID.numeric, '0002 7fff 4000 0000 0001 0002'), '-1.0002e+131068');
  // 1e-16383 with dscale 16383 (digit 10 at weight -4096): likewise
  assert.equal(bin(OID.numeric, '0001 f000 0000 3fff 000a'), '1e-16383');
  assert.equal(bin(OID.numeric, '0000 7fff 0000 3fff'), '0');
});

test('text types, "char", bytea, uuid, json, jsonb with its version byte', () => {
  assert.equal(bin(OID.text, Buffer.from('héllo').toString('hex')), 'héllo');
  assert.equal(bin(OID.varchar, ''), '');
  assert.equal(bin(OID.name, '616263'), 'abc');
  assert.equal(bin(OID.char, '41'), 'A');
  assert.equal(bin(OID.char, 'c3'), '\\303');
  assert.equal(bin(OID.bytea, '00ff10'), '\\x00ff10');
  assert.equal(bin(OID.uuid, 'a0eebc999c0b4ef8bb6d6bb9bd380a11'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  assert.deepEqual(bin(OID.json, Buffer.from('{"a":[1,null]}').toString('hex')), { a: [1, null] });
  assert.deepEqual(bin(OID.jsonb, '01' + Buffer.from('{"a": 1}').toString('hex')), { a: 1 });
  assert.equal(tryDecodeValue(OID.jsonb, 'binary', hex('02' + '7b7d')).ok, false);
  assert.equal(bin(OID.json, Buffer.from('{oops').toString('hex')), '{oops', 'unparsable json stays text');
});

test('date, time, timetz, timestamp, timestamptz: epoch 2000-01-01, printed as the server prints them', () => {
  assert.equal(bin(OID.date, '00000000'), '2000-01-01');
  assert.equal(bin(OID.date, i32(-1)), '1999-12-31');
  assert.equal(bin(OID.date, i32(8887)), '2024-05-01');
  assert.equal(bin(OID.date, '7fffffff'), 'infinity');
  assert.equal(bin(OID.date, '80000000'), '-infinity');
  assert.equal(bin(OID.date, i32(2_921_940)), '10000-01-01');
  // 0044-03-15 10:00:00 BC, as the server encodes it
  assert.equal(bin(OID.timestamp, 'ff1af9e74e1f8800'), '0044-03-15 10:00:00 BC');
  assert.equal(bin(OID.date, i32(-746_117)), '0044-03-15 BC');
  assert.equal(bin(OID.time, i64(12n * 3_600_000_000n + 500_000n)), '12:00:00.5');
  assert.equal(bin(OID.time, i64(86_400_000_000n)), '24:00:00');
  assert.equal(tryDecodeValue(OID.time, 'binary', hex(i64(-1n))).ok, false);
  // 12:00:00+05:30: the zone is stored as seconds WEST of UTC
  assert.equal(bin(OID.timetz, i64(43_200_000_000n) + i32(-19_800)), '12:00:00+05:30');
  assert.equal(bin(OID.timetz, i64(0n) + i32(3600)), '00:00:00-01');
  assert.equal(bin(OID.timetz, i64(0n) + i32(-7_200)), '00:00:00+02');
  assert.equal(bin(OID.timetz, i64(0n) + i32(12_615)), '00:00:00-03:30:15');
  assert.equal(bin(OID.timestamp, i64(pgUs('2024-05-01T12:34:56.789Z'))), '2024-05-01 12:34:56.789');
  assert.equal(bin(OID.timestamptz, i64(pgUs('1970-01-01T00:00:00Z') - 1n)), '1969-12-31 23:59:59.999999+00');
  assert.equal(bin(OID.timestamptz, i64(0n)), '2000-01-01 00:00:00+00');
  assert.equal(bin(OID.timestamp, '7fffffffffffffff'), 'infinity');
  assert.equal(bin(OID.timestamptz, '8000000000000000'), '-infinity');
  // The largest timestamp PostgreSQL accepts (END_TIMESTAMP - 1): beyond 2^53 µs and beyond Date's range
  assert.equal(bin(OID.timestamptz, i64(9_223_371_331_199_999_999n)), '294276-12-31 23:59:59.999999+00');
  // The smallest, 4714-11-24 BC
  assert.equal(bin(OID.timestamp, i64(-211_813_488_000_000_000n)), '4714-11-24 00:00:00 BC');
  assert.equal(bin(OID.timestamptz, i64(-211_813_488_000_000_000n)), '4714-11-24 00:00:00+00 BC');
});

test('interval in PostgreSQL style', () => {
  const iv = (us: bigint, days: number, months: number): PgValue => bin(OID.interval, i64(us) + i32(days) + i32(months));
  assert.equal(iv(14_706_789_000n, 3, 14), '1 year 2 mons 3 days 04:05:06.789');
  assert.equal(iv(0n, -3, -10), '-10 mons -3 days');
  assert.equal(iv(7_200_000_000n, -1, 0), '-1 days +02:00:00');
  assert.equal(iv(-1_500_000n, 1, 0), '1 day -00:00:01.5');
  assert.equal(iv(0n, 0, 0), '00:00:00');
  assert.equal(iv(360_000_000_000n, 0, 0), '100:00:00');
  assert.equal(iv(0n, 0, 12), '1 year');
  assert.equal(bin(OID.interval, '7fffffffffffffff 7fffffff 7fffffff'), 'infinity');
  assert.equal(bin(OID.interval, '8000000000000000 80000000 80000000'), '-infinity');
});

test('inet, cidr, macaddr, macaddr8', () => {
  assert.equal(bin(OID.inet, '02 20 00 04 c0a80001'), '192.168.0.1');
  assert.equal(bin(OID.inet, '02 18 00 04 01020304'), '1.2.3.4/24');
  assert.equal(bin(OID.cidr, '02 10 01 04 0a010000'), '10.1.0.0/16');
  assert.equal(bin(OID.cidr, '02 20 01 04 0a010000'), '10.1.0.0/32');
  assert.equal(bin(OID.inet, '03 80 00 10 00000000000000000000000000000001'), '::1');
  assert.equal(bin(OID.inet, '03 40 00 10 20010db8000000000000000000000001'), '2001:db8::1/64');
  assert.equal(bin(OID.inet, '03 80 00 10 0000000000000000 0000ffff01020304'), '::ffff:1.2.3.4');
  assert.equal(bin(OID.inet, '03 80 00 10 00010000000000010000000000000001'), '1:0:0:1::1');
  assert.equal(bin(OID.inet, '03 80 00 10 00000000000000000000000000000000'), '::');
  assert.equal(bin(OID.inet, '03 80 00 10 00010000000000000000000000000000'), '1::');
  assert.equal(bin(OID.inet, '03 80 00 10 00010002000300040005000600070008'), '1:2:3:4:5:6:7:8');
  assert.equal(tryDecodeValue(OID.inet, 'binary', hex('02 21 00 04 01020304')).ok, false, 'mask too long');
  assert.equal(tryDecodeValue(OID.inet, 'binary', hex('07 20 00 04 01020304')).ok, false, 'unknown family');
  assert.equal(bin(OID.macaddr, '08002b010203'), '08:00:2b:01:02:03');
  assert.equal(bin(OID.macaddr8, '08002b0102030405'), '08:00:2b:01:02:03:04:05');
});

test('point, pg_lsn, tid, bit', () => {
  assert.deepEqual(bin(OID.point, '3ff8000000000000 c000000000000000'), { x: 1.5, y: -2 });
  assert.equal(bin(OID.pg_lsn, '00000016b374d848'), '16/B374D848');
  assert.equal(bin(OID.tid, '00000001 0002'), '(1,2)');
  assert.equal(bin(OID.bit, '00000005 b0'), '10110');
  assert.equal(bin(OID.varbit, '00000000'), '');
});

function arrayHex(ndim: number, hasNull: boolean, elem: number, dims: Array<[number, number]>, elems: Array<string | null>): string {
  let h = i32(ndim) + i32(hasNull ? 1 : 0) + i32(elem);
  for (const [len, lb] of dims) h += i32(len) + i32(lb);
  for (const e of elems) h += e === null ? i32(-1) : i32(e.length / 2) + e;
  return h;
}

test('binary arrays: one and more dimensions, NULLs, empty, lower bounds', () => {
  assert.deepEqual(bin(1007, arrayHex(1, true, 23, [[3, 1]], [i32(1), null, i32(3)])), [1, null, 3]);
  assert.deepEqual(bin(1007, arrayHex(2, false, 23, [[2, 1], [2, 1]], [i32(1), i32(2), i32(3), i32(4)])), [[1, 2], [3, 4]]);
  assert.deepEqual(bin(1009, arrayHex(1, true, 25, [[2, 0]], ['6162', null])), ['ab', null]);
  assert.deepEqual(bin(1007, arrayHex(0, false, 23, [], [])), []);
  assert.deepEqual(bin(1231, arrayHex(1, false, 1700, [[1, 1]], ['0001000000000001' + '0001'])), ['1.0']);
  const threeD = arrayHex(3, false, 23, [[2, 1], [1, 1], [2, 1]], [i32(1), i32(2), i32(3), i32(4)]);
  assert.deepEqual(bin(1007, threeD), [[[1, 2]], [[3, 4]]]);
  // oidvector / int2vector are arrays on the wire
  assert.deepEqual(bin(OID.oidvector, arrayHex(1, false, 26, [[2, 0]], [i32(1), i32(2)])), [1, 2]);
});

test('hostile binary arrays: huge dimensions are refused before allocating', () => {
  const huge = i32(1) + i32(0) + i32(23) + i32(0x7fffffff) + i32(1);
  const r = tryDecodeValue(1007, 'binary', hex(huge));
  assert.equal(r.ok, false);
  const many = i32(6) + i32(0) + i32(23) + (i32(1000) + i32(1)).repeat(6);
  assert.equal(tryDecodeValue(1007, 'binary', hex(many)).ok, false);
  assert.equal(tryDecodeValue(1007, 'binary', hex(i32(7) + i32(0) + i32(23))).ok, false, 'more than MAXDIM');
  assert.equal(tryDecodeValue(1007, 'binary', hex(i32(1) + i32(0) + i32(23) + i32(-1) + i32(1))).ok, false, 'negative length');
  assert.equal(tryDecodeValue(1007, 'binary', hex(arrayHex(1, false, 23, [[2, 1]], [i32(1)]))).ok, false, 'missing element');
  assert.equal(tryDecodeValue(1007, 'binary', hex(arrayHex(1, false, 23, [[1, 1]], [i32(1)]) + '00')).ok, false, 'trailing byte');
  assert.equal(tryDecodeValue(1007, 'binary', hex(arrayHex(1, false, 23, [[1, 1]], ['0001']))).ok, false, 'element of the wrong size');
  let nested = arrayHex(0, false, 23, [], []);
  for (let d = 0; d < 2000; d++) nested = arrayHex(1, false, 1007, [[1, 1]], [nested]);
  assert.equal(tryDecodeValue(1007, 'binary', hex(nested)).ok, false, 'arrays of arrays');
});

test('unknown OIDs: binary as hex, text as text', () => {
  assert.equal(decodeValue(99999, 'binary', hex('0102')), '\\x0102');
  assert.equal(decodeValue(99999, 'text', Buffer.from('anything')), 'anything');
  assert.deepEqual(tryDecodeValue(99999, 'binary', hex('0102')), { ok: true, value: '\\x0102' });
});

test('wrong sizes fall back to hex with a reason', () => {
  for (const oid of [OID.bool, OID.int2, OID.int4, OID.int8, OID.float4, OID.float8, OID.uuid, OID.date, OID.time,
    OID.timetz, OID.timestamp, OID.timestamptz, OID.interval, OID.macaddr, OID.macaddr8, OID.point, OID.pg_lsn, OID.oid]) {
    const r = tryDecodeValue(oid, 'binary', hex('010203'));
    assert.equal(r.ok, false, `oid ${oid}`);
    assert.equal(r.value, '\\x010203');
    assert.ok(!r.ok && r.reason.length > 0);
  }
});

test('random bytes never throw, for every built-in type, in both formats', async () => {
  const { builtinTypes } = await import('../dissectors/values/index.js');
  const rand = prng(42);
  const types = builtinTypes();
  for (let round = 0; round < 60; round++) {
    for (const t of types) {
      const len = Math.floor(rand() * (round < 30 ? 24 : 200));
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
      // Arrays: make some of them start like a plausible header so the element paths run too.
      if (t.elem !== 0 && len >= 20 && round % 2 === 0) {
        b.writeInt32BE(1 + (round % 3), 0);
        b.writeInt32BE(round % 4 === 0 ? 1 : 0, 4);
        b.writeInt32BE(t.elem, 8);
      }
      for (const format of ['binary', 'text'] as const) {
        const r = tryDecodeValue(t.oid, format, b);
        assert.doesNotThrow(() => JSON.stringify(r.value));
        assert.deepEqual(decodeValue(t.oid, format, b), r.value);
      }
    }
  }
});

test('ranges, multiranges and anonymous records', () => {
  // int4range [1,10): flags LB_INC, two bounds
  assert.deepEqual(bin(3904, '02' + i32(4) + i32(1) + i32(4) + i32(10)), { lower: 1, upper: 10, lowerInclusive: true, upperInclusive: false });
  assert.deepEqual(bin(3904, '01'), { empty: true });
  // tstzrange (,2000-01-01]: lower infinite, upper inclusive
  assert.deepEqual(bin(3910, '0c' + i32(8) + i64(0n)), { lower: null, upper: '2000-01-01 00:00:00+00', lowerInclusive: false, upperInclusive: true });
  // int4multirange {[1,2),[5,6)}
  const r1 = '02' + i32(4) + i32(1) + i32(4) + i32(2);
  const r2 = '02' + i32(4) + i32(5) + i32(4) + i32(6);
  assert.deepEqual(bin(4451, i32(2) + i32(r1.length / 2) + r1 + i32(r2.length / 2) + r2), [
    { lower: 1, upper: 2, lowerInclusive: true, upperInclusive: false }, { lower: 5, upper: 6, lowerInclusive: true, upperInclusive: false }]);
  // ROW(1, 'a', NULL)
  assert.deepEqual(bin(2249, i32(3) + i32(23) + i32(4) + i32(1) + i32(25) + i32(1) + '61' + i32(23) + i32(-1)), [1, 'a', null]);
  assert.equal(tryDecodeValue(3904, 'binary', hex('02' + i32(4) + i32(1))).ok, false, 'missing upper bound');
  assert.equal(tryDecodeValue(4451, 'binary', hex(i32(0x7fffffff))).ok, false, 'huge range count');
  assert.equal(tryDecodeValue(2249, 'binary', hex(i32(0x7fffffff))).ok, false, 'huge column count');
  // A record nested 1000 deep is refused, not a stack overflow.
  let nested = i32(0);
  for (let d = 0; d < 1000; d++) nested = i32(1) + i32(2249) + i32(nested.length / 2) + nested;
  const deep = tryDecodeValue(2249, 'binary', hex(nested));
  assert.equal(deep.ok, false);
  assert.match(deep.ok ? '' : deep.reason, /nested too deeply/);
});
