/** Text formats of the built-in types: natural JS values where exact, arrays parsed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeValue, decodeTextValue, tryDecodeValue, typeName, typeOid, elementOid, arrayOid, OID } from '../dissectors/values/index.js';
import type { PgValue } from '../dissectors/types.js';

const txt = (oid: number, s: string): PgValue => decodeValue(oid, 'text', Buffer.from(s, 'utf8'));

test('type names and array relations from the built-in table', () => {
  assert.equal(typeName(23), 'int4');
  assert.equal(typeName(1007), '_int4');
  assert.equal(typeName(3802), 'jsonb');
  assert.equal(typeName(123456), null);
  assert.equal(typeOid('timestamptz'), 1184);
  assert.equal(elementOid(1009), 25);
  assert.equal(elementOid(25), 0);
  assert.equal(elementOid(OID.name), 0, 'name is not an array even though it has a typelem');
  assert.equal(arrayOid(2950), 2951);
});

test('scalars: numbers, booleans, strings kept exact', () => {
  assert.equal(txt(OID.bool, 't'), true);
  assert.equal(txt(OID.bool, 'f'), false);
  assert.equal(txt(OID.int2, '-32768'), -32768);
  assert.equal(txt(OID.int4, '2147483647'), 2147483647);
  assert.equal(txt(OID.oid, '4294967295'), 4294967295);
  assert.equal(txt(OID.int8, '9223372036854775807'), '9223372036854775807');
  assert.equal(txt(OID.numeric, '123.4500'), '123.4500');
  assert.equal(txt(OID.float8, '1.5e+300'), 1.5e300);
  // JSON has no -0: the sign is kept as NaN and the infinities are, as the server's spelling
  assert.equal(txt(OID.float4, '-0'), '-0');
  assert.equal(txt(OID.float8, '-0'), '-0');
  assert.equal(txt(OID.float8, '0'), 0);
  assert.deepEqual(txt(1022, '{-0,0}'), ['-0', 0]);
  assert.equal(JSON.stringify(txt(OID.float8, '-0')), '"-0"');
  assert.equal(txt(OID.float8, 'NaN'), 'NaN');
  assert.equal(txt(OID.float8, '-Infinity'), '-Infinity');
  assert.equal(txt(OID.text, 'a\tb'), 'a\tb');
  assert.equal(txt(OID.timestamptz, '2024-05-01 10:00:00.5+00'), '2024-05-01 10:00:00.5+00');
  assert.equal(txt(OID.uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
});

test('malformed text values stay text, and say why', () => {
  for (const [oid, s] of [[OID.bool, 'yes'], [OID.int4, '12x'], [OID.int4, '99999999999'], [OID.int2, '40000'], [OID.float8, ''],
    [OID.float8, '0x10'], [OID.bytea, '\\x123'], [OID.bytea, '\\9'], [OID.point, '(1,2'], [1007, '{1,2'], [1007, '{1,{2}}']] as const) {
    const r = tryDecodeValue(oid, 'text', Buffer.from(s));
    assert.equal(r.ok, false, `${oid} ${s}`);
    assert.equal(r.value, s);
  }
});

test('json and jsonb parsed when they parse', () => {
  assert.deepEqual(txt(OID.jsonb, '{"a": [1, "x", null, true]}'), { a: [1, 'x', null, true] });
  assert.equal(txt(OID.json, '"s"'), 's');
  assert.equal(txt(OID.json, 'not json'), 'not json');
  // Deeper than later stages can walk (JSON.stringify recurses): kept as text.
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.equal(txt(OID.jsonb, deep), deep);
  const ok = '['.repeat(256) + '"[[["' + ']'.repeat(256);
  assert.ok(Array.isArray(txt(OID.jsonb, ok)), 'brackets inside strings do not count');
});

test('bytea: hex form kept (lowercased), escape form converted to hex', () => {
  assert.equal(txt(OID.bytea, '\\x00FF'), '\\x00ff');
  assert.equal(txt(OID.bytea, 'ab\\000\\\\c\\377'), '\\x616200' + '5c' + '63ff');
  assert.equal(txt(OID.bytea, ''), '\\x');
});

test('point, int2vector, oidvector', () => {
  assert.deepEqual(txt(OID.point, '(1.5,-2)'), { x: 1.5, y: -2 });
  assert.deepEqual(txt(OID.int2vector, '1 2 3'), [1, 2, 3]);
  assert.deepEqual(txt(OID.oidvector, ''), []);
});

test('text arrays: quotes, escapes, NULL, spaces, nesting, bounds, delimiters', () => {
  assert.deepEqual(txt(1007, '{1,2,NULL,4}'), [1, 2, null, 4]);
  assert.deepEqual(txt(1007, '{{1,NULL},{3,4}}'), [[1, null], [3, 4]]);
  assert.deepEqual(txt(1007, '{{{7,7},{7,7}},{{7,7},{7,7}}}'), [[[7, 7], [7, 7]], [[7, 7], [7, 7]]]);
  assert.deepEqual(txt(1007, '{}'), []);
  assert.deepEqual(txt(1007, '[0:1]={5,6}'), [5, 6]);
  assert.deepEqual(txt(1009, '{"a b",NULL,"NULL","x\\"y\\\\z",""," c ","{}",é}'), ['a b', null, 'NULL', 'x"y\\z', '', ' c ', '{}', 'é']);
  assert.deepEqual(txt(1009, '{ a , b c ,null}'), ['a', 'b c', null]);
  assert.deepEqual(txt(1009, '{a\\,b,c\\ }'), ['a,b', 'c '], 'escaped delimiter and escaped trailing space');
  assert.deepEqual(txt(1009, '{\\NULL}'), ['NULL'], 'an escaped NULL is a string');
  assert.deepEqual(txt(1020, '{(1,1),(0,0);(2,2),(1,1)}'), ['(1,1),(0,0)', '(2,2),(1,1)'], 'box arrays use ";"');
  assert.deepEqual(txt(1000, '{t,f,NULL}'), [true, false, null]);
  assert.deepEqual(txt(1016, '{9223372036854775807}'), ['9223372036854775807']);
  assert.deepEqual(txt(3807, '{"{\\"a\\": 1}","[1, \\"x\\"]"}'), [{ a: 1 }, [1, 'x']]);
  assert.deepEqual(txt(1001, '{"\\\\x00",NULL}'), ['\\x00', null]);
  assert.deepEqual(txt(1022, '{NaN,-Infinity,1.5e+300}'), ['NaN', '-Infinity', 1.5e300]);
});

test('hostile text arrays: deep nesting and junk are refused, never thrown', () => {
  const deep = '{'.repeat(7) + '1' + '}'.repeat(7);
  assert.equal(tryDecodeValue(1007, 'text', Buffer.from(deep)).ok, false);
  const veryDeep = '{'.repeat(100_000);
  assert.equal(tryDecodeValue(1007, 'text', Buffer.from(veryDeep)).ok, false);
  for (const s of ['', '{', '}', '{,}', '{1,}', '{"a}', '{a"b}', '{1}x', '[1:2]{1,2}', '{\\', '{{1},2}']) {
    const r = tryDecodeValue(1009, 'text', Buffer.from(s));
    assert.equal(r.ok, false, s);
    assert.equal(r.value, s);
  }
});

test('decodeTextValue takes a string and never throws', () => {
  assert.equal(decodeTextValue(OID.int4, '42'), 42);
  assert.equal(decodeTextValue(OID.int4, 'x'), 'x');
  assert.deepEqual(decodeTextValue(1009, '{a}'), ['a']);
});

test('ranges and multiranges in text', () => {
  assert.deepEqual(txt(3904, '[1,10)'), { lower: 1, upper: 10, lowerInclusive: true, upperInclusive: false });
  assert.deepEqual(txt(3904, 'empty'), { empty: true });
  assert.deepEqual(txt(3906, '(,2.50]'), { lower: null, upper: '2.50', lowerInclusive: false, upperInclusive: true });
  assert.deepEqual(txt(3910, '["2024-01-01 00:00:00+00",infinity)'),
    { lower: '2024-01-01 00:00:00+00', upper: 'infinity', lowerInclusive: true, upperInclusive: false });
  assert.deepEqual(txt(4451, '{}'), []);
  assert.deepEqual(txt(4451, '{[1,3), [5,6)}'), [
    { lower: 1, upper: 3, lowerInclusive: true, upperInclusive: false }, { lower: 5, upper: 6, lowerInclusive: true, upperInclusive: false }]);
  for (const bad of ['[1,2', '1,2)', '[1;2)', '[1,2)x', '{[1,2)', '{[1,2);[3,4)}', '["1,2)']) {
    assert.equal(tryDecodeValue(bad.startsWith('{') ? 4451 : 3904, 'text', Buffer.from(bad)).ok, false, bad);
  }
});
