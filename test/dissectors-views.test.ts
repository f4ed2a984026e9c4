/**
 * The views of a decoded message: the Info summary, the compact code column, the field tree
 * (byte ranges that tile the message exactly), the field registry and the JSON Schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissect, summarize, shortCode, fieldTree, allFields, lookup, ALL_ENTRIES, decodedMessageJsonSchema, F } from '../dissectors/index.js';
import { buildTable } from '../dissectors/registry.js';
import { shorten } from '../dissectors/summary.js';
import type { FieldNode } from '../dissectors/tree.js';
import type { Entry } from '../dissectors/entry.js';
import {
  catalogue, catalogueRaw, makeContext, toRaw, parse, bind, dataRow, errorResponse, readyForQuery, startup, query, msg, cstring,
  rowDescription, commandComplete, withBody,
} from './helpers/pg-builder.js';

const ctx = makeContext();
const sum = (dir: 'frontend' | 'backend', wire: Buffer, typed = true) => summarize(dissect(toRaw(dir, wire, typed), ctx));

test('summaries read like the examples', () => {
  assert.equal(sum('frontend', parse('', 'SELECT generate_series(0, $1)')), 'Parse "SELECT generate_series(0, $1)"');
  assert.equal(sum('frontend', parse('S_1', 'SELECT 1', [23])), 'Parse S_1 "SELECT 1" (1 param type)');
  assert.equal(sum('frontend', bind('', 'S_1', ['1', '2'])), 'Bind S_1 -> portal "" (2 params)');
  assert.equal(sum('backend', dataRow(['1', '2', null])), 'DataRow (3 columns)');
  assert.equal(sum('backend', errorResponse({ S: 'ERROR', V: 'ERROR', C: '42601', M: 'syntax error at or near "$1"' })), 'Error 42601 syntax error at or near "$1"');
  assert.equal(sum('backend', errorResponse({ S: 'FATAL', V: 'FATAL', C: '28P01', M: 'password authentication failed for user "x"' })),
    'Fatal 28P01 password authentication failed for user "x"');
  assert.equal(sum('backend', errorResponse({ S: 'WARNING', V: 'WARNING', C: '01000', M: 'careful' }, 'N')), 'Warning 01000 careful');
  assert.equal(sum('backend', readyForQuery('I')), 'ReadyForQuery idle');
  assert.equal(sum('frontend', startup({ user: 'alice', database: 'app' }), false), 'StartupMessage user=alice database=app');
  assert.equal(sum('frontend', startup({ client_encoding: 'UTF8', user: 'alice' }), false), 'StartupMessage user=alice (+1 parameter)');
  assert.equal(sum('backend', commandComplete('UPDATE 7')), 'CommandComplete UPDATE 7');
  assert.equal(sum('backend', rowDescription([{ name: 'a', typeOid: 23 }, { name: 'b', typeOid: 25 }])), 'RowDescription (2 columns: a, b)');
  assert.equal(sum('frontend', msg('Q', cstring('x'))).startsWith('Query "x"'), true);
  assert.equal(sum('frontend', msg('Y')), "Unknown: no frontend message has type byte 'Y'");
  assert.equal(sum('frontend', msg('P', cstring('x'))), 'Malformed Parse: Query: string at offset 2 has no terminating NUL');
});

test('long and multi-line strings are shortened to about 80 characters on one line', () => {
  const sql = 'SELECT a,\n       b\n  FROM t\n WHERE ' + 'x = 1 AND '.repeat(30) + 'true';
  const s = sum('frontend', query(sql));
  assert.ok(s.length <= 'Query ""'.length + 80, s);
  assert.ok(s.startsWith('Query "SELECT a, b FROM t WHERE x = 1'), s);
  assert.ok(s.endsWith('…"'), s);
  assert.equal(shorten('😀'.repeat(50), 10).length <= 10, true);
});

test('every catalogue message has a summary starting with its name (or the severity for errors)', () => {
  for (const e of catalogue()) {
    const m = dissect(catalogueRaw(e), makeContext({ ...e.ctx }));
    const s = summarize(m);
    if (m.type === 'ErrorResponse' || m.type === 'NoticeResponse') assert.match(s, /^(Error|Notice|Warning|Fatal) /);
    else assert.ok(s.startsWith(m.type === 'Unknown' ? 'Unknown' : m.type), `${m.type}: ${s}`);
  }
});

test('the compact code column', () => {
  const c = (dir: 'frontend' | 'backend', wire: Buffer, typed = true, pendingRequest?: 'ssl' | 'gssenc') => {
    const raw = toRaw(dir, wire, typed);
    return shortCode(dir, raw.code, dissect(raw, makeContext({ pendingRequest })));
  };
  assert.equal(c('frontend', parse('', 'x')), '>P');
  assert.equal(c('backend', dataRow([])), '<D');
  assert.equal(c('frontend', msg('H')), '>H');
  assert.equal(c('frontend', startup({ user: 'u' }), false), '>@');
  assert.equal(c('backend', Buffer.from('N'), false, 'gssenc'), '<N');
  assert.equal(c('backend', Buffer.from('S'), false, 'ssl'), '<S');
});

/** Top-level nodes must tile [0, total) exactly: every byte of a well-formed message is explained once. */
function assertTiles(nodes: FieldNode[], start: number, end: number, what: string): void {
  let at = start;
  for (const n of nodes) {
    assert.equal(n.offset, at, `${what}: ${n.key} starts at ${n.offset}, expected ${at}`);
    if (n.children.length > 0 && !n.key.startsWith('pgsql.sasl')) assertTiles(n.children, n.offset, n.offset + n.length, `${what} > ${n.label}`);
    at += n.length;
  }
  assert.equal(at, end, `${what}: nodes end at ${at}, message at ${end}`);
}

test('field trees tile every catalogue message byte for byte, with stable keys', () => {
  for (const e of catalogue()) {
    const raw = catalogueRaw(e);
    const m = dissect(raw, makeContext({ ...e.ctx }));
    const tree = fieldTree(raw, m, { ...e.ctx });
    assertTiles(tree, 0, e.wire.length, e.type);
    for (const n of tree) assert.match(n.key, /^pgsql\.[a-z_.]+$/);
    if (raw.code !== null) {
      assert.equal(tree[0].key, 'pgsql.type');
      assert.equal(tree[0].offset, 0);
      assert.equal(tree[1].key, 'pgsql.length');
    }
  }
});

test('tree details: value tables, typed parameters, error fields, faults', () => {
  const t1 = fieldTree(toRaw('backend', readyForQuery('E')), dissect(toRaw('backend', readyForQuery('E')), ctx));
  assert.equal(t1[2].key, 'pgsql.status');
  assert.equal(t1[2].display, "failed ('E')");

  const braw = toRaw('frontend', bind('p1', 's1', ['42', null]));
  const bctx = makeContext({ paramTypes: [23, 25] });
  const bt = fieldTree(braw, dissect(braw, bctx));
  const params = bt.filter((n) => n.key === 'pgsql.bind.param');
  assert.equal(params.length, 2);
  assert.equal(params[0].label, 'Parameter $1 (int4)', 'a typed value labelled with its type, named as the SQL names it');
  assert.equal(params[1].label, 'Parameter $2 (text)');
  assert.equal(params[0].value, 42, 'the decoded int4, found again from the decoded record');
  assert.equal(params[1].display, 'NULL');

  const eraw = toRaw('backend', errorResponse({ S: 'ERROR', C: '23505', M: 'dup' }));
  const et = fieldTree(eraw, dissect(eraw, ctx));
  const codes = et.filter((n) => n.key === 'pgsql.error.field').map((n) => n.children[1].key);
  assert.deepEqual(codes, ['pgsql.error.severity', 'pgsql.error.sqlstate', 'pgsql.error.message']);
  assert.equal(et.find((n) => n.key === 'pgsql.error.field')?.children[0].display, "Severity ('S')");

  const cut = withBody(toRaw('frontend', parse('s', 'SELECT 1')), Buffer.from('s\0SEL'));
  const ct = fieldTree(cut, dissect(cut, ctx));
  const last = ct[ct.length - 1];
  assert.equal(last.key, 'pgsql.malformed');
  assert.equal(last.offset, 5 + 2);
  assert.equal(last.length, 3);

  const trail = withBody(toRaw('frontend', msg('S')), Buffer.from([1, 2]));
  const tt = fieldTree(trail, dissect(trail, ctx));
  assert.equal(tt[tt.length - 1].key, 'pgsql.trailing');
  assert.equal(tt[tt.length - 1].length, 2);

  const v = toRaw('frontend', startup({ user: 'u' }, 196610), false);
  const vt = fieldTree(v, dissect(v, ctx));
  assert.equal(vt[1].display, '3.2 (196610)');
});

test('the field registry: unique keys, every field labelled', () => {
  const seen = new Map<string, string>();
  for (const f of allFields()) {
    assert.ok(f.label.length > 0);
    const prev = seen.get(f.key);
    assert.ok(prev === undefined, `key ${f.key} declared twice (${prev}, ${f.label})`);
    seen.set(f.key, f.label);
  }
  assert.equal(F.query.key, 'pgsql.query');
  assert.equal(F.param.key, 'pgsql.bind.param');
});

test('the registry fails fast on a duplicate and never misses a lookup', () => {
  const dup: Entry = { dir: 'frontend', code: 'Q', name: 'Again', decode: () => ({ type: 'Sync' }) };
  assert.throws(() => buildTable('frontend', [...ALL_ENTRIES, dup]), /registered twice/);
  for (let c = 0; c < 256; c++) {
    for (const dir of ['frontend', 'backend'] as const) assert.ok(lookup(dir, String.fromCharCode(c)) !== undefined);
  }
  assert.ok(lookup('frontend', '') !== undefined);
  assert.equal(lookup('backend', 'Z').name, 'ReadyForQuery');
  assert.equal(lookup('frontend', 'Z').name, 'Unknown');
});

test('JSON Schema of the decoded messages', () => {
  const s = decodedMessageJsonSchema();
  const text = JSON.stringify(s);
  assert.ok(text.includes('"RowDescription"') && text.includes('"SASLInitialResponse"') && text.includes('"Malformed"'));
  assert.ok(Array.isArray(s.oneOf) || Array.isArray(s.anyOf), Object.keys(s).join(','));
});

test('RowDescription keeps unsigned OIDs and the type modifier as sent', () => {
  const m = dissect(toRaw('backend', rowDescription([{ name: 'n', typeOid: 1700, typeModifier: (10 << 16 | 2) + 4 }])), ctx);
  assert.ok(m.type === 'RowDescription');
  if (m.type === 'RowDescription') {
    assert.equal(m.fields[0].typeOid, 1700);
    assert.equal(m.fields[0].typeModifier, 655366);
  }
});

test('decodeRows false: DataRow values walked, not decoded; malformed rows still caught', () => {
  const skip = makeContext({ decodeRows: false });
  const m = dissect(toRaw('backend', dataRow(['1', null, 'x'])), skip);
  assert.deepEqual(m, { type: 'DataRow', values: [], columnCount: 3, valuesOmitted: true });
  assert.equal(summarize(m), 'DataRow (3 columns)');
  const bad = dissect(withBody(toRaw('backend', dataRow(['1', 'abc'])), Buffer.from([0, 2, 0, 0, 0, 1, 0x31, 0, 0, 0, 9, 0x61])), skip);
  assert.ok(bad.type === 'Malformed' && bad.fault === 'truncated', JSON.stringify(bad));
  const tree = fieldTree(toRaw('backend', dataRow(['7'])), m, { decodeRows: false });
  assert.ok(tree.some((n) => n.key === 'pgsql.row.value'), 'the tree always shows the values');
});

test('CopyData summaries use what the COPY decoder found', () => {
  const ctxIn = makeContext({ copy: { kind: 'in', format: 'text', columnFormats: ['text', 'text'], columnTypes: [23, 25] } });
  const m = dissect(toRaw('frontend', msg('d', Buffer.from('1\tone\n2\ttwo\n'))), ctxIn);
  assert.equal(m.type, 'CopyData');
  assert.match(summarize(m), /^CopyData (\(2 rows, 12 bytes\)|\(12 bytes\))$/);
  const plain = dissect(toRaw('frontend', msg('d', Buffer.from('abc'))), makeContext());
  assert.equal(summarize(plain), 'CopyData (3 bytes)');
});
